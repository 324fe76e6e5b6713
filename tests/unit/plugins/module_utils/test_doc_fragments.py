# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each connection doc fragment mirrors its argspec option for option (type, default, required,
choices, env var named), as validate-modules will check in every module that uses them."""

import importlib

import pytest
import yaml

from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import fortigate_argspec
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import (
    fortimanager_argspec,
    fortinet_argspec,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._knocknoc import knocknoc_argspec

FRAGMENTS = {
    "fortigate": fortigate_argspec,
    "fortimanager": fortimanager_argspec,
    "fortinet": fortinet_argspec,
    "knocknoc": knocknoc_argspec,
}


def fragment(name, attribute="DOCUMENTATION"):
    module = importlib.import_module("ansible_collections.knocknoc.fortinet.plugins.doc_fragments.%s" % name)
    return yaml.safe_load(getattr(module.ModuleDocFragment, attribute))


@pytest.mark.parametrize("name", sorted(FRAGMENTS))
def test_fragment_mirrors_argspec(name):
    spec = FRAGMENTS[name]()
    options = fragment(name)["options"]
    assert sorted(options) == sorted(spec)
    for option, doc in options.items():
        arg = spec[option]
        assert doc["type"] == arg["type"], option
        assert doc.get("default") == arg.get("default"), option
        assert bool(doc.get("required")) == bool(arg.get("required")), option
        assert doc.get("choices") == arg.get("choices"), option
        text = " ".join(doc["description"])
        for variable in (arg.get("fallback") or (None, []))[1]:
            assert "E(%s)" % variable in text, (option, variable)


def test_attribute_fragments():
    base = fragment("attributes")["attributes"]
    assert sorted(base) == ["check_mode", "diff_mode", "idempotent"]
    for group in ("fortigate", "fortimanager", "knocknoc"):
        action_group = fragment("attributes", "ACTIONGROUP_%s" % group.upper())["attributes"]["action_group"]
        assert action_group["membership"] == ["knocknoc.fortinet.%s" % group]
        assert action_group["support"] == "full"
    info = fragment("attributes", "INFO_MODULE")["attributes"]
    assert info["check_mode"]["support"] == "full" and info["diff_mode"]["support"] == "N/A"
