#!/usr/bin/env bash
# hyper on loopcore vs the same hyper service on tokio: hyper_hello (1
# loop) against benches/src/bin/tokio_hyper.rs as one current-thread
# runtime and as the multi-thread runtime with 1 worker, each pinned to
# CPU 0 with the client on CPU 1; HTTP/1.1 under wrk (-c64) and HTTP/2
# with prior knowledge under h2load (-c16 -m16), in ROUNDS interleaved
# rounds. Records req/s and the server's CPU time per request
# (/proc/PID/stat around each run); raw client output is kept under
# bench-results/hyper/<stamp>/.
#
# Usage: benches/scripts/run-hyper.sh [ROUNDS] [SECONDS]   (defaults 5, 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-5}"
seconds="${2:-5}"
for tool in wrk h2load; do
  command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install -y wrk nghttp2-client)" >&2; exit 1; }
done

release_build -p loopcore-examples --example hyper_hello
release_build -p loopcore-benches --bin tokio_hyper

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/hyper/$stamp"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "clients: wrk -t1 -c64 -d${seconds}s (http1); h2load -t1 -c16 -m16 -D$seconds (h2c); server on CPU 0, client on CPU 1"
} > "$out/machine.txt"

port=18182
# Sets $pid to the server's own pid (taskset execs it).
start_server() {
  local cmd
  case "$1" in
    loopcore) cmd=(target/release/examples/hyper_hello --loops 1 --port "$port") ;;
    tokio-current) cmd=(target/release/tokio_hyper "$port" current) ;;
    tokio-multi) cmd=(target/release/tokio_hyper "$port" multi 1) ;;
  esac
  taskset -c 0 "${cmd[@]}" > /dev/null 2>&1 &
  pid=$!
}

url="http://127.0.0.1:$port/"
echo "round,server,mode,requests,seconds,req_per_s,p99_ms,server_cpu_s,cpu_us_per_req" > "$out/results.csv"
for round in $(seq 1 "$rounds"); do
  for server in loopcore tokio-current tokio-multi; do
    for mode in http1 h2c; do
      start_server "$server"
      wait_port "$port"
      result="$out/round-$round-$server-$mode.txt"
      if [ "$mode" = http1 ]; then
        taskset -c 1 wrk -t1 -c64 -d1s "$url" > /dev/null # warm-up
        before=$(cpu_ticks "$pid")
        taskset -c 1 wrk -t1 -c64 "-d${seconds}s" --latency "$url" > "$result"
        after=$(cpu_ticks "$pid")
      else
        taskset -c 1 h2load -t1 -c16 -m16 -D1 "$url" > /dev/null # warm-up
        before=$(cpu_ticks "$pid")
        taskset -c 1 h2load -t1 -c16 -m16 "-D$seconds" "$url" > "$result.h2load"
        after=$(cpu_ticks "$pid")
        python3 benches/scripts/h2load_as_wrk.py "$result.h2load" > "$result"
      fi
      kill "$pid"; wait "$pid" 2>/dev/null || true
      result_row "$result" "$round" "$server" "$mode" "$before" "$after" >> "$out/results.csv"
      tail -1 "$out/results.csv"
    done
  done
done
python3 benches/scripts/summarize_e2e.py "$out/results.csv" | tee "$out/summary.md"
