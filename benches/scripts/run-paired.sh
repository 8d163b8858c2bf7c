#!/usr/bin/env bash
# Paired end-to-end comparison: loopcore and one baseline server run AT THE
# SAME TIME, both pinned to CPU 0, each driven by its own client on CPU 1.
#
# Why: on a small VM the machine's own noise (steal time, frequency) moves
# one server's rate by ±20% from one run to the next, far more than the few
# percent between servers, so sequential rounds cannot settle a 5% target.
# Two servers sharing one CPU see the same noise at the same moment.
#
# Each server must be the bottleneck of its own client, or the two clients,
# sharing CPU 1 equally, would hold both servers to the same rate whatever
# their costs. So HOGS busy loops (default 1) share CPU 0 with the servers:
# each server gets 1/(2+HOGS) of it and each client 1/2 of CPU 1. The
# summary prints the pair's share of CPU 0: at its fair share (2/(2+HOGS))
# neither server ever waited for its client. A saturated server's request
# rate is what it gets done with the CPU time the scheduler gives it, and
# the scheduler gives both the same share: the req/s ratio within a round is
# the ratio of the servers' throughput on the same core at the same moment,
# and the CPU-per-request ratio (from /proc/PID/stat) that of their costs.
# Caveat: the servers share CPU 0's caches and are switched every few
# milliseconds; both pay for that alike.
#
# Workloads: plaintext (keep-alive and 16-deep pipelining, loopcore's
# http_plaintext vs benches/src/bin/mio_plaintext.rs and tokio_plaintext.rs,
# driven by loadgen -t1 -c64, or wrk -t1 -c64 with CLIENT=wrk, which costs
# more per request: give it HOGS=2) and echo (1 KiB messages, 64
# connections, benches/src/bin/echo_client.rs). Within a round, which client starts
# first alternates, and each pairing gets fresh servers and a 1 s warm-up.
# Raw client output and the CSV: bench-results/paired/<stamp>-<workload>/.
# BASELINES (default "mio tokio") picks the baselines paired with loopcore
# in turn; for plaintext it may also name the servers of other projects,
# may (may-minihttp), monoio (epoll driver) and mio-minimal, from
# benches/peers (built here only when named), e.g. BASELINES="mio may monoio".
#
# Usage: [HOGS=1] [CLIENT=loadgen|wrk] [BASELINES="mio tokio"] benches/scripts/run-paired.sh [ROUNDS] [DURATION] [WORKLOAD]
#        (defaults 7, 4s, plaintext; WORKLOAD is plaintext or echo)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-7}"
duration="${2:-4s}"
workload="${3:-plaintext}"
seconds="${duration%s}"
hogs="${HOGS:-1}"
client="${CLIENT:-loadgen}"
read -r -a baselines <<< "${BASELINES:-mio tokio}"

release_build -p loopcore-examples --example http_plaintext --example echo
release_build -p loopcore-benches --bins
release_build -p loopcore-loadgen
peers_build "${baselines[@]}"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/paired/$stamp-$workload"
[ "$workload" = plaintext ] && [ "$client" = wrk ] && out="$out-wrk"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "method: loopcore and one baseline at once, both on CPU 0 with $hogs busy loop(s); one $client client each on CPU 1; $duration per run"
} > "$out/machine.txt"

ports=(18381 18382)
# Runs one client against ports[$1] for $2 seconds, writing a wrk-style
# result ("N requests in Ss", p99) to $3.
run_client() {
  local port=${ports[$1]} secs=$2 result=$3
  if [ "$workload" = echo ]; then
    taskset -c 1 target/release/echo_client "127.0.0.1:$port" 64 1024 "$secs" |
      awk -F'[= ]' '{printf "%s requests in %ss\n", $2, $4}' > "$result"
  elif [ "$client" = wrk ]; then
    local args=(-t1 -c64 "-d${secs}s" --latency)
    [ "$mode" = pipeline16 ] && args+=(-s "$out/pipeline16.lua")
    taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$port/plaintext" > "$result"
  else
    local args=(-t1 -c64 "-d${secs}s" --json "$result.json")
    [ "$mode" = pipeline16 ] && args+=(--pipeline 16)
    taskset -c 1 target/release/loadgen "${args[@]}" "http://127.0.0.1:$port/plaintext" > /dev/null
    python3 benches/scripts/loadgen_as_wrk.py "$result.json" > "$result"
  fi
}

modes=(plain pipeline16)
[ "$workload" = echo ] && modes=(echo1k)
if [ "$client" = wrk ]; then
  command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
  write_pipeline_lua "$out/pipeline16.lua"
fi
echo "round,server,mode,requests,seconds,req_per_s,p99_ms,server_cpu_s,cpu_us_per_req" > "$out/results.csv"
for round in $(seq 1 "$rounds"); do
  for baseline in "${baselines[@]}"; do
    for mode in "${modes[@]}"; do
      servers=(loopcore "$baseline")
      pids=() hog_pids=()
      for _ in $(seq 1 "$hogs"); do
        taskset -c 0 bash -c 'while :; do :; done' &
        hog_pids+=($!)
      done
      for i in 0 1; do
        server_command "$workload" "${servers[$i]}" "${ports[$i]}"
        taskset -c 0 "${server_cmd[@]}" > /dev/null 2>&1 &
        pids+=($!)
      done
      wait_port "${ports[0]}"; wait_port "${ports[1]}"
      # The first client of a round alternates so neither server always
      # gets the head start.
      order=(0 1)
      [ $((round % 2)) = 0 ] && order=(1 0)
      warmups=()
      for i in "${order[@]}"; do
        run_client "$i" 1 "$out/warmup-$i.txt" &
        warmups+=($!)
      done
      wait "${warmups[@]}"
      before=("$(cpu_ticks "${pids[0]}")" "$(cpu_ticks "${pids[1]}")")
      clients=()
      for i in "${order[@]}"; do
        run_client "$i" "$seconds" "$out/round-$round-${servers[$i]}-with-$baseline-$mode.txt" &
        clients+=($!)
      done
      wait "${clients[@]}"
      after=("$(cpu_ticks "${pids[0]}")" "$(cpu_ticks "${pids[1]}")")
      kill "${pids[@]}" "${hog_pids[@]}"; wait "${pids[@]}" "${hog_pids[@]}" 2>/dev/null || true
      # The round key names the pairing, so the summary compares loopcore
      # only with the baseline that shared CPU 0 with it.
      for i in 0 1; do
        result_row "$out/round-$round-${servers[$i]}-with-$baseline-$mode.txt" "$round/$baseline" \
          "${servers[$i]}" "$mode" "${before[$i]}" "${after[$i]}" >> "$out/results.csv"
      done
      tail -2 "$out/results.csv"
    done
  done
done
rm -f "$out"/warmup-*
PAIRED_FAIR_SHARE=$(awk -v h="$hogs" 'BEGIN {print 2 / (2 + h)}') \
  python3 benches/scripts/summarize_e2e.py "$out/results.csv" | tee "$out/summary.md"
