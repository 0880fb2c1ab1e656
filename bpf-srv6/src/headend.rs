//! SRv6 headend: H.Encaps and H.Encaps.Red (RFC 8986 5.1, 5.2), and H.M.GTP4.D (RFC 9433
//! 6.7) for policies of that mode. A packet whose destination
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

use crate::maps::{ENCAP4, ENCAP6, GTP6D, HEADEND_JUMP};
use aya_ebpf::{
    helpers::generated::bpf_xdp_adjust_head, maps::lpm_trie::Key, programs::XdpContext,
};
use bpf_abi::{
    Be16, Reason,
    srv6::{GTP4_ARGS_LEN, MAX_SEGMENTS, Policy, policy_mode},
};
use bpf_net::{
    Cursor,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, EthHdr, parse_eth},
    fib::{self, Found, Lookup},
    flow::{flow_label, parse_flow},
    gtpu::{GTPU_PORT, msg, parse_gtpu},
    ipv4, proto,
    srh::{SEGMENT_LEN, SRH_FIXED_LEN},
    udp::parse_udp,
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
    if p.mode == policy_mode::INSERT {
        if !flow.v6 {
            return Err(Reason::Srv6NoPolicy);
        }
        // In a program of its own (`xdp_headend_insert`).
        // SAFETY: a tail call with this program's own context; returns only when it fails.
        unsafe { HEADEND_JUMP.tail_call(ctx, 1) };
        return Err(Reason::TailCallFailed);
    }
    if p.mode == policy_mode::GTP4_D && !flow.v6 {
        // In a program of its own (`xdp_headend_gtp4`): its stack frame is its own.
        // SAFETY: a tail call with this program's own context; returns only when it fails.
        unsafe { HEADEND_JUMP.tail_call(ctx, 0) };
        return Err(Reason::TailCallFailed);
    }
    let inner = Inner {
        v6: flow.v6,
        tos: flow.tos,
        len: flow.len,
        label: flow_label(&flow),
    };
    encaps(ctx, &cur, eth.l3_off, &inner, p, None)
}

/// What the outer header needs of the packet it carries.
struct Inner {
    /// IPv6 (else IPv4).
    v6: bool,
    /// Traffic Class for the outer header.
    tos: u8,
    /// Length of the packet carried.
    len: usize,
    /// Flow Label for the outer header.
    label: u32,
}

/// `xdp_headend_gtp4`, reached by tail call from `xdp_headend` for a policy of mode GTP4_D.
#[inline(always)]
pub fn gtp4_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV4 {
        return Err(Reason::Srv6NoPolicy);
    }
    let d: &[u8; 4] = cur.get(eth.l3_off + 16, Reason::Ipv4Truncated)?;
    let Some(p) = ENCAP4.get(Key::new(32, *d)) else {
        return Err(Reason::Srv6NoPolicy);
    };
    gtp4_d(ctx, &cur, eth.l3_off, p)
}

/// What H.M.GTP4.D and End.M.GTP6.D carry from the GTP-U packet into the SRv6 one.
struct Gtp4 {
    /// H.M.GTP4.D: the IPv4 DA goes in the arguments too, the IPv4 SA into the IPv6 SA.
    /// End.M.GTP6.D: Args.Mob.Session alone.
    v4: bool,
    /// The arguments are already in the policy's segments (End.M.GTP6.D.Di).
    placed: bool,
    /// The outer IPv4 SA and DA (H.M.GTP4.D).
    src: [u8; 4],
    dst: [u8; 4],
    /// QFI (6 bits), R (RQI), U (0): the byte after the IPv4 DA in the arguments.
    qru: u8,
    /// TEID, network order.
    teid: [u8; 4],
}

/// Args.Mob.Session (RFC 9433 6.1): QFI, R and U, then the TEID.
const MOB_ARGS_LEN: usize = 5;

