//! eBPF programs of the L4 load balancer. Entry points only: each maps the outcome of its
//! pipeline to an action and counts it.
#![no_std]
#![no_main]
// Map keys and values go by reference: a by-value copy costs stack, of which a program and
// its calls have 512 bytes in all.
#![allow(clippy::needless_borrows_for_generic_args)]

mod dsr;
mod icmp;
mod ip;
mod maps;
mod nat;
mod nat64;
mod nat64_icmp;
mod sctp;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

/// Ingress: TCP and UDP to a service are translated to a backend (DNAT), replies from a
/// backend back to the VIP, by connection tracking; anything else goes to the kernel.
#[xdp]
pub fn xdp_lb(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat::ingress::<false>)
}

/// The IPv6 half of `xdp_lb`, reached only by tail call from it.
#[xdp]
pub fn xdp_lb6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat::ingress::<true>)
}

/// A TCP or UDP packet without a conntrack entry (IPv4): a new connection's entries made,
/// reached by tail call from `xdp_lb` (and back).
#[xdp]
pub fn xdp_lb_new(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat::open::<false>)
}

/// As `xdp_lb_new`, IPv6, from `xdp_lb6`.
#[xdp]
pub fn xdp_lb_new6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat::open::<true>)
}

/// SCTP over IPv4 to a service or of a tracked association, reached by tail call from
/// `xdp_lb`.
#[xdp]
pub fn xdp_lb_sctp(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, sctp::ingress::<false>)
}

/// SCTP over IPv6, reached by tail call from `xdp_lb6`.
#[xdp]
pub fn xdp_lb_sctp6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, sctp::ingress::<true>)
}

/// An SCTP INIT ACK over IPv4, reached by tail call from `xdp_lb_sctp`.
#[xdp]
pub fn xdp_lb_sctp_ack(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, sctp::init_ack::<false>)
}

/// An SCTP INIT ACK over IPv6, reached by tail call from `xdp_lb_sctp6`.
#[xdp]
pub fn xdp_lb_sctp_ack6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, sctp::init_ack::<true>)
}

/// NAT64, the client's direction (IPv6 to IPv4), reached by tail call from `xdp_lb6`.
#[xdp]
pub fn xdp_lb_64(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat64::to_v4)
}

/// NAT64, the backend's direction (IPv4 to IPv6), reached by tail call from `xdp_lb`.
#[xdp]
pub fn xdp_lb_46(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat64::to_v6)
}

/// An ICMP error about a tracked connection (IPv4), reached by tail call from `xdp_lb`.
#[xdp]
pub fn xdp_lb_icmp(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, icmp::ingress::<false>)
}

/// An ICMPv6 error about a tracked connection, reached by tail call from `xdp_lb6`.
#[xdp]
pub fn xdp_lb_icmp6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, icmp::ingress::<true>)
}

/// NAT64: an ICMP error from the IPv4 side about a connection, rebuilt as ICMPv6 to the
/// client, reached by tail call from `xdp_lb_icmp`.
#[xdp]
pub fn xdp_lb_icmp46(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat64_icmp::to_v6)
}

/// NAT64: an ICMPv6 error from the client's side about a connection, rebuilt as ICMP to the
/// backend, reached by tail call from `xdp_lb_icmp6`.
#[xdp]
pub fn xdp_lb_icmp64(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, nat64_icmp::to_v4)
}

/// An ICMPv6 error about an SCTP association over IPv6, reached by tail call from
/// `xdp_lb_icmp6`.
#[xdp]
pub fn xdp_lb_sctp_icmp6(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, sctp::icmp6)
}

/// A DSR packet too big for the egress MTU once encapsulated: ICMP Fragmentation Needed or
/// ICMPv6 Packet Too Big to the client, reached by tail call from `xdp_lb(6)`.
#[xdp]
pub fn xdp_lb_too_big(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, dsr::too_big)
}

/// A backend's side of DSR through a tunnel: IPIP / IP6IP6 to its VIPs decapsulated for the
/// kernel (for hosts without the kernel's tunnel devices).
#[xdp]
pub fn xdp_lb_decap(ctx: XdpContext) -> u32 {
    bpf_net::run!(ctx, dsr::decap)
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

/// License of the programs: GPL, for the GPL-only helpers (bpf_fib_lookup and friends).
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
