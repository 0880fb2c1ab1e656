//! The maps of bpf-gtp (layouts and contracts in `bpf_abi::gtp`). Sizes here are placeholders:
//! the controller sets every `max_entries` at load time from its configuration.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruPerCpuHashMap, PerCpuArray, ProgramArray, RingBuf},
};
use bpf_abi::gtp::{
    Far, GtpConfig, MAP_F_MMAPABLE, N3Scratch, N6Scratch, Pdr, PdrList, Qer, QerState, SdfFilter,
    TeidBucket, TeidKey, TeidSlot, UE_BUCKET_SLOTS, Ue4Key, Ue6Key, UeBucket, UrrCounters,
    UrrThreshold, ue_buckets,
};
use bpf_abi::names::{N3_JUMP_SLOTS, N6_JUMP_SLOTS};

/// Tail calls of the N3 program (filled by the loader).
#[map(name = "N3_JUMP")]
pub static N3_JUMP: ProgramArray = ProgramArray::with_max_entries(N3_JUMP_SLOTS, 0);
/// bpf-srv6's H.M.GTP4.D stage, for N9 FARs realised as SRv6 (`FAR_SRV6`).
#[map(name = "GTP_SRV6")]
pub static GTP_SRV6: ProgramArray = ProgramArray::with_max_entries(1, 0);
/// Tail calls of the N6 program (filled by the loader).
#[map(name = "N6_JUMP")]
pub static N6_JUMP: ProgramArray = ProgramArray::with_max_entries(N6_JUMP_SLOTS, 0);
/// Hand-over from `xdp_n6` to `xdp_n6_encap6`.
#[map(name = "N6_SCRATCH")]
pub static N6_SCRATCH: PerCpuArray<N6Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Where `xdp_n6_general` puts the flow it parsed before PDR detection: read back from map
/// memory, its fields are unknown to the verifier on every path of the general parsers, which
/// so become one state (see bpf_net::launder). Per CPU, written and read within one run.
#[map(name = "N6_FLOW")]
pub static N6_FLOW: PerCpuArray<bpf_net::flow::Flow> = PerCpuArray::with_max_entries(1, 0);

/// Hand-over from `xdp_n3_general` to `xdp_n3_gpdu`.
#[map(name = "N3_SCRATCH")]
pub static N3_SCRATCH: PerCpuArray<N3Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Uplink lookup by local TEID.
#[map(name = "UL_TEID")]
pub static UL_TEID: HashMap<TeidKey, PdrList> = HashMap::with_max_entries(1, 0);
/// Uplink lookup by local TEID, buckets of slots (`bpf_abi::gtp::MAP_UL_TEID_TABLE`).
#[map(name = "UL_TEID_TABLE")]
pub static UL_TEID_TABLE: Array<TeidBucket> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// Buckets of `UL_TEID_TABLE` minus one (a power of two minus one), set by the loader.
#[unsafe(no_mangle)]
static UL_TEID_BUCKET_MASK: u32 = 0;

/// The bucket mask of `UL_TEID_TABLE`.
#[inline(always)]
pub fn teid_bucket_mask() -> u32 {
    // SAFETY: a plain read of a read-only global; volatile, so that the compiler does not
    // fold the build-time 0 the loader replaces.
    unsafe { core::ptr::read_volatile(&UL_TEID_BUCKET_MASK) }
}
/// Uplink lookup by direct local TEID (`bpf_abi::gtp::TEID_DIRECT`).
#[map(name = "UL_TEID_DIRECT")]
pub static UL_TEID_DIRECT: Array<TeidSlot> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// Downlink lookup by UE IPv4 address, the table's overflow.
#[map(name = "DL_UE4")]
pub static DL_UE4: HashMap<Ue4Key, PdrList> = HashMap::with_max_entries(1, 0);
/// Downlink lookup by UE IPv6 /64, the table's overflow.
#[map(name = "DL_UE6")]
pub static DL_UE6: HashMap<Ue6Key, PdrList> = HashMap::with_max_entries(1, 0);
/// Downlink lookup by UE IPv4 address, buckets of slots (`bpf_abi::gtp::MAP_DL_UE4_TABLE`).
#[map(name = "DL_UE4_TABLE")]
pub static DL_UE4_TABLE: Array<UeBucket> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// Downlink lookup by UE IPv6 /64, buckets of slots (`bpf_abi::gtp::MAP_DL_UE6_TABLE`).
#[map(name = "DL_UE6_TABLE")]
pub static DL_UE6_TABLE: Array<UeBucket> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// Buckets of `DL_UE4_TABLE` minus one, set by the loader.
#[unsafe(no_mangle)]
static DL_UE4_BUCKET_MASK: u32 = 0;
/// Buckets of `DL_UE6_TABLE` minus one, set by the loader.
#[unsafe(no_mangle)]
static DL_UE6_BUCKET_MASK: u32 = 0;

