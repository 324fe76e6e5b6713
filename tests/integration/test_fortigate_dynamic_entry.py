"""fortigate_dynamic_entry against the lab: Passive+ pushes, directly and through FortiManager.

What a grant does is checked the way an administrator would: the entry is listed in the
external resource and FortiOS' policy lookup admits the address through a policy that uses it.
"""

import json

import pytest

MODULE = "fortigate_dynamic_entry"
CMDB = "/api/v2/cmdb"
RESOURCE = "kk_allow"


# -- set-up through the devices' own APIs (lab-admin / lab-api tokens) -------------------------------
def view(labview, device):
    """One DeviceView (one TLS session) per device and test: handshakes are the slow part."""
    views = labview.__dict__.setdefault("_dynamic_entry_views", {})
    if device not in views:
        views[device] = labview.device(device)
    return views[device]


def warnings_of(result):
    # ansible-core 2.19+ hands structured warnings to in-process callers
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def make_resource(labview, device, name=RESOURCE, **fields):
    body = {"name": name, "type": "address", "update-method": "push"}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    reply = view(labview, device).post(CMDB + "/system/external-resource", params={"vdom": "root"}, json=body)
    assert reply.status_code == 200, reply.text


def make_policy(labview, device, resource=RESOURCE):
    body = {"policyid": 0, "name": "kk-passiveplus", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
            "srcaddr": [{"name": resource}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
            "action": "accept", "schedule": "always"}
    reply = view(labview, device).post(CMDB + "/firewall/policy", params={"vdom": "root"}, json=body)
    assert reply.status_code == 200, reply.text


def setup_fgt(labview, device, name=RESOURCE, **fields):
    make_resource(labview, device, name, **fields)
    make_policy(labview, device, name)


def reset_counters(labview):
    labview.control("POST", "/counters/reset")


def requests_to(labview, device):
    return labview.counters()[device]["requests"]


def fgt_args(labview, device="fgt1", token="kk-passiveplus", **extra):
    return dict(labview.connection(device, token, retries=0), **dict({"name": RESOURCE}, **extra))


def fmg_args(labview, token="kk-passiveplus", **extra):
    return dict(labview.connection("fmg1", token, use_fortimanager=True, retries=0), **dict({"name": RESOURCE}, **extra))


def all_tokens(labview):
    tokens = set()
    for name in ("fgt1", "fgt2", "fgt3", "fmg1"):
        tokens.update(v for v in labview.info(name)["tokens"].values() if v)
    return tokens


def assert_no_secret(labview, result):
    text = json.dumps(result)
    for token in all_tokens(labview):
        assert token not in text


# -- direct FortiGate ----------------------------------------------------------------------------------
def test_grant_check_mode_idempotence_and_revoke(labview, run_module):
    setup_fgt(labview, "fgt1")
    fgt = view(labview, "fgt1")
    ip = "198.51.100.7"
    assert fgt.admitted(ip) == 0
    reset_counters(labview)

    # Check mode: the same reads, no write, and the prediction in the diff.
    predicted = run_module(MODULE, fgt_args(labview, entries=[ip, "2001:db8::7"]), check=True, diff=True)
    assert predicted["changed"] is True and predicted["added"] == [ip, "2001:db8::7"]
    assert predicted["diff"]["after"][predicted["results"][0]["target"]] == [ip, "2001:db8::7"]
    assert labview.writes("fgt1") == 0
    assert fgt.admitted(ip) == 0 and fgt.entries(RESOURCE) == []

    # Three spellings of one address are one entry.
    granted = run_module(MODULE, fgt_args(labview, entries=[ip, ip + "/32", ip + " 255.255.255.255", "2001:DB8::7"]),
                         diff=True)
    assert granted["changed"] is True and not granted.get("failed")
    assert granted["added"] == [ip, "2001:db8::7"] and granted["removed"] == [] and granted["failed_targets"] == []
    result = granted["results"][0]
    assert result["serial"] == labview.info("fgt1")["serial"] and result["changed"] is True
    assert (result["entries_before"], result["entries_after"], result["error_code"], result["error"]) == (0, 2, None, None)
    assert granted["diff"] == {"before": {result["target"]: []}, "after": {result["target"]: [ip, "2001:db8::7"]}}
    assert fgt.entries(RESOURCE) == sorted([ip, "2001:db8::7"])
    assert fgt.admitted(ip) != 0
    assert set(granted) >= {"changed", "added", "removed", "results", "failed_targets"}

    writes = labview.writes("fgt1")
    again = run_module(MODULE, fgt_args(labview, entries=[ip, "2001:db8::7"]))
    assert again["changed"] is False and again["added"] == [] and again["results"][0]["changed"] is False
    assert labview.writes("fgt1") == writes  # nothing to push: no push

    revoke_check = run_module(MODULE, fgt_args(labview, entries=[ip], state="absent"), check=True)
    assert revoke_check["changed"] is True and revoke_check["removed"] == [ip]
    assert labview.writes("fgt1") == writes and fgt.admitted(ip) != 0

    revoked = run_module(MODULE, fgt_args(labview, entries=[ip], state="absent"))
    assert revoked["changed"] is True and revoked["removed"] == [ip]
    assert fgt.admitted(ip) == 0 and fgt.entries(RESOURCE) == ["2001:db8::7"]
    assert run_module(MODULE, fgt_args(labview, entries=[ip], state="absent"))["changed"] is False
    assert_no_secret(labview, [predicted, granted, again, revoked])


def test_exclusive_snapshot_networks_and_allow_empty(labview, run_module):
    setup_fgt(labview, "fgt1")
    fgt = view(labview, "fgt1")
    run_module(MODULE, fgt_args(labview, entries=["203.0.113.5", "203.0.113.6"]))
    reset_counters(labview)
    # exclusive: one snapshot makes the list exactly the entries (a /29 needs max_prefix_v4).
    result = run_module(MODULE, fgt_args(labview, entries=["203.0.113.6", "198.51.100.8/29"], exclusive=True,
                                         max_prefix_v4=24))
    # read, one push, read back
    assert requests_to(labview, "fgt1") == 3 and labview.writes("fgt1") == 1
    assert result["changed"] is True
    assert result["added"] == ["198.51.100.8/29"] and result["removed"] == ["203.0.113.5"]
    assert fgt.entries(RESOURCE) == ["198.51.100.8/29", "203.0.113.6"]
    assert fgt.admitted("198.51.100.12") != 0 and fgt.admitted("203.0.113.5") == 0
    assert run_module(MODULE, fgt_args(labview, entries=["198.51.100.8/29", "203.0.113.6"], exclusive=True,
                                       max_prefix_v4=24))["changed"] is False
    # An explicit empty list empties it.
    emptied = run_module(MODULE, fgt_args(labview, entries=[], exclusive=True, allow_empty=True))
    assert emptied["changed"] is True and emptied["removed"] == ["198.51.100.8/29", "203.0.113.6"]
    assert fgt.entries(RESOURCE) == []


def test_feed_resource_overlay_and_poll_reconciliation(labview, run_module):
    """Passive+: the FortiGate polls the Knocknoc allowlist; the push is an overlay until the next poll."""
    kk = view(labview, "knocknoc")
    knoc_fields = {"name": "pp", "mode": "passive_plus", "external_connector_name": "kk_feed",
                   "device_url": labview.info("fgt1")["url"], "authorization_token": "unused"}
    created = kk.post("/api/v1/knocs", json=knoc_fields)
    assert created.status_code == 201, created.text
    knoc, allowlist = created.json()["knoc"], created.json()["allowlist"]
    assert kk.post("/api/v1/knocs/%d/grants" % knoc["id"], json={"username": "alice", "ip": "192.0.2.10"}).ok
    feed = {"update-method": "feed", "resource": allowlist["url"], "username": allowlist["username"],
            "password": allowlist["api_key"]}
    setup_fgt(labview, "fgt1", "kk_feed", **feed)
    fgt = view(labview, "fgt1")
    polled = labview.control("POST", "/devices/fgt1/poll", {"vdom": "root", "name": "kk_feed"})["polled"]
    assert polled[0]["status"] == "success"
    assert fgt.entries("kk_feed") == ["192.0.2.10"]

    # The agent pushes bob's address before the next poll: in force at once.
    pushed = run_module(MODULE, fgt_args(labview, name="kk_feed", entries=["192.0.2.20"]))
    assert pushed["changed"] is True and pushed["results"][0]["entries_before"] == 1
    # Lab fidelity switch pushed_listed_on_feed: FortiOS may keep pushed entries of a feed without listing them.
    listed_on_feed = labview.info("fgt1")["switches"]["pushed_listed_on_feed"]
    assert fgt.entries("kk_feed") == ["192.0.2.10"] + (["192.0.2.20"] if listed_on_feed else [])
    assert fgt.admitted("192.0.2.20") != 0
    if not listed_on_feed:  # in force, but the list cannot show it: the result says so
        assert pushed["results"][0]["verified"] is False and pushed["results"][0]["error_code"] == 202100
        assert "cannot be confirmed" in pushed["results"][0]["error"]
    # Bob's grant never reached Knocknoc here, so the next poll that downloads the allowlist reconciles it away.
    # Lab switch conditional_allowlist: an unchanged allowlist answers 304 and the FortiGate keeps its list (the
    # pushed entry too) until the allowlist changes; dave's grant changes it.
    labview.advance(301)
    if labview.info("knocknoc")["switches"]["conditional_allowlist"]:
        assert fgt.admitted("192.0.2.20") != 0
        assert kk.post("/api/v1/knocs/%d/grants" % knoc["id"], json={"username": "dave", "ip": "192.0.2.10"}).ok
        assert kk.post("/api/v1/knocs/%d/grants" % knoc["id"], json={"username": "erin", "ip": "192.0.2.40"}).ok
        labview.advance(301)
        assert fgt.entries("kk_feed") == ["192.0.2.10", "192.0.2.40"]
    else:
        assert fgt.entries("kk_feed") == ["192.0.2.10"]
    assert fgt.admitted("192.0.2.20") == 0
    # ...and a push that failed (wrong feed name) is repaired by the poll for granted users.
    assert kk.post("/api/v1/knocs/%d/grants" % knoc["id"], json={"username": "carol", "ip": "192.0.2.30"}).ok
    failed = run_module(MODULE, fgt_args(labview, name="KK_feed", entries=["192.0.2.30"]))
    assert failed["changed"] is False and failed["results"][0]["error_code"] == 202102
    labview.advance(301)
    assert fgt.admitted("192.0.2.30") != 0


def test_ten_thousand_entries_take_a_handful_of_requests(labview, run_module):
    setup_fgt(labview, "fgt1")
    fgt = view(labview, "fgt1")
    entries = ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256) for i in range(1, 10001)]
    reset_counters(labview)
    result = run_module(MODULE, fgt_args(labview, entries=entries))
    assert result["changed"] is True and len(result["added"]) == 10000 and result["failed_targets"] == []
    assert requests_to(labview, "fgt1") <= 5
    assert len(fgt.entries(RESOURCE)) == 10000
    assert fgt.admitted("10.0.39.16") != 0
    reset_counters(labview)
    revoked = run_module(MODULE, fgt_args(labview, entries=entries, state="absent"))
    assert len(revoked["removed"]) == 10000 and requests_to(labview, "fgt1") <= 5
    assert fgt.entries(RESOURCE) == []


