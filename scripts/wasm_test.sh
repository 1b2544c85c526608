#!/usr/bin/env bash
# The browser client (`wsproto::wasm`, issue 35) in headless Chromium:
# starts examples/wasm_test_server.rs on loopback (any free ports), passes
# its addresses into tests/wasm.rs at compile time, and runs the tests with
# wasm-bindgen-test-runner driving Debian's chromium through chromedriver.
# Nothing reaches outside the machine.
#
# Installs what it needs when missing: the wasm32-unknown-unknown target,
# wasm-bindgen-cli at the version of wasm-bindgen in Cargo.lock (cargo
# install; minutes the first time), chromium and chromium-driver (apt-get);
# node and playwright-core for the chat page's test (scripts/browser_test.sh
# installs node; npm ci here when tests/browser has no node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[ -n "$version" ] || { echo "wasm-bindgen not in Cargo.lock"; exit 1; }
if [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{ print $2 }')" != "$version" ]; then
    echo "installing wasm-bindgen-cli $version"
    cargo install wasm-bindgen-cli --version "$version" --locked ||
        cargo install wasm-bindgen-cli --version "$version"
fi
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

cargo build -p wsproto-examples --example wasm_test_server
target_dir=$(realpath "${CARGO_TARGET_DIR:-target}")
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work" webdriver.json
}
trap cleanup EXIT

"$target_dir/debug/examples/wasm_test_server" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^flaky on ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$work/server.out")
flaky=$(sed -n 's/^flaky on //p' "$work/server.out")
[ -n "$addr" ] && [ -n "$flaky" ] || { cat "$work/server.out" "$work/server.err"; exit 1; }
echo "test server on $addr, flaky server on $flaky"

# Headless, no network of its own, a fresh profile; gc() for the leak
# check. wasm-bindgen-test-runner reads webdriver.json from the working
# directory.
cat >webdriver.json <<JSON
{
  "goog:chromeOptions": {
    "args": [
      "--headless",
      "--no-sandbox",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--user-data-dir=$work/profile",
      "--js-flags=--expose-gc"
    ]
  }
}
JSON

export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
export WSPROTO_WASM_ADDR=$addr WSPROTO_WASM_FLAKY_ADDR=$flaky
# The tests of one run go concurrently; the leak check counts every live
# callback, so it runs alone, after the others.
test=(cargo test --target wasm32-unknown-unknown --no-default-features --features wasm --test wasm)
leak=no_leak_over_1000_connect_close_cycles
status=0
if [ $# -gt 0 ]; then
    "${test[@]}" "$@" || status=$?
else
    "${test[@]}" -- --skip "$leak" || status=$?
    [ "$status" -ne 0 ] || "${test[@]}" -- --exact "$leak" || status=$?
fi
if [ "$status" -ne 0 ]; then
    echo "--- server stderr"
    tail -n 40 "$work/server.err"
fi
# The chat page's client in Rust (examples/wasm_chat.rs), served by
# chat_server --wasm under /wasm/, through the JavaScript page's own test
# (tests/browser/chat.test.js: two pages talk, one leaves, the server is
# killed and restarted, then stopped with SIGTERM: 1001, back soon).
if [ "$status" -eq 0 ] && [ $# -eq 0 ]; then
    echo "== wasm_chat (chat_server --wasm, /wasm/)"
    cargo build -p wsproto-examples --example wasm_chat --target wasm32-unknown-unknown \
        --no-default-features --features wasm
    cargo build -p wsproto-examples --example chat_server
    wasm-bindgen --target web --out-dir "$work/wasm-chat" \
        "$target_dir/wasm32-unknown-unknown/debug/examples/wasm_chat.wasm"
    if [ ! -d tests/browser/node_modules/playwright-core ]; then
        (cd tests/browser && npm ci --no-audit --no-fund)
    fi
    (cd tests/browser && SERVER_ARGS="--wasm $work/wasm-chat" PAGE_PATH=/wasm/ \
        timeout 120 node chat.test.js "$target_dir/debug/examples/chat_server") || status=$?
fi
echo "wasm test: $((SECONDS - start)) s"
exit "$status"
