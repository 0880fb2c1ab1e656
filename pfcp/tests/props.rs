//! Property tests: any generated message encodes and decodes back equal; any bytes decode to a
//! message or an error, never a panic.

#[path = "golden/vectors.rs"]
mod vectors;

use pfcp::{
    Body, Message,
    ie::{
        addr::{FSeid, FTeid, NodeId, UeIpAddress},
        grouped::{CreateFar, CreatePdr, CreateQer, CreateUrr, ForwardingParameters, Pdi},
        ohc::{OuterHeaderCreation, creation},
        sdf::SdfFilter,
        simple::*,
        usage::Volume,
    },
    message::SessionEstablishmentRequest,
};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}
fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn node_id() -> impl Strategy<Value = NodeId> {
    prop_oneof![
        v4().prop_map(NodeId::Ipv4),
        v6().prop_map(NodeId::Ipv6),
        proptest::collection::vec("[a-z0-9][a-z0-9-]{0,20}", 1..4)
            .prop_map(|l| NodeId::Fqdn(l.join("."))),
    ]
}

fn fteid() -> impl Strategy<Value = FTeid> {
    prop_oneof![
        (
            any::<u32>(),
            proptest::option::of(v4()),
            proptest::option::of(v6())
        )
            .prop_filter("an address", |(_, a, b)| a.is_some() || b.is_some())
            .prop_map(|(teid, ipv4, ipv6)| FTeid::Assigned { teid, ipv4, ipv6 }),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(any::<u8>())
        )
            .prop_filter("a family", |(a, b, _)| *a || *b)
            .prop_map(|(v4, v6, choose_id)| FTeid::Choose { v4, v6, choose_id }),
    ]
}

fn ue_ip() -> impl Strategy<Value = UeIpAddress> {
    (
        proptest::option::of(v4()),
        proptest::option::of(v6()),
        any::<bool>(),
        proptest::option::of(0u8..=128),
    )
        .prop_map(|(ipv4, ipv6, destination, pl)| UeIpAddress {
            ipv4,
            ipv6,
            destination,
            ipv6_prefix_length: pl,
            ..Default::default()
        })
}

fn sdf() -> impl Strategy<Value = SdfFilter> {
    (
        proptest::option::of(
            "permit out (ip|17|6) from any to (assigned|198\\.18\\.0\\.[0-9]{1,2})",
        ),
        proptest::option::of(any::<[u8; 2]>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0u32..0x10_0000),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |(flow_description, tos_traffic_class, spi, flow_label, filter_id)| SdfFilter {
                flow_description,
                tos_traffic_class,
                spi,
                flow_label,
                filter_id,
            },
        )
}

fn pdr() -> impl Strategy<Value = CreatePdr> {
    (
        any::<u16>(),
        any::<u32>(),
        0u8..4,
        proptest::option::of(fteid()),
        proptest::collection::vec(ue_ip(), 0..2),
        proptest::collection::vec(sdf(), 0..8),
        proptest::collection::vec(0u8..64, 0..3),
        any::<u32>(),
        proptest::collection::vec(any::<u32>(), 0..3),
        proptest::collection::vec(any::<u32>(), 0..3),
    )
        .prop_map(
            |(id, prec, src, fteid, ues, sdfs, qfis, far, urrs, qers)| CreatePdr {
                pdr_id: PdrId(id),
                precedence: Precedence(prec),
                pdi: Pdi {
                    source_interface: SourceInterface(src),
                    local_fteid: fteid,
                    network_instance: Some(Bytes(b"\x08internet".to_vec())),
                    ue_ip_addresses: ues,
                    traffic_endpoint_ids: vec![],
                    sdf_filters: sdfs,
                    application_id: None,
                    ethernet_pdu_session_information: None,
                    ethernet_packet_filters: vec![],
                    qfis: qfis.into_iter().map(Qfi).collect(),
                    framed_routes: vec![],
                    framed_routing: None,
                    framed_ipv6_routes: vec![],
                    source_interface_type: None,
                    unknown: vec![],
                },
                outer_header_removal: None,
                far_id: Some(FarId(far)),
                urr_ids: urrs.into_iter().map(UrrId).collect(),
                qer_ids: qers.into_iter().map(QerId).collect(),
                activate_predefined_rules: vec![],
                unknown: vec![],
            },
        )
}

