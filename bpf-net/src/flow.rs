//! The 5-tuple and markings of an IP packet, as SDF filters match them (TS 29.244 5.2.1A).

use crate::{Cursor, ipv4, ipv6, proto};
use bpf_abi::Reason;

/// Protocol number of ESP (its SPI is the first word of the payload).
pub const PROTO_ESP: u8 = 50;

/// What SDF filters look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// IPv6 (else IPv4, addresses in the first 4 bytes).
    pub v6: bool,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Upper-layer protocol.
    pub proto: u8,
    /// ToS / Traffic Class.
    pub tos: u8,
    /// Source port (TCP, UDP, SCTP), else 0.
    pub sport: u16,
    /// Destination port, else 0.
    pub dport: u16,
    /// ESP SPI, else 0.
    pub spi: u32,
    /// IPv6 Flow Label, else 0.
    pub flow_label: u32,
    /// Length of the IP packet (Total Length, or 40 + Payload Length).
    pub len: usize,
}

/// Parses the IP packet at `off` (version from its first nibble). Ports and SPI are read when
/// the packet is not a later fragment and the bytes are there; a packet too short for them keeps
/// them 0 (an SDF filter with a port range then does not match).
#[inline(always)]
pub fn parse_flow(cur: &Cursor, off: usize) -> Result<Flow, Reason> {
    let first = cur.u8_at(off, Reason::Ipv4Truncated)?;
    let mut f = Flow {
        v6: false,
        src: [0; 16],
        dst: [0; 16],
        proto: 0,
        tos: 0,
        sport: 0,
        dport: 0,
        spi: 0,
        flow_label: 0,
        len: 0,
    };
    let (l4_off, l4_end, later_fragment) = match first >> 4 {
        4 => {
            let ip = ipv4::parse_ipv4(cur, off)?;
            f.src[..4].copy_from_slice(&ip.src);
            f.dst[..4].copy_from_slice(&ip.dst);
            f.proto = ip.protocol;
            f.tos = ip.tos;
            f.len = ip.total_len;
            let frag_off = cur.be16_at(off + 6, Reason::Ipv4Truncated)? & ipv4::IP_OFFMASK;
            (ip.l4_off, ip.end, frag_off != 0)
        }
        6 => {
            let ip = ipv6::parse_ipv6(cur, off)?;
            f.v6 = true;
            f.src = ip.src;
            f.dst = ip.dst;
            f.proto = ip.protocol;
            f.tos = ip.traffic_class;
            f.flow_label = ip.flow_label;
            f.len = ipv6::IPV6_HLEN + ip.payload_len;
            (ip.l4_off, ip.end, ip.later_fragment)
        }
        _ => return Err(Reason::InnerNotIp),
    };
    if later_fragment || l4_off + 4 > l4_end {
        return Ok(f);
    }
    match f.proto {
        proto::TCP | proto::UDP | proto::SCTP => {
            let p: &[u8; 4] = cur.get(l4_off, Reason::UdpTruncated)?;
            f.sport = u16::from_be_bytes([p[0], p[1]]);
            f.dport = u16::from_be_bytes([p[2], p[3]]);
        }
        PROTO_ESP => {
            let p: &[u8; 4] = cur.get(l4_off, Reason::UdpTruncated)?;
            f.spi = u32::from_be_bytes(*p);
        }
        _ => {}
    }
    Ok(f)
}

/// A Flow Label for a tunnel carrying `f` (RFC 6437, RFC 6438: the encapsulator sets it from
/// the inner flow): FNV-1a over the addresses, protocol and ports, folded to 20 bits, never 0.
#[inline(always)]
pub fn flow_label(f: &Flow) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < 16 {
        h = (h ^ u32::from(f.src[i])).wrapping_mul(0x0100_0193);
        h = (h ^ u32::from(f.dst[i])).wrapping_mul(0x0100_0193);
        i += 1;
    }
    h = (h ^ u32::from(f.proto)).wrapping_mul(0x0100_0193);
    h = (h ^ ((u32::from(f.sport) << 16) | u32::from(f.dport))).wrapping_mul(0x0100_0193);
    h ^= h >> 20;
    match h & 0xf_ffff {
        0 => 1,
        l => l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{ipv4 as v4hdr, ipv6 as v6hdr, udp};

    #[test]
    fn udp_over_ipv4_gives_the_5_tuple() {
        let mut p = v4hdr(17, &[], 12);
        p[1] = 0xb8;
        p.extend_from_slice(&udp(5000, 53, 4));
        p.extend_from_slice(&[0; 4]);
        let f = parse_flow(&Cursor::from_slice(&mut p), 0).unwrap();
        assert_eq!(
            (f.v6, f.proto, f.sport, f.dport, f.tos, f.len),
            (false, 17, 5000, 53, 0xb8, 32)
        );
        assert_eq!(&f.src[..4], &[192, 0, 2, 1]);
        assert_eq!(&f.dst[..4], &[198, 51, 100, 1]);
    }

    #[test]
    fn esp_over_ipv6_gives_the_spi_and_flow_label() {
        let mut p = v6hdr(PROTO_ESP, 8);
        p[1] = 0x0a;
        p[2] = 0xbc;
        p[3] = 0xde;
        p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]);
        let f = parse_flow(&Cursor::from_slice(&mut p), 0).unwrap();
        assert!(f.v6);
        assert_eq!((f.spi, f.flow_label, f.sport), (0xdeadbeef, 0xabcde, 0));
    }

    #[test]
    fn not_ip_and_truncated_are_named() {
        let mut e = [0x00u8; 8];
        assert_eq!(
            parse_flow(&Cursor::from_slice(&mut e), 0),
            Err(Reason::InnerNotIp)
        );
        let mut t = v4hdr(17, &[], 0);
        t.truncate(10);
        assert_eq!(
            parse_flow(&Cursor::from_slice(&mut t), 0),
            Err(Reason::Ipv4Truncated)
        );
        let mut empty: [u8; 0] = [];
        assert_eq!(
            parse_flow(&Cursor::from_slice(&mut empty), 0),
            Err(Reason::Ipv4Truncated)
        );
    }
}
