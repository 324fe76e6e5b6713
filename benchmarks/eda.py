# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Event-Driven Ansible against the lab: from a sign-in on Knocknoc to the device admitting the address.

Run from the repository (after ``make venv``):

    .venv/bin/python benchmarks/eda.py              # 50 sign-ins per mode, burst, faults (about 13 min on an idle 2-core machine)
    .venv/bin/python benchmarks/eda.py --quick      # 10 sign-ins per mode, a 10 s outage
    .venv/bin/python benchmarks/eda.py --json       # the figures as JSON on stdout
    .venv/bin/python benchmarks/eda.py --only source --only burst

Sections (see benchmarks/README.md, "Event-Driven Ansible"):
  source     the event source alone, in-process: sign-in -> event on the queue, sign-out -> event.
  playbook   playbooks/eda_access.yml run by ansible-playbook alone (the floor of one change).
  modes      ansible-rulebook on the collection's rulebooks, per mode: N users sign in one after the other;
             sign-in -> admitted and sign-out -> refused, seen on the device (policy lookup, login check).
  burst      100 sign-ins spread over one second (Passive+ on fgt1): time until all are admitted, playbook runs.
  faults     Knocknoc unreachable (--outage s), 503s and malformed replies, a failed push on fgt1, with sign-ins
             and sign-outs meanwhile: lost events and wrong revocations, time to converge.

The lab runs in this process; ansible-rulebook is a child process. Progress goes to stderr.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".cache" / "collections"
INTERVAL = 0.25  # the source's poll interval in every run here (the rulebooks' default is 1 s)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def stats(values):
    return {"n": len(values), "p50": round(percentile(values, 0.5), 2), "p95": round(percentile(values, 0.95), 2),
            "max": round(max(values), 2) if values else 0.0}


def load_average():
    try:
        return round(os.getloadavg()[0], 1)
    except OSError:
        return None


# -- 1. the source alone -----------------------------------------------------------------------------------
def bench_source(lab, count):
    from harness.eda import EdaLab
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "knocknoc_allowlist", str(ROOT / "extensions/eda/plugins/event_source/knocknoc_allowlist.py"))
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    log("source: %d sign-ins and sign-outs, the plugin in-process (interval %.2f s)" % (count, INTERVAL))
    eda = EdaLab(lab, "passive_plus_fortigate")
    args = {"allowlists": [{"name": "edge", "url": eda.knoc["allowlist"]["url"], "api_key": eda.knoc["allowlist"]["api_key"]}],
            "ca_path": eda.kk.ca_path, "interval": INTERVAL, "snapshot_interval": 0}

    async def run():
        queue = asyncio.Queue()
        task = asyncio.ensure_future(plugin.main(queue, args))
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(queue.get(), 30)  # the start snapshot
        ins, outs = [], []
        for i in range(count):
            ip = "198.51.100.%d" % (10 + i)
            start = time.monotonic()
            grant = await loop.run_in_executor(None, eda.sign_in, "user%03d" % i, ip)
            event = (await asyncio.wait_for(queue.get(), 30))["knocknoc"]
            assert event["type"] == "added" and event["addresses"] == [ip], event
            ins.append(time.monotonic() - start)
            start = time.monotonic()
            await loop.run_in_executor(None, eda.sign_out, grant)
            event = (await asyncio.wait_for(queue.get(), 30))["knocknoc"]
            assert event["type"] == "removed" and event["addresses"] == [ip], event
            outs.append(time.monotonic() - start)
        task.cancel()
        return ins, outs

    ins, outs = asyncio.run(run())
    row = {"sign_in_to_event": stats(ins), "sign_out_to_event": stats(outs)}
    log("   sign-in -> event p95 %.2f s, sign-out -> event p95 %.2f s" % (row["sign_in_to_event"]["p95"],
                                                                          row["sign_out_to_event"]["p95"]))
    return row


