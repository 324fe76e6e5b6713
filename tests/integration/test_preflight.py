"""fortinet_preflight and the preflight role: every checklist fault set up in the lab is caught, with
its fix, and a correct setup passes, including a test grant that policy-lookup really admits.

The lab is set up through LabView (REST / JSON-RPC as an administrator), not through the provision role.
"""

import json


H = {"vdom": "root"}
TEST_IP = "198.51.100.77"
DEST = "10.0.0.10"


# -- lab setup ---------------------------------------------------------------------------------------
def knocknoc_admin(labview):
    return {"Authorization": "Bearer " + labview.info("knocknoc")["admin_token"]}


def create_knoc(labview, **doc):
    body = {"name": "edge", "mode": "passive_plus", "device_url": labview.info("fgt1")["url"],
            "authorization_token": labview.info("fgt1")["tokens"]["kk-passiveplus"],
            "external_connector_name": "kk_allow", "allowlist_ip_restrictions": ["127.0.0.1/32"]}
    body.update(doc)
    reply = labview.device("knocknoc").post("/api/v1/knocs", json=body, headers=knocknoc_admin(labview))
    assert reply.status_code == 201, reply.text
    return reply.json()


def fgt_post(fgt, path, body):
    reply = fgt.post("/api/v2/cmdb/" + path, params=H, json=body)
    assert reply.status_code == 200, reply.text


def setup_fortigate(labview, name="fgt1", resource="kk_allow", allowlist=None, status="enable", url=None,
                    group=None):
    """A feed (or push-only) external resource, a server address and a policy that uses the feed (or group)."""
    fgt = labview.device(name)
    if allowlist:
        fgt_post(fgt, "system/external-resource", {
            "name": resource, "type": "address", "resource": url or allowlist["url"], "username": "apikey",
            "password": allowlist["api_key"], "refresh-rate": 5})
        labview.control("POST", "/devices/%s/poll" % name, {})
    elif resource:
        fgt_post(fgt, "system/external-resource", {"name": resource, "type": "address", "update-method": "push"})
    if group:
        fgt_post(fgt, "firewall/addrgrp", {"name": group, "member": []})
    fgt_post(fgt, "firewall/address", {"name": "srv", "subnet": DEST + "/32"})
    fgt_post(fgt, "firewall/policy", {
        "policyid": 0, "name": "kk", "status": status, "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
        "srcaddr": [{"name": group or resource}], "dstaddr": [{"name": "srv"}], "action": "accept",
        "service": [{"name": "HTTPS"}], "schedule": "always"})
    return fgt


def fgt_args(labview, name="fgt1", token="kk-readonly", **extra):
    return dict(labview.connection(name, token, retries=0), **extra)


def fmg_args(labview, token="lab-api", **extra):
    return dict(labview.connection("fmg1", token, use_fortimanager=True, retries=0), **extra)


def knocknoc_args(labview):
    info = labview.info("knocknoc")
    return {"knocknoc_url": info["url"], "knocknoc_token": info["admin_token"], "knocknoc_ca_path": labview.state["ca_path"]}


def by_id(result):
    assert "checks" in result, result
    return {c["id"]: c for c in result["checks"]}


def assert_no_secret(labview, result):
    text = json.dumps(result)
    for name in ("fgt1", "fgt2", "fmg1"):
        for token in labview.info(name)["tokens"].values():
            assert token not in text
    assert labview.info("knocknoc")["admin_token"] not in text


RETURN_KEYS = {"checks", "passed", "failed_checks", "warnings_checks", "skipped_checks", "table", "summary", "changed"}


# -- FortiGate, Passive+ ------------------------------------------------------------------------------
def test_passive_plus_correct_setup_passes_with_a_real_test_grant(labview, run_module):
    knoc = create_knoc(labview)
    fgt = setup_fortigate(labview, allowlist=knoc["allowlist"])
    info = labview.info("fgt1")
    result = run_module("fortinet_preflight", fgt_args(
        labview, mode="passive_plus", resource_name="kk_allow", api_user="kk-passiveplus", agent_address="127.0.0.1",
        agent_token=info["tokens"]["kk-passiveplus"], test_ip=TEST_IP, knoc="edge", **knocknoc_args(labview)))
    assert RETURN_KEYS <= set(result), result
    checks = by_id(result)
    assert result["passed"] is True, result["table"]
    assert result["changed"] is False
    for cid in ("reach", "knoc", "knoc_settings", "feed_name", "feed_credentials", "feed_url", "feed_poll", "policy",
                "policy_enabled", "api_user_restricted", "api_user_permissions", "api_user_least_privilege",
                "agent_access", "test_grant"):
        assert checks[cid]["passed"], checks[cid]
    assert "admitted by policy 1" in checks["test_grant"]["detail"]
    # The test grant was revoked again: the IP is neither listed nor admitted any more.
    assert TEST_IP not in fgt.entries("kk_allow")
    assert fgt.admitted(TEST_IP, srcintf="port2") == 0
    assert any(line.startswith("PASS  Policy is enabled") for line in result["table"])
    assert_no_secret(labview, result)
    assert knoc["allowlist"]["api_key"] not in json.dumps(result)


