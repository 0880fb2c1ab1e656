//! `[srv6]`, `[[srv6.sid]]`, `[[srv6.policy]]`, `[[srv6.n9]]`: SRv6 local SIDs (RFC 8986,
//! RFC 9433), headend policies and N9 over SRv6.

use super::{
    field::{ConfigError, bad},
    iface::XdpMode,
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSrv6 {
    pub(super) interfaces: Option<Vec<String>>,
    pub(super) headend_interfaces: Option<Vec<String>>,
    pub(super) xdp_mode: Option<String>,
    pub(super) max_sids: Option<u32>,
    #[serde(default)]
    pub(super) sid: Vec<RawSid>,
    #[serde(default)]
    pub(super) policy: Vec<RawPolicy>,
    #[serde(default)]
    pub(super) n9: Vec<RawN9>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawN9 {
    pub(super) peer: String,
    pub(super) network_instance: Option<String>,
    pub(super) source: String,
    pub(super) segments: Vec<String>,
    pub(super) args_at: Option<u8>,
    pub(super) src_at: Option<u8>,
}

/// A local SID's fields as `[[srv6.sid]]` (and the API's SetSid) give them, unchecked:
/// [`parse_sid`] checks them.
#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSid {
    /// address/length.
    pub sid: String,
    /// "End", "End.X", ... (RFC 8986, RFC 9433 names).
    pub behaviour: String,
    /// The next hop (End.X, End.DX4, End.DX6).
    pub nh: Option<String>,
    /// The routing table (End.T, End.DT4/DT6/DT46).
    pub table: Option<u32>,
    /// Flavours (End, End.X, End.T).
    pub psp: Option<bool>,
    /// See `psp`.
    pub usp: Option<bool>,
    /// See `psp`.
    pub usd: Option<bool>,
    /// End.MAP's mapped SID.
    pub mapped: Option<String>,
    /// Where the arguments start (End.M.GTP4.E, End.M.GTP6.E, End.M.GTP6.D).
    pub args_at: Option<u8>,
    /// Where the IPv4 SA sits in the IPv6 SA (End.M.GTP4.E).
    pub src_at: Option<u8>,
    /// The source address (End.M.GTP6.E, End.M.GTP6.D).
    pub source: Option<String>,
    /// End.M.GTP6.D's SR policy.
    pub segments: Option<Vec<String>>,
    /// End.M.GTP6.D's policy is H.Encaps.Red.
    pub reduced: Option<bool>,
    /// End.Limit's own rate (kbit/s), for packets whose arguments carry none.
    pub rate_kbps: Option<u32>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) prefix: String,
    pub(super) source: Option<String>,
    pub(super) segments: Vec<String>,
    pub(super) reduced: Option<bool>,
    pub(super) insert: Option<bool>,
    pub(super) gtp4d: Option<bool>,
    pub(super) args_at: Option<u8>,
    pub(super) src_at: Option<u8>,
}

