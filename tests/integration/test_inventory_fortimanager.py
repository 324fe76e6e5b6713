"""The knocknoc.fortinet.fortimanager inventory plugin against the lab's FortiManager.

A private lab with a generated fleet (two ADOMs, nested device groups) is read with
``ansible-inventory --list/--graph`` from a YAML source, as a user would; then a playbook over the
inventory's hosts grants an address on each FortiGate through FortiManager using only the host
variables the plugin set, and the devices are checked.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.labview import LabView
from kklab.lab import Lab, fleet_topology

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RESOURCE = "kk_allow"
IP = "198.51.100.77"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    # 6 FortiGates over ADOMs root (fgt001, fgt003, fgt005) and adom2 (fgt002, fgt004, fgt006);
    # groups of 2: root_g01 = fgt001+fgt003, root_g02 = fgt005, under root_fleet.
    lab = Lab(tmp_path_factory.mktemp("fleet-lab"), topology=fleet_topology(6, adoms=2, group_size=2)).start()
    yield LabView(lab)
    lab.stop()


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "FORTIMANAGER_", "FORTIGATE_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",  # a source the plugin cannot read fails the run
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    })
    env.update(extra)
    return env


def _source(fleet, tmp_path, name="fleet.fortimanager.yml", **options):
    fmg = fleet.info("fmg1")
    # FortiManager's own certificate and the name in it, as lab.json gives them.
    config = {"plugin": "knocknoc.fortinet.fortimanager", "url": fmg["url"], "ca_path": fmg["ca_path"],
              "tls_server_name": fmg["tls_server_name"]}
    config.update(options)
    config = {k: v for k, v in config.items() if v is not None}  # None: leave the option out
    path = tmp_path / name
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _inventory(source, tmp_path, *args, token=None, expect_rc=0, **env):
    extra = dict(env)
    if token is not None:
        extra["FORTIMANAGER_TOKEN"] = token
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source)] + list(args), capture_output=True,
                          text=True, env=_env(tmp_path, **extra), timeout=120, check=False)
    assert proc.returncode == expect_rc, proc.stdout + proc.stderr
    return proc


def _plain(value):
    """``ansible-inventory --list`` marks the strings an inventory plugin sets as unsafe
    (``{"__ansible_unsafe": "..."}``, ansible-core 2.19+): as any host variable, never templated."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _list(source, tmp_path, *args, **kwargs):
    return _plain(json.loads(_inventory(source, tmp_path, "--list", *args, **kwargs).stdout))


def _token(fleet, user="kk-readonly"):
    return fleet.info("fmg1")["tokens"][user]


def test_list_through_fortimanager(fleet, tmp_path):
    proc = _inventory(_source(fleet, tmp_path), tmp_path, "--list", token=_token(fleet))
    inventory = _plain(json.loads(proc.stdout))
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == ["fgt%03d" % i for i in range(1, 7)]
    for name, host in hostvars.items():
        device = fleet.info(name)
        adom = "root" if int(name[3:]) % 2 else "adom2"
        assert host["fortigate_serial"] == device["serial"] and host["fortigate_version"] == device["version"]
        assert host["fortimanager_adom"] == adom and host["fortimanager_target"] == "adom/%s/device/%s" % (adom, name)
        assert host["fortigate_use_fortimanager"] is True and host["fortimanager_url"] == fleet.info("fmg1")["url"]
        assert host["fortigate_conn_status"] == "up" and host["fortigate_management_ip"] == "127.0.0.1"
        assert host["ansible_connection"] == "local" and host["fortigate_vdom"] == "root"
    assert hostvars["fgt001"]["fortimanager_device_groups"] == ["root_fleet", "root_g01"]
    assert sorted(inventory["adom_root"]["hosts"]) == ["fgt001", "fgt003", "fgt005"]
    assert sorted(inventory["root_fleet"]["children"]) == ["root_g01", "root_g02"]
    assert sorted(inventory["root_g01"]["hosts"]) == ["fgt001", "fgt003"]
    assert "All_FortiGate" not in inventory
    assert _token(fleet) not in proc.stdout + proc.stderr


def test_fingerprint_pin_instead_of_a_ca(fleet, tmp_path):
    pin = fleet.info("fmg1")["tls_fingerprint"]
    source = _source(fleet, tmp_path, ca_path=None, tls_fingerprint=[pin])
    hostvars = _list(source, tmp_path, token=_token(fleet))["_meta"]["hostvars"]
    assert len(hostvars) == 6 and hostvars["fgt001"]["fortimanager_tls_fingerprint"] == [pin]
    assert "fortimanager_ca_path" not in hostvars["fgt001"]
    wrong = _source(fleet, tmp_path, name="wrong.fortimanager.yml", ca_path=None, tls_fingerprint=["00" * 32])
    output = _inventory(wrong, tmp_path, "--list", token=_token(fleet), expect_rc=1)
    assert "202003" in output.stdout + output.stderr


def test_graph_and_filters(fleet, tmp_path):
    source = _source(fleet, tmp_path, adoms=["root"], device_groups=["root_g01", "root_g02"],
                     filters=["fortigate_version is version('7.4', '>=')"],
                     keyed_groups=[{"key": "fortigate_version.split('.')[:2] | join('_')", "prefix": "fortios"}])
    proc = _inventory(source, tmp_path, "--graph", token=_token(fleet))
    graph = proc.stdout
    print(graph)
    # fgt001 7.4.4, fgt003 7.2.8 (filtered out), fgt005 7.6.2; adom2 not read.
    assert "fgt001" in graph and "fgt005" in graph and "fgt003" not in graph and "fgt002" not in graph
    assert "@root_fleet:" in graph and "@root_g01:" in graph and "@fortios_7_6:" in graph
    assert "@adom_adom2" not in graph


