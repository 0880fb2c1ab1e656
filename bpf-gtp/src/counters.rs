//! The per-CPU outcome counters (`COUNTERS`, see `bpf_abi::counters`).
//!
//! Written here, once per packet, by every program of this object; read by userspace.

use aya_ebpf::{macros::map, maps::PerCpuArray};
use bpf_abi::{
    Counter, Reason,
    counters::{Ingress, QFI_SLOTS, qfi_slot},
};

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<Counter> = PerCpuArray::with_max_entries(Reason::COUNT, 0);

#[map(name = "QFI_COUNTERS")]
static QFI_COUNTERS: PerCpuArray<Counter> = PerCpuArray::with_max_entries(QFI_SLOTS, 0);

/// Counts one packet of `bytes` forwarded from `ingress` in QoS Flow `qfi`, on this CPU.
#[inline(always)]
pub fn count_qfi(ingress: Ingress, qfi: u8, bytes: u64) {
    if let Some(c) = QFI_COUNTERS.get_ptr_mut(qfi_slot(ingress, qfi)) {
        // SAFETY: as in `count`: this CPU's slot, written only by this program run.
        unsafe {
            (*c).packets += 1;
            (*c).bytes += bytes;
        }
    }
}

/// Counts one packet of `bytes` with outcome `reason` on this CPU.
#[inline(always)]
pub fn count(reason: Reason, bytes: u64) {
    if let Some(c) = COUNTERS.get_ptr_mut(reason as u32) {
        // SAFETY: the pointer is this CPU's slot of a per-CPU array; nothing else writes it while
        // this program runs (no preemption inside a BPF program on one CPU).
        unsafe {
            (*c).packets += 1;
            (*c).bytes += bytes;
        }
    }
}
