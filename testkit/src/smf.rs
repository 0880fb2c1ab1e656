//! An SMF-side PFCP client on the pfcp crate: what the demo and the tests use to drive the UP
//! function over a real UDP socket. It retransmits its requests (T1/N1), answers the UP
//! function's Heartbeat Requests while it waits (unless told to play dead), and builds the
//! typical session of a PDU session: one uplink and one downlink PDR with a QER and a URR.

use anyhow::{Context, bail};
use pfcp::{
    Body, Message,
    ie::{
        addr::{FSeid, FTeid, NodeId, UeIpAddress},
        grouped::{
            CreateFar, CreatePdr, CreateQer, CreateUrr, ForwardingParameters, Pdi, UpdateFar,
            UpdateForwardingParameters,
        },
        ohc::{OuterHeaderCreation, OuterHeaderRemoval, creation},
        sdf::SdfFilter,
        simple::{
            ApplyAction, BitRate, Bytes, DestinationInterface, FarId, GateStatus,
            MeasurementMethod, PdrId, Precedence, QerId, Qfi, RecoveryTimeStamp, ReportingTriggers,
            SourceInterface, UrrId, interface,
        },
        usage::Volume,
    },
    message as msg,
};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    time::{Duration, Instant},
};

/// A PFCP peer playing the SMF.
pub struct Smf {
    sock: UdpSocket,
    /// The UP function's N4 address.
    pub upf: SocketAddr,
    /// Our Node ID.
    pub node_id: NodeId,
    /// Our Recovery Time Stamp.
    pub recovery: u32,
    seq: u32,
    /// Retransmission interval.
    pub t1: Duration,
    /// Retransmissions.
    pub n1: u32,
    /// When false, Heartbeat Requests from the UP function go unanswered.
    pub answer_heartbeats: bool,
    /// Heartbeat Requests received from the UP function, with their Recovery Time Stamps.
    pub heartbeats_seen: Vec<u32>,
    /// Session Report Requests received (when, SEID, the request), each answered with
    /// [`Smf::report_cause`].
    pub reports: Vec<(Instant, u64, msg::SessionReportRequest)>,
    /// The Cause our Session Report Responses carry.
    pub report_cause: pfcp::Cause,
}

impl Smf {
    /// A client bound to `bind` (in the calling thread's namespace), talking to `upf`.
    pub fn new(bind: SocketAddr, upf: SocketAddr, recovery: u32) -> anyhow::Result<Smf> {
        let sock = UdpSocket::bind(bind).with_context(|| format!("bind {bind}"))?;
        let node_id = match bind.ip() {
            IpAddr::V4(a) => NodeId::Ipv4(a),
            IpAddr::V6(a) => NodeId::Ipv6(a),
        };
        Ok(Smf {
            sock,
            upf,
            node_id,
            recovery,
            seq: 1,
            t1: Duration::from_millis(500),
            n1: 3,
            answer_heartbeats: true,
            heartbeats_seen: Vec::new(),
            reports: Vec::new(),
            report_cause: pfcp::Cause::RequestAccepted,
        })
    }

    /// The next Sequence Number.
    pub fn next_seq(&mut self) -> u32 {
        let s = self.seq;
        self.seq = (self.seq + 1) & 0x00ff_ffff;
        s
    }

    /// Sends raw bytes to the UP function.
    pub fn send_raw(&self, bytes: &[u8]) -> anyhow::Result<()> {
        self.sock.send_to(bytes, self.upf)?;
        Ok(())
    }

