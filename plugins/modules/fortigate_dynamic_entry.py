#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fortigate_dynamic_entry
short_description: Push IP entries into a FortiGate external resource (Knocknoc Passive+)
version_added: "0.1.0"
author: "Knocknoc.fortinet contributors (@knocknoc)"
description:
  - Adds IP addresses and networks to, or removes them from, the in-memory entry list of a FortiGate external resource
    (threat feed) with the FortiOS push API (C(POST /api/v2/monitor/system/external-resource/dynamic), FortiOS 7.2.1 and
    later), as the Knocknoc orchestration agent does in Passive+ mode.
  - Works on one FortiGate directly, or through FortiManager (O(use_fortimanager=true)), which proxies the calls
    (C(exec /sys/proxy/json)) to the FortiGates named by O(targets).
  - The current list is read first (C(entry-list)) and only what differs is pushed; the list is read back afterwards and
    any entry that did not stick (the list is full, the FortiGate rejected it) is reported.
  - A failed push does not fail the task unless O(fail_on_push_error=true), because FortiGates also poll the Knocknoc
    allowlist and reconcile on their next poll. Each failure is a warning with the Knocknoc agent error code (for example
    C(202102) when the external resource does not exist on a FortiGate) and is listed in RV(results) and
    RV(failed_targets). Invalid input always fails, before any request.
  - The external resource itself (type C(address), update method C(push), or C(feed) polling a Knocknoc allowlist) and the
    firewall policy that uses it are not managed here; see M(knocknoc.fortinet.fortinet_external_resource).
options:
  name:
    description:
      - Name of the external resource on the FortiGates (Knocknoc's C(External Feed Name)).
      - Case-sensitive, at most 35 characters (the FortiOS limit).
    type: str
    required: true
  entries:
    description:
      - IPv4 or IPv6 addresses or networks, for example V(203.0.113.5), V(203.0.113.5/32), V(198.51.100.0/24),
        V(198.51.100.0 255.255.255.0) or V(2001:db8::7).
      - Entries are compared in canonical form, so V(203.0.113.5), V(203.0.113.5/32) and V(203.0.113.5 255.255.255.255) are
        one entry, and IPv6 addresses are compared compressed.
      - A network with bits set beyond its prefix length (V(203.0.113.5/24)), V(0.0.0.0/0), V(::/0) and anything broader
        than O(max_prefix_v4) or O(max_prefix_v6) is refused before any request.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) adds O(entries) that are missing; V(absent) removes O(entries) that are listed.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), make the list exactly O(entries) - other entries are removed, with one C(snapshot) command
        of the push API.
      - An empty O(entries) would remove everyone's access, so it is refused unless O(allow_empty=true).
      - On a resource that polls a Knocknoc allowlist (update method C(feed)), the next poll replaces the list again.
    type: bool
    default: false
  allow_empty:
    description:
      - Allow O(exclusive=true) with an empty O(entries), which empties the list on every target.
    type: bool
    default: false
  targets:
    description:
      - Only with O(use_fortimanager=true). The FortiGates to push to, each a device name, a device serial number, a device
        group name, or a full path V(adom/<adom>/device/<device>) or V(adom/<adom>/group/<group>).
      - Names, serial numbers and group names are looked up in O(adom).
      - If not set or empty, the push goes to the group V(All_FortiGate) of O(adom), that is every FortiGate of the ADOM.
    type: list
    elements: str
  fail_on_push_error:
    description:
      - Fail the task when the push fails on any target (including when the external resource does not exist there, or
        the FortiGate runs FortiOS older than 7.2.1).
      - By default such failures are warnings, as in the Knocknoc agent, because FortiGates reconcile with the allowlist on
        their next poll.
    type: bool
    default: false
  max_prefix_v4:
    description:
      - The broadest IPv4 network allowed in O(entries), as a prefix length. The default allows single hosts only.
    type: int
    default: 32
  max_prefix_v6:
    description:
      - The broadest IPv6 network allowed in O(entries), as a prefix length. The default allows single hosts only.
    type: int
    default: 128
