//! Direct server return: the client's packets reach the backend unchanged (their destination
//! stays the VIP, which the backend holds), and the backend answers the client directly; only
//! the client's direction passes here, tracked so that a connection keeps its backend.
//!
//! - Over L2 (`mode::DSR_L2`): the frame goes to the backend's MAC address (the FIB's
//!   neighbour of the backend's address), IP header untouched (no TTL change: the load
//!   balancer is part of the service, not a hop).
//! - Through a tunnel (`mode::DSR_TUNNEL`): IPIP (RFC 2003) for IPv4, IP6IP6 (RFC 2473) for
//!   IPv6, from the service's `src` to the backend; the outer header copies the inner TOS /
//!   Traffic Class (and, IPv4, its DF bit and Identification), TTL / Hop Limit 64, and an
//!   IPv6 Flow Label from the flow's hash (RFC 6438), so the backend's NIC spreads flows.
//!   A packet that would exceed the egress MTU once encapsulated is answered as a router
//!   whose next hop is too small answers ([`too_big`]: ICMP Fragmentation Needed, ICMPv6
//!   Packet Too Big, from the VIP, with the MTU less the tunnel's header), so that the
//!   client's path MTU discovery works through the tunnel.
//!
//! A backend without the kernel's tunnel devices runs `xdp_lb_decap` ([`decap`]).

use crate::{ip::Ip, maps::DECAP};
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_head, programs::XdpContext};
use bpf_abi::{
    Reason,
    lb::{FlowKey, ServiceKey},
};
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, parse_eth},
    ipv4, ipv6,
};

/// IP protocol number of IPv4 in IP (RFC 2003).
const IPPROTO_IPIP: u8 = 4;
/// IP protocol number of IPv6 in IP (RFC 2473).
const IPPROTO_IPV6: u8 = 41;

/// Prepares the client's packet (IP header at `ip`, addresses in `key`) of a DSR connection to
/// `backend` for the FIB: as it is, or (`tunnel`) encapsulated from `src`. Returns the IP
/// length the FIB checks against the MTU (the caller forwards, to `backend`).
#[inline(always)]
pub fn prepare(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    key: &FlowKey,
    backend: &[u8; 16],
    src: &[u8; 16],
    tunnel: bool,
) -> Result<usize, Reason> {
    if !tunnel {
        return Ok(ip.len);
    }
    let outer = if ip.v6 { ipv6::IPV6_HLEN } else { 20 };
    let total = ip.len + outer;
    if total > 0xffff {
        return Err(Reason::LbTooBig);
    }
    // IPv4: the inner DF bit and Identification carry over (RFC 2003 3.1; an atomic
    // datagram's ID stays what its sender chose).
    let (id, df) = if ip.v6 {
        ([0u8; 2], 0u8)
    } else {
        let h = cur.get::<[u8; 8]>(ip.off, Reason::Ipv4Truncated)?;
        ([h[4], h[5]], h[6] & 0x40)
    };
    let flow = bpf_abi::lb::flow_hash(key) & 0x000f_ffff;
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    // The new Ethernet and outer IP headers end where the inner packet starts (a VLAN tag, if
    // there was one, goes).
    let delta = ip.off as i32 - (ETH_HLEN + outer) as i32;
    // SAFETY: growing the head by at most 40 bytes (XDP keeps 256 bytes of headroom) or
    // shrinking it by less than the old link-layer header.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, delta) } != 0 {
        return Err(Reason::LbTooBig);
    }
    let cur = Cursor::from_xdp(ctx);
    if ip.v6 {
        let h = cur.get_mut::<[u8; 54]>(0, Reason::Ipv6Truncated)?;
        // SAFETY: the cursor proved the 54 bytes of the new Ethernet and IPv6 headers.
        let h = unsafe { &mut *h };
        h[..12].copy_from_slice(&macs);
        h[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
        h[14] = 0x60 | (ip.tos >> 4);
        h[15] = (ip.tos << 4) | (flow >> 16) as u8;
        h[16] = (flow >> 8) as u8;
        h[17] = flow as u8;
        h[18..20].copy_from_slice(&(ip.len as u16).to_be_bytes());
        h[20] = IPPROTO_IPV6;
        h[21] = 64;
        h[22..38].copy_from_slice(src);
        h[38..54].copy_from_slice(backend);
    } else {
        let h = cur.get_mut::<[u8; 34]>(0, Reason::Ipv4Truncated)?;
        // SAFETY: the cursor proved the 34 bytes of the new Ethernet and IPv4 headers.
        let h = unsafe { &mut *h };
        h[..12].copy_from_slice(&macs);
        h[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
        let t = (total as u16).to_be_bytes();
        let v4 = [
            0x45,
            ip.tos,
            t[0],
            t[1],
            id[0],
            id[1],
            df,
            0,
            64,
            IPPROTO_IPIP,
            0,
            0,
            src[0],
            src[1],
            src[2],
            src[3],
            backend[0],
            backend[1],
            backend[2],
            backend[3],
        ];
        let c = csum::finish(csum::add_bytes(0, &v4));
        h[14..34].copy_from_slice(&v4);
        h[24..26].copy_from_slice(&c.to_be_bytes());
    }
    Ok(total)
}

/// A backend's side of DSR through a tunnel (`xdp_lb_decap`): an IPIP or IP6IP6 packet (outer
/// IPv4 or IPv6 without options or extension headers) whose inner destination is one of the
/// VIPs in `LB_DECAP` loses its outer header and goes to the kernel, which delivers it to the
/// VIP on the loopback. Anything else passes untouched.
#[inline(always)]
pub fn decap(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let (inner_off, inner_proto) = match eth.ethertype {
        ETH_P_IPV4 => {
            let h = ipv4::parse_ipv4(&cur, eth.l3_off)?;
            if h.fragment || h.l4_off != h.off + 20 {
                return Err(Reason::LbNoService);
            }
            (h.l4_off, h.protocol)
        }
        ETH_P_IPV6 => {
            let h = ipv6::parse_ipv6(&cur, eth.l3_off)?;
            if h.fragment || h.l4_off != h.off + ipv6::IPV6_HLEN {
                return Err(Reason::LbNoService);
            }
            (h.l4_off, h.protocol)
        }
        _ => return Err(Reason::LbNoService),
    };
    let mut vip = ServiceKey::default();
    let ethertype = match inner_proto {
        IPPROTO_IPIP => {
            let d = cur.get::<[u8; 4]>(inner_off + 16, Reason::Ipv4Truncated)?;
            vip.vip[..4].copy_from_slice(d);
            vip.family = 4;
            ETH_P_IPV4
        }
        IPPROTO_IPV6 => {
            vip.vip = *cur.get::<[u8; 16]>(inner_off + 24, Reason::Ipv6Truncated)?;
            vip.family = 6;
            ETH_P_IPV6
        }
        _ => return Err(Reason::LbNoService),
    };
    // SAFETY: read at once.
    if unsafe { DECAP.get(vip) }.is_none() {
        return Err(Reason::LbNoService);
    }
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    // SAFETY: shrinking the head by the outer header (and a VLAN tag), all within the packet
    // (the inner header's first bytes were read above).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, (inner_off - ETH_HLEN) as i32) } != 0 {
        return Err(Reason::LbNoService);
    }
    let cur = Cursor::from_xdp(ctx);
    let h = cur.get_mut::<[u8; 14]>(0, Reason::EthTruncated)?;
    // SAFETY: the cursor proved the 14 bytes of the new Ethernet header.
    let h = unsafe { &mut *h };
    h[..12].copy_from_slice(&macs);
    h[12..14].copy_from_slice(&ethertype.to_be_bytes());
    Ok(Reason::LbDecap)
}

