# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiOS REST API v2 client (FortiGate, directly).

``FortiGateClient.from_params(module.params)`` after ``check_requirements(module)``. The REST
API admin key travels as ``Authorization: Bearer`` and never in a URL (FortiOS 7.4.5+ refuses
``access_token`` in the URL anyway). Every call takes ``vdom`` (default: the client's).

Return conventions: table reads return the ``results`` list, single-entry reads the entry dict
(or None when FortiOS answers 404), writes return the FortiOS envelope, deletes return whether
something was deleted. FortiOS error envelopes (``status: error`` with a negative ``error``
number and maybe ``cli_error``) raise :class:`KnocknocError` with ``code=None`` (there is no
agent code for them; a module may ``recode()`` them, e.g. to 202100 for a failed push) and
``details.fortios_error``; HTTP 401 and 403 raise 202001 and 202002.

Each call is a :class:`FortiOSCall` (built by ``*_call`` functions) whose answer
:func:`read_reply` reads, so that the same call run on many FortiGates through FortiManager
(``_fortigates.ProxiedFortiGates``) gets exactly the same values and errors.
"""

from __future__ import annotations

import re

from urllib.parse import quote, urlencode

# The connection options live in _connection; modules import fortigate_argspec from here too.
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import fortigate_argspec  # pylint: disable=unused-import
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import resolve_fortigate_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import (
    HttpClient,
    tls_kwargs,
)

# FortiOS CLI error numbers (reference A7: Fortinet's Ansible names -3 and -61; the rest is the
# classic FortiOS CLI list as reproduced by hfortix-core).
FORTIOS_ERRORS = {
    -1: "invalid length of value",
    -2: "index out of range",
    -3: "entry not found",
    -4: "maximum number of entries reached",
    -5: "a duplicate entry already exists",
    -6: "failed memory allocation",
    -7: "value conflicts with system settings",
    -8: "invalid IP address",
    -9: "invalid netmask",
    -14: "permission denied, insufficient privileges",
    -15: "duplicate entry found",
    -16: "blank or incorrect address entry",
    -17: "incorrect address name",
    -20: "blank entry",
    -23: "entry is used (referenced; cannot delete)",
    -37: "permission denied",
    -50: "input is in invalid format",
    -56: "empty values are not allowed",
    -61: "input not as expected (command error)",
    -72: "field value exceeds the maximum number of characters",
    -163: "address names and address group names cannot be the same",
    -166: "the name is too long",
    -650: "integer value not within valid range",
    -651: "input value is invalid (or references an object that does not exist)",
}

# FortiOS answers a duplicate with -5 (observed on POST); -15 is the CLI's other duplicate number.
DUPLICATE_ERRORS = (-5, -15)

API = "/api/v2"


def parse_version(text):
    """``"v7.4.4"`` / ``"7.4.4"`` / ``"7.4"`` -> ``(7, 4, 4)`` / ``(7, 4, 0)``; () when no digits."""
    numbers = [int(part) for part in re.findall(r"\d+", str(text or ""))[:3]]
    if not numbers:
        return ()
    while len(numbers) < 3:
        numbers.append(0)
    return tuple(numbers)


def compare_versions(left, right):
    """-1, 0 or 1 as FortiOS version ``left`` is older than, equal to or newer than ``right``."""
    a, b = parse_version(left), parse_version(right)
    return (a > b) - (a < b)


def version_at_least(version, wanted):
    """True when FortiOS ``version`` is ``wanted`` or newer (e.g. ``"7.2.1"`` for the push API)."""
    return compare_versions(version, wanted) >= 0


def _mkey(value):
    # FortiOS needs the mkey URL-encoded, "/" included (Fortinet's Ansible cmdb_url()).
    return quote(str(value), safe="")


def cmdb_path(path, mkey=None, child=None, child_mkey=None):
    """``/api/v2/cmdb/<path>[/<mkey>[/<child>[/<child_mkey>]]]`` with keys URL-encoded."""
    url = "%s/cmdb/%s" % (API, path.strip("/"))
    if mkey is not None:
        url += "/" + _mkey(mkey)
        if child:
            url += "/" + child.strip("/")
            if child_mkey is not None:
                url += "/" + _mkey(child_mkey)
    return url


def monitor_path(path):
    """``/api/v2/monitor/<path>``."""
    return "%s/monitor/%s" % (API, path.strip("/"))


# -- one FortiOS call, however it travels ------------------------------------------------------------
class Reply(object):
    """A FortiOS answer to one :class:`FortiOSCall`, from a FortiGate directly or relayed by
    FortiManager: what :func:`read_reply` needs to turn it into a value or a :class:`KnocknocError`.

    :param status: the HTTP status (through FortiManager: the device's, from its envelope).
    :param data: the FortiOS envelope as parsed JSON (anything; checked by the readers).
    :param target: the FortiGate, as errors name it (its URL, or its device name).
    :param request: ``METHOD /api/v2/...?query`` (plus where it went), for causes and details.
    """

    def __init__(self, status, data, target, request, vdom, secrets=(), attempts=1):
        self.status = status
        self.data = data
        self.target = target
        self.request = request
        self.vdom = vdom
        self.secrets = tuple(secrets)
        self.attempts = attempts

    def parse_error(self, what):
        """202150: the reply does not have the shape FortiOS documents."""
        return KnocknocError(202150, cause="unexpected reply to %s: %s" % (self.request, what),
                             details={"http_status": self.status, "request": self.request}, secrets=self.secrets)

    def status_error(self):
        """The error for a FortiOS error answer (an HTTP error status, or ``status: error``).

        401 -> 202001 and 403 -> 202002 (the agent's table); anything else has no agent code and
        carries the FortiOS error number (reference A7) and the first line of ``cli_error``.
        """
        data = self.data if isinstance(self.data, dict) else {}
        details = {"http_status": self.status, "request": self.request}
        if self.attempts > 1:
            details["attempts"] = self.attempts
        fortios_error = data.get("error")
        if isinstance(fortios_error, int) or (isinstance(fortios_error, str) and re.match(r"^-?\d+$", fortios_error)):
            fortios_error = int(fortios_error)
            details["fortios_error"] = fortios_error
        else:
            fortios_error = None
        cli_error = data.get("cli_error")
        if cli_error:
            details["cli_error"] = cli_error
        cause = "HTTP %d on %s" % (self.status, self.request)
        if self.status in (401, 403):
            return KnocknocError(202001 if self.status == 401 else 202002, cause=cause, details=details,
                                 secrets=self.secrets)
        if fortios_error is not None:
            cause += ": FortiOS error %d (%s)" % (
                fortios_error, FORTIOS_ERRORS.get(fortios_error, "no documented meaning"))
        elif self.status == 404:
            cause += ": not found"
        elif self.status < 400:
            cause += ": FortiOS reported status error"
        if cli_error:
            first = [line.strip() for line in str(cli_error).splitlines() if line.strip()]
            if first:
                cause += " - %s" % first[0]
        return KnocknocError(None, cause=cause, description="FortiGate rejected the request", details=details,
                             secrets=self.secrets)


def read_envelope(reply):
    """The whole envelope; ``status: error`` raises."""
    if reply.data.get("status") == "error":
        raise reply.status_error()
    return reply.data


def read_results(reply):
    """The envelope's ``results`` list."""
    results = read_envelope(reply).get("results")
    if not isinstance(results, list):
        raise reply.parse_error("'results' is not a list")
    return results


def read_results_object(reply):
    """The envelope's ``results`` object (monitor calls such as entry-list)."""
    results = read_envelope(reply).get("results")
    if not isinstance(results, dict):
        raise reply.parse_error("'results' is not a JSON object")
    return results


def read_first_result(reply):
    """The first entry of ``results`` (a single-entry CMDB read), or None."""
    results = read_results(reply)
    return results[0] if results else None


def read_deleted(reply):
    """A delete that FortiOS acknowledged: True."""
    read_envelope(reply)
    return True


def read_system_status(reply):
    """``{"version": "7.4.4", "serial", "build", "hostname", "model"}`` of ``/monitor/system/status``."""
    envelope = read_envelope(reply)
    results = envelope.get("results") if isinstance(envelope.get("results"), dict) else {}
    version = envelope.get("version") or results.get("version") or ""
    return {
        "version": str(version).lstrip("vV"),
        "serial": envelope.get("serial") or results.get("serial"),
        "build": envelope.get("build", results.get("build")),
        "hostname": results.get("hostname"),
        "model": results.get("model_name") or results.get("model"),
    }


def failed_commands(results):
    """The commands of a push reply (reference C1) that FortiOS refused."""
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, dict) and r.get("status") == "error"]


def read_push_results(reply):
    """The per-command ``results`` of a dynamic push; a refused command raises with
    ``details.results`` (all of them) and ``details.vdom``.

    Per-command failures come back with HTTP 200; the envelope's own status may then say
    "error" too (every command failed): the commands say why, so they are reported first.
    A success without ``results`` (a real FortiGate may answer so) is None: the caller reads the list back
    to see what the push did.
    """
    results = reply.data.get("results")
    failed = failed_commands(results)
    if not failed and reply.data.get("status") == "error":
        raise reply.status_error()
    if results is None and reply.data.get("status") == "success":
        return None
    if not isinstance(results, list):
        raise reply.parse_error("'results' is not a list")
    if failed:
        first = failed[0]
        raise KnocknocError(None, cause="FortiGate %s rejected dynamic push command %r for external resource %r: %s" % (
            reply.target, first.get("command"), first.get("name"), first.get("error") or "error"),
            description="FortiGate rejected the request", details={"results": results, "vdom": reply.vdom},
            secrets=reply.secrets)
    return results


NOT_MISSING = ()


class FortiOSCall(object):
    """One FortiOS REST API call, described once and run either directly
    (:meth:`FortiGateClient.run`) or on many FortiGates at once through FortiManager
    (``_fortigates.ProxiedFortiGates``), so that both ways read the answer alike.

    :param method: ``GET``, ``POST``, ``PUT`` or ``DELETE``.
    :param path: ``/api/v2/...`` without the query (see :func:`cmdb_path`, :func:`monitor_path`).
    :param params: query parameters besides ``vdom`` (a list value repeats the key).
    :param body: the JSON body.
    :param idempotent: may be repeated after a lost answer (default: GET, PUT and DELETE).
    :param missing: HTTP statuses that mean "not there" (usually ``(404,)``): the value is
        then ``missing_value`` instead of an error.
    :param read: ``read(reply) -> value`` for a successful answer (default: the envelope).
    :param already: FortiOS error numbers (``fortios_error``) that mean what the call would do is
        already so (e.g. :data:`DUPLICATE_ERRORS` for adding a member that is one): the value is
        then ``already_value`` instead of an error.
    """

    def __init__(self, method, path, params=None, body=None, idempotent=None, missing=NOT_MISSING,
                 missing_value=None, read=read_envelope, already=(), already_value=None):
        self.method = method.upper()
        self.path = path
        self.params = dict(params or {})
        self.body = body
        self.idempotent = self.method in ("GET", "PUT", "DELETE") if idempotent is None else bool(idempotent)
        self.missing = tuple(missing)
        self.missing_value = missing_value
        self.read = read
        self.already = tuple(already)
        self.already_value = already_value

    def done_already(self, err):
        """Whether error ``err`` of this call says that its effect is already there (see ``already``)."""
        return bool(self.already) and err.details.get("fortios_error") in self.already

    def query(self, vdom):
        """The query as ``(key, value)`` pairs: ``vdom`` first, list values repeated."""
        pairs = [("vdom", self.params.get("vdom") or vdom)]
        for key, value in self.params.items():
            if key == "vdom":
                continue
            if isinstance(value, (list, tuple)):
                pairs.extend((key, item) for item in value)
            elif value is not None:
                pairs.append((key, value))
        return pairs

    def resource(self, vdom):
        """``path?query``, as FortiManager's proxy takes it."""
        return "%s?%s" % (self.path, urlencode(self.query(vdom)))

    def display(self, vdom):
        return "%s %s" % (self.method, self.resource(vdom))


def read_reply(call, reply):
    """THE reading of a FortiOS answer, direct or proxied: the call's value, or a raised
    :class:`KnocknocError` (see :meth:`Reply.status_error`; 202150 for a wrong shape). A status
    of ``call.missing`` is ``call.missing_value``, an error of ``call.already`` ``call.already_value``."""
    if reply.status in call.missing:
        return call.missing_value
    try:
        if reply.status >= 400:
            raise reply.status_error()
        if not isinstance(reply.data, dict):
            raise reply.parse_error("the FortiOS envelope is not a JSON object")
        return call.read(reply)
    except KnocknocError as err:
        if call.done_already(err):
            return call.already_value
        raise


# -- the calls the collection makes ----------------------------------------------------------------------
def get_table_call(path, filters=None, fields=None, params=None):
    """Entries of a CMDB table (``results``). ``filters`` is one FortiOS filter string or a
    list (AND); ``fields`` becomes ``format=a|b``."""
    query = dict(params or {})
    if filters:
        query["filter"] = [filters] if isinstance(filters, str) else list(filters)
    if fields:
        query["format"] = "|".join(fields)
    return FortiOSCall("GET", cmdb_path(path), query, read=read_results)


def get_entry_call(path, mkey, fields=None):
    """One CMDB entry, or None when FortiOS answers 404."""
    return FortiOSCall("GET", cmdb_path(path, mkey), {"format": "|".join(fields)} if fields else None,
                       missing=(404,), read=read_first_result)


def create_call(path, data):
    return FortiOSCall("POST", cmdb_path(path), body=data)


def update_call(path, mkey, data):
    return FortiOSCall("PUT", cmdb_path(path, mkey), body=data)


def delete_call(path, mkey):
    """True when deleted, False when it was already absent (404)."""
    return FortiOSCall("DELETE", cmdb_path(path, mkey), missing=(404,), missing_value=False, read=read_deleted)


def read_added(reply):
    """A child entry that FortiOS acknowledged: True."""
    read_envelope(reply)
    return True


def add_member_call(path, mkey, member, attr="member"):
    """Add ``{"name": member}`` to the child table ``attr`` of an entry (e.g. an address to
    ``firewall/addrgrp/<grp>/member``): True when added, False when it already was a member
    (FortiOS answers with a duplicate error, :data:`DUPLICATE_ERRORS`). A missing parent is an error (404)."""
    return FortiOSCall("POST", cmdb_path(path, mkey, attr), body={"name": member}, read=read_added,
                       already=DUPLICATE_ERRORS, already_value=False)


def remove_member_call(path, mkey, member, attr="member"):
    """Remove a child-table member: True when removed, False when it was not there (404, which
    FortiOS also answers when the parent entry is missing)."""
    return FortiOSCall("DELETE", cmdb_path(path, mkey, attr, member), missing=(404,), missing_value=False,
                       read=read_deleted)


def monitor_get_call(path, params=None, missing=NOT_MISSING):
    return FortiOSCall("GET", monitor_path(path), params, missing=missing)


def monitor_post_call(path, data=None, params=None, idempotent=False):
    return FortiOSCall("POST", monitor_path(path), params, body=data if data is not None else {}, idempotent=idempotent)


def system_status_call():
    return FortiOSCall("GET", monitor_path("system/status"), read=read_system_status)


def entry_list_call(name):
    """An external resource's current list (reference C2 ``results``), None when FortiOS answers 404."""
    return FortiOSCall("GET", monitor_path("system/external-resource/entry-list"), {"mkey": name},
                       missing=(404,), read=read_results_object)


def dynamic_push_call(commands):
    """The push API (FortiOS 7.2.1+, reference C1). Repeatable: add, remove and snapshot converge
    to the same list when repeated."""
    return FortiOSCall("POST", monitor_path("system/external-resource/dynamic"), body={"commands": list(commands)},
                       idempotent=True, read=read_push_results)


# IP protocol numbers for the names policy lookup callers may give; FortiOS is sent the number, as
# Fortinet's own clients do (reference J), since names are not known to work on real devices (issue 11).
PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmp6": 58, "ipv6-icmp": 58, "sctp": 132}


def protocol_number(protocol):
    """``protocol`` (a name of :data:`PROTOCOL_NUMBERS` or a number 0-255) as its number; ValueError else."""
    text = str(protocol).strip().lower()
    if text in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return int(text)
    raise ValueError("protocol must be one of %s or a number from 0 to 255, got %r"
                     % (", ".join(sorted(PROTOCOL_NUMBERS)), protocol))


def policy_lookup_call(srcintf, sourceip, dest, protocol="tcp", destport=None, sourceport=None, **extra):
    """FortiOS' Policy Lookup (parameter names as in Fortinet's ``fortios_monitor_fact`` selector
    ``firewall_policy-lookup``); the value is ``results`` (``policy_id`` 0 = implicit deny).
    ``protocol`` may be a name (``tcp``) or a number; the number is sent."""
    params = {"srcintf": srcintf, "sourceip": sourceip, "dest": dest, "protocol": protocol_number(protocol)}
    if destport is not None:
        params["destport"] = destport
    if sourceport is not None:
        params["sourceport"] = sourceport
    if ":" in str(sourceip) and "ipv6" not in extra:
        params["ipv6"] = "true"
    params.update(dict((k, v) for k, v in extra.items() if v is not None))
    return FortiOSCall("GET", monitor_path("firewall/policy-lookup"), params,
                       read=lambda reply: read_envelope(reply).get("results"))


class FortiGateClient(HttpClient):
    """FortiOS REST API v2 over one HTTPS session.

    :param url: ``https://fortigate[:port]``.
    :param token: REST API admin key (sent as ``Authorization: Bearer``).
    :param vdom: default VDOM for every call (``root``).
    Other keyword arguments: see :class:`HttpClient` (TLS, timeout, retries).
    """

    API_NAME = "FortiGate"

    def __init__(self, url, token, vdom="root", **kwargs):
        super(FortiGateClient, self).__init__(url, **kwargs)
        self.use_api_key(token, "FORTIGATE_TOKEN")
        self.vdom = vdom or "root"
        self._status = None

    @classmethod
    def from_params(cls, params, environ=None):
        """Build from module params shaped by :func:`fortigate_argspec` (top-level options, the
        ``fortigate`` dict, ``FORTIGATE_*``: see ``_connection``)."""
        resolved = resolve_fortigate_params(params, environ)
        return cls(resolved["url"], resolved["token"], vdom=resolved["vdom"], **tls_kwargs(resolved))

    cmdb_path = staticmethod(cmdb_path)

    def status_error(self, response):
        return Reply(response.status, response.data, self.base_url, response.display, self.vdom, self.secrets,
                     getattr(response, "attempts", 1)).status_error()

    def run(self, call, vdom=None):
        """Send one :class:`FortiOSCall` to this FortiGate and return its value (:func:`read_reply`)."""
        return self.answer(call, vdom)[0]

    def answer(self, call, vdom=None):
        """:meth:`run`, returning ``(value, reply)``: the :class:`Reply` holds the envelope
        (its ``serial`` and ``version``; None when an HTTP error status was ``call.already``)."""
        vdom = vdom or self.vdom
        try:
            response = self.request(call.method, call.path, params=call.query(vdom), json=call.body,
                                    idempotent=call.idempotent, allow_status=call.missing)
        except KnocknocError as err:
            # An HTTP error status raises in request(), before read_reply sees it: the same reading
            # of call.already here (a duplicate member is HTTP 500 with FortiOS error -5).
            if not call.done_already(err):
                raise
            return call.already_value, Reply(err.details.get("http_status"), None, self.base_url,
                                             err.details.get("request"), vdom, self.secrets,
                                             err.details.get("attempts", 1))
        reply = Reply(response.status, response.data, self.base_url, response.display, vdom, self.secrets,
                      getattr(response, "attempts", 1))
        return read_reply(call, reply), reply

    # -- CMDB -----------------------------------------------------------------------------------------
    def get_table(self, path, vdom=None, filters=None, fields=None, params=None):
        """Entries of a CMDB table (``results``), e.g. ``get_table("firewall/address",
        filters="name=@kk_", fields=["name", "subnet"])``. ``filters`` is one FortiOS filter
        string or a list (AND); ``fields`` becomes ``format=a|b``."""
        return self.run(get_table_call(path, filters, fields, params), vdom)

    def get_entry(self, path, mkey, vdom=None, fields=None):
        """One CMDB entry as a dict, or None when FortiOS answers 404."""
        return self.run(get_entry_call(path, mkey, fields), vdom)

    def create(self, path, data, vdom=None):
        """POST a new entry (key in ``data``); a duplicate raises with ``fortios_error`` -5."""
        return self.run(create_call(path, data), vdom)

    def update(self, path, mkey, data, vdom=None):
        """PUT (partial) update of an existing entry."""
        return self.run(update_call(path, mkey, data), vdom)

    def delete(self, path, mkey, vdom=None):
        """DELETE one entry: True when deleted, False when it was already absent (404)."""
        return self.run(delete_call(path, mkey), vdom)

    def add_member(self, path, mkey, member, attr="member", vdom=None):
        """Add ``{"name": member}`` to the child table ``attr`` of an entry (e.g. an address to
        ``firewall/addrgrp/<grp>/member``): True when added, False when already a member.
        A missing parent raises (404)."""
        return self.run(add_member_call(path, mkey, member, attr), vdom)

    def remove_member(self, path, mkey, member, attr="member", vdom=None):
        """Remove a child-table member: True when removed, False when it was not there (404,
        which FortiOS also answers when the parent entry is missing)."""
        return self.run(remove_member_call(path, mkey, member, attr), vdom)

    # -- monitor --------------------------------------------------------------------------------------
    def monitor_get(self, path, params=None, vdom=None, allow_status=()):
        """GET ``/api/v2/monitor/<path>``; returns the whole envelope (``results`` inside), or None
        for a status listed in ``allow_status``."""
        return self.run(monitor_get_call(path, params, missing=allow_status), vdom)

    def monitor_post(self, path, data=None, params=None, vdom=None, idempotent=False):
        """POST to ``/api/v2/monitor/<path>``; returns the envelope. Only retried when the caller
        says repeating it is harmless (``idempotent``)."""
        return self.run(monitor_post_call(path, data, params, idempotent), vdom)

    def system_status(self):
        """``{"version": "7.4.4", "serial", "build", "hostname", "model"}`` from
        ``/monitor/system/status`` (cached per client)."""
        if self._status is None:
            self._status = self.run(system_status_call())
        return self._status

    def version_at_least(self, wanted):
        """True when the FortiGate runs FortiOS ``wanted`` or newer."""
        return version_at_least(self.system_status()["version"], wanted)

    def dynamic_push(self, commands, vdom=None):
        """Push entries into external resources' in-memory lists (FortiOS 7.2.1+, reference C1).

        ``commands``: ``[{"name": <resource>, "command": "add"|"remove"|"snapshot", "entries": [...]}]``.
        Returns the per-command ``results`` (each with ``status`` and ``invalidEntries``); raises
        when FortiOS rejects the call or any command (``details.results`` holds them all).
        Retried like a GET: add, remove and snapshot converge to the same list when repeated.
        """
        return self.run(dynamic_push_call(commands), vdom)

    def entry_list(self, name, vdom=None):
        """An external resource's current list (reference C2 ``results`` object: ``entries``
        ``[{"entry", "valid"}]``, counts, poll status), or None when FortiOS answers 404."""
        return self.run(entry_list_call(name), vdom)

    def policy_lookup(self, srcintf, sourceip, dest, protocol="tcp", destport=None, sourceport=None,
                      vdom=None, **extra):
        """FortiOS' Policy Lookup (``GET /monitor/firewall/policy-lookup``; parameter names as in
        Fortinet's ``fortios_monitor_fact`` selector ``firewall_policy-lookup``): which policy
        admits a packet. Returns ``results`` (``policy_id`` 0 = implicit deny)."""
        return self.run(policy_lookup_call(srcintf, sourceip, dest, protocol, destport, sourceport, **extra), vdom)
