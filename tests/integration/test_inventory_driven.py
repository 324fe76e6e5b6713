"""Inventory-driven runs (issue 12, item 1): the shipped grant and revoke playbooks over a group of the
inventory, each host's connection taken from its host variables (the names the inventory plugin
knocknoc.fortinet.fortimanager sets): in a lab of four FortiGates managed by a FortiManager, fgt001-fgt003
directly and fgt004 through FortiManager. One run grants on every device, with a result per host, and the IP
is admitted on each device (and only the one through FortiManager went through it); revoke takes it away again.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from harness.labview import LabView
from kklab.lab import Lab, fleet_topology

from test_role_access import H

ROOT = Path(__file__).resolve().parents[2]
IP = "198.51.100.77"
DIRECT, THROUGH_FMG = ("fgt001", "fgt002", "fgt003"), "fgt004"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("inventory-lab"), topology=fleet_topology(4)).start()
    yield LabView(lab)
    lab.stop()


def prepare(labview, name):
    fgt = labview.device(name)
    for path, body in (("system/external-resource", {"name": "kk_allow", "type": "address", "update-method": "push"}),
                       ("firewall/address", {"name": "srv", "subnet": "10.0.0.10/32"}),
                       ("firewall/policy", {"policyid": 0, "name": "pp", "srcintf": [{"name": "port2"}],
                                            "dstintf": [{"name": "port1"}], "srcaddr": [{"name": "kk_allow"}],
                                            "dstaddr": [{"name": "srv"}], "action": "accept",
                                            "service": [{"name": "HTTPS"}], "schedule": "always"})):
        reply = fgt.post("/api/v2/cmdb/" + path, params=H, json=body)
        assert reply.status_code == 200, reply.text


def prefixed(prefix, connection):
    return dict(("%s_%s" % (prefix, key), value) for key, value in connection.items())


def inventory(labview, tmp_path):
    hosts = {}
    for name in DIRECT:
        hosts[name] = dict(prefixed("fortigate", labview.connection(name, "kk-passiveplus")),
                           fortigate_use_fortimanager=False, fortigate_vdom="root")
    hosts[THROUGH_FMG] = dict(prefixed("fortimanager", labview.connection("fmg1", "kk-passiveplus")),
                              fortigate_use_fortimanager=True, fortigate_vdom="root", fortimanager_adom="root",
                              fortimanager_target="adom/root/device/" + THROUGH_FMG)
    data = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                    "children": {"branches": {"hosts": hosts}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path, hosts


def run(playbook, source, tmp_path, **extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="false",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"), ANSIBLE_REMOTE_TEMP=str(tmp_path / "remote"))
    for key in [k for k in env if k.startswith(("FORTIGATE_", "FORTIMANAGER_", "KNOCKNOC_"))]:
        del env[key]  # the connections come from the inventory only
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), str(ROOT / "playbooks" / playbook),
                           "-i", str(source), "-e", "@" + str(extra_file)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path), check=False)
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return proc.returncode, proc.stdout + proc.stderr, data


def test_grant_and_revoke_over_an_inventory_group(fleet, tmp_path):
    labview = fleet
    for name in DIRECT + (THROUGH_FMG,):
        prepare(labview, name)
    labview.control("POST", "/counters/reset")
    source, hosts = inventory(labview, tmp_path)
    devices = dict((name, labview.device(name)) for name in hosts)
    args = dict(knocknoc_hosts="branches", access_mode="passive_plus", access_ip=IP, access_resource_name="kk_allow")

    rc, out, data = run("grant.yml", source, tmp_path, **args)
    assert rc == 0, out[-4000:]
    # A result per host, each changed, none failed.
    assert sorted(data["stats"]) == sorted(hosts)
    for name, stat in data["stats"].items():
        assert stat["failures"] == 0 and stat["unreachable"] == 0 and stat["changed"] >= 1, (name, stat)
    for name, device in devices.items():
        assert device.admitted(IP, srcintf="port2") == 1, name
    # The pushed entry is on each device's feed (fgt004's through the FortiManager proxy).
    for name, device in devices.items():
        assert IP in device.entries("kk_allow"), name
    # FortiManager was used (for fgt004) and every FortiGate was reached.
    counts = labview.counters()
    assert counts["fmg1"]["requests"] > 0 and all(counts[name]["requests"] > 0 for name in hosts), counts
    for connection in hosts.values():
        for key in ("fortigate_token", "fortimanager_token"):
            if key in connection:
                assert connection[key] not in out

    rc, out, data = run("revoke.yml", source, tmp_path, **args)
    assert rc == 0, out[-4000:]
    assert sorted(data["stats"]) == sorted(hosts)
    for name, device in devices.items():
        assert device.admitted(IP, srcintf="port2") == 0, name
