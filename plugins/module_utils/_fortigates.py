# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiGates as one interface, reached directly or through FortiManager.

A module that works on FortiGates asks :func:`fortigates_from_params` for a :class:`FortiGates`
and calls its methods (``get_table``, ``add_member``, ``entry_list``, ``dynamic_push``...). It never
builds a JSON-RPC URL, a proxy target, reads a proxy envelope or looks at an HTTP status:

- :class:`DirectFortiGate` is one FortiGate over its REST API (a ``FortiGateClient``);
- :class:`ProxiedFortiGates` is N FortiGates behind FortiManager: every method is ONE
  ``exec /sys/proxy/json`` request whatever the number of devices (a grant to 50 FortiGates
  stays one call), with a proxy ``timeout`` a second below the client's read timeout.

Every method returns a list of :class:`Outcome`, one per FortiGate that answered (group targets
fan out into their devices) plus one per target that could not be reached at all. Both ways
read the FortiOS answer with the same function (``_fortigate.read_reply``), so the agent codes
are the same: 401 -> 202001, 403 -> 202002, a FortiOS error -> no agent code (the caller may
``recode``; a duplicate on ``add_member`` is the value False, a 404 on ``remove_member``/``delete``
too), a wrong shape -> 202150; through FortiManager also: device unreachable (-20042) ->
202000, another per-device status -> no agent code, no answer for a device -> 202150, an unknown
target -> 202101 (:func:`resolve_targets`). On top, for both ways alike: an external resource
that does not exist -> 202102 (``entry_list``), refused push commands -> 202102 when FortiOS
says the resource does not exist, else 202100 (``dynamic_push``).
"""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import resolve_fortinet_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import (
    Reply,
    add_member_call,
    create_call,
    delete_call,
    dynamic_push_call,
    entry_list_call,
    failed_commands,
    get_entry_call,
    get_table_call,
    monitor_get_call,
    monitor_post_call,
    policy_lookup_call,
    read_reply,
    remove_member_call,
    system_status_call,
    update_call,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    DEFAULT_TARGET_GROUP,
    GLOBAL_ADOM,
    INVALID_URL,
    FortiManagerClient,
    adom_url,
    connection_from_params,
    target_path,
    unknown_adom_error,
)

UNREACHABLE = -20042  # per-device proxy status "Device Unreachable" (Fortinet's Ansible table, reference H2)
PROXY = "/sys/proxy/json"


class Outcome(object):
    """One FortiGate's answer to one call.

    :ivar target: the FortiGate as results name it: its URL (direct), its device name (through
        FortiManager), or the target as given when FortiManager refused the whole call.
    :ivar serial: its serial number, when its reply carried one.
    :ivar version: its FortiOS version (``7.4.4``), when its reply carried one.
    :ivar value: what the call returns (see each method); None on error.
    :ivar error: a :class:`KnocknocError`, or None.
    """

    def __init__(self, target, value=None, error=None, serial=None, version=None):
        self.target = target
        self.value = value
        self.error = error
        self.serial = serial
        self.version = version

    @property
    def ok(self):
        return self.error is None

    @property
    def too_large(self):
        """The FortiGate (or FortiManager) refused the body as too large (HTTP 413): split and retry."""
        return self.error is not None and self.error.details.get("http_status") == 413

    def get(self):
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value

    def __repr__(self):
        return "Outcome(%r, value=%r, error=%r)" % (self.target, self.value, self.error)


class Target(object):
    """A proxy target: ``label`` (as results name it), ``path`` (what FortiManager takes),
    ``device`` (the device name when it is one known device), ``vdoms`` (its VDOM names, when the
    look-up listed them) and ``error`` (why it cannot be used, e.g. 202101)."""

    def __init__(self, label, path=None, device=None, error=None, vdoms=None):
        self.label = label
        self.path = path
        self.device = device
        self.error = error
        self.vdoms = vdoms

    def __repr__(self):
        return "Target(%r, %r)" % (self.label, self.path)


def _envelope_facts(data):
    if not isinstance(data, dict):
        return None, None
    version = str(data.get("version") or "").lstrip("vV") or None
    return data.get("serial") or None, version


class FortiGates(object):
    """What every way to FortiGates offers. Subclasses implement :meth:`run`.

    Methods mirror ``FortiGateClient``'s (same arguments, without ``vdom``: the object's) and
    return ``[Outcome]``; ``Outcome.value`` is what the client method returns.
    """

    vdom = "root"

    def run(self, call):
        """Run one ``_fortigate.FortiOSCall`` on every FortiGate: ``[Outcome]``."""
        raise NotImplementedError

    def only(self, targets):
        """The same way, narrowed to the FortiGates named by ``targets`` (``Outcome.target`` values)."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- CMDB ---------------------------------------------------------------------------------------
    def get_table(self, path, filters=None, fields=None, params=None):
        return self.run(get_table_call(path, filters, fields, params))

    def get_entry(self, path, mkey, fields=None):
        return self.run(get_entry_call(path, mkey, fields))

    def create(self, path, data):
        return self.run(create_call(path, data))

    def update(self, path, mkey, data):
        return self.run(update_call(path, mkey, data))

    def delete(self, path, mkey):
        return self.run(delete_call(path, mkey))

    def add_member(self, path, mkey, member, attr="member"):
        """``value``: True when added, False when ``member`` already was one (FortiOS -5/-15)."""
        return self.run(add_member_call(path, mkey, member, attr))

    def remove_member(self, path, mkey, member, attr="member"):
        """``value``: True when removed, False when it was not a member (404)."""
        return self.run(remove_member_call(path, mkey, member, attr))

    # -- monitor ------------------------------------------------------------------------------------
    def monitor_get(self, path, params=None):
        return self.run(monitor_get_call(path, params))

    def monitor_post(self, path, data=None, params=None, idempotent=False):
        return self.run(monitor_post_call(path, data, params, idempotent))

    def system_status(self):
        """``value``: ``{"version", "serial", "build", "hostname", "model"}``."""
        return self.run(system_status_call())

    def policy_lookup(self, srcintf, sourceip, dest, protocol="tcp", destport=None, sourceport=None, **extra):
        """``value``: FortiOS' policy-lookup ``results`` (``policy_id`` 0 = implicit deny)."""
        return self.run(policy_lookup_call(srcintf, sourceip, dest, protocol, destport, sourceport, **extra))

    def entry_list(self, name):
        """``value``: the external resource's entry-list ``results`` object (reference C2).
        A resource that does not exist (HTTP 404) is error 202102."""
        outcomes = self.run(entry_list_call(name))
        for outcome in outcomes:
            if outcome.error is None and outcome.value is None:
                outcome.error = feed_missing(name, outcome.target, "(VDOM %s) does not exist: entry-list answered"
                                             " HTTP 404" % self.vdom)
        return outcomes

    def dynamic_push(self, commands):
        """``value``: the per-command ``results`` (``invalidEntries`` inside). Refused commands are
        202102 (the resource does not exist) or 202100; ``too_large`` says the body must be split."""
        commands = list(commands)
        outcomes = self.run(dynamic_push_call(commands))
        name = commands[0].get("name") if commands else None
        for outcome in outcomes:
            if outcome.error is not None and outcome.error.details.get("results"):
                outcome.error = command_error(name, outcome.target, outcome.error.details["results"],
                                              outcome.error.cause)
        return outcomes


