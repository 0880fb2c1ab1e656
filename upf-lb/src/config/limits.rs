//! `[limits]`: how many sessions the maps are sized for.

use super::field::{ConfigError, bad};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_sessions: u32,
}

/// Sessions at most (default 65536).
pub(super) fn check(raw: Option<&RawLimits>) -> Result<u32, ConfigError> {
    let max_sessions = raw.map_or(65536, |l| l.max_sessions);
    if !(1..=16 << 20).contains(&max_sessions) {
        return Err(bad("limits.max_sessions", "must be 1 to 16777216"));
    }
    Ok(max_sessions)
}
