//! NAT64's ICMP translation (RFC 7915 4.2, 4.3, 5.2, 5.3): an error about a NAT64
//! connection's packet is rebuilt in the other family, the quoted packet too, and sent on as
//! the connection's packets are.
//!
//! - From the IPv4 side (`xdp_lb_icmp46`): an ICMP error to the NAT64 source about the
//!   translated packet (the NAT64 source and the connection's port to the backend) becomes an
//!   ICMPv6 error from the VIP to the client about the client's own packet (the client knows
//!   only the VIP: RFC 6146's embedded IPv4 address of the sender would mean nothing to it).
//! - From the IPv6 side (`xdp_lb_icmp64`): an ICMPv6 error to the VIP about a reply (the VIP
//!   to the client) becomes an ICMP error from the NAT64 source to the backend about the
//!   backend's own packet.
//!
//! Types and codes map as RFC 7915's tables say (Destination Unreachable codes, Packet Too
//! Big and Fragmentation Needed with the MTU moved by the 20 bytes the headers differ, Time
//! Exceeded, Parameter Problem with the pointer mapped field by field); what they drop
//! (Source Quench, Redirect, unmappable pointers and codes, ...) is dropped and counted
//! (`lb_xlat_unsupported`). The quote keeps the quoted IP header and the first 8 bytes of its
//! transport header (all that RFC 792 guarantees; the port numbers find the socket), their
//! UDP checksum updated for the new pseudo-header and ports; the rest of the quote is cut.
//! Checksums: the new IPv4 headers' and the ICMP / ICMPv6 one (over its pseudo-header)
//! computed whole. Errors with IPv4 options or IPv6 extension headers, outside or quoted, are
//! dropped and counted the same way.

use crate::{
    ip::Ip,
    maps::{XLAT4, XLAT6},
    nat,
};
use aya_ebpf::{
    helpers::generated::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use bpf_abi::{Reason, lb::FlowKey};
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, parse_eth},
    fib::Lookup,
    proto,
};

/// The IPv6 error: IPv6 header, ICMPv6 header, quoted IPv6 header, 8 bytes of its transport.
const V6_LEN: usize = 40 + 8 + 40 + 8;
/// The IPv4 error: IPv4 header, ICMP header, quoted IPv4 header, 8 bytes.
const V4_LEN: usize = 20 + 8 + 20 + 8;

/// ICMP type, code and 4-byte field to ICMPv6's (RFC 7915 4.2); None: not translated.
#[inline(always)]
fn map46(ty: u8, code: u8, rest: [u8; 4]) -> Option<(u8, u8, [u8; 4])> {
    match (ty, code) {
        // Destination Unreachable.
        (3, 0 | 1 | 5..=8 | 11 | 12) => Some((1, 0, [0; 4])),
        (3, 9 | 10 | 13 | 15) => Some((1, 1, [0; 4])),
        // Protocol Unreachable: Parameter Problem, unrecognised Next Header, at its offset.
        (3, 2) => Some((4, 1, [0, 0, 0, 6])),
        (3, 3) => Some((1, 4, [0; 4])),
        // Fragmentation Needed: Packet Too Big, the MTU plus the headers' difference.
        (3, 4) => {
            let mtu = u32::from(u16::from_be_bytes([rest[2], rest[3]])) + 20;
            Some((2, 0, mtu.max(1280).to_be_bytes()))
        }
        // Time Exceeded.
        (11, 0 | 1) => Some((3, code, [0; 4])),
        // Parameter Problem (Pointer indicates the error; Bad Length): the pointer mapped.
        (12, 0 | 2) => {
            let p = match rest[0] {
                0 | 1 => rest[0],
                2 | 3 => 4,
                8 => 7,
                9 => 6,
                12..=15 => 8,
                16..=19 => 24,
                _ => return None,
            };
            Some((4, 0, [0, 0, 0, p]))
        }
        _ => None,
    }
}

