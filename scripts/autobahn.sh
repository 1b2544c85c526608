#!/usr/bin/env bash
# The Autobahn TestSuite (517 cases: groups 1-10 are RFC 6455, 12-13
# permessage-deflate) in both roles, driven by `kosoku` (see shared
# CONFORMANCE.md), through the public adapters (see
# examples/common/echo.rs):
#
#   blocking: wsproto::blocking::WebSocket, read and echo on one thread;
#             client role 437 cases, server role 337 (see OTHER_CORPORA)
#   split:    WebSocket::split, a reader thread passing each message to a
#             writer thread; groups 1-10 (301 cases): 12-13 take ten
#             minutes and exercise the core's deflate, not the adapter
#   tokio:    wsproto::tokio::WebSocket, recv and send in one task on a
#             current-thread runtime; server role all 517 cases, client
#             role 337 (see OTHER_CORPORA)
#
#   server role: kosoku (fuzzing client) -> examples/autobahn_server --adapter A
#   client role: examples/autobahn_client --adapter A -> kosoku -m fuzzingserver
#
#   axum:     examples/axum_chat's /echo route: the tokio adapter behind
#             wsproto::axum::WebSocketUpgrade under axum::serve (HTTP/1.1);
#             server role, groups 1-10 (about 10 s)
#
# The testees are built with the `deflate` feature, which makes their
# configuration offer/accept permessage-deflate. The seven runs go at once.
# Then scripts/autobahn_check.py checks each report: every case of the run
# present, every behaviour OK or INFORMATIONAL, and no change against the expected results committed in
# scripts/autobahn-expected/{server,client}.json, which every adapter must
# match. Exits non-zero on any problem. Loopback only; ports are chosen by
# the OS, so runs never collide.
#
#   scripts/autobahn.sh                  # run and check
#   AUTOBAHN_UPDATE=1 scripts/autobahn.sh  # run, check, rewrite the expected files
#   AUTOBAHN_ADAPTERS=tokio scripts/autobahn.sh  # only these adapters
#   AUTOBAHN_FULL=1 scripts/autobahn.sh  # all 517 cases through blocking and tokio, both roles
#
# Reports: target/autobahn/{blocking,split,tokio}-{server,client}/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."

KOSOKU_VERSION=0.1.0
# Cases in the expected files (the whole suite).
CASES=517
OUT=target/autobahn
VENV=${AUTOBAHN_VENV:-$OUT/venv}
# Seconds per run. Measured on 2 cores shared with other work (2026-12-02,
# the four at once): blocking server role 253-273 s, blocking client role
# 362-393 s (its cases run one after another), split server role 5-7 s,
# split client role 10-14 s; groups 12-13 are nearly all of it (1000
# echoes of up to 128 KiB per case, bound by round trips and kosoku's own
# deflate), so the split runs add nothing to the wall time.
ROLE_TIMEOUT=1800
# Cases to leave out of every run, e.g. AUTOBAHN_EXCLUDE='12.* 13.*' for a
# quick run of groups 1-10.
EXCLUDE=()
for pattern in ${AUTOBAHN_EXCLUDE:-}; do
    EXCLUDE+=("$pattern")
