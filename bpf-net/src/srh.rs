//! The IPv6 Segment Routing Header (RFC 8754 2).

use crate::Cursor;
use bpf_abi::{Be16, Reason};

/// Routing Type of the SRH.
pub const ROUTING_TYPE_SRH: u8 = 4;
/// Length of the fixed part of the SRH.
pub const SRH_FIXED_LEN: usize = 8;
/// Length of one segment (an IPv6 address).
pub const SEGMENT_LEN: usize = 16;

/// The fixed part of the SRH.
#[repr(C)]
pub struct SrhHdr {
    /// Next Header.
    pub next_header: u8,
    /// Hdr Ext Len: length in 8-octet units, not counting the first 8 octets.
    pub hdr_ext_len: u8,
    /// Routing Type (4).
    pub routing_type: u8,
    /// Segments Left: index of the active segment in the list.
    pub segments_left: u8,
    /// Last Entry: index of the last element of the Segment List.
    pub last_entry: u8,
    /// Flags.
    pub flags: u8,
    /// Tag.
    pub tag: Be16,
}

const _: () = assert!(size_of::<SrhHdr>() == SRH_FIXED_LEN);

/// SRH TLV types (RFC 8754 2.1.1, 2.1.2).
pub const TLV_PAD1: u8 = 0;
/// PadN.
pub const TLV_PADN: u8 = 4;
/// HMAC.
pub const TLV_HMAC: u8 = 5;
/// TLVs walked at most; an SRH with more is dropped (`srh_too_many_tlvs`).
pub const MAX_TLVS: usize = 16;

/// What an SRH says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Srh {
    /// Offset of the header.
    pub off: usize,
    /// Next Header.
    pub next_header: u8,
    /// Header length in bytes ((Hdr Ext Len + 1) * 8).
    pub hdr_len: usize,
    /// Segments Left.
    pub segments_left: u8,
    /// Last Entry.
    pub last_entry: u8,
    /// Flags.
    pub flags: u8,
    /// Tag.
    pub tag: u16,
    /// Offset of the TLV area (after Segment List[Last Entry]); equals `end` when empty.
    pub tlv_off: usize,
    /// End of the header.
    pub end: usize,
}

impl Srh {
    /// Offset of Segment List[i]. The caller checks `i <= last_entry`.
    #[inline(always)]
    pub fn segment_off(&self, i: u8) -> usize {
        self.off + SRH_FIXED_LEN + usize::from(i) * SEGMENT_LEN
    }
}

/// Parses the SRH at `off` of a packet whose IPv6 payload ends at `ip_end`. Checks the length
/// against the packet and Last Entry against the length (RFC 8986 4.1 S04-S05: Last Entry above
/// (Hdr Ext Len / 2) - 1 is an error). Segments Left is left to the behaviour that reads it.
#[inline(always)]
pub fn parse_srh(cur: &Cursor, off: usize, ip_end: usize) -> Result<Srh, Reason> {
    if off + SRH_FIXED_LEN > ip_end {
        return Err(Reason::SrhTruncated);
    }
    let h: &SrhHdr = cur.get(off, Reason::SrhTruncated)?;
    if h.routing_type != ROUTING_TYPE_SRH {
        return Err(Reason::SrhNotSegmentRouting);
    }
    let hdr_len = (usize::from(h.hdr_ext_len) + 1) * 8;
    if off + hdr_len > ip_end {
        return Err(Reason::SrhTruncated);
    }
    let segs = usize::from(h.last_entry) + 1;
    if SRH_FIXED_LEN + segs * SEGMENT_LEN > hdr_len {
        return Err(Reason::SrhBadLastEntry);
    }
    let tlv_off = off + SRH_FIXED_LEN + segs * SEGMENT_LEN;
    Ok(Srh {
        off,
        next_header: h.next_header,
        hdr_len,
        segments_left: h.segments_left,
        last_entry: h.last_entry,
        flags: h.flags,
        tag: h.tag.get(),
        tlv_off,
        end: off + hdr_len,
    })
}

/// Checks the TLVs of the SRH at `off` (see [`check_tlvs`]) once per packet, before its
/// behaviour parses it again; an SRH that does not parse is left to [`parse_srh`] there.
#[inline(always)]
pub fn check_srh_tlvs(cur: &Cursor, off: usize, ip_end: usize) -> Result<(), Reason> {
    match parse_srh(cur, off, ip_end) {
        Ok(s) if s.tlv_off < s.end => check_tlvs(cur, s.tlv_off, s.end),
        _ => Ok(()),
    }
}

