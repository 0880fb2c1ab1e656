//! Tier 2: the N3 program's fixture table through BPF_PROG_TEST_RUN — Echo Requests answered,
//! malformed GTP-U and IP dropped with the reason that names them, everything else passed.

use bpf_abi::{Reason, names};
use std::net::Ipv4Addr;
use upf_lb::southbound::GtpDatapath;
use upf_lb_packet::{Frame, Gtpu, GtpuExt, Ip, IpPacket, Ipv6Ext, L4};
use upf_lb_testkit::fixtures::{
    self, Fixture, echo_fixture, echo_request_v4, echo_request_v6, xdp,
};
use upf_lb_tests::{require_root, run_xdp_fixtures};

fn load() -> GtpDatapath {
    require_root();
    GtpDatapath::load().expect("load bpf-gtp (kernel verifier)")
}

/// A frame from the gNB to the UPF carrying `g` over IPv4.
fn gtpu_v4(g: &Gtpu) -> Frame {
    Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::gtpu(2152, g),
    ))
}

/// Recomputes the IPv4 header checksum of a frame at `l3` after a patch.
fn fix_ipv4_checksum(f: &mut [u8], l3: usize) {
    let hl = usize::from(f[l3] & 0x0f) * 4;
    f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
    let c = upf_lb_packet::inet_checksum(&[&f[l3..l3 + hl]]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn echo_requests_are_answered_in_place() {
    let dp = load();
    let mut table = vec![
        echo_fixture("echo-ipv4", &echo_request_v4(0x1234)),
        echo_fixture("echo-ipv6", &echo_request_v6(0xfffe)),
        echo_fixture("echo-ipv4-vlan", &echo_request_v4(7).vlan(0x8100, 100)),
        echo_fixture(
            "echo-ipv6-qinq",
            &echo_request_v6(8).vlan(0x88a8, 10).vlan(0x8100, 20),
        ),
    ];

    // IPv4 options and DSCP EF with ECN: the reply has IHL 5, DSCP kept, ECN cleared.
    let mut f = echo_request_v4(9);
    if let Ip::V4(h) = &mut f.ip.ip {
        h.options = vec![0x94, 4, 0, 0]; // Router Alert
        h.tos = 0xb9;
        h.id = 0x4242;
        h.ttl = 3;
    }
    table.push(echo_fixture("echo-ipv4-options-dscp", &f));

    // IPv6 with Hop-by-Hop and Destination Options, Traffic Class and Flow Label.
    let mut f = echo_request_v6(10);
    if let Ip::V6(h) = &mut f.ip.ip {
        h.ext = vec![
            Ipv6Ext::HopByHop(vec![]),
            Ipv6Ext::DestOpts(vec![1, 2, 0, 0]),
        ];
        h.traffic_class = 0xb9;
        h.flow_label = 0xabcde;
    }
    table.push(echo_fixture("echo-ipv6-ext-headers", &f));

    // A Private Extension IE after the header (TS 29.281 8.6) is not echoed.
    let mut g = Gtpu::echo_request(11);
    g.payload = vec![255, 0, 4, 0x00, 0x0a, 0xbe, 0xef];
    table.push(echo_fixture("echo-private-extension", &gtpu_v4(&g)));

    // N-PDU Number and a UDP Port extension header (TS 29.281 5.2.2.1).
    let mut g = Gtpu::echo_request(12);
    g.npdu = Some(0x55);
    g.ext.push(GtpuExt::Raw {
        ty: 0x40,
        content: vec![0x9c, 0x40],
    });
    table.push(echo_fixture("echo-with-npdu-and-ext-header", &gtpu_v4(&g)));

    // From an ephemeral source port: the reply goes back to it (TS 29.281 4.4.2.2).
    let f = Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::gtpu(40000, &Gtpu::echo_request(13)),
    ));
    table.push(echo_fixture("echo-from-ephemeral-port", &f));

    // A minimum-size Ethernet frame (54 bytes padded to 60): the reply is exactly 56 bytes.
    let req = echo_request_v4(14);
    let mut fx = echo_fixture("echo-ethernet-padding", &req);
    fx.input.resize(60, 0);
    table.push(fx);

    run_xdp_fixtures(&dp, names::PROG_XDP_N3, &table);
}

