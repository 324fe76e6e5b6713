"""FortiGate emulator: the FortiOS REST API v2 as reference/fortinet-api.md sections A-D describe it.

CMDB tables (per VDOM unless noted): firewall/address, firewall/address6, firewall/addrgrp,
firewall/addrgrp6, firewall/policy, system/external-resource, system/api-user (global),
system/accprofile (global), plus read-only firewall.service/custom, firewall.schedule/recurring
and system/interface. Monitor: system/status, system/external-resource/{dynamic,entry-list,refresh},
system/api-user/generate-key, firewall/policy-lookup. External resources in ``feed`` mode poll
their URL on the lab clock; pushed entries are an in-memory overlay until the next good poll.
"""

import base64
import copy
import hashlib
import ipaddress
import re
import secrets
import ssl
import string
import urllib.error
import urllib.request
import uuid

from . import variants
from .core import Device, Response

MASKED = "ENC XXXX"  # A10: how FortiOS reads back password-type fields
MAX_BODY = 16 * 1024 * 1024  # brief: bodies over 16 MiB get 413 (A6 "Request Entity Too Large")
FEED_TIMEOUT = 10  # seconds, as Knocknoc's docs give for Fortinet (knocknoc.md "Retries")
FEED_MAX_BYTES = 10 * 1024 * 1024  # D: 10 MB per resource before 7.4.4; also bounds what a poll reads
LINES_PER_RESOURCE = 131072  # D: per-resource line limit before 7.4.4
IP_ENTRIES_GLOBAL = 300000  # D: global IP-address entry limit from 7.4.4 (all model classes)

# Lab switches (docs/lab.md "Fidelity"; variants.py): behaviours of real FortiGates that the references
# leave open or that the lab once guessed. Each default is the stricter or better-sourced side.
SWITCHES = [
    variants.Switch(
        "entries_as_written", True, False,
        "entry-list lists entries as they were written (uncompressed IPv6, host bits) rather than canonical",
        "C2, a real FortiOS 7.4.2 entry-list reply (issue 11 item 3)"),
    variants.Switch(
        "remove_matches", "text", "value",
        "a push `remove` removes an entry listed with exactly that text (rather than any spelling of its value)",
        "unconfirmed in the reference (issue 11 item 3)"),
    variants.Switch(
        "entries_on_feed_error", False, True,
        "entry-list of a feed whose last poll failed has `error` and no `entries` (rather than the last list)",
        "C2: entries optional, error when the feed cannot be read (issue 11 item 1)"),
    variants.Switch(
        "pushed_listed_on_feed", True, False,
        "entries pushed into a resource with update method feed are listed (rather than in force but unlisted)",
        "unconfirmed: Knocknoc's Passive+ overlay on a polled feed (issue 11 item 2)"),
    variants.Switch(
        "push_results", True, False,
        "a push reply carries one result per command (rather than only the envelope)",
        "C1 documents per-command results; a reply without them (issue 11 item 15)"),
    variants.Switch(
        "policy_lookup_protocol", "numbers", "names",
        "policy-lookup takes protocol numbers only (protocol=6; a name is refused with 424) rather than names too",
        "J (fortios_monitor_fact) and public samples send numbers (issue 11 item 9)"),
    variants.Switch(
        "generate_key_field", "access_token", "api_key",
        "generate-key answers the new key in results.access_token (rather than results.api_key)",
        "B6 [S] (issue 11 item 10)"),
    variants.Switch(
        "push_missing_text", "Failed to process command.", "External resource {name} does not exist.",
        "the error text of a push command for a resource that does not exist says nothing about why (rather than"
        " the lab's old text)",
        "unconfirmed in the reference (issue 11 item 12): clients must ask CMDB"),
    variants.Switch(
        "conditional_poll", True, False,
        "feed polls are conditional (If-None-Match / If-Modified-Since) and a 304 keeps the list, pushed entries"
        " included (rather than every poll replacing it)",
        "C2: http_status_code 304 in a real 7.4.2 reply (issue 11 item 13)"),
]


# Builds of the releases the lab topologies use; other versions get a stable made-up number.
BUILDS = {"6.2.3": 1066, "6.4.4": 1803, "7.0.12": 523, "7.2.0": 1157, "7.2.1": 1254, "7.2.4": 1396,
          "7.4.1": 2296, "7.4.2": 2571, "7.4.4": 2662, "7.4.5": 2702, "7.6.2": 3645}

SEED_PROFILES = ("super_admin", "kk_passiveplus", "kk_active", "kk_readonly", "kk_noperm")
SEED_USERS = (("lab-admin", "super_admin", "127.0.0.1 255.255.255.255"),
              ("kk-passiveplus", "kk_passiveplus", "127.0.0.1 255.255.255.255"),
              ("kk-active", "kk_active", "127.0.0.1 255.255.255.255"),
              ("kk-readonly", "kk_readonly", "127.0.0.1 255.255.255.255"),
              ("kk-noperm", "kk_noperm", "127.0.0.1 255.255.255.255"),
              ("kk-untrusted", "super_admin", "192.0.2.1 255.255.255.255"))

# The 401 page FortiOS' httpsd sends for a missing/wrong key or an untrusted source [S]
# (PyFortiAPI/PyFortiAPI#17 quotes it); it is HTML, not the JSON envelope.
UNAUTHORIZED_HTML = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<HTML><HEAD>\n'
                     '<TITLE>401 Authorization Required</TITLE>\n</HEAD><BODY>\n'
                     '<H1>Authorization Required</H1>\nThis server could not verify that you\n'
                     'are authorized to access the document\nrequested.  Either you supplied the wrong\n'
                     'credentials (e.g., bad password), or your\nbrowser doesn\'t understand how to supply\n'
                     'the credentials required.<P>\n</BODY></HTML>\n')

ENABLE = ("enable", "disable")
GROUPS = ("secfabgrp", "ftviewgrp", "authgrp", "sysgrp", "netgrp", "loggrp", "fwgrp", "vpngrp",
          "utmgrp", "wanoptgrp", "wifi")
CUSTOM_GROUPS = ("fwgrp", "sysgrp", "netgrp", "loggrp", "utmgrp")  # B7: the groups that take `custom`
PERMISSION_OBJECTS = {
    "fwgrp-permission": ("policy", "address", "service", "schedule", "others"),
    "sysgrp-permission": ("admin", "upd", "cfg", "mnt"),
    "netgrp-permission": ("cfg", "packet-capture", "route-cfg"),
    "loggrp-permission": ("config", "data-access", "report-access", "threat-weight"),
    "utmgrp-permission": ("antivirus", "ips", "webfilter", "emailfilter", "dlp", "file-filter",
                          "application-control", "icap", "voip", "waf", "dnsfilter", "endpoint-control",
                          "videofilter", "virtual-patch", "casb"),
}
PERMISSION_VALUES = ("none", "read", "read-write")


class FosError(Exception):
    """A refusal in FortiOS' own terms: HTTP status, optional negative CLI code and CLI text."""

    def __init__(self, http_status, error=None, cli_error=None, mkey=None, message=None):
        super().__init__(message or cli_error or str(error))
        self.http_status = http_status
        self.error = error
        self.cli_error = cli_error
        self.mkey = mkey


def cli_fail(code, text):
    return FosError(500, code, "%s\nCommand fail. Return code %d\n" % (text, code))


def parse_error(value):
    return cli_fail(-651, "value parse error before '%s'" % value)


def missing_reference(attr, value):
    # I6: the CLI text FortiOS returns when a referenced object does not exist.
    return cli_fail(-651, "node_check_object fail! for %s %s\n\nvalue parse error before '%s'"
                    % (attr, value, value))


def fos(code):
    # CLI-level rejections come back as HTTP 500 with the negative code (A6 "observed pairings").
    return FosError(500, code)


# -- value formats ------------------------------------------------------------------------------
def _ipv4(text, code=-8):
    try:
        return ipaddress.IPv4Address(str(text).strip())
    except ValueError:
        raise fos(code) from None


def _mask_from(text):
    try:
        mask = ipaddress.IPv4Address(text)
    except ValueError:
        raise fos(-9) from None
    inverted = ~int(mask) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise fos(-9)  # not contiguous: FortiOS' `wildcard` type is for those
    return mask


def ipv4_classnet(value):
    """`a.b.c.d/len`, `a.b.c.d m.m.m.m` (or a 2-item list) -> `a.b.c.d m.m.m.m`.

    unconfirmed in the reference: whether FortiOS clears host bits (10.0.0.5/24); the lab keeps them.
    """
    if isinstance(value, (list, tuple)) and len(value) == 2:
        ip, mask = str(value[0]), str(value[1])
    elif isinstance(value, str):
        text = value.strip()
        if "/" in text:
            ip, plen = text.split("/", 1)
            if not plen.isdigit() or int(plen) > 32:
                raise fos(-9)
            mask = str(ipaddress.IPv4Network("0.0.0.0/%s" % plen).netmask)
        else:
            parts = text.split()
            if len(parts) == 1:
                ip, mask = parts[0], "255.255.255.255"
            elif len(parts) == 2:
                ip, mask = parts
            else:
                raise fos(-8)
    else:
        raise fos(-8)
    return "%s %s" % (_ipv4(ip), _mask_from(mask.strip()))


def ipv6_prefix(value):
    if not isinstance(value, str):
        raise fos(-8)
    text = value.strip()
    if "/" not in text:
        text += "/128"
    try:
        iface = ipaddress.IPv6Interface(text)
    except ValueError:
        raise fos(-8) from None
    return "%s/%d" % (iface.ip.compressed, iface.network.prefixlen)


def classnet_network(text):
    ip, mask = text.split()
    return ipaddress.IPv4Network("%s/%s" % (ip, mask), strict=False)


