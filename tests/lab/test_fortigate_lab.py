"""The FortiGate emulator as clients see it: FortiOS REST over HTTPS, and Fortinet's own Ansible modules."""

import base64
import json
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from kklab import lab as lab_module
from kklab.fortigate import FortiGate
from kklab.lab import Lab

TOPOLOGY = {"fortigate": [
    {"name": "fgt1", "serial": "FGVM01TM24000001", "version": "7.4.4", "vdoms": ["root", "dmz"]},
    {"name": "fgt2", "serial": "FGVM01TM24000002", "version": "7.6.2", "vdoms": ["root"]},
    {"name": "fgt3", "serial": "FGVM01TM24000003", "version": "7.2.0", "vdoms": ["root"]},
    {"name": "fgt4", "serial": "FGVM01TM24000004", "version": "7.0.12", "vdoms": ["root"]},
]}
CMDB = "/api/v2/cmdb"
MON = "/api/v2/monitor"


@pytest.fixture(scope="module")
def fgt_lab(tmp_path_factory):
    # FortiGates only: the other emulators are not needed (and may be mid-edit).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lab_module, "_device_classes", lambda: {"fortigate": FortiGate})
        instance = Lab(tmp_path_factory.mktemp("fgtlab"), topology=TOPOLOGY).start()
    yield instance
    instance.stop()


@pytest.fixture
def lab(fgt_lab, monkeypatch):
    # These tests describe the default side of every fidelity switch (KKLAB_VARIANT=alternate flips them
    # for the module suites); test_fortigate_fidelity.py covers the other side.
    monkeypatch.setenv("KKLAB_VARIANT", "default")
    fgt_lab.reset()
    for device in fgt_lab.devices.values():
        device.line_limit, device.ip_entry_limit = 131072, 300000
    return fgt_lab


class ServerNameAdapter(HTTPAdapter):
    """Verify the appliance certificate against the name lab.json gives (the serial as the CN of a
    Fortinet_Factory certificate, or 127.0.0.1 in a Fortinet_GUI_Server's subjectAltNames) and the
    device's own anchor; OpenSSL checks the name, the CN allowed when there is no subjectAltName."""

    def __init__(self, server_name, ca_path, **kwargs):
        self.server_name = server_name
        self.ca_path = ca_path
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        context = ssl.create_default_context(cafile=self.ca_path)
        context.hostname_checks_common_name = True
        kwargs.update(ssl_context=context, server_hostname=self.server_name)
        super().init_poolmanager(*args, **kwargs)


