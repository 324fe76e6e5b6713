"""The lab's plumbing: certificates, one HTTPS server per device, faults, counters and the clock.

Every emulated device is a :class:`Device` subclass that turns a :class:`Request` into a
:class:`Response`; this module owns everything that is the same for all of them.
"""

import json
import re
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .certs import DeviceCertificate, choose_shape


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
        """Names in a certificate from the lab CA (the ``server`` and ``serial-san`` shapes of
        certs.py); an appliance's own certificate has the shape of its firmware."""
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
        info = {"kind": self.kind, "name": self.name, "url": self.url, "serial": self.serial,
                "version": self.version, "tls_server_name": self.serial}
        certificate = getattr(self, "certificate", None)
        if certificate is not None:
            # What a client needs to verify this device (see certs.py): its trust anchor, the name
            # to check (the serial for CN-only and serial-SAN certificates, the URL's address for
            # FortiOS 7.2.1+), the leaf's SHA-256 fingerprint and the names the certificate carries.
            info.update({"ca_path": certificate.ca_path, "tls_server_name": certificate.server_name,
                         "tls_fingerprint": certificate.describe()["sha256"], "certificate": certificate.describe()})
        return info

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
        self._good = good_context
        self._wrong = wrong_context
        super().__init__(("127.0.0.1", 0), _Handler)

    # Either context may be made by the first connection that needs it (a LazyContext, or the
    # device's DeviceCertificate, whose context is made again after a regenerate()).
    @property
    def good_context(self):
        return self._good.get() if hasattr(self._good, "get") else self._good

    @property
    def wrong_context(self):
        return self._wrong.get() if isinstance(self._wrong, LazyContext) else self._wrong

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


class LazyContext:
    """A server SSL context made on first use.

    Issuing and loading a certificate is most of a device's start-up (a few ms each): made lazily,
    a fleet of 200 starts without 200 certificates up front, and a device nobody talks to never
    gets one. The first connection to a device pays for it once.
    """

    def __init__(self, make):
        self._make = make
        self._context = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._context is None:
                self._context = self._make()
            return self._context


class CertificateAuthority:
    """The lab's private CA; appliance certificates carry the device serial as their name."""

    def __init__(self, directory):
        self.ca = trustme.CA(organization_name="Knocknoc Lab", organization_unit_name="lab CA")
        self.directory = directory
        self.ca_path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self._shared = {}
        # Certificates are issued from handler threads (see LazyContext): one at a time.
        self._lock = threading.RLock()

    def issue(self, names):
        """A certificate from the lab CA for ``names`` (subjectAltNames, the first also the CN), as
        ``(private key, certificate)`` cryptography objects."""
        with self._lock:
            leaf = self.ca.issue_cert(*names, common_name=names[0])
        key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
        return key, x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())

    def server_context(self, *names):
        with self._lock:
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


class AcceptLoop:
    """One thread that accepts the connections of many servers (every device of a lab).

    With a ``serve_forever()`` thread per server, a fleet of 200 meant 200 threads to start (slow on
    a loaded machine), 400 idle wake-ups a second (each loop polls for a shutdown request every
    0.5 s), and a stop that waited for those polls. One selector over every listening socket starts
    at once and stops at once. Each connection is still served in a thread of its own
    (``ThreadingHTTPServer.process_request``), TLS handshake included, so a slow client holds up
    no one.
    """

    def __init__(self, name="lab-accept"):
        self._selector = selectors.DefaultSelector()
        # Written to by stop(), so that the select() in progress returns.
        self._wake_recv, self._wake_send = socket.socketpair()
        self._wake_recv.setblocking(False)
        self._selector.register(self._wake_recv, selectors.EVENT_READ, None)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.servers = []

    def add(self, server):
        """Accept for ``server`` (a socketserver server, not running ``serve_forever``).
        Connections that arrive before :meth:`start` wait in the listen backlog."""
        self._selector.register(server.socket, selectors.EVENT_READ, server)
        self.servers.append(server)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stopping.is_set():
            for key, _events in self._selector.select():
                if key.data is None:
                    continue  # the wake-up from stop()
                # What serve_forever() does for a readable socket: accept, then hand the
                # connection to a new thread.
                key.data._handle_request_noblock()  # pylint: disable=protected-access

    def stop(self):
        """Stop accepting and close every server's listening socket."""
        self._stopping.set()
        try:
            self._wake_send.send(b"x")
        except OSError:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for server in self.servers:
            server.server_close()
        self._selector.close()
        self._wake_recv.close()
        self._wake_send.close()


def start_device(device, authority, loop=None):
    """Bind the device's HTTPS server on 127.0.0.1 (a free port) and serve it: through ``loop``
    (an :class:`AcceptLoop`) when given, else in a ``serve_forever()`` thread of its own."""
    # The certificate of the device's shape (certs.py): made now, since lab.json names its CA file
    # and fingerprint; its server context is made on the first connection.
    device.certificate = DeviceCertificate(device, authority,
                                           choose_shape(device, getattr(device, "certificate_request", None)))
    good = device.certificate
    wrong = LazyContext(lambda: authority.shared_server_context("wrong-name.invalid"))
    server = DeviceServer(device, good, wrong)
    device.server = server
    device.url = "https://127.0.0.1:%d" % server.server_address[1]
    if loop is not None:
        loop.add(server)
    else:
        threading.Thread(target=server.serve_forever, name="lab-%s" % device.name, daemon=True).start()
    return server
