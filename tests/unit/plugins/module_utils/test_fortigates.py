# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiGates directly and through FortiManager against one scripted HTTPS server: the same FortiOS
answer gives the same outcome both ways, one proxy call for many targets, the target resolver, and
the FortiManager helpers (get-or-none, ADOM URLs, workspace handle)."""

import json
from pathlib import Path

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import (
    DirectFortiGate,
    ProxiedFortiGates,
    Target,
    device_target,
    fortigates_from_params,
    group_target,
    is_target,
    require_targets,
    resolve_targets,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient, adom_url, target_path

from test_fortimanager import OK, FakeFMG

TOKEN = "Zp4Lw9Qe2Rt7Yu1Io6Pa3Sd8Fg5Hj0"
FMG_TOKEN = "Mn3Bv8Cx1Zl6Kj4Hg9Fd2Sa7Qw5Er0"
SERIALS = {"fgt1": "FGVM01TM00000001", "fgt2": "FGVM01TM00000002"}
DEVICES = [{"name": "fgt1", "sn": SERIALS["fgt1"]}, {"name": "fgt2", "sn": SERIALS["fgt2"]}]
NOT_THERE = {"code": -3, "message": "Object does not exist"}
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def envelope(http=200, serial=SERIALS["fgt1"], **fields):
    body = {"vdom": "root", "serial": serial, "version": "v7.4.4", "build": 2662,
            "status": "success" if http < 400 else "error", "http_status": http}
    body.update(fields)
    return body


class Both(object):
    """One server playing a FortiGate (any path but /jsonrpc: ``direct`` answers) and a
    FortiManager (``/jsonrpc``: a FakeFMG)."""

    def __init__(self, server):
        self.server = server
        self.fmg = FakeFMG(server)
        self.direct = (200, envelope())
        server.handler = self.handle

    def handle(self, request):
        if request.path == "/jsonrpc":
            return self.fmg.handle(request)
        status, body = self.direct
        return status, {}, body

    def proxy_answers(self, answers):
        """Answer exec /sys/proxy/json with ``answers(data) -> [items]``; record the data."""
        seen = []

        def proxy(param):
            seen.append(param["data"])
            return OK, answers(param["data"])
        self.fmg.routes[("exec", "/sys/proxy/json")] = proxy
        return seen

    def jsonrpc_requests(self):
        return [r for r in self.server.requests if r.path == "/jsonrpc"]


@pytest.fixture
def both(server):
    return Both(server)


@pytest.fixture
def fgt(server, tls):
    client = FortiGateClient(server.url, TOKEN, vdom="root", retries=0, **tls)
    return DirectFortiGate(client)


@pytest.fixture
def fmg(server, tls):
    client = FortiManagerClient(server.url, FMG_TOKEN, adom="root", retries=0, timeout=20, **tls)
    client.sleep = lambda seconds: None
    return client


def proxied(fmg, *devices):
    return ProxiedFortiGates(fmg, [Target("adom/root/device/%s" % d, "adom/root/device/%s" % d, device=d)
                                   for d in devices])


def through_fmg(both, fmg, status, body):
    """The outcome when fgt1 gives (status, body) through FortiManager."""
    both.proxy_answers(lambda data: [{"target": "fgt1", "status": OK, "response": dict(body, http_status=status)}])
    return proxied(fmg, "fgt1")


# -- one reading of FortiOS answers, both ways ----------------------------------------------------------
PUSH = [{"name": "kk_allow", "command": "add", "entries": ["192.0.2.1"]}]
MISSING_FEED = [{"name": "kk_allow", "command": "add", "status": "error", "error": "External resource kk_allow does not exist."}]
FULL = [{"name": "kk_allow", "command": "add", "status": "error", "error": "Exceeded the maximum number of entries."}]
CASES = [
    # id, method and arguments, FortiOS status and envelope, expected agent code, fortios_error
    ("401", ("get_table", "firewall/address"), 401, envelope(401), 202001, None),
    ("403", ("update", "firewall/addrgrp", "g", {"comment": "x"}), 403, envelope(403, error=-37), 202002, -37),
    ("duplicate", ("create", "firewall/address", {"name": "a"}), 500, envelope(500, error=-5), None, -5),
    ("status-error-200", ("monitor_get", "system/status"), 200, envelope(200, status="error"), None, None),
    ("feed-missing", ("entry_list", "kk_allow"), 404, envelope(404), 202102, None),
    ("push-feed-missing", ("dynamic_push", PUSH), 200, envelope(200, status="error", results=MISSING_FEED), 202102, None),
    ("push-refused", ("dynamic_push", PUSH), 200, envelope(200, results=FULL), 202100, None),
    ("bad-shape", ("get_table", "firewall/address"), 200, envelope(results="not a list"), 202150, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_same_answer_gives_the_same_outcome_both_ways(both, fgt, fmg, case):
    call, status, body, code, fortios_error = case[1:]
    both.direct = (status, body)
    direct = getattr(fgt, call[0])(*call[1:])
    proxy = getattr(through_fmg(both, fmg, status, body), call[0])(*call[1:])
    assert len(direct) == len(proxy) == 1
    for outcome in (direct[0], proxy[0]):
        assert outcome.error is not None and outcome.value is None
        assert outcome.error.code == code, outcome.error
        assert outcome.error.details.get("fortios_error") == fortios_error
        assert TOKEN not in str(outcome.error) and FMG_TOKEN not in str(outcome.error)
    assert direct[0].target == fgt.label and proxy[0].target == "fgt1"
    assert proxy[0].error.details["target"] == "fgt1"


def test_values_serial_and_version_both_ways(both, fgt, fmg):
    results = {"entries": [{"entry": "192.0.2.1", "valid": True}], "status": "success"}
    both.direct = (200, envelope(results=results))
    proxy = through_fmg(both, fmg, 200, envelope(results=results))
    for outcome in fgt.entry_list("kk_allow") + proxy.entry_list("kk_allow"):
        assert outcome.ok and outcome.value == results
        assert outcome.serial == SERIALS["fgt1"] and outcome.version == "7.4.4"
    both.direct = (404, envelope(404))
    assert fgt.get_entry("firewall/address", "gone")[0].value is None
    assert fgt.delete("firewall/address", "gone")[0].value is False
    assert through_fmg(both, fmg, 404, envelope(404)).delete("firewall/address", "gone")[0].value is False


# -- address group members, both ways ---------------------------------------------------------------------
def real_reply(name):
    """A published real reply (tests/unit/fixtures/): its HTTP status and envelope."""
    data = json.loads((FIXTURES / name).read_text())
    return data["http_status"], data["reply"]


MEMBER_CASES = [
    # id, method and arguments, FortiOS status and envelope, value, or agent code and fortios_error of the error
    ("added", ("add_member",), 200, envelope(mkey="kk_a"), True, None),
    ("duplicate-real-reply", ("add_member",), 500, None, False, None),  # the real -5 reply (fixture)
    ("duplicate-15", ("add_member",), 500, envelope(500, error=-15), False, None),
    ("duplicate-in-200", ("add_member",), 200, envelope(200, status="error", error=-5), False, None),
    ("no-such-address", ("add_member",), 500, envelope(500, error=-651), KnocknocError, (None, -651)),
    ("group-missing", ("add_member",), 404, envelope(404), KnocknocError, (None, None)),
    ("forbidden", ("add_member",), 403, envelope(403, error=-37), KnocknocError, (202002, -37)),
    ("removed", ("remove_member",), 200, envelope(), True, None),
    ("not-a-member", ("remove_member",), 404, envelope(404), False, None),
    ("remove-forbidden", ("remove_member",), 401, envelope(401), KnocknocError, (202001, None)),
]


@pytest.mark.parametrize("case", MEMBER_CASES, ids=[c[0] for c in MEMBER_CASES])
def test_member_calls_read_alike_both_ways(both, fgt, fmg, case):
    call, status, body, value, error = case[1:]
    if body is None:
        status, body = real_reply("fortios/cmdb_post_duplicate.json")
    both.direct = (status, body)
    direct = getattr(fgt, call[0])("firewall/addrgrp", "kk users", "kk_a")
    proxy = getattr(through_fmg(both, fmg, status, body), call[0])("firewall/addrgrp", "kk users", "kk_a")
    assert len(direct) == len(proxy) == 1
    for outcome in (direct[0], proxy[0]):
        if value is KnocknocError:
            assert outcome.value is None and outcome.error is not None
            assert (outcome.error.code, outcome.error.details.get("fortios_error")) == error, outcome.error
        else:
            assert outcome.error is None and outcome.value is value
    # the client reads them as the FortiGates do (address grants use it)
    client = fgt.client
    if value is KnocknocError:
        with pytest.raises(KnocknocError) as info:
            getattr(client, call[0])("firewall/addrgrp", "kk users", "kk_a", vdom="dmz")
        assert (info.value.code, info.value.details.get("fortios_error")) == error
    else:
        assert getattr(client, call[0])("firewall/addrgrp", "kk users", "kk_a", vdom="dmz") is value


def test_member_requests_are_the_same_both_ways(both, fgt, fmg):
    seen = both.proxy_answers(lambda data: [{"target": "fgt1", "status": OK, "response": envelope()}])
    fortigates = proxied(fmg, "fgt1")
    fgt.add_member("firewall/addrgrp", "kk users", "kk_a")
    fortigates.add_member("firewall/addrgrp", "kk users", "kk_a")
    fgt.remove_member("firewall/addrgrp6", "kk users", "kk a/6")
    fortigates.remove_member("firewall/addrgrp6", "kk users", "kk a/6")
    direct = [(r.method, r.path, r.json() if r.method == "POST" else None)
              for r in both.server.requests if r.path != "/jsonrpc"]
    assert direct == [("POST", "/api/v2/cmdb/firewall/addrgrp/kk%20users/member?vdom=root", {"name": "kk_a"}),
                      ("DELETE", "/api/v2/cmdb/firewall/addrgrp6/kk%20users/member/kk%20a%2F6?vdom=root", None)]
    assert seen == [
        {"action": "post", "resource": "/api/v2/cmdb/firewall/addrgrp/kk%20users/member?vdom=root",
         "target": ["adom/root/device/fgt1"], "payload": {"name": "kk_a"}, "timeout": 19},
        {"action": "delete", "resource": "/api/v2/cmdb/firewall/addrgrp6/kk%20users/member/kk%20a%2F6?vdom=root",
         "target": ["adom/root/device/fgt1"], "timeout": 19}]
    assert len(both.jsonrpc_requests()) == 2  # one proxy call each


def test_a_duplicate_member_is_not_sent_twice(both, fgt, fmg):
    # POST is not repeated after a lost answer, and a duplicate answer is final: one request each way
    status, body = real_reply("fortios/cmdb_post_duplicate.json")
    both.direct = (status, body)
    assert fgt.client.add_member("firewall/addrgrp", "g", "kk_198.51.100.7") is False
    assert fgt.add_member("firewall/addrgrp", "g", "kk_198.51.100.7")[0].value is False
    through_fmg(both, fmg, status, body).add_member("firewall/addrgrp", "g", "kk_198.51.100.7")
    assert len([r for r in both.server.requests if r.path != "/jsonrpc"]) == 2
    assert len(both.jsonrpc_requests()) == 1


def test_too_large_both_ways(both, fgt, fmg):
    both.direct = (413, {"status": "error", "http_status": 413})
    assert fgt.dynamic_push(PUSH)[0].too_large
    assert through_fmg(both, fmg, 413, {"status": "error"}).dynamic_push(PUSH)[0].too_large


# -- through FortiManager ------------------------------------------------------------------------------
def test_one_proxy_call_for_every_target(both, fmg):
    seen = both.proxy_answers(lambda data: [
        {"target": d, "status": OK, "response": envelope(serial=SERIALS[d], results=[{"status": "success"}])}
        for d in ("fgt1", "fgt2")])
    fortigates = ProxiedFortiGates(fmg, [Target("adom/root/group/All_FortiGate", "adom/root/group/All_FortiGate")],
                                   vdom="dmz")
    outcomes = fortigates.dynamic_push(PUSH)
    assert len(both.jsonrpc_requests()) == 1
    assert seen == [{"action": "post", "resource": "/api/v2/monitor/system/external-resource/dynamic?vdom=dmz",
                     "target": ["adom/root/group/All_FortiGate"], "payload": {"commands": PUSH}, "timeout": 19}]
    assert [(o.target, o.serial, o.ok) for o in outcomes] == [("fgt1", SERIALS["fgt1"], True),
                                                              ("fgt2", SERIALS["fgt2"], True)]
    narrowed = fortigates.only(["fgt2"])
    narrowed.entry_list("kk_allow")
    assert seen[-1]["target"] == ["adom/root/device/fgt2"] and seen[-1]["timeout"] == 19
    assert seen[-1]["resource"] == "/api/v2/monitor/system/external-resource/entry-list?vdom=dmz&mkey=kk_allow"


def test_device_failures_through_fortimanager(both, fmg):
    both.proxy_answers(lambda data: [
        {"target": "fgt1", "status": {"code": -20042, "message": "Device Unreachable"}},
        {"target": "fgt2", "status": {"code": -1, "message": "Invalid response from device"}},
        {"target": "fgt3", "status": OK},
    ])
    outcomes = dict((o.target, o) for o in proxied(fmg, "fgt1", "fgt2", "fgt3", "fgt4").system_status())
    assert outcomes["fgt1"].error.code == 202000
    assert outcomes["fgt2"].error.code is None and outcomes["fgt2"].error.details["jsonrpc_code"] == -1
    assert outcomes["fgt3"].error.code == 202150  # no FortiOS reply
    assert outcomes["fgt4"].error.code == 202150 and "no answer" in outcomes["fgt4"].error.cause


def test_whole_call_failures_reach_every_target(both, fmg):
    both.fmg.routes[("exec", "/sys/proxy/json")] = ({"code": -2, "message": "Object does not exist"}, None)
    outcomes = proxied(fmg, "fgt1", "fgt9").entry_list("kk_allow")
    assert [(o.target, o.error.code) for o in outcomes] == [
        ("adom/root/device/fgt1", 202101), ("adom/root/device/fgt9", 202101)]


def test_unusable_targets_are_not_sent(both, fmg):
    seen = both.proxy_answers(lambda data: [{"target": "fgt1", "status": OK, "response": envelope()}])
    broken = KnocknocError(202101, cause="nope")
    fortigates = ProxiedFortiGates(fmg, [Target("fgt9", error=broken),
                                         Target("adom/root/device/fgt1", "adom/root/device/fgt1", device="fgt1")])
    outcomes = fortigates.system_status()
    assert seen[0]["target"] == ["adom/root/device/fgt1"]
    assert [(o.target, o.error) for o in outcomes] == [("fgt9", broken), ("fgt1", None)]
    assert outcomes[1].get()["serial"] == SERIALS["fgt1"]
    with pytest.raises(KnocknocError):
        outcomes[0].get()
    assert ProxiedFortiGates(fmg, [Target("x", error=broken)]).system_status()[0].error is broken
    assert len(seen) == 1  # nothing usable: no request


# -- targets -------------------------------------------------------------------------------------------
def lookup_routes(both, adom="root", groups=None):
    groups = groups or [{"name": "All_FortiGate"}, {"name": "branches", "object member": [{"name": "fgt2"}]}]

    def group_list(param):
        keep_members = "object member" in (param.get("option") or [])
        return OK, [dict((k, v) for k, v in g.items() if keep_members or k != "object member") for g in groups]
    both.fmg.routes[("get", "/dvmdb/adom/%s/device" % adom)] = (OK, DEVICES)
    both.fmg.routes[("get", "/dvmdb/adom/%s/group" % adom)] = group_list


def test_paths_and_the_default_need_no_look_up(both, fmg):
    assert [(t.label, t.path) for t in resolve_targets(fmg)] == [
        ("adom/root/group/All_FortiGate", "adom/root/group/All_FortiGate")]
    paths = ["adom/root/device/fgt1", "adom/emea/group/g"]
    assert [t.path for t in resolve_targets(fmg, paths)] == paths
    assert both.server.requests == []


def test_names_serials_and_groups_in_one_request(both, fmg):
    lookup_routes(both)
    targets = resolve_targets(fmg, ["fgt1", SERIALS["fgt2"], "branches", "fgt9", "adom/root/device/fgt1"])
    assert len(both.jsonrpc_requests()) == 1
    assert both.jsonrpc_requests()[0].json()["params"] == [
        {"url": "/dvmdb/adom/root/device", "fields": ["name", "sn", "vdom"]}, {"url": "/dvmdb/adom/root/group", "fields": ["name"]}]
    assert [(t.label, t.path, t.device) for t in targets if t.error is None] == [
        ("adom/root/device/fgt1", "adom/root/device/fgt1", "fgt1"),
        ("adom/root/device/fgt2", "adom/root/device/fgt2", "fgt2"),
        ("adom/root/group/branches", "adom/root/group/branches", None)]  # the path given twice is sent once
    unknown = [t for t in targets if t.error is not None]
    assert [(t.label, t.error.code) for t in unknown] == [("fgt9", 202101)]
    assert "case-sensitive" in unknown[0].error.cause
    with pytest.raises(KnocknocError) as info:
        require_targets(targets)
    assert info.value.code == 202101


def test_expand_turns_every_target_into_devices(both, fmg):
    lookup_routes(both)
    targets = resolve_targets(fmg, expand=True)
    assert [t.device for t in targets] == ["fgt1", "fgt2"]
    both.server.requests[:] = []
    targets = resolve_targets(fmg, ["adom/root/group/branches", "fgt1", "adom/root/device/%s" % SERIALS["fgt2"]],
                              expand=True)
    assert [t.device for t in targets] == ["fgt2", "fgt1"]  # de-duplicated, in order
    assert len(both.jsonrpc_requests()) == 1
    assert both.jsonrpc_requests()[0].json()["params"][1]["option"] == ["object member"]
    bad = resolve_targets(fmg, ["adom/root/group/nope", "adom/root/device/fgt9"], expand=True)
    assert [t.error.code for t in bad] == [202101, 202101]
    assert require_targets(targets) == targets


def test_a_misspelled_adom_has_one_answer(both, fmg):
    # no route for /dvmdb/adom/roto/...: the FakeFMG answers -6 "Invalid url", as FortiManager does
    for targets, expand in ((["fgt1"], False), (None, True), (["adom/roto/group/g"], True)):
        found = resolve_targets(fmg, targets, adom="roto", expand=expand)
        assert [t.error.code for t in found] == [202101]
        assert "ADOM roto does not exist on FortiManager" in str(found[0].error)
    both.fmg.routes[("get", "/pm/config/adom/roto/obj/system/external-resource/kk")] = (
        {"code": -6, "message": "Invalid url"}, None)
    with pytest.raises(KnocknocError) as info:
        fmg.get_or_none(adom_url("/pm/config", "roto", "obj/system/external-resource/kk"), adom="roto")
    assert info.value.code == 202101 and "ADOM roto does not exist on FortiManager" in str(info.value)


def test_global_adom_targets(both, fmg):
    both.fmg.routes[("get", "/dvmdb/device")] = (OK, DEVICES)
    assert [t.path for t in resolve_targets(fmg, adom="global")] == ["group/All_FortiGate"]
    targets = resolve_targets(fmg, ["fgt1", "branches"], adom="global")
    assert [t.path for t in targets] == ["device/fgt1", "group/branches"]
    assert [t.device for t in resolve_targets(fmg, adom="global", expand=True)] == ["fgt1", "fgt2"]


def test_is_target():
    for good in ("fgt1", SERIALS["fgt1"], "adom/root/device/fgt1", "adom/root/group/All_FortiGate"):
        assert is_target(good)
    for bad in ("", " ", "adom/root/fgt1", "adom//device/x", "root/device/fgt1", "adom/root/policy/1"):
        assert not is_target(bad)


def test_from_params_picks_the_way(server, tls):
    params = dict(url=server.url, token=TOKEN, ca_path=tls["ca_path"], tls_server_name=tls["tls_server_name"],
                  use_fortimanager=False, vdom="dmz", adom=None)
    with fortigates_from_params(params) as fortigates:
        assert isinstance(fortigates, DirectFortiGate) and fortigates.vdom == "dmz"
    with pytest.raises(KnocknocError):
        fortigates_from_params(params, targets=["fgt1"])
    with fortigates_from_params(dict(params, use_fortimanager=True, adom="emea")) as fortigates:
        assert isinstance(fortigates, ProxiedFortiGates) and fortigates.vdom == "dmz"
        assert [t.path for t in fortigates.targets] == ["adom/emea/group/All_FortiGate"]
    assert server.requests == []


# -- FortiManager helpers ----------------------------------------------------------------------------
def test_get_or_none(both, fmg):
    both.fmg.routes[("get", "/pm/config/adom/root/obj/system/external-resource/kk")] = (NOT_THERE, None)
    both.fmg.routes[("get", "/pm/config/adom/root/obj/system/external-resource/k2")] = (OK, {"name": "k2"})
    assert fmg.get_or_none("/pm/config/adom/root/obj/system/external-resource/kk", adom="root") is None
    assert fmg.get_or_none("/pm/config/adom/root/obj/system/external-resource/k2") == {"name": "k2"}
    both.fmg.routes[("get", "/cli/global/system/admin/user/x")] = ({"code": -11, "message": "No permission"}, None)
    both.fmg.routes[("get", "/sys/status")] = (OK, {})
    with pytest.raises(KnocknocError) as info:
        fmg.get_or_none("/cli/global/system/admin/user/x")
    assert info.value.code == 202002


def test_adom_urls():
    assert adom_url("/pm/config", "root", "obj/firewall/address") == "/pm/config/adom/root/obj/firewall/address"
    assert adom_url("/pm/config", "global", "obj/firewall/address") == "/pm/config/global/obj/firewall/address"
    assert adom_url("/dvmdb", "emea") == "/dvmdb/adom/emea"


def test_one_form_of_proxy_targets(both, fmg):
    assert target_path("device", "fgt1", "emea") == "adom/emea/device/fgt1"
    assert target_path("group", "edge", "global") == "group/edge"
    assert target_path("device", "fgt1") == "device/fgt1"
    assert (device_target("emea", "fgt1").path, group_target("global", "edge").path) == (
        "adom/emea/device/fgt1", "group/edge")
    # the proxy's default target and a narrowed way name devices the same way
    seen = both.proxy_answers(lambda data: [])
    fmg.proxy("get", "/api/v2/monitor/system/status?vdom=root")
    fmg.adom = "global"
    fmg.proxy("get", "/api/v2/monitor/system/status?vdom=root")
    assert [data["target"] for data in seen] == [["adom/root/group/All_FortiGate"], ["group/All_FortiGate"]]
    spanning = ProxiedFortiGates(fmg, [device_target("emea", "fgt1"), device_target("apac", "fgt2")])
    assert [t.path for t in spanning.only(["fgt3"]).targets] == ["device/fgt3"]
    assert [t.path for t in proxied(fmg, "fgt1").only(["fgt3"]).targets] == ["adom/root/device/fgt3"]


@pytest.mark.parametrize("adom, base", [("emea", "/dvmdb/adom/emea/workspace"), ("global", "/dvmdb/global/workspace")])
def test_workspace_handle_commits_midway(both, fmg, adom, base):
    routes = both.fmg.routes
    routes[("get", "/cli/global/system/global")] = (OK, {"workspace-mode": "normal"})
    for action in ("lock", "commit", "unlock"):
        routes[("exec", "%s/%s" % (base, action))] = (OK, None)
    assert fmg.commit_url(adom) == base + "/commit"
    with fmg.open_workspace(adom) as workspace:
        assert workspace.locked and workspace.adom == adom
        workspace.commit()
        both.fmg.calls.append("-- install --")
    assert both.fmg.calls == [("get", "/cli/global/system/global"), ("exec", base + "/lock"), ("exec", base + "/commit"),
                              "-- install --", ("exec", base + "/commit"), ("exec", base + "/unlock")]


def test_workspace_handle_without_workspace_mode(both, fmg):
    both.fmg.routes[("get", "/cli/global/system/global")] = (OK, {"workspace-mode": "disabled"})
    with fmg.open_workspace("root") as workspace:
        assert not workspace.locked
        workspace.commit()
    assert both.fmg.calls == [("get", "/cli/global/system/global")]


def test_every_proxy_call_waits_less_than_the_client(both, fmg):
    seen = both.proxy_answers(lambda data: [])
    fmg.proxy("get", "/api/v2/monitor/system/status?vdom=root")
    assert fmg.proxy_timeout == 19 and seen[0]["timeout"] == 19
    fmg.timeout = 1
    fmg.proxy("get", "/api/v2/monitor/system/status?vdom=root")
    assert seen[1]["timeout"] == 1


def test_one_not_found_set(both, fmg):
    both.fmg.routes[("get", "/cli/global/system/admin/user/nobody")] = ({"code": -4, "message": "Object not found"}, None)
    assert fmg.get_or_none("/cli/global/system/admin/user/nobody") is None
    with pytest.raises(KnocknocError) as info:
        fmg.call("get", "/cli/global/system/admin/user/nobody", not_found_code=202051)
    assert info.value.code == 202051
