# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Knocknoc Active mode on a FortiGate: the address-grant holder protocol.

A grant is an address object ``<prefix><address>`` that is a member of an address group. The
users holding one address (two users behind one NAT) are kept on the FortiGate itself, in the
object's ``comment`` as ``knocknoc:alice,bob``; the last holder out removes the member and deletes
the object.

FortiOS has no compare-and-set, so holders are updated by read-modify-write of the comment only,
followed by a re-read; an update that another job replaced is repeated (up to :data:`ATTEMPTS`
rounds), and a written holder set is re-checked once more after a short random pause. Members are
added and removed one by one through the group's ``member`` child table, never by writing the
member list, so parallel jobs cannot undo each other's grants. FortiOS before 7.2.0 refuses an
empty address group: a revoke that would empty one fails before any change.

:class:`AddressGrant` takes a FortiGate client (``get_entry``, ``create``, ``update``, ``delete``,
``add_member``, ``remove_member``, ``version_at_least``, ``system_status``, ``vdom``) and
injectable ``sleep``/``uniform`` so that the protocol can be tested without a device or waiting.
"""

from __future__ import annotations

import random
import time

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _validate
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import DUPLICATE_ERRORS
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import address_object_entry

HOLDERS_MARK = "knocknoc:"
COMMENT_MAX = 255  # B1: comment is a var-string of 255 characters
NAME_MAX = 79  # B1/B3/D: address and member names in FortiOS 7.x
EMPTY_GROUPS_FROM = "7.2.0"  # B3: empty address groups are allowed from FortiOS 7.2.0
ATTEMPTS = 6  # read-modify-write rounds per address before giving up on concurrent changes
SETTLE = (0.1, 0.3)  # seconds: random pause before re-checking holders another job may overwrite
BACKOFF = (0.02, 0.1)  # seconds, times the attempt number: random pause before another round
MISSING_REFERENCE = -651  # adding a member whose object another job deleted a moment ago
REFERENCED = -23  # deleting an object that a group (or policy) still uses
EMPTY_VALUES = -56  # the lab's (unconfirmed) answer when a pre-7.2 group would become empty

FAMILIES = {
    4: {"option": "address_group", "group_table": "firewall/addrgrp", "object_table": "firewall/address",
        "field": "subnet", "type": "ipmask", "host_len": 32, "label": "address group"},
    6: {"option": "address_group6", "group_table": "firewall/addrgrp6", "object_table": "firewall/address6",
        "field": "ip6", "type": "ipprefix", "host_len": 128, "label": "IPv6 address group"},
}


def parse_holders(comment):
    """The holders recorded in an object's comment; a comment in another format holds nobody."""
    if not isinstance(comment, str) or not comment.startswith(HOLDERS_MARK):
        return frozenset()
    return frozenset(h.strip() for h in comment[len(HOLDERS_MARK):].split(",") if h.strip())


def render_holders(holders):
    return HOLDERS_MARK + ",".join(sorted(holders))


class Item:
    """One address this task handles: canonical text, IP version, object name."""

    def __init__(self, address, version, name, listed=True):
        self.address = address
        self.version = version
        self.name = name
        self.listed = listed  # False: a prefix-owned member that exclusive removes

    @property
    def key(self):
        return self.address or self.name


def object_name(prefix, address):
    # No "/" ever: FortiOS needs it URL-encoded and some releases mishandled it (A1).
    return prefix + address.replace("/", "_")


