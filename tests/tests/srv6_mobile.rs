//! Tier 2: RFC 9433 interworking through our own two ends: a GTP-U G-PDU over IPv4 (TEID,
//! QFI 9 in its PDU Session Container) through H.M.GTP4.D (`xdp_headend`) becomes its T-PDU in
//! SRv6, the IPv4 DA, QFI and TEID in the arguments of the SID, the IPv4 SA in the IPv6 SA;
//! through End.M.GTP4.E (`xdp_srv6`) it becomes GTP-U over IPv4 again with the same addresses,
//! TEID, QFI and T-PDU, decoded by tshark.

use bpf_abi::{
    Reason,
    srv6::{PROG_XDP_HEADEND, PROG_XDP_SRV6},
};
use std::net::{Ipv4Addr, Ipv6Addr};
use upf_lb::southbound::{Srv6Datapath, srv6::Behaviour};
use upf_lb_packet::{Frame, Gtpu, GtpuExt, IpPacket, L4, Psc};
use upf_lb_testkit::{
    fixtures::{UE_V4, udp, xdp},
    testbed::FibNs,
};
use upf_lb_tests::{require_root, tshark_fields};

const GNB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The SRGW's SID prefix B (6 bytes: locator and function), its source prefix (8 bytes).
const B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xee, 0, 0, 0, 0, 0);
const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 0);

fn run(fib: &FibNs, dp: &Srv6Datapath, prog: &'static str, input: &[u8]) -> (u32, Vec<u8>, Reason) {
    use aya::programs::{TestRun, TestRunOptions};
    let before = dp.counters().unwrap();
    let mut out = vec![0u8; input.len() + 256];
    let ctx = upf_lb::southbound::test_run::xdp_md(input.len(), fib.n3_ifindex);
    let p = dp.xdp(prog).unwrap();
    let r = fib
        .ns
        .run(|| {
            p.test_run(TestRunOptions {
                data_in: Some(input),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx[..]),
                ..TestRunOptions::new()
            })
        })
        .unwrap();
    out.truncate(r.data_size_out as usize);
    let after = dp.counters().unwrap();
    let reason = after
        .iter()
        .zip(&before)
        .find(|((_, a), (_, b))| a.packets == b.packets + 1)
        .map(|((r, _), _)| *r)
        .expect("an outcome");
    (r.return_value, out, reason)
}

