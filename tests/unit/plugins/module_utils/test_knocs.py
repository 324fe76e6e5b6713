# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_knocs: the Knoc document (options -> desired fields, comparison, plan) and grant matching, without a server."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocs import (
    desired_state,
    grant_ip,
    granted_ips,
    matching_grants,
    predict,
    present,
    require_knoc,
    same,
)

OPTIONS = ("name", "state", "mode", "use_fortimanager", "device_url", "insecure", "authorization_token", "update_token",
           "adom", "external_connector_name", "device_targets", "address_group", "prefix", "vdom", "description",
           "grant_duration_minutes", "allowlist_ip_restrictions", "allowlist_key", "allowlist_api_key")
TOKEN = "device-token-secret"


def params(**given):
    p = dict((k, None) for k in OPTIONS)
    p.update(state="present", use_fortimanager=False, insecure=False, update_token="on_create", allowlist_key="keep")
    p.update(given)
    return p


class FakeServer(object):
    """The calls ``present`` makes, recorded; the server's answers as the lab gives them."""

    base_url = "https://knocknoc.example"

    def __init__(self, knocs=(), key_ok=True):
        self.knocs = [dict(k) for k in knocs]
        self.calls = []
        self.key_ok = key_ok

    def list_knocs(self, name=None):
        self.calls.append(("list", name))
        return [k for k in self.knocs if name is None or k["name"] == name]

    def create_knoc(self, body):
        self.calls.append(("create", dict(body)))
        knoc = dict(predict(None, dict((k, v) for k, v in body.items() if k != "authorization_token"), True), id=7)
        return knoc, {"url": "https://kk/a.txt", "username": "apikey", "api_key": "new-key"}

    def put_knoc(self, knoc_id, body):
        self.calls.append(("put", knoc_id, dict(body)))
        return dict(self.knocs[0], **dict((k, v) for k, v in body.items() if k != "authorization_token")), None

    def rotate_allowlist_key(self, knoc_id):
        self.calls.append(("rotate", knoc_id))
        return {"url": "https://kk/a.txt", "api_key": "rotated-key"}

    def allowlist(self, url, key, username):
        self.calls.append(("allowlist", url))
        if not self.key_ok:
            raise KnocknocError(None, "HTTP 401", details={"http_status": 401})
        return []


PASSIVE = {"id": 3, "name": "edge", "type": "firewalls_appliances", "vendor": "fortinet", "mode": "passive",
           "use_fortimanager": False, "insecure": False, "authorization_token_set": False, "description": "",
           "allowlist_ip_restrictions": ["0.0.0.0/0", "::/0"], "allowlist_url": "https://kk/a.txt"}


@pytest.mark.parametrize("given, words", [
    ({"mode": "passive", "name": "  "}, "name must not be empty"),
    ({"mode": "passive_plus", "device_url": "https://fw"}, "external_connector_name is required"),
    ({"mode": "active", "device_url": "https://fw"}, "address_group is required when mode=active"),
    ({"mode": "passive", "device_url": "https://fw"}, "device_url applies only in passive_plus and active"),
    ({"mode": "passive", "insecure": True}, "insecure applies only"),
    ({"mode": "active", "device_url": "https://u:p@fw", "address_group": "g"}, "must not contain credentials"),
    ({"mode": "active", "device_url": "http://fw", "address_group": "g"}, "must be an https:// URL"),
    ({"mode": "active", "use_fortimanager": True, "device_url": "https://fmg", "address_group": "g"},
     "address_group applies only in active mode on a FortiGate"),
    ({"mode": "passive_plus", "device_url": "https://fw", "external_connector_name": "x" * 36}, "at most 35"),
    ({"mode": "passive", "allowlist_ip_restrictions": ["10.0.0.0/8", "nope"]}, "'nope' is not an IP network"),
    ({"mode": "active", "device_url": "https://fw", "address_group": "g", "allowlist_key": "rotate"},
     "allowlist_key=rotate applies only"),
    ({"mode": "passive", "allowlist_api_key": "k"}, "only used with allowlist_key=ensure"),
    ({"mode": "passive", "grant_duration_minutes": -1}, "grant_duration_minutes must be 0"),
])
def test_options_are_refused_before_any_request(given, words):
    with pytest.raises(KnocknocError, match=words):
        desired_state(params(**dict({"name": "edge"}, **given)))


def test_desired_state_nulls_what_does_not_apply_and_leaves_unset_alone():
    wanted = desired_state(params(name=" edge ", mode="passive_plus", device_url=" https://fw ", vdom="",
                                  external_connector_name="kk", allowlist_ip_restrictions=["198.51.100.7", "198.51.100.7/32"],
                                  grant_duration_minutes=0))
    assert wanted["name"] == "edge" and wanted["device_url"] == "https://fw" and wanted["vdom"] == "root"
    assert wanted["allowlist_ip_restrictions"] == ["198.51.100.7/32"]
    assert wanted["address_group"] is None and wanted["adom"] is None  # do not apply: must be null
    assert "description" not in wanted and wanted["prefix"] is None
    assert wanted["grant_duration_minutes"] is None  # 0 removes the override


