//! Installs and removes a session's rules in the bpf-gtp maps (layouts in `bpf_abi::gtp`).
//!
//! Order (make before break): FARs, QERs (with fresh token buckets) and URR counters first, then
//! SDF filters and PDR runs, and the lookup keys last, each key in one store (an 8-byte word of
//! its table slot, release-ordered after the rules: [`super::mapped`]; or one hash-map update
//! when its table buckets are full), so the datapath sees the whole new rule set or none of it.
//! Removal goes the other way: keys first. A failed install rolls back what it wrote. Slot
//! indices come from allocators owned here.

use super::{
    error::{SouthboundError, map_err},
    loader::GtpDatapath,
    mapped::MappedArray,
};
use crate::vec_map::VecMap;
use aya::maps::{Array, HashMap, MapError};
use bpf_abi::gtp::{
    EVENT_DATA_LEN, Event, Far, MAP_DL_UE4, MAP_DL_UE6, MAP_EVENTS, MAP_UL_TEID, MAP_URR_PCPU,
    MAX_PDRS_PER_KEY, MAX_SDF_PER_PDR, MAX_URRS_PER_PDR, NONE, OHR_NONE, Pdr, PdrList, Qer,
    QerState, SdfFilter, TEID_BUCKET_SLOTS, TEID_DIRECT, TeidBucket, TeidKey, TeidSlot, Ue4Key,
    Ue6Key, UeBucket, UeSlot, UrrCounters, UrrThreshold, teid_buckets, ue_buckets, ue4_key,
    ue6_key,
};
use std::{collections::BTreeMap, net::Ipv4Addr};

/// Where a session's PDRs are found.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Key {
    /// Uplink: the local TEID.
    UlTeid(u32),
    /// Downlink: the UE's IPv4 address.
    DlUe4(Ipv4Addr),
    /// Downlink: the UE's IPv6 /64 prefix (first 8 bytes).
    DlUe6([u8; 8]),
}

/// A PDR as the controller hands it to the southbound.
#[derive(Clone, Debug, PartialEq)]
pub struct PdrSpec {
    /// PDR ID.
    pub pdr_id: u16,
    /// Precedence (lower first).
    pub precedence: u32,
    /// QFI the PDI matches (0: any).
    pub qfi: u8,
    /// Outer Header Removal description.
    pub ohr: Option<u8>,
    /// SDF filters, normalised for the direction (empty: match any).
    pub sdfs: Vec<SdfFilter>,
    /// FAR ID.
    pub far_id: u32,
    /// QER ID.
    pub qer_id: Option<u32>,
    /// URR IDs.
    pub urr_ids: Vec<u32>,
}

/// A session's rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionSpec {
    /// Session index (reported in events).
    pub session: u32,
    /// FARs by FAR ID.
    pub fars: Vec<(u32, Far)>,
    /// QERs by QER ID.
    pub qers: Vec<(u32, Qer)>,
    /// URR IDs.
    pub urrs: Vec<u32>,
    /// Event points of URRs, by URR ID: the cumulative total bytes (UL + DL) at which the
    /// datapath tells the controller ([`bpf_abi::gtp::UrrThreshold`]); URRs not named have none.
    pub urr_thresholds: Vec<(u32, u64)>,
    /// PDRs with the key they are found by.
    pub pdrs: Vec<(Key, PdrSpec)>,
}

/// An event from the datapath (`bpf_abi::gtp::Event`), with its frame bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatapathEvent {
    /// `EVENT_*` of bpf_abi::gtp.
    pub kind: u32,
    /// Session index.
    pub session: u32,
    /// PDR ID or URR slot.
    pub id: u32,
    /// FAR action bits.
    pub action: u32,
    /// Total bytes (threshold) or frame length (buffered).
    pub value: u64,
    /// QFI.
    pub qfi: u8,
    /// PPI.
    pub ppi: u8,
    /// The frame's bytes (buffered).
    pub data: Vec<u8>,
}

/// What an installed session occupies; give it back to [`GtpDatapath::remove`] or
/// [`GtpDatapath::replace`].
#[derive(Debug, Default)]
pub struct Installed {
    keys: Vec<(Key, PdrList)>,
    pdr_runs: Vec<(u32, u32)>,
    sdf_runs: Vec<(u32, u32)>,
    fars: VecMap<u32, u32>,
    qers: VecMap<u32, u32>,
    urrs: VecMap<u32, u32>,
    /// QER and URR slots taken over from the session this one replaced (not freed on rollback).
    carried_qers: Vec<u32>,
    carried_urrs: Vec<u32>,
    /// Values overwritten in carried slots, restored on rollback.
    restore_qers: Vec<(u32, Qer)>,
    restore_thresholds: Vec<(u32, UrrThreshold)>,
}

/// What an [`Installed`] occupies, in plain numbers: kept in the session store, so that a
/// restarted controller can take over the pinned maps' slots as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstalledParts {
    /// Lookup keys with their PDR run (first, count).
    pub keys: Vec<(Key, u32, u32)>,
    /// PDR runs (first, len).
    pub pdr_runs: Vec<(u32, u32)>,
    /// SDF filter runs (first, len).
    pub sdf_runs: Vec<(u32, u32)>,
    /// (FAR ID, slot).
    pub fars: Vec<(u32, u32)>,
    /// (QER ID, slot).
    pub qers: Vec<(u32, u32)>,
    /// (URR ID, slot).
    pub urrs: Vec<(u32, u32)>,
}

