#!/usr/bin/env bash
# The guard of the connection-core redesign (issue 20): loopcore's user-space
# instructions per request under every workload of callgrind-e2e.sh (the
# deterministic plain and pipe-16, and the wrk-driven plaintext, pipeline,
# echo, hyper and https), and its memory per keep-alive connection
# (conn-memory.sh, 9,000 connections). Run it on the commit before a change
# and after it, on the same machine, one after the other; compare with
# benches/scripts/compare-guard.py.
# Usage: benches/scripts/guard-connection-core.sh OUTDIR [ROUNDS]
#   writes OUTDIR/callgrind.txt and OUTDIR/memory.txt (appending; ROUNDS
#   repeats of each, default 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:?usage: guard-connection-core.sh OUTDIR [ROUNDS]}"
rounds="${2:-1}"
mkdir -p "$out"
echo "# $(git rev-parse --short HEAD) $(date -u +%FT%TZ) $(nproc) CPUs, $(uname -r)" | tee -a "$out/callgrind.txt" "$out/memory.txt"
for round in $(seq 1 "$rounds"); do
  for workload in plain pipe-16 plaintext pipeline echo hyper https; do
    SERVERS=loopcore benches/scripts/callgrind-e2e.sh 3s "$workload" 2>/dev/null |
      grep "^$workload loopcore:" | sed "s/^/round $round: /" | tee -a "$out/callgrind.txt"
  done
  benches/scripts/conn-memory.sh 9000 loopcore | sed "s/^/round $round: /" | tee -a "$out/memory.txt"
done
