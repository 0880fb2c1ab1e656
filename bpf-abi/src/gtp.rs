//! Maps of the GTP-U user plane (bpf-gtp), written by the controller's southbound module and read
//! by the datapath (TS 29.244 5.2: PDR, FAR, QER, URR).
//!
//! Lookup is two-level so that a session's rules change atomically: a key (local TEID for
//! uplink, UE address for downlink) maps to a [`PdrList`] naming a run of slots in [`MAP_PDRS`];
//! the controller writes a new run into free slots, then swaps the list in one map update, then
//! frees the old run. PDRs point at FARs, QERs, URRs and SDF filters by array index. All sizes are
//! set at load time from configuration (`max_entries`), never at build time.

use crate::wire::{Be16, Be32};

/// Uplink lookup: local TEID -> [`PdrList`]. Hash map, key [`TeidKey`]: the overflow of
/// [`MAP_UL_TEID_TABLE`], for a TEID whose two buckets there are full. Written by the
/// controller per session; read by `xdp_n3` and `xdp_n3_general` after both buckets.
pub const MAP_UL_TEID: &str = "UL_TEID";
/// Uplink lookup for local TEIDs that are not direct (TEIDs an SMF chose): an array of
/// [`TeidBucket`]s, a power of two of them, at most half full by the controller's sizing. A
/// TEID lives in a free slot of one of its two buckets ([`teid_buckets`]; the first has room
/// nearly always), else in [`MAP_UL_TEID`]. Written by the controller per session (the
/// southbound's `set_teid_bucket`); read by `xdp_n3` and `xdp_n3_general`, which compare the
/// four slots of each bucket: an inlined array access and a hash of a few instructions
/// instead of the kernel's hash-map lookup (about a tenth of the uplink's time).
pub const MAP_UL_TEID_TABLE: &str = "UL_TEID_TABLE";
/// Slots per [`TeidBucket`] (one cache line).
pub const TEID_BUCKET_SLOTS: usize = 4;
/// The read-only global of bpf-gtp holding the bucket count of [`MAP_UL_TEID_TABLE`] minus
/// one, set by the loader.
pub const GLOBAL_UL_TEID_BUCKET_MASK: &str = "UL_TEID_BUCKET_MASK";

/// A bucket of [`MAP_UL_TEID_TABLE`]: slots with `teid == 0` are free.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TeidBucket {
    /// The slots.
    pub slots: [TeidSlot; TEID_BUCKET_SLOTS],
}

