//! The upf-lb command.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use upf_lb::{config::Config, daemon};

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
    /// Check a configuration file and print what it resolves to: the file with every default
    /// of its sections written in (the API token hidden), as TOML or JSON.
    CheckConfig {
        /// Configuration file.
        config: PathBuf,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Toml)]
        output: Output,
    },
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

/// `check-config`'s output format.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Output {
    /// The configuration file's own layout.
    Toml,
    /// The same keys as JSON.
    Json,
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
        Cmd::CheckConfig { config, output } => {
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("reading the configuration {}", config.display()))?;
            let (_, resolved) = Config::parse_resolved(&text)
                .with_context(|| format!("in {}", config.display()))?;
            match output {
                Output::Toml => print!("{}", resolved.to_toml()?),
                Output::Json => println!("{}", resolved.to_json()?),
            }
            Ok(())
        }
        Cmd::Doctor { config } => {
            use upf_lb::{kernel, southbound::verifier};
            let cfg = match &config {
                Some(p) => Some(load_config(Some(p))?),
                None => None,
            };
            println!("machine: {}", upf_lb::kernel::machine());
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
            println!("machine: {}", upf_lb::kernel::machine());
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
    }
}