/// A Flow Label per session (its TEID and QFI), never 0.
#[inline(always)]
fn session_label(m: &Gtp4) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in m.teid {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h = (h ^ u32::from(m.qru)).wrapping_mul(0x0100_0193);
    match (h ^ (h >> 20)) & 0xf_ffff {
        0 => 1,
        l => l,
    }
}

/// A GTP-U G-PDU over UDP, as RFC 9433 arguments carry it.
struct GPdu {
    /// Where its T-PDU starts, and where UDP ends.
    off: usize,
    end: usize,
    /// QFI (6 bits), R (RQI), U (0), from the PDU Session Container (0 without one).
    qru: u8,
    /// TEID, network order.
    teid: [u8; 4],
}

/// The G-PDU in the UDP datagram at `l4_off` (its IP packet ending at `end`); `not_gpdu` for
/// another port or another GTP-U message (the kernel's).
#[inline(always)]
fn g_pdu(cur: &Cursor, l4_off: usize, end: usize, not_gpdu: Reason) -> Result<GPdu, Reason> {
    let udp = parse_udp(cur, l4_off, end)?;
    if udp.dst != GTPU_PORT {
        return Err(not_gpdu);
    }
    let g = parse_gtpu(cur, udp.payload_off, udp.end)?;
    if g.msg_type != msg::G_PDU {
        return Err(not_gpdu);
    }
    let (qfi, rqi) = match g.psc {
        Some(c) => (c.qfi, c.rqi),
        None => (0, false),
    };
    // A stage boundary (bpf_net::launder): the VLAN, IPv6 extension-header and GTP-U
    // extension-header paths that led here become one verifier state (Linux 6.1 walked the
    // rest once per combination, past its instruction limit).
    let [off, end, _, _] = bpf_net::launder::launder_masked(
        [g.payload_off as u64, udp.end as u64, 0, 0],
        [bpf_net::launder::OFFSET, bpf_net::launder::LEN16, 0, 0],
    )
    .ok_or(not_gpdu)?;
    Ok(GPdu {
        off: off as usize,
        end: end as usize,
        qru: (qfi << 2) | (u8::from(rqi) << 1),
        teid: g.teid.to_be_bytes(),
    })
}

/// The T-PDU at `off` (ending at `end`, UDP's end) as the outer header needs it: its family
/// from its first nibble, the tunnel's DSCP `tos` (what the transport carried), and a Flow
/// Label per session (TEID and QFI).
#[inline(always)]
fn tpdu(cur: &Cursor, off: usize, end: usize, tos: u8, m: &Gtp4) -> Result<Inner, Reason> {
    let v6 = match cur.u8_at(off, Reason::InnerNotIp)? >> 4 {
        4 => false,
        6 => true,
        _ => return Err(Reason::InnerNotIp),
    };
    Ok(Inner {
        v6,
        tos,
        len: end.wrapping_sub(off),
        label: session_label(m),
    })
}

