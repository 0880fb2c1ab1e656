//! `[qer]`: how the datapath enforces a QER's MBR.

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQer {
    pub(super) mbr_burst_ms: u64,
}

const MBR_BURST_MS: u64 = 100;

/// The MBR token bucket's depth in ms of the rate (default 100).
pub(super) fn check(raw: Option<&RawQer>) -> Result<u64, ConfigError> {
    let mbr_burst_ms = raw.map_or(MBR_BURST_MS, |q| q.mbr_burst_ms);
    if !(1..=1000).contains(&mbr_burst_ms) {
        // The datapath credits at most a second of the rate at once (bpf-gtp qer.rs).
        return Err(bad("qer.mbr_burst_ms", "must be 1 to 1000"));
    }
    Ok(mbr_burst_ms)
}

/// The defaults written in, for `check-config`.
pub(super) fn fill(raw: &mut Option<RawQer>) {
    raw.get_or_insert(RawQer {
        mbr_burst_ms: MBR_BURST_MS,
    });
}
