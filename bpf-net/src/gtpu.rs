//! GTP-U (TS 29.281 5) with its extension-header chain, and the PDU Session Container of
//! TS 38.415 5.5.2.
//!
//! The optional 4 bytes (Sequence Number, N-PDU Number, Next Extension Header Type) are present
//! when any of E, S, PN is set (TS 29.281 5.1); each field is meaningful only when its own flag
//! is. Extension headers are walked by their Length field (in 4-octet units, TS 29.281 5.2.1),
//! at most [`MAX_GTPU_EXT`] of them.

use crate::Cursor;
use bpf_abi::{Be16, Be32, Reason};

/// The GTP-U UDP port (TS 29.281 4.4.2.3).
pub const GTPU_PORT: u16 = 2152;
/// Length of the mandatory GTP-U header.
pub const GTPU_HLEN: usize = 8;
/// Length of the optional fields present when E, S or PN is set.
pub const GTPU_OPT_LEN: usize = 4;
/// Extension headers the walk follows before giving up with [`Reason::GtpuExtTooMany`].
pub const MAX_GTPU_EXT: usize = 8;

/// Version field value of GTPv1, in the flags byte (bits 8-6 = 001).
pub const GTPU_VERSION_1: u8 = 0x20;
/// Mask of the version bits in the flags byte.
pub const GTPU_VERSION_MASK: u8 = 0xe0;
/// Protocol Type: 1 for GTP, 0 for GTP'.
pub const GTPU_FLAG_PT: u8 = 0x10;
/// Extension Header flag.
pub const GTPU_FLAG_E: u8 = 0x04;
/// Sequence Number flag.
pub const GTPU_FLAG_S: u8 = 0x02;
/// N-PDU Number flag.
pub const GTPU_FLAG_PN: u8 = 0x01;

/// GTP-U message types (TS 29.281 6.1).
pub mod msg {
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 1;
    /// Echo Response.
    pub const ECHO_RESPONSE: u8 = 2;
    /// Error Indication.
    pub const ERROR_INDICATION: u8 = 26;
    /// Supported Extension Headers Notification.
    pub const SUPPORTED_EXT_HEADERS_NOTIFICATION: u8 = 31;
    /// Tunnel Status.
    pub const TUNNEL_STATUS: u8 = 253;
    /// End Marker.
    pub const END_MARKER: u8 = 254;
    /// G-PDU: a T-PDU follows.
    pub const G_PDU: u8 = 255;
}

/// Extension header types (TS 29.281 5.2.1, Figure 5.2.1-3).
pub mod ext {
    /// No more extension headers.
    pub const NONE: u8 = 0x00;
    /// Long PDCP PDU Number (comprehension not required form).
    pub const LONG_PDCP_PDU_NUMBER_NR: u8 = 0x03;
    /// Service Class Indicator.
    pub const SERVICE_CLASS_INDICATOR: u8 = 0x20;
    /// UDP Port.
    pub const UDP_PORT: u8 = 0x40;
    /// RAN Container.
    pub const RAN_CONTAINER: u8 = 0x81;
    /// Long PDCP PDU Number.
    pub const LONG_PDCP_PDU_NUMBER: u8 = 0x82;
    /// Xw RAN Container.
    pub const XW_RAN_CONTAINER: u8 = 0x83;
    /// NR RAN Container.
    pub const NR_RAN_CONTAINER: u8 = 0x84;
    /// PDU Session Container (TS 38.415).
    pub const PDU_SESSION_CONTAINER: u8 = 0x85;
    /// PDCP PDU Number.
    pub const PDCP_PDU_NUMBER: u8 = 0xc0;
    /// Bit 8 of the type: comprehension of the header is required (TS 29.281 5.2.1).
    pub const COMPREHENSION_REQUIRED: u8 = 0x80;

