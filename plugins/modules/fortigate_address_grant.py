#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortigate_address_grant
short_description: Grant or revoke a user's IP addresses through a FortiGate address group (Knocknoc Active mode)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Knocknoc's B(Active) mode on a FortiGate, directly through the FortiOS REST API. On login, an address object named
    C(<prefix><ip>) is created (or reused) and added to the address group that your firewall policy references; on logout or
    expiry it leaves the group and is deleted.
  - IPv4 addresses go to O(address_group) (C(firewall addrgrp)), IPv6 addresses to O(address_group6) (C(firewall addrgrp6)).
  - Members are added and removed one at a time through the group's C(member) child table, never by writing the whole member
    list back, so that jobs running at the same time (AWX runs them in parallel) cannot undo each other's grants.
  - Shared source addresses (two users behind one NAT) follow Knocknoc's "last one out turns off the lights" rule. The users
    that hold an address are kept on the FortiGate itself, in the address object's C(comment), as C(knocknoc:alice,bob).
    A grant adds O(user) to the holders; a revoke removes O(user), and the address leaves the group only when its last holder
    is gone.
  - After any change the module reads the group back and fails if the FortiGate does not show the expected state.
  - Revokes fail closed. A revoke succeeds only when a read made by the task shows that the group no longer lists the
    address (or, for an address other users still hold, that O(user) is no longer among its holders); with nothing to change,
    the task's own reads are that proof. Any failure of a revoke, or of an O(exclusive=true) run that removes members, keeps
    the agent error code and says that access may still be open.
  - A group member whose address object the FortiGate reports missing is read again once; if it is still reported missing,
    the member is removed from the group (for every holder of the address) with a warning.
  - The module never creates, renames or deletes address groups or policies, and never touches members whose name does not
    start with O(prefix).
options:
  address_group:
    description:
      - Name of the IPv4 address group (C(firewall addrgrp)) that your firewall policy uses as source.
      - Required when O(addresses) holds an IPv4 address, and for O(exclusive=true) on IPv4.
      - The group must exist; the module fails if it does not.
    type: str
  address_group6:
    description:
      - Name of the IPv6 address group (C(firewall addrgrp6)) that your firewall policy uses as source (C(srcaddr6)).
      - Required when O(addresses) holds an IPv6 address, and for O(exclusive=true) on IPv6.
      - The group must exist; the module fails if it does not.
    type: str
  prefix:
    description:
      - Prefix of the address object names this module owns (Knocknoc's C(PREFIX), default V(kk_)).
      - Objects are named C(<prefix><address>), with C(/) replaced by C(_) for networks (V(kk_10.0.0.0_24)); IPv6 names keep their
        colons (V(kk_2001:db8::7)).
      - Letters, digits, C(_), C(-) and C(.), starting with a letter, a digit or C(_); checked before any call, like every
        object name the prefix makes with O(addresses) (at most 79 characters).
    type: str
    default: kk_
  addresses:
    description:
      - The source addresses to grant or revoke, IPv4 and IPv6 mixed, as single addresses or networks
        (V(203.0.113.5), V(203.0.113.5/32), V(2001:db8::7), V(198.51.100.0/24)).
      - Networks broader than O(max_prefix_v4) or O(max_prefix_v6), V(0.0.0.0/0) and V(::/0) are always refused, before any
        call to the FortiGate.
      - With O(exclusive=true) an empty list removes every prefix-owned member of the group(s).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) grants O(addresses) (for O(user)); V(absent) revokes them.
    type: str
    choices: [present, absent]
    default: present
  user:
    description:
      - The Knocknoc user the grant is for. It is recorded as a holder of each address.
      - With O(state=absent), O(user) is removed from the holders and an address leaves the group only when no holder is left.
      - Without O(user), O(state=present) grants without recording a holder (an anonymous grant), and O(state=absent) revokes
        the addresses for everyone, whoever holds them.
      - At most 64 characters; letters, digits, C(_), C(.), C(@), C(+) and C(-), starting with a letter, a digit or C(_)
        (holders are stored as a comma-separated list in the object's comment).
    type: str
  exclusive:
    description:
      - Treat O(addresses) as the complete list of grants in the group(s) (reconciliation).
      - Every member of O(address_group) and O(address_group6) whose name starts with O(prefix) and that is not listed is removed
        from the group and its address object deleted, whoever holds it. Members without the prefix are never touched.
      - With O(user), the holders of each listed address are set to exactly O(user); without O(user) the holders of listed
        addresses are left as they are.
      - Only with O(state=present).
    type: bool
    default: false
  max_prefix_v4:
    description:
      - The shortest IPv4 prefix length accepted in O(addresses); V(32) allows single addresses only.
    type: int
    default: 32
  max_prefix_v6:
    description:
      - The shortest IPv6 prefix length accepted in O(addresses); V(128) allows single addresses only.
    type: int
    default: 128
notes:
  - "Requirements on the FortiGate (Knocknoc's Active checklist): FortiOS 7.0 or later; a REST API administrator whose profile
    has Firewall Read/Write (C(fwgrp)) and nothing more, with trusted hosts that include the host running this module;
    the address group(s) created beforehand and used as source in an accept policy."
  - "Holders are stored in the address object's C(comment) (255 characters at most) as C(knocknoc:user1,user2). If the holders
    of one address would not fit, the module fails and changes nothing for that address rather than drop a holder. A comment
    in another format counts as no holder."
  - "Concurrency: creating an object that another job has just created (FortiOS error -5), adding a member that is already
    there (-5), removing a member or deleting an object that is already gone (HTTP 404) are all taken as done. An object that
    FortiOS refuses to delete because a group still uses it (-23) is left alone: if another job has just granted it, it is that
    job's grant now; otherwise it is used elsewhere and the module warns."
  - "FortiOS has no compare-and-set, and the comment is the only per-object field, so the holders are updated by
    read-modify-write. The module writes only the comment (never the whole object), re-reads after every write, repeats the
    update when another job's write replaced its own, and re-checks once more after a short random pause. Two jobs changing
    the holders of the same address at the same moment can still lose one holder if one job's read and write are further
    apart than that pause; the grant stays correct (the address stays in the group while any holder remains) except in that
    window."
  - "Empty groups: FortiOS allows address groups without members from 7.2.0 only. On older firmware, a revoke that would remove
    the last member fails before any change, with an explanation: add a member that matches no traffic, such as the address
    object C(none), to the group once (this module never touches members without the prefix)."
  - "A group that does not exist makes the module fail (it never creates groups: create the group and reference it from the
    policy). Object names longer than 79 characters (the FortiOS 7 limit) are refused before any call. An object with the
    module's name that holds another address is never reused: the module fails."
  - "Whether FortiOS accepts C(:) in address6 object names is unconfirmed in the public reference; the lab does."
