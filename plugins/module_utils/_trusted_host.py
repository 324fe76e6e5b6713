# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Knocknoc Active mode on FortiManager: an administrator's trusted-host slots.

FortiManager gives every administrator ten IPv4 (``trusthost1``..``trusthost10``) and ten IPv6
(``ipv6_trusthost1``..``ipv6_trusthost10``) trusted-host slots (reference F1). Knocknoc owns slot 10
(:data:`SLOT`); slots 1-9 are the administrator's baseline and must never allow every address, or
slot 10 is masked and a grant controls nothing.

This file holds the device's slot values (:data:`UNUSED`, :data:`FACTORY_SLOT1`: the one definition
in the collection), the pure decisions (:func:`plan`, :func:`baseline_slots`), and the two calls that
read and write an administrator (:func:`read_admin`, :func:`write_slots`) on a FortiManager client.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry, device_network

# Knocknoc writes only the 10th slot; slots 1-9 are the baseline (slot 1 the break-glass entry, knocknoc.md 6.4).
SLOT = 10
BASELINE_SLOTS = SLOT - 1
USER_URL = "/cli/global/system/admin/user/%s"
PROFILE_URL = "/cli/global/system/admin/profile/%s"
# An administrator may take its trusted hosts from its admin profile (FortiManager 7.0.3+, an integer that
# fortinet.fortimanager calls "Internal use only"): then its own slots, slot 10 included, do nothing.
# unconfirmed in the reference: the meaning of each value; any value but 0/disable is read as "from the profile".
FROM_PROFILE = {4: "th-from-profile", 6: "th6-from-profile"}
# The revoke's failure sentence (the agent's fail-closed wording, shared with the other revoke paths).
OPEN = "access may still be open"

# FortiManager's "unused" slot values (reference F1): they admit nothing. IPv4 slots read back as
# [address, netmask] lists; the tuple here is immutable, use unused_value() for a write.
UNUSED_V4 = ("255.255.255.255", "255.255.255.255")
UNUSED_V6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"
# FortiManager's factory value of slot 1 (reference F1): allow all.
ALLOW_ALL_V4 = ("0.0.0.0", "0.0.0.0")
ALLOW_ALL_V6 = "::/0"
UNUSED = {4: UNUSED_V4, 6: UNUSED_V6}
FACTORY_SLOT1 = {4: ALLOW_ALL_V4, 6: ALLOW_ALL_V6}

# Error codes the update keeps; any other JSON-RPC failure of the update is 202050.
KEPT_CODES = (202001, 202002, 202051)
# The seed checklist's fix ("set Trusted Host 1-9 to 127.0.0.1 (or a controlled backup IP)"), per family.
FIX = {
    4: "set trusted hosts 1-9 to 127.0.0.1 or a controlled backup IP (do not leave them as allow all)",
    6: "set IPv6 trusted hosts 1-9 to ::1 or a controlled backup IP (do not leave them as allow all)",
}


def slot_name(family, index=SLOT):
    return ("trusthost%d" if family == 4 else "ipv6_trusthost%d") % index


def slot_names():
    return [slot_name(family, index) for family in (4, 6) for index in range(1, SLOT + 1)]


def unused_value(family):
    """The write form of FortiManager's unused value (a fresh list for IPv4)."""
    return list(UNUSED_V4) if family == 4 else UNUSED_V6


def network_value(network):
    """The write form of a network: IPv4 as [address, netmask] (the safe write form of reference F1;
    I14 leaves other forms unconfirmed), IPv6 as prefix/len (the form FortiManager reads back)."""
    if network.version == 4:
        return [str(network.network_address), str(network.netmask)]
    return "%s/%d" % (network.network_address.compressed, network.prefixlen)


def host_value(address):
    """The write form of a single host."""
    ip = ipaddress.ip_address(address)
    return network_value(ipaddress.ip_network("%s/%d" % (ip, ip.max_prefixlen)))


