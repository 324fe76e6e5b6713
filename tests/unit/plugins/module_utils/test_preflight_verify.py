# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "testing verified": the test grant, its policy-lookup, and its revoke."""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.target import Target
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.verify import (
    DEFAULT_DESTINATION,
    lookup_params,
    trial_grant_active,
    trial_grant_passive_plus,
)

from preflight_fakes import FakeFortiGate, policy, refused

IP = "198.51.100.77"
TEST = {"ip": IP, "interface": None, "destination": None, "port": 443, "protocol": "tcp"}
SRV = {"name": "srv", "type": "ipmask", "subnet": "10.0.0.10 255.255.255.255"}


def listed_lookup(policy_id=1):
    """Admits the source when it is in kk_allow's list (Passive+), like FortiOS would with the policy."""
    def lookup(params, fgt):
        admitted = params["sourceip"] in fgt.entries("kk_allow")
        return {"success": True, "policy_id": policy_id if admitted else 0}
    return lookup


def grouped_lookup(params, fgt):
    """Admits the source when an address object for it is in kk_users (Active)."""
    groups = [g for g in fgt.tables.get("firewall/addrgrp", []) if g["name"] == "kk_users"]
    members = [m["name"] for m in groups[0].get("member", [])] if groups else []
    return {"success": True, "policy_id": 1 if "kk_preflight-%s" % params["sourceip"] in members else 0}


def passive_plus(fgt, policies, test=None, label="fgt1"):
    report = Report()
    trial_grant_passive_plus(report, [Target(fgt, fgt, label)], "kk_allow", test or TEST, policies)
    return report.checks[0]


def test_the_test_ip_is_pushed_admitted_and_removed():
    pol = policy(1)
    fgt = FakeFortiGate(tables={"firewall/address": [SRV], "firewall/policy": [pol]},
                        lists={"kk_allow": {"entries": []}}, lookup=listed_lookup())
    check = passive_plus(fgt, {"fgt1": [pol]})
    assert check["passed"] is True
    assert check["detail"] == "fgt1: %s admitted by policy 1 (port2 -> 10.0.0.10:443)" % IP
    assert fgt.entries("kk_allow") == []
    assert [c for c in fgt.calls if c[0] == "dynamic_push"] == [("dynamic_push", "add", (IP,)),
                                                                ("dynamic_push", "remove", (IP,))]


def test_an_ip_already_granted_is_left_in_place():
    pol = policy(1)
    fgt = FakeFortiGate(tables={"firewall/policy": [pol]}, lists={"kk_allow": {"entries": [{"entry": IP}]}},
                        lookup=listed_lookup())
    check = passive_plus(fgt, {"fgt1": [pol]}, test=dict(TEST, destination="10.0.0.10"))
    assert check["passed"] is True and fgt.entries("kk_allow") == [IP]
    assert ("dynamic_push", "remove", (IP,)) not in fgt.calls


def test_the_implicit_deny_fails_and_the_entry_is_still_removed():
    pol = policy(1, status="disable")
    fgt = FakeFortiGate(tables={"firewall/policy": [pol]}, lists={"kk_allow": {"entries": []}},
                        lookup=lambda params, fgt: {"success": True, "policy_id": 0})
    check = passive_plus(fgt, {"fgt1": [pol]})
    assert check["passed"] is False
    assert check["detail"] == "fgt1: %s is not admitted (implicit deny) from port2 to %s:443" % (IP, DEFAULT_DESTINATION)
    assert fgt.entries("kk_allow") == []


def test_a_policy_that_matches_without_the_feed_fails():
    pol, other = policy(1), policy(7, source="all")
    fgt = FakeFortiGate(tables={"firewall/policy": [other, pol]}, lists={"kk_allow": {"entries": []}},
                        lookup=lambda params, fgt: {"success": True, "policy_id": 7})
    check = passive_plus(fgt, {"fgt1": [pol]})
    assert check["detail"] == "fgt1: %s matched policy 7, which does not accept it through kk_allow" % IP
    # The policies were read again after the grant.
    assert [c for c in fgt.calls if c == ("get_table", "firewall/policy")] == [("get_table", "firewall/policy")]


