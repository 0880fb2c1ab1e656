//! The L4 load balancer's datapath (bpf-lb): the object loaded and verified, services and
//! their backends written into its maps, and a Maglev lookup table per service (Eisenbud et
//! al., NSDI 2016: each backend fills the table's slots in the order of its own permutation,
//! in turns, a turn per unit of weight; removing a backend moves only the flows it had).

use super::{
    LoadError,
    loader::{link_tail_call, load_programs, read_counters, xdp_of, xdp_of_mut},
    lru_entries, objects,
};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuValues},
    programs::Xdp,
};
use bpf_abi::{
    Counter, Reason,
    lb::{
        Backend, Ct, FlowKey, MAGLEV_SIZE, MAP_BACKEND_STATS, MAP_BACKENDS, MAP_CONNTRACK,
        MAP_DECAP, MAP_LB_JUMP, MAP_MAGLEV, MAP_PROBE_SOURCES, MAP_SCTP_ASSOC, MAP_SCTP_HALF_OPEN,
        MAP_SCTP_INIT_PATH, MAP_SCTP_PEERS, MAP_SCTP_VIP_LINK, MAP_SERVICES, MAP_VIPS, MAP_XLAT4,
        MAP_XLAT6, MAX_BACKENDS_PER_SERVICE, MAX_SCTP_PATHS, PROG_XDP_LB, PROG_XDP_LB_46,
        PROG_XDP_LB_64, PROG_XDP_LB_DECAP, PROG_XDP_LB_ICMP, PROG_XDP_LB_ICMP6, PROG_XDP_LB_ICMP46,
        PROG_XDP_LB_ICMP64, PROG_XDP_LB_NEW, PROG_XDP_LB_NEW6, PROG_XDP_LB_SCTP,
        PROG_XDP_LB_SCTP_ACK, PROG_XDP_LB_SCTP_ACK6, PROG_XDP_LB_SCTP_ICMP6, PROG_XDP_LB_SCTP6,
        PROG_XDP_LB_TOO_BIG, PROG_XDP_LB6, PeerKey, SctpAssoc, SctpKey, SctpLinkKey, Service,
        ServiceKey, jump, link, mode,
    },
};
use std::{
    collections::HashMap as StdMap,
    hash::{Hash, Hasher},
    net::IpAddr,
};

/// Programs of bpf-lb, all XDP.
pub const LB_PROGRAMS: &[&str] = &[
    PROG_XDP_LB,
    PROG_XDP_LB6,
    PROG_XDP_LB_SCTP,
    PROG_XDP_LB_SCTP6,
    PROG_XDP_LB_SCTP_ACK,
    PROG_XDP_LB_SCTP_ACK6,
    PROG_XDP_LB_64,
    PROG_XDP_LB_46,
    PROG_XDP_LB_ICMP,
    PROG_XDP_LB_ICMP6,
    PROG_XDP_LB_NEW,
    PROG_XDP_LB_NEW6,
    PROG_XDP_LB_ICMP46,
    PROG_XDP_LB_ICMP64,
    PROG_XDP_LB_SCTP_ICMP6,
    PROG_XDP_LB_TOO_BIG,
    PROG_XDP_LB_DECAP,
    bpf_abi::names::PROG_XDP_NOOP,
];

/// How a service's packets reach its backends (`bpf_abi::lb::mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Forwarding {
    /// Destination NAT: the backends see the clients' addresses and route their replies
    /// through the load balancer.
    #[default]
    Dnat,
    /// Full NAT (one-arm): the clients' packets leave from `source` (an address of this
    /// host's, the VIP's family) with a port of each connection's own; the backends answer
    /// `source` whatever their routes.
    FullNat {
        /// The source address.
        source: IpAddr,
    },
    /// Direct server return over L2: packets unchanged to the backend's MAC (backends on this
    /// host's link, holding the VIP; ports unchanged).
    DsrL2,
    /// Direct server return through IPIP / IP6IP6 from `source` (ports unchanged; the backends
    /// decapsulate, e.g. with `xdp_lb_decap`).
    DsrTunnel {
        /// The outer source address.
        source: IpAddr,
    },
}

impl Forwarding {
    /// Its `bpf_abi::lb::mode` and source address (the maps' form).
    fn raw(self) -> (u32, [u8; 16]) {
        match self {
            Forwarding::Dnat => (mode::DNAT, [0; 16]),
            Forwarding::FullNat { source } => (mode::FULL_NAT, addr16(source).0),
            Forwarding::DsrL2 => (mode::DSR_L2, [0; 16]),
            Forwarding::DsrTunnel { source } => (mode::DSR_TUNNEL, addr16(source).0),
        }
    }

    /// Its name in the configuration (`mode`).
    pub fn name(self) -> &'static str {
        match self {
            Forwarding::Dnat => "dnat",
            Forwarding::FullNat { .. } => "full_nat",
            Forwarding::DsrL2 => "dsr_l2",
            Forwarding::DsrTunnel { .. } => "dsr_tunnel",
        }
    }

    /// The source address it sends from, if it has one.
    pub fn source(self) -> Option<IpAddr> {
        match self {
            Forwarding::FullNat { source } | Forwarding::DsrTunnel { source } => Some(source),
            _ => None,
        }
    }

    fn dsr(self) -> bool {
        matches!(self, Forwarding::DsrL2 | Forwarding::DsrTunnel { .. })
    }
}

/// How much the load balancer's maps hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbSizes {
    /// Services (an SCTP service takes one a VIP).
    pub services: u32,
    /// Backends, over all services.
    pub backends: u32,
    /// Tracked TCP and UDP connections.
    pub connections: u32,
    /// Established SCTP associations.
    pub sctp_associations: u32,
    /// SCTP associations in their handshake (INIT ACK sent, COOKIE ACK not yet): the bound on
    /// what an INIT flood can make the load balancer hold.
    pub sctp_half_open: u32,
}

impl LbSizes {
    /// `services`, `backends` and `connections`, and room for 16 384 SCTP associations and
    /// 4096 half-open ones.
    pub fn new(services: u32, backends: u32, connections: u32) -> Self {
        LbSizes {
            services,
            backends,
            connections,
            sctp_associations: 16_384,
            sctp_half_open: 4096,
        }
    }
}

