//! The packet library of every upf-lb eBPF program.
//!
//! Contract: all packet access goes through one [`Cursor`], whose bounds check
//! (`data + off + len > data_end`) lives in exactly one place. Parsers take a cursor and an
//! offset, never assume a header length that the packet states (IPv4 IHL, IPv6 extension headers,
//! GTP-U flags and extension headers, SRH length, SCTP chunk lengths), walk variable-length chains
//! with a constant bound, and fail with the [`bpf_abi::Reason`] that names what was wrong.
//! Header types are `#[repr(C)]` structs of byte arrays (alignment 1), so a view may sit at any
//! offset. The crate is `no_std` and builds for the host too, where its tests run over slices.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics, asm_experimental_arch))]
#![cfg_attr(
    target_arch = "bpf",
    expect(internal_features, reason = "BPF atomics, see atomic.rs")
)]

pub mod atomic;
#[cfg(target_arch = "bpf")]
pub mod bucket;
pub mod common_gpdu;
#[cfg(target_arch = "bpf")]
pub mod counters;
pub mod csum;
pub mod cursor;
pub mod eth;
#[cfg(target_arch = "bpf")]
pub mod fib;
pub mod flow;
pub mod gtpu;
pub mod icmp;
#[cfg(target_arch = "bpf")]
pub mod icmp4err;
#[cfg(target_arch = "bpf")]
pub mod icmp6err;
pub mod ipv4;
pub mod ipv6;
#[cfg(target_arch = "bpf")]
pub mod launder;
pub mod mem;
pub mod ratelimit;
pub mod sctp;
pub mod srh;
pub mod tcp;
pub mod udp;

#[cfg(test)]
mod testutil;

pub use bpf_abi::Reason;
pub use cursor::Cursor;

/// IANA protocol numbers used by the parsers.
pub mod proto {
    /// IPv6 Hop-by-Hop Options (RFC 8200 4.3).
    pub const HOPOPT: u8 = 0;
    /// ICMP (RFC 792).
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 Routing header (RFC 8200 4.4), type 4 is the SRH (RFC 8754).
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 Fragment header (RFC 8200 4.5).
    pub const IPV6_FRAG: u8 = 44;
    /// ICMPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
    /// IPv6 No Next Header.
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 Destination Options (RFC 8200 4.6).
    pub const IPV6_OPTS: u8 = 60;
    /// IPv4 encapsulated in IP.
    pub const IPIP: u8 = 4;
    /// SCTP (RFC 9260).
    pub const SCTP: u8 = 132;
    /// Ethernet in IPv6 (RFC 8986 End.DX2).
    pub const ETHERNET: u8 = 143;
}
