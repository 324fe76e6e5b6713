# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KnocknocClient: the documented allowlist and the modelled management API."""

import base64

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import (
    KnocknocClient,
    knocknoc_argspec,
    parse_allowlist,
)

ADMIN = "adm-Vq3Lx8Rk1Zp6Tn9Wc2Hs5Jf7Bd4"
KEY = "key-Mz4Np7Qw2Er9Ty5Ui8Op1As3Df6"


@pytest.fixture
def kk(server, tls):
    return KnocknocClient(server.url, ADMIN, **tls)


def failure(callable_, *args, **kwargs):
    with pytest.raises(KnocknocError) as info:
        callable_(*args, **kwargs)
    return info.value


def test_parse_allowlist_like_the_traefik_plugin():
    text = "# Knocknoc\n\n 203.0.113.5 \n2001:db8::7\n[2001:db8::8]\nfe80::1%eth0\n198.51.100.0/24\nnot-an-ip\n"
    entries, invalid = parse_allowlist(text)
    assert entries == ["203.0.113.5", "2001:db8::7", "2001:db8::8", "fe80::1", "198.51.100.0/24"]
    assert invalid == ["not-an-ip"]


def test_allowlist_uses_basic_auth_and_skips_bad_lines(kk, server):
    server.script((200, {"Content-Type": "text/plain"}, "203.0.113.5\n# note\n\nbogus\n2001:db8::7\n"))
    entries = kk.allowlist(server.url + "/api/v1/allowlists/7/tok.txt", KEY)
    assert entries == ["203.0.113.5", "2001:db8::7"]
    assert kk.allowlist_skipped == ["bogus"]
    request = server.requests[0]
    assert request.path == "/api/v1/allowlists/7/tok.txt"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(("apikey:" + KEY).encode()).decode()


def test_allowlist_json(kk, server):
    server.script((200, {}, {"acl_id": 7, "entries": ["203.0.113.5", "x"]}))
    assert kk.allowlist("/api/v1/allowlists/7/tok.json", KEY, username="edl") == ["203.0.113.5"]
    server.script((200, {}, {"acl_id": 7}))
    assert failure(kk.allowlist, "/api/v1/allowlists/7/tok.json", KEY).code is None


def test_allowlist_refuses_credentials_in_the_url(kk, server):
    err = failure(kk.allowlist, "https://apikey:%s@127.0.0.1/api/v1/allowlists/7/tok.txt" % KEY, KEY)
    assert "credentials" in str(err) and KEY not in str(err.fail_kwargs())
    assert server.requests == []


def test_allowlist_errors_have_no_agent_code_and_no_key(kk, server):
    server.script((401, {"WWW-Authenticate": 'Basic realm="knocknoc"'}, "unauthorized " + KEY))
    err = failure(kk.allowlist, "/api/v1/allowlists/7/tok.txt", KEY)
    assert err.code is None and str(err).startswith("(knocknoc.fortinet) Knocknoc authentication failed")
    assert KEY not in str(err.fail_kwargs())
    server.script((404, {}, "not found"))
    assert "no such allowlist" in str(failure(kk.allowlist, "/api/v1/allowlists/7/tok.txt", KEY))
    server.script((403, {}, ""))
    assert "authorization" in str(failure(kk.allowlist, "/api/v1/allowlists/7/tok.txt", KEY))


def test_management_api_shapes(kk, server):
    knoc = {"id": 3, "name": "fw", "mode": "passive"}
    allowlist = {"url": server.url + "/api/v1/allowlists/3/5be1c0de9a8f4e7d.txt", "username": "apikey", "api_key": KEY}
    server.script((201, {}, {"knoc": knoc, "allowlist": allowlist}))
    assert kk.create_knoc({"name": "fw", "mode": "passive"}) == (knoc, allowlist)
    request = server.requests[-1]
    assert (request.method, request.path) == ("POST", "/api/v1/knocs")
    assert request.headers["Authorization"] == "Bearer " + ADMIN
    assert request.json() == {"name": "fw", "mode": "passive"}
    server.script((200, {}, {"knocs": [knoc]}))
    assert kk.list_knocs(name="fw") == [knoc]
    assert server.requests[-1].path == "/api/v1/knocs?name=fw"
    server.script((200, {}, {"knoc": knoc}))
    assert kk.get_knoc(3) == knoc and kk.update_knoc(3, {"description": "x"}) == knoc
    server.script((204, {}, b""))
    assert kk.delete_knoc(3) is True and kk.delete_grant(3, 9) is True
    server.script((404, {}, {"error": {"code": "not_found", "message": "knoc 3 not found"}}))
    assert kk.get_knoc(3) is None and kk.delete_knoc(3) is False
    err = failure(kk.update_knoc, 3, {"description": "x"})
    assert "knoc 3 not found" in err.cause and err.details["knocknoc_error"] == "not_found"


def test_grants_and_key_rotation(kk, server):
    server.script((201, {}, {"grant": {"id": 9, "username": "alice", "ip": "203.0.113.5"}}))
    assert kk.create_grant(3, "alice", "203.0.113.5", duration_minutes=30)["id"] == 9
    assert server.requests[-1].json() == {"username": "alice", "ip": "203.0.113.5", "duration_minutes": 30}
    server.script((200, {}, {"grants": []}))
    assert kk.list_grants(3) == []
    server.script((200, {}, {"allowlist": {"url": "u", "username": "apikey", "api_key": KEY}}), (422, {}, {
        "error": {"code": "invalid", "message": "key %s cannot be reused" % KEY}}))
    assert kk.rotate_allowlist_key(3)["api_key"] == KEY
    err = failure(kk.create_grant, 3, "alice", "nope")
    assert err.code is None and err.details["http_status"] == 422
    assert KEY not in str(err.fail_kwargs())  # a key seen in a reply is scrubbed from later errors


def test_management_api_absent(kk, server):
    server.script((404, {"Content-Type": "text/html"}, "<html>404</html>"))
    err = failure(kk.list_knocs)
    assert "management API not available on this server" in str(err)
    assert failure(kk.get_knoc, 1).description == "Knocknoc management API not available"


def test_management_needs_the_token(server, tls):
    client = KnocknocClient(server.url, None, **tls)
    assert "KNOCKNOC_TOKEN" in str(failure(client.list_knocs))
    assert server.requests == []


def test_argspec():
    spec = knocknoc_argspec()
    assert spec["token"]["no_log"] is True and "required" not in spec["token"]
    assert spec["url"] == {"type": "str"} and spec["knocknoc"]["options"]["token"]["no_log"] is True