/// MurmurHash3's 32-bit finaliser: every input bit moves every output bit.
#[inline(always)]
const fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The two buckets of `teid` in a [`MAP_UL_TEID_TABLE`] of `mask + 1` buckets (a power of
/// two); they may be the same.
#[inline(always)]
pub const fn teid_buckets(teid: u32, mask: u32) -> [u32; 2] {
    [fmix32(teid) & mask, fmix32(teid ^ 0x5bd1_e995) & mask]
}

/// Buckets of a bucket table ([`MAP_UL_TEID_TABLE`], [`MAP_DL_UE4_TABLE`],
/// [`MAP_DL_UE6_TABLE`]: four slots a bucket) for `keys` keys: a power of two with twice the
/// slots.
pub const fn table_buckets(keys: u32) -> u32 {
    let b = keys.div_ceil(TEID_BUCKET_SLOTS as u32 / 2);
    if b <= 1 { 1 } else { b.next_power_of_two() }
}
/// Uplink lookup for direct TEIDs (see [`TEID_DIRECT`]): array of [`TeidSlot`] indexed by
/// `teid & !TEID_DIRECT`. An array index costs no hashing helper: the kernel's hash lookup
/// was about a third of the uplink's time.
pub const MAP_UL_TEID_DIRECT: &str = "UL_TEID_DIRECT";
/// A local TEID with this bit set whose index (`teid & !TEID_DIRECT`) is below the size of
/// [`MAP_UL_TEID_DIRECT`] lives in that array, every other TEID in [`MAP_UL_TEID`]. The UP
/// function allocates the F-TEIDs it chooses (TS 29.244 5.5.3, CHOOSE) this way; TEIDs an SMF
/// chose work either way.
pub const TEID_DIRECT: u32 = 0x8000_0000;

/// Value of [`MAP_UL_TEID_DIRECT`] (`teid == 0`: empty; TEID 0 never carries a G-PDU).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TeidSlot {
    /// The TEID this slot holds (host order), checked against the packet's.
    pub teid: u32,
    /// Padding.
    pub _pad: u32,
    /// The session's uplink PDRs.
    pub list: PdrList,
}
/// Downlink lookup, overflow: UE IPv4 address -> [`PdrList`], for an address whose two
/// buckets of [`MAP_DL_UE4_TABLE`] are full. Hash map, key [`Ue4Key`].
pub const MAP_DL_UE4: &str = "DL_UE4";
/// Downlink lookup, overflow: UE IPv6 /64 prefix -> [`PdrList`], for a prefix whose two
/// buckets of [`MAP_DL_UE6_TABLE`] are full. Hash map, key [`Ue6Key`].
pub const MAP_DL_UE6: &str = "DL_UE6";
/// Downlink lookup by UE IPv4 address: an array of [`UeBucket`]s, a power of two of them, at
/// most half full by the controller's sizing; an address lives in a free slot of one of its two
/// buckets ([`ue_buckets`] of [`ue4_key`]), else in [`MAP_DL_UE4`]. The same scheme as
/// [`MAP_UL_TEID_TABLE`], for the same reason: an inlined array access and a compare instead
/// of the kernel's hash lookup, which was 24-29 % of the downlink's time (AMD EPYC, 6.18).
pub const MAP_DL_UE4_TABLE: &str = "DL_UE4_TABLE";
/// Downlink lookup by UE IPv6 /64 prefix ([`ue6_key`]), as [`MAP_DL_UE4_TABLE`]; overflow in
/// [`MAP_DL_UE6`].
pub const MAP_DL_UE6_TABLE: &str = "DL_UE6_TABLE";
/// The read-only global of bpf-gtp holding the bucket count of [`MAP_DL_UE4_TABLE`] minus one.
pub const GLOBAL_DL_UE4_BUCKET_MASK: &str = "DL_UE4_BUCKET_MASK";
/// The read-only global of bpf-gtp holding the bucket count of [`MAP_DL_UE6_TABLE`] minus one.
pub const GLOBAL_DL_UE6_BUCKET_MASK: &str = "DL_UE6_BUCKET_MASK";
/// Slots per [`UeBucket`] (one cache line).
pub const UE_BUCKET_SLOTS: usize = 4;

/// A slot of a [`UeBucket`]: `key == [0, 0]` is free (0.0.0.0 and the prefix ::/64 are never
/// a UE's).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UeSlot {
    /// The key ([`ue4_key`] or [`ue6_key`]), checked against the packet's.
    pub key: [u32; 2],
    /// The session's downlink PDRs.
    pub list: PdrList,
}

/// A bucket of [`MAP_DL_UE4_TABLE`] or [`MAP_DL_UE6_TABLE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UeBucket {
    /// The slots.
    pub slots: [UeSlot; UE_BUCKET_SLOTS],
}

/// The table key of a UE IPv4 address: its bytes as a native-endian word, then 0.
#[inline(always)]
pub const fn ue4_key(addr: [u8; 4]) -> [u32; 2] {
    [u32::from_ne_bytes(addr), 0]
}

/// The table key of a UE IPv6 /64 prefix: its bytes as two native-endian words.
#[inline(always)]
pub const fn ue6_key(p: [u8; 8]) -> [u32; 2] {
    [
        u32::from_ne_bytes([p[0], p[1], p[2], p[3]]),
        u32::from_ne_bytes([p[4], p[5], p[6], p[7]]),
    ]
}