def validate(params):
    """Check every option before any call; returns the listed items. Raises ValueError naming the option.
    The character and length rules are ``_validate``'s; what depends on several options is checked here."""
    # Long prefixes are refused per address below, naming the object that would be too long.
    prefix = _validate.prefix("prefix", params["prefix"], max_len=NAME_MAX - 1)
    user = params["user"]
    if user is not None:
        _validate.name("user", user, "user")  # at most 64 characters: always fits in the comment
    for option, high in (("max_prefix_v4", 32), ("max_prefix_v6", 128)):
        if params[option] is None or isinstance(params[option], bool) or not 1 <= params[option] <= high:
            raise ValueError("%s must be between 1 and %d, got %s" % (option, high, params[option]))
    if params["exclusive"] and params["state"] != "present":
        raise ValueError("exclusive applies to state=present only")
    for option in ("address_group", "address_group6"):
        if params[option] is not None:
            _validate.name(option, params[option], "address_group")
    if params["addresses"] is None:
        raise ValueError("addresses is required (an empty list only with exclusive=true)")
    items = {}
    for index, value in enumerate(params["addresses"]):
        address = _validate.address("addresses[%d]" % index, value, params["max_prefix_v4"], params["max_prefix_v6"])
        version = 6 if ":" in address else 4
        option = FAMILIES[version]["option"]
        if not params[option]:
            raise ValueError("addresses holds the IPv%d address %s, so %s is required" % (version, address, option))
        name = object_name(prefix, address)
        if len(name) > NAME_MAX:
            raise ValueError("the object name %r for %s would be %d characters long; FortiOS allows %d: shorten prefix"
                             % (name, address, len(name), NAME_MAX))
        _validate.name("prefix", name, "address")
        items[name] = Item(address, version, name)
    return [items[name] for name in sorted(items)]


