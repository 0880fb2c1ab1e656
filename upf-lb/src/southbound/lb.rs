//! The L4 load balancer's datapath (bpf-lb): the object loaded and verified, services and
//! their backends written into its maps, and a Maglev lookup table per service (Eisenbud et
//! al., NSDI 2016: each backend fills the table's slots in the order of its own permutation,
//! in turns, a turn per unit of weight; removing a backend moves only the flows it had).

use super::{
    LoadError,
    loader::{link_tail_call, load_programs, read_counters, xdp_of, xdp_of_mut},
    objects,
};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData},
    programs::Xdp,
};
use bpf_abi::{
    Counter, Reason,
    lb::{
        Backend, Ct, FlowKey, MAGLEV_SIZE, MAP_BACKENDS, MAP_CONNTRACK, MAP_LB_JUMP, MAP_MAGLEV,
        MAP_SERVICES, MAX_BACKENDS_PER_SERVICE, PROG_XDP_LB, PROG_XDP_LB6, Service, ServiceKey,
    },
};
use std::{
    collections::HashMap as StdMap,
    hash::{Hash, Hasher},
    net::IpAddr,
};

/// Programs of bpf-lb, all XDP.
pub const LB_PROGRAMS: &[&str] = &[PROG_XDP_LB, PROG_XDP_LB6, bpf_abi::names::PROG_XDP_NOOP];

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
    /// A protocol other than TCP and UDP.
    #[error("service {vip}:{port}: protocol {proto}: TCP (6) and UDP (17) only so far")]
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

/// The service's place and its backends' IDs.
struct Placed {
    id: u32,
    backends: Vec<u32>,
}

/// The loaded bpf-lb object and what the controller wrote into it.
pub struct LbDatapath {
    ebpf: Ebpf,
    max_services: u32,
    max_backends: u32,
    services: StdMap<ServiceKey, Placed>,
    free_services: Vec<u32>,
    free_backends: Vec<u32>,
}

/// An address as the maps hold it (IPv4 in the first 4 bytes), and its family (4 or 6).
fn addr16(a: IpAddr) -> ([u8; 16], u8) {
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
        let (services, backends) = (services.max(1), backends.max(1));
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(MAP_SERVICES, services)
            .map_max_entries(MAP_BACKENDS, backends)
            .map_max_entries(MAP_MAGLEV, services * MAGLEV_SIZE)
            // Two entries a connection, and a quarter more: an LRU hash starts evicting
            // before it is full (its free entries are spread over the CPUs' lists).
            .map_max_entries(MAP_CONNTRACK, connections.max(1).saturating_mul(5) / 2 + 64)
            .load(objects::BPF_LB)
            .map_err(|source| LoadError::Object {
                object: "bpf-lb",
                source,
            })?;
        load_programs(&mut ebpf, LB_PROGRAMS)?;
        link_tail_call(&mut ebpf, MAP_LB_JUMP, 0, PROG_XDP_LB6)?;
        Ok(LbDatapath {
            ebpf,
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
        let mut pool = old.map(|p| p.backends).unwrap_or_default();
        for _ in backends {
            match pool.pop().or_else(|| self.free_backends.pop()) {
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
        let svc = Service {
            id,
            backends: if table.is_empty() {
                0
            } else {
                ids.len() as u32
            },
        };
        svcs.insert(key, svc, 0).map_err(map_err(MAP_SERVICES))?;
        self.services.insert(key, Placed { id, backends: ids });
        Ok(())
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
        Ok(gone.iter().filter(|k| h.remove(k).is_ok()).count())
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
