"""AWX fleet runs (issue 12): the inventory source and the fleet job templates of awx/, run the way AWX runs them.

- Inventory update: ``ansible-inventory --list --export`` on the file that awx/inventory_sources/fortimanager.yml
  names, with the environment of its credential (the injectors of awx/credential_types/fortimanager_api.yml rendered,
  the CA written to a file of the update's own directory, which is removed afterwards as AWX removes it). AWX keeps
  the result (hosts with their variables, groups) and the update's environment is gone when a job runs.
- Job: what AWX's ``Inventory.get_script_data`` gives a job (hosts by name, slice n of k is ``hosts[n-1::k]``, groups
  cut down to the slice's hosts) as an inventory script, the template's extra_vars and survey answers as extra vars,
  the job's own credential environment, the limit given on launch; one ansible-runner job per slice, run concurrently.

The effect is checked on the lab's FortiGates (policy lookup and the external resource's entry list), the results per
host in the job events, and the artifacts of every job for secrets.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from secrets import token_hex

import ansible_runner
import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from harness.labview import LabView
from kklab.lab import Lab, fleet_topology

from test_awx_runner import AWX, ROOT, assert_no_secret_in_artifacts, inject, launch_vars, load
from test_inventory_fortimanager import _plain
from test_inventory_driven import prepare

BIN = Path(sys.executable).parent
IP, LIMITED_IP, RECONCILED_IP, DIRECT_IP, STRAY = "198.51.100.91", "198.51.100.92", "198.51.100.93", "198.51.100.94", "203.0.113.66"
RESOURCE = "kk_allow"
PUSH_TASK = "Push the address into the external resource"
RECONCILE_TASK = "Make the list of every target FortiGate exactly the granted addresses, through FortiManager"
FLEET = ["fgt%03d" % i for i in range(1, 7)]

# The parameters of the awx.awx modules (collection awx.awx 24.6.1, DOCUMENTATION of plugins/modules/*.py), so that
# a file of awx/ cannot name one AWX does not have.
JOB_TEMPLATE_PARAMETERS = frozenset((
    "name", "new_name", "copy_from", "description", "job_type", "inventory", "organization", "project", "playbook",
    "credential", "credentials", "vault_credential", "execution_environment", "custom_virtualenv", "instance_groups",
    "forks", "limit", "verbosity", "extra_vars", "job_tags", "force_handlers", "skip_tags", "start_at_task",
    "diff_mode", "use_fact_cache", "host_config_key", "ask_scm_branch_on_launch", "ask_diff_mode_on_launch",
    "ask_variables_on_launch", "ask_limit_on_launch", "ask_tags_on_launch", "ask_skip_tags_on_launch",
    "ask_job_type_on_launch", "ask_verbosity_on_launch", "ask_inventory_on_launch", "ask_credential_on_launch",
    "ask_execution_environment_on_launch", "ask_forks_on_launch", "ask_instance_groups_on_launch",
    "ask_job_slice_count_on_launch", "ask_labels_on_launch", "ask_timeout_on_launch", "survey_enabled", "survey_spec",
    "become_enabled", "allow_simultaneous", "timeout", "job_slice_count", "webhook_service", "webhook_credential",
    "scm_branch", "labels", "state", "notification_templates_started", "notification_templates_success",
    "notification_templates_error", "prevent_instance_group_fallback"))
INVENTORY_SOURCE_PARAMETERS = frozenset((
    "name", "new_name", "description", "inventory", "source", "source_path", "source_vars", "enabled_var",
    "enabled_value", "host_filter", "limit", "credential", "execution_environment", "custom_virtualenv", "overwrite",
    "overwrite_vars", "timeout", "verbosity", "update_on_launch", "update_cache_timeout", "source_project",
    "scm_branch", "state", "notification_templates_started", "notification_templates_success",
    "notification_templates_error", "organization"))
INVENTORY_PARAMETERS = frozenset((
    "name", "new_name", "copy_from", "description", "organization", "variables", "kind", "host_filter",
    "instance_groups", "input_inventories", "prevent_instance_group_fallback", "state"))
# Options of the doc fragments ansible.builtin.constructed and ansible.builtin.inventory_cache, which the
# inventory plugin extends.
CONSTRUCTED_OPTIONS = frozenset((
    "strict", "compose", "groups", "keyed_groups", "use_extra_vars", "leading_separator", "use_vars_plugins",
    "cache", "cache_plugin", "cache_timeout", "cache_connection", "cache_prefix"))
SURVEY_TYPES = frozenset(("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"))


# -- what AWX does -------------------------------------------------------------------------------------------
def base_env(work):
    """What the execution environment provides to a job: ansible, the collection, a UTF-8 locale; AWX's settings
    ANSIBLE_INVENTORY_UNPARSED_FAILED and ANSIBLE_HOST_KEY_CHECKING. Nothing of this process's FORTI*/KNOCKNOC_*."""
    work.mkdir(parents=True, exist_ok=True)
    return {"PATH": "%s:%s" % (BIN, os.environ.get("PATH", "/usr/bin:/bin")), "LC_ALL": "C.UTF-8", "HOME": str(work),
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_HOME": str(work / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local"),
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_HOST_KEY_CHECKING": "False"}


