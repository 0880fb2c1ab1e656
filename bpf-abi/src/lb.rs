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
//!
//! SCTP (RFC 9260), a service of one or more VIPs (one a path) whose backends have one address
//! a path, the association tracked by its two verification tags:
//! - `LB_SCTP_PEERS` ([`MAP_SCTP_PEERS`]): `BPF_MAP_TYPE_HASH` from each address of each
//!   backend ([`PeerKey`]) to its [`SctpAssoc`] template: the service's VIPs and the backend's
//!   addresses, path by path.
//! - `LB_SCTP_ASSOC` ([`MAP_SCTP_ASSOC`]): `BPF_MAP_TYPE_LRU_HASH` from an [`SctpKey`] (the
//!   verification tag a direction carries, its ports) to the association, two entries each.
//! - `LB_SCTP_HALF_OPEN` ([`MAP_SCTP_HALF_OPEN`]): the same for associations whose handshake
//!   has not completed (an INIT ACK seen, not yet the COOKIE ACK): a flood of INITs fills only
//!   this bounded table, never the one of established associations.
//! - `LB_SCTP_INIT_PATH` ([`MAP_SCTP_INIT_PATH`]): `BPF_MAP_TYPE_LRU_HASH` from an INIT's
//!   [`SctpKey`] (its Initiate Tag, which the INIT ACK carries as its verification tag, and
//!   its ports) to the paths (VIP indices) the INIT came on, a bit each, and the latest (bits
//!   8..16), so that the INIT ACK leaves from a VIP the INIT was sent to, whichever address
//!   the backend answered from.
//! - `LB_SCTP_VIP_LINK` ([`MAP_SCTP_VIP_LINK`]): `BPF_MAP_TYPE_HASH` (never evicting) from an SCTP
//!   service and an interface ([`SctpLinkKey`]) to the paths whose VIPs' clients come in on
//!   it ([`link`]), so that what leaves on that interface for a client leaves from the VIP of
//!   the one path that does: configured (the service's `links`, [`link::PINNED`]), else
//!   learnt from the clients' INITs (the first packet a client sends to a VIP).
//!
//! All sized at load time.

