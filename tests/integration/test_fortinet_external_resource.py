"""fortinet_external_resource against the lab: FortiGate directly (VDOMs root and dmz) and through
FortiManager (ADOM root, and ADOM emea in workspace mode), checked through the devices themselves."""

import json

import pytest

MODULE = "fortinet_external_resource"
NAME = "kk_allow"
URL = "https://knocknoc.example.com/api/v1/allowlists/6b0c/9f2e.txt"
SHOWN_URL = "https://knocknoc.example.com/api/v1/allowlists/6b0c/<redacted>.txt"  # its path token is a secret
KEY = "allowlist-key-0123456789"
TABLE = "system/external-resource"


def fgt_args(labview, device="fgt1", token="kk-passiveplus", **extra):
    return dict(labview.connection(device, token, name=NAME, resource=URL, username="apikey", password=KEY), **extra)


def fmg_args(labview, adom="root", **extra):
    return dict(labview.connection("fmg1", "lab-api", use_fortimanager=True, adom=adom, name=NAME, resource=URL,
                                   username="apikey", password=KEY, refresh_rate=1), **extra)


def no_secret(result, *secrets):
    text = json.dumps(result)
    for secret in (KEY,) + secrets:
        assert secret not in text


def on_device(labview, device="fgt1", vdom="root", name=NAME):
    return labview.device(device).cmdb(TABLE, name, vdom=vdom)


def stored_password(lab, device="fgt1", vdom="root", name=NAME):
    # The lab's own state: the REST API never returns a password (ENC XXXX).
    return lab.devices[device].vdom_tables[vdom][TABLE][name]["password"]


def lockinfo(labview, adom="emea"):
    reply = labview.device("fmg1").rpc("get", "/dvmdb/adom/%s/workspace/lockinfo" % adom)
    assert reply["status"]["code"] == 0, reply
    return reply.get("data") or []


# -- FortiGate directly ---------------------------------------------------------------------------
def test_create_update_delete_in_root_and_dmz(labview, run_module):
    args = fgt_args(labview, refresh_rate=1, comments="Knocknoc Passive")
    created = run_module(MODULE, args, diff=True)
    assert created["changed"] is True, created
    obj = on_device(labview)
    assert (obj["type"], obj["resource"], obj["username"], obj["refresh-rate"], obj["status"]) == (
        "address", URL, "apikey", 1, "enable")
    assert obj["password"] == "ENC XXXX" and obj["comments"] == "Knocknoc Passive"
    assert stored_password(labview.lab) == KEY
    assert created["resource"]["resource"] == SHOWN_URL and created["resource"]["password"] == "<hidden>"
    assert "password" in created["changed_fields"] and "resource" in created["changed_fields"]
    assert created["diff"]["before"] == {}
    assert created["diff"]["after"]["password"] == "<hidden (updated)>"
    assert created["diff"]["after"]["refresh-rate"] == 1
    no_secret(created)
    assert on_device(labview, vdom="dmz") is None  # the other VDOM is untouched

    again = run_module(MODULE, args, diff=True)
    assert again["changed"] is False and again["changed_fields"] == [] and "diff" not in again

    writes = labview.writes("fgt1")
    updated = run_module(MODULE, dict(args, refresh_rate=60, comments="hourly"), diff=True)
    assert updated["changed"] is True and updated["changed_fields"] == ["comments", "refresh-rate"]
    assert updated["diff"]["before"]["refresh-rate"] == 1 and updated["diff"]["after"]["refresh-rate"] == 60
    assert updated["diff"]["before"]["password"] == updated["diff"]["after"]["password"] == "<hidden>"
    assert labview.writes("fgt1") == writes + 1  # one PUT, the password not resent
    assert on_device(labview)["refresh-rate"] == 60 and stored_password(labview.lab) == KEY

    in_dmz = run_module(MODULE, dict(args, vdom="dmz", update_method="push", resource=None))
    assert in_dmz["changed"] is True
    assert on_device(labview, vdom="dmz")["update-method"] == "push"

    gone = run_module(MODULE, dict(args, vdom="dmz", state="absent"), diff=True)
    assert gone["changed"] is True and gone["resource"] == {}
    assert gone["diff"]["after"] == {} and gone["diff"]["before"]["name"] == NAME
    assert on_device(labview, vdom="dmz") is None and on_device(labview) is not None
    assert run_module(MODULE, dict(args, vdom="dmz", state="absent"))["changed"] is False


