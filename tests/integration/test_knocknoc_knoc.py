"""knocknoc_knoc against the lab's Knocknoc server (its modelled knoc API and the documented allowlist).

State is checked through the lab itself (plain requests to the server and its dump), never through
the collection's client.
"""

import json

import pytest
import requests

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import redact_allowlist_url

FGT_TOKEN = "fgt-api-token-0123456789abcdef"
FMG_TOKEN = "fmg-api-token-fedcba9876543210"
NEW_TOKEN = "fgt-api-token-rotated-000000001"


@pytest.fixture
def kk(labview):
    return labview.device("knocknoc")


@pytest.fixture
def conn(labview):
    return labview.connection("knocknoc")


@pytest.fixture
def knoc(run_module, conn):
    """Run knocknoc_knoc with the lab connection; fail the test if the module failed unexpectedly."""
    def run(check=False, diff=False, expect_failure=False, **args):
        result = run_module("knocknoc_knoc", dict(conn, **args), check=check, diff=diff)
        assert bool(result.get("failed")) == expect_failure, result
        return result
    return run


def stored(labview, name):
    """The knoc as the lab holds it (device token and allowlist key included)."""
    knocs = labview.control("GET", "/devices/knocknoc/dump")["knocs"]
    matches = [k for k in knocs if k["name"] == name]
    return matches[0] if matches else None


