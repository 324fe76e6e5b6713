"""Passive and Passive+ end to end, no agent: a Knoc on the lab's Knocknoc, the external resource on
fgt1 made by fortinet_external_resource, a policy that uses it, and grants that reach the FortiGate
on its next poll of the allowlist (the lab clock), as policy-lookup shows."""

import time

import pytest

MODULE = "fortinet_external_resource"
FEED = "kk_passive"
USER_IP = "198.51.100.7"
OTHER_IP = "198.51.100.8"
PUSHED_IP = "203.0.113.50"


@pytest.fixture
def passive(labview, run_module):
    """A Passive Knoc, the external resource polling its allowlist every minute, and a policy."""
    knocknoc = labview.device("knocknoc")
    reply = knocknoc.post("/api/v1/knocs", json={"name": "passive-e2e", "mode": "passive",
                                                 "allowlist_ip_restrictions": ["127.0.0.1/32"]})
    assert reply.status_code == 201, reply.text
    knoc_id = reply.json()["knoc"]["id"]
    allowlist = reply.json()["allowlist"]
    fgt = labview.info("fgt1")
    result = run_module(MODULE, dict(
        url=fgt["url"], token=fgt["tokens"]["kk-passiveplus"], ca_path=fgt["ca_path"],
        tls_server_name=fgt["tls_server_name"], name=FEED, resource=allowlist["url"], username=allowlist["username"],
        password=allowlist["api_key"], refresh_rate=1, server_identity_check="full"))
    assert result["changed"] is True, result
    assert allowlist["api_key"] not in str(result)
    policy = labview.device("fgt1").post("/api/v2/cmdb/firewall/policy", params={"vdom": "root"}, json={
        "policyid": 0, "name": "knocknoc-users", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
        "srcaddr": [{"name": FEED}], "dstaddr": [{"name": "all"}], "service": [{"name": "HTTPS"}],
        "schedule": "always", "action": "accept"})
    assert policy.status_code == 200, policy.text
    # A new resource polls at once (on the next lab tick), then every minute: wait for that first
    # poll to be over, so that the grants below can only arrive with a later one.
    labview.control("POST", "/devices/fgt1/poll", {"vdom": "root", "name": FEED})
    state = labview.lab.devices["fgt1"].resources[("root", FEED)]
    deadline = time.monotonic() + 5
    while state.polling and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not state.polling
    return {"knoc_id": knoc_id, "policy_id": policy.json()["mkey"], "knocknoc": knocknoc,
            "fgt": labview.device("fgt1")}


def grant(ctx, ip, minutes=30, user="alice"):
    reply = ctx["knocknoc"].post("/api/v1/knocs/%d/grants" % ctx["knoc_id"],
                                 json={"username": user, "ip": ip, "duration_minutes": minutes})
    assert reply.status_code in (200, 201), reply.text
    return reply.json()["grant"]["id"]


def feed_status(ctx):
    reply = ctx["fgt"].get("/api/v2/monitor/system/external-resource/entry-list", params={"mkey": FEED})
    return reply.json()["results"]


def test_passive_grant_reaches_the_fortigate_on_the_next_poll(passive, labview):
    fgt = passive["fgt"]
    status = feed_status(passive)
    # Basic auth accepted; a second poll of the unchanged (empty) list may already have answered 304.
    assert status["status"] == "success" and status["http_status_code"] in (200, 304), status
    assert fgt.entries(FEED) == [] and fgt.admitted(USER_IP) == 0

    grant_id = grant(passive, USER_IP)
    # Passive: nothing happens until the FortiGate polls (refresh_rate 1 minute on the lab clock).
    assert fgt.entries(FEED) == [] and fgt.admitted(USER_IP) == 0
    labview.advance(61)
    assert fgt.entries(FEED) == [USER_IP]
    assert fgt.admitted(USER_IP) == passive["policy_id"]
    assert fgt.admitted(OTHER_IP) == 0

    reply = passive["knocknoc"].request("DELETE", "/api/v1/knocs/%d/grants/%d" % (passive["knoc_id"], grant_id))
    assert reply.status_code == 204
    assert fgt.admitted(USER_IP) == passive["policy_id"]  # until the next poll
    labview.advance(61)
    assert fgt.entries(FEED) == [] and fgt.admitted(USER_IP) == 0


def test_passive_grant_expiry(passive, labview):
    fgt = passive["fgt"]
    grant(passive, USER_IP, minutes=2)
    labview.advance(61)
    assert fgt.admitted(USER_IP) == passive["policy_id"]
    labview.advance(120)  # the grant has expired on Knocknoc; this tick's poll drops it
    assert fgt.entries(FEED) == [] and fgt.admitted(USER_IP) == 0


def test_passive_plus_push_then_reconciliation(passive, labview):
    fgt = passive["fgt"]
    grant(passive, USER_IP)
    labview.advance(61)
    # Passive+: a push makes an IP appear at once, without waiting for a poll...
    reply = fgt.post("/api/v2/monitor/system/external-resource/dynamic", params={"vdom": "root"},
                     json={"commands": [{"name": FEED, "command": "add", "entries": [PUSHED_IP]}]})
    assert reply.status_code == 200 and reply.json()["status"] == "success", reply.text
    # Lab switch pushed_listed_on_feed: a FortiGate may keep pushed entries of a feed in force without listing them.
    listed = labview.info("fgt1")["switches"]["pushed_listed_on_feed"]
    assert fgt.entries(FEED) == sorted([USER_IP, PUSHED_IP] if listed else [USER_IP])
    assert fgt.admitted(PUSHED_IP) == passive["policy_id"]
    # ...and the next poll that downloads the allowlist, which does not list it, removes it; the granted IP stays.
    # Lab switch conditional_allowlist: an unchanged allowlist answers 304 and the FortiGate keeps its list,
    # pushed entry included, until the allowlist changes ("the next poll reconciles" only then).
    conditional = labview.info("knocknoc")["switches"]["conditional_allowlist"]
    labview.advance(61)
    expected = [USER_IP]
    if conditional:
        assert feed_status(passive)["http_status_code"] == 304
        assert fgt.admitted(PUSHED_IP) == passive["policy_id"]
        grant(passive, OTHER_IP)
        labview.advance(61)
        expected = sorted([USER_IP, OTHER_IP])
    assert feed_status(passive)["http_status_code"] == 200
    assert fgt.entries(FEED) == expected
    assert fgt.admitted(PUSHED_IP) == 0 and fgt.admitted(USER_IP) == passive["policy_id"]
