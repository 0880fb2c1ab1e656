//! ICMP (RFC 792) and ICMPv6 (RFC 4443) in `xdp_lb_icmp` and `xdp_lb_icmp6` (tail calls from
//! `xdp_lb` / `xdp_lb6`): Echo Requests to a VIP are answered (`nat::echo`), and errors about
//! a tracked connection's packets translated. The quoted packet
//! went one way through the load balancer; the error goes back the other way, so both it and
//! its quote are translated as the connection's packets of that way are:
//!
//! - an error from the backend's side quotes a packet sent to the backend: the quote's
//!   destination becomes the VIP again (and, full NAT, its source the client), and the error
//!   goes to the client;
//! - an error from the client's side quotes a reply sent to the client: the quote's source
//!   becomes the backend (and, full NAT, its destination the load balancer's address and the
//!   connection's port), and the error goes to the backend.
//!
//! The error's destination becomes the quote's (new) source; its source, when it was the
//! quoted destination (the end host itself complained), the quote's new destination, so that
//! each side sees only the addresses it talks to. Checksums are updated incrementally
//! (RFC 1624): the quoted IPv4 header's, the quoted UDP checksum (0 stays 0) and, when the
//! quote holds it, the quoted TCP checksum; the ICMP checksum (ICMPv6's over its
//! pseudo-header too) and the outer IPv4 header's. Then the error is routed as the
//! connection's packets are. Quotes with IPv4 options or IPv6 extension headers, errors with
//! them, DSR connections (their replies do not pass here) and anything not tracked are the
//! kernel's. SCTP quotes (IPv4) go to `xdp_lb_sctp`.

use crate::{
    ip::{self, Ip},
    maps::{CONNTRACK, LB_JUMP},
    nat,
};
use aya_ebpf::programs::XdpContext;
use bpf_abi::{
    Reason,
    lb::{FlowKey, dir, jump, mode},
};
use bpf_net::{Cursor, csum, eth::parse_eth, fib::Lookup, proto};

/// The ICMP types that quote the packet they are about: IPv4 Destination Unreachable, Time
/// Exceeded, Parameter Problem (RFC 792); ICMPv6 Destination Unreachable, Packet Too Big,
/// Time Exceeded, Parameter Problem (RFC 4443).
#[inline(always)]
pub fn quoting<const V6: bool>(ty: u8) -> bool {
    if V6 {
        (1..=4).contains(&ty)
    } else {
        ty == 3 || ty == 11 || ty == 12
    }
}

/// `xdp_lb_icmp` / `xdp_lb_icmp6`.
#[inline(always)]
pub fn ingress<const V6: bool>(ctx: &XdpContext) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth = parse_eth(&cur)?;
    // The packet's key and, for an error, its quote's new addresses live in a per-CPU
    // scratch (the stack has no room left for them next to the FIB lookup's).
    let Some(s) = crate::maps::ICMP_SCRATCH.get_ptr_mut(0) else {
        return Err(Reason::LbNoService);
    };
    // SAFETY: this CPU's value of the per-CPU array, valid for this run; no other user on
    // this CPU meanwhile.
    let [key, new] = unsafe { &mut *s };
    *key = FlowKey::default();
    let ip = ip::parse_ip::<V6>(&cur, eth.l3_off, key)?;
    let want = if V6 { proto::ICMPV6 } else { proto::ICMP };
    if ip.protocol != want {
        return Err(Reason::LbNoService);
    }
    let ty = cur.u8_at(ip.l4_off, Reason::IcmpTruncated)?;
    if ty == (if V6 { 128 } else { 8 }) {
        return nat::echo(&cur, &ip, key);
    }
    error::<V6>(ctx, &cur, &ip, key, new)
}

/// Reads the address at `off` (4 or 16 bytes) into the first bytes of a 16-byte one.
#[inline(always)]
fn addr<const V6: bool>(cur: &Cursor, off: usize) -> Result<[u8; 16], Reason> {
    let mut a = [0u8; 16];
    if V6 {
        a = *cur.get::<[u8; 16]>(off, Reason::IcmpTruncated)?;
    } else {
        a[..4].copy_from_slice(cur.get::<[u8; 4]>(off, Reason::IcmpTruncated)?);
    }
    Ok(a)
}

/// Writes the address `a` (its first 4 bytes for IPv4) at `off`.
#[inline(always)]
fn put<const V6: bool>(cur: &Cursor, off: usize, a: &[u8; 16]) -> Result<(), Reason> {
    if V6 {
        let p = cur.get_mut::<[u8; 16]>(off, Reason::IcmpTruncated)?;
        // SAFETY: the cursor proved the 16 bytes; nothing else refers to them.
        unsafe { *p = *a };
    } else {
        let p = cur.get_mut::<[u8; 4]>(off, Reason::IcmpTruncated)?;
        // SAFETY: the cursor proved the 4 bytes; nothing else refers to them.
        unsafe { &mut *p }.copy_from_slice(&a[..4]);
    }
    Ok(())
}