    /// True for the types TS 29.281 defines for GTP-U.
    #[inline(always)]
    pub const fn is_known(t: u8) -> bool {
        matches!(
            t,
            LONG_PDCP_PDU_NUMBER_NR
                | SERVICE_CLASS_INDICATOR
                | UDP_PORT
                | RAN_CONTAINER
                | LONG_PDCP_PDU_NUMBER
                | XW_RAN_CONTAINER
                | NR_RAN_CONTAINER
                | PDU_SESSION_CONTAINER
                | PDCP_PDU_NUMBER
        )
    }
}

/// PDU Type of a PDU Session Container (TS 38.415 5.5.3.1).
pub mod pdu_type {
    /// DL PDU SESSION INFORMATION.
    pub const DL: u8 = 0;
    /// UL PDU SESSION INFORMATION.
    pub const UL: u8 = 1;
}

/// The mandatory GTP-U header.
#[repr(C)]
pub struct GtpuHdr {
    /// Version (3 bits), PT, spare, E, S, PN.
    pub flags: u8,
    /// Message Type.
    pub msg_type: u8,
    /// Length of everything after these 8 bytes.
    pub length: Be16,
    /// Tunnel Endpoint Identifier.
    pub teid: Be32,
}

/// The optional fields.
#[repr(C)]
pub struct GtpuOptHdr {
    /// Sequence Number (valid when S is set).
    pub seq: Be16,
    /// N-PDU Number (valid when PN is set).
    pub npdu: u8,
    /// Next Extension Header Type (valid when E is set).
    pub next_ext: u8,
}

const _: () = assert!(size_of::<GtpuHdr>() == GTPU_HLEN && size_of::<GtpuOptHdr>() == 4);

/// A PDU Session Container (TS 38.415 5.5.2.1 DL, 5.5.2.2 UL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Psc {
    /// Offset of the extension header (its Length byte).
    pub off: usize,
    /// PDU Type: [`pdu_type::DL`] or [`pdu_type::UL`].
    pub pdu_type: u8,
    /// QoS Flow Identifier.
    pub qfi: u8,
    /// Reflective QoS Indicator (DL only).
    pub rqi: bool,
    /// Paging Policy Presence (DL only).
    pub ppp: bool,
    /// Paging Policy Indicator, when `ppp` (DL only).
    pub ppi: u8,
}

/// What a GTP-U header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gtpu {
    /// Offset of the header.
    pub off: usize,
    /// The flags byte.
    pub flags: u8,
    /// Message Type.
    pub msg_type: u8,
    /// Tunnel Endpoint Identifier.
    pub teid: u32,
    /// Sequence Number, when S is set.
    pub seq: Option<u16>,
    /// N-PDU Number, when PN is set.
    pub npdu: Option<u8>,
    /// Extension headers walked.
    pub ext_count: u8,
    /// The PDU Session Container, when one was in the chain.
    pub psc: Option<Psc>,
    /// Offset of what follows the header and extension headers (T-PDU or IEs).
    pub payload_off: usize,
    /// End of the message by its Length field.
    pub end: usize,
}

