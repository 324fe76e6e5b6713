#!/usr/bin/python
# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: fortigate_address_grant
short_description: Grant or revoke a user's IP addresses through a FortiGate address group (Knocknoc Active mode)
version_added: "0.1.0"
author: Knocknoc.fortinet contributors (@knocknoc)
description:
  - Knocknoc's B(Active) mode on a FortiGate, directly through the FortiOS REST API. On login, an address object named
    C(<prefix><ip>) is created (or reused) and added to the address group that your firewall policy references; on logout or
    expiry it leaves the group and is deleted.
  - IPv4 addresses go to O(address_group) (C(firewall addrgrp)), IPv6 addresses to O(address_group6) (C(firewall addrgrp6)).
  - Members are added and removed one at a time through the group's C(member) child table, never by writing the whole member
    list back, so that jobs running at the same time (AWX runs them in parallel) cannot undo each other's grants.
  - Shared source addresses (two users behind one NAT) follow Knocknoc's "last one out turns off the lights" rule. The users
    that hold an address are kept on the FortiGate itself, in the address object's C(comment), as C(knocknoc:alice,bob).
    A grant adds O(user) to the holders; a revoke removes O(user), and the address leaves the group only when its last holder
    is gone.
  - After any change the module reads the group back and fails if the FortiGate does not show the expected state.
  - The module never creates, renames or deletes address groups or policies, and never touches members whose name does not
    start with O(prefix).
options:
  address_group:
    description:
      - Name of the IPv4 address group (C(firewall addrgrp)) that your firewall policy uses as source.
      - Required when O(addresses) holds an IPv4 address, and for O(exclusive=true) on IPv4.
      - The group must exist; the module fails if it does not.
    type: str
  address_group6:
    description:
      - Name of the IPv6 address group (C(firewall addrgrp6)) that your firewall policy uses as source (C(srcaddr6)).
      - Required when O(addresses) holds an IPv6 address, and for O(exclusive=true) on IPv6.
      - The group must exist; the module fails if it does not.
    type: str
  prefix:
    description:
      - Prefix of the address object names this module owns (Knocknoc's C(PREFIX), default V(kk_)).
      - Objects are named C(<prefix><address>), with C(/) replaced by C(_) for networks (V(kk_10.0.0.0_24)); IPv6 names keep their
        colons (V(kk_2001:db8::7)).
      - Must not be empty and must not contain C(/), C(,), quotes or whitespace.
    type: str
    default: kk_
  addresses:
    description:
      - The source addresses to grant or revoke, IPv4 and IPv6 mixed, as single addresses or networks
        (V(203.0.113.5), V(203.0.113.5/32), V(2001:db8::7), V(198.51.100.0/24)).
      - Networks broader than O(max_prefix_v4) or O(max_prefix_v6), V(0.0.0.0/0) and V(::/0) are always refused, before any
        call to the FortiGate.
      - With O(exclusive=true) an empty list removes every prefix-owned member of the group(s).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) grants O(addresses) (for O(user)); V(absent) revokes them.
    type: str
    choices: [present, absent]
    default: present
  user:
    description:
      - The Knocknoc user the grant is for. It is recorded as a holder of each address.
      - With O(state=absent), O(user) is removed from the holders and an address leaves the group only when no holder is left.
      - Without O(user), O(state=present) grants without recording a holder (an anonymous grant), and O(state=absent) revokes
        the addresses for everyone, whoever holds them.
      - Must not contain C(,), control characters or leading/trailing whitespace.
    type: str
  exclusive:
    description:
      - Treat O(addresses) as the complete list of grants in the group(s) (reconciliation).
      - Every member of O(address_group) and O(address_group6) whose name starts with O(prefix) and that is not listed is removed
        from the group and its address object deleted, whoever holds it. Members without the prefix are never touched.
      - With O(user), the holders of each listed address are set to exactly O(user); without O(user) the holders of listed
        addresses are left as they are.
      - Only with O(state=present).
    type: bool
    default: false
  max_prefix_v4:
    description:
      - The shortest IPv4 prefix length accepted in O(addresses); V(32) allows single addresses only.
    type: int
    default: 32
  max_prefix_v6:
    description:
      - The shortest IPv6 prefix length accepted in O(addresses); V(128) allows single addresses only.
    type: int
    default: 128
