//! Tier 2: the downlink (N6 ingress) through BPF_PROG_TEST_RUN, sessions installed through the
//! southbound API, the FIB of a namespace the test builds: packets for UEs encapsulated in
//! GTP-U/UDP/IPv4 with the DL PDU Session Container of their QER and redirected to the gNB.

use bpf_abi::{
    Reason,
    gtp::{FAR_BUFF, FAR_NOCP, FAR_TLM, GATE_DL_CLOSED, Qer},
    names,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use upf_lb::southbound::{GtpDatapath, Key, PdrSpec, SessionSpec, gtp::build};
use upf_lb_packet::{Frame, Gtpu, GtpuExt, Ip, IpPacket, Ipv4, L4, Psc};
use upf_lb_testkit::fixtures::{self, Fixture, xdp};
use upf_lb_tests::{FibNs, require_root, run_xdp_fixtures_in};

const UPF_N3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const GNB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

fn ue(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, n)
}

fn from_dn(dst: IpAddr, ttl: u8, payload: usize) -> IpPacket {
    let l4 = L4::Udp {
        src: 50000,
        dst: 40000,
        payload: vec![0xcd; payload],
    };
    let mut p = match dst {
        IpAddr::V4(d) => IpPacket::v4(DN, d, l4),
        IpAddr::V6(d) => IpPacket::v6(Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x10), d, l4),
    };
    match &mut p.ip {
        Ip::V4(h) => h.ttl = ttl,
        Ip::V6(h) => h.hop_limit = ttl,
    }
    p
}

/// The frame the UPF must send towards the gNB for `inner`: TTL-1, GTP-U to `teid` with the PDU
/// Session Container `psc`, outer DSCP `tos`, MACs of the N3 FIB entry.
fn encapsulated(
    mut inner: IpPacket,
    teid: u32,
    psc: Option<Psc>,
    tos: u8,
    macs: Option<([u8; 6], [u8; 6])>,
) -> Vec<u8> {
    match &mut inner.ip {
        Ip::V4(h) => h.ttl -= 1,
        Ip::V6(h) => h.hop_limit -= 1,
    }
    let mut g = Gtpu::gpdu(teid, inner.to_bytes());
    if let Some(p) = psc {
        g.ext.push(GtpuExt::Psc(p));
    }
    let mut outer = Ipv4::new(UPF_N3, GNB);
    outer.tos = tos;
    let ip = IpPacket {
        ip: Ip::V4(outer),
        l4: L4::UdpZeroChecksum {
            src: 2152,
            dst: 2152,
            payload: g.to_bytes(),
        },
    };
    let (dst, src) = macs.unwrap_or((FibNs::GNB_MAC, FibNs::N3_MAC));
    Frame {
        dst,
        src,
        vlans: vec![],
        ip,
    }
    .to_bytes()
}

fn pdr(id: u16, far: u32, qer: Option<u32>) -> PdrSpec {
    PdrSpec {
        pdr_id: id,
        precedence: 10,
        qfi: 0,
        ohr: None,
        sdfs: vec![],
        far_id: far,
        qer_id: qer,
        urr_ids: vec![1],
    }
}

/// What the UPF sends back for `input`, an IPv4 packet from the DN too big for the tunnel: ICMP
/// Fragmentation Needed (RFC 792, RFC 1191) from `upf_n6` telling `mtu`, quoting the first
/// `quote` bytes of the packet, out of the interface it came in on.
fn frag_needed_reply(input: &Frame, upf_n6: Ipv4Addr, mtu: u16, quote: usize) -> Vec<u8> {
    Frame {
        dst: input.src,
        src: input.dst,
        vlans: vec![],
        ip: IpPacket {
            ip: Ip::V4(Ipv4 {
                frag: 0,
                ..Ipv4::new(upf_n6, DN)
            }),
            l4: L4::Icmp {
                ty: 3,
                code: 4,
                rest: [0, 0, (mtu >> 8) as u8, mtu as u8],
                payload: input.ip.to_bytes()[..quote].to_vec(),
            },
        },
    }
    .to_bytes()
}

/// The FARs and QERs of the downlink sessions: a tunnel with Transport Level Marking, QERs
/// with QFI 5, RQI and PPI 3, with QFI 9, and with QFI 9 and the downlink gate closed, and a
/// FAR that buffers and notifies.
struct Rules {
    tunnel: bpf_abi::gtp::Far,
    with_ppi: Qer,
    plain_qfi: Qer,
    closed: Qer,
    buffer: bpf_abi::gtp::Far,
}

