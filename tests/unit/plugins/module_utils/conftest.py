# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny scripted HTTPS server for the client tests.

Its certificate is issued by a private CA (trustme) to a serial-like name and not to
127.0.0.1, as on a Fortinet appliance, so verification by URL host fails unless the client is
told the certificate name.
"""

import hashlib
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

SERIAL = "FGVM01TM00000042"


class Recorded(object):
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms stalls

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Recorded(self.command, self.path, dict(self.headers.items()), body)
        owner = self.server.owner
        owner.requests.append(request)
        status, headers, payload = owner.handler(request)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode("utf-8")
            headers = dict({"Content-Type": "application/json"}, **(headers or {}))
        elif isinstance(payload, str):
            payload = payload.encode("utf-8")
        payload = payload or b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def process_request(self, request, client_address):
        self.owner.connections += 1  # one per TLS connection: proves keep-alive reuse
        super(_Server, self).process_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout tests) breaks the pipe: expected, keep output clean


class FakeServer(object):
    """``handler(request) -> (status, headers, body)``; ``requests`` records what arrived and
    ``connections`` counts the TLS connections accepted."""

    def __init__(self, context):
        self.requests = []
        self.connections = 0
        self.handler = lambda request: (200, {}, {"status": "success"})
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def script(self, *answers):
        """Answer the next requests with these (status, headers, body) tuples, then repeat the last."""
        answers = list(answers)

        def handler(request):
            return answers.pop(0) if len(answers) > 1 else answers[0]
        self.handler = handler

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def serial():
    """The name in the fake server's certificate."""
    return SERIAL


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def leaf(ca):
    return ca.issue_cert(SERIAL)


@pytest.fixture(scope="session")
def ca_path(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def fingerprint(leaf):
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode("ascii"))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


@pytest.fixture
def server(leaf):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    instance = FakeServer(context)
    yield instance
    instance.stop()


@pytest.fixture
def tls(ca_path):
    """Client keyword arguments that verify the fake server properly (CA + serial name)."""
    return {"ca_path": ca_path, "tls_server_name": SERIAL}


@pytest.fixture
def free_port():
    """A local port nothing listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Sleeps(list):
    """Injected instead of time.sleep: records the waits, never sleeps."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()
