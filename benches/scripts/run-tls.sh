#!/usr/bin/env bash
# TLS benchmark, interleaved rounds, every server pinned to CPU 0 and the
# client to CPU 1, all serving one certificate (ECDSA P-256, made here with
# openssl):
#   keep-alive HTTPS req/s (wrk -t1 -c64): loopcore's https_plaintext
#     (1 loop) against the same server without TLS (http_plaintext) and
#     nginx (1 worker, master_process off) over TLS;
#   handshakes per second, full and resumed (session tickets):
#     https_plaintext against nginx, with benches/src/bin/tls_handshakes.rs
#     (sequential connections, one request each).
# Records req/s (or handshakes/s), p99 for wrk, and the server's CPU time
# per request or handshake from /proc/PID/stat. Raw output is kept under
# bench-results/tls/<stamp>/. nginx-light is installed if missing (root).
#
# Usage: benches/scripts/run-tls.sh [ROUNDS] [DURATION]   (defaults 5, 5s)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
rounds="${1:-5}"
duration="${2:-5s}"
for tool in wrk nginx openssl; do
  if ! command -v "$tool" >/dev/null; then
    package="$tool"
    [ "$tool" = nginx ] && package=nginx-light
    apt-get update -qq && apt-get install -y -qq "$package" >/dev/null
  fi
done

release_build -p loopcore-examples --example http_plaintext --example https_plaintext
release_build -p loopcore-benches --bin tls_handshakes

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench-results/tls/$stamp"
mkdir -p "$out"
out_abs="$(cd "$out" && pwd)"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2), openssl: $(openssl version | cut -d' ' -f2)"
  echo "wrk: -t1 -c64 -d$duration; tls_handshakes: ${duration%s} s; server on CPU 0, client on CPU 1"
} > "$out/machine.txt"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$out/key.pem" -out "$out/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null

port=18443
mkdir -p "$out/nginx"
cat > "$out/nginx.conf" <<NGINX
worker_processes 1;
error_log $out_abs/nginx/error.log warn;
pid $out_abs/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $out_abs/nginx;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $out_abs/cert.pem;
    ssl_certificate_key $out_abs/key.pem;
    location /plaintext {
      default_type text/plain;
      add_header Server loopcore-bench-nginx;
      return 200 "Hello, World!";
    }
  }
}
NGINX

# Sets $pid to the server's own pid (taskset execs it).
start_server() {
  local cmd
  case "$1" in
    loopcore-tls) cmd=(target/release/examples/https_plaintext --loops 1 --port "$port" --cert "$out/cert.pem" --key "$out/key.pem") ;;
    loopcore-plain) cmd=(target/release/examples/http_plaintext --loops 1 --port "$port") ;;
    nginx-tls) cmd=(nginx -c "$out_abs/nginx.conf" -g "daemon off; master_process off;") ;;
  esac
  taskset -c 0 "${cmd[@]}" > /dev/null 2>&1 &
  pid=$!
}

# The summary compares "loopcore" against the others: rows name the server
# under test "loopcore" and the baselines by what they are.
row_name() { case "$1" in loopcore-tls) echo loopcore ;; *) echo "$1" ;; esac; }

echo "round,server,mode,requests,seconds,req_per_s,p99_ms,server_cpu_s,cpu_us_per_req" > "$out/results.csv"
for round in $(seq 1 "$rounds"); do
  for server in loopcore-tls loopcore-plain nginx-tls; do
    scheme=https
    [ "$server" = loopcore-plain ] && scheme=http
    modes=(keepalive)
    [ "$server" != loopcore-plain ] && modes+=(handshake-full handshake-resumed)
    for mode in "${modes[@]}"; do
      start_server "$server"
      wait_port "$port"
      result="$out/round-$round-$server-$mode.txt"
      if [ "$mode" = keepalive ]; then
        taskset -c 1 wrk -t1 -c64 -d1s "$scheme://127.0.0.1:$port/plaintext" > /dev/null
        before=$(cpu_ticks "$pid")
        taskset -c 1 wrk -t1 -c64 "-d$duration" --latency "$scheme://127.0.0.1:$port/plaintext" > "$result"
        after=$(cpu_ticks "$pid")
      else
        kind="${mode#handshake-}"
        taskset -c 1 target/release/tls_handshakes "127.0.0.1:$port" "$out/cert.pem" "$kind" 1 > /dev/null
        before=$(cpu_ticks "$pid")
        taskset -c 1 target/release/tls_handshakes "127.0.0.1:$port" "$out/cert.pem" "$kind" "${duration%s}" > "$result.raw"
        after=$(cpu_ticks "$pid")
        # In wrk's words, for parse_result.py.
        awk -F'[= ]' '{printf "%s requests in %ss\nresumed %s\n", $2, $4, $6}' "$result.raw" > "$result"
      fi
      kill "$pid"; wait "$pid" 2>/dev/null || true
      result_row "$result" "$round" "$(row_name "$server")" "$mode" "$before" "$after" >> "$out/results.csv"
      tail -1 "$out/results.csv"
    done
  done
done
python3 benches/scripts/summarize_e2e.py "$out/results.csv" | tee "$out/summary.md"
