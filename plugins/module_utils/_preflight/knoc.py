# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist areas "Your Knoc has the correct settings" and "Your allowlist details are correct":
the Knoc on the Knocknoc server describes the same setup as the devices."""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import KNOCKNOC, resolve_prefixed
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.feed import safe_url
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import join

ANYWHERE = frozenset(("0.0.0.0/0", "::/0"))


def knocknoc_params(p):
    """The Knocknoc server's connection: the module's ``knocknoc_*`` options > its ``knocknoc`` dict >
    ``KNOCKNOC_*`` environment; timeout and retries not given for it are the device connection's (as
    before the dict existed)."""
    return resolve_prefixed(p, KNOCKNOC, "knocknoc_", fallback={"timeout": p.get("timeout"), "retries": p.get("retries")})


def knocknoc_client(p):
    """The Knocknoc admin API client for ``p["knoc"]`` (see :func:`knocknoc_params`)."""
    return KnocknocClient.from_params(knocknoc_params(p))


def knoc_mismatches(knoc, p, plan):
    """What the Knoc says differently from the device setup in ``p`` (mode, FortiManager, names,
    ADOM), as far as ``plan`` (the mode's ``_modes.ModePlan``) makes them matter."""
    bad = []
    if knoc.get("mode") != plan.mode:
        bad.append("mode is %s, not %s" % (knoc.get("mode"), plan.mode))
    if plan.device_access and bool(knoc.get("use_fortimanager")) != bool(p["use_fortimanager"]):
        bad.append('"I am using a FortiManager" is %s' % ("set" if knoc.get("use_fortimanager") else "not set"))
    if plan.push and knoc.get("external_connector_name") != p["resource_name"]:
        bad.append("External Connector Name is %r, the FortiGate resource is %r (case-sensitive)" % (
            knoc.get("external_connector_name"), p["resource_name"]))
    if plan.device_access and plan.target == "fortimanager" and (knoc.get("adom") or "root") != p["adom"]:
        bad.append("ADOM is %s, not %s" % (knoc.get("adom") or "root", p["adom"]))
    if plan.address_group and knoc.get("address_group") != p["address_group"]:
        bad.append("address group is %r, not %r" % (knoc.get("address_group"), p["address_group"]))
    return bad


def check_knoc(report, p, plan, connect=knocknoc_client):
    """Compare the Knoc named ``p["knoc"]`` with the device setup of ``plan`` (the mode's
    ``_modes.ModePlan``); returns its allowlist URL (or None). ``connect(p)`` builds the Knocknoc
    client (only when a Knoc is to be read)."""
    if not p["knoc"]:
        report.skip("The Knoc has the correct settings", "no knoc given")
        return None
    state = {}

    def exists():
        knoc = next((k for k in connect(p).list_knocs(p["knoc"]) if k.get("name") == p["knoc"]), None)
        if knoc is None:
            return False, "no Knoc named %s on %s" % (p["knoc"], safe_url(knocknoc_params(p)["url"]))
        state["knoc"] = knoc
        return True, "Knoc %s (id %s), mode %s" % (knoc.get("name"), knoc.get("id"), knoc.get("mode"))
    report.run("knoc", "The Knoc exists on the Knocknoc server", exists,
               "Create the Knoc (module knocknoc.fortinet.knocknoc_knoc) or give its exact name.")
    knoc = state.get("knoc")
    if not knoc:
        return None

    def settings():
        bad = knoc_mismatches(knoc, p, plan)
        return (not bad, join(bad) or "mode, FortiManager, names and ADOM match the device setup")
    report.run("knoc_settings", 'The Knoc\'s settings match ("I am using a FortiManager", feed name, ADOM)', settings,
               "Edit the Knoc (or the devices) so that both describe the same setup.")

    if plan.external_resource:
        def restrictions():
            cidrs = set(knoc.get("allowlist_ip_restrictions") or [])
            return (not (cidrs & ANYWHERE), "allowlist key IP restrictions: %s" % ", ".join(sorted(cidrs)))
        report.run("allowlist_restricted", "Allowlist API key has IP restrictions that match the source firewalls",
                   restrictions, "Narrow the allowlist key's IP restrictions to the FortiGates' public addresses (the"
                   " firewalls connect to Knocknoc, not the FortiManager).", severity="warning")
    return knoc.get("allowlist_url")
