"""fortimanager_trusted_host against the lab's FortiManager (fmg1).

What a grant does is checked the way an administrator would see it: the lab's login check says
whether the admin may log in from an address, and the admin user is read back over JSON-RPC with
the lab's own admin key (LabView shares no code with the collection's client).
"""

import json
import time

import pytest

MODULE = "fortimanager_trusted_host"
FMG = "fmg1"
IP = "198.51.100.7"
IP6 = "2001:db8::7"
UNUSED_V4 = ["255.255.255.255", "255.255.255.255"]
UNUSED_V6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"
FIX = "set trusted hosts 1-9 to 127.0.0.1 or a controlled backup IP"


def connection(labview, token_name="lab-api", token=None, **overrides):
    return dict(labview.connection(FMG, token or token_name, timeout=5, retries=0), **overrides)


def run(run_module, labview, check=False, diff=False, conn=None, **args):
    params = dict(conn or connection(labview))
    params.update(args)
    result = run_module(MODULE, params, check=check, diff=diff)
    secrets = set(labview.info(FMG)["tokens"].values()) | {params["token"]}
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text, "a token leaked into the module result"
    return result


def warnings_of(result):
    """The warning texts of a result (ansible-core 2.19+ returns them as structured summaries)."""
    texts = []
    for warning in result.get("warnings", []):
        if isinstance(warning, dict):
            warning = (warning.get("event") or {}).get("msg", json.dumps(warning))
        texts.append(warning)
    return texts


def admin_user(labview, name):
    reply = labview.device(FMG).rpc("get", "/cli/global/system/admin/user/%s" % name)
    assert reply["status"]["code"] == 0, reply
    return reply["data"]


def login_check(labview, user, ip):
    return labview.control("POST", "/devices/%s/login-check" % FMG, {"user": user, "ip": ip})


def requests_seen(labview):
    return labview.counters()[FMG]["requests"]


def restrict_ipv6_slot1(labview, user):
    """Follow the seed checklist for IPv6 too: slot 1 to a controlled address instead of ::/0."""
    reply = labview.device(FMG).rpc("update", "/cli/global/system/admin/user/%s" % user,
                                    data={"ipv6_trusthost1": "::1/128"})
    assert reply["status"]["code"] == 0, reply


# -- grant / revoke ----------------------------------------------------------------------------------
def test_grant_revoke_ipv4(labview, run_module):
    assert labview.login_allowed(FMG, "alice", IP) is False

    granted = run(run_module, labview, admin="alice", address=IP)
    assert granted.get("failed") is not True, granted
    assert granted["changed"] is True
    assert granted["admin"] == "alice"
    assert granted["slot"] == "trusthost10"
    assert granted["before"] == {"trusthost10": UNUSED_V4}
    assert granted["after"] == {"trusthost10": [IP, "255.255.255.255"]}
    assert granted["diff"] == {"before": granted["before"], "after": granted["after"]}
    assert login_check(labview, "alice", IP) == {"allowed": True, "matched": "trusthost10"}
    assert labview.login_allowed(FMG, "alice", "198.51.100.8") is False
    assert labview.writes(FMG) == 1
    # alice's IPv6 slot 1 is still the factory ::/0: the grant says so.
    assert any("ipv6_trusthost1" in w and "IPv6" in w for w in warnings_of(granted)), granted
    # slots 1-9 untouched
    user = admin_user(labview, "alice")
    assert [user["trusthost%d" % i] for i in range(1, 10)] == [["127.0.0.1", "255.255.255.255"]] * 9

    again = run(run_module, labview, admin="alice", address=IP)
    assert again["changed"] is False
    assert again["before"] == again["after"] == {"trusthost10": [IP, "255.255.255.255"]}
    assert labview.writes(FMG) == 1

    revoked = run(run_module, labview, admin="alice", address=IP, state="absent")
    assert revoked["changed"] is True
    assert revoked["before"] == {"trusthost10": [IP, "255.255.255.255"]}
    assert revoked["after"] == {"trusthost10": UNUSED_V4}
    assert labview.login_allowed(FMG, "alice", IP) is False
    assert admin_user(labview, "alice")["trusthost10"] == UNUSED_V4
    assert labview.writes(FMG) == 2

    again = run(run_module, labview, admin="alice", address=IP, state="absent")
    assert again["changed"] is False
    assert "warnings" not in again
    assert labview.writes(FMG) == 2


