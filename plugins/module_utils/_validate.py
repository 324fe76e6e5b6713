# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every option value checked before the first request, in one place (issue 10).

The rules are allow-lists: a value is accepted when every character belongs to the set its kind
allows and its length fits, never because it avoided a list of known bad values. Each check raises
:class:`ValueError` with a message that starts with the option's name; :func:`check_module` turns
that into ``fail_json`` (no request has been made, and no traceback for any input).

Sources for the name rules (paraphrased):

- FortiOS administration guide, "Text strings" (7.0-7.4): names must not contain ``"``, ``'``, ``<``
  or ``>``; VDOM names and host names use letters, digits, ``-`` and ``_`` only; ``tree`` shows a
  firewall address name of 79 characters (7.x).
- Fortinet community, "Naming rules and character restrictions" (article 196911): a name holds
  letters, digits, spaces, ``-`` and ``_``; spaces "trigger serious and unpredictable issues" in most
  name fields. ``.`` and ``:`` are not listed there but appear in FortiOS' own factory objects and in
  the address object names this collection makes (``kk_198.51.100.7``, ``kk_2001:db8::7``).
- Fortinet community articles 359261 / 389580 / 395665: administrator names from FortiOS 7.4 are
  letters, digits, ``_``, ``-`` and ``.`` (not first), may end with ``$``, must not start with ``-``.
- /work/shared/reference/fortinet-api.md section D: external resource name 35, address and address
  group name 79, api-user and accprofile name 35, comments 255.

