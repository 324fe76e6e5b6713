# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet benchmarks of knocknoc.fortinet against the lab: a report of figures, with no pass/fail.

    .venv/bin/python benchmarks/fleet.py            # about 3-4 minutes on 2 cores
    .venv/bin/python benchmarks/fleet.py --quick    # one run of each, about 2 minutes
    .venv/bin/python benchmarks/fleet.py --json     # the figures as JSON on stdout

Sections (see benchmarks/README.md, "Fleet"):
  F1. Lab start and stop with 50 and 200 FortiGates, with and without a FortiManager managing them.
  F2. The inventory plugin: ``ansible-inventory --list`` over fmg1 managing 200 FortiGates.
  F3. One Passive+ grant (fortigate_dynamic_entry) over an inventory of 1, 51 and 200 FortiGates,
      direct to each, connection local, forks 25: wall time, CPU seconds, device requests. The modules
      run in the controller process (their action plugins, the default); F3m is the same with module
      execution forced (KNOCKNOC_FORTINET_IN_PROCESS=false), over 1 and 51 FortiGates.
  F4. One Passive+ grant through fmg1 to 1, 50 and 200 FortiGates (one task on localhost).

The lab runs in this process; ansible-playbook and ansible-inventory run as child processes, whose
CPU time is read with getrusage(RUSAGE_CHILDREN). Every run is checked on the devices (the address
listed on each target FortiGate, then removed with the admin key), so no figure comes from a run
that did not do its work.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kklab.lab import Lab, fleet_topology  # noqa: E402
from run import PUSH, RESOURCE, Admin, _session, log, setup_passive  # noqa: E402  (benchmarks/run.py)

COLLECTIONS = ROOT / ".cache" / "collections"
BIN = Path(sys.executable).parent
IP = "198.51.100.9"
FORKS = 25
FLEET = 200


def trust(lab, info):
    """The trust anchor and certificate name of a device, as lab.json gives them (each appliance
    has its own certificate: a Fortinet_Factory/Fortinet_Local one is its own anchor)."""
    return info.get("ca_path") or str(lab.authority.ca_path), info["tls_server_name"]


class FleetAdmin(Admin):
    """run.Admin (the lab-admin key of a FortiGate), verifying the device with its own anchor."""

    def __init__(self, lab, name):  # pylint: disable=super-init-not-called
        self.device = lab.devices[name]
        self.info = self.device.describe()
        self.url = self.device.url
        ca_path, server_name = trust(lab, self.info)
        self.session = _session(self.url, server_name, ca_path, self.info["admin_token"])


# -- F1 -------------------------------------------------------------------------------------------
def bench_lab(sizes, runs, workroot):
    log("F1. lab start/stop, %s FortiGates, %d runs each" % (sizes, runs))
    rows = []
    for size in sizes:
        for with_fmg in (False, True):
            starts, stops = [], []
            for _run in range(runs):
                topology = fleet_topology(size, fortimanager=with_fmg)
                began = time.perf_counter()
                lab = Lab(tempfile.mkdtemp(dir=workroot), topology=topology).start()
                starts.append(time.perf_counter() - began)
                if len([d for d in lab.devices.values() if d.kind == "fortigate"]) != size:
                    raise RuntimeError("the lab did not start %d FortiGates" % size)
                began = time.perf_counter()
                lab.stop()
                stops.append(time.perf_counter() - began)
            row = {"section": "lab", "fortigates": size, "fortimanager": with_fmg, "devices": size + 1 + int(with_fmg),
                   "start_s": round(statistics.median(starts), 2), "stop_s": round(statistics.median(stops), 2),
                   "start_max_s": round(max(starts), 2), "stop_max_s": round(max(stops), 2)}
            rows.append(row)
            log("   %3d FortiGates %-17s start %5.2f s  stop %5.2f s" % (
                size, "+ FortiManager" if with_fmg else "", row["start_s"], row["stop_s"]))
    return rows


# -- helpers for F2-F4 ------------------------------------------------------------------------------
def _env(workdir, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "FORTIGATE_", "FORTIMANAGER_"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_HOME": str(workdir / "home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "NO_PROXY": "*", "no_proxy": "*",
    })
    env.update(extra)
    return env


