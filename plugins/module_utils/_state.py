# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired-vs-current helpers: pure functions, no I/O.

- :func:`canonical_entry` turns any spelling of an address (``203.0.113.5``, ``/32``, FortiOS'
  ``a.b.c.d m.m.m.m`` read-back, FortiManager's ``["a.b.c.d", "m.m.m.m"]``) into one canonical
  string, so sets from the user, FortiOS, FortiManager and Knocknoc compare equal.
- :func:`plan_members` is the set arithmetic of a membership (what to add, what to remove).
- :func:`diff_fields` compares only the object fields the user set.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# Values FortiOS returns in place of a secret (reference A10); never compared.
_MASKED_PREFIX = "ENC "
# Bookkeeping keys FortiOS adds to every object and child-table row.
_BOOKKEEPING = frozenset(("q_origin_key",))


def _describe(value):
    return repr(value) if not isinstance(value, str) else "'%s'" % value


def _to_network(value, strict=True):
    """Any accepted spelling -> ``ipaddress`` network (``strict``: host bits must be clear)."""
    if isinstance(value, (list, tuple)):
        # FortiManager: ["a.b.c.d", "m.m.m.m"]
        if len(value) != 2 or not all(isinstance(v, str) for v in value):
            raise ValueError("expected [address, netmask]")
        text = "%s/%s" % (value[0].strip(), value[1].strip())
    elif isinstance(value, str):
        text = value.strip()
        parts = text.split()
        if not parts:
            raise ValueError("empty value")
        if len(parts) == 2:
            # FortiOS read-back: "a.b.c.d m.m.m.m"
            text = "%s/%s" % (parts[0], parts[1])
        elif len(parts) != 1:
            raise ValueError("not an IP address or network")
    else:
        raise ValueError("not a string")
    if not text:
        raise ValueError("empty value")
    if "%" in text:
        # ipaddress accepts IPv6 scope ids (fe80::1%eth0); FortiOS objects cannot hold them
        raise ValueError("scoped IPv6 addresses (%zone) are not supported")
    try:
        return ipaddress.ip_network(text, strict=strict)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            raise ValueError("host bits are set beyond the prefix length")
        raise ValueError("not an IP address or network (%s)" % exc)


def canonical_entry(value, max_prefix_v4=32, max_prefix_v6=128):
    """The canonical text of one address entry.

    ``203.0.113.5``, ``203.0.113.5/32``, ``203.0.113.5 255.255.255.255`` and
    ``["203.0.113.5", "255.255.255.255"]`` all give ``"203.0.113.5"``; a network keeps its
    ``/len`` (``198.51.100.0/24``); IPv6 is compressed (``2001:db8::7``).

    ``max_prefix_v4``/``max_prefix_v6`` bound how broad an entry may be: prefix lengths shorter
    than these are refused. The defaults allow single hosts only (/32 and /128).

    Raises ValueError, naming the value, for invalid input, host bits set beyond the prefix
    (``203.0.113.5/24``), the whole Internet (``0.0.0.0/0``, ``::/0``), anything broader than the
    limit, and addresses that cannot be a user's (unspecified, multicast, 255.255.255.255).
    """
    try:
        network = _to_network(value)
    except ValueError as exc:
        raise ValueError("invalid address %s: %s" % (_describe(value), exc))
    limit = max_prefix_v4 if network.version == 4 else max_prefix_v6
    if network.prefixlen == 0:
        raise ValueError("refusing %s: it allows every address (/0)" % _describe(value))
    if network.prefixlen < limit:
        raise ValueError("refusing %s: /%d is broader than the allowed /%d" % (
            _describe(value), network.prefixlen, limit))
    address = network.network_address
    if address.is_unspecified or address.is_multicast or (
            network.version == 4 and network.num_addresses == 1 and str(address) == "255.255.255.255"):
        raise ValueError("refusing %s: not a usable source address" % _describe(value))
    if network.num_addresses == 1:
        return str(address)
    return "%s/%d" % (address, network.prefixlen)


def device_network(value):
    """The ``ipaddress`` network of an address as a device stores it (FortiManager's
    ``["a.b.c.d", "m.m.m.m"]``, FortiOS' ``"a.b.c.d m.m.m.m"``, ``"prefix/len"``), with host bits
    and /0 allowed; None when ``value`` is not an address. For reading device state (which may
    hold anything), never for validating input: use :func:`canonical_entry` for that."""
    try:
        return _to_network(value, strict=False)
    except ValueError:
        return None


def canonical_entries(values, max_prefix_v4=32, max_prefix_v6=128):
    """A frozenset of :func:`canonical_entry` results; the first invalid value raises."""
    return frozenset(canonical_entry(v, max_prefix_v4, max_prefix_v6) for v in values or ())


def address_object_entry(obj, max_prefix_v4=0, max_prefix_v6=0):
    """The canonical entry of a FortiOS ``firewall/address`` (``type`` ipmask, ``subnet``) or
    ``firewall/address6`` (``type`` ipprefix, ``ip6``) object, also FortiManager's list form.

    Returns None for objects that are not one address/prefix (ranges, FQDNs, geography, /0...):
    this reads device state, which may hold anything. The limits default to "any prefix".
    """
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if "ip6" in obj and kind in (None, "ipprefix", 0):
        value = obj.get("ip6")
    elif "subnet" in obj and kind in (None, "ipmask", 0):
        value = obj.get("subnet")
    else:
        return None
    try:
        return canonical_entry(value, max_prefix_v4, max_prefix_v6)
    except ValueError:
        return None


@dataclass(frozen=True)
class Plan:
    """What to change in a membership: ``add`` and ``remove`` (frozensets)."""

    add: frozenset = frozenset()
    remove: frozenset = frozenset()

    @property
    def changed(self):
        return bool(self.add or self.remove)

    def after(self, current):
        """The membership once the plan is applied to ``current``."""
        return (frozenset(current) | self.add) - self.remove


def plan_members(current, wanted, state, exclusive=False, owned=lambda member: True):
    """Set arithmetic of a membership (entries must already be canonical).

    - ``present``: add = wanted - current; with ``exclusive``, also remove the members of
      ``current`` that we own (``owned(member)``) and that are not wanted.
    - ``absent``: remove = wanted & current.
    """
    current = frozenset(current or ())
    wanted = frozenset(wanted or ())
    if state == "present":
        remove = frozenset(m for m in current if owned(m)) - wanted if exclusive else frozenset()
        return Plan(add=wanted - current, remove=remove)
    if state == "absent":
        return Plan(add=frozenset(), remove=wanted & current)
    raise ValueError("state must be 'present' or 'absent', got %s" % _describe(state))


def _scalar(value):
    """FortiOS-isms: numbers may come back as strings and vice versa; addresses in any spelling."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        try:
            return _ip_key(value)
        except ValueError:
            return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return str(int(text))
        try:
            return _ip_key(text)
        except ValueError:
            return value
    return value


def _ip_key(value):
    """A comparison key for an address in any spelling; ValueError when it is not one."""
    if isinstance(value, str) and not any(c in value for c in ".:"):
        raise ValueError(value)
    return ("ip", str(_to_network(value)))


def _masked(value):
    return isinstance(value, str) and value.startswith(_MASKED_PREFIX)


def _same(desired, current):
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(_same(v, current.get(k)) for k, v in desired.items() if v is not None and k not in _BOOKKEEPING)
    if isinstance(desired, (list, tuple)) and not _is_address_pair(desired):
        if not isinstance(current, (list, tuple)):
            return False
        if len(desired) != len(current):
            return False
        # Order-insensitive: FortiOS tables such as addrgrp member are sets.
        remaining = list(current)
        for item in desired:
            for index, candidate in enumerate(remaining):
                if _same(item, candidate):
                    del remaining[index]
                    break
            else:
                return False
        return True
    if _masked(current):
        return True
    return _scalar(desired) == _scalar(current)


def _is_address_pair(value):
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return False
    try:
        _to_network(value)
    except ValueError:
        return False
    return True


def diff_fields(desired, current, ignore=()):
    """The keys of ``desired`` whose value differs from ``current`` (sorted list).

    Only keys the user set count (``None`` = not set), as community.docker's compare_generic
    with ``allow_more_present``: extra fields on the device are fine, nested dicts compare only
    the given keys, lists compare order-insensitively. FortiOS-isms are normalised: ``5`` equals
    ``"5"``, ``"a.b.c.d m.m.m.m"`` equals ``"a.b.c.d/len"`` and ``["a.b.c.d", "m.m.m.m"]``, and a
    current value masked as ``ENC ...`` (a secret FortiOS never returns) never counts as a change.
    """
    current = current or {}
    changed = []
    for key, value in desired.items():
        if value is None or key in ignore:
            continue
        if key not in current:
            changed.append(key)
            continue
        if not _same(value, current.get(key)):
            changed.append(key)
    return sorted(changed)
