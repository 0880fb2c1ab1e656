//! Tier 2: the SRv6 endpoint behaviours (bpf-srv6, RFC 8986) through BPF_PROG_TEST_RUN with
//! SIDs written by the southbound API, in a namespace whose FIB the program consults: End
//! (next segment, Hop Limit and Segments Left down by one, routed), End.X (the same, to the
//! SID's next hop), End.DX4 and End.DX6 (decapsulated, TTL / Hop Limit down by one, to the
//! SID's next hop), End.DT4, End.DT6, End.DT46 (decapsulated, routed by the main table), each
//! with its negative rows, and the PSP flavour (the SRH popped at the penultimate segment)
//! (Segments Left 0 or beyond Last Entry + 1, no SRH, Hop Limit 1, an inner packet of the wrong
//! family: answered with the ICMPv6 error RFC 8986 asks for, checked byte for byte; Last Entry
//! beyond the header: dropped; an inner packet about to expire: to the kernel), what is no
//! local SID going to the kernel untouched, and the errors' rate limit and the rule never to
//! answer an ICMPv6 error.

use std::net::{IpAddr, Ipv6Addr};
use upf_lb::southbound::{Srv6Datapath, srv6::Behaviour};
use upf_lb_packet::{Frame, Ip, IpPacket, Ipv6Ext, L4};
use upf_lb_testkit::{
    fixtures::{Fixture, UE_V4, UE_V6, routed, udp, xdp},
    testbed::FibNs,
};
use upf_lb_tests::{require_root, run_xdp_fixtures_in};

use bpf_abi::{Reason, srv6::PROG_XDP_SRV6};

/// The locator's End SID and End.DX4 SID (each bound as a /80).
const END_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 1, 0, 0, 0);
const DX4_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 2, 0, 0, 0);
const X_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 3, 0, 0, 0);
const DX6_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 4, 0, 0, 0);
const DT6_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 5, 0, 0, 0);
const DT4_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 6, 0, 0, 0);
const DT46_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 7, 0, 0, 0);
const PSP_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 8, 0, 0, 0);
/// End.T, End.DT6 and End.DT4 in table 100 (which routes the n6 prefixes out of n3, to the
/// gNB's MAC, where the main table routes them out of n6).
const T_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 9, 0, 0, 0);
const DT6_T_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xa, 0, 0, 0);
const DT4_T_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xb, 0, 0, 0);
/// A table with nothing in it.
const EMPTY_T_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xc, 0, 0, 0);
/// A destination no route of the namespace covers.
const FAR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 1);
/// The headend that sent the packets (on the arrival side).
const HEADEND: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 1);

fn srh(segments_left: u8, segments: Vec<Ipv6Addr>) -> Ipv6Ext {
    Ipv6Ext::Srh {
        segments_left,
        segments,
        tlvs: vec![],
    }
}

/// IPv6 from the headend to `dst` with extension headers `ext`, carrying `l4`.
fn v6(dst: Ipv6Addr, hop_limit: u8, ext: Vec<Ipv6Ext>, l4: L4) -> IpPacket {
    let mut p = IpPacket::v6(HEADEND, dst, l4);
    if let Ip::V6(h) = &mut p.ip {
        h.hop_limit = hop_limit;
        h.ext = ext;
    }
    p
}

fn dn_udp() -> L4 {
    udp(HEADEND.into(), FibNs::NH6.into(), 5000, 7000).l4
}

/// A fixture whose packet the program leaves as it is.
fn untouched(name: &str, input: &IpPacket, action: u32, reason: Reason) -> Fixture {
    let bytes = Frame::new(input.clone()).to_bytes();
    Fixture {
        name: name.into(),
        input: bytes.clone(),
        action,
        output: bytes,
        reason,
    }
}

