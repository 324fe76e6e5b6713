# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revokes fail closed, results say what the device showed, and the push is right whichever way a
real FortiGate behaves (issue 10 item 1, issue 11 items 1-3 and 15a), on simulated FortiGates."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import Outcome
from ansible_collections.knocknoc.fortinet.plugins.module_utils._push import polled_resources, summary, sync_entries

from test_push import NAME, SimFleet, SimFortiGate

IP = "192.0.2.1"
IP6_LONG = "2001:0db8:0000:0000:0000:0000:0000:0007"  # as a real 7.4.2 reply lists it


class Variant(SimFortiGate):
    """A FortiGate with the behaviours real ones may have: it lists entries as written
    (``lists`` holds the text), ``remove`` may match the text only (``by_text``), the entry-list
    may leave ``entries`` out (``unlisted``), the push reply may carry no ``results``
    (``bare_push``), and pushed entries may be in force without being listed (``hidden``)."""

    def __init__(self, name, entries=(), by_text=True, unlisted=False, bare_push=False, hidden=False, **kwargs):
        super().__init__(name, entries, **kwargs)
        self.by_text = by_text
        self.unlisted = unlisted
        self.bare_push = bare_push
        self.hidden = set() if hidden else None  # entries in force but not listed

    @staticmethod
    def _value(text):
        import ipaddress
        try:
            return ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            return text

    def in_force(self):
        return set(self._value(e) for e in self.lists[NAME]) | set(self._value(e) for e in self.hidden or ())

    def answer(self, call):
        if call.path.endswith("/entry-list") and self.unlisted:
            return self.envelope(results={"status": "error", "error": "Failed to download the resource file"})
        if call.path.endswith("/dynamic"):
            self.pushes.append(call.body["commands"])
            for command in call.body["commands"]:
                listed = self.lists[command["name"]]
                if command["command"] == "snapshot":
                    listed[:] = list(command["entries"])
                elif command["command"] == "add":
                    if self.hidden is not None:
                        self.hidden.update(command["entries"])
                    else:
                        listed.extend(e for e in command["entries"] if e not in listed)
                elif command["command"] == "remove":
                    for text in command["entries"]:
                        gone = [e for e in listed if (e == text if self.by_text else self._value(e) == self._value(text))]
                        listed[:] = [e for e in listed if e not in gone]
                        if self.hidden is not None:
                            self.hidden = set(e for e in self.hidden if self._value(e) != self._value(text))
            if self.bare_push:
                return self.envelope()  # success, no per-command results
            return self.envelope(results=[{"name": c["name"], "command": c["command"], "status": "success",
                                           "invalidEntries": []} for c in call.body["commands"]])
        return super().answer(call)


class Faulty(SimFleet):
    """A fleet whose ``fail``-th call (0-based) fails with ``error`` (the device never sees it)."""

    def __init__(self, devices, fail, error, chosen=None, requests=None):
        super().__init__(devices, chosen, requests)
        self.fail = fail
        self.error = error

    def run(self, call):
        if len(self.requests) == self.fail:
            self.requests.append((call.method, call.path, tuple(self.chosen)))
            return [Outcome(name, error=self.error) for name in self.chosen]
        return super().run(call)

    def only(self, targets):
        return Faulty(self.devices.values(), self.fail, self.error, targets, self.requests)


def http_500():
    return KnocknocError(None, cause="HTTP 500", description="FortiGate rejected the request")


# -- revoke = proof or failure -----------------------------------------------------------------------------
def test_a_proved_revoke_is_read_push_read_and_says_revoked():
    device = Variant("fgt1", [IP, "192.0.2.2"])
    fortigates = SimFleet([device])
    targets = sync_entries(fortigates, NAME, frozenset([IP]), state="absent")
    result = summary(targets, check_mode=False)
    assert len(fortigates.requests) == 3 and device.lists[NAME] == ["192.0.2.2"]
    assert result["revoked"] is True and result["removed"] == [IP] and result["changed"] is True
    assert result["results"][0]["revoked"] is True and result["results"][0]["verified"] is True


