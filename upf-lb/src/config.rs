//! The daemon's configuration: a TOML file (documented field by field in
//! `config/upf-lb.toml`, which is also the embedded default), checked whole at start-up. A bad
//! file stops start-up with an error that names the field and says why.

use pfcp::ie::addr::NodeId;
use serde::Deserialize;
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

/// The embedded default configuration (the demo's topology).
pub const DEFAULT: &str = include_str!("../../config/upf-lb.toml");

/// A configuration that cannot be used: which field, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {field}: {why}")]
pub struct ConfigError {
    /// The field, as a TOML path (`n3.ipv4`, `ue_pool[1].cidr`).
    pub field: String,
    /// Why it is wrong.
    pub why: String,
}

fn bad(field: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        why: why.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node: RawNode,
    n3: RawIface,
    n6: RawIface,
    n4: RawN4,
    #[serde(default)]
    ue_pool: Vec<RawPool>,
    #[serde(default)]
    fteid: Option<RawFteid>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    qer: Option<RawQer>,
    #[serde(default)]
    telemetry: Option<RawTelemetry>,
    #[serde(default)]
    buffering: Option<RawBuffering>,
    #[serde(default)]
    state: Option<RawState>,
    #[serde(default)]
    api: Option<RawApi>,
    #[serde(default)]
    lb: Option<RawLb>,
    #[serde(default)]
    srv6: Option<RawSrv6>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSrv6 {
    interfaces: Option<Vec<String>>,
    headend_interfaces: Option<Vec<String>>,
    xdp_mode: Option<String>,
    max_sids: Option<u32>,
    #[serde(default)]
    sid: Vec<RawSid>,
    #[serde(default)]
    policy: Vec<RawPolicy>,
    #[serde(default)]
    n9: Vec<RawN9>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawN9 {
    peer: String,
    network_instance: Option<String>,
    source: String,
    segments: Vec<String>,
    args_at: Option<u8>,
    src_at: Option<u8>,
}

/// A local SID's fields as `[[srv6.sid]]` (and the API's SetSid) give them, unchecked:
/// [`parse_sid`] checks them.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSid {
    /// address/length.
    pub sid: String,
    /// "End", "End.X", ... (RFC 8986, RFC 9433 names).
    pub behaviour: String,
    /// The next hop (End.X, End.DX4, End.DX6).
    pub nh: Option<String>,
    /// The routing table (End.T, End.DT4/DT6/DT46).
    pub table: Option<u32>,
    /// Flavours (End, End.X, End.T).
    pub psp: Option<bool>,
    /// See `psp`.
    pub usp: Option<bool>,
    /// See `psp`.
    pub usd: Option<bool>,
    /// End.MAP's mapped SID.
    pub mapped: Option<String>,
    /// Where the arguments start (End.M.GTP4.E, End.M.GTP6.E, End.M.GTP6.D).
    pub args_at: Option<u8>,
    /// Where the IPv4 SA sits in the IPv6 SA (End.M.GTP4.E).
    pub src_at: Option<u8>,
    /// The source address (End.M.GTP6.E, End.M.GTP6.D).
    pub source: Option<String>,
    /// End.M.GTP6.D's SR policy.
    pub segments: Option<Vec<String>>,
    /// End.M.GTP6.D's policy is H.Encaps.Red.
    pub reduced: Option<bool>,
    /// End.Limit's own rate (kbit/s), for packets whose arguments carry none.
    pub rate_kbps: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    prefix: String,
    source: Option<String>,
    segments: Vec<String>,
    reduced: Option<bool>,
    insert: Option<bool>,
    gtp4d: Option<bool>,
    args_at: Option<u8>,
    src_at: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLb {
    #[serde(default)]
    interfaces: Vec<String>,
    #[serde(default)]
    decap_interfaces: Vec<String>,
    #[serde(default)]
    decap_vips: Vec<String>,
    xdp_mode: Option<String>,
    connections: Option<u32>,
    sctp_associations: Option<u32>,
    sctp_half_open: Option<u32>,
    health_interval_ms: Option<u64>,
    health_timeout_ms: Option<u64>,
    health_fall: Option<u32>,
    health_rise: Option<u32>,
    #[serde(default)]
    service: Vec<RawLbService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLbService {
    vip: Option<String>,
    vips: Option<Vec<String>>,
    links: Option<Vec<String>>,
    protocol: String,
    port: Option<u16>,
    health: Option<String>,
    nat64_source: Option<String>,
    scheduler: Option<String>,
    mode: Option<String>,
    source: Option<String>,
    backends: Vec<RawLbBackend>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLbBackend {
    addr: Option<String>,
    addrs: Option<Vec<String>>,
    port: Option<u16>,
    weight: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    enabled: Option<bool>,
    listen: Option<String>,
    token: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    drop_event_rate: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    pin_dir: String,
    db: String,
}

/// Where the state that outlives the daemon lives (hitless restart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Pinned maps and XDP links: the configured directory plus `abi-v<ABI_VERSION>`, so a
    /// build with another layout never reuses them.
    pub pin_dir: std::path::PathBuf,
    /// The session store (a redb file).
    pub db: std::path::PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuffering {
    per_session: Option<usize>,
    total: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    node_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIface {
    interface: String,
    ipv4: Option<String>,
    ipv6: Option<String>,
    xdp_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawN4 {
    listen: Vec<String>,
    allowed_peers: Vec<String>,
    heartbeat_interval_s: Option<u64>,
    t1_ms: Option<u64>,
    n1: Option<u32>,
    response_cache: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    network_instance: String,
    cidr: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFteid {
    first: u32,
    last: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_sessions: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQer {
    mbr_burst_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTelemetry {
    otlp_endpoint: Option<String>,
    trace_sample_ratio: Option<f64>,
    prometheus_listen: Option<String>,
}

/// How an XDP program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// Native, in the driver.
    Driver,
    /// Generic, after the SKB is built.
    Skb,
}

/// An interface with its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    /// Interface name.
    pub interface: String,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Attach mode.
    pub xdp_mode: XdpMode,
}

/// An IP network (address and prefix length, host bits zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a full-length prefix).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("prefix length {l:?} is not 0 to {max}"))?,
        };
        let c = Cidr { addr, len };
        if c.network() != addr {
            return Err(format!(
                "{s} has host bits set (network is {})",
                c.network()
            ));
        }
        Ok(c)
    }

    fn mask(&self) -> u128 {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.len == 0 {
            0
        } else {
            (u128::MAX << (128 - u32::from(self.len))) >> (128 - max)
        }
    }

    fn bits(a: IpAddr) -> u128 {
        match a {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        }
    }

    fn network(&self) -> IpAddr {
        let n = Self::bits(self.addr) & self.mask();
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    /// True when `a` is inside.
    pub fn contains(&self, a: IpAddr) -> bool {
        let a = match a {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(a, IpAddr::V4),
            a => a,
        };
        a.is_ipv4() == self.addr.is_ipv4() && Self::bits(a) & self.mask() == Self::bits(self.addr)
    }
}

/// A UE IP pool of a network instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UePool {
    /// Network Instance (as text; matched against the PDI's Network Instance).
    pub network_instance: String,
    /// The pool: IPv4 addresses, or IPv6 /64 prefixes.
    pub cidr: Cidr,
}

/// The checked configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// PFCP Node ID.
    pub node_id: NodeId,
    /// N3/N9.
    pub n3: Iface,
    /// N6.
    pub n6: Iface,
    /// PFCP listen addresses.
    pub listen: Vec<SocketAddr>,
    /// SMF peers allowed.
    pub allowed_peers: Vec<Cidr>,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// T1.
    pub t1: Duration,
    /// N1.
    pub n1: u32,
    /// Responses kept for retransmitted requests.
    pub response_cache: usize,
    /// UE IP pools.
    pub ue_pools: Vec<UePool>,
    /// F-TEID range (inclusive).
    pub fteid: (u32, u32),
    /// Sessions.
    pub max_sessions: u32,
    /// MBR bucket depth, ms.
    pub mbr_burst_ms: u64,
    /// OTLP collector.
    pub otlp_endpoint: Option<String>,
    /// Share of PFCP transactions traced (by trace ID), 0 to 1.
    pub trace_sample_ratio: f64,
    /// Where the Prometheus text endpoint (`GET /metrics`) listens, if anywhere.
    pub prometheus_listen: Option<SocketAddr>,
    /// Downlink packets buffered per session (BUFF), at most.
    pub buffer_per_session: usize,
    /// Downlink packets buffered in all, at most.
    pub buffer_total: usize,
    /// Hitless restart: pins and the session store; None to keep nothing across restarts.
    pub state: Option<State>,
    /// The gRPC management API's address (None: off).
    pub api_listen: Option<SocketAddr>,
    /// Its bearer token, if it asks for one.
    pub api_token: Option<String>,
    /// Its TLS certificate chain and key (PEM), when it speaks TLS.
    pub api_tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Packets per second of one drop reason above which watchers get a "drops" event (0: never).
    pub drop_event_rate: u64,
    /// The L4 load balancer (`[lb]`), if configured.
    pub lb: Option<LbConfig>,
    /// SRv6 (`[srv6]`), if configured.
    pub srv6: Option<Srv6Config>,
}

/// SRv6's configuration (`[srv6]`): local SIDs on `interfaces` (`xdp_srv6`), headend
/// policies on `headend_interfaces` (`xdp_headend`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv6Config {
    /// Interfaces `xdp_srv6` is attached to (where SRv6 packets arrive).
    pub interfaces: Vec<String>,
    /// Interfaces `xdp_headend` is attached to (where packets to encapsulate arrive).
    pub headend_interfaces: Vec<String>,
    /// How both are attached.
    pub xdp_mode: XdpMode,
    /// Local SIDs at most.
    pub max_sids: u32,
    /// Local SIDs: address, prefix length, behaviour, flavours.
    pub sids: Vec<(
        std::net::Ipv6Addr,
        u8,
        crate::southbound::srv6::Behaviour,
        crate::southbound::srv6::Flavours,
    )>,
    /// Headend policies: destination prefix, its length, the encapsulation.
    pub policies: Vec<(IpAddr, u8, crate::southbound::srv6::EncapPolicy)>,
    /// H.M.GTP4.D policies: IPv4 (GTP-U peer) prefix, its length, the policy (its source the
    /// IPv6 SA prefix), where the IPv4 SA goes in the IPv6 SA, where the arguments go in the
    /// last segment.
    pub gtp4d: Vec<(
        std::net::Ipv4Addr,
        u8,
        crate::southbound::srv6::EncapPolicy,
        u8,
        u8,
    )>,
    /// N9 tunnels realised as SRv6 (`[[srv6.n9]]`): which FARs (peer prefix, Network
    /// Instance), and the H.M.GTP4.D policy for the peer prefix (its source the IPv6 SA
    /// prefix; where the IPv4 SA and the arguments go).
    pub n9: Vec<N9Config>,
    /// H.Insert (.Red) policies: IPv6 destination prefix, its length, the segments.
    pub inserts: Vec<(std::net::Ipv6Addr, u8, crate::southbound::srv6::EncapPolicy)>,
    /// End.M.GTP6.D SIDs: address, prefix length, their SR policy, where the arguments go in
    /// the last segment, drop-in mode (End.M.GTP6.D.Di).
    pub gtp6d: Vec<(
        std::net::Ipv6Addr,
        u8,
        crate::southbound::srv6::EncapPolicy,
        u8,
        bool,
    )>,
}

/// A local SID as `[[srv6.sid]]` or the API gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SidSpec {
    /// Address, prefix length, behaviour, flavours.
    Plain(
        (
            std::net::Ipv6Addr,
            u8,
            crate::southbound::srv6::Behaviour,
            crate::southbound::srv6::Flavours,
        ),
    ),
    /// End.M.GTP6.D (.Di when the last is true): address, prefix length, its SR policy, where
    /// the arguments go.
    Gtp6d(
        (
            std::net::Ipv6Addr,
            u8,
            crate::southbound::srv6::EncapPolicy,
            u8,
            bool,
        ),
    ),
}

/// An SR policy's segments (1 to `MAX_SEGMENTS` IPv6 addresses), or an error naming `field`
/// or the segment at fault.
fn segments_of(field: String, v: &[String]) -> Result<Vec<std::net::Ipv6Addr>, ConfigError> {
    if v.is_empty() || v.len() > bpf_abi::srv6::MAX_SEGMENTS {
        return Err(bad(
            field,
            format!("1 to {} segments", bpf_abi::srv6::MAX_SEGMENTS),
        ));
    }
    v.iter()
        .enumerate()
        .map(|(k, sg)| {
            sg.parse()
                .map_err(|_| bad(format!("{field}[{k}]"), "not an IPv6 address"))
        })
        .collect()
}

/// One local SID's fields checked (`prefix` names them in errors: `srv6.sid[3]`, or the
/// API's request).
pub fn parse_sid(prefix: &str, x: &RawSid) -> Result<SidSpec, ConfigError> {
    use crate::southbound::srv6::{Behaviour, EncapPolicy};
    let f = |k: &str| format!("{prefix}.{k}");

    let (a, l) = x.sid.split_once('/').ok_or_else(|| {
        bad(
            f("sid"),
            format!("{:?}: an IPv6 prefix (address/length)", x.sid),
        )
    })?;
    let addr: std::net::Ipv6Addr = a
        .parse()
        .map_err(|_| bad(f("sid"), format!("{a:?} is not an IPv6 address")))?;
    let len: u8 = l
        .parse()
        .ok()
        .filter(|n| *n <= 128)
        .ok_or_else(|| bad(f("sid"), format!("{l:?}: a prefix length 0 to 128")))?;
    let nh6 = || -> Result<std::net::Ipv6Addr, ConfigError> {
        x.nh.as_deref()
            .ok_or_else(|| bad(f("nh"), "missing: this behaviour needs an IPv6 next hop"))?
            .parse()
            .map_err(|_| bad(f("nh"), "not an IPv6 address"))
    };
    let nh4 = || -> Result<std::net::Ipv4Addr, ConfigError> {
        x.nh.as_deref()
            .ok_or_else(|| bad(f("nh"), "missing: this behaviour needs an IPv4 next hop"))?
            .parse()
            .map_err(|_| bad(f("nh"), "not an IPv4 address"))
    };
    let table = x.table.unwrap_or(0);
    if x.behaviour == "End.M.GTP6.D" || x.behaviour == "End.M.GTP6.D.Di" {
        // RFC 9433 6.3 (6.4, drop-in mode): the SID with its SR policy <S2, ...> and source A.
        let di = x.behaviour.ends_with(".Di");
        let src = x
            .source
            .as_deref()
            .ok_or_else(|| bad(f("source"), "missing: End.M.GTP6.D's SRv6 source (A)"))?
            .parse()
            .map_err(|_| bad(f("source"), "not an IPv6 address"))?;
        let segments = segments_of(
            f("segments"),
            x.segments
                .as_deref()
                .ok_or_else(|| bad(f("segments"), "missing: End.M.GTP6.D's SR policy"))?,
        )?;
        let args_at = x.args_at.unwrap_or(8);
        if args_at > 11 {
            return Err(bad(
                f("args_at"),
                "0 to 11: Args.Mob.Session (5 bytes) goes in the last segment from there",
            ));
        }
        for (on, name) in [
            (x.nh.is_some(), "nh"),
            (x.table.is_some(), "table"),
            (x.mapped.is_some(), "mapped"),
            (x.src_at.is_some(), "src_at"),
            (x.psp.is_some() || x.usp.is_some() || x.usd.is_some(), "psp"),
        ] {
            if on {
                return Err(bad(f(name), "not a field of End.M.GTP6.D"));
            }
        }
        let policy = EncapPolicy {
            src,
            segments,
            reduced: x.reduced.unwrap_or(false),
        };
        return Ok(SidSpec::Gtp6d((addr, len, policy, args_at, di)));
    }
    if x.segments.is_some() || x.reduced.is_some() {
        return Err(bad(f("segments"), "for End.M.GTP6.D only (its SR policy)"));
    }
    let b = match x.behaviour.as_str() {
        "End" => Behaviour::End,
        "End.X" => Behaviour::EndX { nh: nh6()? },
        "End.T" if table == 0 => {
            return Err(bad(
                f("table"),
                "End.T needs a table other than 0 (0 is End)",
            ));
        }
        "End.T" => Behaviour::EndT { table },
        "End.DX4" => Behaviour::EndDx4 { nh: nh4()? },
        "End.DX6" => Behaviour::EndDx6 { nh: nh6()? },
        "End.DT4" => Behaviour::EndDt4 { table },
        "End.DT6" => Behaviour::EndDt6 { table },
        "End.DT46" => Behaviour::EndDt46 { table },
        "End.MAP" => Behaviour::EndMap {
            mapped: x
                .mapped
                .as_deref()
                .ok_or_else(|| bad(f("mapped"), "missing: End.MAP needs its mapped SID"))?
                .parse()
                .map_err(|_| bad(f("mapped"), "not an IPv6 address"))?,
        },
        "End.M.GTP4.E" => {
            let args_at = x.args_at.unwrap_or(len / 8);
            if args_at > 7 {
                return Err(bad(
                    f("args_at"),
                    "0 to 7: the IPv4 DA and Args.Mob.Session (9 bytes) follow in the SID",
                ));
            }
            let src_at = x.src_at.unwrap_or(8);
            if src_at > 12 {
                return Err(bad(f("src_at"), "0 to 12: the IPv4 SA in the IPv6 SA"));
            }
            Behaviour::EndMGtp4E { args_at, src_at }
        }
        "End.Limit" => {
            let args_at = x.args_at.unwrap_or(len / 8);
            if args_at > 10 {
                return Err(bad(
                    f("args_at"),
                    "0 to 10: the group (2 bytes) and limit rate (4) follow in the SID",
                ));
            }
            Behaviour::EndLimit {
                args_at,
                rate_kbps: x.rate_kbps.unwrap_or(0),
            }
        }
        "End.M.GTP6.E" => {
            let args_at = x.args_at.unwrap_or(len / 8);
            if args_at > 11 {
                return Err(bad(
                    f("args_at"),
                    "0 to 11: Args.Mob.Session (5 bytes) follows in the SID",
                ));
            }
            let source = x
                .source
                .as_deref()
                .ok_or_else(|| {
                    bad(
                        f("source"),
                        "missing: End.M.GTP6.E sends GTP-U from this (the SRGW's) address",
                    )
                })?
                .parse()
                .map_err(|_| bad(f("source"), "not an IPv6 address"))?;
            Behaviour::EndMGtp6E { args_at, source }
        }
        o => {
            return Err(bad(
                f("behaviour"),
                format!(
                    "{o:?}: End, End.X, End.T, End.DX4, End.DX6, End.DT4, End.DT6, End.DT46, End.MAP, End.M.GTP4.E, End.M.GTP6.E, End.M.GTP6.D, End.M.GTP6.D.Di or End.Limit"
                ),
            ));
        }
    };
    if x.args_at.is_some()
        && !matches!(
            b,
            Behaviour::EndMGtp4E { .. } | Behaviour::EndMGtp6E { .. } | Behaviour::EndLimit { .. }
        )
    {
        return Err(bad(
            f("args_at"),
            "for End.M.GTP4.E, End.M.GTP6.E and End.Limit only",
        ));
    }
    if x.rate_kbps.is_some() && !matches!(b, Behaviour::EndLimit { .. }) {
        return Err(bad(f("rate_kbps"), "for End.Limit only"));
    }
    if x.src_at.is_some() && !matches!(b, Behaviour::EndMGtp4E { .. }) {
        return Err(bad(f("src_at"), "for End.M.GTP4.E only"));
    }
    if x.source.is_some() && !matches!(b, Behaviour::EndMGtp6E { .. }) {
        return Err(bad(f("source"), "for End.M.GTP6.E only"));
    }
    if x.mapped.is_some() && !matches!(b, Behaviour::EndMap { .. }) {
        return Err(bad(f("mapped"), "for End.MAP only"));
    }
    let fl = crate::southbound::srv6::Flavours {
        psp: x.psp.unwrap_or(false),
        usp: x.usp.unwrap_or(false),
        usd: x.usd.unwrap_or(false),
    };
    if !matches!(
        b,
        Behaviour::End | Behaviour::EndX { .. } | Behaviour::EndT { .. }
    ) {
        for (on, name) in [(fl.psp, "psp"), (fl.usp, "usp"), (fl.usd, "usd")] {
            if on {
                return Err(bad(
                    f(name),
                    "PSP, USP and USD are flavours of End, End.X and End.T only",
                ));
            }
        }
    }
    Ok(SidSpec::Plain((addr, len, b, fl)))
}

/// One `[[srv6.n9]]`: the SMF's N9 FARs to `peer` (in `network_instance`, when given) go over
/// SRv6 by H.M.GTP4.D.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct N9Config {
    /// The peer UPFs' IPv4 prefix and length.
    pub peer: (std::net::Ipv4Addr, u8),
    /// The FARs' Network Instance (none: any).
    pub network_instance: Option<String>,
    /// The SRv6 policy (source: the IPv6 SA prefix the UPF's N9 address goes into).
    pub policy: crate::southbound::srv6::EncapPolicy,
    /// Where the IPv4 SA goes in the IPv6 SA.
    pub src_at: u8,
    /// Where the IPv4 DA and Args.Mob.Session go in the last segment.
    pub args_at: u8,
}

