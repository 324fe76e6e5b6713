# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HttpClient against a real local HTTPS server: TLS, retries, error mapping, counting."""

import time

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import (
    HttpClient,
    normalize_fingerprint,
    resolve_tls_params,
    unverified_devices,
)

SERIAL = "FGVM01TM00000042"  # the name in the fake server's certificate (conftest)
OK = (200, {}, {"status": "success"})


def make(url, sleeps=None, **kwargs):
    client = HttpClient(url, **kwargs)
    if sleeps is not None:
        client.sleep = sleeps
    return client


def failure(callable_, *args, **kwargs):
    with pytest.raises(KnocknocError) as info:
        callable_(*args, **kwargs)
    return info.value


# -- TLS -------------------------------------------------------------------------------------------
def test_verification_is_on_by_default(server):
    err = failure(make(server.url).request, "GET", "/x")
    assert err.code == 202003
    assert "(agent error #202003) TLS/SSL certificate error" in str(err)
    assert server.requests == []


def test_ca_path_alone_fails_on_the_name_an_appliance_certificate_carries(server, ca_path):
    # The certificate names the serial, not 127.0.0.1: a trusted CA is not enough.
    err = failure(make(server.url, ca_path=ca_path).request, "GET", "/x")
    assert err.code == 202003
    assert "does not match" in err.cause


def test_ca_path_and_tls_server_name_verify(server, ca_path):
    client = make(server.url, ca_path=ca_path, tls_server_name=SERIAL)
    response = client.request("GET", "/api/x")
    assert response.status == 200 and response.data == {"status": "success"}
    assert server.requests[0].path == "/api/x"


def test_wrong_server_name_is_a_tls_error(server, ca_path):
    err = failure(make(server.url, ca_path=ca_path, tls_server_name="FGVM01TM99999999").request, "GET", "/x")
    assert err.code == 202003
    assert "FGVM01TM99999999" in err.cause


def test_fingerprint_pin_replaces_the_chain(server, fingerprint):
    client = make(server.url, tls_fingerprint=fingerprint)  # no CA given: the pin is enough
    assert client.request("GET", "/x").status == 200


def test_wrong_fingerprint_is_refused(server):
    err = failure(make(server.url, tls_fingerprint="AB" * 32).request, "GET", "/x")
    assert err.code == 202003
    assert "tls_fingerprint" in err.cause
    assert server.requests == []


def test_insecure_accepts_any_certificate(server, recwarn):
    unverified_devices()
    client = make(server.url, validate_certs=False)
    assert client.request("GET", "/x").status == 200 and client.request("GET", "/y").status == 200
    assert not [w for w in recwarn if "Unverified HTTPS" in str(w.message)]
    # Instead of urllib3's warning on stderr per request: the device, once, for the module's warning.
    assert unverified_devices() == [server.url] and unverified_devices() == []


def test_a_fingerprint_pin_is_not_unverified(server, fingerprint):
    unverified_devices()
    assert make(server.url, tls_fingerprint=fingerprint, validate_certs=False).request("GET", "/x").status == 200
    assert unverified_devices() == []


def test_fingerprint_formats():
    hexdigits = "ab" * 32
    assert normalize_fingerprint(":".join(["AB"] * 32)) == hexdigits
    assert normalize_fingerprint("sha256 Fingerprint=" + ":".join(["AB"] * 32)) == hexdigits
    err = failure(normalize_fingerprint, "AB:CD")
    assert err.code is None and "tls_fingerprint" in str(err)


def test_bad_urls_are_refused_before_any_call(ca_path):
    assert "https://" in str(failure(HttpClient, "http://fw.example.com"))
    err = failure(HttpClient, "https://admin:s3cret@fw.example.com")
    assert "s3cret" not in str(err) and "credentials" in str(err)
    assert "ca_path" in str(failure(HttpClient, "https://fw.example.com", ca_path="/nonexistent/ca.pem"))


# -- transport failures ----------------------------------------------------------------------------
def test_refused_port_is_202000_and_retried_even_for_post(free_port, sleeps):
    # The connection never opened, so repeating even a POST cannot do anything twice.
    client = make("https://127.0.0.1:%d" % free_port, sleeps, retries=2)
    err = failure(client.request, "POST", "/x", json={})
    assert err.code == 202000
    assert "connection refused" in err.cause and "POST /x" in err.cause
    assert client.calls == 3 and len(sleeps) == 2


