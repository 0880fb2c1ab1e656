//! Forwarding by the kernel's FIB from XDP (every program that routes): `bpf_fib_lookup`
//! chooses the egress interface and the next hop's MAC, [`redirect`] rewrites the Ethernet
//! header and redirects. What the FIB cannot finish in XDP ([`Found::Kernel`]: neighbour not
//! resolved, destination local, forwarding off) is the kernel's to finish.

use crate::{Cursor, eth::EthHdr};
use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_BLACKHOLE, BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_PROHIBIT,
        BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LKUP_RET_UNREACHABLE, BPF_FIB_LOOKUP_DIRECT,
        BPF_FIB_LOOKUP_TBID, bpf_fib_lookup as FibParams,
    },
    helpers::generated::{bpf_fib_lookup, bpf_redirect},
    programs::XdpContext,
};
use bpf_abi::Reason;

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

/// Rewrites the Ethernet header at offset 0 and redirects to `ifindex`.
#[inline(always)]
pub fn redirect(
    ctx: &XdpContext,
    smac: [u8; 6],
    dmac: [u8; 6],
    ifindex: u32,
) -> Result<(), Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = cur.get_mut::<EthHdr>(0, Reason::EthTruncated)?;
    // SAFETY: the cursor proved 14 bytes at offset 0; EthHdr has alignment 1.
    unsafe {
        (*eth).dst = dmac;
        (*eth).src = smac;
    }
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
    Kernel,
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
    // SAFETY: an all-zero bpf_fib_lookup is a valid value of this plain C struct.
    let mut p: FibParams = unsafe { core::mem::zeroed() };
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
    let rc = unsafe {
        bpf_fib_lookup(
            ctx.ctx as *mut _,
            &mut p,
            size_of::<FibParams>() as i32,
            flags,
        )
    } as u32;
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
        _ => Ok(Found::Kernel),
    }
}

#[inline(always)]
fn words(a: &[u8; 16]) -> [u32; 4] {
    let w = |i: usize| u32::from_ne_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}