/// `[srv6]`: every field checked, errors naming it.
fn srv6_config(r: RawSrv6, n3: &str, n6: &str) -> Result<Srv6Config, ConfigError> {
    use crate::southbound::srv6::EncapPolicy;
    let interfaces = r.interfaces.unwrap_or_default();
    let headend_interfaces = r.headend_interfaces.unwrap_or_default();
    if interfaces.is_empty() && headend_interfaces.is_empty() {
        return Err(bad(
            "srv6.interfaces",
            "at least one interface (or srv6.headend_interfaces)",
        ));
    }
    for (f, list) in [
        ("srv6.interfaces", &interfaces),
        ("srv6.headend_interfaces", &headend_interfaces),
    ] {
        for (i, name) in list.iter().enumerate() {
            if name == n3 || name == n6 {
                return Err(bad(
                    format!("{f}[{i}]"),
                    format!("{name} is the N3 or N6 interface, which runs the GTP-U programs"),
                ));
            }
        }
    }
    if let Some(i) = headend_interfaces
        .iter()
        .position(|h| interfaces.contains(h))
    {
        return Err(bad(
            format!("srv6.headend_interfaces[{i}]"),
            "also in srv6.interfaces: one XDP program an interface",
        ));
    }
    let xdp_mode = match r.xdp_mode.as_deref() {
        None | Some("driver") => XdpMode::Driver,
        Some("skb") => XdpMode::Skb,
        Some(o) => {
            return Err(bad(
                "srv6.xdp_mode",
                format!("{o:?}: \"driver\" or \"skb\""),
            ));
        }
    };
    let max_sids = r.max_sids.unwrap_or(1024);
    if max_sids == 0 || max_sids > 1_000_000 {
        return Err(bad("srv6.max_sids", "1 to 1000000"));
    }
    if r.sid.len() > max_sids as usize {
        return Err(bad(
            "srv6.sid",
            format!("{} SIDs, srv6.max_sids is {max_sids}", r.sid.len()),
        ));
    }
    let mut sids = Vec::new();
    let mut gtp6d = Vec::new();
    for (i, x) in r.sid.iter().enumerate() {
        match parse_sid(&format!("srv6.sid[{i}]"), x)? {
            SidSpec::Plain(t) => sids.push(t),
            SidSpec::Gtp6d(t) => gtp6d.push(t),
        }
    }
    let mut policies = Vec::new();
    let mut inserts = Vec::new();
    let mut gtp4ds = Vec::new();
    if r.n9.len() > crate::state::N9_SRV6_MAX {
        return Err(bad(
            "srv6.n9",
            format!("at most {} entries", crate::state::N9_SRV6_MAX),
        ));
    }
    let mut n9 = Vec::new();
    for (i, x) in r.n9.iter().enumerate() {
        let f = |k: &str| format!("srv6.n9[{i}].{k}");
        let (a, l) = x.peer.split_once('/').unwrap_or((x.peer.as_str(), "32"));
        let peer: std::net::Ipv4Addr = a
            .parse()
            .map_err(|_| bad(f("peer"), format!("{a:?} is not an IPv4 address")))?;
        let len: u8 = l
            .parse()
            .ok()
            .filter(|n| *n <= 32)
            .ok_or_else(|| bad(f("peer"), format!("{l:?}: a prefix length 0 to 32")))?;
        if let Some(ni) = &x.network_instance
            && (ni.is_empty() || ni.len() > 32)
        {
            return Err(bad(f("network_instance"), "1 to 32 octets"));
        }
        let source: std::net::Ipv6Addr = x
            .source
            .parse()
            .map_err(|_| bad(f("source"), "not an IPv6 address"))?;
        let segments = segments_of(f("segments"), &x.segments)?;
        let args_at = x.args_at.unwrap_or(6);
        if args_at > 7 {
            return Err(bad(f("args_at"), "0 to 7: 9 bytes of arguments follow"));
        }
        let src_at = x.src_at.unwrap_or(8);
        if src_at > 12 {
            return Err(bad(f("src_at"), "0 to 12: the IPv4 SA (4 bytes) follows"));
        }
        n9.push(N9Config {
            peer: (peer, len),
            network_instance: x.network_instance.clone(),
            policy: EncapPolicy {
                src: source,
                segments,
                reduced: true,
            },
            src_at,
            args_at,
        });
    }
    for (i, p) in r.policy.iter().enumerate() {
        let f = |k: &str| format!("srv6.policy[{i}].{k}");
        let (a, l) = p
            .prefix
            .split_once('/')
            .ok_or_else(|| bad(f("prefix"), format!("{:?}: address/length", p.prefix)))?;
        let prefix: IpAddr = a
            .parse()
            .map_err(|_| bad(f("prefix"), format!("{a:?} is not an IP address")))?;
        let max = if prefix.is_ipv4() { 32 } else { 128 };
        let len: u8 = l
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(f("prefix"), format!("{l:?}: a prefix length 0 to {max}")))?;
        let insert = p.insert.unwrap_or(false);
        let src: std::net::Ipv6Addr = match (&p.source, insert) {
            (Some(s), false) => s
                .parse()
                .map_err(|_| bad(f("source"), "not an IPv6 address"))?,
            (None, false) => return Err(bad(f("source"), "missing: the outer source")),
            (Some(_), true) => {
                return Err(bad(
                    f("source"),
                    "H.Insert keeps the packet's own source: none here",
                ));
            }
            (None, true) => std::net::Ipv6Addr::UNSPECIFIED,
        };
        let gtp4d = p.gtp4d.unwrap_or(false);
        if gtp4d && insert {
            return Err(bad(f("gtp4d"), "H.M.GTP4.D or H.Insert, not both"));
        }
        if !gtp4d && (p.args_at.is_some() || p.src_at.is_some()) {
            return Err(bad(
                f("args_at"),
                "for H.M.GTP4.D policies (gtp4d = true) only",
            ));
        }
        let insert_prefix = match (insert, prefix) {
            (true, IpAddr::V6(a)) => Some(a),
            (true, IpAddr::V4(_)) => {
                return Err(bad(f("insert"), "H.Insert is for IPv6 prefixes only"));
            }
            (false, _) => None,
        };
        let segments = segments_of(f("segments"), &p.segments)?;
        let e = EncapPolicy {
            src,
            segments,
            reduced: p.reduced.unwrap_or(false),
        };
        if gtp4d {
            // RFC 9433 6.7: GTP-U/IPv4 to the prefix; the IPv4 SA goes into the IPv6 SA from
            // byte `src_at`, the IPv4 DA and Args.Mob.Session into the last segment from
            // `args_at`.
            let IpAddr::V4(a) = prefix else {
                return Err(bad(
                    f("gtp4d"),
                    "H.M.GTP4.D is for IPv4 prefixes (GTP-U peers)",
                ));
            };
            let args_at = p.args_at.unwrap_or(6);
            if args_at > 7 {
                return Err(bad(f("args_at"), "0 to 7: 9 bytes of arguments follow"));
            }
            let src_at = p.src_at.unwrap_or(8);
            if src_at > 12 {
                return Err(bad(f("src_at"), "0 to 12: the IPv4 SA (4 bytes) follows"));
            }
            gtp4ds.push((a, len, e, src_at, args_at));
            continue;
        }
        match insert_prefix {
            Some(a) => inserts.push((a, len, e)),
            None => policies.push((prefix, len, e)),
        }
    }
    Ok(Srv6Config {
        interfaces,
        headend_interfaces,
        xdp_mode,
        max_sids,
        sids,
        policies,
        inserts,
        n9,
        gtp4d: gtp4ds,
        gtp6d,
    })
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

