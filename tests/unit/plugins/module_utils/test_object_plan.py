# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_state.plan_object: the one object-CRUD planner (pure), and its hiding of secrets."""

import json

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._state import (
    CREATE,
    DELETE,
    HIDDEN,
    HIDDEN_UPDATED,
    NONE,
    UPDATE,
    hide_secrets,
    is_masked,
    plan_object,
)

SECRET = "s3cret-value-never-shown"
FEED = {"name": "kk_feed", "type": "address", "resource": "https://kk/a.txt", "username": "apikey",
        "password": "ENC XXXX", "refresh-rate": 5, "q_origin_key": "kk_feed"}


def shown(*values):
    """Everything a module could return, as text."""
    return json.dumps(values, default=repr)


def test_create_sends_everything_once():
    plan = plan_object(None, {"comment": "x", "member": None}, identity={"name": "kk"},
                       create_only={"member": [{"name": "none"}]}, secrets={"password": SECRET})
    assert plan.action == CREATE and plan.changed
    assert plan.body == {"name": "kk", "comment": "x", "member": [{"name": "none"}], "password": SECRET}
    assert plan.changed_fields == ("comment", "member", "password")  # the key is not a change
    assert plan.secrets_sent == {"password"}
    predicted = plan.predict(None)
    assert predicted == {"name": "kk", "comment": "x", "member": [{"name": "none"}], "password": HIDDEN}
    diff = plan.diff(None, predicted)
    assert diff == {"before": {}, "after": {"comment": "x", "name": "kk", "password": HIDDEN_UPDATED}}
    assert SECRET not in shown(predicted, diff, plan)


def test_identity_given_in_desired_counts_on_create():
    """A caller that wants the key in changed_fields (fortinet_external_resource) puts it in desired."""
    plan = plan_object(None, {"name": "kk", "type": "address"})
    assert plan.changed_fields == ("name", "type") and plan.body == {"name": "kk", "type": "address"}


def test_update_sends_only_changed_keys():
    current = {"name": "kk", "comment": "old", "color": 3, "subnet": "192.0.2.0 255.255.255.0"}
    plan = plan_object(current, {"comment": "new", "color": "3", "subnet": "192.0.2.0/24"}, identity={"name": "kk"})
    assert plan.action == UPDATE and plan.body == {"comment": "new"} and plan.changed_fields == ("comment",)
    assert plan.predict(current) == dict(current, comment="new")
    assert plan.diff(current, plan.predict(current)) == {
        "before": {"color": 3, "comment": "old", "name": "kk", "subnet": "192.0.2.0 255.255.255.0"},
        "after": {"color": 3, "comment": "new", "name": "kk", "subnet": "192.0.2.0 255.255.255.0"}}


def test_unchanged_object_plans_nothing():
    plan = plan_object(FEED, {"name": "kk_feed", "refresh-rate": "5"}, secrets={"password": SECRET})
    assert plan.action == NONE and not plan.changed and plan.body is None and plan.changed_fields == ()
    assert plan.diff(FEED, FEED) == {"before": {}, "after": {}}
    assert plan.predict(FEED)["password"] == HIDDEN


@pytest.mark.parametrize("mode, device_password, sent", [
    ("on_create", "ENC XXXX", False),
    ("on_create", "", False),
    ("when_unset", "ENC XXXX", False),
    ("when_unset", "", True),
    ("when_unset", None, True),
    ("always", "ENC XXXX", True),
])
def test_secrets_on_update(mode, device_password, sent):
    current = dict(FEED, password=device_password)
    plan = plan_object(current, {"refresh-rate": 5}, secrets={"password": SECRET}, update_secrets=mode)
    assert plan.changed is sent
    assert ("password" in (plan.body or {})) is sent and plan.secrets_sent == ({"password"} if sent else set())
    if sent:
        assert plan.body["password"] == SECRET and plan.changed_fields == ("password",)
        after = plan.diff(current, plan.predict(current))["after"]
        assert after["password"] == HIDDEN_UPDATED
    assert SECRET not in shown(plan.predict(current), plan.diff(current, plan.predict(current)), plan)


