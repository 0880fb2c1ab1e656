//! The demo topology and the demo: a gNB, the UPF and a data network in three network
//! namespaces joined by veth pairs, the XDP programs attached on the UPF, real sockets at both
//! ends.
//!
//! ```text
//!  netns gnb                     netns upf                        netns dn
//!  gnb0 192.0.2.1/24  <---->  n3 192.0.2.2/24    n6 203.0.113.1/24  <---->  dn0 203.0.113.10/24
//!       2001:db8:0:3::1/64       2001:db8:0:3::2/64  (xdp_n3 on n3, xdp_n6 on n6)
//! ```
//! The far ends carry the no-op XDP program: a veth delivers XDP_TX and redirected frames to its
//! peer only when the peer runs XDP (or GRO), so the fast path is the native one.

use crate::{
    fixtures,
    netns::{Netns, unique_name, veth},
    packet::{Gtpu, GtpuExt, IpPacket, L4, Psc},
    southbound::{GtpDatapath, Installed, Key, PdrSpec, SessionSpec, gtp::build},
};
use anyhow::{Context, ensure};
use aya::programs::XdpMode;
use bpf_abi::{gtp::Qer, names};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    process::Command,
    time::{Duration, Instant},
};

/// The gNB's interface.
pub const GNB_IF: &str = "gnb0";
/// The UPF's N3 interface.
pub const N3_IF: &str = "n3";
/// The UPF's N6 interface.
pub const N6_IF: &str = "n6";
/// The data network's interface.
pub const DN_IF: &str = "dn0";
/// The UPF's N6 address.
pub const UPF_N6: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The data network host.
pub const DN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// UDP port of the data network's echo service.
pub const DN_PORT: u16 = 7000;

/// The three namespaces with the programs attached. Dropping it deletes everything it made.
pub struct Topology {
    /// The gNB.
    pub gnb: Netns,
    /// The UPF.
    pub upf: Netns,
    /// The data network.
    pub dn: Netns,
}

fn sh(ns: &Netns, script: &str) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sh", "-c", script])
        .output()?;
    ensure!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl Topology {
    /// Builds the topology and attaches `xdp_n3`, `xdp_n6` (UPF) and `xdp_noop` (far ends).
    pub fn new(dp: &mut GtpDatapath) -> anyhow::Result<Self> {
        let topo = Self::bare(dp)?;
        for (ifname, prog) in [(N3_IF, names::PROG_XDP_N3), (N6_IF, names::PROG_XDP_N6)] {
            let p = dp.xdp_mut(prog)?;
            topo.upf
                .run(|| p.attach(ifname, XdpMode::Driver))
                .with_context(|| format!("attaching {prog} to {ifname}"))?;
        }
        Ok(topo)
    }

    /// Builds the topology with `xdp_noop` of `dp` on the far ends and nothing on the UPF's
    /// interfaces (for a daemon that attaches its own programs).
    pub fn bare(dp: &mut GtpDatapath) -> anyhow::Result<Self> {
        let gnb = Netns::create(&unique_name("gnb"))?;
        let upf = Netns::create(&unique_name("upf"))?;
        let dn = Netns::create(&unique_name("dn"))?;
        veth(&gnb, GNB_IF, &upf, N3_IF)?;
        veth(&upf, N6_IF, &dn, DN_IF)?;
        for (ns, ifname, v4, v6) in [
            (&gnb, GNB_IF, fixtures::GNB_V4, fixtures::GNB_V6),
            (&upf, N3_IF, fixtures::UPF_V4, fixtures::UPF_V6),
        ] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", ifname])?;
            ns.ip(&["addr", "add", &format!("{v6}/64"), "dev", ifname, "nodad"])?;
        }
        upf.ip(&["addr", "add", &format!("{UPF_N6}/24"), "dev", N6_IF])?;
        dn.ip(&["addr", "add", &format!("{DN}/24"), "dev", DN_IF])?;
        dn.ip(&["route", "add", "198.18.0.0/15", "via", &UPF_N6.to_string()])?;
        // The kernel forwards what XDP hands it (neighbour not yet resolved); UE sources arrive
        // on N3 without a route back through it.
        sh(
            &upf,
            "echo 1 > /proc/sys/net/ipv4/ip_forward; for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done",
        )?;
        // A local sender on a veth leaves the transport checksum to "hardware" (CHECKSUM_PARTIAL)
        // and XDP on the peer sees it unfinished; on a wire it is always complete. The far ends
        // compute checksums in software, as traffic from a real gNB and data network arrives.
        sh(&gnb, &format!("ethtool -K {GNB_IF} tx off >/dev/null"))?;
        sh(&dn, &format!("ethtool -K {DN_IF} tx off >/dev/null"))?;
        for (ns, ifname, prog) in [
            (&gnb, GNB_IF, names::PROG_XDP_NOOP),
            (&dn, DN_IF, names::PROG_XDP_NOOP),
        ] {
            let p = dp.xdp_mut(prog)?;
            ns.run(|| p.attach(ifname, XdpMode::Driver))
                .with_context(|| format!("attaching {prog} to {ifname}"))?;
        }
        Ok(Topology { gnb, upf, dn })
    }
}

