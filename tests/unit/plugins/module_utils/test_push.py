# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Passive+ push (_push) on simulated FortiGates: requests per run, shared plans, 413 halving,
entries that do not stick, missing resources, old firmware, check mode, the in-force rules.

The simulated FortiGates answer FortiOS envelopes and are read by the collection's own
``read_reply``, as the direct and the proxied ways are; one call on the simulated fleet is one
request, as one ``exec /sys/proxy/json`` is."""

import json

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import Reply, read_reply
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import FortiGates, Outcome
from ansible_collections.knocknoc.fortinet.plugins.module_utils._push import (
    PushTarget,
    build_calls,
    commands,
    failed_targets,
    in_force,
    split_call,
    summary,
    sync_entries,
    validate_name,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import plan_members

NAME = "kk_allow"


class SimFortiGate(object):
    """The push and entry-list APIs of one FortiGate (reference C1/C2), in memory."""

    def __init__(self, name, entries=(), version="7.4.4", resources=(NAME,), limit=None, body_limit=None,
                 invalid=()):
        self.name = name
        self.serial = "FGVM01TM0000%04d" % (abs(hash(name)) % 10000)
        self.version = version
        self.lists = dict((r, list(entries)) for r in resources)
        self.limit = limit
        self.body_limit = body_limit
        self.invalid = set(invalid)
        self.pushes = []

    def envelope(self, http=200, **fields):
        body = {"serial": self.serial, "version": "v" + self.version, "vdom": "root", "http_status": http,
                "status": "success" if http < 400 else "error"}
        body.update(fields)
        return http, body

    def answer(self, call):
        if call.path.endswith("/entry-list"):
            listed = self.lists.get(call.params["mkey"])
            if listed is None:
                return self.envelope(404)
            accepted = len(listed) if self.limit is None else min(self.limit, len(listed))
            return self.envelope(results={"entries": [{"entry": e, "valid": True} for e in listed],
                                          "overflow": accepted < len(listed), "accepted_count": accepted})
        if call.path.startswith("/api/v2/cmdb/system/external-resource/"):
            mkey = call.path.rsplit("/", 1)[1]
            if mkey not in self.lists:
                return self.envelope(404)
            return self.envelope(results=[{"name": mkey, "type": "address", "update-method": "push"}])
        if self.body_limit is not None and len(json.dumps(call.body)) > self.body_limit:
            return 413, {"status": "error", "http_status": 413}
        self.pushes.append(call.body["commands"])
        results = []
        for command in call.body["commands"]:
            listed = self.lists.get(command["name"])
            if listed is None:
                results.append({"name": command["name"], "command": command["command"], "status": "error",
                                "error": "External resource %s does not exist." % command["name"]})
                continue
            good = [e for e in command["entries"] if e not in self.invalid]
            if command["command"] == "snapshot":
                listed[:] = good
            elif command["command"] == "add":
                listed.extend(e for e in good if e not in listed)
            else:
                listed[:] = [e for e in listed if e not in good]
            results.append({"name": command["name"], "command": command["command"], "status": "success",
                            "invalidEntries": [e for e in command["entries"] if e in self.invalid]})
        failed = all(r["status"] == "error" for r in results)
        return self.envelope(status="error" if failed else "success", results=results)


class SimFleet(FortiGates):
    """FortiGates over simulated devices; ``requests`` counts calls (one per call, any device count)."""

    def __init__(self, devices, chosen=None, requests=None):
        self.devices = dict((d.name, d) for d in devices)
        self.chosen = list(chosen or self.devices)
        self.requests = [] if requests is None else requests

    def run(self, call):
        self.requests.append((call.method, call.path, tuple(self.chosen)))
        outcomes = []
        for name in self.chosen:
            device = self.devices[name]
            status, body = device.answer(call)
            try:
                value = read_reply(call, Reply(status, body, name, call.display(self.vdom), self.vdom))
            except KnocknocError as err:
                outcomes.append(Outcome(name, error=err, serial=device.serial, version=device.version))
                continue
            outcomes.append(Outcome(name, value, serial=device.serial, version=device.version))
        return outcomes

    def only(self, targets):
        return SimFleet(self.devices.values(), targets, self.requests)

    def close(self):
        pass


def fleet(*devices):
    return SimFleet(devices)


def by_label(targets):
    return dict((t.label, t) for t in targets)


# -- a run ---------------------------------------------------------------------------------------------
def test_a_grant_to_many_targets_is_three_requests():
    fortigates = fleet(*[SimFortiGate("fgt%d" % i) for i in range(1, 51)])
    targets = sync_entries(fortigates, NAME, frozenset(["192.0.2.1", "2001:db8::1"]))
    assert [r[:2] for r in fortigates.requests] == [
        ("GET", "/api/v2/monitor/system/external-resource/entry-list"),
        ("POST", "/api/v2/monitor/system/external-resource/dynamic"),
        ("GET", "/api/v2/monitor/system/external-resource/entry-list")]
    assert len(fortigates.requests[1][2]) == 50
    assert all(t.error is None and t.after == {"192.0.2.1", "2001:db8::1"} for t in targets)
    result = summary(targets, check_mode=False)
    assert result["changed"] and result["added"] == ["192.0.2.1", "2001:db8::1"] and result["failed_targets"] == []
    assert [r["target"] for r in result["results"]][:3] == ["fgt1", "fgt10", "fgt11"]  # sorted by label


def test_targets_with_different_plans_get_their_own_push():
    fortigates = fleet(SimFortiGate("fgt1", ["192.0.2.1"]), SimFortiGate("fgt2"))
    targets = by_label(sync_entries(fortigates, NAME, frozenset(["192.0.2.1", "192.0.2.2"])))
    assert len(fortigates.requests) == 4  # read, two pushes, read back
    assert targets["fgt1"].plan.add == {"192.0.2.2"} and targets["fgt2"].plan.add == {"192.0.2.1", "192.0.2.2"}
    assert fortigates.devices["fgt1"].pushes == [[{"name": NAME, "command": "add", "entries": ["192.0.2.2"]}]]


def test_nothing_to_do_is_one_request_and_check_mode_only_reads():
    fortigates = fleet(SimFortiGate("fgt1", ["192.0.2.1"]))
    targets = sync_entries(fortigates, NAME, frozenset(["192.0.2.1"]))
    assert len(fortigates.requests) == 1 and not summary(targets, False)["changed"]
    targets = sync_entries(fortigates, NAME, frozenset(["192.0.2.1"]), state="absent", check_mode=True)
    result = summary(targets, check_mode=True, diff=True)
    assert result["removed"] == ["192.0.2.1"] and result["results"][0]["entries_after"] == 0
    assert result["diff"] == {"before": {"fgt1": ["192.0.2.1"]}, "after": {"fgt1": []}}
    assert len(fortigates.requests) == 2 and fortigates.devices["fgt1"].lists[NAME] == ["192.0.2.1"]


def test_exclusive_is_one_snapshot_and_allow_empty_sends_an_empty_one():
    device = SimFortiGate("fgt1", ["192.0.2.1", "192.0.2.9"])
    sync_entries(fleet(device), NAME, frozenset(["192.0.2.1", "192.0.2.2"]), exclusive=True)
    assert device.pushes == [[{"name": NAME, "command": "snapshot", "entries": ["192.0.2.1", "192.0.2.2"]}]]
    sync_entries(fleet(device), NAME, frozenset(), exclusive=True)
    assert device.pushes[-1] == [{"name": NAME, "command": "snapshot", "entries": []}] and device.lists[NAME] == []


def test_a_413_halves_the_call_until_it_fits():
    device = SimFortiGate("fgt1", body_limit=400)
    wanted = frozenset("192.0.2.%d" % i for i in range(1, 41))
    fortigates = fleet(device)
    targets = sync_entries(fortigates, NAME, wanted)
    assert targets[0].error is None and set(device.lists[NAME]) == wanted
    assert len(device.pushes) > 1 and all(len(json.dumps({"commands": p})) <= 400 for p in device.pushes)


def test_a_413_on_one_entry_is_202100():
    device = SimFortiGate("fgt1", body_limit=10)
    target = sync_entries(fleet(device), NAME, frozenset(["192.0.2.1"]))[0]
    assert target.error.code == 202100 and "413" in target.error.cause


def test_a_missing_resource_fails_that_target_only():
    fortigates = fleet(SimFortiGate("fgt1", resources=()), SimFortiGate("fgt2"))
    targets = by_label(sync_entries(fortigates, NAME, frozenset(["192.0.2.1"])))
    assert targets["fgt1"].error.code == 202102 and "does not exist" in targets["fgt1"].error.cause
    assert targets["fgt2"].error is None and targets["fgt2"].after == {"192.0.2.1"}
    assert [t.label for t in failed_targets(targets.values())] == ["fgt1"]
    assert fortigates.requests[1][2] == ("fgt2",)  # the push went to fgt2 only


def test_a_push_refused_after_the_read_is_202102():
    device = SimFortiGate("fgt1")
    fortigates = fleet(device)
    original = device.answer

    def vanish(call):
        if call.method == "POST":
            device.lists.pop(NAME, None)
        return original(call)
    device.answer = vanish
    target = sync_entries(fortigates, NAME, frozenset(["192.0.2.1"]))[0]
    assert target.error.code == 202102 and "refused the push" in target.error.cause
    # The refusal's text does not say why: CMDB does (one more request, only after a refusal).
    device.lists[NAME] = []
    requests = len(fortigates.requests)

    def vanish_quietly(call):
        if call.method == "POST":
            device.lists.pop(NAME, None)
            return device.envelope(status="error", results=[{"name": NAME, "command": "add", "status": "error",
                                                             "error": "Failed to process command."}])
        return original(call)
    device.answer = vanish_quietly
    target = sync_entries(fortigates, NAME, frozenset(["192.0.2.1"]))[0]
    assert target.error.code == 202102 and "does not exist in its configuration" in target.error.cause
    assert [r[:2] for r in fortigates.requests[requests:]][-2:] == [
        ("GET", "/api/v2/cmdb/system/external-resource/" + NAME),
        ("GET", "/api/v2/monitor/system/external-resource/entry-list")]


def test_firmware_without_the_push_api_is_said_plainly():
    fortigates = fleet(SimFortiGate("fgt3", version="7.2.0"))
    target = sync_entries(fortigates, NAME, frozenset(["192.0.2.1"]))[0]
    assert target.error.code == 202100 and "FortiOS 7.2.0 has no push API" in target.error.cause
    assert len(fortigates.requests) == 1


def test_entries_that_do_not_stick_are_reported():
    device = SimFortiGate("fgt1", ["192.0.2.1"], limit=1, invalid=["192.0.2.3"])
    target = sync_entries(fleet(device), NAME, frozenset(["192.0.2.1", "192.0.2.2", "192.0.2.3"]))[0]
    assert target.error.code == 202100
    assert target.error.details["not_applied"] == ["192.0.2.2", "192.0.2.3"]
    assert "rejected 192.0.2.3" in target.error.cause
    result = summary([target], check_mode=False)["results"][0]
    assert result["added"] == [] and result["error_code"] == 202100


def test_a_revoke_that_does_not_stick_is_reported():
    device = SimFortiGate("fgt1", ["192.0.2.1"], invalid=["192.0.2.1"])  # the FortiGate ignores the remove
    target = sync_entries(fleet(device), NAME, frozenset(["192.0.2.1"]), state="absent")[0]
    assert target.error.code == 202100 and "still listed" in target.error.cause


def test_a_failed_read_is_a_push_error_and_nothing_is_pushed():
    class Refusing(SimFleet):
        def run(self, call):
            return [Outcome("fgt1", error=KnocknocError(None, cause="HTTP 500", description="FortiGate rejected"))]
    target = sync_entries(Refusing([SimFortiGate("fgt1")]), NAME, frozenset(["192.0.2.1"]))[0]
    assert target.error.code == 202100 and target.plan is None


# -- pieces ----------------------------------------------------------------------------------------------
def test_in_force_rules():
    entries = [{"entry": "192.0.2.1", "valid": True}, {"entry": "bad", "valid": False},
               {"entry": "192.0.2.2/32", "valid": True}, {"entry": "192.0.2.3", "valid": True}]
    assert in_force({"entries": entries}, "7.4.4") == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}
    # 7.4.4+: the limit counts valid entries; before, lines
    assert in_force({"entries": entries, "overflow": True, "accepted_count": 2}, "7.4.4") == {"192.0.2.1", "192.0.2.2"}
    assert in_force({"entries": entries, "overflow": True, "accepted_count": 2}, "7.2.1") == {"192.0.2.1"}
    assert in_force({"entries": entries, "overflow": True, "accepted_count": 2}, None) == {"192.0.2.1", "192.0.2.2"}
    assert in_force({"entries": [{"entry": "192.0.2.5-192.0.2.9"}, "junk"]}, "7.4.4") == {"192.0.2.5-192.0.2.9"}


def test_build_calls_cut_at_the_budget_and_keep_listed_entries_first_in_a_snapshot():
    plan = plan_members(frozenset(["192.0.2.9"]), frozenset(["192.0.2.1", "192.0.2.9"]), "present", True)
    assert build_calls(plan, frozenset(["192.0.2.1", "192.0.2.9"]), True) == [
        [("snapshot", "192.0.2.9"), ("snapshot", "192.0.2.1")]]
    wanted = frozenset("192.0.2.%d" % i for i in range(1, 21))
    calls = build_calls(plan_members(frozenset(), wanted, "present", True), wanted, True, budget=256 + 60)
    assert len(calls) > 1 and {verb for verb, entry in calls[0]} == {"snapshot"}
    assert all(verb == "add" for call in calls[1:] for verb, entry in call)
    assert sorted(entry for call in calls for verb, entry in call) == sorted(wanted)
    plan = plan_members(frozenset(["192.0.2.7"]), frozenset(["192.0.2.1"]), "absent")
    assert build_calls(plan, frozenset(["192.0.2.1"]), False) == []  # nothing listed to remove: no call
    plan = plan_members(frozenset(["192.0.2.7"]), frozenset(["192.0.2.1", "192.0.2.2"]), "present")
    assert build_calls(plan, frozenset(["192.0.2.1"]), False) == [[("add", "192.0.2.1"), ("add", "192.0.2.2")]]


def test_split_call_and_commands():
    call = [("snapshot", "192.0.2.1"), ("snapshot", "192.0.2.2"), ("remove", "192.0.2.3")]
    first, second = split_call(call)
    assert first == [("snapshot", "192.0.2.1")] and second == [("add", "192.0.2.2"), ("remove", "192.0.2.3")]
    assert split_call([("add", "192.0.2.1")]) is None
    assert commands(NAME, second) == [{"name": NAME, "command": "add", "entries": ["192.0.2.2"]},
                                      {"name": NAME, "command": "remove", "entries": ["192.0.2.3"]}]
    assert commands(NAME, []) == [{"name": NAME, "command": "snapshot", "entries": []}]


def test_first_failure_wins_and_names_are_checked():
    target = PushTarget("fgt1")
    target.fail(KnocknocError(202102, cause="first"))
    target.fail(KnocknocError(202100, cause="second"))
    assert target.error.code == 202102
    assert validate_name("kk_allow") is None
    assert "at most 35" in validate_name("k" * 36) and validate_name(" ") == "name must not be empty"
