"""The reconcile role (playbooks/reconcile.yml): drifted devices are repaired to match Knocknoc exactly
(an IP pushed by hand that Knocknoc does not grant is removed, a granted one that is missing is added),
checked through policy-lookup and the FortiManager login check; an empty allowlist is refused unless
allowed.

The lab is set up through LabView (REST / JSON-RPC as an administrator), not through the provision role.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
H = {"vdom": "root"}
ALICE, BOB, STRAY = "198.51.100.7", "198.51.100.8", "203.0.113.66"
PLAYBOOK = (ROOT / "playbooks" / "reconcile.yml").read_text()


def admin(labview):
    return {"Authorization": "Bearer " + labview.info("knocknoc")["admin_token"]}


def create_knoc(labview, grants=(), **doc):
    kk = labview.device("knocknoc")
    reply = kk.post("/api/v1/knocs", json=doc, headers=admin(labview))
    assert reply.status_code == 201, reply.text
    knoc = reply.json()
    for user, ip in grants:
        assert kk.post("/api/v1/knocs/%d/grants" % knoc["knoc"]["id"], json={"username": user, "ip": ip},
                       headers=admin(labview)).status_code == 201
    return knoc


def connection(labview, name, token):
    return labview.connection(name, token)


def knocknoc(labview):
    info = labview.info("knocknoc")
    return {"url": info["url"], "token": info["admin_token"], "ca_path": labview.state["ca_path"]}


def setup_fortigate(labview, name, source):
    fgt = labview.device(name)
    for path, body in (("system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "push"}),
                       ("firewall/address", {"name": "srv", "subnet": "10.0.0.10/32"}),
                       ("firewall/addrgrp", {"name": "kk_users", "member": [{"name": "srv"}]}),
                       ("firewall/policy", {"policyid": 0, "name": "kk", "srcintf": [{"name": "port2"}],
                                            "dstintf": [{"name": "port1"}], "srcaddr": [{"name": source}],
                                            "dstaddr": [{"name": "srv"}], "action": "accept",
                                            "service": [{"name": "HTTPS"}], "schedule": "always"})):
        reply = fgt.post("/api/v2/cmdb/" + path, params=H, json=body)
        assert reply.status_code == 200, reply.text
    return fgt


def push(fgt, command, entries):
    reply = fgt.post("/api/v2/monitor/system/external-resource/dynamic", params=H,
                     json={"commands": [{"name": "kk_allow", "command": command, "entries": entries}]})
    assert reply.status_code == 200, reply.text


def test_passive_plus_lists_are_repaired_on_every_fortigate(labview, run_playbook):
    knoc = create_knoc(labview, grants=[("alice", ALICE), ("bob", BOB)], name="edge", mode="passive_plus",
                       device_url=labview.info("fgt1")["url"], authorization_token="unused",
                       external_connector_name="kk_allow")
    fgt1, fgt2 = setup_fortigate(labview, "fgt1", "kk_allow"), setup_fortigate(labview, "fgt2", "kk_allow")
    push(fgt1, "add", [ALICE, STRAY])  # drift: a stray IP pushed by hand, bob's push lost
    assert fgt1.admitted(STRAY, srcintf="port2") == 1 and fgt1.admitted(BOB, srcintf="port2") == 0
    # The allowlist and its key come from the environment, as the Knocknoc credential type injects them.
    env = {"KNOCKNOC_ALLOWLIST_URL": knoc["allowlist"]["url"], "KNOCKNOC_ALLOWLIST_API_KEY": knoc["allowlist"]["api_key"],
           "KNOCKNOC_CA_PATH": labview.state["ca_path"]}
    extra = {"reconcile_mode": "passive_plus", "reconcile_resource_name": "kk_allow",
             "reconcile_fortigates": [connection(labview, "fgt1", "kk-passiveplus"),
                                      connection(labview, "fgt2", "kk-passiveplus")]}
    rc, out, results = run_playbook(PLAYBOOK, extra_vars=extra, env=env)
    assert rc == 0, out
    for fgt in (fgt1, fgt2):
        assert fgt.entries("kk_allow") == [ALICE, BOB]
        assert fgt.admitted(BOB, srcintf="port2") == 1
        assert fgt.admitted(STRAY, srcintf="port2") == 0
    repaired = results["knocknoc.fortinet.reconcile : Show what was repaired"]["msg"]
    assert "removed ['%s']" % STRAY in repaired
    assert knoc["allowlist"]["api_key"] not in out
    assert extra["reconcile_fortigates"][0]["token"] not in out


def test_an_empty_allowlist_is_refused_unless_allowed(labview, run_playbook):
    knoc = create_knoc(labview, name="edge", mode="passive_plus", device_url=labview.info("fgt1")["url"],
                       authorization_token="unused", external_connector_name="kk_allow")
    fgt1 = setup_fortigate(labview, "fgt1", "kk_allow")
    push(fgt1, "add", [ALICE])
    extra = {"reconcile_mode": "passive_plus", "reconcile_resource_name": "kk_allow",
             "reconcile_allowlist_url": knoc["allowlist"]["url"],
             "reconcile_allowlist_api_key": knoc["allowlist"]["api_key"],
             "reconcile_knocknoc": {"ca_path": labview.state["ca_path"]},
             "reconcile_fortigates": [connection(labview, "fgt1", "kk-passiveplus")]}
    writes = labview.writes("fgt1")
    rc, out, results = run_playbook(PLAYBOOK, extra_vars=extra)
    assert rc != 0
    assert "reconcile_allow_empty" in results["knocknoc.fortinet.reconcile : Refuse to empty every device by accident"]["msg"]
    assert labview.writes("fgt1") == writes
    assert fgt1.admitted(ALICE, srcintf="port2") == 1
    rc, out, _results = run_playbook(PLAYBOOK, extra_vars=dict(extra, reconcile_allow_empty=True))
    assert rc == 0, out
    assert fgt1.entries("kk_allow") == []
    assert fgt1.admitted(ALICE, srcintf="port2") == 0


ACTIVE = """
- name: Reconcile Active mode from the Knocs' grants
  hosts: localhost
  gather_facts: false
  tasks:
    - name: FortiGate address group
      ansible.builtin.include_role:
        name: knocknoc.fortinet.reconcile
      vars:
        reconcile_mode: active
        reconcile_source: grants
        reconcile_knoc: fw
        reconcile_knocknoc: "{{ knocknoc }}"
        reconcile_address_group: kk_users
        reconcile_fortigates: ["{{ fgt }}"]
    - name: FortiManager trusted hosts
      ansible.builtin.include_role:
        name: knocknoc.fortinet.reconcile
      vars:
        reconcile_mode: active
        reconcile_use_fortimanager: true
        reconcile_source: grants
        reconcile_knoc: fmg
        reconcile_knocknoc: "{{ knocknoc }}"
        reconcile_usernames: [alice, carol]
        reconcile_fortimanager: "{{ fmg }}"
