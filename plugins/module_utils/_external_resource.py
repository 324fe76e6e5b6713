# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The FortiOS external resource that polls a Knocknoc allowlist: what the
``fortinet_external_resource`` module decides, and its two flows on the transports it is given
(``_fortigates`` for a FortiGate, ``FortiManagerClient`` for an ADOM object and its install): no
HTTP request or JSON-RPC envelope is built here, and FortiGates are read through FortiManager
only as ``_fortigates`` outcomes.

- :func:`validate` checks the options before any request (:class:`InvalidOption` names the option).
- :func:`desired_fields` and :func:`fields_for_version` give the FortiOS fields to manage, the
  latter dropping fields an older FortiOS lacks when the value is its only behaviour.
- :func:`plan_resource` plans the object's CRUD (the password is a secret: never compared nor shown).
- :func:`install_reason` and :func:`out_of_sync` decide whether a FortiManager install is due
  for an unchanged ADOM object, from what the FortiGates of the install scope hold.
- :func:`run_fortigate` and :func:`run_fortimanager` run the flows on the transports they are given.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import parse_version
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import (
    DirectFortiGate,
    ProxiedFortiGates,
    device_target,
    group_target,
    require_targets,
    resolve_targets,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    INVALID_URL,
    adom_url,
    connection_from_params,
    resolve_fortinet_params,
)
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
        # names only: the ADOM is adom, and the VDOM vdom (a full proxy path would name other ones)
        if not target or target != target.strip() or "/" in target:
            raise InvalidOption("targets must be device names, serial numbers or device group names, got %r" % target)


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


def execute(run, environ=None):
    """Run the module on the FortiGate, or the FortiManager, that the connection options name."""
    resolved = resolve_fortinet_params(run.params, environ)
    client = connection_from_params(resolved, environ)
    client.add_secret(run.params["password"])
    with client:
        if resolved.get("use_fortimanager"):
            client.lock_timeout = run.params["lock_timeout"]
            run_fortimanager(client, run, resolved["adom"], resolved["vdom"])
        else:
            run_fortigate(DirectFortiGate(client, resolved["vdom"]), run)


def _one(outcomes):
    """The value of a single FortiGate's answer, or its error raised."""
    return outcomes[0].get()


def run_fortigate(fortigate, run):
    """The resource on one FortiGate (``fortigate``: a ``_fortigates.FortiGates`` of one device, in
    the VDOM to manage)."""
    params = run.params
    name = params["name"]
    current = _one(fortigate.get_entry(TABLE, name))
    run.before = current
    desired = None
    if params["state"] == "present":
        desired = desired_fields(params)
        if version_bound_fields(desired):
            desired = fields_for_version(desired, _one(fortigate.system_status())["version"])
    plan = run.plan = plan_resource(params, current, desired)
    run.changed = plan.changed
    if not plan.changed or run.check_mode:
        run.after = plan.predict(current) if plan.changed else current
        return
    if plan.action == DELETE:
        _one(fortigate.delete(TABLE, name))
        run.written = True
        return
    if plan.action == CREATE:
        _one(fortigate.create(TABLE, plan.body))
    else:
        _one(fortigate.update(TABLE, name, plan.body))
    run.written = True
    run.after = _one(fortigate.get_entry(TABLE, name))


# -- FortiManager -----------------------------------------------------------------------------------
def object_url(adom, name=None):
    """The ADOM object's JSON-RPC URL (the table's without ``name``)."""
    return adom_url("/pm/config", adom, "obj/%s%s" % (TABLE, "" if name is None else "/" + name))


def package_scope(pkg, package, adom):
    """The installation targets of policy package ``pkg`` (``scope member``: devices with their
    VDOM, or device groups), as an install scope."""
    scope = pkg.get("scope member") if isinstance(pkg, dict) else None
    if not scope:
        raise KnocknocError(None, "policy package %s of ADOM %s has no installation targets" % (package, adom),
                            description="Nothing to install on",
                            hint="Give targets (device names, serial numbers or device groups), or set install=false.")
    return [dict((k, v) for k, v in item.items() if k in ("name", "vdom")) for item in scope if isinstance(item, dict)]


