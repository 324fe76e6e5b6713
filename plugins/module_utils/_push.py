# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Passive+ pushes: keep an external resource's in-memory entry list as wanted on FortiGates.

:func:`sync_entries` reads every target's list (``entry-list``), plans each target
(``_state.plan_members``), pushes the plans (targets with the same plan share their calls, so
one call reaches them all through FortiManager), and reads the list back to report entries that
did not stick. It works on any ``_fortigates.FortiGates``; nothing here knows whether the
FortiGates are reached directly or through FortiManager.

Requests: read, one push per distinct plan and batch, read back (direct: 3 for a grant; through
FortiManager: 3 calls for any number of targets that share a plan). Failures are per target
(:class:`PushTarget` ``error``), with the agent's codes: 202100 for a failed push, 202102 for a
missing resource, and whatever the transport reported (202000-202004, 202101, 202150).
"""

from __future__ import annotations

import ipaddress
import json

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import version_at_least
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import canonical_entry, plan_members

NAME_MAX = 35  # reference B4: external-resource name
PUSH_API_SINCE = "7.2.1"  # reference C1
GLOBAL_LIMIT_SINCE = "7.4.4"  # reference D: from here the limit counts valid IP entries across resources
# unconfirmed in the reference: FortiOS' request body limit (D: "bounded by HTTP 413"). 1 MiB holds
# about 60,000 IPv4 or 25,000 IPv6 entries; a 413 splits the call further.
MAX_PUSH_BYTES = 1024 * 1024
CALL_OVERHEAD = 256  # bytes of envelope around the entries of one call


def _sort_key(entry):
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return (9, 0, 0, entry)
    return (network.version, int(network.network_address), network.prefixlen, entry)


def sorted_entries(entries):
    """Entries in address order (IPv4 first), anything unparsable last."""
    return sorted(entries, key=_sort_key)


def device_entry(text):
    """Canonical form of an entry the FortiGate lists; ranges and other spellings stay as listed."""
    try:
        return canonical_entry(text, 0, 0)
    except ValueError:
        return text.strip()


def in_force(results, version):
    """The entries of an entry-list ``results`` object that are in force (reference C2/D).

    Invalid lines never count. With ``overflow`` only the first ``accepted_count`` count: valid
    entries from FortiOS 7.4.4 (the global limit is on valid IP entries), lines before (the
    per-resource limit counts lines); the FortiGate truncates the most recently added ones.
    An unknown ``version`` counts as 7.4.4 or later.
    """
    entries = results.get("entries")
    accepted = results.get("accepted_count")
    truncate = bool(results.get("overflow")) and isinstance(accepted, int)
    by_valid = not version or version_at_least(version, GLOBAL_LIMIT_SINCE)
    out = []
    for index, item in enumerate(entries):
        if not isinstance(item, dict) or not isinstance(item.get("entry"), str):
            continue
        if truncate and not by_valid and index >= accepted:
            break
        if item.get("valid", True) is False:
            continue
        if truncate and by_valid and len(out) >= accepted:
            break
        out.append(item["entry"])
    return frozenset(device_entry(e) for e in out)


def as_push_error(err):
    """Errors without an agent code are push failures (202100); documented codes stay."""
    return err.recode(202100) if err.code is None else err


class PushTarget(object):
    """One FortiGate of the run: what was read, planned, pushed and read back."""

    def __init__(self, label, serial=None, version=None):
        self.label = label
        self.serial = serial
        self.version = version
        self.current = None  # entries in force before (None: not read)
        self.plan = None
        self.after = None  # entries in force after the push (None: not read back)
        self.error = None
        self.pushed = False
        self.rejected = []  # invalidEntries of the push replies

    def fail(self, error):
        if self.error is None:  # the first failure is the cause; later ones follow from it
            self.error = error

    def take(self, outcome, name):
        """The entries in force according to an ``entry_list`` outcome (None after a failure)."""
        self.serial = outcome.serial or self.serial
        self.version = outcome.version or self.version
        if outcome.error is not None:
            self.fail(as_push_error(outcome.error))
            return None
        if not isinstance(outcome.value, dict) or not isinstance(outcome.value.get("entries"), list):
            self.fail(KnocknocError(202150, cause="the entry-list reply for external resource %r has no"
                                    " 'results.entries'" % name, details={"target": self.label}))
            return None
        return in_force(outcome.value, self.version)


# -- calls and batches ------------------------------------------------------------------------------------
def build_calls(plan, wanted, exclusive, budget=MAX_PUSH_BYTES):
    """The push calls for one plan, each a list of ``(command, entry)`` items.

    Non-exclusive: ``add`` then ``remove`` items in one call. Exclusive: one ``snapshot`` with
    every wanted entry; when it must be split, calls after the first ``add`` the rest, and the
    entries already listed go first so that the interim list drops as few of them as possible.
    Calls are cut only where the body would exceed ``budget`` bytes.
    """
    if exclusive:
        items = [("snapshot", e) for e in sorted_entries(wanted - plan.add) + sorted_entries(plan.add)]
        if not items:
            return [[]]  # an empty snapshot (allow_empty)
    else:
        items = [("add", e) for e in sorted_entries(plan.add)] + [("remove", e) for e in sorted_entries(plan.remove)]
        if not items:
            return []  # never an empty call: commands() would make it an empty snapshot
    calls, call, size = [], [], CALL_OVERHEAD
    for verb, entry in items:
        cost = len(json.dumps(entry)) + 2
        if call and size + cost > budget:
            calls.append(call)
            call, size = [], CALL_OVERHEAD
        call.append(("add" if verb == "snapshot" and calls else verb, entry))
        size += cost
    calls.append(call)
    return calls


def split_call(call):
    """Two halves of a call the FortiGate found too large (HTTP 413), or None for one entry.
    The second half of a snapshot adds (a second snapshot would drop the first half)."""
    if len(call) < 2:
        return None
    half = len(call) // 2
    second = [("add" if verb == "snapshot" else verb, entry) for verb, entry in call[half:]]
    return call[:half], second


def commands(name, call):
    """The push API body's ``commands`` for one call: one command per verb, in order."""
    if not call:
        return [{"name": name, "command": "snapshot", "entries": []}]
    out = []
    for verb in ("snapshot", "add", "remove"):
        entries = [entry for v, entry in call if v == verb]
        if entries:
            out.append({"name": name, "command": verb, "entries": entries})
    return out


