"""knocknoc_allowlist_info against the lab's Knocknoc server: the documented allowlist (EDL) endpoint.

Knocs and grants (the stand-in for users signing in) are made with plain requests to the lab's
modelled API, not with the collection.
"""

import json

import pytest


@pytest.fixture
def kk(labview):
    return labview.device("knocknoc")


@pytest.fixture
def conn(labview):
    return {"ca_path": labview.state["ca_path"]}


def create_knoc(kk, **fields):
    reply = kk.post("/api/v1/knocs", json=dict({"mode": "passive"}, **fields))
    assert reply.status_code == 201, reply.text
    data = reply.json()
    return data["knoc"]["id"], data["allowlist"]["url"], data["allowlist"]["api_key"]


def grant(kk, knoc_id, username, ip, **extra):
    reply = kk.post("/api/v1/knocs/%d/grants" % knoc_id, json=dict(username=username, ip=ip, **extra))
    assert reply.status_code in (200, 201), reply.text
    return reply.json()["grant"]["id"]


def token_of(url):
    """The secret token in an allowlist URL's path."""
    return url.rsplit("/", 1)[1].split(".")[0]


def revoke(kk, knoc_id, grant_id):
    assert kk.request("DELETE", "/api/v1/knocs/%d/grants/%d" % (knoc_id, grant_id)).status_code == 204


@pytest.fixture
def edl(kk):
    return create_knoc(kk, name="edl")


@pytest.fixture
def info(run_module, conn):
    def run(check=False, expect_failure=False, **args):
        result = run_module("knocknoc_allowlist_info", dict(conn, **args), check=check)
        assert bool(result.get("failed")) == expect_failure, result
        return result
    return run


def test_entries_follow_grants_with_loototl(info, kk, edl, labview):
    knoc_id, url, key = edl
    empty = info(url=url, api_key=key)
    assert empty == {"changed": False, "entries": [], "count": 0, "skipped_lines": [], "format": "txt"}

    alice = grant(kk, knoc_id, "alice", "203.0.113.5")
    # Bob signs in from the same office NAT address, Carol from IPv6 (written long-hand).
    bob = grant(kk, knoc_id, "bob", "203.0.113.5")
    grant(kk, knoc_id, "carol", "2001:0db8:0000::0007", duration_minutes=5)
    result = info(url=url, api_key=key)
    assert result["entries"] == ["203.0.113.5", "2001:db8::7"] and result["count"] == 2

    # LOOTOTL: the shared address stays until the last of its users leaves.
    revoke(kk, knoc_id, alice)
    assert info(url=url, api_key=key)["entries"] == ["203.0.113.5", "2001:db8::7"]
    revoke(kk, knoc_id, bob)
    assert info(url=url, api_key=key)["entries"] == ["2001:db8::7"]
    # Grants end on the server's clock.
    labview.advance(6 * 60)
    assert info(url=url, api_key=key)["count"] == 0
    # Reading is not writing.
    writes = labview.writes("knocknoc")
    info(url=url, api_key=key, check=True)
    assert labview.writes("knocknoc") == writes


def test_json_format_and_any_username(info, kk, edl):
    knoc_id, url, key = edl
    grant(kk, knoc_id, "alice", "198.51.100.7")
    result = info(url=url[:-len(".txt")] + ".json", api_key=key, username="fortigate-01")
    assert result["format"] == "json" and result["entries"] == ["198.51.100.7"]
    # The v5.2-era URL without a suffix serves text.
    assert info(url=url[:-len(".txt")], api_key=key)["format"] == "txt"


def test_retrieval_is_logged_by_the_server(info, kk, edl, labview):
    url, key = edl[1:]
    info(url=url, api_key=key, username="ansible")
    events = labview.control("GET", "/devices/knocknoc/dump")["events"]
    assert events[-1]["event"] == "AllowlistRetrieved" and events[-1]["username"] == "ansible"


def test_wrong_key_is_a_clear_error(info, edl, labview):
    url, key = edl[1:]
    failed = info(expect_failure=True, url=url, api_key="not-the-key")
    assert "Knocknoc authentication failed" in failed["msg"] and "HTTP 401" in failed["msg"]
    assert "not-the-key" not in json.dumps(failed) and key not in json.dumps(failed)
    assert failed["details"]["http_status"] == 401


def test_source_outside_the_key_restrictions(info, kk):
    url, key = create_knoc(kk, name="narrow", allowlist_ip_restrictions=["198.51.100.0/24"])[1:]
    failed = info(expect_failure=True, url=url, api_key=key)
    assert "authorization failed" in failed["msg"] and "HTTP 403" in failed["msg"]
    assert "IP restrictions" in failed["hint"]
    assert key not in json.dumps(failed)


def test_unknown_allowlist(info, kk, edl):
    knoc_id, url, key = edl
    assert kk.request("DELETE", "/api/v1/knocs/%d" % knoc_id).status_code == 204
    failed = info(expect_failure=True, url=url, api_key=key)
    assert "Allowlist not found" in failed["msg"]
    # The URL's own token is a secret too: the message names the allowlist without it.
    assert "/<redacted>.txt" in failed["msg"] and token_of(url) not in json.dumps(failed)


def test_unparseable_reply(info, edl, labview):
    url, key = edl[1:]
    labview.fault("knocknoc", kind="malformed", match="/allowlists/")
    failed = info(expect_failure=True, url=url, api_key=key)
    assert "Invalid or unexpected response" in failed["msg"]
    assert token_of(url) not in json.dumps(failed)


@pytest.mark.parametrize("url", [
    "https://apikey:{key}@{host}/api/v1/allowlists/a/b.txt",
    "http://{host}/api/v1/allowlists/a/b.txt",
])
def test_refused_urls_make_no_request(info, edl, labview, url):
    real_url, key = edl[1:]
    host = real_url.split("/")[2]
    before = labview.counters()["knocknoc"]["requests"]
    failed = info(expect_failure=True, url=url.format(key=key, host=host), api_key=key)
    assert "url must" in failed["msg"]
    assert key not in json.dumps(failed)
    assert labview.counters()["knocknoc"]["requests"] == before


def test_playbook(run_playbook, kk, edl, labview):
    knoc_id, url, key = edl
    grant(kk, knoc_id, "alice", "192.0.2.10")
    playbook = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.knocknoc:
      url: "{{ kk_url }}"
      token: "{{ kk_token }}"
      ca_path: "{{ kk_ca }}"
  tasks:
    - name: read
      knocknoc.fortinet.knocknoc_allowlist_info:
        url: "{{ edl_url }}"
        api_key: "{{ edl_key }}"
      register: edl
    - name: check
      ansible.builtin.assert:
        that:
          - edl is not changed
          - edl.entries == ['192.0.2.10']
          - edl.count == 1
          - edl.format == 'txt'
"""
    info_ = labview.info("knocknoc")
    rc, output, results = run_playbook(playbook, check=True, extra_vars={
        "kk_url": info_["url"], "kk_token": info_["admin_token"], "kk_ca": labview.state["ca_path"],
        "edl_url": url, "edl_key": key})
    assert rc == 0, output
    assert results["read"]["entries"] == ["192.0.2.10"]
    assert results["read"]["skipped_lines"] == [] and "skipped" not in results["read"]
    assert key not in output and info_["admin_token"] not in output and token_of(url) not in output
