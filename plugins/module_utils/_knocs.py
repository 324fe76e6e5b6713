# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Knocknoc management-API domain logic: the Knoc document and grants.

The management API (knocs, allowlist keys, grants) is **modelled** by this collection; see
``_knocknoc.py``. Here: which Knoc fields apply to which mode, the options -> desired document
(validation without I/O), comparison and prediction of a Knoc, the plan of a present Knoc
(``knocknoc_knoc``), and grant matching (``knocknoc_grant``, ``knocknoc_grant_info``).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import diff_fields

KNOC_TYPE = "firewalls_appliances"
VENDOR = "fortinet"
ALLOWLIST_MODES = ("passive", "passive_plus")
DEVICE_MODES = ("passive_plus", "active")
# The fields of the (modelled) Knoc document, in the server's order.
KNOC_KEYS = (
    "id", "name", "type", "mode", "vendor", "use_fortimanager", "device_url", "insecure", "authorization_token_set",
    "adom", "external_connector_name", "device_targets", "address_group", "prefix", "vdom", "description",
    "grant_duration_minutes", "allowlist_ip_restrictions", "allowlist_url",
)
# What the server fills in when a field that applies is left unset (the seed: blank ADOM/VDOM = root,
# prefix kk_; the docs: an allowlist key's IP restrictions default to the whole Internet).
DEFAULTS = {
    "adom": "root",
    "device_targets": [],
    "prefix": "kk_",
    "vdom": "root",
    "allowlist_ip_restrictions": ["0.0.0.0/0", "::/0"],
}
# Which fields apply where, mirroring the seed's Step 1 tables (and the lab's validation).
WHERE = {
    "device_url": "in passive_plus and active modes (passive needs no device access)",
    "authorization_token": "in passive_plus and active modes (passive needs no device access)",
    "adom": "with use_fortimanager=true",
    "external_connector_name": "in passive_plus mode",
    "device_targets": "with use_fortimanager=true in passive and passive_plus modes",
    "address_group": "in active mode on a FortiGate (use_fortimanager=false)",
    "prefix": "in active mode on a FortiGate (use_fortimanager=false)",
    "vdom": "on a FortiGate (use_fortimanager=false) in passive_plus and active modes",
    "allowlist_ip_restrictions": "in passive and passive_plus modes (active knocs have no allowlist)",
}
# authorization_token is write-only: it is required only when it will be sent (see present()).
REQUIRED = ("device_url", "external_connector_name", "address_group")
MAX_LENGTH = {
    "name": 255,  # unconfirmed in the reference: the Knoc name limit (the lab's choice)
    "external_connector_name": 35,  # FortiOS external-resource names
    "address_group": 79,  # FortiOS address-group names
    "prefix": 40,  # prefix + the longest IPv6 text (39) must fit a 79-character address name
}


def applies(field, mode, fmg):
    device = mode in DEVICE_MODES
    return {
        "device_url": device,
        "authorization_token": device,
        "adom": fmg,
        "external_connector_name": mode == "passive_plus",
        "device_targets": fmg and mode in ALLOWLIST_MODES,
        "address_group": mode == "active" and not fmg,
        "prefix": mode == "active" and not fmg,
        "vdom": device and not fmg,
        "allowlist_ip_restrictions": mode in ALLOWLIST_MODES,
    }[field]


def invalid(message):
    return KnocknocError(None, message, description="Invalid option")


def normalise_restrictions(values):
    networks = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise invalid("allowlist_ip_restrictions: %r is not an IP network (CIDR)" % (value,))
        if str(network) not in networks:
            networks.append(str(network))
    return networks


def check_device_url(url):
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.password is not None:
        raise invalid("device_url must not contain credentials (user:password@); set authorization_token")
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise invalid("device_url must be an https:// URL with a host name, such as https://fw.example.com, got %s"
                      % url)
    return url.strip()


