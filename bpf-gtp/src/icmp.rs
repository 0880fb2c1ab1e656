//! "Too big" for downlink packets that would exceed the egress MTU once encapsulated (the outer
//! header has DF; the tunnel does not fragment): ICMP Destination Unreachable / Fragmentation
//! Needed (RFC 792, RFC 1191) for IPv4 T-PDUs, ICMPv6 Packet Too Big (RFC 4443 3.2) for IPv6
//! ones, sent back out of N6 to the packet's source from the UPF's N6 address of that family
//! (`GTP_CONFIG`), with the MTU left for the T-PDU. No N6 address of the family: dropped and
//! counted (`mtu_exceeded`).

use crate::{maps::GTP_CONFIG, ratelimit, reply::write};
use aya_ebpf::{
    helpers::generated::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use bpf_abi::Reason;
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, ETH_P_IPV6, EthHdr},
    icmp::{ICMP_DEST_UNREACH, ICMPV6_PKT_TOOBIG},
};

/// ICMP and ICMPv6 errors sent per second per CPU at most (the rest: dropped, counted
/// `icmp_rate_limited`); Linux's default for a whole host is 1000 (`icmp_msgs_per_sec`).
pub const ICMP_PER_SEC: u64 = 1000;

/// Ethernet, IPv4 and ICMP headers in front of the quoted packet.
const HEAD: usize = ETH_HLEN + 20 + 8;

/// Ethernet, IPv6 and ICMPv6 headers in front of the quoted packet.
const HEAD6: usize = ETH_HLEN + 40 + 8;
/// The most of the packet an ICMPv6 error quotes: the message must fit the IPv6 minimum MTU
/// (RFC 4443 2.4 (c)): 1280 - 40 - 8.
const QUOTE6_MAX: usize = 1232;

/// Turns the frame, whose T-PDU starts at `inner_off`, into the "too big" message for the T-PDU's
/// family, telling `mtu`.
#[inline(always)]
pub fn too_big(
    ctx: &XdpContext,
    inner_off: usize,
    inner_v6: bool,
    mtu: u16,
) -> Result<Reason, Reason> {
    let Some(cfg) = GTP_CONFIG.get(0) else {
        return Err(Reason::MtuExceeded);
    };
    if inner_v6 {
        let ours = cfg.n6_v6;
        if ours == [0; 16] {
            return Err(Reason::MtuExceeded);
        }
        if !ratelimit::allowed(ratelimit::ICMP, ICMP_PER_SEC) {
            return Err(Reason::IcmpRateLimited);
        }
        return packet_too_big(ctx, inner_off, &ours, mtu);
    }
    let ours = cfg.n6_v4;
    if ours == [0; 4] {
        return Err(Reason::MtuExceeded);
    }
    if !ratelimit::allowed(ratelimit::ICMP, ICMP_PER_SEC) {
        return Err(Reason::IcmpRateLimited);
    }
    frag_needed(ctx, inner_off, &ours, mtu)
}

