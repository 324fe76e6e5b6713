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
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import Plan, canonical_entry, plan_members

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


def spellings(results):
    """Every valid listed entry (in force or truncated), canonical -> the device's own spellings.

    FortiOS lists entries as they were written (``172.200.1.4/16``, uncompressed IPv6); whether
    ``remove`` matches by value or by text is not documented, so a removal sends the listed text.
    A truncated entry counts too: it comes into force as soon as the list has room again.
    """
    out = {}
    for item in results.get("entries") or ():
        if isinstance(item, dict) and isinstance(item.get("entry"), str) and item.get("valid", True) is not False:
            out.setdefault(device_entry(item["entry"]), []).append(item["entry"])
    return out


def as_push_error(err):
    """Errors without an agent code are push failures (202100); documented codes stay."""
    return err.recode(202100) if err.code is None else err


OPEN = "access may still be open"


class PushTarget(object):
    """One FortiGate of the run: what was read, planned, pushed and read back."""

    def __init__(self, label, serial=None, version=None):
        self.label = label
        self.serial = serial
        self.version = version
        self.current = None  # entries in force before (None: not read)
        self.listed = None  # before: canonical entry -> the device's spellings, every valid listed entry
        self.unlisted = None  # why the last entry-list reply had no entries although the FortiGate answered
        self.plan = None  # what should change in the list (what the result may claim once the device shows it)
        self.send = None  # what is pushed: the plan; a revoke removes every wanted entry whatever was listed
        self.after = None  # entries in force after the push (None: not read back)
        self.after_listed = None
        self.error = None
        self.pushed = False
        self.accepted = False  # a push reply said success
        self.unconfirmed = False  # a push reply without per-command results (the read-back decides)
        self.rejected = []  # invalidEntries of the push replies
        self.overflow = False  # the last list read was over the entry limit
        self.unlisted_accepted = frozenset()  # accepted by a push reply, not rejected, yet not listed after
        self.revoke = False  # state=absent or exclusive: entries must be shown gone, or the target fails
        self.proved = None  # for a revoke: the device showed that no entry to revoke is listed
        self.added = frozenset()
        self.removed = frozenset()
        self.final = None  # entries in force at the end, as shown (predicted in check mode)
        self.poll_minutes = None  # refresh-rate of a polled resource, for a tolerated failed revoke

    def fail(self, error):
        if self.error is None:  # the first failure is the cause; later ones follow from it
            self.error = error

    def take(self, outcome, name):
        """``(entries in force, listed spellings)`` of an ``entry_list`` outcome; ``(None, None)`` after
        a failure, or when the reply has no ``entries`` (``unlisted`` says why; not a failure by itself)."""
        self.serial = outcome.serial or self.serial
        self.version = outcome.version or self.version
        if outcome.error is not None:
            self.fail(as_push_error(outcome.error))
            return None, None
        if not isinstance(outcome.value, dict):
            self.fail(KnocknocError(202150, cause="the entry-list reply for external resource %r has no"
                                    " 'results' object" % name, details={"target": self.label}))
            return None, None
        if not isinstance(outcome.value.get("entries"), list):
            # Reference C2: `entries` is optional; FortiOS leaves it out, with `error`, when it cannot
            # read the feed - exactly when a push matters.
            error = outcome.value.get("error")
            self.unlisted = "the entry-list reply for %r lists no entries%s" % (
                name, " (FortiOS says: %s)" % error if error else "")
            return None, None
        self.unlisted = None
        self.overflow = bool(outcome.value.get("overflow"))
        return in_force(outcome.value, self.version), spellings(outcome.value)

    def spell(self, entry):
        """The texts to remove ``entry`` with: the device's own spellings, and ours (what a push wrote)."""
        texts = list((self.listed or {}).get(entry, ()))
        if entry not in texts:
            texts.append(entry)
        return texts


