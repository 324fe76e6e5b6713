# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "Your push path is correct" / "Your API user is correct": the agent's API user
exists, is restricted to the agent by trusted hosts, has the permissions the mode needs (least
privilege as a warning), and the agent's own key is accepted. On a FortiGate (``system/api-user``,
``system/accprofile``) or on FortiManager (admin user and profile)."""

from __future__ import annotations

import ipaddress

from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import FORTIOS_ACCESS_GROUPS
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight import fmg as fmg_reads
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import case_hint, find_exact, join
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import device_network
from ansible_collections.knocknoc.fortinet.plugins.module_utils._trusted_host import SLOT, UNUSED_V4, allows_all, same, slot_name

SUPER_USER = "Super_User"
NO_API_USER = "no api_user given"
# For the FortiOS access group a mode needs (the mode table's fortios_permissions): the permission
# the agent's calls use, how the checklist names it, and the fix.
FORTIOS_NEEDS = {
    "sysgrp": ("cfg", "System > Configuration",
               "Give the profile System > Configuration (Custom) Read/Write (sysgrp custom, cfg read-write)."),
    "fwgrp": ("address", "Firewall (address)", "Give the profile Firewall Read/Write (fwgrp read-write)."),
}
MODE_NAMES = {"passive_plus": "Passive+", "active": "Active"}


def accprofile_permission(profile, group, sub):
    """A FortiOS admin profile's level for ``group`` (``sub`` of it when the group is custom)."""
    value = profile.get(group, "none")
    if value == "custom":
        return (profile.get(group + "-permission") or {}).get(sub, "none")
    return value


def trusthost_problems(hosts):
    """Problems with FortiOS api-user trusthost entries (allow-all, none at all) and their networks."""
    problems, networks = [], []
    for host in hosts or []:
        if host.get("type", "ipv4-trusthost") == "ipv6-trusthost":
            net = ipaddress.ip_network(host.get("ipv6-trusthost") or "::/0", strict=False)
        else:
            text = host.get("ipv4-trusthost") or "0.0.0.0 0.0.0.0"
            net = ipaddress.ip_network("/".join(text.split()), strict=False)
        if net.prefixlen == 0:
            problems.append("trusted host %s allows every address" % net)
        networks.append(net)
    if not networks:
        problems.append("no trusted hosts (any source may use the key)")
    return problems, networks


def covers(networks, address):
    """Whether ``address`` lies in one of ``networks`` (an unparsable address never does)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def restriction(name, problems, networks, agent_address, shown):
    """The trusted-hosts outcome of API user ``name``: its ``problems``, plus the agent's address
    when ``networks`` do not contain it; ``shown`` is how its trusted hosts read when they pass."""
    if agent_address and not covers(networks, agent_address):
        problems = problems + ["trusted hosts do not contain the agent address %s" % agent_address]
    if problems:
        return False, "%s: %s" % (name, "; ".join(problems))
    return True, "%s: trusted hosts %s" % (name, shown)


def skipped_without_name(report, name, items):
    """True (and ``items`` skipped) when no API user name was given."""
    for item in items if not name else ():
        report.skip(item, NO_API_USER)
    return not name


def _trusthost_text(host):
    if host.get("type", "ipv4-trusthost") == "ipv4-trusthost":
        return host.get("ipv4-trusthost")
    return host.get("ipv6-trusthost")


# -- FortiGate ---------------------------------------------------------------------------------------
def needed_group(plan):
    """The FortiOS access group the mode's agent needs (``plan``: ``_modes.ModePlan``)."""
    return next(g for g in FORTIOS_ACCESS_GROUPS if g in plan.fortios_permissions)


def check_fortigate_api_user(report, target, plan, name, agent_address):
    """The agent's REST API administrator against ``plan`` (``_modes.ModePlan``) and its permissions."""
    item_restricted = "Device API user exists and is IP-restricted to the agent (not the end user)"
    item_perm = "API user has the permissions for %s" % MODE_NAMES.get(plan.mode, plan.mode)
    if skipped_without_name(report, name, (item_restricted, item_perm)):
        return
    state = {}

    def restricted():
        user, others = find_exact(target.table("system/api-user"), "name", name)
        if user is None:
            return False, "no REST API administrator named %s%s" % (name, case_hint(others)), \
                "Create the REST API administrator (role knocknoc.fortinet.api_user) or give its exact name."
        state["user"] = user
        problems, networks = trusthost_problems(user.get("trusthost"))
        return restriction(name, problems, networks, agent_address,
                           ", ".join(_trusthost_text(h) for h in user.get("trusthost") or []))
    report.run("api_user_restricted", item_restricted, restricted,
               "Set the REST API administrator's trusted hosts to the agent's address only (never 0.0.0.0/0).")
    if "user" not in state:
        return

    def permissions():
        profile_name = state["user"].get("accprofile")
        profile, _others = find_exact(target.table("system/accprofile"), "name", profile_name)
        if profile is None:
            return False, "admin profile %s not found" % profile_name
        state["profile"] = profile
        group = needed_group(plan)
        sub, label, fix = FORTIOS_NEEDS[group]
        level = accprofile_permission(profile, group, sub)
        return level == "read-write", "profile %s: %s is %s" % (profile_name, label, level), fix
    report.run("api_user_permissions", item_perm, permissions, "Fix the admin profile.")
    if "profile" not in state:
        return

    def least_privilege():
        profile = state["profile"]
        group = needed_group(plan)
        extra = [g for g in FORTIOS_ACCESS_GROUPS if g != group and profile.get(g, "none") != "none"]
        if plan.fortios_permissions[group] == "custom":
            allowed = sorted(sub for sub, level in plan.fortios_permissions[group + "-permission"].items() if level != "none")
            if profile.get(group) != "custom":
                extra.append("%s %s (only %s is needed)" % (group, profile.get(group), ", ".join(allowed)))
            else:
                extra.extend("%s %s" % (group, sub) for sub, level in sorted((profile.get(group + "-permission") or {}).items())
                             if sub not in allowed and level != "none")
        return (not extra, "profile %s also grants: %s" % (profile.get("name"), ", ".join(extra)) if extra
                else "profile %s grants only what the mode needs" % profile.get("name"))
    report.run("api_user_least_privilege", "Minimum permissions are used", least_privilege,
               "Use a custom admin profile that grants only what the mode needs, everything else None.",
               severity="warning")


