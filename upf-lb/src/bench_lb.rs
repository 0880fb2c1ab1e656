//! `upf-lb bench-lb`: the per-packet cost of the L4 load balancer (`xdp_lb`) on a packet of an
//! established TCP connection (tracked: conntrack hit, DNAT, checksums, TTL, FIB lookup and
//! redirect), with 1 to a million connections tracked, through BPF_PROG_TEST_RUN in a
//! namespace with a known FIB; every run's output is checked against the fixture.

use crate::{
    bench::{machine, measure_in, xdp_md},
    fixtures::{Fixture, routed, xdp},
    packet::{Frame, IpPacket, L4},
    southbound::{LbDatapath, lb::BackendSpec},
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
