#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortinet_preflight
short_description: Check a FortiGate or FortiManager setup against the Knocknoc checklists
version_added: "0.1.0"
author: "Knocknoc.fortinet contributors (@knocknoc)"
description:
  - Evaluates, through the APIs, every item of the Knocknoc Fortinet checklists (Passive, Passive+ and Active, on a FortiGate
    or through FortiManager) that an API can answer, and returns a table of passed and failed items with the fix for each.
  - "Checked, depending on O(mode) and O(use_fortimanager): the device answers; the external resource (feed) name matches on
    every target FortiGate, case-sensitively; the feed points to the allowlist URL without credentials in the URL, and polls
    it successfully; a firewall policy references the feed (or the address group) and is enabled; the agent's API user is
    restricted by trusted hosts to the agent (not allow-all) and its admin profile grants what the mode needs (read from
    C(system/accprofile) or the FortiManager admin profile), with least privilege as a warning; the FortiManager device targets
    exist; the ADOM object exists; FortiManager admins named in O(usernames) exist with exactly that case and their trusted
    hosts 1-9 are not allow-all; the Knoc on the Knocknoc server agrees (mode, FortiManager, feed name, ADOM, address group,
    allowlist key IP restrictions)."
  - With O(test_ip), a test grant is made with the agent's key (a dynamic entry push in Passive+, an address object in the
    address group in Active on a FortiGate), C(firewall/policy-lookup) must then show the test IP admitted by an accepting
    policy that uses the feed or group, and the test grant is revoked again. An IP that was already granted is left in place.
  - The module never fails because a check failed; it reports. It fails only for invalid options. Checks that need an input
    that was not given are listed in RV(skipped).
options:
  mode:
    description:
      - The Knocknoc mode to check for. V(active) with O(use_fortimanager=true) is the FortiManager trusted-hosts mode.
    type: str
    required: true
    choices: [passive, passive_plus, active]
  resource_name:
    description:
      - Name of the external resource (threat feed) on the FortiGates, the Knoc's External Feed Name (case-sensitive).
      - Required for O(mode=passive) and O(mode=passive_plus).
    type: str
  allowlist_url:
    description:
      - The Knoc's allowlist URL. The feed must point to it. Taken from the Knoc when O(knoc) is given.
    type: str
  address_group:
    description:
      - The address group of Active mode on a FortiGate. Required for O(mode=active) without O(use_fortimanager).
    type: str
  address_prefix:
    description:
      - Prefix of the address objects of Active mode (the Knoc's Prefix); used for the test grant's address object.
    type: str
    default: kk_
  device_targets:
    description:
      - FortiManager device targets of the push (device names, serial numbers, or C(adom/<adom>/device/<name>) and
        C(adom/<adom>/group/<group>) paths).
      - Default is every FortiGate of the ADOM (C(All_FortiGate)), as Knocknoc does.
    type: list
    elements: str
    default: []
  target_vdom:
    description:
      - The VDOM of the target FortiGates when going through FortiManager.
    type: str
    default: root
  api_user:
    description:
      - Name of the agent's API user (FortiGate REST API administrator or FortiManager API administrator), whose trusted hosts
        and admin profile are checked. Reading them needs a key that can read the administrators (for example a read-only
        administrator's).
    type: str
  agent_address:
    description:
      - Address of the host the agent (or AWX) connects from. The API user's trusted hosts must contain it.
    type: str
  agent_token:
    description:
      - The API key the agent uses, when it differs from O(token) (which then only reads the configuration).
      - It is probed for what the mode needs, and the test grant is made with it.
    type: str
  usernames:
    description:
      - FortiManager trusted-hosts mode. Knocknoc usernames, which must be FortiManager administrator names exactly.
    type: list
    elements: str
    default: []
  test_ip:
    description:
      - Make a test grant for this IP address, check that C(firewall/policy-lookup) admits it, then revoke it.
      - Not done in check mode, in Passive mode (nothing to push) or in FortiManager trusted-hosts mode.
    type: str
  test_interface:
    description:
      - Incoming interface for the policy lookup. Default is the first incoming interface of the policy that uses the feed or
        group.
    type: str
  test_destination:
    description:
      - Destination address for the policy lookup. Default is the first address of the policy's destination (V(192.0.2.10)
        when that is C(all)).
    type: str
  test_port:
    description:
      - Destination port for the policy lookup.
    type: int
    default: 443
  test_protocol:
    description:
      - Protocol for the policy lookup.
    type: str
    default: tcp
    choices: [tcp, udp, icmp]
  knoc:
    description:
      - Name of the Knoc on the Knocknoc server to compare with the device setup (modelled management API).
    type: str
  knocknoc_url:
    description:
      - Knocknoc server URL, for O(knoc).
      - If not set, the value of the E(KNOCKNOC_URL) environment variable is used.
    type: str
  knocknoc_token:
    description:
      - Knocknoc admin API token, for O(knoc).
      - If not set, the value of the E(KNOCKNOC_TOKEN) environment variable is used.
    type: str
  knocknoc_ca_path:
    description:
      - CA file for the Knocknoc server's certificate.
      - If not set, the value of the E(KNOCKNOC_CA_PATH) environment variable is used.
    type: path
  knocknoc_tls_server_name:
    description:
      - Name in the Knocknoc server's certificate, if not the host of O(knocknoc_url).
      - If not set, the value of the E(KNOCKNOC_TLS_SERVER_NAME) environment variable is used.
    type: str
  knocknoc_validate_certs:
    description:
      - Verify the Knocknoc server's certificate.
      - If not set, the value of the E(KNOCKNOC_VALIDATE_CERTS) environment variable is used, else V(true).
    type: bool
extends_documentation_fragment:
  - knocknoc.fortinet.fortinet
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTINET
attributes:
  check_mode:
    support: full
    details:
      - In check mode no test grant is made (zero writes); every other check runs.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - The test grant is revoked before the module returns, so C(changed) is always V(false).
notes:
  - O(token) only needs to read the configuration (a read-only administrator is enough and is best); the agent's key is
    O(agent_token), or O(token) when both are the same.
  - Items that no API can answer (interfaces that reflect the traffic path, the agent's network path to the Knocknoc server)
    are not checked.
seealso:
  - name: Knocknoc Fortinet integration
    description: The checklists this module follows.
    link: https://docs.knocknoc.io/books/admin-guide/page/fortinet
"""

EXAMPLES = r"""
- name: Preflight of a Passive+ setup on a FortiGate
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ readonly_api_key }}"
      ca_path: /etc/ssl/private-ca.pem
      tls_server_name: FGVM01TM24000001
  tasks:
    - name: Check the setup and make a test grant
      knocknoc.fortinet.fortinet_preflight:
        mode: passive_plus
        resource_name: kk_allow
        api_user: kk-passiveplus
        agent_address: 192.0.2.50
        agent_token: "{{ agent_api_key }}"
        test_ip: 198.51.100.7
        test_destination: 10.0.0.10
      register: preflight

    - name: Show the table
      ansible.builtin.debug:
        var: preflight.table

