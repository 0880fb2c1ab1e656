//! Tier 3: our SRv6 endpoint against the kernel's own (seg6local End, End with the PSP flavour,
//! End.X, End.DX4, End.DX6, End.DT6, End.DT4 in a VRF) on the same generated packets. Namespaces src -> dut -> sink over veth: the packets are sent as raw
//! frames from src, the dut forwards them (once with seg6local routes, once with xdp_srv6
//! attached to its ingress and no seg6local), and what reaches sink is compared frame by frame:
//! the two must be identical. One difference is the kernel's, documented in its own test.

use bpf_abi::Reason;
use std::{net::Ipv6Addr, time::Duration};
use upf_lb::southbound::{Srv6Datapath, srv6::Behaviour};
use upf_lb_packet::{Frame, Ip, IpPacket, Ipv6Ext, L4};
use upf_lb_testkit::fixtures::UE_V4;
use upf_lb_tests::{raw::RawSocket, require_root};

use upf_lb_testkit::testbed::srv6bed::{
    Bed, DT6_SID, DT6_T_SID, DUT_IN_MAC, DX4_SID, DX6_SID, END_SID, HEADEND, INNER_DST, INNER6_DST,
    MID, NH4, NH6, OTHER_MAC, PSP_SID, SINK_MAC, SRC_MAC, T_SID, TABLE, TABLE_DST, X_SID,
};

/// Sends every frame from src and returns, per frame, the frame that reached sink (None
/// when nothing did).
fn run(b: &Bed, frames: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
    let tx = RawSocket::open(&b.src, "a0").unwrap();
    let rx = RawSocket::open(&b.sink, "a1").unwrap();
    // Let neighbour discovery and router solicitations of the fresh links pass first.
    let _ = rx.recv_until_quiet(Duration::from_millis(300), 64, |_| true);
    frames
        .iter()
        .map(|f| {
            tx.send(f).unwrap();
            rx.recv_until_quiet(Duration::from_millis(400), 1, is_test_packet)
                .into_iter()
                .next()
        })
        .collect()
}

/// IPv4, or IPv6 that is neither ICMPv6 nor behind a Hop-by-Hop header (neighbour discovery,
/// MLD, router solicitations).
fn is_test_packet(f: &[u8]) -> bool {
    match (f.get(12), f.get(13)) {
        (Some(0x08), Some(0x00)) => true,
        (Some(0x86), Some(0xdd)) => !matches!(f.get(14 + 6), Some(&58) | Some(&0)),
        _ => false,
    }
}

fn frame(p: IpPacket) -> Vec<u8> {
    let mut f = Frame::new(p);
    f.dst = DUT_IN_MAC;
    f.src = SRC_MAC;
    f.to_bytes()
}

fn v6(dst: Ipv6Addr, hop: u8, tc: u8, fl: u32, ext: Vec<Ipv6Ext>, l4: L4) -> IpPacket {
    let mut p = IpPacket::v6(HEADEND, dst, l4);
    if let Ip::V6(h) = &mut p.ip {
        h.hop_limit = hop;
        h.traffic_class = tc;
        h.flow_label = fl;
        h.ext = ext;
    }
    p
}

fn payload(n: usize) -> L4 {
    L4::Udp {
        src: 5000,
        dst: 7000,
        payload: (0..n).map(|i| i as u8).collect(),
    }
}

