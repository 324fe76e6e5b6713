# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_address_grant: the holder protocol against an in-memory FortiGate, no lab and no waiting.

Another job's writes are simulated by actions the fake runs right after one of our own calls (or
during one of our pauses), i.e. exactly between our write and our re-read.
"""

import ipaddress

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._address_grant import (
    ATTEMPTS,
    BACKOFF,
    COMMENT_MAX,
    SETTLE,
    AddressGrant,
    object_name,
    parse_holders,
    render_holders,
    validate,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError

GROUP = "kk_users"
GROUP6 = "kk_users6"
IP = "198.51.100.7"
NAME = "kk_198.51.100.7"
ADDR = "firewall/address"
ADDRGRP = "firewall/addrgrp"


def fortios_error(number, status=500):
    return KnocknocError(None, "FortiOS error %d" % number, details={"http_status": status, "fortios_error": number})


def not_found():
    return KnocknocError(None, "HTTP 404", details={"http_status": 404})


class FakeGate:
    """The FortiOS CMDB as the protocol uses it: address groups with member child tables and address
    objects, with FortiOS' answers for duplicates (-5), references (-23, -651), 404 and empty groups."""

    vdom = "root"

    def __init__(self, version="7.4.4", members=None, members6=None):
        self.version = version
        self.tables = {
            ADDRGRP: {GROUP: {"name": GROUP, "member": list(members if members is not None else ["none"])}},
            "firewall/addrgrp6": {GROUP6: {"name": GROUP6, "member": list(members6 if members6 is not None else [])}},
            ADDR: {},
            "firewall/address6": {},
        }
        self.calls = []
        self.after = {}  # method -> list of actions (None = nothing), one popped per call of ours

    # -- state helpers for the tests (another job or the administrator; not counted) --------------
    def put_object(self, name, address, comment=""):
        net = ipaddress.ip_network(address)
        if net.version == 4:
            self.tables[ADDR][name] = {"name": name, "type": "ipmask", "comment": comment,
                                       "subnet": "%s %s" % (net.network_address, net.netmask)}
        else:
            self.tables["firewall/address6"][name] = {"name": name, "type": "ipprefix", "comment": comment,
                                                      "ip6": str(net)}

    def comment(self, name=NAME):
        return self.tables[ADDR][name]["comment"]

    def set_comment(self, text, name=NAME):
        self.tables[ADDR][name]["comment"] = text

    def members(self, group=GROUP, table=ADDRGRP):
        return list(self.tables[table][group]["member"])

    def writes(self):
        return [c for c in self.calls if c[0] not in ("get_entry", "system_status")]

    def _done(self, method):
        actions = self.after.get(method)
        if actions:
            action = actions.pop(0)
            if action is not None:
                action(self)

    def _referenced(self, name):
        return any(name in g["member"] for t in (ADDRGRP, "firewall/addrgrp6") for g in self.tables[t].values())

    # -- the client interface ----------------------------------------------------------------------
    def get_entry(self, path, mkey, vdom=None, fields=None):
        self.calls.append(("get_entry", path, mkey))
        entry = self.tables[path].get(mkey)
        if entry is None:
            return None
        entry = dict(entry)
        if "member" in entry:
            entry["member"] = [{"name": m, "q_origin_key": m} for m in entry["member"]]
        return entry

    def create(self, path, data, vdom=None):
        self.calls.append(("create", path, data["name"]))
        if data["name"] in self.tables[path]:
            raise fortios_error(-5)
        self.put_object(data["name"], data.get("subnet") or data.get("ip6"), data.get("comment", ""))
        self._done("create")
        return {"status": "success"}

    def update(self, path, mkey, data, vdom=None):
        self.calls.append(("update", path, mkey, dict(data)))
        if mkey not in self.tables[path]:
            raise not_found()
        self.tables[path][mkey].update(data)
        self._done("update")
        return {"status": "success"}

    def delete(self, path, mkey, vdom=None):
        self.calls.append(("delete", path, mkey))
        if mkey not in self.tables[path]:
            return False
        if self._referenced(mkey):
            raise fortios_error(-23)
        del self.tables[path][mkey]
        self._done("delete")
        return True

    def add_member(self, path, mkey, member, attr="member", vdom=None):
        self.calls.append(("add_member", path, mkey, member))
        group = self.tables[path].get(mkey)
        if group is None:
            raise not_found()
        objects = ADDR if path == ADDRGRP else "firewall/address6"
        if member not in self.tables[objects]:
            raise fortios_error(-651)
        if member in group["member"]:
            return False
        group["member"].append(member)
        self._done("add_member")
        return True

    def remove_member(self, path, mkey, member, attr="member", vdom=None):
        self.calls.append(("remove_member", path, mkey, member))
        group = self.tables[path].get(mkey)
        if group is None or member not in group["member"]:
            return False
        if group["member"] == [member] and not self.version_at_least("7.2.0", count=False):
            raise fortios_error(-56)
        group["member"].remove(member)
        self._done("remove_member")
        return True

    def system_status(self):
        self.calls.append(("system_status",))
        return {"version": self.version}

    def version_at_least(self, wanted, count=True):
        if count:
            self.system_status()

        def parse(text):
            return tuple(int(p) for p in text.split("."))
        return parse(self.version) >= parse(wanted)


