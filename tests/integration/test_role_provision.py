"""The provision and api_user roles through real ansible-playbook runs against the lab.

Each scenario runs the roles twice (the second run must change nothing, per the json callback's
stats) and then checks the effect on the devices through labview: the objects exist, the FortiGate
polls the Knocknoc allowlist and, after a grant and a minute of lab time, policy-lookup admits the
IP; API keys made by api_user work with exactly the permissions the seed asks for.
"""

import json
import time

USER_IP = "198.51.100.7"


def conn(labview, name, token=None):
    return labview.connection(name, token)


def knocknoc_conn(labview):
    return conn(labview, "knocknoc")


POLICY = {"provision_policy_srcintf": ["port1"], "provision_policy_dstintf": ["port2"],
          "provision_policy_dstaddr": ["all"], "provision_policy_service": ["HTTPS"]}

PROVISION = """
- name: Provision
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Provision the Knoc
      ansible.builtin.include_role:
        name: knocknoc.fortinet.provision
"""

API_USER_AND_PROVISION = """
- name: Agent user, then the integration
  hosts: localhost
  gather_facts: false
  tasks:
    - name: API user for the agent
      ansible.builtin.include_role:
        name: knocknoc.fortinet.api_user
    - name: Provision the Knoc
      ansible.builtin.include_role:
        name: knocknoc.fortinet.provision
      vars:
        provision_agent_token: "{{ api_user_token }}"
"""


def stats(output):
    """The json callback's per-host stats (the output starts with its JSON document)."""
    start = output.index("{")
    document, _end = json.JSONDecoder().raw_decode(output[start:])
    return document["stats"]["localhost"]


def play(run_playbook, text, extra, secrets=()):
    rc, output, results = run_playbook(text, extra_vars=extra)
    assert rc == 0, output[-6000:]
    for secret in secrets:
        assert secret not in output
    return stats(output), results, output


def knoc(labview, name):
    reply = labview.device("knocknoc").get("/api/v1/knocs", params={"name": name})
    reply.raise_for_status()
    knocs = reply.json()["knocs"]
    assert len(knocs) == 1, knocs
    return knocs[0]


def knoc_secrets(labview, name):
    """The lab's own view of a Knoc's secrets (device token, allowlist key)."""
    dump = labview.control("GET", "/devices/knocknoc/dump")
    entry = [k for k in dump["knocs"] if k["name"] == name][0]
    return entry.get("authorization_token"), (entry.get("allowlist") or {}).get("api_key")


def grant(labview, name, ip=USER_IP, username="alice"):
    knoc_id = knoc(labview, name)["id"]
    reply = labview.device("knocknoc").post("/api/v1/knocs/%d/grants" % knoc_id, json={"username": username, "ip": ip})
    assert reply.status_code in (200, 201), reply.text