/// A backend of a multi-homed SCTP service: one address a path, in the order of the service's
/// VIPs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SctpBackendSpec {
    /// Its addresses.
    pub addrs: Vec<IpAddr>,
    /// Its share of new associations (0: draining).
    pub weight: u32,
}

/// An SCTP association as the load balancer tracks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SctpAssociation {
    /// The verification tag of the client's packets (the backend's Initiate Tag).
    pub backend_tag: u32,
    /// The verification tag of the backend's packets (the client's Initiate Tag).
    pub client_tag: u32,
    /// The client's port.
    pub client_port: u16,
    /// The service's port.
    pub port: u16,
    /// The backend's addresses (one a path).
    pub backend: Vec<IpAddr>,
    /// The VIPs.
    pub vips: Vec<IpAddr>,
    /// The client's address on each path, as last seen sending to that path's VIP (None: not
    /// yet); what the backend sends to it leaves from that VIP.
    pub clients: Vec<Option<IpAddr>>,
    /// Handshake done (COOKIE ACK seen).
    pub established: bool,
    /// ABORT or SHUTDOWN COMPLETE seen.
    pub closing: bool,
    /// Packets of the client's direction and of the backend's.
    pub packets: (u64, u64),
}

/// A backend of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendSpec {
    /// Its address (the VIP's family).
    pub addr: IpAddr,
    /// Its port; 0: the port the client asked for.
    pub port: u16,
    /// Its share of new connections, relative to the others'; 0: none (it keeps the ones it
    /// has: draining).
    pub weight: u32,
}

/// What the load balancer refuses to configure.
#[derive(Debug, thiserror::Error)]
pub enum LbError {
    /// More backends than a service has room for.
    #[error("service {vip}:{port}/{proto}: {n} backends, at most {max}")]
    TooManyBackends {
        /// VIP.
        vip: IpAddr,
        /// Port.
        port: u16,
        /// Protocol.
        proto: u8,
        /// Backends asked for.
        n: usize,
        /// The limit.
        max: usize,
    },
    /// A backend of the other family (NAT64 is not built yet).
    #[error(
        "service {vip}: backend {backend}: backends of the VIP's family only (NAT44, NAT66; NAT64 not yet)"
    )]
    Family {
        /// VIP.
        vip: IpAddr,
        /// The backend.
        backend: IpAddr,
    },
    /// An SCTP service that cannot be built as asked.
    #[error("SCTP service {vips:?}:{port}: {why}")]
    Sctp {
        /// Its VIPs.
        vips: Vec<IpAddr>,
        /// Port.
        port: u16,
        /// What is wrong.
        why: String,
    },
    /// A forwarding mode the service cannot have.
    #[error("service {vip}:{port}/{proto}: {why}")]
    Forwarding {
        /// VIP.
        vip: IpAddr,
        /// Port.
        port: u16,
        /// Protocol.
        proto: u8,
        /// What is wrong.
        why: String,
    },
    /// A protocol other than TCP and UDP (SCTP services: `set_sctp_service`).
    #[error(
        "service {vip}:{port}: protocol {proto}: TCP (6) and UDP (17) here; SCTP (132) by set_sctp_service"
    )]
    Protocol {
        /// VIP.
        vip: IpAddr,
        /// Port.
        port: u16,
        /// Protocol.
        proto: u8,
    },
    /// No room for another service or backend.
    #[error("no room for {what}: the datapath was loaded with {max}")]
    Full {
        /// Services or backends.
        what: &'static str,
        /// Its size.
        max: u32,
    },
    /// A map operation failed.
    #[error("map {name}: {source}")]
    Map {
        /// Map name.
        name: &'static str,
        /// Cause.
        #[source]
        source: aya::maps::MapError,
    },
}

/// The service's place and its backends' IDs; for SCTP, its other VIPs' keys and its
/// backends' addresses.
struct Placed {
    id: u32,
    backends: Vec<u32>,
    /// Each backend's address and port, in `backends`' order (a backend kept keeps its ID,
    /// and so its counters).
    specs: Vec<(IpAddr, u16)>,
    aliases: Vec<ServiceKey>,
    peers: Vec<PeerKey>,
}

/// The loaded bpf-lb object and what the controller wrote into it.
pub struct LbDatapath {
    ebpf: Ebpf,
    /// Schedulers set for services (`bpf_abi::lb::sched`; Maglev when absent).
    scheds: StdMap<ServiceKey, u32>,
    /// Forwarding modes set for services (DNAT when absent).
    modes: StdMap<ServiceKey, Forwarding>,
    max_services: u32,
    max_backends: u32,
    services: StdMap<ServiceKey, Placed>,
    free_services: Vec<u32>,
    free_backends: Vec<u32>,
}

/// DSR sends packets unchanged: a backend on another port than the service's is refused.
fn check_dsr_ports(
    f: Forwarding,
    vip: IpAddr,
    proto: u8,
    port: u16,
    ports: impl Iterator<Item = u16>,
) -> Result<(), LbError> {
    if !f.dsr() {
        return Ok(());
    }
    for p in ports {
        if p != 0 && p != port {
            return Err(LbError::Forwarding {
                vip,
                port,
                proto,
                why: format!("DSR does not rewrite ports: backend port {p}"),
            });
        }
    }
    Ok(())
}

/// CPUs the per-CPU maps have a slot for.
fn nr_cpus() -> Result<usize, LbError> {
    aya::util::nr_cpus().map_err(|(_, e)| LbError::Map {
        name: MAP_BACKEND_STATS,
        source: aya::maps::MapError::IoError(e),
    })
}

/// An address as the maps hold it (IPv4 in the first 4 bytes), and its family (4 or 6).
pub fn addr16(a: IpAddr) -> ([u8; 16], u8) {
    match a {
        IpAddr::V4(v) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v.octets());
            (b, 4)
        }
        IpAddr::V6(v) => (v.octets(), 6),
    }
}

