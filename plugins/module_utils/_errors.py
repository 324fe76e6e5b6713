# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's one error type, :class:`KnocknocError`, and the agent error-code table.

Clients raise ``KnocknocError``; a module catches it once, at the top, and calls
``module.fail_json(**err.fail_kwargs())``. Codes are the Knocknoc orchestration agent's
documented Fortinet codes (202xxx). A failure without a documented code has ``code=None``
and renders as ``(knocknoc.fortinet) ...``: the collection never invents 202xxx numbers.

Nothing an error carries may contain a secret: every error scrubs the secrets the client
hands it (tokens, API keys, passwords), and a few well-known credential shapes on top.
"""

from __future__ import annotations

import base64
import re

from urllib.parse import quote, unquote

# code -> (description, hint). Descriptions are the agent's (Knocknoc docs, "Error Codes");
# hints condense the "Common Causes" column and the 202002/202100 "Steps to Resolve" pages.
AGENT_ERRORS = {
    202000: (
        "Failed to connect to Fortinet device",
        "The device is unreachable: check network connectivity, DNS, the host name and the port in"
        " url (the management port defaults to 443).",
    ),
    202001: (
        "Authentication failed",
        "The API token was not accepted (wrong, expired, regenerated or deleted). Check the token"
        " and that the API user's trusted hosts include the IP address this task connects from.",
    ),
    202002: (
        "Authorization failed (insufficient permissions)",
        "The token is valid but the API user's admin profile or ADOM access is insufficient:"
        " FortiGate Active needs Firewall Read/Write and Passive+ needs System > Configuration"
        " Read/Write; FortiManager trusted hosts need Super_User and Passive+ needs DeviceManager >"
        " Manage Device Configurations Read-Write (or Super_User), with access to the ADOM.",
    ),
    202003: (
        "TLS/SSL certificate error",
        "The certificate is self-signed, expired or does not match the host name. Trust the private"
        " CA with ca_path, set tls_server_name to the name in the certificate (appliances carry their"
        " serial number), pin tls_fingerprint, or as a last resort set validate_certs=false.",
    ),
    202004: (
        "Connection timed out",
        "No answer within the timeout: check firewall rules and routing between this host and the"
        " device, and whether the device is overloaded.",
    ),
    202050: (
        "Failed to update trusted host",
        "The JSON-RPC update of the administrator's trusted host failed: the API user needs the"
        " Super_User profile and trusted hosts 1-9 must not conflict; details hold the JSON-RPC"
        " status.",
    ),
    202051: (
        "Admin user not found on FortiManager",
        "The Knocknoc username must match a FortiManager administrator name exactly"
        " (case-sensitive, no leading or trailing whitespace).",
    ),
    202100: (
        "Failed to push dynamic entry",
        "The push is non-fatal: FortiGates pick the change up on their next poll of the allowlist."
        " Check that the external resource exists on the target FortiGates under exactly this name,"
        " the API user's permissions and connectivity; details name the FortiGate(s) that failed.",
    ),
    202101: (
        "Target device or group not found",
        "A device target names a device or group that does not exist in the ADOM: targets read"
        " adom/<adom>/device/<name> or adom/<adom>/group/<group> and must match FortiManager exactly"
        " (the default target is All_FortiGate).",
    ),
    202102: (
        "External feed name not found on target FortiGates",
        "The External Feed Name must match an external resource configured on the target"
        " FortiGates exactly (names are case-sensitive).",
    ),
    202150: (
        "Invalid or unexpected response",
        "The response body could not be parsed as JSON or was not in the expected format: check that"
        " url points at the device's management API and not at a proxy or a login page.",
    ),
}

REDACTED = "********"

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@/\s]+@")
# Credential shapes scrubbed even when the secret itself was not handed over.
_GENERIC_PATTERNS = (
    # Authorization / Proxy-Authorization header values
    (re.compile(r"(?i)((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic)\s+)[^\s'\",}]+"),
     r"\1" + REDACTED),
    # query-string or form credentials (FortiOS access_token, generic api keys and passwords)
    (re.compile(r"(?i)\b(access_token|api_key|apikey|token|passwd|password|secretkey)=[^&\s'\"]+"),
     r"\1=" + REDACTED),
    # userinfo in URLs: https://user:secret@host
    (_URL_USERINFO, r"\1" + REDACTED + "@"),
)

# A Knocknoc allowlist URL carries its own secret in the path: https://<server>/api/v1/allowlists/<aclId>/<token>
# with an optional .txt/.json suffix (reference section 2.2), or /edl/<uuid> (the Traefik plugin's shape).
# Anyone holding the URL (and the API key, which is often left wide open) can read who has access.
ALLOWLIST_REDACTED = "<redacted>"
_URL_CHARS = r"[^/?#\s'\"<>]"
_ALLOWLIST_TOKEN = re.compile(
    r"(?i)(/api/v1/allowlists/%s+/|/edl/)(%s+?)(\.(?:txt|json))?(?=[/?#\s'\"<>,;)\]}]|$)" % (_URL_CHARS, _URL_CHARS))
_PLACEHOLDERS = frozenset((ALLOWLIST_REDACTED, REDACTED))
MIN_TOKEN_LENGTH = 6
# user:password@ in any URL inside a text (the password ends at the last @ of the authority).
_URL_AUTHORITY = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://([^/?#\s]*)")


def _secret_forms(secret):
    """The spellings a secret can take in a text: as is and URL-encoded (Basic-auth pairs are
    handed over separately, see :func:`basic_auth_secret`)."""
    forms = {secret}
    if quote is not None:
        forms.add(quote(secret, safe=""))
    return forms


def redact(text, *secrets):
    """Return ``text`` with every secret (and well-known credential shapes) replaced by ``********``.

    ``secrets`` may hold None or empty strings (ignored). Non-string ``text`` is converted with
    ``str()`` first. Longer secrets are replaced first so that one secret that contains another
    is never half-scrubbed.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    forms = set()
    for secret in secrets:
        if secret is None:
            continue
        secret = str(secret)
        if not secret:
            continue
        forms.update(_secret_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    for pattern, replacement in _GENERIC_PATTERNS:
        text = pattern.sub(replacement, text)
    return redact_allowlist_url(text)


def allowlist_tokens(text):
    """The secret path tokens of the Knocknoc allowlist URLs in ``text`` (a list, maybe empty).

    Tokens shorter than :data:`MIN_TOKEN_LENGTH` are left out: Knocknoc's are long random strings, and a
    short path segment (a placeholder such as ``x/y.txt``) handed to Ansible's no_log masking would
    garble every word that contains it. :func:`redact_allowlist_url` still hides it in the URL itself."""
    if not isinstance(text, str):
        return []
    return [m.group(2) for m in _ALLOWLIST_TOKEN.finditer(text)
            if m.group(2) not in _PLACEHOLDERS and len(m.group(2)) >= MIN_TOKEN_LENGTH]


def redact_allowlist_url(text):
    """``text`` with the token of every Knocknoc allowlist URL replaced by ``<redacted>``, e.g.
    ``https://kk.example.com/api/v1/allowlists/7/<redacted>.txt``: the server, the knoc's id and the
    format stay readable, the part that grants access does not. Other text is returned unchanged."""
    if not isinstance(text, str) or "/" not in text:
        return text
    return _ALLOWLIST_TOKEN.sub(lambda m: m.group(1) + ALLOWLIST_REDACTED + (m.group(3) or ""), text)


def redact_shapes(text):
    """``text`` with the secrets it carries by their shape hidden: the password of every
    ``user:password@`` URL (``********``) and the token of every allowlist URL (``<redacted>``)."""
    if not isinstance(text, str) or "/" not in text:
        return text
    return redact_allowlist_url(_URL_USERINFO.sub(r"\1" + REDACTED + "@", text))


def redact_allowlist_urls(value):
    """:func:`redact_shapes` applied to every string (keys too) of a result structure: a module may
    read such a URL back from a device (an object's comment, a feed's resource) that its arguments
    did not hold."""
    if isinstance(value, dict):
        return dict((redact_shapes(k), redact_allowlist_urls(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [redact_allowlist_urls(v) for v in value]
    return redact_shapes(value)


def url_passwords(text):
    """The passwords of the ``scheme://user:password@host`` URLs anywhere in ``text``, as written
    and percent-decoded."""
    found = set()
    if not isinstance(text, str) or "@" not in text:
        return found
    for match in _URL_AUTHORITY.finditer(text):
        userinfo, at, _host = match.group(1).rpartition("@")
        if not at or ":" not in userinfo:
            continue
        password = userinfo.split(":", 1)[1]
        if password:
            found.add(password)
            if unquote is not None:
                found.add(unquote(password))
    return found


def secrets_in(value):
    """Every secret that a value of module arguments carries by its shape, at any depth: URL
    passwords and allowlist URL tokens (in dict keys and values, lists, and strings of any length)."""
    found = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, str):
            found.update(url_passwords(item))
            found.update(allowlist_tokens(item))
    found.discard("")
    return found


def basic_auth_secret(username, password):
    """The base64 form of a Basic-auth pair, to hand to :func:`redact` along with the password."""
    raw = ("%s:%s" % (username or "", password or "")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def _redact_value(value, secrets):
    if isinstance(value, dict):
        return dict((redact(k, *secrets), _redact_value(v, secrets)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(v, secrets) for v in value]
    if isinstance(value, str):
        return redact(value, *secrets)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(value, *secrets)


class KnocknocError(Exception):
    """A failure a module reports to the user.

    :param code: documented agent code (an ``AGENT_ERRORS`` key), or None when no documented
        code fits (the message then starts with ``(knocknoc.fortinet)``).
    :param cause: what happened, e.g. ``HTTP 403 on GET /api/v2/cmdb/firewall/address?vdom=root``.
    :param description: defaults to the table's description for ``code``; required when
        ``code`` is None.
    :param hint: defaults to the table's hint for ``code``.
    :param details: dict of machine-readable facts (``http_status``, ``fortios_error``,
        ``jsonrpc_code``, ``target``, ``path``, ...).
    :param secrets: strings scrubbed from cause, description, hint and details.

    Attributes ``code``, ``description``, ``cause``, ``hint`` and ``details`` are all
    secret-free. ``str(err)`` renders
    ``(agent error #202002) Authorization failed (insufficient permissions): <cause>. Hint: <hint>``.
    """

    def __init__(self, code, cause="", description=None, hint=None, details=None, secrets=()):
        if code is not None:
            code = int(code)
            if code not in AGENT_ERRORS:
                raise ValueError("%s is not a documented agent error code" % code)
            table_description, table_hint = AGENT_ERRORS[code]
            description = description or table_description
            hint = table_hint if hint is None else hint
        elif not description:
            description = "Fortinet or Knocknoc operation failed"
        secrets = tuple(s for s in secrets if s)
        self.code = code
        self.description = redact(description, *secrets)
        self.cause = redact(cause or "", *secrets)
        self.hint = redact(hint, *secrets) if hint else None
        self.details = _redact_value(dict(details or {}), secrets)
        self._secrets = secrets
        super(KnocknocError, self).__init__(self._render())

    def _render(self):
        prefix = "(agent error #%d)" % self.code if self.code is not None else "(knocknoc.fortinet)"
        text = "%s %s" % (prefix, self.description)
        if self.cause:
            text += ": " + self.cause.rstrip(".")
        text += "."
        if self.hint:
            text += " Hint: " + self.hint
        return text

    def __str__(self):
        return self._render()

    def recode(self, code, hint=None, cause=None):
        """The same failure under another documented code (or None), e.g. a FortiGate push error
        reported as 202100 or a JSON-RPC failure on an admin user as 202050. Keeps the details."""
        if code is None:
            description = self.description
        else:
            description = None
        return KnocknocError(code, cause=self.cause if cause is None else cause,
                             description=description, hint=hint, details=self.details,
                             secrets=self._secrets)

    def fail_kwargs(self):
        """Keyword arguments for ``module.fail_json``: ``msg``, ``error_code``, ``hint``, ``details``."""
        return {
            "msg": str(self),
            "error_code": self.code,
            "hint": self.hint,
            "details": self.details,
        }
