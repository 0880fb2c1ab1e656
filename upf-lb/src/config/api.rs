//! `[api]`: the gRPC management API (address, bearer token, TLS, drop events).

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Deserialize, Serialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub(super) enabled: Option<bool>,
    pub(super) listen: Option<String>,
    pub(super) token: Option<String>,
    pub(super) tls_cert: Option<String>,
    pub(super) tls_key: Option<String>,
    pub(super) drop_event_rate: Option<u64>,
}

/// `[api]` checked.
pub(super) struct Api {
    pub(super) listen: Option<SocketAddr>,
    pub(super) token: Option<String>,
    pub(super) tls: Option<(Vec<u8>, Vec<u8>)>,
    pub(super) drop_event_rate: u64,
}

const LISTEN: &str = "127.0.0.1:50051";
const DROP_EVENT_RATE: u64 = 1000;

/// On at 127.0.0.1:50051 without the section.
pub(super) fn check(raw: Option<&RawApi>) -> Result<Api, ConfigError> {
    let none = RawApi::default();
    let api = raw.unwrap_or(&none);
    let tls = match (&api.tls_cert, &api.tls_key) {
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
    let listen = if api.enabled.unwrap_or(true) {
        let a = api.listen.as_deref().unwrap_or(LISTEN);
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
    Ok(Api {
        listen,
        token: api.token.clone(),
        tls,
        drop_event_rate: api.drop_event_rate.unwrap_or(DROP_EVENT_RATE),
    })
}

/// The defaults written in and the token hidden, for `check-config`.
pub(super) fn fill(raw: &mut Option<RawApi>) {
    let a = raw.get_or_insert_with(RawApi::default);
    let on = *a.enabled.get_or_insert(true);
    if on {
        a.listen.get_or_insert_with(|| LISTEN.into());
    }
    a.drop_event_rate.get_or_insert(DROP_EVENT_RATE);
    if let Some(t) = &mut a.token {
        *t = format!("(hidden: {} characters)", t.len());
    }
}
