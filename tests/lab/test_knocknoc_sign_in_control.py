"""The lab's control calls that sign users in and out of a Knoc (used by the Event-Driven Ansible tests and benchmark
for bursts): the grants they make are the API's, the allowlist follows, spread calls really spread."""

import time

import pytest
import requests


def admin(labview):
    return {"Authorization": "Bearer " + labview.info("knocknoc")["admin_token"]}


@pytest.fixture
def knoc(labview):
    reply = labview.device("knocknoc").post("/api/v1/knocs", headers=admin(labview), json={
        "name": "edge", "mode": "passive_plus", "device_url": labview.info("fgt1")["url"],
        "authorization_token": "unused", "external_connector_name": "kk_allow"})
    assert reply.status_code == 201, reply.text
    return reply.json()


def allowlist(labview, knoc):
    reply = labview.device("knocknoc").session.get(knoc["allowlist"]["url"], auth=("apikey", knoc["allowlist"]["api_key"]),
                                                   timeout=15)
    assert reply.status_code == 200
    return reply.text.split()


def test_sign_in_and_out_at_once_are_grants_of_the_api(labview, knoc):
    result = labview.control("POST", "/devices/knocknoc/sign-in", {"knoc": "edge", "grants": [
        {"username": "alice", "ip": "198.51.100.7"}, {"username": "bob", "ip": "2001:DB8::8"}]})
    assert [g["username"] for g in result["sign-in"]] == ["alice", "bob"]
    assert allowlist(labview, knoc) == ["198.51.100.7", "2001:db8::8"]
    grants = labview.device("knocknoc").get("/api/v1/knocs/%d/grants" % knoc["knoc"]["id"], headers=admin(labview))
    assert sorted(g["ip"] for g in grants.json()["grants"]) == ["198.51.100.7", "2001:db8::8"]
    result = labview.control("POST", "/devices/knocknoc/sign-out", {"knoc": knoc["knoc"]["id"], "grants": [
        {"username": "alice", "ip": "198.51.100.7"}, {"username": "carol", "ip": "198.51.100.9"}]})
    assert [r["ended"] for r in result["sign-out"]] == [1, 0]
    assert allowlist(labview, knoc) == ["2001:db8::8"]


def test_a_spread_sign_in_answers_at_once_and_spreads_the_grants(labview, knoc):
    count, spread = 40, 2.0
    grants = [{"username": "user%03d" % i, "ip": "198.18.0.%d" % (i + 1)} for i in range(count)]
    start = time.monotonic()
    result = labview.control("POST", "/devices/knocknoc/sign-in", {"knoc": "edge", "grants": grants, "spread_seconds": spread})
    assert result == {"scheduled": count, "spread_seconds": spread}
    reads = 0
    while True:
        listed = len(allowlist(labview, knoc))
        elapsed = time.monotonic() - start
        # The i-th grant is due at i * spread / count: never more listed than were due when the read returned.
        assert listed <= int(count * elapsed / spread) + 1, (listed, elapsed)
        reads += 1
        if listed == count:
            break
        assert elapsed < 30
        time.sleep(0.05)
    assert reads > 1


@pytest.mark.parametrize("body", [{}, {"knoc": "nope", "grants": []}, {"knoc": "edge", "grants": ["alice"]},
                                  {"knoc": "edge", "grants": [{"username": "alice", "ip": "not-an-ip"}]}])
def test_bad_sign_in_calls_are_refused(labview, knoc, body):
    reply = requests.post(labview.control_url + "/devices/knocknoc/sign-in", json=body, timeout=15)
    assert reply.status_code == 400, reply.text
    assert allowlist(labview, knoc) == []