def probe_agent(report, targets, plan, resource_name):
    """The agent's own key: accepted, and allowed to do the mode's operation (one read per target)."""
    def probe():
        notes = []
        for target in targets:
            if plan.push:
                target.entry_list(resource_name, agent=True)
                notes.append("%s: may read the external resource's entries" % target.label)
            else:
                target.agent.get_table("firewall/addrgrp", fields=["name"])
                notes.append("%s: may read the address groups" % target.label)
        return True, join(notes)
    report.run("agent_access", "The agent's API key is accepted and allowed for this mode", probe,
               "Check the agent's API key (regenerated?), its trusted hosts and its admin profile (202001/202002).")


# -- FortiManager ------------------------------------------------------------------------------------
def fmg_trusthost_networks(user, slots=range(1, SLOT + 1)):
    """(problems, networks) of a FortiManager admin's IPv4 trusted-host slots (unused ones skipped)."""
    problems, networks = [], []
    for slot in slots:
        value = user.get(slot_name(4, slot))
        network = device_network(value) if isinstance(value, list) else None
        if network is None or same(value, UNUSED_V4):
            continue
        if allows_all(value):
            problems.append("%s allows every address (0.0.0.0/0.0.0.0)" % slot_name(4, slot))
        networks.append(network)
    if not networks:
        problems.append("no IPv4 trusted host set (slot 1 defaults to allow-all)")
    return problems, networks


def check_fmg_api_user(report, fmg, plan, name, agent_address):
    """The agent's FortiManager API administrator against ``plan`` (``_modes.ModePlan``)."""
    item_restricted = "FortiManager API user exists and is IP-restricted to the agent (not the end user)"
    needs_super_user = plan.fortimanager_profile == SUPER_USER
    item_perm = ("API user has the Super_User profile" if needs_super_user
                 else "API user has DeviceManager - Manage Device Configurations read-write (or Super_User)")
    if skipped_without_name(report, name, (item_restricted, item_perm)):
        return
    state = {}

    def restricted():
        user, others = find_exact(fmg_reads.admin_users(fmg), "userid", name)
        if user is None:
            return False, "no administrator named %s%s" % (name, case_hint(others)), \
                "Create the API administrator (role knocknoc.fortinet.api_user) or give its exact name."
        user = fmg_reads.admin_user(fmg, name)
        state["user"] = user
        problems, networks = fmg_trusthost_networks(user)
        return restriction(name, problems, networks, agent_address, ", ".join(str(n) for n in networks))
    report.run("api_user_restricted", item_restricted, restricted,
               "Restrict the API administrator's trusted hosts to the agent's address (never 0.0.0.0/0.0.0.0).")
    if "user" not in state:
        return

    def permissions():
        user = state["user"]
        profile = fmg_reads.admin_profile(fmg, user.get("profileid"))
        state["profile"] = profile
        superuser = profile.get("super-user-profile") == "enable" or user.get("profileid") == SUPER_USER
        permit = user.get("rpc-permit")
        if permit == "from-profile":
            permit = profile.get("rpc-permit")
        if permit != "read-write":
            return False, "%s: rpc-permit is %s" % (name, permit), "Set the API administrator's rpc-permit to read-write."
        if needs_super_user:
            return superuser, "%s: profile %s" % (name, user.get("profileid")), \
                "Assign the Super_User profile: updating administrators' trusted hosts needs it."
        # Either of the profile fields the mode table gives read-write will do (the seed names both).
        levels = dict((f, profile.get(f, "none")) for f, level in plan.fortimanager_permissions.items()
                      if level == "read-write" and f != "rpc-permit")
        ok = superuser or "read-write" in levels.values()
        return ok, "%s: profile %s (%s)" % (name, user.get("profileid"), ", ".join(
            "%s %s" % item for item in sorted(levels.items()))), \
            "Give the profile DeviceManager - Manage Device Configurations read-write, or assign Super_User."
    report.run("api_user_permissions", item_perm, permissions, "Fix the API administrator's profile.")

    if not needs_super_user and "profile" in state:
        def least_privilege():
            superuser = state["profile"].get("super-user-profile") == "enable"
            return (not superuser, "%s: profile %s%s" % (name, state["user"].get("profileid"),
                                                         " is a super-user profile" if superuser else ""))
        report.run("api_user_least_privilege", "Minimum permissions are used", least_privilege,
                   "Use a custom profile with device-manager read-write and rpc-permit read-write (the Knocknoc"
                   " knocknoc-passiveplus profile) instead of Super_User.", severity="warning")
