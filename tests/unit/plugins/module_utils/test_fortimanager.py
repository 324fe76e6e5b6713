# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiManagerClient against a scripted JSON-RPC server: status mapping, proxy, workspace, tasks."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    FortiManagerClient,
    connection_from_params,
    fortimanager_argspec,
    fortinet_argspec,
)

TOKEN = "Qm8vT3xK9pL2wR7nZ4cB6yH1dF5gJ0"
OK = {"code": 0, "message": "OK"}


class FakeFMG(object):
    """Answers each JSON-RPC param from ``routes[(method, url)]``: a (status, data) pair, or a
    callable taking the param. Records (method, url) calls in order."""

    def __init__(self, server):
        self.routes = {}
        self.calls = []
        server.handler = self.handle

    def handle(self, request):
        body = request.json()
        result = []
        for param in body["params"]:
            self.calls.append((body["method"], param["url"]))
            answer = self.routes.get((body["method"], param["url"]), ({"code": -6, "message": "Invalid url"}, None))
            if callable(answer):
                answer = answer(param)
            status, data = answer
            item = {"status": status, "url": param["url"]}
            if data is not None:
                item["data"] = data
            result.append(item)
        return 200, {}, {"id": body["id"], "result": result}


@pytest.fixture
def fmg(server, tls):
    client = FortiManagerClient(server.url, TOKEN, adom="root", lock_timeout=5, lock_interval=1, **tls)
    client.sleep = lambda seconds: None
    return client


@pytest.fixture
def fake(server):
    return FakeFMG(server)


def failure(callable_, *args, **kwargs):
    with pytest.raises(KnocknocError) as info:
        callable_(*args, **kwargs)
    return info.value


def test_bearer_and_request_shape(fmg, fake, server):
    fake.routes[("get", "/sys/status")] = (OK, {"Version": "v7.6.2"})
    assert fmg.call("get", "/sys/status") == {"Version": "v7.6.2"}
    request = server.requests[0]
    assert request.method == "POST" and request.path == "/jsonrpc"
    assert request.headers["Authorization"] == "Bearer " + TOKEN
    body = request.json()
    assert body["method"] == "get" and body["params"] == [{"url": "/sys/status"}] and body["verbose"] == 1
    assert "session" not in body and TOKEN not in request.path


def test_rpc_multiplexes_and_returns_the_result_list(fmg, fake):
    fake.routes[("get", "/a")] = (OK, [1])
    fake.routes[("get", "/b")] = ({"code": -3, "message": "Object does not exist"}, None)
    result = fmg.rpc("get", [{"url": "/a"}, {"url": "/b"}])
    assert [r["status"]["code"] for r in result] == [0, -3]
    assert fake.calls == [("get", "/a"), ("get", "/b")]


@pytest.mark.parametrize("status,message,not_found,expected", [
    (-2, "Object does not exist", 202051, 202051),
    (-3, "Object does not exist", 202051, 202051),
    (-2, "Object does not exist", 202101, 202101),
    (-5, "No permission", None, 202002),
    (-6, "Invalid url", None, 202150),
    (-10, "Invalid session ID", None, 202001),
    (-11, "No permission for the resource", None, 202002),
    (-2, "Object does not exist", None, None),
    (-3, "Object does not exist", None, None),
    (-10147, "no write permission", None, None),
    # FortiManager's own meanings of -10 and -5 (reference E5) are not auth failures
    (-10, "The data is invalid for selected url", None, None),
    (-5, "No such command", None, None),
])
def test_status_mapping(fmg, fake, status, message, not_found, expected):
    url = "/cli/global/system/admin/user/alice"
    fake.routes[("update", url)] = ({"code": status, "message": message}, None)
    err = failure(fmg.call, "update", url, data={"trusthost10": ["203.0.113.5", "255.255.255.255"]},
                  not_found_code=not_found)
    assert err.code == expected
    assert err.details["jsonrpc_code"] == status
    assert err.cause == 'JSON-RPC status %d "%s" on update %s' % (status, message, url)
    assert TOKEN not in str(err.fail_kwargs())