notes:
  - The FortiGate REST API administrator needs a profile with System > Configuration read/write (access group
    C(sysgrp.cfg)); through FortiManager the API administrator needs DeviceManager > Manage Device Configurations
    read-write, or the C(Super_User) profile.
  - One request carries many entries; requests are split only when the body would exceed 1 MiB, or when the FortiGate
    answers HTTP 413. Entries beyond the FortiGate's entry limit (131072 lines per resource before FortiOS 7.4.4, 300000
    IP entries for all resources together from 7.4.4) are truncated by the FortiGate and reported as not applied.
  - Check mode reads only.
seealso:
  - name: Using the REST API to push updates to external threat feeds
    description: FortiOS 7.2.1 push API (add, remove, snapshot).
    link: https://docs.fortinet.com/document/fortigate/7.2.0/new-features/144954/using-the-rest-api-to-push-updates-to-external-threat-feeds-7-2-1
  - name: Knocknoc agent error 202100
    description: Failed to push dynamic entry to FortiGates.
    link: https://docs.knocknoc.io/books/agent-error-codes/page/202100-failed-to-push-dynamic-entry-to-fortigates
extends_documentation_fragment:
  - knocknoc.fortinet.fortinet
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTINET
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff holds the canonical, sorted entry list of each target before and after.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Grant and revoke Passive+ access on a FortiGate
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ fortigate_api_key }}"
      ca_path: /etc/pki/fortinet-ca.pem
      tls_server_name: FGVM01TM24000001
  tasks:
    - name: Let the user's addresses through the policy that uses kk_allow
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: kk_allow
        entries:
          - 198.51.100.7
          - 2001:db8::7

    - name: Revoke one address
      knocknoc.fortinet.fortigate_dynamic_entry:
        name: kk_allow
        entries:
          - 198.51.100.7
        state: absent

- name: Push through FortiManager
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Push to every FortiGate of ADOM root (group All_FortiGate)
      knocknoc.fortinet.fortigate_dynamic_entry:
        url: https://fmg.example.com
        token: "{{ fortimanager_api_key }}"
        use_fortimanager: true
        adom: root
        name: kk_allow
        entries: "{{ granted_ips }}"

    - name: Push to two FortiGates (by name and by serial number) and a device group, failing on any push error
      knocknoc.fortinet.fortigate_dynamic_entry:
        url: https://fmg.example.com
        token: "{{ fortimanager_api_key }}"
        use_fortimanager: true
        name: kk_allow
        entries:
          - 198.51.100.7
        targets:
          - fgt-branch-1
          - FGVM01TM24000002
          - adom/root/group/branches
        fail_on_push_error: true

- name: Make the list exactly the current grants (reconcile)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Replace the in-memory list with one snapshot
      knocknoc.fortinet.fortigate_dynamic_entry:
        url: https://fw.example.com
        token: "{{ fortigate_api_key }}"
        name: kk_allow
        entries: "{{ granted_ips }}"
        exclusive: true
        # an empty grant list empties the list on purpose only
        allow_empty: "{{ granted_ips | length == 0 and really_empty | default(false) }}"
"""

RETURN = r"""
added:
  description: Entries that were added (or, in check mode, would be) on at least one target, canonical and sorted.
  returned: always
  type: list
  elements: str
  sample: ["198.51.100.7", "2001:db8::7"]
removed:
  description: Entries that were removed (or, in check mode, would be) on at least one target, canonical and sorted.
  returned: always
  type: list
  elements: str
  sample: ["203.0.113.9"]
results:
  description: One item per target FortiGate (direct mode - one item, the FortiGate).
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description:
        - The FortiGate - its URL in direct mode, its device name through FortiManager.
        - When FortiManager refused the whole call, the target as given in O(targets) (or the V(All_FortiGate) path).
      type: str
      sample: fgt1
    serial:
      description: Serial number of the FortiGate, when it answered.
      type: str
      sample: FGVM01TM24000001
    changed:
      description: Whether an entry was added to or removed from this target's list.
      type: bool
      sample: true
    added:
      description: Entries added on this target (canonical, sorted).
      type: list
      elements: str
      sample: ["198.51.100.7"]
    removed:
      description: Entries removed on this target (canonical, sorted).
      type: list
      elements: str
      sample: []
    entries_before:
      description: Number of entries in force before the push, or V(null) when the list could not be read.
      type: int
      sample: 3
    entries_after:
      description: Number of entries in force after the push (predicted in check mode), or V(null) when unknown.
      type: int
      sample: 4
    error_code:
      description:
        - Knocknoc agent error code of the failure on this target, V(null) when it succeeded.
        - V(202100) push failed (also when entries did not stick, or FortiOS is older than 7.2.1), V(202101) target device
          or group not found, V(202102) external resource not found on the target, V(202000) to V(202004) connection,
          authentication, authorization, TLS and timeout failures, V(202150) unexpected response.
      type: int
      sample: 202102
    error:
      description: The failure on this target, V(null) when it succeeded. Never contains a secret.
      type: str
      sample: "(agent error #202102) External feed name not found on target FortiGates: ..."