def test_names_are_case_sensitive(labview, run_module):
    assert run_module(MODULE, fgt_args(labview))["changed"] is True
    other = run_module(MODULE, fgt_args(labview, name="KK_ALLOW"))
    assert other["changed"] is True
    names = sorted(o["name"] for o in labview.device("fgt1").cmdb(TABLE))
    assert names == ["KK_ALLOW", NAME]


def test_forbidden_without_system_configuration(labview, run_module):
    result = run_module(MODULE, fgt_args(labview, token="kk-active"))
    assert result["failed"] is True and result["error_code"] == 202002, result
    assert "HTTP 403" in result["msg"] and result["details"]["http_status"] == 403
    assert labview.writes("fgt1") == 0
    no_secret(result, labview.info("fgt1")["tokens"]["kk-active"])


@pytest.mark.parametrize("override, words", [
    ({"name": "k" * 36}, ["name", "35"]),
    ({"name": " kk_allow"}, ["name", "whitespace"]),
    ({"resource": "https://apikey:topsecret@knocknoc.example.com/x.txt"}, ["resource", "username", "password"]),
    ({"resource": "http://knocknoc.example.com/x.txt"}, ["resource", "https://"]),
    ({"resource": "https://knocknoc.example.com/" + "x" * 500}, ["resource", "511"]),
    ({"resource": None}, ["resource", "required"]),
    ({"refresh_rate": 0}, ["refresh_rate", "43200"]),
    ({"refresh_rate": 43201}, ["refresh_rate", "43200"]),
    ({"comments": "c" * 256}, ["comments", "255"]),
    ({"username": "u" * 65}, ["username", "64"]),
    ({"targets": ["fgt1"]}, ["targets", "use_fortimanager"]),
])
def test_invalid_input_fails_before_any_request(labview, run_module, override, words):
    labview.control("POST", "/counters/reset")
    result = run_module(MODULE, fgt_args(labview, **override))
    assert result["failed"] is True, result
    for word in words:
        assert word in result["msg"], result["msg"]
    assert "topsecret" not in json.dumps(result)
    assert labview.counters()["fgt1"]["requests"] == 0


def test_check_mode_writes_nothing(labview, run_module):
    args = fgt_args(labview, refresh_rate=1)
    planned = run_module(MODULE, args, check=True, diff=True)
    assert planned["changed"] is True and planned["resource"]["resource"] == SHOWN_URL
    assert planned["diff"]["after"]["password"] == "<hidden (updated)>"
    assert labview.writes("fgt1") == 0 and on_device(labview) is None
    run_module(MODULE, args)
    writes = labview.writes("fgt1")
    update = run_module(MODULE, dict(args, refresh_rate=2, status="disable"), check=True, diff=True)
    assert update["changed"] is True and update["changed_fields"] == ["refresh-rate", "status"]
    assert update["resource"]["refresh-rate"] == 2
    delete = run_module(MODULE, dict(args, state="absent"), check=True)
    assert delete["changed"] is True
    assert labview.writes("fgt1") == writes
    assert on_device(labview)["refresh-rate"] == 1 and on_device(labview)["status"] == "enable"


def test_password_on_create_and_always(labview, run_module):
    args = fgt_args(labview)
    run_module(MODULE, args)
    # on_create (default): a new key is not noticed, and not sent.
    same = run_module(MODULE, dict(args, password="another-key-9876543210"))
    assert same["changed"] is False and stored_password(labview.lab) == KEY
    # always: sent on every run (FortiOS never returns it, so equality cannot be proven).
    for run in (1, 2):
        rotated = run_module(MODULE, dict(args, password="another-key-9876543210", update_password="always"),
                             diff=True)
        assert rotated["changed"] is True and rotated["changed_fields"] == ["password"], run
        assert rotated["diff"]["after"]["password"] == "<hidden (updated)>"
        no_secret(rotated, "another-key-9876543210")
    assert stored_password(labview.lab) == "another-key-9876543210"


