//! `upf-lb-demo`: the main job. Three namespaces (a gNB, the UPF, a data network; the test
//! kit's topology), `upf-lb run` in the UPF's, an SMF driving it over PFCP, UDP and TCP through
//! every session.

use anyhow::{Context, ensure};
use clap::Parser;
use std::{
    net::{IpAddr, SocketAddr},
    process::Command,
    time::Duration,
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    fixtures,
    netns::Netns,
    topology::{DN, Topology, echo, ue_exchange, ue_exchange_with},
};

/// The main job of upf-lb: the daemon driven over PFCP in network namespaces.
#[derive(Parser)]
#[command(
    version,
    about = "upf-lb-demo: `upf-lb run` in network namespaces driven by an SMF over PFCP, with UDP and TCP through its sessions"
)]
struct Cli {
    /// UDP datagrams per session.
    #[arg(long, default_value_t = 3)]
    count: u16,
    /// Run the UPF from this container image (podman; scripts/image.sh builds it) with the
    /// UPF's namespace as its network and only CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN,
    /// instead of the upf-lb binary beside this one.
    #[arg(long)]
    image: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    run(cli.count, cli.image.as_deref())
}

/// The `upf-lb` binary beside this one (the same cargo target directory).
fn upf_lb_exe() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe().context("the upf-lb-demo binary's path")?;
    let exe = me.with_file_name("upf-lb");
    ensure!(
        exe.is_file(),
        "no upf-lb binary beside {} (build both: cargo build -p upf-lb -p upf-lb-demo, or run scripts/demo.sh)",
        me.display()
    );
    Ok(exe)
}

