# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_objects: naming and finding one object on a FortiGate or FortiManager, with recording fake clients."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._objects import (
    find_fortigate_entry,
    find_fortimanager_object,
    fortigate_table,
    fortimanager_key_field,
    fortimanager_table,
    info_result,
    table_adom,
)


class FakeFortiGate(object):
    def __init__(self, tables):
        self.tables = tables
        self.calls = []

    def get_entry(self, path, mkey, vdom=None):
        self.calls.append(("get_entry", path, mkey, vdom))
        return next((dict(r) for r in self.tables.get(path, []) if mkey in (r.get("name"), r.get("policyid"))), None)

    def get_table(self, path, vdom=None, fields=None):
        self.calls.append(("get_table", path, vdom))
        return [dict((k, r[k]) for k in fields if k in r) for r in self.tables.get(path, [])]


class FakeFortiManager(object):
    def __init__(self, objects):
        self.objects = objects  # url -> data (a list for a table)
        self.calls = []

    def get_or_none(self, url, adom=None):
        self.calls.append(("get", url, adom))
        return self.objects.get(url)

    def call(self, method, url, fields=None):
        self.calls.append((method, url))
        return self.objects.get(url)


@pytest.mark.parametrize("path, name, policyid, expected", [
    ("/firewall/addrgrp/", "kk", None, ("firewall/addrgrp", False)),
    ("firewall/policy", "p", None, ("firewall/policy", True)),
    ("firewall/local-in-policy", None, 4, ("firewall/local-in-policy", True)),
])
def test_fortigate_table(path, name, policyid, expected):
    assert fortigate_table(path, name, policyid) == expected


@pytest.mark.parametrize("path, name, policyid, words", [
    ("firewall policy", "x", None, "path must name a CMDB table"),
    ("firewall/address", None, None, "name is required"),
    ("firewall/policy", None, None, "name or policyid is required"),
    ("firewall/policy", None, 0, "policyid must be 1 or more"),
    ("firewall/address", "x", 3, "policyid applies to policy tables"),
])
def test_fortigate_table_refusals(path, name, policyid, words):
    with pytest.raises(ValueError, match=words):
        fortigate_table(path, name, policyid)


def test_find_fortigate_entry_by_name_id_and_policy_name():
    fgt = FakeFortiGate({"firewall/addrgrp": [{"name": "kk"}],
                         "firewall/policy": [{"policyid": 3, "name": "a"}, {"policyid": 4, "name": "b"},
                                             {"policyid": 5, "name": "b"}]})
    assert find_fortigate_entry(fgt, "firewall/addrgrp", False, "kk", None, "root") == ("kk", {"name": "kk"})
    assert find_fortigate_entry(fgt, "firewall/addrgrp", False, "nope", None) == ("nope", None)
    assert find_fortigate_entry(fgt, "firewall/policy", True, None, 3)[1]["name"] == "a"
    fgt.calls = []
    assert find_fortigate_entry(fgt, "firewall/policy", True, "a", None, "dmz")[0] == 3
    assert fgt.calls == [("get_table", "firewall/policy", "dmz"), ("get_entry", "firewall/policy", 3, "dmz")]
    assert find_fortigate_entry(fgt, "firewall/policy", True, "zzz", None) == (None, None)
    with pytest.raises(KnocknocError, match=r"2 policies in firewall/policy are named 'b' \(ids 4, 5\): give policyid"):
        find_fortigate_entry(fgt, "firewall/policy", True, "b", None)


def test_fortimanager_key_fields_and_adoms():
    assert fortimanager_key_field("/cli/global/system/admin/user") == "userid"
    assert fortimanager_key_field("/cli/global/system/admin/profile/") == "profileid"
    assert fortimanager_key_field("/pm/config/adom/root/pkg/default/firewall/policy") == "policyid"
    assert fortimanager_key_field("/pm/config/adom/root/obj/firewall/address") == "name"
    assert fortimanager_key_field("/pm/config/adom/root/obj/firewall/address", "uuid") == "uuid"
    assert table_adom("/pm/config/adom/emea/obj/firewall/address") == "emea"
    assert table_adom("/dvmdb/adom/root/device") == "root" and table_adom("/cli/global/system/admin/user") is None


def test_fortimanager_table():
    assert fortimanager_table("pm/config/adom/{adom}/obj/firewall/address/", "emea", "kk", None) == (
        "/pm/config/adom/emea/obj/firewall/address", "name", False)
    assert fortimanager_table("/pm/config/adom/{adom}/pkg/default/firewall/policy", None, None, 2)[1:] == (
        "policyid", True)
    for args, words in [(("/pm/config/adom/{x}/obj/a", "root", "n", None), "must be a JSON-RPC table URL"),
                        (("/cli/global/system/admin/user", "root", "a/b", None), "must not contain '/'"),
                        (("/cli/global/system/admin/user", "root", None, None), "name is required"),
                        (("/pm/config/adom/root/pkg/p/firewall/policy", "root", None, None), "name or policyid")]:
        with pytest.raises(ValueError, match=words):
            fortimanager_table(*args)


def test_find_fortimanager_object():
    table = "/pm/config/adom/root/pkg/default/firewall/policy"
    fmg = FakeFortiManager({"/cli/global/system/admin/user/kk": [{"userid": "kk"}],
                            table: [{"policyid": 7, "name": "p"}, {"policyid": 8, "name": "q"}],
                            table + "/7": {"policyid": 7, "name": "p"}})
    assert find_fortimanager_object(fmg, "/cli/global/system/admin/user", False, "kk", None) == ("kk", {"userid": "kk"})
    assert find_fortimanager_object(fmg, "/cli/global/system/admin/user", False, "zz", None) == ("zz", None)
    assert find_fortimanager_object(fmg, table, True, "p", None) == (7, {"policyid": 7, "name": "p"})
    assert find_fortimanager_object(fmg, table, True, None, 9) == (9, None)
    assert find_fortimanager_object(fmg, table, True, "nope", None) == (None, None)
    assert ("get", table + "/7", "root") in fmg.calls  # get_or_none names the ADOM: 202101 when it does not exist
    assert ("get", "/cli/global/system/admin/user/kk", None) in fmg.calls


def test_info_result_hides_secrets_and_says_whether_it_exists():
    found = info_result("kk", {"name": "kk", "password": "ENC XXXX", "status": "enable"})
    assert found["exists"] is True and found["mkey"] == "kk" and found["changed"] is False
    assert found["object"]["status"] == "enable" and "XXXX" not in str(found["object"])
    assert info_result("kk", None) == {"changed": False, "exists": False, "mkey": None, "object": None}
