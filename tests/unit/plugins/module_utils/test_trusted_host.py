# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_trusted_host: slot decisions, the baseline, and the read/write calls against a fake FortiManager."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._trusted_host import (
    ALLOW_ALL_V4,
    ALLOW_ALL_V6,
    UNUSED_V4,
    UNUSED_V6,
    allows_all,
    apply,
    baseline_slots,
    canonical_address,
    check_admin,
    host_value,
    masking_slots,
    plan,
    read_admin,
    check_options,
    same,
    slot_names,
    unused_value,
)

IP = "198.51.100.7"
IP6 = "2001:db8::7"
LOOPBACK = ["127.0.0.1", "255.255.255.255"]


def controlled(**overrides):
    """An administrator as the seed checklist wants it: slots 1-9 at 127.0.0.1 / ::1, slots 10 unused."""
    slots = {}
    for index in range(1, 10):
        slots["trusthost%d" % index] = list(LOOPBACK)
        slots["ipv6_trusthost%d" % index] = "::1/128"
    slots["trusthost10"] = list(UNUSED_V4)
    slots["ipv6_trusthost10"] = UNUSED_V6
    slots.update(overrides)
    return slots


def factory(**overrides):
    """FortiManager's defaults (reference F1): slot 1 allows all, the rest unused."""
    slots = dict((name, list(UNUSED_V4) if not name.startswith("ipv6_") else UNUSED_V6) for name in slot_names())
    slots.update(trusthost1=list(ALLOW_ALL_V4), ipv6_trusthost1=ALLOW_ALL_V6)
    slots.update(overrides)
    return slots


# -- values -----------------------------------------------------------------------------------------------
def test_device_values():
    assert unused_value(4) == ["255.255.255.255", "255.255.255.255"] and isinstance(unused_value(4), list)
    assert unused_value(6) == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"
    assert host_value(IP) == [IP, "255.255.255.255"]
    assert host_value("2001:DB8:0::7") == IP6 + "/128"
    assert len(slot_names()) == 20 and "ipv6_trusthost10" in slot_names()


@pytest.mark.parametrize("value,expected", [
    (list(ALLOW_ALL_V4), True), ("0.0.0.0 0.0.0.0", True), (ALLOW_ALL_V6, True),
    (list(UNUSED_V4), False), (UNUSED_V6, False), (LOOPBACK, False), ("garbage", False), (None, False),
])
def test_allows_all(value, expected):
    assert allows_all(value) is expected


def test_same_compares_networks_not_spellings():
    assert same([IP, "255.255.255.255"], IP + "/32")
    assert same("2001:DB8::7/128", IP6 + "/128")
    assert not same(list(UNUSED_V4), [IP, "255.255.255.255"])
    assert not same(None, list(UNUSED_V4))


def test_masking_slots():
    assert masking_slots(factory(), 4) == ["trusthost1"]
    assert masking_slots(controlled(trusthost5="0.0.0.0 0.0.0.0"), 4) == ["trusthost5"]
    assert masking_slots(controlled(trusthost10=list(ALLOW_ALL_V4)), 4) == []  # slot 10 never masks itself
    assert masking_slots(controlled(), 6) == []
    # an administrator object as read, with slots left out: they count at their factory value
    assert masking_slots({"userid": "bob"}, 4) == ["trusthost1"]
    assert masking_slots({"trusthost1": LOOPBACK, "ipv6_trusthost1": "::1/128"}, 4) == []


# -- input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("admin,word", [("", "empty"), ("  ", "empty"), ("alice ", "whitespace"), ("a/b", "'/'")])
def test_check_admin_refuses(admin, word):
    with pytest.raises(ValueError) as raised:
        check_admin(admin)
    assert word in str(raised.value)


@pytest.mark.parametrize("value,word", [
    ("198.51.100.0/24", "/24"), ("0.0.0.0/0", "every address"), ("not-an-ip", "not-an-ip"),
    ("::ffff:198.51.100.7", "IPv4-mapped"), ("255.255.255.255", "usable"),
])
def test_canonical_address_refuses(value, word):
    with pytest.raises(ValueError) as raised:
        canonical_address(value)
    assert word in str(raised.value) and "address" in str(raised.value)


def test_canonical_address_accepts_host_spellings():
    assert canonical_address(IP + "/32") == IP
    assert canonical_address("2001:DB8::7/128") == IP6


