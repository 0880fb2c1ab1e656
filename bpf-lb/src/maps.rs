//! The maps of bpf-lb (layouts in `bpf_abi::lb`). Sizes are placeholders: the controller sets
//! `max_entries` at load time.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, ProgramArray},
};
use bpf_abi::lb::{
    Backend, Ct, FlowKey, MAX_SCTP_REWRITE, PeerKey, SctpAssoc, SctpKey, SctpLinkKey, Service,
    ServiceKey, Xlat46, Xlat64,
};

/// Services by VIP, protocol and port.
#[map(name = "LB_SERVICES")]
pub static SERVICES: HashMap<ServiceKey, Service> = HashMap::with_max_entries(1, 0);

/// Backends by ID.
#[map(name = "LB_BACKENDS")]
pub static BACKENDS: Array<Backend> = Array::with_max_entries(1, 0);

/// The VIPs (a [`ServiceKey`] with port and protocol 0), for answering Echo Requests.
#[map(name = "LB_VIPS")]
pub static VIPS: HashMap<ServiceKey, u32> = HashMap::with_max_entries(1, 0);

/// A backend's VIPs (a [`ServiceKey`] with port and protocol 0) whose tunnelled packets
/// `xdp_lb_decap` decapsulates.
#[map(name = "LB_DECAP")]
pub static DECAP: HashMap<ServiceKey, u32> = HashMap::with_max_entries(1, 0);

/// The daemon's health-probe sources ([`bpf_abi::lb::MAP_PROBE_SOURCES`]).
#[map(name = "LB_PROBE_SRC")]
pub static PROBE_SOURCES: HashMap<ServiceKey, u32> =
    HashMap::with_max_entries(bpf_abi::lb::MAX_PROBE_SOURCES, 0);

/// True when `addr` is a source of the daemon's health probes of protocol `proto`.
#[inline(always)]
pub fn is_probe_source(addr: &[u8; 16], proto: u8, family: u8) -> bool {
    let k = ServiceKey {
        vip: *addr,
        port: 0,
        proto,
        family,
    };
    // SAFETY: only whether the key is there is read.
    unsafe { PROBE_SOURCES.get(k) }.is_some()
}

/// The round-robin scheduler's per-CPU counter.
#[map(name = "LB_RR")]
pub static RR: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// Traffic by backend ID: packets and bytes to it, packets and bytes from it.
#[map(name = "LB_BACKEND_STATS")]
pub static BACKEND_STATS: PerCpuArray<[u64; 4]> = PerCpuArray::with_max_entries(1, 0);

/// The Maglev tables of the services, `MAGLEV_SIZE` backend IDs each.
#[map(name = "LB_MAGLEV")]
pub static MAGLEV: Array<u32> = Array::with_max_entries(1, 0);

/// Connection tracking, both directions of each connection.
#[map(name = "LB_CONNTRACK")]
pub static CONNTRACK: LruHashMap<FlowKey, Ct> = LruHashMap::with_max_entries(1, 0);

/// NAT64 connections by the client's IPv6 key.
#[map(name = "LB_XLAT6")]
pub static XLAT6: LruHashMap<FlowKey, Xlat64> = LruHashMap::with_max_entries(1, 0);

/// NAT64 connections by the backend's IPv4 key.
#[map(name = "LB_XLAT4")]
pub static XLAT4: LruHashMap<FlowKey, Xlat46> = LruHashMap::with_max_entries(1, 0);

/// SCTP: each backend address's association template.
#[map(name = "LB_SCTP_PEERS")]
pub static SCTP_PEERS: HashMap<PeerKey, SctpAssoc> = HashMap::with_max_entries(1, 0);

/// SCTP: established associations, two entries each.
#[map(name = "LB_SCTP_ASSOC")]
pub static SCTP_ASSOC: LruHashMap<SctpKey, SctpAssoc> = LruHashMap::with_max_entries(1, 0);

/// SCTP: associations in their handshake (bounded on its own: INIT floods stay here).
#[map(name = "LB_SCTP_HALF_OPEN")]
pub static SCTP_HALF_OPEN: LruHashMap<SctpKey, SctpAssoc> = LruHashMap::with_max_entries(1, 0);

/// SCTP: the paths (VIP indices) each INIT came on, by its Initiate Tag and ports, for its INIT
/// ACK (bounded, LRU: an INIT flood evicts only other INITs' entries).
#[map(name = "LB_SCTP_INIT_PATH")]
pub static SCTP_INIT_PATH: LruHashMap<SctpKey, u32> = LruHashMap::with_max_entries(1, 0);

/// SCTP: the paths whose VIPs' clients come in on an interface, by service and interface
/// (`bpf_abi::lb::link`). A plain hash: a configured entry is never evicted.
#[map(name = "LB_SCTP_VIP_LINK")]
pub static SCTP_VIP_LINK: HashMap<SctpLinkKey, u32> = HashMap::with_max_entries(1, 0);

/// Tail calls of `xdp_lb` (`bpf_abi::lb::jump`; filled by the loader).
#[map(name = "LB_JUMP")]
pub static LB_JUMP: ProgramArray = ProgramArray::with_max_entries(16, 0);

/// Per-CPU scratch of `xdp_lb_icmp(6)`: the packet's key (then its quote's connection), the
/// quote's new addresses and ports.
#[map(name = "LB_ICMP_SCRATCH")]
pub static ICMP_SCRATCH: PerCpuArray<[FlowKey; 2]> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU scratch of NAT64's ICMP translation: the error in, the error out.
#[map(name = "LB_XLAT_SCRATCH")]
pub static XLAT_SCRATCH: PerCpuArray<[u8; 256]> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU: the egress MTU a DSR tunnel's packet was too big for (for `xdp_lb_too_big`).
#[map(name = "LB_MTU")]
pub static MTU: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU scratch: an INIT ACK copied out for its CRC32c.
#[map(name = "LB_SCRATCH")]
pub static SCRATCH: PerCpuArray<[u8; MAX_SCTP_REWRITE]> = PerCpuArray::with_max_entries(1, 0);

/// Counts a packet of `len` bytes to (`to_backend`) or from the backend `id`.
#[inline(always)]
pub fn count_backend(id: u32, to_backend: bool, len: usize) {
    if let Some(s) = BACKEND_STATS.get_ptr_mut(id) {
        let k = if to_backend { 0 } else { 2 };
        // SAFETY: this CPU's value of the per-CPU array, valid for this run; no other writer
        // on this CPU meanwhile.
        unsafe {
            (*s)[k] += 1;
            (*s)[k + 1] += len as u64;
        }
    }
}
