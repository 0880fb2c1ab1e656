//! Session procedures (TS 29.244 6.3, 7.5): Establishment, Modification (create, update and
//! remove of PDRs, FARs, QERs, URRs and the BAR; Query URR) and Deletion. Each request is
//! applied to a copy of the session's rules; only a rule set that translates whole is handed
//! to the southbound, which switches the datapath make-before-break or leaves it untouched.
//! F-TEID and UE IP Address CHOOSE are resolved here (FTUP, UEIP), and what a failed request
//! allocated is given back.

use super::{N4, usage::UrrState};
use crate::vec_map::{VecMap, VecSet};
use crate::{
    southbound::{Installed, Key, SouthboundError},
    state::{RuleError, Rules},
};
use bpf_abi::gtp::UrrCounters;
use pfcp::{
    Body, Cause, Message,
    ie::{
        addr::{FSeid, FTeid, NodeId, UeIpAddress, decode_labels},
        grouped::{CreatePdr, CreatedPdr, ForwardingParameters, UsageReport},
        simple::{CauseIe, OffendingIe, PfcpSmReqFlags, UsageReportTrigger},
        types as t,
        usage::{FailedRuleId, rule_type},
    },
    message as msg, validate,
};
use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Instant,
};

/// A PFCP session.
#[derive(Debug)]
pub(super) struct Session {
    /// The CP function's F-SEID.
    pub cp: FSeid,
    /// The association it belongs to.
    pub node: NodeId,
    /// Its rules.
    pub rules: Rules,
    /// What the datapath holds of it (taken out while it is being replaced).
    pub installed: Option<Installed>,
    /// Session index in the datapath (events).
    pub index: u32,
    /// TEIDs it holds from our range.
    pub teids: VecSet<u32>,
    /// F-TEIDs chosen, by CHOOSE ID.
    pub chosen: VecMap<u8, FTeid>,
    /// UE addresses it holds from our pools.
    pub ue: VecSet<IpAddr>,
    /// Datapath keys it owns.
    pub keys: Vec<Key>,
    /// Measurement state per URR.
    pub urrs: VecMap<u32, UrrState>,
    /// Downlink packets held for it.
    pub buffer: super::buffering::Buffer,
}

/// What a request allocated, given back if it fails.
#[derive(Default)]
struct Claims {
    teids: Vec<u32>,
    ue: Vec<IpAddr>,
}

/// An Establishment Response that refuses.
pub(super) fn establishment_error(
    node_id: NodeId,
    cause: Cause,
    offending: Option<u16>,
    failed: Option<FailedRuleId>,
) -> msg::SessionEstablishmentResponse {
    msg::SessionEstablishmentResponse {
        node_id,
        cause: CauseIe::from(cause),
        offending_ie: offending.map(OffendingIe),
        up_fseid: None,
        created_pdrs: vec![],
        load_control_information: None,
        overload_control_information: None,
        fq_csids: vec![],
        failed_rule_id: failed,
        created_traffic_endpoints: vec![],
        unknown: vec![],
    }
}

fn southbound_error(e: SouthboundError) -> RuleError {
    match e {
        SouthboundError::Full(map) => RuleError::new(
            Cause::NoResourcesAvailable,
            None,
            format!("datapath map {map} is full"),
        ),
        SouthboundError::UnknownRule { pdr_id, what, id } => RuleError::rule(
            rule_type::PDR,
            u32::from(pdr_id),
            match what {
                "QER" => t::QER_ID,
                "URR" => t::URR_ID,
                _ => t::FAR_ID,
            },
            format!("PDR {pdr_id} refers to {what} {id}, which does not exist"),
        ),
        SouthboundError::Limit(s) => {
            RuleError::new(Cause::RuleCreationModificationFailure, None, s)
        }
        e @ SouthboundError::Map { .. } => {
            RuleError::new(Cause::SystemFailure, None, e.to_string())
        }
    }
}

fn codec_error(e: pfcp::Error) -> RuleError {
    RuleError::new(e.cause(), e.offending_ie(), e.to_string())
}

/// A Network Instance as text: DNS labels (TS 29.244 8.2.4 encodes it like an APN) or plain.
fn network_instance(b: &[u8]) -> String {
    decode_labels(b, 0).unwrap_or_else(|_| String::from_utf8_lossy(b).into_owned())
}

impl N4 {
    fn failed(&mut self, claims: Claims) {
        for t in claims.teids {
            self.teids.release(u128::from(t));
        }
        for a in claims.ue {
            for p in &mut self.pools {
                p.release(a);
            }
        }
    }

