"""The access role (playbooks grant.yml / revoke.yml) in every mode, through real ansible-playbook runs
against the lab, asserting what a user would see: the IP admitted by policy-lookup, the admin able to log
in to FortiManager, the IP on the Knocknoc allowlist.

The lab is set up through LabView (REST / JSON-RPC as an administrator), not through the provision role.
"""

import json
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
H = {"vdom": "root"}
ALICE_PP, ALICE_ACTIVE, FMG_PP, DIODE, ALICE_FMG = "198.51.100.7", "198.51.100.8", "198.51.100.9", "198.51.100.10", "203.0.113.44"

ALL_MODES = """
- name: Access in every mode
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Passive+ on fgt1, recorded on the Knoc
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: "{{ state }}"
        access_mode: passive_plus
        access_user: alice
        access_ip: 198.51.100.7
        access_resource_name: kk_allow
        access_fortigate: "{{ fgt_passive_plus }}"
        access_knoc: edge
        access_knocknoc: "{{ knocknoc }}"
    - name: Active on fgt1
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: "{{ state }}"
        access_mode: active
        access_user: alice
        access_ip: 198.51.100.8
        access_address_group: kk_users
        access_fortigate: "{{ fgt_active }}"
    - name: Passive+ through FortiManager to fgt1 and fgt2
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: "{{ state }}"
        access_mode: passive_plus
        access_use_fortimanager: true
        access_ip: 198.51.100.9
        access_resource_name: kk_allow
        access_device_targets: [FGVM01TM24000001, fgt2]
        access_fortimanager: "{{ fmg_passive_plus }}"
    - name: Active with FortiManager (trusted host 10 of alice)
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: "{{ state }}"
        access_mode: active
        access_use_fortimanager: true
        access_user: alice
        access_ip: 203.0.113.44
        access_fortimanager: "{{ fmg_super }}"
    - name: Passive, recorded on the Knoc
      ansible.builtin.include_role:
        name: knocknoc.fortinet.access
      vars:
        access_state: "{{ state }}"
        access_mode: passive
        access_user: dave
        access_ip: 198.51.100.10
        access_knoc: diode
        access_knocknoc: "{{ knocknoc }}"
"""


def connection(labview, name, token):
    return labview.connection(name, token, timeout=10)


def knocknoc(labview):
    info = labview.info("knocknoc")
    return {"url": info["url"], "token": info["admin_token"], "ca_path": labview.state["ca_path"]}


def create_knoc(labview, **doc):
    reply = labview.device("knocknoc").post("/api/v1/knocs", json=doc, headers={
        "Authorization": "Bearer " + labview.info("knocknoc")["admin_token"]})
    assert reply.status_code == 201, reply.text
    return reply.json()


def allowlist(labview, knoc):
    reply = labview.device("knocknoc").session.get(knoc["allowlist"]["url"], auth=("apikey", knoc["allowlist"]["api_key"]))
    reply.raise_for_status()
    return reply.text.split()