def test_grant_accepts_host_prefix_and_replaces_previous_grant(labview, run_module):
    run(run_module, labview, admin="alice", address="203.0.113.5")
    result = run(run_module, labview, admin="alice", address=IP + "/32")
    assert result["changed"] is True
    assert result["before"] == {"trusthost10": ["203.0.113.5", "255.255.255.255"]}
    assert labview.login_allowed(FMG, "alice", IP) is True
    assert labview.login_allowed(FMG, "alice", "203.0.113.5") is False


def test_check_mode_writes_nothing(labview, run_module):
    predicted = run(run_module, labview, check=True, diff=True, admin="alice", address=IP)
    assert predicted["changed"] is True
    assert predicted["after"] == {"trusthost10": [IP, "255.255.255.255"]}
    assert predicted["diff"]["before"] == {"trusthost10": UNUSED_V4}
    assert labview.writes(FMG) == 0
    assert labview.login_allowed(FMG, "alice", IP) is False

    run(run_module, labview, admin="alice", address=IP)
    writes = labview.writes(FMG)
    for args in ({"address": IP, "state": "absent"}, {"state": "absent"}, {"address": "203.0.113.9"}):
        result = run(run_module, labview, check=True, admin="alice", **args)
        assert result["changed"] is True, (args, result)
    assert labview.writes(FMG) == writes
    assert labview.login_allowed(FMG, "alice", IP) is True


def test_diff_mode(labview, run_module):
    result = run(run_module, labview, diff=True, admin="alice", address=IP)
    assert result["diff"] == {"before": {"trusthost10": UNUSED_V4},
                              "after": {"trusthost10": [IP, "255.255.255.255"]}}
    result = run(run_module, labview, diff=True, admin="alice", state="absent")
    assert result["diff"] == {
        "before": {"trusthost10": [IP, "255.255.255.255"], "ipv6_trusthost10": UNUSED_V6},
        "after": {"trusthost10": UNUSED_V4, "ipv6_trusthost10": UNUSED_V6},
    }


def test_grant_revoke_ipv6(labview, run_module):
    # alice's ipv6_trusthost1 is the factory ::/0: an IPv6 grant would be masked.
    masked = run(run_module, labview, admin="alice", address=IP6)
    assert masked["failed"] is True and masked["error_code"] == 202050
    assert "ipv6_trusthost1" in masked["msg"]

    restrict_ipv6_slot1(labview, "alice")
    writes = labview.writes(FMG)
    assert labview.login_allowed(FMG, "alice", IP6) is False
    granted = run(run_module, labview, admin="alice", address="2001:DB8:0::7")
    assert granted["changed"] is True
    assert granted["slot"] == "ipv6_trusthost10"
    assert granted["before"] == {"ipv6_trusthost10": UNUSED_V6}
    assert granted["after"] == {"ipv6_trusthost10": IP6 + "/128"}
    assert login_check(labview, "alice", IP6) == {"allowed": True, "matched": "ipv6_trusthost10"}
    assert "warnings" not in granted  # both families are controlled now
    assert run(run_module, labview, admin="alice", address=IP6)["changed"] is False
    assert labview.writes(FMG) == writes + 1

    revoked = run(run_module, labview, admin="alice", address=IP6, state="absent")
    assert revoked["changed"] is True
    assert revoked["after"] == {"ipv6_trusthost10": UNUSED_V6}
    assert labview.login_allowed(FMG, "alice", IP6) is False
    assert admin_user(labview, "alice")["ipv6_trusthost10"] == UNUSED_V6


def test_revoke_leaves_another_grant_alone(labview, run_module):
    run(run_module, labview, admin="alice", address=IP)
    writes = labview.writes(FMG)
    result = run(run_module, labview, admin="alice", address="203.0.113.9", state="absent")
    assert result["changed"] is False
    assert result["before"] == result["after"] == {"trusthost10": [IP, "255.255.255.255"]}
    assert any("left unchanged" in w and IP in w for w in warnings_of(result)), result
    assert labview.login_allowed(FMG, "alice", IP) is True
    assert labview.writes(FMG) == writes


