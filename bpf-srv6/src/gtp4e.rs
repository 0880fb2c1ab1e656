//! End.M.GTP4.E (RFC 9433 6.6): the SRGW's egress towards an IPv4 GTP-U peer. The SID's
//! arguments (after its locator and function) carry the IPv4 DA, QFI, R and TEID; the IPv6
//! SA carries the IPv4 SA. The IPv6 header and its extension headers go; GTP-U/UDP/IPv4 with a
//! DL PDU Session Container (TS 38.415) of that QFI and RQI (when the QFI is not 0) goes in
//! front of the T-PDU, which is routed by the IPv4 FIB.
//!
//! `xdp_srv6` checks Segments Left and the upper layer, leaves the offsets and the SID's
//! argument positions in `SRV6_ICMP`'s slot and tail-calls this stage (`xdp_srv6_gtp4e`,
//! index 1 of `SRV6_JUMP`), which has a stack frame of its own.

use crate::maps::SRV6_ICMP;
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_head, programs::XdpContext};
use bpf_abi::Reason;
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV4, EthHdr},
    fib::{self, Found, Lookup},
    gtpu::GTPU_PORT,
    proto,
};

/// GTP-U header (8), its optional fields (4) and a PDU Session Container (4).
const GTP_PSC_LEN: usize = 16;
/// Ethernet, IPv4 and UDP in front of the GTP-U header.
const BASE: usize = ETH_HLEN + 20 + 8;

/// The stage.
#[inline(always)]
pub fn stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let Some(s) = SRV6_ICMP.get(0) else {
        return Err(Reason::TailCallFailed);
    };
    let [l3, l4, args, end] = *s;
    let (l3, l4, end) = (
        (l3 & 0x3f) as usize,
        (l4 & 0x3ff) as usize,
        (end & 0xffff) as usize,
    );
    let cur = Cursor::from_xdp(ctx);
    // A copy: the arguments sit at an offset the SID's configuration sets, and the verifier
    // follows variable offsets into the stack, not into the packet.
    let h: [u8; 40] = *cur.get::<[u8; 40]>(l3, Reason::Ipv6Truncated)?;
    let a = (args & 7) as usize;
    let mut so = ((args >> 8) & 0xf) as usize;
    if so > 12 {
        so = 12;
    }
    let mut dst4 = [0u8; 4];
    dst4.copy_from_slice(&h[24 + a..24 + a + 4]);
    let qru = h[24 + a + 4];
    let mut teid = [0u8; 4];
    teid.copy_from_slice(&h[24 + a + 5..24 + a + 9]);
    let mut src4 = [0u8; 4];
    src4.copy_from_slice(&h[8 + so..8 + so + 4]);
    let tc = (h[0] << 4) | (h[1] >> 4);
    let (qfi, rqi) = (qru >> 2, (qru >> 1) & 1);
    if end <= l4 {
        return Err(Reason::Ipv6BadPayloadLength);
    }
    let inner_len = end - l4;
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.dst, eth.src);
    let gtp_len = if qfi != 0 { GTP_PSC_LEN } else { 8 };
    let head = BASE + gtp_len;
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, l4 as i32 - head as i32) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    let cur = Cursor::from_xdp(ctx);
    let mut b = [0u8; BASE + GTP_PSC_LEN];
    b[0..6].copy_from_slice(&dmac);
    b[6..12].copy_from_slice(&smac);
    b[12..14].copy_from_slice(&ETH_P_IPV4.to_be_bytes());
    let ip = ETH_HLEN;
    let total = 20 + 8 + gtp_len + inner_len;
    b[ip] = 0x45;
    b[ip + 1] = tc;
    b[ip + 2..ip + 4].copy_from_slice(&(total as u16).to_be_bytes());
    b[ip + 6] = 0x40; // DF
    b[ip + 8] = 64;
    b[ip + 9] = proto::UDP;
    b[ip + 12..ip + 16].copy_from_slice(&src4);
    b[ip + 16..ip + 20].copy_from_slice(&dst4);
    let mut hdr = [0u8; 20];
    hdr.copy_from_slice(&b[ip..ip + 20]);
    let c = csum::finish(csum::add_bytes(0, &hdr));
    b[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    let udp = ip + 20;
    b[udp..udp + 2].copy_from_slice(&GTPU_PORT.to_be_bytes());
    b[udp + 2..udp + 4].copy_from_slice(&GTPU_PORT.to_be_bytes());
    b[udp + 4..udp + 6].copy_from_slice(&((8 + gtp_len + inner_len) as u16).to_be_bytes());
    let g = udp + 8;
    b[g] = if qfi != 0 { 0x34 } else { 0x30 };
    b[g + 1] = 0xff; // G-PDU
    b[g + 2..g + 4].copy_from_slice(&((gtp_len - 8 + inner_len) as u16).to_be_bytes());
    b[g + 4..g + 8].copy_from_slice(&teid);
    if qfi != 0 {
        b[g + 11] = 0x85; // next: PDU Session Container
        b[g + 12] = 1; // length, 4-byte units
        b[g + 13] = 0x00; // PDU Type 0: DL PDU SESSION INFORMATION
        b[g + 14] = (rqi << 6) | (qfi & 0x3f);
        b[g + 15] = 0; // no next extension header
        let p = cur.get_mut::<[u8; BASE + GTP_PSC_LEN]>(0, Reason::AdjustFailed)?;
        // SAFETY: the cursor proved the bytes; nothing else refers to them in this run.
        unsafe { *p = b };
    } else {
        let p = cur.get_mut::<[u8; BASE + 8]>(0, Reason::AdjustFailed)?;
        let mut short = [0u8; BASE + 8];
        short.copy_from_slice(&b[..BASE + 8]);
        // SAFETY: as above.
        unsafe { *p = short };
    }
    let mut s16 = [0u8; 16];
    s16[..4].copy_from_slice(&src4);
    let mut d16 = [0u8; 16];
    d16[..4].copy_from_slice(&dst4);
    let l = Lookup {
        v6: false,
        src: &s16,
        dst: &d16,
        tos: tc,
        len: total as u16,
    };
    match fib::lookup(ctx, &l)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(Reason::Srv6MGtp4ERedirect)
        }
        Found::Kernel(_) => Ok(Reason::Srv6ToKernel),
        Found::TooBig(_) => Err(Reason::MtuExceeded),
    }
}