    /// Resolves F-TEID and UE IP Address CHOOSE in `p` (TS 29.244 5.5.3, 5.21); takes TEIDs of
    /// our range that the SMF chose. Returns the Created PDR to answer with, if anything was
    /// chosen.
    fn resolve(
        &mut self,
        p: &mut CreatePdr,
        chosen: &mut VecMap<u8, FTeid>,
        ue: &mut (Option<Ipv4Addr>, Option<Ipv6Addr>),
        claims: &mut Claims,
    ) -> Result<Option<CreatedPdr>, RuleError> {
        let id = u32::from(p.pdr_id.0);
        let mut created = CreatedPdr {
            pdr_id: p.pdr_id,
            ..Default::default()
        };
        match p.pdi.local_fteid {
            Some(FTeid::Choose { v4, v6, choose_id }) => {
                let f = match choose_id.and_then(|c| chosen.get(&c)) {
                    Some(f) => *f,
                    None => {
                        let ipv4 = if v4 { self.cfg.n3.ipv4 } else { None };
                        let ipv6 = if v6 { self.cfg.n3.ipv6 } else { None };
                        if ipv4.is_none() && ipv6.is_none() {
                            return Err(RuleError::rule(
                                rule_type::PDR,
                                id,
                                t::F_TEID,
                                "F-TEID CHOOSE of an address family N3 does not have",
                            ));
                        }
                        let Some(teid) = self.teids.alloc() else {
                            return Err(RuleError::new(
                                Cause::NoResourcesAvailable,
                                Some(t::F_TEID),
                                "no TEID left in the F-TEID range",
                            ));
                        };
                        let teid = teid as u32;
                        claims.teids.push(teid);
                        let f = FTeid::Assigned { teid, ipv4, ipv6 };
                        if let Some(c) = choose_id {
                            chosen.insert(c, f);
                        }
                        f
                    }
                };
                p.pdi.local_fteid = Some(f);
                created.local_fteid = Some(f);
            }
            Some(FTeid::Assigned { teid, .. }) => {
                if teid == 0 {
                    return Err(RuleError::rule(
                        rule_type::PDR,
                        id,
                        t::F_TEID,
                        "TEID 0 is not a tunnel (TS 29.281 5.1)",
                    ));
                }
                if self.teids.contains(u128::from(teid)) && !claims.teids.contains(&teid) {
                    // A TEID of our range that the SMF chose: taken, unless in use.
                    if !self.teids.take(u128::from(teid)) {
                        // In use: by this session (fine, keys are checked later) or another.
                    } else {
                        claims.teids.push(teid);
                    }
                }
            }
            None => {}
        }
        let ni = p
            .pdi
            .network_instance
            .as_ref()
            .map(|b| network_instance(&b.0));
        for u in &mut p.pdi.ue_ip_addresses {
            if !(u.choose_v4 || u.choose_v6) {
                // An address the SMF chose: if it is in one of our pools, it is taken there,
                // so that CHOOSE never hands it out again (a collision with another session is
                // caught by the key check).
                for a in [u.ipv4.map(IpAddr::V4), u.ipv6.map(IpAddr::V6)]
                    .into_iter()
                    .flatten()
                {
                    if let Some(pool) = self.pools.iter_mut().find(|pl| pl.contains(a))
                        && pool.take(a)
                    {
                        claims.ue.push(a);
                    }
                }
                continue;
            }
            for v6 in [false, true] {
                let want = if v6 { u.choose_v6 } else { u.choose_v4 };
                if !want {
                    continue;
                }
                let have = if v6 {
                    ue.1.map(IpAddr::V6)
                } else {
                    ue.0.map(IpAddr::V4)
                };
                let a = match have {
                    Some(a) => a,
                    None => {
                        let pool = self.pools.iter_mut().find(|pl| {
                            pl.is_v6() == v6
                                && ni.as_ref().is_none_or(|n| *n == pl.network_instance)
                        });
                        let Some(pool) = pool else {
                            return Err(RuleError::rule(
                                rule_type::PDR,
                                id,
                                t::UE_IP_ADDRESS,
                                format!(
                                    "no {} UE IP pool for network instance {:?}",
                                    if v6 { "IPv6" } else { "IPv4" },
                                    ni.as_deref().unwrap_or("(any)")
                                ),
                            ));
                        };
                        let Some(a) = pool.alloc() else {
                            return Err(RuleError::new(
                                Cause::AllDynamicAddressesAreOccupied,
                                Some(t::UE_IP_ADDRESS),
                                "UE IP pool exhausted",
                            ));
                        };
                        claims.ue.push(a);
                        match a {
                            IpAddr::V4(v) => ue.0 = Some(v),
                            IpAddr::V6(v) => ue.1 = Some(v),
                        }
                        a
                    }
                };
                match a {
                    IpAddr::V4(v) => u.ipv4 = Some(v),
                    IpAddr::V6(v) => {
                        u.ipv6 = Some(v);
                        u.ipv6_prefix_length = Some(64);
                    }
                }
            }
            u.choose_v4 = false;
            u.choose_v6 = false;
            created.ue_ip_addresses.push(UeIpAddress {
                ipv4: u.ipv4,
                ipv6: u.ipv6,
                ipv6_prefix_length: u.ipv6_prefix_length,
                ..Default::default()
            });
        }
        Ok(
            (created.local_fteid.is_some() || !created.ue_ip_addresses.is_empty())
                .then_some(created),
        )
    }