@pytest.mark.parametrize("status,expected", [(-5, 202002), (-10, 202001), (-11, 202002), (-6, 202150)])
def test_status_mapping_without_message_follows_the_seed(fmg, fake, status, expected):
    fake.routes[("get", "/x")] = ({"code": status}, None)
    assert failure(fmg.call, "get", "/x").code == expected


def test_add_duplicate_is_not_not_found(fmg, fake):
    fake.routes[("add", "/pm/config/adom/root/obj/firewall/address")] = (
        {"code": -2, "message": "Object already exists"}, None)
    err = failure(fmg.call, "add", "/pm/config/adom/root/obj/firewall/address", data={"name": "x"},
                  not_found_code=202051)
    assert err.code is None and "Object already exists" in err.cause


def test_missing_message_uses_the_reference_meaning(fmg, fake):
    fake.routes[("exec", "/dvmdb/adom/root/workspace/commit")] = ({"code": -10147}, None)
    err = failure(fmg.call, "exec", "/dvmdb/adom/root/workspace/commit")
    assert "no write permission" in err.cause


def test_malformed_reply_is_202150(fmg, server):
    server.script((200, {}, {"id": 1, "result": []}))
    assert failure(fmg.call, "get", "/sys/status").code == 202150
    server.script((200, {}, {"id": 1, "result": [{"url": "/sys/status"}]}))
    assert failure(fmg.call, "get", "/sys/status").code == 202150


def test_proxy_returns_per_target_results(fmg, fake):
    payload = {"commands": [{"name": "kk_allow", "command": "add", "entries": ["203.0.113.5"]}]}
    seen = []

    def proxy(param):
        seen.append(param["data"])
        return OK, [
            {"target": "fgt1", "status": OK,
             "response": {"status": "success", "http_status": 200, "results": [{"status": "success"}]}},
            {"target": "fgt2", "status": OK,
             "response": {"status": "error", "http_status": 404}},
            {"target": "fgt3", "status": {"code": -20042, "message": "Device Unreachable"}},
            {"target": "fgt4", "status": OK, "response": {"status": "success", "results": []}},
        ]
    fake.routes[("exec", "/sys/proxy/json")] = proxy
    items = fmg.proxy("post", "/api/v2/monitor/system/external-resource/dynamic?vdom=root", payload, timeout=3)
    assert seen == [{"action": "post", "resource": "/api/v2/monitor/system/external-resource/dynamic?vdom=root",
                     "target": ["adom/root/group/All_FortiGate"], "payload": payload, "timeout": 3}]
    # a timeout at or above the client's own is brought below it: FortiManager must answer for a slow device first
    fmg.proxy("post", "/api/v2/monitor/system/external-resource/dynamic?vdom=root", payload, timeout=300)
    fmg.proxy("get", "/api/v2/monitor/system/status")
    assert [data["timeout"] for data in seen[1:]] == [fmg.proxy_timeout] * 2 and fmg.proxy_timeout < fmg.timeout
    assert [(i["target"], i["ok"], i["http_status"], i["status_code"]) for i in items] == [
        ("fgt1", True, 200, 0), ("fgt2", False, 404, 0), ("fgt3", False, None, -20042), ("fgt4", True, 200, 0)]
    assert items[0]["response"]["results"] == [{"status": "success"}]


def test_proxy_unknown_target_is_202101(fmg, fake):
    fake.routes[("exec", "/sys/proxy/json")] = ({"code": -2, "message": "Object does not exist"}, None)
    err = failure(fmg.proxy, "get", "/api/v2/monitor/system/status", targets=["adom/root/device/nope"])
    assert err.code == 202101 and "(agent error #202101) Target device or group not found" in str(err)


# -- workspace ---------------------------------------------------------------------------------------
def workspace_routes(fake, mode="normal", lock=(OK, None)):
    fake.routes[("get", "/cli/global/system/global")] = (OK, {"workspace-mode": mode, "adom-status": "enable"})
    for action in ("commit", "unlock"):
        fake.routes[("exec", "/dvmdb/adom/emea/workspace/%s" % action)] = (OK, None)
    fake.routes[("exec", "/dvmdb/adom/emea/workspace/lock")] = lock
    fake.routes[("update", "/pm/config/adom/emea/obj/firewall/address/x")] = (OK, {"name": "x"})


