#!/usr/bin/env bash
# How long a graceful shutdown takes with many idle connections (issue
# 31): an example server (release build) with N connections held open by
# the load generator's `hold` mode in another process (raw sockets that
# answer the server's Close as a client does), then SIGTERM. Prints the
# wall time from the signal to the server's exit, the server's stderr
# (`shutdown: N closed, M cut`) and the generator's count of Close codes.
#
#   bash scripts/shutdown_time.sh [SERVER [N [ARGS...]]]
#   bash scripts/shutdown_time.sh tokio_echo_server 10000
#   bash scripts/shutdown_time.sh tokio_echo_server 10000 --threads 2
#   bash scripts/shutdown_time.sh echo_server 10000        # 10,000 threads
#
# Each process holds N descriptors: N may go up to a little under the
# hard limit of open files (`ulimit -Hn`).
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-tokio_echo_server}
n=${2:-10000}
shift $(($# > 2 ? 2 : $#))
export CARGO_TERM_COLOR=never

ulimit -n "$(ulimit -Hn)"
cargo build -q --release --features tokio --example "$server"
cargo bench -q -p wsproto-benches --bench load --no-run 2>/dev/null
target_dir=${CARGO_TARGET_DIR:-target}
generator=$(ls -t "$target_dir"/release/deps/load-* | grep -v '\.d$' | head -n 1)

work=$(mktemp -d)
server_pid=
generator_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
    [ -n "$generator_pid" ] && kill -KILL "$generator_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$target_dir/release/examples/$server" 127.0.0.1:0 "$@" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$work/server.out")
[ -n "$addr" ] || { echo "the server did not start"; cat "$work/server.err"; exit 1; }

"$generator" gen hold --addr "$addr" --conns "$n" --max-secs 60 >"$work/gen.out" 2>&1 &
generator_pid=$!
for _ in $(seq 1200); do
    grep -q '^opened ' "$work/gen.out" 2>/dev/null && break
    kill -0 "$generator_pid" 2>/dev/null || { cat "$work/gen.out"; exit 1; }
    sleep 0.1
done
grep '^opened ' "$work/gen.out"
rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")
threads=$(ls "/proc/$server_pid/task" | wc -l)
# The server's CPU while its connections sit idle, over 2 s (utime +
# stime, fields 14 and 15 of /proc/PID/stat, in clock ticks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
before=$(cpu_ticks)
sleep 2
idle_cpu=$(( ($(cpu_ticks) - before) * 100 / $(getconf CLK_TCK) / 2 ))

start=$(date +%s%N)
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
end=$(date +%s%N)
server_pid=
wait "$generator_pid" || true
generator_pid=

echo "server $server $*: $n connections, ${rss_kib} KiB RSS, $threads threads, ${idle_cpu} % of a core while idle, before the signal"
echo "SIGTERM to exit: $(((end - start) / 1000000)) ms, exit status $status"
sed 's/^/server: /' "$work/server.err" | grep -v '^server: connection: ' | tail -n 5
grep '^result ' "$work/gen.out"
grep -c 'connection: ' "$work/server.err" | sed 's/^/server error lines: /' || true
