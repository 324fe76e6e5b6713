#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: knocknoc_grant
short_description: Grant or end a user's access from one address on a Knoc of a Knocknoc server
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Ensures that a user holds a grant for one source address on a Knoc (O(state=present)), or that the user holds none
    for that address (O(state=absent)). A grant is what a user's Knocknoc sign-in creates; while it lasts, the address
    is on the Knoc's allowlist (Passive, Passive+) or on the device (Active).
  - Idempotent on the user and the address. An existing grant for them is left as it is (its expiry is not extended);
    O(state=absent) ends every grant the user holds for the address.
  - B(The grant API this module talks to is modelled.) Knocknoc publishes no API to create or end a grant (users sign
    in); this collection defines one (C(/api/v1/knocs/<id>/grants), bearer token, JSON) and its lab implements it, as
    for M(knocknoc.fortinet.knocknoc_knoc). A Knocknoc server that does not serve it answers HTTP 404 and the module
    fails with "management API not available on this server".
extends_documentation_fragment:
  - knocknoc.fortinet.knocknoc
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_KNOCKNOC
attributes:
  check_mode:
    support: full
    details:
      - Reads the Knoc and its grants and reports what would change; creates and ends nothing.
  diff_mode:
    support: full
    details:
      - The user's grants for the address before and after.
  idempotent:
    support: full
options:
  knoc:
    description:
      - The name of the Knoc, exactly as the server holds it (names are case-sensitive). A missing Knoc is an error.
    type: str
    required: true
  username:
    description:
      - The user the grant is for, compared exactly.
    type: str
    required: true
    aliases: [user]
  ip:
    description:
      - The user's source address, one IPv4 or IPv6 address (no prefix length). Compared in canonical form, so
        V(2001:DB8::7) and V(2001:db8::7) are the same address.
    type: str
    required: true
  duration_minutes:
    description:
      - How long a new grant lasts, in minutes. Unset or V(0) means the Knoc's grant period (or the server's default).
      - The server shortens it to the Knoc's grant period when the Knoc has one.
      - Only used when a grant is created.
    type: int
  state:
    description:
      - V(present) creates a grant when the user holds none for the address; V(absent) ends the user's grants for it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: knocknoc.fortinet.knocknoc_grant_info
  - module: knocknoc.fortinet.knocknoc_knoc
"""

EXAMPLES = r"""
- name: Just-in-time access for alice
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.knocknoc:
      url: https://knocknoc.example.com
      token: "{{ vault_knocknoc_admin_token }}"
  tasks:
    - name: Grant alice's address for 30 minutes
      knocknoc.fortinet.knocknoc_grant:
        knoc: fw-edge
        username: alice
        ip: 198.51.100.7
        duration_minutes: 30
      register: grant

    - name: Show when it ends
      ansible.builtin.debug:
        msg: "Granted until {{ grant.grant.expires_at }}"

    - name: End it again
      knocknoc.fortinet.knocknoc_grant:
        knoc: fw-edge
        username: alice
        ip: 198.51.100.7
        state: absent
"""

RETURN = r"""
knoc_id:
  description: The identifier of the Knoc on the server.
  returned: success
  type: int
  sample: 3
grant:
  description:
    - The user's grant for the address after the task; V(null) when O(state=absent).
    - In check mode, a grant that would be created holds only RV(grant.knoc_id), RV(grant.username) and RV(grant.ip).
  returned: success
  type: dict
  sample: {"id": 12, "knoc_id": 3, "username": "alice", "ip": "198.51.100.7",
           "created_at": "2026-01-05T10:00:00Z", "expires_at": "2026-01-05T10:30:00Z"}
  contains:
    id:
      description: The server's identifier of the grant.
      type: int
    knoc_id:
      description: The Knoc's identifier.
      type: int
    username:
      description: The user.
      type: str
    ip:
      description: The granted address, in canonical form.
      type: str
    created_at:
      description: When the grant was created (ISO 8601, UTC).
      type: str
    expires_at:
      description: When the grant ends (ISO 8601, UTC).
      type: str
removed:
  description: The grants that O(state=absent) ended (or, in check mode, would end); empty otherwise.
  returned: success
  type: list
  elements: dict
  sample: [{"id": 12, "knoc_id": 3, "username": "alice", "ip": "198.51.100.7"}]
diff:
  description: The user's grants for the address before and after.
  returned: success
  type: dict
  sample: {"before": {"grants": []}, "after": {"grants": [{"username": "alice", "ip": "198.51.100.7"}]}}
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient, knocknoc_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocs import (
    grant_ip,
    invalid,
    matching_grants,
    require_knoc,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def run(client, p, check):
    username = p["username"]
    if not username or not username.strip():
        raise invalid("username must not be empty")
    ip = grant_ip(p["ip"])
    if p["duration_minutes"] is not None and p["duration_minutes"] < 0:
        raise invalid("duration_minutes must be 0 (the Knoc's grant period) or a positive number of minutes")
    knoc_id = require_knoc(client, p["knoc"])["id"]
    before = matching_grants(client.list_grants(knoc_id), username, ip)
    result = {"changed": False, "knoc_id": knoc_id, "grant": None, "removed": []}
    after = []
    if p["state"] == "present":
        if before:
            result["grant"] = before[0]
            after = before
        else:
            result["changed"] = True
            grant = {"knoc_id": knoc_id, "username": username, "ip": ip}
            if not check:
                grant = client.create_grant(knoc_id, username, ip, p["duration_minutes"] or None)
            result["grant"] = grant
            after = [grant]
    elif before:
        result.update(changed=True, removed=before)
        if not check:
            for grant in before:
                client.delete_grant(knoc_id, grant["id"])  # False when it ended meanwhile: fine
    result["diff"] = {"before": {"grants": before}, "after": {"grants": after}}
    return result


def main():
    argument_spec = knocknoc_argspec(
        knoc=dict(type="str", required=True),
        username=dict(type="str", required=True, aliases=["user"]),
        ip=dict(type="str", required=True),
        duration_minutes=dict(type="int"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "knocknoc_grant")
    try:
        client = KnocknocClient.from_params(module.params)
        result = run(client, module.params, module.check_mode)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