def test_password_set_when_the_device_has_none(labview, run_module):
    labview.device("fgt1").post("/api/v2/cmdb/" + TABLE, params={"vdom": "root"},
                                json={"name": NAME, "type": "address", "resource": URL, "username": "apikey"})
    first = run_module(MODULE, fgt_args(labview))
    assert first["changed"] is True and first["changed_fields"] == ["password"]
    assert stored_password(labview.lab) == KEY
    assert run_module(MODULE, fgt_args(labview))["changed"] is False


def test_fields_by_fortios_version(labview, run_module):
    # fgt3 runs 7.2.0: no update-method (7.2.1+) nor server-identity-check (7.2.4+).
    push = run_module(MODULE, fgt_args(labview, device="fgt3", update_method="push", resource=None))
    assert push["failed"] is True and "update_method" in push["msg"] and "7.2.0" in push["msg"]
    full = run_module(MODULE, fgt_args(labview, device="fgt3", server_identity_check="full"))
    assert full["failed"] is True and "server_identity_check" in full["msg"]
    assert labview.writes("fgt3") == 0
    args = fgt_args(labview, device="fgt3", update_method="feed", server_identity_check="none")
    assert run_module(MODULE, args)["changed"] is True
    assert "update-method" not in on_device(labview, "fgt3")
    assert run_module(MODULE, args)["changed"] is False
    # fgt2 runs 7.6.2 and has both.
    args = fgt_args(labview, device="fgt2", server_identity_check="full", update_method="feed")
    assert run_module(MODULE, args)["changed"] is True
    assert on_device(labview, "fgt2")["server-identity-check"] == "full"


def test_delete_refused_while_a_policy_uses_it(labview, run_module):
    run_module(MODULE, fgt_args(labview))
    reply = labview.device("fgt1").post("/api/v2/cmdb/firewall/policy", params={"vdom": "root"}, json={
        "policyid": 0, "name": "kk-in", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
        "srcaddr": [{"name": NAME}], "dstaddr": [{"name": "all"}], "service": [{"name": "HTTPS"}],
        "schedule": "always", "action": "accept"})
    assert reply.status_code == 200, reply.text
    result = run_module(MODULE, fgt_args(labview, state="absent"))
    assert result["failed"] is True and result["changed"] is False
    assert result["details"]["fortios_error"] == -23
    assert on_device(labview) is not None


# -- FortiManager, ADOM root ----------------------------------------------------------------------
def test_fortimanager_create_install_and_converge(labview, run_module):
    fgt2_serial = labview.info("fgt2")["serial"]
    args = fmg_args(labview, targets=["fgt1", fgt2_serial])
    created = run_module(MODULE, args, diff=True)
    assert created["changed"] is True, created
    install = created["install"]
    assert install["state"] == "done" and install["num_err"] == 0 and install["reason"] == "object changed"
    assert install["scope"] == [{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "root"}]
    assert sorted(d["name"] for d in install["devices"]) == ["fgt1", "fgt2"]
    no_secret(created)
    obj = labview.device("fmg1").rpc("get", "/pm/config/adom/root/obj/" + TABLE + "/" + NAME, verbose=1)["data"]
    assert (obj["type"], obj["resource"], obj["refresh-rate"]) == ("address", URL, 1)
    for device in ("fgt1", "fgt2"):
        on = on_device(labview, device)
        assert on is not None, device
        assert (on["resource"], on["username"], on["refresh-rate"], on["type"]) == (URL, "apikey", 1, "address")
        assert stored_password(labview.lab, device) == KEY
    assert on_device(labview, "fgt3") is None  # another ADOM

    before = labview.counters()
    again = run_module(MODULE, args, diff=True)
    assert again["changed"] is False and "install" not in again, again
    after = labview.counters()
    assert dict((n, c["writes"]) for n, c in after.items()) == dict((n, c["writes"]) for n, c in before.items())
    # reads only: the object, the package, the targets (one look-up), the FortiGates (one proxy call)
    assert after["fmg1"]["requests"] - before["fmg1"]["requests"] == 4

    # A FortiGate that lost the resource (or missed an install) is installed again.
    assert labview.device("fgt2").request("DELETE", "/api/v2/cmdb/%s/%s" % (TABLE, NAME)).status_code == 200
    check = run_module(MODULE, args, check=True)
    assert check["changed"] is True and on_device(labview, "fgt2") is None
    repaired = run_module(MODULE, args)
    assert repaired["changed"] is True and repaired["changed_fields"] == []
    assert "fgt2 (root): missing" in repaired["install"]["reason"]
    assert on_device(labview, "fgt2") is not None
    assert run_module(MODULE, args)["changed"] is False


