"""fortigate_address_grant against the lab: Active mode on fgt1 (FortiOS 7.4.4) with the kk-active token.

Every effect is checked through the lab with the lab-admin token (LabView): the address object, the group
membership and FortiOS' own policy lookup (is the source admitted?).
"""

import pytest

from kklab.lab import Lab

MODULE = "fortigate_address_grant"
CMDB = "/api/v2/cmdb/"
GROUP = "kk_users"
GROUP6 = "kk_users6"


def ok(reply):
    assert reply.status_code == 200, reply.text
    return reply.json()


def make_group(fgt, name=GROUP, members=(), table="firewall/addrgrp", vdom="root"):
    ok(fgt.post(CMDB + table, params={"vdom": vdom},
                json={"name": name, "member": [{"name": m} for m in members]}))


def make_policy(fgt, srcaddr=GROUP, srcaddr6=None, vdom="root"):
    body = {"policyid": 0, "name": "kk-in", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
            "service": [{"name": "HTTPS"}], "schedule": "always", "action": "accept"}
    if srcaddr:
        body.update(srcaddr=[{"name": srcaddr}], dstaddr=[{"name": "all"}])
    if srcaddr6:
        body.update(srcaddr6=[{"name": srcaddr6}], dstaddr6=[{"name": "all"}])
    return ok(fgt.post(CMDB + "firewall/policy", params={"vdom": vdom}, json=body))["mkey"]


def members(fgt, group=GROUP, table="firewall/addrgrp"):
    return sorted(m["name"] for m in fgt.cmdb(table, group)["member"])


def conn(labview, device="fgt1", token="kk-active"):
    return labview.connection(device, token)


@pytest.fixture
def fgt(labview):
    """fgt1 (7.4.4) with an empty group kk_users used as source by an accept policy port1 -> port2."""
    device = labview.device("fgt1")
    make_group(device)
    make_policy(device)
    return device


@pytest.fixture
def grant(labview, run_module, fgt):
    def run(addresses, check=False, diff=False, **args):
        params = dict(conn(labview), address_group=GROUP, addresses=addresses, **args)
        return run_module(MODULE, params, check=check, diff=diff)
    return run


def test_grant_admits_and_revoke_refuses(labview, fgt, grant):
    ip = "198.51.100.7"
    assert fgt.admitted(ip) == 0

    result = grant([ip], user="alice")
    assert result["changed"] is True, result
    assert result["added"] == ["kk_198.51.100.7"] and result["removed"] == []
    assert result["members"] == ["kk_198.51.100.7"]
    assert result["holders"] == {ip: ["alice"]}
    assert set(result) >= {"changed", "added", "removed", "members", "holders", "diff"}
    assert fgt.admitted(ip) != 0
    assert fgt.admitted("198.51.100.8") == 0
    obj = fgt.cmdb("firewall/address", "kk_198.51.100.7")
    assert obj["subnet"] == "198.51.100.7 255.255.255.255" and obj["comment"] == "knocknoc:alice"
    assert members(fgt) == ["kk_198.51.100.7"]

    writes = labview.writes("fgt1")
    again = grant([ip], user="alice")
    assert again["changed"] is False and again["added"] == [] and again["holders"] == {ip: ["alice"]}
    assert labview.writes("fgt1") == writes

    revoked = grant([ip], user="alice", state="absent")
    assert revoked["changed"] is True and revoked["removed"] == ["kk_198.51.100.7"]
    assert revoked["members"] == [] and revoked["holders"] == {ip: []}
    assert fgt.admitted(ip) == 0
    assert fgt.cmdb("firewall/address", "kk_198.51.100.7") is None
    assert members(fgt) == []

    writes = labview.writes("fgt1")
    assert grant([ip], user="alice", state="absent")["changed"] is False
    assert labview.writes("fgt1") == writes


