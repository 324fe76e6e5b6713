#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fortimanager_trusted_host
short_description: Let a FortiManager administrator log in from one address (Knocknoc trusted-host mode)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Controls who can log in to FortiManager, the way the Knocknoc orchestration agent does in Active mode with FortiManager
    (Trusted Hosts) - an authentication-layer control, not a firewall rule.
  - Grant (O(state=present)) writes O(address) into trusted-host slot 10 of administrator O(admin) - C(trusthost10) for
    IPv4, C(ipv6_trusthost10) for IPv6 - with JSON-RPC C(update) on C(/cli/global/system/admin/user/<admin>). Slot 10
    belongs to Knocknoc, so a grant replaces whatever address it held. Slots 1-9 are written only with O(baseline).
  - Revoke (O(state=absent)) resets slot 10 to FortiManager's unused value, V(["255.255.255.255", "255.255.255.255"])
    for IPv4 and V(ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128) for IPv6; it never writes an allow-all value. With
    O(address), a slot 10 that admits that address is reset - the host itself, or a network that contains it (another
    grant is left alone and reported in a warning); without O(address), both C(trusthost10) and C(ipv6_trusthost10) are
    reset whatever they hold.
  - A revoke fails closed - it succeeds only when a read made by the task shows that slot 10 no longer admits O(address)
    (the read-back after the update, or the first read when nothing was to change), and returns RV(revoked=true). If a
    request or the read-back fails, the task fails with the agent error code and says that access may still be open.
  - A revoke also says where else the administrator may still log in from O(address) - slots 1-9 that admit it (an
    explicit host, a network around it, or allow-all), or the admin profile's trusted hosts - in RV(still_admitted) and a
    warning. Those are not Knocknoc's to change, so the task does not fail for them.
  - FortiManager 7.0.3+ administrators may take their trusted hosts from their admin profile (C(th-from-profile),
    C(th6-from-profile)); slot 10 of the administrator then does nothing. A grant then fails (agent error 202050) unless
    O(allow_masked=true), and a revoke checks the profile's trusted hosts for RV(still_admitted).
  - Before writing, the module reads the administrator once. If one of slots 1-9 of the address family allows every
    address (V(0.0.0.0 0.0.0.0) or V(::/0), FortiManager's factory default for slot 1), slot 10 would be masked and a
    grant would give a false sense of control, so a grant fails unless O(allow_masked=true).
  - With O(baseline), slots 1-9 of both address families are set to the listed networks and FortiManager's unused value,
    in the same C(update) as slot 10; the checks above are then made on slots 1-9 as the baseline sets them.
  - After a write the slots written are read back; a value other than the expected one fails with agent error 202050.
  - The API administrator behind O(token) needs the C(Super_User) profile, because only it may change other administrators.
  - API keys exist from FortiManager 7.2.2 on; FortiManager before 7.2.2 (and FortiManager Cloud) answer every API key
    with JSON-RPC -11, reported as agent error 202001.
  - O(adom) is not used - administrators are global to FortiManager.
options:
  admin:
    description:
      - Name of the FortiManager administrator whose trusted hosts are controlled; it is the Knocknoc user name.
      - Must match the FortiManager administrator name exactly - names are case-sensitive, and leading or trailing
        whitespace is refused before any call.
    type: str
    required: true
  address:
    description:
      - The single IPv4 or IPv6 address the administrator may log in from, for example V(198.51.100.7) or V(2001:db8::7).
        V(198.51.100.7/32) and V(2001:db8::7/128) are accepted too; networks are refused.
      - The address family picks the slot - C(trusthost10) for IPv4, C(ipv6_trusthost10) for IPv6.
      - Required with O(state=present) unless O(baseline) is set (then slot 10 is left as it is). With O(state=absent),
        slot 10 is reset only if it holds this address; leave it out to reset both slots 10 whatever they hold.
    type: str
  state:
    description:
      - V(present) grants (writes O(address) into slot 10), V(absent) revokes (resets slot 10 to the unused value).
    type: str
    choices: [present, absent]
    default: present
  allow_masked:
    description:
      - Grant even if one of trusted-host slots 1-9 of the address family allows every address. The grant is then made
        with a warning, but it does not restrict who can log in until slots 1-9 are set to V(127.0.0.1) or a controlled
        backup IP.
      - Only used with O(state=present); a revoke is never refused.
    type: bool
    default: false
  baseline:
    description:
      - The networks that trusted hosts 1-9 of O(admin) hold, for both address families (the seed checklist's "set Trusted
        Host 1-9 to 127.0.0.1 or a controlled backup IP").
      - IPv4 entries fill C(trusthost1), C(trusthost2)... and IPv6 entries fill C(ipv6_trusthost1)... in the order given; at
        most 9 of each family. Every other slot 1-9 of both families is set to FortiManager's unused value. Slot 10 is never
        part of the baseline.
      - Hosts or networks (V(127.0.0.1), V(192.0.2.0/28), V(::1), V(2001:db8::/64)). Refused before any call - an empty list,
        an entry that allows every address (V(0.0.0.0/0), V(::/0)), host bits set beyond the prefix, IPv4-mapped IPv6,
        unspecified, multicast or broadcast addresses. The same network given twice counts once.
      - Only slots that differ from the baseline are written, in the one C(update) of the task.
      - Without O(baseline), slots 1-9 are never written.
    type: list
    elements: str
extends_documentation_fragment:
  - knocknoc.fortinet.fortimanager
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIMANAGER
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the administrator and reports what would change; it writes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
notes:
  - This is Knocknoc's "Active mode - FortiManager (Trusted Hosts)". Set trusted hosts 1-9 of every controlled administrator
    to V(127.0.0.1) (or a controlled backup IP), for example with O(baseline), and leave slot 10 to this module.
  - A warning is also given when the other address family still allows every address (for example C(ipv6_trusthost1)
    V(::/0) on an IPv4 grant), because the administrator can then still log in from any address of that family, and when
    one of slots 1-9 already admits O(address) (revoking slot 10 then does not remove the access).
seealso:
  - name: Knocknoc Fortinet integration
    description: Active mode with FortiManager (Trusted Hosts), its checklist and its error codes.
    link: https://docs.knocknoc.io/books/admin-guide/page/fortinet
"""

EXAMPLES = r"""
- name: Let alice log in to FortiManager from her current address
  knocknoc.fortinet.fortimanager_trusted_host:
    url: https://fmg.example.com
    token: "{{ fortimanager_api_key }}"
    admin: alice
    address: 198.51.100.7

- name: Grant and revoke with the connection set once for the action group
  module_defaults:
    group/knocknoc.fortinet.fortimanager:
      url: https://fmg.example.com
      token: "{{ fortimanager_api_key }}"
      ca_path: /etc/pki/fortinet/ca.pem
      tls_server_name: FMG-VM0000000001
  block:
    - name: Grant alice's IPv6 address (ipv6_trusthost10)
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: alice
        address: 2001:db8::7

    - name: Revoke it when the Knocknoc session ends (left alone if slot 10 now holds another address)
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: alice
        address: 2001:db8::7
        state: absent

    - name: Reset trusthost10 and ipv6_trusthost10 of bob, whatever they hold
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: bob
        state: absent

    - name: Trusted hosts 1-9 of carol to the loopback addresses (slot 10 is left to Knocknoc)
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: carol
        baseline: [127.0.0.1, "::1"]

    - name: The agent's own API admin - slots 1-9 to the agent's addresses, both slots 10 unused
      knocknoc.fortinet.fortimanager_trusted_host:
        admin: knocknoc-agent
        baseline: [192.0.2.10, 2001:db8::10]
        state: absent
"""

RETURN = r"""
admin:
  description: The FortiManager administrator.
  returned: always
  type: str
  sample: alice
slot:
  description: The trusted-host slot for the family of O(address).
  returned: when O(address) is set
  type: str
  sample: trusthost10
before:
  description:
    - The slots this task manages before the task, by slot name, as FortiManager stores them (IPv4 as V([address,
      netmask]), IPv6 as V(prefix/length)).
    - One slot with O(address), C(trusthost10) and C(ipv6_trusthost10) with O(state=absent) and no O(address); with
      O(baseline), slots 1-9 of both families too.
  returned: always
  type: dict
  sample: {"trusthost10": ["255.255.255.255", "255.255.255.255"]}
after:
  description:
    - The same slots after the task (in check mode, what they would hold).
  returned: always
  type: dict
  sample: {"trusthost10": ["198.51.100.7", "255.255.255.255"]}
revoked:
  description:
    - With O(state=absent), true when a read made by this task shows that slot 10 no longer admits the address (or, without
      O(address), that both slots 10 are unused). False only in check mode when a change is due. A revoke that cannot be
      shown fails instead.
  returned: with O(state=absent)
  type: bool
  sample: true
still_admitted:
  description:
    - With O(state=absent) and O(address), the trusted hosts that still admit O(address) after the revoke - slots 1-9 of
      the administrator (C(trusthost1)...), or C(profile <name> trusthost<N>) when the family's trusted hosts come from the
      admin profile. Empty when only slot 10 admitted it. Each entry also gives a warning.
  returned: with O(state=absent) and O(address)
  type: list
  elements: str
  sample: ["trusthost1"]
diff:
  description: RV(before) and RV(after) as C(before) and C(after), for C(--diff).
  returned: always
  type: dict
  contains:
    before:
      description: The managed slots before the task.
      type: dict
      returned: always
    after:
      description: The managed slots after the task.
      type: dict
      returned: always
  sample:
    before: {"trusthost10": ["255.255.255.255", "255.255.255.255"]}
    after: {"trusthost10": ["198.51.100.7", "255.255.255.255"]}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    FortiManagerClient,
    fortimanager_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._trusted_host import (
    apply,
    baseline_slots,
    canonical_address,
    check_admin,
    check_options,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = fortimanager_argspec(
        admin=dict(type="str", required=True),
        address=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        allow_masked=dict(type="bool", default=False),
        baseline=dict(type="list", elements="str"),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True,
                            required_if=[("state", "present", ["address", "baseline"], True)])
    check_module(module, "fortimanager_trusted_host")
    params = module.params
    address = baseline = None
    try:
        check_admin(params["admin"])
        check_options(params["address"], params["state"], params["baseline"])
        address = canonical_address(params["address"]) if params["address"] is not None else None
        baseline = baseline_slots(params["baseline"]) if params["baseline"] is not None else None
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result, warnings = {}, []
    try:
        with FortiManagerClient.from_params(params) as client:
            result, warnings = apply(client, params["admin"], address, params["state"], params["allow_masked"],
                                     baseline, module.check_mode)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
