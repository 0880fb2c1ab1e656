//! Per-CPU outcome counters.
//!
//! Map `COUNTERS` ([`crate::names::MAP_COUNTERS`]): a `BPF_MAP_TYPE_PERCPU_ARRAY` of [`Counter`]
//! with [`crate::Reason::COUNT`] entries, indexed by [`crate::Reason`]. Written by every eBPF
//! program, once per packet, for the outcome that packet had; read (and summed over CPUs) by
//! userspace for statistics and tests. Per-CPU, so writing needs no atomics and reading costs the
//! datapath nothing.

/// Packets and bytes seen with one outcome on one CPU.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counter {
    /// Packets.
    pub packets: u64,
    /// Bytes of those packets as they arrived (frame length at the hook).
    pub bytes: u64,
}

const _: () = assert!(size_of::<Counter>() == 16);

impl Counter {
    /// Adds another counter (used to sum the per-CPU values in userspace).
    pub const fn plus(self, other: Counter) -> Counter {
        Counter {
            packets: self.packets.wrapping_add(other.packets),
            bytes: self.bytes.wrapping_add(other.bytes),
        }
    }
}

#[cfg(feature = "user")]
// SAFETY: Counter is repr(C), two u64 with no padding (asserted above), valid for any bit pattern.
unsafe impl aya::Pod for Counter {}