def test_check_mode_makes_no_write_and_diff(labview, fgt, grant):
    ip = "203.0.113.9"
    setup_writes = labview.writes("fgt1")  # the group and the policy
    predicted = grant([ip], user="alice", check=True, diff=True)
    assert predicted["changed"] is True and predicted["added"] == ["kk_203.0.113.9"]
    assert predicted["diff"] == {"before": {"members": [], "holders": {}},
                                 "after": {"members": ["kk_203.0.113.9"], "holders": {ip: ["alice"]}}}
    assert labview.writes("fgt1") == setup_writes
    assert fgt.cmdb("firewall/address", "kk_203.0.113.9") is None and fgt.admitted(ip) == 0

    applied = grant([ip], user="alice", diff=True)
    assert applied["changed"] is True and applied["diff"] == predicted["diff"]
    assert fgt.admitted(ip) != 0

    # a second holder: the membership stays, the diff shows the holders change
    shared = grant([ip], user="bob", diff=True)
    assert shared["changed"] is True and shared["added"] == []
    assert shared["diff"]["before"]["holders"] == {ip: ["alice"]}
    assert shared["diff"]["after"]["holders"] == {ip: ["alice", "bob"]}

    writes = labview.writes("fgt1")
    revoke = grant([ip], state="absent", check=True, diff=True)  # no user: everyone
    assert revoke["changed"] is True and revoke["removed"] == ["kk_203.0.113.9"]
    assert revoke["diff"]["after"] == {"members": [], "holders": {}}
    assert labview.writes("fgt1") == writes
    assert fgt.admitted(ip) != 0

    gone = grant([ip], state="absent", diff=True)
    assert gone["changed"] is True and gone["diff"]["before"]["holders"] == {ip: ["alice", "bob"]}
    assert gone["diff"]["after"] == {"members": [], "holders": {}}
    assert fgt.admitted(ip) == 0 and fgt.cmdb("firewall/address", "kk_203.0.113.9") is None


def test_shared_ip_last_one_out(fgt, grant):
    ip = "192.0.2.44"
    assert grant([ip], user="alice")["holders"] == {ip: ["alice"]}
    result = grant([ip], user="bob")
    assert result["changed"] is True and result["holders"] == {ip: ["alice", "bob"]}
    assert fgt.cmdb("firewall/address", "kk_192.0.2.44")["comment"] == "knocknoc:alice,bob"

    out = grant([ip], user="alice", state="absent")
    assert out["changed"] is True and out["removed"] == [] and out["holders"] == {ip: ["bob"]}
    assert fgt.admitted(ip) != 0
    assert members(fgt) == ["kk_192.0.2.44"]
    # revoking someone who does not hold it changes nothing
    assert grant([ip], user="carol", state="absent")["changed"] is False
    assert fgt.admitted(ip) != 0

    last = grant([ip], user="bob", state="absent")
    assert last["changed"] is True and last["removed"] == ["kk_192.0.2.44"]
    assert fgt.admitted(ip) == 0
    assert fgt.cmdb("firewall/address", "kk_192.0.2.44") is None


def test_network_name_and_limits(labview, fgt, grant):
    refused = grant(["10.20.0.0/24"], user="alice")
    assert refused.get("failed") and "broader than the allowed /32" in refused["msg"]
    result = grant(["10.20.0.0/24"], user="alice", max_prefix_v4=24)
    assert result["added"] == ["kk_10.20.0.0_24"] and result["holders"] == {"10.20.0.0/24": ["alice"]}
    assert fgt.cmdb("firewall/address", "kk_10.20.0.0_24")["subnet"] == "10.20.0.0 255.255.255.0"
    assert fgt.admitted("10.20.0.77") != 0 and fgt.admitted("10.20.1.1") == 0


