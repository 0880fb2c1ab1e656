//! ICMP error messages sent back from XDP (RFC 792, RFC 1812 4.3.2.3): the frame becomes the
//! error, quoting the offending packet's IP header and the first 8 bytes of its payload, sent
//! back out of the interface it arrived on (MAC addresses swapped), from `ours`. Rate-limited
//! with ICMPv6's per-CPU budget (`icmp6err::allowed`); never sent about an ICMP error, which
//! the caller checks.

use crate::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, EthHdr},
    proto,
};
use aya_ebpf::{
    helpers::generated::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use bpf_abi::Reason;

/// Ethernet, IPv4 and ICMP headers in front of the quote.
const HEAD: usize = ETH_HLEN + 20 + 8;
/// The longest quote: an IPv4 header with all its options and 8 bytes.
const QUOTE_MAX: usize = 60 + 8;

/// Turns the frame, whose IPv4 packet starts at `l3_off`, into an ICMP error of `ty`/`code`
/// with the 4-byte field `word` (unused, Pointer, or Fragmentation Needed's next-hop MTU in
/// its low 16 bits), from `ours` to the packet's source.
#[inline(always)]
pub fn send(
    ctx: &XdpContext,
    l3_off: usize,
    ours: &[u8; 4],
    ty: u8,
    code: u8,
    word: u32,
) -> Result<(), Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.src, eth.dst);
    // Bounded so the verifier keeps the packet range on the reads below.
    let l3_off = l3_off & 0x7f;
    let vihl: &[u8; 1] = cur.get(l3_off, Reason::Ipv4Truncated)?;
    let quote = usize::from(vihl[0] & 0x0f) * 4 + 8;
    if quote < 28 {
        return Err(Reason::Ipv4Truncated);
    }
    let s: &[u8; 4] = cur.get(l3_off + 12, Reason::Ipv4Truncated)?;
    let src = *s;
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helpers check the new head and tail.
    unsafe {
        if bpf_xdp_adjust_head(ctx.ctx, l3_off as i32 - HEAD as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
        // Compared as 64 bits first: the verifier refuses 32-bit packet pointer arithmetic.
        let len = ctx.data_end() - ctx.data();
        if !(HEAD + quote..=0xffff).contains(&len) {
            return Err(Reason::AdjustFailed);
        }
        if bpf_xdp_adjust_tail(ctx.ctx, (HEAD + quote) as i32 - len as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
    }
    let cur = Cursor::from_xdp(ctx);
    let h = cur.get_mut::<[u8; HEAD]>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved HEAD bytes at 0; nothing else refers to them in this run.
    let h = unsafe { &mut *h };
    h[0..6].copy_from_slice(&dmac);
    h[6..12].copy_from_slice(&smac);
    h[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    let t = ((20 + 8 + quote) as u16).to_be_bytes();
    let mut ip = [
        0x45,
        0,
        t[0],
        t[1],
        0,
        0,
        0,
        0,
        64,
        proto::ICMP,
        0,
        0,
        ours[0],
        ours[1],
        ours[2],
        ours[3],
        src[0],
        src[1],
        src[2],
        src[3],
    ];
    let c = csum::finish(csum::add_bytes(0, &ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    h[ETH_HLEN..ETH_HLEN + 20].copy_from_slice(&ip);
    let w = word.to_be_bytes();
    let hdr = [ty, code, 0, 0, w[0], w[1], w[2], w[3]];
    let mut sum = csum::add_bytes(0, &hdr);
    let mut i = 0;
    while i < QUOTE_MAX / 4 {
        if i * 4 >= quote {
            break;
        }
        let q: &[u8; 4] = cur.get(HEAD + i * 4, Reason::AdjustFailed)?;
        sum = csum::add_bytes(sum, q);
        i += 1;
    }
    let mut hdr = hdr;
    hdr[2..4].copy_from_slice(&csum::finish(sum).to_be_bytes());
    h[ETH_HLEN + 20..HEAD].copy_from_slice(&hdr);
    Ok(())
}
