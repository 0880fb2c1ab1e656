//! `upf-lb-bench lb`: the per-packet cost of the L4 load balancer (`xdp_lb`) on a packet of an
//! established TCP connection (tracked: conntrack hit, DNAT, checksums, TTL, FIB lookup and
//! redirect), with 1 to a million connections tracked, through BPF_PROG_TEST_RUN in a
//! namespace with a known FIB; every run's output is checked against the fixture. With
//! `--sctp`: multi-homed SCTP instead, associations set up by their four-packet handshake
//! through the program (the set-up rate), then the cost of a DATA packet of an established
//! association and of an INIT ACK (address parameters rewritten, CRC32c recomputed).

use crate::gtp::measure_in;
use anyhow::{Context, ensure};
use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Reason, lb::PROG_XDP_LB, names::PROG_XDP_NOOP};
use std::{
    net::{IpAddr, Ipv4Addr},
    time::Instant,
};
use upf_lb::southbound::{
    LbDatapath,
    lb::{BackendSpec, LbSizes, SctpBackendSpec},
};
use upf_lb::{kernel::machine, southbound::test_run::xdp_md};
use upf_lb_packet::{
    Frame, IpPacket, L4,
    sctp::{
        COOKIE_ACK, COOKIE_ECHO, Chunk, INIT, INIT_ACK, PARAM_COOKIE, PARAM_IPV4, data, init, param,
    },
};
use upf_lb_testkit::{
    fixtures::{Fixture, routed, xdp},
    testbed::FibNs,
};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn tcp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> IpPacket {
    IpPacket::v4(
        src,
        dst,
        L4::Tcp {
            src: sport,
            dst: dport,
            flags: 0x10,
            payload: vec![0x55; 64],
        },
    )
}

/// The load balancer's own address in the FIB namespace (full NAT's and the tunnel's source).
const LB_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

