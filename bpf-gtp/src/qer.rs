//! QER enforcement (TS 29.244 5.2.1.11, 5.4.3): the gate of the packet's direction, then the MBR
//! as a token bucket per direction with the burst the controller set.

use crate::maps::{QER_STATE, QERS};
use aya_ebpf::helpers::bpf_ktime_get_ns;
use bpf_abi::{
    Reason,
    gtp::{GATE_DL_CLOSED, GATE_UL_CLOSED, NONE, Qer},
};
use bpf_net::atomic;

/// Packet direction, the index of per-direction state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Uplink (from the UE).
    Ul = 0,
    /// Downlink (to the UE).
    Dl = 1,
}

/// Longest refill interval credited at once: a bucket idle for longer starts full.
const MAX_REFILL_NS: u64 = 1_000_000_000;

/// Applies QER `idx` (or nothing, for [`NONE`]) to a packet of `len` bytes; returns the QER for
/// marking.
#[inline(always)]
pub fn enforce(idx: u32, dir: Dir, len: u64) -> Result<Option<Qer>, Reason> {
    if idx == NONE {
        return Ok(None);
    }
    let Some(q) = QERS.get(idx) else {
        return Err(Reason::RuleMissing);
    };
    let closed = match dir {
        Dir::Ul => q.gate & GATE_UL_CLOSED,
        Dir::Dl => q.gate & GATE_DL_CLOSED,
    };
    if closed != 0 {
        return Err(Reason::QerGateClosed);
    }
    let (mbr, burst) = match dir {
        Dir::Ul => (q.mbr_ul, q.burst_ul),
        Dir::Dl => (q.mbr_dl, q.burst_dl),
    };
    if mbr != 0 && !take_tokens(idx, dir as usize, mbr, burst, len) {
        return Err(Reason::QerMbrExceeded);
    }
    Ok(Some(*q))
}

/// Compare-exchange attempts before a contended bucket counts as empty.
const CAS_TRIES: usize = 8;

/// Token bucket shared by all CPUs: refill by elapsed time (one CPU wins the refill with a
/// compare-exchange of the time stamp), then take `len` bytes with a compare-exchange.
///
/// Compiler workaround (LLVM 22 BPF backend, bpf-linker 0.13): an atomic fetch-add whose result
/// is used was emitted as the non-fetch `lock +=`, leaving the register holding the addend, so
/// the bucket only uses compare-exchange (emitted correctly) where it needs the old value.
#[inline(always)]
fn take_tokens(idx: u32, d: usize, mbr_bps: u64, burst: u64, len: u64) -> bool {
    let Some(st) = QER_STATE.get_ptr_mut(idx) else {
        return false;
    };
    let d = d & 1;
    // SAFETY: `st` points into an array map value that lives as long as the map; the fields are
    // 8-byte aligned and only ever accessed atomically by the datapath.
    unsafe {
        let tokens = core::ptr::addr_of_mut!((*st).tokens[d]) as *mut u64;
        let last = core::ptr::addr_of_mut!((*st).last_ns[d]);
        let now = bpf_ktime_get_ns();
        let prev = atomic::load(last);
        if now > prev && atomic::compare_exchange(last, prev, now) {
            let elapsed = if now - prev > MAX_REFILL_NS {
                MAX_REFILL_NS
            } else {
                now - prev
            };
            // bits/s * ns / 8e9 = bytes; elapsed <= 1e9 and mbr < 2^40 keep it in range.
            let add = (mbr_bps / 8) * elapsed / 1_000_000_000;
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