/// `s` as an IP address, or an error naming `field`.
fn ip(field: String, s: &str) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| bad(field, format!("{s:?} is not an IP address")))
}

/// `[lb]`: every field checked, errors naming it.
fn lb_config(r: RawLb, n3: &str, n6: &str) -> Result<LbConfig, ConfigError> {
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
    let xdp_mode = match r.xdp_mode.as_deref() {
        None | Some("driver") => XdpMode::Driver,
        Some("skb") => XdpMode::Skb,
        Some(o) => {
            return Err(bad("lb.xdp_mode", format!("{o:?}: \"driver\" or \"skb\"")));
        }
    };
    let connections = r.connections.unwrap_or(1_000_000);
    if connections == 0 || connections > 50_000_000 {
        return Err(bad("lb.connections", "1 to 50000000"));
    }
    let sctp_associations = r.sctp_associations.unwrap_or(16_384);
    if sctp_associations == 0 || sctp_associations > 4_000_000 {
        return Err(bad("lb.sctp_associations", "1 to 4000000"));
    }
    let sctp_half_open = r.sctp_half_open.unwrap_or(4096);
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
        interval: ms("lb.health_interval_ms", r.health_interval_ms, 2000)?,
        timeout: ms("lb.health_timeout_ms", r.health_timeout_ms, 1000)?,
        fall: r.health_fall.unwrap_or(3),
        rise: r.health_rise.unwrap_or(2),
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

fn opt_addr<T: std::str::FromStr>(
    v: &Option<String>,
    field: &str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    v.as_ref()
        .map(|s| {
            s.parse::<T>()
                .map_err(|_| bad(field, format!("{s:?} is not an {what} address")))
        })
        .transpose()
}

fn iface(r: &RawIface, name: &str) -> Result<Iface, ConfigError> {
    if r.interface.is_empty() || r.interface.len() > 15 || r.interface.contains('/') {
        return Err(bad(
            format!("{name}.interface"),
            format!("{:?} is not an interface name (1 to 15 bytes)", r.interface),
        ));
    }
    let ipv4 = opt_addr(&r.ipv4, &format!("{name}.ipv4"), "IPv4")?;
    let ipv6 = opt_addr(&r.ipv6, &format!("{name}.ipv6"), "IPv6")?;
    if ipv4.is_none() && ipv6.is_none() {
        return Err(bad(
            format!("{name}.ipv4"),
            "at least one of ipv4 and ipv6 is needed",
        ));
    }
    let xdp_mode = match r.xdp_mode.as_deref() {
        None | Some("driver") => XdpMode::Driver,
        Some("skb") => XdpMode::Skb,
        Some(o) => {
            return Err(bad(
                format!("{name}.xdp_mode"),
                format!("{o:?} is neither \"driver\" nor \"skb\""),
            ));
        }
    };
    Ok(Iface {
        interface: r.interface.clone(),
        ipv4,
        ipv6,
        xdp_mode,
    })
}

impl Config {
    /// Map sizes for a configuration: `max_sessions` of the typical shape, and a direct TEID
    /// array covering the part of the F-TEID range from `TEID_DIRECT` up.
    pub fn map_sizes(&self) -> crate::southbound::MapSizes {
        let mut m = crate::southbound::MapSizes::for_sessions(self.max_sessions);
        let (first, last) = self.fteid;
        m.ul_direct = if last >= bpf_abi::gtp::TEID_DIRECT {
            let lo = first.max(bpf_abi::gtp::TEID_DIRECT);
            (last - bpf_abi::gtp::TEID_DIRECT + 1)
                .min(16 << 20)
                .max(lo - bpf_abi::gtp::TEID_DIRECT + 1)
        } else {
            1
        };
        m
    }

    /// Parses and checks a configuration file's text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // toml names the key and the line; keep its message whole.
            let field = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].lines().count().max(1);
                    format!("line {line}")
                })
                .unwrap_or_else(|| "file".into());
            bad(field, e.message().to_string())
        })?;
        let node_id = match raw.node.node_id.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => NodeId::Ipv4(a),
            Ok(IpAddr::V6(a)) => NodeId::Ipv6(a),
            Err(_) => {
                let n = &raw.node.node_id;
                let ok = !n.is_empty()
                    && n.len() <= 253
                    && n.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    });
                if !ok {
                    return Err(bad(
                        "node.node_id",
                        format!("{n:?} is neither an IP address nor an FQDN"),
                    ));
                }
                NodeId::Fqdn(n.clone())
            }
        };
        let n3 = iface(&raw.n3, "n3")?;
        let n6 = iface(&raw.n6, "n6")?;
        if n3.interface == n6.interface {
            return Err(bad(
                "n6.interface",
                "N3 and N6 must be different interfaces",
            ));
        }
        if raw.n4.listen.is_empty() {
            return Err(bad("n4.listen", "at least one address to listen on"));
        }
        let mut listen = Vec::new();
        for (i, l) in raw.n4.listen.iter().enumerate() {
            listen.push(l.parse::<SocketAddr>().map_err(|_| {
                bad(
                    format!("n4.listen[{i}]"),
                    format!("{l:?} is not a socket address (192.0.2.2:8805, [2001:db8::2]:8805)"),
                )
            })?);
        }
        let mut allowed_peers = Vec::new();
        for (i, p) in raw.n4.allowed_peers.iter().enumerate() {
            allowed_peers
                .push(Cidr::parse(p).map_err(|w| bad(format!("n4.allowed_peers[{i}]"), w))?);
        }
        if allowed_peers.is_empty() {
            return Err(bad(
                "n4.allowed_peers",
                "no peer would be allowed (use 0.0.0.0/0 and ::/0 to allow everyone)",
            ));
        }
        let heartbeat = raw.n4.heartbeat_interval_s.unwrap_or(10);
        if !(1..=3600).contains(&heartbeat) {
            return Err(bad("n4.heartbeat_interval_s", "must be 1 to 3600"));
        }
        let t1 = raw.n4.t1_ms.unwrap_or(3000);
        if !(10..=60_000).contains(&t1) {
            return Err(bad("n4.t1_ms", "must be 10 to 60000"));
        }
        let n1 = raw.n4.n1.unwrap_or(3);
        if !(1..=10).contains(&n1) {
            return Err(bad("n4.n1", "must be 1 to 10"));
        }
        let response_cache = raw.n4.response_cache.unwrap_or(4096);
        if !(16..=1 << 20).contains(&response_cache) {
            return Err(bad("n4.response_cache", "must be 16 to 1048576"));
        }
        let mut ue_pools = Vec::new();
        for (i, p) in raw.ue_pool.iter().enumerate() {
            let cidr = Cidr::parse(&p.cidr).map_err(|w| bad(format!("ue_pool[{i}].cidr"), w))?;
            if cidr.addr.is_ipv6() && cidr.len > 64 {
                return Err(bad(
                    format!("ue_pool[{i}].cidr"),
                    "an IPv6 pool gives /64 prefixes: its prefix must be /64 or shorter",
                ));
            }
            if p.network_instance.is_empty() {
                return Err(bad(
                    format!("ue_pool[{i}].network_instance"),
                    "must not be empty",
                ));
            }
            ue_pools.push(UePool {
                network_instance: p.network_instance.clone(),
                cidr,
            });
        }
        let max_sessions = raw.limits.map_or(65536, |l| l.max_sessions);
        if !(1..=16 << 20).contains(&max_sessions) {
            return Err(bad("limits.max_sessions", "must be 1 to 16777216"));
        }
        let fteid = match raw.fteid {
            Some(f) => {
                if f.first == 0 {
                    return Err(bad("fteid.first", "TEID 0 is reserved (TS 29.281 5.1)"));
                }
                if f.last < f.first {
                    return Err(bad("fteid.last", "must not be below fteid.first"));
                }
                (f.first, f.last)
            }
            None => (
                bpf_abi::gtp::TEID_DIRECT,
                bpf_abi::gtp::TEID_DIRECT + max_sessions.saturating_mul(2) - 1,
            ),
        };
        let mbr_burst_ms = raw.qer.map_or(100, |q| q.mbr_burst_ms);
        if !(1..=1000).contains(&mbr_burst_ms) {
            // The datapath credits at most a second of the rate at once (bpf-gtp qer.rs).
            return Err(bad("qer.mbr_burst_ms", "must be 1 to 1000"));
        }
        let per_session = raw
            .buffering
            .as_ref()
            .and_then(|b| b.per_session)
            .unwrap_or(64);
        if !(1..=65_536).contains(&per_session) {
            return Err(bad("buffering.per_session", "must be 1 to 65536"));
        }
        let total = raw
            .buffering
            .as_ref()
            .and_then(|b| b.total)
            .unwrap_or(65_536);
        if !(per_session..=16 << 20).contains(&total) {
            return Err(bad(
                "buffering.total",
                "must be at least buffering.per_session and at most 16777216",
            ));
        }
        let state = match raw.state {
            None => None,
            Some(st) => {
                if !st.pin_dir.starts_with('/') {
                    return Err(bad(
                        "state.pin_dir",
                        "must be an absolute path on a bpf filesystem",
                    ));
                }
                if !st.db.starts_with('/') {
                    return Err(bad("state.db", "must be an absolute path"));
                }
                Some(State {
                    pin_dir: std::path::Path::new(&st.pin_dir)
                        .join(format!("abi-v{}", bpf_abi::ABI_VERSION)),
                    db: st.db.into(),
                })
            }
        };
        let api = raw.api.unwrap_or(RawApi {
            enabled: None,
            listen: None,
            token: None,
            tls_cert: None,
            tls_key: None,
            drop_event_rate: None,
        });
        let api_tls = match (&api.tls_cert, &api.tls_key) {
            (None, None) => None,
            (Some(c), Some(k)) => {
                let read = |field: &str, p: &str| {
                    std::fs::read(p).map_err(|e| bad(field, format!("reading {p:?}: {e}")))
                };
                Some((read("api.tls_cert", c)?, read("api.tls_key", k)?))
            }
            (Some(_), None) => return Err(bad("api.tls_key", "tls_cert needs tls_key")),
            (None, Some(_)) => return Err(bad("api.tls_cert", "tls_key needs tls_cert")),
        };
        let api_listen = if api.enabled.unwrap_or(true) {
            let a = api.listen.as_deref().unwrap_or("127.0.0.1:50051");
            Some(a.parse().map_err(|_| {
                bad(
                    "api.listen",
                    format!("{a:?} is not a socket address (127.0.0.1:50051)"),
                )
            })?)
        } else {
            None
        };
        if api
            .token
            .as_ref()
            .is_some_and(|t| t.len() < 16 || t.contains(char::is_whitespace))
        {
            return Err(bad("api.token", "at least 16 characters, no white space"));
        }
        let srv6 = match raw.srv6 {
            None => None,
            Some(s) => Some(srv6_config(s, &n3.interface, &n6.interface)?),
        };
        let lb = match raw.lb {
            None => None,
            Some(l) => Some(lb_config(l, &n3.interface, &n6.interface)?),
        };
        Ok(Config {
            node_id,
            n3,
            n6,
            listen,
            allowed_peers,
            heartbeat_interval: Duration::from_secs(heartbeat),
            t1: Duration::from_millis(t1),
            n1,
            response_cache,
            ue_pools,
            fteid,
            max_sessions,
            mbr_burst_ms,
            prometheus_listen: match raw
                .telemetry
                .as_ref()
                .and_then(|t| t.prometheus_listen.as_ref())
            {
                None => None,
                Some(a) => Some(a.parse().map_err(|_| {
                    bad(
                        "telemetry.prometheus_listen",
                        format!("{a:?} is not a socket address (127.0.0.1:9464)"),
                    )
                })?),
            },
            trace_sample_ratio: {
                let r = raw
                    .telemetry
                    .as_ref()
                    .and_then(|t| t.trace_sample_ratio)
                    .unwrap_or(1.0);
                if !(0.0..=1.0).contains(&r) {
                    return Err(bad("telemetry.trace_sample_ratio", "must be 0 to 1"));
                }
                r
            },
            otlp_endpoint: raw.telemetry.and_then(|t| t.otlp_endpoint),
            buffer_per_session: per_session,
            buffer_total: total,
            state,
            api_listen,
            api_token: api.token,
            api_tls,
            drop_event_rate: api.drop_event_rate.unwrap_or(1000),
            lb,
            srv6,
        })
    }

    /// The embedded default.
    pub fn default_embedded() -> Config {
        Config::parse(DEFAULT).expect("the embedded default configuration is valid")
    }

    /// True when `a` may talk to us.
    pub fn peer_allowed(&self, a: IpAddr) -> bool {
        self.allowed_peers.iter().any(|c| c.contains(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_valid() {
        let c = Config::default_embedded();
        assert_eq!(c.n3.interface, "n3");
        assert_eq!(c.listen.len(), 2);
        assert!(c.peer_allowed("192.0.2.1".parse().unwrap()));
        assert!(!c.peer_allowed("198.51.100.1".parse().unwrap()));
        assert_eq!(c.fteid, (0x8000_0000, 0x8001_ffff));
    }

    fn with(from: &str, to: &str) -> Result<Config, ConfigError> {
        assert!(DEFAULT.contains(from), "{from}");
        Config::parse(&DEFAULT.replacen(from, to, 1))
    }

    #[test]
    fn a_bad_field_is_named() {
        let cases = [
            ("ipv4 = \"192.0.2.2\"", "ipv4 = \"192.0.2.300\"", "n3.ipv4"),
            ("\"192.0.2.2:8805\",", "\"192.0.2.2\",", "n4.listen[0]"),
            (
                "\"192.0.2.0/24\",",
                "\"192.0.2.1/24\",",
                "n4.allowed_peers[0]",
            ),
            (
                "cidr = \"198.18.0.0/16\"",
                "cidr = \"198.18.0.0/33\"",
                "ue_pool[0].cidr",
            ),
            (
                "cidr = \"2001:db8:1000::/48\"",
                "cidr = \"2001:db8:1000::/96\"",
                "ue_pool[1].cidr",
            ),
            ("last = 0x8001ffff", "last = 0x10", "fteid.last"),
            (
                "max_sessions = 65536",
                "max_sessions = 0",
                "limits.max_sessions",
            ),
            ("t1_ms = 3000", "t1_ms = 1", "n4.t1_ms"),
            (
                "node_id = \"192.0.2.2\"",
                "node_id = \"bad name!\"",
                "node.node_id",
            ),
            (
                "xdp_mode = \"driver\"",
                "xdp_mode = \"fast\"",
                "n3.xdp_mode",
            ),
            ("interface = \"n6\"", "interface = \"n3\"", "n6.interface"),
        ];
        for (from, to, field) in cases {
            let e = with(from, to).expect_err(to);
            assert_eq!(e.field, field, "{to}: {e}");
        }
    }

    #[test]
    fn unknown_and_mistyped_keys_stop_start_up_with_the_key_named() {
        let e = with("n1 = 3", "n1 = 3\nretries = 4").unwrap_err();
        assert!(e.why.contains("retries"), "{e}");
        let e = with("n1 = 3", "n1 = \"three\"").unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
    }

    /// The embedded default with an `[lb]` section appended.
    fn with_lb(lb: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{DEFAULT}\n{lb}"))
    }

    const LB: &str = r#"
[lb]
interfaces = ["lb0", "lb1"]
xdp_mode = "skb"
connections = 1000
sctp_associations = 100

[[lb.service]]
vip = "198.18.0.10"
protocol = "tcp"
port = 80
backends = [
    { addr = "203.0.113.10", port = 8080, weight = 2 },
    { addr = "203.0.113.11", port = 8080 },
]

[[lb.service]]
vip = "2001:db8:fe::53"
protocol = "udp"
backends = [{ addr = "2001:db8:0:6::53" }]

[[lb.service]]
vips = ["203.0.113.1", "203.0.113.2"]
links = ["lb0", "lb1"]
protocol = "sctp"
port = 38412
backends = [{ addrs = ["198.18.1.11", "198.18.101.11"] }]

[[lb.service]]
vip = "2001:db8:fe::80"
protocol = "tcp"
port = 80
nat64_source = "198.18.64.1"
scheduler = "source_hash"
backends = [{ addr = "203.0.113.80", port = 8080 }]
"#;

    #[test]
    fn load_balancer_services_are_read_and_checked() {
        let c = with_lb(LB).unwrap().lb.expect("[lb]");
        assert_eq!(c.interfaces, ["lb0", "lb1"]);
        assert_eq!((c.xdp_mode, c.connections), (XdpMode::Skb, 1000));
        assert_eq!(c.services.len(), 4);
        assert_eq!(
            c.services[3].nat64_source,
            Some("198.18.64.1".parse().unwrap())
        );
        assert_eq!(
            (c.services[3].scheduler, c.services[0].scheduler),
            (bpf_abi::lb::sched::SOURCE_HASH, bpf_abi::lb::sched::MAGLEV)
        );
        assert_eq!(
            c.services[3].backends[0].addr,
            "203.0.113.80".parse::<IpAddr>().unwrap()
        );
        let s = &c.services[0];
        assert_eq!(
            (s.vip, s.proto, s.port),
            ("198.18.0.10".parse().unwrap(), 6, 80)
        );
        assert_eq!((s.backends[0].weight, s.backends[1].weight), (2, 1));
        let u = &c.services[1];
        assert_eq!((u.proto, u.port, u.backends[0].port), (17, 0, 0));
        assert!(Config::default_embedded().lb.is_none(), "off by default");
        let sc = &c.services[2];
        assert_eq!((sc.proto, sc.port, sc.vips.len()), (132, 38412, 2));
        assert_eq!(sc.links, ["lb0", "lb1"]);
        assert!(c.services[0].links.is_empty());
        assert_eq!(
            sc.sctp_backends[0].addrs,
            [
                "198.18.1.11".parse::<IpAddr>().unwrap(),
                "198.18.101.11".parse().unwrap()
            ]
        );
        assert_eq!((c.sctp_associations, c.sctp_half_open), (100, 4096));
        use crate::lb_health::Check;
        assert_eq!(
            c.services.iter().map(|s| s.health).collect::<Vec<_>>(),
            [Check::Tcp, Check::None, Check::Sctp, Check::Tcp],
            "defaults: TCP connect, none for UDP on every port, SCTP INIT"
        );
        assert_eq!(c.health.interval, std::time::Duration::from_secs(2));
        let t = c.services[0].health_targets(0);
        assert_eq!(t[1].addr, "203.0.113.11:8080".parse().unwrap());
        assert_eq!(
            c.services[2].health_targets(2)[0].addr,
            "198.18.1.11:38412".parse().unwrap()
        );
        for (from, to, field) in [
            ("\"198.18.0.10\"", "\"198.18.0.300\"", "lb.service[0].vip"),
            ("\"tcp\"", "\"quic\"", "lb.service[0].protocol"),
            ("port = 38412", "", "lb.service[2].port"),
            (
                "[\"198.18.1.11\", \"198.18.101.11\"]",
                "[\"198.18.1.11\"]",
                "lb.service[2].backends[0].addrs",
            ),
            (
                "\"203.0.113.2\"]",
                "\"2001:db8::2\"]",
                "lb.service[2].vips[1]",
            ),
            (
                "sctp_associations = 100",
                "sctp_associations = 0",
                "lb.sctp_associations",
            ),
            (
                "nat64_source = \"198.18.64.1\"",
                "nat64_source = \"2001:db8::1\"",
                "lb.service[3].nat64_source",
            ),
            (
                "scheduler = \"source_hash\"",
                "scheduler = \"random\"",
                "lb.service[3].scheduler",
            ),
            (
                "addr = \"203.0.113.80\"",
                "addr = \"2001:db8::80\"",
                "lb.service[3].backends[0].addr",
            ),
            (
                "sctp_associations = 100",
                "health_timeout_ms = 5000",
                "lb.health_timeout_ms",
            ),
            (
                "port = 38412",
                "port = 38412\nhealth = \"tcp\"",
                "lb.service[2].health",
            ),
            (
                "protocol = \"udp\"",
                "protocol = \"udp\"\nhealth = \"udp\"",
                "lb.service[1].health",
            ),
            (
                "vip = \"2001:db8:fe::53\"",
                "vips = [\"2001:db8:fe::53\"]",
                "lb.service[1].vips",
            ),
            (
                "\"2001:db8:0:6::53\"",
                "\"203.0.113.53\"",
                "lb.service[1].backends[0].addr",
            ),
            (
                "weight = 2",
                "weight = 101",
                "lb.service[0].backends[0].weight",
            ),
            (
                "[\"lb0\", \"lb1\"]",
                "[\"lb0\", \"n3\"]",
                "lb.interfaces[1]",
            ),
            ("[\"lb0\", \"lb1\"]", "[]", "lb.interfaces"),
            (
                "links = [\"lb0\", \"lb1\"]",
                "links = [\"lb0\"]",
                "lb.service[2].links",
            ),
            (
                "links = [\"lb0\", \"lb1\"]",
                "links = [\"lb0\", \"eth9\"]",
                "lb.service[2].links[1]",
            ),
            (
                "links = [\"lb0\", \"lb1\"]",
                "links = [\"lb1\", \"lb1\"]",
                "lb.service[2].links[1]",
            ),
            (
                "protocol = \"udp\"",
                "protocol = \"udp\"\nlinks = [\"lb0\"]",
                "lb.service[1].links",
            ),
            ("xdp_mode = \"skb\"", "xdp_mode = \"fast\"", "lb.xdp_mode"),
            ("connections = 1000", "connections = 0", "lb.connections"),
            (
                "\"2001:db8:fe::53\"",
                "\"198.18.0.10\"",
                "lb.service[1].backends[0].addr",
            ),
        ] {
            assert!(LB.contains(from), "{from}");
            let e = with_lb(&LB.replacen(from, to, 1)).unwrap_err();
            assert_eq!(e.field, field, "{from} -> {to}: {e}");
        }
        // The same VIP, protocol and port twice.
        let twice = LB.replacen("protocol = \"udp\"", "protocol = \"tcp\"\nport = 80", 1);
        let twice = twice.replacen("\"2001:db8:fe::53\"", "\"198.18.0.10\"", 1);
        let twice = twice.replacen("\"2001:db8:0:6::53\"", "\"203.0.113.53\"", 1);
        let e = with_lb(&twice).unwrap_err();
        assert_eq!(e.field, "lb.service[1]", "{e}");
        assert!(e.why.contains("lb.service[0]"), "{e}");
    }

    const LB_MODES: &str = r#"
[lb]
interfaces = ["lb0"]
decap_interfaces = ["lb1"]
decap_vips = ["198.18.0.99"]

[[lb.service]]
vip = "198.18.0.10"
protocol = "tcp"
port = 80
mode = "full_nat"
source = "203.0.113.1"
backends = [{ addr = "203.0.113.10", port = 8080 }]

[[lb.service]]
vip = "198.18.0.11"
protocol = "tcp"
port = 80
mode = "dsr_l2"
backends = [{ addr = "203.0.113.10" }]

[[lb.service]]
vip = "2001:db8:fe::12"
protocol = "udp"
port = 53
mode = "dsr_tunnel"
source = "2001:db8:0:6::1"
backends = [{ addr = "2001:db8:0:6::53", port = 53 }]
"#;

    #[test]
    fn forwarding_modes_and_decapsulation_are_read_and_checked() {
        use crate::southbound::lb::Forwarding;
        let c = with_lb(LB_MODES).unwrap().lb.expect("[lb]");
        assert_eq!(
            c.services.iter().map(|s| s.forwarding).collect::<Vec<_>>(),
            [
                Forwarding::FullNat {
                    source: "203.0.113.1".parse().unwrap()
                },
                Forwarding::DsrL2,
                Forwarding::DsrTunnel {
                    source: "2001:db8:0:6::1".parse().unwrap()
                },
            ]
        );
        assert_eq!(c.decap_interfaces, ["lb1"]);
        assert_eq!(c.decap_vips, ["198.18.0.99".parse::<IpAddr>().unwrap()]);
        // A DSR backend alone: no load-balancing interfaces.
        let b = LB_MODES.replacen("interfaces = [\"lb0\"]\n", "", 1);
        assert!(with_lb(&b).is_ok());
        assert_eq!(
            with_lb(LB).unwrap().lb.unwrap().services[0].forwarding,
            Forwarding::Dnat
        );
        for (from, to, field) in [
            (
                "mode = \"full_nat\"",
                "mode = \"nat\"",
                "lb.service[0].mode",
            ),
            ("source = \"203.0.113.1\"\n", "", "lb.service[0].source"),
            ("\"203.0.113.1\"", "\"2001:db8::1\"", "lb.service[0].source"),
            ("\"203.0.113.1\"", "\"0.0.0.0\"", "lb.service[0].source"),
            (
                "mode = \"dsr_l2\"",
                "mode = \"dsr_l2\"\nsource = \"203.0.113.1\"",
                "lb.service[1].source",
            ),
            (
                "{ addr = \"203.0.113.10\" }",
                "{ addr = \"203.0.113.10\", port = 8080 }",
                "lb.service[1].backends[0].port",
            ),
            ("decap_vips = [\"198.18.0.99\"]", "", "lb.decap_vips"),
            ("\"198.18.0.99\"", "\"vip\"", "lb.decap_vips[0]"),
            ("[\"lb1\"]", "[\"n6\"]", "lb.decap_interfaces[0]"),
        ] {
            assert!(LB_MODES.contains(from), "{from}");
            let e = with_lb(&LB_MODES.replacen(from, to, 1)).unwrap_err();
            assert_eq!(e.field, field, "{from} -> {to}: {e}");
        }
        // SCTP and NAT64 keep their own translation.
        let e = with_lb(&LB.replacen("scheduler = \"source_hash\"", "mode = \"dsr_l2\"", 1))
            .unwrap_err();
        assert_eq!(e.field, "lb.service[3].mode", "{e}");
    }

    const SRV6: &str = r#"
[srv6]
interfaces = ["sr0"]
headend_interfaces = ["sr1"]
xdp_mode = "skb"
max_sids = 16

[[srv6.sid]]
sid = "2001:db8:ff:0:1::/80"
behaviour = "End"
psp = true

[[srv6.sid]]
sid = "2001:db8:ff:0:2::/80"
behaviour = "End.DX4"
nh = "198.51.100.10"

[[srv6.sid]]
sid = "2001:db8:ff:0:5::/80"
behaviour = "End.DT6"
table = 100

[[srv6.sid]]
sid = "2001:db8:ff:0:b::/80"
behaviour = "End"
usp = true
usd = true

[[srv6.sid]]
sid = "2001:db8:ff:0:d::/80"
behaviour = "End.MAP"
mapped = "2001:db8:0:6::10"

[[srv6.sid]]
sid = "2001:db8:ee::/48"
behaviour = "End.M.GTP4.E"
args_at = 6
src_at = 8

[[srv6.sid]]
sid = "2001:db8:ef::/64"
behaviour = "End.M.GTP6.E"
source = "2001:db8:0:3::5"

[[srv6.sid]]
sid = "2001:db8:ff:0:f::/64"
behaviour = "End.Limit"
rate_kbps = 10000

[[srv6.sid]]
sid = "2001:db8:ed::/48"
behaviour = "End.M.GTP6.D"
source = "2001:db8:0:3::5"
segments = ["2001:db8:0:6::10", "2001:db8:ee:1::"]

[[srv6.n9]]
peer = "203.0.113.0/24"
network_instance = "n9"
source = "2001:db8:0:3::"
segments = ["2001:db8:0:6::10", "2001:db8:ee::"]

[[srv6.policy]]
prefix = "203.0.113.80/32"
source = "2001:db8:0:3::"
segments = ["2001:db8:ee::"]
gtp4d = true

[[srv6.policy]]
prefix = "2001:db8:79::/48"
segments = ["2001:db8:0:6::10", "2001:db8:ff:0:1::"]
insert = true

[[srv6.policy]]
prefix = "198.51.100.0/24"
source = "2001:db8:0:3::1"
segments = ["2001:db8:ff:0:2::", "2001:db8:ff:0:1::"]
reduced = true
"#;

    #[test]
    fn srv6_sids_and_policies_are_read_and_checked() {
        use crate::southbound::srv6::Behaviour;
        let c = Config::parse(&format!("{DEFAULT}\n{SRV6}"))
            .unwrap()
            .srv6
            .expect("[srv6]");
        assert_eq!(
            (c.interfaces.len(), c.headend_interfaces.len(), c.max_sids),
            (1, 1, 16)
        );
        assert_eq!(c.sids.len(), 8);
        assert_eq!(
            c.sids[7].2,
            Behaviour::EndLimit {
                args_at: 8,
                rate_kbps: 10000
            }
        );
        assert_eq!(c.gtp6d.len(), 1);
        assert!(!c.gtp6d[0].4);
        let di = Config::parse(&format!(
            "{DEFAULT}\n{}",
            SRV6.replacen("\"End.M.GTP6.D\"", "\"End.M.GTP6.D.Di\"", 1)
        ))
        .unwrap()
        .srv6
        .unwrap();
        assert!(di.gtp6d[0].4, "drop-in mode");
        assert_eq!(
            (c.gtp6d[0].2.segments.len(), c.gtp6d[0].3, c.gtp6d[0].1),
            (2, 8, 48)
        );
        assert_eq!(
            c.sids[5].2,
            Behaviour::EndMGtp4E {
                args_at: 6,
                src_at: 8
            }
        );
        assert_eq!(
            c.sids[6].2,
            Behaviour::EndMGtp6E {
                args_at: 8,
                source: "2001:db8:0:3::5".parse().unwrap()
            },
            "args_at defaults to the prefix's bytes"
        );
        assert!(c.sids[0].3.psp, "PSP");
        assert!(c.sids[3].3.usp && c.sids[3].3.usd && !c.sids[3].3.psp);
        assert_eq!(
            c.sids[4].2,
            Behaviour::EndMap {
                mapped: "2001:db8:0:6::10".parse().unwrap()
            }
        );
        assert_eq!(
            c.sids[1].2,
            Behaviour::EndDx4 {
                nh: "198.51.100.10".parse().unwrap()
            }
        );
        assert_eq!(c.sids[2].2, Behaviour::EndDt6 { table: 100 });
        assert!(c.policies[0].2.reduced);
        assert_eq!(c.inserts.len(), 1);
        assert_eq!(
            (
                c.n9[0].peer,
                c.n9[0].network_instance.as_deref(),
                c.n9[0].args_at,
                c.n9[0].src_at
            ),
            (("203.0.113.0".parse().unwrap(), 24), Some("n9"), 6, 8)
        );
        assert_eq!((c.gtp4d.len(), c.gtp4d[0].3, c.gtp4d[0].4), (1, 8, 6));
        assert_eq!(c.inserts[0].2.segments.len(), 2);
        assert_eq!(c.policies[0].2.segments.len(), 2);
        assert!(Config::default_embedded().srv6.is_none(), "off by default");
        for (from, to, field) in [
            (
                "behaviour = \"End\"",
                "behaviour = \"End.Y\"",
                "srv6.sid[0].behaviour",
            ),
            (
                "nh = \"198.51.100.10\"",
                "nh = \"2001:db8::1\"",
                "srv6.sid[1].nh",
            ),
            ("nh = \"198.51.100.10\"", "", "srv6.sid[1].nh"),
            (
                "/80\"\nbehaviour = \"End\"",
                "/129\"\nbehaviour = \"End\"",
                "srv6.sid[0].sid",
            ),
            ("psp = true", "psp = \"yes\"", "line"),
            ("table = 100", "table = 100\npsp = true", "srv6.sid[2].psp"),
            ("table = 100", "table = 100\nusd = true", "srv6.sid[2].usd"),
            ("mapped = \"2001:db8:0:6::10\"", "", "srv6.sid[4].mapped"),
            (
                "mapped = \"2001:db8:0:6::10\"",
                "mapped = \"203.0.113.1\"",
                "srv6.sid[4].mapped",
            ),
            (
                "table = 100",
                "table = 100\nmapped = \"::1\"",
                "srv6.sid[2].mapped",
            ),
            ("args_at = 6", "args_at = 8", "srv6.sid[5].args_at"),
            (
                "rate_kbps = 10000",
                "rate_kbps = 10000\nargs_at = 11",
                "srv6.sid[7].args_at",
            ),
            (
                "table = 100",
                "table = 100\nrate_kbps = 1",
                "srv6.sid[2].rate_kbps",
            ),
            (
                "segments = [\"2001:db8:0:6::10\", \"2001:db8:ee:1::\"]",
                "",
                "srv6.sid[8].segments",
            ),
            (
                "\"2001:db8:ee:1::\"]",
                "\"2001:db8:ee:1::x\"]",
                "srv6.sid[8].segments[1]",
            ),
            (
                "behaviour = \"End.M.GTP6.D\"",
                "behaviour = \"End.M.GTP6.D\"\ntable = 3",
                "srv6.sid[8].table",
            ),
            (
                "table = 100",
                "table = 100\nreduced = true",
                "srv6.sid[2].segments",
            ),
            ("src_at = 8", "src_at = 13", "srv6.sid[5].src_at"),
            ("source = \"2001:db8:0:3::5\"", "", "srv6.sid[6].source"),
            (
                "table = 100",
                "table = 100\nargs_at = 1",
                "srv6.sid[2].args_at",
            ),
            ("[\"sr1\"]", "[\"sr0\"]", "srv6.headend_interfaces[0]"),
            ("[\"sr0\"]", "[\"n6\"]", "srv6.interfaces[0]"),
            ("max_sids = 16", "max_sids = 2", "srv6.sid"),
            (
                "source = \"2001:db8:0:3::1\"",
                "source = \"192.0.2.1\"",
                "srv6.policy[2].source",
            ),
            ("reduced = true", "reduced = true\nextra = 1", "line"),
            (
                "peer = \"203.0.113.0/24\"",
                "peer = \"2001:db8::/32\"",
                "srv6.n9[0].peer",
            ),
            (
                "network_instance = \"n9\"",
                "network_instance = \"\"",
                "srv6.n9[0].network_instance",
            ),
            (
                "segments = [\"2001:db8:0:6::10\", \"2001:db8:ee::\"]",
                "segments = []",
                "srv6.n9[0].segments",
            ),
            (
                "gtp4d = true",
                "gtp4d = true\nargs_at = 8",
                "srv6.policy[0].args_at",
            ),
            (
                "prefix = \"203.0.113.80/32\"",
                "prefix = \"2001:db8:80::/48\"",
                "srv6.policy[0].gtp4d",
            ),
            (
                "insert = true",
                "insert = true\nsource = \"2001:db8::1\"",
                "srv6.policy[1].source",
            ),
            (
                "prefix = \"2001:db8:79::/48\"",
                "prefix = \"192.0.2.0/24\"",
                "srv6.policy[1].insert",
            ),
        ] {
            assert!(SRV6.contains(from), "{from}");
            let e =
                Config::parse(&format!("{DEFAULT}\n{}", SRV6.replacen(from, to, 1))).unwrap_err();
            if field == "line" {
                assert!(e.to_string().contains("line"), "{from} -> {to}: {e}");
            } else {
                assert_eq!(e.field, field, "{from} -> {to}: {e}");
            }
        }
    }

    #[test]
    fn cidrs_match_their_members_only() {
        let c = Cidr::parse("198.18.0.0/15").unwrap();
        assert!(c.contains("198.19.255.255".parse().unwrap()));
        assert!(!c.contains("198.20.0.0".parse().unwrap()));
        assert!(c.contains("::ffff:198.18.0.1".parse().unwrap()));
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!c.contains("2001:db9::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.9".parse().unwrap())
        );
    }
}
