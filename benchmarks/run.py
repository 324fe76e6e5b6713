# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks of knocknoc.fortinet against the lab: a report of figures, with no pass/fail.

Run from the repository (after ``make venv``, which links the collection under .cache/collections):

    .venv/bin/python benchmarks/run.py            # about 1-2 minutes
    .venv/bin/python benchmarks/run.py --quick    # under ~40 s
    .venv/bin/python benchmarks/run.py --json     # machine-readable figures on stdout

Sections (see benchmarks/README.md):
  1. Passive+ pushes (fortigate_dynamic_entry, in-process), 1 and 10,000 entries, direct to fgt1
     and through fmg1 to All_FortiGate: wall time (median of N runs) and device requests/writes.
  2. Active grants and revokes: fortigate_address_grant (fgt1), fortimanager_trusted_host (fmg1).
  3. The same grants through ansible-playbook, this collection against fortinet.fortios (push, address + group)
     and fortinet.fortimanager (trusted host), and against a one-``ping`` playbook; this collection's modules
     both ways (in-process action plugins, the default, and module execution with KNOCKNOC_FORTINET_IN_PROCESS=false).
  4. Lab capacity: concurrent clients pushing to one FortiGate, from a separate process.

The lab runs in this process (HTTPS servers on 127.0.0.1 threads); progress goes to stderr.
"""

import argparse
import importlib
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".cache" / "collections"
RESOURCE = "kk_allow"
GROUP = "kk_users"
CMDB = "/api/v2/cmdb"
PUSH = "/api/v2/monitor/system/external-resource/dynamic"
FMG_ADMIN = "alice"  # a seed administrator of fmg1 (trusted hosts 1-9 at 127.0.0.1)
UNUSED_SLOT = ["255.255.255.255", "255.255.255.255"]  # a trusted-host slot that admits no one


def slot_value(slot):
    """A trusted-host slot as FortiManager returns it (a list, or one "ip mask" string) -> [ip, mask]."""
    return slot.split() if isinstance(slot, str) else list(slot)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# -- a plain HTTPS view of a device, for set-up (shares no code with the collection) ---------------
def _session(url, server_name, ca_path, token):
    import requests
    from requests.adapters import HTTPAdapter

    class ServerNameAdapter(HTTPAdapter):
        # The device's own anchor and the name lab.json gives; OpenSSL checks it, the CN counting for a
        # certificate without subjectAltNames (Fortinet_Factory, Fortinet_Local).
        def init_poolmanager(self, *args, **kwargs):
            context = ssl.create_default_context(cafile=ca_path)
            context.hostname_checks_common_name = True
            kwargs.update(ssl_context=context, server_hostname=server_name)
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE / proxies from the environment must not apply
    session.mount(url, ServerNameAdapter(pool_maxsize=4))
    session.headers["Authorization"] = "Bearer " + token
    return session


class Admin:
    """The lab-admin (FortiGate) or lab-api (FortiManager) key of one device."""

    def __init__(self, lab, name):
        self.device = lab.devices[name]
        self.info = self.device.describe()
        self.url = self.device.url
        self.session = _session(self.url, self.info["tls_server_name"], self.info["ca_path"],
                                self.info["admin_token"])

    def call(self, method, path, body=None, **params):
        reply = self.session.request(method, self.url + path, json=body, params=params or None, timeout=30)
        if reply.status_code != 200:
            raise RuntimeError("set-up call %s %s failed: HTTP %s %s" % (method, path, reply.status_code,
                                                                         reply.text[:300]))
        return reply.json()

    def entries(self, resource=RESOURCE):
        reply = self.call("GET", "/api/v2/monitor/system/external-resource/entry-list", mkey=resource, vdom="root")
        return [e["entry"] for e in reply["results"].get("entries", [])]

    def members(self, group=GROUP):
        return [m["name"] for m in self.call("GET", CMDB + "/firewall/addrgrp/" + group, vdom="root")["results"][0]["member"]]

    def rpc(self, method, url, **param):
        param["url"] = url
        reply = self.call("POST", "/jsonrpc", {"id": 1, "method": method, "params": [param]})
        return reply["result"][0]


def setup_passive(admin):
    """An external resource kk_allow (push) and an accept policy using it, as Knocknoc's checklist says."""
    admin.call("POST", CMDB + "/system/external-resource", {"name": RESOURCE, "type": "address", "update-method": "push"},
               vdom="root")
    admin.call("POST", CMDB + "/firewall/policy", {
        "policyid": 0, "name": "kk-passiveplus", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
        "srcaddr": [{"name": RESOURCE}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
        "action": "accept", "schedule": "always"}, vdom="root")


def setup_active(admin):
    """An empty address group kk_users used as source by an accept policy."""
    admin.call("POST", CMDB + "/firewall/addrgrp", {"name": GROUP, "member": []}, vdom="root")
    admin.call("POST", CMDB + "/firewall/policy", {
        "policyid": 0, "name": "kk-active", "srcintf": [{"name": "port1"}], "dstintf": [{"name": "port2"}],
        "srcaddr": [{"name": GROUP}], "dstaddr": [{"name": "all"}], "service": [{"name": "HTTPS"}],
        "action": "accept", "schedule": "always"}, vdom="root")


# -- counters ------------------------------------------------------------------------------------
def instrument(lab):
    """Time each device's request handler, so that the emulator's own work can be told apart from the
    module's (both run in this interpreter). Handlers run with the device lock held."""
    for device in lab.devices.values():
        device.bench_handler_seconds = 0.0

        def timed_handle(request, device=device, handle=device.handle):
            start = time.perf_counter()
            try:
                return handle(request)
            finally:
                device.bench_handler_seconds += time.perf_counter() - start

        device.handle = timed_handle


def reset_counters(lab):
    for device in lab.devices.values():
        with device.lock:
            device.requests = device.writes = 0
            device.bench_handler_seconds = 0.0


def counters(lab, names):
    return {n: {"requests": lab.devices[n].requests, "writes": lab.devices[n].writes,
                "handler_seconds": lab.devices[n].bench_handler_seconds} for n in names}


# -- running a module the way Ansible does, in-process ---------------------------------------------
def run_module(name, args, check=False):
    """main() of a collection module with patched arguments (the tests' runner); its JSON result."""
    from harness.modules import module_result

    try:
        result = module_result(name, args, check=check)
    except AssertionError as exc:
        raise RuntimeError(str(exc))
    if result.get("failed"):
        raise RuntimeError("%s failed: %s" % (name, result.get("msg")))
    return result


def timed(lab, devices, fn):
    """Run fn once with zeroed counters; return (seconds, counters, fn's result)."""
    reset_counters(lab)
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    return elapsed, counters(lab, devices), result


def summarise(samples, devices):
    """Median/min/max of wall times, and the device counters of the median run."""
    ordered = sorted(samples, key=lambda s: s[0])
    median_sample = ordered[(len(ordered) - 1) // 2]
    times = [s[0] for s in samples]
    counts = median_sample[1]
    varying = any((s[1][n]["requests"], s[1][n]["writes"]) != (counts[n]["requests"], counts[n]["writes"])
                  for s in samples for n in devices)
    return {
        "runs": len(samples),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "min_ms": round(min(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        # Time inside the handler of the device the client calls (the first named): the emulator's
        # work, which through fmg1 includes the proxied FortiGate calls.
        "lab_ms": round(statistics.median(s[1][devices[0]]["handler_seconds"] for s in samples) * 1000, 1),
        "requests": {n: counts[n]["requests"] for n in devices},
        "writes": {n: counts[n]["writes"] for n in devices},
        "requests_total": sum(counts[n]["requests"] for n in devices),
        "writes_total": sum(counts[n]["writes"] for n in devices),
        "counters_vary": varying,
    }


def entry_list(count):
    if count == 1:
        return ["198.51.100.7"]
    return ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256) for i in range(1, count + 1)]


def conn_args(lab, name, token):
    info = lab.devices[name].describe()
    return {"url": info["url"], "token": info["tokens"][token], "ca_path": info["ca_path"],
            "tls_server_name": info["tls_server_name"], "retries": 0}


# -- 1. Passive+ ----------------------------------------------------------------------------------
def bench_passive(lab, runs):
    log("1. Passive+ pushes (fortigate_dynamic_entry, in-process), %d runs each" % runs)
    for name in ("fgt1", "fgt2"):
        setup_passive(Admin(lab, name))
    views = {n: Admin(lab, n) for n in ("fgt1", "fgt2")}
    routes = [
        ("direct fgt1", ["fgt1"], dict(conn_args(lab, "fgt1", "kk-passiveplus"), name=RESOURCE), ["fgt1"]),
        # no targets: the module pushes to the group All_FortiGate of ADOM root (fgt1 and fgt2).
        ("fmg1 -> All_FortiGate", ["fmg1", "fgt1", "fgt2"],
         dict(conn_args(lab, "fmg1", "kk-passiveplus"), name=RESOURCE, use_fortimanager=True, adom="root"),
         ["fgt1", "fgt2"]),
    ]
    rows = []
    for route, devices, conn, reached in routes:
        for count in (1, 10000):
            entries = entry_list(count)
            samples = {"grant": [], "grant again (no change)": [], "revoke": []}
            for _run in range(runs):
                for step, args, expect_change in (("grant", dict(conn, entries=entries), True),
                                                  ("grant again (no change)", dict(conn, entries=entries), False),
                                                  ("revoke", dict(conn, entries=entries, state="absent"), True)):
                    sample = timed(lab, devices, lambda a=args: run_module("fortigate_dynamic_entry", a))
                    result = sample[2]
                    if result["changed"] != expect_change or result["failed_targets"]:
                        raise RuntimeError("unexpected %s result: %s" % (step, json.dumps(result)[:500]))
                    samples[step].append(sample)
                    if step != "revoke":
                        for device in reached:  # the grant is on the devices, in full
                            if len(views[device].entries()) != count:
                                raise RuntimeError("%s: %s does not list %d entries" % (step, device, count))
                if any(views[d].entries() for d in reached):
                    raise RuntimeError("revoke left entries behind")
            for step, items in samples.items():
                row = dict(summarise(items, devices), section="passive", route=route, entries=count, step=step)
                rows.append(row)
                log("   %-22s %6d entries  %-24s %8.1f ms  %s requests" % (
                    route, count, step, row["median_ms"], row["requests"]))
    lab.reset()
    return rows


# -- 2. Active ------------------------------------------------------------------------------------
def bench_active(lab, runs):
    log("2. Active grants and revokes (in-process), %d runs each" % runs)
    rows = []
    admin = Admin(lab, "fgt1")
    setup_active(admin)
    conn = dict(conn_args(lab, "fgt1", "kk-active"), address_group=GROUP, addresses=["198.51.100.7"])
    # A grant and revoke of a new address, then the shared-IP case (two users behind one NAT), where
    # the holders in the object's comment are rewritten and the module re-checks after a pause.
    steps = [
        ("grant (new address)", dict(conn, user="alice"), ["kk_198.51.100.7"]),
        ("grant, 2nd holder (shared IP)", dict(conn, user="bob"), ["kk_198.51.100.7"]),
        ("revoke, 1 holder left", dict(conn, user="alice", state="absent"), ["kk_198.51.100.7"]),
        ("revoke (last holder)", dict(conn, user="bob", state="absent"), []),
    ]
    samples = {step[0]: [] for step in steps}
    for _run in range(runs):
        for step, args, members in steps:
            sample = timed(lab, ["fgt1"], lambda a=args: run_module("fortigate_address_grant", a))
            if not sample[2]["changed"] or admin.members() != members:
                raise RuntimeError("%s did not take: %s" % (step, json.dumps(sample[2])[:500]))
            samples[step].append(sample)
    for step, items in samples.items():
        rows.append(dict(summarise(items, ["fgt1"]), section="active", route="fortigate_address_grant fgt1",
                         entries=1, step=step))

    fmg = Admin(lab, "fmg1")
    conn = dict(conn_args(lab, "fmg1", "lab-api"), admin=FMG_ADMIN, address="198.51.100.7")
    samples = {"grant": [], "revoke": []}
    for _run in range(runs):
        sample = timed(lab, ["fmg1"], lambda: run_module("fortimanager_trusted_host", conn))
        slot = fmg.rpc("get", "/cli/global/system/admin/user/" + FMG_ADMIN)["data"]["trusthost10"]
        if not sample[2]["changed"] or slot[0] != "198.51.100.7":
            raise RuntimeError("trusted-host grant did not take: %s" % json.dumps(sample[2])[:500])
        samples["grant"].append(sample)
        sample = timed(lab, ["fmg1"], lambda: run_module("fortimanager_trusted_host", dict(conn, state="absent")))
        if not sample[2]["changed"]:
            raise RuntimeError("trusted-host revoke did not take: %s" % json.dumps(sample[2])[:500])
        samples["revoke"].append(sample)
    for step, items in samples.items():
        rows.append(dict(summarise(items, ["fmg1"]), section="active", route="fortimanager_trusted_host fmg1",
                         entries=1, step=step))
    for row in rows:
        log("   %-32s %-8s %8.1f ms  %s requests" % (row["route"], row["step"], row["median_ms"], row["requests"]))
    lab.reset()
    return rows


# -- 3. ansible-playbook: this collection against fortinet.fortios and fortinet.fortimanager ---------
IP = "198.51.100.7"

# What each approach does not do, printed with the figures so that they are not read as like for like.
NOT_DONE = {
    "baseline": "no device call: ansible-playbook start-up and one debug task",
    "ping": "no device call: ansible-playbook start-up and one ansible.builtin.ping module (a module process)",
    "ours-passive-module": "as ours-passive, module execution forced (KNOCKNOC_FORTINET_IN_PROCESS=false)",
    "ours-active-module": "as ours-active, module execution forced",
    "ours-trusted-host": "grant then revoke of trusted host 10 of admin alice on fmg1",
    "ours-trusted-host-module": "as ours-trusted-host, module execution forced",
    "fortimanager-trusted-host": "writes what the playbook gives (the playbook author writes the slot's mask and its reset "
                                 "value), does not check slots 1-9 nor an admin profile's trusted hosts, does not read back "
                                 "(a revoke is not proved), no agent error codes; TLS not verified (httpapi validate_certs=false)",
    "ours-passive": "(reads the list first, canonicalises entries, refuses /0 and broad networks, reads back, "
                    "per-target agent error codes; also fans out through FortiManager)",
    "fortios-passive": "does not read the list first, reports changed=false whatever it did, does not read back, does not canonicalise "
                       "(198.51.100.7 and 198.51.100.7/32 go out as given; the lab lists them as two entries), does not check entries before sending them, "
                       "no agent error codes; TLS not verified (httpapi validate_certs=false here)",
    "ours-active": "(records holders for shared IPs, member-by-member group changes, reads the group back, "
                   "routes IPv6 to addrgrp6)",
    "fortios-active": "does not keep shared-IP holders (a revoke removes the address for everyone), does not read "
                      "the group back, names objects as the playbook says (two spellings of one address make two objects), "
                      "does not refuse broad networks, object and membership "
                      "are separate tasks the playbook author orders; TLS not verified (httpapi validate_certs=false)",
}


# The same job done both ways: (job, ours, Fortinet's).
PAIRS = (("Passive+ push", "ours-passive", "fortios-passive"), ("Active address group", "ours-active", "fortios-active"),
         ("FortiManager trusted host", "ours-trusted-host", "fortimanager-trusted-host"))


def _ours_playbook(kind):
    defaults = """  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: "{{ fgt_url }}"
      token: "{{ fgt_token }}"
      ca_path: "{{ ca_path }}"
      tls_server_name: "{{ serial }}"
      retries: 0
"""
    if kind == "trusted_host":
        return """- hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortimanager:
      url: "{{ fmg_url }}"
      token: "{{ fmg_token }}"
      ca_path: "{{ ca_path }}"
      tls_server_name: "{{ serial }}"
      retries: 0
  tasks:
    - name: grant
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: %s
        address: %s
    - name: revoke
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: %s
        address: %s
        state: absent
""" % (FMG_ADMIN, IP, FMG_ADMIN, IP)
    if kind == "passive":
        tasks = """    - name: grant
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: %s
        entries: [%s]
    - name: revoke
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: %s
        entries: [%s]
        state: absent
""" % (RESOURCE, IP, RESOURCE, IP)
    else:
        tasks = """    - name: grant
      knocknoc.fortinet.fortigate_address_grant:
        address_group: %s
        addresses: [%s]
        user: alice
    - name: revoke
      knocknoc.fortinet.fortigate_address_grant:
        address_group: %s
        addresses: [%s]
        user: alice
        state: absent
""" % (GROUP, IP, GROUP, IP)
    return "- hosts: localhost\n  gather_facts: false\n" + defaults + "  tasks:\n" + tasks


def _fortios_playbook(kind):
    common = {"access_token": "{{ fortios_access_token }}", "vdom": "root"}
    if kind == "passive":
        tasks = [
            {"name": "grant", "fortinet.fortios.fortios_monitor": dict(
                common, selector="dynamic.system.external-resource",
                params={"commands": [{"name": RESOURCE, "command": "add", "entries": [IP]}]})},
            {"name": "revoke", "fortinet.fortios.fortios_monitor": dict(
                common, selector="dynamic.system.external-resource",
                params={"commands": [{"name": RESOURCE, "command": "remove", "entries": [IP]}]})},
        ]
    else:
        name = "kk_" + IP
        tasks = [
            {"name": "grant object", "fortinet.fortios.fortios_firewall_address": dict(
                common, state="present", firewall_address={"name": name, "subnet": IP + "/32", "comment": "knocknoc"})},
            {"name": "grant member", "fortinet.fortios.fortios_firewall_addrgrp": dict(
                common, state="present", member_path="member:name", member_state="present",
                firewall_addrgrp={"name": GROUP, "member": [{"name": name}]})},
            {"name": "revoke member", "fortinet.fortios.fortios_firewall_addrgrp": dict(
                common, state="present", member_path="member:name", member_state="absent",
                firewall_addrgrp={"name": GROUP, "member": [{"name": name}]})},
            {"name": "revoke object", "fortinet.fortios.fortios_firewall_address": dict(
                common, state="absent", firewall_address={"name": name})},
        ]
    return json.dumps([{"hosts": "fgt1", "gather_facts": False, "tasks": tasks}], indent=1)


def _fortimanager_playbook():
    # fortinet.fortimanager's generic admin-user module: the slot is written as the playbook gives it, and the
    # revoke writes the unused value our module resets to (255.255.255.255/32).
    common = {"access_token": "{{ fmg_access_token }}", "state": "present"}
    tasks = [
        {"name": "grant", "fortinet.fortimanager.fmgr_system_admin_user": dict(
            common, system_admin_user={"userid": FMG_ADMIN, "trusthost10": IP + " 255.255.255.255"})},
        {"name": "revoke", "fortinet.fortimanager.fmgr_system_admin_user": dict(
            common, system_admin_user={"userid": FMG_ADMIN, "trusthost10": "255.255.255.255 255.255.255.255"})},
    ]
    return json.dumps([{"hosts": "fmg1", "gather_facts": False, "tasks": tasks}], indent=1)


def _play(workdir, text, inventory, extra_vars, env_extra=None):
    """One ansible-playbook run; returns (seconds, per-task results)."""
    book = workdir / "play.yml"
    book.write_text(text)
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(book), "-i", inventory]
    if extra_vars is not None:
        (workdir / "extra.json").write_text(json.dumps(extra_vars))
        cmd += ["-c", "local", "-e", "ansible_python_interpreter=" + sys.executable, "-e", "@" + str(workdir / "extra.json")]
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("ANSIBLE_")]:
        del env[key]  # the caller's Ansible settings would make runs incomparable
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_HOME": str(workdir / "home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": str(workdir / "pc"),
        "NO_PROXY": "*", "no_proxy": "*",
    })
    env.update(env_extra or {})
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=str(workdir), timeout=180)
    elapsed = time.perf_counter() - start
    results = {}
    try:
        for play in json.loads(proc.stdout).get("plays", []):
            for task in play["tasks"]:
                results[task["task"]["name"]] = next(iter(task["hosts"].values()), {})
    except (ValueError, KeyError):
        pass
    if proc.returncode != 0 or any(r.get("failed") for r in results.values()):
        raise RuntimeError("ansible-playbook failed (rc %d): %s %s" % (proc.returncode, proc.stdout[-3000:],
                                                                       proc.stderr[-2000:]))
    return elapsed, results


