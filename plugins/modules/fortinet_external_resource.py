#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortinet_external_resource
short_description: Manage the FortiGate external resource (IP address threat feed) that polls a Knocknoc allowlist
version_added: 0.1.0
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Creates, updates or deletes an external resource of type C(address) (an IP address threat feed, shown under
    Security Fabric > External Connectors) that polls the allowlist of a Knocknoc Passive or Passive+ Knoc.
  - Directly on a FortiGate (C(system/external-resource) of O(vdom)), or with O(use_fortimanager=true) as an object of
    O(adom) on FortiManager (C(/pm/config/adom/<adom>/obj/system/external-resource)) that is then installed on the
    FortiGates (O(install)).
  - In Passive mode the FortiGate polls the allowlist every O(refresh_rate) minutes; in Passive+ mode the Knocknoc agent
    also pushes entries into this resource between polls, and the next poll reconciles them with the allowlist.
  - The resource is always of type C(address), so that firewall policies can use it as a source address.
  - In an ADOM in workspace mode the module locks the ADOM, makes its change, commits, installs and unlocks; after a
    failure the ADOM is unlocked without committing what was not saved yet.
options:
  name:
    description:
      - Name of the external resource, at most 35 characters (the FortiOS limit).
      - Case-sensitive; it must equal the C(External Connector Name) of a Passive+ Knoc exactly.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the resource, V(absent) deletes it.
      - Deleting fails while a firewall policy still uses the resource.
    type: str
    choices: [present, absent]
    default: present
  resource:
    description:
      - The allowlist URL the FortiGate polls, as Knocknoc shows it for the Knoc, for example
        V(https://knocknoc.example.com/api/v1/allowlists/<aclId>/<token>.txt). At most 511 characters.
      - Must be an V(https://) URL (the allowlist key travels in its Basic authentication header) and must not contain
        credentials; give them as O(username) and O(password).
      - Required with O(state=present) unless O(update_method=push).
    type: str
  username:
    description:
      - User name of the HTTP Basic authentication (Knocknoc accepts any value; its documentation uses V(apikey)). At most
        64 characters.
      - Not changed when not set.
    type: str
  password:
    description:
      - Password of the HTTP Basic authentication, the allowlist API key of the Knoc.
      - FortiOS and FortiManager never return it, so O(update_password) decides when it is sent.
    type: str
  update_password:
    description:
      - V(on_create) sends O(password) when the resource is created, or when the device has no password set. Runs stay
        idempotent, but a changed key is not noticed.
      - V(always) sends O(password) on every run and so reports a change on every run; use it once to rotate the key.
    type: str
    choices: [always, on_create]
    default: on_create
  refresh_rate:
    description:
      - Minutes between two polls of the allowlist, from V(1) to V(43200) (FortiOS' range). Knocknoc advises polling no
        more often than every 60 seconds, which V(1) satisfies.
      - In Passive mode this is the delay until a grant or a revocation takes effect.
    type: int
    default: 5
  update_method:
    description:
      - V(feed) makes the FortiGate poll O(resource); V(push) makes it take entries only from the REST API.
      - Knocknoc's Passive and Passive+ modes both use V(feed) (Passive+ pushes entries into a polled resource).
      - Needs FortiOS 7.2.1 or later on a FortiGate reached directly; V(feed) is accepted on older versions (it is their only
        behaviour). Not changed when not set (FortiOS' default is V(feed)).
    type: str
    choices: [feed, push]
  server_identity_check:
    description:
      - How the FortiGate checks the certificate of the Knocknoc server. V(full) checks the chain and the host name,
        V(basic) the chain only, V(none) nothing.
      - Needs FortiOS 7.0.8 to 7.0.12 or 7.2.4 or later on a FortiGate reached directly (V(none) is accepted everywhere).
        Not changed when not set (FortiOS' default is V(none)).
    type: str
    choices: [none, basic, full]
  status:
    description:
      - Whether the resource is enabled. A disabled resource is not polled and matches nothing in policies.
    type: str
    choices: [enable, disable]
    default: enable
  comments:
    description:
      - Free text, at most 255 characters. Not changed when not set.
    type: str
  targets:
    description:
      - FortiManager only. The FortiGates to install on, each in O(vdom), by device name or serial number, or by name of
        a device group (installed as a whole), as FortiManager's Device Manager shows them in O(adom).
      - When not set, the installation targets of O(package) are used, as FortiManager's Install Wizard does.
      - A name that is not in O(adom), like an O(adom) that does not exist, fails with agent error 202101 before any
        change.
    type: list
    elements: str
  package:
    description:
      - FortiManager only. The policy package whose installation carries the object to the FortiGates.
      - The install copies all ADOM objects (FortiManager's C(cp_all_objs) flag), so the resource arrives even before a
        policy of the package uses it; it also installs the package's policies, as any FortiManager install does.
    type: str
    default: default
  install:
    description:
      - FortiManager only. Install on the FortiGates after a change, and also when the ADOM object is unchanged but a target
        FortiGate does not have it as configured (for example after an install that failed), so that runs converge.
      - With V(false) only the ADOM object is changed.
    type: bool
    default: true
  lock_timeout:
    description:
      - FortiManager only. Seconds to keep trying to lock an ADOM in workspace mode while another administrator holds
        it; then the module fails naming that administrator.
    type: int
    default: 30
notes:
  - Idempotence compares the fields that are set against the device; a password is never compared (see
    O(update_password)).
  - With O(state=absent) and O(use_fortimanager=true) the ADOM object is deleted and the package installed; whether the
    FortiGates then drop the resource is FortiManager's decision.
seealso:
  - name: Knocknoc allowlists (EDLs)
    description: The allowlist URL and its API key.
    link: https://docs.knocknoc.io/books/admin-guide/page/allowlist-edls
  - name: FortiOS external resource CLI reference
    description: The fields of C(config system external-resource).
    link: https://docs.fortinet.com/document/fortigate/7.4.9/cli-reference/549356530
extends_documentation_fragment:
  - knocknoc.fortinet.fortinet
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTINET
attributes:
  check_mode:
    support: full
    details:
      - Reads only, on FortiManager too (no ADOM lock is taken).
  diff_mode:
    support: full
    details:
      - The password is never shown; a password that is sent shows as C(<hidden (updated)>).
  idempotent:
    support: partial
    details:
      - Idempotent, except with O(update_password=always) and O(password) set, which writes the password on every run.
"""

EXAMPLES = r"""
- name: Passive Knoc on a FortiGate
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ fortigate_api_key }}"
      ca_path: /etc/ssl/private-ca.pem
  tasks:
    - name: Let the FortiGate poll the Knocknoc allowlist every minute
      knocknoc.fortinet.fortinet_external_resource:
        name: kk_allow
        resource: "{{ knoc_allowlist_url }}"
        username: apikey
        password: "{{ knoc_allowlist_key }}"
        refresh_rate: 1
        server_identity_check: full
        comments: Knocknoc Passive

    - name: Rotate the allowlist key on the FortiGate
      knocknoc.fortinet.fortinet_external_resource:
        name: kk_allow
        resource: "{{ knoc_allowlist_url }}"
        username: apikey
        password: "{{ new_allowlist_key }}"
        update_password: always

- name: Passive+ through FortiManager, installed on two FortiGates
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortimanager:
      fortimanager:
        url: https://fmg.example.com
        token: "{{ fortimanager_api_key }}"
        adom: emea
  tasks:
    - name: Create the resource in ADOM emea and install it
      knocknoc.fortinet.fortinet_external_resource:
        use_fortimanager: true
        targets: [fw-paris, FGVM01TM24000003]
        name: kk_allow
        resource: "{{ knoc_allowlist_url }}"
        username: apikey
        password: "{{ knoc_allowlist_key }}"
        refresh_rate: 5
        lock_timeout: 60
      register: extres

    - name: Show the install task
      ansible.builtin.debug:
        var: extres.install

- name: Remove the resource from a VDOM
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Delete it
      knocknoc.fortinet.fortinet_external_resource:
        url: https://fw.example.com
        token: "{{ fortigate_api_key }}"
        vdom: dmz
        name: kk_allow
        state: absent
"""

RETURN = r"""
resource:
  description:
    - The external resource as the FortiGate or FortiManager has it after the run (predicted in check mode), with the
      password replaced by C(<hidden>). Empty after O(state=absent).
    - Field names are FortiOS' (C(refresh-rate), C(update-method), ...); FortiManager adds C(oid) and C(dynamic_mapping).
  returned: always
  type: dict
  sample:
    name: kk_allow
    type: address
    status: enable
    update-method: feed
    resource: https://knocknoc.example.com/api/v1/allowlists/6b0c.../9f2e....txt
    username: apikey
    password: <hidden>
    refresh-rate: 1
    server-identity-check: full
    comments: Knocknoc Passive
changed_fields:
  description: The fields written (or to be written in check mode); C(password) when it is sent.
  returned: always
  type: list
  elements: str
  sample: [refresh-rate, resource]
diff:
  description: The managed fields before and after, without the password's value.
  returned: when the resource changes
  type: dict
  contains:
    before:
      description: The fields before the run (empty when the resource did not exist).
      type: dict
      returned: when the resource changes
    after:
      description: The fields after the run (empty after deletion).
      type: dict
      returned: when the resource changes
  sample:
    before: {}
    after: {name: kk_allow, type: address, refresh-rate: 1, password: <hidden (updated)>}
install:
  description: The FortiManager install that ran (not in check mode).
  returned: when O(use_fortimanager=true) and an install ran
  type: dict
  contains:
    reason:
      description: Why the install ran (the object changed, or which FortiGates lacked it as configured).
      type: str
      returned: always
      sample: object changed
    task:
      description: FortiManager task id.
      type: int
      returned: always
      sample: 1001
    state:
      description: Final task state.
      type: str
      returned: always
      sample: done
    num_err:
      description: Number of FortiGates the install failed on.
      type: int
      returned: always
      sample: 0
    scope:
      description: The install scope sent (C(name) and C(vdom) per FortiGate, or C(name) of a device group).
      type: list
      elements: dict
      returned: always
      sample: [{name: fgt1, vdom: root}, {name: fgt2, vdom: root}]
    devices:
      description: Per-FortiGate result lines of the task.
      type: list
      elements: dict
      returned: always
      sample: [{name: fgt1, vdom: root, state: done, detail: install and save finished status=OK}]
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._external_resource import (
    InvalidOption,
    Run,
    execute,
    validate,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import fortinet_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = fortinet_argspec(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        resource=dict(type="str"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", default="on_create", choices=["always", "on_create"], no_log=False),
        refresh_rate=dict(type="int", default=5),
        update_method=dict(type="str", choices=["feed", "push"]),
        server_identity_check=dict(type="str", choices=["none", "basic", "full"]),
        status=dict(type="str", default="enable", choices=["enable", "disable"]),
        comments=dict(type="str"),
        targets=dict(type="list", elements="str"),
        package=dict(type="str", default="default"),
        install=dict(type="bool", default=True),
        lock_timeout=dict(type="int", default=30),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "fortinet_external_resource")
    params = module.params
    try:
        validate(params)
    except InvalidOption as exc:
        module.fail_json(msg=str(exc), changed=False)

    run = Run(params, module.check_mode)
    try:
        execute(run)
    except InvalidOption as exc:
        module.fail_json(msg=str(exc), changed=run.written)
    except KnocknocError as err:
        module.fail_json(changed=run.written, **err.fail_kwargs())
    module.exit_json(**run.output())


if __name__ == "__main__":
    main()
