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
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import DirectFortiGate, ProxiedFortiGates, is_target
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import mode_plan
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
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.knoc import check_knoc, knocknoc_client, knocknoc_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.policy import check_address_group, check_policy
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.target import SingleFortiGate, Target
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.verify import (
    trial_grant_active,
    trial_grant_passive_plus,
)

REACH_FIX = "Check the URL, the network path and the API key."
TEST_ITEM = "Test grant is admitted by policy-lookup"


def invalid_options(p):
    """The message for options that cannot be checked (before any request), or None."""
    plan = mode_plan(p["mode"], p["use_fortimanager"])
    if plan.external_resource and not p["resource_name"]:
        return "resource_name is required for mode=%s (the Knoc's External Feed Name)" % p["mode"]
    if plan.address_group and not p["address_group"]:
        return "address_group is required for mode=active without use_fortimanager"
    for option in ("test_ip", "agent_address", "test_destination"):
        if p[option]:
            try:
                ipaddress.ip_address(p[option])
            except ValueError:
                return "%s must be an IP address, got %r" % (option, p[option])
    bad = [target for target in p["device_targets"] or [] if not is_target(target)]
    if bad:
        return ("device_targets items must be device names, serial numbers, device group names or"
                " adom/<adom>/device|group/<name> paths, got %s (leave device_targets unset for All_FortiGate)"
                % ", ".join(repr(target) for target in bad))
    if p["knoc"] and not knocknoc_params(p)["url"]:
        return "knocknoc.url (or knocknoc_url, or KNOCKNOC_URL) is required with knoc"
    return None


def lookup_inputs(p):
    return {"ip": p["test_ip"], "interface": p["test_interface"], "destination": p["test_destination"],
            "port": p["test_port"], "protocol": p["test_protocol"]}


def run_mode_checks(report, p, plan, check_mode, targets, knocknoc, api_user_checks):
    """The checklist of ``plan`` (the mode's ``_modes.ModePlan``) on FortiGate ``targets`` (one, or
    each FortiManager device target)."""
    allowlist_url = check_knoc(report, p, plan, knocknoc) or p["allowlist_url"]
    if plan.external_resource:
        check_feed(report, targets, p["resource_name"], allowlist_url)
        policies = check_policy(report, targets, p["resource_name"], "external resource")
    else:
        check_address_group(report, targets, p["address_group"])
        policies = check_policy(report, targets, p["address_group"], "address group")
    if not plan.device_access:
        report.skip("API user checks", "Passive mode needs no device API access")
    else:
        api_user_checks()
        probe_agent(report, targets, plan, p["resource_name"])
    if not p["test_ip"]:
        report.skip(TEST_ITEM, "no test_ip given")
    elif check_mode:
        report.skip(TEST_ITEM, "check mode: no test grant is made")
    elif not (plan.push or plan.address_group):
        report.skip(TEST_ITEM, "Passive mode: nothing to push (the FortiGates poll the allowlist)")
    elif not policies:
        report.skip(TEST_ITEM, "no policy uses the %s" % ("feed" if plan.push else "group"))
    elif plan.push:
        trial_grant_passive_plus(report, targets, p["resource_name"], lookup_inputs(p), policies)
    else:
        trial_grant_active(report, targets[0], p["address_group"], p["address_prefix"], lookup_inputs(p), policies)


class Session(object):
    """What a run talks to: ``reader`` and ``agent`` clients (FortiGate or FortiManager; the read-only
    key's and the agent's, the same object when there is no agent_token), ``knocknoc(p)`` building the
    Knocknoc client, and :meth:`fortigate`, the way to one FortiGate (tests replace it)."""

    def __init__(self, reader, agent, knocknoc=knocknoc_client):
        self.reader = reader
        self.agent = agent
        self.knocknoc = knocknoc

    @classmethod
    def from_params(cls, p):
        kind = FortiManagerClient if p["use_fortimanager"] else FortiGateClient
        reader = kind.from_params(p)
        return cls(reader, kind.from_params(dict(p, token=p["agent_token"])) if p["agent_token"] else reader)

    def fortigate(self, client, vdom, device=None):
        """One FortiGate over the shared transport: ``client`` itself, or FortiManager ``client``'s
        ``device`` (a ``_fortigates.Target``), one proxy request per read."""
        return SingleFortiGate(DirectFortiGate(client, vdom) if device is None else ProxiedFortiGates(client, [device], vdom))


def fortigate_run(report, p, plan, check_mode, session):
    reader = session.fortigate(session.reader, p["vdom"])
    try:
        status = reader.system_status()
    except KnocknocError as err:
        report.add("reach", "Agent can reach the FortiGate", False, str(err), err.hint or REACH_FIX)
        return
    report.add("reach", "Agent can reach the FortiGate", True,
               "FortiOS %s, serial %s" % (status.get("version"), status.get("serial")))
    agent = reader if session.agent is session.reader else session.fortigate(session.agent, p["vdom"])
    target = Target(reader, agent, status.get("hostname") or status.get("serial") or session.reader.base_url)
    run_mode_checks(report, p, plan, check_mode, [target], session.knocknoc, lambda: check_fortigate_api_user(
        report, target, plan, p["api_user"], p["agent_address"]))


def fortimanager_run(report, p, plan, check_mode, session):
    fmg = session.reader
    try:
        status = fmg_reads.system_status(fmg)
    except KnocknocError as err:
        report.add("reach", "Agent can reach the FortiManager", False, str(err), err.hint or REACH_FIX)
        return
    report.add("reach", "Agent can reach the FortiManager", True, "%s, serial %s" % (
        status.get("Version"), status.get("Serial Number")))
    if plan.trusted_host:
        check_knoc(report, p, plan, session.knocknoc)
        check_fmg_api_user(report, fmg, plan, p["api_user"], p["agent_address"])
        check_fmg_admins(report, fmg, p["usernames"])
        report.skip("Test grant", "FortiManager trusted-hosts mode: use the access role with a test user")
        return
    check_adom_object(report, fmg, p["adom"], p["resource_name"])
    devices = check_device_targets(report, fmg, p["adom"], p["device_targets"])
    if not devices:
        return
    targets = [Target(session.fortigate(fmg, p["target_vdom"], device),
                      session.fortigate(session.agent, p["target_vdom"], device), device.device) for device in devices]
    run_mode_checks(report, p, plan, check_mode, targets, session.knocknoc, lambda: check_fmg_api_user(
        report, fmg, plan, p["api_user"], p["agent_address"]))


def run_preflight(p, check_mode, session=None):
    """Evaluate the checklist for resolved module params ``p``; returns the :class:`Report`.
    ``session`` defaults to :meth:`Session.from_params`."""
    report = Report()
    session = session or Session.from_params(p)
    plan = mode_plan(p["mode"], p["use_fortimanager"])
    (fortimanager_run if plan.target == "fortimanager" else fortigate_run)(report, p, plan, check_mode, session)
    return report