/// The ICMPv6 error a SID at `sid` answers `input` with: from the SID to the headend, Hop
/// Limit 64, the packet quoted in whole 4-byte words, back to the sender's MAC.
fn answered(
    name: &str,
    input: &IpPacket,
    sid: Ipv6Addr,
    (ty, code, pointer): (u8, u8, u32),
    reason: Reason,
) -> Fixture {
    let quote = input.to_bytes();
    let n = quote.len().min(1232) & !3;
    let err = IpPacket::v6(
        sid,
        HEADEND,
        L4::Icmp {
            ty,
            code,
            rest: pointer.to_be_bytes(),
            payload: quote[..n].to_vec(),
        },
    );
    let f = Frame::new(input.clone());
    Fixture {
        name: name.into(),
        input: f.to_bytes(),
        action: xdp::TX,
        output: Frame {
            dst: f.src,
            src: f.dst,
            vlans: vec![],
            ip: err,
        }
        .to_bytes(),
        reason,
    }
}

/// ICMPv6 Time Exceeded, Code 0.
const TIME_EXCEEDED: (u8, u8, u32) = (3, 0, 0);
/// ICMPv6 Parameter Problem, Code 0, Pointer at Segments Left (an SRH right after the header).
const BAD_SL: (u8, u8, u32) = (4, 0, 43);
/// ICMPv6 Parameter Problem, Code 4, Pointer at the upper layer at `at`.
const fn upper_layer(at: u32) -> (u8, u8, u32) {
    (4, 4, at)
}

