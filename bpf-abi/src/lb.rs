//! The L4 load balancer's maps (bpf-lb): services, their backends, a Maglev lookup table per
//! service, and the connection tracking table.
//!
//! - `LB_SERVICES` ([`MAP_SERVICES`]): `BPF_MAP_TYPE_HASH` from a [`ServiceKey`] (VIP,
//!   protocol, port; port 0 for every port) to a [`Service`].
//! - `LB_BACKENDS` ([`MAP_BACKENDS`]): `BPF_MAP_TYPE_ARRAY` of [`Backend`] by backend ID.
//! - `LB_MAGLEV` ([`MAP_MAGLEV`]): `BPF_MAP_TYPE_ARRAY` of backend IDs, [`MAGLEV_SIZE`] slots a
//!   service (service ID times [`MAGLEV_SIZE`] plus the flow's hash modulo it): Maglev
//!   consistent hashing, a backend's removal moves only the flows it had.
//! - `LB_CONNTRACK` ([`MAP_CONNTRACK`]): `BPF_MAP_TYPE_LRU_HASH` from a [`FlowKey`] to a
//!   [`Ct`]: each connection has two entries, the client's direction (to the VIP, rewritten to
//!   the backend) and the backend's reply (from the backend, rewritten to come from the VIP).
//!
//! All sized at load time.

/// The ingress program.
pub const PROG_XDP_LB: &str = "xdp_lb";
/// Its IPv6 half (tail call, index 0 of [`MAP_LB_JUMP`]).
pub const PROG_XDP_LB6: &str = "xdp_lb6";
/// Program array of `xdp_lb`'s tail call.
pub const MAP_LB_JUMP: &str = "LB_JUMP";
/// Services.
pub const MAP_SERVICES: &str = "LB_SERVICES";
/// Backends.
pub const MAP_BACKENDS: &str = "LB_BACKENDS";
/// Maglev lookup tables.
pub const MAP_MAGLEV: &str = "LB_MAGLEV";
/// Connection tracking.
pub const MAP_CONNTRACK: &str = "LB_CONNTRACK";
/// Slots of a service's Maglev table (a prime, about 100 times the backends a service has at
/// most, so that shares stay within about 1 % of the weights).
pub const MAGLEV_SIZE: u32 = 4099;
/// Backends a service has at most.
pub const MAX_BACKENDS_PER_SERVICE: usize = 32;

/// A service: what a packet's destination is matched against.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    /// The VIP, network order (IPv4 in the first 4 bytes, the rest 0).
    pub vip: [u8; 16],
    /// Destination port (host order); 0: every port.
    pub port: u16,
    /// IP protocol (6 TCP, 17 UDP, 132 SCTP).
    pub proto: u8,
    /// 4 or 6.
    pub family: u8,
}

const _: () = assert!(size_of::<ServiceKey>() == 20);

/// A service's entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Its index (its Maglev table starts at `id * MAGLEV_SIZE`).
    pub id: u32,
    /// Backends it has (0: packets to it are dropped, counted).
    pub backends: u32,
}

/// A backend.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backend {
    /// Address, network order (IPv4 in the first 4 bytes).
    pub addr: [u8; 16],
    /// Port (host order); 0: the packet's own destination port.
    pub port: u16,
    /// 4 or 6.
    pub family: u8,
    /// 1 when the slot holds a backend.
    pub used: u8,
}

const _: () = assert!(size_of::<Backend>() == 20);

/// One direction of a connection, as it arrives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Source address, network order.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Source port (host order).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// 4 or 6.
    pub family: u8,
    /// Zero.
    pub _pad: [u8; 2],
}

const _: () = assert!(size_of::<FlowKey>() == 40);

/// Directions of a [`Ct`] entry.
pub mod dir {
    /// From the client to the VIP: the destination becomes the backend.
    pub const ORIGINAL: u8 = 0;
    /// From the backend to the client: the source becomes the VIP.
    pub const REPLY: u8 = 1;
}

/// States of a [`Ct`] entry (of its direction), from the TCP flags it saw, and how long each
/// lives without a packet.
pub mod state {
    /// UDP.
    pub const UDP: u8 = 0;
    /// TCP: a SYN without ACK (the handshake).
    pub const SYN: u8 = 1;
    /// TCP: anything else before a FIN or RST.
    pub const ESTABLISHED: u8 = 2;
    /// TCP: a FIN or RST was seen (it stays closing).
    pub const CLOSING: u8 = 3;

    /// Seconds an entry lives after its last packet, by state.
    pub const fn timeout_s(state: u8) -> u64 {
        match state {
            SYN => 60,
            ESTABLISHED => 6 * 3600,
            CLOSING => 10,
            _ => 120,
        }
    }
}

/// A connection tracking entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ct {
    /// The address written: the backend's (destination) or the VIP (source), network order.
    pub nat_addr: [u8; 16],
    /// The port written.
    pub nat_port: u16,
    /// [`dir`].
    pub dir: u8,
    /// [`state`].
    pub state: u8,
    /// The backend's ID.
    pub backend: u32,
    /// Packets seen in this direction.
    pub packets: u64,
    /// When the entry expires without another packet (CLOCK_MONOTONIC, ns: the kernel's
    /// coarse clock; the controller removes expired entries, the datapath treats them as
    /// gone).
    pub expires_ns: u64,
}

const _: () = assert!(size_of::<Ct>() == 40);

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: repr(C), no padding (the sizes are asserted), any bit pattern valid.
    unsafe impl aya::Pod for ServiceKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Service {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Backend {}
    // SAFETY: as above.
    unsafe impl aya::Pod for FlowKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Ct {}
}
