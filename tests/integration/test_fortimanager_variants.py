"""The FortiManager lab switches (lab/kklab/variants.py, docs/lab.md "Fidelity"), each tested on both of its sides,
with the modules right on either: issue 11 items 4-8, 11, 14 and 15b.

A switch is flipped for one test through the control endpoint (``POST /devices/fmg1/switches``); the ``labview``
fixture's reset puts the lab back to the topology's values (which ``KKLAB_VARIANT=alternate`` flips as a whole).
"""

import threading

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import require_targets, resolve_targets
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient

FMG = "fmg1"
NAME = "kk_allow"
URL = "https://knocknoc.example.com/api/v1/allowlists/6b0c/9f2e.txt"
IP = "198.51.100.7"
BOTH = pytest.mark.parametrize("side", [True, False], ids=["default side", "other side"])


def switch(labview, **values):
    return labview.control("POST", "/devices/%s/switches" % FMG, values)


def client(labview, token="lab-api", **extra):
    conn = labview.connection(FMG, token, timeout=10)
    return FortiManagerClient(conn["url"], conn["token"], ca_path=conn.get("ca_path"),
                              tls_server_name=conn.get("tls_server_name"), **extra)


def extres_args(labview, adom="root", **extra):
    return dict(labview.connection(FMG, "lab-api", use_fortimanager=True, adom=adom, name=NAME, resource=URL,
                                   refresh_rate=1, timeout=10), **extra)


def dump(labview):
    return labview.control("GET", "/devices/%s/dump" % FMG)


def test_switches_are_listed_and_reset(labview):
    listed = labview.control("GET", "/devices/%s/switches" % FMG)
    assert set(listed) == {"workspace_unlock_after_install", "install_scope_check", "system_global_permission",
                           "parallel_token_minus11", "th_from_profile"}
    assert all(entry["behaviour"] and entry["source"] for entry in listed.values())
    switch(labview, th_from_profile=False)
    assert dump(labview)["switches"]["th_from_profile"] is False
    labview.control("POST", "/reset")
    assert dump(labview)["switches"]["th_from_profile"] is listed["th_from_profile"]["value"]
    with pytest.raises(Exception):
        switch(labview, no_such_switch=True)


# -- item 4: workspace-unlock-after-install (7.2.2+) -------------------------------------------------------------
@BOTH
def test_install_in_a_workspace_adom_whether_or_not_the_install_unlocks(labview, run_module, side):
    switch(labview, workspace_unlock_after_install=side)
    result = run_module("fortinet_external_resource", extres_args(labview, adom="emea"))
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["install"]["num_err"] == 0
    state = dump(labview)
    assert state["locks"] == {} and state["pending"] == {}  # unlocked, and nothing left unsaved
    assert NAME in state["db"]["emea"]["obj"]["system/external-resource"]
    assert labview.device("fgt3").cmdb("system/external-resource", NAME) is not None


# -- item 5: the install scope within the package's installation targets -------------------------------------------
def narrow_package(labview):
    reply = labview.device(FMG).rpc("add", "/pm/pkg/adom/root", data={
        "name": "narrow", "type": "pkg", "scope member": [{"name": "fgt1", "vdom": "root"}]})
    assert reply["status"]["code"] == 0, reply


@BOTH
def test_install_outside_the_package_targets_is_refused_before_any_write(labview, run_module, side):
    switch(labview, install_scope_check=side)
    narrow_package(labview)
    writes = labview.writes(FMG)
    result = run_module("fortinet_external_resource", extres_args(labview, package="narrow", targets=["fgt2"]))
    assert result["failed"] is True
    assert "fgt2 (VDOM root) is not an installation target of policy package narrow" in result["msg"], result["msg"]
    assert labview.writes(FMG) == writes
    # within the targets it installs
    result = run_module("fortinet_external_resource", extres_args(labview, package="narrow", targets=["fgt1"]))
    assert result.get("failed") is not True and result["install"]["scope"] == [{"name": "fgt1", "vdom": "root"}]


