#!/usr/bin/env bash
# User-space instructions per request (or echo round trip) for each server,
# counted by callgrind (deterministic where time is not): the server runs
# under valgrind, the client warms it up, the counters are zeroed
# (callgrind_control -z), the client runs again, and the counters (every
# thread of the server) are dumped and divided by what the client counted.
# With WORKLOAD=https, loopcore's https_plaintext is measured under wrk over
# TLS (a fresh ECDSA P-256 certificate from openssl); the figure includes
# the 16 handshakes of wrk's connections, a few percent of a 3 s run.
# With WORKLOAD=hyper, hyper_hello (1 loop) against the same hyper service
# on tokio (benches/src/bin/tokio_hyper.rs), HTTP/1.1 under wrk.
# With WORKLOAD=pipeline, the plaintext servers under wrk with 16-deep
# pipelining (16 requests per write).
# With WORKLOAD=plain or pipe-16, a deterministic client (turn_client) in
# place of wrk: 4 keep-alive connections opened up front and used in turn,
# one request (plain) or one write of 16 (pipe-16) outstanding at a time,
# `GET / HTTP/1.1`; 2,000 warm-up requests, counters zeroed, then 20,000
# counted. The same run gives the same count every time: the guard of the
# connection-core work (issue 20) and the figure of issue 21.
# With SERVERS="loopcore ...", only those servers are measured. The
# plaintext workloads (plaintext, pipeline, plain, pipe-16) also have the
# servers of other projects, never measured by default: may (may-minihttp),
# monoio (epoll driver) and mio-minimal, from benches/peers (built here,
# only when SERVERS names one), e.g. SERVERS="loopcore may monoio mio-minimal".
# With CALLGRIND_SIM=1, callgrind also simulates the caches and the branch
# predictor (--cache-sim=yes --branch-sim=yes) and the report adds, per
# request, first-level data misses (reads + writes), last-level misses and
# mispredicted branches: where instructions are equal, these are the next
# deterministic suspects for a wall-clock gap. It runs several times slower.
# Usage: benches/scripts/callgrind-e2e.sh [DURATION] [WORKLOAD]
#        (defaults 3s, plaintext; WORKLOAD is plaintext, pipeline, echo, https,
#        hyper, plain or pipe-16; DURATION is ignored by plain and pipe-16)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
duration="${1:-3s}"
workload="${2:-plaintext}"
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
release_build -p loopcore-examples --example http_plaintext --example https_plaintext --example echo --example hyper_hello
release_build -p loopcore-benches --bins
port=18484
tmp=$(mktemp -d)
scheme=http
if [ "$workload" = echo ]; then
  servers=(loopcore mio tokio)
elif [ "$workload" = https ]; then
  servers=(loopcore)
  scheme=https
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
elif [ "$workload" = hyper ]; then
  servers=(loopcore tokio tokio-multi)
elif [ "$workload" = plain ] || [ "$workload" = pipe-16 ]; then
  servers=(loopcore mio tokio-percore)
else
  servers=(loopcore mio tokio tokio-percore tokio-multi)
fi
# SERVERS="loopcore mio" measures those only (each must exist for the workload).
if [ -n "${SERVERS:-}" ]; then
  read -r -a servers <<< "$SERVERS"
fi
peers_build "${servers[@]}"
sim_args=()
if [ "${CALLGRIND_SIM:-0}" = 1 ]; then
  sim_args=(--cache-sim=yes --branch-sim=yes)
fi
wrk_args=()
if [ "$workload" = pipeline ]; then
  write_pipeline_lua "$tmp/pipeline16.lua"
  wrk_args=(-s "$tmp/pipeline16.lua")
fi
# Prints how many requests (round trips) the client completed.
load() {
  if [ "$workload" = echo ]; then
    target/release/echo_client "127.0.0.1:$port" 16 1024 "${1%s}" | sed 's/round_trips=\([0-9]*\).*/\1/'
  else
    wrk -t1 -c16 "-d$1" "${wrk_args[@]}" "$scheme://127.0.0.1:$port/plaintext" | awk '/requests in/ {print $1}'
  fi
}
# The turn client's run against the server under callgrind ($1: its pid):
# warm up, zero the counters, count. Prints the requests counted.
turn_load() {
  local depth=1 fifo="$tmp/go" out="$tmp/turn.out"
  [ "$workload" = pipe-16 ] && depth=16
  rm -f "$fifo" "$out"; mkfifo "$fifo"
  target/release/turn_client "127.0.0.1:$port" 4 "$depth" 2000 20000 < "$fifo" > "$out" &
  local client=$!
  exec 3> "$fifo"
  until grep -q '^warm$' "$out" 2>/dev/null; do
    kill -0 "$client" 2>/dev/null || { echo "turn_client failed" >&2; exit 1; }
    sleep 0.2
  done
  callgrind_control -z "$1" > /dev/null
  echo go >&3
  exec 3>&-
  wait "$client"
  sed -n 's/^requests=//p' "$out"
}
for server in "${servers[@]}"; do
  server_command "$workload" "$server" "$port" "$tmp/cert.pem" "$tmp/key.pem"
  valgrind --tool=callgrind "${sim_args[@]}" --callgrind-out-file="$tmp/$server.%p" "${server_cmd[@]}" > /dev/null 2>&1 &
  pid=$!
  sleep 3
  wait_port "$port"
  if [ "$workload" = plain ] || [ "$workload" = pipe-16 ]; then
    requests=$(turn_load "$pid")
  else
    load 1s > /dev/null
    callgrind_control -z "$pid" > /dev/null
    requests=$(load "$duration")
  fi
  callgrind_control -d "$pid" > /dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # summary: Ir [Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim]
  summary=$(cat "$tmp/$server".*.* | grep -h '^summary:' |
    awk '{for (i = 2; i <= NF; i++) s[i] += $i} END {for (i = 2; i <= NF; i++) printf "%d ", s[i]}')
  read -r -a events <<< "$summary"
  line="$workload $server: $requests requests, $(( events[0] / requests )) instructions per request"
  if [ "${#events[@]}" -ge 13 ]; then
    per_req() { awk -v n="$1" -v r="$requests" 'BEGIN {printf "%.2f", n / r}'; }
    line+=", D1 misses $(per_req $(( events[4] + events[5] ))), LL misses $(per_req $(( events[6] + events[7] + events[8] )))"
    line+=", I1 misses $(per_req "${events[3]}"), mispredicted branches $(per_req $(( events[10] + events[12] )))"
  fi
  echo "$line"
  rm -f "$tmp/$server".*
done
rm -rf "$tmp"
