# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ``knocknoc.fortinet.access_plan``: the mode x target table of module_utils/_modes.py for
roles and playbooks (documentation: access_plan.yml next to this file)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import (
    as_dict,
    fortimanager_admin_profile,
    fortimanager_api_admin,
    fortios_access_profile,
    fortios_api_user,
    fortios_profile_name,
    mode_plan,
)


def access_plan(mode, target="fortigate", comments=None):
    """The plan of ``mode`` on ``target`` as a dict, with the agent's profile bodies built."""
    try:
        plan = mode_plan(mode, target)
    except ValueError as exc:
        raise AnsibleFilterError("knocknoc.fortinet.access_plan: %s" % exc)
    result = as_dict(plan)
    result["fortios_profile_name"] = fortios_profile_name(plan.mode) if plan.fortios_permissions else None
    result["fortios_profile"] = fortios_access_profile(plan.mode, comments) if plan.fortios_permissions else None
    result["fortimanager_profile_body"] = (fortimanager_admin_profile(plan.mode, comments)
                                           if plan.fortimanager_profile else None)
    return result


def api_admin(mode, target, profile, comments="", scopes=(), trusted_hosts=()):
    """The body of the agent's API administrator in ``mode`` on ``target`` (FortiOS ``system/api-user``
    or FortiManager ``/cli/global/system/admin/user``); ``scopes`` are VDOMs or ADOMs."""
    try:
        plan = mode_plan(mode, target)
        if plan.target == "fortigate":
            return fortios_api_user(plan.mode, profile, comments, list(scopes), list(trusted_hosts))
        return fortimanager_api_admin(plan.mode, profile, comments, list(scopes))
    except ValueError as exc:
        raise AnsibleFilterError("knocknoc.fortinet.api_admin: %s" % exc)


class FilterModule(object):
    """The collection's filters."""

    def filters(self):
        return {"access_plan": access_plan, "api_admin": api_admin}
