#!/usr/bin/env bash
# The real browser test (issue 6): headless Chromium opens the chat_server
# example's page twice, sends a message from one page and sees it in the
# other, then closes one and sees the leave notice (tests/browser/); then
# one page on each of two axum_chat --redis instances (redis.test.js).
#
# Installs what it needs when missing: Debian's chromium and redis-server
# (apt-get) and playwright-core (npm, pinned by
# tests/browser/package-lock.json).
# Set SCREENSHOT=path.png to keep a screenshot of the page.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

# With permessage-deflate: the test checks that Chromium agreed to it, and
# (axum_chat) that a long post was compressed once for the room.
cargo build --all-features --example chat_server --example axum_chat
target_dir=${CARGO_TARGET_DIR:-target}
examples="$(realpath "$target_dir")/debug/examples"

cd tests/browser
echo "== chat_server (blocking adapter)"
EXPECT_EXTENSION=permessage-deflate timeout 120 node chat.test.js "$examples/chat_server" ${SCREENSHOT:+"$SCREENSHOT"}
# The axum extractor: over HTTPS, Chromium loads the page over HTTP/2 and,
# the server advertising extended CONNECT, opens the WebSocket on the same
# connection (RFC 8441); over plain HTTP, an HTTP/1.1 GET.
echo "== axum_chat --tls (HTTP/2, extended CONNECT)"
SERVER_ARGS=--tls SCHEME=https EXPECT_SOCKET="HTTP/2.0 CONNECT" EXPECT_EXTENSION=permessage-deflate EXPECT_COMPRESSED=1 \
    timeout 120 node chat.test.js "$examples/axum_chat"
echo "== axum_chat (HTTP/1.1)"
EXPECT_SOCKET="HTTP/1.1 GET" EXPECT_EXTENSION=permessage-deflate EXPECT_COMPRESSED=1 \
    timeout 120 node chat.test.js "$examples/axum_chat"
# Two instances sharing a room through a redis-server the test starts.
echo "== axum_chat --redis (a page on each of two instances)"
timeout 120 node redis.test.js "$examples/axum_chat" /usr/bin/redis-server
