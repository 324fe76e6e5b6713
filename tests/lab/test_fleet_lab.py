"""The lab at fleet size: a generated topology of 200 FortiGates, with and without a FortiManager.

Correctness is asserted; the start/stop times are printed (run with -s) and only bounded loosely,
so that a busy CI machine does not fail them. The figures to watch are in benchmarks/fleet.py.
"""

import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from harness.labview import LabView
from kklab.lab import Lab, fleet_topology

# Loose bounds: on a loaded 2-core machine the 200-device lab starts in ~2-5 s (most of it making
# the appliance certificates) and stops at once; a thread per device, stopped one after the other,
# took 16 s to stop, which STOP_SECONDS still catches.
START_SECONDS = 30
STOP_SECONDS = 5


def _closed(url):
    host, port = url.split("//")[1].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def test_fleet_topology_shape():
    topo = fleet_topology(60, adoms=2, group_size=25)
    fgts = topo["fortigate"]
    assert [f["name"] for f in fgts[:2]] == ["fgt001", "fgt002"] and len(fgts) == 60
    assert len({f["serial"] for f in fgts}) == 60 and all(len(f["serial"]) == 16 for f in fgts)
    adoms = topo["fortimanager"][0]["adoms"]
    assert sorted(adoms) == ["adom2", "root"]
    assert sorted(d for a in adoms.values() for d in a["devices"]) == sorted(f["name"] for f in fgts)
    root = adoms["root"]["groups"]
    assert [len(root[g]) for g in ("root_g01", "root_g02")] == [25, 5]
    assert root["root_fleet"] == ["root_g01", "root_g02"]
    assert "fortimanager" not in fleet_topology(3, fortimanager=False)
    with pytest.raises(ValueError):
        fleet_topology(0)


@pytest.mark.parametrize("with_fortimanager", [True, False], ids=["fortimanager", "standalone"])
def test_fleet_of_200_starts_and_stops(tmp_path, with_fortimanager):
    started = time.perf_counter()
    lab = Lab(tmp_path, topology=fleet_topology(200, fortimanager=with_fortimanager)).start()
    start_s = time.perf_counter() - started
    try:
        state = json.loads(lab.state_path.read_text())
        fgts = [n for n, d in state["devices"].items() if d["kind"] == "fortigate"]
        assert len(fgts) == 200
        view = LabView(lab)
        # Every FortiGate answers (first, middle, last), on its own port.
        assert len({state["devices"][n]["url"] for n in fgts}) == 200
        for name in (fgts[0], fgts[99], fgts[-1]):
            reply = view.device(name).get("/api/v2/monitor/system/status")
            assert reply.status_code == 200 and reply.json()["serial"] == state["devices"][name]["serial"]
        if with_fortimanager:
            fmg = view.device("fmg1")
            devices = fmg.rpc("get", "/dvmdb/adom/root/device", fields=["name", "sn"])["data"]
            assert sorted(d["name"] for d in devices) == sorted(fgts)
            groups = {g["name"]: g for g in fmg.rpc("get", "/dvmdb/adom/root/group", option=["object member"])["data"]}
            assert len(groups["root_g08"]["object member"]) == 25 and len(groups["root_fleet"]["object member"]) == 8
            # The nested group reaches every device through the proxy.
            proxied = fmg.rpc("exec", "/sys/proxy/json", data={
                "action": "get", "resource": "/api/v2/monitor/system/status", "target": ["adom/root/group/root_fleet"]})
            assert proxied["status"]["code"] == 0 and len(proxied["data"]) == 200
            assert all(item["response"]["serial"] for item in proxied["data"])
        else:
            assert "fmg1" not in state["devices"]
    finally:
        urls = [d.url for d in lab.devices.values()]
        stopping = time.perf_counter()
        lab.stop()
        stop_s = time.perf_counter() - stopping
    print("\nfleet of 200 (%s): start %.2f s, stop %.2f s" % (
        "with FortiManager" if with_fortimanager else "standalone", start_s, stop_s))
    assert all(_closed(u) for u in (urls[0], urls[100], urls[-1]))
    with pytest.raises(requests.RequestException):
        requests.get(lab.describe()["control_url"] + "/lab", timeout=2)
    assert start_s < START_SECONDS and stop_s < STOP_SECONDS


def test_kklab_fleet_command_line(tmp_path):
    """``kklab --fleet 30 --fleet-adoms 2`` writes a lab.json with the generated fleet and stops on SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "kklab", "--dir", str(tmp_path), "--fleet", "30", "--fleet-adoms", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=str(tmp_path), env=_lab_env())
    try:
        path = proc.stdout.readline().strip()
        state = json.loads(open(path).read())
        assert sum(1 for d in state["devices"].values() if d["kind"] == "fortigate") == 30
        assert sorted(state["devices"]["fmg1"]["adoms"]) == ["adom2", "root"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    bad = subprocess.run([sys.executable, "-m", "kklab", "--no-fortimanager"], capture_output=True, text=True,
                         env=_lab_env(), timeout=30, check=False)
    assert bad.returncode == 2 and "--fleet" in bad.stderr


def _lab_env():
    import os
    from pathlib import Path
    env = dict(os.environ)
    lab_dir = str(Path(__file__).resolve().parents[2] / "lab")
    env["PYTHONPATH"] = lab_dir + os.pathsep + env.get("PYTHONPATH", "")
    return env
