//! eBPF programs of the SRv6 endpoint behaviours (RFC 8986). Entry points only: each maps the
//! outcome of its pipeline to an action and counts it.
#![no_std]
#![no_main]

mod endpoint;
mod maps;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use bpf_abi::Verdict;

/// SRv6 ingress: a packet to a local SID gets its behaviour; anything else goes to the kernel.
#[xdp]
pub fn xdp_srv6(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match endpoint::ingress(&ctx) {
        Ok(r) | Err(r) => r,
    };
    bpf_net::counters::count(reason, len);
    match reason.verdict() {
        Verdict::Pass => xdp_action::XDP_PASS,
        Verdict::Drop => xdp_action::XDP_DROP,
        Verdict::Tx => xdp_action::XDP_TX,
        Verdict::Redirect => xdp_action::XDP_REDIRECT,
    }
}

/// Returns XDP_PASS and touches nothing: the baseline the benchmark subtracts.
#[xdp]
pub fn xdp_noop(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // A reachable panic is a verifier rejection (an infinite loop); none is reachable.
    loop {}
}

/// License of the programs: GPL, for the GPL-only helpers (bpf_fib_lookup).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