def test_workspace_locks_commits_and_unlocks(fmg, fake):
    workspace_routes(fake)
    with fmg.workspace("emea") as locked:
        assert locked is True
        fmg.call("update", "/pm/config/adom/emea/obj/firewall/address/x", data={"comment": "y"})
    assert fake.calls == [("get", "/cli/global/system/global"), ("exec", "/dvmdb/adom/emea/workspace/lock"),
                          ("update", "/pm/config/adom/emea/obj/firewall/address/x"),
                          ("exec", "/dvmdb/adom/emea/workspace/commit"), ("exec", "/dvmdb/adom/emea/workspace/unlock")]


def test_workspace_always_unlocks_after_an_exception_and_never_commits(fmg, fake):
    workspace_routes(fake)
    with pytest.raises(RuntimeError):
        with fmg.workspace("emea"):
            raise RuntimeError("module bug")
    assert fake.calls[-1] == ("exec", "/dvmdb/adom/emea/workspace/unlock")
    assert ("exec", "/dvmdb/adom/emea/workspace/commit") not in fake.calls


def test_workspace_unlocks_after_a_failed_write_and_keeps_the_error(fmg, fake):
    workspace_routes(fake)
    fake.routes[("update", "/pm/config/adom/emea/obj/firewall/address/x")] = (
        {"code": -10, "message": "The data is invalid for selected url"}, None)
    with pytest.raises(KnocknocError) as info:
        with fmg.workspace("emea"):
            fmg.call("update", "/pm/config/adom/emea/obj/firewall/address/x", data={"bad": 1})
    assert info.value.details["jsonrpc_code"] == -10
    assert fake.calls[-1] == ("exec", "/dvmdb/adom/emea/workspace/unlock")


def test_workspace_unlocks_when_the_commit_fails(fmg, fake):
    workspace_routes(fake)
    fake.routes[("exec", "/dvmdb/adom/emea/workspace/commit")] = ({"code": -1, "message": "runtime error"}, None)
    with pytest.raises(KnocknocError) as info:
        with fmg.workspace("emea"):
            pass
    assert "runtime error" in info.value.cause
    assert fake.calls[-1] == ("exec", "/dvmdb/adom/emea/workspace/unlock")


def test_workspace_unlock_failure_is_reported_beside_the_original_error(fmg, fake):
    workspace_routes(fake)
    fake.routes[("exec", "/dvmdb/adom/emea/workspace/unlock")] = ({"code": -11, "message": "No permission"}, None)
    with pytest.raises(KnocknocError) as info:
        with fmg.workspace("emea"):
            fmg.call("get", "/nope")
    assert info.value.details["jsonrpc_code"] == -6  # the original failure wins
    assert "No permission" in info.value.details["unlock_error"]


def test_workspace_waits_for_a_lock_then_names_the_holder(fmg, fake):
    workspace_routes(fake, lock=({"code": -20055, "message": "Workspace is locked by other user"}, None))
    fake.routes[("get", "/dvmdb/adom/emea/workspace/lockinfo")] = (
        OK, [{"lock_user": "bob", "lock_time": 1764000000, "lock_sid": 7}])
    clock = [0.0]
    fmg.clock = lambda: clock[0]
    fmg.sleep = lambda seconds: clock.__setitem__(0, clock[0] + seconds)
    with pytest.raises(KnocknocError) as info:
        with fmg.workspace("emea"):
            pytest.fail("must not run without the lock")
    err = info.value
    assert "ADOM emea is locked by administrator bob" in str(err)
    assert err.details["lock_user"] == "bob"
    assert fake.calls.count(("exec", "/dvmdb/adom/emea/workspace/lock")) == 6  # 0..5 s every 1 s
    assert ("exec", "/dvmdb/adom/emea/workspace/unlock") not in fake.calls