@pytest.mark.parametrize("position", [0, 1, 2])
def test_every_failed_request_of_a_revoke_leaves_it_unproved(position):
    device = Variant("fgt1", [IP])
    targets = sync_entries(Faulty([device], position, http_500()), NAME, frozenset([IP]), state="absent")
    result = summary(targets, check_mode=False)
    assert targets[0].error is not None and targets[0].error.code == 202100
    assert result["revoked"] is False and result["results"][0]["revoked"] is False


def test_a_revoke_whose_read_back_fails_says_what_the_push_reply_accepted():
    device = Variant("fgt1", [IP])
    targets = sync_entries(Faulty([device], 2, http_500()), NAME, frozenset([IP]), state="absent")
    result = summary(targets, check_mode=False)
    item = result["results"][0]
    # The device accepted the remove (its reply said so), the read-back could not show it.
    assert result["changed"] is True and result["removed"] == [IP] and result["revoked"] is False
    assert item["verified"] is False and item["entries_after"] is None and item["error_code"] == 202100


def test_a_grant_whose_read_back_fails_is_still_a_change():
    device = Variant("fgt1")
    targets = sync_entries(Faulty([device], 2, http_500()), NAME, frozenset([IP]))
    result = summary(targets, check_mode=False)
    assert result["changed"] is True and result["added"] == [IP] and "revoked" not in result
    assert result["results"][0]["verified"] is False and targets[0].error.code == 202100


def test_a_revoke_pushes_remove_even_when_nothing_is_listed():
    """Pushed entries may be in force without being listed (feed-mode resources): a revoke removes anyway."""
    device = Variant("fgt1", hidden=True)
    granted = sync_entries(SimFleet([device]), NAME, frozenset([IP]))  # the grant: in force, never listed
    assert device.lists[NAME] == [] and device.in_force()
    # Said as it is: accepted (a change), not confirmed by the list (202100, verified false).
    result = summary(granted, check_mode=False)
    assert result["changed"] is True and result["results"][0]["verified"] is False
    assert granted[0].error.code == 202100 and "cannot be confirmed" in granted[0].error.cause
    targets = sync_entries(SimFleet([device]), NAME, frozenset([IP]), state="absent")
    assert not device.in_force() and targets[0].proved is True
    result = summary(targets, check_mode=False)
    assert result["changed"] is False and result["removed"] == []  # the list never showed it


def test_exclusive_is_a_revoke_too():
    device = Variant("fgt1", [IP, "192.0.2.9"])
    targets = sync_entries(SimFleet([device]), NAME, frozenset([IP]), exclusive=True)
    result = summary(targets, check_mode=False)
    assert result["revoked"] is True and result["removed"] == ["192.0.2.9"]
    targets = sync_entries(Faulty([Variant("fgt1", [IP, "192.0.2.9"])], 1, http_500()), NAME, frozenset([IP]),
                           exclusive=True)
    assert summary(targets, check_mode=False)["revoked"] is False and targets[0].error is not None


def test_check_mode_predicts_the_revoke_without_writing():
    device = Variant("fgt1", [IP])
    fortigates = SimFleet([device])
    result = summary(sync_entries(fortigates, NAME, frozenset([IP]), state="absent", check_mode=True), True)
    assert result["revoked"] is True and result["removed"] == [IP] and device.pushes == []
    assert len(fortigates.requests) == 1


# -- the device's own spelling (issue 11 item 3) ---------------------------------------------------------------
@pytest.mark.parametrize("by_text", [True, False], ids=["remove-matches-text", "remove-matches-value"])
@pytest.mark.parametrize("listed, wanted", [
    (IP6_LONG, "2001:db8::7"),
    ("192.0.2.1/32", IP),
    ("192.0.2.1 ", IP),
])
def test_removal_uses_the_spelling_the_device_lists(by_text, listed, wanted):
    device = Variant("fgt1", [listed], by_text=by_text)
    targets = sync_entries(SimFleet([device]), NAME, frozenset([wanted]), state="absent")
    assert device.lists[NAME] == [] and targets[0].error is None and targets[0].proved
    assert summary(targets, False)["removed"] == [wanted]
    assert listed.strip() in device.pushes[0][0]["entries"]


