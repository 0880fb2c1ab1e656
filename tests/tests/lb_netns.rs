//! Tier 3: the L4 load balancer between real sockets. A client namespace talks to a VIP; the
//! load balancer's namespace runs `xdp_lb` on its three interfaces (client side, and one per
//! backend, for the replies); two backend namespaces serve TCP and UDP on their own ports and
//! answer with their names. Every TCP connection completes its exchange through the DNAT, the
//! client only ever sees the VIP, connections spread over both backends, and a UDP flow's
//! datagrams all reach one backend.
//!
//! ```text
//! client c0 192.0.2.1 -- l0 lb l1 203.0.113.1 -- b0 backend 1 203.0.113.10
//!                        192.0.2.2 l2 198.51.100.1 -- b0 backend 2 198.51.100.10
//! VIP 198.18.0.10: TCP 80 -> backends' 8080, UDP 53 -> backends' 5353
//! ```

use bpf_abi::{Reason, lb::PROG_XDP_LB};
use std::{
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};
use upf_lb::southbound::{LbDatapath, lb::BackendSpec};
use upf_lb_testkit::netns::{Netns, unique_name, veth};
use upf_lb_tests::require_root;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const BACKENDS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(203, 0, 113, 10),
    Ipv4Addr::new(198, 51, 100, 10),
];
/// TCP connections made; each must complete.
const CONNECTIONS: u16 = 40;

/// The namespaces of the diagrams: a client (`client_cmds` address its `c0`), the load
/// balancer (`lb_cmd` addresses its `l0`; `l1` and `l2` face the backends; forwarding on),
/// two backends at [`BACKENDS`] routed back through it. Names start with `prefix`.
fn bed(prefix: &str, client_cmds: &[&str], lb_cmd: &str) -> (Netns, Netns, Vec<Netns>) {
    let client = Netns::create(&unique_name(&format!("{prefix}c"))).unwrap();
    let lb = Netns::create(&unique_name(&format!("{prefix}x"))).unwrap();
    let be: Vec<Netns> = (0..2)
        .map(|i| Netns::create(&unique_name(&format!("{prefix}b{i}"))).unwrap())
        .collect();
    veth(&client, "c0", &lb, "l0").unwrap();
    veth(&lb, "l1", &be[0], "b0").unwrap();
    veth(&lb, "l2", &be[1], "b0").unwrap();
    let mut cmds: Vec<(&Netns, &str)> = client_cmds.iter().map(|c| (&client, *c)).collect();
    cmds.extend([
        (&lb, lb_cmd),
        (&lb, "addr add 203.0.113.1/24 dev l1"),
        (&lb, "addr add 198.51.100.1/24 dev l2"),
        (&be[0], "addr add 203.0.113.10/24 dev b0"),
        (&be[0], "route add default via 203.0.113.1"),
        (&be[1], "addr add 198.51.100.10/24 dev b0"),
        (&be[1], "route add default via 198.51.100.1"),
    ]);
    for (ns, cmd) in cmds {
        ns.ip(&cmd.split(' ').collect::<Vec<_>>()).unwrap();
    }
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            lb.name(),
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (client, lb, be)
}

/// Attaches `xdp_lb` to the load balancer's three interfaces (generic XDP: veth peers
/// without programs).
fn attach(dp: &mut LbDatapath, lb: &Netns) {
    let p = dp.xdp_mut(PROG_XDP_LB).unwrap();
    for dev in ["l0", "l1", "l2"] {
        lb.run(|| p.attach(dev, aya::programs::XdpMode::Skb))
            .expect("attach xdp_lb");
    }
}

