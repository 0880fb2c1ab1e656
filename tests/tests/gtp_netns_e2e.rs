//! Tier 3: the user plane end to end over veth in the demo's three namespaces (gnb, upf, dn),
//! with xdp_n3 and xdp_n6 attached in driver mode and real UDP sockets: UE datagrams that a
//! test gNB encapsulates arrive decapsulated at a DN socket; its replies come back to the gNB
//! encapsulated with the session's TEID and QFI.

use bpf_abi::Reason;
use std::net::SocketAddr;
use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    fixtures::UE_V4,
    topology::{DN, Topology, install_session, ue_exchange},
};
use upf_lb_tests::require_root;

const UL_TEID: u32 = 0x100;
const DL_TEID: u32 = 0x200;
const COUNT: u16 = 20;

#[test]
fn udp_from_a_ue_reaches_the_dn_and_replies_come_back_encapsulated() {
    require_root();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::new(&mut dp).expect("topology");
    let s = install_session(&mut dp, UE_V4, UL_TEID, DL_TEID).expect("install");
    let x = ue_exchange(&topo, UE_V4, UL_TEID, COUNT).expect("exchange");

    assert_eq!(x.at_dn.len(), usize::from(COUNT), "datagrams at the DN");
    for (i, (payload, from)) in x.at_dn.iter().enumerate() {
        assert_eq!(payload, format!("ue datagram {i}").as_bytes());
        assert_eq!(*from, SocketAddr::from((UE_V4, 5000)));
    }
    assert_eq!(x.at_gnb.len(), usize::from(COUNT), "replies at the gNB");
    for (i, g) in x.at_gnb.iter().enumerate() {
        // GTP-U G-PDU to the DL TEID with a DL PDU Session Container of QFI 9, then the DN's
        // reply as an IPv4/UDP packet to the UE.
        assert_eq!(&g[..2], &[0x34, 0xff], "reply {i}: {g:02x?}");
        assert_eq!(u32::from_be_bytes([g[4], g[5], g[6], g[7]]), DL_TEID);
        assert_eq!(&g[11..16], &[0x85, 1, 0x00, 9, 0]);
        let inner = &g[16..];
        assert_eq!(&inner[12..16], &DN.octets());
        assert_eq!(&inner[16..20], &UE_V4.octets());
        assert!(inner.ends_with(format!("ue datagram {i}").as_bytes()));
    }

    let c = dp.counters().unwrap();
    let get = |r: Reason| c[r as usize].1.packets;
    let ul = get(Reason::UplinkRedirect) + get(Reason::UplinkToKernel);
    let dl = get(Reason::DownlinkRedirect) + get(Reason::DownlinkToKernel);
    assert_eq!((ul, dl), (u64::from(COUNT), u64::from(COUNT)), "{c:?}");
    // Once the neighbours are resolved the fast path carries the traffic.
    assert!(get(Reason::UplinkRedirect) >= u64::from(COUNT) - 2, "{c:?}");
    assert!(
        get(Reason::DownlinkRedirect) >= u64::from(COUNT) - 2,
        "{c:?}"
    );
    let u = dp.urr_counters(s.urr_slot(1).unwrap()).unwrap();
    assert_eq!(
        (u.ul_packets, u.dl_packets),
        (u64::from(COUNT), u64::from(COUNT))
    );
}

#[test]
fn end_markers_reach_the_gnb_on_the_old_path() {
    use std::{net::UdpSocket, time::Duration};
    use upf_lb::southbound::signalling;
    use upf_lb_testkit::fixtures::{GNB_V4, UPF_V4};
    require_root();
    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::new(&mut dp).expect("topology");
    let got = std::thread::scope(|sc| {
        let rx = sc.spawn(|| {
            topo.gnb.run(|| {
                let s = UdpSocket::bind((GNB_V4, 2152)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                while got.len() < 3 {
                    let Ok((n, from)) = s.recv_from(&mut buf) else {
                        break;
                    };
                    got.push((buf[..n].to_vec(), from));
                }
                got
            })
        });
        std::thread::sleep(Duration::from_millis(200));
        topo.upf
            .run(|| signalling::send_end_markers(UPF_V4.into(), GNB_V4.into(), 0x200, 3))
            .expect("send");
        rx.join().unwrap()
    });
    assert_eq!(got.len(), 3);
    for (m, from) in got {
        // TS 29.281 7.3.2: End Marker (254) for the old tunnel's TEID, from the UPF's N3 address.
        assert_eq!(m, [0x30, 254, 0, 0, 0, 0, 2, 0]);
        assert_eq!(from, SocketAddr::from((UPF_V4, 2152)));
    }
}
