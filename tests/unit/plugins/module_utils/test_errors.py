# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KnocknocError: rendering of every documented code, hints, redaction."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import (
    AGENT_ERRORS,
    KnocknocError,
    allowlist_tokens,
    basic_auth_secret,
    redact,
    redact_allowlist_url,
    redact_allowlist_urls,
    secrets_in,
)

SEED_CODES = (202000, 202001, 202002, 202003, 202004, 202050, 202051, 202100, 202101, 202102, 202150)
TOKEN = "x7Kp2QzW9rTbN4mLs8VdYc3HfJg6Ae"


def test_the_table_holds_exactly_the_seed_codes():
    assert sorted(AGENT_ERRORS) == list(SEED_CODES)


@pytest.mark.parametrize("code", SEED_CODES)
def test_every_code_renders_with_description_cause_and_hint(code):
    description, hint = AGENT_ERRORS[code]
    err = KnocknocError(code, "HTTP 403 on GET /api/v2/cmdb/firewall/address?vdom=root")
    assert str(err) == "(agent error #%d) %s: HTTP 403 on GET /api/v2/cmdb/firewall/address?vdom=root. Hint: %s" % (
        code, description, hint)
    assert hint and len(hint) > 40
    kwargs = err.fail_kwargs()
    assert kwargs == {"msg": str(err), "error_code": code, "hint": hint, "details": {}}


def test_seed_wording():
    assert str(KnocknocError(202002, "x")).startswith(
        "(agent error #202002) Authorization failed (insufficient permissions): x.")
    assert "Super_User" in AGENT_ERRORS[202002][1]
    assert "Manage Device Configurations" in AGENT_ERRORS[202002][1]
    assert "next poll" in AGENT_ERRORS[202100][1]
    assert AGENT_ERRORS[202051][0] == "Admin user not found on FortiManager"


def test_undocumented_failure_has_no_code():
    err = KnocknocError(None, "HTTP 500 on POST /api/v2/cmdb/firewall/address: FortiOS error -5",
                        description="FortiGate rejected the request", details={"fortios_error": -5})
    assert str(err).startswith("(knocknoc.fortinet) FortiGate rejected the request: HTTP 500")
    assert "Hint" not in str(err)
    assert err.fail_kwargs()["error_code"] is None
    assert err.details == {"fortios_error": -5}


def test_codes_outside_the_table_are_refused():
    with pytest.raises(ValueError):
        raise KnocknocError(202999, "invented")


def test_secrets_never_leak_anywhere():
    basic = basic_auth_secret("apikey", TOKEN)
    err = KnocknocError(
        202001, "HTTP 401 on GET /api/v2/cmdb?access_token=%s (token %s)" % (TOKEN, TOKEN),
        details={"headers": {"Authorization": "Bearer " + TOKEN}, "basic": "Basic " + basic,
                 "list": [TOKEN, 1, None], TOKEN: "key"},
        hint="use another key than %s" % TOKEN, secrets=[TOKEN, basic])
    text = repr(err.fail_kwargs()) + str(err) + repr(err.args)
    assert TOKEN not in text and basic not in text
    assert "********" in err.cause


def test_well_known_credential_shapes_are_scrubbed_without_being_told():
    text = redact("GET https://admin:pa55@fw/x?access_token=abc123&vdom=root Authorization: Bearer zzz999")
    assert "pa55" not in text and "abc123" not in text and "zzz999" not in text
    assert "vdom=root" in text


def test_url_encoded_secret_is_scrubbed():
    assert redact("token=a%2Fb%2Bc", "a/b+c") == "token=********"
    assert redact(None, "x") is None
    assert redact("nothing", None, "") == "nothing"


def test_recode_keeps_cause_and_details():
    err = KnocknocError(None, "FortiGate rejected dynamic push", description="FortiGate rejected the request",
                        details={"results": [{"status": "error"}]}, secrets=[TOKEN])
    pushed = err.recode(202100)
    assert pushed.code == 202100
    assert str(pushed).startswith("(agent error #202100) Failed to push dynamic entry: FortiGate rejected")
    assert pushed.details == err.details


# -- secrets carried by shape -----------------------------------------------------------------------------------
ALLOWLIST = "https://kk.example.com/api/v1/allowlists/0c9f6a8e/5be1c0de9a8f4e7d.txt"


@pytest.mark.parametrize("text, expected", [
    (ALLOWLIST, "https://kk.example.com/api/v1/allowlists/0c9f6a8e/<redacted>.txt"),
    ("GET /api/v1/allowlists/7/a.b.json?x=1", "GET /api/v1/allowlists/7/<redacted>.json?x=1"),
    ("points to https://kk/api/v1/allowlists/7/5be1c0de, not", "points to https://kk/api/v1/allowlists/7/<redacted>, not"),
    ("https://kk/edl/9d7e-2f0b", "https://kk/edl/<redacted>"),
    # Not an allowlist URL with a token: unchanged.
    ("https://kk/api/v1/allowlists/XXX", "https://kk/api/v1/allowlists/XXX"),
    ("https://fw.example.com/api/v2/cmdb/firewall/address", "https://fw.example.com/api/v2/cmdb/firewall/address"),
])
def test_allowlist_urls_are_shown_without_their_token(text, expected):
    assert redact_allowlist_url(text) == expected
    assert redact(text) == expected  # every error scrubs them too


def test_allowlist_tokens_and_nested_redaction():
    assert allowlist_tokens("a %s b %s" % (ALLOWLIST, ALLOWLIST.replace("5be1", "aaaa"))) == [
        "5be1c0de9a8f4e7d", "aaaac0de9a8f4e7d"]
    assert allowlist_tokens(redact_allowlist_url(ALLOWLIST)) == []  # the placeholder is no secret
    result = redact_allowlist_urls({"a": [ALLOWLIST, 1, None], "b": {"c": ALLOWLIST}, ALLOWLIST: True})
    assert "5be1c0de9a8f4e7d" not in str(result) and result["a"][1:] == [1, None]


def test_secrets_in_finds_url_passwords_and_tokens_at_any_depth():
    params = {
        "url": "https://fw.example.com",
        "data": {"resource": ALLOWLIST, "members": [{"comment": "see https://u:p%40ss@h/x and https://user@h"}]},
        "tags": ["https://:only-password@h", "ftp://a:b@c:d@host/"],
        "https://k:keypass@h": None,
    }
    assert secrets_in(params) == {"5be1c0de9a8f4e7d", "p%40ss", "p@ss", "only-password", "b@c:d", "keypass"}
    assert secrets_in({"url": "https://fw.example.com", "n": 3, "b": True}) == set()
