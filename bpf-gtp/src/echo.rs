//! The GTP-U Echo responder (TS 29.281 7.2).
//!
//! An Echo Request is answered in place: the frame is resized to exactly the reply and rewritten
//! as an Echo Response with
//! - the Sequence Number copied from the request (TS 29.281 7.2.2), S = 1, TEID 0 (5.1);
//! - the mandatory Recovery IE (type 14) with Restart Counter 0 (TS 29.281 8.2: in GTP-U it is
//!   set to zero by the sender and ignored by the receiver);
//! - UDP ports swapped (4.4.2.2: the response goes from the request's destination port to its
//!   source port), IP addresses and MAC addresses swapped;
//! - a fresh outer IP header (IHL 5 or no extension headers, TTL/Hop Limit 64, DSCP or Traffic
//!   Class and Flow Label kept, ECN cleared) and correct IPv4 and UDP checksums.
//!
//! Request IEs (a Private Extension) and extension headers are not echoed. VLAN tags are kept.

use crate::n3::OuterIp;
use aya_ebpf::{helpers::generated::bpf_xdp_adjust_tail, programs::XdpContext};
use bpf_abi::Reason;
use bpf_net::{
    Cursor, csum,
    eth::EthHdr,
    gtpu::{GTPU_FLAG_PT, GTPU_FLAG_S, GTPU_VERSION_1, Gtpu, msg},
    ipv4::IP_DF,
    proto,
    udp::Udp,
};

/// Recovery IE type (TS 29.281 8.2).
pub const IE_RECOVERY: u8 = 14;
/// GTP-U part of the response: 8-byte header, 4 optional bytes, Recovery IE (2 bytes).
pub const ECHO_RESPONSE_LEN: usize = 14;
/// UDP header and the GTP-U response.
const UDP_REPLY_LEN: usize = 8 + ECHO_RESPONSE_LEN;
/// Hop limit of replies.
const REPLY_TTL: u8 = 64;

/// Answers the Echo Request `g` carried in `udp` over `ip` at `l3_off`.
#[inline(always)]
pub fn respond(
    ctx: &XdpContext,
    l3_off: usize,
    ip: &OuterIp,
    udp: &Udp,
    g: &Gtpu,
) -> Result<Reason, Reason> {
    let Some(seq) = g.seq else {
        return Err(Reason::GtpuEchoNoSequence);
    };
    if g.teid != 0 {
        return Err(Reason::GtpuEchoBadTeid);
    }
    let ip_len = match ip {
        OuterIp::V4 { .. } => 20,
        OuterIp::V6 { .. } => 40,
    };
    let old_len = ctx.data_end() - ctx.data();
    let new_len = l3_off + ip_len + UDP_REPLY_LEN;
    let delta = new_len as i32 - old_len as i32;
    if delta != 0 {
        // SAFETY: ctx.ctx is the xdp_md of this invocation; the helper checks the new size.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } != 0 {
            return Err(Reason::AdjustFailed);
        }
    }
    // The frame moved or changed size: every pointer is re-derived from a new cursor.
    let cur = Cursor::from_xdp(ctx);

    let eth = cur.get_mut::<EthHdr>(0, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved 14 bytes at offset 0; EthHdr has alignment 1.
    unsafe { core::mem::swap(&mut (*eth).src, &mut (*eth).dst) };

    let mut l4 = [0u8; UDP_REPLY_LEN];
    l4[0..2].copy_from_slice(&udp.dst.to_be_bytes());
    l4[2..4].copy_from_slice(&udp.src.to_be_bytes());
    l4[4..6].copy_from_slice(&(UDP_REPLY_LEN as u16).to_be_bytes());
    // GTP-U header: version 1, PT 1, S 1; Echo Response; Length = 4 optional + 2 IE; TEID 0.
    l4[8] = GTPU_VERSION_1 | GTPU_FLAG_PT | GTPU_FLAG_S;
    l4[9] = msg::ECHO_RESPONSE;
    l4[10..12].copy_from_slice(&((ECHO_RESPONSE_LEN - 8) as u16).to_be_bytes());
    l4[16..18].copy_from_slice(&seq.to_be_bytes());
    // N-PDU Number and Next Extension Header Type stay 0; Recovery IE, Restart Counter 0.
    l4[20] = IE_RECOVERY;

    match *ip {
        OuterIp::V4 { src, dst, tos } => {
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[1] = tos & 0xfc;
            h[2..4].copy_from_slice(&((20 + UDP_REPLY_LEN) as u16).to_be_bytes());
            h[6..8].copy_from_slice(&IP_DF.to_be_bytes());
            h[8] = REPLY_TTL;
            h[9] = proto::UDP;
            h[12..16].copy_from_slice(&dst);
            h[16..20].copy_from_slice(&src);
            let c = csum::finish(csum::add_bytes(0, &h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            let sum = csum::pseudo_v4(&dst, &src, proto::UDP, UDP_REPLY_LEN as u16);
            set_udp_checksum(&mut l4, sum);
            write(&cur, l3_off, &h)?;
            write(&cur, l3_off + 20, &l4)?;
        }
        OuterIp::V6 {
            src,
            dst,
            traffic_class,
            flow_label,
        } => {
            let mut h = [0u8; 40];
            let vtc = (6u32 << 28) | (u32::from(traffic_class & 0xfc) << 20) | flow_label;
            h[0..4].copy_from_slice(&vtc.to_be_bytes());
            h[4..6].copy_from_slice(&(UDP_REPLY_LEN as u16).to_be_bytes());
            h[6] = proto::UDP;
            h[7] = REPLY_TTL;
            h[8..24].copy_from_slice(&dst);
            h[24..40].copy_from_slice(&src);
            let sum = csum::pseudo_v6(&dst, &src, proto::UDP, UDP_REPLY_LEN as u32);
            set_udp_checksum(&mut l4, sum);
            write(&cur, l3_off, &h)?;
            write(&cur, l3_off + 40, &l4)?;
        }
    }
    Ok(Reason::GtpuEchoResponse)
}

/// Completes the UDP checksum of `l4` (header with a zero checksum, then payload) given the
/// pseudo-header sum. A computed 0 is sent as 0xffff (RFC 768).
#[inline(always)]
fn set_udp_checksum(l4: &mut [u8; UDP_REPLY_LEN], pseudo: u32) {
    let c = match csum::finish(csum::add_bytes(pseudo, l4)) {
        0 => 0xffff,
        c => c,
    };
    l4[6..8].copy_from_slice(&c.to_be_bytes());
}

/// Copies `bytes` into the packet at `off`.
#[inline(always)]
fn write<const N: usize>(cur: &Cursor, off: usize, bytes: &[u8; N]) -> Result<(), Reason> {
    let p = cur.get_mut::<[u8; N]>(off, Reason::AdjustFailed)?;
    // SAFETY: the cursor proved N bytes at `off` inside the packet; [u8; N] has alignment 1.
    unsafe { *p = *bytes };
    Ok(())
}
