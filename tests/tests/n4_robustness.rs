//! Tier 2: the N4 endpoint in-process on the real datapath, fed mutated PFCP (bit flips,
//! truncations, insertions, wrong lengths) from several peers: it never panics, answers or
//! discards every datagram, and its state stays within its bounds (sessions, cached responses,
//! associations). Then a flood of establishments meets the session limit with a clear Cause,
//! and deleting everything gives every datapath slot back.

use pfcp::{Body, Cause, Message, ie::addr::NodeId, message as msg};
use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};
use upf_lb::{
    n4::{MAX_ASSOCIATIONS, N4},
    southbound::GtpDatapath,
};
use upf_lb_testkit::smf::{self, session_request};
use upf_lb_tests::{
    n4::{config_with, plan},
    require_root,
};

/// xorshift64*: a reproducible stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn endpoint() -> N4 {
    let cfg = config_with(&[
        ("max_sessions = 65536", "max_sessions = 16"),
        ("response_cache = 4096", "response_cache = 64"),
        ("first = 0x80000000", "first = 0x80000000"),
        ("last = 0x8001ffff", "last = 0x8000001f"),
    ]);
    let dp = GtpDatapath::load_with(&cfg.map_sizes()).expect("load bpf-gtp");
    N4::new(cfg, dp, 1000).expect("endpoint")
}

fn smf_addr(i: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(192, 0, 2, 10 + i), 8805))
}

fn setup(node: Ipv4Addr, seq: u32) -> Vec<u8> {
    Message::new(
        Body::AssociationSetupRequest(msg::AssociationSetupRequest {
            node_id: NodeId::Ipv4(node),
            recovery_time_stamp: pfcp::ie::simple::RecoveryTimeStamp(5),
            up_function_features: None,
            cp_function_features: None,
            user_plane_ip_resource_information: vec![],
            unknown: vec![],
        }),
        None,
        seq,
    )
    .to_vec()
}

#[test]
fn mutated_pfcp_never_panics_and_state_stays_bounded() {
    require_root();
    let mut n4 = endpoint();
    let now = Instant::now();
    let mut corpus = Vec::new();
    for i in 0..4u8 {
        let node = Ipv4Addr::new(192, 0, 2, 10 + i);
        corpus.push(setup(node, 1));
        let est = session_request(NodeId::Ipv4(node), &plan(u64::from(i) + 1, 0x200));
        corpus.push(Message::new(Body::SessionEstablishmentRequest(est), Some(0), 2).to_vec());
        corpus.push(
            Message::new(
                Body::SessionModificationRequest(msg::SessionModificationRequest {
                    update_fars: vec![smf::update_far_to_gnb(
                        2,
                        0x300,
                        Ipv4Addr::new(192, 0, 2, 1),
                    )],
                    ..Default::default()
                }),
                Some(u64::from(i) + 1),
                3,
            )
            .to_vec(),
        );
        corpus.push(
            Message::new(
                Body::SessionDeletionRequest(Default::default()),
                Some(u64::from(i) + 1),
                4,
            )
            .to_vec(),
        );
    }
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut answered = 0usize;
    let rounds = 20_000;
    for round in 0..rounds {
        let mut m = corpus[rng.below(corpus.len())].clone();
        match rng.below(5) {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(m.len());
                    m[i] ^= 1 << rng.below(8);
                }
            }
            1 => m.truncate(rng.below(m.len())),
            2 => {
                let i = rng.below(m.len());
                let b = rng.next() as u8;
                m.insert(i, b);
            }
            3 => {
                // Lengths lie: the message's, or an IE's.
                let i = if rng.below(2) == 0 {
                    2
                } else {
                    8 + rng.below(m.len().saturating_sub(9).max(1))
                };
                if i + 1 < m.len() {
                    m[i] = rng.next() as u8;
                    m[i + 1] = rng.next() as u8;
                }
            }
            _ => {}
        }
        // New sequence numbers so the response cache is exercised, not just hit.
        if m.len() >= 8 {
            let at = if m[0] & 1 != 0 && m.len() >= 16 {
                12
            } else {
                4
            };
            let s = (round as u32).to_be_bytes();
            m[at..at + 3].copy_from_slice(&s[1..]);
        }
        let from = smf_addr(rng.below(4) as u8);
        let out = n4.handle(from, &m, now + Duration::from_millis(round as u64));
        answered += usize::from(!out.is_empty());
        assert!(out.len() <= 16);
        for o in &out {
            assert_eq!(o.to, from, "answers go back to the sender");
            assert!(
                Message::decode(&o.bytes).is_ok(),
                "we only send what decodes"
            );
        }
        assert!(n4.session_count() <= 16);
        assert!(n4.cached_responses() <= 64);
        assert!(n4.associations().count() <= MAX_ASSOCIATIONS);
        if round % 1000 == 0 {
            let _ = n4.tick(now + Duration::from_millis(round as u64));
        }
    }
    println!(
        "{rounds} mutated messages, {answered} answered, {} sessions",
        n4.session_count()
    );
    assert!(
        answered > rounds / 4,
        "most mutations still get an answer: {answered}"
    );
}

