//! What the daemon tests share: the real binary run in a namespace with its log collected,
//! its Prometheus metrics read, and its upf-lbctl asked.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Command, Stdio},
    sync::mpsc::Receiver,
    time::{Duration, Instant},
};
use upf_lb_testkit::netns::{Netns, Reaped};

/// `upf-lb run --config config` in `ns` (RUST_LOG=info), started: "N4 listening" said.
pub struct Running {
    /// The daemon (killed and reaped when dropped).
    pub d: Reaped,
    /// Its stdout and stderr lines from now on.
    pub rx: Receiver<String>,
    /// Its lines so far.
    pub log: Vec<String>,
}

/// Starts the daemon and waits (at most 60 s) until it listens, then until its log is quiet
/// for 200 ms.
pub fn start(ns: &Netns, config: &Path) -> Running {
    let mut d = Reaped(
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", ns.name()))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_upf-lb"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("upf-lb run"),
    );
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for out in [
        Box::new(d.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(d.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
    }
    let mut log = Vec::new();
    let t0 = Instant::now();
    while !log.iter().any(|l: &String| l.contains("N4 listening")) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "upf-lb run did not start: {log:#?}"
        );
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            log.push(l);
        }
    }
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push(l);
    }
    Running { d, rx, log }
}

/// The daemon's Prometheus text (it listens on 127.0.0.1:9464 in `ns`).
pub fn metrics(ns: &Netns) -> String {
    ns.run(|| -> std::io::Result<String> {
        let mut c = TcpStream::connect(("127.0.0.1", 9464))?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        c.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")?;
        let mut s = String::new();
        c.read_to_string(&mut s)?;
        Ok(s)
    })
    .expect("GET /metrics")
}

/// The value of the first sample line of `metrics` starting with `prefix`.
pub fn sample(metrics: &str, prefix: &str) -> Option<u64> {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `upf_lb_datapath_packets_total` of `reason` (0 when absent).
pub fn datapath_packets(metrics: &str, reason: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("upf_lb_datapath_packets_total{")
                && l.contains(&format!("reason=\"{reason}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `upf-lbctl -o json args...` in `ns`, its answer parsed.
pub fn ctl_json(ns: &Netns, args: &[&str]) -> serde_json::Value {
    let o = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", ns.name()))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_upf-lbctl"))
        .args(["-o", "json"])
        .args(args)
        .output()
        .expect("upf-lbctl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}