def test_ipv6_with_address_group6(labview, fgt, run_module):
    make_group(fgt, GROUP6, table="firewall/addrgrp6")
    make_policy(fgt, srcaddr=None, srcaddr6=GROUP6)
    ip6, ip4 = "2001:db8::7", "198.51.100.70"
    args = dict(conn(labview), address_group=GROUP, address_group6=GROUP6, user="alice")

    missing = run_module(MODULE, dict(conn(labview), address_group=GROUP, addresses=[ip6]))
    assert missing.get("failed") and "address_group6 is required" in missing["msg"]

    result = run_module(MODULE, dict(args, addresses=["2001:DB8:0::7/128", ip4]))
    assert result["changed"] is True, result
    assert result["added"] == ["kk_198.51.100.70", "kk_2001:db8::7"]
    assert result["holders"] == {ip6: ["alice"], ip4: ["alice"]}
    assert fgt.cmdb("firewall/address6", "kk_2001:db8::7")["ip6"] == "2001:db8::7/128"
    assert members(fgt, GROUP6, "firewall/addrgrp6") == ["kk_2001:db8::7"]
    assert members(fgt) == ["kk_198.51.100.70"]
    assert fgt.admitted(ip6) != 0 and fgt.admitted("2001:db8::8") == 0 and fgt.admitted(ip4) != 0

    assert run_module(MODULE, dict(args, addresses=[ip6, ip4]))["changed"] is False
    gone = run_module(MODULE, dict(args, addresses=[ip6], state="absent"))
    assert gone["removed"] == ["kk_2001:db8::7"]
    assert fgt.admitted(ip6) == 0 and fgt.admitted(ip4) != 0
    assert fgt.cmdb("firewall/address6", "kk_2001:db8::7") is None


def test_exclusive_removes_only_prefixed_members(labview, fgt, grant):
    ok(fgt.post(CMDB + "firewall/address", json={"name": "office", "subnet": "192.0.2.0/28"}))
    ok(fgt.post(CMDB + "firewall/addrgrp/%s/member" % GROUP, json={"name": "office"}))
    grant(["198.51.100.1", "198.51.100.2"], user="alice")
    grant(["198.51.100.3"], user="bob")
    assert members(fgt) == ["kk_198.51.100.1", "kk_198.51.100.2", "kk_198.51.100.3", "office"]

    check = grant(["198.51.100.2", "198.51.100.4"], user="carol", exclusive=True, check=True)
    assert check["removed"] == ["kk_198.51.100.1", "kk_198.51.100.3"] and check["added"] == ["kk_198.51.100.4"]
    writes = labview.writes("fgt1")
    assert grant(["198.51.100.2", "198.51.100.4"], user="carol", exclusive=True, check=True) == check
    assert labview.writes("fgt1") == writes

    result = grant(["198.51.100.2", "198.51.100.4"], user="carol", exclusive=True)
    assert result["changed"] is True
    assert result["removed"] == ["kk_198.51.100.1", "kk_198.51.100.3"] and result["added"] == ["kk_198.51.100.4"]
    assert result["members"] == ["kk_198.51.100.2", "kk_198.51.100.4"]
    # with user, the listed addresses are held by exactly that user
    assert result["holders"] == {"198.51.100.2": ["carol"], "198.51.100.4": ["carol"],
                                 "198.51.100.1": [], "198.51.100.3": []}
    assert members(fgt) == ["kk_198.51.100.2", "kk_198.51.100.4", "office"]
    assert fgt.cmdb("firewall/address", "kk_198.51.100.1") is None
    assert fgt.cmdb("firewall/address", "office") is not None
    assert fgt.admitted("198.51.100.1") == 0 and fgt.admitted("198.51.100.4") != 0

    # an empty exclusive list flushes every prefix-owned member, never the others
    flushed = grant([], exclusive=True)
    assert flushed["removed"] == ["kk_198.51.100.2", "kk_198.51.100.4"] and flushed["members"] == []
    assert members(fgt) == ["office"]
    assert grant([], exclusive=True)["changed"] is False


def test_group_missing_fails_clearly(labview, run_module):
    result = run_module(MODULE, dict(conn(labview), address_group="nosuchgroup", addresses=["198.51.100.7"],
                                     user="alice"))
    assert result["failed"] is True and result["error_code"] is None
    assert "address group nosuchgroup does not exist in VDOM root" in result["msg"]
    assert "create it and reference it from the firewall policy" in result["msg"]
    assert labview.writes("fgt1") == 0


