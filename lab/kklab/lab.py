"""The lab as a whole: starts the devices of a topology, the clock and the control endpoint."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .core import AcceptLoop, CertificateAuthority, Fault, LabClock, start_device

# The default fleet: a mixed-firmware set of FortiGates, one FortiManager with two ADOMs
# (one in workspace mode) and one Knocknoc server. A --topology file replaces it.
DEFAULT_TOPOLOGY = {
    "knocknoc": [{"name": "knocknoc", "version": "26.06.1"}],
    "fortigate": [
        {"name": "fgt1", "serial": "FGVM01TM24000001", "version": "7.4.4", "vdoms": ["root", "dmz"]},
        {"name": "fgt2", "serial": "FGVM01TM24000002", "version": "7.6.2", "vdoms": ["root"]},
        # 7.2.0: empty address groups but no push API (that came in 7.2.1).
        {"name": "fgt3", "serial": "FGVM01TM24000003", "version": "7.2.0", "vdoms": ["root"]},
    ],
    "fortimanager": [
        {"name": "fmg1", "serial": "FMG-VM0000000001", "version": "7.6.2",
         "adoms": {"root": {"workspace": False, "devices": ["fgt1", "fgt2"]},
                   "emea": {"workspace": True, "devices": ["fgt3"]}}},
    ],
}


# Firmware of a generated fleet, in turn: every one has the push API (7.2.1+), so each mode works
# on every FortiGate; 7.6.2 also refuses API keys in the URL.
FLEET_VERSIONS = ("7.4.4", "7.6.2", "7.2.8")
FLEET_GROUP_SIZE = 25


def fleet_topology(count, fortimanager=True, adoms=1, group_size=FLEET_GROUP_SIZE):
    """A topology of ``count`` FortiGates, for fleet-sized tests and benchmarks.

    FortiGates ``fgt001``... (serials ``FGVM02TM00000001``...) with firmware from
    :data:`FLEET_VERSIONS` in turn, a Knocknoc server and, with ``fortimanager``, a FortiManager
    ``fmg1`` managing all of them: spread over ``adoms`` ADOMs (``root``, ``adom2``...) in turn,
    each ADOM's devices in device groups of ``group_size`` (``<adom>_g01``...), and those groups
    under one ``<adom>_fleet`` group (FortiManager nests device groups).
    """
    if count < 1:
        raise ValueError("a fleet has at least one FortiGate")
    if adoms < 1 or group_size < 1:
        raise ValueError("adoms and group_size must be at least 1")
    width = max(3, len(str(count)))
    names = ["fgt%0*d" % (width, i) for i in range(1, count + 1)]
    topology = {
        "knocknoc": [{"name": "knocknoc", "version": "26.06.1"}],
        "fortigate": [{"name": name, "serial": "FGVM02TM%08d" % i, "version": FLEET_VERSIONS[(i - 1) % len(FLEET_VERSIONS)],
                       "vdoms": ["root"]} for i, name in enumerate(names, 1)],
    }
    if fortimanager:
        adom_names = ["root"] + ["adom%d" % i for i in range(2, adoms + 1)]
        spec = {}
        for k, adom in enumerate(adom_names):
            devices = names[k::len(adom_names)]
            groups = {}
            for g, start in enumerate(range(0, len(devices), group_size), 1):
                groups["%s_g%02d" % (adom, g)] = devices[start:start + group_size]
            groups["%s_fleet" % adom] = sorted(groups)
            spec[adom] = {"workspace": False, "devices": devices, "groups": groups}
        topology["fortimanager"] = [{"name": "fmg1", "serial": "FMG-VM0000000001", "version": "7.6.2", "adoms": spec}]
    return topology


def _device_classes():
    # Imported late so that core/lab stay importable while an emulator is being worked on.
    from .fortigate import FortiGate
    from .fortimanager import FortiManager
    from .knocknoc import Knocknoc
    return {"knocknoc": Knocknoc, "fortigate": FortiGate, "fortimanager": FortiManager}


class Lab:
    def __init__(self, directory, topology=None, speed=1.0, tick_interval=0.25):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.topology = topology or DEFAULT_TOPOLOGY
        self.clock = LabClock(speed)
        self.authority = CertificateAuthority(self.directory)
        self.devices = {}
        self.tick_interval = tick_interval
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()
        self.control_server = None
        self.accept_loop = None
        self.state_path = self.directory / "lab.json"

    # Devices are started in dependency order: the Knocknoc server (feeds), the FortiGates,
    # then the FortiManagers that proxy to them.
    def start(self):
        classes = _device_classes()
        # One thread accepts for every device and the control endpoint (see AcceptLoop).
        self.accept_loop = AcceptLoop()
        for kind in ("knocknoc", "fortigate", "fortimanager"):
            for spec in self.topology.get(kind, []):
                device = classes[kind].from_topology(self, spec)
                # The certificate's shape (certs.py): the device's "certificate", else the lab's
                # "certificates", else the firmware's own.
                device.certificate_request = spec.get("certificate", self.topology.get("certificates"))
                self.devices[device.name] = device
                start_device(device, self.authority, self.accept_loop)
        self.control_server = ControlServer(self)
        self.accept_loop.add(self.control_server)
        self.accept_loop.start()
        threading.Thread(target=self._ticker, name="lab-clock", daemon=True).start()
        self.write_state()
        return self

    def stop(self):
        self._stop.set()
        if self.accept_loop:
            self.accept_loop.stop()

    def by_kind(self, kind):
        return [d for d in self.devices.values() if d.kind == kind]

    def describe(self):
        return {
            # The lab CA: it signs the Knocknoc server's certificate and the serial-san variant;
            # each device's own trust anchor is its "ca_path".
            "ca_path": str(self.authority.ca_path),
            "control_url": "http://127.0.0.1:%d" % self.control_server.server_address[1],
            "clock_speed": self.clock.speed,
            "devices": {name: device.describe() for name, device in self.devices.items()},
        }

    def write_state(self):
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.describe(), indent=2))
        tmp.replace(self.state_path)

    def tick(self):
        """Run the devices' periodic work once (feed polls, expiries) on the lab clock."""
        with self._tick_lock:
            now = self.clock.now()
            for device in list(self.devices.values()):
                device.tick(now)

    def _ticker(self):
        while not self._stop.wait(self.tick_interval):
            try:
                self.tick()
            except Exception:  # keep the clock running; the failing poll shows in the device state
                import traceback
                traceback.print_exc()

    def reset(self):
        with self._tick_lock:
            for device in self.devices.values():
                with device.lock:
                    device.reset()
                    device.faults = []
                    device.requests = 0
                    device.writes = 0


