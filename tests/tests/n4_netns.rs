//! Tier 3: the PFCP N4 daemon in the demo's namespaces, driven over real UDP sockets by an SMF
//! (our client on the pfcp crate) in the gNB's namespace, with real user-plane traffic through
//! the sessions it installs: association, heartbeat both ways, establishment with F-TEID and UE
//! IP CHOOSE, modification (gate closed then open, QER changed, new FAR), Query URR, deletion
//! with usage, a retransmitted request, a peer restart and a dead peer.

use pfcp::{
    Body, Cause, Message,
    ie::{
        grouped::{QueryUrr, UpdateQer},
        simple::{BitRate, GateStatus, QerId, UpFunctionFeatures, UrrId},
    },
    message as msg,
};
use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};
use upf_lb_testkit::{
    fixtures::{GNB_V4, UPF_V4},
    smf::{self, ids},
    topology::ue_exchange_with,
};
use upf_lb_tests::{
    n4::{bed, plan},
    require_root,
};

fn cause(c: &pfcp::ie::simple::CauseIe) -> Cause {
    c.cause().expect("a known Cause")
}

/// Inner IPv4/UDP length of the datagrams `ue_exchange_with` sends for `count`, `payload_len`.
fn inner_bytes(count: u16, payload_len: usize) -> u64 {
    (0..count)
        .map(|i| 28 + format!("ue datagram {i}").len().max(payload_len) as u64)
        .sum()
}

