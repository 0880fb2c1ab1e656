//! Names of maps and programs as they appear in the eBPF objects, and where they are pinned.

/// The per-CPU outcome counters of every program ([`crate::counters`]).
pub const MAP_COUNTERS: &str = "COUNTERS";
/// The per-CPU forwarded-packet counters per interface and QFI ([`crate::counters::qfi_slot`]).
pub const MAP_QFI_COUNTERS: &str = "QFI_COUNTERS";

/// XDP program on the N3 (access) interface: GTP-U ingress from the gNB (TS 29.281). It
/// handles the common uplink frame itself (`bpf_net::common_gpdu`) and hands every other
/// packet to [`PROG_XDP_N3_GENERAL`].
pub const PROG_XDP_N3: &str = "xdp_n3";
/// XDP program for what `xdp_n3` does not handle itself (tail call): every GTP-U layout and
/// message (Echo, Error Indication, End Marker, G-PDUs of any header chain).
pub const PROG_XDP_N3_GENERAL: &str = "xdp_n3_general";
/// XDP program on the N6 (data network) interface: downlink to UEs, encapsulated in GTP-U. It
/// handles the common frame (untagged Ethernet, IPv4 without options or IPv6 without
/// extension headers) itself and hands every other one to [`PROG_XDP_N6_GENERAL`].
pub const PROG_XDP_N6: &str = "xdp_n6";
/// XDP program for what `xdp_n6` does not handle itself (tail call): the general parsers.
pub const PROG_XDP_N6_GENERAL: &str = "xdp_n6_general";
/// XDP program that handles a G-PDU found by `xdp_n3` (tail call): PDR detection and the
/// FAR/QER/URR of the uplink. Split from `xdp_n3` so that the verifier sees the two walks
/// (outer GTP-U extension headers, inner IPv6 extension headers) one at a time.
pub const PROG_XDP_N3_GPDU: &str = "xdp_n3_gpdu";
/// XDP program that puts a GTP-U/UDP/IPv6 outer header on a downlink packet `xdp_n6` matched
/// (tail call): split from `xdp_n6` for the verifier's budget (the outer UDP checksum sums the
/// whole packet in a bounded loop).
pub const PROG_XDP_N6_ENCAP6: &str = "xdp_n6_encap6";
/// XDP program that puts a GTP-U/UDP/IPv4 outer header on a downlink packet `xdp_n6_general`
/// matched, and forwards it (tail call): split from `xdp_n6_general` for the verifier's budget
/// (the general parsers' paths times the encapsulation and next-hop paths were 99 % of the
/// one-million-instruction limit on 6.12 and 6.18). `xdp_n6` encapsulates the common frame
/// itself.
pub const PROG_XDP_N6_ENCAP4: &str = "xdp_n6_encap4";
/// Program array of the N6 tail calls ([`JUMP_N6_ENCAP6`], [`JUMP_N6_GENERAL`],
/// [`JUMP_N6_ENCAP4`]).
pub const MAP_N6_JUMP: &str = "N6_JUMP";
/// Index of `xdp_n6_encap6` in [`MAP_N6_JUMP`].
pub const JUMP_N6_ENCAP6: u32 = 0;
/// Index of `xdp_n6_general` in [`MAP_N6_JUMP`].
pub const JUMP_N6_GENERAL: u32 = 1;
/// Index of `xdp_n6_encap4` in [`MAP_N6_JUMP`].
pub const JUMP_N6_ENCAP4: u32 = 2;
/// Entries of [`MAP_N6_JUMP`].
pub const N6_JUMP_SLOTS: u32 = 3;
/// Per-CPU scratch that `xdp_n6` fills for `xdp_n6_encap6`, and `xdp_n6_general` for
/// `xdp_n6_encap4` (`bpf_abi::gtp::N6Scratch`).
pub const MAP_N6_SCRATCH: &str = "N6_SCRATCH";

/// Program array of the N3 tail calls ([`JUMP_N3_GPDU`], [`JUMP_N3_GENERAL`]).
pub const MAP_N3_JUMP: &str = "N3_JUMP";
/// Index of `xdp_n3_gpdu` in [`MAP_N3_JUMP`].
pub const JUMP_N3_GPDU: u32 = 0;
/// Index of `xdp_n3_general` in [`MAP_N3_JUMP`].
pub const JUMP_N3_GENERAL: u32 = 1;
/// Entries of [`MAP_N3_JUMP`].
pub const N3_JUMP_SLOTS: u32 = 2;
/// Program array of one: bpf-srv6's `xdp_headend_gtp4` (H.M.GTP4.D), for FARs with
/// `FAR_SRV6` (the loader links it when the daemon runs both).
pub const MAP_GTP_SRV6: &str = "GTP_SRV6";
/// Per-CPU scratch that `xdp_n3_general` fills for `xdp_n3_gpdu` (`bpf_abi::gtp::N3Scratch`).
pub const MAP_N3_SCRATCH: &str = "N3_SCRATCH";

/// XDP program that returns XDP_PASS and touches nothing: the baseline the benchmark subtracts.
pub const PROG_XDP_NOOP: &str = "xdp_noop";

/// Root of the pinned maps, versioned by the ABI so a layout change never reuses stale pins.
pub const PIN_ROOT: &str = "/sys/fs/bpf/upf-lb/abi-v14";

const _: () = assert!(crate::ABI_VERSION == 14, "update PIN_ROOT with ABI_VERSION");