class Fgt:
    def __init__(self, lab, name, user="lab-admin"):
        self.lab = lab
        self.device = lab.devices[name]
        self.info = json.loads(lab.state_path.read_text())["devices"][name]
        self.token = self.info["tokens"][user]
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = self.info["ca_path"]  # the device's own Fortinet_CA_SSL (or factory certificate)
        self.session.mount(self.device.url, ServerNameAdapter(self.info["tls_server_name"], self.info["ca_path"]))

    def as_user(self, user):
        return Fgt(self.lab, self.device.name, user)

    def call(self, method, path, body=None, token=None, params=None, raw=None, headers=None):
        headers = dict(headers or {})
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.session.request(method, self.device.url + path, data=data, params=params,
                                    headers=headers, timeout=15)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def ok(self, method, path, body=None, **kw):
        resp = self.call(method, path, body, **kw)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "success", resp.text
        return resp.json()

    def push(self, *commands, vdom="root"):
        return self.call("POST", MON + "/system/external-resource/dynamic", {"commands": list(commands)},
                         params={"vdom": vdom})

    def entry_list(self, name, **params):
        resp = self.get(MON + "/system/external-resource/entry-list", params=dict(mkey=name, **params))
        assert resp.status_code == 200, resp.text
        return resp.json()["results"]

    def lookup(self, sourceip, dest="192.168.1.10", destport=443, srcintf="port2", **extra):
        params = dict(srcintf=srcintf, sourceip=sourceip, protocol=6, dest=dest, destport=destport, **extra)
        resp = self.get(MON + "/firewall/policy-lookup", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()["results"]


@pytest.fixture
def fgt(lab):
    return Fgt(lab, "fgt1")


def error_of(resp, status=500):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == "error" and body["http_status"] == status
    return body.get("error")


def make_push_resource(fgt, name="kk_allow", vdom="root"):
    fgt.ok("POST", CMDB + "/system/external-resource",
           {"name": name, "type": "address", "update-method": "push"}, params={"vdom": vdom})


def make_policy(fgt, srcaddr, action="accept", **extra):
    body = dict({"policyid": 0, "name": "kk-in", "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
                 "srcaddr": [{"name": srcaddr}], "dstaddr": [{"name": "all"}], "service": [{"name": "HTTPS"}],
                 "schedule": "always", "action": action}, **extra)
    return fgt.ok("POST", CMDB + "/firewall/policy", body)["mkey"]


# -- lab.json, TLS, auth ---------------------------------------------------------------------------
def test_describe_tokens_and_reset_keeps_them(lab):
    info = json.loads(lab.state_path.read_text())["devices"]["fgt1"]
    assert info["kind"] == "fortigate" and info["vdoms"] == ["root", "dmz"]
    # FortiOS 7.4.4 presents Fortinet_GUI_Server: the interface address, not the serial.
    assert info["tls_server_name"] == "127.0.0.1" and info["certificate"]["shape"] == "gui"
    assert set(info["tokens"]) == {"lab-admin", "kk-passiveplus", "kk-active", "kk-readonly", "kk-noperm",
                                   "kk-untrusted"}
    assert all(len(t) == 30 and t.isalnum() for t in info["tokens"].values())
    assert info["admin_token"] == info["tokens"]["lab-admin"]
    lab.reset()
    assert lab.devices["fgt1"].describe()["tokens"] == info["tokens"]


def test_status_envelope_and_logout(fgt):
    body = fgt.ok("GET", MON + "/system/status")
    assert body["serial"] == "FGVM01TM24000001" and body["version"] == "v7.4.4" and body["build"] == 2662
    assert body["results"]["hostname"] == "fgt1" and body["path"] == "system" and body["name"] == "status"
    assert fgt.call("POST", "/logout", token="").status_code == 200


def test_auth_failures_are_401(lab, fgt):
    assert fgt.get(MON + "/system/status", token="").status_code == 401
    assert fgt.get(MON + "/system/status", token="x" * 30).status_code == 401
    # kk-untrusted is a super_admin whose only trusted host is 192.0.2.1: same 401 as a wrong key.
    assert fgt.as_user("kk-untrusted").get(CMDB + "/firewall/address").status_code == 401


def test_key_in_url_refused_from_745_accepted_before(lab):
    new, old = Fgt(lab, "fgt2"), Fgt(lab, "fgt3")
    assert new.get(MON + "/system/status", token="", params={"access_token": new.token}).status_code == 401
    assert new.get(MON + "/system/status").status_code == 200
    resp = old.get(MON + "/system/status", token="", params={"access_token": old.token})
    assert resp.status_code == 200 and resp.json()["version"] == "v7.2.0"


def test_vdoms(fgt):
    assert fgt.get(CMDB + "/firewall/address", params={"vdom": "dmz"}).json()["vdom"] == "dmz"
    assert fgt.get(CMDB + "/firewall/address", params={"vdom": "nope"}).status_code == 404
    # An api-user limited to root is refused dmz with 403.
    fgt.ok("POST", CMDB + "/system/api-user",
           {"name": "root-only", "accprofile": "super_admin", "vdom": [{"name": "root"}],
            "trusthost": [{"id": 0, "type": "ipv4-trusthost", "ipv4-trusthost": "127.0.0.0/8"}]})
    key = fgt.ok("POST", MON + "/system/api-user/generate-key", {"api-user": "root-only"})["results"]["access_token"]
    assert fgt.get(CMDB + "/firewall/address", token=key).status_code == 200
    assert error_of(fgt.get(CMDB + "/firewall/address", token=key, params={"vdom": "dmz"}), 403) is None
    # Objects are per VDOM.
    fgt.ok("POST", CMDB + "/firewall/address", {"name": "only-dmz", "subnet": "10.9.9.9/32"}, params={"vdom": "dmz"})
    assert fgt.get(CMDB + "/firewall/address/only-dmz").status_code == 404


def test_access_profiles(fgt):
    ro, pp, act, noperm = (fgt.as_user(u) for u in ("kk-readonly", "kk-passiveplus", "kk-active", "kk-noperm"))
    assert ro.get(CMDB + "/firewall/address").status_code == 200
    assert ro.get(CMDB + "/system/external-resource").status_code == 200
    assert error_of(ro.post(CMDB + "/firewall/address", {"name": "x", "subnet": "10.0.0.1/32"}), 403) is None
    # Passive+: System Configuration read-write and nothing else.
    assert pp.get(CMDB + "/firewall/address").status_code == 403
    pp.ok("POST", CMDB + "/system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "push"})
    assert pp.push({"name": "kk_allow", "command": "add", "entries": ["198.51.100.7"]}).status_code == 200
    assert pp.get(MON + "/firewall/policy-lookup", params={"srcintf": "port2", "sourceip": "1.1.1.1",
                                                           "protocol": 6, "dest": "2.2.2.2"}).status_code == 403
    assert pp.post(MON + "/system/api-user/generate-key", {"api-user": "kk-active"}).status_code == 403
    # Active: firewall read-write only.
    act.ok("POST", CMDB + "/firewall/address", {"name": "kk_1", "subnet": "10.0.0.1/32"})
    assert act.get(CMDB + "/system/external-resource").status_code == 403
    assert act.push({"name": "kk_allow", "command": "add", "entries": ["198.51.100.8"]}).status_code == 403
    # No permission at all still reaches system/status.
    assert noperm.get(CMDB + "/firewall/address").status_code == 403
    assert noperm.get(MON + "/system/status").status_code == 200


def test_custom_profile_permission_object(fgt):
    fgt.ok("POST", CMDB + "/system/accprofile",
           {"name": "addr_only", "fwgrp": "custom", "fwgrp-permission": {"address": "read-write"}})
    profile = fgt.get(CMDB + "/system/accprofile/addr_only").json()["results"][0]
    assert profile["fwgrp-permission"] == {"policy": "none", "address": "read-write", "service": "none",
                                           "schedule": "none", "others": "none"}
    assert error_of(fgt.post(CMDB + "/system/accprofile", {"name": "bad", "vpngrp": "custom"})) == -651
    fgt.ok("PUT", CMDB + "/system/api-user/kk-noperm", {"accprofile": "addr_only"})
    noperm = fgt.as_user("kk-noperm")
    assert noperm.get(CMDB + "/firewall/addrgrp").status_code == 200
    assert noperm.get(CMDB + "/firewall/policy").status_code == 403
    assert error_of(fgt.delete(CMDB + "/system/accprofile/addr_only")) == -23
    assert error_of(fgt.post(CMDB + "/system/api-user", {"name": "u2", "accprofile": "ghost"})) == -651


# -- CMDB ------------------------------------------------------------------------------------------
def test_address_create_read_back_and_update(fgt):
    body = fgt.ok("POST", CMDB + "/firewall/address", {"name": "kk_198.51.100.7", "subnet": "198.51.100.7/32",
                                                       "comment": "knocknoc"})
    assert body["mkey"] == "kk_198.51.100.7" and body["revision_changed"] is True
    assert body["old_revision"] != body["revision"] and len(body["revision"]) == 32
    got = fgt.ok("GET", CMDB + "/firewall/address/kk_198.51.100.7")
    assert got["mkey"] == "kk_198.51.100.7" and len(got["results"]) == 1
    obj = got["results"][0]
    assert obj["subnet"] == "198.51.100.7 255.255.255.255" and obj["q_origin_key"] == "kk_198.51.100.7"
    assert obj["type"] == "ipmask" and obj["color"] == 0 and obj["comment"] == "knocknoc" and len(obj["uuid"]) == 36
    # Mask form in, same form out; host bits kept.
    fgt.ok("POST", CMDB + "/firewall/address", {"name": "net", "subnet": "10.1.2.3 255.255.255.0"})
    assert fgt.get(CMDB + "/firewall/address/net").json()["results"][0]["subnet"] == "10.1.2.3 255.255.255.0"
    # Partial PUT; re-applying the same values changes nothing.
    assert fgt.ok("PUT", CMDB + "/firewall/address/net", {"comment": "x"})["revision_changed"] is True
    again = fgt.ok("PUT", CMDB + "/firewall/address/net", {"comment": "x", "subnet": "10.1.2.3/24"})
    assert again["revision_changed"] is False
    fgt.ok("POST", CMDB + "/firewall/address", {"name": "rng", "type": "iprange", "start-ip": "10.0.0.1",
                                                "end-ip": "10.0.0.9"})
    fgt.ok("POST", CMDB + "/firewall/address", {"name": "web", "type": "fqdn", "fqdn": "example.com"})
    fgt.ok("POST", CMDB + "/firewall/address6", {"name": "v6host", "ip6": "2001:db8::7"})
    assert fgt.get(CMDB + "/firewall/address6/v6host").json()["results"][0]["ip6"] == "2001:db8::7/128"
    fgt.ok("DELETE", CMDB + "/firewall/address/net")
    missing = fgt.get(CMDB + "/firewall/address/net")
    assert error_of(missing, 404) is None and "error" not in missing.json()
    assert error_of(fgt.delete(CMDB + "/firewall/address/net"), 404) is None


def test_seed_objects(fgt):
    names = [o["name"] for o in fgt.ok("GET", CMDB + "/firewall/address")["results"]]
    assert names == ["all", "none"]
    assert fgt.get(CMDB + "/firewall/address/all").json()["results"][0]["subnet"] == "0.0.0.0 0.0.0.0"
    assert [o["name"] for o in fgt.ok("GET", CMDB + "/firewall/address6")["results"]] == ["all", "none"]
    assert [o["name"] for o in fgt.ok("GET", CMDB + "/firewall.service/custom")["results"]] == ["ALL", "HTTPS", "SSH"]
    assert fgt.ok("GET", CMDB + "/firewall.schedule/recurring/always")["results"][0]["name"] == "always"
    ports = {o["name"]: o["role"] for o in fgt.ok("GET", CMDB + "/system/interface")["results"]}
    assert ports == {"port1": "lan", "port2": "wan"}
    assert fgt.post(CMDB + "/system/interface", {"name": "port9"}).status_code == 405
    users = fgt.ok("GET", CMDB + "/system/api-user/kk-active")["results"][0]
    assert users["api-key"] == "ENC XXXX" and users["accprofile"] == "kk_active"
    assert users["trusthost"][0]["ipv4-trusthost"] == "127.0.0.1 255.255.255.255"


def test_cmdb_errors(fgt):
    fgt.ok("POST", CMDB + "/firewall/address", {"name": "a1", "subnet": "10.0.0.1/32"})
    assert error_of(fgt.post(CMDB + "/firewall/address", {"name": "a1", "subnet": "10.0.0.2/32"})) == -5
    assert error_of(fgt.post(CMDB + "/firewall/address", {"name": "a2", "subnet": "10.0.0.300/32"})) == -8
    assert error_of(fgt.post(CMDB + "/firewall/address", {"name": "a2", "subnet": "10.0.0.1 255.0.255.0"})) == -9
    assert error_of(fgt.post(CMDB + "/firewall/address", {"name": "a" * 80, "subnet": "10.0.0.1/32"})) == -72
    assert error_of(fgt.post(CMDB + "/firewall/address", {"name": "a2", "comment": "c" * 256})) == -72
    assert error_of(fgt.post(CMDB + "/firewall/address", {"name": "a2", "type": "bogus"})) == -651
    assert error_of(fgt.post(CMDB + "/firewall/addrgrp", {"name": "a1", "member": [{"name": "all"}]})) == -163
    assert error_of(fgt.call("POST", CMDB + "/firewall/address", raw="{not json"), 400) is None
    assert fgt.delete(CMDB + "/firewall/address").status_code == 405
    assert fgt.get(CMDB + "/firewall/nothing").status_code == 404
    assert error_of(fgt.post(CMDB + "/system/external-resource",
                             {"name": "r1", "type": "address", "resource": "https://x/", "refresh-rate": 0})) == -650
    assert error_of(fgt.post(CMDB + "/system/external-resource", {"name": "r" * 36, "type": "address",
                                                                  "resource": "https://x/"})) == -72
    assert error_of(fgt.post(CMDB + "/system/external-resource", {"name": "r1", "type": "address"})) == -56
    ref = fgt.post(CMDB + "/firewall/addrgrp", {"name": "g", "member": [{"name": "homeNetwork"}]})
    assert error_of(ref) == -651
    assert ref.json()["cli_error"] == ("node_check_object fail! for name homeNetwork\n\nvalue parse error before "
                                       "'homeNetwork'\nCommand fail. Return code -651\n")


def test_filter_format_paging(fgt):
    for i, name in enumerate(("kk_a", "kk_b", "other")):
        fgt.ok("POST", CMDB + "/firewall/address", {"name": name, "subnet": "10.0.0.%d/32" % (i + 1),
                                                    "comment": "KK" if name != "other" else ""})
    body = fgt.ok("GET", CMDB + "/firewall/address", params={"filter": "name=@kk_", "format": "name|comment"})
    assert body["size"] == 5 and body["matched_count"] == 2
    assert body["results"] == [{"name": "kk_a", "q_origin_key": "kk_a", "comment": "KK"},
                               {"name": "kk_b", "q_origin_key": "kk_b", "comment": "KK"}]
    either = fgt.ok("GET", CMDB + "/firewall/address", params={"filter": "name==kk_a,name==other"})
    assert [o["name"] for o in either["results"]] == ["kk_a", "other"]
    both = fgt.ok("GET", CMDB + "/firewall/address", params=[("filter", "name=@kk"), ("filter", "name!=kk_a")])
    assert [o["name"] for o in both["results"]] == ["kk_b"]
    assert fgt.ok("GET", CMDB + "/firewall/address", params={"filter": "comment=*kk"})["matched_count"] == 2
    page = fgt.ok("GET", CMDB + "/firewall/address", params={"start": 1, "count": 2})
    assert [o["name"] for o in page["results"]] == ["none", "kk_a"]
    assert "subnet" in fgt.ok("GET", CMDB + "/firewall/address", params={"format": "name|bogus"})["results"][0]
    fgt.ok("POST", CMDB + "/firewall/addrgrp", {"name": "g", "member": [{"name": "kk_a"}]})
    meta = fgt.ok("GET", CMDB + "/firewall/address/kk_a", params={"with_meta": 1})["results"][0]
    assert meta["q_ref"] == 1


def test_member_child_table(fgt):
    for name in ("kk_1", "kk_2"):
        fgt.ok("POST", CMDB + "/firewall/address", {"name": name, "subnet": "198.51.100.%s/32" % name[-1]})
    fgt.ok("POST", CMDB + "/firewall/address6", {"name": "kk_v6", "ip6": "2001:db8::1/128"})
    fgt.ok("POST", CMDB + "/firewall/addrgrp", {"name": "kk_users", "member": [{"name": "kk_1"}]})
    grp = CMDB + "/firewall/addrgrp/kk_users/member"
    assert fgt.get(grp + "/kk_2").status_code == 404
    added = fgt.ok("POST", grp, {"name": "kk_2"})
    assert added["revision_changed"] is True and added["mkey"] == "kk_2"
    assert [m["name"] for m in fgt.ok("GET", grp)["results"]] == ["kk_1", "kk_2"]
    assert fgt.ok("GET", grp + "/kk_2")["results"] == [{"name": "kk_2", "q_origin_key": "kk_2"}]
    assert fgt.ok("PUT", grp + "/kk_2", {"name": "kk_2"})["revision_changed"] is False
    assert error_of(fgt.post(grp, {"name": "kk_2"})) == -5
    assert error_of(fgt.post(grp, {"name": "ghost"})) == -651
    assert error_of(fgt.post(grp, {"name": "kk_v6"})) == -651  # IPv6 objects belong in addrgrp6
    assert error_of(fgt.post(CMDB + "/firewall/addrgrp/nogroup/member", {"name": "kk_1"}), 404) is None
    assert error_of(fgt.delete(CMDB + "/firewall/address/kk_2")) == -23  # still a member
    fgt.ok("DELETE", grp + "/kk_2")
    assert error_of(fgt.delete(grp + "/kk_2"), 404) is None
    fgt.ok("DELETE", CMDB + "/firewall/address/kk_2")
    group = fgt.get(CMDB + "/firewall/addrgrp/kk_users").json()["results"][0]
    assert group["member"] == [{"name": "kk_1", "q_origin_key": "kk_1"}]
    fgt.ok("POST", CMDB + "/firewall/addrgrp6", {"name": "kk_users6", "member": [{"name": "kk_v6"}]})
    assert error_of(fgt.post(CMDB + "/firewall/addrgrp6/kk_users6/member", {"name": "kk_1"})) == -651


def test_empty_groups_by_version(lab):
    new, old = Fgt(lab, "fgt3"), Fgt(lab, "fgt4")  # 7.2.0 and 7.0.12
    new.ok("POST", CMDB + "/firewall/addrgrp", {"name": "empty"})
    new.ok("POST", CMDB + "/firewall/addrgrp/empty/member", {"name": "all"})
    new.ok("DELETE", CMDB + "/firewall/addrgrp/empty/member/all")
    assert error_of(old.post(CMDB + "/firewall/addrgrp", {"name": "empty"})) == -56
    old.ok("POST", CMDB + "/firewall/addrgrp", {"name": "g", "member": [{"name": "all"}]})
    assert error_of(old.delete(CMDB + "/firewall/addrgrp/g/member/all")) == -56
    assert old.get(CMDB + "/firewall/addrgrp/g/member/all").status_code == 200


def test_policy_references_and_move(fgt):
    fgt.ok("POST", CMDB + "/firewall/addrgrp", {"name": "kk_users", "member": [{"name": "none"}]})
    first = make_policy(fgt, "kk_users")
    second = make_policy(fgt, "all", action="deny", name="deny-rest")
    assert (first, second) == (1, 2)
    policy = fgt.ok("GET", CMDB + "/firewall/policy/1")["results"][0]
    assert policy["policyid"] == 1 and policy["q_origin_key"] == 1 and policy["srcaddr"][0]["name"] == "kk_users"
    assert policy["logtraffic"] == "utm" and policy["status"] == "enable"
    bad = fgt.post(CMDB + "/firewall/policy", {"srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
                                               "srcaddr": [{"name": "homeNetwork"}], "dstaddr": [{"name": "all"}],
                                               "service": [{"name": "ALL"}], "schedule": "always"})
    assert error_of(bad) == -651 and "homeNetwork" in bad.json()["cli_error"]
    assert error_of(fgt.post(CMDB + "/firewall/policy", {"policyid": 1, "srcintf": [{"name": "port2"}]})) == -5
    assert error_of(fgt.delete(CMDB + "/firewall/addrgrp/kk_users")) == -23
    fgt.ok("PUT", CMDB + "/firewall/policy/2", params={"action": "move", "before": 1})
    assert [p["policyid"] for p in fgt.ok("GET", CMDB + "/firewall/policy")["results"]] == [2, 1]


def test_external_resource_fields_by_version(lab, fgt):
    fgt.ok("POST", CMDB + "/system/external-resource",
           {"name": "kk_feed", "type": "address", "resource": "https://127.0.0.1:1/x.txt", "username": "apikey",
            "password": "s3cret"})
    obj = fgt.ok("GET", CMDB + "/system/external-resource/kk_feed")["results"][0]
    assert obj["password"] == "ENC XXXX" and obj["update-method"] == "feed" and obj["refresh-rate"] == 5
    assert obj["status"] == "enable" and obj["server-identity-check"] == "none"
    old = Fgt(lab, "fgt3")
    old.ok("POST", CMDB + "/system/external-resource",
           {"name": "kk_feed", "type": "address", "resource": "https://127.0.0.1:1/x.txt", "update-method": "push"})
    obj = old.ok("GET", CMDB + "/system/external-resource/kk_feed")["results"][0]
    assert "update-method" not in obj and "server-identity-check" not in obj  # 7.2.1 / 7.2.4 fields


# -- push API --------------------------------------------------------------------------------------
def test_push_add_remove_snapshot_and_entry_list(fgt):
    make_push_resource(fgt)
    resp = fgt.push({"name": "kk_allow", "command": "add",
                     "entries": ["198.51.100.7", "2001:db8::7", "10.0.0.0/24", "10.1.1.1-10.1.1.9", "nonsense",
                                 "10.2.2.9-10.2.2.1"]})
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success" and body["action"] == "dynamic"
    assert body["results"] == [{"name": "kk_allow", "command": "add", "status": "success",
                                "invalidEntries": ["nonsense", "10.2.2.9-10.2.2.1"]}]
    listed = fgt.entry_list("kk_allow")
    assert [e["entry"] for e in listed["entries"]] == ["198.51.100.7", "2001:db8::7", "10.0.0.0/24",
                                                       "10.1.1.1-10.1.1.9"]
    assert listed["valid_count"] == 4 and listed["invalid_count"] == 0 and listed["overflow"] is False
    # remove matches the listed text by default (fidelity remove_matches), by value on the alternate side
    fgt.push({"name": "kk_allow", "command": "remove", "entries": ["198.51.100.7", "2001:DB8::7"]})
    by_value = fgt.device.switches["remove_matches"] == "value"
    assert [e["entry"] for e in fgt.entry_list("kk_allow")["entries"]] == (
        [] if by_value else ["2001:db8::7"]) + ["10.0.0.0/24", "10.1.1.1-10.1.1.9"]
    fgt.push({"name": "kk_allow", "command": "remove", "entries": ["2001:db8::7"]})
    assert [e["entry"] for e in fgt.entry_list("kk_allow")["entries"]] == ["10.0.0.0/24", "10.1.1.1-10.1.1.9"]
    fgt.push({"name": "kk_allow", "command": "snapshot", "entries": ["203.0.113.5"]})
    assert fgt.entry_list("kk_allow")["entries"] == [{"entry": "203.0.113.5", "valid": True}]
    assert fgt.entry_list("kk_allow", counts_only=1).keys() >= {"valid_count", "accepted_count", "overflow"}
    assert "entries" not in fgt.entry_list("kk_allow", counts_only=1)


def test_push_errors(fgt):
    make_push_resource(fgt)
    mixed = fgt.push({"name": "ghost", "command": "add", "entries": ["1.2.3.4"]},
                     {"name": "kk_allow", "command": "add", "entries": ["1.2.3.4"]})
    results = mixed.json()["results"]
    assert mixed.status_code == 200 and mixed.json()["status"] == "success"
    assert results[0]["status"] == "error" and results[0]["error"] and results[1]["status"] == "success"
    # Every command failed: still HTTP 200, the envelope says error.
    failed = fgt.push({"name": "ghost", "command": "add", "entries": ["1.2.3.4"]},
                      {"name": "kk_allow", "command": "bogus", "entries": []})
    assert failed.status_code == 200 and failed.json()["status"] == "error"
    assert [r["status"] for r in failed.json()["results"]] == ["error", "error"]
    assert error_of(fgt.post(MON + "/system/external-resource/dynamic", {"nothing": 1}), 400) is None
    assert fgt.get(MON + "/system/external-resource/entry-list", params={"mkey": "ghost"}).status_code == 404
    big = b'{"commands": [{"name": "kk_allow", "command": "add", "entries": ["' + b"1" * (16 * 1024 * 1024) + b'"]}]}'
    assert fgt.call("POST", MON + "/system/external-resource/dynamic", raw=big).status_code == 413


def test_push_refused_before_721(lab):
    old = Fgt(lab, "fgt3")
    old.ok("POST", CMDB + "/system/external-resource", {"name": "kk_allow", "type": "address",
                                                        "resource": "https://127.0.0.1:1/x"})
    resp = old.push({"name": "kk_allow", "command": "add", "entries": ["1.2.3.4"]})
    assert resp.status_code == 404 and resp.json()["status"] == "error"


def test_global_entry_limit_truncates_newest(lab, fgt):
    lab.devices["fgt1"].ip_entry_limit = 3  # 300000 in 7.4.4+; shrunk to keep the test small
    make_push_resource(fgt, "a_first")
    make_push_resource(fgt, "b_second")
    fgt.push({"name": "a_first", "command": "add", "entries": ["10.0.0.1", "10.0.0.2"]},
             {"name": "b_second", "command": "add", "entries": ["10.0.0.3", "10.0.0.4"]})
    first, second = fgt.entry_list("a_first"), fgt.entry_list("b_second")
    assert (first["accepted_count"], first["overflow"]) == (2, False)
    assert (second["accepted_count"], second["overflow"], second["accepted_limit"]) == (1, True, 3)
    make_policy(fgt, "b_second")
    assert fgt.lookup("10.0.0.3")["policy_id"] == 1
    assert fgt.lookup("10.0.0.4")["policy_id"] == 0  # truncated: not in force


# -- feeds -----------------------------------------------------------------------------------------
class FeedServer:
    """A tiny HTTPS allow-list server with basic auth, certificate from the lab CA."""

    def __init__(self, lab, cert_name="127.0.0.1"):
        self.body = b""
        self.status = 200
        self.requests = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                feed.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                      "agent": self.headers.get("User-Agent")})
                expected = "Basic " + base64.b64encode(b"apikey:s3cret").decode()
                status, body = ((401, b"") if self.headers.get("Authorization") != expected
                                else (feed.status, feed.body))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = lab.authority.server_context(cert_name)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/feed.txt" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed(lab):
    server = FeedServer(lab)
    yield server
    server.close()


