//! NAT64 (RFC 7915 IP/ICMP translation, stateful as RFC 6146 does it): an IPv6 VIP whose
//! backends are IPv4. The client's packets become IPv4 from the service's `src` and a
//! source port given to the connection (unique for its backend, so the backend's replies
//! find it), to the backend Maglev picks; the backend's replies become IPv6 from the VIP to
//! the client. The transport checksum is updated for the other pseudo-header and the ports
//! (RFC 1624); the IP header is rebuilt (RFC 7915 5.1 and 4.1: Traffic Class and TOS copied,
//! Hop Limit and TTL copied then one less as a router, DF set, Flow Label 0). TCP and UDP of
//! unfragmented packets without IPv6 extension headers or IPv4 options; anything else is
//! dropped and counted (`lb_xlat_unsupported`). ICMP errors: `nat64_icmp`.

use crate::{
    ip::{self, Ip},
    maps::{BACKENDS, MAGLEV, SERVICES, XLAT4, XLAT6},
    nat,
};
use aya_ebpf::{
    helpers::generated::{bpf_ktime_get_coarse_ns, bpf_xdp_adjust_head},
    programs::XdpContext,
};
use bpf_abi::{
    Reason,
    lb::{FlowKey, ServiceKey, Xlat46, Xlat64, state},
};
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, parse_eth},
    fib::Lookup,
    ipv6, proto,
};

/// IPv6 header length minus IPv4's: what the translation takes off or puts on.
const SHRINK: i32 = 20;

/// Where the transport checksum is, and whether 0 means "none" (UDP).
#[inline(always)]
fn l4_csum(protocol: u8) -> Result<(usize, bool), Reason> {
    match protocol {
        proto::TCP => Ok((16, false)),
        proto::UDP => Ok((6, true)),
        _ => Err(Reason::LbXlatUnsupported),
    }
}

/// Rewrites the ports and the checksum of the transport header at `l4` for a pseudo-header
/// whose addresses summed to `old_sum` and now to `new_sum`. A UDP checksum of 0 is refused
/// (IPv6 never carries one; from IPv4 it would need the payload summed: RFC 7915 4.5 lets a
/// translator drop it).
#[inline(always)]
fn rewrite_l4(
    cur: &Cursor,
    l4: usize,
    protocol: u8,
    ports: (u16, u16),
    old_sum: u32,
    new_sum: u32,
) -> Result<(), Reason> {
    if protocol == proto::TCP {
        let h = cur.get_mut::<[u8; 20]>(l4, Reason::TcpTruncated)?;
        // SAFETY: the cursor proved the 20 bytes of the TCP header.
        fix_ports::<20, 16>(unsafe { &mut *h }, false, ports, old_sum, new_sum)
    } else {
        let h = cur.get_mut::<[u8; 8]>(l4, Reason::UdpTruncated)?;
        // SAFETY: the cursor proved the 8 bytes of the UDP header.
        fix_ports::<8, 6>(unsafe { &mut *h }, true, ports, old_sum, new_sum)
    }
}

#[inline(always)]
fn fix_ports<const N: usize, const AT: usize>(
    h: &mut [u8; N],
    udp: bool,
    ports: (u16, u16),
    old_sum: u32,
    new_sum: u32,
) -> Result<(), Reason> {
    let old_ports =
        u32::from(u16::from_be_bytes([h[0], h[1]])) + u32::from(u16::from_be_bytes([h[2], h[3]]));
    let new_ports = u32::from(ports.0) + u32::from(ports.1);
    let c = u16::from_be_bytes([h[AT], h[AT + 1]]);
    if udp && c == 0 {
        return Err(Reason::LbXlatUnsupported);
    }
    let mut n = csum::replace_sum(c, old_sum + old_ports, new_sum + new_ports);
    if udp && n == 0 {
        n = 0xffff;
    }
    h[AT..AT + 2].copy_from_slice(&n.to_be_bytes());
    h[0..2].copy_from_slice(&ports.0.to_be_bytes());
    h[2..4].copy_from_slice(&ports.1.to_be_bytes());
    Ok(())
}