@BOTH
def test_the_lab_enforces_the_package_targets_when_switched_on(labview, side):
    switch(labview, install_scope_check=side)
    narrow_package(labview)
    reply = labview.device(FMG).rpc("exec", "/securityconsole/install/package", data={
        "adom": "root", "pkg": "narrow", "scope": [{"name": "fgt2", "vdom": "root"}], "flags": ["none"]})
    if side:
        assert reply["status"]["code"] == -10 and "installation targets" in reply["status"]["message"]
    else:
        assert reply["status"]["code"] == 0, reply


# -- item 6: -11 on /cli/global/system/global ----------------------------------------------------------------------
def api_user_without_system_settings(labview):
    """An API user whose profile may lock ADOMs but not read system settings; returns its key."""
    fmg = labview.device(FMG)
    reply = fmg.rpc("add", "/cli/global/system/admin/profile", data={
        "profileid": "kk-ws", "adom-lock": "read-write", "policy-objects": "read-write", "system-setting": "none"})
    assert reply["status"]["code"] == 0, reply
    reply = fmg.rpc("add", "/cli/global/system/admin/user", data={
        "userid": "kk-ws", "user_type": "api", "profileid": "kk-ws", "rpc-permit": "read-write",
        "trusthost1": ["127.0.0.1", "255.255.255.255"]})
    assert reply["status"]["code"] == 0, reply
    return labview.control("POST", "/devices/%s/generate-key" % FMG, {"user": "kk-ws"})["access_token"]


@BOTH
def test_workspace_mode_unreadable_is_found_by_the_lock(labview, side):
    switch(labview, system_global_permission=side)
    token = api_user_without_system_settings(labview)
    with client(labview, token) as fmg:
        with fmg.open_workspace("emea") as workspace:
            assert workspace.locked is True
            assert dump(labview)["locks"]["emea"]["lock_user"] == "kk-ws"
        assert fmg.workspace_mode() == ("unknown" if side else "per-adom")
        with fmg.open_workspace("root") as workspace:  # not in workspace mode: the lock says -9
            assert workspace.locked is False
    assert dump(labview)["locks"] == {}


# -- item 7: parallel API-key requests refused with -11 (7.4.x) -------------------------------------------------------
def in_parallel(clients, work):
    """``work(client)`` on every client at once (a barrier releases them together); results in order."""
    barrier = threading.Barrier(len(clients))
    out = [None] * len(clients)

    def one(index):
        barrier.wait()
        try:
            out[index] = work(clients[index])
        except KnocknocError as err:
            out[index] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


@BOTH
def test_parallel_key_requests(labview, side):
    switch(labview, parallel_token_minus11=side)
    clients = [client(labview) for _unused in range(6)]
    try:
        # the raw JSON-RPC answers show the device: overlapping key requests refused only when switched on
        codes = in_parallel(clients, lambda c: c.rpc("get", [{"url": "/sys/status"}])[0]["status"]["code"])
        if side:
            assert -11 in codes, codes
        else:
            assert codes == [0] * len(clients)
        # call() retries a -11 after jittered, growing pauses: two jobs at once both get their answer, and the one
        # refused needs a single retry (test_awx_fleet runs a whole fleet in parallel against this switch)
        pair = clients[:2]
        retries = []
        for _round in range(3):
            before = labview.counters()[FMG]["requests"]
            answers = in_parallel(pair, lambda c: c.call("get", "/cli/global/system/admin/user/alice", fields=["userid"]))
            assert all(isinstance(a, dict) and a.get("userid") == "alice" for a in answers), answers
            retries.append(labview.counters()[FMG]["requests"] - before - len(pair))
        assert all(r <= 1 for r in retries) and (sum(retries) >= 1 if side else sum(retries) == 0), retries
    finally:
        for c in clients:
            c.close()


# -- item 8: every proxy call carries a timeout below the client's --------------------------------------------------------
def test_proxy_calls_carry_a_timeout_below_the_clients(labview, run_module):
    assert run_module("fortinet_external_resource", extres_args(labview, timeout=7)).get("failed") is not True
    again = run_module("fortinet_external_resource", extres_args(labview, timeout=7))  # reads the FortiGates
    assert again.get("failed") is not True
    entry = dict(labview.connection(FMG, "lab-api", use_fortimanager=True, timeout=7), name=NAME, entries=[IP],
                 targets=["fgt1"])
    pushed = run_module("fortigate_dynamic_entry", entry)  # read, push, read back: three proxy calls
    assert pushed.get("failed") is not True, pushed
    timeouts = dump(labview)["proxy_timeouts"]
    assert timeouts and all(t == 6 for t in timeouts), timeouts


