//! upf-lb-packet: a packet builder and pcap I/O for userspace: the frames `upf-lb replay` writes,
//! and the test kit's fixtures, tests, benchmarks and the demo. Ethernet (with VLAN tags), IPv4
//! (with options), IPv6 (with extension headers and the SRH), UDP, TCP, ICMP/ICMPv6, SCTP and
//! GTP-U (with extension headers and the PDU Session Container).
//!
//! Independent of `bpf-net` by design: the datapath's parsers are checked against packets this
//! module lays out from the RFC and TS field tables, so one bug cannot hide in both. Lengths and
//! checksums are computed unless a field says otherwise (malformed fixtures set them by hand).

pub mod pcap;

use std::net::{Ipv4Addr, Ipv6Addr};

/// The Internet checksum (RFC 1071) of `chunks` taken as one byte string, as put on the wire.
pub fn inet_checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in c.iter() {
            match odd.take() {
                Some(hi) => sum += u64::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u64::from(hi) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame around an IP packet.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// VLAN tags outermost first, as (TPID, TCI).
    pub vlans: Vec<(u16, u16)>,
    /// The packet.
    pub ip: IpPacket,
}

impl Frame {
    /// An untagged frame between two locally administered MACs.
    pub fn new(ip: IpPacket) -> Self {
        Frame {
            dst: [2, 0, 0, 0, 0, 2],
            src: [2, 0, 0, 0, 0, 1],
            vlans: Vec::new(),
            ip,
        }
    }

    /// Adds a VLAN tag inside the existing ones (TPID 0x8100 unless `tpid` says otherwise).
    pub fn vlan(mut self, tpid: u16, vid: u16) -> Self {
        self.vlans.push((tpid, vid & 0x0fff));
        self
    }

    /// The frame's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(128);
        v.extend_from_slice(&self.dst);
        v.extend_from_slice(&self.src);
        for (tpid, tci) in &self.vlans {
            v.extend_from_slice(&tpid.to_be_bytes());
            v.extend_from_slice(&tci.to_be_bytes());
        }
        let et: u16 = match self.ip.ip {
            Ip::V4(_) => 0x0800,
            Ip::V6(_) => 0x86dd,
        };
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(&self.ip.to_bytes());
        v
    }
}

/// An IP header and what it carries.
#[derive(Clone, Debug)]
pub struct IpPacket {
    /// The IP header.
    pub ip: Ip,
    /// The upper layer.
    pub l4: L4,
}

/// An IPv4 or IPv6 header.
#[derive(Clone, Debug)]
pub enum Ip {
    /// IPv4.
    V4(Ipv4),
    /// IPv6.
    V6(Ipv6),
}

/// IPv4 header fields (RFC 791).
#[derive(Clone, Debug)]
pub struct Ipv4 {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Type of Service.
    pub tos: u8,
    /// Identification.
    pub id: u16,
    /// Flags and Fragment Offset word (0x4000 = DF).
    pub frag: u16,
    /// Time to Live.
    pub ttl: u8,
    /// Options (padded by the caller to a multiple of 4).
    pub options: Vec<u8>,
}

impl Ipv4 {
    /// A header with DF set and TTL 64.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Self {
        Ipv4 {
            src,
            dst,
            tos: 0,
            id: 0,
            frag: 0x4000,
            ttl: 64,
            options: Vec::new(),
        }
    }
}

/// IPv6 header fields (RFC 8200).
#[derive(Clone, Debug)]
pub struct Ipv6 {
    /// Source.
    pub src: Ipv6Addr,
    /// Destination.
    pub dst: Ipv6Addr,
    /// Traffic Class.
    pub traffic_class: u8,
    /// Flow Label (20 bits).
    pub flow_label: u32,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Extension headers in order.
    pub ext: Vec<Ipv6Ext>,
}

impl Ipv6 {
    /// A header with Hop Limit 64 and no extension headers.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr) -> Self {
        Ipv6 {
            src,
            dst,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
            ext: Vec::new(),
        }
    }
}

/// An IPv6 extension header.
#[derive(Clone, Debug)]
pub enum Ipv6Ext {
    /// Hop-by-Hop Options with these option bytes (padded with PadN to a multiple of 8).
    HopByHop(Vec<u8>),
    /// Destination Options with these option bytes (padded likewise).
    DestOpts(Vec<u8>),
    /// Fragment header.
    Fragment {
        /// Offset in 8-octet units.
        offset: u16,
        /// M flag.
        more: bool,
        /// Identification.
        id: u32,
    },
    /// Segment Routing Header (RFC 8754). `segments` is the Segment List in wire order
    /// (Segment List[0], the last segment of the path, first).
    Srh {
        /// Segments Left.
        segments_left: u8,
        /// Segment List.
        segments: Vec<Ipv6Addr>,
        /// TLV bytes (padded by the caller to a multiple of 8).
        tlvs: Vec<u8>,
    },
}