/// The sum of an address's 16-bit words (its first 4 bytes for IPv4).
#[inline(always)]
fn sum<const V6: bool>(a: &[u8; 16]) -> u32 {
    if V6 {
        csum::add_bytes(0, a)
    } else {
        csum::add_bytes(0, &a[..4])
    }
}

/// Whether the address at `off` (4 or 16 bytes) in the packet is `a`, word by word (few
/// values live at once).
#[inline(always)]
fn same<const V6: bool>(cur: &Cursor, off: usize, a: &[u8; 16]) -> Result<bool, Reason> {
    if !V6 {
        let p = cur.get::<[u8; 4]>(off, Reason::IcmpTruncated)?;
        return Ok(u32::from_ne_bytes(*p) == u32::from_ne_bytes([a[0], a[1], a[2], a[3]]));
    }
    let p = cur.get::<[u8; 16]>(off, Reason::IcmpTruncated)?;
    let mut d = 0u32;
    let mut i = 0;
    while i < 4 {
        d |= nat::word(p, i) ^ nat::word(a, i);
        i += 1;
    }
    Ok(d == 0)
}

/// The sum of the address at `off` (4 or 16 bytes) in the packet.
#[inline(always)]
fn sum_at<const V6: bool>(cur: &Cursor, off: usize) -> Result<u32, Reason> {
    Ok(if V6 {
        csum::add_bytes(0, cur.get::<[u8; 16]>(off, Reason::Ipv6Truncated)?)
    } else {
        csum::add_bytes(0, cur.get::<[u8; 4]>(off, Reason::Ipv4Truncated)?)
    })
}

/// Applies `d` (a [`csum::delta`]) to the 16-bit checksum at `off`; `udp`: 0 means none
/// (left alone), a computed 0 is sent as all ones (RFC 768). Returns the field's own change as
/// a delta (0 when untouched or absent: a TCP checksum beyond the quote).
#[inline(always)]
fn fix(cur: &Cursor, off: usize, d: u32, udp: bool) -> u32 {
    let Ok(p) = cur.get_mut::<[u8; 2]>(off, Reason::IcmpTruncated) else {
        return 0;
    };
    // SAFETY: the cursor proved the 2 bytes; nothing else refers to them.
    let p = unsafe { &mut *p };
    let c = u16::from_be_bytes(*p);
    if udp && c == 0 {
        return 0;
    }
    let mut n = csum::apply(c, d);
    if udp && n == 0 {
        n = 0xffff;
    }
    *p = n.to_be_bytes();
    csum::delta(u32::from(c), u32::from(n))
}

/// Translates the ICMP / ICMPv6 error whose IP header is `ip` (see the module's text).
#[inline(always)]
pub fn error<const V6: bool>(
    ctx: &XdpContext,
    cur: &Cursor,
    ip: &Ip,
    key: &mut FlowKey,
    new: &mut FlowKey,
) -> Result<Reason, Reason> {
    let icmp_off = ip.l4_off;
    if V6 && icmp_off != ip.off + 40 {
        return Err(Reason::LbNoService);
    }
    if !quoting::<V6>(cur.u8_at(icmp_off, Reason::IcmpTruncated)?) {
        return Err(Reason::LbNoService);
    }
    // The quoted header: where its addresses and protocol are, and its length.
    let q = icmp_off + 8;
    let pa = if V6 { 6 } else { 9 };
    let v = cur.u8_at(q, Reason::IcmpTruncated)?;
    if (V6 && v >> 4 != 6) || (!V6 && v != 0x45) {
        return Err(Reason::LbNoService);
    }
    let proto_in = cur.u8_at(q + pa, Reason::IcmpTruncated)?;
    if proto_in == proto::SCTP {
        // About an SCTP association: `xdp_lb_sctp` / `xdp_lb_sctp_icmp6` translate it.
        let to = if V6 { jump::SCTP_ICMP6 } else { jump::SCTP };
        // SAFETY: a tail call to a program the loader put at `to`; returns only if it
        // fails.
        unsafe { LB_JUMP.tail_call(ctx, to) };
        return Err(Reason::TailCallFailed);
    }
    if proto_in != proto::TCP && proto_in != proto::UDP {
        return Err(Reason::LbNoService);
    }
    key.proto = proto_in;
    // Two BPF functions, one after the other: each a stack frame of its own (inlined, the
    // IPv6 one exceeds the 512-byte stack).
    match connection::<V6>(cur, ip, key, new) {
        0 => {}
        2 => {
            let to = if V6 { jump::ICMP64 } else { jump::ICMP46 };
            // SAFETY: a tail call to a program the loader put at `to`; returns only if it
            // fails.
            unsafe { LB_JUMP.tail_call(ctx, to) };
            return Err(Reason::TailCallFailed);
        }
        _ => return Err(Reason::LbNoService),
    }
    let d_i = quote::<V6>(cur, ip, key, new);
    if d_i == u32::MAX {
        return Err(Reason::IcmpTruncated);
    }
    if outer::<V6>(cur, ip, key, new, d_i) != 0 {
        return Err(Reason::IcmpTruncated);
    }
    let r = route::<V6>(ctx, cur, ip, key);
    match Reason::from_index(r & 0xffff) {
        Some(Reason::LbRedirect) => Ok(Reason::LbIcmpRedirect),
        Some(reason) if r >> 16 == 0 => Ok(reason),
        Some(reason) => Err(reason),
        None => Err(Reason::LbNoService),
    }
}

