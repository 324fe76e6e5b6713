# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The clients' parsers over published real replies (tests/unit/fixtures/<api>/*.json, issue 11 item 3).

Each fixture is served as is by the scripted HTTPS server (its HTTP status, its JSON body) to the
client call that sends its request; the test asserts what the client makes of it. Every fixture
must be used here: a new one without a test fails ``test_every_fixture_is_parsed``.
"""

import json
from pathlib import Path

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _push, _trusted_host
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient, parse_allowlist
from ansible_collections.knocknoc.fortinet.plugins.modules.fortigate_object import generate_key

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TOKEN = "Rr4eA1pQ9zX7cV2bN6mK8jH3gF5dS0"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def all_fixtures():
    names = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.json"))
    assert len(names) >= 30, "fixtures not found under %s" % FIXTURES
    return names


def serve(server, name):
    """Answer every request with the fixture's reply; return the fixture."""
    data = fixture(name)
    server.script((data["http_status"], {}, data["reply"]))
    return data


@pytest.fixture
def fgt(server, tls):
    client = FortiGateClient(server.url, TOKEN, vdom="root", **tls)
    client.sleep = lambda seconds: None
    return client


@pytest.fixture
def fmg(server, tls):
    client = FortiManagerClient(server.url, TOKEN, adom="root", lock_timeout=1, lock_interval=1, task_interval=0, **tls)
    client.sleep = lambda seconds: None
    return client


def failure(callable_, *args, **kwargs):
    with pytest.raises(KnocknocError) as info:
        callable_(*args, **kwargs)
    return info.value


def test_fixtures_have_the_documented_keys():
    for name in all_fixtures():
        data = json.loads((FIXTURES / name).read_text())
        assert {"source", "firmware", "request", "http_status", "reply", "note"} <= set(data), name
        assert data["source"] and data["firmware"], name


# -- FortiOS --------------------------------------------------------------------------------------

def test_entry_list_real_742_in_force_and_spellings(fgt, server):
    serve(server, "fortios/entry_list_real_742.json")
    results = fgt.entry_list("kk_allow")
    assert server.requests[0].path.startswith("/api/v2/monitor/system/external-resource/entry-list?")
    # valid entries only, as the device spells them canonically; the range stays a range
    assert _push.in_force(results, "7.4.2") == frozenset(
        [_push.device_entry("198.51.100.7"), "198.51.100.20-198.51.100.29", _push.device_entry("203.0.113.4/16"),
         _push.device_entry("2001:db8::7")])
    spellings = _push.spellings(results)
    # a removal sends the device's own text: the uncompressed IPv6 and the CIDR with host bits
    assert spellings[_push.device_entry("2001:db8::7")] == ["2001:0db8:0000:0000:0000:0000:0000:0007"]
    assert spellings[_push.device_entry("203.0.113.4/16")] == ["203.0.113.4/16"]
    assert _push.device_entry("not-an-address") not in spellings


def test_entry_list_feed_error_has_no_entries(fgt, server):
    serve(server, "fortios/entry_list_feed_error.json")
    results = fgt.entry_list("kk_allow")
    assert "entries" not in results and results["error"]
    # the push path does not diff against a list it cannot read
    assert _push.spellings(results) == {}


def test_push_with_results(fgt, server):
    data = serve(server, "fortios/push_with_results.json")
    results = fgt.dynamic_push(data["request"]["body"]["commands"])
    assert results == data["reply"]["results"]
    assert server.requests[0].json() == data["request"]["body"]


def test_push_without_results_is_none(fgt, server):
    data = serve(server, "fortios/push_without_results.json")
    assert fgt.dynamic_push(data["request"]["body"]["commands"]) is None


def test_push_command_error_names_the_command(fgt, server):
    data = serve(server, "fortios/push_command_error.json")
    err = failure(fgt.dynamic_push, data["request"]["body"]["commands"])
    assert "'kk_missing'" in err.cause and "Failed to process command." in err.cause
    assert err.details["results"] == data["reply"]["results"]


def test_cmdb_get_table(fgt, server):
    data = serve(server, "fortios/cmdb_get_table.json")
    rows = fgt.get_table("firewall/address", filters="name=@kk_")
    assert rows == data["reply"]["results"] and rows[0]["subnet"] == "198.51.100.7 255.255.255.255"


