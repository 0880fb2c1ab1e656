//! Tier 3: OpenTelemetry over OTLP/gRPC to an in-process receiver (opentelemetry-proto's
//! generated server, not our code) in the UPF's namespace: after an SMF's session carried
//! traffic, the receiver holds one span per PFCP transaction with its message type and Cause,
//! and its child spans (decode, validate, southbound) linked to it; and metrics whose values
//! are what the datapath and N4 counted.

use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{metric, number_data_point},
};
use std::time::{Duration, Instant};
use upf_lb::{demo::ue_exchange_with, otlp_receiver::OtlpReceiver, smf};
use upf_lb_tests::{n4::bed, n4::plan, require_root};

fn attr<'a>(a: &'a [KeyValue], k: &str) -> Option<&'a any_value::Value> {
    a.iter()
        .find(|x| x.key == k)
        .and_then(|x| x.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string_attr(a: &[KeyValue], k: &str) -> Option<String> {
    match attr(a, k) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An integer attribute (tracing-opentelemetry exports u64 fields as decimal strings).
fn int_attr(a: &[KeyValue], k: &str) -> Option<i64> {
    match attr(a, k) {
        Some(any_value::Value::IntValue(v)) => Some(*v),
        Some(any_value::Value::StringValue(s)) => s.parse().ok(),
        _ => None,
    }
}

/// The latest value of a metric's data point with `labels`.
fn latest(m: &[ExportMetricsServiceRequest], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut v = None;
    for r in m {
        for rm in &r.resource_metrics {
            for sm in &rm.scope_metrics {
                for x in sm.metrics.iter().filter(|x| x.name == name) {
                    let points = match &x.data {
                        Some(metric::Data::Sum(s)) => &s.data_points,
                        Some(metric::Data::Gauge(g)) => &g.data_points,
                        _ => continue,
                    };
                    for p in points {
                        if labels.iter().all(|(k, want)| {
                            string_attr(&p.attributes, k).as_deref() == Some(*want)
                        }) {
                            v = match p.value {
                                Some(number_data_point::Value::AsInt(i)) => Some(i as f64),
                                Some(number_data_point::Value::AsDouble(d)) => Some(d),
                                None => v,
                            };
                        }
                    }
                }
            }
        }
    }
    v
}

#[test]
fn pfcp_transactions_become_spans_and_counters_become_otlp_metrics() {
    require_root();
    let mut b = bed(&[(
        "# otlp_endpoint = \"http://127.0.0.1:4317\"",
        "otlp_endpoint = \"http://127.0.0.1:4317\"",
    )]);
    // The daemon started first and exports from then on; the receiver comes up before any
    // PFCP happens (an exporter retries what it could not send).
    let got =
        OtlpReceiver::start(&format!("/run/netns/{}", b.topo.upf.name())).expect("OTLP receiver");
    b.smf.associate().expect("association");
    let (_, r) = b
        .smf
        .establish(smf::session_request(
            b.smf.node_id.clone(),
            &plan(0x90, 0x200),
        ))
        .expect("establishment");
    let (_, teid, _, ue) = smf::established(&r).unwrap();
    let x = ue_exchange_with(&b.topo, ue.unwrap(), teid, 3, 0, Duration::from_secs(2)).unwrap();
    assert_eq!(x.at_dn.len(), 3);

    // Spans: batches leave every 200 ms.
    let t0 = Instant::now();
    let est = loop {
        let spans = got.spans();
        if let Some(s) = spans.iter().find(|s| {
            s.name == "pfcp"
                && string_attr(&s.attributes, "message").as_deref()
                    == Some("session_establishment_request")
        }) {
            break (s.clone(), spans);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no establishment span: {spans:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (est, spans) = est;
    assert_eq!(
        int_attr(&est.attributes, "cause"),
        Some(1),
        "Request accepted"
    );
    assert_eq!(int_attr(&est.attributes, "seq"), Some(2));
    let children: Vec<&str> = spans
        .iter()
        .filter(|s| s.parent_span_id == est.span_id && s.trace_id == est.trace_id)
        .map(|s| s.name.as_str())
        .collect();
    for c in ["decode", "validate", "southbound"] {
        assert!(
            children.contains(&c),
            "{c} under the transaction: {children:?}"
        );
    }
    assert!(spans.iter().any(|s| s.name == "pfcp"
        && string_attr(&s.attributes, "message").as_deref() == Some("association_setup_request")));

    // Metrics: every second, from the owner's snapshot.
    let t0 = Instant::now();
    loop {
        let m = got.metrics();
        let sessions = latest(&m, "upf_lb.sessions", &[]);
        let up: f64 = ["uplink_redirect", "uplink_to_kernel"]
            .iter()
            .filter_map(|r| latest(&m, "upf_lb.datapath.packets", &[("reason", r)]))
            .sum();
        let setup = latest(
            &m,
            "upf_lb.pfcp.requests",
            &[("message", "association_setup_request")],
        );
        if sessions == Some(1.0) && up == 3.0 && setup == Some(1.0) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "metrics: sessions {sessions:?}, uplink packets {up}, association setups {setup:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