impl Ipv6Ext {
    fn proto(&self) -> u8 {
        match self {
            Ipv6Ext::HopByHop(_) => 0,
            Ipv6Ext::DestOpts(_) => 60,
            Ipv6Ext::Fragment { .. } => 44,
            Ipv6Ext::Srh { .. } => 43,
        }
    }

    fn to_bytes(&self, next: u8) -> Vec<u8> {
        match self {
            Ipv6Ext::HopByHop(opts) | Ipv6Ext::DestOpts(opts) => {
                let mut v = vec![next, 0];
                v.extend_from_slice(opts);
                let pad = (8 - v.len() % 8) % 8;
                match pad {
                    0 => {}
                    1 => v.push(0), // Pad1
                    n => {
                        v.extend_from_slice(&[1, (n - 2) as u8]);
                        v.extend(std::iter::repeat_n(0, n - 2));
                    }
                }
                v[1] = (v.len() / 8 - 1) as u8;
                v
            }
            Ipv6Ext::Fragment { offset, more, id } => {
                let mut v = vec![next, 0];
                v.extend_from_slice(&((offset << 3) | u16::from(*more)).to_be_bytes());
                v.extend_from_slice(&id.to_be_bytes());
                v
            }
            Ipv6Ext::Srh {
                segments_left,
                segments,
                tlvs,
            } => {
                let len = 8 + segments.len() * 16 + tlvs.len();
                let last_entry = segments.len().saturating_sub(1) as u8;
                let mut v = vec![
                    next,
                    (len / 8 - 1) as u8,
                    4,
                    *segments_left,
                    last_entry,
                    0,
                    0,
                    0,
                ];
                for s in segments {
                    v.extend_from_slice(&s.octets());
                }
                v.extend_from_slice(tlvs);
                v
            }
        }
    }
}

/// An upper-layer header with its payload.
#[derive(Clone, Debug)]
pub enum L4 {
    /// UDP.
    Udp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
        /// Payload.
        payload: Vec<u8>,
    },
    /// UDP with a zero checksum (none; IPv4 only), as GTP-U encapsulation sends it.
    UdpZeroChecksum {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
        /// Payload.
        payload: Vec<u8>,
    },
    /// TCP (no options).
    Tcp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
        /// Flags byte.
        flags: u8,
        /// Payload.
        payload: Vec<u8>,
    },
    /// ICMP or ICMPv6 (by the IP version) echo or other message.
    Icmp {
        /// Type.
        ty: u8,
        /// Code.
        code: u8,
        /// The 4 type-specific bytes.
        rest: [u8; 4],
        /// Payload.
        payload: Vec<u8>,
    },
    /// SCTP with the given chunks and a valid CRC32c.
    Sctp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
        /// Verification Tag.
        vtag: u32,
        /// Chunks as (type, flags, value), padded to 4 bytes. The checksum is CRC32c's.
        chunks: Vec<(u8, u8, Vec<u8>)>,
    },
    /// Bytes under any protocol number, verbatim.
    Raw {
        /// Protocol number.
        proto: u8,
        /// Bytes.
        bytes: Vec<u8>,
    },
}

impl L4 {
    /// UDP carrying GTP-U, from `sport` to 2152.
    pub fn gtpu(sport: u16, g: &Gtpu) -> L4 {
        L4::Udp {
            src: sport,
            dst: 2152,
            payload: g.to_bytes(),
        }
    }

    fn proto(&self, v6: bool) -> u8 {
        match self {
            L4::Udp { .. } | L4::UdpZeroChecksum { .. } => 17,
            L4::Tcp { .. } => 6,
            L4::Icmp { .. } if v6 => 58,
            L4::Icmp { .. } => 1,
            L4::Sctp { .. } => 132,
            L4::Raw { proto, .. } => *proto,
        }
    }

