# shellcheck shell=bash
# Sourced by the scripts that need a lab in the background: `start_lab DIR`, then the lab runs
# (clock at 60x: a feed with the minimum refresh, 1 minute, polls every second) until the script exits.
start_lab() {
  lab_dir=$1
  mkdir -p "$lab_dir"
  rm -f "$lab_dir/lab.json"
  .venv/bin/python -m kklab --dir "$lab_dir" --speed 60 >"$lab_dir/lab.out" 2>"$lab_dir/lab.err" &
  lab_pid=$!
  trap 'kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    [ -s "$lab_dir/lab.json" ] && return 0
    kill -0 "$lab_pid" 2>/dev/null || { cat "$lab_dir/lab.err" >&2; return 1; }
    sleep 0.1
  done
  echo "the lab did not start within 10 s" >&2
  cat "$lab_dir/lab.err" >&2
  return 1
}
