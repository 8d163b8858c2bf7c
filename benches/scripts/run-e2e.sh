#!/usr/bin/env bash
# End-to-end HTTP plaintext benchmark: loopcore's http_plaintext (1 loop)
# vs a hand-written mio server and a tokio current-thread server, all using
# the same loopcore::http1 codec, each pinned to CPU 0 with wrk pinned to
# CPU 1, with and without 16-deep pipelining, in ROUNDS interleaved rounds.
# Records req/s, p99, and the server's CPU time per request (utime+stime
# from /proc/PID/stat around each run). Raw wrk output is kept under
# bench-results/e2e/<stamp>/.
#
# With WORKLOAD=echo it runs the echo servers instead (loopcore's echo
# example, benches/src/bin/mio_echo.rs, tokio_echo.rs) under
# benches/src/bin/echo_client.rs: 64 connections, 1 KiB messages, closed loop.
#
# With CLIENT=loadgen the plaintext rows are driven by the bundled loadgen
# (-t1 on CPU 1, --pipeline 16 for the pipelined rows) instead of wrk: it
# gets more requests out of its one CPU, so the server is closer to its
# own limit.
#
# CLIENT_CPUS (a taskset list, default 1) gives the client more CPUs on a
# bigger machine: wrk and loadgen get one thread per CPU, echo runs one
# echo_client per CPU (the 64 connections shared out), so the one-loop
# server, not the client, is the bottleneck.
#
# Usage: [CLIENT=wrk|loadgen] [CLIENT_CPUS=1] benches/scripts/run-e2e.sh [ROUNDS] [DURATION] [WORKLOAD]
#        (defaults 5, 5s, plaintext; WORKLOAD is plaintext or echo)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-5}"
duration="${2:-5s}"
workload="${3:-plaintext}"
client="${CLIENT:-wrk}"
client_cpus="${CLIENT_CPUS:-1}"
client_threads=$(cpu_count "$client_cpus")
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }

release_build -p loopcore-examples --example http_plaintext --example echo
release_build -p loopcore-benches --bins
release_build -p loopcore-loadgen

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/e2e/$stamp-$workload"
[ "$client" = loadgen ] && out="$out-loadgen"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "client: $client -t$client_threads -c64 -d$duration, server on CPU 0, client on CPU(s) $client_cpus"
} > "$out/machine.txt"

pipeline_lua="$out/pipeline16.lua"
if [ "$workload" = plaintext ] && [ "$client" = wrk ]; then
  write_pipeline_lua "$pipeline_lua"
fi

port=18181
# Sets $pid to the server's own pid (taskset execs it).
start_server() {
  server_command "$workload" "$1" "$port"
  taskset -c 0 "${server_cmd[@]}" > /dev/null 2>&1 &
  pid=$!
}

# One echo_client per client CPU, 64 connections in all; each prints its
# round_trips=N seconds=S line.
echo_clients() {
  local seconds=$1 cpu per=$((64 / client_threads)) pids=()
  for cpu in ${client_list//,/ }; do
    taskset -c "$cpu" target/release/echo_client "127.0.0.1:$port" "$per" 1024 "$seconds" &
    pids+=($!)
  done
  wait "${pids[@]}"
}
client_list=$(cpu_list "$client_cpus")

echo "round,server,mode,requests,seconds,req_per_s,p99_ms,server_cpu_s,cpu_us_per_req" > "$out/results.csv"
for round in $(seq 1 "$rounds"); do
  for server in loopcore mio tokio; do
    modes=(plain pipeline16)
    [ "$workload" = echo ] && modes=(echo1k)
    for mode in "${modes[@]}"; do
      start_server "$server"
      wait_port "$port"
      result="$out/round-$round-$server-$mode.txt"
      if [ "$workload" = echo ]; then
        echo_clients 1 > /dev/null
        before=$(cpu_ticks "$pid")
        echo_clients "${duration%s}" |
          awk -F'[= ]' '{n += $2; s = $4} END {printf "%s requests in %ss\n", n, s}' > "$result"
        after=$(cpu_ticks "$pid")
      elif [ "$client" = loadgen ]; then
        url="http://127.0.0.1:$port/plaintext"
        args=("-t$client_threads" --cpus "$(cpu_list "$client_cpus")" -c64)
        [ "$mode" = pipeline16 ] && args+=(--pipeline 16)
        taskset -c "$client_cpus" target/release/loadgen "${args[@]}" -d1s "$url" > /dev/null
        before=$(cpu_ticks "$pid")
        taskset -c "$client_cpus" target/release/loadgen "${args[@]}" "-d$duration" --json - "$url" > "$result.json"
        after=$(cpu_ticks "$pid")
        python3 benches/scripts/loadgen_as_wrk.py "$result.json" > "$result"
      else
        # Warm-up, not recorded.
        taskset -c "$client_cpus" wrk "-t$client_threads" -c64 -d1s "http://127.0.0.1:$port/plaintext" > /dev/null
        args=("-t$client_threads" -c64 "-d$duration" --latency)
        [ "$mode" = pipeline16 ] && args+=(-s "$pipeline_lua")
        before=$(cpu_ticks "$pid")
        taskset -c "$client_cpus" wrk "${args[@]}" "http://127.0.0.1:$port/plaintext" > "$result"
        after=$(cpu_ticks "$pid")
      fi
      kill "$pid"; wait "$pid" 2>/dev/null || true
      result_row "$result" "$round" "$server" "$mode" "$before" "$after" >> "$out/results.csv"
      tail -1 "$out/results.csv"
    done
  done
done
python3 benches/scripts/summarize_e2e.py "$out/results.csv" | tee "$out/summary.md"
