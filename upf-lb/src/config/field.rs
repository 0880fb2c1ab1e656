//! A configuration error names its field; the parsers of single values here say which.

/// A configuration that cannot be used: which field, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {field}: {why}")]
pub struct ConfigError {
    /// The field, as a TOML path (`n3.ipv4`, `ue_pool[1].cidr`).
    pub field: String,
    /// Why it is wrong.
    pub why: String,
}

pub(super) fn bad(field: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        why: why.into(),
    }
}

/// `s` as an IP address, or an error naming `field`.
pub(super) fn ip(field: String, s: &str) -> Result<std::net::IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| bad(field, format!("{s:?} is not an IP address")))
}

pub(super) fn opt_addr<T: std::str::FromStr>(
    v: &Option<String>,
    field: &str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    v.as_ref()
        .map(|s| {
            s.parse::<T>()
                .map_err(|_| bad(field, format!("{s:?} is not an {what} address")))
        })
        .transpose()
}
