//! Tier 2: the uplink (N3 ingress) through BPF_PROG_TEST_RUN, with sessions installed through the
//! southbound API and the FIB of a namespace the test builds: G-PDUs decapsulated and redirected
//! to the next hop, every PDR/FAR/QER outcome, and the negative rows.

use bpf_abi::{
    Reason,
    gtp::{GATE_UL_CLOSED, Qer},
    names,
};
use std::net::{IpAddr, Ipv4Addr};
use upf_lb::southbound::{GtpDatapath, Key, PdrSpec, SessionSpec, gtp::build};
use upf_lb_packet::{Frame, Gtpu, GtpuExt, Ip, IpPacket, L4, Psc};
use upf_lb_testkit::fixtures::{self, Fixture, xdp};
use upf_lb_tests::{FibNs, require_root, run_xdp_fixtures_in};

const OHR_GTPU_V4: u8 = 0;

fn udp_to(dst: IpAddr, dport: u16, ttl: u8) -> IpPacket {
    let mut p = match dst {
        IpAddr::V4(d) => IpPacket::v4(
            fixtures::UE_V4,
            d,
            L4::Udp {
                src: 40000,
                dst: dport,
                payload: vec![0xab; 24],
            },
        ),
        IpAddr::V6(d) => IpPacket::v6(
            fixtures::UE_V6,
            d,
            L4::Udp {
                src: 40000,
                dst: dport,
                payload: vec![0xab; 24],
            },
        ),
    };
    match &mut p.ip {
        Ip::V4(h) => h.ttl = ttl,
        Ip::V6(h) => h.hop_limit = ttl,
    }
    p
}

/// A G-PDU from the gNB for `teid` carrying `inner`, with a UL PDU Session Container of `qfi`.
fn gpdu(teid: u32, qfi: Option<u8>, inner: &IpPacket) -> Frame {
    let mut g = Gtpu::gpdu(teid, inner.to_bytes());
    if let Some(q) = qfi {
        g.ext.push(GtpuExt::Psc(Psc {
            pdu_type: 1,
            qfi: q,
            rqi: false,
            ppi: None,
        }));
    }
    Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::gtpu(2152, &g),
    ))
}

/// The frame xdp_n3 must redirect: the inner packet with TTL-1 behind the N6 MACs.
fn redirected(mut inner: IpPacket) -> Vec<u8> {
    match &mut inner.ip {
        Ip::V4(h) => h.ttl -= 1,
        Ip::V6(h) => h.hop_limit -= 1,
    }
    Frame {
        dst: FibNs::NH_MAC,
        src: FibNs::N6_MAC,
        vlans: vec![],
        ip: inner,
    }
    .to_bytes()
}

/// The frame handed to the kernel: the inner packet, TTL unchanged, behind the original MACs.
fn to_kernel(input: &Frame, inner: IpPacket) -> Vec<u8> {
    Frame {
        dst: input.dst,
        src: input.src,
        vlans: vec![],
        ip: inner,
    }
    .to_bytes()
}

fn fx(name: &str, input: &Frame, action: u32, output: Vec<u8>, reason: Reason) -> Fixture {
    Fixture {
        name: name.into(),
        input: input.to_bytes(),
        action,
        output,
        reason,
    }
}

fn pdr(
    id: u16,
    precedence: u32,
    qfi: u8,
    sdfs: Vec<bpf_abi::gtp::SdfFilter>,
    far: u32,
    qer: Option<u32>,
) -> PdrSpec {
    PdrSpec {
        pdr_id: id,
        precedence,
        qfi,
        ohr: Some(OHR_GTPU_V4),
        sdfs,
        far_id: far,
        qer_id: qer,
        urr_ids: vec![1],
    }
}

