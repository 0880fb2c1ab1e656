//! The upf-lb command.

use anyhow::{Context, bail};
use bpf_abi::names;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use upf_lb::{bench, config::Config, daemon, demo, fixtures, southbound::GtpDatapath};

#[derive(Parser)]
#[command(
    version,
    about = "upf-lb: 5G user plane and edge load balancer in eBPF"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the UP function: the PFCP N4 endpoint and the eBPF user plane on the configured
    /// interfaces, until SIGINT or SIGTERM.
    Run {
        /// Configuration file (TOML; see config/upf-lb.toml). Without it: the embedded default.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Logs as JSON lines.
        #[arg(long)]
        log_json: bool,
    },
    /// Run a capture through the real UP function without a network: PFCP to the N4 endpoint,
    /// other packets through the eBPF program of their interface (BPF_PROG_TEST_RUN).
    Replay {
        /// Input capture (pcap or pcapng, Ethernet).
        input: PathBuf,
        /// Output capture (pcap): PFCP answers and what the programs emitted, in order.
        #[arg(long)]
        output: PathBuf,
        /// Configuration (default: the embedded one, as for the demo).
        #[arg(long)]
        config: Option<PathBuf>,
        /// One JSON line per input packet: path, verdict, reason, output length.
        #[arg(long)]
        verdicts: Option<PathBuf>,
    },
    /// Removes what `[state]` keeps across restarts: the pinned XDP links (the programs are
    /// detached), the pinned maps and the session store. Run it with the daemon stopped.
    Cleanup {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration file and print what it resolves to.
    CheckConfig {
        /// Configuration file.
        config: PathBuf,
    },
    /// Run the demo: `upf-lb run` in network namespaces driven by an SMF over PFCP, with UDP
    /// and TCP through its sessions.
    Demo {
        /// UDP datagrams per session.
        #[arg(long, default_value_t = 3)]
        count: u16,
    },
    /// Per-packet cost of a program on a fixture (BPF_PROG_TEST_RUN, kernel run-time stats).
    Bench {
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
    BenchSrv6 {
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
    BenchLb {
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
    BenchSessions {
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
    /// Checks this kernel and machine for what the configured parts need (kernel version,
    /// BTF, JIT, capabilities, bpffs, interfaces, IPv6 forwarding, the kernel features the
    /// reference tests use) and has the verifier load every program. Exits non-zero when a
    /// configured part cannot run here. `upf-lb run` makes the same checks at start.
    Doctor {
        /// Configuration file (without it: the checks every configuration needs).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// What the kernel's verifier spends on every eBPF program, on this kernel: instructions
    /// processed (and their share of the one-million limit), size, JITed size, peak verifier
    /// states, stack depth (per function, as the verifier says it). Exits non-zero
    /// when a program is refused or needs more than half the limit.
    Verifier {
        /// Writes the verifier's log of each refused program to DIR/OBJECT.PROGRAM.log.
        #[arg(long)]
        logs: Option<PathBuf>,
        /// Only these programs (repeatable), e.g. `--only xdp_lb6`.
        #[arg(long)]
        only: Vec<String>,
    },
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        None => Ok(Config::default_embedded()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading the configuration {}", p.display()))?;
            Config::parse(&text).with_context(|| format!("in {}", p.display()))
        }
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Run { config, log_json } => {
            let cfg = load_config(config.as_ref())?;
            daemon::run(cfg, log_json)
        }
        Cmd::Replay {
            input,
            output,
            config,
            verdicts,
        } => {
            let cfg = load_config(config.as_ref())?;
            let s = upf_lb::replay::run(&input, &output, Some(cfg), verdicts.as_deref())?;
            println!(
                "replayed {} packets: {} PFCP answered, {} through xdp_n3, {} through xdp_n6, {} skipped; {} packets written to {}",
                s.input,
                s.pfcp_answered,
                s.n3,
                s.n6,
                s.skipped,
                s.output,
                output.display()
            );
            Ok(())
        }
        Cmd::Cleanup { config } => {
            let cfg = load_config(Some(&config))?;
            let Some(st) = cfg.state else {
                bail!("{}: no [state] section: nothing is kept", config.display());
            };
            let mut n = 0;
            if let Ok(entries) = std::fs::read_dir(&st.pin_dir) {
                for e in entries.flatten() {
                    std::fs::remove_file(e.path())
                        .with_context(|| format!("removing {}", e.path().display()))?;
                    n += 1;
                }
                let _ = std::fs::remove_dir(&st.pin_dir);
            }
            if st.db.exists() {
                std::fs::remove_file(&st.db)
                    .with_context(|| format!("removing {}", st.db.display()))?;
            }
            println!(
                "removed {n} pins under {} and the store {}",
                st.pin_dir.display(),
                st.db.display()
            );
            Ok(())
        }
        Cmd::CheckConfig { config } => {
            let cfg = load_config(Some(&config))?;
            println!("{cfg:#?}");
            Ok(())
        }
        Cmd::Demo { count } => demo::run(count),
        Cmd::BenchSessions {
            sessions,
            window,
            no_persist,
            otlp,
            otlp_pairs,
        } => match otlp_pairs {
            Some(p) => upf_lb::bench_n4::otlp_pairs(sessions[0], window, !no_persist, p),
            None => upf_lb::bench_n4::run(&sessions, window, !no_persist, otlp),
        },
        Cmd::Doctor { config } => {
            use upf_lb::{kernel, southbound::verifier};
            let cfg = match &config {
                Some(p) => Some(load_config(Some(p))?),
                None => None,
            };
            println!("machine: {}", bench::machine());
            let checks = kernel::checks(cfg.as_ref());
            print!("{}", kernel::table(&checks));
            println!();
            let rows = verifier::report();
            print!("{}", verifier::table(&rows));
            let wanted = |object: &str| match (&cfg, object) {
                (None, _) | (_, "bpf-gtp") => true,
                (Some(c), "bpf-lb") => c.lb.is_some(),
                (Some(c), "bpf-srv6") => c.srv6.is_some(),
                _ => true,
            };
            let refused: Vec<_> = rows
                .iter()
                .filter(|r| r.refused.is_some() && wanted(r.object))
                .collect();
            if let Some(why) = kernel::first_failure(&checks) {
                bail!("{why}");
            }
            if let Some(r) = refused.first() {
                bail!(
                    "{} cannot run on kernel {}: the kernel refuses {} ({}); {} program(s) refused in all",
                    r.object,
                    kernel::release(),
                    r.program,
                    r.refused.as_deref().unwrap_or_default(),
                    refused.len()
                );
            }
            println!("doctor: every configured part can run on this kernel");
            Ok(())
        }
        Cmd::Verifier { logs, only } => {
            use upf_lb::southbound::verifier;
            println!("machine: {}", bench::machine());
            let rows = verifier::report_only(&only);
            print!("{}", verifier::table(&rows));
            if let Some(dir) = logs {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                for r in &rows {
                    if let Some(log) = &r.log {
                        let p = dir.join(format!("{}.{}.log", r.object, r.program));
                        std::fs::write(&p, log)
                            .with_context(|| format!("writing {}", p.display()))?;
                    }
                }
            }
            let bad: Vec<_> = rows.iter().filter(|r| !r.within_headroom()).collect();
            if !bad.is_empty() {
                bail!(
                    "{} of {} programs refused or over the headroom of {} instructions",
                    bad.len(),
                    rows.len(),
                    verifier::HEADROOM
                );
            }
            Ok(())
        }
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
        Cmd::BenchSrv6 {
            runs,
            rounds,
            frames,
        } => upf_lb::bench_srv6::run(runs, rounds, frames),
        Cmd::BenchLb {
            flows,
            runs,
            rounds,
            sctp,
            veth,
            mode,
        } => match (sctp, veth) {
            (false, false) => upf_lb::bench_lb::run(&flows, runs, rounds, &mode),
            (true, false) => upf_lb::bench_lb::run_sctp(&flows, runs, rounds),
            (false, true) => upf_lb::bench_lb::run_veth(&flows, runs, rounds),
            (true, true) => Err(anyhow::anyhow!("--sctp or --veth, not both")),
        },
        Cmd::Bench {
            sessions,
            runs,
            rounds,
            ..
        } if !sessions.is_empty() => bench::user_plane(&sessions, runs, rounds),
        Cmd::Bench {
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
                bail!("unknown fixture {fixture}; see `upf-lb fixtures`");
            }
            println!("machine: {}", bench::machine());
            println!(
                "method: BPF_PROG_TEST_RUN repeat=1 x {runs} per round, kernel bpf_stats, median of {rounds}, net of xdp_noop"
            );
            println!(
                "{:<16} {:<10} {:>10} {:>12} {:>10} {:>14}",
                "fixture", "program", "gross ns", "baseline ns", "net ns", "net pkts/s"
            );
            for f in chosen {
                let r = bench::measure(prog, noop, f, runs, rounds)?;
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
