#!/usr/bin/env bash
# The benchmarks that want a machine with many CPUs, in one bounded run
# (about 7 minutes): the one-loop end-to-end rows of run-e2e.sh with the
# client on 4 CPUs of its own (so the server, not the client, is the
# bottleneck), plaintext and echo, then the N-loop scaling of
# run-e2e-loops.sh at 1, 2, 4, 8 and 16 loops with wrk on the remaining
# CPUs. Each part's bench-results folder is packed into DEST as soon as it
# is done, so a part that runs out of time loses only itself.
#
# Usage: [LOOPCORE_PREBUILT=1] benches/scripts/bench-16core.sh DEST [ROUNDS] [DURATION]
#        (defaults 5 rounds of 2s)
set -uo pipefail
cd "$(dirname "$0")/../.."
dest="${1:?usage: bench-16core.sh DEST [ROUNDS] [DURATION]}"
rounds="${2:-5}"
duration="${3:-2s}"
mkdir -p "$dest"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cpus: $(nproc)"
  echo "kernel: $(uname -r)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
} > "$dest/machine.txt"

pack() {
  local name=$1 latest
  latest=$(ls -td bench-results/e2e/*/ | head -1)
  tar -czf "$dest/$name.tgz" -C "$latest" .
  cat "$latest/summary.md" >> "$dest/summary.md" 2>/dev/null
}

echo "## one loop, plaintext (wrk -t4 on CPUs 1-4)" >> "$dest/summary.md"
CLIENT_CPUS=1-4 bash benches/scripts/run-e2e.sh "$rounds" "$duration" plaintext 2>&1 | tee "$dest/log.txt"
pack one-loop-plaintext
echo "## one loop, echo 1 KiB (4 echo_clients on CPUs 1-4)" >> "$dest/summary.md"
CLIENT_CPUS=1-4 bash benches/scripts/run-e2e.sh "$rounds" "$duration" echo 2>&1 | tee -a "$dest/log.txt"
pack one-loop-echo
echo "## N loops, plaintext (wrk on the other CPUs, 256 connections)" >> "$dest/summary.md"
SERVERS="loopcore tokio-percore tokio-multi" CONNECTIONS=256 \
  bash benches/scripts/run-e2e-loops.sh "$rounds" "$duration" 1 2 4 8 16 2>&1 | tee -a "$dest/log.txt"
pack loops
