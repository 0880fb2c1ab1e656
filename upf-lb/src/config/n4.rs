//! `[n4]`: where PFCP is served, to whom, and its timers (TS 29.244 6.4, 7.6).

use super::{
    cidr::Cidr,
    field::{ConfigError, bad},
};
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, time::Duration};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawN4 {
    pub(super) listen: Vec<String>,
    pub(super) allowed_peers: Vec<String>,
    pub(super) heartbeat_interval_s: Option<u64>,
    pub(super) t1_ms: Option<u64>,
    pub(super) n1: Option<u32>,
    pub(super) response_cache: Option<usize>,
}

/// `[n4]` checked.
pub(super) struct N4 {
    pub(super) listen: Vec<SocketAddr>,
    pub(super) allowed_peers: Vec<Cidr>,
    pub(super) heartbeat_interval: Duration,
    pub(super) t1: Duration,
    pub(super) n1: u32,
    pub(super) response_cache: usize,
}

const HEARTBEAT_INTERVAL_S: u64 = 10;
const T1_MS: u64 = 3000;
const N1: u32 = 3;
const RESPONSE_CACHE: usize = 4096;

pub(super) fn check(raw: &RawN4) -> Result<N4, ConfigError> {
    if raw.listen.is_empty() {
        return Err(bad("n4.listen", "at least one address to listen on"));
    }
    let mut listen = Vec::new();
    for (i, l) in raw.listen.iter().enumerate() {
        listen.push(l.parse::<SocketAddr>().map_err(|_| {
            bad(
                format!("n4.listen[{i}]"),
                format!("{l:?} is not a socket address (192.0.2.2:8805, [2001:db8::2]:8805)"),
            )
        })?);
    }
    let mut allowed_peers = Vec::new();
    for (i, p) in raw.allowed_peers.iter().enumerate() {
        allowed_peers.push(Cidr::parse(p).map_err(|w| bad(format!("n4.allowed_peers[{i}]"), w))?);
    }
    if allowed_peers.is_empty() {
        return Err(bad(
            "n4.allowed_peers",
            "no peer would be allowed (use 0.0.0.0/0 and ::/0 to allow everyone)",
        ));
    }
    let heartbeat = raw.heartbeat_interval_s.unwrap_or(HEARTBEAT_INTERVAL_S);
    if !(1..=3600).contains(&heartbeat) {
        return Err(bad("n4.heartbeat_interval_s", "must be 1 to 3600"));
    }
    let t1 = raw.t1_ms.unwrap_or(T1_MS);
    if !(10..=60_000).contains(&t1) {
        return Err(bad("n4.t1_ms", "must be 10 to 60000"));
    }
    let n1 = raw.n1.unwrap_or(N1);
    if !(1..=10).contains(&n1) {
        return Err(bad("n4.n1", "must be 1 to 10"));
    }
    let response_cache = raw.response_cache.unwrap_or(RESPONSE_CACHE);
    if !(16..=1 << 20).contains(&response_cache) {
        return Err(bad("n4.response_cache", "must be 16 to 1048576"));
    }
    Ok(N4 {
        listen,
        allowed_peers,
        heartbeat_interval: Duration::from_secs(heartbeat),
        t1: Duration::from_millis(t1),
        n1,
        response_cache,
    })
}

/// The defaults written in, for `check-config`.
pub(super) fn fill(raw: &mut RawN4) {
    raw.heartbeat_interval_s.get_or_insert(HEARTBEAT_INTERVAL_S);
    raw.t1_ms.get_or_insert(T1_MS);
    raw.n1.get_or_insert(N1);
    raw.response_cache.get_or_insert(RESPONSE_CACHE);
}