/// Generated inputs: End over 2 and 3 segments, with and without a TLV, at several Hop
/// Limits, Traffic Classes, Flow Labels and sizes; End.DX4 with and without an SRH, several
/// inner TTLs, ToS and sizes.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let pad = vec![4u8, 6, 0, 0, 0, 0, 0, 0]; // PadN (RFC 8754 2.1.1.2)
    for (i, (hop, tc, fl, n)) in [
        (64u8, 0u8, 0u32, 16usize),
        (2, 0xb8, 0x12345, 0),
        (255, 0x20, 0xfffff, 700),
        (17, 1, 1, 1200),
    ]
    .into_iter()
    .enumerate()
    {
        for tlv in [false, true] {
            let tlvs = if tlv { pad.clone() } else { vec![] };
            let two = Ipv6Ext::Srh {
                segments_left: 1,
                segments: vec![NH6, END_SID],
                tlvs: tlvs.clone(),
            };
            v.push((
                format!("end-2seg-{i}-tlv{tlv}"),
                frame(v6(END_SID, hop, tc, fl, vec![two], payload(n))),
            ));
            let three = Ipv6Ext::Srh {
                segments_left: 2,
                segments: vec![NH6, MID, END_SID],
                tlvs,
            };
            v.push((
                format!("end-3seg-{i}-tlv{tlv}"),
                frame(v6(END_SID, hop, tc, fl, vec![three], payload(n))),
            ));
        }
        let inner = {
            let mut p = IpPacket::v4(UE_V4, INNER_DST.parse().unwrap(), payload(n));
            if let Ip::V4(h) = &mut p.ip {
                h.ttl = hop.max(2);
                h.tos = tc;
            }
            p
        };
        let ipip = L4::Raw {
            proto: 4,
            bytes: inner.to_bytes(),
        };
        v.push((
            format!("dx4-{i}"),
            frame(v6(DX4_SID, hop, tc, fl, vec![], ipip.clone())),
        ));
        let srh0 = Ipv6Ext::Srh {
            segments_left: 0,
            segments: vec![DX4_SID],
            tlvs: vec![],
        };
        v.push((
            format!("dx4-srh-{i}"),
            frame(v6(DX4_SID, hop, tc, fl, vec![srh0], ipip)),
        ));
        // End with PSP: popped at the penultimate segment (2 segments), kept before (3).
        for (k, path) in [(1u8, vec![NH6, PSP_SID]), (2, vec![NH6, MID, PSP_SID])] {
            let e = Ipv6Ext::Srh {
                segments_left: k,
                segments: path,
                tlvs: vec![],
            };
            v.push((
                format!("end-psp-{k}-{i}"),
                frame(v6(PSP_SID, hop, tc, fl, vec![e], payload(n))),
            ));
        }
        // End.X: the final segment is far away; the SID's next hop takes the packet.
        let far = Ipv6Addr::new(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 1);
        let x = Ipv6Ext::Srh {
            segments_left: 1,
            segments: vec![far, X_SID],
            tlvs: vec![],
        };
        v.push((
            format!("end-x-{i}"),
            frame(v6(X_SID, hop, tc, fl, vec![x], payload(n))),
        ));
        // End.DX6 and End.DT6: an inner IPv6 packet.
        let inner6 = |dst: Ipv6Addr| {
            let mut p = IpPacket::v6(HEADEND, dst, payload(n));
            if let Ip::V6(h) = &mut p.ip {
                h.hop_limit = hop.max(2);
                h.traffic_class = tc;
                h.flow_label = fl;
            }
            L4::Raw {
                proto: 41,
                bytes: p.to_bytes(),
            }
        };
        v.push((
            format!("dx6-{i}"),
            frame(v6(DX6_SID, hop, tc, fl, vec![], inner6(INNER6_DST))),
        ));
        v.push((
            format!("dt6-{i}"),
            frame(v6(DT6_SID, hop, tc, fl, vec![], inner6(NH6))),
        ));
        // End.T and End.DT6 by a table of their own: only it routes TABLE_DST.
        let t = Ipv6Ext::Srh {
            segments_left: 1,
            segments: vec![TABLE_DST, T_SID],
            tlvs: vec![],
        };
        v.push((
            format!("end-t-{i}"),
            frame(v6(T_SID, hop, tc, fl, vec![t], payload(n))),
        ));
        v.push((
            format!("dt6-table-{i}"),
            frame(v6(DT6_T_SID, hop, tc, fl, vec![], inner6(TABLE_DST))),
        ));
    }
    v
}

