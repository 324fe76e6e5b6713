#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortigate_object
short_description: Manage one FortiOS configuration object (policy, address group, admin profile, REST API admin)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Creates, updates or deletes one entry of a FortiOS CMDB table through the REST API v2
    (C(/api/v2/cmdb/<path>/<key>)), for example C(firewall/policy), C(firewall/addrgrp), C(system/accprofile) or
    C(system/api-user).
  - Only the fields given in O(data) are compared and written; fields the FortiGate has and O(data) does not name are
    left alone. FortiOS read-back formats are normalised before comparing (V(a.b.c.d m.m.m.m) equals V(a.b.c.d/len),
    numbers equal their text, child tables compare as sets, and values FortiOS masks as C(ENC XXXX) never count as a
    change).
  - The key of the entry is O(name) for tables keyed by name. Policy tables (C(firewall/policy), C(firewall/policy6),
    C(firewall/proxy-policy), C(firewall/security-policy), C(firewall/local-in-policy)) are keyed by a number; there
    O(name) is the policy's name, used to find it when O(policyid) is not given.
  - For C(system/api-user), O(generate_key) generates the REST API key of the administrator
    (C(POST /api/v2/monitor/system/api-user/generate-key)) and returns it as RV(api_key).
options:
  path:
    description:
      - The CMDB table, as the CLI names it with C(config) dropped and the last space turned into C(/), for example
        V(firewall/policy), V(firewall/addrgrp), V(system/accprofile), V(system/api-user).
    type: str
    required: true
  name:
    description:
      - The key (C(name)) of the entry. Required for tables keyed by name.
      - For policy tables, the policy's C(name) field. It is written to the policy and, without O(policyid), is how the
        policy is found; two policies with this name are an error.
    type: str
  policyid:
    description:
      - The number of the policy, for policy tables only.
      - When not given, the policy is found by O(name); a new one gets the next free number from FortiOS.
    type: int
  data:
    description:
      - The fields of the entry as FortiOS names them (hyphens, for example C(srcaddr), C(sysgrp-permission),
        C(accprofile)).
      - 'Child tables are lists of dictionaries such as V([{name: all}]); a list of plain strings is taken as that
        shorthand (V([all]) is V([{name: all}])).'
      - Do not put secrets here (they would show in logs); use O(secret_data).
    type: dict
    default: {}
  create_data:
    description:
      - Fields sent only when the entry is created, never compared nor updated afterwards.
      - For example the initial members of an address group whose membership is managed by someone else later
        (Knocknoc's agent in Active mode).
    type: dict
    default: {}
  secret_data:
    description:
      - Secret fields (for example C(password) of an external resource). Sent when the entry is created, and on every
        run with O(update_secrets=always). FortiOS never returns them, so they are not compared; they never appear in
        the result, the diff or an error.
    type: dict
    default: {}
  update_secrets:
    description:
      - V(on_create) sends O(secret_data) only when the entry is created (a re-run stays unchanged).
      - V(always) sends it on every run, which then always reports a change.
    type: str
    choices: [on_create, always]
    default: on_create
  generate_key:
    description:
      - Only for O(path=system/api-user). Generates the REST API key of the administrator and returns it as
        RV(api_key); the previous key stops working.
      - V(never) generates none. V(on_create) generates one only when this run created the administrator, so a re-run
        changes nothing. V(always) generates a new key on every run (a key rotation; always reports a change).
      - In check mode no key is generated.
    type: str
    choices: [never, on_create, always]
    default: never
  state:
    description:
      - V(present) creates or updates the entry, V(absent) deletes it (O(data) is then ignored).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - knocknoc.fortinet.fortigate
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIGATE
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the entry and reports what would change; it writes nothing and generates no key.
  diff_mode:
    support: full
    details:
      - The diff shows the fields named in O(data) and O(secret_data) (and the key) before and after; secrets show
        as V(<hidden>), and as V(<hidden (updated\)>) when this run sends them.
  idempotent:
    support: partial
    details:
      - Idempotent unless O(generate_key=always) or O(update_secrets=always) with O(secret_data) is used.
notes:
  - An address group cannot be empty before FortiOS 7.2.0; creating one without members on such a FortiGate fails
    before anything is written (give a placeholder member such as V(none) in O(create_data)).
  - Run tasks that use O(secret_data) or O(generate_key) with C(no_log) (or register the result and pass the key on
    without printing it); Ansible cannot hide a returned value by itself.
"""

EXAMPLES = r"""
- name: Configure the FortiGate objects Knocknoc needs
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ fortigate_admin_token }}"
      ca_path: /etc/ssl/private-ca.pem
      tls_server_name: FGVM01TM24000001
  block:
    - name: Least-privilege admin profile for the Knocknoc agent (Passive+)
      knocknoc.fortinet.fortigate_object:
        path: system/accprofile
        name: knocknoc-passiveplus
        data:
          sysgrp: custom
          sysgrp-permission: {admin: none, upd: none, cfg: read-write, mnt: none}
          fwgrp: none
          netgrp: none

    - name: REST API admin restricted to the agent, with its key
      knocknoc.fortinet.fortigate_object:
        path: system/api-user
        name: knocknoc-agent
        data:
          accprofile: knocknoc-passiveplus
          vdom: [root]
          trusthost:
            - {type: ipv4-trusthost, ipv4-trusthost: 192.0.2.10/32}
        generate_key: on_create
      register: agent_user
      no_log: true

    - name: Address group for Active mode (members are managed by the agent)
      knocknoc.fortinet.fortigate_object:
        path: firewall/addrgrp
        name: kk_users
        data:
          comment: Knocknoc Active mode
        create_data:
          member: []

    - name: Policy that admits the Knocknoc allowlist
      knocknoc.fortinet.fortigate_object:
        path: firewall/policy
        name: knocknoc-access
        data:
          srcintf: [port1]
          dstintf: [port2]
          srcaddr: [knocknoc_allow]
          dstaddr: [all]
          service: [HTTPS]
          schedule: always
          action: accept
          status: enable

