//! What the kernel's verifier spends on each of our programs, on the kernel this runs on.
//!
//! The verifier walks every path of a program, and refuses one that needs more than
//! [`COMPLEXITY_LIMIT`] instructions processed (BPF_COMPLEXITY_LIMIT_INSNS, E2BIG). How many a
//! program needs differs from kernel to kernel (pruning changes with every release), so each
//! object's programs are loaded one by one here, the way the datapaths load them, and what each
//! cost is read back from the kernel (`bpf_prog_info.verified_insns`, Linux 5.16 and newer).
//! [`HEADROOM`] is the share of the limit a program may use: a program over it is one verifier
//! release away from not loading at all. Peak states and stack depth are in the verifier's log
//! only, which [`stats`] gets from a second load of a program that loaded.

pub mod stats;

use super::{
    LoadError, MapSizes,
    lb::{LB_PROGRAMS, LbDatapath, LbSizes},
    loader::{GTP_PROGRAMS, GtpDatapath, xdp_of_mut},
    objects,
    srv6::{SRV6_PROGRAMS, Srv6Datapath},
};
use aya::{Ebpf, programs::ProgramError};

/// The verifier's limit on instructions processed for one program (BPF_COMPLEXITY_LIMIT_INSNS,
/// include/linux/bpf.h; the same since Linux 5.2).
pub const COMPLEXITY_LIMIT: u32 = 1_000_000;

/// The share of [`COMPLEXITY_LIMIT`] a program may need: half.
pub const HEADROOM: u32 = COMPLEXITY_LIMIT / 2;

/// What loading one program cost, or why the kernel refused it.
#[derive(Clone, Debug)]
pub struct ProgramCost {
    /// The object (`bpf-gtp`, `bpf-srv6`, `bpf-lb`).
    pub object: &'static str,
    /// The program's name.
    pub program: &'static str,
    /// Instructions the verifier processed (from the kernel on success, from its log on a
    /// refusal).
    pub processed: Option<u32>,
    /// The program's size after the verifier's rewrites, in instructions.
    pub insns: Option<u32>,
    /// Its JITed size, in bytes.
    pub jited_bytes: Option<u32>,
    /// Instructions processed by the second load that read the verifier's statistics
    /// ([`stats`]); equal to `processed` when both verified the same program.
    pub stats_processed: Option<u32>,
    /// Peak verifier states: from the refusal's log, or from the second load.
    pub peak_states: Option<u32>,
    /// As the log says it: one figure per function, e.g. `152+0+48`.
    pub stack_depth: Option<String>,
    /// Why the kernel refused the program (one line), or None when it loaded.
    pub refused: Option<String>,
    /// Why the second load gave no statistics, when it did not.
    pub stats_error: Option<String>,
    /// The verifier's whole log of a refusal.
    pub log: Option<String>,
}

impl ProgramCost {
    /// The share of the verifier's limit the program needed, in per cent.
    pub fn share(&self) -> Option<f64> {
        self.processed
            .map(|n| f64::from(n) * 100.0 / f64::from(COMPLEXITY_LIMIT))
    }

    /// Within [`HEADROOM`] and loaded.
    pub fn within_headroom(&self) -> bool {
        self.refused.is_none() && self.processed.is_some_and(|n| n <= HEADROOM)
    }
}

/// Loads every program of every object, each on its own (one refused does not stop the others),
/// and returns what each cost. An object that cannot be opened at all (its maps refused) gives
/// one row with the cause.
pub fn report() -> Vec<ProgramCost> {
    report_only(&[])
}

/// As [`report`], for the programs named in `only` (every program when it is empty).
pub fn report_only(only: &[String]) -> Vec<ProgramCost> {
    let mut out = Vec::new();
    type Object = (
        &'static str,
        &'static [u8],
        Result<Ebpf, LoadError>,
        &'static [&'static str],
    );
    let objects: [Object; 3] = [
        (
            "bpf-gtp",
            objects::BPF_GTP,
            GtpDatapath::open(&MapSizes::for_sessions(4096), None).map(|(e, _)| e),
            GTP_PROGRAMS,
        ),
        (
            "bpf-srv6",
            objects::BPF_SRV6,
            Srv6Datapath::open(1024),
            SRV6_PROGRAMS,
        ),
        (
            "bpf-lb",
            objects::BPF_LB,
            LbDatapath::open(LbSizes::new(64, 256, 65_536)),
            LB_PROGRAMS,
        ),
    ];
    for (object, bytes, ebpf, programs) in objects {
        let programs: Vec<&'static str> = programs
            .iter()
            .copied()
            .filter(|p| only.is_empty() || only.iter().any(|o| o == p))
            .collect();
        if programs.is_empty() {
            continue;
        }
        match ebpf {
            Ok(mut ebpf) => out.extend(verify_each(&mut ebpf, bytes, object, &programs)),
            Err(e) => out.push(ProgramCost {
                refused: Some(one_line(&e.to_string())),
                ..ProgramCost::new(object, "(object)")
            }),
        }
    }
    out
}

impl ProgramCost {
    fn new(object: &'static str, program: &'static str) -> Self {
        ProgramCost {
            object,
            program,
            processed: None,
            insns: None,
            jited_bytes: None,
            stats_processed: None,
            peak_states: None,
            stack_depth: None,
            refused: None,
            stats_error: None,
            log: None,
        }
    }
}