def test_fortimanager_device_group_target(labview, run_module):
    args = fmg_args(labview, targets=["All_FortiGate"])
    created = run_module(MODULE, args)
    assert created["changed"] is True and created["install"]["scope"] == [{"name": "All_FortiGate"}], created
    assert sorted(d["name"] for d in created["install"]["devices"]) == ["fgt1", "fgt2"]
    assert on_device(labview, "fgt1")["resource"] == URL and on_device(labview, "fgt2")["resource"] == URL
    assert run_module(MODULE, args)["changed"] is False  # the group's FortiGates are read through FortiManager
    assert labview.device("fgt1").request("DELETE", "/api/v2/cmdb/%s/%s" % (TABLE, NAME)).status_code == 200
    repaired = run_module(MODULE, args)
    assert repaired["changed"] is True and "fgt1 (root): missing" in repaired["install"]["reason"]


def test_fortimanager_package_scope_check_mode_and_delete(labview, run_module):
    args = fmg_args(labview, refresh_rate=10)
    planned = run_module(MODULE, args, check=True, diff=True)
    assert planned["changed"] is True and planned["diff"]["after"]["refresh-rate"] == 10
    counters = labview.counters()
    assert (counters["fmg1"]["writes"], counters["fgt1"]["writes"], counters["fgt2"]["writes"]) == (0, 0, 0)
    created = run_module(MODULE, args)
    # No targets: the installation targets of package "default".
    assert created["install"]["scope"] == [{"name": "fgt1", "vdom": "root"}, {"name": "fgt2", "vdom": "root"}]
    assert on_device(labview, "fgt1")["refresh-rate"] == 10 and on_device(labview, "fgt2")["refresh-rate"] == 10
    updated = run_module(MODULE, dict(args, refresh_rate=15, install=False))
    assert updated["changed"] is True and "install" not in updated
    assert on_device(labview, "fgt1")["refresh-rate"] == 10  # not installed
    gone = run_module(MODULE, dict(args, state="absent"))
    assert gone["changed"] is True and gone["install"]["reason"] == "object deleted"
    assert labview.device("fmg1").rpc("get", "/pm/config/adom/root/obj/%s/%s" % (TABLE, NAME))["status"]["code"] == -3
    assert run_module(MODULE, dict(args, state="absent"))["changed"] is False


def test_fortimanager_unknown_target_or_package_fails_before_writes(labview, run_module):
    missing = run_module(MODULE, fmg_args(labview, targets=["fgt1", "fgt-nowhere"]))
    assert missing["failed"] is True and missing["error_code"] == 202101 and "fgt-nowhere" in missing["msg"]
    nopkg = run_module(MODULE, fmg_args(labview, package="nopkg"))
    assert nopkg["failed"] is True and "nopkg" in nopkg["msg"]
    noadom = run_module(MODULE, fmg_args(labview, adom="apac"))
    assert noadom["failed"] is True and noadom["error_code"] == 202101 and "ADOM apac" in noadom["msg"]
    assert labview.writes("fmg1") == 0