# -- calls and batches ------------------------------------------------------------------------------------
def build_calls(plan, wanted, exclusive, budget=MAX_PUSH_BYTES, spell=None):
    """The push calls for one plan, each a list of ``(command, entry)`` items.

    Non-exclusive: ``add`` then ``remove`` items in one call (``spell(entry)``: the texts to remove an
    entry with, default the entry). Exclusive: one ``snapshot`` with every wanted entry; when it must be
    split, calls after the first ``add`` the rest, and the entries already listed go first so that the
    interim list drops as few of them as possible. Calls are cut only where the body would exceed
    ``budget`` bytes.
    """
    spell = spell or (lambda entry: [entry])
    if exclusive:
        items = [("snapshot", e) for e in sorted_entries(wanted - plan.add) + sorted_entries(plan.add)]
        if not items:
            return [[]]  # an empty snapshot (allow_empty)
    else:
        items = [("add", e) for e in sorted_entries(plan.add)]
        items += [("remove", text) for e in sorted_entries(plan.remove) for text in spell(e)]
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
            target.accepted = True
            if outcome.value is None:
                target.unconfirmed = True  # a success without per-command results: only the read-back tells
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
    """Push every target's plan: targets with the same commands share calls (one per batch)."""
    groups = {}
    for target in targets:
        removals = tuple(text for e in sorted_entries(target.send.remove) for text in target.spell(e))
        groups.setdefault((target.send.add, removals), []).append(target)
    for members in groups.values():
        first = members[0]
        for call in build_calls(first.send, wanted, exclusive, spell=first.spell):
            alive = [t for t in members if t.error is None]
            if not alive:
                break
            deliver(fortigates, alive, name, call)


def _listing(entries):
    return ", ".join(sorted_entries(entries)[:10]) + (", ..." if len(entries) > 10 else "")


def check_stuck(target, wanted, state, exclusive):
    """Fail ``target`` with 202100 when the read-back shows entries that were not applied."""
    after = target.after
    listed = frozenset(target.after_listed or ())
    if state == "present":
        missing = wanted - after
        extra = (listed - wanted) if exclusive else frozenset()
    else:
        missing = frozenset()
        extra = wanted & listed
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append("%d entr%s not in force after the push (%s)" % (
            len(missing), "y is" if len(missing) == 1 else "ies are", _listing(missing)))
    if extra:
        parts.append("%d entr%s still listed (%s)" % (
            len(extra), "y is" if len(extra) == 1 else "ies are", _listing(extra)))
    rejected = frozenset(device_entry(str(e)) for e in target.rejected)
    if missing and target.accepted and not target.overflow and not missing & rejected:
        # The push reply accepted them and the list is not full: FortiOS may keep pushed entries of a
        # resource with update method feed without listing them. In force or not, the list cannot show it.
        target.unlisted_accepted = missing
        parts.append("the FortiGate accepted the push but does not list them (FortiOS may not list pushed"
                     " entries on a resource with update method feed), so they cannot be confirmed")
    elif target.rejected:
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
        target.current, target.listed = target.take(outcome, name)
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
        target.after, target.after_listed = target.take(outcome, name)
        if target.after is None and target.error is None:
            # The FortiGate answered without its list: what the push did cannot be shown.
            target.fail(KnocknocError(202100, cause="%s: the push was sent but cannot be confirmed: %s" % (
                target.label, target.unlisted), details={"target": target.label}))


def _plan(target, wanted, state, exclusive):
    """What should change (``plan``) and what is sent (``send``) on a target whose list was read."""
    if target.current is None:
        # No list to diff against (C2: entries left out): push everything wanted, confirm by the read-back.
        target.plan = Plan(add=wanted) if state == "present" else Plan(remove=wanted)
        target.send = target.plan
        return
    if state == "absent":
        target.plan = plan_members(frozenset(target.listed), wanted, "absent")
        # A revoke removes every wanted entry even when it is not listed: a pushed entry may be in
        # force without being listed (feed-mode resources), and removing an absent entry is harmless.
        target.send = Plan(remove=wanted)
    elif exclusive:
        # Every listed entry that is not wanted goes, truncated ones too: they come into force as soon
        # as the list has room again.
        target.plan = Plan(add=wanted - target.current, remove=frozenset(target.listed) - wanted)
        target.send = target.plan
    else:
        target.plan = plan_members(target.current, wanted, state, exclusive)
        target.send = target.plan


