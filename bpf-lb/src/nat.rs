//! TCP and UDP over IPv4 and IPv6 to a service: DNAT to a backend of the VIP's family (NAT44,
//! NAT66) chosen by the service's Maglev table, the
//! connection tracked in both directions, so that its later packets go to the same backend and
//! the backend's replies leave with the VIP as their source. Checksums are updated
//! incrementally (RFC 1624): the IPv4 header's, and the TCP or UDP one over the pseudo-header
//! and the port (an IPv4 UDP checksum of 0, none, stays 0). The packet is then routed by the
//! FIB, TTL or Hop Limit one less, as a router does.

use crate::{
    ip::{Ip, parse_ip, settle},
    maps::{BACKENDS, CONNTRACK, LB_JUMP, MAGLEV, SERVICES},
};
use aya_ebpf::{helpers::generated::bpf_ktime_get_coarse_ns, programs::XdpContext};
use bpf_abi::{
    Reason,
    lb::{Ct, FlowKey, MAGLEV_SIZE, PROBE_PORT_FIRST, ServiceKey, dir, jump, mode, state},
};
use bpf_net::{
    Cursor, atomic, csum,
    eth::{ETH_P_IPV4, ETH_P_IPV6, parse_eth},
    fib::{self, Fwd, Lookup},
    ipv4, ipv6, proto,
    tcp::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN},
};

/// Offsets in the IPv4 header.
const SRC: usize = 12;
const DST: usize = 16;
const CHECK: usize = 10;
/// Offsets in the IPv6 header.
const SRC6: usize = 8;
const DST6: usize = 24;

/// One direction's rewrite of the transport header: the port at `port_at` (0 source, 2
/// destination) to `port`, and the checksum over the pseudo-header's address change.
struct Change<'a> {
    /// The address before and after (IPv4: its first 4 bytes).
    old_addr: &'a [u8; 16],
    new_addr: &'a [u8; 16],
    /// 32-bit words of the address: 1 (IPv4) or 4 (IPv6).
    words: usize,
    port_at: usize,
    port: u16,
}

