# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist areas "Knoc settings" and "allowlist details": the Knoc agrees with the device setup."""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._modes import mode_plan
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.knoc import check_knoc, knocknoc_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report

KNOC = {"id": 7, "name": "edge", "mode": "passive_plus", "use_fortimanager": False, "external_connector_name": "kk_allow",
        "allowlist_url": "https://kk.example.com/api/allowlist/abc", "allowlist_ip_restrictions": ["203.0.113.1/32"]}


class FakeKnocknoc(object):
    def __init__(self, knocs):
        self.knocs = knocs
        self.asked = []

    def list_knocs(self, name):
        self.asked.append(name)
        return self.knocs


def params(**extra):
    p = {"knoc": "edge", "knocknoc_url": "https://kk.example.com", "mode": "passive_plus", "use_fortimanager": False,
         "resource_name": "kk_allow", "adom": "root", "address_group": None}
    p.update(extra)
    return p


def evaluate(p, knocs):
    client = FakeKnocknoc(knocs)
    report = Report()
    url = check_knoc(report, p, mode_plan(p["mode"], p["use_fortimanager"]), connect=lambda _p: client)
    return url, report, dict((c["id"], c) for c in report.checks), client


def test_a_matching_knoc_passes_and_gives_its_allowlist_url():
    url, report, checks, client = evaluate(params(), [dict(KNOC, name="edge2"), KNOC])
    assert url == KNOC["allowlist_url"]
    assert report.ids() == ["knoc", "knoc_settings", "allowlist_restricted"]
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["knoc"]["detail"] == "Knoc edge (id 7), mode passive_plus"
    assert client.asked == ["edge"]


def test_no_knoc_option_skips_without_a_client():
    def connect(_p):
        raise AssertionError("no client may be built")
    report = Report()
    assert check_knoc(report, params(knoc=None), mode_plan("passive_plus"), connect=connect) is None
    assert report.skipped == [{"item": "The Knoc has the correct settings", "reason": "no knoc given"}]


def test_a_missing_knoc_fails_without_showing_the_url_path():
    url, report, checks, _client = evaluate(params(knocknoc_url="https://kk.example.com/secret/path"), [])
    assert url is None and report.ids() == ["knoc"]
    assert checks["knoc"]["detail"] == "no Knoc named edge on https://kk.example.com/..."


def test_an_unreachable_knocknoc_fails_the_item():
    def connect(_p):
        raise KnocknocError(202000, cause="connection refused")
    report = Report()
    assert check_knoc(report, params(), mode_plan("passive_plus"), connect=connect) is None
    assert report.checks[0]["passed"] is False and "202000" in report.checks[0]["detail"]


def test_every_mismatch_is_named():
    knoc = dict(KNOC, mode="passive_plus", use_fortimanager=False, external_connector_name="KK_allow", adom="other")
    _url, _report, checks, _client = evaluate(params(use_fortimanager=True), [knoc])
    assert checks["knoc_settings"]["detail"] == (
        "\"I am using a FortiManager\" is not set; External Connector Name is 'KK_allow', the FortiGate resource is"
        " 'kk_allow' (case-sensitive); ADOM is other, not root")
    _url, _report, checks, _client = evaluate(params(mode="active", address_group="kk_users"),
                                              [dict(KNOC, mode="active", address_group="kk_grp")])
    assert checks["knoc_settings"]["detail"] == "address group is 'kk_grp', not 'kk_users'"
    _url, _report, checks, _client = evaluate(params(mode="passive"), [KNOC])
    assert checks["knoc_settings"]["detail"] == "mode is passive_plus, not passive"


def test_an_unrestricted_allowlist_key_is_a_warning_and_active_skips_it():
    _url, report, checks, _client = evaluate(params(), [dict(KNOC, allowlist_ip_restrictions=["0.0.0.0/0"])])
    assert checks["allowlist_restricted"]["passed"] is False
    assert checks["allowlist_restricted"]["severity"] == "warning" and report.result()["passed"] is True
    _url, report, _checks, _client = evaluate(params(mode="active", address_group="g"),
                                              [dict(KNOC, mode="active", address_group="g")])
    assert "allowlist_restricted" not in report.ids()


def test_knocknoc_connection_from_options_dict_environment(monkeypatch):
    monkeypatch.delenv("KNOCKNOC_URL", raising=False)
    monkeypatch.setenv("KNOCKNOC_CA_PATH", "/env/ca.pem")
    monkeypatch.setenv("KNOCKNOC_TIMEOUT", "7")
    conn = {"url": "https://dict.example.com", "token": "dict-token", "ca_path": "/dict/ca.pem",
            "tls_fingerprint": ["AA" * 32], "retries": 1}
    # the dict alone carries the whole connection, also the keys the knocknoc_* options lack
    got = knocknoc_params(params(knocknoc_url=None, knocknoc=conn, timeout=30, retries=5))
    assert (got["url"], got["token"], got["ca_path"], got["tls_fingerprint"], got["retries"]) == (
        "https://dict.example.com", "dict-token", "/dict/ca.pem", ["AA" * 32], 1)
    assert got["timeout"] == 7  # KNOCKNOC_TIMEOUT before the device's timeout
    # a knocknoc_* option wins over the dict, the dict over the environment
    got = knocknoc_params(params(knocknoc_url="https://option.example.com", knocknoc=conn, timeout=30))
    assert got["url"] == "https://option.example.com" and got["ca_path"] == "/dict/ca.pem"
    got = knocknoc_params(params(knocknoc={"url": "https://dict.example.com"}, timeout=30, retries=5))
    assert got["ca_path"] == "/env/ca.pem" and got["validate_certs"] is True
    monkeypatch.delenv("KNOCKNOC_TIMEOUT")
    # timeout and retries given nowhere for the Knocknoc server: the device connection's, as before the dict
    got = knocknoc_params(params(knocknoc={"url": "https://dict.example.com"}, timeout=30, retries=5))
    assert (got["timeout"], got["retries"]) == (30, 5)
    assert knocknoc_params(params(knocknoc_url=None))["url"] is None
