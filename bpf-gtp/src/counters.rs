//! The per-CPU counters of this object: the outcome counters every program writes
//! (`bpf_net::counters`) and the forwarded packets per interface and QFI.

use aya_ebpf::{macros::map, maps::PerCpuArray};
use bpf_abi::{
    Counter,
    counters::{Ingress, QFI_SLOTS, qfi_slot},
};
pub use bpf_net::counters::count;

#[map(name = "QFI_COUNTERS")]
static QFI_COUNTERS: PerCpuArray<Counter> = PerCpuArray::with_max_entries(QFI_SLOTS, 0);

/// Counts one packet of `bytes` forwarded from `ingress` in QoS Flow `qfi`, on this CPU.
#[inline(always)]
pub fn count_qfi(ingress: Ingress, qfi: u8, bytes: u64) {
    if let Some(c) = QFI_COUNTERS.get_ptr_mut(qfi_slot(ingress, qfi)) {
        // SAFETY: this CPU's slot of a per-CPU array, written only by this program run (no
        // preemption inside a BPF program on one CPU).
        unsafe {
            (*c).packets += 1;
            (*c).bytes += bytes;
        }
    }
}
