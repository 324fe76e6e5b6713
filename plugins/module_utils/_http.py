# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The base HTTPS client shared by the FortiGate, FortiManager and Knocknoc clients.

:class:`HttpClient` owns one ``requests.Session`` (connection reuse), the base URL, the
timeout, TLS (CA bundle, certificate name override, fingerprint pin, insecure mode), bounded
retries, the request counter and the translation of transport failures into
:class:`KnocknocError`. Subclasses add the authentication header and the API's envelopes.

Modules must call :func:`check_requirements` first: ``requests`` is a third-party library.
"""

from __future__ import annotations

import copy
import email.utils
import hashlib
import hmac
import ipaddress
import os
import random
import ssl
import time
import traceback
import warnings

from urllib.parse import urlsplit

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    HTTPAdapter = object
else:
    HAS_REQUESTS = True

try:
    from urllib3.connection import HTTPSConnection as _HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool as _HTTPConnectionPool
    from urllib3.connectionpool import HTTPSConnectionPool as _HTTPSConnectionPool
    from urllib3.exceptions import InsecureRequestWarning, NewConnectionError
    from urllib3.exceptions import SSLError as _UrllibSSLError
except ImportError:  # urllib3 ships with requests; without it requests is missing too
    InsecureRequestWarning = Warning
    NewConnectionError = None
    _HTTPSConnection = _HTTPConnectionPool = _HTTPSConnectionPool = object
    _UrllibSSLError = Exception

from ansible.module_utils.basic import missing_required_lib

# resolve_tls_params is _connection's; importable from here as before.
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import resolve_tls_params  # pylint: disable=unused-import
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError, redact, secrets_in
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_url_parts

DEFAULT_TIMEOUT = 10  # seconds: the Knocknoc agent's connect/response budget (202004)
DEFAULT_RETRIES = 3
BACKOFF_BASE = 0.5  # seconds; attempt n waits up to base * 2**n ...
BACKOFF_CAP = 5.0  # ... and never longer than this, Retry-After included
# Statuses worth repeating a safe request for: rate limiting (FortiOS 429 "access temporarily
# blocked") and gateway/overload answers; 401/403 are never retried (a wrong token stays wrong,
# and FortiOS blocks the source after repeated failed authentications).
RETRY_STATUSES = frozenset((429, 502, 503, 504))
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))


def check_requirements(module):
    """Fail the module with ``missing_required_lib`` when ``requests`` is not importable."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)


def hide_url_credentials(module, *options):
    """Add the secrets that ``options`` (default: every option) carry by their shape, at any depth
    (``user:password@`` URL passwords, allowlist URL tokens), to the module's no_log values.

    The collection's module base (``_module.KnocknocModule``) does this for every argument before
    Ansible validates them; this stays for modules built on a plain ``AnsibleModule``.
    """
    for option in options or list(module.params):
        module.no_log_values.update(secrets_in(module.params.get(option)))


# validate_certs=false without a fingerprint pin: the devices this process talked to without
# verifying who answered. urllib3's InsecureRequestWarning is silenced (it goes to stderr, once per
# request, without naming the device); the module base turns this into one task warning per device.
_UNVERIFIED = []


def unverified_devices():
    """The devices (``https://host[:port]``) reached without certificate verification since the last
    call, in order, each once; the record is emptied."""
    devices = list(_UNVERIFIED)
    del _UNVERIFIED[:]
    return devices


def _note_unverified(url):
    try:
        parts = urlsplit(url)
        origin = "%s://%s" % (parts.scheme, parts.hostname)
        if parts.port:
            origin += ":%d" % parts.port
    except ValueError:
        origin = "(unreadable URL)"
    if origin not in _UNVERIFIED:
        _UNVERIFIED.append(origin)


def tls_kwargs(params):
    """The shared TLS/timeout/retries options of module ``params`` as client keyword arguments."""
    return dict((name, params.get(name)) for name in (
        "validate_certs", "ca_path", "tls_server_name", "tls_fingerprint", "timeout", "retries"))