#[test]
fn an_smf_sets_up_drives_and_tears_down_a_session_with_traffic_through_it() {
    require_root();
    let mut b = bed(&[("heartbeat_interval_s = 10", "heartbeat_interval_s = 1")]);
    let smf = &mut b.smf;

    // A heartbeat needs no association; it carries the UP function's Recovery Time Stamp.
    assert_eq!(smf.heartbeat().expect("heartbeat"), 1000);
    let a = smf.associate().expect("association");
    assert_eq!(cause(&a.cause), Cause::RequestAccepted);
    let f = a.up_function_features.expect("UP Function Features");
    assert!(f.has(UpFunctionFeatures::FTUP) && f.has(UpFunctionFeatures::UEIP));
    assert!(!f.has(UpFunctionFeatures::BUCP) && !f.has(UpFunctionFeatures::PFDM));

    // Establishment with F-TEID and UE IP CHOOSE: both come back in the Created PDR.
    let (m, r) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0x51, 0x200),
        ))
        .expect("establishment");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted, "{r:?}");
    assert_eq!(
        m.header.seid,
        Some(0x51),
        "the response carries the CP SEID"
    );
    let (up_seid, teid, addr, ue) = smf::established(&r).expect("created PDR");
    let ue = ue.expect("UE address chosen");
    assert!(
        teid >= 0x8000_0000,
        "a direct TEID from the F-TEID range: {teid:#x}"
    );
    assert_eq!(addr, UPF_V4);
    assert_eq!(ue, Ipv4Addr::new(198, 18, 0, 1));

    // Traffic both ways through the session.
    let x = ue_exchange_with(&b.topo, ue, teid, 5, 0, Duration::from_secs(2)).expect("traffic");
    assert_eq!((x.at_dn.len(), x.at_gnb.len()), (5, 5));
    for g in &x.at_gnb {
        assert_eq!(u32::from_be_bytes([g[4], g[5], g[6], g[7]]), 0x200);
    }

    // Query URR: the usage since establishment, exactly.
    let q = smf
        .modify(
            up_seid,
            msg::SessionModificationRequest {
                query_urrs: vec![QueryUrr {
                    urr_id: UrrId(ids::URR),
                    unknown: vec![],
                }],
                ..Default::default()
            },
        )
        .expect("query");
    assert_eq!(cause(&q.cause), Cause::RequestAccepted);
    let u = &q.usage_reports[0];
    let v = u.volume_measurement.expect("volume");
    assert_eq!((v.uplink_packets, v.downlink_packets), (Some(5), Some(5)));
    assert_eq!(v.uplink, Some(inner_bytes(5, 0)));
    assert_eq!(v.downlink, Some(inner_bytes(5, 0)));
    assert_eq!(u.ur_seqn.0, 0);

    // Gate closed: nothing passes; open again: traffic flows.
    let gate = |ul: bool, dl: bool| msg::SessionModificationRequest {
        update_qers: vec![UpdateQer {
            qer_id: QerId(ids::QER),
            gate_status: Some(GateStatus::new(ul, dl)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = smf
        .modify(up_seid, gate(false, false))
        .expect("gate closed");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted);
    let x = ue_exchange_with(&b.topo, ue, teid, 3, 0, Duration::from_millis(300)).expect("traffic");
    assert_eq!(x.at_dn.len(), 0, "the UL gate is closed");
    let r = smf.modify(up_seid, gate(true, true)).expect("gate open");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted);
    let x = ue_exchange_with(&b.topo, ue, teid, 3, 0, Duration::from_secs(2)).expect("traffic");
    assert_eq!((x.at_dn.len(), x.at_gnb.len()), (3, 3));

    // QER changed: an uplink MBR of 8 kbit/s (a 100 ms bucket, at least 3028 bytes) lets two
    // 1228-byte packets through at once and then about one per 1.2 s.
    let r = smf
        .modify(
            up_seid,
            msg::SessionModificationRequest {
                update_qers: vec![UpdateQer {
                    qer_id: QerId(ids::QER),
                    mbr: Some(BitRate {
                        ul_kbps: 8,
                        dl_kbps: 1_000_000,
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .expect("MBR");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted);
    let x =
        ue_exchange_with(&b.topo, ue, teid, 6, 1200, Duration::from_millis(200)).expect("traffic");
    let mbr_passed = x.at_dn.len() as u64;
    assert!(
        (2..6).contains(&mbr_passed),
        "MBR: {mbr_passed} of 6 passed"
    );
    assert_eq!(x.at_gnb.len() as u64, mbr_passed, "the DL has no limit");
    let r = smf
        .modify(
            up_seid,
            msg::SessionModificationRequest {
                update_qers: vec![UpdateQer {
                    qer_id: QerId(ids::QER),
                    mbr: Some(BitRate {
                        ul_kbps: 1_000_000,
                        dl_kbps: 1_000_000,
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .expect("MBR lifted");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted);

    // A new downlink FAR (handover to another gNB TEID): replies arrive on the new TEID.
    let r = smf
        .modify(
            up_seid,
            msg::SessionModificationRequest {
                update_fars: vec![smf::update_far_to_gnb(ids::FAR_DL, 0x300, GNB_V4)],
                ..Default::default()
            },
        )
        .expect("new FAR");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted);
    let x = ue_exchange_with(&b.topo, ue, teid, 3, 0, Duration::from_secs(2)).expect("traffic");
    assert_eq!(x.at_gnb.len(), 3);
    for g in &x.at_gnb {
        assert_eq!(u32::from_be_bytes([g[4], g[5], g[6], g[7]]), 0x300);
    }

    // The UP function's own heartbeats arrive (interval 1 s) and are answered.
    let t0 = Instant::now();
    while smf.heartbeats_seen.is_empty() && t0.elapsed() < Duration::from_secs(5) {
        smf.recv(Duration::from_millis(200)).expect("recv");
    }
    assert_eq!(smf.heartbeats_seen.first(), Some(&1000));

    // Deletion: the final usage since the query (UR-SEQN 1).
    let d = smf.delete(up_seid).expect("deletion");
    assert_eq!(cause(&d.cause), Cause::RequestAccepted);
    let u = &d.usage_reports[0];
    assert_eq!(u.ur_seqn.0, 1);
    assert!(
        u.usage_report_trigger
            .has(pfcp::ie::simple::UsageReportTrigger::TERMR)
    );
    let v = u.volume_measurement.expect("volume");
    // Counted: 3 after the gate opened, those the MBR let through, 3 on the new FAR; the
    // packets the closed gate and the MBR dropped are not.
    assert_eq!(v.uplink_packets, Some(6 + mbr_passed));
    assert_eq!(v.downlink_packets, Some(6 + mbr_passed));
    // The session is gone: traffic on its TEID is not forwarded, and a second deletion fails.
    let d = smf.delete(up_seid).expect("deletion again");
    assert_eq!(cause(&d.cause), Cause::SessionContextNotFound);
    let x = ue_exchange_with(&b.topo, ue, teid, 2, 0, Duration::from_millis(300)).expect("traffic");
    assert_eq!(x.at_dn.len(), 0);

    let n4 = b.daemon.take().unwrap().stop().expect("daemon stops");
    assert_eq!(n4.session_count(), 0);
    assert_eq!(n4.dp.slots_in_use(), (0, 0, 0, 0, 0), "every slot freed");
}

#[test]
fn a_retransmitted_request_is_answered_again_without_being_applied_twice() {
    require_root();
    let mut b = bed(&[]);
    let smf = &mut b.smf;
    smf.associate().expect("association");
    let req = smf::session_request(smf.node_id.clone(), &plan(0x77, 0x200));
    let seq = smf.next_seq();
    let bytes = Message::new(Body::SessionEstablishmentRequest(req), Some(0), seq).to_vec();
    let first = smf.exchange_raw(&bytes, seq).expect("first");
    let again = smf.exchange_raw(&bytes, seq).expect("again");
    assert_eq!(
        first, again,
        "the same response, F-TEID and UE address included"
    );
    let Body::SessionEstablishmentResponse(r) = &first.body else {
        panic!("{first:?}")
    };
    let (up_seid, ..) = smf::established(r).expect("created");
    // A new establishment gets the next TEID and UE address: the first was applied once.
    let (_, r2) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0x78, 0x201),
        ))
        .expect("second session");
    let (_, t1, _, ue1) = smf::established(r).unwrap();
    let (_, t2, _, ue2) = smf::established(&r2).unwrap();
    assert_eq!(t2, t1 + 1);
    assert_eq!(ue2.unwrap(), Ipv4Addr::from(u32::from(ue1.unwrap()) + 1));
    // A retransmitted deletion: both answers say accepted, with the same usage.
    let seq = smf.next_seq();
    let del = Message::new(
        Body::SessionDeletionRequest(msg::SessionDeletionRequest::default()),
        Some(up_seid),
        seq,
    )
    .to_vec();
    let d1 = smf.exchange_raw(&del, seq).expect("delete");
    let d2 = smf.exchange_raw(&del, seq).expect("delete again");
    assert_eq!(d1, d2);
    let n4 = b.daemon.take().unwrap().stop().expect("daemon stops");
    assert_eq!(n4.session_count(), 1);
    assert!(n4.stats.retransmissions_answered >= 2);
}

#[test]
fn a_restarted_peer_loses_its_sessions_and_association() {
    require_root();
    let mut b = bed(&[]);
    let smf = &mut b.smf;
    smf.associate().expect("association");
    let (_, r) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0x90, 0x200),
        ))
        .expect("establishment");
    let (up_seid, ..) = smf::established(&r).expect("created");
    // The SMF restarts: its Heartbeat Request carries a new Recovery Time Stamp.
    smf.recovery += 1;
    smf.heartbeat().expect("heartbeat");
    let m = smf
        .modify(up_seid, msg::SessionModificationRequest::default())
        .expect("modification");
    assert_eq!(cause(&m.cause), Cause::SessionContextNotFound);
    let (_, r) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0x91, 0x200),
        ))
        .expect("establishment");
    assert_eq!(cause(&r.cause), Cause::NoEstablishedPfcpAssociation);
    // Associating again works, and so do sessions.
    assert_eq!(
        cause(&smf.associate().unwrap().cause),
        Cause::RequestAccepted
    );
    let (_, r) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0x92, 0x200),
        ))
        .expect("establishment");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted);
    let n4 = b.daemon.take().unwrap().stop().expect("daemon stops");
    assert_eq!((n4.session_count(), n4.stats.peer_restarts), (1, 1));
}