notes:
  - "Requirements on the FortiGate (Knocknoc's Active checklist): FortiOS 7.0 or later; a REST API administrator whose profile
    has Firewall Read/Write (C(fwgrp)) and nothing more, with trusted hosts that include the host running this module;
    the address group(s) created beforehand and used as source in an accept policy."
  - "Holders are stored in the address object's C(comment) (255 characters at most) as C(knocknoc:user1,user2). If the holders
    of one address would not fit, the module fails and changes nothing for that address rather than drop a holder. A comment
    in another format counts as no holder."
  - "Concurrency: creating an object that another job has just created (FortiOS error -5), adding a member that is already
    there (-5), removing a member or deleting an object that is already gone (HTTP 404) are all taken as done. An object that
    FortiOS refuses to delete because a group still uses it (-23) is left alone: if another job has just granted it, it is that
    job's grant now; otherwise it is used elsewhere and the module warns."
  - "FortiOS has no compare-and-set, and the comment is the only per-object field, so the holders are updated by
    read-modify-write. The module writes only the comment (never the whole object), re-reads after every write, repeats the
    update when another job's write replaced its own, and re-checks once more after a short random pause. Two jobs changing
    the holders of the same address at the same moment can still lose one holder if one job's read and write are further
    apart than that pause; the grant stays correct (the address stays in the group while any holder remains) except in that
    window."
  - "Empty groups: FortiOS allows address groups without members from 7.2.0 only. On older firmware, a revoke that would remove
    the last member fails before any change, with an explanation: add a member that matches no traffic, such as the address
    object C(none), to the group once (this module never touches members without the prefix)."
  - "A group that does not exist makes the module fail (it never creates groups: create the group and reference it from the
    policy). Object names longer than 79 characters (the FortiOS 7 limit) are refused before any call. An object with the
    module's name that holds another address is never reused: the module fails."
  - "Whether FortiOS accepts C(:) in address6 object names is unconfirmed in the public reference; the lab does."
extends_documentation_fragment:
  - knocknoc.fortinet.fortigate
  - knocknoc.fortinet.attributes
  - knocknoc.fortinet.attributes.ACTIONGROUP_FORTIGATE
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the group(s) and objects and makes no change on the FortiGate.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: knocknoc.fortinet.fortigate_dynamic_entry
    description: Knocknoc Passive+ mode (external resource entries) instead of address objects.
"""

EXAMPLES = r"""
- name: Knocknoc Active mode on a FortiGate
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/knocknoc.fortinet.fortigate:
      url: https://fw.example.com
      token: "{{ fortigate_api_key }}"
      vdom: root
      ca_path: /etc/pki/fortinet-ca.pem
      tls_server_name: FGVM01TM24000001
  tasks:
    - name: Grant alice's IPv4 and IPv6 addresses
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        address_group6: kk_users6
        addresses:
          - 198.51.100.7
          - 2001:db8::7
        user: alice

    - name: Revoke alice (the address stays while bob, behind the same NAT, still holds it)
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [198.51.100.7]
        user: alice
        state: absent

    - name: Grant an office network (networks need a wider limit)
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: [192.0.2.0/28]
        max_prefix_v4: 28
        user: carol

    - name: Reconcile the group with the grants Knocknoc knows about
      knocknoc.fortinet.fortigate_address_grant:
        address_group: kk_users
        addresses: "{{ current_grants }}"
        exclusive: true
