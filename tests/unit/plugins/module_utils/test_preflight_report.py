# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight table: items, severities, API errors as failed items, the rendered table."""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import (
    Report,
    case_hint,
    find_exact,
    names_of,
)


def test_run_records_pass_fail_and_fix_and_returns_the_outcome():
    report = Report()
    assert report.run("a", "Item A", lambda: (True, "fine"), "fix A") is True
    assert report.run("b", "Item B", lambda: (False, "broken"), "fix B") is False
    assert report.run("c", "Item C", lambda: (False, "broken", "a better fix"), "fix C") is False
    assert report.checks == [
        {"id": "a", "item": "Item A", "passed": True, "severity": "error", "detail": "fine", "fix": ""},
        {"id": "b", "item": "Item B", "passed": False, "severity": "error", "detail": "broken", "fix": "fix B"},
        {"id": "c", "item": "Item C", "passed": False, "severity": "error", "detail": "broken", "fix": "a better fix"},
    ]


def test_nothing_to_check_adds_no_item():
    report = Report()
    assert report.run("a", "Item A", lambda: None, "fix") is None
    assert report.checks == []


def test_an_api_error_fails_the_item_with_its_message_and_the_checks_go_on():
    report = Report()

    def refused():
        raise KnocknocError(202002, cause="HTTP 403 on GET /api/v2/cmdb/system/api-user")
    assert report.run("a", "Item A", refused, "fix A") is False
    assert report.checks[0]["detail"].startswith("(agent error #202002) Authorization failed")
    assert report.checks[0]["fix"] == "fix A"
    assert report.run("b", "Item B", lambda: (True, "ok"), "fix B") is True


def test_result_counts_errors_and_warnings_and_renders_the_table():
    report = Report()
    report.add("reach", "Reach", True, "FortiOS 7.4.4")
    report.add("policy_enabled", "Policy is enabled", False, "policy 1 is disabled", "Enable it.")
    report.add("least", "Minimum permissions", False, "also sysgrp", "Narrow it.", severity="warning")
    report.skip("Test grant", "no test_ip given")
    result = report.result()
    assert result["passed"] is False
    assert result["failed_checks"] == ["policy_enabled"]
    assert result["warnings_checks"] == ["least"]
    assert result["summary"] == "1 passed, 1 failed, 1 warnings"
    assert result["skipped_checks"] == [{"item": "Test grant", "reason": "no test_ip given"}]
    assert result["table"] == [
        "PASS  Reach: FortiOS 7.4.4",
        "FAIL  Policy is enabled: policy 1 is disabled",
        "      fix: Enable it.",
        "WARN  Minimum permissions: also sysgrp",
        "      fix: Narrow it.",
        "SKIP  Test grant: no test_ip given",
    ]


def test_warnings_alone_pass():
    report = Report()
    report.add("least", "Minimum permissions", False, "also sysgrp", severity="warning")
    assert report.result()["passed"] is True


def test_find_exact_is_case_sensitive_and_names_near_misses():
    items = [{"name": "KK_allow"}, {"name": "kk_allow2"}, {"name": "Kk_Allow"}, {"other": 1}]
    assert find_exact(items, "name", "kk_allow") == (None, ["KK_allow", "Kk_Allow"])
    assert find_exact(items, "name", "KK_allow") == ({"name": "KK_allow"}, ["Kk_Allow"])
    assert case_hint(["KK_allow"]) == " (found KK_allow: names are case-sensitive)"
    assert case_hint([]) == ""
    assert names_of([{"name": "a"}, "junk", {"name": "b"}]) == ["a", "b"]