/// The ingress program.
pub const PROG_XDP_LB: &str = "xdp_lb";
/// Its IPv6 half (tail call, index 0 of [`MAP_LB_JUMP`]).
pub const PROG_XDP_LB6: &str = "xdp_lb6";
/// SCTP over IPv4 (tail call, index [`jump::SCTP`]).
pub const PROG_XDP_LB_SCTP: &str = "xdp_lb_sctp";
/// SCTP over IPv6 (tail call, index [`jump::SCTP6`]).
pub const PROG_XDP_LB_SCTP6: &str = "xdp_lb_sctp6";
/// SCTP INIT ACK over IPv4 (tail call, index [`jump::SCTP_ACK`]).
pub const PROG_XDP_LB_SCTP_ACK: &str = "xdp_lb_sctp_ack";
/// SCTP INIT ACK over IPv6 (tail call, index [`jump::SCTP_ACK6`]).
pub const PROG_XDP_LB_SCTP_ACK6: &str = "xdp_lb_sctp_ack6";
/// NAT64, the client's direction: IPv6 to IPv4 (tail call, index [`jump::NAT64`]).
pub const PROG_XDP_LB_64: &str = "xdp_lb_64";
/// NAT64, the backend's direction: IPv4 to IPv6 (tail call, index [`jump::NAT46`]).
pub const PROG_XDP_LB_46: &str = "xdp_lb_46";
/// ICMP errors about tracked connections (tail call, index [`jump::ICMP`]).
pub const PROG_XDP_LB_ICMP: &str = "xdp_lb_icmp";
/// ICMPv6 errors about tracked connections (tail call, index [`jump::ICMP6`]).
pub const PROG_XDP_LB_ICMP6: &str = "xdp_lb_icmp6";
/// NAT64: an ICMP error about a connection's IPv4 packet, rebuilt as ICMPv6 (tail call,
/// index [`jump::ICMP46`]).
pub const PROG_XDP_LB_ICMP46: &str = "xdp_lb_icmp46";
/// NAT64: an ICMPv6 error about a connection's IPv6 packet, rebuilt as ICMP (tail call,
/// index [`jump::ICMP64`]).
pub const PROG_XDP_LB_ICMP64: &str = "xdp_lb_icmp64";
/// An ICMPv6 error about an SCTP association over IPv6 (tail call, index
/// [`jump::SCTP_ICMP6`]).
pub const PROG_XDP_LB_SCTP_ICMP6: &str = "xdp_lb_sctp_icmp6";
/// A DSR packet too big once encapsulated: the client told (tail call, index
/// [`jump::TOO_BIG`]).
pub const PROG_XDP_LB_TOO_BIG: &str = "xdp_lb_too_big";
/// A new TCP or UDP connection over IPv4 (tail call, index [`jump::NEW`]).
pub const PROG_XDP_LB_NEW: &str = "xdp_lb_new";
/// A new TCP or UDP connection over IPv6 (tail call, index [`jump::NEW6`]).
pub const PROG_XDP_LB_NEW6: &str = "xdp_lb_new6";
/// NAT64 connections by their IPv6 (client's) key.
pub const MAP_XLAT6: &str = "LB_XLAT6";
/// NAT64 connections by their IPv4 (backend's) key.
pub const MAP_XLAT4: &str = "LB_XLAT4";
/// A backend's side of DSR through a tunnel: decapsulates IPIP / IP6IP6 to its VIPs.
pub const PROG_XDP_LB_DECAP: &str = "xdp_lb_decap";
/// The VIPs `xdp_lb_decap` decapsulates for (`BPF_MAP_TYPE_HASH` from a [`ServiceKey`] with
/// port and protocol 0).
pub const MAP_DECAP: &str = "LB_DECAP";
/// Program array of `xdp_lb`'s tail calls ([`jump`]).
pub const MAP_LB_JUMP: &str = "LB_JUMP";
/// The VIPs (`BPF_MAP_TYPE_HASH` from a [`ServiceKey`] with port and protocol 0): Echo
/// Requests to them are answered.
pub const MAP_VIPS: &str = "LB_VIPS";
/// Traffic by backend ID: `BPF_MAP_TYPE_PERCPU_ARRAY` of `[u64; 4]` (packets and bytes to
/// the backend, packets and bytes from it).
pub const MAP_BACKEND_STATS: &str = "LB_BACKEND_STATS";
/// The daemon's health-probe sources (`BPF_MAP_TYPE_HASH` from a [`ServiceKey`] with port 0
/// and the probes' protocol): what a backend sends to one of them answers a probe and is the
/// kernel's (`lb_health_probe`), never taken for a client's traffic.
pub const MAP_PROBE_SOURCES: &str = "LB_PROBE_SRC";
/// The first source port of the daemon's TCP and UDP health probes (each probe is bound to one
/// of this port and above, from a probe source): what comes back to a probe source on one of
/// them is the probe's (`lb_health_probe`), and full NAT and NAT64 never give a connection one
/// of them.
pub const PROBE_PORT_FIRST: u16 = 64_512;
/// Probe sources at most (one per local address that reaches a backend, and protocol).
pub const MAX_PROBE_SOURCES: u32 = 64;
/// SCTP: each backend address's association template.
pub const MAP_SCTP_PEERS: &str = "LB_SCTP_PEERS";
/// SCTP: established associations.
pub const MAP_SCTP_ASSOC: &str = "LB_SCTP_ASSOC";
/// SCTP: associations in their handshake.
pub const MAP_SCTP_HALF_OPEN: &str = "LB_SCTP_HALF_OPEN";
/// SCTP: the path each INIT came on, until its INIT ACK.
pub const MAP_SCTP_INIT_PATH: &str = "LB_SCTP_INIT_PATH";
/// SCTP: the interface each VIP's clients come in on.
pub const MAP_SCTP_VIP_LINK: &str = "LB_SCTP_VIP_LINK";

/// The values of `LB_SCTP_VIP_LINK`: bit `j` (0..8) for each path whose VIP's clients came in
/// on the key's interface, the latest such path's index in bits 8..16 (the path, when only
/// one bit is set), [`link::PINNED`] for a configured one.
pub mod link {
    /// Configured: not changed by what the datapath sees.
    pub const PINNED: u32 = 1 << 31;

    /// The value for path `j` seen (or configured) alone.
    pub const fn only(j: u32) -> u32 {
        (1 << j) | (j << 8)
    }