extends_documentation_fragment:
  - knocknoc.fortinet.fortigate
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIGATE
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the group(s) and objects and makes no change on the FortiGate.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: knocknoc.fortinet.fortigate_dynamic_entry
    description: Knocknoc Passive+ mode (external resource entries) instead of address objects.
"""

EXAMPLES = r"""
- name: Knocknoc Active mode on a FortiGate
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ fortigate_api_key }}"
      vdom: root
      ca_path: /etc/pki/fortinet-ca.pem
      tls_server_name: FGVM01TM24000001
  tasks:
    - name: Grant alice's IPv4 and IPv6 addresses
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        address_group6: kk_users6
        addresses:
          - 198.51.100.7
          - 2001:db8::7
        user: alice

    - name: Revoke alice (the address stays while bob, behind the same NAT, still holds it)
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [198.51.100.7]
        user: alice
        state: absent

    - name: Grant an office network (networks need a wider limit)
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [192.0.2.0/28]
        max_prefix_v4: 28
        user: carol

    - name: Reconcile the group with the grants Knocknoc knows about
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: "{{ current_grants }}"
        exclusive: true
"""

RETURN = r"""
added:
  description: Names of the address objects added to the group(s) (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [kk_198.51.100.7]
removed:
  description: Names of the address objects removed from the group(s) (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [kk_203.0.113.9]
members:
  description:
    - The members of O(address_group) and O(address_group6) whose name starts with O(prefix), after the change, as read back
      from the FortiGate (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [kk_198.51.100.7, "kk_2001:db8::7"]
holders:
  description:
    - For each address handled (listed in O(addresses), or removed by O(exclusive=true)), the users that hold it afterwards.
    - Keyed by the canonical address (V(198.51.100.7), V(10.0.0.0/24), V(2001:db8::7)); an empty list means the address is no
      longer granted or is granted without a recorded holder.
  returned: always
  type: dict
  sample: {"198.51.100.7": [alice, bob]}
revoked:
  description:
    - With O(state=absent), V(true) when the FortiGate showed, in a read made by this task, that O(addresses) are no longer
      admitted through the group(s) for O(user) (an address that other users still hold stays, see RV(holders)). A revoke that
      cannot be shown fails instead, so a successful revoke always returns V(true); in check mode it is V(false) when there is
      something to revoke.
  returned: when O(state=absent)
  type: bool
  sample: true
diff:
  description: Prefix-owned members of the group(s) and holders of the handled addresses (objects that exist), before and after.
  returned: always
  type: dict
  contains:
    before:
      description: State before the task.
      type: dict
      returned: always
      sample: {"members": [], "holders": {}}
    after:
      description: State after the task (predicted in check mode).
      type: dict
      returned: always
      sample: {"members": [kk_198.51.100.7], "holders": {"198.51.100.7": [alice]}}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._address_grant import AddressGrant, validate
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient, fortigate_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = fortigate_argspec(
        address_group=dict(type="str"),
        address_group6=dict(type="str"),
        prefix=dict(type="str", default="kk_"),
        addresses=dict(type="list", elements="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        user=dict(type="str"),
        exclusive=dict(type="bool", default=False),
        max_prefix_v4=dict(type="int", default=32),
        max_prefix_v6=dict(type="int", default=128),
    )
    module = KnocknocModule(argument_spec, supports_check_mode=True,
                            required_one_of=[("address_group", "address_group6")])
    check_module(module, "fortigate_address_grant")
    items = []
    try:
        items = validate(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    result = {}
    try:
        with FortiGateClient.from_params(module.params) as client:
            result = AddressGrant(client, items, module.params, module.warn).run(module.check_mode)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