Where those sources are silent (FortiManager ADOM, policy package and device group names, Knocknoc
knoc names and user names), the rule below is the conservative intersection: the characters FortiOS
allows in names, without spaces unless the object is one the user created and the collection only
refers to, and a length limit that FortiOS itself uses for similar names. Each such rule says so.
"""

from __future__ import annotations

import ipaddress
import re

from urllib.parse import urlsplit

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry

# -- character classes ----------------------------------------------------------------------------
# Names this collection creates (or that end up in URLs and comments it writes): no space, ASCII only.
_CREATED = r"[A-Za-z0-9_.:-]"
# Names of objects the user created and the collection only refers to: the same, plus inner spaces
# (FortiOS allows them; the leading and trailing ones are refused as almost certainly a typo).
_REFERENCED = r"[A-Za-z0-9_.: -]"
_FIRST = r"[A-Za-z0-9_]"  # no name starts with '-', '.', ':' or a space (admin rule, applied to all)


class NameKind(object):
    """How one kind of FortiOS / FortiManager / Knocknoc name is spelled."""

    def __init__(self, label, max_len, chars, note=None, suffix=""):
        self.label = label
        self.max_len = max_len
        self.pattern = re.compile(r"\A%s%s*%s\Z" % (_FIRST, chars, suffix))
        self.char = re.compile(r"\A%s\Z" % chars)
        self.suffix = suffix.replace("\\", "").replace("?", "")  # '$' for administrators, else ''
        self.spaces = " " in chars
        self.note = note

    def allowed(self):
        text = "letters, digits, '_'" + (", '-', '.', ':'" if ":" in self.pattern.pattern else ", '-', '.'")
        if self.spaces:
            text += " and inner spaces"
        text += ", starting with a letter, a digit or '_'"
        return text + (", optionally ending with %r" % self.suffix if self.suffix else "")


NAMES = {
    # reference D: external-resource name 35; created by fortinet_external_resource
    "external_resource": NameKind("an external resource name", 35, r"[A-Za-z0-9_.-]"),
    # reference B1/B3: address and address group names 79 (7.x)
    "address": NameKind("an address object name", 79, _CREATED),
    "address_group": NameKind("an address group name", 79, _REFERENCED),
    # FortiOS "Text strings": VDOM names are letters, digits, '-' and '_'; 31 is the VDOM name limit of
    # FortiOS 7.x ('config vdom' edit); the reference does not give it: conservative.
    "vdom": NameKind("a VDOM name", 31, r"[A-Za-z0-9_-]"),
    # FortiManager ADOM names: not in the reference; FortiOS' VDOM rule plus '.', 35 like other FMG names.
    "adom": NameKind("an ADOM name", 35, r"[A-Za-z0-9_.-]"),
    # FortiOS 7.4+ administrator names (community 359261/389580): FortiManager's rule is unconfirmed,
    # the same is used. 35: reference D (api-user name).
    "admin": NameKind("an administrator name", 35, r"[A-Za-z0-9_.-]", suffix=r"\$?"),
    # accprofile / FortiManager profileid: reference D says 35.
    "profile": NameKind("an admin profile name", 35, _REFERENCED),
    # FortiManager policy package names: unconfirmed; referenced object, 35 as for other FMG names.
    "package": NameKind("a policy package name", 35, _REFERENCED),
    # Interfaces and zones: physical names are 15 characters, zones 35 (FortiOS 'tree system zone').
    "interface": NameKind("an interface or zone name", 35, r"[A-Za-z0-9_.:-]"),
    # FortiManager device names are FortiGate host names (letters, digits, '-', '_'; 35); device group
    # names are unconfirmed: the referenced rule, 35.
    "device": NameKind("a device or device group name", 35, _REFERENCED),
    # Knocknoc knoc names: not documented; what the other names allow, 64 characters.
    "knoc": NameKind("a knoc name", 64, _REFERENCED),
    # Knocknoc user names: FortiManager admin names for trusted hosts, holders in FortiOS comments
    # (comma-separated, so no ','); e-mail addresses are common, hence '@' and '+'. 64: not documented.
    "user": NameKind("a user name", 64, r"[A-Za-z0-9_.@+-]", suffix=r"\$?"),
}

PREFIX_MAX = 36  # 79 - 43: room for the longest name an address makes (an IPv6 network, 'xxxx:..:xxxx_128')
_PREFIX = re.compile(r"\A%s[A-Za-z0-9_.-]*\Z" % _FIRST)
# Free text (descriptions, comments): printable ASCII without the characters FortiOS refuses in text
# strings ('"', "'", '<', '>') and without '\\' and '`' (escape characters in the CLI and shells).
_TEXT = re.compile(r"\A[\x20-\x21\x23-\x26\x28-\x3b\x3d\x3f-\x5b\x5d-\x5f\x61-\x7e]*\Z")
TEXT_MAX = 255  # reference D: comment fields
# API keys and tokens: visible ASCII, no space (they go into an HTTP header).
_TOKEN = re.compile(r"\A[\x21-\x7e]+\Z")
TOKEN_MAX = 4096
# Addresses as users write them: digits, hex, '.', ':', '/', and one space in 'a.b.c.d m.m.m.m'.
_ADDRESS = re.compile(r"\A[0-9A-Fa-f.:/]+(?: [0-9.]+)?\Z")
# Host names in URLs and tls_server_name: RFC 1123 labels (ASCII; an IDN must be given as punycode), plus
# '_' inside a label, which internal DNS zones use although RFC 1123 does not allow it.
_HOST = re.compile(r"\A(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?\Z")


def _shown(value, limit=40):
    """A value quoted for a message: repr (control characters visible), cut when long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def _string(option, value):
    if value is None:
        raise ValueError("%s is required" % option)
    if not isinstance(value, str):
        raise ValueError("%s must be a string, got %s" % (option, type(value).__name__))
    if not value.strip():
        raise ValueError("%s must not be empty%s" % (option, " (it holds only whitespace)" if value else ""))
    return value


# -- the checks (each: option, value -> value, or ValueError naming the option) -------------------------
def name(option, value, kind):
    """A name of ``kind`` (a :data:`NAMES` key)."""
    rule = NAMES[kind]
    value = _string(option, value)
    if len(value) > rule.max_len:
        raise ValueError("%s must be %s of at most %d characters, got %d"
                         % (option, rule.label, rule.max_len, len(value)))
    if not rule.pattern.match(value) or value != value.strip() or "  " in value:
        raise ValueError("%s must be %s: %s; %s" % (option, rule.label, rule.allowed(), _why(value, rule)))
    return value


def _why(value, rule):
    """What is wrong with a name, for the message."""
    if value != value.strip():
        return "%s starts or ends with whitespace" % _shown(value)
    if "  " in value:
        return "%s has two spaces in a row" % _shown(value)
    body = value[:-1] if rule.suffix and value.endswith(rule.suffix) else value
    for index, char in enumerate(body):
        if not rule.char.match(char):
            return "%s must not contain %r (position %d)" % (_shown(value), char, index + 1)
    return "%s starts with %r" % (_shown(value), value[:1])