# -- 2. the playbook alone ---------------------------------------------------------------------------------
def bench_playbook(lab, runs, workroot):
    from harness.eda import EdaLab
    log("playbook: ansible-playbook playbooks/eda_access.yml alone, %d runs (Passive+ on fgt1)" % runs)
    eda = EdaLab(lab, "passive_plus_fortigate")
    work = workroot / "playbook"
    work.mkdir()
    env = dict(os.environ, **eda.env())
    env.update(ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_PIPELINING="1", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_LOCAL_TEMP=str(work / "tmp"))
    times = []
    for i in range(runs):
        ip = "198.51.100.%d" % (100 + i)
        change = {"eda_change": {"type": "added", "addresses": [ip]}, "eda_mode": "passive_plus",
                  "eda_resource_name": "kk_allow"}
        start = time.monotonic()
        proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                               "-e", "ansible_python_interpreter=" + sys.executable, "-e", json.dumps(change),
                               str(ROOT / "playbooks" / "eda_access.yml")], env=env, capture_output=True, text=True,
                              check=False, cwd=str(work))
        times.append(time.monotonic() - start)
        if proc.returncode != 0 or not eda.admitted(ip):
            raise RuntimeError("eda_access.yml failed: %s" % (proc.stdout + proc.stderr)[-2000:])
    row = stats(times)
    log("   median %.2f s" % row["p50"])
    return row


# -- 3. ansible-rulebook per mode -----------------------------------------------------------------------------
def start_rulebook(eda, work, **variables):
    from harness.eda import Rulebook, wait_for
    settings = dict(knocknoc_interval=INTERVAL, knocknoc_batch_window=2, knocknoc_snapshot_interval=0)
    settings.update(variables)
    rulebook = Rulebook(work, eda.rulebook(), eda.variables(**settings), eda.env())
    # Started once its first snapshot has been handled (a reconcile run, or the "empty" message).
    wait_for(lambda: ("no reconcile" in rulebook.output() or "PLAY RECAP" in rulebook.output()) or not rulebook.alive(),
             180, step=0.2)
    if not rulebook.alive():
        raise RuntimeError("ansible-rulebook stopped: %s" % rulebook.output()[-3000:])
    return rulebook


def bench_mode(lab, mode, count, workroot):
    from harness.eda import EdaLab, wait_for
    log("mode %s: %d sign-ins, one after the other" % (mode, count))
    eda = EdaLab(lab, mode)
    rulebook = start_rulebook(eda, workroot / mode)
    ins, outs = [], []
    loads = []
    try:
        for i in range(count):
            ip = "198.51.100.%d" % (10 + i)
            user = eda.user(i)
            start = time.monotonic()
            grant = eda.sign_in(user, ip)
            wait_for(lambda: eda.admitted(ip, user=user), 120)
            ins.append(time.monotonic() - start)
            start = time.monotonic()
            eda.sign_out(grant)
            wait_for(lambda: not eda.admitted(ip, user=user), 120)
            outs.append(time.monotonic() - start)
            loads.append(load_average())
            if (i + 1) % 10 == 0:
                log("   %d/%d  last in %.2f s, out %.2f s, load %.1f" % (i + 1, count, ins[-1], outs[-1], loads[-1]))
        try:  # the last run's recap is printed after its change reached the device
            wait_for(lambda: rulebook.runs() >= 2 * count, 60, step=0.2)
        except AssertionError:
            pass
        runs = rulebook.runs()
    finally:
        rulebook.stop()
    row = {"mode": mode, "sign_in_to_admitted": stats(ins), "sign_out_to_refused": stats(outs), "playbook_runs": runs,
           "load_average": stats([x for x in loads if x is not None])}
    log("   sign-in -> admitted p95 %.2f s, sign-out -> refused p95 %.2f s, %d runs"
        % (row["sign_in_to_admitted"]["p95"], row["sign_out_to_refused"]["p95"], runs))
    return row