def desired_state(p):
    """Validate the options (no I/O) and return the fields this run manages: field -> wanted value,
    None meaning "must be null" (does not apply to the mode, or no grant-period override)."""
    mode, fmg = p["mode"], p["use_fortimanager"]
    name = p["name"].strip()
    if not name:
        raise invalid("name must not be empty")
    for field, limit in MAX_LENGTH.items():
        value = p.get(field)
        if value is not None and len(value) > limit:
            raise invalid("%s must be at most %d characters (got %d)" % (field, limit, len(value)))
    if p["insecure"] and mode not in DEVICE_MODES:
        raise invalid("insecure applies only in passive_plus and active modes (passive needs no device access)")
    for field in WHERE:
        value = p.get(field)
        if applies(field, mode, fmg):
            if field in REQUIRED and (value is None or not str(value).strip()):
                raise invalid("%s is required when mode=%s%s" % (
                    field, mode, " and use_fortimanager=false" if field == "address_group" else ""))
        elif value is not None and value != "" and value != []:
            raise invalid("%s applies only %s (here mode=%s, use_fortimanager=%s)" % (
                field, WHERE[field], mode, str(fmg).lower()))
    if p["allowlist_key"] != "keep" and mode not in ALLOWLIST_MODES:
        raise invalid("allowlist_key=%s applies only in passive and passive_plus modes (active knocs have no allowlist)"
                      % p["allowlist_key"])
    if p["allowlist_api_key"] is not None and p["allowlist_key"] != "ensure":
        raise invalid("allowlist_api_key is only used with allowlist_key=ensure")
    if p["grant_duration_minutes"] is not None and p["grant_duration_minutes"] < 0:
        raise invalid("grant_duration_minutes must be 0 (no override) or a positive number of minutes")

    wanted = {"name": name, "type": KNOC_TYPE, "vendor": VENDOR, "mode": mode, "use_fortimanager": fmg,
              "insecure": p["insecure"]}
    for field in WHERE:
        if field == "authorization_token":
            continue  # write-only: sent by the update_token rule, never compared
        if not applies(field, mode, fmg):
            wanted[field] = None
            continue
        value = p.get(field)
        if value is None:
            continue  # unset: keep the current value (or the server default on creation)
        if field == "device_url":
            value = check_device_url(value)
        elif field in ("adom", "vdom"):
            value = value.strip() or DEFAULTS[field]
        elif field == "device_targets":
            value = [t.strip() for t in value]
            if not all(value):
                raise invalid("device_targets must not hold empty names")
        elif field == "allowlist_ip_restrictions":
            if not value:
                raise invalid("allowlist_ip_restrictions must hold at least one network (leave it unset for the"
                              " server default)")
            value = normalise_restrictions(value)
        elif field == "prefix" and not value.strip():
            raise invalid("prefix must not be empty")
        wanted[field] = value
    if p["description"] is not None:
        wanted["description"] = p["description"]
    if p["grant_duration_minutes"] is not None:
        wanted["grant_duration_minutes"] = p["grant_duration_minutes"] or None
    return wanted


def same(field, wanted, current):
    if wanted is None or current is None:
        return wanted is None and current is None
    if field == "device_targets":
        return sorted(wanted) == sorted(current or [])
    if field == "allowlist_ip_restrictions":
        try:
            return sorted(wanted) == sorted(normalise_restrictions(current or []))
        except KnocknocError:
            return False
    return not diff_fields({field: wanted}, {field: current})


def predict(current, wanted, token_set):
    """The Knoc as the server would hold it after the write (for check mode and the diff)."""
    after = dict((key, None) for key in KNOC_KEYS)
    after["description"] = ""
    after.update(current or {})
    # Equal values keep the server's spelling, so an unchanged knoc diffs as identical.
    after.update((k, v) for k, v in wanted.items() if current is None or not same(k, v, current.get(k)))
    mode, fmg = wanted["mode"], wanted["use_fortimanager"]
    for field, default in DEFAULTS.items():
        if applies(field, mode, fmg) and after.get(field) is None:
            after[field] = list(default) if isinstance(default, list) else default
    after["authorization_token_set"] = token_set
    if mode not in ALLOWLIST_MODES:
        after["allowlist_url"] = None
    return after


def clean(doc):
    """The Knoc keys only: the document never carries a secret, even if a server added one."""
    return dict((key, doc.get(key)) for key in KNOC_KEYS) if doc else {}


def find(client, name):
    """The Knoc named ``name`` (exact, case-sensitive), or None."""
    matches = [k for k in client.list_knocs(name) if isinstance(k, dict) and k.get("name") == name]
    if len(matches) > 1:
        raise KnocknocError(None, "%d knocs are named %r" % (len(matches), name),
                            description="Ambiguous knoc name")
    return matches[0] if matches else None


def key_accepted(client, url, key, username):
    """Whether the allowlist accepts ``key`` (a read of the documented endpoint)."""
    if not url:
        raise KnocknocError(None, "the server reports no allowlist_url for this knoc",
                            description="Cannot check allowlist_api_key")
    try:
        client.allowlist(url, key, username)
    except KnocknocError as err:
        status = err.details.get("http_status")
        if status == 401:
            return False
        if status == 403:
            # unconfirmed in the reference: whether 403 means "key valid, source refused". Guessing
            # either way could hand FortiGates a wrong key or break a working one, so stop.
            raise KnocknocError(None, err.cause, description="Cannot check allowlist_api_key",
                                hint="The allowlist refused this host's address: add it to"
                                     " allowlist_ip_restrictions, or use allowlist_key=keep or rotate.",
                                details=err.details)
        raise
    return True