def test_direct_connection_from_a_meta_field(fleet, tmp_path):
    # The lab's FortiGates listen on random ports, so each one's URL goes into a device meta field,
    # as an administrator would record a non-standard admin port on FortiManager.
    fmg = fleet.device("fmg1")
    for name in ("fgt001", "fgt002"):
        adom = "root" if name == "fgt001" else "adom2"
        reply = fmg.rpc("set", "/dvmdb/adom/%s/device/%s" % (adom, name),
                        data={"meta fields": {"lab_url": fleet.info(name)["url"]}})
        assert reply["status"]["code"] == 0, reply
    source = _source(fleet, tmp_path, connection="direct", direct_url_meta_field="lab_url")
    hostvars = _list(source, tmp_path, token=_token(fleet))["_meta"]["hostvars"]
    fgt1 = hostvars["fgt001"]
    # FortiOS 7.4.4 serves Fortinet_GUI_Server, which names the address: no tls_server_name.
    assert fgt1["fortigate_url"] == fleet.info("fgt001")["url"] and "fortigate_tls_server_name" not in fgt1
    assert fgt1["fortigate_use_fortimanager"] is False and "fortimanager_url" not in fgt1
    assert fgt1["fortimanager_meta_fields"] == {"lab_url": fleet.info("fgt001")["url"]}
    # Without the field: the management address on the default port.
    assert hostvars["fgt003"]["fortigate_url"] == "https://127.0.0.1"


def test_cache_spares_fortimanager(fleet, tmp_path):
    source = _source(fleet, tmp_path, cache=True, cache_plugin="ansible.builtin.jsonfile",
                     cache_connection=str(tmp_path / "cache"), cache_timeout=600)
    fleet.control("POST", "/devices/fmg1/counters/reset")
    first = _list(source, tmp_path, token=_token(fleet))
    used = fleet.control("GET", "/devices/fmg1/counters")["requests"]
    assert used == 5  # the ADOM list, then devices and groups of each of the two ADOMs
    second = _list(source, tmp_path, token=_token(fleet))
    assert fleet.control("GET", "/devices/fmg1/counters")["requests"] == used
    assert second == first
    cached = "".join(p.read_text() for p in (tmp_path / "cache").iterdir())
    assert "fgt001" in cached and _token(fleet) not in cached
    # --flush-cache reads FortiManager again.
    _inventory(source, tmp_path, "--list", "--flush-cache", token=_token(fleet))
    assert fleet.control("GET", "/devices/fmg1/counters")["requests"] == used + 5


def test_refused_token_fails_without_showing_it(fleet, tmp_path):
    bad = "x" * 30
    proc = _inventory(_source(fleet, tmp_path), tmp_path, "--list", token=bad, expect_rc=1)
    output = proc.stdout + proc.stderr
    assert "knocknoc.fortinet.fortimanager" in output and "202001" in output
    assert bad not in output


def test_playbook_over_the_inventory_through_fortimanager(fleet, tmp_path):
    """A Passive+ grant on every host of adom_root, from the plugin's host variables only."""
    for name in ("fgt001", "fgt003", "fgt005"):
        reply = fleet.device(name).post("/api/v2/cmdb/system/external-resource", params={"vdom": "root"},
                                        json={"name": RESOURCE, "type": "address", "update-method": "push"})
        assert reply.status_code == 200, reply.text
    book = tmp_path / "grant.yml"
    book.write_text("""
- name: Grant on every FortiGate of ADOM root, through FortiManager
  hosts: adom_root
  gather_facts: false
  tasks:
    - name: Grant
      knocknoc.fortinet.fortigate_dynamic_entry:
        use_fortimanager: "{{ fortigate_use_fortimanager }}"
        url: "{{ fortimanager_url }}"
        adom: "{{ fortimanager_adom }}"
        targets: ["{{ fortimanager_target }}"]
        vdom: "{{ fortigate_vdom }}"
        ca_path: "{{ fortimanager_ca_path }}"
        tls_server_name: "{{ fortimanager_tls_server_name }}"
        name: %s
        entries: [%s]
        fail_on_push_error: true
""" % (RESOURCE, IP))
    # The plugin reads with the read-only key (in its source); the modules push with the
    # Passive+ key from the environment: the plugin never hands a token to the hosts.
    source = _source(fleet, tmp_path, token=_token(fleet))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(source), str(book), "--forks", "3"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env=_env(tmp_path, FORTIMANAGER_TOKEN=_token(fleet, "kk-passiveplus"),
                                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
    assert sorted(results) == ["fgt001", "fgt003", "fgt005"]
    assert all(r["changed"] and not r.get("failed") for r in results.values()), results
    for name in ("fgt001", "fgt003", "fgt005"):
        assert fleet.device(name).entries(RESOURCE) == [IP]
    assert _token(fleet) not in proc.stdout + proc.stderr
    assert _token(fleet, "kk-passiveplus") not in proc.stdout + proc.stderr
