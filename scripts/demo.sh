#!/usr/bin/env bash
# The main job: builds upf-lb and runs its demo on the embedded default topology (two network
# namespaces joined by veth; the N3 XDP program answers GTP-U Echo over IPv4 and IPv6).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
source scripts/env.sh
if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh: the demo loads eBPF and creates network namespaces; run it as root" >&2
    exit 1
fi
cargo build --locked -p upf-lb
exec ./target/debug/upf-lb demo "$@"
