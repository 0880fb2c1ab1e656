//! The shape of the house (tier 1, no root): no file-level import circle in any crate of the
//! workspace, and no product crate that depends on the test kit, the benchmarks or the demo.
//!
//! A file's imports are every path it names that starts with `crate`, `super` or `self`, in
//! `use` trees and in code, resolved to the file that defines the module it reaches (the longest
//! module prefix). A module file's `pub use` of its own child is its public face, not an import.
//! The circles are the strongly connected components of that graph with more than one file.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};
use syn::visit::Visit;

/// The workspace root (this crate is `tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The workspace's member folders, from its Cargo.toml.
fn members() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

/// A library's module files: module path (segments below `crate`) -> file. Entry points of
/// binaries (`main.rs`, `bin/`) are crates of their own and hold no `crate::` of the library.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = vec![];
    walk(src, &mut files);
    let mut m = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        if rel == Path::new("main.rs") || rel.starts_with("bin") {
            continue;
        }
        let mut segs: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
            segs.pop();
        }
        m.insert(segs, f);
    }
    m
}

/// Collects the `crate`/`super`/`self` paths of one file as absolute module paths.
struct Refs {
    /// The module this file defines.
    file_mod: Vec<String>,
    /// Inline modules (`mod tests { .. }`) entered inside the file.
    inline: Vec<String>,
    /// Absolute paths named, each with whether it came from a `pub use`.
    paths: Vec<(Vec<String>, bool)>,
    in_pub_use: bool,
}

impl Refs {
    fn here(&self) -> Vec<String> {
        let mut h = self.file_mod.clone();
        h.extend(self.inline.iter().cloned());
        h
    }

    /// `segs` as written, made absolute; None for a path that does not start in this crate.
    fn absolute(&self, segs: &[String]) -> Option<Vec<String>> {
        let (first, rest) = segs.split_first()?;
        let mut base = match first.as_str() {
            "crate" => vec![],
            "self" => self.here(),
            "super" => {
                let mut h = self.here();
                h.pop()?;
                h
            }
            _ => return None,
        };
        let mut rest = rest;
        while let Some((s, r)) = rest.split_first() {
            if s != "super" {
                break;
            }
            base.pop()?;
            rest = r;
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn tree(&mut self, prefix: &mut Vec<String>, t: &syn::UseTree) {
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.push(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.push(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.push(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.tree(prefix, t);
                }
            }
        }
    }

    fn push(&mut self, segs: &[String]) {
        if let Some(a) = self.absolute(segs) {
            self.paths.push((a, self.in_pub_use));
        }
    }
}

impl<'a> Visit<'a> for Refs {
    fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
        self.in_pub_use = matches!(u.vis, syn::Visibility::Public(_));
        self.tree(&mut vec![], &u.tree);
        self.in_pub_use = false;
    }

    fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
        if m.content.is_some() {
            self.inline.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.inline.pop();
        }
    }

    fn visit_path(&mut self, p: &'a syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        // A lone `self` is the receiver, not a module.
        if segs.len() > 1 {
            self.push(&segs);
        }
        syn::visit::visit_path(self, p);
    }
}

/// The file-level import graph of the library under `src`: file -> files it imports.
fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mods = modules(src);
    let mut g: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (m, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut r = Refs {
            file_mod: m.clone(),
            inline: vec![],
            paths: vec![],
            in_pub_use: false,
        };
        r.visit_file(&ast);
        let edges = g.entry(file.clone()).or_default();
        for (p, public_use) in r.paths {
            let Some(target) = (0..=p.len())
                .rev()
                .find_map(|i| mods.get_key_value(&p[..i]))
            else {
                continue;
            };
            let (tm, tf) = target;
            // A module's `pub use` of its own child: the module's public face.
            let child = tm.len() == m.len() + 1 && tm.starts_with(m);
            if tf != file && !(public_use && child) {
                edges.insert(tf.clone());
            }
        }
    }
    g
}

