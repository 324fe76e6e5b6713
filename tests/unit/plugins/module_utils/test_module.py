# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KnocknocModule, the module base: secrets masked before validation, allowlist URLs redacted,
validate_certs=false warned about once per device."""

import json

import pytest
from ansible.module_utils.ansible_release import __version__ as ansible_version
from ansible.module_utils import _internal
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.knocknoc.fortinet.plugins.module_utils import _http
from ansible_collections.knocknoc.fortinet.plugins.module_utils._module import KnocknocModule

PASSWORD = "canary-pw-8f3a1c"
TOKEN = "canary-token-5be1c0de9a8f4e7d"
ALLOWLIST = "https://kk.example.com/api/v1/allowlists/7/%s.txt" % TOKEN
SPEC = dict(
    url=dict(type="str"),
    timeout=dict(type="int"),
    data=dict(type="dict"),
    resource=dict(type="str"),
)


def run(args, body=None, secret_results=()):
    """Build a KnocknocModule with ``args`` and let ``body(module)`` finish it; return the printed JSON."""
    args = dict(args)
    if tuple(int(p) for p in ansible_version.split(".")[:2]) >= (2, 20):
        args["_ansible_inject_invocation"] = True  # echo the arguments, as older cores always do
    module_warnings._global_warnings.clear()
    # A module process is never the controller; once controller code is imported (another test imported
    # ansible.errors), module warnings would go to the controller's display instead of the result.
    controller, _internal.is_controller = _internal.is_controller, False
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module = KnocknocModule(SPEC, supports_check_mode=True)
                module.secret_results = secret_results
                (body or (lambda m: m.exit_json(changed=False)))(module)
    finally:
        _internal.is_controller = controller


def warnings(result):
    """The warning texts (ansible-core 2.19+ returns them as WarningSummary objects, older as strings)."""
    return [w if isinstance(w, str) else w["event"]["msg"] for w in result.get("warnings", [])]


def result_of(capsys, args, body=None, **kwargs):
    run(args, body, **kwargs)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args", [
    # Ansible refuses these itself, before the module runs: the refusal echoes the arguments.
    dict(url="https://admin:%s@fw.example.com" % PASSWORD, unknown_option=1),
    dict(url="https://fw.example.com", timeout="https://admin:%s@fw.example.com" % PASSWORD),
    dict(data={"members": [{"comment": "https://admin:%s@fw.example.com" % PASSWORD}]}, unknown_option=1),
    dict(data={"resource": ALLOWLIST}, timeout="ten"),
    dict(resource=ALLOWLIST, unknown_option=1),
])
def test_secrets_are_masked_when_argument_validation_fails(capsys, args):
    result = result_of(capsys, args)
    assert result["failed"] and result["invocation"]["module_args"]
    text = json.dumps(result)
    assert PASSWORD not in text and TOKEN not in text


def test_nested_secrets_are_masked_in_a_result(capsys):
    args = dict(data={"a": {"b": ["x https://u:%s@h/ y" % PASSWORD]}}, resource=ALLOWLIST)
    result = result_of(capsys, args, lambda m: m.exit_json(changed=False, echo=m.params["data"], resource=ALLOWLIST))
    text = json.dumps(result)
    assert PASSWORD not in text and TOKEN not in text
    assert result["resource"] == "https://kk.example.com/api/v1/allowlists/7/<redacted>.txt"


def test_url_passwords_a_device_returns_are_masked(capsys):
    # Not among the arguments (another task wrote it): hidden by its shape.
    device_object = {"name": "kk", "comment": "mirror https://mirror:%s@mirror.example/feed" % PASSWORD}
    result = result_of(capsys, {}, lambda m: m.exit_json(changed=False, object=device_object))
    assert result["object"]["comment"] == "mirror https://mirror:********@mirror.example/feed"


def test_allowlist_urls_are_redacted_in_messages_and_warnings_unless_asked_for(capsys):
    def body(module):
        module.warn("polling %s" % ALLOWLIST)
        module.fail_json(msg="HTTP 404 on %s" % ALLOWLIST, details={"url": ALLOWLIST})
    result = result_of(capsys, {}, body)
    assert TOKEN not in json.dumps(result)
    assert result["msg"] == "HTTP 404 on https://kk.example.com/api/v1/allowlists/7/<redacted>.txt"
    assert warnings(result) == ["polling https://kk.example.com/api/v1/allowlists/7/<redacted>.txt"]

    asked = result_of(capsys, {}, lambda m: m.exit_json(allowlist_url=ALLOWLIST, knoc={"allowlist_url": ALLOWLIST}),
                      secret_results=("allowlist_url",))
    assert asked["allowlist_url"] == ALLOWLIST and TOKEN not in json.dumps(asked["knoc"])


def test_validate_certs_false_warns_once_per_device(capsys):
    def body(module):
        for url in ("https://fw.example.com/api/v2/a", "https://fw.example.com/api/v2/b", "https://fmg.example.com:8443/jsonrpc"):
            _http._note_unverified(url)
        module.exit_json(changed=False)
    result = result_of(capsys, {}, body)
    texts = warnings(result)
    assert len(texts) == 2
    assert "validate_certs=false" in texts[0] and "https://fw.example.com " in texts[0]
    assert "https://fmg.example.com:8443 " in texts[1]
    # A new task starts with an empty record.
    _http._note_unverified("https://stale.example.com")
    assert "warnings" not in result_of(capsys, {})