done
# The split adapter runs groups 1-10.
SPLIT_EXCLUDE=('12.*' '13.*')
# Permessage-deflate is groups 12 and 13: 12.1-12.5 send a thousand
# messages of up to 128 KiB cut from five corpora (12.1 JSON, 12.2 a
# bitmap, 12.3 German prose, 12.4 HTML, 12.5 a PDF) at the default
# parameters; 13.1-13.7 the same sizes under each negotiated parameter
# (context takeover, window bits). Together nearly all of the suite's CPU,
# and they test the core's codec and the shared driver (src/driver), which
# every adapter runs alike. So:
#   tokio server:     all 517 cases
#   blocking client:  all but the corpora 12.2-12.5 (every parameter of 13:
#                     where RFC 7692 treats the client differently)
#   blocking server, tokio client: groups 1-10, 12.1 and 13.1 (337 cases:
#                     deflate agreed and used at every message size)
# Measured 2026-12-06 (AMD EPYC, 2 cores shared with other builds), case
# time in the blocking client run: 12.2-12.5 760 s, 12.1 59 s, 13.* 184 s;
# in the tokio server run 12.2-12.5 1,093 s of 1,589. AUTOBAHN_FULL=1 runs
# all 517 cases through both adapters in both roles.
OTHER_CORPORA=('12.[2-9].*')
OTHER_PARAMETERS=('13.[2-9].*')
# The adapters to run (all by default).
read -r -a ADAPTERS <<<"${AUTOBAHN_ADAPTERS:-blocking split tokio}"

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
# Optimised (the bench profile, as `--release` plus line tables), with
# every feature, as CI's other builds.
cargo build --profile bench --workspace --all-features \
    --example autobahn_server --example autobahn_client --example axum_chat
BIN=${CARGO_TARGET_DIR:-target}/release/examples

# The four runs go at the same time: each is bound by round trips (every
# case waits for each echo before sending the next message), not by CPU,
# so together they take little longer than the slowest alone (the client
# role of the blocking adapter, whose 517 cases run one after another).

# kosoku -> autobahn_server --adapter ADAPTER, leaving out the cases that
# match the GLOBs. Report in $OUT/ADAPTER-server/.
server_role() {
    local adapter=$1 pattern
    shift
    local run=$OUT/$adapter-server start=$SECONDS status=0 server_pid addr x=()
    for pattern in "$@"; do
        x+=(-x "$pattern")
    done
    # Old logs go first: the shell may still be opening the new one when
    # wait_listening starts reading.
    rm -rf "$run" "$run.testee.log" "$run.kosoku.log"
    "$BIN/autobahn_server" 127.0.0.1:0 --adapter "$adapter" >"$run.testee.log" 2>&1 &
    server_pid=$!
    addr=$(wait_listening "$run.testee.log" "$server_pid") || status=1
    if [ "$status" -eq 0 ] && ! timeout "$ROLE_TIMEOUT" "$KOSOKU" "$addr" -o "$run" \
        ${x[@]+"${x[@]}"} -p 2 >"$run.kosoku.log" 2>&1; then
        echo "kosoku ($adapter, server role) failed or timed out:"
        tail -n 20 "$run.kosoku.log"
        status=1
    fi
    kill "$server_pid" 2>/dev/null || true
    echo "$adapter, server role: $((SECONDS - start)) s"
    return "$status"
}

# kosoku -> axum_chat's /echo, groups 1-10. Report in $OUT/axum-server/.
axum_server_role() {
    local run=$OUT/axum-server start=$SECONDS status=0 server_pid addr
    rm -rf "$run" "$run.testee.log" "$run.kosoku.log"
    "$BIN/axum_chat" 127.0.0.1:0 >"$run.testee.log" 2>&1 &
    server_pid=$!
    addr=$(wait_listening "$run.testee.log" "$server_pid") || status=1
    if [ "$status" -eq 0 ] && ! timeout "$ROLE_TIMEOUT" "$KOSOKU" "ws://$addr/echo" -o "$run" \
        -x '12.*' -x '13.*' -p 2 >"$run.kosoku.log" 2>&1; then
        echo "kosoku (axum, server role) failed or timed out:"
        tail -n 20 "$run.kosoku.log"
        status=1
    fi
    kill "$server_pid" 2>/dev/null || true
    echo "axum, server role: $((SECONDS - start)) s"
    return "$status"
}

