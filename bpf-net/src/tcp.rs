//! TCP header (RFC 9293), options skipped by Data Offset.

use crate::Cursor;
use bpf_abi::{Be16, Reason};

/// Length of a TCP header without options.
pub const TCP_MIN_HLEN: usize = 20;

/// The fixed TCP header.
#[repr(C)]
pub struct TcpHdr {
    /// Source port.
    pub src: Be16,
    /// Destination port.
    pub dst: Be16,
    /// Sequence number.
    pub seq: [u8; 4],
    /// Acknowledgment number.
    pub ack: [u8; 4],
    /// Data Offset (4 bits), reserved (4), then the flags byte.
    pub doff_flags: [u8; 2],
    /// Window.
    pub window: Be16,
    /// Checksum.
    pub check: [u8; 2],
    /// Urgent pointer.
    pub urg: Be16,
}

const _: () = assert!(size_of::<TcpHdr>() == TCP_MIN_HLEN);

/// FIN flag.
pub const TCP_FIN: u8 = 0x01;
/// SYN flag.
pub const TCP_SYN: u8 = 0x02;
/// RST flag.
pub const TCP_RST: u8 = 0x04;
/// ACK flag.
pub const TCP_ACK: u8 = 0x10;

/// What a TCP header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    /// Offset of the header.
    pub off: usize,
    /// Source port.
    pub src: u16,
    /// Destination port.
    pub dst: u16,
    /// Flags byte (CWR ECE URG ACK PSH RST SYN FIN).
    pub flags: u8,
    /// Header length with options.
    pub hdr_len: usize,
    /// Offset of the payload.
    pub payload_off: usize,
}

/// Parses the TCP header at `off` of an IP payload that ends at `ip_end`.
#[inline(always)]
pub fn parse_tcp(cur: &Cursor, off: usize, ip_end: usize) -> Result<Tcp, Reason> {
    if off + TCP_MIN_HLEN > ip_end {
        return Err(Reason::TcpTruncated);
    }
    let h: &TcpHdr = cur.get(off, Reason::TcpTruncated)?;
    let hdr_len = usize::from(h.doff_flags[0] >> 4) * 4;
    if hdr_len < TCP_MIN_HLEN {
        return Err(Reason::TcpBadDataOffset);
    }
    if off + hdr_len > ip_end {
        return Err(Reason::TcpTruncated);
    }
    Ok(Tcp {
        off,
        src: h.src.get(),
        dst: h.dst.get(),
        flags: h.doff_flags[1],
        hdr_len,
        payload_off: off + hdr_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn_with_mss() -> Vec<u8> {
        let mut v = vec![
            0xc3, 0x50, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, TCP_SYN,
        ];
        v.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0, 2, 4, 0x05, 0xb4]);
        v
    }

    #[test]
    fn header_with_options_at_every_truncation() {
        let full = syn_with_mss();
        for n in 0..=full.len() {
            let mut b = full[..n].to_vec();
            let got = parse_tcp(&Cursor::from_slice(&mut b), 0, n);
            let want = if n < 24 {
                Err(Reason::TcpTruncated)
            } else {
                Ok(Tcp {
                    off: 0,
                    src: 50000,
                    dst: 80,
                    flags: TCP_SYN,
                    hdr_len: 24,
                    payload_off: 24,
                })
            };
            assert_eq!(got, want, "prefix {n}");
        }
    }

    #[test]
    fn data_offset_below_five_is_bad() {
        let mut b = syn_with_mss();
        b[12] = 0x40;
        assert_eq!(
            parse_tcp(&Cursor::from_slice(&mut b), 0, 24),
            Err(Reason::TcpBadDataOffset)
        );
    }
}
