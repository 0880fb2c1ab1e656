#!/usr/bin/env bash
# The kernel-matrix tier: the test binaries of this build, run under each Debian 12 kernel
# (scripts/vm.sh: QEMU, TCG, the host's root read-only), on kernels with the features this
# machine's kernel may lack (seg6/seg6local, VRF, kernel SCTP, the GTP module).
#
#   scripts/kernel-matrix.sh OUTDIR [KERNEL...]      (default kernels: 6.12 6.1)
#
# Per kernel, in OUTDIR/KERNEL/: verifier.txt (`upf-lb verifier`: every program's cost),
# doctor.txt (`upf-lb doctor` as an operator would run it there), one
# BIN.log per test binary, features.log (which feature-gated tests ran). A test known to fail on
# a kernel (KNOWN_FAILING below, each with its reason, as README's Supported kernels says) runs
# apart, into BIN.known: its result is printed, not counted. The `test result:` lines of the
# BIN.log files are what scripts/test.sh adds to its totals; this script exits non-zero when a
# guest did not finish or a counted binary failed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
# shellcheck source=env.sh
source scripts/env.sh
out=$(realpath -m "${1:?outdir}")
shift
kernels=("${@:-6.12 6.1}")
# shellcheck disable=SC2206
kernels=(${kernels[*]})
# KERNEL/BIN -> "TEST|reason": known to fail there, run apart and reported (see above).
# None today: every test counts on every kernel of the matrix.
declare -A KNOWN_FAILING=()
# The binaries a guest runs: the verifier's headroom, the BPF_PROG_TEST_RUN fixture tables,
# and the tests that lean on a kernel feature.
BINS=${MATRIX_BINS:-verifier_headroom lb_fixtures lb_sctp_fixtures gtp_uplink_fixtures gtp_downlink_fixtures gtp_echo_fixtures srv6_fixtures srv6_mobile srv6_kernel_diff srv6_headend srv6_daemon lb_sctp_kernel lb_sctp_usrsctp}
# Tests left out in the guests, each with its reason (they run on the host): the uplink
# fixture table checks its MBR bucket (800 bit/s: a byte every 10 ms) to the byte across
# BPF_PROG_TEST_RUN calls, which emulation (TCG) does not run that close together.
declare -A GUEST_SKIP=(
    [gtp_uplink_fixtures]="--skip uplink_g_pdus_are_decapsulated_forwarded_or_dropped_by_their_rules"
)
# Binaries a guest runs before its SCTP module is loaded (scripts/vm.sh VM_DEFER_MODULES), each
# with its reason: usrsctp's peers speak SCTP over raw IP, and a kernel with SCTP sockets
# answers their packets itself (an ABORT for every association it does not know).
BEFORE_SCTP=" lb_sctp_usrsctp "
# The kernel features each guest has (a feature-gated test that finds one of them missing
# fails there): Debian's 6.1 has seg6local without its PSP flavour (Linux 6.2).
declare -A GUEST_FEATURES=(
    [6.1]="seg6,vrf,sctp"
)
mkdir -p "$out"

# Test binaries of this build: name, path, package directory (their working directory).
cargo test --locked --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys, os
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"], os.path.dirname(m["manifest_path"]))
' >"$out/binaries.txt"
cargo build --locked -p upf-lb >/dev/null 2>&1

# The guest's lines that run test binary $1 into $d/$1.log (and its known failure apart).
guest_bin() {
    local b=$1 line known skip
    line=$(awk -v b="$b" '$1 == b' "$out/binaries.txt" | head -n1)
    if [ -z "$line" ]; then
        echo "echo 'test result: FAILED. 0 passed; 1 failed; 0 ignored (no test binary $b)' >$d/$b.log"
        return
    fi
    set -- $line
    known=${KNOWN_FAILING[$k/$b]:-}
    skip=${GUEST_SKIP[$b]:-}
    [ -z "$known" ] || skip="$skip --skip ${known%%|*}"
    echo "(cd $3 && timeout 1200 $2 --test-threads=2 $skip >$d/$b.log 2>&1); echo \"exit \$?\" >>$d/$b.log"
    [ -z "$known" ] || echo "(cd $3 && timeout 1200 $2 --exact ${known%%|*} >$d/$b.known 2>&1); echo \"exit \$?\" >>$d/$b.known"
}

