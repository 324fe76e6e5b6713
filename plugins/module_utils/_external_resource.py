# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The FortiOS external resource that polls a Knocknoc allowlist: what the
``fortinet_external_resource`` module decides, without I/O of its own.

- :func:`validate` checks the options before any request (:class:`InvalidOption` names the option).
- :func:`desired_fields` and :func:`fields_for_version` give the FortiOS fields to manage, the
  latter dropping fields an older FortiOS lacks when the value is its only behaviour.
- :func:`send_password` says when the password (never read back) is sent.
- :func:`install_reason` and :func:`out_of_sync` decide whether a FortiManager install is due
  for an unchanged ADOM object, from what the FortiGates of the install scope hold.
- :func:`run_fortigate` and :func:`run_fortimanager` run the flows on the transports they are given.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import parse_version
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import diff_fields

TABLE = "system/external-resource"
# Limits of reference B4 (FortiOS CLI reference).
NAME_MAX = 35
RESOURCE_MAX = 511
USERNAME_MAX = 64
COMMENTS_MAX = 255
REFRESH_RANGE = (1, 43200)
# Options that only mean something on FortiManager.
FMG_ONLY = ("targets",)
# FortiManager's install copies every ADOM object with this flag (reference G3), so the resource
# reaches the FortiGates before a policy uses it.
INSTALL_FLAGS = ("cp_all_objs",)
# The fields shown in the diff (the password only as a placeholder).
DIFF_KEYS = ("name", "type", "status", "update-method", "resource", "username", "password", "refresh-rate",
             "server-identity-check", "comments")

# Fields that older FortiOS versions lack, with the value that is then their only behaviour (so it
# is accepted and not sent), the option that sets them and the versions that have them.
IMPLICIT = {"update-method": "feed", "server-identity-check": "none"}
OPTION_OF = {"update-method": "update_method", "server-identity-check": "server_identity_check"}
NEEDS = {"update-method": "FortiOS 7.2.1 or later",
         "server-identity-check": "FortiOS 7.0.8 to 7.0.12 or 7.2.4 or later"}


class InvalidOption(Exception):
    """Input refused before any API call, or a field the FortiGate's version lacks."""


