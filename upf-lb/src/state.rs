//! The desired state of one PFCP session (TS 29.244 5.2): its rules as the SMF gave them, with
//! what the UP function chose in place of CHOOSE, and the pure translation of that state into
//! the datapath's rule set ([`SessionSpec`]).
//!
//! No I/O here. The N4 handlers apply a request to a copy of [`Rules`]; [`Rules::check`] and
//! [`Rules::to_spec`] either give the whole new rule set or a [`RuleError`] with the Cause, the
//! Offending IE and the Failed Rule ID to answer with; the southbound then applies the spec.

use crate::southbound::{Key, PdrSpec, SessionSpec, gtp::build};
use crate::vec_map::VecMap;
use bpf_abi::gtp::{
    FAR_BUFF, FAR_DROP, FAR_DUPL, FAR_FORW, FAR_NOCP, FAR_TLM, Far, GATE_DL_CLOSED, GATE_UL_CLOSED,
    MAX_PDRS_PER_KEY, MAX_SDF_PER_PDR, MAX_URRS_PER_PDR, PPI_NONE, Qer, SDF_FLOW_LABEL, SDF_SPI,
    SDF_TOS, SdfFilter,
};
use pfcp::{
    Cause,
    ie::{
        addr::FTeid,
        grouped::{CreateBar, CreateFar, CreatePdr, CreateQer, CreateUrr},
        ohc::creation,
        sdf::{AddrMatch, Endpoint, FlowDescription},
        simple::{ApplyAction, ReportingTriggers},
        types as t,
        usage::{FailedRuleId, rule_type},
    },
};
use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

/// A session's rules, by rule ID, as created and updated over N4. The rules are boxed: a
/// B-tree leaf holds eleven values, and unboxed PFCP rules (150 to 500 bytes each) made a
/// session of six rules take 17 KB (measured by the session-rate benchmark); boxed, 3 KB.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rules {
    /// PDRs (F-TEID and UE IP Address CHOOSE already resolved).
    pub pdrs: VecMap<u16, Box<CreatePdr>>,
    /// FARs.
    pub fars: VecMap<u32, Box<CreateFar>>,
    /// QERs.
    pub qers: VecMap<u32, Box<CreateQer>>,
    /// URRs.
    pub urrs: VecMap<u32, Box<CreateUrr>>,
    /// The BAR.
    pub bar: Option<CreateBar>,
}

/// A rule set that does not hang together or that the datapath cannot hold: what to answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{why}")]
pub struct RuleError {
    /// Cause.
    pub cause: Cause,
    /// Offending IE.
    pub offending_ie: Option<u16>,
    /// Failed Rule ID.
    pub failed_rule: Option<FailedRuleId>,
    /// For the log.
    pub why: String,
}

impl RuleError {
    /// Rule creation/modification failure of rule `id` of `kind` (`rule_type::*`), at IE `ie`.
    pub fn rule(kind: u8, id: u32, ie: u16, why: impl Into<String>) -> Self {
        RuleError {
            cause: Cause::RuleCreationModificationFailure,
            offending_ie: Some(ie),
            failed_rule: Some(FailedRuleId {
                rule_type: kind,
                id,
            }),
            why: why.into(),
        }
    }

    /// An error with a Cause and an Offending IE and no rule.
    pub fn new(cause: Cause, ie: Option<u16>, why: impl Into<String>) -> Self {
        RuleError {
            cause,
            offending_ie: ie,
            failed_rule: None,
            why: why.into(),
        }
    }
}

/// What the translation needs to know of the UP function itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Local {
    /// Source address of GTP-U/UDP/IPv4 tunnels we create (N3/N9).
    pub gtpu_v4: Option<Ipv4Addr>,
    /// Source address of GTP-U/UDP/IPv6 tunnels we create.
    pub gtpu_v6: Option<Ipv6Addr>,
    /// Token bucket depth of an MBR, in milliseconds of the rate (TS 29.244 leaves the burst to
    /// the UP function).
    pub mbr_burst_ms: u64,
    /// N9 tunnels realised as SRv6 (`[[srv6.n9]]`): a GTP-U/IPv4 FAR to a peer one of these
    /// covers gets `FAR_SRV6`.
    pub srv6_n9: [N9Srv6; N9_SRV6_MAX],
}

/// `[[srv6.n9]]` entries at most.
pub const N9_SRV6_MAX: usize = 8;

