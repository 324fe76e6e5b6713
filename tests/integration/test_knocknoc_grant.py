"""knocknoc_grant / knocknoc_grant_info against the lab's Knocknoc server (its modelled grant API).

State is checked through the lab itself (plain requests to the server and its dump), never through
the collection's client."""

import json

import pytest

ALICE_IP = "198.51.100.7"


@pytest.fixture
def kk(labview):
    return labview.device("knocknoc")


@pytest.fixture
def knoc_id(kk):
    reply = kk.post("/api/v1/knocs", json={"name": "edge", "type": "firewalls_appliances", "vendor": "fortinet",
                                           "mode": "passive"})
    assert reply.status_code == 201, reply.text
    return reply.json()["knoc"]["id"]


def grants(labview, name="edge"):
    """The knoc's active grants as the lab holds them."""
    knocs = labview.control("GET", "/devices/knocknoc/dump")["knocs"]
    return [k for k in knocs if k["name"] == name][0]["grants"]


def requests_to(labview):
    return labview.counters()["knocknoc"]["requests"]


def test_grant_is_idempotent_on_user_and_address(labview, run_module, knoc_id):
    args = dict(labview.connection("knocknoc"), knoc="edge", username="alice", ip=ALICE_IP, duration_minutes=30)
    writes = labview.writes("knocknoc")  # the knoc
    checked = run_module("knocknoc_grant", args, check=True, diff=True)
    assert checked["changed"] and checked["grant"] == {"knoc_id": knoc_id, "username": "alice", "ip": ALICE_IP}
    assert checked["diff"]["before"] == {"grants": []} and grants(labview) == []
    assert labview.writes("knocknoc") == writes

    created = run_module("knocknoc_grant", args, diff=True)
    assert created["changed"] and created["knoc_id"] == knoc_id and created["removed"] == []
    assert created["grant"]["username"] == "alice" and created["grant"]["ip"] == ALICE_IP
    [held] = grants(labview)
    assert held["id"] == created["grant"]["id"] and held["expires_at"] == created["grant"]["expires_at"]

    before = requests_to(labview)
    again = run_module("knocknoc_grant", dict(args, duration_minutes=5))
    assert not again["changed"] and again["grant"] == created["grant"]  # left as it is, not renewed
    assert requests_to(labview) - before == 2  # the knoc by name, its grants: as the role's uri tasks did
    assert labview.writes("knocknoc") == writes + 1

    # Another user on the same address, and the same user on another address, are other grants.
    assert run_module("knocknoc_grant", dict(args, username="bob"))["changed"]
    assert run_module("knocknoc_grant", dict(args, ip="198.51.100.70"))["changed"]
    assert len(grants(labview)) == 3


def test_addresses_compare_in_canonical_form(labview, run_module, knoc_id):
    args = dict(labview.connection("knocknoc"), knoc="edge", user="carol", ip="2001:DB8:0::7")
    created = run_module("knocknoc_grant", args)
    assert created["changed"] and created["grant"]["ip"] == "2001:db8::7"
    assert not run_module("knocknoc_grant", dict(args, ip="2001:db8::7"))["changed"]
    info = run_module("knocknoc_grant_info", dict(labview.connection("knocknoc"), knoc="edge", ip="2001:db8:0:0::7"))
    assert [g["username"] for g in info["grants"]] == ["carol"] and info["ips"] == ["2001:db8::7"]


def test_revoke_ends_the_users_grants_only(labview, run_module, knoc_id, kk):
    for user in ("alice", "bob"):
        kk.post("/api/v1/knocs/%d/grants" % knoc_id, json={"username": user, "ip": ALICE_IP}).raise_for_status()
    args = dict(labview.connection("knocknoc"), knoc="edge", username="alice", ip=ALICE_IP, state="absent")

    checked = run_module("knocknoc_grant", args, check=True)
    assert checked["changed"] and [g["username"] for g in checked["removed"]] == ["alice"]
    assert len(grants(labview)) == 2

    removed = run_module("knocknoc_grant", args, diff=True)
    assert removed["changed"] and removed["grant"] is None and removed["diff"]["after"] == {"grants": []}
    assert [g["username"] for g in grants(labview)] == ["bob"]
    assert not run_module("knocknoc_grant", args)["changed"]


