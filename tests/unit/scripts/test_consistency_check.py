# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/consistency-check.py passes on the collection and fails on each kind of mismatch."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("consistency_check", ROOT / "scripts" / "consistency-check.py")
check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check)


@pytest.fixture
def tree(tmp_path):
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    shutil.copytree(ROOT / "meta", tmp_path / "meta")
    return tmp_path


def edit_yaml(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_the_collection_agrees():
    assert check.check_roles(str(ROOT)) == []


def test_a_default_that_differs_or_is_missing(tree):
    defaults = tree / "roles" / "access" / "defaults" / "main.yml"
    edit_yaml(defaults, lambda d: d.update(access_prefix="xx_", access_extra=1) or d.pop("access_state"))
    errors = check.check_roles(str(tree))
    assert "roles/access: access_prefix defaults to 'kk_' in argument_specs but 'xx_' in defaults/main.yml" in errors
    assert "roles/access: defaults/main.yml sets access_extra, which argument_specs does not document" in errors
    assert "roles/access: access_state is optional but has no default in defaults/main.yml" in errors


def test_a_required_argument_with_a_default(tree):
    edit_yaml(tree / "roles" / "access" / "defaults" / "main.yml", lambda d: d.update(access_mode=""))
    errors = check.check_roles(str(tree))
    assert errors == ["roles/access: access_mode is required but defaults/main.yml sets it"]


def test_a_connection_dict_missing_a_key(tree):
    spec = tree / "roles" / "reconcile" / "meta" / "argument_specs.yml"
    edit_yaml(spec, lambda d: d["argument_specs"]["main"]["options"]["reconcile_fortigates"]["options"].pop("retries"))
    errors = check.check_roles(str(tree))
    assert len(errors) == 1 and "reconcile_fortigates is a fortigate connection" in errors[0]


def test_action_groups_against_the_documentation(tree):
    groups = {"fortigate_object": ["fortigate"], "fortigate_dynamic_entry": ["fortigate", "fortimanager"]}
    edit_yaml(tree / "meta" / "runtime.yml", lambda d: d.update(action_groups={
        "fortigate": ["fortigate_object", "fortigate_dynamic_entry"], "fortimanager": ["gone_module"]}))
    errors = check.check_action_groups(str(tree), groups)
    assert errors == [
        "fortigate_dynamic_entry: documented in action group(s) ['fortigate', 'fortimanager'], listed in meta/runtime.yml"
        " under ['fortigate']",
        "meta/runtime.yml: gone_module is in action group(s) ['fortimanager'] but is no module",
    ]
