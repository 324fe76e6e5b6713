# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "policy": a policy uses the feed or group as source, is enabled and accepts; the
Active address group exists."""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.policy import (
    check_address_group,
    check_policy,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report

from preflight_fakes import policy, target


def evaluate(targets, address="kk_allow"):
    report = Report()
    using = check_policy(report, targets, address, "external resource")
    return report, dict((c["id"], c) for c in report.checks), using


def test_an_enabled_accepting_policy_passes_and_is_returned():
    pol = policy(3)
    report, checks, using = evaluate([target(tables={"firewall/policy": [policy(1, source="other"), pol]})])
    assert checks["policy"] == dict(checks["policy"], passed=True, detail="fgt1: policy 3")
    assert checks["policy_enabled"]["passed"] is True
    assert using == {"fgt1": [pol]}


def test_an_ipv6_source_counts():
    _report, checks, _using = evaluate([target(tables={"firewall/policy": [policy(2, v6=True)]})])
    assert checks["policy"]["passed"] is True


def test_no_policy_on_one_target_fails_and_skips_the_enabled_item_for_none():
    fgt1 = target("fgt1", tables={"firewall/policy": [policy(1)]})
    fgt2 = target("fgt2", tables={"firewall/policy": []})
    report, checks, using = evaluate([fgt1, fgt2])
    assert checks["policy"]["detail"] == "fgt2: no firewall policy has kk_allow as source address"
    assert "kk_allow in Source Address" in checks["policy"]["fix"]
    assert list(using) == ["fgt1"] and checks["policy_enabled"]["passed"] is True


def test_a_disabled_or_denying_policy_fails():
    fgt1 = target("fgt1", tables={"firewall/policy": [policy(1, status="disable")]})
    fgt2 = target("fgt2", tables={"firewall/policy": [policy(4, action="deny")]})
    _report, checks, _using = evaluate([fgt1, fgt2])
    assert checks["policy_enabled"]["detail"] == ("fgt1: policy 1 is disabled or does not accept; "
                                                  "fgt2: policy 4 is disabled or does not accept")
    assert "Enable the policy" in checks["policy_enabled"]["fix"]


def test_nothing_found_stops_after_the_first_item():
    report, _checks, using = evaluate([target(tables={"firewall/policy": []})])
    assert report.ids() == ["policy"] and using == {}


def test_the_address_group_must_exist_with_exactly_that_name():
    report = Report()
    check_address_group(report, [target(tables={"firewall/addrgrp": [{"name": "KK_users"}]})], "kk_users")
    assert report.checks[0]["passed"] is False
    assert report.checks[0]["detail"] == "fgt1: no address group named kk_users (found KK_users: names are case-sensitive)"
    report = Report()
    check_address_group(report, [target(tables={"firewall/addrgrp": [{"name": "kk_users"}]})], "kk_users")
    assert report.checks[0]["passed"] is True
