//! eBPF programs of the SRv6 endpoint behaviours (RFC 8986). Entry points only: each maps the
//! outcome of its pipeline to an action and counts it.
#![no_std]
#![no_main]

mod endpoint;
mod gtp4e;
mod gtp6e;
mod headend;
mod maps;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

/// SRv6 ingress: a packet to a local SID gets its behaviour; anything else goes to the kernel.
#[xdp]
pub fn xdp_srv6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, endpoint::ingress)
}

/// The ICMPv6 errors of `xdp_srv6`, reached only by tail call from it.
#[xdp]
pub fn xdp_srv6_icmp(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, |c| Ok(endpoint::icmp_stage(c)))
}

/// End.M.GTP4.E of `xdp_srv6`, reached only by tail call from it.
#[xdp]
pub fn xdp_srv6_gtp4e(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, gtp4e::stage)
}

/// End.M.GTP6.E of `xdp_srv6`, reached only by tail call from it.
#[xdp]
pub fn xdp_srv6_gtp6e(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, gtp6e::stage)
}

/// End.M.GTP6.D of `xdp_srv6`, reached only by tail call from it.
#[xdp]
pub fn xdp_srv6_gtp6d(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, headend::gtp6_d_stage)
}

/// End.Limit of `xdp_srv6`, reached only by tail call from it.
#[xdp]
pub fn xdp_srv6_limit(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, endpoint::limit_stage)
}

/// H.Insert of `xdp_headend`, reached only by tail call from it.
#[xdp]
pub fn xdp_headend_insert(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, headend::insert_stage)
}

/// SRv6 headend: packets to a destination a policy covers are encapsulated (H.Encaps,
/// H.Encaps.Red); anything else goes to the kernel.
#[xdp]
pub fn xdp_headend(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, headend::ingress)
}

/// H.M.GTP4.D of `xdp_headend`, reached only by tail call from it.
#[xdp]
pub fn xdp_headend_gtp4(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, headend::gtp4_stage)
}

/// Counts and drops every frame: the sink of the benchmark through veth.
#[xdp]
pub fn xdp_sink(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    bpf_net::counters::count(bpf_abi::Reason::BenchSink, len);
    xdp_action::XDP_DROP
}

/// The benchmark's wrapper in live-frames mode: writes the original first bytes of the frame
/// back (the page may hold what the last run made of it), then tail-calls the program under
/// test.
#[xdp]
pub fn xdp_bench(ctx: XdpContext) -> u32 {
    use aya_ebpf::helpers::generated::bpf_xdp_store_bytes;
    use bpf_abi::srv6::BENCH_RESTORE_LEN;
    let Some(f) = maps::BENCH_FRAME.get_ptr(0) else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: `f` points to a map value of BENCH_RESTORE_LEN bytes, valid for this run; the
    // helper checks the packet's length.
    let rc = unsafe {
        bpf_xdp_store_bytes(
            ctx.ctx,
            0,
            (*f).bytes.as_ptr() as *mut _,
            BENCH_RESTORE_LEN as u32,
        )
    };
    if rc != 0 {
        return xdp_action::XDP_ABORTED;
    }
    // SAFETY: as above.
    let (flows, at) = unsafe { ((*f).flows, (*f).port_at as usize) };
    if flows > 1
        && at < BENCH_RESTORE_LEN - 1
        && let Some(seq) = maps::BENCH_SEQ.get_ptr_mut(0)
    {
        // SAFETY: this CPU's counter, and `f`'s bytes, valid for this run.
        let port = unsafe {
            *seq = (*seq + 1) % flows;
            let b = &(*f).bytes;
            u16::from_be_bytes([b[at], b[at + 1]]).wrapping_add(*seq as u16)
        };
        let bytes = port.to_be_bytes();
        // SAFETY: two bytes from the stack; the helper checks the packet's length.
        if unsafe { bpf_xdp_store_bytes(ctx.ctx, at as u32, bytes.as_ptr() as *mut _, 2) } != 0 {
            return xdp_action::XDP_ABORTED;
        }
    }
    // SAFETY: a tail call with this program's own context; returns only when it fails.
    unsafe {
        maps::BENCH_JUMP.tail_call(&ctx, 0);
    }
    xdp_action::XDP_ABORTED
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