#[test]
fn a_flood_of_establishments_meets_the_session_limit_and_deletion_frees_everything() {
    require_root();
    let mut n4 = endpoint();
    let now = Instant::now();
    let peer = smf_addr(0);
    let node = Ipv4Addr::new(192, 0, 2, 10);
    assert!(!n4.handle(peer, &setup(node, 1), now).is_empty());
    let mut seids = Vec::new();
    let mut refused = 0;
    for i in 0..40u32 {
        let est = session_request(NodeId::Ipv4(node), &plan(u64::from(i) + 100, 0x200 + i));
        let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 10 + i).to_vec();
        let out = n4.handle(peer, &m, now);
        let (r, _) = Message::decode(&out[0].bytes).expect("response");
        let Body::SessionEstablishmentResponse(b) = r.body else {
            panic!("{r:?}")
        };
        match b.cause.cause() {
            Some(Cause::RequestAccepted) => seids.push(smf::established(&b).unwrap().0),
            Some(Cause::NoResourcesAvailable) => refused += 1,
            c => panic!("unexpected {c:?}: {b:?}"),
        }
    }
    assert_eq!((seids.len(), refused), (16, 24));
    for (i, s) in seids.iter().enumerate() {
        let m = Message::new(
            Body::SessionDeletionRequest(Default::default()),
            Some(*s),
            100 + i as u32,
        )
        .to_vec();
        let out = n4.handle(peer, &m, now);
        let (r, _) = Message::decode(&out[0].bytes).unwrap();
        let Body::SessionDeletionResponse(b) = r.body else {
            panic!()
        };
        assert_eq!(b.cause.cause(), Some(Cause::RequestAccepted));
    }
    assert_eq!(n4.session_count(), 0);
    assert_eq!(n4.dp.slots_in_use(), (0, 0, 0, 0, 0));
    // And the freed TEIDs and addresses are handed out again.
    let est = session_request(NodeId::Ipv4(node), &plan(999, 0x999));
    let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 500).to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, now)[0].bytes).unwrap();
    let Body::SessionEstablishmentResponse(b) = r.body else {
        panic!()
    };
    let (_, teid, _, ue) = smf::established(&b).unwrap();
    assert_eq!(
        (teid, ue),
        (0x8000_0000, Some(Ipv4Addr::new(198, 18, 0, 1)))
    );
}

/// An uplink G-PDU from the gNB on `teid` with QFI 9, from the UE 198.18.0.1 to the DN.
fn gpdu(teid: u32) -> Vec<u8> {
    use upf_lb_packet::{Frame, Gtpu, GtpuExt, IpPacket, L4, Psc};
    let inner = IpPacket::v4(
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(203, 0, 113, 10),
        L4::Udp {
            src: 5000,
            dst: 7000,
            payload: b"atomic".to_vec(),
        },
    );
    let mut g = Gtpu::gpdu(teid, inner.to_bytes());
    g.ext.push(GtpuExt::Psc(Psc {
        pdu_type: 1,
        qfi: 9,
        rqi: false,
        ppi: None,
    }));
    Frame::new(IpPacket::v4(
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(192, 0, 2, 2),
        L4::gtpu(2152, &g),
    ))
    .to_bytes()
}