def inventory_update(work, credential_inputs, extra_env=None, project=ROOT):
    """The update of awx/inventory_sources/fortimanager.yml: its credential's environment, ``ansible-inventory --list
    --export`` on its source_path (with AWX's inventory update settings), then what AWX keeps: ``{"hosts": {name:
    variables}, "groups": {name: {"hosts", "children", "vars"}}, "vars": inventory variables}``. The update's
    private directory (the injected CA file with it) is removed, as AWX removes it. ``project``: the checkout of the
    source's project (this repository, or a copy a user changed)."""
    source = load(AWX / "inventory_sources" / "fortimanager.yml")
    assert source["source"] == "scm"
    private = work / "inventory-update"
    (private / "env").mkdir(parents=True)
    (private / "artifacts").mkdir()
    env = base_env(private)
    env.update(inject("fortimanager_api", credential_inputs, private / "env"))
    env.update({"ANSIBLE_INVENTORY_EXPORT": "True", "ANSIBLE_VERBOSE_TO_STDERR": "True",
                "ANSIBLE_HOST_PATTERN_MISMATCH": "error"})
    env.update(extra_env or {})
    path = project / source["source_path"]
    output = private / "artifacts" / "output.json"
    proc = subprocess.run([str(BIN / "ansible-inventory"), "--list", "--export", "-i", str(path), "--output", str(output),
                           "--playbook-dir", str(path.parent)], capture_output=True, text=True, env=env, cwd=str(private),
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    exported = json.loads(output.read_text())
    shutil.rmtree(private)
    hosts = dict(exported.get("_meta", {}).get("hostvars", {}))
    groups = {}
    for name, group in exported.items():
        if name in ("_meta", "all"):
            continue
        for host in group.get("hosts", []):
            hosts.setdefault(host, {})
        if name != "ungrouped":
            groups[name] = {"hosts": list(group.get("hosts", [])), "children": list(group.get("children", [])),
                            "vars": dict(group.get("vars", {}))}
    return {"hosts": hosts, "groups": groups, "vars": dict(exported.get("all", {}).get("vars", {})),
            "output": proc.stdout + proc.stderr}


def job_inventory(inventory, slice_number=1, slice_count=1):
    """AWX's Inventory.get_script_data(hostvars=True, towervars=True, slice_number, slice_count): the enabled hosts
    ordered by name, slice n of k the hosts [n-1::k], every group listed (its hosts cut down to the slice's),
    host ids as remote_tower_id."""
    ids = dict((name, i) for i, name in enumerate(sorted(inventory["hosts"]), 1))
    hosts = sorted(inventory["hosts"])
    if slice_count > 1 and slice_number > 0:
        hosts = hosts[slice_number - 1::slice_count]
    data = {"all": {}}
    if inventory["vars"]:
        data["all"]["vars"] = inventory["vars"]
    grouped = set()
    for name, group in inventory["groups"].items():
        info = {}
        members = [h for h in group["hosts"] if h in hosts]
        if members:
            info["hosts"] = members
            grouped.update(members)
        if group["children"]:
            info["children"] = group["children"]
        if group["vars"]:
            info["vars"] = group["vars"]
        if info:
            data[name] = info
    data["all"]["hosts"] = [h for h in hosts if h not in grouped]
    if inventory["groups"]:
        data["all"]["children"] = list(inventory["groups"])
    data["_meta"] = {"hostvars": {}}
    for host in hosts:
        variables = dict(inventory["hosts"][host])
        for prefix in ("host", "tower"):
            variables.update({"remote_%s_enabled" % prefix: "true", "remote_%s_id" % prefix: ids[host]})
        data["_meta"]["hostvars"][host] = variables
    return data, hosts


def launch(work, name, answers, inventory, credentials, limit=None, slices=None, forks=None, vault_password=None):
    """Launch the job template awx/job_templates/<name>.yml as AWX does: job_slice_count (or the count prompted on
    launch) capped at the number of hosts; one job per slice, each with its own private data dir, credential files
    and inventory script; all slices at once. A Vault credential is AWX's --ask-vault-pass answered at the prompt.
    Returns [(runner, private_data_dir, hosts of the slice)]."""
    template = load(AWX / "job_templates" / ("%s.yml" % name))
    if limit is not None:
        assert template["ask_limit_on_launch"]
    if slices is not None:
        assert template["ask_job_slice_count_on_launch"]
    if forks is not None:
        assert template["ask_forks_on_launch"]
    count = min(template.get("job_slice_count", 1) if slices is None else slices, len(inventory["hosts"]))
    extravars = launch_vars(template, answers)
    vault = {"cmdline": "--ask-vault-pass", "passwords": {r"^Vault password:\s*?$": vault_password}} if vault_password else {}
    started = []
    for number in range(1, count + 1):
        private = work / ("%s-slice-%d-of-%d" % (name, number, count))
        (private / "env").mkdir(parents=True)
        (private / "inventory").mkdir()
        env = base_env(private)
        for kind, inputs in credentials:
            env.update(inject(kind, inputs, private / "env"))
        data, hosts = job_inventory(inventory, number if count > 1 else 1, count)
        script = private / "inventory" / "hosts"
        script.write_text("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(data))
        script.chmod(0o700)
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(private), playbook=str(ROOT / template["playbook"]), inventory=str(script),
            envvars=env, extravars=extravars, limit=limit, forks=forks or template.get("forks"), quiet=True,
            suppress_env_files=True, **vault)
        started.append((thread, runner, private, hosts))
    for thread, _runner, _private, _hosts in started:
        thread.join(timeout=600)
        assert not thread.is_alive()
    return [(runner, private, hosts) for _thread, runner, private, hosts in started]


def events(runner, event, task=None):
    return [e["event_data"] for e in runner.events if e.get("event") == event
            and (task is None or e["event_data"].get("task") == task)]


def pushed_hosts(runner):
    """The hosts with a result (runner_on_ok) of the role's push task, one per host and job."""
    hosts = [e["host"] for e in events(runner, "runner_on_ok", PUSH_TASK)]
    assert len(hosts) == len(set(hosts)), hosts
    return sorted(hosts)


def shown(runner):
    """Per host, the role's report of the push (task "Show the push")."""
    return dict((e["host"], e["res"]["msg"]) for e in events(runner, "runner_on_ok", "Show the push"))


# -- the lab and its AWX objects -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    # 6 FortiGates of ADOM root, all managed by fmg1 (one device group root_g01 under root_fleet).
    lab = Lab(tmp_path_factory.mktemp("awx-fleet-lab"), topology=fleet_topology(6)).start()
    labview = LabView(lab)
    for name in FLEET:
        prepare(labview, name)
    yield labview
    lab.stop()


def fortimanager_credential(fleet, token):
    """A "Knocknoc - FortiManager API" credential for the lab's FortiManager, as an AWX admin fills it in."""
    fmg = fleet.info("fmg1")
    return {"url": fmg["url"], "token": fmg["tokens"][token], "ca_cert": Path(fmg["ca_path"]).read_text(),
            "tls_server_name": fmg["tls_server_name"]}


@pytest.fixture(scope="module")
def awx_fleet(fleet, tmp_path_factory):
    """The inventory "Knocknoc - FortiGates" after an update of its source (read-only key), and the job credential
    (a key that may push through the proxy)."""
    work = tmp_path_factory.mktemp("awx-fleet")
    reader = fortimanager_credential(fleet, "kk-readonly")
    inventory = inventory_update(work, reader)
    pusher = fortimanager_credential(fleet, "kk-passiveplus")
    secrets = [reader["token"], pusher["token"]] + [t for n in FLEET for t in fleet.info(n)["tokens"].values()]
    return {"inventory": inventory, "credentials": [("fortimanager_api", pusher)], "secrets": secrets, "work": work}


def device_state(fleet, ip):
    """Per FortiGate: (policy id that admits ip from port2, ip on the kk_allow entry list), asked of the device."""
    return dict((name, (fleet.device(name).admitted(ip, srcintf="port2"), ip in fleet.device(name).entries(RESOURCE)))
                for name in FLEET)


# -- tests ----------------------------------------------------------------------------------------------------
def test_inventory_source_builds_the_fleet(awx_fleet, fleet):
    inventory = awx_fleet["inventory"]
    assert sorted(inventory["hosts"]) == FLEET
    assert sorted(inventory["groups"]["adom_root"]["hosts"]) == FLEET
    assert any(name.startswith("fortios_") for name in inventory["groups"])  # keyed_groups of the source file
    for name, variables in _plain(inventory["hosts"]).items():
        assert variables["fortimanager_target"] == "adom/root/device/%s" % name
        assert variables["fortigate_serial"] == fleet.info(name)["serial"]
        # No token, and no path of the update's credential files (gone when a job runs): the job's own
        # FORTIMANAGER_CA_PATH applies.
        assert "fortimanager_token" not in variables and "fortigate_token" not in variables
        assert "fortimanager_ca_path" not in variables, variables.get("fortimanager_ca_path")
    text = json.dumps(inventory)
    for secret in awx_fleet["secrets"]:
        assert secret not in text


def test_inventory_source_without_a_ca_in_the_credential(fleet, tmp_path):
    """A FortiManager whose certificate the execution environment trusts (here: REQUESTS_CA_BUNDLE, standing for
    its system store): the credential has no CA, so AWX injects FORTIMANAGER_CA_PATH empty."""
    reader = fortimanager_credential(fleet, "kk-readonly")
    reader.pop("ca_cert")
    inventory = inventory_update(tmp_path, reader, {"REQUESTS_CA_BUNDLE": fleet.info("fmg1")["ca_path"]})
    assert sorted(inventory["hosts"]) == FLEET
    assert all("fortimanager_ca_path" not in v for v in inventory["hosts"].values())


def test_sliced_grant_and_revoke_over_the_fleet(awx_fleet, fleet):
    inventory, work = awx_fleet["inventory"], awx_fleet["work"]
    answers = {"access_mode": "passive_plus", "access_ip": IP, "access_resource_name": RESOURCE}
    assert all(state == (0, False) for state in device_state(fleet, IP).values())
    fleet.control("POST", "/counters/reset")

    # Three slices at once, forks 25 each: on the alternate side fmg1 refuses API-key requests that overlap another one
    # with -11 (FortiManager 7.4.0 up to 7.6.1), and the modules' retries must carry every host through.
    prompts = {"slices": 3}
    jobs = launch(work / "grant", "grant_inventory", answers, inventory, awx_fleet["credentials"], **prompts)
    assert len(jobs) == prompts["slices"]
    seen = []
    for runner, private, hosts in jobs:
        assert runner.rc == 0 and runner.status == "successful", runner.stdout.read()
        # Each host of the slice has its own result for the push (the module's, censored by no_log, then the
        # role's report of what it added), and one change in the host summary; no other host ran in this job.
        assert pushed_hosts(runner) == sorted(hosts)
        assert shown(runner) == dict((h, "%s granted in %s: added ['%s'], removed [], failed on []" % (IP, RESOURCE, IP))
                                     for h in hosts)
        assert not events(runner, "runner_on_failed") and not events(runner, "runner_on_unreachable")
        assert runner.stats["changed"] == dict((h, 1) for h in hosts) and not runner.stats["failures"]
        assert_no_secret_in_artifacts(private, awx_fleet["secrets"])
        seen.extend(hosts)
    # Slices partition the inventory: every host in exactly one of them.
    assert sorted(seen) == FLEET and len(set(seen)) == len(seen)
    # Every FortiGate lists and admits the address; each was reached through FortiManager's proxy.
    assert device_state(fleet, IP) == dict((name, (1, True)) for name in FLEET)
    counters = fleet.counters()
    assert counters["fmg1"]["requests"] >= len(FLEET)

    jobs = launch(work / "revoke", "revoke_inventory", answers, inventory, awx_fleet["credentials"], **prompts)
    seen = []
    for runner, private, hosts in jobs:
        assert runner.rc == 0 and runner.status == "successful", runner.stdout.read()
        assert pushed_hosts(runner) == sorted(hosts)
        assert all(msg.startswith("%s revoked in %s: added [], removed ['%s']" % (IP, RESOURCE, IP))
                   for msg in shown(runner).values()) and sorted(shown(runner)) == sorted(hosts)
        assert_no_secret_in_artifacts(private, awx_fleet["secrets"])
        seen.extend(hosts)
    assert sorted(seen) == FLEET
    assert device_state(fleet, IP) == dict((name, (0, False)) for name in FLEET)


def test_limit_on_launch(awx_fleet, fleet):
    inventory, work = awx_fleet["inventory"], awx_fleet["work"]
    answers = {"access_mode": "passive_plus", "access_ip": LIMITED_IP, "access_resource_name": RESOURCE}
    limited = ["fgt002", "fgt005"]
    writes = dict((name, fleet.writes(name)) for name in FLEET)

    # One job (slice count 1 prompted on launch), limited to two FortiGates: only they change.
    jobs = launch(work / "limit", "grant_inventory", answers, inventory, awx_fleet["credentials"],
                  limit=":".join(limited), slices=1)
    [(runner, private, _hosts)] = jobs
    assert runner.rc == 0, runner.stdout.read()
    assert pushed_hosts(runner) == limited and runner.stats["changed"] == dict((h, 1) for h in limited)
    assert_no_secret_in_artifacts(private, awx_fleet["secrets"])
    state = device_state(fleet, LIMITED_IP)
    for name in FLEET:
        assert state[name] == ((1, True) if name in limited else (0, False)), name
        if name not in limited:
            assert fleet.writes(name) == writes[name], name  # not a single write on the others

    # Sliced with the same limit: the slice that holds both (hosts[1::3]) revokes; the slices left without a
    # host fail, as the README says (AWX then marks the workflow failed).
    jobs = launch(work / "limit-sliced", "revoke_inventory", answers, inventory, awx_fleet["credentials"],
                  limit=":".join(limited), slices=3)
    by_hosts = dict((tuple(hosts), runner) for runner, _private, hosts in jobs)
    assert by_hosts[("fgt002", "fgt005")].rc == 0
    assert pushed_hosts(by_hosts[("fgt002", "fgt005")]) == limited
    assert by_hosts[("fgt001", "fgt004")].rc != 0 and by_hosts[("fgt003", "fgt006")].rc != 0
    assert device_state(fleet, LIMITED_IP) == dict((name, (0, False)) for name in FLEET)


def test_sliced_reconcile_over_the_fleet(awx_fleet, fleet):
    """The reconcile template with its own slice count: every FortiGate's list becomes exactly the Knoc's allowlist
    (read by each host with the "Knocknoc - Server" credential): the granted address added everywhere, an address
    pushed by hand on two of them removed."""
    inventory, work = awx_fleet["inventory"], awx_fleet["work"]
    kk = fleet.info("knocknoc")
    auth = {"Authorization": "Bearer " + kk["admin_token"]}
    knocknoc = fleet.device("knocknoc")
    reply = knocknoc.post("/api/v1/knocs", headers=auth, json={
        "name": "fleet", "mode": "passive_plus", "device_url": fleet.info("fmg1")["url"], "authorization_token": "unused",
        "external_connector_name": RESOURCE, "allowlist_ip_restrictions": ["127.0.0.1/32"]})
    assert reply.status_code == 201, reply.text
    knoc = reply.json()
    reply = knocknoc.post("/api/v1/knocs/%d/grants" % knoc["knoc"]["id"], headers=auth,
                          json={"username": "alice", "ip": RECONCILED_IP})
    assert reply.status_code == 201, reply.text
    for name in ("fgt002", "fgt006"):
        reply = fleet.device(name).post("/api/v2/monitor/system/external-resource/dynamic", params={"vdom": "root"},
                                        json={"commands": [{"name": RESOURCE, "command": "add", "entries": [STRAY]}]})
        assert reply.status_code == 200, reply.text
        assert fleet.device(name).admitted(STRAY, srcintf="port2") == 1
    server = {"url": kk["url"], "ca_cert": Path(fleet.state["ca_path"]).read_text(),
              "allowlist_url": knoc["allowlist"]["url"], "allowlist_api_key": knoc["allowlist"]["api_key"]}
    secrets = awx_fleet["secrets"] + [kk["admin_token"], knoc["allowlist"]["api_key"],
                                      knoc["allowlist"]["url"].rsplit("/", 1)[1].split(".")[0]]

    jobs = launch(work / "reconcile", "reconcile_inventory",
                  {"reconcile_mode": "passive_plus", "reconcile_resource_name": RESOURCE},
                  inventory, awx_fleet["credentials"] + [("knocknoc_server", server)])
    assert len(jobs) == load(AWX / "job_templates" / "reconcile_inventory.yml")["job_slice_count"]
    seen = []
    for runner, private, hosts in jobs:
        assert runner.rc == 0 and runner.status == "successful", runner.stdout.read()
        reconciled = sorted(e["host"] for e in events(runner, "runner_on_ok", RECONCILE_TASK))
        assert reconciled == sorted(hosts)
        assert_no_secret_in_artifacts(private, secrets)
        seen.extend(hosts)
    assert sorted(seen) == FLEET and len(set(seen)) == len(seen)
    for name in FLEET:
        device = fleet.device(name)
        assert device.entries(RESOURCE) == [RECONCILED_IP], name
        assert device.admitted(RECONCILED_IP, srcintf="port2") == 1 and device.admitted(STRAY, srcintf="port2") == 0


def vaulted(text, password):
    """``text`` as an Ansible Vault encrypted string (the YAML ``!vault`` form)."""
    cipher = VaultLib([("default", VaultSecret(password.encode()))]).encrypt(text).decode()
    return "!vault |\n" + "".join("  %s\n" % line for line in cipher.splitlines())


def test_direct_fleet_with_vaulted_tokens(fleet, tmp_path):
    """The README's variant for FortiGates reached directly: a copy of the source file with connection: direct (each
    FortiGate's URL from a FortiManager meta field here, the lab's ports being random), each FortiGate's key in
    host_vars next to it, encrypted with Ansible Vault; the job has no device credential, only the Vault password.
    The sliced grant reaches every FortiGate itself (FortiManager not asked once) and no key reaches the artifacts."""
    password = "vault-" + token_hex(8)
    project = tmp_path / "project"
    source = load(AWX / "inventory_sources" / "fortimanager.yml")
    directory = (project / source["source_path"]).parent
    (directory / "host_vars").mkdir(parents=True)
    config = load(ROOT / source["source_path"])
    config.update(connection="direct", direct_url_meta_field="lab_url")
    (project / source["source_path"]).write_text(yaml.safe_dump(config))
    fmg, tokens = fleet.device("fmg1"), []
    for name in FLEET:
        connection = fleet.connection(name, "kk-passiveplus")
        reply = fmg.rpc("set", "/dvmdb/adom/root/device/%s" % name, data={"meta fields": {"lab_url": connection["url"]}})
        assert reply["status"]["code"] == 0, reply
        tokens.append(connection["token"])
        lines = ["fortigate_token: " + vaulted(connection["token"], password),
                 "fortigate_ca_path: %s\n" % connection["ca_path"]]
        if "tls_server_name" in connection:
            lines.append("fortigate_tls_server_name: %s\n" % connection["tls_server_name"])
        (directory / "host_vars" / ("%s.yml" % name)).write_text("---\n" + "".join(lines))
    inventory = inventory_update(tmp_path, fortimanager_credential(fleet, "kk-readonly"), project=project)
    assert sorted(inventory["hosts"]) == FLEET
    text = json.dumps(inventory)
    assert all(token not in text for token in tokens) and "__ansible_vault" in text  # kept encrypted, as AWX keeps it

    fleet.control("POST", "/counters/reset")
    answers = {"access_mode": "passive_plus", "access_ip": DIRECT_IP, "access_resource_name": RESOURCE}
    jobs = launch(tmp_path / "jobs", "grant_inventory", answers, inventory, [], vault_password=password)
    seen = []
    for runner, private, hosts in jobs:
        assert runner.rc == 0 and runner.status == "successful", runner.stdout.read()
        assert pushed_hosts(runner) == sorted(hosts)
        assert_no_secret_in_artifacts(private, tokens + [password])
        seen.extend(hosts)
    assert sorted(seen) == FLEET
    assert device_state(fleet, DIRECT_IP) == dict((name, (1, True)) for name in FLEET)
    counters = fleet.counters()
    assert counters["fmg1"]["requests"] == 0 and all(counters[name]["requests"] > 0 for name in FLEET), counters

    # A FortiGate that refuses its key fails alone: its slice is marked failed, the host beside it in that slice and
    # the other slice revoke; the refusing one keeps the address (a revoke fails closed, it is not reported done).
    fleet.fault("fgt003", kind="status", status=401)
    try:
        jobs = launch(tmp_path / "revoke-jobs", "revoke_inventory", answers, inventory, [], vault_password=password)
    finally:
        fleet.control("DELETE", "/devices/fgt003/faults")
    for runner, private, hosts in jobs:
        # (the push task and the role's rescue that reports why: two failed results, one host)
        failed = sorted(set(e["host"] for e in events(runner, "runner_on_failed")))
        if "fgt003" in hosts:
            assert runner.rc != 0 and runner.status == "failed" and failed == ["fgt003"]
            assert "202001" in runner.stdout.read()
        else:
            assert runner.rc == 0 and not failed
        assert pushed_hosts(runner) == sorted(h for h in hosts if h != "fgt003")
        assert_no_secret_in_artifacts(private, tokens + [password])
    assert device_state(fleet, DIRECT_IP) == dict((name, (1, True) if name == "fgt003" else (0, False)) for name in FLEET)


# -- the files of awx/ ----------------------------------------------------------------------------------------
def role_options(playbook):
    """The variables a playbook takes: the options of the roles it includes (their meta/argument_specs.yml,
    entry point main), and knocknoc_hosts when its plays use it."""
    text = playbook.read_text()
    options = set(["knocknoc_hosts"] if "knocknoc_hosts" in text else [])
    specs = {}
    for play in yaml.safe_load(text):
        for task in play.get("tasks", []):
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if include:
                role = include["name"].rsplit(".", 1)[-1]
                spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
                specs.update(spec["argument_specs"]["main"]["options"])
    options.update(specs)
    return options, specs


def plugin_options(path):
    """The options of an inventory plugin of the collection, from its DOCUMENTATION."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return set(yaml.safe_load(ast.literal_eval(node.value))["options"])
    raise AssertionError("no DOCUMENTATION in %s" % path)


@pytest.mark.parametrize("path", sorted((AWX / "job_templates").glob("*.yml")), ids=lambda p: p.name)
def test_job_template_files(path):
    template = load(path)
    assert set(template) <= JOB_TEMPLATE_PARAMETERS, set(template) - JOB_TEMPLATE_PARAMETERS
    playbook = ROOT / template["playbook"]
    assert playbook.is_file(), template["playbook"]
    options, specs = role_options(playbook)
    for name in template.get("extra_vars") or {}:
        assert name in options, name
    if template.get("job_slice_count", 1) > 1 or template.get("ask_limit_on_launch"):
        # Slices and limits only mean something for a playbook over inventory hosts.
        assert "knocknoc_hosts" in (template.get("extra_vars") or {}) and template["inventory"] != "localhost"
    if not template.get("survey_enabled"):
        assert not template.get("survey_spec")
        return
    assert template["survey_spec"]["name"] and template["survey_spec"]["description"] is not None
    variables = [q["variable"] for q in template["survey_spec"]["spec"]]
    assert len(variables) == len(set(variables))
    for question in template["survey_spec"]["spec"]:
        assert question["type"] in SURVEY_TYPES and question["question_name"], question
        assert question["variable"] in specs, "%s: %s is not an option of the role" % (path.name, question["variable"])
        spec = specs[question["variable"]]
        if question["type"] == "multiplechoice":
            assert question.get("default", question["choices"][0]) in question["choices"]
            if spec.get("choices"):
                assert set(question["choices"]) <= set(spec["choices"]), question["variable"]
            if spec.get("type") == "bool":
                assert set(question["choices"]) <= {"true", "false"}, question["variable"]
    if template["inventory"] != "localhost":
        # Over an inventory, the connection and the FortiManager targets are each host's: a survey answer (an
        # extra var) would override them on every host.
        for variable in variables:
            assert not variable.endswith(("_use_fortimanager", "_device_targets", "_fortigate", "_fortigates",
                                          "_fortimanager")), variable


@pytest.mark.parametrize("path", sorted((AWX / "inventory_sources").glob("*.yml")), ids=lambda p: p.name)
def test_inventory_source_files(path):
    source = load(path)
    assert set(source) <= INVENTORY_SOURCE_PARAMETERS, set(source) - INVENTORY_SOURCE_PARAMETERS
    inventories = dict((load(p)["name"], load(p)) for p in (AWX / "inventories").glob("*.yml"))
    assert source["inventory"] in inventories
    for inventory in inventories.values():
        assert set(inventory) <= INVENTORY_PARAMETERS, set(inventory) - INVENTORY_PARAMETERS
    assert source["source"] == "scm"
    config = load(ROOT / source["source_path"])
    plugin = config["plugin"]
    assert plugin.startswith("knocknoc.fortinet.")
    code = ROOT / "plugins" / "inventory" / ("%s.py" % plugin.rsplit(".", 1)[1])
    assert set(config) <= plugin_options(code) | CONSTRUCTED_OPTIONS, set(config) - plugin_options(code)
    # The plugin takes only files whose name ends in <plugin>.yml; no secret in the file (the credential injects it).
    assert source["source_path"].endswith("%s.yml" % plugin.rsplit(".", 1)[1])
    assert "token" not in config and "url" not in config
    # The fleet templates run over this inventory.
    fleet_templates = [load(p) for p in (AWX / "job_templates").glob("*.yml")
                       if load(p)["inventory"] == source["inventory"]]
    playbooks = sorted(t["playbook"] for t in fleet_templates)
    assert playbooks == ["playbooks/grant.yml", "playbooks/reconcile.yml", "playbooks/revoke.yml"]
