#!/bin/sh
# Instructions per message under callgrind (issue 34): the sans-IO core
# and each adapter's echo beside fastwebsockets and tokio-websockets.
# See benches/instructions.rs and docs/PERFORMANCE.md.
#
#   scripts/instructions.sh                    # every row
#   scripts/instructions.sh --quick            # CI smoke: checks the baseline
#   scripts/instructions.sh --only "echo 20 B"
#   scripts/instructions.sh --write-baseline   # rewrites benches/instructions-baseline.txt
set -eu
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
# The examples as users build them, in the bench profile (release with
# symbols), beside the bench binary.
cargo build --quiet --profile bench -p wsproto-examples --features tokio \
    --example tokio_echo_server --example echo_server
exec cargo bench --quiet -p wsproto-benches --bench instructions -- "$@"
