"""The AWX path, the way AWX runs it: ansible-runner with the environment that the shipped credential
types inject (their Jinja injectors rendered with the lab's values, the CA as a file injector) and the
survey answers of the shipped job templates as extra vars. Then the effect is checked on the lab, and the
whole artifacts tree is searched for secrets.
"""

import json
import os
import sys
from pathlib import Path

import ansible_runner
import jinja2.sandbox
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
H = {"vdom": "root"}
USER_IP, STRAY = "198.51.100.7", "203.0.113.66"


# -- what AWX does with the shipped files -------------------------------------------------------------------
def load(path):
    return yaml.safe_load(path.read_text())


def inject(kind, inputs, files_dir):
    """Render a credential type's injectors as AWX does: ``file`` templates are written to files whose paths
    are ``tower.filename.<name>``, then ``env`` templates are rendered with the inputs and those paths."""
    credential_type = load(AWX / "credential_types" / ("%s.yml" % kind))
    fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
    for required in credential_type["inputs"].get("required", []):
        assert inputs.get(required), "%s needs %s" % (kind, required)
    assert set(inputs) <= set(fields), set(inputs) - set(fields)
    namespace = {}
    for name, field in fields.items():
        default = field.get("default", False if field.get("type") == "boolean" else "")
        namespace[name] = inputs.get(name, default)
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    filenames = {}
    for key, template in credential_type["injectors"].get("file", {}).items():
        name = key.split(".", 1)[1]
        path = files_dir / ("%s-%s" % (kind, name))
        path.write_text(env.from_string(template).render(**namespace))
        path.chmod(0o600)
        filenames[name] = str(path)
    namespace["tower"] = {"filename": filenames}
    return {var: env.from_string(template).render(**namespace)
            for var, template in credential_type["injectors"]["env"].items()}


def survey_answers(template_name, answers):
    """Extra vars from the survey of the job template of playbooks/<template_name>.yml."""
    template = load(AWX / "job_templates" / ("%s.yml" % template_name))
    assert template["survey_enabled"] and template["playbook"] == "playbooks/%s.yml" % template_name
    return launch_vars(template, answers)


def launch_vars(template, answers):
    """The extra vars of a launch: the template's extra_vars, then the survey's answers (defaults for the questions
    left unanswered, nothing for optional questions left empty), validated as AWX validates them."""
    extra = dict(template.get("extra_vars") or {})
    spec = template["survey_spec"]["spec"]
    assert set(answers) <= set(q["variable"] for q in spec), set(answers) - set(q["variable"] for q in spec)
    for question in spec:
        value = answers.get(question["variable"], question.get("default", ""))
        if value in ("", None):
            assert not question["required"], "%s is required" % question["variable"]
            continue
        if question["type"] == "multiplechoice":
            assert value in question["choices"], (question["variable"], value)
        if question["type"] == "text":
            assert question.get("min", 0) <= len(value) <= question.get("max", 1024)
        extra[question["variable"]] = value
    return extra


@pytest.fixture
def awx(tmp_path, labview):
    """Credentials as an AWX admin would fill them in for the lab, rendered into the job environment."""
    files = tmp_path / "credential-files"
    files.mkdir()
    ca = Path(labview.state["ca_path"]).read_text()
    fgt, kk = labview.info("fgt1"), labview.info("knocknoc")
    knoc = labview.device("knocknoc").post("/api/v1/knocs", json={
        "name": "edge", "mode": "passive_plus", "device_url": fgt["url"], "authorization_token": "unused",
        "external_connector_name": "kk_allow", "allowlist_ip_restrictions": ["127.0.0.1/32"]},
        headers={"Authorization": "Bearer " + kk["admin_token"]}).json()
    env = {}
    env.update(inject("fortigate_api", {"url": fgt["url"], "token": fgt["tokens"]["kk-passiveplus"],
                                        "ca_cert": Path(fgt["ca_path"]).read_text(),
                                        "tls_server_name": fgt["tls_server_name"]}, files))
    env.update(inject("knocknoc_server", {"url": kk["url"], "token": kk["admin_token"], "ca_cert": ca,
                                          "allowlist_url": knoc["allowlist"]["url"],
                                          "allowlist_api_key": knoc["allowlist"]["api_key"]}, files))
    secrets = [fgt["tokens"]["kk-passiveplus"], kk["admin_token"], knoc["allowlist"]["api_key"],
               knoc["allowlist"]["url"].rsplit("/", 1)[1].split(".")[0]]
    fortigate = labview.device("fgt1")
    for path, body in (("system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "push"}),
                       ("firewall/address", {"name": "srv", "subnet": "10.0.0.10/32"}),
                       ("firewall/policy", {"policyid": 0, "name": "kk", "srcintf": [{"name": "port2"}],
                                            "dstintf": [{"name": "port1"}], "srcaddr": [{"name": "kk_allow"}],
                                            "dstaddr": [{"name": "srv"}], "action": "accept",
                                            "service": [{"name": "HTTPS"}], "schedule": "always"})):
        assert fortigate.post("/api/v2/cmdb/" + path, params=H, json=body).status_code == 200
    return {"env": env, "secrets": secrets, "knoc": knoc, "tmp": tmp_path}


def run_job(awx, template, answers, env_extra=None):
    awx["jobs"] = awx.get("jobs", 0) + 1
    private = awx["tmp"] / ("job-%d-%s" % (awx["jobs"], template))
    private.mkdir()
    env = dict(awx["env"])
    env.update(env_extra or {})
    # What the execution environment provides: ansible, the collection, no colour.
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"), "ANSIBLE_NOCOLOR": "1",
                "PATH": "%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")),
                "ANSIBLE_LOCAL_TEMP": str(awx["tmp"] / "ansible-local")})
    result = ansible_runner.run(
        private_data_dir=str(private), playbook=str(ROOT / "playbooks" / ("%s.yml" % template)),
        inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}}},
        envvars=env, extravars=survey_answers(template, answers), quiet=True, suppress_env_files=True)
    return result, private


