//! The maps of bpf-srv6 (layouts in `bpf_abi::srv6`). The size is a placeholder: the
//! controller sets `max_entries` at load time.

use aya_ebpf::{
    macros::map,
    maps::{Array, LpmTrie, LruHashMap, PerCpuArray, ProgramArray},
};
use bpf_abi::srv6::{BenchFrame, Policy, Sid};

/// The local SID table: SID prefix to behaviour.
#[map(name = "LOCAL_SIDS")]
pub static LOCAL_SIDS: LpmTrie<[u8; 16], Sid> = LpmTrie::with_max_entries(1, 0);

/// The frame the benchmark's wrapper restores.
#[map(name = "BENCH_FRAME")]
pub static BENCH_FRAME: Array<BenchFrame> = Array::with_max_entries(1, 0);

/// The benchmark wrapper's per-CPU frame counter.
#[map(name = "BENCH_SEQ")]
pub static BENCH_SEQ: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// The program the benchmark's wrapper tail-calls.
#[map(name = "BENCH_JUMP")]
pub static BENCH_JUMP: ProgramArray = ProgramArray::with_max_entries(1, 0);

/// Headend policies by IPv4 destination.
#[map(name = "ENCAP4")]
pub static ENCAP4: LpmTrie<[u8; 4], Policy> = LpmTrie::with_max_entries(1, 0);

/// End.Limit's token buckets by rate-limit group: [tokens (bytes), last refill (ns)].
#[map(name = "SRV6_LIMIT")]
pub static SRV6_LIMIT: LruHashMap<u32, [u64; 2]> = LruHashMap::with_max_entries(1, 0);

/// Per-CPU scratch: an End.M.GTP6.D.Di policy with the packet's destination and arguments.
#[map(name = "DI_POLICY")]
pub static DI_POLICY: PerCpuArray<Policy> = PerCpuArray::with_max_entries(1, 0);

/// End.M.GTP6.D SIDs' policies by SID prefix.
#[map(name = "GTP6D")]
pub static GTP6D: LpmTrie<[u8; 16], Policy> = LpmTrie::with_max_entries(1, 0);

/// Headend policies by IPv6 destination.
#[map(name = "ENCAP6")]
pub static ENCAP6: LpmTrie<[u8; 16], Policy> = LpmTrie::with_max_entries(1, 0);

/// Tail calls of `xdp_srv6`: `xdp_srv6_icmp` (index 0), `xdp_srv6_gtp4e` (1); filled by the
/// loader.
#[map(name = "SRV6_JUMP")]
pub static SRV6_JUMP: ProgramArray = ProgramArray::with_max_entries(5, 0);

/// Hand-over to `xdp_srv6_icmp` (for `xdp_srv6_gtp4e`: [IPv6 header, upper layer, the SID's
/// argument positions, end of the packet by Payload Length]): [offset of the IPv6 header, offset of the upper layer (bit 16:
/// it is ICMPv6), kind (low byte) and Pointer (above), unused].
#[map(name = "SRV6_ICMP")]
pub static SRV6_ICMP: PerCpuArray<[u32; 4]> = PerCpuArray::with_max_entries(1, 0);

/// Tail call of `xdp_headend` to `xdp_headend_gtp4` (index 0; filled by the loader).
#[map(name = "HEADEND_JUMP")]
pub static HEADEND_JUMP: ProgramArray = ProgramArray::with_max_entries(2, 0);
