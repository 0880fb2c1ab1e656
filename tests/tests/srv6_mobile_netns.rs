//! Tier 3: RFC 9433 end to end through namespaces, real sockets on both sides. A gNB sends
//! GTP-U G-PDUs (TEID, a UL PDU Session Container with QFI 9) from a UDP socket towards a
//! peer UPF; on the way they cross an SRv6 segment: `sra` turns them into SRv6 by H.M.GTP4.D
//! (`xdp_headend` on its gNB side), `srb` back into GTP-U/IPv4 by End.M.GTP4.E (`xdp_srv6` on
//! its SRv6 side), and the peer's UDP socket on port 2152 receives them: the TEID, the QFI and
//! the T-PDU as sent, from the gNB's address. Both XDP programs count every packet as
//! redirected by themselves, none left to the kernel (neighbours are known).
//!
//! ```text
//! gnb g0 192.0.2.1 -- a0 sra a1 2001:db8:0:1::1 -- b0 2001:db8:0:1::2 srb b1 -- u0 upf
//!                     (H.M.GTP4.D)                  (End.M.GTP4.E, B = 2001:db8:ee::/48)
//!                                                   198.51.100.254     198.51.100.1
//! ```

use bpf_abi::{
    Reason,
    srv6::{PROG_XDP_HEADEND, PROG_XDP_SRV6},
};
use std::{
    net::{Ipv4Addr, Ipv6Addr, UdpSocket},
    time::{Duration, Instant},
};
use upf_lb::southbound::{Srv6Datapath, srv6::Behaviour};
use upf_lb_packet::{Gtpu, GtpuExt, IpPacket, L4, Psc};
use upf_lb_testkit::{
    fixtures::UE_V4,
    netns::{Netns, unique_name, veth},
};
use upf_lb_tests::require_root;

const GNB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The End.M.GTP4.E SID prefix B (6 bytes of locator and function) and the source prefix of
/// the SRv6 packets (the gNB's IPv4 address goes 8 bytes in).
const B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xee, 0, 0, 0, 0, 0);
const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 3, 0, 0, 0, 0);
const A1_MAC: &str = "02:00:00:00:a1:01";
const B0_MAC: &str = "02:00:00:00:b0:01";
const B1_MAC: &str = "02:00:00:00:b1:01";
const U0_MAC: &str = "02:00:00:00:c0:01";

/// Packets sent; every one must arrive.
const N: u32 = 50;

fn sysctl(ns: &Netns, kv: &str) {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "sysctl", "-qw", kv])
        .output()
        .unwrap();
    assert!(out.status.success(), "{kv}: {out:?}");
}

fn counted(dp: &Srv6Datapath, r: Reason) -> u64 {
    dp.counters()
        .unwrap()
        .iter()
        .find(|(x, _)| *x == r)
        .map_or(0, |(_, c)| c.packets)
}

/// The TEID, the QFI of the PDU Session Container and the T-PDU of a G-PDU (TS 29.281 5.1;
/// TS 38.415 5.5.2), read here without our own parser.
fn gpdu(b: &[u8]) -> (u32, u8, Vec<u8>) {
    assert_eq!(b[0] >> 5, 1, "GTP version 1");
    assert_eq!(b[1], 0xff, "a G-PDU");
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    assert_eq!(len + 8, b.len(), "Length");
    let teid = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    assert!(b[0] & 0x04 != 0, "an extension header");
    let (mut at, mut next, mut qfi) = (12, b[11], None);
    while next != 0 {
        let n = usize::from(b[at]) * 4;
        if next == 0x85 {
            qfi = Some(b[at + 2] & 0x3f);
        }
        next = b[at + n - 1];
        at += n;
    }
    (
        teid,
        qfi.expect("a PDU Session Container"),
        b[at..].to_vec(),
    )
}

