#!/usr/bin/env bash
# Run the unit and integration tests under another ansible-core line (the oldest that
# meta/runtime.yml claims), in a virtualenv of its own: .venv-core<version>.
# Usage: scripts/matrix.sh 2.19 [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
line=${1:?ansible-core line, e.g. 2.19}
shift
venv=.venv-core$line
case "$line" in
  2.19) package="ansible==12.3.0" ;;   # the Ansible release that ships ansible-core 2.19
  2.20) package="ansible==13.*" ;;
  *) echo "unknown ansible-core line $line" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ]; then
  py=""
  for candidate in python3.12 /root/.pyenv/versions/3.12*/bin/python3 python3.13 /root/.pyenv/versions/3.13*/bin/python3 python3; do
    for exe in $candidate; do
      if command -v "$exe" >/dev/null 2>&1 && "$exe" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        py=$exe; break 2
      fi
    done
  done
  [ -n "$py" ] || { echo "no Python >= 3.11 for ansible-core $line" >&2; exit 1; }
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
stamp="$venv/.stamp"
want="$package $(sha256sum requirements/dev.txt | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install -q "$package" requests jmespath trustme pytest pytest-xdist ansible-runner
  "$venv/bin/python" -m pip install -q -e ./lab
  echo "$want" > "$stamp"
fi
echo "ansible-core $("$venv/bin/python" -c 'import ansible; print(ansible.__version__)') on Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
exec "$venv/bin/python" -m pytest -q -n 2 --dist loadfile tests/unit tests/integration "$@"