/// `xdp_srv6_gtp6d`, reached by tail call from `xdp_srv6` for an End.M.GTP6.D SID (RFC 9433
/// 6.3): a GTP-U G-PDU over UDP/IPv6 to the SID becomes its T-PDU in SRv6 by the SID's
/// policy (S04-S07: source A, the segments, the T-PDU's family as Next Header), its QFI, RQI
/// and TEID in the last segment's arguments (S02, S08); anything but a G-PDU is the kernel's.
#[inline(always)]
pub fn gtp6_d_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV6 {
        return Err(Reason::Srv6NoSid);
    }
    let ip = bpf_net::ipv6::parse_ipv6(&cur, eth.l3_off)?;
    if ip.protocol != proto::UDP || ip.later_fragment {
        return Err(Reason::Srv6Gtp6DNotGpdu);
    }
    let g = g_pdu(&cur, ip.l4_off, ip.end, Reason::Srv6Gtp6DNotGpdu)?;
    let Some(p) = GTP6D.get(Key::new(128, ip.dst)) else {
        return Err(Reason::Srv6NoSid);
    };
    let mut m = Gtp4 {
        v4: false,
        placed: false,
        src: [0; 4],
        dst: [0; 4],
        qru: g.qru,
        teid: g.teid,
    };
    let inner = tpdu(&cur, g.off, g.end, ip.traffic_class, &m)?;
    if p.mode == policy_mode::GTP6_D_DI {
        // Drop-in: the policy's segments, then the original destination; the arguments in
        // the segment before it.
        let n = usize::from(p.count);
        if n == 0 || n >= MAX_SEGMENTS {
            return Err(Reason::RuleMissing);
        }
        // The policy as this packet needs it, in a per-CPU scratch (the stack has no room).
        let q = crate::maps::DI_POLICY
            .get_ptr_mut(0)
            .ok_or(Reason::RuleMissing)?;
        // SAFETY: this CPU's value of the per-CPU array, valid for this run; no other user
        // on this CPU meanwhile.
        let q = unsafe { &mut *q };
        bpf_net::mem::copy_words(q, p);
        let mut args = [0u8; GTP4_ARGS_LEN];
        args[0] = m.qru;
        args[1..MOB_ARGS_LEN].copy_from_slice(&m.teid);
        let a = (usize::from(p.args_off) & 0xf).min(16 - MOB_ARGS_LEN);
        // Masks the compiler keeps (bpf_net::launder::mask): Linux 6.1's verifier does not
        // carry the `n < MAX_SEGMENTS` check above to the copy of `n` the index is made from.
        const M: u64 = MAX_SEGMENTS as u64 - 1;
        let last = bpf_net::launder::mask::<M>(n as u64 - 1) as usize;
        let last = q.segments.get_mut(last).ok_or(Reason::RuleMissing)?;
        put_args(last, a, MOB_ARGS_LEN, &args);
        let end = bpf_net::launder::mask::<M>(n as u64) as usize;
        *q.segments.get_mut(end).ok_or(Reason::RuleMissing)? = ip.dst;
        q.count = (n + 1) as u8;
        q.reduced = 0;
        m.placed = true;
        return encaps(ctx, &cur, g.off, &inner, q, Some(&m));
    }
    encaps(ctx, &cur, g.off, &inner, p, Some(&m))
}

/// H.M.GTP4.D (RFC 9433 6.7): a GTP-U G-PDU over UDP/IPv4 becomes its T-PDU in SRv6; the
/// IPv4 DA, QFI, RQI and TEID go into the last segment's arguments, the IPv4 SA into the outer
/// IPv6 SA.
#[inline(always)]
fn gtp4_d(ctx: &XdpContext, cur: &Cursor, l3_off: usize, p: &Policy) -> Result<Reason, Reason> {
    let ip = ipv4::parse_ipv4(cur, l3_off)?;
    if ip.protocol != proto::UDP || ip.fragment {
        return Err(Reason::Srv6Gtp4DNotGpdu);
    }
    let g = g_pdu(cur, ip.l4_off, ip.end, Reason::Srv6Gtp4DNotGpdu)?;
    let m = Gtp4 {
        v4: true,
        placed: false,
        src: ip.src,
        dst: ip.dst,
        qru: g.qru,
        teid: g.teid,
    };
    let inner = tpdu(cur, g.off, g.end, ip.tos, &m)?;
    encaps(ctx, cur, g.off, &inner, p, Some(&m))
}

