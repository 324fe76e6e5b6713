"""Knocknoc server emulator: the documented allowlist (EDL) endpoint plus a modelled management API.

Documented (reference knocknoc.md §2): ``GET /api/v1/allowlists/<aclId>/<token>[.txt|.json]`` behind
HTTP Basic auth (any username, password = the allowlist API key), one distinct granted IP per line.

Modelled (reference §3.2 and §10: Knocknoc publishes no management API): ``/api/v1/knocs`` CRUD
with ``Authorization: Bearer <admin token>``, allowlist-key rotation, and grants as a stand-in for
users signing in. Everything under "modelled" is this project's own contract, not Knocknoc's.
"""

import base64
import binascii
import collections
import datetime
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
import urllib.parse
import uuid

from . import variants
from .core import Device, Response

API_PREFIX = ("api", "v1")
ANYWHERE = ["0.0.0.0/0", "::/0"]
DEFAULT_GRANT_MINUTES = 60
# FortiOS limits an external-resource name to 35 characters; the Knoc field must match it exactly.
EXTERNAL_CONNECTOR_MAX = 35
# modelled: FortiOS address names hold 79 characters, so prefix + the longest IPv6 text (39) must fit.
PREFIX_MAX = 40
# Bounded so a long-running lab polled by FortiGates does not grow without limit.
EVENT_HISTORY = 1000

MODES = ("passive", "passive_plus", "active")
ALLOWLIST_MODES = ("passive", "passive_plus")
READ_ONLY_FIELDS = ("id", "allowlist_url", "authorization_token_set")
WRITABLE_FIELDS = (
    "name", "type", "mode", "vendor", "use_fortimanager", "device_url", "insecure",
    "authorization_token", "adom", "external_connector_name", "device_targets", "address_group",
    "prefix", "vdom", "description", "grant_duration_minutes", "allowlist_ip_restrictions",
)