/// Which N9 FARs go over SRv6: the peer's IPv4 prefix and, optionally, the FAR's Network
/// Instance (TS 29.244 8.2.4: its octets, compared as given or DNS-label encoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct N9Srv6 {
    /// In use.
    pub used: bool,
    /// The prefix, host order.
    pub net: u32,
    /// Its length (0 to 32).
    pub len: u8,
    /// The Network Instance's octets ([`N9Srv6::ni_len`] of them; none: any).
    pub ni: [u8; 32],
    /// Octets of [`N9Srv6::ni`] in use.
    pub ni_len: u8,
}

impl N9Srv6 {
    /// An unused entry.
    pub const NONE: N9Srv6 = N9Srv6 {
        used: false,
        net: 0,
        len: 0,
        ni: [0; 32],
        ni_len: 0,
    };

    /// Whether a FAR to `peer` in Network Instance `ni` goes over SRv6 by this entry.
    pub fn matches(&self, peer: Ipv4Addr, ni: Option<&[u8]>) -> bool {
        if !self.used {
            return false;
        }
        let mask = if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len.min(32)))
        };
        if u32::from(peer) & mask != self.net & mask {
            return false;
        }
        let want = &self.ni[..usize::from(self.ni_len)];
        if want.is_empty() {
            return true;
        }
        let Some(got) = ni else {
            return false;
        };
        // As configured, or in DNS label format (each label behind its length).
        got == want || {
            let mut rest = got;
            want.split(|b| *b == b'.').all(|l| {
                let ok = rest.first() == Some(&(l.len() as u8)) && rest.get(1..=l.len()) == Some(l);
                rest = rest.get(l.len() + 1..).unwrap_or(&[]);
                ok
            }) && rest.is_empty()
        }
    }
}

/// The FAR ID of the drop FAR that PDRs of an exhausted URR without a FAR ID for Quota Action
/// take: the top of the FAR ID space, which TS 29.244 8.2.74 leaves to predefined FARs.
pub const QUOTA_DROP_FAR: u32 = u32::MAX;

/// Smallest token bucket: two full-size frames, so one packet is never refused for the burst
/// alone.
const MIN_BURST_BYTES: u64 = 2 * 1514;

fn pdr_err(id: u16, ie: u16, why: impl Into<String>) -> RuleError {
    RuleError::rule(rule_type::PDR, u32::from(id), ie, why)
}

impl Rules {
    /// Checks what a Modification can break: every PDR's FAR, QERs and URRs exist, every
    /// Linked URR exists.
    pub fn check(&self) -> Result<(), RuleError> {
        for (id, p) in &self.pdrs {
            let Some(far) = p.far_id else {
                return Err(pdr_err(*id, t::FAR_ID, "PDR without a FAR ID"));
            };
            if !self.fars.contains_key(&far.0) {
                return Err(pdr_err(
                    *id,
                    t::FAR_ID,
                    format!("FAR {} does not exist", far.0),
                ));
            }
            if let Some(q) = p.qer_ids.iter().find(|q| !self.qers.contains_key(&q.0)) {
                return Err(pdr_err(
                    *id,
                    t::QER_ID,
                    format!("QER {} does not exist", q.0),
                ));
            }
            if let Some(u) = p.urr_ids.iter().find(|u| !self.urrs.contains_key(&u.0)) {
                return Err(pdr_err(
                    *id,
                    t::URR_ID,
                    format!("URR {} does not exist", u.0),
                ));
            }
        }
        for (id, u) in &self.urrs {
            if let Some(l) = u
                .linked_urr_ids
                .iter()
                .find(|l| !self.urrs.contains_key(&l.0))
            {
                return Err(RuleError::rule(
                    rule_type::URR,
                    *id,
                    t::LINKED_URR_ID,
                    format!("Linked URR {} does not exist", l.0),
                ));
            }
        }
        Ok(())
    }

