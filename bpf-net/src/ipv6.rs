//! IPv6 (RFC 8200) with a bounded walk over its extension headers.

use crate::{Cursor, proto};
use bpf_abi::{Be16, Reason};

/// Length of the fixed IPv6 header.
pub const IPV6_HLEN: usize = 40;
/// Extension headers the walk follows before giving up with [`Reason::Ipv6ExtTooMany`].
pub const MAX_IPV6_EXT: usize = 8;

/// The fixed IPv6 header.
#[repr(C)]
pub struct Ipv6Hdr {
    /// Version (4 bits), Traffic Class (8), Flow Label (20).
    pub vtc_flow: [u8; 4],
    /// Payload Length: everything after this header, extension headers included.
    pub payload_len: Be16,
    /// Next Header.
    pub next_header: u8,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

/// The first two bytes every extension header but the Fragment header shares (RFC 8200 4).
#[repr(C)]
pub struct Ipv6ExtHdr {
    /// Next Header.
    pub next_header: u8,
    /// Length in 8-octet units, not counting the first 8 octets.
    pub hdr_ext_len: u8,
}

/// The Fragment header (RFC 8200 4.5).
#[repr(C)]
pub struct Ipv6FragHdr {
    /// Next Header.
    pub next_header: u8,
    /// Reserved.
    pub reserved: u8,
    /// Fragment Offset (13 bits, 8-octet units), Res (2), M flag (1).
    pub offset_flags: Be16,
    /// Identification.
    pub id: [u8; 4],
}

const _: () = assert!(size_of::<Ipv6Hdr>() == IPV6_HLEN && size_of::<Ipv6FragHdr>() == 8);

/// What an IPv6 header and its extension headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6 {
    /// Offset of the fixed header.
    pub off: usize,
    /// Payload Length.
    pub payload_len: usize,
    /// The first Next Header that is not an extension header the walk follows (the upper
    /// layer, or 59 No Next Header).
    pub protocol: u8,
    /// Offset of the upper-layer header (after all extension headers).
    pub l4_off: usize,
    /// End of the packet by Payload Length.
    pub end: usize,
    /// Offset of the first Routing header, 0 when there is none.
    pub routing_off: usize,
    /// Routing Type of that header (4 is the SRH), 0 when there is none.
    pub routing_type: u8,
    /// A Fragment header is present.
    pub fragment: bool,
    /// A Fragment header with a non-zero offset: the upper-layer header is not in this packet.
    pub later_fragment: bool,
    /// Extension headers walked.
    pub ext_count: u8,
    /// Traffic Class.
    pub traffic_class: u8,
    /// Flow Label (20 bits).
    pub flow_label: u32,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

/// True when the Hop Limit of the IPv6 header at `off` is 1 or 0: a router would not
/// forward it.
#[inline(always)]
pub fn hop_limit_expiring(cur: &Cursor, off: usize) -> Result<bool, Reason> {
    Ok(cur.u8_at(off + 7, Reason::Ipv6Truncated)? <= 1)
}

/// Decrements the Hop Limit of the IPv6 header at `off` (no checksum covers it).
#[inline(always)]
pub fn decrement_hop_limit(cur: &Cursor, off: usize) -> Result<(), Reason> {
    let p = cur.get_mut::<[u8; 8]>(off, Reason::Ipv6Truncated)?;
    // SAFETY: the cursor proved 8 bytes at `off`; nothing else refers to them while this runs.
    let h = unsafe { &mut *p };
    h[7] = h[7].saturating_sub(1);
    Ok(())
}

/// Parses the IPv6 header at `off` and walks Hop-by-Hop, Routing, Fragment and Destination
/// Options headers, at most [`MAX_IPV6_EXT`] of them. Stops at a non-first fragment.
#[inline(always)]
pub fn parse_ipv6(cur: &Cursor, off: usize) -> Result<Ipv6, Reason> {
    let h: &Ipv6Hdr = cur.get(off, Reason::Ipv6Truncated)?;
    if h.vtc_flow[0] >> 4 != 6 {
        return Err(Reason::Ipv6BadVersion);
    }
    let payload_len = usize::from(h.payload_len.get());
    let end = off + IPV6_HLEN + payload_len;
    if end > cur.len() {
        return Err(Reason::Ipv6BadPayloadLength);
    }
    let vtc = u32::from_be_bytes(h.vtc_flow);
    let mut out = Ipv6 {
        off,
        payload_len,
        protocol: h.next_header,
        l4_off: off + IPV6_HLEN,
        end,
        routing_off: 0,
        routing_type: 0,
        fragment: false,
        later_fragment: false,
        ext_count: 0,
        traffic_class: (vtc >> 20) as u8,
        flow_label: vtc & 0x000f_ffff,
        src: h.src,
        dst: h.dst,
    };
    let mut i = 0;
    while i < MAX_IPV6_EXT {
        let len = match out.protocol {
            proto::HOPOPT | proto::IPV6_ROUTE | proto::IPV6_OPTS => {
                if out.l4_off + 2 > end {
                    return Err(Reason::Ipv6ExtTruncated);
                }
                let e: &Ipv6ExtHdr = cur.get(out.l4_off, Reason::Ipv6ExtTruncated)?;
                if out.protocol == proto::IPV6_ROUTE && out.routing_off == 0 {
                    out.routing_off = out.l4_off;
                    out.routing_type = cur.u8_at(out.l4_off + 2, Reason::Ipv6ExtTruncated)?;
                }
                out.protocol = e.next_header;
                (usize::from(e.hdr_ext_len) + 1) * 8
            }
            proto::IPV6_FRAG => {
                let f: &Ipv6FragHdr = cur.get(out.l4_off, Reason::Ipv6ExtTruncated)?;
                out.fragment = true;
                out.protocol = f.next_header;
                if f.offset_flags.get() & 0xfff8 != 0 {
                    out.later_fragment = true;
                }
                8
            }
            _ => return Ok(out),
        };
        if out.l4_off + len > end {
            return Err(Reason::Ipv6ExtTruncated);
        }
        out.l4_off += len;
        out.ext_count += 1;
        if out.later_fragment {
            return Ok(out);
        }
        i += 1;
    }
    match out.protocol {
        proto::HOPOPT | proto::IPV6_ROUTE | proto::IPV6_OPTS | proto::IPV6_FRAG => {
            Err(Reason::Ipv6ExtTooMany)
        }
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ipv6, parse_each_prefix};

    fn parse0(c: &Cursor) -> Result<Ipv6, Reason> {
        parse_ipv6(c, 0)
    }

    #[test]
    fn fixed_header_at_every_truncation() {
        let mut p = ipv6(proto::UDP, 8);
        p[1] = 0xb8; // traffic class 0x0b, flow label 0x8....
        p[2] = 0x12;
        p[3] = 0x34;
        p.extend_from_slice(&[0; 8]);
        let ip = parse_each_prefix(&p, parse0, |n| match n {
            0..40 => Some(Reason::Ipv6Truncated),
            40..48 => Some(Reason::Ipv6BadPayloadLength),
            _ => None,
        });
        assert_eq!(
            (ip.protocol, ip.l4_off, ip.end, ip.ext_count),
            (proto::UDP, 40, 48, 0)
        );
        assert_eq!((ip.traffic_class, ip.flow_label), (0x0b, 0x81234));
    }

    #[test]
    fn extension_chain_is_walked_by_length() {
        // HBH (8 bytes, PadN) -> DestOpts (16 bytes) -> Fragment (offset 0, M) -> SRH (24) -> UDP
        let mut ext = Vec::new();
        ext.extend_from_slice(&[proto::IPV6_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&[
            proto::IPV6_FRAG,
            1,
            1,
            12,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        ext.extend_from_slice(&[proto::IPV6_ROUTE, 0, 0, 1, 0, 0, 0, 7]);
        let mut srh = vec![proto::UDP, 2, 4, 0, 0, 0, 0, 0];
        srh.extend_from_slice(&[0x20; 16]);
        ext.extend_from_slice(&srh);
        let mut p = ipv6(proto::HOPOPT, ext.len() + 8);
        let hdr_end = p.len() + ext.len();
        p.extend_from_slice(&ext);
        p.extend_from_slice(&[0; 8]);
        let ip = parse_each_prefix(&p, parse0, |n| match n {
            0..40 => Some(Reason::Ipv6Truncated),
            _ if n < p.len() => Some(Reason::Ipv6BadPayloadLength),
            _ => None,
        });
        assert_eq!(ip.protocol, proto::UDP);
        assert_eq!(ip.l4_off, hdr_end);
        assert_eq!(ip.ext_count, 4);
        assert_eq!((ip.routing_off, ip.routing_type), (40 + 8 + 16 + 8, 4));
        assert!(ip.fragment && !ip.later_fragment);

        // Same chain, Payload Length cut inside each extension header.
        for cut in 0..ext.len() {
            let mut q = ipv6(proto::HOPOPT, cut);
            q.extend_from_slice(&ext[..cut]);
            // Also a cut at a header boundary: the walk needs the next header's first bytes.
            let got = parse0(&Cursor::from_slice(&mut q)).map(|i| i.protocol);
            assert_eq!(got, Err(Reason::Ipv6ExtTruncated), "payload cut at {cut}");
        }
    }

    #[test]
    fn later_fragment_stops_the_walk() {
        let mut p = ipv6(proto::IPV6_FRAG, 16);
        p.extend_from_slice(&[proto::UDP, 0, 0x00, 0x08, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xee; 8]);
        let ip = parse0(&Cursor::from_slice(&mut p)).unwrap();
        assert!(ip.fragment && ip.later_fragment);
        assert_eq!((ip.protocol, ip.l4_off), (proto::UDP, 48));
    }

    #[test]
    fn too_many_extension_headers() {
        let n = MAX_IPV6_EXT + 1;
        let mut p = ipv6(proto::IPV6_OPTS, n * 8);
        for i in 0..n {
            let next = if i + 1 == n {
                proto::UDP
            } else {
                proto::IPV6_OPTS
            };
            p.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        assert_eq!(
            parse0(&Cursor::from_slice(&mut p)),
            Err(Reason::Ipv6ExtTooMany)
        );
        // Exactly the bound is fine.
        let mut q = ipv6(proto::IPV6_OPTS, MAX_IPV6_EXT * 8);
        for i in 0..MAX_IPV6_EXT {
            let next = if i + 1 == MAX_IPV6_EXT {
                proto::IPV6_NONXT
            } else {
                proto::IPV6_OPTS
            };
            q.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        assert_eq!(
            parse0(&Cursor::from_slice(&mut q)).map(|i| i.ext_count),
            Ok(8)
        );
    }

    #[test]
    fn bad_version() {
        let mut p = ipv6(proto::UDP, 0);
        p[0] = 0x40;
        assert_eq!(
            parse0(&Cursor::from_slice(&mut p)),
            Err(Reason::Ipv6BadVersion)
        );
    }
}
