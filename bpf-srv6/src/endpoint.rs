//! SRv6 endpoint behaviours (RFC 8986 4): a packet whose Destination Address is a local SID
//! (longest prefix in `LOCAL_SIDS`) gets that SID's behaviour.
//!
//! - End (4.1): the SRH's next segment becomes the Destination Address; Hop Limit and
//!   Segments Left go down by one; the packet is routed by the FIB. End.X (4.2): the same,
//!   sent to the SID's IPv6 next hop.
//! - End.DX4 (4.6) / End.DX6 (4.5): with Segments Left 0 (or no SRH) and an IPv4 / IPv6 upper
//!   layer, the outer IPv6 header and its extension headers are removed and the inner packet
//!   goes to the SID's next hop (its TTL / Hop Limit decremented, as the router it is).
//!   End.DT6 (4.7), End.DT4 (4.8), End.DT46 (4.9): the same, the inner packet (of the one
//!   family, or of either) routed by the main table.
//!
//! - Flavours of End, End.X and End.T (4.16): PSP pops the SRH at the penultimate segment;
//!   USP pops it at the last (the packet then goes to the kernel: its upper layer is this
//!   node's); USD, at the last segment or without an SRH, decapsulates an IPv4 or IPv6 inner
//!   packet and routes it (as End.DT46, by the SID's table).
//! - End.MAP (RFC 9433 6.2): the destination becomes the SID's mapped SID, routed.
//!
//! Errors are answered as RFC 8986 asks (ICMPv6 Time Exceeded; Parameter Problem, Code 0 with
//! the Pointer at Segments Left, or Code 4 at the upper-layer header), from the SID, out of the
//! interface the packet came in on, at most 1000 a second per CPU; beyond that, or about an
//! ICMPv6 error, the packet is dropped and counted by its reason.

use crate::maps::{LOCAL_SIDS, SRV6_ICMP, SRV6_JUMP, SRV6_LIMIT};
use aya_ebpf::{
    helpers::generated::bpf_xdp_adjust_head, maps::lpm_trie::Key, programs::XdpContext,
};
use bpf_abi::{
    Be16, Reason,
    srv6::{Sid, behaviour, flavour},
};
use bpf_net::{
    Cursor,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, EthHdr, parse_eth},
    fib::{self, Found, Lookup},
    icmp::{ICMPV6_PARAM_PROB, ICMPV6_TIME_EXCEEDED},
    icmp6err, ipv4,
    ipv6::{self, Ipv6},
    proto,
    srh::{check_srh_tlvs, parse_srh},
};

/// The ICMPv6 errors a SID answers with.
#[derive(Clone, Copy)]
#[repr(u32)]
enum IcmpError {
    /// Time Exceeded, Code 0 (RFC 8986 4.1 S04-S05).
    HopLimit,
    /// Parameter Problem, Code 0, Pointer at Segments Left (4.1 S07-S08, 4.4-4.7 S02-S03).
    SegmentsLeft,
    /// Parameter Problem, Code 4 (SR Upper-layer Header Error), Pointer at the upper-layer
    /// header (4.1.1).
    UpperLayer,
}

impl IcmpError {
    /// The reason of a packet not answered (rate limit, or an ICMPv6 error itself).
    #[inline(always)]
    fn drop_reason(self) -> Reason {
        match self {
            IcmpError::HopLimit => Reason::Srv6HopLimitExceeded,
            IcmpError::SegmentsLeft => Reason::Srv6BadSegmentsLeft,
            IcmpError::UpperLayer => Reason::Srv6UpperLayerError,
        }
    }
}

/// Answers the packet with the ICMPv6 error `e` by a tail call to `xdp_srv6_icmp` (the
/// message is built there, in a stack frame of its own), which also applies the rate limit.
/// Returns only if the tail call fails: the packet is dropped with `e`'s reason.
#[inline(always)]
fn icmp_error(ctx: &XdpContext, ip: &Ipv6, e: IcmpError) -> Reason {
    let pointer = match e {
        IcmpError::HopLimit => 0,
        IcmpError::SegmentsLeft => ip.routing_off.wrapping_sub(ip.off) + 3,
        IcmpError::UpperLayer => ip.l4_off.wrapping_sub(ip.off),
    };
    let icmp = u32::from(ip.protocol == proto::ICMPV6 && !ip.later_fragment);
    if let Some(s) = SRV6_ICMP.get_ptr_mut(0) {
        // SAFETY: this CPU's slot of a per-CPU array; the tail call below reads it on this
        // CPU before anything else runs here.
        unsafe {
            *s = [
                ip.off as u32,
                (ip.l4_off as u32 & 0xffff) | (icmp << 16),
                ((pointer as u32 & 0xffff) << 8) | e as u32,
                0,
            ];
            SRV6_JUMP.tail_call(ctx, 0);
        }
    }
    e.drop_reason()
}