def targets_scope(targets, vdom):
    """The install scope for resolved ``targets`` (``_fortigates.Target``): each device in
    ``vdom``, each device group as a whole; a device without that VDOM is refused."""
    scope = []
    for target in targets:
        if target.device is None:
            member = {"name": target.path.rsplit("/", 1)[-1]}
        else:
            vdoms = target.vdoms
            if vdoms and vdom not in vdoms:
                raise KnocknocError(None, "FortiGate %s has no VDOM %s (it has %s)" % (
                    target.device, vdom, ", ".join(vdoms)), description="Invalid option",
                    hint="Set vdom to a VDOM of every target.", details={"target": target.label, "vdom": vdom})
            member = {"name": target.device, "vdom": vdom}
        if member not in scope:
            scope.append(member)
    return scope


def install_scope(fmg, params, adom, vdom):
    """Where to install: the named ``targets`` in ``vdom``, else the installation targets of the
    policy package (which must exist either way: the install goes through it)."""
    package = params["package"]
    try:
        pkg = fmg.get_or_none(adom_url("/pm/pkg", adom, package))
    except KnocknocError as err:
        # The ADOM is known by now (the object was read), so an invalid URL is the package path.
        if err.details.get("jsonrpc_code") != INVALID_URL:
            raise
        pkg = None
    if pkg is None:
        raise KnocknocError(None, "policy package %s does not exist in ADOM %s" % (package, adom),
                            description="FortiManager rejected the request",
                            hint="Set package to a policy package of the ADOM (FortiManager's default is 'default').",
                            details={"adom": adom, "package": package})
    if not params.get("targets"):
        return package_scope(pkg, package, adom)
    scope = targets_scope(require_targets(resolve_targets(fmg, params["targets"], adom)), vdom)
    check_in_package(fmg, scope, pkg, package, adom)
    return scope


def _group_devices(fmg, adom):
    """``{group: set of device names}`` of ``adom``, nested groups expanded (one get)."""
    data = fmg.call("get", adom_url("/dvmdb", adom, "group"), fields=["name"], option=["object member"])
    direct = {}
    for group in data if isinstance(data, list) else []:
        if isinstance(group, dict) and group.get("name"):
            direct[group["name"]] = [m.get("name") for m in group.get("object member") or [] if isinstance(m, dict)]

    def devices(name, seen):
        out = set()
        for member in direct.get(name, []):
            if member in direct:
                if member not in seen:
                    out |= devices(member, seen | {member})
            elif member:
                out.add(member)
        return out
    return dict((name, devices(name, {name})) for name in direct)


def check_in_package(fmg, scope, pkg, package, adom):
    """Refuse (before any write) an install ``scope`` outside the installation targets of ``pkg``:
    FortiManager installs a package only on its own targets (a device of its scope, directly or
    through one of its device groups). One more get, only when a member is not in the scope as is."""
    members = [m for m in (pkg.get("scope member") or []) if isinstance(m, dict)]
    devices = set((m.get("name"), m.get("vdom")) for m in members if "vdom" in m)
    groups = [m.get("name") for m in members if "vdom" not in m]
    pending = [m for m in scope if ((m["name"], m.get("vdom")) not in devices if "vdom" in m else m["name"] not in groups)]
    if not pending:
        return
    of_group = _group_devices(fmg, adom) if groups or any("vdom" not in m for m in pending) else {}
    covered = set(name for group in groups for name in of_group.get(group, ()))
    outside = []
    for member in pending:
        if "vdom" in member:
            # a device group covers its devices (in their VDOMs: the group names devices, not VDOMs)
            if member["name"] not in covered:
                outside.append("%s (VDOM %s)" % (member["name"], member["vdom"]))
        elif not of_group.get(member["name"]) or not of_group[member["name"]] <= (
                covered | set(name for name, _vdom in devices)):
            outside.append("group %s" % member["name"])
    if outside:
        targets = ", ".join("%s (VDOM %s)" % (m["name"], m["vdom"]) if "vdom" in m else "group %s" % m["name"]
                            for m in members) or "none"
        raise KnocknocError(None, "%s %s not an installation target of policy package %s in ADOM %s (its targets: %s)"
                            % (", ".join(outside), "is" if len(outside) == 1 else "are", package, adom, targets),
                            description="Invalid option",
                            hint="FortiManager installs a policy package only on its installation targets: give targets"
                                 " within them, add the devices to the package's installation targets, or set package to"
                                 " the package that covers them.",
                            details={"adom": adom, "package": package, "outside": outside})