#[test]
fn gtpu_to_srv6_and_back_keeps_teid_qfi_and_payload() {
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(8).expect("load bpf-srv6");
    dp.add_gtp4d_policy(FibNs::NH4, 32, SRC, 8, &[B], 6)
        .unwrap();
    dp.add_sid(
        B,
        48,
        Behaviour::EndMGtp4E {
            args_at: 6,
            src_at: 8,
        },
    )
    .unwrap();
    let tpdu = udp(UE_V4.into(), [198, 51, 100, 7].into(), 5000, 7000).to_bytes();
    let mut g = Gtpu::gpdu(0x1234_5678, tpdu.clone());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let gtp = Frame::new(IpPacket::v4(GNB, FibNs::NH4, L4::gtpu(2152, &g))).to_bytes();

    // H.M.GTP4.D.
    let (action, srv6, reason) = run(&fib, &dp, PROG_XDP_HEADEND, &gtp);
    // Nothing routes B in the namespace: built, then the kernel's.
    assert_eq!((action, reason), (xdp::PASS, Reason::Srv6ToKernel));
    let ip6 = &srv6[14..];
    assert_eq!(ip6[0] >> 4, 6);
    assert_eq!(ip6[6], 4, "the T-PDU (IPv4) right after the IPv6 header");
    let mut want_src = SRC.octets();
    want_src[8..12].copy_from_slice(&GNB.octets());
    assert_eq!(
        &ip6[8..24],
        &want_src,
        "IPv6 SA: the prefix and the IPv4 SA"
    );
    let mut want_dst = B.octets();
    want_dst[6..10].copy_from_slice(&FibNs::NH4.octets());
    want_dst[10] = 9 << 2;
    want_dst[11..15].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    assert_eq!(&ip6[24..40], &want_dst, "B: IPv4 DA, QFI/R/U, TEID");
    assert_eq!(&ip6[40..], &tpdu[..], "the T-PDU as it was");

    // End.M.GTP4.E.
    let (action, back, reason) = run(&fib, &dp, PROG_XDP_SRV6, &srv6);
    assert_eq!(
        (action, reason),
        (xdp::REDIRECT, Reason::Srv6MGtp4ERedirect)
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-mobile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("back.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&back]).unwrap();
    let f = &tshark_fields(
        &pcap,
        &[
            "ip.src",
            "ip.dst",
            "udp.dstport",
            "gtp.teid",
            "gtp.ext_hdr.pdu_ses_con.qos_flow_id",
            "gtp.ext_hdr.pdu_ses_con.pdu_type",
            "ip.checksum.status",
        ],
        &["ip.check_checksum:TRUE"],
    )[0];
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(f[0], GNB.to_string());
    assert_eq!(f[1], FibNs::NH4.to_string());
    assert_eq!(f[2], "2152");
    assert_eq!(f[3], "0x12345678");
    assert_eq!(f[4], "9");
    assert_eq!(f[5], "0", "a DL PDU Session Container");
    assert_eq!(f[6], "1", "a good IPv4 header checksum (tshark: 1 = good)");
    let n = back.len();
    assert_eq!(&back[n - tpdu.len()..], &tpdu[..], "the T-PDU as it was");
    assert_eq!(&back[..6], &FibNs::NH_MAC);
}

/// End.M.GTP6.E (RFC 9433 6.5): an SRv6 packet whose penultimate SID is End.M.GTP6.E (QFI 9,
/// TEID in its arguments) and whose last segment is the GTP-U peer leaves as GTP-U over IPv6
/// from the SRGW's address to the peer, with a DL PDU Session Container, its UDP checksum
/// right: byte for byte against the packet builder, and decoded by tshark. Segments Left other
/// than 1, no SRH, and a non-IP upper layer are answered with the RFC's ICMPv6 errors.
#[test]
fn end_m_gtp6_e_rebuilds_gtpu_over_ipv6() {
    use upf_lb_packet::Ipv6Ext;
    use upf_lb_testkit::fixtures::Fixture;
    use upf_lb_tests::run_xdp_fixtures_in;
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(8).expect("load bpf-srv6");
    let srgw: Ipv6Addr = "2001:db8:0:3::5".parse().unwrap();
    let e6 = Ipv6Addr::new(0x2001, 0xdb8, 0xef, 0, 0, 0, 0, 0);
    dp.add_sid(
        e6,
        64,
        Behaviour::EndMGtp6E {
            args_at: 8,
            source: srgw,
        },
    )
    .unwrap();
    let mut sid = e6.octets();
    sid[8] = 9 << 2; // QFI 9, R 0, U 0
    sid[9..13].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    let sid = Ipv6Addr::from(sid);
    let tpdu = udp(UE_V4.into(), [198, 51, 100, 7].into(), 5000, 7000);
    let srv6 = |sl: u8, segments: Vec<Ipv6Addr>, l4: L4| {
        let mut p = IpPacket::v6("2001:db8:0:3::1".parse().unwrap(), sid, l4);
        if let upf_lb_packet::Ip::V6(h) = &mut p.ip
            && !segments.is_empty()
        {
            h.ext = vec![Ipv6Ext::Srh {
                segments_left: sl,
                segments,
                tlvs: vec![],
            }];
        }
        p
    };
    let inner = L4::Raw {
        proto: 4,
        bytes: tpdu.to_bytes(),
    };
    let mut g = Gtpu::gpdu(0x1234_5678, tpdu.to_bytes());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 0,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let out = IpPacket::v6(srgw, FibNs::NH6, L4::gtpu(2152, &g));
    let input = srv6(1, vec![FibNs::NH6, sid], inner.clone());
    let t = vec![Fixture::of(
        "end-m-gtp6-e",
        &input,
        xdp::REDIRECT,
        // A header of the SRGW's own: Hop Limit 64, as End.M.GTP4.E's TTL.
        Frame {
            dst: FibNs::NH_MAC,
            src: FibNs::N6_MAC,
            vlans: vec![],
            ip: out,
        }
        .to_bytes(),
        Reason::Srv6MGtp6ERedirect,
    )];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_SRV6, &t);
    // The RFC's errors (from the SID, back to the sender).
    for (name, p, reason) in [
        (
            "segments-left-0",
            srv6(0, vec![FibNs::NH6, sid], inner.clone()),
            Reason::Srv6IcmpParamProblemSl,
        ),
        (
            "segments-left-2",
            srv6(2, vec![FibNs::NH6, FibNs::NH6, sid], inner.clone()),
            Reason::Srv6IcmpParamProblemSl,
        ),
        (
            "no-srh",
            srv6(0, vec![], inner.clone()),
            Reason::Srv6IcmpParamProblemUpperLayer,
        ),
        (
            "udp-upper-layer",
            srv6(1, vec![FibNs::NH6, sid], tpdu.l4.clone()),
            Reason::Srv6IcmpParamProblemUpperLayer,
        ),
    ] {
        let (action, _, r) = run(&fib, &dp, PROG_XDP_SRV6, &Frame::new(p).to_bytes());
        assert_eq!((action, r), (xdp::TX, reason), "{name}");
    }
    let dir = std::env::temp_dir().join(format!("upf-lb-gtp6e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("gtp6e.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&t[0].output]).unwrap();
    let f = &tshark_fields(
        &pcap,
        &[
            "ipv6.src",
            "ipv6.dst",
            "gtp.teid",
            "gtp.ext_hdr.pdu_ses_con.qos_flow_id",
            "udp.checksum.status",
        ],
        &["udp.check_checksum:TRUE"],
    )[0];
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        f[..],
        [
            srgw.to_string(),
            FibNs::NH6.to_string(),
            "0x12345678".into(),
            "9".into(),
            "1".into()
        ]
    );
}