/// The client's direction, IPv6 to IPv4 (`xdp_lb_64`, by tail call from `xdp_lb6`).
#[inline(always)]
pub fn to_v4(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV6 || eth.l3_off != ETH_HLEN {
        return Err(Reason::LbXlatUnsupported);
    }
    let mut key = FlowKey::default();
    let ip = ip::parse_ip::<true>(&cur, eth.l3_off, &mut key)?;
    if ip.l4_off != ETH_HLEN + ipv6::IPV6_HLEN {
        return Err(Reason::LbXlatUnsupported);
    }
    l4_csum(ip.protocol)?;
    let ports = *cur.get::<[u8; 4]>(ip.l4_off, Reason::LbXlatUnsupported)?;
    key.sport = u16::from_be_bytes([ports[0], ports[1]]);
    key.dport = u16::from_be_bytes([ports[2], ports[3]]);
    key.proto = ip.protocol;
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let x = match XLAT6.get_ptr_mut(key) {
        // SAFETY: a value of the map, valid for this program run.
        Some(x) if unsafe { (*x).expires_ns } > now => x,
        _ => open(&key, now)?,
    };
    // SAFETY: as above (read in place; racing writers write the same kind of values).
    let (backend, src, bport, sport, id, was) = unsafe {
        (
            (*x).backend,
            (*x).src,
            (*x).backend_port,
            (*x).src_port,
            (*x).backend_id,
            (*x).state,
        )
    };
    let st = nat::next_state(&cur, &ip, was)?;
    // SAFETY: as above.
    unsafe {
        (*x).state = st;
        (*x).expires_ns = now + state::timeout_s(st) * 1_000_000_000;
    }
    crate::maps::count_backend(id, true, ip.len);
    let old = csum::add_bytes(csum::add_bytes(0, &key.src), &key.dst);
    let new = csum::add_bytes(csum::add_bytes(0, &src), &backend);
    rewrite_l4(&cur, ip.l4_off, ip.protocol, (sport, bport), old, new)?;
    let hop_limit = cur.u8_at(ip.off + 7, Reason::Ipv6Truncated)?;
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    let payload = ip.len - ipv6::IPV6_HLEN;
    // SAFETY: shrinking the head by 20 bytes of a packet at least 54 long (checked above).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, SHRINK) } != 0 {
        return Err(Reason::LbXlatUnsupported);
    }
    let cur = Cursor::from_xdp(ctx);
    let h = cur.get_mut::<[u8; 34]>(0, Reason::Ipv4Truncated)?;
    // SAFETY: the cursor proved the 34 bytes of the new Ethernet and IPv4 headers.
    let h = unsafe { &mut *h };
    h[..12].copy_from_slice(&macs);
    h[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    let total = (payload + 20) as u16;
    let v4 = [
        0x45,
        ip.tos,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40, // DF (RFC 7915 5.1)
        0,
        hop_limit,
        ip.protocol,
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
    let ip4 = Ip {
        v6: false,
        off: ETH_HLEN,
        l4_off: ETH_HLEN + 20,
        protocol: ip.protocol,
        tos: ip.tos,
        len: usize::from(total),
    };
    let (mut s16, mut d16) = ([0u8; 16], [0u8; 16]);
    s16[..4].copy_from_slice(&src);
    d16[..4].copy_from_slice(&backend);
    let l = Lookup {
        v6: false,
        src: &s16,
        dst: &d16,
        tos: ip.tos,
        len: total,
    };
    match nat::route(ctx, &cur, &ip4, &l)? {
        Reason::LbRedirect => Ok(Reason::LbXlatRedirect),
        r => Ok(r),
    }
}

/// A new NAT64 connection: the backend by Maglev, a source port free for it, both
/// directions entered.
#[inline(always)]
fn open(key: &FlowKey, now: u64) -> Result<*mut Xlat64, Reason> {
    let mut sk = ServiceKey {
        vip: key.dst,
        port: key.dport,
        proto: key.proto,
        family: 6,
    };
    // SAFETY: the value is read at once; entries are only replaced whole by the controller.
    let svc = match unsafe { SERVICES.get(sk) } {
        Some(s) => *s,
        None => {
            sk.port = 0;
            // SAFETY: as above.
            *unsafe { SERVICES.get(sk) }.ok_or(Reason::LbNoService)?
        }
    };
    if svc.backends == 0 {
        return Err(Reason::LbNoBackend);
    }
    let h = nat::flow_hash(key);
    let slot = nat::slot_of(&svc, &key.src, h);
    let id = *MAGLEV.get(slot).ok_or(Reason::LbNoBackend)?;
    let be = BACKENDS.get(id).ok_or(Reason::LbNoBackend)?;
    if be.used == 0 || be.family != 4 {
        return Err(Reason::LbNoBackend);
    }
    let bport = if be.port != 0 { be.port } else { key.dport };
    let mut reply = FlowKey {
        sport: bport,
        proto: key.proto,
        family: 4,
        ..FlowKey::default()
    };
    reply.src[..4].copy_from_slice(&be.addr[..4]);
    reply.dst[..4].copy_from_slice(&svc.src[..4]);
    // A port not taken by a live connection to this backend.
    reply.dport = nat::free_port(h, |p| {
        reply.dport = p;
        match XLAT4.get_ptr(&reply) {
            // SAFETY: a value of the map, valid for this program run.
            Some(r) => (unsafe { (*r).expires_ns }) > now,
            None => false,
        }
    })
    .ok_or(Reason::LbXlatUnsupported)?;
    let expires_ns = now + state::timeout_s(state::UDP) * 1_000_000_000;
    let back = Xlat46 {
        client: key.src,
        vip: key.dst,
        client_port: key.sport,
        vip_port: key.dport,
        state: state::UDP,
        backend_id: id,
        expires_ns,
        ..Xlat46::default()
    };
    XLAT4
        .insert(reply, back, 0)
        .map_err(|_| Reason::LbNoBackend)?;
    let mut backend = [0u8; 4];
    backend.copy_from_slice(&be.addr[..4]);
    let fwd = Xlat64 {
        backend,
        src: [svc.src[0], svc.src[1], svc.src[2], svc.src[3]],
        backend_port: bport,
        src_port: reply.dport,
        state: state::UDP,
        backend_id: id,
        expires_ns,
        ..Xlat64::default()
    };
    XLAT6.insert(key, fwd, 0).map_err(|_| Reason::LbNoBackend)?;
    XLAT6.get_ptr_mut(key).ok_or(Reason::LbNoBackend)
}

/// The backend's direction, IPv4 to IPv6 (`xdp_lb_46`, by tail call from `xdp_lb`).
#[inline(always)]
pub fn to_v6(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV4 || eth.l3_off != ETH_HLEN {
        return Err(Reason::LbXlatUnsupported);
    }
    let mut key = FlowKey::default();
    let ip = ip::parse_ip::<false>(&cur, eth.l3_off, &mut key)?;
    if ip.l4_off != ETH_HLEN + 20 {
        return Err(Reason::LbXlatUnsupported);
    }
    l4_csum(ip.protocol)?;
    let ports = *cur.get::<[u8; 4]>(ip.l4_off, Reason::LbXlatUnsupported)?;
    key.sport = u16::from_be_bytes([ports[0], ports[1]]);
    key.dport = u16::from_be_bytes([ports[2], ports[3]]);
    key.proto = ip.protocol;
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let x = match XLAT4.get_ptr_mut(key) {
        // SAFETY: a value of the map, valid for this program run.
        Some(x) if unsafe { (*x).expires_ns } > now => x,
        _ => return Err(Reason::LbNoService),
    };
    // SAFETY: as above (read in place).
    let x = unsafe { &mut *x };
    let st = nat::next_state(&cur, &ip, x.state)?;
    x.state = st;
    x.expires_ns = now + state::timeout_s(st) * 1_000_000_000;
    crate::maps::count_backend(x.backend_id, false, ip.len);
    let old = csum::add_bytes(csum::add_bytes(0, &key.src[..4]), &key.dst[..4]);
    let new = csum::add_bytes(csum::add_bytes(0, &x.vip), &x.client);
    rewrite_l4(
        &cur,
        ip.l4_off,
        ip.protocol,
        (x.vip_port, x.client_port),
        old,
        new,
    )?;
    let ttl = cur.u8_at(ip.off + 8, Reason::Ipv4Truncated)?;
    let macs = *cur.get::<[u8; 12]>(0, Reason::EthTruncated)?;
    let payload = ip.len - 20;
    // SAFETY: growing the head by 20 bytes (XDP keeps 256 bytes of headroom).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -SHRINK) } != 0 {
        return Err(Reason::LbXlatUnsupported);
    }
    let cur = Cursor::from_xdp(ctx);
    let h = cur.get_mut::<[u8; 54]>(0, Reason::Ipv6Truncated)?;
    // SAFETY: the cursor proved the 54 bytes of the new Ethernet and IPv6 headers.
    let h = unsafe { &mut *h };
    h[..12].copy_from_slice(&macs);
    h[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // Version 6, Traffic Class from TOS, Flow Label 0 (RFC 7915 4.1).
    h[14] = 0x60 | (ip.tos >> 4);
    h[15] = ip.tos << 4;
    h[16] = 0;
    h[17] = 0;
    h[18..20].copy_from_slice(&(payload as u16).to_be_bytes());
    h[20] = ip.protocol;
    h[21] = ttl;
    h[22..38].copy_from_slice(&x.vip);
    h[38..54].copy_from_slice(&x.client);
    let ip6 = Ip {
        v6: true,
        off: ETH_HLEN,
        l4_off: ETH_HLEN + ipv6::IPV6_HLEN,
        protocol: ip.protocol,
        tos: ip.tos,
        len: payload + ipv6::IPV6_HLEN,
    };
    let l = Lookup {
        v6: true,
        src: &x.vip,
        dst: &x.client,
        tos: ip.tos,
        len: ip6.len as u16,
    };
    match nat::route(ctx, &cur, &ip6, &l)? {
        Reason::LbRedirect => Ok(Reason::LbXlatRedirect),
        r => Ok(r),
    }
}
