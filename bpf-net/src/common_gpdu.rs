//! The frame nearly every uplink G-PDU arrives in, recognised at constant offsets.
//!
//! A gNB's N3 traffic is, packet after packet, one layout: untagged Ethernet, IPv4 without
//! options (or IPv6 without extension headers), UDP to 2152, a GTP-U v1 G-PDU with E set and
//! one extension header, a UL PDU Session Container of 4 bytes (TS 38.415 5.5.2.2 without
//! optional fields), then the T-PDU at offset [`PAYLOAD_OFF`] ([`PAYLOAD_OFF6`]). [`parse`]
//! ([`parse6`]) recognises that layout with one bounds check and word loads ([`Head`]) and
//! returns what the general parsers ([`crate::eth`], [`crate::ipv4`] with its header checksum
//! or [`crate::ipv6`], [`crate::udp`], [`crate::gtpu`]) would: the TEID and QFI. Anything else —
//! VLAN tags, IPv4 options, IPv6 extension headers, another message type, no or another
//! extension chain, a DL container, any length or checksum the general parsers would refuse —
//! is `None`, and the general parsers take the packet and name what is wrong with it. S and PN
//! may be set (the optional fields are there whenever E is).
//!
//! [`flow4`] ([`flow4_6`]) reads the T-PDU's flow the same way when it is IPv4 without options.

use crate::{
    Cursor,
    cursor::Head,
    flow::{self, Flow},
    gtpu::{self, GTPU_PORT},
    ipv4, proto,
};

/// Offset of the T-PDU in a frame of the common layout over IPv4.
pub const PAYLOAD_OFF: usize = 58;
/// Bytes [`parse`] reads: the outer headers and an IPv4 T-PDU's header and first L4 word.
pub const HEAD_LEN: usize = PAYLOAD_OFF + 24;
/// Offset of the T-PDU in a frame of the common layout over IPv6.
pub const PAYLOAD_OFF6: usize = 78;
/// Bytes [`parse6`] reads.
pub const HEAD_LEN6: usize = PAYLOAD_OFF6 + 24;

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
    gtpu_psc(&h.sub::<42, 16>(), udp_len)
}

/// The GTP-U part of the common layout at the start of `g` (in a UDP datagram of `udp_len`
/// bytes): a GTP-U v1 (PT 1) G-PDU with E (S and PN as they come; the reserved bit is not
/// checked, as by the general parser), the message inside the datagram, long enough for the
/// optional fields and one 4-byte extension header: a PDU Session Container of Length 1, UL
/// PDU type, ending the chain.
#[inline(always)]
fn gtpu_psc(g: &Head<16>, udp_len: usize) -> Option<CommonGpdu> {
    let gtp_len = usize::from(g.be16::<2>());
    if g.u8::<0>() & 0xf4 != 0x34
        || g.u8::<1>() != gtpu::msg::G_PDU
        || gtp_len < 8
        || 16 + gtp_len > udp_len
    {
        return None;
    }
    if g.u8::<11>() != gtpu::ext::PDU_SESSION_CONTAINER
        || g.u8::<12>() != 1
        || g.u8::<13>() >> 4 != gtpu::pdu_type::UL
        || g.u8::<15>() != gtpu::ext::NONE
    {
        return None;
    }
    Some(CommonGpdu {
        teid: g.be32::<4>(),
        qfi: g.u8::<14>() & 0x3f,
    })
}

/// The common layout over IPv6 (no extension headers: Next Header UDP), as [`parse_head`].
#[inline(always)]
pub fn parse_head6(h: &Head<HEAD_LEN6>, len: usize) -> Option<CommonGpdu> {
    if h.ne16::<12>() != ne16([0x86, 0xdd]) || h.u8::<14>() >> 4 != 6 || h.u8::<20>() != proto::UDP
    {
        return None;
    }
    // The payload inside the frame; UDP to the GTP-U port, its length inside the payload.
    let payload_len = usize::from(h.be16::<18>());
    let udp_len = usize::from(h.be16::<58>());
    if 54 + payload_len > len
        || h.ne16::<56>() != ne16(GTPU_PORT.to_be_bytes())
        || udp_len < 8
        || udp_len > payload_len
    {
        return None;
    }
    gtpu_psc(&h.sub::<62, 16>(), udp_len)
}