def wait_admitted(device, ip, expected, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = device.admitted(ip)
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def policy_id(device, name):
    ids = [p["policyid"] for p in device.cmdb("firewall/policy") if p["name"] == name]
    assert len(ids) == 1, ids
    return ids[0]


def test_passive_fortigate(labview, run_playbook):
    extra = dict(POLICY, provision_mode="passive", provision_target="fortigate",
                 provision_fortigate=conn(labview, "fgt1"), provision_knocknoc=knocknoc_conn(labview),
                 provision_knoc_name="kk-passive-fgt1")
    admin_tokens = [labview.info("fgt1")["admin_token"], labview.info("knocknoc")["admin_token"]]
    first, _results, output = play(run_playbook, PROVISION, extra, secrets=admin_tokens)
    assert first["changed"] >= 3
    token, key = knoc_secrets(labview, "kk-passive-fgt1")
    assert token is None and key and key not in output
    second, _results, output = play(run_playbook, PROVISION, extra, secrets=[key] + admin_tokens)
    assert second["changed"] == 0, output[-4000:]

    fgt = labview.device("fgt1")
    resource = fgt.cmdb("system/external-resource", "knocknoc_allow")
    assert resource["type"] == "address" and resource["resource"] == knoc(labview, "kk-passive-fgt1")["allowlist_url"]
    assert resource["username"] == "apikey" and resource["refresh-rate"] == 1
    pid = policy_id(fgt, "knocknoc-access")
    assert [a["name"] for a in fgt.cmdb("firewall/policy", pid)["srcaddr"]] == ["knocknoc_allow"]
    assert fgt.admitted(USER_IP) == 0
    grant(labview, "kk-passive-fgt1")
    labview.advance(61)
    assert wait_admitted(fgt, USER_IP, pid) == pid


def test_passive_plus_fortigate_with_api_user(labview, run_playbook):
    """Passive+ on fgt2: the api_user role makes the agent's key and hands it to the Knoc unseen."""
    extra = dict(POLICY, api_user_target="fortigate", api_user_mode="passive_plus",
                 api_user_trusted_hosts=["127.0.0.1"], api_user_fortigate=conn(labview, "fgt2"),
                 provision_mode="passive_plus", provision_target="fortigate",
                 provision_fortigate=conn(labview, "fgt2"), provision_knocknoc=knocknoc_conn(labview),
                 provision_knoc_name="kk-pplus-fgt2")
    first, results, output = play(run_playbook, API_USER_AND_PROVISION, extra)
    agent_key, allowlist_key = knoc_secrets(labview, "kk-pplus-fgt2")
    assert agent_key and allowlist_key
    for secret in (agent_key, allowlist_key):
        assert secret not in output
    assert first["changed"] >= 5
    second, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra, secrets=[agent_key, allowlist_key])
    assert second["changed"] == 0, output[-4000:]
    # The Knoc kept the key of the first run; the API user was not re-keyed.
    assert knoc_secrets(labview, "kk-pplus-fgt2")[0] == agent_key

    fgt = labview.device("fgt2")
    profile = fgt.cmdb("system/accprofile", "knocknoc-passiveplus")
    assert profile["sysgrp"] == "custom" and profile["sysgrp-permission"]["cfg"] == "read-write"
    assert profile["sysgrp-permission"]["admin"] == "none" and profile["fwgrp"] == "none"
    user = fgt.cmdb("system/api-user", "knocknoc-agent")
    assert user["accprofile"] == "knocknoc-passiveplus"
    assert [h["ipv4-trusthost"] for h in user["trusthost"]] == ["127.0.0.1 255.255.255.255"]
    knoc_doc = knoc(labview, "kk-pplus-fgt2")
    assert knoc_doc["mode"] == "passive_plus" and knoc_doc["external_connector_name"] == "knocknoc_allow"
    assert knoc_doc["device_url"] == labview.info("fgt2")["url"] and knoc_doc["vdom"] == "root"

    # The agent's key pushes into the resource (System > Configuration) and can do nothing else.
    agent = labview.device("fgt2", token=agent_key)
    pushed = agent.post("/api/v2/monitor/system/external-resource/dynamic", params={"vdom": "root"},
                        json={"commands": [{"name": "knocknoc_allow", "command": "add", "entries": ["203.0.113.50"]}]})
    # Lab switches push_results / pushed_listed_on_feed: a push reply may carry only the envelope, and a FortiGate
    # may keep entries pushed into a feed in force without listing them.
    assert pushed.status_code == 200 and pushed.json()["status"] == "success", pushed.text
    assert all(r["status"] == "success" for r in pushed.json().get("results", []))
    listed = labview.info("fgt2")["switches"]["pushed_listed_on_feed"]
    assert ("203.0.113.50" in fgt.entries("knocknoc_allow")) == listed
    refused = agent.post("/api/v2/cmdb/firewall/address", params={"vdom": "root"},
                         json={"name": "x", "subnet": "192.0.2.1/32"})
    assert refused.status_code == 403

    pid = policy_id(fgt, "knocknoc-access")
    grant(labview, "kk-pplus-fgt2")
    labview.advance(61)
    assert wait_admitted(fgt, USER_IP, pid) == pid
    # The poll reconciled the list with the allowlist: the hand-pushed entry is gone.
    assert fgt.entries("knocknoc_allow") == [USER_IP]


def generate_fmg_key(labview, user):
    """Lab-only step: FortiManager API keys come from the CLI (execute api-user generate-key)."""
    return labview.control("POST", "/devices/fmg1/generate-key", {"user": user})["access_token"]