# -- baseline ------------------------------------------------------------------------------------------------
def test_baseline_fills_in_order_and_pads_both_families_with_unused():
    slots = baseline_slots(["127.0.0.1", "::1", "192.0.2.0/28", "192.0.2.0 255.255.255.240", "2001:db8::/64"])
    assert set(slots) == set(name for name in slot_names() if not name.endswith("10"))
    assert slots["trusthost1"] == LOOPBACK
    assert slots["trusthost2"] == ["192.0.2.0", "255.255.255.240"]  # the duplicate spelling counted once
    assert [slots["trusthost%d" % i] for i in range(3, 10)] == [list(UNUSED_V4)] * 7
    assert slots["ipv6_trusthost1"] == "::1/128" and slots["ipv6_trusthost2"] == "2001:db8::/64"
    assert [slots["ipv6_trusthost%d" % i] for i in range(3, 10)] == [UNUSED_V6] * 7


def test_baseline_of_one_family_leaves_the_other_family_unused():
    slots = baseline_slots(["10.0.0.1"])
    assert [slots["ipv6_trusthost%d" % i] for i in range(1, 10)] == [UNUSED_V6] * 9


def test_baseline_takes_nine_per_family():
    nine = ["10.0.0.%d" % i for i in range(1, 10)]
    assert baseline_slots(nine + ["::1"])["trusthost9"] == ["10.0.0.9", "255.255.255.255"]
    with pytest.raises(ValueError) as raised:
        baseline_slots(nine + ["10.0.0.10"])
    assert "10 IPv4 networks" in str(raised.value) and "at most 9" in str(raised.value)


@pytest.mark.parametrize("values,word", [
    ([], "at least one"),
    (["0.0.0.0/0"], "every address"),
    (["::/0"], "every address"),
    (["127.0.0.1", "0.0.0.0 0.0.0.0"], "every address"),
    (["192.0.2.5/28"], "host bits"),
    (["::ffff:127.0.0.1"], "IPv4-mapped"),
    (["255.255.255.255"], "usable"),
    (["224.0.0.1"], "usable"),
    (["nope"], "nope"),
])
def test_baseline_refuses(values, word):
    with pytest.raises(ValueError) as raised:
        baseline_slots(values)
    assert word in str(raised.value) and "baseline" in str(raised.value)


# -- plan ------------------------------------------------------------------------------------------------------
def test_grant_writes_slot_10_only():
    managed, changes, warnings = plan(controlled(), "alice", IP, "present")
    assert managed == ["trusthost10"] and changes == {"trusthost10": [IP, "255.255.255.255"]} and warnings == []
    assert plan(controlled(trusthost10=[IP, "255.255.255.255"]), "alice", IP, "present")[1] == {}


def test_masked_grant_is_refused_with_202050_and_allowed_with_a_warning():
    with pytest.raises(KnocknocError) as raised:
        plan(factory(), "bob", IP, "present")
    assert raised.value.code == 202050 and raised.value.details["masked_by"] == ["trusthost1"]
    _managed, changes, warnings = plan(factory(), "bob", IP, "present", allow_masked=True)
    assert changes == {"trusthost10": [IP, "255.255.255.255"]}
    assert any("masked" in w for w in warnings)


def test_grant_warns_about_the_other_family_open_and_a_covering_slot():
    _m, _c, warnings = plan(controlled(ipv6_trusthost1=ALLOW_ALL_V6), "alice", IP, "present")
    assert any("ipv6_trusthost1" in w and "any IPv6 source" in w for w in warnings)
    _m, _c, warnings = plan(controlled(trusthost3=["198.51.100.0", "255.255.255.0"]), "alice", IP, "present")
    assert any("trusthost3" in w and "will not remove" in w for w in warnings)


def test_revoke_resets_only_a_slot_holding_the_address():
    held = controlled(trusthost10=[IP, "255.255.255.255"])
    assert plan(held, "alice", IP, "absent")[1] == {"trusthost10": list(UNUSED_V4)}
    managed, changes, warnings = plan(held, "alice", "203.0.113.9", "absent")
    assert managed == ["trusthost10"] and changes == {} and "left unchanged" in warnings[0]
    # a masked admin's revoke is never refused
    assert plan(factory(trusthost10=[IP, "255.255.255.255"]), "bob", IP, "absent")[1] == {
        "trusthost10": list(UNUSED_V4)}


