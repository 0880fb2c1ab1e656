//! QER enforcement (TS 29.244 5.2.1.11, 5.4.3): the gate of the packet's direction, then the MBR
//! as a token bucket per direction with the burst the controller set.

use crate::maps::{QER_STATE, QERS};
use bpf_abi::{
    Reason,
    gtp::{GATE_DL_CLOSED, GATE_UL_CLOSED, NONE, Qer},
};

/// Packet direction, the index of per-direction state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Uplink (from the UE).
    Ul = 0,
    /// Downlink (to the UE).
    Dl = 1,
}

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

/// Takes `len` bytes from direction `d`'s bucket of QER `idx` (`bpf_net::bucket`).
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
        bpf_net::bucket::take(tokens, last, mbr_bps, burst, len)
    }
}