    /// The next message from the UP function within `timeout` (answering its Heartbeat
    /// Requests on the way); None on timeout.
    pub fn recv(&mut self, timeout: Duration) -> anyhow::Result<Option<Message>> {
        let until = Instant::now() + timeout;
        let mut buf = vec![0u8; 65535];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sock.set_read_timeout(Some(left))?;
            let (n, from) = match self.sock.recv_from(&mut buf) {
                Ok(v) => v,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            };
            let (m, _) = Message::decode(&buf[..n])
                .map_err(|e| anyhow::anyhow!("undecodable PFCP from {from}: {e}"))?;
            if let Body::HeartbeatRequest(h) = &m.body {
                self.heartbeats_seen.push(h.recovery_time_stamp.0);
                if self.answer_heartbeats {
                    let r = Message::new(
                        Body::HeartbeatResponse(msg::HeartbeatResponse {
                            recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                            unknown: vec![],
                        }),
                        None,
                        m.header.sequence,
                    );
                    self.sock.send_to(&r.to_vec(), from)?;
                }
                continue;
            }
            if let Body::SessionReportRequest(r) = &m.body {
                let seid = m.header.seid.unwrap_or(0);
                self.reports.push((Instant::now(), seid, r.clone()));
                let resp = Message::new(
                    Body::SessionReportResponse(msg::SessionReportResponse {
                        cause: self.report_cause.into(),
                        ..Default::default()
                    }),
                    Some(seid),
                    m.header.sequence,
                );
                self.sock.send_to(&resp.to_vec(), from)?;
                continue;
            }
            return Ok(Some(m));
        }
    }

    /// Receives (and answers) until `n` Session Report Requests have arrived in all, or
    /// `timeout`; returns how many there are.
    pub fn wait_reports(&mut self, n: usize, timeout: Duration) -> anyhow::Result<usize> {
        let until = Instant::now() + timeout;
        while self.reports.len() < n {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = self.recv(left.min(Duration::from_millis(100)))?;
        }
        Ok(self.reports.len())
    }

    /// Sends raw request bytes with Sequence Number `seq` and waits for the response with that
    /// number, retransmitting every T1 up to N1 times.
    pub fn exchange_raw(&mut self, bytes: &[u8], seq: u32) -> anyhow::Result<Message> {
        for _ in 0..=self.n1 {
            self.send_raw(bytes)?;
            let until = Instant::now() + self.t1;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                match self.recv(left)? {
                    Some(m) if m.header.sequence == seq => return Ok(m),
                    Some(_) => continue,
                    None => break,
                }
            }
        }
        bail!(
            "no response to sequence {seq} after {} transmissions",
            self.n1 + 1
        )
    }

    /// Sends a request and waits for its response.
    pub fn request(&mut self, body: Body, seid: Option<u64>) -> anyhow::Result<Message> {
        let seq = self.next_seq();
        let m = Message::new(body, seid, seq);
        self.exchange_raw(&m.to_vec(), seq)
    }

    /// PFCP Association Setup.
    pub fn associate(&mut self) -> anyhow::Result<msg::AssociationSetupResponse> {
        let r = self.request(
            Body::AssociationSetupRequest(msg::AssociationSetupRequest {
                node_id: self.node_id.clone(),
                recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                up_function_features: None,
                cp_function_features: None,
                user_plane_ip_resource_information: vec![],
                unknown: vec![],
            }),
            None,
        )?;
        match r.body {
            Body::AssociationSetupResponse(b) => Ok(b),
            b => bail!("expected an Association Setup Response, got {b:?}"),
        }
    }

    /// A Heartbeat: the UP function's Recovery Time Stamp.
    pub fn heartbeat(&mut self) -> anyhow::Result<u32> {
        let r = self.request(
            Body::HeartbeatRequest(msg::HeartbeatRequest {
                recovery_time_stamp: RecoveryTimeStamp(self.recovery),
                unknown: vec![],
            }),
            None,
        )?;
        match r.body {
            Body::HeartbeatResponse(b) => Ok(b.recovery_time_stamp.0),
            b => bail!("expected a Heartbeat Response, got {b:?}"),
        }
    }

    /// Session Establishment.
    pub fn establish(
        &mut self,
        req: msg::SessionEstablishmentRequest,
    ) -> anyhow::Result<(Message, msg::SessionEstablishmentResponse)> {
        let r = self.request(Body::SessionEstablishmentRequest(req), Some(0))?;
        match r.body.clone() {
            Body::SessionEstablishmentResponse(b) => Ok((r, b)),
            b => bail!("expected a Session Establishment Response, got {b:?}"),
        }
    }

    /// Session Modification of the session with UP SEID `up_seid`.
    pub fn modify(
        &mut self,
        up_seid: u64,
        req: msg::SessionModificationRequest,
    ) -> anyhow::Result<msg::SessionModificationResponse> {
        let r = self.request(Body::SessionModificationRequest(req), Some(up_seid))?;
        match r.body {
            Body::SessionModificationResponse(b) => Ok(b),
            b => bail!("expected a Session Modification Response, got {b:?}"),
        }
    }

    /// Session Deletion of the session with UP SEID `up_seid`.
    pub fn delete(&mut self, up_seid: u64) -> anyhow::Result<msg::SessionDeletionResponse> {
        let r = self.request(
            Body::SessionDeletionRequest(msg::SessionDeletionRequest::default()),
            Some(up_seid),
        )?;
        match r.body {
            Body::SessionDeletionResponse(b) => Ok(b),
            b => bail!("expected a Session Deletion Response, got {b:?}"),
        }
    }
}

