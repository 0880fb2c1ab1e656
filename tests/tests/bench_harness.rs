//! The benchmark harness measures the path its fixture names: it refuses a fixture whose
//! expected output the program does not produce, and reports a cost above the no-op baseline.
//! (Figures are printed by `upf-lb-bench gtp`; nothing here bounds a time.)

use bpf_abi::names;
use upf_lb::southbound::GtpDatapath;
use upf_lb_bench::gtp;
use upf_lb_testkit::fixtures;
use upf_lb_tests::require_root;

#[test]
fn bench_checks_every_run_against_the_fixture() {
    require_root();
    let dp = GtpDatapath::load().expect("load bpf-gtp");
    let prog = dp.xdp(names::PROG_XDP_N3).unwrap();
    let noop = dp.xdp(names::PROG_XDP_NOOP).unwrap();
    let fx = fixtures::bench_fixtures()
        .into_iter()
        .find(|f| f.name == "echo-ipv4")
        .unwrap();
    let r = gtp::measure(prog, noop, &fx, 200, 3).expect("measure");
    assert!(r.gross_ns.is_finite() && r.baseline_ns.is_finite());
    assert!(r.gross_ns > 0.0 && r.baseline_ns > 0.0, "{r:?}");

    let mut wrong = fx.clone();
    let last = wrong.output.len() - 1;
    wrong.output[last] ^= 0xff;
    let e = gtp::measure(prog, noop, &wrong, 10, 1).expect_err("a wrong output is refused");
    assert!(e.to_string().contains("output differs"), "{e}");
}
