//! Tier 2: multi-homed SCTP through the load balancer (`xdp_lb` and its SCTP programs by tail
//! call) with BPF_PROG_TEST_RUN in a namespace with a known FIB. One association's handshake
//! and traffic on both paths, IPv4 and IPv6, frame for frame (the expected frames built
//! independently by the packet builder, whose CRC32c is checked against RFC 3720's vectors);
//! the rewritten INIT ACK decoded by tshark (checksum good, only VIPs among its addresses);
//! negative rows (unknown tags, malformed handshakes, truncated and bad chunks, a stranger's
//! address); ICMP errors about an association translated inside and out; INIT and INIT ACK
//! floods leave the established associations alone; scapy-built malformed SCTP (its own
//! CRC32c, agreeing with ours) dropped with its counter; a backend that answers every path
//! from its first address still reaches the client on each path from that path's VIP, and
//! what no association knows is dropped (`lb_sctp_untranslatable`).

use bpf_abi::{Reason, lb::PROG_XDP_LB};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use upf_lb::southbound::{
    LbDatapath,
    lb::{LbSizes, SctpBackendSpec},
};
use upf_lb_packet::{
    Frame, IpPacket, L4,
    sctp::{self, ABORT, COOKIE_ACK, COOKIE_ECHO, INIT, INIT_ACK, data, heartbeat, init, param},
};
use upf_lb_testkit::{
    fixtures::{Fixture, routed, xdp},
    testbed::FibNs,
};
use upf_lb_tests::{require_root, run_xdp_fixtures_in, tshark_fields};

/// NGAP's port (TS 38.412).
const PORT: u16 = 38412;
const VIP1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const VIP2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
/// The client (the gNB's address on n3, its MAC known) and its second address.
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);
/// The backend: NH4 on n6, and a second address routed via NH4.
const BE2: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 2);
/// An address the backend announces but the service does not know.
const STRANGER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 99);
const VIP6_1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0x38, 1);
const VIP6_2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0x38, 2);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 1);
const BE6_2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 2);