#[test]
fn malformed_gtpu_and_ip_are_dropped_with_their_reason() {
    let dp = load();
    let mut t = Vec::new();
    let drop = |name: &str, f: Vec<u8>, r: Reason| {
        assert_eq!(r.verdict(), bpf_abi::Verdict::Drop);
        Fixture::unchanged(name, f, r)
    };

    // GTP-U: 6 bytes of UDP payload.
    let f = Frame::new(IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::Udp {
            src: 2152,
            dst: 2152,
            payload: vec![0x32, 1, 0, 4, 0, 0],
        },
    ));
    t.push(drop("gtpu-truncated", f.to_bytes(), Reason::GtpuTruncated));

    // Version 2 and version 0.
    for (name, flags) in [("gtpu-version-2", 0x52), ("gtpu-version-0", 0x12)] {
        let mut g = Gtpu::echo_request(1);
        g.flags = flags;
        g.raw_flags = true;
        t.push(drop(name, gtpu_v4(&g).to_bytes(), Reason::GtpuBadVersion));
    }

    // Protocol Type 0 (GTP').
    let mut g = Gtpu::echo_request(1);
    g.flags = 0x22;
    g.raw_flags = true;
    t.push(drop(
        "gtpu-pt-0",
        gtpu_v4(&g).to_bytes(),
        Reason::GtpuNotGtp,
    ));

    // Length field beyond the UDP payload.
    let mut g = Gtpu::echo_request(1);
    g.length = Some(40);
    t.push(drop(
        "gtpu-length-beyond-udp",
        gtpu_v4(&g).to_bytes(),
        Reason::GtpuBadLength,
    ));

    // S set but Length 0: no room for the optional fields.
    let mut g = Gtpu::echo_request(1);
    g.length = Some(0);
    let mut b = gtpu_v4(&g).to_bytes();
    b.truncate(b.len() - 4);
    let l = b.len();
    b[38..40].copy_from_slice(&((l - 34) as u16).to_be_bytes()); // UDP length
    b[16..18].copy_from_slice(&((l - 14) as u16).to_be_bytes()); // IPv4 total length
    fix_ipv4_checksum(&mut b, 14);
    t.push(drop(
        "gtpu-length-below-optional-fields",
        b,
        Reason::GtpuBadLength,
    ));

    // Extension header with Length 0.
    let mut g = Gtpu::echo_request(1);
    g.ext.push(GtpuExt::Raw {
        ty: 0x40,
        content: vec![0x9c, 0x40],
    });
    let mut b = gtpu_v4(&g).to_bytes();
    b[42 + 12] = 0;
    t.push(drop("gtpu-ext-length-0", b, Reason::GtpuExtBadLength));

    // Extension header running past the message: Length 3 (12 bytes) in a 4-byte header.
    let mut b = gtpu_v4(&g).to_bytes();
    b[42 + 12] = 3;
    t.push(drop("gtpu-ext-past-message", b, Reason::GtpuExtTruncated));

    // Unknown extension header, comprehension required (type 0xbf).
    let mut g2 = Gtpu::gpdu(1, vec![0x45; 20]);
    g2.ext.push(GtpuExt::Raw {
        ty: 0xbf,
        content: vec![0, 0],
    });
    t.push(drop(
        "gtpu-ext-unknown-required",
        gtpu_v4(&g2).to_bytes(),
        Reason::GtpuExtUnknownRequired,
    ));

    // Nine extension headers.
    let mut g3 = Gtpu::gpdu(1, vec![0x45; 20]);
    for _ in 0..9 {
        g3.ext.push(GtpuExt::Raw {
            ty: 0x20,
            content: vec![0, 0],
        });
    }
    t.push(drop(
        "gtpu-ext-too-many",
        gtpu_v4(&g3).to_bytes(),
        Reason::GtpuExtTooMany,
    ));

    // PDU Session Container with PDU Type 2.
    let mut g4 = Gtpu::gpdu(1, vec![0x45; 20]);
    g4.ext.push(GtpuExt::Raw {
        ty: 0x85,
        content: vec![0x20, 0x01],
    });
    t.push(drop(
        "gtpu-psc-pdu-type-2",
        gtpu_v4(&g4).to_bytes(),
        Reason::GtpuPscBadPduType,
    ));

    // Echo Request without a sequence number, and with a TEID.
    let mut g = Gtpu::echo_request(1);
    g.seq = None;
    t.push(drop(
        "echo-without-sequence",
        gtpu_v4(&g).to_bytes(),
        Reason::GtpuEchoNoSequence,
    ));
    let mut g = Gtpu::echo_request(1);
    g.teid = 0x1234;
    t.push(drop(
        "echo-with-teid",
        gtpu_v4(&g).to_bytes(),
        Reason::GtpuEchoBadTeid,
    ));

    // IPv4: bad header checksum, Total Length beyond the frame, IHL 4.
    let mut b = echo_request_v4(1).to_bytes();
    b[14 + 10] ^= 0xff;
    t.push(drop("ipv4-bad-checksum", b, Reason::Ipv4BadChecksum));
    let mut b = echo_request_v4(1).to_bytes();
    b[16..18].copy_from_slice(&200u16.to_be_bytes());
    fix_ipv4_checksum(&mut b, 14);
    t.push(drop(
        "ipv4-total-length-beyond-frame",
        b,
        Reason::Ipv4BadTotalLength,
    ));
    let mut b = echo_request_v4(1).to_bytes();
    b[14] = 0x44;
    t.push(drop("ipv4-ihl-4", b, Reason::Ipv4BadIhl));

    // UDP Length beyond the IP payload.
    let mut b = echo_request_v4(1).to_bytes();
    b[38..40].copy_from_slice(&100u16.to_be_bytes());
    t.push(drop("udp-length-beyond-ip", b, Reason::UdpBadLength));

    // IPv6 Payload Length beyond the frame.
    let mut b = echo_request_v6(1).to_bytes();
    b[18..20].copy_from_slice(&500u16.to_be_bytes());
    t.push(drop(
        "ipv6-payload-length-beyond-frame",
        b,
        Reason::Ipv6BadPayloadLength,
    ));

    // Three VLAN tags; a VLAN tag cut short.
    let b = echo_request_v4(1)
        .vlan(0x88a8, 1)
        .vlan(0x8100, 2)
        .vlan(0x8100, 3)
        .to_bytes();
    t.push(drop("vlan-three-tags", b, Reason::VlanTooDeep));
    let mut b = echo_request_v4(1).vlan(0x8100, 5).to_bytes();
    b.truncate(16);
    t.push(drop("vlan-truncated", b, Reason::VlanTruncated));

    assert!(t.len() >= 8);
    run_xdp_fixtures(&dp, names::PROG_XDP_N3, &t);
}