impl Installed {
    /// What it occupies, for the store.
    pub fn parts(&self) -> InstalledParts {
        InstalledParts {
            keys: self
                .keys
                .iter()
                .map(|(k, l)| (*k, l.first, l.count))
                .collect(),
            pdr_runs: self.pdr_runs.clone(),
            sdf_runs: self.sdf_runs.clone(),
            fars: self.fars.iter().map(|(a, b)| (*a, *b)).collect(),
            qers: self.qers.iter().map(|(a, b)| (*a, *b)).collect(),
            urrs: self.urrs.iter().map(|(a, b)| (*a, *b)).collect(),
        }
    }

    /// An installed session from the store's record of it (the maps hold it already).
    pub fn from_parts(p: &InstalledParts) -> Installed {
        Installed {
            keys: p
                .keys
                .iter()
                .map(|(k, first, count)| {
                    (
                        *k,
                        PdrList {
                            first: *first,
                            count: *count,
                        },
                    )
                })
                .collect(),
            pdr_runs: p.pdr_runs.clone(),
            sdf_runs: p.sdf_runs.clone(),
            fars: p.fars.iter().copied().collect(),
            qers: p.qers.iter().copied().collect(),
            urrs: p.urrs.iter().copied().collect(),
            ..Installed::default()
        }
    }

    /// Its lookup keys.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.keys.iter().map(|(k, _)| *k)
    }

    /// URR IDs with their counter slots.
    pub fn urr_slots(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.urrs.iter().map(|(id, slot)| (*id, *slot))
    }
    /// The counter slot of URR `id`.
    pub fn urr_slot(&self, id: u32) -> Option<u32> {
        self.urrs.get(&id).copied()
    }
    /// The QER slot of QER `id`.
    pub fn qer_slot(&self, id: u32) -> Option<u32> {
        self.qers.get(&id).copied()
    }
    /// The FAR slot of FAR `id`.
    pub fn far_slot(&self, id: u32) -> Option<u32> {
        self.fars.get(&id).copied()
    }
}

impl GtpDatapath {
    /// Installs `spec`; on error nothing of it stays in the maps.
    pub fn install(&mut self, spec: &SessionSpec) -> Result<Installed, SouthboundError> {
        let mut inst = Installed::default();
        match self.install_inner(spec, None, &mut inst) {
            Ok(()) => Ok(inst),
            Err(e) => {
                self.remove(inst);
                Err(e)
            }
        }
    }

