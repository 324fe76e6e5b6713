"""The lab against published real replies (issue 11 item 3): each fixture of tests/unit/fixtures/<api>/ is
sent to the lab device as its request says, and the SHAPE of the lab's reply is compared with the fixture's:
the same keys at each level (a key the fixture lists in ``optional`` may be absent; the lab may add keys
inside an object, not to an envelope), the same JSON types (values ignored; ``loose`` keys may differ in
type, as FortiManager's verbose and numeric forms do); a key the fixture lists in ``absent`` must not be
there (what the reply means is that it is missing). Where they differ, the lab is wrong.

These tests describe the lab's default side (also under ``KKLAB_VARIANT=alternate``), plus the switch a
fixture names in ``lab_switches``.
"""

import json
from pathlib import Path

import pytest
import requests
from harness.labview import LabView

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures"
PARSER_ONLY = {
    # the lab does not fail an install on request: this reply is for the parser test only
    "fortimanager/task_error.json",
}


def load(name):
    return json.loads((FIXTURES / name).read_text())


def fixtures(api):
    names = sorted("%s/%s" % (api, p.name) for p in (FIXTURES / api).glob("*.json"))
    assert names, "no fixtures under %s" % FIXTURES
    return [n for n in names if n not in PARSER_ONLY]


def kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "list" if isinstance(value, list) else "object"


def shape_differences(expected, actual, path="reply", optional=(), loose=(), closed=("reply",)):
    """What differs in shape between the fixture's ``expected`` and the lab's ``actual``."""
    out = []
    key = path.rsplit(".", 1)[-1].rstrip("[]")
    if kind(expected) != kind(actual):
        if key not in loose:
            out.append("%s: %s in the fixture, %s in the lab" % (path, kind(expected), kind(actual)))
        return out
    if isinstance(expected, dict):
        for name, value in expected.items():
            sub = "%s.%s" % (path, name)
            if name not in actual:
                if sub not in optional:
                    out.append("%s: missing in the lab" % sub)
                continue
            out.extend(shape_differences(value, actual[name], sub, optional, loose, closed))
        if path in closed:
            extra = sorted(name for name in set(actual) - set(expected) if "%s.%s" % (path, name) not in optional)
            if extra:
                out.append("%s: keys the fixture does not have: %s" % (path, ", ".join(extra)))
    elif isinstance(expected, list) and expected:
        if not actual:
            out.append("%s: empty in the lab, not in the fixture" % path)
        for item in actual:
            out.extend(shape_differences(expected[0], item, path + "[]", optional, loose, closed))
    return out


def present(body, path):
    """Whether the dotted ``path`` (``reply.results.entries``) is in ``body``."""
    node = body
    for name in path.split(".")[1:]:
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return True


def assert_same_shape(fixture, status, body):
    assert status == fixture["http_status"], (status, body)
    diffs = shape_differences(fixture["reply"], body, optional=set(fixture.get("optional", ())),
                              loose=set(fixture.get("loose", ())))
    diffs += ["%s: in the lab, absent in the fixture" % path for path in fixture.get("absent", ()) if present(body, path)]
    assert not diffs, "\n".join(diffs)


@pytest.fixture
def labview(lab, monkeypatch):
    # the lab's default side whatever KKLAB_VARIANT says: the fixtures name the switch they need
    monkeypatch.setenv("KKLAB_VARIANT", "default")
    lab.reset()
    return LabView(lab)


def test_shape_differences_finds_what_differs():
    fixture = {"a": 1, "b": {"c": [{"d": "x"}]}, "e": True}
    assert shape_differences(fixture, {"a": 2, "b": {"c": [{"d": "y", "z": 0}]}, "e": False}) == []
    assert shape_differences(fixture, {"a": "1", "b": {"c": [{}]}, "e": True, "f": 0}) == [
        "reply.a: number in the fixture, string in the lab", "reply.b.c[].d: missing in the lab",
        "reply: keys the fixture does not have: f"]
    assert shape_differences(fixture, {"a": 1, "b": {"c": []}}, optional={"reply.e"}) == [
        "reply.b.c: empty in the lab, not in the fixture"]
    assert shape_differences({"n": 1}, {"n": True}) == ["reply.n: number in the fixture, boolean in the lab"]
    assert present({"results": {"entries": []}}, "reply.results.entries")
    assert not present({"results": {}}, "reply.results.entries")


# -- FortiOS ---------------------------------------------------------------------------------------

def _create(fgt, table, data):
    reply = fgt.post("/api/v2/cmdb/" + table, params={"vdom": "root"}, json=data)
    assert reply.status_code == 200, reply.text


def _push_resource(fgt, labview):
    _create(fgt, "system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "push"})
    reply = fgt.post("/api/v2/monitor/system/external-resource/dynamic", params={"vdom": "root"}, json={"commands": [
        {"name": "kk_allow", "command": "add", "entries": [
            "198.51.100.7", "198.51.100.20-198.51.100.29", "203.0.113.4/16", "2001:0db8:0000:0000:0000:0000:0000:0007"]}]})
    assert reply.status_code == 200, reply.text


def _failed_feed(fgt, labview):
    _create(fgt, "system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "feed",
                                              "resource": "https://127.0.0.1:9/none.txt", "refresh-rate": 1})
    labview.control("POST", "/devices/fgt1/poll")