class Sleeper:
    """Records pauses; ``during`` holds actions run inside the next pauses (another job's writes)."""

    def __init__(self):
        self.pauses = []
        self.during = []

    def __call__(self, seconds):
        self.pauses.append(seconds)
        if self.during:
            action = self.during.pop(0)
            if action is not None:
                action()


def params(**overrides):
    values = dict(prefix="kk_", state="present", user="alice", exclusive=False, address_group=GROUP,
                  address_group6=None, addresses=[IP], max_prefix_v4=32, max_prefix_v6=128)
    values.update(overrides)
    return values


def run(gate, check_mode=False, sleeper=None, **overrides):
    """One task; returns (result, warnings, sleeper). ``uniform`` gives the low bound: pauses are exact."""
    values = params(**overrides)
    warnings = []
    sleeper = sleeper or Sleeper()
    grant = AddressGrant(gate, validate(values), values, warnings.append, sleep=sleeper, uniform=lambda low, high: low)
    return grant.run(check_mode=check_mode), warnings, sleeper


# -- holders in the comment ----------------------------------------------------------------------------
def test_holders_round_trip_sorted_and_foreign_comments_hold_nobody():
    assert render_holders(["bob", "alice"]) == "knocknoc:alice,bob"
    assert parse_holders("knocknoc:alice, bob,,") == frozenset(["alice", "bob"])
    assert parse_holders("knocknoc:") == frozenset()
    assert parse_holders("made by hand") == frozenset()
    assert parse_holders(None) == frozenset()


def test_object_names_never_hold_a_slash():
    assert object_name("kk_", "10.0.0.0/24") == "kk_10.0.0.0_24"
    assert object_name("kk_", "2001:db8::7") == "kk_2001:db8::7"


# -- grant / revoke, one job -----------------------------------------------------------------------------
def test_grant_new_address_creates_adds_and_rechecks_in_six_requests():
    gate = FakeGate()
    result, warnings, sleeper = run(gate)
    assert result["changed"] is True and warnings == []
    assert result["added"] == [NAME] and result["removed"] == []
    assert result["members"] == [NAME] and result["holders"] == {IP: ["alice"]}
    assert gate.members() == ["none", NAME] and gate.comment() == "knocknoc:alice"
    assert [c[0] for c in gate.calls] == ["get_entry", "get_entry", "create", "add_member", "get_entry", "get_entry"]
    assert sleeper.pauses == []  # a created object needs no settle pause: nobody else's holders were rewritten


def test_grant_again_is_idempotent_without_writes():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    result, _w, _s = run(gate)
    assert result["changed"] is False and gate.writes() == []
    assert result["diff"]["before"] == result["diff"]["after"] == {"members": [NAME], "holders": {IP: ["alice"]}}


def test_shared_ip_second_holder_is_added_and_rechecked_after_the_settle_pause():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    result, _w, sleeper = run(gate, user="bob")
    assert result["changed"] is True and result["added"] == []
    assert result["holders"] == {IP: ["alice", "bob"]}
    assert gate.comment() == "knocknoc:alice,bob"
    assert sleeper.pauses == [SETTLE[0]]
    assert [c[0] for c in gate.writes()] == ["update", "add_member"]
    assert gate.writes()[0][3] == {"comment": "knocknoc:alice,bob"}  # only the comment is ever written