    /// Replaces the rules of an installed session by `spec` (a Session Modification), make
    /// before break: the new FARs, PDR runs and SDF filters are written beside the old ones,
    /// each lookup key is switched in one map update, keys the new set lacks are removed, and
    /// only then are the old slots freed. URRs and QERs present in both keep their slots, so
    /// usage counters and token buckets go on (a QER's new values are written in place). On
    /// error the old session is given back as it was, with the error.
    #[expect(
        clippy::result_large_err,
        reason = "the old session goes back to the caller by value, once per Modification"
    )]
    pub fn replace(
        &mut self,
        old: Installed,
        spec: &SessionSpec,
    ) -> Result<Installed, (Installed, SouthboundError)> {
        let mut inst = Installed::default();
        if let Err(e) = self.install_inner(spec, Some(&old), &mut inst) {
            self.rollback(&old, inst);
            return Err((old, e));
        }
        let new_keys: Vec<Key> = inst.keys.iter().map(|(k, _)| *k).collect();
        for (k, _) in &old.keys {
            if !new_keys.contains(k) {
                // Already gone is what we want; nothing else can fail here.
                let _ = self.set_key(*k, None);
            }
        }
        self.free_slots(&old, &inst.carried_qers, &inst.carried_urrs);
        Ok(inst)
    }

    /// Undoes a failed replacement: keys back to the old lists, carried values restored, the
    /// new slots freed.
    fn rollback(&mut self, old: &Installed, new: Installed) {
        for (k, _) in &new.keys {
            let prev = old.keys.iter().find(|(o, _)| o == k).map(|(_, l)| *l);
            let _ = self.set_key(*k, prev);
        }
        for (slot, q) in &new.restore_qers {
            // The slot was read from the array, so it is in bounds.
            let _ = self.arrays.qers.set(*slot, q);
        }
        for (slot, t) in &new.restore_thresholds {
            let _ = self.arrays.urr_thresholds.set(*slot, t);
        }
        let keep_q = new.carried_qers.clone();
        let keep_u = new.carried_urrs.clone();
        self.free_slots(&new, &keep_q, &keep_u);
    }

    /// Frees the slots of `inst` but the QER and URR slots in `keep_qers` / `keep_urrs`.
    fn free_slots(&mut self, inst: &Installed, keep_qers: &[u32], keep_urrs: &[u32]) {
        for (first, len) in &inst.pdr_runs {
            self.alloc.pdrs.free(*first, *len);
        }
        for (first, len) in &inst.sdf_runs {
            self.alloc.sdfs.free(*first, *len);
        }
        for slot in inst.fars.values() {
            self.alloc.fars.free(*slot, 1);
        }
        for slot in inst.qers.values().filter(|s| !keep_qers.contains(s)) {
            self.alloc.qers.free(*slot, 1);
        }
        for slot in inst.urrs.values().filter(|s| !keep_urrs.contains(s)) {
            self.alloc.urrs.free(*slot, 1);
        }
    }

    fn install_inner(
        &mut self,
        spec: &SessionSpec,
        old: Option<&Installed>,
        inst: &mut Installed,
    ) -> Result<(), SouthboundError> {
        // Group PDRs by key, in precedence order, and check the limits before touching a map.
        let mut by_key: BTreeMap<Key, Vec<&PdrSpec>> = BTreeMap::new();
        for (k, p) in &spec.pdrs {
            by_key.entry(*k).or_default().push(p);
        }
        for (k, v) in &mut by_key {
            v.sort_by_key(|p| p.precedence);
            if v.len() > MAX_PDRS_PER_KEY as usize {
                return Err(SouthboundError::Limit(format!(
                    "{} PDRs on {k:?}, at most {MAX_PDRS_PER_KEY}",
                    v.len()
                )));
            }
            for p in v.iter() {
                if p.sdfs.len() > MAX_SDF_PER_PDR as usize {
                    return Err(SouthboundError::Limit(format!(
                        "PDR {} has {} SDF filters, at most {MAX_SDF_PER_PDR}",
                        p.pdr_id,
                        p.sdfs.len()
                    )));
                }
                if p.urr_ids.len() > MAX_URRS_PER_PDR {
                    return Err(SouthboundError::Limit(format!(
                        "PDR {} has {} URRs, at most {MAX_URRS_PER_PDR}",
                        p.pdr_id,
                        p.urr_ids.len()
                    )));
                }
            }
        }

        // FARs, QERs, URRs.
        for (id, far) in &spec.fars {
            let slot = self.alloc.fars.alloc(1)?;
            inst.fars.insert(*id, slot);
            self.arrays.fars.set(slot, far)?;
        }
        for (id, qer) in &spec.qers {
            if let Some(&slot) = old.and_then(|o| o.qers.get(id)) {
                // Carried over: new values in place, the token buckets go on.
                inst.qers.insert(*id, slot);
                inst.carried_qers.push(slot);
                let prev = self.arrays.qers.get(slot)?;
                inst.restore_qers.push((slot, prev));
                self.arrays.qers.set(slot, qer)?;
                if (prev.mbr_ul, prev.mbr_dl, prev.burst_ul, prev.burst_dl)
                    != (qer.mbr_ul, qer.mbr_dl, qer.burst_ul, qer.burst_dl)
                {
                    // A new rate or burst starts with a full bucket, as a new QER does.
                    self.arrays.qer_state.set(slot, &QerState::full(qer))?;
                }
                continue;
            }
            let slot = self.alloc.qers.alloc(1)?;
            inst.qers.insert(*id, slot);
            self.arrays.qer_state.set(slot, &QerState::full(qer))?;
            self.arrays.qers.set(slot, qer)?;
        }
        for id in &spec.urrs {
            let total_bytes = spec
                .urr_thresholds
                .iter()
                .find(|(u, _)| u == id)
                .map_or(0, |(_, t)| *t);
            if let Some(&slot) = old.and_then(|o| o.urrs.get(id)) {
                // Carried over: the counters go on; the threshold may change.
                inst.urrs.insert(*id, slot);
                inst.carried_urrs.push(slot);
                let prev = self.arrays.urr_thresholds.get(slot)?;
                inst.restore_thresholds.push((slot, prev));
                self.set_urr_target(slot, total_bytes)?;
                continue;
            }
            let (slot, used) = self.alloc.urrs.alloc_tracked(1)?;
            inst.urrs.insert(*id, slot);
            self.arrays.urr_thresholds.set(
                slot,
                &UrrThreshold {
                    total_bytes,
                    reported: 0,
                },
            )?;
            self.arrays
                .urr_counters
                .set(slot, &UrrCounters::default())?;
            // The per-CPU part cannot be mapped: a bpf(2) call, spared where the slot is as
            // the kernel created it (maps made by this controller, a slot never handed out).
            if used || !self.fresh_maps {
                self.zero_urr_pcpu(slot)?;
            }
        }

        // SDF filters and PDR runs, then the keys.
        for (key, pdrs) in &by_key {
            let first = self.alloc.pdrs.alloc(pdrs.len() as u32)?;
            inst.pdr_runs.push((first, pdrs.len() as u32));
            for (i, p) in pdrs.iter().enumerate() {
                let sdf_first = if p.sdfs.is_empty() {
                    0
                } else {
                    let f = self.alloc.sdfs.alloc(p.sdfs.len() as u32)?;
                    inst.sdf_runs.push((f, p.sdfs.len() as u32));
                    for (j, s) in p.sdfs.iter().enumerate() {
                        self.arrays.sdfs.set(f + j as u32, s)?;
                    }
                    f
                };
                let far = *inst
                    .fars
                    .get(&p.far_id)
                    .ok_or(SouthboundError::UnknownRule {
                        pdr_id: p.pdr_id,
                        what: "FAR",
                        id: p.far_id,
                    })?;
                let qer = match p.qer_id {
                    None => NONE,
                    Some(q) => *inst.qers.get(&q).ok_or(SouthboundError::UnknownRule {
                        pdr_id: p.pdr_id,
                        what: "QER",
                        id: q,
                    })?,
                };
                let mut urrs = [NONE; MAX_URRS_PER_PDR];
                for (k, u) in p.urr_ids.iter().enumerate() {
                    urrs[k] = *inst.urrs.get(u).ok_or(SouthboundError::UnknownRule {
                        pdr_id: p.pdr_id,
                        what: "URR",
                        id: *u,
                    })?;
                }
                let pdr = Pdr {
                    pdr_id: p.pdr_id,
                    qfi: p.qfi,
                    ohr: p.ohr.unwrap_or(OHR_NONE),
                    sdf_first,
                    sdf_count: p.sdfs.len() as u32,
                    far,
                    qer,
                    urrs,
                    session: spec.session,
                };
                self.arrays.pdrs.set(first + i as u32, &pdr)?;
            }
            let list = PdrList {
                first,
                count: pdrs.len() as u32,
            };
            inst.keys.push((*key, list));
            self.set_key(*key, Some(list))?;
        }
        Ok(())
    }

    /// Removes an installed session: keys first, then its slots are freed.
    pub fn remove(&mut self, inst: Installed) {
        for (k, _) in &inst.keys {
            // A key that is already gone is what we want; nothing else can fail here.
            let _ = self.set_key(*k, None);
        }
        self.free_slots(&inst, &[], &[]);
    }

    /// Counters of the URR in `slot`.
    pub fn urr_counters(&self, slot: u32) -> Result<UrrCounters, SouthboundError> {
        let shared = self.arrays.urr_counters.get(slot)?;
        let p = self.urr_pcpu_sum(slot)?;
        Ok(UrrCounters {
            _reserved: 0,
            ul_packets: shared.ul_packets + p.ul_packets,
            ul_bytes: shared.ul_bytes + p.ul_bytes,
            dl_packets: shared.dl_packets + p.dl_packets,
            dl_bytes: shared.dl_bytes + p.dl_bytes,
        })
    }

    /// The per-CPU part of URR `slot`'s counters, summed.
    fn urr_pcpu_sum(&self, slot: u32) -> Result<UrrCounters, SouthboundError> {
        let map = self
            .ebpf()
            .map(MAP_URR_PCPU)
            .ok_or(SouthboundError::Full(MAP_URR_PCPU))?;
        let a: aya::maps::PerCpuArray<_, UrrCounters> =
            aya::maps::PerCpuArray::try_from(map).map_err(map_err(MAP_URR_PCPU))?;
        let v = a.get(&slot, 0).map_err(map_err(MAP_URR_PCPU))?;
        Ok(v.iter().fold(UrrCounters::default(), |s, c| UrrCounters {
            _reserved: 0,
            ul_packets: s.ul_packets + c.ul_packets,
            ul_bytes: s.ul_bytes + c.ul_bytes,
            dl_packets: s.dl_packets + c.dl_packets,
            dl_bytes: s.dl_bytes + c.dl_bytes,
        }))
    }

    fn zero_urr_pcpu(&mut self, slot: u32) -> Result<(), SouthboundError> {
        let n = aya::util::nr_cpus().map_err(|(_, e)| SouthboundError::Map {
            name: MAP_URR_PCPU,
            source: MapError::IoError(e),
        })?;
        let map = self
            .ebpf_mut()
            .map_mut(MAP_URR_PCPU)
            .ok_or(SouthboundError::Full(MAP_URR_PCPU))?;
        let mut a: aya::maps::PerCpuArray<_, UrrCounters> =
            aya::maps::PerCpuArray::try_from(map).map_err(map_err(MAP_URR_PCPU))?;
        let zeros =
            aya::maps::PerCpuValues::try_from(vec![UrrCounters::default(); n]).map_err(|e| {
                SouthboundError::Map {
                    name: MAP_URR_PCPU,
                    source: MapError::IoError(e),
                }
            })?;
        a.set(slot, zeros, 0).map_err(map_err(MAP_URR_PCPU))
    }

    /// Re-arms URR `slot`: the next event when its cumulative total (shared and per-CPU parts)
    /// reaches `total_bytes`; 0: none (the URR counts per CPU again). With a point, the URR
    /// counts in the shared counters: the entry is first written with a point never reached,
    /// which moves the counting there, then the per-CPU part (frozen from then on) is read and
    /// the point set on the shared total. Only the threshold entry is written, never counters.
    pub fn set_urr_target(&mut self, slot: u32, total_bytes: u64) -> Result<(), SouthboundError> {
        let write = |dp: &mut Self, t: u64| {
            dp.arrays.urr_thresholds.set(
                slot,
                &UrrThreshold {
                    total_bytes: t,
                    reported: 0,
                },
            )
        };
        if total_bytes == 0 {
            return write(self, 0);
        }
        write(self, u64::MAX)?;
        let p = self.urr_pcpu_sum(slot)?;
        let frozen = p.ul_bytes + p.dl_bytes;
        write(self, total_bytes.saturating_sub(frozen).max(1))
    }

    /// Tells the datapath one of the UP function's N6 addresses (the source of the ICMP or
    /// ICMPv6 it sends to the data network); the other family's address is kept.
    pub fn set_n6_address(&mut self, a: std::net::IpAddr) -> Result<(), SouthboundError> {
        let name = bpf_abi::gtp::MAP_GTP_CONFIG;
        let map = self
            .ebpf_mut()
            .map_mut(name)
            .ok_or(SouthboundError::Full(name))?;
        let mut map: Array<_, bpf_abi::gtp::GtpConfig> =
            Array::try_from(map).map_err(map_err(name))?;
        let mut cfg = map
            .get(&0, 0)
            .map_err(map_err(bpf_abi::gtp::MAP_GTP_CONFIG))?;
        match a {
            std::net::IpAddr::V4(a) => cfg.n6_v4 = a.octets(),
            std::net::IpAddr::V6(a) => cfg.n6_v6 = a.octets(),
        }
        map.set(0, cfg, 0)
            .map_err(map_err(bpf_abi::gtp::MAP_GTP_CONFIG))
    }

    /// A descriptor of the event ring buffer, readable (epoll) when events wait.
    pub fn events_fd(&self) -> Result<std::os::fd::OwnedFd, SouthboundError> {
        use std::os::fd::AsFd;
        let map = self
            .ebpf()
            .map(MAP_EVENTS)
            .ok_or(SouthboundError::Full(MAP_EVENTS))?;
        let rb = aya::maps::RingBuf::try_from(map).map_err(map_err(MAP_EVENTS))?;
        rb.as_fd()
            .try_clone_to_owned()
            .map_err(|e| SouthboundError::Map {
                name: MAP_EVENTS,
                source: MapError::IoError(e),
            })
    }

    /// Takes up to `max` events from the ring buffer.
    pub fn drain_events(&mut self, max: usize) -> Result<Vec<DatapathEvent>, SouthboundError> {
        let map = self
            .ebpf_mut()
            .map_mut(MAP_EVENTS)
            .ok_or(SouthboundError::Full(MAP_EVENTS))?;
        let mut rb = aya::maps::RingBuf::try_from(map).map_err(map_err(MAP_EVENTS))?;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(item) = rb.next() else { break };
            if item.len() < size_of::<Event>() {
                continue;
            }
            // SAFETY: the record holds an Event written by the datapath (size checked above);
            // read_unaligned copes with the ring buffer's 8-byte alignment.
            let e: Event = unsafe { std::ptr::read_unaligned(item.as_ptr() as *const Event) };
            let n = (e.len as usize).min(EVENT_DATA_LEN);
            out.push(DatapathEvent {
                kind: e.kind,
                session: e.session,
                id: e.id,
                action: e.action,
                value: e.value,
                qfi: e.qfi,
                ppi: e.ppi,
                data: e.data[..n].to_vec(),
            });
        }
        Ok(out)
    }

    /// Token buckets of the QER in `slot`.
    pub fn qer_state(&self, slot: u32) -> Result<QerState, SouthboundError> {
        self.arrays.qer_state.get(slot)
    }

    /// Takes over the slots of sessions installed by a previous controller into the pinned
    /// maps (from the store), so the allocators never hand them out again.
    pub fn adopt(&mut self, sessions: &[&InstalledParts]) {
        let mut pdrs: Vec<(u32, u32)> = sessions.iter().flat_map(|p| p.pdr_runs.clone()).collect();
        let mut sdfs: Vec<(u32, u32)> = sessions.iter().flat_map(|p| p.sdf_runs.clone()).collect();
        let one = |v: &dyn Fn(&InstalledParts) -> &Vec<(u32, u32)>| -> Vec<(u32, u32)> {
            sessions
                .iter()
                .flat_map(|p| v(p).iter().map(|(_, s)| (*s, 1)))
                .collect()
        };
        let mut fars = one(&|p| &p.fars);
        let mut qers = one(&|p| &p.qers);
        let mut urrs = one(&|p| &p.urrs);
        self.alloc.pdrs.adopt(&mut pdrs);
        self.alloc.sdfs.adopt(&mut sdfs);
        self.alloc.fars.adopt(&mut fars);
        self.alloc.qers.adopt(&mut qers);
        self.alloc.urrs.adopt(&mut urrs);
    }

    /// Removes lookup keys no session owns (left in pinned maps by a controller that was killed
    /// between installing a session and storing it): returns how many went.
    pub fn sweep_keys(
        &mut self,
        owned: &std::collections::HashSet<Key>,
    ) -> Result<usize, SouthboundError> {
        let mut stale = self.overflow_keys()?;
        let direct = &self.arrays.ul_direct;
        for i in 0..direct.entries() {
            let slot = direct.get(i)?;
            if slot.teid != 0 {
                stale.push(Key::UlTeid(slot.teid));
            }
        }
        for t in table_keys(&self.arrays.ul_table)? {
            stale.push(Key::UlTeid(t));
        }
        for k in table_keys(&self.arrays.dl4_table)? {
            stale.push(Key::DlUe4(Ipv4Addr::from(k[0].to_ne_bytes())));
        }
        for k in table_keys(&self.arrays.dl6_table)? {
            let mut p = [0u8; 8];
            p[..4].copy_from_slice(&k[0].to_ne_bytes());
            p[4..].copy_from_slice(&k[1].to_ne_bytes());
            stale.push(Key::DlUe6(p));
        }
        stale.retain(|k| !owned.contains(k));
        for k in &stale {
            self.set_key(*k, None)?;
        }
        Ok(stale.len())
    }

    /// Slots in use per map: (PDRs, SDF filters, FARs, QERs, URRs).
    pub fn slots_in_use(&self) -> (u32, u32, u32, u32, u32) {
        let a = &self.alloc;
        (
            a.pdrs.in_use(),
            a.sdfs.in_use(),
            a.fars.in_use(),
            a.qers.in_use(),
            a.urrs.in_use(),
        )
    }

    /// The keys in the three overflow hash maps (from a scan of the kernel's maps).
    pub(crate) fn overflow_keys(&self) -> Result<Vec<Key>, SouthboundError> {
        let mut keys = Vec::new();
        macro_rules! scan {
            ($name:expr, $k:ty, $to:expr) => {{
                let map = self.ebpf().map($name).ok_or(SouthboundError::Full($name))?;
                let h: HashMap<_, $k, PdrList> = HashMap::try_from(map).map_err(map_err($name))?;
                for k in h.keys() {
                    keys.push($to(k.map_err(map_err($name))?));
                }
            }};
        }
        scan!(MAP_UL_TEID, TeidKey, |k: TeidKey| Key::UlTeid(k.teid.get()));
        scan!(MAP_DL_UE4, Ue4Key, |k: Ue4Key| Key::DlUe4(Ipv4Addr::from(
            k.addr
        )));
        scan!(MAP_DL_UE6, Ue6Key, |k: Ue6Key| Key::DlUe6(k.prefix));
        Ok(keys)
    }

    /// Sets (`Some`) or clears (`None`) `key` in the bucket table `name`, whose `buckets` are
    /// its two: in the slot that holds it, else (setting) in the first free slot of its first
    /// bucket, then of its second. [`Placed::Overflow`] when the table's hash map is where the
    /// key is to be set or cleared: both buckets full, not in the table, or the free mark.
    fn set_in_table<B: Bucket>(
        table: &mut MappedArray<B>,
        buckets: [u32; 2],
        key: B::Key,
        list: Option<PdrList>,
    ) -> Result<Placed, SouthboundError> {
        if key == B::FREE {
            return Ok(Placed::Overflow);
        }
        let mut free = None;
        for b in buckets {
            let bucket = table.get(b)?;
            if let Some(i) = (0..TEID_BUCKET_SLOTS).find(|&i| bucket.key(i) == key) {
                table.set_slot(b, i * SLOT_BYTES, B::word(key), list.map(list_word))?;
                return Ok(Placed::Updated);
            }
            if free.is_none()
                && let Some(i) = (0..TEID_BUCKET_SLOTS).find(|&i| bucket.key(i) == B::FREE)
            {
                free = Some((b, i));
            }
        }
        let (Some(list), Some((b, i))) = (list, free) else {
            return Ok(Placed::Overflow);
        };
        table.set_slot(b, i * SLOT_BYTES, B::word(key), Some(list_word(list)))?;
        Ok(Placed::New)
    }

    /// Sets (`Some`) or removes (`None`) `key` in the hash map `name`. `absent_ok`: a key
    /// that is not there is no error (a key that overflowed into the hash map, set again after
    /// a slot of its table freed up: the table holds it now, and the datapath looks there
    /// first).
    fn set_hashed_in<K: aya::Pod>(
        &mut self,
        name: &'static str,
        key: K,
        list: Option<PdrList>,
        absent_ok: bool,
    ) -> Result<(), SouthboundError> {
        let map = self
            .ebpf_mut()
            .map_mut(name)
            .ok_or(SouthboundError::Full(name))?;
        let mut h: HashMap<_, K, PdrList> = HashMap::try_from(map).map_err(map_err(name))?;
        match list {
            Some(l) => h.insert(key, l, 0).map_err(map_err(name)),
            None if absent_ok && h.get(&key, 0).is_err() => Ok(()),
            None => h.remove(&key).map_err(map_err(name)),
        }
    }

    fn set_key(&mut self, key: Key, list: Option<PdrList>) -> Result<(), SouthboundError> {
        let placed = match key {
            Key::UlTeid(t) if t & TEID_DIRECT != 0 && t & !TEID_DIRECT < self.alloc.ul_direct => {
                return self.arrays.ul_direct.set_slot(
                    t & !TEID_DIRECT,
                    0,
                    TeidBucket::word(t),
                    list.map(list_word),
                );
            }
            Key::UlTeid(t) => {
                let buckets = teid_buckets(t, self.alloc.ul_bucket_mask);
                Self::set_in_table(&mut self.arrays.ul_table, buckets, t, list)?
            }
            Key::DlUe4(a) => {
                let k = ue4_key(a.octets());
                let buckets = ue_buckets(k, self.alloc.dl4_bucket_mask);
                Self::set_in_table(&mut self.arrays.dl4_table, buckets, k, list)?
            }
            Key::DlUe6(p) => {
                let k = ue6_key(p);
                let buckets = ue_buckets(k, self.alloc.dl6_bucket_mask);
                Self::set_in_table(&mut self.arrays.dl6_table, buckets, k, list)?
            }
        };
        match placed {
            Placed::Updated => Ok(()),
            // A copy in the hash map from when both buckets were full is to go (the datapath
            // looks in the table first, so the order does not matter to it).
            Placed::New if self.overflowed.remove(&key) => self.set_hashed(key, None, true),
            Placed::New => Ok(()),
            Placed::Overflow => {
                self.set_hashed(key, list, false)?;
                match list {
                    Some(_) => self.overflowed.insert(key),
                    None => self.overflowed.remove(&key),
                };
                Ok(())
            }
        }
    }

    /// Sets (`Some`) or removes (`None`) `key` in its family's overflow hash map.
    fn set_hashed(
        &mut self,
        key: Key,
        list: Option<PdrList>,
        absent_ok: bool,
    ) -> Result<(), SouthboundError> {
        match key {
            Key::UlTeid(t) => self.set_hashed_in(
                MAP_UL_TEID,
                TeidKey {
                    teid: bpf_abi::Be32::new(t),
                },
                list,
                absent_ok,
            ),
            Key::DlUe4(a) => {
                self.set_hashed_in(MAP_DL_UE4, Ue4Key { addr: a.octets() }, list, absent_ok)
            }
            Key::DlUe6(p) => self.set_hashed_in(MAP_DL_UE6, Ue6Key { prefix: p }, list, absent_ok),
        }
    }
}

