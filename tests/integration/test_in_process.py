"""Controller-side execution (issue 12, item 3): every module's action plugin runs the module in Ansible's
worker process when the connection is local. The same playbook, one scenario per module (the scenarios of
test_results_through_playbook.py, plus no_log, diff and a refused argument), runs both ways, in-process and
forced module execution (KNOCKNOC_FORTINET_IN_PROCESS=false); registered results (without the echoed
arguments), warnings and the lab's request counts must be the same, and the in-process run must not have
built a single module payload.
"""

import json

import yaml

from test_results_through_playbook import scenarios, setup

# The echo of the arguments is Ansible's business (its content differs with the core version, not the way).
IGNORED = {"invocation"}


def playbook(cases, out):
    tasks = []
    for name, module, args, check in cases:
        task = {"name": name, "knocknoc.fortinet." + module: args, "check_mode": check,
                "register": "result", "ignore_errors": True}
        if name == "no_log":
            task["no_log"] = True
        tasks.append(task)
        tasks.append({"name": "keep " + name, "ansible.builtin.set_fact": {
            "registered": "{{ registered | default({}) | combine({%s: result}) }}" % json.dumps(name)}})
    tasks.append({"name": "write", "ansible.builtin.copy": {"content": "{{ registered | to_json }}", "dest": str(out)},
                  "check_mode": False})
    return yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}])


def payloads(tmp):
    """The module payloads Ansible built for this collection's modules (kept: ANSIBLE_KEEP_REMOTE_FILES)."""
    return sorted(p.name for p in tmp.rglob("AnsiballZ_*") if "fortigate" in p.name or "fortimanager" in p.name
                  or "fortinet" in p.name or "knocknoc" in p.name)


def run_both_ways(labview, run_playbook, tmp_path, cases):
    results, shown, counts, built = {}, {}, {}, {}
    for way, in_process in (("in-process", "true"), ("module", "false")):
        remote = tmp_path / ("remote-" + way)
        out = tmp_path / ("registered-%s.json" % way)
        labview.control("POST", "/counters/reset")
        rc, output, shown[way] = run_playbook(playbook(cases, out), diff=True, env={
            "KNOCKNOC_FORTINET_IN_PROCESS": in_process, "ANSIBLE_KEEP_REMOTE_FILES": "1",
            "ANSIBLE_PIPELINING": "false", "ANSIBLE_REMOTE_TEMP": str(remote)})
        assert rc == 0, output[-3000:]
        counts[way] = labview.counters()
        results[way] = json.loads(out.read_text())
        built[way] = payloads(remote) if remote.exists() else []
    return results, shown, counts, built


def test_in_process_and_module_execution_give_the_same_results(labview, run_playbook, tmp_path):
    knoc = setup(labview)
    cases = scenarios(labview, knoc)
    fgt = dict(labview.connection("fgt1"), retries=0)
    cases += [
        # no_log: Ansible censors the whole result, both ways.
        ("no_log", "fortigate_object_info", dict(fgt, path="firewall/address", name="srv"), False),
        # Refused by the module's own argument spec (an unknown option), both ways.
        ("refused", "fortigate_object_info", dict(fgt, path="firewall/address", colour="red"), False),
        # A warning (certificate not verified) in the result, not on the controller's display.
        ("unverified", "fortigate_object_info", dict(fgt, path="firewall/address", name="srv", validate_certs=False), False),
        # Refused by the collection's validation, before any request.
        ("invalid", "fortigate_address_grant", dict(fgt, address_group="kk_group", addresses=["not-an-ip"]), True),
    ]
    results, shown, counts, built = run_both_ways(labview, run_playbook, tmp_path, cases)

    mine, theirs = results["in-process"], results["module"]
    differences = []
    for name, _module, _args, _check in cases:
        a, b = mine[name], theirs[name]
        for key in sorted((set(a) | set(b)) - IGNORED):
            if a.get(key, "<missing>") != b.get(key, "<missing>"):
                differences.append((name, key, a.get(key, "<missing>"), b.get(key, "<missing>")))
    assert not differences, "\n".join("%s: %s in-process %r, module %r" % d for d in differences)
    assert counts["in-process"] == counts["module"]
    assert sum(c["requests"] for c in counts["module"].values()) > len(cases)

    # The comparison says something: failures, masking, warnings and diffs were there to compare.
    assert mine["refused"]["failed"] and "colour" in mine["refused"]["msg"]
    assert any("validate_certs=false" in w for w in mine["unverified"]["warnings"]), mine["unverified"]
    assert mine["invalid"]["failed"] and "not-an-ip" in mine["invalid"]["msg"]
    # What the callback shows (a registered variable keeps the whole result, in Ansible as ever).
    for way in shown:
        assert shown[way]["no_log"].get("censored") and "srv" not in json.dumps(shown[way]["no_log"]), way
        for name, _module, _args, _check in cases:
            assert shown[way][name].get("warnings") == shown["module"][name].get("warnings"), (way, name)
    assert not mine["fortigate object info"].get("failed") and mine["fortigate object"]["changed"]
    assert any(r.get("diff") for r in mine.values())

    # No module payload on the local path; one per task of ours when forced.
    assert built["in-process"] == []
    assert len(built["module"]) == len(cases), built["module"]


def test_opt_out_by_variable(labview, run_playbook, tmp_path):
    """knocknoc_fortinet_in_process=false (a variable, e.g. on one host or task) forces module execution."""
    fgt = dict(labview.connection("fgt1"), retries=0)
    remote = tmp_path / "remote"
    task = {"knocknoc.fortinet.fortigate_object_info": dict(fgt, path="firewall/address", name="srv")}
    book = yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        dict(task, name="forced", vars={"knocknoc_fortinet_in_process": False}, register="forced"),
        dict(task, name="in process", register="local"),
        {"name": "same", "ansible.builtin.assert": {"that": [
            "forced.object == local.object", "forced is succeeded", "forced.exists == local.exists", "forced.changed == local.changed"]}}]}])
    rc, output, _results = run_playbook(book, env={"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_PIPELINING": "false",
                                                   "ANSIBLE_REMOTE_TEMP": str(remote)})
    assert rc == 0, output[-3000:]
    assert payloads(remote) == ["AnsiballZ_fortigate_object_info.py"]
