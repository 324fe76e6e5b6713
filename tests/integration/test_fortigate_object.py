"""fortigate_object against the lab's FortiGates: CRUD of CMDB objects as a client sees them,
idempotence, check mode (zero writes), diff, API keys of REST API admins, and errors."""

import json

import pytest

MODULE = "fortigate_object"


def conn(labview, name="fgt1", token_name=None):
    return labview.connection(name, token_name, retries=0)


def requests_to(labview, device):
    return labview.counters()[device]["requests"]


POLICY = {"srcintf": ["port1"], "dstintf": ["port2"], "srcaddr": ["all"], "dstaddr": ["all"],
          "service": ["HTTPS"], "schedule": "always", "action": "accept"}


def test_group_create_update_delete(labview, run_module):
    fgt = labview.device("fgt1")
    args = dict(conn(labview), path="firewall/addrgrp", name="kk_users", data={"comment": "Knocknoc"})

    created = run_module(MODULE, args, diff=True)
    assert created["changed"] and created["created"] and created["mkey"] == "kk_users"
    assert created["diff"] == {"before": {}, "after": {"name": "kk_users", "comment": "Knocknoc"}}
    assert fgt.cmdb("firewall/addrgrp", "kk_users")["comment"] == "Knocknoc"
    assert created["object"]["member"] == []  # 7.4.4: empty groups are fine

    again = run_module(MODULE, args)
    assert not again["changed"] and again["changed_fields"] == []

    updated = run_module(MODULE, dict(args, data={"comment": "Knocknoc users", "member": ["none"]}), diff=True)
    assert updated["changed"] and updated["changed_fields"] == ["comment", "member"]
    assert updated["diff"]["before"] == {"name": "kk_users", "comment": "Knocknoc", "member": []}
    assert updated["diff"]["after"]["member"] == [{"name": "none"}]
    assert [m["name"] for m in fgt.cmdb("firewall/addrgrp", "kk_users")["member"]] == ["none"]

    gone = run_module(MODULE, dict(args, state="absent"), diff=True)
    assert gone["changed"] and gone["diff"]["after"] == {}
    assert fgt.cmdb("firewall/addrgrp", "kk_users") is None
    assert not run_module(MODULE, dict(args, state="absent"))["changed"]


def test_create_data_is_sent_once(labview, run_module):
    """The agent owns an Active group's members: create_data seeds them, re-runs leave them alone."""
    fgt = labview.device("fgt1")
    args = dict(conn(labview), path="firewall/addrgrp", name="kk_users", data={"comment": "x"},
                create_data={"member": ["none"]})
    assert run_module(MODULE, args)["created"]
    fgt.post("/api/v2/cmdb/firewall/address", params={"vdom": "root"},
             json={"name": "kk_198.51.100.7", "subnet": "198.51.100.7/32"}).raise_for_status()
    fgt.post("/api/v2/cmdb/firewall/addrgrp/kk_users/member", params={"vdom": "root"},
             json={"name": "kk_198.51.100.7"}).raise_for_status()
    assert not run_module(MODULE, args)["changed"]
    assert [m["name"] for m in fgt.cmdb("firewall/addrgrp", "kk_users")["member"]] == ["none", "kk_198.51.100.7"]


def test_check_mode_writes_nothing(labview, run_module):
    args = dict(conn(labview), path="firewall/policy", name="knocknoc-access", data=POLICY)
    predicted = run_module(MODULE, args, check=True, diff=True)
    assert predicted["changed"] and predicted["created"]
    assert predicted["diff"]["after"]["srcaddr"] == [{"name": "all"}]
    assert labview.writes("fgt1") == 0
    assert labview.device("fgt1").cmdb("firewall/policy") == []

    run_module(MODULE, args)
    writes = labview.writes("fgt1")
    change = run_module(MODULE, dict(args, data=dict(POLICY, status="disable")), check=True)
    assert change["changed"] and change["changed_fields"] == ["status"]
    assert change["object"]["status"] == "disable"
    gone = run_module(MODULE, dict(args, state="absent"), check=True)
    assert gone["changed"]
    assert labview.writes("fgt1") == writes
    assert labview.device("fgt1").cmdb("firewall/policy")[0]["status"] == "enable"


