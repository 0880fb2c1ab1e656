//! Tier 3: the daemon's Prometheus endpoint, read by a real parser (the prometheus-parse
//! crate) after an SMF's session carried traffic: PFCP requests per type and Cause, sessions,
//! associations, map occupancy, datapath packets per reason and forwarded packets and bytes
//! per interface, direction and QFI equal to what the session's URR counted, and every number
//! the same as the management API's.

use pfcp::ie::{grouped::QueryUrr, simple::UrrId};
use prometheus_parse::{Sample, Scrape, Value};
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};
use upf_lb_testkit::{
    smf::{self, ids},
    topology::ue_exchange_with,
};
use upf_lb_tests::{
    n4::{api_stats, bed, plan},
    require_root,
};

fn scrape(b: &upf_lb_tests::n4::Bed) -> Scrape {
    let text = b.topo.upf.run(|| {
        let mut c = TcpStream::connect(("192.0.2.2", 9464)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: upf\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    });
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let m: Vec<&Sample> = s
        .samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(m.len(), 1, "{name} {labels:?}: {m:?}");
    match m[0].value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => panic!("{name}: not a number"),
    }
}

/// The datapath's counters of a scrape, as comparable text (labels in order).
fn datapath(s: &Scrape) -> std::collections::BTreeSet<String> {
    s.samples
        .iter()
        .filter(|x| x.metric.starts_with("upf_lb_datapath_"))
        .map(|x| {
            let labels: std::collections::BTreeMap<_, _> = x.labels.iter().collect();
            format!("{} {labels:?} {:?}", x.metric, x.value)
        })
        .collect()
}