failed_targets:
  description: The RV(results[].target) of every target where the push failed.
  returned: always
  type: list
  elements: str
  sample: ["fgt3"]
error_code:
  description: Knocknoc agent error code of the failure (the first failed target's with O(fail_on_push_error=true)).
  returned: failure
  type: int
  sample: 202102
hint:
  description: What to check to fix the failure.
  returned: failure
  type: str
  sample: "The External Feed Name must match an external resource configured on the target FortiGates exactly ..."
details:
  description: Machine-readable facts about the failure (HTTP status, JSON-RPC status, target...).
  returned: failure
  type: dict
  sample: {"http_status": 404, "target": "fgt1"}
"""

import ipaddress
import json

try:
    from urllib.parse import urlencode
except ImportError:  # pragma: no cover - Python 2 is not a target
    urlencode = None

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import version_at_least
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    DEFAULT_TARGET_GROUP,
    FortiManagerClient,
    connection_from_params,
    fortinet_argspec,
    group_target,
    resolve_fortinet_params,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import check_requirements, hide_url_credentials
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry, plan_members

NAME_MAX = 35  # reference B4: external-resource name
PUSH_API_SINCE = "7.2.1"  # reference C1
GLOBAL_LIMIT_SINCE = "7.4.4"  # reference D: from here the limit counts valid IP entries across resources
# unconfirmed in the reference: FortiOS' request body limit (D: "bounded by HTTP 413"). 1 MiB holds
# about 60,000 IPv4 or 25,000 IPv6 entries; a 413 splits the call further.
MAX_PUSH_BYTES = 1024 * 1024
CALL_OVERHEAD = 256  # bytes of envelope around the entries of one call
MONITOR = "/api/v2/monitor/system/external-resource/"
PUSH_HINT = (
    "The push is non-fatal: the FortiGates pick the change up on their next poll of the Knocknoc allowlist."
    " Check that an external resource named exactly %r (names are case-sensitive) exists on the target, and the"
    " API user's permissions: a FortiGate REST API admin needs System > Configuration read/write; a FortiManager"
    " API admin needs DeviceManager > Manage Device Configurations read-write (or Super_User).")


def _sort_key(entry):
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return (9, 0, 0, entry)
    return (network.version, int(network.network_address), network.prefixlen, entry)


def _sorted(entries):
    return sorted(entries, key=_sort_key)


def _device_entry(text):
    """Canonical form of an entry the FortiGate lists; ranges and other spellings stay as listed."""
    try:
        return canonical_entry(text, 0, 0)
    except ValueError:
        return text.strip()


def _in_force(results, version):
    """The entries of an entry-list ``results`` object that are in force (reference C2/D).

    Invalid lines never count. With ``overflow`` only the first ``accepted_count`` count: valid
    entries from FortiOS 7.4.4 (the global limit is on valid IP entries), lines before (the
    per-resource limit counts lines); the FortiGate truncates the most recently added ones.
    """
    entries = results.get("entries")
    accepted = results.get("accepted_count")
    truncate = bool(results.get("overflow")) and isinstance(accepted, int)
    by_valid = not version or version_at_least(version, GLOBAL_LIMIT_SINCE)
    out = []
    for index, item in enumerate(entries):
        if not isinstance(item, dict) or not isinstance(item.get("entry"), str):
            continue
        if truncate and not by_valid and index >= accepted:
            break
        if item.get("valid", True) is False:
            continue
        if truncate and by_valid and len(out) >= accepted:
            break
        out.append(item["entry"])
    return frozenset(_device_entry(e) for e in out)


class Target(object):
    """One FortiGate of the run: what was read, planned, pushed and read back."""

    def __init__(self, label, path=None):
        self.label = label
        self.path = path  # proxy target (FortiManager)
        self.serial = None
        self.version = None
        self.current = None
        self.plan = None
        self.after = None
        self.error = None
        self.pushed = False
        self.rejected = []  # invalidEntries of the push replies

    def fail(self, error):
        if self.error is None:  # the first failure is the cause; later ones follow from it
            self.error = error

    def load(self, envelope, name):
        """Take an entry-list envelope (reference C2) of this target."""
        if not isinstance(envelope, dict) or not isinstance(envelope.get("results"), dict) \
                or not isinstance(envelope["results"].get("entries"), list):
            raise KnocknocError(202150, cause="the entry-list reply for external resource %r has no 'results.entries'"
                                % name, details={"target": self.label})
        self.serial = envelope.get("serial") or self.serial
        version = str(envelope.get("version") or "").lstrip("vV")
        self.version = version or self.version
        return _in_force(envelope["results"], self.version)


# -- pushes: calls, batches ------------------------------------------------------------------------
def build_calls(plan, wanted, exclusive, budget=MAX_PUSH_BYTES):
    """The push calls for one plan, each a list of ``(command, entry)`` items.

    Non-exclusive: ``add`` then ``remove`` items in one call. Exclusive: one ``snapshot`` with
    every wanted entry; when it must be split, calls after the first ``add`` the rest, and the
    entries already listed go first so that the interim list drops as few of them as possible.
    Calls are cut only where the body would exceed ``budget`` bytes.
    """
    if exclusive:
        items = [("snapshot", e) for e in _sorted(wanted - plan.add) + _sorted(plan.add)]
        if not items:
            return [[]]  # an empty snapshot (allow_empty)
    else:
        items = [("add", e) for e in _sorted(plan.add)] + [("remove", e) for e in _sorted(plan.remove)]
    calls, call, size = [], [], CALL_OVERHEAD
    for verb, entry in items:
        cost = len(json.dumps(entry)) + 2
        if call and size + cost > budget:
            calls.append(call)
            call, size = [], CALL_OVERHEAD
        call.append(("add" if verb == "snapshot" and calls else verb, entry))
        size += cost
    calls.append(call)
    return calls


def split_call(call):
    """Two halves of a call the FortiGate found too large (HTTP 413), or None for one entry."""
    if len(call) < 2:
        return None
    half = len(call) // 2
    second = [("add" if verb == "snapshot" else verb, entry) for verb, entry in call[half:]]
    return call[:half], second


def commands(name, call):
    """The push API body's ``commands`` for one call: one command per verb, in order."""
    if not call:
        return [{"name": name, "command": "snapshot", "entries": []}]
    out = []
    for verb in ("snapshot", "add", "remove"):
        entries = [entry for v, entry in call if v == verb]
        if entries:
            out.append({"name": name, "command": verb, "entries": entries})
    return out


def feed_missing(name, target, cause):
    return KnocknocError(202102, cause="external resource %r %s on %s" % (name, cause, target),
                         details={"target": target, "name": name})


def command_error(name, target, results, cause):
    """The error for per-command failures of a push reply."""
    failed = [r for r in results or () if isinstance(r, dict) and r.get("status") == "error"]
    texts = "; ".join("%s: %s" % (r.get("command"), r.get("error") or "error") for r in failed) or cause
    details = {"target": target, "results": failed}
    if any("not exist" in str(r.get("error", "")).lower() or "not found" in str(r.get("error", "")).lower()
           for r in failed):
        return KnocknocError(202102, cause="%s refused the push to external resource %r: %s" % (
            target, name, texts), details=details)
    return KnocknocError(202100, cause="%s refused the push to external resource %r: %s" % (
        target, name, texts), details=details)


def as_push_error(err):
    """Errors without an agent code are push failures (202100); documented codes stay."""
    return err.recode(202100) if err.code is None else err


# -- the two ways to a FortiGate -------------------------------------------------------------------
class DirectBackend(object):
    """One FortiGate, over its REST API."""

    failure_log = "direct FortiGate dynamic entry push failed"

    def __init__(self, client, name, vdom):
        self.client = client
        self.name = name
        self.vdom = vdom

    def read(self, targets=None):
        target = targets[0] if targets else Target(self.client.base_url)
        try:
            envelope = self.client.monitor_get("system/external-resource/entry-list", params={"mkey": self.name},
                                               vdom=self.vdom, allow_status=(404,))
            if envelope is None:
                raise feed_missing(self.name, target.label, "(VDOM %s) does not exist: entry-list answered HTTP 404"
                                   % self.vdom)
            listed = target.load(envelope, self.name)
        except KnocknocError as err:
            target.fail(as_push_error(err))
            return [target]
        if targets:
            target.after = listed
        else:
            target.current = listed
        return [target]

    def send(self, call, targets):
        target = targets[0]
        try:
            results = self.client.dynamic_push(commands(self.name, call), vdom=self.vdom)
        except KnocknocError as err:
            if err.details.get("http_status") == 413:
                return {target.label: ("too_large", None)}
            if err.details.get("results"):
                error = command_error(self.name, target.label, err.details["results"], err.cause)
                return {target.label: ("error", error)}
            return {target.label: ("error", as_push_error(err))}
        return {target.label: ("ok", results)}


class ProxyBackend(object):
    """FortiGates behind FortiManager, through ``exec /sys/proxy/json`` (reference H)."""

    failure_log = "passive+ dynamic entry push failed"

    def __init__(self, client, name, vdom, adom, targets):
        self.client = client
        self.name = name
        self.vdom = vdom
        self.adom = adom
        self.requested = list(targets or [])
        # Leave FortiManager a second to report slow devices itself before our own timeout hits.
        self.proxy_timeout = max(1, int(client.timeout) - 1)
        self.single_adom = None

    def resource(self, action, **query):
        query["vdom"] = self.vdom
        return MONITOR + action + "?" + urlencode(sorted(query.items()))

    def _resolve(self):
        """User targets -> proxy paths (and errors for names FortiManager does not know)."""
        paths, unknown, devices, groups = [], [], [], set()
        bare = [t for t in self.requested if "/" not in t]
        adoms = set(t.split("/")[1] for t in self.requested if "/" in t)
        if not self.requested:
            paths.append(group_target(self.adom, DEFAULT_TARGET_GROUP))
            adoms.add(self.adom)
        if bare:
            adoms.add(self.adom)
            base = "/dvmdb/adom/%s/" % self.adom
            params = [{"url": base + "device", "fields": ["name", "sn"]}, {"url": base + "group", "fields": ["name"]}]
            result = self.client.rpc("get", params)
            for param, item in zip(params, result):
                if item["status"].get("code") != 0:
                    raise self.client.jsonrpc_error("get", param["url"], item["status"])
            devices = result[0].get("data") or []
            groups = set(g.get("name") for g in result[1].get("data") or [] if isinstance(g, dict))
        for target in self.requested:
            if "/" in target:
                paths.append(target)
                continue
            device = next((d.get("name") for d in devices if isinstance(d, dict)
                           and target in (d.get("name"), d.get("sn"))), None)
            if device:
                paths.append("adom/%s/device/%s" % (self.adom, device))
            elif target in groups:
                paths.append(group_target(self.adom, target))
            else:
                unknown.append(target)
        self.single_adom = adoms.pop() if len(adoms) == 1 else None
        return paths, unknown

    def device_path(self, device):
        # Devices reached through groups carry no ADOM in the reply; the ADOM-less form is
        # documented (H1) for when the targets span several ADOMs.
        if self.single_adom:
            return "adom/%s/device/%s" % (self.single_adom, device)
        return "device/%s" % device

    def _item_error(self, item, action):
        """The agent error of one device's proxy answer, or None when it answered 2xx."""
        label = item.get("target")
        if item["status_code"] != 0:
            code = 202000 if item["status_code"] == -20042 else 202100
            return KnocknocError(code, cause="FortiManager could not reach %s: JSON-RPC status %s %r" % (
                label, item["status_code"], item["status_message"]),
                details={"target": label, "jsonrpc_code": item["status_code"]})
        response = item.get("response")
        if not isinstance(response, dict):
            return KnocknocError(202150, cause="FortiManager returned no FortiOS reply for %s" % label,
                                 details={"target": label})
        status = int(item.get("http_status") or 200)
        if status < 400 and response.get("status") != "error":
            return None
        details = {"target": label, "http_status": status}
        if response.get("error") is not None:
            details["fortios_error"] = response.get("error")
        cause = "%s answered HTTP %d to %s through FortiManager" % (label, status, action)
        if status == 404 and action == "entry-list":
            return feed_missing(self.name, label, "(VDOM %s) does not exist: entry-list answered HTTP 404"
                                % self.vdom)
        if status == 401:
            return KnocknocError(202001, cause=cause, details=details)
        if status == 403:
            return KnocknocError(202002, cause=cause, details=details)
        if isinstance(response.get("results"), list):
            return command_error(self.name, label, response["results"], cause)
        return KnocknocError(202100, cause=cause, details=details)

    def read(self, targets=None):
        if targets is None:
            try:
                paths, unknown = self._resolve()
            except KnocknocError as err:
                out = []
                for label in self.requested or [group_target(self.adom)]:
                    out.append(Target(label))
                    out[-1].fail(as_push_error(err))
                return out
            out = []
            for name in unknown:
                target = Target(name)
                target.fail(KnocknocError(202101, cause="%r is neither a device nor a device group of ADOM %s"
                                          " (names and serial numbers are case-sensitive)" % (name, self.adom),
                                          details={"target": name, "adom": self.adom}))
                out.append(target)
            if not paths:
                return out
        else:
            paths = [t.path for t in targets]
            out = []
        try:
            items = self.client.proxy("get", self.resource("entry-list", mkey=self.name), targets=paths,
                                      timeout=self.proxy_timeout)
        except KnocknocError as err:
            if targets is not None:
                for target in targets:
                    target.fail(as_push_error(err))
                return targets
            for path in paths:
                target = Target(path)
                target.fail(as_push_error(err))
                out.append(target)
            return out
        known = dict((t.label, t) for t in targets or ())
        for item in items:
            label = item.get("target")
            if targets is not None and label not in known:
                continue
            target = known.get(label) or Target(label, self.device_path(label))
            if isinstance(item.get("response"), dict):
                target.serial = item["response"].get("serial") or target.serial
            error = self._item_error(item, "entry-list")
            if error is None:
                try:
                    listed = target.load(item["response"], self.name)
                except KnocknocError as err:
                    error = err
            if error is not None:
                target.fail(error)
            elif targets is not None:
                target.after = listed
            else:
                target.current = listed
            if targets is None:
                out.append(target)
        if targets is not None:
            answered = set(item.get("target") for item in items)
            for target in targets:
                if target.label not in answered:
                    target.fail(KnocknocError(202150, cause="FortiManager returned no answer for %s" % target.label,
                                              details={"target": target.label}))
            return targets
        return out

    def send(self, call, targets):
        try:
            items = self.client.proxy("post", self.resource("dynamic"), payload={"commands": commands(self.name, call)},
                                      targets=[t.path for t in targets], timeout=self.proxy_timeout,
                                      idempotent=True)  # add/remove/snapshot converge when repeated
        except KnocknocError as err:
            if err.details.get("http_status") == 413:
                return dict((t.label, ("too_large", None)) for t in targets)
            return dict((t.label, ("error", as_push_error(err))) for t in targets)
        outcomes = {}
        for item in items:
            if item.get("http_status") == 413:
                outcomes[item.get("target")] = ("too_large", None)
                continue
            error = self._item_error(item, "dynamic")
            if error is not None:
                outcomes[item.get("target")] = ("error", error)
                continue
            results = item["response"].get("results")
            failed = [r for r in results or () if isinstance(r, dict) and r.get("status") == "error"]
            if failed:
                outcomes[item.get("target")] = ("error", command_error(self.name, item.get("target"), results,
                                                                       "command failed"))
            else:
                outcomes[item.get("target")] = ("ok", results if isinstance(results, list) else [])
        for target in targets:
            if target.label not in outcomes:
                outcomes[target.label] = ("error", KnocknocError(
                    202150, cause="FortiManager returned no answer for %s" % target.label,
                    details={"target": target.label}))
        return outcomes


def deliver(backend, targets, call):
    """Send one call to ``targets``, halving it for the targets that answer HTTP 413."""
    for target in targets:
        target.pushed = True
    outcomes = backend.send(call, targets)
    too_large = []
    for target in targets:
        kind, value = outcomes[target.label]
        if kind == "too_large":
            too_large.append(target)
        elif kind == "error":
            target.fail(value)
        else:
            for result in value or ():
                if isinstance(result, dict) and result.get("invalidEntries"):
                    target.rejected.extend(result["invalidEntries"])
    if too_large:
        halves = split_call(call)
        if halves is None:
            for target in too_large:
                target.fail(KnocknocError(202100, cause="%s answered HTTP 413 (request entity too large) to a push"
                                          " of one entry" % target.label, details={"target": target.label}))
            return
        for half in halves:
            deliver(backend, [t for t in too_large if t.error is None], half)


def push(backend, targets, wanted, exclusive):
    """Push every target's plan: targets with the same plan share calls (one per batch)."""
    groups = {}
    for target in targets:
        key = (target.plan.add, target.plan.remove)
        groups.setdefault(key, []).append(target)
    for members in groups.values():
        for call in build_calls(members[0].plan, wanted, exclusive):
            alive = [t for t in members if t.error is None]
            if not alive:
                break
            deliver(backend, alive, call)


def check_stuck(target, wanted, state, exclusive):
    """A 202100 error for entries the read-back shows were not applied."""
    after = target.after
    if state == "present":
        missing = wanted - after
        extra = (after - wanted) if exclusive else frozenset()
    else:
        missing = frozenset()
        extra = wanted & after
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append("%d entr%s not in force after the push (%s)" % (
            len(missing), "y is" if len(missing) == 1 else "ies are", ", ".join(_sorted(missing)[:10])
            + (", ..." if len(missing) > 10 else "")))
    if extra:
        parts.append("%d entr%s still listed (%s)" % (
            len(extra), "y is" if len(extra) == 1 else "ies are", ", ".join(_sorted(extra)[:10])
            + (", ..." if len(extra) > 10 else "")))
    if target.rejected:
        parts.append("the FortiGate rejected %s" % ", ".join(str(e) for e in target.rejected[:10]))
    elif missing:
        parts.append("the list may be full (entry limit reached)")
    target.fail(KnocknocError(202100, cause="%s: %s" % (target.label, "; ".join(parts)),
                              details={"target": target.label, "not_applied": _sorted(missing)[:100],
                                       "still_listed": _sorted(extra)[:100],
                                       "rejected": [str(e) for e in target.rejected[:100]]}))


# -- input -------------------------------------------------------------------------------------------
def validate(module):
    """Everything checkable without a request; fails the module with a message naming the option."""
    p = module.params
    name = p["name"]
    if not name or not name.strip():
        module.fail_json(msg="name must not be empty")
    if len(name) > NAME_MAX:
        module.fail_json(msg="name %r is %d characters long; FortiOS external resource names hold at most %d"
                         % (name, len(name), NAME_MAX))
    if not 1 <= p["max_prefix_v4"] <= 32:
        module.fail_json(msg="max_prefix_v4 must be between 1 and 32, got %d" % p["max_prefix_v4"])
    if not 1 <= p["max_prefix_v6"] <= 128:
        module.fail_json(msg="max_prefix_v6 must be between 1 and 128, got %d" % p["max_prefix_v6"])
    wanted = set()
    for index, value in enumerate(p["entries"] or []):
        try:
            wanted.add(canonical_entry(value, p["max_prefix_v4"], p["max_prefix_v6"]))
        except ValueError as exc:
            module.fail_json(msg="entries[%d]: %s" % (index, exc))
    if p["exclusive"] and p["state"] != "present":
        module.fail_json(msg="exclusive=true only applies to state=present")
    if p["exclusive"] and not wanted and not p["allow_empty"]:
        module.fail_json(msg="entries is empty and exclusive=true would remove every entry of %r on every target;"
                         " set allow_empty=true if that is intended" % name)
    if p["targets"] and not p["use_fortimanager"]:
        module.fail_json(msg="targets only applies with use_fortimanager=true (a direct FortiGate is its own target)")
    for index, target in enumerate(p["targets"] or []):
        parts = target.split("/") if isinstance(target, str) else []
        if not target or not target.strip():
            module.fail_json(msg="targets[%d] must not be empty" % index)
        if "/" in target and not (len(parts) == 4 and parts[0] == "adom" and all(parts)
                                  and parts[2] in ("device", "group")):
            module.fail_json(msg="targets[%d] %r must be a device name, a serial number, a group name, or"
                             " adom/<adom>/device/<device> or adom/<adom>/group/<group>" % (index, target))
    return frozenset(wanted)


def main():
    module = AnsibleModule(
        argument_spec=fortinet_argspec(
            name=dict(type="str", required=True),
            entries=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            exclusive=dict(type="bool", default=False),
            allow_empty=dict(type="bool", default=False),
            targets=dict(type="list", elements="str"),
            fail_on_push_error=dict(type="bool", default=False),
            max_prefix_v4=dict(type="int", default=32),
            max_prefix_v6=dict(type="int", default=128),
        ),
        supports_check_mode=True,
    )
    check_requirements(module)
    hide_url_credentials(module)
    p = module.params
    wanted = validate(module)
    name, state, exclusive = p["name"], p["state"], p["exclusive"]
    try:
        resolved = resolve_fortinet_params(p)
        client = connection_from_params(resolved)
        if isinstance(client, FortiManagerClient):
            backend = ProxyBackend(client, name, resolved["vdom"], client.adom, p["targets"])
        else:
            backend = DirectBackend(client, name, client.vdom)
        with client:
            targets = backend.read()
            for target in targets:
                if target.error is not None:
                    continue
                if target.version and not version_at_least(target.version, PUSH_API_SINCE):
                    target.fail(KnocknocError(202100, cause="%s: FortiOS %s has no push API for external resources"
                                              " (added in %s)" % (target.label, target.version, PUSH_API_SINCE),
                                              details={"target": target.label, "version": target.version}))
                    continue
                target.plan = plan_members(target.current, wanted, state, exclusive)
            planned = [t for t in targets if t.error is None and t.plan.changed]
            if planned and not module.check_mode:
                push(backend, planned, wanted, exclusive)
                pushed = [t for t in planned if t.pushed]
                backend.read(pushed)
                for target in pushed:
                    if target.after is not None and target.error is None:
                        check_stuck(target, wanted, state, exclusive)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    report(module, targets, name)


def report(module, targets, name):
    p = module.params
    results, failed, added, removed = [], [], set(), set()
    before, after = {}, {}
    for target in sorted(targets, key=lambda t: t.label):
        if target.plan is not None and module.check_mode:
            target_added, target_removed = target.plan.add, target.plan.remove
            final = target.plan.after(target.current)
        elif target.after is not None and target.plan is not None:
            target_added = target.plan.add & target.after
            target_removed = target.plan.remove - target.after
            final = target.after
        else:
            target_added, target_removed = frozenset(), frozenset()
            final = target.current
        added |= target_added
        removed |= target_removed
        if target.current is not None:
            before[target.label] = _sorted(target.current)
            after[target.label] = _sorted(final)
        results.append({
            "target": target.label,
            "serial": target.serial,
            "changed": bool(target_added or target_removed),
            "added": _sorted(target_added),
            "removed": _sorted(target_removed),
            "entries_before": len(target.current) if target.current is not None else None,
            "entries_after": len(final) if final is not None else None,
            "error_code": target.error.code if target.error is not None else None,
            "error": str(target.error) if target.error is not None else None,
        })
        if target.error is not None:
            failed.append(target)
    outcome = {
        "changed": bool(added or removed),
        "added": _sorted(added),
        "removed": _sorted(removed),
        "results": results,
        "failed_targets": [t.label for t in failed],
    }
    if module._diff:
        outcome["diff"] = {"before": before, "after": after}
    if failed and p["fail_on_push_error"]:
        first = failed[0].error
        kwargs = first.fail_kwargs()
        if len(failed) > 1:
            kwargs["msg"] += " (%d more target(s) failed, see results)" % (len(failed) - 1)
        kwargs.update(outcome)
        module.fail_json(**kwargs)
    for target in failed:
        module.warn("%s for %s%s: %s %s" % (
            module_log(module), target.label, " (serial %s)" % target.serial if target.serial else "",
            target.error, PUSH_HINT % name))
    module.exit_json(**outcome)


def module_log(module):
    return ProxyBackend.failure_log if module.params["use_fortimanager"] else DirectBackend.failure_log


if __name__ == "__main__":
    main()