def _child(cmd, env, workdir, timeout=900):
    """Run a child process; (wall seconds, CPU seconds of it and its children, CompletedProcess)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(workdir), timeout=timeout, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def _host_results(proc):
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook failed (rc %d): %s %s" % (proc.returncode, proc.stdout[-3000:],
                                                                       proc.stderr[-2000:]))
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    return tasks[0]["hosts"]


def _reset_counts(lab):
    for device in lab.devices.values():
        with device.lock:
            device.requests = device.writes = 0


def _fgt_requests(lab, names):
    return sum(lab.devices[n].requests for n in names), sum(lab.devices[n].writes for n in names)


def _check_and_clear(admins, names):
    """Every FortiGate of ``names`` lists IP; then it is removed with the admin key (not timed)."""
    def one(name):
        admin = admins[name]
        if admin.entries() != [IP]:
            raise RuntimeError("%s does not list %s after the grant" % (name, IP))
        admin.call("POST", PUSH, {"commands": [{"name": RESOURCE, "command": "remove", "entries": [IP]}]}, vdom="root")
        if admin.entries():
            raise RuntimeError("%s still lists %s" % (name, IP))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


# -- F2 -----------------------------------------------------------------------------------------------
def bench_inventory(lab, runs, workdir):
    log("F2. ansible-inventory --list, fortimanager plugin, fmg1 with %d FortiGates" % FLEET)
    fmg = lab.devices["fmg1"].describe()
    source = workdir / "fleet.fortimanager.yml"
    ca_path, server_name = trust(lab, fmg)
    source.write_text(json.dumps({"plugin": "knocknoc.fortinet.fortimanager", "url": fmg["url"],
                                  "ca_path": ca_path, "tls_server_name": server_name}))
    env = _env(workdir, FORTIMANAGER_TOKEN=fmg["tokens"]["kk-readonly"])
    samples = []
    for _run in range(runs):
        _reset_counts(lab)
        wall, cpu, proc = _child([str(BIN / "ansible-inventory"), "-i", str(source), "--list"], env, workdir)
        if proc.returncode != 0:
            raise RuntimeError("ansible-inventory failed: %s" % proc.stderr[-2000:])
        hosts = json.loads(proc.stdout)["_meta"]["hostvars"]
        if len(hosts) != FLEET:
            raise RuntimeError("ansible-inventory listed %d hosts, not %d" % (len(hosts), FLEET))
        samples.append((wall, cpu, lab.devices["fmg1"].requests))
    row = {"section": "inventory", "hosts": FLEET, "wall_s": round(statistics.median(s[0] for s in samples), 2),
           "cpu_s": round(statistics.median(s[1] for s in samples), 2), "fmg_requests": samples[-1][2]}
    log("   %d hosts: %.2f s wall, %.2f CPU-s, %d FortiManager requests"
        % (FLEET, row["wall_s"], row["cpu_s"], row["fmg_requests"]))
    return [row]


# -- F3 -----------------------------------------------------------------------------------------------
DIRECT_PLAY = """- name: One Passive+ grant on every FortiGate of the inventory
  hosts: all
  gather_facts: false
  tasks:
    - name: grant
      knocknoc.fortinet.fortigate_dynamic_entry:
        url: "{{ fortigate_url }}"
        token: "{{ fortigate_token }}"
        tls_server_name: "{{ fortigate_tls_server_name }}"
        ca_path: "{{ fortigate_ca_path }}"
        retries: 0
        name: %s
        entries: [%s]