    /// Bytes with the checksum computed over `pseudo` (the pseudo-header, empty for ICMPv4).
    fn to_bytes(&self, pseudo: &dyn Fn(usize) -> Vec<u8>) -> Vec<u8> {
        let (mut v, csum_at) = match self {
            L4::Udp { src, dst, payload } | L4::UdpZeroChecksum { src, dst, payload } => {
                let mut v = Vec::new();
                v.extend_from_slice(&src.to_be_bytes());
                v.extend_from_slice(&dst.to_be_bytes());
                v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(payload);
                (v, matches!(self, L4::Udp { .. }).then_some(6))
            }
            L4::Tcp {
                src,
                dst,
                flags,
                payload,
            } => {
                let mut v = Vec::new();
                v.extend_from_slice(&src.to_be_bytes());
                v.extend_from_slice(&dst.to_be_bytes());
                v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, *flags, 0xff, 0xff]);
                v.extend_from_slice(&[0, 0, 0, 0]);
                v.extend_from_slice(payload);
                (v, Some(16))
            }
            L4::Icmp {
                ty,
                code,
                rest,
                payload,
            } => {
                let mut v = vec![*ty, *code, 0, 0];
                v.extend_from_slice(rest);
                v.extend_from_slice(payload);
                (v, Some(2))
            }
            L4::Sctp {
                src,
                dst,
                vtag,
                chunks,
            } => {
                let mut v = Vec::new();
                v.extend_from_slice(&src.to_be_bytes());
                v.extend_from_slice(&dst.to_be_bytes());
                v.extend_from_slice(&vtag.to_be_bytes());
                v.extend_from_slice(&[0; 4]);
                for (ty, flags, value) in chunks {
                    v.extend_from_slice(&[*ty, *flags]);
                    v.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
                    v.extend_from_slice(value);
                    v.extend(std::iter::repeat_n(0, (4 - value.len() % 4) % 4));
                }
                // RFC 9260 6.8: CRC32c over the packet, its field zero meanwhile.
                let c = bpf_net::sctp::crc32c(&v);
                v[8..12].copy_from_slice(&c.to_le_bytes());
                (v, None)
            }
            L4::Raw { bytes, .. } => (bytes.clone(), None),
        };
        if let Some(at) = csum_at {
            let ph = pseudo(v.len());
            let mut c = inet_checksum(&[&ph, &v]);
            if c == 0 && matches!(self, L4::Udp { .. }) {
                c = 0xffff;
            }
            v[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        v
    }
}

impl IpPacket {
    /// An IPv4 packet.
    pub fn v4(src: Ipv4Addr, dst: Ipv4Addr, l4: L4) -> Self {
        IpPacket {
            ip: Ip::V4(Ipv4::new(src, dst)),
            l4,
        }
    }

    /// An IPv6 packet.
    pub fn v6(src: Ipv6Addr, dst: Ipv6Addr, l4: L4) -> Self {
        IpPacket {
            ip: Ip::V6(Ipv6::new(src, dst)),
            l4,
        }
    }

    /// The packet's bytes, lengths and checksums computed.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.ip {
            Ip::V4(h) => {
                let proto = self.l4.proto(false);
                let (s, d) = (h.src.octets(), h.dst.octets());
                let pseudo = |len: usize| -> Vec<u8> {
                    if proto == 1 {
                        return Vec::new();
                    }
                    let mut p = Vec::with_capacity(12);
                    p.extend_from_slice(&s);
                    p.extend_from_slice(&d);
                    p.extend_from_slice(&[0, proto]);
                    p.extend_from_slice(&(len as u16).to_be_bytes());
                    p
                };
                let l4 = self.l4.to_bytes(&pseudo);
                let hl = 20 + h.options.len();
                let mut v = Vec::with_capacity(hl + l4.len());
                v.push(0x40 | (hl / 4) as u8);
                v.push(h.tos);
                v.extend_from_slice(&((hl + l4.len()) as u16).to_be_bytes());
                v.extend_from_slice(&h.id.to_be_bytes());
                v.extend_from_slice(&h.frag.to_be_bytes());
                v.extend_from_slice(&[h.ttl, proto, 0, 0]);
                v.extend_from_slice(&s);
                v.extend_from_slice(&d);
                v.extend_from_slice(&h.options);
                let c = inet_checksum(&[&v]);
                v[10..12].copy_from_slice(&c.to_be_bytes());
                v.extend_from_slice(&l4);
                v
            }
            Ip::V6(h) => {
                let proto = self.l4.proto(true);
                let (s, d) = (h.src.octets(), h.dst.octets());
                // The pseudo-header uses the final destination: with an SRH, Segment List[0].
                let final_dst = h
                    .ext
                    .iter()
                    .find_map(|e| match e {
                        Ipv6Ext::Srh { segments, .. } => segments.first().map(|a| a.octets()),
                        _ => None,
                    })
                    .unwrap_or(d);
                let pseudo = |len: usize| -> Vec<u8> {
                    let mut p = Vec::with_capacity(40);
                    p.extend_from_slice(&s);
                    p.extend_from_slice(&final_dst);
                    p.extend_from_slice(&(len as u32).to_be_bytes());
                    p.extend_from_slice(&[0, 0, 0, proto]);
                    p
                };
                let l4 = self.l4.to_bytes(&pseudo);
                let mut ext = Vec::new();
                for (i, e) in h.ext.iter().enumerate() {
                    let next = h.ext.get(i + 1).map_or(proto, Ipv6Ext::proto);
                    ext.extend_from_slice(&e.to_bytes(next));
                }
                let first = h.ext.first().map_or(proto, Ipv6Ext::proto);
                let vtc = (6u32 << 28) | (u32::from(h.traffic_class) << 20) | h.flow_label;
                let mut v = Vec::with_capacity(40 + ext.len() + l4.len());
                v.extend_from_slice(&vtc.to_be_bytes());
                v.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
                v.extend_from_slice(&[first, h.hop_limit]);
                v.extend_from_slice(&s);
                v.extend_from_slice(&d);
                v.extend_from_slice(&ext);
                v.extend_from_slice(&l4);
                v
            }
        }
    }
}