#[test]
fn tcp_and_udp_through_the_load_balancer_between_real_sockets() {
    require_root();
    let (client, lb, be) = bed(
        "lb",
        &[
            "addr add 192.0.2.1/24 dev c0",
            "route add default via 192.0.2.2",
        ],
        "addr add 192.0.2.2/24 dev l0",
    );
    let mut dp = LbDatapath::load(4, 8, 4096).expect("load bpf-lb");
    let spec = |port| -> Vec<BackendSpec> {
        BACKENDS
            .iter()
            .map(|&a| BackendSpec {
                addr: IpAddr::V4(a),
                port,
                weight: 1,
            })
            .collect()
    };
    dp.set_service(VIP.into(), 6, 80, &spec(8080)).unwrap();
    dp.set_service(VIP.into(), 17, 53, &spec(5353)).unwrap();
    attach(&mut dp, &lb);

    // The backends: TCP on 8080 and UDP on 5353, answering with their names and what came.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for (i, ns) in be.iter().enumerate() {
            let stop = &stop;
            let tcp = ns
                .run(|| TcpListener::bind((BACKENDS[i], 8080)))
                .expect("backend TCP");
            tcp.set_nonblocking(true).unwrap();
            let udp = ns
                .run(|| UdpSocket::bind((BACKENDS[i], 5353)))
                .expect("backend UDP");
            udp.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            s.spawn(move || {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(30) {
                    match tcp.accept() {
                        Ok((mut c, peer)) => {
                            c.set_nonblocking(false).unwrap();
                            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            let mut buf = [0u8; 64];
                            let n = c.read(&mut buf).unwrap_or(0);
                            let answer = format!("backend{i} saw {peer} say ");
                            let _ = c.write_all(answer.as_bytes());
                            let _ = c.write_all(&buf[..n]);
                        }
                        Err(_) => {
                            let mut buf = [0u8; 64];
                            if let Ok((n, from)) = udp.recv_from(&mut buf) {
                                let mut a = format!("backend{i} ").into_bytes();
                                a.extend_from_slice(&buf[..n]);
                                let _ = udp.send_to(&a, from);
                            }
                        }
                    }
                }
            });
        }

        // TCP: each connection to the VIP sends a line and reads the answer to the end.
        let mut seen = [0u32; 2];
        for k in 0..CONNECTIONS {
            let (answer, local, peer) = client
                .run(|| say_hello(VIP, k))
                .unwrap_or_else(|e| panic!("connection {k}: {e}"));
            assert_eq!(peer, SocketAddr::from((VIP, 80)), "the client sees the VIP");
            let i = if answer.starts_with("backend0") { 0 } else { 1 };
            assert_eq!(
                answer,
                format!("backend{i} saw {local} say hello {k}"),
                "the backend saw the client's own address and port"
            );
            seen[i] += 1;
        }
        assert!(
            seen[0] > 0 && seen[1] > 0,
            "connections spread over both backends: {seen:?}"
        );

        // UDP: ten datagrams of one flow, all answered by the same backend, from the VIP.
        let u = client
            .run(|| UdpSocket::bind((Ipv4Addr::new(192, 0, 2, 1), 0)))
            .unwrap();
        u.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut who = None;
        for k in 0..10 {
            u.send_to(format!("q{k}").as_bytes(), (VIP, 53)).unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = u.recv_from(&mut buf).expect("a UDP answer");
            assert_eq!(from, SocketAddr::from((VIP, 53)), "from the VIP");
            let a = String::from_utf8_lossy(&buf[..n]).to_string();
            let name = a.split(' ').next().unwrap().to_string();
            assert_eq!(a, format!("{name} q{k}"));
            assert!(who.get_or_insert(name.clone()) == &name, "one backend: {a}");
        }
        stop.store(true, Ordering::Relaxed);
    });
    let c = dp.counters().unwrap();
    let n = |r: Reason| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    assert!(
        n(Reason::LbRedirect) + n(Reason::LbToKernel) >= u64::from(CONNECTIONS) * 6,
        "the connections went through xdp_lb both ways"
    );
}

