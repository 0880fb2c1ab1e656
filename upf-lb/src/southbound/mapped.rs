//! bpf-gtp's rule and lookup arrays mapped into the controller's memory (`BPF_F_MMAPABLE`,
//! Linux 5.5): a session's FARs, QERs, URRs, SDF filters, PDRs and table slots are written as
//! memory, not by one `bpf(BPF_MAP_UPDATE_ELEM)` system call each.
//!
//! The kernel lays an array map's values out back to back, each rounded up to 8 bytes, from
//! offset 0 of the mapping. A value written here is seen by the datapath as a map update's copy
//! would be: not atomically as a whole. That is why every writer keeps to make before break
//! (a rule slot is written while no key leads to it), and why a lookup slot is written in
//! 8-byte stores in the order that keeps a reader right: a new slot's list before its key, a
//! freed slot's key before its list, an existing key's list in one store
//! ([`MappedArray::set_slot`]).

use super::error::SouthboundError;
use aya::maps::{MapData, MapError};
use bpf_abi::gtp::{
    Far, MAP_DL_UE4_TABLE, MAP_DL_UE6_TABLE, MAP_FARS, MAP_PDRS, MAP_QER_STATE, MAP_QERS, MAP_SDFS,
    MAP_UL_TEID_DIRECT, MAP_UL_TEID_TABLE, MAP_URR_COUNTERS, MAP_URR_THRESHOLDS, Pdr, Qer,
    QerState, SdfFilter, TeidBucket, TeidSlot, UeBucket, UrrCounters, UrrThreshold,
};
use std::{
    marker::PhantomData,
    os::fd::{AsFd, AsRawFd},
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};

/// An array map of `V` mapped read-write.
pub struct MappedArray<V> {
    name: &'static str,
    base: NonNull<u8>,
    bytes: usize,
    entries: u32,
    _v: PhantomData<V>,
}

// SAFETY: the mapping is plain shared memory owned by this value alone (no other handle to it
// exists in the process); moving it to another thread moves that ownership. `&self` methods
// only read, and writes need `&mut self`, so the usual borrow rules keep threads apart.
unsafe impl<V: Send> Send for MappedArray<V> {}
// SAFETY: as above: shared references only read.
unsafe impl<V: Sync> Sync for MappedArray<V> {}

/// The stride of an array map's values: their size rounded up to 8 bytes (the kernel's
/// `round_up(value_size, 8)` in kernel/bpf/arraymap.c).
const fn stride<V>() -> usize {
    size_of::<V>().next_multiple_of(8)
}

impl<V: aya::Pod> MappedArray<V> {
    /// Maps the array map `map` (named `name`, created with `BPF_F_MMAPABLE`).
    pub fn new(name: &'static str, map: &MapData) -> Result<Self, MapError> {
        const { assert!(align_of::<V>() <= 8) };
        let info = map.info()?;
        if info.value_size() as usize != size_of::<V>() {
            return Err(MapError::InvalidValueSize {
                size: size_of::<V>(),
                expected: info.value_size() as usize,
            });
        }
        if info.map_flags() & bpf_abi::gtp::MAP_F_MMAPABLE == 0 {
            return Err(MapError::IoError(std::io::Error::other(
                "created without BPF_F_MMAPABLE",
            )));
        }
        let entries = info.max_entries();
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let bytes = (entries as usize * stride::<V>()).next_multiple_of(page);
        // SAFETY: a new shared mapping of the map's value area (offset 0, its whole size);
        // no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                map.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(MapError::IoError(std::io::Error::last_os_error()));
        }
        let base = NonNull::new(p.cast())
            .ok_or_else(|| MapError::IoError(std::io::Error::other("mmap returned null")))?;
        Ok(MappedArray {
            name,
            base,
            bytes,
            entries,
            _v: PhantomData,
        })
    }

    /// Entries of the array.
    pub fn entries(&self) -> u32 {
        self.entries
    }

    fn at(&self, i: u32) -> Result<*mut V, SouthboundError> {
        if i >= self.entries {
            return Err(SouthboundError::Map {
                name: self.name,
                source: MapError::OutOfBounds {
                    index: i,
                    max_entries: self.entries,
                },
            });
        }
        // SAFETY: i < entries, so the offset lies inside the mapping (bytes >= entries *
        // stride); values start 8-byte aligned and V needs at most 8.
        Ok(unsafe { self.base.as_ptr().add(i as usize * stride::<V>()) }.cast())
    }

    /// Value `i`.
    pub fn get(&self, i: u32) -> Result<V, SouthboundError> {
        let p = self.at(i)?;
        // SAFETY: p is in bounds and aligned (at); V is Pod, so any bytes are a value; volatile,
        // because the datapath writes this memory too.
        Ok(unsafe { p.read_volatile() })
    }

    /// Writes value `i` (not atomically: only where no key leads the datapath to it, or where
    /// a torn value is harmless, as a map update's copy would be).
    pub fn set(&mut self, i: u32, v: &V) -> Result<(), SouthboundError> {
        let p = self.at(i)?;
        // SAFETY: p is in bounds and aligned (at); the memory is a shared mapping the
        // datapath reads, hence volatile.
        unsafe { p.write_volatile(*v) };
        Ok(())
    }

    /// Writes the 16-byte lookup slot `slot` of value `i`, whose first 8 bytes are its key
    /// (0: free) and last 8 its `PdrList`, in the order that keeps a concurrent reader right:
    /// a new key's list before the key, a freed slot's key (0) before its list, and the list
    /// of a key the slot already holds in one 8-byte store. `key` and `list` are the slot's
    /// two words as native-endian bytes.
    pub fn set_slot(
        &mut self,
        i: u32,
        offset: usize,
        key: u64,
        list: Option<u64>,
    ) -> Result<(), SouthboundError> {
        let p = self.at(i)?;
        assert!(
            offset.is_multiple_of(8) && offset + 16 <= size_of::<V>(),
            "slot outside value"
        );
        // SAFETY: both words lie inside value i (asserted), 8-byte aligned (values are, and
        // offset is a multiple of 8); AtomicU64 over shared memory is how a word is stored in
        // one access the datapath can never see half of.
        let (k, l) = unsafe {
            let w = p.cast::<u8>().add(offset).cast::<u64>();
            (AtomicU64::from_ptr(w), AtomicU64::from_ptr(w.add(1)))
        };
        match list {
            Some(list) => {
                l.store(list, Ordering::Release);
                if k.load(Ordering::Relaxed) != key {
                    k.store(key, Ordering::Release);
                }
            }
            None => {
                k.store(0, Ordering::Release);
                l.store(0, Ordering::Release);
            }
        }
        Ok(())
    }
}

