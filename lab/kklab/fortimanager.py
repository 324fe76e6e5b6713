"""FortiManager emulator: JSON-RPC over ``POST /jsonrpc``.

Follows /work/shared/reference/fortinet-api.md sections E (envelope, methods, auth, status codes),
F (admin users and profiles), G (ADOM objects, packages, install, devices, workspace), H (the
``/sys/proxy/json`` proxy) and the samples I10-I15. Managed FortiGates are reached the way a real
FortiManager would reach them over its tunnel: over HTTPS, through their REST API, with their
super_admin API key, verifying their certificate against their serial number.
"""

import base64
import copy
import fnmatch
import hashlib
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import string
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

from . import variants
from .core import Device, Response, parse_version

# -- status codes (E5) ---------------------------------------------------------------------------
MESSAGES = {
    0: "OK",
    -1: "Internal error",
    -2: "Object already exists",
    -3: "Object does not exist",
    -5: "No such command",
    -6: "Invalid url",
    -8: "Invalid parameter",
    -9: "The command is invalid for the selected url",
    -10: "The data is invalid for selected url",
    -11: "No permission for the resource",
    -22: "Login fail",
    -10015: "used",
    -10131: "Object dependency failed",
    -10147: "no write permission",
    -20042: "Device Unreachable",
    -20055: "Workspace is locked by other user",
}

WRITE_METHODS = ("add", "set", "update", "replace", "delete", "unset", "move", "clone")
METHODS = WRITE_METHODS + ("get", "exec")

# Idle lifetime of a JSON-RPC session.
# unconfirmed in the reference: the FMG-side idle timeout; clients commonly assume 15 minutes.
SESSION_IDLE = 15 * 60

UNUSED_V4 = ["255.255.255.255", "255.255.255.255"]
ALLOW_ALL_V4 = ["0.0.0.0", "0.0.0.0"]
UNUSED_V6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"
SLOTS = range(1, 11)


# -- lab switches (docs/lab.md "Fidelity"; variants.py) -----------------------------------------------
def _version_in(low, high):
    def test(device):
        return parse_version(low) <= parse_version(device.version) < parse_version(high)
    return test


SWITCHES = [
    variants.Switch(
        "workspace_unlock_after_install", lambda d: d.version_at_least("7.2.2"), False,
        "An install in a workspace-mode ADOM leaves the ADOM unlocked (the installer's lock is released)",
        "FortiManager 7.2.2+ system global workspace-unlock-after-install (issue 11 item 4)"),
    variants.Switch(
        "install_scope_check", True, False,
        "An install's scope must be within the policy package's installation targets (a device of the package's"
        " scope, directly or through one of its device groups); else JSON-RPC -10",
        "FortiManager install wizard / securityconsole install package (issue 11 item 5)"),
    variants.Switch(
        "system_global_permission", True, False,
        "get /cli/global/system/global answers -11 to an admin whose profile lacks system-setting read",
        "fortinet.fortimanager httpapi check_mode(): 'Skip workspace-mode check due to no permission' (item 6)"),
    variants.Switch(
        "parallel_token_minus11", _version_in("7.4.0", "7.6.2"), lambda d: not _version_in("7.4.0", "7.6.2")(d),
        "An API-key request that overlaps another one in time is refused with -11",
        "FortiManager 7.4.x known issue, fixed in 7.6.2 (issue 11 item 7)"),
    variants.Switch(
        "th_from_profile", True, False,
        "An administrator with th-from-profile / th6-from-profile set logs in through its admin profile's trusted"
        " hosts, not its own (slot 10 of the user then does nothing)",
        "FortiManager CLI system admin user/profile (7.0.3+ attributes; item 11)"),
]
# How long an API-key request is "in flight" for parallel_token_minus11: requests arriving meanwhile collide.
PARALLEL_WINDOW = 0.02

# -- admin users and profiles (F1, F2) -----------------------------------------------------------
# Attribute names of /cli/global/system/admin/user as fortinet.fortimanager 2.15.0 knows them.
USER_FIELDS = frozenset("""
adom adom-access adom-exclude app-filter autoreg-user avatar ca change-password cors-allow-origin
dashboard dashboard-tabs description dev-group email-address ext-auth-accprofile-override
ext-auth-adom-override ext-auth-group-match fingerprint first-name force-password-change fortiai
group hidden ips-filter last-name ldap-server login-max meta-data mobile-number old-password
pager-number password password-expire phone-number policy-block policy-package profileid
radius_server restrict-access restrict-dev-vdom rpc-permit ssh-public-key1 ssh-public-key2
ssh-public-key3 subject tacacs-plus-server th-from-profile th6-from-profile two-factor-auth
use-global-theme user-theme user_type userid web-filter wildcard
""".split()) | {"trusthost%d" % i for i in SLOTS} | {"ipv6_trusthost%d" % i for i in SLOTS}

USER_TYPES = ("local", "radius", "ldap", "tacacs-plus", "pki-auth", "group", "sso", "api")
RPC_PERMITS = ("read-write", "none", "read", "from-profile")
ADOM_ACCESS = ("all", "specify", "exclude", "per-adom-profile")

# Permission attributes of /cli/global/system/admin/profile (none|read|read-write).
PROFILE_PERMS = tuple("""
adom-lock adom-policy-packages adom-switch assignment config-retrieve config-revert
consistency-check deploy-management device-ap device-config device-forticlient device-fortiswitch
device-manager device-op device-policy-package-lock device-profile device-revision-deletion
device-wan-link-load-balance event-management fgd-center-advanced fgd-center-fmw-mgmt
fgd-center-licensing fgd_center global-policy-packages import-policy-packages intf-mapping
log-viewer policy-objects read-passwd realtime-monitor report-viewer set-install-targets
system-setting term-access vpn-manager extension-access fabric-viewer run-report script-access
triage-events update-incidents ips-objects ips-baseline-cfg device-fortiextender ips-lock
policy-ips-attrs device-fwm-profile device-assignment script-run fgd-center-extres device-fabric
device-interface device-log device-route
""".split())
PROFILE_OTHER = frozenset("""
profileid type scope super-user-profile rpc-permit description adom-admin allow-to-install
app-filter change-password datamask datamask-custom-fields datamask-custom-priority datamask-fields
datamask-key datamask-unmasked-time fgt-gui-proxy ips-baseline-ovrd ips-filter protected-objects
web-filter write-passwd-access write-passwd-profiles write-passwd-user-list
""".split()) | {"trusthost%d" % i for i in SLOTS} | {"ipv6_trusthost%d" % i for i in SLOTS}
PERM_LEVEL = {"none": 0, "read": 1, "read-write": 2}

# -- ADOM objects (G1) ---------------------------------------------------------------------------
ADDRESS_FIELDS = frozenset("""
name type subnet start-ip end-ip fqdn country comment color associated-interface allow-routing
uuid dynamic_mapping fabric-object tagging sub-type obj-type cache-ttl macaddr interface wildcard
wildcard-fqdn list node-ip-only obj-id tenant sdn filter route-tag global-object image-base
""".split())
ADDRESS_TYPES = ("ipmask", "iprange", "fqdn", "wildcard", "geography", "wildcard-fqdn", "dynamic",
                 "interface-subnet", "mac", "route-tag")
ADDRGRP_FIELDS = frozenset("""
name member comment color uuid type category exclude exclude-member allow-routing fabric-object
tagging dynamic_mapping global-object
""".split())
EXTRES_FIELDS = frozenset("""
name uuid status type update-method category resource username password comments refresh-rate
user-agent server-identity-check source-ip source-ip-interface interface-select-method interface
dynamic_mapping client-cert-auth client-cert namespace object-array-path address-name-field
address-data-field address-comment-field vrf-select
""".split())
EXTRES_TYPES = ("category", "address", "domain", "malware", "url", "mac-address", "data",
                "generic-address")
POLICY_FIELDS = frozenset("""
policyid name uuid srcintf dstintf srcaddr dstaddr srcaddr6 dstaddr6 service action schedule status
logtraffic logtraffic-start nat comments groups users internet-service global-label
""".split())
OBJ_TABLES = ("firewall/address", "firewall/addrgrp", "system/external-resource")
BUILTIN_ADDRESSES = ("all", "none")

# Numbers that non-verbose GETs return instead of symbols (E1).
# unconfirmed in the reference: the numeric values; only "conn_status 1 = up" is documented (G4).
NUMERIC_ENUMS = {
    "perm": {"none": 0, "read": 1, "read-write": 2},
    "onoff": {"disable": 0, "enable": 1},
    "conn_status": {"UNKNOWN": 0, "up": 1, "down": 2},
    "address_type": {t: i for i, t in enumerate(ADDRESS_TYPES)},
    "action": {"deny": 0, "accept": 1, "ipsec": 2},
}


class RpcError(Exception):
    """A JSON-RPC status for one param."""

    def __init__(self, code, message=None):
        super().__init__(code, message)
        self.code = code
        self.message = message or MESSAGES.get(code, "Error")


class Unreachable(Exception):
    """A FortiGate did not answer (refused, timed out, TLS failed, connection dropped)."""


class Caller:
    """Who sent a JSON-RPC request: an admin, through a session or an API key."""

    def __init__(self, userid, via, sid=None):
        self.userid = userid
        self.via = via
        self.sid = sid
        # Workspace locks belong to the session that took them; an API key has no session.
        self.holder = ("session:%s" % sid) if sid else ("apikey:%s" % userid)


NO_DATA = object()


# -- small helpers ---------------------------------------------------------------------------------
def _norm_url(url):
    return "/".join(s for s in str(url).split("/") if s)


def parse_trusthost(value):
    """An IPv4 trusted host as FMG stores it: ``["a.b.c.d", "m.m.m.m"]``.

    unconfirmed in the reference: FMG documents only the 2-element list on write; the strings
    "a.b.c.d/len" and "a.b.c.d m.m.m.m" are accepted too (fortinet.fortimanager types these
    attributes as strings).
    """
    if isinstance(value, (list, tuple)) and len(value) == 2:
        ip, mask = (str(v).strip() for v in value)
    elif isinstance(value, str) and "/" in value:
        ip, plen = value.strip().split("/", 1)
        mask = str(ipaddress.IPv4Network("0.0.0.0/%d" % int(plen)).netmask)
    elif isinstance(value, str) and len(value.split()) == 2:
        ip, mask = value.split()
    else:
        raise ValueError("not a trusted host: %r" % (value,))
    ipaddress.IPv4Address(ip)
    ipaddress.IPv4Network("0.0.0.0/%s" % mask)  # rejects non-contiguous masks
    return [ip, mask]


def parse_trusthost6(value):
    if not isinstance(value, str) or "/" not in value:
        raise ValueError("not an IPv6 prefix: %r" % (value,))
    net = ipaddress.IPv6Network(value.strip(), strict=False)
    addr = value.strip().split("/", 1)[0]
    ipaddress.IPv6Address(addr)
    return "%s/%d" % (addr.lower(), net.prefixlen)


def trusthost_match(user, ip):
    """The first trusted-host slot that admits ``ip`` for this admin, or None.

    255.255.255.255/255.255.255.255 and ffff:...:ffff/128 are FMG's "unused" values: they match
    nothing. 0.0.0.0/0.0.0.0 and ::/0 match everything (the "allow all" defaults).
    """
    addr = ipaddress.ip_address(ip)
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for i in SLOTS:
        if addr.version == 4:
            key = "trusthost%d" % i
            entry = user.get(key, ALLOW_ALL_V4 if i == 1 else UNUSED_V4)
            if list(entry) == UNUSED_V4:
                continue
            if addr in ipaddress.IPv4Network("%s/%s" % tuple(entry), strict=False):
                return key
        else:
            key = "ipv6_trusthost%d" % i
            entry = user.get(key, "::/0" if i == 1 else UNUSED_V6)
            if entry == UNUSED_V6:
                continue
            if addr in ipaddress.IPv6Network(entry, strict=False):
                return key
    return None


