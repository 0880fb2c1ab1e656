//! `upf-lb run --log-json` with spans exported: every log line is a JSON object, and a line
//! logged inside a PFCP transaction carries the OpenTelemetry trace and span IDs of its span,
//! which the collector (an OTLP receiver) then holds, while one logged outside any span
//! carries none.

use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use upf_lb::southbound::GtpDatapath;
use upf_lb_testkit::{
    fixtures::{GNB_V4, UPF_V4},
    smf::Smf,
    topology::Topology,
};

#[test]
fn json_log_lines_inside_a_pfcp_transaction_carry_its_trace_id() {
    assert!(
        upf_lb_testkit::netns::is_root(),
        "needs root (eBPF, namespaces)"
    );
    let dir = std::env::temp_dir().join(format!("upf-lb-json-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("upf-lb.toml");
    // Spans are made and exported to a collector in the namespace.
    let text = upf_lb::config::DEFAULT.replacen(
        "# otlp_endpoint = \"http://127.0.0.1:4317\"",
        "otlp_endpoint = \"http://127.0.0.1:4317\"",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let mut noop = GtpDatapath::load().expect("load bpf-gtp");
    let topo = Topology::bare(&mut noop).expect("topology");
    let collector = upf_lb_testkit::otlp_receiver::OtlpReceiver::start(&format!(
        "/run/netns/{}",
        topo.upf.name()
    ))
    .expect("OTLP receiver");
    let d = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", topo.upf.name()))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_upf-lb"))
        .args(["run", "--log-json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("upf-lb run");
    let mut d = upf_lb_testkit::netns::Reaped(d);
    let err = d.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut lines: Vec<Value> = Vec::new();
    let wait_for = |what: &str, lines: &mut Vec<Value>| -> Value {
        let t0 = Instant::now();
        loop {
            if let Some(v) = lines.iter().find(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(what))
            }) {
                return v.clone();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "no log line with {what:?}: {lines:?}"
            );
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                lines.push(
                    serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")),
                );
            }
        }
    };
    let listening = wait_for("N4 listening", &mut lines);
    assert!(
        listening.get("trace_id").is_none(),
        "outside any span: {listening}"
    );
    assert_eq!(listening["level"].as_str(), Some("INFO"));
    let mut smf = topo
        .gnb
        .run(|| {
            Smf::new(
                SocketAddr::from((GNB_V4, 8805)),
                SocketAddr::from((UPF_V4, 8805)),
                7,
            )
        })
        .unwrap();
    smf.associate().expect("association");
    let set_up = wait_for("PFCP association set up", &mut lines);
    let trace = set_up["trace_id"].as_str().expect("a trace ID");
    assert_eq!(trace.len(), 32);
    assert_ne!(trace, "0".repeat(32));
    assert_eq!(set_up["span_id"].as_str().map(str::len), Some(16));
    assert_eq!(set_up["spans"][0].as_str(), Some("pfcp"));
    // The span the line names is the one exported.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let span = set_up["span_id"].as_str().unwrap();
    let t0 = Instant::now();
    loop {
        let spans = collector.spans();
        if let Some(s) = spans
            .iter()
            .find(|s| hex(&s.trace_id) == trace && hex(&s.span_id) == span)
        {
            assert_eq!(s.name, "pfcp");
            assert!(s.parent_span_id.is_empty());
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no exported span {trace}/{span}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = upf_lb_testkit::netns::signal_and_wait(&mut d, libc::SIGTERM, Duration::from_secs(10));
    assert!(st.unwrap().is_some(), "daemon did not stop");
    drop(topo);
    let _ = std::fs::remove_dir_all(&dir);
}