/// End.M.GTP6.D (RFC 9433 6.3): a GTP-U G-PDU over IPv6 to the SID (QFI 9 in its UL PDU
/// Session Container) becomes its T-PDU in SRv6 from the SRGW's address A along the SID's
/// policy <S2, S3>, the QFI and TEID in S3's arguments (Args.Mob.Session), Next Header IPv4;
/// routed to S2. Echo Requests and other UDP are the kernel's; other upper layers are
/// answered as RFC 8986 4.1.1 says.
#[test]
fn end_m_gtp6_d_turns_gtpu_over_ipv6_into_srv6() {
    use upf_lb::southbound::srv6::EncapPolicy;
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(8).expect("load bpf-srv6");
    let a: Ipv6Addr = "2001:db8:0:3::5".parse().unwrap();
    let d_sid = Ipv6Addr::new(0x2001, 0xdb8, 0xed, 0, 0, 0, 0, 0);
    let s3 = Ipv6Addr::new(0x2001, 0xdb8, 0xee, 1, 0, 0, 0, 0);
    let gnb6: Ipv6Addr = "2001:db8:0:3::1".parse().unwrap();
    let upf = Ipv6Addr::new(0x2001, 0xdb8, 0xed, 0, 0, 0, 0, 1);
    let policy = EncapPolicy {
        src: a,
        segments: vec![FibNs::NH6, s3],
        reduced: false,
    };
    dp.add_sid_gtp6d(d_sid, 48, &policy, 8).unwrap();
    assert!(
        dp.add_sid_gtp6d(d_sid, 48, &policy, 12)
            .unwrap_err()
            .to_string()
            .contains("segments"),
        "arguments beyond the SID are refused"
    );
    let tpdu = udp(UE_V4.into(), [198, 51, 100, 7].into(), 5000, 7000).to_bytes();
    let mut g = Gtpu::gpdu(0x1234_5678, tpdu.clone());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let gtp = Frame::new(IpPacket::v6(gnb6, upf, L4::gtpu(2152, &g))).to_bytes();
    let (action, out, reason) = run(&fib, &dp, PROG_XDP_SRV6, &gtp);
    assert_eq!(
        (action, reason),
        (xdp::REDIRECT, Reason::Srv6MGtp6DRedirect)
    );
    assert_eq!(&out[..6], &FibNs::NH_MAC);
    let ip6 = &out[14..];
    assert_eq!(&ip6[8..24], &a.octets(), "S05: the SA is A");
    assert_eq!(&ip6[24..40], &FibNs::NH6.octets(), "S06: the DA is S2");
    assert_eq!(
        (ip6[6], ip6[7]),
        (43, 63),
        "an SRH; Hop Limit 64, forwarded"
    );
    let srh = &ip6[40..];
    assert_eq!(
        (srh[0], srh[1], srh[2], srh[3], srh[4]),
        (4, 4, 4, 1, 1),
        "S07: Next Header IPv4; two segments; Segments Left 1"
    );
    let mut s3_args = s3.octets();
    s3_args[8] = 9 << 2;
    s3_args[9..13].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    assert_eq!(&srh[8..24], &s3_args, "S08: QFI and TEID in S3's arguments");
    assert_eq!(&srh[24..40], &FibNs::NH6.octets(), "S2");
    assert_eq!(&srh[40..], &tpdu[..], "the T-PDU as it was");
    let dir = std::env::temp_dir().join(format!("upf-lb-gtp6d-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("gtp6d.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&out]).unwrap();
    let f = &tshark_fields(
        &pcap,
        &["ipv6.routing.segleft", "ipv6.routing.srh.addr", "ip.dst"],
        &[],
    )[0];
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(f[0], "1");
    assert_eq!(f[1].parse::<Ipv6Addr>().unwrap(), Ipv6Addr::from(s3_args));
    assert_eq!(f[2], "198.51.100.7");

    // Not a G-PDU, not GTP-U: the kernel's; not UDP: Parameter Problem from the SID.
    let echo = Frame::new(IpPacket::v6(
        gnb6,
        upf,
        L4::gtpu(2152, &Gtpu::echo_request(7)),
    ))
    .to_bytes();
    let (action, _, reason) = run(&fib, &dp, PROG_XDP_SRV6, &echo);
    assert_eq!((action, reason), (xdp::PASS, Reason::Srv6Gtp6DNotGpdu));
    let other = Frame::new(udp(gnb6.into(), upf.into(), 2152, 53)).to_bytes();
    let (action, _, reason) = run(&fib, &dp, PROG_XDP_SRV6, &other);
    assert_eq!((action, reason), (xdp::PASS, Reason::Srv6Gtp6DNotGpdu));
    let tcp = Frame::new(IpPacket::v6(
        gnb6,
        upf,
        L4::Tcp {
            src: 1,
            dst: 2,
            flags: 2,
            payload: vec![],
        },
    ))
    .to_bytes();
    let (action, _, reason) = run(&fib, &dp, PROG_XDP_SRV6, &tcp);
    assert_eq!(
        (action, reason),
        (xdp::TX, Reason::Srv6IcmpParamProblemUpperLayer)
    );
}

