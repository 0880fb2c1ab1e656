//! `upf-lb bench-lb`: the per-packet cost of the L4 load balancer (`xdp_lb`) on a packet of an
//! established TCP connection (tracked: conntrack hit, DNAT, checksums, TTL, FIB lookup and
//! redirect), with 1 to a million connections tracked, through BPF_PROG_TEST_RUN in a
//! namespace with a known FIB; every run's output is checked against the fixture. With
//! `--sctp`: multi-homed SCTP instead, associations set up by their four-packet handshake
//! through the program (the set-up rate), then the cost of a DATA packet of an established
//! association and of an INIT ACK (address parameters rewritten, CRC32c recomputed).

use crate::{
    bench::{machine, measure_in, xdp_md},
    fixtures::{Fixture, routed, xdp},
    packet::{
        Frame, IpPacket, L4,
        sctp::{
            COOKIE_ACK, COOKIE_ECHO, Chunk, INIT, INIT_ACK, PARAM_COOKIE, PARAM_IPV4, data, init,
            param,
        },
    },
    southbound::{
        LbDatapath,
        lb::{BackendSpec, LbSizes, SctpBackendSpec},
    },
    testbed::FibNs,
};
use anyhow::{Context, ensure};
use aya::programs::{TestRun, TestRunOptions};
use bpf_abi::{Reason, lb::PROG_XDP_LB, names::PROG_XDP_NOOP};
use std::{
    net::{IpAddr, Ipv4Addr},
    time::Instant,
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

/// Runs the benchmark at each connection count of `flows`.
pub fn run(flows: &[u32], runs: u32, rounds: usize) -> anyhow::Result<()> {
    ensure!(!flows.is_empty(), "--flows needs at least one count");
    println!("machine: {}", machine());
    println!(
        "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop"
    );
    println!(
        "path: TCP ACK of a tracked connection to an IPv4 VIP -> conntrack (LRU hash) -> DNAT to the backend, IPv4 and TCP checksums (RFC 1624), TTL -> FIB -> redirect"
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
        dp.set_service(
            VIP.into(),
            6,
            80,
            &[BackendSpec {
                addr: IpAddr::V4(FibNs::NH4),
                port: 8080,
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
                ensure!(r.return_value == xdp::REDIRECT, "connection {i} not set up");
            }
            Ok(())
        })?;
        let setup = f64::from(n - 1) / t0.elapsed().as_secs_f64().max(1e-9);
        ensure!(
            dp.tracked() >= 2 * (n as usize - 1),
            "{} conntrack entries for {} connections",
            dp.tracked(),
            n - 1
        );
        let fx = Fixture {
            name: "tcp-established".into(),
            input: Frame::new(tcp(CLIENT, VIP, 40000, 80)).to_bytes(),
            action: xdp::REDIRECT,
            output: routed(
                tcp(CLIENT, FibNs::NH4, 40000, 8080),
                FibNs::NH_MAC,
                FibNs::N6_MAC,
            ),
            reason: Reason::LbRedirect,
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
    IpPacket::v4(
        src,
        dst,
        L4::Sctp {
            src: sport,
            dst: dport,
            vtag,
            chunks: vec![c],
        },
    )
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
