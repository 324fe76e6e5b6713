#!/usr/bin/env bash
# `make demo`: start the lab, run playbooks/demo.yml against it, show what changed, stop the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
lab_dir=${LAB_DIR:-$PWD/.lab}
mkdir -p "$lab_dir"
rm -f "$lab_dir/lab.json"
# Clock at 60x: a FortiGate feed with the minimum refresh (1 minute) polls every second.
.venv/bin/python -m kklab --dir "$lab_dir" --speed 60 >"$lab_dir/lab.out" 2>"$lab_dir/lab.err" &
lab_pid=$!
trap 'kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$lab_dir/lab.json" ] && break
  kill -0 "$lab_pid" 2>/dev/null || { cat "$lab_dir/lab.err" >&2; exit 1; }
  sleep 0.1
done
echo "lab up: $lab_dir/lab.json"
cat "$lab_dir/lab.err"
ANSIBLE_DISPLAY_SKIPPED_HOSTS=false .venv/bin/ansible-playbook "${DEMO_PLAYBOOK:-playbooks/demo.yml}" -e "lab_file=$lab_dir/lab.json" "$@"
echo
echo "What the playbooks changed on the devices (writes counted by the lab):"
.venv/bin/python - "$lab_dir/lab.json" <<'PY'
import json, sys, urllib.request
state = json.load(open(sys.argv[1]))
counters = json.load(urllib.request.urlopen(state["control_url"] + "/counters"))
for name, c in sorted(counters.items()):
    print("  %-9s %-13s requests=%-5d writes=%d" % (name, state["devices"][name]["kind"], c["requests"], c["writes"]))
PY