- name: Preflight of FortiManager trusted hosts (Active)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the admins Knocknoc controls
      knocknoc.fortinet.fortinet_preflight:
        mode: active
        use_fortimanager: true
        url: https://fmg.example.com
        token: "{{ fmg_api_key }}"
        api_user: knocknoc-agent
        usernames: [alice, bob]
"""

RETURN = r"""
checks:
  description: Every evaluated checklist item, in checklist order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable identifier of the check.
      type: str
      sample: feed_name
    item:
      description: The checklist item.
      type: str
      sample: External resource name exactly matches the External Feed Name
    passed:
      description: Whether the item holds.
      type: bool
      sample: false
    severity:
      description: V(error) items make RV(passed) false; V(warning) items (least privilege, IPv6 allow-all) do not.
      type: str
      sample: error
    detail:
      description: What was found.
      type: str
      sample: "fgt1: no external resource named kk_allow (found KK_allow: names are case-sensitive)"
    fix:
      description: How to fix a failed item (empty when passed).
      type: str
      sample: Rename the external resource to kk_allow, or set the Knoc's External Feed Name to match it exactly.
  sample:
    - id: reach
      item: Agent can reach the FortiGate
      passed: true
      severity: error
      detail: "FortiOS 7.4.4, serial FGVM01TM24000001"
      fix: ""
passed:
  description: True when no check of severity V(error) failed.
  returned: always
  type: bool
  sample: false
failed_checks:
  description: The RV(checks) ids of failed error-severity items.
  returned: always
  type: list
  elements: str
  sample: [feed_name, policy_enabled]
warnings_checks:
  description: The RV(checks) ids of failed warning-severity items.
  returned: always
  type: list
  elements: str
  sample: [api_user_least_privilege]
skipped:
  description: Checklist items that were not evaluated, and why.
  returned: always
  type: list
  elements: dict
  sample:
    - item: Test grant is admitted by policy-lookup
      reason: no test_ip given
table:
  description: The checks as a readable table, one line per item and one per fix.
  returned: always
  type: list
  elements: str
  sample:
    - "PASS  Agent can reach the FortiGate: FortiOS 7.4.4, serial FGVM01TM24000001"
    - "FAIL  Policy is enabled: policy 1 (kk) is disabled"
    - "      fix: Enable the policy (set status enable)."
summary:
  description: One line, for example V(14 passed, 1 failed, 0 warnings).
  returned: always
  type: str
  sample: 14 passed, 1 failed, 0 warnings
"""

import ipaddress

try:
    from urllib.parse import urlencode, urlsplit, parse_qsl
except ImportError:  # pragma: no cover - Python 2 is not a target
    urlencode = urlsplit = parse_qsl = None

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    DEFAULT_TARGET_GROUP,
    FortiManagerClient,
    device_target,
    fortinet_argspec,
    resolve_fortinet_params,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import check_requirements, hide_url_credentials, resolve_tls_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient

ALLOW_ALL_V4 = ("0.0.0.0", "0.0.0.0")
UNUSED_V4 = ("255.255.255.255", "255.255.255.255")
UNUSED_V6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"
ANYWHERE = frozenset(("0.0.0.0/0", "::/0"))
# A policy-lookup destination when the policy's destination is "all" (RFC 5737 TEST-NET-1).
DEFAULT_DESTINATION = "192.0.2.10"
# Query keys that put a credential in a feed URL (the allowlist takes HTTP basic auth instead).
CREDENTIAL_KEYS = ("token", "key", "pass", "secret", "auth")
FGT_GROUPS = ("secfabgrp", "ftviewgrp", "authgrp", "sysgrp", "netgrp", "loggrp", "fwgrp", "vpngrp", "utmgrp",
              "wanoptgrp", "wifi")


class Report(object):
    """The table being built: one row per evaluated checklist item."""

    def __init__(self):
        self.checks = []
        self.skipped = []

    def add(self, cid, item, passed, detail, fix="", severity="error"):
        self.checks.append({"id": cid, "item": item, "passed": bool(passed), "severity": severity,
                            "detail": detail, "fix": "" if passed else fix})

    def skip(self, item, reason):
        self.skipped.append({"item": item, "reason": reason})

    def run(self, cid, item, fn, fix, severity="error"):
        """Evaluate ``fn() -> (passed, detail[, fix])``; an API error fails the item with its message."""
        try:
            outcome = fn()
        except KnocknocError as err:
            outcome = (False, str(err), fix)
        if outcome is None:
            return None
        passed, detail = outcome[0], outcome[1]
        self.add(cid, item, passed, detail, outcome[2] if len(outcome) > 2 else fix, severity)
        return passed

    def result(self):
        errors = [c["id"] for c in self.checks if not c["passed"] and c["severity"] == "error"]
        warnings = [c["id"] for c in self.checks if not c["passed"] and c["severity"] != "error"]
        table = []
        for check in self.checks:
            word = "PASS" if check["passed"] else ("FAIL" if check["severity"] == "error" else "WARN")
            table.append("%s  %s: %s" % (word, check["item"], check["detail"]))
            if check["fix"]:
                table.append("      fix: %s" % check["fix"])
        for skipped in self.skipped:
            table.append("SKIP  %s: %s" % (skipped["item"], skipped["reason"]))
        passed = len(self.checks) - len(errors) - len(warnings)
        summary = "%d passed, %d failed, %d warnings" % (passed, len(errors), len(warnings))
        return dict(checks=self.checks, passed=not errors, failed_checks=errors, warnings_checks=warnings,
                    skipped=self.skipped, table=table, summary=summary)


# -- reading FortiGates, directly or through the FortiManager proxy --------------------------------------
class DirectGate(object):
    """A FortiGate reached directly: ``client`` reads, ``agent`` is the agent's key (test grant)."""

    def __init__(self, client, agent, vdom):
        self.client = client
        self.agent = agent
        self.vdom = vdom
        self.label = client.base_url
        self._cache = {}

    def table(self, path):
        if path not in self._cache:
            self._cache[path] = self.client.get_table(path, vdom=self.vdom)
        return self._cache[path]

    def forget(self, path):
        self._cache.pop(path, None)

    def entry_list(self, name, agent=False):
        return (self.agent if agent else self.client).entry_list(name, vdom=self.vdom)

    def lookup(self, params):
        return self.client.policy_lookup(vdom=self.vdom, **params)

    def push(self, name, command, entries):
        self.agent.dynamic_push([{"name": name, "command": command, "entries": list(entries)}], vdom=self.vdom)


