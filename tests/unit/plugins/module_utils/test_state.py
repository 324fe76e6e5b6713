# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_state: canonical entries, membership plans, field diffs (pure)."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import (
    Plan,
    address_object_entry,
    canonical_entries,
    canonical_entry,
    diff_fields,
    plan_members,
)


@pytest.mark.parametrize("value", [
    "203.0.113.5", " 203.0.113.5 ", "203.0.113.5/32", "203.0.113.5 255.255.255.255",
    ["203.0.113.5", "255.255.255.255"], "203.0.113.5/255.255.255.255",
])
def test_every_spelling_of_a_host_is_one_entry(value):
    assert canonical_entry(value) == "203.0.113.5"


@pytest.mark.parametrize("value,expected", [
    ("2001:DB8:0:0::7", "2001:db8::7"),
    ("2001:db8::7/128", "2001:db8::7"),
])
def test_ipv6_is_compressed(value, expected):
    assert canonical_entry(value) == expected


def test_networks_keep_their_length_when_allowed():
    assert canonical_entry("198.51.100.0/24", max_prefix_v4=24) == "198.51.100.0/24"
    assert canonical_entry("198.51.100.0 255.255.255.0", max_prefix_v4=16) == "198.51.100.0/24"
    assert canonical_entry("2001:db8::/64", max_prefix_v6=48) == "2001:db8::/64"


@pytest.mark.parametrize("value,words", [
    ("203.0.113.5/24", "host bits"),
    ("0.0.0.0/0", "every address"),
    ("0.0.0.0 0.0.0.0", "every address"),
    (["0.0.0.0", "0.0.0.0"], "every address"),
    ("::/0", "every address"),
    ("198.51.100.0/24", "broader"),
    ("2001:db8::/64", "broader"),
    ("203.0.113.300", "not an IP"),
    ("host.example.com", "not an IP"),
    ("10.0.0.1-10.0.0.9", "not an IP"),
    ("", "empty"),
    ("fe80::1%eth0", "scoped"),
    ("0.0.0.0", "usable"),
    ("224.0.0.1", "usable"),
    ("255.255.255.255", "usable"),
    (["255.255.255.255", "255.255.255.255"], "usable"),
    (["10.0.0.1"], "expected"),
    (42, "not a string"),
])
def test_refusals_name_the_value(value, words):
    with pytest.raises(ValueError) as info:
        canonical_entry(value, max_prefix_v4=32)
    assert words in str(info.value)
    assert repr(value) in str(info.value) or str(value) in str(info.value)


def test_canonical_entries_is_a_frozenset():
    assert canonical_entries(["203.0.113.5/32", "203.0.113.5", "2001:db8::7"]) == frozenset(
        ["203.0.113.5", "2001:db8::7"])
    assert canonical_entries(None) == frozenset()


def test_address_objects():
    assert address_object_entry({"name": "kk_203.0.113.5", "type": "ipmask",
                                 "subnet": "203.0.113.5 255.255.255.255"}) == "203.0.113.5"
    assert address_object_entry({"type": "ipmask", "subnet": "10.0.0.0 255.255.255.0"}) == "10.0.0.0/24"
    assert address_object_entry({"type": "ipprefix", "ip6": "2001:db8::7/128"}) == "2001:db8::7"
    assert address_object_entry({"subnet": ["203.0.113.5", "255.255.255.255"]}) == "203.0.113.5"  # FortiManager
    assert address_object_entry({"name": "all", "type": "ipmask", "subnet": "0.0.0.0 0.0.0.0"}) is None
    assert address_object_entry({"type": "fqdn", "fqdn": "x.example.com"}) is None
    assert address_object_entry({"type": "iprange", "start-ip": "10.0.0.1", "end-ip": "10.0.0.9"}) is None
    assert address_object_entry("nonsense") is None


def test_plan_present():
    plan = plan_members({"a", "b"}, {"b", "c"}, "present")
    assert plan == Plan(add=frozenset({"c"}), remove=frozenset())
    assert plan.changed and plan.after({"a", "b"}) == frozenset({"a", "b", "c"})


def test_plan_present_exclusive_only_removes_what_we_own():
    plan = plan_members({"kk_1", "kk_2", "other"}, {"kk_2"}, "present", exclusive=True,
                        owned=lambda m: m.startswith("kk_"))
    assert plan.add == frozenset() and plan.remove == frozenset({"kk_1"})


def test_plan_absent_and_idempotence():
    assert plan_members({"a", "b"}, {"b", "c"}, "absent") == Plan(add=frozenset(), remove=frozenset({"b"}))
    assert not plan_members({"a"}, {"a"}, "present").changed
    assert not plan_members({"a"}, {"b"}, "absent").changed
    assert not plan_members(None, None, "present").changed
    with pytest.raises(ValueError):
        plan_members(set(), set(), "gone")


def test_plan_is_frozen():
    plan = Plan()
    with pytest.raises(Exception):
        plan.add = frozenset({"x"})


def test_diff_fields_only_counts_what_the_user_set():
    current = {"name": "kk_allow", "type": "address", "refresh-rate": 5, "comments": "", "uuid": "u-1",
               "password": "ENC XXXX", "resource": "https://kk/api/v1/allowlists/1/t.txt"}
    desired = {"name": "kk_allow", "type": "address", "refresh-rate": "5", "comments": None,
               "password": "new-secret", "resource": "https://kk/api/v1/allowlists/1/t.txt"}
    assert diff_fields(desired, current) == []
    desired["refresh-rate"] = 1
    desired["comments"] = "managed"
    assert diff_fields(desired, current) == ["comments", "refresh-rate"]
    assert diff_fields(desired, current, ignore=("comments",)) == ["refresh-rate"]


def test_diff_fields_normalises_addresses_and_lists():
    current = {"subnet": "203.0.113.5 255.255.255.255",
               "member": [{"name": "b", "q_origin_key": "b"}, {"name": "a", "q_origin_key": "a"}],
               "trusthost10": ["203.0.113.5", "255.255.255.255"]}
    assert diff_fields({"subnet": "203.0.113.5/32", "member": [{"name": "a"}, {"name": "b"}],
                        "trusthost10": "203.0.113.5/32"}, current) == []
    assert diff_fields({"member": [{"name": "a"}]}, current) == ["member"]
    assert diff_fields({"subnet": "203.0.113.6/32"}, current) == ["subnet"]
    assert diff_fields({"new-field": "x"}, current) == ["new-field"]
    assert diff_fields({"nested": {"a": 1}}, {"nested": {"a": "1", "b": 2}}) == []
