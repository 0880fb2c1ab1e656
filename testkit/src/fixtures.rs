//! Named packets and the outcome the datapath must give them: shared by the benchmark, the
//! demo and the tests, so each measures and checks the same thing.

use bpf_abi::Reason;
use std::net::IpAddr;
use std::net::{Ipv4Addr, Ipv6Addr};
use upf_lb_packet::{Frame, Gtpu, GtpuExt, Ip, IpPacket, Ipv4, Ipv6, L4, Psc};

/// gNB N3 address in the fixtures (TEST-NET-1).
pub const GNB_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// UPF N3 address in the fixtures.
pub const UPF_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// gNB N3 IPv6 address (documentation prefix).
pub const GNB_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 1);
/// UPF N3 IPv6 address.
pub const UPF_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 2);
/// UE address inside G-PDUs (benchmarking range).
pub const UE_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// UE IPv6 address inside G-PDUs (documentation prefix).
pub const UE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 5, 0, 0, 0, 1);
/// Data network host inside G-PDUs.
pub const DN_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// UDP source port of the gNB's GTP-U messages.
pub const GNB_PORT: u16 = 2152;

/// XDP action numbers (uapi linux/bpf.h), for expectations.
pub mod xdp {
    /// XDP_ABORTED.
    pub const ABORTED: u32 = 0;
    /// XDP_DROP.
    pub const DROP: u32 = 1;
    /// XDP_PASS.
    pub const PASS: u32 = 2;
    /// XDP_TX.
    pub const TX: u32 = 3;
    /// XDP_REDIRECT.
    pub const REDIRECT: u32 = 4;
}

/// An input frame and what the program must do with it.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Name, used in reports and in the pcap written on a mismatch.
    pub name: String,
    /// The frame given to the program.
    pub input: Vec<u8>,
    /// The expected XDP action.
    pub action: u32,
    /// The expected frame afterwards (the input when the program must not change it).
    pub output: Vec<u8>,
    /// The counter that must move, by one packet of the input's length.
    pub reason: Reason,
}

impl Fixture {
    /// A fixture of the packet `input` (behind the builder's default Ethernet header).
    pub fn of(
        name: &str,
        input: &upf_lb_packet::IpPacket,
        action: u32,
        output: Vec<u8>,
        reason: Reason,
    ) -> Fixture {
        Fixture {
            name: name.into(),
            input: upf_lb_packet::Frame::new(input.clone()).to_bytes(),
            action,
            output,
            reason,
        }
    }

    /// A fixture the program must leave unchanged with `reason`'s verdict.
    pub fn unchanged(name: &str, input: Vec<u8>, reason: Reason) -> Fixture {
        let action = match reason.verdict() {
            bpf_abi::Verdict::Pass => xdp::PASS,
            bpf_abi::Verdict::Drop => xdp::DROP,
            bpf_abi::Verdict::Tx => xdp::TX,
            bpf_abi::Verdict::Redirect => xdp::REDIRECT,
        };
        Fixture {
            name: name.to_string(),
            output: input.clone(),
            input,
            action,
            reason,
        }
    }
}

/// An Echo Request from the gNB to the UPF over IPv4.
pub fn echo_request_v4(seq: u16) -> Frame {
    Frame::new(IpPacket::v4(
        GNB_V4,
        UPF_V4,
        L4::gtpu(GNB_PORT, &Gtpu::echo_request(seq)),
    ))
}

/// An Echo Request from the gNB to the UPF over IPv6.
pub fn echo_request_v6(seq: u16) -> Frame {
    Frame::new(IpPacket::v6(
        GNB_V6,
        UPF_V6,
        L4::gtpu(GNB_PORT, &Gtpu::echo_request(seq)),
    ))
}

/// The frame the UPF answers `request` with, carrying the GTP-U message `g`, following the
/// responder's documented choices (bpf-gtp `reply`): MACs, addresses and ports swapped, VLAN
/// tags kept, a fresh IP header (no options or extension headers, TTL/Hop Limit 64,
/// DSCP/Traffic Class kept with ECN cleared, Flow Label kept, IPv4 ID 0 with DF).
pub fn reply_for(request: &Frame, g: &Gtpu) -> Frame {
    let sport = match &request.ip.l4 {
        L4::Udp { src, .. } | L4::UdpZeroChecksum { src, .. } => *src,
        other => panic!("not UDP: {other:?}"),
    };
    let l4 = L4::Udp {
        src: 2152,
        dst: sport,
        payload: g.to_bytes(),
    };
    let ip = match &request.ip.ip {
        Ip::V4(h) => {
            let mut r = Ipv4::new(h.dst, h.src);
            r.tos = h.tos & 0xfc;
            Ip::V4(r)
        }
        Ip::V6(h) => {
            let mut r = Ipv6::new(h.dst, h.src);
            r.traffic_class = h.traffic_class & 0xfc;
            r.flow_label = h.flow_label;
            Ip::V6(r)
        }
    };
    Frame {
        dst: request.src,
        src: request.dst,
        vlans: request.vlans.clone(),
        ip: IpPacket { ip, l4 },
    }
}

