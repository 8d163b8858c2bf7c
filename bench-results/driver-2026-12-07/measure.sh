#!/usr/bin/env bash
# Replicates benches/scripts/callgrind-e2e.sh (loopcore server only) for an
# arbitrary http_plaintext binary: valgrind --tool=callgrind, sleep 3,
# wrk 1s warm-up, callgrind_control -z, wrk DURATION, callgrind_control -d,
# sum of the dump's `summary:` lines / wrk's request count.
# Usage: measure.sh BINARY LABEL WORKLOAD(plaintext|pipeline) OUTDIR [DURATION]
set -euo pipefail
bin=$1 label=$2 workload=$3 outdir=$4 duration=${5:-3s}
source /work/main/benches/scripts/lib.sh
port=18484
tmp=$(mktemp -d)
wrk_args=()
if [ "$workload" = pipeline ]; then
  write_pipeline_lua "$tmp/pipeline16.lua"
  wrk_args=(-s "$tmp/pipeline16.lua")
fi
load() {
  wrk -t1 -c16 "-d$1" "${wrk_args[@]}" "http://127.0.0.1:$port/plaintext" | tee -a "$tmp/wrk.txt" | awk '/requests in/ {print $1}'
}
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$bin" --loops 1 --port "$port" > /dev/null 2>&1 &
pid=$!
sleep 3
load 1s > /dev/null
callgrind_control -z "$pid" > /dev/null
requests=$(load "$duration")
callgrind_control -d "$pid" > /dev/null
kill "$pid"; wait "$pid" 2>/dev/null || true
summary=$(cat "$tmp"/cg.*.* | grep -h '^summary:' | awk '{for (i = 2; i <= NF; i++) s[i] += $i} END {for (i = 2; i <= NF; i++) printf "%d ", s[i]}')
read -r -a events <<< "$summary"
echo "$label $workload: $requests requests, ${events[0]} Ir, $(( events[0] / requests )) instructions per request"
mkdir -p "$outdir"
n=$(ls "$tmp"/cg.*.* | wc -l)
i=0
for f in "$tmp"/cg.*.*; do i=$((i+1)); cp "$f" "$outdir/callgrind.$label.$workload.part$i"; done
cp "$tmp/wrk.txt" "$outdir/wrk.$label.$workload.txt"
echo "$requests" > "$outdir/requests.$label.$workload"
rm -rf "$tmp"
