//! Builds the eBPF objects and leaves them in OUT_DIR, where `southbound::objects` embeds them.
//!
//! The eBPF crates build with the nightly toolchain for `bpfel-unknown-none` (`-Z build-std=core`)
//! and link with bpf-linker, which generates the code. This replaces aya-build's `build_ebpf`
//! for one reason: the objects need `-C target-cpu=v3` (BPF atomic fetch and compare-exchange
//! for QER token buckets and URR counters, and 32-bit jumps), and aya-build 0.2 sets the eBPF
//! RUSTFLAGS itself with no way to add one.

use std::{env, path::PathBuf, process::Command};

/// eBPF crates and the libraries they are built from (watched for changes).
const EBPF_CRATES: &[&str] = &["bpf-gtp", "bpf-srv6", "bpf-lb"];
const LIBRARIES: &[&str] = &["bpf-net", "bpf-abi"];

/// The management API's protos, compiled with protox (no system protoc).
fn protos(dir: &std::path::Path) {
    let proto = dir.join("proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile(
        [proto.join("upf_lb.proto"), proto.join("health.proto")],
        [proto],
    )
    .unwrap_or_else(|e| panic!("compiling upf-lb/proto: {e}"));
    tonic_prost_build::configure()
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating the gRPC code: {e}"));
}

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    protos(&dir);
    let root = dir.parent().expect("workspace root").to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for c in EBPF_CRATES.iter().chain(LIBRARIES) {
        println!("cargo:rerun-if-changed={}", root.join(c).display());
    }
    println!("cargo:rerun-if-env-changed=UPF_LB_SKIP_EBPF");
    if env::var_os("UPF_LB_SKIP_EBPF").is_some() {
        // For tools that only need the host code (e.g. docs); the embedded objects are empty.
        for c in EBPF_CRATES {
            std::fs::write(out.join(c), []).expect("write placeholder");
        }
        return;
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH");
    let target_dir = out.join("ebpf-target");
    let flags = [
        format!("--cfg=bpf_target_arch=\"{arch}\""),
        "-Cdebuginfo=2".into(),
        "-Clink-arg=--btf".into(),
        "-Ctarget-cpu=v3".into(),
    ]
    .join("\x1f");
    for c in EBPF_CRATES {
        let status = Command::new("rustup")
            .args([
                "run",
                "nightly",
                "cargo",
                "build",
                "--package",
                c,
                "--bins",
                "--release",
            ])
            .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(&root)
            .env("CARGO_ENCODED_RUSTFLAGS", &flags)
            .env_remove("RUSTC")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .unwrap_or_else(|e| panic!("running cargo for {c}: {e} (is rustup on PATH?)"));
        assert!(
            status.success(),
            "building eBPF crate {c} failed (bpf-linker must be on PATH: `source scripts/env.sh`)"
        );
        let built = target_dir.join("bpfel-unknown-none/release").join(c);
        std::fs::copy(&built, out.join(c))
            .unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    }
}
