#!/usr/bin/env bash
# User-space instructions per HTTP request for each plaintext server, counted
# by callgrind (deterministic where time is not): the server runs under
# valgrind, wrk warms it up, the counters are zeroed (callgrind_control -z),
# wrk runs again, and the counters are dumped and divided by the responses
# wrk received; every thread of the server is counted. Usage: benches/scripts/callgrind-e2e.sh [DURATION] (default 3s)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-3s}"
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
cargo build -q --release -p loopcore-examples --example http_plaintext
cargo build -q --release -p loopcore-benches --bin mio_plaintext --bin tokio_plaintext
port=18484
tmp=$(mktemp -d)
for server in loopcore mio tokio tokio-percore tokio-multi; do
  case "$server" in
    loopcore) cmd=(target/release/examples/http_plaintext --loops 1 --port "$port") ;;
    mio) cmd=(target/release/mio_plaintext "$port") ;;
    tokio) cmd=(target/release/tokio_plaintext "$port") ;;
    tokio-percore) cmd=(target/release/tokio_plaintext "$port" per-core 1) ;;
    tokio-multi) cmd=(target/release/tokio_plaintext "$port" multi 1) ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$tmp/$server.%p" "${cmd[@]}" > /dev/null 2>&1 &
  pid=$!
  sleep 3
  wrk -t1 -c16 -d1s "http://127.0.0.1:$port/plaintext" > /dev/null
  callgrind_control -z "$pid" > /dev/null
  requests=$(wrk -t1 -c16 "-d$duration" "http://127.0.0.1:$port/plaintext" | awk '/requests in/ {print $1}')
  callgrind_control -d "$pid" > /dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  dump=$(ls "$tmp/$server".*.* 2>/dev/null | head -1)
  total=$(grep -h '^summary:' "$dump" | awk '{print $2}')
  echo "$server: $requests requests, $(( total / requests )) instructions per request"
  rm -f "$tmp/$server".*
done
rm -rf "$tmp"
