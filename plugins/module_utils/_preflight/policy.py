# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "Your policy is correct" (and Active's "(FortiGate) Address group exists and
firewall policy references it"): on every target, a policy has the feed or group as source, and
one such policy is enabled and accepts."""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import (
    case_hint,
    find_exact,
    join,
    names_of,
)


def sources(policy):
    """The IPv4 and IPv6 source address names of a firewall policy."""
    return names_of(policy.get("srcaddr")) + names_of(policy.get("srcaddr6"))


def check_address_group(report, targets, group):
    def exists():
        bad = []
        for target in targets:
            obj, others = find_exact(target.table("firewall/addrgrp"), "name", group)
            if obj is None:
                bad.append("%s: no address group named %s%s" % (target.label, group, case_hint(others)))
        return (not bad, join(bad) or "%s exists" % group)
    report.run("address_group", "(FortiGate) Address group exists", exists,
               "Create the address group under exactly the Knoc's Address group name (it may be empty on FortiOS 7.2+).")


def check_policy(report, targets, address, what):
    """A policy uses ``address`` (feed or group) as source, and one such policy is enabled.
    Returns ``{label: [policies using it]}``."""
    using = {}

    def policy():
        bad = []
        for target in targets:
            policies = [pol for pol in target.table("firewall/policy") if address in sources(pol)]
            if policies:
                using[target.label] = policies
            else:
                bad.append("%s: no firewall policy has %s as source address" % (target.label, address))
        if bad:
            return False, join(bad)
        return True, join("%s: policy %s" % (label, ", ".join(str(pol.get("policyid")) for pol in pols))
                          for label, pols in sorted(using.items()))
    report.run("policy", "Firewall policy references the %s" % what, policy,
               "Create or edit a firewall policy with %s in Source Address (and the right incoming and outgoing"
               " interfaces)." % address)
    if not using:
        return using

    def enabled():
        bad = []
        for label, pols in sorted(using.items()):
            if not any(pol.get("status", "enable") == "enable" and pol.get("action") == "accept" for pol in pols):
                bad.append("%s: policy %s %s" % (label, ", ".join(str(pol.get("policyid")) for pol in pols),
                                                 "is disabled or does not accept"))
        return (not bad, join(bad) or "enabled, action accept")
    report.run("policy_enabled", "Policy is enabled", enabled,
               "Enable the policy (status enable, action accept); through FortiManager, install the policy package.")
    return using