/// The Echo Response the UPF must send for `request` (TS 29.281 7.2.2, 4.4.2.2): Sequence
/// Number copied, Recovery IE with Restart Counter 0.
pub fn echo_response_for(request: &Frame) -> Frame {
    let seq = match &request.ip.l4 {
        L4::Udp { payload, .. } | L4::UdpZeroChecksum { payload, .. } => {
            u16::from_be_bytes([payload[8], payload[9]])
        }
        other => panic!("not a UDP Echo Request: {other:?}"),
    };
    reply_for(request, &Gtpu::echo_response(seq))
}

/// The Error Indication the UPF must send for a G-PDU `request` to unknown `teid` (TS 29.281
/// 7.3.1): S = 1, Sequence Number 0, TEID Data I, GTP-U Peer Address (the address the G-PDU was
/// sent to), and the UDP Port extension header when the G-PDU did not come from port 2152.
pub fn error_indication_for(request: &Frame, teid: u32) -> Frame {
    let (sport, ours) = match (&request.ip.l4, &request.ip.ip) {
        (L4::Udp { src, .. }, Ip::V4(h)) => (*src, h.dst.octets().to_vec()),
        (L4::Udp { src, .. }, Ip::V6(h)) => (*src, h.dst.octets().to_vec()),
        (other, _) => panic!("not a UDP G-PDU: {other:?}"),
    };
    let mut ies = vec![16];
    ies.extend_from_slice(&teid.to_be_bytes());
    ies.push(133);
    ies.extend_from_slice(&(ours.len() as u16).to_be_bytes());
    ies.extend_from_slice(&ours);
    let mut g = Gtpu {
        msg_type: gtpu_msg_error_indication(),
        seq: Some(0),
        payload: ies,
        ..Gtpu::gpdu(0, Vec::new())
    };
    if sport != 2152 {
        g.ext.push(GtpuExt::Raw {
            ty: 0x40,
            content: sport.to_be_bytes().to_vec(),
        });
    }
    reply_for(request, &g)
}

fn gtpu_msg_error_indication() -> u8 {
    upf_lb_packet::gtpu_msg::ERROR_INDICATION
}

/// An answered Echo Request fixture.
pub fn echo_fixture(name: &str, request: &Frame) -> Fixture {
    Fixture {
        name: name.to_string(),
        input: request.to_bytes(),
        action: xdp::TX,
        output: echo_response_for(request).to_bytes(),
        reason: Reason::GtpuEchoResponse,
    }
}

/// An uplink G-PDU with a UL PDU Session Container (QFI 9) carrying UDP from the UE.
pub fn gpdu_ul_v4(teid: u32) -> Frame {
    let inner = IpPacket::v4(
        UE_V4,
        DN_V4,
        L4::Udp {
            src: 5000,
            dst: 53,
            payload: vec![0; 32],
        },
    );
    let mut g = Gtpu::gpdu(teid, inner.to_bytes());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    Frame::new(IpPacket::v4(GNB_V4, UPF_V4, L4::gtpu(GNB_PORT, &g)))
}

/// The fixtures the benchmark knows, by name.
pub fn bench_fixtures() -> Vec<Fixture> {
    vec![
        echo_fixture("echo-ipv4", &echo_request_v4(0x1234)),
        echo_fixture("echo-ipv6", &echo_request_v6(0x1234)),
    ]
}

/// `inner` as a router forwards it: TTL / Hop Limit one less, behind `dst`/`src` MACs.
pub fn routed(mut inner: IpPacket, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    match &mut inner.ip {
        Ip::V4(h) => h.ttl -= 1,
        Ip::V6(h) => h.hop_limit -= 1,
    }
    Frame {
        dst,
        src,
        vlans: vec![],
        ip: inner,
    }
    .to_bytes()
}

/// `inner` (TTL one less) as the UPF sends it down a GTP-U/UDP/IPv4 tunnel from `local` to
/// `peer` with `teid`, the DL PDU Session Container `psc`, outer DSCP `tos`, behind the MACs.
pub fn encapsulated(
    mut inner: IpPacket,
    teid: u32,
    psc: Option<Psc>,
    tos: u8,
    (local, peer): (Ipv4Addr, Ipv4Addr),
    (dst, src): ([u8; 6], [u8; 6]),
) -> Vec<u8> {
    match &mut inner.ip {
        Ip::V4(h) => h.ttl -= 1,
        Ip::V6(h) => h.hop_limit -= 1,
    }
    let mut g = Gtpu::gpdu(teid, inner.to_bytes());
    if let Some(p) = psc {
        g.ext.push(GtpuExt::Psc(p));
    }
    let mut outer = Ipv4::new(local, peer);
    outer.tos = tos;
    let l4 = L4::UdpZeroChecksum {
        src: 2152,
        dst: 2152,
        payload: g.to_bytes(),
    };
    Frame {
        dst,
        src,
        vlans: vec![],
        ip: IpPacket {
            ip: Ip::V4(outer),
            l4,
        },
    }
    .to_bytes()
}

/// A UDP datagram between `src` and `dst` with a 32-byte payload.
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> IpPacket {
    let l4 = L4::Udp {
        src: sport,
        dst: dport,
        payload: vec![0x5a; 32],
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => IpPacket::v4(s, d, l4),
        (IpAddr::V6(s), IpAddr::V6(d)) => IpPacket::v6(s, d, l4),
        _ => panic!("mixed address families"),
    }
}
