#!/usr/bin/env bash
# Installs what the build and the tests need, and nothing that is already there.
# Idempotent: a second run with everything present takes well under 10 s.
#
#   - rust-src and clippy/rustfmt for the toolchains (eBPF crates build with -Z build-std on nightly)
#   - bpf-linker 0.13.0 built against the nightly's own LLVM, in a lasting folder (see shared/FACTS.md)
#   - Debian packages the tests use: tshark, iproute2, ethtool, libusrsctp-examples (usrsctp),
#     nftables (the kernel's DNAT, for a benchmark), kubernetes-client (kubectl kustomize) when no kubectl
#   - a Python venv with scapy (an independent packet encoder/decoder for test oracles),
#     kubernetes-validate and yamllint (the manifests' checkers)
#
# Prints `export` lines for the caller with --print-env; scripts source scripts/env.sh instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
t0=$(date +%s)

# --- Rust components -------------------------------------------------------------------------
installed_nightly=$(rustup component list --toolchain nightly --installed 2>/dev/null || true)
if ! grep -q '^rust-src' <<<"$installed_nightly"; then
    log "installing rust-src for nightly"
    rustup component add rust-src --toolchain nightly
fi
installed_stable=$(rustup component list --installed 2>/dev/null || true)
for c in clippy rustfmt; do
    if ! grep -q "^$c" <<<"$installed_stable"; then
        log "installing $c for stable"
        rustup component add "$c"
    fi
done

# --- bpf-linker against the nightly's LLVM ---------------------------------------------------
BPF_LINKER_VERSION=0.13.0
if ! "$UPF_LB_TOOLS/bin/bpf-linker" --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then
    sysroot=$(rustc +nightly --print sysroot)
    llvm_so=$(ls "$sysroot"/lib/libLLVM.so.*-rust-*-nightly 2>/dev/null | head -n1)
    if [ -z "$llvm_so" ]; then
        echo "bootstrap: no libLLVM.so.*-nightly in $sysroot/lib; cannot build bpf-linker" >&2
        exit 1
    fi
    llvm_major=$(basename "$llvm_so" | sed -E 's/^libLLVM\.so\.([0-9]+)\..*/\1/')
    log "building bpf-linker $BPF_LINKER_VERSION against $(basename "$llvm_so") (LLVM $llvm_major)"
    mkdir -p "$UPF_LB_TOOLS/llvm/lib"
    ln -sf "$llvm_so" "$UPF_LB_TOOLS/llvm/lib/libLLVM.so"
    ln -sf "$llvm_so" "$UPF_LB_TOOLS/llvm/lib/$(basename "$llvm_so")"
    LLVM_PREFIX="$UPF_LB_TOOLS/llvm" cargo +nightly install "bpf-linker@$BPF_LINKER_VERSION" \
        --locked --no-default-features --features "llvm-$llvm_major" --root "$UPF_LB_TOOLS" --force
fi

# --- Debian packages -------------------------------------------------------------------------
need_apt=()
command -v tshark >/dev/null || need_apt+=(tshark)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v ethtool >/dev/null || need_apt+=(ethtool)
# usrsctp's examples: a userland SCTP stack over raw IP, the SCTP load balancer's real peers.
[ -x /usr/lib/usrsctp/echo_server ] || need_apt+=(libusrsctp-examples)
# nftables: the kernel's DNAT, what `upf-lb-bench lb --veth` compares the load balancer with.
command -v nft >/dev/null || need_apt+=(nftables)
# kubectl for `kubectl kustomize` (manifests/ rendered in the tests): Debian's, unless the
# machine has one (any since 1.14 renders Kustomize).
command -v kubectl >/dev/null || need_apt+=(kubernetes-client)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- Python venv with the test oracles -------------------------------------------------------
SCAPY_VERSION=2.8.0
if ! "$UPF_LB_VENV/bin/python" -c "import scapy, sys; sys.exit(scapy.VERSION != '$SCAPY_VERSION')" 2>/dev/null; then
    log "creating venv $UPF_LB_VENV with scapy"
    python3 -m venv "$UPF_LB_VENV"
    "$UPF_LB_VENV/bin/pip" install -q --disable-pip-version-check "scapy==$SCAPY_VERSION"
fi
# The manifests' checkers: Kubernetes' OpenAPI schemas of many versions (kubernetes-validate,
# with jsonschema for the CRD schemas) and yamllint.
KUBERNETES_VALIDATE_VERSION=1.37.0
YAMLLINT_VERSION=1.37.1
if ! "$UPF_LB_VENV/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(m.version('kubernetes-validate') != '$KUBERNETES_VALIDATE_VERSION' or m.version('yamllint') != '$YAMLLINT_VERSION')" 2>/dev/null; then
    log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and yamllint $YAMLLINT_VERSION in $UPF_LB_VENV"
    "$UPF_LB_VENV/bin/pip" install -q --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "yamllint==$YAMLLINT_VERSION"
fi

log "done in $(( $(date +%s) - t0 )) s"
