#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortigate_object_info
short_description: Read one FortiOS configuration object (does it exist, and how is it set)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Reads one entry of a FortiOS CMDB table through the REST API v2 (C(/api/v2/cmdb/<path>/<key>)) and tells whether
    it exists, for example an external resource (C(system/external-resource)), an address group (C(firewall/addrgrp)),
    an admin profile (C(system/accprofile)) or a policy (C(firewall/policy)).
  - The read-only twin of M(knocknoc.fortinet.fortigate_object); it names the entry the same way (O(path), O(name),
    O(policyid)).
  - Secrets, the values FortiOS reads back masked (C(ENC XXXX)), show as V(<hidden>).
extends_documentation_fragment:
  - knocknoc.fortinet.fortigate
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.INFO_MODULE
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIGATE
options:
  path:
    description:
      - The CMDB table, as the CLI names it with C(config) dropped and the last space turned into C(/), for example
        V(firewall/policy), V(firewall/addrgrp), V(system/accprofile), V(system/external-resource).
    type: str
    required: true
  name:
    description:
      - The key (C(name)) of the entry. Required for tables keyed by name.
      - For policy tables (C(firewall/policy), C(firewall/policy6), C(firewall/proxy-policy),
        C(firewall/security-policy), C(firewall/local-in-policy)), the policy's C(name) field, used to find the policy
        when O(policyid) is not given; two policies with this name are an error.
    type: str
  policyid:
    description:
      - The number of the policy, for policy tables only.
    type: int
seealso:
  - module: knocknoc.fortinet.fortigate_object
"""

EXAMPLES = r"""
- name: Does the external resource exist?
  knocknoc.fortinet.fortigate_object_info:
    url: https://fw.example.com
    token: "{{ fortigate_admin_token }}"
    path: system/external-resource
    name: knocknoc_allow
  register: resource

- name: Say so
  ansible.builtin.debug:
    msg: "{{ 'polls ' ~ resource.object.resource if resource.exists else 'not configured' }}"

- name: The policy named knocknoc-access
  knocknoc.fortinet.fortigate_object_info:
    url: https://fw.example.com
    token: "{{ fortigate_admin_token }}"
    path: firewall/policy
    name: knocknoc-access
  register: policy
"""

RETURN = r"""
exists:
  description: Whether the entry exists.
  returned: success
  type: bool
  sample: true
mkey:
  description: The key of the entry (the name, or the policy number for policy tables); null when it does not exist.
  returned: success
  type: raw
  sample: knocknoc_allow
object:
  description:
    - The entry as the FortiGate has it; null when it does not exist.
    - Values FortiOS reads back masked (secrets such as C(password)) show as V(<hidden>); FortiOS' C(q_origin_key)
      bookkeeping is left out.
  returned: success
  type: dict
  sample: {"name": "knocknoc_allow", "type": "address", "resource": "https://kk.example.com/api/v1/allowlists/a/b.txt",
           "username": "apikey", "password": "<hidden>", "refresh-rate": 5, "status": "enable"}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import (
    FortiGateClient,
    fortigate_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._objects import find_fortigate_entry, fortigate_table, info_result
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = fortigate_argspec(
        path=dict(type="str", required=True),
        name=dict(type="str"),
        policyid=dict(type="int"),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "fortigate_object_info")
    p = module.params
    try:
        path, policy = fortigate_table(p["path"], p["name"], p["policyid"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = FortiGateClient.from_params(p)
        mkey, current = find_fortigate_entry(client, path, policy, p["name"], p["policyid"], p["vdom"])
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**info_result(mkey, current))


if __name__ == "__main__":
    main()