def test_same_compares_sets_and_spellings():
    assert same("device_targets", ["b", "a"], ["a", "b"])
    assert same("allowlist_ip_restrictions", ["10.0.0.0/8"], ["10.0.0.1/8"])
    assert not same("allowlist_ip_restrictions", ["10.0.0.0/8"], ["bogus"])
    assert same("grant_duration_minutes", 30, "30") and not same("description", None, "")


def test_create_sends_the_token_and_returns_the_new_key():
    server = FakeServer()
    changed, before, after, changes, allowlist, result = present(
        server, params(name="edge", mode="passive_plus", device_url="https://fw", external_connector_name="kk",
                       authorization_token=TOKEN), check=False)
    assert changed and before == {} and result["allowlist_key_status"] == "new"
    assert "authorization_token" in changes and allowlist["api_key"] == "new-key"
    assert [c[0] for c in server.calls] == ["list", "create"] and server.calls[1][1]["authorization_token"] == TOKEN


def test_check_mode_predicts_a_creation_without_a_token_and_writes_nothing():
    server = FakeServer()
    changed, _before, after, _changes, allowlist, _result = present(
        server, params(name="edge", mode="active", device_url="https://fw", address_group="kk_users"), check=True)
    assert changed and allowlist is None and after["prefix"] == "kk_" and after["vdom"] == "root"
    assert after["authorization_token_set"] is True and after["allowlist_url"] is None
    assert server.calls == [("list", "edge")]
    with pytest.raises(KnocknocError, match="authorization_token is required"):
        present(FakeServer(), params(name="edge", mode="active", device_url="https://fw", address_group="g"), check=False)


def test_unchanged_knoc_makes_no_write():
    server = FakeServer([PASSIVE])
    changed, _before, after, changes, allowlist, result = present(server, params(name="edge", mode="passive"), False)
    assert not changed and changes == [] and allowlist is None and result["allowlist_key_status"] == "unchanged"
    assert server.calls == [("list", "edge")] and after["allowlist_url"] == "https://kk/a.txt"


def test_update_sends_the_document_and_only_reports_what_differs():
    server = FakeServer([PASSIVE])
    changed, _before, after, changes, _allowlist, _result = present(
        server, params(name="edge", mode="passive", description="edge firewall"), False)
    assert changed and changes == ["description"] and after["description"] == "edge firewall"
    assert server.calls[-1][0] == "put"


@pytest.mark.parametrize("key_ok, status, rotated", [(True, "verified", False), (False, "rotated", True)])
def test_ensure_rotates_only_a_key_that_does_not_work(key_ok, status, rotated):
    server = FakeServer([PASSIVE], key_ok=key_ok)
    changed, _b, _a, _c, allowlist, result = present(
        server, params(name="edge", mode="passive", allowlist_key="ensure", allowlist_api_key="held-key"), False)
    assert result["allowlist_key_status"] == status and changed is rotated
    assert (allowlist or {}).get("api_key") == ("rotated-key" if rotated else None)
    assert ("allowlist", "https://kk/a.txt") in server.calls


def test_require_knoc():
    server = FakeServer([PASSIVE, dict(PASSIVE, id=4, name="Edge")])
    assert require_knoc(server, "edge")["id"] == 3
    with pytest.raises(KnocknocError, match="no Knoc named 'EDGE' on https://knocknoc.example"):
        require_knoc(server, "EDGE")
    twice = FakeServer([PASSIVE, dict(PASSIVE, id=5)])
    with pytest.raises(KnocknocError, match="2 knocs are named 'edge'"):
        require_knoc(twice, "edge")


GRANTS = [{"id": 1, "username": "alice", "ip": "198.51.100.7"},
          {"id": 2, "username": "bob", "ip": "2001:db8::7"},
          {"id": 3, "username": "alice", "ip": "198.51.100.70"},
          {"id": 4, "username": "carol", "ip": "198.51.100.7"}]


def test_grant_matching_is_exact_on_users_and_canonical_on_addresses():
    assert [g["id"] for g in matching_grants(GRANTS, "alice", "198.51.100.7")] == [1]  # not .70
    assert [g["id"] for g in matching_grants(GRANTS, "bob", "2001:DB8:0::7")] == [2]
    assert [g["id"] for g in matching_grants(GRANTS, ip="198.51.100.7")] == [1, 4]
    assert [g["id"] for g in matching_grants(GRANTS, "Alice")] == []
    assert len(matching_grants(GRANTS)) == 4
    assert granted_ips(GRANTS + [{"id": 5, "username": "d", "ip": "2001:DB8::7"}]) == [
        "198.51.100.7", "2001:db8::7", "198.51.100.70"]


@pytest.mark.parametrize("value", ["198.51.100.0/24", "host.example", "", "198.51.100.300"])
def test_grant_ip_is_one_address(value):
    with pytest.raises(KnocknocError, match="ip must be one IPv4 or IPv6 address"):
        grant_ip(value)
    assert grant_ip(" 2001:DB8::7 ") == "2001:db8::7"