/// GTP-U message types (TS 29.281 6.1) used by the builder's shortcuts.
pub mod gtpu_msg {
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 1;
    /// Echo Response.
    pub const ECHO_RESPONSE: u8 = 2;
    /// Error Indication.
    pub const ERROR_INDICATION: u8 = 26;
    /// End Marker.
    pub const END_MARKER: u8 = 254;
    /// G-PDU.
    pub const G_PDU: u8 = 255;
}

/// A GTP-U message (TS 29.281 5).
#[derive(Clone, Debug)]
pub struct Gtpu {
    /// The flags byte; [`Gtpu::to_bytes`] sets E, S and PN from the fields below unless
    /// `raw_flags` is true.
    pub flags: u8,
    /// Use `flags` verbatim (malformed fixtures).
    pub raw_flags: bool,
    /// Message Type.
    pub msg_type: u8,
    /// TEID.
    pub teid: u32,
    /// Sequence Number (sets S).
    pub seq: Option<u16>,
    /// N-PDU Number (sets PN).
    pub npdu: Option<u8>,
    /// Extension headers (set E).
    pub ext: Vec<GtpuExt>,
    /// What follows: IEs or a T-PDU.
    pub payload: Vec<u8>,
    /// Length field override (malformed fixtures).
    pub length: Option<u16>,
}

/// A GTP-U extension header.
#[derive(Clone, Debug)]
pub enum GtpuExt {
    /// PDU Session Container (TS 38.415).
    Psc(Psc),
    /// Any type with this content (padded so that 1 + content + 1 is a multiple of 4).
    Raw {
        /// Extension Header Type.
        ty: u8,
        /// Content.
        content: Vec<u8>,
    },
}

/// PDU Session Container fields (TS 38.415 5.5.2).
#[derive(Clone, Copy, Debug)]
pub struct Psc {
    /// 0 = DL PDU SESSION INFORMATION, 1 = UL.
    pub pdu_type: u8,
    /// QFI.
    pub qfi: u8,
    /// RQI (DL).
    pub rqi: bool,
    /// PPI (DL), which sets PPP.
    pub ppi: Option<u8>,
}

impl GtpuExt {
    fn ty(&self) -> u8 {
        match self {
            GtpuExt::Psc(_) => 0x85,
            GtpuExt::Raw { ty, .. } => *ty,
        }
    }

    fn content(&self) -> Vec<u8> {
        match self {
            GtpuExt::Psc(p) => {
                let mut c = vec![p.pdu_type << 4, p.qfi & 0x3f];
                if p.pdu_type == 0 {
                    if p.rqi {
                        c[1] |= 0x40;
                    }
                    if let Some(ppi) = p.ppi {
                        c[1] |= 0x80;
                        c.push(ppi << 5);
                    }
                }
                c
            }
            GtpuExt::Raw { content, .. } => content.clone(),
        }
    }
}

impl Gtpu {
    /// A G-PDU carrying `tpdu`.
    pub fn gpdu(teid: u32, tpdu: Vec<u8>) -> Self {
        Gtpu {
            flags: 0x30,
            raw_flags: false,
            msg_type: gtpu_msg::G_PDU,
            teid,
            seq: None,
            npdu: None,
            ext: Vec::new(),
            payload: tpdu,
            length: None,
        }
    }

