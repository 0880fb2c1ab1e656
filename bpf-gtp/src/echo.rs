//! The GTP-U Echo responder (TS 29.281 7.2): an Echo Request is answered in place (see
//! [`crate::reply`]) with an Echo Response carrying
//! - the Sequence Number copied from the request (TS 29.281 7.2.2), S = 1, TEID 0 (5.1);
//! - the mandatory Recovery IE (type 14) with Restart Counter 0 (TS 29.281 8.2: in GTP-U it is
//!   set to zero by the sender and ignored by the receiver).
//!
//! Request IEs (a Private Extension) and extension headers are not echoed.

use crate::{outer::OuterIp, reply};
use aya_ebpf::programs::XdpContext;
use bpf_abi::Reason;
use bpf_net::{
    gtpu::{GTPU_FLAG_PT, GTPU_FLAG_S, GTPU_VERSION_1, Gtpu, msg},
    udp::Udp,
};

/// Recovery IE type (TS 29.281 8.2).
pub const IE_RECOVERY: u8 = 14;
/// GTP-U part of the response: 8-byte header, 4 optional bytes, Recovery IE (2 bytes).
pub const ECHO_RESPONSE_LEN: usize = 14;

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
    let mut m = [0u8; ECHO_RESPONSE_LEN];
    // Version 1, PT 1, S 1; Echo Response; Length = 4 optional + 2 IE; TEID 0.
    m[0] = GTPU_VERSION_1 | GTPU_FLAG_PT | GTPU_FLAG_S;
    m[1] = msg::ECHO_RESPONSE;
    m[2..4].copy_from_slice(&((ECHO_RESPONSE_LEN - 8) as u16).to_be_bytes());
    m[8..10].copy_from_slice(&seq.to_be_bytes());
    // N-PDU Number and Next Extension Header Type stay 0; Recovery IE, Restart Counter 0.
    m[12] = IE_RECOVERY;
    reply::send(ctx, l3_off, ip, udp, &m)?;
    Ok(Reason::GtpuEchoResponse)
}