#[test]
fn a_modification_that_fails_half_way_leaves_the_old_rules_in_force() {
    use pfcp::ie::{
        grouped::{CreateUrr, UpdateQer},
        simple::{GateStatus, MeasurementMethod, QerId, UrrId},
    };
    require_root();
    let cfg = config_with(&[("max_sessions = 65536", "max_sessions = 1")]);
    let dp = GtpDatapath::load_with(&cfg.map_sizes()).expect("load bpf-gtp");
    let mut n4 = N4::new(cfg, dp, 1000).expect("endpoint");
    let now = Instant::now();
    let peer = smf_addr(0);
    let node = Ipv4Addr::new(192, 0, 2, 10);
    n4.handle(peer, &setup(node, 1), now);
    let est = session_request(NodeId::Ipv4(node), &plan(1, 0x200));
    let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 2).to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, now)[0].bytes).unwrap();
    let Body::SessionEstablishmentResponse(b) = r.body else {
        panic!()
    };
    let (seid, teid, ..) = smf::established(&b).unwrap();
    let verdict = |n4: &mut N4| {
        let (_, v) = upf_lb::replay::replay(n4, &[gpdu(teid)]).expect("test run");
        (v[0].verdict.clone(), v[0].reason.clone())
    };
    let forwarded = ("XDP_PASS".to_string(), "uplink_to_kernel".to_string());
    assert_eq!(verdict(&mut n4), forwarded);
    let slots = n4.dp.slots_in_use();

    // The gate closes in place (a carried QER) before the URRs run out of slots half way
    // through 300 new ones: all of it must be undone.
    let m = Message::new(
        Body::SessionModificationRequest(msg::SessionModificationRequest {
            update_qers: vec![UpdateQer {
                qer_id: QerId(1),
                gate_status: Some(GateStatus::new(false, false)),
                ..Default::default()
            }],
            create_urrs: (100..400)
                .map(|i| CreateUrr {
                    urr_id: UrrId(i),
                    measurement_method: MeasurementMethod::empty().with(MeasurementMethod::VOLUM),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        Some(seid),
        3,
    )
    .to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, now)[0].bytes).unwrap();
    let Body::SessionModificationResponse(b) = r.body else {
        panic!()
    };
    assert_eq!(b.cause.cause(), Some(Cause::NoResourcesAvailable));
    assert_eq!(
        n4.dp.slots_in_use(),
        slots,
        "every slot the failed request took is back"
    );
    assert_eq!(
        verdict(&mut n4),
        forwarded,
        "the old rules, gate open, still forward"
    );

    // The same gate change alone applies whole.
    let m = Message::new(
        Body::SessionModificationRequest(msg::SessionModificationRequest {
            update_qers: vec![UpdateQer {
                qer_id: QerId(1),
                gate_status: Some(GateStatus::new(false, false)),
                ..Default::default()
            }],
            ..Default::default()
        }),
        Some(seid),
        4,
    )
    .to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, now)[0].bytes).unwrap();
    let Body::SessionModificationResponse(b) = r.body else {
        panic!()
    };
    assert_eq!(b.cause.cause(), Some(Cause::RequestAccepted));
    assert_eq!(
        verdict(&mut n4),
        ("XDP_DROP".to_string(), "qer_gate_closed".to_string())
    );
}