/// Strongly connected components of more than one node (Tarjan).
fn circles(g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a PathBuf) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let l = self.low[v].min(self.low[w]);
                    self.low.insert(v, l);
                } else if self.on.contains(w) {
                    let l = self.low[v].min(self.index[w]);
                    self.low.insert(v, l);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = vec![];
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(w);
                    comp.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on: BTreeSet::new(),
        next: 0,
        out: vec![],
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

#[test]
fn no_file_level_import_circle_in_any_crate() {
    let mut found = vec![];
    let mut files = 0;
    for m in members() {
        let src = root().join(&m).join("src");
        let g = graph(&src);
        files += g.len();
        for c in circles(&g) {
            let names: Vec<_> = c
                .iter()
                .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
                .collect();
            found.push(names.join(" <-> "));
        }
    }
    assert!(files > 100, "only {files} files seen: the walk is wrong");
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The checker itself finds a circle where there is one (two sibling files, one through a
/// `use` group, one through a path in code), and none through a module's `pub use` face.
#[test]
fn the_circle_check_sees_a_circle() {
    let dir = std::env::temp_dir().join(format!("house-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sb")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod sb;\n").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::{b::{B}, sb};\npub struct A;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\nfn f() { let _ = crate::a::A; }\n",
    )
    .unwrap();
    std::fs::write(src.join("sb/mod.rs"), "pub mod x;\npub use x::X;\n").unwrap();
    std::fs::write(src.join("sb/x.rs"), "pub struct X(super::super::b::B);\n").unwrap();
    let c = circles(&graph(&src));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        c[0],
        vec![src.join("a.rs"), src.join("b.rs")],
        "the circle a <-> b, and nothing through sb's pub use"
    );
}

#[test]
fn no_product_crate_depends_on_the_kit() {
    // The product: the controller and what it is built from.
    let product = ["upf-lb", "pfcp", "packet", "bpf-abi", "bpf-net"];
    let kit = [
        "upf-lb-testkit",
        "upf-lb-bench",
        "upf-lb-demo",
        "upf-lb-tests",
    ];
    for p in product {
        let text = std::fs::read_to_string(root().join(p).join("Cargo.toml")).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        for section in ["dependencies", "build-dependencies"] {
            let Some(deps) = doc.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for k in kit {
                assert!(
                    !deps.contains_key(k),
                    "{p}/Cargo.toml [{section}] names {k}"
                );
            }
        }
    }
    // And the product's sources name the kit only in their unit tests.
    struct Kit<'a> {
        file: &'a Path,
        in_test: usize,
        bad: Vec<String>,
    }
    impl<'a> Visit<'a> for Kit<'_> {
        fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
            let test = m.attrs.iter().any(|a| {
                a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
            });
            self.in_test += usize::from(test);
            syn::visit::visit_item_mod(self, m);
            self.in_test -= usize::from(test);
        }
        fn visit_path(&mut self, p: &'a syn::Path) {
            if let Some(s) = p.segments.first()
                && s.ident.to_string().starts_with("upf_lb_")
                && s.ident != "upf_lb_packet"
                && self.in_test == 0
            {
                self.bad
                    .push(format!("{}: {}", self.file.display(), s.ident));
            }
            syn::visit::visit_path(self, p);
        }
        fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
            if let syn::UseTree::Path(p) = &u.tree
                && p.ident.to_string().starts_with("upf_lb_")
                && p.ident != "upf_lb_packet"
                && self.in_test == 0
            {
                self.bad
                    .push(format!("{}: use {}", self.file.display(), p.ident));
            }
            syn::visit::visit_item_use(self, u);
        }
    }
    let mut bad = vec![];
    for (_, f) in modules(&root().join("upf-lb/src")) {
        let ast = syn::parse_file(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let mut k = Kit {
            file: &f,
            in_test: 0,
            bad: vec![],
        };
        k.visit_file(&ast);
        bad.extend(k.bad);
    }
    assert!(bad.is_empty(), "the product names the kit: {bad:?}");
}
