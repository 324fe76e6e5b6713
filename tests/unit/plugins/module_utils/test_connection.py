# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection options: top-level option > the API's dict > environment variable > default, for
each API, through the argspec AnsibleModule really builds, and through the clients' from_params."""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import (
    FORTIGATE,
    api_options,
    fortigate_argspec,
    fortimanager_argspec,
    fortinet_argspec,
    knocknoc_argspec,
    resolve_connection,
    resolve_fortigate_params,
    resolve_fortimanager_params,
    resolve_fortinet_params,
    resolve_knocknoc_params,
    resolve_tls_params,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient, connection_from_params
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import KnocknocClient

FGT_ENV = {"FORTIGATE_URL": "https://env-fgt.example.com", "FORTIGATE_TOKEN": "env-fgt-token", "FORTIGATE_VDOM": "env",
           "FORTIGATE_TIMEOUT": "7", "FORTIGATE_VALIDATE_CERTS": "no", "FORTIGATE_TLS_SERVER_NAME": "FGVMENV"}
FMG_ENV = {"FORTIMANAGER_URL": "https://env-fmg.example.com", "FORTIMANAGER_TOKEN": "env-fmg-token",
           "FORTIMANAGER_ADOM": "env-adom", "FORTIMANAGER_TIMEOUT": "8"}


def module_params(argspec, args, monkeypatch):
    """The params AnsibleModule makes of ``args`` with ``argspec`` (types, suboptions, no defaults)."""
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    return dict(basic.AnsibleModule(argument_spec=argspec).params)


def failure(callable_, *args, **kwargs):
    with pytest.raises(KnocknocError) as info:
        callable_(*args, **kwargs)
    return info.value


def test_precedence_option_by_option(monkeypatch):
    args = {"url": "https://top.example.com", "timeout": 3,
            "fortigate": {"url": "https://dict.example.com", "token": "dict-token", "timeout": 4, "vdom": "dictvdom"}}
    params = module_params(fortigate_argspec(), args, monkeypatch)
    resolved = resolve_fortigate_params(params, FGT_ENV)
    assert resolved["url"] == "https://top.example.com"     # top-level wins over the dict and the environment
    assert resolved["timeout"] == 3
    assert resolved["token"] == "dict-token"                # the dict wins over the environment
    assert resolved["vdom"] == "dictvdom"
    assert resolved["validate_certs"] is False              # the environment, as a bool
    assert resolved["tls_server_name"] == "FGVMENV"
    assert resolved["ca_path"] is None and resolved["tls_fingerprint"] is None
    assert resolved["retries"] == 3                         # default (no environment variable)
    # Nothing anywhere: the defaults.
    bare = resolve_fortigate_params(module_params(fortigate_argspec(), {"url": "https://x.example.com", "token": "t"},
                                                  monkeypatch), {})
    assert (bare["vdom"], bare["validate_certs"], bare["timeout"], bare["retries"]) == ("root", True, 10, 3)
    # The caller's params are left alone (Ansible echoes them back).
    assert params["token"] is None and params["vdom"] is None


def test_an_explicit_false_or_zero_is_not_missing():
    params = {"validate_certs": False, "retries": 0, "fortigate": {"validate_certs": True, "retries": 5}}
    resolved = resolve_connection(params, FORTIGATE, {"FORTIGATE_VALIDATE_CERTS": "true"}, require=())
    assert resolved["validate_certs"] is False and resolved["retries"] == 0


def test_missing_url_or_token_names_every_source():
    err = failure(resolve_fortigate_params, {"url": "https://fw.example.com"}, {})
    assert "option token is required (or fortigate.token, or set FORTIGATE_TOKEN)" in str(err)
    err = failure(resolve_fortimanager_params, {"fortimanager": {"token": "t"}}, {})
    assert "fortimanager.url" in str(err) and "FORTIMANAGER_URL" in str(err)
    # The Knocknoc token is optional (allowlist reads).
    assert resolve_knocknoc_params({"knocknoc": {"url": "https://kn.example.com"}}, {})["token"] is None


def test_bad_environment_values_are_named():
    err = failure(resolve_fortigate_params, {"url": "https://fw", "token": "t"}, {"FORTIGATE_TIMEOUT": "soon"})
    assert "FORTIGATE_TIMEOUT" in str(err)
    err = failure(resolve_fortigate_params, {"url": "https://fw", "token": "t"}, {"FORTIGATE_VALIDATE_CERTS": "maybe"})
    assert "FORTIGATE_VALIDATE_CERTS" in str(err)