def test_passive_plus_through_fortimanager(labview, run_playbook):
    """Passive+ through fmg1 (ADOM root): the ADOM object and the package policy reach fgt1 and fgt2."""
    api_user = dict(api_user_target="fortimanager", api_user_mode="passive_plus",
                    api_user_trusted_hosts=["127.0.0.1"], api_user_fortimanager=conn(labview, "fmg1"))
    rc, output, _results = run_playbook("""
- name: Agent user
  hosts: localhost
  gather_facts: false
  tasks:
    - name: API user for the agent
      ansible.builtin.include_role:
        name: knocknoc.fortinet.api_user
""", extra_vars=api_user)
    assert rc == 0, output[-4000:]
    admin = labview.device("fmg1").rpc("get", "/cli/global/system/admin/user/knocknoc-agent")["data"]
    assert admin["user_type"] == "api" and admin["profileid"] == "knocknoc-passiveplus"
    assert admin["trusthost1"] == ["127.0.0.1", "255.255.255.255"]
    assert admin["adom-access"] == "specify" and admin["adom"] == [{"adom-name": "root"}]
    key = generate_fmg_key(labview, "knocknoc-agent")

    extra = dict(POLICY, **api_user, api_user_fortimanager_api_key=key,
                 provision_mode="passive_plus", provision_target="fortimanager",
                 provision_fortimanager=conn(labview, "fmg1"), provision_knocknoc=knocknoc_conn(labview),
                 provision_knoc_name="kk-pplus-fmg", provision_fortimanager_devices=["fgt1", "fgt2"])
    first, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra, secrets=[key])
    assert first["changed"] >= 3
    agent_key, allowlist_key = knoc_secrets(labview, "kk-pplus-fmg")
    assert agent_key == key and allowlist_key not in output
    second, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra, secrets=[key, allowlist_key])
    assert second["changed"] == 0, output[-4000:]

    knoc_doc = knoc(labview, "kk-pplus-fmg")
    assert knoc_doc["use_fortimanager"] is True and knoc_doc["adom"] == "root"
    fmg = labview.device("fmg1")
    assert fmg.rpc("get", "/pm/config/adom/root/obj/system/external-resource/knocknoc_allow")["status"]["code"] == 0
    # The agent's key may proxy to the FortiGates (Device Manager) but not change administrators.
    agent = labview.device("fmg1", token=key)
    proxied = agent.rpc("exec", "/sys/proxy/json", data={
        "action": "get", "resource": "/api/v2/monitor/system/external-resource/entry-list?mkey=knocknoc_allow&vdom=root",
        "target": ["adom/root/group/All_FortiGate"]})
    assert proxied["status"]["code"] == 0 and len(proxied["data"]) == 2
    denied = agent.rpc("update", "/cli/global/system/admin/user/bob", data={"trusthost10": ["192.0.2.1", "255.255.255.255"]})
    assert denied["status"]["code"] == -11

    grant(labview, "kk-pplus-fmg")
    labview.advance(61)
    for name in ("fgt1", "fgt2"):
        fgt = labview.device(name)
        assert fgt.cmdb("system/external-resource", "knocknoc_allow")["resource"] == knoc_doc["allowlist_url"]
        pid = policy_id(fgt, "knocknoc-access")
        assert wait_admitted(fgt, USER_IP, pid) == pid, name


def test_active_fortigate(labview, run_playbook):
    """Active on fgt1: the address group and the policy; the agent's key fills the group."""
    extra = dict(POLICY, api_user_target="fortigate", api_user_mode="active",
                 api_user_trusted_hosts=["127.0.0.1/32"], api_user_fortigate=conn(labview, "fgt1"),
                 provision_mode="active", provision_target="fortigate",
                 provision_fortigate=conn(labview, "fgt1"), provision_knocknoc=knocknoc_conn(labview),
                 provision_knoc_name="kk-active-fgt1")
    first, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra)
    agent_key, allowlist_key = knoc_secrets(labview, "kk-active-fgt1")
    assert agent_key and allowlist_key is None and agent_key not in output
    fgt = labview.device("fgt1")
    assert fgt.cmdb("firewall/addrgrp", "kk_users")["member"] == []
    pid = policy_id(fgt, "knocknoc-access")
    assert [a["name"] for a in fgt.cmdb("firewall/policy", pid)["srcaddr"]] == ["kk_users"]
    profile = fgt.cmdb("system/accprofile", "knocknoc-active")
    assert profile["fwgrp"] == "read-write" and profile["sysgrp"] == "none"
    knoc_doc = knoc(labview, "kk-active-fgt1")
    assert (knoc_doc["mode"], knoc_doc["address_group"], knoc_doc["prefix"]) == ("active", "kk_users", "kk_")

    # What the agent does at login, with its own key (Firewall read/write is enough).
    agent = labview.device("fgt1", token=agent_key)
    created = agent.post("/api/v2/cmdb/firewall/address", params={"vdom": "root"},
                         json={"name": "kk_" + USER_IP, "subnet": USER_IP + "/32"})
    assert created.status_code == 200, created.text
    added = agent.post("/api/v2/cmdb/firewall/addrgrp/kk_users/member", params={"vdom": "root"},
                       json={"name": "kk_" + USER_IP})
    assert added.status_code == 200, added.text
    assert fgt.admitted(USER_IP) == pid

    # A re-run changes nothing and leaves the agent's members alone.
    second, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra, secrets=[agent_key])
    assert second["changed"] == 0, output[-4000:]
    assert [m["name"] for m in fgt.cmdb("firewall/addrgrp", "kk_users")["member"]] == ["kk_" + USER_IP]
    assert fgt.admitted(USER_IP) == pid