impl<V> Drop for MappedArray<V> {
    fn drop(&mut self) {
        // SAFETY: base/bytes are the mapping made in new, unmapped once, here; nothing
        // borrows it any more (no reference outlives &self).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.bytes) };
    }
}

/// The arrays of bpf-gtp that the controller writes as memory.
pub struct GtpArrays {
    pub(super) pdrs: MappedArray<Pdr>,
    pub(super) sdfs: MappedArray<SdfFilter>,
    pub(super) fars: MappedArray<Far>,
    pub(super) qers: MappedArray<Qer>,
    pub(super) qer_state: MappedArray<QerState>,
    pub(super) urr_counters: MappedArray<UrrCounters>,
    pub(super) urr_thresholds: MappedArray<UrrThreshold>,
    pub(super) ul_direct: MappedArray<TeidSlot>,
    pub(super) ul_table: MappedArray<TeidBucket>,
    pub(super) dl4_table: MappedArray<UeBucket>,
    pub(super) dl6_table: MappedArray<UeBucket>,
}

impl GtpArrays {
    /// Maps the arrays of a loaded bpf-gtp.
    pub fn new(ebpf: &aya::Ebpf) -> Result<Self, (&'static str, MapError)> {
        fn one<V: aya::Pod>(
            ebpf: &aya::Ebpf,
            name: &'static str,
        ) -> Result<MappedArray<V>, (&'static str, MapError)> {
            match ebpf.map(name) {
                Some(aya::maps::Map::Array(d)) => MappedArray::new(name, d).map_err(|e| (name, e)),
                _ => Err((
                    name,
                    MapError::InvalidName {
                        name: name.to_string(),
                    },
                )),
            }
        }
        Ok(GtpArrays {
            pdrs: one(ebpf, MAP_PDRS)?,
            sdfs: one(ebpf, MAP_SDFS)?,
            fars: one(ebpf, MAP_FARS)?,
            qers: one(ebpf, MAP_QERS)?,
            qer_state: one(ebpf, MAP_QER_STATE)?,
            urr_counters: one(ebpf, MAP_URR_COUNTERS)?,
            urr_thresholds: one(ebpf, MAP_URR_THRESHOLDS)?,
            ul_direct: one(ebpf, MAP_UL_TEID_DIRECT)?,
            ul_table: one(ebpf, MAP_UL_TEID_TABLE)?,
            dl4_table: one(ebpf, MAP_DL_UE4_TABLE)?,
            dl6_table: one(ebpf, MAP_DL_UE6_TABLE)?,
        })
    }
}