def test_revoke_without_address_resets_both_slots_10():
    slots = controlled(trusthost10=[IP, "255.255.255.255"], ipv6_trusthost10=IP6 + "/128")
    managed, changes, _w = plan(slots, "alice", None, "absent")
    assert managed == ["trusthost10", "ipv6_trusthost10"]
    assert changes == {"trusthost10": list(UNUSED_V4), "ipv6_trusthost10": UNUSED_V6}
    assert plan(controlled(), "alice", None, "absent")[1] == {}


def test_baseline_alone_writes_slots_1_to_9_and_leaves_slot_10():
    slots = factory(trusthost10=[IP, "255.255.255.255"])  # a live grant
    managed, changes, warnings = plan(slots, "alice", None, "present", baseline=baseline_slots(["127.0.0.1", "::1"]))
    assert len(managed) == 18 and "trusthost10" not in managed and "ipv6_trusthost10" not in managed
    assert changes == {"trusthost1": LOOPBACK, "ipv6_trusthost1": "::1/128"}  # 2-9 are unused already
    assert warnings == []


def test_baseline_that_matches_changes_nothing():
    slots = factory(trusthost1=LOOPBACK, ipv6_trusthost1="::1/128")
    assert plan(slots, "alice", None, "present", baseline=baseline_slots(["127.0.0.1/32", "::1"]))[1] == {}


def test_grant_with_baseline_checks_masking_after_the_baseline():
    # factory slots would mask slot 10, but the baseline fixes slot 1 in the same update.
    managed, changes, warnings = plan(factory(), "bob", IP, "present", baseline=baseline_slots(["127.0.0.1", "::1"]))
    assert changes == {"trusthost1": LOOPBACK, "ipv6_trusthost1": "::1/128", "trusthost10": [IP, "255.255.255.255"]}
    assert managed[-1] == "trusthost10" and len(managed) == 19
    assert warnings == []


def test_grant_with_a_baseline_covering_the_address_warns():
    _m, _c, warnings = plan(controlled(), "alice", IP, "present", baseline=baseline_slots(["198.51.100.0/24"]))
    assert any("trusthost1 of alice already admit(s)" in w for w in warnings)


def test_revoke_all_with_baseline_sets_all_twenty_slots():
    slots = controlled(trusthost10=[IP, "255.255.255.255"])
    managed, changes, _w = plan(slots, "agent", None, "absent", baseline=baseline_slots(["192.0.2.10"]))
    assert len(managed) == 20
    assert changes["trusthost1"] == ["192.0.2.10", "255.255.255.255"]
    assert changes["trusthost10"] == list(UNUSED_V4)
    assert all(changes["trusthost%d" % i] == list(UNUSED_V4) for i in range(2, 10))
    assert all(changes["ipv6_trusthost%d" % i] == UNUSED_V6 for i in range(1, 10))
    assert "ipv6_trusthost10" not in changes  # already unused


# -- calls ---------------------------------------------------------------------------------------------------------
class FakeManager:
    """FortiManager's admin user table over ``call``; ``take`` False ignores updates (the read-back must catch it)."""

    secrets = ("s3cret",)

    def __init__(self, users, take=True, fail_update=None):
        self.users = users
        self.take = take
        self.fail_update = fail_update
        self.calls = []

    def call(self, method, url, data=None, not_found_code=None, **options):
        self.calls.append((method, url, dict(data) if data else None, options.get("fields")))
        name = url.rsplit("/", 1)[1]
        if name not in self.users:
            raise KnocknocError(not_found_code, "not found", details={"jsonrpc_code": -3})
        if method == "update":
            if self.fail_update is not None:
                raise self.fail_update
            if self.take:
                self.users[name].update(data)
            return None
        fields = options.get("fields") or list(self.users[name])
        return dict((k, v) for k, v in self.users[name].items() if k in fields or k == "userid")

    def error(self, kind, cause, details):
        return KnocknocError(None, cause, details=details)


def test_read_slots_fills_documented_defaults_for_missing_slots():
    fmg = FakeManager({"alice": {"userid": "alice", "trusthost2": LOOPBACK}})
    slots = read_admin(fmg, "alice")[0]
    assert slots["trusthost1"] == list(ALLOW_ALL_V4) and slots["ipv6_trusthost1"] == ALLOW_ALL_V6
    assert slots["trusthost2"] == LOOPBACK and slots["trusthost3"] == list(UNUSED_V4)
    # the same get also asks where the trusted hosts come from (th-from-profile, FortiManager 7.0.3+)
    assert fmg.calls == [("get", "/cli/global/system/admin/user/alice", None,
                          slot_names() + ["th-from-profile", "th6-from-profile", "profileid"])]


