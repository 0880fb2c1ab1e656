//! Forwarding by the kernel's FIB from XDP (every program that routes): `bpf_fib_lookup`
//! chooses the egress interface and the next hop's MAC, [`redirect`] rewrites the Ethernet
//! header and redirects. What the FIB cannot finish in XDP ([`Found::Kernel`]: neighbour not
//! resolved, destination local, forwarding off) is the kernel's to finish.
//!
//! [`forward`] caches successful lookups per CPU and destination for `NH_CACHE_TTL_JIFFIES` (a FIB
//! lookup costs about as much as the rest of a user plane) in a direct-mapped array (no hashing
//! helper on the fast path): a route or neighbour change reaches the fast path within that
//! time. Every object that forwards with it has the map `NH_CACHE`.

use crate::Cursor;
use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_BLACKHOLE, BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_NO_NEIGH,
        BPF_FIB_LKUP_RET_PROHIBIT, BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LKUP_RET_UNREACHABLE,
        BPF_FIB_LOOKUP_DIRECT, BPF_FIB_LOOKUP_TBID, bpf_fib_lookup as FibParams,
    },
    helpers::generated::{bpf_fib_lookup, bpf_jiffies64, bpf_redirect},
    macros::map,
    maps::PerCpuArray,
    programs::XdpContext,
};
use bpf_abi::{
    Reason,
    gtp::{NH_CACHE_SLOTS, NH_CACHE_TTL_JIFFIES, NhEntry, NhKey, NhSlot},
};

/// Next-hop cache: direct-mapped, per CPU (`bpf_abi::gtp::MAP_NH_CACHE`).
#[map(name = "NH_CACHE")]
pub static NH_CACHE: PerCpuArray<NhSlot> = PerCpuArray::with_max_entries(NH_CACHE_SLOTS, 0);

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// The packet as the FIB needs it.
pub struct Lookup<'a> {
    /// IPv6 (else IPv4, in the first 4 bytes).
    pub v6: bool,
    /// Source address.
    pub src: &'a [u8; 16],
    /// Destination address.
    pub dst: &'a [u8; 16],
    /// ToS / Traffic Class.
    pub tos: u8,
    /// IP packet length (for the MTU check).
    pub len: u16,
}

/// Rewrites the MAC addresses of the Ethernet header at offset 0 (two words and two half
/// words) and redirects to `ifindex`.
#[inline(always)]
pub fn redirect(
    ctx: &XdpContext,
    smac: [u8; 6],
    dmac: [u8; 6],
    ifindex: u32,
) -> Result<(), Reason> {
    let cur = Cursor::from_xdp(ctx);
    let h = cur.head::<12>().ok_or(Reason::EthTruncated)?;
    h.set_ne32::<0>(u32::from_ne_bytes([dmac[0], dmac[1], dmac[2], dmac[3]]));
    h.set_ne16::<4>(u16::from_ne_bytes([dmac[4], dmac[5]]));
    h.set_ne16::<6>(u16::from_ne_bytes([smac[0], smac[1]]));
    h.set_ne32::<8>(u32::from_ne_bytes([smac[2], smac[3], smac[4], smac[5]]));
    // SAFETY: bpf_redirect only records the target for XDP_REDIRECT.
    unsafe { bpf_redirect(ifindex, 0) };
    Ok(())
}

/// What the FIB said.
pub enum Found {
    Success {
        ifindex: u32,
        smac: [u8; 6],
        dmac: [u8; 6],
    },
    /// Leave it to the kernel: the interface it leaves on when the FIB knows it (a route but
    /// its neighbour not resolved), else 0.
    Kernel(u32),
    TooBig(u16),
}

/// Asks the kernel's FIB (the policy rules, then the table they choose).
#[inline(always)]
pub fn lookup(ctx: &XdpContext, l: &Lookup<'_>) -> Result<Found, Reason> {
    lookup_in(ctx, l, 0)
}