impl Change<'_> {
    /// Applies it to the packet's TCP or UDP header.
    #[inline(always)]
    fn apply_to(&self, cur: &Cursor, ip: &Ip) -> Result<(), Reason> {
        if ip.protocol == proto::TCP {
            let l4 = cur.get_mut::<[u8; 20]>(ip.l4_off, Reason::TcpTruncated)?;
            // SAFETY: the cursor proved the 20 bytes of the TCP header.
            self.apply::<20, 16>(unsafe { &mut *l4 }, true);
        } else {
            let l4 = cur.get_mut::<[u8; 8]>(ip.l4_off, Reason::UdpTruncated)?;
            // SAFETY: the cursor proved the 8 bytes of the UDP header.
            self.apply::<8, 6>(unsafe { &mut *l4 }, false);
        }
        Ok(())
    }

    /// Applies it to a transport header of `N` bytes whose checksum is at `CSUM` (`tcp`: always
    /// there; UDP: 0 means none).
    #[inline(always)]
    fn apply<const N: usize, const CSUM: usize>(&self, l4: &mut [u8; N], tcp: bool) {
        let at = if self.port_at == 0 { 0 } else { 2 };
        let old_port = u16::from_be_bytes([l4[at], l4[at + 1]]);
        let c = u16::from_be_bytes([l4[CSUM], l4[CSUM + 1]]);
        if tcp || c != 0 {
            let mut n = c;
            let mut w = 0;
            while w < 4 {
                if w < self.words {
                    n = csum::replace32(n, word(self.old_addr, w), word(self.new_addr, w));
                }
                w += 1;
            }
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

/// The `i`th 32-bit big-endian word of an address.
#[inline(always)]
pub(crate) fn word(a: &[u8; 16], i: usize) -> u32 {
    let i = i & 3;
    u32::from_be_bytes([a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]])
}

/// The flow's hash (`bpf_abi::lb::flow_hash`).
#[inline(always)]
pub(crate) fn flow_hash(k: &FlowKey) -> u32 {
    bpf_abi::lb::flow_hash(k)
}

/// The Maglev slot of a new connection of `svc` by its scheduler: `hash` (the connection's),
/// the client address `src`'s hash, or the next slot of this CPU's round robin.
#[inline(always)]
pub(crate) fn slot_of(svc: &bpf_abi::lb::Service, src: &[u8; 16], hash: u32) -> u32 {
    let h = match svc.sched {
        bpf_abi::lb::sched::SOURCE_HASH => {
            let k = FlowKey {
                src: *src,
                ..FlowKey::default()
            };
            flow_hash(&k)
        }
        bpf_abi::lb::sched::ROUND_ROBIN => match crate::maps::RR.get_ptr_mut(0) {
            // SAFETY: this CPU's counter, valid for this run.
            Some(c) => unsafe {
                *c = (*c).wrapping_add(1);
                *c
            },
            None => hash,
        },
        _ => hash,
    };
    svc.id.wrapping_mul(MAGLEV_SIZE) + h % MAGLEV_SIZE
}

/// Source ports given to connections that get one of their own (full NAT, NAT64): 1024 up to
/// the health probes' ports (`bpf_abi::lb::PROBE_PORT_FIRST`), which a connection never gets.
const PORT_BASE: u32 = 1024;
/// Ports tried for a new connection before giving up: with these, one source address holds
/// about 40 000 connections to one backend address and port before the first refusal
/// (double hashing over 63 488 ports; 65 % full).
const PORT_TRIES: u32 = 16;

/// A source port for a new connection that `taken` says is free: the flow's hash `h` picks
/// the first tried and the step to the next ones (double hashing, so that connections whose
/// first ports are neighbours do not pile up), [`PORT_TRIES`] at most.
#[inline(always)]
pub(crate) fn free_port(h: u32, mut taken: impl FnMut(u16) -> bool) -> Option<u16> {
    let step = (h.wrapping_mul(0x9e37_79b1) >> 16) | 1;
    let mut i = 0;
    while i < PORT_TRIES {
        let p = (PORT_BASE
            + ((h >> 8).wrapping_add(i.wrapping_mul(step)) % (PROBE_PORT_FIRST as u32 - PORT_BASE)))
            as u16;
        if !taken(p) {
            return Some(p);
        }
        i += 1;
    }
    None
}

/// What a packet without a live conntrack entry belongs to.
enum Tracked {
    /// A new connection of this family: its entries are made.
    Opened,
    /// A NAT64 service or connection, the client's direction (`xdp_lb_64`).
    Nat64,
    /// A NAT64 connection, the backend's direction (`xdp_lb_46`).
    Nat46,
}

/// A packet without a live conntrack entry (none, or expired and not swept yet): a new
/// connection to a service gets its entries (both directions; DSR: the client's only), or it
/// is NAT64's.
#[inline(always)]
fn track(key: &FlowKey, now: u64) -> Result<Tracked, Reason> {
    if key.family == 4 && crate::maps::XLAT4.get_ptr(key).is_some() {
        return Ok(Tracked::Nat46);
    }
    let mut sk = ServiceKey {
        vip: key.dst,
        port: key.dport,
        proto: key.proto,
        family: key.family,
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
    if svc.mode == mode::NAT64 {
        return Ok(Tracked::Nat64);
    }
    if svc.backends == 0 {
        return Err(Reason::LbNoBackend);
    }
    let slot = slot_of(&svc, &key.src, flow_hash(key));
    let Some(&id) = MAGLEV.get(slot) else {
        return Err(Reason::LbNoBackend);
    };
    let Some(be) = BACKENDS.get(id) else {
        return Err(Reason::LbNoBackend);
    };
    if be.used == 0 || be.family != key.family {
        return Err(Reason::LbNoBackend);
    }
    let port = if be.port != 0 { be.port } else { key.dport };
    let expires_ns = now + state::timeout_s(state::UDP) * 1_000_000_000;
    // The reply's entry first (once the original is there, the connection is complete):
    // DNAT's reply comes from the backend to the client, full NAT's to the service's address
    // and a port of the connection's own; DSR's replies do not pass here.
    let mut ct = Ct {
        nat_addr: key.dst,
        nat_port: key.dport,
        dir: dir::REPLY,
        state: state::UDP,
        backend: id,
        packets: 0,
        expires_ns,
        peer_addr: [0; 16],
        peer_port: 0,
        mode: svc.mode as u8,
        _pad: [0; 5],
    };
    match svc.mode {
        mode::DSR_L2 | mode::DSR_TUNNEL => ct.peer_addr = svc.src,
        mode::FULL_NAT => {
            let mut reply_key = FlowKey {
                src: be.addr,
                dst: svc.src,
                sport: port,
                dport: 0,
                proto: key.proto,
                family: key.family,
                _pad: [0; 2],
            };
            let p = free_port(flow_hash(key), |p| {
                reply_key.dport = p;
                match CONNTRACK.get_ptr(&reply_key) {
                    // SAFETY: a value of the map, valid for this program run.
                    Some(c) => (unsafe { (*c).expires_ns }) > now,
                    None => false,
                }
            })
            .ok_or(Reason::LbNoPort)?;
            reply_key.dport = p;
            ct.peer_addr = key.src;
            ct.peer_port = key.sport;
            if CONNTRACK.insert(&reply_key, &ct, 0).is_err() {
                return Err(Reason::LbNoBackend);
            }
            ct.peer_addr = svc.src;
            ct.peer_port = p;
        }
        _ => {
            let reply_key = FlowKey {
                src: be.addr,
                dst: key.src,
                sport: port,
                dport: key.sport,
                proto: key.proto,
                family: key.family,
                _pad: [0; 2],
            };
            if CONNTRACK.insert(&reply_key, &ct, 0).is_err() {
                return Err(Reason::LbNoBackend);
            }
        }
    }
    ct.nat_addr = be.addr;
    ct.nat_port = port;
    ct.dir = dir::ORIGINAL;
    if CONNTRACK.insert(key, &ct, 0).is_err() {
        return Err(Reason::LbNoBackend);
    }
    Ok(Tracked::Opened)
}

/// A TCP or UDP packet without a live conntrack entry (`xdp_lb_new`, `xdp_lb_new6`, tail
/// calls from `xdp_lb` / `xdp_lb6`): a new connection to a service gets its entries, then the
/// packet goes back to `xdp_lb` / `xdp_lb6`, which translates it as any of the connection's
/// packets. Apart from the translation, so that each program's verification stays small. (A
/// connection's entry evicted between the two would bounce the packet between them until the
/// kernel's limit of 33 tail calls: dropped, counted `tail_call_failed`.)
#[inline(always)]
pub fn open<const V6: bool>(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    if eth.ethertype != (if V6 { ETH_P_IPV6 } else { ETH_P_IPV4 }) {
        return Err(Reason::LbNoService);
    }
    let mut key = FlowKey::default();
    let ip = parse_ip::<V6>(&cur, eth.l3_off, &mut key)?;
    let trunc = match ip.protocol {
        proto::TCP => Reason::TcpTruncated,
        proto::UDP => Reason::UdpTruncated,
        _ => return Err(Reason::LbNoService),
    };
    let ports = *cur.get::<[u8; 4]>(ip.l4_off, trunc)?;
    key.sport = u16::from_be_bytes([ports[0], ports[1]]);
    key.dport = u16::from_be_bytes([ports[2], ports[3]]);
    key.proto = ip.protocol;
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let to = match track(&key, now)? {
        Tracked::Opened if V6 => jump::IPV6,
        Tracked::Opened => jump::IPV4,
        Tracked::Nat64 => jump::NAT64,
        Tracked::Nat46 => jump::NAT46,
    };
    // SAFETY: a tail call to a program the loader put at `to`; returns only if it fails.
    unsafe { LB_JUMP.tail_call(ctx, to) };
    Err(Reason::TailCallFailed)
}

/// A direction's state after this packet, from its TCP flags (a FIN or RST closes; a SYN alone
/// opens) and the state it was in; UDP has one.
#[inline(always)]
pub(crate) fn next_state(cur: &Cursor, ip: &Ip, was: u8) -> Result<u8, Reason> {
    if ip.protocol != proto::TCP {
        return Ok(state::UDP);
    }
    let flags = cur.u8_at(ip.l4_off + 13, Reason::TcpTruncated)?;
    Ok(
        if flags & (TCP_FIN | TCP_RST) != 0 || was == state::CLOSING {
            state::CLOSING
        } else if flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            state::SYN
        } else {
            state::ESTABLISHED
        },
    )
}

/// Writes `new` over the packet's destination (`dst`) or source address `old`, updating the
/// IPv4 header checksum (IPv6 has none; the transport checksum is the caller's).
#[inline(always)]
pub(crate) fn set_addr(
    cur: &Cursor,
    ip: &Ip,
    dst: bool,
    old: &[u8; 16],
    new: &[u8; 16],
) -> Result<(), Reason> {
    if ip.v6 {
        let h = cur.get_mut::<[u8; 40]>(ip.off, Reason::Ipv6Truncated)?;
        let at = if dst { DST6 } else { SRC6 };
        // SAFETY: the cursor proved the 40 bytes of the IPv6 header; nothing else refers to
        // them.
        unsafe { (&mut *h)[at..at + 16].copy_from_slice(new) };
    } else {
        let at = if dst { DST } else { SRC };
        let h = cur.get_mut::<[u8; 20]>(ip.off, Reason::Ipv4Truncated)?;
        // SAFETY: the cursor proved the 20 bytes of the IPv4 header; nothing else refers to
        // them.
        let h = unsafe { &mut *h };
        let c = u16::from_be_bytes([h[CHECK], h[CHECK + 1]]);
        let c = csum::replace32(c, word(old, 0), word(new, 0));
        h[CHECK..CHECK + 2].copy_from_slice(&c.to_be_bytes());
        h[at..at + 4].copy_from_slice(&new[..4]);
    }
    Ok(())
}

/// Translates and forwards a TCP or UDP packet of a tracked connection or to a service: IPv4
/// here (`xdp_lb`), IPv6 in `xdp_lb6` (`V6`), reached by tail call (one family's code per
/// program: both in one exceed the 512-byte stack).
#[inline(always)]
pub fn ingress<const V6: bool>(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    // Not `FlowKey::default()`: a `memset` call (see bpf_net::mem).
    let mut key_slot = core::mem::MaybeUninit::uninit();
    // SAFETY: an all-zero flow key is valid (addresses, ports and bytes).
    let key: &mut FlowKey = unsafe { bpf_net::mem::zeroed(&mut key_slot) };
    let ethertype = match eth.ethertype {
        ETH_P_IPV6 if !V6 => {
            // SAFETY: a tail call to a program the loader put at `jump::IPV6`; returns only if
            // it fails.
            unsafe { LB_JUMP.tail_call(ctx, jump::IPV6) };
            return Err(Reason::TailCallFailed);
        }
        ETH_P_IPV4 if V6 => return Err(Reason::LbNoService),
        t => t,
    };
    let ip = match ethertype {
        ETH_P_IPV4 | ETH_P_IPV6 => parse_ip::<V6>(&cur, eth.l3_off, key)?,
        _ => return Err(Reason::LbNoService),
    };
    // IPv6: a stage boundary after the extension headers (see `settle`). Linux 6.1 otherwise
    // walks the rest once per VLAN and extension-header path, past its instruction limit.
    let ip = if V6 { settle(ip)? } else { ip };
    let trunc = match ip.protocol {
        proto::TCP => Reason::TcpTruncated,
        proto::UDP => Reason::UdpTruncated,
        proto::ICMP | proto::ICMPV6 if (ip.protocol == proto::ICMPV6) == V6 => {
            // Echo Requests to VIPs and errors about connections: `xdp_lb_icmp(6)`.
            let to = if V6 { jump::ICMP6 } else { jump::ICMP };
            // SAFETY: a tail call to a program the loader put at `to`; returns only if it
            // fails.
            unsafe { LB_JUMP.tail_call(ctx, to) };
            return Err(Reason::TailCallFailed);
        }
        proto::SCTP => {
            let to = if V6 { jump::SCTP6 } else { jump::SCTP };
            // SAFETY: a tail call to a program the loader put at `to`; returns only if it
            // fails.
            unsafe { LB_JUMP.tail_call(ctx, to) };
            return Err(Reason::TailCallFailed);
        }
        _ => return Err(Reason::LbNoService),
    };
    let ports = *cur.get::<[u8; 4]>(ip.l4_off, trunc)?;
    key.sport = u16::from_be_bytes([ports[0], ports[1]]);
    key.dport = u16::from_be_bytes([ports[2], ports[3]]);
    key.proto = ip.protocol;
    if key.dport >= PROBE_PORT_FIRST
        && crate::maps::is_probe_source(&key.dst, ip.protocol, key.family)
    {
        // An answer to one of the daemon's TCP or UDP health probes: the kernel's, untouched.
        return Ok(Reason::LbHealthProbe);
    }
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let ct = match CONNTRACK.get_ptr_mut(&*key) {
        // SAFETY: a value of the conntrack map, valid for this program run.
        Some(ct) if unsafe { (*ct).expires_ns } > now => ct,
        _ => {
            // A new connection (or NAT64's): `xdp_lb_new(6)`.
            let to = if V6 { jump::NEW6 } else { jump::NEW };
            // SAFETY: a tail call to a program the loader put at `to`; returns only if it
            // fails.
            unsafe { LB_JUMP.tail_call(ctx, to) };
            return Err(Reason::TailCallFailed);
        }
    };
    // SAFETY: as below.
    let st = next_state(&cur, &ip, unsafe { (*ct).state })?;
    // SAFETY: a value of the conntrack map, valid for this program run (read in place: the
    // stack has no room for a copy in xdp_lb6). Racing writers on other CPUs write the same
    // kind of values; the counter is atomic.
    let (nat_addr, nat_port, direction, backend, m) = unsafe {
        atomic::fetch_add(core::ptr::addr_of_mut!((*ct).packets), 1);
        (*ct).state = st;
        (*ct).expires_ns = now + state::timeout_s(st) * 1_000_000_000;
        (
            &(*ct).nat_addr,
            (*ct).nat_port,
            (*ct).dir,
            (*ct).backend,
            u32::from((*ct).mode),
        )
    };
    crate::maps::count_backend(backend, direction == dir::ORIGINAL, ip.len);
    let dsr = m == mode::DSR_L2 || m == mode::DSR_TUNNEL;
    if dsr {
        let tunnel = m == mode::DSR_TUNNEL;
        // SAFETY: as above.
        let src = unsafe { &(*ct).peer_addr };
        let len = crate::dsr::prepare(ctx, &cur, &ip, &*key, nat_addr, src, tunnel)?;
        let l = Lookup {
            v6: ip.v6,
            src: if tunnel { src } else { &key.src },
            dst: nat_addr,
            tos: ip.tos,
            len: len as u16,
        };
        let r = route_as(ctx, &cur, &ip, &l, true);
        if tunnel && r == Err(Reason::LbTooBig) && crate::dsr::unwrap(ctx, ip.v6).is_ok() {
            // Too big once encapsulated: the frame as it came (the tunnel's header off),
            // `xdp_lb_too_big` sends the client its "too big".
            // SAFETY: a tail call to a program the loader put at `jump::TOO_BIG`; returns
            // only if it fails.
            unsafe { LB_JUMP.tail_call(ctx, jump::TOO_BIG) };
        }
        return r;
    }
    // SAFETY: as above.
    let (peer, peer_port) = unsafe { (&(*ct).peer_addr, (*ct).peer_port) };
    let full = m == mode::FULL_NAT;
    // One branch on the direction, each arm with it a constant. Verifier workaround (Linux
    // 6.1): LLVM tests a runtime direction once per `if`, on a copy reloaded from the stack,
    // and 6.1 does not carry what one test learnt to the next copy, so it walked every
    // combination of the tests (2 to the 8th and more), past its instruction limit.
    if direction == dir::ORIGINAL {
        rewrite::<true>(&cur, &ip, key, nat_addr, nat_port, full, peer, peer_port)?;
    } else {
        rewrite::<false>(&cur, &ip, key, nat_addr, nat_port, full, peer, peer_port)?;
    }
    let l = Lookup {
        v6: ip.v6,
        src: &key.src,
        dst: &key.dst,
        tos: ip.tos,
        len: ip.len as u16,
    };
    route(ctx, &cur, &ip, &l)
}

/// Rewrites a packet of an established connection in the direction `ORIGINAL` (client to
/// service) or the reply's: the destination of the original (the source of the reply) becomes
/// `nat_addr` and `nat_port`; with `full` NAT the other address too, to `peer` and
/// `peer_port`. `key` becomes the packet's addresses after the rewrite.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "one inlined arm per direction")]
fn rewrite<const ORIGINAL: bool>(
    cur: &Cursor,
    ip: &Ip,
    key: &mut FlowKey,
    nat_addr: &[u8; 16],
    nat_port: u16,
    full: bool,
    peer: &[u8; 16],
    peer_port: u16,
) -> Result<(), Reason> {
    let port_at = if ORIGINAL { 2 } else { 0 };
    let old = if ORIGINAL { &key.dst } else { &key.src };
    let change = Change {
        old_addr: old,
        new_addr: nat_addr,
        words: if ip.v6 { 4 } else { 1 },
        port_at,
        port: nat_port,
    };
    set_addr(cur, ip, ORIGINAL, old, nat_addr)?;
    change.apply_to(cur, ip)?;
    if full {
        // The other address too: the client's source becomes the service's address and the
        // connection's port; the reply's destination the client again.
        let other = if ORIGINAL { &key.src } else { &key.dst };
        let change = Change {
            old_addr: other,
            new_addr: peer,
            words: if ip.v6 { 4 } else { 1 },
            port_at: 2 - port_at,
            port: peer_port,
        };
        set_addr(cur, ip, !ORIGINAL, other, peer)?;
        change.apply_to(cur, ip)?;
        // By words: `*peer` out of the map value is a `memmove` call (see bpf_net::mem).
        if ORIGINAL {
            key.src = bpf_net::mem::copy16(peer);
        } else {
            key.dst = bpf_net::mem::copy16(peer);
        }
    }
    // The packet's addresses after the rewrite.
    if ORIGINAL {
        key.dst = bpf_net::mem::copy16(nat_addr);
    } else {
        key.src = bpf_net::mem::copy16(nat_addr);
    }
    Ok(())
}

/// Forwards a translated packet as a router does: to the kernel when its TTL / Hop Limit is
/// expiring (it answers with Time Exceeded), else by the per-CPU next-hop cache or the FIB
/// TTL / Hop Limit one less when redirected here (the redirect
/// happens when the program returns; the kernel decrements what it forwards itself).
#[inline(always)]
pub(crate) fn route(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    l: &Lookup<'_>,
) -> Result<Reason, Reason> {
    route_as(ctx, cur, ip, l, false)
}

/// As [`route`], with the interface the packet leaves on, redirected or by the kernel (0: not
/// known), for SCTP's replies. Not through [`route_as`]: the interface carried out of the one
/// FIB call site of TCP and UDP took `xdp_lb6` past the verifier's limit on Linux 6.1.
#[inline(always)]
pub(crate) fn route_egress(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    l: &Lookup<'_>,
) -> Result<(Reason, u32), Reason> {
    let expiring = if ip.v6 {
        ipv6::hop_limit_expiring(cur, ip.off)?
    } else {
        ipv4::ttl_expiring(cur, ip.off)?
    };
    if expiring {
        return Ok((Reason::LbToKernel, 0));
    }
    match fib::forward(ctx, l)? {
        Fwd::Redirected(ifindex) => {
            if ip.v6 {
                ipv6::decrement_hop_limit(cur, ip.off)?;
            } else {
                ipv4::decrement_ttl(cur, ip.off)?;
            }
            Ok((Reason::LbRedirect, ifindex))
        }
        Fwd::Kernel(ifindex) => Ok((Reason::LbToKernel, ifindex)),
        Fwd::TooBig(_) => Ok((Reason::LbToKernel, 0)),
    }
}

/// As [`route`], or (`dsr`) for a DSR packet: sent to the backend by the FIB as it is (no
/// TTL / Hop Limit change; `cur` and `ip` unused), never to the kernel (its destination is the
/// VIP). One FIB call site for both: the verifier walks it once.
#[inline(always)]
fn route_as(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    l: &Lookup<'_>,
    dsr: bool,
) -> Result<Reason, Reason> {
    if !dsr {
        let expiring = if ip.v6 {
            ipv6::hop_limit_expiring(cur, ip.off)?
        } else {
            ipv4::ttl_expiring(cur, ip.off)?
        };
        if expiring {
            return Ok(Reason::LbToKernel);
        }
    }
    match fib::forward(ctx, l)? {
        Fwd::Redirected(_) if dsr => Ok(Reason::LbDsrRedirect),
        Fwd::Kernel(_) if dsr => Err(Reason::LbDsrNoRoute),
        Fwd::TooBig(mtu) if dsr => {
            // For `xdp_lb_too_big`, which tells the client.
            if let Some(m) = crate::maps::MTU.get_ptr_mut(0) {
                // SAFETY: this CPU's value of the per-CPU array, valid for this run.
                unsafe { *m = u32::from(mtu) };
            }
            Err(Reason::LbTooBig)
        }
        Fwd::Redirected(_) => {
            if ip.v6 {
                ipv6::decrement_hop_limit(cur, ip.off)?;
            } else {
                ipv4::decrement_ttl(cur, ip.off)?;
            }
            Ok(Reason::LbRedirect)
        }
        Fwd::Kernel(_) | Fwd::TooBig(_) => Ok(Reason::LbToKernel),
    }
}

/// An ICMP Echo Request (IPv4, type 8) or ICMPv6 one (128) to a VIP: answered in place
/// (RFC 792, RFC 4443 4.2), addresses and MACs swapped, TTL or Hop Limit 64, the type made
/// the reply's; the checksums change by the type and TTL words only (swapping addresses
/// leaves every sum alone). Anything else is the kernel's.
#[inline(always)]
pub(crate) fn echo(cur: &Cursor, ip: &Ip, key: &FlowKey) -> Result<Reason, Reason> {
    let r = echo_fn(cur, ip, key);
    match Reason::from_index(r & 0xffff) {
        Some(reason) if r >> 16 == 0 => Ok(reason),
        Some(reason) => Err(reason),
        None => Err(Reason::LbNoService),
    }
}

/// [`echo`] as a BPF function of its own (its stack frame apart from the caller's): the
/// reason's index, bit 16 set for an error.
#[inline(never)]
fn echo_fn(cur: &Cursor, ip: &Ip, key: &FlowKey) -> u32 {
    match echo_in(cur, ip, key) {
        Ok(r) => r as u32,
        Err(r) => r as u32 | 1 << 16,
    }
}

#[inline(always)]
fn echo_in(cur: &Cursor, ip: &Ip, key: &FlowKey) -> Result<Reason, Reason> {
    let (request, reply) = if ip.v6 { (128u8, 129u8) } else { (8, 0) };
    let h = cur.get_mut::<[u8; 4]>(ip.l4_off, Reason::IcmpTruncated)?;
    // SAFETY: the cursor proved the ICMP header's first 4 bytes.
    let h = unsafe { &mut *h };
    if h[0] != request || h[1] != 0 {
        return Err(Reason::LbNoService);
    }
    let vip = ServiceKey {
        vip: key.dst,
        port: 0,
        proto: 0,
        family: key.family,
    };
    // SAFETY: read at once.
    if unsafe { crate::maps::VIPS.get(vip) }.is_none() {
        return Err(Reason::LbNoService);
    }
    let c = u16::from_be_bytes([h[2], h[3]]);
    let c = csum::replace16(c, u16::from(request) << 8, u16::from(reply) << 8);
    h[0] = reply;
    h[2..4].copy_from_slice(&c.to_be_bytes());
    let e = cur.get_mut::<[u8; 12]>(0, Reason::EthTruncated)?;
    // SAFETY: the cursor proved the 12 bytes of the MAC addresses.
    let e = unsafe { &mut *e };
    let mut m = [0u8; 6];
    m.copy_from_slice(&e[..6]);
    e.copy_within(6..12, 0);
    e[6..12].copy_from_slice(&m);
    if ip.v6 {
        let h6 = cur.get_mut::<[u8; 40]>(ip.off, Reason::Ipv6Truncated)?;
        // SAFETY: the cursor proved the 40 bytes of the IPv6 header.
        let h6 = unsafe { &mut *h6 };
        let mut a = [0u8; 16];
        a.copy_from_slice(&h6[SRC6..SRC6 + 16]);
        h6.copy_within(DST6..DST6 + 16, SRC6);
        h6[DST6..DST6 + 16].copy_from_slice(&a);
        h6[7] = 64;
    } else {
        let h4 = cur.get_mut::<[u8; 20]>(ip.off, Reason::Ipv4Truncated)?;
        // SAFETY: the cursor proved the 20 bytes of the IPv4 header.
        let h4 = unsafe { &mut *h4 };
        let mut a = [0u8; 4];
        a.copy_from_slice(&h4[SRC..SRC + 4]);
        h4.copy_within(DST..DST + 4, SRC);
        h4[DST..DST + 4].copy_from_slice(&a);
        let old = u16::from_be_bytes([h4[8], h4[9]]);
        let new = (64u16 << 8) | u16::from(h4[9]);
        let c = u16::from_be_bytes([h4[CHECK], h4[CHECK + 1]]);
        h4[CHECK..CHECK + 2].copy_from_slice(&csum::replace16(c, old, new).to_be_bytes());
        h4[8] = 64;
    }
    Ok(Reason::LbEchoReply)
}
