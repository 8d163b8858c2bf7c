#!/usr/bin/env bash
# Server memory per keep-alive connection (issue 20's guard, issue 21's
# figure): one bench server (lib.sh's plaintext servers; loopcore is
# http_plaintext --loops 1), CONNS connections (default 9,000) held open by
# idle_conns. The server's RSS (VmRSS) is read before, with every
# connection accepted and idle, and after one request on each; the report
# is KiB per connection for both.
# Usage: benches/scripts/conn-memory.sh [CONNS] [SERVER...]   (default loopcore)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/lib.sh
conns="${1:-9000}"
shift || true
servers=("${@:-loopcore}")
[ "${#servers[@]}" -gt 0 ] || servers=(loopcore)
# Each side holds one fd per connection: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $(( conns + 256 )) ]; then
  echo "the fd limit ($(ulimit -n)) is too low for $conns connections" >&2
  exit 1
fi
release_build -p loopcore-examples --example http_plaintext
release_build -p loopcore-benches --bins
port=18485
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
open_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# Waits until the client printed $2 into $1.
wait_line() {
  until grep -q "^$2\$" "$1" 2>/dev/null; do
    kill -0 "$client" 2>/dev/null || { echo "idle_conns failed" >&2; exit 1; }
    sleep 0.1
  done
}
for server in "${servers[@]}"; do
  server_command plaintext "$server" "$port"
  "${server_cmd[@]}" > /dev/null 2>&1 &
  pid=$!
  wait_port "$port"
  sleep 0.5
  base_fds=$(open_fds "$pid")
  before=$(rss_kib "$pid")
  rm -f "$tmp/go" "$tmp/out"
  mkfifo "$tmp/go"
  target/release/idle_conns "127.0.0.1:$port" "$conns" < "$tmp/go" > "$tmp/out" &
  client=$!
  exec 3> "$tmp/go"
  wait_line "$tmp/out" open
  # Every connection accepted (one fd each) before reading the RSS.
  until [ "$(open_fds "$pid")" -ge $(( base_fds + conns )) ]; do sleep 0.1; done
  sleep 0.5
  idle=$(rss_kib "$pid")
  echo go >&3
  wait_line "$tmp/out" answered
  sleep 0.5
  answered=$(rss_kib "$pid")
  echo done >&3
  exec 3>&-
  wait "$client"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v s="$server" -v n="$conns" -v b="$before" -v i="$idle" -v a="$answered" 'BEGIN {
    printf "%s: %d connections, RSS %d KiB before, %d KiB idle, %d KiB after one request each: %.2f KiB per idle connection, %.2f KiB per connection after a request\n",
      s, n, b, i, a, (i - b) / n, (a - b) / n }'
done