/// Routes the translated error to `key.dst` (from `key.src`) as the connection's packets
/// are; returns the reason's index, with bit 16 set for an error. A BPF function of its own
/// (the FIB lookup's stack frame apart from [`quote`]'s).
#[inline(never)]
fn route<const V6: bool>(ctx: &XdpContext, cur: &Cursor, ip: &Ip, key: &FlowKey) -> u32 {
    let ip = &ip.bounded();
    let l = Lookup {
        v6: V6,
        src: &key.src,
        dst: &key.dst,
        tos: ip.tos,
        len: ip.len as u16,
    };
    // SAFETY: bpf_ktime_get_coarse_ns has no preconditions.
    match nat::route(ctx, cur, ip, &l) {
        Ok(r) => r as u32,
        Err(r) => r as u32 | 1 << 16,
    }
}

/// Finds the connection of the error's quote (IP header `ip`, the quote's protocol in
/// `key.proto`): `key` gets the quote seen from the other end (the connection's key; its
/// addresses the quote's), `new` the quote's new source, destination and ports. Returns 0, or
/// 1: not a connection's (or a DSR one's).
#[inline(never)]
fn connection<const V6: bool>(cur: &Cursor, ip: &Ip, key: &mut FlowKey, new: &mut FlowKey) -> u32 {
    match connection_in::<V6>(cur, ip, key, new) {
        Ok(()) => 0,
        Err(Reason::LbXlatRedirect) => 2,
        Err(_) => 1,
    }
}

#[inline(always)]
fn connection_in<const V6: bool>(
    cur: &Cursor,
    ip: &Ip,
    key: &mut FlowKey,
    new: &mut FlowKey,
) -> Result<(), Reason> {
    // Bounded offsets: this BPF function's verifier state knows them only by their masks.
    let q = (ip.l4_off & 0x1ff) + 8;
    let (qlen, sa, da) = if V6 { (40, 8, 24) } else { (20, 12, 16) };
    key.src = addr::<V6>(cur, q + da)?;
    key.dst = addr::<V6>(cur, q + sa)?;
    let l4 = q + qlen;
    let ports = *cur.get::<[u8; 4]>(l4, Reason::IcmpTruncated)?;
    let qsport = u16::from_be_bytes([ports[0], ports[1]]);
    let qdport = u16::from_be_bytes([ports[2], ports[3]]);
    key.sport = qdport;
    key.dport = qsport;
    let Some(ct) = CONNTRACK.get_ptr(&*key) else {
        // A NAT64 connection's (its table by the same key): `xdp_lb_icmp46` / `_icmp64`
        // rebuild the error in the other family (told by this reason).
        let nat64 = if V6 {
            crate::maps::XLAT6.get_ptr(&*key).is_some()
        } else {
            crate::maps::XLAT4.get_ptr(&*key).is_some()
        };
        return Err(if nat64 {
            Reason::LbXlatRedirect
        } else {
            Reason::LbNoService
        });
    };
    // SAFETY: a value of the conntrack map, valid for this program run (read in place).
    let ct = unsafe { &*ct };
    let m = u32::from(ct.mode);
    if m == mode::DSR_L2 || m == mode::DSR_TUNNEL {
        return Err(Reason::LbNoService);
    }
    let full = m == mode::FULL_NAT;
    new.src = key.dst;
    new.dst = key.src;
    new.sport = qsport;
    new.dport = qdport;
    if ct.dir == dir::REPLY {
        // The quote went to the backend: make it the client's packet to the VIP again.
        new.dst = ct.nat_addr;
        new.dport = ct.nat_port;
        if full {
            new.src = ct.peer_addr;
            new.sport = ct.peer_port;
        }
    } else {
        // The quote went to the client: make it the backend's reply again.
        new.src = ct.nat_addr;
        new.sport = ct.nat_port;
        if full {
            new.dst = ct.peer_addr;
            new.dport = ct.peer_port;
        }
    }
    Ok(())
}

