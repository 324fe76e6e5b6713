"""fortigate_address_grant under concurrency, as AWX runs it: many ansible-playbook processes at once.

Each process has its own tiny playbook that grants its own IP into one shared group, waits at a
barrier until the test has checked that every IP is a member, then revokes it: all grants run at
once, then all revokes. (One process per job for both steps halves the ansible-playbook start-ups,
which is what costs time on two CPUs; the barrier is a ``pipe`` lookup, so no extra module runs.)
The member child-table writes must not undo each other. Shared-IP holders (one object, two users)
are checked with module processes started at the same moment.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PLAYBOOK = str(Path(PYTHON).with_name("ansible-playbook"))
GROUP = "kk_users"
JOBS = 20
CMDB = "/api/v2/cmdb/"

PLAY = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: grant
      knocknoc.fortinet.fortigate_address_grant:
        address_group: {group}
        addresses: ["{ip}"]
        user: "{user}"
    - name: barrier
      ansible.builtin.set_fact:
        released: "{{{{ lookup('ansible.builtin.pipe', 'touch granted; while [ ! -e ../release ]; do sleep 0.2; done; echo yes') }}}}"
    - name: revoke
      knocknoc.fortinet.fortigate_address_grant:
        address_group: {group}
        addresses: ["{ip}"]
        user: "{user}"
        state: absent
"""


def ok(reply):
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.fixture
def fgt(labview):
    device = labview.device("fgt1")
    ok(device.post(CMDB + "firewall/addrgrp", json={"name": GROUP, "member": []}))
    ok(device.post(CMDB + "firewall/policy", json={
        "policyid": 0, "name": "kk-in", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
        "srcaddr": [{"name": GROUP}], "dstaddr": [{"name": "all"}], "service": [{"name": "HTTPS"}],
        "schedule": "always", "action": "accept"}))
    return device


def connection_env(labview):
    """The connection as an AWX credential injects it: environment variables (no token on a command line)."""
    info = labview.info("fgt1")
    env = dict(os.environ)
    env.update({
        "FORTIGATE_URL": info["url"],
        "FORTIGATE_TOKEN": info["tokens"]["kk-active"],
        "FORTIGATE_CA_PATH": info["ca_path"],
        "FORTIGATE_TLS_SERVER_NAME": info["tls_server_name"],
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_FORKS": "1",
        "ANSIBLE_PIPELINING": "1",  # one python exec per module, no temp-file shell round trips
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
    })
    return env


def members(fgt):
    return sorted(m["name"] for m in fgt.cmdb("firewall/addrgrp", GROUP)["member"])


def owned_objects(fgt):
    return sorted(o["name"] for o in fgt.cmdb("firewall/address") if o["name"].startswith("kk_"))


