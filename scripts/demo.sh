#!/usr/bin/env bash
# `make demo`: start the lab, run playbooks/demo.yml against it, show what changed, stop the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lab-up.sh
. scripts/lab-up.sh
start_lab "${LAB_DIR:-$PWD/.lab}"
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
echo
echo "Event-Driven Ansible: ansible-rulebook reacts to Knocknoc sign-ins and sign-outs (extensions/eda):"
.venv/bin/python scripts/demo_eda.py "$lab_dir/lab.json"