/// Rewrites the quote (after [`connection`]: `key` the connection's key, `new` the quote's new
/// addresses and ports). Returns the change to the ICMP checksum (a [`csum::delta`]), or
/// `u32::MAX`: truncated.
#[inline(never)]
fn quote<const V6: bool>(cur: &Cursor, ip: &Ip, key: &FlowKey, new: &FlowKey) -> u32 {
    quote_in::<V6>(cur, ip, key, new).unwrap_or(u32::MAX)
}

#[inline(always)]
fn quote_in<const V6: bool>(
    cur: &Cursor,
    ip: &Ip,
    key: &FlowKey,
    new: &FlowKey,
) -> Result<u32, Reason> {
    let q = (ip.l4_off & 0x1ff) + 8;
    let (qlen, sa, da) = if V6 { (40, 8, 24) } else { (20, 12, 16) };
    let l4 = q + qlen;
    let (qsport, qdport) = (key.dport, key.sport);
    // Each change summed as it is read (RFC 1624 deltas).
    let d_a = csum::delta(sum_at::<V6>(cur, q + sa)?, sum::<V6>(&new.src))
        + csum::delta(sum_at::<V6>(cur, q + da)?, sum::<V6>(&new.dst));
    let d_p = csum::delta(
        u32::from(qsport) + u32::from(qdport),
        u32::from(new.sport) + u32::from(new.dport),
    );
    // Its addresses, ports, IPv4 header checksum, UDP checksum (or TCP's, when quoted);
    // each change is the ICMP checksum's too.
    let mut d_i = d_a + d_p;
    if !V6 {
        d_i += fix(cur, q + 10, d_a, false);
    }
    d_i += if key.proto == proto::UDP {
        fix(cur, l4 + 6, d_a + d_p, true)
    } else {
        fix(cur, l4 + 16, d_a + d_p, false)
    };
    put::<V6>(cur, q + sa, &new.src)?;
    put::<V6>(cur, q + da, &new.dst)?;
    let pp = cur.get_mut::<[u8; 4]>(l4, Reason::IcmpTruncated)?;
    // SAFETY: the cursor proved the 4 bytes of the quoted ports.
    let pp = unsafe { &mut *pp };
    pp[..2].copy_from_slice(&new.sport.to_be_bytes());
    pp[2..].copy_from_slice(&new.dport.to_be_bytes());
    Ok(d_i)
}

/// Rewrites the error's own addresses after [`quote`] (`key`: the quote's old addresses,
/// `new`: its new ones; `d_i`: the ICMP checksum's change so far) and sets the checksums;
/// leaves the error's new source and destination in `key` (for the FIB). Returns 0, or 1:
/// truncated.
#[inline(never)]
fn outer<const V6: bool>(cur: &Cursor, ip: &Ip, key: &mut FlowKey, new: &FlowKey, d_i: u32) -> u32 {
    match outer_in::<V6>(cur, ip, key, new, d_i) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

#[inline(always)]
fn outer_in<const V6: bool>(
    cur: &Cursor,
    ip: &Ip,
    key: &mut FlowKey,
    new: &FlowKey,
    mut d_i: u32,
) -> Result<(), Reason> {
    let (sa, da) = if V6 { (8, 24) } else { (12, 16) };
    // Bounded offsets: this BPF function's verifier state knows them only by their masks.
    let off = ip.off & 0x3f;
    // Its destination becomes the quote's new source; its source changes only when the
    // quoted destination (the end host) sent it.
    let host = same::<V6>(cur, off + sa, &key.src)?;
    let mut d_o = csum::delta(sum_at::<V6>(cur, off + da)?, sum::<V6>(&new.src));
    if host {
        d_o += csum::delta(sum_at::<V6>(cur, off + sa)?, sum::<V6>(&new.dst));
    }
    // ICMPv6 sums the addresses in its pseudo-header, IPv4 in its header.
    if V6 {
        d_i += d_o;
    } else {
        fix(cur, off + 10, d_o, false);
    }
    fix(cur, (ip.l4_off & 0x1ff) + 2, d_i, false);
    put::<V6>(cur, off + da, &new.src)?;
    if host {
        put::<V6>(cur, off + sa, &new.dst)?;
    }
    key.src = addr::<V6>(cur, off + sa)?;
    key.dst = new.src;
    Ok(())
}
