# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fortimanager inventory plugin's host and group building, from recorded-shape dvmdb replies.

The replies follow FortiManager's own (HOWTO 007: a device with verbose, groups with
``option: ["object member"]`` where a nested group is a member without a vdom). Options are the
documented defaults plus what each test sets, so the DOCUMENTATION block is exercised too.
"""

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.template import trust_as_template

from ansible_collections.knocknoc.fortinet.plugins.inventory import fortimanager as plugin_module
from ansible_collections.knocknoc.fortinet.plugins.inventory.fortimanager import (
    InventoryModule,
    conn_status,
    firmware_version,
    group_index,
)

FMG_URL = "https://fmg.example.com"
TOKEN = "Qm8vT3xK9pL2wR7nZ4cB6yH1dF5gJ0"


def device(name, sn, ip="192.0.2.1", os_ver="7.0", mr=4, patch=4, status="up", vdoms=("root",), meta=None):
    out = {"name": name, "oid": 101, "sn": sn, "hostname": name, "ip": ip, "os_type": "fos", "os_ver": os_ver,
           "mr": mr, "patch": patch, "build": 2662, "platform_str": "FortiGate-VM64", "conn_status": status,
           "mgmt_mode": "fmg", "vdom": [{"name": v, "oid": 3, "devid": name} for v in vdoms]}
    if meta is not None:
        out["meta fields"] = meta
    return out


DATA = {"adoms": [
    {"name": "root",
     "devices": [device("fw-paris", "FGT60F0000000001", meta={"mgmt_url": "https://paris.example.com:8443"}),
                 device("fw-lyon", "FGT60F0000000002", ip="2001:db8::2", mr=6, patch=2, status="down",
                        vdoms=("dmz", "root")),
                 device("fw-lab", "FGVM01TM00000003", ip="", os_ver=7, mr=2, patch=8, status=0, vdoms=("lab",))],
     "groups": [
         {"name": "All_FortiGate", "type": "default", "object member": [
             {"name": "fw-paris", "vdom": "root"}, {"name": "fw-lyon", "vdom": "root"}, {"name": "fw-lab", "vdom": "lab"}]},
         {"name": "france", "type": "normal", "object member": [{"name": "branches"}]},
         {"name": "branches", "type": "normal", "object member": [
             {"name": "fw-paris", "vdom": "root"}, {"name": "fw-lyon", "vdom": "root"}]},
         {"name": "empty", "type": "normal"},
     ]},
    {"name": "emea",
     "devices": [device("fw-berlin", "FGT60F0000000004", ip="198.51.100.4", os_ver="6.0", mr=4, patch=15)],
     "groups": [{"name": "All_FortiGate", "type": "default", "object member": [{"name": "fw-berlin", "vdom": "root"}]},
                {"name": "branches", "type": "normal", "object member": [{"name": "fw-berlin", "vdom": "root"}]}]},
]}


def documented_defaults():
    doc = yaml.safe_load(plugin_module.DOCUMENTATION)
    defaults = {name: spec.get("default") for name, spec in doc["options"].items()}
    # The constructed and inventory_cache fragments' options that the plugin reads.
    defaults.update({"strict": False, "compose": {}, "groups": {}, "keyed_groups": [], "use_extra_vars": False,
                     "leading_separator": True, "cache": False})
    return defaults


def build(data=None, **options):
    plugin = InventoryModule()
    opts = documented_defaults()
    opts.update({"plugin": "knocknoc.fortinet.fortimanager", "url": FMG_URL, "token": TOKEN})
    # Ansible trusts the templates of an inventory source file (read with trusted_as_template).
    opts.update({k: _trusted(v) for k, v in options.items()})
    plugin.get_option = opts.__getitem__
    plugin.loader = DataLoader()
    plugin.inventory = InventoryData()
    plugin._vars = {}
    warnings = []
    plugin.display = type("Display", (), {"warning": staticmethod(warnings.append)})()
    plugin.populate(DATA if data is None else data)
    return plugin.inventory, warnings


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    return value


def hostvars(inventory, name):
    out = dict(inventory.get_host(name).vars)
    for key in ("inventory_file", "inventory_dir"):  # set by Ansible, not by the plugin
        out.pop(key, None)
    return out


def members(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def test_version_and_status_helpers():
    assert firmware_version({"os_ver": "7.0", "mr": 4, "patch": 4}) == "7.4.4"  # verbose
    assert firmware_version({"os_ver": 7, "mr": 6, "patch": 0}) == "7.6.0"  # numeric
    assert firmware_version({"os_ver": None}) is None
    assert [conn_status(v) for v in (1, 2, 0, "up", "UNKNOWN", None)] == ["up", "down", "unknown", "up", "unknown", "unknown"]


def test_group_index_follows_nesting_and_skips_the_default_group():
    devices, children, holders = group_index(DATA["adoms"][0]["groups"])
    assert "All_FortiGate" not in devices
    assert children["france"] == ["branches"] and devices["france"] == []
    assert holders["fw-paris"] == ["branches", "france"] and "fw-lab" not in holders


def test_through_fortimanager_by_default():
    inventory, warnings = build(ca_path="/etc/ssl/ca.pem", tls_server_name="FMG-VM0000000001")
    assert sorted(inventory.hosts) == ["fw-berlin", "fw-lab", "fw-lyon", "fw-paris"]
    paris = hostvars(inventory, "fw-paris")
    assert paris == {
        "ansible_connection": "local",
        "fortigate_serial": "FGT60F0000000001", "fortigate_version": "7.4.4", "fortigate_build": 2662,
        "fortigate_platform": "FortiGate-VM64", "fortigate_hostname": "fw-paris", "fortigate_management_ip": "192.0.2.1",
        "fortigate_conn_status": "up", "fortigate_vdoms": ["root"], "fortigate_vdom": "root",
        "fortimanager_device_name": "fw-paris", "fortimanager_adom": "root",
        "fortimanager_device_groups": ["branches", "france"],
        "fortimanager_meta_fields": {"mgmt_url": "https://paris.example.com:8443"},
        "fortigate_use_fortimanager": True, "fortimanager_url": FMG_URL,
        "fortimanager_target": "adom/root/device/fw-paris",
        "fortimanager_validate_certs": True, "fortimanager_ca_path": "/etc/ssl/ca.pem",
        "fortimanager_tls_server_name": "FMG-VM0000000001",
    }
    lyon = hostvars(inventory, "fw-lyon")
    assert lyon["fortigate_vdom"] == "root" and lyon["fortigate_conn_status"] == "down"
    assert hostvars(inventory, "fw-lab")["fortigate_vdom"] == "lab"
    assert hostvars(inventory, "fw-berlin")["fortigate_version"] == "6.4.15"
    assert hostvars(inventory, "fw-berlin")["fortimanager_target"] == "adom/emea/device/fw-berlin"
    # Groups: one per ADOM, one per device group (merged across ADOMs by name), nesting kept.
    assert members(inventory, "adom_root") == ["fw-lab", "fw-lyon", "fw-paris"]
    assert members(inventory, "adom_emea") == ["fw-berlin"]
    assert members(inventory, "branches") == ["fw-berlin", "fw-lyon", "fw-paris"]
    assert [g.name for g in inventory.groups["france"].child_groups] == ["branches"]
    assert "All_FortiGate" not in inventory.groups and "empty" not in inventory.groups
    assert warnings == []
    # No token anywhere in the inventory.
    assert TOKEN not in repr([hostvars(inventory, h) for h in inventory.hosts])
    assert not any("token" in k for h in inventory.hosts for k in hostvars(inventory, h))


def test_direct_connection_variables():
    inventory, warnings = build(connection="direct", direct_port=8443)
    paris = hostvars(inventory, "fw-paris")
    assert paris["fortigate_use_fortimanager"] is False and paris["fortigate_url"] == "https://192.0.2.1:8443"
    # auto: FortiOS 7.4.4 serves Fortinet_GUI_Server (IP SANs), 6.4.15 Fortinet_Factory (CN = serial).
    assert "fortigate_tls_server_name" not in paris
    assert hostvars(inventory, "fw-berlin")["fortigate_tls_server_name"] == "FGT60F0000000004"
    assert not any(k.startswith("fortimanager_") and k not in (
        "fortimanager_device_name", "fortimanager_adom", "fortimanager_device_groups", "fortimanager_meta_fields")
        for k in paris)
    assert hostvars(inventory, "fw-lyon")["fortigate_url"] == "https://[2001:db8::2]:8443"
    assert "fortigate_url" not in hostvars(inventory, "fw-lab")
    assert len(warnings) == 1 and "fw-lab" in warnings[0]

    inventory, _unused = build(connection="direct", direct_url_meta_field="mgmt_url", direct_tls_server_name="none",
                               connection_local=False)
    paris = hostvars(inventory, "fw-paris")
    assert paris["fortigate_url"] == "https://paris.example.com:8443"
    assert "ansible_connection" not in paris
    assert not any("fortigate_tls_server_name" in hostvars(inventory, h) for h in inventory.hosts)
    inventory, _unused = build(connection="direct", direct_tls_server_name="serial")
    assert hostvars(inventory, "fw-paris")["fortigate_tls_server_name"] == "FGT60F0000000001"
    assert hostvars(inventory, "fw-berlin")["fortigate_url"] == "https://198.51.100.4"  # no meta field: the address


def test_adom_and_device_group_filters_and_conditionals():
    inventory, _unused = build(device_groups=["france"])
    assert sorted(inventory.hosts) == ["fw-lyon", "fw-paris"]
    inventory, _unused = build(filters=["fortigate_conn_status != 'down'", "fortigate_version is version('7.0', '>=')"])
    assert sorted(inventory.hosts) == ["fw-lab", "fw-paris"]
    # A group without a kept host is not made.
    assert "branches" in inventory.groups and "adom_emea" not in inventory.groups
    with pytest.raises(AnsibleError, match="filter"):
        build(filters=["undefined_variable.attribute == 1"])


def test_constructed_options_and_prefixes():
    inventory, _unused = build(
        device_group_prefix="fmg_", adom_group_prefix="fortimanager_adom_",
        compose={"site": "fortimanager_device_name.split('-')[1]"},
        keyed_groups=[{"key": "fortigate_version.split('.')[:2] | join('_')", "prefix": "fortios"}],
        groups={"down": "fortigate_conn_status == 'down'"})
    assert members(inventory, "fmg_branches") == ["fw-berlin", "fw-lyon", "fw-paris"]
    assert [g.name for g in inventory.groups["fmg_france"].child_groups] == ["fmg_branches"]
    assert members(inventory, "fortimanager_adom_root") == ["fw-lab", "fw-lyon", "fw-paris"]
    assert hostvars(inventory, "fw-lyon")["site"] == "lyon"
    assert members(inventory, "fortios_7_4") == ["fw-paris"] and members(inventory, "fortios_6_4") == ["fw-berlin"]
    assert members(inventory, "down") == ["fw-lyon"]


def test_nested_group_loop_is_a_warning_not_a_crash():
    data = {"adoms": [{"name": "root", "devices": [device("fw1", "FGT60F0000000009")], "groups": [
        {"name": "a", "object member": [{"name": "b"}, {"name": "fw1", "vdom": "root"}]},
        {"name": "b", "object member": [{"name": "a"}]}]}]}
    inventory, warnings = build(data)
    assert members(inventory, "a") == ["fw1"]
    assert hostvars(inventory, "fw1")["fortimanager_device_groups"] == ["a", "b"]
    assert len(warnings) == 1 and "device group a in b" in warnings[0] and "loop" in warnings[0]


def test_verify_file(tmp_path):
    plugin = InventoryModule()
    for name, ok in (("fleet.fortimanager.yml", True), ("fortimanager.yaml", True), ("hosts.yml", False)):
        path = tmp_path / name
        path.write_text("plugin: knocknoc.fortinet.fortimanager\n")
        assert plugin.verify_file(str(path)) is ok