    /// An Echo Request with sequence number `seq` (TS 29.281 7.2.1).
    pub fn echo_request(seq: u16) -> Self {
        Gtpu {
            msg_type: gtpu_msg::ECHO_REQUEST,
            seq: Some(seq),
            ..Gtpu::gpdu(0, Vec::new())
        }
    }

    /// An Echo Response with sequence number `seq` and the Recovery IE with Restart Counter 0
    /// (TS 29.281 7.2.2, 8.2).
    pub fn echo_response(seq: u16) -> Self {
        Gtpu {
            msg_type: gtpu_msg::ECHO_RESPONSE,
            seq: Some(seq),
            payload: vec![14, 0],
            ..Gtpu::gpdu(0, Vec::new())
        }
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut flags = self.flags;
        if !self.raw_flags {
            flags &= !0x07;
            if !self.ext.is_empty() {
                flags |= 0x04;
            }
            if self.seq.is_some() {
                flags |= 0x02;
            }
            if self.npdu.is_some() {
                flags |= 0x01;
            }
        }
        let mut body = Vec::new();
        if flags & 0x07 != 0 {
            body.extend_from_slice(&self.seq.unwrap_or(0).to_be_bytes());
            body.push(self.npdu.unwrap_or(0));
            body.push(self.ext.first().map_or(0, GtpuExt::ty));
        }
        for (i, e) in self.ext.iter().enumerate() {
            let mut content = e.content();
            while (content.len() + 2) % 4 != 0 {
                content.push(0);
            }
            body.push(((content.len() + 2) / 4) as u8);
            body.extend_from_slice(&content);
            body.push(self.ext.get(i + 1).map_or(0, GtpuExt::ty));
        }
        body.extend_from_slice(&self.payload);
        let mut v = vec![flags, self.msg_type];
        v.extend_from_slice(&self.length.unwrap_or(body.len() as u16).to_be_bytes());
        v.extend_from_slice(&self.teid.to_be_bytes());
        v.extend_from_slice(&body);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_over_ipv4_has_the_expected_bytes() {
        let f = Frame::new(IpPacket::v4(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            L4::gtpu(40000, &Gtpu::echo_request(0x1234)),
        ))
        .to_bytes();
        assert_eq!(f.len(), 14 + 20 + 8 + 12);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        // IPv4 header checksum verifies; UDP length 20; GTP-U flags 0x32, type 1, length 4.
        assert_eq!(inet_checksum(&[&f[14..34]]), 0);
        assert_eq!(&f[38..40], &[0, 20]);
        assert_eq!(&f[42..54], &[0x32, 1, 0, 4, 0, 0, 0, 0, 0x12, 0x34, 0, 0]);
        // UDP checksum verifies over the pseudo-header.
        let pseudo = [192, 0, 2, 1, 192, 0, 2, 2, 0, 17, 0, 20];
        assert_eq!(inet_checksum(&[&pseudo, &f[34..]]), 0);
    }

    #[test]
    fn gtpu_extension_headers_are_padded_and_chained() {
        let mut g = Gtpu::gpdu(7, vec![0x45]);
        g.ext.push(GtpuExt::Psc(Psc {
            pdu_type: 0,
            qfi: 5,
            rqi: true,
            ppi: Some(6),
        }));
        g.ext.push(GtpuExt::Raw {
            ty: 0x20,
            content: vec![9, 9],
        });
        let b = g.to_bytes();
        // flags E, opt next = 0x85; PSC: len 2, [0x00, 0xc5, 0xc0, 0,0,0], next 0x20; SCI: len 1.
        assert_eq!(b[0], 0x34);
        assert_eq!(&b[8..12], &[0, 0, 0, 0x85]);
        assert_eq!(&b[12..20], &[2, 0x00, 0xc5, 0xc0, 0, 0, 0, 0x20]);
        assert_eq!(&b[20..24], &[1, 9, 9, 0]);
        assert_eq!(u16::from_be_bytes([b[2], b[3]]) as usize, b.len() - 8);
    }

    #[test]
    fn ipv6_extension_chain_links_next_headers() {
        let mut h = Ipv6::new(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        h.ext.push(Ipv6Ext::HopByHop(vec![]));
        h.ext.push(Ipv6Ext::Fragment {
            offset: 0,
            more: true,
            id: 1,
        });
        let p = IpPacket {
            ip: Ip::V6(h),
            l4: L4::Udp {
                src: 1,
                dst: 2,
                payload: vec![],
            },
        };
        let b = p.to_bytes();
        assert_eq!(b[6], 0); // HBH first
        assert_eq!(&b[40..42], &[44, 0]); // HBH -> Fragment, 8 bytes
        assert_eq!(b[48], 17); // Fragment -> UDP
        assert_eq!(u16::from_be_bytes([b[4], b[5]]) as usize, b.len() - 40);
    }
}

/// SCTP chunks and parameters (RFC 9260 3.2, 3.3) for [`L4::Sctp`], as tests and benchmarks
/// build them.
pub mod sctp {
    /// A chunk: type, flags, value.
    pub type Chunk = (u8, u8, Vec<u8>);

    /// Chunk types.
    pub const DATA: u8 = 0;
    /// INIT.
    pub const INIT: u8 = 1;
    /// INIT ACK.
    pub const INIT_ACK: u8 = 2;
    /// HEARTBEAT.
    pub const HEARTBEAT: u8 = 4;
    /// ABORT.
    pub const ABORT: u8 = 6;
    /// COOKIE ECHO.
    pub const COOKIE_ECHO: u8 = 10;
    /// COOKIE ACK.
    pub const COOKIE_ACK: u8 = 11;
    /// Parameter types: IPv4 Address, IPv6 Address, State Cookie, Host Name Address, and RFC
    /// 4820's Padding.
    pub const PARAM_IPV4: u16 = 5;
    /// IPv6 Address.
    pub const PARAM_IPV6: u16 = 6;
    /// State Cookie.
    pub const PARAM_COOKIE: u16 = 7;
    /// Host Name Address.
    pub const PARAM_HOST_NAME: u16 = 11;
    /// Padding (RFC 4820).
    pub const PARAM_PAD: u16 = 0x8005;

    /// SCTP over IPv4 from `src`:`sport` to `dst`:`dport` with Verification Tag `vtag`.
    pub fn v4(
        src: std::net::Ipv4Addr,
        dst: std::net::Ipv4Addr,
        sport: u16,
        dport: u16,
        vtag: u32,
        chunks: Vec<Chunk>,
    ) -> super::IpPacket {
        super::IpPacket::v4(src, dst, l4(sport, dport, vtag, chunks))
    }

    /// As [`v4`], over IPv6.
    pub fn v6(
        src: std::net::Ipv6Addr,
        dst: std::net::Ipv6Addr,
        sport: u16,
        dport: u16,
        vtag: u32,
        chunks: Vec<Chunk>,
    ) -> super::IpPacket {
        super::IpPacket::v6(src, dst, l4(sport, dport, vtag, chunks))
    }

    fn l4(sport: u16, dport: u16, vtag: u32, chunks: Vec<Chunk>) -> super::L4 {
        super::L4::Sctp {
            src: sport,
            dst: dport,
            vtag,
            chunks,
        }
    }

    /// A parameter, padded to 4 bytes.
    pub fn param(ty: u16, v: &[u8]) -> Vec<u8> {
        let mut p = ty.to_be_bytes().to_vec();
        p.extend_from_slice(&((4 + v.len()) as u16).to_be_bytes());
        p.extend_from_slice(v);
        p.resize(p.len().div_ceil(4) * 4, 0);
        p
    }

    /// INIT or INIT ACK (`ty`): Initiate Tag, a_rwnd 65536, 10 streams each way, initial TSN
    /// 1000, then `params`.
    pub fn init(ty: u8, tag: u32, params: &[Vec<u8>]) -> Chunk {
        let mut v = tag.to_be_bytes().to_vec();
        v.extend_from_slice(&65536u32.to_be_bytes());
        v.extend_from_slice(&[0, 10, 0, 10]);
        v.extend_from_slice(&1000u32.to_be_bytes());
        for p in params {
            v.extend_from_slice(p);
        }
        (ty, 0, v)
    }

    /// DATA, unfragmented (B and E), stream 0, NGAP's PPID (60).
    pub fn data(tsn: u32, payload: &[u8]) -> Chunk {
        let mut v = tsn.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(&60u32.to_be_bytes());
        v.extend_from_slice(payload);
        (DATA, 0x03, v)
    }

    /// HEARTBEAT with a Heartbeat Info parameter.
    pub fn heartbeat() -> Chunk {
        (HEARTBEAT, 0, param(1, b"heartbeat info 01"))
    }
}
