# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding one configuration object, on a FortiGate (CMDB table) or on FortiManager (JSON-RPC table).

Shared by the write modules (``fortigate_object``, ``fortimanager_object``) and their read-only
``_info`` twins, so that both name, validate and look up an object the same way. What to change is
planned by ``_state.plan_object``.

Validation functions raise :class:`ValueError` with the message for ``fail_json``; look-ups raise
:class:`KnocknocError`.
"""

from __future__ import annotations

import re

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import hide_secrets

# -- FortiGate (REST API v2 CMDB) -------------------------------------------------------------------
# CMDB tables keyed by a number (reference B5: firewall/policy is keyed by `policyid`; the other
# policy tables share the key name).
POLICY_TABLES = frozenset(("firewall/policy", "firewall/policy6", "firewall/proxy-policy",
                           "firewall/security-policy", "firewall/local-in-policy"))
FORTIGATE_PATH_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def fortigate_table(path, name, policyid):
    """``(path, policy)``: the CMDB table without surrounding slashes, and whether it is keyed by
    policy number. Raises ValueError when the path or the key options do not fit the table."""
    given = path
    path = (path or "").strip().strip("/")
    if not FORTIGATE_PATH_RE.match(path):
        raise ValueError("path must name a CMDB table such as firewall/policy or system/api-user, got %r" % given)
    policy = path in POLICY_TABLES
    check_key_options(path, policy, name, policyid, "FortiOS", "policy tables only (%s), not to %s"
                      % (", ".join(sorted(POLICY_TABLES)), path))
    return path, policy


def check_key_options(path, policy, name, policyid, device, policy_tables):
    """The key options of an object in table ``path``: a policy table takes ``policyid`` (1 or more;
    none lets ``device`` number a new policy) or ``name``; any other table a ``name`` and no
    ``policyid`` (``policy_tables`` says which tables take one). Raises ValueError."""
    if policy:
        if policyid is None and not name:
            raise ValueError("name or policyid is required for %s" % path)
        if policyid is not None and policyid < 1:
            raise ValueError("policyid must be 1 or more (leave it out to let %s choose the number)" % device)
        return
    if policyid is not None:
        raise ValueError("policyid applies to %s" % policy_tables)
    if not name:
        raise ValueError("name is required for %s" % path)


def _one_policy(rows, path, name):
    matches = [r for r in rows or () if isinstance(r, dict) and r.get("name") == name]
    if len(matches) > 1:
        raise KnocknocError(None, "%d policies in %s are named %r (ids %s): give policyid" % (
            len(matches), path, name, ", ".join(str(r.get("policyid")) for r in matches)),
            description="Ambiguous policy name")
    return matches[0].get("policyid") if matches else None


def find_fortigate_entry(client, path, policy, name, policyid, vdom=None):
    """``(mkey, entry or None)`` of a FortiGate CMDB entry; a policy without ``policyid`` is found by
    its ``name`` (one more request; two policies with that name raise)."""
    if not policy:
        return name, client.get_entry(path, name, vdom=vdom)
    if policyid is not None:
        return policyid, client.get_entry(path, policyid, vdom=vdom)
    mkey = _one_policy(client.get_table(path, vdom=vdom, fields=["policyid", "name"]), path, name)
    if mkey is None:
        return None, None
    return mkey, client.get_entry(path, mkey, vdom=vdom)


# -- FortiManager (JSON-RPC) ------------------------------------------------------------------------
FMG_ADOM_RE = re.compile(r"^/(?:pm/config|dvmdb)/adom/([^/]+)/")
FMG_POLICY_RE = re.compile(r"/pkg/.+/firewall/policy$")
FMG_PATH_RE = re.compile(r"^/[A-Za-z0-9_./ -]+$")


def fortimanager_key_field(path, override=None):
    """The key field of a FortiManager table: ``userid`` for admin users, ``profileid`` for admin
    profiles, ``policyid`` for package policies, else ``name`` (``override`` wins)."""
    if override:
        return override
    if path.rstrip("/").endswith("/system/admin/user"):
        return "userid"
    if path.rstrip("/").endswith("/system/admin/profile"):
        return "profileid"
    if FMG_POLICY_RE.search(path):
        return "policyid"
    return "name"


def fortimanager_table(path, adom, name, policyid, key_field=None):
    """``(path, key, policy)``: the table URL with ``{adom}`` filled in, its key field, and whether it
    is keyed by policy number. Raises ValueError when the path or the key options do not fit."""
    given = path
    path = (path or "").strip()
    if not path.startswith("/"):
        path = "/" + path
    path = path.rstrip("/").replace("{adom}", adom or "root")
    if not FMG_PATH_RE.match(path) or "{" in path:
        raise ValueError("path must be a JSON-RPC table URL such as /pm/config/adom/{adom}/obj/firewall/addrgrp,"
                         " got %r" % given)
    key = fortimanager_key_field(path, key_field)
    policy = key == "policyid"
    check_key_options(path, policy, name, policyid, "FortiManager",
                      "policy tables (.../pkg/<package>/firewall/policy) only")
    if not policy and "/" in name:
        raise ValueError("name must not contain '/', got %r" % name)
    return path, key, policy


def table_adom(path):
    """The ADOM a FortiManager table URL lies in, or None (``/cli/global/...``)."""
    match = FMG_ADOM_RE.match(path)
    return match.group(1) if match else None


def get_fortimanager_object(client, url):
    """One FortiManager object, or None when it does not exist (a one-element list is unwrapped). In
    an ADOM that does not exist, raises 202101 naming the ADOM."""
    found = client.get_or_none(url, adom=table_adom(url))
    if isinstance(found, list):
        found = found[0] if found else None
    return found


def find_fortimanager_object(client, path, policy, name, policyid):
    """``(mkey, object or None)`` in a FortiManager table; a policy without ``policyid`` is found by
    its ``name`` (one more request; two policies with that name raise)."""
    if not policy:
        return name, get_fortimanager_object(client, "%s/%s" % (path, name))
    if policyid is not None:
        return policyid, get_fortimanager_object(client, "%s/%d" % (path, policyid))
    rows = client.call("get", path, fields=["policyid", "name"]) or []
    mkey = _one_policy(rows if isinstance(rows, list) else [rows], path, name)
    if mkey is None:
        return None, None
    return mkey, get_fortimanager_object(client, "%s/%s" % (path, mkey))


def info_result(mkey, current):
    """What the ``*_object_info`` modules return for an entry read as ``current`` (None: absent):
    whether it exists, its key, and the entry with the values the device masks hidden."""
    return {"changed": False, "exists": current is not None, "mkey": mkey if current is not None else None,
            "object": hide_secrets(current)}
