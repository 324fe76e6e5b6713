# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Event-Driven Ansible source: who is allowed in, from Knocknoc allowlists (or the modelled grants API).

ansible-rulebook loads a source plugin with ``runpy.run_path`` and does not put the collection on
``sys.path`` (nor is ansible-core's collection loader active in a decision environment), so this file
cannot import the collection's ``module_utils``: it is self-contained, on ``aiohttp`` (an
ansible-rulebook dependency). It mirrors ``module_utils/_knocknoc.py`` where both read the same thing:
the allowlist parser, the TLS options and their environment variables; the unit tests check that the
two parsers agree.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import ipaddress
import json
import logging
import os
import random
import re
import ssl
import time
import urllib.parse

import aiohttp

DOCUMENTATION = r"""
---
short_description: Knocknoc allowlist changes (sign-ins and sign-outs) as events
description:
  - Polls one or more Knocknoc allowlists (the documented C(GET /api/v1/allowlists/<aclId>/<token>.txt) with HTTP Basic
    auth) or, for Active mode, the grants of Knocs through the management API that this collection models (with user names).
  - Puts on the queue one C(snapshot) per allowlist at start, every O(snapshot_interval) seconds and when
    O(snapshot_request_file) appears; then C(removed) and C(added) events with the addresses that left or joined.
    The first change is emitted at once; while the allowlist keeps changing, the rest is batched for up to
    O(batch_window) seconds, so that a burst of sign-ins becomes two events.
  - A failed read never removes anything; it emits an C(error) event and is retried with exponential backoff (up to
    O(max_backoff) seconds), and the first good read after failures emits C(recovered). An empty read that would remove
    every address is held back (C(error) with C(kind=empty_held)) until the allowlist has read empty for
    O(empty_confirm_seconds), unless O(allow_empty) is set or it removes fewer than O(empty_hold_min) addresses (the
    last user signing out is not a mass removal). A reply that is not an allowlist (such as a login page) is a
    failed read, not an empty list.
  - When the server sends a validator with an allowlist (C(ETag), or a C(Last-Modified) at least a second older than
    its C(Date)), the next read is conditional (C(If-None-Match), C(If-Modified-Since)) and a C(304) means the
    allowlist read last time stands (a good read, no event); snapshots always read in full, a failed read drops the
    validator, and without a validator every read downloads the allowlist as before.
  - No event carries a secret. Each event has one key, C(knocknoc), a dict with C(type) (C(snapshot), C(added), C(removed),
    C(error), C(recovered)), C(allowlist) (the name), C(source) (C(allowlist) or C(grants)), C(addresses), C(count) and
    C(time); C(grants) (C(username), C(ip)) for the grants source; C(reason) for a snapshot; C(message), C(kind),
    C(failures) and C(retry_in) for an error.
options:
  allowlists:
    description:
      - The allowlists to poll, each a dict with C(name) (in the events), C(url) (the allowlist URL as the Knoc shows it),
        C(api_key) or C(api_key_env) (the name of an environment variable holding the key) and optionally C(username)
        (default C(apikey)).
    type: list
    elements: dict
  allowlist_url:
    description:
      - One allowlist, without O(allowlists). Default from E(KNOCKNOC_ALLOWLIST_URL).
    type: str
  allowlist_api_key:
    description:
      - The key of O(allowlist_url). Default from E(KNOCKNOC_ALLOWLIST_API_KEY).
    type: str
  allowlist_name:
    description: The name of O(allowlist_url) in the events.
    type: str
    default: allowlist
  knocs:
    description:
      - Names of Knocs whose grants to read instead (the modelled management API, Active mode, with user names).
    type: list
    elements: str
  url:
    description: The Knocknoc server for O(knocs). Default from E(KNOCKNOC_URL).
    type: str
  token:
    description: The admin API token for O(knocs). Default from E(KNOCKNOC_TOKEN).
    type: str
  validate_certs:
    description: Verify the server certificate. Default from E(KNOCKNOC_VALIDATE_CERTS), else true.
    type: bool
  ca_path:
    description: CA bundle that signed the server certificate. Default from E(KNOCKNOC_CA_PATH).
    type: path
  tls_server_name:
    description: Verify the certificate against this name instead of the URL's host. Default from E(KNOCKNOC_TLS_SERVER_NAME).
    type: str
  tls_fingerprint:
    description: Pin the SHA-256 fingerprint of the server certificate. Default from E(KNOCKNOC_TLS_FINGERPRINT).
    type: str
  timeout:
    description: Seconds for one read. Default from E(KNOCKNOC_TIMEOUT), else 10.
    type: float
  interval:
    description: Seconds between two reads of an allowlist.
    type: float
    default: 1
  batch_window:
    description: Longest time a batch of changes is held open while the allowlist keeps changing.
    type: float
    default: 2
  snapshot_interval:
    description: Seconds between two full snapshots (the reconcile trigger); 0 for none after the first.
    type: float
    default: 300
  snapshot_request_file:
    description:
      - When this file exists, the plugin deletes it and emits a snapshot of every allowlist (a playbook that failed
        touches it to ask for a repair).
    type: path
  max_backoff:
    description: Longest wait between two reads after failures.
    type: float
    default: 30
  allow_empty:
    description: Apply an empty allowlist at once (every address removed) instead of waiting O(empty_confirm_seconds).
    type: bool
    default: false
  empty_confirm_seconds:
    description: How long an allowlist must read empty, read after read, before its addresses are removed.
    type: float
    default: 30
  empty_hold_min:
    description: An empty read is held back only when it would remove at least this many addresses.
    type: int
    default: 2
"""

