# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The external resource's decisions without a device: options, fields per FortiOS version,
when the password is sent, and when FortiManager must install."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _external_resource as er

URL = "https://knocknoc.example.com/api/v1/allowlists/6b0c/9f2e.txt"


def params(**overrides):
    base = dict(name="kk_allow", state="present", resource=URL, username="apikey", password="key-0123",
                update_password="on_create", refresh_rate=5, update_method=None, server_identity_check=None,
                status="enable", comments=None, targets=None, package="default", install=True, lock_timeout=30,
                use_fortimanager=False)
    base.update(overrides)
    return base


# -- validate ---------------------------------------------------------------------------------------
def test_valid_options_pass():
    er.validate(params())
    er.validate(params(use_fortimanager=True, targets=["fgt1", "FGVM01TM24000003"]))
    er.validate(params(resource=None, update_method="push"))
    er.validate(params(state="absent", resource=None))
    er.validate(params(name="k" * 35, refresh_rate=43200, comments="c" * 255, username="u" * 64))


@pytest.mark.parametrize("override, words", [
    ({"name": ""}, ["name", "empty"]),
    ({"name": "k" * 36}, ["name", "35"]),
    ({"name": "kk_allow "}, ["name", "whitespace"]),
    ({"name": "kk/allow", "use_fortimanager": True}, ["name", "'/'"]),
    ({"targets": ["fgt1"]}, ["targets", "use_fortimanager=true"]),
    ({"resource": None}, ["resource", "required"]),
    ({"resource": "https://knocknoc.example.com/" + "x" * 500}, ["resource", "511"]),
    ({"resource": "https://knocknoc.example.com/a b.txt"}, ["resource", "whitespace"]),
    ({"resource": "https://knocknoc.example.com:0/x.txt"}, ["resource", "not a valid URL"]),
    ({"resource": "https://knocknoc.example.com:abc/x.txt"}, ["resource", "not a valid URL"]),
    ({"resource": "https://apikey:secret@knocknoc.example.com/x.txt"}, ["credentials", "username"]),
    ({"resource": "http://knocknoc.example.com/x.txt"}, ["https://"]),
    ({"resource": "https:///x.txt"}, ["host name"]),
    ({"username": "u" * 65}, ["username", "64"]),
    ({"password": ""}, ["password", "empty"]),
    ({"refresh_rate": 0}, ["refresh_rate", "1", "43200"]),
    ({"refresh_rate": 43201}, ["refresh_rate", "43200"]),
    ({"comments": "c" * 256}, ["comments", "255"]),
    ({"lock_timeout": -1}, ["lock_timeout"]),
    ({"package": ""}, ["package"]),
    ({"use_fortimanager": True, "targets": [" fgt1"]}, ["targets", "' fgt1'"]),
    ({"use_fortimanager": True, "targets": [""]}, ["targets"]),
    ({"use_fortimanager": True, "targets": ["adom/root/device/fgt1"]}, ["targets", "device names"]),
])
def test_invalid_options_name_the_option(override, words):
    with pytest.raises(er.InvalidOption) as info:
        er.validate(params(**override))
    for word in words:
        assert word in str(info.value)
    assert "secret" not in str(info.value)


def test_resource_is_not_checked_for_absent():
    er.validate(params(state="absent", resource="http://not-checked"))


# -- fields ---------------------------------------------------------------------------------------
def test_desired_fields_leave_unset_options_alone():
    assert er.desired_fields(params()) == {"type": "address", "status": "enable", "resource": URL,
                                           "username": "apikey", "refresh-rate": 5}
    full = er.desired_fields(params(update_method="feed", server_identity_check="full", comments="c"))
    assert (full["update-method"], full["server-identity-check"], full["comments"]) == ("feed", "full", "c")
    assert "password" not in full


@pytest.mark.parametrize("version, field, supported", [
    ("7.2.0", "update-method", False),
    ("7.2.1", "update-method", True),
    ("v7.6.2", "update-method", True),
    ("7.0.7", "server-identity-check", False),
    ("7.0.8", "server-identity-check", True),
    ("7.0.12", "server-identity-check", True),
    ("7.2.3", "server-identity-check", False),
    ("7.2.4", "server-identity-check", True),
    ("", "update-method", True),  # unknown version: the FortiGate decides
    ("7.0.0", "status", True),
])
def test_fortios_supports(version, field, supported):
    assert er.fortios_supports(version, field) is supported


def test_fields_for_version_drops_implicit_values_and_refuses_others():
    desired = er.desired_fields(params(update_method="feed", server_identity_check="none"))
    assert er.version_bound_fields(desired) == ["update-method", "server-identity-check"]
    old = er.fields_for_version(desired, "7.2.0")
    assert "update-method" not in old and "server-identity-check" not in old
    assert "update-method" in desired  # the caller's dict is left alone
    assert er.fields_for_version(desired, "7.6.2") == desired
    with pytest.raises(er.InvalidOption) as info:
        er.fields_for_version(er.desired_fields(params(update_method="push")), "7.2.0")
    assert str(info.value) == "update_method=push needs FortiOS 7.2.1 or later; the FortiGate runs FortiOS 7.2.0"
    with pytest.raises(er.InvalidOption) as info:
        er.fields_for_version(er.desired_fields(params(server_identity_check="basic")), "7.2.3")
    assert "server_identity_check=basic" in str(info.value)
    assert er.version_bound_fields(er.desired_fields(params())) == []