#[test]
fn a_dead_peer_loses_its_sessions_after_n1_unanswered_heartbeats() {
    require_root();
    let mut b = bed(&[
        ("heartbeat_interval_s = 10", "heartbeat_interval_s = 1"),
        ("t1_ms = 3000", "t1_ms = 200"),
        ("n1 = 3", "n1 = 2"),
    ]);
    let smf = &mut b.smf;
    smf.associate().expect("association");
    let (_, r) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0xa0, 0x200),
        ))
        .expect("establishment");
    let (up_seid, ..) = smf::established(&r).expect("created");
    smf.answer_heartbeats = false;
    // 1 s to the first heartbeat, then 1 + N1 transmissions T1 apart: gone within about 2 s.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        smf.recv(Duration::from_millis(200)).expect("recv");
    }
    assert_eq!(
        smf.heartbeats_seen.len(),
        3,
        "one Heartbeat Request and N1 = 2 retransmissions"
    );
    smf.answer_heartbeats = true;
    let m = smf
        .modify(up_seid, msg::SessionModificationRequest::default())
        .expect("modification");
    assert_eq!(cause(&m.cause), Cause::SessionContextNotFound);
    let n4 = b.daemon.take().unwrap().stop().expect("daemon stops");
    assert_eq!((n4.session_count(), n4.stats.dead_peers), (0, 1));
    assert_eq!(n4.associations().count(), 0);
}