def test_workspace_retry_gets_the_lock(fmg, fake):
    answers = [({"code": -20055, "message": "locked"}, None), (OK, None)]
    workspace_routes(fake, lock=lambda param: answers.pop(0))
    with fmg.workspace("emea") as locked:
        assert locked
    assert fake.calls.count(("exec", "/dvmdb/adom/emea/workspace/lock")) == 2


def test_no_workspace_mode_means_no_lock(fmg, fake):
    workspace_routes(fake, mode="disabled")
    with fmg.workspace("emea") as locked:
        assert locked is False
    with fmg.workspace("emea"):
        pass
    assert fake.calls == [("get", "/cli/global/system/global")]  # mode cached, nothing locked


def test_adom_outside_workspace_mode_is_not_locked(fmg, fake):
    workspace_routes(fake, mode="per-adom", lock=({"code": -9, "message": "not in workspace mode"}, None))
    with fmg.workspace("emea") as locked:
        assert locked is False
    assert ("exec", "/dvmdb/adom/emea/workspace/commit") not in fake.calls


# -- install and tasks --------------------------------------------------------------------------------
def test_install_package_polls_the_task(fmg, fake):
    seen = []

    def install(param):
        seen.append(param["data"])
        return OK, {"task": 2071}
    fake.routes[("exec", "/securityconsole/install/package")] = install
    states = [(OK, {"id": 2071, "percent": 40, "state": "running", "num_err": 0}),
              (OK, {"id": 2071, "percent": 100, "state": "done", "num_err": 0, "line": []})]
    fake.routes[("get", "/task/task/2071")] = lambda param: states.pop(0)
    task = fmg.install_package("root", "default", ["fgt1", {"name": "fgt2", "vdom": "dmz"}])
    assert task["state"] == "done"
    assert seen == [{"adom": "root", "pkg": "default", "flags": ["none"],
                     "scope": [{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "dmz"}]}]
    # device names take the VDOM given for them; a {name, vdom} item keeps its own
    states.extend([(OK, {"id": 2071, "percent": 100, "state": "done", "num_err": 0, "line": []})])
    fmg.install_package("root", "default", ["fgt1", {"name": "fgt2", "vdom": "root"}], vdom="dmz")
    assert seen[1]["scope"] == [{"name": "fgt1", "vdom": "dmz"}, {"name": "fgt2", "vdom": "root"}]


def test_task_errors_and_deadline(fmg, fake):
    failed_line = {"name": "fgt1", "state": "error", "err": 1, "detail": "FortiOS error -651"}
    fake.routes[("get", "/task/task/9")] = (
        OK, {"id": 9, "percent": 100, "state": "done", "num_err": 1, "title": "install", "line": [failed_line]})
    err = failure(fmg.wait_task, 9)
    assert err.code is None and "fgt1: FortiOS error -651" in err.cause
    fake.routes[("get", "/task/task/10")] = (OK, {"id": 10, "percent": 50, "state": "running"})
    clock = [0.0]
    fmg.clock = lambda: clock[0]
    fmg.sleep = lambda seconds: clock.__setitem__(0, clock[0] + seconds)
    err = failure(fmg.wait_task, 10, interval=2, timeout=6)
    assert err.code == 202004 and "task 10 still running after 6s" in err.cause


# -- argspecs and the dual factory --------------------------------------------------------------------
def test_argspecs():
    spec = fortimanager_argspec()
    assert spec["adom"] == {"type": "str"} and spec["fortimanager"]["options"]["adom"] == {"type": "str"}
    dual = fortinet_argspec()
    assert dual["use_fortimanager"] == {"type": "bool", "default": False}
    assert all("fallback" not in option and "default" not in option
               for name, option in dual.items() if name != "use_fortimanager")