def setup_lab(labview):
    for name in ("fgt1", "fgt2"):
        fgt = labview.device(name)
        posts = [("system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "push"}),
                 ("firewall/address", {"name": "srv", "subnet": "10.0.0.10/32"}),
                 ("firewall/addrgrp", {"name": "kk_users", "member": []}),
                 ("firewall/policy", {"policyid": 0, "name": "pp", "srcintf": [{"name": "port2"}],
                                      "dstintf": [{"name": "port1"}], "srcaddr": [{"name": "kk_allow"}],
                                      "dstaddr": [{"name": "srv"}], "action": "accept", "service": [{"name": "HTTPS"}],
                                      "schedule": "always"}),
                 ("firewall/policy", {"policyid": 0, "name": "active", "srcintf": [{"name": "port1"}],
                                      "dstintf": [{"name": "port2"}], "srcaddr": [{"name": "kk_users"}],
                                      "dstaddr": [{"name": "srv"}], "action": "accept", "service": [{"name": "HTTPS"}],
                                      "schedule": "always"})]
        for path, body in posts:
            reply = fgt.post("/api/v2/cmdb/" + path, params=H, json=body)
            assert reply.status_code == 200, reply.text
    edge = create_knoc(labview, name="edge", mode="passive_plus", device_url=labview.info("fgt1")["url"],
                       authorization_token="unused-by-the-lab", external_connector_name="kk_allow")
    diode = create_knoc(labview, name="diode", mode="passive")
    extra = {"fgt_passive_plus": connection(labview, "fgt1", "kk-passiveplus"),
             "fgt_active": connection(labview, "fgt1", "kk-active"),
             "fmg_passive_plus": connection(labview, "fmg1", "kk-passiveplus"),
             "fmg_super": connection(labview, "fmg1", "lab-api"),
             "knocknoc": knocknoc(labview)}
    return edge, diode, extra


def stats(out):
    data, _end = json.JSONDecoder().raw_decode(out[out.index("{"):])
    return data["stats"]["localhost"]


def test_grant_and_revoke_in_every_mode(labview, run_playbook):
    edge, diode, extra = setup_lab(labview)
    fgt1, fgt2 = labview.device("fgt1"), labview.device("fgt2")

    # Check mode: the whole path runs and nothing is written anywhere.
    before = labview.counters()
    rc, out, _results = run_playbook(ALL_MODES, extra_vars=dict(extra, state="present"), check=True)
    assert rc == 0, out
    after = labview.counters()
    assert all(after[d]["writes"] == before[d]["writes"] for d in after), (before, after)
    assert fgt1.admitted(ALICE_PP, srcintf="port2") == 0

    rc, out, results = run_playbook(ALL_MODES, extra_vars=dict(extra, state="present"))
    assert rc == 0, out
    assert fgt1.admitted(ALICE_PP, srcintf="port2") == 1            # Passive+ direct
    assert fgt1.admitted(ALICE_ACTIVE, srcintf="port1") == 2        # Active: kk_ object in kk_users
    assert fgt1.admitted(FMG_PP, srcintf="port2") == 1              # Passive+ through FortiManager...
    assert fgt2.admitted(FMG_PP, srcintf="port2") == 1              # ... on both targets
    assert labview.login_allowed("fmg1", "alice", ALICE_FMG)         # FortiManager trusted host 10
    assert not labview.login_allowed("fmg1", "alice", "203.0.113.45")
    assert ALICE_PP in allowlist(labview, edge)                      # recorded on the Knoc
    assert allowlist(labview, diode) == [DIODE]                      # Passive: only the Knoc grant
    holders = [a for a in fgt1.cmdb("firewall/address") if a["name"] == "kk_" + ALICE_ACTIVE]
    assert holders and "alice" in holders[0]["comment"]
    for token in (extra["fgt_passive_plus"]["token"], extra["fmg_super"]["token"], extra["knocknoc"]["token"]):
        assert token not in out

    rc, out, _results = run_playbook(ALL_MODES, extra_vars=dict(extra, state="absent"))
    assert rc == 0, out
    assert fgt1.admitted(ALICE_PP, srcintf="port2") == 0
    assert fgt1.admitted(ALICE_ACTIVE, srcintf="port1") == 0
    assert fgt2.admitted(FMG_PP, srcintf="port2") == 0
    assert not labview.login_allowed("fmg1", "alice", ALICE_FMG)
    assert allowlist(labview, edge) == [] and allowlist(labview, diode) == []
    assert fgt1.cmdb("firewall/addrgrp", "kk_users")["member"] == []


def test_grant_and_revoke_playbooks_with_environment_credentials(labview, run_playbook):
    setup_lab(labview)
    info = labview.info("fgt1")
    env = {"FORTIGATE_URL": info["url"], "FORTIGATE_TOKEN": info["tokens"]["kk-active"],
           "FORTIGATE_CA_PATH": info["ca_path"], "FORTIGATE_TLS_SERVER_NAME": info["tls_server_name"]}
    extra = {"access_mode": "active", "access_user": "bob", "access_ip": "192.0.2.80", "access_address_group": "kk_users"}
    rc, out, _results = run_playbook((ROOT / "playbooks" / "grant.yml").read_text(), extra_vars=extra, env=env)
    assert rc == 0, out
    assert stats(out)["changed"] == 1
    assert labview.device("fgt1").admitted("192.0.2.80", srcintf="port1") == 2
    # Idempotent: the same grant again changes nothing.
    rc, out, _results = run_playbook((ROOT / "playbooks" / "grant.yml").read_text(), extra_vars=extra, env=env)
    assert rc == 0, out
    assert stats(out)["changed"] == 0, out
    rc, out, _results = run_playbook((ROOT / "playbooks" / "revoke.yml").read_text(), extra_vars=extra, env=env)
    assert rc == 0, out
    assert labview.device("fgt1").admitted("192.0.2.80", srcintf="port1") == 0
    assert info["tokens"]["kk-active"] not in out


def test_passive_plus_push_failure_is_a_warning(labview, run_playbook):
    # No external resource named kk_allow on the FortiGate: the push fails (202102), the grant does not.
    extra = {"access_mode": "passive_plus", "access_ip": "198.51.100.7", "access_resource_name": "kk_allow",
             "access_fortigate": connection(labview, "fgt1", "kk-passiveplus")}
    rc, out, results = run_playbook((ROOT / "playbooks" / "grant.yml").read_text(), extra_vars=extra)
    assert rc == 0, out
    warning = results["knocknoc.fortinet.access : Warn that the push failed (agent error 202100 is not fatal,"
                      " the FortiGates reconcile on their next poll)"]
    assert "WARNING" in warning["msg"] and "202102" in warning["msg"]


def test_other_failures_fail_with_the_agent_error(labview, run_playbook):
    # bob's trusted host 1 allows everything: slot 10 would restrict nothing, so the grant is refused.
    extra = {"access_mode": "active", "access_use_fortimanager": True, "access_user": "bob",
             "access_ip": "203.0.113.44", "access_fortimanager": connection(labview, "fmg1", "lab-api")}
    rc, out, results = run_playbook((ROOT / "playbooks" / "revoke.yml").read_text(),
                                    extra_vars=dict(extra, access_user="nobody"))
    assert rc != 0
    failure = results["knocknoc.fortinet.access : Report why trusted host 10 could not be updated"]
    assert "202051" in failure["msg"]
    assert extra["access_fortimanager"]["token"] not in out


def test_invalid_input_is_refused_before_any_call(labview, run_playbook):
    before = labview.counters()
    extra = {"access_mode": "active", "access_ip": "198.51.100.0/24", "access_address_group": "kk_users",
             "access_fortigate": connection(labview, "fgt1", "kk-active")}
    rc, out, results = run_playbook((ROOT / "playbooks" / "grant.yml").read_text(), extra_vars=extra)
    assert rc != 0
    assert "access_ip" in results["knocknoc.fortinet.access : Check the access inputs"]["msg"]
    assert "access_user" in results["knocknoc.fortinet.access : Check the access inputs"]["msg"]
    assert labview.counters() == before


def test_a_misspelled_mode_fails_the_argument_spec(labview, run_playbook):
    before = labview.counters()
    extra = {"access_mode": "pasive", "access_ip": "198.51.100.7", "access_fortigate": connection(labview, "fgt1", "kk-active")}
    rc, out, _results = run_playbook((ROOT / "playbooks" / "grant.yml").read_text(), extra_vars=extra)
    assert rc != 0
    assert "access_mode" in out and "pasive" in out and "passive_plus" in out, out[-2000:]
    assert extra["access_fortigate"]["token"] not in out
    assert labview.counters() == before
