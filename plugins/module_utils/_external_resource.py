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

from urllib.parse import quote, urlsplit

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import parse_version
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import device_target, group_target
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import CREATE, DELETE, diff_fields, plan_object

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


def plan_resource(params, current, desired):
    """The CRUD plan of the resource: ``desired`` fields (None with state=absent), the password
    as a secret sent on creation, then as ``update_password`` says."""
    fields = dict(desired, name=params["name"]) if desired is not None else {}
    secrets = {"password": params["password"]} if params["password"] is not None else None
    update = "always" if params["update_password"] == "always" else "when_unset"
    return plan_object(current, fields, params["state"], secrets=secrets, update_secrets=update,
                       diff_keys=DIFF_KEYS, hide=("password",))


class Run(object):
    """One run of the module: what was read, planned and written (``written`` survives a failure,
    so that a failed run still reports ``changed`` when something was written)."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self.changed = False
        self.written = False
        self.before = None
        self.after = None
        self.plan = None
        self.install = None

    @property
    def changed_fields(self):
        if self.plan is None or not self.plan.changed:
            return []
        # a deletion "changes" the name, so that changed_fields is never empty for a change of the object
        return ["name"] if self.plan.action == DELETE else list(self.plan.changed_fields)

    def output(self):
        """What the module returns: the resource (secrets hidden), the fields written, the diff, the install."""
        out = {"changed": self.changed, "resource": self.plan.hide(self.after) or {},
               "changed_fields": self.changed_fields}
        if self.changed:
            out["diff"] = {"before": self.plan.view(self.before), "after": self.plan.view(self.after, updated=True)}
        if self.install is not None:
            out["install"] = self.install
        return out


def run_fortigate(fortigate, run):
    """The resource on one FortiGate (``fortigate``: the FortiGate interface, in the VDOM to manage)."""
    params = run.params
    name = params["name"]
    current = fortigate.get_entry(TABLE, name)
    run.before = current
    desired = None
    if params["state"] == "present":
        desired = desired_fields(params)
        if version_bound_fields(desired):
            desired = fields_for_version(desired, fortigate.system_status()["version"])
    plan = run.plan = plan_resource(params, current, desired)
    run.changed = plan.changed
    if not plan.changed or run.check_mode:
        run.after = plan.predict(current) if plan.changed else current
        return
    if plan.action == DELETE:
        fortigate.delete(TABLE, name)
        run.written = True
        return
    if plan.action == CREATE:
        fortigate.create(TABLE, plan.body)
    else:
        fortigate.update(TABLE, name, plan.body)
    run.written = True
    run.after = fortigate.get_entry(TABLE, name)


# -- FortiManager -----------------------------------------------------------------------------------
def fmg_object_url(adom, name=None):
    url = "/pm/config/adom/%s/obj/%s" % (adom, TABLE)
    return url if name is None else "%s/%s" % (url, name)


def fmg_get_object(client, adom, name):
    try:
        return client.call("get", fmg_object_url(adom, name))
    except KnocknocError as err:
        code = err.details.get("jsonrpc_code")
        if code == -3:
            return None
        if code == -6:
            raise KnocknocError(None, "ADOM %s does not exist on FortiManager (JSON-RPC status -6 on get %s)" % (
                adom, fmg_object_url(adom, name)), description="FortiManager rejected the request",
                hint="Check adom: it must name an ADOM exactly as FortiManager shows it.", details=err.details)
        raise


def fmg_scope(client, params, adom, vdom):
    """The install scope: the named targets in ``vdom``, or the package's installation targets."""
    package = params["package"]
    try:
        pkg = client.call("get", "/pm/pkg/adom/%s/%s" % (adom, package))
    except KnocknocError as err:
        if err.details.get("jsonrpc_code") in (-3, -6):
            raise KnocknocError(None, "policy package %s does not exist in ADOM %s" % (package, adom),
                                description="FortiManager rejected the request",
                                hint="Set package to a policy package of the ADOM (FortiManager's default is"
                                     " 'default').", details=err.details)
        raise
    targets = params.get("targets")
    if not targets:
        scope = (pkg or {}).get("scope member") if isinstance(pkg, dict) else None
        if not scope:
            raise KnocknocError(None, "policy package %s of ADOM %s has no installation targets" % (package, adom),
                                description="Nothing to install on",
                                hint="Give targets (device names or serial numbers), or set install=false.")
        return [dict((k, v) for k, v in item.items() if k in ("name", "vdom")) for item in scope]
    devices = client.call("get", "/dvmdb/adom/%s/device" % adom, fields=["name", "sn", "vdom"]) or []
    scope = []
    for target in targets:
        found = [d for d in devices if isinstance(d, dict) and target in (d.get("name"), d.get("sn"))]
        if not found:
            raise KnocknocError(202101, cause="no FortiGate named %s (name or serial number) in ADOM %s" % (target, adom),
                                details={"target": target, "adom": adom})
        device = found[0]
        vdoms = [v.get("name") for v in device.get("vdom") or [] if isinstance(v, dict)]
        if vdoms and vdom not in vdoms:
            raise KnocknocError(None, "FortiGate %s has no VDOM %s (it has %s)" % (device["name"], vdom,
                                                                                   ", ".join(vdoms)),
                                description="Invalid option", hint="Set vdom to a VDOM of every target.",
                                details={"target": target, "vdom": vdom})
        member = {"name": device["name"], "vdom": vdom}
        if member not in scope:
            scope.append(member)
    return scope


