//! The documents hold (tier 1, no root): every command README.md, ARCHITECTURE.md and docs/
//! name for `upf-lb` and `upf-lbctl` exists with its flags, every other command names a
//! binary, script, package, test or installed tool (kubectl; skopeo, podman, buildah from
//! scripts/image.sh) that exists, and
//! docs/configuration.md lists exactly the keys the configuration parser takes, table by table. (upf-lb-bench's and upf-lb-demo's
//! commands are checked in their own packages.)

use std::{collections::BTreeSet, path::Path};
use upf_lb_testkit::docs;

#[test]
fn every_documented_upf_lb_and_upf_lbctl_command_exists() {
    for (bin, exe) in [
        ("upf-lb", env!("CARGO_BIN_EXE_upf-lb")),
        ("upf-lbctl", env!("CARGO_BIN_EXE_upf-lbctl")),
    ] {
        let (bad, n) = docs::check_commands(bin, Path::new(exe));
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert!(n >= 5, "only {n} documented commands of {bin}");
    }
}

/// The workspace's packages: name -> folder.
fn packages() -> std::collections::BTreeMap<String, std::path::PathBuf> {
    let root = docs::root();
    let ws: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    ws["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let dir = root.join(m.as_str().unwrap());
            let t: toml::Table =
                toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
            (t["package"]["name"].as_str().unwrap().to_string(), dir)
        })
        .collect()
}

#[test]
fn every_documented_command_names_something_that_exists() {
    let bins = ["upf-lb", "upf-lbctl", "upf-lb-bench", "upf-lb-demo"];
    let pkgs = packages();
    let mut bad = vec![];
    let all = docs::commands();
    for c in &all {
        let p = c.program.as_str();
        if bins.contains(&p) {
            continue;
        }
        if let Some(s) = p.strip_prefix("scripts/") {
            if !docs::root().join("scripts").join(s).is_file() {
                bad.push(format!("{}: no script {p}", c.at));
            }
            continue;
        }
        // Tools of other projects a document may show, each one scripts/bootstrap.sh
        // installs (so it is on PATH here).
        // Those scripts/image.sh installs itself (it is not run by the test command).
        if ["skopeo", "podman", "buildah"].contains(&p) {
            let script = std::fs::read_to_string(docs::root().join("scripts/image.sh"))
                .expect("scripts/image.sh");
            if !script.contains(p) {
                bad.push(format!(
                    "{}: {p}: scripts/image.sh does not install it",
                    c.at
                ));
            }
            continue;
        }
        if p == "kubectl" {
            let found = std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()));
            if !found {
                bad.push(format!(
                    "{}: {p} is not on PATH (scripts/bootstrap.sh)",
                    c.at
                ));
            }
            continue;
        }
        if p != "cargo" {
            bad.push(format!("{}: {p} is none of upf-lb's programs", c.at));
            continue;
        }
        let a = &c.args;
        let after = |flag: &str| a.iter().position(|x| x == flag).and_then(|i| a.get(i + 1));
        match a.first().map(String::as_str) {
            Some("run" | "build" | "bench" | "test") => {}
            other => bad.push(format!("{}: cargo {other:?} is not a documented use", c.at)),
        }
        match after("-p") {
            Some(pkg) if pkgs.contains_key(pkg) => {
                if a[0] == "run" && !bins.contains(&pkg.as_str()) {
                    bad.push(format!(
                        "{}: cargo run -p {pkg}: not one of the binaries",
                        c.at
                    ));
                }
                if let Some(t) = after("--test") {
                    let f = pkgs[pkg].join("tests").join(format!("{t}.rs"));
                    if !f.is_file() {
                        bad.push(format!("{}: {pkg} has no test {t}", c.at));
                    }
                }
            }
            Some(pkg) => bad.push(format!("{}: no package {pkg}", c.at)),
            None => bad.push(format!("{}: cargo without -p PACKAGE", c.at)),
        }
    }
    assert!(
        all.len() > 20,
        "only {} commands found: the reader is wrong",
        all.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn docs_configuration_lists_exactly_the_keys_the_parser_takes() {
    let (keys, arrays) = docs::config_keys();
    for table in [
        "node",
        "n3",
        "n6",
        "n4",
        "ue_pool",
        "lb",
        "lb.service",
        "srv6.sid",
    ] {
        assert!(
            keys.contains_key(table),
            "docs/configuration.md has no [{table}]"
        );
    }
    let mut bad = vec![];
    for (table, documented) in &keys {
        let probe = docs::probe(table, &arrays);
        let why = match upf_lb::config::Config::parse(&probe) {
            Err(e) => e.why,
            Ok(_) => panic!("{probe} parsed"),
        };
        let Some(taken) = docs::expected_fields(&why) else {
            bad.push(format!(
                "[{table}]: the parser does not know this table ({why})"
            ));
            continue;
        };
        let missing: BTreeSet<_> = taken.difference(documented).collect();
        let gone: BTreeSet<_> = documented.difference(&taken).collect();
        if !missing.is_empty() {
            bad.push(format!("[{table}]: keys not documented: {missing:?}"));
        }
        if !gone.is_empty() {
            bad.push(format!(
                "[{table}]: documented keys the parser does not take: {gone:?}"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The reader and the checker see a removed subcommand, a removed flag and a removed key.
#[test]
fn the_checks_catch_what_is_gone() {
    let exe = Path::new(env!("CARGO_BIN_EXE_upf-lb"));
    let t = std::env::temp_dir().join(format!("docs-check-{}", std::process::id()));
    std::fs::create_dir_all(&t).unwrap();
    // A fake upf-lb whose documented subcommand is missing: its help lacks `check-config`.
    let fake = t.join("upf-lb");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$1\" = --help ]; then printf 'Commands:\\n  run  Run\\n'; exit 0; fi\n\
         if [ \"$1\" = run ]; then printf 'Options:\\n  --config <CONFIG>\\n'; exit 0; fi\nexit 2\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (bad, _) = docs::check_commands("upf-lb", &fake);
    let _ = std::fs::remove_dir_all(&t);
    assert!(bad.iter().any(|b| b.contains("check-config")), "{bad:?}");
    assert!(bad.iter().any(|b| b.contains("--log-json")), "{bad:?}");
    // The real one has them all.
    assert!(docs::check_commands("upf-lb", exe).0.is_empty());
    // A key the parser does not take is refused with the list of those it does.
    let why = upf_lb::config::Config::parse(&docs::probe("n4", &Default::default()))
        .unwrap_err()
        .why;
    let taken = docs::expected_fields(&why).expect(&why);
    assert!(
        taken.contains("t1_ms") && !taken.contains("no_such_key_anywhere"),
        "{taken:?}"
    );
}
