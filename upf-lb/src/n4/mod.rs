//! The PFCP N4 endpoint of the UP function (TS 29.244), without I/O: bytes from a peer go in
//! ([`N4::handle`]), bytes to peers come out; [`N4::tick`] drives heartbeats and
//! retransmissions. The daemon ferries datagrams between sockets and this; `upf-lb replay`
//! feeds it a capture. It is the one owner of the session state and of the datapath's maps.
//!
//! Data flows one way: a request is decoded and checked (`pfcp::validate`), applied to a copy
//! of the session's desired state ([`crate::state::Rules`]), translated into the datapath's
//! rule set, and handed to the southbound, which applies it make-before-break or rolls back.
//! Every failure answers with a Cause and, where one IE is at fault, an Offending IE.

mod alloc;
mod api;
mod buffering;
mod node;
mod persist;
pub mod reliable;
mod session;
pub mod trace;
mod usage;

pub use alloc::{Range, UeIpPool};
pub use buffering::BufferStats;
pub use usage::TimerWheel;

use crate::{
    config::Config,
    southbound::{GtpDatapath, Key},
    state::Local,
};
use pfcp::{
    Body, Cause, ErrorKind, Header, Message,
    ie::{
        addr::NodeId,
        simple::{CauseIe, OffendingIe, RecoveryTimeStamp, UpFunctionFeatures},
    },
    message::{self as msg, message_type as mt},
};
use reliable::{Outstanding, ResponseCache};
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The PFCP port (TS 29.244 7.1): requests are sent to it.
pub const PFCP_PORT: u16 = 8805;

/// Seconds between 1900-01-01 (the NTP era of PFCP time stamps) and 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Associations held at most: an allowed peer cannot make the table grow without bound by
/// inventing Node IDs.
pub const MAX_ASSOCIATIONS: usize = 256;

/// Messages of one datagram we look at (FO chains them); more are ignored.
const MAX_MESSAGES_PER_DATAGRAM: usize = 16;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Destination.
    pub to: SocketAddr,
    /// PFCP message(s), or a GTP-U message when `gtpu_from` is set.
    pub bytes: Vec<u8>,
    /// GTP-U signalling (End Marker) to send from this local address, port 2152; None for PFCP
    /// from the N4 socket.
    pub gtpu_from: Option<IpAddr>,
}

impl Outgoing {
    /// A PFCP datagram.
    pub fn pfcp(to: SocketAddr, bytes: Vec<u8>) -> Self {
        Outgoing {
            to,
            bytes,
            gtpu_from: None,
        }
    }
}

/// Now, in 3GPP NTP seconds (TS 29.244 8.2.65: seconds since 1900, wrapping).
pub fn ntp_now() -> u32 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (unix + NTP_UNIX_OFFSET) as u32
}

/// What a request we sent was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A Heartbeat Request to an associated peer.
    Heartbeat(NodeId),
    /// A Session Report Request about the session with this UP SEID.
    SessionReport(u64),
}

/// A PFCP association with a CP function (TS 29.244 6.2.6).
#[derive(Debug)]
pub struct Association {
    /// The CP function's Node ID.
    pub node_id: NodeId,
    /// Where it sent its Association Setup Request from.
    pub addr: SocketAddr,
    /// Its Recovery Time Stamp.
    pub recovery: u32,
    /// When we send it the next Heartbeat Request.
    next_heartbeat: Instant,
    /// A Heartbeat Request of ours is outstanding.
    heartbeat_pending: bool,
}

/// Counts of what the endpoint did, for tests, the demo and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered from the response cache.
    pub retransmissions_answered: u64,
    /// Messages discarded (unknown type, header unreadable, unexpected response).
    pub discarded: u64,
    /// Requests refused because the peer is not allowed.
    pub refused_peers: u64,
    /// Peers found restarted (a new Recovery Time Stamp).
    pub peer_restarts: u64,
    /// Peers declared dead (no Heartbeat Response after N1 retransmissions).
    pub dead_peers: u64,
    /// Session Report Requests sent (first transmissions).
    pub reports_sent: u64,
    /// Session Report Requests the CP function never answered.
    pub reports_unanswered: u64,
    /// Datapath events of kinds not handled yet.
    pub events_other: u64,
}

