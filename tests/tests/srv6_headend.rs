//! Tier 2 and 3: the SRv6 headend (bpf-srv6 `xdp_headend`, RFC 8986 5.1 H.Encaps and 5.2
//! H.Encaps.Red). Fixtures through BPF_PROG_TEST_RUN with policies written by the southbound
//! API: IPv4 and IPv6 packets encapsulated with three segments, reduced to an SRH of one, and
//! reduced to no SRH at all; what no policy covers goes to the kernel untouched; bad policies
//! are refused with a clear error. Then the same packets through the kernel's own seg6 encap
//! (`encap seg6 mode encap|encap.red`) and through ours, in namespaces: identical frames but
//! for the outer Flow Label, which the kernel copies from an IPv6 inner packet (0 for IPv4)
//! and we compute from the inner flow (RFC 6437/6438), and the outer Traffic Class under an
//! IPv4 packet, which the kernel sets to 0 and we copy (as it does for IPv6).

use bpf_abi::{Reason, srv6::PROG_XDP_HEADEND};
use bpf_net::{Cursor, flow::parse_flow};
use std::net::{IpAddr, Ipv6Addr};
use upf_lb::southbound::{Srv6Datapath, srv6::EncapPolicy};
use upf_lb_packet::{Frame, Ip, IpPacket, Ipv6Ext, L4};
use upf_lb_testkit::{
    fixtures::{Fixture, UE_V4, UE_V6, xdp},
    testbed::{FibNs, srv6bed},
};
use upf_lb_tests::{raw::RawSocket, require_root, run_xdp_fixtures_in};

const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 2);
const S2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 1, 0, 0, 0);
const S3: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 2, 0, 0, 0);
/// Destinations the three policies cover.
const V4_DST: &str = "198.51.100.7";
const RED_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 1);
const RED1_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x78, 0, 0, 0, 0, 1);

fn inner4() -> IpPacket {
    let mut p = IpPacket::v4(
        UE_V4,
        V4_DST.parse().unwrap(),
        L4::Udp {
            src: 5000,
            dst: 7000,
            payload: vec![0x5a; 80],
        },
    );
    if let Ip::V4(h) = &mut p.ip {
        h.tos = 0xb8;
    }
    p
}

fn inner6(dst: Ipv6Addr) -> IpPacket {
    let mut p = IpPacket::v6(
        UE_V6,
        dst,
        L4::Udp {
            src: 5001,
            dst: 7001,
            payload: vec![0xa5; 80],
        },
    );
    if let Ip::V6(h) = &mut p.ip {
        h.traffic_class = 0x28;
        h.flow_label = 0x12345;
    }
    p
}

/// The policies: (destination prefix, length, policy).
fn policies(first: Ipv6Addr) -> Vec<(IpAddr, u8, EncapPolicy)> {
    vec![
        (
            IpAddr::from([198, 51, 100, 0]),
            24,
            EncapPolicy {
                src: SRC,
                segments: vec![first, S2, S3],
                reduced: false,
            },
        ),
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 0).into(),
            48,
            EncapPolicy {
                src: SRC,
                segments: vec![first, S2],
                reduced: true,
            },
        ),
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0x78, 0, 0, 0, 0, 0).into(),
            48,
            EncapPolicy {
                src: SRC,
                segments: vec![first],
                reduced: true,
            },
        ),
    ]
}

/// `inner` as our headend sends it: outer IPv6 from SRC to the first segment, Hop Limit 63
/// (64, forwarded once), Traffic Class of the inner packet, our Flow Label, the SRH
/// `srh` (Segment List in wire order, Segments Left) if any.
fn encapsulated(inner: &IpPacket, first: Ipv6Addr, srh: Option<(Vec<Ipv6Addr>, u8)>) -> IpPacket {
    let bytes = inner.to_bytes();
    let mut b = bytes.clone();
    let f = parse_flow(&Cursor::from_slice(&mut b), 0).unwrap();
    let (proto, tc) = match &inner.ip {
        Ip::V4(h) => (4, h.tos),
        Ip::V6(h) => (41, h.traffic_class),
    };
    let mut p = IpPacket::v6(SRC, first, L4::Raw { proto, bytes });
    if let Ip::V6(h) = &mut p.ip {
        h.hop_limit = 63;
        h.traffic_class = tc;
        h.flow_label = bpf_net::flow::flow_label(&f);
        if let Some((segments, segments_left)) = srh {
            h.ext = vec![Ipv6Ext::Srh {
                segments_left,
                segments,
                tlvs: vec![],
            }];
        }
    }
    p
}