"""

RETURN = r"""
added:
  description: Names of the address objects added to the group(s) (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [kk_198.51.100.7]
removed:
  description: Names of the address objects removed from the group(s) (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [kk_203.0.113.9]
members:
  description:
    - The members of O(address_group) and O(address_group6) whose name starts with O(prefix), after the change, as read back
      from the FortiGate (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [kk_198.51.100.7, "kk_2001:db8::7"]
holders:
  description:
    - For each address handled (listed in O(addresses), or removed by O(exclusive=true)), the users that hold it afterwards.
    - Keyed by the canonical address (V(198.51.100.7), V(10.0.0.0/24), V(2001:db8::7)); an empty list means the address is no
      longer granted or is granted without a recorded holder.
  returned: always
  type: dict
  sample: {"198.51.100.7": [alice, bob]}
diff:
  description: Prefix-owned members of the group(s) and holders of the handled addresses (objects that exist), before and after.
  returned: always
  type: dict
  contains:
    before:
      description: State before the task.
      type: dict
      returned: always
      sample: {"members": [], "holders": {}}
    after:
      description: State after the task (predicted in check mode).
      type: dict
      returned: always
      sample: {"members": [kk_198.51.100.7], "holders": {"198.51.100.7": [alice]}}
"""

import random
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import (
    DUPLICATE_ERRORS,
    FortiGateClient,
    fortigate_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import check_requirements, hide_url_credentials
from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import (
    address_object_entry,
    canonical_entry,
)

HOLDERS_MARK = "knocknoc:"
COMMENT_MAX = 255  # B1: comment is a var-string of 255 characters
NAME_MAX = 79  # B1/B3/D: address and member names in FortiOS 7.x
EMPTY_GROUPS_FROM = "7.2.0"  # B3: empty address groups are allowed from FortiOS 7.2.0
ATTEMPTS = 6  # read-modify-write rounds per address before giving up on concurrent changes
SETTLE = (0.1, 0.3)  # seconds: random pause before re-checking holders another job may overwrite
MISSING_REFERENCE = -651  # adding a member whose object another job deleted a moment ago
REFERENCED = -23  # deleting an object that a group (or policy) still uses
EMPTY_VALUES = -56  # the lab's (unconfirmed) answer when a pre-7.2 group would become empty

FAMILIES = {
    4: {"option": "address_group", "group_table": "firewall/addrgrp", "object_table": "firewall/address",
        "field": "subnet", "type": "ipmask", "host_len": 32, "label": "address group"},
    6: {"option": "address_group6", "group_table": "firewall/addrgrp6", "object_table": "firewall/address6",
        "field": "ip6", "type": "ipprefix", "host_len": 128, "label": "IPv6 address group"},
}
_BAD_PREFIX = re.compile(r"[/,\s\"'\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_holders(comment):
    """The holders recorded in an object's comment; a comment in another format holds nobody."""
    if not isinstance(comment, str) or not comment.startswith(HOLDERS_MARK):
        return frozenset()
    return frozenset(h.strip() for h in comment[len(HOLDERS_MARK):].split(",") if h.strip())


def render_holders(holders):
    return HOLDERS_MARK + ",".join(sorted(holders))


class Item(object):
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
    """Check every option before any call; returns the listed items. Raises ValueError naming the option."""
    prefix = params["prefix"]
    if not prefix:
        raise ValueError("prefix must not be empty: it is what marks the objects this module owns")
    if _BAD_PREFIX.search(prefix) or _CONTROL.search(prefix):
        raise ValueError("prefix %r must not contain '/', ',', quotes, backslashes or whitespace" % prefix)
    user = params["user"]
    if user is not None:
        if not user or user != user.strip() or "," in user or _CONTROL.search(user):
            raise ValueError("user %r must be non-empty, without ',', control characters or leading/trailing"
                             " whitespace (holders are stored as a comma-separated list)" % user)
        if len(render_holders([user])) > COMMENT_MAX:
            raise ValueError("user is too long to be recorded in the %d-character comment" % COMMENT_MAX)
    if params["max_prefix_v4"] is None or not 1 <= params["max_prefix_v4"] <= 32:
        raise ValueError("max_prefix_v4 must be between 1 and 32, got %s" % params["max_prefix_v4"])
    if params["max_prefix_v6"] is None or not 1 <= params["max_prefix_v6"] <= 128:
        raise ValueError("max_prefix_v6 must be between 1 and 128, got %s" % params["max_prefix_v6"])
    if params["exclusive"] and params["state"] != "present":
        raise ValueError("exclusive applies to state=present only")
    for option in ("address_group", "address_group6"):
        value = params[option]
        if value is not None and (not value.strip() or len(value) > NAME_MAX):
            raise ValueError("%s must be a group name of 1 to %d characters" % (option, NAME_MAX))
    items = {}
    for value in params["addresses"] or []:
        try:
            address = canonical_entry(value, params["max_prefix_v4"], params["max_prefix_v6"])
        except ValueError as exc:
            raise ValueError("addresses: %s" % exc)
        version = 6 if ":" in address else 4
        option = FAMILIES[version]["option"]
        if not params[option]:
            raise ValueError("addresses holds the IPv%d address %s, so %s is required" % (version, address, option))
        name = object_name(prefix, address)
        if len(name) > NAME_MAX:
            raise ValueError("the object name %r for %s would be %d characters long; FortiOS allows %d: shorten prefix"
                             % (name, address, len(name), NAME_MAX))
        items[name] = Item(address, version, name)
    return [items[name] for name in sorted(items)]


class AddressGrant(object):
    """Plan (reads only) and apply (member child-table writes) one grant or revoke."""

    def __init__(self, module, client, items):
        params = module.params
        self.module = module
        self.client = client
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
            plan["after"] = None
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
            elif item.listed:
                self._revoke(item, self.user, first)
            elif first is None:
                # a prefix-owned member that is not an address object (e.g. a nested group): membership only
                self._remove_member(item)
                self._done(item, None, False)
            else:
                self._revoke(item, None, first)

    def _done(self, item, holders, exists):
        self.final[item.name] = (item, frozenset(holders or ()), exists)

    @staticmethod
    def _pause(attempt):
        time.sleep(random.uniform(0.02, 0.1) * attempt)

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
            time.sleep(random.uniform(*SETTLE))
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
                self.module.warn("address object %s left the group but was not deleted: FortiOS reports it is still"
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
        self.module.warn("%s was granted again by another job (holders: %s) while this task revoked it; it stays"
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
                    self.module.warn("%s was granted again by another job after this task revoked it" % item.name)
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


def main():
    argument_spec = fortigate_argspec(
        address_group=dict(type="str"),
        address_group6=dict(type="str"),
        prefix=dict(type="str", default="kk_"),
        addresses=dict(type="list", elements="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        user=dict(type="str"),
        exclusive=dict(type="bool", default=False),
        max_prefix_v4=dict(type="int", default=32),
        max_prefix_v6=dict(type="int", default=128),
    )
    module = AnsibleModule(argument_spec, supports_check_mode=True,
                           required_one_of=[("address_group", "address_group6")])
    check_requirements(module)
    hide_url_credentials(module)
    items = []
    try:
        items = validate(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    result = {}
    try:
        with FortiGateClient.from_params(module.params) as client:
            grant = AddressGrant(module, client, items)
            grant.plan()
            if module.check_mode or not grant.plan_changed:
                result = grant.predicted()
            else:
                grant.apply()
                result = grant.outcome(grant.verify())
    except KnocknocError as err:
        module.fail_json(**err.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
