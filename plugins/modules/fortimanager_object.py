#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortimanager_object
short_description: Manage one FortiManager object by its JSON-RPC URL (ADOM objects, policies, admins, profiles)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Creates, updates or deletes one object of a FortiManager table through JSON-RPC, for example an ADOM object
    (C(/pm/config/adom/{adom}/obj/system/external-resource)), a policy of a policy package
    (C(/pm/config/adom/{adom}/pkg/<package>/firewall/policy)), an administrator (C(/cli/global/system/admin/user)) or
    an administrator profile (C(/cli/global/system/admin/profile)).
  - Only the fields given in O(data) are compared and written (C(update) keeps the others). Read-back formats are
    normalised before comparing (V([a.b.c.d, m.m.m.m]) equals V(a.b.c.d/len), numbers equal their text, lists compare
    as sets, masked secrets never count as a change).
  - Writes to an ADOM in workspace mode take the ADOM lock, commit and unlock; on a failure nothing is committed and
    the ADOM is unlocked. A lock held by another administrator is waited for, then reported with the holder's name.
  - With O(install), the policy package is installed to its devices after a change (C(/securityconsole/install/package))
    and the task is followed to its end.
options:
  path:
    description:
      - The JSON-RPC URL of the table (without the object's key). V({adom}) is replaced by O(adom).
      - Examples V(/pm/config/adom/{adom}/obj/firewall/addrgrp), V(/pm/config/adom/{adom}/obj/system/external-resource),
        V(/pm/config/adom/{adom}/pkg/default/firewall/policy), V(/cli/global/system/admin/user),
        V(/cli/global/system/admin/profile).
    type: str
    required: true
  name:
    description:
      - The key of the object (C(name) of ADOM objects, C(userid) of administrators, C(profileid) of profiles).
      - For policy tables (C(.../pkg/<package>/firewall/policy)), the policy's C(name) field, written to the policy and,
        without O(policyid), the way to find it.
    type: str
  policyid:
    description:
      - The number of the policy, for policy tables only. When not given, the policy is found by O(name) and a new one
        gets the next free number.
    type: int
  key_field:
    description:
      - The name of the key field. By default V(userid) for C(/cli/global/system/admin/user), V(profileid) for
        C(/cli/global/system/admin/profile), V(policyid) for policy tables and V(name) otherwise.
    type: str
  data:
    description:
      - The fields of the object as FortiManager names them (for example C(trusthost1), C(rpc-permit), C(srcaddr)).
      - IPv4 trusted hosts (C(trusthost1) ... C(trusthost10)) given as V(a.b.c.d/len) are sent in FortiManager's list
        form V([a.b.c.d, m.m.m.m]).
      - Do not put secrets here; use O(secret_data).
    type: dict
    default: {}
  create_data:
    description:
      - Fields sent only when the object is created, never compared nor updated afterwards.
    type: dict
    default: {}
  secret_data:
    description:
      - Secret fields (for example C(password)). Sent on creation, and on every run with O(update_secrets=always); never
        compared, never shown in the result, the diff or an error.
    type: dict
    default: {}
  update_secrets:
    description:
      - V(on_create) sends O(secret_data) only when the object is created; V(always) on every run (always a change).
    type: str
    choices: [on_create, always]
    default: on_create
  create:
    description:
      - Whether a missing object may be created. With V(false) the object must exist (for example an administrator
        whose trusted hosts are set), and a missing one fails (error 202051 for administrators).
    type: bool
    default: true
  state:
    description:
      - V(present) creates or updates the object, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  lock_timeout:
    description:
      - Seconds to keep trying to lock an ADOM in workspace mode while another administrator holds it; then the
        module fails naming that administrator.
    type: int
    default: 30
  install:
    description:
      - Install a policy package after this task changed something, and wait for the install task.
    type: dict
    suboptions:
      package:
        description: The policy package to install, for example V(default).
        type: str
        required: true
      scope:
        description:
          - Devices to install to, as device names (in VDOM O(install.vdom)) or V({name, vdom}) dictionaries.
          - Empty means the package's installation targets.
        type: list
        elements: raw
        default: []
      vdom:
        description: The VDOM of the O(install.scope) items given as device names.
        type: str
        default: root
      adom:
        description: The ADOM of the package; defaults to O(adom).
        type: str
      flags:
        description: Install flags (reference G3), for example V(none) or V(cp_all_objs).
        type: list
        elements: str
        default: [none]
      force:
        description: Install even when this task changed nothing (for example to repeat an install that failed).
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
      - Check mode reads the object and reports what would change; it takes no lock, writes nothing and installs
        nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the fields named in O(data) and O(secret_data) (and the key) before and after; secrets show
        as V(<hidden>), and as V(<hidden (updated\)>) when this run sends them.
  idempotent:
    support: partial
    details:
      - Idempotent unless O(update_secrets=always) with O(secret_data), or O(install.force=true), is used.
notes:
  - FortiManager API keys are generated on the CLI (C(execute api-user generate-key <name>)); whether JSON-RPC can
    generate them is not documented, so this module creates API administrators but not their keys.
"""

EXAMPLES = r"""
- name: FortiManager objects for Knocknoc
  module_defaults:
    group/knocknoc.fortinet.fortimanager:
      url: https://fmg.example.com
      token: "{{ fortimanager_admin_token }}"
      adom: root
  block:
    - name: Least-privilege profile for Passive+ (the seed's CLI snippet)
      knocknoc.fortinet.fortimanager_object:
        path: /cli/global/system/admin/profile
        name: knocknoc-passiveplus
        data:
          device-manager: read-write
          rpc-permit: read-write

    - name: Policy in the ADOM's package that admits the allowlist, installed to the devices
      knocknoc.fortinet.fortimanager_object:
        path: /pm/config/adom/{adom}/pkg/default/firewall/policy
        name: knocknoc-access
        data:
          srcintf: [port1]
          dstintf: [port2]
          srcaddr: [knocknoc_allow]
          dstaddr: [all]
          service: [HTTPS]
          schedule: always
          action: accept
        install:
          package: default
          scope: [fgt1, fgt2]

    - name: Trusted hosts 1-9 of an administrator Knocknoc controls (it only writes slot 10)
      knocknoc.fortinet.fortimanager_object:
        path: /cli/global/system/admin/user
        name: alice
        create: false
        data:
          trusthost1: 192.0.2.1/32
          trusthost2: 192.0.2.1/32
"""

RETURN = r"""
mkey:
  description: The key of the object (its name, or the policy number for policy tables); null when absent.
  returned: always
  type: raw
  sample: knocknoc-access
object:
  description:
    - The object as FortiManager has it after the task (in check mode, as it would have it); null when absent.
    - Secrets (O(secret_data) and every field FortiManager reads back masked) show as V(<hidden>).
  returned: always
  type: dict
  sample: {"name": "knocknoc_allow", "type": "address", "update-method": "feed"}
changed_fields:
  description: The fields that were (or would be) written; all given fields on creation.
  returned: always
  type: list
  elements: str
  sample: ["trusthost1", "trusthost2"]
created:
  description: Whether the object was (or would be) created by this run.
  returned: always
  type: bool
  sample: true
install:
  description: The finished install task (C(id), C(state), C(num_err), C(line) per device), when one ran.
  returned: when O(install) ran
  type: dict
  sample: {"id": 1001, "state": "done", "num_err": 0, "line": [{"name": "fgt1", "state": "done"}]}
diff:
  description:
    - The fields named in O(data) and O(secret_data) (and the key) before and after; secrets show as V(<hidden>),
      and as V(<hidden (updated\)>) when this run sends them.
  returned: always
  type: dict
  sample: {"before": {"trusthost2": ["0.0.0.0", "0.0.0.0"]}, "after": {"trusthost2": ["192.0.2.1", "255.255.255.255"]}}
"""

import ipaddress
import re


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
    get_fortimanager_object,
    table_adom,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import CREATE, DELETE, NONE, plan_object
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module

TRUSTHOST_RE = re.compile(r"^trusthost(10|[1-9])$")


def _trusthost_form(data):
    """IPv4 trusted hosts as FortiManager's 2-element list, the write form the reference confirms (F1)."""
    out = {}
    for key, value in (data or {}).items():
        if TRUSTHOST_RE.match(key) and isinstance(value, str) and "/" in value:
            try:
                network = ipaddress.IPv4Network(value.strip(), strict=False)
            except ValueError:
                raise KnocknocError(None, "data.%s: %r is not an IPv4 address/prefix" % (key, value),
                                    description="Invalid option")
            value = [value.strip().split("/")[0], str(network.netmask)]
        out[key] = value
    return out


def validate(module):
    p = module.params
    try:
        path, key, policy = fortimanager_table(p["path"], resolve_option(p, "adom", FORTIMANAGER), p["name"],
                                               p["policyid"], p["key_field"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for option in ("data", "create_data", "secret_data"):
        if key in (p[option] or {}):
            module.fail_json(msg="%s must not hold the key field %s: use the %s option"
                             % (option, key, "policyid" if policy else "name"))
    if policy and "name" in (p["data"] or {}) and p["name"] and p["data"]["name"] != p["name"]:
        module.fail_json(msg="data.name (%r) differs from name (%r)" % (p["data"]["name"], p["name"]))
    overlap = sorted(set(p["secret_data"] or {}) & (set(p["data"] or {}) | set(p["create_data"] or {})))
    if overlap:
        module.fail_json(msg="secret_data and data/create_data both set %s" % ", ".join(overlap))
    if p["lock_timeout"] < 0:
        module.fail_json(msg="lock_timeout must be 0 or more seconds")
    if p["install"] is not None and not (p["install"].get("package") or "").strip():
        module.fail_json(msg="install.package is required")
    return path, key, policy


def missing(path, key, params):
    """The error for a missing object with create=false."""
    if key == "userid":
        return KnocknocError(202051, cause="get %s/%s found no administrator %r (create=false)" % (
            path, params["name"], params["name"]), details={"url": "%s/%s" % (path, params["name"])})
    return KnocknocError(None, "%s %s does not exist (create=false)" % (path, params["name"] or params["policyid"]),
                         description="Object not found")


def run(module, path, key, policy):
    p = module.params
    desired = _trusthost_form(p["data"])
    if policy and p["name"]:
        desired["name"] = p["name"]
    secrets = dict(p["secret_data"] or {})

    client = FortiManagerClient.from_params(p)
    client.lock_timeout = p["lock_timeout"]
    for value in secrets.values():
        client.add_secret(value if isinstance(value, str) else None)
    adom = table_adom(path)  # writes under an ADOM take its workspace lock
    mkey, current = find_fortimanager_object(client, path, policy, p["name"], p["policyid"])
    if current is None and p["state"] == "present" and not p["create"]:
        raise missing(path, key, p)
    # A new policy without policyid gets the next free number from FortiManager.
    identity = ({key: p["policyid"]} if p["policyid"] else {}) if policy else {key: p["name"]}
    plan = plan_object(current, desired, p["state"], identity=identity, create_only=_trusthost_form(p["create_data"]),
                       secrets=secrets, update_secrets=p["update_secrets"],
                       diff_keys=sorted(set(desired) | {key} | set(secrets)))
    for field in plan.masked_desired:
        module.warn("data.%s is a secret on FortiManager (it reads back masked): pass it in secret_data so that it"
                    " stays out of logs" % field)

    def write(method, url, body):
        if adom is None:
            return client.call(method, url, data=body)
        with client.workspace(adom):
            return client.call(method, url, data=body)

    after = current
    if plan.action == DELETE:
        if not module.check_mode:
            write("delete", "%s/%s" % (path, mkey), None)
        after = None
    elif module.check_mode:
        after = plan.predict(current)
    elif plan.action == CREATE:
        reply = write("add", path, plan.body)
        if policy:
            mkey = reply.get("policyid") if isinstance(reply, dict) else p["policyid"]
            if mkey is None:
                raise KnocknocError(202150, cause="add %s returned no policyid" % path)
            mkey = int(mkey)
        else:
            mkey = p["name"]
        after = get_fortimanager_object(client, "%s/%s" % (path, mkey))
    elif plan.action != NONE:
        write("update", "%s/%s" % (path, mkey), plan.body)
        after = get_fortimanager_object(client, "%s/%s" % (path, mkey))

    result = {"changed": plan.changed, "created": plan.action == CREATE, "changed_fields": list(plan.changed_fields),
              "mkey": mkey if current is not None or plan.action == CREATE else None,
              "object": plan.hide(after), "diff": plan.diff(current, after)}
    install = p["install"]
    if install and (result["changed"] or install["force"]):
        result["changed"] = True
        if not module.check_mode:
            install_adom = install["adom"] or p["adom"] or "root"
            # Held across the install: FortiManager installs what is saved, and an ADOM in workspace
            # mode needs its lock for an install (the lock is free again afterwards).
            with client.workspace(install_adom):
                task = client.install_package(install_adom, install["package"], install["scope"] or [],
                                              flags=tuple(install["flags"] or ["none"]), vdom=install["vdom"])
            result["install"] = task
    return result


def main():
    argument_spec = fortimanager_argspec(
        path=dict(type="str", required=True),
        name=dict(type="str"),
        policyid=dict(type="int"),
        key_field=dict(type="str", no_log=False),
        data=dict(type="dict", default={}),
        create_data=dict(type="dict", default={}),
        secret_data=dict(type="dict", default={}, no_log=True),
        update_secrets=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        create=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        lock_timeout=dict(type="int", default=30),
        install=dict(type="dict", options=dict(
            package=dict(type="str", required=True),
            scope=dict(type="list", elements="raw", default=[]),
            vdom=dict(type="str", default="root"),
            adom=dict(type="str"),
            flags=dict(type="list", elements="str", default=["none"]),
            force=dict(type="bool", default=False),
        )),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "fortimanager_object")
    path, key, policy = validate(module)
    try:
        result = run(module, path, key, policy)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
