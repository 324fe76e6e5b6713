"""fortigate_policy_lookup_info against the lab: the answer follows the device's real policy table."""


def _setup(view):
    """An address group used as source by an accepting policy, and a deny policy for one host."""
    for table, body in (
        ("firewall/address", {"name": "lookup_host", "subnet": "198.51.100.7/32"}),
        ("firewall/address", {"name": "lookup_blocked", "subnet": "198.51.100.9/32"}),
        ("firewall/addrgrp", {"name": "lookup_users", "member": [{"name": "lookup_host"}]}),
        ("firewall/policy", {"policyid": 0, "name": "deny_blocked", "srcintf": [{"name": "port1"}],
                             "dstintf": [{"name": "port2"}], "srcaddr": [{"name": "lookup_blocked"}],
                             "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}], "action": "deny",
                             "schedule": "always", "status": "enable"}),
        ("firewall/policy", {"policyid": 0, "name": "allow_users", "srcintf": [{"name": "port1"}],
                             "dstintf": [{"name": "port2"}], "srcaddr": [{"name": "lookup_users"}],
                             "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}], "action": "accept",
                             "schedule": "always", "status": "enable"}),
    ):
        reply = view.post("/api/v2/cmdb/" + table, params={"vdom": "root"}, json=body)
        assert reply.status_code == 200, reply.text


def _args(labview, source, **extra):
    return dict(labview.connection("fgt1", "kk-active", source=source, source_interface="port1", destination="10.0.0.10"),
                **extra)


def test_admitted_refused_and_denied(labview, run_module):
    _setup(labview.device("fgt1"))
    admitted = run_module("fortigate_policy_lookup_info", _args(labview, "198.51.100.7"))
    assert admitted["admitted"] is True and admitted["policy_id"] > 0 and admitted["changed"] is False
    refused = run_module("fortigate_policy_lookup_info", _args(labview, "198.51.100.8"))
    assert refused["admitted"] is False and refused["policy_id"] == 0
    denied = run_module("fortigate_policy_lookup_info", _args(labview, "198.51.100.9"))
    assert denied["admitted"] is False and denied["policy_id"] > 0
    assert labview.writes("fgt1") == 5  # the set-up only: a lookup never writes


def test_expect_turns_the_answer_into_a_check(labview, run_module):
    _setup(labview.device("fgt1"))
    result = run_module("fortigate_policy_lookup_info", _args(labview, "198.51.100.8", expect="admitted"))
    assert result["failed"] and "198.51.100.8" in result["msg"] and "refused" in result["msg"]
    assert not run_module("fortigate_policy_lookup_info", _args(labview, "198.51.100.8", expect="refused")).get("failed")


def test_permission_and_input_errors(labview, run_module):
    result = run_module("fortigate_policy_lookup_info",
                        _args(labview, "198.51.100.7", token=labview.info("fgt1")["tokens"]["kk-noperm"]))
    assert result["failed"] and result["error_code"] == 202002
    assert labview.info("fgt1")["tokens"]["kk-noperm"] not in str(result)
    before = labview.counters()["fgt1"]["requests"]
    result = run_module("fortigate_policy_lookup_info", _args(labview, "198.51.100.0/24"))
    assert result["failed"] and "source" in result["msg"]
    assert labview.counters()["fgt1"]["requests"] == before