/// The UE address of a session: chosen by the UP function (UEIP) or given by the SMF.
#[derive(Clone, Copy, Debug)]
pub enum Ue {
    /// CHOOSE an IPv4 address.
    Choose,
    /// This address.
    V4(Ipv4Addr),
}

/// What the typical session looks like.
#[derive(Clone, Debug)]
pub struct SessionPlan {
    /// CP SEID.
    pub cp_seid: u64,
    /// Our N4 address (in the CP F-SEID).
    pub cp_addr: Ipv4Addr,
    /// UE address.
    pub ue: Ue,
    /// The gNB's downlink F-TEID.
    pub gnb_teid: u32,
    /// The gNB's N3 address.
    pub gnb: Ipv4Addr,
    /// QFI of the QoS flow.
    pub qfi: u8,
    /// MBR (uplink, downlink) in kbps, if any.
    pub mbr_kbps: Option<(u64, u64)>,
    /// Network Instance.
    pub network_instance: &'static str,
    /// An uplink SDF filter, if any.
    pub ul_filter: Option<&'static str>,
}

/// FAR IDs, PDR IDs, QER and URR ID of [`session_request`].
pub mod ids {
    /// Uplink PDR.
    pub const PDR_UL: u16 = 1;
    /// Downlink PDR.
    pub const PDR_DL: u16 = 2;
    /// Uplink FAR (to N6).
    pub const FAR_UL: u32 = 1;
    /// Downlink FAR (to the gNB).
    pub const FAR_DL: u32 = 2;
    /// The session's QER.
    pub const QER: u32 = 1;
    /// The session's URR (both directions).
    pub const URR: u32 = 1;
}

fn dns_labels(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in s.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v
}

