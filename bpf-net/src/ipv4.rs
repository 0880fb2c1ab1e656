//! IPv4 (RFC 791), with options (IHL above 5).

use crate::{Cursor, csum};
use bpf_abi::{Be16, Reason};

/// Length of an IPv4 header without options.
pub const IPV4_MIN_HLEN: usize = 20;
/// Length of an IPv4 header with the most options (IHL 15).
pub const IPV4_MAX_HLEN: usize = 60;

/// The fixed part of the IPv4 header.
#[repr(C)]
pub struct Ipv4Hdr {
    /// Version (4 bits, high) and IHL in 32-bit words (4 bits, low).
    pub version_ihl: u8,
    /// DSCP (6 bits) and ECN (2 bits).
    pub tos: u8,
    /// Total Length: header and payload, in bytes.
    pub total_len: Be16,
    /// Identification.
    pub id: Be16,
    /// Flags (reserved, DF, MF) and Fragment Offset in 8-byte units.
    pub frag_off: Be16,
    /// Time to Live.
    pub ttl: u8,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Header Checksum.
    pub check: [u8; 2],
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

const _: () = assert!(size_of::<Ipv4Hdr>() == IPV4_MIN_HLEN);

/// Flag More Fragments, in host order of the flags/offset word.
pub const IP_MF: u16 = 0x2000;
/// Flag Don't Fragment.
pub const IP_DF: u16 = 0x4000;
/// Fragment Offset mask.
pub const IP_OFFMASK: u16 = 0x1fff;

/// What an IPv4 header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    /// Offset of the header.
    pub off: usize,
    /// Header length (IHL * 4), options included.
    pub hdr_len: usize,
    /// Total Length.
    pub total_len: usize,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Type of Service (DSCP and ECN).
    pub tos: u8,
    /// Part of a fragmented datagram (MF set or a non-zero offset).
    pub fragment: bool,
    /// Offset of the payload (`off + hdr_len`).
    pub l4_off: usize,
    /// End of the datagram (`off + total_len`); bytes after it are link-layer padding.
    pub end: usize,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

/// Parses the IPv4 header at `off` and checks its lengths against the packet.
///
/// The header checksum is not checked here (see [`verify_checksum`]): not every program needs it.
#[inline(always)]
pub fn parse_ipv4(cur: &Cursor, off: usize) -> Result<Ipv4, Reason> {
    let h: &Ipv4Hdr = cur.get(off, Reason::Ipv4Truncated)?;
    if h.version_ihl >> 4 != 4 {
        return Err(Reason::Ipv4BadVersion);
    }
    let hdr_len = usize::from(h.version_ihl & 0x0f) * 4;
    if hdr_len < IPV4_MIN_HLEN {
        return Err(Reason::Ipv4BadIhl);
    }
    if hdr_len > IPV4_MIN_HLEN {
        // The last byte of the options must be in the packet.
        cur.get::<[u8; 1]>(off + hdr_len - 1, Reason::Ipv4Truncated)?;
    }
    let total_len = usize::from(h.total_len.get());
    if total_len < hdr_len || off + total_len > cur.len() {
        return Err(Reason::Ipv4BadTotalLength);
    }
    let frag = h.frag_off.get();
    Ok(Ipv4 {
        off,
        hdr_len,
        total_len,
        protocol: h.protocol,
        tos: h.tos,
        fragment: frag & (IP_MF | IP_OFFMASK) != 0,
        l4_off: off + hdr_len,
        end: off + total_len,
        src: h.src,
        dst: h.dst,
    })
}

/// True when the header checksum of the (already parsed) header verifies.
///
/// The fixed 20 bytes are read with one bounds check and summed as native-endian words (an
/// all-ones result is the same in either byte order, RFC 1071 2(B)); options, rare, a word
/// at a time.
#[inline(always)]
pub fn verify_checksum(cur: &Cursor, ip: &Ipv4) -> bool {
    let Ok(h) = cur.get::<[u8; IPV4_MIN_HLEN]>(ip.off, Reason::Ipv4Truncated) else {
        return false;
    };
    let mut sum = 0u32;
    let mut i = 0;
    while i < IPV4_MIN_HLEN {
        sum += u32::from(u16::from_ne_bytes([h[i], h[i + 1]]));
        i += 2;
    }
    // Constant bound: at most 20 more words (IHL 15).
    let mut i = IPV4_MIN_HLEN / 2;
    while i < IPV4_MAX_HLEN / 2 {
        if i * 2 >= ip.hdr_len {
            break;
        }
        match cur.get::<[u8; 2]>(ip.off + i * 2, Reason::Ipv4Truncated) {
            Ok(w) => sum += u32::from(u16::from_ne_bytes(*w)),
            Err(_) => return false,
        }
        i += 1;
    }
    csum::fold(sum) == 0xffff
}

/// True when the TTL of the IPv4 header at `off` is 1 or 0: a router would not forward it.
#[inline(always)]
pub fn ttl_expiring(cur: &Cursor, off: usize) -> Result<bool, Reason> {
    Ok(cur.u8_at(off + 8, Reason::Ipv4Truncated)? <= 1)
}

/// Decrements the TTL of the IPv4 header at `off` (above 1, see [`ttl_expiring`]) and updates
/// its header checksum incrementally (RFC 1624).
#[inline(always)]
pub fn decrement_ttl(cur: &Cursor, off: usize) -> Result<(), Reason> {
    let p = cur.get_mut::<[u8; 12]>(off, Reason::Ipv4Truncated)?;
    // SAFETY: the cursor proved 12 bytes at `off` (TTL at 8, checksum at 10); nothing else
    // refers to them while this runs.
    let h = unsafe { &mut *p };
    let ttl = h[8];
    if ttl == 0 {
        return Ok(());
    }
    let old = u16::from_be_bytes([ttl, h[9]]);
    let new = u16::from_be_bytes([ttl - 1, h[9]]);
    let c = csum::replace16(u16::from_be_bytes([h[10], h[11]]), old, new);
    h[8] = ttl - 1;
    h[10..12].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ipv4, parse_each_prefix};