def bench_playbooks(lab, runs, workroot):
    log("3. ansible-playbook, this collection against fortinet.fortios, %d runs each" % runs)
    admin = Admin(lab, "fgt1")
    setup_passive(admin)
    setup_active(admin)
    info = lab.devices["fgt1"].describe()
    port = int(info["url"].rsplit(":", 1)[1])
    workdir = Path(tempfile.mkdtemp(prefix="kkbench-play-", dir=workroot))

    def inventory(token):
        # Fortinet's own collection goes through the httpapi connection (ansible-connection); it cannot
        # check a certificate issued to the serial number against 127.0.0.1, so it runs unverified.
        path = workdir / ("inventory-%s.json" % token)
        path.write_text(json.dumps({"all": {"hosts": {"fgt1": {
            "ansible_host": "127.0.0.1", "ansible_connection": "httpapi",
            "ansible_network_os": "fortinet.fortios.fortios", "ansible_httpapi_use_ssl": True,
            "ansible_httpapi_validate_certs": False, "ansible_httpapi_port": port,
            "ansible_python_interpreter": sys.executable, "fortios_access_token": info["tokens"][token]}}}}))
        return str(path)

    def fmg_inventory():
        fmg_info = lab.devices["fmg1"].describe()
        path = workdir / "inventory-fmg1.json"
        path.write_text(json.dumps({"all": {"hosts": {"fmg1": {
            "ansible_host": "127.0.0.1", "ansible_connection": "httpapi",
            "ansible_network_os": "fortinet.fortimanager.fortimanager", "ansible_httpapi_use_ssl": True,
            "ansible_httpapi_validate_certs": False, "ansible_httpapi_port": int(fmg_info["url"].rsplit(":", 1)[1]),
            "ansible_python_interpreter": sys.executable, "fmg_access_token": fmg_info["tokens"]["lab-api"]}}}}))
        return str(path)

    ours_vars = {"ca_path": info["ca_path"], "serial": info["tls_server_name"], "fgt_url": info["url"]}
    fmg = conn_args(lab, "fmg1", "lab-api")
    fmg_vars = {"ca_path": fmg["ca_path"], "serial": fmg["tls_server_name"], "fgt_url": info["url"],
                "fmg_url": fmg["url"], "fmg_token": fmg["token"]}
    module = {"KNOCKNOC_FORTINET_IN_PROCESS": "false"}
    # Both collections use the same keys: kk-passiveplus (System Configuration read-write) for the
    # push, kk-active (Firewall read-write) for address objects and groups.
    approaches = [
        ("baseline", "ansible-playbook, one debug task", "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
         "    - name: noop\n      ansible.builtin.debug:\n        msg: start-up only\n", "localhost,", {}, None),
        ("ping", "ansible-playbook, one ping task", "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
         "    - name: ping\n      ansible.builtin.ping:\n", "localhost,", {}, None),
        ("ours-passive", "knocknoc.fortinet.fortigate_dynamic_entry", _ours_playbook("passive"), "localhost,",
         dict(ours_vars, fgt_token=info["tokens"]["kk-passiveplus"]), None),
        ("ours-passive-module", "... module execution", _ours_playbook("passive"), "localhost,",
         dict(ours_vars, fgt_token=info["tokens"]["kk-passiveplus"]), module),
        ("fortios-passive", "fortinet.fortios.fortios_monitor (push)", _fortios_playbook("passive"),
         inventory("kk-passiveplus"), None, None),
        ("ours-active", "knocknoc.fortinet.fortigate_address_grant", _ours_playbook("active"), "localhost,",
         dict(ours_vars, fgt_token=info["tokens"]["kk-active"]), None),
        ("ours-active-module", "... module execution", _ours_playbook("active"), "localhost,",
         dict(ours_vars, fgt_token=info["tokens"]["kk-active"]), module),
        ("fortios-active", "fortinet.fortios address + addrgrp", _fortios_playbook("active"),
         inventory("kk-active"), None, None),
        ("ours-trusted-host", "knocknoc.fortinet.fortimanager_trusted_host", _ours_playbook("trusted_host"), "localhost,",
         fmg_vars, None),
        ("ours-trusted-host-module", "... module execution", _ours_playbook("trusted_host"), "localhost,",
         fmg_vars, module),
        ("fortimanager-trusted-host", "fortinet.fortimanager fmgr_system_admin_user", _fortimanager_playbook(),
         fmg_inventory(), None, None),
    ]
    fmg_admin = Admin(lab, "fmg1")
    rows = []
    for key, label, text, inv, extra, env_extra in approaches:
        device = "fmg1" if "trusted-host" in key else "fgt1"
        fmg_admin.rpc("update", "/cli/global/system/admin/user/" + FMG_ADMIN, data={"trusthost10": UNUSED_SLOT})
        samples = []
        for _run in range(runs):
            reset_counters(lab)
            elapsed, results = _play(workdir, text, inv, extra, env_extra)
            samples.append((elapsed, counters(lab, [device]), results))
            slot = fmg_admin.rpc("get", "/cli/global/system/admin/user/" + FMG_ADMIN)["data"]["trusthost10"]
            if admin.entries() or admin.members() or slot_value(slot) != UNUSED_SLOT:
                raise RuntimeError("%s left a grant behind" % key)
            # fortios_monitor reports changed=false whatever it did, so the proof of work is the
            # device's write counter (and the empty list/group afterwards, checked above).
            if key not in ("baseline", "ping") and lab.devices[device].writes < 2:
                raise RuntimeError("%s wrote nothing: %s" % (key, results))
        row = dict(summarise(samples, [device]), section="playbook", approach=key, label=label,
                   tasks=len(samples[-1][2]), not_done=NOT_DONE[key])
        rows.append(row)
        log("   %-44s %8.1f ms  %s requests" % (label, row["median_ms"], row["requests"]))
    shutil.rmtree(workdir, ignore_errors=True)
    lab.reset()
    return rows


