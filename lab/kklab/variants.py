"""Lab switches: device behaviours that Fortinet's references leave open, contradict, or tie to firmware.

Each emulator declares its switches as :class:`Switch` objects (behaviour, source, the lab's default
and the other side). The default is the stricter or better-sourced behaviour; the whole lab flips to
the other side of every switch with one setting, so that the suite can run once per side:

- the environment variable ``KKLAB_VARIANT=alternate`` (or ``"variant": "alternate"`` at the top of a
  topology file);
- one switch for every device of a kind: ``"switches": {"fortimanager": {"th_from_profile": false}}``
  at the top of a topology; for one device: ``"switches": {...}`` in its entry;
- at run time: ``POST /devices/<name>/switches {"<switch>": value}`` on the control endpoint
  (``GET`` lists them); ``POST /reset`` puts them back to the topology's values.

Later settings win: variant, then the topology's per-kind switches, then the device's own.
A switch's default may depend on the device's firmware (a callable of the device).
"""

import os

ENV = "KKLAB_VARIANT"
VARIANTS = ("default", "alternate")


class Switch:
    """One lab switch: ``default`` and ``alternate`` are values or callables of the device."""

    def __init__(self, name, default, alternate, behaviour, source):
        self.name = name
        self.default = default
        self.alternate = alternate
        self.behaviour = behaviour
        self.source = source

    def value(self, device, side):
        value = self.alternate if side == "alternate" else self.default
        return value(device) if callable(value) else value


def variant(topology=None, environ=None):
    """The side the lab runs on: the topology's ``variant``, else ``KKLAB_VARIANT``, else ``default``."""
    environ = os.environ if environ is None else environ
    side = (topology or {}).get("variant") or environ.get(ENV) or "default"
    if side not in VARIANTS:
        raise ValueError("lab variant must be one of %s, got %r" % (", ".join(VARIANTS), side))
    return side


def resolve(switches, device, spec=None, topology=None, environ=None):
    """The values of ``switches`` (a list of :class:`Switch`) for ``device`` (its topology entry
    ``spec``, the whole ``topology``). Raises ValueError for a switch the device does not have."""
    topology = topology or {}
    side = variant(topology, environ)
    values = dict((switch.name, switch.value(device, side)) for switch in switches)
    overrides = dict((topology.get("switches") or {}).get(device.kind) or {})
    overrides.update((spec or {}).get("switches") or {})
    check(switches, overrides, device)
    values.update(overrides)
    return values


def check(switches, values, device):
    unknown = set(values) - set(switch.name for switch in switches)
    if unknown:
        raise ValueError("%s %s has no switch %s (it has: %s)" % (
            device.kind, device.name, ", ".join(sorted(unknown)),
            ", ".join(sorted(switch.name for switch in switches)) or "none"))


def describe(switches, values):
    """The control endpoint's view: each switch with its value, default side and source."""
    return dict((switch.name, {"value": values.get(switch.name), "behaviour": switch.behaviour,
                               "source": switch.source}) for switch in switches)


def control(switches, values, device, method, body):
    """``GET``/``POST /devices/<name>/switches``: list, or set some switches until the next reset."""
    if method == "POST":
        body = body or {}
        check(switches, body, device)
        values.update(body)
    elif method != "GET":
        raise KeyError("switches")
    return describe(switches, values)