/// End.M.GTP4.E's checks (RFC 9433 6.6: Segments Left 0, an IPv4 or IPv6 T-PDU), then the
/// tail call to its stage (`gtp4e`).
#[inline(always)]
fn m_gtp4_e(ctx: &XdpContext, ip: &Ipv6, sid: &Sid) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    if ip.routing_off != 0 {
        let srh = parse_srh(&cur, ip.routing_off, ip.end)?;
        if srh.segments_left != 0 {
            return Err(icmp_error(ctx, ip, IcmpError::SegmentsLeft));
        }
    }
    if ip.later_fragment {
        return Err(Reason::Srv6UpperLayerError);
    }
    if ip.protocol != proto::IPIP && ip.protocol != proto::IPV6 {
        return Err(icmp_error(ctx, ip, IcmpError::UpperLayer));
    }
    if let Some(s) = SRV6_ICMP.get_ptr_mut(0) {
        // SAFETY: this CPU's slot; the tail call below reads it on this CPU first.
        unsafe {
            *s = [ip.off as u32, ip.l4_off as u32, sid.args, ip.end as u32];
            SRV6_JUMP.tail_call(ctx, 1);
        }
    }
    Err(Reason::TailCallFailed)
}

/// End.M.GTP6.E's checks (RFC 9433 6.5: the penultimate SID, so an SRH with Segments Left 1,
/// whose last segment is the GTP-U peer; an IPv4 or IPv6 T-PDU), then the tail call to its
/// stage (`gtp6e`).
#[inline(always)]
fn m_gtp6_e(ctx: &XdpContext, ip: &Ipv6, sid: &Sid) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    if ip.routing_off == 0 {
        return Err(icmp_error(ctx, ip, IcmpError::UpperLayer));
    }
    let srh = parse_srh(&cur, ip.routing_off, ip.end)?;
    if srh.segments_left != 1 {
        return Err(icmp_error(ctx, ip, IcmpError::SegmentsLeft));
    }
    if ip.later_fragment {
        return Err(Reason::Srv6UpperLayerError);
    }
    if ip.protocol != proto::IPIP && ip.protocol != proto::IPV6 {
        return Err(icmp_error(ctx, ip, IcmpError::UpperLayer));
    }
    if let Some(s) = SRV6_ICMP.get_ptr_mut(0) {
        // SAFETY: this CPU's slot; the tail call below reads it on this CPU first.
        unsafe {
            *s = [
                ip.off as u32 | ((ip.routing_off as u32) << 8),
                ip.l4_off as u32,
                sid.args,
                ip.end as u32,
            ];
            SRV6_JUMP.tail_call(ctx, 2);
        }
    }
    Err(Reason::TailCallFailed)
}

/// `xdp_srv6_icmp`: sends the ICMPv6 error `xdp_srv6` left in `SRV6_ICMP`, from the SID the
/// packet was sent to, unless the rate limit is reached or the packet is an ICMPv6 error
/// itself: then it is dropped.
#[inline(always)]
pub fn icmp_stage(ctx: &XdpContext) -> Reason {
    let Some(s) = SRV6_ICMP.get(0) else {
        return Reason::TailCallFailed;
    };
    let [l3_off, l4, e, _] = *s;
    let kind = match e & 0xff {
        0 => IcmpError::HopLimit,
        1 => IcmpError::SegmentsLeft,
        _ => IcmpError::UpperLayer,
    };
    let (ty, code, sent) = match kind {
        IcmpError::HopLimit => (ICMPV6_TIME_EXCEEDED, 0, Reason::Srv6IcmpTimeExceeded),
        IcmpError::SegmentsLeft => (ICMPV6_PARAM_PROB, 0, Reason::Srv6IcmpParamProblemSl),
        IcmpError::UpperLayer => (ICMPV6_PARAM_PROB, 4, Reason::Srv6IcmpParamProblemUpperLayer),
    };
    let drop = kind.drop_reason();
    let cur = Cursor::from_xdp(ctx);
    let l3_off = (l3_off & 0x3f) as usize;
    if l4 & 0x1_0000 != 0 {
        match cur.u8_at((l4 & 0xffff) as usize, Reason::Ipv6Truncated) {
            Ok(t) if t >= 128 => {}
            _ => return drop,
        }
    }
    if !icmp6err::allowed() {
        return drop;
    }
    let Ok(d) = cur.get::<[u8; 16]>(l3_off + DST, Reason::Ipv6Truncated) else {
        return drop;
    };
    let ours = *d;
    match icmp6err::send(ctx, l3_off, &ours, ty, code, e >> 8) {
        Ok(()) => sent,
        Err(r) => r,
    }
}

