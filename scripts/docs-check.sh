#!/usr/bin/env bash
# Documentation gates: ansible-doc renders every module and every role argument spec,
# antsibull-docs lints the collection docs, antsibull-changelog lints the fragments.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$(scripts/stage-collection.sh "$work")
export ANSIBLE_COLLECTIONS_PATH="$work"
count=0
for module in plugins/modules/*.py; do
  name=$(basename "$module" .py)
  "$root/.venv/bin/ansible-doc" -t module "knocknoc.fortinet.$name" >/dev/null
  count=$((count + 1))
done
for role in roles/*/; do
  name=$(basename "$role")
  [ -f "$role/meta/argument_specs.yml" ] || { echo "role $name has no meta/argument_specs.yml" >&2; exit 1; }
  "$root/.venv/bin/ansible-doc" -t role "knocknoc.fortinet.$name" >/dev/null
  count=$((count + 1))
done
echo "ansible-doc rendered $count modules and roles"
# Role argument specs == role defaults, role connection dicts == module connection dicts,
# meta/runtime.yml action groups == the groups each module documents.
"$root/.venv/bin/python" scripts/consistency-check.py --root "$dest"
# Modules stay short (issue 9): code outside DOCUMENTATION/EXAMPLES/RETURN at most 300 lines each.
"$root/.venv/bin/python" scripts/module-size.py --root "$root" --limit 300
(cd "$dest" && "$root/.venv/bin/antsibull-docs" lint-collection-docs --plugin-docs --validate-collection-refs=self .)
"$root/.venv/bin/antsibull-changelog" lint
echo "docs: ok"
