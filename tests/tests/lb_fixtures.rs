//! Tier 2: the L4 load balancer (`xdp_lb`) through BPF_PROG_TEST_RUN in a namespace with a
//! known FIB. A TCP connection to a VIP goes to its backend (destination address and port
//! rewritten, checksums updated, TTL one less, redirected by the FIB) and the backend's reply
//! comes back from the VIP; the frames are checked byte for byte (built independently with
//! the packet builder) and decoded by tshark (checksums good). UDP likewise, with a zero
//! checksum left zero. A service's flows spread over its backends by their weights (Maglev),
//! each flow staying on one backend; traffic to no service is the kernel's, untouched.

use bpf_abi::{Reason, lb::PROG_XDP_LB};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use upf_lb::southbound::{LbDatapath, lb::BackendSpec};
use upf_lb_packet::{Frame, IpPacket, L4};
use upf_lb_testkit::{
    fixtures::{Fixture, routed, xdp},
    testbed::FibNs,
};
use upf_lb_tests::{require_root, run_xdp_fixtures_in, tshark_fields};

/// The VIPs (benchmarking range) and a client on n3 (the gNB's address: its MAC is known).
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const VIP_UDP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SPREAD: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// An IPv6 VIP and client (the gNB's IPv6 address on n3: its MAC is known).
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x443);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 1);

fn tcp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, flags: u8) -> IpPacket {
    IpPacket::v4(
        src,
        dst,
        L4::Tcp {
            src: sport,
            dst: dport,
            flags,
            payload: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        },
    )
}

fn tcp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, flags: u8) -> IpPacket {
    IpPacket::v6(
        src,
        dst,
        L4::Tcp {
            src: sport,
            dst: dport,
            flags,
            payload: b"\x16\x03\x01 hello".to_vec(),
        },
    )
}

