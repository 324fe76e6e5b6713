# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "Your testing is verified": a real test grant with the agent's key (a dynamic
entry push in Passive+, an address object in the group in Active), checked with FortiOS'
policy-lookup, and revoked again. An IP that was already granted is left in place."""

from __future__ import annotations

import ipaddress

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.policy import sources
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import find_exact, join, names_of

# A policy-lookup destination when the policy's destination is "all" (RFC 5737 TEST-NET-1).
DEFAULT_DESTINATION = "192.0.2.10"
FIX = ("Check the policy's interfaces, destination and service (test_interface, test_destination, test_port),"
       " and that no policy above it matches first.")


def lookup_params(target, test, policies):
    """policy-lookup parameters for ``test`` (``ip``, ``interface``, ``destination``, ``port``,
    ``protocol``): unset ones come from the first policy that uses the feed or group."""
    first = policies[0] if policies else {}
    srcintf = test["interface"] or next((n for n in names_of(first.get("srcintf")) if n != "any"), None) or "port1"
    dest = test["destination"]
    if not dest:
        dest = DEFAULT_DESTINATION
        for name in names_of(first.get("dstaddr")):
            if name == "all":
                break
            obj, _others = find_exact(target.table("firewall/address"), "name", name)
            if obj and obj.get("type", "ipmask") == "ipmask":
                net = ipaddress.ip_network("/".join(obj.get("subnet", "0.0.0.0 0.0.0.0").split()), strict=False)
                dest = str(net.network_address if net.num_addresses == 1 else next(net.hosts()))
                break
    return {"srcintf": srcintf, "sourceip": test["ip"], "dest": dest, "protocol": test["protocol"],
            "destport": test["port"] if test["protocol"] != "icmp" else None}


def admitted_by(target, test, policies, used_by):
    """(id of the policy that admits the test IP, lookup parameters): 0 when the implicit deny
    matched, minus the id when the matching policy does not accept through ``used_by``."""
    params = lookup_params(target, test, policies)
    results = target.lookup(params) or {}
    policy_id = results.get("policy_id") or 0
    if not results.get("success", True) or not policy_id:
        return 0, params
    target.forget("firewall/policy")  # re-read: the first read may predate the grant's effects
    matched = [pol for pol in target.table("firewall/policy") if pol.get("policyid") == policy_id]
    if matched and (matched[0].get("action") != "accept" or used_by not in sources(matched[0])):
        return -policy_id, params
    return policy_id, params


def _outcome(prefix, ip, policy_id, params, through):
    if policy_id > 0:
        return True, "%s%s admitted by policy %s (%s -> %s:%s)" % (
            prefix, ip, policy_id, params["srcintf"], params["dest"], params["destport"])
    if policy_id < 0:
        return False, "%s%s matched policy %s, which does not accept it through %s" % (prefix, ip, -policy_id, through)
    return False, "%s%s is not admitted (implicit deny) from %s to %s:%s" % (
        prefix, ip, params["srcintf"], params["dest"], params["destport"])


def _entries(target, name):
    return set(e.get("entry") for e in (target.entry_list(name, agent=True) or {}).get("entries", []))


def trial_grant_passive_plus(report, targets, name, test, policies):
    """Push the test IP into ``name`` on each target with a policy, look it up, remove it again."""
    ip = test["ip"]

    def run():
        notes, bad = [], []
        for target in [t for t in targets if t.label in policies]:
            before = _entries(target, name)
            target.push(name, "add", [ip])
            try:
                policy_id, params = admitted_by(target, test, policies.get(target.label, []), name)
            finally:
                if ip not in before:
                    target.push(name, "remove", [ip])
            passed, text = _outcome("%s: " % target.label, ip, policy_id, params, name)
            (notes if passed else bad).append(text)
            if ip not in before and ip in _entries(target, name):
                bad.append("%s: the test entry is still present after the revoke" % target.label)
        return (not bad, join(bad) or join(notes))
    report.run("test_grant", "Test grant: the test IP is pushed, admitted by policy-lookup, and revoked", run, FIX)


def trial_grant_active(report, target, group, prefix, test, policies):
    """Put an address object for the test IP into ``group``, look it up, take both out again."""
    ip = test["ip"]

    def run():
        agent = target.agent
        network = ipaddress.ip_network(ip)
        v6 = network.version == 6
        table, grp_table = ("firewall/address6", "firewall/addrgrp6") if v6 else ("firewall/address", "firewall/addrgrp")
        obj_name = "%spreflight-%s" % (prefix, network.network_address)
        members = names_of((agent.get_entry(grp_table, group) or {}).get("member"))
        created = False
        if agent.get_entry(table, obj_name) is None:
            body = {"name": obj_name, "comment": "knocknoc.fortinet preflight test grant"}
            body.update({"type": "ipprefix", "ip6": str(network)} if v6 else {"type": "ipmask", "subnet": str(network)})
            agent.create(table, body)
            created = True
        try:
            added = agent.add_member(grp_table, group, obj_name) if obj_name not in members else False
            try:
                policy_id, params = admitted_by(target, test, policies.get(target.label, []), group)
            finally:
                if added:
                    agent.remove_member(grp_table, group, obj_name)
        finally:
            if created:
                agent.delete(table, obj_name)
        passed, text = _outcome("", ip, policy_id, params, group)
        return passed, text + (", then removed" if passed else "")
    report.run("test_grant", "Test grant: an address object for the test IP joins the group, is admitted by"
               " policy-lookup, and leaves", run, FIX)