/// The downlink PDRs of the UE with table key `key` (`bpf_abi::gtp::ue4_key` / `ue6_key`):
/// in its first bucket of the UE table of its family (`v6`), then (`all`) in its second, then
/// in that family's hash map (the table's overflow, keyed by `ue4` / `ue6`). `xdp_n6` looks in
/// the first bucket only, where nearly every key is, and leaves a miss to `xdp_n6_general`:
/// the second bucket and the hash map there too took `xdp_n6` past half the verifier's limit
/// on Linux 6.1 (501 657 instructions processed). The list by value, not a pointer into the
/// map: a pointer is a different verifier state for each slot it may point at.
#[inline(always)]
pub fn ue_session(
    v6: bool,
    all: bool,
    key: [u32; 2],
    ue4: [u8; 4],
    ue6: [u8; 8],
) -> Option<PdrList> {
    // SAFETY: plain reads of read-only globals; volatile, so that the compiler does not fold
    // the build-time 0 the loader replaces.
    let mask = unsafe {
        if v6 {
            core::ptr::read_volatile(&DL_UE6_BUCKET_MASK)
        } else {
            core::ptr::read_volatile(&DL_UE4_BUCKET_MASK)
        }
    };
    let table = if v6 { &DL_UE6_TABLE } else { &DL_UE4_TABLE };
    let buckets = ue_buckets(key, mask);
    let mut n = 0;
    while n < 2 {
        if n == 1 && !all {
            return None;
        }
        if let Some(bucket) = table.get(buckets[n]) {
            let mut i = 0;
            while i < UE_BUCKET_SLOTS {
                let s = &bucket.slots[i];
                if ((s.key[0] ^ key[0]) | (s.key[1] ^ key[1])) == 0 {
                    return Some(s.list);
                }
                i += 1;
            }
        }
        n += 1;
    }
    let p = if v6 {
        DL_UE6.get_ptr(Ue6Key { prefix: ue6 })
    } else {
        DL_UE4.get_ptr(Ue4Key { addr: ue4 })
    }?;
    // SAFETY: a hash map value pointer is valid for the rest of this program run.
    Some(unsafe { *p })
}
/// PDR slots.
#[map(name = "PDRS")]
pub static PDRS: Array<Pdr> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// SDF filter slots.
#[map(name = "SDFS")]
pub static SDFS: Array<SdfFilter> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// FARs.
#[map(name = "FARS")]
pub static FARS: Array<Far> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// QER configuration.
#[map(name = "QERS")]
pub static QERS: Array<Qer> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// QER token buckets.
#[map(name = "QER_STATE")]
pub static QER_STATE: Array<QerState> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// URR counters of URRs with an event point (atomic adds).
#[map(name = "URR_COUNTERS")]
pub static URR_COUNTERS: Array<UrrCounters> = Array::with_max_entries(1, MAP_F_MMAPABLE);
/// URR counters of URRs without one, per CPU (plain adds).
#[map(name = "URR_PCPU")]
pub static URR_PCPU: PerCpuArray<UrrCounters> = PerCpuArray::with_max_entries(1, 0);

/// Events for the controller (`bpf_abi::gtp::Event`).
#[map(name = "EVENTS")]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(4096, 0);
/// Per-session limit of packets handed to userspace.
#[map(name = "BUFF_LIMIT")]
pub static BUFF_LIMIT: LruPerCpuHashMap<u32, [u64; 2]> = LruPerCpuHashMap::with_max_entries(1, 0);
/// URR thresholds.
#[map(name = "URR_THRESHOLDS")]
pub static URR_THRESHOLDS: Array<UrrThreshold> = Array::with_max_entries(1, MAP_F_MMAPABLE);

/// The UP function's own addresses (`bpf_abi::gtp::GtpConfig`), written by the controller.
#[map(name = "GTP_CONFIG")]
pub static GTP_CONFIG: Array<GtpConfig> = Array::with_max_entries(1, 0);

/// Rate limits of the messages the datapath sends (`ratelimit`): per CPU and kind, [window
/// start ns, sent in the window].
#[map(name = "REPLY_LIMIT")]
pub static REPLY_LIMIT: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(2, 0);