/// Offsets in the fixed IPv6 header.
const HOP_LIMIT: usize = 7;
const DST: usize = 24;
/// Offset of Segments Left in the SRH.
const SEGMENTS_LEFT: usize = 3;

/// Classifies the packet and applies its SID's behaviour.
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV6 {
        return Err(Reason::Srv6NoSid);
    }
    let ip = ipv6::parse_ipv6(&cur, eth.l3_off)?;
    let Some(sid) = LOCAL_SIDS.get(Key::new(128, ip.dst)) else {
        return Err(Reason::Srv6NoSid);
    };
    if ip.routing_off != 0 {
        // The SRH's TLVs, once for every behaviour (RFC 8754 2.1; HMAC 2.1.2).
        check_srh_tlvs(&cur, ip.routing_off, ip.end)?;
    }
    let endish = matches!(
        sid.behaviour,
        behaviour::END | behaviour::END_X | behaviour::END_T
    );
    if endish
        && sid.flavours & flavour::USD != 0
        && (ip.protocol == proto::IPV6 || ip.protocol == proto::IPIP)
        && (ip.routing_off == 0
            || cur.u8_at(ip.routing_off + SEGMENTS_LEFT, Reason::SrhTruncated)? == 0)
    {
        // USD (RFC 8986 4.16.3): at the last segment (or without an SRH) with an IPv4 or
        // IPv6 upper layer, decapsulate and route the inner packet (by the SID's table).
        return decap(ctx, &ip, sid, 0);
    }
    match sid.behaviour {
        // One copy of End for the three (the stack holds one).
        behaviour::END | behaviour::END_X | behaviour::END_T => {
            let nh6 = (sid.behaviour == behaviour::END_X).then_some(&sid.nh6);
            // End.T: End, routed by the SID's table (the loader writes 0 for End and End.X).
            end(ctx, &ip, nh6, sid.table, sid.flavours)
        }
        behaviour::END_MAP => end_map(ctx, &ip, &sid.nh6),
        // End.Limit: its stage (`xdp_srv6_limit`), a program of its own (stack).
        behaviour::END_LIMIT => {
            // SAFETY: a tail call with this program's own context; returns only when it fails.
            unsafe { SRV6_JUMP.tail_call(ctx, 4) };
            Err(Reason::TailCallFailed)
        }
        behaviour::END_DX4 => decap(ctx, &ip, sid, proto::IPIP),
        behaviour::END_DX6 | behaviour::END_DT6 => decap(ctx, &ip, sid, proto::IPV6),
        behaviour::END_DT4 => decap(ctx, &ip, sid, proto::IPIP),
        // End.DT46: whichever family the inner packet is.
        behaviour::END_DT46 => decap(ctx, &ip, sid, 0),
        behaviour::END_M_GTP4_E => m_gtp4_e(ctx, &ip, sid),
        behaviour::END_M_GTP6_E => m_gtp6_e(ctx, &ip, sid),
        // End.M.GTP6.D (RFC 9433 6.3 S01): UDP goes to its stage (which checks the port and
        // the G-PDU); anything else is processed as RFC 8986 4.1.1 says.
        behaviour::END_M_GTP6_D if ip.protocol == proto::UDP && !ip.later_fragment => {
            // SAFETY: a tail call with this program's own context; returns only when it fails.
            unsafe { SRV6_JUMP.tail_call(ctx, 3) };
            Err(Reason::TailCallFailed)
        }
        behaviour::END_M_GTP6_D => Err(icmp_error(ctx, &ip, IcmpError::UpperLayer)),
        // The loader writes only the behaviours above.
        _ => Err(Reason::Srv6NoSid),
    }
}

