#!/usr/bin/env bash
# Copy the collection (tracked and new files, as in the work tree) to DEST/ansible_collections/knocknoc/fortinet
# and print that path. Tools such as ansible-test and antsibull-docs want the collection at such a path.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:?destination directory}/ansible_collections/knocknoc/fortinet"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ]; then mkdir -p "$dest/$(dirname "$f")" && cp -P "$f" "$dest/$f"; fi
done
echo "$dest"
