//! The SRv6 datapath's maps (bpf-srv6): the local SID table (RFC 8986 3.3).
//!
//! Map `LOCAL_SIDS` ([`MAP_LOCAL_SIDS`]): a `BPF_MAP_TYPE_LPM_TRIE` from an IPv6 prefix (the
//! locator and function of a SID, as long as the operator made it) to the [`Sid`] bound to it.
//! The longest prefix that covers a packet's Destination Address wins. Sized at load time.

/// The local SID table.
pub const MAP_LOCAL_SIDS: &str = "LOCAL_SIDS";
/// Headend policies by IPv4 destination prefix (`BPF_MAP_TYPE_LPM_TRIE` of [`Policy`]).
pub const MAP_ENCAP4: &str = "ENCAP4";
/// Headend policies by IPv6 destination prefix (`BPF_MAP_TYPE_LPM_TRIE` of [`Policy`]).
pub const MAP_ENCAP6: &str = "ENCAP6";
/// End.Limit's token buckets (`BPF_MAP_TYPE_LRU_HASH` from the rate-limit group, u32, to
/// [tokens (bytes), last refill (ns)]).
pub const MAP_SRV6_LIMIT: &str = "SRV6_LIMIT";
/// End.M.GTP6.D SIDs' policies (`BPF_MAP_TYPE_LPM_TRIE` by SID prefix, [`Policy`] of mode
/// [`policy_mode::GTP6_D`]).
pub const MAP_GTP6D: &str = "GTP6D";
/// H.Insert's stage (tail call, index 1 of [`MAP_HEADEND_JUMP`]).
pub const PROG_XDP_HEADEND_INSERT: &str = "xdp_headend_insert";
/// End.Limit's stage (tail call, index 4 of [`MAP_SRV6_JUMP`]).
pub const PROG_XDP_SRV6_LIMIT: &str = "xdp_srv6_limit";
/// End.M.GTP6.D's stage (tail call, index 3 of [`MAP_SRV6_JUMP`]).
pub const PROG_XDP_SRV6_GTP6D: &str = "xdp_srv6_gtp6d";
/// The headend program: H.Encaps / H.Encaps.Red by destination.
pub const PROG_XDP_HEADEND: &str = "xdp_headend";
/// Segments of a headend policy at most (a power of two).
pub const MAX_SEGMENTS: usize = 8;
/// The SRv6 ingress program.
pub const PROG_XDP_SRV6: &str = "xdp_srv6";
/// The ICMPv6 errors of `xdp_srv6` (tail call, index 0 of [`MAP_SRV6_JUMP`]).
pub const PROG_XDP_SRV6_ICMP: &str = "xdp_srv6_icmp";
/// H.M.GTP4.D of `xdp_headend` (tail call, index 0 of [`MAP_HEADEND_JUMP`]).
pub const PROG_XDP_HEADEND_GTP4: &str = "xdp_headend_gtp4";
/// Program array of `xdp_headend`'s tail call.
pub const MAP_HEADEND_JUMP: &str = "HEADEND_JUMP";
/// End.M.GTP4.E of `xdp_srv6` (tail call, index 1 of [`MAP_SRV6_JUMP`]).
pub const PROG_XDP_SRV6_GTP4E: &str = "xdp_srv6_gtp4e";
/// End.M.GTP6.E's stage (tail call, index 2 of [`MAP_SRV6_JUMP`]).
pub const PROG_XDP_SRV6_GTP6E: &str = "xdp_srv6_gtp6e";
/// Program array of `xdp_srv6`'s tail calls.
pub const MAP_SRV6_JUMP: &str = "SRV6_JUMP";
/// The sink of the benchmark through veth (counts `bench_sink`, drops).
pub const PROG_XDP_SINK: &str = "xdp_sink";
/// The benchmark's wrapper in live-frames mode: restores the frame, tail-calls the dut's
/// program in [`MAP_BENCH_JUMP`].
pub const PROG_XDP_BENCH: &str = "xdp_bench";
/// The frame `xdp_bench` restores ([`BenchFrame`], one entry).
pub const MAP_BENCH_FRAME: &str = "BENCH_FRAME";
/// The program `xdp_bench` tail-calls (index 0).
pub const MAP_BENCH_JUMP: &str = "BENCH_JUMP";
/// `xdp_bench`'s per-CPU frame counter (cycling the flows).
pub const MAP_BENCH_SEQ: &str = "BENCH_SEQ";
/// Bytes of the frame `xdp_bench` restores: the headers every path under test rewrites (frames
/// are at least this long).
pub const BENCH_RESTORE_LEN: usize = 128;

