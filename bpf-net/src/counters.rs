//! The per-CPU outcome counters (`COUNTERS`, see `bpf_abi::counters`) of every program: each
//! eBPF object that uses this module gets its own map, written once per packet, read by
//! userspace.

use aya_ebpf::{bindings::xdp_action, macros::map, maps::PerCpuArray, programs::XdpContext};
use bpf_abi::{Counter, Reason, Verdict};

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<Counter> = PerCpuArray::with_max_entries(Reason::COUNT, 0);

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

/// The XDP action of `reason`'s verdict.
#[inline(always)]
pub fn xdp_action(reason: Reason) -> u32 {
    match reason.verdict() {
        Verdict::Pass => xdp_action::XDP_PASS,
        Verdict::Drop => xdp_action::XDP_DROP,
        Verdict::Tx => xdp_action::XDP_TX,
        Verdict::Redirect => xdp_action::XDP_REDIRECT,
    }
}

/// An XDP entry point's body: runs `stage` on the packet, counts its outcome (by the length
/// the packet had when it arrived) and returns the outcome's action. `Err` is an early exit
/// with its reason, `Ok` the end of the stage.
///
/// A macro, not a function taking the stage: passed as a value, a stage function is called
/// through its `FnOnce::call_once` shim, which LLVM may leave as a BPF function of its own
/// (seen on bpf-srv6's `xdp_srv6`, whose stage then held its tail calls in a function that
/// the verifier refuses: "tail_call is only allowed in functions that return 'int'"). Named
/// here, the stage is called directly and inlined as its `#[inline(always)]` says.
#[macro_export]
macro_rules! run {
    ($ctx:expr, $stage:expr) => {{
        let ctx = &$ctx;
        let len = $crate::counters::frame_len(ctx);
        $crate::counters::finish(($stage)(ctx), len)
    }};
}

/// The length of the frame, for [`run!`].
#[inline(always)]
pub fn frame_len(ctx: &XdpContext) -> u64 {
    (ctx.data_end() - ctx.data()) as u64
}

/// Counts the outcome of a stage of a frame of `len` bytes and returns its action, for
/// [`run!`].
#[inline(always)]
pub fn finish(outcome: Result<Reason, Reason>, len: u64) -> u32 {
    let reason = match outcome {
        Ok(r) | Err(r) => r,
    };
    count(reason, len);
    xdp_action(reason)
}
