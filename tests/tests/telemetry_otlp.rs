//! Tier 3: OpenTelemetry over OTLP/gRPC to an in-process receiver (opentelemetry-proto's
//! generated server, not our code) in the UPF's namespace: after an SMF's session carried
//! traffic, the receiver holds one span per PFCP transaction with its message type and Cause,
//! and its child spans (decode, validate, southbound, and persist with a store) linked to it
//! and inside it in time; a span per API call; and metrics whose values are what the datapath
//! and N4 counted. With a sampling ratio of 0, refused transactions are still traced.

use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{metric, number_data_point},
};
use std::time::{Duration, Instant};
use upf_lb_testkit::{otlp_receiver::OtlpReceiver, smf, topology::ue_exchange_with};
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

/// An integer attribute (or one exported as a decimal string).
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

/// A bpf filesystem and a folder of the test's own (for `[state]`), removed when dropped.
struct StateDir(std::path::PathBuf);

impl StateDir {
    fn new(tag: &str) -> StateDir {
        let dir = std::env::temp_dir().join(format!("upf-lb-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bpf")).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(dir.join("bpf"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount bpffs");
        StateDir(dir)
    }

    fn section(&self) -> String {
        format!(
            "[state]\npin_dir = \"{}\"\ndb = \"{}\"\n\n[telemetry]",
            self.0.join("bpf").display(),
            self.0.join("state.redb").display()
        )
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.join("bpf"))
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two API calls in the UPF's namespace: statistics, and a session that does not exist.
fn api_calls(ns: &upf_lb_testkit::netns::Netns) {
    use upf_lb::northbound::pb::{self, upf_lb_client::UpfLbClient};
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut c = UpfLbClient::connect("http://127.0.0.1:50051")
                .await
                .expect("API");
            c.get_stats(pb::StatsRequest {}).await.expect("stats");
            let e = c
                .get_session(pb::GetSessionRequest { up_seid: 0xdead })
                .await
                .expect_err("no such session");
            assert_eq!(e.code(), tonic::Code::NotFound);
        });
    });
}

fn nanos(s: &opentelemetry_proto::tonic::trace::v1::Span) -> (u64, u64) {
    (s.start_time_unix_nano, s.end_time_unix_nano)
}

#[test]
fn pfcp_transactions_become_spans_and_counters_become_otlp_metrics() {
    require_root();
    let state = StateDir::new("otlp");
    let section = state.section();
    let mut b = bed(&[
        (
            "# otlp_endpoint = \"http://127.0.0.1:4317\"",
            "otlp_endpoint = \"http://127.0.0.1:4317\"",
        ),
        ("[telemetry]", &section),
    ]);
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
    assert!(est.parent_span_id.is_empty(), "a root span");
    let kids: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == est.span_id && s.trace_id == est.trace_id)
        .collect();
    let children: Vec<&str> = kids.iter().map(|s| s.name.as_str()).collect();
    for c in ["decode", "validate", "southbound", "persist"] {
        assert!(
            children.contains(&c),
            "{c} under the transaction: {children:?}"
        );
    }
    // Children inside the transaction in time, in order: decode, validate, southbound, then
    // the commit the answer waited for.
    let (s0, e0) = nanos(&est);
    assert!(s0 < e0);
    let mut last = s0;
    for c in ["decode", "validate", "southbound", "persist"] {
        let k = kids.iter().find(|k| k.name == c).unwrap();
        let (s, e) = nanos(k);
        assert!(
            s >= last && s <= e && e <= e0,
            "{c}: {s}..{e} in {s0}..{e0}"
        );
        last = e;
    }
    let sb = kids.iter().find(|k| k.name == "southbound").unwrap();
    assert_eq!(
        string_attr(&sb.attributes, "op").as_deref(),
        Some("install")
    );

    // One span per API call, with its method.
    api_calls(&b.topo.upf);
    let t0 = Instant::now();
    loop {
        let spans = got.spans();
        let methods: Vec<String> = spans
            .iter()
            .filter(|s| s.name == "api")
            .filter_map(|s| string_attr(&s.attributes, "rpc.method"))
            .collect();
        if methods.iter().any(|m| m == "get_stats") && methods.iter().any(|m| m == "get_session") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "API spans: {methods:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
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
        // Per interface, direction and QoS Flow (the only flow: QFI 9).
        let fwd = latest(
            &m,
            "upf_lb.forwarded.packets",
            &[("interface", "n3"), ("direction", "uplink")],
        );
        if sessions == Some(1.0) && up == 3.0 && setup == Some(1.0) && fwd == Some(3.0) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "metrics: sessions {sessions:?}, uplink packets {up}, association setups {setup:?}, forwarded on n3 {fwd:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn with_sampling_off_refused_transactions_are_still_traced() {
    require_root();
    let mut b = bed(&[
        (
            "# otlp_endpoint = \"http://127.0.0.1:4317\"",
            "otlp_endpoint = \"http://127.0.0.1:4317\"",
        ),
        ("# trace_sample_ratio = 1.0", "trace_sample_ratio = 0.0"),
    ]);
    let got =
        OtlpReceiver::start(&format!("/run/netns/{}", b.topo.upf.name())).expect("OTLP receiver");
    b.smf.associate().expect("association");
    let (_, r) = b
        .smf
        .establish(smf::session_request(
            b.smf.node_id.clone(),
            &plan(0x91, 0x201),
        ))
        .expect("establishment");
    smf::established(&r).expect("accepted");
    // No such session: Cause 65, Session context not found.
    let d = b.smf.delete(0xdead).expect("deletion answered");
    assert_eq!(d.cause.0, 65);
    let t0 = Instant::now();
    let spans = loop {
        let spans = got.spans();
        if spans.iter().any(|s| {
            string_attr(&s.attributes, "message").as_deref() == Some("session_deletion_request")
        }) {
            break spans;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no span for the refused deletion: {spans:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Exports leave in batches: everything that finished before the deletion has been sent.
    std::thread::sleep(Duration::from_millis(500));
    let spans = if got.spans().len() > spans.len() {
        got.spans()
    } else {
        spans
    };
    let pfcp: Vec<String> = spans
        .iter()
        .filter(|s| s.name == "pfcp")
        .filter_map(|s| string_attr(&s.attributes, "message"))
        .collect();
    assert_eq!(
        pfcp,
        vec!["session_deletion_request".to_string()],
        "only the refusal"
    );
    let del = spans.iter().find(|s| s.name == "pfcp").unwrap();
    assert_eq!(int_attr(&del.attributes, "cause"), Some(65));
}