/// H.Encaps / H.Encaps.Red with `p` of the packet at `l3_off`; with `gtp4`, H.M.GTP4.D of the
/// T-PDU at `l3_off` (the GTP-U, UDP and IPv4 headers in front of it go).
#[inline(always)]
fn encaps(
    ctx: &XdpContext,
    cur: &Cursor,
    l3_off: usize,
    inner: &Inner,
    p: &Policy,
    gtp4: Option<&Gtp4>,
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
    let inner_len = inner.len;
    let inner_proto = if inner.v6 { proto::IPV6 } else { proto::IPIP };
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
    let fl = inner.label;
    let tc = inner.tos;
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
            // By words (bpf_net::mem::copy16): as a `memmove` call, Linux 6.1 walked the
            // call's byte loop for every segment on every path.
            let v = bpf_net::mem::copy16(&p.segments[from]);
            // SAFETY: the cursor proved 16 bytes at `off`.
            unsafe { *seg = v };
            i += 1;
        }
    }
    let mut src = p.src;
    let mut dst = p.segments[0];
    if let Some(m) = gtp4.filter(|m| !m.placed) {
        // The arguments of the last segment B (Segment List[0] if there is an SRH; the
        // Destination Address too when B is the only segment) and, H.M.GTP4.D, the IPv4 SA
        // in the IPv6 SA.
        let mut args = [0u8; GTP4_ARGS_LEN];
        let (a, len) = if m.v4 {
            args[..4].copy_from_slice(&m.dst);
            args[4] = m.qru;
            args[5..].copy_from_slice(&m.teid);
            (usize::from(p.args_off) & 7, GTP4_ARGS_LEN)
        } else {
            args[0] = m.qru;
            args[1..MOB_ARGS_LEN].copy_from_slice(&m.teid);
            (
                (usize::from(p.args_off) & 0xf).min(16 - MOB_ARGS_LEN),
                MOB_ARGS_LEN,
            )
        };
        if n == 1 {
            put_args(&mut dst, a, len, &args);
            h[24..40].copy_from_slice(&dst);
        }
        if srh_len != 0 {
            let b = cur.get_mut::<[u8; SEGMENT_LEN]>(
                ETH_HLEN + 40 + SRH_FIXED_LEN,
                Reason::AdjustFailed,
            )?;
            // Patched in a copy: the offset is the policy's, and the verifier follows variable
            // offsets into the stack, not into the packet.
            // SAFETY: the cursor proved 16 bytes there (Segment List[0]).
            let b = unsafe { &mut *b };
            let mut seg = *b;
            put_args(&mut seg, a, len, &args);
            *b = seg;
        }
        if m.v4 {
            let mut so = usize::from(p.src_off) & 0xf;
            if so > 12 {
                so = 12;
            }
            src[so..so + 4].copy_from_slice(&m.src);
            h[8..24].copy_from_slice(&src);
        }
    }
    let l = Lookup {
        v6: true,
        src: &src,
        dst: &dst,
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
            Ok(match gtp4 {
                Some(m) if m.v4 => Reason::Srv6HMGtp4DRedirect,
                Some(_) => Reason::Srv6MGtp6DRedirect,
                None => Reason::Srv6EncapRedirect,
            })
        }
        Found::Kernel(_) => Ok(Reason::Srv6ToKernel),
        // Too big for the egress once encapsulated.
        Found::TooBig(_) => Err(Reason::MtuExceeded),
    }
}

/// Writes the first `len` bytes of `args` (9: H.M.GTP4.D's, 5: Args.Mob.Session) into `seg`
/// from `a` on (`a + len` at most 16, as the callers bound it).
#[inline(always)]
fn put_args(seg: &mut [u8; 16], a: usize, len: usize, args: &[u8; GTP4_ARGS_LEN]) {
    let mut i = 0;
    while i < GTP4_ARGS_LEN {
        if i >= len {
            break;
        }
        let at = a + i;
        if at < 16 {
            seg[at] = args[i];
        }
        i += 1;
    }
}