/// Bytes of a lookup slot ([`TeidSlot`], [`UeSlot`]): its key's 8, then its [`PdrList`]'s 8.
const SLOT_BYTES: usize = 16;
const _: () = {
    assert!(size_of::<TeidSlot>() == SLOT_BYTES && size_of::<UeSlot>() == SLOT_BYTES);
    assert!(std::mem::offset_of!(TeidSlot, list) == 8 && std::mem::offset_of!(UeSlot, list) == 8);
    assert!(size_of::<TeidBucket>() == SLOT_BYTES * TEID_BUCKET_SLOTS);
    assert!(size_of::<UeBucket>() == SLOT_BYTES * TEID_BUCKET_SLOTS);
};

/// A [`PdrList`] as the 8-byte word a lookup slot holds it in.
fn list_word(l: PdrList) -> u64 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&l.first.to_ne_bytes());
    b[4..].copy_from_slice(&l.count.to_ne_bytes());
    u64::from_ne_bytes(b)
}

/// The keys in use in a bucket table.
fn table_keys<B: Bucket>(table: &MappedArray<B>) -> Result<Vec<B::Key>, SouthboundError> {
    let mut keys = Vec::new();
    for i in 0..table.entries() {
        let bucket = table.get(i)?;
        for j in 0..TEID_BUCKET_SLOTS {
            if bucket.key(j) != B::FREE {
                keys.push(bucket.key(j));
            }
        }
    }
    Ok(keys)
}