def test_policy_by_name_and_readback_formats(labview, run_module):
    """A policy is found by its name; FortiOS' read-back formats do not count as changes."""
    fgt = labview.device("fgt1")
    fgt.post("/api/v2/cmdb/firewall/address", params={"vdom": "root"},
             json={"name": "office", "subnet": "192.0.2.0/24"}).raise_for_status()
    data = dict(POLICY, srcaddr=[{"name": "office"}])
    first = run_module(MODULE, dict(conn(labview), path="firewall/policy", name="knocknoc-access", data=data))
    assert first["mkey"] == 1 and first["object"]["name"] == "knocknoc-access"
    assert fgt.admitted("192.0.2.10") == 1 and fgt.admitted("198.51.100.7") == 0
    second = run_module(MODULE, dict(conn(labview), path="firewall/policy", name="knocknoc-access", data=data))
    assert not second["changed"] and second["mkey"] == 1

    # FortiOS reads subnets back as "a.b.c.d m.m.m.m" and numbers as numbers.
    address = dict(conn(labview), path="firewall/address", name="office", data={"subnet": "192.0.2.0/24", "color": "3"})
    assert run_module(MODULE, address)["changed"]  # color 0 -> 3
    assert not run_module(MODULE, address)["changed"]

    # A second policy with the same name makes the name ambiguous.
    fgt.post("/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
             json=dict(POLICY, name="knocknoc-access", srcintf=[{"name": "port1"}], dstintf=[{"name": "port2"}],
                       srcaddr=[{"name": "all"}], dstaddr=[{"name": "all"}], service=[{"name": "HTTPS"}]))
    ambiguous = run_module(MODULE, dict(conn(labview), path="firewall/policy", name="knocknoc-access", data=data))
    assert ambiguous["failed"] and "give policyid" in ambiguous["msg"]
    by_id = run_module(MODULE, dict(conn(labview), path="firewall/policy", policyid=1, name="knocknoc-access",
                                    data=data))
    assert not by_id["changed"]


def test_api_user_key_generation(labview, run_module):
    fgt = labview.device("fgt2")
    permissions = {"admin": "none", "upd": "none", "cfg": "read-write", "mnt": "none"}
    profile = dict(conn(labview, "fgt2"), path="system/accprofile", name="knocknoc-passiveplus",
                   data={"sysgrp": "custom", "sysgrp-permission": permissions, "fwgrp": "none"})
    assert run_module(MODULE, profile)["changed"]
    user = dict(conn(labview, "fgt2"), path="system/api-user", name="knocknoc-agent", generate_key="on_create",
                data={"accprofile": "knocknoc-passiveplus", "vdom": ["root"],
                      "trusthost": [{"type": "ipv4-trusthost", "ipv4-trusthost": "127.0.0.1/32"}]})

    checked = run_module(MODULE, user, check=True)
    assert checked["changed"] and "api_key" not in checked and labview.writes("fgt2") == 1

    created = run_module(MODULE, user, diff=True)
    key = created["api_key"]
    assert created["changed"] and len(key) == 30
    text = json.dumps(dict(created, api_key=None))
    assert key not in text
    agent = labview.device("fgt2", token=key)
    assert agent.get("/api/v2/monitor/system/external-resource/entry-list",
                     params={"mkey": "nope", "vdom": "root"}).status_code != 401
    assert agent.get("/api/v2/cmdb/firewall/address", params={"vdom": "root"}).status_code == 403

    rerun = run_module(MODULE, user)
    assert not rerun["changed"] and "api_key" not in rerun
    assert agent.get("/api/v2/monitor/system/status").status_code == 200  # the key still works

    rotated = run_module(MODULE, dict(user, generate_key="always"))
    assert rotated["changed"] and rotated["api_key"] != key
    assert agent.get("/api/v2/monitor/system/status").status_code == 401
    assert labview.device("fgt2", token=rotated["api_key"]).get("/api/v2/monitor/system/status").status_code == 200
    assert fgt.cmdb("system/api-user", "knocknoc-agent")["api-key"] == "ENC XXXX"


def test_secret_data_is_sent_but_never_shown(labview, run_module):
    secret = "s3cret-allowlist-key-value"
    args = dict(conn(labview), path="system/external-resource", name="kk_feed",
                data={"type": "address", "resource": "https://127.0.0.1:9/api/v1/allowlists/a/b.txt",
                      "username": "apikey", "refresh-rate": 1},
                secret_data={"password": secret})
    created = run_module(MODULE, args, diff=True)
    assert created["changed"] and "password" in created["changed_fields"]
    assert secret not in json.dumps(created)
    assert created["object"]["password"] == "<hidden>"  # the device's "ENC XXXX" is not shown either
    assert created["diff"]["after"]["password"] == "<hidden (updated)>"
    again = run_module(MODULE, args, diff=True)
    assert not again["changed"]
    always = run_module(MODULE, dict(args, update_secrets="always"), diff=True)
    assert always["changed"] and always["changed_fields"] == ["password"] and secret not in json.dumps(always)
    assert always["diff"]["before"]["password"] == "<hidden>" and always["diff"]["after"]["password"] == "<hidden (updated)>"
    checked = run_module(MODULE, dict(args, update_secrets="always", data=dict(args["data"], **{"refresh-rate": 2})),
                         check=True, diff=True)
    assert checked["changed_fields"] == ["password", "refresh-rate"] and checked["object"]["password"] == "<hidden>"
    assert secret not in json.dumps(checked)