/// Runs the benchmark at each connection count of `flows`, the service in `mode` (`dnat`,
/// `full_nat`, `dsr_l2`, `dsr_tunnel`).
pub fn run(flows: &[u32], runs: u32, rounds: usize, mode: &str) -> anyhow::Result<()> {
    use upf_lb::southbound::lb::Forwarding;
    ensure!(!flows.is_empty(), "--flows needs at least one count");
    let (forwarding, path) = match mode {
        "dnat" => (
            Forwarding::Dnat,
            "DNAT to the backend, IPv4 and TCP checksums (RFC 1624), TTL",
        ),
        "full_nat" => (
            Forwarding::FullNat {
                source: LB_ADDR.into(),
            },
            "full NAT (source and destination, addresses and ports), checksums, TTL",
        ),
        "dsr_l2" => (Forwarding::DsrL2, "DSR: unchanged, to the backend's MAC"),
        "dsr_tunnel" => (
            Forwarding::DsrTunnel {
                source: LB_ADDR.into(),
            },
            "DSR: IPIP to the backend",
        ),
        o => anyhow::bail!("--mode {o:?}: dnat, full_nat, dsr_l2 or dsr_tunnel"),
    };
    let dsr = matches!(forwarding, Forwarding::DsrL2 | Forwarding::DsrTunnel { .. });
    println!("machine: {}", machine());
    println!(
        "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop"
    );
    println!(
        "path: TCP ACK of a tracked connection to an IPv4 VIP -> conntrack (LRU hash) -> {path} -> FIB -> redirect"
    );
    println!(
        "{:>10} {:>14} {:>12} {:>12}",
        "flows", "set-up/s", "ns/packet", "vs 1 flow"
    );
    let mut first = None;
    for &n in flows {
        let n = n.max(1);
        let fib = FibNs::new();
        let mut dp = LbDatapath::load(2, 4, n + 16)?;
        dp.set_forwarding(VIP.into(), 6, 80, forwarding)?;
        dp.set_service(
            VIP.into(),
            6,
            80,
            &[BackendSpec {
                addr: IpAddr::V4(FibNs::NH4),
                port: if dsr { 80 } else { 8080 },
                weight: 1,
            }],
        )?;
        // The other connections: their first packets through the program, as clients make
        // them (sources in 198.18.0.0/15).
        let template = Frame::new(tcp(CLIENT, VIP, 1, 80)).to_bytes();
        let prog = dp.xdp(PROG_XDP_LB)?;
        let t0 = Instant::now();
        let mut frame = template.clone();
        let mut out = vec![0u8; frame.len() + 64];
        let ctx = xdp_md(frame.len(), fib.n3_ifindex);
        fib.ns.run(|| -> anyhow::Result<()> {
            for i in 1..n {
                let src = [
                    198,
                    18 + ((i >> 24) & 1) as u8,
                    (i >> 16) as u8,
                    (i >> 8) as u8,
                ];
                frame[14 + 12..14 + 16].copy_from_slice(&src);
                frame[34..36].copy_from_slice(&(1024 + (i & 0xff) as u16).to_be_bytes());
                let r = prog
                    .test_run(TestRunOptions {
                        data_in: Some(&frame),
                        data_out: Some(&mut out),
                        ctx_in: Some(&ctx[..]),
                        ..TestRunOptions::new()
                    })
                    .context("BPF_PROG_TEST_RUN")?;
                if r.return_value != xdp::REDIRECT {
                    let why: Vec<String> = dp
                        .counters()?
                        .iter()
                        .filter(|(r, c)| c.packets > 0 && *r != Reason::LbRedirect)
                        .map(|(r, c)| format!("{} {}", r.name(), c.packets))
                        .collect();
                    anyhow::bail!(
                        "connection {i} not set up (action {}): {why:?}",
                        r.return_value
                    );
                }
            }
            Ok(())
        })?;
        let setup = f64::from(n - 1) / t0.elapsed().as_secs_f64().max(1e-9);
        let per = if dsr { 1 } else { 2 };
        ensure!(
            dp.tracked() >= per * (n as usize - 1),
            "{} conntrack entries for {} connections",
            dp.tracked(),
            n - 1
        );
        let input = Frame::new(tcp(CLIENT, VIP, 40000, 80)).to_bytes();
        // The measured connection, opened (full NAT: its port is the datapath's choice).
        fib.test_run(dp.xdp(PROG_XDP_LB)?, &input)?;
        let key = bpf_abi::lb::FlowKey {
            src: upf_lb::southbound::lb::addr16(CLIENT.into()).0,
            dst: upf_lb::southbound::lb::addr16(VIP.into()).0,
            sport: 40000,
            dport: 80,
            proto: 6,
            family: 4,
            _pad: [0; 2],
        };
        let ct = dp.connection(&key).context("the measured connection")?;
        let l2 = |p: IpPacket| {
            Frame {
                dst: FibNs::NH_MAC,
                src: FibNs::N6_MAC,
                vlans: vec![],
                ip: p,
            }
            .to_bytes()
        };
        let output = match forwarding {
            Forwarding::Dnat => routed(
                tcp(CLIENT, FibNs::NH4, 40000, 8080),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Forwarding::FullNat { .. } => routed(
                tcp(LB_ADDR, FibNs::NH4, ct.peer_port, 8080),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            Forwarding::DsrL2 => l2(tcp(CLIENT, VIP, 40000, 80)),
            Forwarding::DsrTunnel { .. } => l2(IpPacket {
                ip: upf_lb_packet::Ip::V4(upf_lb_packet::Ipv4::new(LB_ADDR, FibNs::NH4)),
                l4: L4::Raw {
                    proto: 4,
                    bytes: tcp(CLIENT, VIP, 40000, 80).to_bytes(),
                },
            }),
        };
        let fx = Fixture {
            name: format!("tcp-established-{mode}"),
            input,
            action: xdp::REDIRECT,
            output,
            reason: if dsr {
                Reason::LbDsrRedirect
            } else {
                Reason::LbRedirect
            },
        };
        let (prog, noop) = (dp.xdp(PROG_XDP_LB)?, dp.xdp(PROG_XDP_NOOP)?);
        let r = fib
            .ns
            .run(|| measure_in(prog, noop, &fx, runs, rounds, fib.n3_ifindex))?;
        let ns = r.net_ns();
        let base = *first.get_or_insert(ns);
        println!(
            "{n:>10} {:>14} {ns:>12.1} {:>12.2}",
            if n > 1 {
                format!("{setup:.0}")
            } else {
                "-".into()
            },
            ns / base
        );
    }
    Ok(())
}

fn sctp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, vtag: u32, c: Chunk) -> IpPacket {
    upf_lb_packet::sctp::v4(src, dst, sport, dport, vtag, vec![c])
}

/// The second VIP and the backend's second address (routed via NH4 in the FIB namespace).
const VIP2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const BE2: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 2);
/// NGAP's port.
const NGAP: u16 = 38412;