/// ICMPv6 type, code and 4-byte field to ICMP's (RFC 7915 5.2); None: not translated.
#[inline(always)]
fn map64(ty: u8, code: u8, rest: [u8; 4]) -> Option<(u8, u8, [u8; 4])> {
    match (ty, code) {
        (1, 0 | 2 | 3) => Some((3, 1, [0; 4])),
        (1, 1) => Some((3, 10, [0; 4])),
        (1, 4) => Some((3, 3, [0; 4])),
        // Packet Too Big: Fragmentation Needed, the MTU less the headers' difference.
        (2, 0) => {
            let mtu = u32::from_be_bytes(rest)
                .saturating_sub(20)
                .clamp(68, 0xffff) as u16;
            let m = mtu.to_be_bytes();
            Some((3, 4, [0, 0, m[0], m[1]]))
        }
        (3, 0 | 1) => Some((11, code, [0; 4])),
        (4, 0) => {
            let p = u32::from_be_bytes(rest);
            let p4 = match p {
                0 | 1 => p as u8,
                4 | 5 => 2,
                6 => 9,
                7 => 8,
                8..=23 => 12,
                24..=39 => 16,
                _ => return None,
            };
            Some((12, 0, [p4, 0, 0, 0]))
        }
        // Unrecognised Next Header: Protocol Unreachable.
        (4, 1) => Some((3, 2, [0; 4])),
        _ => None,
    }
}

/// The quoted UDP checksum (at 6 of `l4`) for its new pseudo-header addresses and ports: the
/// old ones summed `old`, the new ones `new`. 0 (none, from IPv4) stays 0.
#[inline(always)]
fn quoted_udp(l4: &mut [u8; 8], protocol: u8, old: u32, new: u32) {
    if protocol != proto::UDP {
        return;
    }
    let c = u16::from_be_bytes([l4[6], l4[7]]);
    if c == 0 {
        return;
    }
    let mut n = csum::replace_sum(c, old, new);
    if n == 0 {
        n = 0xffff;
    }
    l4[6..8].copy_from_slice(&n.to_be_bytes());
}

/// This CPU's scratch: the error as it came (its first bytes) and as it leaves.
#[inline(always)]
fn scratch() -> Result<(&'static mut [u8], &'static mut [u8]), Reason> {
    let s = crate::maps::XLAT_SCRATCH
        .get_ptr_mut(0)
        .ok_or(Reason::LbXlatUnsupported)?;
    // SAFETY: this CPU's value of the per-CPU array, valid for this run; no other user on
    // this CPU meanwhile.
    Ok(unsafe { &mut *s }.split_at_mut(128))
}

/// Resizes the frame: `head` bytes more (negative) or fewer at its start, then cut to `to`.
#[inline(always)]
fn resize(ctx: &XdpContext, head: i32, to: usize) -> Result<(), Reason> {
    // SAFETY: `head` is within XDP's headroom (growing by 40) or the first 40 bytes of a
    // frame longer than that (shrinking).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, head) } != 0 {
        return Err(Reason::LbXlatUnsupported);
    }
    let now = (ctx.data_end() as u64).wrapping_sub(ctx.data() as u64) as i64;
    let delta = (to as i64 - now) as i32;
    // SAFETY: the cut keeps `to` bytes, all of the new headers (the frame was longer).
    if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } != 0 {
        return Err(Reason::LbXlatUnsupported);
    }
    Ok(())
}

