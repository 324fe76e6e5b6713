# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiGateClient against a scripted FortiOS over HTTPS: URLs, auth header, envelopes, errors."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import (
    FortiGateClient,
    compare_versions,
    fortigate_argspec,
    parse_version,
    version_at_least,
)

TOKEN = "Gf5kR8tq0wZxP3nLm7Vb2Hc9Jd4Ys1"
ENVELOPE = {"vdom": "root", "serial": "FGVM01TM00000042", "version": "v7.4.4", "build": 2662}


def envelope(http=200, **fields):
    body = dict(ENVELOPE, status="success" if http < 400 else "error", http_status=http)
    body.update(fields)
    return http, {}, body


@pytest.fixture
def fgt(server, tls):
    client = FortiGateClient(server.url, TOKEN, vdom="root", **tls)
    client.sleep = lambda seconds: None
    return client


def failure(callable_, *args, **kwargs):
    with pytest.raises(KnocknocError) as info:
        callable_(*args, **kwargs)
    return info.value


def test_bearer_header_and_never_a_token_in_the_url(fgt, server):
    server.script(envelope(results=[{"name": "kk_203.0.113.5", "q_origin_key": "kk_203.0.113.5"}]))
    rows = fgt.get_table("firewall/address", filters="name=@kk_", fields=["name", "subnet"])
    assert rows == [{"name": "kk_203.0.113.5", "q_origin_key": "kk_203.0.113.5"}]
    request = server.requests[0]
    assert request.headers["Authorization"] == "Bearer " + TOKEN
    assert TOKEN not in request.path and "access_token" not in request.path
    assert request.path == "/api/v2/cmdb/firewall/address?vdom=root&filter=name%3D%40kk_&format=name%7Csubnet"


def test_mkeys_are_url_encoded_and_vdom_per_call(fgt, server):
    server.script(envelope(results=[{"name": "a/b c"}], mkey="a/b c"))
    assert fgt.get_entry("firewall/address", "a/b c", vdom="dmz") == {"name": "a/b c"}
    assert server.requests[0].path == "/api/v2/cmdb/firewall/address/a%2Fb%20c?vdom=dmz"


def test_missing_entry_is_none_and_delete_of_missing_is_false(fgt, server):
    server.script(envelope(404, mkey="gone"))
    assert fgt.get_entry("firewall/address", "gone") is None
    assert fgt.delete("firewall/address", "gone") is False
    server.script(envelope(200, mkey="kk_1", revision_changed=True))
    assert fgt.delete("firewall/address", "kk_1") is True
    assert [r.method for r in server.requests] == ["GET", "DELETE", "DELETE"]


def test_duplicate_create_carries_the_fortios_error(fgt, server):
    server.script(envelope(500, error=-5, revision_changed=False))
    err = failure(fgt.create, "firewall/address", {"name": "kk_1", "subnet": "203.0.113.5/32"})
    assert err.code is None
    assert err.details["fortios_error"] == -5 and err.details["http_status"] == 500
    assert str(err).startswith("(knocknoc.fortinet) FortiGate rejected the request: HTTP 500 on POST"
                               " /api/v2/cmdb/firewall/address?vdom=root: FortiOS error -5"
                               " (a duplicate entry already exists)")
    assert server.requests[0].json() == {"name": "kk_1", "subnet": "203.0.113.5/32"}
    assert len(server.requests) == 1  # a POST is never repeated


def test_cli_error_is_in_the_cause(fgt, server):
    cli = "node_check_object fail! for name kk_x\n\nvalue parse error before 'kk_x'\nCommand fail. Return code -651\n"
    server.script(envelope(500, error=-651, cli_error=cli))
    err = failure(fgt.add_member, "firewall/addrgrp", "kk_grp", "kk_x")
    assert "FortiOS error -651" in err.cause and "node_check_object fail! for name kk_x" in err.cause
    assert err.details["cli_error"] == cli


def test_member_add_and_remove(fgt, server):
    server.script(envelope(mkey="kk_1"))
    assert fgt.add_member("firewall/addrgrp", "kk_grp", "kk_1") is True
    assert server.requests[-1].path == "/api/v2/cmdb/firewall/addrgrp/kk_grp/member?vdom=root"
    assert server.requests[-1].json() == {"name": "kk_1"}
    server.script(envelope(500, error=-5))
    assert fgt.add_member("firewall/addrgrp", "kk_grp", "kk_1") is False
    server.script(envelope(404))
    assert fgt.remove_member("firewall/addrgrp", "kk_grp", "kk_1") is False
    assert server.requests[-1].path == "/api/v2/cmdb/firewall/addrgrp/kk_grp/member/kk_1?vdom=root"
    server.script(envelope())
    assert fgt.remove_member("firewall/addrgrp", "kk_grp", "kk_1") is True


