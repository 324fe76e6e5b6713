"""Fault matrix of fortigate_address_grant revokes: every request position x every fault kind the lab injects.

For each revoke scenario the test first counts the requests of a fault-free run, then, for every position
``p`` and every fault kind, resets the lab, sets the grant up again, injects the fault on the ``p``-th request
of the revoke (``skip=p, count=1``, no match: the revoke is the only client of fgt1 meanwhile), runs the
module in-process, clears the faults and reads the DEVICE: the group members and FortiOS' own policy
lookup (LabView ``admitted``). Every case must end in one of two ways:

- the device no longer admits the address for this revoke (the group does not list the object, and the
  policy lookup answers the implicit deny; for a holder who leaves an address someone else still holds:
  the holder is gone from the object's comment), whatever the module said; or
- the task failed, and its message says that access may still be open.

A case where the task reported success while the device still admits the address is a fail-open, and the
test collects every one of them before failing so that the whole matrix shows at once.
"""

import pytest

MODULE = "fortigate_address_grant"
CMDB = "/api/v2/cmdb/"
GROUP = "kk_users"
GROUP6 = "kk_users6"
IP = "198.51.100.7"
IP6 = "2001:db8::7"
OPEN = "access may still be open"

# name -> (fault fields, extra module options). Retries are the default (3) unless the kind says otherwise:
# "drop" is then repeated transparently for idempotent requests, "drop, no retry" shows the failure itself.
KINDS = {
    "500": ({"kind": "status", "status": 500}, {}),
    "401": ({"kind": "status", "status": 401}, {}),
    "403": ({"kind": "status", "status": 403}, {}),
    "404": ({"kind": "status", "status": 404}, {}),
    "503 retried": ({"kind": "status", "status": 503}, {}),
    "503, no retry": ({"kind": "status", "status": 503}, {"retries": 0}),
    "drop": ({"kind": "drop"}, {}),
    "drop, no retry": ({"kind": "drop"}, {"retries": 0}),
    "malformed": ({"kind": "malformed"}, {}),
    # the lab answers (and applies a write) after the delay; the module gave up at its 1 s timeout
    "timeout": ({"kind": "delay", "seconds": 1.2}, {"timeout": 1}),
}


def ok(reply):
    assert reply.status_code == 200, reply.text
    return reply.json()


def fgt_conn(labview):
    return labview.connection("fgt1", "kk-active")


class Scenario:
    """A granted address and the revoke under test."""

    def __init__(self, name, ip, holders, args, stays_for=None):
        self.name = name
        self.ip = ip
        self.v6 = ":" in ip
        self.holders = holders  # as recorded in the object's comment before the revoke
        self.args = args  # the revoke's module options (besides the connection)
        self.stays_for = stays_for  # holders left after a proved revoke (the address stays admitted)
        self.object = "kk_" + ip
        self.group = GROUP6 if self.v6 else GROUP
        self.group_table = "firewall/addrgrp6" if self.v6 else "firewall/addrgrp"
        self.object_table = "firewall/address6" if self.v6 else "firewall/address"

    def set_up(self, fgt):
        ok(fgt.post(CMDB + self.group_table, json={"name": self.group, "member": []}))
        policy = {"policyid": 0, "name": "kk-in", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
                  "service": [{"name": "HTTPS"}], "schedule": "always", "action": "accept"}
        if self.v6:
            policy.update(srcaddr6=[{"name": self.group}], dstaddr6=[{"name": "all"}])
        else:
            policy.update(srcaddr=[{"name": self.group}], dstaddr=[{"name": "all"}])
        ok(fgt.post(CMDB + "firewall/policy", json=policy))
        body = {"name": self.object, "comment": "knocknoc:" + ",".join(self.holders)}
        if self.v6:
            body.update(type="ipprefix", ip6=self.ip + "/128")
        else:
            body.update(type="ipmask", subnet=self.ip + "/32")
        ok(fgt.post(CMDB + self.object_table, json=body))
        ok(fgt.post(CMDB + self.group_table + "/" + self.group + "/member", json={"name": self.object}))
        assert fgt.admitted(self.ip) != 0

    def module_args(self, labview, extra):
        args = fgt_conn(labview)
        args.update({"address_group6": GROUP6} if self.v6 else {"address_group": GROUP})
        args.update(self.args)
        args.update(extra)
        return args

    def device_state(self, fgt):
        """(member of the group, admitted by the policy lookup, holders in the object's comment or None)."""
        members = [m["name"] for m in fgt.cmdb(self.group_table, self.group)["member"]]
        obj = fgt.cmdb(self.object_table, self.object)
        holders = None
        if obj is not None:
            comment = obj.get("comment") or ""
            holders = sorted(h for h in comment[len("knocknoc:"):].split(",") if h) \
                if comment.startswith("knocknoc:") else []
        return self.object in members, fgt.admitted(self.ip) != 0, holders


SCENARIOS = {
    "last holder": Scenario("last holder", IP, ["alice"], {"addresses": [IP], "user": "alice", "state": "absent"}),
    "everyone": Scenario("everyone", IP, ["alice", "bob"], {"addresses": [IP], "state": "absent"}),
    "one of two holders": Scenario("one of two holders", IP, ["alice", "bob"],
                                   {"addresses": [IP], "user": "alice", "state": "absent"}, stays_for=["bob"]),
    "exclusive": Scenario("exclusive", IP, ["alice"], {"addresses": [], "exclusive": True}),
    "IPv6 last holder": Scenario("IPv6 last holder", IP6, ["alice"],
                                 {"addresses": [IP6], "user": "alice", "state": "absent"}),
}


