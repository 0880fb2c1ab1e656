//! `[[ue_pool]]`: the UE IP pools of each Network Instance.

use super::{
    cidr::Cidr,
    field::{ConfigError, bad},
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub(super) network_instance: String,
    pub(super) cidr: String,
}

/// A UE IP pool of a network instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UePool {
    /// Network Instance (as text; matched against the PDI's Network Instance).
    pub network_instance: String,
    /// The pool: IPv4 addresses, or IPv6 /64 prefixes.
    pub cidr: Cidr,
}

/// Every pool checked.
pub(super) fn check(raw: &[RawPool]) -> Result<Vec<UePool>, ConfigError> {
    let mut ue_pools = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let cidr = Cidr::parse(&p.cidr).map_err(|w| bad(format!("ue_pool[{i}].cidr"), w))?;
        if cidr.addr.is_ipv6() && cidr.len > 64 {
            return Err(bad(
                format!("ue_pool[{i}].cidr"),
                "an IPv6 pool gives /64 prefixes: its prefix must be /64 or shorter",
            ));
        }
        if p.network_instance.is_empty() {
            return Err(bad(
                format!("ue_pool[{i}].network_instance"),
                "must not be empty",
            ));
        }
        ue_pools.push(UePool {
            network_instance: p.network_instance.clone(),
            cidr,
        });
    }
    Ok(ue_pools)
}