# -- FortiManager, ADOM emea in workspace mode ----------------------------------------------------
def test_workspace_adom_lock_commit_unlock(labview, run_module):
    args = fmg_args(labview, adom="emea")
    before = labview.counters()["fmg1"]["requests"]
    created = run_module(MODULE, args)
    # get object, package; mode, lock, add, commit (so the install sends it), install, task, commit, unlock; get object
    assert labview.counters()["fmg1"]["requests"] - before == 11
    assert created["changed"] is True and created["install"]["scope"] == [{"name": "fgt3", "vdom": "root"}]
    assert lockinfo(labview) == []  # unlocked after the run
    # Committed: another administrator (a lockless reader) sees it, and it is on fgt3.
    seen = labview.device("fmg1").rpc("get", "/pm/config/adom/emea/obj/%s/%s" % (TABLE, NAME))
    assert seen["status"]["code"] == 0 and seen["data"]["resource"] == URL
    assert on_device(labview, "fgt3")["resource"] == URL
    assert run_module(MODULE, args)["changed"] is False
    assert run_module(MODULE, dict(args, comments="emea"), check=True)["changed"] is True
    assert lockinfo(labview) == []


def test_workspace_adom_locked_by_another_admin(labview, run_module):
    labview.control("POST", "/devices/fmg1/lock", {"adom": "emea", "user": "other-admin"})
    result = run_module(MODULE, fmg_args(labview, adom="emea", lock_timeout=1))
    assert result["failed"] is True and result["changed"] is False
    assert "other-admin" in result["msg"] and result["details"]["lock_user"] == "other-admin"
    assert [i["lock_user"] for i in lockinfo(labview)] == ["other-admin"]  # theirs, left alone
    labview.control("POST", "/devices/fmg1/unlock", {"adom": "emea"})
    assert labview.device("fmg1").rpc("get", "/pm/config/adom/emea/obj/%s/%s" % (TABLE, NAME))["status"]["code"] == -3
    assert run_module(MODULE, fmg_args(labview, adom="emea"))["changed"] is True


def _emea_policy_using_the_resource(labview):
    fmg = labview.device("fmg1")
    for method, url, data in (("exec", "/dvmdb/adom/emea/workspace/lock", None),
                              ("add", "/pm/config/adom/emea/pkg/default/firewall/policy",
                               {"name": "kk-in", "srcintf": ["port1"], "dstintf": ["port2"], "srcaddr": [NAME],
                                "dstaddr": ["all"], "service": ["ALL"], "action": "accept",
                                "schedule": "always"}),
                              ("exec", "/dvmdb/adom/emea/workspace/commit", None),
                              ("exec", "/dvmdb/adom/emea/workspace/unlock", None)):
        param = {"data": data} if data is not None else {}
        reply = fmg.rpc(method, url, **param)
        assert reply["status"]["code"] == 0, reply


def test_workspace_adom_unlocked_after_failures(labview, run_module):
    args = fmg_args(labview, adom="emea")
    run_module(MODULE, args)
    # The delete fails mid-way (the resource is in use): nothing committed, ADOM unlocked.
    _emea_policy_using_the_resource(labview)
    refused = run_module(MODULE, dict(args, state="absent"))
    assert refused["failed"] is True and refused["details"]["jsonrpc_code"] == -10015, refused
    assert lockinfo(labview) == []
    assert labview.device("fmg1").rpc("get", "/pm/config/adom/emea/obj/%s/%s" % (TABLE, NAME))["status"]["code"] == 0
    # The install fails on fgt3 after the commit: the change is saved, the ADOM unlocked, and the
    # next run installs again because fgt3 does not have it as configured.
    labview.fault("fgt3", kind="status", status=500, match="external-resource")
    failed = run_module(MODULE, dict(args, refresh_rate=30))
    assert failed["failed"] is True and failed["changed"] is True
    assert "fgt3" in failed["msg"] and failed["details"]["install_reason"] == "object changed"
    assert lockinfo(labview) == []
    labview.control("DELETE", "/devices/fgt3/faults")
    assert on_device(labview, "fgt3")["refresh-rate"] == 1
    retried = run_module(MODULE, dict(args, refresh_rate=30))
    assert retried["changed"] is True and "differs in refresh-rate" in retried["install"]["reason"]
    assert on_device(labview, "fgt3")["refresh-rate"] == 30
    assert run_module(MODULE, dict(args, refresh_rate=30))["changed"] is False
    assert lockinfo(labview) == []