/// Takes the tunnel's header [`prepare`] put on off again (`v6`: IP6IP6, else IPIP): the
/// frame is the client's packet behind an Ethernet header once more.
#[inline(always)]
pub fn unwrap(ctx: &XdpContext, v6: bool) -> Result<(), Reason> {
    let outer = if v6 { ipv6::IPV6_HLEN } else { 20 };
    let cur = Cursor::from_xdp(ctx);
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    // SAFETY: shrinking the head by the outer header prepare() added.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, outer as i32) } != 0 {
        return Err(Reason::LbTooBig);
    }
    let cur = Cursor::from_xdp(ctx);
    let h = cur.get_mut::<[u8; 14]>(0, Reason::EthTruncated)?;
    // SAFETY: the cursor proved the 14 bytes of the Ethernet header.
    let h = unsafe { &mut *h };
    h[..12].copy_from_slice(&macs);
    let t = if v6 { ETH_P_IPV6 } else { ETH_P_IPV4 };
    h[12..14].copy_from_slice(&t.to_be_bytes());
    Ok(())
}

/// `xdp_lb_too_big`: the client's packet (back as it came: [`unwrap`]) exceeds the egress MTU
/// (`LB_MTU`, left by the FIB lookup) once encapsulated: the frame becomes ICMP Fragmentation
/// Needed (RFC 1191; a packet with DF clear gets nothing: it could not be fragmented inside
/// the tunnel either, and is dropped, counted `lb_too_big`) or ICMPv6 Packet Too Big (RFC
/// 4443 3.2, at least 1280) to the client, from the VIP, telling the MTU less the tunnel's
/// header; back out of the interface it came in on. Rate-limited per CPU
/// (`icmp_rate_limited`).
#[inline(always)]
pub fn too_big(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    let mtu = crate::maps::MTU.get(0).copied().unwrap_or(0) as usize;
    if !bpf_net::icmp6err::allowed() {
        return Err(Reason::IcmpRateLimited);
    }
    match eth.ethertype {
        ETH_P_IPV4 => {
            let h = cur.get::<[u8; 20]>(eth.l3_off, Reason::Ipv4Truncated)?;
            if h[6] & 0x40 == 0 {
                return Err(Reason::LbTooBig);
            }
            let vip = [h[16], h[17], h[18], h[19]];
            let mtu = mtu.saturating_sub(20).min(0xffff) as u32;
            bpf_net::icmp4err::send(ctx, eth.l3_off, &vip, 3, 4, mtu)?;
            Ok(Reason::IcmpFragNeeded)
        }
        ETH_P_IPV6 => {
            let vip = *cur.get::<[u8; 16]>(eth.l3_off + 24, Reason::Ipv6Truncated)?;
            let mtu = mtu.saturating_sub(ipv6::IPV6_HLEN).max(1280) as u32;
            bpf_net::icmp6err::send(ctx, eth.l3_off, &vip, 2, 0, mtu)?;
            Ok(Reason::IcmpPacketTooBig)
        }
        _ => Err(Reason::LbTooBig),
    }
}
