//! Per-packet cost of a program on a fixture, by the kernel's own run-time statistics.
//!
//! Method (shared/FACTS.md, "Measuring per-packet cost", method b): with BPF_ENABLE_STATS on,
//! the kernel adds each program run's time to `run_time_ns` and counts it in `run_cnt`. Each
//! BPF_PROG_TEST_RUN call here runs the program once on a fresh copy of the fixture (repeat = 1),
//! so a program that rewrites the packet is measured on the path the fixture names, not on its
//! own output. A round is `runs` calls; its cost is Δrun_time_ns / Δrun_cnt. The program under
//! test and the no-op baseline alternate rounds, so both see the same machine; the figure is the
//! median of the rounds of each, and the net cost is their difference. Every call's action and
//! output bytes are checked against the fixture.

use crate::fixtures::Fixture;
use anyhow::{Context, bail, ensure};
use aya::programs::{TestRun, TestRunOptions, Xdp};

/// Outcome of one benchmark.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// Fixture name.
    pub fixture: String,
    /// Median ns per run of the program under test.
    pub gross_ns: f64,
    /// Median ns per run of the no-op baseline.
    pub baseline_ns: f64,
    /// Runs per round.
    pub runs: u32,
    /// Rounds per program.
    pub rounds: usize,
}

impl BenchResult {
    /// Cost net of the baseline.
    pub fn net_ns(&self) -> f64 {
        self.gross_ns - self.baseline_ns
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn stats(prog: &Xdp) -> anyhow::Result<(u64, u64)> {
    let info = prog.info().context("program info")?;
    Ok((info.run_time().as_nanos() as u64, info.run_count()))
}

/// Runs `prog` once on `fx.input` and checks its action and output against the fixture.
pub fn run_checked(prog: &Xdp, fx: &Fixture, out: &mut [u8]) -> anyhow::Result<()> {
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(&fx.input),
            data_out: Some(&mut *out),
            ..TestRunOptions::new()
        })
        .context("BPF_PROG_TEST_RUN")?;
    let n = r.data_size_out as usize;
    ensure!(
        r.return_value == fx.action,
        "{}: action {} != {}",
        fx.name,
        r.return_value,
        fx.action
    );
    ensure!(
        out[..n] == fx.output[..],
        "{}: output differs from the fixture",
        fx.name
    );
    Ok(())
}

fn round(prog: &Xdp, fx: &Fixture, runs: u32, out: &mut [u8], check: bool) -> anyhow::Result<f64> {
    let (t0, c0) = stats(prog)?;
    for _ in 0..runs {
        if check {
            run_checked(prog, fx, out)?;
        } else {
            prog.test_run(TestRunOptions {
                data_in: Some(&fx.input),
                data_out: Some(&mut *out),
                ..TestRunOptions::new()
            })?;
        }
    }
    let (t1, c1) = stats(prog)?;
    if c1 - c0 != u64::from(runs) {
        bail!(
            "run_cnt moved by {} for {runs} runs: is another user of the program?",
            c1 - c0
        );
    }
    Ok((t1 - t0) as f64 / f64::from(runs))
}

/// Measures `prog` on `fx` against `noop`.
pub fn measure(
    prog: &Xdp,
    noop: &Xdp,
    fx: &Fixture,
    runs: u32,
    rounds: usize,
) -> anyhow::Result<BenchResult> {
    ensure!(runs > 0 && rounds > 0, "runs and rounds must be positive");
    // Keep the statistics on while this fd lives.
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).context("BPF_ENABLE_STATS")?;
    let noop_fx = Fixture {
        action: crate::fixtures::xdp::PASS,
        output: fx.input.clone(),
        ..fx.clone()
    };
    let mut out = vec![0u8; fx.input.len().max(fx.output.len()) + 256];
    // Warm-up round of each, not counted.
    round(prog, fx, runs.min(1000), &mut out, true)?;
    round(noop, &noop_fx, runs.min(1000), &mut out, true)?;
    let (mut gross, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        gross.push(round(prog, fx, runs, &mut out, true)?);
        base.push(round(noop, &noop_fx, runs, &mut out, true)?);
    }
    Ok(BenchResult {
        fixture: fx.name.clone(),
        gross_ns: median(gross),
        baseline_ns: median(base),
        runs,
        rounds,
    })
}

/// One line describing the machine, for the report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split_once(':').map_or("", |(_, v)| v).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cpus} CPUs, kernel {}", kernel.trim())
}
