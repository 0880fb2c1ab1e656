//! How bpf-gtp's maps are sized (at load time, from the configuration) and how their slots are
//! handed out to a session's rules.

use super::error::SouthboundError;
use bpf_abi::gtp::{
    MAP_BUFF_LIMIT, MAP_DL_UE4, MAP_DL_UE4_TABLE, MAP_DL_UE6, MAP_DL_UE6_TABLE, MAP_EVENTS,
    MAP_FARS, MAP_PDRS, MAP_QER_STATE, MAP_QERS, MAP_SDFS, MAP_UL_TEID, MAP_UL_TEID_TABLE,
    MAP_URR_COUNTERS, MAP_URR_PCPU, MAP_URR_THRESHOLDS, MAX_SDF_PER_PDR, table_buckets,
};
use std::collections::HashMap as StdHashMap;

/// A run allocator over `cap` slots: free runs kept by length, then a bump pointer.
#[derive(Debug)]
pub struct Slots {
    name: &'static str,
    cap: u32,
    next: u32,
    free: StdHashMap<u32, Vec<u32>>,
}

impl Slots {
    /// An allocator over the slots of map `name` with `cap` entries.
    pub fn new(name: &'static str, cap: u32) -> Self {
        Slots {
            name,
            cap,
            next: 0,
            free: StdHashMap::new(),
        }
    }

    /// A run of `len` consecutive slots.
    pub fn alloc(&mut self, len: u32) -> Result<u32, SouthboundError> {
        self.alloc_tracked(len).map(|(first, _)| first)
    }

    /// A run of `len` consecutive slots, and whether this allocator handed them out before
    /// (a run from the free list; false: from the bump pointer, never used through it).
    pub fn alloc_tracked(&mut self, len: u32) -> Result<(u32, bool), SouthboundError> {
        if let Some(first) = self.free.get_mut(&len).and_then(Vec::pop) {
            return Ok((first, true));
        }
        if self.cap - self.next < len {
            return Err(SouthboundError::Full(self.name));
        }
        let first = self.next;
        self.next += len;
        Ok((first, false))
    }

    /// Gives a run back.
    pub fn free(&mut self, first: u32, len: u32) {
        self.free.entry(len).or_default().push(first);
    }

    /// Takes over the runs in `used` (slots a previous controller allocated, found in the
    /// store): the bump pointer goes past the last, and every free slot below it becomes a run
    /// of one.
    pub fn adopt(&mut self, used: &mut [(u32, u32)]) {
        used.sort_unstable();
        self.free.clear();
        let mut at = 0;
        for &(first, len) in used.iter() {
            for s in at..first.min(self.cap) {
                self.free.entry(1).or_default().push(s);
            }
            at = at.max(first.saturating_add(len));
        }
        self.next = at.min(self.cap);
    }

    /// Slots in use.
    pub fn in_use(&self) -> u32 {
        self.next
            - self
                .free
                .iter()
                .map(|(len, v)| len * v.len() as u32)
                .sum::<u32>()
    }
}

/// Rules of each kind (PDRs, FARs, QERs, URRs; SDF filters eight times that) kept free beyond
/// the sessions' own for the make-before-break of one Session Modification.
pub const REPLACE_HEADROOM: u32 = 256;

/// Entries of each map, set at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSizes {
    /// Uplink keys (local TEIDs) that are not direct.
    pub ul_keys: u32,
    /// Direct local TEIDs (`bpf_abi::gtp::TEID_DIRECT`): TEIDs `TEID_DIRECT | i` for `i` below
    /// this live in an array, the fastest uplink lookup.
    pub ul_direct: u32,
    /// Downlink IPv4 keys.
    pub dl4_keys: u32,
    /// Downlink IPv6 keys.
    pub dl6_keys: u32,
    /// PDR slots.
    pub pdrs: u32,
    /// SDF filter slots.
    pub sdfs: u32,
    /// FAR slots.
    pub fars: u32,
    /// QER slots.
    pub qers: u32,
    /// URR slots.
    pub urrs: u32,
    /// Bytes of the event ring buffer (a power of two, at least a page).
    pub events_bytes: u32,
}

