# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_validate: what each rule accepts (real names must keep working) and refuses, naming the option.
The hostile corpus through every module is tests/unit/plugins/modules/test_hostile_input.py."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _validate as v
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import HttpClient

ACCEPTED = {
    "external_resource": ["kk_allow", "knocknoc-users", "edl.1", "x" * 35],
    "address": ["kk_198.51.100.7", "kk_2001:db8::7", "kk_10.0.0.0_24", "x" * 79],
    "address_group": ["kk_users", "Knocknoc Users", "grp-1.a", "x" * 79],
    "vdom": ["root", "vdom_2", "customer-a"],
    "adom": ["root", "Customer.A", "adom_2"],
    "admin": ["alice", "kk-api", "john.doe", "svc_knocknoc$"],
    "device": ["fgt1", "FGVM01TM24000001", "All_FortiGate", "Branch Offices"],
    "knoc": ["edge", "kk-edge", "VPN access"],
    "user": ["alice", "alice@example.com", "a.b+ops@example.com", "svc_1"],
    "interface": ["port1", "wan1.100", "sdwan_zone"],
}
REFUSED = {
    "external_resource": ["x" * 36, "a b", "a/b", "kk:allow"],
    "address": ["x" * 80, "a b", "kk_fe80::1%eth0"],
    "address_group": ["x" * 80, " lead", "trail ", "two  spaces", "a/b", "tab\tin"],
    "vdom": ["a.b", "x" * 32, "a b"],
    "adom": ["a/b", "a b"],
    "admin": ["-alice", ".alice", "a b", "al$ice", "alice,bob"],
    "device": ["FGT;1", "../x", "a/b"],
    "knoc": ["a/b", "x" * 65],
    "user": ["a,b", "a b", "jos\u00e9", "x" * 65],
    "interface": ["port 1", "x" * 36],
}
COMMON_REFUSED = ["", "/", '"', "'", "<x>", "a\nb", "a\x00b", "../..", "\u00e9", "\u202e", "-x", ".x", " ", "a\\b",
                  "a`b", "$(id)", "a;b", "a%2fb"]


@pytest.mark.parametrize("kind", sorted(v.NAMES))
def test_names(kind):
    for value in ACCEPTED.get(kind, []):
        assert v.name("opt", value, kind) == value
    for value in REFUSED.get(kind, []) + COMMON_REFUSED:
        with pytest.raises(ValueError) as raised:
            v.name("the_option", value, kind)
        assert str(raised.value).startswith("the_option "), value
    for value in (None, 5, ["a"]):
        with pytest.raises(ValueError, match="^the_option "):
            v.name("the_option", value, kind)


def test_every_kind_has_cases():
    assert set(v.NAMES) - set(ACCEPTED) <= {"profile", "package"}


def test_prefix():
    for value in ("kk_", "knocknoc-", "a.b_", "K"):
        assert v.prefix("prefix", value) == value
    for value in ("", "a/b_", "kk,", "kk_ ", " kk_", "-kk", "kk\u00e9_", "x" * 37, "kk:", None):
        with pytest.raises(ValueError, match="^prefix "):
            v.prefix("prefix", value)
    assert v.prefix("prefix", "x" * 78, max_len=78)


def test_ip_and_addresses():
    assert v.ip("test_ip", "198.51.100.7") == "198.51.100.7"
    assert v.ip("test_ip", "2001:DB8::7") == "2001:db8::7"
    for value in ("", " ", "fe80::1%eth0", "198.51.100.7/32", "198.51.100.7 ", "999.1.1.1", "\u0661.1.1.1", "x", None):
        with pytest.raises(ValueError, match="^test_ip "):
            v.ip("test_ip", value)
    assert v.address("address", "198.51.100.7/32") == "198.51.100.7"
    assert v.address("address", "198.51.100.7 255.255.255.255") == "198.51.100.7"
    for value in ("fe80::1%eth0", "0.0.0.0/0", "::/0", "198.51.100.0/24", "", None, "1.2.3.4\n"):
        with pytest.raises(ValueError, match="^address"):
            v.address("address", value)
    assert v.network("restriction", "10.0.0.0/8") == "10.0.0.0/8"
    with pytest.raises(ValueError, match="^restriction"):
        v.network("restriction", "10.0.0.0/8 ")