/// `xdp_lb_icmp46`: an ICMP error from the IPv4 side, rebuilt as ICMPv6 to the client.
#[inline(always)]
pub fn to_v6(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV4 || eth.l3_off != ETH_HLEN {
        return Err(Reason::LbXlatUnsupported);
    }
    // Outer IPv4 (no options), ICMP, quoted IPv4 (no options), its first 8 bytes.
    let (h, out) = scratch()?;
    h[..V4_LEN].copy_from_slice(cur.get::<[u8; V4_LEN]>(ETH_HLEN, Reason::IcmpTruncated)?);
    if h[0] != 0x45 || h[9] != proto::ICMP || h[28] != 0x45 {
        return Err(Reason::LbXlatUnsupported);
    }
    let q = 28;
    let protocol = h[q + 9];
    if protocol != proto::TCP && protocol != proto::UDP {
        return Err(Reason::LbXlatUnsupported);
    }
    let (ty, code, rest) =
        map46(h[20], h[21], [h[24], h[25], h[26], h[27]]).ok_or(Reason::LbXlatUnsupported)?;
    // The connection by the quote seen from the backend: its NAT64 entry.
    let mut key = FlowKey {
        sport: u16::from_be_bytes([h[q + 22], h[q + 23]]),
        dport: u16::from_be_bytes([h[q + 20], h[q + 21]]),
        proto: protocol,
        family: 4,
        ..FlowKey::default()
    };
    key.src[..4].copy_from_slice(&h[q + 16..q + 20]);
    key.dst[..4].copy_from_slice(&h[q + 12..q + 16]);
    // SAFETY: read at once; the entry is replaced whole by the datapath.
    let x = unsafe { XLAT4.get(&key) }.ok_or(Reason::LbNoService)?;
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    let tos = h[1];
    let hop_limit = h[8];
    let qtos = h[q + 1];
    let qlen = u16::from_be_bytes([h[q + 2], h[q + 3]]);
    let out = &mut out[..V6_LEN];
    out.fill(0);
    out[0] = 0x60 | (tos >> 4);
    out[1] = tos << 4;
    out[4..6].copy_from_slice(&((V6_LEN - 40) as u16).to_be_bytes());
    out[6] = proto::ICMPV6;
    out[7] = hop_limit;
    out[8..24].copy_from_slice(&x.vip);
    out[24..40].copy_from_slice(&x.client);
    out[40] = ty;
    out[41] = code;
    out[44..48].copy_from_slice(&rest);
    // The quote: the client's packet to the VIP, as the client sent it.
    let iq = 48;
    out[iq] = 0x60 | (qtos >> 4);
    out[iq + 1] = qtos << 4;
    out[iq + 4..iq + 6].copy_from_slice(&qlen.saturating_sub(20).to_be_bytes());
    out[iq + 6] = protocol;
    out[iq + 7] = h[q + 8];
    out[iq + 8..iq + 24].copy_from_slice(&x.client);
    out[iq + 24..iq + 40].copy_from_slice(&x.vip);
    let mut l4 = [0u8; 8];
    l4.copy_from_slice(&h[q + 20..q + 28]);
    let old = csum::add_bytes(csum::add_bytes(0, &h[q + 12..q + 20]), &l4[..4]);
    l4[..2].copy_from_slice(&x.client_port.to_be_bytes());
    l4[2..4].copy_from_slice(&x.vip_port.to_be_bytes());
    let new = csum::add_bytes(
        csum::add_bytes(csum::add_bytes(0, &x.client), &x.vip),
        &l4[..4],
    );
    quoted_udp(&mut l4, protocol, old, new);
    out[iq + 40..iq + 48].copy_from_slice(&l4);
    let sum = csum::pseudo_v6(&x.vip, &x.client, proto::ICMPV6, (V6_LEN - 40) as u32);
    let c = csum::finish(csum::add_bytes(sum, &out[40..]));
    out[42..44].copy_from_slice(&c.to_be_bytes());
    resize(ctx, -40, ETH_HLEN + V6_LEN)?;
    let cur = Cursor::from_xdp(ctx);
    let f = cur.get_mut::<[u8; ETH_HLEN + V6_LEN]>(0, Reason::Ipv6Truncated)?;
    // SAFETY: the cursor proved the frame's bytes; nothing else refers to them.
    let f = unsafe { &mut *f };
    f[..12].copy_from_slice(&macs);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    f[ETH_HLEN..].copy_from_slice(out);
    let ip = Ip {
        v6: true,
        off: ETH_HLEN,
        l4_off: ETH_HLEN + 40,
        protocol: proto::ICMPV6,
        tos,
        len: V6_LEN,
    };
    let l = Lookup {
        v6: true,
        src: &x.vip,
        dst: &x.client,
        tos,
        len: V6_LEN as u16,
    };
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    match nat::route(ctx, &cur, &ip, &l)? {
        Reason::LbRedirect => Ok(Reason::LbIcmpRedirect),
        r => Ok(r),
    }
}

