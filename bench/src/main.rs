//! The upf-lb-bench command: what each part of upf-lb costs, measured on this machine.

use anyhow::{Context, bail};
use bpf_abi::names;
use clap::{Parser, Subcommand};
use upf_lb::{kernel::machine, southbound::GtpDatapath};
use upf_lb_bench::{gtp, lb, sessions, srv6};
use upf_lb_testkit::fixtures;

#[derive(Parser)]
#[command(
    version,
    about = "upf-lb-bench: the cost of upf-lb's user plane, load balancer, SRv6 and N4, on this machine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Per-packet cost of a program on a fixture (BPF_PROG_TEST_RUN, kernel run-time stats).
    Gtp {
        /// Program to measure.
        #[arg(long, default_value = names::PROG_XDP_N3)]
        program: String,
        /// Fixture name, or "all".
        #[arg(long, default_value = "all")]
        fixture: String,
        /// Runs per round.
        #[arg(long, default_value_t = 20_000)]
        runs: u32,
        /// Rounds (the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Instead of the fixtures: the user plane with this many sessions installed, e.g.
        /// `--sessions 1,10000,1000000`.
        #[arg(long, value_delimiter = ',')]
        sessions: Vec<u32>,
    },
    /// Cost of the SRv6 endpoint behaviours: ns per packet (BPF_PROG_TEST_RUN) and ns per
    /// frame through veth against the kernel's seg6local in the same run.
    Srv6 {
        /// Runs per round (BPF_PROG_TEST_RUN part).
        #[arg(long, default_value_t = 20_000)]
        runs: u32,
        /// Rounds (the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Frames per veth run.
        #[arg(long, default_value_t = 1_000_000)]
        frames: u32,
    },
    /// Cost of the L4 load balancer: ns per packet of an established TCP connection
    /// (BPF_PROG_TEST_RUN) with 1 to a million connections tracked.
    Lb {
        /// Connections tracked, one run each, e.g. `--flows 1,1000000`.
        #[arg(long, value_delimiter = ',', default_value = "1,10000,1000000")]
        flows: Vec<u32>,
        /// Runs per round.
        #[arg(long, default_value_t = 20_000)]
        runs: u32,
        /// Rounds (the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Multi-homed SCTP instead of TCP: `--flows` counts associations.
        #[arg(long)]
        sctp: bool,
        /// Through veth against nftables DNAT instead (UDP; `--runs` frames a run).
        #[arg(long)]
        veth: bool,
        /// The TCP service's forwarding mode: dnat, full_nat, dsr_l2 or dsr_tunnel.
        #[arg(long, default_value = "dnat")]
        mode: String,
    },
    /// Sessions per second of the N4 daemon: a PFCP client establishing sessions over UDP on
    /// loopback, in a namespace of its own.
    Sessions {
        /// Session counts, one run each.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sessions: Vec<u32>,
        /// Requests in flight.
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// Keep no state (no `[state]`: nothing pinned, nothing stored).
        #[arg(long)]
        no_persist: bool,
        /// Export traces and metrics over OTLP to a collector.
        #[arg(long)]
        otlp: bool,
        /// Instead: this many pairs of runs (without, then with OTLP) at the first count, and
        /// the median of their rate ratios (the cost of telemetry, compared in one process).
        #[arg(long)]
        otlp_pairs: Option<u32>,
    },
    /// List the fixtures the benchmark knows.
    Fixtures,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Sessions {
            sessions,
            window,
            no_persist,
            otlp,
            otlp_pairs,
        } => match otlp_pairs {
            Some(p) => sessions::otlp_pairs(sessions[0], window, !no_persist, p),
            None => sessions::run(&sessions, window, !no_persist, otlp),
        },
        Cmd::Fixtures => {
            for f in fixtures::bench_fixtures() {
                println!(
                    "{:<16} {} bytes, expect {}",
                    f.name,
                    f.input.len(),
                    f.reason.name()
                );
            }
            Ok(())
        }
        Cmd::Srv6 {
            runs,
            rounds,
            frames,
        } => srv6::run(runs, rounds, frames),
        Cmd::Lb {
            flows,
            runs,
            rounds,
            sctp,
            veth,
            mode,
        } => match (sctp, veth) {
            (false, false) => lb::run(&flows, runs, rounds, &mode),
            (true, false) => lb::run_sctp(&flows, runs, rounds),
            (false, true) => lb::run_veth(&flows, runs, rounds),
            (true, true) => Err(anyhow::anyhow!("--sctp or --veth, not both")),
        },
        Cmd::Gtp {
            sessions,
            runs,
            rounds,
            ..
        } if !sessions.is_empty() => gtp::user_plane(&sessions, runs, rounds),
        Cmd::Gtp {
            program,
            fixture,
            runs,
            rounds,
            ..
        } => {
            let dp = GtpDatapath::load().context("loading bpf-gtp")?;
            let Some(&prog_name) = upf_lb::southbound::loader::GTP_PROGRAMS
                .iter()
                .find(|p| **p == program)
            else {
                bail!(
                    "unknown program {program}; known: {:?}",
                    upf_lb::southbound::loader::GTP_PROGRAMS
                );
            };
            let prog = dp.xdp(prog_name)?;
            let noop = dp.xdp(names::PROG_XDP_NOOP)?;
            let all = fixtures::bench_fixtures();
            let chosen: Vec<_> = all
                .iter()
                .filter(|f| fixture == "all" || f.name == fixture)
                .collect();
            if chosen.is_empty() {
                bail!("unknown fixture {fixture}; see `upf-lb-bench fixtures`");
            }
            println!("machine: {}", machine());
            println!(
                "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop"
            );
            println!(
                "{:<16} {:<10} {:>10} {:>12} {:>10} {:>14}",
                "fixture", "program", "gross ns", "baseline ns", "net ns", "net pkts/s"
            );
            for f in chosen {
                let r = gtp::measure(prog, noop, f, runs, rounds)?;
                let pps = if r.net_ns() > 0.0 {
                    1e9 / r.net_ns()
                } else {
                    f64::INFINITY
                };
                println!(
                    "{:<16} {:<10} {:>10.1} {:>12.1} {:>10.1} {:>14.0}",
                    r.fixture,
                    prog_name,
                    r.gross_ns,
                    r.baseline_ns,
                    r.net_ns(),
                    pps
                );
            }
            Ok(())
        }
    }
}