#[test]
fn connections_to_a_vip_go_to_its_backend_and_come_back_from_the_vip() {
    require_root();
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(8, 64, 4096).expect("load bpf-lb");
    let backend = |addr: Ipv4Addr, port, weight| BackendSpec {
        addr: IpAddr::V4(addr),
        port,
        weight,
    };
    dp.set_service(VIP.into(), 6, 80, &[backend(FibNs::NH4, 8080, 1)])
        .unwrap();
    dp.set_service(VIP_UDP.into(), 17, 0, &[backend(FibNs::NH4, 0, 1)])
        .unwrap();
    // Bad input to the southbound: clear errors.
    let e = dp
        .set_service(VIP.into(), 132, 80, &[backend(FibNs::NH4, 80, 1)])
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("TCP (6) and UDP (17) here; SCTP (132) by set_sctp_service"),
        "{e}"
    );
    let e = dp
        .set_service(
            VIP.into(),
            6,
            81,
            &[BackendSpec {
                addr: "2001:db8::1".parse().unwrap(),
                port: 80,
                weight: 1,
            }],
        )
        .unwrap_err();
    assert!(e.to_string().contains("NAT64 not yet"), "{e}");
    // NAT66: an IPv6 VIP to an IPv6 backend (on n6, its neighbour known).
    dp.set_service(
        VIP6.into(),
        6,
        443,
        &[BackendSpec {
            addr: FibNs::NH6.into(),
            port: 8443,
            weight: 1,
        }],
    )
    .unwrap();

    let syn = tcp(CLIENT, VIP, 40000, 80, 0x02);
    let to_backend = tcp(CLIENT, FibNs::NH4, 40000, 8080, 0x02);
    let reply = tcp(FibNs::NH4, CLIENT, 8080, 40000, 0x12);
    let from_vip = tcp(VIP, CLIENT, 80, 40000, 0x12);
    let ack = tcp(CLIENT, VIP, 40000, 80, 0x10);
    let udp = |src, dst, sport, dport| {
        IpPacket::v4(
            src,
            dst,
            L4::Udp {
                src: sport,
                dst: dport,
                payload: vec![7; 33],
            },
        )
    };
    let udp0 = |src, dst, sport, dport| {
        IpPacket::v4(
            src,
            dst,
            L4::UdpZeroChecksum {
                src: sport,
                dst: dport,
                payload: vec![7; 33],
            },
        )
    };
    let mut dying = syn.clone();
    if let upf_lb_packet::Ip::V4(h) = &mut dying.ip {
        h.ttl = 1;
    }
    let mut dying_out = tcp(CLIENT, FibNs::NH4, 40000, 8080, 0x02);
    if let upf_lb_packet::Ip::V4(h) = &mut dying_out.ip {
        h.ttl = 1;
    }
    let t = vec![
        Fixture::of(
            "tcp-syn-to-the-vip",
            &syn,
            xdp::REDIRECT,
            routed(to_backend.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "tcp-reply-from-the-backend",
            &reply,
            xdp::REDIRECT,
            routed(from_vip, FibNs::GNB_MAC, FibNs::N3_MAC),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "tcp-ack-same-backend",
            &ack,
            xdp::REDIRECT,
            routed(
                tcp(CLIENT, FibNs::NH4, 40000, 8080, 0x10),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "udp-any-port",
            &udp(CLIENT, VIP_UDP, 5000, 5353),
            xdp::REDIRECT,
            routed(
                udp(CLIENT, FibNs::NH4, 5000, 5353),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "udp-zero-checksum-stays-zero",
            &udp0(CLIENT, VIP_UDP, 5001, 53),
            xdp::REDIRECT,
            routed(
                udp0(CLIENT, FibNs::NH4, 5001, 53),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "ttl-1-translated-for-the-kernel",
            &dying,
            xdp::PASS,
            Frame::new(dying_out).to_bytes(),
            Reason::LbToKernel,
        ),
        Fixture::of(
            "tcp6-syn-to-the-vip",
            &tcp6(CLIENT6, VIP6, 40000, 443, 0x02),
            xdp::REDIRECT,
            routed(
                tcp6(CLIENT6, FibNs::NH6, 40000, 8443, 0x02),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "tcp6-reply-from-the-backend",
            &tcp6(FibNs::NH6, CLIENT6, 8443, 40000, 0x12),
            xdp::REDIRECT,
            routed(
                tcp6(VIP6, CLIENT6, 443, 40000, 0x12),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::unchanged(
            "tcp6-not-to-a-vip",
            Frame::new(tcp6(CLIENT6, FibNs::NH6, 40001, 443, 0x02)).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "tcp-to-another-port-of-the-vip",
            Frame::new(tcp(CLIENT, VIP, 40001, 443, 0x02)).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "not-to-a-vip",
            Frame::new(tcp(CLIENT, FibNs::NH4, 40002, 80, 0x02)).to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    // A VIP answers ping (ICMP and ICMPv6 Echo), in place; another address does not.
    let echo = |src: IpAddr, dst: IpAddr, ty: u8| {
        let l4 = L4::Icmp {
            ty,
            code: 0,
            rest: [0x12, 0x34, 0, 7],
            payload: b"upf-lb ping".to_vec(),
        };
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => IpPacket::v4(s, d, l4),
            (IpAddr::V6(s), IpAddr::V6(d)) => IpPacket::v6(s, d, l4),
            _ => unreachable!(),
        }
    };
    let swapped = |p: IpPacket| {
        let f = Frame::new(p.clone());
        Frame {
            dst: f.src,
            src: f.dst,
            vlans: vec![],
            ip: p,
        }
        .to_bytes()
    };
    let pings = vec![
        Fixture::of(
            "echo-request-to-a-vip",
            &echo(CLIENT.into(), VIP.into(), 8),
            xdp::TX,
            swapped(echo(VIP.into(), CLIENT.into(), 0)),
            Reason::LbEchoReply,
        ),
        Fixture::of(
            "echo6-request-to-a-vip",
            &echo(CLIENT6.into(), VIP6.into(), 128),
            xdp::TX,
            swapped(echo(VIP6.into(), CLIENT6.into(), 129)),
            Reason::LbEchoReply,
        ),
        Fixture::unchanged(
            "echo-request-to-another-address",
            Frame::new(echo(CLIENT.into(), FibNs::NH4.into(), 8)).to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &pings);
    // Counters by backend: the SYN, the ACK and the dying SYN went to it, the SYN ACK came
    // from it (IP lengths: 58 bytes each, TCP with an 18-byte payload).
    let st = dp.backend_stats(VIP.into(), 6, 80).unwrap();
    assert_eq!(st, vec![[3, 3 * 58, 1, 58]], "per-backend counters");
    // A backend that stays keeps its counters when the service changes; a new one starts
    // at zero.
    dp.set_service(
        VIP.into(),
        6,
        80,
        &[
            backend(Ipv4Addr::new(203, 0, 113, 77), 8080, 1),
            backend(FibNs::NH4, 8080, 1),
        ],
    )
    .unwrap();
    let st = dp.backend_stats(VIP.into(), 6, 80).unwrap();
    assert_eq!(st, vec![[0; 4], [3, 3 * 58, 1, 58]], "kept by address");
    dp.set_service(VIP.into(), 6, 80, &[backend(FibNs::NH4, 8080, 1)])
        .unwrap();

    // ICMP errors about tracked connections, translated inside and out (RFC 792 quotes the
    // IP header and 8 bytes): the backend's Port Unreachable about the UDP flow reaches the
    // client from the VIP, quoting the packet as the client sent it; a Fragmentation Needed
    // from the client's side about a reply (sent to the VIP) reaches the backend, quoting the
    // reply as the backend sent it.
    let icmp = |src, dst, ty, code, rest, quoted: &IpPacket| {
        IpPacket::v4(
            src,
            dst,
            L4::Icmp {
                ty,
                code,
                rest,
                payload: quoted.to_bytes()[..28].to_vec(),
            },
        )
    };
    let mtu = [0, 0, 0x05, 0x00];
    let e = vec![
        Fixture::of(
            "icmp-port-unreachable-from-the-backend",
            &icmp(
                FibNs::NH4,
                CLIENT,
                3,
                3,
                [0; 4],
                &udp(CLIENT, FibNs::NH4, 5000, 5353),
            ),
            xdp::REDIRECT,
            routed(
                icmp(
                    VIP_UDP,
                    CLIENT,
                    3,
                    3,
                    [0; 4],
                    &udp(CLIENT, VIP_UDP, 5000, 5353),
                ),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp-frag-needed-about-a-reply",
            &icmp(CLIENT, VIP, 3, 4, mtu, &tcp(VIP, CLIENT, 80, 40000, 0x12)),
            xdp::REDIRECT,
            routed(
                icmp(
                    CLIENT,
                    FibNs::NH4,
                    3,
                    4,
                    mtu,
                    &tcp(FibNs::NH4, CLIENT, 8080, 40000, 0x12),
                ),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        // Echo to a VIP is answered in place now (the rows after the first table); an Echo
        // Reply is not a quoting error: the kernel's.
        Fixture::unchanged(
            "icmp-echo-reply-to-the-vip",
            Frame::new(icmp(CLIENT, VIP, 0, 0, [0, 1, 0, 1], &syn)).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "icmp-error-about-no-connection",
            Frame::new(icmp(
                FibNs::NH4,
                CLIENT,
                3,
                3,
                [0; 4],
                &udp(CLIENT, FibNs::NH4, 6000, 5353),
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &e);

    // tshark on what left: the addresses and ports, and every checksum good.
    let dir = std::env::temp_dir().join(format!("upf-lb-lb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("out.pcap");
    upf_lb_packet::pcap::write_frames(
        &pcap,
        &[
            &t[0].output,
            &t[1].output,
            &t[3].output,
            &t[6].output,
            &e[0].output,
            &e[1].output,
        ],
    )
    .unwrap();
    let fi = tshark_fields(
        &pcap,
        &[
            "icmp.checksum.status",
            "ip.checksum.status",
            "ip.dst",
            "udp.dstport",
            "tcp.srcport",
        ],
        &["ip.check_checksum:TRUE"],
    );
    // The errors decoded (tshark gives the first of each field: the outer header; the quoted
    // packets' bytes are checked above, byte for byte against the builder's): good ICMP and
    // outer IPv4 checksums, the quoted port the VIP's (to the client) or the backend's.
    assert_eq!(
        fi[4][..4],
        ["1", "1", "192.0.2.1", "5353"],
        "port unreachable: {:?}",
        fi[4]
    );
    assert_eq!(
        (
            fi[5][0].as_str(),
            fi[5][1].as_str(),
            fi[5][2].as_str(),
            fi[5][4].as_str()
        ),
        ("1", "1", "203.0.113.10", "8080"),
        "frag needed: {:?}",
        fi[5]
    );
    let f = tshark_fields(
        &pcap,
        &[
            "ip.dst",
            "ip.src",
            "ip.checksum.status",
            "tcp.checksum.status",
            "udp.checksum.status",
        ],
        &[
            "ip.check_checksum:TRUE",
            "tcp.check_checksum:TRUE",
            "udp.check_checksum:TRUE",
        ],
    );
    assert_eq!(f[0][..4], ["203.0.113.10", "192.0.2.1", "1", "1"]);
    assert_eq!(f[1][..4], ["192.0.2.1", "198.18.0.1", "1", "1"]);
    assert_eq!((f[2][0].as_str(), f[2][4].as_str()), ("203.0.113.10", "1"));
    let f6 = tshark_fields(
        &pcap,
        &["ipv6.dst", "tcp.checksum.status"],
        &["tcp.check_checksum:TRUE"],
    );
    assert_eq!(
        f6[3],
        ["2001:db8:0:6::10", "1"],
        "NAT66: a good TCP checksum"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // Both directions of the TCP connections (the TTL-1 packet is of the first) and of the two
    // UDP flows are tracked.
    assert_eq!(dp.tracked(), 8);
}

/// Four backends with weights 1, 1, 1 and 2 (none resolved as neighbours: the kernel forwards
/// what XDP translated): 4000 flows spread by the weights, and each flow stays where it went;
/// when one backend fails, only its flows move.
#[test]
fn flows_spread_over_backends_by_weight_and_stay() {
    require_root();
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(2, 8, 16_384).expect("load bpf-lb");
    let bs: Vec<BackendSpec> = [(21, 1), (22, 1), (23, 1), (24, 2)]
        .into_iter()
        .map(|(last, weight)| BackendSpec {
            addr: IpAddr::from([203, 0, 113, last]),
            port: 9000,
            weight,
        })
        .collect();
    dp.set_service(SPREAD.into(), 17, 53, &bs).unwrap();
    let send = |dp: &LbDatapath, sport: u16| -> u8 {
        let p = dp.xdp(PROG_XDP_LB).unwrap();
        let input = Frame::new(IpPacket::v4(
            CLIENT,
            SPREAD,
            L4::Udp {
                src: sport,
                dst: 53,
                payload: vec![1; 20],
            },
        ))
        .to_bytes();
        let (action, out) = fib.test_run(p, &input).unwrap();
        assert_eq!(action, xdp::PASS, "translated, for the kernel");
        assert_eq!(&out[14 + 16..14 + 19], &[203, 0, 113]);
        assert_eq!(u16::from_be_bytes([out[36], out[37]]), 9000);
        out[14 + 19]
    };
    const FLOWS: u16 = 4000;
    let first: Vec<u8> = (0..FLOWS).map(|i| send(&dp, 10_000 + i)).collect();
    let share = |b: u8| first.iter().filter(|&&x| x == b).count() as f64 / f64::from(FLOWS);
    for (b, want) in [(21, 0.2), (22, 0.2), (23, 0.2), (24, 0.4)] {
        assert!(
            (share(b) - want).abs() < 0.04,
            "backend .{b}: {:.3} of the flows, weight share {want}",
            share(b)
        );
    }
    let again: Vec<u8> = (0..FLOWS).map(|i| send(&dp, 10_000 + i)).collect();
    assert_eq!(first, again, "every flow stays on its backend");

    // Backend .22 fails: out of the service, its connections forgotten. Its flows go to the
    // others; no other flow moves.
    let survivors: Vec<BackendSpec> = bs
        .iter()
        .copied()
        .filter(|b| b.addr != IpAddr::from([203, 0, 113, 22]))
        .collect();
    dp.set_service(SPREAD.into(), 17, 53, &survivors).unwrap();
    let forgotten = dp.forget_backend(IpAddr::from([203, 0, 113, 22])).unwrap();
    let had = first.iter().filter(|&&b| b == 22).count();
    assert_eq!(
        forgotten,
        2 * had,
        "both directions of each of its connections"
    );
    let after: Vec<u8> = (0..FLOWS).map(|i| send(&dp, 10_000 + i)).collect();
    for (i, (b, a)) in first.iter().zip(&after).enumerate() {
        if *b == 22 {
            assert_ne!(*a, 22, "flow {i} left the failed backend");
        } else {
            assert_eq!(a, b, "flow {i} stayed where it was");
        }
    }
    let c = dp.counters().unwrap();
    let n = |r: Reason| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    assert_eq!(n(Reason::LbToKernel), 3 * u64::from(FLOWS));
}

/// Each direction's state follows its TCP flags (a SYN alone: the handshake, 60 s; then
/// established, 6 h; a FIN or RST: closing, 10 s), and the controller's sweep removes what
/// expired, by the same clock as the datapath's.
#[test]
fn tcp_states_set_the_expiry_and_the_sweep_removes_what_expired() {
    use bpf_abi::lb::{FlowKey, state};
    use upf_lb::southbound::lb::monotonic_ns;
    require_root();
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(2, 4, 64).expect("load bpf-lb");
    dp.set_service(
        VIP.into(),
        6,
        80,
        &[BackendSpec {
            addr: IpAddr::V4(FibNs::NH4),
            port: 8080,
            weight: 1,
        }],
    )
    .unwrap();
    let send = |dp: &LbDatapath, p: IpPacket| {
        let (action, _) = fib
            .test_run(dp.xdp(PROG_XDP_LB).unwrap(), &Frame::new(p).to_bytes())
            .unwrap();
        assert_eq!(action, xdp::REDIRECT);
    };
    let key = |src: Ipv4Addr, dst: Ipv4Addr, sport, dport| {
        let mut k = FlowKey {
            sport,
            dport,
            proto: 6,
            family: 4,
            ..FlowKey::default()
        };
        k.src[..4].copy_from_slice(&src.octets());
        k.dst[..4].copy_from_slice(&dst.octets());
        k
    };
    let orig = key(CLIENT, VIP, 41000, 80);
    let reply = key(FibNs::NH4, CLIENT, 8080, 41000);
    let check = |dp: &LbDatapath, k: &FlowKey, st: u8| {
        let c = dp.connection(k).expect("tracked");
        let now = monotonic_ns();
        let left = c.expires_ns.saturating_sub(now) as f64 / 1e9;
        let want = state::timeout_s(st) as f64;
        assert_eq!(c.state, st, "{k:?}");
        assert!(
            left > want - 5.0 && left <= want + 0.1,
            "{left} s left, state {st}"
        );
    };
    send(&dp, tcp(CLIENT, VIP, 41000, 80, 0x02));
    check(&dp, &orig, state::SYN);
    send(&dp, tcp(FibNs::NH4, CLIENT, 8080, 41000, 0x12));
    check(&dp, &reply, state::ESTABLISHED);
    send(&dp, tcp(CLIENT, VIP, 41000, 80, 0x10));
    check(&dp, &orig, state::ESTABLISHED);
    send(&dp, tcp(CLIENT, VIP, 41000, 80, 0x11));
    check(&dp, &orig, state::CLOSING);
    // Closing stays closing, whatever comes after.
    send(&dp, tcp(CLIENT, VIP, 41000, 80, 0x10));
    check(&dp, &orig, state::CLOSING);
    assert_eq!(dp.tracked(), 2);
    let now = monotonic_ns();
    assert_eq!(dp.expire(now).unwrap(), 0, "nothing expired yet");
    assert_eq!(
        dp.expire(now + 11_000_000_000).unwrap(),
        1,
        "the closing side"
    );
    assert!(dp.connection(&orig).is_none() && dp.connection(&reply).is_some());
    assert_eq!(dp.expire(now + 7 * 3600 * 1_000_000_000).unwrap(), 1);
    assert_eq!(dp.tracked(), 0);
}

/// NAT64: an IPv6 VIP with an IPv4 backend. The client's TCP SYN leaves as IPv4 from the
/// service's source address and a port of the connection's own, to the backend; the backend's
/// SYN ACK to that address and port comes back as IPv6 from the VIP; UDP likewise; frames
/// checked byte for byte against the packet builder's (so every checksum is right) and by
/// tshark. A UDP datagram with checksum 0 from the IPv4 side is dropped (RFC 7915 4.5).
#[test]
fn nat64_translates_ipv6_clients_to_ipv4_backends() {
    require_root();
    let fib = FibNs::new();
    let vip = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x64);
    let src = Ipv4Addr::new(203, 0, 113, 1);
    let mut dp = LbDatapath::load(4, 8, 1024).expect("load bpf-lb");
    let be = [BackendSpec {
        addr: IpAddr::V4(FibNs::NH4),
        port: 8080,
        weight: 1,
    }];
    dp.set_nat64_service(vip, 6, 80, &be, src).unwrap();
    dp.set_nat64_service(vip, 17, 53, &be, src).unwrap();
    let e = dp
        .set_nat64_service(
            vip,
            6,
            81,
            &[BackendSpec {
                addr: FibNs::NH6.into(),
                port: 1,
                weight: 1,
            }],
            src,
        )
        .unwrap_err();
    assert!(e.to_string().contains("2001:db8:0:6::10"), "{e}");
    let prog = dp.xdp(PROG_XDP_LB).unwrap();

    let syn6 = tcp6(CLIENT6, vip, 40000, 80, 0x02);
    let (action, out) = fib
        .test_run(prog, &Frame::new(syn6.clone()).to_bytes())
        .unwrap();
    assert_eq!(
        action,
        xdp::REDIRECT,
        "{:?}",
        dp.counters()
            .unwrap()
            .into_iter()
            .filter(|(_, c)| c.packets > 0)
            .collect::<Vec<_>>()
    );
    // The port the connection got: the translated frame's TCP source port.
    let port = u16::from_be_bytes([out[34], out[35]]);
    assert!(port >= 1024, "{port}");
    let mut syn4 = tcp(src, FibNs::NH4, port, 8080, 0x02);
    if let upf_lb_packet::L4::Tcp { payload, .. } = &mut syn4.l4 {
        *payload = b"\x16\x03\x01 hello".to_vec();
    }
    assert_eq!(
        out,
        routed(syn4, FibNs::NH_MAC, FibNs::N6_MAC),
        "SYN translated to IPv4"
    );
    let mut synack4 = tcp(FibNs::NH4, src, 8080, port, 0x12);
    if let upf_lb_packet::L4::Tcp { payload, .. } = &mut synack4.l4 {
        *payload = b"\x16\x03\x01 hello".to_vec();
    }
    let t = vec![
        Fixture::of(
            "nat64-syn-ack-back-to-ipv6",
            &synack4,
            xdp::REDIRECT,
            routed(
                tcp6(vip, CLIENT6, 80, 40000, 0x12),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbXlatRedirect,
        ),
        Fixture::unchanged(
            "nat64-reply-to-an-unknown-port",
            Frame::new(tcp(FibNs::NH4, src, 8080, port.wrapping_add(1), 0x12)).to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    // The same connection's next packet: the same port.
    let (_, out) = fib
        .test_run(
            prog,
            &Frame::new(tcp6(CLIENT6, vip, 40000, 80, 0x10)).to_bytes(),
        )
        .unwrap();
    assert_eq!(u16::from_be_bytes([out[34], out[35]]), port);

    // UDP both ways, then a zero checksum from IPv4.
    let udp6 = IpPacket::v6(
        CLIENT6,
        vip,
        L4::Udp {
            src: 5000,
            dst: 53,
            payload: vec![9; 27],
        },
    );
    let (action, out) = fib.test_run(prog, &Frame::new(udp6).to_bytes()).unwrap();
    assert_eq!(action, xdp::REDIRECT);
    let uport = u16::from_be_bytes([out[34], out[35]]);
    let udp4 = |s, d, sp, dp| {
        IpPacket::v4(
            s,
            d,
            L4::Udp {
                src: sp,
                dst: dp,
                payload: vec![9; 27],
            },
        )
    };
    assert_eq!(
        out,
        routed(
            udp4(src, FibNs::NH4, uport, 8080),
            FibNs::NH_MAC,
            FibNs::N6_MAC
        )
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-nat64-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("nat64.pcap");
    let (_, back) = fib
        .test_run(
            prog,
            &Frame::new(udp4(FibNs::NH4, src, 8080, uport)).to_bytes(),
        )
        .unwrap();
    upf_lb_packet::pcap::write_frames(&pcap, &[&out, &back]).unwrap();
    let f = tshark_fields(
        &pcap,
        &[
            "ip.checksum.status",
            "udp.checksum.status",
            "ipv6.dst",
            "udp.dstport",
        ],
        &["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
    );
    // 1: Good (tshark's status values: 0 bad, 1 good, 2 unverified).
    assert_eq!(f[0][..2], ["1", "1"], "IPv4 side: checksums good: {f:?}");
    assert_eq!(
        f[1][1..],
        ["1", &CLIENT6.to_string(), "5000"],
        "IPv6 side: {f:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let zero = IpPacket::v4(
        FibNs::NH4,
        src,
        L4::UdpZeroChecksum {
            src: 8080,
            dst: uport,
            payload: vec![9; 27],
        },
    );
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        PROG_XDP_LB,
        &[Fixture::unchanged(
            "nat64-udp-zero-checksum-from-ipv4",
            Frame::new(zero).to_bytes(),
            Reason::LbXlatUnsupported,
        )],
    );

    // ICMP translation (RFC 7915 4.2 and 5.2): an error about a NAT64 connection is rebuilt
    // in the other family, its quote (IP header and 8 bytes) too, with the quoted UDP
    // checksum, the ICMPv6 pseudo-header checksum and the IPv4 headers' right.
    let hl = |mut p: IpPacket, h: u8| {
        match &mut p.ip {
            upf_lb_packet::Ip::V4(x) => x.ttl = h,
            upf_lb_packet::Ip::V6(x) => x.hop_limit = h,
        }
        p
    };
    let quote = |p: IpPacket, n: usize| p.to_bytes()[..n].to_vec();
    let icmp4 = |s, d, ty, code, rest, q: Vec<u8>| {
        IpPacket::v4(
            s,
            d,
            L4::Icmp {
                ty,
                code,
                rest,
                payload: q,
            },
        )
    };
    let icmp6 = |s, d, ty, code, rest, q: Vec<u8>| {
        IpPacket::v6(
            s,
            d,
            L4::Icmp {
                ty,
                code,
                rest,
                payload: q,
            },
        )
    };
    let router6: Ipv6Addr = "2001:db8:0:3::99".parse().unwrap();
    let router4 = Ipv4Addr::new(198, 51, 100, 254);
    let udp6 = |hop| {
        hl(
            IpPacket::v6(
                CLIENT6,
                vip,
                L4::Udp {
                    src: 5000,
                    dst: 53,
                    payload: vec![9; 27],
                },
            ),
            hop,
        )
    };
    let mut syn6q = tcp6(CLIENT6, vip, 40000, 80, 0x02);
    syn6q = hl(syn6q, 63);
    let mut syn4q = tcp(src, FibNs::NH4, port, 8080, 0x02);
    if let upf_lb_packet::L4::Tcp { payload, .. } = &mut syn4q.l4 {
        *payload = b"\x16\x03\x01 hello".to_vec();
    }
    syn4q = hl(syn4q, 63);
    let reply6 = hl(tcp6(vip, CLIENT6, 80, 40000, 0x12), 63);
    let mut reply4 = tcp(FibNs::NH4, src, 8080, port, 0x12);
    if let upf_lb_packet::L4::Tcp { payload, .. } = &mut reply4.l4 {
        *payload = b"\x16\x03\x01 hello".to_vec();
    }
    reply4 = hl(reply4, 63);
    let errs = vec![
        Fixture::of(
            "nat64-icmp-port-unreachable-to-icmpv6",
            &icmp4(
                FibNs::NH4,
                src,
                3,
                3,
                [0; 4],
                quote(hl(udp4(src, FibNs::NH4, uport, 8080), 63), 28),
            ),
            xdp::REDIRECT,
            routed(
                icmp6(vip, CLIENT6, 1, 4, [0; 4], quote(udp6(63), 48)),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "nat64-frag-needed-to-packet-too-big",
            &icmp4(
                router4,
                src,
                3,
                4,
                [0, 0, 0x05, 0x78],
                quote(syn4q.clone(), 28),
            ),
            xdp::REDIRECT,
            routed(
                icmp6(vip, CLIENT6, 2, 0, 1420u32.to_be_bytes(), quote(syn6q, 48)),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "nat64-icmpv6-port-unreachable-to-icmp",
            &icmp6(CLIENT6, vip, 1, 4, [0; 4], reply6.to_bytes()),
            xdp::REDIRECT,
            routed(
                icmp4(src, FibNs::NH4, 3, 3, [0; 4], quote(reply4.clone(), 28)),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "nat64-packet-too-big-to-frag-needed",
            &icmp6(router6, vip, 2, 0, 1300u32.to_be_bytes(), reply6.to_bytes()),
            xdp::REDIRECT,
            routed(
                icmp4(
                    src,
                    FibNs::NH4,
                    3,
                    4,
                    [0, 0, 0x05, 0x00],
                    quote(reply4.clone(), 28),
                ),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "nat64-parameter-problem-pointer-mapped",
            &icmp6(router6, vip, 4, 0, [0, 0, 0, 7], reply6.to_bytes()),
            xdp::REDIRECT,
            routed(
                icmp4(src, FibNs::NH4, 12, 0, [8, 0, 0, 0], quote(reply4, 28)),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::unchanged(
            "nat64-icmp-code-rfc7915-drops",
            Frame::new(icmp4(router4, src, 3, 14, [0; 4], quote(syn4q, 28))).to_bytes(),
            Reason::LbXlatUnsupported,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &errs);
    let dir = std::env::temp_dir().join(format!("upf-lb-nat64i-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("nat64-icmp.pcap");
    let frames: Vec<&[u8]> = errs[..5].iter().map(|f| &f.output[..]).collect();
    upf_lb_packet::pcap::write_frames(&pcap, &frames).unwrap();
    let f = tshark_fields(
        &pcap,
        &[
            "icmpv6.checksum.status",
            "icmp.checksum.status",
            "ip.checksum.status",
        ],
        &["ip.check_checksum:TRUE"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    for (i, row) in f.iter().enumerate() {
        let good = if i < 2 { &row[0] } else { &row[1] };
        assert_eq!(good, "1", "checksum of translated error {i}: {f:?}");
    }
}

/// The schedulers: by source hash, every connection of one client goes to one backend (and
/// clients spread); round robin spreads one client's new connections over the backends by
/// weight. Read from the translated frames' destination addresses.
#[test]
fn schedulers_source_hash_and_round_robin() {
    require_root();
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(4, 16, 8192).expect("load bpf-lb");
    let backends: Vec<BackendSpec> = [10u8, 11, 12]
        .iter()
        .map(|&l| BackendSpec {
            addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, l)),
            port: 8080,
            weight: if l == 12 { 2 } else { 1 },
        })
        .collect();
    dp.set_service(VIP.into(), 6, 80, &backends).unwrap();
    dp.set_scheduler(VIP.into(), 6, 80, bpf_abi::lb::sched::SOURCE_HASH)
        .unwrap();
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let dst = |client: Ipv4Addr, port: u16| -> u8 {
        let (_, out) = fib
            .test_run(
                prog,
                &Frame::new(tcp(client, VIP, port, 80, 0x02)).to_bytes(),
            )
            .unwrap();
        out[33]
    };
    let mut per_client = std::collections::BTreeMap::new();
    for c in 1..=40u8 {
        let client = Ipv4Addr::new(198, 51, 100, c);
        let seen: std::collections::BTreeSet<u8> =
            (0..20).map(|k| dst(client, 20000 + k)).collect();
        assert_eq!(seen.len(), 1, "client {client}: one backend, got {seen:?}");
        per_client.insert(c, *seen.first().unwrap());
    }
    let used: std::collections::BTreeSet<u8> = per_client.values().copied().collect();
    assert_eq!(
        used.len(),
        3,
        "clients spread over the backends: {per_client:?}"
    );
    dp.set_scheduler(VIP.into(), 6, 80, bpf_abi::lb::sched::ROUND_ROBIN)
        .unwrap();
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let mut n = std::collections::BTreeMap::new();
    let client = Ipv4Addr::new(198, 51, 100, 200);
    for k in 0..4000u16 {
        let (_, out) = fib
            .test_run(
                prog,
                &Frame::new(tcp(client, VIP, 30000 + k, 80, 0x02)).to_bytes(),
            )
            .unwrap();
        *n.entry(out[33]).or_insert(0u32) += 1;
    }
    // Weights 1:1:2 over 4000 connections of one client.
    let share = |l: u8| f64::from(n[&l]) / 4000.0;
    assert!((share(10) - 0.25).abs() < 0.05, "{n:?}");
    assert!((share(11) - 0.25).abs() < 0.05, "{n:?}");
    assert!((share(12) - 0.5).abs() < 0.05, "{n:?}");
}

/// The forwarding modes besides DNAT, IPv4 and IPv6, frames checked byte for byte:
/// - full NAT (one-arm): the client's packets leave from the service's source address (the
///   load balancer's own on n6) and a port of the connection's own (at least 1024, the one
///   its conntrack entry holds); the backend's reply to that port goes back to the client
///   from the VIP;
/// - DSR over L2: the packet unchanged (TTL too) to the backend's MAC; no route to the
///   backend: dropped and counted (never to the kernel: its destination is the VIP);
/// - DSR through a tunnel: IPIP (inner DF and ID carried over, TTL 64) and IP6IP6 (Flow Label
///   from the flow's hash) from the service's source to the backend, decoded by tshark;
///   `xdp_lb_decap` on the backend's side gives back the client's packet for its VIPs only;
/// - and what the southbound refuses, with the reason named.
#[test]
fn full_nat_and_dsr_send_what_each_mode_says() {
    use bpf_abi::lb::{FlowKey, PROG_XDP_LB_DECAP, flow_hash};
    use upf_lb::southbound::lb::Forwarding;
    use upf_lb_packet::{Ip, Ipv4, Ipv6};
    require_root();
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(16, 64, 4096).expect("load bpf-lb");
    let lb4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
    let lb6: Ipv6Addr = "2001:db8:0:6::1".parse().unwrap();
    let fnat = Ipv4Addr::new(198, 18, 0, 4);
    let dsr = Ipv4Addr::new(198, 18, 0, 5);
    let tun = Ipv4Addr::new(198, 18, 0, 6);
    let dsr_lost = Ipv4Addr::new(198, 18, 0, 7);
    let fnat6 = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x4);
    let dsr6 = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x5);
    let tun6 = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x6);
    let be = |addr: IpAddr, port| BackendSpec {
        addr,
        port,
        weight: 1,
    };
    let modes: [(IpAddr, Forwarding, IpAddr, u16); 7] = [
        (
            fnat.into(),
            Forwarding::FullNat { source: lb4.into() },
            FibNs::NH4.into(),
            8080,
        ),
        (dsr.into(), Forwarding::DsrL2, FibNs::NH4.into(), 0),
        (
            tun.into(),
            Forwarding::DsrTunnel { source: lb4.into() },
            FibNs::NH4.into(),
            80,
        ),
        (
            dsr_lost.into(),
            Forwarding::DsrL2,
            Ipv4Addr::new(198, 51, 100, 9).into(),
            0,
        ),
        (
            fnat6.into(),
            Forwarding::FullNat { source: lb6.into() },
            FibNs::NH6.into(),
            8443,
        ),
        (dsr6.into(), Forwarding::DsrL2, FibNs::NH6.into(), 0),
        (
            tun6.into(),
            Forwarding::DsrTunnel { source: lb6.into() },
            FibNs::NH6.into(),
            0,
        ),
    ];
    for (vip, f, b, port) in modes {
        let svc_port = if vip.is_ipv4() { 80 } else { 443 };
        dp.set_forwarding(vip, 6, svc_port, f).unwrap();
        dp.set_service(vip, 6, svc_port, &[be(b, port)]).unwrap();
    }
    // Refused, each with its reason.
    let e = dp
        .set_service(dsr.into(), 6, 80, &[be(FibNs::NH4.into(), 8080)])
        .unwrap_err();
    assert!(e.to_string().contains("DSR does not rewrite ports"), "{e}");
    let e = dp
        .set_forwarding(
            fnat.into(),
            6,
            80,
            Forwarding::FullNat { source: lb6.into() },
        )
        .unwrap_err();
    assert!(e.to_string().contains("of the VIP's family"), "{e}");
    let e = dp
        .set_forwarding(fnat.into(), 132, 80, Forwarding::DsrL2)
        .unwrap_err();
    assert!(e.to_string().contains("for TCP and UDP services"), "{e}");

    // Full NAT, IPv4 then IPv6: the port is the one the conntrack entry holds.
    let key = |src: IpAddr, dst: IpAddr, sport, dport| {
        let a = |x: IpAddr| match x {
            IpAddr::V4(v) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v.octets());
                (b, 4)
            }
            IpAddr::V6(v) => (v.octets(), 6),
        };
        FlowKey {
            src: a(src).0,
            dst: a(dst).0,
            sport,
            dport,
            proto: 6,
            family: a(src).1,
            _pad: [0; 2],
        }
    };
    let syn = tcp(CLIENT, fnat, 40000, 80, 0x02);
    let syn6 = tcp6(CLIENT6, fnat6, 40000, 443, 0x02);
    let first = vec![
        Fixture::of(
            "full-nat-syn",
            &syn,
            xdp::REDIRECT,
            vec![],
            Reason::LbRedirect,
        ),
        Fixture::of(
            "full-nat6-syn",
            &syn6,
            xdp::REDIRECT,
            vec![],
            Reason::LbRedirect,
        ),
    ];
    // The port is the datapath's choice: learn it from a first run, then check it all.
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    for fx in &first {
        let (action, _) = fib.test_run(prog, &fx.input).unwrap();
        assert_eq!(action, xdp::REDIRECT, "{}", fx.name);
    }
    let p4 = dp
        .connection(&key(CLIENT.into(), fnat.into(), 40000, 80))
        .expect("tracked")
        .peer_port;
    let p6 = dp
        .connection(&key(CLIENT6.into(), fnat6.into(), 40000, 443))
        .expect("tracked")
        .peer_port;
    assert!(p4 >= 1024 && p6 >= 1024, "ports {p4} {p6}");
    // A second connection of the same client gets its own port.
    let (action, out2) = fib
        .test_run(
            prog,
            &Frame::new(tcp(CLIENT, fnat, 40001, 80, 0x02)).to_bytes(),
        )
        .unwrap();
    assert_eq!(action, xdp::REDIRECT);
    let p4b = u16::from_be_bytes([out2[34], out2[35]]);
    assert_ne!(p4b, p4, "each connection its own port");

    let inner = tcp(CLIENT, dsr, 40000, 80, 0x02);
    let inner6 = tcp6(CLIENT6, dsr6, 40000, 443, 0x02);
    let tinner = tcp(CLIENT, tun, 40000, 80, 0x02);
    let tinner6 = tcp6(CLIENT6, tun6, 40000, 443, 0x02);
    let l2 = |p: &IpPacket| {
        Frame {
            dst: FibNs::NH_MAC,
            src: FibNs::N6_MAC,
            vlans: vec![],
            ip: p.clone(),
        }
        .to_bytes()
    };
    let mut outer4 = Ipv4::new(lb4, FibNs::NH4);
    outer4.id = match &tinner.ip {
        Ip::V4(h) => h.id,
        Ip::V6(_) => unreachable!(),
    };
    let ipip = IpPacket {
        ip: Ip::V4(outer4),
        l4: L4::Raw {
            proto: 4,
            bytes: tinner.to_bytes(),
        },
    };
    let mut outer6 = Ipv6::new(lb6, FibNs::NH6);
    outer6.hop_limit = 64;
    outer6.flow_label = flow_hash(&key(CLIENT6.into(), tun6.into(), 40000, 443)) & 0xf_ffff;
    let ip6ip6 = IpPacket {
        ip: Ip::V6(outer6),
        l4: L4::Raw {
            proto: 41,
            bytes: tinner6.to_bytes(),
        },
    };
    let t = vec![
        Fixture::of(
            "full-nat-syn-again",
            &syn,
            xdp::REDIRECT,
            routed(
                tcp(lb4, FibNs::NH4, p4, 8080, 0x02),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "full-nat-reply-to-the-client-from-the-vip",
            &tcp(FibNs::NH4, lb4, 8080, p4, 0x12),
            xdp::REDIRECT,
            routed(
                tcp(fnat, CLIENT, 80, 40000, 0x12),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "full-nat6-syn-again",
            &syn6,
            xdp::REDIRECT,
            routed(
                tcp6(lb6, FibNs::NH6, p6, 8443, 0x02),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "full-nat6-reply",
            &tcp6(FibNs::NH6, lb6, 8443, p6, 0x12),
            xdp::REDIRECT,
            routed(
                tcp6(fnat6, CLIENT6, 443, 40000, 0x12),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::unchanged(
            "full-nat-reply-to-an-unknown-port",
            Frame::new(tcp(FibNs::NH4, lb4, 8080, p4 ^ 1, 0x12)).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::of(
            "dsr-l2-unchanged-to-the-backend-mac",
            &inner,
            xdp::REDIRECT,
            l2(&inner),
            Reason::LbDsrRedirect,
        ),
        Fixture::of(
            "dsr6-l2",
            &inner6,
            xdp::REDIRECT,
            l2(&inner6),
            Reason::LbDsrRedirect,
        ),
        Fixture::unchanged(
            "dsr-no-route-to-the-backend",
            Frame::new(tcp(CLIENT, dsr_lost, 40000, 80, 0x02)).to_bytes(),
            Reason::LbDsrNoRoute,
        ),
        Fixture::of(
            "dsr-ipip",
            &tinner,
            xdp::REDIRECT,
            l2(&ipip),
            Reason::LbDsrRedirect,
        ),
        Fixture::of(
            "dsr-ip6ip6",
            &tinner6,
            xdp::REDIRECT,
            l2(&ip6ip6),
            Reason::LbDsrRedirect,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);

    // ICMP and ICMPv6 errors about full NAT and NAT66 connections, translated inside and out
    // (each side sees only the addresses it talks to; the quoted checksums, IPv4 header and
    // TCP's when quoted, stay right): the backend's error about the client's packet reaches
    // the client from the VIP; the client's own Packet Too Big about a reply reaches the
    // backend from the load balancer's address.
    let dnat6 = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x7);
    dp.set_service(dnat6.into(), 6, 443, &[be(FibNs::NH6.into(), 8443)])
        .unwrap();
    let icmp4 = |src, dst, ty, code, quoted: &IpPacket| {
        IpPacket::v4(
            src,
            dst,
            L4::Icmp {
                ty,
                code,
                rest: [0; 4],
                payload: quoted.to_bytes()[..28].to_vec(),
            },
        )
    };
    let icmp6 = |src, dst, ty, rest, quoted: &IpPacket| {
        IpPacket::v6(
            src,
            dst,
            L4::Icmp {
                ty,
                code: if ty == 1 { 4 } else { 0 },
                rest,
                payload: quoted.to_bytes(),
            },
        )
    };
    let hl = |mut p: IpPacket, h: u8| {
        match &mut p.ip {
            Ip::V4(x) => x.ttl = h,
            Ip::V6(x) => x.hop_limit = h,
        }
        p
    };
    let mtu = [0, 0, 0x05, 0x00];
    let errs = vec![
        Fixture::of(
            "dnat6-syn",
            &tcp6(CLIENT6, dnat6, 40000, 443, 0x02),
            xdp::REDIRECT,
            routed(
                tcp6(CLIENT6, FibNs::NH6, 40000, 8443, 0x02),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "icmp-full-nat-port-unreachable-from-the-backend",
            &icmp4(
                FibNs::NH4,
                lb4,
                3,
                3,
                &hl(tcp(lb4, FibNs::NH4, p4, 8080, 0x02), 63),
            ),
            xdp::REDIRECT,
            routed(
                icmp4(
                    fnat,
                    CLIENT,
                    3,
                    3,
                    &hl(tcp(CLIENT, fnat, 40000, 80, 0x02), 63),
                ),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp6-full-nat-port-unreachable-from-the-backend",
            &icmp6(
                FibNs::NH6,
                lb6,
                1,
                [0; 4],
                &hl(tcp6(lb6, FibNs::NH6, p6, 8443, 0x02), 63),
            ),
            xdp::REDIRECT,
            routed(
                icmp6(
                    fnat6,
                    CLIENT6,
                    1,
                    [0; 4],
                    &hl(tcp6(CLIENT6, fnat6, 40000, 443, 0x02), 63),
                ),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp6-full-nat-packet-too-big-from-the-client",
            &icmp6(
                CLIENT6,
                fnat6,
                2,
                mtu,
                &hl(tcp6(fnat6, CLIENT6, 443, 40000, 0x12), 63),
            ),
            xdp::REDIRECT,
            routed(
                icmp6(
                    lb6,
                    FibNs::NH6,
                    2,
                    mtu,
                    &hl(tcp6(FibNs::NH6, lb6, 8443, p6, 0x12), 63),
                ),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp6-nat66-unreachable-from-the-backend",
            &icmp6(
                FibNs::NH6,
                CLIENT6,
                1,
                [0; 4],
                &hl(tcp6(CLIENT6, FibNs::NH6, 40000, 8443, 0x02), 63),
            ),
            xdp::REDIRECT,
            routed(
                icmp6(
                    dnat6,
                    CLIENT6,
                    1,
                    [0; 4],
                    &hl(tcp6(CLIENT6, dnat6, 40000, 443, 0x02), 63),
                ),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp6-nat66-too-big-from-a-router-on-the-client-side",
            &icmp6(
                "2001:db8:0:3::99".parse().unwrap(),
                dnat6,
                2,
                mtu,
                &hl(tcp6(dnat6, CLIENT6, 443, 40000, 0x12), 60),
            ),
            xdp::REDIRECT,
            routed(
                icmp6(
                    "2001:db8:0:3::99".parse().unwrap(),
                    FibNs::NH6,
                    2,
                    mtu,
                    &hl(tcp6(FibNs::NH6, CLIENT6, 8443, 40000, 0x12), 60),
                ),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::LbIcmpRedirect,
        ),
        Fixture::unchanged(
            "icmp6-about-no-connection",
            Frame::new(icmp6(
                FibNs::NH6,
                CLIENT6,
                1,
                [0; 4],
                &tcp6(CLIENT6, FibNs::NH6, 40999, 8443, 0x02),
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "icmp-about-a-dsr-connection",
            Frame::new(icmp4(
                FibNs::NH4,
                CLIENT,
                3,
                3,
                &tcp(CLIENT, dsr, 40000, 80, 0x02),
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &errs);
    // tshark: ICMPv6 checksums good, the quoted TCP checksum too.
    let dir6 = std::env::temp_dir().join(format!("upf-lb-icmp6-{}", std::process::id()));
    std::fs::create_dir_all(&dir6).unwrap();
    let pcap6 = dir6.join("icmp6.pcap");
    upf_lb_packet::pcap::write_frames(&pcap6, &[&errs[2].output, &errs[3].output, &errs[5].output])
        .unwrap();
    let f6 = tshark_fields(
        &pcap6,
        &["icmpv6.checksum.status", "tcp.checksum.status", "ipv6.dst"],
        &["tcp.check_checksum:TRUE"],
    );
    let _ = std::fs::remove_dir_all(&dir6);
    for (i, want) in [
        CLIENT6.to_string(),
        FibNs::NH6.to_string(),
        FibNs::NH6.to_string(),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(f6[i], ["1", "1", want.as_str()], "ICMPv6 {i}: {f6:?}");
    }
    // DSR through a tunnel whose egress (n3, MTU 1400) is too small once encapsulated: the
    // client gets ICMP Fragmentation Needed / ICMPv6 Packet Too Big from the VIP with the MTU
    // less the tunnel's header, quoting its packet, back out of its interface.
    let big_vip = Ipv4Addr::new(198, 18, 0, 8);
    let big_vip6 = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x8);
    let far4 = Ipv4Addr::new(198, 51, 100, 77);
    let far6: Ipv6Addr = "2001:db8:99::7".parse().unwrap();
    for (vip, b, src) in [
        (
            IpAddr::from(big_vip),
            IpAddr::from(CLIENT),
            IpAddr::from(lb4),
        ),
        (
            big_vip6.into(),
            "2001:db8:0:3::1".parse().unwrap(),
            lb6.into(),
        ),
    ] {
        let port = if vip.is_ipv4() { 80 } else { 443 };
        dp.set_forwarding(vip, 6, port, Forwarding::DsrTunnel { source: src })
            .unwrap();
        dp.set_service(vip, 6, port, &[be(b, 0)]).unwrap();
    }
    let big = |p: IpPacket| {
        let mut p = p;
        if let L4::Tcp { payload, .. } = &mut p.l4 {
            *payload = vec![0x42; 1390 - 20 - 20];
        }
        p
    };
    let big4 = big(tcp(far4, big_vip, 40000, 80, 0x10));
    let mut big6 = big(tcp6(far6, big_vip6, 40000, 443, 0x10));
    if let L4::Tcp { payload, .. } = &mut big6.l4 {
        payload.truncate(1390 - 40 - 20);
    }
    let back = |p: IpPacket| {
        let f = Frame::new(p.clone());
        Frame {
            dst: f.src,
            src: f.dst,
            vlans: vec![],
            ip: p,
        }
        .to_bytes()
    };
    let mut frag4 = Ipv4::new(big_vip, far4);
    frag4.frag = 0;
    let frag_needed = IpPacket {
        ip: Ip::V4(frag4),
        l4: L4::Icmp {
            ty: 3,
            code: 4,
            rest: [0, 0, (1380u16 >> 8) as u8, 1380u16 as u8],
            payload: big4.to_bytes()[..28].to_vec(),
        },
    };
    let ptb = IpPacket::v6(
        big_vip6,
        far6,
        L4::Icmp {
            ty: 2,
            code: 0,
            rest: 1360u32.to_be_bytes(),
            payload: big6.to_bytes()[..1232].to_vec(),
        },
    );
    let mut no_df = big(tcp(far4, big_vip, 40001, 80, 0x10));
    if let Ip::V4(h) = &mut no_df.ip {
        h.frag = 0;
    }
    let tb = vec![
        Fixture::of(
            "dsr-ipip-too-big-frag-needed-to-the-client",
            &big4,
            xdp::TX,
            back(frag_needed),
            Reason::IcmpFragNeeded,
        ),
        Fixture::of(
            "dsr-ip6ip6-too-big-packet-too-big-to-the-client",
            &big6,
            xdp::TX,
            back(ptb),
            Reason::IcmpPacketTooBig,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &tb);
    // DF clear: it could not be fragmented inside the tunnel either: dropped, counted.
    let (action, _) = fib
        .test_run(dp.xdp(PROG_XDP_LB).unwrap(), &Frame::new(no_df).to_bytes())
        .unwrap();
    assert_eq!(action, xdp::DROP, "DF clear and too big");

    // DSR's connections are tracked in one direction (their replies do not pass here).
    let c = dp
        .connection(&key(CLIENT.into(), dsr.into(), 40000, 80))
        .expect("DSR connection tracked");
    assert_eq!(c.nat_addr[..4], FibNs::NH4.octets());

    // tshark decodes the tunnels: outer to the backend, inner to the VIP, checksums good.
    let dir = std::env::temp_dir().join(format!("upf-lb-dsr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("dsr.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&t[8].output, &t[9].output]).unwrap();
    let f = tshark_fields(
        &pcap,
        &["ip.proto", "ip.dst", "ipv6.nxt", "ipv6.dst", "tcp.dstport"],
        &["ip.check_checksum:TRUE"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        f[0],
        ["4", &FibNs::NH4.to_string(), "", "", "80"],
        "IPIP: {f:?}"
    );
    assert_eq!(
        f[1],
        ["", "", "41", &FibNs::NH6.to_string(), "443"],
        "IP6IP6: {f:?}"
    );

    // The backend's side: decapsulated for its VIPs only.
    dp.set_decap_vips(&[tun.into(), tun6.into()]).unwrap();
    let back = |p: &IpPacket| {
        Frame {
            dst: FibNs::NH_MAC,
            src: FibNs::N6_MAC,
            vlans: vec![],
            ip: p.clone(),
        }
        .to_bytes()
    };
    let other = IpPacket {
        ip: Ip::V4(Ipv4::new(lb4, FibNs::NH4)),
        l4: L4::Raw {
            proto: 4,
            bytes: tcp(CLIENT, dsr, 40000, 80, 0x02).to_bytes(),
        },
    };
    let d = vec![
        Fixture {
            name: "decap-ipip".into(),
            input: t[8].output.clone(),
            action: xdp::PASS,
            output: back(&tinner),
            reason: Reason::LbDecap,
        },
        Fixture {
            name: "decap-ip6ip6".into(),
            input: t[9].output.clone(),
            action: xdp::PASS,
            output: back(&tinner6),
            reason: Reason::LbDecap,
        },
        Fixture::unchanged("decap-not-our-vip", l2(&other), Reason::LbNoService),
        Fixture::unchanged(
            "decap-plain-tcp",
            Frame::new(tcp(CLIENT, tun, 40000, 80, 0x02)).to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(None, &dp, PROG_XDP_LB_DECAP, &d);
}

/// Full NAT's source ports: 30 000 connections from distinct clients to one backend address
/// and port, through one source address, each set up with a port of its own (at least 1024),
/// none refused (double hashing over the 64 512 ports, 16 tries: about 40 000 before the
/// first refusal).
#[test]
fn full_nat_gives_each_connection_a_port_of_its_own() {
    use upf_lb::southbound::lb::Forwarding;
    require_root();
    const N: u32 = 30_000;
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(2, 4, 2 * N + 64).expect("load bpf-lb");
    let vip = Ipv4Addr::new(198, 18, 0, 4);
    let lb4 = Ipv4Addr::new(203, 0, 113, 1);
    dp.set_forwarding(
        vip.into(),
        17,
        53,
        Forwarding::FullNat { source: lb4.into() },
    )
    .unwrap();
    dp.set_service(
        vip.into(),
        17,
        53,
        &[BackendSpec {
            addr: FibNs::NH4.into(),
            port: 5353,
            weight: 1,
        }],
    )
    .unwrap();
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let mut ports = std::collections::HashSet::new();
    for i in 0..N {
        let client = Ipv4Addr::new(198, 19, (i >> 8) as u8, i as u8);
        let f = Frame::new(IpPacket::v4(
            client,
            vip,
            L4::Udp {
                src: 5000 + (i % 7) as u16,
                dst: 53,
                payload: vec![1; 8],
            },
        ))
        .to_bytes();
        let (action, out) = fib.test_run(prog, &f).unwrap();
        assert_eq!(action, xdp::REDIRECT, "connection {i}");
        assert_eq!(out[26..30], lb4.octets(), "from the source address");
        let p = u16::from_be_bytes([out[34], out[35]]);
        assert!(
            (1024..bpf_abi::lb::PROBE_PORT_FIRST).contains(&p),
            "port {p}: 1024 and up, below the health probes' ports"
        );
        assert!(ports.insert(p), "connection {i}: port {p} twice");
    }
    assert_eq!(dp.tracked(), 2 * N as usize);
}

/// The daemon's TCP and UDP health probes go from a probe source and a port of their band
/// (`PROBE_PORT_FIRST` and up): a backend's answer to one is the kernel's, untouched
/// (`lb_health_probe`), before any conntrack lookup; the same to another port, another
/// address or another protocol's probe source is the load balancer's as ever.
#[test]
fn health_probe_answers_reach_the_daemon_untouched() {
    require_root();
    let fib = FibNs::new();
    let mut dp = LbDatapath::load(4, 8, 1024).expect("load bpf-lb");
    dp.set_service(
        VIP.into(),
        6,
        80,
        &[BackendSpec {
            addr: FibNs::NH4.into(),
            port: 8080,
            weight: 1,
        }],
    )
    .unwrap();
    const PROBE4: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 200);
    const PROBE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0xc8);
    dp.set_probe_sources(6, &[PROBE4.into(), PROBE6.into()])
        .unwrap();
    dp.set_probe_sources(17, &[PROBE4.into()]).unwrap();
    let band = bpf_abi::lb::PROBE_PORT_FIRST;
    let udp = |dst, dport| {
        IpPacket::v4(
            FibNs::NH4,
            dst,
            L4::Udp {
                src: 53,
                dst: dport,
                payload: b"answer".to_vec(),
            },
        )
    };
    let syn_ack = 0x12;
    let t = vec![
        Fixture::unchanged(
            "tcp-syn-ack-to-a-probe-port",
            Frame::new(tcp(FibNs::NH4, PROBE4, 8080, band + 88, syn_ack)).to_bytes(),
            Reason::LbHealthProbe,
        ),
        Fixture::unchanged(
            "tcp-rst-to-the-last-probe-port",
            Frame::new(tcp(FibNs::NH4, PROBE4, 8080, 65_535, 0x04)).to_bytes(),
            Reason::LbHealthProbe,
        ),
        Fixture::unchanged(
            "tcp6-syn-ack-to-a-probe-port",
            Frame::new(tcp6(FibNs::NH6, PROBE6, 8080, band, syn_ack)).to_bytes(),
            Reason::LbHealthProbe,
        ),
        Fixture::unchanged(
            "udp-answer-to-a-probe-port",
            Frame::new(udp(PROBE4, band + 488)).to_bytes(),
            Reason::LbHealthProbe,
        ),
        // Not the probes': below the band, to an address that is no probe source, or UDP to a
        // source of TCP probes only.
        Fixture::unchanged(
            "tcp-below-the-band",
            Frame::new(tcp(FibNs::NH4, PROBE4, 8080, band - 1, syn_ack)).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "tcp-to-a-client-in-the-band",
            Frame::new(tcp(FibNs::NH4, CLIENT, 8080, band + 88, syn_ack)).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "udp-to-a-tcp-only-probe-source",
            Frame::new(IpPacket::v6(
                FibNs::NH6,
                PROBE6,
                L4::Udp {
                    src: 53,
                    dst: band + 488,
                    payload: b"answer".to_vec(),
                },
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    // A client's connection is still the load balancer's.
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let (action, _) = fib
        .test_run(
            prog,
            &Frame::new(tcp(CLIENT, VIP, 40_000, 80, 0x02)).to_bytes(),
        )
        .unwrap();
    assert_eq!(action, xdp::REDIRECT, "a client's SYN to the VIP");
}
