//! The session-rate benchmark: a PFCP client establishing sessions (2 PDRs, 2 FARs, 1 QER,
//! 1 URR each, F-TEID and UE IP CHOOSE) as fast as the UP function answers, over UDP on
//! loopback, against the real daemon (rules installed in the kernel's maps). It keeps a window
//! of requests in flight, checks every answer is an acceptance, and prints sessions per second
//! and the process's resident memory per session.

use anyhow::{Context, bail, ensure};
use pfcp::{Body, Cause, Message};
use std::{
    collections::HashSet,
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};
use upf_lb::{config::Config, daemon};
use upf_lb_testkit::{
    netns::{Netns, unique_name},
    smf::{self, SessionPlan, Smf, Ue},
};

/// Resident memory of this process, bytes: all of it (`VmRSS`) and its anonymous part
/// (`RssAnon`: the heap and stacks, without the mapped eBPF arrays, whose pages the kernel
/// allocated when it created the maps and which count in `VmRSS` once touched).
pub fn rss_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// One run's figures.
#[derive(Clone, Debug)]
pub struct SessionRate {
    /// Sessions established.
    pub sessions: u32,
    /// Wall time for all of them.
    pub elapsed: Duration,
    /// Resident memory the daemon (this process) grew by, per session, bytes.
    pub rss_per_session: f64,
    /// The anonymous part of it (the process's own heap), per session, bytes.
    pub anon_per_session: f64,
    /// CPU time of this process's threads while the requests ran, by thread name.
    pub cpu: Vec<(String, Duration)>,
}

/// A bpf filesystem mounted for one run, unmounted and removed when dropped.
struct TempState(std::path::PathBuf);