    /// The path of the interface: the one path whose clients come in on it, else None (none
    /// or several).
    pub const fn path(v: u32) -> Option<u32> {
        let mask = v & 0xff;
        if mask != 0 && mask & (mask - 1) == 0 {
            Some((v >> 8) & 0xff)
        } else {
            None
        }
    }
}
/// Paths (VIPs, and addresses of each backend) an SCTP service has at most (RFC 9260 allows
/// more; 8 covers multi-homed N2 deployments, and the bound).
pub const MAX_SCTP_PATHS: usize = 8;
/// Longest INIT ACK (its SCTP part, bytes) whose address parameters are rewritten: CRC32c is
/// not incremental, the program recomputes it over the whole packet.
pub const MAX_SCTP_REWRITE: usize = 4096;

/// Indices of `LB_JUMP`.
pub mod jump {
    /// `xdp_lb6`.
    pub const IPV6: u32 = 0;
    /// `xdp_lb_sctp`.
    pub const SCTP: u32 = 1;
    /// `xdp_lb_sctp6`.
    pub const SCTP6: u32 = 2;
    /// `xdp_lb_sctp_ack`.
    pub const SCTP_ACK: u32 = 3;
    /// `xdp_lb_sctp_ack6`.
    pub const SCTP_ACK6: u32 = 4;
    /// `xdp_lb_64`.
    pub const NAT64: u32 = 5;
    /// `xdp_lb_46`.
    pub const NAT46: u32 = 6;
    /// `xdp_lb_icmp`.
    pub const ICMP: u32 = 7;
    /// `xdp_lb_icmp6`.
    pub const ICMP6: u32 = 8;
    /// `xdp_lb_new`.
    pub const NEW: u32 = 9;
    /// `xdp_lb_new6`.
    pub const NEW6: u32 = 10;
    /// `xdp_lb` itself (`xdp_lb_new` returns there).
    pub const IPV4: u32 = 11;
    /// `xdp_lb_icmp46`.
    pub const ICMP46: u32 = 12;
    /// `xdp_lb_icmp64`.
    pub const ICMP64: u32 = 13;
    /// `xdp_lb_sctp_icmp6`.
    pub const SCTP_ICMP6: u32 = 14;
    /// `xdp_lb_too_big`.
    pub const TOO_BIG: u32 = 15;
}
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

/// The key of `LB_SCTP_VIP_LINK`: an SCTP service (by its first VIP) and an interface.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SctpLinkKey {
    /// The service's first VIP, network order (IPv4 in the first 4 bytes, the rest 0).
    pub vip: [u8; 16],
    /// The interface's index.
    pub ifindex: u32,
    /// 4 or 6.
    pub family: u8,
    /// Zero.
    pub _pad: [u8; 3],
}

const _: () = assert!(size_of::<SctpLinkKey>() == 24);

/// A service's entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Its index (its Maglev table starts at `id * MAGLEV_SIZE`).
    pub id: u32,
    /// Backends it has (0: packets to it are dropped, counted).
    pub backends: u32,
    /// How a new connection's backend is picked: [`sched`].
    pub sched: u32,
    /// How packets reach the backends: [`mode`].
    pub mode: u32,
    /// An address of this host's, network order (IPv4 in the first 4 bytes): the source of
    /// the translated packets ([`mode::FULL_NAT`], [`mode::NAT64`]) or of the tunnel's outer
    /// header ([`mode::DSR_TUNNEL`]); unused otherwise.
    pub src: [u8; 16],
}

const _: () = assert!(size_of::<Service>() == 32);

/// How a service's packets reach its backends, and its backends' replies the clients.
pub mod mode {
    /// Destination NAT: the client's packets to the backend, its source kept; the backends
    /// route their replies back through the load balancer (it is their gateway), which
    /// rewrites their source to the VIP.
    pub const DNAT: u32 = 0;
    /// Full NAT (one-arm): the client's packets leave from the service's `src` and a port of
    /// the connection's own, so the replies come back here whatever the backends' routes;
    /// the backends see the load balancer as the client.
    pub const FULL_NAT: u32 = 1;
    /// Direct server return over L2: the packet unchanged (the VIP stays its destination) to
    /// the backend's MAC address; the backend holds the VIP (on its loopback) and answers the
    /// client directly. Backends on the load balancer's link; ports unchanged.
    pub const DSR_L2: u32 = 2;
    /// Direct server return through a tunnel: the packet, unchanged, in IPIP (IPv4, RFC 2003)
    /// or IP6IP6 (IPv6, RFC 2473) from the service's `src` to the backend, which decapsulates
    /// it and answers the client directly. Ports unchanged.
    pub const DSR_TUNNEL: u32 = 3;
    /// NAT64: an IPv6 VIP, IPv4 backends, translated from `src` (its first 4 bytes).
    pub const NAT64: u32 = 4;
}

