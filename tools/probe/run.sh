#!/usr/bin/env bash
# Measures the GPU this runs on (tools/probe/README.md): about 7 minutes, hard limit 8.
#   tools/probe/run.sh [OUT.json] [probe.py flags...]
# Default output: $OUT/probe-<UTC time>.json where $OUT is set (the GPU machine's result folder),
# else ./probe-<UTC time>.json. Every finished section is on disk even if the run is killed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${1:-${OUT:-.}/probe-$stamp.json}
[ $# -gt 0 ] && shift
exec timeout --signal=TERM --kill-after=10 470 \
  python3 "$here/probe.py" --out "$out" --data-dir "$root/data" "$@"