def parse_entry(text):
    """One threat-feed / push entry for an `address` resource: IP, CIDR or range `a-b` (v4 or v6).

    Returns (canonical text, (version, low int, high int)) or None when the entry is invalid.
    """
    text = text.strip()
    if not text:
        return None
    try:
        if "-" in text:
            lo_text, hi_text = (p.strip() for p in text.split("-", 1))
            lo, hi = ipaddress.ip_address(lo_text), ipaddress.ip_address(hi_text)
            if lo.version != hi.version or int(lo) > int(hi):
                return None
            return "%s-%s" % (lo.compressed, hi.compressed), (lo.version, int(lo), int(hi))
        if "/" in text:
            iface = ipaddress.ip_interface(text)
            net = iface.network
            # unconfirmed in the reference: host bits in a feed CIDR; kept as written, matched as the network.
            return ("%s/%d" % (iface.ip.compressed, net.prefixlen),
                    (net.version, int(net.network_address), int(net.broadcast_address)))
        ip = ipaddress.ip_address(text)
        return ip.compressed, (ip.version, int(ip), int(ip))
    except ValueError:
        return None


DOMAIN_RE = re.compile(r"^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_-]{1,63}\.?$")


def parse_feed_line(rtype, text):
    """(key, entry text, valid, span) for one line of a resource of type `rtype`."""
    text = text.strip()
    if rtype == "address":
        parsed = parse_entry(text)
        if parsed is None:
            return None, text, False, None
        return parsed[0], parsed[0], True, parsed[1]
    if rtype == "domain":
        valid = bool(DOMAIN_RE.match(text)) and len(text) <= 253
        return (text.lower() if valid else None), text, valid, None
    return text, text, bool(text), None  # category URLs, malware hashes, ...: not interpreted


def new_api_key():
    # Real keys are 30 characters of [A-Za-z0-9] (e.g. the ones quoted in A3's sources).
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _unused in range(30))


def new_uuid():
    return str(uuid.uuid4())


def as_bool(text):
    return str(text).strip().lower() in ("1", "true", "yes", "enable")


# -- table definitions ----------------------------------------------------------------------------
class Table:
    """What the lab knows about one CMDB table: its URL, key, access group, fields and checks."""

    def __init__(self, key, mkey="name", mkey_type=str, scope="vdom", access=None, writable=True,
                 name_max=79, limits=None, enums=None, ranges=None, children=None, secrets_=(),
                 q_type=0):
        self.key = key
        self.path, self.name = key.split("/")
        self.mkey = mkey
        self.mkey_type = mkey_type
        self.scope = scope
        self.access = access
        self.writable = writable
        self.name_max = name_max
        self.limits = dict(limits or {})
        self.enums = dict(enums or {})
        self.ranges = dict(ranges or {})
        self.children = dict(children or {})  # attribute -> child mkey field
        self.secrets = tuple(secrets_)
        self.q_type = q_type

    def parse_mkey(self, text):
        if self.mkey_type is int:
            if not re.fullmatch(r"\d+", str(text)):
                return None
            return int(text)
        return str(text)


ADDRESS_TYPES = (("ipmask", None), ("iprange", None), ("fqdn", None), ("geography", None),
                 ("wildcard", None), ("dynamic", None), ("interface-subnet", "6.2.0"), ("mac", "6.2.0"),
                 ("route-tag", "7.4.0"))
ADDRESS6_TYPES = (("ipprefix", None), ("iprange", None), ("fqdn", None), ("geography", "6.4.0"),
                  ("dynamic", None), ("template", None), ("mac", None), ("route-tag", "7.4.0"),
                  ("wildcard", "7.6.4"))
RESOURCE_TYPES = (("category", None), ("address", None), ("domain", None), ("malware", "6.2.0"),
                  ("mac-address", "7.4.0"), ("data", "7.4.2"), ("generic-address", "7.6.1"))

TABLES = {t.key: t for t in (
    Table("firewall/address", access=("fwgrp", "address"), q_type=185,
          limits={"comment": 255, "fqdn": 255, "associated-interface": 35, "country": 2},
          enums={"allow-routing": ENABLE, "fabric-object": ENABLE, "obj-type": ("ip", "mac")},
          ranges={"color": (0, 32), "cache-ttl": (0, 86400)},
          children={"macaddr": "macaddr", "tagging": "name"}),
    Table("firewall/address6", access=("fwgrp", "address"), q_type=186,
          limits={"comment": 255, "fqdn": 255, "country": 2},
          enums={"fabric-object": ENABLE}, ranges={"color": (0, 32), "cache-ttl": (0, 86400)},
          children={"macaddr": "macaddr", "tagging": "name"}),
    Table("firewall/addrgrp", access=("fwgrp", "address"), q_type=187, limits={"comment": 255},
          enums={"type": ("default", "folder"), "exclude": ENABLE, "allow-routing": ENABLE,
                 "fabric-object": ENABLE,
                 "category": ("default", "ztna-ems-tag", "ztna-geo-tag", "telemetry")},
          ranges={"color": (0, 32)}, children={"member": "name", "exclude-member": "name",
                                               "tagging": "name"}),
    Table("firewall/addrgrp6", access=("fwgrp", "address"), q_type=188, limits={"comment": 255},
          enums={"exclude": ENABLE, "fabric-object": ENABLE}, ranges={"color": (0, 32)},
          children={"member": "name", "exclude-member": "name", "tagging": "name"}),
    Table("firewall/policy", mkey="policyid", mkey_type=int, access=("fwgrp", "policy"), q_type=206,
          name_max=35, limits={"comments": 1023},
          enums={"status": ENABLE, "action": ("accept", "deny", "ipsec"),
                 "logtraffic": ("all", "utm", "disable"), "logtraffic-start": ENABLE, "nat": ENABLE,
                 "srcaddr-negate": ENABLE, "dstaddr-negate": ENABLE, "service-negate": ENABLE,
                 "ippool": ENABLE, "internet-service": ENABLE, "nat64": ENABLE, "nat46": ENABLE,
                 "ztna-status": ENABLE},
          children={"srcintf": "name", "dstintf": "name", "srcaddr": "name", "dstaddr": "name",
                    "srcaddr6": "name", "dstaddr6": "name", "service": "name", "poolname": "name"}),
    Table("system/external-resource", access=("sysgrp", "cfg"), q_type=420, name_max=35,
          limits={"resource": 511, "username": 64, "comments": 255, "user-agent": 255, "interface": 15},
          enums={"status": ENABLE, "update-method": ("feed", "push"),
                 "server-identity-check": ("none", "basic", "full"),
                 "interface-select-method": ("auto", "sdwan", "specify")},
          ranges={"refresh-rate": (1, 43200)}, secrets_=("password",)),
    Table("system/api-user", scope="global", access=("sysgrp", "admin"), q_type=65, name_max=35,
          limits={"comments": 255, "accprofile": 35, "schedule": 35, "cors-allow-origin": 269,
                  "peer-group": 35},
          enums={"peer-auth": ENABLE}, children={"trusthost": "id", "vdom": "name"},
          secrets_=("api-key",)),
    Table("system/accprofile", scope="global", access=("sysgrp", "admin"), q_type=64, name_max=35,
          limits={"comments": 255},
          enums={"scope": ("vdom", "global"), "admintimeout-override": ENABLE,
                 "system-diagnostics": ENABLE},
          ranges={"admintimeout": (1, 480)}),
    Table("firewall.service/custom", access=("fwgrp", "service"), writable=False, q_type=229),
    Table("firewall.schedule/recurring", access=("fwgrp", "schedule"), writable=False, q_type=224),
    Table("system/interface", scope="global", access=("netgrp", "cfg"), writable=False, name_max=15,
          q_type=66),
)}

# Fields that name objects of other tables (for -651 on create/update, -23 on delete, q_ref).
ADDR4_TARGETS = ("firewall/address", "firewall/addrgrp", "system/external-resource")
ADDR6_TARGETS = ("firewall/address6", "firewall/addrgrp6", "system/external-resource")
REFERENCES = {
    "firewall/addrgrp": {"member": ("firewall/address", "firewall/addrgrp"),
                         "exclude-member": ("firewall/address", "firewall/addrgrp")},
    "firewall/addrgrp6": {"member": ("firewall/address6", "firewall/addrgrp6"),
                          "exclude-member": ("firewall/address6", "firewall/addrgrp6")},
    "firewall/policy": {"srcaddr": ADDR4_TARGETS, "dstaddr": ADDR4_TARGETS,
                        "srcaddr6": ADDR6_TARGETS, "dstaddr6": ADDR6_TARGETS,
                        "service": ("firewall.service/custom",),
                        "schedule": ("firewall.schedule/recurring",),
                        "srcintf": ("system/interface",), "dstintf": ("system/interface",)},
    "system/api-user": {"accprofile": ("system/accprofile",)},
}


class ResourceState:
    """Runtime (not CMDB) state of one external resource: its entries and last poll."""

    def __init__(self):
        self.entries = {}  # key -> [entry text, valid, span, pushed]; insertion order = line order
        self.status = "unavailable"
        self.resource_file_status = "unavailable"
        self.error = ""
        self.error_code = 0
        self.http_status_code = 0
        self.conn_attempt_time = 0
        self.last_conn_success_time = 0
        self.last_content_update_time = 0
        self.content_hash = None
        self.validators = {}  # ETag / Last-Modified of the last download (conditional polls)
        self.next_due = 0.0  # lab time; 0 = poll on the next tick
        self.polling = False
        self.refresh_state = None  # status of the last monitor refresh request

    def set_lines(self, rtype, lines, as_written=True):
        self.entries = {}
        for n, line in enumerate(lines):
            key, text, valid, span = parse_feed_line(rtype, line)
            if valid and as_written:
                text = line.strip()
            self.entries[key if valid else ("invalid", n)] = [text, valid, span, False]


