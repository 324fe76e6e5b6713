# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The FortiManager reads preflight makes with the read-only key, one function each, so that the
checks hold no JSON-RPC URL and the tests can fake them. (Device targets are resolved by the
shared ``_fortigates.resolve_targets``.)"""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.module_utils._external_resource import object_url
from ansible_collections.knocknoc.fortinet.plugins.module_utils._trusted_host import PROFILE_URL, USER_URL

ADMIN_USERS = USER_URL.rsplit("/", 1)[0]  # the table of USER_URL's objects


def system_status(fmg):
    return fmg.call("get", "/sys/status") or {}


def admin_users(fmg):
    """Every administrator's ``userid`` (one request; the full entries are read one by one)."""
    return fmg.call("get", ADMIN_USERS, fields=["userid"]) or []


def admin_user(fmg, name):
    """One administrator's settings (trusted hosts, profile, rpc-permit); not found raises 202051."""
    return fmg.call("get", USER_URL % name, not_found_code=202051) or {}


def admin_profile(fmg, name):
    return fmg.call("get", PROFILE_URL % name) or {}


def adom_external_resources(fmg, adom):
    """The names of the ADOM's external resource objects ([] when there are none; an ADOM
    FortiManager does not know raises 202101)."""
    return fmg.get_or_none(object_url(adom), adom=adom, fields=["name"]) or []
