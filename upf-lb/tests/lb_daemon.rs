//! The load balancer as an operator runs it: `upf-lb run` (the real binary) with an `[lb]`
//! section in its configuration, in the UPF's namespace beside N3 and N6. A client namespace
//! and two backend namespaces hang off three more interfaces of it; TCP connections to the VIP
//! complete through `xdp_lb` and reach both backends, which see the client's own address; the
//! daemon says it attached the load balancer; a backend that stops listening fails its TCP
//! health check (probes from the daemon's probe source and port band, their answers left to
//! the kernel: `lb_health_probe`), the daemon says so and sends every new connection to the
//! other; its
//! Prometheus metrics count what `xdp_lb` did, and it stops cleanly. A second service, full
//! NAT from the load balancer's own address, reaches backend 1, which sees only that address;
//! `upf-lbctl lb` shows each service's mode.
//!
//! ```text
//! client c0 198.19.1.1 -- l0 [upf namespace: n3, n6, l0 l1 l2] l1 -- b0 198.19.2.10
//!                                                               l2 -- b0 198.19.3.10
//! VIP 198.19.100.1 TCP 80 -> the backends' 8080
//! ```

mod common;

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    netns::{Netns, unique_name, veth},
    topology::Topology,
};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 19, 100, 1);
const BACKENDS: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 19, 2, 10), Ipv4Addr::new(198, 19, 3, 10)];
const CONNECTIONS: u16 = 20;
/// A full-NAT service (to backend 1), sending from the load balancer's address on l1.
const VIP_FNAT: Ipv4Addr = Ipv4Addr::new(198, 19, 100, 2);
const LB_L1: Ipv4Addr = Ipv4Addr::new(198, 19, 2, 1);