def test_a_failed_lookup_still_revokes_and_fails_the_item():
    pol = policy(1)
    fgt = FakeFortiGate(tables={"firewall/policy": [pol]}, lists={"kk_allow": {"entries": []}},
                        fail={"policy_lookup": refused(202002)})
    check = passive_plus(fgt, {"fgt1": [pol]}, test=dict(TEST, destination="10.0.0.10"))
    assert check["passed"] is False and "202002" in check["detail"]
    assert fgt.entries("kk_allow") == [] and ("dynamic_push", "remove", (IP,)) in fgt.calls


def test_targets_without_a_policy_get_no_test_grant():
    pol = policy(1)
    fgt = FakeFortiGate(tables={"firewall/policy": [pol]}, lists={"kk_allow": {"entries": []}}, lookup=listed_lookup())
    check = passive_plus(fgt, {"fgt2": [pol]})
    assert fgt.calls == [] and check["passed"] is True


def test_lookup_parameters_come_from_the_options_then_the_policy():
    fgt = Target(FakeFortiGate(tables={"firewall/address": [{"name": "net", "subnet": "10.1.0.0 255.255.255.0"}]}),
                 None, "fgt1")
    assert lookup_params(fgt, TEST, [policy(1, dstaddr="net")]) == {
        "srcintf": "port2", "sourceip": IP, "dest": "10.1.0.1", "protocol": "tcp", "destport": 443}
    assert lookup_params(fgt, TEST, [policy(1, dstaddr="all", srcintf="any")])["srcintf"] == "port1"
    assert lookup_params(fgt, TEST, [policy(1, dstaddr="all")])["dest"] == DEFAULT_DESTINATION
    icmp = dict(TEST, protocol="icmp", interface="port9", destination="10.9.9.9")
    assert lookup_params(fgt, icmp, []) == {"srcintf": "port9", "sourceip": IP, "dest": "10.9.9.9", "protocol": "icmp",
                                            "destport": None}


def active(fgt, policies, test=None):
    report = Report()
    trial_grant_active(report, Target(fgt, fgt, "fgt1"), "kk_users", "kk_", test or TEST, policies)
    return report.checks[0]


def test_active_creates_an_object_joins_the_group_and_cleans_up():
    pol = policy(1, source="kk_users")
    fgt = FakeFortiGate(tables={"firewall/addrgrp": [{"name": "kk_users", "member": []}], "firewall/policy": [pol],
                                "firewall/address": [SRV]}, lookup=grouped_lookup)
    check = active(fgt, {"fgt1": [pol]})
    assert check["passed"] is True
    assert check["detail"] == "%s admitted by policy 1 (port2 -> 10.0.0.10:443), then removed" % IP
    assert fgt.tables["firewall/addrgrp"][0]["member"] == []
    assert [a["name"] for a in fgt.tables["firewall/address"]] == ["srv"]
    assert [c[0] for c in fgt.calls if c[0] in ("create", "add_member", "remove_member", "delete")] == [
        "create", "add_member", "remove_member", "delete"]


def test_active_leaves_an_existing_object_and_membership_alone():
    pol = policy(1, source="kk_users")
    obj = {"name": "kk_preflight-%s" % IP, "type": "ipmask", "subnet": IP + "/32"}
    fgt = FakeFortiGate(tables={"firewall/addrgrp": [{"name": "kk_users", "member": [{"name": obj["name"]}]}],
                                "firewall/address": [obj], "firewall/policy": [pol]}, lookup=grouped_lookup)
    check = active(fgt, {"fgt1": [pol]}, test=dict(TEST, destination="10.0.0.10"))
    assert check["passed"] is True
    assert not [c for c in fgt.calls if c[0] in ("create", "add_member", "remove_member", "delete")]


def test_active_ipv6_uses_the_ipv6_tables_and_cleans_up_after_a_failure():
    ip6 = "2001:db8::77"
    fgt = FakeFortiGate(tables={"firewall/addrgrp6": [{"name": "kk_users", "member": []}]},
                        fail={"policy_lookup": refused(202002)})
    check = active(fgt, {"fgt1": [policy(1, source="kk_users", v6=True)]}, test=dict(TEST, ip=ip6, destination="2001:db8::10"))
    assert check["passed"] is False and "202002" in check["detail"]
    assert ("create", "firewall/address6", "kk_preflight-2001:db8::77") in fgt.calls
    assert fgt.tables["firewall/address6"] == [] and fgt.tables["firewall/addrgrp6"][0]["member"] == []