def validate(params):
    """Check the options; raises :class:`InvalidOption` naming the option."""
    name = params["name"]
    if not name:
        raise InvalidOption("name must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidOption("name must be at most %d characters (the FortiOS limit), got %d" % (NAME_MAX, len(name)))
    if name != name.strip():
        raise InvalidOption("name must not start or end with whitespace: it must equal the Knoc's External"
                            " Connector Name exactly")
    if params["use_fortimanager"] and "/" in name:
        # unconfirmed in the reference: how FortiManager escapes "/" of an object name in a URL.
        raise InvalidOption("name must not contain '/' with use_fortimanager=true")
    if not params["use_fortimanager"]:
        for option in FMG_ONLY:
            if params.get(option):
                raise InvalidOption("%s is only used with use_fortimanager=true" % option)
    if params["state"] == "present":
        validate_resource(params)
    if params["username"] is not None and len(params["username"]) > USERNAME_MAX:
        raise InvalidOption("username must be at most %d characters" % USERNAME_MAX)
    if params["password"] is not None and params["password"] == "":
        raise InvalidOption("password must not be empty (leave it unset to keep the current one)")
    low, high = REFRESH_RANGE
    if not low <= params["refresh_rate"] <= high:
        raise InvalidOption("refresh_rate must be between %d and %d minutes, got %d" % (low, high, params["refresh_rate"]))
    if params["comments"] is not None and len(params["comments"]) > COMMENTS_MAX:
        raise InvalidOption("comments must be at most %d characters" % COMMENTS_MAX)
    if params["lock_timeout"] < 0:
        raise InvalidOption("lock_timeout must be 0 or more seconds")
    if not params["package"]:
        raise InvalidOption("package must not be empty")
    for target in params.get("targets") or []:
        if not target or target != target.strip():
            raise InvalidOption("targets must be device names or serial numbers, got %r" % target)


def validate_resource(params):
    """The allowlist URL: https, a host, no credentials, no whitespace, within FortiOS' length."""
    resource = params["resource"]
    if resource is None:
        if params["update_method"] == "push":
            return
        raise InvalidOption("resource (the allowlist URL) is required with state=present unless update_method=push")
    if len(resource) > RESOURCE_MAX:
        raise InvalidOption("resource must be at most %d characters (the FortiOS limit), got %d"
                            % (RESOURCE_MAX, len(resource)))
    if any(c.isspace() for c in resource):
        raise InvalidOption("resource must not contain whitespace")
    try:
        parts = urlsplit(resource)
        if parts.port == 0:  # reading .port raises ValueError for a port that is not a number
            raise ValueError("port 0")
    except ValueError as exc:
        raise InvalidOption("resource is not a valid URL: %s" % exc)
    if "@" in parts.netloc:
        # Knocknoc's checklist: credentials use the separate credentials format, not the URL.
        raise InvalidOption("resource must not contain credentials (user:password@); give them as username and"
                            " password (HTTP Basic authentication)")
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise InvalidOption("resource must be an https:// URL with a host name (the allowlist key would travel in"
                            " clear text over http)")


def desired_fields(params):
    """The FortiOS fields the user manages (unset options are left alone)."""
    fields = {
        "type": "address",
        "status": params["status"],
        "resource": params["resource"],
        "username": params["username"],
        "refresh-rate": params["refresh_rate"],
        "update-method": params["update_method"],
        "server-identity-check": params["server_identity_check"],
        "comments": params["comments"],
    }
    return dict((k, v) for k, v in fields.items() if v is not None)


def fortios_supports(version, field):
    """Whether FortiOS ``version`` has ``field`` (reference B4's version ranges)."""
    v = parse_version(version)
    if not v:
        return True  # unknown version: let the FortiGate decide
    if field == "update-method":
        return v >= (7, 2, 1)
    if field == "server-identity-check":
        return (7, 0, 8) <= v < (7, 1, 0) or v >= (7, 2, 4)
    return True


def version_bound_fields(desired):
    """The fields of ``desired`` that some FortiOS versions lack (asking the version is then due)."""
    return [field for field in IMPLICIT if field in desired]


def fields_for_version(desired, version):
    """``desired`` for a FortiGate running FortiOS ``version``: a field that version lacks is
    dropped when its value is that version's only behaviour, and refused otherwise."""
    fields = dict(desired)
    for field in version_bound_fields(desired):
        if fortios_supports(version, field):
            continue
        if fields[field] != IMPLICIT[field]:
            raise InvalidOption("%s=%s needs %s; the FortiGate runs FortiOS %s" % (
                OPTION_OF[field], fields[field], NEEDS[field], version))
        del fields[field]
    return fields


def send_password(params, current):
    """Whether to send the password: on create, when the device has none, or always if asked."""
    if params["password"] is None:
        return False
    if current is None or params["update_password"] == "always":
        return True
    # An empty value means no password is set (secrets read back masked only when set).
    return not current.get("password")


def overridden_fields(obj):
    """The fields a FortiManager object's per-device mappings (``dynamic_mapping``) override:
    a FortiGate may rightly differ from the ADOM object in those."""
    overridden = set()
    for mapping in (obj or {}).get("dynamic_mapping") or []:
        if isinstance(mapping, dict):
            overridden.update(k for k in mapping if k != "_scope")
    return overridden


def compare_installed(desired, overridden, entry):
    """What a FortiGate's copy lacks: ``"missing"``, ``"differs in a, b"``, or None when it
    holds the resource as ``desired`` (fields the ADOM maps per device and fields the
    FortiGate does not have are not compared)."""
    if entry is None:
        return "missing"
    compare = dict((k, v) for k, v in desired.items() if k not in overridden)
    differs = [k for k in diff_fields(compare, entry) if k in entry]
    if differs:
        return "differs in %s" % ", ".join(differs)
    return None


def install_reason(object_changed, absent, problems):
    """Why an install runs (None: it does not): the ADOM object changed, or FortiGates of the
    scope lack it as configured (``problems``, one line each)."""
    if object_changed:
        return "object %s" % ("deleted" if absent else "changed")
    if problems:
        return "not installed as configured on " + "; ".join(problems)
    return None


def install_summary(task, scope, reason):
    """The ``install`` result: why, the task's id, state and error count, the scope, and one line per device."""
    lines = task.get("line") if isinstance(task.get("line"), list) else []
    return {
        "reason": reason,
        "task": task.get("id"),
        "state": task.get("state"),
        "num_err": int(task.get("num_err") or 0),
        "scope": scope,
        "devices": [dict((k, line.get(k)) for k in ("name", "vdom", "state", "detail"))
                    for line in lines if isinstance(line, dict)],
    }
