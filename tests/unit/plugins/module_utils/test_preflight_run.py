# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight run: option validation, and which checklist items each mode and target evaluates,
in checklist order (fake FortiGate / FortiManager / Knocknoc, no lab)."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.run import Session, invalid_options, run_preflight

from preflight_fakes import FakeFMG, FakeFortiGate, policy, refused

IP = "198.51.100.77"
FEED = {"name": "kk_allow", "type": "address", "update-method": "push"}


def params(**extra):
    p = {"mode": "passive_plus", "use_fortimanager": False, "resource_name": "kk_allow", "allowlist_url": None,
         "address_group": None, "address_prefix": "kk_", "device_targets": [], "target_vdom": "root", "api_user": None,
         "agent_address": None, "agent_token": None, "usernames": [], "test_ip": None, "test_interface": None,
         "test_destination": None, "test_port": 443, "test_protocol": "tcp", "knoc": None, "knocknoc_url": None,
         "vdom": "root", "adom": "root"}
    p.update(extra)
    return p


@pytest.mark.parametrize("extra, words", [
    ({"resource_name": None}, "resource_name is required for mode=passive_plus"),
    ({"mode": "active"}, "address_group is required for mode=active without use_fortimanager"),
    ({"test_ip": "nope"}, "test_ip must be an IP address, got 'nope'"),
    ({"agent_address": "192.0.2.300"}, "agent_address must be an IP address"),
    ({"device_targets": [""]}, "device_targets items must be device names, serial numbers, device group names or"
                               " adom/<adom>/device|group/<name> paths, got ''"),
    ({"device_targets": ["fgt1", " ", "adom/root/fgt2"]}, "paths, got ' ', 'adom/root/fgt2'"),
    ({"knoc": "edge"}, "knocknoc.url (or knocknoc_url, or KNOCKNOC_URL) is required with knoc"),
])
def test_invalid_options_are_named(extra, words):
    assert words in invalid_options(params(**extra))


def test_valid_options_pass():
    assert invalid_options(params(mode="active", use_fortimanager=True, resource_name=None)) is None
    targets = ["fgt1", "adom/root/group/g", "branch", "adom/root/device/FGVM01TM24000001"]
    assert invalid_options(params(test_ip="2001:db8::1", device_targets=targets)) is None


def fortigate(**extra):
    tables = {"system/external-resource": [FEED], "firewall/policy": [policy(1)],
              "firewall/addrgrp": [{"name": "kk_users", "member": []}]}
    tables.update(extra)
    return FakeFortiGate(tables=tables, lists={"kk_allow": {"entries": []}},
                         lookup=lambda params, fgt: {"success": True, "policy_id": 1 if fgt.entries("kk_allow") else 0})


class FakeSession(Session):
    """Direct: the clients are FakeFortiGates. Through FortiManager: the FakeFMG's ``devices`` maps a
    device name to its FakeFortiGate (the agent's view is the same fake)."""

    def fortigate(self, client, vdom, device=None):
        return client if device is None else client.devices[device.device]


def run(p, reader, agent=None, check_mode=False):
    return run_preflight(p, check_mode, FakeSession(reader, agent or reader, knocknoc=None)).result()


def test_fortigate_passive_plus_order_and_the_test_grant():
    fgt = fortigate()
    result = run(params(test_ip=IP, test_destination="10.0.0.10"), fgt)
    assert [c["id"] for c in result["checks"]] == [
        "reach", "feed_name", "feed_type", "feed_credentials", "policy", "policy_enabled", "agent_access", "test_grant"]
    assert result["checks"][0]["detail"] == "FortiOS 7.4.4, serial FGVM01TM24000001"
    assert "fgt1: %s admitted by policy 1" % IP in result["checks"][-1]["detail"]
    assert [s["item"] for s in result["skipped_checks"]][:1] == ["The Knoc has the correct settings"]
    assert result["passed"] is True


def test_check_mode_makes_no_test_grant():
    fgt = fortigate()
    result = run(params(test_ip=IP), fgt, check_mode=True)
    assert "test_grant" not in [c["id"] for c in result["checks"]]
    assert {"item": "Test grant is admitted by policy-lookup", "reason": "check mode: no test grant is made"} in result["skipped_checks"]
    assert not [c for c in fgt.calls if c[0] == "dynamic_push"]


def test_passive_reads_no_api_user_and_makes_no_test_grant():
    result = run(params(mode="passive", test_ip=IP), fortigate())
    ids = [c["id"] for c in result["checks"]]
    assert "agent_access" not in ids and "test_grant" not in ids
    reasons = [s["reason"] for s in result["skipped_checks"]]
    assert "Passive mode needs no device API access" in reasons
    assert "Passive mode: nothing to push (the FortiGates poll the allowlist)" in reasons


