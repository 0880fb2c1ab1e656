//! `[lb]`, `[[lb.service]]`: the L4 load balancer, its services, backends and health checks.

use super::{
    field::{ConfigError, bad, ip},
    iface::XdpMode,
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLb {
    #[serde(default)]
    pub(super) interfaces: Vec<String>,
    #[serde(default)]
    pub(super) decap_interfaces: Vec<String>,
    #[serde(default)]
    pub(super) decap_vips: Vec<String>,
    pub(super) xdp_mode: Option<String>,
    pub(super) connections: Option<u32>,
    pub(super) sctp_associations: Option<u32>,
    pub(super) sctp_half_open: Option<u32>,
    pub(super) health_interval_ms: Option<u64>,
    pub(super) health_timeout_ms: Option<u64>,
    pub(super) health_fall: Option<u32>,
    pub(super) health_rise: Option<u32>,
    #[serde(default)]
    pub(super) service: Vec<RawLbService>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLbService {
    pub(super) vip: Option<String>,
    pub(super) vips: Option<Vec<String>>,
    pub(super) links: Option<Vec<String>>,
    pub(super) protocol: String,
    pub(super) port: Option<u16>,
    pub(super) health: Option<String>,
    pub(super) nat64_source: Option<String>,
    pub(super) scheduler: Option<String>,
    pub(super) mode: Option<String>,
    pub(super) source: Option<String>,
    pub(super) backends: Vec<RawLbBackend>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLbBackend {
    pub(super) addr: Option<String>,
    pub(super) addrs: Option<Vec<String>>,
    pub(super) port: Option<u16>,
    pub(super) weight: Option<u32>,
}

/// The L4 load balancer's configuration (`[lb]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbConfig {
    /// Interfaces `xdp_lb` is attached to (clients' and backends' sides).
    pub interfaces: Vec<String>,
    /// A DSR backend's side: interfaces `xdp_lb_decap` is attached to, decapsulating IPIP /
    /// IP6IP6 to [`LbConfig::decap_vips`].
    pub decap_interfaces: Vec<String>,
    /// The VIPs this host serves behind a DSR tunnel (on its loopback).
    pub decap_vips: Vec<IpAddr>,
    /// How it is attached.
    pub xdp_mode: XdpMode,
    /// Connections tracked at most.
    pub connections: u32,
    /// SCTP associations tracked at most, established.
    pub sctp_associations: u32,
    /// SCTP associations in their handshake at most (the bound on what an INIT flood holds).
    pub sctp_half_open: u32,
    /// Health checks' timing.
    pub health: crate::lb_health::Params,
    /// The services.
    pub services: Vec<LbService>,
}

/// One service of the load balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbService {
    /// The VIP (SCTP: the first path's).
    pub vip: IpAddr,
    /// SCTP: the VIPs, one a path (`vip` first); TCP and UDP: `vip` alone.
    pub vips: Vec<IpAddr>,
    /// SCTP: the interface (of `lb.interfaces`) each VIP's clients come in on, in the VIPs'
    /// order; what is sent to a client on one leaves from its VIP. Empty: learnt from the
    /// clients' INITs.
    pub links: Vec<String>,
    /// IP protocol (6 TCP, 17 UDP, 132 SCTP).
    pub proto: u8,
    /// Port; 0: every port (TCP and UDP).
    pub port: u16,
    /// Backends (TCP and UDP).
    pub backends: Vec<crate::southbound::lb::BackendSpec>,
    /// Backends (SCTP: one address a path each).
    pub sctp_backends: Vec<crate::southbound::lb::SctpBackendSpec>,
    /// How its backends are checked.
    pub health: crate::lb_health::Check,
    /// NAT64 (an IPv6 VIP, IPv4 backends): the IPv4 source of the translated packets.
    pub nat64_source: Option<std::net::Ipv4Addr>,
    /// How a new connection's backend is picked (`bpf_abi::lb::sched`).
    pub scheduler: u32,
    /// How packets reach the backends (TCP and UDP; NAT64 and SCTP: DNAT).
    pub forwarding: crate::southbound::lb::Forwarding,
}

impl LbService {
    /// Its backends' health check targets (`service`: its index).
    pub fn health_targets(&self, service: usize) -> Vec<crate::lb_health::Target> {
        let t = |backend, addr: IpAddr, port| crate::lb_health::Target {
            service,
            backend,
            addr: std::net::SocketAddr::new(addr, port),
            source: None,
            check: self.health,
        };
        if self.proto == 132 {
            self.sctp_backends
                .iter()
                .enumerate()
                .map(|(j, b)| t(j, b.addrs[0], self.port))
                .collect()
        } else {
            self.backends
                .iter()
                .enumerate()
                .map(|(j, b)| t(j, b.addr, if b.port != 0 { b.port } else { self.port }))
                .collect()
        }
    }
}

const CONNECTIONS: u32 = 1_000_000;
const SCTP_ASSOCIATIONS: u32 = 16_384;
const SCTP_HALF_OPEN: u32 = 4096;
const HEALTH_INTERVAL_MS: u64 = 2000;
const HEALTH_TIMEOUT_MS: u64 = 1000;
const HEALTH_FALL: u32 = 3;
const HEALTH_RISE: u32 = 2;

/// `[lb]`: every field checked, errors naming it.
pub(super) fn check(r: RawLb, n3: &str, n6: &str) -> Result<LbConfig, ConfigError> {
    if r.interfaces.is_empty() && r.decap_interfaces.is_empty() {
        return Err(bad(
            "lb.interfaces",
            "at least one interface (or lb.decap_interfaces, on a DSR backend)",
        ));
    }
    if r.decap_interfaces.is_empty() != r.decap_vips.is_empty() {
        return Err(bad(
            "lb.decap_vips",
            "with lb.decap_interfaces: the VIPs served behind a DSR tunnel, both or neither",
        ));
    }
    let decap_vips = r
        .decap_vips
        .iter()
        .enumerate()
        .map(|(i, a)| ip(format!("lb.decap_vips[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    let named = |list: &'static str, v: &'_ [String]| -> Vec<(String, String)> {
        v.iter()
            .enumerate()
            .map(|(i, n)| (format!("lb.{list}[{i}]"), n.clone()))
            .collect()
    };
    let all = [
        named("interfaces", &r.interfaces),
        named("decap_interfaces", &r.decap_interfaces),
    ]
    .concat();
    for (field, name) in all {
        if name == n3 || name == n6 {
            return Err(bad(
                field,
                format!("{name} is the N3 or N6 interface, which runs the GTP-U programs"),
            ));
        }
    }
    let xdp_mode = XdpMode::parse("lb.xdp_mode", r.xdp_mode.as_deref())?;
    let connections = r.connections.unwrap_or(CONNECTIONS);
    if connections == 0 || connections > 50_000_000 {
        return Err(bad("lb.connections", "1 to 50000000"));
    }
    let sctp_associations = r.sctp_associations.unwrap_or(SCTP_ASSOCIATIONS);
    if sctp_associations == 0 || sctp_associations > 4_000_000 {
        return Err(bad("lb.sctp_associations", "1 to 4000000"));
    }
    let sctp_half_open = r.sctp_half_open.unwrap_or(SCTP_HALF_OPEN);
    if sctp_half_open == 0 || sctp_half_open > 1_000_000 {
        return Err(bad("lb.sctp_half_open", "1 to 1000000"));
    }
    let ms =
        |field: &str, v: Option<u64>, default: u64| -> Result<std::time::Duration, ConfigError> {
            let v = v.unwrap_or(default);
            if !(100..=600_000).contains(&v) {
                return Err(bad(field.to_string(), "100 to 600000 (ms)"));
            }
            Ok(std::time::Duration::from_millis(v))
        };
    let health = crate::lb_health::Params {
        interval: ms(
            "lb.health_interval_ms",
            r.health_interval_ms,
            HEALTH_INTERVAL_MS,
        )?,
        timeout: ms(
            "lb.health_timeout_ms",
            r.health_timeout_ms,
            HEALTH_TIMEOUT_MS,
        )?,
        fall: r.health_fall.unwrap_or(HEALTH_FALL),
        rise: r.health_rise.unwrap_or(HEALTH_RISE),
    };
    if health.timeout > health.interval {
        return Err(bad("lb.health_timeout_ms", "at most lb.health_interval_ms"));
    }
    if !(1..=100).contains(&health.fall) {
        return Err(bad("lb.health_fall", "1 to 100"));
    }
    if !(1..=100).contains(&health.rise) {
        return Err(bad("lb.health_rise", "1 to 100"));
    }
    let mut services: Vec<LbService> = Vec::new();
    for (i, sv) in r.service.into_iter().enumerate() {
        let f = |x: &str| format!("lb.service[{i}].{x}");
        let proto = match sv.protocol.as_str() {
            "tcp" => 6,
            "udp" => 17,
            "sctp" => 132,
            o => {
                return Err(bad(
                    f("protocol"),
                    format!("{o:?}: \"tcp\", \"udp\" or \"sctp\""),
                ));
            }
        };
        let vips: Vec<IpAddr> = match (&sv.vip, &sv.vips) {
            (Some(v), None) => vec![ip(f("vip"), v)?],
            (None, Some(vs)) if proto == 132 => {
                if vs.is_empty() || vs.len() > bpf_abi::lb::MAX_SCTP_PATHS {
                    return Err(bad(
                        f("vips"),
                        format!("1 to {} VIPs (one a path)", bpf_abi::lb::MAX_SCTP_PATHS),
                    ));
                }
                let mut out = Vec::new();
                for (k, v) in vs.iter().enumerate() {
                    let a = ip(f(&format!("vips[{k}]")), v)?;
                    if out.contains(&a)
                        || out
                            .first()
                            .is_some_and(|o: &IpAddr| o.is_ipv4() != a.is_ipv4())
                    {
                        return Err(bad(
                            f(&format!("vips[{k}]")),
                            "twice, or of another family than vips[0]",
                        ));
                    }
                    out.push(a);
                }
                out
            }
            (None, Some(_)) => return Err(bad(f("vips"), "for SCTP only (multi-homing): use vip")),
            (Some(_), Some(_)) => return Err(bad(f("vips"), "vip or vips, not both")),
            (None, None) => return Err(bad(f("vip"), "missing (or vips, for SCTP)")),
        };
        let vip = vips[0];
        let links = match &sv.links {
            None => Vec::new(),
            Some(_) if proto != 132 => {
                return Err(bad(f("links"), "for SCTP only (a VIP a link)"));
            }
            Some(l) => {
                if l.len() != vips.len() {
                    return Err(bad(
                        f("links"),
                        format!(
                            "{} interfaces for {} VIPs: one a VIP, in the VIPs' order",
                            l.len(),
                            vips.len()
                        ),
                    ));
                }
                for (k, name) in l.iter().enumerate() {
                    if !r.interfaces.contains(name) {
                        return Err(bad(
                            f(&format!("links[{k}]")),
                            format!("{name:?} is not one of lb.interfaces"),
                        ));
                    }
                    if l[..k].contains(name) {
                        return Err(bad(
                            f(&format!("links[{k}]")),
                            format!("{name:?} twice: each VIP's clients on a link of its own"),
                        ));
                    }
                }
                l.clone()
            }
        };
        let port = sv.port.unwrap_or(0);
        use crate::lb_health::Check;
        let check = match (sv.health.as_deref(), proto) {
            (None, 6) => Check::Tcp,
            (None, 132) => Check::Sctp,
            (None, _) => Check::None,
            (Some("none"), _) => Check::None,
            (Some("tcp"), 6) => Check::Tcp,
            (Some("udp"), 17) => Check::Udp,
            (Some("sctp"), 132) => Check::Sctp,
            (Some(o), _) => {
                return Err(bad(
                    f("health"),
                    format!("{o:?}: \"none\" or the service's protocol"),
                ));
            }
        };
        if proto == 132 && port == 0 {
            return Err(bad(f("port"), "an SCTP service needs its port"));
        }
        if let Some(j) = services.iter().position(|o| {
            o.proto == proto && o.port == port && o.vips.iter().any(|v| vips.contains(v))
        }) {
            return Err(bad(
                format!("lb.service[{i}]"),
                format!("the same VIP, protocol and port as lb.service[{j}]"),
            ));
        }
        if sv.backends.is_empty() {
            return Err(bad(f("backends"), "at least one backend"));
        }
        if sv.backends.len() > bpf_abi::lb::MAX_BACKENDS_PER_SERVICE {
            return Err(bad(
                f("backends"),
                format!(
                    "{} backends, at most {}",
                    sv.backends.len(),
                    bpf_abi::lb::MAX_BACKENDS_PER_SERVICE
                ),
            ));
        }
        let mut backends = Vec::new();
        let mut sctp_backends = Vec::new();
        for (j, b) in sv.backends.into_iter().enumerate() {
            let fb = |x: &str| format!("lb.service[{i}].backends[{j}].{x}");
            let weight = b.weight.unwrap_or(1);
            if weight > 100 {
                return Err(bad(fb("weight"), "0 to 100"));
            }
            let addrs: Vec<IpAddr> = match (&b.addr, &b.addrs) {
                (Some(a), None) => vec![ip(fb("addr"), a)?],
                (None, Some(v)) if proto == 132 => v
                    .iter()
                    .enumerate()
                    .map(|(k, a)| ip(fb(&format!("addrs[{k}]")), a))
                    .collect::<Result<_, _>>()?,
                (None, Some(_)) => {
                    return Err(bad(fb("addrs"), "for SCTP only (multi-homing): use addr"));
                }
                (Some(_), Some(_)) => return Err(bad(fb("addrs"), "addr or addrs, not both")),
                (None, None) => return Err(bad(fb("addr"), "missing")),
            };
            let nat64 = sv.nat64_source.is_some();
            if let Some(k) = addrs
                .iter()
                .position(|a| a.is_ipv4() != (vip.is_ipv4() || nat64))
            {
                let field = if b.addrs.is_some() {
                    fb(&format!("addrs[{k}]"))
                } else {
                    fb("addr")
                };
                return Err(bad(
                    field,
                    if nat64 {
                        "IPv4 (the service translates: nat64_source)"
                    } else {
                        "of the VIP's family (NAT44, NAT66; NAT64: an IPv6 VIP with nat64_source)"
                    },
                ));
            }
            if proto == 132 {
                if addrs.len() != vips.len() {
                    return Err(bad(
                        fb("addrs"),
                        format!(
                            "{} addresses for {} VIPs: one a path, in the VIPs' order",
                            addrs.len(),
                            vips.len()
                        ),
                    ));
                }
                if b.port.is_some_and(|p| p != port) {
                    return Err(bad(
                        fb("port"),
                        "an SCTP backend listens on the service's port (its checksum covers the ports)",
                    ));
                }
                sctp_backends.push(crate::southbound::lb::SctpBackendSpec { addrs, weight });
            } else {
                backends.push(crate::southbound::lb::BackendSpec {
                    addr: addrs[0],
                    port: b.port.unwrap_or(0),
                    weight,
                });
            }
        }
        // Every port and a backend without its own: no port to probe.
        let check = if port == 0 && backends.iter().any(|b| b.port == 0) {
            if sv.health.as_deref().is_some_and(|h| h != "none") {
                return Err(bad(
                    f("health"),
                    "needs a port to probe: the service's or each backend's",
                ));
            }
            Check::None
        } else {
            check
        };
        let nat64_source = match &sv.nat64_source {
            None => None,
            Some(a) => {
                let a: std::net::Ipv4Addr = a
                    .parse()
                    .map_err(|_| bad(f("nat64_source"), format!("{a:?} is not an IPv4 address")))?;
                if vip.is_ipv4() || proto == 132 || a.is_unspecified() {
                    return Err(bad(
                        f("nat64_source"),
                        "for a TCP or UDP service with an IPv6 VIP, a usable IPv4 address",
                    ));
                }
                Some(a)
            }
        };
        let scheduler = match sv.scheduler.as_deref() {
            None | Some("maglev") => bpf_abi::lb::sched::MAGLEV,
            Some("source_hash") => bpf_abi::lb::sched::SOURCE_HASH,
            Some("round_robin") => bpf_abi::lb::sched::ROUND_ROBIN,
            Some(o) => {
                return Err(bad(
                    f("scheduler"),
                    format!("{o:?}: \"maglev\", \"source_hash\" or \"round_robin\""),
                ));
            }
        };
        use crate::southbound::lb::Forwarding;
        let source = match &sv.source {
            None => None,
            Some(a) => {
                let a = ip(f("source"), a)?;
                if a.is_ipv4() != vip.is_ipv4() || a.is_unspecified() {
                    return Err(bad(
                        f("source"),
                        "an address of this host's, of the VIP's family",
                    ));
                }
                Some(a)
            }
        };
        let forwarding = match (sv.mode.as_deref(), source) {
            (None | Some("dnat"), None) => Forwarding::Dnat,
            (Some("full_nat"), Some(source)) => Forwarding::FullNat { source },
            (Some("dsr_l2"), None) => Forwarding::DsrL2,
            (Some("dsr_tunnel"), Some(source)) => Forwarding::DsrTunnel { source },
            (Some("full_nat" | "dsr_tunnel"), None) => {
                return Err(bad(
                    f("source"),
                    "missing: full_nat and dsr_tunnel send from an address of this host's",
                ));
            }
            (None | Some("dnat" | "dsr_l2"), Some(_)) => {
                return Err(bad(f("source"), "for mode full_nat or dsr_tunnel only"));
            }
            (Some(o), _) => {
                return Err(bad(
                    f("mode"),
                    format!("{o:?}: \"dnat\", \"full_nat\", \"dsr_l2\" or \"dsr_tunnel\""),
                ));
            }
        };
        if forwarding != Forwarding::Dnat && (proto == 132 || nat64_source.is_some()) {
            return Err(bad(
                f("mode"),
                "SCTP and NAT64 services are DNAT (their own translation)",
            ));
        }
        if matches!(forwarding, Forwarding::DsrL2 | Forwarding::DsrTunnel { .. })
            && let Some(j) = backends.iter().position(|b| b.port != 0 && b.port != port)
        {
            return Err(bad(
                format!("lb.service[{i}].backends[{j}].port"),
                "DSR does not rewrite ports: the service's port, or none",
            ));
        }
        services.push(LbService {
            forwarding,
            vip,
            vips,
            links,
            proto,
            port,
            backends,
            sctp_backends,
            health: check,
            nat64_source,
            scheduler,
        });
    }
    Ok(LbConfig {
        interfaces: r.interfaces,
        decap_interfaces: r.decap_interfaces,
        decap_vips,
        xdp_mode,
        connections,
        sctp_associations,
        sctp_half_open,
        health,
        services,
    })
}

/// The section's own defaults written in, for `check-config` (a service's and a backend's
/// fields stay as written).
pub(super) fn fill(raw: &mut RawLb) {
    raw.xdp_mode.get_or_insert_with(|| "driver".into());
    raw.connections.get_or_insert(CONNECTIONS);
    raw.sctp_associations.get_or_insert(SCTP_ASSOCIATIONS);
    raw.sctp_half_open.get_or_insert(SCTP_HALF_OPEN);
    raw.health_interval_ms.get_or_insert(HEALTH_INTERVAL_MS);
    raw.health_timeout_ms.get_or_insert(HEALTH_TIMEOUT_MS);
    raw.health_fall.get_or_insert(HEALTH_FALL);
    raw.health_rise.get_or_insert(HEALTH_RISE);
}