def test_check_mode_writes_nothing_and_skips_the_test_grant(labview, run_module):
    setup_fortigate(labview)
    before = labview.writes("fgt1")
    result = run_module("fortinet_preflight", fgt_args(
        labview, mode="passive_plus", resource_name="kk_allow", api_user="kk-passiveplus",
        agent_token=labview.info("fgt1")["tokens"]["kk-passiveplus"], test_ip=TEST_IP), check=True)
    assert labview.writes("fgt1") == before
    assert "test_grant" not in by_id(result)
    assert any("check mode" in s["reason"] for s in result["skipped_checks"])
    assert result["passed"] is True, result["table"]


def test_feed_name_case_mismatch_is_caught(labview, run_module):
    knoc = create_knoc(labview)
    setup_fortigate(labview, resource="KK_allow", allowlist=knoc["allowlist"])
    result = run_module("fortinet_preflight", fgt_args(
        labview, mode="passive_plus", resource_name="kk_allow", knoc="edge", **knocknoc_args(labview)))
    check = by_id(result)["feed_name"]
    assert result["passed"] is False and "feed_name" in result["failed_checks"]
    assert "KK_allow" in check["detail"] and "case-sensitive" in check["detail"]
    assert "exactly" in check["fix"]
    # No policy uses kk_allow either (it uses KK_allow): caught too.
    assert by_id(result)["policy"]["passed"] is False


def test_missing_permission_is_caught(labview, run_module):
    setup_fortigate(labview)
    info = labview.info("fgt1")
    result = run_module("fortinet_preflight", fgt_args(
        labview, mode="passive_plus", resource_name="kk_allow", api_user="kk-noperm", agent_address="127.0.0.1",
        agent_token=info["tokens"]["kk-noperm"]))
    checks = by_id(result)
    assert checks["api_user_permissions"]["passed"] is False
    assert "System > Configuration is none" in checks["api_user_permissions"]["detail"]
    assert "read/write" in checks["api_user_permissions"]["fix"].lower()
    # The agent's own key really is refused (HTTP 403, agent error 202002).
    assert checks["agent_access"]["passed"] is False
    assert "202002" in checks["agent_access"]["detail"]
    assert_no_secret(labview, result)


def test_active_profile_is_not_enough_for_passive_plus_but_is_for_active(labview, run_module):
    setup_fortigate(labview, resource=None, group="kk_users")
    result = run_module("fortinet_preflight", fgt_args(
        labview, mode="active", address_group="kk_users", api_user="kk-active", agent_address="127.0.0.1",
        agent_token=labview.info("fgt1")["tokens"]["kk-active"], test_ip=TEST_IP))
    checks = by_id(result)
    assert result["passed"] is True, result["table"]
    assert checks["address_group"]["passed"] and checks["api_user_permissions"]["passed"]
    assert "admitted by policy" in checks["test_grant"]["detail"]
    fgt = labview.device("fgt1")
    assert fgt.cmdb("firewall/addrgrp", "kk_users")["member"] == []
    assert not [a for a in fgt.cmdb("firewall/address") if a["name"].startswith("kk_")]
    wrong = run_module("fortinet_preflight", fgt_args(
        labview, mode="active", address_group="kk_users", api_user="kk-passiveplus"))
    assert by_id(wrong)["api_user_permissions"]["passed"] is False


def test_disabled_policy_is_caught(labview, run_module):
    setup_fortigate(labview, status="disable")
    result = run_module("fortinet_preflight", fgt_args(
        labview, mode="passive_plus", resource_name="kk_allow", test_ip=TEST_IP,
        agent_token=labview.info("fgt1")["tokens"]["kk-passiveplus"]))
    checks = by_id(result)
    assert checks["policy"]["passed"] is True
    assert checks["policy_enabled"]["passed"] is False
    assert "disabled" in checks["policy_enabled"]["detail"] and "Enable" in checks["policy_enabled"]["fix"]
    # The test grant shows the consequence: the IP is not admitted.
    assert checks["test_grant"]["passed"] is False and "implicit deny" in checks["test_grant"]["detail"]


