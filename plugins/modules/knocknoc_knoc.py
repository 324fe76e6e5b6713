#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: knocknoc_knoc
short_description: Manage a Fortinet Knoc (Firewalls / Appliances) on a Knocknoc server
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Creates, updates and deletes a Knoc of type C(Firewalls / Appliances) for the Fortinet vendor, in C(Passive),
    C(Passive+) or C(Active) mode, directly on a FortiGate or through a FortiManager, with the fields of Step 1 of the
    Knocknoc Fortinet integration guide.
  - B(The management API this module talks to is modelled.) Knocknoc publishes no API to create or edit a Knoc; this
    collection defines one (C(/api/v1/knocs), bearer token, JSON) and its lab implements it. A Knocknoc server that does
    not serve it answers HTTP 404 and the module fails with "management API not available on this server". The only
    documented Knocknoc interface is the allowlist (EDL) that M(knocknoc.fortinet.knocknoc_allowlist_info) reads.
  - The Knoc is identified by O(name). Options left unset keep their current value on an existing Knoc and take the
    server default on a new one; options that do not apply to the chosen O(mode) and O(use_fortimanager) are refused,
    and cleared on the server when the Knoc switches mode.
  - A Passive or Passive+ Knoc has an allowlist whose API key (the HTTP basic auth password of the FortiGate external
    resource) the server shows only once. The module returns it in RV(allowlist_api_key) when the server shows it; see
    O(allowlist_key) to obtain one on demand.
extends_documentation_fragment:
  - knocknoc.fortinet.knocknoc
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_KNOCKNOC
attributes:
  check_mode:
    support: full
    details:
      - Reads the Knoc (and checks O(allowlist_api_key) when O(allowlist_key=ensure)) and skips every write. A key the
        server would show is not known in check mode, so RV(allowlist_api_key) is not returned.
  diff_mode:
    support: full
    details:
      - The Knoc document before and after, without secrets (the device token shows as RV(knoc.authorization_token_set)).
  idempotent:
    support: partial
    details:
      - The device token is write-only. With O(update_token=always) or O(allowlist_key=rotate) every run reports a change.