#[test]
fn an_smf_over_ipv6_gets_ipv6_f_seids_and_f_teids() {
    use pfcp::ie::addr::{FSeid, FTeid};
    use upf_lb_testkit::fixtures::{GNB_V6, UPF_V6};
    require_root();
    let b = bed(&[("heartbeat_interval_s = 10", "heartbeat_interval_s = 1")]);
    let mut smf = b
        .topo
        .gnb
        .run(|| {
            smf::Smf::new(
                std::net::SocketAddr::from((GNB_V6, 8805)),
                std::net::SocketAddr::from((UPF_V6, 8805)),
                7,
            )
        })
        .expect("SMF socket");
    assert_eq!(
        cause(&smf.associate().unwrap().cause),
        Cause::RequestAccepted
    );
    let mut req = smf::session_request(smf.node_id.clone(), &plan(0xb0, 0x200));
    req.cp_fseid = FSeid {
        seid: 0xb0,
        ipv4: None,
        ipv6: Some(GNB_V6),
    };
    req.create_pdrs[0].pdi.local_fteid = Some(FTeid::Choose {
        v4: true,
        v6: true,
        choose_id: Some(1),
    });
    let (m, r) = smf.establish(req).expect("establishment");
    assert_eq!(cause(&r.cause), Cause::RequestAccepted, "{r:?}");
    assert_eq!(m.header.seid, Some(0xb0));
    let f = r.up_fseid.expect("UP F-SEID");
    assert_eq!(
        (f.ipv4, f.ipv6),
        (None, Some(UPF_V6)),
        "the family the CP used"
    );
    let Some(FTeid::Assigned { teid, ipv4, ipv6 }) = r.created_pdrs[0].local_fteid else {
        panic!("{r:?}")
    };
    assert!(teid >= 0x8000_0000);
    assert_eq!((ipv4, ipv6), (Some(UPF_V4), Some(UPF_V6)));
    // The UP function's heartbeats reach the SMF over IPv6.
    let t0 = Instant::now();
    while smf.heartbeats_seen.is_empty() && t0.elapsed() < Duration::from_secs(5) {
        smf.recv(Duration::from_millis(200)).unwrap();
    }
    assert!(!smf.heartbeats_seen.is_empty());
    let d = smf.delete(f.seid).expect("deletion");
    assert_eq!(cause(&d.cause), Cause::RequestAccepted);
    drop(b);
}

