//! Tier 3: multi-homed SCTP through the load balancer between real SCTP stacks: usrsctp's
//! client and echo server (Debian libusrsctp-examples, SCTP over raw IP: this kernel has no
//! SCTP sockets) in namespaces. The client has two paths to the service's two VIPs, path 1
//! through a bridge in its own namespace so it can be cut in the middle; each backend has two
//! addresses. Checked: associations spread over both backends; each association's packets
//! reach one backend only, on both of its addresses (heartbeats on every path); the client
//! sees only VIPs (the INIT ACK's addresses and every source), the backend the client's own
//! addresses; cutting path 1 mid-association loses no message (SCTP moves to path 2); the
//! daemon's SCTP health check (INIT over a raw socket) sees both backends up, and a killed one
//! down while an association on the other goes on untouched; every packet anyone received
//! has a good CRC32c (tshark).
//!
//! ```text
//! client c1 192.0.2.2 -- [mid: bridge] -- l1 192.0.2.1  lb  e1 198.18.1.1/101.1 -- b1 .1.11, .101.11
//!        c2 198.51.100.2 ------------- l2 198.51.100.1     e2 198.18.2.1/102.1 -- b2 .2.12, .102.12
//! VIPs 203.0.113.1 (path 1, via c1), 203.0.113.2 (path 2, via c2); SCTP port 7 (echo)
//! ```

use bpf_abi::lb::PROG_XDP_LB;
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    net::{IpAddr, Ipv4Addr},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};
use upf_lb::{
    lb_health::{Check, probe, source_for},
    netns::{Netns, Reaped, unique_name, veth},
    southbound::{
        LbDatapath,
        lb::{SctpAssociation, SctpBackendSpec},
    },
};
use upf_lb_tests::require_root;

const USRSCTP: &str = "/usr/lib/usrsctp";
const VIPS: [Ipv4Addr; 2] = [Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2)];
const CLIENT: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(198, 51, 100, 2)];
const BACKENDS: [[Ipv4Addr; 2]; 2] = [
    [
        Ipv4Addr::new(198, 18, 1, 11),
        Ipv4Addr::new(198, 18, 101, 11),
    ],
    [
        Ipv4Addr::new(198, 18, 2, 12),
        Ipv4Addr::new(198, 18, 102, 12),
    ],
];
/// The echo service's port (usrsctp's echo_server).
const PORT: u16 = 7;

fn sh(ns: &Netns, cmd: &str) {
    ns.ip(&cmd.split(' ').collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{}: ip {cmd}: {e}", ns.name()));
}

fn sysctl(ns: &Netns, kv: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sysctl", "-qw", kv])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `prog args` in `ns`, killed and reaped when dropped.
fn spawn(ns: &Netns, prog: &str, args: &[&str], stdin: Stdio) -> Reaped {
    Reaped(
        Command::new("ip")
            .args(["netns", "exec", ns.name(), prog])
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{prog}: {e}")),
    )
}

/// A packet capture of SCTP on `ifaces` of `ns` into `file`, running when this returns.
fn capture(ns: &Netns, ifaces: &[&str], file: &Path) -> Reaped {
    let mut args = vec!["-q".to_string()];
    for i in ifaces {
        args.push("-i".into());
        args.push((*i).into());
    }
    args.extend(["-f", "ip proto 132", "-w"].map(String::from));
    args.push(file.display().to_string());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut r = spawn(ns, "dumpcap", &a, Stdio::null());
    r.0.stderr.take();
    // dumpcap writes the file's header once it captures.
    let t0 = Instant::now();
    while !file.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(file.exists(), "dumpcap did not start");
    std::thread::sleep(Duration::from_millis(300));
    r
}

/// Stops a capture (SIGINT: dumpcap finishes the file).
fn stop(mut r: Reaped) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(r.0.id() as i32, libc::SIGINT) };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        if r.0.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs usrsctp's client against `vip`: sends `lines` (one each `gap`; `during(i)` runs before
/// line i), then waits until every line came back or `timeout`; returns the lines echoed.
fn client(
    ns: &Netns,
    vip: Ipv4Addr,
    lines: &[String],
    gap: Duration,
    timeout: Duration,
    mut during: impl FnMut(usize),
) -> Vec<String> {
    let mut c = spawn(
        ns,
        &format!("{USRSCTP}/client"),
        &[&vip.to_string(), &PORT.to_string(), "0", "0", "0"],
        Stdio::piped(),
    );
    let out = c.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    // The association comes up before the first line is read (the client connects first).
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = c.0.stdin.take().unwrap();
    let mut got = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        during(i);
        writeln!(stdin, "{l}").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(gap);
        got.extend(rx.try_iter().filter(|x| x.starts_with("line-")));
    }
    let t0 = Instant::now();
    while got.len() < lines.len() && t0.elapsed() < timeout {
        if let Ok(x) = rx.recv_timeout(Duration::from_millis(100))
            && x.starts_with("line-")
        {
            got.push(x);
        }
    }
    // EOF: the client shuts the association down.
    drop(stdin);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) && c.0.try_wait().ok().flatten().is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    got
}