/// SRv6's configuration (`[srv6]`): local SIDs on `interfaces` (`xdp_srv6`), headend
/// policies on `headend_interfaces` (`xdp_headend`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv6Config {
    /// Interfaces `xdp_srv6` is attached to (where SRv6 packets arrive).
    pub interfaces: Vec<String>,
    /// Interfaces `xdp_headend` is attached to (where packets to encapsulate arrive).
    pub headend_interfaces: Vec<String>,
    /// How both are attached.
    pub xdp_mode: XdpMode,
    /// Local SIDs at most.
    pub max_sids: u32,
    /// Local SIDs: address, prefix length, behaviour, flavours.
    pub sids: Vec<(
        std::net::Ipv6Addr,
        u8,
        crate::southbound::srv6::Behaviour,
        crate::southbound::srv6::Flavours,
    )>,
    /// Headend policies: destination prefix, its length, the encapsulation.
    pub policies: Vec<(IpAddr, u8, crate::southbound::srv6::EncapPolicy)>,
    /// H.M.GTP4.D policies: IPv4 (GTP-U peer) prefix, its length, the policy (its source the
    /// IPv6 SA prefix), where the IPv4 SA goes in the IPv6 SA, where the arguments go in the
    /// last segment.
    pub gtp4d: Vec<(
        std::net::Ipv4Addr,
        u8,
        crate::southbound::srv6::EncapPolicy,
        u8,
        u8,
    )>,
    /// N9 tunnels realised as SRv6 (`[[srv6.n9]]`): which FARs (peer prefix, Network
    /// Instance), and the H.M.GTP4.D policy for the peer prefix (its source the IPv6 SA
    /// prefix; where the IPv4 SA and the arguments go).
    pub n9: Vec<N9Config>,
    /// H.Insert (.Red) policies: IPv6 destination prefix, its length, the segments.
    pub inserts: Vec<(std::net::Ipv6Addr, u8, crate::southbound::srv6::EncapPolicy)>,
    /// End.M.GTP6.D SIDs: address, prefix length, their SR policy, where the arguments go in
    /// the last segment, drop-in mode (End.M.GTP6.D.Di).
    pub gtp6d: Vec<(
        std::net::Ipv6Addr,
        u8,
        crate::southbound::srv6::EncapPolicy,
        u8,
        bool,
    )>,
}

/// A local SID as `[[srv6.sid]]` or the API gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SidSpec {
    /// Address, prefix length, behaviour, flavours.
    Plain(
        (
            std::net::Ipv6Addr,
            u8,
            crate::southbound::srv6::Behaviour,
            crate::southbound::srv6::Flavours,
        ),
    ),
    /// End.M.GTP6.D (.Di when the last is true): address, prefix length, its SR policy, where
    /// the arguments go.
    Gtp6d(
        (
            std::net::Ipv6Addr,
            u8,
            crate::southbound::srv6::EncapPolicy,
            u8,
            bool,
        ),
    ),
}

/// An SR policy's segments (1 to `MAX_SEGMENTS` IPv6 addresses), or an error naming `field`
/// or the segment at fault.
fn segments_of(field: String, v: &[String]) -> Result<Vec<std::net::Ipv6Addr>, ConfigError> {
    if v.is_empty() || v.len() > bpf_abi::srv6::MAX_SEGMENTS {
        return Err(bad(
            field,
            format!("1 to {} segments", bpf_abi::srv6::MAX_SEGMENTS),
        ));
    }
    v.iter()
        .enumerate()
        .map(|(k, sg)| {
            sg.parse()
                .map_err(|_| bad(format!("{field}[{k}]"), "not an IPv6 address"))
        })
        .collect()
}

