//! `upf-lb check-config` (tier 1, no root): the file it prints is TOML the daemon reads again,
//! or JSON with `-o json`; a bad file fails with the field named.

use std::process::Command;

fn check_config(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_upf-lb"))
        .arg("check-config")
        .args(args)
        .output()
        .expect("run upf-lb check-config")
}

fn example() -> String {
    format!("{}/../config/upf-lb.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn prints_the_resolved_file_as_toml_and_as_json() {
    let toml = check_config(&[&example()]);
    assert!(toml.status.success(), "{toml:?}");
    let text = String::from_utf8(toml.stdout).unwrap();
    let again = upf_lb::config::Config::parse(&text).expect("the printed file parses");
    assert_eq!(again, upf_lb::config::Config::default_embedded());
    assert!(text.contains("t1_ms = 3000"), "{text}");

    let json = check_config(&["-o", "json", &example()]);
    assert!(json.status.success(), "{json:?}");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["n4"]["response_cache"], 4096);
    assert_eq!(v["node"]["node_id"], "192.0.2.2");
}

#[test]
fn a_bad_file_fails_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replacen("t1_ms = 3000", "t1_ms = 5", 1);
    std::fs::write(&bad, text).unwrap();
    let out = check_config(&[bad.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("n4.t1_ms"), "{err}");
}