/// The two buckets of `key` in a UE table of `mask + 1` buckets (a power of two); they may be
/// the same.
#[inline(always)]
pub const fn ue_buckets(key: [u32; 2], mask: u32) -> [u32; 2] {
    let x = key[0] ^ fmix32(key[1] ^ 0x2545_f491);
    [fmix32(x) & mask, fmix32(x ^ 0x5bd1_e995) & mask]
}
/// `BPF_F_MMAPABLE`: the flag of the arrays the controller maps into its memory and writes
/// there, not by a system call per value (PDRs, SDF filters, FARs, QERs and their state, URR
/// counters and thresholds, the TEID and UE tables); Linux 5.5.
pub const MAP_F_MMAPABLE: u32 = 1 << 10;
/// PDR slots: array of [`Pdr`], runs of them named by a [`PdrList`].
pub const MAP_PDRS: &str = "PDRS";
/// SDF filter slots: array of [`SdfFilter`], runs of them named by a [`Pdr`].
pub const MAP_SDFS: &str = "SDFS";
/// FARs: array of [`Far`].
pub const MAP_FARS: &str = "FARS";
/// QERs: array of [`Qer`] (configuration, written by the controller).
pub const MAP_QERS: &str = "QERS";
/// QER token buckets: array of [`QerState`] (written by the datapath with atomic operations).
pub const MAP_QER_STATE: &str = "QER_STATE";
/// URR counters: array of [`UrrCounters`] (written by the datapath with atomic operations, read
/// and reset by the controller).
pub const MAP_URR_COUNTERS: &str = "URR_COUNTERS";
/// URR counters per CPU: per-CPU array of [`UrrCounters`], indexed like [`MAP_URR_COUNTERS`].
/// A URR without an event point ([`UrrThreshold::total_bytes`] 0) counts here, with plain adds
/// on its CPU's copy; one with an event point counts in [`MAP_URR_COUNTERS`], atomically, so
/// its total can be compared with the point. Its usage is the sum of both (the controller
/// reads the per-CPU part frozen while the URR counts in the shared one).
pub const MAP_URR_PCPU: &str = "URR_PCPU";

/// Events for the controller: a BPF ring buffer of [`Event`] records. Written by the datapath
/// (BUFF/NOCP packets, URR thresholds crossed), read by the controller.
pub const MAP_EVENTS: &str = "EVENTS";
/// Per-session limit of BUFF/NOCP packets handed to userspace: LRU hash, session index ->
/// `[window start ns, packets in the window]`, per CPU.
pub const MAP_BUFF_LIMIT: &str = "BUFF_LIMIT";
/// URR thresholds: array of [`UrrThreshold`] (written by the controller).
pub const MAP_URR_THRESHOLDS: &str = "URR_THRESHOLDS";

/// Bytes of a packet an event carries at most.
pub const EVENT_DATA_LEN: usize = 2048;
/// BUFF/NOCP packets handed to userspace per session per second per CPU at most.
pub const BUFF_LIMIT_PER_SEC: u64 = 1024;
/// Event kind: a downlink packet hit a FAR with BUFF and/or NOCP; `data` holds the frame.
pub const EVENT_BUFFERED: u32 = 1;
/// Event kind: a URR's total volume reached its threshold.
pub const EVENT_URR_THRESHOLD: u32 = 2;

/// A record of [`MAP_EVENTS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// `EVENT_*`.
    pub kind: u32,
    /// Session index.
    pub session: u32,
    /// PDR ID (BUFFERED) or URR slot (URR_THRESHOLD).
    pub id: u32,
    /// FAR action bits (BUFFERED).
    pub action: u32,
    /// Total bytes counted (URR_THRESHOLD), or the frame length (BUFFERED).
    pub value: u64,
    /// Bytes of `data` that are valid.
    pub len: u32,
    /// QFI of the packet's QER (BUFFERED), for the Downlink Data Service Information.
    pub qfi: u8,
    /// Paging Policy Indicator of the QER ([`PPI_NONE`]: none).
    pub ppi: u8,
    /// Padding.
    pub _pad: [u8; 2],
    /// The frame's first bytes (BUFFERED).
    pub data: [u8; EVENT_DATA_LEN],
}

/// When a URR next tells the controller (TS 29.244 Volume Threshold and Volume Quota, total
/// volume): an absolute point on the URR's cumulative byte count (UL + DL), set by the
/// controller to the nearer of the threshold and the quota since the last usage report.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrrThreshold {
    /// Cumulative total bytes at which to send an event; 0: none.
    pub total_bytes: u64,
    /// Set to 1 by the datapath (compare-exchange) when it sent the event, so it is sent once;
    /// the controller re-arms by writing the whole entry with a new point and 0 here.
    pub reported: u64,
}