def normalize_fingerprint(value):
    """``AA:BB:..``, bare hex, ``sha256:AA..`` or openssl's ``sha256 Fingerprint=AA:..`` -> 64 lower-case
    hex digits."""
    text = str(value).strip()
    if "=" in text:
        text = text.split("=", 1)[1]
    elif text[:7].lower() in ("sha256:", "sha256/"):
        text = text[7:]
    text = text.replace(":", "").replace(" ", "").lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise KnocknocError(
            None, "tls_fingerprint must be the SHA-256 fingerprint of the device certificate"
            " (64 hex digits, colons allowed), got %d hex digits" % len(text),
            description="Invalid connection option")
    return text


def normalize_fingerprints(value):
    """``tls_fingerprint`` as given (one pin, a list of pins, or pins separated by commas as an
    environment variable carries them) -> a tuple of 64-hex-digit pins, duplicates removed. Several
    pins are for a rotation: the certificate may match any of them."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else [value]
    pins = []
    for item in items:
        for part in str(item).split(","):
            if part.strip():
                pin = normalize_fingerprint(part)
                if pin not in pins:
                    pins.append(pin)
    return tuple(pins)


def _hex_colons(digest):
    digest = digest.upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _dns_name_matches(pattern, name):
    """RFC 6125 matching of one DNS name: case-insensitive, a ``*`` only as the whole left-most label
    and standing for exactly one label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*.") or "*" in pattern[2:]:
        return False
    head, _dot, rest = name.partition(".")
    return bool(head) and rest == pattern[2:]


def _as_ip(text):
    try:
        return ipaddress.ip_address(str(text).strip("[]"))
    except ValueError:
        return None


