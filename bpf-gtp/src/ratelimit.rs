//! Per-CPU rate limits of the messages the datapath sends on its own: Error Indication
//! (TS 29.281 7.3.1) and ICMP/ICMPv6 errors (RFC 1812 4.3.2.8, RFC 4443 2.4 (f): error
//! messages must be rate-limited). A window of one second per kind and CPU. (bpf-srv6 uses
//! `bpf_net::ratelimit`, the same window: here it stays inlined as it is, because any change of
//! the code xdp_n6 is built from has put it past the verifier's million instructions.)

use crate::maps::REPLY_LIMIT;
use aya_ebpf::helpers::bpf_ktime_get_ns;

/// Slot of Error Indications.
pub const ERROR_INDICATION: u32 = 0;
/// Slot of ICMP and ICMPv6 errors.
pub const ICMP: u32 = 1;

/// True when this CPU may send one more message of `kind` in the current second, at most
/// `per_sec`.
#[inline(always)]
pub fn allowed(kind: u32, per_sec: u64) -> bool {
    let Some(w) = REPLY_LIMIT.get_ptr_mut(kind) else {
        return false;
    };
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: this CPU's slot of a per-CPU array; [window start ns, count].
    let w = unsafe { &mut *w };
    if now.wrapping_sub(w[0]) >= 1_000_000_000 {
        w[0] = now;
        w[1] = 0;
    }
    if w[1] >= per_sec {
        return false;
    }
    w[1] += 1;
    true
}