def test_revoke_without_address_clears_both_slots(labview, run_module):
    restrict_ipv6_slot1(labview, "alice")
    run(run_module, labview, admin="alice", address=IP)
    run(run_module, labview, admin="alice", address=IP6)
    result = run(run_module, labview, admin="alice", state="absent")
    assert result["changed"] is True
    assert "slot" not in result
    assert result["after"] == {"trusthost10": UNUSED_V4, "ipv6_trusthost10": UNUSED_V6}
    assert labview.login_allowed(FMG, "alice", IP) is False
    assert labview.login_allowed(FMG, "alice", IP6) is False
    user = admin_user(labview, "alice")
    assert user["trusthost10"] == UNUSED_V4 and user["ipv6_trusthost10"] == UNUSED_V6
    assert run(run_module, labview, admin="alice", state="absent")["changed"] is False


# -- masked slot 10 --------------------------------------------------------------------------------
def test_masked_by_allow_all_slot_fails_without_writing(labview, run_module):
    result = run(run_module, labview, admin="bob", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202050
    assert "trusthost1 " in result["msg"] and "allows every address" in result["msg"]
    assert FIX in result["msg"] and "allow_masked" in result["msg"]
    assert result["details"]["masked_by"] == ["trusthost1"]
    assert labview.writes(FMG) == 0
    assert admin_user(labview, "bob")["trusthost10"] == UNUSED_V4


def test_masked_grant_with_allow_masked_warns(labview, run_module):
    result = run(run_module, labview, admin="bob", address=IP, allow_masked=True)
    assert result["changed"] is True
    assert any("trusthost1 " in w and "masked" in w and FIX in w for w in warnings_of(result)), result
    assert admin_user(labview, "bob")["trusthost10"] == [IP, "255.255.255.255"]
    # bob could log in from anywhere before and still can: slot 1 comes first.
    assert login_check(labview, "bob", IP)["matched"] == "trusthost1"


def test_revoke_is_never_refused_for_a_masked_admin(labview, run_module):
    run(run_module, labview, admin="bob", address=IP, allow_masked=True)
    result = run(run_module, labview, admin="bob", address=IP, state="absent")
    assert result["changed"] is True
    assert admin_user(labview, "bob")["trusthost10"] == UNUSED_V4


# -- baseline (slots 1-9) ----------------------------------------------------------------------------
def test_baseline_fixes_a_masked_admin_and_grants_in_one_update(labview, run_module):
    # bob has the factory slots (trusthost1 0.0.0.0 0.0.0.0, ipv6_trusthost1 ::/0): a plain grant is refused,
    # a grant with the seed's baseline is not, because slots 1-9 are checked as the baseline leaves them.
    assert labview.login_allowed(FMG, "bob", "203.0.113.50") is True
    before = requests_seen(labview)
    result = run(run_module, labview, admin="bob", address=IP, baseline=["127.0.0.1", "::1"])
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["slot"] == "trusthost10"
    assert "warnings" not in result
    assert labview.writes(FMG) == 1 and requests_seen(labview) - before == 3
    assert result["before"]["trusthost1"] == ["0.0.0.0", "0.0.0.0"] and result["before"]["ipv6_trusthost1"] == "::/0"
    assert result["after"]["trusthost1"] == ["127.0.0.1", "255.255.255.255"]
    assert result["after"]["ipv6_trusthost1"] == "::1/128"
    assert result["after"]["trusthost10"] == [IP, "255.255.255.255"]
    assert sorted(result["after"]) == sorted(["trusthost%d" % i for i in range(1, 11)]
                                             + ["ipv6_trusthost%d" % i for i in range(1, 10)])
    user = admin_user(labview, "bob")
    assert [user["trusthost%d" % i] for i in range(2, 10)] == [UNUSED_V4] * 8
    assert [user["ipv6_trusthost%d" % i] for i in range(2, 10)] == [UNUSED_V6] * 8
    assert login_check(labview, "bob", IP) == {"allowed": True, "matched": "trusthost10"}
    assert labview.login_allowed(FMG, "bob", "203.0.113.50") is False
    assert labview.login_allowed(FMG, "bob", IP6) is False

    again = run(run_module, labview, admin="bob", address=IP, baseline=["127.0.0.1/32", "::1/128"])
    assert again["changed"] is False and labview.writes(FMG) == 1


def test_baseline_alone_leaves_a_live_grant_in_slot_10(labview, run_module):
    run(run_module, labview, admin="alice", address=IP)
    writes = labview.writes(FMG)
    predicted = run(run_module, labview, check=True, admin="alice", baseline=["192.0.2.0/28", "2001:db8:1::/64"])
    assert predicted["changed"] is True and labview.writes(FMG) == writes
    result = run(run_module, labview, diff=True, admin="alice", baseline=["192.0.2.0/28", "2001:db8:1::/64"])
    assert result["changed"] is True and "slot" not in result
    assert "trusthost10" not in result["after"] and len(result["after"]) == 18
    assert result["diff"]["after"]["trusthost1"] == ["192.0.2.0", "255.255.255.240"]
    assert labview.writes(FMG) == writes + 1
    user = admin_user(labview, "alice")
    assert user["trusthost10"] == [IP, "255.255.255.255"]
    assert user["ipv6_trusthost1"] == "2001:db8:1::/64" and user["trusthost2"] == UNUSED_V4
    assert login_check(labview, "alice", "192.0.2.3") == {"allowed": True, "matched": "trusthost1"}
    assert login_check(labview, "alice", IP) == {"allowed": True, "matched": "trusthost10"}
    assert labview.login_allowed(FMG, "alice", "127.0.0.1") is False


def test_baseline_with_revoke_all_sets_every_slot(labview, run_module):
    # The agent's own API admin as the api_user role sets it: its addresses in 1-9, both slots 10 unused.
    run(run_module, labview, admin="alice", address=IP)
    result = run(run_module, labview, admin="alice", state="absent", baseline=["192.0.2.10", "192.0.2.11"])
    assert result["changed"] is True and len(result["after"]) == 20
    user = admin_user(labview, "alice")
    assert user["trusthost1"] == ["192.0.2.10", "255.255.255.255"]
    assert user["trusthost2"] == ["192.0.2.11", "255.255.255.255"]
    assert user["trusthost10"] == UNUSED_V4 and user["ipv6_trusthost10"] == UNUSED_V6
    assert [user["ipv6_trusthost%d" % i] for i in range(1, 10)] == [UNUSED_V6] * 9
    assert labview.login_allowed(FMG, "alice", IP) is False
    assert labview.login_allowed(FMG, "alice", "192.0.2.11") is True


@pytest.mark.parametrize("baseline,words", [
    (["0.0.0.0/0"], ["baseline", "every address"]),
    (["127.0.0.1", "::/0"], ["baseline", "every address"]),
    (["192.0.2.5/28"], ["baseline", "host bits"]),
    (["10.0.0.%d" % i for i in range(1, 11)], ["baseline", "at most 9"]),
    ([], ["baseline", "at least one"]),
])
def test_invalid_baseline_is_refused_before_any_call(labview, run_module, baseline, words):
    result = run(run_module, labview, admin="alice", baseline=baseline)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"], result["msg"]
    assert requests_seen(labview) == 0


# -- input validation (before any call) ---------------------------------------------------------------
@pytest.mark.parametrize("args,words", [
    ({"admin": "alice ", "address": IP}, ["admin", "whitespace"]),
    ({"admin": " alice", "address": IP}, ["admin", "whitespace"]),
    ({"admin": "alice", "address": "198.51.100.0/24"}, ["address", "/24"]),
    ({"admin": "alice", "address": "0.0.0.0/0"}, ["address", "every address"]),
    ({"admin": "alice", "address": "255.255.255.255"}, ["address"]),
    ({"admin": "alice", "address": "not-an-ip"}, ["address", "not-an-ip"]),
    ({"admin": "alice", "address": "::ffff:198.51.100.7"}, ["address", "trusthost10"]),
    ({"admin": "alice"}, ["address"]),
    ({"admin": "a/b", "address": IP}, ["admin"]),
])
def test_invalid_input_is_refused_before_any_call(labview, run_module, args, words):
    result = run(run_module, labview, **args)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"], result["msg"]
    assert requests_seen(labview) == 0


# -- error codes -------------------------------------------------------------------------------------
def test_admin_not_found_is_202051(labview, run_module):
    result = run(run_module, labview, admin="Alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202051
    assert result["msg"].startswith("(agent error #202051) Admin user not found on FortiManager")
    assert result["details"]["jsonrpc_code"] == -2
    assert labview.writes(FMG) == 0
    assert labview.login_allowed(FMG, "alice", IP) is False


def test_token_without_super_user_is_202002(labview, run_module):
    result = run(run_module, labview, conn=connection(labview, "kk-passiveplus"), admin="alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202002
    assert "Super_User" in result["hint"]
    assert labview.login_allowed(FMG, "alice", IP) is False


def test_bad_token_is_202001(labview, run_module):
    result = run(run_module, labview, conn=connection(labview, token="x" * 30), admin="alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202001
    assert "x" * 30 not in json.dumps(result)


def test_timeout_is_202004(labview, run_module):
    labview.fault(FMG, kind="delay", seconds=2.5, count=1)
    result = run(run_module, labview, conn=connection(labview, timeout=1), admin="alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202004
    assert labview.writes(FMG) == 0
    # the lab still answers the abandoned request after its delay; let it, so that it meets no later test's faults
    time.sleep(2)


def test_failed_update_is_202050(labview, run_module):
    # The read goes through; the update (second request) gets JSON-RPC status -1.
    labview.fault(FMG, kind="jsonrpc", code=-1, message="runtime error 0: internal", match="^/jsonrpc", skip=1, count=1)
    result = run(run_module, labview, admin="alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202050
    assert result["msg"].startswith("(agent error #202050) Failed to update trusted host")
    assert result["details"]["jsonrpc_code"] == -1
    assert result["details"]["method"] == "update"
    assert labview.login_allowed(FMG, "alice", IP) is False


def test_update_that_did_not_take_is_202050(labview, run_module):
    # FortiManager says OK to the update without changing anything: the read-back catches it.
    labview.fault(FMG, kind="jsonrpc", code=0, match="^/jsonrpc", skip=1, count=1)
    result = run(run_module, labview, admin="alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202050
    assert "reading back" in result["msg"] and "trusthost10" in result["msg"]
    assert labview.login_allowed(FMG, "alice", IP) is False


def test_update_without_permission_stays_202002(labview, run_module):
    # -11 on the update and again on its three retries (a -11 is retried: FortiManager 7.4.x refuses parallel key
    # requests at random); /sys/status answers, so the key is good: a missing permission.
    for _try in range(1 + 3):
        labview.fault(FMG, kind="jsonrpc", code=-11, match="^/jsonrpc", skip=1, count=1)
    result = run(run_module, labview, admin="alice", address=IP)
    assert result["failed"] is True
    assert result["error_code"] == 202002


def test_update_refused_three_times_then_taken(labview, run_module):
    # A fleet in parallel through FortiManager 7.4.x: the update collides with other jobs' requests three times,
    # then goes through; the grant holds and the administrator can log in from the address.
    for _try in range(3):
        labview.fault(FMG, kind="jsonrpc", code=-11, match="^/jsonrpc", skip=1, count=1)
    result = run(run_module, labview, admin="alice", address=IP)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert labview.login_allowed(FMG, "alice", IP) is True


# -- a real playbook -------------------------------------------------------------------------------
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortimanager:
      url: "{{ fmg_url }}"
      token: "{{ fmg_token }}"
      ca_path: "{{ ca_path }}"
      tls_server_name: "{{ fmg_serial }}"
  tasks:
    - name: grant
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: alice
        address: 198.51.100.7
    - name: grant again
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: alice
        address: 198.51.100.7
    - name: masked
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: bob
        address: 198.51.100.7
      ignore_errors: true
"""


def test_playbook_with_module_defaults(labview, run_playbook):
    info = labview.info(FMG)
    token = info["tokens"]["lab-api"]
    rc, output, results = run_playbook(PLAYBOOK, diff=True, extra_vars={
        "fmg_url": info["url"], "fmg_token": token, "ca_path": info["ca_path"],
        "fmg_serial": info["tls_server_name"]})
    assert rc == 0, output
    assert token not in output
    assert results["grant"]["changed"] is True
    assert results["grant"]["slot"] == "trusthost10"
    assert results["grant again"]["changed"] is False
    assert results["masked"]["failed"] is True and results["masked"]["error_code"] == 202050
    assert labview.login_allowed(FMG, "alice", IP) is True