fn rules() -> Rules {
    let mut tunnel = build::far_gtpu_v4(0xabc, UPF_N3, GNB);
    tunnel.flags |= FAR_TLM;
    tunnel.tos = 0xb8;
    Rules {
        tunnel,
        with_ppi: Qer {
            qfi: 5,
            rqi: 1,
            ppi: 3,
            ..build::qer_open()
        },
        plain_qfi: Qer {
            qfi: 9,
            ..build::qer_open()
        },
        closed: Qer {
            gate: GATE_DL_CLOSED,
            qfi: 9,
            ..build::qer_open()
        },
        buffer: bpf_abi::gtp::Far {
            action: FAR_BUFF | FAR_NOCP,
            ..build::far_gtpu_v4(0xabc, UPF_N3, GNB)
        },
    }
}

#[test]
fn downlink_packets_are_encapsulated_with_their_qfi_and_sent_to_the_gnb() {
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let Rules {
        tunnel,
        with_ppi,
        plain_qfi,
        closed,
        buffer,
    } = rules();
    let mut v6prefix = [0u8; 8];
    v6prefix.copy_from_slice(&fixtures::UE_V6.octets()[..8]);
    let s1 = dp
        .install(&SessionSpec {
            session: 1,
            fars: vec![
                (1, tunnel),
                (2, build::far_gtpu_v4(0xdef, UPF_N3, GNB)),
                (3, buffer),
            ],
            qers: vec![(1, with_ppi), (2, plain_qfi), (3, closed)],
            urrs: vec![1],
            urr_thresholds: vec![],
            pdrs: vec![
                (Key::DlUe4(ue(1)), pdr(1, 1, Some(1))),
                (Key::DlUe4(ue(2)), pdr(2, 2, Some(2))),
                (Key::DlUe4(ue(3)), pdr(3, 2, None)),
                (Key::DlUe4(ue(4)), pdr(4, 3, Some(2))),
                (Key::DlUe4(ue(5)), pdr(5, 2, Some(3))),
                (Key::DlUe6(v6prefix), pdr(6, 2, Some(2))),
            ],
        })
        .expect("install");

    let fx = |name: &str, inner: &IpPacket, action: u32, output: Vec<u8>, reason: Reason| Fixture {
        name: name.into(),
        input: Frame::new(inner.clone()).to_bytes(),
        action,
        output,
        reason,
    };
    let psc = |qfi, rqi, ppi| {
        Some(Psc {
            pdu_type: 0,
            qfi,
            rqi,
            ppi,
        })
    };
    let mut t = Vec::new();
    let p = from_dn(ue(1).into(), 64, 32);
    t.push(fx(
        "dl-psc-with-rqi-ppi-tlm",
        &p,
        xdp::REDIRECT,
        encapsulated(p.clone(), 0xabc, psc(5, true, Some(3)), 0xb8, None),
        Reason::DownlinkRedirect,
    ));
    let p = from_dn(ue(2).into(), 64, 32);
    t.push(fx(
        "dl-psc-qfi-only",
        &p,
        xdp::REDIRECT,
        encapsulated(p.clone(), 0xdef, psc(9, false, None), 0, None),
        Reason::DownlinkRedirect,
    ));
    let p = from_dn(ue(3).into(), 64, 32);
    t.push(fx(
        "dl-no-qer-no-psc",
        &p,
        xdp::REDIRECT,
        encapsulated(p.clone(), 0xdef, None, 0, None),
        Reason::DownlinkRedirect,
    ));
    let p = from_dn(fixtures::UE_V6.into(), 64, 32);
    t.push(fx(
        "dl-ipv6-ue-in-ipv4-tunnel",
        &p,
        xdp::REDIRECT,
        encapsulated(p.clone(), 0xdef, psc(9, false, None), 0, None),
        Reason::DownlinkRedirect,
    ));
    t.push(Fixture::unchanged(
        "dl-far-buffer",
        Frame::new(from_dn(ue(4).into(), 64, 32)).to_bytes(),
        Reason::FarBuffer,
    ));
    t.push(Fixture::unchanged(
        "dl-gate-closed",
        Frame::new(from_dn(ue(5).into(), 64, 32)).to_bytes(),
        Reason::QerGateClosed,
    ));
    t.push(Fixture::unchanged(
        "dl-unknown-ue",
        Frame::new(from_dn(ue(99).into(), 64, 32)).to_bytes(),
        Reason::DlNoSession,
    ));
    t.push(Fixture::unchanged(
        "dl-ttl-1-to-kernel",
        Frame::new(from_dn(ue(2).into(), 1, 32)).to_bytes(),
        Reason::DownlinkToKernel,
    ));
    // Too big for the N3 MTU once encapsulated: dropped (DF is set on the outer header).
    let big = from_dn(ue(3).into(), 64, usize::from(FibNs::N3_MTU) - 28 - 20);
    let f = Frame::new(big.clone());
    t.push(Fixture {
        name: "dl-mtu-exceeded".into(),
        input: f.to_bytes(),
        action: xdp::DROP,
        output: encapsulated(big, 0xdef, None, 0, Some((f.dst, f.src))),
        reason: Reason::MtuExceeded,
    });
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    t.push(Fixture::unchanged("dl-arp", arp, Reason::NotIp));

    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N6, &t);

    let c = dp.urr_counters(s1.urr_slot(1).unwrap()).unwrap();
    let n = from_dn(ue(1).into(), 64, 32).to_bytes().len() as u64;
    // Four packets forwarded (the MTU drop was counted before encapsulation: one more).
    assert_eq!((c.dl_packets, c.ul_packets), (5, 0));
    assert!(c.dl_bytes >= 4 * n, "{c:?}");
}

