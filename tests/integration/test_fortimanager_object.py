"""fortimanager_object against the lab's FortiManager: ADOM objects, package policies with install,
administrators and profiles; idempotence, check mode (zero writes), diff, workspace ADOMs, errors."""

import json

import pytest

MODULE = "fortimanager_object"
POLICY = {"srcintf": ["port1"], "dstintf": ["port2"], "srcaddr": ["office"], "dstaddr": ["all"],
          "service": ["HTTPS"], "schedule": "always", "action": "accept"}


def conn(labview, token_name=None, **extra):
    return dict(labview.connection("fmg1", token_name, retries=0), **extra)


def rpc(labview, method, url, **param):
    return labview.device("fmg1").rpc(method, url, **param)


def test_adom_object_and_policy_installed(labview, run_module):
    address = dict(conn(labview), path="/pm/config/adom/{adom}/obj/firewall/address", name="office",
                   data={"subnet": "192.0.2.0/24", "comment": "office"})
    created = run_module(MODULE, address, diff=True)
    assert created["changed"] and created["diff"]["after"]["subnet"] == ["192.0.2.0", "255.255.255.0"]
    assert not run_module(MODULE, address)["changed"]  # ["a", "m"] read-back equals "a/len"

    policy = dict(conn(labview), path="/pm/config/adom/{adom}/pkg/default/firewall/policy", name="knocknoc-access",
                  data=POLICY, install={"package": "default", "scope": ["fgt1", "fgt2"]})
    first = run_module(MODULE, policy, diff=True)
    assert first["changed"] and first["mkey"] == 1
    assert first["install"]["state"] == "done" and first["install"]["num_err"] == 0
    assert sorted(line["name"] for line in first["install"]["line"]) == ["fgt1", "fgt2"]
    for name in ("fgt1", "fgt2"):
        fgt = labview.device(name)
        assert fgt.cmdb("firewall/address", "office")["subnet"] == "192.0.2.0 255.255.255.0"
        assert fgt.admitted("192.0.2.10") == 1, name

    writes = labview.writes("fmg1")
    second = run_module(MODULE, policy)
    assert not second["changed"] and "install" not in second
    assert labview.writes("fmg1") == writes

    disabled = run_module(MODULE, dict(policy, data=dict(POLICY, status="disable")), diff=True)
    assert disabled["changed_fields"] == ["status"] and disabled["diff"]["after"]["status"] == "disable"
    assert labview.device("fgt1").admitted("192.0.2.10") == 0

    forced = run_module(MODULE, dict(policy, data=dict(POLICY, status="disable"),
                                     install={"package": "default", "scope": ["fgt1"], "force": True}))
    assert forced["changed"] and forced["install"]["state"] == "done"

    deleted = run_module(MODULE, dict(policy, state="absent", install=None))
    assert deleted["changed"]
    assert rpc(labview, "get", "/pm/config/adom/root/pkg/default/firewall/policy")["data"] == []


def test_check_mode_writes_nothing(labview, run_module):
    address = dict(conn(labview), path="/pm/config/adom/{adom}/obj/firewall/address", name="office",
                   data={"subnet": "192.0.2.0/24"})
    predicted = run_module(MODULE, address, check=True, diff=True)
    assert predicted["changed"] and predicted["created"]
    assert labview.writes("fmg1") == 0
    assert rpc(labview, "get", "/pm/config/adom/root/obj/firewall/address/office")["status"]["code"] == -3

    run_module(MODULE, address)
    writes = labview.writes("fmg1")
    policy = dict(conn(labview), path="/pm/config/adom/{adom}/pkg/default/firewall/policy", name="p",
                  data=POLICY, install={"package": "default"})
    assert run_module(MODULE, policy, check=True)["changed"]
    assert run_module(MODULE, dict(address, data={"subnet": "192.0.2.0/25"}), check=True)["changed"]
    assert run_module(MODULE, dict(address, state="absent"), check=True)["changed"]
    assert labview.writes("fmg1") == writes


