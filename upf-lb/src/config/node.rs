//! `[node]`: the PFCP Node ID (TS 29.244 8.2.38).

use super::field::{ConfigError, bad};
use pfcp::ie::addr::NodeId;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) node_id: String,
}

/// The Node ID: an IPv4 or IPv6 address, or an FQDN.
pub(super) fn check(raw: &RawNode) -> Result<NodeId, ConfigError> {
    Ok(match raw.node_id.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => NodeId::Ipv4(a),
        Ok(IpAddr::V6(a)) => NodeId::Ipv6(a),
        Err(_) => {
            let n = &raw.node_id;
            let ok = !n.is_empty()
                && n.len() <= 253
                && n.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                });
            if !ok {
                return Err(bad(
                    "node.node_id",
                    format!("{n:?} is neither an IP address nor an FQDN"),
                ));
            }
            NodeId::Fqdn(n.clone())
        }
    })
}