#[test]
fn tshark_decodes_the_downlink_encapsulation() {
    use aya::programs::{TestRun, TestRunOptions};
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let q = Qer {
        qfi: 7,
        rqi: 1,
        ppi: 5,
        ..build::qer_open()
    };
    dp.install(&SessionSpec {
        session: 1,
        fars: vec![(1, build::far_gtpu_v4(0x0102_0304, UPF_N3, GNB))],
        qers: vec![(1, q)],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![(Key::DlUe4(ue(1)), pdr(1, 1, Some(1)))],
    })
    .expect("install");
    let input = Frame::new(from_dn(ue(1).into(), 64, 100)).to_bytes();
    let mut out = vec![0u8; 512];
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&(input.len() as u32).to_ne_bytes());
    ctx[12..16].copy_from_slice(&fib.n3_ifindex.to_ne_bytes());
    let prog = dp.xdp(names::PROG_XDP_N6).unwrap();
    let r = fib
        .ns
        .run(|| {
            prog.test_run(TestRunOptions {
                data_in: Some(&input),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx),
                ..TestRunOptions::new()
            })
        })
        .expect("test run");
    assert_eq!(r.return_value, xdp::REDIRECT);
    out.truncate(r.data_size_out as usize);
    let pcap = upf_lb_tests::target_dir()
        .join("tshark")
        .join("downlink-encap.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&out]).unwrap();
    let rows = upf_lb_tests::tshark_fields(
        &pcap,
        &[
            "gtp.teid",
            "gtp.ext_hdr.pdu_ses_con.pdu_type",
            "gtp.ext_hdr.pdu_ses_con.qos_flow_id",
            "gtp.ext_hdr.pdu_ses_cont.rqi",
            "gtp.ext_hdr.pdu_ses_cont.ppi",
            "ip.checksum.status",
            "ip.src",
            "ip.dst",
            "ip.ttl",
            "_ws.malformed",
        ],
        &["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
    );
    // TEID, DL PDU SESSION INFORMATION (0), QFI 7, RQI, PPI 5; outer checksum Good; the first
    // ip.* occurrence is the outer header (UPF -> gNB); nothing malformed.
    assert_eq!(rows[0][..5], ["0x01020304", "0", "7", "1", "5"], "{rows:?}");
    assert_eq!(
        rows[0][5..],
        ["1", "192.0.2.2", "192.0.2.1", "64", ""],
        "{rows:?}"
    );
}

#[test]
fn buffered_packets_and_crossed_thresholds_reach_the_controller_as_events() {
    use bpf_abi::gtp::{EVENT_BUFFERED, EVENT_URR_THRESHOLD};
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let buffer = bpf_abi::gtp::Far {
        action: FAR_BUFF | FAR_NOCP,
        ..build::far_gtpu_v4(0xabc, UPF_N3, GNB)
    };
    let q = Qer {
        qfi: 6,
        ppi: 2,
        ..build::qer_open()
    };
    let s = dp
        .install(&SessionSpec {
            session: 42,
            fars: vec![(1, buffer), (2, build::far_gtpu_v4(0xdef, UPF_N3, GNB))],
            qers: vec![(1, q)],
            urrs: vec![1],
            // Two 60-byte packets cross 100 bytes.
            urr_thresholds: vec![(1, 100)],
            pdrs: vec![
                (Key::DlUe4(ue(1)), pdr(7, 1, Some(1))),
                (Key::DlUe4(ue(2)), pdr(8, 2, None)),
            ],
        })
        .expect("install");
    let buffered = Frame::new(from_dn(ue(1).into(), 64, 32)).to_bytes();
    let sent = |inner: &IpPacket| encapsulated(inner.clone(), 0xdef, None, 0, None);
    let p2 = from_dn(ue(2).into(), 64, 32);
    let mut t = vec![Fixture::unchanged(
        "dl-buffered",
        buffered.clone(),
        Reason::FarBuffer,
    )];
    for i in 0..3 {
        t.push(Fixture {
            name: format!("dl-counted-{i}"),
            input: Frame::new(p2.clone()).to_bytes(),
            action: xdp::REDIRECT,
            output: sent(&p2),
            reason: Reason::DownlinkRedirect,
        });
    }
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N6, &t);

    let ev = dp.drain_events(16).unwrap();
    assert_eq!(ev.len(), 2, "{ev:?}");
    let b = &ev[0];
    assert_eq!(
        (b.kind, b.session, b.id, b.qfi, b.ppi),
        (EVENT_BUFFERED, 42, 7, 6, 2)
    );
    assert_eq!(b.action, u32::from(FAR_BUFF | FAR_NOCP));
    assert_eq!(b.data, buffered, "the whole frame is handed over");
    let th = &ev[1];
    let len = p2.to_bytes().len() as u64;
    assert_eq!(
        (th.kind, th.session, th.id, th.value),
        (EVENT_URR_THRESHOLD, 42, s.urr_slot(1).unwrap(), 2 * len)
    );
    // Reported once: the third packet raised nothing; buffered packets were not counted.
    let c = dp.urr_counters(s.urr_slot(1).unwrap()).unwrap();
    assert_eq!(c.dl_packets, 3);
    assert!(dp.drain_events(16).unwrap().is_empty());
    // Re-armed at a further point, the next crossing is reported again.
    dp.set_urr_target(s.urr_slot(1).unwrap(), 3 * len + 1)
        .unwrap();
    let again = Fixture {
        name: "dl-counted-3".into(),
        input: Frame::new(p2.clone()).to_bytes(),
        action: xdp::REDIRECT,
        output: sent(&p2),
        reason: Reason::DownlinkRedirect,
    };
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        names::PROG_XDP_N6,
        &[again],
    );
    let ev = dp.drain_events(16).unwrap();
    assert_eq!(
        (ev.len(), ev[0].kind, ev[0].value),
        (1, EVENT_URR_THRESHOLD, 4 * len)
    );
}

