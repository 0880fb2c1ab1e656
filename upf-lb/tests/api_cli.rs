//! The management API through the real CLI: upf-lbctl (the binary) against a running daemon in
//! a namespace, with a bearer token: sessions, one session with its rules and counters,
//! associations, stats, health; a wrong or missing token refused; an unknown session a clear
//! NotFound; the watch stream sees a session go down.

use serde_json::Value;
use std::{
    net::SocketAddr,
    process::{Command, Output},
    time::Duration,
};
use upf_lb::{
    config::{self, Config},
    daemon,
    southbound::GtpDatapath,
};
use upf_lb_testkit::{
    fixtures::{GNB_V4, UPF_V4},
    smf::{self, SessionPlan, Smf, Ue},
    topology::{Topology, ue_exchange_with},
};

const TOKEN: &str = "test-token-0123456789";

fn ctl(ns: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{ns}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_upf-lbctl"));
    if let Some(t) = token {
        c.args(["--token", t]);
    }
    c.args(args)
        .env_remove("UPF_LB_TOKEN")
        .output()
        .expect("upf-lbctl")
}

fn json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "upf-lbctl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON")
}

#[test]
fn upf_lbctl_sees_sessions_and_refuses_a_wrong_token() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let text = config::DEFAULT
        .replacen(
            "# token = \"change-me-to-something-long\"",
            &format!("token = \"{TOKEN}\""),
            1,
        )
        .replacen("drop_event_rate = 1000", "drop_event_rate = 5", 1);
    let cfg = Config::parse(&text).expect("config");
    let d = daemon::spawn(&format!("/run/netns/{}", topo.upf.name()), cfg, 4242).expect("daemon");
    let ns = topo.upf.name().to_string();
    let mut smf = topo
        .gnb
        .run(|| {
            Smf::new(
                SocketAddr::from((GNB_V4, 8805)),
                SocketAddr::from((UPF_V4, 8805)),
                7,
            )
        })
        .unwrap();
    smf.associate().unwrap();
    let plan = SessionPlan {
        cp_seid: 0x42,
        cp_addr: GNB_V4,
        ue: Ue::Choose,
        gnb_teid: 0x200,
        gnb: GNB_V4,
        qfi: 9,
        mbr_kbps: None,
        network_instance: "internet",
        ul_filter: None,
    };
    let (_, r) = smf
        .establish(smf::session_request(smf.node_id.clone(), &plan))
        .unwrap();
    let (seid, teid, _, ue) = smf::established(&r).unwrap();
    let x = ue_exchange_with(&topo, ue.unwrap(), teid, 3, 0, Duration::from_secs(2)).unwrap();
    assert_eq!(x.at_dn.len(), 3);

    let h = json(&ctl(&ns, Some(TOKEN), &["-o", "json", "health"]));
    assert_eq!(
        (
            h["ready"].as_bool(),
            h["recovery_time_stamp"].as_u64(),
            h["sessions"].as_u64()
        ),
        (Some(true), Some(4242), Some(1))
    );
    let s = json(&ctl(&ns, Some(TOKEN), &["-o", "json", "sessions"]));
    assert_eq!(s[0]["up_seid"].as_u64(), Some(seid));
    assert_eq!(s[0]["cp_seid"].as_u64(), Some(0x42));
    assert_eq!(s[0]["local_teids"][0].as_u64(), Some(u64::from(teid)));
    let one = json(&ctl(
        &ns,
        Some(TOKEN),
        &["-o", "json", "session", &format!("{seid:#x}")],
    ));
    assert_eq!(one["pdrs"].as_array().unwrap().len(), 2);
    assert_eq!(
        one["urrs"][0]["ul_packets"].as_u64(),
        Some(3),
        "counters as the datapath counted"
    );
    assert_eq!(one["fars"][1]["teid"].as_u64(), Some(0x200));
    let a = json(&ctl(&ns, Some(TOKEN), &["-o", "json", "associations"]));
    assert_eq!(a[0]["node_id"].as_str(), Some("192.0.2.1"));
    let st = json(&ctl(&ns, Some(TOKEN), &["-o", "json", "stats"]));
    assert_eq!(st["sessions"].as_u64(), Some(1));
    // The table form works too.
    let t = ctl(&ns, Some(TOKEN), &["sessions"]);
    assert!(String::from_utf8_lossy(&t.stdout).contains(&format!("{seid:#x}")));

    // Refusals, with what went wrong.
    let o = ctl(&ns, Some(TOKEN), &["session", "0xdead"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("NotFound"),
        "{o:?}"
    );
    let o = ctl(&ns, Some("wrong-token-0123456789"), &["sessions"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unauthenticated"),
        "{o:?}"
    );
    let o = ctl(&ns, None, &["health"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unauthenticated"),
        "{o:?}"
    );

    // Packets the session's PDR does not match (QFI 5, the PDI asks for 9) are dropped; at
    // more than 5 a second, a watcher hears of it.
    let ns3 = ns.clone();
    let w = std::thread::spawn(move || {
        ctl(&ns3, Some(TOKEN), &["-o", "json", "watch", "--count", "1"])
    });
    std::thread::sleep(Duration::from_millis(700));
    topo.gnb.run(|| {
        use upf_lb_packet::{Gtpu, GtpuExt, IpPacket, L4, Psc};
        let s = std::net::UdpSocket::bind((GNB_V4, 0)).unwrap();
        for i in 0..30u16 {
            let inner = IpPacket::v4(
                ue.unwrap(),
                upf_lb_testkit::topology::DN,
                L4::Udp {
                    src: 5000,
                    dst: 7000,
                    payload: i.to_be_bytes().to_vec(),
                },
            );
            let mut g = Gtpu::gpdu(teid, inner.to_bytes());
            g.ext.push(GtpuExt::Psc(Psc {
                pdu_type: 1,
                qfi: 5,
                rqi: false,
                ppi: None,
            }));
            s.send_to(&g.to_bytes(), SocketAddr::from((UPF_V4, 2152)))
                .unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let e = json(&w.join().unwrap());
    assert_eq!(e["kind"].as_str(), Some("drops"), "{e}");
    assert_eq!(e["reason"].as_str(), Some("pdr_no_match"));
    assert!(e["rate"].as_f64().unwrap() > 5.0);

    // A watcher sees the final usage report and the session go down.
    let ns2 = ns.clone();
    let w = std::thread::spawn(move || {
        ctl(&ns2, Some(TOKEN), &["-o", "json", "watch", "--count", "2"])
    });
    std::thread::sleep(Duration::from_millis(700));
    smf.delete(seid).unwrap();
    let o = w.join().unwrap();
    assert!(o.status.success(), "{o:?}");
    let ev: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(ev[0]["kind"].as_str(), Some("usage_report"));
    // Three exchanges of 41-byte inner packets each way ("ue datagram N" over IPv4/UDP).
    assert_eq!(
        ev[0]["total_bytes"].as_u64(),
        Some(6 * 41),
        "the whole usage"
    );
    assert_eq!(
        (ev[1]["kind"].as_str(), ev[1]["up_seid"].as_u64()),
        (Some("session_down"), Some(seid))
    );
    drop(d);
    drop(topo);
}