/// Asks the kernel's FIB; a non-zero `table` is looked up directly (`BPF_FIB_LOOKUP_DIRECT |
/// BPF_FIB_LOOKUP_TBID`: that table, no policy rules), 0 as [`lookup`].
#[inline(always)]
pub fn lookup_in(ctx: &XdpContext, l: &Lookup<'_>, table: u32) -> Result<Found, Reason> {
    // Not `mem::zeroed`: a `memset` call (see crate::mem).
    let mut params = core::mem::MaybeUninit::uninit();
    // SAFETY: an all-zero bpf_fib_lookup is a valid value of this plain C struct.
    let p: &mut FibParams = unsafe { crate::mem::zeroed(&mut params) };
    p.family = if l.v6 { AF_INET6 } else { AF_INET };
    p.ifindex = ctx.ingress_ifindex() as u32;
    p.__bindgen_anon_1.tot_len = l.len;
    {
        if l.v6 {
            p.__bindgen_anon_2.flowinfo = u32::from(l.tos) << 20;
            p.__bindgen_anon_3.ipv6_src = words(l.src);
            p.__bindgen_anon_4.ipv6_dst = words(l.dst);
        } else {
            p.__bindgen_anon_2.tos = l.tos;
            p.__bindgen_anon_3.ipv4_src =
                u32::from_ne_bytes([l.src[0], l.src[1], l.src[2], l.src[3]]);
            p.__bindgen_anon_4.ipv4_dst =
                u32::from_ne_bytes([l.dst[0], l.dst[1], l.dst[2], l.dst[3]]);
        }
    }
    let flags = if table != 0 {
        p.__bindgen_anon_5.tbid = table;
        BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID
    } else {
        0
    };
    // SAFETY: ctx.ctx is this invocation's xdp_md and `p` a local of the size passed.
    let rc = unsafe { bpf_fib_lookup(ctx.ctx as *mut _, p, size_of::<FibParams>() as i32, flags) }
        as u32;
    match rc {
        BPF_FIB_LKUP_RET_SUCCESS => Ok(Found::Success {
            ifindex: p.ifindex,
            smac: p.smac,
            dmac: p.dmac,
        }),
        BPF_FIB_LKUP_RET_BLACKHOLE | BPF_FIB_LKUP_RET_UNREACHABLE | BPF_FIB_LKUP_RET_PROHIBIT => {
            Err(Reason::FibBlackhole)
        }
        BPF_FIB_LKUP_RET_FRAG_NEEDED => {
            // SAFETY: on FRAG_NEEDED the kernel wrote the MTU into this union member.
            let mtu = unsafe { p.__bindgen_anon_1.mtu_result };
            Ok(Found::TooBig(mtu))
        }
        // On NO_NEIGH the kernel has written the egress interface (bpf_ipv{4,6}_fib_lookup).
        BPF_FIB_LKUP_RET_NO_NEIGH => Ok(Found::Kernel(p.ifindex)),
        _ => Ok(Found::Kernel(0)),
    }
}

#[inline(always)]
fn words(a: &[u8; 16]) -> [u32; 4] {
    let w = |i: usize| u32::from_ne_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// What the FIB decided.
pub enum Fwd {
    /// Redirected out of another interface, this one (the MACs are rewritten).
    Redirected(u32),
    /// Leave it to the kernel (the egress interface when known, else 0, as [`Found::Kernel`]).
    Kernel(u32),
    /// Larger than the egress MTU (the MTU).
    TooBig(u16),
}

/// Rewrites the Ethernet header and redirects to `ifindex`.
#[inline(always)]
fn redirected(ctx: &XdpContext, smac: [u8; 6], dmac: [u8; 6], ifindex: u32) -> Result<Fwd, Reason> {
    redirect(ctx, smac, dmac, ifindex)?;
    Ok(Fwd::Redirected(ifindex))
}

/// Forwards by the next-hop cache when it has a fresh entry for the destination that accepted
/// a packet this long, else by the FIB (filling the cache on success).
#[inline(always)]
pub fn forward(ctx: &XdpContext, l: &Lookup<'_>) -> Result<Fwd, Reason> {
    // SAFETY: bpf_jiffies64 has no preconditions (the verifier replaces the call by a load of
    // `jiffies` on 64-bit JITs).
    let now = unsafe { bpf_jiffies64() };
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
    let slot = NH_CACHE.get_ptr_mut(key.slot() & (NH_CACHE_SLOTS - 1));
    if let Some(p) = slot {
        // SAFETY: this CPU's element of a per-CPU array, valid for this program run; an XDP
        // run is not preempted on its CPU, so nothing writes the element meanwhile.
        let e = unsafe { &*p };
        if e.key.same(&key) && now < e.entry.expires_jiffies && l.len <= e.entry.ok_len {
            return redirected(ctx, e.entry.smac, e.entry.dmac, e.entry.ifindex);
        }
    }
    let fwd = lookup(ctx, l)?;
    if let Found::Success {
        ifindex,
        smac,
        dmac,
    } = fwd
    {
        if let Some(p) = slot {
            let entry = NhEntry {
                expires_jiffies: now + NH_CACHE_TTL_JIFFIES,
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
        return redirected(ctx, smac, dmac, ifindex);
    }
    match fwd {
        Found::Kernel(ifindex) => Ok(Fwd::Kernel(ifindex)),
        Found::TooBig(mtu) => Ok(Fwd::TooBig(mtu)),
        Found::Success { .. } => Ok(Fwd::Kernel(0)),
    }
}
