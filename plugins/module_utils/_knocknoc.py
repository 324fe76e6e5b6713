# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Knocknoc server client.

Two very different contracts live here:

- The **allowlist** (EDL) ``GET /api/v1/allowlists/<aclId>/<token>.<format>`` with HTTP Basic auth
  is Knocknoc's documented, public interface (:meth:`KnocknocClient.allowlist`).
- The **management API** (knocs, allowlist keys, grants) is **modelled**: Knocknoc publishes no
  such API, so this collection defines one (the lab implements it) under the documented
  ``/api/v1`` prefix, with ``Authorization: Bearer <admin token>`` and JSON errors
  ``{"error": {"code", "message"}}``. It may not exist on a real server: a 404 that does not carry
  that error envelope reads "management API not available on this server".

Knocknoc failures are not Fortinet device failures, so they carry no 202xxx agent code
(``code=None``, ``(knocknoc.fortinet) ...``).
"""

from __future__ import annotations

import ipaddress

# The connection options live in _connection; modules import knocknoc_argspec from here too.
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import knocknoc_argspec  # pylint: disable=unused-import
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import resolve_knocknoc_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError, allowlist_tokens, basic_auth_secret
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import (
    HttpClient,
    tls_kwargs,
)

API = "/api/v1"
# Knocknoc's Traefik plugin caps an allowlist body at 32 MiB.
ALLOWLIST_MAX_BYTES = 32 * 1024 * 1024


def _clean_entry(line):
    """One allowlist line as Knocknoc's Traefik plugin reads it: brackets and ``%zone`` tolerated.
    Returns the address/CIDR text, or None when the line is not an IP address or network."""
    candidate = line
    if candidate.startswith("["):
        end = candidate.find("]")
        if end < 0:
            return None
        candidate = candidate[1:end] + candidate[end + 1:]
    if "%" in candidate:
        address, _sep, rest = candidate.partition("%")
        prefix = rest.partition("/")[2]
        candidate = address + ("/" + prefix if prefix else "")
    try:
        ipaddress.ip_network(candidate, strict=False)
    except ValueError:
        return None
    return candidate


def parse_allowlist(text):
    """Parse a text allowlist the way Knocknoc's Traefik plugin does: one entry per line, trimmed,
    blank lines and ``#`` comments skipped, bad lines skipped. Returns ``(entries, invalid)``."""
    entries, invalid = [], []
    for raw in str(text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _clean_entry(line)
        if entry is None:
            invalid.append(line)
        else:
            entries.append(entry)
    return entries, invalid


class KnocknocClient(HttpClient):
    """The Knocknoc server: the documented allowlist and the modelled management API.

    :param url: ``https://knocknoc.example.com`` (the server, no path needed).
    :param token: admin API token of the modelled management API (not needed for allowlists).
    Other keyword arguments: see :class:`HttpClient`.
    """

    API_NAME = "Knocknoc"
    ERROR_CODES = {}
    ERROR_TEXTS = {
        "connect": ("Failed to connect to the Knocknoc server",
                    "Check network connectivity, DNS, the host name and the port in url."),
        "auth": ("Knocknoc authentication failed",
                 "The token or allowlist API key was not accepted: check it, and that its IP"
                 " restrictions allow the address this task connects from."),
        "forbidden": ("Knocknoc authorization failed",
                      "The key is valid but may not do this (allowlists need a Read Allowlists key), or"
                      " its IP restrictions exclude this host."),
        "tls": ("TLS/SSL certificate error",
                "Trust the Knocknoc server's CA with ca_path, check the certificate name"
                " (tls_server_name) or pin tls_fingerprint; validate_certs=false is the last resort."),
        "timeout": ("Knocknoc server timed out",
                    "No answer within the timeout: check firewall rules and routing to the server."),
        "parse": ("Invalid or unexpected response from the Knocknoc server",
                  "Check that url points at the Knocknoc server and not at a proxy or a login page."),
        "status": ("Knocknoc request failed", None),
    }

    def __init__(self, url, token=None, **kwargs):
        secrets = tuple(kwargs.pop("secrets", ())) + ((token,) if token else ())
        super(KnocknocClient, self).__init__(url, secrets=secrets, **kwargs)
        self.token = token
        self.allowlist_skipped = []
        self.allowlist_format = None  # "txt" or "json": how the last allowlist() reply was read

    @classmethod
    def from_params(cls, params, environ=None):
        """Build from module params shaped by :func:`knocknoc_argspec` (top-level options, the
        ``knocknoc`` dict, ``KNOCKNOC_*``: see ``_connection``)."""
        resolved = resolve_knocknoc_params(params, environ)
        return cls(resolved["url"], resolved["token"], **tls_kwargs(resolved))

    def status_error(self, response):
        data = response.data if isinstance(response.data, dict) else {}
        envelope = data.get("error") if isinstance(data.get("error"), dict) else None
        if envelope is None or response.status in (401, 403):
            error = super(KnocknocClient, self).status_error(response)
            if envelope:
                error.details["knocknoc_error"] = envelope.get("code")
            return error
        cause = "HTTP %d on %s: %s" % (response.status, response.display, envelope.get("message") or envelope.get("code"))
        return self.error("status", cause, {"http_status": response.status, "request": response.display,
                                            "knocknoc_error": envelope.get("code"),
                                            "knocknoc_message": envelope.get("message")},
                          description="Knocknoc rejected the request")

    # -- the documented allowlist -----------------------------------------------------------------
    def allowlist(self, url, api_key, username="apikey"):
        """Fetch an allowlist (EDL) and return its entries (IP addresses/CIDRs as text, in order).

        ``url`` is the full allowlist URL (``https://<server>/api/v1/allowlists/<aclId>/<token>.txt``)
        or a path on this server. Credentials go in HTTP Basic auth, never in the URL: a URL with
        ``user:password@`` is refused. Lines that are not IP addresses/networks are skipped and kept
        in ``allowlist_skipped``.
        """
        if not api_key:
            raise KnocknocError(None, "the allowlist API key is required", description="Invalid option")
        self.add_secret(api_key)
        for token in allowlist_tokens(url):  # the URL's own secret
            self.add_secret(token)
        self.add_secret(basic_auth_secret(username, api_key))
        response = self.request("GET", url, auth=(username or "apikey", api_key), expect_json=False,
                                headers={"Accept": "text/plain, application/json"}, allow_status=(404,))
        if response.status == 404:
            raise self.error("status", "HTTP 404 on %s: no such allowlist" % response.display,
                             {"http_status": 404, "request": response.display},
                             description="Allowlist not found",
                             hint="Check the allowlist URL: it is unique per knoc and changes when the knoc"
                                  " is recreated.")
        if len(response.text.encode("utf-8")) > ALLOWLIST_MAX_BYTES:
            raise self.error("parse", "the allowlist at %s is larger than 32 MiB" % response.display,
                             {"request": response.display})
        content_type = str(response.headers.get("Content-Type", "")).lower()
        if "json" in content_type or response.display.split("?")[0].endswith(".json"):
            entries, invalid = self._json_allowlist(response)
            self.allowlist_format = "json"
        else:
            entries, invalid = parse_allowlist(response.text)
            self.allowlist_format = "txt"
        self.allowlist_skipped = invalid
        return entries

    def _json_allowlist(self, response):
        # unconfirmed in the reference: the JSON allowlist schema. Accept a list of strings or an
        # object with an "entries" list of strings; anything else is a parse error.
        data = response.data
        if isinstance(data, dict):
            data = data.get("entries")
        self.expect(isinstance(data, list), response, "the JSON allowlist has no list of entries")
        lines = [item for item in data if isinstance(item, str)]
        entries, invalid = parse_allowlist("\n".join(lines))
        invalid.extend(repr(item) for item in data if not isinstance(item, str))
        return entries, invalid

    # -- the modelled management API ---------------------------------------------------------------
    def _call(self, method, path, json=None, params=None, allow_status=(), idempotent=None):
        if not self.token:
            raise KnocknocError(None, "token is required for the Knocknoc management API (or set KNOCKNOC_TOKEN)",
                                description="Invalid connection option")
        response = self.request(method, API + path, json=json, params=params, idempotent=idempotent,
                                headers={"Authorization": "Bearer %s" % self.token},
                                allow_status=tuple(allow_status) + (404,))
        if response.status == 404:
            data = response.data if isinstance(response.data, dict) else {}
            if not isinstance(data.get("error"), dict):
                raise self.error("status", "HTTP 404 on %s: management API not available on this server"
                                 % response.display, {"http_status": 404, "request": response.display},
                                 description="Knocknoc management API not available",
                                 hint="The knoc management API is modelled by this collection (Knocknoc"
                                      " publishes none); it is served by the project's lab, not by every"
                                      " Knocknoc server.")
            if 404 not in allow_status:
                raise self.status_error(response)
        return response

    def _member(self, response, key):
        data = response.data
        self.expect(isinstance(data, dict) and isinstance(data.get(key), (dict, list)), response,
                    "no %r in the reply" % key)
        return data[key]

    def _remember_key(self, allowlist):
        if isinstance(allowlist, dict):
            self.add_secret(allowlist.get("api_key"))
            for token in allowlist_tokens(allowlist.get("url")):
                self.add_secret(token)
        return allowlist

    def list_knocs(self, name=None):
        """All knocs (``GET /api/v1/knocs``), or those named ``name``."""
        response = self._call("GET", "/knocs", params={"name": name} if name else None)
        return self._member(response, "knocs")

    def get_knoc(self, knoc_id):
        """One knoc, or None when it does not exist."""
        response = self._call("GET", "/knocs/%s" % knoc_id, allow_status=(404,))
        if response.status == 404:
            return None
        return self._member(response, "knoc")

    def create_knoc(self, doc):
        """Create a knoc; returns ``(knoc, allowlist)``: ``allowlist`` (``url``, ``username``,
        ``api_key`` shown once) for passive/passive_plus knocs, else None."""
        response = self._call("POST", "/knocs", json=doc)
        knoc = self._member(response, "knoc")
        return knoc, self._remember_key(response.data.get("allowlist"))

    def update_knoc(self, knoc_id, doc):
        """Update the given fields of a knoc (PUT); returns the knoc. A missing knoc raises."""
        return self.put_knoc(knoc_id, doc)[0]

    def put_knoc(self, knoc_id, doc):
        """Like :meth:`update_knoc`, but returns ``(knoc, allowlist)``: ``allowlist`` (with the
        ``api_key`` shown once) when the update gave the knoc an allowlist (a switch to passive or
        passive_plus), else None."""
        response = self._call("PUT", "/knocs/%s" % knoc_id, json=doc)
        knoc = self._member(response, "knoc")
        return knoc, self._remember_key(response.data.get("allowlist"))

    def delete_knoc(self, knoc_id):
        """Delete a knoc: True when deleted, False when it did not exist."""
        return self._call("DELETE", "/knocs/%s" % knoc_id, allow_status=(404,)).status != 404

    def rotate_allowlist_key(self, knoc_id):
        """Replace a knoc's allowlist key; returns the new ``allowlist`` block (the old key stops
        working). Not retried: a repeat would rotate again."""
        response = self._call("POST", "/knocs/%s/allowlist-key" % knoc_id)
        return self._remember_key(self._member(response, "allowlist"))

    def create_grant(self, knoc_id, username, ip, duration_minutes=None):
        """Grant ``ip`` to ``username`` on a knoc (modelled stand-in for a user signing in)."""
        body = {"username": username, "ip": ip}
        if duration_minutes is not None:
            body["duration_minutes"] = duration_minutes
        return self._member(self._call("POST", "/knocs/%s/grants" % knoc_id, json=body), "grant")

    def list_grants(self, knoc_id):
        """A knoc's current grants."""
        return self._member(self._call("GET", "/knocs/%s/grants" % knoc_id), "grants")

    def delete_grant(self, knoc_id, grant_id):
        """End a grant (the user's logout): True when deleted, False when it did not exist."""
        return self._call("DELETE", "/knocs/%s/grants/%s" % (knoc_id, grant_id), allow_status=(404,)).status != 404
