#!/usr/bin/env bash
# User-space instructions per call_soon + dispatch, loopcore vs a bare
# VecDeque<Box<dyn FnOnce()>>, counted by callgrind (deterministic).
# Usage: benches/scripts/callgrind-dispatch.sh [N]   (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000000}"
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install -y valgrind)" >&2; exit 1; }
cargo build -q --profile bench -p loopcore-benches --bin dispatch_probe
bin=target/release/dispatch_probe
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$n" 2>&1 |
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
setup=$(count setup)
for mode in loopcore bare; do
  total=$(count "$mode")
  echo "$mode: $(( (total - setup) / n )) instructions per callback"
done