/// The N4 endpoint.
pub struct N4 {
    cfg: Config,
    /// The datapath it programs.
    pub dp: GtpDatapath,
    local: Local,
    /// Our Recovery Time Stamp.
    recovery: u32,
    n4_v4: Option<Ipv4Addr>,
    n4_v6: Option<Ipv6Addr>,
    assocs: HashMap<NodeId, Association>,
    sessions: HashMap<u64, Box<session::Session>>,
    /// Session index (in datapath events) to UP SEID.
    by_index: HashMap<u32, u64>,
    /// (CP Node ID, CP SEID) to UP SEID.
    by_cp: HashMap<(NodeId, u64), u64>,
    /// Time triggers of URRs.
    timers: TimerWheel,
    /// What a handler produced beside its response (End Markers), sent after it.
    pending: Vec<Outgoing>,
    /// The N6 interface (buffered packets are sent on as live frames arriving there).
    n6_ifindex: Option<u32>,
    /// Frames emitted for buffered packets when no N6 interface is known (replay).
    injected: Vec<Vec<u8>>,
    /// Downlink packets held, all sessions.
    buffered_total: usize,
    /// What buffering did.
    pub buffer_stats: BufferStats,
    /// Events for the API's watchers, drained by the owner.
    api_events: Vec<crate::northbound::pb::Event>,
    /// When [`N4::tick`] runs at the latest (cache expiry, buffer ageing, drop rates).
    housekeeping: Instant,
    /// Drop counters at the last rate check, and when.
    drops_seen: Vec<(bpf_abi::Reason, u64)>,
    drops_at: Instant,
    /// PFCP requests answered, by (request type, Cause of the answer; 0 for none): count and
    /// the nanoseconds spent handling them.
    pub pfcp_stats: std::collections::BTreeMap<(u8, u8), (u64, u64)>,
    /// PFCP transactions recorded for the trace exporter (off unless spans are exported).
    pub trace: trace::Recorder,
    /// The session store, when state outlives the daemon.
    store: Option<crate::store::Store>,
    /// Changes are tracked for a store.
    persist: bool,
    /// Sessions changed / deleted since the last commit; associations or meta changed.
    dirty: std::collections::BTreeSet<u64>,
    deleted: std::collections::BTreeSet<u64>,
    assoc_dirty: bool,
    meta_dirty: bool,
    /// Datapath keys and the session (UP SEID) that owns each.
    keys: HashMap<Key, u64>,
    teids: Range,
    pools: Vec<UeIpPool>,
    indices: Range,
    next_seid: u64,
    cache: ResponseCache,
    outstanding: Outstanding<Request>,
    /// What it did.
    pub stats: Stats,
    /// The L4 load balancer's datapath, when `[lb]` is configured (its conntrack swept on the
    /// ticks, every [`LB_SWEEP`]).
    pub lb: Option<crate::southbound::LbDatapath>,
    /// SRv6 (`[srv6]`), when configured: kept here for its counters and its programs' life.
    pub srv6: Option<crate::southbound::Srv6Datapath>,
    lb_swept: Instant,
    /// Backends the health checks took down (service, backend index in `[lb]`).
    lb_down: std::collections::BTreeSet<(usize, usize)>,
}

/// How often expired load balancer connections are swept.
pub const LB_SWEEP: Duration = Duration::from_secs(5);

