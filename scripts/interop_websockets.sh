#!/usr/bin/env bash
# permessage-deflate interop with Python `websockets` (compression on by
# default there), both roles, over loopback with OS-chosen ports:
#
#   our client (examples/interop_client) -> websockets echo server
#   websockets client -> our echo server (examples/autobahn_server)
#
# Each side checks that deflate was agreed and every echo matches. Then the
# line client (examples/client, no deflate) gets four lines piped in -- one
# of 70,000 characters, an empty one -- against a websockets echo server,
# which stops sending once it has the client's Close: every echo must still
# come back, byte for byte (the client lingers after the end of input).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/interop
VENV=${INTEROP_VENV:-$OUT/venv}
mkdir -p "$OUT"
if ! "$VENV/bin/python" -c "import websockets" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "websockets>=13"
fi
PY=$VENV/bin/python

cargo build --all-features --example interop_client --example autobahn_server --example client
BIN=${CARGO_TARGET_DIR:-target}/debug/examples

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# Starts the Python side in MODE (server or echo) on an OS-chosen port;
# sets py_pid and port.
start_python() {
    rm -f "$OUT/port"
    "$PY" scripts/interop_websockets.py "$1" "$OUT/port" &
    py_pid=$!
    pids+=("$py_pid")
    for _ in $(seq 100); do
        [ -s "$OUT/port" ] && break
        sleep 0.1
    done
    port=$(cat "$OUT/port")
}

echo "=== our client -> websockets server"
start_python server
timeout 60 "$BIN/interop_client" "ws://127.0.0.1:$port"
timeout 30 tail --pid="$py_pid" -f /dev/null
wait "$py_pid"

echo "=== websockets client -> our server"
"$BIN/autobahn_server" 127.0.0.1:0 >"$OUT/server.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
    addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$OUT/server.log")
    [ -n "$addr" ] && break
    sleep 0.1
done
timeout 60 "$PY" scripts/interop_websockets.py client "ws://$addr"

echo "=== line client, piped input -> websockets server: every echo before the close"
{
    head -c 70000 /dev/zero | tr '\0' x
    printf '\n\nthird line\nfourth line, ünïcode ✓\n'
} >"$OUT/lines.txt"
start_python echo
timeout 60 "$BIN/client" "ws://127.0.0.1:$port/" <"$OUT/lines.txt" >"$OUT/echoes.txt"
timeout 30 tail --pid="$py_pid" -f /dev/null
wait "$py_pid"
if ! cmp "$OUT/lines.txt" "$OUT/echoes.txt"; then
    echo "line client: the echoes differ from the input ($(wc -l <"$OUT/lines.txt") lines sent, $(wc -l <"$OUT/echoes.txt") received)"
    exit 1
fi
echo "line client: all 4 echoes, byte for byte"
echo "interop: both roles OK"