/// Walks the TLVs in `[at, end)` (RFC 8754 2.1): Pad1 is one byte, every other TLV a type, a
/// length and that many bytes, and together they fill the area exactly (`srh_bad_tlv`
/// otherwise). Unknown types are skipped (RFC 8754 2.1: processing of other TLVs is local
/// policy). An HMAC TLV (2.1.2) is dropped with `srv6_hmac_not_verified`: verifying it needs
/// HMAC-SHA256 and the keys, which XDP has neither of, and a packet that asks for it is not
/// forwarded unverified.
#[inline(always)]
fn check_tlvs(cur: &Cursor, mut at: usize, end: usize) -> Result<(), Reason> {
    let mut i = 0;
    while i < MAX_TLVS {
        if at >= end {
            return Ok(());
        }
        let t = cur.u8_at(at, Reason::SrhTruncated)?;
        if t == TLV_PAD1 {
            at += 1;
        } else {
            if at + 2 > end {
                return Err(Reason::SrhBadTlv);
            }
            let len = usize::from(cur.u8_at(at + 1, Reason::SrhTruncated)?);
            if at + 2 + len > end {
                return Err(Reason::SrhBadTlv);
            }
            if t == TLV_HMAC {
                return Err(Reason::Srv6HmacNotVerified);
            }
            at += 2 + len;
        }
        i += 1;
    }
    if at >= end {
        Ok(())
    } else {
        Err(Reason::SrhTooManyTlvs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SRH with two segments and an 8-byte PadN TLV: Hdr Ext Len 5 (48 bytes).
    fn srh_two_segments_with_tlv() -> Vec<u8> {
        let mut v = vec![41, 5, 4, 1, 1, 0, 0x12, 0x34];
        for last in [0xb1u8, 0xb2] {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[15] = last;
            v.extend_from_slice(&a);
        }
        v.extend_from_slice(&[4, 6, 0, 0, 0, 0, 0, 0]); // PadN, 6 bytes of padding
        v
    }

    #[test]
    fn header_at_every_truncation() {
        let full = srh_two_segments_with_tlv();
        for n in 0..=full.len() {
            let mut b = full[..n].to_vec();
            let got = parse_srh(&Cursor::from_slice(&mut b), 0, n);
            if n < full.len() {
                assert_eq!(got, Err(Reason::SrhTruncated), "prefix {n}");
            } else {
                let s = got.unwrap();
                assert_eq!(
                    (s.next_header, s.hdr_len, s.segments_left, s.last_entry),
                    (41, 48, 1, 1)
                );
                assert_eq!((s.tag, s.tlv_off, s.end), (0x1234, 40, 48));
                assert_eq!(s.segment_off(1), 24);
                assert_eq!(b[s.segment_off(1) + 15], 0xb2);
            }
        }
    }

    /// `srh_two_segments_with_tlv` with its 8-byte TLV area replaced by `tlvs`.
    fn with_tlvs(tlvs: &[u8]) -> Vec<u8> {
        assert_eq!(tlvs.len() % 8, 0);
        let mut v = srh_two_segments_with_tlv();
        v.truncate(40);
        v.extend_from_slice(tlvs);
        v[1] = ((v.len() / 8) - 1) as u8;
        v
    }

    fn parse(mut b: Vec<u8>) -> Result<Srh, Reason> {
        let n = b.len();
        let c = Cursor::from_slice(&mut b);
        check_srh_tlvs(&c, 0, n)?;
        parse_srh(&c, 0, n)
    }

    #[test]
    fn tlvs_are_walked_by_their_lengths() {
        // Pad1 bytes, PadN, an unknown type (skipped): all fill the area exactly.
        assert!(parse(with_tlvs(&[0, 0, 4, 0, 0, 0, 0, 0])).is_ok());
        assert!(parse(with_tlvs(&[4, 2, 0, 0, 0x80, 2, 9, 9])).is_ok());
        assert!(parse(with_tlvs(&[0; 8])).is_ok());
        // A length beyond the area, or a type without its length byte.
        assert_eq!(
            parse(with_tlvs(&[4, 7, 0, 0, 0, 0, 0, 0])),
            Err(Reason::SrhBadTlv)
        );
        assert_eq!(
            parse(with_tlvs(&[4, 5, 0, 0, 0, 0, 0, 0x80])),
            Err(Reason::SrhBadTlv)
        );
        // HMAC (type 5, 2.1.2: reserved, key ID, HMAC), after a Pad1.
        let mut hmac = vec![0, 5, 38, 0, 0, 0, 0, 0, 1];
        hmac.extend_from_slice(&[0xaa; 32]);
        hmac.extend_from_slice(&[0; 7]);
        assert_eq!(hmac.len(), 48);
        assert_eq!(parse(with_tlvs(&hmac)), Err(Reason::Srv6HmacNotVerified));
        // More TLVs than walked: 17 PadN of 0 bytes plus padding.
        let mut many = [4u8, 0].repeat(MAX_TLVS + 1);
        many.resize(40, 0);
        assert_eq!(parse(with_tlvs(&many)), Err(Reason::SrhTooManyTlvs));
        // Exactly as many as walked.
        assert!(parse(with_tlvs(&[4u8, 0].repeat(MAX_TLVS))).is_ok());
        let mut exact = [4u8, 0].repeat(MAX_TLVS - 4);
        exact.extend_from_slice(&[4, 6, 0, 0, 0, 0, 0, 0]);
        assert!(parse(with_tlvs(&exact)).is_ok());
    }

    #[test]
    fn last_entry_beyond_the_length_is_bad() {
        let mut b = srh_two_segments_with_tlv();
        b[4] = 2; // three segments need 56 bytes, the header has 48
        let n = b.len();
        assert_eq!(
            parse_srh(&Cursor::from_slice(&mut b), 0, n),
            Err(Reason::SrhBadLastEntry)
        );
        b[4] = 1;
        b[2] = 0; // Routing Type 0 (deprecated)
        assert_eq!(
            parse_srh(&Cursor::from_slice(&mut b), 0, n),
            Err(Reason::SrhNotSegmentRouting)
        );
    }
}