#[test]
fn h_encaps_and_h_encaps_red_fixtures() {
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(16).expect("load bpf-srv6");
    for (prefix, len, p) in policies(FibNs::NH6) {
        dp.add_policy(prefix, len, &p).unwrap();
    }
    // Bad policies: a clear error, nothing written.
    let none = EncapPolicy {
        src: SRC,
        segments: vec![],
        reduced: false,
    };
    let e = dp.add_policy(IpAddr::from([203, 0, 113, 0]), 24, &none);
    assert!(e.unwrap_err().to_string().contains("0 segments"));
    let nine = EncapPolicy {
        segments: vec![S2; 9],
        ..none.clone()
    };
    let e = dp.add_policy(IpAddr::from([203, 0, 113, 0]), 24, &nine);
    assert!(e.unwrap_err().to_string().contains("9 segments"));
    let e = dp.add_policy(IpAddr::from([203, 0, 113, 0]), 33, &policies(S2)[0].2);
    assert!(e.unwrap_err().to_string().contains("0 to 32"));

    let out = |p: IpPacket| {
        Frame {
            dst: FibNs::NH_MAC,
            src: FibNs::N6_MAC,
            vlans: vec![],
            ip: p,
        }
        .to_bytes()
    };
    let nh6 = FibNs::NH6;
    let t = vec![
        Fixture {
            name: "h-encaps-ipv4-3-segments".into(),
            input: Frame::new(inner4()).to_bytes(),
            action: xdp::REDIRECT,
            output: out(encapsulated(&inner4(), nh6, Some((vec![S3, S2, nh6], 2)))),
            reason: Reason::Srv6EncapRedirect,
        },
        Fixture {
            name: "h-encaps-red-ipv6-2-segments".into(),
            input: Frame::new(inner6(RED_DST)).to_bytes(),
            action: xdp::REDIRECT,
            output: out(encapsulated(&inner6(RED_DST), nh6, Some((vec![S2], 1)))),
            reason: Reason::Srv6EncapRedirect,
        },
        Fixture {
            name: "h-encaps-red-ipv6-1-segment-no-srh".into(),
            input: Frame::new(inner6(RED1_DST)).to_bytes(),
            action: xdp::REDIRECT,
            output: out(encapsulated(&inner6(RED1_DST), nh6, None)),
            reason: Reason::Srv6EncapRedirect,
        },
        Fixture {
            name: "no-policy".into(),
            input: Frame::new(inner6(FibNs::NH6)).to_bytes(),
            action: xdp::PASS,
            output: Frame::new(inner6(FibNs::NH6)).to_bytes(),
            reason: Reason::Srv6NoPolicy,
        },
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_HEADEND, &t);
}

/// Sends every frame from src and returns what reached sink, per frame.
fn through(b: &srv6bed::Bed, frames: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
    let tx = RawSocket::open(&b.src, "a0").unwrap();
    let rx = RawSocket::open(&b.sink, "a1").unwrap();
    let _ = rx.recv_until_quiet(std::time::Duration::from_millis(300), 64, |_| true);
    frames
        .iter()
        .map(|f| {
            tx.send(f).unwrap();
            rx.recv_until_quiet(std::time::Duration::from_millis(400), 1, |f| {
                f.get(12..14) == Some(&[0x86, 0xdd][..])
                    && !matches!(f.get(14 + 6), Some(&58) | Some(&0))
            })
            .into_iter()
            .next()
        })
        .collect()
}

