# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ``knocknoc.fortinet.inventory_connection``: a module connection dict (``fortigate``,
``fortimanager``) from a host's inventory variables ``fortigate_<option>`` / ``fortimanager_<option>``,
the names the inventory plugin knocknoc.fortinet.fortimanager sets (issue 12). The one place the roles
map host variables onto connections (documentation: inventory_connection.yml next to this file)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import FORTIGATE, FORTIMANAGER, api_options

APIS = {"fortigate": FORTIGATE, "fortimanager": FORTIMANAGER}


def inventory_connection(host_vars, api="fortigate"):
    """The ``api`` connection dict from ``host_vars`` (e.g. ``hostvars[inventory_hostname]``): each option
    whose ``<api>_<option>`` variable is defined and not null; ``{}`` for a host without any."""
    if api not in APIS:
        raise AnsibleFilterError("knocknoc.fortinet.inventory_connection: api must be fortigate or fortimanager, not %r" % (api,))
    result = {}
    for option in api_options(APIS[api]):
        name = "%s_%s" % (api, option)
        # Membership first: reading a variable templates it, and only the connection's are read.
        if name in host_vars and host_vars[name] is not None:
            result[option] = host_vars[name]
    return result


class FilterModule(object):
    """The inventory filter."""

    def filters(self):
        return {"inventory_connection": inventory_connection}
