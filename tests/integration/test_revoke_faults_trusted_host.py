"""Fault matrix of fortimanager_trusted_host revokes: every request position x every fault kind the lab injects.

For each revoke scenario the test first counts the FortiManager requests of a fault-free run, then, for every
position ``p`` and every fault kind, resets the lab, sets the administrator up again, injects the fault on the
``p``-th request of the revoke (``skip=p``, no match: the revoke is the only client of fmg1 meanwhile), runs the
module in-process, clears the faults and reads the DEVICE: the lab's login check (LabView ``login_allowed``) and
slot 10 as FortiManager holds it. Every case must end in one of two ways:

- slot 10 no longer admits the address (and, where slots 1-9 do not admit it either, the administrator can no
  longer log in from it), whatever the module said; or
- the task failed, and its message says that access may still be open.

Slots 1-9 are reported separately: where they admit the address (a scenario sets one up), a successful revoke must
name them in ``still_admitted``. A case that reported success while slot 10 still admits the address is a
fail-open; the test collects every one before failing, so the whole matrix shows at once, and prints the counts.
"""

import ipaddress
import time

import pytest

MODULE = "fortimanager_trusted_host"
FMG = "fmg1"
ADMIN = "alice"
IP = "198.51.100.7"
IP6 = "2001:db8::7"
OPEN = "access may still be open"
USER_URL = "/cli/global/system/admin/user/%s" % ADMIN
UNUSED_V4 = ["255.255.255.255", "255.255.255.255"]
UNUSED_V6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"

# name -> (faults injected at the position, extra module options). Retries are the module's default (3) unless
# the kind says otherwise. "jsonrpc -11" is retried once by the client (FortiManager 7.4.x refuses parallel key
# requests at random): a second -11 on the /sys/status probe that follows makes it 202001.
KINDS = {
    "500": ([{"kind": "status", "status": 500}], {}),
    "401": ([{"kind": "status", "status": 401}], {}),
    "403": ([{"kind": "status", "status": 403}], {}),
    "503 retried": ([{"kind": "status", "status": 503}], {}),
    "503, no retry": ([{"kind": "status", "status": 503}], {"retries": 0}),
    "drop": ([{"kind": "drop"}], {}),
    "drop, no retry": ([{"kind": "drop"}], {"retries": 0}),
    "malformed": ([{"kind": "malformed"}], {}),
    # the lab answers (and applies a write) after the delay; the module gave up at its 1 s timeout
    "timeout": ([{"kind": "delay", "seconds": 1.3}], {"timeout": 1}),
    "jsonrpc -11": ([{"kind": "jsonrpc", "code": -11}], {}),
    "jsonrpc -11 twice": ([{"kind": "jsonrpc", "code": -11, "count": 2}], {}),
    "jsonrpc -10": ([{"kind": "jsonrpc", "code": -10, "message": "Invalid session"}], {}),
    "jsonrpc -1": ([{"kind": "jsonrpc", "code": -1}], {}),
    # FortiManager says OK and does nothing (no data on a get, no change on an update)
    "jsonrpc 0": ([{"kind": "jsonrpc", "code": 0}], {}),
}


class Scenario:
    """An administrator's trusted hosts before the revoke, and the revoke under test."""

    def __init__(self, name, slots, args, address, still=()):
        self.name = name
        self.slots = slots  # written with the lab's admin key before the revoke
        self.args = args  # the revoke's module options (besides the connection)
        self.address = address  # the address whose access the revoke must close
        self.family = ipaddress.ip_address(address).version
        self.slot = "trusthost10" if self.family == 4 else "ipv6_trusthost10"
        self.still = list(still)  # slots 1-9 that admit the address (not the module's to change)

    def set_up(self, fmg):
        reply = fmg.rpc("update", USER_URL, data=self.slots)
        assert reply["status"]["code"] == 0, reply

    def device_state(self, labview, fmg):
        """(slot 10 admits the address, the login check admits it, the slot the login check matched)."""
        reply = fmg.rpc("get", USER_URL)
        assert reply["status"]["code"] == 0, reply
        value = reply["data"][self.slot]
        network = ipaddress.ip_network("%s/%s" % tuple(value) if self.family == 4 else value, strict=False)
        admitted = ipaddress.ip_address(self.address) in network and value not in (UNUSED_V4, UNUSED_V6)
        check = labview.control("POST", "/devices/%s/login-check" % FMG, {"user": ADMIN, "ip": self.address})
        return admitted, check["allowed"], check["matched"]


LOOPBACK9 = dict(("trusthost%d" % i, ["127.0.0.1", "255.255.255.255"]) for i in range(1, 10))
LOOPBACK9_6 = dict(("ipv6_trusthost%d" % i, "::1/128") for i in range(1, 10))

