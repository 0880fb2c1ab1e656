//! UDP (RFC 768).

use crate::Cursor;
use bpf_abi::{Be16, Reason};

/// Length of the UDP header.
pub const UDP_HLEN: usize = 8;

/// The UDP header.
#[repr(C)]
pub struct UdpHdr {
    /// Source port.
    pub src: Be16,
    /// Destination port.
    pub dst: Be16,
    /// Length of header and payload.
    pub len: Be16,
    /// Checksum (0: none, IPv4 only).
    pub check: [u8; 2],
}

const _: () = assert!(size_of::<UdpHdr>() == UDP_HLEN);

/// What a UDP header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    /// Offset of the header.
    pub off: usize,
    /// Source port.
    pub src: u16,
    /// Destination port.
    pub dst: u16,
    /// Offset of the payload.
    pub payload_off: usize,
    /// End of the datagram by its Length field.
    pub end: usize,
}

/// Parses the UDP header at `off` of an IP payload that ends at `ip_end`.
#[inline(always)]
pub fn parse_udp(cur: &Cursor, off: usize, ip_end: usize) -> Result<Udp, Reason> {
    if off + UDP_HLEN > ip_end {
        return Err(Reason::UdpTruncated);
    }
    let h: &UdpHdr = cur.get(off, Reason::UdpTruncated)?;
    let len = usize::from(h.len.get());
    if len < UDP_HLEN || off + len > ip_end {
        return Err(Reason::UdpBadLength);
    }
    Ok(Udp {
        off,
        src: h.src.get(),
        dst: h.dst.get(),
        payload_off: off + UDP_HLEN,
        end: off + len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::udp;

    #[test]
    fn header_at_every_truncation() {
        let mut full = udp(40000, 2152, 4);
        full.extend_from_slice(&[1, 2, 3, 4]);
        for n in 0..=full.len() {
            let mut b = full[..n].to_vec();
            let got = parse_udp(&Cursor::from_slice(&mut b), 0, n);
            let want = match n {
                0..8 => Err(Reason::UdpTruncated),
                8..12 => Err(Reason::UdpBadLength),
                _ => Ok(Udp {
                    off: 0,
                    src: 40000,
                    dst: 2152,
                    payload_off: 8,
                    end: 12,
                }),
            };
            assert_eq!(got, want, "prefix {n}");
        }
    }

    #[test]
    fn length_below_header_is_bad() {
        let mut b = udp(1, 2, 0);
        b[5] = 7;
        assert_eq!(
            parse_udp(&Cursor::from_slice(&mut b), 0, 8),
            Err(Reason::UdpBadLength)
        );
    }

    #[test]
    fn ip_end_bounds_the_header_even_with_bytes_behind_it() {
        let mut b = udp(1, 2, 0);
        b.extend_from_slice(&[0; 10]);
        assert_eq!(
            parse_udp(&Cursor::from_slice(&mut b), 0, 7),
            Err(Reason::UdpTruncated)
        );
    }
}