def test_revoke_with_another_holder_left_keeps_the_member():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice,bob")
    result, _w, _s = run(gate, state="absent")
    assert result["changed"] is True and result["removed"] == []
    assert result["holders"] == {IP: ["bob"]}
    assert gate.members() == ["none", NAME] and gate.comment() == "knocknoc:bob"


def test_last_holder_out_removes_the_member_and_deletes_the_object():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    result, warnings, _s = run(gate, state="absent")
    assert result["changed"] is True and warnings == []
    assert result["removed"] == [NAME] and result["members"] == [] and result["holders"] == {IP: []}
    assert gate.members() == ["none"] and NAME not in gate.tables[ADDR]
    assert [c[0] for c in gate.writes()] == ["update", "remove_member", "delete"]


def test_revoke_by_a_non_holder_leaves_the_grant():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:bob")
    result, _w, _s = run(gate, state="absent")
    assert result["changed"] is False and gate.writes() == []
    assert gate.members() == ["none", NAME]


def test_anonymous_revoke_removes_for_every_holder():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice,bob")
    result, _w, _s = run(gate, state="absent", user=None)
    assert result["removed"] == [NAME] and gate.members() == ["none"]
    assert NAME not in gate.tables[ADDR]


def test_check_mode_predicts_and_writes_nothing():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    result, _w, _s = run(gate, check_mode=True, state="absent")
    assert result["changed"] is True and result["removed"] == [NAME] and result["members"] == []
    assert gate.writes() == [] and gate.members() == ["none", NAME]


def test_ipv6_grant_goes_to_the_ipv6_group():
    gate = FakeGate()
    result, _w, _s = run(gate, addresses=["2001:DB8::7"], address_group6=GROUP6)
    assert result["added"] == ["kk_2001:db8::7"]
    assert gate.members(GROUP6, "firewall/addrgrp6") == ["kk_2001:db8::7"]
    assert gate.tables["firewall/address6"]["kk_2001:db8::7"]["ip6"] == "2001:db8::7/128"


# -- concurrency: another job between our write and our re-read --------------------------------------------
def test_concurrent_holder_appears_between_revoke_write_and_reread_the_grant_stays():
    # alice revokes the last hold; right after her comment write, carol's job grants the same address.
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    gate.after["update"] = [lambda g: g.set_comment("knocknoc:carol")]
    result, warnings, _s = run(gate, state="absent")
    assert gate.members() == ["none", NAME] and gate.comment() == "knocknoc:carol"
    assert result["holders"] == {IP: ["carol"]}
    assert result["removed"] == [] and result["members"] == [NAME]
    assert any("granted again by another job" in w and "carol" in w for w in warnings)
    assert not any(c[0] == "delete" for c in gate.calls)


def test_lost_update_is_repeated_until_both_holders_are_kept():
    # bob adds himself; a job that read the holders earlier writes back "alice" just after bob's write.
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    gate.after["update"] = [lambda g: g.set_comment("knocknoc:alice")]
    result, _w, sleeper = run(gate, user="bob")
    assert gate.comment() == "knocknoc:alice,bob" and result["holders"] == {IP: ["alice", "bob"]}
    assert len([c for c in gate.calls if c[0] == "update"]) == 2
    assert sleeper.pauses == [BACKOFF[0] * 1, SETTLE[0]]  # one back-off round, then the settle pause


def test_overwrite_during_the_settle_pause_is_caught_by_the_second_read():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    sleeper = Sleeper()
    sleeper.during = [lambda: gate.set_comment("knocknoc:alice")]  # the stale write lands in our pause
    result, _w, _s = run(gate, user="bob", sleeper=sleeper)
    assert gate.comment() == "knocknoc:alice,bob" and result["holders"] == {IP: ["alice", "bob"]}
    assert sleeper.pauses == [SETTLE[0], BACKOFF[0] * 1, SETTLE[0]]