impl N4 {
    /// Starts the load balancer's health checks (when `[lb]` has services that are checked):
    /// their changes arrive on the returned channel, for [`N4::on_backend_health`]. The SCTP
    /// probes' sources (the local address that reaches each backend) are fixed here and told
    /// to the datapath first, so that it leaves their INIT ACKs to the probe.
    pub fn start_lb_health(
        &mut self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::lb_health::Change>> {
        use crate::lb_health::{Check, source_for};
        let lb_cfg = self.cfg.lb.as_ref()?;
        let params = lb_cfg.health;
        let mut targets: Vec<_> = lb_cfg
            .services
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.health_targets(i))
            .filter(|t| t.check != Check::None)
            .collect();
        let lb = self.lb.as_mut()?;
        if targets.is_empty() {
            return None;
        }
        // Each probe's source, by protocol (the datapath's key has it).
        let mut sources: [(u8, Vec<std::net::IpAddr>); 3] = [
            (bpf_net::proto::TCP, Vec::new()),
            (bpf_net::proto::UDP, Vec::new()),
            (bpf_net::proto::SCTP, Vec::new()),
        ];
        for t in targets.iter_mut() {
            let i = match t.check {
                Check::Tcp => 0,
                Check::Udp => 1,
                Check::Sctp => 2,
                Check::None => continue,
            };
            match source_for(t.addr) {
                Ok(src) => {
                    t.source = Some(src);
                    if !sources[i].1.contains(&src) {
                        sources[i].1.push(src);
                    }
                }
                // No route yet: the probe goes from the kernel's choice (SCTP's fails, and
                // says why) until there is one.
                Err(e) => tracing::warn!(backend = %t.addr, check = t.check.name(), error = %e,
                    "load balancer: no source address for the health probe"),
            }
        }
        for (proto, s) in &sources {
            if let Err(e) = lb.set_probe_sources(*proto, s) {
                tracing::warn!(error = %e, "load balancer: health checks not started");
                return None;
            }
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        match crate::lb_health::spawn(targets, params, tx) {
            Ok(_) => Some(rx),
            Err(e) => {
                tracing::warn!(error = %e, "load balancer: health checks not started");
                None
            }
        }
    }

    /// A backend's health changed: down, it leaves its service (weight 0) and its connections
    /// and associations are forgotten, so its clients move to the others at their next packet;
    /// up, it takes new ones again. Logged, and an event for API watchers ("backend_down",
    /// "backend_up"; `reason` says which and why).
    pub fn on_backend_health(&mut self, c: crate::lb_health::Change) {
        let (i, j) = (c.target.service, c.target.backend);
        let Some(svc) = self
            .cfg
            .lb
            .as_ref()
            .and_then(|l| l.services.get(i))
            .cloned()
        else {
            return;
        };
        let changed = if c.up {
            self.lb_down.remove(&(i, j))
        } else {
            self.lb_down.insert((i, j))
        };
        if !changed {
            return;
        }
        let Some(lb) = self.lb.as_mut() else {
            return;
        };
        let down = |k: usize| self.lb_down.contains(&(i, k));
        let r = if svc.proto == 132 {
            let bs: Vec<_> = svc
                .sctp_backends
                .iter()
                .enumerate()
                .map(|(k, b)| crate::southbound::lb::SctpBackendSpec {
                    addrs: b.addrs.clone(),
                    weight: if down(k) { 0 } else { b.weight },
                })
                .collect();
            lb.set_sctp_service(&svc.vips, svc.port, &bs)
        } else {
            let bs: Vec<_> = svc
                .backends
                .iter()
                .enumerate()
                .map(|(k, b)| crate::southbound::lb::BackendSpec {
                    weight: if down(k) { 0 } else { b.weight },
                    ..*b
                })
                .collect();
            match (svc.nat64_source, svc.vip) {
                (Some(src), std::net::IpAddr::V6(v)) => {
                    lb.set_nat64_service(v, svc.proto, svc.port, &bs, src)
                }
                _ => lb.set_service(svc.vip, svc.proto, svc.port, &bs),
            }
        };
        if let Err(e) = r {
            tracing::warn!(service = i, error = %e, "load balancer: applying a health change");
        }
        let mut forgotten = 0;
        if !c.up {
            let addrs: Vec<std::net::IpAddr> = if svc.proto == 132 {
                svc.sctp_backends[j].addrs.clone()
            } else {
                vec![svc.backends[j].addr]
            };
            for a in addrs {
                forgotten += lb.forget_backend(a).unwrap_or(0);
            }
        }
        let what = format!("lb.service[{i}] backend {}: {}", c.target.addr, c.why);
        if c.up {
            tracing::info!(backend = %c.target.addr, service = i, why = %c.why, "load balancer: backend up");
        } else {
            tracing::warn!(backend = %c.target.addr, service = i, why = %c.why, forgotten, "load balancer: backend down");
        }
        if self.api_events.len() < 4096 {
            self.api_events.push(crate::northbound::pb::Event {
                kind: if c.up { "backend_up" } else { "backend_down" }.into(),
                reason: what,
                ..Default::default()
            });
        }
    }

    pub fn datapath_counters(
        &self,
    ) -> Result<Vec<(bpf_abi::Reason, bpf_abi::Counter)>, crate::southbound::LoadError> {
        let mut c = self.dp.counters()?;
        let more = [
            self.lb.as_ref().map(|l| l.counters()).transpose()?,
            self.srv6.as_ref().map(|s| s.counters()).transpose()?,
        ];
        for (r, x) in more.into_iter().flatten().flatten() {
            if let Some((_, y)) = c.iter_mut().find(|(q, _)| *q == r) {
                y.packets += x.packets;
                y.bytes += x.bytes;
            }
        }
        Ok(c)
    }
}

impl N4 {
    /// An endpoint for `cfg` programming `dp` (loaded with `cfg.map_sizes()`),
    /// with Recovery Time Stamp `recovery`.
    pub fn new(
        cfg: Config,
        mut dp: GtpDatapath,
        recovery: u32,
    ) -> Result<N4, crate::southbound::SouthboundError> {
        for a in [cfg.n6.ipv4.map(IpAddr::V4), cfg.n6.ipv6.map(IpAddr::V6)]
            .into_iter()
            .flatten()
        {
            dp.set_n6_address(a)?;
        }
        let mut srv6_n9 = [crate::state::N9Srv6::NONE; crate::state::N9_SRV6_MAX];
        for (m, c) in srv6_n9
            .iter_mut()
            .zip(cfg.srv6.iter().flat_map(|s| s.n9.iter()))
        {
            let ni = c.network_instance.as_deref().unwrap_or("").as_bytes();
            m.used = true;
            m.net = u32::from(c.peer.0);
            m.len = c.peer.1;
            m.ni_len = ni.len().min(32) as u8;
            m.ni[..usize::from(m.ni_len)].copy_from_slice(&ni[..usize::from(m.ni_len)]);
        }
        let local = Local {
            gtpu_v4: cfg.n3.ipv4,
            gtpu_v6: cfg.n3.ipv6,
            mbr_burst_ms: cfg.mbr_burst_ms,
            srv6_n9,
        };
        let pick = |v6: bool| {
            cfg.listen
                .iter()
                .map(|s| s.ip())
                .find(|a| a.is_ipv6() == v6 && !a.is_unspecified())
        };
        let n4_v4 = match pick(false) {
            Some(IpAddr::V4(a)) => Some(a),
            _ => cfg.n3.ipv4,
        };
        let n4_v6 = match pick(true) {
            Some(IpAddr::V6(a)) => Some(a),
            _ => cfg.n3.ipv6,
        };
        let ttl = cfg.t1 * (cfg.n1 + 2);
        Ok(N4 {
            teids: Range::new(u128::from(cfg.fteid.0), u128::from(cfg.fteid.1)),
            pools: cfg.ue_pools.iter().map(UeIpPool::new).collect(),
            indices: Range::new(0, u128::from(cfg.max_sessions) - 1),
            cache: ResponseCache::new(cfg.response_cache, ttl),
            outstanding: Outstanding::new(cfg.t1, cfg.n1),
            local,
            recovery,
            n4_v4,
            n4_v6,
            assocs: HashMap::new(),
            sessions: HashMap::new(),
            by_index: HashMap::new(),
            by_cp: HashMap::new(),
            timers: TimerWheel::new(Duration::from_millis(10), Instant::now()),
            pending: Vec::new(),
            n6_ifindex: None,
            injected: Vec::new(),
            buffered_total: 0,
            buffer_stats: BufferStats::default(),
            store: None,
            persist: false,
            pfcp_stats: Default::default(),
            trace: trace::Recorder::off(),
            api_events: Vec::new(),
            drops_seen: Vec::new(),
            drops_at: Instant::now(),
            housekeeping: Instant::now() + Duration::from_secs(1),
            lb: None,
            lb_swept: Instant::now(),
            lb_down: Default::default(),
            srv6: None,
            dirty: Default::default(),
            deleted: Default::default(),
            assoc_dirty: false,
            meta_dirty: false,
            keys: HashMap::new(),
            next_seid: 1,
            stats: Stats::default(),
            cfg,
            dp,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Our Recovery Time Stamp.
    pub fn recovery(&self) -> u32 {
        self.recovery
    }

    /// Associated CP functions.
    pub fn associations(&self) -> impl Iterator<Item = &Association> {
        self.assocs.values()
    }

    /// Sessions held.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Responses in the retransmission cache.
    pub fn cached_responses(&self) -> usize {
        self.cache.len()
    }

    /// What we support, exactly (TS 29.244 8.2.25): F-TEID allocation (FTUP), UE IP allocation
    /// (UEIP), End Marker sending on SNDEM (EMPU), number of packets in usage reports (MNOP).
    pub fn up_function_features() -> UpFunctionFeatures {
        UpFunctionFeatures::empty()
            .with(UpFunctionFeatures::FTUP)
            .with(UpFunctionFeatures::UEIP)
            .with(UpFunctionFeatures::EMPU)
            .with(UpFunctionFeatures::MNOP)
    }

    /// True when `a` is a UE's: in a UE IP pool, or the address (IPv4) or /64 (IPv6) of an
    /// installed downlink PDR.
    pub fn is_ue_address(&self, a: IpAddr) -> bool {
        if self.pools.iter().any(|p| p.contains(a)) {
            return true;
        }
        let k = match a {
            IpAddr::V4(v) => Key::DlUe4(v),
            IpAddr::V6(v) => {
                let mut p = [0u8; 8];
                p.copy_from_slice(&v.octets()[..8]);
                Key::DlUe6(p)
            }
        };
        self.keys.contains_key(&k)
    }

    /// Our N4 addresses (IPv4, IPv6).
    pub fn n4_addresses(&self) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        (self.n4_v4, self.n4_v6)
    }

    fn node_id(&self) -> NodeId {
        self.cfg.node_id.clone()
    }

    /// Handles one datagram from `from`; returns what to send.
    pub fn handle(&mut self, from: SocketAddr, buf: &[u8], now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let mut off = 0;
        for _ in 0..MAX_MESSAGES_PER_DATAGRAM {
            let rest = &buf[off.min(buf.len())..];
            if rest.is_empty() {
                break;
            }
            let (h, total) = match Header::decode(rest) {
                Ok((h, _, total)) => (h, total),
                Err(e) => {
                    if matches!(e.kind, ErrorKind::UnsupportedVersion(_)) && rest.len() >= 8 {
                        // TS 29.244 7.2.3: answered with Version Not Supported Response.
                        let seq = u32::from_be_bytes([0, rest[4], rest[5], rest[6]]);
                        let m = Message::new(
                            Body::VersionNotSupportedResponse(Default::default()),
                            None,
                            seq,
                        );
                        out.push(Outgoing::pfcp(from, m.to_vec()));
                    } else {
                        tracing::debug!(%from, error = %e, "PFCP header unreadable, discarded");
                        self.stats.discarded += 1;
                    }
                    break;
                }
            };
            self.one(from, &rest[..total], h, now, &mut out);
            if !h.follow_on {
                break;
            }
            off += total;
        }
        out.append(&mut self.pending);
        out
    }

    fn one(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        h: Header,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) {
        let t0 = Instant::now();
        let request = is_request(h.message_type);
        // One span per PFCP transaction (recorded here, exported by the telemetry thread).
        self.trace
            .begin(h.message_type, from, h.seid.unwrap_or(0), h.sequence);
        let response = if request && let Some(r) = self.cache.get(from, h.sequence) {
            self.stats.retransmissions_answered += 1;
            tracing::debug!(%from, seq = h.sequence, "retransmitted request answered from the cache");
            out.push(Outgoing::pfcp(from, r.to_vec()));
            self.trace.finish(None);
            return;
        } else if request && !self.cfg.peer_allowed(from.ip()) {
            self.stats.refused_peers += 1;
            tracing::warn!(%from, "PFCP request from a peer not allowed");
            if h.message_type == mt::HEARTBEAT_REQUEST {
                None
            } else {
                self.error_response(&h, Cause::RequestRejected, None)
            }
        } else {
            let t = self.trace.start();
            let decoded = Message::decode(bytes);
            self.trace.end(t, "decode", None);
            match decoded {
                Ok((m, _)) => self.dispatch(from, m, now, out),
                Err(e) if matches!(e.kind, ErrorKind::UnknownMessageType(_)) => {
                    tracing::debug!(%from, ty = h.message_type, "unknown PFCP message type, discarded");
                    self.stats.discarded += 1;
                    None
                }
                Err(e) => {
                    tracing::info!(%from, seq = h.sequence, error = %e, "malformed PFCP message");
                    if request {
                        self.error_response(&h, e.cause(), e.offending_ie())
                    } else {
                        self.stats.discarded += 1;
                        None
                    }
                }
            }
        };
        let Some(m) = response else {
            self.trace.finish(None);
            return;
        };
        let cause = response_cause(&m.body);
        let e = self
            .pfcp_stats
            .entry((h.message_type, cause.unwrap_or(0)))
            .or_default();
        e.0 += 1;
        e.1 += t0.elapsed().as_nanos() as u64;
        let b = m.to_vec();
        if request {
            self.cache.put(from, h.sequence, b.clone(), now);
        }
        out.push(Outgoing::pfcp(from, b));
        self.trace.finish(cause);
    }

    fn dispatch(
        &mut self,
        from: SocketAddr,
        m: Message,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) -> Option<Message> {
        let seq = m.header.sequence;
        let seid = m.header.seid;
        match m.body {
            Body::HeartbeatRequest(r) => Some(self.heartbeat_request(from, &r, seq, now)),
            Body::HeartbeatResponse(r) => {
                self.heartbeat_response(from, &r, seq, now);
                None
            }
            Body::AssociationSetupRequest(r) => Some(self.association_setup(from, r, seq, now)),
            Body::AssociationUpdateRequest(r) => Some(self.association_update(from, r, seq)),
            Body::AssociationReleaseRequest(r) => Some(self.association_release(r, seq)),
            Body::SessionSetDeletionRequest(_) => {
                // FQ-CSIDs are not kept, so no session set can be found by them.
                Some(Message::new(
                    Body::SessionSetDeletionResponse(msg::SessionSetDeletionResponse {
                        node_id: self.node_id(),
                        cause: CauseIe::from(Cause::ServiceNotSupported),
                        offending_ie: None,
                        unknown: vec![],
                    }),
                    None,
                    seq,
                ))
            }
            Body::SessionEstablishmentRequest(r) => {
                Some(self.session_establishment(from, r, seq, now))
            }
            Body::SessionModificationRequest(r) => {
                Some(self.session_modification(from, seid.unwrap_or(0), r, seq, now))
            }
            Body::SessionDeletionRequest(_) => {
                Some(self.session_deletion(from, seid.unwrap_or(0), seq, now))
            }
            Body::SessionReportResponse(r) => {
                if let Some(p) = self.outstanding.answered(from, seq)
                    && let Request::SessionReport(seid) = p.kind
                {
                    if r.cause.cause() == Some(Cause::SessionContextNotFound) {
                        // The CP function no longer has the session (TS 29.244 6.3.4.2).
                        tracing::warn!(
                            up_seid = seid,
                            "the CP function does not know the session: deleted"
                        );
                        self.delete_session(seid);
                    } else {
                        self.buffering_duration(seid, &r);
                        if r.pfcpsrrsp_flags
                            .is_some_and(|f| f.has(pfcp::ie::simple::PfcpSrRspFlags::DROBU))
                        {
                            self.after_modification(seid, true);
                        }
                    }
                }
                None
            }
            _ => {
                let _ = out;
                tracing::debug!(%from, "PFCP message not expected by a UP function, discarded");
                self.stats.discarded += 1;
                None
            }
        }
    }

    /// The response to a request of header `h` that failed with `cause`.
    fn error_response(&self, h: &Header, cause: Cause, offending: Option<u16>) -> Option<Message> {
        let c = CauseIe::from(cause);
        let o = offending.map(OffendingIe);
        let node_id = self.node_id();
        let seq = h.sequence;
        // A session request: answered with the CP's SEID when the session is known, else 0
        // (TS 29.244 7.2.2.4.2).
        let cp_seid = h
            .seid
            .and_then(|s| self.sessions.get(&s))
            .map_or(0, |s| s.cp.seid);
        let body = match h.message_type {
            mt::HEARTBEAT_REQUEST => Body::HeartbeatResponse(msg::HeartbeatResponse {
                recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                unknown: vec![],
            }),
            mt::ASSOCIATION_SETUP_REQUEST => {
                Body::AssociationSetupResponse(msg::AssociationSetupResponse {
                    node_id,
                    cause: c,
                    recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                    up_function_features: Some(Self::up_function_features()),
                    cp_function_features: None,
                    user_plane_ip_resource_information: vec![],
                    unknown: vec![],
                })
            }
            mt::ASSOCIATION_UPDATE_REQUEST => {
                Body::AssociationUpdateResponse(msg::AssociationUpdateResponse {
                    node_id,
                    cause: c,
                    up_function_features: None,
                    cp_function_features: None,
                    unknown: vec![],
                })
            }
            mt::ASSOCIATION_RELEASE_REQUEST => {
                Body::AssociationReleaseResponse(msg::AssociationReleaseResponse {
                    node_id,
                    cause: c,
                    unknown: vec![],
                })
            }
            mt::SESSION_SET_DELETION_REQUEST => {
                Body::SessionSetDeletionResponse(msg::SessionSetDeletionResponse {
                    node_id,
                    cause: c,
                    offending_ie: o,
                    unknown: vec![],
                })
            }
            mt::SESSION_ESTABLISHMENT_REQUEST => {
                return Some(Message::new(
                    Body::SessionEstablishmentResponse(session::establishment_error(
                        node_id, cause, offending, None,
                    )),
                    Some(0),
                    seq,
                ));
            }
            mt::SESSION_MODIFICATION_REQUEST => {
                return Some(Message::new(
                    Body::SessionModificationResponse(msg::SessionModificationResponse {
                        cause: c,
                        offending_ie: o,
                        ..Default::default()
                    }),
                    Some(cp_seid),
                    seq,
                ));
            }
            mt::SESSION_DELETION_REQUEST => {
                return Some(Message::new(
                    Body::SessionDeletionResponse(msg::SessionDeletionResponse {
                        cause: c,
                        offending_ie: o,
                        ..Default::default()
                    }),
                    Some(cp_seid),
                    seq,
                ));
            }
            _ => return None,
        };
        Some(Message::new(body, None, seq))
    }

    /// Sends what is due: Heartbeat Requests to associated peers, retransmissions; declares
    /// peers dead after N1 retransmissions without an answer.
    pub fn tick(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if let Some(lb) = self.lb.as_mut()
            && now.duration_since(self.lb_swept) >= LB_SWEEP
        {
            self.lb_swept = now;
            match lb.expire(crate::southbound::lb::monotonic_ns()) {
                Ok(n) if n > 0 => tracing::debug!(connections = n, "load balancer: expired"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "load balancer: sweeping conntrack"),
            }
            match lb.expire_sctp(crate::southbound::lb::monotonic_ns()) {
                Ok(n) if n > 0 => tracing::debug!(entries = n, "load balancer: SCTP expired"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "load balancer: sweeping SCTP"),
            }
        }
        self.cache.expire(now);
        let due: Vec<NodeId> = self
            .assocs
            .values()
            .filter(|a| !a.heartbeat_pending && a.next_heartbeat <= now)
            .map(|a| a.node_id.clone())
            .collect();
        for n in due {
            let seq = self.outstanding.next_seq();
            let Some(a) = self.assocs.get_mut(&n) else {
                continue;
            };
            let m = Message::new(
                Body::HeartbeatRequest(msg::HeartbeatRequest {
                    recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                    unknown: vec![],
                }),
                None,
                seq,
            );
            let to = SocketAddr::new(a.addr.ip(), PFCP_PORT);
            let bytes = m.to_vec();
            a.heartbeat_pending = true;
            self.outstanding
                .sent(seq, to, bytes.clone(), Request::Heartbeat(n), now);
            out.push(Outgoing::pfcp(to, bytes));
        }
        for d in self.outstanding.poll(now) {
            match d {
                reliable::Due::Resend(to, bytes) => out.push(Outgoing::pfcp(to, bytes)),
                reliable::Due::GaveUp(p) => match p.kind {
                    Request::Heartbeat(n) => {
                        tracing::warn!(peer = %p.peer, "no Heartbeat Response after N1 retransmissions: peer dead");
                        self.stats.dead_peers += 1;
                        self.drop_association(&n);
                    }
                    Request::SessionReport(seid) => {
                        tracing::warn!(peer = %p.peer, up_seid = seid, "Session Report Request unanswered after N1 retransmissions");
                        self.stats.reports_unanswered += 1;
                    }
                },
            }
        }
        out.extend(self.on_timers(now));
        self.expire_buffers(now);
        self.check_drop_rates(now);
        if self.housekeeping <= now {
            self.housekeeping = now + Duration::from_secs(1);
        }
        out
    }

    /// When [`N4::tick`] has something to do next.
    pub fn next_tick(&self, now: Instant) -> Instant {
        let hb = self
            .assocs
            .values()
            .filter(|a| !a.heartbeat_pending)
            .map(|a| a.next_heartbeat);
        let wheel = (!self.timers.is_empty()).then(|| self.timers.next_at().max(now));
        // The housekeeping deadline is absolute: traffic that keeps the owner busy must not
        // keep postponing it (found by the drop-rate events, which never fired under a steady
        // stream of API calls when the next tick was "a second from now" at every wake-up).
        hb.chain(self.outstanding.next_due())
            .chain(wheel)
            .chain(std::iter::once(self.housekeeping))
            .min()
            .unwrap_or(self.housekeeping)
    }
}

/// True for the message types that are requests (odd types, and the requests of Table 7.3-1).
fn is_request(t: u8) -> bool {
    matches!(
        t,
        mt::HEARTBEAT_REQUEST
            | 3 // PFD Management Request
            | mt::ASSOCIATION_SETUP_REQUEST
            | mt::ASSOCIATION_UPDATE_REQUEST
            | mt::ASSOCIATION_RELEASE_REQUEST
            | mt::NODE_REPORT_REQUEST
            | mt::SESSION_SET_DELETION_REQUEST
            | mt::SESSION_ESTABLISHMENT_REQUEST
            | mt::SESSION_MODIFICATION_REQUEST
            | mt::SESSION_DELETION_REQUEST
            | mt::SESSION_REPORT_REQUEST
    )
}

/// The Cause a response carries, if its type has one.
fn response_cause(b: &Body) -> Option<u8> {
    Some(
        match b {
            Body::AssociationSetupResponse(r) => r.cause,
            Body::AssociationUpdateResponse(r) => r.cause,
            Body::AssociationReleaseResponse(r) => r.cause,
            Body::SessionSetDeletionResponse(r) => r.cause,
            Body::SessionEstablishmentResponse(r) => r.cause,
            Body::SessionModificationResponse(r) => r.cause,
            Body::SessionDeletionResponse(r) => r.cause,
            _ => return None,
        }
        .0,
    )
}
