//! SRv6 headend: H.Encaps and H.Encaps.Red (RFC 8986 5.1, 5.2). A packet whose destination
//! falls in a policy's prefix (longest match in `ENCAP4` / `ENCAP6`) gets an outer IPv6 header
//! (source: the policy's, destination: its first segment) and, unless reduced to nothing, an
//! SRH with the policy's segments; the result is routed by the FIB to the first segment.
//!
//! Outer fields: Traffic Class copied from the inner packet (RFC 2983 uniform model; the
//! kernel's seg6 encap copies it from IPv6 only and sets 0 over IPv4); Flow Label computed from
//! the inner flow (RFC 6437, RFC 6438: a tunnel ingress sets it from the inner 5-tuple; the
//! kernel copies an IPv6 packet's by default); Hop Limit 64, decremented once as the packet is
//! forwarded here (the kernel starts from an IPv6 inner packet's Hop Limit instead); the inner
//! packet is left untouched.

use crate::maps::{ENCAP4, ENCAP6};
use aya_ebpf::{
    helpers::generated::bpf_xdp_adjust_head, maps::lpm_trie::Key, programs::XdpContext,
};
use bpf_abi::{
    Be16, Reason,
    srv6::{MAX_SEGMENTS, Policy},
};
use bpf_net::{
    Cursor,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, EthHdr, parse_eth},
    fib::{self, Found, Lookup},
    flow::{Flow, flow_label, parse_flow},
    proto,
    srh::{SEGMENT_LEN, SRH_FIXED_LEN},
};

/// Hop Limit of the outer header as built (then one less once forwarded).
const OUTER_HOP_LIMIT: u8 = 64;

/// Classifies the packet by its destination and encapsulates it by the policy that covers it.
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV4 && eth.ethertype != ETH_P_IPV6 {
        return Err(Reason::Srv6NoPolicy);
    }
    let flow = parse_flow(&cur, eth.l3_off)?;
    let policy = if flow.v6 {
        ENCAP6.get(Key::new(128, flow.dst))
    } else {
        let mut d = [0u8; 4];
        d.copy_from_slice(&flow.dst[..4]);
        ENCAP4.get(Key::new(32, d))
    };
    let Some(p) = policy else {
        return Err(Reason::Srv6NoPolicy);
    };
    encaps(ctx, &cur, eth.l3_off, &flow, p)
}

/// H.Encaps / H.Encaps.Red with `p`.
#[inline(always)]
fn encaps(
    ctx: &XdpContext,
    cur: &Cursor,
    l3_off: usize,
    flow: &Flow,
    p: &Policy,
) -> Result<Reason, Reason> {
    let n = usize::from(p.count);
    if n == 0 || n > MAX_SEGMENTS {
        return Err(Reason::RuleMissing);
    }
    // H.Encaps.Red leaves the first segment out of the SRH, and the SRH out when that was all.
    let listed = if p.reduced != 0 { n - 1 } else { n };
    let srh_len = if listed == 0 {
        0
    } else {
        SRH_FIXED_LEN + listed * SEGMENT_LEN
    };
    let inner_len = flow.len;
    let inner_proto = if flow.v6 { proto::IPV6 } else { proto::IPIP };
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.dst, eth.src);
    // The inner packet starts right after the Ethernet header (no VLAN tag kept).
    let grow = 40 + srh_len + ETH_HLEN;
    let delta = (l3_off as i32) - (grow as i32);
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, delta) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    let cur = Cursor::from_xdp(ctx);
    let e = cur.get_mut::<EthHdr>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved 14 bytes at offset 0; EthHdr has alignment 1.
    unsafe {
        (*e).dst = dmac;
        (*e).src = smac;
        (*e).ethertype = Be16::new(ETH_P_IPV6);
    }
    let h = cur.get_mut::<[u8; 40]>(ETH_HLEN, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved 40 bytes at 14; nothing else refers to them in this run.
    let h = unsafe { &mut *h };
    let fl = flow_label(flow);
    let tc = flow.tos;
    h[0] = 0x60 | (tc >> 4);
    h[1] = (tc << 4) | ((fl >> 16) as u8 & 0x0f);
    h[2] = (fl >> 8) as u8;
    h[3] = fl as u8;
    h[4..6].copy_from_slice(&((srh_len + inner_len) as u16).to_be_bytes());
    h[6] = if srh_len == 0 {
        inner_proto
    } else {
        proto::IPV6_ROUTE
    };
    h[7] = OUTER_HOP_LIMIT;
    h[8..24].copy_from_slice(&p.src);
    h[24..40].copy_from_slice(&p.segments[0]);
    if srh_len != 0 {
        let s = cur.get_mut::<[u8; SRH_FIXED_LEN]>(ETH_HLEN + 40, Reason::AdjustFailed)?;
        // SAFETY: the cursor proved the SRH's fixed 8 bytes.
        let s = unsafe { &mut *s };
        s[0] = inner_proto;
        s[1] = (srh_len / 8 - 1) as u8;
        s[2] = 4;
        s[3] = (n - 1) as u8;
        s[4] = (listed - 1) as u8;
        s[5] = 0;
        s[6] = 0;
        s[7] = 0;
        // Segment List[i] is the (n - 1 - i)th segment of the path (RFC 8754 2).
        let mut i = 0;
        while i < MAX_SEGMENTS {
            if i >= listed {
                break;
            }
            let off = ETH_HLEN + 40 + SRH_FIXED_LEN + i * SEGMENT_LEN;
            let seg = cur.get_mut::<[u8; SEGMENT_LEN]>(off, Reason::AdjustFailed)?;
            let from = (n - 1 - i) & (MAX_SEGMENTS - 1);
            // SAFETY: the cursor proved 16 bytes at `off`.
            unsafe { *seg = p.segments[from] };
            i += 1;
        }
    }
    let l = Lookup {
        v6: true,
        src: &p.src,
        dst: &p.segments[0],
        tos: tc,
        len: (40 + srh_len + inner_len) as u16,
    };
    match fib::lookup(ctx, &l)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            h[7] = OUTER_HOP_LIMIT - 1;
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(Reason::Srv6EncapRedirect)
        }
        Found::Kernel => Ok(Reason::Srv6ToKernel),
        // Too big for the egress once encapsulated.
        Found::TooBig(_) => Err(Reason::MtuExceeded),
    }
}
