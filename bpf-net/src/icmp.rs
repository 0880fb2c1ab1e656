//! ICMP (RFC 792) and ICMPv6 (RFC 4443): the 8-byte header they share.

use crate::Cursor;
use bpf_abi::Reason;

/// Length of the ICMP/ICMPv6 header including the 4 type-specific bytes.
pub const ICMP_HLEN: usize = 8;

/// ICMP Echo Reply.
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMP Destination Unreachable.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// ICMP Echo Request.
pub const ICMP_ECHO_REQUEST: u8 = 8;
/// ICMP Time Exceeded.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// ICMPv6 Destination Unreachable.
pub const ICMPV6_DEST_UNREACH: u8 = 1;
/// ICMPv6 Packet Too Big.
pub const ICMPV6_PKT_TOOBIG: u8 = 2;
/// ICMPv6 Time Exceeded.
pub const ICMPV6_TIME_EXCEEDED: u8 = 3;
/// ICMPv6 Parameter Problem.
pub const ICMPV6_PARAM_PROB: u8 = 4;
/// ICMPv6 Echo Request.
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 Echo Reply.
pub const ICMPV6_ECHO_REPLY: u8 = 129;

/// The ICMP/ICMPv6 header.
#[repr(C)]
pub struct IcmpHdr {
    /// Type.
    pub ty: u8,
    /// Code.
    pub code: u8,
    /// Checksum.
    pub check: [u8; 2],
    /// Type-specific: identifier and sequence number for echo, MTU for Packet Too Big, ...
    pub rest: [u8; 4],
}

const _: () = assert!(size_of::<IcmpHdr>() == ICMP_HLEN);

/// What an ICMP header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    /// Offset of the header.
    pub off: usize,
    /// Type.
    pub ty: u8,
    /// Code.
    pub code: u8,
    /// The type-specific word (identifier and sequence number of an echo).
    pub rest: [u8; 4],
}

impl Icmp {
    /// Identifier of an echo request or reply.
    pub fn echo_id(&self) -> u16 {
        u16::from_be_bytes([self.rest[0], self.rest[1]])
    }
    /// Sequence number of an echo request or reply.
    pub fn echo_seq(&self) -> u16 {
        u16::from_be_bytes([self.rest[2], self.rest[3]])
    }
}

/// Parses the ICMP or ICMPv6 header at `off` of an IP payload that ends at `ip_end`.
#[inline(always)]
pub fn parse_icmp(cur: &Cursor, off: usize, ip_end: usize) -> Result<Icmp, Reason> {
    if off + ICMP_HLEN > ip_end {
        return Err(Reason::IcmpTruncated);
    }
    let h: &IcmpHdr = cur.get(off, Reason::IcmpTruncated)?;
    Ok(Icmp {
        off,
        ty: h.ty,
        code: h.code,
        rest: h.rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_at_every_truncation() {
        let full = [
            ICMP_ECHO_REQUEST,
            0,
            0xf7,
            0xfe,
            0x12,
            0x34,
            0x00,
            0x07,
            0xaa,
        ];
        for n in 0..=full.len() {
            let mut b = full[..n].to_vec();
            let got = parse_icmp(&Cursor::from_slice(&mut b), 0, n);
            if n < 8 {
                assert_eq!(got, Err(Reason::IcmpTruncated), "prefix {n}");
            } else {
                let i = got.unwrap();
                assert_eq!((i.ty, i.code, i.echo_id(), i.echo_seq()), (8, 0, 0x1234, 7));
            }
        }
    }
}