    #[test]
    fn ttl_decrement_keeps_the_checksum_valid() {
        let mut p = ipv4(17, &[], 8);
        p.extend_from_slice(&[0; 8]);
        let c = Cursor::from_slice(&mut p);
        let ttl = c.u8_at(8, Reason::Ipv4Truncated).unwrap();
        assert!(ttl > 1 && !ttl_expiring(&c, 0).unwrap());
        decrement_ttl(&c, 0).unwrap();
        let ip = parse_ipv4(&c, 0).unwrap();
        assert_eq!(c.u8_at(8, Reason::Ipv4Truncated).unwrap(), ttl - 1);
        assert!(verify_checksum(&c, &ip));
        let mut one = p.clone();
        one[8] = 1;
        assert!(ttl_expiring(&Cursor::from_slice(&mut one), 0).unwrap());
        let mut short = p[..10].to_vec();
        assert_eq!(
            decrement_ttl(&Cursor::from_slice(&mut short), 0),
            Err(Reason::Ipv4Truncated)
        );
    }

    fn parse0(c: &Cursor) -> Result<Ipv4, Reason> {
        parse_ipv4(c, 0)
    }

    #[test]
    fn plain_header_at_every_truncation() {
        let mut p = ipv4(17, &[], 8);
        p.extend_from_slice(&[0; 8]);
        let ip = parse_each_prefix(&p, parse0, |n| match n {
            0..20 => Some(Reason::Ipv4Truncated),
            20..28 => Some(Reason::Ipv4BadTotalLength),
            _ => None,
        });
        assert_eq!(
            (ip.hdr_len, ip.total_len, ip.protocol, ip.l4_off),
            (20, 28, 17, 20)
        );
        assert!(!ip.fragment);
        assert_eq!(ip.src, [192, 0, 2, 1]);
        assert!(verify_checksum(&Cursor::from_slice(&mut p), &ip));
    }

    #[test]
    fn options_are_skipped_by_ihl() {
        let mut p = ipv4(6, &[1, 1, 1, 0, 0x94, 4, 0, 0], 4);
        p.extend_from_slice(&[9; 4]);
        let ip = parse_each_prefix(&p, parse0, |n| match n {
            0..28 => Some(Reason::Ipv4Truncated),
            28..32 => Some(Reason::Ipv4BadTotalLength),
            _ => None,
        });
        assert_eq!((ip.hdr_len, ip.l4_off, ip.end), (28, 28, 32));
        assert!(verify_checksum(&Cursor::from_slice(&mut p), &ip));
    }

    #[test]
    fn bad_fields_are_named() {
        let base = ipv4(17, &[], 0);
        let cases: [(usize, u8, Reason); 4] = [
            (0, 0x65, Reason::Ipv4BadVersion),
            (0, 0x44, Reason::Ipv4BadIhl),
            (3, 19, Reason::Ipv4BadTotalLength),
            (0, 0x46, Reason::Ipv4Truncated),
        ];
        for (at, val, want) in cases {
            let mut p = base.clone();
            p[at] = val;
            assert_eq!(
                parse0(&Cursor::from_slice(&mut p)),
                Err(want),
                "byte {at} = {val:#x}"
            );
        }
    }

    #[test]
    fn padding_after_total_length_is_allowed_and_fragments_are_flagged() {
        let mut p = ipv4(17, &[], 0);
        p[6] = 0x20; // MF
        p.extend_from_slice(&[0; 26]); // Ethernet minimum-frame padding
        let ip = parse0(&Cursor::from_slice(&mut p)).unwrap();
        assert!(ip.fragment);
        assert_eq!(ip.end, 20);
    }

    #[test]
    fn corrupted_checksum_fails_verification() {
        let mut p = ipv4(17, &[], 0);
        p[8] = 1; // TTL changed, checksum not updated
        let ip = parse0(&Cursor::from_slice(&mut p)).unwrap();
        assert!(!verify_checksum(&Cursor::from_slice(&mut p), &ip));
    }
}