def test_fortinet_modules_pick_the_api_and_keep_both_dicts_apart(monkeypatch):
    args = {"fortigate": {"url": "https://fgt.example.com", "token": "fgt-token", "vdom": "dmz", "timeout": 5},
            "fortimanager": {"url": "https://fmg.example.com", "token": "fmg-token", "adom": "emea", "timeout": 6}}
    params = module_params(fortinet_argspec(), args, monkeypatch)
    direct = resolve_fortinet_params(params, FMG_ENV)
    assert (direct["url"], direct["token"], direct["vdom"], direct["timeout"]) == (
        "https://fgt.example.com", "fgt-token", "dmz", 5)
    assert direct["adom"] == "emea"
    proxied = resolve_fortinet_params(dict(params, use_fortimanager=True), FGT_ENV)
    assert (proxied["url"], proxied["token"], proxied["adom"], proxied["timeout"]) == (
        "https://fmg.example.com", "fmg-token", "emea", 6)
    assert proxied["vdom"] == "dmz"                          # the VDOM of the managed FortiGates
    # Top-level options still win, on the path use_fortimanager picks.
    top = resolve_fortinet_params(dict(params, use_fortimanager=True, url="https://top.example.com", adom="apac"), {})
    assert (top["url"], top["adom"], top["token"]) == ("https://top.example.com", "apac", "fmg-token")
    # Environment of the picked API only.
    env_only = resolve_fortinet_params({"use_fortimanager": True}, dict(FGT_ENV, **FMG_ENV))
    assert (env_only["url"], env_only["adom"], env_only["vdom"], env_only["timeout"]) == (
        "https://env-fmg.example.com", "env-adom", "env", 8)


def test_from_params_builds_the_resolved_client(ca_path):
    gate = FortiGateClient.from_params({"fortigate": {"url": "https://fgt.example.com", "token": "t", "vdom": "dmz",
                                                      "ca_path": ca_path, "timeout": 4}}, {})
    assert (gate.base_url, gate.vdom, gate.timeout, gate.verify) == ("https://fgt.example.com", "dmz", 4, ca_path)
    manager = FortiManagerClient.from_params({"url": "https://top.example.com", "fortimanager": {"token": "t"}}, FMG_ENV)
    assert (manager.base_url, manager.adom, manager.timeout) == ("https://top.example.com", "env-adom", 8)
    server = KnocknocClient.from_params({"knocknoc": {"url": "https://kn.example.com", "token": "adm"}}, {})
    assert server.base_url == "https://kn.example.com" and server.token == "adm"
    fmg = {"url": "https://fmg.example.com", "token": "t"}
    both = connection_from_params({"use_fortimanager": True, "fortimanager": fmg}, {})
    assert isinstance(both, FortiManagerClient) and both.adom == "root"


def test_resolved_params_resolve_to_themselves():
    once = resolve_fortinet_params({"use_fortimanager": True, "fortimanager": {"url": "https://fmg", "token": "t"}},
                                   FMG_ENV)
    assert resolve_fortimanager_params(once, FMG_ENV) == once


def test_resolve_tls_params_for_options_without_a_dict():
    resolved = resolve_tls_params({"timeout": None, "validate_certs": None}, "KNOCKNOC",
                                  {"KNOCKNOC_TIMEOUT": "2", "KNOCKNOC_CA_PATH": "~/ca.pem"})
    assert resolved["timeout"] == 2 and resolved["validate_certs"] is True and resolved["ca_path"].endswith("/ca.pem")
    assert not resolved["ca_path"].startswith("~")


@pytest.mark.parametrize("argspec, api", [(fortigate_argspec, "fortigate"), (fortimanager_argspec, "fortimanager"),
                                          (knocknoc_argspec, "knocknoc")])
def test_argspecs_have_no_defaults_and_a_typed_dict(argspec, api):
    spec = argspec()
    assert spec[api]["type"] == "dict" and spec[api]["options"]["token"] == {"type": "str", "no_log": True}
    for name in spec[api]["options"]:
        assert spec[name] == spec[api]["options"][name]     # the dict's keys are the top-level options
    assert all("default" not in option and "fallback" not in option and not option.get("required")
               for option in spec.values())


def test_module_options_override_and_extend():
    spec = knocknoc_argspec(url=dict(type="str", required=True), api_key=dict(type="str", no_log=True))
    assert spec["url"] == {"type": "str", "required": True} and spec["api_key"]["no_log"] is True
    assert knocknoc_argspec()["url"] == {"type": "str"}    # each call is a fresh copy
    assert api_options(FORTIGATE)[:3] == ("url", "token", "vdom")
