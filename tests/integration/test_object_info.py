"""fortigate_object_info / fortimanager_object_info against the lab: "does it exist?" without a write
module in check mode, secrets hidden, reads only, and the same naming (and refusals) as the write modules."""

import json

import pytest

FEED = {"name": "kk_feed", "type": "address", "resource": "https://127.0.0.1:9/api/v1/allowlists/a/b.txt",
        "username": "apikey", "password": "s3cret-feed-password", "refresh-rate": 1}
POLICY = {"srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}], "srcaddr": [{"name": "all"}],
          "dstaddr": [{"name": "all"}], "service": [{"name": "HTTPS"}], "schedule": "always", "action": "accept"}


def requests_to(labview, device):
    return labview.counters()[device]["requests"]


def test_fortigate_object_info(labview, run_module):
    fgt = labview.device("fgt1")
    conn = labview.connection("fgt1", retries=0)
    args = dict(conn, path="system/external-resource", name="kk_feed")
    missing = run_module("fortigate_object_info", args, check=True)
    assert missing == {"changed": False, "exists": False, "mkey": None, "object": None}

    fgt.post("/api/v2/cmdb/system/external-resource", params={"vdom": "root"}, json=FEED).raise_for_status()
    found = run_module("fortigate_object_info", args)
    assert found["exists"] and found["mkey"] == "kk_feed" and not found["changed"]
    # An allowlist URL's path token is a secret: shown redacted (issue 10).
    assert found["object"]["resource"] == "https://127.0.0.1:9/api/v1/allowlists/a/<redacted>.txt"
    assert found["object"]["password"] == "<hidden>"
    assert "q_origin_key" not in found["object"] and FEED["password"] not in json.dumps(found)

    fgt.post("/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
             json=dict(POLICY, name="knocknoc-access")).raise_for_status()
    before = requests_to(labview, "fgt1")
    policy = run_module("fortigate_object_info", dict(conn, path="firewall/policy", name="knocknoc-access"))
    assert policy["exists"] and policy["mkey"] == 1 and policy["object"]["action"] == "accept"
    assert requests_to(labview, "fgt1") - before == 2  # the table (policyid, name), then the policy
    assert run_module("fortigate_object_info", dict(conn, path="firewall/policy", policyid=1))["object"]["name"] == (
        "knocknoc-access")
    assert not run_module("fortigate_object_info", dict(conn, path="firewall/policy", policyid=9))["exists"]
    assert labview.writes("fgt1") == 2  # the two objects this test made itself


def test_fortigate_object_info_errors(labview, run_module):
    conn = labview.connection("fgt1", retries=0)
    refused = run_module("fortigate_object_info", dict(conn, path="firewall/address"))
    assert refused["failed"] and "name is required" in refused["msg"]
    assert requests_to(labview, "fgt1") == 0
    forbidden = run_module("fortigate_object_info", dict(labview.connection("fgt1", "kk-passiveplus", retries=0),
                                                         path="firewall/addrgrp", name="kk_users"))
    assert forbidden["failed"] and forbidden["error_code"] == 202002


def test_fortimanager_object_info(labview, run_module):
    fmg = labview.device("fmg1")
    conn = labview.connection("fmg1", retries=0)
    args = dict(conn, path="/pm/config/adom/{adom}/obj/system/external-resource", name="kk_feed")
    assert run_module("fortimanager_object_info", args, check=True) == {
        "changed": False, "exists": False, "mkey": None, "object": None}

    reply = fmg.rpc("add", "/pm/config/adom/root/obj/system/external-resource", data=FEED)
    assert reply["status"]["code"] == 0, reply
    found = run_module("fortimanager_object_info", args)
    assert found["exists"] and found["mkey"] == "kk_feed" and found["object"]["refresh-rate"] == 1
    assert found["object"].get("password") in (None, "", "<hidden>") and FEED["password"] not in json.dumps(found)
    assert found["object"]["resource"] == "https://127.0.0.1:9/api/v1/allowlists/a/<redacted>.txt"

    admin = run_module("fortimanager_object_info", dict(conn, path="/cli/global/system/admin/user", name="bob"))
    assert admin["exists"] and admin["mkey"] == "bob" and "trusthost1" in admin["object"]
    assert not run_module("fortimanager_object_info", dict(conn, path="/cli/global/system/admin/user", name="Bob"))[
        "exists"]
    assert labview.writes("fmg1") == 1


@pytest.mark.parametrize("args, words", [
    ({"path": "/pm/config/adom/{adom}/obj/firewall/address", "name": "a/b"}, "must not contain '/'"),
    ({"path": "/pm/config/adom/{adom}/pkg/default/firewall/policy"}, "name or policyid is required"),
    ({"path": "/cli/global/system/admin/user", "name": "bob", "policyid": 3}, "policyid applies to policy tables"),
])
def test_fortimanager_object_info_refusals(labview, run_module, args, words):
    result = run_module("fortimanager_object_info", dict(labview.connection("fmg1", retries=0), **args))
    assert result["failed"] and words in result["msg"], result
    assert requests_to(labview, "fmg1") == 0


def test_fortimanager_object_info_unknown_adom(labview, run_module):
    result = run_module("fortimanager_object_info", dict(labview.connection("fmg1", retries=0, adom="nope"),
                                                         path="/pm/config/adom/{adom}/obj/firewall/address",
                                                         name="office"))
    assert result["failed"] and result["error_code"] == 202101 and "nope" in result["msg"], result


def test_playbook_through_the_action_groups(labview, run_playbook):
    rc, output, results = run_playbook("""
- name: Info modules through module_defaults
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate: "{{ fgt }}"
    group/knocknoc.fortinet.fortimanager: "{{ fmg }}"
  tasks:
    - name: FortiGate
      knocknoc.fortinet.fortigate_object_info:
        path: firewall/address
        name: all
    - name: FortiManager
      knocknoc.fortinet.fortimanager_object_info:
        path: /cli/global/system/admin/user
        name: bob
""", extra_vars={"fgt": labview.connection("fgt1"), "fmg": labview.connection("fmg1")})
    assert rc == 0, output[-3000:]
    assert results["FortiGate"]["exists"] and results["FortiManager"]["exists"]
    assert labview.info("fgt1")["admin_token"] not in output and labview.info("fmg1")["admin_token"] not in output