/// A FAR to the gNB's tunnel.
pub fn far_to_gnb(id: u32, teid: u32, gnb: Ipv4Addr) -> CreateFar {
    CreateFar {
        far_id: FarId(id),
        apply_action: ApplyAction::empty().with(ApplyAction::FORW),
        forwarding_parameters: Some(ForwardingParameters {
            destination_interface: DestinationInterface(interface::ACCESS),
            outer_header_creation: Some(OuterHeaderCreation {
                description: creation::GTPU_UDP_IPV4,
                teid: Some(teid),
                ipv4: Some(gnb),
                ipv6: None,
                port: None,
                c_tag: None,
                s_tag: None,
                extra: vec![],
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An Update FAR that moves a FAR to another gNB tunnel.
pub fn update_far_to_gnb(id: u32, teid: u32, gnb: Ipv4Addr) -> UpdateFar {
    let f = far_to_gnb(id, teid, gnb);
    UpdateFar {
        far_id: FarId(id),
        apply_action: Some(f.apply_action),
        update_forwarding_parameters: Some(UpdateForwardingParameters {
            destination_interface: Some(DestinationInterface(interface::ACCESS)),
            outer_header_creation: f
                .forwarding_parameters
                .and_then(|p| p.outer_header_creation),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Session Establishment Request of a PDU session as an SMF sends it with FTUP and UEIP:
/// an uplink PDR on a CHOOSE F-TEID (CHOOSE ID 1) removing GTP-U, a downlink PDR on the UE
/// address, their FARs, one QER with the QFI and MBR, one volume URR on both.
pub fn session_request(node_id: NodeId, p: &SessionPlan) -> msg::SessionEstablishmentRequest {
    let ue = match p.ue {
        Ue::Choose => UeIpAddress {
            choose_v4: true,
            ..Default::default()
        },
        Ue::V4(a) => UeIpAddress {
            ipv4: Some(a),
            ..Default::default()
        },
    };
    let ni = Some(Bytes(dns_labels(p.network_instance)));
    let ul = CreatePdr {
        pdr_id: PdrId(ids::PDR_UL),
        precedence: Precedence(100),
        pdi: Pdi {
            source_interface: SourceInterface(interface::ACCESS),
            local_fteid: Some(FTeid::Choose {
                v4: true,
                v6: false,
                choose_id: Some(1),
            }),
            network_instance: ni.clone(),
            ue_ip_addresses: vec![ue],
            sdf_filters: p
                .ul_filter
                .map(|f| SdfFilter {
                    flow_description: Some(f.to_string()),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            qfis: vec![Qfi(p.qfi)],
            ..Default::default()
        },
        outer_header_removal: Some(OuterHeaderRemoval {
            description: 0,
            ext_header_deletion: None,
        }),
        far_id: Some(FarId(ids::FAR_UL)),
        urr_ids: vec![UrrId(ids::URR)],
        qer_ids: vec![QerId(ids::QER)],
        ..Default::default()
    };
    let dl = CreatePdr {
        pdr_id: PdrId(ids::PDR_DL),
        precedence: Precedence(100),
        pdi: Pdi {
            source_interface: SourceInterface(interface::CORE),
            network_instance: ni,
            ue_ip_addresses: vec![UeIpAddress {
                destination: true,
                ..ue
            }],
            ..Default::default()
        },
        far_id: Some(FarId(ids::FAR_DL)),
        urr_ids: vec![UrrId(ids::URR)],
        qer_ids: vec![QerId(ids::QER)],
        ..Default::default()
    };
    msg::SessionEstablishmentRequest {
        node_id,
        cp_fseid: FSeid {
            seid: p.cp_seid,
            ipv4: Some(p.cp_addr),
            ipv6: None,
        },
        create_pdrs: vec![ul, dl],
        create_fars: vec![
            CreateFar {
                far_id: FarId(ids::FAR_UL),
                apply_action: ApplyAction::empty().with(ApplyAction::FORW),
                forwarding_parameters: Some(ForwardingParameters {
                    destination_interface: DestinationInterface(interface::CORE),
                    ..Default::default()
                }),
                ..Default::default()
            },
            far_to_gnb(ids::FAR_DL, p.gnb_teid, p.gnb),
        ],
        create_urrs: vec![CreateUrr {
            urr_id: UrrId(ids::URR),
            measurement_method: MeasurementMethod::empty().with(MeasurementMethod::VOLUM),
            reporting_triggers: ReportingTriggers::empty().with(ReportingTriggers::VOLTH),
            volume_threshold: Some(Volume {
                total: Some(1 << 30),
                uplink: None,
                downlink: None,
            }),
            ..Default::default()
        }],
        create_qers: vec![CreateQer {
            qer_id: QerId(ids::QER),
            gate_status: GateStatus::new(true, true),
            mbr: p.mbr_kbps.map(|(ul, dl)| BitRate {
                ul_kbps: ul,
                dl_kbps: dl,
            }),
            qfi: Some(Qfi(p.qfi)),
            ..Default::default()
        }],
        create_bar: None,
        create_traffic_endpoints: vec![],
        pdn_type: None,
        fq_csids: vec![],
        user_plane_inactivity_timer: None,
        user_id: None,
        trace_information: None,
        apn_dnn: None,
        unknown: vec![],
    }
}

/// From an Establishment Response: the UP SEID, the uplink F-TEID (TEID, address) and the UE
/// address chosen.
pub fn established(
    r: &msg::SessionEstablishmentResponse,
) -> anyhow::Result<(u64, u32, Ipv4Addr, Option<Ipv4Addr>)> {
    let seid = r.up_fseid.context("no UP F-SEID")?.seid;
    let ul = r
        .created_pdrs
        .iter()
        .find(|c| c.pdr_id.0 == ids::PDR_UL)
        .context("no Created PDR for the uplink PDR")?;
    let Some(FTeid::Assigned {
        teid,
        ipv4: Some(addr),
        ..
    }) = ul.local_fteid
    else {
        bail!("Created PDR without an IPv4 F-TEID: {ul:?}");
    };
    let ue = ul.ue_ip_addresses.first().and_then(|u| u.ipv4);
    Ok((seid, teid, addr, ue))
}