    /// Checks that no other session owns one of `keys`.
    fn check_keys(
        &self,
        seid: u64,
        spec: &crate::southbound::SessionSpec,
    ) -> Result<(), RuleError> {
        for (k, p) in &spec.pdrs {
            if self.keys.get(k).is_some_and(|owner| *owner != seid) {
                let ie = match k {
                    Key::UlTeid(_) => t::F_TEID,
                    _ => t::UE_IP_ADDRESS,
                };
                return Err(RuleError::rule(
                    rule_type::PDR,
                    u32::from(p.pdr_id),
                    ie,
                    format!("{k:?} belongs to another session"),
                ));
            }
        }
        Ok(())
    }

    fn up_fseid(&self, seid: u64, cp: &FSeid) -> FSeid {
        let (want4, want6) = match (cp.ipv4.is_some(), cp.ipv6.is_some()) {
            (false, false) => (true, true),
            w => w,
        };
        FSeid {
            seid,
            ipv4: self.n4_v4.filter(|_| want4 || self.n4_v6.is_none()),
            ipv6: self.n4_v6.filter(|_| want6 || self.n4_v4.is_none()),
        }
    }

    pub(super) fn session_establishment(
        &mut self,
        from: SocketAddr,
        r: msg::SessionEstablishmentRequest,
        seq: u32,
        now: Instant,
    ) -> Message {
        let cp = r.cp_fseid;
        let node = r.node_id.clone();
        let refuse = |n4: &N4, e: RuleError| {
            tracing::info!(%from, cause = ?e.cause, ie = ?e.offending_ie, "Session Establishment refused: {}", e.why);
            Message::new(
                Body::SessionEstablishmentResponse(establishment_error(
                    n4.node_id(),
                    e.cause,
                    e.offending_ie,
                    e.failed_rule,
                )),
                Some(cp.seid),
                seq,
            )
        };
        if !self.assocs.contains_key(&node) {
            return refuse(
                self,
                RuleError::new(
                    Cause::NoEstablishedPfcpAssociation,
                    Some(t::NODE_ID),
                    "no PFCP association with this Node ID",
                ),
            );
        }
        if let Err(e) = {
            let t = self.trace.start();
            let v = validate::session_establishment(&r);
            self.trace.end(t, "validate", None);
            v
        } {
            return refuse(self, codec_error(e));
        }
        // The same CP F-SEID again (not a retransmission: those are answered from the cache):
        // the SMF lost the session, so the old one goes and the new one is set up.
        if let Some(&old) = self.by_cp.get(&(node.clone(), cp.seid)) {
            tracing::warn!(%from, cp_seid = cp.seid, "Establishment for an existing CP F-SEID: the old session is deleted");
            self.delete_session(old);
        }
        if self.sessions.len() >= self.cfg.max_sessions as usize {
            return refuse(
                self,
                RuleError::new(
                    Cause::NoResourcesAvailable,
                    None,
                    "maximum sessions reached",
                ),
            );
        }
        let Some(index) = self.indices.alloc() else {
            return refuse(
                self,
                RuleError::new(Cause::NoResourcesAvailable, None, "no session index left"),
            );
        };
        let index = index as u32;
        let seid = self.next_seid;
        let mut claims = Claims::default();
        let mut chosen = VecMap::new();
        let mut ue = (None, None);
        let result = (|| {
            let mut rules = Rules::default();
            let mut created = Vec::new();
            for mut p in r.create_pdrs {
                if let Some(c) = self.resolve(&mut p, &mut chosen, &mut ue, &mut claims)? {
                    created.push(c);
                }
                rules.pdrs.insert(p.pdr_id.0, Box::new(p));
            }
            rules.fars = r
                .create_fars
                .into_iter()
                .map(|f| (f.far_id.0, Box::new(f)))
                .collect();
            rules.qers = r
                .create_qers
                .into_iter()
                .map(|q| (q.qer_id.0, Box::new(q)))
                .collect();
            rules.urrs = r
                .create_urrs
                .into_iter()
                .map(|u| (u.urr_id.0, Box::new(u)))
                .collect();
            rules.bar = r.create_bar;
            let states = fresh_states(&rules, now);
            let spec = spec_for(&rules, &states, index, &self.local)?;
            self.check_keys(seid, &spec)?;
            let t = self.trace.start();
            let inst = self.dp.install(&spec);
            self.trace.end(t, "southbound", Some("install"));
            let inst = inst.map_err(southbound_error)?;
            let keys: Vec<Key> = spec.pdrs.iter().map(|(k, _)| *k).collect();
            Ok::<_, RuleError>((rules, created, inst, keys))
        })();
        let (rules, created, inst, keys) = match result {
            Ok(v) => v,
            Err(e) => {
                self.failed(claims);
                self.indices.release(u128::from(index));
                return refuse(self, e);
            }
        };
        self.next_seid += 1;
        for k in &keys {
            self.keys.insert(*k, seid);
        }
        let urrs = fresh_states(&rules, now);
        self.schedule(seid, &rules, &urrs);
        self.by_index.insert(index, seid);
        let session = Session {
            cp,
            node,
            rules,
            installed: Some(inst),
            index,
            teids: claims.teids.into_iter().collect(),
            chosen,
            ue: claims.ue.into_iter().collect(),
            keys,
            urrs,
            buffer: Default::default(),
        };
        tracing::debug!(%from, up_seid = seid, cp_seid = cp.seid, pdrs = session.rules.pdrs.len(), "session established");
        self.by_cp.insert((session.node.clone(), cp.seid), seid);
        self.sessions.insert(seid, Box::new(session));
        self.touch(seid);
        self.meta_dirty = true;
        self.api_event("session_up", seid, 0, 0);
        Message::new(
            Body::SessionEstablishmentResponse(msg::SessionEstablishmentResponse {
                node_id: self.node_id(),
                cause: CauseIe::from(Cause::RequestAccepted),
                offending_ie: None,
                up_fseid: Some(self.up_fseid(seid, &cp)),
                created_pdrs: created,
                load_control_information: None,
                overload_control_information: None,
                fq_csids: vec![],
                failed_rule_id: None,
                created_traffic_endpoints: vec![],
                unknown: vec![],
            }),
            Some(cp.seid),
            seq,
        )
    }

