# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Knocknoc modes on Fortinet, mode x target, in one table.

For each mode (``passive``, ``passive_plus``, ``active``) and target (``fortigate``: the
FortiGates directly; ``fortimanager``: through FortiManager, the Knoc's "I am using a
FortiManager") the table says what the mode needs on the devices, which module makes, revokes and
reconciles a grant, and which permissions the Knocknoc agent's API user needs (the seed's "API
role/permissions summary"). The roles dispatch on it (filter ``knocknoc.fortinet.access_plan``),
``fortinet_preflight`` checks against it and ``knocknoc_knoc`` asks it which Knoc fields a mode
uses. Adding a mode is one row here plus its module (and, in the access and reconcile roles, a
task file named after that module).
"""

from __future__ import annotations

import collections
import copy

MODES = ("passive", "passive_plus", "active")
TARGETS = ("fortigate", "fortimanager")

# FortiOS access groups of an access profile (reference B7). Every group is written, so that
# "everything else none" is explicit on the device.
FORTIOS_ACCESS_GROUPS = ("secfabgrp", "ftviewgrp", "authgrp", "sysgrp", "netgrp", "loggrp", "fwgrp", "vpngrp", "utmgrp",
                         "wanoptgrp", "wifi")

# What the agent's FortiOS REST API admin needs beyond "none": Passive+ pushes with the
# external-resource monitor calls, whose access group is System > Configuration
# (sysgrp-permission cfg); Active writes address objects and groups (Firewall).
_FORTIOS_PASSIVE_PLUS = {"sysgrp": "custom", "sysgrp-permission": {"admin": "none", "upd": "none", "cfg": "read-write",
                                                                   "mnt": "none"}}
_FORTIOS_ACTIVE = {"fwgrp": "read-write"}
# FortiManager: Passive+ gets the seed's least-privilege profile (device-manager, rpc-permit
# read-write, plus device-config, the "Manage Device Configurations" its summary names); Active
# needs Super_User (seed, error 202002: only it may update other administrators' trusted hosts).
_FMG_PASSIVE_PLUS = {"type": "system", "device-manager": "read-write", "device-config": "read-write",
                     "rpc-permit": "read-write"}

ModePlan = collections.namedtuple("ModePlan", [
    "mode",                 # passive | passive_plus | active
    "target",               # fortigate | fortimanager
    "device_access",        # the agent calls the device API: the Knoc holds a device URL and token
    "external_resource",    # the FortiGates poll the Knoc's allowlist as an external resource (IP threat feed)
    "push",                 # a grant is pushed into that external resource at once (dynamic entry)
    "address_group",        # a grant is a kk_ address object in an address group
    "trusted_host",         # a grant is trusted host 10 of the user's FortiManager administrator
    "policy",               # a firewall policy admits the external resource or the address group
    "grant_module",         # module that grants, revokes and reconciles (None: nothing to do on a device)
    "fortios_permissions",  # FortiOS access profile fields beyond "none" of the agent's API user (None: no FortiOS user)
    "fortimanager_profile",  # FortiManager admin profile of the agent's API user (None: no FortiManager user)
    "fortimanager_permissions",  # fields of that profile when the collection creates it (None: built in)
])

_TABLE = {
    ("passive", "fortigate"): ModePlan(
        "passive", "fortigate", device_access=False, external_resource=True, push=False, address_group=False,
        trusted_host=False, policy=True, grant_module=None, fortios_permissions=None, fortimanager_profile=None,
        fortimanager_permissions=None),
    ("passive", "fortimanager"): ModePlan(
        "passive", "fortimanager", device_access=False, external_resource=True, push=False, address_group=False,
        trusted_host=False, policy=True, grant_module=None, fortios_permissions=None, fortimanager_profile=None,
        fortimanager_permissions=None),
    ("passive_plus", "fortigate"): ModePlan(
        "passive_plus", "fortigate", device_access=True, external_resource=True, push=True, address_group=False,
        trusted_host=False, policy=True, grant_module="fortigate_dynamic_entry", fortios_permissions=_FORTIOS_PASSIVE_PLUS,
        fortimanager_profile=None, fortimanager_permissions=None),
    ("passive_plus", "fortimanager"): ModePlan(
        "passive_plus", "fortimanager", device_access=True, external_resource=True, push=True, address_group=False,
        trusted_host=False, policy=True, grant_module="fortigate_dynamic_entry", fortios_permissions=None,
        fortimanager_profile="knocknoc-passiveplus", fortimanager_permissions=_FMG_PASSIVE_PLUS),
    ("active", "fortigate"): ModePlan(
        "active", "fortigate", device_access=True, external_resource=False, push=False, address_group=True,
        trusted_host=False, policy=True, grant_module="fortigate_address_grant", fortios_permissions=_FORTIOS_ACTIVE,
        fortimanager_profile=None, fortimanager_permissions=None),
    ("active", "fortimanager"): ModePlan(
        "active", "fortimanager", device_access=True, external_resource=False, push=False, address_group=False,
        trusted_host=True, policy=False, grant_module="fortimanager_trusted_host", fortios_permissions=None,
        fortimanager_profile="Super_User", fortimanager_permissions=None),
}


def target_of(use_fortimanager):
    """``fortimanager`` or ``fortigate`` for the Knoc's "I am using a FortiManager" setting."""
    return "fortimanager" if use_fortimanager else "fortigate"


def mode_plan(mode, target="fortigate"):
    """The :data:`ModePlan` of ``mode`` on ``target`` (``target`` may also be the bool
    ``use_fortimanager``). Raises ValueError naming the valid choices."""
    if isinstance(target, bool):
        target = target_of(target)
    if mode not in MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    if target not in TARGETS:
        raise ValueError("target must be one of %s, got %r" % (", ".join(TARGETS), target))
    return _TABLE[(mode, target)]


def fortios_access_profile(mode, comments=None):
    """The FortiOS access profile (``system/accprofile`` body) of the agent's API user in ``mode``:
    every access group ``none`` but what the mode needs, VDOM scope. ValueError when the mode needs
    no FortiOS API user (Passive)."""
    permissions = mode_plan(mode, "fortigate").fortios_permissions
    if permissions is None:
        raise ValueError("mode %s needs no device API user" % mode)
    body = dict((group, "none") for group in FORTIOS_ACCESS_GROUPS)
    body["scope"] = "vdom"
    if comments is not None:
        body["comments"] = comments
    body.update(copy.deepcopy(permissions))
    return body


def fortios_profile_name(mode):
    """Default name of the agent's FortiOS access profile: ``knocknoc-passiveplus``, ``knocknoc-active``."""
    return "knocknoc-" + mode.replace("_", "")


def fortimanager_admin_profile(mode, description=None):
    """The FortiManager admin profile body (``/cli/global/system/admin/profile``) the collection
    creates for the agent in ``mode``, or None when the mode uses a built-in profile (Super_User)."""
    plan = mode_plan(mode, "fortimanager")
    if plan.fortimanager_profile is None:
        raise ValueError("mode %s needs no device API user" % mode)
    if plan.fortimanager_permissions is None:
        return None
    body = copy.deepcopy(plan.fortimanager_permissions)
    if description is not None:
        body["description"] = description
    return body


def as_dict(plan):
    """A plain dict of ``plan`` (for Jinja and module results), permissions copied."""
    return copy.deepcopy(dict(plan._asdict()))


def _trusthost(host):
    """``192.0.2.10`` -> ``192.0.2.10/32``, ``2001:db8::1`` -> ``2001:db8::1/128``; a prefix or a
    netmask given stays as written."""
    text = str(host).strip()
    if "/" in text or " " in text:
        return text
    return text + ("/128" if ":" in text else "/32")


def fortios_api_user(mode, profile, comments, vdoms, trusted_hosts):
    """The FortiOS ``system/api-user`` body of the agent's REST API admin in ``mode``: its access
    profile, VDOMs, and trusted hosts restricted to ``trusted_hosts`` (IPv4 and IPv6 entries)."""
    if not mode_plan(mode, "fortigate").fortios_permissions:
        raise ValueError("mode %s needs no device API user" % mode)
    hosts = [_trusthost(host) for host in trusted_hosts]
    trusthost = [{"type": "ipv4-trusthost", "ipv4-trusthost": h} for h in hosts if ":" not in h]
    trusthost += [{"type": "ipv6-trusthost", "ipv6-trusthost": h} for h in hosts if ":" in h]
    return {"accprofile": profile, "comments": comments, "vdom": [{"name": v} for v in vdoms], "trusthost": trusthost}


def fortimanager_api_admin(mode, profile, description, adoms):
    """The FortiManager ``/cli/global/system/admin/user`` body of the agent's API admin in ``mode``
    (its trusted hosts are written by fortimanager_trusted_host): a custom profile is limited to
    ``adoms``, Super_User (Active: it updates other administrators) gets every ADOM."""
    plan = mode_plan(mode, "fortimanager")
    if not plan.fortimanager_profile:
        raise ValueError("mode %s needs no device API user" % mode)
    limited = plan.fortimanager_permissions is not None
    return {"user_type": "api", "profileid": profile, "rpc-permit": "read-write",
            "adom-access": "specify" if limited else "all",
            "adom": [{"adom-name": adom} for adom in adoms] if limited else [], "description": description}