    /// The UE addresses the session's PDRs name (for `assigned` in flow descriptions).
    pub fn ue_addresses(&self) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        let mut v4 = None;
        let mut v6 = None;
        for p in self.pdrs.values() {
            for u in &p.pdi.ue_ip_addresses {
                v4 = v4.or(u.ipv4);
                v6 = v6.or(u.ipv6);
            }
        }
        (v4, v6)
    }

    /// The datapath's rule set for these rules, or why they cannot be installed.
    pub fn to_spec(&self, session: u32, local: &Local) -> Result<SessionSpec, RuleError> {
        self.to_spec_with(session, local, &BTreeSet::new())
    }

    /// As [`Rules::to_spec`], with the URRs in `exhausted` out of quota: a PDR that counts on
    /// one takes its FAR ID for Quota Action where the URR has one, else drops (TS 29.244
    /// 5.2.2.2).
    pub fn to_spec_with(
        &self,
        session: u32,
        local: &Local,
        exhausted: &BTreeSet<u32>,
    ) -> Result<SessionSpec, RuleError> {
        self.check()?;
        let ue = self.ue_addresses();
        let mut spec = SessionSpec {
            session,
            ..SessionSpec::default()
        };
        for (id, f) in &self.fars {
            spec.fars.push((*id, far(f, local)?));
        }
        if !exhausted.is_empty() {
            spec.fars.push((QUOTA_DROP_FAR, build::far_drop()));
        }
        for (id, q) in &self.qers {
            spec.qers.push((*id, qer(q, local)));
        }
        for (id, u) in &self.urrs {
            spec.urrs.push(*id);
            if u.reporting_triggers.has(ReportingTriggers::VOLTH)
                && let Some(total) = u.volume_threshold.and_then(|v| v.total)
            {
                spec.urr_thresholds.push((*id, total));
            }
        }
        let mut per_key: BTreeMap<Key, usize> = BTreeMap::new();
        for (id, p) in &self.pdrs {
            let keys = keys(p)?;
            let uplink = matches!(keys.first(), Some(Key::UlTeid(_)));
            let pdr = PdrSpec {
                pdr_id: *id,
                precedence: p.precedence.0,
                qfi: qfi(p)?,
                ohr: p.outer_header_removal.map(|o| o.description),
                sdfs: sdfs(p, uplink, ue)?,
                far_id: match p.urr_ids.iter().find(|u| exhausted.contains(&u.0)) {
                    Some(u) => self
                        .urrs
                        .get(&u.0)
                        .and_then(|x| x.far_id_for_quota_action)
                        .map(|f| f.0)
                        .filter(|f| self.fars.contains_key(f))
                        .unwrap_or(QUOTA_DROP_FAR),
                    None => p.far_id.map_or(0, |f| f.0),
                },
                qer_id: match p.qer_ids.as_slice() {
                    [] => None,
                    [q] => Some(q.0),
                    _ => {
                        return Err(pdr_err(
                            *id,
                            t::QER_ID,
                            "more than one QER on a PDR: the datapath enforces one",
                        ));
                    }
                },
                urr_ids: p.urr_ids.iter().map(|u| u.0).collect(),
            };
            if pdr.urr_ids.len() > MAX_URRS_PER_PDR {
                return Err(pdr_err(
                    *id,
                    t::URR_ID,
                    format!("more than {MAX_URRS_PER_PDR} URRs on a PDR"),
                ));
            }
            for k in keys {
                let n = per_key.entry(k).or_default();
                *n += 1;
                if *n > MAX_PDRS_PER_KEY as usize {
                    return Err(pdr_err(
                        *id,
                        t::PDI,
                        format!("more than {MAX_PDRS_PER_KEY} PDRs on one F-TEID or UE address"),
                    ));
                }
                spec.pdrs.push((k, pdr.clone()));
            }
        }
        Ok(spec)
    }
}

/// Where the datapath finds a PDR: its local F-TEID, else its UE address(es).
fn keys(p: &CreatePdr) -> Result<Vec<Key>, RuleError> {
    let id = p.pdr_id.0;
    match p.pdi.local_fteid {
        Some(FTeid::Assigned { teid, .. }) => return Ok(vec![Key::UlTeid(teid)]),
        Some(FTeid::Choose { .. }) => {
            return Err(pdr_err(id, t::F_TEID, "F-TEID CHOOSE left unresolved"));
        }
        None => {}
    }
    let mut out = Vec::new();
    for u in &p.pdi.ue_ip_addresses {
        if let Some(a) = u.ipv4 {
            out.push(Key::DlUe4(a));
        }
        if let Some(a) = u.ipv6 {
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&a.octets()[..8]);
            out.push(Key::DlUe6(prefix));
        }
    }
    if out.is_empty() {
        return Err(pdr_err(
            id,
            t::PDI,
            "a PDI needs a local F-TEID or a UE IP address",
        ));
    }
    Ok(out)
}

fn qfi(p: &CreatePdr) -> Result<u8, RuleError> {
    match p.pdi.qfis.as_slice() {
        [] => Ok(0),
        [q] => Ok(q.0),
        _ => Err(pdr_err(
            p.pdr_id.0,
            t::QFI,
            "more than one QFI in a PDI: the datapath matches one",
        )),
    }
}