/// The original frame of a live-frames benchmark: BPF_PROG_TEST_RUN reuses a page without
/// rewriting it, so the program under test would see its own output again.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BenchFrame {
    /// The first [`BENCH_RESTORE_LEN`] bytes of the frame.
    pub bytes: [u8; BENCH_RESTORE_LEN],
    /// Flows to cycle through (0 or 1: the frame as it is): frame `i` of a CPU gets the
    /// 16-bit big-endian value at `port_at` plus `i % flows` (a source port of a UDP frame
    /// with checksum 0, which needs no update).
    pub flows: u32,
    /// Offset of that port in the frame (below `BENCH_RESTORE_LEN - 1`).
    pub port_at: u32,
}

const _: () = assert!(size_of::<BenchFrame>() == BENCH_RESTORE_LEN + 8);

#[cfg(feature = "user")]
// SAFETY: repr(C), no padding (the size is asserted), any bit pattern valid.
unsafe impl aya::Pod for BenchFrame {}

/// Behaviours (RFC 8986 4), the values of [`Sid::behaviour`].
pub mod behaviour {
    /// End: the next segment (RFC 8986 4.1).
    pub const END: u32 = 1;
    /// End.X: the next segment, sent to an IPv6 next hop (4.2).
    pub const END_X: u32 = 2;
    /// End.T: the next segment, routed by a given table (4.3).
    pub const END_T: u32 = 3;
    /// End.DX6: decapsulate, cross-connect the inner IPv6 packet to a next hop (4.5).
    pub const END_DX6: u32 = 5;
    /// End.DX4: decapsulate, cross-connect the inner IPv4 packet to a next hop (4.6).
    pub const END_DX4: u32 = 6;
    /// End.DT6: decapsulate, route the inner IPv6 packet by a table (4.7).
    pub const END_DT6: u32 = 7;
    /// End.DT4: decapsulate, route the inner IPv4 packet by a table (4.8).
    pub const END_DT4: u32 = 8;
    /// End.DT46: decapsulate, route the inner IPv4 or IPv6 packet by a table (4.9).
    pub const END_DT46: u32 = 9;
    /// End.M.GTP4.E (RFC 9433 6.6): decapsulate, rebuild GTP-U/UDP/IPv4 from the SID's
    /// arguments (IPv4 DA, QFI, R, TEID) and the source address (IPv4 SA).
    pub const END_M_GTP4_E: u32 = 20;
    /// End.MAP (RFC 9433 6.2): the destination becomes the SID's mapped SID ([`Sid::nh6`]),
    /// Hop Limit one less, routed; the SRH, if any, untouched.
    pub const END_MAP: u32 = 21;
    /// End.M.GTP6.E (RFC 9433 6.5), the penultimate SID: decapsulate, rebuild
    /// GTP-U/UDP/IPv6 from the SID's arguments (QFI, R, U, TEID; [`Sid::args`] says where they
    /// start) to the last segment (SRH[0]), from [`Sid::nh6`] (the SRGW's address A).
    pub const END_M_GTP6_E: u32 = 22;
    /// End.M.GTP6.D (RFC 9433 6.3): a GTP-U/IPv6 G-PDU to the SID becomes its T-PDU in SRv6 by
    /// the SID's policy in [`MAP_GTP6D`] (source A, segments, where the arguments go).
    pub const END_M_GTP6_D: u32 = 23;
    /// End.Limit (RFC 9433 6.8): the SID's arguments carry a rate-limit group (16 bits) and
    /// a limit rate (32 bits, kbit/s), from byte [`Sid::args`] on; a limit rate of 0 means the
    /// SID's own ([`Sid::table`], kbit/s; 0: no limit). Within the group's rate, End.
    pub const END_LIMIT: u32 = 24;
}

/// Flavours (RFC 8986 4.16), bits of [`Sid::flavours`], of End, End.X and End.T, in any
/// combination.
pub mod flavour {
    /// Penultimate Segment Pop of the SRH.
    pub const PSP: u32 = 1;
    /// Ultimate Segment Pop of the SRH.
    pub const USP: u32 = 2;
    /// Ultimate Segment Decapsulation.
    pub const USD: u32 = 4;
}

/// The key of [`MAP_LOCAL_SIDS`]: the LPM trie's prefix length in bits, then the address.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SidKey {
    /// Bits of `addr` that count (0 to 128).
    pub prefix_len: u32,
    /// The SID prefix, network order.
    pub addr: [u8; 16],
}

const _: () = assert!(size_of::<SidKey>() == 20);