#[test]
fn uplink_g_pdus_are_decapsulated_forwarded_or_dropped_by_their_rules() {
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let any4 = (IpAddr::from(Ipv4Addr::UNSPECIFIED), 0);
    let dn = (IpAddr::from(Ipv4Addr::new(203, 0, 113, 0)), 24);
    let dns_to_dn = build::sdf(Some(17), any4, (0, 65535), dn, (53, 53));

    // Session 1 (TEID 0x100): QFI 9 DNS to the DN forwarded; everything else dropped.
    let s1 = dp
        .install(&SessionSpec {
            session: 1,
            fars: vec![(1, build::far_forward()), (2, build::far_drop())],
            qers: vec![(1, build::qer_open())],
            urrs: vec![1],
            urr_thresholds: vec![],
            pdrs: vec![
                (Key::UlTeid(0x100), pdr(2, 200, 0, vec![], 2, None)),
                (
                    Key::UlTeid(0x100),
                    pdr(1, 100, 9, vec![dns_to_dn], 1, Some(1)),
                ),
            ],
        })
        .expect("install session 1");
    // Session 2 (TEID 0x200): everything forwarded, IPv6 too; session 3 (0x300): UL gate closed;
    // session 4 (0x400): MBR 800 bit/s (100 bytes/s) with a 100-byte burst. The bucket refills
    // a byte every 10 ms: the rows below and the token check run well within that (at
    // 8 kbit/s, a millisecond between two rows on a loaded machine gave 50 tokens, not 48).
    dp.install(&SessionSpec {
        session: 2,
        fars: vec![(1, build::far_forward())],
        urrs: vec![1],
        pdrs: vec![(Key::UlTeid(0x200), pdr(1, 1, 0, vec![], 1, None))],
        ..Default::default()
    })
    .expect("install session 2");
    let closed = Qer {
        gate: GATE_UL_CLOSED,
        ..build::qer_open()
    };
    let slow = Qer {
        mbr_ul: 800,
        burst_ul: 100,
        ..build::qer_open()
    };
    let s3 = dp
        .install(&SessionSpec {
            session: 3,
            fars: vec![(1, build::far_forward())],
            qers: vec![(1, closed), (2, slow)],
            urrs: vec![1],
            urr_thresholds: vec![],
            pdrs: vec![
                (Key::UlTeid(0x300), pdr(1, 1, 0, vec![], 1, Some(1))),
                (Key::UlTeid(0x400), pdr(1, 1, 0, vec![], 1, Some(2))),
            ],
        })
        .expect("install session 3");

    // Session 5 (TEID 0x600): N9 relaying to the next UPF (here the gNB address on N3) with
    // the QER's QFI 7 in a UL PDU Session Container.
    let relay_qer = Qer {
        qfi: 7,
        ..build::qer_open()
    };
    dp.install(&SessionSpec {
        session: 5,
        fars: vec![(
            1,
            build::far_gtpu_v4(0x7777, fixtures::UPF_V4, fixtures::GNB_V4),
        )],
        qers: vec![(1, relay_qer)],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![(Key::UlTeid(0x600), pdr(1, 1, 0, vec![], 1, Some(1)))],
    })
    .expect("install session 5");
    // Session 6 (TEID 0x700): N9 relaying over an IPv6 transport.
    dp.install(&SessionSpec {
        session: 6,
        fars: vec![(
            1,
            build::far_gtpu_v6(0x8888, fixtures::UPF_V6, fixtures::GNB_V6),
        )],
        qers: vec![(1, relay_qer)],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![(Key::UlTeid(0x700), pdr(1, 1, 0, vec![], 1, Some(1)))],
    })
    .expect("install session 6");
    let nh4 = IpAddr::from(FibNs::NH4);
    let mut t = Vec::new();

    let inner = udp_to(nh4, 53, 64);
    let f = gpdu(0x100, Some(9), &inner);
    t.push(fx(
        "ul-qfi9-dns-redirected",
        &f,
        xdp::REDIRECT,
        redirected(inner),
        Reason::UplinkRedirect,
    ));

    // Sequence number, N-PDU number and an unknown not-required header before the PSC.
    let inner = udp_to(nh4, 53, 64);
    let mut g = Gtpu::gpdu(0x100, inner.to_bytes());
    g.seq = Some(77);
    g.npdu = Some(3);
    g.ext.push(GtpuExt::Raw {
        ty: 0x3f,
        content: vec![1, 2],
    });
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let f = Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::gtpu(2152, &g),
    ));
    t.push(fx(
        "ul-seq-npdu-ext-chain-redirected",
        &f,
        xdp::REDIRECT,
        redirected(inner),
        Reason::UplinkRedirect,
    ));

    let f = gpdu(0x100, Some(9), &udp_to(nh4, 80, 64));
    t.push(Fixture::unchanged(
        "ul-other-port-far-drop",
        f.to_bytes(),
        Reason::FarDrop,
    ));
    let f = gpdu(0x100, Some(5), &udp_to(nh4, 53, 64));
    t.push(Fixture::unchanged(
        "ul-other-qfi-far-drop",
        f.to_bytes(),
        Reason::FarDrop,
    ));
    let f = gpdu(0x100, None, &udp_to(nh4, 53, 64));
    t.push(Fixture::unchanged(
        "ul-no-psc-far-drop",
        f.to_bytes(),
        Reason::FarDrop,
    ));

    // No route in the namespace for 198.51.100.77: handed to the kernel, decapsulated.
    let inner = udp_to(IpAddr::from(Ipv4Addr::new(198, 51, 100, 77)), 9, 64);
    let f = gpdu(0x200, None, &inner);
    t.push(fx(
        "ul-no-route-to-kernel",
        &f,
        xdp::PASS,
        to_kernel(&f, inner),
        Reason::UplinkToKernel,
    ));
    // TTL 1: the kernel answers with Time Exceeded.
    let inner = udp_to(nh4, 9, 1);
    let f = gpdu(0x200, None, &inner);
    t.push(fx(
        "ul-ttl-1-to-kernel",
        &f,
        xdp::PASS,
        to_kernel(&f, inner),
        Reason::UplinkToKernel,
    ));
    // IPv6 T-PDU.
    let inner = udp_to(IpAddr::from(FibNs::NH6), 443, 64);
    let f = gpdu(0x200, Some(1), &inner);
    t.push(fx(
        "ul-ipv6-inner-redirected",
        &f,
        xdp::REDIRECT,
        redirected(inner),
        Reason::UplinkRedirect,
    ));
    // GTP-U over IPv6 to the UPF.
    let inner = udp_to(nh4, 9, 64);
    let g = Gtpu::gpdu(0x200, inner.to_bytes());
    let f = Frame::new(IpPacket::v6(
        fixtures::GNB_V6,
        fixtures::UPF_V6,
        L4::gtpu(2152, &g),
    ));
    t.push(fx(
        "ul-ipv6-outer-redirected",
        &f,
        xdp::REDIRECT,
        redirected(inner),
        Reason::UplinkRedirect,
    ));

    // N9: the T-PDU (TTL unchanged) in a new GTP-U tunnel, UL container with QFI 7; over IPv4
    // (zero UDP checksum) and IPv6 (the builder computes the outer UDP checksum the datapath
    // must match).
    let v4 = Ip::V4(upf_lb_packet::Ipv4::new(fixtures::UPF_V4, fixtures::GNB_V4));
    let v6 = Ip::V6(upf_lb_packet::Ipv6::new(fixtures::UPF_V6, fixtures::GNB_V6));
    for (name, teid, next_teid, outer) in [
        ("ul-n9-relayed", 0x600, 0x7777, v4),
        ("ul-n9-relayed-over-ipv6", 0x700, 0x8888, v6),
    ] {
        let inner = udp_to(nh4, 9, 64);
        let f = gpdu(teid, Some(9), &inner);
        let mut g = Gtpu::gpdu(next_teid, inner.to_bytes());
        g.ext.push(GtpuExt::Psc(Psc {
            pdu_type: 1,
            qfi: 7,
            rqi: false,
            ppi: None,
        }));
        let (src, dst, payload) = (2152, 2152, g.to_bytes());
        let l4 = match outer {
            Ip::V4(_) => L4::UdpZeroChecksum { src, dst, payload },
            Ip::V6(_) => L4::Udp { src, dst, payload },
        };
        let relayed = Frame {
            dst: FibNs::GNB_MAC,
            src: FibNs::N3_MAC,
            vlans: vec![],
            ip: IpPacket { ip: outer, l4 },
        }
        .to_bytes();
        t.push(fx(name, &f, xdp::REDIRECT, relayed, Reason::UplinkRedirect));
    }
    t.push(Fixture::unchanged(
        "ul-gate-closed",
        gpdu(0x300, None, &udp_to(nh4, 9, 64)).to_bytes(),
        Reason::QerGateClosed,
    ));
    // The bucket starts with its 100-byte burst: one 52-byte packet passes, the next does not.
    let inner = udp_to(nh4, 9, 64);
    let f = gpdu(0x400, None, &inner);
    t.push(fx(
        "ul-mbr-within-burst",
        &f,
        xdp::REDIRECT,
        redirected(inner.clone()),
        Reason::UplinkRedirect,
    ));
    t.push(Fixture::unchanged(
        "ul-mbr-exceeded",
        f.to_bytes(),
        Reason::QerMbrExceeded,
    ));

    let f = gpdu(0x999, None, &udp_to(nh4, 9, 64));
    t.push(fx(
        "ul-unknown-teid-error-indication",
        &f,
        xdp::TX,
        fixtures::error_indication_for(&f, 0x999).to_bytes(),
        Reason::GtpuErrorIndication,
    ));
    let g = Gtpu::gpdu(0x200, vec![0x00; 20]);
    let f = Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::gtpu(2152, &g),
    ));
    t.push(Fixture::unchanged(
        "ul-inner-not-ip",
        f.to_bytes(),
        Reason::InnerNotIp,
    ));
    let mut bad = udp_to(nh4, 9, 64).to_bytes();
    bad[2..4].copy_from_slice(&500u16.to_be_bytes());
    let g = Gtpu::gpdu(0x200, bad);
    let f = Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::gtpu(2152, &g),
    ));
    t.push(Fixture::unchanged(
        "ul-inner-total-length-beyond",
        f.to_bytes(),
        Reason::Ipv4BadTotalLength,
    ));

    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N3, &t);
    // The MBR bucket took the one packet it let through: 100 - 52 bytes left.
    let q = dp.qer_state(s3.qer_slot(2).unwrap()).unwrap();
    assert_eq!(q.tokens[0], 100 - 52);

    // URR 1 of session 1 counted the two redirected DNS packets (inner bytes).
    let c = dp.urr_counters(s1.urr_slot(1).unwrap()).unwrap();
    let dns_len = udp_to(nh4, 53, 64).to_bytes().len() as u64;
    assert_eq!(
        (c.ul_packets, c.ul_bytes, c.dl_packets),
        (2, 2 * dns_len, 0)
    );

    // Removing session 1 makes its TEID unknown again.
    let s1_urr = s1.urr_slot(1).unwrap();
    dp.remove(s1);
    let f = gpdu(0x100, Some(9), &udp_to(nh4, 53, 64));
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        names::PROG_XDP_N3,
        &[fx(
            "ul-after-removal",
            &f,
            xdp::TX,
            fixtures::error_indication_for(&f, 0x100).to_bytes(),
            Reason::GtpuErrorIndication,
        )],
    );
    // A session installed next takes session 1's URR slot, and starts from zero: its per-CPU
    // counters (where that URR counted) were cleared, not only the shared ones.
    let s5 = dp
        .install(&SessionSpec {
            session: 5,
            fars: vec![(1, build::far_forward())],
            urrs: vec![1],
            pdrs: vec![(Key::UlTeid(0x500), pdr(1, 1, 0, vec![], 1, None))],
            ..Default::default()
        })
        .expect("install session 5");
    assert_eq!(s5.urr_slot(1), Some(s1_urr), "the freed slot is reused");
    let c = dp.urr_counters(s1_urr).unwrap();
    assert_eq!((c.ul_packets, c.ul_bytes, c.dl_packets), (0, 0, 0));
}