def test_admin_trusted_hosts_and_profile(labview, run_module):
    baseline = dict(("trusthost%d" % i, "127.0.0.1/32") for i in range(1, 10))
    bob = dict(conn(labview), path="/cli/global/system/admin/user", name="bob", create=False, data=baseline)
    assert labview.login_allowed("fmg1", "bob", "192.0.2.99")
    changed = run_module(MODULE, bob, diff=True)
    assert changed["changed"] and changed["diff"]["before"]["trusthost1"] == ["0.0.0.0", "0.0.0.0"]
    assert changed["diff"]["after"]["trusthost1"] == ["127.0.0.1", "255.255.255.255"]
    assert "password" not in changed["diff"]["after"]
    assert not labview.login_allowed("fmg1", "bob", "192.0.2.99")
    assert labview.login_allowed("fmg1", "bob", "127.0.0.1")
    assert not run_module(MODULE, bob)["changed"]

    missing = run_module(MODULE, dict(bob, name="Bob"))
    assert missing["failed"] and missing["error_code"] == 202051

    profile = dict(conn(labview), path="/cli/global/system/admin/profile", name="kk-test",
                   data={"device-manager": "read-write", "rpc-permit": "read-write"})
    assert run_module(MODULE, profile)["created"]
    # the raw JSON-RPC view is not verbose: 2 is read-write
    assert rpc(labview, "get", "/cli/global/system/admin/profile/kk-test")["data"]["device-manager"] in (2, "read-write")
    assert not run_module(MODULE, profile)["changed"]

    user = dict(conn(labview), path="/cli/global/system/admin/user", name="kk-api",
                data={"user_type": "api", "profileid": "kk-test", "rpc-permit": "read-write",
                      "trusthost1": "127.0.0.1/32", "adom-access": "specify", "adom": [{"adom-name": "root"}]})
    assert run_module(MODULE, user)["created"]
    assert not run_module(MODULE, user)["changed"]
    key = labview.control("POST", "/devices/fmg1/generate-key", {"user": "kk-api"})["access_token"]
    assert labview.device("fmg1", token=key).rpc("get", "/sys/status")["status"]["code"] == 0


def test_secret_data_is_sent_but_never_shown(labview, run_module):
    secret = "fmg-s3cret-password-value"
    args = dict(conn(labview), path="/cli/global/system/admin/user", name="kk-secret",
                data={"profileid": "Restricted_User", "rpc-permit": "read"}, secret_data={"password": secret})
    created = run_module(MODULE, args, diff=True)
    assert created["created"] and "password" in created["changed_fields"]
    assert created["diff"]["after"]["password"] == "<hidden (updated)>"
    assert created["object"].get("password") in (None, "", "<hidden>")
    assert secret not in json.dumps(created)
    again = run_module(MODULE, args, diff=True)
    assert not again["changed"] and again["diff"] == {"before": {}, "after": {}}
    checked = run_module(MODULE, dict(args, update_secrets="always"), check=True, diff=True)
    assert checked["changed"] and checked["changed_fields"] == ["password"]
    assert checked["object"]["password"] == "<hidden>" and secret not in json.dumps(checked)