#[test]
fn a_gtpu_flow_crosses_an_srv6_segment_and_arrives_as_gtpu() {
    require_root();
    let gnb = Netns::create(&unique_name("m6gnb")).unwrap();
    let sra = Netns::create(&unique_name("m6sra")).unwrap();
    let srb = Netns::create(&unique_name("m6srb")).unwrap();
    let upf = Netns::create(&unique_name("m6upf")).unwrap();
    veth(&gnb, "g0", &sra, "a0").unwrap();
    veth(&sra, "a1", &srb, "b0").unwrap();
    veth(&srb, "b1", &upf, "u0").unwrap();
    for (ns, dev, mac) in [
        (&sra, "a1", A1_MAC),
        (&srb, "b0", B0_MAC),
        (&srb, "b1", B1_MAC),
        (&upf, "u0", U0_MAC),
    ] {
        ns.ip(&["link", "set", dev, "address", mac]).unwrap();
    }
    for (ns, args) in [
        (&gnb, "addr add 192.0.2.1/24 dev g0"),
        (&gnb, "route add default via 192.0.2.2"),
        (&sra, "addr add 192.0.2.2/24 dev a0"),
        (&sra, "-6 addr add 2001:db8:0:1::1/64 dev a1 nodad"),
        (&sra, "-6 route add 2001:db8:ee::/48 via 2001:db8:0:1::2"),
        (
            &sra,
            "-6 neigh add 2001:db8:0:1::2 lladdr 02:00:00:00:b0:01 dev a1 nud permanent",
        ),
        (&srb, "-6 addr add 2001:db8:0:1::2/64 dev b0 nodad"),
        (&srb, "addr add 198.51.100.254/24 dev b1"),
        (
            &srb,
            "neigh add 198.51.100.1 lladdr 02:00:00:00:c0:01 dev b1 nud permanent",
        ),
        (&upf, "addr add 198.51.100.1/24 dev u0"),
        (&upf, "route add default via 198.51.100.254"),
    ] {
        ns.ip(&args.split(' ').collect::<Vec<_>>()).unwrap();
    }
    for ns in [&sra, &srb] {
        sysctl(ns, "net.ipv4.ip_forward=1");
        sysctl(ns, "net.ipv6.conf.all.forwarding=1");
    }

    // sra: H.M.GTP4.D for GTP-U to the peer; srb: End.M.GTP4.E at B.
    let mut a = Srv6Datapath::load(8).expect("load bpf-srv6");
    a.add_gtp4d_policy(PEER, 32, SRC, 8, &[B], 6).unwrap();
    let p = a.xdp_mut(PROG_XDP_HEADEND).unwrap();
    sra.run(|| p.attach("a0", aya::programs::XdpMode::Skb))
        .expect("attach xdp_headend");
    let mut b = Srv6Datapath::load(8).expect("load bpf-srv6");
    b.add_sid(
        B,
        48,
        Behaviour::EndMGtp4E {
            args_at: 6,
            src_at: 8,
        },
    )
    .unwrap();
    let p = b.xdp_mut(PROG_XDP_SRV6).unwrap();
    srb.run(|| p.attach("b0", aya::programs::XdpMode::Skb))
        .expect("attach xdp_srv6");

    let rx = upf
        .run(|| UdpSocket::bind((PEER, 2152)))
        .expect("the peer's GTP-U socket");
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let tx = gnb
        .run(|| UdpSocket::bind((GNB, 2152)))
        .expect("the gNB's GTP-U socket");
    let mut got = Vec::new();
    let t0 = Instant::now();
    for i in 0..N {
        let tpdu = IpPacket::v4(
            UE_V4,
            Ipv4Addr::new(198, 51, 100, 7),
            L4::Udp {
                src: 5000,
                dst: 7000,
                payload: i.to_be_bytes().to_vec(),
            },
        )
        .to_bytes();
        let mut g = Gtpu::gpdu(0x0100_0000 + i, tpdu.clone());
        g.ext.push(GtpuExt::Psc(Psc {
            pdu_type: 1,
            qfi: 9,
            rqi: false,
            ppi: None,
        }));
        tx.send_to(&g.to_bytes(), (PEER, 2152)).unwrap();
        let mut buf = [0u8; 2048];
        match rx.recv_from(&mut buf) {
            Ok((n, from)) => got.push((i, from, buf[..n].to_vec(), tpdu)),
            Err(e) => panic!("G-PDU {i} did not arrive: {e}"),
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "bounded in time");
    }
    for (i, from, bytes, tpdu) in &got {
        assert_eq!(
            from.ip(),
            GNB,
            "{i}: from the gNB's address (the IPv6 SA carried it)"
        );
        let (teid, qfi, inner) = gpdu(bytes);
        assert_eq!(teid, 0x0100_0000 + i, "{i}: the TEID");
        assert_eq!(qfi, 9, "{i}: the QFI");
        assert_eq!(&inner, tpdu, "{i}: the T-PDU as sent");
    }
    assert_eq!(
        counted(&a, Reason::Srv6HMGtp4DRedirect),
        u64::from(N),
        "every G-PDU turned into SRv6 and redirected by sra's XDP"
    );
    assert_eq!(
        counted(&b, Reason::Srv6MGtp4ERedirect),
        u64::from(N),
        "every SRv6 packet turned into GTP-U and redirected by srb's XDP"
    );
}