#[test]
fn install_refuses_inconsistent_sessions_and_leaves_nothing_behind() {
    require_root();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let before = dp.slots_in_use();
    let e = dp
        .install(&SessionSpec {
            session: 9,
            fars: vec![(1, build::far_forward())],
            pdrs: vec![(Key::UlTeid(0x900), pdr(1, 1, 0, vec![], 7, None))],
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("FAR 7"), "{e}");
    assert_eq!(dp.slots_in_use(), before);
    let nine = (0..9)
        .map(|i| (Key::UlTeid(0x901), pdr(i, u32::from(i), 0, vec![], 1, None)))
        .collect();
    let e = dp
        .install(&SessionSpec {
            session: 9,
            fars: vec![(1, build::far_forward())],
            urrs: vec![1],
            pdrs: nine,
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("at most 8"), "{e}");
    assert_eq!(dp.slots_in_use(), before);
}

#[test]
fn direct_teids_are_found_by_index_and_the_rest_by_hash() {
    use bpf_abi::gtp::TEID_DIRECT;
    require_root();
    let fib = FibNs::new();
    // 4096 direct TEIDs (GtpDatapath::load's sizes).
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let nh4: IpAddr = FibNs::NH4.into();
    let direct = TEID_DIRECT | 5;
    // In the direct range by its top bit, but beyond the array: kept in the hash map.
    let beyond = TEID_DIRECT | 5000;
    let plain = 0x77;
    let mut sessions = Vec::new();
    for (i, teid) in [direct, beyond, plain].into_iter().enumerate() {
        sessions.push(
            dp.install(&SessionSpec {
                session: i as u32 + 1,
                fars: vec![(1, build::far_forward())],
                urrs: vec![1],
                pdrs: vec![(Key::UlTeid(teid), pdr(1, 1, 0, vec![], 1, None))],
                ..Default::default()
            })
            .expect("install"),
        );
    }
    let inner = udp_to(nh4, 53, 64);
    let mut t = Vec::new();
    for (name, teid) in [
        ("ul-direct-teid", direct),
        ("ul-direct-range-beyond-array", beyond),
        ("ul-hashed-teid", plain),
    ] {
        t.push(fx(
            name,
            &gpdu(teid, None, &inner),
            xdp::REDIRECT,
            redirected(inner.clone()),
            Reason::UplinkRedirect,
        ));
    }
    // An empty direct slot, and the direct slot of `direct` asked for by its index without the
    // direct bit (a different TEID, not installed).
    for (name, teid) in [
        ("ul-direct-empty-slot", TEID_DIRECT | 6),
        ("ul-index-without-bit", 5),
    ] {
        let f = gpdu(teid, None, &inner);
        t.push(fx(
            name,
            &f,
            xdp::TX,
            fixtures::error_indication_for(&f, teid).to_bytes(),
            Reason::GtpuErrorIndication,
        ));
    }
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, names::PROG_XDP_N3, &t);

    // Removal empties the slot.
    let s1 = sessions.remove(0);
    dp.remove(s1);
    let f = gpdu(direct, None, &inner);
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        names::PROG_XDP_N3,
        &[fx(
            "ul-direct-after-removal",
            &f,
            xdp::TX,
            fixtures::error_indication_for(&f, direct).to_bytes(),
            Reason::GtpuErrorIndication,
        )],
    );
}