/// The bed with the kernel's seg6local routes for the SIDs.
fn kernel(inner_dst_mac: [u8; 6]) -> Bed {
    let b = Bed::new(inner_dst_mac);
    let nh6 = NH6.to_string();
    let table = TABLE.to_string();
    for (sid, action, dev) in [
        (END_SID, &["End"][..], "b0"),
        (DX4_SID, &["End.DX4", "nh4", NH4], "b1"),
        (X_SID, &["End.X", "nh6", &nh6], "b1"),
        (DX6_SID, &["End.DX6", "nh6", &nh6], "b1"),
        (DT6_SID, &["End.DT6", "table", "254"], "b1"),
        (T_SID, &["End.T", "table", &table], "b0"),
        (DT6_T_SID, &["End.DT6", "table", &table], "b1"),
    ] {
        b.seg6local(sid, action, dev).unwrap();
    }
    // The PSP flavour where the kernel has it (Linux 6.2 and newer): its own test.
    if upf_lb::kernel::has_seg6_psp().is_ok() {
        b.seg6local(PSP_SID, &["End", "flavors", "psp"], "b0")
            .unwrap();
    }
    b
}

/// The bed with xdp_srv6 on the dut's ingress, the same SIDs in its table, no seg6local.
fn ours(inner_dst_mac: [u8; 6]) -> (Bed, Srv6Datapath) {
    let b = Bed::new(inner_dst_mac);
    let mut dp = Srv6Datapath::load(16).expect("load bpf-srv6");
    dp.add_sid(END_SID, 80, Behaviour::End).unwrap();
    let nh = NH4.parse().unwrap();
    dp.add_sid(DX4_SID, 80, Behaviour::EndDx4 { nh }).unwrap();
    dp.add_sid(X_SID, 80, Behaviour::EndX { nh: NH6 }).unwrap();
    dp.add_sid(DX6_SID, 80, Behaviour::EndDx6 { nh: NH6 })
        .unwrap();
    dp.add_sid(DT6_SID, 80, Behaviour::EndDt6 { table: 0 })
        .unwrap();
    dp.add_sid(T_SID, 80, Behaviour::EndT { table: TABLE })
        .unwrap();
    dp.add_sid(DT6_T_SID, 80, Behaviour::EndDt6 { table: TABLE })
        .unwrap();
    dp.add_sid_psp(PSP_SID, 80, Behaviour::End, true).unwrap();
    let p = dp.xdp_mut(bpf_abi::srv6::PROG_XDP_SRV6).expect("program");
    b.dut
        .run(|| p.attach("b0", aya::programs::XdpMode::Skb))
        .expect("attach");
    (b, dp)
}

fn forwarded_by_xdp(dp: &Srv6Datapath) -> u64 {
    let c = dp.counters().unwrap();
    let n = |r: Reason| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    n(Reason::Srv6EndRedirect)
        + n(Reason::Srv6EndXRedirect)
        + n(Reason::Srv6Dx4Redirect)
        + n(Reason::Srv6Dx6Redirect)
        + n(Reason::Srv6Dt6Redirect)
}

#[test]
fn our_endpoint_behaviours_forward_exactly_what_the_kernel_does() {
    if !upf_lb::kernel::test_needs(
        "our_endpoint_behaviours_forward_exactly_what_the_kernel_does",
        "seg6",
    ) {
        return;
    }
    require_root();
    compare(
        inputs()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("end-psp"))
            .collect(),
    );
}

/// As the main test, for End with the PSP flavour (RFC 8986 4.16.1), which the kernel's
/// seg6local has from Linux 6.2 on.
#[test]
fn our_end_with_psp_forwards_exactly_what_the_kernel_does() {
    if !upf_lb::kernel::test_needs(
        "our_end_with_psp_forwards_exactly_what_the_kernel_does",
        "seg6-psp",
    ) {
        return;
    }
    require_root();
    compare(
        inputs()
            .into_iter()
            .filter(|(n, _)| n.starts_with("end-psp"))
            .collect(),
    );
}