# -- a real ansible-playbook run ------------------------------------------------------------------
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: "{{ fgt_url }}"
      token: "{{ fgt_token }}"
      ca_path: "{{ ca_path }}"
      tls_server_name: "{{ fgt_serial }}"
  tasks:
    - name: plan
      knocknoc.fortinet.fortinet_external_resource:
        name: kk_allow
        resource: "{{ feed_url }}"
        username: apikey
        password: "{{ feed_key }}"
        refresh_rate: 1
      check_mode: true
    - name: create
      knocknoc.fortinet.fortinet_external_resource:
        name: kk_allow
        resource: "{{ feed_url }}"
        username: apikey
        password: "{{ feed_key }}"
        refresh_rate: 1
    - name: again
      knocknoc.fortinet.fortinet_external_resource:
        name: kk_allow
        resource: "{{ feed_url }}"
        username: apikey
        password: "{{ feed_key }}"
        refresh_rate: 1
"""


def test_playbook(labview, run_playbook):
    info = labview.info("fgt1")
    rc, output, results = run_playbook(PLAYBOOK, diff=True, extra_vars={
        "fgt_url": info["url"], "fgt_token": info["tokens"]["kk-passiveplus"], "ca_path": info["ca_path"],
        "fgt_serial": info["tls_server_name"], "feed_url": URL, "feed_key": KEY})
    assert rc == 0, output
    assert results["plan"]["changed"] is True
    assert results["create"]["changed"] is True and results["create"]["resource"]["refresh-rate"] == 1
    assert results["again"]["changed"] is False
    assert KEY not in output and info["tokens"]["kk-passiveplus"] not in output
    assert on_device(labview)["resource"] == URL


# Both device groups' defaults in one play, as the EXAMPLES show: the FortiManager connection
# travels in the fortimanager dict, so it does not collide with the FortiGate group's url/token.
PLAYBOOK_FMG = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      fortigate:
        url: "{{ fgt_url }}"
        token: "{{ fgt_token }}"
        ca_path: "{{ fgt_ca_path }}"
        tls_server_name: "{{ fgt_serial }}"
    group/knocknoc.fortinet.fortimanager:
      fortimanager:
        url: "{{ fmg_url }}"
        token: "{{ fmg_token }}"
        adom: emea
        ca_path: "{{ fmg_ca_path }}"
        tls_server_name: "{{ fmg_serial }}"
  tasks:
    - name: through_fmg
      knocknoc.fortinet.fortinet_external_resource:
        use_fortimanager: true
        name: kk_allow
        resource: "{{ feed_url }}"
        username: apikey
        password: "{{ feed_key }}"
    - name: direct
      knocknoc.fortinet.fortinet_external_resource:
        name: kk_direct
        resource: "{{ feed_url }}"
"""


def test_playbook_with_both_groups_defaults(labview, run_playbook):
    fgt, fmg = labview.info("fgt1"), labview.info("fmg1")
    rc, output, results = run_playbook(PLAYBOOK_FMG, extra_vars={
        "fgt_url": fgt["url"], "fgt_token": fgt["tokens"]["kk-passiveplus"], "fgt_serial": fgt["tls_server_name"],
        "fmg_url": fmg["url"], "fmg_token": fmg["tokens"]["lab-api"], "fmg_serial": fmg["tls_server_name"],
        "fgt_ca_path": fgt["ca_path"], "fmg_ca_path": fmg["ca_path"], "feed_url": URL, "feed_key": KEY})
    assert rc == 0, output
    assert results["through_fmg"]["install"]["scope"] == [{"name": "fgt3", "vdom": "root"}]
    assert on_device(labview, "fgt3")["resource"] == URL  # ADOM emea's FortiGate, through FortiManager
    assert results["direct"]["changed"] is True and on_device(labview, "fgt1", name="kk_direct")["resource"] == URL
    assert KEY not in output and fmg["tokens"]["lab-api"] not in output
