#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: knocknoc_grant_info
short_description: List the current grants of a Knoc on a Knocknoc server
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Lists the grants a Knoc currently holds (who has access from which address, and until when), optionally only those
    of one user or one address, and the distinct granted addresses.
  - B(The grant API this module talks to is modelled.) Knocknoc publishes no grant API; this collection defines one
    (C(/api/v1/knocs/<id>/grants), bearer token, JSON) and its lab implements it, as for
    M(knocknoc.fortinet.knocknoc_knoc). A Knocknoc server that does not serve it answers HTTP 404 and the module fails
    with "management API not available on this server". The documented way to read who has access is the allowlist,
    with M(knocknoc.fortinet.knocknoc_allowlist_info).
extends_documentation_fragment:
  - knocknoc.fortinet.knocknoc
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.INFO_MODULE
  - knocknoc.fortinet.attributes.ACTIONGROUP_KNOCKNOC
options:
  knoc:
    description:
      - The name of the Knoc, exactly as the server holds it (names are case-sensitive). A missing Knoc is an error.
    type: str
    required: true
  username:
    description:
      - Only the grants of this user (compared exactly).
    type: str
    aliases: [user]
  ip:
    description:
      - Only the grants of this address (one IPv4 or IPv6 address, compared in canonical form).
    type: str
seealso:
  - module: knocknoc.fortinet.knocknoc_grant
  - module: knocknoc.fortinet.knocknoc_allowlist_info
"""

EXAMPLES = r"""
- name: Who holds a grant on the Knoc
  knocknoc.fortinet.knocknoc_grant_info:
    url: https://knocknoc.example.com
    token: "{{ vault_knocknoc_admin_token }}"
    knoc: fw-edge
  register: grants

- name: Show the granted addresses
  ansible.builtin.debug:
    msg: "{{ grants.grants | length }} grants for {{ grants.ips | join(', ') }}"

- name: Does alice hold a grant for her address?
  knocknoc.fortinet.knocknoc_grant_info:
    url: https://knocknoc.example.com
    token: "{{ vault_knocknoc_admin_token }}"
    knoc: fw-edge
    username: alice
    ip: 198.51.100.7
  register: alice

- name: Report it
  ansible.builtin.debug:
    msg: "{{ 'granted until ' ~ alice.grants[0].expires_at if alice.grants else 'no grant' }}"
"""

RETURN = r"""
knoc_id:
  description: The identifier of the Knoc on the server.
  returned: success
  type: int
  sample: 3
grants:
  description: The Knoc's current grants (those of O(username) and O(ip) when given), in the server's order.
  returned: success
  type: list
  elements: dict
  sample: [{"id": 12, "knoc_id": 3, "username": "alice", "ip": "198.51.100.7",
            "created_at": "2026-01-05T10:00:00Z", "expires_at": "2026-01-05T10:30:00Z"}]
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
      description: The granted address.
      type: str
    created_at:
      description: When the grant was created (ISO 8601, UTC).
      type: str
    expires_at:
      description: When the grant ends (ISO 8601, UTC).
      type: str
ips:
  description:
    - The distinct addresses of RV(grants), in canonical form (IPv6 compressed), in grant order. An address that several
      users hold appears once, as on the Knoc's allowlist.
  returned: success
  type: list
  elements: str
  sample: [198.51.100.7, "2001:db8::7"]
"""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient, knocknoc_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocs import (
    grant_ip,
    granted_ips,
    matching_grants,
    require_knoc,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def main():
    argument_spec = knocknoc_argspec(
        knoc=dict(type="str", required=True),
        username=dict(type="str", aliases=["user"]),
        ip=dict(type="str"),
    )
    module = KnocknocModule(argument_spec=argument_spec, supports_check_mode=True)
    check_module(module, "knocknoc_grant_info")
    p = module.params
    try:
        ip = grant_ip(p["ip"]) if p["ip"] is not None else None
        client = KnocknocClient.from_params(p)
        knoc_id = require_knoc(client, p["knoc"])["id"]
        grants = matching_grants(client.list_grants(knoc_id), p["username"], ip)
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(changed=False, knoc_id=knoc_id, grants=grants, ips=granted_ips(grants))


if __name__ == "__main__":
    main()