def test_targets():
    for value in ("fgt1", "All_FortiGate", "adom/root/device/fgt1", "adom/root/group/Branch Offices"):
        assert v.target("targets[0]", value) == value
    for value in ("FGT;1", "../x", "", " ", "adom/root/device/", "adom//device/x", "a/b", "adom/r/oops/x",
                  "adom/root/device/fgt1/root", "adom/../device/x"):
        with pytest.raises(ValueError, match=r"^targets\[0\]"):
            v.target("targets[0]", value)


def test_text_and_tokens():
    assert v.text("description", "Ops VPN (prod), 24/7: see #ops") == "Ops VPN (prod), 24/7: see #ops"
    assert v.text("description", "") == ""
    for value in ("a\nb", "a\x00b", "caf\u00e9", '"x"', "<b>", "a\\b", "x" * 256):
        with pytest.raises(ValueError, match="^description "):
            v.text("description", value)
    assert v.token("token", "0123456789abcdefABCDEF!~") == "0123456789abcdefABCDEF!~"
    for value in ("a\nb", "a b", "", "caf\u00e9", None):
        with pytest.raises(ValueError) as raised:
            v.token("token", value)
        assert str(raised.value).startswith("token ")
        assert value is None or not value or value not in str(raised.value)


URLS_OK = ["https://fw.example.com", "https://fw.example.com/", "https://fw.example.com:8443", "https://10.0.0.1",
           "https://[2001:db8::1]:443", "HTTPS://FW.example.com", "https://fw_1.corp.example"]
URLS_BAD = ["https://fw/api/v2", "https://fmg/jsonrpc", "https://fw?x=1", "https://fw#top", "http://fw",
            "ftp://fw", "https://user:secret@fw", "https://fw:0", "https://fw:99999", "https://fw:abc", "https://fw:",
            "https:///x", "https://", "fw.example.com", "https://fw /", " https://fw", "https://fw\n",
            "https://f\u00e9.example", "https://[fe80::1%eth0]", "https://_fw.example", "https://-fw", ""]


def test_connection_urls():
    for value in URLS_OK:
        assert v.url("url", value) == value
    for value in URLS_BAD:
        with pytest.raises(ValueError) as raised:
            v.url("fortigate.url", value)
        assert str(raised.value).startswith("fortigate.url ") or str(raised.value).startswith("fortigate.url:")
        assert "secret" not in str(raised.value)
    assert v.url("resource", "https://kk.example.com/api/v1/allowlists/3/t0k3n.txt?x=1", path=True)


def test_http_client_check_url_is_the_same_rule():
    # The base URL of every client: a path would be doubled (https://fw/api/v2/api/v2/...).
    for value in URLS_BAD:
        with pytest.raises(KnocknocError) as raised:
            HttpClient(value)
        assert "url" in str(raised.value) and "secret" not in str(raised.value)
    assert HttpClient("https://fw.example.com/").base_url == "https://fw.example.com"
    assert HttpClient("https://kk.example.com/api/v1/allowlists/3/t.txt", url_path=True).base_url.endswith("t.txt")


def test_check_params_names_the_connection_dict_option():
    with pytest.raises(ValueError, match=r"^fortigate\.url "):
        v.check_params("fortigate_object", {"fortigate": {"url": "https://fw/api/v2", "token": "t"}})
    with pytest.raises(ValueError, match=r"^vdom "):
        v.check_params("fortigate_object", {"vdom": "../root"})
    with pytest.raises(ValueError, match=r"^address is required"):
        v.check_params("fortimanager_trusted_host", {"admin": "alice", "address": None, "state": "present"})
    v.check_params("fortimanager_trusted_host", {"admin": "alice", "address": None, "state": "absent"})
