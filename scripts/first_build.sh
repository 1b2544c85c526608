#!/usr/bin/env bash
# The README's first command builds only what it runs (issue 37).
#
# Builds `cargo run --example echo_server`'s target in an empty target
# directory, as a newcomer's fresh clone does, counts cargo's `Compiling`
# lines and fails above the limit (45). Then builds the other examples a
# newcomer is pointed to first, `client` and `chat_server`, in the same
# directory: each must compile nothing but its own example.
#
# Counting what cargo actually compiles (not `cargo tree`) is what a user
# waits for, and it sees what `cargo tree` would miss: features unified
# across the workspace's default members, and a package's dev-dependencies,
# which every example of that package is built with. It takes about 11 s.
#
#   bash scripts/first_build.sh [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-45}
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR=target/first-build
rm -rf "$CARGO_TARGET_DIR"

start=$SECONDS
log=$(cargo build --example echo_server 2>&1) || { echo "$log"; exit 1; }
count=$(grep -c '^ *Compiling ' <<<"$log" || true)
echo "cargo run --example echo_server: $count crates compiled in $((SECONDS - start)) s (limit $limit)"
status=0
if [ "$count" -gt "$limit" ]; then
    grep '^ *Compiling ' <<<"$log"
    echo "the first command compiles $count crates, more than $limit: something in the examples' dependencies (examples/Cargo.toml) or a feature reaching them grew"
    status=1
fi

for example in client chat_server; do
    log=$(cargo build --example "$example" 2>&1) || { echo "$log"; exit 1; }
    extra=$(grep '^ *Compiling ' <<<"$log" | grep -v ' wsproto-examples ' || true)
    if [ -n "$extra" ]; then
        echo "$extra"
        echo "--example $example compiles more than echo_server does"
        status=1
    fi
done
rm -rf "$CARGO_TARGET_DIR"
exit "$status"
