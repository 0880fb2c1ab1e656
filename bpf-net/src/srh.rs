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
    Ok(Srh {
        off,
        next_header: h.next_header,
        hdr_len,
        segments_left: h.segments_left,
        last_entry: h.last_entry,
        flags: h.flags,
        tag: h.tag.get(),
        tlv_off: off + SRH_FIXED_LEN + segs * SEGMENT_LEN,
        end: off + hdr_len,
    })
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
