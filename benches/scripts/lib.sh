# Helpers the end-to-end scripts share (sourced, not run).

# User+system CPU ticks of a process, all its threads included.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Waits up to 5 s for something to listen on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Appends one CSV row (round,server,mode,requests,seconds,req_per_s,p99_ms,
# server_cpu_s,cpu_us_per_req) for a wrk or echo_client result file.
# Usage: result_row RESULT ROUND SERVER MODE CPU_TICKS_BEFORE CPU_TICKS_AFTER
result_row() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/parse_result.py" "$@" "$(getconf CLK_TCK)"
}

# cargo build --release, skipped when LOOPCORE_PREBUILT=1: the binaries are
# already in target/release (carried to a bigger machine that has no cargo).
release_build() {
  [ "${LOOPCORE_PREBUILT:-0}" = 1 ] || cargo build -q --release "$@"
}

# The servers of other projects (may, monoio, mio-minimal) are built from
# benches/peers, a workspace of its own that CI never builds, into
# benches/peers/target/release.
PEER_SERVERS="may monoio mio-minimal"

# Builds benches/peers (release) when one of the servers named is a peer;
# skipped when LOOPCORE_PREBUILT=1, as release_build.
# Usage: peers_build SERVER...
peers_build() {
  local server
  for server in "$@"; do
    if [[ " $PEER_SERVERS " == *" $server "* ]]; then
      [ "${LOOPCORE_PREBUILT:-0}" = 1 ] ||
        cargo build -q --release --manifest-path benches/peers/Cargo.toml
      return
    fi
  done
}

# A taskset CPU list such as "1-3,8" spelled out with commas: "1,2,3,8".
cpu_list() {
  local part out=() i
  for part in ${1//,/ }; do
    if [[ "$part" == *-* ]]; then
      for ((i = ${part%-*}; i <= ${part#*-}; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  (IFS=,; echo "${out[*]}")
}

# Number of CPUs in a taskset list such as "1-3,8".
cpu_count() {
  local list
  list=$(cpu_list "$1")
  echo $(( $(tr -cd , <<< "$list" | wc -c) + 1 ))
}

# Writes wrk's Lua script for 16-deep pipelining of GET /plaintext to $1.
write_pipeline_lua() {
  cat > "$1" <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
LUA
}

# Sets the array server_cmd to the command line of one bench server.
# Usage: server_command WORKLOAD SERVER PORT [CERT KEY]
#   WORKLOAD: plaintext (pipeline is the same servers), echo, https, hyper;
#   SERVER: loopcore, mio, tokio, tokio-percore, tokio-multi (as the
#   workload has them); the plaintext workloads also have the peers may
#   (may-minihttp, one worker), monoio (epoll driver, one thread) and
#   mio-minimal (benches/peers, built by peers_build). Every other
#   plaintext server uses loopcore's http1 codec; the peers use their own
#   (may-minihttp's) or httparse.
server_command() {
  local workload="${1/pipeline/plaintext}" server=$2 port=$3
  case "$workload" in plain | pipe-16) workload=plaintext ;; esac
  case "$workload/$server" in
    plaintext/loopcore) server_cmd=(target/release/examples/http_plaintext --loops 1 --port "$port") ;;
    plaintext/mio) server_cmd=(target/release/mio_plaintext "$port") ;;
    plaintext/tokio) server_cmd=(target/release/tokio_plaintext "$port") ;;
    plaintext/tokio-percore) server_cmd=(target/release/tokio_plaintext "$port" per-core 1) ;;
    plaintext/tokio-multi) server_cmd=(target/release/tokio_plaintext "$port" multi 1) ;;
    plaintext/may) server_cmd=(benches/peers/target/release/may_plaintext "$port") ;;
    plaintext/monoio) server_cmd=(benches/peers/target/release/monoio_plaintext "$port") ;;
    plaintext/mio-minimal) server_cmd=(benches/peers/target/release/mio_minimal_plaintext "$port") ;;
    https/loopcore) server_cmd=(target/release/examples/https_plaintext --loops 1 --port "$port" --cert "$4" --key "$5") ;;
    hyper/loopcore) server_cmd=(target/release/examples/hyper_hello --loops 1 --port "$port") ;;
    hyper/tokio) server_cmd=(target/release/tokio_hyper "$port" current) ;;
    hyper/tokio-multi) server_cmd=(target/release/tokio_hyper "$port" multi 1) ;;
    echo/loopcore) server_cmd=(target/release/examples/echo --host 127.0.0.1 --port "$port") ;;
    echo/mio) server_cmd=(target/release/mio_echo "$port") ;;
    echo/tokio) server_cmd=(target/release/tokio_echo "$port") ;;
    *) echo "no $server server for the $workload workload" >&2; return 1 ;;
  esac
}
