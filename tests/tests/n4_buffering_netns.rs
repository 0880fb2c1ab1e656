//! Tier 3: downlink buffering and Downlink Data Notification (TS 29.244 5.2.3) over real
//! sockets in namespaces: a BUFF+NOCP FAR holds the DN's packets, the SMF hears one Downlink
//! Data Report (PDR ID, QFI, PPI) however many packets arrive, the BAR's Suggested Buffering
//! Packets Count bounds what is held (oldest dropped first), and when the FAR becomes FORW the
//! held packets reach the gNB in order, encapsulated like any other downlink packet, before the
//! new ones.

use pfcp::{
    Cause,
    ie::{
        grouped::CreateBar,
        simple::{
            ApplyAction, BarId, PagingPolicyIndicator, ReportType, SuggestedBufferingPacketsCount,
        },
    },
    message as msg,
};
use std::{
    net::{SocketAddr, UdpSocket},
    time::Duration,
};
use upf_lb_testkit::{
    fixtures::GNB_V4,
    smf::{self, ids},
    topology::DN,
    ue::gtpu_header_len,
};
use upf_lb_tests::{
    n4::{bed, plan},
    require_root,
};

#[test]
fn buffered_downlink_is_notified_once_and_delivered_in_order_after_the_far_changes() {
    require_root();
    let mut b = bed(&[]);
    b.smf.associate().expect("association");
    let mut req = smf::session_request(b.smf.node_id.clone(), &plan(0x70, 0x200));
    // The downlink FAR buffers and notifies; its BAR keeps at most 5 packets.
    let dl = &mut req.create_fars[1];
    dl.apply_action = ApplyAction::empty()
        .with(ApplyAction::BUFF)
        .with(ApplyAction::NOCP);
    dl.forwarding_parameters = None;
    dl.bar_id = Some(BarId(1));
    req.create_bar = Some(CreateBar {
        bar_id: BarId(1),
        suggested_buffering_packets_count: Some(SuggestedBufferingPacketsCount(5)),
        ..Default::default()
    });
    req.create_qers[0].paging_policy_indicator = Some(PagingPolicyIndicator(3));
    let (_, r) = b.smf.establish(req).expect("establishment");
    assert_eq!(r.cause.cause(), Some(Cause::RequestAccepted), "{r:?}");
    let (seid, _, _, ue) = smf::established(&r).expect("created");
    let ue = ue.unwrap();

    let dn = b
        .topo
        .dn
        .run(|| UdpSocket::bind((DN, 7000)))
        .expect("DN socket");
    let send = |from: u32, to: u32| {
        for i in from..to {
            dn.send_to(format!("dl {i}").as_bytes(), SocketAddr::from((ue, 5000)))
                .unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    send(0, 4);
    assert_eq!(b.smf.wait_reports(1, Duration::from_secs(2)).unwrap(), 1);
    send(4, 8);
    b.smf.recv(Duration::from_millis(300)).unwrap();
    assert_eq!(
        b.smf.reports.len(),
        1,
        "one Downlink Data Report until the SMF acts"
    );
    let (_, cp_seid, rep) = &b.smf.reports[0];
    assert_eq!(*cp_seid, 0x70);
    assert!(rep.report_type.has(ReportType::DLDR));
    let d = rep
        .downlink_data_report
        .as_ref()
        .expect("Downlink Data Report");
    assert_eq!(d.pdr_id.0, ids::PDR_DL);
    let info = d.downlink_data_service_information[0];
    assert_eq!((info.qfi, info.ppi), (Some(9), Some(3)));

    // The gNB listens; the SMF switches the FAR to forwarding (the UE was paged).
    let gnb = b
        .topo
        .gnb
        .run(|| UdpSocket::bind((GNB_V4, 2152)))
        .expect("gNB socket");
    gnb.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let m = b
        .smf
        .modify(
            seid,
            msg::SessionModificationRequest {
                update_fars: vec![smf::update_far_to_gnb(ids::FAR_DL, 0x200, GNB_V4)],
                ..Default::default()
            },
        )
        .expect("FORW");
    assert_eq!(m.cause.cause(), Some(Cause::RequestAccepted));
    send(8, 9);
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < 6 {
        let Ok((n, _)) = gnb.recv_from(&mut buf) else {
            break;
        };
        let g = &buf[..n];
        assert_eq!(u32::from_be_bytes([g[4], g[5], g[6], g[7]]), 0x200);
        let inner = &g[gtpu_header_len(g).unwrap()..];
        got.push(String::from_utf8_lossy(&inner[28..]).into_owned());
    }
    // The 5 newest of the 8 held (the BAR's count), in order, then the new one.
    assert_eq!(got, ["dl 3", "dl 4", "dl 5", "dl 6", "dl 7", "dl 8"]);
    let d = b.smf.delete(seid).expect("deletion");
    assert_eq!(d.cause.cause(), Some(Cause::RequestAccepted));
    let n4 = b.daemon.take().unwrap().stop().expect("stop");
    let s = n4.buffer_stats;
    assert_eq!((s.buffered, s.dropped_full, s.flushed, s.ddn), (8, 3, 5, 1));
    assert_eq!(s.flush_failed, 0, "every held packet was sent on");
    assert_eq!(n4.buffered(), 0);
}