# -- 4. the burst -------------------------------------------------------------------------------------------------
def bench_burst(lab, workroot):
    from harness.eda import EdaLab, wait_for
    log("burst: 100 sign-ins within one second (Passive+ on fgt1)")
    eda = EdaLab(lab, "passive_plus_fortigate")
    rulebook = start_rulebook(eda, workroot / "burst")
    try:
        since = rulebook.mark()
        addresses = ["198.18.%d.%d" % (i // 200, 1 + i % 200) for i in range(100)]
        start = time.monotonic()
        eda.burst([("user%03d" % i, ip) for i, ip in enumerate(addresses)], 1.0)
        wait_for(lambda: set(addresses) <= set(eda.entries()), 180, step=0.1)
        all_listed = time.monotonic() - start
        admitted = sum(1 for ip in addresses if eda.admitted(ip))
        time.sleep(3.0)  # a straggling batch would have started by now
        runs = rulebook.runs(since)
    finally:
        rulebook.stop()
    row = {"sign_ins": 100, "spread_seconds": 1.0, "first_sign_in_to_all_admitted": round(all_listed, 2),
           "admitted": admitted, "playbook_runs": runs}
    log("   all admitted %.2f s after the first sign-in, %d/100 admitted, %d runs" % (all_listed, admitted, runs))
    return row


# -- 5. faults -----------------------------------------------------------------------------------------------------
class Monitor(threading.Thread):
    """Watches fgt1 while faults are injected: an address that Knocknoc still grants and that the device admitted must
    stay admitted (a wrong revocation otherwise)."""

    def __init__(self, eda):
        super().__init__(daemon=True)
        self.eda = eda
        self.protected = set()  # granted on Knocknoc and seen admitted
        self.lock = threading.Lock()
        self.wrong = []
        self.checks = 0
        self.stop_flag = threading.Event()

    def protect(self, ip):
        with self.lock:
            self.protected.add(ip)

    def release(self, ip):
        with self.lock:
            self.protected.discard(ip)

    def run(self):
        while not self.stop_flag.wait(0.2):
            with self.lock:
                watched = sorted(self.protected)
            if not watched:
                continue
            listed = set(self.eda.entries())
            self.checks += 1
            with self.lock:
                for ip in watched:
                    if ip in self.protected and ip not in listed:
                        self.wrong.append(ip)


def bench_faults(lab, workroot, outage):
    from harness.eda import EdaLab, wait_for
    log("faults: Knocknoc unreachable for %d s, 503s, malformed replies, a failed push (Passive+ on fgt1)" % outage)
    eda = EdaLab(lab, "passive_plus_fortigate")
    work = workroot / "faults"
    request_file = work / "snapshot.request"
    work.mkdir()
    rulebook = start_rulebook(eda, work, knocknoc_max_backoff=5, knocknoc_snapshot_request_file=str(request_file))
    monitor = Monitor(eda)
    grants = {}
    timings = {}

    def sign_in(i):
        ip = "198.51.100.%d" % (10 + i)
        grants[ip] = eda.sign_in("user%03d" % i, ip)
        return ip

    def sign_out(ip):
        monitor.release(ip)
        eda.sign_out(grants.pop(ip))

    def converged():
        return set(eda.entries()) == set(grants)

    try:
        monitor.start()
        for i in range(10):
            sign_in(i)
        wait_for(converged, 120, step=0.2)
        for ip in grants:
            monitor.protect(ip)
        # a. Knocknoc unreachable: three sign-outs and three sign-ins happen meanwhile.
        since = rulebook.mark()
        eda.fault("knocknoc", kind="drop", match="allowlists")
        start = time.monotonic()
        for ip in list(grants)[:3]:
            sign_out(ip)
        for i in range(10, 13):
            sign_in(i)
        time.sleep(max(0.0, outage - (time.monotonic() - start)))
        eda.clear_faults("knocknoc")
        cleared = time.monotonic()
        wait_for(converged, 180, step=0.2)
        timings["outage_converged_after_s"] = round(time.monotonic() - cleared, 2)
        timings["outage_errors_reported"] = rulebook.count("KNOCKNOC ERROR", since)
        for ip in grants:
            monitor.protect(ip)
        # b. 503s and malformed allowlist replies while two users sign in and one signs out.
        eda.fault("knocknoc", kind="status", status=503, match="allowlists", count=4)
        eda.fault("knocknoc", kind="malformed", match="allowlists", count=4)
        for i in range(13, 15):
            sign_in(i)
        sign_out(list(grants)[0])
        start = time.monotonic()
        wait_for(converged, 180, step=0.2)
        timings["flaky_converged_after_s"] = round(time.monotonic() - start, 2)
        for ip in grants:
            monitor.protect(ip)
        # c. The push of the next revoke fails on fgt1: the snapshot it requests repairs the device.
        eda.fault("fgt1", kind="status", status=500, match="external-resource/dynamic", count=1)
        for ip in list(grants)[:2]:
            sign_out(ip)
        start = time.monotonic()
        wait_for(converged, 180, step=0.2)
        timings["failed_push_repaired_after_s"] = round(time.monotonic() - start, 2)
        failed_runs = rulebook.failed_runs()
        time.sleep(1.0)
    finally:
        monitor.stop_flag.set()
        monitor.join(5)
        rulebook.stop()
    knocknoc = set(grants)
    device = set(eda.entries())
    row = {"sign_ins": 15, "sign_outs": 6, "lost_events": len(knocknoc ^ device), "wrong_revocations": len(set(monitor.wrong)),
           "device_checks": monitor.checks, "failed_changes_reported": failed_runs}
    row.update(timings)
    log("   lost %d, wrong revocations %d, converged %.1f s after the outage" % (
        row["lost_events"], row["wrong_revocations"], timings["outage_converged_after_s"]))
    return row


def render(report):
    meta = report["meta"]
    facts = (meta["cpus"], meta["python"], meta["ansible_core"], meta["rulebook"], INTERVAL, meta["load_start"])
    title = ("Event-Driven Ansible against the lab (%s CPUs, Python %s, %s, %s, source interval %.2f s;"
             " load average at start %s)" % facts)
    lines = [title, ""]
    sections = report["sections"]
    if "source" in sections:
        s = sections["source"]
        lines += ["source alone (plugin in-process):  sign-in -> event  p50 %.2f  p95 %.2f  max %.2f s;"
                  "  sign-out -> event  p50 %.2f  p95 %.2f  max %.2f s  (n=%d)" % (
                      s["sign_in_to_event"]["p50"], s["sign_in_to_event"]["p95"], s["sign_in_to_event"]["max"],
                      s["sign_out_to_event"]["p50"], s["sign_out_to_event"]["p95"], s["sign_out_to_event"]["max"],
                      s["sign_in_to_event"]["n"])]
    if "playbook" in sections:
        s = sections["playbook"]
        lines += ["playbooks/eda_access.yml alone (ansible-playbook):  p50 %.2f  max %.2f s  (n=%d)" % (
            s["p50"], s["max"], s["n"])]
    if "modes" in sections:
        lines += ["", "%-27s %-26s %-26s %5s %s" % ("mode", "sign-in -> admitted (s)", "sign-out -> refused (s)", "runs",
                                                    "load avg p50/max")]
        for row in sections["modes"]:
            a, r = row["sign_in_to_admitted"], row["sign_out_to_refused"]
            lines.append("%-27s p50 %5.2f p95 %5.2f max %5.2f  p50 %5.2f p95 %5.2f max %5.2f  %4d  %s/%s" % (
                row["mode"], a["p50"], a["p95"], a["max"], r["p50"], r["p95"], r["max"], row["playbook_runs"],
                row["load_average"]["p50"], row["load_average"]["max"]))
    if "burst" in sections:
        b = sections["burst"]
        lines += ["", "burst: 100 sign-ins in %.1f s; all admitted %.2f s after the first; %d/100 admitted; %d playbook runs" % (
            b["spread_seconds"], b["first_sign_in_to_all_admitted"], b["admitted"], b["playbook_runs"])]
    if "faults" in sections:
        f = sections["faults"]
        lines += ["", "faults: %d sign-ins, %d sign-outs; lost events %d; wrong revocations %d (%d device checks);"
                  " %d Knocknoc errors reported during the outage, converged %.1f s after it;"
                  " 503/malformed: converged in %.1f s; failed push: reported %d, repaired in %.1f s" % (
                      f["sign_ins"], f["sign_outs"], f["lost_events"], f["wrong_revocations"], f["device_checks"],
                      f["outage_errors_reported"], f["outage_converged_after_s"], f["flaky_converged_after_s"],
                      f["failed_changes_reported"], f["failed_push_repaired_after_s"])]
    lines += ["", "total %.0f s" % meta["total_seconds"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="10 sign-ins per mode, a 10 s outage")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of text")
    parser.add_argument("--sign-ins", type=int, help="sign-ins per mode (default 50, 10 with --quick)")
    parser.add_argument("--outage", type=int, help="seconds Knocknoc is unreachable (default 30, 10 with --quick)")
    parser.add_argument("--mode", action="append", help="only these modes (repeatable)")
    parser.add_argument("--only", action="append", choices=["source", "playbook", "modes", "burst", "faults"],
                        help="run only this section (repeatable)")
    args = parser.parse_args(argv)
    if not (COLLECTIONS / "ansible_collections" / "knocknoc" / "fortinet" / "galaxy.yml").exists():
        parser.error("the collection is not linked under %s: run `make venv` first" % COLLECTIONS)
    if not Path(sys.executable).with_name("ansible-rulebook").exists():
        parser.error("ansible-rulebook is not installed in this virtualenv: run `make venv` (requirements/eda.txt)")
    sys.path.insert(0, str(ROOT / "lab"))
    sys.path.insert(0, str(ROOT / "tests"))
    from ansible.release import __version__ as ansible_core_version
    from kklab.lab import Lab
    from harness.eda import MODES

    count = args.sign_ins or (10 if args.quick else 50)
    outage = args.outage or (10 if args.quick else 30)
    wanted = args.only or ["source", "playbook", "modes", "burst", "faults"]
    modes = args.mode or list(MODES)
    from harness.eda import java_home
    rulebook_version = subprocess.run([str(Path(sys.executable).with_name("ansible-rulebook")), "--version"],
                                      env=dict(os.environ, JAVA_HOME=java_home()), capture_output=True, text=True,
                                      check=False).stdout.split("\n")[0].strip()
    started = time.monotonic()
    load_start = load_average()
    workroot = Path(tempfile.mkdtemp(prefix="kkbench-eda-"))
    lab = Lab(workroot / "lab").start()
    sections = {}
    try:
        if "source" in wanted:
            sections["source"] = bench_source(lab, count)
        if "playbook" in wanted:
            sections["playbook"] = bench_playbook(lab, 3 if args.quick else 5, workroot)
        if "modes" in wanted:
            sections["modes"] = [bench_mode(lab, mode, count, workroot) for mode in modes]
        if "burst" in wanted:
            sections["burst"] = bench_burst(lab, workroot)
        if "faults" in wanted:
            sections["faults"] = bench_faults(lab, workroot, outage)
    finally:
        lab.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    report = {"meta": {"quick": args.quick, "sign_ins": count, "outage": outage, "cpus": os.cpu_count(),
                       "python": platform.python_version(), "ansible_core": "ansible-core " + ansible_core_version,
                       "rulebook": rulebook_version, "load_start": load_start,
                       "total_seconds": round(time.monotonic() - started, 1)},
              "sections": sections}
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
