# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The "(FortiManager)" checklist items: the ADOM object and device targets (Passive+), and in
Active's trusted-hosts mode the administrators Knocknoc controls (exact usernames, trusted hosts
1-9 not allow-all)."""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import resolve_targets
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight import fmg as fmg_reads
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import case_hint, find_exact, join
from ansible_collections.knocknoc.fortinet.plugins.module_utils._trusted_host import (
    FROM_PROFILE,
    SLOT,
    from_profile,
    masking_slots,
    slot_name,
)


def check_adom_object(report, fmg, adom, name):
    def adom_object():
        obj, others = find_exact(fmg_reads.adom_external_resources(fmg, adom), "name", name)
        if obj is None:
            return False, "no external resource %s in ADOM %s%s" % (name, adom, case_hint(others))
        return True, "%s exists in ADOM %s" % (name, adom)
    report.run("adom_object", "(FortiManager) External resource was created in FortiManager", adom_object,
               "Create the external resource as an ADOM object (module knocknoc.fortinet.fortinet_external_resource with"
               " use_fortimanager) and install it to the FortiGates (Install Wizard).")


def check_device_targets(report, fmg, adom, wanted):
    """The 202101 check: ``wanted`` device targets (names, serials, group names, ``adom/<a>/device/<d>``,
    ``adom/<a>/group/<g>``; empty: ``All_FortiGate``) resolved to devices. Returns the
    ``_fortigates.Target`` of each device found; the checks go on with those even when others failed."""
    devices = []

    def targets():
        resolved = resolve_targets(fmg, wanted, adom, expand=True)
        devices.extend(t for t in resolved if t.error is None)
        bad = []
        for error in (t.error for t in resolved if t.error is not None):
            text = error.cause if error.code == 202101 else str(error)
            if text not in bad:
                bad.append(text)
        if bad:
            return False, join(bad)
        if not devices:
            return False, "ADOM %s has no FortiGate to push to" % adom
        return True, "%s in ADOM %s" % (", ".join(t.device for t in devices), adom)
    report.run("device_targets", "(FortiManager) ADOM and Device Targets exist", targets,
               "Device targets must be device names or serial numbers of FortiGates managed in the Knoc's ADOM, or groups"
               " of it; leave them empty for All_FortiGate (agent error 202101).")
    return devices


def allow_all_slots(user):
    """The numbers of the IPv4 and of the IPv6 trusted-host slots 1-9 of a FortiManager admin that
    allow every address (and so mask Knocknoc's slot 10); a slot the admin lacks has its factory value."""
    return tuple([i for i in range(1, SLOT) if slot_name(family, i) in masking] for family, masking in (
        (4, masking_slots(user, 4)), (6, masking_slots(user, 6))))


def check_fmg_admins(report, fmg, usernames):
    """Active on FortiManager: each Knocknoc username is an administrator, with controlled slots 1-9."""
    item_names = "(FortiManager) Knocknoc usernames match FortiManager admin usernames exactly"
    if not usernames:
        report.skip(item_names, "no usernames given")
        return
    found = {}

    def names():
        users = fmg_reads.admin_users(fmg)
        bad = []
        for name in usernames:
            user, others = find_exact(users, "userid", name)
            if user is None:
                bad.append("no administrator named %r%s" % (name, case_hint(others, "usernames")))
            else:
                found[name] = fmg_reads.admin_user(fmg, name)
        return (not bad, join(bad) or ", ".join(usernames) + " exist")
    report.run("usernames", item_names, names,
               "Rename the Knocknoc user or the FortiManager administrator so that both are exactly the same (agent error"
               " 202051).")
    if not found:
        return
    slots = dict((name, allow_all_slots(user)) for name, user in sorted(found.items()))

    def slots_v4():
        bad = ["%s: trusted host %s allow all (0.0.0.0/0.0.0.0)" % (name, ", ".join(str(s) for s in v4))
               for name, (v4, _v6) in sorted(slots.items()) if v4]
        return (not bad, join(bad) or "no allow-all entry in slots 1-9")
    report.run("trusted_hosts", "(FortiManager) Trusted Hosts 1-9 are controlled (not 0.0.0.0/0.0.0.0)", slots_v4,
               "Set trusted host 1 (and any other of 1-9 in use) to 127.0.0.1 or a controlled break-glass address;"
               " Knocknoc only writes slot 10.")

    def slots_v6():
        bad = ["%s: IPv6 trusted host %s allow all (::/0)" % (name, ", ".join(str(s) for s in v6))
               for name, (_v4, v6) in sorted(slots.items()) if v6]
        return (not bad, join(bad) or "no IPv6 allow-all entry in slots 1-9")
    report.run("trusted_hosts_ipv6", "(FortiManager) IPv6 Trusted Hosts 1-9 are controlled (not ::/0)", slots_v6,
               "Set IPv6 trusted host 1 to ::1/128 (or a controlled address) so that IPv6 logins are restricted too.",
               severity="warning")

    # th-from-profile / th6-from-profile (FortiManager 7.0.3+): the profile's trusted hosts apply and slot 10 of the
    # administrator does nothing; an item (warning) only where it happens, so that other reports keep their shape.
    from_profiles = ["%s: %s from admin profile %s" % (name, " and ".join(
        "IPv%d trusted hosts" % family for family in (4, 6) if from_profile(user.get(FROM_PROFILE[family]))),
        user.get("profileid")) for name, user in sorted(found.items())
        if any(from_profile(user.get(FROM_PROFILE[family])) for family in (4, 6))]
    if from_profiles:
        report.add("trusted_hosts_own", "(FortiManager) Administrators use their own trusted hosts (not the profile's)",
                   False, join(from_profiles),
                   "Disable th-from-profile (and th6-from-profile) for these administrators: with the admin profile's"
                   " trusted hosts, Knocknoc's slot 10 of the administrator does nothing.", severity="warning")
