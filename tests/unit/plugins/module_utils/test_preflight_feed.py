# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "external resource": name (case), type, credentials, URL, last poll, per target."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.feed import (
    check_feed,
    credentials_in_url,
    safe_url,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report

from preflight_fakes import refused, target

ALLOWLIST = "https://knocknoc.example.com/api/allowlist/Zx81tokenpart"


def feed(name="kk_allow", **extra):
    obj = {"name": name, "type": "address", "resource": ALLOWLIST, "username": "apikey", "password": "ENC xyz"}
    obj.update(extra)
    return obj


def polled(count=3):
    return {"kk_allow": {"status": "success", "valid_count": count, "entries": []}}


def evaluate(targets, allowlist_url=ALLOWLIST):
    report = Report()
    found = check_feed(report, targets, "kk_allow", allowlist_url)
    return report, dict((c["id"], c) for c in report.checks), found


def test_a_correct_feed_passes_every_item_with_one_table_read_and_one_poll_read():
    fgt = target(tables={"system/external-resource": [feed()]}, lists=polled(3))
    report, checks, found = evaluate([fgt])
    assert report.ids() == ["feed_name", "feed_type", "feed_credentials", "feed_url", "feed_poll"]
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["feed_poll"]["detail"] == "fgt1: 3 entries"
    assert list(found) == ["fgt1"]
    assert fgt.reader.calls == [("get_table", "system/external-resource"), ("entry_list", "kk_allow")]


def test_a_name_that_differs_in_case_on_one_target_fails_there_only():
    good = target("fgt1", tables={"system/external-resource": [feed()]}, lists=polled())
    bad = target("fgt2", tables={"system/external-resource": [feed("Kk_Allow")]})
    report, checks, _found = evaluate([good, bad])
    assert checks["feed_name"]["passed"] is False
    assert checks["feed_name"]["detail"] == (
        "fgt2: no external resource named kk_allow (found Kk_Allow: names are case-sensitive)")
    assert "exactly" in checks["feed_name"]["fix"]
    # The other items still look at the target where the feed exists.
    assert checks["feed_poll"]["passed"] is True
    assert bad.reader.calls == [("get_table", "system/external-resource")]


def test_no_feed_anywhere_stops_after_the_name():
    report, checks, found = evaluate([target(tables={"system/external-resource": []})])
    assert report.ids() == ["feed_name"] and found == {}


@pytest.mark.parametrize("url, how", [
    ("https://apikey:s3cret@knocknoc.example.com/api/allowlist/x", "user:password@ in the URL"),
    ("https://knocknoc.example.com/api/allowlist/x?api_key=s3cret", "query parameter api_key"),
    ("https://knocknoc.example.com/api/allowlist/x?Token=s3cret", "query parameter Token"),
    ("https://knocknoc.example.com/api/allowlist/x?format=plain", None),
])
def test_credentials_in_the_url_are_recognised(url, how):
    assert credentials_in_url(url) == how


def test_embedded_credentials_fail_without_showing_them():
    url = "https://apikey:s3cret@knocknoc.example.com/api/allowlist/Zx81tokenpart"
    fgt = target(tables={"system/external-resource": [feed(resource=url)]}, lists=polled())
    report, checks, _found = evaluate([fgt])
    assert checks["feed_credentials"]["passed"] is False
    assert "credentials in the resource URL (user:password@ in the URL)" in checks["feed_credentials"]["detail"]
    assert checks["feed_url"]["passed"] is False
    assert checks["feed_url"]["detail"] == "fgt1: points to https://knocknoc.example.com/..."
    assert "s3cret" not in str(report.result()) and "Zx81tokenpart" not in str(report.result())


def test_missing_basic_auth_and_wrong_type_fail():
    fgt = target(tables={"system/external-resource": [feed(type="category", username="", password="")]},
                 lists=polled())
    _report, checks, _found = evaluate([fgt])
    assert checks["feed_type"]["passed"] is False and checks["feed_type"]["detail"] == "fgt1: type category"
    assert checks["feed_credentials"]["detail"] == "fgt1: no HTTP basic username/password set"


def test_without_an_allowlist_url_the_url_item_is_skipped():
    fgt = target(tables={"system/external-resource": [feed()]}, lists=polled())
    report, checks, _found = evaluate([fgt], allowlist_url=None)
    assert "feed_url" not in checks
    assert report.skipped == [{"item": "External feed points to the allowlist URL", "reason": "no allowlist_url or knoc given"}]


def test_a_push_only_resource_skips_url_and_poll_and_reads_no_list():
    fgt = target(tables={"system/external-resource": [{"name": "kk_allow", "type": "address", "update-method": "push"}]})
    report, checks, _found = evaluate([fgt])
    assert report.ids() == ["feed_name", "feed_type", "feed_credentials"]
    assert [s["reason"] for s in report.skipped] == ["the external resource is push-only"] * 2
    assert ("entry_list", "kk_allow") not in fgt.reader.calls


def test_a_failed_or_disabled_poll_fails_with_the_reason():
    failing = target("fgt1", tables={"system/external-resource": [feed()]},
                     lists={"kk_allow": {"status": "error", "error": "HTTP 401"}})
    disabled = target("fgt2", tables={"system/external-resource": [feed(status="disable")]}, lists=polled())
    _report, checks, _found = evaluate([failing, disabled])
    assert checks["feed_poll"]["detail"] == "fgt1: last poll error (HTTP 401); fgt2: the external resource is disabled"


def test_an_api_error_on_the_poll_read_fails_that_item_only():
    fgt = target(tables={"system/external-resource": [feed()]}, fail={"entry_list": refused()})
    report, checks, _found = evaluate([fgt])
    assert checks["feed_name"]["passed"] is True
    assert checks["feed_poll"]["passed"] is False and "202002" in checks["feed_poll"]["detail"]


def test_safe_url_keeps_scheme_host_and_port_only():
    assert safe_url("https://kk.example.com:8443/api/allowlist/secret") == "https://kk.example.com:8443/..."
    assert safe_url("") == "(no URL)"
