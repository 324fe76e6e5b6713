# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight run: which checklist areas a mode needs, on a FortiGate or through FortiManager,
in checklist order. ``fortinet_preflight`` validates its options with :func:`invalid_options`
and hands the resolved params to :func:`run_preflight`."""

from __future__ import annotations

import ipaddress

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight import fmg as fmg_reads
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.api_user import (
    check_fmg_api_user,
    check_fortigate_api_user,
    probe_agent,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.feed import check_feed
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.fortimanager import (
    check_adom_object,
    check_device_targets,
    check_fmg_admins,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.knoc import check_knoc, knocknoc_client
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.policy import check_address_group, check_policy
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.proxied import ProxiedFortiGate
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.target import Target
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.verify import (
    trial_grant_active,
    trial_grant_passive_plus,
)

REACH_FIX = "Check the URL, the network path and the API key."
TEST_ITEM = "Test grant is admitted by policy-lookup"


def invalid_options(p):
    """The message for options that cannot be checked (before any request), or None."""
    if p["mode"] in ("passive", "passive_plus") and not p["resource_name"]:
        return "resource_name is required for mode=%s (the Knoc's External Feed Name)" % p["mode"]
    if p["mode"] == "active" and not p["use_fortimanager"] and not p["address_group"]:
        return "address_group is required for mode=active without use_fortimanager"
    for option in ("test_ip", "agent_address", "test_destination"):
        if p[option]:
            try:
                ipaddress.ip_address(p[option])
            except ValueError:
                return "%s must be an IP address, got %r" % (option, p[option])
    if any(not str(target).strip("/ ") for target in p["device_targets"] or []):
        return ("device_targets must not contain an empty item, got %r (leave device_targets unset for"
                " All_FortiGate)" % (p["device_targets"],))
    if p["knoc"] and not p["knocknoc_url"]:
        return "knocknoc_url (or KNOCKNOC_URL) is required with knoc"
    return None


def lookup_inputs(p):
    return {"ip": p["test_ip"], "interface": p["test_interface"], "destination": p["test_destination"],
            "port": p["test_port"], "protocol": p["test_protocol"]}


def run_mode_checks(report, p, check_mode, targets, api_user_checks, knocknoc=knocknoc_client):
    """The checklist of ``p["mode"]`` on FortiGate ``targets`` (one, or each FortiManager device target)."""
    allowlist_url = check_knoc(report, p, knocknoc) or p["allowlist_url"]
    if p["mode"] in ("passive", "passive_plus"):
        check_feed(report, targets, p["resource_name"], allowlist_url)
        policies = check_policy(report, targets, p["resource_name"], "external resource")
    else:
        check_address_group(report, targets, p["address_group"])
        policies = check_policy(report, targets, p["address_group"], "address group")
    if p["mode"] == "passive":
        report.skip("API user checks", "Passive mode needs no device API access")
    else:
        api_user_checks()
        probe_agent(report, targets, p["mode"], p["resource_name"])
    if not p["test_ip"]:
        report.skip(TEST_ITEM, "no test_ip given")
    elif check_mode:
        report.skip(TEST_ITEM, "check mode: no test grant is made")
    elif p["mode"] == "passive":
        report.skip(TEST_ITEM, "Passive mode: nothing to push (the FortiGates poll the allowlist)")
    elif not policies:
        report.skip(TEST_ITEM, "no policy uses the %s" % ("feed" if p["mode"] == "passive_plus" else "group"))
    elif p["mode"] == "passive_plus":
        trial_grant_passive_plus(report, targets, p["resource_name"], lookup_inputs(p), policies)
    else:
        trial_grant_active(report, targets[0], p["address_group"], p["address_prefix"], lookup_inputs(p), policies)


def fortigate_run(report, p, check_mode, client, agent, knocknoc=knocknoc_client):
    try:
        status = client.system_status()
    except KnocknocError as err:
        report.add("reach", "Agent can reach the FortiGate", False, str(err), err.hint or REACH_FIX)
        return
    report.add("reach", "Agent can reach the FortiGate", True,
               "FortiOS %s, serial %s" % (status.get("version"), status.get("serial")))
    target = Target(client, agent, status.get("hostname") or status.get("serial") or client.base_url, p["vdom"])
    run_mode_checks(report, p, check_mode, [target], knocknoc=knocknoc, api_user_checks=lambda: check_fortigate_api_user(
        report, target, p["mode"], p["api_user"], p["agent_address"]))


def fortimanager_run(report, p, check_mode, fmg, agent, knocknoc=knocknoc_client):
    try:
        status = fmg_reads.system_status(fmg)
    except KnocknocError as err:
        report.add("reach", "Agent can reach the FortiManager", False, str(err), err.hint or REACH_FIX)
        return
    report.add("reach", "Agent can reach the FortiManager", True, "%s, serial %s" % (
        status.get("Version"), status.get("Serial Number")))
    if p["mode"] == "active":
        check_knoc(report, p, knocknoc)
        check_fmg_api_user(report, fmg, p["mode"], p["api_user"], p["agent_address"])
        check_fmg_admins(report, fmg, p["usernames"])
        report.skip("Test grant", "FortiManager trusted-hosts mode: use the access role with a test user")
        return
    check_adom_object(report, fmg, p["adom"], p["resource_name"])
    devices = check_device_targets(report, fmg, p["adom"], p["device_targets"])
    if not devices:
        return
    targets = [Target(ProxiedFortiGate(fmg, p["adom"], device, p["target_vdom"]),
                      ProxiedFortiGate(agent, p["adom"], device, p["target_vdom"]), device, p["target_vdom"])
               for device in devices]
    run_mode_checks(report, p, check_mode, targets, knocknoc=knocknoc, api_user_checks=lambda: check_fmg_api_user(
        report, fmg, p["mode"], p["api_user"], p["agent_address"]))


def connect(p):
    """(reader, agent) clients: the read-only key's, and the agent's (the same when no agent_token)."""
    cls = FortiManagerClient if p["use_fortimanager"] else FortiGateClient
    reader = cls.from_params(p)
    return reader, (cls.from_params(dict(p, token=p["agent_token"])) if p["agent_token"] else reader)


def run_preflight(p, check_mode, clients=None, knocknoc=knocknoc_client):
    """Evaluate the checklist for resolved module params ``p``; returns the :class:`Report`.
    ``clients`` is ``(reader, agent)`` (default: built from ``p``); ``knocknoc(p)`` builds the
    Knocknoc client when a Knoc is compared."""
    report = Report()
    reader, agent = clients or connect(p)
    run = fortimanager_run if p["use_fortimanager"] else fortigate_run
    run(report, p, check_mode, reader, agent, knocknoc)
    return report
