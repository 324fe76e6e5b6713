# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment(object):
    """Attributes of the collection's modules (check mode, diff mode, idempotency, action groups)."""

    # Standard documentation fragment: modules set "support" for each attribute.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # For read-only modules (*_info).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""

    ACTIONGROUP_FORTIGATE = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/knocknoc.fortinet.fortigate) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - knocknoc.fortinet.fortigate
"""

    ACTIONGROUP_FORTIMANAGER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/knocknoc.fortinet.fortimanager) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - knocknoc.fortinet.fortimanager
"""

    ACTIONGROUP_KNOCKNOC = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/knocknoc.fortinet.knocknoc) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - knocknoc.fortinet.knocknoc
"""

    # Modules that reach a FortiGate directly or through FortiManager: both groups, whose connection
    # dicts (fortigate, fortimanager) never collide.
    ACTIONGROUP_FORTINET = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/knocknoc.fortinet.fortigate) and C(group/knocknoc.fortinet.fortimanager) in C(module_defaults) to set
        defaults for this module (O(fortigate) and O(fortimanager), for example).
    support: full
    membership:
      - knocknoc.fortinet.fortigate
      - knocknoc.fortinet.fortimanager
"""
