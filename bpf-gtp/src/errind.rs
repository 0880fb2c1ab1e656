//! Error Indication (TS 29.281 7.3.1): a G-PDU for a TEID with no session is answered, instead
//! of silently dropped, with an Error Indication to its sender carrying the TEID Data I IE (the
//! unknown TEID) and the GTP-U Peer Address IE (our address, the one the G-PDU was sent to),
//! plus the UDP Port extension header with the G-PDU's source port when that is not 2152
//! (TS 29.281 5.2.2.1). At most [`LIMIT_PER_SEC`] per second per CPU: the rest are dropped.

use crate::{outer::OuterIp, ratelimit, reply};
use aya_ebpf::programs::XdpContext;
use bpf_abi::Reason;
use bpf_net::{
    gtpu::{GTPU_FLAG_E, GTPU_FLAG_PT, GTPU_FLAG_S, GTPU_PORT, GTPU_VERSION_1, ext, msg},
    udp::Udp,
};

/// Error Indications sent per second per CPU at most.
pub const LIMIT_PER_SEC: u64 = 100;
/// TEID Data I IE type (TV, 4 octets).
const IE_TEID_DATA_I: u8 = 16;
/// GTP-U Peer Address IE type (TLV).
const IE_PEER_ADDRESS: u8 = 133;

/// Answers the G-PDU for unknown `teid` carried in `udp` over `ip` at `l3_off`; `Err` when the
/// rate limit or the reply fails (the G-PDU is then dropped).
#[inline(always)]
pub fn respond(
    ctx: &XdpContext,
    l3_off: usize,
    ip: &OuterIp,
    udp: &Udp,
    teid: u32,
) -> Result<Reason, Reason> {
    if !ratelimit::allowed(ratelimit::ERROR_INDICATION, LIMIT_PER_SEC) {
        return Err(Reason::GtpuUnknownTeid);
    }
    let port_ext = udp.src != GTPU_PORT;
    match (ip, port_ext) {
        (OuterIp::V4 { dst, .. }, false) => {
            let mut m = [0u8; 24];
            header(&mut m, false);
            ies(&mut m[12..], teid, dst);
            reply::send(ctx, l3_off, ip, udp, &m)?;
        }
        (OuterIp::V4 { dst, .. }, true) => {
            let mut m = [0u8; 28];
            header(&mut m, true);
            port(&mut m, udp.src);
            ies(&mut m[16..], teid, dst);
            reply::send(ctx, l3_off, ip, udp, &m)?;
        }
        (OuterIp::V6 { dst, .. }, false) => {
            let mut m = [0u8; 36];
            header(&mut m, false);
            ies(&mut m[12..], teid, dst);
            reply::send(ctx, l3_off, ip, udp, &m)?;
        }
        (OuterIp::V6 { dst, .. }, true) => {
            let mut m = [0u8; 40];
            header(&mut m, true);
            port(&mut m, udp.src);
            ies(&mut m[16..], teid, dst);
            reply::send(ctx, l3_off, ip, udp, &m)?;
        }
    }
    Ok(Reason::GtpuErrorIndication)
}

/// Version 1, PT 1, S 1 (TS 29.281 5.1), E with the UDP Port header; Error Indication; TEID 0;
/// Sequence Number 0.
#[inline(always)]
fn header(m: &mut [u8], with_ext: bool) {
    m[0] = GTPU_VERSION_1 | GTPU_FLAG_PT | GTPU_FLAG_S | if with_ext { GTPU_FLAG_E } else { 0 };
    m[1] = msg::ERROR_INDICATION;
    let len = (m.len() - 8) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    if with_ext {
        m[11] = ext::UDP_PORT;
    }
}

/// The UDP Port extension header (length 1: the port, then no next header).
#[inline(always)]
fn port(m: &mut [u8], src: u16) {
    m[12] = 1;
    m[13..15].copy_from_slice(&src.to_be_bytes());
    m[15] = 0;
}

/// TEID Data I, then GTP-U Peer Address (4 or 16 octets).
#[inline(always)]
fn ies<const A: usize>(m: &mut [u8], teid: u32, addr: &[u8; A]) {
    m[0] = IE_TEID_DATA_I;
    m[1..5].copy_from_slice(&teid.to_be_bytes());
    m[5] = IE_PEER_ADDRESS;
    m[6..8].copy_from_slice(&(A as u16).to_be_bytes());
    m[8..8 + A].copy_from_slice(addr);
}
