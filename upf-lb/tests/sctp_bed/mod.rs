//! The multi-homed SCTP scenario through the load balancer as an operator runs it, shared by
//! the tests of each SCTP stack that plays its client and echo servers (usrsctp's over raw IP,
//! the kernel's sockets): `upf-lb run` (the real binary) with an SCTP service of two VIPs (one
//! a client-side link) and three backends of two addresses each, in namespaces. The backends
//! answer every path from their first address (usrsctp does; the kernel picks the route's
//! preferred source, the first address). With the daemon's default SCTP health check on (its
//! INIT from the load balancer's address towards each backend; `LB_PROBE_SRC` leaves the INIT
//! ACK to it): every backend stays up; associations spread over all three, each on one
//! backend only, on both of its addresses; a path cut in the middle of an association loses no
//! message; a killed backend goes down within the check's fall time while an association on
//! another goes on untouched, and new associations avoid it. What the client receives on link
//! N comes from the VIP of link N, whichever address the backend sent from; no backend address
//! ever appears on a client link (as a source, a destination or an INIT ACK's address); every
//! packet anyone received has a good CRC32c (tshark).
//!
//! ```text
//! client c1 198.19.11.2 -- [mid: bridge] -- l1 .11.1  [upf ns: n3, n6]  e1 198.19.21.1/121.1 -- b1 .21.11, .121.11
//!        c2 198.19.12.2 --------------------- l2 .12.1                  e2 198.19.22.1/122.1 -- b2 .22.12, .122.12
//!                                                                       e3 198.19.23.1/123.1 -- b3 .23.13, .123.13
//! VIPs 198.19.200.1 (link 1, via c1), 198.19.200.2 (link 2, via c2); SCTP port 7 (echo)
//! ```

use crate::common;
use std::{
    any::Any,
    collections::BTreeSet,
    net::Ipv4Addr,
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    netns::{Netns, Reaped, unique_name, veth},
    topology::Topology,
};

pub const VIPS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(198, 19, 200, 1),
    Ipv4Addr::new(198, 19, 200, 2),
];
/// The client's address on each link.
pub const CLIENT: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 19, 11, 2), Ipv4Addr::new(198, 19, 12, 2)];
pub const BACKENDS: [[Ipv4Addr; 2]; 3] = [
    [
        Ipv4Addr::new(198, 19, 21, 11),
        Ipv4Addr::new(198, 19, 121, 11),
    ],
    [
        Ipv4Addr::new(198, 19, 22, 12),
        Ipv4Addr::new(198, 19, 122, 12),
    ],
    [
        Ipv4Addr::new(198, 19, 23, 13),
        Ipv4Addr::new(198, 19, 123, 13),
    ],
];
/// The echo service's port.
pub const PORT: u16 = 7;
/// The daemon's health check: every 500 ms, 300 ms for an answer, down after 3 failures.
const INTERVAL_MS: u64 = 500;
const TIMEOUT_MS: u64 = 300;
const FALL: u64 = 3;

/// An SCTP stack that plays the scenario's client and echo servers.
pub trait Stack {
    /// Panics with what is missing when the stack cannot run here.
    fn check(&self);

    /// Sets up namespace `ns` (the client's, a backend's or the load balancer's) for the
    /// stack.
    fn prepare(&self, _ns: &Netns) {}

    /// Starts an echo server on port [`PORT`] of both `addrs` in `ns`; dropping what it
    /// returns kills it (its port then answers an INIT with an ABORT, or not at all).
    fn serve(&self, ns: &Netns, addrs: [Ipv4Addr; 2]) -> Box<dyn Any>;

    /// One association from `ns` (the client's addresses on both links) to `vip`: sends
    /// `lines`, each a message, one each `gap` (`during(i)` runs before line i), waits until
    /// every line came back or `timeout`, then shuts the association down; returns the lines
    /// echoed.
    fn client(
        &self,
        ns: &Netns,
        vip: Ipv4Addr,
        lines: &[String],
        gap: Duration,
        timeout: Duration,
        during: &mut dyn FnMut(usize),
    ) -> Vec<String>;
}