# -- 4. capacity ------------------------------------------------------------------------------------
def load_worker():
    """The load generator, in its own process so that it does not share the lab's interpreter lock.

    Reads its settings as JSON on stdin; each thread keeps one keep-alive TLS session and pushes
    add/remove pairs of its own address until the time or the request budget runs out.
    """
    cfg = json.load(sys.stdin)
    budget = threading.Semaphore(cfg["max_requests"])
    latencies = [[] for _client in range(cfg["clients"])]
    errors = [0] * cfg["clients"]
    window = {}
    # The clock starts when every client has its TLS session (the barrier's action runs first).
    start_gate = threading.Barrier(cfg["clients"] + 1, action=lambda: window.update(
        start=time.perf_counter(), deadline=time.perf_counter() + cfg["seconds"]))

    def client(index):
        session = _session(cfg["url"], cfg["server_name"], cfg["ca_path"], cfg["token"])
        ip = "100.64.%d.%d" % (index // 250, index % 250 + 1)
        session.get(cfg["url"] + "/api/v2/monitor/system/status", timeout=30)  # TLS handshake outside the timing
        start_gate.wait()
        command = "add"
        while time.perf_counter() < window["deadline"] and budget.acquire(blocking=False):
            body = {"commands": [{"name": cfg["resource"], "command": command, "entries": [ip]}]}
            t0 = time.perf_counter()
            try:
                reply = session.post(cfg["url"] + PUSH, params={"vdom": "root"}, json=body, timeout=30)
                ok = reply.status_code == 200 and reply.json().get("status") == "success"
            except Exception:  # a failed request is counted, not fatal: this is a measurement
                ok = False
            latencies[index].append(time.perf_counter() - t0)
            errors[index] += 0 if ok else 1
            command = "remove" if command == "add" else "add"

    threads = [threading.Thread(target=client, args=(i,)) for i in range(cfg["clients"])]
    for thread in threads:
        thread.start()
    start_gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - window["start"]
    json.dump({"elapsed": elapsed, "latencies": [x for sub in latencies for x in sub], "errors": sum(errors)}, sys.stdout)


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_capacity(lab, levels, seconds, max_requests):
    log("4. Lab capacity: concurrent push clients against fgt1 (%s clients, %.1f s each)" % (levels, seconds))
    setup_passive(Admin(lab, "fgt1"))
    info = lab.devices["fgt1"].describe()
    rows = []
    for clients in levels:
        cfg = {"url": info["url"], "server_name": info["tls_server_name"], "ca_path": info["ca_path"],
               "token": info["tokens"]["kk-passiveplus"], "resource": RESOURCE, "clients": clients,
               "seconds": seconds, "max_requests": max_requests}
        reset_counters(lab)
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--load-worker"], input=json.dumps(cfg),
                              capture_output=True, text=True, check=False, timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError("load worker failed: %s" % proc.stderr[-2000:])
        out = json.loads(proc.stdout)
        lat = out["latencies"]
        row = {"section": "capacity", "clients": clients, "seconds": round(out["elapsed"], 2), "requests": len(lat),
               "errors": out["errors"], "requests_per_s": round(len(lat) / out["elapsed"], 1) if out["elapsed"] else 0,
               "p50_ms": round(percentile(lat, 0.50) * 1000, 2), "p95_ms": round(percentile(lat, 0.95) * 1000, 2),
               "max_ms": round(max(lat) * 1000, 2) if lat else 0.0,
               "device_requests": lab.devices["fgt1"].requests, "device_writes": lab.devices["fgt1"].writes}
        rows.append(row)
        log("   %3d clients: %7.1f req/s  p50 %6.2f ms  p95 %6.2f ms  (%d requests, %d errors)" % (
            clients, row["requests_per_s"], row["p50_ms"], row["p95_ms"], row["requests"], row["errors"]))
    lab.reset()
    return rows


# -- report -------------------------------------------------------------------------------------------
def _table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append("  ".join(str(c).rjust(w) if isinstance(c, (int, float)) else str(c).ljust(w)
                               for c, w in zip(row, widths)))
    return "\n".join(line.rstrip() for line in lines)


def _per_device(counts):
    return " ".join("%s=%d" % (n, v) for n, v in counts.items())


def render(report):
    out = []
    meta = report["meta"]
    out.append("knocknoc.fortinet benchmarks (lab on 127.0.0.1, in-process)  %s, Python %s, %d CPUs, %s%s" % (
        meta["platform"], meta["python"], meta["cpus"], meta["ansible_core"], ", --quick" if meta["quick"] else ""))
    out.append("Wall times are medians of %d runs (%d for playbooks; min-max in brackets); 'lab ms' is the median "
               "time spent\ninside the called device's request handler (emulator work, same interpreter); "
               "requests/writes are the lab's\ncounters for the median run." % (meta["runs"], meta["playbook_runs"]))
    sections = report["sections"]
    if "passive" in sections:
        out.append("\n1. Passive+ push, fortigate_dynamic_entry in-process (module start to result)")
        out.append(_table(["route", "entries", "step", "median ms", "[min-max]", "lab ms", "requests", "writes"], [
            (r["route"], r["entries"], r["step"], r["median_ms"], "[%s-%s]" % (r["min_ms"], r["max_ms"]), r["lab_ms"],
             _per_device(r["requests"]), _per_device(r["writes"])) for r in sections["passive"]]))
        out.append("   Via fmg1, fgt1/fgt2 requests are the FortiManager's own proxied calls to the FortiGates.")
    if "active" in sections:
        out.append("\n2. Active grant and revoke, in-process (one IPv4 address 198.51.100.7; users alice and bob)")
        out.append(_table(["module / device", "step", "median ms", "[min-max]", "lab ms", "requests", "writes"], [
            (r["route"], r["step"], r["median_ms"], "[%s-%s]" % (r["min_ms"], r["max_ms"]), r["lab_ms"],
             r["requests_total"], r["writes_total"]) for r in sections["active"]]))
        out.append("   When the holders of an existing address object are rewritten (shared IP), "
                   "fortigate_address_grant re-checks them\n   after a deliberate random 0.1-0.3 s pause "
                   "(concurrency safety); that pause is most of those rows.")
    if "playbook" in sections:
        out.append("\n3. Through ansible-playbook (grant then revoke of one address on fgt1 (trusted host: on fmg1), "
                   "Ansible start-up included; 'x ping' = median / the one-ping playbook's median)")
        ping = next((r["median_ms"] for r in sections["playbook"] if r["approach"] == "ping"), None)
        out.append(_table(["approach", "key", "tasks", "median ms", "[min-max]", "x ping", "lab ms", "requests", "writes"], [
            (r["label"], r["approach"], r["tasks"], r["median_ms"], "[%s-%s]" % (r["min_ms"], r["max_ms"]),
             round(r["median_ms"] / ping, 2) if ping else "-", r["lab_ms"], r["requests_total"], r["writes_total"])
            for r in sections["playbook"]]))
        by_key = {r["approach"]: r["median_ms"] for r in sections["playbook"]}
        pairs = [(job, ours, theirs) for job, ours, theirs in PAIRS if ours in by_key and theirs in by_key]
        if pairs:
            out.append("   Against Fortinet's collections (their median / ours, the same job): " + "; ".join(
                "%s %.2fx" % (job, by_key[theirs] / by_key[ours]) for job, ours, theirs in pairs))
        out.append("   What each approach does NOT do (in brackets: what ours does for its extra requests):")
        for r in sections["playbook"]:
            out.append(textwrap.fill("%s: %s" % (r["label"], r["not_done"]), width=116, initial_indent="   - ",
                                     subsequent_indent="     "))
    if "capacity" in sections:
        out.append("\n4. Lab capacity: push add/remove calls against fgt1 from a separate process "
                   "(one keep-alive TLS session per client thread)")
        out.append(_table(["clients", "seconds", "requests", "errors", "req/s", "p50 ms", "p95 ms", "max ms"], [
            (r["clients"], r["seconds"], r["requests"], r["errors"], r["requests_per_s"], r["p50_ms"], r["p95_ms"],
             r["max_ms"]) for r in sections["capacity"]]))
        out.append("   Client and lab share the machine's CPUs; this bounds the lab, not a FortiGate.")
    out.append("\nTotal benchmark time: %.1f s" % report["meta"]["total_seconds"])
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter load phases (under ~40 s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    parser.add_argument("--runs", type=int, help="runs per measurement (default 5, 3 with --quick)")
    parser.add_argument("--only", action="append", choices=["passive", "active", "playbook", "capacity"],
                        help="run only this section (repeatable)")
    parser.add_argument("--load-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_worker:
        load_worker()
        return 0

    if not (COLLECTIONS / "ansible_collections" / "knocknoc" / "fortinet" / "galaxy.yml").exists():
        parser.error("the collection is not linked under %s: run `make venv` first" % COLLECTIONS)
    sys.path.insert(0, str(ROOT / "lab"))
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(COLLECTIONS))
    from ansible.release import __version__ as ansible_core_version
    from kklab.lab import Lab

    runs = args.runs or (3 if args.quick else 5)
    play_runs = max(1, min(runs, 1 if args.quick else 3))
    levels = [1, 8] if args.quick else [1, 4, 16]
    seconds = 1.5 if args.quick else 3.0
    wanted = args.only or ["passive", "active", "playbook", "capacity"]

    started = time.perf_counter()
    workroot = Path(tempfile.mkdtemp(prefix="kkbench-"))
    # Quiet the lab: a 4-second tick is enough, nothing here depends on feed polls or expiry.
    lab = Lab(workroot / "lab", tick_interval=4.0).start()
    instrument(lab)
    sections = {}
    try:
        # Import once up front, so that the first timed run does not pay for it.
        for name in ("fortigate_dynamic_entry", "fortigate_address_grant", "fortimanager_trusted_host"):
            importlib.import_module("ansible_collections.knocknoc.fortinet.plugins.modules." + name)
        if "passive" in wanted:
            sections["passive"] = bench_passive(lab, runs)
        if "active" in wanted:
            sections["active"] = bench_active(lab, runs)
        if "playbook" in wanted:
            sections["playbook"] = bench_playbooks(lab, play_runs, workroot)
        if "capacity" in wanted:
            sections["capacity"] = bench_capacity(lab, levels, seconds, max_requests=50000)
    finally:
        lab.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    report = {"meta": {"quick": args.quick, "runs": runs, "playbook_runs": play_runs, "cpus": os.cpu_count(),
                       "python": platform.python_version(), "platform": platform.platform(terse=True),
                       "ansible_core": "ansible-core " + ansible_core_version,
                       "total_seconds": round(time.perf_counter() - started, 1)},
              "sections": sections}
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
