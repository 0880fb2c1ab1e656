//! Tier 3: usage reporting over real sockets in namespaces (TS 29.244 5.2.2): Session Report
//! Requests for a volume threshold crossed by real traffic (with a linked URR), periodic
//! reports on time, and quotas (volume and time) that stop the traffic until the SMF gives
//! more.

use pfcp::{
    Cause,
    ie::{
        grouped::{CreateUrr, UpdateUrr, UsageReport},
        simple::{
            LinkedUrrId, MeasurementMethod, MeasurementPeriod, ReportType, ReportingTriggers,
            TimeQuota, UrrId, UsageReportTrigger,
        },
        usage::Volume,
    },
    message as msg,
};
use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};
use upf_lb_testkit::{
    smf::{self, Smf},
    topology::ue_exchange_with,
};
use upf_lb_tests::{
    n4::{Bed, bed, plan},
    require_root,
};

/// Bytes one exchange counts: the UE's datagram up and the DN's echo down, inner IPv4 + UDP +
/// `PAYLOAD` bytes each.
const PAYLOAD: usize = 200;
const EXCHANGE: u64 = 2 * (28 + PAYLOAD as u64);

fn urr(id: u32, triggers: ReportingTriggers) -> CreateUrr {
    CreateUrr {
        urr_id: UrrId(id),
        measurement_method: MeasurementMethod::empty().with(MeasurementMethod::VOLUM),
        reporting_triggers: triggers,
        ..Default::default()
    }
}

/// Establishes the typical session with `urrs` in place of its URR (every PDR counts on all of
/// them); returns (UP SEID, uplink TEID, UE).
fn establish(smf: &mut Smf, cp_seid: u64, urrs: Vec<CreateUrr>) -> (u64, u32, Ipv4Addr) {
    let mut req = smf::session_request(smf.node_id.clone(), &plan(cp_seid, 0x200));
    let ids: Vec<UrrId> = urrs.iter().map(|u| u.urr_id).collect();
    req.create_urrs = urrs;
    for p in &mut req.create_pdrs {
        p.urr_ids = ids.clone();
    }
    let (_, r) = smf.establish(req).expect("establishment");
    assert_eq!(r.cause.cause(), Some(Cause::RequestAccepted), "{r:?}");
    let (seid, teid, _, ue) = smf::established(&r).expect("created");
    (seid, teid, ue.expect("UE"))
}

/// `n` exchanges, 30 ms apart; returns how many reached the DN.
fn exchanges(b: &Bed, ue: Ipv4Addr, teid: u32, n: u16) -> usize {
    let mut at_dn = 0;
    for _ in 0..n {
        let x = ue_exchange_with(&b.topo, ue, teid, 1, PAYLOAD, Duration::from_millis(300))
            .expect("traffic");
        at_dn += x.at_dn.len();
        std::thread::sleep(Duration::from_millis(30));
    }
    at_dn
}

fn usage(r: &msg::SessionReportRequest, urr: u32) -> &UsageReport {
    r.usage_reports
        .iter()
        .find(|u| u.urr_id.0 == urr)
        .unwrap_or_else(|| panic!("no usage report of URR {urr}: {r:?}"))
}

fn total(u: &UsageReport) -> u64 {
    u.volume_measurement
        .and_then(|v| v.total)
        .expect("total volume")
}

#[test]
fn a_volume_threshold_crossed_by_traffic_is_reported_with_its_linked_urr() {
    require_root();
    let mut b = bed(&[]);
    b.smf.associate().expect("association");
    let threshold = 1000;
    let mut main = urr(1, ReportingTriggers::empty().with(ReportingTriggers::VOLTH));
    main.volume_threshold = Some(Volume {
        total: Some(threshold),
        uplink: None,
        downlink: None,
    });
    let mut linked = urr(2, ReportingTriggers::empty().with(ReportingTriggers::LIUSA));
    linked.linked_urr_ids = vec![LinkedUrrId(1)];
    let (seid, teid, ue) = establish(&mut b.smf, 0x61, vec![main, linked]);

    let n = 6;
    assert_eq!(exchanges(&b, ue, teid, n), usize::from(n));
    let sent = u64::from(n) * EXCHANGE;
    // 2736 bytes cross 1000 twice (every report restarts the measurement).
    assert_eq!(b.smf.wait_reports(2, Duration::from_secs(3)).unwrap(), 2);
    b.smf.recv(Duration::from_millis(300)).unwrap();
    assert_eq!(b.smf.reports.len(), 2, "one report per crossing");
    let mut reported = 0;
    for (i, (_, cp_seid, r)) in b.smf.reports.iter().enumerate() {
        assert_eq!(*cp_seid, 0x61, "the CP SEID");
        assert!(r.report_type.has(ReportType::USAR));
        let u = usage(r, 1);
        assert!(u.usage_report_trigger.has(UsageReportTrigger::VOLTH));
        assert_eq!(u.ur_seqn.0, i as u32);
        // At the crossing, or a packet later (the DN's echo may be counted before we read).
        let v = total(u);
        assert!(
            (threshold..threshold + EXCHANGE).contains(&v),
            "report {i}: {v} bytes for a threshold of {threshold}"
        );
        reported += v;
        let l = usage(r, 2);
        assert!(l.usage_report_trigger.has(UsageReportTrigger::LIUSA));
        assert_eq!(total(l), v, "the linked URR counts the same packets");
    }
    // Nothing lost: the reports and the final usage add up to the traffic.
    let d = b.smf.delete(seid).expect("deletion");
    let last = d.usage_reports.iter().find(|u| u.urr_id.0 == 1).unwrap();
    assert_eq!(reported + total(last), sent);
}

