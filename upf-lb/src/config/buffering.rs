//! `[buffering]`: how many downlink packets a BUFF FAR holds (TS 29.244 5.2.3).

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuffering {
    pub(super) per_session: Option<usize>,
    pub(super) total: Option<usize>,
}

const PER_SESSION: usize = 64;
const TOTAL: usize = 65_536;

/// (per session, in all), defaults 64 and 65536.
pub(super) fn check(raw: Option<&RawBuffering>) -> Result<(usize, usize), ConfigError> {
    let per_session = raw.and_then(|b| b.per_session).unwrap_or(PER_SESSION);
    if !(1..=65_536).contains(&per_session) {
        return Err(bad("buffering.per_session", "must be 1 to 65536"));
    }
    let total = raw.and_then(|b| b.total).unwrap_or(TOTAL);
    if !(per_session..=16 << 20).contains(&total) {
        return Err(bad(
            "buffering.total",
            "must be at least buffering.per_session and at most 16777216",
        ));
    }
    Ok((per_session, total))
}

/// The defaults written in, for `check-config`.
pub(super) fn fill(raw: &mut Option<RawBuffering>) {
    let b = raw.get_or_insert(RawBuffering {
        per_session: None,
        total: None,
    });
    b.per_session.get_or_insert(PER_SESSION);
    b.total.get_or_insert(TOTAL);
}
