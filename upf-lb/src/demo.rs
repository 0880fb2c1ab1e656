//! The demo topology: a gNB and the UPF in two network namespaces joined by a veth pair, the
//! N3 XDP program on the UPF's side; and the demo that drives it with real sockets.
//!
//! ```text
//!  netns gnb                               netns upf
//!  gnb0 192.0.2.1/24  <--- veth --->  n3 192.0.2.2/24   (xdp_n3, driver mode)
//!       2001:db8:0:3::1/64                 2001:db8:0:3::2/64
//! ```
//! The gNB side carries the no-op XDP program: a veth delivers XDP_TX frames to its peer only
//! when the peer runs XDP (or GRO), so the reply path is the native one.

use crate::{
    fixtures,
    netns::{Netns, unique_name, veth},
    packet::Gtpu,
    southbound::GtpDatapath,
};
use anyhow::{Context, ensure};
use aya::programs::XdpMode;
use bpf_abi::{Reason, names};
use std::{
    net::{IpAddr, SocketAddr, UdpSocket},
    time::{Duration, Instant},
};

/// Interface names inside the namespaces (the namespaces make them unique).
pub const GNB_IF: &str = "gnb0";
/// The UPF's N3 interface.
pub const N3_IF: &str = "n3";

/// The two namespaces with the programs attached. Dropping it deletes everything it made.
pub struct N3Topology {
    /// The gNB's namespace.
    pub gnb: Netns,
    /// The UPF's namespace.
    pub upf: Netns,
}

impl N3Topology {
    /// Builds the topology and attaches `xdp_n3` (UPF side) and `xdp_noop` (gNB side) of `dp`.
    pub fn new(dp: &mut GtpDatapath) -> anyhow::Result<Self> {
        let gnb = Netns::create(&unique_name("gnb"))?;
        let upf = Netns::create(&unique_name("upf"))?;
        veth(&gnb, GNB_IF, &upf, N3_IF)?;
        for (ns, ifname, v4, v6) in [
            (&gnb, GNB_IF, fixtures::GNB_V4, fixtures::GNB_V6),
            (&upf, N3_IF, fixtures::UPF_V4, fixtures::UPF_V6),
        ] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", ifname])?;
            ns.ip(&["addr", "add", &format!("{v6}/64"), "dev", ifname, "nodad"])?;
        }
        let n3 = dp.xdp_mut(names::PROG_XDP_N3)?;
        upf.run(|| n3.attach(N3_IF, XdpMode::Driver))
            .context("attaching xdp_n3 to n3")?;
        let noop = dp.xdp_mut(names::PROG_XDP_NOOP)?;
        gnb.run(|| noop.attach(GNB_IF, XdpMode::Driver))
            .context("attaching xdp_noop")?;
        Ok(N3Topology { gnb, upf })
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

/// The main job until the controller exists: builds the topology, exchanges GTP-U Echo over
/// IPv4 and IPv6 through the XDP responder, and prints what happened and the counters.
pub fn run(count: u16) -> anyhow::Result<()> {
    ensure!(
        crate::netns::is_root(),
        "the demo needs root (namespaces and eBPF)"
    );
    println!("upf-lb demo: GTP-U Echo on N3, answered by XDP (TS 29.281 7.2)");
    println!("(the PFCP N4 controller is not built yet: this shows the datapath that exists)\n");
    let mut dp = GtpDatapath::load().context("loading bpf-gtp")?;
    println!("loaded bpf-gtp: the kernel verifier accepted xdp_n3 and xdp_noop");
    let topo = N3Topology::new(&mut dp)?;
    println!(
        "topology: netns {} ({GNB_IF}) <-> netns {} ({N3_IF}, xdp_n3)\n",
        topo.gnb.name(),
        topo.upf.name()
    );
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
                "Echo Request seq {seq:>3} -> {upf:<18} Echo Response seq {rseq:>3} from {} \
                 Recovery IE {:02x?}  rtt {:>6.1} us",
                x.from,
                &r[12..14],
                x.rtt.as_secs_f64() * 1e6
            );
            ensure!(rseq == seq, "sequence number {rseq} != {seq}");
        }
    }
    println!("\ncounters of bpf-gtp (all CPUs):");
    for (r, c) in dp.counters()? {
        if c.packets > 0 {
            println!(
                "  {:<28} {:<5} {:>8} pkts {:>10} bytes",
                r.name(),
                r.verdict().name(),
                c.packets,
                c.bytes
            );
        }
    }
    let answered = dp.counters()?[Reason::GtpuEchoResponse as usize].1.packets;
    ensure!(
        answered == 2 * u64::from(count),
        "{answered} answered, expected {}",
        2 * count
    );
    drop(topo);
    println!("\nnamespaces deleted; demo done");
    Ok(())
}
