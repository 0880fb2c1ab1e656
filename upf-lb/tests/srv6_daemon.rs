//! SRv6 as an operator runs it: `upf-lb run` (the real binary) with an `[srv6]` section in its
//! configuration, in the UPF's namespace. A client's UDP datagrams go through a namespace
//! whose kernel encapsulates them (seg6 encap) towards an End.DX4 SID that the daemon's
//! configuration binds on its `sr0`; `xdp_srv6` decapsulates them and sends the inner IPv4
//! packet to its next hop, where a UDP socket receives every datagram. The daemon says it
//! attached SRv6, its Prometheus metrics count the End.DX4 redirects, and it stops cleanly.
//!
//! ```text
//! client c0 198.19.8.1 -- s0 [sr: seg6 encap] s1 2001:db8:5::1 -- sr0 2001:db8:5::2
//!   [upf namespace: n3, n6, sr0 (xdp_srv6: End.DX4 2001:db8:ff:0:2::/80), sr1 198.18.7.1]
//!   sr1 -- u0 198.18.7.10 sink (UDP 7000)
//! ```

mod common;

use std::{
    net::{Ipv4Addr, UdpSocket},
    process::Command,
    time::{Duration, Instant},
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    netns::{Netns, unique_name, veth},
    topology::Topology,
};

const SINK: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 10);
const SINK_MAC: &str = "02:00:00:00:7a:01";
const DATAGRAMS: usize = 50;