/// N9 over SRv6: an uplink session relayed over N9 (a FAR with GTP-U/IPv4 Outer Header
/// Creation to the next UPF) whose FAR is marked `FAR_SRV6` leaves bpf-gtp's `xdp_n3` through
/// bpf-srv6's H.M.GTP4.D (a tail call across the two objects): SRv6 by the policy for the
/// peer, the peer's IPv4 address, the QER's QFI and the peer's TEID in the last segment's
/// arguments, the UPF's N9 address in the IPv6 SA; the T-PDU as it was (the relay is no IP
/// hop for it). The SMF's rules are plain GTP-U; the transport is SRv6.
#[test]
fn n9_far_realised_as_srv6_through_h_m_gtp4_d() {
    use bpf_abi::names::PROG_XDP_N3;
    use upf_lb::southbound::Key;
    use upf_lb_testkit::fixtures::{GNB_V4, UPF_V4};
    require_root();
    // The session's uplink PDR removes the GTP-U/UDP/IPv4 header (Outer Header Removal 0,
    // TS 29.244 8.2.64); its FAR relays over N9 with the QER's QFI 7.
    let (fib, gtp, srv6) = n9_bed(5, Key::UlTeid(0x600), Some(0), 0x7777, 7);
    let tpdu = udp(UE_V4.into(), [198, 51, 100, 7].into(), 5000, 7000).to_bytes();
    let mut g = Gtpu::gpdu(0x600, tpdu.clone());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let input = Frame::new(IpPacket::v4(GNB_V4, UPF_V4, L4::gtpu(2152, &g))).to_bytes();
    let before = srv6.counters().unwrap();
    let (action, out) = fib.test_run(gtp.xdp(PROG_XDP_N3).unwrap(), &input).unwrap();
    let after = srv6.counters().unwrap();
    assert_eq!(action, xdp::REDIRECT);
    let n = gtp4d_redirects;
    assert_eq!(
        n(&after),
        n(&before) + 1,
        "counted by bpf-srv6's H.M.GTP4.D"
    );
    let ip6 = &out[14..];
    let mut want_src = SRC.octets();
    want_src[8..12].copy_from_slice(&UPF_V4.octets());
    assert_eq!(
        &ip6[8..24],
        &want_src,
        "the UPF's N9 address in the IPv6 SA"
    );
    assert_eq!(&ip6[24..40], &FibNs::NH6.octets(), "to the first segment");
    let mut want_b = B.octets();
    want_b[6..10].copy_from_slice(&FibNs::NH4.octets());
    want_b[10] = 7 << 2;
    want_b[11..15].copy_from_slice(&0x7777u32.to_be_bytes());
    assert_eq!(
        &ip6[40 + 8..40 + 24],
        &want_b,
        "the peer, the QER's QFI and the peer's TEID in B's arguments"
    );
    assert_eq!(&ip6[40 + 24..], &tpdu[..], "the T-PDU as it was");
}