class ApiError(Exception):
    """A modelled-API failure, rendered as ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self):
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(status, code, message, headers=None):
    return Response(status, {"error": {"code": code, "message": message}}, headers=headers)


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def ip_sort_key(text):
    address = ipaddress.ip_address(text)
    return (address.version, int(address))


class Allowlist:
    """The EDL of one passive/passive_plus Knoc: its URL parts and its read key."""

    def __init__(self):
        # unconfirmed in the reference: the form of <aclId> and <token> (docs: "unique and random").
        self.acl_id = str(uuid.uuid4())
        self.token = secrets.token_hex(16)
        self.api_key = None
        self.rotate()

    def rotate(self):
        # unconfirmed in the reference: the form of an allowlist key secret.
        self.api_key = secrets.token_urlsafe(32)
        return self.api_key


# -- lab switches (docs/lab.md "Fidelity"; variants.py) -----------------------------------------------
SWITCHES = [
    variants.Switch(
        "conditional_allowlist", True, False,
        "the allowlist carries an ETag and answers a matching If-None-Match with 304 (the FortiGate keeps its list)",
        "unconfirmed in the reference (knocknoc.md is silent on validators); FortiOS polls conditionally and"
        " records http_status_code 304 (fortinet-api.md C2, a real 7.4.2 reply; issue 11 item 13)"),
]


class Knocknoc(Device):
    kind = "knocknoc"

    def __init__(self, lab, name, serial, version, admin_token=None, spec=None):
        super().__init__(lab, name, serial, version)
        # modelled: the management API key; survives reset() so lab.json stays valid.
        self.admin_token = admin_token or secrets.token_hex(24)
        self.spec = spec or {}
        self.reset()

    @classmethod
    def from_topology(cls, lab, spec):
        return cls(lab, spec["name"], spec.get("serial", "KNOCKNOC-LAB"), spec.get("version", "26.06.1"),
                   admin_token=spec.get("admin_token"), spec=spec)

    def cert_names(self):
        # A Knocknoc server has an ordinary certificate for its host name, unlike the appliances.
        return ["localhost", "127.0.0.1", "knocknoc.lab"]

    def reset(self):
        with self.lock:
            self.switches = variants.resolve(SWITCHES, self, self.spec, getattr(self.lab, "topology", None))
            self.knocs = {}          # id -> stored document (secrets included)
            self.allowlists = {}     # knoc id -> Allowlist
            self.grants = {}         # knoc id -> {grant id -> grant record}
            self.events = collections.deque(maxlen=EVENT_HISTORY)
            self.rejections = collections.deque(maxlen=EVENT_HISTORY)
            self.next_knoc_id = 1
            self.next_grant_id = 1

    def describe(self):
        info = super().describe()
        info.update({
            # The certificate names the URL's host, so ordinary hostname checking works.
            "tls_server_name": "127.0.0.1",
            "tokens": {"admin": self.admin_token},
            "admin_token": self.admin_token,
            "api_url": "%s/api/v1" % self.url if self.url else None,
            "switches": dict(self.switches),
        })
        return info

    def dump(self):
        with self.lock:
            now = self.lab.clock.now()
            knocs = []
            for knoc_id in sorted(self.knocs):
                stored = self.knocs[knoc_id]
                entry = dict(self.render(stored))
                # The lab's own test tool may show device/allowlist secrets; the admin token stays out.
                entry["authorization_token"] = stored.get("authorization_token")
                allowlist = self.allowlists.get(knoc_id)
                if allowlist:
                    entry["allowlist"] = {"acl_id": allowlist.acl_id, "token": allowlist.token,
                                          "api_key": allowlist.api_key, "entries": self.entries(knoc_id, now)}
                entry["grants"] = self.active_grants(knoc_id, now)
                knocs.append(entry)
            return {"knocs": knocs, "events": list(self.events),
                    "allowlist_rejections": list(self.rejections)}

    def fault_response(self, request, fault):
        return error_response(fault.status or 500, "lab_fault", fault.message or "injected fault")

    def tick(self, now):
        # Grants end on the lab clock; the IP leaves the allowlist once no other user holds it.
        with self.lock:
            for grants in self.grants.values():
                for grant_id in [g for g, rec in grants.items() if rec["expires"] <= now]:
                    del grants[grant_id]

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, request):
        segments = request.segments
        if tuple(segments[:2]) != API_PREFIX:
            return error_response(404, "not_found", "no such path: %s" % request.path)
        rest = segments[2:]
        if rest and rest[0] == "allowlists":
            return self.handle_allowlist(request, rest[1:])
        try:
            self.authenticate_admin(request)
            return self.route(request, rest)
        except ApiError as err:
            return err.response()

    # -- documented: the allowlist (EDL) ------------------------------------------------------
    def handle_allowlist(self, request, parts):
        if request.method not in ("GET", "HEAD"):
            return error_response(405, "method_not_allowed", "allowlists are read-only",
                                  headers={"Allow": "GET, HEAD"})
        if len(parts) != 2:
            return error_response(404, "not_found", "no such allowlist")
        acl_id, last = parts
        token, dot, fmt = last.partition(".")
        fmt = fmt if dot else "txt"  # the v5.2-era URL has no suffix and serves text
        if fmt not in ("txt", "json"):
            return error_response(404, "not_found", "unknown allowlist format: %s" % fmt)
        knoc_id = self.find_allowlist(acl_id, token)
        # unconfirmed in the reference: the status for a missing/wrong key; 401 with a Basic
        # challenge is what HTTP Basic auth prescribes.
        challenge = {"WWW-Authenticate": 'Basic realm="knocknoc"'}
        username, password = basic_credentials(request)
        if password is None:
            self.reject(request, acl_id, "no credentials")
            return error_response(401, "unauthorized", "allowlist API key required", challenge)
        if knoc_id is None:
            self.reject(request, acl_id, "unknown allowlist")
            return error_response(404, "not_found", "no such allowlist")
        allowlist = self.allowlists[knoc_id]
        if not hmac.compare_digest(password.encode("utf-8"), allowlist.api_key.encode("utf-8")):
            self.reject(request, acl_id, "wrong key")
            return error_response(401, "unauthorized", "invalid allowlist API key", challenge)
        stored = self.knocs[knoc_id]
        if not source_allowed(request.client_ip, stored["allowlist_ip_restrictions"]):
            # modelled: the docs give allowlist keys IP restrictions but not the refusal status.
            self.reject(request, acl_id, "source %s outside the key's IP restrictions" % request.client_ip)
            return error_response(403, "forbidden", "source address not permitted for this API key")
        now = self.lab.clock.now()
        entries = self.entries(knoc_id, now)
        if request.method == "GET":
            self.events.append({
                "event": "AllowlistRetrieved", "time": iso(now), "acl": stored["name"], "acl_id": acl_id,
                "knoc_id": knoc_id, "consumer_ip": request.client_ip, "format": fmt,
                "username": username, "user_agent": request.header("User-Agent"),
                "request_id": str(uuid.uuid4()), "entries": len(entries),
            })
        if fmt == "json":
            # unconfirmed in the reference: the JSON schema of the allowlist.
            response = Response(200, {"acl_id": acl_id, "entries": entries})
        else:
            body = "".join("%s\n" % ip for ip in entries)
            # unconfirmed in the reference: the Content-Type; text/plain is what EDL consumers expect.
            response = Response(200, body, content_type="text/plain; charset=utf-8")
        if not self.switches["conditional_allowlist"]:
            return response
        # A validator for the list's content: a FortiGate that polls with If-None-Match gets 304 while the
        # list is unchanged and keeps its entries (pushed ones included).
        etag = '"%s"' % hashlib.sha256(response.encoded()).hexdigest()[:32]
        if etag in [tag.strip() for tag in (request.header("If-None-Match") or "").split(",")]:
            return Response(304, None, headers={"ETag": etag})
        response.headers["ETag"] = etag
        return response

    def find_allowlist(self, acl_id, token):
        for knoc_id, allowlist in self.allowlists.items():
            if allowlist.acl_id == acl_id and hmac.compare_digest(allowlist.token, token):
                return knoc_id
        return None

    def entries(self, knoc_id, now):
        # LOOTOTL: an IP held by several users is listed once, until the last of them leaves.
        ips = {g["ip"] for g in self.grants.get(knoc_id, {}).values() if g["expires"] > now}
        return sorted(ips, key=ip_sort_key)

    def reject(self, request, acl_id, reason):
        self.rejections.append({"time": iso(self.lab.clock.now()), "acl_id": acl_id,
                                "consumer_ip": request.client_ip, "reason": reason})

    # -- modelled: management API ----------------------------------------------------------
    def authenticate_admin(self, request):
        # modelled: Bearer is the project's choice; Basic (any user, token as password) is also
        # taken because the reference suggests clients make the scheme configurable (§10.1).
        token = request.bearer_token()
        if token is None:
            token = basic_credentials(request)[1]
        if token is None or not hmac.compare_digest(token.encode("utf-8"), self.admin_token.encode("utf-8")):
            raise ApiError(401, "unauthorized", "a valid API token is required",
                           {"WWW-Authenticate": 'Bearer realm="knocknoc"'})

    def route(self, request, rest):
        method = request.method
        if not rest or rest[0] != "knocs":
            raise ApiError(404, "not_found", "no such endpoint: %s" % request.path)
        if len(rest) == 1:
            if method == "GET":
                return self.list_knocs(request)
            if method == "POST":
                return self.create_knoc(request)
            raise not_allowed("GET, POST")
        knoc_id = self.knoc_id(rest[1])
        if len(rest) == 2:
            if method == "GET":
                return Response(200, {"knoc": self.render(self.knocs[knoc_id])})
            if method == "PUT":
                return self.update_knoc(request, knoc_id)
            if method == "DELETE":
                return self.delete_knoc(knoc_id)
            raise not_allowed("GET, PUT, DELETE")
        if rest[2] == "allowlist-key" and len(rest) == 3:
            if method == "POST":
                return self.rotate_key(knoc_id)
            raise not_allowed("POST")
        if rest[2] == "grants":
            if len(rest) == 3:
                if method == "GET":
                    now = self.lab.clock.now()
                    return Response(200, {"grants": self.active_grants(knoc_id, now)})
                if method == "POST":
                    return self.create_grant(request, knoc_id)
                raise not_allowed("GET, POST")
            if len(rest) == 4:
                grant_id = self.grant_id(knoc_id, rest[3])
                if method == "GET":
                    return Response(200, {"grant": self.render_grant(self.grants[knoc_id][grant_id])})
                if method == "DELETE":
                    del self.grants[knoc_id][grant_id]
                    self.count_write()
                    return Response(204, None)
                raise not_allowed("GET, DELETE")
        raise ApiError(404, "not_found", "no such endpoint: %s" % request.path)

    def knoc_id(self, text):
        try:
            knoc_id = int(text)
        except ValueError:
            knoc_id = None
        if knoc_id not in self.knocs:
            raise ApiError(404, "not_found", "knoc %s not found" % text)
        return knoc_id

    def grant_id(self, knoc_id, text):
        try:
            grant_id = int(text)
        except ValueError:
            grant_id = None
        grant = self.grants[knoc_id].get(grant_id)
        if grant is None or grant["expires"] <= self.lab.clock.now():
            raise ApiError(404, "not_found", "grant %s not found" % text)
        return grant_id

    def list_knocs(self, request):
        wanted = request.query.get("name")
        knocs = [self.render(self.knocs[k]) for k in sorted(self.knocs)
                 if wanted is None or self.knocs[k]["name"] == wanted]
        return Response(200, {"knocs": knocs})

    def create_knoc(self, request):
        body = json_object(request)
        check_fields(body)
        stored = normalise({k: v for k, v in body.items() if k in WRITABLE_FIELDS})
        self.check_unique(stored["name"], None)
        knoc_id = self.next_knoc_id
        self.next_knoc_id += 1
        stored["id"] = knoc_id
        self.knocs[knoc_id] = stored
        self.grants[knoc_id] = {}
        result = {"knoc": None}
        if stored["mode"] in ALLOWLIST_MODES:
            # The docs: a Passive Knoc's key is created with it and its secret is shown once.
            self.allowlists[knoc_id] = Allowlist()
            result["allowlist"] = self.allowlist_block(knoc_id)
        result["knoc"] = self.render(stored)
        self.count_write()
        return Response(201, result, headers={"Location": "/api/v1/knocs/%d" % knoc_id})

    def update_knoc(self, request, knoc_id):
        body = json_object(request)
        check_fields(body)
        current = self.knocs[knoc_id]
        # modelled: PUT replaces the fields it names and keeps the others (write-only secrets
        # included), so an idempotent client need not resend the device token.
        merged = {k: v for k, v in current.items() if k in WRITABLE_FIELDS}
        merged.update({k: v for k, v in body.items() if k in WRITABLE_FIELDS})
        stored = normalise(merged)
        self.check_unique(stored["name"], knoc_id)
        stored["id"] = knoc_id
        self.knocs[knoc_id] = stored
        result = {}
        if stored["mode"] in ALLOWLIST_MODES and knoc_id not in self.allowlists:
            self.allowlists[knoc_id] = Allowlist()
            result["allowlist"] = self.allowlist_block(knoc_id)
        elif stored["mode"] not in ALLOWLIST_MODES:
            self.allowlists.pop(knoc_id, None)
        result["knoc"] = self.render(stored)
        self.count_write()
        return Response(200, result)

    def delete_knoc(self, knoc_id):
        del self.knocs[knoc_id]
        self.allowlists.pop(knoc_id, None)  # its EDL URL answers 404 from now on
        self.grants.pop(knoc_id, None)
        self.count_write()
        return Response(204, None)

    def rotate_key(self, knoc_id):
        allowlist = self.allowlists.get(knoc_id)
        if allowlist is None:
            raise ApiError(409, "no_allowlist", "knoc %d is in %s mode and has no allowlist"
                           % (knoc_id, self.knocs[knoc_id]["mode"]))
        allowlist.rotate()
        self.count_write()
        return Response(200, {"allowlist": self.allowlist_block(knoc_id)})

    def check_unique(self, name, own_id):
        for knoc_id, stored in self.knocs.items():
            if knoc_id != own_id and stored["name"] == name:
                raise ApiError(409, "conflict", "a knoc named %r already exists (id %d)" % (name, knoc_id))

    def allowlist_url(self, knoc_id):
        allowlist = self.allowlists.get(knoc_id)
        if allowlist is None:
            return None
        return "%s/api/v1/allowlists/%s/%s.txt" % (self.url, allowlist.acl_id, allowlist.token)

    def allowlist_block(self, knoc_id):
        return {"url": self.allowlist_url(knoc_id), "username": "apikey",
                "api_key": self.allowlists[knoc_id].api_key}

    def render(self, stored):
        doc = {key: stored.get(key) for key in (
            "id", "name", "type", "mode", "vendor", "use_fortimanager", "device_url", "insecure")}
        doc["authorization_token_set"] = bool(stored.get("authorization_token"))
        for key in ("adom", "external_connector_name", "device_targets", "address_group", "prefix", "vdom",
                    "description", "grant_duration_minutes", "allowlist_ip_restrictions"):
            value = stored.get(key)
            doc[key] = list(value) if isinstance(value, list) else value
        doc["allowlist_url"] = self.allowlist_url(stored["id"])
        return doc

    # -- modelled: grants (stand-in for users signing in) -------------------------------------
    def create_grant(self, request, knoc_id):
        status, grant = self.grant(knoc_id, json_object(request))
        headers = {"Location": "/api/v1/knocs/%d/grants/%d" % (knoc_id, grant["id"])} if status == 201 else None
        return Response(status, {"grant": self.render_grant(grant)}, headers=headers)

    def grant(self, knoc_id, body):
        """Validate a grant document and sign its user in: ``(201, grant)``, or ``(200, grant)`` when the same user
        and IP already hold a grant (renewed)."""
        unknown = sorted(set(body) - {"username", "ip", "duration_minutes"})
        if unknown:
            raise invalid(unknown[0], "unknown field %r" % unknown[0])
        username = body.get("username")
        if not isinstance(username, str) or not username.strip():
            raise invalid("username", "username must be a non-empty string")
        try:
            ip = str(ipaddress.ip_address(body.get("ip") if isinstance(body.get("ip"), str) else ""))
        except ValueError:
            raise invalid("ip", "ip must be an IPv4 or IPv6 address, got %r" % (body.get("ip"),)) from None
        knoc_limit = self.knocs[knoc_id]["grant_duration_minutes"]
        duration = body.get("duration_minutes")
        if duration is None:
            duration = knoc_limit or DEFAULT_GRANT_MINUTES
        else:
            check_positive_int("duration_minutes", duration)
            if knoc_limit:
                # The docs: a Knoc override is a shorter period than the user's default.
                duration = min(duration, knoc_limit)
        now = self.lab.clock.now()
        grants = self.grants[knoc_id]
        for grant in grants.values():
            if grant["username"] == username and grant["ip"] == ip and grant["expires"] > now:
                # Entries are unique per (user, IP): signing in again renews that grant.
                grant["expires"] = now + duration * 60
                self.count_write()
                return 200, grant
        grant = {"id": self.next_grant_id, "knoc_id": knoc_id, "username": username, "ip": ip,
                 "created": now, "expires": now + duration * 60}
        self.next_grant_id += 1
        grants[grant["id"]] = grant
        self.count_write()
        return 201, grant

    # -- lab control: many users sign in or out, spread over a time, without an HTTP request each --------
    # POST /devices/<knocknoc>/sign-in  {"knoc": <name or id>, "grants": [{"username", "ip"}, ...],
    #                                    "spread_seconds": 1.0}
    # POST /devices/<knocknoc>/sign-out {"knoc": ..., "grants": [{"username", "ip"}, ...], "spread_seconds": ...}
    # With spread_seconds the i-th change happens i * spread_seconds / n after the call, from a lab thread (the
    # call answers at once); without, all of them before the answer. A burst from a test client on a busy machine
    # would take longer than the second it is meant to last.
    def control(self, action, method, body):
        if action == "switches":
            return variants.control(SWITCHES, self.switches, self, method, body or {})
        if action in ("sign-in", "sign-out") and method == "POST":
            return self.control_sign(action, body)
        raise KeyError(action)

    def control_sign(self, action, body):
        if not isinstance(body, dict) or not isinstance(body.get("grants"), list):
            raise ValueError("%s needs {\"knoc\": <name or id>, \"grants\": [{\"username\", \"ip\"}, ...]}" % action)
        knoc_id = self.control_knoc(body.get("knoc"))
        changes = [dict(g) for g in body["grants"] if isinstance(g, dict)]
        if len(changes) != len(body["grants"]):
            raise ValueError("grants must be objects with username and ip")
        spread = float(body.get("spread_seconds") or 0)

        def apply(change):
            try:
                if action == "sign-in":
                    return self.render_grant(self.grant(knoc_id, change)[1])
                return self.sign_out(knoc_id, change)
            except ApiError as err:
                raise ValueError(err.message) from None

        if spread <= 0:
            return {action: [apply(change) for change in changes]}
        for change in changes:  # validate every change before the first one happens
            if action == "sign-in":
                unknown = set(change) - {"username", "ip", "duration_minutes"}
                if unknown or not isinstance(change.get("username"), str):
                    raise ValueError("invalid grant %r" % (change,))
        start = time.monotonic()

        def run():
            for index, change in enumerate(changes):
                time.sleep(max(0.0, start + index * spread / len(changes) - time.monotonic()))
                with self.lock:
                    try:
                        apply(change)
                    except (ValueError, KeyError):
                        pass  # a bad address, or the lab was reset meanwhile: that one change does not happen
        threading.Thread(target=run, name="lab-%s-%s" % (self.name, action), daemon=True).start()
        return {"scheduled": len(changes), "spread_seconds": spread}

    def control_knoc(self, ref):
        for knoc_id, stored in self.knocs.items():
            if ref == knoc_id or ref == stored["name"]:
                return knoc_id
        raise ValueError("no knoc %r" % (ref,))

    def sign_out(self, knoc_id, change):
        """End the grants of ``change["username"]`` at ``change["ip"]``; the number ended."""
        try:
            ip = str(ipaddress.ip_address(str(change.get("ip"))))
        except ValueError:
            raise ApiError(422, "invalid_field", "ip: %r is not an address" % (change.get("ip"),)) from None
        grants = self.grants[knoc_id]
        ended = [g for g, rec in grants.items() if rec["username"] == change.get("username") and rec["ip"] == ip]
        for grant_id in ended:
            del grants[grant_id]
        if ended:
            self.count_write()
        return {"username": change.get("username"), "ip": ip, "ended": len(ended)}

    def active_grants(self, knoc_id, now):
        grants = self.grants.get(knoc_id, {})
        return [self.render_grant(grants[g]) for g in sorted(grants) if grants[g]["expires"] > now]

    @staticmethod
    def render_grant(grant):
        return {"id": grant["id"], "knoc_id": grant["knoc_id"], "username": grant["username"],
                "ip": grant["ip"], "created_at": iso(grant["created"]), "expires_at": iso(grant["expires"])}


# -- helpers -------------------------------------------------------------------------------------
def not_allowed(allow):
    return ApiError(405, "method_not_allowed", "method not allowed here", {"Allow": allow})


def invalid(field, message):
    return ApiError(422, "invalid_field", "%s: %s" % (field, message))


def json_object(request):
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    return body


def check_fields(body):
    for key in body:
        if key not in WRITABLE_FIELDS and key not in READ_ONLY_FIELDS:
            raise invalid(key, "unknown field %r" % key)


def basic_credentials(request):
    """(username, password) from an HTTP Basic header, or (None, None)."""
    auth = request.header("Authorization") or ""
    if auth[:6].lower() != "basic ":
        return None, None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None, None
    return username, password


def source_allowed(client_ip, restrictions):
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(cidr) for cidr in restrictions)


def check_positive_int(field, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(field, "must be a positive integer, got %r" % (value,))


def check_string(field, value, max_len=None):
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "must be a non-empty string, got %r" % (value,))
    if max_len and len(value) > max_len:
        raise invalid(field, "must be at most %d characters (got %d)" % (max_len, len(value)))


def check_bool(field, value):
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false, got %r" % (value,))


def normalise(doc):
    """Validate a Knoc document and fill its defaults (modelled on the seed's field tables).

    A field that does not apply to the mode must be absent or null, or equal to its default
    (dropped silently, so switching mode does not trip over a default filled in earlier).
    """
    out = {}
    out["name"] = doc.get("name")
    check_string("name", out["name"], 255)  # unconfirmed in the reference: the name length limit
    out["type"] = doc.get("type") or "firewalls_appliances"
    if out["type"] != "firewalls_appliances":
        raise invalid("type", "only 'firewalls_appliances' is modelled, got %r" % (out["type"],))
    mode = doc.get("mode")
    if mode not in MODES:
        raise invalid("mode", "must be one of %s, got %r" % (", ".join(MODES), mode))
    out["mode"] = mode
    out["vendor"] = doc.get("vendor") or "fortinet"
    if out["vendor"] != "fortinet":
        raise invalid("vendor", "must be 'fortinet', got %r" % (out["vendor"],))
    fmg = doc.get("use_fortimanager", False)
    fmg = False if fmg is None else fmg
    check_bool("use_fortimanager", fmg)
    out["use_fortimanager"] = fmg
    insecure = doc.get("insecure", False)
    insecure = False if insecure is None else insecure
    check_bool("insecure", insecure)
    out["insecure"] = insecure
    description = doc.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid("description", "must be a string")
    out["description"] = description or ""
    duration = doc.get("grant_duration_minutes")
    if duration is not None:
        check_positive_int("grant_duration_minutes", duration)
    out["grant_duration_minutes"] = duration

    needs_device = mode in ("passive_plus", "active")  # passive needs no agent nor device access
    fortigate_direct = not fmg

    def conditional(field, applies, default, why):
        value = doc.get(field)
        if value == "":
            value = None  # the seed's forms: a blank field takes its default ("blank = root")
        if applies:
            return default if value is None else value
        if value is not None and value != default:
            raise invalid(field, "does not apply %s" % why)
        return None

    device_url = conditional("device_url", needs_device, None, "to passive mode (no device access)")
    if needs_device:
        if device_url is None:
            raise invalid("device_url", "is required in %s mode" % mode)
        check_string("device_url", device_url)
        parsed = urllib.parse.urlsplit(device_url)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise invalid("device_url", "must be an http(s) URL such as https://fw.example.com, got %r"
                          % device_url)
    out["device_url"] = device_url
    token = conditional("authorization_token", needs_device, None, "to passive mode (no device access)")
    if needs_device:
        if token is None:
            raise invalid("authorization_token", "is required in %s mode" % mode)
        check_string("authorization_token", token)
    out["authorization_token"] = token

    # The seed: ADOM is FortiManager only, blank = root.
    out["adom"] = conditional("adom", fmg, "root", "without use_fortimanager")
    if out["adom"] is not None:
        check_string("adom", out["adom"])
    name = conditional("external_connector_name", mode == "passive_plus", None, "outside passive_plus mode")
    if mode == "passive_plus":
        if name is None:
            raise invalid("external_connector_name", "is required in passive_plus mode")
        check_string("external_connector_name", name, EXTERNAL_CONNECTOR_MAX)
    out["external_connector_name"] = name
    # Device targets scope a FortiManager push/install; FMG trusted hosts (active) have none.
    targets = conditional("device_targets", fmg and mode in ALLOWLIST_MODES, [],
                          "except with use_fortimanager in passive or passive_plus mode")
    if targets is not None:
        if not isinstance(targets, list):
            raise invalid("device_targets", "must be a list of strings")
        for target in targets:
            check_string("device_targets", target)
        targets = list(targets)
    out["device_targets"] = targets
    active_fgt = mode == "active" and fortigate_direct
    group = conditional("address_group", active_fgt, None, "except in active mode on a FortiGate")
    if active_fgt:
        if group is None:
            raise invalid("address_group", "is required in active mode on a FortiGate")
        check_string("address_group", group, 79)  # FortiOS address-group names hold 79 characters
    out["address_group"] = group
    out["prefix"] = conditional("prefix", active_fgt, "kk_", "except in active mode on a FortiGate")
    if out["prefix"] is not None:
        check_string("prefix", out["prefix"], PREFIX_MAX)
    out["vdom"] = conditional("vdom", fortigate_direct and needs_device, "root",
                              "except to a FortiGate in passive_plus or active mode")
    if out["vdom"] is not None:
        check_string("vdom", out["vdom"])
    # The docs: an allowlist key's IP restrictions default to the whole IPv4+IPv6 Internet.
    restrictions = conditional("allowlist_ip_restrictions", mode in ALLOWLIST_MODES, ANYWHERE,
                               "in active mode (no allowlist)")
    if restrictions is not None:
        if not isinstance(restrictions, list) or not restrictions:
            raise invalid("allowlist_ip_restrictions", "must be a non-empty list of CIDRs")
        try:
            restrictions = [str(ipaddress.ip_network(c, strict=False)) for c in restrictions]
        except (TypeError, ValueError) as exc:
            raise invalid("allowlist_ip_restrictions", str(exc)) from None
    out["allowlist_ip_restrictions"] = restrictions
    return out