def test_cmdb_get_entry(fgt, server):
    serve(server, "fortios/cmdb_get_entry.json")
    row = fgt.get_entry("system/external-resource", "kk_allow")
    assert row["name"] == "kk_allow" and row["update-method"] == "feed"


def test_cmdb_get_missing_is_none(fgt, server):
    serve(server, "fortios/cmdb_get_missing_404.json")
    assert fgt.get_entry("firewall/address6", "kk_absent") is None


def test_cmdb_post_duplicate_carries_error_5(fgt, server):
    serve(server, "fortios/cmdb_post_duplicate.json")
    err = failure(fgt.create, "firewall/address", {"name": "kk_198.51.100.7"})
    assert err.details["fortios_error"] == -5 and err.details["http_status"] == 500
    assert "FortiOS error -5" in err.cause


def test_cmdb_post_reference_651_first_cli_line(fgt, server):
    serve(server, "fortios/cmdb_post_reference_651.json")
    err = failure(fgt.create, "firewall/addrgrp", {"name": "kk_grp"})
    assert err.details["fortios_error"] == -651
    assert err.cause.endswith("node_check_object fail! for name kk_nowhere")


def test_cmdb_post_ok(fgt, server):
    serve(server, "fortios/cmdb_post_ok.json")
    reply = fgt.create("firewall/address", {"name": "kk_198.51.100.8"})
    assert reply["mkey"] == "kk_198.51.100.8" and reply["revision_changed"] is True


def test_system_status(fgt, server):
    serve(server, "fortios/system_status.json")
    status = fgt.system_status()
    assert status["version"] == "7.4.4" and status["serial"] == "FGVM01TM00000000" and status["build"] == 2662
    assert status["hostname"] == "kk-fgt-lab"


def test_policy_lookup(fgt, server):
    serve(server, "fortios/policy_lookup.json")
    results = fgt.policy_lookup("port1", "198.51.100.7", "10.0.0.10", protocol="tcp", destport=443)
    assert results["policy_id"] == 3 and results["success"] is True
    assert "protocol=6" in server.requests[0].path


@pytest.mark.parametrize("name", ["fortios/generate_key_access_token.json", "fortios/generate_key_api_key.json"])
def test_generate_key_either_field(fgt, server, name):
    serve(server, name)
    assert generate_key(fgt, "kk-passiveplus", "root") == "k0k1k2k3k4k5k6k7k8k9kAkBkCkDkE"


# -- FortiManager ----------------------------------------------------------------------------------

def rpc_of(data):
    return data["request"]["method"], data["request"]["params"][0]


def test_rpc_ok(fmg, server):
    data = serve(server, "fortimanager/rpc_ok_set.json")
    method, param = rpc_of(data)
    assert fmg.call(method, param["url"], data=param["data"]) == {"name": "kk_198.51.100.7"}


def test_rpc_minus11_after_the_retries(fmg, server):
    data = serve(server, "fortimanager/rpc_no_permission_11.json")
    method, param = rpc_of(data)
    err = failure(fmg.call, method, param["url"], data=param["data"])
    # -11 on the call and its 3 retries, -11 on /sys/status asked twice too: the key itself is refused
    assert err.code == 202001 and len(server.requests) == 4 + 2


def test_rpc_invalid_url_is_unknown_adom(fmg, server):
    serve(server, "fortimanager/rpc_invalid_url_6.json")
    err = failure(fmg.get_or_none, "/pm/config/adom/nowhere/obj/firewall/address", adom="nowhere")
    assert err.code == 202101 and err.details["jsonrpc_code"] == -6


def test_rpc_not_found_is_none(fmg, server):
    serve(server, "fortimanager/rpc_not_found_3.json")
    assert fmg.get_or_none("/pm/config/adom/root/obj/firewall/address/kk_absent") is None


def test_sys_status(fmg, server):
    serve(server, "fortimanager/sys_status.json")
    data = fmg.call("get", "/sys/status")
    assert data["Serial Number"] == "FMG-VM0000000000" and data["Version"].startswith("v7.6.2")


def test_dvmdb_devices(fmg, server):
    data = serve(server, "fortimanager/dvmdb_devices.json")
    _method, param = rpc_of(data)
    devices = fmg.call("get", param["url"], fields=param["fields"])
    assert [d["name"] for d in devices] == ["fgt1"] and devices[0]["vdom"][0]["name"] == "root"


