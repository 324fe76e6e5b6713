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
    any entry that did not stick (the list is full, the FortiGate rejected it) is reported. When a FortiGate answers
    without its list (it leaves C(entries) out when it cannot read the feed), everything wanted is pushed and the
    read-back decides.
  - A revoke (O(state=absent), and O(exclusive=true), which removes entries) fails closed. It always pushes C(remove) for
    every entry in O(entries) (with the FortiGate's own spelling of a listed entry, and the canonical one), then reads
    the list back; the revoke is proved on a target only when that read shows none of the entries (RV(revoked)). If the
    push, the read-back or the proof fails on any target, the task fails with the Knocknoc agent error code and says that
    access may still be open, unless O(revoke_failure=warn_if_polled) and the resource polls a feed (see there).
  - A failed grant (O(state=present) without O(exclusive)) does not fail the task unless O(fail_on_push_error=true),
    because FortiGates also poll the Knocknoc allowlist and pick the grant up on their next poll. Each failure is a
    warning with the Knocknoc agent error code (for example C(202102) when the external resource does not exist on a
    FortiGate) and is listed in RV(results) and RV(failed_targets). Invalid input always fails, before any request.
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
      - Grants only (O(state=present) without O(exclusive)). Fail the task when the push fails on any target (including
        when the external resource does not exist there, or the FortiGate runs FortiOS older than 7.2.1).
      - By default such failures are warnings, as in the Knocknoc agent (error 202100 is not fatal), because FortiGates
        pick the grant up on their next poll of the allowlist.
      - Revokes never follow this option; see O(revoke_failure).
    type: bool
    default: false
  revoke_failure:
    description:
      - What a revoke (O(state=absent) or O(exclusive=true)) does on a target where the push, the read-back, or the proof
        that the entries are gone fails.
      - V(fail) (the default) fails the task with the agent error code and a message that access may still be open.
      - V(warn_if_polled) reads the external resource from the FortiGate's configuration (one more request, only after a
        failure) and only warns for targets where it polls a feed (update method C(feed), enabled, with a URL), because
        the next poll replaces the list with the Knocknoc allowlist. Such a target reports RV(results[].revoked=false)
        and RV(results[].poll_interval). The task still fails for every other target, in particular for a resource
        with update method C(push), which nothing ever polls. The address stays admitted until the next poll (up to
        the resource's refresh rate), and only if Knocknoc no longer lists it.
    type: str
    choices: [fail, warn_if_polled]
    default: fail
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
  - What the module can and cannot prove. It proves with the FortiGate's entry list, as the Knocknoc agent sees it. A
    revoke is shown when no spelling of a revoked entry is listed any more. If a FortiGate keeps entries pushed into a
    resource with update method C(feed) in force without listing them (not documented either way), a grant there is
    reported as accepted but not confirmed (RV(results[].verified=false), error 202100) on every run, and a revoke still
    works, because it always pushes C(remove). Use update method C(push) for a list the module can confirm.
  - On a resource that polls a feed, a FortiGate that gets HTTP 304 (allowlist unchanged) keeps its list, pushed
    entries included; only an allowlist that changed replaces the list on the next poll.
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
    verified:
      description:
        - Whether the FortiGate's list was read after the push (or, without a push, before it), so that RV(results[].added)
          and RV(results[].removed) are what the device listed. When V(false), they are what the FortiGate's push reply
          accepted, and nothing when the reply did not say.
      type: bool
      sample: true
    revoked:
      description:
        - For a revoke (O(state=absent) or O(exclusive=true)), V(true) when a read of the list showed none of the revoked
          entries (in check mode, when the read succeeded); V(false) when that could not be shown, so access may still be
          open. V(null) for a grant.
      type: bool
      sample: true
    poll_interval:
      description:
        - With O(revoke_failure=warn_if_polled), for a failed revoke on a resource that polls a feed, its refresh rate in
          minutes (the longest time until the next poll replaces the list). V(null) otherwise.
      type: int
      sample: 5
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
revoked:
  description:
    - For a revoke (O(state=absent) or O(exclusive=true)), V(true) only when every target proved it (RV(results[].revoked)).
  returned: when O(state=absent) or O(exclusive=true)
  type: bool
  sample: true
failed_targets:
  description: The RV(results[].target) of every target where the push failed.
  returned: always
  type: list
  elements: str
  sample: ["fgt3"]
error_code:
  description: Knocknoc agent error code of the failure (the first failed target's).
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

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import fortinet_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import fortigates_from_params, is_target
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._push import (
    OPEN,
    failed_targets,
    polled_resources,
    summary,
    sync_entries,
    validate_name,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module

PUSH_HINT = (
    "The push is non-fatal: the FortiGates pick the grant up on their next poll of the Knocknoc allowlist."
    " Check that an external resource named exactly %r (names are case-sensitive) exists on the target, and the"
    " API user's permissions: a FortiGate REST API admin needs System > Configuration read/write; a FortiManager"
    " API admin needs DeviceManager > Manage Device Configurations read-write (or Super_User).")
# What the warnings start with, as the Knocknoc agent logs it for each way.
FAILURE_LOG = {False: "direct FortiGate dynamic entry push failed", True: "passive+ dynamic entry push failed"}


def validate(module):
    """Everything checkable without a request; fails the module with a message naming the option.
    Returns the canonical wanted entries."""
    p = module.params
    problem = validate_name(p["name"])
    if problem:
        module.fail_json(msg=problem)
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
                         " set allow_empty=true if that is intended" % p["name"])
    if p["targets"] and not p["use_fortimanager"]:
        module.fail_json(msg="targets only applies with use_fortimanager=true (a direct FortiGate is its own target)")
    for index, target in enumerate(p["targets"] or []):
        if not target or not target.strip():
            module.fail_json(msg="targets[%d] must not be empty" % index)
        if not is_target(target):
            module.fail_json(msg="targets[%d] %r must be a device name, a serial number, a group name, or"
                             " adom/<adom>/device/<device> or adom/<adom>/group/<group>" % (index, target))
    return frozenset(wanted)


def main():
    module = KnocknocModule(
        argument_spec=fortinet_argspec(
            name=dict(type="str", required=True),
            entries=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            exclusive=dict(type="bool", default=False),
            allow_empty=dict(type="bool", default=False),
            targets=dict(type="list", elements="str"),
            fail_on_push_error=dict(type="bool", default=False),
            revoke_failure=dict(type="str", choices=["fail", "warn_if_polled"], default="fail"),
            max_prefix_v4=dict(type="int", default=32),
            max_prefix_v6=dict(type="int", default=128),
        ),
        supports_check_mode=True,
    )
    check_module(module, "fortigate_dynamic_entry")
    p = module.params
    wanted = validate(module)
    revoke = p["state"] == "absent" or p["exclusive"]
    try:
        with fortigates_from_params(p, targets=p["targets"]) as fortigates:
            targets = sync_entries(fortigates, p["name"], wanted, p["state"], p["exclusive"], module.check_mode)
            if revoke and p["revoke_failure"] == "warn_if_polled":
                polled_resources(fortigates, failed_targets(targets), p["name"])
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    result = summary(targets, module.check_mode, diff=module._diff)
    failed = failed_targets(targets)
    fatal = [t for t in failed if t.poll_minutes is None] if revoke else failed
    if fatal and (revoke or p["fail_on_push_error"]):
        kwargs = fatal[0].error.fail_kwargs()
        if revoke:
            kwargs["msg"] += " - the revoke could not be shown on %s, %s there: %s" % (
                ", ".join(t.label for t in fatal), OPEN, ", ".join(sorted(wanted)) or "the entries not wanted")
        if len(failed) > 1:
            kwargs["msg"] += " (%d more target(s) failed, see results)" % (len(failed) - 1)
        kwargs.update(result)
        module.fail_json(**kwargs)
    for target in failed:
        if revoke:
            module.warn("%s for %s%s: %s Not revoked there: %s until the FortiGate's next poll of the feed (every %d"
                        " minute(s)) replaces the list, and only if Knocknoc no longer lists the address." % (
                            FAILURE_LOG[bool(p["use_fortimanager"])], target.label,
                            " (serial %s)" % target.serial if target.serial else "", target.error, OPEN,
                            target.poll_minutes))
        else:
            module.warn("%s for %s%s: %s %s" % (
                FAILURE_LOG[bool(p["use_fortimanager"])], target.label,
                " (serial %s)" % target.serial if target.serial else "", target.error, PUSH_HINT % p["name"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
