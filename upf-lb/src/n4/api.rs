//! Answers to the management API (`crate::northbound`), built from the endpoint's state by the
//! task that owns it, and the events the API's watchers get.

use super::N4;
use crate::northbound::{ApiRequest, pb};
use pfcp::ie::{addr::FTeid, addr::NodeId, simple::ApplyAction};

fn node(n: &NodeId) -> String {
    match n {
        NodeId::Ipv4(a) => a.to_string(),
        NodeId::Ipv6(a) => a.to_string(),
        NodeId::Fqdn(f) => f.clone(),
    }
}

impl N4 {
    fn brief(&self, seid: u64) -> Option<pb::SessionBrief> {
        let s = self.sessions.get(&seid)?;
        let (v4, v6) = s.rules.ue_addresses();
        Some(pb::SessionBrief {
            up_seid: seid,
            cp_seid: s.cp.seid,
            node_id: node(&s.node),
            ue_addresses: v4
                .map(|a| a.to_string())
                .into_iter()
                .chain(v6.map(|a| format!("{a}/64")))
                .collect(),
            local_teids: s
                .rules
                .pdrs
                .values()
                .filter_map(|p| match p.pdi.local_fteid {
                    Some(FTeid::Assigned { teid, .. }) => Some(teid),
                    _ => None,
                })
                .collect(),
            pdrs: s.rules.pdrs.len() as u32,
        })
    }