/// One local SID's fields checked (`prefix` names them in errors: `srv6.sid[3]`, or the
/// API's request).
pub fn parse_sid(prefix: &str, x: &RawSid) -> Result<SidSpec, ConfigError> {
    use crate::southbound::srv6::{Behaviour, EncapPolicy};
    let f = |k: &str| format!("{prefix}.{k}");

    let (a, l) = x.sid.split_once('/').ok_or_else(|| {
        bad(
            f("sid"),
            format!("{:?}: an IPv6 prefix (address/length)", x.sid),
        )
    })?;
    let addr: std::net::Ipv6Addr = a
        .parse()
        .map_err(|_| bad(f("sid"), format!("{a:?} is not an IPv6 address")))?;
    let len: u8 = l
        .parse()
        .ok()
        .filter(|n| *n <= 128)
        .ok_or_else(|| bad(f("sid"), format!("{l:?}: a prefix length 0 to 128")))?;
    let nh6 = || -> Result<std::net::Ipv6Addr, ConfigError> {
        x.nh.as_deref()
            .ok_or_else(|| bad(f("nh"), "missing: this behaviour needs an IPv6 next hop"))?
            .parse()
            .map_err(|_| bad(f("nh"), "not an IPv6 address"))
    };
    let nh4 = || -> Result<std::net::Ipv4Addr, ConfigError> {
        x.nh.as_deref()
            .ok_or_else(|| bad(f("nh"), "missing: this behaviour needs an IPv4 next hop"))?
            .parse()
            .map_err(|_| bad(f("nh"), "not an IPv4 address"))
    };
    let table = x.table.unwrap_or(0);
    if x.behaviour == "End.M.GTP6.D" || x.behaviour == "End.M.GTP6.D.Di" {
        // RFC 9433 6.3 (6.4, drop-in mode): the SID with its SR policy <S2, ...> and source A.
        let di = x.behaviour.ends_with(".Di");
        let src = x
            .source
            .as_deref()
            .ok_or_else(|| bad(f("source"), "missing: End.M.GTP6.D's SRv6 source (A)"))?
            .parse()
            .map_err(|_| bad(f("source"), "not an IPv6 address"))?;
        let segments = segments_of(
            f("segments"),
            x.segments
                .as_deref()
                .ok_or_else(|| bad(f("segments"), "missing: End.M.GTP6.D's SR policy"))?,
        )?;
        let args_at = x.args_at.unwrap_or(8);
        if args_at > 11 {
            return Err(bad(
                f("args_at"),
                "0 to 11: Args.Mob.Session (5 bytes) goes in the last segment from there",
            ));
        }
        for (on, name) in [
            (x.nh.is_some(), "nh"),
            (x.table.is_some(), "table"),
            (x.mapped.is_some(), "mapped"),
            (x.src_at.is_some(), "src_at"),
            (x.psp.is_some() || x.usp.is_some() || x.usd.is_some(), "psp"),
        ] {
            if on {
                return Err(bad(f(name), "not a field of End.M.GTP6.D"));
            }
        }
        let policy = EncapPolicy {
            src,
            segments,
            reduced: x.reduced.unwrap_or(false),
        };
        return Ok(SidSpec::Gtp6d((addr, len, policy, args_at, di)));
    }
    if x.segments.is_some() || x.reduced.is_some() {
        return Err(bad(f("segments"), "for End.M.GTP6.D only (its SR policy)"));
    }
    let b = match x.behaviour.as_str() {
        "End" => Behaviour::End,
        "End.X" => Behaviour::EndX { nh: nh6()? },
        "End.T" if table == 0 => {
            return Err(bad(
                f("table"),
                "End.T needs a table other than 0 (0 is End)",
            ));
        }
        "End.T" => Behaviour::EndT { table },
        "End.DX4" => Behaviour::EndDx4 { nh: nh4()? },
        "End.DX6" => Behaviour::EndDx6 { nh: nh6()? },
        "End.DT4" => Behaviour::EndDt4 { table },
        "End.DT6" => Behaviour::EndDt6 { table },
        "End.DT46" => Behaviour::EndDt46 { table },
        "End.MAP" => Behaviour::EndMap {
            mapped: x
                .mapped
                .as_deref()
                .ok_or_else(|| bad(f("mapped"), "missing: End.MAP needs its mapped SID"))?
                .parse()
                .map_err(|_| bad(f("mapped"), "not an IPv6 address"))?,
        },
        "End.M.GTP4.E" => {
            let args_at = x.args_at.unwrap_or(len / 8);
            if args_at > 7 {
                return Err(bad(
                    f("args_at"),
                    "0 to 7: the IPv4 DA and Args.Mob.Session (9 bytes) follow in the SID",
                ));
            }
            let src_at = x.src_at.unwrap_or(8);
            if src_at > 12 {
                return Err(bad(f("src_at"), "0 to 12: the IPv4 SA in the IPv6 SA"));
            }
            Behaviour::EndMGtp4E { args_at, src_at }
        }
        "End.Limit" => {
            let args_at = x.args_at.unwrap_or(len / 8);
            if args_at > 10 {
                return Err(bad(
                    f("args_at"),
                    "0 to 10: the group (2 bytes) and limit rate (4) follow in the SID",
                ));
            }
            Behaviour::EndLimit {
                args_at,
                rate_kbps: x.rate_kbps.unwrap_or(0),
            }
        }
        "End.M.GTP6.E" => {
            let args_at = x.args_at.unwrap_or(len / 8);
            if args_at > 11 {
                return Err(bad(
                    f("args_at"),
                    "0 to 11: Args.Mob.Session (5 bytes) follows in the SID",
                ));
            }
            let source = x
                .source
                .as_deref()
                .ok_or_else(|| {
                    bad(
                        f("source"),
                        "missing: End.M.GTP6.E sends GTP-U from this (the SRGW's) address",
                    )
                })?
                .parse()
                .map_err(|_| bad(f("source"), "not an IPv6 address"))?;
            Behaviour::EndMGtp6E { args_at, source }
        }
        o => {
            return Err(bad(
                f("behaviour"),
                format!(
                    "{o:?}: End, End.X, End.T, End.DX4, End.DX6, End.DT4, End.DT6, End.DT46, End.MAP, End.M.GTP4.E, End.M.GTP6.E, End.M.GTP6.D, End.M.GTP6.D.Di or End.Limit"
                ),
            ));
        }
    };
    if x.args_at.is_some()
        && !matches!(
            b,
            Behaviour::EndMGtp4E { .. } | Behaviour::EndMGtp6E { .. } | Behaviour::EndLimit { .. }
        )
    {
        return Err(bad(
            f("args_at"),
            "for End.M.GTP4.E, End.M.GTP6.E and End.Limit only",
        ));
    }
    if x.rate_kbps.is_some() && !matches!(b, Behaviour::EndLimit { .. }) {
        return Err(bad(f("rate_kbps"), "for End.Limit only"));
    }
    if x.src_at.is_some() && !matches!(b, Behaviour::EndMGtp4E { .. }) {
        return Err(bad(f("src_at"), "for End.M.GTP4.E only"));
    }
    if x.source.is_some() && !matches!(b, Behaviour::EndMGtp6E { .. }) {
        return Err(bad(f("source"), "for End.M.GTP6.E only"));
    }
    if x.mapped.is_some() && !matches!(b, Behaviour::EndMap { .. }) {
        return Err(bad(f("mapped"), "for End.MAP only"));
    }
    if x.nh.is_some()
        && !matches!(
            b,
            Behaviour::EndX { .. } | Behaviour::EndDx4 { .. } | Behaviour::EndDx6 { .. }
        )
    {
        return Err(bad(f("nh"), "for End.X, End.DX4 and End.DX6 only"));
    }
    if x.table.is_some()
        && !matches!(
            b,
            Behaviour::EndT { .. }
                | Behaviour::EndDt4 { .. }
                | Behaviour::EndDt6 { .. }
                | Behaviour::EndDt46 { .. }
        )
    {
        return Err(bad(
            f("table"),
            "for End.T, End.DT4, End.DT6 and End.DT46 only",
        ));
    }
    let fl = crate::southbound::srv6::Flavours {
        psp: x.psp.unwrap_or(false),
        usp: x.usp.unwrap_or(false),
        usd: x.usd.unwrap_or(false),
    };
    if !matches!(
        b,
        Behaviour::End | Behaviour::EndX { .. } | Behaviour::EndT { .. }
    ) {
        for (on, name) in [(fl.psp, "psp"), (fl.usp, "usp"), (fl.usd, "usd")] {
            if on {
                return Err(bad(
                    f(name),
                    "PSP, USP and USD are flavours of End, End.X and End.T only",
                ));
            }
        }
    }
    Ok(SidSpec::Plain((addr, len, b, fl)))
}