/// `xdp_srv6_limit`: End.Limit's stage, reached by tail call from `xdp_srv6`: the rate limit,
/// then End.
#[inline(always)]
pub fn limit_stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV6 {
        return Err(Reason::Srv6NoSid);
    }
    let ip = ipv6::parse_ipv6(&cur, eth.l3_off)?;
    let Some(sid) = LOCAL_SIDS.get(Key::new(128, ip.dst)) else {
        return Err(Reason::Srv6NoSid);
    };
    limit(&ip, sid)?;
    end(ctx, &ip, None, 0, 0)
}

/// End.Limit (RFC 9433 6.8): the packet's rate-limit group and limit rate from the SID's
/// arguments (the SID's own rate when the packet's is 0), then a token bucket per group
/// (`bpf_net::bucket`, a burst of 100 ms of the rate, at least 3000 bytes). Over the rate:
/// dropped, counted.
#[inline(always)]
fn limit(ip: &Ipv6, sid: &Sid) -> Result<(), Reason> {
    let a = ((sid.args & 0xf) as usize).min(10);
    let d = &ip.dst;
    let group = u32::from(u16::from_be_bytes([d[a], d[a + 1]]));
    let mut kbps = u32::from_be_bytes([d[a + 2], d[a + 3], d[a + 4], d[a + 5]]);
    if kbps == 0 {
        kbps = sid.table;
    }
    if kbps == 0 {
        return Ok(());
    }
    let bps = u64::from(kbps) * 1000;
    let burst = (bps / 80).max(3000);
    if SRV6_LIMIT.get_ptr_mut(group).is_none() {
        // A new group starts with its burst (refill time 0: the first packet credits at most a
        // second of the rate, capped at the burst).
        let _ = SRV6_LIMIT.insert(group, [burst, 0], 0);
    }
    let Some(b) = SRV6_LIMIT.get_ptr_mut(group) else {
        return Err(Reason::Srv6LimitExceeded);
    };
    let len = (ipv6::IPV6_HLEN + ip.payload_len) as u64;
    // SAFETY: `b` points into an LRU map value that outlives this run; its two words are
    // 8-byte aligned and only ever accessed atomically.
    let ok = unsafe {
        let tokens = core::ptr::addr_of_mut!((*b)[0]);
        let last = core::ptr::addr_of_mut!((*b)[1]);
        bpf_net::bucket::take(tokens, last, bps, burst, len)
    };
    if ok {
        Ok(())
    } else {
        Err(Reason::Srv6LimitExceeded)
    }
}

/// Redirects by the FIB's answer for `l` (in `table`, 0 for the main one); `done` is the
/// outcome of a redirect.
#[inline(always)]
fn forward(ctx: &XdpContext, l: &Lookup<'_>, table: u32, done: Reason) -> Result<Reason, Reason> {
    match fib::lookup_in(ctx, l, table)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(done)
        }
        // The kernel resolves the neighbour, or answers Packet Too Big / Fragmentation Needed.
        Found::Kernel(_) | Found::TooBig(_) => Ok(Reason::Srv6ToKernel),
    }
}