def prefix(option, value, max_len=PREFIX_MAX):
    """An object name prefix (``kk_``): the names it makes with any address stay valid address names.
    ``max_len``: a caller that knows the addresses checks each full name and may allow more."""
    value = _string(option, value)
    if len(value) > max_len or not _PREFIX.match(value):
        raise ValueError("%s must be 1 to %d characters: letters, digits, '_', '-' or '.', starting with a letter,"
                         " a digit or '_' (so that '<prefix><address>' is a valid FortiOS address name), got %s"
                         % (option, max_len, _shown(value)))
    return value


def text(option, value, max_len=TEXT_MAX):
    """Free text (a description or comment)."""
    if value is None or value == "":
        return value
    if not isinstance(value, str):
        raise ValueError("%s must be a string, got %s" % (option, type(value).__name__))
    if len(value) > max_len:
        raise ValueError("%s must be at most %d characters, got %d" % (option, max_len, len(value)))
    if not _TEXT.match(value):
        raise ValueError("%s must be printable ASCII without quotes, '<', '>', '\\' or '`' (got %s)"
                         % (option, _shown(value)))
    return value


def token(option, value):
    """An API key or token: never shown in a message."""
    value = _string(option, value)
    if len(value) > TOKEN_MAX or not _TOKEN.match(value):
        raise ValueError("%s must be printable ASCII without spaces or line breaks (the value is not shown)" % option)
    return value


def ip(option, value):
    """One IP address (no network, no IPv6 zone such as ``%eth0``)."""
    value = _string(option, value)
    if not _ADDRESS.match(value) or "/" in value or " " in value:
        raise ValueError("%s must be one IPv4 or IPv6 address, got %s" % (option, _shown(value)))
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("%s must be one IPv4 or IPv6 address, got %s" % (option, _shown(value)))


def address(option, value, max_prefix_v4=32, max_prefix_v6=128):
    """An address or network a grant is for, canonical (see ``_state.canonical_entry``)."""
    value = _string(option, value)
    if not _ADDRESS.match(value):
        raise ValueError("%s: %s is not an IPv4 or IPv6 address or network (no interface zone such as %%eth0)"
                         % (option, _shown(value)))
    try:
        return canonical_entry(value, max_prefix_v4, max_prefix_v6)
    except ValueError as exc:
        raise ValueError("%s: %s" % (option, exc))


def network(option, value):
    """An address or network of any size (an allowlist IP restriction)."""
    value = _string(option, value)
    if not _ADDRESS.match(value) or " " in value:
        raise ValueError("%s: %s is not an IPv4 or IPv6 address or network" % (option, _shown(value)))
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError("%s: %s is not an IPv4 or IPv6 address or network" % (option, _shown(value)))


def host(option, value):
    """A host name or IP address (``tls_server_name``)."""
    value = _string(option, value)
    if _HOST.match(value):
        return value
    try:
        if "%" in value:  # an IPv6 zone names an interface of this host
            raise ValueError(value)
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ValueError("%s must be a host name (letters, digits, '-' and '.') or an IP address, got %s"
                         % (option, _shown(value)))
    return value


def target(option, value, adom=None):
    """A FortiManager device target: a device, serial number or device group name, or a full
    ``adom/<adom>/device/<name>`` / ``adom/<adom>/group/<name>`` path."""
    value = _string(option, value)
    parts = value.split("/")
    if len(parts) == 1:
        return name(option, value, "device")
    if len(parts) != 4 or parts[0] != "adom" or parts[2] not in ("device", "group"):
        raise ValueError("%s must be a device or device group name or adom/<adom>/device/<name> or"
                         " adom/<adom>/group/<name>, got %s" % (option, _shown(value)))
    name(option + " (ADOM)", parts[1], "adom")
    name(option, parts[3], "device")
    return value


def url(option, value, path=False):
    """An ``https://host[:port]`` URL (``path``: a path and query are allowed, e.g. an allowlist URL).
    The same rule as ``_http.HttpClient.check_url``, for URLs that are options but not connections."""
    value = _string(option, value)
    check_url_parts(option, value, path=path)
    return value