/// One `[[srv6.n9]]`: the SMF's N9 FARs to `peer` (in `network_instance`, when given) go over
/// SRv6 by H.M.GTP4.D.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct N9Config {
    /// The peer UPFs' IPv4 prefix and length.
    pub peer: (std::net::Ipv4Addr, u8),
    /// The FARs' Network Instance (none: any).
    pub network_instance: Option<String>,
    /// The SRv6 policy (source: the IPv6 SA prefix the UPF's N9 address goes into).
    pub policy: crate::southbound::srv6::EncapPolicy,
    /// Where the IPv4 SA goes in the IPv6 SA.
    pub src_at: u8,
    /// Where the IPv4 DA and Args.Mob.Session go in the last segment.
    pub args_at: u8,
}

const MAX_SIDS: u32 = 1024;

/// `[srv6]`: every field checked, errors naming it.
pub(super) fn check(r: RawSrv6, n3: &str, n6: &str) -> Result<Srv6Config, ConfigError> {
    use crate::southbound::srv6::EncapPolicy;
    let interfaces = r.interfaces.unwrap_or_default();
    let headend_interfaces = r.headend_interfaces.unwrap_or_default();
    if interfaces.is_empty() && headend_interfaces.is_empty() {
        return Err(bad(
            "srv6.interfaces",
            "at least one interface (or srv6.headend_interfaces)",
        ));
    }
    for (f, list) in [
        ("srv6.interfaces", &interfaces),
        ("srv6.headend_interfaces", &headend_interfaces),
    ] {
        for (i, name) in list.iter().enumerate() {
            if name == n3 || name == n6 {
                return Err(bad(
                    format!("{f}[{i}]"),
                    format!("{name} is the N3 or N6 interface, which runs the GTP-U programs"),
                ));
            }
        }
    }
    if let Some(i) = headend_interfaces
        .iter()
        .position(|h| interfaces.contains(h))
    {
        return Err(bad(
            format!("srv6.headend_interfaces[{i}]"),
            "also in srv6.interfaces: one XDP program an interface",
        ));
    }
    let xdp_mode = XdpMode::parse("srv6.xdp_mode", r.xdp_mode.as_deref())?;
    let max_sids = r.max_sids.unwrap_or(MAX_SIDS);
    if max_sids == 0 || max_sids > 1_000_000 {
        return Err(bad("srv6.max_sids", "1 to 1000000"));
    }
    if r.sid.len() > max_sids as usize {
        return Err(bad(
            "srv6.sid",
            format!("{} SIDs, srv6.max_sids is {max_sids}", r.sid.len()),
        ));
    }
    let mut sids = Vec::new();
    let mut gtp6d = Vec::new();
    for (i, x) in r.sid.iter().enumerate() {
        match parse_sid(&format!("srv6.sid[{i}]"), x)? {
            SidSpec::Plain(t) => sids.push(t),
            SidSpec::Gtp6d(t) => gtp6d.push(t),
        }
    }
    let mut policies = Vec::new();
    let mut inserts = Vec::new();
    let mut gtp4ds = Vec::new();
    if r.n9.len() > crate::state::N9_SRV6_MAX {
        return Err(bad(
            "srv6.n9",
            format!("at most {} entries", crate::state::N9_SRV6_MAX),
        ));
    }
    let mut n9 = Vec::new();
    for (i, x) in r.n9.iter().enumerate() {
        let f = |k: &str| format!("srv6.n9[{i}].{k}");
        let (a, l) = x.peer.split_once('/').unwrap_or((x.peer.as_str(), "32"));
        let peer: std::net::Ipv4Addr = a
            .parse()
            .map_err(|_| bad(f("peer"), format!("{a:?} is not an IPv4 address")))?;
        let len: u8 = l
            .parse()
            .ok()
            .filter(|n| *n <= 32)
            .ok_or_else(|| bad(f("peer"), format!("{l:?}: a prefix length 0 to 32")))?;
        if let Some(ni) = &x.network_instance
            && (ni.is_empty() || ni.len() > 32)
        {
            return Err(bad(f("network_instance"), "1 to 32 octets"));
        }
        let source: std::net::Ipv6Addr = x
            .source
            .parse()
            .map_err(|_| bad(f("source"), "not an IPv6 address"))?;
        let segments = segments_of(f("segments"), &x.segments)?;
        let args_at = x.args_at.unwrap_or(6);
        if args_at > 7 {
            return Err(bad(f("args_at"), "0 to 7: 9 bytes of arguments follow"));
        }
        let src_at = x.src_at.unwrap_or(8);
        if src_at > 12 {
            return Err(bad(f("src_at"), "0 to 12: the IPv4 SA (4 bytes) follows"));
        }
        n9.push(N9Config {
            peer: (peer, len),
            network_instance: x.network_instance.clone(),
            policy: EncapPolicy {
                src: source,
                segments,
                reduced: true,
            },
            src_at,
            args_at,
        });
    }
    for (i, p) in r.policy.iter().enumerate() {
        let f = |k: &str| format!("srv6.policy[{i}].{k}");
        let (a, l) = p
            .prefix
            .split_once('/')
            .ok_or_else(|| bad(f("prefix"), format!("{:?}: address/length", p.prefix)))?;
        let prefix: IpAddr = a
            .parse()
            .map_err(|_| bad(f("prefix"), format!("{a:?} is not an IP address")))?;
        let max = if prefix.is_ipv4() { 32 } else { 128 };
        let len: u8 = l
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(f("prefix"), format!("{l:?}: a prefix length 0 to {max}")))?;
        let insert = p.insert.unwrap_or(false);
        let src: std::net::Ipv6Addr = match (&p.source, insert) {
            (Some(s), false) => s
                .parse()
                .map_err(|_| bad(f("source"), "not an IPv6 address"))?,
            (None, false) => return Err(bad(f("source"), "missing: the outer source")),
            (Some(_), true) => {
                return Err(bad(
                    f("source"),
                    "H.Insert keeps the packet's own source: none here",
                ));
            }
            (None, true) => std::net::Ipv6Addr::UNSPECIFIED,
        };
        let gtp4d = p.gtp4d.unwrap_or(false);
        if gtp4d && insert {
            return Err(bad(f("gtp4d"), "H.M.GTP4.D or H.Insert, not both"));
        }
        if !gtp4d && (p.args_at.is_some() || p.src_at.is_some()) {
            return Err(bad(
                f("args_at"),
                "for H.M.GTP4.D policies (gtp4d = true) only",
            ));
        }
        let insert_prefix = match (insert, prefix) {
            (true, IpAddr::V6(a)) => Some(a),
            (true, IpAddr::V4(_)) => {
                return Err(bad(f("insert"), "H.Insert is for IPv6 prefixes only"));
            }
            (false, _) => None,
        };
        let segments = segments_of(f("segments"), &p.segments)?;
        let e = EncapPolicy {
            src,
            segments,
            reduced: p.reduced.unwrap_or(false),
        };
        if gtp4d {
            // RFC 9433 6.7: GTP-U/IPv4 to the prefix; the IPv4 SA goes into the IPv6 SA from
            // byte `src_at`, the IPv4 DA and Args.Mob.Session into the last segment from
            // `args_at`.
            let IpAddr::V4(a) = prefix else {
                return Err(bad(
                    f("gtp4d"),
                    "H.M.GTP4.D is for IPv4 prefixes (GTP-U peers)",
                ));
            };
            let args_at = p.args_at.unwrap_or(6);
            if args_at > 7 {
                return Err(bad(f("args_at"), "0 to 7: 9 bytes of arguments follow"));
            }
            let src_at = p.src_at.unwrap_or(8);
            if src_at > 12 {
                return Err(bad(f("src_at"), "0 to 12: the IPv4 SA (4 bytes) follows"));
            }
            gtp4ds.push((a, len, e, src_at, args_at));
            continue;
        }
        match insert_prefix {
            Some(a) => inserts.push((a, len, e)),
            None => policies.push((prefix, len, e)),
        }
    }
    Ok(Srv6Config {
        interfaces,
        headend_interfaces,
        xdp_mode,
        max_sids,
        sids,
        policies,
        inserts,
        n9,
        gtp4d: gtp4ds,
        gtp6d,
    })
}

/// The section's own defaults written in, for `check-config` (a SID's, a policy's and an N9
/// tunnel's fields stay as written).
pub(super) fn fill(raw: &mut RawSrv6) {
    raw.interfaces.get_or_insert_with(Vec::new);
    raw.headend_interfaces.get_or_insert_with(Vec::new);
    raw.xdp_mode.get_or_insert_with(|| "driver".into());
    raw.max_sids.get_or_insert(MAX_SIDS);
}
