//! The documentation checked against what it documents: every command in a ```sh block of
//! README.md, ARCHITECTURE.md and docs/*.md, and every key docs/configuration.md lists.
//!
//! A command line is `PROGRAM ARGS... [# comment]`, PROGRAM one of upf-lb's binaries (bare or
//! as `./target/{debug,release}/NAME`, or `cargo run [--release] -p PACKAGE -- ...`), a
//! `scripts/` file, or `cargo build|bench|test -p PACKAGE`. A binary's command is checked by
//! running it with `--help` (its subcommand's help when it names one): the subcommand and every
//! `--flag` of the line must be there. Each binary's own package runs the check for it
//! (`CARGO_BIN_EXE_*` exists only there); upf-lb's checks the rest and that nothing is left over.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ sits in the workspace")
        .to_path_buf()
}

/// The documents: README.md, ARCHITECTURE.md, docs/*.md.
pub fn documents() -> Vec<PathBuf> {
    let r = root();
    let mut v = vec![r.join("README.md"), r.join("ARCHITECTURE.md")];
    let mut docs: Vec<_> = std::fs::read_dir(r.join("docs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    v.extend(docs);
    v
}

/// One documented command.
#[derive(Clone, Debug)]
pub struct DocCommand {
    /// `FILE:LINE`.
    pub at: String,
    /// What runs: a binary's name, `scripts/NAME`, or `cargo`.
    pub program: String,
    /// The rest of the line, split at white space (quotes kept together).
    pub args: Vec<String>,
}

/// Splits at white space, keeping a '...' or "..." together (without its quotes).
fn words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Every command of every document.
pub fn commands() -> Vec<DocCommand> {
    let mut out = vec![];
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        let mut in_sh = false;
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_sh = !in_sh && line.trim() == "```sh";
                continue;
            }
            if !in_sh {
                continue;
            }
            let code = match line.find(" #") {
                Some(k) => &line[..k],
                None => line,
            };
            let mut w = words(code.trim());
            if w.is_empty() || w[0].starts_with('#') {
                continue;
            }
            let first = w.remove(0);
            let program = match first.as_str() {
                "bash" | "sudo" if !w.is_empty() => w.remove(0),
                _ => first,
            };
            let program = program
                .strip_prefix("./target/release/")
                .or_else(|| program.strip_prefix("./target/debug/"))
                .unwrap_or(&program)
                .to_string();
            out.push(DocCommand {
                at: format!("{name}:{}", i + 1),
                program,
                args: w,
            });
        }
    }
    out
}

/// The binary a `cargo run -p PACKAGE -- ARGS` line runs, and its arguments.
fn cargo_run(c: &DocCommand) -> Option<(String, Vec<String>)> {
    if c.program != "cargo" || c.args.first().map(String::as_str) != Some("run") {
        return None;
    }
    let p = c.args.iter().position(|a| a == "-p")?;
    let dash = c.args.iter().position(|a| a == "--")?;
    Some((c.args[p + 1].clone(), c.args[dash + 1..].to_vec()))
}

/// Every command that runs the binary `bin`, as (where, arguments).
pub fn commands_of(bin: &str) -> Vec<(String, Vec<String>)> {
    commands()
        .into_iter()
        .filter_map(|c| match cargo_run(&c) {
            Some((pkg, args)) if pkg == bin => Some((c.at, args)),
            Some(_) => None,
            None if c.program == bin => Some((c.at, c.args)),
            None => None,
        })
        .collect()
}

fn help(exe: &Path, sub: Option<&str>) -> Result<String, String> {
    let out = Command::new(exe)
        .args(sub)
        .arg("--help")
        .output()
        .map_err(|e| format!("running {exe:?}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The subcommands a clap help text lists under "Commands:".
fn subcommands(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect()
}

/// Checks every documented command of `bin` against the binary `exe`; the problems, one line
/// each, and how many commands were checked.
pub fn check_commands(bin: &str, exe: &Path) -> (Vec<String>, usize) {
    let mut bad = vec![];
    let top = match help(exe, None) {
        Ok(h) => h,
        Err(e) => return (vec![format!("{bin} --help: {e}")], 0),
    };
    let subs = subcommands(&top);
    let list = commands_of(bin);
    for (at, args) in &list {
        let sub = args.iter().find(|a| subs.contains(*a));
        if !subs.is_empty() && sub.is_none() {
            bad.push(format!(
                "{at}: `{bin} {}` names no subcommand of {bin} ({subs:?})",
                args.join(" ")
            ));
            continue;
        }
        let split = sub
            .and_then(|s| args.iter().position(|a| a == s))
            .unwrap_or(0);
        let sub_help = match sub {
            Some(s) => match help(exe, Some(s)) {
                Ok(h) => h,
                Err(e) => {
                    bad.push(format!("{at}: {bin} {s} --help: {e}"));
                    continue;
                }
            },
            None => top.clone(),
        };
        for (k, a) in args.iter().enumerate() {
            let Some(flag) = a.strip_prefix('-') else {
                continue;
            };
            if flag.is_empty() || a == "--" {
                continue;
            }
            let flag = format!("-{}", flag.split('=').next().unwrap());
            let h = if sub.is_some() && k < split {
                &top
            } else {
                &sub_help
            };
            let known = h
                .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
                .any(|w| w == flag);
            if !known {
                bad.push(format!(
                    "{at}: `{bin} {}`: {bin} knows no {flag} there",
                    args.join(" ")
                ));
            }
        }
    }
    (bad, list.len())
}

/// docs/configuration.md's keys: table path (`n4`, `lb.service`) -> keys, and the paths
/// documented as arrays of tables (`[[...]]`).
pub fn config_keys() -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let text = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut arrays = BTreeSet::new();
    let mut section: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            let h = h.trim();
            section = if let Some(p) = h.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
                arrays.insert(p.to_string());
                Some(p.to_string())
            } else {
                h.strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .map(str::to_string)
            };
            if let Some(s) = &section {
                keys.entry(s.clone()).or_default();
            }
            continue;
        }
        let (Some(s), Some(row)) = (&section, line.strip_prefix("| `")) else {
            continue;
        };
        if let Some((k, _)) = row.split_once('`') {
            keys.get_mut(s).unwrap().insert(k.to_string());
        }
    }
    (keys, arrays)
}

/// A file that opens table `path` (its parents that are arrays of tables first) and gives it
/// one key no table has: the parser's refusal lists the keys the table takes.
pub fn probe(path: &str, arrays: &BTreeSet<String>) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut t = String::new();
    for n in 1..=parts.len() {
        let p = parts[..n].join(".");
        if arrays.contains(&p) {
            t.push_str(&format!("[[{p}]]\n"));
        } else if n == parts.len() {
            t.push_str(&format!("[{p}]\n"));
        }
    }
    t.push_str("no_such_key_anywhere = 1\n");
    t
}

/// The keys serde says a table takes, from its "unknown field" message.
pub fn expected_fields(message: &str) -> Option<BTreeSet<String>> {
    let (_, rest) = message.split_once("unknown field `no_such_key_anywhere`, expected ")?;
    let rest = rest.lines().next().unwrap_or(rest);
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}