impl MapSizes {
    /// Sizes for `n` sessions of a typical shape (2 uplink and 2 downlink PDRs, 4 SDF filters,
    /// 2 FARs, 2 QERs, 2 URRs per session), plus [`REPLACE_HEADROOM`] rules of each kind: a
    /// Session Modification writes the new rule set beside the old one
    /// ([`super::GtpDatapath::replace`]), so a full UP function can still modify a session of up to
    /// that many rules.
    pub fn for_sessions(n: u32) -> Self {
        let n = n.max(1);
        let h = REPLACE_HEADROOM;
        MapSizes {
            ul_keys: n,
            ul_direct: n,
            dl4_keys: n,
            dl6_keys: n,
            pdrs: n.saturating_mul(4).saturating_add(h),
            sdfs: n.saturating_mul(4).saturating_add(h * MAX_SDF_PER_PDR),
            fars: n.saturating_mul(2).saturating_add(h),
            qers: n.saturating_mul(2).saturating_add(h),
            urrs: n.saturating_mul(2).saturating_add(h),
            events_bytes: 4 << 20,
        }
    }

    /// (map name, entries) for the loader.
    pub fn entries(&self) -> [(&'static str, u32); 17] {
        [
            (bpf_abi::gtp::MAP_UL_TEID_DIRECT, self.ul_direct.max(1)),
            (MAP_UL_TEID_TABLE, table_buckets(self.ul_keys)),
            (MAP_DL_UE4_TABLE, table_buckets(self.dl4_keys)),
            (MAP_DL_UE6_TABLE, table_buckets(self.dl6_keys)),
            (MAP_EVENTS, self.events_bytes),
            // Per CPU: not padded by `lru_entries` (the pad times every CPU); an evicted
            // entry only restarts one session's one-second window.
            (MAP_BUFF_LIMIT, self.dl4_keys.saturating_add(self.dl6_keys)),
            (MAP_URR_THRESHOLDS, self.urrs),
            (MAP_UL_TEID, self.ul_keys),
            (MAP_DL_UE4, self.dl4_keys),
            (MAP_DL_UE6, self.dl6_keys),
            (MAP_PDRS, self.pdrs),
            (MAP_SDFS, self.sdfs),
            (MAP_FARS, self.fars),
            (MAP_QERS, self.qers),
            (MAP_QER_STATE, self.qers),
            (MAP_URR_COUNTERS, self.urrs),
            (MAP_URR_PCPU, self.urrs),
        ]
    }
}

/// The slot allocators of the GTP maps.
#[derive(Debug)]
pub struct Allocators {
    /// Size of the direct TEID array.
    pub(super) ul_direct: u32,
    /// Buckets of the TEID table minus one.
    pub(crate) ul_bucket_mask: u32,
    /// Buckets of the IPv4 UE table minus one.
    pub(crate) dl4_bucket_mask: u32,
    /// Buckets of the IPv6 UE table minus one.
    pub(crate) dl6_bucket_mask: u32,
    pub(super) pdrs: Slots,
    pub(super) sdfs: Slots,
    pub(super) fars: Slots,
    pub(super) qers: Slots,
    pub(super) urrs: Slots,
}

impl Allocators {
    /// Allocators for maps of `sizes`.
    pub fn new(sizes: &MapSizes) -> Self {
        Allocators {
            ul_direct: sizes.ul_direct.max(1),
            ul_bucket_mask: table_buckets(sizes.ul_keys) - 1,
            dl4_bucket_mask: table_buckets(sizes.dl4_keys) - 1,
            dl6_bucket_mask: table_buckets(sizes.dl6_keys) - 1,
            pdrs: Slots::new(MAP_PDRS, sizes.pdrs),
            sdfs: Slots::new(MAP_SDFS, sizes.sdfs),
            fars: Slots::new(MAP_FARS, sizes.fars),
            qers: Slots::new(MAP_QERS, sizes.qers),
            urrs: Slots::new(MAP_URR_COUNTERS, sizes.urrs),
        }
    }
}
