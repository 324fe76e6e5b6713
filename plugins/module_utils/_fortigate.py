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
``details.fortios_error``.
"""

from __future__ import annotations

import re

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    quote = None

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


class FortiGateClient(HttpClient):
    """FortiOS REST API v2 over one HTTPS session.

    :param url: ``https://fortigate[:port]``.
    :param token: REST API admin key (sent as ``Authorization: Bearer``).
    :param vdom: default VDOM for every call (``root``).
    Other keyword arguments: see :class:`HttpClient` (TLS, timeout, retries).
    """

    API_NAME = "FortiGate"

    def __init__(self, url, token, vdom="root", **kwargs):
        if not token:
            raise KnocknocError(None, "token is required (or set FORTIGATE_TOKEN)",
                                description="Invalid connection option")
        secrets = tuple(kwargs.pop("secrets", ())) + (token,)
        super(FortiGateClient, self).__init__(url, secrets=secrets, **kwargs)
        self.vdom = vdom or "root"
        self.session.headers["Authorization"] = "Bearer %s" % token
        self._status = None

    @classmethod
    def from_params(cls, params, environ=None):
        """Build from module params shaped by :func:`fortigate_argspec` (top-level options, the
        ``fortigate`` dict, ``FORTIGATE_*``: see ``_connection``)."""
        resolved = resolve_fortigate_params(params, environ)
        return cls(resolved["url"], resolved["token"], vdom=resolved["vdom"], **tls_kwargs(resolved))

    # -- URLs and envelopes -----------------------------------------------------------------------
    @staticmethod
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

    def _params(self, vdom, extra=None):
        params = {"vdom": vdom or self.vdom}
        params.update(extra or {})
        return params

    def status_error(self, response):
        data = response.data if isinstance(response.data, dict) else {}
        details = {"http_status": response.status, "request": response.display}
        fortios_error = data.get("error")
        if isinstance(fortios_error, int) or (isinstance(fortios_error, str) and re.match(r"^-?\d+$", fortios_error)):
            fortios_error = int(fortios_error)
            details["fortios_error"] = fortios_error
        else:
            fortios_error = None
        cli_error = data.get("cli_error")
        if cli_error:
            details["cli_error"] = cli_error
        if response.status in (401, 403):
            error = super(FortiGateClient, self).status_error(response)
            error.details.update(details)
            return error
        cause = "HTTP %d on %s" % (response.status, response.display)
        if fortios_error is not None:
            cause += ": FortiOS error %d (%s)" % (
                fortios_error, FORTIOS_ERRORS.get(fortios_error, "no documented meaning"))
        elif response.status == 404:
            cause += ": not found"
        elif response.status < 400:
            cause += ": FortiOS reported status error"
        if cli_error:
            first = [line.strip() for line in str(cli_error).splitlines() if line.strip()]
            if first:
                cause += " - %s" % first[0]
        attempts = getattr(response, "attempts", 1)
        if attempts > 1:
            details["attempts"] = attempts
        return self.error("status", cause, details, description="FortiGate rejected the request")

    def _envelope(self, response):
        self.expect(isinstance(response.data, dict), response, "the FortiOS envelope is not a JSON object")
        if response.data.get("status") == "error":
            raise self.status_error(response)
        return response.data

    def _results(self, response, kind=list):
        data = self._envelope(response)
        results = data.get("results")
        self.expect(isinstance(results, kind), response, "'results' is not a %s" % (
            "list" if kind is list else "JSON object"))
        return results

    # -- CMDB -----------------------------------------------------------------------------------------
    def get_table(self, path, vdom=None, filters=None, fields=None, params=None):
        """Entries of a CMDB table (``results``), e.g. ``get_table("firewall/address",
        filters="name=@kk_", fields=["name", "subnet"])``. ``filters`` is one FortiOS filter
        string or a list (AND); ``fields`` becomes ``format=a|b``."""
        query = self._params(vdom, params)
        if filters:
            query["filter"] = [filters] if isinstance(filters, str) else list(filters)
        if fields:
            query["format"] = "|".join(fields)
        return self._results(self.request("GET", self.cmdb_path(path), params=query))

    def get_entry(self, path, mkey, vdom=None, fields=None):
        """One CMDB entry as a dict, or None when FortiOS answers 404."""
        query = self._params(vdom, {"format": "|".join(fields)} if fields else None)
        response = self.request("GET", self.cmdb_path(path, mkey), params=query, allow_status=(404,))
        if response.status == 404:
            return None
        results = self._results(response)
        return results[0] if results else None

    def create(self, path, data, vdom=None):
        """POST a new entry (key in ``data``); a duplicate raises with ``fortios_error`` -5."""
        return self._envelope(self.request("POST", self.cmdb_path(path), params=self._params(vdom), json=data))

    def update(self, path, mkey, data, vdom=None):
        """PUT (partial) update of an existing entry."""
        return self._envelope(self.request("PUT", self.cmdb_path(path, mkey), params=self._params(vdom), json=data))

    def delete(self, path, mkey, vdom=None):
        """DELETE one entry: True when deleted, False when it was already absent (404)."""
        response = self.request("DELETE", self.cmdb_path(path, mkey), params=self._params(vdom), allow_status=(404,))
        if response.status == 404:
            return False
        self._envelope(response)
        return True

    def add_member(self, path, mkey, member, attr="member", vdom=None):
        """Add ``{"name": member}`` to the child table ``attr`` of an entry (e.g. an address to
        ``firewall/addrgrp/<grp>/member``): True when added, False when already a member.
        A missing parent raises (404)."""
        try:
            self._envelope(self.request("POST", self.cmdb_path(path, mkey, attr), params=self._params(vdom),
                                        json={"name": member}))
        except KnocknocError as err:
            if err.details.get("fortios_error") in DUPLICATE_ERRORS:
                return False
            raise
        return True

    def remove_member(self, path, mkey, member, attr="member", vdom=None):
        """Remove a child-table member: True when removed, False when it was not there (404,
        which FortiOS also answers when the parent entry is missing)."""
        response = self.request("DELETE", self.cmdb_path(path, mkey, attr, member), params=self._params(vdom),
                                allow_status=(404,))
        if response.status == 404:
            return False
        self._envelope(response)
        return True

    # -- monitor --------------------------------------------------------------------------------------
    def monitor_get(self, path, params=None, vdom=None, allow_status=()):
        """GET ``/api/v2/monitor/<path>``; returns the whole envelope (``results`` inside), or None
        for a status listed in ``allow_status``."""
        response = self.request("GET", "%s/monitor/%s" % (API, path.strip("/")),
                                params=self._params(vdom, params), allow_status=allow_status)
        if response.status in allow_status:
            return None
        return self._envelope(response)

    def monitor_post(self, path, data=None, params=None, vdom=None, idempotent=False):
        """POST to ``/api/v2/monitor/<path>``; returns the envelope. Only retried when the caller
        says repeating it is harmless (``idempotent``)."""
        response = self.request("POST", "%s/monitor/%s" % (API, path.strip("/")),
                                params=self._params(vdom, params), json=data if data is not None else {},
                                idempotent=idempotent)
        return self._envelope(response)

    def system_status(self):
        """``{"version": "7.4.4", "serial", "build", "hostname", "model"}`` from
        ``/monitor/system/status`` (cached per client)."""
        if self._status is None:
            envelope = self.monitor_get("system/status")
            results = envelope.get("results") if isinstance(envelope.get("results"), dict) else {}
            version = envelope.get("version") or results.get("version") or ""
            self._status = {
                "version": str(version).lstrip("vV"),
                "serial": envelope.get("serial") or results.get("serial"),
                "build": envelope.get("build", results.get("build")),
                "hostname": results.get("hostname"),
                "model": results.get("model_name") or results.get("model"),
            }
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
        response = self.request("POST", "%s/monitor/system/external-resource/dynamic" % API,
                                params=self._params(vdom), json={"commands": list(commands)}, idempotent=True)
        envelope = response.data
        self.expect(isinstance(envelope, dict), response, "the FortiOS envelope is not a JSON object")
        results = envelope.get("results")
        # Per-command failures come back with HTTP 200; the envelope's own status may then say
        # "error" too (every command failed): report the commands, they say why.
        failed = [r for r in results if isinstance(r, dict) and r.get("status") == "error"] \
            if isinstance(results, list) else []
        if not failed and envelope.get("status") == "error":
            raise self.status_error(response)
        self.expect(isinstance(results, list), response, "'results' is not a list")
        if failed:
            first = failed[0]
            raise self.error(
                "status", "FortiGate %s rejected dynamic push command %r for external resource %r: %s" % (
                    self.base_url, first.get("command"), first.get("name"), first.get("error") or "error"),
                {"results": results, "vdom": vdom or self.vdom}, description="FortiGate rejected the request")
        return results

    def entry_list(self, name, vdom=None):
        """An external resource's current list (reference C2 ``results`` object: ``entries``
        ``[{"entry", "valid"}]``, counts, poll status), or None when FortiOS answers 404."""
        envelope = self.monitor_get("system/external-resource/entry-list", params={"mkey": name},
                                    vdom=vdom, allow_status=(404,))
        if envelope is None:
            return None
        results = envelope.get("results")
        if not isinstance(results, dict):
            raise self.error("parse", "unexpected reply to entry-list for %r: 'results' is not an object" % name)
        return results

    def policy_lookup(self, srcintf, sourceip, dest, protocol="tcp", destport=None, sourceport=None,
                      vdom=None, **extra):
        """FortiOS' Policy Lookup (``GET /monitor/firewall/policy-lookup``; parameter names as in
        Fortinet's ``fortios_monitor_fact`` selector ``firewall_policy-lookup``): which policy
        admits a packet. Returns ``results`` (``policy_id`` 0 = implicit deny)."""
        params = {"srcintf": srcintf, "sourceip": sourceip, "dest": dest, "protocol": protocol}
        if destport is not None:
            params["destport"] = destport
        if sourceport is not None:
            params["sourceport"] = sourceport
        if ":" in str(sourceip) and "ipv6" not in extra:
            params["ipv6"] = "true"
        params.update(dict((k, v) for k, v in extra.items() if v is not None))
        return self.monitor_get("firewall/policy-lookup", params=params, vdom=vdom).get("results")
