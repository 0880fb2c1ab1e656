//! Node procedures (TS 29.244 6.2): Heartbeat both ways, PFCP Association Setup, Update and
//! Release initiated by the CP function, and what a peer restart or a dead peer do to its
//! sessions (TS 29.244 6.2.6.2.2, 19A).

use super::{Association, N4, Request};
use pfcp::{
    Body, Cause, Message,
    ie::{
        addr::NodeId,
        simple::{CauseIe, RecoveryTimeStamp},
    },
    message as msg,
};
use std::{net::SocketAddr, time::Instant};

impl N4 {
    pub(super) fn heartbeat_request(
        &mut self,
        from: SocketAddr,
        r: &msg::HeartbeatRequest,
        seq: u32,
        now: Instant,
    ) -> Message {
        self.check_recovery(from, r.recovery_time_stamp.0, now);
        Message::new(
            Body::HeartbeatResponse(msg::HeartbeatResponse {
                recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                unknown: vec![],
            }),
            None,
            seq,
        )
    }

    pub(super) fn heartbeat_response(
        &mut self,
        from: SocketAddr,
        r: &msg::HeartbeatResponse,
        seq: u32,
        now: Instant,
    ) {
        let Some(p) = self.outstanding.answered(from, seq) else {
            tracing::debug!(%from, seq, "Heartbeat Response to no request of ours, discarded");
            self.stats.discarded += 1;
            return;
        };
        let Request::Heartbeat(n) = p.kind else {
            return;
        };
        if let Some(a) = self.assocs.get_mut(&n) {
            a.heartbeat_pending = false;
            a.next_heartbeat = now + self.cfg.heartbeat_interval;
        }
        self.check_recovery(from, r.recovery_time_stamp.0, now);
    }

    /// A peer whose Recovery Time Stamp changed has restarted: its sessions and its
    /// association are gone on its side, so they go here too (TS 29.244 19A).
    fn check_recovery(&mut self, from: SocketAddr, stamp: u32, _now: Instant) {
        let restarted: Vec<NodeId> = self
            .assocs
            .values()
            .filter(|a| a.addr.ip() == from.ip() && a.recovery != stamp)
            .map(|a| a.node_id.clone())
            .collect();
        for n in restarted {
            tracing::warn!(%from, "peer restarted (new Recovery Time Stamp): its sessions are deleted");
            self.stats.peer_restarts += 1;
            self.drop_association(&n);
        }
    }

    /// Deletes an association and every session it holds.
    pub(super) fn drop_association(&mut self, n: &NodeId) {
        self.assoc_dirty = true;
        if let Some(a) = self.assocs.remove(n) {
            self.outstanding
                .forget_peer(std::net::SocketAddr::new(a.addr.ip(), super::PFCP_PORT));
        }
        let gone: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| &s.node == n)
            .map(|(seid, _)| *seid)
            .collect();
        for seid in gone {
            self.delete_session(seid);
        }
    }

    pub(super) fn association_setup(
        &mut self,
        from: SocketAddr,
        r: msg::AssociationSetupRequest,
        seq: u32,
        now: Instant,
    ) -> Message {
        let stamp = r.recovery_time_stamp.0;
        if !self.assocs.contains_key(&r.node_id) && self.assocs.len() >= super::MAX_ASSOCIATIONS {
            tracing::warn!(%from, "Association Setup refused: {} associations held", self.assocs.len());
            return self
                .error_response(
                    &pfcp::Header {
                        message_type: pfcp::message_type::ASSOCIATION_SETUP_REQUEST,
                        seid: None,
                        sequence: seq,
                        priority: None,
                        follow_on: false,
                    },
                    Cause::NoResourcesAvailable,
                    None,
                )
                .expect("an Association Setup Response");
        }
        match self.assocs.get_mut(&r.node_id) {
            // TS 29.244 6.2.6.2.2: a new association replaces the old one; the sessions stay
            // unless the CP function restarted (another Recovery Time Stamp).
            Some(a) if a.recovery == stamp => {
                a.addr = from;
            }
            Some(_) => {
                tracing::warn!(%from, "Association Setup with a new Recovery Time Stamp: the peer restarted, its sessions are deleted");
                self.stats.peer_restarts += 1;
                self.drop_association(&r.node_id);
            }
            None => {}
        }
        self.assocs
            .entry(r.node_id.clone())
            .or_insert_with(|| Association {
                node_id: r.node_id.clone(),
                addr: from,
                recovery: stamp,
                next_heartbeat: now + self.cfg.heartbeat_interval,
                heartbeat_pending: false,
            });
        self.assoc_dirty = true;
        tracing::info!(%from, node_id = ?r.node_id, "PFCP association set up");
        Message::new(
            Body::AssociationSetupResponse(msg::AssociationSetupResponse {
                node_id: self.node_id(),
                cause: CauseIe::from(Cause::RequestAccepted),
                recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                up_function_features: Some(Self::up_function_features()),
                cp_function_features: None,
                user_plane_ip_resource_information: vec![],
                unknown: vec![],
            }),
            None,
            seq,
        )
    }

    pub(super) fn association_update(
        &mut self,
        from: SocketAddr,
        r: msg::AssociationUpdateRequest,
        seq: u32,
    ) -> Message {
        let cause = match self.assocs.get_mut(&r.node_id) {
            Some(a) => {
                a.addr = from;
                self.assoc_dirty = true;
                Cause::RequestAccepted
            }
            None => Cause::NoEstablishedPfcpAssociation,
        };
        Message::new(
            Body::AssociationUpdateResponse(msg::AssociationUpdateResponse {
                node_id: self.node_id(),
                cause: CauseIe::from(cause),
                up_function_features: Some(Self::up_function_features()),
                cp_function_features: None,
                unknown: vec![],
            }),
            None,
            seq,
        )
    }

    pub(super) fn association_release(
        &mut self,
        r: msg::AssociationReleaseRequest,
        seq: u32,
    ) -> Message {
        let cause = if self.assocs.contains_key(&r.node_id) {
            // TS 29.244 6.2.8.2: the UP function deletes the association's sessions.
            self.drop_association(&r.node_id);
            tracing::info!(node_id = ?r.node_id, "PFCP association released");
            Cause::RequestAccepted
        } else {
            Cause::NoEstablishedPfcpAssociation
        };
        Message::new(
            Body::AssociationReleaseResponse(msg::AssociationReleaseResponse {
                node_id: self.node_id(),
                cause: CauseIe::from(cause),
                unknown: vec![],
            }),
            None,
            seq,
        )
    }
}
