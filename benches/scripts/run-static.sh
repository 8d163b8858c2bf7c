#!/usr/bin/env bash
# Static files: the static_files example (1 loop, sendfile) vs nginx (one
# worker, master process off, `sendfile on`, access log off), both pinned
# to CPU 0 and serving the same 1 MiB file from the page cache, under
# `wrk -t1 -c16` on CPU 1, in ROUNDS interleaved rounds. Records req/s,
# p99, and the server's CPU time per request (/proc/PID/stat). nginx is
# installed with apt-get when missing.
#
# Usage: benches/scripts/run-static.sh [ROUNDS] [DURATION] [SIZE_BYTES]
#        (defaults 5, 5s, 1048576)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-5}"
duration="${2:-5s}"
size="${3:-1048576}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
command -v nginx >/dev/null || apt-get install -y nginx-light >/dev/null || apt-get install -y nginx >/dev/null
release_build -p loopcore-examples --example static_files

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/static/$stamp"
site="bench-results/tmp/static-site"
mkdir -p "$out" "$site"
head -c "$size" /dev/urandom > "$site/file.bin"
site_abs="$(cd "$site" && pwd)"
port=18383
cat > "$out/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $site_abs/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port reuseport;
    root $site_abs;
  }
}
CONF
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nginx: $(nginx -v 2>&1)"
  echo "file: $size bytes; wrk -t1 -c16 -d$duration on CPU 1, server on CPU 0"
} > "$out/machine.txt"

# Sets $pid to the server's own pid (taskset execs it).
start_server() {
  case "$1" in
    loopcore) cmd=(target/release/examples/static_files --root "$site_abs" --loops 1 --port "$port") ;;
    nginx) cmd=(nginx -c "$PWD/$out/nginx.conf") ;;
  esac
  taskset -c 0 "${cmd[@]}" > "$out/server.log" 2>&1 &
  pid=$!
}

echo "round,server,mode,requests,seconds,req_per_s,p99_ms,server_cpu_s,cpu_us_per_req" > "$out/results.csv"
for round in $(seq 1 "$rounds"); do
  for server in loopcore nginx; do
    start_server "$server"
    wait_port "$port"
    url="http://127.0.0.1:$port/file.bin"
    taskset -c 1 wrk -t1 -c16 -d1s "$url" > /dev/null
    result="$out/round-$round-$server.txt"
    before=$(cpu_ticks "$pid")
    taskset -c 1 wrk -t1 -c16 "-d$duration" --latency "$url" > "$result"
    after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if grep -q "Non-2xx\|Socket errors" "$result"; then
      echo "$server: errors in round $round" >&2; cat "$result" >&2; exit 1
    fi
    result_row "$result" "$round" "$server" "file$size" "$before" "$after" >> "$out/results.csv"
    tail -1 "$out/results.csv"
  done
done
python3 benches/scripts/summarize_e2e.py "$out/results.csv" | tee "$out/summary.md"
