# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The FortiManager reads preflight makes (read-only key), one function each, so that the checks
never hold a JSON-RPC URL and the tests can fake them."""

from __future__ import annotations


def system_status(fmg):
    return fmg.call("get", "/sys/status") or {}


def admin_users(fmg):
    """Every administrator's ``userid`` (one request; the full entries are read one by one)."""
    return fmg.call("get", "/cli/global/system/admin/user", fields=["userid"]) or []


def admin_user(fmg, name):
    """One administrator's settings (trusted hosts, profile, rpc-permit); not found raises 202051."""
    return fmg.call("get", "/cli/global/system/admin/user/%s" % name, not_found_code=202051) or {}


def admin_profile(fmg, name):
    return fmg.call("get", "/cli/global/system/admin/profile/%s" % name) or {}


def adom_external_resources(fmg, adom):
    """The names of the ADOM's external resource objects."""
    return fmg.call("get", "/pm/config/adom/%s/obj/system/external-resource" % adom, fields=["name"]) or []


def adom_devices(fmg, adom):
    """The ADOM's managed devices (``name``, ``sn``)."""
    return fmg.call("get", "/dvmdb/adom/%s/device" % adom, fields=["name", "sn"]) or []


def group_members(fmg, adom, group):
    """The member names of a device group; a missing group raises 202101."""
    data = fmg.call("get", "/dvmdb/adom/%s/group/%s" % (adom, group), not_found_code=202101,
                    option=["object member"]) or {}
    return [m.get("name") for m in data.get("object member") or []]