/// Schedulers: each picks a slot of the service's Maglev table (so each is weighted, and a
/// backend's removal moves only its own share).
pub mod sched {
    /// By the connection's hash (TCP, UDP: the 5-tuple; SCTP: the INIT's tag and ports).
    pub const MAGLEV: u32 = 0;
    /// By the client's address alone: every connection of a client to one backend.
    pub const SOURCE_HASH: u32 = 1;
    /// The next slot for each new connection (a per-CPU counter): weighted round robin.
    pub const ROUND_ROBIN: u32 = 2;
}

/// A NAT64 connection, the client's direction (key: its IPv6 [`FlowKey`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Xlat64 {
    /// The backend, IPv4, network order.
    pub backend: [u8; 4],
    /// The source address the packets leave with (the service's `nat64_src`).
    pub src: [u8; 4],
    /// The backend's port.
    pub backend_port: u16,
    /// The source port given to the connection (unique for its backend, address and port).
    pub src_port: u16,
    /// [`state`].
    pub state: u8,
    /// Zero.
    pub _pad: [u8; 3],
    /// The backend's ID.
    pub backend_id: u32,
    /// Zero.
    pub _pad2: u32,
    /// Expiry (CLOCK_MONOTONIC, ns, as [`Ct`]).
    pub expires_ns: u64,
}

const _: () = assert!(size_of::<Xlat64>() == 32);

/// A NAT64 connection, the backend's direction (key: its IPv4 [`FlowKey`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Xlat46 {
    /// The client, IPv6.
    pub client: [u8; 16],
    /// The VIP, IPv6.
    pub vip: [u8; 16],
    /// The client's port.
    pub client_port: u16,
    /// The VIP's port.
    pub vip_port: u16,
    /// [`state`].
    pub state: u8,
    /// Zero.
    pub _pad: [u8; 3],
    /// The backend's ID.
    pub backend_id: u32,
    /// Zero.
    pub _pad2: u32,
    /// Expiry (CLOCK_MONOTONIC, ns, as [`Ct`]).
    pub expires_ns: u64,
}

const _: () = assert!(size_of::<Xlat46>() == 56);

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

/// The flow's hash: murmur3_32 (seed 0) of four words, each address folded to one (its
/// 32-bit words XORed: every bit of an IPv6 address counts), the ports, the protocol. Which
/// slot of the service's Maglev table a new connection takes, the IPv6 Flow Label of DSR's
/// tunnel (its low 20 bits), the source ports full NAT and NAT64 try.
#[inline(always)]
pub fn flow_hash(k: &FlowKey) -> u32 {
    let fold = |a: &[u8; 16]| {
        let w = |i: usize| u32::from_ne_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]);
        w(0) ^ w(4) ^ w(8) ^ w(12)
    };
    let mix = |h: u32, k: u32| {
        let k = k
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        (h ^ k)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    };
    let mut h = mix(0, fold(&k.src));
    h = mix(h, fold(&k.dst));
    h = mix(h, (u32::from(k.sport) << 16) | u32::from(k.dport));
    h = mix(h, u32::from(k.proto));
    h ^= 16;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

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
    /// TCP: a FIN or RST was seen (it stays closing). SCTP: an ABORT or SHUTDOWN COMPLETE.
    pub const CLOSING: u8 = 3;
    /// SCTP: the INIT ACK seen, not the COOKIE ACK (RFC 9260's default cookie lifetime).
    pub const HALF_OPEN: u8 = 4;

    /// Seconds an entry lives after its last packet, by state.
    pub const fn timeout_s(state: u8) -> u64 {
        match state {
            SYN => 60,
            ESTABLISHED => 6 * 3600,
            CLOSING => 10,
            HALF_OPEN => 60,
            _ => 120,
        }
    }
}