def fetch(kk, url, key):
    """Read an allowlist as a FortiGate would (HTTP basic auth)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(kk.lab.authority.ca_path)
    return session.get(url, auth=("apikey", key), timeout=10)


def without_key(result):
    """The result minus the one field allowed to carry the allowlist key."""
    return json.dumps({k: v for k, v in result.items() if k != "allowlist_api_key"})


def warnings_text(result):
    return json.dumps(result.get("warnings", []))


PASSIVE_PLUS_FGT = dict(name="fw-edge", mode="passive_plus", device_url="https://fw.example.com",
                        authorization_token=FGT_TOKEN, external_connector_name="knocknoc-users",
                        allowlist_ip_restrictions=["127.0.0.1/32", "198.51.100.10"])
PASSIVE_PLUS_FMG = dict(name="fmg-push", mode="passive_plus", use_fortimanager=True,
                        device_url="https://fmg.example.com", authorization_token=FMG_TOKEN,
                        external_connector_name="knocknoc-users", adom="emea",
                        device_targets=["FGVM01TM24000003", "FGVM01TM24000002"])
ACTIVE_FGT = dict(name="fw-active", mode="active", device_url="https://fw.example.com:10443",
                  authorization_token=FGT_TOKEN, address_group="knocknoc_users", vdom="dmz",
                  grant_duration_minutes=30, insecure=True)
ACTIVE_FMG = dict(name="fmg-admins", mode="active", use_fortimanager=True, device_url="https://fmg.example.com",
                  authorization_token=FMG_TOKEN)


def test_passive_lifecycle(knoc, labview, kk):
    args = dict(name="edl", mode="passive", description="air-gapped site")

    checked = knoc(check=True, diff=True, **args)
    assert checked["changed"] and checked["allowlist_key_status"] == "new"
    assert "allowlist_api_key" not in checked and checked["knoc"]["id"] is None
    assert checked["diff"]["before"] == {} and checked["diff"]["after"]["mode"] == "passive"
    assert labview.writes("knocknoc") == 0 and stored(labview, "edl") is None

    created = knoc(return_allowlist_url=True, **args)
    assert created["changed"] and created["allowlist_key_status"] == "new"
    lab_knoc = stored(labview, "edl")
    assert lab_knoc["mode"] == "passive" and lab_knoc["description"] == "air-gapped site"
    assert created["knoc"]["id"] == lab_knoc["id"]
    # Asked for: the URL in clear in allowlist_url only; its token is redacted everywhere else.
    token = lab_knoc["allowlist_url"].rsplit("/", 1)[1].split(".")[0]
    assert created["allowlist_url"] == lab_knoc["allowlist_url"]
    assert created["knoc"]["allowlist_url"] == redact_allowlist_url(lab_knoc["allowlist_url"])
    assert created["knoc"]["allowlist_url"].endswith("/<redacted>.txt")
    assert token not in json.dumps(dict(created, allowlist_url=None))
    assert created["allowlist_username"] == "apikey"
    # The key the module hands over is the one the allowlist accepts.
    assert created["allowlist_api_key"] == lab_knoc["allowlist"]["api_key"]
    assert fetch(kk, created["allowlist_url"], created["allowlist_api_key"]).status_code == 200
    # Defaults: the whole Internet may use the key, which the docs advise narrowing.
    assert created["knoc"]["allowlist_ip_restrictions"] == ["0.0.0.0/0", "::/0"]
    assert "narrowing allowlist_ip_restrictions" in warnings_text(created)

    writes = labview.writes("knocknoc")
    again = knoc(**args)
    assert not again["changed"] and again["changes"] == []
    assert again["allowlist_key_status"] == "unchanged" and "allowlist_api_key" not in again
    assert again["allowlist_url"] == redact_allowlist_url(created["allowlist_url"])  # not asked for
    assert token not in json.dumps(again)
    assert labview.writes("knocknoc") == writes

    gone_check = knoc(check=True, name="edl", state="absent")
    assert gone_check["changed"] and labview.writes("knocknoc") == writes
    gone = knoc(name="edl", state="absent", diff=True)
    assert gone["changed"] and gone["knoc"] == {} and gone["diff"]["after"] == {}
    assert gone["diff"]["before"]["name"] == "edl"
    assert stored(labview, "edl") is None
    assert fetch(kk, created["allowlist_url"], created["allowlist_api_key"]).status_code == 404
    assert not knoc(name="edl", state="absent")["changed"]


def test_passive_plus_fortigate(knoc, labview):
    created = knoc(diff=True, **PASSIVE_PLUS_FGT)
    assert created["changed"]
    lab_knoc = stored(labview, "fw-edge")
    assert lab_knoc["authorization_token"] == FGT_TOKEN  # the agent's device token reached the server
    assert lab_knoc["use_fortimanager"] is False and lab_knoc["vdom"] == "root"
    assert lab_knoc["external_connector_name"] == "knocknoc-users"
    assert lab_knoc["allowlist_ip_restrictions"] == ["127.0.0.1/32", "198.51.100.10/32"]
    assert created["knoc"]["authorization_token_set"] is True
    assert "authorization_token" in created["changes"]
    assert "narrowing" not in warnings_text(created)
    # Neither secret leaks outside the one field meant for the key.
    assert FGT_TOKEN not in json.dumps(created)
    assert created["allowlist_api_key"] not in without_key(created)

    writes = labview.writes("knocknoc")
    # Same settings in another spelling: the restriction as /32, no change.
    again = knoc(diff=True, **dict(PASSIVE_PLUS_FGT, allowlist_ip_restrictions=["198.51.100.10/32", "127.0.0.1"]))
    assert not again["changed"] and labview.writes("knocknoc") == writes
    assert again["diff"]["before"] == again["diff"]["after"]


def test_passive_plus_fortimanager(knoc, labview):
    created = knoc(**PASSIVE_PLUS_FMG)
    lab_knoc = stored(labview, "fmg-push")
    assert lab_knoc["use_fortimanager"] is True and lab_knoc["adom"] == "emea"
    assert sorted(lab_knoc["device_targets"]) == ["FGVM01TM24000002", "FGVM01TM24000003"]
    assert lab_knoc["vdom"] is None  # VDOMs belong to FortiGate-direct knocs
    assert created["allowlist_api_key"] == lab_knoc["allowlist"]["api_key"]

    writes = labview.writes("knocknoc")
    reordered = dict(PASSIVE_PLUS_FMG, device_targets=["FGVM01TM24000002", "FGVM01TM24000003"])
    assert not knoc(**reordered)["changed"]
    assert labview.writes("knocknoc") == writes

    # Empty targets = all FortiGates of the ADOM.
    widened = knoc(diff=True, **dict(PASSIVE_PLUS_FMG, device_targets=[]))
    assert widened["changed"] and widened["changes"] == ["device_targets"]
    assert widened["diff"]["after"]["device_targets"] == []
    assert stored(labview, "fmg-push")["device_targets"] == []
    # The allowlist (and its key) survive an update.
    assert stored(labview, "fmg-push")["allowlist"]["api_key"] == created["allowlist_api_key"]


def test_active_fortigate(knoc, labview):
    created = knoc(**ACTIVE_FGT)
    assert created["changed"] and created["allowlist_key_status"] == "none"
    assert created["allowlist_url"] is None and "allowlist_api_key" not in created
    assert "allowlist_username" not in created
    lab_knoc = stored(labview, "fw-active")
    assert lab_knoc["address_group"] == "knocknoc_users" and lab_knoc["prefix"] == "kk_"
    assert lab_knoc["vdom"] == "dmz" and lab_knoc["grant_duration_minutes"] == 30 and lab_knoc["insecure"] is True
    assert "allowlist" not in lab_knoc
    assert FGT_TOKEN not in json.dumps(created)

    writes = labview.writes("knocknoc")
    assert not knoc(**ACTIVE_FGT)["changed"]
    assert labview.writes("knocknoc") == writes

    # grant_duration_minutes=0 removes the Knoc's override.
    cleared = knoc(diff=True, **dict(ACTIVE_FGT, grant_duration_minutes=0, prefix="knoc_"))
    assert cleared["changes"] == ["grant_duration_minutes", "prefix"]
    assert cleared["diff"]["before"]["grant_duration_minutes"] == 30
    assert cleared["diff"]["after"]["grant_duration_minutes"] is None
    lab_knoc = stored(labview, "fw-active")
    assert lab_knoc["grant_duration_minutes"] is None and lab_knoc["prefix"] == "knoc_"


def test_active_fortimanager(knoc, labview):
    created = knoc(**ACTIVE_FMG)
    lab_knoc = stored(labview, "fmg-admins")
    assert lab_knoc["mode"] == "active" and lab_knoc["use_fortimanager"] is True
    assert lab_knoc["address_group"] is None and lab_knoc["vdom"] is None and lab_knoc["adom"] == "root"
    assert lab_knoc["authorization_token"] == FMG_TOKEN
    assert created["allowlist_key_status"] == "none"
    writes = labview.writes("knocknoc")
    assert not knoc(**ACTIVE_FMG)["changed"]
    assert not knoc(**dict(ACTIVE_FMG, adom="root"))["changed"]
    assert labview.writes("knocknoc") == writes


def test_update_check_mode_and_diff(knoc, labview):
    knoc(**PASSIVE_PLUS_FGT)
    writes = labview.writes("knocknoc")
    args = dict(PASSIVE_PLUS_FGT, description="edge firewalls", external_connector_name="kk-edge")

    checked = knoc(check=True, diff=True, **args)
    assert checked["changed"] and checked["changes"] == ["description", "external_connector_name"]
    assert checked["diff"]["before"]["external_connector_name"] == "knocknoc-users"
    assert checked["diff"]["after"]["external_connector_name"] == "kk-edge"
    assert labview.writes("knocknoc") == writes
    assert stored(labview, "fw-edge")["external_connector_name"] == "knocknoc-users"

    applied = knoc(diff=True, **args)
    assert applied["diff"] == checked["diff"]  # check mode predicted exactly what the server did
    assert stored(labview, "fw-edge")["external_connector_name"] == "kk-edge"
    assert stored(labview, "fw-edge")["authorization_token"] == FGT_TOKEN
    assert not knoc(**args)["changed"]


def test_mode_switch_clears_fields_and_creates_allowlist(knoc, labview, kk):
    knoc(**ACTIVE_FGT)
    # Same knoc, now Passive+: the address group, prefix and grant fields of Active go away,
    # the server creates the allowlist and shows its key once.
    switched = knoc(diff=True, return_allowlist_url=True, name="fw-active", mode="passive_plus", device_url="https://fw.example.com:10443",
                    authorization_token="not-sent-again", external_connector_name="knocknoc-users",
                    insecure=True)
    assert switched["changed"] and switched["allowlist_key_status"] == "new"
    assert switched["diff"]["before"]["address_group"] == "knocknoc_users"
    assert switched["diff"]["after"]["address_group"] is None and switched["diff"]["after"]["prefix"] is None
    lab_knoc = stored(labview, "fw-active")
    assert lab_knoc["address_group"] is None and lab_knoc["mode"] == "passive_plus"
    assert lab_knoc["authorization_token"] == FGT_TOKEN  # update_token=on_create: the stored token stays
    assert switched["allowlist_api_key"] == lab_knoc["allowlist"]["api_key"]
    assert fetch(kk, switched["allowlist_url"], switched["allowlist_api_key"]).status_code == 200

    # And back to Active: the allowlist disappears.
    back = knoc(**ACTIVE_FGT)
    assert back["changed"] and back["allowlist_url"] is None and back["allowlist_key_status"] == "none"
    assert fetch(kk, switched["allowlist_url"], switched["allowlist_api_key"]).status_code == 404


def test_update_token(knoc, labview):
    knoc(**ACTIVE_FGT)
    # on_create: a different token is not sent to an existing knoc (the server never shows it).
    assert not knoc(**dict(ACTIVE_FGT, authorization_token=NEW_TOKEN))["changed"]
    assert stored(labview, "fw-active")["authorization_token"] == FGT_TOKEN

    writes = labview.writes("knocknoc")
    checked = knoc(check=True, diff=True, **dict(ACTIVE_FGT, authorization_token=NEW_TOKEN, update_token="always"))
    assert checked["changed"] and checked["changes"] == ["authorization_token"]
    assert labview.writes("knocknoc") == writes

    always = knoc(diff=True, **dict(ACTIVE_FGT, authorization_token=NEW_TOKEN, update_token="always"))
    assert always["changed"] and always["changes"] == ["authorization_token"]
    assert stored(labview, "fw-active")["authorization_token"] == NEW_TOKEN
    assert NEW_TOKEN not in json.dumps(always) and FGT_TOKEN not in json.dumps(always)


def test_allowlist_key_rotate(knoc, labview, kk):
    created = knoc(return_allowlist_url=True, **PASSIVE_PLUS_FGT)
    old_key = created["allowlist_api_key"]

    writes = labview.writes("knocknoc")
    checked = knoc(check=True, allowlist_key="rotate", **PASSIVE_PLUS_FGT)
    assert checked["changed"] and checked["allowlist_key_status"] == "rotated"
    assert "allowlist_api_key" not in checked and labview.writes("knocknoc") == writes
    assert fetch(kk, created["allowlist_url"], old_key).status_code == 200

    rotated = knoc(allowlist_key="rotate", **PASSIVE_PLUS_FGT)
    assert rotated["changed"] and rotated["allowlist_key_status"] == "rotated" and rotated["changes"] == []
    new_key = rotated["allowlist_api_key"]
    assert new_key != old_key and new_key == stored(labview, "fw-edge")["allowlist"]["api_key"]
    assert fetch(kk, created["allowlist_url"], old_key).status_code == 401
    assert fetch(kk, created["allowlist_url"], new_key).status_code == 200
    assert new_key not in without_key(rotated) and old_key not in json.dumps(rotated)
    # The URL stays, only the key changes.
    assert rotated["allowlist_url"] == redact_allowlist_url(created["allowlist_url"])
    assert stored(labview, "fw-edge")["allowlist_url"] == created["allowlist_url"]


def test_allowlist_key_ensure(knoc, labview, kk):
    created = knoc(return_allowlist_url=True, **PASSIVE_PLUS_FGT)
    key = created["allowlist_api_key"]
    writes = labview.writes("knocknoc")

    # The key we hold works: nothing changes, and no key comes back (it is the one we passed).
    kept = knoc(allowlist_key="ensure", allowlist_api_key=key, **PASSIVE_PLUS_FGT)
    assert not kept["changed"] and kept["allowlist_key_status"] == "verified"
    assert "allowlist_api_key" not in kept and key not in json.dumps(kept)
    assert labview.writes("knocknoc") == writes

    # A stale key (lost, or rotated elsewhere): check mode says so without writing ...
    checked = knoc(check=True, allowlist_key="ensure", allowlist_api_key="stale-key", **PASSIVE_PLUS_FGT)
    assert checked["changed"] and checked["allowlist_key_status"] == "rotated"
    assert labview.writes("knocknoc") == writes
    # ... and a real run hands over a new, working key.
    fixed = knoc(allowlist_key="ensure", allowlist_api_key="stale-key", **PASSIVE_PLUS_FGT)
    assert fixed["changed"] and fixed["allowlist_key_status"] == "rotated"
    assert fetch(kk, created["allowlist_url"], fixed["allowlist_api_key"]).status_code == 200
    assert "stale-key" not in json.dumps(fixed)

    # Without a key to check, ensure always gets a new one.
    fresh = knoc(allowlist_key="ensure", **PASSIVE_PLUS_FGT)
    assert fresh["allowlist_key_status"] == "rotated"
    assert fetch(kk, created["allowlist_url"], fresh["allowlist_api_key"]).status_code == 200
    assert fetch(kk, created["allowlist_url"], fixed["allowlist_api_key"]).status_code == 401

    # On creation the new knoc's key is the one returned; no extra rotation.
    new = knoc(allowlist_key="ensure", **PASSIVE_PLUS_FMG)
    assert new["allowlist_key_status"] == "new"
    assert new["allowlist_api_key"] == stored(labview, "fmg-push")["allowlist"]["api_key"]


def test_allowlist_key_ensure_outside_ip_restrictions(knoc, labview):
    args = dict(PASSIVE_PLUS_FGT, allowlist_ip_restrictions=["198.51.100.10/32"])
    key = knoc(**args)["allowlist_api_key"]
    writes = labview.writes("knocknoc")
    failed = knoc(expect_failure=True, allowlist_key="ensure", allowlist_api_key=key, **args)
    assert "Cannot check allowlist_api_key" in failed["msg"] and "allowlist_ip_restrictions" in failed["hint"]
    assert failed["details"]["http_status"] == 403
    assert key not in json.dumps(failed)
    assert labview.writes("knocknoc") == writes
    assert stored(labview, "fw-edge")["allowlist"]["api_key"] == key


@pytest.mark.parametrize("args, option", [
    (dict(name="x"), "mode"),
    (dict(name="x", mode="passive", device_url="https://fw.example.com"), "device_url"),
    (dict(name="x", mode="passive", authorization_token=FGT_TOKEN), "authorization_token"),
    (dict(name="x", mode="passive", insecure=True), "insecure"),
    (dict(name="x", mode="passive", vdom="root"), "vdom"),
    (dict(name="x", mode="passive", adom="root"), "adom"),
    (dict(name="x", mode="passive", device_targets=["FGT1"]), "device_targets"),
    (dict(PASSIVE_PLUS_FGT, device_url=None), "device_url"),
    (dict(PASSIVE_PLUS_FGT, external_connector_name=None), "external_connector_name"),
    (dict(PASSIVE_PLUS_FGT, external_connector_name="x" * 36), "external_connector_name"),
    (dict(PASSIVE_PLUS_FGT, device_url="http://fw.example.com"), "device_url"),
    (dict(PASSIVE_PLUS_FGT, device_url="https://admin:secret@fw.example.com"), "device_url"),
    (dict(PASSIVE_PLUS_FGT, address_group="grp"), "address_group"),
    (dict(PASSIVE_PLUS_FGT, allowlist_ip_restrictions=["10.0.0.300/8"]), "allowlist_ip_restrictions"),
    (dict(PASSIVE_PLUS_FGT, allowlist_ip_restrictions=[]), "allowlist_ip_restrictions"),
    (dict(PASSIVE_PLUS_FGT, device_targets=["FGT1"]), "device_targets"),
    (dict(ACTIVE_FGT, address_group=None), "address_group"),
    (dict(ACTIVE_FGT, prefix="p" * 41), "prefix"),
    (dict(ACTIVE_FGT, external_connector_name="feed"), "external_connector_name"),
    (dict(ACTIVE_FGT, allowlist_ip_restrictions=["10.0.0.0/8"]), "allowlist_ip_restrictions"),
    (dict(ACTIVE_FGT, allowlist_key="rotate"), "allowlist_key"),
    (dict(ACTIVE_FMG, vdom="root"), "vdom"),
    (dict(ACTIVE_FMG, prefix="kk_"), "prefix"),
    (dict(ACTIVE_FMG, device_targets=["FGT1"]), "device_targets"),
    (dict(PASSIVE_PLUS_FGT, allowlist_api_key="abc"), "allowlist_api_key"),
    (dict(ACTIVE_FGT, grant_duration_minutes=-5), "grant_duration_minutes"),
    (dict(ACTIVE_FGT, token=None), "token"),
])
def test_invalid_options_make_no_request(knoc, labview, args, option):
    args = {k: v for k, v in args.items() if v is not None}
    if option == "token":
        args["token"] = ""
    failed = knoc(expect_failure=True, **args)
    assert option in failed["msg"], failed["msg"]
    assert "secret" not in json.dumps(failed) and FGT_TOKEN not in json.dumps(failed)
    assert labview.counters()["knocknoc"] == {"requests": 0, "writes": 0}


def test_token_is_required_only_when_it_would_be_sent(knoc, labview):
    # Creating needs it: one read to find the Knoc is missing, then the refusal, no write.
    failed = knoc(expect_failure=True, **dict(PASSIVE_PLUS_FGT, authorization_token=None))
    assert "authorization_token is required" in failed["msg"]
    assert labview.counters()["knocknoc"]["writes"] == 0
    # Once the Knoc holds a token, re-runs (say, a provisioning role run again) may leave it out.
    knoc(**PASSIVE_PLUS_FGT)
    again = knoc(**dict(PASSIVE_PLUS_FGT, authorization_token=None))
    assert again["changed"] is False and again["knoc"]["authorization_token_set"] is True


def test_wrong_admin_token_is_a_clear_error(knoc, conn, labview):
    failed = knoc(expect_failure=True, **dict(ACTIVE_FGT, token="wrong-admin-token"))
    assert "Knocknoc authentication failed" in failed["msg"] and "HTTP 401" in failed["msg"]
    assert "wrong-admin-token" not in json.dumps(failed) and conn["token"] not in json.dumps(failed)
    assert labview.writes("knocknoc") == 0


def test_playbook(run_playbook, conn, labview):
    playbook = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.knocknoc:
      url: "{{ kk_url }}"
      token: "{{ kk_token }}"
      ca_path: "{{ kk_ca }}"
  tasks:
    - name: create
      knocknoc.fortinet.knocknoc_knoc:
        name: fw-edge
        mode: passive_plus
        device_url: https://fw.example.com
        authorization_token: "{{ fgt_token }}"
        external_connector_name: knocknoc-users
        allowlist_ip_restrictions: [127.0.0.1/32]
        return_allowlist_url: true
      register: knoc
      no_log: true
    - name: again
      knocknoc.fortinet.knocknoc_knoc:
        name: fw-edge
        mode: passive_plus
        device_url: https://fw.example.com
        authorization_token: "{{ fgt_token }}"
        external_connector_name: knocknoc-users
        allowlist_ip_restrictions: [127.0.0.1/32]
        allowlist_key: ensure
        allowlist_api_key: "{{ knoc.allowlist_api_key }}"
      register: again
    - name: read the allowlist with the key the first task handed over
      knocknoc.fortinet.knocknoc_allowlist_info:
        url: "{{ knoc.allowlist_url }}"
        api_key: "{{ knoc.allowlist_api_key }}"
      register: edl
    - name: check
      ansible.builtin.assert:
        that:
          - knoc is changed
          - again is not changed
          - again.allowlist_key_status == 'verified'
          - edl.count == 0
"""
    rc, output, results = run_playbook(playbook, extra_vars={
        "kk_url": conn["url"], "kk_token": conn["token"], "kk_ca": conn["ca_path"], "fgt_token": FGT_TOKEN},
        diff=True)
    assert rc == 0, output
    assert results["check"].get("failed") is not True
    key = stored(labview, "fw-edge")["allowlist"]["api_key"]
    assert stored(labview, "fw-edge")["authorization_token"] == FGT_TOKEN
    for secret in (key, FGT_TOKEN, conn["token"]):
        assert secret not in output
