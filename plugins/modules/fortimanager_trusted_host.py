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
    belongs to Knocknoc, so a grant replaces whatever address it held. Slots 1-9 are never written.
  - Revoke (O(state=absent)) resets slot 10 to FortiManager's unused value, V(["255.255.255.255", "255.255.255.255"])
    for IPv4 and V(ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128) for IPv6; it never writes an allow-all value. With
    O(address), only a slot 10 that holds that address is reset (another grant is left alone and reported in a warning);
    without O(address), both C(trusthost10) and C(ipv6_trusthost10) are reset whatever they hold.
  - Before writing, the module reads the administrator once. If one of slots 1-9 of the address family allows every
    address (V(0.0.0.0 0.0.0.0) or V(::/0), FortiManager's factory default for slot 1), slot 10 would be masked and a
    grant would give a false sense of control, so a grant fails unless O(allow_masked=true).
  - After a write the slot is read back; a value other than the expected one fails with agent error 202050.
  - The API administrator behind O(token) needs the C(Super_User) profile, because only it may change other administrators.
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
      - Required with O(state=present). With O(state=absent), slot 10 is reset only if it holds this address; leave it out
        to reset both slots 10 whatever they hold.
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
    to V(127.0.0.1) (or a controlled backup IP) and leave slot 10 to this module.
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
    - One slot with O(address), C(trusthost10) and C(ipv6_trusthost10) without it.
  returned: always
  type: dict
  sample: {"trusthost10": ["255.255.255.255", "255.255.255.255"]}
after:
  description:
    - The same slots after the task (in check mode, what they would hold).
  returned: always
  type: dict
  sample: {"trusthost10": ["198.51.100.7", "255.255.255.255"]}
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

import ipaddress

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    FortiManagerClient,
    fortimanager_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import check_requirements, hide_url_credentials
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry, device_network

# Knocknoc writes only the 10th slot; slot 1 is the break-glass entry (knocknoc.md 6.4).
SLOT = 10
USER_URL = "/cli/global/system/admin/user/%s"
# FortiManager's "unused" slot values (reference F1): they admit nothing.
UNUSED = {4: ["255.255.255.255", "255.255.255.255"], 6: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}
# FortiManager's factory value of slot 1 (reference F1): allow all.
FACTORY_SLOT1 = {4: ["0.0.0.0", "0.0.0.0"], 6: "::/0"}
# Error codes the update keeps; any other JSON-RPC failure of the update is 202050.
KEPT_CODES = (202001, 202002, 202051)
# The seed checklist's fix ("set Trusted Host 1-9 to 127.0.0.1 (or a controlled backup IP)"), per family.
FIX = {
    4: "set trusted hosts 1-9 to 127.0.0.1 or a controlled backup IP (do not leave them as allow all)",
    6: "set IPv6 trusted hosts 1-9 to ::1 or a controlled backup IP (do not leave them as allow all)",
}


def slot_name(family, index=SLOT):
    return ("trusthost%d" if family == 4 else "ipv6_trusthost%d") % index


def slot_names():
    return [slot_name(family, index) for family in (4, 6) for index in range(1, SLOT + 1)]


def host_value(address):
    """The write form of a single host: IPv4 as [address, netmask] (the safe write form of reference F1;
    I14 leaves other forms unconfirmed), IPv6 as prefix/len (the form FortiManager reads back)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return [str(ip), "255.255.255.255"]
    return "%s/128" % ip.compressed


def same(current, wanted):
    """Whether two slot values hold the same network, whatever their spelling."""
    network = device_network(current)
    return network is not None and network == device_network(wanted)


def allows_all(value):
    network = device_network(value)
    return network is not None and network.prefixlen == 0


def shown(value):
    """A slot value in the text of a message: "a.b.c.d m.m.m.m" or "prefix/len"."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def validate(module):
    """Input checks before any call; returns the canonical address (or None)."""
    params = module.params
    admin = params["admin"]
    if not admin or not admin.strip():
        module.fail_json(msg="Option admin must name a FortiManager administrator, got an empty value.")
    if admin != admin.strip():
        module.fail_json(msg="Option admin %r has leading or trailing whitespace: the Knocknoc user name must match the"
                             " FortiManager administrator name exactly." % admin)
    if "/" in admin:
        module.fail_json(msg="Option admin %r must not contain '/': it is part of the JSON-RPC URL." % admin)
    if params["address"] is None:
        return None
    try:
        address = canonical_entry(params["address"])
    except ValueError as exc:
        module.fail_json(msg="Option address: %s. Give one IPv4 or IPv6 host address." % exc)
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        module.fail_json(msg="Option address %r is an IPv4-mapped IPv6 address: give the IPv4 address %s, which goes"
                             " into trusthost10." % (params["address"], ip.ipv4_mapped))
    return address


def read_slots(client, admin):
    """Trusted hosts 1-10 (IPv4 and IPv6) of ``admin``, in one get."""
    url = USER_URL % admin
    data = client.call("get", url, not_found_code=202051, fields=slot_names())
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise client.error("parse", "get %s returned no administrator object" % url, {"admin": admin})
    userid = data.get("userid")
    if userid is not None and userid != admin:
        # unconfirmed in the reference: whether FortiManager looks names up case-insensitively;
        # if it does, refuse rather than write another administrator's trusted hosts.
        raise KnocknocError(202051, cause="FortiManager returned administrator %r for %r" % (userid, admin),
                            details={"admin": admin, "userid": userid}, secrets=client.secrets)
    slots = {}
    for name in slot_names():
        if name in data:
            slots[name] = data[name]
        else:
            # unconfirmed in the reference: whether FortiManager leaves out slots at their default;
            # assume the documented defaults (F1), which for slot 1 means "allows all".
            family = 6 if name.startswith("ipv6_") else 4
            slots[name] = FACTORY_SLOT1[family] if name == slot_name(family, 1) else UNUSED[family]
    return slots


def write_slots(client, admin, changes):
    """One update of the changed slots, then a read-back; 202050 unless FortiManager holds them."""
    url = USER_URL % admin
    try:
        client.call("update", url, data=changes, not_found_code=202051)
    except KnocknocError as err:
        if err.code in KEPT_CODES or "jsonrpc_code" not in err.details:
            raise
        raise err.recode(202050)
    data = client.call("get", url, not_found_code=202051, fields=sorted(changes))
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    data = data if isinstance(data, dict) else {}
    wrong = dict((name, data.get(name)) for name, value in changes.items() if not same(data.get(name), value))
    if wrong:
        raise KnocknocError(
            202050, cause="update %s reported success but reading back gives %s" % (
                url, ", ".join("%s %s instead of %s" % (name, shown(value), shown(changes[name]))
                               for name, value in sorted(wrong.items()))),
            details={"admin": admin, "expected": changes, "read_back": wrong}, secrets=client.secrets)


def plan(module, slots, address):
    """``(managed slot names, changes, warnings)`` for the wanted state; raises for a masked grant."""
    params = module.params
    admin = params["admin"]
    warnings = []
    changes = {}
    if address is None:
        # state=absent without an address: reset both slots 10, whatever they hold.
        managed = [slot_name(4), slot_name(6)]
        for family in (4, 6):
            if not same(slots[slot_name(family)], UNUSED[family]):
                changes[slot_name(family)] = list(UNUSED[4]) if family == 4 else UNUSED[6]
        return managed, changes, warnings
    family = ipaddress.ip_address(address).version
    slot = slot_name(family)
    wanted = host_value(address)
    current = slots[slot]
    if params["state"] == "absent":
        if same(current, wanted):
            changes[slot] = list(UNUSED[4]) if family == 4 else UNUSED[6]
        elif not same(current, UNUSED[family]):
            warnings.append("%s of %s holds %s, not %s: left unchanged (it is another grant; revoke without address"
                            " to reset it anyway)." % (slot, admin, shown(current), address))
        return [slot], changes, warnings
    masking = [slot_name(family, index) for index in range(1, SLOT) if allows_all(slots[slot_name(family, index)])]
    if masking:
        text = "%s of administrator %s allows every address (%s), so %s is masked and a grant would not restrict who" \
               " can log in" % (", ".join(masking), admin, shown(slots[masking[0]]), slot)
        if not params["allow_masked"]:
            raise KnocknocError(202050, cause=text + "; nothing was changed",
                                hint="For administrator %s, %s; or set allow_masked=true to grant anyway." % (
                                    admin, FIX[family]),
                                details={"admin": admin, "slot": slot, "masked_by": masking})
        warnings.append("%s (allow_masked=true). Fix: %s." % (text, FIX[family]))
    else:
        covering = [slot_name(family, index) for index in range(1, SLOT)
                    if _admits(slots[slot_name(family, index)], address)]
        if covering:
            warnings.append("%s of %s already admit(s) %s: revoking %s will not remove that access." % (
                ", ".join(covering), admin, address, slot))
    other = 6 if family == 4 else 4
    open_other = [slot_name(other, index) for index in range(1, SLOT) if allows_all(slots[slot_name(other, index)])]
    if open_other:
        warnings.append("%s of %s allows every IPv%d address (%s): %s can still log in from any IPv%d source. Fix: %s." % (
            ", ".join(open_other), admin, other, shown(slots[open_other[0]]), admin, other, FIX[other]))
    if not same(current, wanted):
        changes[slot] = wanted
    return [slot], changes, warnings


def _admits(value, address):
    network = device_network(value)
    return network is not None and ipaddress.ip_address(address) in network


def run(module, address):
    params = module.params
    admin = params["admin"]
    client = FortiManagerClient.from_params(params)
    with client:
        slots = read_slots(client, admin)
        managed, changes, warnings = plan(module, slots, address)
        before = dict((name, slots[name]) for name in managed)
        after = dict(before)
        after.update(changes)
        if changes and not module.check_mode:
            write_slots(client, admin, changes)
    for warning in warnings:
        module.warn(warning)
    result = {
        "changed": bool(changes),
        "admin": admin,
        "before": before,
        "after": after,
        "diff": {"before": before, "after": after},
    }
    if address is not None:
        result["slot"] = managed[0]
    return result


def main():
    argument_spec = fortimanager_argspec(
        admin=dict(type="str", required=True),
        address=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        allow_masked=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "present", ["address"])])
    check_requirements(module)
    hide_url_credentials(module)
    address = validate(module)
    try:
        result = run(module, address)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
