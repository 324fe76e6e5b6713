# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight table (:class:`Report`) and the small helpers every checklist area uses.

A check is a function ``fn() -> (passed, detail[, fix])`` or None (not applicable); the
:meth:`Report.run` wrapper turns an API error into a failed item carrying its message, so one
unreachable device never hides the other items.
"""

from __future__ import annotations

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError


class Report(object):
    """The table being built: one row per evaluated checklist item, plus the skipped ones."""

    def __init__(self):
        self.checks = []
        self.skipped = []

    def add(self, cid, item, passed, detail, fix="", severity="error"):
        self.checks.append({"id": cid, "item": item, "passed": bool(passed), "severity": severity,
                            "detail": detail, "fix": "" if passed else fix})

    def skip(self, item, reason):
        self.skipped.append({"item": item, "reason": reason})

    def run(self, cid, item, fn, fix, severity="error"):
        """Evaluate ``fn() -> (passed, detail[, fix])``; an API error fails the item with its message.
        Returns whether the item passed, or None when ``fn`` returned None (nothing to check)."""
        try:
            outcome = fn()
        except KnocknocError as err:
            outcome = (False, str(err), fix)
        if outcome is None:
            return None
        passed, detail = outcome[0], outcome[1]
        self.add(cid, item, passed, detail, outcome[2] if len(outcome) > 2 else fix, severity)
        return passed

    def ids(self):
        return [check["id"] for check in self.checks]

    def result(self):
        """The module's return values (``checks``, ``passed``, ``failed_checks``, ``warnings_checks``,
        ``skipped_checks``, ``table``, ``summary``). Not ``skipped``: Ansible reads that key as
        "the task was skipped"."""
        errors = [c["id"] for c in self.checks if not c["passed"] and c["severity"] == "error"]
        warnings = [c["id"] for c in self.checks if not c["passed"] and c["severity"] != "error"]
        table = []
        for check in self.checks:
            word = "PASS" if check["passed"] else ("FAIL" if check["severity"] == "error" else "WARN")
            table.append("%s  %s: %s" % (word, check["item"], check["detail"]))
            if check["fix"]:
                table.append("      fix: %s" % check["fix"])
        for skipped in self.skipped:
            table.append("SKIP  %s: %s" % (skipped["item"], skipped["reason"]))
        passed = len(self.checks) - len(errors) - len(warnings)
        summary = "%d passed, %d failed, %d warnings" % (passed, len(errors), len(warnings))
        return dict(checks=self.checks, passed=not errors, failed_checks=errors, warnings_checks=warnings,
                    skipped_checks=self.skipped, table=table, summary=summary)


def names_of(value):
    """The ``name`` of each ``{"name": ...}`` in a FortiOS member list."""
    return [item.get("name") for item in value or [] if isinstance(item, dict)]


def find_exact(items, key, name):
    """(the item whose ``key`` is exactly ``name``, the names that differ from it only in case)."""
    exact = [i for i in items if i.get(key) == name]
    other = [i.get(key) for i in items if isinstance(i.get(key), str) and i.get(key) != name
             and i.get(key).lower() == str(name).lower()]
    return (exact[0] if exact else None), other


def case_hint(others, what="names"):
    """`` (found X, Y: names are case-sensitive)`` when near-misses exist, else ``""``."""
    return " (found %s: %s are case-sensitive)" % (", ".join(others), what) if others else ""


def join(details):
    return "; ".join(details)