def test_request_too_large_is_split(labview, run_module, monkeypatch):
    from kklab import fortigate

    setup_fgt(labview, "fgt1")
    monkeypatch.setattr(fortigate, "MAX_BODY", 4000)  # the FortiGate answers 413 above 4000 bytes
    entries = ["10.1.%d.%d" % (i // 256, i % 256) for i in range(1, 601)]
    reset_counters(labview)
    result = run_module(MODULE, fgt_args(labview, entries=entries, exclusive=True))
    assert result["changed"] is True and result["failed_targets"] == []
    assert len(view(labview, "fgt1").entries(RESOURCE)) == 600
    # halved until the parts fit: a handful of calls, not one per entry
    assert 4 < requests_to(labview, "fgt1") < 40


def test_entries_that_do_not_fit_are_reported(labview, run_module, lab):
    setup_fgt(labview, "fgt1")
    device = lab.devices["fgt1"]
    saved = device.ip_entry_limit
    device.ip_entry_limit = 2  # the global IP entry limit of FortiOS 7.4.4+, shrunk
    try:
        result = run_module(MODULE, fgt_args(labview, entries=["192.0.2.1", "192.0.2.2", "192.0.2.3"]))
    finally:
        device.ip_entry_limit = saved
    assert result["results"][0]["error_code"] == 202100 and result["failed_targets"]
    assert "192.0.2.3" in result["results"][0]["error"] and "full" in result["results"][0]["error"]
    assert result["added"] == ["192.0.2.1", "192.0.2.2"] and result["results"][0]["entries_after"] == 2
    assert any("direct FortiGate dynamic entry push failed" in w for w in warnings_of(result))


# -- through FortiManager ----------------------------------------------------------------------------
@pytest.fixture
def fleet(labview):
    """kk_allow and a policy on fgt1 and fgt2 (ADOM root), and a device group with fgt2 only."""
    for device in ("fgt1", "fgt2"):
        setup_fgt(labview, device)
    group = {"name": "branches", "object member": [{"name": "fgt2", "vdom": "root"}]}
    added = view(labview, "fmg1").rpc("add", "/dvmdb/adom/root/group", data=group)
    assert added["status"]["code"] == 0, added
    return labview


@pytest.mark.parametrize("targets, reached", [
    (["fgt1"], {"fgt1"}),
    (["FGVM01TM24000002"], {"fgt2"}),
    (["fgt1", "fgt2"], {"fgt1", "fgt2"}),
    (["branches"], {"fgt2"}),
    (["adom/root/device/fgt1"], {"fgt1"}),
    (["adom/root/group/branches"], {"fgt2"}),
    ([], {"fgt1", "fgt2"}),
])
def test_fortimanager_targets(fleet, run_module, targets, reached):
    ip = "198.51.100.44"
    args = fmg_args(fleet, entries=[ip], targets=targets)
    reset_counters(fleet)
    checked = run_module(MODULE, args, check=True, diff=True)
    assert checked["changed"] is True and {r["target"] for r in checked["results"]} == reached
    assert sum(fleet.writes(d) for d in ("fmg1", "fgt1", "fgt2")) == 0

    granted = run_module(MODULE, args)
    assert granted["changed"] is True and granted["failed_targets"] == [] and granted["added"] == [ip]
    assert {r["target"] for r in granted["results"] if r["changed"]} == reached
    assert {r["serial"] for r in granted["results"]} == {fleet.info(d)["serial"] for d in reached}
    for device in ("fgt1", "fgt2"):
        assert (view(fleet, device).admitted(ip) != 0) == (device in reached), device
    assert run_module(MODULE, args)["changed"] is False

    revoked = run_module(MODULE, dict(args, state="absent"))
    assert revoked["changed"] is True and revoked["removed"] == [ip]
    for device in ("fgt1", "fgt2"):
        assert view(fleet, device).admitted(ip) == 0
    assert_no_secret(fleet, [checked, granted, revoked])


def test_fortimanager_one_proxy_call_per_plan(fleet, run_module):
    # fgt1 already has one of the two addresses: two plans, two push calls.
    run_module(MODULE, fmg_args(fleet, entries=["192.0.2.1"], targets=["fgt1"]))
    reset_counters(fleet)
    result = run_module(MODULE, fmg_args(fleet, entries=["192.0.2.1", "192.0.2.2"]))
    by_target = {r["target"]: r for r in result["results"]}
    assert by_target["fgt1"]["added"] == ["192.0.2.2"] and by_target["fgt2"]["added"] == ["192.0.2.1", "192.0.2.2"]
    # read (1 proxy call), two pushes, read back (1 proxy call)
    assert requests_to(fleet, "fmg1") == 4
    for device in ("fgt1", "fgt2"):
        assert view(fleet, device).entries(RESOURCE) == ["192.0.2.1", "192.0.2.2"]
    reset_counters(fleet)
    same = run_module(MODULE, fmg_args(fleet, entries=["192.0.2.3"]))
    assert same["changed"] is True and requests_to(fleet, "fmg1") == 3  # one plan: one push for both


def test_fortimanager_unreachable_device_fails_alone(fleet, run_module):
    fleet.fault("fgt1", kind="drop")
    result = run_module(MODULE, fmg_args(fleet, entries=["192.0.2.9"]))
    by_target = {r["target"]: r for r in result["results"]}
    assert by_target["fgt1"]["error_code"] == 202000 and by_target["fgt1"]["changed"] is False
    assert by_target["fgt2"]["changed"] is True and by_target["fgt2"]["error"] is None
    assert result["changed"] is True and result["failed_targets"] == ["fgt1"] and not result.get("failed")
    assert any("passive+ dynamic entry push failed for fgt1" in w for w in warnings_of(result))


# -- errors: warnings by default, failures on request ---------------------------------------------------
def _error_cases():
    return [
        # id, via FortiManager?, extra args, fault (device, fields), expected code
        ("feed-name-case", False, {"name": "KK_allow"}, None, 202102),
        ("feed-name-case-fmg", True, {"name": "Kk_Allow", "targets": ["fgt1"]}, None, 202102),
        ("unknown-target", True, {"targets": ["fgt9"]}, None, 202101),
        ("unknown-target-path", True, {"targets": ["adom/root/device/fgt9"]}, None, 202101),
        ("unknown-group", True, {"targets": ["adom/root/group/nope"]}, None, 202101),
        ("no-permission", False, {"token": "kk-noperm"}, None, 202002),
        ("no-permission-fmg", True, {"token": "kk-nodevmgr"}, None, 202002),
        ("bad-token", False, {"token": "not-a-valid-token"}, None, 202001),
        ("bad-token-fmg", True, {"token": "not-a-valid-token"}, None, 202001),
        ("unreachable", False, {}, ("fgt1", {"kind": "drop"}), 202000),
        ("timeout", False, {"timeout": 1}, ("fgt1", {"kind": "delay", "seconds": 1.5}), 202004),
        ("wrong-cert", False, {"validate_certs": True}, ("fgt1", {"kind": "wrong_cert"}), 202003),
        ("wrong-cert-fmg", True, {"validate_certs": True}, ("fmg1", {"kind": "wrong_cert"}), 202003),
    ]


@pytest.mark.parametrize("case", _error_cases(), ids=[c[0] for c in _error_cases()])
@pytest.mark.parametrize("strict", [False, True], ids=["warn", "fail"])
def test_push_errors(fleet, run_module, case, strict):
    via_fmg, extra, fault, code = case[1:]
    extra = dict(extra)
    if via_fmg:
        token = extra.pop("token", "kk-passiveplus")
        args = fmg_args(fleet, token=token, entries=["192.0.2.50"], **extra)
    else:
        token = extra.pop("token", "kk-passiveplus")
        args = fgt_args(fleet, token=token, entries=["192.0.2.50"], **extra)
    args["fail_on_push_error"] = strict
    if fault:
        fleet.fault(fault[0], **fault[1])
    result = run_module(MODULE, args)
    codes = {r["error_code"] for r in result["results"]}
    assert code in codes, result
    assert result["changed"] is False and result["failed_targets"]
    bad = [r for r in result["results"] if r["error_code"] == code][0]
    assert bad["error"].startswith("(agent error #%d)" % code)
    if strict:
        assert result["failed"] is True and result["error_code"] == code
        assert result["msg"].startswith("(agent error #%d)" % code)
    else:
        assert not result.get("failed")
        assert any(("agent error #%d" % code) in w and "case-sensitive" in w for w in warnings_of(result))
    assert_no_secret(fleet, result)
    assert "not-a-valid-token" not in json.dumps(result)
    for device in ("fgt1", "fgt2"):
        fleet.control("DELETE", "/devices/%s/faults" % device)
    assert view(fleet, "fgt1").admitted("192.0.2.50") == 0


def test_fortios_without_push_api_is_said_plainly(labview, run_module):
    # fgt3 runs 7.2.0: external resources exist, the push API came with 7.2.1.
    make_resource(labview, "fgt3", **{"update-method": None, "resource": "https://127.0.0.1:9/unused"})
    reset_counters(labview)
    result = run_module(MODULE, fgt_args(labview, device="fgt3", entries=["192.0.2.60"]))
    assert not result.get("failed") and result["changed"] is False
    assert result["results"][0]["error_code"] == 202100
    assert "FortiOS 7.2.0 has no push API for external resources (added in 7.2.1)" in result["results"][0]["error"]
    assert labview.writes("fgt3") == 0
    strict = run_module(MODULE, fmg_args(labview, adom="emea", entries=["192.0.2.60"], fail_on_push_error=True))
    assert strict["failed"] is True and strict["error_code"] == 202100
    assert "FortiOS 7.2.0 has no push API" in strict["msg"] and strict["failed_targets"] == ["fgt3"]


@pytest.mark.parametrize("extra, words", [
    ({"entries": ["198.51.100.300"]}, "entries[0]"),
    ({"entries": ["192.0.2.1", "203.0.113.5/24"]}, "host bits"),
    ({"entries": ["0.0.0.0/0"], "max_prefix_v4": 1}, "/0"),
    ({"entries": ["::/0"]}, "/0"),
    ({"entries": ["198.51.100.0/24"]}, "broader"),
    ({"entries": [], "exclusive": True}, "allow_empty"),
    ({"entries": ["192.0.2.1"], "name": "k" * 36}, "at most 35"),
    ({"entries": ["192.0.2.1"], "targets": ["fgt1"]}, "use_fortimanager"),
    ({"entries": ["192.0.2.1"], "exclusive": True, "state": "absent"}, "exclusive"),
    ({"entries": ["192.0.2.1"], "url": "http://127.0.0.1:1"}, "https"),
])
def test_bad_input_fails_before_any_request(labview, run_module, extra, words):
    reset_counters(labview)
    result = run_module(MODULE, fgt_args(labview, **extra))
    assert result["failed"] is True and words in result["msg"]
    assert all(c["requests"] == 0 for c in labview.counters().values())


def test_bad_target_path_fails_before_any_request(labview, run_module):
    reset_counters(labview)
    result = run_module(MODULE, fmg_args(labview, entries=["192.0.2.1"], targets=["adom/root/fgt1"]))
    assert result["failed"] is True and "targets[0]" in result["msg"]
    assert labview.counters()["fmg1"]["requests"] == 0


def test_playbook_with_module_defaults(labview, run_playbook):
    setup_fgt(labview, "fgt1")
    args = fgt_args(labview)
    playbook = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: "{{ fgt_url }}"
      token: "{{ fgt_token }}"
      ca_path: "{{ ca_path }}"
      tls_server_name: "{{ serial | default(omit, true) }}"
  tasks:
    - name: grant
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: kk_allow
        entries: [198.51.100.77]
    - name: grant again
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: kk_allow
        entries: [198.51.100.77/32]
    - name: wrong feed name
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: KK_ALLOW
        entries: [198.51.100.78]
"""
    rc, output, results = run_playbook(playbook, extra_vars={
        "fgt_url": args["url"], "fgt_token": args["token"], "ca_path": args["ca_path"],
        "serial": args.get("tls_server_name")})
    assert rc == 0, output
    assert results["grant"]["changed"] is True and results["grant"]["added"] == ["198.51.100.77"]
    assert results["grant again"]["changed"] is False
    assert results["wrong feed name"]["results"][0]["error_code"] == 202102
    assert "[WARNING]" in output or results["wrong feed name"].get("warnings")
    assert view(labview, "fgt1").admitted("198.51.100.77") != 0
    assert args["token"] not in output


# -- what real FortiGates may do (lab switches, docs/lab.md "Fidelity") ---------------------------------------
def test_request_counts_and_the_devices_own_spelling(labview, run_module):
    """Grant 3 requests, no-change grant 1, revoke 3, no-change revoke 3 (a revoke always pushes remove).
    An entry the FortiGate lists as written (uncompressed IPv6) is removed with that spelling."""
    setup_fgt(labview, "fgt1")
    fgt = view(labview, "fgt1")
    counts = []
    for args in (dict(entries=["192.0.2.7"]), dict(entries=["192.0.2.7"]),
                 dict(entries=["192.0.2.7"], state="absent"), dict(entries=["192.0.2.7"], state="absent")):
        reset_counters(labview)
        result = run_module(MODULE, fgt_args(labview, **args))
        assert not result.get("failed"), result
        counts.append(requests_to(labview, "fgt1"))
    assert counts == [3, 1, 3, 3] and result["revoked"] is True and result["changed"] is False

    written = "2001:0db8:0000:0000:0000:0000:0000:0007"
    reply = fgt.post("/api/v2/monitor/system/external-resource/dynamic", params={"vdom": "root"},
                     json={"commands": [{"name": RESOURCE, "command": "add", "entries": [written]}]})
    assert reply.status_code == 200, reply.text
    as_written = labview.info("fgt1")["switches"]["entries_as_written"]
    assert fgt.entries(RESOURCE) == [written if as_written else "2001:db8::7"]
    revoked = run_module(MODULE, fgt_args(labview, entries=["2001:db8::7"], state="absent"))
    assert revoked["revoked"] is True and revoked["removed"] == ["2001:db8::7"], revoked
    assert fgt.entries(RESOURCE) == [] and fgt.admitted("2001:db8::7") == 0


def test_a_feed_that_cannot_be_read(labview, run_module):
    """A feed whose poll failed: FortiOS may answer entry-list without entries. The grant is pushed anyway (in
    force, not confirmed); a revoke is pushed too and, when the list cannot show it, fails closed."""
    setup_fgt(labview, "fgt1", "kk_feed", **{"update-method": "feed", "resource": "https://127.0.0.1:9/allow.txt"})
    fgt = view(labview, "fgt1")
    labview.control("POST", "/devices/fgt1/poll", {"vdom": "root", "name": "kk_feed"})
    unlisted = not labview.info("fgt1")["switches"]["entries_on_feed_error"]
    granted = run_module(MODULE, fgt_args(labview, name="kk_feed", entries=["192.0.2.30"]))
    assert fgt.admitted("192.0.2.30") != 0 and granted["changed"] is True and not granted.get("failed")
    if unlisted:
        assert granted["results"][0]["verified"] is False and "cannot be confirmed" in granted["results"][0]["error"]
    revoked = run_module(MODULE, fgt_args(labview, name="kk_feed", entries=["192.0.2.30"], state="absent"))
    assert fgt.admitted("192.0.2.30") == 0  # the remove went out either way
    if unlisted:
        assert revoked["failed"] is True and "access may still be open" in revoked["msg"] and revoked["revoked"] is False
    else:
        assert not revoked.get("failed") and revoked["revoked"] is True
