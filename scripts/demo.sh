#!/usr/bin/env bash
# The main job: builds upf-lb and upf-lb-demo and runs the demo on the embedded default topology (three network
# namespaces joined by veth: a gNB with an SMF, the UPF running `upf-lb run`, a data network).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
source scripts/env.sh
if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh: the demo loads eBPF and creates network namespaces; run it as root" >&2
    exit 1
fi
cargo build --locked -p upf-lb -p upf-lb-demo
exec ./target/debug/upf-lb-demo "$@"