    /// Takes a session out of the datapath and gives back what it held.
    pub(super) fn delete_session(&mut self, seid: u64) -> Option<Session> {
        self.forget(seid);
        let mut s = self.sessions.remove(&seid)?;
        self.api_event("session_down", seid, 0, 0);
        if self.by_cp.get(&(s.node.clone(), s.cp.seid)) == Some(&seid) {
            self.by_cp.remove(&(s.node.clone(), s.cp.seid));
        }
        if let Some(inst) = s.installed.take() {
            self.dp.remove(inst);
        }
        for k in &s.keys {
            if self.keys.get(k) == Some(&seid) {
                self.keys.remove(k);
            }
        }
        for t in &s.teids {
            self.teids.release(u128::from(*t));
        }
        for a in &s.ue {
            for p in &mut self.pools {
                p.release(*a);
            }
        }
        self.indices.release(u128::from(s.index));
        self.by_index.remove(&s.index);
        self.buffered_total -= s.buffer.frames.len();
        Some(*s)
    }

    pub(super) fn session_deletion(
        &mut self,
        from: SocketAddr,
        seid: u64,
        seq: u32,
        now: Instant,
    ) -> Message {
        let Some(cp_seid) = self.sessions.get(&seid).map(|s| s.cp.seid) else {
            return Message::new(
                Body::SessionDeletionResponse(msg::SessionDeletionResponse {
                    cause: CauseIe::from(Cause::SessionContextNotFound),
                    ..Default::default()
                }),
                Some(0),
                seq,
            );
        };
        let urrs: Vec<u32> = self.sessions[&seid].rules.urrs.keys().copied().collect();
        let reports = urrs
            .into_iter()
            .filter_map(|u| self.report_usage(seid, u, &[UsageReportTrigger::TERMR], now))
            .collect();
        self.delete_session(seid);
        tracing::debug!(%from, up_seid = seid, "session deleted");
        Message::new(
            Body::SessionDeletionResponse(msg::SessionDeletionResponse {
                cause: CauseIe::from(Cause::RequestAccepted),
                usage_reports: reports,
                ..Default::default()
            }),
            Some(cp_seid),
            seq,
        )
    }