/// Where [`GtpDatapath::set_in_table`] put a key.
enum Placed {
    /// In the slot that held it.
    Updated,
    /// In a free slot: a copy in the table's hash map (from when both buckets were full) is to
    /// go.
    New,
    /// Not in the table: the hash map is where it is set or cleared.
    Overflow,
}

/// A bucket of a bucket table (the TEID table, the UE tables): [`TEID_BUCKET_SLOTS`] slots,
/// each a key and a [`PdrList`], free when its key is [`Bucket::FREE`].
trait Bucket: aya::Pod {
    /// The key of a slot.
    type Key: Copy + PartialEq;
    /// The key of a free slot.
    const FREE: Self::Key;
    /// The key in slot `i`.
    fn key(&self, i: usize) -> Self::Key;
    /// A key as the 8-byte word its slot holds it in.
    fn word(key: Self::Key) -> u64;
}

impl Bucket for TeidBucket {
    type Key = u32;
    const FREE: u32 = 0;
    fn key(&self, i: usize) -> u32 {
        self.slots[i].teid
    }
    fn word(teid: u32) -> u64 {
        // TeidSlot: the TEID, then 4 bytes of padding (0).
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&teid.to_ne_bytes());
        u64::from_ne_bytes(b)
    }
}

impl Bucket for UeBucket {
    type Key = [u32; 2];
    const FREE: [u32; 2] = [0, 0];
    fn key(&self, i: usize) -> [u32; 2] {
        self.slots[i].key
    }
    fn word(key: [u32; 2]) -> u64 {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&key[0].to_ne_bytes());
        b[4..].copy_from_slice(&key[1].to_ne_bytes());
        u64::from_ne_bytes(b)
    }
}