fn key_of(vip: IpAddr, proto: u8, port: u16) -> ServiceKey {
    let (vip, family) = addr16(vip);
    ServiceKey {
        vip,
        port,
        proto,
        family,
    }
}

/// The map `name` of the loaded object as the aya map type `M`, or an error naming it.
fn typed<'a, M>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<M, LbError>
where
    M: TryFrom<&'a mut aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.map_mut(name).ok_or(LbError::Map {
        name,
        source: aya::maps::MapError::InvalidName {
            name: name.to_string(),
        },
    })?;
    M::try_from(map).map_err(|source| LbError::Map { name, source })
}

/// The clock connection tracking expiries are on (CLOCK_MONOTONIC_COARSE, as the datapath's
/// `bpf_ktime_get_coarse_ns`), in ns.
pub fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The Maglev table of `backends` (`m` slots, `m` prime): for each slot, the index of the
/// backend it sends to; empty when no backend has a weight.
pub fn maglev_table(backends: &[BackendSpec], m: u32) -> Vec<u32> {
    let m = m as u64;
    let live: Vec<usize> = (0..backends.len())
        .filter(|&i| backends[i].weight > 0)
        .collect();
    if live.is_empty() {
        return Vec::new();
    }
    // Each backend's permutation of the slots: offset + j * skip (mod m), from two hashes of
    // its address and port (SipHash with fixed keys: the same table on every controller).
    let perm: Vec<(u64, u64)> = live
        .iter()
        .map(|&i| {
            let h = |seed: u64| {
                let mut s = std::collections::hash_map::DefaultHasher::new();
                seed.hash(&mut s);
                backends[i].addr.hash(&mut s);
                backends[i].port.hash(&mut s);
                s.finish()
            };
            (h(0) % m, h(1) % (m - 1) + 1)
        })
        .collect();
    let mut table = vec![u32::MAX; m as usize];
    let mut next = vec![0u64; live.len()];
    let mut filled = 0u64;
    while filled < m {
        for (k, &i) in live.iter().enumerate() {
            for _ in 0..backends[i].weight {
                let (offset, skip) = perm[k];
                let mut c = (offset + next[k] * skip) % m;
                while table[c as usize] != u32::MAX {
                    next[k] += 1;
                    c = (offset + next[k] * skip) % m;
                }
                table[c as usize] = i as u32;
                next[k] += 1;
                filled += 1;
                if filled == m {
                    return table;
                }
            }
        }
    }
    table
}

impl LbDatapath {
    /// Loads bpf-lb with room for `services` services, `backends` backends in all and
    /// `connections` tracked connections (two entries each), and verifies its programs.
    pub fn load(services: u32, backends: u32, connections: u32) -> Result<Self, LoadError> {
        Self::load_sized(LbSizes::new(services, backends, connections))
    }

    /// The bpf-lb object with its maps created for `sizes` and its programs not yet loaded.
    pub(crate) fn open(sizes: LbSizes) -> Result<Ebpf, LoadError> {
        let (services, backends) = (sizes.services.max(1), sizes.backends.max(1));
        let connections = sizes.connections;
        EbpfLoader::new()
            // One template per backend address and path.
            .map_max_entries(
                MAP_SCTP_PEERS,
                backends.saturating_mul(MAX_SCTP_PATHS as u32),
            )
            // Two entries an association (LRU: and the CPUs' free lists, `lru_entries`).
            .map_max_entries(
                MAP_SCTP_ASSOC,
                lru_entries(sizes.sctp_associations.max(1).saturating_mul(2)),
            )
            .map_max_entries(
                MAP_SCTP_HALF_OPEN,
                lru_entries(sizes.sctp_half_open.max(1).saturating_mul(2)),
            )
            // A plain hash (configured entries are never evicted): one a service's VIP, and
            // a few for interfaces on which several VIPs' clients come in.
            .map_max_entries(
                MAP_SCTP_VIP_LINK,
                services.saturating_mul(MAX_SCTP_PATHS as u32) + 64,
            )
            // One an INIT in flight, as many as half-open associations can be.
            .map_max_entries(MAP_SCTP_INIT_PATH, lru_entries(sizes.sctp_half_open.max(1)))
            .map_max_entries(MAP_SERVICES, services)
            .map_max_entries(MAP_BACKENDS, backends)
            .map_max_entries(MAP_BACKEND_STATS, backends)
            .map_max_entries(MAP_VIPS, services)
            .map_max_entries(MAP_DECAP, services)
            // NAT64: one entry a direction in each.
            .map_max_entries(MAP_XLAT6, lru_entries(connections.max(1)))
            .map_max_entries(MAP_XLAT4, lru_entries(connections.max(1)))
            .map_max_entries(MAP_MAGLEV, services * MAGLEV_SIZE)
            // Two entries a connection.
            .map_max_entries(
                MAP_CONNTRACK,
                lru_entries(connections.max(1).saturating_mul(2)),
            )
            .load(objects::BPF_LB)
            .map_err(|source| LoadError::Object {
                object: "bpf-lb",
                source,
            })
    }

    /// As [`LbDatapath::load`], every size given.
    pub fn load_sized(sizes: LbSizes) -> Result<Self, LoadError> {
        let (services, backends) = (sizes.services.max(1), sizes.backends.max(1));
        let mut ebpf = Self::open(sizes)?;
        load_programs(&mut ebpf, LB_PROGRAMS)?;
        // `xdp_lb`'s tail calls (`bpf_abi::lb::jump`).
        for (index, prog) in [
            (jump::IPV6, PROG_XDP_LB6),
            (jump::SCTP, PROG_XDP_LB_SCTP),
            (jump::SCTP6, PROG_XDP_LB_SCTP6),
            (jump::SCTP_ACK, PROG_XDP_LB_SCTP_ACK),
            (jump::SCTP_ACK6, PROG_XDP_LB_SCTP_ACK6),
            (jump::NAT64, PROG_XDP_LB_64),
            (jump::NAT46, PROG_XDP_LB_46),
            (jump::ICMP, PROG_XDP_LB_ICMP),
            (jump::ICMP6, PROG_XDP_LB_ICMP6),
            (jump::NEW, PROG_XDP_LB_NEW),
            (jump::NEW6, PROG_XDP_LB_NEW6),
            (jump::IPV4, PROG_XDP_LB),
            (jump::ICMP46, PROG_XDP_LB_ICMP46),
            (jump::ICMP64, PROG_XDP_LB_ICMP64),
            (jump::SCTP_ICMP6, PROG_XDP_LB_SCTP_ICMP6),
            (jump::TOO_BIG, PROG_XDP_LB_TOO_BIG),
        ] {
            link_tail_call(&mut ebpf, MAP_LB_JUMP, index, prog)?;
        }
        Ok(LbDatapath {
            ebpf,
            scheds: StdMap::new(),
            modes: StdMap::new(),
            max_services: services,
            max_backends: backends,
            services: StdMap::new(),
            free_services: (0..services).rev().collect(),
            free_backends: (0..backends).rev().collect(),
        })
    }

