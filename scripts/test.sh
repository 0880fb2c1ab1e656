#!/usr/bin/env bash
# Runs every test: bootstrap, rustfmt, clippy (host and eBPF), then all test tiers.
# Tiers 2 and 3 load eBPF programs and create network namespaces: run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
stamp() { printf '[test] %s (%d s)\n' "$*" "$(( $(date +%s) - t0 ))"; }

bash scripts/bootstrap.sh
source scripts/env.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: tiers 2 and 3 need root (eBPF, network namespaces); run it as root" >&2
    exit 1
fi

# A fresh clone gains nothing from incremental state (1.7 GB of it in one run).
export CARGO_INCREMENTAL=0
printf "[test] disk: %s free under %s\n" "$(df -h --output=avail . | tail -1 | tr -d " ")" "$PWD"

stamp "rustfmt"
cargo fmt --all -- --check

stamp "clippy (host crates)"
cargo clippy --all-targets --locked -- -D warnings

stamp "clippy (eBPF crates, bpfel-unknown-none)"
for c in bpf-gtp bpf-srv6 bpf-lb; do
    (cd "$c" && cargo +nightly clippy --locked --release --target bpfel-unknown-none -Z build-std=core -- -D warnings)
done

stamp "tests (tier 1: host; tier 2: BPF_PROG_TEST_RUN; tier 3: network namespaces)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The output goes to the log and is followed from there, not through a pipe: a process a test
# leaves behind would hold a pipe open and the run would never end. The whole run is bounded.
features="$PWD/target/feature-tests.log"
mkdir -p target
rm -f "$features"
export UPF_LB_FEATURE_LOG="$features"
timeout --kill-after=30 2700 cargo test --locked --no-fail-fast >"$log" 2>&1 &
cargo_pid=$!
tail -n +1 -f --pid="$cargo_pid" "$log"
wait "$cargo_pid" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "scripts/test.sh: the tests did not finish within 45 minutes" >&2
fi
leftover=$(pgrep -f 'target/debug/upf-lb( run|-demo)' || true)
if [ -n "$leftover" ]; then
    echo "scripts/test.sh: a test left these daemons running; killing them:" >&2
    ps -o pid,args -p "$(echo "$leftover" | paste -sd,)" >&2 || true
    kill -9 $leftover 2>/dev/null || true
    status=1
fi

# The README's main command runs too: the demo (daemon, SMF, traffic) must succeed.
stamp "demo (upf-lb-demo: the daemon driven over PFCP in namespaces)"
cargo build --locked -p upf-lb -p upf-lb-demo
if timeout --kill-after=10 300 ./target/debug/upf-lb-demo --count 3; then
    echo "test result: ok. 1 passed; 0 failed; 0 ignored (the demo)" >>"$log"
else
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (the demo)" >>"$log"
    status=1
fi
# The kernel matrix: the fixture tables, the verifier's headroom and the tests that need a
# kernel feature this kernel may lack, under Debian 12's kernels (scripts/kernel-matrix.sh).
stamp "kernel matrix (QEMU, TCG: Debian 12's 6.12 and 6.1 kernels)"
matrix="$PWD/target/kernel-matrix"
if ! bash scripts/kernel-matrix.sh "$matrix" ${MATRIX_KERNELS:-6.12 6.1}; then
    status=1
fi
for k in "$matrix"/*/; do
    [ -f "$k/features.log" ] && cat "$k/features.log" >>"$features"
    [ -f "$k/kernel" ] || continue
    for f in "$k"/*.log; do
        case "$(basename "$f")" in features.log|guest.log) continue ;; esac
        grep -E '^test result:' "$f" | sed "s|\$| [$(cat "$k/kernel" | awk '{print $2}')]|" >>"$log" || true
    done
done
# Where each feature-gated test ran; one that ran on no kernel fails the run.
if [ -s "$features" ]; then
    echo "[test] tests that need a kernel feature: where they ran"
    awk -F'\t' 'NF < 4 { next } { key = $2 "\t" $3; if ($1 == "ran") ran[key] = ran[key] " " $4; else not[key] = not[key] " " $4; keys[key] = 1 }
        END { bad = 0
              for (k in keys) { split(k, p, "\t");
                  printf "[test]   %-5s %-80s ran on:%s%s\n", p[1], p[2], (k in ran ? ran[k] : " NONE"), (k in not ? "; not on:" not[k] : "")
                  if (!(k in ran)) bad = 1 }
              exit bad }' "$features" || { echo "[test] a feature-gated test ran on no kernel" >&2; status=1; }
fi
for k in "$matrix"/*/; do
    [ -f "$k/kernel" ] && printf '[test] kernel %s: %s s in the guest\n' "$(cat "$k/kernel")" "$(cat "$k/seconds" 2>/dev/null)"
done

# One closing line over every test binary (cargo prints one `test result:` per binary).
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "[test] total: %d passed, %d failed, %d ignored\n", p, f, i;
           printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
