//! `[state]`: what outlives the daemon for a hitless restart (pinned maps, the session store).

use super::field::{ConfigError, bad};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub(super) pin_dir: String,
    pub(super) db: String,
}

/// Where the state that outlives the daemon lives (hitless restart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Pinned maps and XDP links: the configured directory plus `abi-v<ABI_VERSION>`, so a
    /// build with another layout never reuses them.
    pub pin_dir: std::path::PathBuf,
    /// The session store (a redb file).
    pub db: std::path::PathBuf,
}

/// `[state]` checked (none: nothing kept across restarts).
pub(super) fn check(raw: Option<&RawState>) -> Result<Option<State>, ConfigError> {
    let Some(st) = raw else {
        return Ok(None);
    };
    if !st.pin_dir.starts_with('/') {
        return Err(bad(
            "state.pin_dir",
            "must be an absolute path on a bpf filesystem",
        ));
    }
    if !st.db.starts_with('/') {
        return Err(bad("state.db", "must be an absolute path"));
    }
    Ok(Some(State {
        pin_dir: std::path::Path::new(&st.pin_dir).join(format!("abi-v{}", bpf_abi::ABI_VERSION)),
        db: (&st.db).into(),
    }))
}
