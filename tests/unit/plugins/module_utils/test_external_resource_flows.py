# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The external resource's flows without a lab: on one FortiGate (an in-memory FortiGates), and as
a FortiManager ADOM object installed on FortiGates (the real FortiManagerClient against a scripted
JSON-RPC FortiManager that keeps its ADOM objects, packages, devices and their copies)."""

import copy

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _external_resource as er
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import Outcome
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient

URL = "https://knocknoc.example.com/api/v1/allowlists/6b0c/9f2e.txt"
KEY = "allowlist-key-0123456789"
TOKEN = "Qm8vT3xK9pL2wR7nZ4cB6yH1dF5gJ0"
OK = {"code": 0, "message": "OK"}
OBJ = "/pm/config/adom/%s/obj/system/external-resource"


def params(**overrides):
    base = dict(name="kk_allow", state="present", resource=URL, username="apikey", password=KEY,
                update_password="on_create", refresh_rate=5, update_method=None, server_identity_check=None,
                status="enable", comments=None, targets=None, package="default", install=True, lock_timeout=30,
                use_fortimanager=False)
    base.update(overrides)
    return base


def run_with(fortigate_or_fmg, check_mode=False, adom="root", vdom="root", **overrides):
    run = er.Run(params(**overrides), check_mode)
    if isinstance(fortigate_or_fmg, FortiManagerClient):
        er.run_fortimanager(fortigate_or_fmg, run, adom, vdom)
    else:
        er.run_fortigate(fortigate_or_fmg, run)
    return run


# -- one FortiGate ------------------------------------------------------------------------------------
class MemoryFortiGate(object):
    """The FortiGates interface for one FortiGate, over an in-memory table; ``calls`` records
    (method, args) and ``fail`` maps a method to the error it answers with."""

    def __init__(self, version="7.4.4", entries=None):
        self.version = version
        self.table = dict(entries or {})
        self.calls = []
        self.fail = {}

    def _answer(self, method, *args):
        self.calls.append((method,) + args)
        if method in self.fail:
            return [Outcome("https://fw", error=self.fail[method])]
        return [Outcome("https://fw", getattr(self, "_" + method)(*args))]

    def _get_entry(self, path, mkey):
        entry = self.table.get(mkey)
        if entry is None:
            return None
        entry = copy.deepcopy(entry)
        entry["password"] = "ENC XXXX" if entry.get("password") else ""  # FortiOS never returns it
        return entry

    def _create(self, path, data):
        self.table[data["name"]] = dict({"q_origin_key": data["name"], "comments": ""}, **data)
        return {"status": "success"}

    def _update(self, path, mkey, data):
        self.table[mkey].update(data)
        return {"status": "success"}

    def _delete(self, path, mkey):
        return self.table.pop(mkey, None) is not None

    def _system_status(self):
        return {"version": self.version}

    def get_entry(self, path, mkey):
        return self._answer("get_entry", path, mkey)

    def create(self, path, data):
        return self._answer("create", path, data)

    def update(self, path, mkey, data):
        return self._answer("update", path, mkey, data)

    def delete(self, path, mkey):
        return self._answer("delete", path, mkey)

    def system_status(self):
        return self._answer("system_status")

    def methods(self):
        return [c[0] for c in self.calls]


def test_fortigate_create_then_idempotent():
    fgt = MemoryFortiGate()
    created = run_with(fgt, refresh_rate=1)
    assert fgt.methods() == ["get_entry", "create", "get_entry"]
    assert fgt.calls[1][2] == {"type": "address", "status": "enable", "resource": URL, "username": "apikey",
                               "refresh-rate": 1, "name": "kk_allow", "password": KEY}
    out = created.output()
    assert out["changed"] is True and created.written is True
    assert out["changed_fields"] == ["name", "password", "refresh-rate", "resource", "status", "type", "username"]
    assert out["resource"]["password"] == "<hidden>" and "q_origin_key" not in out["resource"]
    assert out["diff"]["before"] == {} and out["diff"]["after"]["password"] == "<hidden (updated)>"
    assert KEY not in repr(out)

    fgt.calls = []
    again = run_with(fgt, refresh_rate=1)
    assert fgt.methods() == ["get_entry"]
    assert again.output() == {"changed": False, "changed_fields": [], "resource": again.output()["resource"]}
    assert again.written is False


def test_fortigate_update_sends_only_the_differences_and_keeps_the_password():
    fgt = MemoryFortiGate()
    run_with(fgt)
    fgt.calls = []
    updated = run_with(fgt, refresh_rate=60, comments="hourly", password="another-key")
    assert fgt.calls[1] == ("update", er.TABLE, "kk_allow", {"refresh-rate": 60, "comments": "hourly"})
    out = updated.output()
    assert out["changed_fields"] == ["comments", "refresh-rate"]
    assert out["diff"]["before"]["refresh-rate"] == 5 and out["diff"]["after"]["refresh-rate"] == 60
    assert out["diff"]["before"]["password"] == out["diff"]["after"]["password"] == "<hidden>"
    assert fgt.table["kk_allow"]["password"] == KEY


def test_fortigate_password_always_is_a_change_every_run():
    fgt = MemoryFortiGate()
    run_with(fgt)
    for run in (1, 2):
        rotated = run_with(fgt, password="rotated-key", update_password="always")
        assert rotated.output()["changed_fields"] == ["password"], run
        assert rotated.output()["diff"]["after"]["password"] == "<hidden (updated)>", run
    assert fgt.table["kk_allow"]["password"] == "rotated-key"


def test_fortigate_password_set_when_the_device_has_none():
    fgt = MemoryFortiGate(entries={"kk_allow": {"name": "kk_allow", "type": "address", "status": "enable",
                                                "resource": URL, "username": "apikey", "refresh-rate": 5}})
    first = run_with(fgt)
    assert first.output()["changed_fields"] == ["password"] and fgt.table["kk_allow"]["password"] == KEY
    assert run_with(fgt).changed is False


def test_fortigate_check_mode_predicts_and_writes_nothing():
    fgt = MemoryFortiGate()
    planned = run_with(fgt, check_mode=True, refresh_rate=2)
    assert fgt.methods() == ["get_entry"] and fgt.table == {}
    out = planned.output()
    assert out["changed"] is True and out["resource"]["refresh-rate"] == 2 and out["resource"]["password"] == "<hidden>"
    assert planned.written is False
    run_with(fgt)
    deleting = run_with(fgt, check_mode=True, state="absent")
    assert deleting.output()["changed_fields"] == ["name"] and "kk_allow" in fgt.table


def test_fortigate_delete():
    fgt = MemoryFortiGate()
    run_with(fgt)
    gone = run_with(fgt, state="absent")
    out = gone.output()
    assert out["resource"] == {} and out["changed_fields"] == ["name"]
    assert out["diff"]["after"] == {} and out["diff"]["before"]["name"] == "kk_allow"
    assert fgt.table == {} and gone.written is True
    fgt.calls = []
    assert run_with(fgt, state="absent").changed is False and fgt.methods() == ["get_entry"]


def test_fortigate_version_is_asked_only_for_version_bound_fields():
    fgt = MemoryFortiGate(version="7.2.0")
    run_with(fgt)
    assert "system_status" not in fgt.methods()
    with pytest.raises(er.InvalidOption) as info:
        run_with(fgt, update_method="push", resource=None)
    assert "7.2.0" in str(info.value)
    fgt.calls = []
    same = run_with(fgt, update_method="feed", server_identity_check="none")
    assert fgt.methods() == ["get_entry", "system_status"] and same.changed is False


def test_fortigate_failed_write_is_raised_with_nothing_written():
    fgt = MemoryFortiGate()
    fgt.fail["create"] = KnocknocError(202002, cause="HTTP 403 on POST /api/v2/cmdb/system/external-resource")
    run = er.Run(params(), False)
    with pytest.raises(KnocknocError) as info:
        er.run_fortigate(fgt, run)
    assert info.value.code == 202002 and run.written is False


# -- FortiManager ---------------------------------------------------------------------------------------
class ScriptedFortiManager(object):
    """A JSON-RPC FortiManager holding ADOM objects, packages with installation targets, devices
    (with their VDOMs and their own copy of the resource), a workspace-mode ADOM and install tasks.
    ``calls`` records (method, url) in order; ``proxy_status`` makes the whole proxy call fail;
    ``unreachable`` lists devices the proxy cannot reach."""

    def __init__(self, server):
        server.handler = self.handle
        self.calls = []
        self.adoms = {"root": {"devices": {"fgt1": ["root", "dmz"], "fgt2": ["root"]}, "groups": {"edge": ["fgt2"]},
                               "pkg": {"default": [{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "root"}],
                                       "empty": []}},
                      "emea": {"devices": {"fgt3": ["root"]}, "groups": {},
                               "pkg": {"default": [{"name": "fgt3", "vdom": "root"}]}}}
        self.serials = {"fgt1": "FGVM01", "fgt2": "FGVM02", "fgt3": "FGVM03"}
        self.objects = {"root": {}, "emea": {}}
        self.on_device = {}  # (device, vdom) -> the resource as installed there
        self.locked = set()
        self.tasks = {}
        self.proxy_status = None
        self.unreachable = set()
        self.install_error = None

    def handle(self, request):
        body = request.json()
        result = []
        for param in body["params"]:
            url = param["url"]
            self.calls.append((body["method"], url))
            status, data = self.answer(body["method"], url, param)
            item = {"status": status, "url": url}
            if data is not None:
                item["data"] = data
            result.append(item)
        return 200, {}, {"id": body["id"], "result": result}

    def answer(self, method, url, param):
        parts = url.strip("/").split("/")
        if url == "/sys/status":
            return OK, {"Version": "v7.4.5"}
        if url == "/cli/global/system/global":
            return OK, {"workspace-mode": "per-adom"}
        if url == "/sys/proxy/json":
            return self.proxy(param["data"])
        if url == "/securityconsole/install/package":
            return self.install(param["data"])
        if parts[:2] == ["task", "task"]:
            return OK, self.tasks[int(parts[2])]
        adom = parts[3] if parts[1:3] == ["config", "adom"] or parts[1:3] == ["pkg", "adom"] else parts[2]
        if adom not in self.adoms:
            return {"code": -6, "message": "Invalid url"}, None
        if parts[:2] == ["dvmdb", "adom"] and parts[3] == "workspace":
            return self.workspace(adom, parts[4])
        if parts[:2] == ["dvmdb", "adom"] and parts[3] == "device":
            return OK, [{"name": d, "sn": self.serials[d], "vdom": [{"name": v} for v in vdoms]}
                        for d, vdoms in self.adoms[adom]["devices"].items()]
        if parts[:2] == ["dvmdb", "adom"] and parts[3] == "group":
            if "object member" in (param.get("option") or []):
                return OK, [{"name": g, "object member": [{"name": d, "vdom": "root"} for d in members]}
                            for g, members in self.adoms[adom]["groups"].items()]
            return OK, [{"name": g} for g in self.adoms[adom]["groups"]]
        if parts[:2] == ["pm", "pkg"]:
            scope = self.adoms[adom]["pkg"].get(parts[4])
            if scope is None:
                return {"code": -3, "message": "Object does not exist"}, None
            return OK, {"name": parts[4], "scope member": scope}
        return self.object(method, adom, parts[7] if len(parts) > 7 else None, param.get("data"))

    def object(self, method, adom, name, data):
        objects = self.objects[adom]
        if adom == "emea" and method != "get" and adom not in self.locked:
            return {"code": -10147, "message": "no write permission"}, None
        if method == "get":
            if name not in objects:
                return {"code": -3, "message": "Object does not exist"}, None
            obj = copy.deepcopy(objects[name])
            obj["password"] = ["ENC abc"] if obj.get("password") else []
            return OK, obj
        if method == "add":
            objects[data["name"]] = dict({"oid": 7, "dynamic_mapping": []}, **data)
        elif method == "update":
            objects[name].update(data)
        elif method == "delete":
            del objects[name]
        return OK, None

    def workspace(self, adom, action):
        if adom != "emea":
            return {"code": -9, "message": "not in workspace mode"}, None
        if action == "lock":
            self.locked.add(adom)
        elif action == "unlock":
            self.locked.discard(adom)
        return OK, None

    def proxy(self, data):
        if self.proxy_status is not None:
            return self.proxy_status, None
        vdom = data["resource"].split("vdom=")[1]
        name = data["resource"].split("?")[0].rsplit("/", 1)[1]
        items = []
        for target in data["target"]:
            adom, kind, what = target.split("/")[1:]
            for device in [what] if kind == "device" else self.adoms[adom]["groups"][what]:
                if device in self.unreachable:
                    items.append({"target": device, "status": {"code": -20042, "message": "Device Unreachable"}})
                    continue
                entry = self.on_device.get((device, vdom), {}).get(name)
                response = {"http_status": 200, "status": "success", "results": [entry]} if entry else \
                    {"http_status": 404, "status": "error"}
                items.append({"target": device, "status": OK, "response": response})
        return OK, items

    def install(self, data):
        if self.install_error:
            return self.install_error, None
        task = 100 + len(self.tasks)
        lines = []
        for member in data["scope"]:
            devices = [member["name"]] if "vdom" in member else self.adoms[data["adom"]]["groups"][member["name"]]
            for device in devices:
                vdom = member.get("vdom", "root")
                self.on_device[(device, vdom)] = copy.deepcopy(self.objects[data["adom"]])
                lines.append({"name": device, "vdom": vdom, "state": "done", "detail": "ok", "err": 0})
        self.tasks[task] = {"id": task, "percent": 100, "state": "done", "num_err": 0, "line": lines}
        return OK, {"task": task}

    def urls(self):
        return ["%s %s" % c for c in self.calls]


@pytest.fixture
def fmg(server, tls):
    client = FortiManagerClient(server.url, TOKEN, adom="root", lock_timeout=1, lock_interval=1, **tls)
    client.sleep = lambda seconds: None
    return client


@pytest.fixture
def script(server):
    return ScriptedFortiManager(server)


def test_fmg_create_installs_on_named_targets(fmg, script):
    created = run_with(fmg, targets=["fgt1", "FGVM02"], use_fortimanager=True)
    assert script.urls() == [
        "get " + OBJ % "root" + "/kk_allow", "get /pm/pkg/adom/root/default",
        "get /dvmdb/adom/root/device", "get /dvmdb/adom/root/group",  # one request: the target look-up
        "get /cli/global/system/global", "exec /dvmdb/adom/root/workspace/lock",
        "add " + OBJ % "root", "exec /securityconsole/install/package", "get /task/task/100",
        "get " + OBJ % "root" + "/kk_allow"]
    out = created.output()
    assert out["install"]["scope"] == [{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "root"}]
    assert out["install"]["reason"] == "object changed" and out["install"]["task"] == 100
    assert out["resource"]["password"] == "<hidden>" and KEY not in repr(out)
    assert script.on_device[("fgt2", "root")]["kk_allow"]["refresh-rate"] == 5


def test_fmg_in_sync_reads_only_and_repairs_a_fortigate_that_lacks_it(fmg, script):
    run_with(fmg, use_fortimanager=True)
    script.calls = []
    again = run_with(fmg, use_fortimanager=True)
    assert again.changed is False and again.install is None
    assert script.urls() == ["get " + OBJ % "root" + "/kk_allow", "get /pm/pkg/adom/root/default",
                             "exec /sys/proxy/json"]
    del script.on_device[("fgt2", "root")]
    script.on_device[("fgt1", "root")]["kk_allow"]["refresh-rate"] = 60
    planned = run_with(fmg, check_mode=True, use_fortimanager=True)
    assert planned.changed is True and planned.output()["changed_fields"] == [] and planned.install is None
    repaired = run_with(fmg, use_fortimanager=True)
    assert repaired.install["reason"] == \
        "not installed as configured on fgt1 (root): differs in refresh-rate; fgt2 (root): missing"
    assert run_with(fmg, use_fortimanager=True).changed is False


def test_fmg_fields_mapped_per_device_are_not_compared(fmg, script):
    run_with(fmg, use_fortimanager=True)
    script.objects["root"]["kk_allow"]["dynamic_mapping"] = [
        {"_scope": [{"name": "fgt1", "vdom": "root"}], "refresh-rate": 60}]
    script.on_device[("fgt1", "root")]["kk_allow"]["refresh-rate"] = 60
    assert run_with(fmg, use_fortimanager=True).changed is False


def test_fmg_unreachable_fortigate_is_installed_again_but_a_refused_proxy_call_fails(fmg, script):
    run_with(fmg, use_fortimanager=True)
    script.unreachable.add("fgt2")
    unreachable = run_with(fmg, use_fortimanager=True, install=True)
    assert "fgt2 (root): " in unreachable.install["reason"] and "Device Unreachable" in unreachable.install["reason"]
    script.proxy_status = {"code": -11, "message": "No permission for the resource"}
    refused = er.Run(params(use_fortimanager=True), False)
    with pytest.raises(KnocknocError) as info:
        er.run_fortimanager(fmg, refused, "root", "root")
    assert info.value.code == 202002 and info.value.details["jsonrpc_code"] == -11 and refused.written is False


def test_fmg_group_targets_install_the_group_and_read_its_devices(fmg, script):
    created = run_with(fmg, use_fortimanager=True, targets=["edge"])
    assert created.install["scope"] == [{"name": "edge"}]
    script.calls = []
    assert run_with(fmg, use_fortimanager=True, targets=["edge"]).changed is False
    assert script.urls()[-1] == "exec /sys/proxy/json"


def test_fmg_workspace_adom_commits_before_the_install(fmg, script):
    created = run_with(fmg, adom="emea", use_fortimanager=True)
    assert script.urls()[2:] == [
        "get /cli/global/system/global", "exec /dvmdb/adom/emea/workspace/lock", "add " + OBJ % "emea",
        "exec /dvmdb/adom/emea/workspace/commit", "exec /securityconsole/install/package", "get /task/task/100",
        "exec /dvmdb/adom/emea/workspace/commit", "exec /dvmdb/adom/emea/workspace/unlock",
        "get " + OBJ % "emea" + "/kk_allow"]
    assert created.install["scope"] == [{"name": "fgt3", "vdom": "root"}] and script.locked == set()


def test_fmg_failed_install_reports_the_reason_and_what_was_written(fmg, script):
    script.install_error = {"code": -20042, "message": "Device Unreachable"}
    run = er.Run(params(use_fortimanager=True, adom="emea"), False)
    with pytest.raises(KnocknocError) as info:
        er.run_fortimanager(fmg, run, "emea", "root")
    assert info.value.details["install_reason"] == "object changed"
    assert run.written is True and script.locked == set()
    assert "kk_allow" in script.objects["emea"]


def test_fmg_delete_installs_and_install_false_only_changes_the_object(fmg, script):
    run_with(fmg, use_fortimanager=True)
    quiet = run_with(fmg, use_fortimanager=True, refresh_rate=15, install=False)
    assert quiet.changed is True and quiet.install is None and "exec /securityconsole/install/package" not in \
        script.urls()[-4:]
    gone = run_with(fmg, use_fortimanager=True, state="absent")
    assert gone.install["reason"] == "object deleted" and gone.output()["resource"] == {}
    script.calls = []
    assert run_with(fmg, use_fortimanager=True, state="absent").changed is False
    assert script.urls() == ["get " + OBJ % "root" + "/kk_allow"]


@pytest.mark.parametrize("overrides, code, words", [
    ({"targets": ["fgt1", "fgt-nowhere"]}, 202101, ["fgt-nowhere", "ADOM root"]),
    ({"package": "nopkg"}, None, ["policy package nopkg does not exist in ADOM root"]),
    ({"package": "empty"}, None, ["no installation targets"]),
    ({"adom": "apac"}, 202101, ["ADOM apac does not exist"]),
    ({"targets": ["fgt2"], "vdom": "dmz"}, None, ["FortiGate fgt2 has no VDOM dmz (it has root)"]),
])
def test_fmg_bad_scope_fails_before_any_write(fmg, script, overrides, code, words):
    adom, vdom = overrides.pop("adom", "root"), overrides.pop("vdom", "root")
    with pytest.raises(KnocknocError) as info:
        run_with(fmg, adom=adom, vdom=vdom, use_fortimanager=True, **overrides)
    assert info.value.code == code
    for word in words:
        assert word in str(info.value)
    assert not [c for c in script.calls if c[0] != "get"]


@pytest.mark.parametrize("package,targets,vdom,outside", [
    ("narrow", ["fgt1"], "root", "fgt1 (VDOM root)"),          # not a target of the package
    ("default", ["fgt1"], "dmz", "fgt1 (VDOM dmz)"),           # the package has fgt1 in VDOM root only
    ("narrow", ["edge"], "root", None),                         # a group of the package's devices
    ("by_group", ["fgt2"], "root", None),                       # a device of one of the package's groups
    ("by_group", ["fgt1"], "root", "fgt1 (VDOM root)"),
])
def test_fmg_install_scope_within_the_package_targets(fmg, script, package, targets, vdom, outside):
    # FortiManager installs a package only on its installation targets (directly or through a device group)
    script.adoms["root"]["pkg"]["narrow"] = [{"name": "fgt2", "vdom": "root"}]
    script.adoms["root"]["pkg"]["by_group"] = [{"name": "edge"}]
    if outside is None:
        assert run_with(fmg, use_fortimanager=True, package=package, targets=targets, vdom=vdom).install
        return
    with pytest.raises(KnocknocError) as info:
        run_with(fmg, use_fortimanager=True, package=package, targets=targets, vdom=vdom)
    assert "%s is not an installation target of policy package %s" % (outside, package) in str(info.value)
    assert info.value.details["outside"] == [outside]
    assert not [c for c in script.urls() if c.split()[0] in ("add", "update", "exec")]  # nothing written
