//! eBPF programs of the GTP-U user plane. Entry points only: each maps the outcome of its
//! pipeline to an action and counts it.
#![no_std]
#![no_main]

mod counters;
mod echo;
mod n3;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use bpf_abi::{Reason, Verdict};

/// N3 (and N9) ingress: GTP-U from the access network (TS 29.281).
#[xdp]
pub fn xdp_n3(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match n3::ingress(&ctx) {
        Ok(r) | Err(r) => r,
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// Returns XDP_PASS and touches nothing: the baseline the benchmark subtracts.
#[xdp]
pub fn xdp_noop(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[inline(always)]
fn xdp_verdict(reason: Reason) -> u32 {
    match reason.verdict() {
        Verdict::Pass => xdp_action::XDP_PASS,
        Verdict::Drop => xdp_action::XDP_DROP,
        Verdict::Tx => xdp_action::XDP_TX,
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // A reachable panic is a verifier rejection (an infinite loop); none is reachable.
    loop {}
}

/// License of the programs: GPL, for the GPL-only helpers (bpf_fib_lookup and friends).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