#[test]
fn pdrs_with_one_choose_id_share_one_f_teid() {
    use pfcp::ie::{addr::FTeid, simple::PdrId};
    require_root();
    let mut n4 = endpoint();
    let now = Instant::now();
    let peer = smf_addr(0);
    let node = Ipv4Addr::new(192, 0, 2, 10);
    n4.handle(peer, &setup(node, 1), now);
    let mut est = session_request(NodeId::Ipv4(node), &plan(1, 0x200));
    // Three uplink PDRs: two with CHOOSE ID 5, one with CHOOSE ID 6 (another QoS flow).
    let ul = est.create_pdrs[0].clone();
    let mut second = ul.clone();
    second.pdr_id = PdrId(3);
    second.precedence = pfcp::ie::simple::Precedence(200);
    let mut third = ul.clone();
    third.pdr_id = PdrId(4);
    for (p, chid) in [
        (&mut est.create_pdrs[0], 5),
        (&mut second, 5),
        (&mut third, 6),
    ] {
        p.pdi.local_fteid = Some(FTeid::Choose {
            v4: true,
            v6: false,
            choose_id: Some(chid),
        });
    }
    est.create_pdrs.push(second);
    est.create_pdrs.push(third);
    let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 2).to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, now)[0].bytes).unwrap();
    let Body::SessionEstablishmentResponse(b) = r.body else {
        panic!()
    };
    assert_eq!(b.cause.cause(), Some(Cause::RequestAccepted), "{b:?}");
    let teid = |id: u16| match b
        .created_pdrs
        .iter()
        .find(|c| c.pdr_id.0 == id)
        .and_then(|c| c.local_fteid)
    {
        Some(FTeid::Assigned { teid, .. }) => teid,
        f => panic!("PDR {id}: {f:?}"),
    };
    assert_eq!(teid(1), teid(3), "CHOOSE ID 5 twice: one F-TEID");
    assert_ne!(teid(1), teid(4), "CHOOSE ID 6: another");
}

#[test]
fn sndem_yields_one_end_marker_for_the_old_tunnel() {
    use pfcp::ie::simple::PfcpSmReqFlags;
    require_root();
    let mut n4 = endpoint();
    let now = Instant::now();
    let peer = smf_addr(0);
    let node = Ipv4Addr::new(192, 0, 2, 10);
    n4.handle(peer, &setup(node, 1), now);
    let est = session_request(NodeId::Ipv4(node), &plan(1, 0x200));
    let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 2).to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, now)[0].bytes).unwrap();
    let Body::SessionEstablishmentResponse(b) = r.body else {
        panic!()
    };
    let seid = smf::established(&b).unwrap().0;
    let mut far = smf::update_far_to_gnb(2, 0x300, Ipv4Addr::new(192, 0, 2, 1));
    far.update_forwarding_parameters
        .as_mut()
        .unwrap()
        .pfcpsmreq_flags = Some(PfcpSmReqFlags::empty().with(PfcpSmReqFlags::SNDEM));
    let m = Message::new(
        Body::SessionModificationRequest(msg::SessionModificationRequest {
            update_fars: vec![far],
            ..Default::default()
        }),
        Some(seid),
        3,
    )
    .to_vec();
    let out = n4.handle(peer, &m, now);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1].gtpu_from, Some(Ipv4Addr::new(192, 0, 2, 2).into()));
    assert_eq!(
        out[1].to,
        SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 2152))
    );
    assert_eq!(out[1].bytes, [0x30, 254, 0, 0, 0, 0, 2, 0]);
}

