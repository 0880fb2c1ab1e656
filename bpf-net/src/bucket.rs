//! A token bucket shared by all CPUs, in a map value: a rate in bits/s and a burst in bytes.
//! QER MBRs (bpf-gtp) and SRv6 End.Limit (bpf-srv6) use it.

use crate::atomic;
use aya_ebpf::helpers::bpf_ktime_get_ns;

/// Longest refill interval credited at once: a bucket idle for longer starts full.
const MAX_REFILL_NS: u64 = 1_000_000_000;

/// Compare-exchange attempts before a contended bucket counts as empty.
const CAS_TRIES: usize = 8;

/// Refills the bucket (`tokens` bytes, refilled at `last` ns) by the time elapsed at `rate_bps`
/// up to `burst` (one CPU wins the refill with a compare-exchange of the time stamp), then
/// takes `len` bytes with a compare-exchange; false when they are not there.
///
/// Compiler workaround (LLVM 22 BPF backend, bpf-linker 0.13): an atomic fetch-add whose result
/// is used was emitted as the non-fetch `lock +=`, leaving the register holding the addend, so
/// the bucket only uses compare-exchange (emitted correctly) where it needs the old value.
///
/// # Safety
///
/// `tokens` and `last` point to 8-byte aligned words of a map value that outlives the call,
/// only ever accessed atomically.
#[inline(always)]
pub unsafe fn take(tokens: *mut u64, last: *mut u64, rate_bps: u64, burst: u64, len: u64) -> bool {
    // SAFETY: the caller's contract; bpf_ktime_get_ns has no preconditions.
    unsafe {
        let now = bpf_ktime_get_ns();
        let prev = atomic::load(last);
        if now > prev && atomic::compare_exchange(last, prev, now) {
            let elapsed = if now - prev > MAX_REFILL_NS {
                MAX_REFILL_NS
            } else {
                now - prev
            };
            // bits/s * ns / 8e9 = bytes; elapsed <= 1e9 and rates < 2^40 keep it in range.
            let add = (rate_bps / 8) * elapsed / 1_000_000_000;
            let mut i = 0;
            while i < CAS_TRIES {
                let cur = atomic::load(tokens) as i64;
                let new = if cur + add as i64 > burst as i64 {
                    burst as i64
                } else {
                    cur + add as i64
                };
                if atomic::compare_exchange(tokens, cur as u64, new as u64) {
                    break;
                }
                i += 1;
            }
        }
        let mut i = 0;
        while i < CAS_TRIES {
            let cur = atomic::load(tokens) as i64;
            if cur < len as i64 {
                return false;
            }
            if atomic::compare_exchange(tokens, cur as u64, (cur - len as i64) as u64) {
                return true;
            }
            i += 1;
        }
    }
    false
}
