//! Names of maps and programs as they appear in the eBPF objects, and where they are pinned.

/// The per-CPU outcome counters of every program ([`crate::counters`]).
pub const MAP_COUNTERS: &str = "COUNTERS";

/// XDP program on the N3 (access) interface: GTP-U ingress from the gNB (TS 29.281).
pub const PROG_XDP_N3: &str = "xdp_n3";
/// XDP program that returns XDP_PASS and touches nothing: the baseline the benchmark subtracts.
pub const PROG_XDP_NOOP: &str = "xdp_noop";

/// Root of the pinned maps, versioned by the ABI so a layout change never reuses stale pins.
pub const PIN_ROOT: &str = "/sys/fs/bpf/upf-lb/abi-v1";

const _: () = assert!(crate::ABI_VERSION == 1, "update PIN_ROOT with ABI_VERSION");
