# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mode x target table, its profile bodies and the access_plan filter the roles dispatch on."""

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.knocknoc.fortinet.plugins.filter.access_plan import FilterModule, access_plan
from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import (
    FORTIOS_ACCESS_GROUPS,
    MODES,
    TARGETS,
    fortimanager_admin_profile,
    fortios_access_profile,
    mode_plan,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", TARGETS)
def test_every_cell_is_consistent(mode, target):
    plan = mode_plan(mode, target)
    assert (plan.mode, plan.target) == (mode, target)
    # A grant lands in exactly one place, or nowhere (Passive: the allowlist on the server).
    assert plan.push + plan.address_group + plan.trusted_host == (1 if plan.device_access else 0)
    assert (plan.grant_module is None) == (not plan.device_access)
    assert not plan.push or plan.external_resource
    # Device access needs an API user on the device the agent talks to, and nothing else.
    assert bool(plan.fortios_permissions) == (plan.device_access and target == "fortigate")
    assert bool(plan.fortimanager_profile) == (plan.device_access and target == "fortimanager")
    assert mode_plan(mode, target == "fortimanager") == plan


def test_the_modules_exist():
    for mode in MODES:
        for target in TARGETS:
            module = mode_plan(mode, target).grant_module
            assert module is None or os.path.exists(os.path.join(ROOT, "plugins", "modules", module + ".py"))


def test_unknown_mode_or_target():
    with pytest.raises(ValueError, match="mode must be one of passive, passive_plus, active, got 'pasive'"):
        mode_plan("pasive")
    with pytest.raises(ValueError, match="target must be one of"):
        mode_plan("active", "fortianalyzer")
    with pytest.raises(AnsibleFilterError, match="access_plan: mode must be one of"):
        access_plan("pasive")


def test_fortios_profile_names_every_group():
    body = fortios_access_profile("passive_plus", "agent")
    assert set(FORTIOS_ACCESS_GROUPS) <= set(body) and body["scope"] == "vdom" and body["comments"] == "agent"
    assert [g for g in FORTIOS_ACCESS_GROUPS if body[g] != "none"] == ["sysgrp"]
    assert body["sysgrp-permission"] == {"admin": "none", "upd": "none", "cfg": "read-write", "mnt": "none"}
    active = fortios_access_profile("active")
    assert [g for g in FORTIOS_ACCESS_GROUPS if active[g] != "none"] == ["fwgrp"] and "comments" not in active
    # The table's own permissions are never handed out for mutation.
    body["sysgrp-permission"]["cfg"] = "none"
    assert fortios_access_profile("passive_plus")["sysgrp-permission"]["cfg"] == "read-write"
    with pytest.raises(ValueError):
        fortios_access_profile("passive")


def test_fortimanager_profiles():
    assert fortimanager_admin_profile("passive_plus", "agent") == {
        "type": "system", "description": "agent", "device-manager": "read-write", "device-config": "read-write",
        "rpc-permit": "read-write"}
    assert fortimanager_admin_profile("active") is None       # Super_User is built in


def test_filter_adds_the_bodies():
    assert FilterModule().filters()["access_plan"] is access_plan
    plan = access_plan("passive_plus", True, comments="c")
    assert plan["grant_module"] == "fortigate_dynamic_entry" and plan["target"] == "fortimanager"
    assert plan["fortios_profile"] is None and plan["fortimanager_profile_body"]["description"] == "c"
    direct = access_plan("active", "fortigate", comments="c")
    assert direct["fortios_profile_name"] == "knocknoc-active" and direct["fortios_profile"]["fwgrp"] == "read-write"
    assert access_plan("passive")["grant_module"] is None


def test_api_admin_bodies():
    from ansible_collections.knocknoc.fortinet.plugins.filter.access_plan import api_admin

    fortios = api_admin("passive_plus", "fortigate", "knocknoc-passiveplus", comments="c", scopes=["root"],
                        trusted_hosts=[" 192.0.2.10 ", "192.0.2.0/28", "10.0.0.0 255.0.0.0", "2001:db8::1"])
    assert fortios == {"accprofile": "knocknoc-passiveplus", "comments": "c", "vdom": [{"name": "root"}], "trusthost": [
        {"type": "ipv4-trusthost", "ipv4-trusthost": "192.0.2.10/32"},
        {"type": "ipv4-trusthost", "ipv4-trusthost": "192.0.2.0/28"},
        {"type": "ipv4-trusthost", "ipv4-trusthost": "10.0.0.0 255.0.0.0"},
        {"type": "ipv6-trusthost", "ipv6-trusthost": "2001:db8::1/128"}]}
    limited = api_admin("passive_plus", True, "knocknoc-passiveplus", comments="c", scopes=["root", "emea"])
    assert limited == {"user_type": "api", "profileid": "knocknoc-passiveplus", "rpc-permit": "read-write",
                       "adom-access": "specify", "adom": [{"adom-name": "root"}, {"adom-name": "emea"}], "description": "c"}
    every = api_admin("active", "fortimanager", "Super_User", scopes=["root"])
    assert every["adom-access"] == "all" and every["adom"] == [] and "trusthost1" not in every
    with pytest.raises(AnsibleFilterError, match="api_admin: mode passive needs no device API user"):
        api_admin("passive", "fortigate", "p")