def test_fortigate_active_order():
    fgt = fortigate(**{"firewall/policy": [policy(1, source="kk_users")]})
    result = run(params(mode="active", resource_name=None, address_group="kk_users", api_user="kk-active"), fgt)
    assert [c["id"] for c in result["checks"]] == ["reach", "address_group", "policy", "policy_enabled",
                                                   "api_user_restricted", "agent_access"]


def test_no_policy_means_no_test_grant():
    result = run(params(test_ip=IP), fortigate(**{"firewall/policy": []}))
    assert {"item": "Test grant is admitted by policy-lookup", "reason": "no policy uses the feed"} in result["skipped_checks"]


def test_an_unreachable_fortigate_gives_one_failed_item():
    fgt = FakeFortiGate(fail={"system_status": refused(202001)})
    result = run(params(), fgt)
    assert [c["id"] for c in result["checks"]] == ["reach"]
    assert result["checks"][0]["passed"] is False and "token" in result["checks"][0]["fix"].lower()
    assert fgt.calls == [("system_status",)]


def test_the_label_falls_back_to_the_serial_then_the_url():
    fgt = fortigate()
    fgt.status = {"version": "7.4.4", "serial": "FGVM01TM24000001"}
    result = run(params(), fgt)
    assert result["checks"][1]["detail"] == "kk_allow exists on FGVM01TM24000001"


FMG_STATUS = {"Version": "v7.4.5", "Serial Number": "FMG-VM0000000001"}


def test_fortimanager_active_checks_admins_and_makes_no_grant():
    fmg = FakeFMG({"/sys/status": FMG_STATUS, "/cli/global/system/admin/user": []})
    result = run(params(mode="active", use_fortimanager=True, resource_name=None, api_user="kk", usernames=["alice"]), fmg)
    assert [c["id"] for c in result["checks"]] == ["reach", "api_user_restricted", "usernames"]
    assert result["checks"][0]["detail"] == "v7.4.5, serial FMG-VM0000000001"
    assert {"item": "Test grant", "reason": "FortiManager trusted-hosts mode: use the access role with a test user"} \
        in result["skipped_checks"]


def test_fortimanager_passive_plus_stops_when_no_target_resolves():
    fmg = FakeFMG({"/sys/status": FMG_STATUS, "/pm/config/adom/root/obj/system/external-resource": [{"name": "kk_allow"}],
                   "/dvmdb/adom/root/device": []})
    result = run(params(use_fortimanager=True), fmg)
    assert [c["id"] for c in result["checks"]] == ["reach", "adom_object", "device_targets"]
    assert result["failed_checks"] == ["device_targets"]


def test_an_unreachable_fortimanager_gives_one_failed_item():
    fmg = FakeFMG({"/sys/status": refused(202001)})
    result = run(params(use_fortimanager=True), fmg)
    assert [c["id"] for c in result["checks"]] == ["reach"] and result["passed"] is False


def test_fortimanager_passive_plus_checks_every_device_target():
    fgt1, fgt2 = fortigate(), fortigate(**{"system/external-resource": [dict(FEED, name="Kk_Allow")]})
    fmg = FakeFMG({"/sys/status": FMG_STATUS, "/pm/config/adom/root/obj/system/external-resource": [{"name": "kk_allow"}],
                   "/dvmdb/adom/root/device": [{"name": "fgt1", "sn": "S1"}, {"name": "fgt2", "sn": "S2"}],
                   "/dvmdb/adom/root/group": []})
    fmg.devices = {"fgt1": fgt1, "fgt2": fgt2}
    result = run(params(use_fortimanager=True, test_ip=IP, test_destination="10.0.0.10"), fmg)
    checks = dict((c["id"], c) for c in result["checks"])
    assert [c["id"] for c in result["checks"]][:4] == ["reach", "adom_object", "device_targets", "feed_name"]
    assert checks["device_targets"]["detail"] == "fgt1, fgt2 in ADOM root"
    assert checks["feed_name"]["detail"] == (
        "fgt2: no external resource named kk_allow (found Kk_Allow: names are case-sensitive)")
    # The test grant goes to every device with a policy, each on its own.
    assert "fgt1: %s admitted by policy 1" % IP in checks["test_grant"]["detail"]
    assert "fgt2: %s admitted by policy 1" % IP in checks["test_grant"]["detail"]
    assert fgt1.entries("kk_allow") == [] and fgt2.entries("kk_allow") == []
    assert fmg.calls[:3] == [("get", "/sys/status"), ("get", "/pm/config/adom/root/obj/system/external-resource"),
                             ("rpc", ("/dvmdb/adom/root/device", "/dvmdb/adom/root/group"))]