#[test]
fn our_headend_encapsulates_as_the_kernel_does_but_for_flow_label_and_ipv4_dscp() {
    if !upf_lb::kernel::test_needs(
        "our_headend_encapsulates_as_the_kernel_does_but_for_flow_label_and_ipv4_dscp",
        "seg6",
    ) {
        return;
    }
    require_root();
    let frame = |p: IpPacket| {
        let mut f = Frame::new(p);
        f.dst = srv6bed::DUT_IN_MAC;
        f.src = srv6bed::SRC_MAC;
        f.to_bytes()
    };
    let mut frames = Vec::new();
    for n in [0usize, 80, 700] {
        let data = |b: u8| vec![b; n];
        let mut a = inner4();
        a.l4 = L4::Udp {
            src: 5000,
            dst: 7000,
            payload: data(1),
        };
        frames.push(frame(a));
        for d in [RED_DST, RED1_DST] {
            let mut b = inner6(d);
            b.l4 = L4::Udp {
                src: 5001,
                dst: 7001,
                payload: data(2),
            };
            frames.push(frame(b));
        }
    }
    let segs = |p: &EncapPolicy| {
        p.segments
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };

    let kernel = {
        let b = srv6bed::Bed::new(srv6bed::SINK_MAC);
        b.dut
            .ip(&["sr", "tunsrc", "set", &SRC.to_string()])
            .unwrap();
        for (prefix, len, p) in policies(srv6bed::NH6) {
            let mode = if p.reduced { "encap.red" } else { "encap" };
            let fam = if prefix.is_ipv4() { "-4" } else { "-6" };
            b.dut
                .ip(&[
                    fam,
                    "route",
                    "replace",
                    &format!("{prefix}/{len}"),
                    "encap",
                    "seg6",
                    "mode",
                    mode,
                    "segs",
                    &segs(&p),
                    "dev",
                    "b1",
                ])
                .unwrap();
        }
        through(&b, &frames)
    };
    let (ours, counted) = {
        let b = srv6bed::Bed::new(srv6bed::SINK_MAC);
        let mut dp = Srv6Datapath::load(16).unwrap();
        for (prefix, len, p) in policies(srv6bed::NH6) {
            dp.add_policy(prefix, len, &p).unwrap();
        }
        let x = dp.xdp_mut(PROG_XDP_HEADEND).unwrap();
        b.dut
            .run(|| x.attach("b0", aya::programs::XdpMode::Skb))
            .unwrap();
        let got = through(&b, &frames);
        let c = dp.counters().unwrap();
        let n = c
            .iter()
            .find(|(r, _)| *r == Reason::Srv6EncapRedirect)
            .unwrap()
            .1
            .packets;
        (got, n)
    };
    assert_eq!(
        counted,
        frames.len() as u64,
        "every packet encapsulated in XDP"
    );
    for (i, (k, o)) in kernel.iter().zip(&ours).enumerate() {
        let mut k = k
            .clone()
            .unwrap_or_else(|| panic!("frame {i}: the kernel sent nothing"));
        let mut o = o
            .clone()
            .unwrap_or_else(|| panic!("frame {i}: ours sent nothing"));
        let our_label =
            (u32::from(o[15] & 0x0f) << 16) | (u32::from(o[16]) << 8) | u32::from(o[17]);
        assert_ne!(our_label, 0, "frame {i}: a computed Flow Label");
        for f in [&mut k, &mut o] {
            f[15] &= 0xf0;
            f[16] = 0;
            f[17] = 0;
        }
        // Traffic Class: the kernel copies it from an IPv6 inner packet but sets 0 under an
        // IPv4 one; we copy the inner DSCP and ECN in both (RFC 2983's uniform model, which
        // RFC 8986 5 points to).
        let tc = |f: &[u8]| (f[14] << 4) | (f[15] >> 4);
        let inner_v4 = o[14 + 6] == 4 || (o[14 + 6] == 43 && o[14 + 40] == 4);
        if inner_v4 {
            assert_eq!((tc(&k), tc(&o)), (0, 0xb8), "frame {i}: Traffic Class");
            for f in [&mut k, &mut o] {
                f[14] &= 0xf0;
                f[15] &= 0x0f;
            }
        }
        assert_eq!(k, o, "frame {i}: kernel {k:02x?}\n ours {o:02x?}");
    }
}

/// H.Insert and H.Insert.Red: an IPv6 packet keeps its header and gets an SRH right after it:
/// Segment List[0] its destination (so its UDP checksum, over the final destination, stays
/// right), then the policy's segments (all but the first when reduced); the first segment
/// becomes the destination; Segments Left at it; Hop Limit one less as forwarded. A packet with
/// extension headers of its own is the kernel's. Byte for byte against the packet builder.
#[test]
fn h_insert_and_h_insert_red() {
    use upf_lb_testkit::fixtures::{routed, udp};
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(8).expect("load bpf-srv6");
    let ins: Ipv6Addr = "2001:db8:79::1".parse().unwrap();
    let ins_red: Ipv6Addr = "2001:db8:7a::1".parse().unwrap();
    let p = |reduced| EncapPolicy {
        src: SRC,
        segments: vec![FibNs::NH6, S2],
        reduced,
    };
    dp.add_insert_policy("2001:db8:79::".parse().unwrap(), 48, &p(false))
        .unwrap();
    dp.add_insert_policy("2001:db8:7a::".parse().unwrap(), 48, &p(true))
        .unwrap();
    let with_srh = |dst: Ipv6Addr, sl: u8, segments: Vec<Ipv6Addr>, final_dst: Ipv6Addr| {
        let mut q = udp(SRC.into(), final_dst.into(), 5000, 7000);
        if let Ip::V6(h) = &mut q.ip {
            h.dst = dst;
            h.ext = vec![Ipv6Ext::Srh {
                segments_left: sl,
                segments,
                tlvs: vec![],
            }];
        }
        q
    };
    let plain = |d: Ipv6Addr| udp(SRC.into(), d.into(), 5000, 7000);
    let mut dest_opts = plain(ins);
    if let Ip::V6(h) = &mut dest_opts.ip {
        h.ext = vec![Ipv6Ext::DestOpts(vec![])];
    }
    let t = vec![
        Fixture::of(
            "h-insert",
            &plain(ins),
            xdp::REDIRECT,
            routed(
                with_srh(FibNs::NH6, 2, vec![ins, S2, FibNs::NH6], ins),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::Srv6InsertRedirect,
        ),
        Fixture::of(
            "h-insert-red",
            &plain(ins_red),
            xdp::REDIRECT,
            routed(
                with_srh(FibNs::NH6, 2, vec![ins_red, S2], ins_red),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Reason::Srv6InsertRedirect,
        ),
        Fixture::unchanged(
            "h-insert-leaves-extension-headers-to-the-kernel",
            Frame::new(dest_opts).to_bytes(),
            Reason::Srv6ToKernel,
        ),
    ];
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_HEADEND, &t);
    let e = dp
        .add_insert_policy("2001:db8:79::".parse().unwrap(), 129, &p(false))
        .unwrap_err();
    assert!(e.to_string().contains("0 to 128"), "{e}");
}
