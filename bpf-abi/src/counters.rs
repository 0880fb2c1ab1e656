//! Per-CPU outcome counters.
//!
//! Map `COUNTERS` ([`crate::names::MAP_COUNTERS`]): a `BPF_MAP_TYPE_PERCPU_ARRAY` of [`Counter`]
//! with [`crate::Reason::COUNT`] entries, indexed by [`crate::Reason`]. Written by every eBPF
//! program, once per packet, for the outcome that packet had; read (and summed over CPUs) by
//! userspace for statistics and tests. Per-CPU, so writing needs no atomics and reading costs the
//! datapath nothing.

/// Map `QFI_COUNTERS` ([`crate::names::MAP_QFI_COUNTERS`]): a `BPF_MAP_TYPE_PERCPU_ARRAY` of
/// [`Counter`] with [`QFI_SLOTS`] entries, indexed by [`qfi_slot`]: the packets each interface
/// forwarded, per QoS Flow (the QFI of the PDU Session Container it arrived with on N3/N9,
/// the QFI of its QER on N6; 0 when there is none), counted where its URRs count it. Bytes:
/// the length of the user's IP packet (the T-PDU), as the URRs count volume.
pub const QFI_SLOTS: u32 = 2 * 64;

/// The interface a packet arrived on, as the QFI counters split them.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingress {
    /// N3 or N9 (GTP-U from a gNB or a peer UPF): the uplink direction.
    N3 = 0,
    /// N6 (the data network): the downlink direction.
    N6 = 1,
}

/// The slot of `qfi` (6 bits, TS 38.415) arriving on `ingress` in `QFI_COUNTERS`.
#[inline(always)]
pub const fn qfi_slot(ingress: Ingress, qfi: u8) -> u32 {
    (ingress as u32) * 64 + (qfi & 0x3f) as u32
}

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