def test_grants_expire_on_the_server(labview, run_module, knoc_id):
    args = dict(labview.connection("knocknoc"), knoc="edge", username="alice", ip=ALICE_IP, duration_minutes=10)
    run_module("knocknoc_grant", args)
    labview.advance(11 * 60)
    info = run_module("knocknoc_grant_info", dict(labview.connection("knocknoc"), knoc="edge"))
    assert info["grants"] == [] and info["ips"] == []
    assert run_module("knocknoc_grant", args)["changed"]  # a new sign-in


def test_info_lists_and_filters(labview, run_module, knoc_id, kk):
    writes = labview.writes("knocknoc")
    for user, ip in (("alice", ALICE_IP), ("bob", ALICE_IP), ("alice", "203.0.113.9")):
        kk.post("/api/v1/knocs/%d/grants" % knoc_id, json={"username": user, "ip": ip}).raise_for_status()
    writes += 3
    conn = labview.connection("knocknoc")
    every = run_module("knocknoc_grant_info", dict(conn, knoc="edge"), check=True)
    assert not every["changed"] and every["knoc_id"] == knoc_id
    assert [(g["username"], g["ip"]) for g in every["grants"]] == [
        ("alice", ALICE_IP), ("bob", ALICE_IP), ("alice", "203.0.113.9")]
    assert every["ips"] == [ALICE_IP, "203.0.113.9"]
    alice = run_module("knocknoc_grant_info", dict(conn, knoc="edge", username="alice"))
    assert alice["ips"] == [ALICE_IP, "203.0.113.9"] and len(alice["grants"]) == 2
    assert run_module("knocknoc_grant_info", dict(conn, knoc="edge", username="alice", ip="203.0.113.9"))["ips"] == [
        "203.0.113.9"]
    assert run_module("knocknoc_grant_info", dict(conn, knoc="edge", username="dave"))["grants"] == []
    assert labview.writes("knocknoc") == writes


@pytest.mark.parametrize("module, args, words", [
    ("knocknoc_grant", {"knoc": "edge", "username": "alice", "ip": "198.51.100.0/24"}, "ip must be one IPv4 or IPv6"),
    ("knocknoc_grant", {"knoc": "edge", "username": " ", "ip": ALICE_IP}, "username must not be empty"),
    ("knocknoc_grant", {"knoc": "edge", "username": "a", "ip": ALICE_IP, "duration_minutes": -5}, "duration_minutes"),
    ("knocknoc_grant_info", {"knoc": "edge", "ip": "not-an-ip"}, "ip must be one IPv4 or IPv6"),
])
def test_invalid_input_fails_before_any_request(labview, run_module, module, args, words):
    before = requests_to(labview)
    result = run_module(module, dict(labview.connection("knocknoc"), **args))
    assert result["failed"] and words in result["msg"], result
    assert requests_to(labview) == before


@pytest.mark.parametrize("module", ["knocknoc_grant", "knocknoc_grant_info"])
def test_missing_knoc_and_bad_token(labview, run_module, knoc_id, module):
    args = dict(labview.connection("knocknoc"), knoc="Edge", username="alice", ip=ALICE_IP)
    missing = run_module(module, args)
    assert missing["failed"] and "no Knoc named 'Edge'" in missing["msg"] and "case-sensitive" in missing["msg"]
    refused = run_module(module, dict(args, knoc="edge", token="wrong-token-value"))
    assert refused["failed"] and "authentication failed" in refused["msg"]
    assert "wrong-token-value" not in json.dumps(refused)


def test_playbook_through_the_action_group(labview, run_playbook, knoc_id):
    info = labview.info("knocknoc")
    rc, output, results = run_playbook("""
- name: Grants through module_defaults
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.knocknoc:
      url: "{{ kk.url }}"
      token: "{{ kk.token }}"
      ca_path: "{{ kk.ca_path }}"
  tasks:
    - name: Grant
      knocknoc.fortinet.knocknoc_grant:
        knoc: edge
        username: alice
        ip: 198.51.100.7
    - name: List
      knocknoc.fortinet.knocknoc_grant_info:
        knoc: edge
    - name: Revoke
      knocknoc.fortinet.knocknoc_grant:
        knoc: edge
        username: alice
        ip: 198.51.100.7
        state: absent
""", extra_vars={"kk": labview.connection("knocknoc")})
    assert rc == 0, output[-3000:]
    assert results["Grant"]["changed"] and results["List"]["ips"] == [ALICE_IP] and results["Revoke"]["changed"]
    assert info["admin_token"] not in output
    assert grants(labview) == []