/// Next-hop cache: a direct-mapped per-CPU array of [`NH_CACHE_SLOTS`] [`NhSlot`]s indexed by
/// [`NhKey::slot`], written and read by the datapath (successful FIB lookups, valid for
/// [`NH_CACHE_TTL_JIFFIES`]). Direct-mapped rather than a hash map: the lookup is an inlined array
/// access and a compare of six words, no hashing helper (the kernel's hash lookup was about a
/// tenth of the uplink's time); two destinations sharing a slot take turns, the loser asking
/// the FIB.
pub const MAP_NH_CACHE: &str = "NH_CACHE";
/// Slots of [`MAP_NH_CACHE`] (a power of two: the index is masked).
pub const NH_CACHE_SLOTS: u32 = 4096;
/// How long a cached FIB result is used before the FIB is asked again, in jiffies: the longest
/// a route or neighbour change takes to reach the fast path. In jiffies because the datapath's
/// clock here is `bpf_jiffies64`, which the verifier inlines as one load (the coarse-ns helper
/// was 11-15 % of the uplink and the downlink on one machine); the kernel's tick rate is not
/// known to the datapath, so 100 jiffies is at most 1 s on any kernel (HZ 100 to 1000: 1 s,
/// 0.4 s at Debian's HZ=250, 0.1 s at HZ=1000).
pub const NH_CACHE_TTL_JIFFIES: u64 = 100;

/// Key of [`MAP_NH_CACHE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NhKey {
    /// Destination address as native-endian words (IPv4 in the first, the rest 0). Words, not
    /// bytes, here and below: zeroing byte arrays compiles to a byte-loop `memset` call in eBPF.
    pub dst: [u32; 4],
    /// Interface the packet arrived on (the FIB may depend on it).
    pub ifindex: u32,
    /// 4 or 6.
    pub family: u32,
}

/// Value of [`MAP_NH_CACHE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NhEntry {
    /// When the entry stops being used (`bpf_jiffies64`).
    pub expires_jiffies: u64,
    /// Egress interface.
    pub ifindex: u32,
    /// Longest packet the FIB accepted for this destination (the MTU check).
    pub ok_len: u16,
    /// Padding.
    pub _pad0: u16,
    /// Source MAC.
    pub smac: [u8; 6],
    /// Destination (next hop) MAC.
    pub dmac: [u8; 6],
    /// Padding.
    pub _pad: u32,
}

/// One slot of [`MAP_NH_CACHE`] (`key.family == 0`: empty).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NhSlot {
    /// Whose entry this is.
    pub key: NhKey,
    /// The cached FIB result.
    pub entry: NhEntry,
}

impl NhKey {
    /// True when `self` and `other` are the same key (word by word: a derived compare of
    /// arrays becomes a byte-loop `memcmp` call in eBPF).
    #[inline(always)]
    pub fn same(&self, other: &NhKey) -> bool {
        let (a, b) = (&self.dst, &other.dst);
        ((a[0] ^ b[0])
            | (a[1] ^ b[1])
            | (a[2] ^ b[2])
            | (a[3] ^ b[3])
            | (self.ifindex ^ other.ifindex)
            | (self.family ^ other.family))
            == 0
    }

    /// The slot of [`MAP_NH_CACHE`] for this key: the words folded and spread by a
    /// multiplicative (Fibonacci) hash, top bits kept.
    #[inline(always)]
    pub fn slot(&self) -> u32 {
        let d = &self.dst;
        let f =
            d[0] ^ d[1].rotate_left(7) ^ d[2].rotate_left(13) ^ d[3].rotate_left(19) ^ self.ifindex;
        f.wrapping_mul(0x9e37_79b1) >> (32 - NH_CACHE_SLOTS.trailing_zeros())
    }
}

const _: () = assert!(size_of::<NhKey>() == 24 && size_of::<NhEntry>() == 32);
const _: () = assert!(size_of::<TeidSlot>() == 16 && size_of::<TeidBucket>() == 64);
const _: () = assert!(size_of::<UeSlot>() == 16 && size_of::<UeBucket>() == 64);
const _: () = assert!(
    UE_BUCKET_SLOTS == TEID_BUCKET_SLOTS,
    "table_buckets serves both"
);
const _: () = assert!(size_of::<NhSlot>() == 56 && NH_CACHE_SLOTS.is_power_of_two());

