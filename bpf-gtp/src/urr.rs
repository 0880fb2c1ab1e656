//! URR measurement (TS 29.244 5.2.2): packet and byte counters per URR and direction, added
//! atomically (several CPUs may count one session's packets).

use crate::{
    maps::{EVENTS, URR_COUNTERS, URR_THRESHOLDS},
    qer::Dir,
};
use bpf_abi::gtp::{EVENT_URR_THRESHOLD, Event, MAX_URRS_PER_PDR, NONE, Pdr};
use bpf_net::atomic;

/// Counts a packet of `len` bytes on every URR of `pdr`.
#[inline(always)]
pub fn count(pdr: &Pdr, dir: Dir, len: u64) {
    let mut i = 0;
    while i < MAX_URRS_PER_PDR {
        let idx = pdr.urrs[i];
        if idx != NONE
            && let Some(c) = URR_COUNTERS.get_ptr_mut(idx)
        {
            // SAFETY: `c` points into an array map value; the counters are 8-byte aligned and
            // only ever accessed atomically.
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
                check_threshold(pdr.session, idx, c);
            }
        }
        i += 1;
    }
}

/// Sends one URR_THRESHOLD event when the URR's total volume has reached the point the
/// controller set (the `reported` flag of the threshold entry, set by compare-exchange, makes
/// it once until the controller re-arms it by rewriting the entry).
///
/// # Safety
/// `c` points to the URR's counters in the array map.
#[inline(always)]
unsafe fn check_threshold(session: u32, idx: u32, c: *mut bpf_abi::gtp::UrrCounters) {
    let Some(t) = URR_THRESHOLDS.get_ptr_mut(idx) else {
        return;
    };
    // SAFETY: the caller's contract for `c`; `t` points into an array map value; the fields
    // are 8-byte aligned and `reported` is only changed atomically here.
    unsafe {
        let target = atomic::load(core::ptr::addr_of!((*t).total_bytes));
        if target == 0 {
            return;
        }
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