def start_jobs(base, env, jobs):
    procs = []
    for n, (ip, user) in enumerate(jobs):
        work = base / ("job-%02d" % n)
        work.mkdir(parents=True)
        (work / "play.yml").write_text(PLAY.format(group=GROUP, ip=ip, user=user))
        job_env = dict(env, ANSIBLE_LOCAL_TEMP=str(work / "tmp"), ANSIBLE_REMOTE_TEMP=str(work / "rtmp"))
        cmd = [PLAYBOOK, str(work / "play.yml"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + PYTHON]
        procs.append((work, subprocess.Popen(cmd, cwd=str(work), env=job_env, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, text=True)))
    return procs


def wait_granted(procs, timeout=120):
    deadline = time.monotonic() + timeout
    while not all((work / "granted").exists() for work, _proc in procs):
        for work, proc in procs:
            if proc.poll() is not None:  # a job ended before the barrier: its grant failed
                raise AssertionError(proc.stdout.read()[-3000:])
        assert time.monotonic() < deadline, "the grants did not finish in time"
        time.sleep(0.1)


def finish(procs):
    results = []
    for _work, proc in procs:
        out = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, out[-3000:]
        tasks = json.loads(out[out.index("{"):])["plays"][0]["tasks"]
        results.append(dict((t["task"]["name"], t["hosts"]["localhost"]) for t in tasks))
    return results


def test_twenty_playbooks_grant_and_revoke_at_once(labview, fgt, tmp_path):
    env = connection_env(labview)
    token = env["FORTIGATE_TOKEN"]
    jobs = [("198.51.100.%d" % (n + 10), "user%02d" % n) for n in range(JOBS)]
    names = sorted("kk_" + ip for ip, _user in jobs)
    for round_ in (1, 2):  # twice on the same group: it holds repeatedly
        base = tmp_path / ("round%d" % round_)
        procs = start_jobs(base, env, jobs)
        try:
            wait_granted(procs)
            # every grant has finished (and verified itself): none was undone by another
            assert members(fgt) == names, "a concurrent grant was lost"
            assert owned_objects(fgt) == names
            for ip, user in jobs:
                assert fgt.cmdb("firewall/address", "kk_" + ip)["comment"] == "knocknoc:" + user
            assert fgt.admitted(jobs[0][0]) != 0 and fgt.admitted(jobs[-1][0]) != 0
        finally:
            (base / "release").touch()  # all revokes start at once
        results = finish(procs)
        assert all(r["grant"]["changed"] is True for r in results)
        assert sorted(r["grant"]["added"][0] for r in results) == names
        assert all(r["revoke"]["changed"] is True for r in results)
        assert sorted(r["revoke"]["removed"][0] for r in results) == names
        assert members(fgt) == []
        assert owned_objects(fgt) == []
        assert fgt.admitted(jobs[0][0]) == 0
        assert all(token not in json.dumps(r) for r in results)


def run_module_processes(env, calls):
    """Run the module file directly (as Ansible's local connection would), several at the same moment."""
    module = str(ROOT / "plugins" / "modules" / "fortigate_address_grant.py")
    procs = []
    for args in calls:
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args})
        proc = subprocess.Popen([PYTHON, module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        procs.append((proc, payload))
    results = []
    for proc, payload in procs:
        out, err = proc.communicate(payload, timeout=60)
        assert proc.returncode == 0, out + err
        results.append(json.loads(out))
    return results


def test_shared_ip_concurrent_holders(labview, fgt, tmp_path):
    env = connection_env(labview)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / ".cache" / "collections"), env.get("PYTHONPATH", "")])
    ip = "192.0.2.77"
    name = "kk_" + ip

    def call(user, state="present"):
        return {"address_group": GROUP, "addresses": [ip], "user": user, "state": state}

    for _round in range(3):
        # two users behind one NAT log in at the same moment: both must end up holding the IP
        results = run_module_processes(env, [call("alice"), call("bob")])
        assert all(not r.get("failed") for r in results), results
        assert fgt.cmdb("firewall/address", name)["comment"] == "knocknoc:alice,bob"
        assert members(fgt) == [name] and fgt.admitted(ip) != 0

        # one leaves while the other logs in again: the IP stays
        run_module_processes(env, [call("alice", "absent"), call("bob")])
        assert fgt.cmdb("firewall/address", name)["comment"] == "knocknoc:bob"
        assert members(fgt) == [name] and fgt.admitted(ip) != 0

        # the last one out turns off the lights
        run_module_processes(env, [call("bob", "absent"), call("alice", "absent")])
        assert members(fgt) == [] and fgt.cmdb("firewall/address", name) is None
        assert fgt.admitted(ip) == 0

    # sequentially, both holders survive and the revokes are independent
    run_module_processes(env, [call("alice")])
    run_module_processes(env, [call("bob")])
    run_module_processes(env, [call("alice", "absent")])
    assert fgt.cmdb("firewall/address", name)["comment"] == "knocknoc:bob" and fgt.admitted(ip) != 0