/// Addresses of the UP function the datapath needs: array of one [`GtpConfig`], written by the
/// controller at start-up.
pub const MAP_GTP_CONFIG: &str = "GTP_CONFIG";

/// The UP function's own addresses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GtpConfig {
    /// IPv4 address on N6: the source of ICMP the datapath sends to the data network (0: none).
    pub n6_v4: [u8; 4],
    /// Padding.
    pub _pad: [u8; 12],
    /// IPv6 address on N6: the source of ICMPv6 the datapath sends to the data network (all
    /// zero: none).
    pub n6_v6: [u8; 16],
}

const _: () = assert!(size_of::<GtpConfig>() == 32);

/// PDRs one lookup key may have (TS 29.244 allows more per session; per F-TEID or UE address
/// eight cover the SMF deployments seen).
pub const MAX_PDRS_PER_KEY: u32 = 8;
/// SDF filters one PDR may have.
pub const MAX_SDF_PER_PDR: u32 = 8;
/// URRs one PDR may point at.
pub const MAX_URRS_PER_PDR: usize = 4;
/// Index value meaning "none" in rule references.
pub const NONE: u32 = u32::MAX;

/// Key of [`MAP_UL_TEID`]: the local TEID (allocated unique per UP function).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TeidKey {
    /// TEID, network order.
    pub teid: Be32,
}

/// Key of [`MAP_DL_UE4`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ue4Key {
    /// UE IPv4 address.
    pub addr: [u8; 4],
}

/// Key of [`MAP_DL_UE6`]: the /64 prefix of the UE (TS 23.501 5.8.2.2.3: one /64 per PDU
/// session).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ue6Key {
    /// The first 8 bytes of the address.
    pub prefix: [u8; 8],
}

/// A run of PDR slots, in precedence order (lowest Precedence value first).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PdrList {
    /// First slot in [`MAP_PDRS`].
    pub first: u32,
    /// Number of slots (at most [`MAX_PDRS_PER_KEY`]).
    pub count: u32,
}

/// Outer Header Removal of a PDR: none.
pub const OHR_NONE: u8 = 0xff;

/// A PDR as the datapath needs it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pdr {
    /// PDR ID (for reports).
    pub pdr_id: u16,
    /// QFI the PDI matches (0: any).
    pub qfi: u8,
    /// Outer Header Removal description ([`OHR_NONE`]: none).
    pub ohr: u8,
    /// SDF filters of the PDI: first slot in [`MAP_SDFS`].
    pub sdf_first: u32,
    /// SDF filter count (0: match any packet).
    pub sdf_count: u32,
    /// FAR slot in [`MAP_FARS`].
    pub far: u32,
    /// QER slot in [`MAP_QERS`], or [`NONE`].
    pub qer: u32,
    /// URR slots in [`MAP_URR_COUNTERS`], [`NONE`] where unused.
    pub urrs: [u32; MAX_URRS_PER_PDR],
    /// Session index, for events.
    pub session: u32,
}

/// SDF filter flag: match the protocol.
pub const SDF_PROTO: u8 = 0x01;
/// SDF filter flag: match ToS / Traffic Class under mask.
pub const SDF_TOS: u8 = 0x02;
/// SDF filter flag: match the IPsec SPI.
pub const SDF_SPI: u8 = 0x04;
/// SDF filter flag: match the IPv6 Flow Label.
pub const SDF_FLOW_LABEL: u8 = 0x08;
/// SDF filter flag: addresses are IPv6 (else IPv4 in the first 4 bytes).
pub const SDF_IPV6: u8 = 0x10;

