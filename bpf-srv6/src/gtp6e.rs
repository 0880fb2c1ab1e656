//! End.M.GTP6.E (RFC 9433 6.5): the SRGW's egress towards an IPv6 GTP-U peer. The SID is the
//! penultimate segment; the last (SRH[0]) is the peer. The SID's arguments (after its locator
//! and function) carry Args.Mob.Session: QFI, R, U and the TEID. The IPv6 header and its
//! extension headers go; IPv6/UDP/GTP-U goes in front of the T-PDU: from the SID's source
//! address A to the peer, Traffic Class copied, Flow Label 0, Hop Limit 64, UDP from and to
//! 2152 with its checksum (mandatory over IPv6, RFC 8200 8.1; the datagram summed, at most
//! `csum::SUM_MAX` bytes: longer is dropped, `mtu_exceeded`), GTP-U with a DL PDU Session
//! Container (TS 38.415) of that QFI and RQI when the QFI is not 0. Then the IPv6 FIB.
//!
//! `xdp_srv6` checks Segments Left and the upper layer and tail-calls this stage
//! (`xdp_srv6_gtp6e`, index 2 of `SRV6_JUMP`) with the offsets in `SRV6_ICMP`'s slot.

use crate::maps::{LOCAL_SIDS, SRV6_ICMP};
use aya_ebpf::{
    helpers::generated::bpf_xdp_adjust_head, maps::lpm_trie::Key, programs::XdpContext,
};
use bpf_abi::Reason;
use bpf_net::{
    Cursor, csum,
    eth::{ETH_HLEN, ETH_P_IPV6, EthHdr},
    fib::{self, Found, Lookup},
    gtpu::GTPU_PORT,
    proto,
};

/// GTP-U header (8), its optional fields (4) and a PDU Session Container (4).
const GTP_PSC_LEN: usize = 16;
/// Ethernet, IPv6 and UDP in front of the GTP-U header.
const BASE: usize = ETH_HLEN + 40 + 8;

/// The stage.
#[inline(always)]
pub fn stage(ctx: &XdpContext) -> Result<Reason, Reason> {
    let Some(s) = SRV6_ICMP.get(0) else {
        return Err(Reason::TailCallFailed);
    };
    let [l3rt, l4, args, end] = *s;
    let (l3, rt, l4, end) = (
        (l3rt & 0x3f) as usize,
        ((l3rt >> 8) & 0x3ff) as usize,
        (l4 & 0x3ff) as usize,
        (end & 0xffff) as usize,
    );
    let cur = Cursor::from_xdp(ctx);
    // A copy: the arguments sit at an offset the SID's configuration sets, and the verifier
    // follows variable offsets into the stack, not into the packet.
    let h: [u8; 40] = *cur.get::<[u8; 40]>(l3, Reason::Ipv6Truncated)?;
    let mut sid = [0u8; 16];
    sid.copy_from_slice(&h[24..40]);
    let a = ((args & 0xf) as usize).min(11);
    let qru = h[24 + a];
    let mut teid = [0u8; 4];
    teid.copy_from_slice(&h[24 + a + 1..24 + a + 5]);
    let tc = (h[0] << 4) | (h[1] >> 4);
    let (qfi, rqi) = (qru >> 2, (qru >> 1) & 1);
    // SRH[0]: the peer.
    let peer: [u8; 16] = *cur.get::<[u8; 16]>(rt + 8, Reason::SrhTruncated)?;
    let src = LOCAL_SIDS
        .get(Key::new(128, sid))
        .map(|s| s.nh6)
        .ok_or(Reason::Srv6NoSid)?;
    if end <= l4 {
        return Err(Reason::Ipv6BadPayloadLength);
    }
    let inner_len = end - l4;
    let gtp_len = if qfi != 0 { GTP_PSC_LEN } else { 8 };
    let udp_len = 8 + gtp_len + inner_len;
    if udp_len > csum::SUM_MAX {
        return Err(Reason::MtuExceeded);
    }
    let eth: &EthHdr = cur.get(0, Reason::EthTruncated)?;
    let (dmac, smac) = (eth.dst, eth.src);
    let head = BASE + gtp_len;
    // SAFETY: ctx.ctx is this invocation's xdp_md; the helper checks the new head.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, l4 as i32 - head as i32) } != 0 {
        return Err(Reason::AdjustFailed);
    }
    let cur = Cursor::from_xdp(ctx);
    // Written straight into the packet (the stack has no room for a copy).
    let p = cur.get_mut::<[u8; BASE + 8]>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved the bytes; nothing else refers to them in this run.
    let b = unsafe { &mut *p };
    b[0..6].copy_from_slice(&dmac);
    b[6..12].copy_from_slice(&smac);
    b[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    let ip = ETH_HLEN;
    b[ip] = 0x60 | (tc >> 4);
    b[ip + 1] = tc << 4;
    b[ip + 2] = 0;
    b[ip + 3] = 0;
    b[ip + 4..ip + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    b[ip + 6] = proto::UDP;
    b[ip + 7] = 64;
    b[ip + 8..ip + 24].copy_from_slice(&src);
    b[ip + 24..ip + 40].copy_from_slice(&peer);
    let udp = ip + 40;
    b[udp..udp + 2].copy_from_slice(&GTPU_PORT.to_be_bytes());
    b[udp + 2..udp + 4].copy_from_slice(&GTPU_PORT.to_be_bytes());
    b[udp + 4..udp + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    b[udp + 6] = 0;
    b[udp + 7] = 0;
    let g = udp + 8;
    b[g] = if qfi != 0 { 0x34 } else { 0x30 };
    b[g + 1] = 0xff; // G-PDU
    b[g + 2..g + 4].copy_from_slice(&((gtp_len - 8 + inner_len) as u16).to_be_bytes());
    b[g + 4..g + 8].copy_from_slice(&teid);
    if qfi != 0 {
        let e = cur.get_mut::<[u8; 8]>(BASE + 8, Reason::AdjustFailed)?;
        // SAFETY: as above.
        let e = unsafe { &mut *e };
        // Sequence Number and N-PDU Number unused; next: a PDU Session Container, 4 bytes
        // long, PDU Type 0 (DL PDU SESSION INFORMATION), RQI and QFI, no next header.
        *e = [0, 0, 0, 0x85, 1, 0x00, (rqi << 6) | (qfi & 0x3f), 0];
    }
    let pseudo = csum::pseudo_v6(&src, &peer, proto::UDP, udp_len as u32);
    let sum = csum::sum_packet(&cur, udp, udp_len, pseudo)?;
    let c = match csum::finish(sum) {
        0 => 0xffff,
        c => c,
    };
    let p = cur.get_mut::<[u8; 2]>(udp + 6, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved the UDP checksum's 2 bytes.
    unsafe { *p = c.to_be_bytes() };
    let l = Lookup {
        v6: true,
        src: &src,
        dst: &peer,
        tos: tc,
        len: (40 + udp_len) as u16,
    };
    match fib::lookup(ctx, &l)? {
        Found::Success {
            ifindex,
            smac,
            dmac,
        } => {
            fib::redirect(ctx, smac, dmac, ifindex)?;
            Ok(Reason::Srv6MGtp6ERedirect)
        }
        Found::Kernel(_) => Ok(Reason::Srv6ToKernel),
        Found::TooBig(_) => Err(Reason::MtuExceeded),
    }
}