/// Builders of the datapath's rule types, for the controller and tests.
pub mod build {
    use bpf_abi::{
        Be16, Be32,
        gtp::{
            FAR_DROP, FAR_FORW, Far, OHC_GTPU_IPV4, OHC_NONE, PPI_NONE, Qer, SDF_IPV6, SDF_PROTO,
            SdfFilter,
        },
    };
    use std::net::IpAddr;

    fn mask(len: u8, v6: bool) -> [u8; 16] {
        let bits = if v6 { len.min(128) } else { len.min(32) };
        let mut m = [0u8; 16];
        for (i, b) in m.iter_mut().enumerate() {
            let left = i32::from(bits) - (i as i32) * 8;
            *b = if left >= 8 {
                0xff
            } else if left <= 0 {
                0
            } else {
                0xffu8 << (8 - left)
            };
        }
        m
    }

    fn bytes(a: IpAddr) -> [u8; 16] {
        let mut b = [0u8; 16];
        match a {
            IpAddr::V4(v) => b[..4].copy_from_slice(&v.octets()),
            IpAddr::V6(v) => b = v.octets(),
        }
        b
    }

    /// An SDF filter on the packet's source and destination networks, protocol (None: any) and
    /// port ranges (inclusive).
    pub fn sdf(
        proto: Option<u8>,
        src: (IpAddr, u8),
        sport: (u16, u16),
        dst: (IpAddr, u8),
        dport: (u16, u16),
    ) -> SdfFilter {
        let v6 = src.0.is_ipv6();
        SdfFilter {
            flags: if v6 { SDF_IPV6 } else { 0 } | if proto.is_some() { SDF_PROTO } else { 0 },
            proto: proto.unwrap_or(0),
            tos: 0,
            tos_mask: 0,
            spi: Be32::new(0),
            flow_label: 0,
            sport: [sport.0, sport.1],
            dport: [dport.0, dport.1],
            src: bytes(src.0),
            src_mask: mask(src.1, v6),
            dst: bytes(dst.0),
            dst_mask: mask(dst.1, v6),
        }
    }

