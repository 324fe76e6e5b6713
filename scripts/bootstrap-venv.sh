#!/usr/bin/env bash
# Create .venv with the newest Python found on this machine and install the dev requirements.
# Re-runs are cheap: the install only happens when requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
pick_python() {
  for candidate in python3.14 python3.13 python3.12 \
      /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3 python3; do
    for exe in $candidate; do
      # pyenv shims exist even when the version is not selected; ask the interpreter itself.
      if command -v "$exe" >/dev/null 2>&1 && "$exe" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "$exe"; return 0
      fi
    done
  done
  return 1
}
if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python) || { echo "no Python >= 3.10 found" >&2; exit 1; }
  echo "creating $venv with $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
stamp="$venv/.requirements.sha"
want=$(cat requirements/*.txt lab/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install -q -r requirements/dev.txt
  # The lab as a package too, so that `kklab` (and `python -m kklab`) work from anywhere.
  "$venv/bin/python" -m pip install -q -e ./lab
  echo "$want" > "$stamp"
fi
