//! The 5-tuple and markings of an IP packet, as SDF filters match them (TS 29.244 5.2.1A).

use crate::{Cursor, cursor::Head, ipv4, ipv6, proto};
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

/// The [`Flow`] of an IPv4 packet without options at the start of `h`, as [`parse_flow`] gives
/// it, read a word at a time; `None` for anything else (another version, options, a length
/// [`parse_flow`] would refuse or a packet too short for the first L4 word: it takes those).
/// `avail` is the number of bytes from the header to the end of the frame.
#[inline(always)]
pub fn from_head4(h: &Head<24>, avail: usize) -> Option<Flow> {
    if h.u8::<0>() != 0x45 {
        return None;
    }
    let total_len = usize::from(h.be16::<2>());
    if total_len < ipv4::IPV4_MIN_HLEN || total_len > avail {
        return None;
    }
    let mut f = Flow {
        v6: false,
        src: [0; 16],
        dst: [0; 16],
        proto: h.u8::<9>(),
        tos: h.u8::<1>(),
        sport: 0,
        dport: 0,
        spi: 0,
        flow_label: 0,
        len: total_len,
    };
    f.src[..4].copy_from_slice(&h.ne32::<12>().to_ne_bytes());
    f.dst[..4].copy_from_slice(&h.ne32::<16>().to_ne_bytes());
    let later_fragment = h.be16::<6>() & ipv4::IP_OFFMASK != 0;
    if !later_fragment && total_len >= ipv4::IPV4_MIN_HLEN + 4 {
        l4_word(&mut f, h.ne32::<20>());
    }
    Some(f)
}

/// The [`Flow`] of an IPv6 packet at the start of `h` whose Next Header is not an extension
/// header [`parse_flow`] walks, as [`parse_flow`] gives it, read a word at a time; `None` for
/// anything else. `avail` is the number of bytes from the header to the end of the frame.
#[inline(always)]
pub fn from_head6(h: &Head<44>, avail: usize) -> Option<Flow> {
    let vtc = h.be32::<0>();
    let next = h.u8::<6>();
    if vtc >> 28 != 6
        || matches!(
            next,
            proto::HOPOPT | proto::IPV6_ROUTE | proto::IPV6_FRAG | proto::IPV6_OPTS
        )
    {
        return None;
    }
    let payload_len = usize::from(h.be16::<4>());
    if ipv6::IPV6_HLEN + payload_len > avail {
        return None;
    }
    let word = |a: u32| a.to_ne_bytes();
    let mut f = Flow {
        v6: true,
        src: [0; 16],
        dst: [0; 16],
        proto: next,
        tos: (vtc >> 20) as u8,
        sport: 0,
        dport: 0,
        spi: 0,
        flow_label: vtc & 0x000f_ffff,
        len: ipv6::IPV6_HLEN + payload_len,
    };
    f.src[0..4].copy_from_slice(&word(h.ne32::<8>()));
    f.src[4..8].copy_from_slice(&word(h.ne32::<12>()));
    f.src[8..12].copy_from_slice(&word(h.ne32::<16>()));
    f.src[12..16].copy_from_slice(&word(h.ne32::<20>()));
    f.dst[0..4].copy_from_slice(&word(h.ne32::<24>()));
    f.dst[4..8].copy_from_slice(&word(h.ne32::<28>()));
    f.dst[8..12].copy_from_slice(&word(h.ne32::<32>()));
    f.dst[12..16].copy_from_slice(&word(h.ne32::<36>()));
    if payload_len >= 4 {
        l4_word(&mut f, h.ne32::<40>());
    }
    Some(f)
}

/// Sets the ports (TCP, UDP, SCTP) or the SPI (ESP) of `f` from the first word of its L4
/// header, loaded native-endian.
#[inline(always)]
fn l4_word(f: &mut Flow, w: u32) {
    let b = w.to_ne_bytes();
    match f.proto {
        proto::TCP | proto::UDP | proto::SCTP => {
            f.sport = u16::from_be_bytes([b[0], b[1]]);
            f.dport = u16::from_be_bytes([b[2], b[3]]);
        }
        PROTO_ESP => f.spi = u32::from_be_bytes(b),
        _ => {}
    }
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

    /// `from_head4` / `from_head6` agree with `parse_flow` wherever they accept.
    #[test]
    fn word_readers_agree_with_parse_flow() {
        let mut packets = Vec::new();
        for proto in [17u8, 6, 132, PROTO_ESP, 1, 58] {
            let mut p = v4hdr(proto, &[], 12);
            p[1] = 0xb8;
            p.extend_from_slice(&udp(5000, 53, 4));
            p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            packets.push(p);
            let mut p = v6hdr(proto, 12);
            p[1] = 0x0a;
            p[2] = 0xbc;
            p.extend_from_slice(&udp(5000, 53, 4));
            p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            packets.push(p);
        }
        for nh in [0u8, 43, 44, 60] {
            let mut p = v6hdr(nh, 16);
            p.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]);
            p.extend_from_slice(&udp(1, 2, 0));
            packets.push(p);
        }
        let mut accepted = 0;
        for base in packets {
            // Every byte of the headers and the L4 word set to a few values, and every length.
            for i in 0..base.len().min(44) {
                for v in [
                    0x00u8, 0x01, 0x04, 0x05, 0x06, 0x11, 0x20, 0x45, 0x46, 0x60, 0xff,
                ] {
                    let mut p = base.clone();
                    p[i] = v;
                    for n in [p.len(), p.len() - 1, 44, 40, 24, 20] {
                        let mut q = p[..n.min(p.len())].to_vec();
                        q.resize(44, 0);
                        let avail = n.min(p.len());
                        let c = Cursor::from_slice(&mut q);
                        let h = c.head::<44>().unwrap();
                        let general = {
                            let mut g = p[..avail].to_vec();
                            parse_flow(&Cursor::from_slice(&mut g), 0)
                        };
                        for fast in [from_head4(&h.sub::<0, 24>(), avail), from_head6(&h, avail)]
                            .into_iter()
                            .flatten()
                        {
                            accepted += 1;
                            assert_eq!(Ok(fast), general, "byte {i} = {v:#x}, {avail} bytes");
                        }
                    }
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
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