def test_empty_group_refused_before_7_2(labview, run_module):
    """fgt3 runs FortiOS 7.2.0: empty groups are fine; an older FortiOS would be refused up front."""
    assert run_module(MODULE, dict(conn(labview, "fgt3"), path="firewall/addrgrp", name="kk_users"))["changed"]
    labview.lab.devices["fgt2"].version = "7.0.12"
    try:
        refused = run_module(MODULE, dict(conn(labview, "fgt2"), path="firewall/addrgrp", name="kk_users"))
    finally:
        labview.lab.devices["fgt2"].version = "7.6.2"
    assert refused["failed"] and "7.0.12" in refused["msg"] and "create_data.member" in refused["msg"]
    assert labview.writes("fgt2") == 0


@pytest.mark.parametrize("args, message", [
    ({"path": "firewall policy", "name": "x"}, "path must name a CMDB table"),
    ({"path": "firewall/address"}, "name is required"),
    ({"path": "firewall/policy"}, "name or policyid is required"),
    ({"path": "firewall/policy", "policyid": 0}, "policyid must be 1 or more"),
    ({"path": "firewall/address", "name": "x", "policyid": 3}, "policyid applies to policy tables"),
    ({"path": "firewall/address", "name": "x", "generate_key": "always"}, "generate_key applies to path system/api-user"),
    ({"path": "firewall/address", "name": "x", "data": {"name": "y"}}, "data must not hold the key field name"),
    ({"path": "system/external-resource", "name": "x", "data": {"password": "abc-123"}, "secret_data": {"password": "xyz-789"}},
     "secret_data and data/create_data both set password"),
])
def test_invalid_input_fails_before_any_request(labview, run_module, args, message):
    result = run_module(MODULE, dict(conn(labview), **args))
    assert result["failed"] and message in result["msg"], result
    assert requests_to(labview, "fgt1") == 0


def test_device_errors(labview, run_module):
    forbidden = run_module(MODULE, dict(conn(labview, token_name="kk-passiveplus"), path="firewall/addrgrp",
                                        name="kk_users"))
    assert forbidden["failed"] and forbidden["error_code"] == 202002
    token = labview.info("fgt1")["tokens"]["kk-passiveplus"]
    assert token not in json.dumps(forbidden)

    missing_ref = run_module(MODULE, dict(conn(labview), path="firewall/policy", name="p",
                                          data=dict(POLICY, srcaddr=["no-such-feed"])))
    assert missing_ref["failed"] and missing_ref["details"]["fortios_error"] == -651
    assert "no-such-feed" in missing_ref["msg"]


def test_playbook_with_module_defaults(labview, run_playbook):
    info = labview.info("fgt1")
    rc, output, results = run_playbook("""
- name: fortigate_object through the action group
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: "{{ fgt.url }}"
      token: "{{ fgt.token }}"
      ca_path: "{{ fgt.ca_path }}"
      tls_server_name: "{{ fgt.tls_server_name | default(omit) }}"
  tasks:
    - name: Admin profile
      knocknoc.fortinet.fortigate_object:
        path: system/accprofile
        name: knocknoc-active
        data: {fwgrp: read-write, sysgrp: none}
    - name: REST API admin
      knocknoc.fortinet.fortigate_object:
        path: system/api-user
        name: knocknoc-agent
        data:
          accprofile: knocknoc-active
          vdom: [root]
          trusthost: [{type: ipv4-trusthost, ipv4-trusthost: 127.0.0.1/32}]
        generate_key: on_create
      register: agent
      no_log: true
    - name: Use the key without printing it
      ansible.builtin.uri:
        url: "{{ fgt.url }}/api/v2/cmdb/firewall/addrgrp?vdom=root"
        headers: {Authorization: "Bearer {{ agent.api_key }}"}
        ca_path: "{{ fgt.ca_path }}"
        validate_certs: false
      no_log: true
    - name: Same again
      knocknoc.fortinet.fortigate_object:
        path: system/accprofile
        name: knocknoc-active
        data: {fwgrp: read-write, sysgrp: none}
""", extra_vars={"fgt": conn(labview)})
    assert rc == 0, output[-3000:]
    assert results["Admin profile"]["changed"] and not results["Same again"]["changed"]
    assert results["REST API admin"]["changed"]
    assert "api_key" not in json.dumps(results["REST API admin"])  # hidden by no_log
    assert info["admin_token"] not in output
    assert labview.device("fgt1").cmdb("system/api-user", "knocknoc-agent")["accprofile"] == "knocknoc-active"