/// `xdp_lb_icmp64`: an ICMPv6 error from the client's side, rebuilt as ICMP to the backend.
#[inline(always)]
pub fn to_v4(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV6 || eth.l3_off != ETH_HLEN {
        return Err(Reason::LbXlatUnsupported);
    }
    // Outer IPv6 (no extension headers), ICMPv6, quoted IPv6 (none either), 8 bytes.
    let (h, out) = scratch()?;
    h[..V6_LEN].copy_from_slice(cur.get::<[u8; V6_LEN]>(ETH_HLEN, Reason::IcmpTruncated)?);
    let q = 48;
    let protocol = h[q + 6];
    if h[6] != proto::ICMPV6 || h[q] >> 4 != 6 || (protocol != proto::TCP && protocol != proto::UDP)
    {
        return Err(Reason::LbXlatUnsupported);
    }
    let (ty, code, rest) =
        map64(h[40], h[41], [h[44], h[45], h[46], h[47]]).ok_or(Reason::LbXlatUnsupported)?;
    // The connection by the quote (a reply to the client) seen from the client: its NAT64
    // entry.
    let mut key = FlowKey {
        sport: u16::from_be_bytes([h[q + 42], h[q + 43]]),
        dport: u16::from_be_bytes([h[q + 40], h[q + 41]]),
        proto: protocol,
        family: 6,
        ..FlowKey::default()
    };
    key.src.copy_from_slice(&h[q + 24..q + 40]);
    key.dst.copy_from_slice(&h[q + 8..q + 24]);
    // SAFETY: read at once; the entry is replaced whole by the datapath.
    let x = unsafe { XLAT6.get(&key) }.ok_or(Reason::LbNoService)?;
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    let tos = (h[0] << 4) | (h[1] >> 4);
    let qtos = (h[q] << 4) | (h[q + 1] >> 4);
    let qlen = u16::from_be_bytes([h[q + 4], h[q + 5]]).saturating_add(20);
    let out = &mut out[..V4_LEN];
    out.fill(0);
    let t = (V4_LEN as u16).to_be_bytes();
    // DF set (RFC 7915 5.1), as for every packet translated to IPv4.
    out[..12].copy_from_slice(&[
        0x45,
        tos,
        t[0],
        t[1],
        0,
        0,
        0x40,
        0,
        h[7],
        proto::ICMP,
        0,
        0,
    ]);
    out[12..16].copy_from_slice(&x.src);
    out[16..20].copy_from_slice(&x.backend);
    let mut ip4 = [0u8; 20];
    ip4.copy_from_slice(&out[..20]);
    out[10..12].copy_from_slice(&csum::finish(csum::add_bytes(0, &ip4)).to_be_bytes());
    out[20] = ty;
    out[21] = code;
    out[24..28].copy_from_slice(&rest);
    // The quote: the backend's packet to the NAT64 source, as the backend sent it.
    let iq = 28;
    let l = qlen.to_be_bytes();
    out[iq..iq + 12].copy_from_slice(&[
        0x45,
        qtos,
        l[0],
        l[1],
        0,
        0,
        0x40,
        0,
        h[q + 7],
        protocol,
        0,
        0,
    ]);
    out[iq + 12..iq + 16].copy_from_slice(&x.backend);
    out[iq + 16..iq + 20].copy_from_slice(&x.src);
    ip4.copy_from_slice(&out[iq..iq + 20]);
    out[iq + 10..iq + 12].copy_from_slice(&csum::finish(csum::add_bytes(0, &ip4)).to_be_bytes());
    let mut l4 = [0u8; 8];
    l4.copy_from_slice(&h[q + 40..q + 48]);
    let old = csum::add_bytes(csum::add_bytes(0, &h[q + 8..q + 40]), &l4[..4]);
    l4[..2].copy_from_slice(&x.backend_port.to_be_bytes());
    l4[2..4].copy_from_slice(&x.src_port.to_be_bytes());
    let new = csum::add_bytes(
        csum::add_bytes(csum::add_bytes(0, &x.backend), &x.src),
        &l4[..4],
    );
    quoted_udp(&mut l4, protocol, old, new);
    out[iq + 20..iq + 28].copy_from_slice(&l4);
    let c = csum::finish(csum::add_bytes(0, &out[20..]));
    out[22..24].copy_from_slice(&c.to_be_bytes());
    resize(ctx, 40, ETH_HLEN + V4_LEN)?;
    let cur = Cursor::from_xdp(ctx);
    let f = cur.get_mut::<[u8; ETH_HLEN + V4_LEN]>(0, Reason::Ipv4Truncated)?;
    // SAFETY: the cursor proved the frame's bytes; nothing else refers to them.
    let f = unsafe { &mut *f };
    f[..12].copy_from_slice(&macs);
    f[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    f[ETH_HLEN..].copy_from_slice(out);
    let ip = Ip {
        v6: false,
        off: ETH_HLEN,
        l4_off: ETH_HLEN + 20,
        protocol: proto::ICMP,
        tos,
        len: V4_LEN,
    };
    let (mut s16, mut d16) = ([0u8; 16], [0u8; 16]);
    s16[..4].copy_from_slice(&x.src);
    d16[..4].copy_from_slice(&x.backend);
    let l = Lookup {
        v6: false,
        src: &s16,
        dst: &d16,
        tos,
        len: V4_LEN as u16,
    };
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    match nat::route(ctx, &cur, &ip, &l)? {
        Reason::LbRedirect => Ok(Reason::LbIcmpRedirect),
        r => Ok(r),
    }
}