/// An Echo Request sent and its answer.
#[derive(Debug)]
pub struct EchoExchange {
    /// The UDP payload received.
    pub reply: Vec<u8>,
    /// Where it came from.
    pub from: SocketAddr,
    /// Round-trip time.
    pub rtt: Duration,
}

/// Sends an Echo Request with `seq` from `local` to `remote` inside `ns` and waits up to
/// `timeout` for one datagram back.
pub fn echo(
    ns: &Netns,
    local: SocketAddr,
    remote: SocketAddr,
    seq: u16,
    timeout: Duration,
) -> anyhow::Result<EchoExchange> {
    ns.run(|| {
        let s = UdpSocket::bind(local).with_context(|| format!("bind {local}"))?;
        s.set_read_timeout(Some(timeout))?;
        let t0 = Instant::now();
        s.send_to(&Gtpu::echo_request(seq).to_bytes(), remote)?;
        let mut buf = [0u8; 2048];
        let (n, from) = s
            .recv_from(&mut buf)
            .with_context(|| format!("no reply from {remote}"))?;
        Ok(EchoExchange {
            reply: buf[..n].to_vec(),
            from,
            rtt: t0.elapsed(),
        })
    })
}

/// The demo session: uplink on TEID `ul_teid` from the gNB, downlink to `ue` with TEID
/// `dl_teid`, QFI 9, one URR for both directions.
pub fn install_session(
    dp: &mut GtpDatapath,
    ue: Ipv4Addr,
    ul_teid: u32,
    dl_teid: u32,
) -> anyhow::Result<Installed> {
    let qer = Qer {
        qfi: 9,
        ..build::qer_open()
    };
    let pdr = |id, ohr, far| PdrSpec {
        pdr_id: id,
        precedence: 10,
        qfi: 0,
        ohr,
        sdfs: vec![],
        far_id: far,
        qer_id: Some(1),
        urr_ids: vec![1],
    };
    Ok(dp.install(&SessionSpec {
        session: 1,
        fars: vec![
            (1, build::far_forward()),
            (
                2,
                build::far_gtpu_v4(dl_teid, fixtures::UPF_V4, fixtures::GNB_V4),
            ),
        ],
        qers: vec![(1, qer)],
        urrs: vec![1],
        urr_thresholds: vec![],
        pdrs: vec![
            (Key::UlTeid(ul_teid), pdr(1, Some(0), 1)),
            (Key::DlUe4(ue), pdr(2, None, 2)),
        ],
    })?)
}

/// What one UE datagram did.
#[derive(Debug)]
pub struct UeExchange {
    /// What the DN received (payload, from).
    pub at_dn: Vec<(Vec<u8>, SocketAddr)>,
    /// The GTP-U messages the gNB received back.
    pub at_gnb: Vec<Vec<u8>>,
}

/// A test gNB in `topo.gnb` sends `count` UE datagrams (from `ue`:5000 to the DN's echo port) in
/// G-PDUs on `ul_teid` with QFI 9; an echo server in `topo.dn` answers each. Bounded: `count`
/// datagrams, 2 s per reply, 10 s for the server.
pub fn ue_exchange(
    topo: &Topology,
    ue: Ipv4Addr,
    ul_teid: u32,
    count: u16,
) -> anyhow::Result<UeExchange> {
    ue_exchange_with(topo, ue, ul_teid, count, 0, Duration::from_secs(2))
}

