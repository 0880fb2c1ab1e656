#!/usr/bin/env bash
# Fuzzes the PFCP decoder with cargo-fuzz (libFuzzer) for SECONDS (default 600), seeded with the
# golden vectors. Crashes land in pfcp/fuzz/artifacts/decode/; copy each into
# pfcp/fuzz/regressions/ so that `cargo test -p pfcp` replays it forever after.
#   scripts/fuzz-pfcp.sh 1800
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${1:-600}"
bash scripts/bootstrap.sh
source scripts/env.sh
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2 --root "$UPF_LB_TOOLS"
corpus=target/fuzz-corpus/decode
mkdir -p "$corpus"
cd pfcp
exec cargo +nightly fuzz run decode "../$corpus" fuzz/seeds fuzz/regressions -- \
    -max_total_time="$secs" -max_len=4096 -print_final_stats=1
