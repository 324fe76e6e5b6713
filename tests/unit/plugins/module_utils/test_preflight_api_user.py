# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "push path / API user": trusted hosts, permissions per mode, least privilege, the
agent's key; on a FortiGate and on FortiManager."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import mode_plan
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.api_user import (
    accprofile_permission,
    check_fmg_api_user,
    check_fortigate_api_user,
    covers,
    probe_agent,
    trusthost_problems,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report

from preflight_fakes import FakeFMG, FakeFortiGate, refused, target

PASSIVE_PLUS_PROFILE = {"name": "kk-passiveplus", "sysgrp": "custom", "sysgrp-permission": {"cfg": "read-write"}}
ACTIVE_PROFILE = {"name": "kk-active", "fwgrp": "read-write"}


def api_user(name="kk-agent", profile="kk-passiveplus", hosts=("192.0.2.50 255.255.255.255",)):
    return {"name": name, "accprofile": profile,
            "trusthost": [{"id": i + 1, "type": "ipv4-trusthost", "ipv4-trusthost": h} for i, h in enumerate(hosts)]}


def fortigate(mode="passive_plus", name="kk-agent", agent_address="192.0.2.50", users=None, profiles=None):
    fgt = target(tables={"system/api-user": [api_user()] if users is None else users,
                         "system/accprofile": [PASSIVE_PLUS_PROFILE, ACTIVE_PROFILE] if profiles is None else profiles})
    report = Report()
    check_fortigate_api_user(report, fgt, mode_plan(mode, False), name, agent_address)
    return report, dict((c["id"], c) for c in report.checks), fgt


def test_a_restricted_least_privilege_passive_plus_user_passes():
    report, checks, fgt = fortigate()
    assert report.ids() == ["api_user_restricted", "api_user_permissions", "api_user_least_privilege"]
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["api_user_restricted"]["detail"] == "kk-agent: trusted hosts 192.0.2.50 255.255.255.255"
    assert checks["api_user_permissions"]["detail"] == "profile kk-passiveplus: System > Configuration is read-write"
    assert fgt.reader.calls == [("get_table", "system/api-user"), ("get_table", "system/accprofile")]


def test_no_api_user_skips_both_items():
    report, checks, fgt = fortigate(name=None)
    assert checks == {} and [s["reason"] for s in report.skipped] == ["no api_user given"] * 2
    assert fgt.reader.calls == []


def test_a_user_named_in_another_case_is_not_found():
    report, checks, _fgt = fortigate(name="KK-agent")
    assert report.ids() == ["api_user_restricted"]
    assert checks["api_user_restricted"]["detail"] == (
        "no REST API administrator named KK-agent (found kk-agent: names are case-sensitive)")
    assert "Create the REST API administrator" in checks["api_user_restricted"]["fix"]


@pytest.mark.parametrize("hosts, agent, problem", [
    (("0.0.0.0 0.0.0.0",), None, "trusted host 0.0.0.0/0 allows every address"),
    ((), None, "no trusted hosts (any source may use the key)"),
    (("198.51.100.0 255.255.255.0",), "192.0.2.50", "trusted hosts do not contain the agent address 192.0.2.50"),
])
def test_trusted_hosts_must_restrict_the_key_to_the_agent(hosts, agent, problem):
    _report, checks, _fgt = fortigate(users=[api_user(hosts=hosts)], agent_address=agent)
    assert checks["api_user_restricted"]["passed"] is False
    assert problem in checks["api_user_restricted"]["detail"]


def test_ipv6_trusted_hosts_are_understood():
    problems, networks = trusthost_problems([{"type": "ipv6-trusthost", "ipv6-trusthost": "2001:db8::/64"}])
    assert problems == [] and covers(networks, "2001:db8::5") and not covers(networks, "192.0.2.1")
    assert not covers(networks, "not-an-ip")


def test_the_active_profile_is_not_enough_for_passive_plus():
    _report, checks, _fgt = fortigate(users=[api_user(profile="kk-active")])
    assert checks["api_user_permissions"]["passed"] is False
    assert checks["api_user_permissions"]["detail"] == "profile kk-active: System > Configuration is none"
    assert "System > Configuration (Custom) Read/Write" in checks["api_user_permissions"]["fix"]


def test_active_needs_firewall_read_write_and_warns_about_more():
    broad = dict(ACTIVE_PROFILE, name="broad", sysgrp="read", loggrp="read-write")
    report, checks, _fgt = fortigate(mode="active", users=[api_user(profile="broad")], profiles=[broad])
    assert checks["api_user_permissions"]["passed"] is True
    assert checks["api_user_least_privilege"] == dict(
        checks["api_user_least_privilege"], passed=False, severity="warning",
        detail="profile broad also grants: sysgrp, loggrp")
    assert report.result()["passed"] is True


def test_passive_plus_least_privilege_names_extra_system_permissions():
    wide = dict(PASSIVE_PLUS_PROFILE, name="wide", **{"sysgrp-permission": {"cfg": "read-write", "admin": "read"}})
    _report, checks, _fgt = fortigate(users=[api_user(profile="wide")], profiles=[wide])
    assert checks["api_user_least_privilege"]["detail"] == "profile wide also grants: sysgrp admin"
    full = dict(name="full", sysgrp="read-write")
    _report, checks, _fgt = fortigate(users=[api_user(profile="full")], profiles=[full])
    assert checks["api_user_permissions"]["passed"] is True
    assert "sysgrp read-write (only cfg is needed)" in checks["api_user_least_privilege"]["detail"]


def test_a_missing_profile_fails_the_permissions_item():
    report, checks, _fgt = fortigate(profiles=[])
    assert report.ids() == ["api_user_restricted", "api_user_permissions"]
    assert checks["api_user_permissions"]["detail"] == "admin profile kk-passiveplus not found"


def test_accprofile_permission_reads_custom_groups():
    assert accprofile_permission(PASSIVE_PLUS_PROFILE, "sysgrp", "cfg") == "read-write"
    assert accprofile_permission(PASSIVE_PLUS_PROFILE, "sysgrp", "admin") == "none"
    assert accprofile_permission(ACTIVE_PROFILE, "fwgrp", "address") == "read-write"


def test_the_agent_probe_uses_the_agent_key_and_reports_a_refusal():
    agent = FakeFortiGate(fail={"entry_list": refused(202002)})
    fgt = target(agent=agent)
    report = Report()
    probe_agent(report, [fgt], mode_plan("passive_plus"), "kk_allow")
    assert report.checks[0]["passed"] is False and "(agent error #202002)" in report.checks[0]["detail"]
    assert agent.calls == [("entry_list", "kk_allow")] and fgt.reader.calls == []
    report = Report()
    probe_agent(report, [target(agent=FakeFortiGate())], mode_plan("active"), None)
    assert report.checks[0] == dict(report.checks[0], passed=True, detail="fgt1: may read the address groups")


# -- FortiManager ------------------------------------------------------------------------------------
USERS_URL = "/cli/global/system/admin/user"


def fmg_admin(name="kk-agent", profile="kk-passiveplus", rpc="read-write", slot1=("192.0.2.50", "255.255.255.255")):
    user = {"userid": name, "profileid": profile, "rpc-permit": rpc, "trusthost1": list(slot1)}
    for slot in range(2, 11):
        user["trusthost%d" % slot] = ["255.255.255.255", "255.255.255.255"]
    return user


def fortimanager(mode="passive_plus", name="kk-agent", user=None, profile=None, agent_address="192.0.2.50"):
    user = fmg_admin() if user is None else user
    routes = {USERS_URL: [{"userid": user["userid"]}], USERS_URL + "/" + user["userid"]: user,
              "/cli/global/system/admin/profile/%s" % user["profileid"]:
                  profile if profile is not None else {"device-manager": "read-write", "device-config": "none"}}
    fmg = FakeFMG(routes)
    report = Report()
    check_fmg_api_user(report, fmg, mode_plan(mode, True), name, agent_address)
    return report, dict((c["id"], c) for c in report.checks), fmg


def test_fmg_passive_plus_user_with_device_manager_passes_in_three_reads():
    report, checks, fmg = fortimanager()
    assert report.ids() == ["api_user_restricted", "api_user_permissions", "api_user_least_privilege"]
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["api_user_restricted"]["detail"] == "kk-agent: trusted hosts 192.0.2.50/32"
    assert [url for _method, url in fmg.calls] == [
        USERS_URL, USERS_URL + "/kk-agent", "/cli/global/system/admin/profile/kk-passiveplus"]


def test_fmg_allow_all_slot_and_agent_outside_fail():
    _report, checks, _fmg = fortimanager(user=fmg_admin(slot1=("0.0.0.0", "0.0.0.0")))
    assert "trusthost1 allows every address (0.0.0.0/0.0.0.0)" in checks["api_user_restricted"]["detail"]
    _report, checks, _fmg = fortimanager(user=fmg_admin(slot1=("255.255.255.255", "255.255.255.255")))
    assert "no IPv4 trusted host set" in checks["api_user_restricted"]["detail"]
    _report, checks, _fmg = fortimanager(user=fmg_admin(slot1=("198.51.100.0", "255.255.255.0")))
    assert "do not contain the agent address 192.0.2.50" in checks["api_user_restricted"]["detail"]


def test_fmg_user_case_mismatch():
    report, checks, _fmg = fortimanager(name="KK-agent")
    assert report.ids() == ["api_user_restricted"]
    assert "(found kk-agent: names are case-sensitive)" in checks["api_user_restricted"]["detail"]


def test_fmg_rpc_permit_comes_from_the_profile_when_asked():
    _report, checks, _fmg = fortimanager(user=fmg_admin(rpc="from-profile"),
                                         profile={"rpc-permit": "read", "device-manager": "read-write"})
    assert checks["api_user_permissions"]["detail"] == "kk-agent: rpc-permit is read"
    assert "rpc-permit to read-write" in checks["api_user_permissions"]["fix"]


def test_fmg_active_needs_super_user():
    _report, checks, _fmg = fortimanager(mode="active")
    assert checks["api_user_permissions"]["passed"] is False and "Super_User" in checks["api_user_permissions"]["fix"]
    report, checks, _fmg = fortimanager(mode="active", user=fmg_admin(profile="Super_User"), profile={})
    assert checks["api_user_permissions"]["passed"] is True
    assert "api_user_least_privilege" not in report.ids()


def test_fmg_passive_plus_without_device_manager_fails_and_super_user_warns():
    _report, checks, _fmg = fortimanager(user=fmg_admin(profile="Restricted_User"), profile={"device-manager": "read"})
    assert checks["api_user_permissions"]["detail"] == (
        "kk-agent: profile Restricted_User (device-config none, device-manager read)")
    _report, checks, _fmg = fortimanager(user=fmg_admin(profile="Super_User"), profile={"super-user-profile": "enable"})
    assert checks["api_user_permissions"]["passed"] is True
    assert checks["api_user_least_privilege"] == dict(
        checks["api_user_least_privilege"], passed=False, severity="warning",
        detail="kk-agent: profile Super_User is a super-user profile")
