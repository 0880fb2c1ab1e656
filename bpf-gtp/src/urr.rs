//! URR measurement (TS 29.244 5.2.2): packet and byte counters per URR and direction, added
//! atomically (several CPUs may count one session's packets).

use crate::{maps::URR_COUNTERS, qer::Dir};
use bpf_abi::gtp::{MAX_URRS_PER_PDR, NONE, Pdr};
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
            }
        }
        i += 1;
    }
}
