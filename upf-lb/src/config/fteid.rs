//! `[fteid]`: the range local F-TEIDs are chosen from (CHOOSE, TS 29.244 5.5.3).

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFteid {
    pub(super) first: u32,
    pub(super) last: u32,
}

/// The range, inclusive; without the section: `TEID_DIRECT` up, two TEIDs a session.
pub(super) fn check(raw: Option<&RawFteid>, max_sessions: u32) -> Result<(u32, u32), ConfigError> {
    Ok(match raw {
        Some(f) => {
            if f.first == 0 {
                return Err(bad("fteid.first", "TEID 0 is reserved (TS 29.281 5.1)"));
            }
            if f.last < f.first {
                return Err(bad("fteid.last", "must not be below fteid.first"));
            }
            (f.first, f.last)
        }
        None => (
            bpf_abi::gtp::TEID_DIRECT,
            bpf_abi::gtp::TEID_DIRECT + max_sessions.saturating_mul(2) - 1,
        ),
    })
}

/// The range in use written in, for `check-config`.
pub(super) fn fill(raw: &mut Option<RawFteid>, (first, last): (u32, u32)) {
    raw.get_or_insert(RawFteid { first, last });
}
