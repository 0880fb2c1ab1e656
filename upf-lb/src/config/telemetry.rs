//! `[telemetry]`: OTLP export (traces and metrics) and the Prometheus endpoint.

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetry {
    pub(super) otlp_endpoint: Option<String>,
    pub(super) trace_sample_ratio: Option<f64>,
    pub(super) prometheus_listen: Option<String>,
}

const TRACE_SAMPLE_RATIO: f64 = 1.0;

/// `[telemetry]` checked.
pub(super) struct Telemetry {
    pub(super) otlp_endpoint: Option<String>,
    pub(super) trace_sample_ratio: f64,
    pub(super) prometheus_listen: Option<SocketAddr>,
}

pub(super) fn check(raw: Option<&RawTelemetry>) -> Result<Telemetry, ConfigError> {
    let prometheus_listen = match raw.and_then(|t| t.prometheus_listen.as_ref()) {
        None => None,
        Some(a) => Some(a.parse().map_err(|_| {
            bad(
                "telemetry.prometheus_listen",
                format!("{a:?} is not a socket address (127.0.0.1:9464)"),
            )
        })?),
    };
    let trace_sample_ratio = raw
        .and_then(|t| t.trace_sample_ratio)
        .unwrap_or(TRACE_SAMPLE_RATIO);
    if !(0.0..=1.0).contains(&trace_sample_ratio) {
        return Err(bad("telemetry.trace_sample_ratio", "must be 0 to 1"));
    }
    Ok(Telemetry {
        otlp_endpoint: raw.and_then(|t| t.otlp_endpoint.clone()),
        trace_sample_ratio,
        prometheus_listen,
    })
}

/// The defaults written in, for `check-config`.
pub(super) fn fill(raw: &mut Option<RawTelemetry>) {
    let t = raw.get_or_insert(RawTelemetry {
        otlp_endpoint: None,
        trace_sample_ratio: None,
        prometheus_listen: None,
    });
    t.trace_sample_ratio.get_or_insert(TRACE_SAMPLE_RATIO);
}
