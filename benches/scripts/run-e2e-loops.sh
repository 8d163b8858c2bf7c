#!/usr/bin/env bash
# N-loop end-to-end HTTP plaintext benchmark: loopcore's http_plaintext with
# N loops (SO_REUSEPORT, and Balance::Acceptor) vs tokio with one
# current-thread runtime per core on SO_REUSEPORT and vs tokio's
# multi-thread runtime with N workers, all on the same N CPUs, under wrk,
# in ROUNDS interleaved rounds. Records req/s, the server's CPU time per
# request (/proc/PID/stat), and for loopcore the spread of connections and
# requests over its loops (printed by http_plaintext at SIGTERM).
#
# CPUs: the server gets CPUs 0..N-1. If the machine has 2N CPUs or more,
# wrk gets all the other CPUs (N..last) and one thread per CPU; otherwise
# (this 2-CPU machine at N=2) wrk shares the machine's CPUs with the
# server, which machine.txt records: then req/s measures the pair and CPU
# per request is the figure to read.
#
# SERVERS (default "loopcore loopcore-acceptor tokio-percore tokio-multi")
# picks the servers, CONNECTIONS (default 64) wrk's connection count.
#
# Usage: benches/scripts/run-e2e-loops.sh [ROUNDS] [DURATION] [LOOPS...]
#        (defaults 5, 5s, and loop counts 1 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-5}"
duration="${2:-5s}"
shift $(( $# > 2 ? 2 : $# ))
loop_counts=("$@")
[ ${#loop_counts[@]} -eq 0 ] && loop_counts=(1 2)
read -r -a servers <<< "${SERVERS:-loopcore loopcore-acceptor tokio-percore tokio-multi}"
connections="${CONNECTIONS:-64}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }

release_build -p loopcore-examples --example http_plaintext
release_build -p loopcore-benches --bin tokio_plaintext

cpus=$(nproc)
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/e2e/$stamp-loops"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $cpus"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "wrk: -c$connections -d$duration; loop counts: ${loop_counts[*]}; servers: ${servers[*]}"
  for n in "${loop_counts[@]}"; do
    if [ "$cpus" -ge $((2 * n)) ]; then
      echo "N=$n: server on CPUs 0-$((n - 1)), wrk -t$((cpus - n)) on CPUs $n-$((cpus - 1))"
    else
      echo "N=$n: server on CPUs 0-$((n - 1)), wrk -t$n on all $cpus CPUs (shared with the server)"
    fi
  done
} > "$out/machine.txt"

port=18282
# Sets $pid to the server's own pid (taskset execs it).
start_server() {
  local n=$1 server=$2 cmd
  case "$server" in
    loopcore) cmd=(target/release/examples/http_plaintext --loops "$n" --pin --port "$port") ;;
    loopcore-acceptor) cmd=(target/release/examples/http_plaintext --loops "$n" --pin --balance acceptor --port "$port") ;;
    tokio-percore) cmd=(target/release/tokio_plaintext "$port" per-core "$n") ;;
    tokio-multi) cmd=(target/release/tokio_plaintext "$port" multi "$n") ;;
  esac
  taskset -c "0-$((n - 1))" "${cmd[@]}" > "$out/server.log" 2>&1 &
  pid=$!
}

wrk_cpus() {
  local n=$1
  if [ "$cpus" -ge $((2 * n)) ]; then echo "$n-$((cpus - 1))"; else echo "0-$((cpus - 1))"; fi
}

wrk_threads() {
  local n=$1
  if [ "$cpus" -ge $((2 * n)) ]; then echo $((cpus - n)); else echo "$n"; fi
}

echo "round,server,mode,requests,seconds,req_per_s,p99_ms,server_cpu_s,cpu_us_per_req" > "$out/results.csv"
echo "round,loops,balance,conn_max,conn_min,req_max,req_min" > "$out/spread.csv"
for round in $(seq 1 "$rounds"); do
  for n in "${loop_counts[@]}"; do
    for server in "${servers[@]}"; do
      start_server "$n" "$server"
      wait_port "$port"
      result="$out/round-$round-loops$n-$server.txt"
      taskset -c "$(wrk_cpus "$n")" wrk "-t$(wrk_threads "$n")" "-c$connections" -d1s "http://127.0.0.1:$port/plaintext" > /dev/null
      before=$(cpu_ticks "$pid")
      taskset -c "$(wrk_cpus "$n")" wrk "-t$(wrk_threads "$n")" "-c$connections" "-d$duration" --latency "http://127.0.0.1:$port/plaintext" > "$result"
      after=$(cpu_ticks "$pid")
      kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
      result_row "$result" "$round" "$server" "loops$n" "$before" "$after" >> "$out/results.csv"
      tail -1 "$out/results.csv"
      if [[ "$server" == loopcore* ]]; then
        cp "$out/server.log" "$out/round-$round-loops$n-$server.server.txt"
        python3 - "$out/server.log" "$round" "$n" "$server" >> "$out/spread.csv" <<'PY'
import re, sys
path, rnd, n, server = sys.argv[1:]
loops = [tuple(map(int, m)) for m in re.findall(r"loop \d+: (\d+) connections, (\d+) requests", open(path).read())]
conns = [c for c, _ in loops]
reqs = [r for _, r in loops]
balance = "acceptor" if server.endswith("acceptor") else "reuseport"
print(f"{rnd},{n},{balance},{max(conns)},{min(conns)},{max(reqs)},{min(reqs)}")
PY
      fi
    done
  done
done
python3 benches/scripts/summarize_e2e.py "$out/results.csv" | tee "$out/summary.md"
python3 - "$out/spread.csv" <<'PY' | tee -a "$out/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print()
print("| loops | balance | connections max/min (median, min-max) | requests max/min (median, min-max) |")
print("| --- | --- | --- | --- |")
ratio = lambda hi, lo: float(hi) / float(lo) if float(lo) > 0 else float("inf")
for key in sorted({(r["loops"], r["balance"]) for r in rows}):
    sel = [r for r in rows if (r["loops"], r["balance"]) == key]
    c = [ratio(r["conn_max"], r["conn_min"]) for r in sel]
    q = [ratio(r["req_max"], r["req_min"]) for r in sel]
    print(f"| {key[0]} | {key[1]} | {statistics.median(c):.2f} ({min(c):.2f}-{max(c):.2f}) | {statistics.median(q):.2f} ({min(q):.2f}-{max(q):.2f}) |")
PY