fn sh(ns: &Netns, cmd: &str) {
    ns.ip(&cmd.split(' ').collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{}: ip {cmd}: {e}", ns.name()));
}

pub fn sysctl(ns: &Netns, kv: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sysctl", "-qw", kv])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `prog args` in `ns`, killed and reaped when dropped.
/// `prog args` in `ns`, its stdout piped.
pub fn spawn(ns: &Netns, prog: &str, args: &[&str], stdin: Stdio) -> Reaped {
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

/// The addresses of a tshark field with every occurrence (`-E occurrence=a`, comma-joined).
fn addresses(field: &str) -> BTreeSet<String> {
    field
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
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

/// An association as `upf-lbctl lb` shows it: its client tag, backend tag and backend
/// addresses.
#[derive(Debug)]
struct Assoc {
    client_tag: u64,
    backend_tag: u64,
    backend: Vec<String>,
    closing: bool,
}

/// The association whose client tag is new since `seen` (from `upf-lbctl lb`).
fn newest(upf: &Netns, seen: &mut BTreeSet<u64>) -> Option<Assoc> {
    let v = common::ctl_json(upf, &["lb"]);
    let a = v["sctp_associations"]
        .as_array()?
        .iter()
        .map(|a| Assoc {
            client_tag: a["client_tag"].as_u64().unwrap_or(0),
            backend_tag: a["backend_tag"].as_u64().unwrap_or(0),
            backend: a["backend"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            closing: a["closing"].as_bool().unwrap_or(false),
        })
        .find(|a| !seen.contains(&a.client_tag))?;
    seen.insert(a.client_tag);
    Some(a)
}

/// Which backend `a` is on.
fn home(a: &Assoc) -> usize {
    BACKENDS
        .iter()
        .position(|b| a.backend == b.map(|x| x.to_string()).to_vec())
        .unwrap_or_else(|| panic!("a configured backend: {a:?}"))
}

/// The backends' `up` as `upf-lbctl lb` shows them.
fn ups(upf: &Netns) -> Vec<bool> {
    let v = common::ctl_json(upf, &["lb"]);
    v["services"][0]["backends"]
        .as_array()
        .map(|b| b.iter().map(|x| x["up"] == true).collect())
        .unwrap_or_default()
}

/// The daemon's log lines, each with when it arrived, collected on a thread of its own (so
/// that when a line came is known while the test waits on something else).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(Instant, String)>>>);

impl Log {
    fn collect(first: Vec<String>, rx: mpsc::Receiver<String>) -> Self {
        let log = Log::default();
        let now = Instant::now();
        log.0
            .lock()
            .unwrap()
            .extend(first.into_iter().map(|l| (now, l)));
        let l = log.clone();
        std::thread::spawn(move || {
            for line in rx {
                l.0.lock().unwrap().push((Instant::now(), line));
            }
        });
        log
    }

    /// The lines that say a backend went down, with when.
    fn downs(&self) -> Vec<(Instant, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, l)| l.contains("backend down"))
            .cloned()
            .collect()
    }

    fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }
}

/// The scenario, with `stack`'s client and echo servers.
pub fn run(stack: &impl Stack) {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    stack.check();
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let lb = &topo.upf;
    let cl = Netns::create(&unique_name("scc")).unwrap();
    let mid = Netns::create(&unique_name("scm")).unwrap();
    let be: Vec<Netns> = (0..3)
        .map(|i| Netns::create(&unique_name(&format!("scb{i}"))).unwrap())
        .collect();
    veth(&cl, "c1", &mid, "m1").unwrap();
    veth(&mid, "m2", lb, "l1").unwrap();
    veth(&cl, "c2", lb, "l2").unwrap();
    for (i, ns) in be.iter().enumerate() {
        veth(lb, &format!("e{}", i + 1), ns, "e0").unwrap();
    }
    for cmd in [
        "link add br0 type bridge",
        "link set m1 master br0",
        "link set m2 master br0",
        "link set br0 up",
    ] {
        sh(&mid, cmd);
    }
    for cmd in [
        "addr add 198.19.11.2/24 dev c1",
        "addr add 198.19.12.2/24 dev c2",
        "route add 198.19.200.1/32 via 198.19.11.1 dev c1",
        "route add 198.19.200.2/32 via 198.19.12.1 dev c2",
    ] {
        sh(&cl, cmd);
    }
    sh(lb, "addr add 198.19.11.1/24 dev l1");
    sh(lb, "addr add 198.19.12.1/24 dev l2");
    for (i, ns) in be.iter().enumerate() {
        let n = 21 + i;
        sh(lb, &format!("addr add 198.19.{n}.1/24 dev e{}", i + 1));
        sh(
            lb,
            &format!("addr add 198.19.{}.1/24 dev e{}", n + 100, i + 1),
        );
        let [a, b] = BACKENDS[i];
        sh(ns, &format!("addr add {a}/24 dev e0"));
        sh(ns, &format!("addr add {b}/24 dev e0"));
        sh(ns, &format!("route add default via 198.19.{n}.1"));
    }
    sysctl(lb, "net.ipv4.ip_forward=1");
    // The load balancer's namespace too: its kernel answers what reaches it (an ABORT for
    // a probe's INIT ACK, when it has SCTP sockets).
    stack.prepare(lb);
    stack.prepare(&cl);
    for ns in &be {
        stack.prepare(ns);
    }

    let dir = std::env::temp_dir().join(format!("upf-lb-{}", unique_name("sctpd")));
    std::fs::create_dir_all(&dir).unwrap();
    let backends: Vec<String> = BACKENDS
        .iter()
        .map(|[a, b]| format!("    {{ addrs = [\"{a}\", \"{b}\"] }},\n"))
        .collect();
    let config = dir.join("upf-lb.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[lb]\ninterfaces = [\"l1\", \"l2\", \"e1\", \"e2\", \"e3\"]\nxdp_mode = \"skb\"\n\
             health_interval_ms = {INTERVAL_MS}\nhealth_timeout_ms = {TIMEOUT_MS}\n\
             health_fall = {FALL}\n\n\
             [[lb.service]]\nvips = [\"{}\", \"{}\"]\nlinks = [\"l1\", \"l2\"]\n\
             protocol = \"sctp\"\nport = {PORT}\n\
             backends = [\n{}]\n",
            upf_lb::config::DEFAULT.replacen(
                "# prometheus_listen = \"127.0.0.1:9464\"",
                "prometheus_listen = \"127.0.0.1:9464\"",
                1
            ),
            VIPS[0],
            VIPS[1],
            backends.concat()
        ),
    )
    .unwrap();

    let pcaps = [
        dir.join("c1.pcap"),
        dir.join("c2.pcap"),
        dir.join("b1.pcap"),
        dir.join("b2.pcap"),
        dir.join("b3.pcap"),
    ];
    let mut caps = vec![
        capture(&cl, &["c1"], &pcaps[0]),
        capture(&cl, &["c2"], &pcaps[1]),
    ];
    for (i, ns) in be.iter().enumerate() {
        caps.push(capture(ns, &["e0"], &pcaps[2 + i]));
    }
    let mut servers: Vec<Option<Box<dyn Any>>> = be
        .iter()
        .zip(BACKENDS)
        .map(|(ns, addrs)| Some(stack.serve(ns, addrs)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // The service's health check is the default for SCTP.
    let common::Running { mut d, rx, log } = common::start(lb, &config);
    assert!(
        log.iter().any(|l| l.contains("load balancer attached")),
        "{log:#?}"
    );
    let log = Log::collect(log, rx);
    let v = common::ctl_json(lb, &["lb"]);
    assert_eq!(v["services"][0]["health"], "sctp", "{v}");
    // Several rounds of probes: every backend answers, none goes down.
    std::thread::sleep(Duration::from_millis(4 * INTERVAL_MS));
    assert!(log.downs().is_empty(), "{:#?}", log.downs());
    assert_eq!(ups(lb), vec![true; 3], "every backend up");

    // Spread: short associations, one after another (usrsctp stacks in one namespace would
    // see each other's packets on their raw sockets), until every backend served some (tags
    // are random: at most 30 tries, 2 in 100 000 to fail by chance).
    let mut seen = BTreeSet::new();
    let mut served = [0usize; 3];
    let mut runs = 0;
    while runs < 30 && (runs < 6 || served.contains(&0)) {
        let lines = vec![format!("line-{runs}")];
        let got = stack.client(
            &cl,
            VIPS[runs % 2],
            &lines,
            Duration::from_millis(100),
            Duration::from_secs(5),
            &mut |_| {},
        );
        assert_eq!(
            got,
            lines,
            "association {runs} (to VIP {}): echo",
            runs % 2 + 1
        );
        let a = newest(lb, &mut seen).expect("association tracked");
        served[home(&a)] += 1;
        assert!(a.closing, "shut down: {a:?}");
        runs += 1;
    }
    assert!(
        served.iter().all(|&n| n > 0),
        "spread over the three backends: {served:?}"
    );
    assert!(log.downs().is_empty(), "{:#?}", log.downs());

    // A path cut in the middle of an association: every message still comes back.
    let lines: Vec<String> = (0..30).map(|i| format!("line-cut-{i}")).collect();
    let got = stack.client(
        &cl,
        VIPS[0],
        &lines,
        Duration::from_millis(250),
        Duration::from_secs(20),
        &mut |i| {
            if i == 8 {
                sh(&mid, "link set m2 down");
            }
        },
    );
    assert_eq!(got, lines, "every message echoed across the cut");
    let cut = newest(lb, &mut seen).expect("the cut association tracked");
    sh(&mid, "link set m2 up");
    assert!(log.downs().is_empty(), "{:#?}", log.downs());

    // One backend killed while an association runs on another: the daemon's check takes it
    // down within its fall time; the running association loses nothing.
    let lines: Vec<String> = (0..12).map(|i| format!("line-kill-{i}")).collect();
    let mut killed = None;
    let got = stack.client(
        &cl,
        VIPS[1],
        &lines,
        Duration::from_millis(200),
        Duration::from_secs(10),
        &mut |i| {
            if i == 3 {
                let a = newest(lb, &mut seen).expect("association tracked");
                let k = (home(&a) + 1) % 3;
                servers[k] = None;
                killed = Some((k, Instant::now()));
            }
        },
    );
    assert_eq!(
        got, lines,
        "the association on a live backend is unaffected"
    );
    let (killed, at) = killed.expect("killed one");
    let addr = BACKENDS[killed][0].to_string();
    // The fall time: FALL probes failed, the last after its timeout, from a probe up to an
    // interval after the kill; 500 ms more for a busy two-core machine.
    let bound = Duration::from_millis((FALL + 1) * INTERVAL_MS + TIMEOUT_MS + 500);
    let down_after = loop {
        if let Some((when, _)) = log.downs().into_iter().find(|(_, l)| l.contains(&addr)) {
            break when.saturating_duration_since(at);
        }
        assert!(
            at.elapsed() < Duration::from_secs(20),
            "backend {killed} never down: {:#?}",
            log.all()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("backend {killed} down {down_after:?} after its server was killed (bound {bound:?})");
    assert!(
        down_after <= bound,
        "down after {down_after:?}, over {bound:?}"
    );
    let others: Vec<String> = log
        .downs()
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| !l.contains(&addr))
        .collect();
    assert!(
        others.is_empty(),
        "only the killed one went down: {others:#?}"
    );
    let mut want = vec![true; 3];
    want[killed] = false;
    assert_eq!(ups(lb), want, "upf-lbctl shows the killed backend down");
    // New associations avoid it.
    for k in 0..4 {
        let lines = vec![format!("line-after-{k}")];
        let got = stack.client(
            &cl,
            VIPS[k % 2],
            &lines,
            Duration::from_millis(100),
            Duration::from_secs(5),
            &mut |_| {},
        );
        assert_eq!(got, lines, "association after the kill {k}: echo");
        let a = newest(lb, &mut seen).expect("association tracked");
        assert_ne!(
            home(&a),
            killed,
            "a new association on the dead backend: {a:?}"
        );
    }

    let metrics = common::metrics(lb);
    let probes = common::datapath_packets(&metrics, "lb_health_probe");
    assert!(
        probes >= 3 * 4,
        "the probes' INIT ACKs were left to the daemon: {probes}"
    );
    let st = upf_lb_testkit::netns::signal_and_wait(&mut d, libc::SIGTERM, Duration::from_secs(10))
        .unwrap()
        .expect("the daemon stops on SIGTERM");
    assert!(st.success(), "{st:?}");
    for c in caps {
        stop(c);
    }

    // What the client received on each link came from that link's VIP, and nothing on a
    // client link carries a backend's address.
    let backend_addrs: BTreeSet<String> =
        BACKENDS.iter().flatten().map(|a| a.to_string()).collect();
    let vips: BTreeSet<String> = VIPS.iter().map(|v| v.to_string()).collect();
    for (n, pcap) in pcaps[..2].iter().enumerate() {
        let rows = tshark(pcap, &format!("ip.dst == {}", CLIENT[n]), &["ip.src"]);
        assert!(
            rows.len() > 10,
            "link {}: {} packets to the client",
            n + 1,
            rows.len()
        );
        let srcs: BTreeSet<String> = rows.into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            srcs,
            BTreeSet::from([VIPS[n].to_string()]),
            "sources of what the client received on link {}",
            n + 1
        );
        for r in tshark(
            pcap,
            "sctp",
            &["ip.src", "ip.dst", "sctp.parameter_ipv4_address"],
        ) {
            for a in r.iter().flat_map(|f| f.split(',')) {
                assert!(
                    !backend_addrs.contains(a),
                    "link {}: a backend's address {a} in {r:?}",
                    n + 1
                );
            }
        }
        for r in tshark(
            pcap,
            "sctp.chunk_type == 2",
            &["sctp.parameter_ipv4_address"],
        ) {
            let a = addresses(&r[0]);
            assert_eq!(
                a,
                vips,
                "INIT ACK addresses the client saw on link {}",
                n + 1
            );
        }
    }
    // Every packet anyone received has a good checksum (1: Good).
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
    let mut tags = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    let mut dsts = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    for i in 0..3 {
        for r in tshark(
            &pcaps[i + 2],
            "sctp.chunk_type == 1",
            &["sctp.parameter_ipv4_address"],
        ) {
            let a = addresses(&r[0]);
            assert!(
                a.is_subset(&client_addrs),
                "INIT addresses at backend {i}: {a:?}"
            );
        }
        let bes: Vec<String> = BACKENDS[i].iter().map(|a| a.to_string()).collect();
        for r in tshark(
            &pcaps[i + 2],
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
    for i in 0..3 {
        for j in i + 1..3 {
            assert!(
                tags[i].is_disjoint(&tags[j]),
                "each association on one backend: {tags:?}"
            );
        }
    }
    assert!(tags.iter().all(|t| !t.is_empty()), "{tags:?}");
    assert_eq!(
        dsts[home(&cut)].len(),
        2,
        "the cut association reached its backend on both addresses: {dsts:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