- name: Remove the policy again
  knocknoc.fortinet.fortigate_object:
    url: https://fw.example.com
    token: "{{ fortigate_admin_token }}"
    path: firewall/policy
    name: knocknoc-access
    state: absent
"""

RETURN = r"""
mkey:
  description: The key of the entry (the name, or the policy number for policy tables); null when absent.
  returned: always
  type: raw
  sample: knocknoc-agent
object:
  description:
    - The entry as the FortiGate has it after the task (in check mode, as it would have it); null when absent.
    - Secrets (O(secret_data) and every field the FortiGate reads back masked, such as C(ENC XXXX)) show as
      V(<hidden>).
  returned: always
  type: dict
  sample: {"name": "kk_users", "member": [], "comment": "Knocknoc Active mode"}
changed_fields:
  description: The fields that were (or, in check mode, would be) written; all given fields on creation.
  returned: always
  type: list
  elements: str
  sample: ["srcaddr", "status"]
created:
  description: Whether the entry was (or would be) created by this run.
  returned: always
  type: bool
  sample: false
api_key:
  description:
    - The REST API key generated for a C(system/api-user) entry (see O(generate_key)). Shown once; FortiOS never
      returns it again.
    - Secret. Use C(no_log) on the task.
  returned: when a key was generated
  type: str
  sample: "********"