/// The common layout's first [`HEAD_LEN`] bytes, and what they carry; `None` as in
/// [`parse_head`], or when the frame is shorter.
#[inline(always)]
pub fn parse(cur: &Cursor) -> Option<(Head<HEAD_LEN>, CommonGpdu)> {
    let h = cur.head::<HEAD_LEN>()?;
    let g = parse_head(&h, cur.len())?;
    Some((h, g))
}

/// As [`parse`], over IPv6.
#[inline(always)]
pub fn parse6(cur: &Cursor) -> Option<(Head<HEAD_LEN6>, CommonGpdu)> {
    let h = cur.head::<HEAD_LEN6>()?;
    let g = parse_head6(&h, cur.len())?;
    Some((h, g))
}

/// The [`Flow`] of the T-PDU at [`PAYLOAD_OFF`] when it is IPv4 without options, as
/// [`crate::flow::parse_flow`] gives it; `None` for anything else. `len` is the frame's length.
#[inline(always)]
pub fn flow4(h: &Head<HEAD_LEN>, len: usize) -> Option<Flow> {
    flow::from_head4(&h.sub::<PAYLOAD_OFF, 24>(), len - PAYLOAD_OFF)
}

/// As [`flow4`], for the T-PDU at [`PAYLOAD_OFF6`] of a frame over IPv6.
#[inline(always)]
pub fn flow4_6(h: &Head<HEAD_LEN6>, len: usize) -> Option<Flow> {
    flow::from_head4(&h.sub::<PAYLOAD_OFF6, 24>(), len - PAYLOAD_OFF6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{eth::parse_eth, flow::parse_flow, gtpu::parse_gtpu, ipv4::parse_ipv4};

    /// A frame of the common layout around an IPv4/UDP T-PDU; `edit` changes bytes after.
    fn frame(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        frame_over(false, edit)
    }

    /// As [`frame`], over IPv6.
    fn frame6(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        frame_over(true, edit)
    }

    fn frame_over(v6: bool, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
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
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        if v6 {
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            let mut ip = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
            ip[4..6].copy_from_slice(&(udp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            f.extend_from_slice(&ip);
        } else {
            let mut ip = vec![
                0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
            ];
            let tl = (20 + udp.len()) as u16;
            ip[2..4].copy_from_slice(&tl.to_be_bytes());
            let c = crate::csum::finish(crate::csum::add_bytes(0, &ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&ip);
        }
        f.extend_from_slice(&udp);
        edit(&mut f);
        f
    }

    /// What the general parsers make of `f`: TEID, QFI and the T-PDU's flow, if it is a
    /// well-formed G-PDU.
    fn general(f: &mut [u8]) -> Option<(CommonGpdu, usize, Result<Flow, bpf_abi::Reason>)> {
        let cur = Cursor::from_slice(f);
        let e = parse_eth(&cur).ok()?;
        let (l4_off, end) = match e.ethertype {
            crate::eth::ETH_P_IPV4 => {
                let ip = parse_ipv4(&cur, e.l3_off).ok()?;
                if !ipv4::verify_checksum(&cur, &ip) || ip.fragment || ip.protocol != proto::UDP {
                    return None;
                }
                (ip.l4_off, ip.end)
            }
            crate::eth::ETH_P_IPV6 => {
                let ip = crate::ipv6::parse_ipv6(&cur, e.l3_off).ok()?;
                if ip.fragment || ip.protocol != proto::UDP {
                    return None;
                }
                (ip.l4_off, ip.end)
            }
            _ => return None,
        };
        let u = crate::udp::parse_udp(&cur, l4_off, end).ok()?;
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

    /// What the fast parsers make of `f`: TEID, QFI, the T-PDU's offset and, for an IPv4
    /// T-PDU without options, its flow. At most one of them accepts a frame.
    fn fast(f: &mut [u8]) -> Option<(CommonGpdu, usize, Option<Flow>)> {
        let n = f.len();
        let cur = Cursor::from_slice(f);
        let v4 = parse(&cur).map(|(h, g)| (g, PAYLOAD_OFF, flow4(&h, n)));
        let v6 = parse6(&cur).map(|(h, g)| (g, PAYLOAD_OFF6, flow4_6(&h, n)));
        assert!(v4.is_none() || v6.is_none());
        v4.or(v6)
    }

    #[test]
    fn the_common_frame_gives_what_the_general_parsers_give() {
        for (mut f, off) in [(frame(|_| {}), PAYLOAD_OFF), (frame6(|_| {}), PAYLOAD_OFF6)] {
            let (g, foff, flow) = fast(&mut f).expect("common layout");
            assert_eq!(
                (g, foff),
                (
                    CommonGpdu {
                        teid: 0x1234_5678,
                        qfi: 9
                    },
                    off
                )
            );
            let (gg, goff, gflow) = general(&mut f).unwrap();
            assert_eq!((gg, goff), (g, off));
            assert_eq!(flow, Some(gflow.unwrap()));
            let flow = flow.unwrap();
            assert_eq!(
                (flow.sport, flow.dport, flow.proto, flow.len),
                (5000, 7000, 17, 32)
            );
        }
    }

    #[test]
    fn every_byte_changed_agrees_with_the_general_parsers() {
        // Each byte of the outer headers and the T-PDU's, over IPv4 and IPv6, set to a few
        // values: where the fast parser accepts, the general parsers give the same; where the
        // general parsers refuse (or see another message), the fast parser never accepts.
        let mut accepted = 0;
        for (v6, head) in [(false, HEAD_LEN), (true, HEAD_LEN6)] {
            for i in 12..head {
                for v in [
                    0x00u8, 0x01, 0x04, 0x05, 0x10, 0x11, 0x34, 0x36, 0x45, 0x46, 0x60, 0x85, 0xff,
                ] {
                    let edit = |f: &mut Vec<u8>| f[i] = v;
                    let mut f = if v6 { frame6(edit) } else { frame(edit) };
                    let fast = fast(&mut f);
                    let general = general(&mut f);
                    match (fast, general) {
                        (None, _) => {}
                        (Some((g, off, flow)), Some((gg, goff, gflow))) => {
                            accepted += 1;
                            assert_eq!((g, off), (gg, goff), "v6 {v6} byte {i} = {v:#x}");
                            if let Some(flow) = flow {
                                assert_eq!(Ok(flow), gflow, "v6 {v6} byte {i} = {v:#x}");
                            }
                        }
                        (Some(_), None) => {
                            panic!("v6 {v6} byte {i} = {v:#x}: fast accepts, general refuses")
                        }
                    }
                }
            }
        }
        assert!(accepted > 500, "{accepted}");
    }

    #[test]
    fn other_layouts_are_left_to_the_general_parsers() {
        // A VLAN tag, IPv4 options, no extension header, a DL container, two extension
        // headers, a truncated frame: all None; over IPv6 an extension header (Destination
        // Options as the Next Header) and a truncated frame too.
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
        for edit in [
            |f: &mut Vec<u8>| f[20] = 60,
            |f: &mut Vec<u8>| f.truncate(HEAD_LEN6 - 1),
        ] {
            let mut f = frame6(edit);
            assert!(fast(&mut f).is_none());
        }
        // Sequence numbers (S) and N-PDU numbers (PN) keep the layout.
        let mut f = frame(|f| f[42] = 0x37);
        assert!(fast(&mut f).is_some());
        let mut f = frame6(|f| f[62] = 0x36);
        assert!(fast(&mut f).is_some());
    }
}