fn far(f: &CreateFar, local: &Local) -> Result<Far, RuleError> {
    let id = f.far_id.0;
    let err = |ie, why: &str| RuleError::rule(rule_type::FAR, id, ie, why);
    let action = action_bits(&f.apply_action);
    let mut out = build::far_forward();
    out.action = action;
    if out.action & (FAR_FORW | FAR_DROP | FAR_BUFF) == 0 {
        return Err(err(
            t::APPLY_ACTION,
            "Apply Action without FORW, DROP or BUFF",
        ));
    }
    let Some(fp) = &f.forwarding_parameters else {
        return Ok(out);
    };
    if let Some(ohc) = &fp.outer_header_creation {
        let d = ohc.description;
        let teid = ohc.teid.unwrap_or(0);
        out = if d & creation::GTPU_UDP_IPV4 != 0
            && let (Some(peer), Some(l)) = (ohc.ipv4, local.gtpu_v4)
        {
            build::far_gtpu_v4(teid, l, peer)
        } else if d & creation::GTPU_UDP_IPV6 != 0
            && let (Some(peer), Some(l)) = (ohc.ipv6, local.gtpu_v6)
        {
            build::far_gtpu_v6(teid, l, peer)
        } else if d & (creation::GTPU_UDP_IPV4 | creation::GTPU_UDP_IPV6) != 0 {
            return Err(err(
                t::OUTER_HEADER_CREATION,
                "GTP-U outer header of a family without a peer address or a local N3/N9 address",
            ));
        } else {
            return Err(err(
                t::OUTER_HEADER_CREATION,
                "only GTP-U/UDP/IPv4 and GTP-U/UDP/IPv6 outer headers are supported",
            ));
        };
        if let Some(p) = ohc.port {
            out.port = bpf_abi::Be16::new(p);
        }
        out.action = action;
        if out.ohc == bpf_abi::gtp::OHC_GTPU_IPV4
            && let Some(peer) = ohc.ipv4
        {
            let ni = fp.network_instance.as_ref().map(|b| b.0.as_slice());
            if local.srv6_n9.iter().any(|m| m.matches(peer, ni)) {
                out.flags |= bpf_abi::gtp::FAR_SRV6;
            }
        }
    }
    if let Some(tlm) = fp.transport_level_marking {
        out.flags |= FAR_TLM;
        out.tos = tlm.tos & tlm.mask;
    }
    Ok(out)
}

/// The datapath's FAR action bits of an Apply Action.
fn action_bits(a: &ApplyAction) -> u8 {
    let mut b = 0;
    for (flag, bit) in [
        (ApplyAction::FORW, FAR_FORW),
        (ApplyAction::DROP, FAR_DROP),
        (ApplyAction::BUFF, FAR_BUFF),
        (ApplyAction::NOCP, FAR_NOCP),
        (ApplyAction::DUPL, FAR_DUPL),
    ] {
        if a.has(flag) {
            b |= bit;
        }
    }
    b
}

fn qer(q: &CreateQer, local: &Local) -> Qer {
    let mut out = build::qer_open();
    if !q.gate_status.ul_open() {
        out.gate |= GATE_UL_CLOSED;
    }
    if !q.gate_status.dl_open() {
        out.gate |= GATE_DL_CLOSED;
    }
    if let Some(m) = q.mbr {
        out.mbr_ul = m.ul_kbps.saturating_mul(1000);
        out.mbr_dl = m.dl_kbps.saturating_mul(1000);
        let burst = |bps: u64| (bps / 8).saturating_mul(local.mbr_burst_ms) / 1000;
        out.burst_ul = burst(out.mbr_ul).max(MIN_BURST_BYTES);
        out.burst_dl = burst(out.mbr_dl).max(MIN_BURST_BYTES);
    }
    out.qfi = q.qfi.map_or(0, |v| v.0);
    out.rqi = q.rqi.map_or(0, |v| v.0);
    out.ppi = q.paging_policy_indicator.map_or(PPI_NONE, |v| v.0);
    out
}