/// As [`ue_exchange`], with UDP payloads padded to at least `payload_len` bytes and `wait` for
/// each reply (the echo server gives up after `count` times that).
pub fn ue_exchange_with(
    topo: &Topology,
    ue: Ipv4Addr,
    ul_teid: u32,
    count: u16,
    payload_len: usize,
    wait: Duration,
) -> anyhow::Result<UeExchange> {
    let server_wait = (wait * u32::from(count)).max(Duration::from_secs(1)) + wait;
    std::thread::scope(|sc| {
        let server = sc.spawn(|| {
            topo.dn
                .run(|| -> anyhow::Result<Vec<(Vec<u8>, SocketAddr)>> {
                    let s = UdpSocket::bind((DN, DN_PORT))?;
                    s.set_read_timeout(Some(server_wait))?;
                    let mut got = Vec::new();
                    let mut buf = [0u8; 2048];
                    while got.len() < usize::from(count) {
                        let Ok((n, from)) = s.recv_from(&mut buf) else {
                            break;
                        };
                        s.send_to(&buf[..n], from)?;
                        got.push((buf[..n].to_vec(), from));
                    }
                    Ok(got)
                })
        });
        std::thread::sleep(Duration::from_millis(200));
        let at_gnb = topo.gnb.run(|| -> anyhow::Result<Vec<Vec<u8>>> {
            let s = UdpSocket::bind((fixtures::GNB_V4, 2152))?;
            s.set_read_timeout(Some(wait))?;
            let mut replies = Vec::new();
            for i in 0..count {
                let mut payload = format!("ue datagram {i}").into_bytes();
                if payload.len() < payload_len {
                    payload.resize(payload_len, b'.');
                }
                let inner = IpPacket::v4(
                    ue,
                    DN,
                    L4::Udp {
                        src: 5000,
                        dst: DN_PORT,
                        payload,
                    },
                );
                let mut g = Gtpu::gpdu(ul_teid, inner.to_bytes());
                g.ext.push(GtpuExt::Psc(Psc {
                    pdu_type: 1,
                    qfi: 9,
                    rqi: false,
                    ppi: None,
                }));
                s.send_to(&g.to_bytes(), SocketAddr::from((fixtures::UPF_V4, 2152)))?;
                let mut buf = [0u8; 2048];
                if let Ok((n, _)) = s.recv_from(&mut buf) {
                    replies.push(buf[..n].to_vec());
                }
            }
            Ok(replies)
        })?;
        let at_dn = server
            .join()
            .map_err(|_| anyhow::anyhow!("DN thread panicked"))??;
        Ok(UeExchange { at_dn, at_gnb })
    })
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
    ) -> anyhow::Result<Self> {
        use std::io::BufRead;
        let exe = std::env::current_exe().context("the upf-lb binary")?;
        let err = std::fs::File::create(&log)?;
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(exe)
            .arg("run")
            .arg("--config")
            .arg(config)
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
        match crate::netns::signal_and_wait(
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
pub fn run(count: u16) -> anyhow::Result<()> {
    use crate::smf::{self, SessionPlan, Smf, Ue};
    use pfcp::{
        Cause,
        ie::{
            grouped::{QueryUrr, UpdateQer},
            simple::{GateStatus, QerId, UpFunctionFeatures, UrrId},
        },
        message as msg,
    };
    ensure!(
        crate::netns::is_root(),
        "the demo needs root (namespaces and eBPF)"
    );
    println!("upf-lb demo: a 5G user plane driven over PFCP (TS 29.244), in network namespaces\n");
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
    std::fs::write(&cfg_path, crate::config::DEFAULT)?;
    println!(
        "[2] starting `upf-lb run --config {}` (the embedded default configuration) in {}",
        cfg_path.display(),
        topo.upf.name()
    );
    let daemon = Daemon::start(&topo.upf, &cfg_path, dir.join("upf-lb.log"))?;
    println!("  daemon log: {}", daemon.log.display());

    let mut smf = topo.gnb.run(|| {
        Smf::new(
            SocketAddr::from((fixtures::GNB_V4, 8805)),
            SocketAddr::from((fixtures::UPF_V4, 8805)),
            crate::n4::ntp_now(),
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
        let t = crate::ue::tcp_echo(
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
            crate::ue::DN_TCP_PORT,
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
