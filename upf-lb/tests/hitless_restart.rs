//! Hitless restart: `upf-lb run` (the real binary) with `[state]` in the UPF's namespace, a
//! steady flow of numbered uplink packets from a test gNB to the DN while the daemon is stopped
//! (SIGTERM) and started, then killed (SIGKILL) and started: not one packet lost or reordered,
//! and the session (same SEID, TEID, UE address), the association, the Recovery Time Stamp and
//! the usage counts are all still there.

use std::{
    io::{BufRead, BufReader},
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_packet::{Gtpu, GtpuExt, IpPacket, L4, Psc};
use upf_lb_testkit::{
    fixtures::{GNB_V4, UPF_V4},
    netns::Reaped,
    smf::{self, SessionPlan, Smf, Ue, ids},
    topology::{DN, Topology},
};

fn start(ns: &str, config: &Path) -> Reaped {
    let c = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_upf-lb"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("upf-lb run");
    let mut c = Reaped(c);
    let out = c.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if l.contains("N4 listening") => return c,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    panic!("upf-lb run did not start");
}

fn signal(c: &mut Reaped, sig: i32) {
    let st = upf_lb_testkit::netns::signal_and_wait(c, sig, Duration::from_secs(10)).unwrap();
    assert!(st.is_some(), "daemon did not stop");
}

/// A bpf filesystem of the test's own, unmounted when dropped.
struct Bpffs(PathBuf);
impl Drop for Bpffs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn forwarding_and_sessions_survive_a_stop_and_a_kill_of_the_daemon() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bpf")).unwrap();
    assert!(
        Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(dir.join("bpf"))
            .status()
            .unwrap()
            .success()
    );
    let _fs = Bpffs(dir.join("bpf"));
    let config = dir.join("upf-lb.toml");
    let text = upf_lb::config::DEFAULT.replace(
        "[telemetry]",
        &format!(
            "[state]\npin_dir = \"{}\"\ndb = \"{}\"\n\n[telemetry]",
            dir.join("bpf").display(),
            dir.join("state.redb").display()
        ),
    );
    std::fs::write(&config, text).unwrap();

    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let mut a = start(topo.upf.name(), &config);
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
    let rts = smf.heartbeat().expect("heartbeat");
    smf.associate().expect("association");
    let plan = SessionPlan {
        cp_seid: 0x99,
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
    let ue: Ipv4Addr = ue.unwrap();

    // The flow: N numbered datagrams, one per millisecond, uplink from the UE to the DN.
    const N: u32 = 5000;
    let done = AtomicBool::new(false);
    // Bound before the first packet is sent (a datagram to a port not yet bound is refused).
    let s = topo.dn.run(|| UdpSocket::bind((DN, 7000))).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let got = std::thread::scope(|sc| {
        let rx = sc.spawn(|| {
            topo.dn.run(|| {
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_secs(30) {
                    match s.recv_from(&mut buf) {
                        Ok((n, _)) if n >= 4 => {
                            got.push(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]))
                        }
                        Ok(_) => {}
                        Err(_) if done.load(Ordering::Relaxed) => break,
                        Err(_) => {}
                    }
                }
                got
            })
        });
        let tx = sc.spawn(|| {
            topo.gnb.run(|| {
                let s = UdpSocket::bind((GNB_V4, 2152)).unwrap();
                let t0 = Instant::now();
                for i in 0..N {
                    let inner = IpPacket::v4(
                        ue,
                        DN,
                        L4::Udp {
                            src: 5000,
                            dst: 7000,
                            payload: i.to_be_bytes().to_vec(),
                        },
                    );
                    let mut g = Gtpu::gpdu(teid, inner.to_bytes());
                    g.ext.push(GtpuExt::Psc(Psc {
                        pdu_type: 1,
                        qfi: 9,
                        rqi: false,
                        ppi: None,
                    }));
                    s.send_to(&g.to_bytes(), SocketAddr::from((UPF_V4, 2152)))
                        .unwrap();
                    let due = t0 + Duration::from_millis(u64::from(i) + 1);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
            })
        });
        // Meanwhile: a graceful stop and start, then a kill and start.
        std::thread::sleep(Duration::from_millis(800));
        signal(&mut a, libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(300));
        let mut b = start(topo.upf.name(), &config);
        std::thread::sleep(Duration::from_millis(500));
        signal(&mut b, libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(300));
        let c = start(topo.upf.name(), &config);
        tx.join().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        done.store(true, Ordering::Relaxed);
        (rx.join().unwrap(), c)
    });
    let (got, mut c) = got;
    let lost = N as usize - got.len();
    let in_order = got.windows(2).all(|w| w[1] == w[0] + 1);
    assert!(
        lost == 0 && in_order,
        "{lost} of {N} lost, in order: {in_order}, first {:?}, last {:?}, gaps {:?}",
        got.first(),
        got.last(),
        got.windows(2)
            .filter(|w| w[1] != w[0] + 1)
            .take(8)
            .map(|w| (w[0], w[1]))
            .collect::<Vec<_>>()
    );

    // The same UP function: Recovery Time Stamp, association, session, counts.
    assert_eq!(
        smf.heartbeat().unwrap(),
        rts,
        "the Recovery Time Stamp is unchanged"
    );
    let q = smf
        .modify(
            seid,
            pfcp::message::SessionModificationRequest {
                query_urrs: vec![pfcp::ie::grouped::QueryUrr {
                    urr_id: pfcp::ie::simple::UrrId(ids::URR),
                    unknown: vec![],
                }],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        q.cause.cause(),
        Some(pfcp::Cause::RequestAccepted),
        "the session is there: {q:?}"
    );
    let v = q.usage_reports[0].volume_measurement.unwrap();
    assert_eq!(
        v.uplink_packets,
        Some(u64::from(N)),
        "usage went on counting"
    );
    // New sessions get new TEIDs and addresses, not the restored one's.
    let (_, r2) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &SessionPlan {
                cp_seid: 0x9a,
                ..plan
            },
        ))
        .unwrap();
    let (seid2, teid2, _, ue2) = smf::established(&r2).unwrap();
    assert!(seid2 > seid && teid2 != teid && ue2 != Some(ue), "{r2:?}");
    let d = smf.delete(seid).unwrap();
    assert_eq!(d.cause.cause(), Some(pfcp::Cause::RequestAccepted));
    signal(&mut c, libc::SIGTERM);
    let st = Command::new(env!("CARGO_BIN_EXE_upf-lb"))
        .args(["cleanup", "--config"])
        .arg(&config)
        .status()
        .unwrap();
    assert!(st.success());
    drop(topo);
    let _ = std::fs::remove_dir_all(&dir);
}