def test_active_fortimanager_trusted_host_baseline(labview, run_playbook):
    """Active FortiManager: trusted hosts 1-9 of alice and bob set to the baseline, slot 10 left to Knocknoc."""
    fmg = "fmg1"
    api_user = dict(api_user_target="fortimanager", api_user_mode="active", api_user_name="knocknoc-th",
                    api_user_trusted_hosts=["127.0.0.1"], api_user_fortimanager=conn(labview, fmg))
    rc, output, _results = run_playbook("""
- name: Agent user
  hosts: localhost
  gather_facts: false
  tasks:
    - name: API user for the agent
      ansible.builtin.include_role:
        name: knocknoc.fortinet.api_user
""", extra_vars=api_user)
    assert rc == 0, output[-4000:]
    key = generate_fmg_key(labview, "knocknoc-th")
    assert labview.login_allowed(fmg, "bob", "192.0.2.99")  # factory default: trusted host 1 allows all

    extra = dict(api_user, api_user_fortimanager_api_key=key, provision_mode="active",
                 provision_target="fortimanager", provision_fortimanager=conn(labview, fmg),
                 provision_knocknoc=knocknoc_conn(labview), provision_knoc_name="kk-active-fmg",
                 provision_trusted_host_admins=["alice", "bob"])
    first, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra, secrets=[key])
    assert first["changed"] >= 2
    second, _results, output = play(run_playbook, API_USER_AND_PROVISION, extra, secrets=[key])
    assert second["changed"] == 0, output[-4000:]

    device = labview.device(fmg)
    for admin in ("alice", "bob"):
        user = device.rpc("get", "/cli/global/system/admin/user/" + admin)["data"]
        # The baseline in trusted host 1, FortiManager's unused value in 2-9 (the same admitted sources as
        # the baseline in all nine), slot 10 left to Knocknoc.
        assert user["trusthost1"] == ["127.0.0.1", "255.255.255.255"] and user["ipv6_trusthost1"] == "::1/128", admin
        for slot in range(2, 10):
            assert user["trusthost%d" % slot] == ["255.255.255.255", "255.255.255.255"], (admin, slot)
            assert user["ipv6_trusthost%d" % slot] == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", (admin, slot)
        assert user["trusthost10"] == ["255.255.255.255", "255.255.255.255"]
        assert not labview.login_allowed(fmg, admin, "192.0.2.99")
    agent_user = device.rpc("get", "/cli/global/system/admin/user/knocknoc-th")["data"]
    assert agent_user["profileid"] == "Super_User" and agent_user["trusthost1"] == ["127.0.0.1", "255.255.255.255"]
    knoc_doc = knoc(labview, "kk-active-fmg")
    assert knoc_doc["mode"] == "active" and knoc_doc["use_fortimanager"] is True
    assert knoc_secrets(labview, "kk-active-fmg")[0] == key

    # What Knocknoc does at bob's login, with the agent's key: slot 10 opens the login from his IP.
    agent = labview.device(fmg, token=key)
    opened = agent.rpc("update", "/cli/global/system/admin/user/bob", data={"trusthost10": ["192.0.2.99", "255.255.255.255"]})
    assert opened["status"]["code"] == 0
    assert labview.login_allowed(fmg, "bob", "192.0.2.99")


def test_check_mode_writes_nothing(labview, run_playbook):
    """--check on a fresh lab: both roles walk their path, report changes and write nothing."""
    extra = dict(POLICY, api_user_target="fortigate", api_user_mode="passive_plus",
                 api_user_trusted_hosts=["127.0.0.1"], api_user_fortigate=conn(labview, "fgt2"),
                 provision_mode="passive_plus", provision_target="fortigate",
                 provision_fortigate=conn(labview, "fgt2"), provision_knocknoc=knocknoc_conn(labview),
                 provision_knoc_name="kk-check")
    rc, output, _results = run_playbook(API_USER_AND_PROVISION, extra_vars=extra, check=True)
    assert rc == 0, output[-4000:]
    assert stats(output)["changed"] >= 5
    assert labview.writes("fgt2") == 0 and labview.writes("knocknoc") == 0
    assert labview.device("fgt2").cmdb("system/api-user", "knocknoc-agent") is None
