//! The documents hold (tier 1, no root): every command README.md, ARCHITECTURE.md and docs/
//! name for `upf-lb-demo` exists with its flags (upf-lb/tests/docs.rs checks the rest).

#[test]
fn every_documented_demo_command_exists() {
    let (bad, n) = upf_lb_testkit::docs::check_commands(
        "upf-lb-demo",
        std::path::Path::new(env!("CARGO_BIN_EXE_upf-lb-demo")),
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(n >= 1, "no documented command of upf-lb-demo");
}