def same(current, wanted):
    """Whether two slot values hold the same network, whatever their spelling."""
    network = device_network(current)
    return network is not None and network == device_network(wanted)


def allows_all(value):
    network = device_network(value)
    return network is not None and network.prefixlen == 0


def admits(value, address):
    network = device_network(value)
    return network is not None and ipaddress.ip_address(address) in network


def default_value(family, index):
    """FortiManager's factory value of a slot (reference F1): slot 1 allows all, the others are unused."""
    if index == 1:
        return list(ALLOW_ALL_V4) if family == 4 else ALLOW_ALL_V6
    return unused_value(family)


def masking_slots(slots, family):
    """The names of slots 1-9 of ``family`` that allow every address (they mask slot 10). ``slots`` is
    :func:`read_admin`'s slots or an administrator object as read; a missing slot has its factory value."""
    names = [slot_name(family, index) for index in range(1, SLOT)]
    return [name for index, name in enumerate(names, 1) if allows_all(slots.get(name, default_value(family, index)))]


def admitting(slots, address, names):
    """The names among ``names`` whose value in ``slots`` admits ``address`` (a missing slot counts at
    its factory value: slot 1 allows all)."""
    family = ipaddress.ip_address(address).version
    out = []
    for name in names:
        index = int(name.rsplit("trusthost", 1)[1])
        if admits(slots.get(name, default_value(family, index)), address):
            out.append(name)
    return out


def from_profile(value):
    """Whether an administrator's ``th-from-profile``/``th6-from-profile`` value takes the trusted hosts from
    the profile (absent on FortiManager before 7.0.3: no)."""
    return value not in (None, 0, "0", False, "", "disable", "disabled")