impl Drop for TempState {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.join("bpf"))
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Establishes `n` sessions against a fresh daemon in a fresh namespace, `window` requests in
/// flight; with `persist`, the daemon keeps its state (`[state]`: pinned maps on a bpffs of
/// the run's own, a redb store in a temporary folder).
pub fn session_rate(
    n: u32,
    window: usize,
    persist: bool,
    otlp: bool,
) -> anyhow::Result<SessionRate> {
    let ns = Netns::create(&unique_name("bench"))?;
    ns.ip(&["link", "add", "n3", "type", "veth", "peer", "name", "n6"])?;
    ns.ip(&["addr", "add", "192.0.2.2/24", "dev", "n3"])?;
    ns.ip(&["addr", "add", "203.0.113.1/24", "dev", "n6"])?;
    ns.ip(&["link", "set", "n3", "up"])?;
    ns.ip(&["link", "set", "n6", "up"])?;
    let mut text = upf_lb::config::DEFAULT.to_string();
    for (a, b) in [
        (
            "listen = [\"192.0.2.2:8805\", \"[2001:db8:0:3::2]:8805\"]",
            "listen = [\"127.0.0.1:8805\"]",
        ),
        (
            "allowed_peers = [\"192.0.2.0/24\", \"2001:db8:0:3::/64\"]",
            "allowed_peers = [\"127.0.0.0/8\"]",
        ),
        ("cidr = \"198.18.0.0/16\"", "cidr = \"198.18.0.0/15\""),
        ("last = 0x8001ffff", "last = 0x8007ffff"),
        (
            "max_sessions = 65536",
            &format!("max_sessions = {}", n.max(1000) + 1000),
        ),
    ] {
        ensure!(text.contains(a), "embedded config changed: {a}");
        text = text.replacen(a, b, 1);
    }
    let _state = if persist {
        let dir = std::env::temp_dir().join(format!("upf-lb-bench-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("bpf"))?;
        let st = std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(dir.join("bpf"))
            .status()?;
        ensure!(st.success(), "mounting a bpf filesystem");
        text = text.replace(
            "[telemetry]",
            &format!(
                "[state]\npin_dir = \"{}\"\ndb = \"{}\"\n\n[telemetry]",
                dir.join("bpf").display(),
                dir.join("state.redb").display()
            ),
        );
        Some(TempState(dir))
    } else {
        None
    };
    let collector = if otlp {
        if let Ok(r) = std::env::var("UPF_LB_TRACE_SAMPLE_RATIO") {
            text = text.replace(
                "# trace_sample_ratio = 1.0",
                &format!("trace_sample_ratio = {r}"),
            );
        }
        text = text.replace(
            "# otlp_endpoint = \"http://127.0.0.1:4317\"",
            "otlp_endpoint = \"http://127.0.0.1:4317\"",
        );
        // A collector on another node in a deployment: here it shares the two CPUs, in the
        // background.
        Some(upf_lb_testkit::otlp_receiver::OtlpReceiver::start_with(
            &format!("/run/netns/{}", ns.name()),
            true,
        )?)
    } else {
        None
    };
    let cfg = Config::parse(&text)?;
    let rss0 = rss_bytes();
    let d = daemon::spawn(&format!("/run/netns/{}", ns.name()), cfg, 1)?;
    let mut c = ns.run(|| {
        // Its own address and port 8805: the UP function's Heartbeat Requests go there.
        Smf::new(
            SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), 8805)),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 8805)),
            2,
        )
    })?;
    let a = c.associate()?;
    ensure!(
        a.cause.cause() == Some(Cause::RequestAccepted),
        "association"
    );
    // Every request encoded before the clock starts.
    let reqs: Vec<(u32, Vec<u8>)> = (0..n)
        .map(|i| {
            let plan = SessionPlan {
                cp_seid: u64::from(i) + 1,
                cp_addr: Ipv4Addr::new(127, 0, 0, 2),
                ue: Ue::Choose,
                gnb_teid: i + 1,
                gnb: Ipv4Addr::new(192, 0, 2, 1),
                qfi: 9,
                mbr_kbps: Some((100_000, 100_000)),
                network_instance: "internet",
                ul_filter: None,
            };
            let seq = c.next_seq();
            let r = smf::session_request(c.node_id.clone(), &plan);
            (
                seq,
                Message::new(Body::SessionEstablishmentRequest(r), Some(0), seq).to_vec(),
            )
        })
        .collect();
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    let mut next = 0;
    let mut waiting: HashSet<u32> = HashSet::new();
    let mut done = 0u32;
    let deadline = t0 + Duration::from_secs(600);
    while done < n {
        while waiting.len() < window && next < reqs.len() {
            c.send_raw(&reqs[next].1)?;
            waiting.insert(reqs[next].0);
            next += 1;
        }
        ensure!(Instant::now() < deadline, "benchmark over 600 s");
        let Some(m) = c.recv(Duration::from_secs(5))? else {
            bail!(
                "no answer within 5 s ({done} of {n} done, {} waiting)",
                waiting.len()
            );
        };
        ensure!(
            waiting.remove(&m.header.sequence),
            "an answer to nothing we asked"
        );
        match &m.body {
            Body::SessionEstablishmentResponse(r)
                if r.cause.cause() == Some(Cause::RequestAccepted) => {}
            b => bail!("refused: {b:?}"),
        }
        done += 1;
    }
    let elapsed = t0.elapsed();
    let cpu = cpu_since(&cpu0, &thread_cpu());
    let rss1 = rss_bytes();
    if let Some(c) = &collector {
        // The spans are really exported: wait (bounded) until no more arrive.
        let t = Instant::now();
        let mut last = u64::MAX;
        while c.span_count() != last && t.elapsed() < Duration::from_secs(10) {
            last = c.span_count();
            std::thread::sleep(Duration::from_millis(500));
        }
        println!("  (collector received {} spans)", c.span_count());
    }
    let n4 = d.stop().context("stopping the daemon")?;
    ensure!(n4.session_count() == n as usize, "sessions held");
    drop(n4);
    drop(ns);
    Ok(SessionRate {
        sessions: n,
        elapsed,
        rss_per_session: rss1.0.saturating_sub(rss0.0) as f64 / f64::from(n),
        anon_per_session: rss1.1.saturating_sub(rss0.1) as f64 / f64::from(n),
        cpu,
    })
}

