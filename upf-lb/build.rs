//! Builds the eBPF objects (bpfel-unknown-none, nightly, bpf-linker) and leaves them in OUT_DIR,
//! where `southbound::objects` embeds them.

fn main() -> anyhow::Result<()> {
    let dir = env!("CARGO_MANIFEST_DIR");
    // aya-build watches the eBPF crate itself; the libraries it is built from are watched here.
    for lib in ["bpf-net", "bpf-abi"] {
        println!("cargo:rerun-if-changed={dir}/../{lib}");
    }
    let root = format!("{dir}/../bpf-gtp");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "bpf-gtp",
            root_dir: &root,
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    )
}