def shown(value):
    """A slot value in the text of a message: "a.b.c.d m.m.m.m" or "prefix/len"."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


# -- input ------------------------------------------------------------------------------------------
def check_admin(admin):
    """Raises ValueError unless ``admin`` can name a FortiManager administrator in a JSON-RPC URL."""
    if not admin or not admin.strip():
        raise ValueError("Option admin must name a FortiManager administrator, got an empty value.")
    if admin != admin.strip():
        raise ValueError("Option admin %r has leading or trailing whitespace: the Knocknoc user name must match the"
                         " FortiManager administrator name exactly." % admin)
    if "/" in admin:
        raise ValueError("Option admin %r must not contain '/': it is part of the JSON-RPC URL." % admin)


def canonical_address(value):
    """The canonical single host of option ``address``; ValueError for anything else."""
    try:
        address = canonical_entry(value)
    except ValueError as exc:
        raise ValueError("Option address: %s. Give one IPv4 or IPv6 host address." % exc)
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        raise ValueError("Option address %r is an IPv4-mapped IPv6 address: give the IPv4 address %s, which goes"
                         " into trusthost10." % (value, ip.ipv4_mapped))
    return address


def check_options(address, state, baseline):
    """ValueError for a combination that would do something else than the task says: a grant without
    an address (an undefined variable) writes nothing to slot 10 and must not pass as a grant."""
    if state == "present" and address is None and baseline is None:
        raise ValueError("Option address is required with state=present (got null, for example an undefined variable);"
                         " give the address to grant, or baseline alone to set slots 1-9.")
    if address is not None and not str(address).strip():
        raise ValueError("Option address is empty; give one IPv4 or IPv6 host address.")


def baseline_slots(values):
    """Slots 1-9 of both families for option ``baseline``: IPv4 networks fill ``trusthost1..`` and IPv6
    networks ``ipv6_trusthost1..`` in the order given, every other slot 1-9 is unused.

    Raises ValueError for an empty list, more than 9 networks of one family, and any entry that is
    not a usable network: allow-all (/0), host bits set, IPv4-mapped IPv6, unspecified, multicast.
    The same network given twice counts once.
    """
    if not values:
        raise ValueError("Option baseline must list at least one network for trusted hosts 1-9 (an administrator"
                         " whose slots are all unused is not a documented FortiManager state).")
    networks = {4: [], 6: []}
    for value in values:
        try:
            # prefix lengths down to /1: the baseline may be a network; /0 is always refused.
            network = ipaddress.ip_network(canonical_entry(value, 1, 1))
        except ValueError as exc:
            raise ValueError("Option baseline: %s." % exc)
        if network.version == 6 and network.network_address.ipv4_mapped is not None:
            raise ValueError("Option baseline: %r is an IPv4-mapped IPv6 network; give it as IPv4." % (value,))
        if network not in networks[network.version]:
            networks[network.version].append(network)
    slots = {}
    for family in (4, 6):
        if len(networks[family]) > BASELINE_SLOTS:
            raise ValueError("Option baseline holds %d IPv%d networks; trusted hosts 1-%d hold at most %d (slot %d"
                             " belongs to Knocknoc)." % (len(networks[family]), family, BASELINE_SLOTS,
                                                         BASELINE_SLOTS, SLOT))
        for index in range(1, SLOT):
            chosen = networks[family][index - 1] if index <= len(networks[family]) else None
            slots[slot_name(family, index)] = network_value(chosen) if chosen else unused_value(family)
    return slots


# -- decisions ----------------------------------------------------------------------------------------
def plan(slots, admin, address, state, allow_masked=False, baseline=None, profiles=None):
    """``(managed slot names, changes, warnings)`` for the wanted state of ``admin``'s ``slots`` (as read).

    ``address`` is the canonical host or None (state=absent: both slots 10; state=present: slots 1-9
    only, with a ``baseline``). ``baseline`` is :func:`baseline_slots`' result or None (slots 1-9 are then
    never written). Checks for masking run on slots 1-9 as they will be after the baseline.
    ``profiles``: ``{family: profile name}`` for the families whose trusted hosts come from the admin
    profile (``th-from-profile``): a grant there changes nothing FortiManager checks.
    A revoke resets a slot 10 that admits ``address`` (the host itself or a network around it).
    Raises KnocknocError 202050 for a masked grant without ``allow_masked``.
    """
    profiles = profiles or {}
    warnings = []
    changes = {}
    managed = []
    effective = dict(slots)
    if baseline is not None:
        for name in slot_names():
            if name in baseline:
                managed.append(name)
                if not same(slots[name], baseline[name]):
                    changes[name] = baseline[name]
        effective.update(baseline)
    if address is None:
        if state == "absent":
            # no address: reset both slots 10, whatever they hold.
            for family in (4, 6):
                managed.append(slot_name(family))
                if not same(slots[slot_name(family)], UNUSED[family]):
                    changes[slot_name(family)] = unused_value(family)
        return managed, changes, warnings
    family = ipaddress.ip_address(address).version
    slot = slot_name(family)
    managed.append(slot)
    wanted = host_value(address)
    current = slots[slot]
    if state == "absent":
        if same(current, wanted):
            changes[slot] = unused_value(family)
        elif admits(current, address):
            # a network in Knocknoc's slot that covers the address keeps the login open: it goes too.
            changes[slot] = unused_value(family)
            warnings.append("%s of %s held %s, a network that admits %s: reset to unused." % (
                slot, admin, shown(current), address))
        elif not same(current, UNUSED[family]):
            warnings.append("%s of %s holds %s, not %s: left unchanged (it is another grant; revoke without address"
                            " to reset it anyway)." % (slot, admin, shown(current), address))
        return managed, changes, warnings
    if family in profiles:
        text = "administrator %s takes its IPv%d trusted hosts from admin profile %s (%s), so %s does nothing and a" \
               " grant would not restrict who can log in" % (admin, family, profiles[family], FROM_PROFILE[family], slot)
        if not allow_masked:
            raise KnocknocError(202050, cause=text + "; nothing was changed",
                                hint="Disable %s for administrator %s so that its own trusted hosts apply (slots 1-9 to"
                                     " 127.0.0.1 or a controlled backup IP), or set allow_masked=true to write slot 10"
                                     " anyway." % (FROM_PROFILE[family], admin),
                                details={"admin": admin, "slot": slot, "profile": profiles[family]})
        warnings.append("%s (allow_masked=true)." % text)
    masking = [] if family in profiles else masking_slots(effective, family)
    if masking:
        text = "%s of administrator %s allows every address (%s), so %s is masked and a grant would not restrict who" \
               " can log in" % (", ".join(masking), admin, shown(effective[masking[0]]), slot)
        if not allow_masked:
            raise KnocknocError(202050, cause=text + "; nothing was changed",
                                hint="For administrator %s, %s; or set allow_masked=true to grant anyway." % (
                                    admin, FIX[family]),
                                details={"admin": admin, "slot": slot, "masked_by": masking})
        warnings.append("%s (allow_masked=true). Fix: %s." % (text, FIX[family]))
    elif family not in profiles:
        covering = [slot_name(family, index) for index in range(1, SLOT)
                    if admits(effective[slot_name(family, index)], address)]
        if covering:
            warnings.append("%s of %s already admit(s) %s: revoking %s will not remove that access." % (
                ", ".join(covering), admin, address, slot))
    other = 6 if family == 4 else 4
    open_other = masking_slots(effective, other)
    if open_other:
        warnings.append("%s of %s allows every IPv%d address (%s): %s can still log in from any IPv%d source. Fix: %s." % (
            ", ".join(open_other), admin, other, shown(effective[open_other[0]]), admin, other, FIX[other]))
    if not same(current, wanted):
        changes[slot] = wanted
    return managed, changes, warnings


# -- FortiManager calls ---------------------------------------------------------------------------------
def _one(data):
    if isinstance(data, list) and len(data) == 1:
        return data[0]
    return data


def read_admin(client, admin):
    """Trusted hosts 1-10 (IPv4 and IPv6) of ``admin``, in one get, and ``{family: profile name}`` for
    the families it takes from its admin profile (``th-from-profile``, ``th6-from-profile``)."""
    url = USER_URL % admin
    fields = slot_names() + [FROM_PROFILE[4], FROM_PROFILE[6], "profileid"]
    data = _one(client.call("get", url, not_found_code=202051, fields=fields))
    if not isinstance(data, dict):
        raise client.error("parse", "get %s returned no administrator object" % url, {"admin": admin})
    userid = data.get("userid")
    if userid is not None and userid != admin:
        # unconfirmed in the reference: whether FortiManager looks names up case-insensitively;
        # if it does, refuse rather than write another administrator's trusted hosts.
        raise KnocknocError(202051, cause="FortiManager returned administrator %r for %r" % (userid, admin),
                            details={"admin": admin, "userid": userid}, secrets=client.secrets)
    slots = dict((name, data[name]) for name in slot_names() if name in data)
    for family in (4, 6):
        for index in range(1, SLOT + 1):
            # unconfirmed in the reference: whether FortiManager leaves out slots at their default;
            # assume the documented defaults (F1), which for slot 1 means "allows all".
            slots.setdefault(slot_name(family, index), default_value(family, index))
    profiles = dict((family, str(data.get("profileid") or "?")) for family in (4, 6)
                    if from_profile(data.get(FROM_PROFILE[family])))
    return slots, profiles


def read_profile_slots(client, profile):
    """The trusted hosts of admin profile ``profile`` (one get; a missing slot counts at its factory value)."""
    url = PROFILE_URL % profile
    data = _one(client.call("get", url, fields=slot_names()))
    if not isinstance(data, dict):
        raise client.error("parse", "get %s returned no admin profile" % url, {"profile": profile})
    return dict((name, data[name]) for name in slot_names() if name in data)


def write_slots(client, admin, changes):
    """One update of the changed slots, then a read-back; 202050 unless FortiManager holds them."""
    url = USER_URL % admin
    try:
        client.call("update", url, data=changes, not_found_code=202051)
    except KnocknocError as err:
        if err.code in KEPT_CODES or "jsonrpc_code" not in err.details:
            raise
        raise err.recode(202050)
    data = _one(client.call("get", url, not_found_code=202051, fields=sorted(changes)))
    data = data if isinstance(data, dict) else {}
    wrong = dict((name, data.get(name)) for name, value in changes.items() if not same(data.get(name), value))
    if wrong:
        raise KnocknocError(
            202050, cause="update %s reported success but reading back gives %s" % (
                url, ", ".join("%s %s instead of %s" % (name, shown(value), shown(changes[name]))
                               for name, value in sorted(wrong.items()))),
            details={"admin": admin, "expected": changes, "read_back": wrong}, secrets=client.secrets)


def still_admitted(client, admin, address, slots, profiles, baseline=None):
    """Where ``admin`` may still log in from ``address`` outside slot 10: slots 1-9 (as the baseline
    leaves them), or every slot of the admin profile when the family's trusted hosts come from it
    (``"profile <name> trusthostN"``; one more get, only then)."""
    family = ipaddress.ip_address(address).version
    if family in profiles:
        profile = profiles[family]
        names = [slot_name(family, index) for index in range(1, SLOT + 1)]
        return ["profile %s %s" % (profile, name)
                for name in admitting(read_profile_slots(client, profile), address, names)]
    effective = dict(slots)
    effective.update(baseline or {})
    return admitting(effective, address, [slot_name(family, index) for index in range(1, SLOT)])


def not_revoked(err, admin, address):
    """``err`` (same agent code and details) saying that the revoke is not confirmed."""
    what = "%s for %s" % (address, admin) if address is not None else "trusthost10 and ipv6_trusthost10 of %s" % admin
    details = dict(err.details, revoked=False, admin=admin)
    return KnocknocError(err.code, cause="%s. The revoke of %s is not confirmed: %s; run the task again or reset"
                                         " the slot by hand" % (err.cause.rstrip("."), what, OPEN),
                         description=err.description, hint=err.hint, details=details)


def apply(client, admin, address, state, allow_masked=False, baseline=None, check_mode=False):
    """Read, plan and (unless ``check_mode`` or nothing changes) write: ``(result keys, warnings)``.

    A revoke fails closed: it returns only when a read made by this task shows that slot 10 no longer
    admits the address (the read-back after a write, else the first read); any failure on the way says
    that access may still be open. ``still_admitted`` lists where else the address is admitted."""
    try:
        return _apply(client, admin, address, state, allow_masked, baseline, check_mode)
    except KnocknocError as err:
        if state != "absent" or err.code == 202051:  # no such administrator: nobody logs in as it
            raise
        raise not_revoked(err, admin, address)


def _apply(client, admin, address, state, allow_masked, baseline, check_mode):
    slots, profiles = read_admin(client, admin)
    managed, changes, warnings = plan(slots, admin, address, state, allow_masked, baseline, profiles)
    before = dict((name, slots[name]) for name in managed)
    after = dict(before)
    after.update(changes)
    if changes and not check_mode:
        # write_slots reads the slots back and fails unless they hold the unused values written: the revoke's proof.
        write_slots(client, admin, changes)
    result = {
        "changed": bool(changes),
        "admin": admin,
        "before": before,
        "after": after,
        "diff": {"before": before, "after": after},
    }
    if address is not None:
        result["slot"] = slot_name(ipaddress.ip_address(address).version)
    if state == "absent":
        # Proved by the read-back after a write, or by the first read when nothing was to change.
        result["revoked"] = not (check_mode and bool(changes))
        if address is not None:
            others = still_admitted(client, admin, address, slots, profiles, baseline)
            result["still_admitted"] = others
            if others:
                warnings.append("%s can still log in from %s through %s: %s no longer admits it, but the revoke does"
                                " not remove that access (slots 1-9 and admin profiles are not Knocknoc's)." % (
                                    admin, address, ", ".join(others), result["slot"]))
    return result, warnings