/// What a local SID does.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sid {
    /// One of [`behaviour`].
    pub behaviour: u32,
    /// Bits of [`flavour`].
    pub flavours: u32,
    /// End.DX4: the IPv4 next hop (L3 adjacency), network order.
    pub nh4: [u8; 4],
    /// End.M.GTP4.E: where the arguments start in the SID (bytes; the locator and function
    /// are this long) in the low byte, where the IPv4 SA starts in the IPv6 SA (bytes) in the
    /// next. Zero otherwise.
    pub args: u32,
    /// End.X / End.DX6: the IPv6 next hop; End.MAP: the mapped SID; network order.
    pub nh6: [u8; 16],
    /// End.T, End.DT4, End.DT6, End.DT46: the kernel routing table the packet is routed by
    /// (`bpf_fib_lookup` with that table, no policy rules); 0 is the main table (with rules).
    /// End.Limit: the SID's own rate (kbit/s).
    pub table: u32,
}

const _: () = assert!(size_of::<Sid>() == 36);

/// An SR policy of the headend (RFC 8986 5.1, 5.2). 8-aligned (as the kernel keeps map
/// values), so that the datapath copies it by words.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Outer source address.
    pub src: [u8; 16],
    /// The segments in the order the packet visits them (`segments[0]` is the outer
    /// destination); `count` of them are used.
    pub segments: [[u8; 16]; MAX_SEGMENTS],
    /// Segments used (1 to [`MAX_SEGMENTS`]).
    pub count: u8,
    /// 1: H.Encaps.Red (the first segment is not in the SRH; no SRH for one segment).
    pub reduced: u8,
    /// [`policy_mode::ENCAPS`] or [`policy_mode::GTP4_D`].
    pub mode: u8,
    /// H.M.GTP4.D: where the arguments start in the last segment (bytes).
    pub args_off: u8,
    /// H.M.GTP4.D: where the IPv4 SA goes in the outer IPv6 SA (bytes).
    pub src_off: u8,
    /// Reserved, zero.
    pub _pad: [u8; 3],
}

/// What a headend policy does.
pub mod policy_mode {
    /// H.Encaps / H.Encaps.Red of any IPv4 or IPv6 packet (RFC 8986 5.1, 5.2).
    pub const ENCAPS: u8 = 0;
    /// H.M.GTP4.D (RFC 9433 6.7): a GTP-U/UDP/IPv4 G-PDU loses its GTP-U, UDP and IPv4
    /// headers; its IPv4 DA, QFI, RQI and TEID become the arguments of the last segment, its
    /// IPv4 SA part of the outer IPv6 SA.
    pub const GTP4_D: u8 = 1;
    /// End.M.GTP6.D's policy (RFC 9433 6.3): a GTP-U/UDP/IPv6 G-PDU loses those headers; its
    /// QFI, RQI and TEID (Args.Mob.Session, 5 bytes) become the arguments of the last segment.
    pub const GTP6_D: u8 = 2;
    /// End.M.GTP6.D.Di's policy (RFC 9433 6.4, drop-in mode): as [`GTP6_D`], the G-PDU's
    /// original destination kept as the last segment (Segment List[0]) and Args.Mob.Session
    /// in the segment before it (an End.M.GTP6.E SID, which rebuilds GTP-U to that address).
    pub const GTP6_D_DI: u8 = 4;
    /// H.Insert / H.Insert.Red (draft-ietf-spring-srv6-srh-insertion): an IPv6 packet gets an
    /// SRH of its own, no new IPv6 header; its destination becomes the last segment
    /// (Segment List[0]), the first segment its destination.
    pub const INSERT: u8 = 3;
}

/// Args.Mob.Session (RFC 9433 6.1) after the IPv4 DA in a GTP4 SID: QFI (6 bits), R (1), U
/// (1), then the TEID (32 bits): 5 bytes; with the IPv4 DA, 9 bytes of arguments.
pub const GTP4_ARGS_LEN: usize = 9;

const _: () = assert!(size_of::<Policy>() == 16 + 16 * MAX_SEGMENTS + 8);
const _: () = assert!(MAX_SEGMENTS.is_power_of_two());

#[cfg(feature = "user")]
// SAFETY: SidKey is repr(C, packed) of plain integers and bytes: no padding, any bit pattern.
unsafe impl aya::Pod for SidKey {}
#[cfg(feature = "user")]
// SAFETY: Policy is repr(C) of byte arrays and bytes with explicit padding (asserted size),
// valid for any bit pattern.
unsafe impl aya::Pod for Policy {}
#[cfg(feature = "user")]
// SAFETY: Sid is repr(C), its fields plain integers and bytes with explicit padding (asserted
// size), valid for any bit pattern.
unsafe impl aya::Pod for Sid {}
