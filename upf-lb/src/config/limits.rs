//! `[limits]`: how many sessions the maps are sized for.

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_sessions: u32,
}

const MAX_SESSIONS: u32 = 65536;

/// Sessions at most (default 65536).
pub(super) fn check(raw: Option<&RawLimits>) -> Result<u32, ConfigError> {
    let max_sessions = raw.map_or(MAX_SESSIONS, |l| l.max_sessions);
    if !(1..=16 << 20).contains(&max_sessions) {
        return Err(bad("limits.max_sessions", "must be 1 to 16777216"));
    }
    Ok(max_sessions)
}

/// The defaults written in, for `check-config`.
pub(super) fn fill(raw: &mut Option<RawLimits>) {
    raw.get_or_insert(RawLimits {
        max_sessions: MAX_SESSIONS,
    });
}