/// The frame of `p` with the SCTP bytes at `at` (after Ethernet and the IP header) edited by
/// `f`, its checksum left as it was (a malformed packet need not be rejected by its CRC).
fn edited(p: &IpPacket, f: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = Frame::new(p.clone()).to_bytes();
    let at = 14 + 20;
    let mut l4 = b.split_off(at);
    f(&mut l4);
    let total = (20 + l4.len()) as u16;
    b[16..18].copy_from_slice(&total.to_be_bytes());
    // The IPv4 header checksum again.
    b[24..26].fill(0);
    let mut sum = 0u32;
    for w in b[14..34].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    b[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    b.extend_from_slice(&l4);
    b
}

const CLIENT_TAG: u32 = 0x1111_1111;
const BACKEND_TAG: u32 = 0x2222_2222;

/// A namespace with a known FIB (the backend's second addresses routed via its first, the
/// client's second address a neighbour on n3) and the load balancer with the SCTP service on
/// VIP1/VIP2 and on its IPv6 VIPs, at most 64 half-open associations.
fn bed() -> (FibNs, LbDatapath) {
    let fib = FibNs::new();
    fib.ns
        .ip(&[
            "route",
            "add",
            "198.18.5.0/24",
            "via",
            &FibNs::NH4.to_string(),
        ])
        .unwrap();
    fib.ns
        .ip(&[
            "-6",
            "route",
            "add",
            "2001:db8:5::/64",
            "via",
            &FibNs::NH6.to_string(),
        ])
        .unwrap();
    fib.ns
        .ip(&[
            "neigh",
            "add",
            &CLIENT2.to_string(),
            "lladdr",
            "02:00:00:00:0b:01",
            "dev",
            "n3",
            "nud",
            "permanent",
        ])
        .unwrap();
    let mut dp = LbDatapath::load_sized(LbSizes {
        sctp_half_open: 64,
        ..LbSizes::new(8, 64, 1024)
    })
    .expect("load bpf-lb");
    let v4 = |a: Ipv4Addr| IpAddr::V4(a);
    dp.set_sctp_service(
        &[v4(VIP1), v4(VIP2)],
        PORT,
        &[SctpBackendSpec {
            addrs: vec![v4(FibNs::NH4), v4(BE2)],
            weight: 1,
        }],
    )
    .unwrap();
    dp.set_sctp_service(
        &[VIP6_1.into(), VIP6_2.into()],
        PORT,
        &[SctpBackendSpec {
            addrs: vec![FibNs::NH6.into(), BE6_2.into()],
            weight: 1,
        }],
    )
    .unwrap();
    (fib, dp)
}

#[test]
fn a_multi_homed_association_is_one_backend_on_every_path() {
    require_root();
    let (fib, mut dp) = bed();
    let v4 = |a: Ipv4Addr| IpAddr::V4(a);
    // Bad input to the southbound: clear errors naming what is wrong.
    for (vips, port, addrs, want) in [
        (vec![v4(VIP1)], 0, vec![v4(BE2)], "port 0"),
        (
            vec![v4(VIP1), VIP6_1.into()],
            9,
            vec![v4(BE2), BE6_2.into()],
            "both families",
        ),
        (
            vec![v4(VIP1), v4(VIP2)],
            9,
            vec![v4(BE2)],
            "1 addresses for 2 VIPs",
        ),
        (
            vec![v4(VIP1)],
            9,
            vec![BE6_2.into()],
            "not the VIPs' family",
        ),
        (vec![], 9, vec![], "0 VIPs"),
    ] {
        let e = dp
            .set_sctp_service(&vips, port, &[SctpBackendSpec { addrs, weight: 1 }])
            .unwrap_err();
        assert!(e.to_string().contains(want), "{e} (wanted {want})");
    }

    let to_backend = |p: IpPacket| routed(p, FibNs::NH_MAC, FibNs::N6_MAC);
    let to_client = |p: IpPacket| routed(p, FibNs::GNB_MAC, FibNs::N3_MAC);
    let c = |dst, vtag, chunks| sctp::v4(CLIENT, dst, 5000, PORT, vtag, chunks);
    let b = |src, vtag, chunks| sctp::v4(src, CLIENT, PORT, 5000, vtag, chunks);
    let client_init = init(
        INIT,
        CLIENT_TAG,
        &[param(5, &CLIENT.octets()), param(5, &CLIENT2.octets())],
    );
    let cookie = param(7, &[0xc0; 40]);
    let ack_params = |a: [u8; 4], b2: [u8; 4]| {
        vec![
            param(5, &a),
            param(5, &b2),
            param(5, &STRANGER.octets()),
            cookie.clone(),
            param(6, &FibNs::NH6.octets()),
            param(11, b"backend.example"),
        ]
    };
    let hidden = |p: Vec<u8>| {
        let mut p = p;
        p[..2].copy_from_slice(&0x8005u16.to_be_bytes());
        p
    };
    let mut ack_out_params = ack_params(VIP1.octets(), VIP2.octets());
    ack_out_params[2] = hidden(ack_out_params[2].clone());
    ack_out_params[4] = hidden(ack_out_params[4].clone());
    ack_out_params[5] = hidden(ack_out_params[5].clone());
    let init_ack_in = b(
        FibNs::NH4,
        CLIENT_TAG,
        vec![init(
            INIT_ACK,
            BACKEND_TAG,
            &ack_params(FibNs::NH4.octets(), BE2.octets()),
        )],
    );
    let init_ack_out = sctp::v4(
        VIP1,
        CLIENT,
        PORT,
        5000,
        CLIENT_TAG,
        vec![init(INIT_ACK, BACKEND_TAG, &ack_out_params)],
    );
    let t = vec![
        Fixture::of(
            "init-to-vip1-goes-to-the-backend-path-1",
            &c(VIP1, 0, vec![client_init.clone()]),
            xdp::REDIRECT,
            to_backend(c(FibNs::NH4, 0, vec![client_init.clone()])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "init-retransmitted-to-vip2-same-backend-path-2",
            &c(VIP2, 0, vec![client_init.clone()]),
            xdp::REDIRECT,
            to_backend(c(BE2, 0, vec![client_init.clone()])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "init-ack-shows-only-vips",
            &init_ack_in,
            xdp::REDIRECT,
            to_client(init_ack_out.clone()),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "cookie-echo-on-path-2",
            &c(VIP2, BACKEND_TAG, vec![(COOKIE_ECHO, 0, vec![0xc0; 40])]),
            xdp::REDIRECT,
            to_backend(c(BE2, BACKEND_TAG, vec![(COOKIE_ECHO, 0, vec![0xc0; 40])])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "cookie-ack-from-path-2",
            &b(BE2, CLIENT_TAG, vec![(COOKIE_ACK, 0, vec![])]),
            xdp::REDIRECT,
            to_client(b(VIP2, CLIENT_TAG, vec![(COOKIE_ACK, 0, vec![])])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "data-on-path-1",
            &c(VIP1, BACKEND_TAG, vec![data(1000, b"NGSetupRequest")]),
            xdp::REDIRECT,
            to_backend(c(
                FibNs::NH4,
                BACKEND_TAG,
                vec![data(1000, b"NGSetupRequest")],
            )),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "heartbeat-from-the-clients-second-address-on-path-2",
            &sctp::v4(CLIENT2, VIP2, 5000, PORT, BACKEND_TAG, vec![heartbeat()]),
            xdp::REDIRECT,
            to_backend(sctp::v4(
                CLIENT2,
                BE2,
                5000,
                PORT,
                BACKEND_TAG,
                vec![heartbeat()],
            )),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "backend-data-from-path-1-leaves-from-vip1",
            &b(FibNs::NH4, CLIENT_TAG, vec![data(1000, b"NGSetupResponse")]),
            xdp::REDIRECT,
            to_client(b(VIP1, CLIENT_TAG, vec![data(1000, b"NGSetupResponse")])),
            Reason::LbRedirect,
        ),
        // Negative rows.
        Fixture::unchanged(
            "unknown-tag-to-a-vip",
            Frame::new(c(VIP1, 0xdead_beef, vec![data(1, b"x")])).to_bytes(),
            Reason::LbSctpNoAssociation,
        ),
        Fixture::unchanged(
            "init-with-a-tag",
            Frame::new(c(VIP1, 7, vec![client_init.clone()])).to_bytes(),
            Reason::LbSctpBadHandshake,
        ),
        Fixture::unchanged(
            "init-bundled-with-data",
            Frame::new(c(VIP1, 0, vec![client_init.clone(), data(1, b"x")])).to_bytes(),
            Reason::LbSctpBadHandshake,
        ),
        Fixture::unchanged(
            "init-with-initiate-tag-0",
            Frame::new(c(VIP1, 0, vec![init(INIT, 0, &[])])).to_bytes(),
            Reason::LbSctpBadHandshake,
        ),
        Fixture::unchanged(
            "init-shorter-than-its-fixed-part",
            Frame::new(c(VIP1, 0, vec![(INIT, 0, vec![1, 2, 3, 4, 5, 6, 7, 8])])).to_bytes(),
            Reason::LbSctpBadHandshake,
        ),
        Fixture::unchanged(
            "chunk-length-past-the-packet",
            edited(&c(VIP1, BACKEND_TAG, vec![data(1, b"abcd")]), |l4| {
                l4[15] = 200
            }),
            Reason::SctpChunkTruncated,
        ),
        Fixture::unchanged(
            "chunk-length-below-4",
            edited(&c(VIP1, BACKEND_TAG, vec![data(1, b"abcd")]), |l4| {
                l4[15] = 2
            }),
            Reason::SctpChunkBadLength,
        ),
        Fixture::unchanged(
            "truncated-common-header",
            edited(&c(VIP1, BACKEND_TAG, vec![]), |l4| l4.truncate(8)),
            Reason::SctpTruncated,
        ),
        Fixture::unchanged(
            "init-ack-with-a-parameter-past-its-chunk",
            edited(&init_ack_in, |l4| {
                // The first address parameter's length: 8 -> 0x7f0.
                l4[34] = 0x07;
                l4[35] = 0xf0;
            }),
            Reason::LbSctpBadHandshake,
        ),
        Fixture::unchanged(
            "a-strangers-packet-with-the-clients-tag",
            Frame::new(b(STRANGER, CLIENT_TAG, vec![data(2, b"x")])).to_bytes(),
            Reason::LbSctpUnknownPath,
        ),
        Fixture::unchanged(
            "init-ack-not-from-a-backend",
            Frame::new(b(STRANGER, 0x5555, vec![init(INIT_ACK, 9, &[])])).to_bytes(),
            Reason::LbNoService,
        ),
        Fixture::unchanged(
            "sctp-not-to-a-vip",
            Frame::new(c(FibNs::NH4, 0x7777, vec![data(1, b"x")])).to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    // Counters by backend: INIT twice, COOKIE ECHO, DATA and HEARTBEAT to it; INIT ACK,
    // COOKIE ACK and DATA from it.
    let st = dp.backend_stats(v4(VIP1), 132, PORT).unwrap();
    assert_eq!((st[0][0], st[0][2]), (5, 3), "per-backend packets: {st:?}");

    let assocs = dp.sctp_associations();
    let a = assocs
        .iter()
        .find(|a| a.backend_tag == BACKEND_TAG)
        .unwrap_or_else(|| panic!("association tracked: {assocs:?}"));
    assert!(a.established && !a.closing, "{a:?}");
    assert_eq!(
        (a.client_tag, a.client_port, a.port),
        (CLIENT_TAG, 5000, PORT)
    );
    assert_eq!(a.backend, vec![v4(FibNs::NH4), v4(BE2)]);
    assert_eq!(a.vips, vec![v4(VIP1), v4(VIP2)]);
    assert_eq!(
        a.packets,
        (3, 2),
        "cookie echo, data, heartbeat / cookie ack, data"
    );

    // The rewritten INIT ACK as tshark sees it: checksum good, and only the VIPs as addresses.
    let (_, out) = fib
        .test_run(
            dp.xdp(PROG_XDP_LB).unwrap(),
            &Frame::new(init_ack_in.clone()).to_bytes(),
        )
        .unwrap();
    let dir = tempfile_dir();
    let pcap = dir.join("init-ack.pcap");
    upf_lb_packet::pcap::write_frames(&pcap, &[&out]).unwrap();
    let f = tshark_fields(
        &pcap,
        &[
            "sctp.checksum.status",
            "sctp.parameter_ipv4_address",
            "ip.src",
        ],
        &["sctp.checksum:CRC 32c"],
    );
    // 1: Good (tshark's expert status values: 0 bad, 1 good, 2 unverified).
    assert_eq!(f[0][0], "1", "checksum status: {f:?}");
    let all = tshark_all(&pcap, "sctp.parameter_ipv4_address");
    assert_eq!(all, format!("{VIP1},{VIP2}"), "client sees only VIPs");
    assert_eq!(f[0][2], VIP1.to_string());

    // ICMP errors about the association's packets, translated inside and out (RFC 792
    // quotes the IP header and SCTP's ports and tag): a router's Fragmentation Needed and the
    // backend's own Port Unreachable about the client's DATA reach the client quoting the
    // packet as the client sent it (to the VIP; from the VIP when the backend sent it); the
    // client's Destination Unreachable about the backend's DATA (from VIP 2) reaches the
    // backend's path-2 address, quoting the packet as the backend sent it.
    let router = Ipv4Addr::new(203, 0, 113, 50);
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
    let sent_to_be = c(FibNs::NH4, BACKEND_TAG, vec![data(1001, b"x")]);
    let as_client_sent = c(VIP1, BACKEND_TAG, vec![data(1001, b"x")]);
    let from_vip2 = b(VIP2, CLIENT_TAG, vec![data(1002, b"y")]);
    let as_be_sent = b(BE2, CLIENT_TAG, vec![data(1002, b"y")]);
    let e = vec![
        Fixture::of(
            "icmp-frag-needed-from-a-router-about-the-clients-data",
            &icmp(router, CLIENT, 3, 4, mtu, &sent_to_be),
            xdp::REDIRECT,
            to_client(icmp(router, CLIENT, 3, 4, mtu, &as_client_sent)),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp-port-unreachable-from-the-backend",
            &icmp(FibNs::NH4, CLIENT, 3, 3, [0; 4], &sent_to_be),
            xdp::REDIRECT,
            to_client(icmp(VIP1, CLIENT, 3, 3, [0; 4], &as_client_sent)),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp-from-the-client-about-the-backends-data",
            &icmp(CLIENT, VIP2, 3, 1, [0; 4], &from_vip2),
            xdp::REDIRECT,
            to_backend(icmp(CLIENT, BE2, 3, 1, [0; 4], &as_be_sent)),
            Reason::LbIcmpRedirect,
        ),
        Fixture::unchanged(
            "icmp-about-an-unknown-association",
            Frame::new(icmp(
                router,
                CLIENT,
                3,
                4,
                mtu,
                &c(FibNs::NH4, 0x4242_4242, vec![data(1, b"x")]),
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &e);

    // ASCONF (RFC 5061, in an authenticated packet: AUTH first). The client adds an address
    // (a third one, from it): forwarded to the backend, and the new address's data reaches
    // the backend at once (the association is its tags). A backend's ASCONF would announce
    // its own address to the client and cannot be rewritten (AUTH): dropped, counted.
    let client3 = Ipv4Addr::new(192, 0, 2, 9);
    let auth = (0x0f, 0, [&[0u8, 1, 0, 1][..], &[0xa5; 20][..]].concat());
    let asconf = |serial: u32, from: Ipv4Addr, add: Ipv4Addr| {
        let mut v = serial.to_be_bytes().to_vec();
        v.extend(param(5, &from.octets()));
        let mut add_ip = 7u32.to_be_bytes().to_vec();
        add_ip.extend(param(5, &add.octets()));
        v.extend(param(0xc001, &add_ip));
        (0xc1, 0, v)
    };
    let add = vec![auth.clone(), asconf(1, CLIENT, client3)];
    let backend_add = vec![auth, asconf(9, FibNs::NH4, BE2)];
    let before = counter(&dp, Reason::LbSctpBackendAsconf);
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        PROG_XDP_LB,
        &[
            Fixture::of(
                "asconf-add-ip-from-the-client",
                &c(VIP1, BACKEND_TAG, add.clone()),
                xdp::REDIRECT,
                to_backend(c(FibNs::NH4, BACKEND_TAG, add)),
                Reason::LbRedirect,
            ),
            Fixture::of(
                "data-from-the-added-address",
                &sctp::v4(
                    client3,
                    VIP2,
                    5000,
                    PORT,
                    BACKEND_TAG,
                    vec![data(2001, b"z")],
                ),
                xdp::REDIRECT,
                to_backend(sctp::v4(
                    client3,
                    BE2,
                    5000,
                    PORT,
                    BACKEND_TAG,
                    vec![data(2001, b"z")],
                )),
                Reason::LbRedirect,
            ),
            Fixture::unchanged(
                "asconf-from-the-backend-dropped",
                Frame::new(b(FibNs::NH4, CLIENT_TAG, backend_add)).to_bytes(),
                Reason::LbSctpBackendAsconf,
            ),
        ],
    );
    assert_eq!(counter(&dp, Reason::LbSctpBackendAsconf), before + 1);

    // ABORT from the client with the T bit (its own tag): to the backend, association closing.
    let abort = c(VIP1, CLIENT_TAG, vec![(ABORT, 0x01, vec![])]);
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        PROG_XDP_LB,
        &[Fixture::of(
            "abort-with-t-bit-to-the-backend",
            &abort,
            xdp::REDIRECT,
            to_backend(c(FibNs::NH4, CLIENT_TAG, vec![(ABORT, 0x01, vec![])])),
            Reason::LbRedirect,
        )],
    );
    let a = dp
        .sctp_associations()
        .into_iter()
        .find(|a| a.backend_tag == BACKEND_TAG)
        .unwrap();
    assert!(a.closing, "{a:?}");

    // IPv6: the same handshake over the service's IPv6 paths.
    let c6 = |dst, vtag, chunks| sctp::v6(CLIENT6, dst, 6000, PORT, vtag, chunks);
    let b6 = |src, vtag, chunks| sctp::v6(src, CLIENT6, PORT, 6000, vtag, chunks);
    let init6 = init(INIT, 0x3333, &[param(6, &CLIENT6.octets())]);
    let ack6 = |x: Ipv6Addr, y: Ipv6Addr| {
        vec![init(
            INIT_ACK,
            0x4444,
            &[
                param(6, &x.octets()),
                param(6, &y.octets()),
                cookie.clone(),
                param(5, &STRANGER.octets()),
            ],
        )]
    };
    let mut ack6_out = ack6(VIP6_1, VIP6_2);
    {
        // The IPv4 address in an IPv6 association: hidden as Padding.
        let v = &mut ack6_out[0].2;
        let at = 16 + 20 + 20 + cookie.len();
        v[at..at + 2].copy_from_slice(&0x8005u16.to_be_bytes());
    }
    let t6 = vec![
        Fixture::of(
            "init6-to-vip2",
            &c6(VIP6_2, 0, vec![init6.clone()]),
            xdp::REDIRECT,
            to_backend(c6(BE6_2, 0, vec![init6.clone()])),
            Reason::LbRedirect,
        ),
        // The INIT went to VIP2; the backend answers from its first address (as usrsctp
        // does): the INIT ACK leaves from VIP2, where the INIT went (RFC 9260 5.1; issue 23),
        // not from the VIP of the backend address's path.
        Fixture::of(
            "init-ack6-shows-only-vips-from-the-vip-the-init-went-to",
            &b6(FibNs::NH6, 0x3333, ack6(FibNs::NH6, BE6_2)),
            xdp::REDIRECT,
            to_client(b6(VIP6_2, 0x3333, ack6_out)),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "cookie-echo6-on-path-1",
            &c6(VIP6_1, 0x4444, vec![(COOKIE_ECHO, 0, vec![0xc0; 40])]),
            xdp::REDIRECT,
            to_backend(c6(
                FibNs::NH6,
                0x4444,
                vec![(COOKIE_ECHO, 0, vec![0xc0; 40])],
            )),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "cookie-ack6-from-path-2",
            &b6(BE6_2, 0x3333, vec![(COOKIE_ACK, 0, vec![])]),
            xdp::REDIRECT,
            to_client(b6(VIP6_2, 0x3333, vec![(COOKIE_ACK, 0, vec![])])),
            Reason::LbRedirect,
        ),
        Fixture::unchanged(
            "unknown-tag6",
            Frame::new(c6(VIP6_1, 0x9999, vec![data(1, b"x")])).to_bytes(),
            Reason::LbSctpNoAssociation,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t6);
    assert!(
        dp.sctp_associations()
            .iter()
            .any(|a| a.backend_tag == 0x4444
                && a.established
                && a.vips == vec![IpAddr::from(VIP6_1), VIP6_2.into()]),
        "{:?}",
        dp.sctp_associations()
    );

    // ICMPv6 errors about the IPv6 association's packets, translated inside and out (the
    // ICMPv6 checksum over the new pseudo-header; the quoted CRC32c covers no address).
    let router6: Ipv6Addr = "2001:db8:0:6::50".parse().unwrap();
    let icmp6 = |src, dst, ty, code, rest, quoted: &IpPacket| {
        IpPacket::v6(
            src,
            dst,
            L4::Icmp {
                ty,
                code,
                rest,
                payload: quoted.to_bytes(),
            },
        )
    };
    let mtu6 = 1280u32.to_be_bytes();
    let to_be6 = c6(FibNs::NH6, 0x4444, vec![data(7, b"x")]);
    let as_client_sent6 = c6(VIP6_1, 0x4444, vec![data(7, b"x")]);
    let from_vip6_2 = b6(VIP6_2, 0x3333, vec![data(8, b"y")]);
    let as_be_sent6 = b6(BE6_2, 0x3333, vec![data(8, b"y")]);
    let e6 = vec![
        Fixture::of(
            "icmp6-packet-too-big-from-a-router-about-the-clients-data",
            &icmp6(router6, CLIENT6, 2, 0, mtu6, &to_be6),
            xdp::REDIRECT,
            to_client(icmp6(router6, CLIENT6, 2, 0, mtu6, &as_client_sent6)),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp6-port-unreachable-from-the-backend",
            &icmp6(FibNs::NH6, CLIENT6, 1, 4, [0; 4], &to_be6),
            xdp::REDIRECT,
            to_client(icmp6(VIP6_1, CLIENT6, 1, 4, [0; 4], &as_client_sent6)),
            Reason::LbIcmpRedirect,
        ),
        Fixture::of(
            "icmp6-from-the-client-about-the-backends-data",
            &icmp6(CLIENT6, VIP6_2, 1, 1, [0; 4], &from_vip6_2),
            xdp::REDIRECT,
            to_backend(icmp6(CLIENT6, BE6_2, 1, 1, [0; 4], &as_be_sent6)),
            Reason::LbIcmpRedirect,
        ),
        Fixture::unchanged(
            "icmp6-about-an-unknown-association",
            Frame::new(icmp6(
                router6,
                CLIENT6,
                2,
                0,
                mtu6,
                &c6(FibNs::NH6, 0x5555, vec![data(1, b"x")]),
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &e6);

    // Floods. INITs make no state at all; INIT ACKs (a backend answering an INIT flood) fill
    // the half-open table only, bounded, and the established association stays.
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let before = dp.sctp_associations().len();
    for i in 0..3000u32 {
        let f = Frame::new(c(VIP1, 0, vec![init(INIT, 0x1000_0000 + i, &[])])).to_bytes();
        let (action, _) = fib.test_run(prog, &f).unwrap();
        assert_eq!(action, xdp::REDIRECT);
    }
    assert_eq!(
        dp.sctp_associations().len(),
        before,
        "an INIT makes no state"
    );
    for i in 0..3000u32 {
        let f = Frame::new(b(
            FibNs::NH4,
            0x5000_0000 + i,
            vec![init(INIT_ACK, 0x6000_0000 + i, &[])],
        ))
        .to_bytes();
        let (action, _) = fib.test_run(prog, &f).unwrap();
        assert_eq!(action, xdp::REDIRECT);
    }
    let all = dp.sctp_associations();
    let half = all.iter().filter(|a| !a.established).count();
    // The table: two entries a half-open association, and the CPUs' LRU free lists.
    let table = upf_lb::southbound::lru_entries(64 * 2) as usize;
    assert!(
        half <= table,
        "{half} half-open: bounded by the table ({table})"
    );
    assert!(
        all.iter().any(|a| a.backend_tag == 0x4444 && a.established),
        "the established association survives the flood"
    );
}

/// A backend that answers every path from its first address (as usrsctp and most stacks do):
/// what the client receives on a path still comes from the VIP it addressed on that path
/// (issue 23). The INIT went to VIP2 from the client's second address, so the INIT ACK leaves
/// from VIP2; a HEARTBEAT ACK from the backend's first address to the client's path-2
/// address leaves from VIP2, data to its path-1 address from VIP1, from either backend
/// address. A packet from the backend's service port that no association knows is dropped
/// and counted (`lb_sctp_untranslatable`), never passed on with the backend's address.
#[test]
fn replies_leave_from_the_vip_the_client_used_on_that_path() {
    require_root();
    let (fib, mut dp) = bed();
    const CT: u32 = 0x5151_5151;
    const BT: u32 = 0x6262_6262;
    const CPORT: u16 = 6000;
    let to_backend = |p: IpPacket| routed(p, FibNs::NH_MAC, FibNs::N6_MAC);
    // CLIENT and CLIENT2 are both neighbours on n3 (GNB_MAC).
    let to_client = |p: IpPacket| routed(p, FibNs::GNB_MAC, FibNs::N3_MAC);
    let c = |src, dst, vtag, chunks| sctp::v4(src, dst, CPORT, PORT, vtag, chunks);
    let b = |src, dst, vtag, chunks| sctp::v4(src, dst, PORT, CPORT, vtag, chunks);
    let client_init = init(
        INIT,
        CT,
        &[param(5, &CLIENT.octets()), param(5, &CLIENT2.octets())],
    );
    let cookie = param(7, &[0xc1; 40]);
    let ack_in = init(
        INIT_ACK,
        BT,
        &[
            param(5, &FibNs::NH4.octets()),
            param(5, &BE2.octets()),
            cookie.clone(),
        ],
    );
    let ack_out = init(
        INIT_ACK,
        BT,
        &[
            param(5, &VIP1.octets()),
            param(5, &VIP2.octets()),
            cookie.clone(),
        ],
    );
    let hb_ack = (5u8, 0u8, param(1, b"heartbeat info 01"));
    let vips = [IpAddr::V4(VIP1), IpAddr::V4(VIP2)];
    let n3 = fib.n3_ifindex;
    // The INIT to VIP2 came in on n3: n3 is learnt as VIP2's link (LB_SCTP_VIP_LINK) ...
    let t = vec![Fixture::of(
        "init-from-the-clients-second-address-to-vip2",
        &c(CLIENT2, VIP2, 0, vec![client_init.clone()]),
        xdp::REDIRECT,
        to_backend(c(CLIENT2, BE2, 0, vec![client_init.clone()])),
        Reason::LbRedirect,
    )];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    assert_eq!(dp.sctp_links(&vips), vec![None, Some((n3, false))]);
    // ... until an INIT to VIP1 comes in on it too (another client's, never answered): both
    // VIPs' clients on one link, n3 is no VIP's own, and the rules by address decide below.
    let other_init = init(INIT, 0x7373_7373, &[param(5, &CLIENT.octets())]);
    let t = vec![Fixture::of(
        "another-init-to-vip1-on-the-same-link",
        &c(CLIENT, VIP1, 0, vec![other_init.clone()]),
        xdp::REDIRECT,
        to_backend(c(CLIENT, FibNs::NH4, 0, vec![other_init.clone()])),
        Reason::LbRedirect,
    )];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    assert_eq!(dp.sctp_links(&vips), vec![None, None]);
    let t = vec![
        Fixture::of(
            "init-ack-from-the-first-address-leaves-from-vip2",
            &b(FibNs::NH4, CLIENT2, CT, vec![ack_in]),
            xdp::REDIRECT,
            to_client(b(VIP2, CLIENT2, CT, vec![ack_out])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "cookie-echo-to-vip2",
            &c(CLIENT2, VIP2, BT, vec![(COOKIE_ECHO, 0, vec![0xc1; 40])]),
            xdp::REDIRECT,
            to_backend(c(CLIENT2, BE2, BT, vec![(COOKIE_ECHO, 0, vec![0xc1; 40])])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "cookie-ack-from-the-first-address-leaves-from-vip2",
            &b(FibNs::NH4, CLIENT2, CT, vec![(COOKIE_ACK, 0, vec![])]),
            xdp::REDIRECT,
            to_client(b(VIP2, CLIENT2, CT, vec![(COOKIE_ACK, 0, vec![])])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "data-from-the-clients-first-address-to-vip1",
            &c(CLIENT, VIP1, BT, vec![data(1, b"path 1")]),
            xdp::REDIRECT,
            to_backend(c(CLIENT, FibNs::NH4, BT, vec![data(1, b"path 1")])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "heartbeat-on-path-2",
            &c(CLIENT2, VIP2, BT, vec![heartbeat()]),
            xdp::REDIRECT,
            to_backend(c(CLIENT2, BE2, BT, vec![heartbeat()])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "heartbeat-ack-from-the-first-address-leaves-from-vip2",
            &b(FibNs::NH4, CLIENT2, CT, vec![hb_ack.clone()]),
            xdp::REDIRECT,
            to_client(b(VIP2, CLIENT2, CT, vec![hb_ack.clone()])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "data-from-the-second-address-to-the-path-1-client-leaves-from-vip1",
            &b(BE2, CLIENT, CT, vec![data(1, b"to path 1")]),
            xdp::REDIRECT,
            to_client(b(VIP1, CLIENT, CT, vec![data(1, b"to path 1")])),
            Reason::LbRedirect,
        ),
        Fixture::of(
            "data-from-the-first-address-to-the-path-1-client-leaves-from-vip1",
            &b(FibNs::NH4, CLIENT, CT, vec![data(2, b"to path 1")]),
            xdp::REDIRECT,
            to_client(b(VIP1, CLIENT, CT, vec![data(2, b"to path 1")])),
            Reason::LbRedirect,
        ),
        // No association has this tag: the backend's own address must not reach the client.
        Fixture::unchanged(
            "backend-packet-of-no-association",
            Frame::new(b(FibNs::NH4, CLIENT, 0xdead_0001, vec![data(3, b"x")])).to_bytes(),
            Reason::LbSctpUntranslatable,
        ),
        Fixture::unchanged(
            "backend-abort-of-no-association",
            Frame::new(b(BE2, CLIENT2, 0xdead_0002, vec![(ABORT, 0, vec![])])).to_bytes(),
            Reason::LbSctpUntranslatable,
        ),
        // From another port of the backend's host: not the service's, the kernel's.
        Fixture::unchanged(
            "backend-host-other-port",
            Frame::new(sctp::v4(
                FibNs::NH4,
                CLIENT,
                PORT + 1,
                CPORT,
                0xdead_0003,
                vec![data(4, b"x")],
            ))
            .to_bytes(),
            Reason::LbNoService,
        ),
    ];
    let before = counter(&dp, Reason::LbSctpUntranslatable);
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    assert_eq!(counter(&dp, Reason::LbSctpUntranslatable), before + 2);
    // The association's entries know the client's address on each path.
    let a = dp.sctp_associations();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        a[0].clients,
        vec![Some(IpAddr::V4(CLIENT)), Some(IpAddr::V4(CLIENT2))],
        "{a:?}"
    );
    // Pinned (the service's `links`): VIP2's clients on n3, VIP1's elsewhere; now what leaves
    // on n3 for a client comes from VIP2, whichever address it goes to.
    // Any other link: the loopback's index.
    const LO: u32 = 1;
    assert_eq!(dp.sctp_links(&vips), vec![None, None]);
    dp.pin_sctp_links(&vips, &[LO, n3]).unwrap();
    assert_eq!(
        dp.sctp_links(&vips),
        vec![Some((LO, true)), Some((n3, true))]
    );
    let t = vec![
        Fixture::of(
            "pinned-link-data-to-the-path-1-client-leaves-from-vip2",
            &b(FibNs::NH4, CLIENT, CT, vec![data(5, b"pinned")]),
            xdp::REDIRECT,
            to_client(b(VIP2, CLIENT, CT, vec![data(5, b"pinned")])),
            Reason::LbRedirect,
        ),
        // Pinned links are not relearnt from what comes in.
        Fixture::of(
            "an-init-to-vip1-on-n3",
            &c(CLIENT, VIP1, 0, vec![other_init.clone()]),
            xdp::REDIRECT,
            to_backend(c(CLIENT, FibNs::NH4, 0, vec![other_init.clone()])),
            Reason::LbRedirect,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    assert_eq!(
        dp.sctp_links(&vips),
        vec![Some((LO, true)), Some((n3, true))]
    );
    dp.pin_sctp_links(&vips, &[0, 0]).unwrap();
    assert_eq!(
        dp.sctp_links(&vips),
        vec![None, None],
        "unpinned: learnt again"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("upf-lb-sctp-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every occurrence of `field` in the first packet, comma-separated (tshark's default).
fn tshark_all(pcap: &std::path::Path, field: &str) -> String {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-T", "fields", "-E", "occurrence=a", "-e", field])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Malformed and unexpected SCTP built by scapy (an independent encoder, its own CRC32c):
/// `name`, the frame, and the counter it must move.
const SCAPY_NEGATIVE: &str = r#"
from scapy.all import Ether, IP, raw
from scapy.layers.sctp import SCTP, SCTPChunkInit, SCTPChunkInitAck, SCTPChunkData, SCTPChunkHeartbeatAck, SCTPChunkParamIPv4Addr, SCTPChunkParamStateCookie
eth = Ether(src="02:00:00:00:0b:01", dst="02:00:00:00:03:01")
to_vip = eth / IP(src="192.0.2.1", dst="198.18.0.10")
from_be = eth / IP(src="203.0.113.10", dst="192.0.2.1")
def out(name, pkt, reason):
    print(f"name={name}"); print(f"frame={raw(pkt).hex()}"); print(f"reason={reason}"); print("--")
out("init-ok", to_vip / SCTP(sport=7000, dport=38412, tag=0) / SCTPChunkInit(init_tag=0x0bad0001, a_rwnd=65536, n_out_streams=2, n_in_streams=2, init_tsn=1), "lb_redirect")
out("unknown-tag", to_vip / SCTP(sport=7000, dport=38412, tag=0x0bad0bad) / SCTPChunkData(tsn=1, data=b"x"), "lb_sctp_no_association")
out("init-with-tag", to_vip / SCTP(sport=7000, dport=38412, tag=5) / SCTPChunkInit(init_tag=7, a_rwnd=65536, n_out_streams=2, n_in_streams=2, init_tsn=1), "lb_sctp_bad_handshake")
out("init-bundled", to_vip / SCTP(sport=7000, dport=38412, tag=0) / SCTPChunkInit(init_tag=7, a_rwnd=65536, n_out_streams=2, n_in_streams=2, init_tsn=1) / SCTPChunkData(tsn=1, data=b"x"), "lb_sctp_bad_handshake")
out("init-tag-zero", to_vip / SCTP(sport=7000, dport=38412, tag=0) / SCTPChunkInit(init_tag=0, a_rwnd=65536, n_out_streams=2, n_in_streams=2, init_tsn=1), "lb_sctp_bad_handshake")
out("chunk-len-2", to_vip / SCTP(sport=7000, dport=38412, tag=0x0bad0bad) / SCTPChunkData(len=2, tsn=1, data=b"abcd"), "sctp_chunk_bad_length")
out("chunk-len-past-end", to_vip / SCTP(sport=7000, dport=38412, tag=0x0bad0bad) / SCTPChunkData(len=400, tsn=1, data=b"abcd"), "sctp_chunk_truncated")
pkt = to_vip / SCTP(sport=7000, dport=38412, tag=0x0bad0bad)
for _ in range(17):
    pkt = pkt / SCTPChunkHeartbeatAck()
out("seventeen-chunks", pkt, "sctp_too_many_chunks")
out("init-ack-bad-param", from_be / SCTP(sport=38412, dport=7001, tag=0x0bad0002) / SCTPChunkInitAck(init_tag=0x0bad0003, a_rwnd=65536, n_out_streams=2, n_in_streams=2, init_tsn=1, params=[SCTPChunkParamIPv4Addr(len=200, addr="203.0.113.10")]), "lb_sctp_bad_handshake")
out("init-ack-ok", from_be / SCTP(sport=38412, dport=7001, tag=0x0bad0002) / SCTPChunkInitAck(init_tag=0x0bad0003, a_rwnd=65536, n_out_streams=2, n_in_streams=2, init_tsn=1, params=[SCTPChunkParamIPv4Addr(addr="203.0.113.10"), SCTPChunkParamIPv4Addr(addr="198.18.5.2"), SCTPChunkParamStateCookie(cookie=b"c" * 20)]), "lb_redirect")
"#;

#[test]
fn scapy_built_sctp_negatives_are_dropped_and_counted() {
    require_root();
    let (fib, dp) = bed();
    let recs = upf_lb_tests::python_records(SCAPY_NEGATIVE, &[]);
    assert_eq!(recs.len(), 10, "{recs:?}");
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    for r in &recs {
        let name = &r["name"];
        let frame: Vec<u8> = (0..r["frame"].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&r["frame"][i..i + 2], 16).unwrap())
            .collect();
        // scapy's checksum agrees with the CRC32c our builder and datapath use.
        let l4 = &frame[34..];
        let mut z = l4.to_vec();
        z[8..12].fill(0);
        assert_eq!(
            l4[8..12],
            bpf_net::sctp::crc32c(&z).to_le_bytes(),
            "{name}: scapy's CRC32c"
        );
        let want = Reason::ALL
            .iter()
            .copied()
            .find(|x| x.name() == r["reason"])
            .unwrap_or_else(|| panic!("{name}: no reason {}", r["reason"]));
        let before = counter(&dp, want);
        let (action, out) = fib.test_run(prog, &frame).unwrap();
        assert_eq!(counter(&dp, want), before + 1, "{name}: {want:?} counted");
        if want == Reason::LbRedirect {
            assert_eq!(action, xdp::REDIRECT, "{name}");
            // The rewritten packet's checksum is still good (the INIT ACK's recomputed).
            let l4 = &out[34..];
            let mut z = l4.to_vec();
            z[8..12].fill(0);
            assert_eq!(l4[8..12], bpf_net::sctp::crc32c(&z).to_le_bytes(), "{name}");
        } else {
            assert_eq!(action, xdp::DROP, "{name}: dropped");
        }
    }
    assert!(
        dp.sctp_associations()
            .iter()
            .all(|a| a.backend_tag == 0x0bad_0003),
        "only the good INIT ACK made state: {:?}",
        dp.sctp_associations()
    );
}

fn counter(dp: &LbDatapath, r: Reason) -> u64 {
    dp.counters()
        .unwrap()
        .into_iter()
        .find(|(x, _)| *x == r)
        .map_or(0, |(_, c)| c.packets)
}

/// The daemon's SCTP health probe sends an INIT from a local address to a backend; the
/// backend's INIT ACK (or ABORT) to that address is the probe's, left to the kernel untouched
/// (`lb_health_probe`), while the same INIT ACK to a client is still a client's handshake.
#[test]
fn health_probe_answers_reach_the_daemon_untouched() {
    require_root();
    let (fib, mut dp) = bed();
    // The daemon's probe sources: its address towards the backends, in each family.
    const PROBE4: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 200);
    const PROBE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0xc8);
    let ack = |tag| vec![init(INIT_ACK, tag, &[param(7, &[0xc0; 40])])];
    let probe_ack4 = sctp::v4(FibNs::NH4, PROBE4, PORT, 50_001, 0x7777, ack(0x1234));
    let probe_ack6 = sctp::v6(FibNs::NH6, PROBE6, PORT, 50_002, 0x7778, ack(0x1235));
    let probe_abort4 = sctp::v4(
        FibNs::NH4,
        PROBE4,
        PORT,
        50_003,
        0x7779,
        vec![(ABORT, 0, vec![])],
    );
    let client_ack4 = sctp::v4(FibNs::NH4, CLIENT, PORT, 5000, 0x8888, ack(0x1236));

    // Not yet told: an INIT ACK from a backend is a client's handshake, wherever it goes.
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let (action, _) = fib
        .test_run(prog, &Frame::new(probe_ack4.clone()).to_bytes())
        .unwrap();
    assert_ne!(action, xdp::PASS, "an unknown destination is not a probe's");

    dp.set_probe_sources(132, &[PROBE4.into(), PROBE6.into()])
        .unwrap();
    let before = counter(&dp, Reason::LbHealthProbe);
    let t = vec![
        Fixture::unchanged(
            "probe-init-ack-v4-to-the-kernel",
            Frame::new(probe_ack4.clone()).to_bytes(),
            Reason::LbHealthProbe,
        ),
        Fixture::unchanged(
            "probe-init-ack-v6-to-the-kernel",
            Frame::new(probe_ack6.clone()).to_bytes(),
            Reason::LbHealthProbe,
        ),
        // A backend that refuses the probe: its ABORT (of no association) reaches the daemon
        // too, where from a backend to anyone else it would be untranslatable.
        Fixture::unchanged(
            "probe-abort-to-the-kernel",
            Frame::new(probe_abort4).to_bytes(),
            Reason::LbHealthProbe,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_LB, &t);
    assert_eq!(counter(&dp, Reason::LbHealthProbe), before + 3);

    // A client's INIT ACK is still rewritten and routed to the client.
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let (action, out) = fib
        .test_run(prog, &Frame::new(client_ack4).to_bytes())
        .unwrap();
    assert_eq!(action, xdp::REDIRECT, "the client's INIT ACK");
    assert_eq!(
        &out[14 + 12..14 + 16],
        &VIP1.octets(),
        "sourced from the VIP"
    );

    // Told again without them: the probe sources are gone, and so is the exemption.
    dp.set_probe_sources(132, &[]).unwrap();
    let prog = dp.xdp(PROG_XDP_LB).unwrap();
    let (action, _) = fib
        .test_run(prog, &Frame::new(probe_ack6).to_bytes())
        .unwrap();
    assert_ne!(action, xdp::PASS, "no longer a probe source");
}
