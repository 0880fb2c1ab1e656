//! Golden vectors from independent encoders (scapy, pycrate): decode to the fields they were
//! made with, re-encode to identical bytes, and fail with the exact error at every truncation.

#[path = "golden/vectors.rs"]
mod vectors;

use pfcp::{
    Body, Error, ErrorKind, Message,
    ie::{
        addr::{FTeid, NodeId},
        ohc::creation,
        sdf::{AddrMatch, FlowDescription},
        simple::{ApplyAction, ReportingTriggers, UpFunctionFeatures, UsageReportTrigger},
        types as t,
    },
};
use std::net::Ipv4Addr;
use vectors::GOLDEN;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn golden(name: &str) -> Vec<u8> {
    hex(GOLDEN
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .1)
}

fn decode(name: &str) -> Message {
    let b = golden(name);
    let (m, used) = Message::decode(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(used, b.len(), "{name}");
    m
}

#[test]
fn every_golden_vector_round_trips_to_identical_bytes() {
    for (name, h) in GOLDEN {
        let b = hex(h);
        let (m, _) = Message::decode(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.buffer_len(), b.len(), "{name}: buffer_len");
        assert_eq!(m.to_vec(), b, "{name}: re-encoded bytes differ");
        // Encoding into a short buffer is an error, not a panic.
        let mut short = vec![0u8; b.len() - 1];
        assert!(m.encode(&mut short).is_err(), "{name}");
    }
}

#[test]
fn session_establishment_request_decodes_to_what_scapy_encoded() {
    let m = decode("session_establishment_request");
    assert_eq!((m.header.seid, m.header.sequence), (Some(0), 3));
    let Body::SessionEstablishmentRequest(r) = m.body else {
        panic!("wrong body")
    };
    assert_eq!(r.node_id, NodeId::Ipv4(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(r.cp_fseid.seid, 0x1122334455667788);
    assert_eq!(r.cp_fseid.ipv4, Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(
        (
            r.create_pdrs.len(),
            r.create_fars.len(),
            r.create_qers.len(),
            r.create_urrs.len()
        ),
        (3, 3, 2, 2)
    );
    let p1 = &r.create_pdrs[0];
    assert_eq!(
        (p1.pdr_id.0, p1.precedence.0, p1.far_id.map(|f| f.0)),
        (1, 200, Some(1))
    );
    assert_eq!(p1.pdi.source_interface.0, 0);
    assert_eq!(
        p1.pdi.local_fteid,
        Some(FTeid::Assigned {
            teid: 0x100,
            ipv4: Some(Ipv4Addr::new(198, 51, 100, 1)),
            ipv6: None
        })
    );
    assert_eq!(p1.pdi.qfis.iter().map(|q| q.0).collect::<Vec<_>>(), vec![9]);
    assert_eq!(p1.outer_header_removal.map(|o| o.description), Some(0));
    let fd = p1.pdi.sdf_filters[0].flow_description.as_deref().unwrap();
    assert_eq!(fd, "permit out 17 from any to 198.18.0.1 5000-5010");
    let flow = FlowDescription::parse(fd).unwrap();
    assert_eq!(
        (flow.protocol, flow.to.ports.clone()),
        (Some(17), vec![(5000, 5010)])
    );
    assert_eq!(flow.from.addr, AddrMatch::Any);
    let p2 = &r.create_pdrs[1];
    assert_eq!(
        p2.pdi.ue_ip_addresses[0].ipv4,
        Some(Ipv4Addr::new(198, 18, 0, 1))
    );
    assert!(p2.pdi.ue_ip_addresses[0].destination);
    assert_eq!(
        p2.qer_ids.iter().map(|q| q.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let f2 = &r.create_fars[1];
    assert!(f2.apply_action.has(ApplyAction::FORW) && !f2.apply_action.has(ApplyAction::DROP));
    let ohc_ = f2
        .forwarding_parameters
        .as_ref()
        .unwrap()
        .outer_header_creation
        .as_ref()
        .unwrap();
    assert_eq!(
        (ohc_.description, ohc_.teid, ohc_.ipv4),
        (
            creation::GTPU_UDP_IPV4,
            Some(0xabc),
            Some(Ipv4Addr::new(192, 0, 2, 20))
        )
    );
    let q1 = &r.create_qers[0];
    assert!(q1.gate_status.ul_open() && q1.gate_status.dl_open());
    assert_eq!(
        q1.mbr.map(|m| (m.ul_kbps, m.dl_kbps)),
        Some((100_000, 200_000))
    );
    assert!(!r.create_qers[1].gate_status.ul_open() && r.create_qers[1].gate_status.dl_open());
    let u1 = &r.create_urrs[0];
    assert!(u1.reporting_triggers.has(ReportingTriggers::VOLTH));
    assert!(u1.reporting_triggers.has(ReportingTriggers::PERIO));
    assert_eq!(
        u1.volume_threshold.map(|v| (v.total, v.uplink, v.downlink)),
        Some((Some(10_000_000), None, Some(8_000_000)))
    );
    assert_eq!(r.pdn_type.map(|p| p.0), Some(1));
    assert!(r.unknown.is_empty());
    let refs = pfcp::validate::session_establishment(&r).expect("consistent request");
    assert!(refs.is_empty(), "{refs:?}");
}

#[test]
fn pycrate_choose_ftei_and_fqdn_decode() {
    let m = decode("pycrate_session_establishment_request_choose");
    let Body::SessionEstablishmentRequest(r) = m.body else {
        panic!()
    };
    assert_eq!(r.node_id, NodeId::Fqdn("smf.example.net".into()));
    assert!(r.cp_fseid.ipv4.is_some() && r.cp_fseid.ipv6.is_some());
    for p in &r.create_pdrs {
        assert_eq!(
            p.pdi.local_fteid,
            Some(FTeid::Choose {
                v4: true,
                v6: true,
                choose_id: Some(5)
            })
        );
    }
    assert!(r.create_fars[0].apply_action.has(ApplyAction::DROP));
}

#[test]
fn responses_and_reports_decode_to_what_scapy_encoded() {
    let Body::AssociationSetupResponse(a) = decode("association_setup_response").body else {
        panic!()
    };
    assert_eq!(a.node_id, NodeId::Fqdn("upf.example.org".into()));
    assert!(
        a.up_function_features
            .as_ref()
            .unwrap()
            .has(UpFunctionFeatures::FTUP)
    );
    assert!(
        a.up_function_features
            .as_ref()
            .unwrap()
            .has(UpFunctionFeatures::EMPU)
    );
    assert_eq!(
        a.user_plane_ip_resource_information[0].teid_range,
        Some((2, 1))
    );

    let Body::SessionModificationResponse(m) = decode("session_modification_response").body else {
        panic!()
    };
    let u = &m.usage_reports[0];
    assert!(u.usage_report_trigger.has(UsageReportTrigger::IMMER));
    let v = u.volume_measurement.unwrap();
    assert_eq!(
        (v.total, v.uplink, v.downlink),
        (Some(3000), Some(1000), Some(2000))
    );
    assert_eq!(u.duration_measurement.map(|d| d.0), Some(60));

    let Body::SessionReportRequest(r) = decode("session_report_request").body else {
        panic!()
    };
    let d = r.downlink_data_report.unwrap();
    assert_eq!(d.pdr_id.0, 2);
    assert_eq!(
        (
            d.downlink_data_service_information[0].ppi,
            d.downlink_data_service_information[0].qfi
        ),
        (Some(3), Some(5))
    );

    let Body::SessionModificationRequest(q) = decode("session_modification_request").body else {
        panic!()
    };
    assert_eq!(q.remove_pdrs[0].pdr_id.0, 3);
    let ufp = q.update_fars[0]
        .update_forwarding_parameters
        .as_ref()
        .unwrap();
    assert!(
        ufp.pfcpsmreq_flags
            .as_ref()
            .unwrap()
            .has(pfcp::ie::simple::PfcpSmReqFlags::SNDEM)
    );
    assert_eq!(
        ufp.outer_header_creation.as_ref().unwrap().teid,
        Some(0xbbb)
    );
    assert_eq!(q.query_urrs[0].urr_id.0, 1);

    let Body::HeartbeatResponse(h) = decode("heartbeat_response_with_vendor_ie").body else {
        panic!()
    };
    assert_eq!(h.recovery_time_stamp.0, 3_913_056_000);
    assert_eq!(h.unknown.len(), 1);
    assert_eq!(
        (
            h.unknown[0].ty,
            h.unknown[0].enterprise,
            h.unknown[0].value.clone()
        ),
        (32770, Some(18681), vec![1, 2, 3])
    );
}

/// The mandatory top-level IEs of each golden message, in the order of the spec's tables.
fn mandatory(message_type: u8) -> &'static [u16] {
    match message_type {
        1 | 2 => &[t::RECOVERY_TIME_STAMP],
        5 => &[t::NODE_ID, t::RECOVERY_TIME_STAMP],
        6 => &[t::NODE_ID, t::CAUSE, t::RECOVERY_TIME_STAMP],
        7 | 9 => &[t::NODE_ID],
        10 => &[t::NODE_ID, t::CAUSE],
        12 => &[t::NODE_ID, t::NODE_REPORT_TYPE],
        50 => &[t::NODE_ID, t::F_SEID],
        51 => &[t::NODE_ID, t::CAUSE],
        53 | 55 | 57 => &[t::CAUSE],
        56 => &[t::REPORT_TYPE],
        11 | 52 | 54 => &[],
        other => panic!("no table for message type {other}"),
    }
}

/// The exact outcome of decoding `full` with its body cut to `k` bytes (Message Length fixed),
/// computed by walking the top-level TLVs independently of the codec.
fn expected_cut(full: &[u8], hlen: usize, k: usize) -> Result<(), Error> {
    let body = &full[hlen..];
    let mut o = 0;
    let mut seen = Vec::new();
    while o < body.len() {
        let ty = u16::from_be_bytes([body[o], body[o + 1]]);
        let l = 4 + usize::from(u16::from_be_bytes([body[o + 2], body[o + 3]]));
        if k == o {
            break;
        }
        if k < o + l {
            let have = k - o;
            return Err(if have < 4 {
                Error::new(ErrorKind::Truncated { need: 4, have }, hlen + o)
            } else {
                Error::new(ErrorKind::Truncated { need: l, have }, hlen + o).in_ie(ty)
            });
        }
        seen.push(ty);
        o += l;
    }
    match mandatory(full[1]).iter().find(|m| !seen.contains(m)) {
        Some(m) => Err(Error::new(ErrorKind::MissingMandatory { parent: None }, hlen).in_ie(*m)),
        None => Ok(()),
    }
}

#[test]
fn every_truncation_of_every_golden_vector_is_the_exact_error() {
    for (name, h) in GOLDEN {
        let full = hex(h);
        let hlen = if full[0] & 1 != 0 { 16 } else { 8 };
        // A datagram cut anywhere: the header says more than there is.
        for n in 0..full.len() {
            let e = Message::decode(&full[..n]).unwrap_err();
            let want = if n < 4 {
                ErrorKind::ShortMessage { need: 4, have: n }
            } else {
                ErrorKind::ShortMessage {
                    need: full.len(),
                    have: n,
                }
            };
            assert_eq!(e.kind, want, "{name} cut to {n}");
            assert!(e.is_header_error());
        }
        // The body cut at every length with the Message Length made to match.
        for k in 0..full.len() - hlen {
            let mut b = full[..hlen + k].to_vec();
            b[2..4].copy_from_slice(&((hlen + k - 4) as u16).to_be_bytes());
            let got = Message::decode(&b).map(|_| ());
            assert_eq!(got, expected_cut(&full, hlen, k), "{name}: body cut to {k}");
            if let Err(e) = got {
                assert!(!e.is_header_error(), "{name}: {e}");
            }
        }
    }
}