# -- item 11: trusted hosts from the admin profile -----------------------------------------------------------------------
@BOTH
def test_trusted_hosts_from_the_profile(labview, run_module, side):
    switch(labview, th_from_profile=side)
    fmg = labview.device(FMG)
    reply = fmg.rpc("update", "/cli/global/system/admin/user/alice",
                    data={"th-from-profile": 1, "trusthost10": [IP, "255.255.255.255"]})
    assert reply["status"]["code"] == 0, reply
    check = labview.control("POST", "/devices/%s/login-check" % FMG, {"user": "alice", "ip": "203.0.113.9"})
    # honoured: Super_User's trusted hosts (factory: slot 1 allows all); ignored: alice's own slots
    assert check == ({"allowed": True, "matched": "profile Super_User trusthost1"} if side
                     else {"allowed": False, "matched": None})
    conn = labview.connection(FMG, "lab-api", timeout=10)
    grant = run_module("fortimanager_trusted_host", dict(conn, admin="alice", address="203.0.113.9"))
    assert grant["failed"] is True and grant["error_code"] == 202050 and "th-from-profile" in grant["msg"]
    revoke = run_module("fortimanager_trusted_host", dict(conn, admin="alice", address=IP, state="absent"))
    assert revoke.get("failed") is not True and revoke["revoked"] is True
    assert revoke["still_admitted"] == ["profile Super_User trusthost1"]
    assert fmg.rpc("get", "/cli/global/system/admin/user/alice")["data"]["trusthost10"] == ["255.255.255.255"] * 2


# -- item 15b: a misspelled ADOM with bare target names ----------------------------------------------------------------
def test_misspelled_adom_with_bare_targets_is_one_202101(labview, run_module):
    before = labview.counters()[FMG]["requests"]
    with client(labview) as fmg:
        targets = resolve_targets(fmg, ["fgt1", "fgt2"], "rooot")
        assert labview.counters()[FMG]["requests"] - before == 1  # one look-up answers for every bare name
        assert [t.error.code for t in targets] == [202101, 202101]
        with pytest.raises(KnocknocError) as raised:
            require_targets(targets)
    assert raised.value.code == 202101 and "ADOM rooot does not exist" in str(raised.value)
    result = run_module("fortinet_external_resource", extres_args(labview, adom="rooot", targets=["fgt1"]))
    assert result["error_code"] == 202101 and "ADOM rooot does not exist" in result["msg"]
    entry = dict(labview.connection(FMG, "lab-api", use_fortimanager=True, adom="rooot", timeout=7),
                 name=NAME, entries=[IP], targets=["fgt1", "fgt2"])
    result = run_module("fortigate_dynamic_entry", entry)
    # a grant's push failure is not fatal (the agent's 202100 rule): the one answer is on every target
    assert result["failed_targets"] == ["fgt1", "fgt2"]
    assert [r["error_code"] for r in result["results"]] == [202101, 202101]
    assert all("ADOM rooot does not exist" in r["error"] for r in result["results"])


# -- item 14: no API keys before FortiManager 7.2.2 ----------------------------------------------------------------------
def test_fortimanager_before_7_2_2_has_no_api_keys(tmp_path, labview_class, run_module):
    from kklab.lab import Lab

    old = {"name": "fmg-old", "serial": "FMG-VM0000000721", "version": "7.2.1", "adoms": {"root": {"devices": []}}}
    lab = Lab(tmp_path / "lab", topology={"fortimanager": [old]})
    lab.start()
    try:
        view = labview_class(lab)
        conn = view.connection("fmg-old", "lab-api", timeout=10)
        result = run_module("fortimanager_trusted_host", dict(conn, admin="alice", address=IP))
        assert result["failed"] is True and result["error_code"] == 202001
        assert "before 7.2.2" in result["msg"] and conn["token"] not in str(result)
    finally:
        lab.stop()