#[test]
fn xdp_n3_on_the_common_frame_agrees_with_the_general_path() {
    // `xdp_n3` handles the common uplink frame (untagged Ethernet, IPv4 or IPv6, UDP, GTP-U
    // with one UL PDU Session Container) itself and passes every other frame to `xdp_n3_general`. Every
    // frame here, common or not, must come out of `xdp_n3` exactly as out of `xdp_n3_general`
    // (the general parsers and the tail-called G-PDU stage): the same action, output bytes and
    // outcome counter.
    use bpf_abi::gtp::TEID_DIRECT;
    use upf_lb_tests::run_both_in;
    require_root();
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let nh4: IpAddr = FibNs::NH4.into();
    let any4 = (IpAddr::from(Ipv4Addr::UNSPECIFIED), 0);
    let dn = (IpAddr::from(Ipv4Addr::new(203, 0, 113, 0)), 24);
    let closed = Qer {
        gate: GATE_UL_CLOSED,
        ..build::qer_open()
    };
    let relay = Qer {
        qfi: 7,
        ..build::qer_open()
    };
    type Rules = (Vec<(u32, bpf_abi::gtp::Far)>, Vec<(u32, Qer)>, Vec<PdrSpec>);
    let sessions: [(u32, Rules); 5] = [
        // QFI 9 DNS forwarded, the rest dropped.
        (
            0x100,
            (
                vec![(1, build::far_forward()), (2, build::far_drop())],
                vec![],
                vec![
                    pdr(2, 200, 0, vec![], 2, None),
                    pdr(
                        1,
                        100,
                        9,
                        vec![build::sdf(Some(17), any4, (0, 65535), dn, (53, 53))],
                        1,
                        None,
                    ),
                ],
            ),
        ),
        // TCP to port 80 dropped, everything else forwarded.
        (
            0x200,
            (
                vec![(1, build::far_forward()), (2, build::far_drop())],
                vec![],
                vec![
                    pdr(
                        1,
                        1,
                        0,
                        vec![build::sdf(Some(6), any4, (0, 65535), any4, (80, 80))],
                        2,
                        None,
                    ),
                    pdr(2, 2, 0, vec![], 1, None),
                ],
            ),
        ),
        // Gate closed.
        (
            0x300,
            (
                vec![(1, build::far_forward())],
                vec![(1, closed)],
                vec![pdr(1, 1, 0, vec![], 1, Some(1))],
            ),
        ),
        // N9 relaying with the QER's QFI 7.
        (
            0x600,
            (
                vec![(
                    1,
                    build::far_gtpu_v4(0x7777, fixtures::UPF_V4, fixtures::GNB_V4),
                )],
                vec![(1, relay)],
                vec![pdr(1, 1, 0, vec![], 1, Some(1))],
            ),
        ),
        // A TEID the UP function allocated (array index).
        (
            TEID_DIRECT | 5,
            (
                vec![(1, build::far_forward())],
                vec![],
                vec![pdr(1, 1, 0, vec![], 1, None)],
            ),
        ),
    ];
    for (i, (teid, (fars, qers, pdrs))) in sessions.into_iter().enumerate() {
        dp.install(&SessionSpec {
            session: i as u32 + 1,
            fars,
            qers,
            urrs: vec![1],
            urr_thresholds: vec![],
            pdrs: pdrs.into_iter().map(|p| (Key::UlTeid(teid), p)).collect(),
        })
        .expect("install");
    }

    let dns = udp_to(IpAddr::from(Ipv4Addr::new(203, 0, 113, 9)), 53, 64);
    let tcp = |dport| {
        IpPacket::v4(
            fixtures::UE_V4,
            Ipv4Addr::new(203, 0, 113, 9),
            L4::Tcp {
                src: 40000,
                dst: dport,
                flags: 0x02,
                payload: vec![],
            },
        )
    };
    let mut options = udp_to(nh4, 9, 64);
    if let Ip::V4(h) = &mut options.ip {
        h.options = vec![1, 1, 1, 0];
    }
    let esp = IpPacket::v4(
        fixtures::UE_V4,
        FibNs::NH4,
        L4::Raw {
            proto: 50,
            bytes: vec![0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xee, 0xee],
        },
    );
    let mut later_fragment = udp_to(nh4, 9, 64);
    if let Ip::V4(h) = &mut later_fragment.ip {
        h.frag = 0x0010;
    }
    let mut beyond = udp_to(nh4, 9, 64).to_bytes();
    beyond[2..4].copy_from_slice(&500u16.to_be_bytes());
    let inners: Vec<(&str, Vec<u8>)> = vec![
        ("dns", dns.to_bytes()),
        ("udp", udp_to(nh4, 9, 64).to_bytes()),
        ("udp-ttl-1", udp_to(nh4, 9, 1).to_bytes()),
        ("udp6", udp_to(FibNs::NH6.into(), 9, 64).to_bytes()),
        ("tcp-80", tcp(80).to_bytes()),
        ("tcp-443", tcp(443).to_bytes()),
        ("ipv4-options", options.to_bytes()),
        ("esp", esp.to_bytes()),
        ("later-fragment", later_fragment.to_bytes()),
        ("not-ip", vec![0; 20]),
        ("total-length-beyond", beyond),
        (
            "ipv4-header-only",
            udp_to(nh4, 9, 64).to_bytes()[..20].to_vec(),
        ),
    ];
    fn psc(qfi: u8) -> GtpuExt {
        GtpuExt::Psc(Psc {
            pdu_type: 1,
            qfi,
            rqi: false,
            ppi: None,
        })
    }
    type Edit = fn(&mut Gtpu);
    let headers: Vec<(&str, Edit)> = vec![
        ("psc-9", (|g| g.ext.push(psc(9)))),
        ("psc-5", (|g| g.ext.push(psc(5)))),
        (
            "seq-psc",
            (|g| {
                g.seq = Some(7);
                g.ext.push(psc(9));
            }),
        ),
        (
            "npdu-psc",
            (|g| {
                g.npdu = Some(3);
                g.ext.push(psc(9));
            }),
        ),
        ("no-ext", (|_| {})),
        (
            "psc-then-udp-port",
            (|g| {
                g.ext.push(psc(9));
                g.ext.push(GtpuExt::Raw {
                    ty: 0x40,
                    content: vec![0x08, 0x68],
                });
            }),
        ),
        (
            "dl-psc",
            (|g| {
                g.ext.push(GtpuExt::Psc(Psc {
                    pdu_type: 0,
                    qfi: 9,
                    rqi: false,
                    ppi: None,
                }))
            }),
        ),
    ];
    let ns = Some((&fib.ns, fib.n3_ifindex));
    let (mut runs, mut differ, mut common_layout) = (0, Vec::new(), 0);
    for (teid, outer6) in [0x100, 0x200, 0x300, 0x600, TEID_DIRECT | 5, 0x999]
        .into_iter()
        .flat_map(|t| [(t, false), (t, true)])
    {
        // An unknown TEID is answered with an Error Indication, at most 100 a second per CPU
        // (the other tests of this file send some too): two inner packets for it keep every
        // run under the limit.
        let n = if teid == 0x999 { 2 } else { inners.len() };
        for (iname, inner) in &inners[..n] {
            for (hname, edit) in &headers {
                let mut g = Gtpu::gpdu(teid, inner.clone());
                edit(&mut g);
                let outer = if outer6 {
                    IpPacket::v6(fixtures::GNB_V6, fixtures::UPF_V6, L4::gtpu(2152, &g))
                } else {
                    IpPacket::v4(fixtures::GNB_V4, fixtures::UPF_V4, L4::gtpu(2152, &g))
                };
                let f = Frame::new(outer).to_bytes();
                let head = if outer6 {
                    bpf_net::common_gpdu::HEAD_LEN6
                } else {
                    bpf_net::common_gpdu::HEAD_LEN
                };
                if matches!(*hname, "psc-9" | "psc-5" | "seq-psc" | "npdu-psc") && f.len() >= head {
                    common_layout += 1;
                }
                runs += 1;
                match run_both_in(ns, &dp, names::PROG_XDP_N3, names::PROG_XDP_N3_GENERAL, &f) {
                    Ok(general) => {
                        assert_eq!(general.reasons().len(), 1, "{teid:#x}/{iname}/{hname}")
                    }
                    Err(d) => {
                        differ.push(format!("{teid:#x}/{iname}/{hname}/outer6 {outer6}: {d}"))
                    }
                }
            }
        }
    }
    assert!(
        common_layout > 100,
        "{common_layout} frames of the common layout"
    );
    assert!(
        differ.is_empty(),
        "{} of {runs} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[test]
fn teids_fill_their_bucket_then_the_hash_map_and_reuse_freed_slots() {
    // A TEID table of one bucket (2 uplink keys: the hash map holds 2 as well): four TEIDs
    // fill the bucket's slots, two more overflow into the hash map, a seventh finds no room.
    // Every installed TEID is found; removal makes each unknown again; after a removal from
    // the bucket the seventh fits, in the freed slot (the hash map is still full); a TEID
    // that overflowed moves into the table when set again there.
    use bpf_abi::gtp::table_buckets;
    use upf_lb::southbound::MapSizes;
    require_root();
    let fib = FibNs::new();
    let sizes = MapSizes {
        ul_keys: 2,
        ..MapSizes::for_sessions(64)
    };
    assert_eq!(table_buckets(sizes.ul_keys), 1);
    let teids: Vec<u32> = (0..9).map(|i| 0x100 + 0x11 * i).collect();
    let mut dp = GtpDatapath::load_with(&sizes).expect("load bpf-gtp");
    let nh4: IpAddr = FibNs::NH4.into();
    let inner = udp_to(nh4, 53, 64);
    let spec = |i: usize| SessionSpec {
        session: i as u32 + 1,
        fars: vec![(1, build::far_forward())],
        urrs: vec![1],
        pdrs: vec![(Key::UlTeid(teids[i]), pdr(1, 1, 0, vec![], 1, None))],
        ..Default::default()
    };
    let forwarded = |name: String, teid| {
        fx(
            &name,
            &gpdu(teid, Some(9), &inner),
            xdp::REDIRECT,
            redirected(inner.clone()),
            Reason::UplinkRedirect,
        )
    };
    let unknown = |name: String, teid| {
        let f = gpdu(teid, Some(9), &inner);
        fx(
            &name,
            &f,
            xdp::TX,
            fixtures::error_indication_for(&f, teid).to_bytes(),
            Reason::GtpuErrorIndication,
        )
    };
    let ns = Some((&fib.ns, fib.n3_ifindex));
    let mut sessions: Vec<_> = (0..6)
        .map(|i| Some(dp.install(&spec(i)).expect("install")))
        .collect();
    let e = dp.install(&spec(6)).unwrap_err();
    assert!(e.to_string().contains("UL_TEID"), "{e}");
    let t: Vec<_> = (0..6)
        .map(|i| forwarded(format!("ul-teid-{i}"), teids[i]))
        .collect();
    run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N3, &t);
    // One from the bucket removed: unknown; the seventh takes its slot.
    dp.remove(sessions[1].take().unwrap());
    sessions.push(Some(
        dp.install(&spec(6)).expect("install into the freed slot"),
    ));
    let mut t = vec![unknown("ul-removed-from-bucket".into(), teids[1])];
    t.extend([0, 2, 3, 4, 5, 6].map(|i| forwarded(format!("ul-after-reuse-{i}"), teids[i])));
    run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N3, &t);
    // One from the hash map removed, then everything: every TEID unknown.
    dp.remove(sessions[5].take().unwrap());
    let mut t = vec![unknown("ul-removed-from-hash".into(), teids[5])];
    t.extend([0, 2, 3, 4, 6].map(|i| forwarded(format!("ul-still-{i}"), teids[i])));
    run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N3, &t);
    // A TEID of the hash map set again (a Modification) once its bucket has a free slot moves
    // into the table, and its copy leaves the hash map: two new TEIDs that overflow then fit
    // there (it holds 2), the eighth and ninth.
    dp.remove(sessions[0].take().unwrap());
    let moved = dp
        .replace(sessions[4].take().unwrap(), &spec(4))
        .map_err(|(_, e)| e)
        .expect("replace the overflowed session");
    sessions[4] = Some(moved);
    for i in [7, 8] {
        sessions.push(Some(
            dp.install(&spec(i))
                .expect("overflow into the emptied hash map"),
        ));
    }
    let mut t = vec![unknown("ul-removed-again".into(), teids[0])];
    t.extend([2, 3, 4, 6, 7, 8].map(|i| forwarded(format!("ul-after-move-{i}"), teids[i])));
    run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N3, &t);
    for s in sessions.into_iter().flatten() {
        dp.remove(s);
    }
    let t: Vec<_> = (0..9)
        .map(|i| unknown(format!("ul-all-removed-{i}"), teids[i]))
        .collect();
    run_xdp_fixtures_in(ns, &dp, names::PROG_XDP_N3, &t);
}