def test_connection_from_params_picks_the_api_and_its_environment(ca_path):
    env = {"FORTIGATE_URL": "https://fw.example.com", "FORTIGATE_TOKEN": "fgt-token",
           "FORTIMANAGER_URL": "https://fmg.example.com", "FORTIMANAGER_TOKEN": "fmg-token",
           "FORTIMANAGER_ADOM": "emea", "FORTIMANAGER_CA_PATH": ca_path, "FORTIMANAGER_TIMEOUT": "4"}
    params = dict((name, None) for name in fortinet_argspec())
    params["use_fortimanager"] = False
    gate = connection_from_params(params, env)
    assert isinstance(gate, FortiGateClient)
    assert (gate.base_url, gate.vdom, gate.timeout, gate.verify) == ("https://fw.example.com", "root", 10, True)
    params["use_fortimanager"] = True
    manager = connection_from_params(params, env)
    assert isinstance(manager, FortiManagerClient)
    assert (manager.base_url, manager.adom, manager.timeout, manager.verify) == (
        "https://fmg.example.com", "emea", 4, ca_path)
    params["url"] = "https://other.example.com"
    assert connection_from_params(params, env).base_url == "https://other.example.com"
    err = failure(connection_from_params, dict(params, url=None), {})
    assert "FORTIMANAGER_URL" in str(err)


# -- issue 11: FortiManager behaviours the lab switches both ways ------------------------------------------------
NO_PERMISSION = {"code": -11, "message": "No permission for the resource"}


def answers(*replies):
    """A route answering ``replies`` in turn (the last one again when they run out)."""
    replies = list(replies)

    def answer(param):
        return replies.pop(0) if len(replies) > 1 else replies[0]
    return answer


def test_a_lone_minus_11_is_retried_once_after_a_pause(fmg, fake):
    # FortiManager 7.4.x refuses parallel API-key requests at random (fixed in 7.6.2)
    pauses = []
    fmg.sleep = pauses.append
    fake.routes[("update", "/x")] = answers((NO_PERMISSION, None), (OK, {"name": "x"}))
    assert fmg.call("update", "/x", data={"a": 1}) == {"name": "x"}
    assert fake.calls == [("update", "/x"), ("update", "/x")]
    assert len(pauses) == 1 and 0.25 <= pauses[0] <= 0.5


def test_minus_11_is_retried_with_growing_pauses(fmg, fake):
    # A fleet in parallel (forks, AWX slices) collides again after one retry: up to three, each pause about twice the last
    pauses = []
    fmg.sleep = pauses.append
    fake.routes[("update", "/x")] = answers((NO_PERMISSION, None), (NO_PERMISSION, None), (NO_PERMISSION, None),
                                            (OK, {"name": "x"}))
    assert fmg.call("update", "/x", data={"a": 1}) == {"name": "x"}
    assert fake.calls == [("update", "/x")] * 4
    assert len(pauses) == 3
    for pause, (low, high) in zip(pauses, ((0.25, 0.5), (0.5, 1.0), (1.0, 2.0))):
        assert low <= pause <= high, pauses


def test_minus_11_to_the_end_keeps_the_202001_202002_split(fmg, fake):
    fake.routes[("update", "/x")] = (NO_PERMISSION, None)
    fake.routes[("get", "/sys/status")] = (OK, {"Version": "v7.4.5"})
    err = failure(fmg.call, "update", "/x", data={"a": 1})
    assert err.code == 202002
    assert fake.calls == [("update", "/x")] * 4 + [("get", "/sys/status")]
    fake.calls[:] = []
    fake.routes[("get", "/sys/status")] = (NO_PERMISSION, None)
    err = failure(fmg.call, "update", "/x", data={"a": 1})
    assert err.code == 202001 and "before 7.2.2" in err.hint and TOKEN not in str(err)
    # the probe is asked twice: a key refused at both is refused
    assert fake.calls == [("update", "/x")] * 4 + [("get", "/sys/status")] * 2


def test_a_probe_that_collides_once_does_not_make_a_good_key_bad(fmg, fake):
    # the probe, too, may overlap another job's request: -11 then an answer means the key is good (202002)
    fake.routes[("update", "/x")] = (NO_PERMISSION, None)
    fake.routes[("get", "/sys/status")] = answers((NO_PERMISSION, None), (OK, {"Version": "v7.4.5"}))
    err = failure(fmg.call, "update", "/x", data={"a": 1})
    assert err.code == 202002, err