/// `--sctp`: the SCTP table, at each association count of `assocs`.
pub fn run_sctp(assocs: &[u32], runs: u32, rounds: usize) -> anyhow::Result<()> {
    ensure!(!assocs.is_empty(), "--flows needs at least one count");
    println!("machine: {}", machine());
    println!(
        "method: associations set up by INIT, INIT ACK, COOKIE ECHO, COOKIE ACK through BPF_PROG_TEST_RUN (one syscall a packet); then BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop"
    );
    println!(
        "paths: DATA to VIP 2 of an established association -> tag lookup -> path 2's backend address -> FIB -> redirect; INIT ACK -> 2 address parameters rewritten, CRC32c over 116 bytes, half-open entries -> redirect"
    );
    println!(
        "{:>10} {:>14} {:>12} {:>12} {:>14}",
        "assocs", "set-up/s", "DATA ns", "vs 1", "INIT ACK ns"
    );
    let b_addrs = [IpAddr::V4(FibNs::NH4), IpAddr::V4(BE2)];
    let ack_params = |a: [u8; 4], b: [u8; 4]| {
        vec![
            param(PARAM_IPV4, &a),
            param(PARAM_IPV4, &b),
            param(PARAM_COOKIE, &[0xc0; 64]),
        ]
    };
    let mut first = None;
    for &n in assocs {
        let n = n.max(1);
        let fib = FibNs::new();
        fib.ns
            .ip(&[
                "route",
                "add",
                "198.18.5.0/24",
                "via",
                &FibNs::NH4.to_string(),
            ])
            .map_err(|e| anyhow::anyhow!("route: {e}"))?;
        let mut dp = LbDatapath::load_sized(LbSizes {
            sctp_associations: n + 16,
            sctp_half_open: 1024,
            ..LbSizes::new(4, 4, 16)
        })?;
        dp.set_sctp_service(
            &[IpAddr::V4(VIP), IpAddr::V4(VIP2)],
            NGAP,
            &[SctpBackendSpec {
                addrs: b_addrs.to_vec(),
                weight: 1,
            }],
        )?;
        let prog = dp.xdp(PROG_XDP_LB)?;
        let mut out = vec![0u8; 512];
        let run1 = |frame: &[u8], out: &mut Vec<u8>| -> anyhow::Result<u32> {
            let ctx = xdp_md(frame.len(), fib.n3_ifindex);
            Ok(prog
                .test_run(TestRunOptions {
                    data_in: Some(frame),
                    data_out: Some(out),
                    ctx_in: Some(&ctx[..]),
                    ..TestRunOptions::new()
                })
                .context("BPF_PROG_TEST_RUN")?
                .return_value)
        };
        let t0 = Instant::now();
        fib.ns.run(|| -> anyhow::Result<()> {
            for i in 1..n {
                // Client port and tags from i: every association its own.
                let port = 1024 + (i % 60000) as u16;
                let (ct, bt) = (0x1000_0000 + i, 0x8000_0000 + i);
                let frames = [
                    sctp(CLIENT, VIP, port, NGAP, 0, init(INIT, ct, &[])),
                    sctp(
                        FibNs::NH4,
                        CLIENT,
                        NGAP,
                        port,
                        ct,
                        init(INIT_ACK, bt, &ack_params(FibNs::NH4.octets(), BE2.octets())),
                    ),
                    sctp(
                        CLIENT,
                        VIP,
                        port,
                        NGAP,
                        bt,
                        (COOKIE_ECHO, 0, vec![0xc0; 64]),
                    ),
                    sctp(FibNs::NH4, CLIENT, NGAP, port, ct, (COOKIE_ACK, 0, vec![])),
                ];
                for f in frames {
                    let a = run1(&Frame::new(f).to_bytes(), &mut out)?;
                    ensure!(a == xdp::REDIRECT, "association {i}: action {a}");
                }
            }
            Ok(())
        })?;
        let setup = f64::from(n - 1) / t0.elapsed().as_secs_f64().max(1e-9);
        let est = dp
            .sctp_associations()
            .iter()
            .filter(|a| a.established)
            .count();
        ensure!(
            est + 1 >= n as usize,
            "{est} associations established of {}",
            n - 1
        );
        // The measured association.
        let (ct, bt) = (0x0abc_0001, 0x0def_0001);
        fib.ns.run(|| -> anyhow::Result<()> {
            for f in [
                sctp(CLIENT, VIP, 5000, NGAP, 0, init(INIT, ct, &[])),
                sctp(
                    FibNs::NH4,
                    CLIENT,
                    NGAP,
                    5000,
                    ct,
                    init(INIT_ACK, bt, &ack_params(FibNs::NH4.octets(), BE2.octets())),
                ),
                sctp(FibNs::NH4, CLIENT, NGAP, 5000, ct, (COOKIE_ACK, 0, vec![])),
            ] {
                let a = run1(&Frame::new(f).to_bytes(), &mut out)?;
                ensure!(a == xdp::REDIRECT, "the measured association: action {a}");
            }
            Ok(())
        })?;
        let payload = [0x20u8; 64];
        let dfx = Fixture {
            name: "sctp-data-established".into(),
            input: Frame::new(sctp(CLIENT, VIP2, 5000, NGAP, bt, data(7, &payload))).to_bytes(),
            action: xdp::REDIRECT,
            output: routed(
                sctp(CLIENT, BE2, 5000, NGAP, bt, data(7, &payload)),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            reason: Reason::LbRedirect,
        };
        let afx = Fixture {
            name: "sctp-init-ack".into(),
            input: Frame::new(sctp(
                FibNs::NH4,
                CLIENT,
                NGAP,
                5000,
                ct,
                init(INIT_ACK, bt, &ack_params(FibNs::NH4.octets(), BE2.octets())),
            ))
            .to_bytes(),
            action: xdp::REDIRECT,
            output: routed(
                sctp(
                    VIP,
                    CLIENT,
                    NGAP,
                    5000,
                    ct,
                    init(INIT_ACK, bt, &ack_params(VIP.octets(), VIP2.octets())),
                ),
                FibNs::GNB_MAC,
                FibNs::N3_MAC,
            ),
            reason: Reason::LbRedirect,
        };
        let noop = dp.xdp(PROG_XDP_NOOP)?;
        let d = fib
            .ns
            .run(|| measure_in(prog, noop, &dfx, runs, rounds, fib.n3_ifindex))?
            .net_ns();
        let a = fib
            .ns
            .run(|| measure_in(prog, noop, &afx, runs, rounds, fib.n3_ifindex))?
            .net_ns();
        let base = *first.get_or_insert(d);
        println!(
            "{n:>10} {:>14} {d:>12.1} {:>12.2} {a:>14.1}",
            if n > 1 {
                format!("{setup:.0}")
            } else {
                "-".into()
            },
            d / base
        );
    }
    Ok(())
}

/// The dut of one run through veth.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dut {
    /// The kernel: nftables DNAT (conntrack) and forwarding.
    Nftables,
    /// Our `xdp_lb`.
    Ours,
}