def check_url_parts(option, value, path=False):
    """Raise ValueError unless ``value`` is an https URL with a valid host and port, no credentials,
    no fragment, and (unless ``path``) no path or query. The message never shows the URL: it may hold a
    password or a token."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("%s is required" % option)
    if value != value.strip() or not all("\x20" < c < "\x7f" for c in value):
        raise ValueError("%s must be printable ASCII without spaces" % option)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("%s is not a valid URL (host or port)" % option)
    if parts.username is not None or parts.password is not None:
        raise ValueError("%s must not contain credentials (user:password@); pass them as options (username and"
                         " password, or token)" % option)
    if parts.scheme.lower() != "https":
        raise ValueError("%s must be an https:// URL" % option)
    hostname = parts.hostname or ""
    if not hostname:
        raise ValueError("%s must name a host (https://host[:port])" % option)
    try:
        if "%" in hostname:  # an IPv6 zone (fe80::1%eth0) names an interface of this host, not a device
            raise ValueError(hostname)
        ipaddress.ip_address(hostname)
    except ValueError:
        if not _HOST.match(hostname):
            raise ValueError("%s: the host must be a DNS name (letters, digits, '-' and '.') or an IP address" % option)
    if port is not None and not 1 <= port <= 65535 or parts.netloc.endswith(":"):
        raise ValueError("%s: the port must be a number from 1 to 65535" % option)
    if parts.fragment or "#" in value:
        raise ValueError("%s must not have a fragment (#...)" % option)
    if not path and (parts.path not in ("", "/") or parts.query or "?" in value):
        raise ValueError("%s must be the device's address only (https://host[:port]), without a path or query:"
                         " the collection adds the API path itself" % option)


def integer(option, value, low, high):
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError("%s must be a whole number from %d to %d, got %s" % (option, low, high, _shown(value)))
    return value


# -- rules per module ------------------------------------------------------------------------------
class Rule(object):
    """``check(option, value)`` applied to an option (each item for a list); ``when(params)`` limits
    it to some states; ``required`` refuses None and empty values where the rule applies."""

    def __init__(self, check, items=False, when=None, required=False, allow_empty_list=True, with_params=False):
        self.with_params = with_params  # check(option, value, params): the rule depends on other options
        self.check = check
        self.items = items
        self.when = when
        self.required = required  # True, or a function of the params (required in some states only)
        self.allow_empty_list = allow_empty_list

    def apply(self, option, value, params):
        if self.when is not None and not self.when(params):
            return
        if value is None:
            if self.required is True or (callable(self.required) and self.required(params)):
                raise ValueError("%s is required here" % option)
            return
        if self.items:
            if not isinstance(value, list):
                raise ValueError("%s must be a list" % option)
            if not value and not self.allow_empty_list:
                raise ValueError("%s must not be empty" % option)
            for index, item in enumerate(value):
                self._check("%s[%d]" % (option, index), item, params)
            return
        self._check(option, value, params)

    def _check(self, option, value, params):
        if self.with_params:
            self.check(option, value, params)
        else:
            self.check(option, value)


def _name(kind):
    return lambda option, value: name(option, value, kind)


def _present(params):
    return params.get("state", "present") == "present"


def _any_address(option, value):
    # The module checks the prefix length against its own limit; here: the characters, a real address or
    # network, never the whole Internet (/0) nor an IPv6 zone.
    return address(option, value, 1, 1)


def _optional_text(option, value):
    return text(option, value)


def _tls_fingerprint(option, value):
    """One SHA-256 pin or a list of them; the rule is ``_http.normalize_fingerprints`` (imported here, when
    called: _http imports this module)."""
    from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import normalize_fingerprints  # pylint: disable=import-outside-toplevel

    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str) or not item.isprintable():
            raise ValueError("%s must be SHA-256 fingerprints in hex (':' separators allowed)" % option)
    try:
        normalize_fingerprints(value)
    except KnocknocError as err:
        raise ValueError("%s: %s" % (option, err.cause))
    return value


def _path_text(option, value):
    value = _string(option, value)
    if "\x00" in value or not value.isprintable():
        raise ValueError("%s must be a file path without control characters" % option)
    return value


# Tables whose names are shorter than the 79 of addresses and groups (reference D; policy names: B4).
SHORT_NAMES = ("system/api-user", "system/accprofile", "system/external-resource", "firewall/policy",
               "system/admin/user", "system/admin/profile")


def _object_name(option, value, params):
    """The name of an object of any table (fortigate_object / fortimanager_object): the referenced-name
    characters, 35 characters for the tables in :data:`SHORT_NAMES`, else 79."""
    path = str(params.get("path") or "")
    short = any(path.rstrip("/").endswith(table) for table in SHORT_NAMES)
    rule = NAMES["profile"] if short else NAMES["address_group"]
    value = _string(option, value)
    if len(value) > rule.max_len:
        raise ValueError("%s must be a name of at most %d characters for %s, got %d"
                         % (option, rule.max_len, path, len(value)))
    if not rule.pattern.match(value) or value != value.strip() or "  " in value:
        raise ValueError("%s must be an object name: %s; %s" % (option, rule.allowed(), _why(value, rule)))
    return value


def _field_name(option, value):
    value = _string(option, value)
    if not re.match(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z", value):
        raise ValueError("%s must be a field name (lower-case letters, digits, '-' and '_'), got %s"
                         % (option, _shown(value)))
    return value


_CMDB_PATH = re.compile(r"\A[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*/[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*\Z")
# FortiManager JSON-RPC URLs: '/'-separated segments of name characters ('{adom}' allowed), no empty or
# dot-only segment (no '..'), inner spaces for package and group names.
_FMG_SEGMENT = re.compile(r"\A(?:\{adom\}|[A-Za-z0-9_][A-Za-z0-9_.:+-]*(?: [A-Za-z0-9_.:+-]+)*)\Z")


def _cmdb_path(option, value):
    """A FortiOS CMDB table path such as ``firewall/address`` or ``firewall.service/custom``."""
    value = _string(option, value)
    if len(value) > 128 or not _CMDB_PATH.match(value):
        raise ValueError("%s must name a CMDB table such as firewall/address or system/api-user (lower-case letters,"
                         " digits, '-', '_' and '.' between words, one '/'), got %s" % (option, _shown(value)))
    return value


def _fmg_path(option, value):
    """A FortiManager JSON-RPC table URL such as ``/pm/config/adom/{adom}/obj/firewall/address``."""
    value = _string(option, value)
    segments = value[1:].split("/") if value.startswith("/") else value.split("/")  # '/' first is optional
    if len(value) > 512 or len(segments) < 2 or not all(_FMG_SEGMENT.match(segment) for segment in segments):
        raise ValueError("%s must be a JSON-RPC table URL such as /pm/config/adom/{adom}/obj/firewall/address"
                         " ('/'-separated names, no '..' or empty segment), got %s" % (option, _shown(value)))
    return value


CONNECTION = {
    "url": Rule(url),
    "token": Rule(token),
    "vdom": Rule(_name("vdom")),
    "adom": Rule(_name("adom")),
    "tls_server_name": Rule(host),
    "tls_fingerprint": Rule(lambda option, value: [_tls_fingerprint("%s[%d]" % (option, i), v) for i, v in enumerate(value)]
                            if isinstance(value, list) else _tls_fingerprint(option, value)),
    "ca_path": Rule(_path_text),
    "timeout": Rule(lambda option, value: integer(option, value, 1, 3600)),
    "retries": Rule(lambda option, value: integer(option, value, 0, 10)),
}
CONNECTION_DICTS = ("fortigate", "fortimanager", "knocknoc")
_TARGET = Rule(target, items=True)

MODULES = {
    # fortigate_address_grant: _address_grant.validate applies these rules together with the checks that
    # depend on several options (the object name each address makes with the prefix).
    "fortigate_dynamic_entry": {
        "name": Rule(_name("external_resource"), required=True),
        "entries": Rule(_any_address, items=True),
        "targets": _TARGET,
        "max_prefix_v4": Rule(lambda option, value: integer(option, value, 1, 32), required=True),
        "max_prefix_v6": Rule(lambda option, value: integer(option, value, 1, 128), required=True),
    },
    "fortinet_external_resource": {
        "name": Rule(_name("external_resource"), required=True),
        "resource": Rule(lambda option, value: url(option, value, path=True)),
        "username": Rule(_name("user")),
        "comments": Rule(_optional_text),
        "targets": _TARGET,
        "package": Rule(_name("package")),
        "refresh_rate": Rule(lambda option, value: integer(option, value, 1, 43200)),  # reference D
        "lock_timeout": Rule(lambda option, value: integer(option, value, 0, 3600)),
    },
    "fortimanager_trusted_host": {
        "admin": Rule(_name("admin"), required=True),
        # state=present with baseline alone writes slots 1-9 and leaves slot 10 as it is (W2-B)
        "address": Rule(_any_address, required=lambda params: _present(params) and params.get("baseline") is None),
        "baseline": Rule(network, items=True),
    },
    "fortigate_object": {"name": Rule(_object_name, with_params=True), "path": Rule(_cmdb_path)},
    "fortigate_object_info": {"name": Rule(_object_name, with_params=True), "path": Rule(_cmdb_path)},
    "fortimanager_object": {"name": Rule(_object_name, with_params=True), "key_field": Rule(_field_name),
                            "path": Rule(_fmg_path)},
    "fortimanager_object_info": {"name": Rule(_object_name, with_params=True), "key_field": Rule(_field_name),
                                 "path": Rule(_fmg_path)},
    "fortigate_policy_lookup_info": {
        "source": Rule(ip, required=True),
        "destination": Rule(ip, required=True),
        "source_interface": Rule(_name("interface"), required=True),
        "destination_port": Rule(lambda option, value: integer(option, value, 0, 65535)),
    },
    "fortinet_preflight": {
        "resource_name": Rule(_name("external_resource")),
        "allowlist_url": Rule(lambda option, value: url(option, value, path=True)),
        "address_group": Rule(_name("address_group")),
        "address_prefix": Rule(prefix),
        "device_targets": _TARGET,
        "target_vdom": Rule(_name("vdom")),
        "api_user": Rule(_name("admin")),
        "agent_address": Rule(ip),
        "agent_token": Rule(token),
        "usernames": Rule(_name("user"), items=True),
        "test_ip": Rule(ip),
        "test_interface": Rule(_name("interface")),
        "test_destination": Rule(ip),
        "test_port": Rule(lambda option, value: integer(option, value, 0, 65535)),
        "knoc": Rule(_name("knoc")),
        "knocknoc_url": Rule(url),
        "knocknoc_token": Rule(token),
        "knocknoc_tls_server_name": Rule(host),
    },
    "knocknoc_allowlist_info": {
        "url": Rule(lambda option, value: url(option, value, path=True)),  # the allowlist's own full URL
        "username": Rule(_name("user")),
        "api_key": Rule(token, required=True),
    },
    "knocknoc_grant": {
        "knoc": Rule(_name("knoc"), required=True),
        "username": Rule(_name("user"), required=True),
        "ip": Rule(ip, required=True),
        "duration_minutes": Rule(lambda option, value: integer(option, value, 0, 525600)),  # 0: the Knoc's
    },
    "knocknoc_grant_info": {
        "knoc": Rule(_name("knoc"), required=True),
        "username": Rule(_name("user")),
        "ip": Rule(ip),
    },
    "knocknoc_knoc": {
        "name": Rule(_name("knoc"), required=True),
        "device_url": Rule(url),
        "authorization_token": Rule(token),
        "adom": Rule(_name("adom")),
        "external_connector_name": Rule(_name("external_resource")),
        "device_targets": _TARGET,
        "address_group": Rule(_name("address_group")),
        "prefix": Rule(prefix),
        "vdom": Rule(_name("vdom")),
        "description": Rule(_optional_text),
        "grant_duration_minutes": Rule(lambda option, value: integer(option, value, 0, 525600)),  # 0: no override
        "allowlist_ip_restrictions": Rule(network, items=True),
        "allowlist_api_key": Rule(token),
    },
}


def nul_option(params, where=""):
    """The first option (``opt``, ``opt.sub``, ``opt[0]``) whose value holds a NUL character, or None.
    Ansible logs a module's arguments to syslog before the module runs, and a NUL makes that fail with
    a message that names no option; the module base asks this first."""
    items = params.items() if isinstance(params, dict) else enumerate(params)
    for key, value in items:
        option = "%s[%d]" % (where, key) if isinstance(key, int) else ("%s.%s" % (where, key) if where else str(key))
        if isinstance(value, str) and "\x00" in value:
            return option
        if isinstance(value, (dict, list, tuple)):
            found = nul_option(value, option)
            if found:
                return found
    return None


def check_params(module_name, params):
    """Check ``params`` (a module's options after Ansible's own checks) against the rules of
    ``module_name`` and the connection options; raise ValueError naming the first bad option."""
    rules = dict(CONNECTION)
    rules.update(MODULES.get(module_name, {}))
    for option in sorted(rules):
        if option in params:
            rules[option].apply(option, params[option], params)
    for api in CONNECTION_DICTS:
        value = params.get(api)
        if isinstance(value, dict):
            for option in sorted(CONNECTION):
                if option in value:
                    CONNECTION[option].apply("%s.%s" % (api, option), value[option], value)


def check_module(module, module_name):
    """:func:`check_params` for an ``AnsibleModule``: ``fail_json`` with the message on a bad value."""
    try:
        check_params(module_name, module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