/// Loads each of `programs` of `ebpf` (opened from `bytes`) and reads what it cost; for each
/// that loads, its peak states and stack depth from a second load ([`stats`]).
pub fn verify_each(
    ebpf: &mut Ebpf,
    bytes: &[u8],
    object: &'static str,
    programs: &[&'static str],
) -> Vec<ProgramCost> {
    // Relocated before any program loads: the same maps, nothing taken out of `ebpf` yet.
    let relocated = stats::Relocated::new(bytes, ebpf);
    programs
        .iter()
        .map(|&program| {
            let mut c = ProgramCost::new(object, program);
            let prog = match xdp_of_mut(ebpf, program) {
                Ok(p) => p,
                Err(e) => {
                    c.refused = Some(e.to_string());
                    return c;
                }
            };
            match prog.load() {
                Ok(()) => match prog.info() {
                    Ok(info) => {
                        c.processed = info.verified_instruction_count();
                        c.insns = info.size_translated().map(|b| b / 8);
                        c.jited_bytes = Some(info.size_jitted());
                        match relocated.as_ref().map(|r| r.stats(program)) {
                            Ok(Ok(s)) => {
                                c.stats_processed = s.processed;
                                c.peak_states = s.peak_states;
                                c.stack_depth = s.stack_depth;
                            }
                            Ok(Err(e)) => c.stats_error = Some(e),
                            Err(e) => c.stats_error = Some(e.clone()),
                        }
                    }
                    Err(e) => c.refused = Some(format!("loaded, but its info: {e}")),
                },
                Err(ProgramError::LoadError {
                    io_error,
                    verifier_log,
                }) => {
                    let log = verifier_log.to_string();
                    let stats = LogStats::parse(&log);
                    c.processed = stats.processed;
                    c.peak_states = stats.peak_states;
                    c.stack_depth = stats.stack_depth;
                    c.refused = Some(format!(
                        "BPF_PROG_LOAD: {io_error}{}",
                        stats
                            .last_error
                            .map(|l| format!(" ({l})"))
                            .unwrap_or_default()
                    ));
                    c.log = Some(log);
                }
                Err(e) => c.refused = Some(one_line(&e.to_string())),
            }
            c
        })
        .collect()
}

/// The figures of a verifier log's last lines (`processed N insns (limit 1000000)
/// max_states_per_insn M total_states T peak_states P mark_read R`, `stack depth A+B`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Instructions processed.
    pub processed: Option<u32>,
    /// Peak states.
    pub peak_states: Option<u32>,
    /// Stack depth per function.
    pub stack_depth: Option<String>,
    /// The last line before the figures that says what went wrong.
    pub last_error: Option<String>,
}

impl LogStats {
    /// Reads the figures out of `log`.
    pub fn parse(log: &str) -> Self {
        let mut s = LogStats::default();
        let mut before: Option<&str> = None;
        for line in log.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("processed ") {
                let mut words = rest.split_whitespace();
                s.processed = words.next().and_then(|n| n.parse().ok());
                let words: Vec<&str> = rest.split_whitespace().collect();
                s.peak_states = words
                    .windows(2)
                    .find(|w| w[0] == "peak_states")
                    .and_then(|w| w[1].parse().ok());
                s.last_error = before.map(str::to_string);
            } else if let Some(rest) = line.strip_prefix("stack depth ") {
                s.stack_depth = Some(rest.trim().to_string());
            } else if !line.is_empty()
                && !line.starts_with(|c: char| c.is_ascii_digit())
                && !line.starts_with("verification time")
                && !line.starts_with(';')
            {
                before = Some(line);
            }
        }
        s
    }
}

/// The first line of `s`.
fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// The report as a table, one program a row, with the kernel it ran on.
pub fn table(rows: &[ProgramCost]) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<9} {:<26} {:>10} {:>7} {:>8} {:>8} {:>6} {:>12}  verdict",
        "object", "program", "processed", "share", "insns", "jited", "peak", "stack"
    );
    for r in rows {
        let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        let verdict = match (&r.refused, r.within_headroom()) {
            (Some(why), _) => format!("REFUSED: {why}"),
            (None, true) => match &r.stats_error {
                None => "ok".to_string(),
                Some(e) => format!("ok (peak and stack unknown: {e})"),
            },
            (None, false) => format!("OVER HEADROOM ({HEADROOM})"),
        };
        let _ = writeln!(
            t,
            "{:<9} {:<26} {:>10} {:>6.1}% {:>8} {:>8} {:>6} {:>12}  {}",
            r.object,
            r.program,
            opt(r.processed),
            r.share().unwrap_or(0.0),
            opt(r.insns),
            opt(r.jited_bytes),
            opt(r.peak_states),
            r.stack_depth.as_deref().unwrap_or("-"),
            verdict
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_of_a_refusal_are_read_from_its_log() {
        let log = "0: R1=ctx() R10=fp0\n; foo\n1234: (85) call bpf_loop#181\n\
                   BPF program is too large. Processed 1000001 insn\n\
                   processed 1000001 insns (limit 1000000) max_states_per_insn 38 total_states 30683 peak_states 26428 mark_read 0\n\
                   stack depth 152+0+48\n";
        let s = LogStats::parse(log);
        assert_eq!(s.processed, Some(1_000_001));
        assert_eq!(s.peak_states, Some(26_428));
        assert_eq!(s.stack_depth.as_deref(), Some("152+0+48"));
        assert_eq!(
            s.last_error.as_deref(),
            Some("BPF program is too large. Processed 1000001 insn")
        );
    }
}
