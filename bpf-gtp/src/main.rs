//! eBPF programs of the GTP-U user plane. Entry points only: each maps the outcome of its
//! pipeline to an action and counts it.
#![no_std]
#![no_main]

mod buffer;
mod counters;
mod downlink;
mod echo;
mod encap;
mod errind;
mod fib;
mod icmp;
mod maps;
mod n3;
mod outer;
mod pdr;
mod qer;
mod ratelimit;
mod reply;
mod uplink;
mod urr;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use bpf_abi::{
    Reason, Verdict,
    names::{JUMP_N3_GENERAL, JUMP_N6_GENERAL},
};

/// N3 (and N9) ingress: GTP-U from the access network (TS 29.281). The common uplink frame is
/// handled here, end to end; everything else goes on to `xdp_n3_general`. Verifier
/// workaround (kernel 6.18, LLVM 22): with the general parsers in this program too, its stack
/// passed the 512-byte limit ("BPF stack limit is exceeded" from the linker).
#[xdp]
pub fn xdp_n3(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match uplink::common(&ctx) {
        Some(r) => r,
        None => {
            // SAFETY: a tail call with this program's own context; returns only if it fails.
            unsafe { maps::N3_JUMP.tail_call(&ctx, JUMP_N3_GENERAL) };
            Reason::TailCallFailed
        }
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// N3 ingress for every packet `xdp_n3` leaves (tail call): parsed down to GTP-U by the general
/// parsers and handed to the stage of its message type.
#[xdp]
pub fn xdp_n3_general(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match n3::ingress(&ctx) {
        Ok(r) | Err(r) => r,
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// Second stage of N3 for G-PDUs, reached only by tail call from `xdp_n3_general`.
#[xdp]
pub fn xdp_n3_gpdu(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match uplink::gpdu_stage(&ctx) {
        Ok(r) | Err(r) => r,
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// N6 ingress: downlink from the data network to UEs. The common frame is handled here, end
/// to end; everything else goes on to `xdp_n6_general` (split as `xdp_n3`: the old `xdp_n6`
/// was already near the verifier's million instructions).
#[xdp]
pub fn xdp_n6(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match downlink::common(&ctx) {
        Some(r) => r,
        None => {
            // SAFETY: a tail call with this program's own context; returns only if it fails.
            unsafe { maps::N6_JUMP.tail_call(&ctx, JUMP_N6_GENERAL) };
            Reason::TailCallFailed
        }
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// N6 ingress for every frame `xdp_n6` leaves (tail call): VLAN tags, IPv4 options, IPv6
/// extension headers, anything malformed.
#[xdp]
pub fn xdp_n6_general(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match downlink::ingress(&ctx) {
        Ok(r) | Err(r) => r,
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// Second stage of N6 for GTP-U/UDP/IPv6 outer headers, reached only by tail call from `xdp_n6`
/// or `xdp_n6_general` (and `xdp_n3_gpdu`, for N9).
#[xdp]
pub fn xdp_n6_encap6(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match downlink::encap6_stage(&ctx) {
        Ok(r) | Err(r) => r,
    };
    counters::count(reason, len);
    xdp_verdict(reason)
}

/// Second stage of `xdp_n6_general` for GTP-U/UDP/IPv4 outer headers, reached only by tail
/// call from it.
#[xdp]
pub fn xdp_n6_encap4(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let reason = match downlink::encap4_stage(&ctx) {
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
        Verdict::Redirect => xdp_action::XDP_REDIRECT,
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