/// End (RFC 8986 4.1, S01-S12); End.X (4.2) with `nh6`, the adjacency to send to; End.T (4.3)
/// with a non-zero `table`, the table the next segment is routed by; with `psp`, the PSP
/// flavour (4.16.1): the SRH is popped when Segments Left reaches 0 (when it follows the IPv6
/// header directly; behind other extension headers it is left in place); with USP (4.16.2), a
/// packet arriving with Segments Left 0 has its SRH popped (as PSP's) and goes to the kernel,
/// whose upper layer it is.
#[inline(always)]
fn end(
    ctx: &XdpContext,
    ip: &Ipv6,
    nh6: Option<&[u8; 16]>,
    table: u32,
    flavours: u32,
) -> Result<Reason, Reason> {
    let psp = flavours & flavour::PSP != 0;
    let cur = &Cursor::from_xdp(ctx);
    if ip.routing_off == 0 {
        // No SRH: the upper-layer header is not ours to process (4.1.1).
        return Err(icmp_error(ctx, ip, IcmpError::UpperLayer));
    }
    let srh = parse_srh(cur, ip.routing_off, ip.end)?;
    let poppable = ip.routing_off == ip.off + ipv6::IPV6_HLEN && ip.off == ETH_HLEN;
    if srh.segments_left == 0 {
        if flavours & flavour::USP != 0 && poppable {
            pop_srh(ctx, cur, ip, srh.hdr_len & 0x7ff, srh.next_header)?;
            return Ok(Reason::Srv6UspPass);
        }
        return Err(icmp_error(ctx, ip, IcmpError::UpperLayer));
    }
    let hop_limit = cur.u8_at(ip.off + HOP_LIMIT, Reason::Ipv6Truncated)?;
    if hop_limit <= 1 {
        return Err(icmp_error(ctx, ip, IcmpError::HopLimit));
    }
    // Last Entry against the length was checked by parse_srh (S06-S07, first half).
    if u16::from(srh.segments_left) > u16::from(srh.last_entry) + 1 {
        return Err(icmp_error(ctx, ip, IcmpError::SegmentsLeft));
    }
    let sl = srh.segments_left - 1;
    let next: [u8; 16] = *cur.get::<[u8; 16]>(srh.segment_off(sl), Reason::SrhTruncated)?;
    let h = cur.get_mut::<[u8; 40]>(ip.off, Reason::Ipv6Truncated)?;
    let s = cur.get_mut::<[u8; 4]>(ip.routing_off, Reason::SrhTruncated)?;
    // SAFETY: the cursor proved 40 bytes at the IPv6 header and 4 at the SRH; nothing else
    // refers to them during this program run.
    let (h, s) = unsafe { (&mut *h, &mut *s) };
    h[HOP_LIMIT] = hop_limit - 1;
    h[DST..DST + 16].copy_from_slice(&next);
    s[SEGMENTS_LEFT] = sl;
    let mut len = ipv6::IPV6_HLEN + ip.payload_len;
    if psp && sl == 0 && poppable {
        // S14.2-S14.4.
        let srh_len = srh.hdr_len & 0x7ff;
        pop_srh(ctx, cur, ip, srh_len, srh.next_header)?;
        len -= srh_len;
    }
    let (done, to) = match nh6 {
        Some(a) => (Reason::Srv6EndXRedirect, a),
        None => (Reason::Srv6EndRedirect, &next),
    };
    let l = Lookup {
        v6: true,
        src: &ip.src,
        dst: to,
        tos: ip.traffic_class,
        len: len as u16,
    };
    forward(ctx, &l, table, done)
}

/// Pops the SRH (`srh_len` bytes, right behind the IPv6 header, which is right behind
/// Ethernet): its Next Header to the IPv6 header, Payload Length less the SRH, the Ethernet and
/// IPv6 headers moved up over it (PSP's S14.2-S14.4, USP's S03).
#[inline(always)]
fn pop_srh(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ipv6,
    srh_len: usize,
    next_header: u8,
) -> Result<(), Reason> {
    let h = cur.get_mut::<[u8; 40]>(ETH_HLEN, Reason::Ipv6Truncated)?;
    // SAFETY: the cursor proved the 40 bytes of the IPv6 header; nothing else refers to them.
    let h = unsafe { &mut *h };
    h[6] = next_header;
    h[4..6].copy_from_slice(&(ip.payload_len.wrapping_sub(srh_len) as u16).to_be_bytes());
    let head: [u8; ETH_HLEN + ipv6::IPV6_HLEN] =
        *cur.get::<[u8; ETH_HLEN + ipv6::IPV6_HLEN]>(0, Reason::Ipv6Truncated)?;
    let to = cur.get_mut::<[u8; ETH_HLEN + ipv6::IPV6_HLEN]>(srh_len, Reason::SrhTruncated)?;
    // SAFETY: the cursor proved the 54 bytes at `srh_len`; `head` is a copy, so the overlap
    // with the bytes read does not matter.
    unsafe { *to = head };
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, srh_len as i32) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    Ok(())
}

/// End.MAP (RFC 9433 6.2): Hop Limit 1 or less is answered with Time Exceeded (S01); else
/// the destination becomes `mapped` (S02), Hop Limit one less, and the packet is routed to it
/// (S03). Any SRH stays as it is.
#[inline(always)]
fn end_map(ctx: &XdpContext, ip: &Ipv6, mapped: &[u8; 16]) -> Result<Reason, Reason> {
    let cur = &Cursor::from_xdp(ctx);
    let hop_limit = cur.u8_at(ip.off + HOP_LIMIT, Reason::Ipv6Truncated)?;
    if hop_limit <= 1 {
        return Err(icmp_error(ctx, ip, IcmpError::HopLimit));
    }
    let h = cur.get_mut::<[u8; 40]>(ip.off, Reason::Ipv6Truncated)?;
    // SAFETY: the cursor proved the 40 bytes of the IPv6 header.
    let h = unsafe { &mut *h };
    h[HOP_LIMIT] = hop_limit - 1;
    h[DST..DST + 16].copy_from_slice(mapped);
    let l = Lookup {
        v6: true,
        src: &ip.src,
        dst: mapped,
        tos: ip.traffic_class,
        len: (ipv6::IPV6_HLEN + ip.payload_len) as u16,
    };
    forward(ctx, &l, 0, Reason::Srv6EndMapRedirect)
}