#[test]
fn downlink_over_an_ipv6_transport_gets_a_gtpu_udp_ipv6_header_with_a_valid_checksum() {
    use upf_lb_packet::Ipv6;
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let mut tunnel = build::far_gtpu_v6(0x0a0b, fixtures::UPF_V6, fixtures::GNB_V6);
    tunnel.flags |= FAR_TLM;
    tunnel.tos = 0x88;
    let q = Qer {
        qfi: 5,
        rqi: 1,
        ppi: 3,
        ..build::qer_open()
    };
    dp.install(&SessionSpec {
        session: 1,
        fars: vec![
            (1, tunnel),
            (
                2,
                build::far_gtpu_v6(0x0c0d, fixtures::UPF_V6, fixtures::GNB_V6),
            ),
        ],
        qers: vec![(1, q)],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![
            (Key::DlUe4(ue(1)), pdr(1, 1, Some(1))),
            (Key::DlUe4(ue(2)), pdr(2, 2, None)),
        ],
    })
    .expect("install");
    let expect = |inner: &IpPacket, teid: u32, psc: Option<Psc>, tc: u8| {
        let mut inner = inner.clone();
        if let Ip::V4(h) = &mut inner.ip {
            h.ttl -= 1;
        }
        let mut g = Gtpu::gpdu(teid, inner.to_bytes());
        if let Some(p) = psc {
            g.ext.push(GtpuExt::Psc(p));
        }
        let mut outer = Ipv6::new(fixtures::UPF_V6, fixtures::GNB_V6);
        outer.traffic_class = tc;
        // The builder computes the UDP checksum itself: an independent check of the datapath's.
        let ip = IpPacket {
            ip: Ip::V6(outer),
            l4: L4::Udp {
                src: 2152,
                dst: 2152,
                payload: g.to_bytes(),
            },
        };
        Frame {
            dst: FibNs::GNB_MAC,
            src: FibNs::N3_MAC,
            vlans: vec![],
            ip,
        }
        .to_bytes()
    };
    let mut t = Vec::new();
    for (name, n, payload) in [
        ("dl-v6-transport-psc-ppi", 1, 33),
        ("dl-v6-transport-odd-length", 1, 1001),
    ] {
        let p = from_dn(ue(n).into(), 64, payload);
        t.push(Fixture {
            name: name.into(),
            input: Frame::new(p.clone()).to_bytes(),
            action: xdp::REDIRECT,
            output: expect(
                &p,
                0x0a0b,
                Some(Psc {
                    pdu_type: 0,
                    qfi: 5,
                    rqi: true,
                    ppi: Some(3),
                }),
                0x88,
            ),
            reason: Reason::DownlinkRedirect,
        });
    }
    let p = from_dn(ue(2).into(), 64, 64);
    t.push(Fixture {
        name: "dl-v6-transport-no-psc".into(),
        input: Frame::new(p.clone()).to_bytes(),
        action: xdp::REDIRECT,
        output: expect(&p, 0x0c0d, None, 0),
        reason: Reason::DownlinkRedirect,
    });
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N6, &t);

    // Too big for the IPv6 tunnel (IPv6 40 + UDP 8 + GTP-U 8 without a container): ICMP
    // Fragmentation Needed from the N6 address, telling what the tunnel leaves.
    let upf_n6 = Ipv4Addr::new(203, 0, 113, 1);
    dp.set_n6_address(upf_n6.into()).expect("n6 address");
    let room = FibNs::N3_MTU - 56;
    let big = from_dn(ue(2).into(), 64, usize::from(room) - 28 + 1);
    let f = Frame::new(big.clone());
    let fits = from_dn(ue(2).into(), 64, usize::from(room) - 28);
    let t = [
        Fixture {
            name: "dl-v6-transport-too-big-icmp".into(),
            input: f.to_bytes(),
            action: xdp::TX,
            output: frag_needed_reply(&f, upf_n6, room, 28),
            reason: Reason::IcmpFragNeeded,
        },
        Fixture {
            name: "dl-v6-transport-exactly-fits".into(),
            input: Frame::new(fits.clone()).to_bytes(),
            action: xdp::REDIRECT,
            output: expect(&fits, 0x0c0d, None, 0),
            reason: Reason::DownlinkRedirect,
        },
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N6, &t);
}