#[test]
fn a_switch_with_sndem_sends_an_end_marker_on_the_old_tunnel() {
    use pfcp::ie::simple::PfcpSmReqFlags;
    use std::io::{BufRead, BufReader};
    require_root();
    let mut b = bed(&[]);
    let smf = &mut b.smf;
    smf.associate().expect("association");
    let a = smf.associate().unwrap();
    assert!(
        a.up_function_features
            .unwrap()
            .has(UpFunctionFeatures::EMPU)
    );
    let (_, r) = smf
        .establish(smf::session_request(
            smf.node_id.clone(),
            &plan(0xc0, 0x200),
        ))
        .expect("establishment");
    let (seid, teid, _, ue) = smf::established(&r).expect("created");
    let ue = ue.unwrap();
    // tshark on the gNB's interface sees what reaches the gNB.
    let pcap = upf_lb_tests::target_dir().join("n4-end-marker.pcap");
    let _ = std::fs::remove_file(&pcap);
    let mut cap = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            b.topo.gnb.name(),
            "tshark",
            "-i",
            "gnb0",
            "-f",
            "udp port 2152",
            "-a",
            "duration:5",
            "-w",
        ])
        .arg(&pcap)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tshark");
    let err = cap.stderr.take().unwrap();
    let mut lines = BufReader::new(err).lines();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        match lines.next() {
            Some(Ok(l)) if l.contains("Capturing on") => break,
            Some(_) => continue,
            None => break,
        }
    }
    // tshark says "Capturing on" a little before its capture sees packets (seen here: an End
    // Marker sent right after that line was missing from the file).
    std::thread::sleep(Duration::from_millis(1000));
    let mut far = smf::update_far_to_gnb(ids::FAR_DL, 0x300, GNB_V4);
    far.update_forwarding_parameters
        .as_mut()
        .unwrap()
        .pfcpsmreq_flags = Some(PfcpSmReqFlags::empty().with(PfcpSmReqFlags::SNDEM));
    let m = smf
        .modify(
            seid,
            msg::SessionModificationRequest {
                update_fars: vec![far],
                ..Default::default()
            },
        )
        .expect("switch");
    assert_eq!(cause(&m.cause), Cause::RequestAccepted);
    let x = ue_exchange_with(&b.topo, ue, teid, 2, 0, Duration::from_secs(2)).expect("traffic");
    assert_eq!(x.at_gnb.len(), 2);
    let st = cap.wait().expect("tshark ends");
    assert!(st.success());
    let rows = upf_lb_tests::tshark_fields(&pcap, &["ip.src", "gtp.message", "gtp.teid"], &[]);
    let gtp: Vec<(String, String, String)> = rows
        .into_iter()
        .filter(|r| r[0] == "192.0.2.2")
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let em = gtp
        .iter()
        .position(|r| r.1 == "0xfe")
        .unwrap_or_else(|| panic!("no End Marker: {gtp:?}"));
    assert_eq!(gtp[em].2, "0x00000200", "on the old tunnel");
    assert_eq!(gtp.iter().filter(|r| r.1 == "0xfe").count(), 1);
    assert!(
        gtp[em + 1..]
            .iter()
            .all(|r| r.1 == "0xff" && r.2 == "0x00000300"),
        "after it, G-PDUs on the new tunnel only: {gtp:?}"
    );
    assert_eq!(gtp[em + 1..].len(), 2);
}

#[test]
fn the_grpc_health_service_says_serving_while_the_daemon_runs_and_not_serving_as_it_stops() {
    use upf_lb::northbound::{
        health_pb::{
            HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
        },
        pb::{StatsRequest, upf_lb_client::UpfLbClient},
    };
    require_root();
    // With a bearer token on the API: the health service answers without one (kubelet's
    // probes carry none), the API does not.
    let mut b = bed(&[(
        "# token = \"change-me-to-something-long\"",
        "token = \"a-token-the-probes-do-not-have\"",
    )]);
    let daemon = b.daemon.take().expect("daemon");
    b.topo.upf.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut c = HealthClient::connect("http://127.0.0.1:50051")
                .await
                .expect("health service");
            let ask = |service: &str| HealthCheckRequest {
                service: service.into(),
            };
            for s in ["", "upflb.v1.UpfLb"] {
                let r = c.check(ask(s)).await.expect("check").into_inner();
                assert_eq!(r.status(), ServingStatus::Serving, "{s:?}");
            }
            let e = c.check(ask("upflb.v1.Nope")).await.unwrap_err();
            assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
            let mut api = UpfLbClient::connect("http://127.0.0.1:50051")
                .await
                .expect("API");
            let e = api.get_stats(StatsRequest {}).await.unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
            let mut unknown = c
                .watch(ask("upflb.v1.Nope"))
                .await
                .expect("watch")
                .into_inner();
            let first = unknown.message().await.expect("watch").expect("a status");
            assert_eq!(first.status(), ServingStatus::ServiceUnknown);
            let mut w = c.watch(ask("")).await.expect("watch").into_inner();
            let first = w.message().await.expect("watch").expect("a status");
            assert_eq!(first.status(), ServingStatus::Serving);
            // Stopping: the watcher hears NOT_SERVING before the API goes.
            let stopped = tokio::task::spawn_blocking(move || daemon.stop());
            let next = tokio::time::timeout(Duration::from_secs(10), w.message())
                .await
                .expect("a status within 10 s of the stop")
                .expect("NOT_SERVING before the stream ends")
                .expect("a status");
            assert_eq!(next.status(), ServingStatus::NotServing);
            stopped.await.expect("join").expect("daemon stops");
        })
    });
}
