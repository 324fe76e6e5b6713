# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One FortiGate as the preflight checks see it: a reader (the read-only key), an agent (the
agent's key) and a label, with the CMDB tables the checks share read once.

``reader`` and ``agent`` offer the FortiGate interface (``get_table``, ``entry_list``,
``policy_lookup``, ``dynamic_push``, and for the Active test grant ``get_entry``, ``create``,
``add_member``, ``remove_member``, ``delete``), whether the FortiGate is reached directly or
through FortiManager.
"""

from __future__ import annotations


class Target(object):
    def __init__(self, reader, agent, label, vdom):
        self.reader = reader
        self.agent = agent
        self.label = label
        self.vdom = vdom
        self._cache = {}

    def table(self, path):
        """A whole CMDB table, read once per run (several checks look at the same policies)."""
        if path not in self._cache:
            self._cache[path] = self.reader.get_table(path, vdom=self.vdom)
        return self._cache[path]

    def forget(self, path):
        self._cache.pop(path, None)

    def entry_list(self, name, agent=False):
        """An external resource's list and poll status (None when the resource is absent)."""
        return (self.agent if agent else self.reader).entry_list(name, vdom=self.vdom)

    def lookup(self, params):
        return self.reader.policy_lookup(vdom=self.vdom, **params)

    def push(self, name, command, entries):
        self.agent.dynamic_push([{"name": name, "command": command, "entries": list(entries)}], vdom=self.vdom)