def _settle(target, wanted, state, exclusive, check_mode):
    """What the device showed (or, in check mode, what would change): ``added``, ``removed``,
    ``final`` and, for a revoke, ``proved``. Never more than the device showed, nor less."""
    if target.plan is None:  # the read failed (or old firmware): nothing was pushed, nothing is shown
        target.final = target.current
        if target.revoke:
            target.proved = False
        return
    if check_mode:
        target.added, target.removed = target.plan.add, target.plan.remove
        target.final = target.plan.after(target.current or ())
        shown = target.current is not None
    elif not target.pushed:
        target.final = target.current
        shown = target.current is not None
    elif target.after is not None:
        before = frozenset(target.current or ()) if target.current is not None else frozenset()
        target.added = (target.plan.add & target.after) - before
        listed_before = frozenset(target.listed or ())
        listed_after = frozenset(target.after_listed or ())
        target.removed = (target.plan.remove & listed_before) - listed_after if state == "absent" \
            else target.plan.remove - target.after
        target.final = target.after
        shown = True
    else:
        # The push was answered but the read-back failed: the device's push reply is all it showed.
        if target.accepted and not target.unconfirmed:
            rejected = frozenset(device_entry(str(e)) for e in target.rejected)
            target.added = target.plan.add - rejected
            target.removed = (target.plan.remove - rejected) if target.current is not None else frozenset()
        target.final = None
        shown = False
    if not target.revoke:
        return
    if state == "absent":
        listed = target.listed if (check_mode or not target.pushed) else target.after_listed
        remaining = wanted & frozenset(listed or ()) if not check_mode else frozenset()
    else:
        listed = target.listed if not target.pushed else target.after_listed
        remaining = (frozenset(listed or ()) - wanted) if not check_mode else frozenset()
    target.proved = bool((shown or (state == "absent" and not wanted)) and target.error is None and not remaining)
    if not target.proved and target.error is None and not check_mode:
        target.fail(KnocknocError(202100, cause="%s: the revoke cannot be shown on the device (%s)" % (
            target.label, target.unlisted or "still listed: %s" % _listing(remaining)),
            details={"target": target.label}))


def sync_entries(fortigates, name, wanted, state="present", exclusive=False, check_mode=False):
    """Make external resource ``name`` list ``wanted`` (canonical entries) on every target as
    ``state``/``exclusive`` say (see ``_state.plan_members``); return the :class:`PushTarget` list.

    A revoke (``state=absent`` or ``exclusive``) is proved per target by a read of the list showing
    none of the revoked entries (``proved``); a target where that cannot be shown has an ``error``.
    Check mode reads only."""
    targets = read_targets(fortigates, name)
    for target in targets:
        target.revoke = state == "absent" or bool(exclusive)
        if target.error is not None:
            continue
        if target.version and not version_at_least(target.version, PUSH_API_SINCE):
            target.fail(KnocknocError(202100, cause="%s: FortiOS %s has no push API for external resources"
                                      " (added in %s)" % (target.label, target.version, PUSH_API_SINCE),
                                      details={"target": target.label, "version": target.version}))
            continue
        _plan(target, wanted, state, exclusive)
    planned = [t for t in targets if t.error is None
               and (t.send.changed or (exclusive and t.current is None))]
    if planned and not check_mode:
        push(fortigates, planned, name, wanted, exclusive)
        confirm_missing(fortigates, [t for t in planned if t.error is not None and t.error.details.get("results")], name)
        pushed = [t for t in planned if t.pushed]
        read_back(fortigates, pushed, name)
        for target in pushed:
            if target.after is not None and target.error is None:
                check_stuck(target, wanted, state, exclusive)
    for target in targets:
        _settle(target, wanted, state, exclusive, check_mode)
    return targets