    /// A FAR that forwards without a new outer header (uplink to N6).
    pub fn far_forward() -> Far {
        Far {
            action: FAR_FORW,
            ohc: OHC_NONE,
            flags: 0,
            tos: 0,
            teid: Be32::new(0),
            peer: [0; 16],
            local: [0; 16],
            port: Be16::new(0),
            _pad: [0; 2],
        }
    }

    /// A FAR that forwards into a GTP-U/UDP/IPv4 tunnel to `peer` with `teid`, from `local`.
    pub fn far_gtpu_v4(teid: u32, local: std::net::Ipv4Addr, peer: std::net::Ipv4Addr) -> Far {
        let mut f = far_forward();
        f.ohc = OHC_GTPU_IPV4;
        f.teid = Be32::new(teid);
        f.peer[..4].copy_from_slice(&peer.octets());
        f.local[..4].copy_from_slice(&local.octets());
        f.port = Be16::new(2152);
        f
    }

    /// A FAR that forwards into a GTP-U/UDP/IPv6 tunnel to `peer` with `teid`, from `local`.
    pub fn far_gtpu_v6(teid: u32, local: std::net::Ipv6Addr, peer: std::net::Ipv6Addr) -> Far {
        let mut f = far_forward();
        f.ohc = bpf_abi::gtp::OHC_GTPU_IPV6;
        f.teid = Be32::new(teid);
        f.peer = peer.octets();
        f.local = local.octets();
        f.port = Be16::new(2152);
        f
    }