/// One SDF filter, normalised by the controller for the direction of its PDR: `src`/`dst` are
/// the packet's source and destination (TS 29.244 5.2.1A.2A). A flow description with several
/// port ranges becomes several filters.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdfFilter {
    /// `SDF_*` flags.
    pub flags: u8,
    /// IP protocol (with [`SDF_PROTO`]).
    pub proto: u8,
    /// ToS / Traffic Class value.
    pub tos: u8,
    /// ToS / Traffic Class mask.
    pub tos_mask: u8,
    /// Security Parameter Index.
    pub spi: Be32,
    /// Flow Label (20 bits, host order).
    pub flow_label: u32,
    /// Source port range, inclusive (0-65535: any).
    pub sport: [u16; 2],
    /// Destination port range, inclusive.
    pub dport: [u16; 2],
    /// Source address.
    pub src: [u8; 16],
    /// Source mask.
    pub src_mask: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Destination mask.
    pub dst_mask: [u8; 16],
}

/// FAR action: forward.
pub const FAR_FORW: u8 = 0x01;
/// FAR action: drop.
pub const FAR_DROP: u8 = 0x02;
/// FAR action: buffer.
pub const FAR_BUFF: u8 = 0x04;
/// FAR action: notify the CP function.
pub const FAR_NOCP: u8 = 0x08;
/// FAR action: duplicate.
pub const FAR_DUPL: u8 = 0x10;

/// Outer Header Creation of a FAR: none.
pub const OHC_NONE: u8 = 0;
/// Outer Header Creation: GTP-U/UDP/IPv4.
pub const OHC_GTPU_IPV4: u8 = 1;
/// Outer Header Creation: GTP-U/UDP/IPv6.
pub const OHC_GTPU_IPV6: u8 = 2;

/// FAR flag: Transport Level Marking present.
pub const FAR_TLM: u8 = 0x01;
/// FAR flag: the N9 tunnel is realised as SRv6 (RFC 9433): after GTP-U/IPv4 encapsulation the
/// packet goes to bpf-srv6's H.M.GTP4.D stage (`GTP_SRV6`), which carries it in SRv6 by the
/// policy for the peer; the SMF sees plain GTP-U.
pub const FAR_SRV6: u8 = 0x02;

/// A FAR as the datapath needs it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Far {
    /// `FAR_FORW` etc.
    pub action: u8,
    /// `OHC_*`.
    pub ohc: u8,
    /// `FAR_TLM` etc.
    pub flags: u8,
    /// Transport Level Marking: the ToS / Traffic Class to set on the outer header.
    pub tos: u8,
    /// TEID of the peer (Outer Header Creation).
    pub teid: Be32,
    /// Peer address (IPv4 in the first 4 bytes).
    pub peer: [u8; 16],
    /// Local address the tunnel leaves from (IPv4 in the first 4 bytes).
    pub local: [u8; 16],
    /// UDP destination port of the tunnel (2152).
    pub port: Be16,
    /// Padding.
    pub _pad: [u8; 2],
}

/// QER gate bit: uplink closed.
pub const GATE_UL_CLOSED: u8 = 0x01;
/// QER gate bit: downlink closed.
pub const GATE_DL_CLOSED: u8 = 0x02;
/// QER Paging Policy Indicator: none.
pub const PPI_NONE: u8 = 0xff;

/// A QER's configuration.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qer {
    /// `GATE_*` bits.
    pub gate: u8,
    /// QFI to mark in a DL PDU Session Container (0: none).
    pub qfi: u8,
    /// RQI to mark (0 or 1).
    pub rqi: u8,
    /// Paging Policy Indicator ([`PPI_NONE`]: none).
    pub ppi: u8,
    /// Padding.
    pub _pad: [u8; 4],
    /// Uplink MBR, bits per second (0: no limit).
    pub mbr_ul: u64,
    /// Downlink MBR, bits per second (0: no limit).
    pub mbr_dl: u64,
    /// Uplink burst, bytes.
    pub burst_ul: u64,
    /// Downlink burst, bytes.
    pub burst_dl: u64,
}

/// A QER's token buckets, one per direction: `[uplink, downlink]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QerState {
    /// Tokens (bytes) available.
    pub tokens: [i64; 2],
    /// Time of the last refill (ns, bpf_ktime_get_ns).
    pub last_ns: [u64; 2],
}

impl QerState {
    /// Buckets holding the whole burst of `q` (a new QER, or one whose rate changed, may send
    /// its burst at once). The refill time 0 lets the datapath credit the first packet with up
    /// to a second of the rate, capped at the burst.
    pub const fn full(q: &Qer) -> QerState {
        QerState {
            tokens: [q.burst_ul as i64, q.burst_dl as i64],
            last_ns: [0, 0],
        }
    }
}

