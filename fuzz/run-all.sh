#!/bin/sh
# Run every fuzz target in turn, SECONDS each (default 600), one process at a time at low
# priority (fork mode: a crash is saved under artifacts/<target>/ and fuzzing goes on), and
# print each target's final libFuzzer status line. Run fuzz/seed.sh first.
# Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-stream lspci_text binary_dump sysfs cap_walk vfio_virtualize snapshot explain_log}
mkdir -p logs
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    nice -n 10 cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" > "logs/$t.log" 2>&1
    echo "$t: $(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)"
    echo "$t: corpus $(ls "corpus/$t" | wc -l) files, $(du -sh "corpus/$t" | cut -f1); artifacts: $(ls "artifacts/$t" | wc -l)"
done