def feed_missing(name, target, cause):
    """202102: external resource ``name`` is not on ``target``."""
    return KnocknocError(202102, cause="external resource %r %s on %s" % (name, cause, target),
                         details={"target": target, "name": name})


def command_error(name, target, results, cause):
    """The error for the refused commands of a push reply: 202102 when FortiOS says the
    resource does not exist, else 202100."""
    failed = failed_commands(results)
    texts = "; ".join("%s: %s" % (r.get("command"), r.get("error") or "error") for r in failed) or cause
    details = {"target": target, "results": failed}
    missing = any("not exist" in str(r.get("error", "")).lower() or "not found" in str(r.get("error", "")).lower()
                  for r in failed)
    return KnocknocError(202102 if missing else 202100, cause="%s refused the push to external resource %r: %s" % (
        target, name, texts), details=details)


class DirectFortiGate(FortiGates):
    """One FortiGate over its REST API (``client``: a ``FortiGateClient``); ``Outcome.target``
    is its URL."""

    def __init__(self, client, vdom=None):
        self.client = client
        self.vdom = vdom or client.vdom
        self.label = client.base_url

    def run(self, call):
        try:
            value, reply = self.client.answer(call, self.vdom)
        except KnocknocError as err:
            return [Outcome(self.label, error=err)]
        serial, version = _envelope_facts(reply.data)
        return [Outcome(self.label, value, serial=serial, version=version)]

    def only(self, targets):
        return self

    def close(self):
        self.client.close()