/// Counters of one URR.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrrCounters {
    /// Unused (the reported flag lives in [`UrrThreshold`], which the controller can rewrite
    /// without racing the counters).
    pub _reserved: u64,
    /// Uplink packets.
    pub ul_packets: u64,
    /// Uplink bytes.
    pub ul_bytes: u64,
    /// Downlink packets.
    pub dl_packets: u64,
    /// Downlink bytes.
    pub dl_bytes: u64,
}

/// What `xdp_n3` found, for `xdp_n3_gpdu` (per-CPU, valid only across the tail call).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct N3Scratch {
    /// The session's PDRs.
    pub list: PdrList,
    /// Offset of the T-PDU in the frame.
    pub payload_off: u32,
    /// QFI of the PDU Session Container (0: none).
    pub qfi: u8,
    /// Padding.
    pub _pad: [u8; 3],
}

const _: () = assert!(size_of::<N3Scratch>() == 16);

/// What `xdp_n6` (or `xdp_n3_gpdu`, for N9) decided, for `xdp_n6_encap6` (per-CPU, valid only
/// across the tail call).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct N6Scratch {
    /// Offset of the packet's IP header.
    pub l3_off: u32,
    /// Length of the IP packet.
    pub inner_len: u32,
    /// FAR slot.
    pub far: u32,
    /// Container: 0 none, 1 DL, 2 UL.
    pub container: u8,
    /// QFI.
    pub qfi: u8,
    /// RQI.
    pub rqi: u8,
    /// PPI (`PPI_NONE`: none).
    pub ppi: u8,
    /// 1 when the packet is uplink being relayed on N9 (from `xdp_n3_gpdu`), 0 for downlink.
    pub uplink: u8,
    /// Padding (not a byte array: zeroing one compiles to a byte-loop `memset` call).
    pub _pad0: u8,
    /// Padding.
    pub _pad: u16,
}