    /// A FAR that drops.
    pub fn far_drop() -> Far {
        Far {
            action: FAR_DROP,
            ..far_forward()
        }
    }

    /// A QER with both gates open and no MBR.
    pub fn qer_open() -> Qer {
        Qer {
            gate: 0,
            qfi: 0,
            rqi: 0,
            ppi: PPI_NONE,
            _pad: [0; 4],
            mbr_ul: 0,
            mbr_dl: 0,
            burst_ul: 0,
            burst_dl: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::southbound::slots::{MapSizes, Slots};
    use bpf_abi::gtp::{MAP_DL_UE4_TABLE, MAP_DL_UE6_TABLE, MAP_UL_TEID_TABLE};

    #[test]
    fn sdf_masks_follow_the_prefix_length() {
        let f = build::sdf(
            Some(17),
            ("198.51.100.0".parse().unwrap(), 22),
            (0, 65535),
            ("0.0.0.0".parse().unwrap(), 0),
            (53, 53),
        );
        assert_eq!(&f.src_mask[..4], &[0xff, 0xff, 0xfc, 0]);
        assert_eq!(f.dst_mask, [0; 16]);
        let g = build::sdf(
            None,
            ("2001:db8::".parse().unwrap(), 33),
            (0, 65535),
            ("::".parse().unwrap(), 0),
            (0, 65535),
        );
        assert_eq!(&g.src_mask[..5], &[0xff, 0xff, 0xff, 0xff, 0x80]);
    }

    #[test]
    fn slots_reuse_freed_runs_of_the_same_length() {
        let mut s = Slots::new("T", 10);
        let a = s.alloc(4).unwrap();
        let b = s.alloc(4).unwrap();
        assert_eq!((a, b), (0, 4));
        assert!(matches!(s.alloc(3), Err(SouthboundError::Full("T"))));
        s.free(a, 4);
        assert_eq!(s.in_use(), 4);
        assert_eq!(s.alloc(4).unwrap(), 0);
        assert_eq!(s.alloc(2).unwrap(), 8);
        assert_eq!(s.in_use(), 10);
    }

    #[test]
    fn sizes_scale_with_sessions() {
        let m = MapSizes::for_sessions(1000);
        assert_eq!((m.ul_keys, m.pdrs, m.fars), (1000, 4256, 2256));
        // Every map holds 1000 entries; the TEID table's entries are buckets of four slots,
        // twice as many slots as keys.
        for (name, n) in m.entries() {
            let slots = if [MAP_UL_TEID_TABLE, MAP_DL_UE4_TABLE, MAP_DL_UE6_TABLE].contains(&name) {
                n * bpf_abi::gtp::TEID_BUCKET_SLOTS as u32 / 2
            } else {
                n
            };
            assert!(slots >= 1000, "{name}: {n}");
        }
    }
}
