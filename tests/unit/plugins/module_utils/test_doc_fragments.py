# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each connection doc fragment mirrors its argspec option for option, suboptions included (type,
default, required, choices), and names where an unset option comes from (the API's dict, the
environment variable), as validate-modules and a reader need in every module that uses them."""

import importlib

import pytest
import yaml

from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import (
    FORTIGATE,
    FORTIMANAGER,
    KNOCKNOC,
    NO_ENVIRONMENT,
    api_options,
    connection_dict_argspec,
    fortigate_argspec,
    fortimanager_argspec,
    fortinet_argspec,
    knocknoc_argspec,
)

FRAGMENTS = {
    "fortigate": (fortigate_argspec, (FORTIGATE,)),
    "fortimanager": (fortimanager_argspec, (FORTIMANAGER,)),
    "fortinet": (fortinet_argspec, (FORTIGATE, FORTIMANAGER)),
    "knocknoc": (knocknoc_argspec, (KNOCKNOC,)),
}


def fragment(name, attribute="DOCUMENTATION"):
    module = importlib.import_module("ansible_collections.knocknoc.fortinet.plugins.doc_fragments.%s" % name)
    return yaml.safe_load(getattr(module.ModuleDocFragment, attribute))


def same_options(options, spec, where):
    assert sorted(options) == sorted(spec), where
    for option, doc in options.items():
        arg = spec[option]
        assert doc["type"] == arg["type"], (where, option)
        assert doc.get("default") == arg.get("default"), (where, option)
        assert bool(doc.get("required")) == bool(arg.get("required")), (where, option)
        assert doc.get("choices") == arg.get("choices"), (where, option)
        assert "fallback" not in arg, (where, option)  # resolved at run time, in the documented order
        assert bool(doc.get("suboptions")) == bool(arg.get("options")), (where, option)
        if arg.get("options"):
            same_options(doc["suboptions"], arg["options"], "%s.%s" % (where, option))


@pytest.mark.parametrize("name", sorted(FRAGMENTS))
def test_fragment_mirrors_argspec(name):
    argspec, apis = FRAGMENTS[name]
    options = fragment(name)["options"]
    same_options(options, argspec(), name)
    for api in apis:
        assert options[api.name]["suboptions"].keys() == set(api_options(api))
        for option in api_options(api):
            if option not in options:
                continue
            text = " ".join(options[option]["description"])
            assert "O(%s.%s)" % (api.name, option) in text, (name, option)
            if option not in NO_ENVIRONMENT:
                assert "E(%s_%s)" % (api.env_prefix, option.upper()) in text, (name, option)


def test_tokens_are_secret_everywhere():
    for argspec, _apis in FRAGMENTS.values():
        spec = argspec()
        assert spec["token"]["no_log"] is True
        for option in spec.values():
            if option.get("options"):
                assert option["options"]["token"]["no_log"] is True


def test_attribute_fragments():
    base = fragment("attributes")["attributes"]
    assert sorted(base) == ["check_mode", "diff_mode", "idempotent"]
    for group in ("fortigate", "fortimanager", "knocknoc"):
        action_group = fragment("attributes", "ACTIONGROUP_%s" % group.upper())["attributes"]["action_group"]
        assert action_group["membership"] == ["knocknoc.fortinet.%s" % group]
        assert action_group["support"] == "full"
    both = fragment("attributes", "ACTIONGROUP_FORTINET")["attributes"]["action_group"]
    assert both["membership"] == ["knocknoc.fortinet.fortigate", "knocknoc.fortinet.fortimanager"]
    info = fragment("attributes", "INFO_MODULE")["attributes"]
    assert info["check_mode"]["support"] == "full" and info["diff_mode"]["support"] == "N/A"


def test_knocknoc_dict_fragment_mirrors_the_dict_argspec():
    # fortinet_preflight's knocknoc dict: the same suboptions as every Knocknoc module's, each naming its variable
    options = fragment("knocknoc", "AS_DICT")["options"]
    assert sorted(options) == ["knocknoc"]
    same_options(options, {"knocknoc": connection_dict_argspec(KNOCKNOC)}, "knocknoc.AS_DICT")
    for option, doc in options["knocknoc"]["suboptions"].items():
        if option not in NO_ENVIRONMENT:
            assert "E(KNOCKNOC_%s)" % option.upper() in " ".join(doc["description"]), option
