//! The test harness of tiers 2 and 3 (see shared/STYLE.md, Tests).
//!
//! - [`run_xdp_fixtures`]: a fixture table through BPF_PROG_TEST_RUN: expected action, output
//!   bytes and counters. On a mismatch it writes input, expected and actual frames to a pcap under
//!   target/fixture-failures/ and prints a hex diff, then fails naming every bad row.
//! - [`require_root`]: tests that need root say so and fail when not root; nothing is skipped.
//! - [`tshark_fields`]: decodes a pcap with tshark, an independent dissector.
//!
//! Packets come from `upf_lb_packet`, namespaces from `upf_lb_testkit::netns`.

pub mod n4;
pub mod raw;

use aya::programs::{TestRun, TestRunOptions, Xdp};
use bpf_abi::{Counter, Reason};
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};
use upf_lb::southbound::{GtpDatapath, Srv6Datapath};
use upf_lb_testkit::fixtures::Fixture;

/// Fails the test unless it runs as root: eBPF loading and namespaces need it. Never skips.
pub fn require_root() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "this test loads eBPF programs or creates network namespaces and must run as root \
         (it fails rather than pass silently)"
    );
}

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A side-by-side hex dump of two frames, rows that differ marked with `!`.
pub fn hex_diff(expected: &[u8], actual: &[u8]) -> String {
    let mut s = String::new();
    let rows = expected.len().max(actual.len()).div_ceil(16);
    let hex = |b: &[u8], r: usize| -> String {
        (r * 16..r * 16 + 16)
            .map(|i| b.get(i).map_or("  ".to_string(), |x| format!("{x:02x}")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(s, "       {:<47}   actual", "expected");
    for r in 0..rows {
        let (e, a) = (hex(expected, r), hex(actual, r));
        let mark = if e == a { ' ' } else { '!' };
        let _ = writeln!(s, "{mark}{:04x}  {e}   {a}", r * 16);
    }
    s
}

/// A loaded eBPF object whose XDP programs the fixture tables run through.
pub trait XdpObject {
    /// A loaded program.
    fn program(&self, name: &'static str) -> &Xdp;
    /// Its outcome counters, summed over CPUs.
    fn outcome_counters(&self) -> Vec<(Reason, Counter)>;
}

impl XdpObject for GtpDatapath {
    fn program(&self, name: &'static str) -> &Xdp {
        self.xdp(name).expect("program loaded")
    }
    fn outcome_counters(&self) -> Vec<(Reason, Counter)> {
        self.counters().expect("read COUNTERS")
    }
}

impl XdpObject for Srv6Datapath {
    fn program(&self, name: &'static str) -> &Xdp {
        self.xdp(name).expect("program loaded")
    }
    fn outcome_counters(&self) -> Vec<(Reason, Counter)> {
        self.counters().expect("read COUNTERS")
    }
}

impl XdpObject for upf_lb::southbound::LbDatapath {
    fn program(&self, name: &'static str) -> &Xdp {
        self.xdp(name).expect("program loaded")
    }
    fn outcome_counters(&self) -> Vec<(Reason, Counter)> {
        self.counters().expect("read COUNTERS")
    }
}

fn counters(dp: &impl XdpObject) -> Vec<(Reason, Counter)> {
    dp.outcome_counters()
}

/// Runs every fixture through `prog` of `dp` with BPF_PROG_TEST_RUN and checks the action, the
/// output frame and that exactly the fixture's counter moved by one packet of the input's length.
/// Panics after the whole table, listing every failing row.
pub fn run_xdp_fixtures(dp: &impl XdpObject, prog: &'static str, fixtures: &[Fixture]) {
    run_xdp_fixtures_in(None, dp, prog, fixtures)
}

/// What one BPF_PROG_TEST_RUN of an XDP program did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpRun {
    /// The XDP action.
    pub action: u32,
    /// The frame it left.
    pub output: Vec<u8>,
    /// How far each outcome counter moved (packets, bytes), in reason order.
    pub counted: Vec<(Reason, u64, u64)>,
}

impl XdpRun {
    /// The reasons whose counters moved.
    pub fn reasons(&self) -> Vec<Reason> {
        self.counted
            .iter()
            .filter(|c| c.1 != 0 || c.2 != 0)
            .map(|c| c.0)
            .collect()
    }
}

/// Runs `input` once through `prog` of `dp` (inside the namespace when given, arriving on the
/// interface with the given index) and reports what it did.
pub fn run_xdp_once_in(
    ns: Option<(&upf_lb_testkit::netns::Netns, u32)>,
    dp: &impl XdpObject,
    prog: &'static str,
    input: &[u8],
) -> Result<XdpRun, String> {
    let p = dp.program(prog);
    let before = counters(dp);
    let mut out = vec![0u8; input.len() + 512];
    let ctx = upf_lb::southbound::test_run::xdp_md(input.len(), ns.map_or(0, |n| n.1));
    let mut run = || {
        p.test_run(TestRunOptions {
            data_in: Some(input),
            data_out: Some(&mut out),
            ctx_in: ns.map(|_| &ctx[..]),
            ..TestRunOptions::new()
        })
    };
    let r = match ns {
        Some((ns, _)) => ns.run(run),
        None => run(),
    }
    .map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
    out.truncate(r.data_size_out as usize);
    let after = counters(dp);
    let counted = before
        .iter()
        .zip(&after)
        .map(|((reason, b), (_, a))| (*reason, a.packets - b.packets, a.bytes - b.bytes))
        .collect();
    Ok(XdpRun {
        action: r.return_value,
        output: out,
        counted,
    })
}

/// Runs `input` through `prog` and through `reference` (as [`run_xdp_once_in`]): `Ok` with the
/// reference's run when both did the same (action, output bytes, counters), else `Err` saying
/// what each did.
pub fn run_both_in(
    ns: Option<(&upf_lb_testkit::netns::Netns, u32)>,
    dp: &impl XdpObject,
    prog: &'static str,
    reference: &'static str,
    input: &[u8],
) -> Result<XdpRun, String> {
    let want = run_xdp_once_in(ns, dp, reference, input)?;
    let got = run_xdp_once_in(ns, dp, prog, input)?;
    if got == want {
        return Ok(want);
    }
    Err(format!(
        "{prog} {} {:?} vs {reference} {} {:?}",
        got.action,
        got.reasons(),
        want.action,
        want.reasons()
    ))
}

/// As [`run_xdp_fixtures`], with each run inside the namespace when given, arriving on the
/// interface with the given index: the FIB the programs consult is then that namespace's
/// (routes and neighbours a test set up, nothing of the machine's).
pub fn run_xdp_fixtures_in(
    ns: Option<(&upf_lb_testkit::netns::Netns, u32)>,
    dp: &impl XdpObject,
    prog: &'static str,
    fixtures: &[Fixture],
) {
    let mut failures = Vec::new();
    for fx in fixtures {
        let r =
            run_xdp_once_in(ns, dp, prog, &fx.input).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        let mut why = Vec::new();
        if r.action != fx.action {
            why.push(format!("action {} (expected {})", r.action, fx.action));
        }
        if r.output != fx.output {
            let path = target_dir()
                .join("fixture-failures")
                .join(format!("{}.pcap", fx.name));
            upf_lb_packet::pcap::write_frames(&path, &[&fx.input, &fx.output, &r.output])
                .expect("write failure pcap");
            why.push(format!(
                "output differs (input, expected, actual in {}):\n{}",
                path.display(),
                hex_diff(&fx.output, &r.output)
            ));
        }
        for (reason, dp_, db) in &r.counted {
            let want = if *reason == fx.reason {
                (1, fx.input.len() as u64)
            } else {
                (0, 0)
            };
            if (*dp_, *db) != want {
                why.push(format!(
                    "counter {} moved by {dp_} pkts {db} bytes (expected {} pkts {} bytes)",
                    reason.name(),
                    want.0,
                    want.1
                ));
            }
        }
        if !why.is_empty() {
            failures.push(format!("fixture {}:\n  {}", fx.name, why.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

/// Decodes `pcap` with tshark and returns, per frame, the values of `fields` (tab-separated
/// output of `-T fields`, first occurrence of repeated fields). `opts` are extra `-o` settings.
pub fn tshark_fields(pcap: &Path, fields: &[&str], opts: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(pcap)
        .args(["-T", "fields", "-E", "occurrence=f"]);
    for o in opts {
        cmd.args(["-o", o]);
    }
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("run tshark (installed by scripts/bootstrap.sh)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The Python of the venv that scripts/bootstrap.sh made (scapy, an independent encoder and
/// decoder).
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("UPF_LB_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            Path::new(&home).join(".local/share/upf-lb-tools/venv")
        });
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} missing: run scripts/bootstrap.sh",
        py.display()
    );
    py
}

/// Runs `script` with the venv's Python and `args`; returns its stdout as `key=value` lines
/// grouped per record (records separated by a line `--`).
pub fn python_records(
    script: &str,
    args: &[&Path],
) -> Vec<std::collections::BTreeMap<String, String>> {
    let out = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut recs = vec![std::collections::BTreeMap::new()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line == "--" {
            recs.push(Default::default());
        } else if let Some((k, v)) = line.split_once('=') {
            recs.last_mut()
                .unwrap()
                .insert(k.to_string(), v.to_string());
        }
    }
    recs.retain(|r| !r.is_empty());
    recs
}

/// The shared folder of public captures (../shared/pcaps beside the checkout; CI lays a copy
/// there). Fails, rather than skips, when it is missing.
pub fn shared_pcaps() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps");
    assert!(
        p.is_dir(),
        "{} missing: the shared captures are laid beside the checkout",
        p.display()
    );
    p
}

pub use upf_lb_testkit::testbed::FibNs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_diff_marks_only_differing_rows() {
        let a: Vec<u8> = (0..40).collect();
        let mut b = a.clone();
        b[20] = 0xff;
        let d = hex_diff(&a, &b);
        let marked: Vec<_> = d.lines().filter(|l| l.starts_with('!')).collect();
        assert_eq!(marked.len(), 1);
        assert!(marked[0].starts_with("!0010"));
    }
}