def test_permissions_and_token_errors(labview, fgt, run_module):
    base = dict(address_group=GROUP, addresses=["198.51.100.7"], user="alice")
    readonly = run_module(MODULE, dict(conn(labview, token="kk-readonly"), **base))
    assert readonly["failed"] is True and readonly["error_code"] == 202002, readonly
    assert fgt.cmdb("firewall/address", "kk_198.51.100.7") is None

    noperm = run_module(MODULE, dict(conn(labview, token="kk-noperm"), **base))
    assert noperm["failed"] is True and noperm["error_code"] == 202002

    secret = "not-a-real-key-0123456789"
    bad = run_module(MODULE, dict(conn(labview, token=secret), **base))
    assert bad["failed"] is True and bad["error_code"] == 202001
    assert secret not in str(bad)
    for result in (readonly, noperm):
        assert labview.info("fgt1")["tokens"]["kk-readonly"] not in str(result)
        assert labview.info("fgt1")["tokens"]["kk-noperm"] not in str(result)


def test_input_refused_before_any_request(labview, run_module):
    def requests():
        return labview.counters()["fgt1"]["requests"]

    base = dict(conn(labview), address_group=GROUP, user="alice")
    cases = [
        (dict(addresses=["0.0.0.0/0"], max_prefix_v4=1), "every address"),
        (dict(addresses=["::/0"], address_group6=GROUP6, max_prefix_v6=1), "every address"),
        (dict(addresses=["198.51.100.0/24"]), "addresses"),
        (dict(addresses=["not-an-ip"]), "addresses"),
        (dict(addresses=["198.51.100.7"], prefix="kk_" + "x" * 70), "prefix"),
        (dict(addresses=["198.51.100.7"], prefix="a/b"), "prefix"),
        (dict(addresses=["198.51.100.7"], prefix=""), "prefix"),
        (dict(addresses=["198.51.100.7"], user="alice,bob"), "user"),
        (dict(addresses=["198.51.100.7"], state="absent", exclusive=True), "exclusive"),
        (dict(addresses=["198.51.100.7"], max_prefix_v4=0), "max_prefix_v4"),
    ]
    for args, word in cases:
        result = run_module(MODULE, dict(base, **args))
        assert result.get("failed") is True, args
        assert word in result["msg"], (args, result["msg"])
    long_name = run_module(MODULE, dict(base, addresses=["2001:db8:1234:5678:9abc:def0:1234:5678"],
                                        address_group6=GROUP6, prefix="knocknoc_" + "p" * 35))
    assert long_name["failed"] is True and "79" in long_name["msg"] and "would be 82 characters" in long_name["msg"]
    assert requests() == 0


def test_name_taken_by_a_foreign_object(labview, fgt, grant):
    ok(fgt.post(CMDB + "firewall/address", json={"name": "kk_198.51.100.7", "subnet": "10.9.9.9/32"}))
    result = grant(["198.51.100.7"], user="alice")
    assert result["failed"] is True and "holds 10.9.9.9 255.255.255.255, not 198.51.100.7" in result["msg"]
    assert members(fgt) == []


def test_object_used_elsewhere_is_left_with_a_warning(labview, fgt, grant):
    grant(["198.51.100.9"], user="alice")
    make_group(fgt, "other", members=["kk_198.51.100.9"])
    result = grant(["198.51.100.9"], user="alice", state="absent")
    assert result["changed"] is True and result["removed"] == ["kk_198.51.100.9"]
    # ansible-core 2.19+ returns warnings as structured summaries: look at their text
    assert "still used elsewhere (error -23)" in str(result.get("warnings")), result
    assert members(fgt) == [] and fgt.admitted("198.51.100.9") == 0
    assert fgt.cmdb("firewall/address", "kk_198.51.100.9")["comment"] == "knocknoc:"


def test_too_many_holders_fail_without_dropping(labview, fgt, grant):
    ip = "198.51.100.10"
    users = ["user%02d-with-a-rather-long-name@example.com" % n for n in range(5)]
    for user in users:
        assert grant([ip], user=user)["changed"] is True
    result = grant([ip], user="one-more-user-with-a-long-name@example.com")
    assert result["failed"] is True and "do not fit in the 255-character comment" in result["msg"]
    comment = fgt.cmdb("firewall/address", "kk_198.51.100.10")["comment"]
    assert comment == "knocknoc:" + ",".join(sorted(users))


