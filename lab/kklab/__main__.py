"""``python -m kklab``: start the whole lab in the foreground and print where lab.json is."""

import argparse
import json
import signal
import sys
from pathlib import Path

from .lab import Lab, fleet_topology, wait_forever


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kklab", description=__doc__)
    parser.add_argument("--dir", default=".lab", help="where the CA and lab.json are written (default: .lab)")
    parser.add_argument("--topology", help="JSON file describing the devices (default: the built-in fleet)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="lab clock speed: 60 makes a 5-minute feed refresh take 5 seconds")
    parser.add_argument("--fleet", type=int, metavar="N",
                        help="instead of the default fleet: N FortiGates managed by one FortiManager (see docs/lab.md)")
    parser.add_argument("--fleet-adoms", type=int, default=1, metavar="K",
                        help="with --fleet: spread the FortiGates over K ADOMs (default 1)")
    parser.add_argument("--no-fortimanager", action="store_true",
                        help="with --fleet: no FortiManager, the FortiGates stand alone")
    args = parser.parse_args(argv)
    if args.fleet is not None and args.topology:
        parser.error("--fleet and --topology are exclusive")
    if args.fleet is None and (args.no_fortimanager or args.fleet_adoms != 1):
        parser.error("--no-fortimanager and --fleet-adoms go with --fleet")
    if args.fleet is not None:
        if args.fleet < 1 or args.fleet_adoms < 1:
            parser.error("--fleet and --fleet-adoms must be at least 1")
        topology = fleet_topology(args.fleet, fortimanager=not args.no_fortimanager, adoms=args.fleet_adoms)
    else:
        topology = json.loads(Path(args.topology).read_text()) if args.topology else None
    lab = Lab(args.dir, topology=topology, speed=args.speed).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(str(lab.state_path.resolve()), flush=True)
    for name, device in lab.devices.items():
        print("  %-9s %-12s %s  %s v%s" % (name, device.kind, device.url, device.serial, device.version),
              file=sys.stderr, flush=True)
    wait_forever(lab)


if __name__ == "__main__":
    main()
