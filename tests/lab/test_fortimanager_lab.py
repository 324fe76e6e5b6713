"""The FortiManager emulator, seen as a JSON-RPC client (and fortinet.fortimanager) would see it."""

import ipaddress
import json
import os
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from kklab.fortimanager import UNUSED_V4  # tests/conftest.py puts lab/ on sys.path

FMG = "fmg1"


class _ServerName(HTTPAdapter):
    def __init__(self, name, ca):
        self._name, self._ca = name, ca
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        # Each device's own trust anchor and name (lab.json); OpenSSL checks the name, with the CN of a
        # certificate without subjectAltNames (Fortinet_Local, Fortinet_Factory) allowed.
        context = ssl.create_default_context(cafile=self._ca)
        context.hostname_checks_common_name = True
        kwargs.update(ssl_context=context, server_hostname=self._name)
        super().init_poolmanager(*args, **kwargs)


class Client:
    """A plain HTTPS client for the lab's devices and control endpoint."""

    def __init__(self, lab):
        self.lab = lab
        self.state = lab.describe()
        self.fmg = self.state["devices"][FMG]
        self.control_url = self.state["control_url"]
        self.http = requests.Session()
        for name, info in self.state["devices"].items():
            self.http.mount(info["url"], _ServerName(info["tls_server_name"], info["ca_path"]))

    # JSON-RPC
    def call(self, method, params, user="lab-api", token=None, session=None, query=None, verbose=1, req_id=7):
        headers = {}
        token = token or (self.fmg["tokens"][user] if user else None)
        if token and not session and not query:
            headers["Authorization"] = "Bearer " + token
        body = {"id": req_id, "method": method, "params": params, "verbose": verbose}
        if session:
            body["session"] = session
        reply = self.http.post(self.fmg["url"] + "/jsonrpc" + (query or ""), json=body, headers=headers, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def rpc(self, method, url, user="lab-api", **param):
        options = {k: param.pop(k) for k in ("token", "session", "query", "verbose") if k in param}
        param["url"] = url
        return self.call(method, [param], user=user, **options)["result"][0]

    # FortiGate REST, with the device's own admin key
    def fgt(self, name, path, method="GET", **kwargs):
        info = self.state["devices"][name]
        return self.http.request(method, info["url"] + path, timeout=15,
                                 headers={"Authorization": "Bearer " + info["admin_token"]}, **kwargs)

    def control(self, method, path, body=None, expect=200):
        reply = requests.request(method, self.control_url + path, json=body, timeout=30)
        assert reply.status_code == expect, reply.text
        return reply.json()

    def login_check(self, user, ip):
        return self.control("POST", "/devices/%s/login-check" % FMG, {"user": user, "ip": ip})

    def writes(self, name=FMG):
        return self.control("GET", "/devices/%s/counters" % name)["writes"]


@pytest.fixture
def fm(fresh_lab):
    """The shared session lab (tests/conftest.py), back in its seed state."""
    return Client(fresh_lab)


def code(result):
    return result["status"]["code"]


# -- authentication ---------------------------------------------------------------------------------
def test_api_key_auth_status_and_envelope(fm):
    reply = fm.call("get", [{"url": "/sys/status"}, {"url": "sys/status"}], req_id="abc")
    assert reply["id"] == "abc"
    assert [r["url"] for r in reply["result"]] == ["/sys/status", "sys/status"]
    status = reply["result"][0]
    assert status["status"] == {"code": 0, "message": "OK"}
    assert status["data"]["Serial Number"] == fm.fmg["serial"]
    assert (status["data"]["Major"], status["data"]["Minor"], status["data"]["Patch"]) == (7, 6, 2)
    glob = fm.rpc("get", "/cli/global/system/global")["data"]
    assert glob["adom-status"] == "enable" and glob["workspace-mode"] == "per-adom"

    for bad in ({"token": "nope"}, {"user": None}):
        result = fm.rpc("get", "/sys/status", **bad)
        assert result["status"] == {"code": -11, "message": "No permission for the resource"}


def test_url_key_refused_from_762_and_accepted_before(fm, fresh_lab):
    fmg = fresh_lab.devices[FMG]
    query = "?access_token=" + fm.fmg["admin_token"]
    reply = fm.call("get", [{"url": "/sys/status"}, {"url": "/dvmdb/adom"}], user=None, query=query)
    assert [code(r) for r in reply["result"]] == [-11, -11]
    saved = fmg.version
    try:
        fmg.version = "7.4.6"
        assert code(fm.call("get", [{"url": "/sys/status"}], user=None, query=query)["result"][0]) == 0
        fmg.version = "7.4.7"
        assert code(fm.call("get", [{"url": "/sys/status"}], user=None, query=query)["result"][0]) == -11
        fmg.version = "7.2.1"  # API keys arrived in 7.2.2
        assert code(fm.rpc("get", "/sys/status")) == -11
    finally:
        fmg.version = saved


def test_multiplexed_params_answer_in_order(fm):
    reply = fm.call("get", [
        {"url": "/sys/status"},
        {"url": "/pm/config/adom/root/obj/firewall/address/missing"},
        {"url": "/pm/config/adom/nowhere/obj/firewall/address"},
        {"url": "/dvmdb/adom"},
    ])
    assert [code(r) for r in reply["result"]] == [0, -3, -6, 0]
    assert reply["result"][1]["status"]["message"] == "Object does not exist"
    assert sorted(a["name"] for a in reply["result"][3]["data"]) == ["emea", "root"]


def test_session_login_logout_and_trusted_hosts(fm):
    pw = fm.fmg["admin_passwords"]["carol"]
    login = fm.call("exec", [{"url": "sys/login/user", "data": {"user": "carol", "passwd": pw}}], user=None)
    assert login["result"][0] == {"status": {"code": 0, "message": "OK"}, "url": "sys/login/user"}
    sid = login["session"]
    assert code(fm.rpc("get", "/sys/status", user=None, session=sid)) == 0
    assert code(fm.rpc("exec", "sys/logout", user=None, session=sid)) == 0
    assert code(fm.rpc("get", "/sys/status", user=None, session=sid)) == -11

    bad = fm.call("exec", [{"url": "sys/login/user", "data": {"user": "carol", "passwd": "wrong"}}], user=None)
    assert code(bad["result"][0]) == -22 and "session" not in bad

    # Move carol's only trusted host away from the lab's source address: login is refused.
    assert code(fm.rpc("update", "/cli/global/system/admin/user/carol",
                       data={"trusthost1": ["192.0.2.10", "255.255.255.255"]})) == 0
    refused = fm.call("exec", [{"url": "sys/login/user", "data": [{"user": "carol", "passwd": pw}]}], user=None)
    assert code(refused["result"][0]) == -22
    assert fm.login_check("carol", "192.0.2.10") == {"allowed": True, "matched": "trusthost1"}
    assert fm.login_check("carol", "127.0.0.1") == {"allowed": False, "matched": None}


def test_session_expires_on_the_lab_clock(fm):
    pw = fm.fmg["admin_passwords"]["alice"]
    sid = fm.call("exec", [{"url": "sys/login/user", "data": {"user": "alice", "passwd": pw}}], user=None)["session"]
    fm.control("POST", "/clock/advance", {"seconds": 16 * 60})
    assert code(fm.rpc("get", "/sys/status", user=None, session=sid)) == -11


# -- permissions ------------------------------------------------------------------------------------
def test_profiles_rpc_permit_and_adom_access(fm):
    proxy = {"action": "post", "resource": "/api/v2/monitor/system/external-resource/dynamic?vdom=root",
             "payload": {"commands": []}, "target": ["adom/root/device/fgt1"]}
    denied = fm.rpc("exec", "/sys/proxy/json", user="kk-nodevmgr", data=proxy)
    assert denied == {"status": {"code": -11, "message": "No permission for the resource"},
                      "url": "/sys/proxy/json"}
    assert code(fm.rpc("exec", "/sys/proxy/json", user="kk-passiveplus", data=proxy)) == 0
    # Passive+ least privilege: no admin users, no objects.
    assert code(fm.rpc("update", "/cli/global/system/admin/user/alice", user="kk-passiveplus",
                       data={"trusthost10": ["198.51.100.7", "255.255.255.255"]})) == -11
    assert code(fm.rpc("get", "/cli/global/system/admin/user/alice", user="kk-passiveplus")) == -11
    assert code(fm.rpc("add", "/pm/config/adom/root/obj/firewall/address", user="kk-passiveplus",
                       data={"name": "x", "subnet": "10.0.0.1/32"})) == -11
    # rpc-permit read: reads work, every write is refused, a writing proxy call as a whole.
    assert code(fm.rpc("get", "/pm/config/adom/root/obj/firewall/address", user="kk-readonly")) == 0
    assert code(fm.rpc("add", "/pm/config/adom/root/obj/firewall/address", user="kk-readonly",
                       data={"name": "x", "subnet": "10.0.0.1/32"})) == -11
    ro = fm.rpc("exec", "/sys/proxy/json", user="kk-readonly", data=proxy)
    assert code(ro) == -11 and "data" not in ro
    assert code(fm.rpc("exec", "/sys/proxy/json", user="kk-readonly", data=dict(proxy, action="get"))) == 0
    # ADOM access "specify emea".
    assert code(fm.rpc("get", "/pm/config/adom/root/obj/firewall/address", user="kk-emea-only")) == -11
    assert code(fm.rpc("get", "/pm/config/adom/emea/obj/firewall/address", user="kk-emea-only")) == 0
    assert code(fm.rpc("exec", "/sys/proxy/json", user="kk-emea-only", data=proxy)) == -11
    assert [a["name"] for a in fm.rpc("get", "/dvmdb/adom", user="kk-emea-only")["data"]] == ["emea"]


# -- admin users and trusted hosts ------------------------------------------------------------------
def test_admin_trusthost10_update_and_login_check(fm):
    url = "/cli/global/system/admin/user/alice"
    alice = fm.rpc("get", url)["data"]
    assert alice["trusthost10"] == UNUSED_V4 and alice["trusthost9"] == ["127.0.0.1", "255.255.255.255"]
    assert alice["ipv6_trusthost1"] == "::/0"
    assert alice["ipv6_trusthost10"] == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"
    assert alice["password"].startswith("ENC ") and fm.fmg["admin_passwords"]["alice"] not in json.dumps(alice)
    assert fm.login_check("alice", "198.51.100.7") == {"allowed": False, "matched": None}

    before = fm.writes()
    result = fm.rpc("update", url, data={"trusthost10": ["198.51.100.7", "255.255.255.255"]})
    assert result == {"data": {"userid": "alice"}, "status": {"code": 0, "message": "OK"}, "url": url}
    assert fm.writes() == before + 1
    assert fm.rpc("get", url, fields=["trusthost10"])["data"]["trusthost10"] == ["198.51.100.7", "255.255.255.255"]
    assert fm.login_check("alice", "198.51.100.7") == {"allowed": True, "matched": "trusthost10"}
    # The string forms are accepted on write and read back as the 2-element list.
    assert code(fm.rpc("update", url, data={"trusthost10": "198.51.100.0/24"})) == 0
    assert fm.rpc("get", url)["data"]["trusthost10"] == ["198.51.100.0", "255.255.255.0"]
    assert code(fm.rpc("update", url, data={"trusthost10": "203.0.113.5 255.255.255.255"})) == 0
    assert fm.login_check("alice", "198.51.100.7")["allowed"] is False
    assert code(fm.rpc("update", url, data={"trusthost10": "not-an-ip"})) == -10
    assert code(fm.rpc("update", url, data={"trusthost10": ["10.0.0.1", "255.0.255.0"]})) == -10
    assert code(fm.rpc("update", url, data={"ipv6_trusthost10": "2001:db8::7/128"})) == 0
    assert fm.login_check("alice", "2001:db8::7")["matched"] == "ipv6_trusthost1"  # ::/0 comes first

    # bob keeps the factory allow-all in slot 1: it masks whatever slot 10 says.
    assert fm.login_check("bob", "203.0.113.99") == {"allowed": True, "matched": "trusthost1"}
    assert code(fm.rpc("update", "/cli/global/system/admin/user/bob",
                       data={"trusthost10": ["198.51.100.7", "255.255.255.255"]})) == 0
    assert fm.login_check("bob", "198.51.100.7")["matched"] == "trusthost1"


def test_missing_admin_is_minus_2_and_set_creates(fm):
    url = "/cli/global/system/admin/user/nobody"
    for method, data in (("get", None), ("update", {"trusthost10": UNUSED_V4}), ("delete", None)):
        param = {"data": data} if data else {}
        result = fm.rpc(method, url, **param)
        assert code(result) == -2, (method, result)
    assert code(fm.rpc("set", "/cli/global/system/admin/user",
                       data={"userid": "nobody", "profileid": "Standard_User", "password": "pw-1"})) == 0
    assert fm.rpc("get", url)["data"]["profileid"] == "Standard_User"
    assert code(fm.rpc("add", "/cli/global/system/admin/user", data={"userid": "nobody"})) == -2
    assert code(fm.rpc("update", url, data={"no-such-attr": 1})) == -10
    assert code(fm.rpc("delete", url)) == 0


def test_admin_profiles(fm):
    prof = fm.rpc("get", "/cli/global/system/admin/profile/knocknoc-passiveplus")["data"]
    assert prof["device-manager"] == "read-write" and prof["policy-objects"] == "none"
    assert prof["rpc-permit"] == "read-write"
    assert fm.rpc("get", "/cli/global/system/admin/user/kk-passiveplus")["data"]["rpc-permit"] == "from-profile"
    assert code(fm.rpc("update", "/cli/global/system/admin/profile/knocknoc-passiveplus",
                       data={"rpc-permit": "read"})) == 0
    assert code(fm.rpc("get", "/dvmdb/adom/root/device", user="kk-passiveplus")) == 0
    assert code(fm.rpc("update", "/dvmdb/adom/root/group/x", user="kk-passiveplus", data={"desc": ""})) == -11
    assert code(fm.rpc("update", "/cli/global/system/admin/profile/knocknoc-passiveplus",
                       data={"rpc-permit": "read-write"})) == 0
    numeric = fm.rpc("get", "/cli/global/system/admin/profile/knocknoc-passiveplus", verbose=0)["data"]
    assert numeric["device-manager"] == 2
    assert code(fm.rpc("update", "/cli/global/system/admin/profile/knocknoc-passiveplus",
                       data={"policy-objects": "read-write"})) == 0
    assert code(fm.rpc("add", "/pm/config/adom/root/obj/firewall/address", user="kk-passiveplus",
                       data={"name": "pp", "subnet": "10.0.0.9/32"})) == 0
    assert code(fm.rpc("delete", "/cli/global/system/admin/profile/Restricted_User")) == -10015


# -- ADOM objects ------------------------------------------------------------------------------------
def test_objects_crud_and_errors(fm):
    base = "/pm/config/adom/root/obj/firewall/"
    assert fm.rpc("add", base + "address", data={"name": "h1", "type": "ipmask", "subnet": "10.0.0.2/32"})["data"] \
        == {"name": "h1"}
    h1 = fm.rpc("get", base + "address/h1")["data"]
    assert h1["subnet"] == ["10.0.0.2", "255.255.255.255"] and h1["type"] == "ipmask" and "oid" in h1
    assert fm.rpc("get", base + "address/h1", verbose=0)["data"]["type"] == 0
    assert code(fm.rpc("add", base + "address", data={"name": "h1", "subnet": "10.0.0.3/32"})) == -2
    assert code(fm.rpc("get", base + "address/nope")) == -3
    assert code(fm.rpc("update", base + "address/nope", data={"comment": "x"})) == -3
    assert code(fm.rpc("add", base + "address", data={"name": "h2", "subnet": "10.0.0.300/32"})) == -10
    assert code(fm.rpc("add", base + "address", data={"name": "h2", "colour": 3})) == -10
    assert code(fm.rpc("update", base + "address/h1", data={"subnet": ["10.0.0.4", "255.255.255.255"]})) == 0
    assert code(fm.rpc("add", base + "address", data={"name": "h2", "subnet": "10.0.0.5 255.255.255.255"})) == 0

    assert code(fm.rpc("add", base + "addrgrp", data={"name": "g1", "member": ["h1"]})) == 0
    assert code(fm.rpc("add", base + "addrgrp", data={"name": "g2", "member": ["ghost"]})) == -10131
    assert code(fm.rpc("add", base + "addrgrp/g1/member", data=["h2"])) == 0
    assert fm.rpc("get", base + "addrgrp/g1")["data"]["member"] == ["h1", "h2"]
    assert code(fm.rpc("delete", base + "addrgrp/g1/member", data=["h1"])) == 0
    assert fm.rpc("get", base + "addrgrp/g1/member")["data"] == ["h2"]
    used = fm.rpc("delete", base + "address/h2")
    assert code(used) == -10015
    assert code(fm.rpc("unset", base + "addrgrp/g1/member")) == 0
    assert code(fm.rpc("delete", base + "address/h2")) == 0
    listing = fm.rpc("get", base + "address", filter=["name", "==", "h1"], fields=["subnet"])["data"]
    assert listing == [{"name": "h1", "oid": h1["oid"], "subnet": ["10.0.0.4", "255.255.255.255"]}]

    er = "/pm/config/adom/root/obj/system/external-resource"
    assert code(fm.rpc("add", er, data={"name": "kk_allow", "type": "address", "update-method": "push"})) == 0
    assert code(fm.rpc("add", er, data={"name": "x" * 36, "type": "address", "update-method": "push"})) == -10
    assert code(fm.rpc("add", er, data={"name": "kk_feed", "type": "address", "resource": "https://kk/x",
                                        "password": "s3cret"})) == 0
    feed = fm.rpc("get", er + "/kk_feed")["data"]
    assert feed["password"].startswith("ENC ") and feed["refresh-rate"] == 5
    assert code(fm.rpc("get", "/pm/config/adom/nowhere/obj/firewall/address")) == -6
    assert code(fm.rpc("get", "/pm/config/adom/root/obj/firewall/vip")) == -6


# -- workspace ---------------------------------------------------------------------------------------
def test_workspace_lock_commit_unlock(fm):
    addr = "/pm/config/adom/emea/obj/firewall/address"
    ws = "/dvmdb/adom/emea/workspace/"
    assert code(fm.rpc("add", addr, data={"name": "w1", "subnet": "10.1.0.1/32"})) == -10147
    assert "data" not in fm.rpc("get", ws + "lockinfo")
    assert code(fm.rpc("exec", ws + "lock/")) == 0  # fortinet.fortimanager adds the trailing slash
    info = fm.rpc("get", ws + "lockinfo")["data"][0]
    assert info["lock_user"] == "lab-api" and info["dirty"] == 0
    assert code(fm.rpc("add", addr, data={"name": "w1", "subnet": "10.1.0.1/32"})) == 0
    assert fm.rpc("get", ws + "lockinfo")["data"][0]["dirty"] == 1
    # Not visible to another admin before the commit; the other admin cannot lock or write.
    assert code(fm.rpc("get", addr + "/w1", user="kk-emea-only")) == -3
    assert code(fm.rpc("exec", ws + "lock", user="kk-emea-only")) == -20055
    assert code(fm.rpc("add", addr, user="kk-emea-only", data={"name": "w2", "subnet": "10.1.0.2/32"})) == -10147
    assert code(fm.rpc("exec", ws + "commit")) == 0
    assert code(fm.rpc("get", addr + "/w1", user="kk-emea-only")) == 0
    # Unlock without a commit drops the unsaved change.
    assert code(fm.rpc("add", addr, data={"name": "w3", "subnet": "10.1.0.3/32"})) == 0
    assert code(fm.rpc("exec", ws + "unlock")) == 0
    assert code(fm.rpc("get", addr + "/w3")) == -3
    assert "data" not in fm.rpc("get", ws + "lockinfo")
    # The root ADOM is not in workspace mode.
    assert code(fm.rpc("exec", "/dvmdb/adom/root/workspace/lock")) == -9
    assert code(fm.rpc("get", "/dvmdb/adom/root/workspace/lockinfo")) == -9
    # Another admin holds the lock (control action).
    held = fm.control("POST", "/devices/%s/lock" % FMG, {"adom": "emea", "user": "admin"})
    assert held["lock_user"] == "admin"
    assert code(fm.rpc("exec", ws + "lock")) == -20055
    assert code(fm.rpc("add", addr, data={"name": "w4", "subnet": "10.1.0.4/32"})) == -10147
    fm.control("POST", "/devices/%s/unlock" % FMG, {"adom": "emea"})
    assert code(fm.rpc("exec", ws + "lock")) == 0


# -- devices, groups, packages, install --------------------------------------------------------------
def test_devices_and_groups(fm):
    devs = fm.rpc("get", "/dvmdb/adom/root/device")["data"]
    assert [d["name"] for d in devs] == ["fgt1", "fgt2"]
    fgt1 = fm.rpc("get", "/dvmdb/device/fgt1")["data"]
    assert fgt1["sn"] == fm.state["devices"]["fgt1"]["serial"] and fgt1["conn_status"] == "up"
    assert fgt1["os_ver"] == "7.0" and fgt1["mr"] == 4 and [v["name"] for v in fgt1["vdom"]] == ["root", "dmz"]
    assert fm.rpc("get", "/dvmdb/device/fgt1", verbose=0)["data"]["conn_status"] == 1
    groups = fm.rpc("get", "/dvmdb/adom/root/group", option=["object member"])["data"]
    assert groups[0]["name"] == "All_FortiGate" and len(groups[0]["object member"]) == 2
    assert code(fm.rpc("add", "/dvmdb/adom/root/group", data={"name": "edge", "os_type": "fos"})) == 0
    assert code(fm.rpc("add", "/dvmdb/adom/root/group/edge/object member",
                       data=[{"name": "fgt2", "vdom": "root"}])) == 0
    assert code(fm.rpc("add", "/dvmdb/adom/root/group/edge/object member", data=[{"name": "fgt3"}])) == -3
    assert fm.rpc("get", "/dvmdb/adom/root/group/edge/object member")["data"] == [{"name": "fgt2", "vdom": "root"}]
    assert code(fm.rpc("delete", "/dvmdb/adom/root/group/All_FortiGate")) == -10
    assert code(fm.rpc("add", "/dvmdb/adom/root/device", data={"name": "x"})) == -5


def _seed_package(fm):
    adom = "/pm/config/adom/root/"
    assert code(fm.rpc("add", adom + "obj/system/external-resource",
                       data={"name": "kk_allow", "type": "address", "update-method": "push",
                             "comments": "knocknoc"})) == 0
    assert code(fm.rpc("add", adom + "obj/firewall/address", data={"name": "srv", "subnet": "10.0.0.10/32"})) == 0
    assert code(fm.rpc("add", adom + "obj/firewall/addrgrp", data={"name": "servers", "member": ["srv"]})) == 0
    result = fm.rpc("add", adom + "pkg/default/firewall/policy",
                    data={"name": "kk-in", "srcintf": ["port1"], "dstintf": ["port2"], "srcaddr": ["kk_allow"],
                          "dstaddr": ["servers"], "service": ["ALL"], "action": "accept", "schedule": "always"})
    assert code(result) == 0
    return result["data"]["policyid"]


def _install(fm, **data):
    data = dict({"adom": "root", "pkg": "default", "flags": ["none"]}, **data)
    result = fm.rpc("exec", "/securityconsole/install/package", data=data)
    assert code(result) == 0, result
    task = fm.rpc("get", "/task/task/%d" % result["data"]["task"])
    assert code(task) == 0
    return task["data"]


def test_packages_and_policy_validation(fm):
    pkgs = fm.rpc("get", "/pm/pkg/adom/root")["data"]
    assert [p["name"] for p in pkgs] == ["default"]
    assert pkgs[0]["scope member"] == [{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "root"}]
    pol = "/pm/config/adom/root/pkg/default/firewall/policy"
    assert code(fm.rpc("add", pol, data={"srcaddr": ["ghost"], "dstaddr": ["all"]})) == -10131
    assert code(fm.rpc("get", "/pm/config/adom/root/pkg/nopkg/firewall/policy")) == -6
    pid = _seed_package(fm)
    got = fm.rpc("get", "%s/%d" % (pol, pid))["data"]
    assert got["srcaddr"] == ["kk_allow"] and got["action"] == "accept"
    assert code(fm.rpc("delete", "/pm/config/adom/root/obj/system/external-resource/kk_allow")) == -10015


def test_install_pushes_objects_and_policies(fm):
    pid = _seed_package(fm)
    task = _install(fm)
    assert task["state"] == "done" and task["percent"] == 100 and task["num_err"] == 0, task
    assert [line["name"] for line in task["line"]] == ["fgt1", "fgt2"]
    for name in ("fgt1", "fgt2"):
        er = fm.fgt(name, "/api/v2/cmdb/system/external-resource/kk_allow?vdom=root")
        assert er.status_code == 200
        assert er.json()["results"][0]["update-method"] == "push"
        pol = fm.fgt(name, "/api/v2/cmdb/firewall/policy/%d?vdom=root" % pid).json()["results"][0]
        assert [a["name"] for a in pol["srcaddr"]] == ["kk_allow"] and pol["action"] == "accept"
        grp = fm.fgt(name, "/api/v2/cmdb/firewall/addrgrp/servers?vdom=root").json()["results"][0]
        assert [m["name"] for m in grp["member"]] == ["srv"]
        addr = fm.fgt(name, "/api/v2/cmdb/firewall/address/srv?vdom=root").json()["results"][0]
        assert addr["subnet"].split()[0] == "10.0.0.10"
    # Idempotent: a second install updates in place.
    assert _install(fm)["num_err"] == 0
    # A FortiGate error shows in that device's line.
    fm.control("POST", "/devices/fgt2/faults", {"kind": "status", "status": 500, "match": "external-resource"})
    failed = _install(fm, scope=[{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "root"}])
    assert failed["num_err"] == 1 and failed["state"] == "error"
    bad = [line for line in failed["line"] if line["err"]]
    assert bad[0]["name"] == "fgt2" and "500" in bad[0]["detail"]
    assert code(fm.rpc("exec", "/securityconsole/install/package", data={"adom": "root", "pkg": "nopkg"})) == -3


def test_install_in_workspace_adom_needs_the_lock(fm):
    result = fm.rpc("exec", "/securityconsole/install/package", data={"adom": "emea", "pkg": "default"})
    assert code(result) == -10147
    task = _install(fm, adom="emea", flags=["auto_lock_ws"])
    assert [line["name"] for line in task["line"]] == ["fgt3"]


# -- proxy -------------------------------------------------------------------------------------------
def _proxy(fm, target, action="get", resource="/api/v2/cmdb/firewall/address?vdom=root", user="lab-api", **extra):
    data = dict({"action": action, "resource": resource, "target": target}, **extra)
    return fm.rpc("exec", "/sys/proxy/json", user=user, data=data)


def test_proxy_targets(fm):
    serial1 = fm.state["devices"]["fgt1"]["serial"]
    one = _proxy(fm, ["adom/root/device/fgt1"])
    assert one["status"] == {"code": 0, "message": "OK"} and one["url"] == "/sys/proxy/json"
    item = one["data"][0]
    assert item["target"] == "fgt1" and item["status"] == {"code": 0, "message": "OK"}
    assert item["response"]["status"] == "success" and isinstance(item["response"]["results"], list)

    by_serial = _proxy(fm, ["adom/root/device/" + serial1, "/device/fgt1", "device/" + serial1])
    assert [i["target"] for i in by_serial["data"]] == ["fgt1"]  # de-duplicated
    everyone = _proxy(fm, ["adom/root/group/All_FortiGate", "adom/root/device/fgt2"])
    assert [i["target"] for i in everyone["data"]] == ["fgt1", "fgt2"]
    assert code(fm.rpc("add", "/dvmdb/adom/root/group", data={"name": "edge", "object member": ["fgt2"]})) == 0
    assert [i["target"] for i in _proxy(fm, ["adom/root/group/edge"])["data"]] == ["fgt2"]
    assert [i["target"] for i in _proxy(fm, "/group/edge")["data"]] == ["fgt2"]

    missing = _proxy(fm, ["adom/root/device/FGVM00000000000X"])
    assert code(missing) == -2 and "data" not in missing
    assert code(_proxy(fm, ["adom/root/group/nogroup"])) == -2
    assert code(_proxy(fm, ["adom/emea/device/fgt1"])) == -2  # fgt1 is not in emea
    assert code(fm.rpc("get", "/sys/proxy/json", data={"action": "get", "resource": "/x", "target": ["x"]})) == -5


def test_proxy_push_error_and_unreachable(fm):
    # install the external resource first, then push through the proxy like Knocknoc's Passive+.
    assert code(fm.rpc("add", "/pm/config/adom/root/obj/system/external-resource",
                       data={"name": "kk_allow", "type": "address", "update-method": "push"})) == 0
    assert code(fm.rpc("add", "/pm/config/adom/root/pkg/default/firewall/policy",
                       data={"srcintf": ["port1"], "dstintf": ["port2"], "srcaddr": ["kk_allow"],
                             "dstaddr": ["all"], "service": ["ALL"], "action": "accept"})) == 0
    assert _install(fm)["num_err"] == 0
    push = _proxy(fm, ["adom/root/group/All_FortiGate"], user="kk-passiveplus", action="post",
                  resource="/api/v2/monitor/system/external-resource/dynamic?vdom=root", timeout=10,
                  payload={"commands": [{"name": "kk_allow", "command": "add", "entries": ["198.51.100.7"]}]})
    assert code(push) == 0
    for item in push["data"]:
        # per-command results only where the FortiGate gives them (lab switch, docs/lab.md "Fidelity")
        assert item["status"]["code"] == 0 and item["response"]["status"] == "success"
        assert all(r["status"] == "success" for r in item["response"].get("results") or [])
    entries = fm.fgt("fgt2", "/api/v2/monitor/system/external-resource/entry-list?mkey=kk_allow&vdom=root")
    assert "198.51.100.7" in [e["entry"] for e in entries.json()["results"]["entries"]]

    # A FortiGate error is per-target status 0 with the device's own error envelope.
    err = _proxy(fm, ["adom/root/device/fgt1"], resource="/api/v2/cmdb/firewall/address/nope?vdom=root")
    assert err["data"][0]["status"]["code"] == 0 and err["data"][0]["response"]["http_status"] == 404

    # An unreachable FortiGate is a per-target -20042 while the others answer.
    fm.control("POST", "/devices/fgt2/faults", {"kind": "drop"})
    mixed = _proxy(fm, ["adom/root/group/All_FortiGate"])
    assert code(mixed) == 0
    by_name = {i["target"]: i for i in mixed["data"]}
    assert by_name["fgt1"]["status"]["code"] == 0
    assert by_name["fgt2"]["status"]["code"] == -20042 and "response" not in by_name["fgt2"]
    assert fm.rpc("get", "/dvmdb/device/fgt2")["data"]["conn_status"] == "down"
    fm.control("DELETE", "/devices/fgt2/faults")
    fm.control("POST", "/devices/fgt2/faults", {"kind": "delay", "seconds": 2.5, "count": 1})
    slow = _proxy(fm, ["adom/root/device/fgt2"], timeout=1)
    assert slow["data"][0]["status"]["code"] == -20042


def test_slow_fortigate_does_not_stall_other_callers(fm):
    import threading
    import time
    fm.control("POST", "/devices/fgt2/faults", {"kind": "delay", "seconds": 1.5, "count": 1})
    worker = threading.Thread(target=_proxy, args=(fm, ["adom/root/device/fgt2"]))
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert code(fm.rpc("get", "/sys/status")) == 0
    assert time.monotonic() - started < 0.8
    worker.join()


def test_counters_count_writes_only(fm):
    fm.control("POST", "/counters/reset")
    fm.rpc("get", "/cli/global/system/admin/user/alice")
    _proxy(fm, ["adom/root/device/fgt1"])
    fm.rpc("get", "/dvmdb/adom/emea/workspace/lockinfo")
    assert fm.writes() == 0
    fm.rpc("update", "/cli/global/system/admin/user/alice", data={"trusthost10": UNUSED_V4})
    assert fm.writes() == 1
    _proxy(fm, ["adom/root/device/fgt1"], action="post", resource="/api/v2/cmdb/firewall/address?vdom=root",
           payload={"name": "kk_198.51.100.7", "subnet": "198.51.100.7/32"})
    assert fm.writes() == 2
    assert fm.writes("fgt1") == 1
    fm.rpc("exec", "/dvmdb/adom/emea/workspace/lock")
    fm.rpc("exec", "/dvmdb/adom/emea/workspace/unlock")
    assert fm.writes() == 4


def test_jsonrpc_fault_and_describe(fm):
    assert fm.fmg["adoms"] == ["root", "emea"]
    assert fm.fmg["devices"]["fgt3"] == {"serial": fm.state["devices"]["fgt3"]["serial"], "adom": "emea"}
    assert set(fm.fmg["tokens"]) >= {"lab-api", "kk-passiveplus", "kk-nodevmgr", "kk-readonly", "kk-emea-only"}
    fm.control("POST", "/devices/%s/faults" % FMG, {"kind": "jsonrpc", "code": -10147, "count": 1})
    reply = fm.call("get", [{"url": "/sys/status"}, {"url": "/dvmdb/adom"}])
    assert [code(r) for r in reply["result"]] == [-10147, -10147] and reply["id"] == 7
    assert code(fm.rpc("get", "/sys/status")) == 0


# -- Fortinet's own collection -----------------------------------------------------------------------
def test_fortinet_fortimanager_playbook(fm, tmp_path):
    port = fm.fmg["url"].rsplit(":", 1)[1]
    python = sys.executable
    (tmp_path / "hosts.ini").write_text(textwrap.dedent("""\
        [fmg]
        fmg1 ansible_host=127.0.0.1

        [fmg:vars]
        ansible_connection=httpapi
        ansible_network_os=fortinet.fortimanager.fortimanager
        ansible_httpapi_use_ssl=true
        ansible_httpapi_validate_certs=false
        ansible_httpapi_port=%s
        ansible_python_interpreter=%s
        """ % (port, python)))
    (tmp_path / "play.yml").write_text(textwrap.dedent("""\
        - hosts: fmg
          gather_facts: false
          tasks:
            - name: Open trusted host 10 of alice
              fortinet.fortimanager.fmgr_system_admin_user:
                access_token: "{{ token }}"
                state: present
                system_admin_user:
                  userid: alice
                  trusthost10: "198.51.100.7 255.255.255.255"
            - name: Same again (the list read back compares equal to the string)
              fortinet.fortimanager.fmgr_system_admin_user:
                access_token: "{{ token }}"
                state: present
                system_admin_user:
                  userid: alice
                  trusthost10: "198.51.100.7 255.255.255.255"
              register: again
            - name: Check idempotency
              ansible.builtin.assert:
                that: not again.changed
            - name: Create an admin that does not exist yet (get fails, the module sends set)
              fortinet.fortimanager.fmgr_system_admin_user:
                access_token: "{{ token }}"
                state: present
                system_admin_user:
                  userid: dave
                  user_type: local
                  profileid: Restricted_User
                  password: "Dave-pass-1"
            - name: Create an address on fgt1 through the proxy
              fortinet.fortimanager.fmgr_sys_proxy_json:
                access_token: "{{ token }}"
                sys_proxy_json:
                  action: post
                  resource: /api/v2/cmdb/firewall/address?vdom=root
                  payload:
                    name: kk_198.51.100.7
                    type: ipmask
                    subnet: 198.51.100.7/32
                  target:
                    - adom/root/device/fgt1
                  timeout: 10
        """))
    (tmp_path / "vars.json").write_text(json.dumps({"token": fm.fmg["admin_token"]}))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="false",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=str(tmp_path / "pc"),
               ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_PERSISTENT_COMMAND_TIMEOUT="60")
    args = [str(Path(python).with_name("ansible-playbook")), "-i", str(tmp_path / "hosts.ini"),
            str(tmp_path / "play.yml"), "-e", "@" + str(tmp_path / "vars.json")]
    proc = subprocess.run(args, check=False, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "changed=3" in proc.stdout, proc.stdout[-3000:]

    assert fm.login_check("alice", "198.51.100.7") == {"allowed": True, "matched": "trusthost10"}
    assert fm.rpc("get", "/cli/global/system/admin/user/dave")["data"]["profileid"] == "Restricted_User"
    addr = fm.fgt("fgt1", "/api/v2/cmdb/firewall/address/kk_198.51.100.7?vdom=root")
    assert addr.status_code == 200
    # FortiOS reads a subnet back as "a.b.c.d m.m.m.m"; compare networks, not string prefixes.
    subnet = addr.json()["results"][0]["subnet"]
    assert ipaddress.ip_network(subnet.replace(" ", "/")) == ipaddress.ip_network("198.51.100.7/32"), subnet