def _mask_secret(value):
    # FMG shows secrets as "ENC <base64>" (F1); derive it from the value so it is stable.
    return "ENC " + base64.b64encode(hashlib.sha256(str(value).encode()).digest()[:24]).decode()


def _names(value, field):
    """A list of names: FMG writes them as a list of strings, a single string, or {"name"} dicts."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise RpcError(-10, "invalid value for %s" % field)
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            item = item["name"]
        if not isinstance(item, str) or not item:
            raise RpcError(-10, "invalid value for %s" % field)
        if item not in out:
            out.append(item)
    return out


def _choice(value, choices, field, numeric=None):
    if numeric and isinstance(value, int) and not isinstance(value, bool):
        for symbol, number in numeric.items():
            if number == value:
                return symbol
    if value not in choices:
        raise RpcError(-10, "invalid value for %s: %r" % (field, value))
    return value


def _onoff(value, field):
    return _choice(value, ("enable", "disable"), field, NUMERIC_ENUMS["onoff"])


def _text(value, field, maxlen):
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > maxlen:
        raise RpcError(-10, "invalid value for %s" % field)
    return value


def _ipv4(value, field):
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise RpcError(-10, "invalid value for %s" % field)


def _match_filter(obj, flt):
    """FMG GET ``filter``: ["key", "op", value...] or [cond, "&&"|"||", cond, ...]."""
    if not flt:
        return True
    if isinstance(flt[0], list):
        result = _match_filter(obj, flt[0])
        i = 1
        while i + 1 < len(flt):
            other = _match_filter(obj, flt[i + 1])
            result = (result and other) if flt[i] == "&&" else (result or other)
            i += 2
        return result
    if len(flt) < 3:
        return True
    key, op, values = flt[0], flt[1], flt[2:]
    negate = op.startswith("!")
    op = op.lstrip("!")
    have = obj.get(key)
    if op == "==":
        ok = any(str(have) == str(v) for v in values)
    elif op == "like":
        ok = any(fnmatch.fnmatchcase(str(have), str(v).replace("%", "*").replace("_", "?")) for v in values)
    elif op == "in":
        flat = values[0] if len(values) == 1 and isinstance(values[0], list) else values
        ok = have in flat or str(have) in [str(v) for v in flat]
    elif op in ("contain", "contains"):
        ok = isinstance(have, list) and any(v in have for v in values)
    else:
        ok = True
    return not ok if negate else ok


class _DeviceHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 while verifying the certificate against the device's serial."""

    def __init__(self, host, port, server_name, context, timeout):
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)
        except Exception:
            sock.close()
            raise