/// Parses the GTP-U header at `off` of a UDP payload ending at `udp_end`, with its optional
/// fields and its extension-header chain.
#[inline(always)]
pub fn parse_gtpu(cur: &Cursor, off: usize, udp_end: usize) -> Result<Gtpu, Reason> {
    if off + GTPU_HLEN > udp_end {
        return Err(Reason::GtpuTruncated);
    }
    let h: &GtpuHdr = cur.get(off, Reason::GtpuTruncated)?;
    if h.flags & GTPU_VERSION_MASK != GTPU_VERSION_1 {
        return Err(Reason::GtpuBadVersion);
    }
    if h.flags & GTPU_FLAG_PT == 0 {
        return Err(Reason::GtpuNotGtp);
    }
    let end = off + GTPU_HLEN + usize::from(h.length.get());
    if end > udp_end {
        return Err(Reason::GtpuBadLength);
    }
    let mut out = Gtpu {
        off,
        flags: h.flags,
        msg_type: h.msg_type,
        teid: h.teid.get(),
        seq: None,
        npdu: None,
        ext_count: 0,
        psc: None,
        payload_off: off + GTPU_HLEN,
        end,
    };
    if h.flags & (GTPU_FLAG_E | GTPU_FLAG_S | GTPU_FLAG_PN) == 0 {
        return Ok(out);
    }
    if out.payload_off + GTPU_OPT_LEN > end {
        return Err(Reason::GtpuBadLength);
    }
    let o: &GtpuOptHdr = cur.get(out.payload_off, Reason::GtpuTruncated)?;
    if h.flags & GTPU_FLAG_S != 0 {
        out.seq = Some(o.seq.get());
    }
    if h.flags & GTPU_FLAG_PN != 0 {
        out.npdu = Some(o.npdu);
    }
    out.payload_off += GTPU_OPT_LEN;
    if h.flags & GTPU_FLAG_E == 0 {
        return Ok(out);
    }
    let mut next = o.next_ext;
    // The PDU Session Container is located in the walk and parsed after it: keeping its fields
    // out of the loop keeps the verifier's state count linear in the number of headers.
    let mut psc_at = 0;
    let mut psc_len = 0;
    let mut i = 0;
    while i < MAX_GTPU_EXT {
        if next == ext::NONE {
            break;
        }
        let at = out.payload_off;
        if at + 1 > end {
            return Err(Reason::GtpuExtTruncated);
        }
        let len = usize::from(cur.u8_at(at, Reason::GtpuExtTruncated)?) * 4;
        if len == 0 {
            return Err(Reason::GtpuExtBadLength);
        }
        if at + len > end {
            return Err(Reason::GtpuExtTruncated);
        }
        if next == ext::PDU_SESSION_CONTAINER {
            psc_at = at;
            psc_len = len;
        } else if !ext::is_known(next) && next & ext::COMPREHENSION_REQUIRED != 0 {
            return Err(Reason::GtpuExtUnknownRequired);
        }
        next = cur.u8_at(at + len - 1, Reason::GtpuExtTruncated)?;
        out.payload_off = at + len;
        out.ext_count += 1;
        i += 1;
    }
    if next != ext::NONE {
        return Err(Reason::GtpuExtTooMany);
    }
    if psc_len != 0 {
        out.psc = Some(parse_psc(cur, psc_at, psc_len)?);
    }
    Ok(out)
}