@pytest.mark.parametrize("password, update, current, sent", [
    (None, "always", None, False),
    ("k", "on_create", None, True),
    ("k", "on_create", {"password": "ENC XXXX"}, False),
    ("k", "on_create", {"password": ""}, True),
    ("k", "on_create", {"password": []}, True),  # FortiManager's empty list
    ("k", "on_create", {"password": ["ENC abc"]}, False),
    ("k", "always", {"password": "ENC XXXX"}, True),
])
def test_password_is_sent_on_create_when_unset_or_always(password, update, current, sent):
    base = {"name": "kk_allow", "type": "address", "status": "enable", "resource": URL, "username": "apikey",
            "refresh-rate": 5}
    current = dict(base, **current) if current is not None else None
    plan = er.plan_resource(params(password=password, update_password=update), current, er.desired_fields(params()))
    assert ("password" in plan.secrets_sent) is sent
    assert ("password" in (plan.body or {})) is sent
    assert plan.changed is (current is None or sent)


def test_plan_resource_shows_no_password_and_deletes_by_name():
    current = {"name": "kk_allow", "type": "address", "password": "ENC XXXX", "refresh-rate": 5}
    plan = er.plan_resource(params(refresh_rate=6), current, er.desired_fields(params(refresh_rate=6)))
    assert plan.hide(current)["password"] == "<hidden>"
    assert plan.view(current) == {"name": "kk_allow", "type": "address", "password": "<hidden>", "refresh-rate": 5}
    absent = er.plan_resource(params(state="absent"), current, None)
    assert absent.action == "delete" and absent.body is None
    assert er.plan_resource(params(state="absent"), None, None).changed is False


# -- FortiManager install decisions ------------------------------------------------------------------
def test_overridden_fields_come_from_dynamic_mappings():
    obj = {"name": "kk_allow", "dynamic_mapping": [
        {"_scope": [{"name": "fgt1", "vdom": "root"}], "refresh-rate": 10},
        {"_scope": [{"name": "fgt2", "vdom": "root"}], "comments": "x", "refresh-rate": 1}, "junk"]}
    assert er.overridden_fields(obj) == {"refresh-rate", "comments"}
    assert er.overridden_fields({"name": "kk_allow"}) == set()
    assert er.overridden_fields(None) == set()


def test_compare_installed():
    desired = {"type": "address", "resource": URL, "refresh-rate": 5, "update-method": "feed"}
    same = {"name": "kk_allow", "type": "address", "resource": URL, "refresh-rate": "5", "password": "ENC XXXX"}
    assert er.compare_installed(desired, set(), same) is None  # 5 == "5"; update-method unknown there
    assert er.compare_installed(desired, set(), None) == "missing"
    assert er.compare_installed(desired, set(), dict(same, **{"refresh-rate": 1, "resource": "x"})) == \
        "differs in refresh-rate, resource"
    assert er.compare_installed(desired, {"refresh-rate"}, dict(same, **{"refresh-rate": 1})) is None


def test_install_reason():
    assert er.install_reason(True, False, []) == "object changed"
    assert er.install_reason(True, True, []) == "object deleted"
    assert er.install_reason(False, False, ["fgt2 (root): missing", "fgt1 (root): differs in refresh-rate"]) == \
        "not installed as configured on fgt2 (root): missing; fgt1 (root): differs in refresh-rate"
    assert er.install_reason(False, False, []) is None


def test_install_summary():
    task = {"id": 1001, "state": "done", "num_err": "0", "line": [
        {"name": "fgt1", "vdom": "root", "state": "done", "detail": "ok", "oid": 7}, "junk"]}
    scope = [{"name": "fgt1", "vdom": "root"}]
    assert er.install_summary(task, scope, "object changed") == {
        "reason": "object changed", "task": 1001, "state": "done", "num_err": 0, "scope": scope,
        "devices": [{"name": "fgt1", "vdom": "root", "state": "done", "detail": "ok"}]}
    assert er.install_summary({"id": 2}, scope, "r")["devices"] == []


class _NoRequests(object):
    """A FortiManagerClient stand-in: building the FortiGates of a scope sends nothing."""

    proxy_timeout = 9

    def proxy(self, *args, **kwargs):
        raise AssertionError("no request expected")


@pytest.mark.parametrize("adom, device, group", [
    ("emea", "adom/emea/device/fgt1", "adom/emea/group/edge"),
    ("global", "device/fgt1", "group/edge"),  # the resolver's ADOM-less form (reference H1)
])
def test_scope_fortigates_use_the_resolvers_targets(adom, device, group):
    scope = [{"name": "fgt1", "vdom": "root"}, {"name": "edge"}, {"name": "fgt2", "vdom": "dmz"}]
    ways = er.scope_fortigates(_NoRequests(), adom, "root", scope)
    assert [(vdom, [(t.path, t.device) for t in fgts.targets]) for vdom, fgts in ways] == [
        ("dmz", [(device.replace("fgt1", "fgt2"), "fgt2")]),
        ("root", [(device, "fgt1"), (group, None)])]
    assert [fgts.vdom for _vdom, fgts in ways] == ["dmz", "root"]