    pub(super) fn session_modification(
        &mut self,
        from: SocketAddr,
        seid: u64,
        r: msg::SessionModificationRequest,
        seq: u32,
        now: Instant,
    ) -> Message {
        let Some(cp_seid) = self.sessions.get(&seid).map(|s| s.cp.seid) else {
            return Message::new(
                Body::SessionModificationResponse(msg::SessionModificationResponse {
                    cause: CauseIe::from(Cause::SessionContextNotFound),
                    ..Default::default()
                }),
                Some(0),
                seq,
            );
        };
        let refuse = |e: RuleError| {
            tracing::info!(%from, up_seid = seid, cause = ?e.cause, ie = ?e.offending_ie, "Session Modification refused: {}", e.why);
            Message::new(
                Body::SessionModificationResponse(msg::SessionModificationResponse {
                    cause: CauseIe::from(e.cause),
                    offending_ie: e.offending_ie.map(OffendingIe),
                    failed_rule_id: e.failed_rule,
                    ..Default::default()
                }),
                Some(cp_seid),
                seq,
            )
        };
        if let Err(e) = {
            let t = self.trace.start();
            let v = validate::session_modification(&r);
            self.trace.end(t, "validate", None);
            v
        } {
            return refuse(codec_error(e));
        }
        let s = &self.sessions[&seid];
        let mut states = s.urrs.clone();
        let mut rules = s.rules.clone();
        let mut chosen = s.chosen.clone();
        let mut ue = rules.ue_addresses();
        let index = s.index;
        let mut claims = Claims::default();
        let mut removed_urrs = Vec::new();
        // FARs switched with SNDEM: their old tunnel gets an End Marker once the switch is in.
        let mut end_markers: Vec<(u32, pfcp::ie::ohc::OuterHeaderCreation)> = Vec::new();
        let result = (|| {
            let rule = |kind, id: u32, ie, why: &str| Err(RuleError::rule(kind, id, ie, why));
            // Removals first, then creations, then updates (TS 29.244 7.5.4 lists them in
            // this order; an ID removed and created again in one request is a new rule).
            for x in &r.remove_pdrs {
                if rules.pdrs.remove(&x.pdr_id.0).is_none() {
                    return rule(
                        rule_type::PDR,
                        u32::from(x.pdr_id.0),
                        t::REMOVE_PDR,
                        "no such PDR",
                    );
                }
            }
            for x in &r.remove_fars {
                if rules.fars.remove(&x.far_id.0).is_none() {
                    return rule(rule_type::FAR, x.far_id.0, t::REMOVE_FAR, "no such FAR");
                }
            }
            for x in &r.remove_qers {
                if rules.qers.remove(&x.qer_id.0).is_none() {
                    return rule(rule_type::QER, x.qer_id.0, t::REMOVE_QER, "no such QER");
                }
            }
            for x in &r.remove_urrs {
                if rules.urrs.remove(&x.urr_id.0).is_none() {
                    return rule(rule_type::URR, x.urr_id.0, t::REMOVE_URR, "no such URR");
                }
                removed_urrs.push(x.urr_id.0);
            }
            if let Some(b) = &r.remove_bar
                && rules.bar.as_ref().is_some_and(|x| x.bar_id == b.bar_id)
            {
                rules.bar = None;
            }
            let mut created = Vec::new();
            for p in &r.create_pdrs {
                if rules.pdrs.contains_key(&p.pdr_id.0) {
                    return rule(
                        rule_type::PDR,
                        u32::from(p.pdr_id.0),
                        t::CREATE_PDR,
                        "PDR ID exists",
                    );
                }
                let mut p = p.clone();
                if let Some(c) = self.resolve(&mut p, &mut chosen, &mut ue, &mut claims)? {
                    created.push(c);
                }
                rules.pdrs.insert(p.pdr_id.0, Box::new(p));
            }
            for f in &r.create_fars {
                if rules.fars.insert(f.far_id.0, Box::new(f.clone())).is_some() {
                    return rule(rule_type::FAR, f.far_id.0, t::CREATE_FAR, "FAR ID exists");
                }
            }
            for q in &r.create_qers {
                if rules.qers.insert(q.qer_id.0, Box::new(q.clone())).is_some() {
                    return rule(rule_type::QER, q.qer_id.0, t::CREATE_QER, "QER ID exists");
                }
            }
            for u in &r.create_urrs {
                if rules.urrs.insert(u.urr_id.0, Box::new(u.clone())).is_some() {
                    return rule(rule_type::URR, u.urr_id.0, t::CREATE_URR, "URR ID exists");
                }
            }
            if let Some(b) = &r.create_bar {
                rules.bar = Some(b.clone());
            }
            for u in &r.update_pdrs {
                let id = u.pdr_id.0;
                let Some(p) = rules.pdrs.get(&id) else {
                    return rule(rule_type::PDR, u32::from(id), t::UPDATE_PDR, "no such PDR");
                };
                let mut p = p.clone();
                if let Some(v) = u.outer_header_removal {
                    p.outer_header_removal = Some(v);
                }
                if let Some(v) = u.precedence {
                    p.precedence = v;
                }
                if let Some(v) = &u.pdi {
                    p.pdi = v.clone();
                    if let Some(c) = self.resolve(&mut p, &mut chosen, &mut ue, &mut claims)? {
                        created.push(c);
                    }
                }
                if let Some(v) = u.far_id {
                    p.far_id = Some(v);
                }
                if !u.urr_ids.is_empty() {
                    p.urr_ids = u.urr_ids.clone();
                }
                if !u.qer_ids.is_empty() {
                    p.qer_ids = u.qer_ids.clone();
                }
                rules.pdrs.insert(id, p);
            }
            for u in &r.update_fars {
                let id = u.far_id.0;
                let Some(f) = rules.fars.get_mut(&id) else {
                    return rule(rule_type::FAR, id, t::UPDATE_FAR, "no such FAR");
                };
                if let Some(a) = u.apply_action {
                    f.apply_action = a;
                }
                let old_ohc = f
                    .forwarding_parameters
                    .as_ref()
                    .and_then(|p| p.outer_header_creation.clone());
                if let Some(up) = &u.update_forwarding_parameters {
                    let fp = f
                        .forwarding_parameters
                        .get_or_insert_with(|| ForwardingParameters {
                            destination_interface: up.destination_interface.unwrap_or_default(),
                            ..Default::default()
                        });
                    if let Some(v) = up.destination_interface {
                        fp.destination_interface = v;
                    }
                    if let Some(v) = &up.network_instance {
                        fp.network_instance = Some(v.clone());
                    }
                    if let Some(v) = &up.outer_header_creation {
                        fp.outer_header_creation = Some(v.clone());
                    }
                    if let Some(v) = up.transport_level_marking {
                        fp.transport_level_marking = Some(v);
                    }
                    if let Some(v) = &up.forwarding_policy {
                        fp.forwarding_policy = Some(v.clone());
                    }
                    if up
                        .pfcpsmreq_flags
                        .is_some_and(|fl| fl.has(PfcpSmReqFlags::SNDEM))
                        && let Some(old) = &old_ohc
                        && up.outer_header_creation.as_ref().is_some_and(|new| {
                            (new.teid, new.ipv4, new.ipv6) != (old.teid, old.ipv4, old.ipv6)
                        })
                    {
                        end_markers.push((id, old.clone()));
                    }
                }
                if let Some(b) = u.bar_id {
                    f.bar_id = Some(b);
                }
                if f.apply_action.has(pfcp::ie::simple::ApplyAction::FORW)
                    && f.forwarding_parameters.is_none()
                {
                    return rule(
                        rule_type::FAR,
                        id,
                        t::FORWARDING_PARAMETERS,
                        "FORW without Forwarding Parameters",
                    );
                }
            }
            for u in &r.update_qers {
                let id = u.qer_id.0;
                let Some(q) = rules.qers.get_mut(&id) else {
                    return rule(rule_type::QER, id, t::UPDATE_QER, "no such QER");
                };
                if let Some(v) = u.gate_status {
                    q.gate_status = v;
                }
                if let Some(v) = u.mbr {
                    q.mbr = Some(v);
                }
                if let Some(v) = u.gbr {
                    q.gbr = Some(v);
                }
                if let Some(v) = u.qfi {
                    q.qfi = Some(v);
                }
                if let Some(v) = u.rqi {
                    q.rqi = Some(v);
                }
                if let Some(v) = u.paging_policy_indicator {
                    q.paging_policy_indicator = Some(v);
                }
                if let Some(v) = u.averaging_window {
                    q.averaging_window = Some(v);
                }
                if let Some(v) = u.qer_correlation_id {
                    q.qer_correlation_id = Some(v);
                }
            }
            for u in &r.update_urrs {
                let id = u.urr_id.0;
                let Some(x) = rules.urrs.get_mut(&id) else {
                    return rule(rule_type::URR, id, t::UPDATE_URR, "no such URR");
                };
                if let Some(v) = u.measurement_method {
                    x.measurement_method = v;
                }
                if let Some(v) = u.reporting_triggers {
                    x.reporting_triggers = v;
                }
                macro_rules! take {
                    ($($f:ident),*) => {$( if u.$f.is_some() { x.$f = u.$f.clone(); } )*};
                }
                take!(
                    measurement_period,
                    volume_threshold,
                    volume_quota,
                    time_threshold,
                    time_quota,
                    quota_holding_time,
                    monitoring_time,
                    subsequent_volume_threshold,
                    subsequent_time_threshold,
                    subsequent_volume_quota,
                    subsequent_time_quota,
                    inactivity_detection_time,
                    measurement_information,
                    far_id_for_quota_action
                );
                if !u.linked_urr_ids.is_empty() {
                    x.linked_urr_ids = u.linked_urr_ids.clone();
                }
                // A new quota: forwarding resumes (TS 29.244 5.2.2.2).
                if (u.volume_quota.is_some() || u.time_quota.is_some())
                    && let Some(st) = states.get_mut(&id)
                {
                    st.exhausted = false;
                    st.started = now;
                }
            }
            if let Some(b) = &r.update_bar
                && let Some(x) = rules.bar.as_mut().filter(|x| x.bar_id == b.bar_id)
            {
                if b.downlink_data_notification_delay.is_some() {
                    x.downlink_data_notification_delay = b.downlink_data_notification_delay;
                }
                if b.suggested_buffering_packets_count.is_some() {
                    x.suggested_buffering_packets_count = b.suggested_buffering_packets_count;
                }
            }
            for q in &r.query_urrs {
                if !rules.urrs.contains_key(&q.urr_id.0) {
                    return rule(rule_type::URR, q.urr_id.0, t::QUERY_URR, "no such URR");
                }
            }
            states.retain(|id, _| rules.urrs.contains_key(id));
            for (id, u) in &rules.urrs {
                states.get_or_insert_with(*id, || UrrState::new(u, UrrCounters::default(), now));
            }
            let spec = spec_for(&rules, &states, index, &self.local)?;
            self.check_keys(seid, &spec)?;
            Ok::<_, RuleError>((created, spec))
        })();
        let (created, spec) = match result {
            Ok(v) => v,
            Err(e) => {
                self.failed(claims);
                return refuse(e);
            }
        };
        // Usage of removed URRs is reported before their counters go (TS 29.244 5.2.2.3.1).
        let mut reports: Vec<UsageReport> = removed_urrs
            .iter()
            .filter_map(|u| self.report_usage(seid, *u, &[UsageReportTrigger::TERMR], now))
            .collect();
        let s = self
            .sessions
            .get_mut(&seid)
            .expect("session looked up above");
        let old = s.installed.take().expect("an installed session");
        let t = self.trace.start();
        let replaced = self.dp.replace(old, &spec);
        self.trace.end(t, "southbound", Some("replace"));
        let inst = match replaced {
            Ok(i) => i,
            Err((old, e)) => {
                self.sessions.get_mut(&seid).expect("session").installed = Some(old);
                self.failed(claims);
                return refuse(southbound_error(e));
            }
        };
        let keys: Vec<Key> = spec.pdrs.iter().map(|(k, _)| *k).collect();
        let s = self.sessions.get_mut(&seid).expect("session");
        let old_keys = std::mem::replace(&mut s.keys, keys.clone());
        s.installed = Some(inst);
        s.rules = rules;
        s.chosen = chosen;
        s.teids.extend(claims.teids);
        s.ue.extend(claims.ue);
        if let Some(f) = r.cp_fseid {
            let node = s.node.clone();
            self.by_cp.remove(&(node.clone(), s.cp.seid));
            self.by_cp.insert((node, f.seid), seid);
            s.cp = f;
        }
        // The states the request computed, but what reports since then changed.
        for (id, st) in states {
            match s.urrs.get(&id) {
                Some(cur) if !removed_urrs.contains(&id) => {
                    let mut cur = cur.clone();
                    cur.exhausted = st.exhausted;
                    cur.started = st.started;
                    s.urrs.insert(id, cur);
                }
                _ => {
                    s.urrs.insert(id, st);
                }
            }
        }
        s.urrs.retain(|id, _| s.rules.urrs.contains_key(id));
        // TEIDs and UE addresses no rule refers to any more go back.
        let used_teids: BTreeSet<u32> = s
            .rules
            .pdrs
            .values()
            .filter_map(|p| match p.pdi.local_fteid {
                Some(FTeid::Assigned { teid, .. }) => Some(teid),
                _ => None,
            })
            .collect();
        let (u4, u6) = s.rules.ue_addresses();
        let used_ue: BTreeSet<IpAddr> = [u4.map(IpAddr::V4), u6.map(IpAddr::V6)]
            .into_iter()
            .flatten()
            .collect();
        let free_teids: Vec<u32> = s
            .teids
            .iter()
            .filter(|t| !used_teids.contains(t))
            .copied()
            .collect();
        let free_ue: Vec<IpAddr> =
            s.ue.iter()
                .filter(|a| !used_ue.contains(a))
                .copied()
                .collect();
        s.teids.retain(|t| used_teids.contains(t));
        s.ue.retain(|a| used_ue.contains(a));
        s.chosen
            .retain(|_, f| matches!(f, FTeid::Assigned { teid, .. } if used_teids.contains(teid)));
        self.failed(Claims {
            teids: free_teids,
            ue: free_ue,
        });
        for k in old_keys {
            if !keys.contains(&k) && self.keys.get(&k) == Some(&seid) {
                self.keys.remove(&k);
            }
        }
        for k in &keys {
            self.keys.insert(*k, seid);
        }
        // Query URR, and QAURR for all (TS 29.244 5.2.2.3.1: an immediate report).
        let all = r
            .pfcpsmreq_flags
            .is_some_and(|f| f.has(PfcpSmReqFlags::QAURR));
        let queried: Vec<u32> = if all {
            self.sessions[&seid].rules.urrs.keys().copied().collect()
        } else {
            r.query_urrs.iter().map(|q| q.urr_id.0).collect()
        };
        for u in queried {
            reports.extend(self.report_usage(seid, u, &[UsageReportTrigger::IMMER], now));
        }
        if let Some(s) = self.sessions.get(&seid) {
            let (rules, urrs) = (s.rules.clone(), s.urrs.clone());
            self.schedule(seid, &rules, &urrs);
        }
        let drobu = r
            .pfcpsmreq_flags
            .is_some_and(|f| f.has(PfcpSmReqFlags::DROBU));
        self.after_modification(seid, drobu);
        // End Markers on the old path (TS 29.281 7.3.2, TS 29.244 5.2.1): the switch is in.
        for (far_id, old) in end_markers {
            let peer = old.ipv4.map(IpAddr::V4).or(old.ipv6.map(IpAddr::V6));
            let (Some(teid), Some(peer)) = (old.teid, peer) else {
                continue;
            };
            let local = match peer {
                IpAddr::V4(_) => self.cfg.n3.ipv4.map(IpAddr::V4),
                IpAddr::V6(_) => self.cfg.n3.ipv6.map(IpAddr::V6),
            };
            let Some(local) = local else { continue };
            tracing::debug!(up_seid = seid, far_id, teid, %peer, "End Marker on the old path");
            self.pending.push(super::Outgoing {
                to: SocketAddr::new(peer, old.port.unwrap_or(2152)),
                bytes: crate::southbound::signalling::end_marker(teid).to_vec(),
                gtpu_from: Some(local),
            });
        }
        self.touch(seid);
        tracing::debug!(%from, up_seid = seid, "session modified");
        Message::new(
            Body::SessionModificationResponse(msg::SessionModificationResponse {
                cause: CauseIe::from(Cause::RequestAccepted),
                created_pdrs: created,
                usage_reports: reports,
                ..Default::default()
            }),
            Some(cp_seid),
            seq,
        )
    }

