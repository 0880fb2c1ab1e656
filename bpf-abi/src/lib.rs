//! Every byte shared by the eBPF programs and userspace.
//!
//! Contract: this crate is the one home of map keys and values, counters, drop/pass reasons, map
//! and program names and the ABI version. Types here hold fixed-width integers and byte arrays
//! only, with padding written out and their size asserted at compile time; wire values keep
//! network byte order in their type ([`Be16`], [`Be32`]). `aya::Pod` impls exist only behind the
//! `user` feature, so the eBPF side never links aya.
#![cfg_attr(not(test), no_std)]

pub mod counters;
pub mod gtp;
pub mod lb;
pub mod names;
pub mod reason;
pub mod srv6;
pub mod wire;

pub use counters::Counter;
pub use reason::{Reason, Verdict};
pub use wire::{Be16, Be32};

/// Version of the kernel/userspace ABI: bump it on any change of a map's key or value layout, a
/// map's type, a map's flags, a reason's index or the number of reasons (the size of the pinned `COUNTERS`).
/// It is part of every pin path ([`names::PIN_ROOT`]), so a new layout never reuses maps
/// pinned by an older build.
pub const ABI_VERSION: u32 = 14;