/// `xdp_headend_insert`: H.Insert and H.Insert.Red (draft-ietf-spring-srv6-srh-insertion) of
/// an IPv6 packet whose destination a policy of that mode covers: an SRH goes in right after
/// the IPv6 header (a packet with extension headers of its own is the kernel's: the SRH's
/// place among them is not ours to choose), Segment List[0] the packet's destination (the
/// final one: upper-layer checksums stay right), then the policy's segments but the first
/// (reduced) or all, Segments Left at the first segment, which becomes the destination;
/// Payload Length grows by the SRH; Hop Limit one less as the packet is forwarded; routed by
/// the FIB to the first segment.
#[inline(always)]
pub fn insert_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV6 || eth.l3_off != ETH_HLEN {
        return Err(Reason::Srv6NoPolicy);
    }
    let h: [u8; 40] = *cur.get::<[u8; 40]>(ETH_HLEN, Reason::Ipv6Truncated)?;
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let Some(p) = ENCAP6.get(Key::new(128, dst)) else {
        return Err(Reason::Srv6NoPolicy);
    };
    let nh = h[6];
    if matches!(nh, 0 | 43 | 44 | 60 | 51 | 50 | 135 | 139 | 140) {
        return Ok(Reason::Srv6ToKernel);
    }
    if h[7] <= 1 {
        // The kernel answers with Time Exceeded.
        return Ok(Reason::Srv6ToKernel);
    }
    let n = usize::from(p.count);
    if n == 0 || n > MAX_SEGMENTS {
        return Err(Reason::RuleMissing);
    }
    // Segment List: [0] the destination, then segments n-1 .. 1, and 0 unless reduced.
    let listed = if p.reduced != 0 { n } else { n + 1 };
    let srh_len = SRH_FIXED_LEN + listed * SEGMENT_LEN;
    let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let eth_h: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth_h.dst, eth_h.src);
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -(srh_len as i32)) } != 0 {
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
    let ip = cur.get_mut::<[u8; 40]>(ETH_HLEN, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved 40 bytes at 14; nothing else refers to them in this run.
    let ip = unsafe { &mut *ip };
    *ip = h;
    ip[4..6].copy_from_slice(&((payload + srh_len) as u16).to_be_bytes());
    ip[6] = proto::IPV6_ROUTE;
    ip[24..40].copy_from_slice(&p.segments[0]);
    let s =
        cur.get_mut::<[u8; SRH_FIXED_LEN + SEGMENT_LEN]>(ETH_HLEN + 40, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved the SRH's fixed part and its first segment.
    let s = unsafe { &mut *s };
    s[0] = nh;
    s[1] = (srh_len / 8 - 1) as u8;
    s[2] = 4;
    s[3] = n as u8;
    s[4] = (listed - 1) as u8;
    s[5] = 0;
    s[6] = 0;
    s[7] = 0;
    s[8..24].copy_from_slice(&dst);
    // Segment List[i], i >= 1: the (n - i)th segment of the path.
    let mut i = 1;
    while i < MAX_SEGMENTS + 1 {
        if i >= listed {
            break;
        }
        let off = ETH_HLEN + 40 + SRH_FIXED_LEN + i * SEGMENT_LEN;
        let seg = cur.get_mut::<[u8; SEGMENT_LEN]>(off, Reason::AdjustFailed)?;
        let from = (n - i) & (MAX_SEGMENTS - 1);
        // By words, as in `encaps`.
        let v = bpf_net::mem::copy16(&p.segments[from]);
        // SAFETY: the cursor proved 16 bytes at `off`.
        unsafe { *seg = v };
        i += 1;
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let tc = (h[0] << 4) | (h[1] >> 4);
    let l = Lookup {
        v6: true,
        src: &src,
        dst: &p.segments[0],
        tos: tc,
        len: (40 + payload + srh_len) as u16,
    };
    match fib::lookup(ctx, &l)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            let ip = cur.get_mut::<[u8; 8]>(ETH_HLEN, Reason::AdjustFailed)?;
            // SAFETY: the cursor proved the IPv6 header's first 8 bytes.
            unsafe { (*ip)[7] -= 1 };
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(Reason::Srv6InsertRedirect)
        }
        Found::Kernel(_) => Ok(Reason::Srv6ToKernel),
        Found::TooBig(_) => Err(Reason::MtuExceeded),
    }
}