/// ICMP Fragmentation Needed for an IPv4 T-PDU at `inner_off`.
#[inline(always)]
fn frag_needed(
    ctx: &XdpContext,
    inner_off: usize,
    ours: &[u8; 4],
    mtu: u16,
) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.src, eth.dst);
    // Bounded so the verifier keeps the packet range on the reads below.
    let inner_off = inner_off & 0x1ff;
    let vihl: &[u8; 1] = cur.get(inner_off, Reason::Ipv4Truncated)?;
    // The quote: the T-PDU's IP header and the first 8 bytes of its payload (RFC 792).
    let quote = usize::from(vihl[0] & 0x0f) * 4 + 8;
    let s: &[u8; 4] = cur.get(inner_off + 12, Reason::Ipv4Truncated)?;
    let src = *s;
    let quote = reframe(ctx, inner_off, HEAD, quote)?;
    let cur = Cursor::from_xdp(ctx);
    // Quote the packet as it arrived: the downlink path already took one off its TTL.
    let q = cur.get_mut::<[u8; 12]>(HEAD, Reason::Ipv4Truncated)?;
    // SAFETY: the cursor proved 12 bytes at `HEAD`; nothing else refers to them.
    let q = unsafe { &mut *q };
    let ttl = q[8].wrapping_add(1);
    let c = csum::replace16(
        u16::from_be_bytes([q[10], q[11]]),
        u16::from_be_bytes([q[8], q[9]]),
        u16::from_be_bytes([ttl, q[9]]),
    );
    q[8] = ttl;
    q[10..12].copy_from_slice(&c.to_be_bytes());
    let mut h = [0u8; HEAD];
    h[0..6].copy_from_slice(&dmac);
    h[6..12].copy_from_slice(&smac);
    h[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    let ip = ETH_HLEN;
    h[ip] = 0x45;
    h[ip + 2..ip + 4].copy_from_slice(&((20 + 8 + quote) as u16).to_be_bytes());
    h[ip + 8] = 64;
    h[ip + 9] = bpf_net::proto::ICMP;
    h[ip + 12..ip + 16].copy_from_slice(ours);
    h[ip + 16..ip + 20].copy_from_slice(&src);
    let mut iph = [0u8; 20];
    iph.copy_from_slice(&h[ip..ip + 20]);
    let c = csum::finish(csum::add_bytes(0, &iph));
    h[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    let icmp = ip + 20;
    h[icmp] = ICMP_DEST_UNREACH;
    h[icmp + 1] = 4; // Fragmentation Needed and DF set
    h[icmp + 6..icmp + 8].copy_from_slice(&mtu.to_be_bytes());
    // ICMP checksum: its header, then the quote (at most 68 bytes), 4 bytes at a time; the
    // headers written first, the checksum last (see `put_checksum`).
    let mut hdr = [0u8; 8];
    hdr.copy_from_slice(&h[icmp..icmp + 8]);
    write(&cur, 0, &h)?;
    let sum = add_quote::<17>(&cur, HEAD, quote, csum::add_bytes(0, &hdr))?;
    put_checksum(ctx, icmp + 2, csum::finish(sum))?;
    Ok(Reason::IcmpFragNeeded)
}

/// ICMPv6 Packet Too Big for an IPv6 T-PDU at `inner_off`: quotes as much of it as fits the IPv6
/// minimum MTU, in whole 4-byte words (at most 3 bytes fewer than RFC 4443 allows, and only when
/// the whole packet is shorter than the limit).
#[inline(always)]
fn packet_too_big(
    ctx: &XdpContext,
    inner_off: usize,
    ours: &[u8; 16],
    mtu: u16,
) -> Result<Reason, Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.src, eth.dst);
    // Bounded so the verifier keeps the packet range on the reads below.
    let inner_off = inner_off & 0x1ff;
    let s: &[u8; 16] = cur.get(inner_off + 8, Reason::Ipv6Truncated)?;
    let src = *s;
    let quote = reframe(ctx, inner_off, HEAD6, QUOTE6_MAX)?;
    let cur = Cursor::from_xdp(ctx);
    // Quote the packet as it arrived: the downlink path already took one off its Hop Limit.
    let q = cur.get_mut::<[u8; 8]>(HEAD6, Reason::Ipv6Truncated)?;
    // SAFETY: the cursor proved 8 bytes at `HEAD6`; nothing else refers to them.
    unsafe { (*q)[7] = (*q)[7].wrapping_add(1) };
    // Not `[0u8; HEAD6]`: a `memset` call (see bpf_net::mem).
    let mut slot = core::mem::MaybeUninit::uninit();
    // SAFETY: zero bytes are a valid byte array.
    let h: &mut [u8; HEAD6] = unsafe { bpf_net::mem::zeroed(&mut slot) };
    h[0..6].copy_from_slice(&dmac);
    h[6..12].copy_from_slice(&smac);
    h[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    let ip = ETH_HLEN;
    h[ip] = 0x60;
    h[ip + 4..ip + 6].copy_from_slice(&((8 + quote) as u16).to_be_bytes());
    h[ip + 6] = bpf_net::proto::ICMPV6;
    h[ip + 7] = 64;
    h[ip + 8..ip + 24].copy_from_slice(ours);
    h[ip + 24..ip + 40].copy_from_slice(&src);
    let icmp = ip + 40;
    h[icmp] = ICMPV6_PKT_TOOBIG;
    h[icmp + 4..icmp + 8].copy_from_slice(&u32::from(mtu).to_be_bytes());
    // Checksum: the pseudo-header, the ICMPv6 header, then the quote 4 bytes at a time.
    let mut hdr = [0u8; 8];
    hdr.copy_from_slice(&h[icmp..icmp + 8]);
    let sum = csum::pseudo_v6(ours, &src, bpf_net::proto::ICMPV6, (8 + quote) as u32);
    write(&cur, 0, h)?;
    let sum = add_quote::<{ QUOTE6_MAX / 4 }>(&cur, HEAD6, quote, csum::add_bytes(sum, &hdr))?;
    put_checksum(ctx, icmp + 2, csum::finish(sum))?;
    Ok(Reason::IcmpPacketTooBig)
}