def deliver(fortigates, targets, name, call):
    """Send one call to ``targets`` (one request), halving it for those that answer HTTP 413."""
    for target in targets:
        target.pushed = True
    outcomes = dict((o.target, o) for o in fortigates.only([t.label for t in targets]).dynamic_push(commands(name, call)))
    too_large = []
    for target in targets:
        outcome = outcomes.get(target.label)
        if outcome is None:
            target.fail(KnocknocError(202150, cause="no answer from %s to the push" % target.label,
                                      details={"target": target.label}))
        elif outcome.too_large:
            too_large.append(target)
        elif outcome.error is not None:
            target.fail(as_push_error(outcome.error))
        else:
            for result in outcome.value or ():
                if isinstance(result, dict) and result.get("invalidEntries"):
                    target.rejected.extend(result["invalidEntries"])
    if too_large:
        halves = split_call(call)
        if halves is None:
            for target in too_large:
                target.fail(KnocknocError(202100, cause="%s answered HTTP 413 (request entity too large) to a push"
                                          " of one entry" % target.label, details={"target": target.label}))
            return
        for half in halves:
            deliver(fortigates, [t for t in too_large if t.error is None], name, half)


def push(fortigates, targets, name, wanted, exclusive):
    """Push every target's plan: targets with the same plan share calls (one per batch)."""
    groups = {}
    for target in targets:
        groups.setdefault((target.plan.add, target.plan.remove), []).append(target)
    for members in groups.values():
        for call in build_calls(members[0].plan, wanted, exclusive):
            alive = [t for t in members if t.error is None]
            if not alive:
                break
            deliver(fortigates, alive, name, call)


def _listing(entries):
    return ", ".join(sorted_entries(entries)[:10]) + (", ..." if len(entries) > 10 else "")


def check_stuck(target, wanted, state, exclusive):
    """Fail ``target`` with 202100 when the read-back shows entries that were not applied."""
    after = target.after
    if state == "present":
        missing = wanted - after
        extra = (after - wanted) if exclusive else frozenset()
    else:
        missing = frozenset()
        extra = wanted & after
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append("%d entr%s not in force after the push (%s)" % (
            len(missing), "y is" if len(missing) == 1 else "ies are", _listing(missing)))
    if extra:
        parts.append("%d entr%s still listed (%s)" % (
            len(extra), "y is" if len(extra) == 1 else "ies are", _listing(extra)))
    if target.rejected:
        parts.append("the FortiGate rejected %s" % ", ".join(str(e) for e in target.rejected[:10]))
    elif missing:
        parts.append("the list may be full (entry limit reached)")
    target.fail(KnocknocError(202100, cause="%s: %s" % (target.label, "; ".join(parts)),
                              details={"target": target.label, "not_applied": sorted_entries(missing)[:100],
                                       "still_listed": sorted_entries(extra)[:100],
                                       "rejected": [str(e) for e in target.rejected[:100]]}))