fn sh(ns: &Netns, cmd: &str) {
    ns.ip(&cmd.split(' ').collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{}: ip {cmd}: {e}", ns.name()));
}

#[test]
fn the_daemon_runs_srv6_from_its_configuration() {
    if !upf_lb::kernel::test_needs("the_daemon_runs_srv6_from_its_configuration", "seg6") {
        return;
    }
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let client = Netns::create(&unique_name("s6dc")).unwrap();
    let sr = Netns::create(&unique_name("s6ds")).unwrap();
    let sink = Netns::create(&unique_name("s6dk")).unwrap();
    veth(&client, "c0", &sr, "s0").unwrap();
    veth(&sr, "s1", &topo.upf, "sr0").unwrap();
    veth(&topo.upf, "sr1", &sink, "u0").unwrap();
    for (ns, cmd) in [
        (&client, "addr add 198.19.8.1/24 dev c0"),
        (&client, "route add default via 198.19.8.2"),
        (&sr, "addr add 198.19.8.2/24 dev s0"),
        (&sr, "-6 addr add 2001:db8:5::1/64 dev s1 nodad"),
        (
            &sr,
            "-6 route add 2001:db8:ff::/48 via 2001:db8:5::2 dev s1",
        ),
        (
            &sr,
            "route add 198.18.7.0/24 encap seg6 mode encap segs 2001:db8:ff:0:2:: dev s1",
        ),
        (&topo.upf, "-6 addr add 2001:db8:5::2/64 dev sr0 nodad"),
        (&topo.upf, "addr add 198.18.7.1/24 dev sr1"),
        (
            &topo.upf,
            &format!("neigh add {SINK} lladdr {SINK_MAC} dev sr1 nud permanent"),
        ),
        (&sink, &format!("link set u0 address {SINK_MAC}")),
        (&sink, "addr add 198.18.7.10/24 dev u0"),
    ] {
        sh(ns, cmd);
    }
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            sr.name(),
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let dir = std::env::temp_dir().join(format!("upf-lb-s6d-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("upf-lb.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[srv6]\ninterfaces = [\"sr0\"]\nxdp_mode = \"skb\"\n\n[[srv6.sid]]\n\
             sid = \"2001:db8:ff:0:2::/80\"\nbehaviour = \"End.DX4\"\nnh = \"{SINK}\"\n",
            upf_lb::config::DEFAULT.replacen(
                "# prometheus_listen = \"127.0.0.1:9464\"",
                "prometheus_listen = \"127.0.0.1:9464\"",
                1
            ),
        ),
    )
    .unwrap();
    let common::Running { mut d, rx: _, log } = common::start(&topo.upf, &config);
    assert!(log.iter().any(|l| l.contains("SRv6 attached")), "{log:#?}");
    // The operator's view: upf-lbctl srv6 lists the SID as configured.
    let v = common::ctl_json(&topo.upf, &["srv6"]);
    assert_eq!(v["enabled"], true, "{v}");
    assert_eq!(v["interfaces"][0], "sr0", "{v}");
    assert_eq!(v["sids"][0]["sid"], "2001:db8:ff:0:2::/80", "{v}");
    assert_eq!(v["sids"][0]["behaviour"], "End.DX4", "{v}");
    assert_eq!(v["sids"][0]["nh"], SINK.to_string(), "{v}");

    let rxs = sink.run(|| UdpSocket::bind((SINK, 7000))).unwrap();
    rxs.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let txs = client
        .run(|| UdpSocket::bind((Ipv4Addr::new(198, 19, 8, 1), 0)))
        .unwrap();
    let mut got = std::collections::BTreeSet::<usize>::new();
    let t0 = Instant::now();
    let mut sent = 0;
    // Bounded: at most 4 rounds of the datagrams, 20 s.
    while got.len() < DATAGRAMS && sent < 4 * DATAGRAMS && t0.elapsed() < Duration::from_secs(20) {
        for k in 0..DATAGRAMS {
            if !got.contains(&k) {
                txs.send_to(format!("dx4 {k}").as_bytes(), (SINK, 7000))
                    .unwrap();
                sent += 1;
            }
        }
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = rxs.recv_from(&mut buf) {
            assert_eq!(
                from.ip(),
                Ipv4Addr::new(198, 19, 8, 1),
                "the client's address"
            );
            let s = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some(k) = s.strip_prefix("dx4 ").and_then(|k| k.parse().ok()) {
                got.insert(k);
            }
        }
    }
    assert_eq!(
        got.len(),
        DATAGRAMS,
        "every datagram through End.DX4 ({sent} sent)"
    );
    let metrics = common::metrics(&topo.upf);
    let dx4 = common::datapath_packets(&metrics, "srv6_dx4_redirect");
    assert!(
        dx4 >= DATAGRAMS as u64,
        "{dx4} End.DX4 redirects in the metrics"
    );
    // SIDs changed through the API (upf-lbctl set-sid / delete-sid, checked as [[srv6.sid]]
    // is): deleted, the traffic stops; set again, it flows; bad input names the field.
    let ctl = |args: &[&str]| {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", topo.upf.name()))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_upf-lbctl"))
            .args(args)
            .output()
            .expect("upf-lbctl")
    };
    // Datagrams of a round (tagged `tag`) that reach the sink within about a second.
    let round = |tag: &str| {
        for k in 0..10 {
            txs.send_to(format!("{tag} {k}").as_bytes(), (SINK, 7000))
                .unwrap();
        }
        let t0 = Instant::now();
        let mut n = 0;
        let mut buf = [0u8; 64];
        while t0.elapsed() < Duration::from_secs(1) {
            if let Ok((len, _)) = rxs.recv_from(&mut buf)
                && buf[..len].starts_with(tag.as_bytes())
            {
                n += 1;
            }
        }
        n
    };
    let o = ctl(&["delete-sid", "2001:db8:ff:0:2::/80"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(round("gone"), 0, "no SID, no End.DX4");
    let v = common::ctl_json(&topo.upf, &["srv6"]);
    assert_eq!(v["sids"].as_array().map(Vec::len), Some(0), "{v}");
    let o = ctl(&["delete-sid", "2001:db8:ff:0:2::/80"]);
    assert!(!o.status.success(), "deleting it twice is an error");
    let sink_s = SINK.to_string();
    let o = ctl(&[
        "set-sid",
        "2001:db8:ff:0:2::/80",
        "End.DX4",
        "--nh",
        &sink_s,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(round("back") >= 5, "End.DX4 again");
    let o = ctl(&["set-sid", "2001:db8:ff:0:3::/80", "End.DX4"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("SetSid.nh"), "{e}");
    let o = ctl(&[
        "set-sid",
        "2001:db8:ed::/48",
        "End.M.GTP6.D",
        "--source",
        "2001:db8:5::2",
        "--segments",
        "2001:db8:5::1,2001:db8:ee:1::",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = common::ctl_json(&topo.upf, &["srv6"]);
    let behaviours: Vec<&str> = v["sids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["behaviour"].as_str())
        .collect();
    assert_eq!(behaviours, ["End.DX4", "End.M.GTP6.D"], "{v}");
    let st = upf_lb_testkit::netns::signal_and_wait(&mut d, libc::SIGTERM, Duration::from_secs(10))
        .unwrap()
        .expect("the daemon stops on SIGTERM");
    assert!(st.success(), "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
