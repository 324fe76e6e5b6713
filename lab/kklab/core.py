"""The lab's plumbing: certificates, one HTTPS server per device, faults, counters and the clock.

Every emulated device is a :class:`Device` subclass that turns a :class:`Request` into a
:class:`Response`; this module owns everything that is the same for all of them.
"""

import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme


class LabClock:
    """Virtual time: real time scaled by ``speed`` plus whatever tests ``advance``.

    Feeds poll and grants expire on this clock, so a test can jump five minutes ahead
    instead of waiting for them.
    """

    def __init__(self, speed=1.0):
        self.speed = float(speed)
        self._real_start = time.time()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return self._real_start + (time.time() - self._real_start) * self.speed + self._offset

    def advance(self, seconds):
        with self._lock:
            self._offset += float(seconds)


class Request:
    """One HTTP request as a device sees it."""

    def __init__(self, method, target, headers, body, client_ip):
        self.method = method.upper()
        parsed = urllib.parse.urlsplit(target)
        # FortiOS decodes %2F in an mkey, so split the raw path first and decode each segment.
        self.raw_path = parsed.path
        self.segments = [urllib.parse.unquote(s) for s in parsed.path.split("/") if s]
        self.path = "/" + "/".join(self.segments)
        self.query_string = parsed.query
        self.query_multi = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.query = {k: v[0] for k, v in self.query_multi.items()}
        self.headers = headers
        self.body = body
        self.client_ip = client_ip

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        """The body as JSON; raises ValueError when it is not."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def bearer_token(self):
        auth = self.header("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None


class Response:
    def __init__(self, status=200, body=None, headers=None, content_type="application/json"):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type

    def encoded(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, indent=1).encode("utf-8")


class Fault:
    """A misbehaviour injected through the control endpoint.

    kind: ``status`` (answer with ``status``), ``jsonrpc`` (FortiManager: answer every param
    with ``code``), ``malformed`` (200 with a body that is not JSON), ``delay`` (sleep
    ``seconds`` then answer normally), ``drop`` (close the connection without an answer),
    ``wrong_cert`` (present a certificate issued for another name).
    ``match`` is a regular expression searched in the request path (with query string);
    ``count`` limits how many requests it hits (None: until cleared); ``skip`` lets the first
    ``skip`` matching requests through untouched (e.g. to fail a write after its read).
    """

    KINDS = ("status", "jsonrpc", "malformed", "delay", "drop", "wrong_cert")

    def __init__(self, kind, status=None, code=None, message=None, seconds=0.0, match=None, count=None, skip=0):
        if kind not in self.KINDS:
            raise ValueError("fault kind must be one of %s" % ", ".join(self.KINDS))
        if kind == "status" and not status:
            raise ValueError("a status fault needs 'status'")
        if kind == "jsonrpc" and code is None:
            raise ValueError("a jsonrpc fault needs 'code'")
        self.kind = kind
        self.status = int(status) if status else None
        self.code = int(code) if code is not None else None
        self.message = message
        self.seconds = float(seconds or 0)
        self.match = re.compile(match) if match else None
        self.remaining = int(count) if count is not None else None
        self.skip = int(skip or 0)

    @classmethod
    def from_dict(cls, data):
        allowed = {"kind", "status", "code", "message", "seconds", "match", "count", "skip"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError("unknown fault fields: %s" % ", ".join(sorted(unknown)))
        return cls(**data)

    def matches(self, target):
        return self.match is None or bool(self.match.search(target))

    def as_dict(self):
        return {
            "kind": self.kind, "status": self.status, "code": self.code, "message": self.message,
            "seconds": self.seconds, "match": self.match.pattern if self.match else None,
            "remaining": self.remaining, "skip": self.skip,
        }


class Device:
    """Base of every emulated device: state lock, counters, faults and the HTTPS endpoint.

    Subclasses implement :meth:`handle` (called with :attr:`lock` held, so a device never
    loses a write to a concurrent one), :meth:`reset` and :meth:`describe`; they call
    :meth:`count_write` for every request that changes state.
    """

    kind = "device"

    def __init__(self, lab, name, serial, version):
        self.lab = lab
        self.name = name
        self.serial = serial
        self.version = version
        self.lock = threading.RLock()
        self.faults = []
        self.requests = 0
        self.writes = 0
        self.server = None
        self.url = None

    def cert_names(self):
        """Names in the device certificate: appliances carry their serial number, not an IP."""
        return [self.serial]

    # -- helpers for subclasses -------------------------------------------------------------
    def version_at_least(self, wanted):
        return parse_version(self.version) >= parse_version(wanted)

    def count_write(self, n=1):
        self.writes += n

    # -- to implement -----------------------------------------------------------------------
    def handle(self, request):
        raise NotImplementedError

    def reset(self):
        """Put the device back in its initial state (tokens and URL stay the same)."""
        raise NotImplementedError

    def describe(self):
        """What lab.json says about this device (tokens included: it is the lab's own file)."""
        return {"kind": self.kind, "name": self.name, "url": self.url, "serial": self.serial,
                "version": self.version, "tls_server_name": self.serial}

    def dump(self):
        """The device's whole state, for tests and debugging."""
        return {}

    def control(self, action, method, body):
        """Device-specific control actions under /devices/<name>/<action>."""
        raise KeyError(action)

    def tick(self, now):
        """Periodic work on the lab clock (feed polls, grant expiry)."""

    def fault_response(self, request, fault):
        """The answer to a ``status`` or ``jsonrpc`` fault, in the device's own envelope."""
        return Response(fault.status or 500, {"status": "error", "http_status": fault.status})

    # -- fault bookkeeping -------------------------------------------------------------------
    def take_fault(self, target, kinds):
        with self.lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.matches(target):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def wants_wrong_cert(self):
        with self.lock:
            return any(f.kind == "wrong_cert" for f in self.faults)


def parse_version(text):
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


MALFORMED_BODY = b'{"http_method": "GET", "results": [<html><body>502 Bad Gateway</body></html>'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "xxxxxxxx-xxxxx"  # FortiOS answers with this placeholder Server header
    sys_version = ""
    # Headers and body go out in two writes; without TCP_NODELAY each keep-alive request waits
    # ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - quiet: the lab prints its own summary
        pass

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self):
        device = self.server.device
        body = self._read_body()
        request = Request(self.command, self.path, self.headers, body, self.client_address[0])
        target = self.path
        with device.lock:
            device.requests += 1
        fault = device.take_fault(target, ("delay",))
        if fault:
            time.sleep(fault.seconds)
        fault = device.take_fault(target, ("drop",))
        if fault:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        fault = device.take_fault(target, ("malformed",))
        if fault:
            self._send(Response(200, MALFORMED_BODY, content_type="application/json"))
            return
        fault = device.take_fault(target, ("status", "jsonrpc"))
        if fault:
            self._send(device.fault_response(request, fault))
            return
        try:
            with device.lock:
                response = device.handle(request)
        except Exception as exc:  # an emulator bug must show up as a 500, not a hung client
            import traceback
            traceback.print_exc()
            response = Response(500, {"status": "error", "http_status": 500, "lab_error": repr(exc)})
        self._send(response)

    def _send(self, response):
        payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class DeviceServer(ThreadingHTTPServer):
    """HTTPS server of one device. TLS is set up per connection, in the handler thread,
    so that a ``wrong_cert`` fault takes effect on the next connection."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, device, good_context, wrong_context):
        self.device = device
        self.good_context = good_context
        self.wrong_context = wrong_context
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address):
        context = self.wrong_context if self.device.wants_wrong_cert() else self.good_context
        request.settimeout(30)
        try:
            tls = context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate (as it should when it is wrong)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass  # broken pipes from clients that gave up are not the lab's problem


class CertificateAuthority:
    """The lab's private CA; appliance certificates carry the device serial as their name."""

    def __init__(self, directory):
        self.ca = trustme.CA(organization_name="Knocknoc Lab", organization_unit_name="lab CA")
        self.directory = directory
        self.ca_path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self._shared = {}
        self._lock = threading.Lock()

    def server_context(self, *names):
        cert = self.ca.issue_cert(*names, common_name=names[0])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        return context

    def shared_server_context(self, *names):
        """One context for ``names``, issued once per lab: the ``wrong_cert`` certificate is the
        same for every device, and issuing it per device doubled the start time of a big fleet."""
        with self._lock:
            if names not in self._shared:
                self._shared[names] = self.server_context(*names)
            return self._shared[names]

    def client_context(self):
        context = ssl.create_default_context(cafile=str(self.ca_path))
        return context


def start_device(device, authority):
    good = authority.server_context(*device.cert_names())
    wrong = authority.shared_server_context("wrong-name.invalid")
    server = DeviceServer(device, good, wrong)
    device.server = server
    device.url = "https://127.0.0.1:%d" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="lab-%s" % device.name, daemon=True)
    thread.start()
    return server


def stop_servers(servers):
    """Shut ``servers`` (socketserver servers running ``serve_forever``) down, all at once.

    ``shutdown()`` returns only when the server's loop notices the request, which it checks
    every poll interval (0.5 s): one after the other, a fleet of 200 took 16 s to stop. Asking
    every server at the same time bounds the wait to about one interval.
    """
    servers = [s for s in servers if s is not None]
    threads = [threading.Thread(target=s.shutdown, name="lab-stop", daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for server in servers:
        server.server_close()