/// Parses the PDU Session Container whose extension header (Length byte first) is at `at` and
/// `len` bytes long. The content is `len - 2` bytes: after the Length byte, before the Next
/// Extension Header Type.
#[inline(always)]
fn parse_psc(cur: &Cursor, at: usize, len: usize) -> Result<Psc, Reason> {
    let content = len - 2;
    let b: &[u8; 2] = cur.get(at + 1, Reason::GtpuPscTruncated)?;
    let ty = b[0] >> 4;
    let mut psc = Psc {
        off: at,
        pdu_type: ty,
        qfi: b[1] & 0x3f,
        rqi: false,
        ppp: false,
        ppi: 0,
    };
    match ty {
        pdu_type::DL => {
            // Octet 1: PDU Type | QMP | SNP | MSNP | spare; octet 2: PPP | RQI | QFI.
            psc.ppp = b[1] & 0x80 != 0;
            psc.rqi = b[1] & 0x40 != 0;
            let qmp = b[0] & 0x08 != 0;
            let snp = b[0] & 0x04 != 0;
            let mut need = 2;
            if psc.ppp {
                need += 1;
            }
            if qmp {
                need += 8; // DL Sending Time Stamp
            }
            if snp {
                need += 3; // DL QFI Sequence Number
            }
            if need > content {
                return Err(Reason::GtpuPscTruncated);
            }
            if psc.ppp {
                psc.ppi = cur.u8_at(at + 3, Reason::GtpuPscTruncated)? >> 5;
            }
        }
        // Octet 2 of UL: N3/N9 Delay Ind | New IE Flag | QFI. The optional UL fields are not
        // needed by the user plane and are not length-checked here.
        pdu_type::UL => {}
        _ => return Err(Reason::GtpuPscBadPduType),
    }
    Ok(psc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GTP-U message: flags, type, TEID, optional fields if any of E/S/PN, the extension
    /// headers as given (each already with its Length and Next Type bytes), then `payload`.
    fn gtpu(flags: u8, ty: u8, teid: u32, opt: [u8; 4], exts: &[u8], payload: &[u8]) -> Vec<u8> {
        let has_opt = flags & 0x07 != 0;
        let len = if has_opt { 4 } else { 0 } + exts.len() + payload.len();
        let mut v = vec![flags, ty];
        v.extend_from_slice(&(len as u16).to_be_bytes());
        v.extend_from_slice(&teid.to_be_bytes());
        if has_opt {
            v.extend_from_slice(&opt);
        }
        v.extend_from_slice(exts);
        v.extend_from_slice(payload);
        v
    }

    fn parse_all(b: &mut [u8]) -> Result<Gtpu, Reason> {
        let n = b.len();
        parse_gtpu(&Cursor::from_slice(b), 0, n)
    }

    /// Every prefix of `full` (UDP payload cut) and every shorter Length field.
    fn check_truncations(full: &[u8], by_length: impl Fn(usize) -> Option<Reason>) -> Gtpu {
        let mut whole = full.to_vec();
        let want = parse_all(&mut whole).expect("full message parses");
        for n in 0..full.len() {
            let mut b = full[..n].to_vec();
            let expect = if n < 8 {
                Reason::GtpuTruncated
            } else {
                Reason::GtpuBadLength
            };
            assert_eq!(parse_all(&mut b), Err(expect), "UDP payload cut to {n}");
        }
        let real_len = full.len() - 8;
        for k in 0..real_len {
            let mut b = full.to_vec();
            b[2..4].copy_from_slice(&(k as u16).to_be_bytes());
            let got = parse_all(&mut b);
            match by_length(k) {
                Some(r) => assert_eq!(got, Err(r), "Length field {k}"),
                None => assert!(got.is_ok(), "Length field {k}: {got:?}"),
            }
        }
        want
    }

    #[test]
    fn plain_gpdu() {
        let full = gtpu(
            0x30,
            msg::G_PDU,
            0x0102_0304,
            [0; 4],
            &[],
            &[0x45, 0, 0, 20],
        );
        let g = check_truncations(&full, |_| None);
        assert_eq!(
            (g.msg_type, g.teid, g.seq, g.payload_off, g.end),
            (255, 0x01020304, None, 8, 12)
        );
    }

    #[test]
    fn echo_request_with_sequence_number() {
        let full = gtpu(0x32, msg::ECHO_REQUEST, 0, [0x12, 0x34, 0, 0], &[], &[]);
        let g = check_truncations(&full, |_| Some(Reason::GtpuBadLength));
        assert_eq!(
            (g.msg_type, g.seq, g.npdu, g.payload_off),
            (1, Some(0x1234), None, 12)
        );
    }

    #[test]
    fn gpdu_with_sequence_npdu_and_ul_psc() {
        // UL PSC: Length 1, PDU Type 1, QFI 9, Next 0.
        let exts = [0x01, 0x10, 0x09, 0x00];
        let full = gtpu(0x37, msg::G_PDU, 7, [0, 5, 0x42, 0x85], &exts, &[0x45; 6]);
        let g = check_truncations(&full, |k| match k {
            0..4 => Some(Reason::GtpuBadLength),
            4..8 => Some(Reason::GtpuExtTruncated),
            _ => None,
        });
        assert_eq!(
            (g.seq, g.npdu, g.ext_count, g.payload_off),
            (Some(5), Some(0x42), 1, 16)
        );
        assert_eq!(
            g.psc,
            Some(Psc {
                off: 12,
                pdu_type: 1,
                qfi: 9,
                rqi: false,
                ppp: false,
                ppi: 0
            })
        );
    }

    #[test]
    fn dl_psc_with_rqi_and_ppi_behind_an_unknown_optional_header() {
        // Unknown type 0x3f (comprehension not required), 4 bytes, then DL PSC with PPP, RQI,
        // QFI 5, PPI 6 (Length 2 = 8 bytes: len, 2 octets, PPI octet, 3 padding, next).
        let exts = [
            0x01, 0xaa, 0xbb, 0x85, 0x02, 0x00, 0xc5, 0xc0, 0, 0, 0, 0x00,
        ];
        let full = gtpu(0x34, msg::G_PDU, 1, [0, 0, 0, 0x3f], &exts, &[0x60; 4]);
        let g = check_truncations(&full, |k| match k {
            0..4 => Some(Reason::GtpuBadLength),
            4..16 => Some(Reason::GtpuExtTruncated),
            _ => None,
        });
        assert_eq!(g.ext_count, 2);
        assert_eq!(g.payload_off, 24);
        assert_eq!(
            g.psc,
            Some(Psc {
                off: 16,
                pdu_type: 0,
                qfi: 5,
                rqi: true,
                ppp: true,
                ppi: 6
            })
        );
    }

    #[test]
    fn bad_headers_are_named() {
        let base = gtpu(
            0x34,
            msg::G_PDU,
            1,
            [0, 0, 0, 0x85],
            &[0x01, 0x10, 0x01, 0x00],
            &[],
        );
        let set = |at: usize, v: u8| {
            let mut b = base.clone();
            b[at] = v;
            parse_all(&mut b)
        };
        assert_eq!(set(0, 0x54), Err(Reason::GtpuBadVersion)); // version 2
        assert_eq!(set(0, 0x14), Err(Reason::GtpuBadVersion)); // version 0
        assert_eq!(set(0, 0x24), Err(Reason::GtpuNotGtp)); // PT = 0 (GTP')
        assert_eq!(set(12, 0), Err(Reason::GtpuExtBadLength));
        assert_eq!(set(11, 0x84).map(|g| g.psc), Ok(None)); // known (NR RAN Container): skipped
        assert_eq!(set(11, 0xbf), Err(Reason::GtpuExtUnknownRequired));
        assert_eq!(set(11, 0x7f).map(|g| g.psc), Ok(None)); // unknown, not required: skipped
        assert_eq!(set(13, 0x20), Err(Reason::GtpuPscBadPduType));
        // DL PSC with QMP (8-byte time stamp) in a 4-byte header.
        assert_eq!(set(13, 0x08), Err(Reason::GtpuPscTruncated));
        // DL PSC with PPP in a 4-byte header: no room for the PPI octet.
        let mut b = base.clone();
        b[13] = 0x00;
        b[14] = 0x81;
        assert_eq!(parse_all(&mut b), Err(Reason::GtpuPscTruncated));
    }

    #[test]
    fn too_many_extension_headers() {
        let mut exts = Vec::new();
        for i in 0..=MAX_GTPU_EXT {
            let next = if i == MAX_GTPU_EXT { 0 } else { 0x20 };
            exts.extend_from_slice(&[1, 0, 0, next]);
        }
        let mut b = gtpu(0x34, msg::G_PDU, 1, [0, 0, 0, 0x20], &exts, &[]);
        assert_eq!(parse_all(&mut b), Err(Reason::GtpuExtTooMany));
        let mut ok = gtpu(0x34, msg::G_PDU, 1, [0, 0, 0, 0x20], &exts[4..], &[]);
        assert_eq!(
            parse_all(&mut ok).map(|g| g.ext_count),
            Ok(MAX_GTPU_EXT as u8)
        );
    }
}