    /// Sets the service `vip:port` of `proto` (port 0: every port) to `backends`, replacing
    /// what it had. Connections already tracked keep their backend.
    pub fn set_service(
        &mut self,
        vip: IpAddr,
        proto: u8,
        port: u16,
        backends: &[BackendSpec],
    ) -> Result<(), LbError> {
        if backends.len() > MAX_BACKENDS_PER_SERVICE {
            return Err(LbError::TooManyBackends {
                vip,
                port,
                proto,
                n: backends.len(),
                max: MAX_BACKENDS_PER_SERVICE,
            });
        }
        if proto != 6 && proto != 17 {
            return Err(LbError::Protocol { vip, port, proto });
        }
        if let Some(b) = backends.iter().find(|b| b.addr.is_ipv4() != vip.is_ipv4()) {
            return Err(LbError::Family {
                vip,
                backend: b.addr,
            });
        }
        let key = key_of(vip, proto, port);
        let f = self.modes.get(&key).copied().unwrap_or_default();
        check_dsr_ports(f, vip, proto, port, backends.iter().map(|b| b.port))?;
        self.place(key, backends, None).map(|_| ())
    }

    /// Sets how packets of the TCP or UDP service `vip:port` of `proto` reach its backends,
    /// for the service now (connections already tracked keep the mode they opened with) and
    /// when it is set again. Refused: a source of the other family, or unspecified; DSR with
    /// a backend on another port (DSR does not rewrite ports).
    pub fn set_forwarding(
        &mut self,
        vip: IpAddr,
        proto: u8,
        port: u16,
        f: Forwarding,
    ) -> Result<(), LbError> {
        let why = |why: &str| LbError::Forwarding {
            vip,
            port,
            proto,
            why: why.to_string(),
        };
        if proto != 6 && proto != 17 {
            return Err(why("full NAT and DSR are for TCP and UDP services"));
        }
        if let Some(s) = f.source() {
            if s.is_ipv4() != vip.is_ipv4() {
                return Err(why("the source address must be of the VIP's family"));
            }
            if s.is_unspecified() {
                return Err(why("the source address must not be unspecified"));
            }
        }
        let key = key_of(vip, proto, port);
        if let Some(p) = self.services.get(&key) {
            check_dsr_ports(f, vip, proto, port, p.specs.iter().map(|s| s.1))?;
        }
        self.modes.insert(key, f);
        if !self.services.contains_key(&key) {
            return Ok(());
        }
        let (m, src) = f.raw();
        let mut svcs: HashMap<&mut MapData, ServiceKey, Service> =
            typed(&mut self.ebpf, MAP_SERVICES)?;
        if let Ok(mut v) = svcs.get(&key, 0) {
            v.mode = m;
            v.src = src;
            svcs.insert(key, v, 0).map_err(|source| LbError::Map {
                name: MAP_SERVICES,
                source,
            })?;
        }
        Ok(())
    }

    /// The VIPs whose IPIP / IP6IP6 packets `xdp_lb_decap` decapsulates (a DSR backend's side),
    /// replacing the ones set before.
    pub fn set_decap_vips(&mut self, vips: &[IpAddr]) -> Result<(), LbError> {
        let new: Vec<ServiceKey> = vips.iter().map(|v| key_of(*v, 0, 0)).collect();
        self.set_addresses(MAP_DECAP, |_| true, &new)
    }

    /// Sets the sources of the daemon's health probes of protocol `proto` (the local
    /// addresses they are sent from): what backends send to them is left to the kernel, so
    /// that the probe sees its answer (`lb_health_probe`).
    pub fn set_probe_sources(&mut self, proto: u8, sources: &[IpAddr]) -> Result<(), LbError> {
        let new: Vec<ServiceKey> = sources.iter().map(|a| key_of(*a, proto, 0)).collect();
        self.set_addresses(MAP_PROBE_SOURCES, |k| k.proto == proto, &new)
    }

