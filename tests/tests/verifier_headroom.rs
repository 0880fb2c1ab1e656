//! Tier 2: every program of every object loads on this kernel, and within the verifier's
//! headroom: at most half of its one-million-instruction limit (`upf-lb verifier` prints the
//! same figures), and each one's peak verifier states and stack depth are known. The kernel
//! matrix of scripts/test.sh runs this on each kernel it boots.

use std::sync::OnceLock;

use upf_lb::southbound::verifier::{self, COMPLEXITY_LIMIT, HEADROOM, ProgramCost};
use upf_lb_tests::require_root;

/// Every program loaded once for both tests (a load under emulation takes minutes).
fn rows() -> &'static [ProgramCost] {
    static ROWS: OnceLock<Vec<ProgramCost>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let rows = verifier::report();
        println!("{}", verifier::table(&rows));
        rows
    })
}

fn check(what: impl Fn(&ProgramCost) -> Option<String>) {
    require_root();
    let rows = rows();
    assert!(
        rows.len() >= 30,
        "every object's programs: {} rows",
        rows.len()
    );
    let bad: Vec<String> = rows.iter().filter_map(what).collect();
    assert!(
        bad.is_empty(),
        "on kernel {}:\n{}",
        upf_lb::kernel::release(),
        bad.join("\n")
    );
}

#[test]
fn every_program_loads() {
    check(|r| match (&r.refused, r.processed) {
        (Some(why), _) => Some(format!("{} {}: refused: {why}", r.object, r.program)),
        (None, None) => Some(format!(
            "{} {}: the kernel reports no verified instruction count",
            r.object, r.program
        )),
        _ => None,
    });
}

#[test]
fn every_program_within_half_the_verifier_limit() {
    check(|r| match r.processed {
        Some(n) if n > HEADROOM => Some(format!(
            "{} {}: {n} instructions processed, over {HEADROOM} (limit {COMPLEXITY_LIMIT})",
            r.object, r.program
        )),
        None if r.refused.is_none() => Some(format!(
            "{} {}: no verified instruction count",
            r.object, r.program
        )),
        None => Some(format!("{} {}: refused", r.object, r.program)),
        _ => None,
    });
}

/// The second load that reads peak states and stack depth (verifier/stats.rs) verified the
/// same program as the datapath's load: the same instruction count, and both figures read.
#[test]
fn every_loaded_program_has_its_peak_states_and_stack_depth() {
    check(|r| {
        if r.refused.is_some() {
            return None;
        }
        let who = format!("{} {}", r.object, r.program);
        if let Some(e) = &r.stats_error {
            return Some(format!("{who}: no statistics: {e}"));
        }
        if r.stats_processed != r.processed {
            return Some(format!(
                "{who}: the statistics' load processed {:?} instructions, the datapath's {:?}",
                r.stats_processed, r.processed
            ));
        }
        match (r.peak_states, &r.stack_depth) {
            (Some(_), Some(d)) if !d.is_empty() => None,
            _ => Some(format!(
                "{who}: peak states {:?}, stack depth {:?}",
                r.peak_states, r.stack_depth
            )),
        }
    });
}