""" % (RESOURCE, IP)


def bench_direct(lab, sizes, runs_for, workdir, admins, in_process=True):
    log("F3%s. one Passive+ grant over an inventory, direct, connection local, forks %d, %s: %s FortiGates"
        % ("" if in_process else "m", FORKS, "in-process" if in_process else "module execution", sizes))
    names = sorted(n for n, d in lab.devices.items() if d.kind == "fortigate")
    book = workdir / "direct.yml"
    book.write_text(DIRECT_PLAY)
    rows = []
    for size in sizes:
        hosts = names[:size]
        inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                             "hosts": {}}}
        for name in hosts:
            info = lab.devices[name].describe()
            ca_path, server_name = trust(lab, info)
            # Per-host URL, key and certificate in a static inventory: each lab FortiGate has its own.
            inventory["all"]["hosts"][name] = {"fortigate_url": info["url"], "fortigate_token": info["tokens"]["kk-passiveplus"],
                                               "fortigate_tls_server_name": server_name, "fortigate_ca_path": ca_path}
        path = workdir / ("direct-%d.json" % size)
        path.write_text(json.dumps(inventory))
        samples = []
        for _run in range(runs_for(size)):
            _reset_counts(lab)
            lab_cpu = time.process_time()
            wall, cpu, proc = _child([str(BIN / "ansible-playbook"), "-i", str(path), str(book), "--forks", str(FORKS)],
                                     _env(workdir, KNOCKNOC_FORTINET_IN_PROCESS=str(in_process).lower()), workdir)
            lab_cpu = time.process_time() - lab_cpu
            results = _host_results(proc)
            if sorted(results) != hosts or not all(r.get("changed") and not r.get("failed") for r in results.values()):
                failed = {h: r.get("msg") for h, r in results.items() if not r.get("changed")}
                raise RuntimeError("the grant did not change every host: %s" % failed)
            requests, writes = _fgt_requests(lab, hosts)
            _check_and_clear(admins, hosts)
            samples.append((wall, cpu, lab_cpu, requests, writes))
        rows.append(_row("direct" if in_process else "direct_module", size, samples))
        log("   %3d FortiGates: %6.2f s wall, %6.1f CPU-s (%.2f per host), %d requests" % (
            size, rows[-1]["wall_s"], rows[-1]["cpu_s"], rows[-1]["cpu_s_per_host"], rows[-1]["requests"]))
    _ratios(rows)
    return rows


def _row(route, size, samples):
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    return {"section": route, "fortigates": size, "runs": len(samples), "wall_s": round(wall, 2),
            "wall_min_s": round(min(s[0] for s in samples), 2), "wall_max_s": round(max(s[0] for s in samples), 2),
            "cpu_s": round(cpu, 1), "cpu_s_per_host": round(cpu / size, 3), "lab_cpu_s": round(statistics.median(s[2] for s in samples), 1),
            "requests": samples[-1][3], "writes": samples[-1][4]}


def _ratios(rows):
    one = rows[0]["wall_s"] if rows and rows[0]["fortigates"] == 1 else None
    for row in rows:
        row["ratio_to_one"] = round(row["wall_s"] / one, 2) if one else None


# -- F4 -----------------------------------------------------------------------------------------------
FMG_PLAY = """- name: One Passive+ grant through FortiManager
  hosts: localhost
  gather_facts: false
  tasks:
    - name: grant
      knocknoc.fortinet.fortigate_dynamic_entry:
        use_fortimanager: true
        url: "{{ fmg_url }}"
        tls_server_name: "{{ fmg_serial }}"
        ca_path: "{{ ca_path }}"
        adom: root
        targets: "{{ targets }}"
        retries: 0
        timeout: 120
        name: %s
        entries: [%s]
        fail_on_push_error: true
