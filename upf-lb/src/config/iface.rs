//! `[n3]` and `[n6]`: an interface, its addresses, how XDP is attached there (the attach mode
//! is also `[lb]`'s and `[srv6]`'s).

use super::field::{ConfigError, bad, opt_addr};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIface {
    pub(super) interface: String,
    pub(super) ipv4: Option<String>,
    pub(super) ipv6: Option<String>,
    pub(super) xdp_mode: Option<String>,
}

/// How an XDP program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// Native, in the driver.
    Driver,
    /// Generic, after the SKB is built.
    Skb,
}

impl XdpMode {
    /// `v` (`"driver"`, the default, or `"skb"`), or an error naming `field`.
    pub(super) fn parse(field: &str, v: Option<&str>) -> Result<XdpMode, ConfigError> {
        match v {
            None | Some("driver") => Ok(XdpMode::Driver),
            Some("skb") => Ok(XdpMode::Skb),
            Some(o) => Err(bad(
                field,
                format!("{o:?} is neither \"driver\" nor \"skb\""),
            )),
        }
    }
}

/// An interface with its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    /// Interface name.
    pub interface: String,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Attach mode.
    pub xdp_mode: XdpMode,
}

pub(super) fn iface(r: &RawIface, name: &str) -> Result<Iface, ConfigError> {
    if r.interface.is_empty() || r.interface.len() > 15 || r.interface.contains('/') {
        return Err(bad(
            format!("{name}.interface"),
            format!("{:?} is not an interface name (1 to 15 bytes)", r.interface),
        ));
    }
    let ipv4 = opt_addr(&r.ipv4, &format!("{name}.ipv4"), "IPv4")?;
    let ipv6 = opt_addr(&r.ipv6, &format!("{name}.ipv6"), "IPv6")?;
    if ipv4.is_none() && ipv6.is_none() {
        return Err(bad(
            format!("{name}.ipv4"),
            "at least one of ipv4 and ipv6 is needed",
        ));
    }
    let xdp_mode = XdpMode::parse(&format!("{name}.xdp_mode"), r.xdp_mode.as_deref())?;
    Ok(Iface {
        interface: r.interface.clone(),
        ipv4,
        ipv6,
        xdp_mode,
    })
}

/// The defaults written in, for `check-config`.
pub(super) fn fill(raw: &mut RawIface) {
    raw.xdp_mode.get_or_insert_with(|| "driver".into());
}