EXAMPLES = r"""
- name: Knocknoc sign-ins and sign-outs
  hosts: localhost
  sources:
    - knocknoc.fortinet.knocknoc_allowlist:
        allowlists:
          - name: edge
            url: https://knocknoc.example.com/api/v1/allowlists/3f0e.../a41c....txt
            api_key_env: KNOCKNOC_EDGE_API_KEY
        ca_path: /etc/pki/knocknoc-ca.pem
        interval: 1
  rules:
    - name: Show the changes
      condition: event.knocknoc.type in ["added", "removed"]
      action:
        debug:
          msg: "{{ event.knocknoc.type }} {{ event.knocknoc.addresses }}"
"""

LOG = logging.getLogger("knocknoc.fortinet.knocknoc_allowlist")

ENV = "KNOCKNOC_"
DEFAULT_TIMEOUT = 10.0
# Knocknoc's Traefik plugin caps an allowlist body at 32 MiB (module_utils/_knocknoc.py).
ALLOWLIST_MAX_BYTES = 32 * 1024 * 1024
# An entity tag as RFC 9110 writes it; anything else (or a huge one) is not used as a validator.
ETAG_RE = re.compile(r'^(W/)?"[\x21\x23-\x7e\x80-\xff]*"$')
ETAG_MAX = 256
# Re-reads while a batch is open: short, so that the end of a burst is seen soon.
SETTLE_INTERVAL = 0.2
USER_AGENT = "knocknoc.fortinet-eda"


class ReadError(Exception):
    """A failed read; the message names the allowlist and never carries a secret."""

    def __init__(self, message, kind="read"):
        super().__init__(message)
        self.kind = kind


class ConfigError(ValueError):
    pass


# -- the allowlist format (the same rules as module_utils/_knocknoc.py parse_allowlist) ------------------
def _clean_entry(line):
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
    """One entry per line, trimmed; blank lines and ``#`` comments skipped; bad lines kept apart.
    Returns ``(entries, invalid)``."""
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


