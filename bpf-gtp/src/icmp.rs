//! ICMP Destination Unreachable / Fragmentation Needed (RFC 792, RFC 1191) for downlink packets
//! that would exceed the egress MTU once encapsulated (the outer header has DF): sent back out
//! of N6 to the packet's source, from the UPF's N6 address (`GTP_CONFIG`), with the MTU left for
//! the T-PDU. IPv6 T-PDUs (ICMPv6 Packet Too Big) and an unset N6 address: dropped and counted.

use crate::{maps::GTP_CONFIG, reply::write};
use aya_ebpf::{
    helpers::generated::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use bpf_abi::Reason;
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, EthHdr},
};

/// Ethernet, IPv4 and ICMP headers in front of the quoted packet.
const HEAD: usize = ETH_HLEN + 20 + 8;

/// Turns the frame, whose T-PDU (an IPv4 packet) starts at `inner_off`, into the ICMP message.
#[inline(always)]
pub fn frag_needed(
    ctx: &XdpContext,
    inner_off: usize,
    inner_v6: bool,
    mtu: u16,
) -> Result<Reason, Reason> {
    let Some(cfg) = GTP_CONFIG.get(0) else {
        return Err(Reason::MtuExceeded);
    };
    let ours = [cfg.n6_v4[0], cfg.n6_v4[1], cfg.n6_v4[2], cfg.n6_v4[3]];
    if inner_v6 || ours == [0; 4] {
        return Err(Reason::MtuExceeded);
    }
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
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helpers check the new head and tail.
    unsafe {
        if bpf_xdp_adjust_head(ctx.ctx, inner_off as i32 - HEAD as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
        // Compared as 64 bits first: the verifier refuses 32-bit packet pointer arithmetic.
        let len = ctx.data_end() - ctx.data();
        if len > 0xffff {
            return Err(Reason::AdjustFailed);
        }
        if bpf_xdp_adjust_tail(ctx.ctx, (HEAD + quote) as i32 - len as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
    }
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
    h[ip + 12..ip + 16].copy_from_slice(&ours);
    h[ip + 16..ip + 20].copy_from_slice(&src);
    let mut iph = [0u8; 20];
    iph.copy_from_slice(&h[ip..ip + 20]);
    let c = csum::finish(csum::add_bytes(0, &iph));
    h[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    let icmp = ip + 20;
    h[icmp] = 3; // Destination Unreachable
    h[icmp + 1] = 4; // Fragmentation Needed and DF set
    h[icmp + 6..icmp + 8].copy_from_slice(&mtu.to_be_bytes());
    // ICMP checksum: its header, then the quote (at most 68 bytes), 4 bytes at a time.
    let mut hdr = [0u8; 8];
    hdr.copy_from_slice(&h[icmp..icmp + 8]);
    let mut sum = csum::add_bytes(0, &hdr);
    let mut i = 0;
    while i < 17 {
        if i * 4 >= quote {
            break;
        }
        let w: &[u8; 4] = cur.get(HEAD + i * 4, Reason::AdjustFailed)?;
        sum = csum::add_bytes(sum, w);
        i += 1;
    }
    let c = csum::finish(sum);
    h[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
    write(&cur, 0, &h)?;
    Ok(Reason::IcmpFragNeeded)
}