class AddressGrant:
    """Plan (reads only) and apply (member child-table writes) one grant or revoke."""

    def __init__(self, client, items, params, warn, sleep=time.sleep, uniform=random.uniform):
        """``params``: the module's options (``prefix``, ``state``, ``user``, ``exclusive``, ``address_group``,
        ``address_group6``); ``items`` from :func:`validate`; ``warn(text)`` reports a warning;
        ``sleep(seconds)`` and ``uniform(a, b)`` make the pauses (injected by tests)."""
        self.client = client
        self.warn = warn
        self.sleep = sleep
        self.uniform = uniform
        self.vdom = client.vdom
        self.prefix = params["prefix"]
        self.state = params["state"]
        self.user = params["user"]
        self.exclusive = params["exclusive"]
        self.items = items
        self.groups = dict((v, params[f["option"]]) for v, f in FAMILIES.items() if params[f["option"]])
        self.members = {}  # version -> member names as read
        self.objects = {}  # item name -> object dict or None, as read
        self.plans = []
        self.changed = False
        self.added = set()
        self.removed = set()
        self.final = {}  # item name -> (item, holders, object exists) after apply
        self.kept = set()  # revoked names another job re-granted meanwhile

    # -- reads ------------------------------------------------------------------------------------
    def group_missing(self, version):
        fam = FAMILIES[version]
        return KnocknocError(
            None, "%s %s does not exist in VDOM %s; create it and reference it from the firewall policy"
            " (this module never creates groups)" % (fam["label"], self.groups[version], self.vdom),
            description="Address group not found",
            details={"group": self.groups[version], "vdom": self.vdom, "table": fam["group_table"]})

    def read_group(self, version):
        fam = FAMILIES[version]
        entry = self.client.get_entry(fam["group_table"], self.groups[version], fields=["name", "member"])
        if entry is None:
            raise self.group_missing(version)
        return [m.get("name") for m in entry.get("member") or [] if isinstance(m, dict) and m.get("name")]

    def read_object(self, item):
        fam = FAMILIES[item.version]
        entry = self.client.get_entry(fam["object_table"], item.name, fields=["name", "type", fam["field"], "comment"])
        if entry is not None and item.address is not None and address_object_entry(entry) != item.address:
            raise KnocknocError(
                None, "address object %s in VDOM %s holds %s, not %s; it was not made by this module: rename it or"
                " choose another prefix" % (item.name, self.vdom, entry.get(fam["field"]) or entry.get("type"),
                                            item.address),
                description="Address object name is taken", details={"object": item.name, "vdom": self.vdom})
        return entry

    # -- plan -------------------------------------------------------------------------------------
    def wanted_holders(self, have):
        if self.user is None:
            return have
        if self.exclusive:
            return frozenset([self.user])
        return have | frozenset([self.user])

    def plan(self):
        for version in sorted(self.groups):
            self.members[version] = self.read_group(version)
        for item in self.items:
            obj = self.read_object(item)
            if obj is None and self.state == "absent" and item.name in self.members[item.version]:
                # The group lists it but the object read found nothing (a wrong 404): read once more before
                # falling back to removing the membership alone (the group is what admits the address).
                obj = self.read_object(item)
                if obj is None:
                    self.warn("%s is a member of %s but the FortiGate answers that the object does not exist;"
                              " the member is removed from the group (for every holder)"
                              % (item.name, self.groups[item.version]))
            self.objects[item.name] = obj
            self.plans.append(self._plan_item(item, obj))
        if self.exclusive:
            listed = set(item.name for item in self.items)
            for version in sorted(self.groups):
                for name in sorted(self.members[version]):
                    if name.startswith(self.prefix) and name not in listed:
                        item = Item(None, version, name, listed=False)
                        obj = self.read_object(item)
                        if obj is not None:
                            item.address = address_object_entry(obj)
                        self.objects[name] = obj
                        self.plans.append(self._plan_extra(item, obj))
        self._check_empty_groups()

    def _plan_item(self, item, obj):
        members = self.members[item.version]
        have = parse_holders(obj.get("comment")) if obj is not None else None
        plan = {"item": item, "before": have, "create": False, "comment": False, "add": False,
                "remove": False, "delete": False}
        if self.state == "present":
            after = self.wanted_holders(have if have is not None else frozenset())
            self._check_fits(item, after)
            plan.update(after=after, create=obj is None, comment=obj is not None and after != have,
                        add=item.name not in members)
            return plan
        if obj is None:
            # FortiOS refuses to delete an object that a group uses (-23), so a member without its object means
            # the object read was wrong: the address leaves the group all the same (membership only).
            plan.update(after=None, remove=item.name in members)
            return plan
        after = have - frozenset([self.user]) if self.user is not None else frozenset()
        plan.update(after=after if after else None, comment=after != have)
        if not after:
            plan.update(remove=item.name in members, delete=True)
        return plan

    def _plan_extra(self, item, obj):
        have = parse_holders(obj.get("comment")) if obj is not None else None
        return {"item": item, "before": have, "after": None, "create": False, "comment": bool(have),
                "add": False, "remove": True, "delete": obj is not None}

    def _check_fits(self, item, holders):
        text = render_holders(holders)
        if len(text) > COMMENT_MAX:
            raise KnocknocError(
                None, "the holders of %s (%d users) do not fit in the %d-character comment of %s; nothing was"
                " changed for it rather than drop a holder" % (item.address, len(holders), COMMENT_MAX, item.name),
                description="Too many holders for one address",
                details={"object": item.name, "holders": sorted(holders)})

    def _check_empty_groups(self):
        for version in sorted(self.groups):
            before = set(self.members[version])
            after = self.members_after(version, prefixed=False)
            if before and not after and not self.client.version_at_least(EMPTY_GROUPS_FROM):
                names = sorted(before - after)
                raise self.empty_group_error(version, names)

    def empty_group_error(self, version, names):
        fam = FAMILIES[version]
        firmware = self.client.system_status()["version"]
        return KnocknocError(
            None, "FortiOS %s does not allow an empty address group (empty groups are allowed from FortiOS %s):"
            " removing %s would leave %s %s in VDOM %s without members. Add a member that matches no traffic, such"
            " as the address object 'none', to the group once; this module never touches members without the"
            " prefix %r" % (firmware, EMPTY_GROUPS_FROM, ", ".join(names), fam["label"], self.groups[version],
                            self.vdom, self.prefix),
            description="Address group would be empty",
            details={"group": self.groups[version], "vdom": self.vdom, "fortios_version": firmware})

    def members_after(self, version, prefixed=True):
        members = set(self.members[version])
        for plan in self.plans:
            if plan["item"].version != version:
                continue
            if plan["add"]:
                members.add(plan["item"].name)
            if plan["remove"]:
                members.discard(plan["item"].name)
        if prefixed:
            members = set(m for m in members if m.startswith(self.prefix))
        return members

    @property
    def plan_changed(self):
        return any(p["create"] or p["comment"] or p["add"] or p["remove"] or p["delete"] for p in self.plans)

    # -- apply ------------------------------------------------------------------------------------
    def apply(self):
        for plan in self.plans:
            item = plan["item"]
            if not (plan["create"] or plan["comment"] or plan["add"] or plan["remove"] or plan["delete"]):
                self._done(item, plan["after"], plan["after"] is not None)
                continue
            first = self.objects[item.name]  # the plan's read serves the first attempt
            if self.state == "present" and item.listed:
                self._grant(item, first)
            elif item.listed and first is not None:
                self._revoke(item, self.user, first)
            elif first is None:
                # a prefix-owned member that is not an address object (e.g. a nested group), or a listed address
                # whose object the FortiGate would not show: membership only
                self._remove_member(item)
                self._done(item, None, False)
            else:
                self._revoke(item, None, first)

    def _done(self, item, holders, exists):
        self.final[item.name] = (item, frozenset(holders or ()), exists)

    def _pause(self, attempt):
        # Back off a little more each round so that jobs racing on one object fall out of step.
        self.sleep(self.uniform(*BACKOFF) * attempt)

    def _not_settled(self, item):
        return KnocknocError(
            None, "%s kept changing under concurrent jobs for %d attempts in VDOM %s" % (item.name, ATTEMPTS, self.vdom),
            description="Concurrent changes did not settle", details={"object": item.name, "vdom": self.vdom})

    def _object_payload(self, item, holders):
        fam = FAMILIES[item.version]
        address = item.address if "/" in item.address else "%s/%d" % (item.address, fam["host_len"])
        return {"name": item.name, "type": fam["type"], fam["field"]: address, "comment": render_holders(holders)}

    def _put_comment(self, item, holders):
        """Write only the comment; False when the object vanished meanwhile."""
        self._check_fits(item, holders)
        try:
            self.client.update(FAMILIES[item.version]["object_table"], item.name, {"comment": render_holders(holders)})
        except KnocknocError as err:
            if err.details.get("http_status") == 404:
                return False
            raise
        self.changed = True
        return True

    def _add_member(self, item):
        """True when the member is in the group afterwards; False when its object vanished meanwhile."""
        fam = FAMILIES[item.version]
        try:
            if self.client.add_member(fam["group_table"], self.groups[item.version], item.name):
                self.changed = True
                self.added.add(item.name)
        except KnocknocError as err:
            if err.details.get("fortios_error") == MISSING_REFERENCE:
                return False
            if err.details.get("http_status") == 404:
                raise self.group_missing(item.version)
            raise
        return True

    def _remove_member(self, item):
        fam = FAMILIES[item.version]
        try:
            removed = self.client.remove_member(fam["group_table"], self.groups[item.version], item.name)
        except KnocknocError as err:
            if err.details.get("fortios_error") == EMPTY_VALUES or (
                    err.details.get("fortios_error") is not None
                    and not self.client.version_at_least(EMPTY_GROUPS_FROM)):
                raise self.empty_group_error(item.version, [item.name])
            raise
        if removed:
            self.changed = True
            self.added.discard(item.name)
            self.removed.add(item.name)
        return removed

    def _holders_hold(self, item, holds):
        """Re-read the object: its holders when ``user`` is among them as ``holds`` says (any holders when
        there is no user), else None; None too when the object is gone."""
        obj = self.read_object(item)
        if obj is None:
            return None
        have = parse_holders(obj.get("comment"))
        if self.user is not None and (self.user in have) != holds:
            return None
        return have

    def _checked(self, item, holds, wrote):
        have = self._holders_hold(item, holds)
        if have is not None and wrote:
            # Another job may have read the holders before our write and write them back a moment later.
            self.sleep(self.uniform(*SETTLE))
            have = self._holders_hold(item, holds)
        return have

    def _grant(self, item, first):
        fam = FAMILIES[item.version]
        user = self.user
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(attempt)
            obj = self.read_object(item) if attempt else first
            wrote = False
            if obj is None:
                holders = frozenset([user]) if user is not None else frozenset()
                try:
                    self.client.create(fam["object_table"], self._object_payload(item, holders))
                except KnocknocError as err:
                    if err.details.get("fortios_error") in DUPLICATE_ERRORS:
                        continue  # another job created it a moment ago: re-read and continue from there
                    raise
                self.changed = True
            else:
                have = parse_holders(obj.get("comment"))
                want = self.wanted_holders(have)
                if want != have:
                    if not self._put_comment(item, want):
                        continue
                    wrote = True
            if not self._add_member(item):
                continue
            have = self._checked(item, True, wrote)
            if have is None:
                continue
            self._done(item, have, True)
            return
        raise self._not_settled(item)

    def _revoke(self, item, user, first):
        """Remove ``user`` (everyone when None) from the holders; the last one out leaves the group and deletes."""
        fam = FAMILIES[item.version]
        drop = frozenset([user]) if user is not None else None
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(attempt)
            obj = self.read_object(item) if attempt else first
            if obj is None:
                self._done(item, None, False)
                return
            have = parse_holders(obj.get("comment"))
            rest = have - drop if drop is not None else frozenset()
            wrote = False
            if rest != have:
                if not self._put_comment(item, rest):
                    continue
                wrote = True
            if rest:
                # Others still hold it: the address stays in the group.
                now = self._checked(item, False, wrote)
                if now is None:
                    continue
                self._done(item, now, True)
                return
            self._remove_member(item)
            obj = self.read_object(item)
            if obj is None:
                self._done(item, None, False)
                return
            now = parse_holders(obj.get("comment"))
            if user is not None and user in now:
                continue  # our write was replaced by a concurrent one: do it again
            if now:
                # Another job granted it after our write: it is that job's grant now.
                self._keep(item, now)
                return
            exists = False
            try:
                if self.client.delete(fam["object_table"], item.name):
                    self.changed = True
            except KnocknocError as err:
                if err.details.get("fortios_error") != REFERENCED:
                    raise
                obj = self.read_object(item)
                now = parse_holders(obj.get("comment")) if obj is not None else frozenset()
                if user is not None and user in now:
                    continue
                if now:
                    self._keep(item, now)
                    return
                self.warn("address object %s left the group but was not deleted: FortiOS reports it is still"
                          " used elsewhere (error -23)" % item.name)
                exists = True
            self._done(item, None, exists)
            return
        raise self._not_settled(item)

    def _keep(self, item, holders):
        self._add_member(item)
        # We removed it and put it back: no net change of membership to report.
        self.removed.discard(item.name)
        self.added.discard(item.name)
        self.kept.add(item.name)
        self._done(item, holders, True)
        self.warn("%s was granted again by another job (holders: %s) while this task revoked it; it stays"
                  % (item.name, ", ".join(sorted(holders))))

    # -- read-back --------------------------------------------------------------------------------
    def verify(self):
        """Read the group(s) back; fail unless the FortiGate shows the expected membership.
        Returns the prefix-owned members."""
        after = {}
        for version in sorted(self.groups):
            after[version] = set(self.read_group(version))
        problems = []
        for item, holders, exists in self.final.values():
            members = after[item.version]
            group = self.groups[item.version]
            if self.state == "present" and item.listed:
                if item.name not in members:
                    problems.append("%s is not a member of %s" % (item.name, group))
            elif not holders and item.name in members and item.name not in self.kept:
                obj = self.read_object(item)
                if obj is not None and parse_holders(obj.get("comment")):
                    self.warn("%s was granted again by another job after this task revoked it" % item.name)
                else:
                    problems.append("%s is still a member of %s" % (item.name, group))
        if problems:
            raise KnocknocError(
                None, "after the change, the FortiGate (VDOM %s) shows: %s" % (self.vdom, "; ".join(problems)),
                description="FortiGate did not confirm the change", details={"problems": problems})
        return sorted(m for names in after.values() for m in names if m.startswith(self.prefix))

    # -- results ----------------------------------------------------------------------------------
    def before(self):
        members = set(m for names in self.members.values() for m in names if m.startswith(self.prefix))
        holders = dict((p["item"].key, sorted(p["before"])) for p in self.plans if p["before"] is not None)
        return {"members": sorted(members), "holders": holders}

    def predicted(self):
        """Result keys as the plan predicts them (check mode, or nothing to change)."""
        members = set()
        for version in self.groups:
            members |= self.members_after(version)
        after = {"members": sorted(members),
                 "holders": dict((p["item"].key, sorted(p["after"])) for p in self.plans if p["after"] is not None)}
        return dict(changed=self.plan_changed,
                    added=sorted(p["item"].name for p in self.plans if p["add"]),
                    removed=sorted(p["item"].name for p in self.plans if p["remove"]),
                    members=after["members"],
                    holders=dict((p["item"].key, sorted(p["after"] or ())) for p in self.plans),
                    diff={"before": self.before(), "after": after})

    def outcome(self, members):
        """Result keys from what the apply and the read-back saw."""
        after = {"members": members,
                 "holders": dict((item.key, sorted(holders)) for item, holders, exists in self.final.values()
                                 if exists)}
        return dict(changed=self.changed, added=sorted(self.added), removed=sorted(self.removed), members=members,
                    holders=dict((item.key, sorted(holders)) for item, holders, _exists in self.final.values()),
                    diff={"before": self.before(), "after": after})

    # -- the whole task ---------------------------------------------------------------------------
    @property
    def revoking(self):
        """True when this task takes access away: a revoke, or a reconciliation that removes members."""
        return self.state == "absent" or self.exclusive

    def run(self, check_mode=False):
        """Plan; then, unless in check mode or nothing is to change, apply and read back. The result keys.

        A revoke fails closed: it succeeds only when a read of the FortiGate made by this task shows that
        the group no longer lists the revoked addresses (the read-back after a change; without a change, the
        plan's own group read, as nothing was written since), or that the user no longer holds an address
        that others still hold. Any failure of a revoke says that access may still be open."""
        try:
            self.plan()
            if check_mode or not self.plan_changed:
                result = self.predicted()
            else:
                self.apply()
                result = self.outcome(self.verify())
        except KnocknocError as err:
            if not self.revoking:
                raise
            raise self.not_revoked(err)
        if self.state == "absent":
            # Proved by the reads above when nothing was left to change; in check mode nothing was done.
            result["revoked"] = not (check_mode and self.plan_changed)
        return result

    def not_revoked(self, err):
        """``err`` (same agent code, same details) saying that the revoke is not confirmed."""
        planned = [p["item"] for p in self.plans if p["remove"] or p["delete"] or p["comment"]]
        items = planned or (self.items if self.state == "absent" else [])
        what = ", ".join(sorted(item.address or item.name for item in items))
        groups = " and ".join("%s %s" % (FAMILIES[v]["label"], self.groups[v]) for v in sorted(self.groups))
        if self.state == "absent":
            cause = "%s. The revoke of %s%s is not confirmed: access may still be open through %s in VDOM %s" % (
                err.cause.rstrip("."), what or "the listed addresses",
                " for %s" % self.user if self.user is not None else "", groups, self.vdom)
        else:
            cause = "%s. The removal of %s from %s is not confirmed: access may still be open in VDOM %s" % (
                err.cause.rstrip("."), what or "the prefixed members not listed", groups, self.vdom)
        details = dict(err.details)
        details.update(revoked=False, addresses=sorted(item.address or item.name for item in items))
        return KnocknocError(err.code, cause=cause + "; run the task again or remove the member by hand",
                             description=err.description, hint=err.hint, details=details)