def control(lab, method, path, body=None):
    url = json.loads(lab.state_path.read_text())["control_url"] + path
    resp = requests.request(method, url, json=body, timeout=30, proxies={"http": "", "https": ""})
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_for(predicate, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_feed_polls_and_replaces_pushed_entries(lab, fgt, feed):
    feed.body = b"# knocknoc allowlist\n198.51.100.7\n\n2001:db8::7\nnot-an-ip\n"
    fgt.ok("POST", CMDB + "/system/external-resource",
           {"name": "kk_feed", "type": "address", "resource": feed.url, "username": "apikey",
            "password": "s3cret", "server-identity-check": "full", "refresh-rate": 5})
    # A new feed polls on the next tick of the lab clock.
    assert wait_for(lambda: fgt.entry_list("kk_feed")["status"] == "success")
    listed = fgt.entry_list("kk_feed")
    assert listed["entries"] == [{"entry": "198.51.100.7", "valid": True}, {"entry": "2001:db8::7", "valid": True},
                                 {"entry": "not-an-ip", "valid": False}]
    assert (listed["valid_count"], listed["invalid_count"], listed["http_status_code"]) == (2, 1, 200)
    assert listed["resource_file_status"] == "downloaded" and listed["last_conn_success_time"] > 0
    assert feed.requests[0]["agent"] == "curl/7.58.0"
    # Push is an in-memory overlay on a feed...
    assert fgt.push({"name": "kk_feed", "command": "add", "entries": ["203.0.113.9"]}).json()["status"] == "success"
    assert "203.0.113.9" in [e["entry"] for e in fgt.entry_list("kk_feed")["entries"]]
    # ...until the next poll (refresh-rate minutes later on the lab clock) reconciles it away.
    polls = len(feed.requests)
    control(lab, "POST", "/clock/advance", {"seconds": 301})
    assert len(feed.requests) == polls + 1
    assert "203.0.113.9" not in [e["entry"] for e in fgt.entry_list("kk_feed")["entries"]]
    # A failed poll keeps the last list and shows the error.
    feed.status = 500
    polled = control(lab, "POST", "/devices/fgt1/poll", {"vdom": "root", "name": "kk_feed"})["polled"]
    assert polled[0]["status"] == "error"
    listed = fgt.entry_list("kk_feed")
    assert listed["status"] == "error" and listed["http_status_code"] == 500 and listed["valid_count"] == 2
    dump = control(lab, "GET", "/devices/fgt1/dump")
    assert dump["vdoms"]["root"]["resources"]["kk_feed"]["valid_count"] == 2


def test_feed_certificate_check_and_refresh(lab, fgt):
    wrong = FeedServer(lab, cert_name="not-this-host.invalid")
    try:
        wrong.body = b"10.0.0.1\n"
        for name, check in (("strict", "full"), ("lax", "none")):
            fgt.ok("POST", CMDB + "/system/external-resource",
                   {"name": name, "type": "address", "resource": wrong.url, "username": "apikey",
                    "password": "s3cret", "server-identity-check": check})
        control(lab, "POST", "/devices/fgt1/poll", {})
        assert fgt.entry_list("strict")["status"] == "error"
        assert fgt.entry_list("lax")["status"] == "success"
        wrong.body = b"10.0.0.1\n10.0.0.2\n"
        started = fgt.ok("POST", MON + "/system/external-resource/refresh", {"mkey": "lax"})
        assert started["results"]["status"] in ("start", "pending")
        assert wait_for(lambda: fgt.entry_list("lax")["valid_count"] == 2)
        check = fgt.ok("POST", MON + "/system/external-resource/refresh", {"mkey": "lax", "check_status_only": True})
        assert check["results"]["status"] == "finished"
    finally:
        wrong.close()


def test_feed_line_limit_before_744(lab, feed):
    old = Fgt(lab, "fgt3")
    lab.devices["fgt3"].line_limit = 2  # 131072 lines per resource before 7.4.4; shrunk for the test
    feed.body = b"10.0.0.1\n10.0.0.2\n10.0.0.3\n"
    old.ok("POST", CMDB + "/system/external-resource", {"name": "kk_feed", "type": "address", "resource": feed.url,
                                                        "username": "apikey", "password": "s3cret"})
    control(lab, "POST", "/devices/fgt3/poll", {"name": "kk_feed"})
    listed = old.entry_list("kk_feed")
    assert (listed["accepted_count"], listed["overflow"], listed["valid_count"]) == (2, True, 3)


# -- policy lookup ---------------------------------------------------------------------------------
def test_policy_lookup_through_group(fgt):
    fgt.ok("POST", CMDB + "/firewall/address", {"name": "kk_198.51.100.7", "subnet": "198.51.100.7/32"})
    fgt.ok("POST", CMDB + "/firewall/addrgrp", {"name": "kk_users", "member": [{"name": "none"}]})
    fgt.ok("POST", CMDB + "/firewall/addrgrp", {"name": "outer", "member": [{"name": "kk_users"}]})
    make_policy(fgt, "outer")
    make_policy(fgt, "all", action="deny", name="deny-rest", service=[{"name": "ALL"}])
    assert fgt.lookup("198.51.100.7") == {"success": True, "policy_id": 2, "destip": "192.168.1.10",
                                          "policy_action": "deny"}
    fgt.ok("POST", CMDB + "/firewall/addrgrp/kk_users/member", {"name": "kk_198.51.100.7"})
    hit = fgt.lookup("198.51.100.7")
    assert (hit["policy_id"], hit["policy_action"]) == (1, "accept")
    assert fgt.lookup("198.51.100.7", destport=22)["policy_id"] == 2  # HTTPS only
    assert fgt.lookup("198.51.100.7", srcintf="port1")["policy_id"] == 0  # wrong ingress: implicit deny
    fgt.ok("DELETE", CMDB + "/firewall/addrgrp/kk_users/member/kk_198.51.100.7")
    assert fgt.lookup("198.51.100.7")["policy_id"] == 2
    fgt.ok("PUT", CMDB + "/firewall/policy/2", {"status": "disable"})
    assert fgt.lookup("198.51.100.7") == {"success": True, "policy_id": 0, "destip": "192.168.1.10",
                                          "policy_action": "deny"}
    assert fgt.get(MON + "/firewall/policy-lookup", params={"sourceip": "1.2.3.4"}).status_code == 424


def test_policy_lookup_through_external_resource(fgt):
    make_push_resource(fgt)
    make_policy(fgt, "kk_allow", srcaddr6=[{"name": "kk_allow"}], dstaddr6=[{"name": "all"}])
    assert fgt.lookup("198.51.100.7")["policy_id"] == 0
    fgt.push({"name": "kk_allow", "command": "add", "entries": ["198.51.100.0/28", "2001:db8::7"]})
    assert fgt.lookup("198.51.100.7")["policy_id"] == 1
    assert fgt.lookup("2001:db8::7", dest="2001:db8:1::1", ipv6="true")["policy_id"] == 1
    fgt.push({"name": "kk_allow", "command": "remove", "entries": ["198.51.100.0/28"]})
    assert fgt.lookup("198.51.100.7")["policy_id"] == 0
    fgt.ok("PUT", CMDB + "/system/external-resource/kk_allow", {"status": "disable"})
    assert fgt.lookup("2001:db8::7", dest="2001:db8:1::1", ipv6="true")["policy_id"] == 0


# -- keys and counters -----------------------------------------------------------------------------
def test_generate_key_replaces_the_old_one(lab, fgt):
    old = fgt.as_user("kk-active")
    reply = fgt.ok("POST", MON + "/system/api-user/generate-key", {"api-user": "kk-active"})
    new_key = reply["results"]["access_token"]
    assert len(new_key) == 30 and new_key != old.token
    assert old.get(CMDB + "/firewall/address").status_code == 401
    assert old.get(CMDB + "/firewall/address", token=new_key).status_code == 200
    lab.reset()  # back to the seed keys
    assert old.get(CMDB + "/firewall/address").status_code == 200


def test_counters_count_writes_only(lab, fgt):
    device = lab.devices["fgt1"]
    make_push_resource(fgt)
    before = device.writes
    fgt.get(CMDB + "/firewall/address")
    fgt.get(MON + "/system/status")
    fgt.entry_list("kk_allow")
    fgt.lookup("1.2.3.4")
    fgt.post(MON + "/system/external-resource/refresh", {"mkey": "kk_allow", "check_status_only": True})
    fgt.call("POST", "/logout", token="")
    assert device.writes == before
    fgt.push({"name": "kk_allow", "command": "add", "entries": ["1.2.3.4"]})
    fgt.post(CMDB + "/firewall/address", {"name": "a", "subnet": "10.0.0.1/32"})
    fgt.post(CMDB + "/firewall/address", {"name": "a", "subnet": "10.0.0.1/32"})  # refused, still an attempt
    fgt.delete(CMDB + "/firewall/address/a")
    assert device.writes == before + 4
    assert control(lab, "GET", "/counters")["fgt1"]["writes"] == before + 4


# -- Fortinet's own Ansible collection ---------------------------------------------------------------
def test_fortinet_fortios_playbook(lab, fgt, tmp_path):
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    if not playbook_bin.exists():
        pytest.skip("ansible-playbook is not installed in this environment")
    port = fgt.device.url.rsplit(":", 1)[1]
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": {"fgt1": {
        "ansible_host": "127.0.0.1", "ansible_connection": "httpapi",
        "ansible_network_os": "fortinet.fortios.fortios", "ansible_httpapi_use_ssl": True,
        "ansible_httpapi_validate_certs": False, "ansible_httpapi_port": int(port),
        "ansible_python_interpreter": sys.executable, "fortios_access_token": fgt.token}}}}))
    common = {"access_token": "{{ fortios_access_token }}", "vdom": "root"}
    tasks = [
        {"fortinet.fortios.fortios_firewall_address": dict(common, state="present", firewall_address={
            "name": "kk_198.51.100.7", "subnet": "198.51.100.7/32", "comment": "knocknoc"})},
        {"fortinet.fortios.fortios_firewall_address": dict(common, state="present", firewall_address={
            "name": "kk_198.51.100.7", "subnet": "198.51.100.7/32", "comment": "knocknoc"}),
         "register": "again"},
        {"fortinet.fortios.fortios_firewall_addrgrp": dict(common, state="present", firewall_addrgrp={
            "name": "kk_users", "member": [{"name": "none"}]})},
        {"fortinet.fortios.fortios_firewall_addrgrp": dict(
            common, state="present", member_path="member:name", member_state="present",
            firewall_addrgrp={"name": "kk_users", "member": [{"name": "kk_198.51.100.7"}]}), "register": "member"},
        {"fortinet.fortios.fortios_system_external_resource": dict(
            common, state="present",
            system_external_resource={"name": "kk_allow", "type": "address", "update_method": "push"})},
        {"fortinet.fortios.fortios_monitor": dict(common, selector="dynamic.system.external-resource", params={
            "commands": [{"name": "kk_allow", "command": "add", "entries": ["203.0.113.9"]}]}), "register": "push"},
        {"ansible.builtin.assert": {"that": ["not again.changed", "member.changed",
                                             "push.meta.results[0].status == 'success'"]}},
    ]
    (tmp_path / "play.json").write_text(json.dumps([{"hosts": "fgt1", "gather_facts": False, "tasks": tasks}]))
    env = {"PATH": "%s:/usr/bin:/bin" % Path(sys.executable).parent, "HOME": str(tmp_path),
           "ANSIBLE_HOME": str(tmp_path / "ansible"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": str(tmp_path / "pc"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_HOST_KEY_CHECKING": "0", "no_proxy": "*",
           "NO_PROXY": "*"}
    run = subprocess.run(check=False, args=[str(playbook_bin), "-i", str(tmp_path / "inventory.json"), str(tmp_path / "play.json")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # The effect, seen through the REST API.
    assert fgt.get(CMDB + "/firewall/address/kk_198.51.100.7").json()["results"][0]["subnet"] == \
        "198.51.100.7 255.255.255.255"
    members = [m["name"] for m in fgt.ok("GET", CMDB + "/firewall/addrgrp/kk_users/member")["results"]]
    assert members == ["none", "kk_198.51.100.7"]
    assert fgt.ok("GET", CMDB + "/system/external-resource/kk_allow")["results"][0]["update-method"] == "push"
    assert fgt.entry_list("kk_allow")["entries"] == [{"entry": "203.0.113.9", "valid": True}]