def scope_fortigates(fmg, adom, vdom, scope):
    """The install scope as FortiGates to read through FortiManager, one way per VDOM: ``[(vdom, FortiGates)]``
    (a device group stands for its devices in ``vdom``). The targets are the resolver's
    (``_fortigates.device_target`` / ``group_target``: the global ADOM's too)."""
    by_vdom = {}
    for member in scope:
        if "vdom" in member:
            target = device_target(adom, member["name"])
        else:
            target = group_target(adom, member["name"])
        by_vdom.setdefault(member.get("vdom", vdom), []).append(target)
    return [(v, ProxiedFortiGates(fmg, targets, v)) for v, targets in sorted(by_vdom.items())]


def out_of_sync(fortigates, name, desired, overridden):
    """The FortiGates of ``fortigates`` (``[(vdom, FortiGates)]``) that lack resource ``name`` as
    ``desired``, one line each. A FortiGate that cannot be read counts (an install may repair
    it, and will say why it cannot); a failure of the whole call raises."""
    problems = []
    for vdom, fgts in fortigates:
        for outcome in fgts.get_entry(TABLE, name):
            if outcome.error is not None:
                if not outcome.error.details.get("target"):
                    raise outcome.error  # FortiManager refused the call itself: not a FortiGate's state
                problem = outcome.error.cause
            else:
                problem = compare_installed(desired, overridden, outcome.value)
            if problem:
                problems.append("%s (%s): %s" % (outcome.target, vdom, problem))
    return problems


def write_object(fmg, plan, adom, name):
    """Send the plan's write of the ADOM object."""
    if plan.action == DELETE:
        fmg.call("delete", object_url(adom, name))
    elif plan.action == CREATE:
        fmg.call("add", object_url(adom), data=plan.body)
    else:
        fmg.call("update", object_url(adom, name), data=dict(plan.body, name=name))


def run_fortimanager(fmg, run, adom, vdom):
    """The resource as an object of ``adom`` (``fmg``: a FortiManagerClient), installed on the
    FortiGates of the install scope (named targets in ``vdom``, or the package's)."""
    params, name = run.params, run.params["name"]
    current = fmg.get_or_none(object_url(adom, name), adom=adom)
    run.before = current
    absent = params["state"] == "absent"
    desired = None if absent else desired_fields(params)
    plan = run.plan = plan_resource(params, current, desired)

    # Everything the install needs is read before the first write, so that bad targets fail early.
    scope, reason = None, None
    if params["install"] and (plan.changed or not absent):
        scope = install_scope(fmg, params, adom, vdom)
        problems = []
        if not plan.changed:
            problems = out_of_sync(scope_fortigates(fmg, adom, vdom, scope), name, desired, overridden_fields(current))
        reason = install_reason(plan.changed, absent, problems)
    run.changed = plan.changed or reason is not None
    run.after = None if absent else plan.predict(current) if plan.changed and run.check_mode else current
    if not run.changed or run.check_mode:
        return

    with fmg.open_workspace(adom) as workspace:
        if plan.changed:
            write_object(fmg, plan, adom, name)
            run.written = True
        if reason is not None:
            if plan.changed:
                # FortiManager installs what is saved: commit before the install, still holding the lock
                # so that no one else's half-done change is installed with ours.
                workspace.commit()
            try:
                task = fmg.install_package(adom, params["package"], scope, flags=INSTALL_FLAGS)
            except KnocknocError as err:
                err.details["install_reason"] = reason
                raise
            run.written = True
            run.install = install_summary(task, scope, reason)
    if not absent:
        run.after = fmg.get_or_none(object_url(adom, name), adom=adom)