def test_credentials_in_the_feed_url_are_caught(labview, run_module):
    knoc = create_knoc(labview, mode="passive", device_url=None, authorization_token=None,
                       external_connector_name=None)
    allowlist = knoc["allowlist"]
    scheme, rest = allowlist["url"].split("://", 1)
    embedded = "%s://apikey:%s@%s" % (scheme, allowlist["api_key"], rest)
    setup_fortigate(labview, allowlist=allowlist, url=embedded)
    result = run_module("fortinet_preflight", fgt_args(labview, mode="passive", resource_name="kk_allow"))
    check = by_id(result)["feed_credentials"]
    assert check["passed"] is False and "credentials in the resource URL" in check["detail"]
    assert "HTTP basic" in check["fix"]
    assert allowlist["api_key"] not in json.dumps(result)
    # Passive needs no API user: those checks are skipped, not failed.
    assert "api_user_permissions" not in by_id(result)


def test_feed_that_cannot_download_is_caught(labview, run_module):
    knoc = create_knoc(labview)
    bad = dict(knoc["allowlist"], api_key="not-the-allowlist-key")
    setup_fortigate(labview, allowlist=bad)
    result = run_module("fortinet_preflight", fgt_args(labview, mode="passive_plus", resource_name="kk_allow"))
    check = by_id(result)["feed_poll"]
    assert check["passed"] is False and "401" in check["detail"]


# -- FortiManager ------------------------------------------------------------------------------------
def test_fortimanager_trusted_hosts_allow_all_and_username_case_are_caught(labview, run_module):
    result = run_module("fortinet_preflight", fmg_args(
        labview, mode="active", api_user="lab-api", agent_address="127.0.0.1", usernames=["alice", "Carol", "bob"]))
    checks = by_id(result)
    assert checks["api_user_restricted"]["passed"] and checks["api_user_permissions"]["passed"]
    assert checks["usernames"]["passed"] is False and "'Carol'" in checks["usernames"]["detail"]
    assert "found carol" in checks["usernames"]["detail"]
    assert checks["trusted_hosts"]["passed"] is False
    assert "bob: trusted host 1 allow all" in checks["trusted_hosts"]["detail"]
    assert "alice" not in checks["trusted_hosts"]["detail"]
    assert checks["trusted_hosts_ipv6"]["severity"] == "warning"
    ok = run_module("fortinet_preflight", fmg_args(labview, mode="active", api_user="lab-api", usernames=["alice", "carol"]))
    assert ok["passed"] is True, ok["table"]
    assert "trusted_hosts_ipv6" in ok["warnings_checks"]


def test_fortimanager_profiles_are_checked(labview, run_module):
    no_devmgr = run_module("fortinet_preflight", fmg_args(
        labview, mode="passive_plus", resource_name="kk_allow", api_user="kk-nodevmgr"))
    assert by_id(no_devmgr)["api_user_permissions"]["passed"] is False
    assert "Restricted_User" in by_id(no_devmgr)["api_user_permissions"]["detail"]
    passive = run_module("fortinet_preflight", fmg_args(labview, mode="active", api_user="kk-passiveplus"))
    assert by_id(passive)["api_user_permissions"]["passed"] is False
    assert "Super_User" in by_id(passive)["api_user_permissions"]["fix"]


def test_fortimanager_passive_plus_on_every_target(labview, run_module):
    for name in ("fgt1", "fgt2"):
        setup_fortigate(labview, name=name)
    labview.device("fmg1").rpc("add", "/pm/config/adom/root/obj/system/external-resource",
                               data={"name": "kk_allow", "type": "address", "update-method": "push"})
    args = fmg_args(labview, mode="passive_plus", resource_name="kk_allow", api_user="kk-passiveplus",
                    agent_address="127.0.0.1", agent_token=labview.info("fmg1")["tokens"]["kk-passiveplus"],
                    test_ip=TEST_IP, test_destination=DEST)
    result = run_module("fortinet_preflight", args)
    checks = by_id(result)
    assert result["passed"] is True, result["table"]
    assert checks["device_targets"]["detail"].startswith("fgt1, fgt2")
    assert "fgt1: %s admitted" % TEST_IP in checks["test_grant"]["detail"]
    assert "fgt2: %s admitted" % TEST_IP in checks["test_grant"]["detail"]
    assert TEST_IP not in labview.device("fgt2").entries("kk_allow")
    # One target with the feed under another case: caught on that target only.
    labview.lab.reset()
    setup_fortigate(labview, name="fgt1")
    setup_fortigate(labview, name="fgt2", resource="Kk_Allow")
    result = run_module("fortinet_preflight", dict(args, test_ip=None))
    detail = by_id(result)["feed_name"]["detail"]
    assert "fgt2: no external resource named kk_allow (found Kk_Allow" in detail and "fgt1" not in detail
    missing = run_module("fortinet_preflight", dict(args, test_ip=None, device_targets=["FGVM01TM24000009"]))
    assert by_id(missing)["device_targets"]["passed"] is False