def test_auth_errors_keep_fortios_details(fgt, server):
    server.script(envelope(403, error=-37))
    err = failure(fgt.update, "firewall/addrgrp", "kk_grp", {"comment": "x"})
    assert err.code == 202002 and err.details["fortios_error"] == -37
    server.script(envelope(401))
    err = failure(fgt.get_table, "firewall/address")
    assert err.code == 202001 and TOKEN not in str(err.fail_kwargs())


def test_system_status_is_cached(fgt, server):
    server.script(envelope(results={"hostname": "fw1", "model_name": "FortiGate-VM64"}))
    status = fgt.system_status()
    assert status == {"version": "7.4.4", "serial": "FGVM01TM00000042", "build": 2662,
                      "hostname": "fw1", "model": "FortiGate-VM64"}
    assert fgt.version_at_least("7.2.1") and not fgt.version_at_least("7.6.0")
    assert len(server.requests) == 1 and server.requests[0].path == "/api/v2/monitor/system/status?vdom=root"


def test_dynamic_push(fgt, server):
    results = [{"name": "kk_allow", "command": "add", "status": "success", "invalidEntries": ["bad"]}]
    server.script((503, {}, "busy"), envelope(results=results, action="dynamic"))
    commands = [{"name": "kk_allow", "command": "add", "entries": ["203.0.113.5", "bad"]}]
    assert fgt.dynamic_push(commands) == results
    assert server.requests[-1].path == "/api/v2/monitor/system/external-resource/dynamic?vdom=root"
    assert server.requests[-1].json() == {"commands": commands}
    assert fgt.calls == 2  # add/remove/snapshot converge, so a 503 is retried


def test_dynamic_push_command_error_raises(fgt, server):
    results = [{"name": "nope", "command": "add", "status": "error", "error": "external resource not found"}]
    server.script(envelope(results=results))
    err = failure(fgt.dynamic_push, [{"name": "nope", "command": "add", "entries": ["203.0.113.5"]}])
    assert err.code is None and "'nope'" in err.cause and "external resource not found" in err.cause
    assert err.details["results"] == results
    assert err.recode(202100).code == 202100


def test_dynamic_push_where_every_command_failed(fgt, server):
    # the lab's (and plausibly FortiOS') whole-call failure: HTTP 200, envelope status "error"
    results = [{"name": "nope", "command": "add", "status": "error", "error": "External resource nope does not exist."}]
    server.script(envelope(200, results=results, status="error"))
    err = failure(fgt.dynamic_push, [{"name": "nope", "command": "add", "entries": ["203.0.113.5"]}])
    assert "External resource nope does not exist." in err.cause and err.details["results"] == results
    server.script(envelope(400))
    err = failure(fgt.dynamic_push, [])
    assert err.details["http_status"] == 400


def test_entry_list_and_policy_lookup(fgt, server):
    server.script(envelope(results={"status": "success", "entries": [{"entry": "203.0.113.5", "valid": True}]}))
    assert fgt.entry_list("kk_allow")["entries"] == [{"entry": "203.0.113.5", "valid": True}]
    assert server.requests[-1].path == "/api/v2/monitor/system/external-resource/entry-list?vdom=root&mkey=kk_allow"
    server.script(envelope(404))
    assert fgt.entry_list("missing") is None
    server.script(envelope(results={"success": True, "policy_id": 3}))
    assert fgt.policy_lookup("port1", "203.0.113.5", "10.0.0.10", destport=443)["policy_id"] == 3
    assert server.requests[-1].path == ("/api/v2/monitor/firewall/policy-lookup?vdom=root&srcintf=port1"
                                        "&sourceip=203.0.113.5&dest=10.0.0.10&protocol=6&destport=443")


def test_malformed_envelope_is_202150(fgt, server):
    server.script((200, {}, {"results": "not a list", "status": "success"}))
    assert failure(fgt.get_table, "firewall/address").code == 202150


def test_from_params_and_argspec():
    spec = fortigate_argspec(name=dict(type="str", required=True))
    assert spec["token"]["no_log"] is True and spec["vdom"] == {"type": "str"}  # resolved at run time (_connection)
    assert spec["name"] == {"type": "str", "required": True}
    assert spec["fortigate"]["options"]["token"]["no_log"] is True
    params = {"url": "https://fw.example.com/", "token": TOKEN, "vdom": "dmz", "validate_certs": True,
              "ca_path": None, "tls_server_name": None, "tls_fingerprint": None, "timeout": 5, "retries": 1}
    client = FortiGateClient.from_params(params)
    assert (client.base_url, client.vdom, client.timeout, client.retries) == ("https://fw.example.com", "dmz", 5, 1)
    assert "token" in str(failure(FortiGateClient.from_params, dict(params, token=None)))


def test_version_helpers():
    assert parse_version("v7.4.4") == (7, 4, 4) and parse_version("7.2") == (7, 2, 0) and parse_version("") == ()
    assert compare_versions("7.2.0", "7.2.1") == -1 and compare_versions("v7.6.2", "7.6.2") == 0
    assert version_at_least("7.4.10", "7.4.5") and not version_at_least("7.2.0", "7.2.1")
