//! URR measurement (TS 29.244 5.2.2): packet and byte counters per URR and direction. A URR
//! without an event point counts on its CPU's copy (`URR_PCPU`, plain adds: nothing is shared
//! on the fast path); one with an event point counts in the shared `URR_COUNTERS` with atomic
//! adds, so its total can be compared with the point (several CPUs may count one session).

use crate::{
    maps::{EVENTS, URR_COUNTERS, URR_PCPU, URR_THRESHOLDS},
    qer::Dir,
};
use bpf_abi::gtp::{EVENT_URR_THRESHOLD, Event, MAX_URRS_PER_PDR, NONE, Pdr};
use bpf_net::atomic;

/// Counts a packet of `len` bytes on every URR of `pdr`, inlined (the uplink's `xdp_n3_gpdu`:
/// its stack leaves no room for a call's frame).
#[inline(always)]
pub fn count(pdr: &Pdr, dir: Dir, len: u64) {
    let (lo, hi) = packed(pdr);
    count_urrs(lo, hi, pdr.session, dir as u32, len);
}

/// As [`count`], as a BPF-to-BPF call (the downlink's `xdp_n6`). Verifier workaround (kernel
/// 6.18): inlined there, the per-URR choice between the per-CPU and the shared counters
/// multiplied the states of everything after it and `xdp_n6` passed a million verified
/// instructions; after a call the caller's state is the same whichever way the URRs went.
#[inline(always)]
pub fn count_call(pdr: &Pdr, dir: Dir, len: u64) {
    let (lo, hi) = packed(pdr);
    count_urrs_call(lo, hi, pdr.session, dir as u32, len);
}

/// The URR slots of `pdr` in two registers (a BPF call passes at most five, and a reference to
/// the caller's PDR would put it on a stack the caller has little of left).
#[inline(always)]
fn packed(pdr: &Pdr) -> (u64, u64) {
    const _: () = assert!(MAX_URRS_PER_PDR == 4);
    (
        u64::from(pdr.urrs[0]) | (u64::from(pdr.urrs[1]) << 32),
        u64::from(pdr.urrs[2]) | (u64::from(pdr.urrs[3]) << 32),
    )
}

#[inline(never)]
fn count_urrs_call(lo: u64, hi: u64, session: u32, dir: u32, len: u64) {
    count_urrs(lo, hi, session, dir, len)
}

#[inline(always)]
fn count_urrs(lo: u64, hi: u64, session: u32, dir: u32, len: u64) {
    let dir = if dir == Dir::Ul as u32 {
        Dir::Ul
    } else {
        Dir::Dl
    };
    let mut i = 0;
    while i < MAX_URRS_PER_PDR {
        let w = if i < 2 { lo } else { hi };
        let idx = if i % 2 == 0 {
            w as u32
        } else {
            (w >> 32) as u32
        };
        if idx != NONE
            && let Some(t) = URR_THRESHOLDS.get_ptr_mut(idx)
        {
            // SAFETY: `t` points into an array map value; its fields are 8-byte aligned and
            // the point is read atomically (the controller rewrites the entry).
            let target = unsafe { atomic::load(core::ptr::addr_of!((*t).total_bytes)) };
            if target == 0 {
                if let Some(c) = URR_PCPU.get_ptr_mut(idx) {
                    // SAFETY: this CPU's copy of a per-CPU array value: nothing else writes it
                    // while this program runs on this CPU.
                    unsafe {
                        match dir {
                            Dir::Ul => {
                                (*c).ul_packets += 1;
                                (*c).ul_bytes += len;
                            }
                            Dir::Dl => {
                                (*c).dl_packets += 1;
                                (*c).dl_bytes += len;
                            }
                        }
                    }
                }
            } else if let Some(c) = URR_COUNTERS.get_ptr_mut(idx) {
                // SAFETY: `c` points into an array map value; the counters are 8-byte aligned
                // and only ever accessed atomically.
                unsafe {
                    let (p, b) = match dir {
                        Dir::Ul => (
                            core::ptr::addr_of_mut!((*c).ul_packets),
                            core::ptr::addr_of_mut!((*c).ul_bytes),
                        ),
                        Dir::Dl => (
                            core::ptr::addr_of_mut!((*c).dl_packets),
                            core::ptr::addr_of_mut!((*c).dl_bytes),
                        ),
                    };
                    atomic::fetch_add(p, 1);
                    atomic::fetch_add(b, len);
                    check_threshold(session, idx, c, t, target);
                }
            }
        }
        i += 1;
    }
}

/// Sends one URR_THRESHOLD event when the URR's shared total has reached `target`, the point
/// the controller set (the `reported` flag of the entry `t`, set by compare-exchange, makes it
/// once until the controller re-arms it by rewriting the entry).
///
/// # Safety
/// `c` and `t` point to the URR's counters and threshold entry in their array maps.
#[inline(always)]
unsafe fn check_threshold(
    session: u32,
    idx: u32,
    c: *mut bpf_abi::gtp::UrrCounters,
    t: *mut bpf_abi::gtp::UrrThreshold,
    target: u64,
) {
    // SAFETY: the caller's contract; the fields are 8-byte aligned and accessed atomically.
    unsafe {
        let total = atomic::load(core::ptr::addr_of!((*c).ul_bytes))
            + atomic::load(core::ptr::addr_of!((*c).dl_bytes));
        if total < target || !atomic::compare_exchange(core::ptr::addr_of_mut!((*t).reported), 0, 1)
        {
            return;
        }
        if let Some(mut e) = EVENTS.reserve::<Event>(0) {
            let p = e.as_mut_ptr();
            (*p).kind = EVENT_URR_THRESHOLD;
            (*p).session = session;
            (*p).id = idx;
            (*p).action = 0;
            (*p).value = total;
            (*p).len = 0;
            (*p).qfi = 0;
            (*p).ppi = 0;
            (*p)._pad = [0; 2];
            e.submit(0);
        }
    }
}
