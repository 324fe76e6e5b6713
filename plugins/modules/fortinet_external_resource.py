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
      - FortiManager only. The FortiGates (device names or serial numbers, as in FortiManager's Device Manager) to install
        on, each in O(vdom).
      - When not set, the installation targets of O(package) are used, as FortiManager's Install Wizard does.
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
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIGATE
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
  tasks:
    - name: Create the resource in ADOM emea and install it
      knocknoc.fortinet.fortinet_external_resource:
        use_fortimanager: true
        url: https://fmg.example.com
        token: "{{ fortimanager_api_key }}"
        adom: emea
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

import copy
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._external_resource import (
    DIFF_KEYS,
    INSTALL_FLAGS,
    TABLE,
    InvalidOption,
    compare_installed,
    desired_fields,
    fields_for_version,
    install_reason,
    install_summary,
    overridden_fields,
    send_password,
    validate,
    version_bound_fields,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    FortiManagerClient,
    device_target,
    fortinet_argspec,
    group_target,
    resolve_fortinet_params,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import check_requirements, hide_url_credentials
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import diff_fields

HIDDEN = "<hidden>"
HIDDEN_UPDATED = "<hidden (updated)>"


def hide(obj):
    """A copy of a device object with the password replaced."""
    if obj is None:
        return {}
    out = copy.deepcopy(obj)
    if out.get("password"):
        out["password"] = HIDDEN
    return out


def diff_view(obj, password_sent=False):
    if not obj:
        return {}
    out = dict((k, obj[k]) for k in DIFF_KEYS if k in obj and k != "password")
    if password_sent:
        out["password"] = HIDDEN_UPDATED
    else:
        out["password"] = HIDDEN if obj.get("password") else ""
    return out


class Result(object):
    def __init__(self):
        self.changed = False
        self.written = False
        self.before = None
        self.after = None
        self.password_sent = False
        self.changed_fields = []
        self.install = None


# -- FortiGate, directly ----------------------------------------------------------------------------
def write_body(params, desired, current, result):
    """What to send: every field on create, the differing ones on update, and the password when
    update_password says so (FortiOS never returns it to compare). Sets result.changed_fields."""
    result.password_sent = send_password(params, current)
    if current is None:
        body = dict(desired, name=params["name"])
        result.changed_fields = sorted(body)
    else:
        result.changed_fields = diff_fields(desired, current)
        body = dict((k, desired[k]) for k in result.changed_fields)
    if result.password_sent:
        body["password"] = params["password"]
        result.changed_fields = sorted(set(result.changed_fields) | {"password"})
    return body


def run_fortigate(module, client, params, result):
    name = params["name"]
    current = client.get_entry(TABLE, name)
    result.before = current
    if params["state"] == "absent":
        result.after = None
        if current is not None:
            result.changed = True
            result.changed_fields = ["name"]
            if not module.check_mode:
                client.delete(TABLE, name)
                result.written = True
        return
    desired = desired_fields(params)
    if version_bound_fields(desired):
        desired = fields_for_version(desired, client.system_status()["version"])
    body = write_body(params, desired, current, result)
    result.changed = current is None or bool(body)
    if not result.changed:
        result.after = current
        return
    if module.check_mode:
        result.after = predicted(current, body, name)
        return
    if current is None:
        client.create(TABLE, body)
    else:
        client.update(TABLE, name, body)
    result.written = True
    result.after = client.get_entry(TABLE, name)


def predicted(current, body, name):
    after = copy.deepcopy(current) if current else {"name": name}
    after.update(body)
    return after


# -- FortiManager -----------------------------------------------------------------------------------
def fmg_object_url(adom, name=None):
    url = "/pm/config/adom/%s/obj/%s" % (adom, TABLE)
    return url if name is None else "%s/%s" % (url, name)


def fmg_get_object(client, adom, name):
    try:
        return client.call("get", fmg_object_url(adom, name))
    except KnocknocError as err:
        code = err.details.get("jsonrpc_code")
        if code == -3:
            return None
        if code == -6:
            raise KnocknocError(None, "ADOM %s does not exist on FortiManager (JSON-RPC status -6 on get %s)" % (
                adom, fmg_object_url(adom, name)), description="FortiManager rejected the request",
                hint="Check adom: it must name an ADOM exactly as FortiManager shows it.", details=err.details)
        raise


def fmg_scope(client, params, adom, vdom):
    """The install scope: the named targets in ``vdom``, or the package's installation targets."""
    package = params["package"]
    try:
        pkg = client.call("get", "/pm/pkg/adom/%s/%s" % (adom, package))
    except KnocknocError as err:
        if err.details.get("jsonrpc_code") in (-3, -6):
            raise KnocknocError(None, "policy package %s does not exist in ADOM %s" % (package, adom),
                                description="FortiManager rejected the request",
                                hint="Set package to a policy package of the ADOM (FortiManager's default is"
                                     " 'default').", details=err.details)
        raise
    targets = params.get("targets")
    if not targets:
        scope = (pkg or {}).get("scope member") if isinstance(pkg, dict) else None
        if not scope:
            raise KnocknocError(None, "policy package %s of ADOM %s has no installation targets" % (package, adom),
                                description="Nothing to install on",
                                hint="Give targets (device names or serial numbers), or set install=false.")
        return [dict((k, v) for k, v in item.items() if k in ("name", "vdom")) for item in scope]
    devices = client.call("get", "/dvmdb/adom/%s/device" % adom, fields=["name", "sn", "vdom"]) or []
    scope = []
    for target in targets:
        found = [d for d in devices if isinstance(d, dict) and target in (d.get("name"), d.get("sn"))]
        if not found:
            raise KnocknocError(202101, cause="no FortiGate named %s (name or serial number) in ADOM %s" % (target, adom),
                                details={"target": target, "adom": adom})
        device = found[0]
        vdoms = [v.get("name") for v in device.get("vdom") or [] if isinstance(v, dict)]
        if vdoms and vdom not in vdoms:
            raise KnocknocError(None, "FortiGate %s has no VDOM %s (it has %s)" % (device["name"], vdom,
                                                                                   ", ".join(vdoms)),
                                description="Invalid option", hint="Set vdom to a VDOM of every target.",
                                details={"target": target, "vdom": vdom})
        member = {"name": device["name"], "vdom": vdom}
        if member not in scope:
            scope.append(member)
    return scope


def fmg_out_of_sync(client, adom, vdom, scope, name, desired, overridden):
    """The FortiGates of ``scope`` that lack the resource as ``desired`` (read through the proxy)."""
    by_vdom = {}
    for member in scope:
        if "vdom" in member:
            by_vdom.setdefault(member["vdom"], []).append(device_target(adom, member["name"]))
        else:
            by_vdom.setdefault(vdom, []).append(group_target(adom, member["name"]))
    problems = []
    for member_vdom, targets in sorted(by_vdom.items()):
        resource = "/api/v2/cmdb/%s/%s?vdom=%s" % (TABLE, quote(name, safe=""), quote(member_vdom, safe=""))
        for item in client.proxy("get", resource, targets=targets):
            where = "%s (%s)" % (item["target"], member_vdom)
            if item["status_code"] != 0:
                problems.append("%s: %s" % (where, item["status_message"] or "unreachable"))
                continue
            response = item["response"] if isinstance(item["response"], dict) else {}
            results = response.get("results")
            entry = results[0] if item["ok"] and isinstance(results, list) and results else None
            problem = compare_installed(desired, overridden, entry)
            if problem:
                problems.append("%s: %s" % (where, problem))
    return problems


def run_fortimanager(module, client, params, resolved, result):
    adom, vdom, name = resolved["adom"], resolved["vdom"], params["name"]
    current = fmg_get_object(client, adom, name)
    result.before = current
    absent = params["state"] == "absent"
    desired = {} if absent else desired_fields(params)
    body = None
    if absent:
        if current is not None:
            result.changed_fields = ["name"]
    else:
        body = write_body(params, desired, current, result) or None
    object_changes = bool(result.changed_fields)

    # Everything the install needs is read before the first write, so that bad targets fail early.
    scope, reason = None, None
    if params["install"] and (object_changes or not absent):
        scope = fmg_scope(client, params, adom, vdom)
        problems = []
        if not object_changes:
            problems = fmg_out_of_sync(client, adom, vdom, scope, name, desired, overridden_fields(current))
        reason = install_reason(object_changes, absent, problems)
    result.changed = object_changes or reason is not None
    if absent:
        result.after = None
    elif body is not None and module.check_mode:
        result.after = predicted(current, body, name)
    else:
        result.after = current
    if not result.changed or module.check_mode:
        return

    with client.workspace(adom) as locked:
        if object_changes:
            if absent:
                client.call("delete", fmg_object_url(adom, name))
            elif current is None:
                client.call("add", fmg_object_url(adom), data=body)
            else:
                client.call("update", fmg_object_url(adom, name), data=dict(body, name=name))
            result.written = True
        if reason is not None:
            if locked and object_changes:
                # FortiManager installs what is saved: commit before the install, still holding the lock
                # so that no one else's half-done change is installed with ours.
                client.call("exec", "/dvmdb/adom/%s/workspace/commit" % adom)
            try:
                task = client.install_package(adom, params["package"], scope, flags=INSTALL_FLAGS)
            except KnocknocError as err:
                err.details["install_reason"] = reason
                raise
            result.written = True
            result.install = install_summary(task, scope, reason)
    if not absent:
        result.after = fmg_get_object(client, adom, name)


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
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_requirements(module)
    hide_url_credentials(module)
    params = module.params
    try:
        validate(params)
    except InvalidOption as exc:
        module.fail_json(msg=str(exc), changed=False)

    result = Result()
    try:
        resolved = resolve_fortinet_params(params)
        if resolved.get("use_fortimanager"):
            client = FortiManagerClient.from_params(resolved)
            client.lock_timeout = params["lock_timeout"]
            client.add_secret(params["password"])
            run_fortimanager(module, client, params, resolved, result)
        else:
            client = FortiGateClient.from_params(resolved)
            client.add_secret(params["password"])
            run_fortigate(module, client, params, result)
    except InvalidOption as exc:
        module.fail_json(msg=str(exc), changed=result.written)
    except KnocknocError as err:
        module.fail_json(changed=result.written, **err.fail_kwargs())

    output = {
        "changed": result.changed,
        "resource": hide(result.after),
        "changed_fields": sorted(result.changed_fields),
    }
    if result.changed:
        output["diff"] = {"before": diff_view(result.before),
                          "after": diff_view(result.after, result.password_sent)}
    if result.install is not None:
        output["install"] = result.install
    module.exit_json(**output)


if __name__ == "__main__":
    main()