#[test]
fn time_threshold_and_quota_holding_time_fire_from_the_timer_wheel() {
    use pfcp::ie::{
        grouped::CreateUrr,
        simple::{
            MeasurementMethod, QuotaHoldingTime, ReportingTriggers, TimeThreshold, UrrId,
            UsageReportTrigger,
        },
    };
    require_root();
    let mut n4 = endpoint();
    let t0 = Instant::now();
    let peer = smf_addr(0);
    let node = Ipv4Addr::new(192, 0, 2, 10);
    n4.handle(peer, &setup(node, 1), t0);
    let mut est = session_request(NodeId::Ipv4(node), &plan(1, 0x200));
    est.create_urrs = vec![
        CreateUrr {
            urr_id: UrrId(1),
            measurement_method: MeasurementMethod::empty().with(MeasurementMethod::DURAT),
            reporting_triggers: ReportingTriggers::empty().with(ReportingTriggers::TIMTH),
            time_threshold: Some(TimeThreshold(2)),
            ..Default::default()
        },
        CreateUrr {
            urr_id: UrrId(2),
            measurement_method: MeasurementMethod::empty().with(MeasurementMethod::VOLUM),
            reporting_triggers: ReportingTriggers::empty().with(ReportingTriggers::QUHTI),
            quota_holding_time: Some(QuotaHoldingTime(1)),
            ..Default::default()
        },
    ];
    for p in &mut est.create_pdrs {
        p.urr_ids = vec![UrrId(1), UrrId(2)];
    }
    let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 2).to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, t0)[0].bytes).unwrap();
    let Body::SessionEstablishmentResponse(b) = r.body else {
        panic!()
    };
    assert_eq!(b.cause.cause(), Some(Cause::RequestAccepted), "{b:?}");
    // The wheel is driven with the clock the daemon would pass: no sleeping here.
    let reports = |out: Vec<upf_lb::n4::Outgoing>| -> Vec<(u32, UsageReportTrigger)> {
        out.iter()
            .filter_map(|o| Message::decode(&o.bytes).ok())
            .filter_map(|(m, _)| match m.body {
                Body::SessionReportRequest(r) => Some(r),
                _ => None,
            })
            .flat_map(|r| r.usage_reports.into_iter())
            .map(|u| (u.urr_id.0, u.usage_report_trigger))
            .collect()
    };
    assert!(reports(n4.tick(t0 + Duration::from_millis(900))).is_empty());
    let r = reports(n4.tick(t0 + Duration::from_millis(1100)));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].0 == 2 && r[0].1.has(UsageReportTrigger::QUHTI),
        "no traffic for 1 s: {r:?}"
    );
    let r = reports(n4.tick(t0 + Duration::from_millis(2100)));
    assert!(
        r.iter()
            .any(|(id, t)| *id == 1 && t.has(UsageReportTrigger::TIMTH)),
        "2 s of measurement: {r:?}"
    );
}

#[test]
fn an_inactivity_detection_time_stops_the_clock_while_no_traffic_flows() {
    use pfcp::ie::{
        grouped::CreateUrr,
        simple::{
            InactivityDetectionTime, MeasurementMethod, ReportingTriggers, TimeThreshold, UrrId,
            UsageReportTrigger,
        },
    };
    require_root();
    let mut n4 = endpoint();
    let t0 = Instant::now();
    let peer = smf_addr(0);
    let node = Ipv4Addr::new(192, 0, 2, 10);
    n4.handle(peer, &setup(node, 1), t0);
    let mut est = session_request(NodeId::Ipv4(node), &plan(1, 0x200));
    est.create_urrs = vec![CreateUrr {
        urr_id: UrrId(1),
        measurement_method: MeasurementMethod::empty().with(MeasurementMethod::DURAT),
        reporting_triggers: ReportingTriggers::empty().with(ReportingTriggers::TIMTH),
        time_threshold: Some(TimeThreshold(2)),
        inactivity_detection_time: Some(InactivityDetectionTime(1)),
        ..Default::default()
    }];
    let m = Message::new(Body::SessionEstablishmentRequest(est), Some(0), 2).to_vec();
    let (r, _) = Message::decode(&n4.handle(peer, &m, t0)[0].bytes).unwrap();
    let Body::SessionEstablishmentResponse(b) = r.body else {
        panic!()
    };
    let (_, teid, ..) = smf::established(&b).unwrap();
    let timth = |out: Vec<upf_lb::n4::Outgoing>| {
        out.iter()
            .filter_map(|o| Message::decode(&o.bytes).ok())
            .any(|(m, _)| match m.body {
                Body::SessionReportRequest(r) => r
                    .usage_reports
                    .iter()
                    .any(|u| u.usage_report_trigger.has(UsageReportTrigger::TIMTH)),
                _ => false,
            })
    };
    let packet = |n4: &mut N4| {
        let (_, v) = upf_lb::replay::replay(n4, &[gpdu(teid)]).unwrap();
        assert_eq!(v[0].reason, "uplink_to_kernel");
    };
    let s = Duration::from_millis;
    packet(&mut n4);
    assert!(!timth(n4.tick(t0 + s(1100))), "1.1 s active");
    // A second with no traffic: not measured.
    assert!(!timth(n4.tick(t0 + s(2200))), "1.1 s active, 1.1 s idle");
    assert!(!timth(n4.tick(t0 + s(3300))), "still 1.1 s active");
    packet(&mut n4);
    assert!(
        timth(n4.tick(t0 + s(4400))),
        "2.2 s active: the threshold of 2 s"
    );
}
