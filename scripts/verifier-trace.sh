#!/usr/bin/env bash
# Where the verifier spends its work on one eBPF program: loads PROGRAM with the verifier's
# full log (level 2) on this kernel or under a Debian kernel in QEMU (scripts/vm.sh), then
# prints the instruction ranges it visited most, each with its share and its source lines.
#
#   bash scripts/verifier-trace.sh PROGRAM [KERNEL]     e.g. xdp_n6 6.1
#
# aya 0.14 drops the verifier log of a successful load, so this builds a diagnostic copy of
# upf-lb (target dir /var/tmp/verifier-trace/target) against a copy of aya whose log retry
# starts with a 1 GiB buffer at level 2|4 and writes each log to $AYA_DIAG_TRACE/traceN.log.
# Nothing of it is committed or shipped. A log over 1 GiB is cut (the kernel keeps its start,
# which still shows the hot ranges). Cargo.lock is restored after the build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
# shellcheck source=env.sh
source scripts/env.sh
prog=${1:?program, e.g. xdp_n6}
kernel=${2:-}
work=/var/tmp/verifier-trace
aya_src=$(ls -d "$HOME"/.cargo/registry/src/*/aya-0.14.0 | head -1)
mkdir -p "$work"
if [ ! -f "$work/aya/.patched" ]; then
    rm -rf "$work/aya"
    cp -r "$aya_src" "$work/aya"
    python3 - "$work/aya/src/sys/bpf.rs" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
old = """    let mut log_buf = Vec::new();
    let mut retries = 0;
    loop {
        let ret = f(log_buf.as_mut_slice());"""
new = """    let trace = std::env::var_os("AYA_DIAG_TRACE");
    let mut log_buf = if trace.is_some() { vec![0u8; (1 << 30) - 1] } else { Vec::new() };
    let mut retries = 0;
    loop {
        let ret = f(log_buf.as_mut_slice());
        if let Some(dir) = &trace {
            let pos = log_buf.iter().position(|b| *b == 0).unwrap_or(log_buf.len());
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = std::fs::write(std::path::Path::new(dir).join(format!("trace{n}.log")), &log_buf[..pos]);
            break (ret, VerifierLog::new(String::new()));
        }"""
assert old in s, "aya's retry_with_verifier_logs changed: update this script"
s = s.replace(old, new)
old = "        u.log_level = verifier_log_level.bits();"
assert old in s, "aya's bpf_load_program changed: update this script"
s = s.replace(old, '        u.log_level = if std::env::var_os("AYA_DIAG_TRACE").is_some() { 2 | 4 } else { verifier_log_level.bits() };')
open(p, "w").write(s)
EOF
    touch "$work/aya/.patched"
fi
cp Cargo.lock "$work/Cargo.lock.keep"
trap 'cp "$work/Cargo.lock.keep" Cargo.lock' EXIT
CARGO_TARGET_DIR="$work/target" cargo build -q -p upf-lb --bin upf-lb \
    --config "patch.crates-io.aya.path=\"$work/aya\"" >&2
cp "$work/Cargo.lock.keep" Cargo.lock
out="$work/out"
rm -rf "$out"
mkdir -p "$out/tr"
cmd="AYA_DIAG_TRACE=$out/tr $work/target/debug/upf-lb verifier --only $prog"
if [ -n "$kernel" ]; then
    bash scripts/vm.sh "$kernel" "$out" "$cmd" >/dev/null 2>&1 || true
    grep -E "^bpf|Error" "$out/guest.log" || true
else
    env AYA_DIAG_TRACE="$out/tr" "$work/target/debug/upf-lb" verifier --only "$prog" || true
fi
# The program's log is the biggest (the others are BTF loads).
log=$(ls -S "$out"/tr/trace*.log | head -1)
python3 - "$log" <<'EOF'
import re, sys
src, cnt, last = {}, {}, None
with open(sys.argv[1], "rb") as f:
    for raw in f:
        if raw.startswith(b"; "):
            last = raw[2:].strip().decode(errors="replace")[:80]
            continue
        m = re.match(rb"^(\d+): \(", raw)
        if m:
            i = int(m.group(1))
            cnt[i] = cnt.get(i, 0) + 1
            if i not in src and last:
                src[i] = last
            last = None
if not cnt:
    sys.exit("no instructions in the log")
keys = sorted(cnt)
ranges, start, prev = [], keys[0], keys[0]
for k in keys[1:] + [None]:
    if k is None or cnt[k] != cnt[prev] or k != prev + 1:
        ranges.append((start, prev, cnt[start]))
        if k is not None:
            start = k
    if k is not None:
        prev = k
total = sum(cnt.values())
print(f"{sys.argv[1]}: {total} instruction visits in the log")
print("insns         visits     work  share  source")
for s, e, c in sorted(ranges, key=lambda r: -r[2] * (r[1] - r[0] + 1))[:25]:
    w = c * (e - s + 1)
    lines = " | ".join([src[i] for i in range(s, e + 1) if i in src][:2])
    print(f"{s:5}-{e:<5} x{c:7} {w:8} {100 * w / total:5.1f}%  {lines}")
EOF