""" % (RESOURCE, IP)


def bench_fortimanager(lab, runs_for, workdir, admins):
    log("F4. one Passive+ grant through fmg1 to 1, 50 and %d FortiGates" % FLEET)
    fmg = lab.devices["fmg1"].describe()
    book = workdir / "fmg.yml"
    book.write_text(FMG_PLAY)
    names = sorted(n for n, d in lab.devices.items() if d.kind == "fortigate")
    # fleet_topology puts 25 FortiGates in each device group: two groups are 50.
    cases = [(1, [names[0]], ["adom/root/device/%s" % names[0]]),
             (50, names[:50], ["adom/root/group/root_g01", "adom/root/group/root_g02"]),
             (FLEET, names, ["adom/root/group/All_FortiGate"])]
    rows = []
    for size, hosts, targets in cases:
        extra = workdir / ("fmg-%d.json" % size)
        ca_path, server_name = trust(lab, fmg)
        extra.write_text(json.dumps({"fmg_url": fmg["url"], "fmg_serial": server_name, "ca_path": ca_path,
                                     "targets": targets}))
        samples = []
        for _run in range(runs_for(size)):
            _reset_counts(lab)
            lab_cpu = time.process_time()
            wall, cpu, proc = _child([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book),
                                      "-e", "@" + str(extra)],
                                     _env(workdir, FORTIMANAGER_TOKEN=fmg["tokens"]["kk-passiveplus"]), workdir)
            lab_cpu = time.process_time() - lab_cpu
            result = _host_results(proc)["localhost"]
            if not result.get("changed") or result.get("failed"):
                raise RuntimeError("the grant through fmg1 failed: %s" % result.get("msg"))
            requests, writes = _fgt_requests(lab, hosts)
            requests += lab.devices["fmg1"].requests
            writes += lab.devices["fmg1"].writes
            _check_and_clear(admins, hosts)
            samples.append((wall, cpu, lab_cpu, requests, writes))
        rows.append(_row("fortimanager", size, samples))
        log("   %3d FortiGates: %6.2f s wall, %5.1f CPU-s, %d requests (fmg1 + FortiGates)" % (
            size, rows[-1]["wall_s"], rows[-1]["cpu_s"], rows[-1]["requests"]))
    _ratios(rows)
    return rows


# -- report -------------------------------------------------------------------------------------------
def _table(headers, rows):
    widths = [max([len(str(h))] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def render(report):
    s = report["sections"]
    out = []
    if "lab" in s:
        out.append("F1. Lab start and stop (median of %d; max in brackets)" % report["meta"]["runs"])
        out.append(_table(["FortiGates", "FortiManager", "devices", "start s", "stop s"], [
            (r["fortigates"], "yes" if r["fortimanager"] else "no", r["devices"], "%.2f [%.2f]" % (r["start_s"], r["start_max_s"]),
             "%.2f [%.2f]" % (r["stop_s"], r["stop_max_s"])) for r in s["lab"]]))
    if "inventory" in s:
        out.append("\nF2. Inventory plugin: ansible-inventory --list over fmg1")
        out.append(_table(["hosts", "wall s", "CPU s", "fmg1 requests"], [
            (r["hosts"], r["wall_s"], r["cpu_s"], r["fmg_requests"]) for r in s["inventory"]]))
    for key, title in (("direct", "F3. One Passive+ grant over an inventory, direct, connection local, forks %d, in-process" % FORKS),
                       ("direct_module", "F3m. The same with module execution (KNOCKNOC_FORTINET_IN_PROCESS=false)"),
                       ("fortimanager", "F4. One Passive+ grant through fmg1 (one task on localhost)")):
        if key not in s:
            continue
        out.append("\n" + title)
        out.append(_table(["FortiGates", "runs", "wall s [min-max]", "x one", "CPU s", "CPU s/host", "lab CPU s",
                           "requests", "writes"], [
            (r["fortigates"], r["runs"], "%.2f [%.2f-%.2f]" % (r["wall_s"], r["wall_min_s"], r["wall_max_s"]),
             r["ratio_to_one"], r["cpu_s"], r["cpu_s_per_host"], r["lab_cpu_s"], r["requests"], r["writes"])
            for r in s[key]]))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="one run of everything")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; the 200-FortiGate playbook runs once)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", action="append", choices=["lab", "inventory", "direct", "direct_module", "fortimanager"])
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    wanted = args.only or ["lab", "inventory", "direct", "direct_module", "fortimanager"]

    def runs_for(size):
        # A 200-host playbook takes a minute of both cores: one run, unless --runs says otherwise.
        return runs if size < FLEET or args.runs else 1

    workroot = Path(tempfile.mkdtemp(prefix="kkbench-fleet-"))
    # The machine's load average: other processes' share of the 2 cores shows in every wall time.
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    sections = {}
    if "lab" in wanted:
        sections["lab"] = bench_lab([50, FLEET], runs, workroot)
    if set(wanted) & {"inventory", "direct", "direct_module", "fortimanager"}:
        lab = Lab(workroot / "lab", topology=fleet_topology(FLEET)).start()
        try:
            names = sorted(n for n, d in lab.devices.items() if d.kind == "fortigate")
            with ThreadPoolExecutor(8) as pool:
                admins = dict(zip(names, pool.map(lambda n: FleetAdmin(lab, n), names)))
                list(pool.map(lambda n: setup_passive(admins[n]), names))
            workdir = workroot / "work"
            workdir.mkdir()
            if "inventory" in wanted:
                sections["inventory"] = bench_inventory(lab, runs, workdir)
            if "direct" in wanted:
                sections["direct"] = bench_direct(lab, [1, 51, FLEET], runs_for, workdir, admins)
            if "direct_module" in wanted:
                sections["direct_module"] = bench_direct(lab, [1, 51], runs_for, workdir, admins, in_process=False)
            if "fortimanager" in wanted:
                sections["fortimanager"] = bench_fortimanager(lab, runs_for, workdir, admins)
        finally:
            lab.stop()
    import ansible
    report = {"meta": {"runs": runs, "quick": args.quick, "cpus": os.cpu_count(), "python": platform.python_version(),
                       "ansible_core": ansible.__version__, "forks": FORKS,
                       "seconds": round(time.perf_counter() - began, 1),
                       "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]},
              "sections": sections}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print("Fleet benchmarks (%d CPUs, Python %s, ansible-core %s, %.0f s in total, load average %s -> %s)\n" % (
            report["meta"]["cpus"], report["meta"]["python"], report["meta"]["ansible_core"], report["meta"]["seconds"],
            report["meta"]["load_average"][0], report["meta"]["load_average"][1]))
        print(render(report))


if __name__ == "__main__":
    main()