/// End.M.GTP6.D.Di (RFC 9433 6.4, drop-in mode) then End.M.GTP6.E (6.5): a G-PDU over IPv6
/// to the UPF's address D crosses SRv6 and comes out as GTP-U over IPv6 to D again, with the
/// same TEID, QFI and T-PDU. In between: D as the last segment, Args.Mob.Session in the End.M.GTP6.E
/// SID before it, Segments Left 1.
#[test]
fn end_m_gtp6_d_di_and_end_m_gtp6_e_round_trip() {
    use upf_lb::southbound::srv6::EncapPolicy;
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(8).expect("load bpf-srv6");
    let a: Ipv6Addr = "2001:db8:0:3::5".parse().unwrap();
    let a2: Ipv6Addr = "2001:db8:0:4::5".parse().unwrap();
    let d_prefix = Ipv6Addr::new(0x2001, 0xdb8, 0xed, 0, 0, 0, 0, 0);
    let e_sid = Ipv6Addr::new(0x2001, 0xdb8, 0xef, 0, 0, 0, 0, 0);
    let gnb6: Ipv6Addr = "2001:db8:0:3::1".parse().unwrap();
    let upf = Ipv6Addr::new(0x2001, 0xdb8, 0xed, 0, 0, 0, 0, 1);
    dp.add_sid_gtp6d_di(
        d_prefix,
        48,
        &EncapPolicy {
            src: a,
            segments: vec![e_sid],
            reduced: false,
        },
        8,
    )
    .unwrap();
    dp.add_sid(
        e_sid,
        64,
        Behaviour::EndMGtp6E {
            args_at: 8,
            source: a2,
        },
    )
    .unwrap();
    let tpdu = udp(UE_V4.into(), [198, 51, 100, 7].into(), 5000, 7000).to_bytes();
    let mut g = Gtpu::gpdu(0x1234_5678, tpdu.clone());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let gtp = Frame::new(IpPacket::v6(gnb6, upf, L4::gtpu(2152, &g))).to_bytes();
    // End.M.GTP6.D.Di (nothing routes the SID in the namespace: built, then the kernel's).
    let (action, srv6, reason) = run(&fib, &dp, PROG_XDP_SRV6, &gtp);
    assert_eq!((action, reason), (xdp::PASS, Reason::Srv6ToKernel));
    let ip6 = &srv6[14..];
    let mut s1 = e_sid.octets();
    s1[8] = 9 << 2;
    s1[9..13].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    assert_eq!(&ip6[8..24], &a.octets(), "from A");
    assert_eq!(
        &ip6[24..40],
        &s1,
        "to the End.M.GTP6.E SID with the arguments"
    );
    let srh = &ip6[40..];
    assert_eq!(
        (srh[0], srh[3], srh[4]),
        (4, 1, 1),
        "IPv4 T-PDU, Segments Left 1"
    );
    assert_eq!(
        &srh[8..24],
        &upf.octets(),
        "D, the original destination, last"
    );
    assert_eq!(&srh[24..40], &s1);
    // End.M.GTP6.E: GTP-U over IPv6 to D again.
    let (_, back, reason) = run(&fib, &dp, PROG_XDP_SRV6, &srv6);
    assert_eq!(
        reason,
        Reason::Srv6ToKernel,
        "D is not routed here: built, then the kernel's"
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-gtp6di-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("back.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&back]).unwrap();
    let f = &tshark_fields(
        &pcap,
        &[
            "ipv6.src",
            "ipv6.dst",
            "gtp.teid",
            "gtp.ext_hdr.pdu_ses_con.qos_flow_id",
            "udp.checksum.status",
        ],
        &["udp.check_checksum:TRUE"],
    )[0];
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        f[..],
        [
            a2.to_string(),
            upf.to_string(),
            "0x12345678".into(),
            "9".into(),
            "1".into()
        ]
    );
    let n = back.len();
    assert_eq!(&back[n - tpdu.len()..], &tpdu[..], "the T-PDU as it was");
    // And by scapy, an independent decoder: the SRH, then the GTP-U with its container.
    let dir = std::env::temp_dir().join(format!("upf-lb-gtp6di-s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (f1, f2) = (dir.join("srv6.bin"), dir.join("gtp.bin"));
    std::fs::write(&f1, &srv6).unwrap();
    std::fs::write(&f2, &back).unwrap();
    let recs = upf_lb_tests::python_records(SCAPY_DECODE, &[&f1, &f2]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["segleft"], "1");
    assert_eq!(
        recs[0]["addresses"],
        format!("{upf},{}", Ipv6Addr::from(s1)),
        "{recs:?}"
    );
    assert_eq!(recs[0]["inner"], "198.51.100.7");
    assert_eq!(recs[1]["dst"], upf.to_string());
    assert_eq!(recs[1]["teid"], 0x1234_5678u32.to_string());
    assert_eq!(recs[1]["qfi"], "9");
    assert_eq!(recs[1]["inner"], "198.51.100.7");
}

/// scapy's reading of an SRv6 frame (argv 1) and a GTP-U/IPv6 frame (argv 2).
const SCAPY_DECODE: &str = r#"
import sys
from scapy.all import Ether, IP, IPv6, IPv6ExtHdrSegmentRouting
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
s = Ether(open(sys.argv[1], "rb").read())
h = s[IPv6ExtHdrSegmentRouting]
print("segleft=%d" % h.segleft)
print("addresses=%s" % ",".join(h.addresses))
print("inner=%s" % s[IP].dst)
print("--")
b = Ether(open(sys.argv[2], "rb").read())
print("dst=%s" % b[IPv6].dst)
print("teid=%d" % b[GTP_U_Header].teid)
print("qfi=%d" % b[GTPPDUSessionContainer].QFI)
print("inner=%s" % b[IP].dst)
"#;

/// Downlink N9 over SRv6: a session's downlink FAR to the next UPF (GTP-U/IPv4, marked
/// `FAR_SRV6`) takes a packet from the data network through `xdp_n6`, its GTP-U
/// encapsulation (DL PDU Session Container of the QER's QFI), then bpf-srv6's H.M.GTP4.D: SRv6
/// with the peer's address, the QFI and the TEID in the last segment's arguments.
#[test]
fn downlink_n9_far_realised_as_srv6() {
    use bpf_abi::names::PROG_XDP_N6;
    use upf_lb::southbound::Key;
    require_root();
    let (fib, gtp, srv6) = n9_bed(6, Key::DlUe4(UE_V4), None, 0x8888, 5);
    let pkt = udp([198, 51, 100, 7].into(), UE_V4.into(), 7000, 5000);
    let input = Frame::new(pkt.clone()).to_bytes();
    let before = srv6.counters().unwrap();
    let (action, out) = fib.test_run(gtp.xdp(PROG_XDP_N6).unwrap(), &input).unwrap();
    let after = srv6.counters().unwrap();
    assert_eq!(action, xdp::REDIRECT);
    let n = gtp4d_redirects;
    assert_eq!(n(&after), n(&before) + 1);
    let ip6 = &out[14..];
    assert_eq!(&ip6[24..40], &FibNs::NH6.octets());
    let mut want_b = B.octets();
    want_b[6..10].copy_from_slice(&FibNs::NH4.octets());
    want_b[10] = 5 << 2;
    want_b[11..15].copy_from_slice(&0x8888u32.to_be_bytes());
    assert_eq!(&ip6[40 + 8..40 + 24], &want_b, "peer, QFI 5, TEID in B");
    // The T-PDU: the data network's packet, one hop on (TTL one less).
    let t = &ip6[40 + 24..];
    let mut hop = pkt;
    if let upf_lb_packet::Ip::V4(h) = &mut hop.ip {
        h.ttl -= 1;
    }
    assert_eq!(t, &hop.to_bytes()[..]);
}

/// A FIB namespace, bpf-gtp linked to bpf-srv6's H.M.GTP4.D, bpf-srv6 with the policy for the
/// next UPF (FibNs::NH4: H.M.GTP4.D.Red over NH6 to B), and one session (`session`, its PDR
/// keyed `key` with Outer Header Removal `ohr`) whose FAR goes to that UPF with `teid`,
/// marked `FAR_SRV6`, its QER marking `qfi`.
fn n9_bed(
    session: u32,
    key: upf_lb::southbound::Key,
    ohr: Option<u8>,
    teid: u32,
    qfi: u8,
) -> (FibNs, upf_lb::southbound::GtpDatapath, Srv6Datapath) {
    use bpf_abi::{
        gtp::{FAR_SRV6, Qer},
        srv6::PROG_XDP_HEADEND_GTP4,
    };
    use upf_lb::southbound::{GtpDatapath, PdrSpec, SessionSpec, gtp::build};
    use upf_lb_testkit::fixtures::UPF_V4;
    let fib = FibNs::new();
    let mut gtp = GtpDatapath::load().expect("load bpf-gtp");
    let mut srv6 = Srv6Datapath::load(8).expect("load bpf-srv6");
    srv6.add_gtp4d_policy(FibNs::NH4, 32, SRC, 8, &[FibNs::NH6, B], 6)
        .unwrap();
    gtp.link_srv6(srv6.xdp(PROG_XDP_HEADEND_GTP4).unwrap())
        .unwrap();
    let mut far = build::far_gtpu_v4(teid, UPF_V4, FibNs::NH4);
    far.flags |= FAR_SRV6;
    gtp.install(&SessionSpec {
        session,
        fars: vec![(1, far)],
        qers: vec![(
            1,
            Qer {
                qfi,
                ..build::qer_open()
            },
        )],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![(
            key,
            PdrSpec {
                pdr_id: 1,
                precedence: 1,
                qfi: 0,
                ohr,
                sdfs: vec![],
                far_id: 1,
                qer_id: Some(1),
                urr_ids: vec![1],
            },
        )],
    })
    .expect("install the session");
    (fib, gtp, srv6)
}

/// bpf-srv6's H.M.GTP4.D redirects in `c` (its counters).
fn gtp4d_redirects(c: &[(Reason, bpf_abi::Counter)]) -> u64 {
    c.iter()
        .find(|(r, _)| *r == Reason::Srv6HMGtp4DRedirect)
        .unwrap()
        .1
        .packets
}