# -- the whole run --------------------------------------------------------------------------------------------
def read_targets(fortigates, name):
    """Every target's list as it is: one request."""
    targets = []
    for outcome in fortigates.entry_list(name):
        target = PushTarget(outcome.target)
        target.current = target.take(outcome, name)
        targets.append(target)
    return targets


def read_back(fortigates, targets, name):
    """The lists after the push, for ``targets``: one request."""
    outcomes = dict((o.target, o) for o in fortigates.only([t.label for t in targets]).entry_list(name))
    for target in targets:
        outcome = outcomes.get(target.label)
        if outcome is None:
            target.fail(KnocknocError(202150, cause="no answer from %s to the read-back" % target.label,
                                      details={"target": target.label}))
            continue
        target.after = target.take(outcome, name)


def sync_entries(fortigates, name, wanted, state="present", exclusive=False, check_mode=False):
    """Make external resource ``name`` list ``wanted`` (canonical entries) on every target as
    ``state``/``exclusive`` say (see ``_state.plan_members``); return the :class:`PushTarget` list.
    Check mode reads only."""
    targets = read_targets(fortigates, name)
    for target in targets:
        if target.error is not None:
            continue
        if target.version and not version_at_least(target.version, PUSH_API_SINCE):
            target.fail(KnocknocError(202100, cause="%s: FortiOS %s has no push API for external resources"
                                      " (added in %s)" % (target.label, target.version, PUSH_API_SINCE),
                                      details={"target": target.label, "version": target.version}))
            continue
        target.plan = plan_members(target.current, wanted, state, exclusive)
    planned = [t for t in targets if t.error is None and t.plan.changed]
    if planned and not check_mode:
        push(fortigates, planned, name, wanted, exclusive)
        pushed = [t for t in planned if t.pushed]
        read_back(fortigates, pushed, name)
        for target in pushed:
            if target.after is not None and target.error is None:
                check_stuck(target, wanted, state, exclusive)
    return targets


def summary(targets, check_mode, diff=False):
    """The module result for the targets of :func:`sync_entries`: ``changed``, ``added``,
    ``removed``, ``results`` (one per target, by label), ``failed_targets`` and, with ``diff``,
    ``diff`` (each target's canonical list before and after)."""
    results, failed, added, removed = [], [], set(), set()
    before, after = {}, {}
    for target in sorted(targets, key=lambda t: t.label):
        if target.plan is not None and check_mode:
            target_added, target_removed = target.plan.add, target.plan.remove
            final = target.plan.after(target.current)
        elif target.after is not None and target.plan is not None:
            target_added = target.plan.add & target.after
            target_removed = target.plan.remove - target.after
            final = target.after
        else:
            target_added, target_removed = frozenset(), frozenset()
            final = target.current
        added |= target_added
        removed |= target_removed
        if target.current is not None:
            before[target.label] = sorted_entries(target.current)
            after[target.label] = sorted_entries(final)
        results.append({
            "target": target.label,
            "serial": target.serial,
            "changed": bool(target_added or target_removed),
            "added": sorted_entries(target_added),
            "removed": sorted_entries(target_removed),
            "entries_before": len(target.current) if target.current is not None else None,
            "entries_after": len(final) if final is not None else None,
            "error_code": target.error.code if target.error is not None else None,
            "error": str(target.error) if target.error is not None else None,
        })
        if target.error is not None:
            failed.append(target.label)
    outcome = {
        "changed": bool(added or removed),
        "added": sorted_entries(added),
        "removed": sorted_entries(removed),
        "results": results,
        "failed_targets": failed,
    }
    if diff:
        outcome["diff"] = {"before": before, "after": after}
    return outcome


def failed_targets(targets):
    """The targets that failed, in result order."""
    return [t for t in sorted(targets, key=lambda t: t.label) if t.error is not None]


def validate_name(name):
    """The problem with an external resource name, or None."""
    if not name or not name.strip():
        return "name must not be empty"
    if len(name) > NAME_MAX:
        return ("name %r is %d characters long; FortiOS external resource names hold at most %d"
                % (name, len(name), NAME_MAX))
    return None