def normalize(entry):
    """A canonical text for an address or network, so that 2001:DB8::7 and 2001:db8::7/128 are one entry."""
    network = ipaddress.ip_network(entry, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def sort_key(entry):
    network = ipaddress.ip_network(entry, strict=False)
    return (network.version, int(network.network_address), network.prefixlen)


# -- configuration -------------------------------------------------------------------------------------------
def _bool(value, name):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f"):
        return False
    raise ConfigError("%s must be true or false" % name)


def _number(value, name, minimum=0.0):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError("%s must be a number of seconds" % name) from None
    if number < minimum:
        raise ConfigError("%s must be at least %s" % (name, minimum))
    return number


def _option(args, environ, name, env_name=None):
    # An empty string counts as unset: rulebooks pass "{{ var | default('') }}" for options they leave to the environment.
    value = args.get(name)
    if value == "":
        value = None
    if value is None and env_name:
        value = environ.get(env_name) or None
    return value


def check_url(url, option):
    """https only, no credentials in the URL (the modules' rule: secrets travel in headers)."""
    if not url:
        raise ConfigError("%s is required" % option)
    parts = urllib.parse.urlsplit(str(url).strip())
    if parts.username is not None or parts.password is not None:
        raise ConfigError("%s must not contain credentials (user:password@); give the key as an option" % option)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ConfigError("%s must be an https:// URL with a host name" % option)
    return str(url).strip().rstrip("/")


def server_of(url):
    """scheme://host[:port] of a URL: what an event may say about where it read (the path holds the token)."""
    parts = urllib.parse.urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def tls_settings(args, environ):
    """``(ssl, server_hostname)`` for aiohttp from the same options and KNOCKNOC_* variables as the modules."""
    validate = _option(args, environ, "validate_certs", ENV + "VALIDATE_CERTS")
    validate = True if validate is None else _bool(validate, "validate_certs")
    ca_path = _option(args, environ, "ca_path", ENV + "CA_PATH")
    if ca_path:
        ca_path = os.path.expanduser(os.path.expandvars(str(ca_path)))
        if not os.path.exists(ca_path):
            raise ConfigError("ca_path %s does not exist" % ca_path)
    server_name = _option(args, environ, "tls_server_name", ENV + "TLS_SERVER_NAME")
    fingerprint = _option(args, environ, "tls_fingerprint", ENV + "TLS_FINGERPRINT")
    if fingerprint:
        text = str(fingerprint).strip()
        if "=" in text:
            text = text.split("=", 1)[1]
        text = text.replace(":", "").replace(" ", "").lower()
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise ConfigError("tls_fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed)")
        # A pin replaces chain validation, as in the modules (self-signed server certificates).
        return aiohttp.Fingerprint(bytes.fromhex(text)), server_name or None
    if not validate:
        return False, server_name or None
    context = ssl.create_default_context(cafile=ca_path if ca_path and os.path.isfile(ca_path) else None,
                                         capath=ca_path if ca_path and os.path.isdir(ca_path) else None)
    return context, server_name or None


def strong_last_modified(headers):
    """``Last-Modified`` when it can validate: at least one second older than the reply's ``Date`` (RFC 9110
    8.8.2.2). A newer one has one-second precision only, so a change later in that same second would keep it and be
    answered 304: such a reply is not used as a validator."""
    text, date = headers.get("Last-Modified"), headers.get("Date")
    if not text or not date:
        return None
    try:
        modified = email.utils.parsedate_to_datetime(text)
        served = email.utils.parsedate_to_datetime(date)
        if (served - modified).total_seconds() >= 1:
            return text.strip()
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    return None


def same_entity_tag(sent, answered):
    """A 304 may name the tag it validated: when one was sent, it must be that one (weak comparison, RFC 9110
    8.8.3.2); a 304 for another tag says nothing about the state read with ours."""
    if not sent or not answered:
        return True

    def opaque(tag):
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag
    return opaque(sent) == opaque(answered)


def basic_auth(username, password):
    # Built here: aiohttp deprecates BasicAuth and encode_basic_auth is too new for older decision environments.
    token = base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")
    return "Basic " + token


class Target:
    """One thing to poll: an allowlist (addresses) or the grants of a Knoc (user, address pairs)."""

    def __init__(self, name, source, url, secret, username="apikey", knoc=None):
        self.name = name
        self.source = source
        self.url = url
        self.secret = secret
        self.username = username
        self.knoc = knoc
        self.knoc_id = None
        # Conditional allowlist reads: the validators of the last good full read and the state that read held.
        self.etag = None
        self.last_modified = None
        self.cached = None

    def describe(self):
        return {"allowlist": self.name, "source": self.source, "server": server_of(self.url)}

    def forget(self):
        """The next read is a full one (after a failed or unreadable read, or a 304 that cannot be trusted)."""
        self.etag = self.last_modified = self.cached = None

    def conditional_headers(self):
        if self.cached is None:
            return {}
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def remember(self, headers, state):
        """Keep the validators of a good full read (and what it held); none sent, none kept."""
        etag = headers.get("ETag")
        self.etag = etag.strip() if etag and len(etag) <= ETAG_MAX and ETAG_RE.match(etag.strip()) else None
        self.last_modified = strong_last_modified(headers)
        self.cached = state if (self.etag or self.last_modified) else None


class Config:
    def __init__(self, args, environ=None):
        environ = os.environ if environ is None else environ
        args = dict(args or {})
        self.targets = []
        for index, item in enumerate(args.get("allowlists") or []):
            if not isinstance(item, dict):
                raise ConfigError("allowlists[%d] must be a dict with name, url and api_key" % index)
            label = "allowlists[%d]" % index
            key = item.get("api_key")
            if not key and item.get("api_key_env"):
                key = environ.get(str(item["api_key_env"]))
            if not key:
                raise ConfigError("%s needs api_key (or api_key_env naming a set variable)" % label)
            name = str(item.get("name") or label)
            self.targets.append(Target(name, "allowlist", check_url(item.get("url"), label + ".url"), str(key),
                                       str(item.get("username") or "apikey")))
        single = _option(args, environ, "allowlist_url", ENV + "ALLOWLIST_URL")
        # From the environment only when nothing else is configured: the same environment serves the reconcile playbook.
        explicit = args.get("allowlist_url") not in (None, "")
        if single and (explicit or not (args.get("allowlists") or args.get("knocs"))):
            key = _option(args, environ, "allowlist_api_key", ENV + "ALLOWLIST_API_KEY")
            if not key:
                raise ConfigError("allowlist_api_key (or KNOCKNOC_ALLOWLIST_API_KEY) is required with allowlist_url")
            self.targets.append(Target(str(args.get("allowlist_name") or "allowlist"), "allowlist",
                                       check_url(single, "allowlist_url"), str(key)))
        knocs = args.get("knocs") or []
        if isinstance(knocs, str):
            knocs = [knocs]
        if knocs:
            server = check_url(_option(args, environ, "url", ENV + "URL"), "url")
            token = _option(args, environ, "token", ENV + "TOKEN")
            if not token:
                raise ConfigError("token (or KNOCKNOC_TOKEN) is required with knocs")
            for knoc in knocs:
                self.targets.append(Target(str(knoc), "grants", server, str(token), knoc=str(knoc)))
        if not self.targets:
            raise ConfigError("nothing to poll: give allowlists, allowlist_url (KNOCKNOC_ALLOWLIST_URL) or knocs")
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ConfigError("allowlist and knoc names must be unique, got %s" % ", ".join(names))
        self.ssl, self.server_hostname = tls_settings(args, environ)
        timeout = _option(args, environ, "timeout", ENV + "TIMEOUT")
        self.timeout = DEFAULT_TIMEOUT if timeout is None else _number(timeout, "timeout", 0.1)
        self.interval = _number(args.get("interval", 1), "interval", 0.05)
        self.batch_window = _number(args.get("batch_window", 2), "batch_window")
        self.snapshot_interval = _number(args.get("snapshot_interval", 300), "snapshot_interval")
        request_file = _option(args, environ, "snapshot_request_file")
        self.snapshot_request_file = os.path.expanduser(str(request_file)) if request_file else None
        self.max_backoff = _number(args.get("max_backoff", 30), "max_backoff", 0.05)
        self.allow_empty = _bool(args.get("allow_empty", False), "allow_empty")
        self.empty_confirm_seconds = _number(args.get("empty_confirm_seconds", 30), "empty_confirm_seconds")
        self.empty_hold_min = int(_number(args.get("empty_hold_min", 2), "empty_hold_min", 1))

    def secrets(self):
        """What no message may show: keys, tokens, and the allowlist URLs' paths (they hold the allowlist token)."""
        values = [t.secret for t in self.targets if t.secret]
        values += [urllib.parse.urlsplit(t.url).path for t in self.targets if t.source == "allowlist"]
        return sorted((v for v in values if v and v != "/"), key=len, reverse=True)


# -- reading -----------------------------------------------------------------------------------------------
class Reader:
    """Reads targets over one aiohttp session; every failure becomes a :class:`ReadError`."""

    def __init__(self, config, session):
        self.config = config
        self.session = session

    def _scrub(self, text):
        for secret in self.config.secrets():
            text = text.replace(secret, "***")
        return text

    async def _get(self, target, url, **kwargs):
        kwargs.setdefault("headers", {})["User-Agent"] = USER_AGENT
        kwargs["ssl"] = self.config.ssl
        if self.config.server_hostname:
            kwargs["server_hostname"] = self.config.server_hostname
        kwargs["timeout"] = aiohttp.ClientTimeout(total=self.config.timeout)
        kwargs["allow_redirects"] = False  # a redirect to a login page is not an allowlist
        try:
            async with self.session.get(url, **kwargs) as response:
                body = await response.content.read(ALLOWLIST_MAX_BYTES + 1)
                return response.status, response.headers, body
        except asyncio.TimeoutError:
            raise ReadError("%s: no answer from %s within %ss" % (target.name, server_of(url), self.config.timeout),
                            "timeout") from None
        except aiohttp.ClientSSLError as exc:
            raise ReadError("%s: TLS certificate error from %s: %s"
                            % (target.name, server_of(url), self._scrub(str(exc))), "tls") from None
        except aiohttp.ServerFingerprintMismatch:
            raise ReadError("%s: the certificate of %s does not match tls_fingerprint" % (target.name, server_of(url)),
                            "tls") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ReadError("%s: cannot read from %s: %s" % (target.name, server_of(url),
                                                             self._scrub(str(exc) or type(exc).__name__)),
                            "connect") from None

    def _status_error(self, target, url, status):
        if status in (401, 403):
            return ReadError("%s: HTTP %d from %s: the key or token was refused (or its IP restrictions exclude this"
                             " host)" % (target.name, status, server_of(url)), "auth")
        if status == 404:
            return ReadError("%s: HTTP 404 from %s: no such allowlist or Knoc" % (target.name, server_of(url)),
                             "not_found")
        return ReadError("%s: HTTP %d from %s" % (target.name, status, server_of(url)), "status")

    async def read(self, target, fresh=False):
        """The target's current state: a frozenset of addresses (allowlist) or of (username, ip) (grants).
        ``fresh``: an allowlist read in full, never answered from a validator (snapshots)."""
        if target.source == "grants":
            return await self._read_grants(target)
        try:
            return await self._read_allowlist(target, fresh)
        except Exception:
            # Nothing a failed or unreadable read left may validate a later one: the next read is a full one.
            target.forget()
            raise

    async def _read_allowlist(self, target, fresh):
        conditional = {} if fresh else target.conditional_headers()
        headers = {"Accept": "text/plain, application/json", "Authorization": basic_auth(target.username, target.secret)}
        headers.update(conditional)
        status, reply_headers, body = await self._get(target, target.url, headers=headers)
        if status == 304:
            if conditional and same_entity_tag(conditional.get("If-None-Match"), reply_headers.get("ETag")):
                return target.cached  # unchanged: the state of the last good full read stands
            # A 304 to a read that sent no validator, or for another tag, says nothing about the allowlist.
            target.forget()
            if conditional:
                return await self._read_allowlist(target, True)
            raise ReadError("%s: HTTP 304 from %s to a read that sent no validator" % (target.name, server_of(target.url)),
                            "status")
        if status != 200:
            raise self._status_error(target, target.url, status)
        state = self._parse_allowlist(target, reply_headers.get("Content-Type", ""), body)
        target.remember(reply_headers, state)
        return state

    def _parse_allowlist(self, target, content_type, body):
        if len(body) > ALLOWLIST_MAX_BYTES:
            raise ReadError("%s: the allowlist is larger than 32 MiB" % target.name, "parse")
        text = body.decode("utf-8", errors="replace")
        content_type = content_type.lower()
        if "html" in content_type:
            raise ReadError("%s: %s answered with a web page, not an allowlist" % (target.name, server_of(target.url)),
                            "parse")
        if "json" in content_type:
            try:
                data = json.loads(text)
            except ValueError:
                raise ReadError("%s: the JSON allowlist is not valid JSON" % target.name, "parse") from None
            if isinstance(data, dict):
                data = data.get("entries")
            if not isinstance(data, list):
                raise ReadError("%s: the JSON allowlist has no list of entries" % target.name, "parse")
            text = "\n".join(item for item in data if isinstance(item, str))
        entries, invalid = parse_allowlist(text)
        if invalid and not entries:
            # Lines but not one address: something other than an allowlist answered; not "nobody is allowed".
            raise ReadError("%s: the reply holds no address, only %d unreadable lines" % (target.name, len(invalid)),
                            "parse")
        if invalid:
            LOG.warning("%s: %d allowlist lines are not addresses and were skipped", target.name, len(invalid))
        return frozenset(normalize(e) for e in entries)

    async def _read_grants(self, target):
        headers = {"Authorization": "Bearer %s" % target.secret, "Accept": "application/json"}
        if target.knoc_id is None:
            url = "%s/api/v1/knocs?%s" % (target.url, urllib.parse.urlencode({"name": target.knoc}))
            status, _headers, body = await self._get(target, url, headers=headers)
            if status != 200:
                raise self._status_error(target, url, status)
            knocs = self._json(target, body).get("knocs")
            matches = [k for k in knocs or [] if isinstance(k, dict) and k.get("name") == target.knoc]
            if len(matches) != 1:
                raise ReadError("%s: no Knoc named %r on %s (names are case-sensitive)"
                                % (target.name, target.knoc, server_of(target.url)), "not_found")
            target.knoc_id = matches[0].get("id")
        url = "%s/api/v1/knocs/%s/grants" % (target.url, target.knoc_id)
        status, _headers, body = await self._get(target, url, headers=headers)
        if status == 404:
            target.knoc_id = None  # the Knoc was recreated: look its id up again next time
        if status != 200:
            raise self._status_error(target, url, status)
        grants = self._json(target, body).get("grants")
        if not isinstance(grants, list):
            raise ReadError("%s: the grants reply has no list of grants" % target.name, "parse")
        state = set()
        for grant in grants:
            if not isinstance(grant, dict) or not isinstance(grant.get("username"), str):
                raise ReadError("%s: a grant without a username" % target.name, "parse")
            try:
                state.add((grant["username"], normalize(str(grant.get("ip")))))
            except ValueError:
                raise ReadError("%s: a grant with an invalid address" % target.name, "parse") from None
        return frozenset(state)

    def _json(self, target, body):
        try:
            data = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            raise ReadError("%s: the reply is not JSON" % target.name, "parse") from None
        if not isinstance(data, dict):
            raise ReadError("%s: the reply is not a JSON object" % target.name, "parse")
        return data


# -- events ------------------------------------------------------------------------------------------------
def addresses_of(state, source):
    if source == "grants":
        return sorted({ip for _user, ip in state}, key=sort_key)
    return sorted(state, key=sort_key)


def grants_of(items):
    return [{"username": user, "ip": ip} for user, ip in sorted(items, key=lambda g: (sort_key(g[1]), g[0]))]


class Watcher:
    """Polls one target and turns what it reads into events."""

    def __init__(self, target, config, reader, queue, clock=time.monotonic, sleep=asyncio.sleep):
        self.target = target
        self.config = config
        self.reader = reader
        self.queue = queue
        self.clock = clock
        self.sleep = sleep
        self.state = None          # what the devices were last told (the last emitted state)
        self.failures = 0
        self.failing_since = None
        self.empty_since = None
        self.empty_reported = False
        self.next_snapshot = None
        self.snapshot_wanted = None  # a reason, when a snapshot was requested
        self.wake = asyncio.Event()

    async def emit(self, event_type, **fields):
        event = {"type": event_type}
        event.update(self.target.describe())
        event["time"] = time.time()
        event.update(fields)
        await self.queue.put({"knocknoc": event})

    def request_snapshot(self, reason):
        self.snapshot_wanted = reason
        self.wake.set()

    async def pause(self, seconds):
        """Sleep, cut short by a snapshot request."""
        if self.snapshot_wanted:
            return
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def read(self, fresh=False):
        """One read; a failure is reported and backed off here and returns None. A 304 (unchanged) is a good read."""
        try:
            state = await self.reader.read(self.target, fresh=fresh)
        except ReadError as exc:
            self.failures += 1
            if self.failing_since is None:
                self.failing_since = self.clock()
            # Exponential from the poll interval, capped, with jitter so that many sources do not retry in step.
            wait = min(self.config.max_backoff, self.config.interval * (2 ** min(self.failures - 1, 16)))
            wait = wait * random.uniform(0.8, 1.0)
            await self.emit("error", kind=exc.kind, message=str(exc), failures=self.failures,
                            retry_in=round(wait, 2), addresses_kept=len(addresses_of(self.state or (), self.target.source)))
            LOG.warning("%s (attempt %d, next in %.1fs; nothing is revoked while reads fail)",
                        exc, self.failures, wait)
            await self.pause(wait)
            return None
        if self.failures:
            await self.emit("recovered", failures=self.failures,
                            outage_seconds=round(self.clock() - self.failing_since, 2))
            self.failures = 0
            self.failing_since = None
        return state

    async def snapshot(self, reason):
        state = None
        while state is None:
            # In full: a snapshot is the reconcile trigger, and asks the server, not a validator, what is allowed.
            state = await self.read(fresh=True)
        self.snapshot_wanted = None
        self.empty_since = None
        self.state = state
        fields = {"reason": reason, "addresses": addresses_of(state, self.target.source),
                  "count": len(addresses_of(state, self.target.source))}
        if self.target.source == "grants":
            fields["grants"] = grants_of(state)
        await self.emit("snapshot", **fields)
        if self.config.snapshot_interval:
            self.next_snapshot = self.clock() + self.config.snapshot_interval

    def guard_empty(self, state):
        """The state to apply: ``state``, or the previous one while an unexpected empty read is unconfirmed."""
        if state or len(self.state or ()) < self.config.empty_hold_min or self.config.allow_empty:
            self.empty_since = None
            self.empty_reported = False
            return state, None
        now = self.clock()
        if self.empty_since is None:
            self.empty_since = now
        if now - self.empty_since >= self.config.empty_confirm_seconds:
            self.empty_since = None
            self.empty_reported = False
            return state, None
        return self.state, round(self.config.empty_confirm_seconds - (now - self.empty_since), 2)

    async def apply(self, state):
        removed = self.state - state
        added = state - self.state
        self.state = state
        source = self.target.source
        # Removals first: a user who moved from one address to another (Active FortiManager: one trusted host per
        # admin) must be revoked at the old address before being granted the new one.
        for kind, items in (("removed", removed), ("added", added)):
            if not items:
                continue
            if source == "grants":
                # An address leaves only when no grant holds it any more; the grants say who changed.
                held = {ip for _user, ip in state}
                addresses = sorted({ip for _user, ip in items if kind == "added" or ip not in held}, key=sort_key)
                await self.emit(kind, addresses=addresses, count=len(addresses), grants=grants_of(items))
            else:
                await self.emit(kind, addresses=sorted(items, key=sort_key), count=len(items))

    async def follow(self):
        """After a change was emitted: keep reading while the allowlist keeps changing (a burst), for at most
        batch_window, and emit what accumulated as one batch. The first change goes out at once (no wait for a
        single sign-in); the rest of a burst follows in one event."""
        latest = self.state
        deadline = self.clock() + self.config.batch_window
        while self.clock() < deadline and not self.snapshot_wanted:
            await self.sleep(min(SETTLE_INTERVAL, max(deadline - self.clock(), 0)))
            state = await self.read()
            if state is None or state == latest:
                break  # quiet again (or a failed read, reported: keep what was read)
            latest = state
        if latest != self.state:
            wanted, hold = self.guard_empty(latest)
            if hold is None and wanted != self.state:
                await self.apply(wanted)

    async def run(self):
        await self.snapshot("start")
        while True:
            if self.snapshot_wanted:
                await self.snapshot(self.snapshot_wanted)
                continue
            if self.next_snapshot is not None and self.clock() >= self.next_snapshot:
                await self.snapshot("interval")
                continue
            await self.pause(self.config.interval)
            if self.snapshot_wanted:
                continue
            state = await self.read()
            if state is None:
                continue
            wanted, hold = self.guard_empty(state)
            if hold is not None:
                if not self.empty_reported:
                    self.empty_reported = True
                    await self.emit("error", kind="empty_held", failures=0, retry_in=self.config.interval,
                                    addresses_kept=len(addresses_of(self.state, self.target.source)),
                                    message="%s: the allowlist read empty; its %d addresses are kept until it has read"
                                            " empty for %ss (allow_empty applies it at once)"
                                            % (self.target.name, len(addresses_of(self.state, self.target.source)),
                                               self.config.empty_confirm_seconds))
                continue
            if wanted == self.state:
                continue
            await self.apply(wanted)
            await self.follow()


async def watch_request_file(path, watchers, interval):
    while True:
        if os.path.exists(path):
            try:
                os.unlink(path)
            except OSError:
                pass
            LOG.info("snapshot requested through %s", path)
            for watcher in watchers:
                watcher.request_snapshot("request")
        await asyncio.sleep(interval)


async def main(queue, args):
    """ansible-rulebook's entry point: poll until cancelled."""
    try:
        config = Config(args)
    except ConfigError as exc:
        # Before any read: a configuration error ends the source with a message that holds no secret.
        raise ValueError("knocknoc.fortinet.knocknoc_allowlist: %s" % exc) from None
    connector = aiohttp.TCPConnector(limit=len(config.targets) * 2)
    # trust_env: the proxy variables apply, as they do to the modules (requests).
    async with aiohttp.ClientSession(connector=connector, trust_env=True) as session:
        reader = Reader(config, session)
        watchers = [Watcher(target, config, reader, queue) for target in config.targets]
        tasks = [asyncio.ensure_future(w.run()) for w in watchers]
        if config.snapshot_request_file:
            tasks.append(asyncio.ensure_future(
                watch_request_file(config.snapshot_request_file, watchers, min(config.interval, 1.0))))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


if __name__ == "__main__":
    # Print the events of the allowlist given by the KNOCKNOC_ALLOWLIST_* variables (a quick manual check).
    class _PrintQueue(asyncio.Queue):
        async def put(self, item):
            print(item)  # noqa: T201

    asyncio.run(main(_PrintQueue(), {}))