# ===============================================================================================
class FortiManager(Device):
    kind = "fortimanager"

    def __init__(self, lab, name, serial, version, adoms, spec=None):
        super().__init__(lab, name, serial, version)
        self.adom_spec = adoms
        self.spec = spec or {}
        self._tokens_in_flight = 0
        self.proxy_timeouts = []
        self._client_context = None
        # Secrets are fixed for the life of the lab process: reset() keeps them.
        alphabet = string.ascii_lowercase + string.digits
        self.tokens = {u: "".join(secrets.choice(alphabet) for _unused in range(30))
                       for u in ("lab-api", "kk-passiveplus", "kk-nodevmgr", "kk-readonly", "kk-emea-only")}
        self.passwords = {u: "lab-" + secrets.token_urlsafe(9) for u in ("alice", "bob", "carol")}
        self.reset()

    @classmethod
    def from_topology(cls, lab, spec):
        adoms = spec.get("adoms") or {"root": {"workspace": False, "devices": []}}
        for adom, info in adoms.items():
            for dev in info.get("devices", []):
                if dev not in lab.devices:
                    raise ValueError("fortimanager %s: ADOM %s names unknown device %s" % (spec["name"], adom, dev))
            # Seeded device groups: members are devices of the ADOM or other groups of it
            # (FortiManager nests groups; a nested group is a member without a vdom).
            groups = info.get("groups") or {}
            for group, members in groups.items():
                if group == "All_FortiGate":
                    raise ValueError("fortimanager %s: ADOM %s: All_FortiGate is built in" % (spec["name"], adom))
                for member in members:
                    if member not in info.get("devices", []) and member not in groups:
                        raise ValueError("fortimanager %s: group %s/%s names %s, neither a device nor a group"
                                         " of the ADOM" % (spec["name"], adom, group, member))
            for dev in info.get("meta_fields") or {}:
                if dev not in info.get("devices", []):
                    raise ValueError("fortimanager %s: meta fields for %s, not a device of ADOM %s"
                                     % (spec["name"], dev, adom))
        return cls(lab, spec["name"], spec["serial"], spec.get("version", "7.6.2"), adoms, spec)

    # -- seed state ---------------------------------------------------------------------------
    def reset(self):
        self.switches = variants.resolve(SWITCHES, self, self.spec, getattr(self.lab, "topology", None))
        self.proxy_timeouts = []
        self._oid = 3000
        self.sessions = {}
        self.locks = {}
        self.pending = {}
        self.tasks = {}
        self._next_task = 1000
        self._next_lock_sid = 1
        self.profiles = {}
        for profile in self._seed_profiles():
            self.profiles[profile["profileid"]] = profile
        self.users = {}
        for user in self._seed_users():
            self.users[user["userid"]] = user
        self.adoms = {}
        self.db = {}
        for adom, info in self.adom_spec.items():
            self.adoms[adom] = {"name": adom, "oid": self._new_oid(), "workspace": bool(info.get("workspace")),
                                "devices": list(info.get("devices", [])),
                                "meta": {d: dict(info.get("meta_fields", {}).get(d) or {})
                                         for d in info.get("devices", [])}}
            self.db[adom] = self._seed_adom_db(adom)
            for group, members in (info.get("groups") or {}).items():
                self.db[adom]["groups"][group] = {
                    "name": group, "oid": self._new_oid(), "type": "normal", "os_type": "fos", "desc": "",
                    "object member": [{"name": m, "vdom": self._vdoms(m)[0]} if m in self.adoms[adom]["devices"]
                                      else {"name": m} for m in members]}

    def _new_oid(self):
        self._oid += 1
        return self._oid

    def _seed_profiles(self):
        def profile(pid, level, **overrides):
            p = {"profileid": pid, "type": "system", "scope": "global", "super-user-profile": "disable",
                 "rpc-permit": "read-write", "description": ""}
            p.update({perm: level for perm in PROFILE_PERMS})
            p.update(overrides)
            return p
        standard = profile("Standard_User", "read-write", description="Standard user")
        standard.update({"system-setting": "none", "read-passwd": "none", "term-access": "none"})
        passive = profile("knocknoc-passiveplus", "none", description="Knocknoc Passive+ (seed CLI snippet)")
        passive["device-manager"] = "read-write"
        return [
            profile("Super_User", "read-write", **{"super-user-profile": "enable", "description": "Super user"}),
            standard,
            # unconfirmed in the reference: Standard_User / No_Permission_User contents (general FMG knowledge).
            profile("Restricted_User", "none", type="restricted", description="Restricted user"),
            profile("No_Permission_User", "none", description="No permission"),
            passive,
        ]

    def _blank_user(self, userid):
        user = {"userid": userid, "user_type": "local", "profileid": "Restricted_User", "rpc-permit": "none",
                "adom-access": "all", "adom": [], "policy-package": [{"policy-package-name": "all_policy_packages"}],
                "description": "", "email-address": "", "login-max": 32, "two-factor-auth": "disable",
                "change-password": "disable", "wildcard": "disable", "password": None}
        for i in SLOTS:
            user["trusthost%d" % i] = list(ALLOW_ALL_V4 if i == 1 else UNUSED_V4)
            user["ipv6_trusthost%d" % i] = "::/0" if i == 1 else UNUSED_V6
        if self.version_at_least("7.0.3"):
            # 7.0.3+ (fortinet.fortimanager's v_range): 0 = the administrator's own trusted hosts apply.
            user["th-from-profile"] = 0
            user["th6-from-profile"] = 0
        return user

    def _seed_users(self):
        def api(userid, profileid="Super_User", rpc="read-write", **extra):
            u = self._blank_user(userid)
            u.update({"user_type": "api", "profileid": profileid, "rpc-permit": rpc,
                      "trusthost1": ["127.0.0.1", "255.255.255.255"], "_token": self.tokens[userid]})
            u.update(extra)
            return u

        def local(userid, **slots):
            u = self._blank_user(userid)
            u.update({"profileid": "Super_User", "rpc-permit": "read-write", "password": self.passwords[userid]})
            u.update(slots)
            return u

        alice_slots = {"trusthost%d" % i: ["127.0.0.1", "255.255.255.255"] for i in range(1, 10)}
        return [
            api("lab-api", description="lab super admin (API key)"),
            # rpc-permit comes from the profile, as in the seed's CLI snippet.
            api("kk-passiveplus", profileid="knocknoc-passiveplus", rpc="from-profile"),
            api("kk-nodevmgr", profileid="Restricted_User"),
            api("kk-readonly", rpc="read"),
            api("kk-emea-only", **{"adom-access": "specify", "adom": [{"adom-name": "emea"}]}),
            local("alice", **alice_slots),
            local("bob"),  # factory defaults: trusthost1 allows all and masks slot 10
            local("carol", trusthost1=["127.0.0.1", "255.255.255.255"]),
        ]

    def _seed_adom_db(self, adom):
        scope = [{"name": d, "vdom": self._vdoms(d)[0]} for d in self.adoms[adom]["devices"]]
        return {
            "obj": {table: {} for table in OBJ_TABLES},
            "groups": {},
            "pkg": {"default": {"name": "default", "oid": self._new_oid(), "type": "pkg", "obj ver": 1,
                                "scope member": scope,
                                "package settings": {"central-nat": "disable", "ngfw-mode": "profile-based",
                                                     "policy-offload-level": "disable"},
                                "policies": {}}},
        }

    # -- lab plumbing ---------------------------------------------------------------------------
    def describe(self):
        info = super().describe()
        info.update({
            "jsonrpc_url": (self.url or "") + "/jsonrpc",
            "tokens": dict(self.tokens),
            "admin_token": self.tokens["lab-api"],
            "admin_passwords": dict(self.passwords),
            "adoms": list(self.adom_spec),
            "workspace_adoms": [a for a, i in self.adom_spec.items() if i.get("workspace")],
            "devices": {d: {"serial": self.lab.devices[d].serial, "adom": a}
                        for a, i in self.adom_spec.items() for d in i.get("devices", [])},
            "url_key_accepted": not self._url_key_refused() and self.version_at_least("7.2.2"),
        })
        return info

    def dump(self):
        users = {}
        for uid, user in self.users.items():
            users[uid] = {k: v for k, v in user.items() if not k.startswith("_") and k != "password"}
        return {
            "users": users,
            "profiles": copy.deepcopy(self.profiles),
            "adoms": {a: {"workspace": i["workspace"], "devices": i["devices"]} for a, i in self.adoms.items()},
            "db": self._dump_db(self.db),
            "pending": self._dump_db(self.pending),
            "locks": copy.deepcopy(self.locks),
            "sessions": [{"user": s["user"], "ip": s["ip"]} for s in self.sessions.values()],
            "tasks": copy.deepcopy(self.tasks),
            "switches": dict(self.switches),
            "proxy_timeouts": list(self.proxy_timeouts),
        }

    @staticmethod
    def _dump_db(dbs):
        out = {}
        for adom, db in dbs.items():
            pkgs = {}
            for name, pkg in db["pkg"].items():
                meta = {k: v for k, v in pkg.items() if k != "policies"}
                meta["policies"] = [pkg["policies"][k] for k in sorted(pkg["policies"])]
                pkgs[name] = meta
            out[adom] = {"obj": copy.deepcopy(db["obj"]), "groups": copy.deepcopy(db["groups"]), "pkg": pkgs}
        return out

    def control(self, action, method, body):
        body = body or {}
        if action == "switches":
            return variants.control(SWITCHES, self.switches, self, method, body)
        if action == "login-check" and method in ("GET", "POST"):
            user = self.users.get(body.get("user"))
            if user is None:
                raise KeyError("admin user %r" % body.get("user"))
            try:
                slot = self.login_slot(user, body.get("ip"))
            except ValueError:
                raise ValueError("ip must be an IPv4 or IPv6 address")
            return {"allowed": slot is not None, "matched": slot}
        if action == "lock" and method == "POST":
            adom = body.get("adom")
            if adom not in self.adoms or not self.adoms[adom]["workspace"]:
                raise ValueError("%r is not an ADOM in workspace mode" % adom)
            who = body.get("user") or "other-admin"
            holder = "control:%s" % who
            lock = self.locks.get(adom)
            if lock and lock["holder"] != holder:
                raise ValueError("ADOM %s is already locked by %s" % (adom, lock["lock_user"]))
            self._take_lock(adom, who, holder)
            return self._lockinfo(adom)[0]
        if action == "unlock" and method == "POST":
            adom = body.get("adom")
            if adom not in self.adoms:
                raise ValueError("unknown ADOM %r" % adom)
            self._release_lock(adom)
            return {"unlocked": adom}
        if action == "generate-key" and method == "POST":
            # unconfirmed in the reference: whether keys can be generated over JSON-RPC; the lab
            # offers it here, as `execute api-user generate-key <user>` would on the CLI.
            user = self.users.get(body.get("user"))
            if user is None or user.get("user_type") != "api":
                raise ValueError("no API admin %r" % body.get("user"))
            token = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _unused in range(30))
            user["_token"] = token
            self.tokens[user["userid"]] = token
            return {"user": user["userid"], "access_token": token}
        if action == "sessions" and method == "GET":
            return [{"user": s["user"], "ip": s["ip"]} for s in self.sessions.values()]
        raise KeyError(action)

    def tick(self, now):
        with self.lock:
            for sid in [s for s, info in self.sessions.items() if now - info["last"] > SESSION_IDLE]:
                self._end_session(sid)

    def fault_response(self, request, fault):
        if fault.kind == "jsonrpc":
            try:
                body = request.json() or {}
            except ValueError:
                body = {}
            params = body.get("params") if isinstance(body, dict) else None
            params = params if isinstance(params, list) else [params or {}]
            status = {"code": fault.code, "message": fault.message or MESSAGES.get(fault.code, "Error")}
            return Response(200, {"id": body.get("id") if isinstance(body, dict) else None,
                                  "result": [{"status": dict(status), "url": (p or {}).get("url", "")}
                                             for p in params]})
        # A front-end failure comes from the web server, not from the JSON-RPC layer.
        return Response(fault.status, "<html><body><h1>%d</h1></body></html>" % fault.status,
                        content_type="text/html")

    # -- request entry point ----------------------------------------------------------------------
    def handle(self, request):
        if request.path != "/jsonrpc":
            return Response(404, "<html><body><h1>404 Not Found</h1></body></html>", content_type="text/html")
        if request.method != "POST":
            return Response(405, "<html><body><h1>405 Method Not Allowed</h1></body></html>",
                            content_type="text/html")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("params"), (list, dict)):
            # unconfirmed in the reference: FMG's answer to a body that is not a JSON-RPC request.
            req_id = body.get("id") if isinstance(body, dict) else None
            return Response(200, {"id": req_id, "result": [{"status": {"code": -1, "message": "Invalid request"},
                                                            "url": ""}]})
        params = body["params"] if isinstance(body["params"], list) else [body["params"]]
        method = str(body.get("method") or "").lower()
        verbose = bool(body.get("verbose"))
        reply = {"id": body.get("id")}
        url_key_refused = "access_token" in request.query and self._url_key_refused()
        if self.switches["parallel_token_minus11"] and request.bearer_token() is not None:
            if self._tokens_in_flight:
                # FortiManager 7.4.x refuses API-key requests that overlap another one with -11 (fixed in 7.6.2).
                return Response(200, {"id": body.get("id"), "result": [
                    {"status": {"code": -11, "message": MESSAGES[-11]},
                     "url": p.get("url", "") if isinstance(p, dict) else ""} for p in params]})
            self._tokens_in_flight += 1
            try:
                # the key check takes a while without the device lock: a request arriving meanwhile overlaps.
                self._without_lock(lambda: time.sleep(PARALLEL_WINDOW))
            finally:
                self._tokens_in_flight -= 1
        caller = None if url_key_refused else self._authenticate(request, body)
        results = []
        for param in params:
            url = param.get("url", "") if isinstance(param, dict) else ""
            result = {"url": url}
            try:
                if not isinstance(param, dict):
                    raise RpcError(-8)
                norm = _norm_url(url)
                if url_key_refused:
                    raise RpcError(-11)
                if method not in METHODS:
                    raise RpcError(-5)
                if method == "exec" and norm == "sys/login/user":
                    reply["session"] = self._login(param, request)
                    data = NO_DATA
                else:
                    if caller is None:
                        raise RpcError(-11)
                    if self._is_write(method, norm, param):
                        self.count_write()
                        if self._rpc_permit(caller) != "read-write":
                            raise RpcError(-11)
                    data = self._dispatch(method, norm, param, caller, verbose)
                result["status"] = {"code": 0, "message": "OK"}
                if data is not NO_DATA:
                    result["data"] = data
            except RpcError as err:
                result["status"] = {"code": err.code, "message": err.message}
            results.append({"status": result.pop("status"), **result})
        reply["result"] = results
        if "session" not in reply and body.get("session") and caller is not None and caller.sid:
            reply["session"] = body["session"]
        return Response(200, reply)

    # -- authentication ---------------------------------------------------------------------------
    def _url_key_refused(self):
        """``?access_token=`` is refused from 7.4.7 (7.4 train) and 7.6.2 (E4)."""
        v = parse_version(self.version)
        return (v[:2] == (7, 4) and v >= (7, 4, 7)) or v >= (7, 6, 2)

    def _authenticate(self, request, body):
        token = request.bearer_token()
        if token is None and "access_token" in request.query:
            token = request.query["access_token"]
        if token is not None:
            if not self.version_at_least("7.2.2"):
                return None  # API keys exist from FortiManager 7.2.2 (E4)
            return self._caller_for_token(token, request.client_ip)
        sid = body.get("session")
        if isinstance(sid, str) and sid in self.sessions:
            info = self.sessions[sid]
            now = self.lab.clock.now()
            if now - info["last"] > SESSION_IDLE or info["user"] not in self.users:
                self._end_session(sid)
                return None
            info["last"] = now
            return Caller(info["user"], "session", sid)
        # Knocknoc's error table maps -10 to "invalid session"; the reference (E3/E5, FMG-CODES)
        # gives -11 for a stale or invalid session and for a bad API key, so the lab answers -11.
        return None

    def _caller_for_token(self, token, client_ip):
        for user in self.users.values():
            if user.get("user_type") == "api" and user.get("_token") and secrets.compare_digest(user["_token"], token):
                if self.login_slot(user, client_ip) is None:
                    return None  # the API admin's trusted hosts gate key use too
                if self._rpc_permit_of(user) == "none":
                    return None
                return Caller(user["userid"], "apikey")
        return None

    def login_slot(self, user, ip):
        """The trusted host that lets ``user`` log in from ``ip`` (None: refused). With th_from_profile on,
        a family whose th-from-profile / th6-from-profile is set is matched against the admin profile's
        trusted hosts instead of the user's own ("profile <name> trusthostN")."""
        addr = ipaddress.ip_address(ip)
        if addr.version == 6 and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        flag = user.get("th-from-profile" if addr.version == 4 else "th6-from-profile")
        if self.switches["th_from_profile"] and flag not in (None, 0, "0", "disable", False, ""):
            # unconfirmed in the reference: the value's meaning (an int, "Internal use only" in fortinet.fortimanager);
            # the lab reads any non-zero value as "every trusted host of this family comes from the profile".
            profileid = user.get("profileid")
            slot = trusthost_match(self.profiles.get(profileid, {}), str(addr))
            return None if slot is None else "profile %s %s" % (profileid, slot)
        return trusthost_match(user, ip)

    def _login(self, param, request):
        data = param.get("data")
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            raise RpcError(-8)
        user = self.users.get(data.get("user"))
        passwd = data.get("passwd")
        if user is None or user.get("user_type") == "api" or not user.get("password") \
                or not isinstance(passwd, str) or not secrets.compare_digest(user["password"], passwd):
            raise RpcError(-22)
        if self.login_slot(user, request.client_ip) is None:
            # unconfirmed in the reference: the code for a login from outside the trusted hosts;
            # the lab does not tell it apart from a bad password.
            raise RpcError(-22)
        if self._rpc_permit_of(user) == "none":
            raise RpcError(-11)
        sid = base64.b64encode(secrets.token_bytes(48)).decode()
        now = self.lab.clock.now()
        self.sessions[sid] = {"user": user["userid"], "ip": request.client_ip, "start": now, "last": now}
        return sid

    def _end_session(self, sid):
        self.sessions.pop(sid, None)
        # unconfirmed in the reference: a session that ends releases its workspace locks and
        # drops their unsaved changes.
        for adom in [a for a, lock in self.locks.items() if lock["holder"] == "session:%s" % sid]:
            self._release_lock(adom)

    # -- authorisation ----------------------------------------------------------------------------
    def _user(self, caller):
        return self.users[caller.userid]

    def _profile(self, caller):
        return self.profiles.get(self._user(caller).get("profileid"), {})

    def _rpc_permit_of(self, user):
        permit = user.get("rpc-permit", "none")
        if permit == "from-profile":
            permit = self.profiles.get(user.get("profileid"), {}).get("rpc-permit", "none")
        return permit

    def _rpc_permit(self, caller):
        return self._rpc_permit_of(self._user(caller))

    def _is_super(self, caller):
        return self._profile(caller).get("super-user-profile") == "enable"

    def _require(self, caller, fields, write):
        """Any one of ``fields`` at read (or read-write) level in the caller's profile, else -11."""
        if self._is_super(caller):
            return
        need = 2 if write else 1
        profile = self._profile(caller)
        if not any(PERM_LEVEL.get(profile.get(f, "none"), 0) >= need for f in fields):
            raise RpcError(-11)

    def _require_super(self, caller):
        if not self._is_super(caller):
            raise RpcError(-11)

    def _adom_allowed(self, caller, adom):
        user = self._user(caller)
        access = user.get("adom-access", "all")
        names = [a.get("adom-name") if isinstance(a, dict) else a for a in user.get("adom", [])]
        if access == "all" or "all_adoms" in names:
            return True
        if access == "exclude":
            return adom not in names
        return adom in names

    def _require_adom(self, caller, adom):
        if adom not in self.adoms:
            raise RpcError(-6)
        if not self._adom_allowed(caller, adom):
            raise RpcError(-11)

    def _is_write(self, method, norm, param):
        if method in WRITE_METHODS:
            return True
        if method != "exec" or norm in ("sys/login/user", "sys/logout"):
            return False
        if norm == "sys/proxy/json":
            data = param.get("data")
            if isinstance(data, list) and data:
                data = data[0]
            action = str((data or {}).get("action", "")).lower() if isinstance(data, dict) else ""
            return action != "get"
        return True

    # -- workspace (G5) ---------------------------------------------------------------------------
    def _adom_db(self, adom, caller, write):
        """The ADOM database this caller sees: the pending copy while it holds the workspace lock."""
        if not self.adoms[adom]["workspace"]:
            return self.db[adom]
        lock = self.locks.get(adom)
        mine = lock is not None and lock["holder"] == caller.holder
        if write:
            if not mine:
                raise RpcError(-10147)
            if adom not in self.pending:
                self.pending[adom] = copy.deepcopy(self.db[adom])
            return self.pending[adom]
        if mine and adom in self.pending:
            return self.pending[adom]
        return self.db[adom]

    def _dirty(self, adom):
        if adom in self.locks:
            self.locks[adom]["dirty"] = 1

    def _take_lock(self, adom, userid, holder):
        if adom in self.locks and self.locks[adom]["holder"] == holder:
            return
        self.locks[adom] = {"lock_user": userid, "holder": holder, "lock_sid": self._next_lock_sid,
                            "lock_time": int(self.lab.clock.now()), "dirty": 0}
        self._next_lock_sid += 1

    def _release_lock(self, adom):
        # unconfirmed in the reference: unlocking without a commit discards the unsaved changes.
        self.locks.pop(adom, None)
        self.pending.pop(adom, None)

    def _lockinfo(self, adom):
        lock = self.locks.get(adom)
        if not lock:
            return None
        return [{"lock_user": lock["lock_user"], "lock_sid": lock["lock_sid"], "lock_time": lock["lock_time"],
                 "dirty": lock["dirty"], "adom_dirty": lock["dirty"], "type": "adom",
                 "obj_url": "/dvmdb/adom/%s" % adom}]

    def _workspace(self, method, param, caller, adom, rest):
        action = rest[0] if rest else ""
        self._require_adom(caller, adom)
        if action in ("lockinfo", "dirty"):
            if method != "get":
                raise RpcError(-5)
            if not self.adoms[adom]["workspace"]:
                raise RpcError(-9)
            if action == "dirty":
                lock = self.locks.get(adom)
                return {"dirty": lock["dirty"] if lock else 0}
            info = self._lockinfo(adom)
            return NO_DATA if info is None else info
        if action not in ("lock", "commit", "unlock"):
            raise RpcError(-6)
        if len(rest) > 1:
            raise RpcError(-6)  # not modelled: package/object/device-level locks
        if method != "exec":
            raise RpcError(-5)
        # unconfirmed in the reference: which profile permission gates ADOM locking; F2's
        # `adom-lock` is the one named for it.
        self._require(caller, ["adom-lock"], write=True)
        if not self.adoms[adom]["workspace"]:
            raise RpcError(-9)
        lock = self.locks.get(adom)
        mine = lock is not None and lock["holder"] == caller.holder
        if action == "lock":
            if lock and not mine:
                raise RpcError(-20055)
            self._take_lock(adom, caller.userid, caller.holder)
        elif action == "commit":
            if not mine:
                # unconfirmed in the reference: the code for committing without holding the lock.
                raise RpcError(-10147)
            if adom in self.pending:
                self.db[adom] = self.pending.pop(adom)
            lock["dirty"] = 0
        else:
            if lock and not mine:
                raise RpcError(-20055)
            self._release_lock(adom)
        return NO_DATA

    # -- dispatch ---------------------------------------------------------------------------------
    def _dispatch(self, method, norm, param, caller, verbose):
        s = norm.split("/") if norm else []
        if s in (["sys", "status"], ["cli", "global", "system", "status"]):
            if method != "get":
                raise RpcError(-5)
            return self._sys_status()
        if norm == "sys/logout":
            if method != "exec":
                raise RpcError(-5)
            if caller.sid:
                self._end_session(caller.sid)
            return NO_DATA
        if s == ["cli", "global", "system", "global"]:
            if method != "get":
                raise RpcError(-5)  # not modelled: changing system settings
            if self.switches["system_global_permission"]:
                self._require(caller, ["system-setting"], write=False)
            return self._select_one(self._render(self._system_global(), verbose), param)
        if s[:4] == ["cli", "global", "system", "admin"] and len(s) >= 5 and s[4] == "user":
            return self._admin_user(method, param, caller, s[5:], verbose)
        if s[:4] == ["cli", "global", "system", "admin"] and len(s) >= 5 and s[4] == "profile":
            return self._admin_profile(method, param, caller, s[5:], verbose)
        if s[:2] == ["dvmdb", "adom"]:
            if len(s) == 2:
                if method != "get":
                    raise RpcError(-5)
                adoms = [self._adom_out(a) for a in self.adoms if self._adom_allowed(caller, a)]
                return self._select([self._render(a, verbose) for a in adoms], param, "name")
            adom = s[2]
            self._require_adom(caller, adom)
            rest = s[3:]
            if not rest:
                if method != "get":
                    raise RpcError(-5)
                return self._select_one(self._render(self._adom_out(adom), verbose), param)
            if rest[0] == "device":
                return self._devices(method, param, caller, [adom], rest[1:], verbose)
            if rest[0] == "group":
                return self._groups(method, param, caller, adom, rest[1:], verbose)
            if rest[0] == "workspace":
                return self._workspace(method, param, caller, adom, rest[1:])
            raise RpcError(-6)
        if s[:2] == ["dvmdb", "device"]:
            adoms = [a for a in self.adoms if self._adom_allowed(caller, a)]
            if len(s) > 2 and not any(s[2] in self.adoms[a]["devices"] for a in adoms):
                if any(s[2] in i["devices"] for i in self.adoms.values()):
                    raise RpcError(-11)
            return self._devices(method, param, caller, adoms, s[2:], verbose)
        if s[:3] == ["pm", "config", "adom"] and len(s) >= 5:
            adom = s[3]
            self._require_adom(caller, adom)
            if s[4] == "obj":
                return self._objects(method, param, caller, adom, s[5:], verbose)
            if s[4] == "pkg":
                return self._policies(method, param, caller, adom, s[5:], verbose)
            if s[4] == "workspace":
                return self._workspace(method, param, caller, adom, s[5:])
            raise RpcError(-6)
        if s[:3] == ["pm", "pkg", "adom"] and len(s) >= 4:
            adom = s[3]
            self._require_adom(caller, adom)
            return self._packages(method, param, caller, adom, s[4:], verbose)
        if s == ["securityconsole", "install", "package"]:
            if method != "exec":
                raise RpcError(-5)
            return self._install(param, caller)
        if s[:2] == ["task", "task"]:
            if method != "get":
                raise RpcError(-5)
            return self._task(param, s[2:])
        if s == ["sys", "proxy", "json"]:
            if method != "exec":
                raise RpcError(-5)  # e.g. `get` on /sys/proxy/json (H1)
            return self._proxy(param, caller)
        raise RpcError(-6)

    # -- rendering --------------------------------------------------------------------------------
    def _render(self, obj, verbose, enums=None):
        """Copy for a GET reply: symbols with ``verbose: 1``, numbers without (E1)."""
        obj = copy.deepcopy(obj)
        if verbose or not isinstance(obj, dict):
            return obj
        enums = enums or {}
        for key, value in obj.items():
            if key in enums and value in NUMERIC_ENUMS[enums[key]]:
                obj[key] = NUMERIC_ENUMS[enums[key]][value]
            elif key in PERM_LEVEL or key in PROFILE_PERMS:
                obj[key] = NUMERIC_ENUMS["perm"].get(value, value)
            elif value in ("enable", "disable"):
                obj[key] = NUMERIC_ENUMS["onoff"][value]
        return obj

    @staticmethod
    def _select(items, param, key):
        """A table GET: ``filter``, ``range`` and ``fields`` options (E1)."""
        flt = param.get("filter")
        if flt:
            items = [i for i in items if _match_filter(i, flt)]
        rng = param.get("range")
        if isinstance(rng, list) and len(rng) == 2:
            items = items[int(rng[0]):int(rng[0]) + int(rng[1])]
        fields = param.get("fields")
        if isinstance(fields, list) and fields:
            flat = [f for f in fields if isinstance(f, str)]
            items = [{k: v for k, v in i.items() if k in flat or k in (key, "oid")} for i in items]
        return items

    @staticmethod
    def _select_one(item, param):
        fields = param.get("fields")
        if isinstance(fields, list) and fields:
            return {k: v for k, v in item.items() if k in fields or k in ("oid", "name", "userid", "profileid")}
        return item

    @staticmethod
    def _data(param):
        data = param.get("data")
        if data is None:
            raise RpcError(-10, "data is required")
        return data

    # -- /sys/status and system global ------------------------------------------------------------
    def _sys_status(self):
        major, minor, patch = (list(parse_version(self.version)) + [0, 0, 0])[:3]
        build = 3000 + major * 100 + minor * 10 + patch
        return {
            "Admin Domain Configuration": "Enabled", "BIOS version": "04000002", "Branch Point": str(build),
            "Build": build, "Current Time": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(self.lab.clock.now())),
            "Daylight Time Saving": "Yes", "FIPS Mode": "Disabled", "HA Mode": "Stand Alone",
            "Hostname": self.name, "License Status": "Valid", "Major": major, "Minor": minor, "Patch": patch,
            "Max Number of Admin Domains": 10000, "Max Number of Device Groups": 10000,
            "Offline Mode": "Disabled", "Platform Full Name": "FortiManager-VM64", "Platform Type": "FMG-VM64",
            "Release Version Information": " (GA)", "Serial Number": self.serial, "Time Zone": "(GMT) UTC",
            "Version": "v%d.%d.%d-build%04d 241219 (GA)" % (major, minor, patch, build),
            "x86-64 Applications": "Yes",
        }

    def _system_global(self):
        any_ws = any(a["workspace"] for a in self.adoms.values())
        # unconfirmed in the reference: "disabled" as the off value of workspace-mode (G5).
        return {"adom-status": "enable", "adom-mode": "normal", "hostname": self.name,
                "workspace-mode": "per-adom" if any_ws else "disabled", "timezone": "00"}

    # -- admin users (F1) -------------------------------------------------------------------------
    def _user_out(self, user):
        out = {k: copy.deepcopy(v) for k, v in user.items() if not k.startswith("_")}
        if out.get("password"):
            out["password"] = _mask_secret(out["password"])
        else:
            out.pop("password", None)
        return out

    def _admin_user(self, method, param, caller, rest, verbose):
        if len(rest) > 1:
            raise RpcError(-6)
        name = rest[0] if rest else None
        if method == "get":
            self._require(caller, ["system-setting"], write=False)
            if name is not None:
                if name not in self.users:
                    # The reference's E5 says -3 for a missing object, but Knocknoc's agent reads -2
                    # for a missing admin (error 202051); the lab answers what Knocknoc sees.
                    raise RpcError(-2, "Object does not exist")
                return self._select_one(self._render(self._user_out(self.users[name]), verbose), param)
            users = [self._render(self._user_out(u), verbose) for u in self.users.values()]
            return self._select(users, param, "userid")
        if method not in ("add", "set", "update", "replace", "delete"):
            raise RpcError(-5)
        # Only Super_User may change administrators (Knocknoc trusted-host mode, F1).
        self._require_super(caller)
        if method == "delete":
            if name is None:
                data = param.get("data")
                name = data.get("userid") if isinstance(data, dict) else None
            if name not in self.users:
                raise RpcError(-2, "Object does not exist")  # see the get branch on -2 vs -3
            del self.users[name]
            for sid in [s for s, i in self.sessions.items() if i["user"] == name]:
                self._end_session(sid)
            return NO_DATA
        data = self._data(param)
        if not isinstance(data, dict):
            raise RpcError(-10)
        userid = data.get("userid", name)
        if name is not None and userid != name:
            raise RpcError(-10, "userid does not match the url")
        if not isinstance(userid, str) or not userid or len(userid) > 35:
            raise RpcError(-10, "invalid userid")
        existing = self.users.get(userid)
        if method == "add" and existing is not None:
            raise RpcError(-2)
        if method in ("update", "replace") and existing is None:
            # fortinet.fortimanager's "update creates a missing admin" (reference J) comes from its
            # own fallback: a failed get makes it send `set` (napi.py process_crud). `update` itself
            # answers the not-found status Knocknoc expects (-2, see the get branch).
            raise RpcError(-2, "Object does not exist")
        base = copy.deepcopy(existing) if existing is not None else self._blank_user(userid)
        user = self._apply_user(base, data)
        self.users[userid] = user
        return {"userid": userid}

    def _apply_user(self, user, data):
        unknown = set(data) - USER_FIELDS
        if unknown:
            raise RpcError(-10, "unknown attribute: %s" % ", ".join(sorted(unknown)))
        for key, value in data.items():
            if key == "userid":
                continue
            if key.startswith("trusthost"):
                try:
                    user[key] = parse_trusthost(value)
                except (ValueError, TypeError):
                    raise RpcError(-10, "invalid value for %s" % key)
            elif key.startswith("ipv6_trusthost"):
                try:
                    user[key] = parse_trusthost6(value)
                except (ValueError, TypeError):
                    raise RpcError(-10, "invalid value for %s" % key)
            elif key == "password":
                if isinstance(value, list) and value:
                    value = value[0]
                if not isinstance(value, str) or value.startswith("ENC "):
                    raise RpcError(-10, "invalid value for password")
                user["password"] = value
            elif key == "profileid":
                if value not in self.profiles:
                    raise RpcError(-10131, "datasrc invalid. object: system admin user profileid. detail: %s" % value)
                user[key] = value
            elif key == "rpc-permit":
                user[key] = _choice(value, RPC_PERMITS, key)
            elif key == "user_type":
                user[key] = _choice(value, USER_TYPES, key)
            elif key == "adom-access":
                user[key] = _choice(value, ADOM_ACCESS, key)
            elif key == "adom":
                items = value if isinstance(value, list) else [value]
                adoms = []
                for item in items:
                    adom = item.get("adom-name") if isinstance(item, dict) else item
                    if adom != "all_adoms" and adom not in self.adoms:
                        raise RpcError(-10131, "datasrc invalid. object: system admin user adom. detail: %s" % adom)
                    adoms.append({"adom-name": adom})
                user[key] = adoms
            else:
                user[key] = copy.deepcopy(value)
        return user

    # -- admin profiles (F2) ----------------------------------------------------------------------
    def _admin_profile(self, method, param, caller, rest, verbose):
        if len(rest) > 1:
            raise RpcError(-6)
        name = rest[0] if rest else None
        if method == "get":
            self._require(caller, ["system-setting"], write=False)
            if name is not None:
                if name not in self.profiles:
                    raise RpcError(-3)
                return self._select_one(self._render(self.profiles[name], verbose), param)
            return self._select([self._render(p, verbose) for p in self.profiles.values()], param, "profileid")
        if method not in ("add", "set", "update", "replace", "delete"):
            raise RpcError(-5)
        # unconfirmed in the reference: who may change profiles; the lab asks for Super_User.
        self._require_super(caller)
        if method == "delete":
            if name not in self.profiles:
                raise RpcError(-3)
            if any(u.get("profileid") == name for u in self.users.values()):
                raise RpcError(-10015)
            del self.profiles[name]
            return NO_DATA
        data = self._data(param)
        if not isinstance(data, dict):
            raise RpcError(-10)
        pid = data.get("profileid", name)
        if name is not None and pid != name:
            raise RpcError(-10, "profileid does not match the url")
        if not isinstance(pid, str) or not pid or len(pid) > 35:
            raise RpcError(-10, "invalid profileid")
        existing = self.profiles.get(pid)
        if method == "add" and existing is not None:
            raise RpcError(-2)
        if method in ("update", "replace") and existing is None:
            raise RpcError(-3)
        profile = copy.deepcopy(existing) if existing else {
            "profileid": pid, "type": "system", "scope": "global", "super-user-profile": "disable",
            "rpc-permit": "read-write", "description": "", **{p: "none" for p in PROFILE_PERMS}}
        unknown = set(data) - set(PROFILE_PERMS) - PROFILE_OTHER
        if unknown:
            raise RpcError(-10, "unknown attribute: %s" % ", ".join(sorted(unknown)))
        for key, value in data.items():
            if key in PROFILE_PERMS:
                profile[key] = _choice(value, tuple(PERM_LEVEL), key, NUMERIC_ENUMS["perm"])
            elif key == "rpc-permit":
                profile[key] = _choice(value, ("read-write", "none", "read"), key)
            elif key == "super-user-profile":
                profile[key] = _onoff(value, key)
            elif key == "type":
                profile[key] = _choice(value, ("system", "restricted"), key)
            elif key == "scope":
                profile[key] = _choice(value, ("global", "adom"), key)
            else:
                profile[key] = copy.deepcopy(value)
        self.profiles[pid] = profile
        return {"profileid": pid}

    # -- ADOMs, devices, groups (G4) --------------------------------------------------------------
    def _vdoms(self, devname):
        dev = self.lab.devices[devname]
        # The attribute, not describe(): describe() renders the device's certificate, and the
        # device and group listings of a 200-FortiGate ADOM ask for every device's VDOMs.
        vdoms = getattr(dev, "vdoms", None)
        if vdoms is None:
            try:
                vdoms = dev.describe().get("vdoms")
            except Exception:
                vdoms = None
        return list(vdoms or ["root"])

    def _adom_out(self, adom):
        info = self.adoms[adom]
        major, minor = (list(parse_version(self.version)) + [0, 0])[:2]
        return {"name": adom, "oid": info["oid"], "desc": "", "os_ver": "%d.0" % major, "mr": minor,
                "restricted_prds": "fos", "state": 1, "mode": "gms",
                # unconfirmed in the reference: the name of the per-ADOM workspace attribute.
                "workspace_mode": 1 if info["workspace"] else 0}

    def _device_out(self, devname, adom, verbose, option=()):
        dev = self.lab.devices[devname]
        major, minor, patch = (list(parse_version(dev.version)) + [0, 0, 0])[:3]
        oid = 100 + list(self.lab.devices).index(devname)
        out = {
            "name": devname, "oid": oid, "sn": dev.serial, "hostname": devname,
            "ip": urllib.parse.urlsplit(dev.url).hostname if dev.url else "",
            "os_type": "fos", "os_ver": "%d.0" % major if verbose else major, "mr": minor, "patch": patch,
            "build": getattr(dev, "build", 0) or 0, "platform_str": "FortiGate-VM64",
            "conn_status": self._conn_status(dev), "conn_mode": "passive", "mgmt_mode": "fmg", "ha_mode": "standalone",
            "adm_usr": "admin", "desc": "", "adom": adom,
            "vdom": [{"name": v, "oid": oid * 10 + i, "devid": devname} for i, v in enumerate(self._vdoms(devname))],
        }
        if "no loadsub" in option:
            del out["vdom"]  # sub-tables are left out with "no loadsub" (HOWTO 007, "get all managed devices")
        out = self._render(out, verbose, {"conn_status": "conn_status"})
        if "get meta" in option:
            # Meta fields come only with the "get meta" option (HOWTO 007, "get device meta fields").
            out["meta fields"] = dict(self.adoms[adom]["meta"].get(devname, {}))
        return out

    @staticmethod
    def _conn_status(dev):
        # A FortiGate whose connections are being dropped (or that shows the wrong certificate)
        # looks down to its manager, as a broken tunnel would.
        broken = any(f.kind in ("drop", "wrong_cert") and f.match is None for f in list(dev.faults))
        return "down" if broken or not dev.url else "up"

    def _find_device(self, key, adoms):
        """A managed device by name, or by serial number (see _resolve_targets)."""
        for adom in adoms:
            for devname in self.adoms[adom]["devices"]:
                if devname == key or self.lab.devices[devname].serial == key:
                    return devname, adom
        return None, None

    def _devices(self, method, param, caller, adoms, rest, verbose):
        option = param.get("option") or []
        option = [option] if isinstance(option, str) else list(option)
        if param.get("loadsub") in (0, "0", False):
            option.append("no loadsub")
        if method in ("set", "update") and len(rest) == 1:
            return self._device_meta_write(param, caller, adoms, rest[0])
        if method != "get":
            raise RpcError(-5)  # not modelled: adding/removing managed devices
        self._require(caller, ["device-manager", "device-config"], write=False)
        if len(rest) > 1:
            raise RpcError(-6)
        if rest:
            devname, adom = self._find_device(rest[0], adoms)
            if devname is None or devname != rest[0]:
                raise RpcError(-3)
            return self._select_one(self._device_out(devname, adom, verbose, option), param)
        items = [self._device_out(d, a, verbose, option) for a in adoms for d in self.adoms[a]["devices"]]
        return self._select(items, param, "name")

    def _device_meta_write(self, param, caller, adoms, name):
        """``set``/``update`` of a device's ``meta fields`` (HOWTO 023 "How to set a device Meta-field").

        Only meta fields are modelled; any other device attribute is refused with -10.
        unconfirmed in the reference: whether FortiManager refuses a value for a meta field that
        /dvmdb/_meta_fields/device does not define; the lab accepts any name.
        """
        self._require(caller, ["device-manager", "device-config"], write=True)
        devname, adom = self._find_device(name, adoms)
        if devname is None or devname != name:
            raise RpcError(-3)
        data = self._data(param)
        if not isinstance(data, dict) or set(data) - {"name", "meta fields"} or data.get("name", name) != name:
            raise RpcError(-10, "only meta fields can be changed on a device in the lab")
        meta = data.get("meta fields") or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise RpcError(-10, "meta fields must map names to strings")
        self.adoms[adom]["meta"].setdefault(devname, {}).update(meta)
        self.count_write()
        return {"name": devname}

    def _all_fortigate(self, adom):
        return {"name": "All_FortiGate", "oid": self.adoms[adom]["oid"] + 1, "type": "default",
                "os_type": "fos", "desc": "All FortiGate devices of the ADOM",
                "object member": [{"name": d, "vdom": self._vdoms(d)[0]} for d in self.adoms[adom]["devices"]]}

    def _group_members(self, adom, group, db, seen=None):
        """The devices of a group, nested groups expanded (None: no such group)."""
        if group == "All_FortiGate":
            return list(self.adoms[adom]["devices"])
        grp = db["groups"].get(group)
        if grp is None:
            return None
        seen = (seen or set()) | {group}
        devices = []
        for member in grp["object member"]:
            if "vdom" in member or member["name"] in self.adoms[adom]["devices"]:
                names = [member["name"]]
            elif member["name"] in seen:
                names = []  # a loop of groups adds nothing new
            else:
                names = self._group_members(adom, member["name"], db, seen) or []
            devices.extend(n for n in names if n not in devices)
        return devices

    def _groups(self, method, param, caller, adom, rest, verbose):
        write = method != "get"
        self._require(caller, ["device-manager", "device-config"], write)
        if len(rest) > 2 or (len(rest) == 2 and rest[1] != "object member"):
            raise RpcError(-6)
        db = self._adom_db(adom, caller, write)
        name = rest[0] if rest else None
        member_url = len(rest) == 2
        option = param.get("option") or []
        option = [option] if isinstance(option, str) else option

        def out(group):
            g = copy.deepcopy(group)
            if "object member" not in option and not member_url:
                g.pop("object member", None)
            return self._render(g, verbose)

        groups = {"All_FortiGate": self._all_fortigate(adom)}
        groups.update(db["groups"])
        if method == "get":
            if name is None:
                items = self._select([out(g) for g in groups.values()], param, "name")
                if "object member" in option:
                    # a sub-table asked for by option comes with the fields asked for (HOWTO "Device Management")
                    for item in items:
                        item["object member"] = copy.deepcopy(groups[item["name"]]["object member"])
                return items
            if name not in groups:
                raise RpcError(-3)
            if member_url:
                return copy.deepcopy(groups[name]["object member"])
            return self._select_one(out(groups[name]), param)
        if name == "All_FortiGate":
            # unconfirmed in the reference: the code for changing the default group.
            raise RpcError(-10, "the default group cannot be changed")
        if member_url:
            if name not in db["groups"]:
                raise RpcError(-3)
            if method not in ("add", "delete", "set", "update"):
                raise RpcError(-5)
            data = self._data(param)
            items = data if isinstance(data, list) else [data]
            members = []
            for item in items:
                dev = item.get("name") if isinstance(item, dict) else item
                if dev not in self.adoms[adom]["devices"]:
                    raise RpcError(-3, "device %s is not in ADOM %s" % (dev, adom))
                vdom = item.get("vdom", self._vdoms(dev)[0]) if isinstance(item, dict) else self._vdoms(dev)[0]
                members.append({"name": dev, "vdom": vdom})
            current = db["groups"][name]["object member"]
            if method == "delete":
                drop = {m["name"] for m in members}
                db["groups"][name]["object member"] = [m for m in current if m["name"] not in drop]
            elif method == "add":
                have = {m["name"] for m in current}
                current.extend(m for m in members if m["name"] not in have)
            else:
                db["groups"][name]["object member"] = members
            self._dirty(adom)
            return NO_DATA
        if method == "delete":
            if name not in db["groups"]:
                raise RpcError(-3)
            del db["groups"][name]
            self._dirty(adom)
            return NO_DATA
        if method not in ("add", "set", "update", "replace"):
            raise RpcError(-5)
        data = self._data(param)
        if not isinstance(data, dict):
            raise RpcError(-10)
        gname = data.get("name", name)
        if not isinstance(gname, str) or not gname or (name is not None and gname != name):
            raise RpcError(-10, "invalid group name")
        existing = groups.get(gname)
        if method == "add" and existing is not None:
            raise RpcError(-2)
        if method in ("update", "replace") and existing is None:
            raise RpcError(-3)
        group = copy.deepcopy(existing) if existing else {"name": gname, "oid": self._new_oid(), "type": "normal",
                                                          "os_type": "fos", "desc": "", "object member": []}
        for key, value in data.items():
            if key in ("name", "oid"):
                continue
            if key == "desc":
                group[key] = _text(value, key, 255)
            elif key == "object member":
                items = value if isinstance(value, list) else [value]
                members = []
                for item in items:
                    dev = item.get("name") if isinstance(item, dict) else item
                    if dev not in self.adoms[adom]["devices"]:
                        raise RpcError(-3, "device %s is not in ADOM %s" % (dev, adom))
                    members.append({"name": dev, "vdom": (item.get("vdom") if isinstance(item, dict) else None)
                                    or self._vdoms(dev)[0]})
                group[key] = members
            elif key in ("os_type", "type", "meta fields"):
                group[key] = value
            else:
                raise RpcError(-10, "unknown attribute: %s" % key)
        db["groups"][gname] = group
        self._dirty(adom)
        return {"name": gname}

    # -- ADOM objects (G1) ------------------------------------------------------------------------
    def _objects(self, method, param, caller, adom, rest, verbose):
        if len(rest) < 2:
            raise RpcError(-6)
        table = rest[0] + "/" + rest[1]
        if table not in OBJ_TABLES:
            raise RpcError(-6)
        name = rest[2] if len(rest) > 2 else None
        sub = rest[3] if len(rest) > 3 else None
        if len(rest) > 4 or (sub is not None and not (table == "firewall/addrgrp" and sub == "member")):
            raise RpcError(-6)
        write = method != "get"
        self._require(caller, ["policy-objects"], write)
        db = self._adom_db(adom, caller, write)
        objs = db["obj"][table]
        enums = {"type": "address_type"} if table == "firewall/address" else {}

        def out(obj):
            o = copy.deepcopy(obj)
            if o.get("password"):
                o["password"] = _mask_secret(o["password"])
            return self._render(o, verbose, enums)

        if method == "get":
            if name is None:
                return self._select([out(o) for o in objs.values()], param, "name")
            if name not in objs:
                raise RpcError(-3)
            if sub:
                return list(objs[name]["member"])
            return self._select_one(out(objs[name]), param)
        if sub:
            return self._member_write(method, param, adom, db, name)
        if method == "delete":
            if name is None:
                raise RpcError(-8)  # not modelled: deleting a whole table
            if name not in objs:
                raise RpcError(-3)
            refs = self._references(db, name)
            if refs:
                raise RpcError(-10015, "used (%s)" % ", ".join(refs))
            del objs[name]
            self._dirty(adom)
            return NO_DATA
        if method == "unset":
            if name not in objs:
                raise RpcError(-3)
            attrs = param.get("data") or []
            attrs = [attrs] if isinstance(attrs, str) else attrs
            obj = copy.deepcopy(objs[name])
            for attr in attrs:
                if attr in ("member", "exclude-member", "dynamic_mapping"):
                    obj[attr] = []
                elif attr in ("comment", "comments"):
                    obj[attr] = ""
                else:
                    raise RpcError(-10, "cannot unset %s" % attr)
            objs[name] = obj
            self._dirty(adom)
            return NO_DATA
        if method not in ("add", "set", "update", "replace"):
            raise RpcError(-5)
        data = self._data(param)
        items = data if isinstance(data, list) else [data]
        if len(items) > 1 and name is not None:
            raise RpcError(-10)
        # Validate every item before changing anything: a rejected request leaves no trace.
        staged = copy.deepcopy(objs)
        keys = []
        for item in items:
            if not isinstance(item, dict):
                raise RpcError(-10)
            key = item.get("name", name)
            if not isinstance(key, str) or not key or (name is not None and key != name):
                raise RpcError(-10, "invalid name")
            existing = staged.get(key)
            if method == "add" and existing is not None:
                raise RpcError(-2)
            if method in ("update", "replace") and existing is None:
                raise RpcError(-3)
            for other in OBJ_TABLES:
                if other != table and key in db["obj"][other]:
                    # FortiOS refuses one name for an address and a group (-163); FMG's code for
                    # it is unconfirmed in the reference.
                    raise RpcError(-10, "name %s is used by %s" % (key, other))
            view = {"obj": dict(db["obj"], **{table: staged}), "pkg": db["pkg"]}
            obj = self._normalise(table, item, existing, method == "replace", view)
            staged[key] = obj
            keys.append(key)
        db["obj"][table] = staged
        self._dirty(adom)
        if len(keys) == 1:
            return {"name": keys[0]}
        return [{"name": k} for k in keys]

    def _member_write(self, method, param, adom, db, name):
        groups = db["obj"]["firewall/addrgrp"]
        if name not in groups:
            raise RpcError(-3)
        group = copy.deepcopy(groups[name])
        if method == "unset":
            group["member"] = []
        else:
            if method not in ("add", "delete", "set", "update", "replace"):
                raise RpcError(-5)
            names = _names(self._data(param), "member")
            if method == "delete":
                # unconfirmed in the reference: removing a name that is not a member is not an error.
                group["member"] = [m for m in group["member"] if m not in names]
            else:
                self._check_members(db, name, names)
                if method == "add":
                    # unconfirmed in the reference: adding a present member is not an error.
                    group["member"] += [n for n in names if n not in group["member"]]
                else:
                    group["member"] = names
        groups[name] = group
        self._dirty(adom)
        return NO_DATA

    def _check_members(self, db, group, names):
        for member in names:
            if member == group:
                raise RpcError(-10, "a group cannot contain itself")
            # unconfirmed in the reference: external resources as addrgrp members (B4); the lab
            # accepts addresses and groups only. The error text follows FMG's "datasrc invalid" form.
            if member not in db["obj"]["firewall/address"] and member not in db["obj"]["firewall/addrgrp"]:
                raise RpcError(-10131, "datasrc invalid. object: firewall addrgrp member. detail: %s. "
                                       "solution: data not exist" % member)
            if self._contains(db, member, group, set()):
                raise RpcError(-10, "member %s would make a loop" % member)

    def _contains(self, db, group, target, seen):
        grp = db["obj"]["firewall/addrgrp"].get(group)
        if grp is None or group in seen:
            return False
        seen.add(group)
        return target in grp["member"] or any(self._contains(db, m, target, seen) for m in grp["member"])

    def _references(self, db, name):
        refs = []
        for grp in db["obj"]["firewall/addrgrp"].values():
            if name in grp["member"] or name in grp.get("exclude-member", []):
                refs.append("firewall addrgrp %s" % grp["name"])
        for pkg in db["pkg"].values():
            for pol in pkg["policies"].values():
                if any(name in pol.get(f, []) for f in ("srcaddr", "dstaddr")):
                    refs.append("package %s policy %s" % (pkg["name"], pol["policyid"]))
        return refs

    def _normalise(self, table, data, existing, replace, view):
        """A validated object from ``data`` (over ``existing``); ``view`` is the ADOM as staged."""
        fields = {"firewall/address": ADDRESS_FIELDS, "firewall/addrgrp": ADDRGRP_FIELDS,
                  "system/external-resource": EXTRES_FIELDS}[table]
        unknown = set(data) - fields
        if unknown:
            raise RpcError(-10, "unknown attribute: %s" % ", ".join(sorted(unknown)))
        if existing is None:
            obj = {"name": data["name"], "oid": self._new_oid(), "uuid": str(uuid.uuid4())}
            obj.update(self._defaults(table))
        else:
            obj = copy.deepcopy(existing)
            if replace:
                for attr in ("member", "exclude-member", "dynamic_mapping"):
                    if attr in obj:
                        obj[attr] = []
        name = obj["name"]
        maxlen = 35 if table == "system/external-resource" else 79
        if len(name) > maxlen:
            raise RpcError(-10, "name is too long")
        for key, value in data.items():
            if key in ("name", "oid"):
                continue
            if key == "uuid":
                try:
                    obj[key] = str(uuid.UUID(str(value)))
                except ValueError:
                    raise RpcError(-10, "invalid value for uuid")
            elif key == "subnet":
                try:
                    obj[key] = parse_trusthost(value)  # same forms as a trusted host: list, a/len, "a m"
                except (ValueError, TypeError):
                    raise RpcError(-10, "invalid value for subnet")
            elif key in ("start-ip", "end-ip", "source-ip"):
                obj[key] = _ipv4(value, key)
            elif key == "type" and table == "firewall/address":
                obj[key] = _choice(value, ADDRESS_TYPES, key, NUMERIC_ENUMS["address_type"])
            elif key == "type" and table == "system/external-resource":
                obj[key] = _choice(value, EXTRES_TYPES, key)
            elif key == "type":
                obj[key] = _choice(value, ("default", "folder"), key)
            elif key == "update-method":
                obj[key] = _choice(value, ("feed", "push"), key)
            elif key in ("member", "exclude-member"):
                names = _names(value, key)
                self._check_members(view, name, names)
                obj[key] = names
            elif key in ("comment", "comments"):
                obj[key] = _text(value, key, 255)
            elif key == "resource":
                obj[key] = _text(value, key, 511)
            elif key == "fqdn":
                obj[key] = _text(value, key, 255)
            elif key == "refresh-rate":
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 43200:
                    raise RpcError(-10, "invalid value for refresh-rate")
                obj[key] = value
            elif key in ("color", "category", "cache-ttl"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise RpcError(-10, "invalid value for %s" % key)
                obj[key] = value
            elif key in ("status", "allow-routing", "exclude", "fabric-object"):
                obj[key] = _onoff(value, key)
            elif key == "password":
                if isinstance(value, list) and value:
                    value = value[0]
                if not isinstance(value, str) or value.startswith("ENC "):
                    raise RpcError(-10, "invalid value for password")
                obj[key] = value
            elif key == "dynamic_mapping":
                if not isinstance(value, list) or not all(isinstance(m, dict) and isinstance(m.get("_scope"), list)
                                                          for m in value):
                    raise RpcError(-10, "invalid value for dynamic_mapping")
                obj[key] = copy.deepcopy(value)
            else:
                obj[key] = copy.deepcopy(value)
        if table == "system/external-resource" and obj.get("update-method") == "feed" and obj.get("status") == "enable" \
                and not obj.get("resource"):
            # A feed needs a URL to fetch (B4); a push-only list does not.
            raise RpcError(-10, "resource is required for update-method feed")
        if table == "firewall/address" and obj.get("type") == "iprange":
            obj.setdefault("start-ip", "0.0.0.0")
            obj.setdefault("end-ip", "0.0.0.0")
        return obj

    @staticmethod
    def _defaults(table):
        if table == "firewall/address":
            return {"type": "ipmask", "subnet": list(ALLOW_ALL_V4), "comment": "", "color": 0,
                    "allow-routing": "disable", "dynamic_mapping": []}
        if table == "firewall/addrgrp":
            return {"member": [], "comment": "", "color": 0, "type": "default", "exclude": "disable",
                    "exclude-member": [], "allow-routing": "disable", "dynamic_mapping": []}
        return {"status": "enable", "type": "category", "update-method": "feed", "resource": "", "comments": "",
                "refresh-rate": 5, "category": 0, "username": "", "dynamic_mapping": []}

    # -- policy packages (G2) ---------------------------------------------------------------------
    def _pkg_out(self, pkg):
        return {k: copy.deepcopy(v) for k, v in pkg.items() if k != "policies"}

    def _packages(self, method, param, caller, adom, rest, verbose):
        if len(rest) > 1:
            raise RpcError(-6)
        write = method != "get"
        self._require(caller, ["adom-policy-packages"], write)
        db = self._adom_db(adom, caller, write)
        name = rest[0] if rest else None
        if method == "get":
            if name is None:
                return self._select([self._render(self._pkg_out(p), verbose) for p in db["pkg"].values()],
                                    param, "name")
            if name not in db["pkg"]:
                raise RpcError(-3)
            return self._select_one(self._render(self._pkg_out(db["pkg"][name]), verbose), param)
        if method == "delete":
            if name not in db["pkg"]:
                raise RpcError(-3)
            del db["pkg"][name]
            self._dirty(adom)
            return NO_DATA
        if method not in ("add", "set", "update", "replace"):
            raise RpcError(-5)
        data = self._data(param)
        if not isinstance(data, dict):
            raise RpcError(-10)
        pname = data.get("name", name)
        if not isinstance(pname, str) or not pname or (name is not None and pname != name):
            raise RpcError(-10, "invalid package name")
        existing = db["pkg"].get(pname)
        if method == "add" and existing is not None:
            raise RpcError(-2)
        if method in ("update", "replace") and existing is None:
            raise RpcError(-3)
        pkg = copy.deepcopy(existing) if existing else {"name": pname, "oid": self._new_oid(), "type": "pkg",
                                                        "obj ver": 1, "scope member": [], "package settings": {},
                                                        "policies": {}}
        for key, value in data.items():
            if key in ("name", "oid"):
                continue
            if key == "scope member":
                pkg[key] = self._scope(adom, db, value)
            elif key == "type":
                pkg[key] = _choice(value, ("pkg", "folder"), key)
            elif key == "package settings":
                if not isinstance(value, dict):
                    raise RpcError(-10)
                pkg[key].update(value)
            else:
                raise RpcError(-10, "unknown attribute: %s" % key)
        db["pkg"][pname] = pkg
        self._dirty(adom)
        return {"name": pname}

    def _scope(self, adom, db, value):
        """Scope entries: {"name", "vdom"} is a device, {"name"} alone a device group (G1)."""
        items = value if isinstance(value, list) else [value]
        scope = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise RpcError(-10, "invalid scope member")
            if "vdom" in item:
                if item["name"] not in self.adoms[adom]["devices"] or item["vdom"] not in self._vdoms(item["name"]):
                    raise RpcError(-10, "invalid scope member %s/%s" % (item["name"], item["vdom"]))
                scope.append({"name": item["name"], "vdom": item["vdom"]})
            else:
                if self._group_members(adom, item["name"], db) is None:
                    raise RpcError(-10, "invalid scope member %s" % item["name"])
                scope.append({"name": item["name"]})
        return scope

    def _policies(self, method, param, caller, adom, rest, verbose):
        if len(rest) < 3 or rest[1:3] != ["firewall", "policy"] or len(rest) > 4:
            raise RpcError(-6)
        write = method != "get"
        self._require(caller, ["adom-policy-packages"], write)
        db = self._adom_db(adom, caller, write)
        pkg = db["pkg"].get(rest[0])
        if pkg is None:
            raise RpcError(-6)  # wrong package path (G2)
        policies = pkg["policies"]
        pid = None
        if len(rest) == 4:
            try:
                pid = int(rest[3])
            except ValueError:
                raise RpcError(-3)
        enums = {"action": "action"}
        if method == "get":
            if pid is None:
                items = [self._render(policies[k], verbose, enums) for k in sorted(policies)]
                return self._select(items, param, "policyid")
            if pid not in policies:
                raise RpcError(-3)
            return self._select_one(self._render(policies[pid], verbose, enums), param)
        if method == "delete":
            if pid not in policies:
                raise RpcError(-3)
            del policies[pid]
            self._dirty(adom)
            return NO_DATA
        if method not in ("add", "set", "update", "replace"):
            raise RpcError(-5)
        data = self._data(param)
        items = data if isinstance(data, list) else [data]
        staged = copy.deepcopy(policies)
        ids = []
        for item in items:
            if not isinstance(item, dict):
                raise RpcError(-10)
            unknown = set(item) - POLICY_FIELDS
            if unknown:
                raise RpcError(-10, "unknown attribute: %s" % ", ".join(sorted(unknown)))
            key = item.get("policyid", pid)
            if key in (None, 0):
                if method != "add":
                    raise RpcError(-10, "policyid is required")
                key = max(list(staged) + [0]) + 1
            if not isinstance(key, int) or isinstance(key, bool) or key < 0 or (pid is not None and key != pid):
                raise RpcError(-10, "invalid policyid")
            existing = staged.get(key)
            if method == "add" and existing is not None:
                raise RpcError(-2)
            if method in ("update", "replace") and existing is None:
                raise RpcError(-3)
            pol = copy.deepcopy(existing) if existing else {
                "policyid": key, "uuid": str(uuid.uuid4()), "name": "", "status": "enable", "action": "deny",
                "schedule": "always", "srcintf": [], "dstintf": [], "srcaddr": [], "dstaddr": [], "service": [],
                "logtraffic": "utm", "nat": "disable", "comments": ""}
            for field, value in item.items():
                if field == "policyid":
                    continue
                if field in ("srcintf", "dstintf", "srcaddr", "dstaddr", "srcaddr6", "dstaddr6", "service",
                             "groups", "users", "internet-service"):
                    names = _names(value, field)
                    if field in ("srcaddr", "dstaddr"):
                        for ref in names:
                            if ref not in BUILTIN_ADDRESSES and not any(ref in db["obj"][t] for t in OBJ_TABLES):
                                raise RpcError(-10131, "datasrc invalid. object: firewall policy %s. detail: %s. "
                                                       "solution: data not exist" % (field, ref))
                    # unconfirmed in the reference: interface and service names are not checked
                    # (FMG maps normalized interfaces per device).
                    pol[field] = names
                elif field == "action":
                    pol[field] = _choice(value, ("accept", "deny", "ipsec"), field, NUMERIC_ENUMS["action"])
                elif field in ("status", "nat", "logtraffic-start"):
                    pol[field] = _onoff(value, field)
                elif field == "logtraffic":
                    pol[field] = _choice(value, ("all", "utm", "disable"), field)
                elif field == "name":
                    pol[field] = _text(value, field, 35)
                elif field == "comments":
                    pol[field] = _text(value, field, 1023)
                elif field == "schedule":
                    if isinstance(value, list):
                        value = value[0] if value else ""
                    pol[field] = _text(value, field, 35)
                else:
                    pol[field] = copy.deepcopy(value)
            staged[key] = pol
            ids.append(key)
        pkg["policies"] = staged
        self._dirty(adom)
        return {"policyid": ids[0]} if len(ids) == 1 else [{"policyid": i} for i in ids]

    # -- talking to FortiGates --------------------------------------------------------------------
    def _context(self):
        if self._client_context is None:
            self._client_context = self.lab.authority.client_context()
        return self._client_context

    def _without_lock(self, work):
        """Run ``work`` with the device lock released: FortiGate round trips (up to the proxy
        timeout) must not stall other JSON-RPC callers or the lab clock. Callers snapshot the
        state they need first and store results after."""
        try:
            self.lock.release()
        except RuntimeError:  # not called through the HTTPS handler (no lock held)
            return work()
        try:
            return work()
        finally:
            self.lock.acquire()

    def _fgt_call(self, devname, method, resource, payload=None, timeout=30):
        """One FortiGate REST call; returns (http status, parsed JSON or None, raw bytes)."""
        dev = self.lab.devices[devname]
        if not dev.url:
            raise Unreachable("device has no address")
        parsed = urllib.parse.urlsplit(dev.url)
        # The lab-admin key as describe() gives it, without rendering the certificate per call.
        token = (getattr(dev, "tokens", None) or {}).get("lab-admin") or dev.describe().get("admin_token")
        # The device's own trust anchor and name, whatever its certificate's shape (certs.py).
        conn = _DeviceHTTPS(parsed.hostname, parsed.port, dev.certificate.server_name,
                            dev.certificate.client_context(), timeout)
        headers = {"Accept": "application/json", "Authorization": "Bearer %s" % token}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method.upper(), resource, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise Unreachable("%s: %s" % (type(exc).__name__, exc))
        finally:
            conn.close()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            data = None
        return status, data, raw

    # -- proxy (H) --------------------------------------------------------------------------------
    def _resolve_targets(self, caller, targets):
        """Proxy targets to device names, in order, without duplicates (H1).

        A device may be named by its serial number wherever a name is expected: Knocknoc's
        "Device Targets" are serial numbers and it sends them as adom/<adom>/device/<serial>.
        unconfirmed in the reference: serial numbers as proxy targets.
        """
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets:
            raise RpcError(-10, "target is required")
        allowed = [a for a in self.adoms if self._adom_allowed(caller, a)]
        devices = []
        for target in targets:
            if not isinstance(target, str):
                raise RpcError(-10, "invalid target")
            s = [p for p in target.split("/") if p]
            found = []
            if len(s) == 4 and s[0] == "adom" and s[2] in ("device", "group"):
                adom = s[1]
                if adom not in self.adoms:
                    found = None
                elif adom not in allowed:
                    raise RpcError(-11)
                elif s[2] == "device":
                    devname, _unused = self._find_device(s[3], [adom])
                    found = [devname] if devname else None
                else:
                    found = self._group_members(adom, s[3], self.db[adom])
            elif len(s) == 2 and s[0] == "device":
                devname, adom = self._find_device(s[1], list(self.adoms))
                if devname and adom not in allowed:
                    raise RpcError(-11)
                found = [devname] if devname else None
            elif len(s) == 2 and s[0] == "group":
                # A group named without its ADOM: the union over the caller's ADOMs.
                members = [self._group_members(a, s[1], self.db[a]) for a in allowed]
                members = [m for m in members if m is not None]
                found = [d for m in members for d in m] if members else None
            elif len(s) == 2 and s[0] == "dev_oid":
                found = [d for a in allowed for d in self.adoms[a]["devices"]
                         if str(100 + list(self.lab.devices).index(d)) == s[1]] or None
            else:
                found = None
            if found is None:
                # unconfirmed in the reference (H2): the answer for an unknown device or group.
                # Knocknoc maps "-2 on a proxy target" to 202101 "Target device or group not found".
                raise RpcError(-2, "Object does not exist: %s" % target)
            for devname in found:
                if devname not in devices:
                    devices.append(devname)
        return devices

    def _proxy(self, param, caller):
        data = param.get("data")
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            raise RpcError(-10, "data is required")
        action = str(data.get("action", "")).lower()
        if action not in ("get", "post", "put", "delete"):
            raise RpcError(-10, "invalid action")
        self._require(caller, ["device-manager", "device-config"], write=action != "get")
        resource = data.get("resource")
        if not isinstance(resource, str) or not resource.startswith("/"):
            raise RpcError(-10, "invalid resource")
        timeout = data.get("timeout", 60)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise RpcError(-10, "invalid timeout")
        timeout = min(float(timeout), 28800.0)
        # What each proxy call asked for (None: FortiManager's 60 s default), for tests (dump "proxy_timeouts").
        self.proxy_timeouts.append(data.get("timeout"))
        devices = self._resolve_targets(caller, data.get("target"))
        payload = data.get("payload") if action in ("post", "put", "delete") else None

        def one(devname):
            try:
                status, reply, raw = self._fgt_call(devname, action, resource, payload, timeout)
            except Unreachable:
                # unconfirmed in the reference: the per-target code of an offline device (H2);
                # -20042 is the one Fortinet's Ansible collection names "Device Unreachable".
                return {"target": devname, "status": {"code": -20042, "message": MESSAGES[-20042]}}
            if reply is None:
                # unconfirmed in the reference: a device reply that is not JSON.
                return {"target": devname, "status": {"code": -1, "message": "Invalid response from device"},
                        "response": raw.decode("utf-8", "replace")}
            # A FortiGate-side error is still status 0 for the FMG; the device's own error
            # envelope is the response (H2).
            return {"target": devname, "status": {"code": 0, "message": "OK"}, "response": reply}

        def fan_out():
            if len(devices) == 1:
                return [one(devices[0])]
            with ThreadPoolExecutor(max_workers=min(len(devices), 16)) as pool:
                return list(pool.map(one, devices))

        return self._without_lock(fan_out)

    # -- install (G3, I15) ------------------------------------------------------------------------
    def _install(self, param, caller):
        data = param.get("data")
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            raise RpcError(-10, "data is required")
        adom = data.get("adom")
        if not isinstance(adom, str):
            raise RpcError(-10, "adom is required")
        self._require_adom(caller, adom)
        self._require(caller, ["deploy-management"], write=True)
        flags = data.get("flags") or []
        flags = [flags] if isinstance(flags, str) else flags
        if self.adoms[adom]["workspace"]:
            # unconfirmed in the reference: an install in workspace mode needs the ADOM lock
            # (the auto_lock_ws flag takes it for the install when it is free).
            lock = self.locks.get(adom)
            if lock and lock["holder"] != caller.holder:
                raise RpcError(-20055)
            if not lock and "auto_lock_ws" not in flags:
                raise RpcError(-10147)
        # The install sends what is saved: uncommitted workspace changes stay on the FMG.
        db = self.db[adom]
        pkg = db["pkg"].get(data.get("pkg"))
        if pkg is None:
            # unconfirmed in the reference: the code for installing a package that does not exist.
            raise RpcError(-3, "package %s does not exist" % data.get("pkg"))
        scope = self._scope(adom, db, data["scope"]) if data.get("scope") else pkg["scope member"]
        if self.switches["install_scope_check"]:
            outside = self._outside_package(adom, db, pkg, scope)
            if outside:
                # unconfirmed in the reference: the status of an install outside the package's targets.
                raise RpcError(-10, "%s not in the installation targets of policy package %s" % (
                    ", ".join(outside), pkg["name"]))
        pairs = []
        for item in scope:
            if "vdom" in item:
                targets = [(item["name"], item["vdom"])]
            else:
                targets = [(d, self._vdoms(d)[0]) for d in self._group_members(adom, item["name"], db)]
            for pair in targets:
                if pair not in pairs:
                    pairs.append(pair)
        task_id = self._next_task
        self._next_task += 1
        start = int(self.lab.clock.now())
        plans = [(devname, vdom, self._install_steps(devname, vdom, db, pkg, "cp_all_objs" in flags))
                 for devname, vdom in pairs]

        def push_all():
            return [self._push_steps(devname, vdom, steps) for devname, vdom, steps in plans]

        outcomes = self._without_lock(push_all)
        lines = []
        for (devname, vdom, _unused), (ok, detail) in zip(plans, outcomes):
            dev = self.lab.devices[devname]
            lines.append({"name": devname, "ip": urllib.parse.urlsplit(dev.url).hostname if dev.url else "",
                          "vdom": vdom, "oid": 100 + list(self.lab.devices).index(devname),
                          "state": "done" if ok else "error", "err": 0 if ok else 1, "percent": 100,
                          "detail": detail})
        num_err = sum(line["err"] for line in lines)
        if self.adoms[adom]["workspace"] and self.switches["workspace_unlock_after_install"]:
            # 7.2.2+ workspace-unlock-after-install: the installer's lock goes with the install (what it had not
            # committed is dropped with it, as an unlock does).
            lock = self.locks.get(adom)
            if lock and lock["holder"] == caller.holder:
                self._release_lock(adom)
        self.tasks[task_id] = {
            "id": task_id, "title": "Install policy package %s" % pkg["name"], "src": "device manager",
            "adom": self.adoms[adom]["oid"], "user": caller.userid,
            "state": "done" if num_err == 0 else "error", "percent": 100, "tot_percent": 100,
            "num_lines": len(lines), "num_done": len(lines) - num_err, "num_err": num_err, "num_warn": 0,
            "start_tm": start, "end_tm": int(self.lab.clock.now()),
            "history": [{"detail": "%s: %s" % (line["name"], line["detail"]), "name": line["name"],
                         "vdom": line["vdom"], "percent": 100} for line in lines],
            "line": lines,
        }
        return {"task": task_id}

    def _outside_package(self, adom, db, pkg, scope):
        """The members of an install ``scope`` that are not installation targets of ``pkg``: a device
        (with its VDOM) must be in the package's scope or in one of its device groups (nested too); a
        group must be one of the package's groups or have only such devices."""
        devices, groups = set(), set()
        for member in pkg.get("scope member") or []:
            if "vdom" in member:
                devices.add((member["name"], member["vdom"]))
            else:
                groups.add(member["name"])
                # unconfirmed in the reference: which VDOMs a device group of the package covers; the lab takes
                # every VDOM of its devices (the lenient reading, so that the check refuses only what is outside).
                for dev in self._group_members(adom, member["name"], db) or []:
                    devices.update((dev, vdom) for vdom in self._vdoms(dev))
        outside = []
        for member in scope:
            if "vdom" in member:
                if (member["name"], member["vdom"]) not in devices:
                    outside.append("%s (VDOM %s)" % (member["name"], member["vdom"]))
            elif member["name"] not in groups:
                members = self._group_members(adom, member["name"], db) or []
                if not members or any(not any((dev, vdom) in devices for vdom in self._vdoms(dev)) for dev in members):
                    outside.append("group %s" % member["name"])
        return outside

    def _install_order(self, db, pkg, all_objects):
        """Objects to push (name, table) with dependencies first: the package's policies reference."""
        obj = db["obj"]
        wanted = []

        def need(name):
            for table in OBJ_TABLES:
                if name in obj[table] and (table, name) not in wanted:
                    if table == "firewall/addrgrp":
                        for member in obj[table][name]["member"] + obj[table][name].get("exclude-member", []):
                            need(member)
                    wanted.append((table, name))

        if all_objects:
            for table in OBJ_TABLES:
                for name in obj[table]:
                    need(name)
        for pid in sorted(pkg["policies"]):
            pol = pkg["policies"][pid]
            for name in pol.get("srcaddr", []) + pol.get("dstaddr", []):
                need(name)
        # need() already put every group after its members; external resources and addresses
        # go first so that the groups find them.
        return [w for w in wanted if w[0] != "firewall/addrgrp"] + [w for w in wanted if w[0] == "firewall/addrgrp"]

    def _install_steps(self, devname, vdom, db, pkg, all_objects):
        """The FortiOS writes for one device VDOM: objects first (dependencies first), then policies."""
        if vdom not in self._vdoms(devname):
            return None
        steps = []
        for table, name in self._install_order(db, pkg, all_objects):
            steps.append((table, name, self._fos_object(table, db["obj"][table][name], devname, vdom)))
        for pid in sorted(pkg["policies"]):
            steps.append(("firewall/policy", pid, self._fos_policy(pkg["policies"][pid])))
        return steps

    def _push_steps(self, devname, vdom, steps):
        """Apply the steps idempotently: GET each entry, then PUT it if present or POST it.

        Policies and objects already on the device but not in the package are left alone.
        unconfirmed in the reference: a real install also removes what the package no longer has;
        the lab does not, so devices keep seed and out-of-band objects.
        """
        if steps is None:
            return False, "vdom %s does not exist on %s" % (vdom, devname)
        query = "?vdom=%s" % urllib.parse.quote(vdom, safe="")
        done = 0
        try:
            for table, mkey, body in steps:
                item = "/api/v2/cmdb/%s/%s" % (table, urllib.parse.quote(str(mkey), safe=""))
                status, reply, raw = self._fgt_call(devname, "GET", item + query)
                if status == 200:
                    status, reply, raw = self._fgt_call(devname, "PUT", item + query, body)
                elif status == 404:
                    status, reply, raw = self._fgt_call(devname, "POST", "/api/v2/cmdb/%s%s" % (table, query), body)
                if status != 200:
                    text = json.dumps(reply) if reply is not None else raw.decode("utf-8", "replace")[:300]
                    return False, "install failed at %s %s: HTTP %d %s" % (table, mkey, status, text)
                done += 1
        except Unreachable as exc:
            return False, "Device Unreachable (%s)" % exc
        return True, "install and save finished status=OK (%d objects and policies)" % done

    @staticmethod
    def _overlay(obj, devname, vdom):
        """Per-device dynamic_mapping values override the ADOM-level ones (G1)."""
        merged = {k: v for k, v in obj.items() if k != "dynamic_mapping"}
        for mapping in obj.get("dynamic_mapping") or []:
            if any(s.get("name") == devname and s.get("vdom", vdom) == vdom for s in mapping.get("_scope", [])):
                merged.update({k: v for k, v in mapping.items() if k != "_scope"})
        return merged

    def _fos_object(self, table, obj, devname, vdom):
        """The FortiOS REST body for an ADOM object (FMG formats to FOS formats, B1/B3/B4)."""
        obj = self._overlay(obj, devname, vdom)
        if table == "firewall/address":
            body = {"name": obj["name"], "type": obj.get("type", "ipmask"), "comment": obj.get("comment", "")}
            if body["type"] == "ipmask":
                subnet = obj.get("subnet", ALLOW_ALL_V4)
                body["subnet"] = "%s %s" % tuple(subnet) if isinstance(subnet, list) else subnet
            elif body["type"] == "iprange":
                body["start-ip"], body["end-ip"] = obj.get("start-ip"), obj.get("end-ip")
            elif body["type"] == "fqdn":
                body["fqdn"] = obj.get("fqdn", "")
            elif body["type"] == "geography":
                body["country"] = obj.get("country", "")
            for key in ("color", "allow-routing", "associated-interface"):
                if obj.get(key) not in (None, ""):
                    body[key] = obj[key]
            return body
        if table == "firewall/addrgrp":
            body = {"name": obj["name"], "member": [{"name": m} for m in obj.get("member", [])],
                    "comment": obj.get("comment", "")}
            if obj.get("exclude") == "enable":
                body["exclude"] = "enable"
                body["exclude-member"] = [{"name": m} for m in obj.get("exclude-member", [])]
            return body
        body = {"name": obj["name"]}
        for key in ("status", "type", "update-method", "resource", "username", "password", "comments",
                    "refresh-rate", "user-agent", "server-identity-check", "source-ip", "interface-select-method",
                    "interface", "category"):
            if key in obj and obj[key] not in (None, ""):
                if key == "category" and obj.get("type") != "category":
                    continue
                body[key] = obj[key]
        return body

    @staticmethod
    def _fos_policy(pol):
        body = {"policyid": pol["policyid"]}
        for key in ("srcintf", "dstintf", "srcaddr", "dstaddr", "srcaddr6", "dstaddr6", "service"):
            if pol.get(key):
                body[key] = [{"name": n} for n in pol[key]]
        for key in ("name", "action", "schedule", "status", "logtraffic", "nat", "comments"):
            if pol.get(key) not in (None, ""):
                body[key] = pol[key]
        return body

    def _task(self, param, rest):
        if not rest:
            return [copy.deepcopy(t) for t in self.tasks.values()]
        try:
            task = self.tasks[int(rest[0])]
        except (ValueError, KeyError):
            raise RpcError(-3)
        if len(rest) == 2 and rest[1] == "line":
            return copy.deepcopy(task["line"])
        if len(rest) > 1:
            raise RpcError(-6)
        return copy.deepcopy(task)
