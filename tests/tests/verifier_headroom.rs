//! Tier 2: every program of every object loads on this kernel, and within the verifier's
//! headroom: at most half of its one-million-instruction limit (`upf-lb verifier` prints the
//! same figures). The kernel matrix of scripts/test.sh runs this on each kernel it boots.

use upf_lb::southbound::verifier::{self, COMPLEXITY_LIMIT, HEADROOM};
use upf_lb_tests::require_root;

#[test]
fn every_program_loads_within_half_the_verifier_limit() {
    require_root();
    let rows = verifier::report();
    println!("{}", verifier::table(&rows));
    assert!(
        rows.len() >= 30,
        "every object's programs: {} rows",
        rows.len()
    );
    let mut bad = Vec::new();
    for r in &rows {
        let bound = HEADROOM;
        match (&r.refused, r.processed) {
            (Some(why), _) => bad.push(format!("{} {}: refused: {why}", r.object, r.program)),
            (None, None) => bad.push(format!(
                "{} {}: the kernel reports no verified instruction count",
                r.object, r.program
            )),
            (None, Some(n)) if n > bound => bad.push(format!(
                "{} {}: {n} instructions processed, over {bound} (limit {COMPLEXITY_LIMIT})",
                r.object, r.program
            )),
            _ => {}
        }
    }
    assert!(
        bad.is_empty(),
        "on kernel {}:\n{}",
        upf_lb::kernel::release(),
        bad.join("\n")
    );
}