def run_case(lab, labview, fgt, run_module, scenario, fault=None, extra=None):
    """Reset, set up, revoke (with ``fault`` injected), clear faults; returns (result, requests, state).
    ``fgt``: one LabView device view for all cases (its TLS session outlives the resets)."""
    lab.reset()
    scenario.set_up(fgt)
    before = labview.counters()["fgt1"]["requests"]
    if fault is not None:
        labview.fault("fgt1", **fault)
    result = run_module(MODULE, scenario.module_args(labview, extra or {}))
    labview.control("DELETE", "/devices/fgt1/faults")
    requests = labview.counters()["fgt1"]["requests"] - before
    return result, requests, scenario.device_state(fgt)


def verdict(scenario, result, state):
    """None when the case ended safely; else what went wrong."""
    member, admitted, holders = state
    if result.get("failed"):
        if OPEN not in result.get("msg", ""):
            return "failed without saying that access may still be open: %s" % result.get("msg")
        return None
    if "Traceback" in str(result):
        return "traceback: %s" % result
    if scenario.stays_for is not None:
        # The address stays for the other holder; this user's revoke must show in the comment.
        if holders is None or "alice" in holders:
            return "reported success but alice still holds the address (holders %s)" % holders
        return None
    if member or admitted:
        return "reported success (changed=%s) while the device still admits %s (member=%s, policy lookup=%s)" % (
            result.get("changed"), scenario.ip, member, admitted)
    return None


@pytest.fixture(scope="module")
def baseline():
    return {}


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """Shorter pauses (the same protocol): the retry backoff and the holders' settle pause."""
    from ansible_collections.knocknoc.fortinet.plugins.module_utils import _address_grant, _http

    monkeypatch.setattr(_http, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(_address_grant, "SETTLE", (0.001, 0.002))


@pytest.mark.parametrize("scenario_name", sorted(SCENARIOS))
def test_fault_free_revoke_is_proved(lab, labview_class, run_module, scenario_name, baseline):
    scenario = SCENARIOS[scenario_name]
    labview = labview_class(lab)
    fgt = labview.device("fgt1")
    result, requests, state = run_case(lab, labview, fgt, run_module, scenario)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert verdict(scenario, result, state) is None, (result, state)
    member, admitted, holders = state
    if scenario.stays_for is None:
        assert not member and not admitted and holders is None, state
    else:
        assert member and admitted and holders == scenario.stays_for, state
    baseline[scenario_name] = requests


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("scenario_name", sorted(SCENARIOS))
def test_fault_at_every_position(lab, labview_class, run_module, scenario_name, kind, baseline):
    """Each request position of the revoke x one fault kind: safe or failed-and-says-so, on the device."""
    scenario = SCENARIOS[scenario_name]
    labview = labview_class(lab)
    fgt = labview.device("fgt1")
    positions = baseline.get(scenario_name)
    if positions is None:
        _result, positions, _state = run_case(lab, labview, fgt, run_module, scenario)
        baseline[scenario_name] = positions
    fault_fields, extra = KINDS[kind]
    problems = []
    outcomes = {"failed": 0, "proved": 0}
    for position in range(positions):
        fault = dict(fault_fields, skip=position, count=1)
        result, _requests, state = run_case(lab, labview, fgt, run_module, scenario, fault, extra)
        problem = verdict(scenario, result, state)
        if problem:
            problems.append("request %d: %s" % (position + 1, problem))
        outcomes["failed" if result.get("failed") else "proved"] += 1
    print("%s x %s: %d positions, %d failed, %d succeeded, %d unsafe"
          % (scenario_name, kind, positions, outcomes["failed"], outcomes["proved"], len(problems)))
    assert not problems, "\n".join(problems)


ROLE_REVOKE = """
- name: Revoke through the access role
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Active on fgt1
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: absent
        access_mode: active
        access_user: alice
        access_ip: 198.51.100.7
        access_address_group: kk_users
        access_fortigate: "{{ fgt }}"
"""


def test_access_role_says_revoked_only_when_the_device_showed_it(lab, labview_class, run_playbook):
    scenario = SCENARIOS["last holder"]
    labview = labview_class(lab)
    fgt = labview.device("fgt1")
    extra = {"fgt": labview.connection("fgt1", "kk-active")}

    # The read-back of the group fails: the module cannot show the revoke, the role fails and never says "revoked".
    lab.reset()
    scenario.set_up(fgt)
    labview.fault("fgt1", kind="status", status=500, match=r"addrgrp/kk_users\?", skip=1, count=1)
    rc, out, _results = run_playbook(ROLE_REVOKE, extra_vars=extra)
    labview.control("DELETE", "/devices/fgt1/faults")
    assert rc != 0, out
    assert OPEN in out and "198.51.100.7 revoked" not in out
    assert extra["fgt"]["token"] not in out

    # Without a fault: revoked, and the device agrees.
    lab.reset()
    scenario.set_up(fgt)
    rc, out, _results = run_playbook(ROLE_REVOKE, extra_vars=extra)
    assert rc == 0, out
    assert "alice 198.51.100.7 revoked" in out
    assert scenario.device_state(fgt) == (False, False, None)
