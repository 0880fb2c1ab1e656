//! IPv4 TCP and UDP to a service: DNAT to a backend chosen by the service's Maglev table, the
//! connection tracked in both directions, so that its later packets go to the same backend and
//! the backend's replies leave with the VIP as their source. Checksums are updated
//! incrementally (RFC 1624): the IPv4 header's, and the TCP or UDP one over the pseudo-header
//! and the port (a UDP checksum of 0, none, stays 0). The packet is then routed by the FIB, TTL
//! one less, as a router does.

use crate::maps::{BACKENDS, CONNTRACK, MAGLEV, SERVICES};
use aya_ebpf::programs::XdpContext;
use bpf_abi::{
    Reason,
    lb::{Ct, FlowKey, MAGLEV_SIZE, ServiceKey, dir},
};
use bpf_net::{
    Cursor, atomic, csum,
    eth::{ETH_P_IPV4, parse_eth},
    fib::{self, Found, Lookup},
    ipv4, proto,
};

/// Offsets in the IPv4 header.
const SRC: usize = 12;
const DST: usize = 16;
const CHECK: usize = 10;

/// One direction's rewrite of the transport header: the port at `port_at` (0 source, 2
/// destination) to `port`, and the checksum over the pseudo-header's address change.
struct Change {
    old_addr: u32,
    new_addr: u32,
    port_at: usize,
    port: u16,
}

impl Change {
    /// Applies it to a transport header of `N` bytes whose checksum is at `CSUM` (`tcp`: always
    /// there; UDP: 0 means none).
    #[inline(always)]
    fn apply<const N: usize, const CSUM: usize>(&self, l4: &mut [u8; N], tcp: bool) {
        let at = if self.port_at == 0 { 0 } else { 2 };
        let old_port = u16::from_be_bytes([l4[at], l4[at + 1]]);
        let c = u16::from_be_bytes([l4[CSUM], l4[CSUM + 1]]);
        if tcp || c != 0 {
            let mut n = csum::replace32(c, self.old_addr, self.new_addr);
            n = csum::replace16(n, old_port, self.port);
            if !tcp && n == 0 {
                // RFC 768: a computed 0 is sent as all ones.
                n = 0xffff;
            }
            l4[CSUM..CSUM + 2].copy_from_slice(&n.to_be_bytes());
        }
        l4[at..at + 2].copy_from_slice(&self.port.to_be_bytes());
    }
}