    /// Pins the link of each SCTP VIP: the interface its clients' packets come in on
    /// (`ifindexes[i]` for `vips[i]`, the service's VIPs in order), so that what the load
    /// balancer sends a client on that interface leaves from that VIP from the first packet on.
    /// What the service had (pinned or learnt) goes first; an ifindex of 0 pins nothing for
    /// its VIP, whose link the datapath then learns from the clients' INITs.
    pub fn pin_sctp_links(&mut self, vips: &[IpAddr], ifindexes: &[u32]) -> Result<(), LbError> {
        let name = MAP_SCTP_VIP_LINK;
        let Some(first) = vips.first() else {
            return Ok(());
        };
        let (vip, family) = addr16(*first);
        let mut m: HashMap<&mut MapData, SctpLinkKey, u32> = typed(&mut self.ebpf, name)?;
        let old: Vec<SctpLinkKey> = m
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.vip == vip && k.family == family)
            .collect();
        for k in &old {
            let _ = m.remove(k);
        }
        for (j, &ifindex) in ifindexes.iter().enumerate().take(vips.len()) {
            if ifindex == 0 {
                continue;
            }
            let k = SctpLinkKey {
                vip,
                ifindex,
                family,
                _pad: [0; 3],
            };
            m.insert(k, link::only(j as u32) | link::PINNED, 0)
                .map_err(|source| LbError::Map { name, source })?;
        }
        Ok(())
    }

    /// The link (interface index) of each VIP of the SCTP service `vips` (in order): the one
    /// interface on which only that VIP's clients come in, configured (true) or learnt; None
    /// while none is known.
    pub fn sctp_links(&self, vips: &[IpAddr]) -> Vec<Option<(u32, bool)>> {
        let mut out = vec![None; vips.len()];
        let (Some(first), Some(Ok(m))) = (
            vips.first(),
            self.ebpf
                .map(MAP_SCTP_VIP_LINK)
                .map(HashMap::<&MapData, SctpLinkKey, u32>::try_from),
        ) else {
            return out;
        };
        let (vip, family) = addr16(*first);
        for (k, v) in m.iter().filter_map(Result::ok) {
            if k.vip != vip || k.family != family {
                continue;
            }
            if let Some(j) = link::path(v)
                && let Some(o) = out.get_mut(j as usize)
            {
                *o = Some((k.ifindex, v & link::PINNED != 0));
            }
        }
        out
    }

    /// Makes the entries of the address map `name` (a [`ServiceKey`] to 1) that `mine` selects
    /// exactly `new`.
    fn set_addresses(
        &mut self,
        name: &'static str,
        mine: impl Fn(&ServiceKey) -> bool,
        new: &[ServiceKey],
    ) -> Result<(), LbError> {
        let mut m: HashMap<&mut MapData, ServiceKey, u32> = typed(&mut self.ebpf, name)?;
        let old: Vec<ServiceKey> = m.keys().filter_map(Result::ok).filter(&mine).collect();
        for k in old.iter().filter(|k| !new.contains(k)) {
            let _ = m.remove(k);
        }
        for k in new {
            m.insert(k, 1, 0)
                .map_err(|source| LbError::Map { name, source })?;
        }
        Ok(())
    }

    /// Sets how new connections of the service `vip:port` of `proto` (SCTP: its first VIP)
    /// pick their backend (`bpf_abi::lb::sched`: Maglev by the connection, by the client's
    /// address, or round robin; all weighted), for the service now and when it is set again.
    pub fn set_scheduler(
        &mut self,
        vip: IpAddr,
        proto: u8,
        port: u16,
        sched: u32,
    ) -> Result<(), LbError> {
        let key = key_of(vip, proto, port);
        self.scheds.insert(key, sched);
        let Some(p) = self.services.get(&key) else {
            return Ok(());
        };
        let keys: Vec<ServiceKey> = std::iter::once(key)
            .chain(p.aliases.iter().copied())
            .collect();
        let mut m: HashMap<&mut MapData, ServiceKey, Service> =
            typed(&mut self.ebpf, MAP_SERVICES)?;
        for k in keys {
            if let Ok(mut v) = m.get(&k, 0) {
                v.sched = sched;
                m.insert(k, v, 0).map_err(|source| LbError::Map {
                    name: MAP_SERVICES,
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Sets the NAT64 service `vip:port` of `proto` (an IPv6 VIP; TCP or UDP; port 0: every
    /// port) to IPv4 `backends`: the clients' packets leave translated to IPv4 from `source`
    /// (an address of this host's that the backends route back here), each connection with a
    /// source port of its own (RFC 7915 translation, stateful as RFC 6146).
    pub fn set_nat64_service(
        &mut self,
        vip: std::net::Ipv6Addr,
        proto: u8,
        port: u16,
        backends: &[BackendSpec],
        source: std::net::Ipv4Addr,
    ) -> Result<(), LbError> {
        let v = IpAddr::V6(vip);
        if backends.len() > MAX_BACKENDS_PER_SERVICE {
            return Err(LbError::TooManyBackends {
                vip: v,
                port,
                proto,
                n: backends.len(),
                max: MAX_BACKENDS_PER_SERVICE,
            });
        }
        if proto != 6 && proto != 17 {
            return Err(LbError::Protocol {
                vip: v,
                port,
                proto,
            });
        }
        if let Some(b) = backends.iter().find(|b| b.addr.is_ipv6()) {
            return Err(LbError::Family {
                vip: v,
                backend: b.addr,
            });
        }
        if source.is_unspecified() {
            return Err(LbError::Sctp {
                vips: vec![v],
                port,
                why: "NAT64 source 0.0.0.0".into(),
            });
        }
        self.place(key_of(v, proto, port), backends, Some(source.octets()))
            .map(|_| ())
    }

    /// Sets the multi-homed SCTP service of `vips` (one a path, one family) and `port` to
    /// `backends` (each with one address a path, in the VIPs' order), replacing what it had.
    /// Associations already tracked keep their backend. New associations are spread by
    /// weight (Maglev, by the INIT's tag: the same on every path).
    pub fn set_sctp_service(
        &mut self,
        vips: &[IpAddr],
        port: u16,
        backends: &[SctpBackendSpec],
    ) -> Result<(), LbError> {
        let bad = |why: String| LbError::Sctp {
            vips: vips.to_vec(),
            port,
            why,
        };
        if vips.is_empty() || vips.len() > MAX_SCTP_PATHS {
            return Err(bad(format!(
                "{} VIPs: 1 to {MAX_SCTP_PATHS} (one a path)",
                vips.len()
            )));
        }
        if port == 0 {
            return Err(bad(
                "port 0: an SCTP service has one port (its backends listen on it)".into(),
            ));
        }
        let v4 = vips[0].is_ipv4();
        if vips.iter().any(|v| v.is_ipv4() != v4) {
            return Err(bad("VIPs of both families: one family a service".into()));
        }
        for (i, v) in vips.iter().enumerate() {
            if vips[..i].contains(v) {
                return Err(bad(format!("VIP {v} twice")));
            }
        }
        let mut seen = Vec::new();
        for b in backends {
            if b.addrs.len() != vips.len() {
                return Err(bad(format!(
                    "backend {:?}: {} addresses for {} VIPs (one a path)",
                    b.addrs,
                    b.addrs.len(),
                    vips.len()
                )));
            }
            if let Some(a) = b.addrs.iter().find(|a| a.is_ipv4() != v4) {
                return Err(bad(format!(
                    "backend address {a}: not the VIPs' family (NAT64 not yet)"
                )));
            }
            for a in &b.addrs {
                if seen.contains(a) || vips.contains(a) {
                    return Err(bad(format!("address {a} twice")));
                }
                seen.push(*a);
            }
        }
        // The first VIP's service holds the Maglev table and backends (by their first
        // address); the other VIPs point at the same service.
        let primary: Vec<BackendSpec> = backends
            .iter()
            .map(|b| BackendSpec {
                addr: b.addrs[0],
                port,
                weight: b.weight,
            })
            .collect();
        if primary.len() > MAX_BACKENDS_PER_SERVICE {
            return Err(LbError::TooManyBackends {
                vip: vips[0],
                port,
                proto: 132,
                n: primary.len(),
                max: MAX_BACKENDS_PER_SERVICE,
            });
        }
        let key = key_of(vips[0], 132, port);
        let (svc, ids) = self.place(key, &primary, None)?;
        let map_err = |name| move |source| LbError::Map { name, source };
        let placed = self.services.get_mut(&key).expect("placed just now");
        let old_aliases = std::mem::take(&mut placed.aliases);
        let old_peers = std::mem::take(&mut placed.peers);
        let aliases: Vec<ServiceKey> = vips[1..].iter().map(|v| key_of(*v, 132, port)).collect();
        let mut peers = Vec::new();
        {
            let mut m: HashMap<&mut MapData, PeerKey, SctpAssoc> =
                typed(&mut self.ebpf, MAP_SCTP_PEERS)?;
            for (b, id) in backends.iter().zip(&ids) {
                let mut t = SctpAssoc {
                    paths: vips.len() as u8,
                    family: if v4 { 4 } else { 6 },
                    backend: *id,
                    ..SctpAssoc::default()
                };
                for (i, (v, a)) in vips.iter().zip(&b.addrs).enumerate() {
                    t.vips[i] = addr16(*v).0;
                    t.addrs[i] = addr16(*a).0;
                }
                for a in &b.addrs {
                    let (addr, family) = addr16(*a);
                    let k = PeerKey {
                        addr,
                        port,
                        family,
                        _pad: 0,
                    };
                    m.insert(k, t, 0).map_err(map_err(MAP_SCTP_PEERS))?;
                    peers.push(k);
                }
            }
            for k in old_peers.iter().filter(|k| !peers.contains(k)) {
                let _ = m.remove(k);
            }
        }
        {
            let mut m: HashMap<&mut MapData, ServiceKey, Service> =
                typed(&mut self.ebpf, MAP_SERVICES)?;
            for k in &aliases {
                m.insert(k, svc, 0).map_err(map_err(MAP_SERVICES))?;
            }
            for k in old_aliases.iter().filter(|k| !aliases.contains(k)) {
                let _ = m.remove(k);
            }
        }
        {
            // The other VIPs answer Echo Requests too.
            let mut v: HashMap<&mut MapData, ServiceKey, u32> = typed(&mut self.ebpf, MAP_VIPS)?;
            for k in &aliases {
                let vk = ServiceKey {
                    port: 0,
                    proto: 0,
                    ..*k
                };
                v.insert(vk, 1, 0).map_err(map_err(MAP_VIPS))?;
            }
        }
        let placed = self.services.get_mut(&key).expect("placed just now");
        placed.aliases = aliases;
        placed.peers = peers;
        Ok(())
    }

    /// Writes the service `key` with `backends` (its Maglev table, its backends' slots) and
    /// returns its entry and the backends' IDs; `nat64` its IPv4 source for NAT64, else the
    /// forwarding mode set for it.
    fn place(
        &mut self,
        key: ServiceKey,
        backends: &[BackendSpec],
        nat64: Option<[u8; 4]>,
    ) -> Result<(Service, Vec<u32>), LbError> {
        let old = self.services.remove(&key);
        let id = match &old {
            Some(p) => p.id,
            None => self.free_services.pop().ok_or(LbError::Full {
                what: "services",
                max: self.max_services,
            })?,
        };
        // The old backends' slots go back when the new ones are written (tracked connections
        // hold their backend's address themselves).
        let mut ids = Vec::with_capacity(backends.len());
        let (old_ids, old_specs, aliases, peers) = match old {
            Some(p) => (p.backends, p.specs, p.aliases, p.peers),
            None => Default::default(),
        };
        // A backend still there keeps its ID; new ones take the IDs of those gone, then free
        // ones (their counters zeroed).
        let kept: Vec<Option<u32>> = backends
            .iter()
            .map(|b| {
                old_specs
                    .iter()
                    .position(|s| *s == (b.addr, b.port))
                    .map(|k| old_ids[k])
            })
            .collect();
        let mut pool: Vec<u32> = old_ids
            .iter()
            .copied()
            .filter(|i| !kept.contains(&Some(*i)))
            .rev()
            .collect();
        let mut fresh = Vec::new();
        for k in &kept {
            let next = match k {
                Some(i) => Some(*i),
                None => pool.pop().or_else(|| {
                    let i = self.free_backends.pop();
                    fresh.extend(i);
                    i
                }),
            };
            match next {
                Some(i) => ids.push(i),
                None => {
                    self.free_backends.extend(ids);
                    self.free_backends.extend(pool);
                    self.free_services.push(id);
                    return Err(LbError::Full {
                        what: "backends",
                        max: self.max_backends,
                    });
                }
            }
        }
        self.free_backends.extend(pool);
        let map_err = |name| move |source| LbError::Map { name, source };
        {
            let mut st: PerCpuArray<&mut MapData, [u64; 4]> =
                typed(&mut self.ebpf, MAP_BACKEND_STATS)?;
            for &i in &fresh {
                let zero = PerCpuValues::try_from(vec![[0u64; 4]; nr_cpus()?]).map_err(|e| {
                    LbError::Map {
                        name: MAP_BACKEND_STATS,
                        source: aya::maps::MapError::IoError(e),
                    }
                })?;
                st.set(i, zero, 0).map_err(map_err(MAP_BACKEND_STATS))?;
            }
        }
        {
            let mut arr: Array<&mut MapData, Backend> = typed(&mut self.ebpf, MAP_BACKENDS)?;
            for (b, &i) in backends.iter().zip(&ids) {
                let (addr, family) = addr16(b.addr);
                let v = Backend {
                    addr,
                    port: b.port,
                    family,
                    used: 1,
                };
                arr.set(i, v, 0).map_err(map_err(MAP_BACKENDS))?;
            }
        }
        let table = maglev_table(backends, MAGLEV_SIZE);
        {
            let mut arr: Array<&mut MapData, u32> = typed(&mut self.ebpf, MAP_MAGLEV)?;
            for (slot, &b) in table.iter().enumerate() {
                arr.set(id * MAGLEV_SIZE + slot as u32, ids[b as usize], 0)
                    .map_err(map_err(MAP_MAGLEV))?;
            }
        }
        let mut svcs: HashMap<&mut MapData, ServiceKey, Service> =
            typed(&mut self.ebpf, MAP_SERVICES)?;
        let (mode, src) = match nat64 {
            Some(a) => {
                let mut src = [0u8; 16];
                src[..4].copy_from_slice(&a);
                (mode::NAT64, src)
            }
            None => self.modes.get(&key).copied().unwrap_or_default().raw(),
        };
        let svc = Service {
            mode,
            src,
            sched: self.scheds.get(&key).copied().unwrap_or(0),
            id,
            backends: if table.is_empty() {
                0
            } else {
                ids.len() as u32
            },
        };
        svcs.insert(key, svc, 0).map_err(map_err(MAP_SERVICES))?;
        {
            // The VIP answers Echo Requests (its aliases, SCTP's other VIPs, too).
            let mut v: HashMap<&mut MapData, ServiceKey, u32> = typed(&mut self.ebpf, MAP_VIPS)?;
            for k in std::iter::once(&key).chain(aliases.iter()) {
                let vk = ServiceKey {
                    port: 0,
                    proto: 0,
                    ..*k
                };
                v.insert(vk, 1, 0).map_err(map_err(MAP_VIPS))?;
            }
        }
        self.services.insert(
            key,
            Placed {
                id,
                backends: ids.clone(),
                specs: backends.iter().map(|b| (b.addr, b.port)).collect(),
                aliases,
                peers,
            },
        );
        Ok((svc, ids))
    }

    /// Removes the connection tracking entries that expired by `now_ns` (the kernel's
    /// CLOCK_MONOTONIC, [`monotonic_ns`]); returns how many. Run it periodically: the datapath
    /// already treats an expired entry as gone, this gives its slot back.
    pub fn expire(&mut self, now_ns: u64) -> Result<usize, LbError> {
        let mut h: HashMap<&mut MapData, FlowKey, Ct> = typed(&mut self.ebpf, MAP_CONNTRACK)?;
        let dead: Vec<FlowKey> = h
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, c)| c.expires_ns <= now_ns)
            .map(|(k, _)| k)
            .collect();
        let mut n = 0;
        for k in &dead {
            // Gone meanwhile (the LRU evicted it, or the datapath renewed it as a new
            // connection after its expiry and it is alive again): either is fine.
            if h.get(k, 0).is_ok_and(|c| c.expires_ns <= now_ns) && h.remove(k).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The traffic of the service `vip:port` of `proto` (SCTP: its first VIP) by backend, in
    /// the order they were given: packets and bytes to the backend, packets and bytes from it
    /// (since the backend joined; summed over CPUs). None for no such service.
    pub fn backend_stats(&self, vip: IpAddr, proto: u8, port: u16) -> Option<Vec<[u64; 4]>> {
        let p = self.services.get(&key_of(vip, proto, port))?;
        let m = self.ebpf.map(MAP_BACKEND_STATS)?;
        let a: PerCpuArray<&MapData, [u64; 4]> = PerCpuArray::try_from(m).ok()?;
        Some(
            p.backends
                .iter()
                .map(|&i| {
                    a.get(&i, 0).map_or([0; 4], |v| {
                        v.iter().fold([0u64; 4], |mut acc, x| {
                            for k in 0..4 {
                                acc[k] += x[k];
                            }
                            acc
                        })
                    })
                })
                .collect(),
        )
    }

    /// Removes the SCTP association entries that expired by `now_ns` (established and
    /// half-open); returns how many.
    pub fn expire_sctp(&mut self, now_ns: u64) -> Result<usize, LbError> {
        let mut n = 0;
        for name in [MAP_SCTP_ASSOC, MAP_SCTP_HALF_OPEN] {
            let mut h: HashMap<&mut MapData, SctpKey, SctpAssoc> = typed(&mut self.ebpf, name)?;
            let dead: Vec<SctpKey> = h
                .iter()
                .filter_map(Result::ok)
                .filter(|(_, a)| a.expires_ns <= now_ns)
                .map(|(k, _)| k)
                .collect();
            for k in &dead {
                if h.get(k, 0).is_ok_and(|a| a.expires_ns <= now_ns) && h.remove(k).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// The SCTP associations tracked (established and half-open), each once.
    pub fn sctp_associations(&self) -> Vec<SctpAssociation> {
        let ip = |a: &[u8; 16], family: u8| -> IpAddr {
            if family == 4 {
                IpAddr::from([a[0], a[1], a[2], a[3]])
            } else {
                IpAddr::from(*a)
            }
        };
        let mut out = Vec::new();
        for (name, established) in [(MAP_SCTP_ASSOC, true), (MAP_SCTP_HALF_OPEN, false)] {
            let Some(m) = self.ebpf.map(name) else {
                continue;
            };
            let Ok(h) = HashMap::<&MapData, SctpKey, SctpAssoc>::try_from(m) else {
                continue;
            };
            let all: Vec<(SctpKey, SctpAssoc)> = h.iter().filter_map(Result::ok).collect();
            // The replies' packet counts by their keys.
            let replies: StdMap<SctpKey, u64> = all
                .iter()
                .filter(|(k, _)| k.dir == bpf_abi::lb::dir::REPLY)
                .map(|(k, a)| (*k, a.packets))
                .collect();
            for (k, a) in all
                .iter()
                .filter(|(k, _)| k.dir == bpf_abi::lb::dir::ORIGINAL)
            {
                let reply = replies.get(&SctpKey {
                    vtag: a.twin_vtag,
                    sport: k.dport,
                    dport: k.sport,
                    dir: bpf_abi::lb::dir::REPLY,
                    family: k.family,
                    _pad: [0; 2],
                });
                let paths = usize::from(a.paths).min(MAX_SCTP_PATHS);
                out.push(SctpAssociation {
                    backend_tag: k.vtag,
                    client_tag: a.twin_vtag,
                    client_port: k.sport,
                    port: k.dport,
                    backend: a.addrs[..paths].iter().map(|x| ip(x, a.family)).collect(),
                    vips: a.vips[..paths].iter().map(|x| ip(x, a.family)).collect(),
                    clients: a.clients[..paths]
                        .iter()
                        .map(|x| (*x != [0; 16]).then(|| ip(x, a.family)))
                        .collect(),
                    established,
                    closing: a.state == bpf_abi::lb::state::CLOSING,
                    packets: (a.packets, reply.copied().unwrap_or(0)),
                });
            }
        }
        out
    }

    /// Forgets the connections tracked to the backend at `addr` (both directions; returns how
    /// many entries): after a backend fails and is taken out of its services, its clients'
    /// next packets are balanced again over the others, and no other connection moves. (A
    /// backend taken out to drain keeps its connections: do not call this then.)
    pub fn forget_backend(&mut self, addr: IpAddr) -> Result<usize, LbError> {
        let (a, _) = addr16(addr);
        let mut h: HashMap<&mut MapData, FlowKey, Ct> = typed(&mut self.ebpf, MAP_CONNTRACK)?;
        // The client's direction carries the backend as its translation, the reply as its
        // source.
        let gone: Vec<FlowKey> = h
            .iter()
            .filter_map(Result::ok)
            .filter(|(k, c)| {
                (c.dir == bpf_abi::lb::dir::ORIGINAL && c.nat_addr == a)
                    || (c.dir == bpf_abi::lb::dir::REPLY && k.src == a)
            })
            .map(|(k, _)| k)
            .collect();
        let mut n = gone.iter().filter(|k| h.remove(k).is_ok()).count();
        // SCTP: the associations with the backend on any path.
        for name in [MAP_SCTP_ASSOC, MAP_SCTP_HALF_OPEN] {
            let mut h: HashMap<&mut MapData, SctpKey, SctpAssoc> = typed(&mut self.ebpf, name)?;
            let gone: Vec<SctpKey> = h
                .iter()
                .filter_map(Result::ok)
                .filter(|(_, s)| s.addrs[..usize::from(s.paths).min(MAX_SCTP_PATHS)].contains(&a))
                .map(|(k, _)| k)
                .collect();
            n += gone.iter().filter(|k| h.remove(k).is_ok()).count();
        }
        Ok(n)
    }

    /// The tracked entry of one direction of a connection, if there is one.
    pub fn connection(&self, key: &FlowKey) -> Option<Ct> {
        let m = self.ebpf.map(MAP_CONNTRACK)?;
        let h: HashMap<&MapData, FlowKey, Ct> = HashMap::try_from(m).ok()?;
        h.get(key, 0).ok()
    }

    /// Connection tracking entries held (both directions of each connection).
    pub fn tracked(&self) -> usize {
        self.ebpf
            .map(MAP_CONNTRACK)
            .and_then(|m| HashMap::<&MapData, FlowKey, Ct>::try_from(m).ok())
            .map_or(0, |h| h.keys().filter(Result::is_ok).count())
    }

    /// The XDP program `name`, for tests and attaching.
    pub fn xdp(&self, name: &'static str) -> Result<&Xdp, LoadError> {
        xdp_of(&self.ebpf, name)
    }

    /// As [`LbDatapath::xdp`], mutable (attaching).
    pub fn xdp_mut(&mut self, name: &'static str) -> Result<&mut Xdp, LoadError> {
        xdp_of_mut(&mut self.ebpf, name)
    }

    /// The outcome counters, summed over CPUs.
    pub fn counters(&self) -> Result<Vec<(Reason, Counter)>, LoadError> {
        read_counters(&self.ebpf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(last: u8, weight: u32) -> BackendSpec {
        BackendSpec {
            addr: IpAddr::from([203, 0, 113, last]),
            port: 8080,
            weight,
        }
    }

    #[test]
    fn maglev_shares_follow_the_weights() {
        let bs = [be(1, 1), be(2, 1), be(3, 2), be(4, 0)];
        let t = maglev_table(&bs, MAGLEV_SIZE);
        assert_eq!(t.len(), MAGLEV_SIZE as usize);
        let n = |i: u32| t.iter().filter(|&&x| x == i).count() as f64 / f64::from(MAGLEV_SIZE);
        assert!((n(0) - 0.25).abs() < 0.01, "{}", n(0));
        assert!((n(1) - 0.25).abs() < 0.01, "{}", n(1));
        assert!((n(2) - 0.5).abs() < 0.01, "{}", n(2));
        assert_eq!(n(3), 0.0, "weight 0 takes nothing");
        assert!(maglev_table(&[be(1, 0)], MAGLEV_SIZE).is_empty());
    }

    #[test]
    fn removing_a_backend_moves_mostly_its_own_slots() {
        let bs: Vec<_> = (1..=10).map(|i| be(i, 1)).collect();
        let before = maglev_table(&bs, MAGLEV_SIZE);
        let fewer: Vec<_> = bs.iter().copied().filter(|b| b != &be(5, 1)).collect();
        let after = maglev_table(&fewer, MAGLEV_SIZE);
        // Slots that went to a surviving backend before and to another one now.
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| {
                let was = bs[**b as usize];
                was != be(5, 1) && fewer[**a as usize] != was
            })
            .count();
        // Maglev's bound is not zero, but small: under 3 % of the table here.
        assert!(
            moved < MAGLEV_SIZE as usize * 3 / 100,
            "{moved} of {MAGLEV_SIZE} slots moved between surviving backends"
        );
        assert_eq!(maglev_table(&bs, MAGLEV_SIZE), before, "deterministic");
    }
}
