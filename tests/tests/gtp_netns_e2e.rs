//! Tier 3: the user plane end to end over veth in three namespaces, with xdp_n3 and xdp_n6
//! attached in driver mode on the UPF and real UDP sockets:
//!
//! ```text
//!  gnb: gnb0 192.0.2.1 <-> n3 192.0.2.2 [upf] n6 203.0.113.1 <-> dn0 203.0.113.10 :dn
//! ```
//! A test gNB encapsulates UE datagrams (198.18.0.1) in GTP-U; they arrive decapsulated at a DN
//! socket; its replies come back to the gNB encapsulated with the session's TEID and QFI.

use aya::programs::XdpMode;
use bpf_abi::{Reason, gtp::Qer, names};
use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    process::Command,
    time::Duration,
};
use upf_lb::{
    netns::{Netns, unique_name, veth},
    packet::{Gtpu, GtpuExt, IpPacket, L4, Psc},
    southbound::{GtpDatapath, Key, PdrSpec, SessionSpec, gtp::build},
};
use upf_lb_tests::require_root;

const GNB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const UPF_N3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const DN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const UE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const UL_TEID: u32 = 0x100;
const DL_TEID: u32 = 0x200;
const COUNT: u16 = 20;

fn sysctl(ns: &Netns, settings: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sh", "-c", settings])
        .output()
        .expect("ip netns exec");
    assert!(
        out.status.success(),
        "{settings}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn udp_from_a_ue_reaches_the_dn_and_replies_come_back_encapsulated() {
    require_root();
    let gnb = Netns::create(&unique_name("egnb")).unwrap();
    let upf = Netns::create(&unique_name("eupf")).unwrap();
    let dn = Netns::create(&unique_name("edn")).unwrap();
    veth(&gnb, "gnb0", &upf, "n3").unwrap();
    veth(&upf, "n6", &dn, "dn0").unwrap();
    gnb.ip(&["addr", "add", "192.0.2.1/24", "dev", "gnb0"])
        .unwrap();
    upf.ip(&["addr", "add", "192.0.2.2/24", "dev", "n3"])
        .unwrap();
    upf.ip(&["addr", "add", "203.0.113.1/24", "dev", "n6"])
        .unwrap();
    dn.ip(&["addr", "add", "203.0.113.10/24", "dev", "dn0"])
        .unwrap();
    dn.ip(&["route", "add", "198.18.0.0/16", "via", "203.0.113.1"])
        .unwrap();
    sysctl(
        &upf,
        "echo 1 > /proc/sys/net/ipv4/ip_forward; for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done",
    );

    let mut dp = GtpDatapath::load().expect("load bpf-gtp");
    let qer = Qer {
        qfi: 9,
        ..build::qer_open()
    };
    let pdr = |id, ohr, far| PdrSpec {
        pdr_id: id,
        precedence: 10,
        qfi: 0,
        ohr,
        sdfs: vec![],
        far_id: far,
        qer_id: Some(1),
        urr_ids: vec![1],
    };
    let s = dp
        .install(&SessionSpec {
            session: 1,
            fars: vec![
                (1, build::far_forward()),
                (2, build::far_gtpu_v4(DL_TEID, UPF_N3, GNB)),
            ],
            qers: vec![(1, qer)],
            urrs: vec![1],
            pdrs: vec![
                (Key::UlTeid(UL_TEID), pdr(1, Some(0), 1)),
                (Key::DlUe4(UE), pdr(2, None, 2)),
            ],
        })
        .expect("install");
    for (ns, ifname, prog) in [
        (&upf, "n3", names::PROG_XDP_N3),
        (&upf, "n6", names::PROG_XDP_N6),
        (&gnb, "gnb0", names::PROG_XDP_NOOP),
    ] {
        let p = dp.xdp_mut(prog).unwrap();
        ns.run(|| p.attach(ifname, XdpMode::Driver))
            .unwrap_or_else(|e| panic!("attach {prog} to {ifname}: {e}"));
    }
    // The DN side runs the no-op program too (a veth delivers redirected frames only to a peer
    // that runs XDP); one program can be attached to several interfaces.
    let p = dp.xdp_mut(names::PROG_XDP_NOOP).unwrap();
    dn.run(|| p.attach("dn0", XdpMode::Driver))
        .expect("attach noop to dn0");

    // The DN echoes every datagram it gets, COUNT of them at most, for 10 s at most.
    let echo = std::thread::scope(|sc| {
        let server = sc.spawn(|| {
            dn.run(|| {
                let s = UdpSocket::bind((DN, 7000)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 2048];
                while got.len() < usize::from(COUNT) {
                    let Ok((n, from)) = s.recv_from(&mut buf) else {
                        break;
                    };
                    s.send_to(&buf[..n], from).unwrap();
                    got.push((buf[..n].to_vec(), from));
                }
                got
            })
        });
        std::thread::sleep(Duration::from_millis(200));
        let replies = gnb.run(|| {
            let s = UdpSocket::bind((GNB, 2152)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut replies = Vec::new();
            for i in 0..COUNT {
                let payload = format!("ue datagram {i}").into_bytes();
                let inner = IpPacket::v4(
                    UE,
                    DN,
                    L4::Udp {
                        src: 5000,
                        dst: 7000,
                        payload,
                    },
                );
                let mut g = Gtpu::gpdu(UL_TEID, inner.to_bytes());
                g.ext.push(GtpuExt::Psc(Psc {
                    pdu_type: 1,
                    qfi: 9,
                    rqi: false,
                    ppi: None,
                }));
                s.send_to(&g.to_bytes(), SocketAddr::from((UPF_N3, 2152)))
                    .unwrap();
                let mut buf = [0u8; 2048];
                if let Ok((n, _)) = s.recv_from(&mut buf) {
                    replies.push(buf[..n].to_vec());
                }
            }
            replies
        });
        (server.join().unwrap(), replies)
    });
    let (at_dn, at_gnb) = echo;

    assert_eq!(at_dn.len(), usize::from(COUNT), "datagrams at the DN");
    for (i, (payload, from)) in at_dn.iter().enumerate() {
        assert_eq!(payload, format!("ue datagram {i}").as_bytes());
        assert_eq!(*from, SocketAddr::from((UE, 5000)));
    }
    assert_eq!(at_gnb.len(), usize::from(COUNT), "replies at the gNB");
    for (i, g) in at_gnb.iter().enumerate() {
        // GTP-U G-PDU to the DL TEID with a DL PDU Session Container of QFI 9, then the DN's
        // reply as an IPv4/UDP packet to the UE.
        assert_eq!(&g[..2], &[0x34, 0xff], "reply {i}: {g:02x?}");
        assert_eq!(u32::from_be_bytes([g[4], g[5], g[6], g[7]]), DL_TEID);
        assert_eq!(&g[11..16], &[0x85, 1, 0x00, 9, 0]);
        let inner = &g[16..];
        assert_eq!(&inner[12..16], &DN.octets());
        assert_eq!(&inner[16..20], &UE.octets());
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