    fn session_detail(&self, seid: u64) -> Option<pb::Session> {
        let brief = self.brief(seid)?;
        let s = self.sessions.get(&seid)?;
        let pdrs = s
            .rules
            .pdrs
            .values()
            .map(|p| pb::Pdr {
                pdr_id: u32::from(p.pdr_id.0),
                precedence: p.precedence.0,
                far_id: p.far_id.map_or(0, |f| f.0),
                qer_ids: p.qer_ids.iter().map(|q| q.0).collect(),
                urr_ids: p.urr_ids.iter().map(|u| u.0).collect(),
                source_interface: u32::from(p.pdi.source_interface.0),
                sdf_filters: p.pdi.sdf_filters.len() as u32,
            })
            .collect();
        let fars = s
            .rules
            .fars
            .values()
            .map(|f| {
                let ohc = f
                    .forwarding_parameters
                    .as_ref()
                    .and_then(|p| p.outer_header_creation.as_ref());
                pb::Far {
                    far_id: f.far_id.0,
                    apply_action: [
                        (ApplyAction::FORW, "FORW"),
                        (ApplyAction::DROP, "DROP"),
                        (ApplyAction::BUFF, "BUFF"),
                        (ApplyAction::NOCP, "NOCP"),
                        (ApplyAction::DUPL, "DUPL"),
                    ]
                    .iter()
                    .filter(|(a, _)| f.apply_action.has(*a))
                    .map(|(_, n)| n.to_string())
                    .collect(),
                    teid: ohc.and_then(|o| o.teid).unwrap_or(0),
                    peer: ohc
                        .and_then(|o| {
                            o.ipv4
                                .map(|a| a.to_string())
                                .or(o.ipv6.map(|a| a.to_string()))
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        let urrs = s
            .rules
            .urrs
            .keys()
            .map(|id| {
                let c = s
                    .installed
                    .as_ref()
                    .and_then(|i| i.urr_slot(*id))
                    .and_then(|slot| self.dp.urr_counters(slot).ok())
                    .unwrap_or_default();
                pb::Urr {
                    urr_id: *id,
                    ul_packets: c.ul_packets,
                    ul_bytes: c.ul_bytes,
                    dl_packets: c.dl_packets,
                    dl_bytes: c.dl_bytes,
                    ur_seqn: s.urrs.get(id).map_or(0, |u| u.seqn),
                }
            })
            .collect();
        Some(pb::Session {
            brief: Some(brief),
            pdrs,
            fars,
            urrs,
        })
    }

    /// Answers an API request (the owner calls it; a dropped receiver is ignored).
    pub fn answer(&mut self, r: ApiRequest) {
        match r {
            ApiRequest::Health(tx) => {
                let _ = tx.send(pb::HealthReply {
                    ready: true,
                    recovery_time_stamp: self.recovery,
                    sessions: self.sessions.len() as u64,
                });
            }
            ApiRequest::ListSessions(tx) => {
                let mut seids: Vec<u64> = self.sessions.keys().copied().collect();
                seids.sort_unstable();
                let _ = tx.send(pb::ListSessionsReply {
                    sessions: seids.into_iter().filter_map(|s| self.brief(s)).collect(),
                });
            }
            ApiRequest::GetSession(seid, tx) => {
                let _ = tx.send(self.session_detail(seid));
            }
            ApiRequest::ListAssociations(tx) => {
                let _ = tx.send(pb::ListAssociationsReply {
                    associations: self
                        .assocs
                        .values()
                        .map(|a| pb::Association {
                            node_id: node(&a.node_id),
                            address: a.addr.to_string(),
                            recovery_time_stamp: a.recovery,
                        })
                        .collect(),
                });
            }
            ApiRequest::Stats(tx) => {
                let reasons = self
                    .datapath_counters()
                    .map(|c| {
                        c.into_iter()
                            .map(|(r, c)| pb::ReasonCount {
                                reason: r.name().to_string(),
                                verdict: r.verdict().name().to_string(),
                                packets: c.packets,
                                bytes: c.bytes,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let (pdrs, sdfs, fars, qers, urrs) = self.dp.slots_in_use();
                let sizes = self.cfg.map_sizes();
                let qfis = crate::telemetry::qfi_counts(self)
                    .into_iter()
                    .map(|(interface, direction, qfi, packets, bytes)| pb::QfiCount {
                        interface: interface.into(),
                        direction: direction.into(),
                        qfi: u32::from(qfi),
                        packets,
                        bytes,
                    })
                    .collect();
                let _ = tx.send(pb::StatsReply {
                    reasons,
                    qfis,
                    pfcp: self
                        .pfcp_stats
                        .iter()
                        .map(|((t, c), (n, _))| pb::PfcpCount {
                            message: crate::n4::trace::message_name(*t),
                            cause: u32::from(*c),
                            count: *n,
                        })
                        .collect(),
                    sessions: self.sessions.len() as u64,
                    associations: self.assocs.len() as u64,
                    buffered: self.buffered_total as u64,
                    maps: [
                        ("PDRS", pdrs, sizes.pdrs),
                        ("SDFS", sdfs, sizes.sdfs),
                        ("FARS", fars, sizes.fars),
                        ("QERS", qers, sizes.qers),
                        ("URR_COUNTERS", urrs, sizes.urrs),
                    ]
                    .into_iter()
                    .map(|(m, used, capacity)| pb::MapUse {
                        map: m.into(),
                        used,
                        capacity,
                    })
                    .collect(),
                });
            }
            ApiRequest::ListLb(tx) => {
                let _ = tx.send(self.lb_reply());
            }
            ApiRequest::ListSrv6(tx) => {
                let _ = tx.send(self.srv6_reply());
            }
            ApiRequest::SetSid(r, tx) => {
                let _ = tx.send(self.set_sid(r));
            }
            ApiRequest::DeleteSid(sid, tx) => {
                let _ = tx.send(self.delete_sid(&sid));
            }
            ApiRequest::Config(tx) => {
                let _ = tx.send(pb::ConfigReply {
                    text: format!("{:#?}", self.cfg),
                });
            }
        }
    }

    /// Queues an event for the API's watchers.
    pub(super) fn api_event(&mut self, kind: &str, up_seid: u64, urr_id: u32, total_bytes: u64) {
        if self.api_events.len() < 4096 {
            self.api_events.push(pb::Event {
                kind: kind.into(),
                up_seid,
                urr_id,
                total_bytes,
                ..Default::default()
            });
        }
    }

    /// Once a second: a "drops" event for each drop reason whose rate over the last second is
    /// above `drop_event_rate`.
    pub(super) fn check_drop_rates(&mut self, now: std::time::Instant) {
        let limit = self.cfg.drop_event_rate;
        if limit == 0 || now.duration_since(self.drops_at) < std::time::Duration::from_secs(1) {
            return;
        }
        let Ok(c) = self.datapath_counters() else {
            return;
        };
        let secs = now.duration_since(self.drops_at).as_secs_f64();
        let now_drops: Vec<(bpf_abi::Reason, u64)> = c
            .into_iter()
            .filter(|(r, _)| r.verdict() == bpf_abi::Verdict::Drop)
            .map(|(r, c)| (r, c.packets))
            .collect();
        if !self.drops_seen.is_empty() {
            for ((r, n), (_, before)) in now_drops.iter().zip(&self.drops_seen) {
                let rate = n.saturating_sub(*before) as f64 / secs;
                if rate > limit as f64 && self.api_events.len() < 4096 {
                    self.api_events.push(pb::Event {
                        kind: "drops".into(),
                        reason: r.name().into(),
                        rate,
                        ..Default::default()
                    });
                }
            }
        }
        self.drops_seen = now_drops;
        self.drops_at = now;
    }

    /// SetSid: the request checked as `[[srv6.sid]]` is (one parser for both), the SID bound
    /// in the datapath, and the configuration in force updated (ListSrv6 shows it).
    fn set_sid(&mut self, r: pb::SetSidRequest) -> Result<(), tonic::Status> {
        use crate::config::SidSpec;
        let (Some(c), Some(dp)) = (self.cfg.srv6.as_mut(), self.srv6.as_mut()) else {
            return Err(tonic::Status::failed_precondition(
                "[srv6] is not configured",
            ));
        };
        let opt = |s: String| (!s.is_empty()).then_some(s);
        let narrow = |field: &str, v: Option<u32>| -> Result<Option<u8>, tonic::Status> {
            v.map(|n| {
                u8::try_from(n).map_err(|_| {
                    tonic::Status::invalid_argument(format!("SetSid.{field}: {n}: at most 255"))
                })
            })
            .transpose()
        };
        let raw = crate::config::RawSid {
            sid: r.sid,
            behaviour: r.behaviour,
            nh: opt(r.nh),
            table: r.table,
            psp: r.psp.then_some(true),
            usp: r.usp.then_some(true),
            usd: r.usd.then_some(true),
            mapped: opt(r.mapped),
            args_at: narrow("args_at", r.args_at)?,
            src_at: narrow("src_at", r.src_at)?,
            source: opt(r.source),
            segments: (!r.segments.is_empty()).then_some(r.segments),
            reduced: r.reduced.then_some(true),
            rate_kbps: r.rate_kbps,
        };
        let spec = crate::config::parse_sid("SetSid", &raw)
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let (addr, len) = match &spec {
            SidSpec::Plain((a, l, ..)) | SidSpec::Gtp6d((a, l, ..)) => (*a, *l),
        };
        let known = c.sids.iter().any(|s| (s.0, s.1) == (addr, len))
            || c.gtp6d.iter().any(|s| (s.0, s.1) == (addr, len));
        if !known && c.sids.len() + c.gtp6d.len() >= c.max_sids as usize {
            return Err(tonic::Status::resource_exhausted(format!(
                "SetSid.sid: srv6.max_sids ({}) bound already",
                c.max_sids
            )));
        }
        let err = |e: String| tonic::Status::invalid_argument(format!("SetSid: {e}"));
        match &spec {
            SidSpec::Plain((a, l, b, f)) => dp
                .add_sid_flavours(*a, *l, *b, *f)
                .map_err(|e| err(e.to_string()))?,
            SidSpec::Gtp6d((a, l, p, at, false)) => dp
                .add_sid_gtp6d(*a, *l, p, *at)
                .map_err(|e| err(e.to_string()))?,
            SidSpec::Gtp6d((a, l, p, at, true)) => dp
                .add_sid_gtp6d_di(*a, *l, p, *at)
                .map_err(|e| err(e.to_string()))?,
        }
        // One binding a prefix: the new one replaces the old, in either list.
        c.sids.retain(|s| (s.0, s.1) != (addr, len));
        c.gtp6d.retain(|s| (s.0, s.1) != (addr, len));
        match spec {
            SidSpec::Plain(t) => c.sids.push(t),
            SidSpec::Gtp6d(t) => c.gtp6d.push(t),
        }
        tracing::info!(sid = %format!("{addr}/{len}"), "SRv6 SID set through the API");
        Ok(())
    }

    /// DeleteSid: the SID unbound in the datapath and the configuration in force.
    fn delete_sid(&mut self, sid: &str) -> Result<(), tonic::Status> {
        let (Some(c), Some(dp)) = (self.cfg.srv6.as_mut(), self.srv6.as_mut()) else {
            return Err(tonic::Status::failed_precondition(
                "[srv6] is not configured",
            ));
        };
        let bad =
            || tonic::Status::invalid_argument(format!("DeleteSid.sid: {sid:?}: address/length"));
        let (a, l) = sid.split_once('/').ok_or_else(bad)?;
        let addr: std::net::Ipv6Addr = a.parse().map_err(|_| bad())?;
        let len: u8 = l.parse().map_err(|_| bad())?;
        let before = c.sids.len() + c.gtp6d.len();
        c.sids.retain(|s| (s.0, s.1) != (addr, len));
        c.gtp6d.retain(|s| (s.0, s.1) != (addr, len));
        if c.sids.len() + c.gtp6d.len() == before {
            return Err(tonic::Status::not_found(format!(
                "DeleteSid.sid: {sid} is not bound"
            )));
        }
        dp.remove_sid(addr, len)
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        tracing::info!(sid, "SRv6 SID deleted through the API");
        Ok(())
    }

    /// SRv6 as the API shows it: the configuration in force.
    fn srv6_reply(&self) -> pb::ListSrv6Reply {
        use crate::southbound::srv6::Behaviour;
        let (Some(c), Some(_)) = (self.cfg.srv6.as_ref(), self.srv6.as_ref()) else {
            return pb::ListSrv6Reply::default();
        };
        let sids = c
            .sids
            .iter()
            .map(|(a, l, b, fl)| {
                let (name, nh, table) = match *b {
                    Behaviour::End => ("End", String::new(), 0),
                    Behaviour::EndX { nh } => ("End.X", nh.to_string(), 0),
                    Behaviour::EndT { table } => ("End.T", String::new(), table),
                    Behaviour::EndDx4 { nh } => ("End.DX4", nh.to_string(), 0),
                    Behaviour::EndDx6 { nh } => ("End.DX6", nh.to_string(), 0),
                    Behaviour::EndDt4 { table } => ("End.DT4", String::new(), table),
                    Behaviour::EndDt6 { table } => ("End.DT6", String::new(), table),
                    Behaviour::EndDt46 { table } => ("End.DT46", String::new(), table),
                    Behaviour::EndMap { mapped } => ("End.MAP", mapped.to_string(), 0),
                    Behaviour::EndMGtp4E { .. } => ("End.M.GTP4.E", String::new(), 0),
                    Behaviour::EndLimit { rate_kbps, .. } => {
                        ("End.Limit", format!("{rate_kbps} kbit/s"), 0)
                    }
                    Behaviour::EndMGtp6E { source, .. } => ("End.M.GTP6.E", source.to_string(), 0),
                };
                pb::Srv6Sid {
                    sid: format!("{a}/{l}"),
                    behaviour: name.into(),
                    nh,
                    table,
                    psp: fl.psp,
                    usp: fl.usp,
                    usd: fl.usd,
                }
            })
            .chain(c.gtp6d.iter().map(|(a, l, p, _, di)| {
                pb::Srv6Sid {
                    sid: format!("{a}/{l}"),
                    behaviour: if *di {
                        "End.M.GTP6.D.Di"
                    } else {
                        "End.M.GTP6.D"
                    }
                    .into(),
                    nh: p
                        .segments
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    ..pb::Srv6Sid::default()
                }
            }))
            .collect();
        let policies = c
            .policies
            .iter()
            .map(|(p, l, e)| pb::Srv6Policy {
                prefix: format!("{p}/{l}"),
                source: e.src.to_string(),
                segments: e.segments.iter().map(ToString::to_string).collect(),
                reduced: e.reduced,
                insert: false,
                mode: "H.Encaps".into(),
            })
            .chain(c.gtp4d.iter().map(|(p, l, e, _, _)| pb::Srv6Policy {
                prefix: format!("{p}/{l}"),
                source: e.src.to_string(),
                segments: e.segments.iter().map(ToString::to_string).collect(),
                reduced: true,
                insert: false,
                mode: "H.M.GTP4.D".into(),
            }))
            .chain(c.inserts.iter().map(|(p, l, e)| pb::Srv6Policy {
                prefix: format!("{p}/{l}"),
                source: String::new(),
                segments: e.segments.iter().map(ToString::to_string).collect(),
                reduced: e.reduced,
                insert: true,
                mode: "H.Insert".into(),
            }))
            .collect();
        pb::ListSrv6Reply {
            enabled: true,
            interfaces: c.interfaces.clone(),
            headend_interfaces: c.headend_interfaces.clone(),
            sids,
            policies,
        }
    }

    /// The load balancer as the API shows it (None without one).
    pub fn lb_view(&self) -> Option<pb::ListLbReply> {
        let r = self.lb_reply();
        r.enabled.then_some(r)
    }

    /// The load balancer as the API shows it.
    fn lb_reply(&self) -> pb::ListLbReply {
        let (Some(cfg), Some(lb)) = (self.cfg.lb.as_ref(), self.lb.as_ref()) else {
            return pb::ListLbReply::default();
        };
        let proto = |p: u8| match p {
            6 => "tcp",
            17 => "udp",
            _ => "sctp",
        };
        let services = cfg
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let up = |j: usize| !self.lb_down.contains(&(i, j));
                let st = lb.backend_stats(s.vip, s.proto, s.port).unwrap_or_default();
                let t = |j: usize| st.get(j).copied().unwrap_or_default();
                let backends = if s.proto == 132 {
                    s.sctp_backends
                        .iter()
                        .enumerate()
                        .map(|(j, b)| pb::LbBackend {
                            addrs: b.addrs.iter().map(ToString::to_string).collect(),
                            port: u32::from(s.port),
                            weight: b.weight,
                            up: up(j),
                            packets_to: t(j)[0],
                            bytes_to: t(j)[1],
                            packets_from: t(j)[2],
                            bytes_from: t(j)[3],
                        })
                        .collect()
                } else {
                    s.backends
                        .iter()
                        .enumerate()
                        .map(|(j, b)| pb::LbBackend {
                            addrs: vec![b.addr.to_string()],
                            port: u32::from(b.port),
                            weight: b.weight,
                            up: up(j),
                            packets_to: t(j)[0],
                            bytes_to: t(j)[1],
                            packets_from: t(j)[2],
                            bytes_from: t(j)[3],
                        })
                        .collect()
                };
                pb::LbService {
                    index: i as u32,
                    vips: s.vips.iter().map(ToString::to_string).collect(),
                    protocol: proto(s.proto).into(),
                    port: u32::from(s.port),
                    health: s.health.name().into(),
                    backends,
                    mode: match s.nat64_source {
                        Some(_) => "nat64".into(),
                        None => s.forwarding.name().into(),
                    },
                    source: match (s.nat64_source, s.forwarding.source()) {
                        (Some(a), _) => a.to_string(),
                        (None, Some(a)) => a.to_string(),
                        (None, None) => String::new(),
                    },
                }
            })
            .collect();
        let sctp_associations = lb
            .sctp_associations()
            .into_iter()
            .map(|a| pb::LbSctpAssociation {
                client_tag: a.client_tag,
                backend_tag: a.backend_tag,
                client_port: u32::from(a.client_port),
                port: u32::from(a.port),
                vips: a.vips.iter().map(ToString::to_string).collect(),
                backend: a.backend.iter().map(ToString::to_string).collect(),
                clients: a
                    .clients
                    .iter()
                    .map(|c| c.map(|c| c.to_string()).unwrap_or_default())
                    .collect(),
                established: a.established,
                closing: a.closing,
                packets_to_backend: a.packets.0,
                packets_to_client: a.packets.1,
            })
            .collect();
        pb::ListLbReply {
            enabled: true,
            services,
            tracked: lb.tracked() as u64,
            sctp_associations,
        }
    }

    /// Events since the last call.
    pub fn take_api_events(&mut self) -> Vec<pb::Event> {
        std::mem::take(&mut self.api_events)
    }
}
