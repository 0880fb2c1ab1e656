//! The frame nearly every uplink G-PDU arrives in, recognised at constant offsets.
//!
//! A gNB's N3 traffic is, packet after packet, one layout: untagged Ethernet, IPv4 without
//! options, UDP to 2152, a GTP-U v1 G-PDU with E set and one extension header, a UL PDU Session
//! Container of 4 bytes (TS 38.415 5.5.2.2 without optional fields), then the T-PDU at offset
//! [`PAYLOAD_OFF`]. [`parse`] recognises that layout with one bounds check and word loads
//! ([`Head`]) and returns what the general parsers ([`crate::eth`], [`crate::ipv4`] with its
//! header checksum, [`crate::udp`], [`crate::gtpu`]) would: the TEID and QFI. Anything else —
//! VLAN tags, IPv4 options, IPv6 outer, another message type, no or another extension chain,
//! a DL container, any length or checksum the general parsers would refuse — is `None`, and
//! the general parsers take the packet and name what is wrong with it. S and PN may be set (the
//! optional fields are there whenever E is).
//!
//! [`flow4`] reads the T-PDU's flow the same way when it is IPv4 without options.

use crate::{
    Cursor,
    cursor::Head,
    flow::{self, Flow},
    gtpu::{self, GTPU_PORT},
    ipv4, proto,
};

/// Offset of the T-PDU in a frame of the common layout.
pub const PAYLOAD_OFF: usize = 58;
/// Bytes [`parse`] reads: the outer headers and an IPv4 T-PDU's header and first L4 word.
pub const HEAD_LEN: usize = PAYLOAD_OFF + 24;

/// What a frame of the common layout carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommonGpdu {
    /// Tunnel Endpoint Identifier.
    pub teid: u32,
    /// QFI of the UL PDU Session Container.
    pub qfi: u8,
}

/// Wire bytes as the word a native-endian load of them gives.
const fn ne16(b: [u8; 2]) -> u16 {
    u16::from_ne_bytes(b)
}

/// The common layout's TEID and QFI, or `None` when `h` is anything else (see the module).
/// `len` is the frame's length.
#[inline(always)]
pub fn parse_head(h: &Head<HEAD_LEN>, len: usize) -> Option<CommonGpdu> {
    // Ethernet II, untagged, IPv4; IPv4 version 4, IHL 5.
    if h.ne16::<12>() != ne16([0x08, 0x00]) || h.u8::<14>() != 0x45 {
        return None;
    }
    let total_len = usize::from(h.be16::<16>());
    // Not a fragment (MF clear, offset 0), UDP, the datagram inside the frame, at least a UDP
    // header long.
    if h.be16::<20>() & (ipv4::IP_MF | ipv4::IP_OFFMASK) != 0
        || h.u8::<23>() != proto::UDP
        || total_len < 28
        || 14 + total_len > len
    {
        return None;
    }
    let sum = u64::from(h.ne32::<14>())
        + u64::from(h.ne32::<18>())
        + u64::from(h.ne32::<22>())
        + u64::from(h.ne32::<26>())
        + u64::from(h.ne32::<30>());
    if crate::csum::fold64(sum) != 0xffff {
        return None;
    }
    // UDP to the GTP-U port, its length inside the IP datagram.
    let udp_len = usize::from(h.be16::<38>());
    if h.ne16::<36>() != ne16(GTPU_PORT.to_be_bytes()) || udp_len < 8 || 20 + udp_len > total_len {
        return None;
    }
    // GTP-U v1 (PT 1) G-PDU with E (S and PN as they come; the reserved bit is not checked, as
    // by the general parser), the message inside the datagram, long enough for the optional
    // fields and one 4-byte extension header.
    let gtp_len = usize::from(h.be16::<44>());
    if h.u8::<42>() & 0xf4 != 0x34
        || h.u8::<43>() != gtpu::msg::G_PDU
        || gtp_len < 8
        || 16 + gtp_len > udp_len
    {
        return None;
    }
    // One extension header: a PDU Session Container of Length 1, UL PDU type, ending the chain.
    if h.u8::<53>() != gtpu::ext::PDU_SESSION_CONTAINER
        || h.u8::<54>() != 1
        || h.u8::<55>() >> 4 != gtpu::pdu_type::UL
        || h.u8::<57>() != gtpu::ext::NONE
    {
        return None;
    }
    Some(CommonGpdu {
        teid: h.be32::<46>(),
        qfi: h.u8::<56>() & 0x3f,
    })
}

/// The common layout's first [`HEAD_LEN`] bytes, and what they carry; `None` as in
/// [`parse_head`], or when the frame is shorter.
#[inline(always)]
pub fn parse(cur: &Cursor) -> Option<(Head<HEAD_LEN>, CommonGpdu)> {
    let h = cur.head::<HEAD_LEN>()?;
    let g = parse_head(&h, cur.len())?;
    Some((h, g))
}