def assert_no_secret_in_artifacts(private, secrets):
    checked = 0
    for path in (private / "artifacts").rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.name == "command":
            # ansible-runner's own record of the process it started, environment included (mode 0600,
            # never shown or sent anywhere): the secrets AWX injected are there by construction. Its
            # command line and working directory must still hold none.
            record = json.loads(text)
            assert set(record) == {"command", "cwd", "env"}
            assert oct(path.stat().st_mode & 0o777) == "0o600"
            text = json.dumps({k: v for k, v in record.items() if k != "env"})
        for secret in secrets:
            assert secret not in text, "secret found in %s" % path.relative_to(private)
        checked += 1
    assert checked > 5  # job events, stdout, status, rc, command...
    assert list((private / "artifacts").rglob("job_events/*.json"))


def test_grant_reconcile_and_preflight_jobs(labview, awx):
    fgt = labview.device("fgt1")
    result, private = run_job(awx, "grant", {"access_mode": "passive_plus", "access_ip": USER_IP,
                                             "access_user": "alice", "access_resource_name": "kk_allow",
                                             "access_knoc": "edge"})
    assert result.rc == 0, result.stdout.read()
    assert result.status == "successful"
    assert fgt.admitted(USER_IP, srcintf="port2") == 1
    allowlist = labview.device("knocknoc").session.get(
        awx["knoc"]["allowlist"]["url"], auth=("apikey", awx["knoc"]["allowlist"]["api_key"])).text.split()
    assert allowlist == [USER_IP]
    assert_no_secret_in_artifacts(private, awx["secrets"])

    # Drift: an address pushed by hand; the reconcile job (allowlist from the Knocknoc credential) removes it.
    fgt.post("/api/v2/monitor/system/external-resource/dynamic", params=H,
             json={"commands": [{"name": "kk_allow", "command": "add", "entries": [STRAY]}]})
    assert fgt.admitted(STRAY, srcintf="port2") == 1
    result, private = run_job(awx, "reconcile", {"reconcile_mode": "passive_plus", "reconcile_resource_name": "kk_allow"})
    assert result.rc == 0, result.stdout.read()
    assert fgt.entries("kk_allow") == [USER_IP]
    assert fgt.admitted(STRAY, srcintf="port2") == 0
    assert_no_secret_in_artifacts(private, awx["secrets"])

    # Preflight job with a test grant: the table is in the job output, the test IP admitted then revoked.
    result, private = run_job(awx, "preflight", {"preflight_mode": "passive_plus", "preflight_resource_name": "kk_allow",
                                                 "preflight_api_user": "kk-passiveplus",
                                                 "preflight_agent_address": "127.0.0.1", "preflight_knoc": "edge",
                                                 "preflight_test_ip": "192.0.2.77",
                                                 "preflight_test_destination": "10.0.0.10"})
    stdout = result.stdout.read()
    # The agent's key cannot read policies: the job fails on exactly that, and says how to fix it.
    assert result.rc != 0
    assert "FAIL  Firewall policy references the external resource" in stdout
    assert "PASS  External resource name exactly matches the External Feed Name" in stdout
    assert_no_secret_in_artifacts(private, awx["secrets"])

    # With a key that may read the configuration and push (here the lab's super admin), everything passes.
    readonly = labview.info("fgt1")["tokens"]["lab-admin"]
    result, private = run_job(awx, "preflight", {"preflight_mode": "passive_plus", "preflight_resource_name": "kk_allow",
                                                 "preflight_api_user": "kk-passiveplus",
                                                 "preflight_agent_address": "127.0.0.1", "preflight_knoc": "edge",
                                                 "preflight_test_ip": "192.0.2.77",
                                                 "preflight_test_destination": "10.0.0.10"},
                              env_extra={"FORTIGATE_TOKEN": readonly})
    stdout = result.stdout.read()
    assert result.rc == 0, stdout
    assert "PASS  Test grant" in stdout and "192.0.2.77 admitted by policy 1" in stdout
    assert fgt.admitted("192.0.2.77", srcintf="port2") == 0
    assert_no_secret_in_artifacts(private, awx["secrets"] + [readonly])
