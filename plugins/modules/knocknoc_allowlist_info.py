#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: knocknoc_allowlist_info
short_description: Read a Knocknoc allowlist (EDL)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Reads the allowlist (external dynamic list) of a Passive or Passive+ Knoc, the list of currently granted source
    addresses that FortiGates poll, and returns its entries.
  - This is Knocknoc's documented interface, C(GET https://<server>/api/v1/allowlists/<aclId>/<token>.<format>) with
    HTTP basic auth (any username, the allowlist API key as password); it works against any Knocknoc server.
  - The body is read the way Knocknoc's own Traefik plugin reads it, one entry per line, blank lines and C(#) comments
    skipped, lines that are not an IP address or network skipped and reported in RV(skipped_lines).
  - Each read is logged by the server as an C(AllowlistRetrieved) event.
extends_documentation_fragment:
  - knocknoc.fortinet.knocknoc
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.INFO_MODULE
  - knocknoc.fortinet.attributes.ACTIONGROUP_KNOCKNOC
options:
  url:
    description:
      - The full allowlist URL, as shown by the Knoc (RV(knocknoc.fortinet.knocknoc_knoc#module:allowlist_url)), for
        example V(https://example.knoc.cloud/api/v1/allowlists/<aclId>/<token>.txt). A V(.json) URL is read as JSON.
      - Must start with V(https://). Credentials in the URL (V(https://user:key@...)) are refused; use O(api_key).
      - The token in the URL's path is a secret. The module never shows it (results, messages and the echoed
        arguments show C(<redacted>) in its place).
      - If not set, the value of the E(KNOCKNOC_URL) environment variable is used. O(knocknoc.url), the server URL, is
        not used.
    type: str
    required: true
  knocknoc:
    description:
      - The Knocknoc server connection, as C(module_defaults) of the C(knocknoc) group sets it. Only its TLS and timeout
        keys apply here; O(url) is the allowlist's own URL.
  token:
    description:
      - Not used by this module (an allowlist is read with O(api_key)); accepted so that C(module_defaults) of the
        C(knocknoc) group apply.
  api_key:
    description:
      - The allowlist API key (C(Read Allowlists) scope), sent as the HTTP basic auth password.
    type: str
    required: true
  username:
    description:
      - The HTTP basic auth username. Knocknoc accepts any value.
    type: str
    default: apikey
seealso:
  - module: knocknoc.fortinet.knocknoc_knoc
  - name: Knocknoc allowlist (EDL)
    description: The documented allowlist endpoint and its API keys.
    link: https://docs.knocknoc.io/books/admin-guide/page/allowlist-edls
"""

EXAMPLES = r"""
- name: Who has access right now
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.knocknoc:
      url: https://knocknoc.example.com
      ca_path: /etc/pki/knocknoc-ca.pem
  tasks:
    - name: Read the allowlist of a Knoc
      knocknoc.fortinet.knocknoc_allowlist_info:
        url: "{{ edl_url }}"
        api_key: "{{ vault_edl_key }}"
      register: edl

    - name: Show it
      ansible.builtin.debug:
        msg: "{{ edl.count }} address(es): {{ edl.entries | join(', ') }}"
"""

RETURN = r"""
entries:
  description:
    - The entries, in the order served, in canonical form (an address without C(/32) or C(/128), IPv6 compressed,
      networks as C(address/len)). An address that several users share appears once (Knocknoc's LOOTOTL).
  returned: success
  type: list
  elements: str
  sample: [203.0.113.5, 198.51.100.0/24, "2001:db8::7"]
count:
  description: Number of RV(entries).
  returned: success
  type: int
  sample: 3
skipped_lines:
  description:
    - Lines (or JSON items) that are not an IP address or network, skipped as Knocknoc's Traefik plugin does.
    - Earlier versions called it C(skipped), a name Ansible reserves (it marked the task as skipped).
  returned: success
  type: list
  elements: str
  sample: [not-an-ip]
format:
  description: How the allowlist was read, V(txt) or V(json) (from the C(Content-Type) or the URL suffix).
  returned: success
  type: str
  sample: txt
"""

import ipaddress

from ansible.module_utils.basic import env_fallback

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import resolve_knocknoc_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError, allowlist_tokens, redact
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import tls_kwargs
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient, knocknoc_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import check_module


def canonical(entry):
    """(canonical text, None) or (text, why it looks wrong) for an entry the parser accepted."""
    try:
        return canonical_entry(entry, max_prefix_v4=0, max_prefix_v6=0), None
    except ValueError as exc:
        # Valid for a consumer (FortiOS reads it) but unusual: /0, host bits set, multicast.
        network = ipaddress.ip_network(entry, strict=False)
        text = str(network.network_address) if network.num_addresses == 1 else str(network)
        return text, str(exc)


def main():
    argument_spec = knocknoc_argspec(
        # The allowlist itself, not the server: never taken from the knocknoc dict.
        url=dict(type="str", required=True, fallback=(env_fallback, ["KNOCKNOC_URL"])),
        api_key=dict(type="str", required=True, no_log=True),
        username=dict(type="str", default="apikey"),
    )
    module = KnocknocModule(argument_spec, supports_check_mode=True)
    check_module(module, "knocknoc_allowlist_info")
    p = module.params
    try:
        # The URL is the allowlist itself; the client refuses plain HTTP and user:password@, and scrubs
        # the URL's token from its errors.
        client = KnocknocClient(p["url"], secrets=allowlist_tokens(p["url"]), url_path=True,  # one full URL
                                **tls_kwargs(resolve_knocknoc_params(p)))
        entries = client.allowlist(client.base_url, p["api_key"], p["username"])
    except KnocknocError as err:
        # A URL with credentials must not come back in the module's invocation either.
        p["url"] = redact(p["url"], p["api_key"])
        module.fail_json(**err.fail_kwargs())
    canonical_entries = []
    for entry in entries:
        text, why = canonical(entry)
        canonical_entries.append(text)
        if why:
            module.warn("The allowlist holds %s, which a FortiGate accepts but which looks wrong: %s" % (text, why))
    skipped = [redact(line, p["api_key"]) for line in client.allowlist_skipped]
    if skipped:
        module.warn("%d line(s) of the allowlist are not IP addresses or networks and were skipped" % len(skipped))
    module.exit_json(changed=False, entries=canonical_entries, count=len(canonical_entries), skipped_lines=skipped,
                     format=client.allowlist_format)


if __name__ == "__main__":
    main()
