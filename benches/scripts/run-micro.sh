#!/usr/bin/env bash
# Runs the criterion micro-benchmarks in ROUNDS interleaved rounds (each round
# measures loopcore and its baselines back to back), keeps every raw
# estimate under bench-results/micro/<stamp>/, and prints the ratios
# (median, min, max over rounds) that docs/benchmarks.md records.
#
# Usage: benches/scripts/run-micro.sh [ROUNDS] [BENCH...]
#   ROUNDS defaults to 5; BENCH defaults to: call_soon timers mailbox
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds="${1:-5}"
shift || true
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(call_soon timers mailbox)

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/micro/$stamp"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "rustc: $(rustc --version)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$out/machine.txt"

cargo bench -p loopcore-benches --no-run -q
for round in $(seq 1 "$rounds"); do
  for bench in "${benches[@]}"; do
    echo "== round $round/$rounds: $bench"
    rm -rf target/criterion
    cargo bench -q -p loopcore-benches --bench "$bench" -- \
      --warm-up-time 1 --measurement-time 3 --noplot > "$out/round-$round-$bench.log" 2>&1
    for est in $(find target/criterion -path '*/new/estimates.json'); do
      id="${est#target/criterion/}"
      id="${id%/new/estimates.json}"
      mkdir -p "$out/round-$round"
      cp "$est" "$out/round-$round/$(echo "$id" | sed 's#/#__#g').json"
    done
  done
done

python3 benches/scripts/summarize.py "$out" | tee "$out/summary.md"