status=0
for k in "${kernels[@]}"; do
    d="$out/$k"
    rm -rf "$d"
    mkdir -p "$d"
    guest="$d/guest.sh"
    {
        echo "set -u"
        # The root file system is read-only in the guest: what tests write under target/
        # (captures for tshark, a failed fixture's pcap) goes to the guest's own folder.
        # The feature log on the guest's own tmpfs (appends over 9p are not atomic), copied out
        # at the end.
        echo "export UPF_LB_FEATURE_LOG=/run/features.log UPF_LB_REQUIRE_FEATURES=${GUEST_FEATURES[$k]:-seg6,seg6-psp,vrf,sctp} RUST_BACKTRACE=1 CARGO_TARGET_DIR=$d/target"
        # First what needs a kernel without SCTP sockets, then the SCTP module (deferred at boot).
        for b in $BINS; do
            case "$BEFORE_SCTP" in *" $b "*) guest_bin "$b" ;; esac
        done
        echo "insmod /run/modules/sctp.ko || echo 'insmod sctp failed' >&2"
        echo "RUST_BACKTRACE=0 ./target/debug/upf-lb verifier >$d/verifier.txt 2>&1; echo \"verifier exit \$?\" >>$d/verifier.txt"
        # The preflight check as an operator runs it (the embedded configuration names the demo's
        # interfaces, which the guest lacks: those rows fail); printed, not counted.
        echo "RUST_BACKTRACE=0 ./target/debug/upf-lb doctor >$d/doctor.txt 2>&1; echo \"doctor exit \$?\" >>$d/doctor.txt"
        for b in $BINS; do
            case "$BEFORE_SCTP" in *" $b "*) ;; *) guest_bin "$b" ;; esac
        done
        echo "cp /run/features.log $d/features.log 2>/dev/null || true"
    } >"$guest"
    t0=$(date +%s)
    rc=0
    VM_DEFER_MODULES=sctp bash scripts/vm.sh "$k" "$d" "bash $guest" || rc=$?
    secs=$(( $(date +%s) - t0 ))
    kver=$(cat "$d/guest.kernel" 2>/dev/null || echo "$k")
    echo "$secs" >"$d/seconds"
    echo "$kver" >"$d/kernel"
    if [ "$rc" -eq 2 ]; then
        echo "[matrix] $kver: the guest did not finish (${secs} s)" >&2
        status=1
        continue
    fi
    printf '[matrix] %s: %d s\n' "$kver" "$secs"
    sed -n '1,200p' "$d/verifier.txt" | grep -vE '  ok$' || true
    for b in $BINS; do
        f="$d/$b.log"
        r=$(grep -E '^test result:' "$f" 2>/dev/null | tail -n1 || true)
        if [ -z "$r" ]; then
            echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (no result from $b under $kver)" >>"$f"
            r=$(tail -n1 "$f")
        fi
        printf '[matrix] %-22s %s\n' "$b" "$r"
        case "$r" in *FAILED*) status=1; grep -E '^(test .* FAILED|---- |thread .* panicked)' "$f" | head -n 20 || true ;; esac
        known=${KNOWN_FAILING[$k/$b]:-}
        if [ -n "$known" ]; then
            r=$(grep -E '^test result:' "$d/$b.known" 2>/dev/null | tail -n1 || true)
            case "$r" in
                *"1 passed"*) printf '[matrix] %-22s %s passes now: drop it from KNOWN_FAILING (scripts/kernel-matrix.sh) and README\n' "$b" "${known%%|*}" ;;
                *) printf '[matrix] %-22s %s: known to fail, not counted (%s): %s\n' "$b" "${known%%|*}" "${known#*|}" "${r:-no result}" ;;
            esac
        fi
    done
done
exit "$status"
