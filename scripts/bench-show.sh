#!/usr/bin/env bash
# pcimig show vs lspci on the same generated lspci -xxxx file of 8,000 devices, side by side.
# 1. criterion (wall time, both as processes, output to /dev/null):
#      cargo bench -p pcimig --bench show
# 2. this script's quick table: wall and CPU (user+sys) time of each command, 5 runs each,
#    interleaved, medians. The input is the file the bench generates (target/bench-show/).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p pcimig
F=target/bench-show/devices-8000.txt
if [ ! -f "$F" ]; then
  # The bench's --test mode runs each benchmark once, generating the input on the way.
  cargo bench -q -p pcimig --bench show -- --test >/dev/null 2>&1
fi
P="$TARGET/release/pcimig"
echo "input: $F ($(wc -c <"$F") bytes, $(grep -c '^[0-9a-f]\{4\}:' "$F") devices); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
measure() { # name, command...
  local name=$1; shift
  local walls=() cpus=()
  for _ in 1 2 3 4 5; do
    local t
    /usr/bin/time -f "%e %U %S" -o "$TMP" "$@" >/dev/null 2>/dev/null
    t=$(tail -1 "$TMP")
    walls+=("$(echo "$t" | cut -d' ' -f1)")
    cpus+=("$(echo "$t" | awk '{printf "%.2f", $2 + $3}')")
  done
  local mw mc
  mw=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 3p)
  mc=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n 3p)
  printf '%-34s wall %6ss   cpu %6ss\n' "$name" "$mw" "$mc"
}
measure "pcimig show --json FILE" "$P" show --json "$F"
measure "pcimig show FILE" "$P" show "$F"
measure "lspci -vvv -F FILE" lspci -vvv -F "$F"