class ProxiedFortiGates(FortiGates):
    """FortiGates behind FortiManager (``fmg``: a ``FortiManagerClient``), through
    ``exec /sys/proxy/json`` (reference H): one request per method call, whatever the targets.

    :param targets: :class:`Target` list from :func:`resolve_targets`.
    :param vdom: the FortiGates' VDOM.
    :param timeout: seconds FortiManager waits for the devices (default ``fmg.proxy_timeout``:
        one second below the client's read timeout, so that FortiManager reports slow devices first).
    """

    def __init__(self, fmg, targets, vdom="root", timeout=None):
        self.fmg = fmg
        self.targets = list(targets)
        self.vdom = vdom or "root"
        self.timeout = fmg.proxy_timeout if timeout is None else timeout
        adoms = set(t.path.split("/")[1] for t in self.targets if t.path and t.path.startswith("adom/"))
        self._adom = adoms.pop() if len(adoms) == 1 and all(
            t.path is None or t.path.startswith("adom/") for t in self.targets) else None

    def device_path(self, device):
        # Devices reached through groups carry no ADOM in the reply; the ADOM-less form is
        # documented (H1) for when the targets span several ADOMs.
        return target_path("device", device, self._adom)

    def only(self, targets):
        known = dict((t.label, t) for t in self.targets)
        chosen = [known.get(label) or Target(label, self.device_path(label), device=label) for label in targets]
        narrowed = ProxiedFortiGates(self.fmg, chosen, self.vdom, self.timeout)
        narrowed._adom = self._adom
        return narrowed

    def close(self):
        self.fmg.close()

    def run(self, call):
        unusable = [Outcome(t.label, error=t.error) for t in self.targets if t.error is not None]
        usable = [t for t in self.targets if t.error is None]
        if not usable:
            return unusable
        resource = call.resource(self.vdom)
        try:
            items = self.fmg.proxy(call.method.lower(), resource, payload=call.body, targets=[t.path for t in usable],
                                   timeout=self.timeout, idempotent=call.idempotent)
        except KnocknocError as err:
            if err.details.get("jsonrpc_code") == INVALID_URL:
                # FortiManager's answer for a target in an ADOM it does not know
                err = unknown_adom_error(self._adom or self.fmg.adom, err.cause, err.details, self.fmg.secrets)
            return unusable + [Outcome(t.label, error=err) for t in usable]
        outcomes = []
        for item in items:
            outcomes.append(self._outcome(call, item, resource))
        answered = set(o.target for o in outcomes)
        for target in usable:
            if target.device is not None and target.device not in answered:
                outcomes.append(Outcome(target.device, error=KnocknocError(
                    202150, cause="FortiManager returned no answer for %s" % target.device,
                    details={"target": target.device})))
        return unusable + outcomes

    def _outcome(self, call, item, resource):
        label = item.get("target")
        where = "%s %s on %s through FortiManager" % (call.method, resource, label)
        if item["status_code"] != 0:
            code = 202000 if item["status_code"] == UNREACHABLE else None
            error = KnocknocError(code, cause="FortiManager could not reach %s: JSON-RPC status %s %r" % (
                label, item["status_code"], item["status_message"]),
                description=None if code else "FortiManager could not reach the FortiGate",
                details={"target": label, "jsonrpc_code": item["status_code"]}, secrets=self.fmg.secrets)
            return Outcome(label, error=error)
        response = item.get("response")
        if not isinstance(response, dict):
            return Outcome(label, error=KnocknocError(202150, cause="FortiManager returned no FortiOS reply for %s"
                                                      % label, details={"target": label}))
        serial, version = _envelope_facts(response)
        reply = Reply(int(item.get("http_status") or 200), response, label, where, self.vdom, self.fmg.secrets)
        try:
            value = read_reply(call, reply)
        except KnocknocError as err:
            err.details.setdefault("target", label)
            return Outcome(label, error=err, serial=serial, version=version)
        return Outcome(label, value, serial=serial, version=version)


# -- targets ---------------------------------------------------------------------------------------------
def _parse_path(text):
    """``adom/<a>/device/<d>`` or ``adom/<a>/group/<g>`` -> (adom, kind, name); else None."""
    parts = text.split("/")
    if len(parts) == 4 and parts[0] == "adom" and all(parts) and parts[2] in ("device", "group"):
        return parts[1], parts[2], parts[3]
    return None