diff:
  description:
    - The fields named in O(data) and O(secret_data) (and the key) before and after; secrets show as V(<hidden>),
      and as V(<hidden (updated\)>) when this run sends them.
  returned: always
  type: dict
  sample: {"before": {"name": "kk_users", "comment": ""}, "after": {"name": "kk_users", "comment": "Knocknoc"}}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import (
    FortiGateClient,
    fortigate_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._objects import find_fortigate_entry, fortigate_table
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import CREATE, DELETE, NONE, plan_object
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module

# Empty address groups exist only from FortiOS 7.2.0 (reference B3).
GROUP_TABLES = frozenset(("firewall/addrgrp", "firewall/addrgrp6"))


def _shorthand(data):
    """``[a, b]`` -> ``[{"name": a}, {"name": b}]`` for child tables given as plain strings: FortiOS
    CMDB JSON has no list of bare strings, so the shorthand is unambiguous."""
    out = {}
    for key, value in (data or {}).items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = [{"name": v} for v in value]
        out[key] = value
    return out


def validate(module):
    """Everything that can be checked before the first request; fails naming the option."""
    p = module.params
    try:
        path, policy = fortigate_table(p["path"], p["name"], p["policyid"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if p["generate_key"] != "never" and path != "system/api-user":
        module.fail_json(msg="generate_key applies to path system/api-user only, not to %s" % path)
    key_field = "policyid" if policy else "name"
    for option in ("data", "create_data", "secret_data"):
        given = p[option] or {}
        if key_field in given:
            module.fail_json(msg="%s must not hold the key field %s: use the %s option"
                             % (option, key_field, "policyid" if policy else "name"))
    if policy and "name" in (p["data"] or {}) and p["name"] and p["data"]["name"] != p["name"]:
        module.fail_json(msg="data.name (%r) differs from name (%r)" % (p["data"]["name"], p["name"]))
    overlap = sorted(set(p["secret_data"] or {}) & (set(p["data"] or {}) | set(p["create_data"] or {})))
    if overlap:
        module.fail_json(msg="secret_data and data/create_data both set %s" % ", ".join(overlap))
    return path, policy


def refuse_empty_group(client, path, body, name):
    if path in GROUP_TABLES and not body.get("member") and not client.version_at_least("7.2.0"):
        raise KnocknocError(
            None, "FortiOS %s cannot hold an empty address group %s (empty groups came with 7.2.0)" % (
                client.system_status()["version"], name),
            description="Invalid option",
            hint="Give a placeholder member such as none in create_data.member (or members in data.member).")


def generate_key(client, mkey, vdom):
    envelope = client.monitor_post("system/api-user/generate-key", {"api-user": mkey}, vdom=vdom)
    results = envelope.get("results") if isinstance(envelope.get("results"), dict) else {}
    # reference B6: the new key is at results.access_token [S]; some FortiOS replies carry it as api_key
    # (issue 11). The old key is gone by now, so either field is taken.
    key = results.get("access_token") or results.get("api_key")
    if not isinstance(key, str) or not key:
        raise KnocknocError(202150, cause="generate-key for %s returned no key (neither access_token nor api_key);"
                            " the old key no longer works" % mkey)
    client.add_secret(key)
    return key


def run(module, path, policy):
    p = module.params
    desired = _shorthand(p["data"])
    if policy and p["name"]:
        desired["name"] = p["name"]
    secrets = dict(p["secret_data"] or {})

    client = FortiGateClient.from_params(p)
    vdom = client.vdom  # resolved: vdom, fortigate.vdom, FORTIGATE_VDOM or root
    for value in secrets.values():
        client.add_secret(value if isinstance(value, str) else None)
    mkey, current = find_fortigate_entry(client, path, policy, p["name"], p["policyid"], vdom)
    # 0: FortiOS picks the next policy number (reference A2).
    identity = {"policyid": p["policyid"] or 0} if policy else {"name": p["name"]}
    plan = plan_object(current, desired, p["state"], identity=identity, create_only=_shorthand(p["create_data"]),
                       secrets=secrets, update_secrets=p["update_secrets"])
    for key in plan.masked_desired:
        module.warn("data.%s is a secret on the FortiGate (it reads back masked): pass it in secret_data so that"
                    " it stays out of logs" % key)

    after = current
    if plan.action == DELETE:
        if not module.check_mode:
            client.delete(path, mkey, vdom=vdom)
        after = None
    elif plan.action == CREATE:
        refuse_empty_group(client, path, plan.body, p["name"])
        if module.check_mode:
            after = plan.predict(None)
            if policy and not p["policyid"]:
                after.pop("policyid")  # not known before FortiOS picks it
        else:
            envelope = client.create(path, plan.body, vdom=vdom)
            mkey = envelope.get("mkey", mkey if mkey is not None else plan.body.get(next(iter(identity))))
            if policy and mkey is not None:
                mkey = int(mkey)
            after = client.get_entry(path, mkey, vdom=vdom)
    elif plan.action != NONE:
        if module.check_mode:
            after = plan.predict(current)
        else:
            client.update(path, mkey, plan.body, vdom=vdom)
            after = client.get_entry(path, mkey, vdom=vdom)

    result = {"changed": plan.changed, "created": plan.action == CREATE, "changed_fields": list(plan.changed_fields),
              "mkey": mkey if current is not None or plan.action == CREATE else None,
              "object": plan.hide(after), "diff": plan.diff(current, after)}
    generate = p["generate_key"] == "always" or (p["generate_key"] == "on_create" and result["created"])
    if generate:
        result["changed"] = True
        if not module.check_mode:
            result["api_key"] = generate_key(client, mkey, vdom)
    return result


def main():
    argument_spec = fortigate_argspec(
        path=dict(type="str", required=True),
        name=dict(type="str"),
        policyid=dict(type="int"),
        data=dict(type="dict", default={}),
        create_data=dict(type="dict", default={}),
        secret_data=dict(type="dict", default={}, no_log=True),
        update_secrets=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        generate_key=dict(type="str", choices=["never", "on_create", "always"], default="never", no_log=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "fortigate_object")
    path, policy = validate(module)
    try:
        result = run(module, path, policy)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
