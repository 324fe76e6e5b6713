"""Fault matrix of fortigate_dynamic_entry revokes (Passive+), directly and through FortiManager.

For each way, the test counts the requests of a fault-free revoke, then, for every request position ``p``
and every fault kind the lab injects (docs/lab.md "The control endpoint"), resets the lab, grants the
address again (through the FortiGate's own API, as an administrator), injects the fault on the ``p``-th
request of the revoke (``skip=p, count=1``: the revoke is the only client of the device meanwhile), runs
the module in-process, clears the faults and reads the DEVICE: the external resource's entry list and
FortiOS' own policy lookup (LabView ``entries``/``admitted``). Every case must end in one of two ways:

- the device no longer lists or admits the address (whatever the module said); or
- the task failed, and its message says that access may still be open.

A case where the task reported success while the device still admits the address is a fail-open; the test
collects every one of them before failing so that the whole matrix shows at once. ``wrong_cert`` applies to
every new connection while it is set, so it has one position.
"""

import pytest

MODULE = "fortigate_dynamic_entry"
CMDB = "/api/v2/cmdb/"
RESOURCE = "kk_allow"
IP = "198.51.100.7"
OTHER = "198.51.100.8"  # another user's grant: must stay
OPEN = "access may still be open"

# name -> (fault fields, extra module options)
FGT_KINDS = {
    "500": ({"kind": "status", "status": 500}, {}),
    "401": ({"kind": "status", "status": 401}, {}),
    "403": ({"kind": "status", "status": 403}, {}),
    "404": ({"kind": "status", "status": 404}, {}),
    "503 retried": ({"kind": "status", "status": 503}, {}),
    "drop": ({"kind": "drop"}, {}),
    "drop, no retry": ({"kind": "drop"}, {"retries": 0}),
    "malformed": ({"kind": "malformed"}, {}),
    # the lab answers (and applies a write) after the delay; the module gave up at its 1 s timeout
    "timeout": ({"kind": "delay", "seconds": 1.2}, {"timeout": 1}),
}
FMG_KINDS = dict(FGT_KINDS, **{
    "jsonrpc -11": ({"kind": "jsonrpc", "code": -11}, {}),
    "jsonrpc -6": ({"kind": "jsonrpc", "code": -6}, {}),
    "jsonrpc -20042": ({"kind": "jsonrpc", "code": -20042}, {}),
})
# Faults on the FortiGate behind FortiManager: FortiManager relays what it got (or says it is unreachable).
BEHIND_KINDS = {name: FGT_KINDS[name] for name in ("500", "403", "404", "drop", "malformed")}


def ok(reply):
    assert reply.status_code == 200, reply.text
    return reply.json()


class Way:
    """How the revoke reaches fgt1: directly, or through fmg1 (``faulty``: the device whose requests are counted
    and faulted)."""

    def __init__(self, name, faulty, via_fmg, options=None):
        self.name = name
        self.faulty = faulty
        self.via_fmg = via_fmg
        self.options = options or {}

    def args(self, labview, extra):
        if self.via_fmg:
            args = labview.connection("fmg1", "kk-passiveplus", use_fortimanager=True)
            args["targets"] = ["fgt1"]
        else:
            args = labview.connection("fgt1", "kk-passiveplus")
        args.update(name=RESOURCE, entries=[IP], state="absent")
        args.update(self.options)
        args.update(extra)
        return args


WAYS = {
    "direct": Way("direct", "fgt1", False),
    "direct, revoke_failure=warn_if_polled on a push resource": Way(
        "direct, warn_if_polled", "fgt1", False, {"revoke_failure": "warn_if_polled"}),
    "FortiManager": Way("FortiManager", "fmg1", True),
    "FortiGate behind FortiManager": Way("FortiGate behind FortiManager", "fgt1", True),
}
MATRIX = [(way, kind) for way in ("direct", "direct, revoke_failure=warn_if_polled on a push resource")
          for kind in FGT_KINDS] + [("FortiManager", kind) for kind in FMG_KINDS] + \
    [("FortiGate behind FortiManager", kind) for kind in BEHIND_KINDS]


