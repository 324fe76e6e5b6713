#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortimanager_object_info
short_description: Read one FortiManager object by its JSON-RPC URL (does it exist, and how is it set)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Reads one object of a FortiManager table through JSON-RPC and tells whether it exists, for example an ADOM object
    (C(/pm/config/adom/{adom}/obj/system/external-resource)), a policy of a policy package
    (C(/pm/config/adom/{adom}/pkg/<package>/firewall/policy)), an administrator (C(/cli/global/system/admin/user)) or
    an administrator profile (C(/cli/global/system/admin/profile)).
  - The read-only twin of M(knocknoc.fortinet.fortimanager_object); it names the object the same way (O(path),
    O(name), O(policyid), O(key_field)). It takes no ADOM lock.
  - Secrets, the values FortiManager reads back masked, show as V(<hidden>).
extends_documentation_fragment:
  - knocknoc.fortinet.fortimanager
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.INFO_MODULE
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIMANAGER
options:
  path:
    description:
      - The JSON-RPC URL of the table (without the object's key). V({adom}) is replaced by O(adom).
      - Examples V(/pm/config/adom/{adom}/obj/firewall/addrgrp), V(/pm/config/adom/{adom}/obj/system/external-resource),
        V(/pm/config/adom/{adom}/pkg/default/firewall/policy), V(/cli/global/system/admin/user).
    type: str
    required: true
  name:
    description:
      - The key of the object (C(name) of ADOM objects, C(userid) of administrators, C(profileid) of profiles).
      - For policy tables (C(.../pkg/<package>/firewall/policy)), the policy's C(name) field, used to find the policy
        when O(policyid) is not given; two policies with this name are an error.
    type: str
  policyid:
    description:
      - The number of the policy, for policy tables only.
    type: int
  key_field:
    description:
      - The name of the key field. By default V(userid) for C(/cli/global/system/admin/user), V(profileid) for
        C(/cli/global/system/admin/profile), V(policyid) for policy tables and V(name) otherwise.
    type: str
seealso:
  - module: knocknoc.fortinet.fortimanager_object
"""

EXAMPLES = r"""
- name: Does the external resource exist in the ADOM?
  knocknoc.fortinet.fortimanager_object_info:
    url: https://fmg.example.com
    token: "{{ fortimanager_admin_token }}"
    adom: root
    path: /pm/config/adom/{adom}/obj/system/external-resource
    name: knocknoc_allow
  register: resource

- name: The trusted hosts of an administrator
  knocknoc.fortinet.fortimanager_object_info:
    url: https://fmg.example.com
    token: "{{ fortimanager_admin_token }}"
    path: /cli/global/system/admin/user
    name: alice
  register: alice

- name: Show slot 10
  ansible.builtin.debug:
    msg: "{{ alice.object.trusthost10 if alice.exists else 'no such administrator' }}"
"""

RETURN = r"""
exists:
  description: Whether the object exists.
  returned: success
  type: bool
  sample: true
mkey:
  description: The key of the object (its name, or the policy number for policy tables); null when it does not exist.
  returned: success
  type: raw
  sample: knocknoc_allow
object:
  description:
    - The object as FortiManager has it; null when it does not exist.
    - Values FortiManager reads back masked (secrets such as C(password)) show as V(<hidden>).
  returned: success
  type: dict
  sample: {"name": "knocknoc_allow", "type": "address", "update-method": "feed", "password": "<hidden>"}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import FORTIMANAGER, resolve_option
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    FortiManagerClient,
    fortimanager_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._objects import (
    find_fortimanager_object,
    fortimanager_table,
    info_result,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = fortimanager_argspec(
        path=dict(type="str", required=True),
        name=dict(type="str"),
        policyid=dict(type="int"),
        key_field=dict(type="str", no_log=False),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "fortimanager_object_info")
    p = module.params
    try:
        path, _key, policy = fortimanager_table(p["path"], resolve_option(p, "adom", FORTIMANAGER), p["name"],
                                                p["policyid"], p["key_field"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = FortiManagerClient.from_params(p)
        mkey, current = find_fortimanager_object(client, path, policy, p["name"], p["policyid"])
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**info_result(mkey, current))


if __name__ == "__main__":
    main()