/// `upf-lb run` as a child process inside a namespace; stopped (SIGTERM) when dropped.
struct Daemon {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(
        ns: &Netns,
        config: &std::path::Path,
        log: std::path::PathBuf,
        image: Option<&str>,
    ) -> anyhow::Result<Self> {
        use std::io::BufRead;
        let err = std::fs::File::create(&log)?;
        let mut cmd = match image {
            None => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.name()])
                    .arg(upf_lb_exe()?)
                    .arg("run")
                    .arg("--config")
                    .arg(config);
                c
            }
            Some(image) => {
                // podman forwards SIGTERM to the daemon (--sig-proxy) and returns its status.
                let mut c = Command::new("podman");
                c.arg("run")
                    .arg("--rm")
                    .arg(format!("--name=upf-lb-demo-{}", std::process::id()))
                    .arg(format!("--network=ns:/run/netns/{}", ns.name()))
                    .args(["--cap-drop=all", "--cap-add=BPF,PERFMON,NET_ADMIN"]);
                // A seccomp profile that admits bpf(2) with CAP_BPF (scripts/containers-env.sh
                // writes one): the runtime's default admits it only with CAP_SYS_ADMIN.
                if let Some(p) = std::env::var_os("UPF_LB_SECCOMP") {
                    let mut o = std::ffi::OsString::from("--security-opt=seccomp=");
                    o.push(p);
                    c.arg(o);
                }
                c.arg(format!(
                    "--volume={}:/etc/upf-lb/upf-lb.toml:ro",
                    config.display()
                ))
                .arg("--env=RUST_LOG=info")
                .arg(image)
                .args(["run", "--config", "/etc/upf-lb/upf-lb.toml"]);
                c
            }
        };
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(err)
            .spawn()
            .context("starting upf-lb run")?;
        let out = child.stdout.take().context("daemon stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let d = Daemon { child, log };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if l.contains("N4 listening") => {
                println!("  daemon: {l}");
                Ok(d)
            }
            other => anyhow::bail!(
                "upf-lb run did not start ({other:?}); its log:\n{}",
                std::fs::read_to_string(&d.log).unwrap_or_default()
            ),
        }
    }

    /// SIGTERM, then the exit status (SIGKILL after 10 s).
    fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        match upf_lb_testkit::netns::signal_and_wait(
            &mut self.child,
            libc::SIGTERM,
            Duration::from_secs(10),
        )? {
            Some(st) => Ok(st),
            None => {
                self.child.kill()?;
                Ok(self.child.wait()?)
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            std::thread::sleep(Duration::from_millis(500));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sessions the demo sets up.
const DEMO_SESSIONS: u64 = 3;
/// Bytes each session's TCP connection echoes.
const DEMO_TCP_BYTES: usize = 64 * 1024;

fn usage_line(u: &pfcp::ie::grouped::UsageReport) -> String {
    let v = u.volume_measurement.unwrap_or_default();
    format!(
        "URR {} UR-SEQN {}: uplink {} pkts / {} bytes, downlink {} pkts / {} bytes, {} s",
        u.urr_id.0,
        u.ur_seqn.0,
        v.uplink_packets.unwrap_or(0),
        v.uplink.unwrap_or(0),
        v.downlink_packets.unwrap_or(0),
        v.downlink.unwrap_or(0),
        u.duration_measurement.map_or(0, |d| d.0)
    )
}

/// The main job: the namespaces, `upf-lb run` on the embedded default configuration in the
/// UPF's, an SMF (our PFCP client) in the gNB's that associates and establishes sessions with
/// F-TEID and UE IP CHOOSE, a QER and a URR each; UDP and TCP through every session; usage
/// queried, a gate closed and opened, the sessions deleted with their final usage, the
/// association released. Every step checks what it expects and fails loudly otherwise.
fn run(count: u16, image: Option<&str>) -> anyhow::Result<()> {
    use pfcp::{
        Cause,
        ie::{
            grouped::{QueryUrr, UpdateQer},
            simple::{GateStatus, QerId, UpFunctionFeatures, UrrId},
        },
        message as msg,
    };
    use upf_lb_testkit::smf::{self, SessionPlan, Smf, Ue};
    ensure!(
        upf_lb_testkit::netns::is_root(),
        "the demo needs root (namespaces and eBPF)"
    );
    println!("upf-lb-demo: a 5G user plane driven over PFCP (TS 29.244), in network namespaces\n");
    let mut noop = GtpDatapath::load().context("loading bpf-gtp")?;
    let topo = Topology::bare(&mut noop)?;
    println!(
        "[1] topology: {} (gnb0 192.0.2.1, the gNB and the SMF) <-> {} (n3 192.0.2.2 | n6 203.0.113.1) <-> {} (dn0 203.0.113.10)",
        topo.gnb.name(),
        topo.upf.name(),
        topo.dn.name()
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg_path = dir.join("upf-lb.toml");
    std::fs::write(&cfg_path, upf_lb::config::DEFAULT)?;
    println!(
        "[2] starting `upf-lb run --config {}` (the embedded default configuration) in {}{}",
        cfg_path.display(),
        topo.upf.name(),
        image.map_or(String::new(), |i| format!(", from the container image {i}"))
    );
    let daemon = Daemon::start(&topo.upf, &cfg_path, dir.join("upf-lb.log"), image)?;
    println!("  daemon log: {}", daemon.log.display());

    let mut smf = topo.gnb.run(|| {
        Smf::new(
            SocketAddr::from((fixtures::GNB_V4, 8805)),
            SocketAddr::from((fixtures::UPF_V4, 8805)),
            upf_lb::n4::ntp_now(),
        )
    })?;
    println!("\n[3] the SMF at 192.0.2.1:8805 talks to the UPF at 192.0.2.2:8805");
    let rts = smf.heartbeat()?;
    println!("  Heartbeat: the UPF's Recovery Time Stamp is {rts} (NTP seconds)");
    let a = smf.associate()?;
    ensure!(
        a.cause.cause() == Some(Cause::RequestAccepted),
        "Association Setup refused: {a:?}"
    );
    let f = a.up_function_features.unwrap_or_default();
    ensure!(
        f.has(UpFunctionFeatures::FTUP) && f.has(UpFunctionFeatures::UEIP),
        "UP Function Features without FTUP and UEIP: {f:?}"
    );
    println!(
        "  Association Setup: Request accepted; UP Function Features {:02x?} (FTUP, UEIP, MNOP)",
        f.octets()
    );

    println!("\n[4] GTP-U Echo (TS 29.281 7.2), answered in place by xdp_n3:");
    let pairs: [(IpAddr, IpAddr); 2] = [
        (fixtures::GNB_V4.into(), fixtures::UPF_V4.into()),
        (fixtures::GNB_V6.into(), fixtures::UPF_V6.into()),
    ];
    for (gnb, upf) in pairs {
        let x = echo(
            &topo.gnb,
            SocketAddr::new(gnb, fixtures::GNB_PORT),
            SocketAddr::new(upf, 2152),
            1,
            Duration::from_secs(2),
        )?;
        let r = &x.reply;
        ensure!(r.len() >= 14 && r[1] == 2, "not an Echo Response: {r:02x?}");
        println!(
            "  Echo Request -> {upf:<18} Echo Response, rtt {:>6.1} us",
            x.rtt.as_secs_f64() * 1e6
        );
    }

    println!(
        "\n[5] Session Establishment x {DEMO_SESSIONS}: F-TEID CHOOSE, UE IP CHOOSE, QER (QFI 9, MBR 100/200 Mbit/s), URR (volume)"
    );
    let mut sessions = Vec::new();
    for i in 0..DEMO_SESSIONS {
        let plan = SessionPlan {
            cp_seid: 0x5000 + i,
            cp_addr: fixtures::GNB_V4,
            ue: Ue::Choose,
            gnb_teid: 0x1000 + i as u32,
            gnb: fixtures::GNB_V4,
            qfi: 9,
            mbr_kbps: Some((100_000, 200_000)),
            network_instance: "internet",
            ul_filter: None,
        };
        let (_, r) = smf.establish(smf::session_request(smf.node_id.clone(), &plan))?;
        ensure!(
            r.cause.cause() == Some(Cause::RequestAccepted),
            "Session Establishment refused: {r:?}"
        );
        let (seid, teid, addr, ue) = smf::established(&r)?;
        let ue = ue.context("no UE address chosen")?;
        println!(
            "  session {}: UP SEID {seid:#x}, uplink F-TEID {teid:#x}@{addr}, UE {ue}, downlink to the gNB TEID {:#x}",
            i + 1,
            plan.gnb_teid
        );
        sessions.push((seid, teid, ue, plan.gnb_teid));
    }

    println!(
        "\n[6] traffic: {count} UDP datagrams and a {} KiB TCP echo per session",
        DEMO_TCP_BYTES / 1024
    );
    let query = |smf: &mut Smf, seid| -> anyhow::Result<pfcp::ie::grouped::UsageReport> {
        let r = smf.modify(
            seid,
            msg::SessionModificationRequest {
                query_urrs: vec![QueryUrr {
                    urr_id: UrrId(smf::ids::URR),
                    unknown: vec![],
                }],
                ..Default::default()
            },
        )?;
        ensure!(
            r.cause.cause() == Some(Cause::RequestAccepted),
            "Query URR: {r:?}"
        );
        r.usage_reports
            .into_iter()
            .next()
            .context("no usage report")
    };
    for (i, &(seid, teid, ue, dl_teid)) in sessions.iter().enumerate() {
        let x = ue_exchange(&topo, ue, teid, count)?;
        ensure!(
            x.at_dn.len() == usize::from(count) && x.at_gnb.len() == usize::from(count),
            "session {}: lost UDP datagrams: {} of {count} up, {} down",
            i + 1,
            x.at_dn.len(),
            x.at_gnb.len()
        );
        for g in &x.at_gnb {
            let t = u32::from_be_bytes([g[4], g[5], g[6], g[7]]);
            ensure!(
                t == dl_teid,
                "downlink on TEID {t:#x}, expected {dl_teid:#x}"
            );
        }
        let u = query(&mut smf, seid)?;
        let v = u.volume_measurement.unwrap_or_default();
        let inner: u64 = (0..count)
            .map(|k| 28 + format!("ue datagram {k}").len() as u64)
            .sum();
        ensure!(
            v.uplink_packets == Some(u64::from(count))
                && v.downlink_packets == Some(u64::from(count))
                && v.uplink == Some(inner)
                && v.downlink == Some(inner),
            "session {}: usage {v:?} is not the {count} datagrams of {inner} bytes each way",
            i + 1
        );
        println!(
            "  session {} UDP: {count} up, {count} down; Query URR: {}",
            i + 1,
            usage_line(&u)
        );
        let t = upf_lb_testkit::ue::tcp_echo(
            &topo,
            &format!("ue{i}"),
            ue,
            teid,
            dl_teid,
            9,
            DEMO_TCP_BYTES,
        )?;
        println!(
            "  session {} TCP: {} -> {}:{} echoed {} bytes intact in {:.1} ms",
            i + 1,
            t.local,
            DN,
            upf_lb_testkit::ue::DN_TCP_PORT,
            t.bytes,
            t.elapsed.as_secs_f64() * 1e3
        );
    }

    println!("\n[7] Session Modification: session 1's gate closed, then opened again");
    let (seid, teid, ue, _) = sessions[0];
    let gate = |ul, dl| msg::SessionModificationRequest {
        update_qers: vec![UpdateQer {
            qer_id: QerId(smf::ids::QER),
            gate_status: Some(GateStatus::new(ul, dl)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = smf.modify(seid, gate(false, false))?;
    ensure!(r.cause.cause() == Some(Cause::RequestAccepted), "{r:?}");
    let x = ue_exchange_with(&topo, ue, teid, 2, 0, Duration::from_millis(300))?;
    ensure!(
        x.at_dn.is_empty(),
        "the closed gate let {} datagrams through",
        x.at_dn.len()
    );
    println!("  gate closed: 2 datagrams sent, 0 reached the DN");
    let r = smf.modify(seid, gate(true, true))?;
    ensure!(r.cause.cause() == Some(Cause::RequestAccepted), "{r:?}");
    let x = ue_exchange(&topo, ue, teid, 2)?;
    ensure!(
        x.at_dn.len() == 2 && x.at_gnb.len() == 2,
        "after opening: {x:?}"
    );
    println!("  gate open:   2 datagrams sent, 2 reached the DN and 2 replies came back");

    println!("\n[8] Session Deletion with the final usage (since the last query)");
    for (i, &(seid, ..)) in sessions.iter().enumerate() {
        let d = smf.delete(seid)?;
        ensure!(
            d.cause.cause() == Some(Cause::RequestAccepted),
            "Deletion: {d:?}"
        );
        let u = d.usage_reports.first().context("no final usage report")?;
        let v = u.volume_measurement.unwrap_or_default();
        ensure!(
            v.uplink.unwrap_or(0) >= DEMO_TCP_BYTES as u64
                && v.downlink.unwrap_or(0) >= DEMO_TCP_BYTES as u64,
            "session {}: the final usage {v:?} misses the TCP bytes",
            i + 1
        );
        println!("  session {}: {}", i + 1, usage_line(u));
    }
    let r = smf.request(
        pfcp::Body::AssociationReleaseRequest(msg::AssociationReleaseRequest {
            node_id: smf.node_id.clone(),
            unknown: vec![],
        }),
        None,
    )?;
    ensure!(
        matches!(&r.body, pfcp::Body::AssociationReleaseResponse(b) if b.cause.cause() == Some(Cause::RequestAccepted)),
        "Association Release: {r:?}"
    );
    println!("  Association Release: Request accepted");
    let st = daemon.stop()?;
    ensure!(st.success(), "upf-lb run exited with {st}");
    println!("\n[9] upf-lb run stopped on SIGTERM ({st}); namespaces deleted; demo done");
    drop(topo);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