def test_an_exclusive_list_removes_a_spelling_with_host_bits():
    device = Variant("fgt1", ["172.200.1.4/16", IP])
    targets = sync_entries(SimFleet([device]), NAME, frozenset([IP]), exclusive=True)
    assert targets[0].error is None and targets[0].proved, targets[0].error
    assert device.lists[NAME] == [IP]


# -- an entry-list without entries (issue 11 item 1) -------------------------------------------------------------
def test_a_grant_without_a_listing_pushes_everything_and_cannot_be_confirmed():
    device = Variant("fgt1", unlisted=True)
    fortigates = SimFleet([device])
    targets = sync_entries(fortigates, NAME, frozenset([IP]))
    assert device.pushes == [[{"name": NAME, "command": "add", "entries": [IP]}]] and len(fortigates.requests) == 3
    assert targets[0].error.code == 202100 and "cannot be confirmed" in targets[0].error.cause
    assert "Failed to download" in targets[0].error.cause
    result = summary(targets, False)
    assert result["changed"] is True and result["results"][0]["verified"] is False


def test_a_revoke_without_a_listing_is_pushed_and_fails_closed():
    device = Variant("fgt1", [IP], unlisted=True)
    targets = sync_entries(SimFleet([device]), NAME, frozenset([IP]), state="absent")
    assert device.lists[NAME] == []  # the remove went out anyway
    assert targets[0].error.code == 202100 and targets[0].proved is False


# -- a push reply without per-command results (issue 11 item 15a) -----------------------------------------------------
def test_a_bare_push_reply_is_judged_by_the_read_back():
    device = Variant("fgt1", bare_push=True)
    targets = sync_entries(SimFleet([device]), NAME, frozenset([IP]))
    result = summary(targets, False)
    assert targets[0].error is None and result["added"] == [IP] and result["failed_targets"] == []
    targets = sync_entries(SimFleet([device]), NAME, frozenset([IP]), state="absent")
    assert targets[0].error is None and targets[0].proved and device.lists[NAME] == []


def test_a_bare_push_reply_and_a_failed_read_back_claim_nothing():
    device = Variant("fgt1", [IP], bare_push=True)
    targets = sync_entries(Faulty([device], 2, http_500()), NAME, frozenset([IP]), state="absent")
    result = summary(targets, False)
    assert result["removed"] == [] and result["revoked"] is False and targets[0].error is not None


# -- polled resources (revoke_failure=warn_if_polled) --------------------------------------------------------------
class Cmdb(SimFleet):
    def __init__(self, resource, fail=False):
        super().__init__([SimFortiGate("fgt1")])
        self.resource = resource
        self.fail = fail

    def get_entry(self, path, mkey, fields=None):
        assert path == "system/external-resource" and mkey == NAME
        if self.fail:
            return [Outcome("fgt1", error=http_500())]
        return [Outcome("fgt1", self.resource)]

    def only(self, targets):
        return self


@pytest.mark.parametrize("resource, minutes", [
    ({"update-method": "feed", "status": "enable", "resource": "https://kk/allow", "refresh-rate": 5}, 5),
    ({"status": "enable", "resource": "https://kk/allow", "refresh-rate": 30}, 30),  # before 7.2.1: a feed
    ({"update-method": "push", "status": "enable", "resource": "", "refresh-rate": 5}, None),
    ({"update-method": "feed", "status": "disable", "resource": "https://kk/allow", "refresh-rate": 5}, None),
    ({"update-method": "feed", "status": "enable", "resource": "", "refresh-rate": 5}, None),
    (None, None),
])
def test_only_a_polled_feed_tolerates_a_failed_revoke(resource, minutes):
    targets = sync_entries(Faulty([Variant("fgt1", [IP])], 1, http_500()), NAME, frozenset([IP]), state="absent")
    polled_resources(Cmdb(resource), targets, NAME)
    assert targets[0].poll_minutes == minutes
    assert summary(targets, False)["results"][0]["poll_interval"] == minutes


def test_a_failed_cmdb_read_tolerates_nothing():
    targets = sync_entries(Faulty([Variant("fgt1", [IP])], 1, http_500()), NAME, frozenset([IP]), state="absent")
    polled_resources(Cmdb(None, fail=True), targets, NAME)
    assert targets[0].poll_minutes is None