def fmg_out_of_sync(client, adom, vdom, scope, name, desired, overridden):
    """The FortiGates of ``scope`` that lack the resource as ``desired`` (read through the proxy)."""
    by_vdom = {}
    for member in scope:
        if "vdom" in member:
            by_vdom.setdefault(member["vdom"], []).append(device_target(adom, member["name"]))
        else:
            by_vdom.setdefault(vdom, []).append(group_target(adom, member["name"]))
    problems = []
    for member_vdom, targets in sorted(by_vdom.items()):
        resource = "/api/v2/cmdb/%s/%s?vdom=%s" % (TABLE, quote(name, safe=""), quote(member_vdom, safe=""))
        for item in client.proxy("get", resource, targets=targets):
            where = "%s (%s)" % (item["target"], member_vdom)
            if item["status_code"] != 0:
                problems.append("%s: %s" % (where, item["status_message"] or "unreachable"))
                continue
            response = item["response"] if isinstance(item["response"], dict) else {}
            results = response.get("results")
            entry = results[0] if item["ok"] and isinstance(results, list) and results else None
            problem = compare_installed(desired, overridden, entry)
            if problem:
                problems.append("%s: %s" % (where, problem))
    return problems


def run_fortimanager(client, run, adom, vdom):
    """The resource as an object of ``adom``, installed on the FortiGates (``vdom`` for named targets)."""
    params, name = run.params, run.params["name"]
    current = fmg_get_object(client, adom, name)
    run.before = current
    absent = params["state"] == "absent"
    desired = None if absent else desired_fields(params)
    plan = run.plan = plan_resource(params, current, desired)
    object_changes = plan.changed

    # Everything the install needs is read before the first write, so that bad targets fail early.
    scope, reason = None, None
    if params["install"] and (object_changes or not absent):
        scope = fmg_scope(client, params, adom, vdom)
        problems = []
        if not object_changes:
            problems = fmg_out_of_sync(client, adom, vdom, scope, name, desired, overridden_fields(current))
        reason = install_reason(object_changes, absent, problems)
    run.changed = object_changes or reason is not None
    run.after = plan.predict(current) if object_changes and run.check_mode else current
    if absent:
        run.after = None
    if not run.changed or run.check_mode:
        return

    with client.workspace(adom) as locked:
        if object_changes:
            if plan.action == DELETE:
                client.call("delete", fmg_object_url(adom, name))
            elif plan.action == CREATE:
                client.call("add", fmg_object_url(adom), data=plan.body)
            else:
                client.call("update", fmg_object_url(adom, name), data=dict(plan.body, name=name))
            run.written = True
        if reason is not None:
            if locked and object_changes:
                # FortiManager installs what is saved: commit before the install, still holding the lock
                # so that no one else's half-done change is installed with ours.
                client.call("exec", "/dvmdb/adom/%s/workspace/commit" % adom)
            try:
                task = client.install_package(adom, params["package"], scope, flags=INSTALL_FLAGS)
            except KnocknocError as err:
                err.details["install_reason"] = reason
                raise
            run.written = True
            run.install = install_summary(task, scope, reason)
    if not absent:
        run.after = fmg_get_object(client, adom, name)