def test_timeout_is_202004_and_not_retried(server, tls, sleeps):
    def slow(request):
        time.sleep(0.6)
        return OK
    server.handler = slow
    client = make(server.url, sleeps, timeout=0.2, **tls)
    err = failure(client.request, "GET", "/slow")
    assert err.code == 202004
    assert "GET /slow" in err.cause
    assert client.calls == 1 and sleeps == []


# -- HTTP statuses -----------------------------------------------------------------------------------
def test_401_and_403_map_and_are_never_retried(server, tls, sleeps):
    client = make(server.url, sleeps, **tls)
    server.script((401, {}, {"status": "error", "http_status": 401}))
    err = failure(client.request, "GET", "/api/v2/cmdb/firewall/address", params={"vdom": "root"})
    assert err.code == 202001
    assert err.cause == "HTTP 401 on GET /api/v2/cmdb/firewall/address?vdom=root"
    assert err.details["http_status"] == 401
    server.script((403, {}, {"status": "error", "http_status": 403}))
    assert failure(client.request, "GET", "/x").code == 202002
    assert client.calls == 2 and sleeps == []


def test_503_is_retried_then_succeeds_honouring_retry_after(server, tls, sleeps):
    server.script((503, {"Retry-After": "1"}, "busy"), (503, {}, "busy"), OK)
    client = make(server.url, sleeps, **tls)
    client.jitter = lambda low, high: high  # make the random wait its upper bound
    response = client.request("GET", "/x")
    assert response.status == 200
    assert client.calls == 3 and len(server.requests) == 3
    assert sleeps == [1.0, 1.0]  # Retry-After 1 s, then base 0.5 * 2**1


def test_backoff_is_capped(server, tls, sleeps):
    server.script((429, {"Retry-After": "120"}, ""), (502, {}, ""), (504, {}, ""), (503, {}, ""))
    client = make(server.url, sleeps, retries=3, **tls)
    client.jitter = lambda low, high: high
    client.backoff_base = 4.0
    err = failure(client.request, "GET", "/x")
    assert err.code is None and err.details["http_status"] == 503 and err.details["attempts"] == 4
    assert sleeps == [5.0, 5.0, 5.0]


def test_unsafe_post_is_not_retried(server, tls, sleeps):
    server.script((503, {}, "busy"), OK)
    client = make(server.url, sleeps, **tls)
    err = failure(client.request, "POST", "/x", json={"a": 1})
    assert err.details["http_status"] == 503
    assert client.calls == 1 and sleeps == [] and len(server.requests) == 1


def test_post_marked_idempotent_is_retried(server, tls, sleeps):
    server.script((503, {}, "busy"), OK)
    client = make(server.url, sleeps, **tls)
    assert client.request("POST", "/x", json={}, idempotent=True).status == 200
    assert client.calls == 2


def test_body_that_is_not_json_is_202150(server, tls):
    server.script((200, {"Content-Type": "application/json"}, b'{"results": [<html>502</html>'))
    err = failure(make(server.url, **tls).request, "GET", "/x")
    assert err.code == 202150
    assert "not JSON" in err.cause


def test_redirects_are_not_followed(server, tls):
    server.script((302, {"Location": "https://login.example.com/"}, ""))
    err = failure(make(server.url, **tls).request, "GET", "/x")
    assert err.code == 202150 and "redirect" in err.cause


def test_allow_status_returns_the_answer(server, tls):
    server.script((404, {}, {"status": "error", "http_status": 404}))
    response = make(server.url, **tls).request("GET", "/x", allow_status=(404,))
    assert response.status == 404 and response.data["http_status"] == 404


def test_one_session_reuses_the_connection(server, tls):
    client = make(server.url, **tls)
    for attempt in range(5):
        client.request("GET", "/x?n=%d" % attempt)
    assert client.calls == 5 and len(server.requests) == 5
    assert server.connections == 1


def test_resolve_tls_params_from_environment():
    env = {"FORTIGATE_VALIDATE_CERTS": "false", "FORTIGATE_TIMEOUT": "7", "FORTIGATE_TLS_SERVER_NAME": SERIAL}
    resolved = resolve_tls_params({"timeout": None, "validate_certs": None}, "FORTIGATE", env)
    assert resolved == {"validate_certs": False, "ca_path": None, "tls_server_name": SERIAL,
                        "tls_fingerprint": None, "timeout": 7, "retries": 3}
    assert resolve_tls_params({"timeout": 3}, "FORTIGATE", env)["timeout"] == 3
    assert "FORTIGATE_TIMEOUT" in str(failure(resolve_tls_params, {}, "FORTIGATE", {"FORTIGATE_TIMEOUT": "x"}))