#[test]
fn downlink_packets_too_big_for_the_tunnel_get_icmp_fragmentation_needed_back() {
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let upf_n6 = Ipv4Addr::new(203, 0, 113, 1);
    dp.set_n6_address(upf_n6.into()).expect("n6 address");
    let mut v6prefix = [0u8; 8];
    v6prefix.copy_from_slice(&fixtures::UE_V6.octets()[..8]);
    dp.install(&SessionSpec {
        session: 1,
        fars: vec![(1, build::far_gtpu_v4(0xdef, UPF_N3, GNB))],
        qers: vec![],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![
            (Key::DlUe4(ue(3)), pdr(3, 1, None)),
            (Key::DlUe6(v6prefix), pdr(6, 1, None)),
        ],
    })
    .expect("install");
    // Outer IPv4 (20) + UDP (8) + GTP-U (8): what the tunnel leaves for the T-PDU.
    let room = FibNs::N3_MTU - 36;
    let mut t = Vec::new();
    for (name, ihl_options, tcp) in [
        ("dl-too-big-udp-icmp-frag-needed", 0usize, false),
        ("dl-too-big-ip-options-tcp", 8, true),
    ] {
        let mut big = from_dn(ue(3).into(), 64, usize::from(room) - 28 - ihl_options + 1);
        if let Ip::V4(h) = &mut big.ip {
            h.options = vec![1; ihl_options];
            h.id = 0x1234;
        }
        if tcp {
            big.l4 = L4::Tcp {
                src: 443,
                dst: 40001,
                flags: 0x18,
                payload: vec![0xee; usize::from(room) - 40 - ihl_options + 1],
            };
        }
        let f = Frame::new(big.clone());
        let bytes = big.to_bytes();
        assert_eq!(bytes.len(), usize::from(room) + 1, "{name}: one byte over");
        t.push(Fixture {
            name: name.into(),
            input: f.to_bytes(),
            action: xdp::TX,
            // RFC 792: the original IP header (options included) and the first 8 bytes of its
            // data.
            output: frag_needed_reply(&f, upf_n6, room, 20 + ihl_options + 8),
            reason: Reason::IcmpFragNeeded,
        });
    }
    // Exactly the room left: forwarded.
    let fits = from_dn(ue(3).into(), 64, usize::from(room) - 28);
    t.push(Fixture {
        name: "dl-exactly-fits".into(),
        input: Frame::new(fits.clone()).to_bytes(),
        action: xdp::REDIRECT,
        output: encapsulated(fits, 0xdef, None, 0, None),
        reason: Reason::DownlinkRedirect,
    });
    // No N6 IPv6 address set yet: an IPv6 T-PDU too big is dropped and counted.
    let big6 = from_dn(fixtures::UE_V6.into(), 64, usize::from(room) - 48 + 1);
    let f = Frame::new(big6.clone());
    t.push(Fixture {
        name: "dl-too-big-ipv6-no-n6-address".into(),
        input: f.to_bytes(),
        action: xdp::DROP,
        output: encapsulated(big6, 0xdef, None, 0, Some((f.dst, f.src))),
        reason: Reason::MtuExceeded,
    });
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N6, &t);

    // With one: ICMPv6 Packet Too Big (RFC 4443 3.2) quoting as much as fits 1280 bytes.
    let upf_n6_v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 1);
    dp.set_n6_address(upf_n6_v6.into()).expect("n6 v6 address");
    let mut t = Vec::new();
    for (name, payload, quote) in [
        // One byte over: 1365 bytes, the quote stops at 1232.
        (
            "dl-too-big-ipv6-packet-too-big",
            usize::from(room) - 48 + 1,
            1232,
        ),
        ("dl-far-too-big-ipv6", 1452 - 48, 1232),
    ] {
        let p = from_dn(fixtures::UE_V6.into(), 64, payload);
        let f = Frame::new(p.clone());
        let Ip::V6(inner) = &p.ip else { unreachable!() };
        let icmp = IpPacket {
            ip: Ip::V6(upf_lb_packet::Ipv6::new(upf_n6_v6, inner.src)),
            l4: L4::Icmp {
                ty: 2,
                code: 0,
                rest: u32::from(room).to_be_bytes(),
                payload: p.to_bytes()[..quote].to_vec(),
            },
        };
        t.push(Fixture {
            name: name.into(),
            input: f.to_bytes(),
            action: xdp::TX,
            output: Frame {
                dst: f.src,
                src: f.dst,
                vlans: vec![],
                ip: icmp,
            }
            .to_bytes(),
            reason: Reason::IcmpPacketTooBig,
        });
    }
    // The IPv4 answer is unchanged by the second address.
    let big = from_dn(ue(3).into(), 64, usize::from(room) - 28 + 1);
    let f = Frame::new(big.clone());
    t.push(Fixture {
        name: "dl-too-big-ipv4-after-ipv6-address".into(),
        input: f.to_bytes(),
        action: xdp::TX,
        output: frag_needed_reply(&f, upf_n6, room, 28),
        reason: Reason::IcmpFragNeeded,
    });
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N6, &t);
}