def test_revoke_replaced_by_a_stale_write_is_done_again():
    # alice leaves a shared address; a stale write puts her back; she must not stay a holder.
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice,bob")
    gate.after["update"] = [lambda g: g.set_comment("knocknoc:alice,bob")]
    result, _w, _s = run(gate, state="absent")
    assert gate.comment() == "knocknoc:bob" and result["holders"] == {IP: ["bob"]}
    assert gate.members() == ["none", NAME]


def test_changes_that_never_settle_fail_after_the_attempts():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    gate.after["update"] = [lambda g: g.set_comment("knocknoc:alice")] * ATTEMPTS
    with pytest.raises(KnocknocError) as raised:
        run(gate, user="bob")
    assert "kept changing under concurrent jobs for %d attempts" % ATTEMPTS in str(raised.value)
    assert len([c for c in gate.calls if c[0] == "update"]) == ATTEMPTS


def test_object_created_by_another_job_meanwhile_is_reused():
    gate = FakeGate()
    # Our plan read saw no object; another job creates it (holder carol) before our create.
    real_create = gate.create

    def racing_create(path, data, vdom=None):
        if NAME not in gate.tables[ADDR]:
            gate.put_object(NAME, IP, "knocknoc:carol")
        return real_create(path, data, vdom)
    gate.create = racing_create
    result, _w, _s = run(gate)
    assert gate.comment() == "knocknoc:alice,carol" and result["holders"] == {IP: ["alice", "carol"]}
    assert gate.members() == ["none", NAME]


def test_object_deleted_by_another_job_before_our_member_add_is_recreated():
    gate = FakeGate(members=["none"])
    gate.put_object(NAME, IP, "knocknoc:carol")
    # carol's revoke deletes the object right after our comment write: the add then answers -651.
    gate.after["update"] = [lambda g: g.tables[ADDR].pop(NAME)]
    result, _w, _s = run(gate)
    assert gate.members() == ["none", NAME] and gate.comment() == "knocknoc:alice"
    assert result["holders"] == {IP: ["alice"]}


