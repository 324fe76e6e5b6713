# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Guards that keep what is written twice in agreement (run by scripts/docs-check.sh):

1. Each role's ``meta/argument_specs.yml`` and ``defaults/main.yml``: every optional argument has
   its default in ``defaults/main.yml`` with the same value, a required argument has none (and no
   ``default``), and ``defaults/main.yml`` holds nothing undocumented.
2. The roles' connection dicts (``*_fortigate``, ``*_fortigates``, ``*_fortimanager``,
   ``*_knocknoc``) are typed with exactly the keys of the modules' connection dict of that API.
3. ``meta/runtime.yml`` action groups list exactly the modules whose documentation names the
   group (attribute ``action_group``, read through ansible-doc, doc fragments included).

Usage: ``consistency-check.py [--root DIR] [--skip-modules]``; exit status 1 with one line per
mismatch.
"""

import argparse
import json
import os
import subprocess
import sys

import yaml

COLLECTION = "knocknoc.fortinet"
# The keys of the modules' connection dicts (plugins/module_utils/_connection.py, api_options()).
TLS_KEYS = ["validate_certs", "ca_path", "tls_server_name", "tls_fingerprint", "timeout", "retries"]
CONNECTION_KEYS = {
    "fortigate": ["url", "token", "vdom"] + TLS_KEYS,
    "fortimanager": ["url", "token", "adom"] + TLS_KEYS,
    "knocknoc": ["url", "token"] + TLS_KEYS,
}
CONNECTION_SUFFIXES = {"_fortigate": "fortigate", "_fortigates": "fortigate", "_fortimanager": "fortimanager",
                       "_knocknoc": "knocknoc"}


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def check_role(root, role):
    """Mismatches between one role's argument spec and its defaults."""
    errors = []
    where = "roles/%s" % role
    spec_path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
    if not os.path.exists(spec_path):
        return ["%s: no meta/argument_specs.yml" % where]
    defaults_path = os.path.join(root, "roles", role, "defaults", "main.yml")
    defaults = load(defaults_path) if os.path.exists(defaults_path) else {}
    options = load(spec_path)["argument_specs"]["main"].get("options") or {}
    for name, option in sorted(options.items()):
        if option.get("required"):
            if "default" in option:
                errors.append("%s: %s is required and has a default in argument_specs" % (where, name))
            if name in defaults:
                errors.append("%s: %s is required but defaults/main.yml sets it" % (where, name))
            continue
        if name not in defaults:
            errors.append("%s: %s is optional but has no default in defaults/main.yml" % (where, name))
        elif "default" not in option and not (option.get("type") == "bool" and str(defaults[name]).startswith("{{")):
            # A templated default of a bool cannot be typed in the spec (the role schema wants a boolean):
            # defaults/main.yml holds it, the description says what it is.
            errors.append("%s: %s has no default in argument_specs (defaults/main.yml: %r)" % (where, name, defaults[name]))
        elif "default" in option and option["default"] != defaults[name]:
            errors.append("%s: %s defaults to %r in argument_specs but %r in defaults/main.yml"
                          % (where, name, option["default"], defaults[name]))
        for suffix, api in CONNECTION_SUFFIXES.items():
            if name.endswith(suffix) and option.get("type") in ("dict", "list"):
                keys = sorted(option.get("options") or {})
                if keys != sorted(CONNECTION_KEYS[api]):
                    errors.append("%s: %s is a %s connection but its options are %s, not %s"
                                  % (where, name, api, keys, sorted(CONNECTION_KEYS[api])))
                token = (option.get("options") or {}).get("token") or {}
                if not token.get("no_log"):
                    errors.append("%s: %s.token is not no_log" % (where, name))
    for name in sorted(set(defaults) - set(options)):
        errors.append("%s: defaults/main.yml sets %s, which argument_specs does not document" % (where, name))
    return errors


def check_roles(root):
    errors = []
    for role in sorted(os.listdir(os.path.join(root, "roles"))):
        if os.path.isdir(os.path.join(root, "roles", role)):
            errors.extend(check_role(root, role))
    return errors


def documented_groups(root):
    """{module: [group, ...]} from each module's rendered documentation (ansible-doc, fragments included)."""
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(root, "plugins", "modules"))
                     if name.endswith(".py") and not name.startswith("_"))
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    output = subprocess.run([ansible_doc, "-t", "module", "--json"] + ["%s.%s" % (COLLECTION, m) for m in modules],
                            check=True, capture_output=True, text=True).stdout
    docs = json.loads(output)
    groups = {}
    for module in modules:
        attributes = docs["%s.%s" % (COLLECTION, module)]["doc"].get("attributes") or {}
        membership = (attributes.get("action_group") or {}).get("membership") or []
        groups[module] = sorted(group.split(".")[-1] for group in membership)
    return groups


def check_action_groups(root, groups):
    """Mismatches between meta/runtime.yml action_groups and the modules' documented membership."""
    runtime = load(os.path.join(root, "meta", "runtime.yml")).get("action_groups") or {}
    errors = []
    listed = {}
    for group, members in runtime.items():
        for member in members or []:
            if not isinstance(member, str):
                continue  # metadata entries
            listed.setdefault(member.split(".")[-1], []).append(group)
    for module in sorted(set(groups) | set(listed)):
        documented = sorted(groups.get(module, []))
        in_runtime = sorted(listed.get(module, []))
        if module not in groups:
            errors.append("meta/runtime.yml: %s is in action group(s) %s but is no module" % (module, in_runtime))
        elif documented != in_runtime:
            errors.append("%s: documented in action group(s) %s, listed in meta/runtime.yml under %s"
                          % (module, documented, in_runtime))
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--skip-modules", action="store_true", help="only the role checks (no ansible-doc)")
    args = parser.parse_args()
    errors = check_roles(args.root)
    checked = "roles"
    if not args.skip_modules:
        errors += check_action_groups(args.root, documented_groups(args.root))
        checked += " and action groups"
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print("consistency: %d mismatch(es)" % len(errors), file=sys.stderr)
        return 1
    print("consistency: %s agree" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