class _ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see core._Handler

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _reply(self, status, body):
        payload = json.dumps(body, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _serve(self):
        lab = self.server.lab
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._reply(400, {"error": "body is not JSON"})
            return
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        try:
            status, result = self._route(lab, self.command, parts, body)
        except KeyError as exc:
            status, result = 404, {"error": "not found: %s" % exc}
        except ValueError as exc:
            status, result = 400, {"error": str(exc)}
        self._reply(status, result)

    @staticmethod
    def _route(lab, method, parts, body):
        if parts == ["lab"] and method == "GET":
            return 200, lab.describe()
        if parts == ["reset"] and method == "POST":
            lab.reset()
            return 200, {"reset": True}
        if parts == ["clock"] and method == "GET":
            return 200, {"now": lab.clock.now(), "speed": lab.clock.speed}
        if parts == ["clock", "advance"] and method == "POST":
            lab.clock.advance(float(body.get("seconds", 0)))
            lab.tick()  # synchronous: when this returns, everything that was due has run
            return 200, {"now": lab.clock.now()}
        if parts == ["counters"] and method == "GET":
            return 200, {n: {"requests": d.requests, "writes": d.writes} for n, d in lab.devices.items()}
        if parts == ["counters", "reset"] and method == "POST":
            for device in lab.devices.values():
                with device.lock:
                    device.requests = device.writes = 0
            return 200, {"reset": True}
        if len(parts) >= 3 and parts[0] == "devices":
            device = lab.devices[parts[1]]
            action = "/".join(parts[2:])
            if action == "counters" and method == "GET":
                return 200, {"requests": device.requests, "writes": device.writes}
            if action == "counters/reset" and method == "POST":
                with device.lock:
                    device.requests = device.writes = 0
                return 200, {"reset": True}
            if action == "faults":
                if method == "GET":
                    return 200, [f.as_dict() for f in device.faults]
                if method == "POST":
                    fault = Fault.from_dict(body)
                    with device.lock:
                        device.faults.append(fault)
                    return 200, fault.as_dict()
                if method == "DELETE":
                    with device.lock:
                        device.faults = []
                    return 200, []
            if action == "certificate/regenerate" and method == "POST":
                # As FortiOS does for Fortinet_GUI_Server when an interface address or the CA
                # changes: a new leaf (new fingerprint), served from the next connection on.
                device.certificate.regenerate()
                lab.write_state()
                return 200, device.certificate.describe()
            if action == "dump" and method == "GET":
                with device.lock:
                    return 200, device.dump()
            with device.lock:
                return 200, device.control(action, method, body)
        raise KeyError("/".join(parts))

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, lab, port=0):
        self.lab = lab
        super().__init__(("127.0.0.1", port), _ControlHandler)


def wait_forever(lab):
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