def test_empty_group_allowed_on_7_2_0(labview, run_module):
    fgt3 = labview.device("fgt3")
    make_group(fgt3)
    make_policy(fgt3)
    args = dict(conn(labview, "fgt3"), address_group=GROUP, addresses=["198.51.100.7"], user="alice")
    assert run_module(MODULE, args)["changed"] is True
    assert fgt3.admitted("198.51.100.7") != 0
    result = run_module(MODULE, dict(args, state="absent"))
    assert result["changed"] is True and result["members"] == []
    assert fgt3.cmdb("firewall/addrgrp", GROUP)["member"] == []
    assert fgt3.admitted("198.51.100.7") == 0


def test_last_member_before_7_2(tmp_path, run_module, labview_class):
    topology = {"fortigate": [{"name": "old", "serial": "FGVM01TM24000009", "version": "7.0.12",
                               "vdoms": ["root"]}]}
    lab = Lab(tmp_path / "lab", topology=topology).start()
    try:
        view = labview_class(lab)
        old = view.device("old")
        ok(old.post(CMDB + "firewall/address", json={"name": "kk_198.51.100.7", "subnet": "198.51.100.7/32",
                                                     "comment": "knocknoc:alice"}))
        make_group(old, members=["kk_198.51.100.7"])
        make_policy(old)
        args = dict(conn(view, "old"), address_group=GROUP, user="alice")

        assert run_module(MODULE, dict(args, addresses=["198.51.100.8"]))["changed"] is True
        assert run_module(MODULE, dict(args, addresses=["198.51.100.7"], state="absent"))["changed"] is True
        writes = view.writes("old")
        last = run_module(MODULE, dict(args, addresses=["198.51.100.8"], state="absent"))
        assert last["failed"] is True
        assert "FortiOS 7.0.12 does not allow an empty address group" in last["msg"]
        assert "'none'" in last["msg"] and "7.2.0" in last["msg"]
        assert view.writes("old") == writes  # refused before any change
        assert old.admitted("198.51.100.8") != 0

        # the fix the message gives: a placeholder member that matches no traffic
        ok(old.post(CMDB + "firewall/addrgrp/%s/member" % GROUP, json={"name": "none"}))
        done = run_module(MODULE, dict(args, addresses=["198.51.100.8"], state="absent"))
        assert done["changed"] is True and done["members"] == []
        assert members(old) == ["none"] and old.admitted("198.51.100.8") == 0
    finally:
        lab.stop()


def test_other_vdom(labview, run_module):
    fgt = labview.device("fgt1")
    make_group(fgt, vdom="dmz")
    result = run_module(MODULE, dict(conn(labview), vdom="dmz", address_group=GROUP, addresses=["198.51.100.7"],
                                     user="alice"))
    assert result["changed"] is True
    assert [m["name"] for m in fgt.cmdb("firewall/addrgrp", GROUP, vdom="dmz")["member"]] == ["kk_198.51.100.7"]
    assert fgt.cmdb("firewall/addrgrp", GROUP) is None


def test_playbook_grant_and_revoke(labview, fgt, run_playbook):
    info = labview.info("fgt1")
    play = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: "{{ fgt_url }}"
      token: "{{ fgt_token }}"
      ca_path: "{{ ca }}"
      tls_server_name: "{{ serial }}"
  tasks:
    - name: grant
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [198.51.100.7]
        user: alice
    - name: grant again
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [198.51.100.7]
        user: alice
    - name: revoke in check mode
      check_mode: true
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [198.51.100.7]
        user: alice
        state: absent
"""
    rc, output, results = run_playbook(play, extra_vars={
        "fgt_url": info["url"], "fgt_token": info["tokens"]["kk-active"], "ca": info["ca_path"],
        "serial": info["tls_server_name"]}, diff=True)
    assert rc == 0, output
    assert results["grant"]["changed"] is True and results["grant"]["added"] == ["kk_198.51.100.7"]
    assert results["grant again"]["changed"] is False
    assert results["revoke in check mode"]["changed"] is True
    assert info["tokens"]["kk-active"] not in output
    assert fgt.admitted("198.51.100.7") != 0