/// A connection tracking entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ct {
    /// The address written: the backend's (destination) or the VIP (source), network order.
    /// DSR: the backend's address (the packet is sent to it, not rewritten).
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
    /// Full NAT: the other address written: the source of the client's direction (the
    /// service's `src`) or the destination of the reply (the client). DSR through a tunnel:
    /// the outer source.
    pub peer_addr: [u8; 16],
    /// Full NAT: the other port written (the connection's own source port, or the client's).
    pub peer_port: u16,
    /// The service's [`mode`] when the connection opened.
    pub mode: u8,
    /// Zero.
    pub _pad: [u8; 5],
}

const _: () = assert!(size_of::<Ct>() == 64);

/// A backend's address for one SCTP service port.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeerKey {
    /// Address, network order (IPv4 in the first 4 bytes).
    pub addr: [u8; 16],
    /// The service's port (host order).
    pub port: u16,
    /// 4 or 6.
    pub family: u8,
    /// Zero.
    pub _pad: u8,
}

const _: () = assert!(size_of::<PeerKey>() == 20);

/// One direction of an SCTP association: the verification tag its packets carry (the
/// receiver's), and their ports.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SctpKey {
    /// Verification Tag.
    pub vtag: u32,
    /// Source port (host order).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// [`dir`]: ORIGINAL (client to VIP) or REPLY (backend to client).
    pub dir: u8,
    /// 4 or 6.
    pub family: u8,
    /// Zero.
    pub _pad: [u8; 2],
}

const _: () = assert!(size_of::<SctpKey>() == 12);

/// An SCTP association through the load balancer (and, in `LB_SCTP_PEERS`, the template it
/// is made from): path `i` is the service's VIP `vips[i]` on the client's side and the
/// backend's address `addrs[i]` on its side; `clients[i]` is the client's address last seen
/// sending to `vips[i]` (zero until then), so that what the backend sends to that address
/// leaves from `vips[i]`, whichever of its own addresses the backend sent from.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpAssoc {
    /// The service's VIPs, network order.
    pub vips: [[u8; 16]; MAX_SCTP_PATHS],
    /// The backend's addresses, network order, in the VIPs' order.
    pub addrs: [[u8; 16]; MAX_SCTP_PATHS],
    /// The client's address on each path, network order (zero: none seen yet).
    pub clients: [[u8; 16]; MAX_SCTP_PATHS],
    /// Paths in use (1..=8).
    pub paths: u8,
    /// 4 or 6.
    pub family: u8,
    /// [`dir`] of this entry.
    pub dir: u8,
    /// [`state`]: HALF_OPEN, ESTABLISHED or CLOSING.
    pub state: u8,
    /// The verification tag of the other direction (its entry's key, ports swapped).
    pub twin_vtag: u32,
    /// The backend's ID.
    pub backend: u32,
    /// Zero.
    pub _pad: u32,
    /// Packets seen in this direction.
    pub packets: u64,
    /// When the entry expires without another packet (CLOCK_MONOTONIC, ns, as [`Ct`]).
    pub expires_ns: u64,
}

const _: () = assert!(size_of::<SctpAssoc>() == 416);

impl Default for SctpAssoc {
    fn default() -> Self {
        SctpAssoc {
            vips: [[0; 16]; MAX_SCTP_PATHS],
            addrs: [[0; 16]; MAX_SCTP_PATHS],
            clients: [[0; 16]; MAX_SCTP_PATHS],
            paths: 0,
            family: 0,
            dir: 0,
            state: 0,
            twin_vtag: 0,
            backend: 0,
            _pad: 0,
            packets: 0,
            expires_ns: 0,
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: repr(C), no padding (the sizes are asserted), any bit pattern valid.
    unsafe impl aya::Pod for ServiceKey {}
    // SAFETY: as above (24 bytes, no padding: `_pad` is a field).
    unsafe impl aya::Pod for SctpLinkKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Service {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Backend {}
    // SAFETY: as above.
    unsafe impl aya::Pod for FlowKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Ct {}
    // SAFETY: as above.
    unsafe impl aya::Pod for PeerKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Xlat64 {}
    // SAFETY: as above.
    unsafe impl aya::Pod for Xlat46 {}
    // SAFETY: as above.
    unsafe impl aya::Pod for SctpKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for SctpAssoc {}
}