    /// Wakes the time triggers of every URR of `rules`.
    pub(super) fn schedule(&mut self, seid: u64, rules: &Rules, states: &VecMap<u32, UrrState>) {
        for (id, u) in &rules.urrs {
            if let Some(at) = states.get(id).and_then(|st| st.next_due(u)) {
                self.timers.insert(at, seid, *id);
            }
        }
    }

    /// Installs the session's rules again as they stand (after a quota ran out).
    pub(super) fn reinstall(&mut self, seid: u64) -> Result<(), RuleError> {
        let s = self.sessions.get_mut(&seid).ok_or_else(|| {
            RuleError::new(Cause::SessionContextNotFound, None, "no such session")
        })?;
        let spec = spec_for(&s.rules, &s.urrs, s.index, &self.local)?;
        let old = s.installed.take().expect("an installed session");
        match self.dp.replace(old, &spec) {
            Ok(i) => {
                self.sessions.get_mut(&seid).expect("session").installed = Some(i);
                self.touch(seid);
                Ok(())
            }
            Err((old, e)) => {
                self.sessions.get_mut(&seid).expect("session").installed = Some(old);
                Err(southbound_error(e))
            }
        }
    }
}

/// Fresh measurement states for every URR of `rules` (new slots: counters at zero).
fn fresh_states(rules: &Rules, now: Instant) -> VecMap<u32, UrrState> {
    rules
        .urrs
        .iter()
        .map(|(id, u)| (*id, UrrState::new(u, UrrCounters::default(), now)))
        .collect()
}

/// The datapath's rule set for `rules` with the URR states: exhausted quotas applied, each
/// URR's volume event point armed.
pub(super) fn spec_for(
    rules: &Rules,
    states: &VecMap<u32, UrrState>,
    index: u32,
    local: &crate::state::Local,
) -> Result<crate::southbound::SessionSpec, RuleError> {
    let exhausted: BTreeSet<u32> = states
        .iter()
        .filter(|(_, s)| s.exhausted)
        .map(|(id, _)| *id)
        .collect();
    let mut spec = rules.to_spec_with(index, local, &exhausted)?;
    spec.urr_thresholds = rules
        .urrs
        .iter()
        .filter_map(|(id, u)| Some((*id, states.get(id)?.event_point(u)?)))
        .collect();
    Ok(spec)
}
