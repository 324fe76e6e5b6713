# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the module knocknoc.fortinet.knocknoc_grant_info in the controller process when the connection is local
(see plugins/plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    pass