#[test]
fn everything_else_is_passed_to_the_kernel() {
    let dp = load();
    let mut t = Vec::new();

    // ARP request.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1]);
    arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 2]);
    t.push(Fixture::unchanged("arp", arp, Reason::NotIp));

    // ICMP echo to the N3 address; UDP to another port.
    let icmp = IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::Icmp {
            ty: 8,
            code: 0,
            rest: [0, 1, 0, 1],
            payload: vec![0; 8],
        },
    );
    t.push(Fixture::unchanged(
        "icmp-echo",
        Frame::new(icmp).to_bytes(),
        Reason::NotUdp,
    ));
    let dns = IpPacket::v4(
        fixtures::GNB_V4,
        fixtures::UPF_V4,
        L4::Udp {
            src: 5353,
            dst: 53,
            payload: vec![0; 12],
        },
    );
    t.push(Fixture::unchanged(
        "udp-other-port",
        Frame::new(dns).to_bytes(),
        Reason::NotGtpuPort,
    ));

    // Fragments go to the kernel for reassembly, IPv4 and IPv6.
    let mut f = echo_request_v4(1);
    if let Ip::V4(h) = &mut f.ip.ip {
        h.frag = 0x2000;
    }
    t.push(Fixture::unchanged(
        "ipv4-first-fragment",
        f.to_bytes(),
        Reason::IpFragment,
    ));
    let mut f = echo_request_v6(1);
    if let Ip::V6(h) = &mut f.ip.ip {
        h.ext = vec![Ipv6Ext::Fragment {
            offset: 0,
            more: true,
            id: 9,
        }];
    }
    t.push(Fixture::unchanged(
        "ipv6-first-fragment",
        f.to_bytes(),
        Reason::IpFragment,
    ));

    // Well-formed GTP-U other than Echo Request and G-PDU: Echo Response, End Marker.
    t.push(Fixture::unchanged(
        "echo-response",
        gtpu_v4(&Gtpu::echo_response(3)).to_bytes(),
        Reason::GtpuOther,
    ));
    let em = Gtpu {
        msg_type: 254,
        ..Gtpu::gpdu(0x100, Vec::new())
    };
    t.push(Fixture::unchanged(
        "end-marker",
        gtpu_v4(&em).to_bytes(),
        Reason::GtpuOther,
    ));

    for fx in &t {
        assert_eq!(fx.action, xdp::PASS, "{}", fx.name);
    }
    run_xdp_fixtures(&dp, names::PROG_XDP_N3, &t);
}

