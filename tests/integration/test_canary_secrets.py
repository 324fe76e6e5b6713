"""No secret in any output: canary values for every secret a module takes, through ``ansible-playbook -vvvv``
and through ansible-runner (the AWX path), failures included.

Every module runs a working task and the ways a task fails: an unknown option and a wrongly typed one (Ansible
refuses those before the module runs, and may echo the arguments), input the module refuses (credentials in a
URL) and a device error (a token the device does not accept). The secrets are the lab's real tokens and keys,
the allowlist URL's path token, and canaries: passwords in URL credentials (top level and nested in ``data``),
``secret_data`` values, the agent token, a wrong token, a wrong allowlist key and a made-up allowlist token.
Each is counted in stdout, stderr, the Ansible log (ANSIBLE_LOG_PATH) and every file ansible-runner writes:
all counts must be zero. The arguments are echoed back (``invocation``) as on ansible-core < 2.20, where
that is the default (INJECT_INVOCATION asks for it on 2.21+).
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import ansible_runner
import yaml

ROOT = Path(__file__).resolve().parents[2]
H = {"vdom": "root"}
USER_IP = "198.51.100.7"


def canary(kind):
    return "cnry-%s-%s" % (kind, uuid.uuid4().hex[:12])


def lab_setup(labview):
    """A Passive+ knoc with its allowlist; on fgt1 a push resource, a group, a policy; returns the knoc."""
    kk = labview.info("knocknoc")
    reply = labview.device("knocknoc").post("/api/v1/knocs", json={
        "name": "edge", "mode": "passive_plus", "device_url": labview.info("fgt1")["url"],
        "authorization_token": "set-by-the-lab", "external_connector_name": "kk_push",
        "allowlist_ip_restrictions": ["127.0.0.1/32"]}, headers={"Authorization": "Bearer " + kk["admin_token"]})
    assert reply.status_code == 201, reply.text
    fgt = labview.device("fgt1")
    for path, body in (("system/external-resource", {"name": "kk_push", "type": "address", "update-method": "push"}),
                       ("firewall/address", {"name": "srv", "subnet": "10.0.0.10/32"}),
                       ("firewall/addrgrp", {"name": "kk_group", "member": []}),
                       ("firewall/policy", {"policyid": 0, "name": "kk", "srcintf": [{"name": "port1"}],
                                            "dstintf": [{"name": "port2"}], "srcaddr": [{"name": "kk_group"}],
                                            "dstaddr": [{"name": "srv"}], "action": "accept",
                                            "service": [{"name": "HTTPS"}], "schedule": "always"})):
        assert fgt.post("/api/v2/cmdb/" + path, params=H, json=body).status_code == 200
    return reply.json()


def secrets_and_vars(labview, knoc):
    """(secrets: name -> value, the play's variables). The variables hold the secrets; they are loaded from a
    vars file, so no secret is on a command line or in runner's extra vars."""
    fgt, fmg, kk = labview.info("fgt1"), labview.info("fmg1"), labview.info("knocknoc")
    allowlist_url = knoc["allowlist"]["url"]
    secrets = {
        "fortigate token": fgt["admin_token"],
        "fortimanager token": fmg["admin_token"],
        "knocknoc token": kk["admin_token"],
        "allowlist key": knoc["allowlist"]["api_key"],
        "allowlist URL token": allowlist_url.rsplit("/", 1)[1].split(".")[0],
        "made-up allowlist URL token": canary("alltok"),
        "wrong token": canary("badtoken"),
        "wrong allowlist key": canary("badkey"),
        "URL password (url)": canary("urlpw"),
        "URL password (unknown option)": canary("unknownpw"),
        "URL password (wrong type)": canary("typepw"),
        "URL password (nested data)": canary("nestedpw"),
        "URL password (nested data, refused)": canary("nestedbad"),
        "URL password (resource)": canary("respw"),
        "URL password (device_url)": canary("devpw"),
        "secret_data value": canary("secretdata"),
        "agent token": canary("agenttoken"),
        "authorization token": canary("authtoken"),
    }
    host = allowlist_url.split("/")[2]
    variables = {
        "s": secrets,
        "fgt": {"url": fgt["url"], "ca_path": fgt["ca_path"], "tls_server_name": fgt["tls_server_name"], "retries": 0},
        "fmg": {"url": fmg["url"], "ca_path": fmg["ca_path"], "tls_server_name": fmg["serial"], "retries": 0},
        "kk": {"url": kk["url"], "ca_path": labview.state["ca_path"], "retries": 0},
        "allowlist_url": allowlist_url,
        "made_up_allowlist_url": allowlist_url.replace(secrets["allowlist URL token"], secrets["made-up allowlist URL token"]),
        "fgt_host": fgt["url"].split("/")[2],
        "fmg_host": fmg["url"].split("/")[2],
        "kk_host": host,
    }
    return secrets, variables


def task(name, module, args, expect="ok"):
    return {"name": name, "knocknoc.fortinet." + module: args, "ignore_errors": True, "vars": {"expect": expect}}


def wrong_type(module, base):
    """A wrongly typed option alone (with an unknown option too, Ansible reports only the unknown one)."""
    return task("%s wrong type" % module, module, dict(base, timeout="https://admin:{{ s['URL password (wrong type)'] }}@h.example"),
                "timeout")


def failure_tasks(module, base, family, token_key="token"):
    """The ways a task fails, each carrying a secret that must not come back: Ansible's own refusal (an unknown
    option and a wrongly typed one, in one task), credentials in the connection URL, a wrong token."""
    return [
        task("%s unknown option, wrong type" % module, module, dict(
            base, canary_option="https://admin:{{ s['URL password (unknown option)'] }}@h.example",
            timeout="https://admin:{{ s['URL password (wrong type)'] }}@h.example"), "Unsupported parameters|timeout"),
        task("%s credentials in url" % module, module,
             dict(base, url="https://admin:{{ s['URL password (url)'] }}@{{ %s_host }}" % family), "credentials"),
    ] + ([task("%s wrong token" % module, module, dict(base, **{token_key: "{{ s['wrong token'] }}"}),
               "HTTP 401|Authentication failed")]
         if token_key else [])


def playbook(secrets):
    fgt = {"url": "{{ fgt.url }}", "token": "{{ s['fortigate token'] }}", "ca_path": "{{ fgt.ca_path }}",
           "tls_server_name": "{{ fgt.tls_server_name }}", "retries": 0}
    fmg = {"url": "{{ fmg.url }}", "token": "{{ s['fortimanager token'] }}", "ca_path": "{{ fmg.ca_path }}",
           "tls_server_name": "{{ fmg.tls_server_name }}", "retries": 0}
    kk = {"url": "{{ kk.url }}", "token": "{{ s['knocknoc token'] }}", "ca_path": "{{ kk.ca_path }}", "retries": 0}
    nested = "mirror https://mirror:{{ s['URL password (nested data)'] }}@mirror.example/feed"
    tasks = []

    def module(name, base, family, working, token_key="token", extra=()):
        tasks.extend(working)
        tasks.extend(extra)
        tasks.extend(failure_tasks(name, base, family, token_key))

    base = dict(fgt, name="kk_push")
    module("fortigate_dynamic_entry", base, "fgt", [task("dynamic entry", "fortigate_dynamic_entry", dict(base, entries=[USER_IP]))],
           extra=[wrong_type("fortigate_dynamic_entry", base)])
    base = dict(fgt, address_group="kk_group", addresses=[USER_IP], user="alice")
    module("fortigate_address_grant", base, "fgt", [task("address grant", "fortigate_address_grant", base)])
    base = dict(fgt, source=USER_IP, source_interface="port1", destination="10.0.0.10")
    module("fortigate_policy_lookup_info", base, "fgt", [task("policy lookup", "fortigate_policy_lookup_info", base)])
    base = dict(fgt, path="firewall/address", name="kk_canary")
    module("fortigate_object", base, "fgt", [
        task("fortigate object", "fortigate_object", dict(base, data={"subnet": "192.0.2.1/32", "comment": nested}))], extra=[
        task("fortigate object refused data", "fortigate_object", dict(base, data={
            "subnet": "https://u:{{ s['URL password (nested data, refused)'] }}@h.example"}), "rejected"),
        task("fortigate object secret_data", "fortigate_object", dict(fgt, path="system/external-resource", name="kk_secret", data={
            "type": "address", "resource": "{{ allowlist_url }}", "username": "apikey"},
            secret_data={"password": "{{ s['secret_data value'] }}"})),
        task("fortigate object secret_data wrong type", "fortigate_object", dict(base, secret_data="{{ s['secret_data value'] }}"),
             "secret_data"),
    ])
    base = dict(fgt, path="system/external-resource", name="kk_secret")
    module("fortigate_object_info", base, "fgt", [task("fortigate object info", "fortigate_object_info", base)])
    base = dict(fgt, name="kk_feed", resource="{{ allowlist_url }}", username="apikey", password="{{ s['allowlist key'] }}")
    module("fortinet_external_resource", base, "fgt", [task("external resource", "fortinet_external_resource", base)], extra=[
        task("external resource credentials in resource", "fortinet_external_resource",
             dict(base, resource="https://apikey:{{ s['URL password (resource)'] }}@{{ kk_host }}/api/v1/allowlists/1/x.txt"),
             "credentials")])
    base = dict(fgt, mode="passive_plus", resource_name="kk_feed", allowlist_url="{{ allowlist_url }}", knoc="edge",
                api_user="kk-passiveplus", agent_address="127.0.0.1", agent_token="{{ s['agent token'] }}",
                knocknoc_url="{{ kk.url }}", knocknoc_token="{{ s['knocknoc token'] }}", knocknoc_ca_path="{{ kk.ca_path }}")
    module("fortinet_preflight", base, "fgt", [task("preflight", "fortinet_preflight", base, "any")], extra=[
        task("preflight made-up allowlist URL", "fortinet_preflight",
             dict(base, allowlist_url="{{ made_up_allowlist_url }}", knoc=None), "any")])
    # No HTTP request (a TLS handshake only): the token is accepted and not used, so no wrong-token case.
    module("fortinet_certificate_info", fgt, "fgt", [task("certificate info", "fortinet_certificate_info", fgt)], token_key=None)
    base = dict(fmg, path="/pm/config/adom/{adom}/obj/firewall/address", name="kk_canary")
    module("fortimanager_object", base, "fmg", [
        task("fortimanager object", "fortimanager_object", dict(base, data={"subnet": "192.0.2.0/24", "comment": nested}))], extra=[
        task("fortimanager object refused data", "fortimanager_object", dict(base, data={
            "subnet": "https://u:{{ s['URL password (nested data, refused)'] }}@h.example"}), "any"),
        task("fortimanager object secret_data", "fortimanager_object", dict(
            fmg, path="/cli/global/system/admin/user", name="kk-canary", data={"profileid": "Restricted_User", "rpc-permit": "read"},
            secret_data={"password": "{{ s['secret_data value'] }}"})),
    ])
    base = dict(fmg, path="/pm/config/adom/{adom}/obj/firewall/address", name="kk_canary")
    module("fortimanager_object_info", base, "fmg", [task("fortimanager object info", "fortimanager_object_info", base)])
    base = dict(fmg, admin="alice", address=USER_IP)
    module("fortimanager_trusted_host", base, "fmg", [task("trusted host", "fortimanager_trusted_host", base)],
           extra=[wrong_type("fortimanager_trusted_host", base)])
    base = dict(kk, knoc="edge", username="alice", ip=USER_IP)
    module("knocknoc_grant", base, "kk", [task("knocknoc grant", "knocknoc_grant", base)], extra=[wrong_type("knocknoc_grant", base)])
    base = dict(kk, knoc="edge")
    module("knocknoc_grant_info", base, "kk", [task("knocknoc grant info", "knocknoc_grant_info", base)])
    base = dict(kk, name="edge", mode="passive_plus", device_url="{{ fgt.url }}", external_connector_name="kk_push",
                allowlist_ip_restrictions=["127.0.0.1/32"], authorization_token="{{ s['authorization token'] }}",
                update_token="always", allowlist_key="ensure", allowlist_api_key="{{ s['allowlist key'] }}")
    module("knocknoc_knoc", base, "kk", [task("knoc", "knocknoc_knoc", base)], extra=[
        task("knoc credentials in device_url", "knocknoc_knoc",
             dict(base, device_url="https://admin:{{ s['URL password (device_url)'] }}@{{ fgt_host }}"), "credentials")])
    base = dict(kk, url="{{ allowlist_url }}", api_key="{{ s['allowlist key'] }}")
    module("knocknoc_allowlist_info", base, "kk", [task("allowlist", "knocknoc_allowlist_info", base)], token_key="api_key", extra=[
        task("allowlist made-up URL", "knocknoc_allowlist_info", dict(base, url="{{ made_up_allowlist_url }}"), "Allowlist not found"),
        task("allowlist over http", "knocknoc_allowlist_info", dict(base, url="{{ allowlist_url | replace('https://', 'http://') }}"),
             "https://"),
        task("allowlist wrong key", "knocknoc_allowlist_info", dict(base, api_key="{{ s['wrong allowlist key'] }}"), "HTTP 401"),
    ])
    for item in tasks:
        # A grant's failed push is the agent's non-fatal 202100 (a warning), and preflight reports rather than fails.
        if item["name"] in ("fortigate_dynamic_entry wrong token", "fortinet_preflight wrong token"):
            item["vars"]["expect"] = "any"
    # the url of knocknoc_allowlist_info is the allowlist itself
    for item in tasks:
        args = item.get("knocknoc.fortinet.knocknoc_allowlist_info")
        if args is not None and item["name"].endswith("credentials in url"):
            args["url"] = "https://apikey:{{ s['URL password (url)'] }}@{{ kk_host }}/api/v1/allowlists/1/x.txt"
    for item in tasks:
        for args in (v for k, v in item.items() if k.startswith("knocknoc.fortinet.")):
            for key in [k for k, v in args.items() if v is None]:
                del args[key]
    return [{"hosts": "localhost", "gather_facts": False, "vars_files": ["secrets.yml"], "tasks": tasks}]


def environment(tmp, name):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_LOG_PATH": str(tmp / ("%s.log" % name)),
        "ANSIBLE_INJECT_INVOCATION": "true",  # ansible-core 2.21+: echo the arguments, as older cores always do
        "ANSIBLE_LOCAL_TEMP": str(tmp / ("%s-local" % name)),
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "PATH": "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
    })
    return env


