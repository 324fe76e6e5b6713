#!/usr/bin/env bash
# Molecule scenarios (extensions/molecule/*) for the five mode variants, against one lab that each
# scenario resets in its prepare step. Usage: scripts/molecule.sh [molecule test args, e.g. -s passive_fortigate]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The collection as Ansible finds it (what `make venv` links), so the scenarios use this work tree.
mkdir -p .cache/collections/ansible_collections/knocknoc
ln -sfn ../../../.. .cache/collections/ansible_collections/knocknoc/fortinet
# shellcheck source=scripts/lab-up.sh
. scripts/lab-up.sh
start_lab "$(mktemp -d)"
export KKLAB_FILE="$lab_dir/lab.json"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_PYTHON_INTERPRETER="$root/.venv/bin/python"
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
export ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
cd extensions
if [ $# -eq 0 ]; then set -- --all; fi
molecule test "$@"