def confirm_missing(fortigates, targets, name):
    """Targets whose push commands FortiOS refused: ask CMDB whether the resource exists (one request) and
    make the error 202102 when it does not. The refusal's text says nothing reliable (its wording is not
    documented), the configuration does."""
    if not targets:
        return
    outcomes = dict((o.target, o) for o in fortigates.only([t.label for t in targets]).get_entry(
        "system/external-resource", name))
    for target in targets:
        outcome = outcomes.get(target.label)
        if outcome is not None and outcome.ok and outcome.value is None and target.error.code != 202102:
            target.error = KnocknocError(202102, cause="%s refused the push: external resource %r does not exist"
                                         " in its configuration" % (target.label, name),
                                         details=dict(target.error.details, target=target.label, name=name))


def polled_resources(fortigates, targets, name):
    """For failed revokes tolerated on polled feeds: read the resource from CMDB (one request) and set
    ``poll_minutes`` on each target whose resource polls a feed (update-method feed, enabled, with a
    URL). A push-mode resource is never polled, so nothing would ever repair a failed revoke there."""
    if not targets:
        return
    labels = [t.label for t in targets]
    outcomes = dict((o.target, o) for o in fortigates.only(labels).get_entry("system/external-resource", name))
    for target in targets:
        outcome = outcomes.get(target.label)
        value = outcome.value if outcome is not None and outcome.ok else None
        if not isinstance(value, dict):
            continue
        method = value.get("update-method", "feed")  # B4: no such field before 7.2.1 = feed
        rate = value.get("refresh-rate")
        if method == "feed" and value.get("status", "enable") == "enable" and value.get("resource") \
                and isinstance(rate, int) and rate > 0:
            target.poll_minutes = rate


def summary(targets, check_mode, diff=False):
    """The module result for the targets of :func:`sync_entries`: ``changed``, ``added``,
    ``removed``, ``results`` (one per target, by label), ``failed_targets``, for a revoke
    ``revoked`` (every target proved it) and, with ``diff``, ``diff`` (each target's canonical list
    before and after)."""
    results, failed, added, removed = [], [], set(), set()
    before, after = {}, {}
    revoke = any(t.revoke for t in targets)
    for target in sorted(targets, key=lambda t: t.label):
        added |= target.added
        removed |= target.removed
        if target.current is not None and target.final is not None:
            before[target.label] = sorted_entries(target.current)
            after[target.label] = sorted_entries(target.final)
        # A push the device accepted is a change even when the read-back could not show it.
        changed = bool(target.added or target.removed or target.unlisted_accepted) or bool(
            target.accepted and target.after is None and target.plan is not None and target.plan.changed)
        results.append({
            "target": target.label,
            "serial": target.serial,
            "changed": changed,
            "added": sorted_entries(target.added),
            "removed": sorted_entries(target.removed),
            "entries_before": len(target.current) if target.current is not None else None,
            "entries_after": len(target.final) if target.final is not None else None,
            "verified": bool((target.after is not None and not target.unlisted_accepted)
                             or (not target.pushed and target.current is not None)),
            "revoked": target.proved if target.revoke else None,
            "poll_interval": target.poll_minutes,
            "error_code": target.error.code if target.error is not None else None,
            "error": str(target.error) if target.error is not None else None,
        })
        if target.error is not None:
            failed.append(target.label)
    outcome = {
        "changed": any(r["changed"] for r in results),
        "added": sorted_entries(added),
        "removed": sorted_entries(removed),
        "results": results,
        "failed_targets": failed,
    }
    if revoke:
        outcome["revoked"] = bool(targets) and all(t.proved for t in targets)
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