#[test]
fn endpoint_behaviours_by_the_rfc() {
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(64).expect("load bpf-srv6");
    dp.add_sid(END_SID, 80, Behaviour::End).unwrap();
    dp.add_sid(DX4_SID, 80, Behaviour::EndDx4 { nh: FibNs::NH4 })
        .unwrap();
    dp.add_sid(X_SID, 80, Behaviour::EndX { nh: FibNs::NH6 })
        .unwrap();
    dp.add_sid(DX6_SID, 80, Behaviour::EndDx6 { nh: FibNs::NH6 })
        .unwrap();
    dp.add_sid(DT6_SID, 80, Behaviour::EndDt6 { table: 0 })
        .unwrap();
    dp.add_sid(DT4_SID, 80, Behaviour::EndDt4 { table: 0 })
        .unwrap();
    dp.add_sid(DT46_SID, 80, Behaviour::EndDt46 { table: 0 })
        .unwrap();
    dp.add_sid_psp(PSP_SID, 80, Behaviour::End, true).unwrap();
    for route in [
        "-6 route add 2001:db8:0:6::/64 via 2001:db8:0:3::1 dev n3 onlink table 100",
        "route add 203.0.113.0/24 via 192.0.2.1 dev n3 onlink table 100",
    ] {
        fib.ns.ip(&route.split(' ').collect::<Vec<_>>()).unwrap();
    }
    dp.add_sid(T_SID, 80, Behaviour::EndT { table: 100 })
        .unwrap();
    dp.add_sid(DT6_T_SID, 80, Behaviour::EndDt6 { table: 100 })
        .unwrap();
    dp.add_sid(DT4_T_SID, 80, Behaviour::EndDt4 { table: 100 })
        .unwrap();
    dp.add_sid(EMPTY_T_SID, 80, Behaviour::EndT { table: 200 })
        .unwrap();
    let e = dp
        .add_sid(T_SID, 80, Behaviour::EndT { table: 0 })
        .unwrap_err();
    assert!(e.to_string().contains("End.T needs a table"), "{e}");
    let e = dp
        .add_sid_psp(PSP_SID, 80, Behaviour::EndDt6 { table: 0 }, true)
        .unwrap_err();
    assert!(e.to_string().contains("End, End.X and End.T only"), "{e}");
    // Bad input to the southbound: a clear error.
    let e = dp.add_sid(END_SID, 129, Behaviour::End).unwrap_err();
    assert!(e.to_string().contains("0 to 128"), "{e}");

    let mut t = Vec::new();

    // End: Segment List [NH6, END_SID], Segments Left 1 -> DA NH6, SL 0, Hop Limit 63.
    let path = vec![FibNs::NH6, END_SID];
    let input = v6(END_SID, 64, vec![srh(1, path.clone())], dn_udp());
    let expected = v6(FibNs::NH6, 64, vec![srh(0, path.clone())], dn_udp());
    t.push(Fixture::of(
        "end-next-segment",
        &input,
        xdp::REDIRECT,
        routed(expected, FibNs::NH_MAC, FibNs::N6_MAC),
        Reason::Srv6EndRedirect,
    ));
    // Three segments, the middle one ours: SL 2 -> 1, DA Segment List[1].
    let mid = Ipv6Addr::new(0x2001, 0xdb8, 0, 6, 0, 0, 0, 0x20);
    let path3 = vec![FibNs::NH6, mid, END_SID];
    let input = v6(END_SID, 64, vec![srh(2, path3.clone())], dn_udp());
    let expected = v6(mid, 64, vec![srh(1, path3.clone())], dn_udp());
    // `mid` is on n6 without a neighbour entry: the kernel resolves it.
    let mut to_kernel = Frame::new(expected).to_bytes();
    to_kernel[14 + 7] -= 1;
    t.push(Fixture::of(
        "end-next-segment-unresolved",
        &input,
        xdp::PASS,
        to_kernel,
        Reason::Srv6ToKernel,
    ));
    t.push(answered(
        "end-segments-left-0",
        &v6(END_SID, 64, vec![srh(0, path.clone())], dn_udp()),
        END_SID,
        upper_layer(80),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));
    t.push(answered(
        "end-no-srh",
        &v6(END_SID, 64, vec![], dn_udp()),
        END_SID,
        upper_layer(40),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));
    t.push(answered(
        "end-hop-limit-1",
        &v6(END_SID, 1, vec![srh(1, path.clone())], dn_udp()),
        END_SID,
        TIME_EXCEEDED,
        Reason::Srv6IcmpTimeExceeded,
    ));
    t.push(answered(
        "end-segments-left-beyond-last-entry",
        &v6(END_SID, 64, vec![srh(3, path.clone())], dn_udp()),
        END_SID,
        BAD_SL,
        Reason::Srv6IcmpParamProblemSl,
    ));
    // Last Entry 5 in a header that holds 2 segments.
    let mut bad = Frame::new(v6(END_SID, 64, vec![srh(1, path.clone())], dn_udp())).to_bytes();
    bad[14 + 40 + 4] = 5;
    t.push(Fixture {
        name: "end-last-entry-beyond-the-header".into(),
        input: bad.clone(),
        action: xdp::DROP,
        output: bad,
        reason: Reason::SrhBadLastEntry,
    });

    // TLVs (RFC 8754 2.1): walked by their lengths before any behaviour. An HMAC TLV (2.1.2)
    // cannot be verified in XDP: dropped with its own counter, at an End and at a decap SID;
    // TLVs that overrun the header, or more than are walked, are dropped too.
    let with_tlvs = |sid: Ipv6Addr, sl: u8, segs: Vec<Ipv6Addr>, tlvs: Vec<u8>, l4: L4| {
        v6(
            sid,
            64,
            vec![Ipv6Ext::Srh {
                segments_left: sl,
                segments: segs,
                tlvs,
            }],
            l4,
        )
    };
    let mut hmac = vec![5, 38, 0, 0, 0, 0, 0, 7];
    hmac.extend_from_slice(&[0xab; 32]);
    assert_eq!(hmac.len(), 40);
    t.push(untouched(
        "end-hmac-tlv",
        &with_tlvs(END_SID, 1, path.clone(), hmac.clone(), dn_udp()),
        xdp::DROP,
        Reason::Srv6HmacNotVerified,
    ));
    t.push(untouched(
        "end-tlv-beyond-the-header",
        &with_tlvs(
            END_SID,
            1,
            path.clone(),
            vec![4, 9, 0, 0, 0, 0, 0, 0],
            dn_udp(),
        ),
        xdp::DROP,
        Reason::SrhBadTlv,
    ));
    let mut many = [4u8, 0].repeat(bpf_net::srh::MAX_TLVS + 1);
    many.resize(40, 0);
    t.push(untouched(
        "end-more-tlvs-than-walked",
        &with_tlvs(END_SID, 1, path.clone(), many, dn_udp()),
        xdp::DROP,
        Reason::SrhTooManyTlvs,
    ));

    // End.DX4: the inner IPv4 packet to the SID's next hop, TTL one less.
    let inner = udp(UE_V4.into(), IpAddr::from([198, 51, 100, 7]), 5000, 7000);
    let ipip = L4::Raw {
        proto: 4,
        bytes: inner.to_bytes(),
    };
    t.push(Fixture::of(
        "end-dx4",
        &v6(DX4_SID, 64, vec![], ipip.clone()),
        xdp::REDIRECT,
        routed(inner.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
        Reason::Srv6Dx4Redirect,
    ));
    t.push(untouched(
        "end-dx4-hmac-tlv",
        &with_tlvs(DX4_SID, 0, vec![DX4_SID], hmac.clone(), ipip.clone()),
        xdp::DROP,
        Reason::Srv6HmacNotVerified,
    ));
    t.push(Fixture::of(
        "end-dx4-srh-segments-left-0",
        &v6(DX4_SID, 64, vec![srh(0, vec![DX4_SID])], ipip.clone()),
        xdp::REDIRECT,
        routed(inner.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
        Reason::Srv6Dx4Redirect,
    ));
    t.push(answered(
        "end-dx4-segments-left-1",
        &v6(
            DX4_SID,
            64,
            vec![srh(1, vec![FibNs::NH6, DX4_SID])],
            ipip.clone(),
        ),
        DX4_SID,
        BAD_SL,
        Reason::Srv6IcmpParamProblemSl,
    ));
    let inner6 = L4::Raw {
        proto: 41,
        bytes: udp(HEADEND.into(), FibNs::NH6.into(), 5000, 7000).to_bytes(),
    };
    t.push(answered(
        "end-dx4-inner-ipv6",
        &v6(DX4_SID, 64, vec![], inner6),
        DX4_SID,
        upper_layer(40),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));
    // Inner TTL 1: decapsulated, and the kernel answers Time Exceeded.
    let mut dying = inner.clone();
    if let Ip::V4(h) = &mut dying.ip {
        h.ttl = 1;
    }
    let mut decapsulated = Frame::new(dying.clone()).to_bytes();
    decapsulated[12..14].copy_from_slice(&[0x08, 0x00]);
    t.push(Fixture::of(
        "end-dx4-inner-ttl-1",
        &v6(
            DX4_SID,
            64,
            vec![],
            L4::Raw {
                proto: 4,
                bytes: dying.to_bytes(),
            },
        ),
        xdp::PASS,
        decapsulated,
        Reason::Srv6ToKernel,
    ));

    // End.X: the next segment is FAR, which no route covers; the SID's next hop takes it.
    let xpath = vec![FAR, X_SID];
    t.push(Fixture::of(
        "end-x",
        &v6(X_SID, 64, vec![srh(1, xpath.clone())], dn_udp()),
        xdp::REDIRECT,
        routed(
            v6(FAR, 64, vec![srh(0, xpath.clone())], dn_udp()),
            FibNs::NH_MAC,
            FibNs::N6_MAC,
        ),
        Reason::Srv6EndXRedirect,
    ));
    t.push(answered(
        "end-x-segments-left-0",
        &v6(X_SID, 64, vec![srh(0, xpath)], dn_udp()),
        X_SID,
        upper_layer(80),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));
    // End.DX6 to its next hop, End.DT6 by the main table (the inner destination is on n6).
    let inner6 = udp(UE_V6.into(), FAR.into(), 5000, 7000);
    let in6 = |p: &IpPacket| L4::Raw {
        proto: 41,
        bytes: p.to_bytes(),
    };
    t.push(Fixture::of(
        "end-dx6",
        &v6(DX6_SID, 64, vec![], in6(&inner6)),
        xdp::REDIRECT,
        routed(inner6.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
        Reason::Srv6Dx6Redirect,
    ));
    t.push(answered(
        "end-dx6-inner-ipv4",
        &v6(DX6_SID, 64, vec![], ipip.clone()),
        DX6_SID,
        upper_layer(40),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));
    let to_nh6 = udp(UE_V6.into(), FibNs::NH6.into(), 5000, 7000);
    t.push(Fixture::of(
        "end-dt6",
        &v6(DT6_SID, 64, vec![srh(0, vec![DT6_SID])], in6(&to_nh6)),
        xdp::REDIRECT,
        routed(to_nh6.clone(), FibNs::NH_MAC, FibNs::N6_MAC),
        Reason::Srv6Dt6Redirect,
    ));
    let mut dying6 = to_nh6.clone();
    if let Ip::V6(h) = &mut dying6.ip {
        h.hop_limit = 1;
    }
    t.push(Fixture::of(
        "end-dt6-inner-hop-limit-1",
        &v6(DT6_SID, 64, vec![], in6(&dying6)),
        xdp::PASS,
        Frame::new(dying6.clone()).to_bytes(),
        Reason::Srv6ToKernel,
    ));
    t.push(answered(
        "end-dt6-segments-left-1",
        &v6(
            DT6_SID,
            64,
            vec![srh(1, vec![FibNs::NH6, DT6_SID])],
            in6(&to_nh6),
        ),
        DT6_SID,
        BAD_SL,
        Reason::Srv6IcmpParamProblemSl,
    ));

    // End.DT4 and End.DT46 by the main table (the inner destination is on n6, to its next
    // hop), and End.DT4 and End.DT6 by table 100 (out of n3, to the gNB's MAC).
    let to_nh4 = udp(UE_V4.into(), FibNs::NH4.into(), 5000, 7000);
    let in4 = L4::Raw {
        proto: 4,
        bytes: to_nh4.to_bytes(),
    };
    let main = (FibNs::NH_MAC, FibNs::N6_MAC);
    let table_100 = (FibNs::GNB_MAC, FibNs::N3_MAC);
    for (name, sid, l4, inner, reason, (dmac, smac)) in [
        (
            "end-dt4",
            DT4_SID,
            in4.clone(),
            &to_nh4,
            Reason::Srv6Dt4Redirect,
            main,
        ),
        (
            "end-dt46-ipv4",
            DT46_SID,
            in4.clone(),
            &to_nh4,
            Reason::Srv6Dt4Redirect,
            main,
        ),
        (
            "end-dt46-ipv6",
            DT46_SID,
            in6(&to_nh6),
            &to_nh6,
            Reason::Srv6Dt6Redirect,
            main,
        ),
        (
            "end-dt4-table-100",
            DT4_T_SID,
            in4.clone(),
            &to_nh4,
            Reason::Srv6Dt4Redirect,
            table_100,
        ),
        (
            "end-dt6-table-100",
            DT6_T_SID,
            in6(&to_nh6),
            &to_nh6,
            Reason::Srv6Dt6Redirect,
            table_100,
        ),
    ] {
        t.push(Fixture::of(
            name,
            &v6(sid, 64, vec![], l4),
            xdp::REDIRECT,
            routed(inner.clone(), dmac, smac),
            reason,
        ));
    }
    // End.T (RFC 8986 4.3): End, the next segment routed by table 100.
    let t_path = vec![FibNs::NH6, T_SID];
    t.push(Fixture::of(
        "end-t-table-100",
        &v6(T_SID, 64, vec![srh(1, t_path.clone())], dn_udp()),
        xdp::REDIRECT,
        routed(
            v6(FibNs::NH6, 64, vec![srh(0, t_path)], dn_udp()),
            FibNs::GNB_MAC,
            FibNs::N3_MAC,
        ),
        Reason::Srv6EndRedirect,
    ));
    // A table without the route: not forwarded from XDP.
    let e_path = vec![FibNs::NH6, EMPTY_T_SID];
    let mut to_kernel =
        Frame::new(v6(FibNs::NH6, 64, vec![srh(0, e_path.clone())], dn_udp())).to_bytes();
    to_kernel[14 + 7] -= 1;
    t.push(Fixture::of(
        "end-t-empty-table",
        &v6(EMPTY_T_SID, 64, vec![srh(1, e_path)], dn_udp()),
        xdp::PASS,
        to_kernel,
        Reason::Srv6ToKernel,
    ));
    t.push(answered(
        "end-dt4-inner-ipv6",
        &v6(DT4_SID, 64, vec![], in6(&to_nh6)),
        DT4_SID,
        upper_layer(40),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));
    t.push(answered(
        "end-dt46-udp",
        &v6(DT46_SID, 64, vec![], dn_udp()),
        DT46_SID,
        upper_layer(40),
        Reason::Srv6IcmpParamProblemUpperLayer,
    ));

    // PSP (RFC 8986 4.16.1): at the penultimate segment the SRH goes.
    t.push(Fixture::of(
        "end-psp-pops-the-srh",
        &v6(
            PSP_SID,
            64,
            vec![srh(1, vec![FibNs::NH6, PSP_SID])],
            dn_udp(),
        ),
        xdp::REDIRECT,
        routed(
            v6(FibNs::NH6, 64, vec![], dn_udp()),
            FibNs::NH_MAC,
            FibNs::N6_MAC,
        ),
        Reason::Srv6EndRedirect,
    ));
    let psp3 = vec![FibNs::NH6, FibNs::NH6, PSP_SID];
    t.push(Fixture::of(
        "end-psp-keeps-it-before",
        &v6(PSP_SID, 64, vec![srh(2, psp3.clone())], dn_udp()),
        xdp::REDIRECT,
        routed(
            v6(FibNs::NH6, 64, vec![srh(1, psp3)], dn_udp()),
            FibNs::NH_MAC,
            FibNs::N6_MAC,
        ),
        Reason::Srv6EndRedirect,
    ));

    // An ICMPv6 error is never answered with one (RFC 4443 2.4 (e)): dropped.
    let unreachable = L4::Icmp {
        ty: 1,
        code: 3,
        rest: [0; 4],
        payload: vec![0x60, 0, 0, 0, 0, 0, 17, 64],
    };
    t.push(untouched(
        "end-icmpv6-error-not-answered",
        &v6(END_SID, 64, vec![], unreachable),
        xdp::DROP,
        Reason::Srv6UpperLayerError,
    ));

    // No local SID: the kernel's, untouched.
    t.push(untouched(
        "not-a-sid",
        &v6(FibNs::NH6, 64, vec![srh(1, path.clone())], dn_udp()),
        xdp::PASS,
        Reason::Srv6NoSid,
    ));
    t.push(untouched("ipv4", &inner, xdp::PASS, Reason::Srv6NoSid));

    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_SRV6, &t);

    // Unbound, the End SID is no longer ours.
    dp.remove_sid(END_SID, 80).unwrap();
    let input = v6(END_SID, 64, vec![srh(1, path)], dn_udp());
    run_xdp_fixtures_in(
        Some((&fib.ns, fib.n3_ifindex)),
        &dp,
        PROG_XDP_SRV6,
        &[untouched(
            "end-removed",
            &input,
            xdp::PASS,
            Reason::Srv6NoSid,
        )],
    );
}

/// At most 1000 ICMPv6 errors a second per CPU (RFC 4443 2.4 (f)); the rest are dropped and
/// counted by their reason.
#[test]
fn icmpv6_errors_are_rate_limited() {
    use aya::programs::{TestRun, TestRunOptions};
    require_root();
    let mut dp = Srv6Datapath::load(4).expect("load bpf-srv6");
    dp.add_sid(END_SID, 80, Behaviour::End).unwrap();
    let input = Frame::new(v6(
        END_SID,
        1,
        vec![srh(1, vec![FibNs::NH6, END_SID])],
        dn_udp(),
    ))
    .to_bytes();
    let p = dp.xdp(PROG_XDP_SRV6).unwrap();
    // SAFETY: an all-zero cpu_set_t is valid; the pointer is valid for the calls.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
    let t0 = std::time::Instant::now();
    let (mut tx, mut drop) = (0, 0);
    for _ in 0..1200 {
        let mut out = vec![0u8; input.len() + 128];
        let r = p
            .test_run(TestRunOptions {
                data_in: Some(&input),
                data_out: Some(&mut out),
                ..TestRunOptions::new()
            })
            .unwrap();
        match r.return_value {
            xdp::TX => tx += 1,
            xdp::DROP => drop += 1,
            other => panic!("action {other}"),
        }
    }
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(900),
        "within one window"
    );
    assert_eq!((tx, drop), (1000, 200));
    let c = dp.counters().unwrap();
    let n = |r: Reason| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    assert_eq!(n(Reason::Srv6IcmpTimeExceeded), 1000);
    assert_eq!(n(Reason::Srv6HopLimitExceeded), 200);
}

/// The USP and USD flavours (RFC 8986 4.16.2, 4.16.3) and End.MAP (RFC 9433 6.2):
/// - USP: at the last segment the SRH is popped and the packet goes to the kernel (its upper
///   layer is this node's); before it, End as usual;
/// - USD: at the last segment, or without an SRH, an IPv6 or IPv4 inner packet is
///   decapsulated and routed; before it, End; another upper layer: Parameter Problem;
/// - End.MAP: the destination becomes the mapped SID, Hop Limit one less, any SRH untouched;
///   Hop Limit 1: Time Exceeded;
/// - and the southbound refuses the flavours on other behaviours.
#[test]
fn usp_usd_flavours_and_end_map() {
    use upf_lb::southbound::srv6::Flavours;
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(16).expect("load bpf-srv6");
    let usp_sid = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xb, 0, 0, 0);
    let usd_sid = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xc, 0, 0, 0);
    let map_sid = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xd, 0, 0, 0);
    let other = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xe, 0, 0, 0);
    let usp = Flavours {
        usp: true,
        ..Flavours::default()
    };
    let usd = Flavours {
        usd: true,
        ..Flavours::default()
    };
    dp.add_sid_flavours(usp_sid, 80, Behaviour::End, usp)
        .unwrap();
    dp.add_sid_flavours(usd_sid, 80, Behaviour::End, usd)
        .unwrap();
    dp.add_sid(map_sid, 80, Behaviour::EndMap { mapped: FibNs::NH6 })
        .unwrap();
    let e = dp
        .add_sid_flavours(other, 80, Behaviour::EndDx4 { nh: FibNs::NH4 }, usd)
        .unwrap_err();
    assert!(e.to_string().contains("End, End.X and End.T only"), "{e}");

    let in6 = |p: &IpPacket| L4::Raw {
        proto: 41,
        bytes: p.to_bytes(),
    };
    let to_nh6 = udp(UE_V6.into(), FibNs::NH6.into(), 5000, 7000);
    let to_nh4 = udp(UE_V4.into(), FibNs::NH4.into(), 5000, 7000);
    let in4 = L4::Raw {
        proto: 4,
        bytes: to_nh4.to_bytes(),
    };
    let n6 = (FibNs::NH_MAC, FibNs::N6_MAC);
    let mut t = vec![
        Fixture::of(
            "usp-pops-the-srh-at-the-last-segment",
            &v6(usp_sid, 64, vec![srh(0, vec![usp_sid, other])], dn_udp()),
            xdp::PASS,
            Frame::new(v6(usp_sid, 64, vec![], dn_udp())).to_bytes(),
            Reason::Srv6UspPass,
        ),
        Fixture::of(
            "usp-before-the-last-segment-is-end",
            &v6(
                usp_sid,
                64,
                vec![srh(1, vec![FibNs::NH6, usp_sid])],
                dn_udp(),
            ),
            xdp::REDIRECT,
            routed(
                v6(
                    FibNs::NH6,
                    64,
                    vec![srh(0, vec![FibNs::NH6, usp_sid])],
                    dn_udp(),
                ),
                n6.0,
                n6.1,
            ),
            Reason::Srv6EndRedirect,
        ),
        Fixture::of(
            "usd-decapsulates-ipv6-at-the-last-segment",
            &v6(usd_sid, 64, vec![srh(0, vec![usd_sid])], in6(&to_nh6)),
            xdp::REDIRECT,
            routed(to_nh6.clone(), n6.0, n6.1),
            Reason::Srv6UsdRedirect,
        ),
        Fixture::of(
            "usd-decapsulates-ipv4-without-an-srh",
            &v6(usd_sid, 64, vec![], in4),
            xdp::REDIRECT,
            routed(to_nh4, n6.0, n6.1),
            Reason::Srv6UsdRedirect,
        ),
        Fixture::of(
            "usd-before-the-last-segment-is-end",
            &v6(
                usd_sid,
                64,
                vec![srh(1, vec![FibNs::NH6, usd_sid])],
                in6(&to_nh6),
            ),
            xdp::REDIRECT,
            routed(
                v6(
                    FibNs::NH6,
                    64,
                    vec![srh(0, vec![FibNs::NH6, usd_sid])],
                    in6(&to_nh6),
                ),
                n6.0,
                n6.1,
            ),
            Reason::Srv6EndRedirect,
        ),
        answered(
            "usd-with-a-udp-upper-layer",
            &v6(usd_sid, 64, vec![srh(0, vec![usd_sid])], dn_udp()),
            usd_sid,
            upper_layer(40 + 8 + 16),
            Reason::Srv6IcmpParamProblemUpperLayer,
        ),
        // An encapsulated packet (End.MAP's usual upper layer: the outer destination is in
        // no checksum).
        Fixture::of(
            "end-map-to-the-mapped-sid",
            &v6(map_sid, 64, vec![], in6(&to_nh6)),
            xdp::REDIRECT,
            routed(v6(FibNs::NH6, 64, vec![], in6(&to_nh6)), n6.0, n6.1),
            Reason::Srv6EndMapRedirect,
        ),
        Fixture::of(
            "end-map-keeps-the-srh",
            &v6(
                map_sid,
                64,
                vec![srh(1, vec![other, map_sid])],
                in6(&to_nh6),
            ),
            xdp::REDIRECT,
            routed(
                v6(
                    FibNs::NH6,
                    64,
                    vec![srh(1, vec![other, map_sid])],
                    in6(&to_nh6),
                ),
                n6.0,
                n6.1,
            ),
            Reason::Srv6EndMapRedirect,
        ),
    ];
    t.push(answered(
        "end-map-hop-limit-1",
        &v6(map_sid, 1, vec![], dn_udp()),
        map_sid,
        TIME_EXCEEDED,
        Reason::Srv6IcmpTimeExceeded,
    ));
    run_xdp_fixtures_in(Some((&fib.ns, fib.n3_ifindex)), &dp, PROG_XDP_SRV6, &t);
}