/// The management API's statistics and a scrape taken after them whose datapath counters are
/// those of the scrape `before` (nothing counted while the API was read); tried 10 times
/// at most, 200 ms apart.
fn quiescent(
    b: &upf_lb_tests::n4::Bed,
    mut before: Scrape,
) -> (Scrape, upf_lb::northbound::pb::StatsReply) {
    for _ in 0..10 {
        let api = api_stats(b);
        let after = scrape(b);
        if datapath(&after) == datapath(&before) {
            return (after, api);
        }
        before = after;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the datapath's counters never stood still for one API read in 2 s");
}

#[test]
fn the_prometheus_endpoint_counts_what_the_datapath_and_n4_did() {
    require_root();
    let mut b = bed(&[(
        "# prometheus_listen = \"127.0.0.1:9464\"",
        "prometheus_listen = \"192.0.2.2:9464\"",
    )]);
    b.smf.associate().expect("association");
    let (_, r) = b
        .smf
        .establish(smf::session_request(
            b.smf.node_id.clone(),
            &plan(0x80, 0x200),
        ))
        .expect("establishment");
    let (seid, teid, _, ue) = smf::established(&r).unwrap();
    let x = ue_exchange_with(&b.topo, ue.unwrap(), teid, 5, 0, Duration::from_secs(2)).unwrap();
    assert_eq!((x.at_dn.len(), x.at_gnb.len()), (5, 5));
    let q = b
        .smf
        .modify(
            seid,
            pfcp::message::SessionModificationRequest {
                query_urrs: vec![QueryUrr {
                    urr_id: UrrId(ids::URR),
                    unknown: vec![],
                }],
                ..Default::default()
            },
        )
        .unwrap();
    let v = q.usage_reports[0].volume_measurement.unwrap();
    let s = scrape(&b);
    let req = |m: &str, c: &str| {
        value(
            &s,
            "upf_lb_pfcp_requests_total",
            &[("message", m), ("cause", c)],
        )
    };
    assert_eq!(req("association_setup_request", "1"), 1.0);
    assert_eq!(req("session_establishment_request", "1"), 1.0);
    assert_eq!(req("session_modification_request", "1"), 1.0);
    assert_eq!(value(&s, "upf_lb_sessions", &[]), 1.0);
    assert_eq!(value(&s, "upf_lb_associations", &[]), 1.0);
    assert_eq!(value(&s, "upf_lb_map_entries", &[("map", "PDRS")]), 2.0);
    assert_eq!(value(&s, "upf_lb_map_entries", &[("map", "FARS")]), 2.0);
    // The datapath's counters agree with the URR's: every uplink packet is one of these.
    let up: f64 = ["uplink_redirect", "uplink_to_kernel"]
        .iter()
        .map(|r| value(&s, "upf_lb_datapath_packets_total", &[("reason", r)]))
        .sum();
    let down: f64 = ["downlink_redirect", "downlink_to_kernel"]
        .iter()
        .map(|r| value(&s, "upf_lb_datapath_packets_total", &[("reason", r)]))
        .sum();
    assert_eq!(up, v.uplink_packets.unwrap() as f64);
    assert_eq!(down, v.downlink_packets.unwrap() as f64);
    assert_eq!(up, 5.0);
    // Per interface, direction and QoS Flow: the gNB sends QFI 9, the QER marks QFI 9.
    let fwd = |ifc: &str, dir: &str, what: &str| {
        value(
            &s,
            &format!("upf_lb_forwarded_{what}_total"),
            &[("interface", ifc), ("direction", dir), ("qfi", "9")],
        )
    };
    assert_eq!(fwd("n3", "uplink", "packets"), 5.0);
    assert_eq!(fwd("n6", "downlink", "packets"), 5.0);
    assert_eq!(fwd("n3", "uplink", "bytes"), v.uplink.unwrap() as f64);
    assert_eq!(fwd("n6", "downlink", "bytes"), v.downlink.unwrap() as f64);
    // The API says the same, read between two scrapes that agree: the namespaces' own
    // traffic (the kernel's IPv6 MLD reports and router solicitations, at moments of its
    // choosing) may be counted between one read and the other.
    let (s, api) = quiescent(&b, s.clone());
    assert_eq!(api.sessions as f64, value(&s, "upf_lb_sessions", &[]));
    assert_eq!(
        api.associations as f64,
        value(&s, "upf_lb_associations", &[])
    );
    for r in api.reasons.iter().filter(|r| r.packets > 0) {
        let l = [("reason", r.reason.as_str())];
        assert_eq!(
            r.packets as f64,
            value(&s, "upf_lb_datapath_packets_total", &l)
        );
        assert_eq!(r.bytes as f64, value(&s, "upf_lb_datapath_bytes_total", &l));
    }
    assert_eq!(api.qfis.len(), 2, "{:?}", api.qfis);
    for q in &api.qfis {
        let l = [
            ("interface", q.interface.as_str()),
            ("direction", q.direction.as_str()),
            ("qfi", &q.qfi.to_string()),
        ];
        assert_eq!(
            q.packets as f64,
            value(&s, "upf_lb_forwarded_packets_total", &l)
        );
        assert_eq!(
            q.bytes as f64,
            value(&s, "upf_lb_forwarded_bytes_total", &l)
        );
    }
    for p in &api.pfcp {
        let c = p.cause.to_string();
        assert_eq!(p.count as f64, req(&p.message, &c));
    }
    // Anything but GET /metrics is a 404.
    let other = b.topo.upf.run(|| {
        let mut c = TcpStream::connect(("192.0.2.2", 9464)).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: upf\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    });
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");

    // One connection kept alive for three requests: Prometheus text, HEAD, OpenMetrics.
    let (text, head, om) = b.topo.upf.run(|| {
        let c = TcpStream::connect(("192.0.2.2", 9464)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = std::io::BufReader::new(c.try_clone().unwrap());
        let mut w = c;
        let mut ask = |req: &str, body: bool| {
            w.write_all(req.as_bytes()).unwrap();
            response(&mut r, body)
        };
        let text = ask("GET /metrics HTTP/1.1\r\nHost: upf\r\n\r\n", true);
        let head = ask("HEAD /metrics HTTP/1.1\r\nHost: upf\r\n\r\n", false);
        let om = ask(
            "GET /metrics HTTP/1.1\r\nHost: upf\r\nAccept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3\r\n\r\n",
            true,
        );
        (text, head, om)
    });
    assert!(
        text.0.contains("content-type: text/plain; version=0.0.4"),
        "{}",
        text.0
    );
    assert!(!text.1.contains("# EOF"));
    assert!(head.0.starts_with("http/1.1 200"), "{}", head.0);
    assert!(head.1.is_empty(), "HEAD has no body");
    assert!(
        om.0.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{}",
        om.0
    );
    assert!(om.1.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    // The same samples in both formats (OpenMetrics: counters TYPEd without _total).
    let samples = |t: &str| -> std::collections::BTreeSet<String> {
        t.lines()
            .filter(|l| {
                l.starts_with("upf_lb_sessions") || l.starts_with("upf_lb_pfcp_requests_total")
            })
            .map(str::to_string)
            .collect()
    };
    assert!(!samples(&text.1).is_empty());
    assert_eq!(samples(&text.1), samples(&om.1));
    assert!(
        om.1.contains("# TYPE upf_lb_pfcp_requests counter"),
        "{}",
        om.1
    );
}

/// One HTTP/1.1 response from `r`: its head (header names in lower case) and its body
/// (`Content-Length` bytes; none for a HEAD).
fn response(r: &mut impl std::io::BufRead, body: bool) -> (String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "connection closed after {head:?}"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut b = vec![0u8; if body { len } else { 0 }];
    r.read_exact(&mut b).unwrap();
    (head.replace("\r\n", "\n"), String::from_utf8(b).unwrap())
}