def test_values_the_device_masks_are_hidden_and_never_a_change():
    current = {"name": "agent", "api-key": "ENC XXXX", "accprofile": "p", "q_origin_key": "agent"}
    plan = plan_object(current, {"accprofile": "p", "api-key": "typed-in-data"})
    assert not plan.changed
    assert plan.masked_desired == ("api-key",)  # the module warns: it belongs in secret data
    assert plan.hide(current) == {"name": "agent", "api-key": HIDDEN, "accprofile": "p"}  # bookkeeping dropped


def test_fortimanager_masks_secrets_as_a_one_element_list():
    assert is_masked(["ENC abc"]) and is_masked("ENC XXXX")
    assert not is_masked(["ENC a", "ENC b"]) and not is_masked("ENCRYPTED") and not is_masked(None)
    plan = plan_object({"userid": "kk", "password": ["ENC xyz"]}, {"rpc-permit": "read-write"})
    assert plan.hide({"userid": "kk", "password": ["ENC xyz"]})["password"] == HIDDEN
    assert plan.changed_fields == ("rpc-permit",)


def test_hide_keeps_empty_values_and_extra_hidden_keys():
    plan = plan_object({"name": "kk", "password": ""}, {"comment": "x"}, hide=("password",),
                       diff_keys=("name", "comment", "password"))
    assert plan.hide({"name": "kk", "password": ""}) == {"name": "kk", "password": ""}  # "no password" is no secret
    assert plan.hide({"name": "kk", "password": "plain?"})["password"] == HIDDEN
    assert plan.diff({"name": "kk", "password": ""}, {"name": "kk", "comment": "x", "password": "ENC X"}) == {
        "before": {"name": "kk", "password": ""}, "after": {"name": "kk", "comment": "x", "password": HIDDEN}}


def test_delete_and_absent():
    plan = plan_object(FEED, {"refresh-rate": 9}, state="absent", identity={"name": "kk_feed"})
    assert plan.action == DELETE and plan.changed and plan.body is None and plan.changed_fields == ()
    assert plan.predict(FEED) is None
    assert plan.diff(FEED, None) == {"before": {"name": "kk_feed", "refresh-rate": 5}, "after": {}}
    gone = plan_object(None, {"refresh-rate": 9}, state="absent")
    assert gone.action == NONE and gone.diff(None, None) == {"before": {}, "after": {}}


def test_secrets_never_leak_through_repr_or_predictions():
    plan = plan_object({"name": "kk", "password": "ENC X"}, {}, secrets={"password": SECRET}, update_secrets="always")
    assert SECRET in plan.body.values()  # it must be sent...
    assert SECRET not in repr(plan) and SECRET not in str(plan)  # ...but never printed
    assert SECRET not in shown(plan.predict({"name": "kk"}), plan.diff({"name": "kk"}, plan.predict({"name": "kk"})))


def test_predict_does_not_alias_the_current_object():
    current = {"name": "kk", "member": [{"name": "a"}]}
    plan = plan_object(current, {"member": [{"name": "b"}]})
    predicted = plan.predict(current)
    predicted["member"].append({"name": "c"})
    assert current == {"name": "kk", "member": [{"name": "a"}]}
    assert plan.body == {"member": [{"name": "b"}]}


@pytest.mark.parametrize("kwargs, words", [
    ({"state": "gone"}, "state must be"),
    ({"update_secrets": "sometimes"}, "update_secrets must be"),
])
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        plan_object(None, {}, **kwargs)


def test_hide_secrets_for_info_results():
    obj = {"name": "kk", "password": "ENC abc", "psk": ["ENC x"], "token": "t0k", "comment": "", "q_origin_key": "kk",
           "member": [{"name": "a", "q_origin_key": "a"}]}
    assert hide_secrets(obj, keys=("token", "comment")) == {
        "name": "kk", "password": HIDDEN, "psk": HIDDEN, "token": HIDDEN, "comment": "", "member": [{"name": "a"}]}
    assert hide_secrets(None) is None and obj["password"] == "ENC abc"  # a copy