class FortiGate(Device):
    kind = "fortigate"

    def __init__(self, lab, name, serial, version, vdoms, spec=None):
        super().__init__(lab, name, serial, version)
        self.spec = dict(spec or {})
        self.vdoms = list(vdoms or ["root"])
        self.management_vdom = "root" if "root" in self.vdoms else self.vdoms[0]
        self.build = BUILDS.get(version, 1000 + int(hashlib.md5(version.encode()).hexdigest()[:3], 16))
        self.seed_tokens = {user: new_api_key() for user, _unused, _unused2 in SEED_USERS}
        self.line_limit = LINES_PER_RESOURCE  # instance attributes so that tests can shrink them
        self.ip_entry_limit = IP_ENTRIES_GLOBAL
        self.generation = 0
        self.reset()

    @classmethod
    def from_topology(cls, lab, spec):
        return cls(lab, spec["name"], spec["serial"], spec["version"], spec.get("vdoms") or ["root"], spec)

    # -- seed state ---------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.generation += 1  # a poll in flight must not write into the fresh state
            self.switches = variants.resolve(SWITCHES, self, getattr(self, "spec", None),
                                             getattr(self.lab, "topology", None))
            self.revision_seq = 0
            self.revision = self._revision_hash()
            self.global_tables = {key: {} for key, t in TABLES.items() if t.scope == "global"}
            self.vdom_tables = {v: {key: {} for key, t in TABLES.items() if t.scope == "vdom"}
                                for v in self.vdoms}
            self.resources = {}  # (vdom, name) -> ResourceState
            self._seed()

    def _revision_hash(self):
        return hashlib.md5(("%s:%d" % (self.serial, self.revision_seq)).encode()).hexdigest()

    def _seed(self):
        profiles = self.global_tables["system/accprofile"]
        every = {g: "read-write" for g in GROUPS}
        everything_read = {g: "read" for g in GROUPS}
        nothing = {g: "none" for g in GROUPS}
        seeds = {
            "super_admin": dict(every, scope="global"),
            "kk_passiveplus": dict(nothing, sysgrp="custom",
                                   **{"sysgrp-permission": {"admin": "none", "upd": "none", "cfg": "read-write",
                                                            "mnt": "none"}}),
            "kk_active": dict(nothing, fwgrp="read-write"),
            "kk_readonly": everything_read,
            "kk_noperm": nothing,
        }
        for name in SEED_PROFILES:
            obj = self._defaults(TABLES["system/accprofile"])
            obj["name"] = name
            for field, value in seeds[name].items():
                if isinstance(value, dict):
                    obj[field].update(value)
                else:
                    obj[field] = value
            profiles[name] = obj
        users = self.global_tables["system/api-user"]
        for name, profile, trusthost in SEED_USERS:
            obj = self._defaults(TABLES["system/api-user"])
            obj.update({"name": name, "accprofile": profile, "api-key": self.seed_tokens[name],
                        "vdom": [{"name": v} for v in self.vdoms],
                        "trusthost": [{"id": 1, "type": "ipv4-trusthost", "ipv4-trusthost": trusthost,
                                       "ipv6-trusthost": "::/0"}]})
            users[name] = obj
        interfaces = self.global_tables["system/interface"]
        # unconfirmed in the reference: the lab shows both ports in every VDOM (real ports belong to one).
        for name, ip, role in (("port1", "192.168.1.99 255.255.255.0", "lan"),
                               ("port2", "203.0.113.2 255.255.255.0", "wan")):
            interfaces[name] = {"name": name, "vdom": self.management_vdom, "ip": ip, "type": "physical",
                                "role": role, "status": "up", "alias": "", "allowaccess": "ping https ssh",
                                "mode": "static", "description": ""}
        for vdom in self.vdoms:
            tables = self.vdom_tables[vdom]
            for name, subnet in (("all", "0.0.0.0 0.0.0.0"), ("none", "0.0.0.0 255.255.255.255")):
                obj = self._defaults(TABLES["firewall/address"])
                obj.update(name=name, subnet=subnet)
                tables["firewall/address"][name] = obj
            for name, prefix in (("all", "::/0"), ("none", "::/128")):
                obj = self._defaults(TABLES["firewall/address6"])
                obj.update({"name": name, "ip6": prefix})
                tables["firewall/address6"][name] = obj
            for name, fields in (("ALL", {"category": "General", "protocol": "IP"}),
                                 ("HTTPS", {"category": "Web Access", "tcp-portrange": "443"}),
                                 ("SSH", {"category": "Remote Access", "tcp-portrange": "22"})):
                obj = {"name": name, "uuid": new_uuid(), "proxy": "disable", "category": "",
                       "protocol": "TCP/UDP/SCTP", "helper": "auto", "iprange": "0.0.0.0", "fqdn": "",
                       "protocol-number": 0, "icmptype": "", "icmpcode": "", "tcp-portrange": "",
                       "udp-portrange": "", "sctp-portrange": "", "session-ttl": "0",
                       "check-reset-range": "default", "comment": "", "color": 0,
                       "fabric-object": "disable"}
                obj.update(fields)
                tables["firewall.service/custom"][name] = obj
            tables["firewall.schedule/recurring"]["always"] = {
                "name": "always", "uuid": new_uuid(),
                "start": "00:00", "end": "00:00", "day": "sunday monday tuesday wednesday thursday friday saturday",
                "label-day": "none", "color": 0, "fabric-object": "disable"}

    def _defaults(self, table):
        key = table.key
        v = self.version_at_least
        if key == "firewall/address":
            return {"name": "", "uuid": new_uuid(), "subnet": "0.0.0.0 0.0.0.0", "type": "ipmask",
                    "route-tag": 0, "sub-type": "sdn", "clearpass-spt": "unknown", "macaddr": [],
                    "start-ip": "0.0.0.0", "end-ip": "0.0.0.0", "fqdn": "", "country": "",
                    "wildcard-fqdn": "", "cache-ttl": 0, "wildcard": "0.0.0.0 0.0.0.0", "sdn": "",
                    "fsso-group": [], "interface": "", "tenant": "", "organization": "", "epg-name": "",
                    "subnet-name": "", "sdn-tag": "", "policy-group": "", "obj-tag": "", "obj-type": "ip",
                    "tag-detection-level": "", "tag-type": "", "hw-vendor": "", "hw-model": "", "os": "",
                    "sw-version": "", "comment": "", "associated-interface": "", "color": 0, "filter": "",
                    "sdn-addr-type": "private", "node-ip-only": "disable", "obj-id": "", "list": [],
                    "tagging": [], "allow-routing": "disable", "fabric-object": "disable"}
        if key == "firewall/address6":
            return {"name": "", "uuid": new_uuid(), "type": "ipprefix", "route-tag": 0, "macaddr": [],
                    "sdn": "", "ip6": "::/0", "wildcard": ":: ::", "start-ip": "::", "end-ip": "::",
                    "fqdn": "", "country": "", "cache-ttl": 0, "color": 0, "obj-id": "", "tagging": [],
                    "comment": "", "template": "", "subnet-segment": [], "host-type": "any", "host": "::",
                    "tenant": "", "epg-name": "", "sdn-tag": "", "filter": "", "list": [],
                    "sdn-addr-type": "private", "fabric-object": "disable"}
        if key == "firewall/addrgrp":
            return {"name": "", "type": "default", "category": "default", "uuid": new_uuid(), "member": [],
                    "comment": "", "exclude": "disable", "exclude-member": [], "color": 0, "tagging": [],
                    "allow-routing": "disable", "fabric-object": "disable"}
        if key == "firewall/addrgrp6":
            return {"name": "", "uuid": new_uuid(), "color": 0, "comment": "", "member": [],
                    "exclude": "disable", "exclude-member": [], "tagging": [], "fabric-object": "disable"}
        if key == "firewall/policy":
            return {"policyid": 0, "status": "enable", "name": "", "uuid": new_uuid(), "srcintf": [],
                    "dstintf": [], "action": "deny", "nat64": "disable", "nat46": "disable",
                    "ztna-status": "disable", "srcaddr": [], "dstaddr": [], "srcaddr6": [], "dstaddr6": [],
                    "srcaddr-negate": "disable", "dstaddr-negate": "disable", "internet-service": "disable",
                    "service": [], "service-negate": "disable", "schedule": "", "logtraffic": "utm",
                    "logtraffic-start": "disable", "nat": "disable", "ippool": "disable", "poolname": [],
                    "comments": ""}
        if key == "system/external-resource":
            obj = {"name": "", "uuid": new_uuid(), "status": "enable", "type": "category"}
            if v("7.2.1"):
                obj["update-method"] = "feed"  # B4: the field exists from 7.2.1
            obj.update({"category": 0, "username": "", "password": "", "comments": "", "resource": "",
                        "user-agent": ""})
            if v("7.2.4"):
                obj["server-identity-check"] = "none"  # B4: 7.0.8-7.0.12 and 7.2.4+
            obj.update({"refresh-rate": 5, "source-ip": "0.0.0.0", "interface-select-method": "auto",
                        "interface": ""})
            return obj
        if key == "system/api-user":
            return {"name": "", "comments": "", "api-key": "", "accprofile": "", "vdom": [], "schedule": "",
                    "cors-allow-origin": "", "peer-auth": "disable", "peer-group": "", "trusthost": []}
        if key == "system/accprofile":
            obj = {"name": "", "scope": "vdom", "comments": ""}
            obj.update({g: "none" for g in GROUPS})
            for field, subs in PERMISSION_OBJECTS.items():
                obj[field] = {s: "none" for s in subs}
            obj.update({"admintimeout-override": "disable", "admintimeout": 10, "system-diagnostics": "enable"})
            return obj
        raise KeyError(key)

    # -- lab-facing surface ---------------------------------------------------------------------
    @property
    def tokens(self):
        users = self.global_tables["system/api-user"]
        return {name: users[name]["api-key"] for name, _unused, _unused2 in SEED_USERS
                if name in users and users[name]["api-key"]}

    @property
    def admin_token(self):
        return self.tokens.get("lab-admin")

    def describe(self):
        info = super().describe()
        with self.lock:
            tokens = self.tokens
        info.update({"vdoms": list(self.vdoms), "hostname": self.name, "build": self.build,
                     "tokens": tokens, "admin_token": tokens.get("lab-admin"), "switches": dict(self.switches)})
        return info

    def dump(self):
        with self.lock:
            out = {"revision": self.revision, "global": {}, "vdoms": {}}
            for key, store in self.global_tables.items():
                out["global"][key] = [self._render(TABLES[key], o) for o in store.values()]
            for vdom in self.vdoms:
                tables = {key: [self._render(TABLES[key], o) for o in store.values()]
                          for key, store in self.vdom_tables[vdom].items()}
                resources = {}
                for name in self.vdom_tables[vdom]["system/external-resource"]:
                    resources[name] = self._entry_list_results(vdom, name, {})
                out["vdoms"][vdom] = {"tables": tables, "resources": resources}
            return out

    def control(self, action, method, body):
        if action == "switches":
            return variants.control(SWITCHES, self.switches, self, method, body)
        if action == "poll" and method == "POST":
            body = body or {}
            with self.lock:
                targets = [k for k in self.resources
                           if (not body.get("vdom") or k[0] == body["vdom"])
                           and (not body.get("name") or k[1] == body["name"])]
            # The lab's control handler holds our lock; a poll must not (the feed server may be
            # another lab device that calls us), so release it for the duration.
            saved = self.lock._release_save() if self.lock._is_owned() else None
            try:
                results = self.poll(targets, force=True)
            finally:
                if saved is not None:
                    self.lock._acquire_restore(saved)
            return {"polled": results}
        raise KeyError(action)

    def fault_response(self, request, fault):
        body = {"http_method": request.method, "status": "error", "http_status": fault.status,
                "serial": self.serial, "version": "v" + self.version, "build": self.build}
        if fault.message:
            body["error_message"] = fault.message
        return Response(fault.status or 500, body)

    # -- feeds ---------------------------------------------------------------------------------
    def tick(self, now):
        with self.lock:
            due = []
            for vdom in self.vdoms:
                for name, obj in self.vdom_tables[vdom]["system/external-resource"].items():
                    state = self.resources.setdefault((vdom, name), ResourceState())
                    if self._is_feed(obj) and not state.polling and state.next_due <= now:
                        due.append((vdom, name))
        if due:
            self.poll(due)

    def _is_feed(self, obj):
        return obj.get("update-method", "feed") == "feed" and obj["status"] == "enable"

    def poll(self, targets, force=False):
        """Poll the given feed resources: network without our lock, results stored under it."""
        jobs, results = [], []
        with self.lock:
            now = self.lab.clock.now()
            for vdom, name in targets:
                obj = self.vdom_tables.get(vdom, {}).get("system/external-resource", {}).get(name)
                state = self.resources.get((vdom, name))
                if obj is None or state is None or not self._is_feed(obj) or (state.polling and not force):
                    continue
                state.polling = True
                state.next_due = now + obj["refresh-rate"] * 60
                jobs.append({"vdom": vdom, "name": name, "generation": self.generation, "url": obj["resource"],
                             "username": obj["username"], "password": obj["password"], "type": obj["type"],
                             "check": obj.get("server-identity-check", "none"),
                             "user_agent": obj["user-agent"] or "curl/7.58.0",
                             "validators": dict(state.validators) if self.switches["conditional_poll"] else {}})
        for job in jobs:
            try:
                outcome = self._fetch(job)
            except Exception as exc:  # a poll must never break the device
                outcome = ("error", None, None, "%s: %s" % (type(exc).__name__, exc))
            results.append(self._store_poll(job, outcome))
        return results

    def _fetch(self, job):
        if job["check"] == "none":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = self.lab.authority.client_context()
            # unconfirmed in the reference: "basic" taken as chain-only, "full" as chain + host name.
            context.check_hostname = job["check"] == "full"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
        request = urllib.request.Request(job["url"], headers={"User-Agent": job["user_agent"],
                                                              "Accept": "*/*"})
        if job["username"] or job["password"]:
            pair = ("%s:%s" % (job["username"], job["password"])).encode("utf-8")
            request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode("ascii"))
        # Conditional poll (switch conditional_poll): the validators of the last download.
        if job["validators"].get("etag"):
            request.add_header("If-None-Match", job["validators"]["etag"])
        if job["validators"].get("last_modified"):
            request.add_header("If-Modified-Since", job["validators"]["last_modified"])
        try:
            with opener.open(request, timeout=FEED_TIMEOUT) as reply:
                job["new_validators"] = {"etag": reply.headers.get("ETag"),
                                         "last_modified": reply.headers.get("Last-Modified")}
                return ("ok", reply.status, reply.read(FEED_MAX_BYTES + 1), "")
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and job["validators"]:
                return ("not_modified", 304, None, "")
            return ("error", exc.code, None, "HTTP %d %s" % (exc.code, exc.reason))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return ("error", None, None, str(reason))

    def _store_poll(self, job, outcome):
        kind, http_code, body, error = outcome
        with self.lock:
            key = (job["vdom"], job["name"])
            state = self.resources.get(key)
            result = {"vdom": job["vdom"], "name": job["name"]}
            if job["generation"] != self.generation or state is None:
                result["status"] = "discarded"  # the device was reset or the resource deleted meanwhile
                return result
            state.polling = False
            now = int(self.lab.clock.now())
            state.conn_attempt_time = now
            if kind == "ok" and len(body) > FEED_MAX_BYTES:
                kind, error = "error", "resource file exceeds %d bytes" % FEED_MAX_BYTES
            if kind == "ok":
                digest = hashlib.sha256(body).hexdigest()
                lines = [ln for ln in body.decode("utf-8", "replace").splitlines()
                         if ln.strip() and not ln.strip().startswith("#")]
                # A good download replaces the list: entries pushed since the last poll are gone.
                state.set_lines(job["type"], lines, self.switches["entries_as_written"])
                state.validators = dict((k, v) for k, v in job.get("new_validators", {}).items() if v)
                if digest != state.content_hash:
                    state.last_content_update_time = now
                    state.content_hash = digest
                state.status, state.resource_file_status = "success", "downloaded"
                state.error, state.error_code = "", 0
                state.http_status_code = http_code
                state.last_conn_success_time = now
            elif kind == "not_modified":
                # 304: the list is not replaced (entries pushed since the last download stay).
                state.status, state.resource_file_status = "success", "downloaded"
                state.error, state.error_code = "", 0
                state.http_status_code = 304
                state.last_conn_success_time = now
            else:
                # A failed poll keeps the last list (knocknoc.md 2.5: "FortiGate feeds keep the last download").
                state.status = "error"
                state.error = error
                state.error_code = http_code or -1
                state.http_status_code = http_code or 0
                if state.resource_file_status != "downloaded":
                    state.resource_file_status = "unavailable"
            if state.refresh_state == "pending":
                state.refresh_state = "finished" if kind in ("ok", "not_modified") else "error"
            result.update(status=state.status, error=state.error, http_status_code=state.http_status_code,
                          entries=len(state.entries))
            return result

    # -- HTTP entry point --------------------------------------------------------------------
    def handle(self, request):
        segs = request.segments
        if segs == ["logout"] and request.method == "POST":
            # fortinet.fortios' httpapi posts this at teardown even with a token (reference J).
            return Response(200, "", content_type="text/html")
        if len(segs) < 3 or segs[:2] != ["api", "v2"] or segs[2] not in ("cmdb", "monitor"):
            return Response(404, "<html><body>404 Not Found</body></html>", content_type="text/html")
        self._count_if_write(request)
        if len(request.body or b"") > MAX_BODY:
            return Response(413, self._error_env(request, self._vdom_param(request), segs[3:5], 413))
        user = self._authenticate(request)
        if user is None:
            return Response(401, UNAUTHORIZED_HTML, content_type="text/html")
        vdom = self._vdom_param(request)
        where = (segs[3:5] + ["", ""])[:2]
        if vdom not in self.vdoms:
            # unconfirmed in the reference: the reply for a VDOM that does not exist; 404 chosen.
            return Response(404, self._error_env(request, vdom, where, 404))
        if vdom not in [v["name"] for v in user["vdom"]]:
            return Response(403, self._error_env(request, vdom, where, 403, monitor=segs[2] == "monitor"))
        try:
            if segs[2] == "cmdb":
                return self._cmdb(request, user, vdom, segs[3:])
            return self._monitor(request, user, vdom, segs[3:])
        except FosError as err:
            return Response(err.http_status, self._error_env(request, vdom, where, err.http_status,
                                                             error=err.error, cli_error=err.cli_error,
                                                             mkey=err.mkey))

    def _vdom_param(self, request):
        return request.query.get("vdom") or self.management_vdom

    def _count_if_write(self, request):
        """Every attempted state change counts, refused or not: check mode must show zero."""
        segs = request.segments
        if segs[2] == "cmdb" and request.method in ("POST", "PUT", "DELETE", "PATCH"):
            self.count_write()
        elif segs[2] == "monitor" and request.method == "POST":
            action = "/".join(segs[3:])
            if action in ("system/external-resource/dynamic", "system/api-user/generate-key"):
                self.count_write()
            elif action == "system/external-resource/refresh":
                try:
                    check_only = as_bool((request.json() or {}).get("check_status_only", False))
                except (ValueError, AttributeError):
                    check_only = False
                if not check_only:
                    self.count_write()

    def _authenticate(self, request):
        token = request.bearer_token()
        url_token = request.query.get("access_token")
        if url_token is not None and self.version_at_least("7.4.5"):
            # A3 / FOS-TOKENURL: from 7.4.5 a key in the URL is refused with 401
            # (rest-api-key-url-query is disabled by default).
            return None
        token = token or url_token
        if not token:
            return None
        for user in self.global_tables["system/api-user"].values():
            if user["api-key"] and secrets.compare_digest(user["api-key"], token):
                # A3: an untrusted source gets the same 401 as a wrong key.
                return user if self._trusted(user, request.client_ip) else None
        return None

    @staticmethod
    def _trusted(user, client_ip):
        try:
            ip = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        hosts = user["trusthost"]
        if not hosts:
            return True  # unconfirmed in the reference: no trusthost entry taken as "any source"
        for host in hosts:
            if host.get("type") == "ipv6-trusthost":
                net = ipaddress.ip_network(host["ipv6-trusthost"], strict=False)
            else:
                net = classnet_network(host["ipv4-trusthost"])
            if ip.version == net.version and ip in net:
                return True
        return False

    def _permission(self, user, access):
        if access is None:
            return "read-write"
        profile = self.global_tables["system/accprofile"].get(user["accprofile"])
        if profile is None:
            return "none"
        group, sub = access
        value = profile.get(group, "none")
        if value == "custom":
            return profile.get(group + "-permission", {}).get(sub, "none")
        return value

    def _require(self, user, access, write):
        level = self._permission(user, access)
        if level == "read-write" or (level == "read" and not write):
            return
        raise FosError(403)

    # -- envelopes -----------------------------------------------------------------------------
    def _tail(self):
        return {"serial": self.serial, "version": "v" + self.version, "build": self.build}

    def _error_env(self, request, vdom, where, http_status, error=None, cli_error=None, mkey=None,
                   monitor=None):
        if monitor is None:
            monitor = len(request.segments) > 2 and request.segments[2] == "monitor"
        body = {"http_method": request.method}
        if not monitor:
            body["revision"] = self.revision
            if request.method != "GET":  # I5/I7: writes say revision_changed, reads do not
                body["revision_changed"] = False
        if cli_error:
            body["cli_error"] = cli_error
        if error is not None:
            body["error"] = error
        body.update(status="error", http_status=http_status, vdom=vdom)
        path, name = (list(where) + ["", ""])[:2]
        body.update(path=path, name=name)
        if monitor:
            body["action"] = "/".join(request.segments[5:])
        if mkey is not None:
            body["mkey"] = mkey
        body.update(self._tail())
        return body

    def _write_env(self, request, vdom, table, old_revision, mkey):
        body = {"http_method": request.method, "revision": self.revision, "old_revision": old_revision,
                "revision_changed": self.revision != old_revision, "mkey": mkey, "status": "success",
                "http_status": 200, "vdom": vdom, "path": table.path, "name": table.name}
        body.update(self._tail())
        return body

    def _monitor_env(self, request, vdom, path, name, action, results, http_status=True, status="success"):
        body = {"http_method": request.method, "results": results, "vdom": vdom, "path": path,
                "name": name, "action": action, "status": status}
        if http_status:
            body["http_status"] = 200
        body.update(self._tail())
        return body

    def _bump(self):
        self.revision_seq += 1
        self.revision = self._revision_hash()

    # -- CMDB ----------------------------------------------------------------------------------
    def _store(self, table, vdom):
        if table.scope == "global":
            return self.global_tables[table.key]
        return self.vdom_tables[vdom][table.key]

    def _cmdb(self, request, user, vdom, segs):
        if len(segs) < 2:
            raise FosError(404)
        table = TABLES.get("%s/%s" % (segs[0], segs[1]))
        if table is None:
            raise FosError(404)
        write = request.method != "GET"
        self._require(user, table.access, write)
        if write and not table.writable:
            raise FosError(405)
        rest = segs[2:]
        store = self._store(table, vdom)
        if not rest:
            if request.method == "GET":
                return self._list(request, vdom, table, store)
            if request.method == "POST":
                return self._create(request, vdom, table, store)
            # A2 reports DELETE on a table purging it; the lab refuses (conservative) rather than purge.
            raise FosError(405)
        mkey = table.parse_mkey(rest[0])
        if len(rest) == 1:
            if request.method == "GET":
                obj = store.get(mkey)
                if obj is None:
                    raise FosError(404, mkey=rest[0])
                return self._list(request, vdom, table, {mkey: obj}, single=mkey, size=len(store))
            if request.method == "PUT":
                if request.query.get("action") == "move":
                    return self._move(request, vdom, table, store, mkey)
                return self._update(request, vdom, table, store, mkey)
            if request.method == "DELETE":
                return self._delete(request, vdom, table, store, mkey, rest[0])
            raise FosError(405)
        if len(rest) in (2, 3) and rest[1] in table.children:
            return self._child(request, vdom, table, store, mkey, rest[0], rest[1],
                               rest[2] if len(rest) == 3 else None)
        raise FosError(404)

    def _body(self, request):
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise FosError(400) from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            # unconfirmed in the reference (A2): POST of a JSON array; refused with 400.
            raise FosError(400)
        return body

    def _render(self, table, obj, meta=None):
        out = {}
        for field, value in obj.items():
            if field in table.secrets:
                value = MASKED if value else ""
            elif field in table.children and isinstance(value, list):
                ckey = table.children[field]
                value = [self._render_child(ckey, item) for item in value]
            else:
                value = copy.deepcopy(value)
            out[field] = value
            if field == table.mkey:
                out["q_origin_key"] = value
        if meta is not None:
            out.update(meta)
        return out

    @staticmethod
    def _render_child(ckey, item):
        out = {}
        for field, value in item.items():
            out[field] = value
            if field == ckey:
                out["q_origin_key"] = value
        return out

    def _list(self, request, vdom, table, store, single=None, size=None):
        q = request.query
        with_meta = as_bool(q.get("with_meta", "0"))
        rows = []
        for index, (mkey, obj) in enumerate(store.items()):
            meta = None
            if with_meta:
                meta = {"q_ref": len(self._referrers(vdom, table.key, mkey)), "q_static": False,
                        "q_no_rename": False, "q_no_edit": False, "q_type": table.q_type,
                        "q_path": table.path, "q_name": table.name,
                        "q_mkey_type": "integer" if table.mkey_type is int else "string"}
            rows.append((index, self._render(table, obj, meta)))
        for expr in request.query_multi.get("filter", []):
            rows = [r for r in rows if match_filter(expr, r[1])]
        matched = len(rows)
        start = _int(q.get("start"), 0)
        count = _int(q.get("count"), 0)
        # unconfirmed in the reference (A8 says "start/count beyond the table -> error"); the lab
        # answers with what exists instead, as clients page with large counts.
        if start > 0 or count > 0:
            start = max(start, 0)
            rows = rows[start:start + count] if count > 0 else rows[start:]
        fields = [f for f in (q.get("format") or "").split("|") if f]
        results = [r[1] for r in rows]
        if fields:
            known = set(results[0]) if results else set(fields)
            if all(f in known for f in fields):  # A8: an unknown field -> all fields
                keep = set(fields) | {"q_origin_key"}
                results = [{k: v for k, v in r.items() if k in keep} for r in results]
        body = {"http_method": "GET", "size": len(store) if size is None else size, "limit_reached": False,
                "matched_count": matched, "next_idx": rows[-1][0] if rows else -1,
                "revision": self.revision, "results": results, "vdom": vdom, "path": table.path,
                "name": table.name}
        if single is not None:
            body["mkey"] = single
        body.update(status="success", http_status=200)
        body.update(self._tail())
        return Response(200, body)

    def _create(self, request, vdom, table, store):
        body = self._body(request)
        if request.query.get("action") == "clone":
            raise FosError(405)  # not modelled: clone needs the source mkey in the URL
        if table.mkey_type is int:
            mkey = body.get(table.mkey) or 0
            try:
                mkey = int(mkey)
            except (TypeError, ValueError):
                raise parse_error(body.get(table.mkey)) from None
            if mkey == 0:  # A2: policyid 0 (or absent) lets FortiOS pick the next id
                mkey = max(store, default=0) + 1
        else:
            mkey = body.get(table.mkey)
            if not isinstance(mkey, str) or not mkey:
                # unconfirmed in the reference: the code for a missing name; -56 "empty values".
                raise fos(-56)
            if len(mkey) > table.name_max:
                # -72 "exceeds the maximum number of characters" (A7); -166 would also fit names.
                raise FosError(500, -72, mkey=mkey)
        if mkey in store:
            raise FosError(500, -5, mkey=mkey)  # I5: duplicate POST -> 500, error -5
        self._check_name_clash(vdom, table, mkey)
        obj = self._build(vdom, table, dict(body, **{table.mkey: mkey}), None)
        old = self.revision
        store[mkey] = obj
        self._after_write(vdom, table, mkey, None, obj)
        self._bump()
        return Response(200, self._write_env(request, vdom, table, old, mkey))

    def _update(self, request, vdom, table, store, mkey, body=None):
        existing = store.get(mkey)
        if existing is None:
            raise FosError(404, mkey=mkey)
        if body is None:
            body = self._body(request)
        new_key = body.get(table.mkey, mkey)
        if table.mkey_type is int:
            try:
                new_key = int(new_key)
            except (TypeError, ValueError):
                raise parse_error(new_key) from None
        if new_key != mkey:
            # Renaming through PUT: FortiOS follows references to the renamed object.
            if table.mkey_type is str and (not isinstance(new_key, str) or not new_key):
                raise fos(-56)
            if table.mkey_type is str and len(new_key) > table.name_max:
                raise FosError(500, -72, mkey=mkey)
            if new_key in store:
                raise FosError(500, -5, mkey=mkey)
            self._check_name_clash(vdom, table, new_key)
        obj = self._build(vdom, table, dict(body, **{table.mkey: new_key}), existing)
        old = self.revision
        if obj != existing:
            if new_key != mkey:
                items = [(new_key if k == mkey else k, obj if k == mkey else v) for k, v in store.items()]
                store.clear()
                store.update(items)
                self._rename_references(vdom, table.key, mkey, new_key)
            else:
                store[mkey] = obj
            self._after_write(vdom, table, new_key, existing, obj)
            self._bump()
        return Response(200, self._write_env(request, vdom, table, old, new_key))

    def _delete(self, request, vdom, table, store, mkey, raw):
        obj = store.get(mkey)
        if obj is None:
            raise FosError(404, mkey=raw)  # A2: DELETE of a missing entry -> 404 (Ansible: "absent")
        if self._referrers(vdom, table.key, mkey):
            raise FosError(500, -23, mkey=mkey)  # A6: entry in use
        old = self.revision
        del store[mkey]
        self._after_write(vdom, table, mkey, obj, None)
        self._bump()
        return Response(200, self._write_env(request, vdom, table, old, mkey))

    def _move(self, request, vdom, table, store, mkey):
        if mkey not in store:
            raise FosError(404, mkey=mkey)
        q = request.query
        where = "before" if "before" in q else "after" if "after" in q else None
        if where is None:
            raise FosError(400, mkey=mkey)
        target = table.parse_mkey(q[where])
        if target not in store:
            raise FosError(500, -3, mkey=mkey)  # unconfirmed in the reference: move next to a missing entry
        old = self.revision
        before = list(store)
        keys = [k for k in before if k != mkey]
        index = keys.index(target) + (1 if where == "after" else 0)
        keys.insert(index, mkey)
        if keys != before:
            items = [(k, store[k]) for k in keys]
            store.clear()
            store.update(items)
            self._bump()
        return Response(200, self._write_env(request, vdom, table, old, mkey))

    def _child(self, request, vdom, table, store, mkey, raw, attr, child_raw):
        parent = store.get(mkey)
        if parent is None:
            raise FosError(404, mkey=raw)  # A9: member POST to a missing parent -> 404 ("no path")
        ckey = table.children[attr]
        items = parent.get(attr, [])
        child_id = None
        if child_raw is not None:
            child_id = int(child_raw) if ckey == "id" and child_raw.isdigit() else child_raw
        index = next((i for i, item in enumerate(items) if item.get(ckey) == child_id), None)
        if request.method == "GET":
            if child_raw is None:
                results = [self._render_child(ckey, item) for item in items]
            else:
                if index is None:
                    raise FosError(404, mkey=child_raw)
                results = [self._render_child(ckey, items[index])]
            body = {"http_method": "GET", "size": len(items), "limit_reached": False,
                    "matched_count": len(results), "next_idx": len(results) - 1, "revision": self.revision,
                    "results": results, "vdom": vdom, "path": table.path, "name": table.name,
                    "status": "success", "http_status": 200}
            if child_raw is not None:
                body["mkey"] = child_id
            body.update(self._tail())
            return Response(200, body)
        new_items = copy.deepcopy(items)
        if request.method == "POST" and child_raw is None:
            item = self._body(request)
            value = item.get(ckey)
            if ckey == "id":
                value = int(value or 0) or max([i["id"] for i in items], default=0) + 1
                item = dict(item, id=value)
            if not value:
                raise fos(-56)
            if any(i.get(ckey) == value for i in items):
                raise FosError(500, -5, mkey=value)  # duplicate member
            new_items.append(item)
            child_id = value
        elif request.method == "PUT" and child_raw is not None:
            if index is None:
                raise FosError(404, mkey=child_raw)
            item = self._body(request)
            merged = dict(new_items[index], **item)
            if merged.get(ckey) != child_id and any(i.get(ckey) == merged.get(ckey) for i in items):
                raise FosError(500, -5, mkey=merged.get(ckey))
            new_items[index] = merged
        elif request.method == "DELETE" and child_raw is not None:
            if index is None:
                raise FosError(404, mkey=child_raw)
            del new_items[index]
        else:
            raise FosError(405)
        response = self._update(request, vdom, table, store, mkey, body={attr: new_items})
        response.body["mkey"] = child_id  # unconfirmed in the reference (I8): mkey = the member's key
        return response

    # -- object building and checks ---------------------------------------------------------
    def _build(self, vdom, table, body, existing):
        obj = copy.deepcopy(existing) if existing is not None else self._defaults(table)
        for field, value in body.items():
            # unconfirmed in the reference: attributes the table does not have are ignored, not refused.
            if field not in obj or field == "q_origin_key":
                continue
            if field in table.secrets:
                if value == MASKED:
                    continue  # a read-back mask written back unchanged keeps the secret
                if not isinstance(value, str):
                    raise parse_error(value)
                obj[field] = value
                continue
            obj[field] = self._coerce(table, field, value, obj[field])
        check = getattr(self, "_check_" + table.key.replace("/", "_").replace("-", "_").replace(".", "_"), None)
        if check:
            check(vdom, obj, existing)
        return obj

    def _coerce(self, table, field, value, current):
        if field in table.children:
            return self._coerce_children(table, field, value)
        if isinstance(current, dict):
            if not isinstance(value, dict):
                raise parse_error(value)
            merged = dict(current)
            for sub, sub_value in value.items():
                if sub not in merged:
                    continue
                if sub_value not in PERMISSION_VALUES:
                    raise parse_error(sub_value)
                merged[sub] = sub_value
            return merged
        if isinstance(current, list):
            if not isinstance(value, list):
                raise parse_error(value)
            return copy.deepcopy(value)
        if isinstance(current, int) and not isinstance(current, bool):
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise parse_error(value) from None
            low, high = table.ranges.get(field, (None, None))
            if low is not None and not low <= number <= high:
                raise fos(-650)  # A7: integer value not within valid range
            return number
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise parse_error(value)
        value = str(value)
        choices = table.enums.get(field)
        if choices and value not in choices:
            raise parse_error(value)
        limit = table.limits.get(field, 255 if field in ("comment", "comments") else None)
        if limit is not None and len(value) > limit:
            raise fos(-72)
        return value

    def _coerce_children(self, table, field, value):
        ckey = table.children[field]
        if isinstance(value, (str, dict)):
            value = [value]
        if not isinstance(value, list):
            raise parse_error(value)
        out, seen = [], set()
        for item in value:
            if isinstance(item, str):
                item = {ckey: item}
            if not isinstance(item, dict):
                raise parse_error(item)
            item = {k: v for k, v in item.items() if k != "q_origin_key"}
            if ckey != "id":  # name-keyed lists hold only the name
                name = item.get(ckey)
                if not isinstance(name, str) or not name:
                    raise parse_error(name)
                if len(name) > 79:
                    raise fos(-72)
                if name in seen:
                    continue  # the CLI keeps one copy of a repeated name
                seen.add(name)
                item = {ckey: name}
            out.append(item)
        return out

    def _check_name_clash(self, vdom, table, name):
        # B1/A7 -163: address and address-group names share one namespace (per family).
        partner = {"firewall/address": "firewall/addrgrp", "firewall/addrgrp": "firewall/address",
                   "firewall/address6": "firewall/addrgrp6", "firewall/addrgrp6": "firewall/address6"}
        other = partner.get(table.key)
        if other and name in self.vdom_tables[vdom][other]:
            raise FosError(500, -163, mkey=name)

    def _check_firewall_address(self, vdom, obj, existing):
        types = [t for t, since in ADDRESS_TYPES if since is None or self.version_at_least(since)]
        if obj["type"] not in types:
            raise parse_error(obj["type"])
        obj["subnet"] = ipv4_classnet(obj["subnet"])
        obj["start-ip"] = str(_ipv4(obj["start-ip"]))
        obj["end-ip"] = str(_ipv4(obj["end-ip"]))
        if obj["type"] == "iprange" and int(ipaddress.IPv4Address(obj["start-ip"])) > int(
                ipaddress.IPv4Address(obj["end-ip"])):
            raise fos(-8)  # unconfirmed in the reference: the code for end-ip below start-ip
        if obj["type"] == "fqdn" and not obj["fqdn"]:
            raise fos(-56)
        self._check_interface_field(obj, "associated-interface")

    def _check_interface_field(self, obj, field):
        if obj.get(field) and obj[field] not in self.global_tables["system/interface"]:
            raise missing_reference(field, obj[field])

    def _check_firewall_address6(self, vdom, obj, existing):
        types = [t for t, since in ADDRESS6_TYPES if since is None or self.version_at_least(since)]
        if obj["type"] not in types:
            raise parse_error(obj["type"])
        obj["ip6"] = ipv6_prefix(obj["ip6"])
        for field in ("start-ip", "end-ip"):
            try:
                obj[field] = ipaddress.IPv6Address(str(obj[field]).strip()).compressed
            except ValueError:
                raise fos(-8) from None
        if obj["type"] == "fqdn" and not obj["fqdn"]:
            raise fos(-56)

    def _check_group(self, vdom, obj, key):
        if not obj["member"] and not self.version_at_least("7.2.0"):
            # B3: empty groups only from 7.2.0. unconfirmed in the reference: the pre-7.2 code;
            # -56 "empty values are not allowed" chosen.
            raise cli_fail(-56, "Empty values are not allowed.")
        self._check_refs(vdom, key, obj)
        # A group may not contain itself, directly or through other groups.
        if self._group_reaches(vdom, key, obj["name"], obj["member"], set()):
            raise missing_reference("name", obj["name"])

    def _group_reaches(self, vdom, key, target, members, seen):
        groups = self.vdom_tables[vdom][key]
        for member in members:
            name = member["name"]
            if name == target:
                return True
            if name in groups and name not in seen:
                seen.add(name)
                if self._group_reaches(vdom, key, target, groups[name]["member"], seen):
                    return True
        return False

    def _check_firewall_addrgrp(self, vdom, obj, existing):
        self._check_group(vdom, obj, "firewall/addrgrp")

    def _check_firewall_addrgrp6(self, vdom, obj, existing):
        self._check_group(vdom, obj, "firewall/addrgrp6")

    def _check_firewall_policy(self, vdom, obj, existing):
        # unconfirmed in the reference: which fields FortiOS insists on and with which code; the lab
        # refuses an incomplete policy with -56 rather than store one that could never match.
        if not obj["srcintf"] or not obj["dstintf"] or not obj["service"] or not obj["schedule"]:
            raise cli_fail(-56, "Empty values are not allowed.")
        if not (obj["srcaddr"] or obj["srcaddr6"]) or not (obj["dstaddr"] or obj["dstaddr6"]):
            raise cli_fail(-56, "Empty values are not allowed.")
        if len(obj["name"]) > 35:
            raise fos(-72)
        self._check_refs(vdom, "firewall/policy", obj)

    def _check_system_external_resource(self, vdom, obj, existing):
        types = [t for t, since in RESOURCE_TYPES if since is None or self.version_at_least(since)]
        if obj["type"] not in types:
            raise parse_error(obj["type"])
        if obj["category"] and not 192 <= obj["category"] <= 221:
            raise fos(-650)  # B4: category ids 192-221
        if obj.get("update-method", "feed") == "feed" and not obj["resource"]:
            # B4: a feed needs its URI. unconfirmed in the reference: the code; -56 chosen.
            raise cli_fail(-56, "Empty values are not allowed.")
        obj["source-ip"] = str(_ipv4(obj["source-ip"]))
        if obj["interface-select-method"] == "specify":
            self._check_interface_field(obj, "interface")
        if existing is not None and obj.get("type") != existing.get("type"):
            # A resource used by a policy must stay an address feed.
            if obj["type"] != "address" and self._referrers(vdom, "system/external-resource", obj["name"]):
                raise FosError(500, -23, mkey=obj["name"])

    def _check_system_api_user(self, vdom, obj, existing):
        self._check_refs(vdom, "system/api-user", obj)
        if not obj["accprofile"]:
            raise cli_fail(-56, "Empty values are not allowed.")
        for item in obj["vdom"]:
            if item["name"] not in self.vdoms:
                raise missing_reference("name", item["name"])
        hosts, next_id = [], 1
        for host in obj["trusthost"]:
            host = {"id": host.get("id") or 0, "type": host.get("type", "ipv4-trusthost"),
                    "ipv4-trusthost": host.get("ipv4-trusthost", "0.0.0.0 0.0.0.0"),
                    "ipv6-trusthost": host.get("ipv6-trusthost", "::/0")}
            if host["type"] not in ("ipv4-trusthost", "ipv6-trusthost"):
                raise parse_error(host["type"])
            host["ipv4-trusthost"] = ipv4_classnet(host["ipv4-trusthost"])
            try:
                host["ipv6-trusthost"] = ipaddress.IPv6Network(host["ipv6-trusthost"], strict=False).compressed
            except ValueError:
                raise fos(-8) from None
            hosts.append(host)
        used = {h["id"] for h in hosts if h["id"]}
        for host in hosts:
            if not host["id"]:
                while next_id in used:
                    next_id += 1
                host["id"] = next_id
                used.add(next_id)
        obj["trusthost"] = hosts

    def _check_system_accprofile(self, vdom, obj, existing):
        for group in GROUPS:
            allowed = PERMISSION_VALUES + (("custom",) if group in CUSTOM_GROUPS else ())
            if obj[group] not in allowed:
                raise parse_error(obj[group])

    def _check_refs(self, vdom, key, obj):
        for field, targets in REFERENCES.get(key, {}).items():
            value = obj.get(field)
            names = [i["name"] for i in value] if isinstance(value, list) else ([value] if value else [])
            for name in names:
                if not self._resolves(vdom, field, targets, name):
                    raise missing_reference("name" if isinstance(value, list) else field, name)

    def _resolves(self, vdom, field, targets, name):
        if targets == ("system/interface",) and name == "any":
            return True
        for target in targets:
            store = self._store(TABLES[target], vdom)
            if name in store:
                if target == "system/external-resource" and store[name]["type"] != "address":
                    return False  # only IP-address feeds can be used as policy addresses (B4)
                return True
        return False

    def _referrers(self, vdom, key, mkey):
        found = []
        for source, fields in REFERENCES.items():
            vdoms = [vdom] if TABLES[key].scope == "vdom" else self.vdoms
            stores = ([self.global_tables[source]] if TABLES[source].scope == "global"
                      else [self.vdom_tables[v][source] for v in vdoms])
            for store in stores:
                for other_key, other in store.items():
                    for field, targets in fields.items():
                        if key not in targets:
                            continue
                        value = other.get(field)
                        names = [i["name"] for i in value] if isinstance(value, list) else [value]
                        if mkey in names:
                            found.append((source, other_key, field))
        return found

    def _rename_references(self, vdom, key, old, new):
        for source, other_key, field in self._referrers(vdom, key, old):
            store = self._store(TABLES[source], vdom)
            value = store[other_key][field]
            if isinstance(value, list):
                for item in value:
                    if item["name"] == old:
                        item["name"] = new
            else:
                store[other_key][field] = new
        if key == "system/external-resource" and (vdom, old) in self.resources:
            self.resources[(vdom, new)] = self.resources.pop((vdom, old))

    def _after_write(self, vdom, table, mkey, before, after):
        if table.key != "system/external-resource":
            return
        state_key = (vdom, mkey)
        if after is None:
            self.resources.pop(state_key, None)
            return
        state = self.resources.setdefault(state_key, ResourceState())
        feed_fields = ("resource", "username", "password", "status", "update-method", "type",
                       "server-identity-check", "user-agent", "refresh-rate")
        if before is None or any(before.get(f) != after.get(f) for f in feed_fields):
            state.next_due = 0.0  # a new or changed feed polls at once on the next tick
        if before is not None and before["type"] != after["type"]:
            state.entries = {}

    # -- monitor -------------------------------------------------------------------------------
    def _monitor(self, request, user, vdom, segs):
        action = "/".join(segs)
        method = request.method
        if action == "system/status":
            if method != "GET":
                raise FosError(405)
            results = {"model_name": "FortiGate", "model_number": "VM64", "model": "FGVM64",
                       "hostname": self.name, "log_disk_status": "available",
                       # lab convenience: FortiOS carries these in the envelope only
                       "serial": self.serial, "version": "v" + self.version}
            return Response(200, self._monitor_env(request, vdom, "system", "status", "", results,
                                                   http_status=False))
        if action == "system/external-resource/dynamic" and self.version_at_least("7.2.1"):
            self._require(user, ("sysgrp", "cfg"), True)
            if method != "POST":
                raise FosError(405)
            return self._dynamic(request, vdom)
        if action == "system/external-resource/entry-list":
            self._require(user, ("sysgrp", "cfg"), False)
            if method != "GET":
                raise FosError(405)
            return self._entry_list(request, vdom)
        if action == "system/external-resource/refresh":
            self._require(user, ("sysgrp", "cfg"), True)
            if method != "POST":
                raise FosError(405)
            return self._refresh(request, vdom)
        if action == "system/api-user/generate-key":
            self._require(user, ("sysgrp", "admin"), True)
            if method != "POST":
                raise FosError(405)
            return self._generate_key(request, vdom)
        if action == "firewall/policy-lookup":
            self._require(user, ("fwgrp", "policy"), False)
            if method != "GET":
                raise FosError(405)
            return self._policy_lookup(request, vdom)
        raise FosError(404)  # includes the push API before 7.2.1 (C1: it came in 7.2.1)

    def _resource(self, vdom, name):
        return self.vdom_tables[vdom]["system/external-resource"].get(name)

    def _dynamic(self, request, vdom):
        """C1. Per-command problems (unknown resource, bad command) come back as HTTP 200 with that
        command's status "error". Whole-call failure, chosen by the lab: a body that is not JSON or
        has no usable `commands` list -> HTTP 400 error envelope; when every command failed, HTTP 200
        with the envelope's `status` "error" (results still give each command's error).
        """
        body = self._body(request)
        commands = body.get("commands")
        if not isinstance(commands, list) or not commands or not all(isinstance(c, dict) for c in commands):
            raise FosError(400)
        results = []
        for command in commands:
            results.append(self._apply_command(vdom, command))
        status = "success" if any(r["status"] == "success" for r in results) else "error"
        body = self._monitor_env(request, vdom, "system", "external-resource", "dynamic", results, status=status)
        if not self.switches["push_results"] and status == "success":
            body.pop("results", None)  # issue 11, 15a: a reply without per-command results
        return Response(200, body)

    def _apply_command(self, vdom, command):
        name, verb = command.get("name"), command.get("command")
        result = {"name": name, "command": verb}
        entries = command.get("entries", [])
        # unconfirmed in the reference: the error texts; short messages chosen.
        obj = self._resource(vdom, name) if isinstance(name, str) else None
        if obj is None:
            text = self.switches["push_missing_text"]
            return dict(result, status="error", error=text.format(name=name) if text else "",
                        invalidEntries=[])
        if verb not in ("add", "remove", "snapshot"):
            return dict(result, status="error", error="Invalid command %s." % verb, invalidEntries=[])
        if not isinstance(entries, list):
            return dict(result, status="error", error="Invalid entries.", invalidEntries=[])
        state = self.resources.setdefault((vdom, name), ResourceState())
        valid, invalid = [], []
        for entry in entries:
            if not isinstance(entry, str):
                invalid.append(entry)
                continue
            key, text, ok, span = parse_feed_line(obj["type"], entry)
            if ok:
                valid.append((key, entry.strip() if self.switches["entries_as_written"] else text, span))
            else:
                invalid.append(entry)
        if verb == "snapshot":
            state.entries = {}
        if verb in ("add", "snapshot"):
            for key, text, span in valid:
                state.entries.setdefault(key, [text, True, span, True])
        elif self.switches["remove_matches"] == "value":
            for key, _unused, _unused2 in valid:
                state.entries.pop(key, None)
        else:  # only an entry listed with exactly this text goes
            for key, text, _unused in valid:
                if key in state.entries and state.entries[key][0] == text:
                    del state.entries[key]
        return dict(result, status="success", invalidEntries=invalid)

    def _accepted(self):
        """How many entries of each resource are in force, per the limits of reference D."""
        accepted = {}
        if self.version_at_least("7.4.4"):
            # Global budget for IP entries: VDOMs alphabetically, then table order; the newest
            # entries beyond it are truncated.
            budget = self.ip_entry_limit
            for vdom in sorted(self.vdoms):
                for name, obj in self.vdom_tables[vdom]["system/external-resource"].items():
                    state = self.resources.get((vdom, name))
                    if state is None:
                        continue
                    if obj["type"] != "address":
                        accepted[(vdom, name)] = (len(state.entries), None)
                        continue
                    valid = sum(1 for e in state.entries.values() if e[1])
                    take = min(valid, budget)
                    budget -= take
                    accepted[(vdom, name)] = (take, self.ip_entry_limit)
        else:
            for key, state in self.resources.items():
                accepted[key] = (min(len(state.entries), self.line_limit), self.line_limit)
        return accepted

    def _effective(self, vdom, name, accepted=None):
        """The valid entries of a resource that are in force (limit applied)."""
        state = self.resources.get((vdom, name))
        if state is None:
            return []
        accepted = accepted if accepted is not None else self._accepted()
        take, _unused = accepted.get((vdom, name), (0, None))
        out = []
        if self.version_at_least("7.4.4"):
            for text, ok, span, _pushed in state.entries.values():
                if ok and len(out) < take:
                    out.append(span)
        else:
            for i, (text, ok, span, _pushed) in enumerate(state.entries.values()):
                if i >= take:
                    break
                if ok:
                    out.append(span)
        return out

    def _entry_list_results(self, vdom, name, q):
        obj = self._resource(vdom, name)
        state = self.resources.setdefault((vdom, name), ResourceState())
        accepted = self._accepted()
        take, limit = accepted.get((vdom, name), (0, None))
        # Pushed entries on a feed-mode resource may not be listed (switch pushed_listed_on_feed).
        hide = self._is_feed(obj) and not self.switches["pushed_listed_on_feed"]
        listed = [e for e in state.entries.values() if not (hide and e[3])]
        entries = [{"entry": text, "valid": ok} for text, ok, _unused, _pushed in listed]
        valid_count = sum(1 for e in entries if e["valid"])
        total = valid_count if self.version_at_least("7.4.4") else len(entries)
        if obj["status"] == "disable":
            status = "disable"
        elif obj.get("update-method", "feed") == "push":
            # unconfirmed in the reference: the connection status of a push-only resource.
            status = "na"
        else:
            status = state.status
        results = {"status": status}
        if state.error:
            results.update(error=state.error, error_code=state.error_code)
        results.update({"resource_file_status": "downloaded" if obj.get("update-method") == "push"
                        else state.resource_file_status,
                        "http_status_code": state.http_status_code,
                        "conn_attempt_time": state.conn_attempt_time,
                        "last_conn_success_time": state.last_conn_success_time,
                        "last_content_update_time": state.last_content_update_time})
        if q.get("entry"):
            wanted = parse_entry(q["entry"]) if obj["type"] == "address" else None
            matched = []
            for text, ok, span, _pushed in listed:
                covers = bool(wanted and span and span[0] == wanted[1][0]
                              and span[1] <= wanted[1][1] and wanted[1][2] <= span[2])
                if text == q["entry"].strip() or covers:
                    matched.append({"entry": text, "valid": ok})
            entries = matched
            results.update(matched_valid=sum(1 for e in matched if e["valid"]),
                           matched_invalid=sum(1 for e in matched if not e["valid"]))
        # C2: `entries` is optional; with `error` when the feed cannot be read (switch entries_on_feed_error).
        unreadable = self._is_feed(obj) and state.status == "error" and not self.switches["entries_on_feed_error"]
        if not (as_bool(q.get("status_only", "")) or as_bool(q.get("counts_only", "")) or unreadable):
            start, count = _int(q.get("start"), 0), _int(q.get("count"), 0)
            if start > 0 or count > 0:
                entries = entries[max(start, 0):(max(start, 0) + count) if count > 0 else None]
            results["entries"] = entries
        if not as_bool(q.get("status_only", "")):
            results.update({"valid_count": valid_count, "invalid_count": len(state.entries) - valid_count,
                            "accepted_count": take, "accepted_limit": limit, "overflow": total > take})
        return results

    def _entry_list(self, request, vdom):
        name = request.query.get("mkey")
        if not name:
            raise FosError(424)  # A6: 424 covers a missing required parameter
        if self._resource(vdom, name) is None:
            raise FosError(404)  # unconfirmed in the reference (C2): unknown mkey; 404 chosen
        results = self._entry_list_results(vdom, name, request.query)
        return Response(200, self._monitor_env(request, vdom, "system", "external-resource", "entry-list",
                                               results, http_status=False))

    def _refresh(self, request, vdom):
        body = self._body(request)
        name = body.get("mkey")
        if not name:
            raise FosError(424)
        obj = self._resource(vdom, name)
        if obj is None:
            raise FosError(404)
        state = self.resources.setdefault((vdom, name), ResourceState())
        if as_bool(body.get("check_status_only", False)):
            status = state.refresh_state or ("finished" if state.conn_attempt_time else "pending")
        elif not self._is_feed(obj):
            status = "error"  # unconfirmed in the reference: refresh of a push-only or disabled resource
        else:
            # The poll runs on the next lab tick (every tick_interval, 0.25 s by default): the
            # network call must not happen under the device lock that handle() runs with.
            status = "pending" if state.polling else "start"
            state.next_due = 0.0
            state.refresh_state = "pending"
        results = {"status": status, "last_connection_time": state.conn_attempt_time}
        return Response(200, self._monitor_env(request, vdom, "system", "external-resource", "refresh",
                                               results))

    def _generate_key(self, request, vdom):
        body = self._body(request)
        name = body.get("api-user")
        users = self.global_tables["system/api-user"]
        if name not in users:
            raise FosError(404)  # unconfirmed in the reference: the reply for an unknown api-user
        key = new_api_key()
        users[name]["api-key"] = key  # B6: the new key replaces the old one
        self._bump()
        return Response(200, self._monitor_env(request, vdom, "system", "api-user", "generate-key",
                                               {self.switches["generate_key_field"]: key}))

    # -- policy lookup ---------------------------------------------------------------------------
    def _policy_lookup(self, request, vdom):
        """GET monitor/firewall/policy-lookup: srcintf, sourceip, protocol, dest (required), destport,
        sourceport, ipv6. Reply shape from a public FortiOS sample: results {"success", "policy_id"
        (0 = implicit deny), "destip"}; `policy_action` is a lab addition (the matched policy's action).
        unconfirmed in the reference: bad/missing parameters; 424 chosen (A6 "missing required parameter").
        The lab ignores dstintf (no routing table) and matches addresses, services and schedule.
        """
        q = request.query
        for field in ("srcintf", "sourceip", "protocol", "dest"):
            if not q.get(field):
                raise FosError(424)
        ipv6 = as_bool(q.get("ipv6", "false"))
        try:
            src = ipaddress.ip_address(q["sourceip"])
            dst = ipaddress.ip_address(q["dest"])
        except ValueError:
            raise FosError(424) from None
        if (src.version == 6) != ipv6 or (dst.version == 6) != ipv6:
            raise FosError(424)
        if q["srcintf"] not in self.global_tables["system/interface"]:
            raise FosError(424)
        protocol = {"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132, "icmp6": 58}.get(q["protocol"].lower())
        if protocol is not None and self.switches["policy_lookup_protocol"] == "numbers":
            raise FosError(424)  # real calls send numbers (J); names are not known to work
        if protocol is None:
            protocol = _int(q["protocol"], -1)
            if not 0 <= protocol <= 255:
                raise FosError(424)
        port = _int(q.get("destport"), None)
        tables = self.vdom_tables[vdom]
        accepted = self._accepted()
        match = None
        for policy in tables["firewall/policy"].values():
            if policy["status"] != "enable":
                continue
            if not any(i["name"] in (q["srcintf"], "any") for i in policy["srcintf"]):
                continue
            src_field, dst_field = ("srcaddr6", "dstaddr6") if ipv6 else ("srcaddr", "dstaddr")
            if not self._addr_list_matches(vdom, policy[src_field], src, accepted):
                continue
            if not self._addr_list_matches(vdom, policy[dst_field], dst, accepted):
                continue
            if not any(self._service_matches(tables["firewall.service/custom"].get(s["name"]), protocol, port)
                       for s in policy["service"]):
                continue
            match = policy
            break
        results = {"success": True, "policy_id": match["policyid"] if match else 0,
                   "destip": dst.compressed, "policy_action": match["action"] if match else "deny"}
        # A5: a monitor GET envelope carries `action` ("select" for a plain GET endpoint); no http_status here.
        return Response(200, {"http_method": "GET", "results": results, "vdom": vdom, "path": "firewall",
                              "name": "policy-lookup", "action": "select", "status": "success", **self._tail()})

    def _addr_list_matches(self, vdom, items, ip, accepted):
        return any(self._addr_matches(vdom, item["name"], ip, accepted, set()) for item in items)

    def _addr_matches(self, vdom, name, ip, accepted, seen):
        tables = self.vdom_tables[vdom]
        family = "" if ip.version == 4 else "6"
        address = tables["firewall/address" + family].get(name)
        if address is not None:
            if ip.version == 4:
                if address["type"] == "ipmask":
                    return ip in classnet_network(address["subnet"])
                if address["type"] == "iprange":
                    return (ipaddress.IPv4Address(address["start-ip"]) <= ip
                            <= ipaddress.IPv4Address(address["end-ip"]))
                return False  # fqdn/geography/dynamic...: no DNS or GeoIP in the lab
            if address["type"] == "ipprefix":
                return ip in ipaddress.IPv6Network(address["ip6"], strict=False)
            if address["type"] == "iprange":
                return (ipaddress.IPv6Address(address["start-ip"]) <= ip
                        <= ipaddress.IPv6Address(address["end-ip"]))
            return False
        group = tables["firewall/addrgrp" + family].get(name)
        if group is not None:
            if name in seen:
                return False
            seen = seen | {name}
            hit = any(self._addr_matches(vdom, m["name"], ip, accepted, seen) for m in group["member"])
            if hit and group["exclude"] == "enable":
                hit = not any(self._addr_matches(vdom, m["name"], ip, accepted, seen)
                              for m in group["exclude-member"])
            return hit
        resource = tables["system/external-resource"].get(name)
        if resource is not None and resource["type"] == "address" and resource["status"] == "enable":
            value = int(ip)
            return any(span[0] == ip.version and span[1] <= value <= span[2]
                       for span in self._effective(vdom, name, accepted))
        return False

    @staticmethod
    def _service_matches(service, protocol, port):
        if service is None:
            return False
        if service["protocol"] == "IP":
            return service["protocol-number"] in (0, protocol)
        if service["protocol"] != "TCP/UDP/SCTP":
            return False
        field = {6: "tcp-portrange", 17: "udp-portrange", 132: "sctp-portrange"}.get(protocol)
        if field is None or port is None:
            return False
        for part in service[field].split():
            dst = part.split(":")[0]
            low, _unused, high = dst.partition("-")
            if int(low) <= port <= int(high or low):
                return True
        return False


def _int(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


# -- CMDB filter (A8) ------------------------------------------------------------------------------
FILTER_RE = re.compile(r"^(?P<key>[^=!<>@*]+?)(?P<op>==|!=|=@|!@|=\*|!\*|<=|>=|<|>)(?P<value>.*)$", re.S)


def _split_unescaped(text, sep):
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def match_filter(expression, row):
    """One `filter=` value: comma-separated alternatives (OR); repeating `filter=` gives AND.

    ==/!= are case-sensitive and =*/!* case-insensitive as FNDN's tutorial says (the swagger text
    disagrees: unconfirmed); =@/!@ (contains) are taken as case-insensitive (unconfirmed).
    """
    for alternative in _split_unescaped(expression, ","):
        m = FILTER_RE.match(alternative)
        if m and _match_one(m.group("key"), m.group("op"), m.group("value"), row):
            return True
    return False


def _match_one(key, op, pattern, row):
    if key not in row:
        return op in ("!=", "!*", "!@")
    value = row[key]
    values = ([str(i.get("name", i.get("q_origin_key", ""))) for i in value if isinstance(i, dict)]
              if isinstance(value, list) else [str(value)])
    negate = op.startswith("!")
    if op in ("==", "!="):
        hit = any(v == pattern for v in values)
    elif op in ("=*", "!*"):
        hit = any(v.lower() == pattern.lower() for v in values)
    elif op in ("=@", "!@"):
        hit = any(pattern.lower() in v.lower() for v in values)
    else:
        def compare(v):
            try:
                a, b = float(v), float(pattern)
            except ValueError:
                a, b = v, pattern
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return any(compare(v) for v in values)
    return not hit if negate else hit