/// End.DX4 (RFC 8986 4.6), End.DX6 (4.5), End.DT6 (4.7): the upper layer must be `inner`
/// (IPIP or IPv6); the outer headers go, and the inner packet is forwarded.
#[inline(always)]
fn decap(ctx: &XdpContext, ip: &Ipv6, sid: &Sid, inner: u8) -> Result<Reason, Reason> {
    let cur = &Cursor::from_xdp(ctx);
    if ip.routing_off != 0 {
        let srh = parse_srh(cur, ip.routing_off, ip.end)?;
        if srh.segments_left != 0 {
            return Err(icmp_error(ctx, ip, IcmpError::SegmentsLeft));
        }
    }
    if ip.later_fragment {
        return Err(Reason::Srv6UpperLayerError);
    }
    let inner = match inner {
        0 if ip.protocol == proto::IPV6 || ip.protocol == proto::IPIP => ip.protocol,
        i => i,
    };
    if ip.protocol != inner {
        return Err(icmp_error(ctx, ip, IcmpError::UpperLayer));
    }
    let v6 = inner == proto::IPV6;
    // What the FIB needs of the inner packet, read before the outer headers go.
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    let (tos, len) = if v6 {
        // The fixed header is all the FIB needs; its extension headers are the inner
        // packet's business.
        let h: &[u8; 40] = cur.get(ip.l4_off, Reason::Ipv6Truncated)?;
        if h[0] >> 4 != 6 {
            return Err(Reason::Srv6UpperLayerError);
        }
        src.copy_from_slice(&h[8..24]);
        dst.copy_from_slice(&h[24..40]);
        let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
        if ip.l4_off + ipv6::IPV6_HLEN + payload > ip.end {
            return Err(Reason::Ipv6BadPayloadLength);
        }
        let tc = (h[0] << 4) | (h[1] >> 4);
        (tc, ipv6::IPV6_HLEN + payload)
    } else {
        let i = ipv4::parse_ipv4(cur, ip.l4_off)?;
        src[..4].copy_from_slice(&i.src);
        dst[..4].copy_from_slice(&i.dst);
        (i.tos, i.total_len)
    };
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.dst, eth.src);
    let delta = ip.l4_off.wrapping_sub(ETH_HLEN) as i32;
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
        (*e).ethertype = Be16::new(if v6 { ETH_P_IPV6 } else { ETH_P_IPV4 });
    }
    let expiring = if v6 {
        ipv6::hop_limit_expiring(&cur, ETH_HLEN)?
    } else {
        ipv4::ttl_expiring(&cur, ETH_HLEN)?
    };
    if expiring {
        // The kernel answers with ICMP Time Exceeded.
        return Ok(Reason::Srv6ToKernel);
    }
    // The adjacency (DX4, DX6) or, routed by the table, the inner destination (DT6).
    let mut to = [0u8; 16];
    match sid.behaviour {
        behaviour::END_DX4 => to[..4].copy_from_slice(&sid.nh4),
        behaviour::END_DX6 => to = sid.nh6,
        // End.DT4, End.DT6, End.DT46: the table routes the inner destination.
        _ => to = dst,
    }
    let done = match sid.behaviour {
        behaviour::END | behaviour::END_X | behaviour::END_T => Reason::Srv6UsdRedirect,
        behaviour::END_DX4 => Reason::Srv6Dx4Redirect,
        behaviour::END_DX6 => Reason::Srv6Dx6Redirect,
        _ if v6 => Reason::Srv6Dt6Redirect,
        _ => Reason::Srv6Dt4Redirect,
    };
    let l = Lookup {
        v6,
        src: &src,
        dst: &to,
        tos,
        len: len as u16,
    };
    // DX4 and DX6 have no table: theirs is 0, the main one, for the adjacency.
    match fib::lookup_in(ctx, &l, sid.table)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            if v6 {
                ipv6::decrement_hop_limit(&cur, ETH_HLEN)?;
            } else {
                ipv4::decrement_ttl(&cur, ETH_HLEN)?;
            }
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(done)
        }
        Found::Kernel(_) | Found::TooBig(_) => Ok(Reason::Srv6ToKernel),
    }
}
