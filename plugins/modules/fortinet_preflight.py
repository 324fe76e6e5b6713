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
    that was not given are listed in RV(skipped_checks).
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
      - FortiManager device targets of the push (device names, serial numbers, device group names, or
        C(adom/<adom>/device/<name>) and C(adom/<adom>/group/<group>) paths). Each target is checked on every FortiGate
        it names; a malformed item (empty, or a path of another shape) is refused before any request.
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
      - If not set, O(knocknoc.url), then the E(KNOCKNOC_URL) environment variable is used.
    type: str
  knocknoc_token:
    description:
      - Knocknoc admin API token, for O(knoc).
      - If not set, O(knocknoc.token), then the E(KNOCKNOC_TOKEN) environment variable is used.
    type: str
  knocknoc_ca_path:
    description:
      - CA file for the Knocknoc server's certificate.
      - If not set, O(knocknoc.ca_path), then the E(KNOCKNOC_CA_PATH) environment variable is used.
    type: path
  knocknoc_tls_server_name:
    description:
      - Name in the Knocknoc server's certificate, if not the host of O(knocknoc_url).
      - If not set, O(knocknoc.tls_server_name), then the E(KNOCKNOC_TLS_SERVER_NAME) environment variable is used.
    type: str
  knocknoc_validate_certs:
    description:
      - Verify the Knocknoc server's certificate.
      - If not set, O(knocknoc.validate_certs), then the E(KNOCKNOC_VALIDATE_CERTS) environment variable is used, else V(true).
    type: bool
extends_documentation_fragment:
  - knocknoc.fortinet.fortinet
  - knocknoc.fortinet.knocknoc.AS_DICT
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
skipped_checks:
  description:
    - Checklist items that were not evaluated, and why.
    - Earlier versions called it C(skipped), a name Ansible reserves (it marked the task as skipped).
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

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import KNOCKNOC, connection_dict_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import fortinet_argspec, resolve_fortinet_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import MODES
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.run import invalid_options, run_preflight
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def argument_spec():
    return fortinet_argspec(
        mode=dict(type="str", required=True, choices=list(MODES)),
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
        # The Knocknoc server: knocknoc_* > the knocknoc dict > KNOCKNOC_* (resolved by _preflight.knoc).
        knocknoc=connection_dict_argspec(KNOCKNOC),
        knocknoc_url=dict(type="str"),
        knocknoc_token=dict(type="str", no_log=True),
        knocknoc_ca_path=dict(type="path"),
        knocknoc_tls_server_name=dict(type="str"),
        knocknoc_validate_certs=dict(type="bool"),
    )


def main():
    module = KnocknocModule(argument_spec=argument_spec(), supports_check_mode=True)
    check_module(module, "fortinet_preflight")
    problem = invalid_options(module.params)
    if problem:
        module.fail_json(msg=problem)
    try:
        report = run_preflight(resolve_fortinet_params(module.params), module.check_mode)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(changed=False, **report.result())


if __name__ == "__main__":
    main()