const _: () = assert!(size_of::<N6Scratch>() == 20);
const _: () = assert!(size_of::<TeidKey>() == 4 && size_of::<Ue4Key>() == 4);
const _: () = assert!(size_of::<Ue6Key>() == 8 && size_of::<PdrList>() == 8);
const _: () = assert!(size_of::<Pdr>() == 40);
const _: () = assert!(size_of::<SdfFilter>() == 84);
const _: () = assert!(size_of::<Far>() == 44);
const _: () = assert!(size_of::<Qer>() == 40);
const _: () = assert!(size_of::<QerState>() == 32 && size_of::<UrrCounters>() == 40);
const _: () = assert!(size_of::<Event>() == 32 + EVENT_DATA_LEN && size_of::<UrrThreshold>() == 16);

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY (each impl): repr(C) with fixed-width integers and byte arrays only, no implicit
    // padding (sizes asserted above), valid for any bit pattern.
    macro_rules! pod {
        ($($t:ty),*) => {$(
            // SAFETY: see above.
            unsafe impl aya::Pod for $t {}
        )*};
    }
    pod!(
        Event,
        UrrThreshold,
        GtpConfig,
        N3Scratch,
        N6Scratch,
        NhKey,
        NhEntry,
        NhSlot,
        TeidSlot,
        TeidBucket,
        TeidKey,
        UeSlot,
        UeBucket,
        Ue4Key,
        Ue6Key,
        PdrList,
        Pdr,
        SdfFilter,
        Far,
        Qer,
        QerState,
        UrrCounters
    );
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::HashSet;

    fn key(d: [u32; 4], ifindex: u32, family: u32) -> NhKey {
        NhKey {
            dst: d,
            ifindex,
            family,
        }
    }

    /// Places `keys` by the controller's rule (first free slot of the first, then the second
    /// bucket) in a table sized for them: (in their first bucket, overflowed).
    fn place_ues(keys: impl Iterator<Item = [u32; 2]>, n: u32) -> (u32, u32) {
        let buckets = table_buckets(n);
        let mut fill = std::vec![0usize; buckets as usize];
        let (mut first, mut overflow) = (0, 0);
        for k in keys {
            let [a, b] = ue_buckets(k, buckets - 1);
            assert!(a < buckets && b < buckets);
            if fill[a as usize] < UE_BUCKET_SLOTS {
                fill[a as usize] += 1;
                first += 1;
            } else if fill[b as usize] < UE_BUCKET_SLOTS {
                fill[b as usize] += 1;
            } else {
                overflow += 1;
            }
        }
        (first, overflow)
    }

    #[test]
    fn ue_buckets_spread_pool_addresses_and_prefixes() {
        // 100 000 UE addresses as a pool hands them out: consecutive IPv4 addresses, and
        // consecutive /64 prefixes of a /40 (the varying bits in the prefix's last bytes).
        let n = 100_000u32;
        let v4 = (0..n).map(|i| ue4_key((0xc612_0000u32 + i + 1).to_be_bytes()));
        let v6 = (0..n).map(|i| {
            let mut p = [0x20, 0x01, 0x0d, 0xb8, 0x60, 0, 0, 0];
            p[5..8].copy_from_slice(&(i + 1).to_be_bytes()[1..]);
            ue6_key(p)
        });
        for (family, (first, overflow)) in [("v4", place_ues(v4, n)), ("v6", place_ues(v6, n))] {
            assert!(
                first * 100 > n * 97,
                "{family}: {first} in their first bucket"
            );
            assert!(overflow * 1000 < n, "{family}: {overflow} overflowed");
        }
        // Neither family's key is ever the free mark.
        assert_ne!(ue4_key([198, 18, 0, 1]), [0, 0]);
        assert_ne!(ue6_key([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0]), [0, 0]);
    }

    #[test]
    fn teid_buckets_spread_sequential_teids() {
        // 100 000 sequential TEIDs (as an SMF allocates them) in a table sized for them: the
        // fullest first bucket holds few, and nearly every TEID finds a free slot in one of
        // its two buckets by the controller's rule (first free slot of the first, then the
        // second bucket).
        let n = 100_000u32;
        let buckets = table_buckets(n);
        assert_eq!(buckets, 65_536);
        let mut fill = std::vec![0usize; buckets as usize];
        let (mut first, mut overflow) = (0, 0);
        for t in 1..=n {
            let [a, b] = teid_buckets(0x1000 + t, buckets - 1);
            assert!(a < buckets && b < buckets);
            if fill[a as usize] < TEID_BUCKET_SLOTS {
                fill[a as usize] += 1;
                first += 1;
            } else if fill[b as usize] < TEID_BUCKET_SLOTS {
                fill[b as usize] += 1;
            } else {
                overflow += 1;
            }
        }
        // Measured: 98.2 % in their first bucket, 90 of 100 000 (0.09 %) in the hash map.
        assert!(first * 100 > n * 97, "{first} in their first bucket");
        assert!(overflow * 1000 < n, "{overflow} overflowed");
        assert_eq!(
            (table_buckets(0), table_buckets(2), table_buckets(5)),
            (1, 1, 4)
        );
    }

    #[test]
    fn next_hop_keys_compare_every_word() {
        let k = key([1, 2, 3, 4], 7, 6);
        assert!(k.same(&k));
        for i in 0..4 {
            let mut d = k.dst;
            d[i] ^= 0x100;
            assert!(!k.same(&key(d, 7, 6)), "word {i}");
        }
        assert!(!k.same(&key(k.dst, 8, 6)));
        assert!(!k.same(&key(k.dst, 7, 4)));
        // An empty slot (all zero) matches no real key.
        assert!(!key([0; 4], 0, 0).same(&key([0; 4], 0, 4)));
    }

    #[test]
    fn next_hop_slots_are_in_range_and_spread() {
        let mut seen = HashSet::new();
        for host in 0..1024u32 {
            // 198.18.x.y in native-endian words, as the datapath builds them.
            let a = u32::from_ne_bytes([198, 18, (host >> 8) as u8, host as u8]);
            let s = key([a, 0, 0, 0], 3, 4).slot();
            assert!(s < NH_CACHE_SLOTS);
            seen.insert(s);
        }
        // 1024 neighbouring addresses over 4096 slots: most get a slot of their own.
        assert!(seen.len() > 800, "{} distinct slots", seen.len());
    }
}