#[test]
fn a_neighbour_change_reaches_the_fast_path_within_the_next_hop_caches_lifetime() {
    // The next-hop cache (per CPU, NH_CACHE_TTL_JIFFIES) answers while it is fresh, so a
    // neighbour change is not seen at once; once the lifetime has passed (100 jiffies: at most
    // 1 s on any HZ) the FIB is asked again and every packet goes to the new MAC.
    use bpf_abi::gtp::NH_CACHE_TTL_JIFFIES;
    use std::time::{Duration, Instant};
    require_root();
    assert_eq!(
        NH_CACHE_TTL_JIFFIES, 100,
        "the bound below is for 100 jiffies"
    );
    let fib = FibNs::new();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let teid = 0x4242;
    dp.install(&SessionSpec {
        session: 1,
        fars: vec![(1, build::far_forward())],
        urrs: vec![1],
        pdrs: vec![(Key::UlTeid(teid), pdr(1, 1, 0, vec![], 1, None))],
        ..Default::default()
    })
    .expect("install");
    let inner = udp_to(FibNs::NH4.into(), 53, 64);
    let input = gpdu(teid, None, &inner).to_bytes();
    let prog = dp.xdp(names::PROG_XDP_N3).unwrap();
    let dmac = |out: &[u8]| -> [u8; 6] { out[..6].try_into().unwrap() };
    // The cache is per CPU: keep every run on one CPU.
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity on this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
    let (action, out) = fib.test_run(prog, &input).expect("run");
    assert_eq!((action, dmac(&out)), (xdp::REDIRECT, FibNs::NH_MAC));
    let new_mac = [0x02, 0, 0, 0, 0x0e, 0x01];
    fib.ns
        .ip(&[
            "neigh",
            "replace",
            &FibNs::NH4.to_string(),
            "lladdr",
            "02:00:00:00:0e:01",
            "dev",
            "n6",
            "nud",
            "permanent",
        ])
        .expect("neigh replace");
    let changed = Instant::now();
    // Right after the change the cached entry still answers (the cache is in use).
    let (_, out) = fib.test_run(prog, &input).expect("run");
    assert_eq!(
        dmac(&out),
        FibNs::NH_MAC,
        "the cached next hop right after the change"
    );
    // Polled every 5 ms, at most 3 s: the new MAC appears within 1 s (plus scheduling slack).
    let seen = loop {
        let (action, out) = fib.test_run(prog, &input).expect("run");
        assert_eq!(action, xdp::REDIRECT);
        if dmac(&out) == new_mac {
            break changed.elapsed();
        }
        assert!(
            changed.elapsed() < Duration::from_secs(3),
            "old MAC still used after 3 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        seen <= Duration::from_millis(1100),
        "new MAC after {seen:?}"
    );
    // And it stays: the cache was refilled from the FIB.
    for _ in 0..50 {
        let (_, out) = fib.test_run(prog, &input).expect("run");
        assert_eq!(dmac(&out), new_mac);
    }
    eprintln!("neighbour change seen by the fast path after {seen:?}");
}