/// NAT64 between real sockets: an IPv6-only client connects over TCP to an IPv6 VIP whose
/// backends are IPv4; every connection completes its exchange, the client sees only the VIP,
/// the backends see the service's NAT64 source address (with a port per connection), and
/// connections spread over both backends.
///
/// ```text
/// client c0 2001:db8:c::1 -- l0 lb l1 203.0.113.1 -- b0 backend 1 203.0.113.10
///                            2001:db8:c::2 l2 198.51.100.1 -- b0 backend 2 198.51.100.10
/// VIP [2001:db8:fe::80]:80 -> the backends' 8080, from 198.18.64.1
/// ```
#[test]
fn nat64_tcp_from_an_ipv6_client_to_ipv4_backends() {
    require_root();
    const VIP6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x80);
    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 64, 1);
    let (client, lb, be) = bed(
        "n64",
        &[
            "-6 addr add 2001:db8:c::1/64 dev c0 nodad",
            "-6 route add 2001:db8:fe::/64 via 2001:db8:c::2",
        ],
        "-6 addr add 2001:db8:c::2/64 dev l0 nodad",
    );
    let mut dp = LbDatapath::load(4, 8, 4096).expect("load bpf-lb");
    let spec: Vec<BackendSpec> = BACKENDS
        .iter()
        .map(|&a| BackendSpec {
            addr: IpAddr::V4(a),
            port: 8080,
            weight: 1,
        })
        .collect();
    dp.set_nat64_service(VIP6, 6, 80, &spec, SRC).unwrap();
    attach(&mut dp, &lb);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for (i, ns) in be.iter().enumerate() {
            let stop = &stop;
            let tcp = ns
                .run(|| TcpListener::bind((BACKENDS[i], 8080)))
                .expect("backend TCP");
            tcp.set_nonblocking(true).unwrap();
            s.spawn(move || {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(30) {
                    match tcp.accept() {
                        Ok((mut c, peer)) => {
                            c.set_nonblocking(false).unwrap();
                            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            let mut buf = [0u8; 64];
                            let n = c.read(&mut buf).unwrap_or(0);
                            let _ = c.write_all(format!("backend{i} saw {peer} say ").as_bytes());
                            let _ = c.write_all(&buf[..n]);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        let mut seen = [0u32; 2];
        let mut ports = std::collections::BTreeSet::new();
        for k in 0..CONNECTIONS {
            let (answer, _, peer) = client
                .run(|| say_hello(VIP6, k))
                .unwrap_or_else(|e| panic!("connection {k}: {e}"));
            assert_eq!(
                peer,
                SocketAddr::from((VIP6, 80)),
                "the client sees the VIP"
            );
            let i = usize::from(!answer.starts_with("backend0"));
            let prefix = format!("backend{i} saw {SRC}:");
            assert!(answer.starts_with(&prefix), "{answer}");
            assert!(answer.ends_with(&format!(" say hello {k}")), "{answer}");
            let port: u16 = answer[prefix.len()..]
                .split(' ')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
            ports.insert((i, port));
            seen[i] += 1;
        }
        stop.store(true, Ordering::Relaxed);
        assert!(seen[0] > 0 && seen[1] > 0, "both backends: {seen:?}");
        assert_eq!(
            ports.len(),
            usize::from(CONNECTIONS),
            "a source port per connection"
        );
    });
    let c = dp.counters().unwrap();
    let n = |r: Reason| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    assert!(
        n(Reason::LbXlatRedirect) >= u64::from(CONNECTIONS) * 4,
        "{} packets translated",
        n(Reason::LbXlatRedirect)
    );
}

/// Full NAT and DSR between real sockets, on the bed of the first test, backends serving TCP
/// on 8080 (full NAT) and on port 80 of every address (DSR: the VIPs are on their loopback):
///
/// - full NAT (VIP 198.18.0.10:80 to the backends' 8080, from 203.0.113.1): every exchange
///   completes, the client sees only the VIP, the backends see the load balancer's address
///   (a port of each connection's own), never the client's;
/// - DSR over L2 (VIP .11): the backends see the client's own address and the VIP as their
///   local address, and answer the client directly (here through the namespace's kernel
///   routing, which is the client's gateway: the load balancer's program does not translate
///   the replies, they are `lb_no_service`);
/// - DSR through IPIP (VIP .12, from 203.0.113.1): as DSR over L2, the backends decapsulating
///   with `xdp_lb_decap` (this kernel has no ipip module).
///
/// Connections spread over both backends in each mode.
#[test]
fn full_nat_and_dsr_between_real_sockets() {
    use upf_lb::southbound::lb::Forwarding;
    require_root();
    let (client, lb, be) = bed(
        "lbm",
        &[
            "addr add 192.0.2.1/24 dev c0",
            "route add default via 192.0.2.2",
        ],
        "addr add 192.0.2.2/24 dev l0",
    );
    let fnat = Ipv4Addr::new(198, 18, 0, 10);
    let dsr = Ipv4Addr::new(198, 18, 0, 11);
    let tun = Ipv4Addr::new(198, 18, 0, 12);
    let lb_addr = Ipv4Addr::new(203, 0, 113, 1);
    // Backend 2 reaches the full-NAT source through its link to the load balancer.
    be[1]
        .ip(&["route", "add", "203.0.113.1/32", "via", "198.51.100.1"])
        .unwrap();
    for ns in &be {
        for v in [dsr, tun] {
            ns.ip(&["addr", "add", &format!("{v}/32"), "dev", "lo"])
                .unwrap();
        }
        ns.ip(&["link", "set", "lo", "up"]).unwrap();
    }
    let mut dp = LbDatapath::load(8, 16, 4096).expect("load bpf-lb");
    let spec = |port| -> Vec<BackendSpec> {
        BACKENDS
            .iter()
            .map(|&a| BackendSpec {
                addr: IpAddr::V4(a),
                port,
                weight: 1,
            })
            .collect()
    };
    let modes = [
        (
            fnat,
            Forwarding::FullNat {
                source: lb_addr.into(),
            },
            8080,
        ),
        (dsr, Forwarding::DsrL2, 0),
        (
            tun,
            Forwarding::DsrTunnel {
                source: lb_addr.into(),
            },
            0,
        ),
    ];
    for (vip, f, port) in modes {
        dp.set_forwarding(vip.into(), 6, 80, f).unwrap();
        dp.set_service(vip.into(), 6, 80, &spec(port)).unwrap();
    }
    attach(&mut dp, &lb);
    // The backends' side of the tunnel: another copy of the object, `xdp_lb_decap` on their
    // link, for the tunnelled VIP.
    let mut dec = LbDatapath::load(2, 2, 64).expect("load bpf-lb for decapsulation");
    dec.set_decap_vips(&[tun.into()]).unwrap();
    let p = dec.xdp_mut(bpf_abi::lb::PROG_XDP_LB_DECAP).unwrap();
    for ns in &be {
        ns.run(|| p.attach("b0", aya::programs::XdpMode::Skb))
            .expect("attach xdp_lb_decap");
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for (i, ns) in be.iter().enumerate() {
            let stop = &stop;
            let listeners: Vec<TcpListener> = [
                SocketAddr::from((BACKENDS[i], 8080)),
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 80)),
            ]
            .iter()
            .map(|a| {
                let l = ns.run(|| TcpListener::bind(a)).expect("backend TCP");
                l.set_nonblocking(true).unwrap();
                l
            })
            .collect();
            // DSR sends to the backends' MACs: resolve them (the daemon's health checks do).
            let _ = lb.run(|| {
                TcpStream::connect_timeout(
                    &SocketAddr::from((BACKENDS[i], 8080)),
                    Duration::from_secs(2),
                )
            });
            s.spawn(move || {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(60) {
                    let mut idle = true;
                    for l in &listeners {
                        if let Ok((mut c, peer)) = l.accept() {
                            idle = false;
                            c.set_nonblocking(false).unwrap();
                            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            let mut buf = [0u8; 64];
                            let n = c.read(&mut buf).unwrap_or(0);
                            let local = c.local_addr().unwrap();
                            let answer = format!("backend{i} saw {peer} at {local} say ");
                            let _ = c.write_all(answer.as_bytes());
                            let _ = c.write_all(&buf[..n]);
                        }
                    }
                    if idle {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            });
        }
        for (vip, f, port) in modes {
            let mut seen = [0u32; 2];
            for k in 0..CONNECTIONS {
                let (answer, local, peer) = client
                    .run(|| say_hello(vip, k))
                    .unwrap_or_else(|e| panic!("{f:?} connection {k}: {e}"));
                assert_eq!(peer, SocketAddr::from((vip, 80)), "the client sees the VIP");
                let i = if answer.starts_with("backend0") { 0 } else { 1 };
                seen[i] += 1;
                let rest = answer
                    .strip_prefix(&format!("backend{i} saw "))
                    .unwrap_or_else(|| panic!("{f:?}: {answer}"));
                let (saw, rest) = rest.split_once(" at ").unwrap();
                let (at, said) = rest.split_once(" say ").unwrap();
                let saw: SocketAddr = saw.parse().unwrap();
                let at: SocketAddr = at.parse().unwrap();
                assert_eq!(said, format!("hello {k}"), "{f:?}");
                if port == 8080 {
                    assert_eq!(
                        saw.ip(),
                        IpAddr::V4(lb_addr),
                        "full NAT: the backend sees the load balancer"
                    );
                    assert!(saw.port() >= 1024, "full NAT port {saw}");
                    assert_eq!(at, SocketAddr::from((BACKENDS[i], 8080)));
                } else {
                    assert_eq!(saw, local, "DSR: the backend sees the client");
                    assert_eq!(at, SocketAddr::from((vip, 80)), "DSR: to the VIP");
                }
            }
            assert!(
                seen[0] > 0 && seen[1] > 0,
                "{f:?}: connections spread over both backends: {seen:?}"
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let c = dp.counters().unwrap();
    let n = |r: Reason| c.iter().find(|(x, _)| *x == r).unwrap().1.packets;
    assert!(
        n(Reason::LbDsrRedirect) >= u64::from(CONNECTIONS) * 2 * 3,
        "DSR packets sent by the program: {}",
        n(Reason::LbDsrRedirect)
    );
    let d = dec.counters().unwrap();
    let decapped = d
        .iter()
        .find(|(x, _)| *x == Reason::LbDecap)
        .unwrap()
        .1
        .packets;
    assert!(
        decapped >= u64::from(CONNECTIONS) * 3,
        "tunnelled packets decapsulated: {decapped}"
    );
}

/// One TCP connection to `vip`:80 that says "hello `k`" and reads the answer to the end: the
/// answer, the client's address and the peer it saw.
fn say_hello(vip: impl Into<IpAddr>, k: u16) -> std::io::Result<(String, SocketAddr, SocketAddr)> {
    let to = SocketAddr::from((vip.into(), 80));
    let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    c.write_all(format!("hello {k}").as_bytes())?;
    let mut s = String::new();
    c.read_to_string(&mut s)?;
    Ok((s, c.local_addr()?, c.peer_addr()?))
}