def certificate_names(peer):
    """``(subjectAltNames, subject CN)`` of a certificate as ``SSLSocket.getpeercert()`` gives it
    (verified chains only): SANs as ``("DNS", name)`` / ``("IP Address", address)``."""
    sans = [(kind, value) for kind, value in peer.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    common_name = None
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common_name = value
    return sans, common_name


def name_matches(peer, wanted):
    """Whether a verified certificate (``getpeercert()``) carries ``wanted``: in its subjectAltNames
    when it has any (DNS names, or IP addresses for an address), else as its subject CN.

    The CN is read only when the certificate has no subjectAltName at all: Fortinet_Factory and
    Fortinet_Local carry the serial there and nowhere else; a certificate with SANs is never matched
    by its CN (RFC 6125), so ``FortiGate``, the CN of every Fortinet_GUI_Server, names none of them."""
    sans, common_name = certificate_names(peer)
    address = _as_ip(wanted)
    if sans:
        for kind, value in sans:
            if kind == "IP Address" and address is not None and _as_ip(value) == address:
                return True
            if kind == "DNS" and address is None and _dns_name_matches(value, wanted):
                return True
        return False
    if common_name is None:
        return False
    if address is not None:
        return _as_ip(common_name) == address
    return _dns_name_matches(common_name, wanted)


def _describe_names(peer):
    sans, common_name = certificate_names(peer)
    if sans:
        return "its subjectAltNames are %s" % ", ".join("%s:%s" % ("IP" if k == "IP Address" else k, v) for k, v in sans)
    return "it has no subjectAltName and its subject CN is %s" % (common_name or "empty")


class _CheckedHTTPSConnection(_HTTPSConnection):
    """urllib3's HTTPS connection, plus the collection's own checks of the peer certificate right after
    the handshake, before a byte of the request is sent. Subclassed per client (see _TLSAdapter)
    with the values to check:

    - ``knocknoc_pins``: SHA-256 pins of the leaf certificate, any of which may match (rotation);
      the chain is not verified then (the pin is the trust).
    - ``knocknoc_server_name``: the name the certificate must carry (``tls_server_name``). OpenSSL has
      verified the chain; urllib3's own name check is off for this connection only, because urllib3 2
      never falls back to the subject CN and appliance certificates carry the serial only there.
    """

    knocknoc_pins = ()
    knocknoc_server_name = None

    def connect(self):
        super(_CheckedHTTPSConnection, self).connect()
        try:
            self._knocknoc_check()
        except BaseException:
            self.close()
            raise

    def _knocknoc_check(self):
        if self.knocknoc_pins:
            der = self.sock.getpeercert(binary_form=True)
            if not der:
                raise _UrllibSSLError("no peer certificate to compare with tls_fingerprint")
            seen = hashlib.sha256(der).hexdigest()
            if not any(hmac.compare_digest(seen, pin) for pin in self.knocknoc_pins):
                raise _UrllibSSLError(
                    "the certificate's SHA-256 fingerprint %s matches none of the %d tls_fingerprint pin(s)"
                    % (_hex_colons(seen), len(self.knocknoc_pins)))
            self.is_verified = True  # by the pin: no InsecureRequestWarning for this connection
        elif self.knocknoc_server_name:
            peer = self.sock.getpeercert()
            if not peer:  # only with verification off, which never gets here; refuse rather than pass
                raise ssl.CertificateError("hostname %s cannot be checked: no verified certificate"
                                           % self.knocknoc_server_name)
            if not name_matches(peer, self.knocknoc_server_name):
                raise ssl.CertificateError("hostname mismatch: tls_server_name %s is not in the certificate (%s)"
                                           % (self.knocknoc_server_name, _describe_names(peer)))


class _TLSAdapter(HTTPAdapter):
    """Sends ``tls_server_name`` as SNI and checks the certificate as the docs say.

    - pins (``tls_fingerprint``, one or several): the leaf's SHA-256 must equal one of them; the
      chain is not verified (the client passes ``verify=False``) and no name is checked.
    - ``tls_server_name`` with verification on: OpenSSL verifies the chain against ``ca_path`` (or the
      system CAs), then :class:`_CheckedHTTPSConnection` checks the name: subjectAltNames, or the subject
      CN of a certificate without any (Fortinet_Factory, Fortinet_Local). So ``https://10.0.0.1`` can be
      verified against a certificate issued to the serial number.
    - neither: urllib3's own checks (chain, and the URL's host in the subjectAltNames, IP addresses
      included: a Fortinet_GUI_Server reached by one of its interface addresses).
    """

    def __init__(self, tls_server_name=None, tls_fingerprint=None, verify=True):
        self._tls_kwargs = {}
        pins = normalize_fingerprints(tls_fingerprint)
        checked_name = tls_server_name if (tls_server_name and verify is not False and not pins) else None
        if tls_server_name:
            self._tls_kwargs["server_hostname"] = tls_server_name
            # urllib3's name check off for these connections only: ours replaces it (never with
            # verification off: the chain is still verified by OpenSSL).
            self._tls_kwargs["assert_hostname"] = False
        self._pool_classes = None
        if pins or checked_name:
            connection = type("_KnocknocHTTPSConnection", (_CheckedHTTPSConnection,),
                              {"knocknoc_pins": pins, "knocknoc_server_name": checked_name})
            pool = type("_KnocknocHTTPSConnectionPool", (_HTTPSConnectionPool,), {"ConnectionCls": connection})
            self._pool_classes = {"http": _HTTPConnectionPool, "https": pool}
        # Retries are ours (bounded, idempotency-aware): urllib3 must not retry on its own.
        super(_TLSAdapter, self).__init__(max_retries=0)

    def _use_checked_pools(self, manager):
        if self._pool_classes is not None:
            manager.pool_classes_by_scheme = self._pool_classes
        return manager

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs.update(self._tls_kwargs)
        super(_TLSAdapter, self).init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self._use_checked_pools(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        proxy_kwargs.update(self._tls_kwargs)
        return self._use_checked_pools(super(_TLSAdapter, self).proxy_manager_for(proxy, **proxy_kwargs))


class HttpResponse(object):
    """What :meth:`HttpClient.request` returns: ``status``, ``data`` (parsed JSON or None),
    ``text`` (the body as text), ``headers`` and ``display`` (``METHOD /path?query``)."""

    def __init__(self, status, data, text, headers, display):
        self.status = status
        self.data = data
        self.text = text
        self.headers = headers
        self.display = display


_NO_JSON = object()


class HttpClient(object):
    """One API endpoint over HTTPS, on one ``requests.Session``.

    :param base_url: ``https://host[:port]``; plain HTTP, credentials in the URL and (unless
        ``url_path``, for a client of one full URL such as an allowlist's) a path or query are refused
        (tokens never travel in clear text or in URLs; the subclasses add the API path).
    :param timeout: seconds for connect and for each read (default 10, the Knocknoc agent's).
    :param validate_certs: verify the certificate (default True; False = Knocknoc's "Insecure").
    :param ca_path: CA bundle (file or directory) that signed the device certificate.
    :param tls_server_name: verify the certificate against this name instead of the URL's host, in
        its subjectAltNames or, for a certificate without any, its subject CN (Fortinet_Factory and
        Fortinet_Local carry the serial number there only); also sent as SNI.
    :param tls_fingerprint: pin the SHA-256 fingerprint of the leaf certificate, or several (a list,
        or comma-separated) of which any may match; with a pin the CA chain need not verify.
    :param retries: extra attempts for connection failures and 429/502/503/504 (default 3).
    :param secrets: strings that errors must scrub (subclasses add their token).

    Attributes: ``calls`` counts HTTP requests sent (retries included); ``sleep`` and
    ``jitter`` (``random.uniform``-like) are injectable for tests; ``backoff_base`` and
    ``backoff_cap`` shape the waits.
    """

    # Error kinds -> documented agent codes (the Fortinet family). A client for another API
    # replaces this with {} and gives ERROR_TEXTS for its own wording.
    ERROR_CODES = {
        "connect": 202000,
        "auth": 202001,
        "forbidden": 202002,
        "tls": 202003,
        "timeout": 202004,
        "parse": 202150,
    }
    ERROR_TEXTS = {}
    API_NAME = "device"

    def __init__(self, base_url, timeout=DEFAULT_TIMEOUT, validate_certs=True, ca_path=None,
                 tls_server_name=None, tls_fingerprint=None, retries=DEFAULT_RETRIES, secrets=(),
                 option_prefix="", url_path=False):
        if not HAS_REQUESTS:
            raise KnocknocError(None, "the Python library 'requests' is not installed",
                                description="Missing requirement")
        self._secrets = set(s for s in secrets if s)
        self.base_url = self.check_url(base_url, option_prefix + "url", path=url_path)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        if not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise KnocknocError(None, "%stimeout must be a positive number of seconds" % option_prefix,
                                description="Invalid connection option")
        self.retries = DEFAULT_RETRIES if retries is None else int(retries)
        if self.retries < 0:
            raise KnocknocError(None, "%sretries must be 0 or more" % option_prefix,
                                description="Invalid connection option")
        self.validate_certs = True if validate_certs is None else bool(validate_certs)
        self.ca_path = ca_path
        if ca_path and not os.path.exists(ca_path):
            raise KnocknocError(None, "%sca_path %s does not exist" % (option_prefix, ca_path),
                                description="Invalid connection option")
        self.tls_server_name = tls_server_name or None
        # A tuple of pins (empty: none); any of them may match (a certificate rotation in progress).
        self.tls_fingerprint = normalize_fingerprints(tls_fingerprint)
        if self.tls_fingerprint:
            verify = False  # the pin replaces chain validation (self-signed appliance certificates)
        elif not self.validate_certs:
            verify = False
        else:
            verify = ca_path or True
        self.verify = verify
        self.calls = 0
        self.sleep = time.sleep
        self.jitter = random.uniform
        self.backoff_base = BACKOFF_BASE
        self.backoff_cap = BACKOFF_CAP
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "knocknoc.fortinet"
        adapter = _TLSAdapter(self.tls_server_name, self.tls_fingerprint, verify)
        self.session.mount("https://", adapter)

    # -- plumbing -------------------------------------------------------------------------------
    def add_secret(self, secret):
        """Scrub ``secret`` from every later error (e.g. a key that a reply just revealed)."""
        if secret:
            self._secrets.add(str(secret))

    def use_api_key(self, token, variable):
        """Send API key ``token`` as the bearer token of every request (a secret of this client);
        without one, fail naming ``variable``, the environment variable that can hold it."""
        if not token:
            raise KnocknocError(None, "token is required (or set %s)" % variable, description="Invalid connection option")
        self.add_secret(token)
        self.session.headers["Authorization"] = "Bearer %s" % token

    @property
    def secrets(self):
        return tuple(self._secrets)

    def check_url(self, url, option="url", path=False):
        """Refuse what must never be sent, before any request: plain HTTP, credentials in the URL, no
        host or a host that is not a DNS name or IP address, a port outside 1-65535, a fragment and,
        unless ``path`` (a full URL such as an allowlist's), a path or query. A base URL with a path
        (``https://fw/api/v2``, ``https://fmg/jsonrpc``) would have the API path added twice, and the
        resulting 404s read as "already deleted". The rule is ``_validate.check_url_parts``."""
        try:
            check_url_parts(option, url, path=path)
        except ValueError as exc:
            # The message never shows the URL (it may carry a password or a token).
            raise KnocknocError(None, str(exc), description="Invalid connection option", secrets=self.secrets)
        return str(url).rstrip("/")

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def error(self, kind, cause, details=None, code=None, description=None, hint=None):
        """A :class:`KnocknocError` for an error ``kind`` (connect, auth, forbidden, tls, timeout,
        parse, status) with this client's code mapping and secrets."""
        if code is None:
            code = self.ERROR_CODES.get(kind)
        if code is None and description is None:
            description, default_hint = self.ERROR_TEXTS.get(kind, (None, None))
            if description is None:
                description = "Unexpected HTTP status" if kind == "status" else "Request failed"
            hint = default_hint if hint is None else hint
        return KnocknocError(code, cause=cause, description=description, hint=hint,
                             details=details, secrets=self.secrets)

    def _backoff(self, attempt, retry_after=None):
        if retry_after is not None:
            return max(0.0, min(self.backoff_cap, retry_after))
        # Full jitter (AWS architecture blog): spreads retries of many clients evenly.
        return self.jitter(0, min(self.backoff_cap, self.backoff_base * (2 ** attempt)))

    @staticmethod
    def _retry_after(response):
        value = response.headers.get("Retry-After")
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        return max(0.0, moment.timestamp() - time.time())

    @staticmethod
    def _never_connected(exc):
        """True when the TCP/TLS connection was never established (DNS, refused, unreachable):
        the request was not sent, so even a non-idempotent call may be repeated."""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return True
        seen = set()
        stack = [exc]
        while stack:
            item = stack.pop()
            if item is None or id(item) in seen:
                continue
            seen.add(id(item))
            if NewConnectionError is not None and isinstance(item, NewConnectionError):
                return True
            if isinstance(item, ConnectionRefusedError):
                return True
            stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
            stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
        return False

    def _transport_error(self, exc, display, attempts):
        text = "%s: %s" % (type(exc).__name__, exc)
        details = {"request": display, "attempts": attempts, "error": redact(text, *self.secrets)}
        if isinstance(exc, requests.exceptions.SSLError):
            reason = "TLS verification failed"
            if "fingerprint" in text.lower():
                reason = "the certificate does not match tls_fingerprint"
            elif "hostname" in text.lower() or "match" in text.lower():
                reason = "the certificate name does not match %s" % (
                    "tls_server_name %s" % self.tls_server_name if self.tls_server_name else "the URL's host")
            elif "certificate verify failed" in text.lower():
                reason = "the certificate is not signed by a trusted CA"
            return self.error("tls", "%s on %s (%s)" % (reason, display, self.base_url), details)
        if isinstance(exc, requests.exceptions.Timeout):
            phase = "connecting" if isinstance(exc, requests.exceptions.ConnectTimeout) else "waiting for the answer"
            return self.error("timeout", "no answer within %ss %s on %s (%s)" % (
                self.timeout, phase, display, self.base_url), details)
        if isinstance(exc, OSError) and not isinstance(exc, requests.exceptions.RequestException):
            # e.g. requests' "Could not find a suitable TLS CA certificate bundle"
            return KnocknocError(None, "TLS setup failed for %s: %s" % (display, exc),
                                 description="Invalid connection option", details=details,
                                 secrets=self.secrets)
        reason = "connection failed"
        lowered = text.lower()
        if "name or service not known" in lowered or "nodename nor servname" in lowered \
                or "name resolution" in lowered or "getaddrinfo" in lowered:
            reason = "host name does not resolve"
        elif "refused" in lowered:
            reason = "connection refused"
        elif "reset" in lowered or "aborted" in lowered or "remotedisconnected" in lowered:
            reason = "connection closed by the peer"
        return self.error("connect", "%s on %s (%s)" % (reason, display, self.base_url), details)

    # -- the one way to talk HTTP ------------------------------------------------------------------
    def request(self, method, path, params=None, json=None, data=None, headers=None, auth=None,
                idempotent=None, expect_json=True, allow_status=(), timeout=None):
        """Send one request (with bounded retries) and return an :class:`HttpResponse`.

        ``path`` starts with ``/`` and is appended to ``base_url``; an absolute ``https://`` URL is
        used as is (it is checked like ``base_url``). ``idempotent`` defaults to True for
        GET/HEAD/OPTIONS/PUT/DELETE: only then are 429/502/503/504 and dropped connections
        retried (a connection that was never established is retried for every method).
        Statuses in ``allow_status`` are returned without raising; any other 3xx/4xx/5xx
        raises via :meth:`status_error`. With ``expect_json`` a 2xx body that is not JSON
        raises the ``parse`` error (202150).
        """
        method = method.upper()
        if path.lower().startswith("https://") or path.lower().startswith("http://"):
            url = self.check_url(path, "url", path=True)
        else:
            url = self.base_url + path
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        prepared = self.session.prepare_request(requests.Request(
            method, url, params=params, json=json, data=data, headers=headers, auth=auth))
        display = "%s %s" % (method, redact(prepared.path_url, *self.secrets))
        settings = self.session.merge_environment_settings(prepared.url, {}, None, self.verify, None)
        timeout = self.timeout if timeout is None else timeout
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                with warnings.catch_warnings():
                    if self.verify is False:
                        # Not on stderr once per request: the module warns once per device instead.
                        warnings.simplefilter("ignore", InsecureRequestWarning)
                        if not self.tls_fingerprint:
                            _note_unverified(prepared.url)
                    response = self.session.send(prepared, timeout=timeout, allow_redirects=False, **settings)
            except (requests.exceptions.RequestException, OSError) as exc:
                retryable = (not isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.Timeout))
                             and isinstance(exc, requests.exceptions.ConnectionError)
                             and (idempotent or self._never_connected(exc)))
                if retryable and attempt <= self.retries:
                    self.sleep(self._backoff(attempt - 1))
                    continue
                raise self._transport_error(exc, display, attempt) from None
            if response.status_code in RETRY_STATUSES and idempotent and attempt <= self.retries \
                    and response.status_code not in allow_status:
                wait = self._backoff(attempt - 1, self._retry_after(response))
                response.close()
                self.sleep(wait)
                continue
            break
        return self._finish(response, display, attempt, expect_json, allow_status)

    def _finish(self, response, display, attempts, expect_json, allow_status):
        status = response.status_code
        text = response.text if response.content else ""
        data = _NO_JSON
        if text:
            try:
                data = response.json()
            except ValueError:
                data = _NO_JSON
        result = HttpResponse(status, None if data is _NO_JSON else data, text, response.headers, display)
        result.attempts = attempts
        if status in allow_status:
            return result
        if 300 <= status < 400:
            raise self.error("parse", "unexpected redirect (HTTP %d) on %s to %s" % (
                status, display, redact(response.headers.get("Location", "?"), *self.secrets)),
                {"http_status": status, "request": display})
        if status >= 400:
            raise self.status_error(result)
        if expect_json and data is _NO_JSON and (text or status != 204):
            raise self.error("parse", "HTTP %d on %s returned a body that is not JSON (%s)" % (
                status, display, _excerpt(text)), {"http_status": status, "request": display})
        return result

    def status_error(self, response):
        """The error for a 3xx-5xx answer; subclasses read their API's error envelope and call
        this for the generic cases. 401 -> ``auth``, 403 -> ``forbidden``, else ``status``."""
        details = {"http_status": response.status, "request": response.display}
        attempts = getattr(response, "attempts", 1)
        if attempts > 1:
            details["attempts"] = attempts
        cause = "HTTP %d on %s" % (response.status, response.display)
        if response.status == 401:
            return self.error("auth", cause, details)
        if response.status == 403:
            return self.error("forbidden", cause, details)
        if attempts > 1:
            cause += " after %d attempts" % attempts
        return self.error("status", cause, details)

    def expect(self, condition, response, what):
        """Raise the ``parse`` error (202150) unless ``condition``: for reply shapes."""
        if not condition:
            raise self.error("parse", "unexpected reply to %s: %s" % (response.display, what),
                             {"http_status": response.status, "request": response.display})


def _excerpt(text, limit=120):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def merged_argspec(base, extra):
    """A deep copy of ``base`` updated with the module's own options."""
    spec = copy.deepcopy(base)
    spec.update(extra or {})
    return spec
