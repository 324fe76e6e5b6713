# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One FortiGate as the preflight checks see it, reached directly or through FortiManager (the
shared transport, ``_fortigates``): a reader (the read-only key), an agent (the agent's key) and
a label, with the CMDB tables the checks share read once."""

from __future__ import annotations

FEED_MISSING = 202102


class SingleFortiGate(object):
    """A ``_fortigates.FortiGates`` that reaches exactly one FortiGate, with its methods returning
    that FortiGate's value and raising its error (the checks handle one FortiGate at a time)."""

    def __init__(self, fortigates):
        self.fortigates = fortigates
        self.vdom = fortigates.vdom

    @staticmethod
    def _value(outcomes):
        return outcomes[0].get()

    def system_status(self):
        return self._value(self.fortigates.system_status())

    def get_table(self, path, fields=None):
        return self._value(self.fortigates.get_table(path, fields=fields))

    def get_entry(self, path, mkey):
        return self._value(self.fortigates.get_entry(path, mkey))

    def create(self, path, data):
        return self._value(self.fortigates.create(path, data))

    def delete(self, path, mkey):
        return self._value(self.fortigates.delete(path, mkey))

    def entry_list(self, name):
        """An external resource's list and poll status; None when the resource does not exist."""
        outcome = self.fortigates.entry_list(name)[0]
        if outcome.error is not None and outcome.error.code == FEED_MISSING:
            return None
        return outcome.get()

    def policy_lookup(self, **params):
        return self._value(self.fortigates.policy_lookup(**params))

    def dynamic_push(self, commands):
        return self._value(self.fortigates.dynamic_push(commands))

    def add_member(self, path, mkey, member):
        """True when added, False when ``member`` already was one."""
        return self._value(self.fortigates.add_member(path, mkey, member))

    def remove_member(self, path, mkey, member):
        """True when removed, False when it was not a member."""
        return self._value(self.fortigates.remove_member(path, mkey, member))


class Target(object):
    """``reader`` and ``agent``: :class:`SingleFortiGate` (or the same interface) for one FortiGate."""

    def __init__(self, reader, agent, label):
        self.reader = reader
        self.agent = agent
        self.label = label
        self._cache = {}

    def table(self, path):
        """A whole CMDB table, read once per run (several checks look at the same policies)."""
        if path not in self._cache:
            self._cache[path] = self.reader.get_table(path)
        return self._cache[path]

    def forget(self, path):
        self._cache.pop(path, None)

    def entry_list(self, name, agent=False):
        """An external resource's list and poll status (None when the resource is absent)."""
        return (self.agent if agent else self.reader).entry_list(name)

    def lookup(self, params):
        return self.reader.policy_lookup(**params)

    def push(self, name, command, entries):
        self.agent.dynamic_push([{"name": name, "command": command, "entries": list(entries)}])