const BACKEND_PORT: u16 = 5353;

/// ns per frame and frames delivered: `frames` UDP frames to the VIP (`flows` source ports
/// cycled, every flow set up before the timed run) through a fresh src -> dut -> sink bed (the SRv6 benchmark's: `xdp_bench` restores
/// each frame in live-frames mode as if it arrived on the dut's b0 and tail-calls `xdp_lb`, or
/// `xdp_noop` for the kernel, whose nftables DNATs to the backend on sink's link).
fn veth_run(dut: Dut, flows: u32, frames: u32) -> anyhow::Result<(f64, u64)> {
    use aya::programs::XdpMode;
    use bpf_abi::srv6::{PROG_XDP_BENCH, PROG_XDP_SINK};
    use upf_lb::southbound::Srv6Datapath;
    use upf_lb_testkit::testbed::srv6bed;
    let bed = srv6bed::Bed::new(srv6bed::SINK_MAC);
    let mac = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    for args in [
        vec!["addr", "add", "192.0.2.2/24", "dev", "b0"],
        vec![
            "neigh",
            "add",
            "192.0.2.1",
            "lladdr",
            &mac(srv6bed::SRC_MAC),
            "dev",
            "b0",
            "nud",
            "permanent",
        ],
    ] {
        bed.dut.ip(&args)?;
    }
    let sh = |script: &str| -> anyhow::Result<()> {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", bed.dut.name(), "sh", "-c", script])
            .output()?;
        ensure!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    sh("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.b0.rp_filter=0")?;
    let mut s6 = Srv6Datapath::load(16)?;
    let p = s6.xdp_mut(PROG_XDP_SINK)?;
    bed.sink.run(|| p.attach("a1", XdpMode::Driver))?;
    let mut frame = Frame::new(IpPacket::v4(
        CLIENT,
        VIP,
        L4::UdpZeroChecksum {
            src: 40000,
            dst: 53,
            payload: vec![0x5a; 100],
        },
    ));
    frame.dst = srv6bed::DUT_IN_MAC;
    frame.src = srv6bed::SRC_MAC;
    let frame = frame.to_bytes();
    // Kept alive for the run: the load balancer the wrapper tail-calls.
    let mut lb = None;
    match dut {
        Dut::Nftables => {
            sh(&format!(
                "nft -f - <<'EOF'\ntable ip upflb {{\n chain pre {{\n  type nat hook prerouting priority -100;\n  ip daddr {VIP} udp dport 53 dnat to {}:{BACKEND_PORT}\n }}\n}}\nEOF",
                FibNs::NH4
            ))?;
            s6.bench_target(&frame, PROG_XDP_NOOP)?;
            s6.bench_frame(&frame, flows, 34)?;
        }
        Dut::Ours => {
            let mut d = LbDatapath::load(2, 4, flows + 16)?;
            d.set_service(
                VIP.into(),
                17,
                53,
                &[BackendSpec {
                    addr: IpAddr::V4(FibNs::NH4),
                    port: BACKEND_PORT,
                    weight: 1,
                }],
            )?;
            lb = Some(d);
        }
    }
    if let Some(d) = &lb {
        s6.bench_other(&frame, flows, 34, d.xdp(PROG_XDP_LB)?)?;
    }
    let delivered = |s6: &Srv6Datapath| -> anyhow::Result<u64> {
        Ok(s6
            .counters()?
            .iter()
            .find(|(r, _)| *r == Reason::BenchSink)
            .map_or(0, |(_, c)| c.packets))
    };
    // SAFETY: if_nametoindex reads a NUL-terminated string that outlives the call.
    let b0 = bed
        .dut
        .run(|| unsafe { libc::if_nametoindex(c"b0".as_ptr()) });
    ensure!(b0 != 0, "the dut has no b0");
    let ctx = xdp_md(frame.len(), b0);
    let x = s6.xdp(PROG_XDP_BENCH)?;
    let live = |repeat: u32| {
        bed.dut
            .run(|| crate::gtp::live_run(x, &frame, &ctx, repeat))
    };
    // Every flow set up first (untimed: the figure is for established flows), each CPU's
    // counter cycling from where it is.
    live(flows.saturating_mul(2).max(1000))?;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = delivered(&s6)?;
    let elapsed = live(frames)?;
    // What is still in the veth rings arrives; it was paid for inside the run.
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(lb);
    Ok((
        elapsed.as_nanos() as f64 / f64::from(frames),
        delivered(&s6)? - before,
    ))
}

/// `--veth`: ns per frame through veth, nftables DNAT against ours, in one run, at each flow
/// count of `flows` (UDP source ports cycled).
pub fn run_veth(flows: &[u32], frames: u32, rounds: usize) -> anyhow::Result<()> {
    ensure!(!flows.is_empty(), "--flows needs at least one count");
    ensure!(
        rounds > 0 && frames > 0,
        "rounds and frames must be positive"
    );
    ensure!(
        flows.iter().all(|&n| n <= 65_536),
        "--veth: at most 65536 flows (the flows differ in their 16-bit source port)"
    );
    println!("machine: {}", machine());
    println!(
        "method: through veth (src -> dut -> sink), {frames} live frames per run on one CPU: xdp_bench on the dut's b0 restores each frame (cycling the UDP source port over the flows) and tail-calls xdp_lb (ours) or xdp_noop (XDP_PASS: the kernel, nftables DNAT in prerouting, conntrack, forwarding); flows set up by an untimed pass first; xdp_sink on sink counts; median of {rounds} alternating runs"
    );
    println!(
        "{:>10} {:>16} {:>12} {:>12} {:>14}",
        "flows", "nftables ns", "ours ns", "ours/nft", "delivered"
    );
    for &n in flows {
        let n = n.max(1);
        let (mut k, mut o) = (Vec::new(), Vec::new());
        let mut lost = 0u64;
        for _ in 0..rounds {
            for (dut, v) in [(Dut::Nftables, &mut k), (Dut::Ours, &mut o)] {
                let (ns, got) = veth_run(dut, n, frames)?;
                lost += u64::from(frames).saturating_sub(got);
                v.push(ns);
            }
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (km, om) = (med(&mut k), med(&mut o));
        let total = 2 * rounds as u64 * u64::from(frames);
        println!(
            "{n:>10} {km:>16.1} {om:>12.1} {:>12.2} {:>14}",
            om / km,
            format!("{}/{total}", total - lost)
        );
    }
    Ok(())
}