"""


def test_active_mode_is_repaired_from_the_grants(labview, run_playbook):
    create_knoc(labview, grants=[("alice", ALICE)], name="fw", mode="active", device_url=labview.info("fgt1")["url"],
                authorization_token="unused", address_group="kk_users")
    create_knoc(labview, grants=[("alice", "203.0.113.44")], name="fmg", mode="active", use_fortimanager=True,
                device_url=labview.info("fmg1")["url"], authorization_token="unused")
    fgt1 = setup_fortigate(labview, "fgt1", "kk_users")
    # Drift on the FortiGate: a stray kk_ member added by hand.
    for path, body in (("firewall/address", {"name": "kk_" + STRAY, "subnet": STRAY + "/32"}),
                       ("firewall/addrgrp/kk_users/member", {"name": "kk_" + STRAY})):
        assert fgt1.post("/api/v2/cmdb/" + path, params=H, json=body).status_code == 200
    # Drift on FortiManager: carol's slot 10 still holds an old address.
    fmg = labview.device("fmg1")
    assert fmg.rpc("update", "/cli/global/system/admin/user/carol",
                   data={"trusthost10": ["192.0.2.99", "255.255.255.255"]})["status"]["code"] == 0
    assert labview.login_allowed("fmg1", "carol", "192.0.2.99")
    extra = {"knocknoc": knocknoc(labview), "fgt": connection(labview, "fgt1", "kk-active"),
             "fmg": connection(labview, "fmg1", "lab-api")}
    rc, out, _results = run_playbook(ACTIVE, extra_vars=extra)
    assert rc == 0, out
    members = sorted(m["name"] for m in fgt1.cmdb("firewall/addrgrp", "kk_users")["member"])
    assert members == ["kk_" + ALICE, "srv"]  # the member without the prefix is never touched
    assert fgt1.admitted(ALICE, srcintf="port2") == 1
    assert fgt1.admitted(STRAY, srcintf="port2") == 0
    assert labview.login_allowed("fmg1", "alice", "203.0.113.44")
    assert not labview.login_allowed("fmg1", "carol", "192.0.2.99")
    for token in (extra["fgt"]["token"], extra["fmg"]["token"], extra["knocknoc"]["token"]):
        assert token not in out
