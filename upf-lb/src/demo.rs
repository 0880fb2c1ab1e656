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
use bpf_abi::{Reason, gtp::Qer, names};
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

/// The main job until the controller exists: builds the topology, answers GTP-U Echo over IPv4
/// and IPv6, installs a session through the southbound API and carries UE traffic both ways,
/// then prints what happened, the counters and the session's usage.
pub fn run(count: u16) -> anyhow::Result<()> {
    ensure!(
        crate::netns::is_root(),
        "the demo needs root (namespaces and eBPF)"
    );
    println!("upf-lb demo: the GTP-U user plane in XDP, in network namespaces");
    println!(
        "(the PFCP N4 controller is not built yet: the session is installed through the southbound API)\n"
    );
    let mut dp = GtpDatapath::load().context("loading bpf-gtp")?;
    println!("loaded bpf-gtp: the kernel verifier accepted xdp_n3, xdp_n3_gpdu, xdp_n6, xdp_noop");
    // The source of ICMP Fragmentation Needed for downlink packets too big for the tunnel.
    for a in [
        IpAddr::from([203, 0, 113, 1]),
        IpAddr::from([0x2001, 0xdb8, 0, 6, 0, 0, 0, 1]),
    ] {
        dp.set_n6_address(a).context("setting the N6 address")?;
    }
    let topo = Topology::new(&mut dp)?;
    println!(
        "topology: {} (gnb0 192.0.2.1) <-> {} (n3 192.0.2.2 | n6 203.0.113.1) <-> {} (dn0 203.0.113.10)\n",
        topo.gnb.name(),
        topo.upf.name(),
        topo.dn.name()
    );
    println!("GTP-U Echo (TS 29.281 7.2), answered by xdp_n3:");
    let pairs: [(IpAddr, IpAddr); 2] = [
        (fixtures::GNB_V4.into(), fixtures::UPF_V4.into()),
        (fixtures::GNB_V6.into(), fixtures::UPF_V6.into()),
    ];
    for (gnb, upf) in pairs {
        for seq in 1..=count {
            let x = echo(
                &topo.gnb,
                SocketAddr::new(gnb, fixtures::GNB_PORT),
                SocketAddr::new(upf, 2152),
                seq,
                Duration::from_secs(2),
            )?;
            let r = &x.reply;
            ensure!(r.len() >= 14 && r[1] == 2, "not an Echo Response: {r:02x?}");
            let rseq = u16::from_be_bytes([r[8], r[9]]);
            println!(
                "  Echo Request seq {seq:>3} -> {upf:<18} Echo Response seq {rseq:>3}, Recovery IE {:02x?}, rtt {:>6.1} us",
                &r[12..14],
                x.rtt.as_secs_f64() * 1e6
            );
            ensure!(rseq == seq, "sequence number {rseq} != {seq}");
        }
    }

    let ue = fixtures::UE_V4;
    let (ul_teid, dl_teid) = (0x100, 0x200);
    let session = install_session(&mut dp, ue, ul_teid, dl_teid)?;
    println!(
        "\nsession installed: UE {ue}, uplink TEID {ul_teid:#x} (PDU Session Container QFI 9), downlink TEID {dl_teid:#x} to the gNB, QER QFI 9, URR 1"
    );
    let x = ue_exchange(&topo, ue, ul_teid, count)?;
    for (i, (payload, from)) in x.at_dn.iter().enumerate() {
        println!(
            "  uplink   G-PDU TEID {ul_teid:#x} -> decapsulated -> DN got {:?} from {from}",
            String::from_utf8_lossy(payload)
        );
        if let Some(g) = x.at_gnb.get(i) {
            let teid = u32::from_be_bytes([g[4], g[5], g[6], g[7]]);
            let qfi = if g[0] & 0x04 != 0 && g.len() > 14 {
                g[14] & 0x3f
            } else {
                0
            };
            println!(
                "  downlink DN reply -> encapsulated -> gNB got G-PDU TEID {teid:#x}, QFI {qfi}, {} bytes",
                g.len()
            );
        }
    }
    ensure!(
        x.at_dn.len() == usize::from(count) && x.at_gnb.len() == usize::from(count),
        "lost datagrams: {} up, {} down",
        x.at_dn.len(),
        x.at_gnb.len()
    );

    println!("\ncounters of bpf-gtp (all CPUs):");
    for (r, c) in dp.counters()? {
        if c.packets > 0 {
            println!(
                "  {:<28} {:<8} {:>8} pkts {:>10} bytes",
                r.name(),
                r.verdict().name(),
                c.packets,
                c.bytes
            );
        }
    }
    let u = dp.urr_counters(session.urr_slot(1).context("URR slot")?)?;
    println!(
        "\nusage of URR 1: uplink {} pkts / {} bytes, downlink {} pkts / {} bytes",
        u.ul_packets, u.ul_bytes, u.dl_packets, u.dl_bytes
    );
    let answered = dp.counters()?[Reason::GtpuEchoResponse as usize].1.packets;
    ensure!(
        answered == 2 * u64::from(count),
        "{answered} echoes answered, expected {}",
        2 * count
    );
    drop(topo);
    println!("\nnamespaces deleted; demo done");
    Ok(())
}