/// Writes the ICMP / ICMPv6 checksum `c` at `at`, once the quote has been summed.
///
/// Verifier workaround (Linux 6.1): the quote loop leaves one state per word count it may
/// stop at (up to 308, each with its own proven packet range), and each went on alone
/// through what follows it; so the headers are written before the loop and only this
/// store after it, on a cursor taken again (xdp_n6 on 6.1: a third of its verified
/// instructions were the header copy after the loop).
#[inline(always)]
fn put_checksum(ctx: &XdpContext, at: usize, c: u16) -> Result<(), Reason> {
    let cur = Cursor::from_xdp(ctx);
    let p = cur.get_mut::<[u8; 2]>(at, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved 2 bytes at `at`; nothing else refers to them.
    unsafe { *p = c.to_be_bytes() };
    Ok(())
}

/// Moves the frame's start to `head` bytes before the T-PDU at `inner_off` (room for the new
/// headers) and cuts it after the quote: at most `max_quote` bytes of the T-PDU, in whole 4-byte
/// words. Returns the quote's length.
#[inline(always)]
fn reframe(
    ctx: &XdpContext,
    inner_off: usize,
    head: usize,
    max_quote: usize,
) -> Result<usize, Reason> {
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helpers check the new head and tail.
    unsafe {
        if bpf_xdp_adjust_head(ctx.ctx, inner_off as i32 - head as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
        // Compared as 64 bits first: the verifier refuses 32-bit packet pointer arithmetic.
        let len = ctx.data_end() - ctx.data();
        if !(head + 28..=0xffff).contains(&len) {
            return Err(Reason::AdjustFailed);
        }
        let quote = (len - head).min(max_quote) & !3;
        if bpf_xdp_adjust_tail(ctx.ctx, (head + quote) as i32 - len as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
        Ok(quote)
    }
}

/// Adds the quote (`quote` bytes at `at`, at most `MAX_WORDS` words) to the checksum `sum`.
#[inline(always)]
fn add_quote<const MAX_WORDS: usize>(
    cur: &Cursor,
    at: usize,
    quote: usize,
    mut sum: u32,
) -> Result<u32, Reason> {
    let mut i = 0;
    while i < MAX_WORDS {
        if i * 4 >= quote {
            break;
        }
        let w: &[u8; 4] = cur.get(at + i * 4, Reason::AdjustFailed)?;
        sum = csum::add_bytes(sum, w);
        i += 1;
    }
    Ok(sum)
}
