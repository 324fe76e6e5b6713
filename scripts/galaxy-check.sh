#!/usr/bin/env bash
# Build the collection tarball, install it into an empty collections path, and run the demo from
# that installed copy: proves build_ignore, meta/runtime.yml and the imports are right.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/ansible-galaxy collection build --output-path "$work/dist" . >/dev/null
tarball=$(ls "$work"/dist/knocknoc-fortinet-*.tar.gz)
echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
# Nothing of the development tree may leak into the artifact.
if tar tzf "$tarball" | grep -E '(^|/)(\.venv|\.cache|\.lab|tests/output|__pycache__)/' ; then
  echo "the tarball carries development files" >&2; exit 1
fi
# Only the empty path is configured, so the work tree (on the usual path) cannot satisfy the install.
ANSIBLE_COLLECTIONS_PATH="$work/collections" .venv/bin/ansible-galaxy collection install --offline --force \
  -p "$work/collections" "$tarball" >/dev/null
installed="$work/collections/ansible_collections/knocknoc/fortinet"
test -f "$installed/MANIFEST.json"
# Run the demo with only the installed copy on the collections path (no symlinked work tree).
ANSIBLE_COLLECTIONS_PATH="$work/collections" PYTHONPATH="$root/lab" \
  DEMO_PLAYBOOK="$installed/playbooks/demo.yml" "$root/scripts/demo.sh" | tee "$work/demo.log"
# The roles must have come from the installed copy, not from the work tree.
grep -q "included: $installed/roles/" "$work/demo.log"
if grep -q "included: $root/" "$work/demo.log"; then
  echo "the demo used the work tree, not the installed collection" >&2; exit 1
fi
echo "galaxy: the demo ran from the installed collection"