#[test]
fn icmp_too_big_errors_are_rate_limited_per_cpu() {
    use aya::programs::{TestRun, TestRunOptions};
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    dp.set_n6_address(Ipv4Addr::new(203, 0, 113, 1).into())
        .expect("n6 address");
    dp.install(&SessionSpec {
        session: 1,
        fars: vec![(1, build::far_gtpu_v4(0xdef, UPF_N3, GNB))],
        urrs: vec![1],
        pdrs: vec![(Key::DlUe4(ue(3)), pdr(3, 1, None))],
        ..Default::default()
    })
    .expect("install");
    let room = usize::from(FibNs::N3_MTU - 36);
    let input = Frame::new(from_dn(ue(3).into(), 64, room - 28 + 1)).to_bytes();
    let limit = 1000u64;
    let extra = 20u64;
    let p = dp.xdp(names::PROG_XDP_N6).unwrap();
    let ctx = upf_lb::southbound::test_run::xdp_md(input.len(), fib.n3_ifindex);
    let mut out = vec![0u8; input.len() + 512];
    // The limit is per CPU: keep every run on one CPU.
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity on this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
    let t0 = std::time::Instant::now();
    let (mut answered, mut dropped) = (0u64, 0u64);
    fib.ns.run(|| {
        for _ in 0..limit + extra {
            let r = p
                .test_run(TestRunOptions {
                    data_in: Some(&input),
                    data_out: Some(&mut out),
                    ctx_in: Some(&ctx[..]),
                    ..TestRunOptions::new()
                })
                .expect("BPF_PROG_TEST_RUN");
            match r.return_value {
                xdp::TX => answered += 1,
                xdp::DROP => dropped += 1,
                other => panic!("action {other}"),
            }
        }
    });
    // All runs on one CPU well inside one second: exactly the limit is answered.
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(900),
        "too slow to judge the window"
    );
    assert_eq!((answered, dropped), (limit, extra));
    let c = dp.counters().unwrap();
    assert_eq!(c[Reason::IcmpFragNeeded as usize].1.packets, limit);
    assert_eq!(c[Reason::IcmpRateLimited as usize].1.packets, extra);
}

