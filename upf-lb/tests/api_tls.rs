//! The management API over TLS: with `api.tls_cert` / `api.tls_key` the daemon speaks only TLS;
//! upf-lbctl with the CA that signed its certificate gets answers, and a client without TLS, or
//! one that trusts another CA, gets none.

use std::process::{Command, Output};
use upf_lb::{config::Config, daemon, southbound::GtpDatapath};
use upf_lb_testkit::topology::Topology;

fn ctl(ns: &str, args: &[&str]) -> Output {
    Command::new("nsenter")
        .arg(format!("--net=/run/netns/{ns}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_upf-lbctl"))
        .args(args)
        .env_remove("UPF_LB_TOKEN")
        .output()
        .expect("upf-lbctl")
}

#[test]
fn the_api_speaks_tls_to_clients_that_trust_its_certificate_only() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-api-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A CA and a server certificate for localhost / 127.0.0.1, made by rcgen.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &ca_issuer).unwrap();
    let other_key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::CertificateParams::new(vec![])
        .unwrap()
        .self_signed(&other_key)
        .unwrap();
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("api.crt", cert.pem()),
        ("api.key", key.serialize_pem()),
        ("other.pem", other.pem()),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let text = upf_lb::config::DEFAULT
        .replacen(
            "# tls_cert = \"/etc/upf-lb/api.crt\"",
            &format!("tls_cert = \"{}\"", dir.join("api.crt").display()),
            1,
        )
        .replacen(
            "# tls_key = \"/etc/upf-lb/api.key\"",
            &format!("tls_key = \"{}\"", dir.join("api.key").display()),
            1,
        );
    let cfg = Config::parse(&text).expect("config");
    assert!(cfg.api_tls.is_some());
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let d = daemon::spawn(&format!("/run/netns/{}", topo.upf.name()), cfg, 77).expect("daemon");
    let ns = topo.upf.name().to_string();
    let ca_path = dir.join("ca.pem").display().to_string();
    let ok = ctl(
        &ns,
        &[
            "--addr",
            "https://127.0.0.1:50051",
            "--ca",
            &ca_path,
            "--domain",
            "localhost",
            "-o",
            "json",
            "health",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let h: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(h["recovery_time_stamp"].as_u64(), Some(77));
    let plain = ctl(&ns, &["--addr", "http://127.0.0.1:50051", "health"]);
    assert!(!plain.status.success(), "plain text must be refused");
    let other_path = dir.join("other.pem").display().to_string();
    let wrong = ctl(
        &ns,
        &[
            "--addr",
            "https://127.0.0.1:50051",
            "--ca",
            &other_path,
            "--domain",
            "localhost",
            "health",
        ],
    );
    assert!(
        !wrong.status.success(),
        "an untrusted certificate must be refused"
    );
    drop(d);
    drop(topo);
    let _ = std::fs::remove_dir_all(&dir);
}
