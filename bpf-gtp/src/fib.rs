//! Forwarding by the kernel's FIB from XDP: bpf_fib_lookup chooses the egress interface and the
//! next hop's MAC; the frame is redirected there. Where XDP cannot finish the job (neighbour
//! not resolved, destination local, forwarding disabled, packet too big for the egress MTU) the
//! packet goes to the kernel, which resolves, delivers, or answers with ICMP.
//!
//! Successful lookups are cached per CPU and destination for `NH_CACHE_TTL_NS` (a FIB lookup
//! costs about as much as the rest of the user plane) in a direct-mapped array (no hashing
//! helper on the fast path): a route or neighbour change reaches the fast path within that time.

use crate::maps::NH_CACHE;
use aya_ebpf::{helpers::generated::bpf_ktime_get_coarse_ns, programs::XdpContext};
use bpf_abi::{
    Reason,
    gtp::{NH_CACHE_SLOTS, NH_CACHE_TTL_NS, NhEntry, NhKey, NhSlot},
};
pub use bpf_net::fib::Lookup;
use bpf_net::fib::{self, Found};

/// What the FIB decided.
pub enum Fwd {
    /// Redirected out of another interface (the MACs are rewritten).
    Redirected,
    /// Leave it to the kernel.
    Kernel,
    /// Larger than the egress MTU (the MTU).
    TooBig(u16),
}

/// Rewrites the Ethernet header and redirects to `ifindex`.
#[inline(always)]
fn redirect(ctx: &XdpContext, smac: [u8; 6], dmac: [u8; 6], ifindex: u32) -> Result<Fwd, Reason> {
    fib::redirect(ctx, smac, dmac, ifindex)?;
    Ok(Fwd::Redirected)
}

/// Forwards by the next-hop cache when it has a fresh entry for the destination that accepted
/// a packet this long, else by the FIB (filling the cache on success).
#[inline(always)]
pub fn forward(ctx: &XdpContext, l: &Lookup<'_>) -> Result<Fwd, Reason> {
    let d = l.dst;
    let w = |i: usize| u32::from_ne_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    let key = NhKey {
        dst: if l.v6 {
            [w(0), w(4), w(8), w(12)]
        } else {
            [w(0), 0, 0, 0]
        },
        ifindex: ctx.ingress_ifindex() as u32,
        family: if l.v6 { 6 } else { 4 },
    };
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let slot = NH_CACHE.get_ptr_mut(key.slot() & (NH_CACHE_SLOTS - 1));
    if let Some(p) = slot {
        // SAFETY: this CPU's element of a per-CPU array, valid for this program run; an XDP
        // run is not preempted on its CPU, so nothing writes the element meanwhile.
        let e = unsafe { &*p };
        if e.key.same(&key) && now < e.entry.expires_ns && l.len <= e.entry.ok_len {
            return redirect(ctx, e.entry.smac, e.entry.dmac, e.entry.ifindex);
        }
    }
    let fwd = fib::lookup(ctx, l)?;
    if let Found::Success {
        ifindex,
        smac,
        dmac,
    } = fwd
    {
        if let Some(p) = slot {
            let entry = NhEntry {
                expires_ns: now + NH_CACHE_TTL_NS,
                ifindex,
                ok_len: l.len,
                _pad0: 0,
                smac,
                dmac,
                _pad: 0,
            };
            // SAFETY: as above.
            unsafe { *p = NhSlot { key, entry } };
        }
        return redirect(ctx, smac, dmac, ifindex);
    }
    match fwd {
        Found::Kernel => Ok(Fwd::Kernel),
        Found::TooBig(mtu) => Ok(Fwd::TooBig(mtu)),
        Found::Success { .. } => Ok(Fwd::Kernel),
    }
}
