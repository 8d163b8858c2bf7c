#!/usr/bin/env bash
# loadgen against wrk, interleaved rounds, server pinned to CPU 0 and the
# client to CPU 1 (issue 7's accuracy points 2 and 3):
#   agreement: a deliberately slow server (benches/scripts/slow_server.py,
#     one Python thread burning ~50 us per request) is the bottleneck;
#     loadgen's req/s and p50 must agree with wrk's (closed loop, same
#     connections);
#   speed: fast servers (loopcore's http_plaintext, the raw mio server);
#     which client gets more requests per second out of one CPU, and at
#     what client CPU per request (getrusage of the client process).
# Raw output is kept under bench-results/loadgen/<stamp>/.
# Usage: benches/scripts/run-loadgen.sh [ROUNDS] [DURATION]  (defaults 5, 5s)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-5}"
duration="${2:-5s}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

release_build -p loopcore-examples --example http_plaintext
release_build -p loopcore-benches --bin mio_plaintext
release_build -p loopcore-loadgen

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/loadgen/$stamp"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "clients: wrk -t1 -c64 -d$duration and loadgen -t1 --cpus 1 -c64 -d$duration, on CPU 1; servers on CPU 0"
} > "$out/machine.txt"

port=18282
start_server() {
  local cmd
  case "$1" in
    slow) cmd=(python3 benches/scripts/slow_server.py "$port" 50) ;;
    loopcore) cmd=(target/release/examples/http_plaintext --loops 1 --port "$port") ;;
    mio) cmd=(target/release/mio_plaintext "$port") ;;
  esac
  taskset -c 0 "${cmd[@]}" > /dev/null 2>&1 &
  pid=$!
}

# Runs a client under getrusage; prints its output, then "client_cpu_s=X".
measured() {
  python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"client_cpu_s={r.ru_utime + r.ru_stime:.3f}")' "$@"
}

echo "round,server,client,requests,seconds,rps,p50_us,p99_us,client_cpu_s,client_us_per_req,server_cpu_share" > "$out/results.csv"
for round in $(seq 1 "$rounds"); do
  for server in slow loopcore mio; do
    for client in wrk loadgen; do
      start_server "$server"
      wait_port "$port"
      url="http://127.0.0.1:$port/plaintext"
      result="$out/round-$round-$server-$client.txt"
      if [ "$client" = wrk ]; then
        taskset -c 1 wrk -t1 -c64 -d1s "$url" > /dev/null
        before=$(cpu_ticks "$pid")
        measured taskset -c 1 wrk -t1 -c64 "-d$duration" --latency "$url" > "$result"
        after=$(cpu_ticks "$pid")
      else
        target/release/loadgen -t1 --cpus 1 -c64 -d1s "$url" > /dev/null
        before=$(cpu_ticks "$pid")
        measured target/release/loadgen -t1 --cpus 1 -c64 "-d$duration" --json - "$url" > "$result"
        after=$(cpu_ticks "$pid")
      fi
      kill "$pid"; wait "$pid" 2>/dev/null || true
      python3 benches/scripts/parse_client.py "$result" "$round" "$server" "$client" \
        "$before" "$after" "$(getconf CLK_TCK)" >> "$out/results.csv"
      tail -1 "$out/results.csv"
    done
  done
done
python3 benches/scripts/summarize_loadgen.py "$out/results.csv" | tee "$out/summary.md"