/// Sends `inputs` through the kernel's bed and through ours; every frame must reach sink,
/// by XDP in ours, and the frames must be identical.
fn compare(inputs: Vec<(String, Vec<u8>)>) {
    assert!(!inputs.is_empty());
    let frames: Vec<Vec<u8>> = inputs.iter().map(|(_, f)| f.clone()).collect();
    let k = run(&kernel(SINK_MAC), &frames);
    let (b, dp) = ours(SINK_MAC);
    let o = run(&b, &frames);
    assert_eq!(
        forwarded_by_xdp(&dp),
        frames.len() as u64,
        "every packet forwarded by XDP, none left to the kernel"
    );
    // Whole frames: the dut's MACs are fixed, so even the Ethernet header must agree.
    let mut bad = Vec::new();
    for (((name, _), k), o) in inputs.iter().zip(&k).zip(&o) {
        if k.is_none() {
            bad.push(format!("{name}: the kernel forwarded nothing"));
        } else if k != o {
            bad.push(format!("{name}: kernel {k:02x?}\n  ours   {o:02x?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        inputs.len(),
        bad.join("\n")
    );
}

/// Where the kernel departs from RFC 8986 4.6: End.DX4 is to "forward the exposed IPv4 packet
/// to the L3 adjacency J" (the SID's nh4). The kernel only uses nh4 to choose the route; when
/// that route is on-link it sends the packet to the neighbour of the inner destination
/// instead. Ours sends it to J's MAC. The IP packets are the same. (End.DX6 in the kernel does
/// send to nh6: the main test checks its frames, MACs included.)
#[test]
fn end_dx4_goes_to_the_sids_next_hop_where_the_kernel_goes_to_the_inner_destination() {
    if !upf_lb::kernel::test_needs(
        "end_dx4_goes_to_the_sids_next_hop_where_the_kernel_goes_to_the_inner_destination",
        "seg6",
    ) {
        return;
    }
    require_root();
    let frames: Vec<Vec<u8>> = inputs()
        .into_iter()
        .filter(|(n, _)| n.starts_with("dx4"))
        .map(|(_, f)| f)
        .collect();
    let k = run(&kernel(OTHER_MAC), &frames);
    let (b, _dp) = ours(OTHER_MAC);
    let o = run(&b, &frames);
    for (k, o) in k.iter().zip(&o) {
        let (k, o) = (k.as_ref().expect("kernel"), o.as_ref().expect("ours"));
        assert_eq!(
            &k[..6],
            &OTHER_MAC,
            "the kernel: the inner destination's MAC"
        );
        assert_eq!(&o[..6], &SINK_MAC, "ours: the MAC of the SID's next hop");
        assert_eq!(&k[14..], &o[14..], "the same IP packet");
    }
}

/// Where the kernel cannot follow: End.DT4 and End.DT46 (RFC 8986 4.8, 4.9) need a VRF device
/// in the kernel (`vrftable`), and this kernel has none (no VRF, no modules): it refuses both,
/// in either syntax. Ours route by the main table (their fixtures in srv6_fixtures.rs).
#[test]
fn the_kernel_refuses_end_dt4_and_end_dt46_without_vrf() {
    if !upf_lb::kernel::test_needs(
        "the_kernel_refuses_end_dt4_and_end_dt46_without_vrf",
        "seg6",
    ) {
        return;
    }
    require_root();
    let b = Bed::new(SINK_MAC);
    for (action, arg) in [
        ("End.DT4", "table"),
        ("End.DT4", "vrftable"),
        ("End.DT46", "vrftable"),
    ] {
        let dt4: Ipv6Addr = "2001:db8:ff:0:6::".parse().unwrap();
        let r = b.seg6local(dt4, &[action, arg, "254"], "b1");
        assert!(r.is_err(), "{action} {arg} 254 accepted");
    }
}

/// An End.DT4 SID (bound as a /80) of the VRF test: table [`VRF_TABLE`].
const DT4_VRF_SID: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0xb, 0, 0, 0);
/// The table of the dut's VRF device: the only one with a route to [`VRF_DST`].
const VRF_TABLE: u32 = 200;
/// The inner destination of the VRF test: routed by [`VRF_TABLE`] only (via the End.DX4 next
/// hop, whose neighbour is sink), so a lookup in the main table would not reach sink.
const VRF_DST: &str = "192.0.2.9";

/// The dut's VRF device `vrf-dt` bound to [`VRF_TABLE`], that table's route to [`VRF_DST`],
/// and VRF strict mode (which the kernel's End.DT4 `vrftable` requires).
fn vrf(b: &Bed) {
    b.dut
        .ip(&[
            "link",
            "add",
            "vrf-dt",
            "type",
            "vrf",
            "table",
            &VRF_TABLE.to_string(),
        ])
        .unwrap();
    b.dut.ip(&["link", "set", "vrf-dt", "up"]).unwrap();
    b.dut
        .ip(&[
            "route",
            "add",
            "192.0.2.0/24",
            "via",
            NH4,
            "dev",
            "b1",
            "onlink",
            "table",
            &VRF_TABLE.to_string(),
        ])
        .unwrap();
    b.dut
        .run(|| std::fs::write("/proc/sys/net/vrf/strict_mode", "1"))
        .expect("net.vrf.strict_mode");
}

/// End.DT4 (RFC 8986 4.8) where the kernel can follow: with a VRF device bound to a table
/// that alone routes the inner destination, the kernel's `End.DT4 vrftable` and ours (a FIB
/// lookup in that table) send the same frames to sink, at several TTLs, ToS and sizes, with and
/// without an SRH. The inner destination is not in the main table: a lookup there would not
/// reach sink, so the test also shows both use the table.
#[test]
fn end_dt4_in_a_vrf_forwards_exactly_what_the_kernel_does() {
    let t = "end_dt4_in_a_vrf_forwards_exactly_what_the_kernel_does";
    let (seg6, vrf_dev) = (
        upf_lb::kernel::test_needs(t, "seg6"),
        upf_lb::kernel::test_needs(t, "vrf"),
    );
    if !(seg6 && vrf_dev) {
        return;
    }
    require_root();
    let mut frames = Vec::new();
    for (ttl, tos, n) in [
        (64u8, 0u8, 16usize),
        (2, 0xb8, 0),
        (255, 0x20, 700),
        (17, 1, 1200),
    ] {
        let mut inner = IpPacket::v4(UE_V4, VRF_DST.parse().unwrap(), payload(n));
        if let Ip::V4(h) = &mut inner.ip {
            h.ttl = ttl;
            h.tos = tos;
        }
        let ipip = L4::Raw {
            proto: 4,
            bytes: inner.to_bytes(),
        };
        frames.push(frame(v6(DT4_VRF_SID, 64, tos, 0, vec![], ipip.clone())));
        let srh0 = Ipv6Ext::Srh {
            segments_left: 0,
            segments: vec![DT4_VRF_SID],
            tlvs: vec![],
        };
        frames.push(frame(v6(DT4_VRF_SID, 64, tos, 0, vec![srh0], ipip)));
    }
    let kb = Bed::new(SINK_MAC);
    vrf(&kb);
    kb.seg6local(
        DT4_VRF_SID,
        &["End.DT4", "vrftable", &VRF_TABLE.to_string()],
        "vrf-dt",
    )
    .expect("the kernel's End.DT4 vrftable");
    let k = run(&kb, &frames);
    drop(kb);
    let ob = Bed::new(SINK_MAC);
    vrf(&ob);
    let mut dp = Srv6Datapath::load(16).expect("load bpf-srv6");
    dp.add_sid(DT4_VRF_SID, 80, Behaviour::EndDt4 { table: VRF_TABLE })
        .unwrap();
    let p = dp.xdp_mut(bpf_abi::srv6::PROG_XDP_SRV6).expect("program");
    ob.dut
        .run(|| p.attach("b0", aya::programs::XdpMode::Skb))
        .expect("attach");
    let o = run(&ob, &frames);
    let c = dp.counters().unwrap();
    let redirected = c
        .iter()
        .find(|(r, _)| *r == Reason::Srv6Dt4Redirect)
        .map_or(0, |(_, s)| s.packets);
    assert_eq!(
        redirected,
        frames.len() as u64,
        "every packet by XDP: {c:?}"
    );
    let mut bad = Vec::new();
    for (i, (k, o)) in k.iter().zip(&o).enumerate() {
        match (k, o) {
            (None, _) => bad.push(format!("frame {i}: the kernel forwarded nothing")),
            (Some(k), o) if Some(k) != o.as_ref() => {
                bad.push(format!("frame {i}: kernel {k:02x?}\n  ours   {o:02x?}"))
            }
            _ => {}
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        frames.len(),
        bad.join("\n")
    );
}