def test_read_slots_refuses_another_administrator():
    fmg = FakeManager({"Alice": {"userid": "alice"}})
    with pytest.raises(KnocknocError) as raised:
        read_admin(fmg, "Alice")
    assert raised.value.code == 202051


def test_apply_grant_is_three_calls_and_check_mode_one():
    fmg = FakeManager({"alice": dict(controlled(), userid="alice")})
    result, warnings = apply(fmg, "alice", IP, "present", check_mode=True)
    assert result["changed"] is True and len(fmg.calls) == 1
    assert fmg.users["alice"]["trusthost10"] == list(UNUSED_V4)
    result, warnings = apply(fmg, "alice", IP, "present")
    assert [c[0] for c in fmg.calls[1:]] == ["get", "update", "get"]
    assert fmg.calls[2][2] == {"trusthost10": [IP, "255.255.255.255"]}
    assert result == {"changed": True, "admin": "alice", "slot": "trusthost10",
                      "before": {"trusthost10": list(UNUSED_V4)}, "after": {"trusthost10": [IP, "255.255.255.255"]},
                      "diff": {"before": {"trusthost10": list(UNUSED_V4)},
                               "after": {"trusthost10": [IP, "255.255.255.255"]}}}
    assert warnings == []


def test_apply_baseline_writes_slots_and_slot_10_in_one_update():
    fmg = FakeManager({"bob": dict(factory(), userid="bob")})
    result, _w = apply(fmg, "bob", IP, "present", baseline=baseline_slots(["127.0.0.1", "::1"]))
    assert [c[0] for c in fmg.calls] == ["get", "update", "get"]
    assert sorted(fmg.calls[1][2]) == ["ipv6_trusthost1", "trusthost1", "trusthost10"]
    assert fmg.users["bob"]["trusthost1"] == LOOPBACK and fmg.users["bob"]["trusthost10"] == [IP, "255.255.255.255"]
    assert result["before"]["trusthost1"] == list(ALLOW_ALL_V4) and result["after"]["trusthost1"] == LOOPBACK


def test_update_that_did_not_take_is_202050():
    fmg = FakeManager({"alice": dict(controlled(), userid="alice")}, take=False)
    with pytest.raises(KnocknocError) as raised:
        apply(fmg, "alice", IP, "present")
    assert raised.value.code == 202050 and "reading back" in str(raised.value)


@pytest.mark.parametrize("code,expected", [(None, 202050), (202002, 202002), (202001, 202001)])
def test_failed_update_is_202050_unless_auth(code, expected):
    failure = KnocknocError(code, "update refused", details={"jsonrpc_code": -11 if code else -1})
    fmg = FakeManager({"alice": dict(controlled(), userid="alice")}, fail_update=failure)
    with pytest.raises(KnocknocError) as raised:
        apply(fmg, "alice", IP, "present")
    assert raised.value.code == expected


# -- revoke: fail closed (issue 10) ---------------------------------------------------------------------------
class ProfileManager(FakeManager):
    """FakeManager with admin profiles (``profiles``) behind /cli/global/system/admin/profile/<name>."""

    def __init__(self, users, profiles=None, **kwargs):
        super(ProfileManager, self).__init__(users, **kwargs)
        self.profiles = profiles or {}

    def call(self, method, url, data=None, not_found_code=None, **options):
        if "/admin/profile/" in url:
            self.calls.append((method, url, None, options.get("fields")))
            return dict(self.profiles[url.rsplit("/", 1)[1]])
        return super(ProfileManager, self).call(method, url, data, not_found_code, **options)


@pytest.mark.parametrize("slot10", [["198.51.100.0", "255.255.255.0"], ["0.0.0.0", "0.0.0.0"],
                                    ["198.51.100.7", "255.255.255.255"]])
def test_revoke_resets_a_slot_10_that_admits_the_address(slot10):
    fmg = FakeManager({"alice": dict(controlled(trusthost10=slot10), userid="alice")})
    result, warnings = apply(fmg, "alice", IP, "absent")
    assert result["changed"] is True and result["revoked"] is True and result["still_admitted"] == []
    assert fmg.users["alice"]["trusthost10"] == list(UNUSED_V4)
    assert [c[0] for c in fmg.calls] == ["get", "update", "get"]
    assert bool(warnings) == (slot10[1] != "255.255.255.255")  # a network: said so