fn far() -> impl Strategy<Value = CreateFar> {
    (any::<u32>(), 0u8..3, any::<u32>(), v4(), 0u8..6).prop_map(|(id, action, teid, a, dest)| {
        let aa = [ApplyAction::DROP, ApplyAction::FORW, ApplyAction::BUFF][usize::from(action)];
        CreateFar {
            far_id: FarId(id),
            apply_action: ApplyAction::empty().with(aa),
            forwarding_parameters: Some(ForwardingParameters {
                destination_interface: DestinationInterface(dest),
                network_instance: None,
                redirect_information: None,
                outer_header_creation: Some(OuterHeaderCreation {
                    description: creation::GTPU_UDP_IPV4,
                    teid: Some(teid),
                    ipv4: Some(a),
                    ipv6: None,
                    port: None,
                    c_tag: None,
                    s_tag: None,
                    extra: vec![],
                }),
                transport_level_marking: Some(TransportLevelMarking {
                    tos: 0xb8,
                    mask: 0xff,
                }),
                forwarding_policy: None,
                header_enrichment: None,
                linked_traffic_endpoint_id: None,
                proxying: None,
                destination_interface_type: None,
                unknown: vec![],
            }),
            duplicating_parameters: vec![],
            bar_id: None,
            unknown: vec![],
        }
    })
}

fn qer() -> impl Strategy<Value = CreateQer> {
    (
        any::<u32>(),
        any::<bool>(),
        any::<bool>(),
        0u64..(1 << 40),
        0u64..(1 << 40),
        0u8..64,
    )
        .prop_map(|(id, ul, dl, mbr_ul, mbr_dl, qfi)| CreateQer {
            qer_id: QerId(id),
            qer_correlation_id: None,
            gate_status: GateStatus::new(ul, dl),
            mbr: Some(BitRate {
                ul_kbps: mbr_ul,
                dl_kbps: mbr_dl,
            }),
            gbr: None,
            packet_rate: None,
            dl_flow_level_marking: None,
            qfi: Some(Qfi(qfi)),
            rqi: None,
            paging_policy_indicator: None,
            averaging_window: None,
            unknown: vec![],
        })
}

fn urr() -> impl Strategy<Value = CreateUrr> {
    (
        any::<u32>(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(id, total, dl)| CreateUrr {
            urr_id: UrrId(id),
            measurement_method: MeasurementMethod::empty().with(MeasurementMethod::VOLUM),
            reporting_triggers: ReportingTriggers::empty().with(ReportingTriggers::VOLTH),
            measurement_period: None,
            volume_threshold: Some(Volume {
                total,
                uplink: None,
                downlink: dl,
            }),
            volume_quota: None,
            time_threshold: None,
            time_quota: None,
            quota_holding_time: None,
            dropped_dl_traffic_threshold: None,
            monitoring_time: None,
            subsequent_volume_threshold: None,
            subsequent_time_threshold: None,
            subsequent_volume_quota: None,
            subsequent_time_quota: None,
            inactivity_detection_time: None,
            linked_urr_ids: vec![],
            measurement_information: None,
            time_quota_mechanism: None,
            aggregated_urrs: vec![],
            far_id_for_quota_action: None,
            ethernet_inactivity_timer: None,
            additional_monitoring_time: vec![],
            unknown: vec![],
        })
}

fn establishment() -> impl Strategy<Value = Message> {
    (
        node_id(),
        any::<u64>(),
        v4(),
        proptest::collection::vec(pdr(), 1..6),
        proptest::collection::vec(far(), 1..6),
        proptest::collection::vec(qer(), 0..4),
        proptest::collection::vec(urr(), 0..4),
        0u32..0x100_0000,
    )
        .prop_map(|(node_id, seid, a, pdrs, fars, qers, urrs, seq)| {
            let body = SessionEstablishmentRequest {
                node_id,
                cp_fseid: FSeid {
                    seid,
                    ipv4: Some(a),
                    ipv6: None,
                },
                create_pdrs: pdrs,
                create_fars: fars,
                create_urrs: urrs,
                create_qers: qers,
                create_bar: None,
                create_traffic_endpoints: vec![],
                pdn_type: Some(PdnType(1)),
                fq_csids: vec![],
                user_plane_inactivity_timer: None,
                user_id: None,
                trace_information: None,
                apn_dnn: None,
                unknown: vec![],
            };
            Message::new(Body::SessionEstablishmentRequest(body), Some(0), seq)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_establishment_requests_round_trip(m in establishment()) {
        let b = m.to_vec();
        prop_assert_eq!(b.len(), m.buffer_len());
        let (back, used) = Message::decode(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(used, b.len());
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_vec(), b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::decode(&b);
    }

    #[test]
    fn mutated_golden_bytes_never_panic_and_reencode_stably(
        which in any::<usize>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)
    ) {
        let h = vectors::GOLDEN[which % vectors::GOLDEN.len()].1;
        let mut b: Vec<u8> = (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
        for (at, v) in flips {
            let n = b.len();
            b[at % n] = v;
        }
        if let Ok((m, _)) = Message::decode(&b) {
            let again = m.to_vec();
            let (m2, _) = Message::decode(&again).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(m2, m);
        }
    }
}
