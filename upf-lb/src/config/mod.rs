//! The daemon's configuration: a TOML file (documented field by field in
//! `config/upf-lb.toml`, which is also the embedded default, and in docs/configuration.md),
//! checked whole at start-up. A bad file stops start-up with an error that names the field and
//! says why.
//!
//! One file per section (`[n4]` in `n4.rs`, `[[lb.service]]` in `lb.rs`, ...), each with its
//! raw form as read and its checks; here the file as a whole: what it is made of, the checks
//! across sections (N3 and N6 apart, the F-TEID range from `[limits]`, the interfaces `[lb]`
//! and `[srv6]` may not take), and the checked [`Config`].

mod api;
mod buffering;
mod cidr;
mod field;
mod fteid;
mod iface;
mod lb;
mod limits;
mod n4;
mod node;
mod qer;
mod srv6;
mod state;
mod telemetry;
#[cfg(test)]
mod tests;
mod ue_pool;

pub use cidr::Cidr;
pub use field::ConfigError;
pub use iface::{Iface, XdpMode};
pub use lb::{LbConfig, LbService};
pub use srv6::{N9Config, RawSid, SidSpec, Srv6Config, parse_sid};
pub use state::State;
pub use ue_pool::UePool;

use field::bad;
use pfcp::ie::addr::NodeId;
use serde::{Deserialize, Serialize};
use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

/// A configuration file with every default a section has written in and the API token hidden:
/// what `upf-lb check-config` prints. Given back to [`Config::parse`] (with a token of its
/// own), it makes the same [`Config`].
pub struct Resolved(RawConfig);

impl Resolved {
    /// As TOML, in the file's own layout.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(&self.0)?)
    }

    /// As JSON (the same keys; an absent optional key is left out).
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(&toml::Value::try_from(
            &self.0,
        )?)?)
    }
}

/// The embedded default configuration (the demo's topology).
pub const DEFAULT: &str = include_str!("../../../config/upf-lb.toml");

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node: node::RawNode,
    n3: iface::RawIface,
    n6: iface::RawIface,
    n4: n4::RawN4,
    #[serde(default)]
    ue_pool: Vec<ue_pool::RawPool>,
    #[serde(default)]
    fteid: Option<fteid::RawFteid>,
    #[serde(default)]
    limits: Option<limits::RawLimits>,
    #[serde(default)]
    qer: Option<qer::RawQer>,
    #[serde(default)]
    telemetry: Option<telemetry::RawTelemetry>,
    #[serde(default)]
    buffering: Option<buffering::RawBuffering>,
    #[serde(default)]
    state: Option<state::RawState>,
    #[serde(default)]
    api: Option<api::RawApi>,
    #[serde(default)]
    lb: Option<lb::RawLb>,
    #[serde(default)]
    srv6: Option<srv6::RawSrv6>,
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
        Self::parse_resolved(text).map(|(c, _)| c)
    }

    /// Parses and checks a configuration file's text; also gives the file with every default
    /// written in ([`Resolved`]).
    pub fn parse_resolved(text: &str) -> Result<(Config, Resolved), ConfigError> {
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
        let node_id = node::check(&raw.node)?;
        let n3 = iface::iface(&raw.n3, "n3")?;
        let n6 = iface::iface(&raw.n6, "n6")?;
        if n3.interface == n6.interface {
            return Err(bad(
                "n6.interface",
                "N3 and N6 must be different interfaces",
            ));
        }
        let n4 = n4::check(&raw.n4)?;
        let ue_pools = ue_pool::check(&raw.ue_pool)?;
        let max_sessions = limits::check(raw.limits.as_ref())?;
        let fteid = fteid::check(raw.fteid.as_ref(), max_sessions)?;
        let mbr_burst_ms = qer::check(raw.qer.as_ref())?;
        let (buffer_per_session, buffer_total) = buffering::check(raw.buffering.as_ref())?;
        let state = state::check(raw.state.as_ref())?;
        let api = api::check(raw.api.as_ref())?;
        let telemetry = telemetry::check(raw.telemetry.as_ref())?;
        let srv6 = match raw.srv6.clone() {
            None => None,
            Some(s) => Some(srv6::check(s, &n3.interface, &n6.interface)?),
        };
        let lb = match raw.lb.clone() {
            None => None,
            Some(l) => Some(lb::check(l, &n3.interface, &n6.interface)?),
        };
        let mut file = raw;
        iface::fill(&mut file.n3);
        iface::fill(&mut file.n6);
        n4::fill(&mut file.n4);
        limits::fill(&mut file.limits);
        fteid::fill(&mut file.fteid, fteid);
        qer::fill(&mut file.qer);
        buffering::fill(&mut file.buffering);
        api::fill(&mut file.api);
        telemetry::fill(&mut file.telemetry);
        if let Some(l) = &mut file.lb {
            lb::fill(l);
        }
        if let Some(s) = &mut file.srv6 {
            srv6::fill(s);
        }
        let config = Config {
            node_id,
            n3,
            n6,
            listen: n4.listen,
            allowed_peers: n4.allowed_peers,
            heartbeat_interval: n4.heartbeat_interval,
            t1: n4.t1,
            n1: n4.n1,
            response_cache: n4.response_cache,
            ue_pools,
            fteid,
            max_sessions,
            mbr_burst_ms,
            prometheus_listen: telemetry.prometheus_listen,
            trace_sample_ratio: telemetry.trace_sample_ratio,
            otlp_endpoint: telemetry.otlp_endpoint,
            buffer_per_session,
            buffer_total,
            state,
            api_listen: api.listen,
            api_token: api.token,
            api_tls: api.tls,
            drop_event_rate: api.drop_event_rate,
            lb,
            srv6,
        };
        Ok((config, Resolved(file)))
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
