"""The filter that maps a host's inventory variables onto a module connection dict."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.knocknoc.fortinet.plugins.filter.inventory_connection import inventory_connection

HOST = {
    "fortigate_url": "https://10.0.0.1", "fortigate_token": "t", "fortigate_vdom": "root",
    "fortigate_tls_server_name": "FGVM01", "fortigate_ca_path": None, "fortigate_serial": "FGVM01",
    "fortigate_use_fortimanager": False, "fortimanager_url": "https://fmg", "fortimanager_adom": "emea",
    "fortimanager_tls_fingerprint": ["ab" * 32], "fortimanager_target": "adom/emea/device/fgt1",
    "inventory_hostname": "fgt1",
}


def test_fortigate_options_only_defined_and_not_null():
    assert inventory_connection(HOST, "fortigate") == {
        "url": "https://10.0.0.1", "token": "t", "vdom": "root", "tls_server_name": "FGVM01"}


def test_fortimanager_options_not_facts_nor_target():
    assert inventory_connection(HOST) == inventory_connection(HOST, "fortigate")
    assert inventory_connection(HOST, "fortimanager") == {
        "url": "https://fmg", "adom": "emea", "tls_fingerprint": ["ab" * 32]}


def test_a_host_without_variables_gives_an_empty_dict():
    assert inventory_connection({"inventory_hostname": "localhost"}, "fortigate") == {}


def test_an_unknown_api_is_refused():
    with pytest.raises(AnsibleFilterError):
        inventory_connection(HOST, "knocknoc")