def test_workspace_adom(labview, run_module):
    """emea is in workspace mode: the write is locked, committed and unlocked; a failure leaves it unlocked."""
    address = dict(conn(labview, adom="emea"), path="/pm/config/adom/{adom}/obj/firewall/address", name="office",
                   data={"subnet": "192.0.2.0/24"})
    assert run_module(MODULE, address)["changed"]
    assert rpc(labview, "get", "/pm/config/adom/emea/obj/firewall/address/office")["status"]["code"] == 0
    assert labview.control("GET", "/devices/fmg1/dump")["locks"] == {}

    # get object, get system global (cached per run), lock: the fourth request (the write) fails.
    labview.fault("fmg1", kind="jsonrpc", code=-10, message="The data is invalid for selected url", skip=3, count=1)
    failed = run_module(MODULE, dict(address, data={"subnet": "192.0.2.0/25"}))
    assert failed["failed"] and failed["details"]["jsonrpc_code"] == -10
    dump = labview.control("GET", "/devices/fmg1/dump")
    assert dump["locks"] == {} and dump["pending"] == {}
    assert rpc(labview, "get", "/pm/config/adom/emea/obj/firewall/address/office")["data"]["subnet"] == [
        "192.0.2.0", "255.255.255.0"]

    labview.control("POST", "/devices/fmg1/lock", {"adom": "emea", "user": "other-admin"})
    locked = run_module(MODULE, dict(address, data={"subnet": "192.0.2.0/26"}, lock_timeout=1))
    assert locked["failed"] and "other-admin" in locked["msg"]
    assert rpc(labview, "get", "/pm/config/adom/emea/obj/firewall/address/office")["data"]["subnet"] == [
        "192.0.2.0", "255.255.255.0"]


@pytest.mark.parametrize("args, message", [
    ({"path": "pm/config/adom/{adom}/obj/firewall/address"}, "name is required"),
    ({"path": "/pm/config/adom/{adom}/pkg/default/firewall/policy"}, "name or policyid is required"),
    ({"path": "/pm/config/adom/{adom}/obj/firewall/address", "name": "x", "policyid": 2}, "policyid applies"),
    ({"path": "/cli/global/system/admin/user", "name": "a/b"}, "must not contain '/'"),
    ({"path": "/cli/global/system/admin/user", "name": "bob", "data": {"userid": "bob"}}, "key field userid"),
    ({"path": "/pm/config/{unknown}/x", "name": "x"}, "path must be a JSON-RPC table URL"),
])
def test_invalid_input_fails_before_any_request(labview, run_module, args, message):
    result = run_module(MODULE, dict(conn(labview), **args))
    assert result["failed"] and message in result["msg"], result
    assert labview.counters()["fmg1"]["requests"] == 0


def test_device_errors(labview, run_module):
    denied = run_module(MODULE, dict(conn(labview, "kk-passiveplus"), path="/cli/global/system/admin/user",
                                     name="bob", create=False, data={"trusthost2": "127.0.0.1/32"}))
    assert denied["failed"] and denied["error_code"] == 202002
    assert labview.info("fmg1")["tokens"]["kk-passiveplus"] not in json.dumps(denied)
    bad_package = run_module(MODULE, dict(conn(labview), path="/pm/config/adom/{adom}/pkg/nope/firewall/policy",
                                          name="p", data=POLICY))
    assert bad_package["failed"] and bad_package["details"]["jsonrpc_code"] == -6


def test_playbook_with_module_defaults(labview, run_playbook):
    rc, output, results = run_playbook("""
- name: fortimanager_object through the action group
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortimanager:
      url: "{{ fmg.url }}"
      token: "{{ fmg.token }}"
      ca_path: "{{ fmg.ca_path }}"
      tls_server_name: "{{ fmg.tls_server_name | default(omit) }}"
      adom: root
  tasks:
    - name: Baseline
      knocknoc.fortinet.fortimanager_object:
        path: /cli/global/system/admin/user
        name: bob
        create: false
        data: {trusthost1: 127.0.0.1/32}
    - name: Baseline again
      knocknoc.fortinet.fortimanager_object:
        path: /cli/global/system/admin/user
        name: bob
        create: false
        data: {trusthost1: 127.0.0.1/32}
""", extra_vars={"fmg": conn(labview)})
    assert rc == 0, output[-3000:]
    assert results["Baseline"]["changed"] and not results["Baseline again"]["changed"]
    assert labview.info("fmg1")["admin_token"] not in output
    assert not labview.login_allowed("fmg1", "bob", "192.0.2.99")