/// The flow's hash (the 5-tuple, mixed as murmur3's finaliser does): which slot of the
/// service's Maglev table it takes.
#[inline(always)]
fn flow_hash(k: &FlowKey) -> u32 {
    let w = |a: &[u8; 16]| u32::from_ne_bytes([a[0], a[1], a[2], a[3]]);
    let mut h = w(&k.src).wrapping_mul(0xcc9e_2d51);
    h ^= w(&k.dst).rotate_left(15).wrapping_mul(0x1b87_3593);
    h ^= ((u32::from(k.sport) << 16) | u32::from(k.dport)).wrapping_mul(0xe654_6b64);
    h ^= u32::from(k.proto);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The connection's entry for this direction: found, or made for a new connection to a
/// service (both directions).
#[inline(always)]
fn track(key: &FlowKey) -> Result<*mut Ct, Reason> {
    if let Some(ct) = CONNTRACK.get_ptr_mut(key) {
        return Ok(ct);
    }
    let mut sk = ServiceKey {
        vip: key.dst,
        port: key.dport,
        proto: key.proto,
        family: 4,
    };
    // SAFETY: the value is read at once; entries are only replaced whole by the controller.
    let svc = match unsafe { SERVICES.get(sk) } {
        Some(s) => *s,
        None => {
            sk.port = 0;
            // SAFETY: as above.
            match unsafe { SERVICES.get(sk) } {
                Some(s) => *s,
                None => return Err(Reason::LbNoService),
            }
        }
    };
    if svc.backends == 0 {
        return Err(Reason::LbNoBackend);
    }
    let slot = svc.id.wrapping_mul(MAGLEV_SIZE) + flow_hash(key) % MAGLEV_SIZE;
    let Some(&id) = MAGLEV.get(slot) else {
        return Err(Reason::LbNoBackend);
    };
    let Some(be) = BACKENDS.get(id) else {
        return Err(Reason::LbNoBackend);
    };
    if be.used == 0 {
        return Err(Reason::LbNoBackend);
    }
    let port = if be.port != 0 { be.port } else { key.dport };
    let orig = Ct {
        nat_addr: be.addr,
        nat_port: port,
        dir: dir::ORIGINAL,
        _pad: 0,
        backend: id,
        packets: 0,
    };
    let reply_key = FlowKey {
        src: be.addr,
        dst: key.src,
        sport: port,
        dport: key.sport,
        proto: key.proto,
        family: 4,
        _pad: [0; 2],
    };
    let reply = Ct {
        nat_addr: key.dst,
        nat_port: key.dport,
        dir: dir::REPLY,
        _pad: 0,
        backend: id,
        packets: 0,
    };
    // The reply first: once the original is there, the connection is complete.
    if CONNTRACK.insert(reply_key, reply, 0).is_err() || CONNTRACK.insert(key, orig, 0).is_err() {
        return Err(Reason::LbNoBackend);
    }
    CONNTRACK.get_ptr_mut(key).ok_or(Reason::LbNoBackend)
}

/// Translates and forwards a TCP or UDP packet of a tracked connection or to a service.
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != ETH_P_IPV4 {
        return Err(Reason::LbNoService);
    }
    let ip = ipv4::parse_ipv4(&cur, eth.l3_off)?;
    let trunc = match ip.protocol {
        proto::TCP => Reason::TcpTruncated,
        proto::UDP => Reason::UdpTruncated,
        _ => return Err(Reason::LbNoService),
    };
    if ip.fragment {
        return Err(Reason::LbNoService);
    }
    let ports = *cur.get::<[u8; 4]>(ip.l4_off, trunc)?;
    let mut key = FlowKey::default();
    key.src[..4].copy_from_slice(&ip.src);
    key.dst[..4].copy_from_slice(&ip.dst);
    key.sport = u16::from_be_bytes([ports[0], ports[1]]);
    key.dport = u16::from_be_bytes([ports[2], ports[3]]);
    key.proto = ip.protocol;
    key.family = 4;
    let ct = track(&key)?;
    // SAFETY: a value of the conntrack map, valid for this program run.
    let (nat_addr, nat_port, direction) = unsafe {
        atomic::fetch_add(core::ptr::addr_of_mut!((*ct).packets), 1);
        ((*ct).nat_addr, (*ct).nat_port, (*ct).dir)
    };
    // The address and port this direction rewrites: the destination of the original, the
    // source of the reply.
    let (addr_at, port_at) = if direction == dir::ORIGINAL {
        (DST, 2)
    } else {
        (SRC, 0)
    };
    let h = cur.get_mut::<[u8; 20]>(ip.off, Reason::Ipv4Truncated)?;
    let new_addr = u32::from_be_bytes([nat_addr[0], nat_addr[1], nat_addr[2], nat_addr[3]]);
    // SAFETY: the cursor proved the 20 bytes of the IPv4 header; nothing else refers to them.
    let old_addr = unsafe {
        let h = &mut *h;
        let old = u32::from_be_bytes([h[addr_at], h[addr_at + 1], h[addr_at + 2], h[addr_at + 3]]);
        let c = u16::from_be_bytes([h[CHECK], h[CHECK + 1]]);
        h[CHECK..CHECK + 2].copy_from_slice(&csum::replace32(c, old, new_addr).to_be_bytes());
        h[addr_at..addr_at + 4].copy_from_slice(&new_addr.to_be_bytes());
        old
    };
    let change = Change {
        old_addr,
        new_addr,
        port_at,
        port: nat_port,
    };
    if ip.protocol == proto::TCP {
        let l4 = cur.get_mut::<[u8; 20]>(ip.l4_off, Reason::TcpTruncated)?;
        // SAFETY: the cursor proved the 20 bytes of the TCP header.
        change.apply::<20, 16>(unsafe { &mut *l4 }, true);
    } else {
        let l4 = cur.get_mut::<[u8; 8]>(ip.l4_off, Reason::UdpTruncated)?;
        // SAFETY: the cursor proved the 8 bytes of the UDP header.
        change.apply::<8, 6>(unsafe { &mut *l4 }, false);
    }
    if ipv4::ttl_expiring(&cur, ip.off)? {
        // The kernel answers with ICMP Time Exceeded.
        return Ok(Reason::LbToKernel);
    }
    let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
    // SAFETY: the 20 bytes proved above; read back after the rewrite.
    let h = unsafe { &*h };
    src[..4].copy_from_slice(&h[SRC..SRC + 4]);
    dst[..4].copy_from_slice(&h[DST..DST + 4]);
    let l = Lookup {
        v6: false,
        src: &src,
        dst: &dst,
        tos: ip.tos,
        len: ip.total_len as u16,
    };
    match fib::lookup(ctx, &l)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            ipv4::decrement_ttl(&cur, ip.off)?;
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(Reason::LbRedirect)
        }
        Found::Kernel | Found::TooBig(_) => Ok(Reason::LbToKernel),
    }
}
