//! Builds the eBPF objects (bpfel-unknown-none, nightly, bpf-linker) and leaves them in OUT_DIR,
//! where `southbound::objects` embeds them.

fn main() -> anyhow::Result<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../bpf-gtp");
    aya_build::build_ebpf(
        [aya_build::Package { name: "bpf-gtp", root_dir: root, ..Default::default() }],
        aya_build::Toolchain::Nightly,
    )
}