class ProxyGate(object):
    """A managed FortiGate reached through FortiManager's ``/sys/proxy/json`` (reference H)."""

    def __init__(self, fmg, agent, adom, device, vdom):
        self.fmg = fmg
        self.agent = agent
        self.target = device_target(adom, device)
        self.vdom = vdom
        self.label = device
        self._cache = {}

    def _call(self, client, action, path, query=None, payload=None, allow_404=False, raw=False):
        params = dict(query or {})
        params["vdom"] = self.vdom
        resource = "%s?%s" % (path, urlencode(sorted(params.items())))
        items = client.proxy(action, resource, payload=payload, targets=[self.target])
        item = items[0] if items else None
        if item is None or item["status_code"] != 0:
            raise KnocknocError(None, "FortiManager could not reach %s for %s %s: %s" % (
                self.label, action.upper(), path, (item or {}).get("status_message") or "no reply"),
                description="FortiManager proxy call failed", details={"target": self.target})
        response = item["response"] if isinstance(item["response"], dict) else {}
        if (item["http_status"] == 404 and allow_404) or (raw and item["http_status"] == 200):
            return None if item["http_status"] == 404 else response
        if not item["ok"]:
            code = {401: 202001, 403: 202002}.get(item["http_status"])
            cause = "FortiGate %s answered HTTP %s to %s %s (through FortiManager)" % (
                self.label, item["http_status"], action.upper(), path)
            if code:
                raise KnocknocError(code, cause=cause, details={"target": self.target})
            raise KnocknocError(None, cause, description="FortiGate rejected the request",
                                details={"target": self.target, "fortios_error": response.get("error")})
        return response

    def table(self, path):
        if path not in self._cache:
            results = self._call(self.fmg, "get", "/api/v2/cmdb/%s" % path).get("results")
            self._cache[path] = results if isinstance(results, list) else []
        return self._cache[path]

    def forget(self, path):
        self._cache.pop(path, None)

    def entry_list(self, name, agent=False):
        response = self._call(self.agent if agent else self.fmg, "get",
                              "/api/v2/monitor/system/external-resource/entry-list", {"mkey": name}, allow_404=True)
        return None if response is None else response.get("results")

    def lookup(self, params):
        query = dict((k, v) for k, v in params.items() if v is not None)
        if ":" in str(query.get("sourceip")):
            query["ipv6"] = "true"
        return self._call(self.fmg, "get", "/api/v2/monitor/firewall/policy-lookup", query).get("results")

    def push(self, name, command, entries):
        response = self._call(self.agent, "post", "/api/v2/monitor/system/external-resource/dynamic", raw=True,
                              payload={"commands": [{"name": name, "command": command, "entries": list(entries)}]})
        failed = [r for r in response.get("results") or [] if isinstance(r, dict) and r.get("status") == "error"]
        if failed:
            raise KnocknocError(202100, cause="%s rejected the push: %s" % (self.label, failed[0].get("error")))


def names_of(value):
    return [item.get("name") for item in value or [] if isinstance(item, dict)]


def find_exact(items, key, name):
    """(the item named exactly ``name``, the names that differ only in case)."""
    exact = [i for i in items if i.get(key) == name]
    other = [i.get(key) for i in items if isinstance(i.get(key), str) and i.get(key) != name
             and i.get(key).lower() == str(name).lower()]
    return (exact[0] if exact else None), other


def credentials_in_url(url):
    parts = urlsplit(url or "")
    if parts.username is not None or parts.password is not None:
        return "user:password@ in the URL"
    for key, _value in parse_qsl(parts.query, keep_blank_values=True):
        if any(word in key.lower() for word in CREDENTIAL_KEYS):
            return "query parameter %s" % key
    return None


