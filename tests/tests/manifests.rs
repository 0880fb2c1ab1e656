//! manifests/ (issue 19): every Kustomize overlay rendered by `kubectl kustomize`, each object
//! validated against Kubernetes' OpenAPI schemas of three minor versions (kubernetes-validate,
//! strict: unknown fields refused), the custom resources against their schemas and the objects
//! against the UPF's configuration (tests/manifests/check.py), the ConfigMap's configuration
//! parsed as `upf-lb run` / `check-config` parse it, and yamllint over the folder.

use std::{
    path::{Path, PathBuf},
    process::Command,
};
use upf_lb_tests::{target_dir, venv_python};

/// Kubernetes minor versions the manifests must validate for (kubernetes-validate's schemas).
const KUBERNETES: [&str; 3] = ["1.33.0", "1.35.0", "1.37.0"];
/// The overlays an operator applies.
const OVERLAYS: [&str; 3] = ["deployment", "daemonset", "sriov"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_bin(name: &str) -> PathBuf {
    venv_python().parent().expect("venv bin").join(name)
}

/// Runs `cmd`; its stdout and stderr together, and whether it succeeded.
fn run(cmd: &mut Command) -> (bool, String) {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let mut out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), out)
}

/// `overlay` rendered into a file of test `test`'s own (the tests run in parallel).
fn render(test: &str, overlay: &str) -> PathBuf {
    let dir = target_dir().join("manifests-tests").join(test);
    std::fs::create_dir_all(&dir).expect("test dir");
    let o = Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join("manifests/overlays").join(overlay))
        .output()
        .expect("kubectl (scripts/bootstrap.sh installs it)");
    // The objects on stdout; kubectl's deprecation notes on stderr.
    assert!(
        o.status.success(),
        "kubectl kustomize overlays/{overlay}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file = dir.join(format!("{overlay}.yaml"));
    std::fs::write(&file, &o.stdout).expect("write the rendered overlay");
    file
}

#[test]
fn every_overlay_validates_for_three_kubernetes_versions() {
    for overlay in OVERLAYS {
        let file = render("validate", overlay);
        for k in KUBERNETES {
            let (ok, out) = run(Command::new(venv_bin("kubernetes-validate"))
                .args(["--strict", "-k", k])
                .arg(&file));
            assert!(ok, "overlays/{overlay} for Kubernetes {k}:\n{out}");
            assert!(!out.contains("ERROR"), "overlays/{overlay} for {k}:\n{out}");
            // Only the two custom resources have no schema there (check.py has theirs); any
            // other kind without one would go unvalidated.
            for line in out.lines().filter(|l| l.contains("Couldn't find schema")) {
                assert!(
                    line.contains("kind NetworkAttachmentDefinition")
                        || line.contains("kind ServiceMonitor"),
                    "overlays/{overlay}, {k}: {line}"
                );
            }
        }
    }
}

#[test]
fn the_objects_agree_with_the_custom_resource_schemas_and_the_configuration() {
    let check = repo().join("tests/manifests/check.py");
    let health = upf_lb::northbound::HEALTH_SERVICES[1];
    for overlay in OVERLAYS {
        let file = render("check", overlay);
        let cfg = file.with_extension("toml");
        let (ok, out) = run(Command::new(venv_python())
            .arg(&check)
            .arg(&file)
            .arg(health)
            .arg(&cfg));
        assert!(ok, "overlays/{overlay}:\n{out}");
        // The ConfigMap's configuration is one `upf-lb run --config` accepts.
        let text = std::fs::read_to_string(&cfg).expect("the ConfigMap's upf-lb.toml");
        if let Err(e) = upf_lb::config::Config::parse(&text) {
            panic!("overlays/{overlay}: the ConfigMap's upf-lb.toml: {e}");
        }
    }
    // The SR-IOV overlay really swaps N3 and N6 for VFs, and asks the device plugin for them.
    let sriov = std::fs::read_to_string(render("check", "sriov")).expect("rendered");
    assert_eq!(sriov.matches(r#""type": "sriov""#).count(), 2, "{sriov}");
    for r in ["intel.com/sriov_n3", "intel.com/sriov_n6"] {
        // The NAD's annotation, the container's request and its limit.
        assert_eq!(sriov.matches(r).count(), 3, "{r} in:\n{sriov}");
    }
    // The checker refuses what it should: a ServiceMonitor with an unknown field and a
    // malformed interval, appended to a good rendering.
    let file = render("check", "deployment");
    let mut bad = std::fs::read_to_string(&file).expect("rendered");
    bad.push_str(
        "---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: bad\n\
         spec:\n  selector: {}\n  endpoints:\n    - port: metrics\n      interval: 15 s\n      \
         scrapeEvery: 1\n",
    );
    let bad_file = file.with_file_name("bad.yaml");
    std::fs::write(&bad_file, bad).expect("write");
    let (ok, out) = run(Command::new(venv_python())
        .arg(&check)
        .arg(&bad_file)
        .arg(health)
        .arg(bad_file.with_extension("toml")));
    assert!(!ok, "a bad ServiceMonitor passed:\n{out}");
    assert!(
        out.contains("interval") && out.contains("scrapeEvery"),
        "{out}"
    );
}

#[test]
fn the_manifests_are_yamllint_clean() {
    let (ok, out) = run(Command::new(venv_bin("yamllint"))
        .arg("--strict")
        .arg("-c")
        .arg(repo().join("manifests/.yamllint"))
        .arg(repo().join("manifests")));
    assert!(ok, "yamllint:\n{out}");
}