def test_object_still_referenced_elsewhere_is_left_with_a_warning():
    gate = FakeGate(members=["none", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    gate.tables[ADDRGRP]["other"] = {"name": "other", "member": [NAME]}  # a policy group the admin made
    result, warnings, _s = run(gate, state="absent")
    assert gate.members() == ["none"] and NAME in gate.tables[ADDR]
    assert result["removed"] == [NAME]
    assert any("still used elsewhere" in w for w in warnings)


# -- empty groups before FortiOS 7.2 --------------------------------------------------------------------------
def test_pre_72_revoke_that_would_empty_the_group_fails_before_any_write():
    gate = FakeGate(version="7.0.12", members=[NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    with pytest.raises(KnocknocError) as raised:
        run(gate, state="absent")
    assert "does not allow an empty address group" in str(raised.value) and "'none'" in str(raised.value)
    assert raised.value.details["fortios_version"] == "7.0.12"
    assert gate.writes() == [] and gate.comment() == "knocknoc:alice"


def test_from_72_the_last_member_may_leave():
    gate = FakeGate(version="7.2.0", members=[NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    result, _w, _s = run(gate, state="absent")
    assert gate.members() == [] and result["removed"] == [NAME]


def test_pre_72_group_emptied_by_a_concurrent_revoke_fails_at_the_member_removal():
    # Our plan saw a second member; another job removes it before our removal empties the group.
    gate = FakeGate(version="7.0.12", members=["kk_203.0.113.9", NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    gate.after["update"] = [lambda g: g.tables[ADDRGRP][GROUP]["member"].remove("kk_203.0.113.9")]
    with pytest.raises(KnocknocError) as raised:
        run(gate, state="absent")
    assert "does not allow an empty address group" in str(raised.value)
    assert gate.members() == [NAME]


def test_pre_72_exclusive_that_empties_the_group_is_refused():
    gate = FakeGate(version="7.0.12", members=[NAME])
    gate.put_object(NAME, IP, "knocknoc:alice")
    with pytest.raises(KnocknocError):
        run(gate, addresses=[], exclusive=True, user=None)
    assert gate.writes() == []


# -- exclusive -----------------------------------------------------------------------------------------------
def test_exclusive_removes_unlisted_prefixed_members_only():
    gate = FakeGate(members=["none", "kk_203.0.113.9", "kk_nested", NAME])
    gate.put_object("kk_203.0.113.9", "203.0.113.9", "knocknoc:bob")
    gate.put_object(NAME, IP, "knocknoc:alice,carol")
    result, _w, _s = run(gate, exclusive=True)
    assert gate.members() == ["none", NAME]
    assert "kk_203.0.113.9" not in gate.tables[ADDR]
    assert gate.comment() == "knocknoc:alice"  # holders of listed addresses are exactly user
    assert result["removed"] == ["kk_203.0.113.9", "kk_nested"]
    assert result["holders"] == {IP: ["alice"], "203.0.113.9": [], "kk_nested": []}


# -- refusals ------------------------------------------------------------------------------------------------
def test_missing_group_fails():
    gate = FakeGate()
    with pytest.raises(KnocknocError) as raised:
        run(gate, address_group="nope")
    assert "does not exist" in str(raised.value) and "never creates groups" in str(raised.value)


def test_object_name_holding_another_address_is_never_reused():
    gate = FakeGate()
    gate.put_object(NAME, "10.9.9.9", "")
    with pytest.raises(KnocknocError) as raised:
        run(gate)
    assert "holds 10.9.9.9 255.255.255.255, not %s" % IP in str(raised.value)
    assert gate.writes() == []


def test_holders_that_would_not_fit_the_comment_change_nothing():
    gate = FakeGate(members=["none", NAME])
    crowd = ["user%03d" % i for i in range(40)]
    gate.put_object(NAME, IP, render_holders(crowd))
    assert len(render_holders(crowd + ["alice"])) > COMMENT_MAX
    with pytest.raises(KnocknocError) as raised:
        run(gate)
    assert "do not fit" in str(raised.value)
    assert gate.writes() == []


@pytest.mark.parametrize("overrides,words", [
    ({"prefix": ""}, "prefix must not be empty"),
    ({"prefix": "kk/"}, "prefix must be 1 to 78 characters: letters, digits"),
    ({"user": "a,b"}, "user"),
    ({"user": " alice"}, "user"),
    ({"user": "x" * 260}, "user must be a user name of at most 64 characters"),
    ({"addresses": ["fe80::1%eth0"], "address_group6": GROUP6}, "addresses[0]: 'fe80::1%eth0' is not"),
    ({"addresses": [None]}, "addresses[0] is required"),
    ({"user": "jos\u00e9"}, "user must be a user name"),
    ({"max_prefix_v4": 0}, "max_prefix_v4"),
    ({"max_prefix_v6": 129}, "max_prefix_v6"),
    ({"exclusive": True, "state": "absent"}, "exclusive"),
    ({"addresses": ["2001:db8::7"]}, "address_group6 is required"),
    ({"addresses": ["198.51.100.0/24"]}, "addresses"),
    ({"prefix": "k" * 70}, "FortiOS allows 79"),
    ({"address_group": " "}, "address_group must not be empty"),
])
def test_validate_refuses(overrides, words):
    with pytest.raises(ValueError) as raised:
        validate(params(**overrides))
    assert words in str(raised.value)


def test_validate_dedupes_and_sorts_items():
    items = validate(params(addresses=["198.51.100.7/32", IP, "198.51.100.0/28"], max_prefix_v4=28))
    assert [(i.name, i.address, i.version) for i in items] == [("kk_198.51.100.0_28", "198.51.100.0/28", 4),
                                                               (NAME, IP, 4)]


# -- revokes fail closed (issue 10) --------------------------------------------------------------------
class Lying(FakeGate):
    """A FortiGate whose answers to some reads or writes are wrong (``lies``: method -> list of errors or
    "404" markers, one popped per call)."""

    def __init__(self, *args, **kwargs):
        super(Lying, self).__init__(*args, **kwargs)
        self.lies = {}

    def _lie(self, method):
        queue = self.lies.get(method)
        return queue.pop(0) if queue else None

    def get_entry(self, path, mkey, vdom=None, fields=None):
        lie = self._lie("get_entry:" + path)
        if lie == "404":
            self.calls.append(("get_entry", path, mkey))
            return None
        if lie is not None:
            self.calls.append(("get_entry", path, mkey))
            raise lie
        return super(Lying, self).get_entry(path, mkey, vdom, fields)

    def remove_member(self, path, mkey, member, attr="member", vdom=None):
        lie = self._lie("remove_member")
        if lie == "404":
            self.calls.append(("remove_member", path, mkey, member))
            return False
        if lie is not None:
            raise lie
        return super(Lying, self).remove_member(path, mkey, member, attr, vdom)


def granted(gate, holders="knocknoc:alice"):
    gate.put_object(NAME, IP + "/32", holders)
    gate.tables[ADDRGRP][GROUP]["member"].append(NAME)


def test_revoke_a_wrong_404_on_the_object_read_is_read_again():
    # Before issue 10 this revoke reported changed=false and left the member in the group.
    gate = Lying()
    granted(gate)
    gate.lies["get_entry:" + ADDR] = ["404"]
    result, warnings, _sleeper = run(gate, state="absent")
    assert result["changed"] is True and result["revoked"] is True and result["removed"] == [NAME]
    assert NAME not in gate.members() and NAME not in gate.tables[ADDR]
    assert warnings == []
    reads = [c for c in gate.calls if c[0] == "get_entry" and c[1] == ADDR]
    assert len(reads) == 3  # the wrong answer, the re-read, the read after removing the member


def test_revoke_object_missing_while_member_removes_the_membership_for_everyone():
    gate = Lying()
    granted(gate, "knocknoc:alice,bob")
    gate.lies["get_entry:" + ADDR] = ["404", "404"]
    result, warnings, _sleeper = run(gate, state="absent")
    assert result["changed"] is True and result["revoked"] is True and result["removed"] == [NAME]
    assert NAME not in gate.members()
    assert len(warnings) == 1 and "every holder" in warnings[0]


def test_revoke_with_nothing_to_change_is_proved_by_the_plans_group_read():
    gate = FakeGate()
    result, _warnings, _sleeper = run(gate, state="absent")
    assert result["changed"] is False and result["revoked"] is True
    assert gate.calls == [("get_entry", ADDRGRP, GROUP), ("get_entry", ADDR, NAME)]  # no extra request


def test_revoke_check_mode_is_not_a_revoke():
    gate = FakeGate()
    granted(gate)
    result, _warnings, _sleeper = run(gate, check_mode=True, state="absent")
    assert result["changed"] is True and result["revoked"] is False
    assert gate.writes() == []


def test_revoke_failure_keeps_the_code_and_says_access_may_be_open():
    gate = Lying()
    granted(gate)
    gate.lies["get_entry:" + ADDRGRP] = [KnocknocError(202004, "no answer within 10s", details={"x": 1})]
    with pytest.raises(KnocknocError) as caught:
        run(gate, state="absent")
    err = caught.value
    assert err.code == 202004 and err.details["x"] == 1 and err.details["revoked"] is False
    assert "access may still be open" in str(err) and IP in str(err) and "alice" in str(err)
    assert NAME in gate.members()


def test_revoke_member_delete_answered_404_fails_after_the_read_back():
    gate = Lying()
    granted(gate)
    gate.lies["remove_member"] = ["404"]
    with pytest.raises(KnocknocError) as caught:
        run(gate, state="absent")
    assert "still a member" in str(caught.value) and "access may still be open" in str(caught.value)


def test_grant_failure_does_not_speak_of_open_access():
    gate = Lying()
    gate.lies["get_entry:" + ADDRGRP] = [KnocknocError(202001, "HTTP 401")]
    with pytest.raises(KnocknocError) as caught:
        run(gate)
    assert "access may still be open" not in str(caught.value)


def test_exclusive_failure_says_access_may_be_open():
    gate = Lying()
    granted(gate)
    gate.lies["remove_member"] = [KnocknocError(None, "HTTP 500", description="Unexpected HTTP status")]
    with pytest.raises(KnocknocError) as caught:
        run(gate, addresses=[], exclusive=True, user=None)
    assert "access may still be open" in str(caught.value) and IP in str(caught.value)
