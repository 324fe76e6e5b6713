#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fortigate_policy_lookup_info
short_description: Ask a FortiGate which firewall policy admits traffic from an address
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Runs FortiOS' Policy Lookup (C(GET /api/v2/monitor/firewall/policy-lookup)) for a packet from O(source) to
    O(destination) and reports whether a policy admits it. This is how a playbook proves that a grant really opened the
    path, and that a revoke really closed it, rather than only that an API call succeeded.
  - A lookup that matches no policy ends at FortiOS' implicit deny (policy id V(0)); a lookup that matches a policy whose
    action is V(deny) is reported as not admitted too.
  - The API user needs Firewall > Policy read access (C(fwgrp) C(policy) V(read)).
options:
  source:
    description:
      - The source address of the packet - for Knocknoc, the user's IP address. IPv4 or IPv6.
    type: str
    required: true
  destination:
    description:
      - The destination address of the packet.
    type: str
    required: true
  source_interface:
    description:
      - The interface the packet arrives on, as FortiOS names it (for example V(port1)).
    type: str
    required: true
  protocol:
    description:
      - The IP protocol, by name (V(tcp), V(udp), V(icmp), V(icmp6), V(sctp)) or number (0-255). FortiOS is always sent
        the number (C(protocol=6)), as Fortinet's own clients do.
    type: str
    default: tcp
  destination_port:
    description:
      - The destination port, for TCP and UDP.
    type: int
    default: 443
  expect:
    description:
      - Fail unless the lookup gives this answer. V(admitted) requires an accepting policy, V(refused) requires none.
      - Leave it out to only report.
    type: str
    choices: [admitted, refused]
extends_documentation_fragment:
  - knocknoc.fortinet.fortigate
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.INFO_MODULE
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIGATE
"""

EXAMPLES = r"""
- name: The user's address is admitted once access is granted
  knocknoc.fortinet.fortigate_policy_lookup_info:
    url: https://fw.example.com
    token: "{{ fortigate_api_key }}"
    ca_path: /etc/pki/fortinet-ca.pem
    tls_server_name: FGVM01TM24000001
    source: 198.51.100.7
    source_interface: port1
    destination: 10.0.0.10
    destination_port: 443
    expect: admitted

- name: Look up with the connection set once for the play
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ fortigate_api_key }}"
  block:
    - name: Ask which policy admits the address
      knocknoc.fortinet.fortigate_policy_lookup_info:
        source: 2001:db8::7
        source_interface: port1
        destination: 2001:db8:1::10
      register: lookup

    - name: Show it
      ansible.builtin.debug:
        msg: "{{ lookup.admitted | ternary('admitted by policy ' ~ lookup.policy_id, 'refused') }}"
"""

RETURN = r"""
admitted:
  description: Whether an accepting policy matches the packet.
  returned: success
  type: bool
  sample: true
policy_id:
  description: The id of the matching policy; V(0) is FortiOS' implicit deny.
  returned: success
  type: int
  sample: 3
action:
  description: The matching policy's action, when FortiOS reports it.
  returned: when FortiOS reports it
  type: str
  sample: accept
lookup:
  description: FortiOS' reply (the C(results) object of the monitor call), as is.
  returned: success
  type: dict
  sample: {"success": true, "policy_id": 3}
"""

import ipaddress


from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import fortigate_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient, protocol_number
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def _address(module, option):
    try:
        return str(ipaddress.ip_address(module.params[option].strip()))
    except ValueError:
        module.fail_json(msg="%s must be a single IPv4 or IPv6 address, got %r" % (option, module.params[option]))


def main():
    module = KnocknocModule(
        argument_spec=fortigate_argspec(
            source=dict(type="str", required=True),
            destination=dict(type="str", required=True),
            source_interface=dict(type="str", required=True),
            protocol=dict(type="str", default="tcp"),
            destination_port=dict(type="int", default=443),
            expect=dict(type="str", choices=["admitted", "refused"]),
        ),
        supports_check_mode=True,
    )
    check_module(module, "fortigate_policy_lookup_info")
    source = _address(module, "source")
    destination = _address(module, "destination")
    if ipaddress.ip_address(source).version != ipaddress.ip_address(destination).version:
        module.fail_json(msg="source and destination must be of the same address family")
    params = module.params
    try:
        protocol_number(params["protocol"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = FortiGateClient.from_params(params)
        results = client.policy_lookup(params["source_interface"], source, destination,
                                       protocol=params["protocol"], destport=params["destination_port"]) or {}
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    policy_id = int(results.get("policy_id") or 0)
    action = results.get("policy_action") or results.get("action")
    admitted = bool(results.get("success")) and policy_id != 0 and action in (None, "accept")
    result = dict(changed=False, admitted=admitted, policy_id=policy_id, lookup=results)
    if action:
        result["action"] = action
    if params["expect"] and admitted != (params["expect"] == "admitted"):
        module.fail_json(msg="traffic from %s to %s is %s (policy id %d), expected it %s"
                         % (source, destination, "admitted" if admitted else "refused", policy_id, params["expect"]),
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