fn tshark(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(pcap)
        .args(["-o", "sctp.checksum:CRC 32c", "-Y", filter])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// The association whose client tag is new since `seen`.
fn newest(dp: &LbDatapath, seen: &mut BTreeSet<u32>) -> Option<SctpAssociation> {
    let a = dp
        .sctp_associations()
        .into_iter()
        .find(|a| !seen.contains(&a.client_tag))?;
    seen.insert(a.client_tag);
    Some(a)
}

#[test]
fn multi_homed_sctp_between_usrsctp_stacks() {
    require_root();
    assert!(
        Path::new(USRSCTP).join("echo_server").exists(),
        "{USRSCTP}/echo_server missing: scripts/bootstrap.sh installs libusrsctp-examples"
    );
    let cl = Netns::create(&unique_name("scc")).unwrap();
    let mid = Netns::create(&unique_name("scm")).unwrap();
    let lb = Netns::create(&unique_name("scl")).unwrap();
    let be: Vec<Netns> = (0..2)
        .map(|i| Netns::create(&unique_name(&format!("scb{i}"))).unwrap())
        .collect();
    veth(&cl, "c1", &mid, "m1").unwrap();
    veth(&mid, "m2", &lb, "l1").unwrap();
    veth(&cl, "c2", &lb, "l2").unwrap();
    veth(&lb, "e1", &be[0], "e0").unwrap();
    veth(&lb, "e2", &be[1], "e0").unwrap();
    for cmd in [
        "link add br0 type bridge",
        "link set m1 master br0",
        "link set m2 master br0",
        "link set br0 up",
    ] {
        sh(&mid, cmd);
    }
    for cmd in [
        "addr add 192.0.2.2/24 dev c1",
        "addr add 198.51.100.2/24 dev c2",
        "route add 203.0.113.1/32 via 192.0.2.1 dev c1",
        "route add 203.0.113.2/32 via 198.51.100.1 dev c2",
    ] {
        sh(&cl, cmd);
    }
    for cmd in [
        "addr add 192.0.2.1/24 dev l1",
        "addr add 198.51.100.1/24 dev l2",
        "addr add 198.18.1.1/24 dev e1",
        "addr add 198.18.101.1/24 dev e1",
        "addr add 198.18.2.1/24 dev e2",
        "addr add 198.18.102.1/24 dev e2",
    ] {
        sh(&lb, cmd);
    }
    sysctl(&lb, "net.ipv4.ip_forward=1");
    for (i, ns) in be.iter().enumerate() {
        let [a, b] = BACKENDS[i];
        sh(ns, &format!("addr add {a}/24 dev e0"));
        sh(ns, &format!("addr add {b}/24 dev e0"));
        sh(ns, &format!("route add default via 198.18.{}.1", i + 1));
    }

    let mut dp = LbDatapath::load(4, 8, 1024).expect("load bpf-lb");
    dp.set_sctp_service(
        &VIPS.map(IpAddr::V4),
        PORT,
        &BACKENDS.map(|a| SctpBackendSpec {
            addrs: a.map(IpAddr::V4).to_vec(),
            weight: 1,
        }),
    )
    .unwrap();
    let p = dp.xdp_mut(PROG_XDP_LB).unwrap();
    let links: Vec<_> = ["l1", "l2", "e1", "e2"]
        .iter()
        .map(|dev| {
            lb.run(|| p.attach(dev, aya::programs::XdpMode::Skb))
                .expect("attach xdp_lb")
        })
        .collect();
    assert_eq!(links.len(), 4);

    let dir = std::env::temp_dir().join(format!("upf-lb-{}", unique_name("sctp")));
    std::fs::create_dir_all(&dir).unwrap();
    let pcaps = [
        dir.join("client.pcap"),
        dir.join("b1.pcap"),
        dir.join("b2.pcap"),
    ];
    let caps = vec![
        capture(&cl, &["c1", "c2"], &pcaps[0]),
        capture(&be[0], &["e0"], &pcaps[1]),
        capture(&be[1], &["e0"], &pcaps[2]),
    ];
    let mut servers: Vec<Option<Reaped>> = be
        .iter()
        .map(|ns| {
            Some(spawn(
                ns,
                &format!("{USRSCTP}/echo_server"),
                &["0"],
                Stdio::null(),
            ))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    // Spread: short associations, one after another (usrsctp stacks in one namespace would
    // see each other's packets on their raw sockets), until both backends served some
    // (tags are random: at most 16 tries, 2 in 65 536 to fail by chance).
    let mut seen = BTreeSet::new();
    let mut served = [0usize; 2];
    let mut runs = 0;
    while runs < 16 && (runs < 4 || served.contains(&0)) {
        let lines = vec![format!("line-{runs}")];
        let got = client(
            &cl,
            VIPS[runs % 2],
            &lines,
            Duration::from_millis(100),
            Duration::from_secs(5),
            |_| {},
        );
        assert_eq!(got, lines, "association {runs}: echo");
        let a = newest(&dp, &mut seen).expect("association tracked");
        let i = BACKENDS
            .iter()
            .position(|b| a.backend == b.map(IpAddr::V4).to_vec())
            .expect("a configured backend");
        served[i] += 1;
        assert_eq!(a.vips, VIPS.map(IpAddr::V4).to_vec());
        assert!(a.closing, "shut down: {a:?}");
        runs += 1;
    }
    assert!(
        served.iter().all(|&n| n > 0),
        "spread over both backends: {served:?}"
    );

    // A path cut in the middle of an association: every message still comes back.
    let lines: Vec<String> = (0..30).map(|i| format!("line-cut-{i}")).collect();
    let got = client(
        &cl,
        VIPS[0],
        &lines,
        Duration::from_millis(250),
        Duration::from_secs(20),
        |i| {
            if i == 8 {
                sh(&mid, "link set m2 down");
            }
        },
    );
    assert_eq!(got, lines, "every message echoed across the cut");
    let cut = newest(&dp, &mut seen).expect("the cut association tracked");
    sh(&mid, "link set m2 up");

    // The daemon's SCTP health check (an INIT over a raw socket from the load balancer's
    // namespace): both backends up. Then one backend is killed while an association runs on
    // the other: the check reports it down, the running association loses nothing.
    // As the daemon does it: each probe from the address that reaches its backend, told to
    // the datapath, which leaves the answers to those addresses to the probe.
    let target = |i: usize| std::net::SocketAddr::from((BACKENDS[i][0], PORT));
    let sources: Vec<IpAddr> = (0..2)
        .map(|i| {
            lb.run(|| source_for(target(i)))
                .expect("a route to the backend")
        })
        .collect();
    dp.set_probe_sources(132, &sources).unwrap();
    let answered = || {
        dp.counters()
            .unwrap()
            .into_iter()
            .find(|(r, _)| *r == bpf_abi::Reason::LbHealthProbe)
            .map_or(0, |(_, c)| c.packets)
    };
    let sctp_check = |i: usize| {
        lb.run(|| {
            probe(
                Check::Sctp,
                target(i),
                Some(sources[i]),
                Duration::from_secs(1),
            )
        })
    };
    assert_eq!(sctp_check(0), Ok(()), "backend 0 answers INIT");
    assert_eq!(sctp_check(1), Ok(()), "backend 1 answers INIT");
    let lines: Vec<String> = (0..12).map(|i| format!("line-kill-{i}")).collect();
    let mut killed = None;
    let got = client(
        &cl,
        VIPS[1],
        &lines,
        Duration::from_millis(200),
        Duration::from_secs(10),
        |i| {
            if i == 3 {
                let a = newest(&dp, &mut seen).expect("association tracked");
                let home = BACKENDS
                    .iter()
                    .position(|b| a.backend == b.map(IpAddr::V4).to_vec())
                    .unwrap();
                servers[1 - home] = None;
                killed = Some(1 - home);
            }
        },
    );
    assert_eq!(
        got, lines,
        "the association on the live backend is unaffected"
    );
    let killed = killed.expect("killed one");
    let down = sctp_check(killed).expect_err("the killed backend fails its check");
    assert!(down.contains("no INIT ACK"), "{down}");
    assert_eq!(sctp_check(1 - killed), Ok(()), "the other is up");
    assert!(
        answered() >= 3,
        "each INIT ACK answering a probe was left to it: {}",
        answered()
    );

    for c in caps {
        stop(c);
    }
    // The client sees only VIPs: as sources, and as the INIT ACK's addresses.
    let srcs: BTreeSet<String> = tshark(
        &pcaps[0],
        "ip.dst == 192.0.2.2 || ip.dst == 198.51.100.2",
        &["ip.src"],
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let vips: BTreeSet<String> = VIPS.iter().map(|v| v.to_string()).collect();
    assert!(
        !srcs.is_empty() && srcs.is_subset(&vips),
        "client saw {srcs:?}"
    );
    let acks = tshark(
        &pcaps[0],
        "sctp.chunk_type == 2",
        &["sctp.parameter_ipv4_address"],
    );
    assert!(acks.len() >= runs, "INIT ACKs captured: {}", acks.len());
    for r in acks {
        let a: BTreeSet<String> = r[0]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        assert_eq!(a, vips, "INIT ACK addresses the client saw");
    }
    // Every packet either side received has a good checksum (1: Good).
    for p in &pcaps {
        let rows = tshark(p, "sctp", &["sctp.checksum.status"]);
        assert!(rows.len() > 10, "{}: {} packets", p.display(), rows.len());
        for r in rows {
            assert_eq!(r[0], "1", "{}: checksum status", p.display());
        }
    }
    // The backends see the client's own addresses in its INIT, and each association's tag on
    // one backend only; the cut association reached its backend on both addresses.
    let client_addrs: BTreeSet<String> = CLIENT.iter().map(|a| a.to_string()).collect();
    let mut tags = [BTreeSet::new(), BTreeSet::new()];
    let mut dsts = [BTreeSet::new(), BTreeSet::new()];
    for i in 0..2 {
        for r in tshark(
            &pcaps[i + 1],
            "sctp.chunk_type == 1",
            &["sctp.parameter_ipv4_address"],
        ) {
            let a: BTreeSet<String> = r[0]
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            assert!(
                a.is_subset(&client_addrs),
                "INIT addresses at backend {i}: {a:?}"
            );
        }
        let bes: Vec<String> = BACKENDS[i].iter().map(|a| a.to_string()).collect();
        for r in tshark(
            &pcaps[i + 1],
            "sctp.verification_tag != 0",
            &["ip.dst", "sctp.verification_tag"],
        ) {
            if bes.contains(&r[0]) {
                tags[i].insert(r[1].clone());
                if r[1] == format!("0x{:08x}", cut.backend_tag) {
                    dsts[i].insert(r[0].clone());
                }
            }
        }
    }
    assert!(
        tags.iter().all(|t| !t.is_empty()) && tags[0].is_disjoint(&tags[1]),
        "each association on one backend: {tags:?}"
    );
    let home = BACKENDS
        .iter()
        .position(|b| cut.backend == b.map(IpAddr::V4).to_vec())
        .unwrap();
    assert_eq!(
        dsts[home].len(),
        2,
        "the cut association reached its backend on both addresses: {dsts:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