/// A side of a flow description as (address, prefix length) choices of one family.
fn side(e: &Endpoint, v6: bool, ue: (Option<Ipv4Addr>, Option<Ipv6Addr>)) -> Option<(IpAddr, u8)> {
    let any = if v6 {
        (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
    } else {
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    };
    match e.addr {
        AddrMatch::Any => Some(any),
        AddrMatch::Assigned => match (v6, ue) {
            (false, (Some(a), _)) => Some((IpAddr::V4(a), 32)),
            (true, (_, Some(a))) => Some((IpAddr::V6(a), 128)),
            // The UE has no address of this family: nothing of it can match.
            _ => None,
        },
        AddrMatch::Net(a, len) => (a.is_ipv6() == v6).then_some((a, len)),
    }
}

fn ranges(e: &Endpoint) -> Vec<(u16, u16)> {
    if e.ports.is_empty() {
        vec![(0, u16::MAX)]
    } else {
        e.ports.clone()
    }
}

/// The datapath filters of a PDR's SDF Filters, in the packet's direction: for an uplink PDR
/// the packet's source is the flow description's `to` side (the UE) and its destination the
/// `from` side (TS 29.244 5.2.1A.2A: flow descriptions are written for the downlink
/// direction). A side with several port ranges becomes one filter per combination.
fn sdfs(
    p: &CreatePdr,
    uplink: bool,
    ue: (Option<Ipv4Addr>, Option<Ipv6Addr>),
) -> Result<Vec<SdfFilter>, RuleError> {
    let id = p.pdr_id.0;
    let mut out = Vec::new();
    for f in &p.pdi.sdf_filters {
        let fd = match &f.flow_description {
            Some(text) => FlowDescription::parse(text).map_err(|e| {
                pdr_err(
                    id,
                    t::SDF_FILTER,
                    format!("Flow Description {text:?}: {}", e.0),
                )
            })?,
            None => FlowDescription {
                protocol: None,
                from: Endpoint {
                    addr: AddrMatch::Any,
                    ports: vec![],
                },
                to: Endpoint {
                    addr: AddrMatch::Any,
                    ports: vec![],
                },
            },
        };
        let (src, dst) = if uplink {
            (&fd.to, &fd.from)
        } else {
            (&fd.from, &fd.to)
        };
        // Families: those the addresses name, else those the UE has.
        let mut families = Vec::new();
        for v6 in [false, true] {
            let named = [src, dst]
                .iter()
                .any(|e| matches!(e.addr, AddrMatch::Net(a, _) if a.is_ipv6() == v6));
            let other_named = [src, dst]
                .iter()
                .any(|e| matches!(e.addr, AddrMatch::Net(a, _) if a.is_ipv6() != v6));
            let ue_has = if v6 { ue.1.is_some() } else { ue.0.is_some() };
            let no_ue = ue.0.is_none() && ue.1.is_none();
            if named || (!other_named && (ue_has || no_ue)) {
                families.push(v6);
            }
        }
        for v6 in families {
            let (Some(s), Some(d)) = (side(src, v6, ue), side(dst, v6, ue)) else {
                continue;
            };
            for sp in ranges(src) {
                for dp in ranges(dst) {
                    let mut x = build::sdf(fd.protocol, s, sp, d, dp);
                    if let Some([tos, mask]) = f.tos_traffic_class {
                        x.flags |= SDF_TOS;
                        x.tos = tos & mask;
                        x.tos_mask = mask;
                    }
                    if let Some(spi) = f.spi {
                        x.flags |= SDF_SPI;
                        x.spi = bpf_abi::Be32::new(spi);
                    }
                    if let Some(fl) = f.flow_label {
                        x.flags |= SDF_FLOW_LABEL;
                        x.flow_label = fl;
                    }
                    out.push(x);
                }
            }
        }
    }
    if !p.pdi.sdf_filters.is_empty() && out.is_empty() {
        return Err(pdr_err(
            id,
            t::SDF_FILTER,
            "SDF filters that can match no packet of the UE's address families",
        ));
    }
    if out.len() > MAX_SDF_PER_PDR as usize {
        return Err(pdr_err(
            id,
            t::SDF_FILTER,
            format!(
                "{} datapath filters (after port-range expansion), at most {MAX_SDF_PER_PDR}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfcp::ie::{
        addr::UeIpAddress,
        grouped::{ForwardingParameters, Pdi},
        ohc::OuterHeaderCreation,
        simple::{
            BitRate, DestinationInterface, FarId, GateStatus, PdrId, Precedence, QerId,
            SourceInterface,
        },
    };

    const UE4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 9);
    const UE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1000, 7, 0, 0, 0, 0);
    const LOCAL: Local = Local {
        gtpu_v4: Some(Ipv4Addr::new(192, 0, 2, 2)),
        gtpu_v6: None,
        mbr_burst_ms: 100,
        srv6_n9: [N9Srv6::NONE; N9_SRV6_MAX],
    };

    fn pdr(id: u16, uplink: bool, flows: &[&str]) -> CreatePdr {
        CreatePdr {
            pdr_id: PdrId(id),
            precedence: Precedence(10),
            pdi: Pdi {
                source_interface: SourceInterface(if uplink { 0 } else { 1 }),
                local_fteid: uplink.then_some(FTeid::Assigned {
                    teid: 0x8000_0001,
                    ipv4: Some(Ipv4Addr::new(192, 0, 2, 2)),
                    ipv6: None,
                }),
                ue_ip_addresses: vec![UeIpAddress {
                    ipv4: Some(UE4),
                    ipv6: Some(UE6),
                    destination: !uplink,
                    ..Default::default()
                }],
                sdf_filters: flows
                    .iter()
                    .map(|f| pfcp::ie::sdf::SdfFilter {
                        flow_description: Some(f.to_string()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            far_id: Some(FarId(1)),
            ..Default::default()
        }
    }

    fn rules(pdrs: Vec<CreatePdr>) -> Rules {
        let mut r = Rules::default();
        for p in pdrs {
            r.pdrs.insert(p.pdr_id.0, Box::new(p));
        }
        r.fars.insert(
            1,
            Box::new(CreateFar {
                far_id: FarId(1),
                apply_action: ApplyAction::empty().with(ApplyAction::FORW),
                forwarding_parameters: Some(ForwardingParameters {
                    destination_interface: DestinationInterface(1),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        );
        r
    }

    fn v4(b: &[u8; 16]) -> Ipv4Addr {
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// `[[srv6.n9]]` marks a GTP-U/IPv4 FAR to a covered peer (and Network Instance, as
    /// given or DNS-label encoded) `FAR_SRV6`; other peers, other Network Instances and IPv6
    /// tunnels stay GTP-U.
    #[test]
    fn n9_fars_to_covered_peers_go_over_srv6() {
        let mut local = LOCAL;
        let mut ni = [0u8; 32];
        ni[..8].copy_from_slice(b"n9.mnc01");
        local.srv6_n9[0] = N9Srv6 {
            used: true,
            net: u32::from(Ipv4Addr::new(203, 0, 113, 0)),
            len: 24,
            ni,
            ni_len: 8,
        };
        let over = |local: &Local, peer: Ipv4Addr, ni: Option<&[u8]>| {
            let mut f = upf_lb_testkit::smf::far_to_gnb(1, 0x77, peer);
            if let Some(fp) = f.forwarding_parameters.as_mut() {
                fp.network_instance = ni.map(|b| pfcp::ie::simple::Bytes(b.to_vec()));
            }
            far(&f, local).unwrap().flags & bpf_abi::gtp::FAR_SRV6 != 0
        };
        let with_ni = |peer, ni| over(&local, peer, ni);
        let peer = Ipv4Addr::new(203, 0, 113, 10);
        assert!(with_ni(peer, Some(b"n9.mnc01")), "as configured");
        assert!(with_ni(peer, Some(b"\x02n9\x05mnc01")), "DNS label format");
        assert!(
            !with_ni(peer, Some(b"internet")),
            "another Network Instance"
        );
        assert!(!with_ni(peer, None), "no Network Instance");
        assert!(
            !with_ni(Ipv4Addr::new(198, 51, 100, 10), Some(b"n9.mnc01")),
            "another peer"
        );
        let mut any = local;
        any.srv6_n9[0].ni_len = 0;
        assert!(over(&any, peer, None), "any Network Instance");
        assert!(
            far(&upf_lb_testkit::smf::far_to_gnb(1, 0x77, peer), &LOCAL)
                .unwrap()
                .flags
                & bpf_abi::gtp::FAR_SRV6
                == 0,
            "no [[srv6.n9]]: GTP-U"
        );
    }

    #[test]
    fn flow_descriptions_are_turned_around_for_uplink_pdrs() {
        let flow = "permit out 17 from 203.0.113.10 53 to assigned 1000-2000";
        let s = rules(vec![pdr(1, true, &[flow]), pdr(2, false, &[flow])])
            .to_spec(3, &LOCAL)
            .unwrap();
        let ul = &s
            .pdrs
            .iter()
            .find(|(k, _)| matches!(k, Key::UlTeid(0x8000_0001)))
            .unwrap()
            .1;
        let f = &ul.sdfs[0];
        assert_eq!(
            (f.proto, v4(&f.src), f.sport, v4(&f.dst), f.dport),
            (
                17,
                UE4,
                [1000, 2000],
                Ipv4Addr::new(203, 0, 113, 10),
                [53, 53]
            )
        );
        let dl = &s
            .pdrs
            .iter()
            .find(|(k, _)| matches!(k, Key::DlUe4(_)))
            .unwrap()
            .1;
        let f = &dl.sdfs[0];
        assert_eq!(
            (v4(&f.src), f.sport, v4(&f.dst), f.dport),
            (Ipv4Addr::new(203, 0, 113, 10), [53, 53], UE4, [1000, 2000])
        );
        // The downlink PDR is found by the UE's IPv4 address and its IPv6 /64.
        let dl_keys: Vec<Key> = s
            .pdrs
            .iter()
            .filter(|(_, p)| p.pdr_id == 2)
            .map(|(k, _)| *k)
            .collect();
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&UE6.octets()[..8]);
        assert_eq!(dl_keys, [Key::DlUe4(UE4), Key::DlUe6(prefix)]);
        // IPv6 packets match no IPv4 filter: the flow names an IPv4 address.
        assert!(
            dl.sdfs
                .iter()
                .all(|f| f.flags & bpf_abi::gtp::SDF_IPV6 == 0)
        );
    }

    #[test]
    fn port_lists_and_families_expand_into_several_filters() {
        let s = rules(vec![pdr(
            1,
            true,
            &["permit out 6 from any to assigned 80,443"],
        )])
        .to_spec(0, &LOCAL)
        .unwrap();
        // Two ports x two families (the UE has both; `any` names none).
        assert_eq!(s.pdrs[0].1.sdfs.len(), 4);
        let too_many = rules(vec![pdr(
            1,
            true,
            &["permit out 6 from any 1,2,3 to assigned 4,5,6"],
        )])
        .to_spec(0, &LOCAL)
        .unwrap_err();
        assert_eq!(too_many.offending_ie, Some(t::SDF_FILTER));
        assert_eq!(too_many.cause, Cause::RuleCreationModificationFailure);
    }

    #[test]
    fn what_the_datapath_cannot_do_is_refused_with_the_ie_at_fault() {
        let mut r = rules(vec![pdr(1, true, &[])]);
        r.pdrs.get_mut(&1).unwrap().far_id = Some(FarId(7));
        let e = r.to_spec(0, &LOCAL).unwrap_err();
        assert_eq!(
            (e.offending_ie, e.failed_rule.map(|f| f.id)),
            (Some(t::FAR_ID), Some(1))
        );

        let mut r = rules(vec![pdr(1, true, &[])]);
        r.fars.get_mut(&1).unwrap().forwarding_parameters = Some(ForwardingParameters {
            destination_interface: DestinationInterface(0),
            outer_header_creation: Some(OuterHeaderCreation {
                description: creation::GTPU_UDP_IPV6,
                teid: Some(5),
                ipv4: None,
                ipv6: Some(Ipv6Addr::LOCALHOST),
                port: None,
                c_tag: None,
                s_tag: None,
                extra: vec![],
            }),
            ..Default::default()
        });
        let e = r.to_spec(0, &LOCAL).unwrap_err();
        assert_eq!(
            e.offending_ie,
            Some(t::OUTER_HEADER_CREATION),
            "no local IPv6 N3 address"
        );

        let mut r = rules(vec![pdr(1, true, &[])]);
        r.pdrs.get_mut(&1).unwrap().pdi.local_fteid = None;
        r.pdrs.get_mut(&1).unwrap().pdi.ue_ip_addresses.clear();
        assert_eq!(r.to_spec(0, &LOCAL).unwrap_err().offending_ie, Some(t::PDI));
    }

    #[test]
    fn a_qer_becomes_gates_bit_rates_and_a_burst() {
        let mut r = rules(vec![pdr(1, true, &[])]);
        r.pdrs.get_mut(&1).unwrap().qer_ids = vec![QerId(4)];
        r.qers.insert(
            4,
            Box::new(CreateQer {
                qer_id: QerId(4),
                gate_status: GateStatus::new(true, false),
                mbr: Some(BitRate {
                    ul_kbps: 8_000,
                    dl_kbps: 1,
                }),
                qfi: Some(pfcp::ie::simple::Qfi(5)),
                ..Default::default()
            }),
        );
        let s = r.to_spec(0, &LOCAL).unwrap();
        let q = s.qers[0].1;
        assert_eq!(q.gate, GATE_DL_CLOSED);
        assert_eq!((q.mbr_ul, q.mbr_dl), (8_000_000, 1000));
        // 100 ms of 1 MB/s; the downlink's 12.5 bytes are raised to two full frames.
        assert_eq!((q.burst_ul, q.burst_dl), (100_000, MIN_BURST_BYTES));
        assert_eq!((q.qfi, q.ppi), (5, PPI_NONE));
        assert_eq!(s.pdrs[0].1.qer_id, Some(4));
    }
}

impl Rules {
    /// The rules as PFCP IEs (Create PDR, FAR, URR, QER, BAR), for the session store: the
    /// codec that reads them off the wire keeps them on disk.
    pub fn encode(&self) -> Vec<u8> {
        use pfcp::wire::{Ie, Writer};
        let mut len = 0;
        len += self.pdrs.values().map(|x| 4 + x.value_len()).sum::<usize>();
        len += self.fars.values().map(|x| 4 + x.value_len()).sum::<usize>();
        len += self.urrs.values().map(|x| 4 + x.value_len()).sum::<usize>();
        len += self.qers.values().map(|x| 4 + x.value_len()).sum::<usize>();
        len += self.bar.as_ref().map_or(0, |x| 4 + x.value_len());
        let mut buf = vec![0u8; len];
        let mut w = Writer::new(&mut buf);
        for x in self.pdrs.values() {
            w.ie(t::CREATE_PDR, x.as_ref());
        }
        for x in self.fars.values() {
            w.ie(t::CREATE_FAR, x.as_ref());
        }
        for x in self.urrs.values() {
            w.ie(t::CREATE_URR, x.as_ref());
        }
        for x in self.qers.values() {
            w.ie(t::CREATE_QER, x.as_ref());
        }
        if let Some(b) = &self.bar {
            w.ie(t::CREATE_BAR, b);
        }
        buf
    }

    /// Rules from [`Rules::encode`]'s bytes.
    pub fn decode(b: &[u8]) -> Result<Rules, pfcp::Error> {
        use pfcp::wire::{Ie, IeIter};
        let mut r = Rules::default();
        for ie in IeIter::new(b, 0) {
            let ie = ie?;
            let (v, at) = (ie.value, ie.value_offset);
            match ie.ty {
                t::CREATE_PDR => {
                    let x = CreatePdr::decode(v, at)?;
                    r.pdrs.insert(x.pdr_id.0, Box::new(x));
                }
                t::CREATE_FAR => {
                    let x = CreateFar::decode(v, at)?;
                    r.fars.insert(x.far_id.0, Box::new(x));
                }
                t::CREATE_URR => {
                    let x = CreateUrr::decode(v, at)?;
                    r.urrs.insert(x.urr_id.0, Box::new(x));
                }
                t::CREATE_QER => {
                    let x = CreateQer::decode(v, at)?;
                    r.qers.insert(x.qer_id.0, Box::new(x));
                }
                t::CREATE_BAR => r.bar = Some(CreateBar::decode(v, at)?),
                _ => {}
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    #[test]
    fn rules_survive_their_encoding() {
        let req = upf_lb_testkit::smf::session_request(
            pfcp::ie::addr::NodeId::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            &upf_lb_testkit::smf::SessionPlan {
                cp_seid: 1,
                cp_addr: Ipv4Addr::new(192, 0, 2, 1),
                ue: upf_lb_testkit::smf::Ue::V4(Ipv4Addr::new(198, 18, 0, 7)),
                gnb_teid: 5,
                gnb: Ipv4Addr::new(192, 0, 2, 1),
                qfi: 9,
                mbr_kbps: Some((1, 2)),
                network_instance: "internet",
                ul_filter: Some("permit out 17 from any to assigned"),
            },
        );
        let mut r = Rules::default();
        for p in req.create_pdrs {
            r.pdrs.insert(p.pdr_id.0, Box::new(p));
        }
        for f in req.create_fars {
            r.fars.insert(f.far_id.0, Box::new(f));
        }
        for q in req.create_qers {
            r.qers.insert(q.qer_id.0, Box::new(q));
        }
        for u in req.create_urrs {
            r.urrs.insert(u.urr_id.0, Box::new(u));
        }
        assert_eq!(Rules::decode(&r.encode()).unwrap(), r);
    }
}