def present(client, p, check):
    """Plan and (unless ``check``) apply a present Knoc; returns ``(changed, before, after, changes,
    allowlist, result)``."""
    wanted = desired_state(p)
    current = find(client, wanted["name"])
    mode = wanted["mode"]
    sends_token = mode in DEVICE_MODES and (
        current is None or p["update_token"] == "always" or not current.get("authorization_token_set"))
    token_set = mode in DEVICE_MODES
    # Check mode sends nothing, so it can predict a creation whose token a previous task of the
    # same check run (an API user not created yet) could not provide.
    if sends_token and not check and not (p["authorization_token"] or "").strip():
        raise invalid("authorization_token is required when mode=%s and the Knoc %s (the server never returns the"
                      " token, so later runs with update_token=on_create may leave it out)"
                      % (mode, "does not exist yet" if current is None else "holds no token yet"
                         if p["update_token"] == "on_create" else "is updated with update_token=always"))
    result = {"allowlist_key_status": "none"}
    allowlist = None

    if current is None:
        changes = sorted(k for k, v in wanted.items() if v is not None)
        body = dict((k, v) for k, v in wanted.items() if v is not None)
        if sends_token:
            body["authorization_token"] = p["authorization_token"]
            changes = sorted(changes + ["authorization_token"])
        after = predict(None, wanted, token_set)
        if not check:
            after, allowlist = client.create_knoc(body)
        if mode in ALLOWLIST_MODES:
            result["allowlist_key_status"] = "new"
        return True, {}, after, changes, allowlist, result

    changes = [k for k, v in wanted.items() if not same(k, v, current.get(k))]
    had_allowlist = current.get("mode") in ALLOWLIST_MODES
    rotate = False
    if mode in ALLOWLIST_MODES and had_allowlist:
        if p["allowlist_key"] == "rotate":
            rotate = True
        elif p["allowlist_key"] == "ensure":
            key = p["allowlist_api_key"]
            rotate = not (key and key_accepted(client, current.get("allowlist_url"), key, "apikey"))
        result["allowlist_key_status"] = "rotated" if rotate else (
            "verified" if p["allowlist_key"] == "ensure" else "unchanged")
    elif mode in ALLOWLIST_MODES:
        result["allowlist_key_status"] = "new"  # the server creates the allowlist with the switch
    if sends_token:
        changes.append("authorization_token")
    after = predict(current, wanted, token_set)
    if changes and not check:
        body = dict(wanted)
        if sends_token:
            body["authorization_token"] = p["authorization_token"]
        after, allowlist = client.put_knoc(current["id"], body)
    if rotate and not check:
        allowlist = client.rotate_allowlist_key(current["id"])
    return bool(changes) or rotate, current, after, sorted(changes), allowlist, result


def require_knoc(client, name):
    """The Knoc named ``name``; a missing one raises (names are case-sensitive)."""
    knoc = find(client, name)
    if knoc is None:
        raise KnocknocError(None, "no Knoc named %r on %s (names are case-sensitive)" % (name, client.base_url),
                            description="Knoc not found")
    return knoc


# -- grants (modelled: a stand-in for a user signing in) ----------------------------------------------
def grant_ip(value, option="ip"):
    """The canonical text of a grant's address (one IPv4/IPv6 address, no prefix)."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise invalid("%s must be one IPv4 or IPv6 address, got %r" % (option, value))


def _same_ip(left, right):
    try:
        return ipaddress.ip_address(str(left).strip()) == ipaddress.ip_address(str(right).strip())
    except ValueError:
        return False


def matching_grants(grants, username=None, ip=None):
    """The grants of ``username`` (exact) and/or ``ip`` (any spelling), in the server's order."""
    return [g for g in grants or () if isinstance(g, dict)
            and (username is None or g.get("username") == username)
            and (ip is None or _same_ip(g.get("ip"), ip))]


def granted_ips(grants):
    """The distinct granted addresses (canonical), in grant order; unreadable ones as given."""
    ips = []
    for grant in grants or ():
        value = grant.get("ip") if isinstance(grant, dict) else None
        if value is None:
            continue
        try:
            value = str(ipaddress.ip_address(str(value).strip()))
        except ValueError:
            pass
        if value not in ips:
            ips.append(value)
    return ips
