#!/usr/bin/env bash
# The whole Autobahn TestSuite (517 cases: groups 1-10 are RFC 6455, 12-13
# permessage-deflate) in both roles, driven by `kosoku` (see shared
# CONFORMANCE.md). The testees are built with the `deflate` feature, which
# makes their configuration offer/accept permessage-deflate:
#
#   server role: kosoku (fuzzing client) -> examples/autobahn_server
#   client role: examples/autobahn_client -> kosoku -m fuzzingserver
#
# Then scripts/autobahn_check.py checks both reports: all 517 cases present,
# every behaviour OK or INFORMATIONAL, and no change against the expected
# results committed in scripts/autobahn-expected/. Exits non-zero on any
# problem. Loopback only; ports are chosen by the OS, so runs never collide.
#
#   scripts/autobahn.sh                  # run and check
#   AUTOBAHN_UPDATE=1 scripts/autobahn.sh  # run, check, rewrite the expected files
#
# Reports: target/autobahn/{server,client}/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."

KOSOKU_VERSION=0.1.0
CASES=517
OUT=target/autobahn
VENV=${AUTOBAHN_VENV:-$OUT/venv}
# Seconds per role. Measured on 2 cores shared with other work: server role
# 459 s, client role 670 s (its cases run one after another), 670 s for
# both at once; groups 12-13 are nearly all of it (1000 echoes of up to
# 128 KiB per case, bound by round trips and kosoku's own deflate), groups
# 1-10 alone take ~20 s.
ROLE_TIMEOUT=1800
# Cases to leave out, e.g. AUTOBAHN_EXCLUDE='12.* 13.*' for a quick run of
# groups 1-10 (the expected files and the case count then do not match).
EXCLUDE=()
for pattern in ${AUTOBAHN_EXCLUDE:-}; do
    EXCLUDE+=(-x "$pattern")
done

mkdir -p "$OUT"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# Waits until FILE holds a line "...listening on [ws://]HOST:PORT" and prints
# HOST:PORT; fails after 20 s or when PID has exited.
wait_listening() {
    local file=$1 pid=$2 addr
    for _ in $(seq 200); do
        addr=$(sed -n 's|.*listening on \(ws://\)\{0,1\}\([0-9.]*:[0-9]*\).*|\2|p' "$file" 2>/dev/null | head -n 1)
        if [ -n "$addr" ]; then
            echo "$addr"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "no 'listening on' line in $file:" >&2
    cat "$file" >&2
    return 1
}

echo "=== kosoku $KOSOKU_VERSION in $VENV"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('kosoku') != '$KOSOKU_VERSION')" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kosoku==$KOSOKU_VERSION"
fi
KOSOKU=$VENV/bin/kosoku

echo "=== build the testees (release)"
cargo build --release --features deflate --example autobahn_server --example autobahn_client
BIN=${CARGO_TARGET_DIR:-target}/release/examples

# The two roles run at the same time: each is bound by round trips (every
# case waits for each echo before sending the next message), not by CPU,
# so together they take little longer than the slower one alone.

server_role() {
    local start=$SECONDS status=0 server_pid addr
    # Old logs go first: the shell may still be opening the new one when
    # wait_listening starts reading.
    rm -rf "$OUT/server" "$OUT/autobahn_server.log"
    "$BIN/autobahn_server" 127.0.0.1:0 >"$OUT/autobahn_server.log" 2>&1 &
    server_pid=$!
    addr=$(wait_listening "$OUT/autobahn_server.log" "$server_pid") || status=1
    if [ "$status" -eq 0 ] && ! timeout "$ROLE_TIMEOUT" "$KOSOKU" "$addr" -o "$OUT/server" \
        ${EXCLUDE[@]+"${EXCLUDE[@]}"} -p 2 >"$OUT/kosoku_server.log" 2>&1; then
        echo "kosoku (server role) failed or timed out:"
        tail -n 20 "$OUT/kosoku_server.log"
        status=1
    fi
    kill "$server_pid" 2>/dev/null || true
    echo "server role: $((SECONDS - start)) s"
    return "$status"
}

client_role() {
    local start=$SECONDS status=0 fuzzer_pid addr
    rm -rf "$OUT/client" "$OUT/kosoku_client.log"
    timeout "$ROLE_TIMEOUT" "$KOSOKU" -m fuzzingserver 127.0.0.1:0 -o "$OUT/client" \
        ${EXCLUDE[@]+"${EXCLUDE[@]}"} >"$OUT/kosoku_client.log" 2>&1 &
    fuzzer_pid=$!
    addr=$(wait_listening "$OUT/kosoku_client.log" "$fuzzer_pid") || status=1
    if [ "$status" -eq 0 ] && ! timeout "$ROLE_TIMEOUT" "$BIN/autobahn_client" "ws://$addr" wsproto \
        >"$OUT/autobahn_client.log" 2>&1; then
        echo "autobahn_client failed or timed out:"
        tail -n 20 "$OUT/autobahn_client.log"
        status=1
    fi
    # updateReports makes the fuzzing server write its reports and exit;
    # give it 30 s, not the whole role timeout, in case the client never
    # got that far.
    for _ in $(seq 300); do
        kill -0 "$fuzzer_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$fuzzer_pid" 2>/dev/null || true
    if ! wait "$fuzzer_pid"; then
        echo "kosoku (client role) failed or timed out:"
        tail -n 20 "$OUT/kosoku_client.log"
        status=1
    fi
    echo "client role: $((SECONDS - start)) s"
    return "$status"
}

status=0
start=$SECONDS
echo "=== both roles at once: kosoku -> autobahn_server, autobahn_client -> kosoku -m fuzzingserver"
server_role &
pids+=("$!")
server_job=$!
client_role &
pids+=("$!")
client_job=$!
wait "$server_job" || status=1
wait "$client_job" || status=1
echo "both roles: $((SECONDS - start)) s"

echo "=== check the reports"
update=()
if [ "${AUTOBAHN_UPDATE:-}" = 1 ]; then
    update=(--update)
fi
for role in server client; do
    if ! python3 scripts/autobahn_check.py --role "$role" --cases "$CASES" "${update[@]}" \
        "$OUT/$role/index.json" "scripts/autobahn-expected/$role.json"; then
        status=1
    fi
done

if [ "$status" -ne 0 ]; then
    echo "autobahn: FAILED (reports in $OUT/{server,client}/index.html)"
else
    echo "autobahn: both roles, $CASES cases each, all OK or INFORMATIONAL"
fi
exit "$status"