def test_revoke_leaves_a_slot_10_that_does_not_admit_the_address():
    fmg = FakeManager({"alice": dict(controlled(trusthost10=["203.0.113.0", "255.255.255.0"]), userid="alice")})
    result, warnings = apply(fmg, "alice", IP, "absent")
    assert result["changed"] is False and result["revoked"] is True and len(fmg.calls) == 1
    assert any("left unchanged" in w for w in warnings)


@pytest.mark.parametrize("slots,admitted", [
    ({"trusthost3": [IP, "255.255.255.255"]}, ["trusthost3"]),
    ({"trusthost2": ["198.51.0.0", "255.255.0.0"]}, ["trusthost2"]),
    ({"trusthost1": list(ALLOW_ALL_V4), "trusthost5": [IP, "255.255.255.255"]}, ["trusthost1", "trusthost5"]),
])
def test_revoke_says_where_slots_1_9_still_admit(slots, admitted):
    user = dict(controlled(trusthost10=[IP, "255.255.255.255"]), userid="alice")
    user.update(slots)
    fmg = FakeManager({"alice": user})
    result, warnings = apply(fmg, "alice", IP, "absent")
    assert result["revoked"] is True and result["still_admitted"] == admitted
    assert any("can still log in from %s through %s" % (IP, ", ".join(admitted)) in w for w in warnings), warnings


def test_revoke_checks_the_profile_when_trusted_hosts_come_from_it():
    user = dict(controlled(trusthost10=[IP, "255.255.255.255"]), userid="alice", profileid="Ops")
    user["th-from-profile"] = 1
    fmg = ProfileManager({"alice": user}, {"Ops": {"profileid": "Ops", "trusthost1": list(ALLOW_ALL_V4)}})
    result, warnings = apply(fmg, "alice", IP, "absent")
    assert result["revoked"] is True and result["still_admitted"] == ["profile Ops trusthost1"]
    assert fmg.calls[-1][1] == "/cli/global/system/admin/profile/Ops"
    assert any("profile Ops trusthost1" in w for w in warnings)


def test_grant_refused_when_trusted_hosts_come_from_the_profile():
    user = dict(controlled(), userid="alice", profileid="Ops")
    user["th-from-profile"] = 1
    fmg = FakeManager({"alice": user})
    with pytest.raises(KnocknocError) as raised:
        apply(fmg, "alice", IP, "present")
    assert raised.value.code == 202050 and "th-from-profile" in str(raised.value) and len(fmg.calls) == 1
    result, warnings = apply(fmg, "alice", IP, "present", allow_masked=True)
    assert result["changed"] is True and any("profile Ops" in w for w in warnings)
    # IPv6 takes its own slots (th6-from-profile unset): a grant there is not refused for the IPv4 setting
    fmg.users["alice"]["ipv6_trusthost1"] = "::1/128"
    assert apply(fmg, "alice", IP6, "present")[0]["changed"] is True


@pytest.mark.parametrize("failure", [
    KnocknocError(None, "update refused", details={"jsonrpc_code": -1}),
    KnocknocError(202004, "timed out"),
    KnocknocError(202150, "malformed"),
])
def test_a_failed_revoke_says_access_may_still_be_open(failure):
    fmg = FakeManager({"alice": dict(controlled(trusthost10=[IP, "255.255.255.255"]), userid="alice")},
                      fail_update=failure)
    with pytest.raises(KnocknocError) as raised:
        apply(fmg, "alice", IP, "absent")
    err = raised.value
    assert "access may still be open" in str(err) and err.details["revoked"] is False
    assert err.code == (202050 if failure.code is None else failure.code)


def test_a_revoke_that_did_not_take_fails():
    fmg = FakeManager({"alice": dict(controlled(trusthost10=[IP, "255.255.255.255"]), userid="alice")}, take=False)
    with pytest.raises(KnocknocError) as raised:
        apply(fmg, "alice", IP, "absent")
    assert raised.value.code == 202050 and "access may still be open" in str(raised.value)


@pytest.mark.parametrize("address,state,baseline,ok", [
    (None, "present", None, False), ("", "present", None, False), ("  ", "absent", None, False),
    (None, "present", ["127.0.0.1"], True), (None, "absent", None, True), (IP, "present", None, True),
])
def test_check_options(address, state, baseline, ok):
    if ok:
        check_options(address, state, baseline)
    else:
        with pytest.raises(ValueError) as raised:
            check_options(address, state, baseline)
        assert str(raised.value).startswith("Option address")