#[test]
fn periodic_reports_arrive_on_time() {
    require_root();
    let mut b = bed(&[]);
    b.smf.associate().expect("association");
    let mut u = urr(1, ReportingTriggers::empty().with(ReportingTriggers::PERIO));
    u.measurement_period = Some(MeasurementPeriod(1));
    let t0 = Instant::now();
    let (seid, teid, ue) = establish(&mut b.smf, 0x62, vec![u]);
    assert_eq!(exchanges(&b, ue, teid, 2), 2);
    assert_eq!(
        b.smf.wait_reports(3, Duration::from_millis(3500)).unwrap(),
        3
    );
    for (i, (at, _, r)) in b.smf.reports.iter().enumerate() {
        let u = usage(r, 1);
        assert!(u.usage_report_trigger.has(UsageReportTrigger::PERIO));
        assert_eq!(u.ur_seqn.0, i as u32);
        let due = Duration::from_secs(i as u64 + 1);
        let late = at.duration_since(t0).abs_diff(due);
        assert!(
            late < Duration::from_millis(250),
            "report {i} at {:?}",
            at.duration_since(t0)
        );
    }
    // The traffic was in the first period only.
    assert_eq!(total(usage(&b.smf.reports[0].2, 1)), 2 * EXCHANGE);
    assert_eq!(total(usage(&b.smf.reports[1].2, 1)), 0);
    b.smf.delete(seid).expect("deletion");
}

#[test]
fn a_volume_quota_runs_out_traffic_stops_and_a_new_quota_lets_it_flow() {
    require_root();
    let mut b = bed(&[]);
    b.smf.associate().expect("association");
    let mut u = urr(1, ReportingTriggers::empty().with(ReportingTriggers::VOLQU));
    let quota = |q: u64| Volume {
        total: Some(q),
        uplink: None,
        downlink: None,
    };
    u.volume_quota = Some(quota(1000));
    let (seid, teid, ue) = establish(&mut b.smf, 0x63, vec![u]);
    // 1000 bytes: two exchanges (912) fit, the third crosses; then nothing passes.
    assert_eq!(exchanges(&b, ue, teid, 3), 3);
    assert_eq!(b.smf.wait_reports(1, Duration::from_secs(2)).unwrap(), 1);
    let r = usage(&b.smf.reports[0].2, 1).clone();
    assert!(r.usage_report_trigger.has(UsageReportTrigger::VOLQU));
    assert!((1000..1000 + EXCHANGE).contains(&total(&r)), "{r:?}");
    assert_eq!(exchanges(&b, ue, teid, 3), 0, "out of quota: dropped");
    // The SMF grants more: traffic flows again.
    let m = b
        .smf
        .modify(
            seid,
            msg::SessionModificationRequest {
                update_urrs: vec![UpdateUrr {
                    urr_id: UrrId(1),
                    volume_quota: Some(quota(100_000)),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .expect("new quota");
    assert_eq!(m.cause.cause(), Some(Cause::RequestAccepted));
    assert_eq!(exchanges(&b, ue, teid, 2), 2);
    b.smf.delete(seid).expect("deletion");
}

#[test]
fn a_time_quota_runs_out() {
    require_root();
    let mut b = bed(&[]);
    b.smf.associate().expect("association");
    let mut u = urr(1, ReportingTriggers::empty().with(ReportingTriggers::TIMQU));
    u.measurement_method = MeasurementMethod::empty()
        .with(MeasurementMethod::VOLUM)
        .with(MeasurementMethod::DURAT);
    u.time_quota = Some(TimeQuota(1));
    let t0 = Instant::now();
    let (seid, teid, ue) = establish(&mut b.smf, 0x64, vec![u]);
    assert_eq!(exchanges(&b, ue, teid, 1), 1);
    assert_eq!(b.smf.wait_reports(1, Duration::from_secs(3)).unwrap(), 1);
    let (at, _, r) = &b.smf.reports[0];
    assert!(
        usage(r, 1)
            .usage_report_trigger
            .has(UsageReportTrigger::TIMQU)
    );
    assert!(at.duration_since(t0) >= Duration::from_millis(900));
    assert_eq!(exchanges(&b, ue, teid, 2), 0, "out of time: dropped");
    b.smf.delete(seid).expect("deletion");
}