def is_target(text):
    """Whether ``text`` is a valid target: a name (device, serial number or group) or a full
    ``adom/<adom>/device/<device>`` / ``adom/<adom>/group/<group>`` path."""
    return bool(text and text.strip()) and ("/" not in text or _parse_path(text) is not None)


def resolve_targets(fmg, requested=None, adom=None, expand=False):
    """FortiGates named by the user -> :class:`Target` list for :class:`ProxiedFortiGates`.

    ``requested`` items: a device name, a serial number, a device group name (all looked up in
    ``adom``, default the client's), or a full ``adom/<a>/device/<d>`` / ``adom/<a>/group/<g>``
    path; none means the group ``All_FortiGate`` of ``adom``. In the global ADOM names are
    looked up over every ADOM and sent in the ADOM-less forms ``device/<d>`` / ``group/<g>``
    (reference H1).

    Without ``expand``, groups and full paths go to FortiManager as they are (it fans out, and
    refuses unknown ones with 202101) and only bare names are looked up: one request (devices
    and groups) when there are any, none otherwise. With ``expand`` every target becomes its
    devices (``Target.device`` set): one request per ADOM involved (devices, and groups with
    their members).

    Never raises: a name FortiManager does not know is a target whose ``error`` is 202101; a
    failed look-up is the ``error`` of every target that needed it (an ADOM FortiManager does
    not know is :func:`unknown_adom_error`, 202101 too). :func:`require_targets` raises them.
    """
    adom = adom or fmg.adom
    requested = list(requested or [])
    need = [adom] if expand and not requested else []
    for text in requested:
        parsed = _parse_path(text)
        if parsed is None and "/" not in text:
            need.append(adom)
        elif parsed is not None and expand:
            need.append(parsed[0])
    lookups = dict((name, _lookup(fmg, name, expand)) for name in sorted(set(need)))
    if not requested:
        found = _group(adom, DEFAULT_TARGET_GROUP, lookups.get(adom), None)
    else:
        found = []
        for text in requested:
            parsed = _parse_path(text)
            if parsed is None and "/" in text:
                found.append(_unknown(text, adom, "a name nor an adom/<adom>/device|group/<name> path"))
            elif parsed is None:
                found.extend(_named(text, adom, lookups[adom], expand))
            elif not expand:
                found.append(Target(text, text))
            elif parsed[1] == "device":
                found.extend(_device(parsed[0], parsed[2], lookups[parsed[0]], text))
            else:
                found.extend(_group(parsed[0], parsed[2], lookups[parsed[0]], text))
    out, paths = [], set()
    for target in found:
        if target.error is not None or target.path not in paths:
            out.append(target)
            paths.add(target.path)
    return out


def require_targets(targets):
    """The targets, when every one is usable; else raise the first error (one error naming all
    the unusable targets when there are several)."""
    bad = [t for t in targets if t.error is not None]
    if not bad:
        return targets
    first = bad[0].error
    if len(bad) == 1:
        raise first
    raise KnocknocError(first.code, cause="; ".join(t.error.cause for t in bad),
                        description=None if first.code else first.description,
                        details={"targets": [t.label for t in bad]})


def _lookup(fmg, adom, members):
    """``(devices, groups)`` of ``adom`` in one request: devices ``[{"name", "sn"}]``, groups
    ``{name: [member names] or None}`` (members only when asked for; the global ADOM has no
    group list), or the :class:`KnocknocError` of the look-up."""
    if adom == GLOBAL_ADOM:
        params = [{"url": "/dvmdb/device", "fields": ["name", "sn", "vdom"]}]
    else:
        params = [{"url": adom_url("/dvmdb", adom, "device"), "fields": ["name", "sn", "vdom"]},
                  {"url": adom_url("/dvmdb", adom, "group"), "fields": ["name"]}]
        if members:
            params[1]["option"] = ["object member"]
    try:
        result = fmg.rpc("get", params)
    except KnocknocError as err:
        return err
    for param, item in zip(params, result):
        code = item["status"].get("code")
        if code == INVALID_URL:
            return unknown_adom_error(adom, "JSON-RPC status -6 on get %s" % param["url"],
                                      {"jsonrpc_code": code, "url": param["url"]}, fmg.secrets)
        if code != 0:
            return fmg.jsonrpc_error("get", param["url"], item["status"])
    devices = [d for d in result[0].get("data") or [] if isinstance(d, dict) and d.get("name")]
    groups = {}
    for group in (result[1].get("data") or []) if len(result) > 1 else []:
        if isinstance(group, dict) and group.get("name"):
            groups[group["name"]] = [m.get("name") for m in group.get("object member") or []
                                     if isinstance(m, dict)] if members else None
    return devices, groups