def safe_url(url):
    """scheme://host[:port] only: allowlist URLs carry a random token in their path."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return "(no URL)"
    return "%s://%s%s/..." % (parts.scheme, parts.hostname, ":%d" % parts.port if parts.port else "")


def join(details):
    return "; ".join(details)


# -- FortiGate-side checks, one function per checklist item ------------------------------------------
def check_feed(report, gates, p, allowlist_url):
    name = p["resource_name"]
    found = {}

    def feed_name():
        bad, good = [], []
        for gate in gates:
            obj, others = find_exact(gate.table("system/external-resource"), "name", name)
            if obj is None:
                hint = " (found %s: names are case-sensitive)" % ", ".join(others) if others else ""
                bad.append("%s: no external resource named %s%s" % (gate.label, name, hint))
            else:
                found[gate.label] = obj
                good.append(gate.label)
        if bad:
            return False, join(bad)
        return True, "%s exists on %s" % (name, ", ".join(good))
    report.run("feed_name", "External resource name exactly matches the External Feed Name", feed_name,
               "Create the external resource under exactly this name on every target FortiGate (module"
               " knocknoc.fortinet.fortinet_external_resource), or make the Knoc's External Feed Name match it exactly.")
    if not found:
        return found

    def feed_type():
        bad = ["%s: type %s" % (label, obj.get("type")) for label, obj in sorted(found.items())
               if obj.get("type") != "address"]
        return (not bad, join(bad) or "an IP address list (type address)")
    report.run("feed_type", "External resource is an IP address list", feed_type,
               "Recreate the external resource with type address (a threat feed of IP addresses).")

    def feed_credentials():
        bad = []
        for label, obj in sorted(found.items()):
            if obj.get("update-method", "feed") != "feed":
                continue
            embedded = credentials_in_url(obj.get("resource"))
            if embedded:
                bad.append("%s: credentials in the resource URL (%s)" % (label, embedded))
            elif not obj.get("username") or not obj.get("password"):
                bad.append("%s: no HTTP basic username/password set" % label)
        return (not bad, join(bad) or "URL without credentials; HTTP basic username and password set")
    report.run("feed_credentials", "Credentials use the separate credentials format (not embedded in the URL)",
               feed_credentials, "Set the resource URI to the plain allowlist URL and put the allowlist API key in the"
               " external resource's HTTP basic authentication (username apikey, password the key).")

    if allowlist_url:
        def feed_url():
            feeds = dict((label, obj) for label, obj in found.items() if obj.get("update-method", "feed") == "feed")
            if not feeds:
                return None
            bad = ["%s: points to %s" % (label, safe_url(obj.get("resource"))) for label, obj in sorted(feeds.items())
                   if obj.get("resource") != allowlist_url]
            return (not bad, join(bad) or "points to the Knoc's allowlist URL")
        if report.run("feed_url", "External feed points to the allowlist URL", feed_url,
                      "Set the external resource's resource URI to the Knoc's allowlist URL.") is None:
            report.skip("External feed points to the allowlist URL", "the external resource is push-only")
    else:
        report.skip("External feed points to the allowlist URL", "no allowlist_url or knoc given")

    def feed_poll():
        bad, good = [], []
        for gate in gates:
            obj = found.get(gate.label)
            if obj is None or obj.get("update-method", "feed") != "feed":
                continue
            status = gate.entry_list(name) or {}
            if obj.get("status") == "disable":
                bad.append("%s: the external resource is disabled" % gate.label)
            elif status.get("status") == "success":
                good.append("%s: %s entries" % (gate.label, status.get("valid_count", 0)))
            else:
                bad.append("%s: last poll %s (%s)" % (gate.label, status.get("status") or "unknown",
                                                      status.get("error") or "no download yet"))
        if not bad and not good:
            return None
        return (not bad, join(bad) or join(good))
    passed = report.run("feed_poll", "FortiGate downloads the allowlist (credentials match the allowlist API key)",
                        feed_poll, "Check that the FortiGate can reach the Knocknoc server over HTTPS, that the username/"
                        "password are the allowlist API key, and that the key's IP restrictions allow the FortiGate.")
    if passed is None:
        report.skip("FortiGate downloads the allowlist", "the external resource is push-only")
    return found


def check_policy(report, gates, address, what):
    """A policy uses ``address`` (feed or group) as source, and one such policy is enabled."""
    using = {}

    def policy():
        bad = []
        for gate in gates:
            policies = [pol for pol in gate.table("firewall/policy")
                        if address in names_of(pol.get("srcaddr")) + names_of(pol.get("srcaddr6"))]
            if policies:
                using[gate.label] = policies
            else:
                bad.append("%s: no firewall policy has %s as source address" % (gate.label, address))
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


def accprofile_permission(profile, group, sub):
    value = profile.get(group, "none")
    if value == "custom":
        return (profile.get(group + "-permission") or {}).get(sub, "none")
    return value


def trusthost_problems(hosts):
    """Problems with FortiOS api-user trusthost entries (allow-all, none at all) and their networks."""
    problems, networks = [], []
    for host in hosts or []:
        if host.get("type", "ipv4-trusthost") == "ipv6-trusthost":
            net = ipaddress.ip_network(host.get("ipv6-trusthost") or "::/0", strict=False)
        else:
            text = host.get("ipv4-trusthost") or "0.0.0.0 0.0.0.0"
            net = ipaddress.ip_network("/".join(text.split()), strict=False)
        if net.prefixlen == 0:
            problems.append("trusted host %s allows every address" % net)
        networks.append(net)
    if not networks:
        problems.append("no trusted hosts (any source may use the key)")
    return problems, networks


def covers(networks, address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def check_fortigate_api_user(report, gate, p):
    item_restricted = "Device API user exists and is IP-restricted to the agent (not the end user)"
    item_perm = "API user has the permissions for %s" % ("Passive+" if p["mode"] == "passive_plus" else "Active")
    name = p["api_user"]
    if not name:
        report.skip(item_restricted, "no api_user given")
        report.skip(item_perm, "no api_user given")
        return
    state = {}

    def restricted():
        user, others = find_exact(gate.table("system/api-user"), "name", name)
        if user is None:
            hint = " (found %s: names are case-sensitive)" % ", ".join(others) if others else ""
            return False, "no REST API administrator named %s%s" % (name, hint), \
                "Create the REST API administrator (role knocknoc.fortinet.api_user) or give its exact name."
        state["user"] = user
        problems, networks = trusthost_problems(user.get("trusthost"))
        if p["agent_address"] and not covers(networks, p["agent_address"]):
            problems.append("trusted hosts do not contain the agent address %s" % p["agent_address"])
        if problems:
            return False, "%s: %s" % (name, "; ".join(problems))
        return True, "%s: trusted hosts %s" % (name, ", ".join(
            h.get("ipv4-trusthost") if h.get("type", "ipv4-trusthost") == "ipv4-trusthost" else h.get("ipv6-trusthost")
            for h in user.get("trusthost") or []))
    report.run("api_user_restricted", item_restricted, restricted,
               "Set the REST API administrator's trusted hosts to the agent's address only (never 0.0.0.0/0).")
    if "user" not in state:
        return

    def permissions():
        profile_name = state["user"].get("accprofile")
        profile, _others = find_exact(gate.table("system/accprofile"), "name", profile_name)
        if profile is None:
            return False, "admin profile %s not found" % profile_name
        state["profile"] = profile
        if p["mode"] == "passive_plus":
            level = accprofile_permission(profile, "sysgrp", "cfg")
            ok = level == "read-write"
            return ok, "profile %s: System > Configuration is %s" % (profile_name, level), \
                "Give the profile System > Configuration (Custom) Read/Write (sysgrp custom, cfg read-write)."
        levels = [accprofile_permission(profile, "fwgrp", sub) for sub in ("address",)]
        ok = all(level == "read-write" for level in levels)
        return ok, "profile %s: Firewall (address) is %s" % (profile_name, levels[0]), \
            "Give the profile Firewall Read/Write (fwgrp read-write)."
    report.run("api_user_permissions", item_perm, permissions, "Fix the admin profile.")
    if "profile" not in state:
        return

    def least_privilege():
        profile = state["profile"]
        needed = "sysgrp" if p["mode"] == "passive_plus" else "fwgrp"
        extra = [g for g in FGT_GROUPS if g != needed and profile.get(g, "none") != "none"]
        if p["mode"] == "passive_plus" and profile.get("sysgrp") != "custom":
            extra.append("sysgrp %s (only cfg is needed)" % profile.get("sysgrp"))
        elif p["mode"] == "passive_plus":
            extra.extend("sysgrp %s" % sub for sub, level in sorted((profile.get("sysgrp-permission") or {}).items())
                         if sub != "cfg" and level != "none")
        return (not extra, "profile %s also grants: %s" % (profile.get("name"), ", ".join(extra)) if extra
                else "profile %s grants only what the mode needs" % profile.get("name"))
    report.run("api_user_least_privilege", "Minimum permissions are used", least_privilege,
               "Use a custom admin profile that grants only what the mode needs, everything else None.",
               severity="warning")


def probe_agent(report, gates, p):
    """The agent's own key: accepted, and allowed to do the mode's operation."""
    def probe():
        notes = []
        for gate in gates:
            if p["mode"] == "passive_plus":
                gate.entry_list(p["resource_name"], agent=True)
                notes.append("%s: may read the external resource's entries" % gate.label)
            else:
                gate.agent.get_table("firewall/addrgrp", vdom=gate.vdom, fields=["name"])
                notes.append("%s: may read the address groups" % gate.label)
        return True, join(notes)
    report.run("agent_access", "The agent's API key is accepted and allowed for this mode", probe,
               "Check the agent's API key (regenerated?), its trusted hosts and its admin profile (202001/202002).")


def lookup_params(gate, p, policies):
    first = policies[0] if policies else {}
    srcintf = p["test_interface"] or next((n for n in names_of(first.get("srcintf")) if n != "any"), None) or "port1"
    dest = p["test_destination"]
    if not dest:
        dest = DEFAULT_DESTINATION
        for name in names_of(first.get("dstaddr")):
            if name == "all":
                break
            obj, _others = find_exact(gate.table("firewall/address"), "name", name)
            if obj and obj.get("type", "ipmask") == "ipmask":
                net = ipaddress.ip_network("/".join(obj.get("subnet", "0.0.0.0 0.0.0.0").split()), strict=False)
                dest = str(net.network_address if net.num_addresses == 1 else next(net.hosts()))
                break
    return {"srcintf": srcintf, "sourceip": p["test_ip"], "dest": dest, "protocol": p["test_protocol"],
            "destport": p["test_port"] if p["test_protocol"] != "icmp" else None}


def admitted_by(gate, p, policies, used_by):
    """(policy id that admits the test IP, lookup parameters); 0 when the implicit deny matched."""
    params = lookup_params(gate, p, policies)
    results = gate.lookup(params) or {}
    policy_id = results.get("policy_id") or 0
    if not results.get("success", True) or not policy_id:
        return 0, params
    gate.forget("firewall/policy")
    matched = [pol for pol in gate.table("firewall/policy") if pol.get("policyid") == policy_id]
    if matched and (matched[0].get("action") != "accept" or used_by not in
                    names_of(matched[0].get("srcaddr")) + names_of(matched[0].get("srcaddr6"))):
        return -policy_id, params
    return policy_id, params


def test_grant_passive_plus(report, gates, p, policies):
    item = "Test grant: the test IP is pushed, admitted by policy-lookup, and revoked"
    name, ip = p["resource_name"], p["test_ip"]

    def run():
        notes, bad = [], []
        for gate in [g for g in gates if g.label in policies]:
            before = set(e.get("entry") for e in (gate.entry_list(name, agent=True) or {}).get("entries", []))
            gate.push(name, "add", [ip])
            try:
                policy_id, params = admitted_by(gate, p, policies.get(gate.label, []), name)
            finally:
                if ip not in before:
                    gate.push(name, "remove", [ip])
            if policy_id > 0:
                notes.append("%s: %s admitted by policy %s (%s -> %s:%s)" % (
                    gate.label, ip, policy_id, params["srcintf"], params["dest"], params["destport"]))
            elif policy_id < 0:
                bad.append("%s: %s matched policy %s, which does not accept it through %s" % (
                    gate.label, ip, -policy_id, name))
            else:
                bad.append("%s: %s is not admitted (implicit deny) from %s to %s:%s" % (
                    gate.label, ip, params["srcintf"], params["dest"], params["destport"]))
            after = set(e.get("entry") for e in (gate.entry_list(name, agent=True) or {}).get("entries", []))
            if ip not in before and ip in after:
                bad.append("%s: the test entry is still present after the revoke" % gate.label)
        return (not bad, join(bad) or join(notes))
    report.run("test_grant", item, run,
               "Check the policy's interfaces, destination and service (test_interface, test_destination, test_port),"
               " and that no policy above it matches first.")


def test_grant_active(report, gate, p, policies):
    item = "Test grant: an address object for the test IP joins the group, is admitted by policy-lookup, and leaves"
    group, ip = p["address_group"], p["test_ip"]

    def run():
        agent = gate.agent
        network = ipaddress.ip_network(ip)
        v6 = network.version == 6
        table, grp_table = ("firewall/address6", "firewall/addrgrp6") if v6 else ("firewall/address", "firewall/addrgrp")
        obj_name = "%spreflight-%s" % (p["address_prefix"], network.network_address)
        members = names_of((agent.get_entry(grp_table, group, vdom=gate.vdom) or {}).get("member"))
        created = False
        if agent.get_entry(table, obj_name, vdom=gate.vdom) is None:
            body = {"name": obj_name, "comment": "knocknoc.fortinet preflight test grant"}
            body.update({"type": "ipprefix", "ip6": str(network)} if v6 else {"type": "ipmask", "subnet": str(network)})
            agent.create(table, body, vdom=gate.vdom)
            created = True
        try:
            added = agent.add_member(grp_table, group, obj_name, vdom=gate.vdom) if obj_name not in members else False
            try:
                policy_id, params = admitted_by(gate, p, policies.get(gate.label, []), group)
            finally:
                if added:
                    agent.remove_member(grp_table, group, obj_name, vdom=gate.vdom)
        finally:
            if created:
                agent.delete(table, obj_name, vdom=gate.vdom)
        if policy_id > 0:
            return True, "%s admitted by policy %s (%s -> %s:%s), then removed" % (
                ip, policy_id, params["srcintf"], params["dest"], params["destport"])
        if policy_id < 0:
            return False, "%s matched policy %s, which does not accept it through %s" % (ip, -policy_id, group)
        return False, "%s is not admitted (implicit deny) from %s to %s:%s" % (
            ip, params["srcintf"], params["dest"], params["destport"])
    report.run("test_grant", item, run,
               "Check the policy's interfaces, destination and service (test_interface, test_destination, test_port),"
               " and that no policy above it matches first.")


# -- FortiManager-side checks --------------------------------------------------------------------------
def fmg_profile_of(fmg, user):
    return fmg.call("get", "/cli/global/system/admin/profile/%s" % user.get("profileid")) or {}


def check_fmg_api_user(report, fmg, p):
    item_restricted = "FortiManager API user exists and is IP-restricted to the agent (not the end user)"
    item_perm = ("API user has the Super_User profile" if p["mode"] == "active"
                 else "API user has DeviceManager - Manage Device Configurations read-write (or Super_User)")
    if not p["api_user"]:
        report.skip(item_restricted, "no api_user given")
        report.skip(item_perm, "no api_user given")
        return
    state = {}

    def restricted():
        users = fmg.call("get", "/cli/global/system/admin/user", fields=["userid"]) or []
        user, others = find_exact(users, "userid", p["api_user"])
        if user is None:
            hint = " (found %s: names are case-sensitive)" % ", ".join(others) if others else ""
            return False, "no administrator named %s%s" % (p["api_user"], hint), \
                "Create the API administrator (role knocknoc.fortinet.api_user) or give its exact name."
        user = fmg.call("get", "/cli/global/system/admin/user/%s" % p["api_user"], not_found_code=202051) or {}
        state["user"] = user
        problems, networks = [], []
        for slot in range(1, 11):
            value = user.get("trusthost%d" % slot)
            if not isinstance(value, list) or tuple(value) == UNUSED_V4:
                continue
            if tuple(value) == ALLOW_ALL_V4:
                problems.append("trusthost%d allows every address (0.0.0.0/0.0.0.0)" % slot)
            networks.append(ipaddress.ip_network("%s/%s" % tuple(value), strict=False))
        if not networks:
            problems.append("no IPv4 trusted host set (slot 1 defaults to allow-all)")
        if p["agent_address"] and not covers(networks, p["agent_address"]):
            problems.append("trusted hosts do not contain the agent address %s" % p["agent_address"])
        if problems:
            return False, "%s: %s" % (p["api_user"], "; ".join(problems))
        return True, "%s: trusted hosts %s" % (p["api_user"], ", ".join(str(n) for n in networks))
    report.run("api_user_restricted", item_restricted, restricted,
               "Restrict the API administrator's trusted hosts to the agent's address (never 0.0.0.0/0.0.0.0).")
    if "user" not in state:
        return

    def permissions():
        user = state["user"]
        profile = fmg_profile_of(fmg, user)
        state["profile"] = profile
        superuser = profile.get("super-user-profile") == "enable" or user.get("profileid") == "Super_User"
        permit = user.get("rpc-permit")
        if permit == "from-profile":
            permit = profile.get("rpc-permit")
        if permit != "read-write":
            return False, "%s: rpc-permit is %s" % (p["api_user"], permit), \
                "Set the API administrator's rpc-permit to read-write."
        if p["mode"] == "active":
            return superuser, "%s: profile %s" % (p["api_user"], user.get("profileid")), \
                "Assign the Super_User profile: updating administrators' trusted hosts needs it."
        levels = dict((f, profile.get(f, "none")) for f in ("device-manager", "device-config"))
        ok = superuser or "read-write" in levels.values()
        return ok, "%s: profile %s (%s)" % (p["api_user"], user.get("profileid"), ", ".join(
            "%s %s" % item for item in sorted(levels.items()))), \
            "Give the profile DeviceManager - Manage Device Configurations read-write, or assign Super_User."
    report.run("api_user_permissions", item_perm, permissions, "Fix the API administrator's profile.")

    if p["mode"] == "passive_plus" and "profile" in state:
        def least_privilege():
            user = state["user"]
            superuser = state["profile"].get("super-user-profile") == "enable"
            return (not superuser, "%s: profile %s%s" % (p["api_user"], user.get("profileid"),
                                                         " is a super-user profile" if superuser else ""))
        report.run("api_user_least_privilege", "Minimum permissions are used", least_privilege,
                   "Use a custom profile with device-manager read-write and rpc-permit read-write (the Knocknoc"
                   " knocknoc-passiveplus profile) instead of Super_User.", severity="warning")


def resolve_targets(report, fmg, p):
    """Device names of the push targets; the 202101 check."""
    adom = p["adom"]
    devices = []

    def targets():
        listed = fmg.call("get", "/dvmdb/adom/%s/device" % adom, fields=["name", "sn"]) or []
        bad = []
        wanted = p["device_targets"] or ["adom/%s/group/%s" % (adom, DEFAULT_TARGET_GROUP)]
        for target in wanted:
            parts = [s for s in target.split("/") if s]
            if len(parts) == 4 and parts[0] == "adom" and parts[2] == "group":
                if parts[3] == DEFAULT_TARGET_GROUP:
                    members = [d.get("name") for d in listed]
                else:
                    group = fmg.call("get", "/dvmdb/adom/%s/group/%s" % (parts[1], parts[3]), not_found_code=202101,
                                     option=["object member"]) or {}
                    members = [m.get("name") for m in group.get("object member") or []]
                devices.extend(m for m in members if m not in devices)
                continue
            key = parts[-1]
            match = [d.get("name") for d in listed if key in (d.get("name"), d.get("sn"))]
            if match:
                devices.extend(m for m in match if m not in devices)
            else:
                bad.append("%s is not a device of ADOM %s" % (target, adom))
        if bad:
            return False, join(bad)
        if not devices:
            return False, "ADOM %s has no FortiGate to push to" % adom
        return True, "%s in ADOM %s" % (", ".join(devices), adom)
    report.run("device_targets", "(FortiManager) ADOM and Device Targets exist", targets,
               "Device targets must be device names or serial numbers of FortiGates managed in the Knoc's ADOM, or groups"
               " of it; leave them empty for All_FortiGate (agent error 202101).")
    return devices


def check_adom_object(report, fmg, p):
    def adom_object():
        items = fmg.call("get", "/pm/config/adom/%s/obj/system/external-resource" % p["adom"], fields=["name"]) or []
        obj, others = find_exact(items, "name", p["resource_name"])
        if obj is None:
            hint = " (found %s: names are case-sensitive)" % ", ".join(others) if others else ""
            return False, "no external resource %s in ADOM %s%s" % (p["resource_name"], p["adom"], hint)
        return True, "%s exists in ADOM %s" % (p["resource_name"], p["adom"])
    report.run("adom_object", "(FortiManager) External resource was created in FortiManager", adom_object,
               "Create the external resource as an ADOM object (module knocknoc.fortinet.fortinet_external_resource with"
               " use_fortimanager) and install it to the FortiGates (Install Wizard).")


def check_fmg_admins(report, fmg, p):
    item_names = "(FortiManager) Knocknoc usernames match FortiManager admin usernames exactly"
    if not p["usernames"]:
        report.skip(item_names, "no usernames given")
        return
    found = {}

    def names():
        users = fmg.call("get", "/cli/global/system/admin/user", fields=["userid"]) or []
        bad = []
        for name in p["usernames"]:
            user, others = find_exact(users, "userid", name)
            if user is None:
                hint = " (found %s: usernames are case-sensitive)" % ", ".join(others) if others else ""
                bad.append("no administrator named %r%s" % (name, hint))
            else:
                found[name] = fmg.call("get", "/cli/global/system/admin/user/%s" % name, not_found_code=202051)
        return (not bad, join(bad) or ", ".join(p["usernames"]) + " exist")
    report.run("usernames", item_names, names,
               "Rename the Knocknoc user or the FortiManager administrator so that both are exactly the same (agent error"
               " 202051).")
    if not found:
        return

    def slots_v4():
        bad = []
        for name, user in sorted(found.items()):
            open_slots = [str(s) for s in range(1, 10) if tuple(user.get("trusthost%d" % s) or UNUSED_V4) == ALLOW_ALL_V4]
            if open_slots:
                bad.append("%s: trusted host %s allow all (0.0.0.0/0.0.0.0)" % (name, ", ".join(open_slots)))
        return (not bad, join(bad) or "no allow-all entry in slots 1-9")
    report.run("trusted_hosts", "(FortiManager) Trusted Hosts 1-9 are controlled (not 0.0.0.0/0.0.0.0)", slots_v4,
               "Set trusted host 1 (and any other of 1-9 in use) to 127.0.0.1 or a controlled break-glass address;"
               " Knocknoc only writes slot 10.")

    def slots_v6():
        bad = []
        for name, user in sorted(found.items()):
            open_slots = [str(s) for s in range(1, 10) if str(user.get("ipv6_trusthost%d" % s) or UNUSED_V6).endswith("/0")]
            if open_slots:
                bad.append("%s: IPv6 trusted host %s allow all (::/0)" % (name, ", ".join(open_slots)))
        return (not bad, join(bad) or "no IPv6 allow-all entry in slots 1-9")
    report.run("trusted_hosts_ipv6", "(FortiManager) IPv6 Trusted Hosts 1-9 are controlled (not ::/0)", slots_v6,
               "Set IPv6 trusted host 1 to ::1/128 (or a controlled address) so that IPv6 logins are restricted too.",
               severity="warning")


# -- Knocknoc side ----------------------------------------------------------------------------------------
def check_knoc(report, p):
    """Compare the Knoc with the device setup; returns its allowlist URL (or None)."""
    if not p["knoc"]:
        report.skip("The Knoc has the correct settings", "no knoc given")
        return None
    params = {"url": p["knocknoc_url"], "validate_certs": p["knocknoc_validate_certs"], "ca_path": p["knocknoc_ca_path"],
              "tls_server_name": p["knocknoc_tls_server_name"], "tls_fingerprint": None, "timeout": p["timeout"],
              "retries": p["retries"]}
    params.update(resolve_tls_params(params, "KNOCKNOC"))
    state = {}

    def exists():
        client = KnocknocClient.from_params(dict(params, token=p["knocknoc_token"]))
        knocs = client.list_knocs(p["knoc"])
        knoc = next((k for k in knocs if k.get("name") == p["knoc"]), None)
        if knoc is None:
            return False, "no Knoc named %s on %s" % (p["knoc"], safe_url(p["knocknoc_url"]))
        state["knoc"] = knoc
        return True, "Knoc %s (id %s), mode %s" % (knoc.get("name"), knoc.get("id"), knoc.get("mode"))
    report.run("knoc", "The Knoc exists on the Knocknoc server", exists,
               "Create the Knoc (module knocknoc.fortinet.knocknoc_knoc) or give its exact name.")
    knoc = state.get("knoc")
    if not knoc:
        return None

    def settings():
        bad = []
        if knoc.get("mode") != p["mode"]:
            bad.append("mode is %s, not %s" % (knoc.get("mode"), p["mode"]))
        if p["mode"] != "passive" and bool(knoc.get("use_fortimanager")) != bool(p["use_fortimanager"]):
            bad.append('"I am using a FortiManager" is %s' % ("set" if knoc.get("use_fortimanager") else "not set"))
        if p["mode"] == "passive_plus" and knoc.get("external_connector_name") != p["resource_name"]:
            bad.append("External Connector Name is %r, the FortiGate resource is %r (case-sensitive)" % (
                knoc.get("external_connector_name"), p["resource_name"]))
        if p["use_fortimanager"] and p["mode"] != "passive" and (knoc.get("adom") or "root") != p["adom"]:
            bad.append("ADOM is %s, not %s" % (knoc.get("adom") or "root", p["adom"]))
        if p["mode"] == "active" and not p["use_fortimanager"] and knoc.get("address_group") != p["address_group"]:
            bad.append("address group is %r, not %r" % (knoc.get("address_group"), p["address_group"]))
        return (not bad, join(bad) or "mode, FortiManager, names and ADOM match the device setup")
    report.run("knoc_settings", 'The Knoc\'s settings match ("I am using a FortiManager", feed name, ADOM)', settings,
               "Edit the Knoc (or the devices) so that both describe the same setup.")

    if p["mode"] in ("passive", "passive_plus"):
        def restrictions():
            cidrs = set(knoc.get("allowlist_ip_restrictions") or [])
            return (not (cidrs & ANYWHERE), "allowlist key IP restrictions: %s" % ", ".join(sorted(cidrs)))
        report.run("allowlist_restricted", "Allowlist API key has IP restrictions that match the source firewalls",
                   restrictions, "Narrow the allowlist key's IP restrictions to the FortiGates' public addresses (the"
                   " firewalls connect to Knocknoc, not the FortiManager).", severity="warning")
    return knoc.get("allowlist_url")


# -- the module ---------------------------------------------------------------------------------------------
def validate(module, p):
    if p["mode"] in ("passive", "passive_plus") and not p["resource_name"]:
        module.fail_json(msg="resource_name is required for mode=%s (the Knoc's External Feed Name)" % p["mode"])
    if p["mode"] == "active" and not p["use_fortimanager"] and not p["address_group"]:
        module.fail_json(msg="address_group is required for mode=active without use_fortimanager")
    for option in ("test_ip", "agent_address", "test_destination"):
        if p[option]:
            try:
                ipaddress.ip_address(p[option])
            except ValueError:
                module.fail_json(msg="%s must be an IP address, got %r" % (option, p[option]))
    if p["knoc"] and not p["knocknoc_url"]:
        module.fail_json(msg="knocknoc_url (or KNOCKNOC_URL) is required with knoc")


def fortigate_run(report, module, p, client, agent):
    try:
        status = client.system_status()
    except KnocknocError as err:
        report.add("reach", "Agent can reach the FortiGate", False, str(err),
                   err.hint or "Check the URL, the network path and the API key.")
        return
    report.add("reach", "Agent can reach the FortiGate", True,
               "FortiOS %s, serial %s" % (status.get("version"), status.get("serial")))
    gate = DirectGate(client, agent, p["vdom"])
    gate.label = status.get("hostname") or status.get("serial") or client.base_url
    gates = [gate]
    run_mode_checks(report, module, p, gates, lambda: check_fortigate_api_user(report, gate, p))


def run_mode_checks(report, module, p, gates, api_user_checks):
    allowlist_url = check_knoc(report, p) or p["allowlist_url"]
    if p["mode"] in ("passive", "passive_plus"):
        check_feed(report, gates, p, allowlist_url)
        policies = check_policy(report, gates, p["resource_name"], "external resource")
    else:
        def group():
            bad = []
            for gate in gates:
                obj, others = find_exact(gate.table("firewall/addrgrp"), "name", p["address_group"])
                if obj is None:
                    hint = " (found %s: names are case-sensitive)" % ", ".join(others) if others else ""
                    bad.append("%s: no address group named %s%s" % (gate.label, p["address_group"], hint))
            return (not bad, join(bad) or "%s exists" % p["address_group"])
        report.run("address_group", "(FortiGate) Address group exists", group,
                   "Create the address group under exactly the Knoc's Address group name (it may be empty on FortiOS 7.2+).")
        policies = check_policy(report, gates, p["address_group"], "address group")
    if p["mode"] == "passive":
        report.skip("API user checks", "Passive mode needs no device API access")
    else:
        api_user_checks()
        probe_agent(report, gates, p)
    item = "Test grant is admitted by policy-lookup"
    if not p["test_ip"]:
        report.skip(item, "no test_ip given")
    elif module.check_mode:
        report.skip(item, "check mode: no test grant is made")
    elif p["mode"] == "passive":
        report.skip(item, "Passive mode: nothing to push (the FortiGates poll the allowlist)")
    elif not policies:
        report.skip(item, "no policy uses the %s" % ("feed" if p["mode"] == "passive_plus" else "group"))
    elif p["mode"] == "passive_plus":
        test_grant_passive_plus(report, gates, p, policies)
    else:
        test_grant_active(report, gates[0], p, policies)


def fortimanager_run(report, module, p, fmg, agent):
    try:
        status = fmg.call("get", "/sys/status") or {}
    except KnocknocError as err:
        report.add("reach", "Agent can reach the FortiManager", False, str(err),
                   err.hint or "Check the URL, the network path and the API key.")
        return
    report.add("reach", "Agent can reach the FortiManager", True, "%s, serial %s" % (
        status.get("Version"), status.get("Serial Number")))
    if p["mode"] == "active":
        check_knoc(report, p)
        check_fmg_api_user(report, fmg, p)
        check_fmg_admins(report, fmg, p)
        report.skip("Test grant", "FortiManager trusted-hosts mode: use the access role with a test user")
        return
    check_adom_object(report, fmg, p)
    devices = resolve_targets(report, fmg, p)
    if not devices:
        return
    gates = [ProxyGate(fmg, agent, p["adom"], device, p["target_vdom"]) for device in devices]
    run_mode_checks(report, module, p, gates, lambda: check_fmg_api_user(report, fmg, p))


def main():
    argument_spec = fortinet_argspec(
        mode=dict(type="str", required=True, choices=["passive", "passive_plus", "active"]),
        resource_name=dict(type="str"),
        allowlist_url=dict(type="str", no_log=True),
        address_group=dict(type="str"),
        address_prefix=dict(type="str", default="kk_"),
        device_targets=dict(type="list", elements="str", default=[]),
        target_vdom=dict(type="str", default="root"),
        api_user=dict(type="str"),
        agent_address=dict(type="str"),
        agent_token=dict(type="str", no_log=True),
        usernames=dict(type="list", elements="str", default=[]),
        test_ip=dict(type="str"),
        test_interface=dict(type="str"),
        test_destination=dict(type="str"),
        test_port=dict(type="int", default=443),
        test_protocol=dict(type="str", default="tcp", choices=["tcp", "udp", "icmp"]),
        knoc=dict(type="str"),
        knocknoc_url=dict(type="str", fallback=(env_fallback, ["KNOCKNOC_URL"])),
        knocknoc_token=dict(type="str", no_log=True, fallback=(env_fallback, ["KNOCKNOC_TOKEN"])),
        knocknoc_ca_path=dict(type="path", fallback=(env_fallback, ["KNOCKNOC_CA_PATH"])),
        knocknoc_tls_server_name=dict(type="str", fallback=(env_fallback, ["KNOCKNOC_TLS_SERVER_NAME"])),
        knocknoc_validate_certs=dict(type="bool"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_requirements(module)
    hide_url_credentials(module)
    validate(module, module.params)
    report = Report()
    try:
        p = resolve_fortinet_params(module.params)
        if p["use_fortimanager"]:
            fmg = FortiManagerClient.from_params(p)
            agent = FortiManagerClient.from_params(dict(p, token=p["agent_token"])) if p["agent_token"] else fmg
            fortimanager_run(report, module, p, fmg, agent)
        else:
            client = FortiGateClient.from_params(p)
            agent = FortiGateClient.from_params(dict(p, token=p["agent_token"])) if p["agent_token"] else client
            fortigate_run(report, module, p, client, agent)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(changed=False, **report.result())


if __name__ == "__main__":
    main()