def _feed(fgt, labview):
    _create(fgt, "system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "feed",
                                              "resource": "https://127.0.0.1:9/none.txt", "refresh-rate": 1})


FGT_SETUP = {
    "fortios/entry_list_real_742.json": _push_resource,
    "fortios/entry_list_feed_error.json": _failed_feed,
    "fortios/push_with_results.json": lambda fgt, lv: _create(fgt, "system/external-resource", {
        "name": "kk_allow", "type": "address", "update-method": "push"}),
    "fortios/push_without_results.json": lambda fgt, lv: _create(fgt, "system/external-resource", {
        "name": "kk_allow", "type": "address", "update-method": "push"}),
    "fortios/cmdb_get_table.json": lambda fgt, lv: _create(fgt, "firewall/address", {
        "name": "kk_198.51.100.7", "type": "ipmask", "subnet": "198.51.100.7/32", "comment": "knocknoc"}),
    "fortios/cmdb_get_entry.json": _feed,
    "fortios/cmdb_post_duplicate.json": lambda fgt, lv: _create(fgt, "firewall/address", {
        "name": "kk_198.51.100.7", "type": "ipmask", "subnet": "198.51.100.7/32"}),
}


@pytest.mark.parametrize("name", fixtures("fortios"))
def test_fortigate_reply_shape(labview, name):
    fixture = load(name)
    if fixture.get("lab_switches"):
        labview.control("POST", "/devices/fgt1/switches", fixture["lab_switches"])
    fgt = labview.device("fgt1")
    FGT_SETUP.get(name, lambda fgt, lv: None)(fgt, labview)
    request = fixture["request"]
    reply = fgt.request(request["method"], request["path"], params=request.get("query"), json=request.get("body"))
    assert_same_shape(fixture, reply.status_code, reply.json())


# -- FortiManager ----------------------------------------------------------------------------------

def _rpc(fmg, body):
    reply = fmg.post("/jsonrpc", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _fmg_address(fmg, labview):
    result = _rpc(fmg, {"id": 9, "method": "add", "params": [{"url": "/pm/config/adom/root/obj/firewall/address", "data": {
        "name": "kk_198.51.100.7", "type": "ipmask", "subnet": "198.51.100.7/32"}}]})["result"][0]
    assert result["status"]["code"] == 0, result


FMG_SETUP = {
    "fortimanager/rpc_ok_set.json": _fmg_address,
    "fortimanager/workspace_lockinfo.json": lambda fmg, lv: lv.control(
        "POST", "/devices/fmg1/lock", {"adom": "emea", "user": "carol"}),
    "fortimanager/proxy_unreachable.json": lambda fmg, lv: lv.fault("fgt1", kind="drop"),
}


@pytest.mark.parametrize("name", fixtures("fortimanager"))
def test_fortimanager_reply_shape(labview, name):
    fixture = load(name)
    if fixture.get("lab_switches"):
        labview.control("POST", "/devices/fmg1/switches", fixture["lab_switches"])
    token = fixture.get("lab_token")
    fmg = labview.device("fmg1", labview.info("fmg1")["tokens"][token] if token else None)
    admin = labview.device("fmg1")
    FMG_SETUP.get(name, lambda fmg, lv: None)(admin, labview)
    body = json.loads(json.dumps(fixture["request"]))
    if "{task}" in body["params"][0]["url"]:
        install = load("fortimanager/install_package.json")["request"]
        task = _rpc(admin, install)["result"][0]["data"]["task"]
        body["params"][0]["url"] = body["params"][0]["url"].format(task=task)
        labview.advance(120)  # let the install finish
    assert_same_shape(fixture, 200, _rpc(fmg, body))


# -- Knocknoc --------------------------------------------------------------------------------------

def test_knocknoc_allowlist_shape(labview):
    fixture = load("knocknoc/allowlist.json")
    kk = labview.info("knocknoc")
    session = requests.Session()
    session.trust_env = False
    session.verify = kk.get("ca_path") or labview.state["ca_path"]
    created = session.post(kk["url"] + "/api/v1/knocs", json={"name": "kk-shape", "mode": "passive"},
                           headers={"Authorization": "Bearer " + kk["admin_token"]}, timeout=15)
    assert created.status_code in (200, 201), created.text
    allowlist = created.json()["allowlist"]
    labview.control("POST", "/devices/knocknoc/sign-in", {"knoc": "kk-shape", "grants": [
        {"username": "alice", "ip": "198.51.100.7"}, {"username": "bob", "ip": "2001:db8::7"}]})
    reply = session.get(allowlist["url"], auth=(allowlist["username"], allowlist["api_key"]), timeout=15)
    assert reply.status_code == fixture["http_status"]
    assert reply.headers["Content-Type"].startswith("text/plain")
    # the fixture's text form: one address or network per line (comments and blank lines allowed)
    lines = [line.strip() for line in reply.text.splitlines() if line.strip() and not line.startswith("#")]
    assert sorted(lines) == ["198.51.100.7", "2001:db8::7"] or sorted(lines) == ["198.51.100.7/32", "2001:db8::7/128"], lines