def device_target(adom, name, vdoms=None):
    """The :class:`Target` of FortiGate ``name`` (a device name FortiManager knows) of ``adom``,
    in the form FortiManager takes (``_fortimanager.target_path``: ADOM-less in the global ADOM)."""
    path = target_path("device", name, adom)
    return Target(path, path, device=name, vdoms=vdoms)


def group_target(adom, name, label=None):
    """The :class:`Target` of device group ``name`` of ``adom`` as a whole (FortiManager fans out)."""
    path = target_path("group", name, adom)
    return Target(label or path, path)


def _devices(adom, names, looked_up=()):
    # looked_up: the look-up's device dicts, for their VDOM names (fields name, sn, vdom)
    vdoms = dict((d.get("name"), [v.get("name") for v in d.get("vdom") or [] if isinstance(v, dict)] or None)
                 for d in looked_up)
    return [device_target(adom, n, vdoms.get(n)) for n in names]


def _unknown(text, adom, what):
    return Target(text, error=KnocknocError(
        202101, cause="%r is not %s of ADOM %s (names and serial numbers are case-sensitive)" % (text, what, adom),
        details={"target": text, "adom": adom}))


def _named(text, adom, lookup, expand):
    """A bare name: a device (by name or serial number), else a group of ``adom``."""
    if isinstance(lookup, KnocknocError):
        return [Target(text, error=lookup)]
    devices, groups = lookup
    device = next((d["name"] for d in devices if text in (d.get("name"), d.get("sn"))), None)
    if device:
        return _devices(adom, [device], devices)
    if text in groups or adom == GLOBAL_ADOM:
        # (no group list in the global ADOM: FortiManager resolves the name, 202101 if unknown)
        return _group(adom, text, lookup if expand else None, None)
    return [_unknown(text, adom, "a device nor a device group")]


def _device(adom, name, lookup, label):
    if isinstance(lookup, KnocknocError):
        return [Target(label, error=lookup)]
    device = next((d["name"] for d in lookup[0] if name in (d.get("name"), d.get("sn"))), None)
    return _devices(adom, [device], lookup[0]) if device else [_unknown(label, adom, "a device")]


def _group(adom, name, lookup, label):
    """A group: as is without a look-up (FortiManager fans out), else its devices."""
    path = target_path("group", name, adom)
    if lookup is None:
        return [group_target(adom, name, label)]
    if isinstance(lookup, KnocknocError):
        return [Target(label or path, error=lookup)]
    devices, groups = lookup
    if name == DEFAULT_TARGET_GROUP:
        return _devices(adom, [d["name"] for d in devices], devices)  # every device of the ADOM, by definition
    if groups.get(name) is not None:
        return _devices(adom, groups[name], devices)
    if adom == GLOBAL_ADOM:
        return [group_target(adom, name, label)]
    return [_unknown(label or path, adom, "a device group")]


# -- picking the way from module params ----------------------------------------------------------------
def fortigates_from_params(params, targets=None, expand=False, environ=None):
    """The :class:`FortiGates` a module of ``fortinet_argspec`` asks for: direct, or through
    FortiManager when ``use_fortimanager`` (``targets`` as :func:`resolve_targets` takes them, in
    the params' ``adom``; the look-up request, if any, is made here). ``vdom`` comes from the
    params. Close it (``with``) when done."""
    resolved = resolve_fortinet_params(params, environ)
    client = connection_from_params(resolved, environ)
    if isinstance(client, FortiManagerClient):
        return ProxiedFortiGates(client, resolve_targets(client, targets, resolved["adom"], expand),
                                 resolved["vdom"])
    if targets:
        client.close()
        raise KnocknocError(None, "targets only apply through FortiManager (use_fortimanager=true): a direct"
                            " FortiGate is its own target", description="Invalid option")
    return DirectFortiGate(client, resolved["vdom"])