def test_workspace_mode_unreadable_falls_back_to_the_lock(fmg, fake):
    # as fortinet.fortimanager's check_mode(): -11 on system global skips the check; the lock tells
    workspace_routes(fake)
    fake.routes[("get", "/cli/global/system/global")] = (NO_PERMISSION, None)
    with fmg.workspace("emea") as locked:
        assert locked is True
    assert fmg.workspace_mode() == "unknown"
    fake.routes[("exec", "/dvmdb/adom/root/workspace/lock")] = ({"code": -9, "message": "not in workspace mode"}, None)
    with fmg.workspace("root") as locked:
        assert locked is False
    # neither the mode nor the lock readable: go on without a lock (a write then says -10147 itself)
    fake.routes[("exec", "/dvmdb/adom/apac/workspace/lock")] = (NO_PERMISSION, None)
    with fmg.workspace("apac") as locked:
        assert locked is False
    assert fake.calls.count(("get", "/cli/global/system/global")) == 1


def install_routes(fake):
    fake.routes[("exec", "/securityconsole/install/package")] = (OK, {"task": 7})
    fake.routes[("get", "/task/task/7")] = (OK, {"id": 7, "percent": 100, "state": "done", "num_err": 0})


@pytest.mark.parametrize("unlocked_by_install", [True, False])
def test_an_adom_unlocked_by_the_install_is_tolerated(fmg, fake, unlocked_by_install):
    # FortiManager 7.2.2+ workspace-unlock-after-install: the commit after the install finds no lock
    workspace_routes(fake)
    install_routes(fake)
    if unlocked_by_install:
        fake.routes[("exec", "/dvmdb/adom/emea/workspace/commit")] = answers(
            (OK, None), ({"code": -10147, "message": "no write permission"}, None))
        fake.routes[("get", "/dvmdb/adom/emea/workspace/lockinfo")] = (OK, None)
    with fmg.open_workspace("emea") as workspace:
        fmg.call("update", "/pm/config/adom/emea/obj/firewall/address/x", data={"comment": "y"})
        workspace.commit()
        fmg.install_package("emea", "default", ["fgt3"])
    tail = fake.calls[-2:]
    if unlocked_by_install:
        assert tail == [("exec", "/dvmdb/adom/emea/workspace/commit"), ("get", "/dvmdb/adom/emea/workspace/lockinfo")]
        assert workspace.locked is False
    else:
        assert tail == [("exec", "/dvmdb/adom/emea/workspace/commit"), ("exec", "/dvmdb/adom/emea/workspace/unlock")]


def test_a_failed_commit_still_locked_after_an_install_is_an_error(fmg, fake):
    workspace_routes(fake)
    install_routes(fake)
    fake.routes[("exec", "/dvmdb/adom/emea/workspace/commit")] = ({"code": -1, "message": "runtime error"}, None)
    fake.routes[("get", "/dvmdb/adom/emea/workspace/lockinfo")] = (OK, [{"lock_user": "knocknoc"}])
    with pytest.raises(KnocknocError) as info:
        with fmg.open_workspace("emea"):
            fmg.install_package("emea", "default", ["fgt3"])
    assert "runtime error" in info.value.cause
    assert fake.calls[-1] == ("exec", "/dvmdb/adom/emea/workspace/unlock")


def test_clients_need_an_api_key_and_keep_it_secret():
    # one rule for both device clients (HttpClient.use_api_key): no key names the variable; the key is a secret
    for kind, variable in ((FortiGateClient, "FORTIGATE_TOKEN"), (FortiManagerClient, "FORTIMANAGER_TOKEN")):
        with pytest.raises(KnocknocError) as caught:
            kind("https://device.example.com", "")
        assert "token is required (or set %s)" % variable in str(caught.value)
        client = kind("https://device.example.com", "s3cret-key", secrets=("other",))
        assert client.session.headers["Authorization"] == "Bearer s3cret-key"
        assert {"s3cret-key", "other"} <= set(client.secrets)