def test_dvmdb_groups_object_member(fmg, server):
    serve(server, "fortimanager/dvmdb_groups.json")
    groups = fmg.call("get", "/dvmdb/adom/root/group", option=["object member"])
    assert groups[0]["object member"] == [{"name": "fgt1", "vdom": "root", "oid": 276, "vdom_oid": 3}]
    assert server.requests[0].json()["params"][0]["option"] == ["object member"]


def test_admin_user_trusthost_slots(fmg, server):
    serve(server, "fortimanager/admin_user.json")
    slots, profiles = _trusted_host.read_admin(fmg, "alice")
    assert profiles == {}  # no th-from-profile: the user's own slots decide
    assert _trusted_host.admitting(slots, "198.51.100.7", _trusted_host.slot_names()) == ["trusthost1"]
    assert _trusted_host.admitting(slots, "2001:db8::7", _trusted_host.slot_names()) == ["ipv6_trusthost1"]
    assert _trusted_host.masking_slots(slots, 4) == [] and not _trusted_host.admits(slots["trusthost10"], "198.51.100.7")
    assert server.requests[0].json()["params"][0]["url"] == "/cli/global/system/admin/user/alice"


def test_proxy_per_device_ok(fmg, server):
    data = serve(server, "fortimanager/proxy_ok.json")
    payload = data["request"]["params"][0]["data"]
    items = fmg.proxy("post", payload["resource"], payload["payload"], targets=payload["target"])
    assert len(items) == 1
    assert items[0]["target"] == "fgt1" and items[0]["ok"] is True and items[0]["http_status"] == 200
    assert items[0]["response"]["mkey"] == "kk_198.51.100.10"


def test_proxy_per_device_error(fmg, server):
    data = serve(server, "fortimanager/proxy_device_error.json")
    payload = data["request"]["params"][0]["data"]
    (item,) = fmg.proxy("get", payload["resource"], targets=payload["target"])
    assert item["ok"] is False and item["status_code"] == 0 and item["http_status"] == 404


def test_proxy_unreachable(fmg, server):
    data = serve(server, "fortimanager/proxy_unreachable.json")
    payload = data["request"]["params"][0]["data"]
    (item,) = fmg.proxy("get", payload["resource"], targets=payload["target"])
    assert item["ok"] is False and item["status_code"] == -20042 and item["response"] is None


def test_workspace_lock_ok(fmg, server):
    serve(server, "fortimanager/workspace_lock.json")
    assert fmg._lock("emea") is True


def test_workspace_lock_minus9_means_no_workspace(fmg, server):
    serve(server, "fortimanager/workspace_lock_not_workspace_9.json")
    assert fmg._lock("root") is False


def test_workspace_lockinfo(fmg, server):
    serve(server, "fortimanager/workspace_lockinfo.json")
    info = fmg.lock_info("emea")
    assert [i["lock_user"] for i in info] == ["carol"]


def test_install_and_task_done(fmg, server):
    install = fixture("fortimanager/install_package.json")
    task = fixture("fortimanager/task_done.json")
    server.script((200, {}, install["reply"]), (200, {}, task["reply"]))
    assert fmg.call("exec", "/securityconsole/install/package", data=install["request"]["params"][0]["data"]) == {"task": 2071}
    done = fmg.wait_task(2071)
    assert done["num_err"] == 0 and done["percent"] == 100


def test_task_error_names_the_device(fmg, server):
    serve(server, "fortimanager/task_error.json")
    err = failure(fmg.wait_task, 2072)
    assert "fgt1: install failed: device unreachable" in err.cause and err.details["lines"][0]["err"] == 1


# -- Knocknoc --------------------------------------------------------------------------------------

def test_allowlist_text(server, tls):
    data = fixture("knocknoc/allowlist.json")
    server.script((200, {"Content-Type": "text/plain"}, data["reply"]))
    entries, invalid = parse_allowlist(data["reply"])
    assert entries == ["198.51.100.7", "2001:db8::7", "198.51.100.8", "198.51.100.0/24"]
    assert invalid == ["not-an-address"]
    client = KnocknocClient(server.url, None, **tls)
    assert client.allowlist("/api/v1/allowlists/acl1/" + TOKEN + ".txt", "apikey-secret") == entries


def test_every_fixture_is_parsed():
    source = Path(__file__).read_text()
    unused = [name for name in all_fixtures() if '"%s"' % name not in source]
    assert not unused, "fixtures without a parser test here: %s" % unused
