//! Tier 3: malformed and inconsistent PFCP messages sent to the daemon over a real UDP socket,
//! each answered with the Cause and Offending IE TS 29.244 asks for (or discarded, where the
//! spec says so), and the daemon serving normally after all of them.

use pfcp::{
    Body, Cause, Message,
    ie::{
        addr::{FTeid, NodeId},
        grouped::{CreatePdr, CreateQer, RemovePdr, UpdatePdr},
        ohc::creation,
        sdf::SdfFilter,
        simple::{Bytes, FarId, GateStatus, PdrId, QerId, RecoveryTimeStamp},
        types as t,
        usage::rule_type,
    },
    message::{self as msg, message_type as mt},
};
use std::{net::Ipv4Addr, time::Duration};
use upf_lb_testkit::{
    fixtures::{GNB_V4, UPF_V4},
    smf::{self, Smf, far_to_gnb, ids, session_request, update_far_to_gnb},
};
use upf_lb_tests::{
    n4::{bed, plan},
    require_root,
};

/// Rewrites the top-level IEs of an encoded message: `f(type, whole IE)` returns None to keep
/// an IE, Some(bytes) to replace it (empty: drop it). The Message Length is fixed up.
fn edit(m: &[u8], f: impl Fn(u16, &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let hlen = if m[0] & 0x01 != 0 { 16 } else { 8 };
    let mut out = m[..hlen].to_vec();
    let mut i = hlen;
    while i + 4 <= m.len() {
        let ty = u16::from_be_bytes([m[i], m[i + 1]]);
        let len = usize::from(u16::from_be_bytes([m[i + 2], m[i + 3]]));
        let ie = &m[i..i + 4 + len];
        match f(ty, ie) {
            Some(b) => out.extend_from_slice(&b),
            None => out.extend_from_slice(ie),
        }
        i += 4 + len;
    }
    let n = (out.len() - 4) as u16;
    out[2..4].copy_from_slice(&n.to_be_bytes());
    out
}

/// Response type, Cause, Offending IE, Failed Rule ID (type, id) and SEID of a response.
type Verdict = (
    u8,
    Option<Cause>,
    Option<u16>,
    Option<(u8, u32)>,
    Option<u64>,
);

/// The [`Verdict`] of a response.
fn verdict(m: &Message) -> Verdict {
    let (c, o, f) = match &m.body {
        Body::SessionEstablishmentResponse(b) => (
            Some(b.cause),
            b.offending_ie,
            b.failed_rule_id.map(|f| (f.rule_type, f.id)),
        ),
        Body::SessionModificationResponse(b) => (
            Some(b.cause),
            b.offending_ie,
            b.failed_rule_id.map(|f| (f.rule_type, f.id)),
        ),
        Body::SessionDeletionResponse(b) => (Some(b.cause), b.offending_ie, None),
        Body::AssociationSetupResponse(b) => (Some(b.cause), None, None),
        Body::AssociationUpdateResponse(b) => (Some(b.cause), None, None),
        Body::AssociationReleaseResponse(b) => (Some(b.cause), None, None),
        _ => (None, None, None),
    };
    (
        m.header.message_type,
        c.and_then(|c| c.cause()),
        o.map(|o| o.0),
        f,
        m.header.seid,
    )
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    want: Verdict,
}

fn establishment(smf: &mut Smf, req: msg::SessionEstablishmentRequest) -> Vec<u8> {
    let seq = smf.next_seq();
    Message::new(Body::SessionEstablishmentRequest(req), Some(0), seq).to_vec()
}

fn modification(smf: &mut Smf, seid: u64, req: msg::SessionModificationRequest) -> Vec<u8> {
    let seq = smf.next_seq();
    Message::new(Body::SessionModificationRequest(req), Some(seid), seq).to_vec()
}

fn seq_of(b: &[u8]) -> u32 {
    let at = if b[0] & 0x01 != 0 { 12 } else { 4 };
    u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
}

#[test]
fn malformed_and_inconsistent_messages_get_their_cause_and_offending_ie() {
    require_root();
    let mut b = bed(&[]);
    let smf = &mut b.smf;
    smf.associate().expect("association");
    let node = smf.node_id.clone();
    // A session to modify, and one holding the SMF-chosen TEID 0x1234.
    let (_, r) = smf
        .establish(session_request(node.clone(), &plan(0x10, 0x200)))
        .expect("establishment");
    let (seid, ..) = smf::established(&r).expect("created");
    let mut fixed = session_request(node.clone(), &plan(0x11, 0x201));
    fixed.create_pdrs[0].pdi.local_fteid = Some(FTeid::Assigned {
        teid: 0x1234,
        ipv4: Some(UPF_V4),
        ipv6: None,
    });
    let (_, r) = smf.establish(fixed.clone()).expect("establishment");
    assert_eq!(r.cause.cause(), Some(Cause::RequestAccepted), "{r:?}");

    let est = mt::SESSION_ESTABLISHMENT_RESPONSE;
    let modi = mt::SESSION_MODIFICATION_RESPONSE;
    let acc = |c| Some(c);
    let base = |smf: &mut Smf, cp: u64| session_request(smf.node_id.clone(), &plan(cp, 0x300));
    let mut cases = Vec::new();

    let r = session_request(
        NodeId::Ipv4(Ipv4Addr::new(192, 0, 2, 99)),
        &plan(0x20, 0x300),
    );
    cases.push(Case {
        name: "establishment from a node without association",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::NoEstablishedPfcpAssociation),
            Some(t::NODE_ID),
            None,
            Some(0x20),
        ),
    });
    let r = base(smf, 0x21);
    let bytes = establishment(smf, r);
    cases.push(Case {
        name: "establishment without the mandatory CP F-SEID",
        bytes: edit(&bytes, |ty, _| (ty == t::F_SEID).then(Vec::new)),
        want: (
            est,
            acc(Cause::MandatoryIeMissing),
            Some(t::F_SEID),
            None,
            Some(0),
        ),
    });
    let r = base(smf, 0x22);
    let bytes = establishment(smf, r);
    cases.push(Case {
        name: "establishment without any Create PDR",
        bytes: edit(&bytes, |ty, _| (ty == t::CREATE_PDR).then(Vec::new)),
        // The message decodes, so its CP F-SEID is known and answered to.
        want: (
            est,
            acc(Cause::MandatoryIeMissing),
            Some(t::CREATE_PDR),
            None,
            Some(0x22),
        ),
    });
    let r = base(smf, 0x23);
    let bytes = establishment(smf, r);
    cases.push(Case {
        name: "establishment with an F-SEID of 3 octets",
        bytes: edit(&bytes, |ty, ie| {
            (ty == t::F_SEID).then(|| [&ie[..2], &[0, 3], &ie[4..7]].concat())
        }),
        want: (
            est,
            acc(Cause::InvalidLength),
            Some(t::F_SEID),
            None,
            Some(0),
        ),
    });
    let mut r = base(smf, 0x24);
    r.create_pdrs[1].far_id = Some(FarId(9));
    cases.push(Case {
        name: "a PDR pointing at a FAR the session does not have",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::FAR_ID),
            Some((rule_type::PDR, 2)),
            Some(0x24),
        ),
    });
    let mut r = base(smf, 0x25);
    r.create_pdrs[1].pdr_id = PdrId(1);
    cases.push(Case {
        name: "two Create PDR with one PDR ID",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::MandatoryIeIncorrect),
            Some(t::CREATE_PDR),
            None,
            Some(0x25),
        ),
    });
    let mut r = base(smf, 0x26);
    r.create_fars[0].forwarding_parameters = None;
    cases.push(Case {
        name: "a FORW FAR without Forwarding Parameters",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::ConditionalIeMissing),
            Some(t::FORWARDING_PARAMETERS),
            None,
            Some(0x26),
        ),
    });
    let mut r = base(smf, 0x27);
    r.create_qers.push(CreateQer {
        qer_id: QerId(2),
        gate_status: GateStatus::new(true, true),
        ..Default::default()
    });
    r.create_pdrs[0].qer_ids.push(QerId(2));
    cases.push(Case {
        name: "two QERs on one PDR (the datapath enforces one)",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::QER_ID),
            Some((rule_type::PDR, 1)),
            Some(0x27),
        ),
    });
    let mut r = base(smf, 0x28);
    r.create_pdrs[0].pdi.sdf_filters.push(SdfFilter {
        flow_description: Some("deny out ip from any to assigned".into()),
        ..Default::default()
    });
    cases.push(Case {
        name: "a flow description outside the 3GPP subset",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::SDF_FILTER),
            Some((rule_type::PDR, 1)),
            Some(0x28),
        ),
    });
    let mut r = base(smf, 0x29);
    let mut far = far_to_gnb(ids::FAR_DL, 0x300, GNB_V4);
    if let Some(fp) = far.forwarding_parameters.as_mut()
        && let Some(o) = fp.outer_header_creation.as_mut()
    {
        o.description = creation::UDP_IPV4;
        o.teid = None;
        o.port = Some(2152);
    }
    r.create_fars[1] = far;
    cases.push(Case {
        name: "an outer header we cannot create (UDP/IPv4)",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::OUTER_HEADER_CREATION),
            Some((rule_type::FAR, ids::FAR_DL)),
            Some(0x29),
        ),
    });
    let mut r = base(smf, 0x2a);
    for p in &mut r.create_pdrs {
        p.pdi.network_instance = Some(Bytes(b"\x03ims".to_vec()));
    }
    cases.push(Case {
        name: "UE IP CHOOSE in a network instance without a pool",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::UE_IP_ADDRESS),
            Some((rule_type::PDR, 1)),
            Some(0x2a),
        ),
    });
    let mut r = fixed.clone();
    r.cp_fseid.seid = 0x2b;
    cases.push(Case {
        name: "an F-TEID another session holds",
        bytes: establishment(smf, r),
        want: (
            est,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::F_TEID),
            Some((rule_type::PDR, 1)),
            Some(0x2b),
        ),
    });
    let r = base(smf, 0x2c);
    let mut bytes = establishment(smf, r);
    // The S flag cleared: a session message with a node-message header.
    let mut nodehdr = vec![bytes[0] & !0x01, bytes[1], 0, 0];
    nodehdr.extend_from_slice(&bytes[12..16]);
    nodehdr.extend_from_slice(&bytes[16..]);
    let n = (nodehdr.len() - 4) as u16;
    nodehdr[2..4].copy_from_slice(&n.to_be_bytes());
    bytes = nodehdr;
    cases.push(Case {
        name: "a session message without the S flag",
        bytes,
        want: (est, acc(Cause::RequestRejected), None, None, Some(0)),
    });
    cases.push(Case {
        name: "modification of an unknown SEID",
        bytes: modification(smf, 0xdead, msg::SessionModificationRequest::default()),
        want: (
            modi,
            acc(Cause::SessionContextNotFound),
            None,
            None,
            Some(0),
        ),
    });
    let seq = smf.next_seq();
    cases.push(Case {
        name: "deletion of an unknown SEID",
        bytes: Message::new(
            Body::SessionDeletionRequest(Default::default()),
            Some(0xbeef),
            seq,
        )
        .to_vec(),
        want: (
            mt::SESSION_DELETION_RESPONSE,
            acc(Cause::SessionContextNotFound),
            None,
            None,
            Some(0),
        ),
    });
    cases.push(Case {
        name: "removal of a PDR the session does not have",
        bytes: modification(
            smf,
            seid,
            msg::SessionModificationRequest {
                remove_pdrs: vec![RemovePdr {
                    pdr_id: PdrId(7),
                    unknown: vec![],
                }],
                ..Default::default()
            },
        ),
        want: (
            modi,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::REMOVE_PDR),
            Some((rule_type::PDR, 7)),
            Some(0x10),
        ),
    });
    cases.push(Case {
        name: "update of a FAR the session does not have",
        bytes: modification(
            smf,
            seid,
            msg::SessionModificationRequest {
                update_fars: vec![update_far_to_gnb(9, 0x400, GNB_V4)],
                ..Default::default()
            },
        ),
        want: (
            modi,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::UPDATE_FAR),
            Some((rule_type::FAR, 9)),
            Some(0x10),
        ),
    });
    let again = base(smf, 0).create_pdrs[0].clone();
    cases.push(Case {
        name: "creation of a PDR whose ID exists",
        bytes: modification(
            smf,
            seid,
            msg::SessionModificationRequest {
                create_pdrs: vec![CreatePdr {
                    pdr_id: PdrId(1),
                    ..again
                }],
                ..Default::default()
            },
        ),
        want: (
            modi,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::CREATE_PDR),
            Some((rule_type::PDR, 1)),
            Some(0x10),
        ),
    });
    cases.push(Case {
        name: "an update pointing a PDR at a QER that does not exist",
        bytes: modification(
            smf,
            seid,
            msg::SessionModificationRequest {
                update_pdrs: vec![UpdatePdr {
                    pdr_id: PdrId(2),
                    qer_ids: vec![QerId(5)],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ),
        want: (
            modi,
            acc(Cause::RuleCreationModificationFailure),
            Some(t::QER_ID),
            Some((rule_type::PDR, 2)),
            Some(0x10),
        ),
    });
    let seq = smf.next_seq();
    let setup = Message::new(
        Body::AssociationSetupRequest(msg::AssociationSetupRequest {
            node_id: node.clone(),
            recovery_time_stamp: RecoveryTimeStamp(smf.recovery),
            up_function_features: None,
            cp_function_features: None,
            user_plane_ip_resource_information: vec![],
            unknown: vec![],
        }),
        None,
        seq,
    )
    .to_vec();
    cases.push(Case {
        name: "association setup without a Node ID",
        bytes: edit(&setup, |ty, _| (ty == t::NODE_ID).then(Vec::new)),
        want: (
            mt::ASSOCIATION_SETUP_RESPONSE,
            acc(Cause::MandatoryIeMissing),
            None,
            None,
            None,
        ),
    });
    let seq = smf.next_seq();
    cases.push(Case {
        name: "association update from a node without association",
        bytes: Message::new(
            Body::AssociationUpdateRequest(msg::AssociationUpdateRequest {
                node_id: NodeId::Fqdn("smf9.example".into()),
                up_function_features: None,
                cp_function_features: None,
                association_release_request: None,
                graceful_release_period: None,
                user_plane_ip_resource_information: vec![],
                unknown: vec![],
            }),
            None,
            seq,
        )
        .to_vec(),
        want: (
            mt::ASSOCIATION_UPDATE_RESPONSE,
            acc(Cause::NoEstablishedPfcpAssociation),
            None,
            None,
            None,
        ),
    });
    let seq = smf.next_seq();
    let mut v2 = Message::new(
        Body::HeartbeatRequest(msg::HeartbeatRequest {
            recovery_time_stamp: RecoveryTimeStamp(smf.recovery),
            unknown: vec![],
        }),
        None,
        seq,
    )
    .to_vec();
    v2[0] = (v2[0] & 0x1f) | (2 << 5);
    cases.push(Case {
        name: "PFCP version 2",
        bytes: v2,
        want: (mt::VERSION_NOT_SUPPORTED_RESPONSE, None, None, None, None),
    });

    let n = cases.len();
    let mut bad = Vec::new();
    for c in cases {
        let seq = seq_of(&c.bytes);
        let got = smf.exchange_raw(&c.bytes, seq).map(|m| verdict(&m));
        match got {
            Ok(g) if g == c.want => {}
            Ok(g) => bad.push(format!("{}: got {g:?}, want {:?}", c.name, c.want)),
            Err(e) => bad.push(format!("{}: {e}", c.name)),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {n} cases wrong:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(n >= 15);

    // Discarded without an answer: an unknown message type, a truncated header, a message
    // whose length says more than the datagram holds.
    smf.send_raw(&[0x20, 99, 0, 4, 0, 0, 9, 0]).unwrap();
    smf.send_raw(&[0x21, 50, 0]).unwrap();
    smf.send_raw(&[0x20, 1, 0x01, 0x00, 0, 0, 10, 0]).unwrap();
    assert!(
        smf.recv(Duration::from_millis(500)).unwrap().is_none(),
        "nothing answers those"
    );
    // A peer that is not allowed is refused.
    b.topo
        .gnb
        .ip(&["addr", "add", "198.51.100.1/24", "dev", "gnb0"])
        .unwrap();
    b.topo
        .upf
        .ip(&["route", "add", "198.51.100.0/24", "dev", "n3"])
        .unwrap();
    let mut stranger = b
        .topo
        .gnb
        .run(|| {
            Smf::new(
                "198.51.100.1:8805".parse().unwrap(),
                "192.0.2.2:8805".parse().unwrap(),
                1,
            )
        })
        .unwrap();
    let a = stranger.associate().expect("an answer");
    assert_eq!(a.cause.cause(), Some(Cause::RequestRejected));
    // And everyone else is served as before: the first session is still there.
    assert_eq!(smf.heartbeat().unwrap(), 1000);
    let d = smf.delete(seid).expect("deletion");
    assert_eq!(d.cause.cause(), Some(Cause::RequestAccepted));
    let n4 = b.daemon.take().unwrap().stop().expect("stop");
    assert_eq!(n4.session_count(), 1, "the SMF-chosen TEID session");
    assert_eq!(n4.stats.refused_peers, 1);
    assert!(n4.stats.discarded >= 2);
}
