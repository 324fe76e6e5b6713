#!/usr/bin/env bash
# Molecule scenarios (extensions/molecule/*) for the five mode variants, against one lab that each
# scenario resets in its prepare step. Usage: scripts/molecule.sh [molecule test args, e.g. -s passive_fortigate]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The collection as Ansible finds it (what `make venv` links), so the scenarios use this work tree.
mkdir -p .cache/collections/ansible_collections/knocknoc
ln -sfn ../../../.. .cache/collections/ansible_collections/knocknoc/fortinet
lab_dir=$(mktemp -d)
.venv/bin/python -m kklab --dir "$lab_dir" --speed 60 >"$lab_dir/lab.out" 2>"$lab_dir/lab.err" &
lab_pid=$!
trap 'kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true; rm -rf "$lab_dir"' EXIT
for _ in $(seq 1 100); do
  [ -s "$lab_dir/lab.json" ] && break
  kill -0 "$lab_pid" 2>/dev/null || { cat "$lab_dir/lab.err" >&2; exit 1; }
  sleep 0.1
done
[ -s "$lab_dir/lab.json" ] || { echo "the lab did not start within 10 s" >&2; cat "$lab_dir/lab.err" >&2; exit 1; }
export KKLAB_FILE="$lab_dir/lab.json"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_PYTHON_INTERPRETER="$root/.venv/bin/python"
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
export ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
cd extensions
if [ $# -eq 0 ]; then set -- --all; fi
molecule test "$@"
