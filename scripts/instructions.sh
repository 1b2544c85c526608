#!/usr/bin/env bash
# Instructions per message under callgrind (issue 34): the sans-IO core
# and each adapter's echo beside fastwebsockets and tokio-websockets.
# See benches/instructions.rs and docs/PERFORMANCE.md.
#
#   scripts/instructions.sh                    # every row
#   scripts/instructions.sh --quick            # fewer messages; checks the baseline
#   scripts/instructions.sh --only "echo 20 B" # rows whose name contains it (repeatable)
#   scripts/instructions.sh --write-baseline   # rewrites benches/instructions-baseline.txt
#
# The examples are built as a user builds them (`--features tokio`, the
# bench profile: release with line tables). INSTRUCTIONS_FEATURES=all
# builds everything with `--workspace --all-features` instead, the
# feature resolution of CI's other bench-profile builds, so that CI
# compiles nothing twice for this smoke (its figures stay within a few
# instructions of these).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
if [ "${INSTRUCTIONS_FEATURES:-}" = all ]; then
    build=(--workspace --all-features)
    bench=(--workspace --all-features)
else
    build=(-p wsproto-examples --features tokio)
    bench=(-p wsproto-benches)
fi
# The examples, beside the bench binary.
cargo build --quiet --profile bench "${build[@]}" --example tokio_echo_server --example echo_server
exec cargo bench --quiet "${bench[@]}" --bench instructions -- "$@"