def set_up(fgt):
    """kk_allow (update method push) on fgt1, a policy that uses it, and two granted addresses."""
    ok(fgt.post(CMDB + "system/external-resource", params={"vdom": "root"},
                json={"name": RESOURCE, "type": "address", "update-method": "push"}))
    ok(fgt.post(CMDB + "firewall/policy", params={"vdom": "root"},
                json={"policyid": 0, "name": "kk-pp", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
                      "srcaddr": [{"name": RESOURCE}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
                      "action": "accept", "schedule": "always"}))
    ok(fgt.post("/api/v2/monitor/system/external-resource/dynamic", params={"vdom": "root"},
                json={"commands": [{"name": RESOURCE, "command": "add", "entries": [IP, OTHER]}]}))
    assert fgt.admitted(IP) != 0 and fgt.admitted(OTHER) != 0


def device_state(fgt):
    """(IP listed, IP admitted by the policy lookup, the other grant still admitted)."""
    return IP in fgt.entries(RESOURCE), fgt.admitted(IP) != 0, fgt.admitted(OTHER) != 0


def run_case(lab, labview, fgt, run_module, way, fault=None, extra=None):
    """Reset, set up, revoke (``fault`` on ``way.faulty``), clear faults; returns (result, requests, state)."""
    lab.reset()
    set_up(fgt)
    before = labview.counters()[way.faulty]["requests"]
    if fault is not None:
        labview.fault(way.faulty, **fault)
    result = run_module(MODULE, way.args(labview, extra or {}))
    labview.control("DELETE", "/devices/%s/faults" % way.faulty)
    requests = labview.counters()[way.faulty]["requests"] - before
    return result, requests, device_state(fgt)


def verdict(result, state):
    """None when the case ended safely; else what went wrong."""
    listed, admitted, other = state
    if "Traceback" in str(result):
        return "traceback: %s" % result
    if result.get("failed"):
        if OPEN not in result.get("msg", ""):
            return "failed without saying that access may still be open: %s" % result.get("msg")
        if result.get("revoked") is True:
            return "failed but says revoked: %s" % result
        return None
    if listed or admitted:
        return "reported success (changed=%s, revoked=%s) while the device still lists/admits %s (listed=%s," \
               " policy lookup=%s)" % (result.get("changed"), result.get("revoked"), IP, listed, admitted)
    if result.get("revoked") is not True:
        return "succeeded without revoked=true: %s" % result
    if not other:
        return "revoked another user's address %s" % OTHER
    return None


@pytest.fixture(scope="module")
def baseline():
    return {}


_VIEWS = {}


@pytest.fixture
def fgt(lab, labview_class):
    # One TLS session for all cases (it outlives the resets).
    if id(lab) not in _VIEWS:
        _VIEWS[id(lab)] = labview_class(lab).device("fgt1")
    return _VIEWS[id(lab)]


def positions_of(lab, labview, fgt, run_module, way_name, baseline):
    if way_name not in baseline:
        _result, requests, _state = run_case(lab, labview, fgt, run_module, WAYS[way_name])
        baseline[way_name] = requests
    return baseline[way_name]


@pytest.mark.parametrize("way_name", sorted(WAYS))
def test_fault_free_revoke_is_proved(lab, labview_class, fgt, run_module, way_name, baseline):
    labview = labview_class(lab)
    result, requests, state = run_case(lab, labview, fgt, run_module, WAYS[way_name])
    assert not result.get("failed"), result
    assert result["changed"] is True and result["removed"] == [IP] and result["revoked"] is True
    assert result["results"][0]["revoked"] is True and result["results"][0]["verified"] is True
    assert state == (False, False, True)
    # direct: read, push, read back (fgt1); FortiManager: target look-up + the same three (fmg1)
    assert requests == {"fgt1": 3, "fmg1": 4}[WAYS[way_name].faulty]
    baseline[way_name] = requests


@pytest.mark.parametrize("way_name, kind", MATRIX, ids=["%s x %s" % case for case in MATRIX])
def test_fault_at_every_position(lab, labview_class, fgt, run_module, way_name, kind, baseline):
    """Each request position of the revoke x one fault kind: safe, or failed-and-says-so, on the device."""
    labview = labview_class(lab)
    way = WAYS[way_name]
    kinds = FMG_KINDS if way.faulty == "fmg1" else FGT_KINDS
    fault_fields, extra = kinds[kind]
    positions = 1 if fault_fields["kind"] == "wrong_cert" else positions_of(lab, labview, fgt, run_module, way_name,
                                                                            baseline)
    problems = []
    outcomes = {"failed": 0, "proved": 0}
    for position in range(positions):
        fault = dict(fault_fields, skip=position, count=1)
        result, _requests, state = run_case(lab, labview, fgt, run_module, way, fault, extra)
        problem = verdict(result, state)
        if problem:
            problems.append("request %d: %s" % (position + 1, problem))
        outcomes["failed" if result.get("failed") else "proved"] += 1
    print("%s x %s: %d positions, %d failed, %d proved, %d unsafe"
          % (way_name, kind, positions, outcomes["failed"], outcomes["proved"], len(problems)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("way_name", ["direct", "FortiManager"])
def test_wrong_certificate(lab, labview_class, fgt, run_module, way_name):
    labview = labview_class(lab)
    way = WAYS[way_name]
    result, _requests, state = run_case(lab, labview, fgt, run_module, way, {"kind": "wrong_cert"})
    assert verdict(result, state) is None, (result, state)
    assert result.get("failed") and result["error_code"] == 202003


def test_a_polled_feed_may_tolerate_a_failed_revoke_only_when_asked(lab, labview_class, fgt, run_module):
    """revoke_failure=warn_if_polled on a feed resource: ok, but revoked=false with the poll interval; by default
    the same failure fails."""
    labview = labview_class(lab)
    way = WAYS["direct"]
    for options, tolerated in (({}, False), ({"revoke_failure": "warn_if_polled"}, True)):
        lab.reset()
        set_up(fgt)
        ok(fgt.request("PUT", CMDB + "system/external-resource/" + RESOURCE, params={"vdom": "root"},
                       json={"update-method": "feed", "resource": "https://127.0.0.1:9/allowlist", "refresh-rate": 7}))
        labview.fault("fgt1", kind="status", status=500, match="external-resource/dynamic", count=1)
        result = run_module(MODULE, way.args(labview, options))
        labview.control("DELETE", "/devices/fgt1/faults")
        assert result["revoked"] is False and result["results"][0]["revoked"] is False
        if tolerated:
            assert not result.get("failed"), result
            assert result["results"][0]["poll_interval"] == 7
            assert any("every 7 minute" in str(w) and OPEN in str(w) for w in result.get("warnings", []))
        else:
            assert result.get("failed") and OPEN in result["msg"]


ROLE_REVOKE = """
- name: Revoke through the access role
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Passive+ on fgt1
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: absent
        access_mode: passive_plus
        access_ip: 198.51.100.7
        access_resource_name: kk_allow
        access_fortigate: "{{ fgt }}"
"""


def test_access_role_says_revoked_only_when_the_device_showed_it(lab, labview_class, fgt, run_playbook):
    labview = labview_class(lab)
    extra = {"fgt": labview.connection("fgt1", "kk-passiveplus")}

    # The read-back fails: the module cannot show the revoke, the role fails and never says "revoked".
    lab.reset()
    set_up(fgt)
    labview.fault("fgt1", kind="status", status=500, match="entry-list", skip=1, count=1)
    rc, out, _results = run_playbook(ROLE_REVOKE, extra_vars=extra)
    labview.control("DELETE", "/devices/fgt1/faults")
    assert rc != 0, out
    assert OPEN in out and "revoked in kk_allow" not in out
    assert extra["fgt"]["token"] not in out

    # Without a fault: revoked, and the device agrees.
    lab.reset()
    set_up(fgt)
    rc, out, _results = run_playbook(ROLE_REVOKE, extra_vars=extra)
    assert rc == 0, out
    assert "198.51.100.7 revoked in kk_allow" in out
    assert device_state(fgt) == (False, False, True)