# autobahn_client --adapter ADAPTER -> kosoku -m fuzzingserver, leaving
# out the cases that match the GLOBs. Report in $OUT/ADAPTER-client/.
client_role() {
    local adapter=$1 pattern
    shift
    local run=$OUT/$adapter-client start=$SECONDS status=0 fuzzer_pid addr x=()
    for pattern in "$@"; do
        x+=(-x "$pattern")
    done
    rm -rf "$run" "$run.testee.log" "$run.kosoku.log"
    timeout "$ROLE_TIMEOUT" "$KOSOKU" -m fuzzingserver 127.0.0.1:0 -o "$run" \
        ${x[@]+"${x[@]}"} >"$run.kosoku.log" 2>&1 &
    fuzzer_pid=$!
    addr=$(wait_listening "$run.kosoku.log" "$fuzzer_pid") || status=1
    if [ "$status" -eq 0 ] && ! timeout "$ROLE_TIMEOUT" "$BIN/autobahn_client" "ws://$addr" wsproto \
        --adapter "$adapter" >"$run.testee.log" 2>&1; then
        echo "autobahn_client ($adapter) failed or timed out:"
        tail -n 20 "$run.testee.log"
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
        echo "kosoku ($adapter, client role) failed or timed out:"
        tail -n 20 "$run.kosoku.log"
        status=1
    fi
    echo "$adapter, client role: $((SECONDS - start)) s"
    return "$status"
}

# The cases ADAPTER leaves out, one glob a line.
# The cases ADAPTER leaves out in ROLE, one glob a line.
excluded() {
    local adapter=$1 role=$2 pattern
    for pattern in ${EXCLUDE[@]+"${EXCLUDE[@]}"}; do
        echo "$pattern"
    done
    if [ "$adapter" = split ]; then
        for pattern in "${SPLIT_EXCLUDE[@]}"; do
            echo "$pattern"
        done
        return
    fi
    if [ "${AUTOBAHN_FULL:-}" = 1 ] || [ "$adapter $role" = "tokio server" ]; then
        return
    fi
    echo "${OTHER_CORPORA[@]}"
    [ "$adapter $role" = "blocking client" ] && return
    echo "${OTHER_PARAMETERS[@]}"
}

status=0
start=$SECONDS
echo "=== $((2 * ${#ADAPTERS[@]} + 1)) runs at once: kosoku -> autobahn_server, autobahn_client -> kosoku -m fuzzingserver, adapters ${ADAPTERS[*]}; kosoku -> axum_chat /echo"
jobs_started=()
for adapter in "${ADAPTERS[@]}"; do
    for role in server client; do
        mapfile -t globs < <(excluded "$adapter" "$role")
        "${role}_role" "$adapter" ${globs[@]+"${globs[@]}"} &
        pids+=("$!")
        jobs_started+=("$!")
    done
done
axum_server_role &
pids+=("$!")
jobs_started+=("$!")
for job in "${jobs_started[@]}"; do
    wait "$job" || status=1
done
echo "all runs: $((SECONDS - start)) s"

echo "=== check the reports"
update=()
if [ "${AUTOBAHN_UPDATE:-}" = 1 ]; then
    update=(--update)
fi
for adapter in "${ADAPTERS[@]}"; do
    for role in server client; do
        mapfile -t globs < <(excluded "$adapter" "$role")
        x=()
        for pattern in ${globs[@]+"${globs[@]}"}; do
            x+=(--exclude "$pattern")
        done
        if ! python3 scripts/autobahn_check.py --role "$adapter $role" --cases "$CASES" \
            ${x[@]+"${x[@]}"} ${update[@]+"${update[@]}"} \
            "$OUT/$adapter-$role/index.json" "scripts/autobahn-expected/$role.json"; then
            status=1
        fi
    done
done

if ! python3 scripts/autobahn_check.py --role "axum server" --cases "$CASES" \
    --exclude '12.*' --exclude '13.*' \
    "$OUT/axum-server/index.json" scripts/autobahn-expected/server.json; then
    status=1
fi

if [ "$status" -ne 0 ]; then
    echo "autobahn: FAILED (reports in $OUT/{$(IFS=,; echo "${ADAPTERS[*]}")}-{server,client}/index.html)"
else
    echo "autobahn: both roles through the ${ADAPTERS[*]} adapters (each with its cases, see the top of $0), and the axum extractor (server, groups 1-10), all OK or INFORMATIONAL"
fi
exit "$status"