#[test]
fn xdp_n6_on_the_common_frame_agrees_with_the_general_path() {
    // `xdp_n6` handles the common frame (untagged Ethernet, IPv4 without options or IPv6
    // without extension headers) itself and passes every other frame, and every packet whose
    // FAR buffers, to `xdp_n6_general`. Every frame here must come out of `xdp_n6` exactly as
    // out of `xdp_n6_general`: the same action, output bytes and outcome counter.
    use upf_lb_packet::Ipv6Ext;
    use upf_lb_tests::run_both_in;
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let Rules {
        tunnel,
        with_ppi,
        plain_qfi,
        closed,
        buffer,
    } = rules();
    let any = (IpAddr::from(Ipv4Addr::UNSPECIFIED), 0);
    let any6 = (IpAddr::from(Ipv6Addr::UNSPECIFIED), 0);
    let ue6 = |n: u16| Ipv6Addr::new(0x2001, 0xdb8, 0x10, n, 0, 0, 0, 1);
    let prefix = |n: u16| {
        let mut p = [0u8; 8];
        p.copy_from_slice(&ue6(n).octets()[..8]);
        p
    };
    // UE 6 and UE6 3: TCP to port 22 dropped (an SDF on the first PDR, IPv4 and IPv6), the
    // rest tunnelled.
    let ssh = PdrSpec {
        precedence: 1,
        sdfs: vec![build::sdf(Some(6), any, (0, 65535), any, (22, 22))],
        ..pdr(7, 4, None)
    };
    dp.install(&SessionSpec {
        session: 1,
        fars: vec![
            (1, tunnel),
            (2, build::far_gtpu_v4(0xdef, UPF_N3, GNB)),
            (3, buffer),
            (4, build::far_drop()),
        ],
        qers: vec![(1, with_ppi), (2, plain_qfi), (3, closed)],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![
            (Key::DlUe4(ue(1)), pdr(1, 1, Some(1))),
            (Key::DlUe4(ue(2)), pdr(2, 2, Some(2))),
            (Key::DlUe4(ue(3)), pdr(3, 2, None)),
            (Key::DlUe4(ue(4)), pdr(4, 3, Some(2))),
            (Key::DlUe4(ue(5)), pdr(5, 2, Some(3))),
            (Key::DlUe4(ue(6)), ssh.clone()),
            (Key::DlUe4(ue(6)), pdr(8, 2, Some(2))),
            (Key::DlUe6(prefix(1)), pdr(9, 1, Some(1))),
            (Key::DlUe6(prefix(2)), pdr(10, 2, None)),
            (
                Key::DlUe6(prefix(3)),
                PdrSpec {
                    pdr_id: 11,
                    sdfs: vec![build::sdf(Some(6), any6, (0, 65535), any6, (22, 22))],
                    ..ssh
                },
            ),
            (Key::DlUe6(prefix(3)), pdr(12, 2, Some(2))),
        ],
    })
    .expect("install");

    let dn6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x10);
    fn tcp(dport: u16) -> L4 {
        L4::Tcp {
            src: 50000,
            dst: dport,
            flags: 0x10,
            payload: vec![1, 2, 3],
        }
    }
    fn udp(n: usize) -> L4 {
        L4::Udp {
            src: 50000,
            dst: 40000,
            payload: vec![0xcd; n],
        }
    }
    fn packet(s: IpAddr, d: IpAddr, l4: L4) -> IpPacket {
        match (s, d) {
            (IpAddr::V4(s), IpAddr::V4(d)) => IpPacket::v4(s, d, l4),
            (IpAddr::V6(s), IpAddr::V6(d)) => IpPacket::v6(s, d, l4),
            _ => unreachable!("one family"),
        }
    }
    // (name, packet for the UE): IPv4 and IPv6 variants, common or not; each also VLAN-tagged.
    type Variant = (&'static str, fn(IpAddr, IpAddr) -> IpPacket);
    let variants: Vec<Variant> = vec![
        ("udp", |s, d| packet(s, d, udp(24))),
        ("udp-1460", |s, d| packet(s, d, udp(1460))),
        ("tcp-22", |s, d| packet(s, d, tcp(22))),
        ("tcp-443", |s, d| packet(s, d, tcp(443))),
        ("esp", |s, d| {
            packet(
                s,
                d,
                L4::Raw {
                    proto: 50,
                    bytes: vec![0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xee],
                },
            )
        }),
        ("ttl-1", |s, d| {
            let mut p = packet(s, d, udp(8));
            match &mut p.ip {
                Ip::V4(h) => h.ttl = 1,
                Ip::V6(h) => h.hop_limit = 1,
            }
            p
        }),
        ("options-or-hop-by-hop", |s, d| {
            let mut p = packet(s, d, udp(8));
            match &mut p.ip {
                Ip::V4(h) => h.options = vec![1, 1, 1, 0],
                Ip::V6(h) => h.ext = vec![Ipv6Ext::HopByHop(vec![])],
            }
            p
        }),
        ("later-fragment", |s, d| {
            let mut p = packet(s, d, udp(8));
            match &mut p.ip {
                Ip::V4(h) => h.frag = 0x0020,
                Ip::V6(h) => {
                    h.ext = vec![Ipv6Ext::Fragment {
                        offset: 4,
                        more: false,
                        id: 7,
                    }]
                }
            }
            p
        }),
    ];
    let ns = Some((&fib.ns, fib.n3_ifindex));
    let (mut runs, mut differ) = (0, Vec::new());
    let v4: Vec<IpAddr> = (1..=7).map(|n| ue(n).into()).collect();
    let v6: Vec<IpAddr> = (1..=4).map(|n| ue6(n).into()).collect();
    for (dsts, src) in [(v4, IpAddr::from(DN)), (v6, IpAddr::from(dn6))] {
        for dst in dsts {
            for (name, make) in &variants {
                // A buffering FAR hands the packet to the controller, rate-limited per session:
                // one variant for it keeps both runs under the limit.
                if dst == IpAddr::from(ue(4)) && *name != "udp" {
                    continue;
                }
                for vlan in [None, Some((0x8100, 100))] {
                    let mut f = Frame::new(make(src, dst));
                    f.vlans.extend(vlan);
                    let f = f.to_bytes();
                    runs += 1;
                    match run_both_in(ns, &dp, names::PROG_XDP_N6, names::PROG_XDP_N6_GENERAL, &f) {
                        Ok(general) => assert_eq!(general.reasons().len(), 1, "{dst}/{name}"),
                        Err(d) => differ.push(format!("{dst}/{name}/{vlan:?}: {d}")),
                    }
                }
            }
        }
    }
    assert!(runs > 150, "{runs}");
    assert!(
        differ.is_empty(),
        "{} of {runs} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[test]
fn ue_addresses_fill_their_bucket_then_the_hash_map_and_reuse_freed_slots() {
    // UE tables of one bucket each (2 keys of each family: the hash maps hold 2 as well): four
    // UEs of a family fill the bucket's slots, two more overflow into the hash map, a seventh
    // finds no room. Every installed UE is found; removal makes each unknown again; after a
    // removal from the bucket the seventh fits, in the freed slot (the hash map is still full).
    use bpf_abi::gtp::table_buckets;
    use upf_lb::southbound::MapSizes;
    require_root();
    let fib = FibNs::new();
    let sizes = MapSizes {
        dl4_keys: 2,
        dl6_keys: 2,
        ..MapSizes::for_sessions(64)
    };
    assert_eq!(table_buckets(sizes.dl4_keys), 1);
    let mut dp = GtpDatapath::load_with(&sizes).expect("load bpf-gtp");
    let v4: Vec<IpAddr> = (0..7).map(|i| ue(10 + i).into()).collect();
    let v6: Vec<IpAddr> = (0..7u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0x60, 0x100 + i, 0, 0, 0, 1).into())
        .collect();
    let key = |a: IpAddr| match a {
        IpAddr::V4(a) => Key::DlUe4(a),
        IpAddr::V6(a) => {
            let mut p = [0u8; 8];
            p.copy_from_slice(&a.octets()[..8]);
            Key::DlUe6(p)
        }
    };
    let teid = |i: usize, a: IpAddr| 0x100 + i as u32 + if a.is_ipv6() { 0x80 } else { 0 };
    let spec = |i: usize, a: IpAddr| SessionSpec {
        session: teid(i, a),
        fars: vec![(1, build::far_gtpu_v4(teid(i, a), UPF_N3, GNB))],
        urrs: vec![1],
        pdrs: vec![(key(a), pdr(1, 1, None))],
        ..Default::default()
    };
    let fx = |name: String, i: usize, a: IpAddr, installed: bool| {
        let p = from_dn(a, 64, 32);
        if !installed {
            return Fixture::unchanged(&name, Frame::new(p).to_bytes(), Reason::DlNoSession);
        }
        Fixture {
            output: encapsulated(p.clone(), teid(i, a), None, 0, None),
            input: Frame::new(p).to_bytes(),
            name,
            action: xdp::REDIRECT,
            reason: Reason::DownlinkRedirect,
        }
    };
    let ns = Some((&fib.ns, fib.n3_ifindex));
    for (family, ues, map) in [("v4", &v4, "DL_UE4"), ("v6", &v6, "DL_UE6")] {
        let mut sessions: Vec<_> = (0..6)
            .map(|i| Some(dp.install(&spec(i, ues[i])).expect("install")))
            .collect();
        let e = dp.install(&spec(6, ues[6])).unwrap_err();
        assert!(e.to_string().contains(map), "{family}: {e}");
        let t: Vec<_> = (0..7)
            .map(|i| fx(format!("dl-{family}-ue-{i}"), i, ues[i], i < 6))
            .collect();
        run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N6, &t);
        run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N6_GENERAL, &t);
        // One from the bucket removed: unknown; the seventh takes its slot.
        dp.remove(sessions[1].take().unwrap());
        sessions.push(Some(
            dp.install(&spec(6, ues[6]))
                .expect("install into the freed slot"),
        ));
        let t: Vec<_> = (0..7)
            .map(|i| fx(format!("dl-{family}-after-reuse-{i}"), i, ues[i], i != 1))
            .collect();
        run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N6, &t);
        // One from the hash map removed, then everything: every UE unknown.
        dp.remove(sessions[5].take().unwrap());
        let t: Vec<_> = (0..7)
            .map(|i| {
                fx(
                    format!("dl-{family}-still-{i}"),
                    i,
                    ues[i],
                    i != 1 && i != 5,
                )
            })
            .collect();
        run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N6, &t);
        for s in sessions.into_iter().flatten() {
            dp.remove(s);
        }
        let t: Vec<_> = (0..7)
            .map(|i| fx(format!("dl-{family}-all-removed-{i}"), i, ues[i], false))
            .collect();
        run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N6, &t);
    }
}