def count(texts, secrets):
    """{(secret name, source): occurrences} for every occurrence found."""
    found = {}
    for source, text in texts.items():
        for name, value in secrets.items():
            n = text.count(value)
            if n:
                found[(name, source)] = n
    return found


def runner_outcomes(private):
    """task name -> (failed, result) from ansible-runner's job events."""
    outcomes = {}
    for path in sorted((private / "artifacts").rglob("job_events/*.json")):
        event = json.loads(path.read_text())
        if event.get("event") in ("runner_on_ok", "runner_on_failed"):
            data = event["event_data"]
            outcomes[data["task"]] = (event["event"] == "runner_on_failed", data.get("res") or {})
    return outcomes


def test_no_canary_in_any_output(labview, tmp_path):
    knoc = lab_setup(labview)
    secrets, variables = secrets_and_vars(labview, knoc)
    plays = playbook(secrets)
    tasks = plays[0]["tasks"]
    modules = set(k.split(".")[-1] for t in tasks for k in t if k.startswith("knocknoc.fortinet."))
    assert modules == set(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")), "every module is exercised"
    only = os.environ.get("KNOCKNOC_CANARY_ONLY")  # a comma-separated subset of modules, for a quicker look
    if only:
        tasks[:] = [t for t in tasks if any(k.split(".")[-1] in only.split(",") for k in t if k.startswith("knocknoc."))]

    book_dir = tmp_path / "project"
    book_dir.mkdir()
    (book_dir / "secrets.yml").write_text(yaml.safe_dump(variables))
    (book_dir / "canary.yml").write_text(yaml.safe_dump(plays, sort_keys=False))

    # 1. ansible-playbook -vvvv, the default callback, Ansible's log.
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-vvvv", "canary.yml", "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable],
                          capture_output=True, text=True, env=environment(tmp_path, "playbook"), cwd=str(book_dir),
                          timeout=900, check=False)
    assert "PLAY RECAP" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    texts = {"ansible-playbook stdout": proc.stdout, "ansible-playbook stderr": proc.stderr,
             "ansible-playbook log": (tmp_path / "playbook.log").read_text()}

    # 2. ansible-runner, as AWX runs a job: -vvvv, every artifact file (events, stdout, command line). Here the
    # modules run as AnsiballZ processes, the way they run on a remote host; ansible-playbook above ran them in
    # Ansible's worker processes (the collection's action plugins, connection local): both paths are covered.
    private = tmp_path / "runner"
    private.mkdir()
    env = environment(tmp_path, "runner")
    env["KNOCKNOC_FORTINET_IN_PROCESS"] = "false"
    result = ansible_runner.run(
        private_data_dir=str(private), project_dir=str(book_dir), playbook="canary.yml", verbosity=4,
        inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}},
        envvars={k: v for k, v in env.items() if k.startswith(("ANSIBLE_", "KNOCKNOC_FORTINET_")) or k == "PATH"}, quiet=True,
        suppress_env_files=True)
    assert result.status == "successful", result.stdout.read()[-3000:]
    texts["ansible-runner log"] = (tmp_path / "runner.log").read_text()
    artifacts = [p for p in (private / "artifacts").rglob("*") if p.is_file()]
    assert len(artifacts) > len(tasks)  # one event file per task at least
    for path in artifacts:
        texts["runner %s" % path.relative_to(private)] = path.read_text(errors="replace")

    # Every task did what it was meant to: the failures failed for the intended reason.
    outcomes = runner_outcomes(private)
    missing = set(t["name"] for t in tasks) - set(outcomes)
    wrong = []
    for item in tasks:
        failed, res = outcomes.get(item["name"], (None, {}))
        expect = item["vars"]["expect"]
        msg = str(res.get("msg", ""))
        if expect == "ok" and failed or expect not in ("ok", "any") and (
                not failed or not any(word in msg for word in expect.split("|"))):
            wrong.append("%s: expected %s, got %s %s" % (item["name"], expect, "failed" if failed else "ok", msg[:300]))

    found = count(texts, secrets)
    runs = 2 * len(tasks)
    print("canary: %d module runs (%d tasks x ansible-playbook and ansible-runner), %d secrets, %d sources, %d occurrences"
          % (runs, len(tasks), len(secrets), len(texts), sum(found.values())))
    assert not found, "\n".join("%s in %s: %d" % (name, source, n) for (name, source), n in sorted(found.items()))
    assert not missing, missing
    assert not wrong, "\n".join(wrong)
