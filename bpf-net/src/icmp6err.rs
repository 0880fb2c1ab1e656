//! ICMPv6 error messages sent back from XDP (RFC 4443 2.4): the frame becomes the error, with
//! the offending packet quoted as far as the IPv6 minimum MTU allows, sent back out of the
//! interface it arrived on (MAC addresses swapped). Rate-limited per CPU (RFC 4443 2.4 (f)) by
//! [`allowed`]; never sent about an ICMPv6 error (2.4 (e)), which the caller checks.

use crate::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV6, EthHdr},
    proto,
};
use aya_ebpf::{
    helpers::{
        bpf_ktime_get_ns,
        generated::{bpf_xdp_adjust_head, bpf_xdp_adjust_tail},
    },
    macros::map,
    maps::PerCpuArray,
    programs::XdpContext,
};
use bpf_abi::Reason;

/// ICMPv6 errors sent per second per CPU at most; Linux's default for a whole host is 1000.
pub const ERRORS_PER_SEC: u64 = 1000;

/// Ethernet, IPv6 and ICMPv6 headers in front of the quote.
const HEAD: usize = ETH_HLEN + 40 + 8;
/// The most an ICMPv6 error quotes: the message must fit the IPv6 minimum MTU (RFC 4443 2.4
/// (c)): 1280 - 40 - 8.
const QUOTE_MAX: usize = 1232;

/// Per CPU: [start of the current one-second window (ns), errors sent in it].
#[map(name = "ICMP6_LIMIT")]
static ICMP6_LIMIT: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

/// True when this CPU may send one more ICMPv6 error in the current second.
#[inline(always)]
pub fn allowed() -> bool {
    let Some(w) = ICMP6_LIMIT.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: this CPU's slot of a per-CPU array, written only by this program run.
    crate::ratelimit::allows(unsafe { &mut *w }, now, ERRORS_PER_SEC)
}

/// Turns the frame, whose IPv6 packet starts at `l3_off`, into an ICMPv6 error of `ty`/`code`
/// with the 4-byte field `word` (Pointer, MTU or unused), from `ours` to the packet's source.
#[inline(always)]
pub fn send(
    ctx: &XdpContext,
    l3_off: usize,
    ours: &[u8; 16],
    ty: u8,
    code: u8,
    word: u32,
) -> Result<(), Reason> {
    let cur = Cursor::from_xdp(ctx);
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.src, eth.dst);
    // Bounded so the verifier keeps the packet range on the reads below.
    let l3_off = l3_off & 0x3f;
    let s: &[u8; 16] = cur.get(l3_off + 8, Reason::Ipv6Truncated)?;
    let src = *s;
    let quote = reframe(ctx, l3_off)?;
    let cur = Cursor::from_xdp(ctx);
    let h = cur.get_mut::<[u8; HEAD]>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved HEAD bytes at 0; nothing else refers to them in this run.
    let h = unsafe { &mut *h };
    h[0..6].copy_from_slice(&dmac);
    h[6..12].copy_from_slice(&smac);
    h[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    let ip = ETH_HLEN;
    h[ip] = 0x60;
    h[ip + 1] = 0;
    h[ip + 2] = 0;
    h[ip + 3] = 0;
    h[ip + 4..ip + 6].copy_from_slice(&((8 + quote) as u16).to_be_bytes());
    h[ip + 6] = proto::ICMPV6;
    h[ip + 7] = 64;
    h[ip + 8..ip + 24].copy_from_slice(ours);
    h[ip + 24..ip + 40].copy_from_slice(&src);
    let icmp = ip + 40;
    h[icmp] = ty;
    h[icmp + 1] = code;
    h[icmp + 2] = 0;
    h[icmp + 3] = 0;
    h[icmp + 4..icmp + 8].copy_from_slice(&word.to_be_bytes());
    let mut hdr = [0u8; 8];
    hdr.copy_from_slice(&h[icmp..icmp + 8]);
    let mut sum = csum::add_bytes(
        csum::pseudo_v6(ours, &src, proto::ICMPV6, (8 + quote) as u32),
        &hdr,
    );
    let mut i = 0;
    while i < QUOTE_MAX / 4 {
        if i * 4 >= quote {
            break;
        }
        let w: &[u8; 4] = cur.get(HEAD + i * 4, Reason::AdjustFailed)?;
        sum = csum::add_bytes(sum, w);
        i += 1;
    }
    let c = csum::finish(sum);
    h[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Moves the frame's start to [`HEAD`] bytes before the packet at `l3_off` and cuts it after
/// the quote: at most [`QUOTE_MAX`] bytes, in whole 4-byte words. Returns the quote's length.
#[inline(always)]
fn reframe(ctx: &XdpContext, l3_off: usize) -> Result<usize, Reason> {
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helpers check the new head and tail.
    unsafe {
        if bpf_xdp_adjust_head(ctx.ctx, l3_off as i32 - HEAD as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
        // Compared as 64 bits first: the verifier refuses 32-bit packet pointer arithmetic.
        let len = ctx.data_end() - ctx.data();
        if !(HEAD + 40..=0xffff).contains(&len) {
            return Err(Reason::AdjustFailed);
        }
        let quote = (len - HEAD).min(QUOTE_MAX) & !3;
        if bpf_xdp_adjust_tail(ctx.ctx, (HEAD + quote) as i32 - len as i32) != 0 {
            return Err(Reason::AdjustFailed);
        }
        Ok(quote)
    }
}