def test_invalid_input_fails_before_any_call(labview, run_module):
    before = labview.counters()
    result = run_module("fortinet_preflight", fgt_args(labview, mode="passive_plus"))
    assert result["failed"] and "resource_name" in result["msg"]
    result = run_module("fortinet_preflight", fgt_args(labview, mode="active", address_group="g", test_ip="nope"))
    assert result["failed"] and "test_ip" in result["msg"]
    # An empty device target used to end in a traceback; it is refused, naming the option.
    result = run_module("fortinet_preflight", fmg_args(labview, mode="passive_plus", resource_name="kk_allow",
                                                       device_targets=""))
    assert result["failed"] and "device_targets" in result["msg"] and "Traceback" not in result["msg"]
    assert labview.counters() == before


# -- the role, through ansible-playbook ------------------------------------------------------------------
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Preflight
      ansible.builtin.include_role:
        name: knocknoc.fortinet.preflight
"""


def test_role_prints_the_table_and_fails_on_a_failed_item(labview, run_playbook):
    setup_fortigate(labview, status="disable")
    info = labview.info("fgt1")
    env = {"FORTIGATE_URL": info["url"], "FORTIGATE_TOKEN": info["tokens"]["kk-readonly"],
           "FORTIGATE_CA_PATH": info["ca_path"], "FORTIGATE_TLS_SERVER_NAME": info["tls_server_name"]}
    extra = {"preflight_mode": "passive_plus", "preflight_resource_name": "kk_allow",
             "preflight_api_user": "kk-passiveplus", "preflight_agent_address": "127.0.0.1"}
    rc, out, results = run_playbook(PLAYBOOK, extra_vars=extra, env=env)
    assert rc != 0
    table = results["knocknoc.fortinet.preflight : Show the checklist"]["results"][0]["msg"]
    assert any(line.startswith("FAIL  Policy is enabled") for line in table)
    assert any(line.startswith("      fix: Enable the policy") for line in table)
    assert "policy_enabled" in results["knocknoc.fortinet.preflight : Fail when a checklist item failed"]["msg"]
    assert info["tokens"]["kk-readonly"] not in out
    rc, out, results = run_playbook(PLAYBOOK, extra_vars=dict(extra, preflight_fail_on_error=False), env=env)
    assert rc == 0, out


def test_knocknoc_dict_and_the_role_reach_the_knoc(labview, run_module, run_playbook):
    # The knocknoc dict alone carries the Knocknoc connection (no knocknoc_* option, no KNOCKNOC_* variable) ...
    knoc = create_knoc(labview)
    setup_fortigate(labview, allowlist=knoc["allowlist"])
    flat = knocknoc_args(labview)
    conn = {"url": flat["knocknoc_url"], "token": flat["knocknoc_token"], "ca_path": flat["knocknoc_ca_path"], "retries": 0}
    result = run_module("fortinet_preflight", fgt_args(labview, mode="passive_plus", resource_name="kk_allow", knoc="edge",
                                                       knocknoc=conn))
    checks = by_id(result)
    assert checks["knoc"]["passed"] and checks["knoc_settings"]["passed"], result["table"]
    # ... a knocknoc_* option wins over it, key by key
    wrong = run_module("fortinet_preflight", fgt_args(labview, mode="passive_plus", resource_name="kk_allow", knoc="edge",
                                                      knocknoc=conn, knocknoc_token="not-the-admin-token"))
    assert by_id(wrong)["knoc"]["passed"] is False
    assert_no_secret(labview, result)
    # ... and the role hands preflight_knocknoc to the module as that dict (module_defaults)
    info = labview.info("fgt1")
    env = {"FORTIGATE_URL": info["url"], "FORTIGATE_TOKEN": info["tokens"]["kk-readonly"],
           "FORTIGATE_CA_PATH": info["ca_path"], "FORTIGATE_TLS_SERVER_NAME": info["tls_server_name"]}
    extra = {"preflight_mode": "passive_plus", "preflight_resource_name": "kk_allow", "preflight_knoc": "edge",
             "preflight_knocknoc": conn, "preflight_fail_on_error": False}
    rc, out, results = run_playbook(PLAYBOOK, extra_vars=extra, env=env)
    assert rc == 0, out
    table = results["knocknoc.fortinet.preflight : Show the checklist"]["results"][0]["msg"]
    assert any(line.startswith("PASS  The Knoc exists on the Knocknoc server") for line in table), table
    assert conn["token"] not in out
