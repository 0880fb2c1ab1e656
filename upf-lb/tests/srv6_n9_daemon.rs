//! PFCP-driven SRv6 as an operator runs it: `upf-lb run` (the real binary) with `[srv6]` and a
//! `[[srv6.n9]]` entry for the peer UPFs 198.19.9.0/24 in Network Instance "n9". A test SMF
//! establishes, over real PFCP, a session whose uplink FAR relays over N9 (GTP-U/IPv4 Outer
//! Header Creation to 198.19.9.10, TEID 0x9999): plain GTP-U in the SMF's rules. The gNB's
//! G-PDUs leave the UPF's N6 side as SRv6 (H.M.GTP4.D by the peer's policy): the UPF's N9
//! address in the IPv6 SA, the peer's address, the QFI and the peer's TEID in the last
//! segment's arguments, the T-PDU behind the SRH; captured in the data network's namespace
//! and decoded by tshark.
//!
//! ```text
//! gnb 192.0.2.1 -- n3 [upf] n6 2001:db8:6::1 -- dn0 2001:db8:6::2 (capture)
//!                      sr0 (xdp_srv6, required by [srv6]) -- sr1
//! ```

mod common;

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    process::Command,
    time::Duration,
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_packet::{Gtpu, GtpuExt, IpPacket, L4, Psc};
use upf_lb_testkit::{
    fixtures::{GNB_V4, UE_V4, UPF_V4},
    netns::veth,
    smf::{self, SessionPlan, Smf, Ue, ids},
    topology::{DN_IF, N6_IF, Topology},
};

const PEER: Ipv4Addr = Ipv4Addr::new(198, 19, 9, 10);
const DN6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 2);
const B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xee, 0, 0, 0, 0, 0);
const DN_MAC: &str = "02:00:00:00:0d:02";

#[test]
fn an_smf_n9_far_leaves_as_srv6() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    veth(&topo.upf, "sr0", &topo.dn, "sr1").unwrap();
    for (ns, cmd) in [
        (
            &topo.upf,
            "-6 addr add 2001:db8:6::1/64 dev n6 nodad".to_string(),
        ),
        (&topo.dn, format!("link set {DN_IF} address {DN_MAC}")),
        (&topo.dn, format!("-6 addr add {DN6}/64 dev {DN_IF} nodad")),
        (
            &topo.upf,
            format!("-6 neigh add {DN6} lladdr {DN_MAC} dev {N6_IF} nud permanent"),
        ),
    ] {
        ns.ip(&cmd.split(' ').collect::<Vec<_>>()).unwrap();
    }
    // The SRv6 transport is IPv6 forwarding: the FIB refuses lookups without it.
    let out = Command::new("ip")
        .args(["netns", "exec", topo.upf.name(), "sysctl", "-qw"])
        .arg("net.ipv6.conf.all.forwarding=1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let dir = std::env::temp_dir().join(format!("upf-lb-n9-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("upf-lb.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[srv6]\ninterfaces = [\"sr0\"]\nxdp_mode = \"skb\"\n\n[[srv6.n9]]\n\
             peer = \"198.19.9.0/24\"\nnetwork_instance = \"n9\"\nsource = \"2001:db8:6::\"\n\
             segments = [\"{DN6}\", \"{B}\"]\n",
            upf_lb::config::DEFAULT
        ),
    )
    .unwrap();
    let common::Running { mut d, rx: _, log } = common::start(&topo.upf, &config);
    assert!(log.iter().any(|l| l.contains("SRv6 attached")), "{log:#?}");

    let mut s = topo
        .gnb
        .run(|| {
            Smf::new(
                SocketAddr::from((GNB_V4, 8805)),
                SocketAddr::from((UPF_V4, 8805)),
                7,
            )
        })
        .unwrap();
    s.associate().expect("association");
    let plan = SessionPlan {
        cp_seid: 0x42,
        cp_addr: GNB_V4,
        ue: Ue::V4(UE_V4),
        gnb_teid: 0x200,
        gnb: GNB_V4,
        qfi: 9,
        mbr_kbps: None,
        network_instance: "internet",
        ul_filter: None,
    };
    let mut req = smf::session_request(s.node_id.clone(), &plan);
    // The uplink FAR relays over N9 to the next UPF, in Network Instance "n9" (DNS labels).
    let mut n9 = smf::far_to_gnb(ids::FAR_UL, 0x9999, PEER);
    if let Some(fp) = n9.forwarding_parameters.as_mut() {
        use pfcp::ie::simple::{Bytes, DestinationInterface, interface};
        fp.destination_interface = DestinationInterface(interface::CORE);
        fp.network_instance = Some(Bytes(b"\x02n9".to_vec()));
    }
    req.create_fars[0] = n9;
    let (_, r) = s.establish(req).expect("Session Establishment");
    let (_, teid, _, _) = smf::established(&r).expect("established");

    // Capture the data network side, then send the gNB's G-PDUs (QFI 9).
    let pcap = dir.join("n6.pcap");
    let mut cap = Command::new("ip")
        .args([
            "netns",
            "exec",
            topo.dn.name(),
            "tshark",
            "-n",
            "-q",
            "-i",
            DN_IF,
        ])
        .args(["-a", "duration:4", "-f", "ip6", "-w"])
        .arg(&pcap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tshark");
    std::thread::sleep(Duration::from_millis(1500));
    let tpdu = IpPacket::v4(
        UE_V4,
        Ipv4Addr::new(198, 51, 100, 7),
        L4::Udp {
            src: 5000,
            dst: 7000,
            payload: b"over srv6".to_vec(),
        },
    )
    .to_bytes();
    let mut g = Gtpu::gpdu(teid, tpdu.clone());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    let sock = topo.gnb.run(|| UdpSocket::bind((GNB_V4, 2152))).unwrap();
    for _ in 0..5 {
        sock.send_to(&g.to_bytes(), (UPF_V4, 2152)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = cap.wait();
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-E", "occurrence=f"])
        .args([
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "ipv6.routing.srh.addr",
        ])
        .args([
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
            "-Y",
            "ipv6.routing.segleft == 1",
        ])
        .output()
        .expect("tshark -r");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .collect();
    if rows.len() < 5 {
        let v = common::ctl_json(&topo.upf, &["stats"]);
        let reasons: Vec<String> = v["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{} {}", r["reason"], r["packets"]))
            .collect();
        panic!("the G-PDUs, as SRv6: {text:?}; the datapath: {reasons:?}");
    }
    let mut src = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 0).octets();
    src[8..12].copy_from_slice(&UPF_V4.octets());
    let mut b = B.octets();
    b[6..10].copy_from_slice(&PEER.octets());
    b[10] = 9 << 2;
    b[11..15].copy_from_slice(&0x9999u32.to_be_bytes());
    for r in &rows {
        assert_eq!(
            r[0].parse::<Ipv6Addr>().unwrap(),
            Ipv6Addr::from(src),
            "{r:?}"
        );
        assert_eq!(r[1].parse::<Ipv6Addr>().unwrap(), DN6, "{r:?}");
        assert_eq!(
            r[2].parse::<Ipv6Addr>().unwrap(),
            Ipv6Addr::from(b),
            "{r:?}"
        );
        assert_eq!((r[3], r[4]), ("198.51.100.7", "7000"), "the T-PDU: {r:?}");
    }
    let st = upf_lb_testkit::netns::signal_and_wait(&mut d, libc::SIGTERM, Duration::from_secs(10))
        .unwrap()
        .expect("the daemon stops on SIGTERM");
    assert!(st.success(), "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
