"""Module results the way users see them: each module runs through ``ansible-playbook``, its registered result is
compared with what the module returns in-process (what the other tests look at).

Ansible reads some result keys itself (``changed``, ``failed``, ``skipped``, ``msg``...): a module that returned a
list under ``skipped`` had its task shown as skipping and the list turned into ``true``. Here every key the module
returns must reach the registered variable unchanged, and no task may be reported as skipped.
"""

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
H = {"vdom": "root"}
USER_IP = "198.51.100.7"
# Keys Ansible adds or rewrites on the way (its own bookkeeping), and the echoed arguments.
ANSIBLE_KEYS = {"invocation", "warnings", "deprecations", "_ansible_no_log", "ansible_facts"}


def setup(labview):
    """A Passive+ knoc with a grant; on fgt1 a push resource, a group and a policy using it."""
    kk = labview.info("knocknoc")
    headers = {"Authorization": "Bearer " + kk["admin_token"]}
    knocknoc = labview.device("knocknoc")
    reply = knocknoc.post("/api/v1/knocs", headers=headers, json={
        "name": "edge", "mode": "passive_plus", "device_url": labview.info("fgt1")["url"],
        "authorization_token": "set-by-the-lab", "external_connector_name": "kk_push",
        "allowlist_ip_restrictions": ["127.0.0.1/32"]})
    assert reply.status_code == 201, reply.text
    knoc = reply.json()
    grant = knocknoc.post("/api/v1/knocs/%s/grants" % knoc["knoc"]["id"], headers=headers,
                          json={"username": "bob", "ip": "192.0.2.10"})
    assert grant.status_code in (200, 201), grant.text
    fgt = labview.device("fgt1")
    for path, body in (("system/external-resource", {"name": "kk_push", "type": "address", "update-method": "push"}),
                       ("firewall/address", {"name": "srv", "subnet": "10.0.0.10/32"}),
                       ("firewall/addrgrp", {"name": "kk_group", "member": []}),
                       ("firewall/policy", {"policyid": 0, "name": "kk", "srcintf": [{"name": "port1"}],
                                            "dstintf": [{"name": "port2"}], "srcaddr": [{"name": "kk_push"}],
                                            "dstaddr": [{"name": "srv"}], "action": "accept",
                                            "service": [{"name": "HTTPS"}], "schedule": "always"})):
        assert fgt.post("/api/v2/cmdb/" + path, params=H, json=body).status_code == 200
    return knoc


def scenarios(labview, knoc):
    """(task name, module, args, check mode): one per module at least. Modules that write run in check mode in
    both places, so that both see the same device state and give the same answer."""
    fgt = dict(labview.connection("fgt1"), retries=0)
    fmg = dict(labview.connection("fmg1"), retries=0)
    kk = dict(labview.connection("knocknoc"), retries=0)
    allowlist = knoc["allowlist"]
    return [
        ("dynamic entry", "fortigate_dynamic_entry", dict(fgt, name="kk_push", entries=[USER_IP]), True),
        ("address grant", "fortigate_address_grant", dict(fgt, address_group="kk_group", addresses=[USER_IP], user="alice"), True),
        ("policy lookup", "fortigate_policy_lookup_info", dict(fgt, source=USER_IP, source_interface="port2",
                                                               destination="10.0.0.10"), False),
        ("fortigate object", "fortigate_object", dict(fgt, path="firewall/address", name="kk_x", data={"subnet": "192.0.2.1/32"}),
         True),
        ("fortigate object info", "fortigate_object_info", dict(fgt, path="firewall/address", name="srv"), False),
        ("external resource", "fortinet_external_resource", dict(fgt, name="kk_feed", resource=allowlist["url"],
                                                                 username="apikey", password=allowlist["api_key"]), True),
        # Checks that need an input not given are listed in skipped_checks (a non-empty list here).
        ("preflight", "fortinet_preflight", dict(fgt, mode="passive_plus", resource_name="kk_push"), False),
        ("certificate info", "fortinet_certificate_info", dict(fgt), False),
        ("fortimanager object", "fortimanager_object", dict(fmg, path="/pm/config/adom/{adom}/obj/firewall/address",
                                                            name="kk_x", data={"subnet": "192.0.2.0/24"}), True),
        ("fortimanager object info", "fortimanager_object_info", dict(fmg, path="/cli/global/system/admin/user", name="bob"),
         False),
        ("trusted host", "fortimanager_trusted_host", dict(fmg, admin="alice", address=USER_IP), True),
        ("allowlist", "knocknoc_allowlist_info", dict(kk, url=allowlist["url"], api_key=allowlist["api_key"]), False),
        ("knocknoc grant", "knocknoc_grant", dict(kk, knoc="edge", username="alice", ip=USER_IP), True),
        ("knocknoc grant info", "knocknoc_grant_info", dict(kk, knoc="edge"), False),
        ("knoc", "knocknoc_knoc", dict(kk, name="edge", mode="passive_plus", device_url=labview.info("fgt1")["url"],
                                       external_connector_name="kk_push", allowlist_ip_restrictions=["127.0.0.1/32"]), True),
    ]


def test_registered_results_equal_the_module_results(labview, run_module, run_playbook, tmp_path):
    knoc = setup(labview)
    cases = scenarios(labview, knoc)
    modules = set(module for _name, module, _args, _check in cases)
    assert modules == set(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")), "one scenario per module"

    expected = {}
    for name, module, args, check in cases:
        expected[name] = run_module(module, args, check=check)

    tasks = []
    for name, module, args, check in cases:
        tasks.append({"name": name, "knocknoc.fortinet." + module: args, "check_mode": check,
                      "register": "result", "ignore_errors": True})
        tasks.append({"name": "keep " + name, "ansible.builtin.set_fact": {
            "registered": "{{ registered | default({}) | combine({%s: result}) }}" % json.dumps(name)}})
    out = tmp_path / "registered.json"
    tasks.append({"name": "write", "ansible.builtin.copy": {"content": "{{ registered | to_json }}", "dest": str(out)},
                  "check_mode": False})
    rc, output, results = run_playbook(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    assert rc == 0, output[-3000:]
    registered = json.loads(out.read_text())

    differences = []
    for name, module, _args, _check in cases:
        mine, theirs = expected[name], registered[name]
        # What the callback and the play saw: never skipped, failed only when the module failed.
        assert not results[name].get("skipped") and not theirs.get("skipped"), (name, theirs)
        assert bool(theirs.get("failed")) == bool(mine.get("failed")), (name, mine, theirs)
        for key in sorted(set(mine) - ANSIBLE_KEYS):
            if theirs.get(key, "<missing>") != mine[key]:
                differences.append((name, key, mine[key], theirs.get(key, "<missing>")))
    assert not differences, "\n".join("%s: %s in-process %r, registered %r" % d for d in differences)
    # The scenarios say something: the reserved-key cases really carry a list.
    assert expected["preflight"]["skipped_checks"] and isinstance(registered["preflight"]["skipped_checks"], list)
    assert registered["allowlist"]["entries"] == ["192.0.2.10"] and registered["allowlist"]["skipped_lines"] == []