options:
  name:
    description:
      - Name of the Knoc; identifies it on the server.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the Knoc, V(absent) deletes it (its allowlist URL stops working).
    type: str
    choices: [present, absent]
    default: present
  mode:
    description:
      - The Application Type. V(passive) publishes an allowlist that FortiGates poll (no agent, no device access).
        V(passive_plus) adds a push of each change through the agent to the FortiGates (directly or through FortiManager).
        V(active) has the agent edit an address group on a FortiGate, or trusted host 10 of FortiManager admins when
        O(use_fortimanager=true).
      - Required when O(state=present).
    type: str
    choices: [passive, passive_plus, active]
  use_fortimanager:
    description:
      - The guide's "I am using a FortiManager" setting. V(false) targets a FortiGate directly.
    type: bool
    default: false
  device_url:
    description:
      - FortiGate or FortiManager URL the agent talks to, for example V(https://fw.example.com).
      - Required in V(passive_plus) and V(active) modes; refused in V(passive) mode (no device access).
      - Must be V(https://) and must not contain credentials.
    type: str
  insecure:
    description:
      - Knocknoc's C(Insecure) setting; the agent accepts a device certificate not signed by a trusted CA.
      - Only V(false) is accepted in V(passive) mode.
    type: bool
    default: false
  authorization_token:
    description:
      - API key of the device's REST API administrator, for the agent.
      - Required in V(passive_plus) and V(active) modes; refused in V(passive) mode.
      - Write-only, the server never returns it, so a changed token cannot be detected; see O(update_token).
    type: str
  update_token:
    description:
      - V(on_create) sends O(authorization_token) only when the Knoc is created or does not hold a token yet (for
        example when it switches from V(passive) to a mode with device access). Re-runs stay unchanged.
      - V(always) sends it on every run, to replace a rotated device token; every run then reports a change.
    type: str
    choices: [always, on_create]
    default: on_create
  adom:
    description:
      - FortiManager ADOM. Only with O(use_fortimanager=true). The server default is V(root); V("") also means V(root).
    type: str
  external_connector_name:
    description:
      - Name of the FortiGate external resource (threat feed) that Passive+ pushes to; must match it exactly.
      - Required in V(passive_plus) mode and refused otherwise. At most 35 characters (the FortiOS limit).
    type: str
  device_targets:
    description:
      - FortiManager device targets of the push (device serial numbers or group names). Empty means all FortiGates of
        the ADOM.
      - Only with O(use_fortimanager=true) in V(passive) and V(passive_plus) modes. Compared without regard to order.
    type: list
    elements: str
  address_group:
    description:
      - FortiGate address group that the agent adds user addresses to; must match it exactly.
      - Required in V(active) mode on a FortiGate (O(use_fortimanager=false)) and refused otherwise. At most 79 characters.
    type: str
  prefix:
    description:
      - Prefix of the address objects the agent creates (server default V(kk_)).
      - Only in V(active) mode on a FortiGate. At most 40 characters, so that prefix and address fit a FortiOS name.
    type: str
  vdom:
    description:
      - FortiGate VDOM (server default V(root); V("") also means V(root)).
      - Only on a FortiGate (O(use_fortimanager=false)) in V(passive_plus) and V(active) modes.
    type: str
  description:
    description:
      - Free text. The server default is empty.
    type: str
  grant_duration_minutes:
    description:
      - The Knoc's grant period, shorter than the users' default session. V(0) removes the override.
    type: int
  allowlist_ip_restrictions:
    description:
      - Source addresses (CIDRs) allowed to read the allowlist with its API key. The server default is the whole IPv4
        and IPv6 Internet, which the Knocknoc docs advise narrowing to the FortiGates' addresses (a warning says so).
      - Only in V(passive) and V(passive_plus) modes. Compared as sets of networks.
    type: list
    elements: str
  allowlist_key:
    description:
      - How to handle the allowlist API key of a V(passive) or V(passive_plus) Knoc. The server shows a key only when
        it creates one.
      - V(keep) never replaces the key. RV(allowlist_api_key) is returned only when the server creates the allowlist
        (with the Knoc, or when the Knoc switches to an allowlist mode).
      - V(rotate) replaces the key on every run and returns the new one; the old key stops working at once, so every
        FortiGate external resource must get the new one. Every run reports a change.
      - V(ensure) returns a working key with as few rotations as possible. It checks O(allowlist_api_key) against the
        allowlist (one authenticated C(GET) of the allowlist URL, logged by the server as C(AllowlistRetrieved)); if the
        key is accepted nothing changes and RV(allowlist_api_key) is not returned (the key is the one you passed),
        otherwise (or when O(allowlist_api_key) is not given) the key is rotated and the new one is returned. The host
        running the module must be inside O(allowlist_ip_restrictions) for the check.
      - V(rotate) and V(ensure) are refused in V(active) mode (no allowlist).
    type: str
    choices: [keep, rotate, ensure]
    default: keep
  allowlist_api_key:
    description:
      - The allowlist API key you hold, checked when O(allowlist_key=ensure), for example from a vault or from a previous
        run's RV(allowlist_api_key). Only used with O(allowlist_key=ensure).
    type: str
  return_allowlist_url:
    description:
      - Return the allowlist URL in clear in RV(allowlist_url), for a task that configures the FortiGate external
        resource from it. The URL carries its own secret token in the path, so set C(no_log=true) on that task.
      - With V(false), RV(allowlist_url) shows the URL with its token replaced by C(<redacted>), as RV(knoc) and the
        diff always do.
    type: bool
    default: false
notes:
  - RV(allowlist_api_key) and, with O(return_allowlist_url=true), RV(allowlist_url) are secrets. Return values cannot
    be marked C(no_log), so set C(no_log=true) on the task and pass the registered value on (see the examples). The
    module never puts the key, the allowlist URL's token or the device token in C(msg), warnings, C(diff) or RV(knoc).
seealso:
  - module: knocknoc.fortinet.knocknoc_allowlist_info
  - name: Knocknoc Fortinet integration
    description: The Knoc configuration fields (Step 1 of each mode).
    link: https://docs.knocknoc.io/books/admin-guide/page/fortinet
"""

EXAMPLES = r"""
- name: Knocknoc Knocs
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.knocknoc:
      url: https://knocknoc.example.com
      token: "{{ vault_knocknoc_admin_token }}"
  tasks:
    - name: Passive+ Knoc on a FortiGate; keep a working allowlist key
      knocknoc.fortinet.knocknoc_knoc:
        name: fw-edge
        mode: passive_plus
        device_url: https://fw.example.com
        authorization_token: "{{ vault_fortigate_token }}"
        external_connector_name: knocknoc-users
        allowlist_ip_restrictions:
          - 198.51.100.10/32
        allowlist_key: ensure
        allowlist_api_key: "{{ vault_edl_key | default(omit) }}"
        return_allowlist_url: true
      register: knoc
      no_log: true  # the result carries the allowlist API key and URL

    - name: The FortiGate polls the allowlist with that key
      knocknoc.fortinet.fortinet_external_resource:
        url: https://fw.example.com
        token: "{{ vault_fortigate_token }}"
        name: knocknoc-users
        resource: "{{ knoc.allowlist_url }}"
        username: "{{ knoc.allowlist_username }}"
        password: "{{ knoc.allowlist_api_key | default(vault_edl_key) }}"

    - name: Active Knoc on a FortiGate (address group)
      knocknoc.fortinet.knocknoc_knoc:
        name: fw-active
        mode: active
        device_url: https://fw.example.com
        authorization_token: "{{ vault_fortigate_token }}"
        address_group: knocknoc_users
        vdom: root
        grant_duration_minutes: 480

    - name: Active Knoc on FortiManager (trusted host 10 of admin users)
      knocknoc.fortinet.knocknoc_knoc:
        name: fmg-admins
        mode: active
        use_fortimanager: true
        device_url: https://fmg.example.com
        authorization_token: "{{ vault_fortimanager_token }}"

    - name: Passive Knoc for FortiGates managed by FortiManager
      knocknoc.fortinet.knocknoc_knoc:
        name: branch-edl
        mode: passive
        use_fortimanager: true
        adom: emea
        device_targets: [FGVM01TM24000003]
        description: Branch offices poll this list

    - name: Remove a Knoc
      knocknoc.fortinet.knocknoc_knoc:
        name: old-knoc
        state: absent
"""

RETURN = r"""
knoc:
  description:
    - The Knoc as the server holds it after the run. In check mode, as it would be; the fields the server assigns to a
      new Knoc (RV(knoc.id), RV(knoc.allowlist_url)) are then V(null). Empty when O(state=absent).
    - Never holds a secret (the token of RV(knoc.allowlist_url) shows as C(<redacted>)).
  returned: always
  type: dict
  sample:
    id: 3
    name: fw-edge
    type: firewalls_appliances
    mode: passive_plus
    vendor: fortinet
    use_fortimanager: false
    device_url: https://fw.example.com
    insecure: false
    authorization_token_set: true
    adom: null
    external_connector_name: knocknoc-users
    device_targets: null
    address_group: null
    prefix: null
    vdom: root
    description: ""
    grant_duration_minutes: null
    allowlist_ip_restrictions: [198.51.100.10/32]
    allowlist_url: https://knocknoc.example.com/api/v1/allowlists/0c9f6a8e-1f4e-4c52-9d7e-2f0b8f1d3a11/<redacted>.txt
  contains:
    id:
      description: Server-assigned identifier.
      type: int
    authorization_token_set:
      description: Whether the Knoc holds a device token (the token itself is never returned).
      type: bool
    allowlist_url:
      description: The allowlist URL with its token redacted, V(null) in V(active) mode.
      type: str
allowlist_url:
  description:
    - The allowlist (EDL) URL for the FortiGate external resource; V(null) in V(active) mode, when absent, or for a Knoc
      not created yet (check mode).
    - B(A secret) with O(return_allowlist_url=true) (the token in its path opens the allowlist to anyone who also has
      the API key); set C(no_log=true) on the task. Otherwise its token shows as C(<redacted>).
  returned: always
  type: str
  sample: https://knocknoc.example.com/api/v1/allowlists/0c9f6a8e-1f4e-4c52-9d7e-2f0b8f1d3a11/<redacted>.txt
allowlist_username:
  description: The HTTP basic auth username for the allowlist (Knocknoc accepts any; V(apikey) by convention).
  returned: when the Knoc has, or would have, an allowlist
  type: str
  sample: apikey
allowlist_api_key:
  description:
    - The allowlist API key, the HTTP basic auth password for the FortiGate external resource. A secret; use C(no_log)
      on the task.
    - Returned only when the server showed it during this run (RV(allowlist_key_status) is V(new) or V(rotated)), never
      in check mode.
  returned: when the server created or rotated the key
  type: str
  sample: 3q2-7w...
allowlist_key_status:
  description:
    - V(new) the allowlist (and its key) was created in this run; V(rotated) the key was replaced; V(verified)
      O(allowlist_api_key) works and was kept; V(unchanged) the key was left alone and is not known to the module;
      V(none) the Knoc has no allowlist (V(active) mode, or absent).
    - In check mode, the status the run would have.
  returned: always
  type: str
  sample: new
changes:
  description: The Knoc fields this run set or would set (V(authorization_token) when the token was sent to an existing
    Knoc); all fields sent on creation; empty when nothing changed or the Knoc was deleted.
  returned: always
  type: list
  elements: str
  sample: [description, grant_duration_minutes]
diff:
  description: The Knoc before and after (without secrets), as in RV(knoc).
  returned: always
  type: dict
  sample:
    before: {}
    after: {name: fw-edge, mode: passive_plus}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import resolve_knocknoc_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError, redact
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient, knocknoc_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocs import (
    ALLOWLIST_MODES,
    clean,
    desired_state,
    find,
    invalid,
    present,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = knocknoc_argspec(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        mode=dict(type="str", choices=["passive", "passive_plus", "active"]),
        use_fortimanager=dict(type="bool", default=False),
        device_url=dict(type="str"),
        insecure=dict(type="bool", default=False),
        authorization_token=dict(type="str", no_log=True),
        update_token=dict(type="str", choices=["always", "on_create"], default="on_create", no_log=False),
        adom=dict(type="str"),
        external_connector_name=dict(type="str"),
        device_targets=dict(type="list", elements="str"),
        address_group=dict(type="str"),
        prefix=dict(type="str"),
        vdom=dict(type="str"),
        description=dict(type="str"),
        grant_duration_minutes=dict(type="int"),
        allowlist_ip_restrictions=dict(type="list", elements="str"),
        allowlist_key=dict(type="str", choices=["keep", "rotate", "ensure"], default="keep", no_log=False),
        allowlist_api_key=dict(type="str", no_log=True),
        return_allowlist_url=dict(type="bool", default=False),
    )
    module = KnocknocModule(argument_spec, supports_check_mode=True, required_if=[("state", "present", ["mode"])])
    check_module(module, "knocknoc_knoc")
    p = module.params
    if p["return_allowlist_url"]:
        module.secret_results = ("allowlist_url",)  # asked for; the base redacts it everywhere else
    secrets = [p["token"], p["authorization_token"], p["allowlist_api_key"]]
    warnings = []
    try:
        if p["state"] == "present":
            desired_state(p)  # every option checked before the first request
        if not resolve_knocknoc_params(p)["token"]:
            raise invalid("token is required for the Knocknoc management API (or set KNOCKNOC_TOKEN)")
        client = KnocknocClient.from_params(p)
        for secret in secrets:
            client.add_secret(secret)
        allowlist = None
        result = {"allowlist_key_status": "none"}
        if p["state"] == "absent":
            current = find(client, p["name"].strip())
            changed, before, after, changes = current is not None, current, {}, []
            if current is not None and not module.check_mode:
                client.delete_knoc(current["id"])
        else:
            changed, before, after, changes, allowlist, result = present(client, p, module.check_mode)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())

    after = clean(after)
    if allowlist and allowlist.get("url"):
        after["allowlist_url"] = allowlist["url"]
    result.update(changed=changed, knoc=after, allowlist_url=after.get("allowlist_url"), changes=changes,
                  diff={"before": clean(before), "after": after})
    if after and after.get("mode") in ALLOWLIST_MODES:
        result["allowlist_username"] = (allowlist or {}).get("username") or "apikey"
        if "0.0.0.0/0" in (after.get("allowlist_ip_restrictions") or []) or "::/0" in (
                after.get("allowlist_ip_restrictions") or []):
            warnings.append("The allowlist API key of knoc %r may be used from any address: the Knocknoc docs advise"
                            " narrowing allowlist_ip_restrictions to the addresses of the FortiGates that poll it."
                            % after.get("name"))
    if allowlist and allowlist.get("api_key"):
        result["allowlist_api_key"] = allowlist["api_key"]
        secrets.append(allowlist["api_key"])
    for warning in warnings:
        module.warn(redact(warning, *secrets))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