/// `upf-lb-bench sessions`: one run per count, printed as a table.
pub fn run(counts: &[u32], window: usize, persist: bool, otlp: bool) -> anyhow::Result<()> {
    println!("machine: {}", upf_lb::kernel::machine());
    println!(
        "method: Session Establishment Requests (2 PDR, 2 FAR, 1 QER, 1 URR, F-TEID and UE IP CHOOSE) over UDP on loopback, {window} in flight, rules installed in the kernel maps{}; RSS of the process (daemon + client) per session, all and its anonymous part (heap; without the mapped eBPF arrays)",
        if persist {
            " and persisted (redb, group commit before the answers)"
        } else {
            ", not persisted"
        }
    );
    if !otlp {
        // The daemon as it runs without a collector: logging on (`upf-lb run` always logs), so
        // the two runs differ only by the exporters.
        upf_lb::telemetry::install_subscriber(false);
    }
    if otlp {
        println!(
            "with OpenTelemetry: a span per PFCP transaction and metrics, exported over OTLP/gRPC to a collector in the namespace"
        );
    }
    println!(
        "{:>10} {:>10} {:>14} {:>16} {:>16}",
        "sessions", "seconds", "sessions/s", "RSS/session B", "anon/session B"
    );
    for &n in counts {
        let r = session_rate(n, window, persist, otlp)?;
        println!(
            "{:>10} {:>10.3} {:>14.0} {:>16.0} {:>16.0}",
            r.sessions,
            r.elapsed.as_secs_f64(),
            f64::from(r.sessions) / r.elapsed.as_secs_f64(),
            r.rss_per_session,
            r.anon_per_session
        );
        println!("  CPU by thread: {}", cpu_line(&r.cpu));
    }
    Ok(())
}

/// `upf-lb-bench sessions --otlp-pairs P`: P pairs of runs of `n` sessions, without then with
/// OTLP export (logging on in both), each pair's rate ratio and their median: the cost of
/// telemetry measured as ratios in one process, as this noisy machine needs.
pub fn otlp_pairs(n: u32, window: usize, persist: bool, pairs: u32) -> anyhow::Result<()> {
    ensure!(pairs > 0, "--otlp-pairs needs at least one pair");
    println!("machine: {}", upf_lb::kernel::machine());
    println!(
        "method: {n} Session Establishment Requests, {window} in flight{}, per pair a run without and a run with OTLP (a span per PFCP transaction and its steps, every transaction traced unless UPF_LB_TRACE_SAMPLE_RATIO says otherwise, and the metrics, to a collector in the namespace at the lowest priority)",
        if persist { ", persisted" } else { "" }
    );
    upf_lb::telemetry::install_subscriber(false);
    println!(
        "{:>6} {:>16} {:>16} {:>8}",
        "pair", "without/s", "with OTLP/s", "ratio"
    );
    let mut ratios = Vec::new();
    for p in 1..=pairs {
        let off = session_rate(n, window, persist, false)?;
        let on = session_rate(n, window, persist, true)?;
        let rate = |r: &SessionRate| f64::from(r.sessions) / r.elapsed.as_secs_f64();
        let ratio = rate(&on) / rate(&off);
        println!(
            "{p:>6} {:>16.0} {:>16.0} {ratio:>8.3}",
            rate(&off),
            rate(&on)
        );
        println!("         CPU without: {}", cpu_line(&off.cpu));
        println!("         CPU with:    {}", cpu_line(&on.cpu));
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    let median = if ratios.len() % 2 == 0 {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    } else {
        ratios[mid]
    };
    println!(
        "median ratio {median:.3} (min {:.3}, max {:.3}): with OTLP {:.1} % slower",
        ratios[0],
        ratios[ratios.len() - 1],
        (1.0 - median) * 100.0
    );
    Ok(())
}

/// CPU time of each thread of this process so far (user and system, to the clock tick), by
/// thread ID, with its name.
fn thread_cpu() -> std::collections::HashMap<u32, (String, u64)> {
    let mut out = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        // utime and stime: fields 14 and 15 of stat (after the parenthesised name), in clock
        // ticks.
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let mut f = rest.split_whitespace().skip(11);
        let ticks: u64 = f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out.insert(tid, (comm.trim().to_string(), ticks * (1_000_000_000 / hz)));
    }
    out
}

/// CPU time used between two readings, summed by thread name (threads started meanwhile
/// count from zero), largest first.
fn cpu_since(
    before: &std::collections::HashMap<u32, (String, u64)>,
    after: &std::collections::HashMap<u32, (String, u64)>,
) -> Vec<(String, Duration)> {
    let mut by: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (tid, (name, ns)) in after {
        let was = before.get(tid).map_or(0, |b| b.1);
        *by.entry(name.clone()).or_default() += ns.saturating_sub(was);
    }
    let mut v: Vec<(String, Duration)> = by
        .into_iter()
        .filter(|(_, ns)| *ns > 0)
        .map(|(n, ns)| (n, Duration::from_nanos(ns)))
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

/// `name ms, ...` of a CPU account.
fn cpu_line(cpu: &[(String, Duration)]) -> String {
    cpu.iter()
        .map(|(n, d)| format!("{n} {} ms", d.as_millis()))
        .collect::<Vec<_>>()
        .join(", ")
}