/// End.Limit (RFC 9433 6.8): the SID's arguments carry a rate-limit group and a limit rate
/// (kbit/s); packets of a group over its rate are dropped and counted, within it End applies;
/// groups have buckets of their own; a limit rate of 0 takes the SID's own (here none: no
/// limit). 8 kbit/s gives a bucket of 3000 bytes (the floor), 25 packets of 120 bytes.
#[test]
fn end_limit_rate_limits_by_group() {
    require_root();
    let fib = FibNs::new();
    let mut dp = Srv6Datapath::load(8).expect("load bpf-srv6");
    let loc = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xf, 0, 0, 0);
    dp.add_sid(
        loc,
        64,
        Behaviour::EndLimit {
            args_at: 8,
            rate_kbps: 0,
        },
    )
    .unwrap();
    let sid = |group: u16, kbps: u32| {
        let mut a = loc.octets();
        a[8..10].copy_from_slice(&group.to_be_bytes());
        a[10..14].copy_from_slice(&kbps.to_be_bytes());
        Ipv6Addr::from(a)
    };
    let prog = dp.xdp(PROG_XDP_SRV6).unwrap();
    let send = |s: Ipv6Addr, n: usize| -> (usize, usize) {
        let f = Frame::new(v6(s, 64, vec![srh(1, vec![FibNs::NH6, s])], dn_udp())).to_bytes();
        assert_eq!(f.len() - 14, 120);
        let (mut ok, mut dropped) = (0, 0);
        for _ in 0..n {
            match fib.test_run(prog, &f).unwrap().0 {
                xdp::REDIRECT => ok += 1,
                xdp::DROP => dropped += 1,
                a => panic!("action {a}"),
            }
        }
        (ok, dropped)
    };
    let before = dp.counters().unwrap();
    let (ok, dropped) = send(sid(7, 8), 40);
    assert!(
        (25..=27).contains(&ok) && ok + dropped == 40,
        "group 7 at 8 kbit/s: {ok} through, {dropped} dropped"
    );
    // Another group, its own bucket; no rate (0, and none on the SID): no limit.
    assert_eq!(send(sid(8, 8), 20).0, 20, "group 8: its own bucket");
    assert_eq!(send(sid(9, 0), 200).0, 200, "no limit rate");
    let after = dp.counters().unwrap();
    let n =
        |c: &[(Reason, bpf_abi::Counter)], r| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    assert_eq!(
        n(&after, Reason::Srv6LimitExceeded) - n(&before, Reason::Srv6LimitExceeded),
        dropped as u64
    );
    assert_eq!(
        n(&after, Reason::Srv6EndRedirect) - n(&before, Reason::Srv6EndRedirect),
        (ok + 220) as u64,
        "within the rate: End"
    );
}
