//! The demo's topology: a gNB, the UPF and a data network in three network
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
};
use anyhow::{Context, ensure};
use aya::programs::XdpMode;
use bpf_abi::{gtp::Qer, names};
use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    process::Command,
    time::{Duration, Instant},
};
use upf_lb::southbound::{GtpDatapath, Installed, Key, PdrSpec, SessionSpec, gtp::build};
use upf_lb_packet::{Gtpu, GtpuExt, IpPacket, L4, Psc};

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
