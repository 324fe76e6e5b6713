#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection placed at ansible_collections/knocknoc/fortinet.
# Usage: scripts/sanity.sh [python-version] [extra ansible-test args]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py_version=${1:-$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
shift || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$(scripts/stage-collection.sh "$work")
# ansible-test bootstraps pip in its virtual environments with a script from a host we cannot
# reach; hand it a stand-in built on ensurepip (see scripts/get_pip_shim.py).
pip_version=$(sed -n 's/^pip==\(.*\)$/\1/p' "$("$root"/.venv/bin/python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_data/requirements/ansible-test.txt" 2>/dev/null || true)
for v in ${pip_version:-} 25.2 25.1 24.3; do
  mkdir -p ~/.ansible/test/cache
  cp "$root/scripts/get_pip_shim.py" ~/.ansible/test/cache/get_pip_"${v//./_}".py
done
cd "$dest"
"$root/.venv/bin/ansible-test" sanity --venv --requirements --python "$py_version" --color no "$@" 2>&1 \
  | grep -v -E "^(WARNING: Location|Looking in|Collecting|Downloading|  Downloading|Requirement already|Installing collected|Successfully installed|Using cached|Attempting|Found existing|Uninstalling|  Attempting|    Found|    Uninstalling|      Successfully)|━"
exit "${PIPESTATUS[0]}"
