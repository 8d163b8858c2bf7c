#!/usr/bin/env bash
# Soak: http_plaintext on every loop under three loadgen runs at once for
# SECONDS (default 60): keep-alive connections, connection churn (a new
# connection every response) and mixed churn (every 100 responses). After a
# warm-up it records the server's RSS and open fds, and afterwards checks
# that both are flat, that no client saw an error, and that every request a
# client counted was answered by the server (the server's count is the
# warm-up's plus the clients', give or take the requests still in flight
# when the clients stopped). Exits non-zero when a check fails.
# Usage: benches/scripts/soak.sh [SECONDS]   (or `just soak SECONDS`)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
seconds="${1:-60}"
release_build -p loopcore-examples --example http_plaintext
release_build -p loopcore-loadgen

out="bench-results/soak/$(date -u +%Y%m%dT%H%M%SZ)-${seconds}s"
mkdir -p "$out"
port=18383
target/release/examples/http_plaintext --port "$port" > "$out/server.txt" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
wait_port "$port"
url="http://127.0.0.1:$port/plaintext"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }

target/release/loadgen -c 64 -n 200000 --json "$out/warmup.json" "$url" > /dev/null
sleep 3  # lingering closes finish
rss_before=$(rss_kib)
fds_before=$(fds)

target/release/loadgen -t 1 -c 32 -d "${seconds}s" --json "$out/keepalive.json" "$url" > /dev/null &
a=$!
target/release/loadgen -t 1 -c 8 -d "${seconds}s" --reconnect-every 1 --json "$out/churn.json" "$url" > /dev/null &
b=$!
target/release/loadgen -t 1 -c 16 -d "${seconds}s" --reconnect-every 100 --json "$out/mixed.json" "$url" > /dev/null &
c=$!
wait "$a" "$b" "$c"
sleep 3
rss_after=$(rss_kib)
fds_after=$(fds)
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

python3 - "$out" "$rss_before" "$rss_after" "$fds_before" "$fds_after" <<'PY' | tee "$out/summary.txt"
import json, re, sys
out, rss0, rss1, fd0, fd1 = sys.argv[1], *map(int, sys.argv[2:])
runs = {name: json.load(open(f"{out}/{name}.json")) for name in ["warmup", "keepalive", "churn", "mixed"]}
server = open(f"{out}/server.txt").read()
m = re.search(r"total: (\d+) connections, (\d+) requests", server)
server_connections, server_requests = int(m.group(1)), int(m.group(2))
client_requests = sum(r["requests"] for r in runs.values())
unfinished = sum(r["unfinished"] for r in runs.values())
errors = {name: r["errors"] for name, r in runs.items() if sum(r["errors"].values())}
unanswered = server_requests - client_requests
print(f"clients: {client_requests} requests answered, {unfinished} unfinished at the end, errors: {errors or 'none'}")
for name, r in runs.items():
    print(f"  {name}: {r['requests']} requests, {r['rps']:.0f} req/s, p99 {r['latency_us']['p99']} us")
print(f"server: {server_requests} requests, {server_connections} connections")
print(f"RSS: {rss0} KiB after warm-up, {rss1} KiB after the soak ({rss1 - rss0:+d} KiB)")
print(f"open fds: {fd0} after warm-up, {fd1} after the soak")
ok = True
if errors:
    print("FAIL: clients saw errors"); ok = False
if not 0 <= unanswered <= unfinished:
    print(f"FAIL: server answered {server_requests}, clients counted {client_requests} (+{unfinished} in flight at the end)"); ok = False
if fd1 > fd0:
    print("FAIL: open fds grew"); ok = False
if rss1 > rss0 * 1.10 + 4096:
    print("FAIL: RSS grew by more than 10 % + 4 MiB"); ok = False
print("PASS" if ok else "FAILED")
sys.exit(0 if ok else 1)
PY
