# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired-vs-current helpers: pure functions, no I/O.

- :func:`canonical_entry` turns any spelling of an address (``203.0.113.5``, ``/32``, FortiOS'
  ``a.b.c.d m.m.m.m`` read-back, FortiManager's ``["a.b.c.d", "m.m.m.m"]``) into one canonical
  string, so sets from the user, FortiOS, FortiManager and Knocknoc compare equal.
- :func:`plan_members` is the set arithmetic of a membership (what to add, what to remove).
- :func:`diff_fields` compares only the object fields the user set.
- :func:`plan_object` plans the CRUD of one device object (create / update of the changed keys /
  delete / nothing) and renders it for the result and the diff with secrets replaced by
  :data:`HIDDEN`.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field

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


def is_masked(value):
    """Whether a device value is a masked secret: FortiOS' ``ENC ...``, or FortiManager's
    one-element list ``["ENC ..."]``."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return isinstance(value, str) and value.startswith(_MASKED_PREFIX)


_masked = is_masked


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


# -- object CRUD --------------------------------------------------------------------------------
# The one placeholder for a hidden (secret) value in results and diffs. A secret that this run
# sends is marked as such in the diff's "after" (HIDDEN_UPDATED): the device never returns a secret,
# so without the mark a diff would show a change of nothing.
HIDDEN = "<hidden>"
HIDDEN_UPDATED = "<hidden (updated)>"

CREATE, UPDATE, DELETE, NONE = "create", "update", "delete", "none"
UPDATE_SECRETS = ("on_create", "when_unset", "always")


def _strip(value):
    """A deep copy without FortiOS' bookkeeping keys (noise in results and diffs)."""
    if isinstance(value, dict):
        return dict((k, _strip(v)) for k, v in value.items() if k not in _BOOKKEEPING)
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return copy.deepcopy(value)


def _empty(value):
    return value is None or value == "" or value == [] or value == {}


def hide_secrets(obj, keys=()):
    """A copy of a device object for a result: the values of ``keys`` and every value the device
    masks (``ENC ...``) replaced by :data:`HIDDEN` unless empty, bookkeeping keys dropped. A
    non-dict (None) gives None."""
    if not isinstance(obj, dict):
        return None
    keys = frozenset(keys)
    return dict((k, HIDDEN if (k in keys or is_masked(v)) and not _empty(v) else _strip(v))
                for k, v in obj.items() if k not in _BOOKKEEPING)


@dataclass(frozen=True)
class ObjectPlan:
    """What to do with one object; see :func:`plan_object`.

    ``body`` is what to send (it holds secret values: never return or log it; it is left out of
    ``repr``). ``None`` for ``delete`` and ``none``.
    """

    action: str
    body: dict = field(default=None, repr=False)
    changed_fields: tuple = ()
    hidden: frozenset = frozenset()
    secrets_sent: frozenset = frozenset()
    diff_keys: tuple = ()
    masked_desired: tuple = ()

    @property
    def changed(self):
        return self.action != NONE

    def hide(self, obj):
        """:func:`hide_secrets` of ``obj`` with this plan's hidden fields."""
        return hide_secrets(obj, self.hidden)

    def predict(self, current):
        """The object as the device would hold it after the write (check mode): ``current`` with
        ``body`` applied, secrets as :data:`HIDDEN`; None after a delete."""
        if self.action == DELETE:
            return None
        after = _strip(current) if isinstance(current, dict) else {}
        if self.body:
            after.update((k, HIDDEN if k in self.hidden else _strip(v)) for k, v in self.body.items())
        return self.hide(after) if after or current is not None else None

    def view(self, obj, updated=False):
        """The ``diff_keys`` of ``obj`` (those it has), hidden values replaced; with ``updated``, the
        secrets this plan sends show as :data:`HIDDEN_UPDATED`."""
        out = {}
        for key in self.diff_keys:
            if updated and key in self.secrets_sent:
                out[key] = HIDDEN_UPDATED
            elif isinstance(obj, dict) and key in obj:
                value = obj[key]
                out[key] = HIDDEN if key in self.hidden and not _empty(value) else _strip(value)
        return out

    def diff(self, before, after):
        """Ansible's ``diff`` for this plan: both views when something changes, else empty."""
        if not self.changed:
            return {"before": {}, "after": {}}
        return {"before": self.view(before), "after": self.view(after, updated=True)}


def plan_object(current, desired, state="present", identity=None, create_only=None, secrets=None,
                update_secrets="on_create", diff_keys=None, hide=()):
    """Plan the CRUD of one object (pure: the caller reads ``current`` and sends ``plan.body``).

    :param current: the object as the device has it, or None when it does not exist.
    :param desired: the fields the user manages; ``None`` values mean "not set". Compared with
        :func:`diff_fields`; an update sends only the keys that differ.
    :param state: ``present`` (create or update) or ``absent`` (delete when it exists).
    :param identity: key fields (``{"name": ...}``) sent on creation; not counted as changes.
    :param create_only: fields sent only on creation, never compared.
    :param secrets: secret fields, never compared nor shown. Sent on creation, and on an update
        according to ``update_secrets``: ``on_create`` (never), ``when_unset`` (when the device's
        value of that field is empty), ``always`` (every run, so always a change).
    :param diff_keys: the keys the diff shows; default: desired, identity and secret keys.
    :param hide: more keys whose values are never shown (on top of ``secrets`` and the fields the
        device reads back masked, ``ENC ...``).
    """
    if state not in ("present", "absent"):
        raise ValueError("state must be 'present' or 'absent', got %s" % _describe(state))
    if update_secrets not in UPDATE_SECRETS:
        raise ValueError("update_secrets must be one of %s, got %s" % (
            ", ".join(UPDATE_SECRETS), _describe(update_secrets)))
    desired = dict((k, v) for k, v in (desired or {}).items() if v is not None)
    identity = dict(identity or {})
    secrets = dict(secrets or {})
    if current is not None and not isinstance(current, dict):
        raise ValueError("current must be a dict or None")
    hidden = frozenset(secrets) | frozenset(hide) | frozenset(
        k for k, v in (current or {}).items() if is_masked(v))
    if diff_keys is None:
        diff_keys = sorted(set(desired) | set(identity) | set(secrets))
    common = dict(hidden=hidden, diff_keys=tuple(diff_keys),
                  masked_desired=tuple(sorted(k for k in desired if k in hidden)))

    if state == "absent":
        return ObjectPlan(action=NONE if current is None else DELETE, **common)
    if current is None:
        body = dict((k, v) for k, v in (create_only or {}).items() if v is not None)
        body.update(desired)
        body.update(secrets)
        body.update(identity)
        return ObjectPlan(action=CREATE, body=body, changed_fields=tuple(sorted(set(body) - set(identity))),
                          secrets_sent=frozenset(secrets), **common)
    changes = diff_fields(desired, current, ignore=identity)
    if update_secrets == "always":
        sent = frozenset(secrets)
    elif update_secrets == "when_unset":
        sent = frozenset(k for k in secrets if _empty(current.get(k)))
    else:
        sent = frozenset()
    body = dict((k, desired[k]) for k in changes)
    body.update((k, secrets[k]) for k in sent)
    if not body:
        return ObjectPlan(action=NONE, **common)
    return ObjectPlan(action=UPDATE, body=body, changed_fields=tuple(sorted(body)), secrets_sent=sent, **common)