/// The [`Flow`] of the T-PDU at [`PAYLOAD_OFF`] when it is IPv4 without options, as
/// [`crate::flow::parse_flow`] gives it; `None` for anything else. `len` is the frame's length.
#[inline(always)]
pub fn flow4(h: &Head<HEAD_LEN>, len: usize) -> Option<Flow> {
    flow::from_head4(&h.sub::<PAYLOAD_OFF, 24>(), len - PAYLOAD_OFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{eth::parse_eth, flow::parse_flow, gtpu::parse_gtpu, ipv4::parse_ipv4};

    /// A frame of the common layout around an IPv4/UDP T-PDU; `edit` changes bytes after.
    fn frame(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut inner = vec![
            0x45, 0x00, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 45, 0, 2, 198, 51, 100, 7,
        ];
        inner.extend_from_slice(&[0x13, 0x88, 0x1b, 0x58, 0, 12, 0, 0, 1, 2, 3, 4]);
        let n = inner.len() as u16;
        inner[2..4].copy_from_slice(&n.to_be_bytes());
        let mut g = vec![0x34, 0xff, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0x85];
        g.extend_from_slice(&[1, 0x10, 0x09, 0]);
        g.extend_from_slice(&inner);
        let gl = (g.len() - 8) as u16;
        g[2..4].copy_from_slice(&gl.to_be_bytes());
        let mut udp = vec![0x08, 0x68, 0x08, 0x68, 0, 0, 0, 0];
        udp.extend_from_slice(&g);
        let ul = udp.len() as u16;
        udp[4..6].copy_from_slice(&ul.to_be_bytes());
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        let tl = (20 + udp.len()) as u16;
        ip[2..4].copy_from_slice(&tl.to_be_bytes());
        let c = crate::csum::finish(crate::csum::add_bytes(0, &ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&udp);
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&ip);
        edit(&mut f);
        f
    }

    /// What the general parsers make of `f`: TEID, QFI and the T-PDU's flow, if it is a
    /// well-formed G-PDU.
    fn general(f: &mut [u8]) -> Option<(CommonGpdu, usize, Result<Flow, bpf_abi::Reason>)> {
        let cur = Cursor::from_slice(f);
        let e = parse_eth(&cur).ok()?;
        let ip = parse_ipv4(&cur, e.l3_off).ok()?;
        if !ipv4::verify_checksum(&cur, &ip) || ip.fragment || ip.protocol != proto::UDP {
            return None;
        }
        let u = crate::udp::parse_udp(&cur, ip.l4_off, ip.end).ok()?;
        if u.dst != GTPU_PORT {
            return None;
        }
        let g = parse_gtpu(&cur, u.payload_off, u.end).ok()?;
        if g.msg_type != gtpu::msg::G_PDU {
            return None;
        }
        let qfi = g.psc.map_or(0, |p| p.qfi);
        let flow = parse_flow(&cur, g.payload_off);
        Some((CommonGpdu { teid: g.teid, qfi }, g.payload_off, flow))
    }

    fn fast(f: &mut [u8]) -> Option<(CommonGpdu, Option<Flow>)> {
        let n = f.len();
        let cur = Cursor::from_slice(f);
        let (h, g) = parse(&cur)?;
        Some((g, flow4(&h, n)))
    }

    #[test]
    fn the_common_frame_gives_what_the_general_parsers_give() {
        let mut f = frame(|_| {});
        let (g, flow) = fast(&mut f).expect("common layout");
        assert_eq!(
            g,
            CommonGpdu {
                teid: 0x1234_5678,
                qfi: 9
            }
        );
        let (gg, off, gflow) = general(&mut f).unwrap();
        assert_eq!((gg, off), (g, PAYLOAD_OFF));
        assert_eq!(flow, Some(gflow.unwrap()));
        let flow = flow.unwrap();
        assert_eq!(
            (flow.sport, flow.dport, flow.proto, flow.len),
            (5000, 7000, 17, 32)
        );
    }

    #[test]
    fn every_byte_changed_agrees_with_the_general_parsers() {
        // Each byte of the outer headers and the T-PDU's, set to a few values: where the fast
        // parser accepts, the general parsers give the same; where the general parsers refuse
        // (or see another message), the fast parser never accepts.
        for i in 12..HEAD_LEN {
            for v in [
                0x00u8, 0x01, 0x04, 0x05, 0x10, 0x34, 0x36, 0x45, 0x46, 0x85, 0xff,
            ] {
                let mut f = frame(|f| f[i] = v);
                let fast = fast(&mut f);
                let general = general(&mut f);
                match (fast, general) {
                    (None, _) => {}
                    (Some((g, flow)), Some((gg, off, gflow))) => {
                        assert_eq!((g, PAYLOAD_OFF), (gg, off), "byte {i} = {v:#x}");
                        if let Some(flow) = flow {
                            assert_eq!(Ok(flow), gflow, "byte {i} = {v:#x}");
                        }
                    }
                    (Some(_), None) => panic!("byte {i} = {v:#x}: fast accepts, general refuses"),
                }
            }
        }
    }

    #[test]
    fn other_layouts_are_left_to_the_general_parsers() {
        // A VLAN tag, IPv4 options, no extension header, a DL container, two extension
        // headers, a truncated frame: all None.
        let cases: [fn(&mut Vec<u8>); 6] = [
            |f| f[12..14].copy_from_slice(&[0x81, 0x00]),
            |f| f[14] = 0x46,
            |f| f[42] = 0x30,
            |f| f[55] = 0x00,
            |f| f[57] = 0x40,
            |f| f.truncate(HEAD_LEN - 1),
        ];
        for (k, edit) in cases.iter().enumerate() {
            let mut f = frame(edit);
            assert!(fast(&mut f).is_none(), "case {k}");
        }
        // Sequence numbers (S) and N-PDU numbers (PN) keep the layout.
        let mut f = frame(|f| f[42] = 0x37);
        assert!(fast(&mut f).is_some());
    }
}