SCENARIOS = {
    "host": Scenario("host", dict(LOOPBACK9, trusthost10=[IP, "255.255.255.255"]),
                     {"address": IP, "state": "absent"}, IP),
    "covering network": Scenario("covering network", dict(LOOPBACK9, trusthost10=["198.51.100.0", "255.255.255.0"]),
                                 {"address": IP, "state": "absent"}, IP),
    "IPv6 host": Scenario("IPv6 host", dict(LOOPBACK9_6, ipv6_trusthost10=IP6 + "/128"),
                          {"address": IP6, "state": "absent"}, IP6),
    "both slots 10": Scenario("both slots 10", dict(LOOPBACK9, trusthost10=[IP, "255.255.255.255"]),
                              {"state": "absent"}, IP),
    "slot 3 admits too": Scenario("slot 3 admits too",
                                  dict(LOOPBACK9, trusthost3=["198.51.0.0", "255.255.0.0"],
                                       trusthost10=[IP, "255.255.255.255"]),
                                  {"address": IP, "state": "absent"}, IP, still=["trusthost3"]),
}


def module_args(labview, scenario, extra):
    args = labview.connection(FMG, "lab-api", timeout=5)
    args.update(scenario.args, admin=ADMIN)
    args.update(extra)
    return args


def run_case(lab, labview, fmg, run_module, scenario, faults=(), extra=None):
    """Reset, set up, revoke (with ``faults`` injected), clear faults; returns (result, requests, state)."""
    lab.reset()
    scenario.set_up(fmg)
    before = labview.counters()[FMG]["requests"]
    for fault in faults:
        labview.fault(FMG, **fault)
    result = run_module(MODULE, module_args(labview, scenario, extra or {}))
    delay = max([f.get("seconds", 0) for f in faults] or [0])
    if delay:
        time.sleep(delay)  # the abandoned request is answered after its delay: let it land before the next case
    labview.control("DELETE", "/devices/%s/faults" % FMG)
    requests = labview.counters()[FMG]["requests"] - before
    return result, requests, scenario.device_state(labview, fmg)


def verdict(scenario, result, state):
    """None when the case ended safely; else what went wrong."""
    slot10, allowed, matched = state
    if "Traceback" in str(result):
        return "traceback: %s" % result
    if result.get("failed"):
        if OPEN not in result.get("msg", ""):
            return "failed without saying that access may still be open: %s" % result.get("msg")
        return None
    if slot10:
        return "reported success (changed=%s) while %s still admits %s" % (
            result.get("changed"), scenario.slot, scenario.address)
    if result.get("revoked") is not True:
        return "succeeded without revoked=true: %s" % result
    if not scenario.still and allowed:
        return "reported success while the login check still admits %s (through %s)" % (scenario.address, matched)
    if "address" in scenario.args and result.get("still_admitted") != scenario.still:
        return "still_admitted is %s, the device admits through %s" % (result.get("still_admitted"), scenario.still)
    return None


@pytest.fixture(scope="module")
def baseline():
    return {}


@pytest.mark.parametrize("scenario_name", sorted(SCENARIOS))
def test_fault_free_revoke_is_proved(lab, labview_class, run_module, scenario_name, baseline):
    scenario = SCENARIOS[scenario_name]
    labview = labview_class(lab)
    fmg = labview.device(FMG)
    result, requests, state = run_case(lab, labview, fmg, run_module, scenario)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["revoked"] is True
    assert verdict(scenario, result, state) is None, (result, state)
    slot10, allowed, matched = state
    assert slot10 is False
    if scenario.still:
        assert allowed is True and matched == scenario.still[0]
    else:
        assert allowed is False
    assert requests == 3  # read, update, read-back
    baseline[scenario_name] = requests


COUNTS = {}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("scenario_name", sorted(SCENARIOS))
def test_fault_at_every_position(lab, labview_class, run_module, scenario_name, kind, baseline):
    """Each request position of the revoke x one fault kind: safe or failed-and-says-so, on the device."""
    scenario = SCENARIOS[scenario_name]
    labview = labview_class(lab)
    fmg = labview.device(FMG)
    positions = baseline.get(scenario_name)
    if positions is None:
        _result, positions, _state = run_case(lab, labview, fmg, run_module, scenario)
        baseline[scenario_name] = positions
    faults, extra = KINDS[kind]
    problems = []
    outcomes = {"failed": 0, "proved": 0, "still admitted elsewhere": 0}
    for position in range(positions):
        injected = [dict(fault, skip=position, count=fault.get("count", 1)) for fault in faults]
        result, _requests, state = run_case(lab, labview, fmg, run_module, scenario, injected, extra)
        problem = verdict(scenario, result, state)
        if problem:
            problems.append("request %d: %s" % (position + 1, problem))
        outcomes["failed" if result.get("failed") else "proved"] += 1
        if state[1] and not state[0]:
            outcomes["still admitted elsewhere"] += 1
    print("%s x %s: %d positions, %d failed, %d proved (%d of all still admitted by slots 1-9), %d unsafe" % (
        scenario_name, kind, positions, outcomes["failed"], outcomes["proved"], outcomes["still admitted elsewhere"],
        len(problems)))
    assert not problems, "\n".join(problems)