#[test]
fn gpdus_without_a_session_are_answered_with_error_indication() {
    let dp = load();
    let ei = |name: &str, f: Frame, teid: u32| Fixture {
        name: name.into(),
        input: f.to_bytes(),
        action: xdp::TX,
        output: fixtures::error_indication_for(&f, teid).to_bytes(),
        reason: Reason::GtpuErrorIndication,
    };
    let inner = IpPacket::v4(
        fixtures::UE_V4,
        Ipv4Addr::new(203, 0, 113, 5),
        L4::Udp {
            src: 1,
            dst: 2,
            payload: vec![1, 2, 3],
        },
    );
    let g = Gtpu::gpdu(0x200, inner.to_bytes());
    let t = vec![
        ei("gpdu-ul-psc-no-session", fixtures::gpdu_ul_v4(0x100), 0x100),
        ei(
            "gpdu-over-ipv6-no-session",
            Frame::new(IpPacket::v6(
                fixtures::GNB_V6,
                fixtures::UPF_V6,
                L4::gtpu(2152, &g),
            )),
            0x200,
        ),
        // From a port other than 2152: the UDP Port extension header names it.
        ei(
            "gpdu-from-ephemeral-port",
            Frame::new(IpPacket::v4(
                fixtures::GNB_V4,
                fixtures::UPF_V4,
                L4::gtpu(40000, &g),
            )),
            0x200,
        ),
    ];
    run_xdp_fixtures(&dp, names::PROG_XDP_N3, &t);
}

#[test]
fn error_indications_are_rate_limited() {
    let dp = load();
    let limit = 100;
    let f = fixtures::gpdu_ul_v4(0x999).to_bytes();
    let p = dp.xdp(names::PROG_XDP_N3).unwrap();
    let mut out = vec![0u8; 512];
    let (mut answered, mut dropped) = (0, 0);
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
    for _ in 0..limit + 20 {
        let r = aya::programs::TestRun::test_run(
            p,
            aya::programs::TestRunOptions {
                data_in: Some(&f),
                data_out: Some(&mut out),
                ..aya::programs::TestRunOptions::new()
            },
        )
        .unwrap();
        match r.return_value {
            xdp::TX => answered += 1,
            xdp::DROP => dropped += 1,
            other => panic!("action {other}"),
        }
    }
    // All runs happen on one CPU well inside one second: exactly the limit is answered.
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(900),
        "too slow to judge the window"
    );
    assert_eq!((answered, dropped), (limit, 20));
    let c = dp.counters().unwrap();
    assert_eq!(
        c[Reason::GtpuErrorIndication as usize].1.packets,
        limit as u64
    );
    assert_eq!(c[Reason::GtpuUnknownTeid as usize].1.packets, 20);
}