#[test]
fn the_daemon_runs_the_load_balancer_from_its_configuration() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let client = Netns::create(&unique_name("lbdc")).unwrap();
    let be: Vec<Netns> = (0..2)
        .map(|i| Netns::create(&unique_name(&format!("lbd{i}"))).unwrap())
        .collect();
    veth(&client, "c0", &topo.upf, "l0").unwrap();
    veth(&topo.upf, "l1", &be[0], "b0").unwrap();
    veth(&topo.upf, "l2", &be[1], "b0").unwrap();
    for (ns, cmd) in [
        (&client, "addr add 198.19.1.1/24 dev c0"),
        (&client, "route add default via 198.19.1.2"),
        (&topo.upf, "addr add 198.19.1.2/24 dev l0"),
        (&topo.upf, "addr add 198.19.2.1/24 dev l1"),
        (&topo.upf, "addr add 198.19.3.1/24 dev l2"),
        (&be[0], "addr add 198.19.2.10/24 dev b0"),
        (&be[0], "route add default via 198.19.2.1"),
        (&be[1], "addr add 198.19.3.10/24 dev b0"),
        (&be[1], "route add default via 198.19.3.1"),
    ] {
        ns.ip(&cmd.split(' ').collect::<Vec<_>>()).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("upf-lb-lbd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("upf-lb.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[lb]\ninterfaces = [\"l0\", \"l1\", \"l2\"]\nxdp_mode = \"skb\"\nconnections = 1000\n\
             health_interval_ms = 500\nhealth_timeout_ms = 300\n\n\
             [[lb.service]]\nvip = \"{VIP}\"\nprotocol = \"tcp\"\nport = 80\nbackends = [\n\
             {{ addr = \"{}\", port = 8080 }},\n{{ addr = \"{}\", port = 8080 }},\n]\n\n\
             [[lb.service]]\nvip = \"{VIP_FNAT}\"\nprotocol = \"tcp\"\nport = 80\n\
             mode = \"full_nat\"\nsource = \"{LB_L1}\"\nhealth = \"none\"\n\
             backends = [{{ addr = \"{}\", port = 8080 }}]\n",
            upf_lb::config::DEFAULT.replacen(
                "# prometheus_listen = \"127.0.0.1:9464\"",
                "prometheus_listen = \"127.0.0.1:9464\"",
                1
            ),
            BACKENDS[0],
            BACKENDS[1],
            BACKENDS[1]
        ),
    )
    .unwrap();

    let common::Running { mut d, rx, mut log } = common::start(&topo.upf, &config);
    assert!(
        log.iter().any(|l| l.contains("load balancer attached")),
        "{log:#?}"
    );

    let stops = [AtomicBool::new(false), AtomicBool::new(false)];
    std::thread::scope(|s| {
        for (i, ns) in be.iter().enumerate() {
            let stop = &stops[i];
            let l = ns
                .run(|| TcpListener::bind((BACKENDS[i], 8080)))
                .expect("backend TCP");
            l.set_nonblocking(true).unwrap();
            s.spawn(move || {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(60) {
                    match l.accept() {
                        Ok((mut c, peer)) => {
                            c.set_nonblocking(false).unwrap();
                            let _ = c.write_all(format!("backend{i} saw {peer}").as_bytes());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        let connect_to = |vip: Ipv4Addr, k| {
            client
                .run(|| -> std::io::Result<(String, SocketAddr)> {
                    let mut c = TcpStream::connect_timeout(
                        &SocketAddr::from((vip, 80)),
                        Duration::from_secs(5),
                    )?;
                    c.set_read_timeout(Some(Duration::from_secs(5)))?;
                    let mut s = String::new();
                    c.read_to_string(&mut s)?;
                    Ok((s, c.local_addr()?))
                })
                .unwrap_or_else(|e| panic!("connection {k}: {e}"))
        };
        let connect = |k| connect_to(VIP, k);
        let mut seen = [0u32; 2];
        for k in 0..CONNECTIONS {
            let (answer, local) = connect(k);
            let i = usize::from(!answer.starts_with("backend0"));
            assert_eq!(answer, format!("backend{i} saw {local}"));
            seen[i] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0, "both backends: {seen:?}");
        // Full NAT: backend 1 sees the load balancer's address, never the client's.
        for k in 0..CONNECTIONS {
            let (answer, _) = connect_to(VIP_FNAT, k);
            assert!(
                answer.starts_with(&format!("backend1 saw {LB_L1}:")),
                "full NAT: {answer}"
            );
        }
        // Backend 1 stops listening: its TCP health check fails, the daemon takes it out and
        // says so, and every new connection goes to backend 0.
        stops[1].store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        while !log
            .iter()
            .any(|l| l.contains("backend down") && l.contains(&BACKENDS[1].to_string()))
        {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no backend down: {log:#?}"
            );
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                log.push(l);
            }
        }
        assert!(
            !log.iter()
                .any(|l| l.contains("backend down") && l.contains(&BACKENDS[0].to_string())),
            "backend 0 is healthy: {log:#?}"
        );
        for k in 0..CONNECTIONS {
            let (answer, local) = connect(k);
            assert_eq!(
                answer,
                format!("backend0 saw {local}"),
                "after backend 1 went down"
            );
        }
        // The operator's view: upf-lbctl lb shows backend 1 down, backend 0 up.
        let v = common::ctl_json(&topo.upf, &["lb"]);
        assert_eq!(v["enabled"], true, "{v}");
        let s0 = &v["services"][0];
        assert_eq!(
            (s0["protocol"].as_str(), s0["health"].as_str()),
            (Some("tcp"), Some("tcp")),
            "{v}"
        );
        assert_eq!(s0["vips"][0], VIP.to_string(), "{v}");
        assert_eq!(s0["backends"][0]["up"], true, "{v}");
        assert_eq!(s0["backends"][1]["up"], false, "{v}");
        assert_eq!(s0["mode"], "dnat", "{v}");
        let s1 = &v["services"][1];
        assert_eq!(
            (s1["mode"].as_str(), s1["source"].as_str()),
            (Some("full_nat"), Some(LB_L1.to_string().as_str())),
            "{v}"
        );
        assert!(v["tracked"].as_u64().unwrap_or(0) > 0, "{v}");
        stops[0].store(true, Ordering::Relaxed);
    });
    // The load balancer's outcomes are in the daemon's Prometheus metrics.
    let metrics = common::metrics(&topo.upf);
    let count = |reason: &str| common::datapath_packets(&metrics, reason);
    // Per backend: backend 1 is down (0), backend 0 took packets both ways.
    let line = |prefix: &str| common::sample(&metrics, prefix);
    let b0 = format!("service=\"0\",backend=\"{}\"", BACKENDS[0]);
    let b1 = format!("service=\"0\",backend=\"{}\"", BACKENDS[1]);
    assert_eq!(
        line(&format!("upf_lb_lb_backend_up{{{b1}}}")),
        Some(0),
        "{metrics}"
    );
    assert_eq!(
        line(&format!("upf_lb_lb_backend_up{{{b0}}}")),
        Some(1),
        "{metrics}"
    );
    for dir in ["to", "from"] {
        let n = line(&format!(
            "upf_lb_lb_backend_packets_total{{{b0},direction=\"{dir}\"}}"
        ));
        assert!(
            n.unwrap_or(0) >= u64::from(CONNECTIONS),
            "{dir}: {n:?}\n{metrics}"
        );
    }
    // The TCP health probes' answers (to the daemon's probe source, on the probes' port band)
    // were left to the kernel, and counted.
    assert!(
        count("lb_health_probe") > 0,
        "no TCP probe answer counted lb_health_probe"
    );
    let translated = count("lb_redirect") + count("lb_to_kernel");
    assert!(
        translated >= 3 * u64::from(CONNECTIONS),
        "{translated} packets translated by xdp_lb in the metrics"
    );
    let st = upf_lb_testkit::netns::signal_and_wait(&mut d, libc::SIGTERM, Duration::from_secs(10))
        .unwrap()
        .expect("the daemon stops on SIGTERM");
    assert!(st.success(), "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
