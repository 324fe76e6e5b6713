"""The access and reconcile roles' FortiManager trusted-host revoke, through ansible-playbook against the lab:
"revoked" is printed only for a revoke the module proved on FortiManager, and trusted hosts 1-9 that still admit the
address are shown (still_admitted) instead."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FMG = "fmg1"
IP = "203.0.113.44"
USER_URL = "/cli/global/system/admin/user/alice"
OPEN = "access may still be open"


def set_slots(labview, **slots):
    reply = labview.device(FMG).rpc("update", USER_URL, data=slots)
    assert reply["status"]["code"] == 0, reply


def revoke(labview, run_playbook):
    extra = {"access_mode": "active", "access_use_fortimanager": True, "access_user": "alice", "access_ip": IP,
             "access_fortimanager": labview.connection(FMG, "lab-api", timeout=10, retries=0)}
    rc, out, results = run_playbook((ROOT / "playbooks" / "revoke.yml").read_text(), extra_vars=extra)
    assert extra["access_fortimanager"]["token"] not in out
    return rc, out, results


def shown(results):
    return " ".join(str(r.get("msg", "")) for name, r in results.items() if "Show the trusted host change" in name)


def test_access_role_says_revoked_only_when_proved(labview, run_playbook):
    # Proved: slot 10 reset and read back, nothing else admits the address.
    set_slots(labview, trusthost10=[IP, "255.255.255.255"])
    rc, out, results = revoke(labview, run_playbook)
    assert rc == 0, out
    assert "alice %s revoked" % IP in shown(results), out
    assert not labview.login_allowed(FMG, "alice", IP)

    # The read-back fails (the third request): the role fails with the agent code, never says "revoked".
    set_slots(labview, trusthost10=[IP, "255.255.255.255"])
    labview.fault(FMG, kind="status", status=500, skip=2, count=1)
    rc, out, results = revoke(labview, run_playbook)
    labview.control("DELETE", "/devices/%s/faults" % FMG)
    assert rc != 0, out
    assert OPEN in out and "%s revoked" % IP not in out

    # A network in slot 10 around the address is reset too; slot 3 still admits it: shown, not "revoked".
    set_slots(labview, trusthost10=["203.0.113.0", "255.255.255.0"], trusthost3=["203.0.113.40", "255.255.255.248"])
    rc, out, results = revoke(labview, run_playbook)
    assert rc == 0, out
    text = shown(results)
    assert "still log in from it through trusthost3" in text and "%s revoked" % IP not in text, text
    assert labview.control("POST", "/devices/%s/login-check" % FMG, {"user": "alice", "ip": IP})["matched"] == "trusthost3"
    reply = labview.device(FMG).rpc("get", USER_URL)
    assert reply["data"]["trusthost10"] == ["255.255.255.255", "255.255.255.255"]


RECONCILE = """
- name: Reconcile trusted hosts
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Reset alice's slots 10 (no grant left)
      ansible.builtin.import_role:
        name: knocknoc.fortinet.reconcile
        tasks_from: fortimanager_trusted_host
      vars:
        __reconcile_grants: []
        reconcile_usernames: [alice]
      module_defaults:
        group/knocknoc.fortinet.fortimanager: "{{ fmg }}"
"""


def test_reconcile_reset_is_shown_only_when_proved(labview, run_playbook):
    set_slots(labview, trusthost10=[IP, "255.255.255.255"])
    rc, out, _results = run_playbook(RECONCILE, extra_vars={"fmg": labview.connection(FMG, "lab-api", timeout=10)})
    assert rc == 0, out
    assert "alice: slots 10 reset" in out
    assert not labview.login_allowed(FMG, "alice", IP)
