//! `[buffering]`: how many downlink packets a BUFF FAR holds (TS 29.244 5.2.3).

use super::field::{ConfigError, bad};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuffering {
    pub(super) per_session: Option<usize>,
    pub(super) total: Option<usize>,
}

/// (per session, in all), defaults 64 and 65536.
pub(super) fn check(raw: Option<&RawBuffering>) -> Result<(usize, usize), ConfigError> {
    let per_session = raw.and_then(|b| b.per_session).unwrap_or(64);
    if !(1..=65_536).contains(&per_session) {
        return Err(bad("buffering.per_session", "must be 1 to 65536"));
    }
    let total = raw.and_then(|b| b.total).unwrap_or(65_536);
    if !(per_session..=16 << 20).contains(&total) {
        return Err(bad(
            "buffering.total",
            "must be at least buffering.per_session and at most 16777216",
        ));
    }
    Ok((per_session, total))
}
