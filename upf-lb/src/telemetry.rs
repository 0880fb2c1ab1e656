//! Metrics in the Prometheus text exposition format or OpenMetrics, by the scraper's Accept
//! header (prometheus-client writes both; what every Kubernetes cluster scrapes):
//! the datapath's packets and bytes per reason and verdict (names from the bpf-abi reason
//! enum, one source of names), PFCP requests and their handling time per message type and
//! Cause, sessions, associations, buffered packets, and map occupancy against capacity.
//! Per-CPU counters are summed here, in userspace; reading them costs the datapath nothing.

use crate::n4::{N4, trace::message_name};

/// The text format of a scrape, by the scraper's `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text exposition format, version 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it ranks
    /// `application/openmetrics-text` at least as high as `text/plain` (or lists only it),
    /// else Prometheus 0.0.4 (also without a header).
    pub fn from_accept(accept: Option<&str>) -> Format {
        let (mut om, mut text) = (None::<f32>, None::<f32>);
        for item in accept.unwrap_or("").split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "application/openmetrics-text" => &mut om,
                "text/plain" | "*/*" | "text/*" => &mut text,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |v| v.max(q)));
        }
        match (om, text) {
            (Some(o), t) if o > 0.0 && o >= t.unwrap_or(0.0) => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// Its Content-Type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A scrape's metrics, registered in the order they are written.
struct Metrics(prometheus_client::registry::Registry);

type Labels = Vec<(&'static str, String)>;

impl Metrics {
    /// Help text as prometheus-client wants it (it adds the full stop).
    fn help(help: &str) -> &str {
        help.strip_suffix('.').unwrap_or(help)
    }

    /// A counter family `name` (ending in `_total`, which the encoder writes itself).
    fn counter(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels, u64)>,
    ) {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let f = Family::<Labels, Counter>::default();
        for (l, v) in samples {
            f.get_or_create(&l).inc_by(v);
        }
        let base = name
            .strip_suffix("_total")
            .expect("a counter's name ends in _total");
        self.0.register(base, Self::help(help), f);
    }

    /// A counter family of seconds (fractional).
    fn seconds(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        use std::sync::atomic::AtomicU64;
        let f = Family::<Labels, Counter<f64, AtomicU64>>::default();
        for (l, v) in samples {
            f.get_or_create(&l).inc_by(v);
        }
        let base = name
            .strip_suffix("_total")
            .expect("a counter's name ends in _total");
        self.0.register(base, Self::help(help), f);
    }

    /// A gauge family.
    fn gauges(&mut self, name: &str, help: &str, samples: impl IntoIterator<Item = (Labels, u64)>) {
        use prometheus_client::metrics::{family::Family, gauge::Gauge};
        use std::sync::atomic::AtomicU64;
        let f = Family::<Labels, Gauge<u64, AtomicU64>>::default();
        for (l, v) in samples {
            f.get_or_create(&l).set(v);
        }
        self.0.register(name, Self::help(help), f);
    }

    /// A gauge without labels.
    fn gauge(&mut self, name: &str, help: &str, v: u64) {
        use prometheus_client::metrics::gauge::Gauge;
        use std::sync::atomic::AtomicU64;
        let g = Gauge::<u64, AtomicU64>::default();
        g.set(v);
        self.0.register(name, Self::help(help), g);
    }

    fn encode(&self, format: Format) -> String {
        let mut o = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut o, &self.0)
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut o, &self.0),
        };
        o
    }
}

fn l(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// The interface and direction labels of an ingress of the QFI counters.
pub fn ingress_labels(i: bpf_abi::counters::Ingress) -> (&'static str, &'static str) {
    match i {
        bpf_abi::counters::Ingress::N3 => ("n3", "uplink"),
        bpf_abi::counters::Ingress::N6 => ("n6", "downlink"),
    }
}

/// Packets forwarded per interface, direction and QFI: (interface, direction, qfi, packets,
/// bytes); empty when the datapath cannot be read.
pub fn qfi_counts(n4: &N4) -> Vec<(&'static str, &'static str, u8, u64, u64)> {
    n4.dp
        .qfi_counters()
        .map(|v| {
            v.into_iter()
                .map(|(i, q, c)| {
                    let (ifc, dir) = ingress_labels(i);
                    (ifc, dir, q, c.packets, c.bytes)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The load balancer's backends: traffic and health, from the API's view of it.
fn lb_families(m: &mut Metrics, n4: &N4) {
    let Some(r) = n4.lb_view() else {
        return;
    };
    let mut lines = Vec::new();
    for s in &r.services {
        for b in &s.backends {
            let base = l(&[
                ("service", &s.index.to_string()),
                ("backend", &b.addrs.join(",")),
            ]);
            lines.push((
                base,
                b.packets_to,
                b.bytes_to,
                b.packets_from,
                b.bytes_from,
                b.up,
            ));
        }
    }
    let with_dir = |base: &Labels, d: &str| {
        let mut x = base.clone();
        x.push(("direction", d.to_string()));
        x
    };
    m.counter(
        "upf_lb_lb_backend_packets_total",
        "Packets the load balancer sent to a backend (direction=to) or from it (from).",
        lines.iter().flat_map(|(b, pt, _, pf, _, _)| {
            [(with_dir(b, "to"), *pt), (with_dir(b, "from"), *pf)]
        }),
    );
    m.counter(
        "upf_lb_lb_backend_bytes_total",
        "Bytes (IP) the load balancer sent to a backend (direction=to) or from it (from).",
        lines.iter().flat_map(|(b, _, bt, _, bf, _)| {
            [(with_dir(b, "to"), *bt), (with_dir(b, "from"), *bf)]
        }),
    );
    m.gauges(
        "upf_lb_lb_backend_up",
        "1 while a backend passes its health checks (or is not checked), else 0.",
        lines.iter().map(|(b, .., up)| (b.clone(), u64::from(*up))),
    );
}

/// The metrics of `n4` and its datapath, as text in `format`.
pub fn prometheus(n4: &N4, format: Format) -> String {
    let mut m = Metrics(prometheus_client::registry::Registry::default());
    if let Ok(counters) = n4.datapath_counters() {
        let rv = |r: &bpf_abi::Reason| l(&[("reason", r.name()), ("verdict", r.verdict().name())]);
        m.counter(
            "upf_lb_datapath_packets_total",
            "Packets the eBPF programs handled, by outcome reason and verdict.",
            counters.iter().map(|(r, c)| (rv(r), c.packets)),
        );
        lb_families(&mut m, n4);
        m.counter(
            "upf_lb_datapath_bytes_total",
            "Bytes of the packets the eBPF programs handled, by outcome reason and verdict.",
            counters.iter().map(|(r, c)| (rv(r), c.bytes)),
        );
    }
    let qfis = qfi_counts(n4);
    for (name, help, bytes) in [
        (
            "upf_lb_forwarded_packets_total",
            "Packets forwarded, by ingress interface, direction and QoS Flow (QFI).",
            false,
        ),
        (
            "upf_lb_forwarded_bytes_total",
            "Bytes of the users' IP packets forwarded, by interface, direction and QFI.",
            true,
        ),
    ] {
        m.counter(
            name,
            help,
            qfis.iter().map(|(ifc, dir, q, p, b)| {
                let labels = l(&[
                    ("interface", ifc),
                    ("direction", dir),
                    ("qfi", &q.to_string()),
                    ("verdict", "forwarded"),
                ]);
                (labels, if bytes { *b } else { *p })
            }),
        );
    }
    let mc = |t: u8, c: u8| l(&[("message", &message_name(t)), ("cause", &c.to_string())]);
    m.counter(
        "upf_lb_pfcp_requests_total",
        "PFCP requests answered, by message type and the Cause of the answer (0: none).",
        n4.pfcp_stats
            .iter()
            .map(|((t, c), (n, _))| (mc(*t, *c), *n)),
    );
    m.seconds(
        "upf_lb_pfcp_request_seconds_total",
        "Time spent handling PFCP requests, by message type and Cause.",
        n4.pfcp_stats
            .iter()
            .map(|((t, c), (_, ns))| (mc(*t, *c), *ns as f64 / 1e9)),
    );
    m.gauge(
        "upf_lb_sessions",
        "PFCP sessions held.",
        n4.session_count() as u64,
    );
    m.gauge(
        "upf_lb_associations",
        "PFCP associations held.",
        n4.associations().count() as u64,
    );
    m.gauge(
        "upf_lb_buffered_packets",
        "Downlink packets held for buffering sessions.",
        n4.buffered() as u64,
    );
    let b = n4.buffer_stats;
    m.counter(
        "upf_lb_buffer_packets_total",
        "Downlink buffering (TS 29.244 5.2.3) by outcome: held, dropped at a bound, discarded (age, DROBU), sent on, or not sent on (flush_failed: dropped, each logged with its cause).",
        [
            ("buffered", b.buffered),
            ("dropped_full", b.dropped_full),
            ("discarded", b.discarded),
            ("flushed", b.flushed),
            ("flush_failed", b.flush_failed),
        ]
        .map(|(o, n)| (l(&[("outcome", o)]), n)),
    );
    let (pdrs, sdfs, fars, qers, urrs) = n4.dp.slots_in_use();
    let sizes = n4.config().map_sizes();
    let maps = [
        ("PDRS", pdrs, sizes.pdrs),
        ("SDFS", sdfs, sizes.sdfs),
        ("FARS", fars, sizes.fars),
        ("QERS", qers, sizes.qers),
        ("URR_COUNTERS", urrs, sizes.urrs),
    ];
    m.gauges(
        "upf_lb_map_entries",
        "Rule slots in use per eBPF map.",
        maps.map(|(n, used, _)| (l(&[("map", n)]), u64::from(used))),
    );
    m.gauges(
        "upf_lb_map_capacity",
        "Rule slots per eBPF map.",
        maps.map(|(n, _, cap)| (l(&[("map", n)]), u64::from(cap))),
    );
    let s = &n4.stats;
    m.counter(
        "upf_lb_pfcp_events_total",
        "N4 events: retransmissions answered from the cache, messages discarded, peers refused, restarted or dead, Session Report Requests.",
        [
            ("retransmission_answered", s.retransmissions_answered),
            ("discarded", s.discarded),
            ("peer_refused", s.refused_peers),
            ("peer_restarted", s.peer_restarts),
            ("peer_dead", s.dead_peers),
            ("report_sent", s.reports_sent),
            ("report_unanswered", s.reports_unanswered),
        ]
        .map(|(k, v)| (l(&[("event", k)]), v)),
    );
    m.encode(format)
}

/// A snapshot of the numbers the OTLP metrics report, refreshed by the owning task (the
/// exporter's thread reads it; it never touches the endpoint or the maps).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// (reason, verdict, packets, bytes) of the datapath.
    pub reasons: Vec<(&'static str, &'static str, u64, u64)>,
    /// (interface, direction, QFI, packets, bytes) forwarded.
    pub qfis: Vec<(&'static str, &'static str, u8, u64, u64)>,
    /// (message, cause, count, seconds) of PFCP requests.
    pub pfcp: Vec<(String, u8, u64, f64)>,
    /// Sessions, associations, buffered packets.
    pub sessions: u64,
    /// Associations.
    pub associations: u64,
    /// Buffered packets.
    pub buffered: u64,
    /// (map, used, capacity).
    pub maps: Vec<(&'static str, u64, u64)>,
}

impl Snapshot {
    /// The numbers of `n4` now.
    pub fn of(n4: &N4) -> Snapshot {
        let (pdrs, sdfs, fars, qers, urrs) = n4.dp.slots_in_use();
        let sizes = n4.config().map_sizes();
        Snapshot {
            reasons: n4
                .datapath_counters()
                .map(|c| {
                    c.into_iter()
                        .map(|(r, c)| (r.name(), r.verdict().name(), c.packets, c.bytes))
                        .collect()
                })
                .unwrap_or_default(),
            qfis: qfi_counts(n4),
            pfcp: n4
                .pfcp_stats
                .iter()
                .map(|((t, c), (n, ns))| (message_name(*t), *c, *n, *ns as f64 / 1e9))
                .collect(),
            sessions: n4.session_count() as u64,
            associations: n4.associations().count() as u64,
            buffered: n4.buffered() as u64,
            maps: vec![
                ("PDRS", u64::from(pdrs), u64::from(sizes.pdrs)),
                ("SDFS", u64::from(sdfs), u64::from(sizes.sdfs)),
                ("FARS", u64::from(fars), u64::from(sizes.fars)),
                ("QERS", u64::from(qers), u64::from(sizes.qers)),
                ("URR_COUNTERS", u64::from(urrs), u64::from(sizes.urrs)),
            ],
        }
    }
}

/// The OTLP exporters: traces through the `tracing` layer, metrics read from a [`Snapshot`].
pub struct Otel {
    tracer: opentelemetry_sdk::trace::SdkTracerProvider,
    meter: opentelemetry_sdk::metrics::SdkMeterProvider,
    /// What the metrics report; the owner refreshes it.
    pub snapshot: std::sync::Arc<std::sync::Mutex<Snapshot>>,
    /// PFCP transactions to the span thread; `None` once shut down.
    txns: Option<std::sync::mpsc::SyncSender<Vec<crate::n4::trace::Txn>>>,
    span_thread: Option<std::thread::JoinHandle<()>>,
    /// Batches of transactions dropped because the span thread was behind.
    dropped: u64,
    /// Transactions gathered for the span thread, and when the first came: handed over by
    /// the hundred (a thread wake-up per group commit cost the N4 owner a few per cent).
    pending: Vec<crate::n4::trace::Txn>,
    pending_since: Option<std::time::Instant>,
    /// Emptied batches the span thread gives back: the owner reuses them, so no batch is
    /// allocated on one thread and freed on another (a cross-thread free takes the owner's
    /// allocator arena lock; a fresh batch of this size is mapped and unmapped each time).
    pool: std::sync::mpsc::Receiver<Vec<crate::n4::trace::Txn>>,
    /// Stops the exporters' runtime, and its thread.
    io: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
}

/// Runs the calling thread at the lowest priority (SCHED_IDLE): telemetry uses the CPU the
/// N4 path leaves, and queues (bounded) meanwhile.
pub fn lowest_priority() {
    // SAFETY: a plain syscall; no memory is passed.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    set_lowest_priority(tid as libc::id_t);
}

fn set_lowest_priority(tid: libc::id_t) {
    // SCHED_IDLE: runs only when nothing else wants the CPU, and yields to a waking N4 owner
    // at once (a nice-19 thread still finishes its time slice first).
    let p = libc::sched_param { sched_priority: 0 };
    // SAFETY: `p` is a valid sched_param for the duration of the call; `tid` is a thread of
    // this process.
    unsafe { libc::sched_setscheduler(tid as libc::pid_t, libc::SCHED_IDLE, &p) };
}

/// The OpenTelemetry SDK's own threads (batch span processor, periodic metric reader), which
/// it names `OpenTelemetry.*`, at the lowest priority too.
fn lower_sdk_threads() {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.starts_with("OpenTelemetry")
            && let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok())
        {
            set_lowest_priority(tid);
        }
    }
}

/// Spans queued for export at most (the SDK drops, and says so, beyond): API calls.
const SPAN_QUEUE: usize = 65_536;

/// Batches of PFCP transactions queued for the span thread at most.
const TXN_QUEUE: usize = 1024;

/// PFCP transactions handed to the span thread at once, and how long the first waits.
const HANDOVER: usize = 256;
const HANDOVER_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

/// Emptied batches kept for reuse at most.
const POOL: usize = 16;

/// PFCP transaction spans per export request at most, and how long the first waits.
const SPAN_BATCH: usize = 4096;
const SPAN_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// The span thread: encodes the PFCP transactions it is given into export requests (see
/// [`crate::otlp_spans`]) and hands them to the sender, a full batch at once or the first
/// span [`SPAN_DELAY`] after it came; when the daemon closes the queue, the rest, then waits
/// for the requests in flight.
fn span_loop(
    rx: std::sync::mpsc::Receiver<Vec<crate::n4::trace::Txn>>,
    pool: std::sync::mpsc::SyncSender<Vec<crate::n4::trace::Txn>>,
    mut enc: crate::otlp_spans::Encoder,
    sender: crate::otlp_spans::Sender,
) {
    use std::{sync::mpsc::RecvTimeoutError, time::Instant};
    lowest_priority();
    let mut due: Option<Instant> = None;
    loop {
        let got = match due {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let closed = match got {
            Ok(mut batch) => {
                for t in &batch {
                    enc.add(t);
                }
                batch.clear();
                let _ = pool.try_send(batch);
                due.get_or_insert_with(|| Instant::now() + SPAN_DELAY);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if closed || enc.spans() >= SPAN_BATCH || due.is_some_and(|d| Instant::now() >= d) {
            let n = enc.spans();
            sender.send(enc.finish(), n);
            due = None;
        }
        if closed {
            sender.drain(std::time::Duration::from_secs(5));
            return;
        }
    }
}

impl Otel {
    /// Exporters to the OTLP/gRPC collector at `endpoint`. Spans go in batches every 200 ms,
    /// metrics every second; the gRPC channel runs on a runtime of its own (thread `otel-io`),
    /// not the N4 owner's; nothing here waits for the collector, so a missing or slow one
    /// never blocks N4.
    pub fn start(endpoint: &str) -> anyhow::Result<Otel> {
        use opentelemetry::{KeyValue, metrics::MeterProvider as _};
        use opentelemetry_otlp::WithExportConfig;
        use opentelemetry_sdk::{
            Resource,
            metrics::{PeriodicReader, SdkMeterProvider},
            trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider},
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let io = rt.handle().clone();
        let (stop_io, stopped) = tokio::sync::oneshot::channel::<()>();
        let io_thread = std::thread::Builder::new()
            .name("otel-io".into())
            .spawn(move || {
                lowest_priority();
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        // The exporters' channels spawn their connection tasks on the runtime entered here.
        let _entered = io.enter();
        let resource = Resource::builder().with_service_name("upf-lb").build();
        let span_resource = resource.clone();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        let processor = BatchSpanProcessor::builder(spans)
            .with_batch_config(
                // Room for a burst of tens of thousands of transactions a second (5 spans
                // each) between exports; sent in large batches.
                BatchConfigBuilder::default()
                    .with_scheduled_delay(std::time::Duration::from_millis(200))
                    .with_max_queue_size(SPAN_QUEUE)
                    .with_max_export_batch_size(4096)
                    .build(),
            )
            .build();
        let tracer = SdkTracerProvider::builder()
            // PFCP transactions are sampled where they are recorded (`n4::trace`), by the
            // trace-ID ratio; API calls are always traced.
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
            .with_span_processor(processor)
            .with_resource(resource.clone())
            .build();
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        let reader = PeriodicReader::builder(metrics)
            .with_interval(std::time::Duration::from_secs(1))
            .build();
        let meter = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let snapshot = std::sync::Arc::new(std::sync::Mutex::new(Snapshot::default()));
        let m = meter.meter("upf-lb");
        macro_rules! read {
            () => {{
                let s = snapshot.clone();
                move || s.lock().map(|g| g.clone()).unwrap_or_default()
            }};
        }
        let r = read!();
        m.u64_observable_counter("upf_lb.datapath.packets")
            .with_description("Packets the eBPF programs handled, by reason and verdict.")
            .with_callback(move |o| {
                for (reason, verdict, p, _) in r().reasons {
                    o.observe(
                        p,
                        &[
                            KeyValue::new("reason", reason),
                            KeyValue::new("verdict", verdict),
                        ],
                    );
                }
            })
            .build();
        let r = read!();
        m.u64_observable_counter("upf_lb.datapath.bytes")
            .with_description("Bytes the eBPF programs handled, by reason and verdict.")
            .with_callback(move |o| {
                for (reason, verdict, _, b) in r().reasons {
                    o.observe(
                        b,
                        &[
                            KeyValue::new("reason", reason),
                            KeyValue::new("verdict", verdict),
                        ],
                    );
                }
            })
            .build();
        for (name, desc, bytes) in [
            (
                "upf_lb.forwarded.packets",
                "Packets forwarded, by ingress interface, direction and QoS Flow (QFI).",
                false,
            ),
            (
                "upf_lb.forwarded.bytes",
                "Bytes of the users' IP packets forwarded, by interface, direction and QFI.",
                true,
            ),
        ] {
            let r = read!();
            m.u64_observable_counter(name)
                .with_description(desc)
                .with_callback(move |o| {
                    for (ifc, dir, q, p, b) in r().qfis {
                        o.observe(
                            if bytes { b } else { p },
                            &[
                                KeyValue::new("interface", ifc),
                                KeyValue::new("direction", dir),
                                KeyValue::new("qfi", i64::from(q)),
                                KeyValue::new("verdict", "forwarded"),
                            ],
                        );
                    }
                })
                .build();
        }
        let r = read!();
        m.u64_observable_counter("upf_lb.pfcp.requests")
            .with_description("PFCP requests answered, by message type and Cause.")
            .with_callback(move |o| {
                for (msg, cause, n, _) in r().pfcp {
                    o.observe(
                        n,
                        &[
                            KeyValue::new("message", msg),
                            KeyValue::new("cause", i64::from(cause)),
                        ],
                    );
                }
            })
            .build();
        let r = read!();
        m.f64_observable_counter("upf_lb.pfcp.request.duration")
            .with_unit("s")
            .with_description("Time spent handling PFCP requests, by message type and Cause.")
            .with_callback(move |o| {
                for (msg, cause, _, secs) in r().pfcp {
                    o.observe(
                        secs,
                        &[
                            KeyValue::new("message", msg),
                            KeyValue::new("cause", i64::from(cause)),
                        ],
                    );
                }
            })
            .build();
        let r = read!();
        m.u64_observable_gauge("upf_lb.sessions")
            .with_description("PFCP sessions held.")
            .with_callback(move |o| o.observe(r().sessions, &[]))
            .build();
        let r = read!();
        m.u64_observable_gauge("upf_lb.associations")
            .with_description("PFCP associations held.")
            .with_callback(move |o| o.observe(r().associations, &[]))
            .build();
        let r = read!();
        m.u64_observable_gauge("upf_lb.buffered_packets")
            .with_description("Downlink packets held for buffering sessions.")
            .with_callback(move |o| o.observe(r().buffered, &[]))
            .build();
        let r = read!();
        m.u64_observable_gauge("upf_lb.map.entries")
            .with_description("Rule slots in use per eBPF map.")
            .with_callback(move |o| {
                for (map, used, _) in r().maps {
                    o.observe(used, &[KeyValue::new("map", map)]);
                }
            })
            .build();
        let r = read!();
        m.u64_observable_gauge("upf_lb.map.capacity")
            .with_description("Rule slots per eBPF map.")
            .with_callback(move |o| {
                for (map, _, cap) in r().maps {
                    o.observe(cap, &[KeyValue::new("map", map)]);
                }
            })
            .build();
        let (txns, rx) = std::sync::mpsc::sync_channel::<Vec<crate::n4::trace::Txn>>(TXN_QUEUE);
        let (pool_tx, pool) = std::sync::mpsc::sync_channel(POOL);
        let enc = crate::otlp_spans::Encoder::new(&span_resource, "upf-lb");
        let sender = crate::otlp_spans::Sender::new(endpoint, io.clone())?;
        let span_thread = std::thread::Builder::new()
            .name("otel-pfcp".into())
            .spawn(move || span_loop(rx, pool_tx, enc, sender))?;
        lower_sdk_threads();
        Ok(Otel {
            tracer,
            meter,
            snapshot,
            txns: Some(txns),
            span_thread: Some(span_thread),
            dropped: 0,
            pending: Vec::new(),
            pending_since: None,
            pool,
            io: Some((stop_io, io_thread)),
        })
    }

    /// Hands finished PFCP transactions to the span thread, [`HANDOVER`] of them at once or
    /// the first [`HANDOVER_DELAY`] after it came (call with none when
    /// [`Otel::handover_due`] is reached); never waits (a full queue drops the batch, counted
    /// and said once).
    pub fn export(&mut self, mut txns: Vec<crate::n4::trace::Txn>) {
        if self.pending.is_empty() {
            if txns.is_empty() {
                return;
            }
            self.pending_since = Some(std::time::Instant::now());
            if self.pending.capacity() == 0 {
                self.pending = self
                    .pool
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(HANDOVER * 2));
            }
        }
        self.pending.append(&mut txns);
        if self.pending.len() < HANDOVER
            && self
                .pending_since
                .is_some_and(|t| t.elapsed() < HANDOVER_DELAY)
        {
            return;
        }
        self.pending_since = None;
        let batch = std::mem::take(&mut self.pending);
        if let Some(tx) = &self.txns
            && tx.try_send(batch).is_err()
        {
            if self.dropped == 0 {
                tracing::warn!("trace export is behind: PFCP transaction spans dropped");
            }
            self.dropped += 1;
        }
    }

    /// When the transactions gathered are due to the span thread, if any are.
    pub fn handover_due(&self) -> Option<std::time::Instant> {
        self.pending_since.map(|t| t + HANDOVER_DELAY)
    }

    /// The tracer spans are built with (API calls; PFCP transactions go through
    /// [`Otel::export`]).
    pub fn tracer(&self) -> opentelemetry_sdk::trace::SdkTracer {
        use opentelemetry::trace::TracerProvider as _;
        self.tracer.tracer("upf-lb")
    }

    /// Flushes and stops the exporters. Blocking: not on the runtime thread that drives the
    /// gRPC channel (a current-thread runtime would deadlock).
    pub fn shutdown(mut self) {
        // The span thread builds what it was given, then the exporters flush.
        if !self.pending.is_empty()
            && let Some(tx) = &self.txns
        {
            let _ = tx.try_send(std::mem::take(&mut self.pending));
        }
        self.txns = None;
        if let Some(t) = self.span_thread.take() {
            let _ = t.join();
        }
        let _ = self.tracer.shutdown();
        let _ = self.meter.shutdown();
        if let Some((stop, t)) = self.io.take() {
            let _ = stop.send(());
            let _ = t.join();
        }
    }
}

/// Installs the process's `tracing` subscriber: formatted logs to stderr (JSON with `json`).
/// A subscriber installed earlier stays. Spans do not go through it: each daemon exports its
/// own ([`Otel`]), so daemons in one process (tests) never mix their traces.
pub fn install_subscriber(json: bool) {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let fmt = if json {
        tracing_subscriber::fmt::layer()
            .event_format(JsonWithTrace)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed()
    };
    let _ = tracing_subscriber::registry().with(fmt).try_init();
}

/// Log lines as JSON objects: time, level, target, the event's fields, the names of the spans
/// it happened in (`pfcp` inside a PFCP transaction, innermost last), and, inside a traced PFCP
/// transaction, its OpenTelemetry trace and span IDs, so a log line finds its trace in the
/// collector.
pub struct JsonWithTrace;

struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        self.0
            .insert(f.name().into(), serde_json::Value::String(format!("{v:?}")));
    }
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_u64(&mut self, f: &tracing::field::Field, v: u64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_i64(&mut self, f: &tracing::field::Field, v: i64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_bool(&mut self, f: &tracing::field::Field, v: bool) {
        self.0.insert(f.name().into(), v.into());
    }
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonWithTrace
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = serde_json::Map::new();
        event.record(&mut Fields(&mut fields));
        let m = event.metadata();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut o = serde_json::Map::new();
        o.insert(
            "time".into(),
            format!("{}.{:09}", now.as_secs(), now.subsec_nanos()).into(),
        );
        o.insert("level".into(), m.level().as_str().into());
        o.insert("target".into(), m.target().into());
        o.insert("fields".into(), serde_json::Value::Object(fields));
        let mut names: Vec<serde_json::Value> = Vec::new();
        let txn = crate::n4::trace::current();
        if txn.is_some() {
            // Inside a traced PFCP transaction: its span is recorded on the N4 path, not
            // through `tracing`.
            names.push("pfcp".into());
        }
        if let Some(scope) = ctx.event_scope() {
            names.extend(scope.from_root().map(|s| s.name().into()));
        }
        if !names.is_empty() {
            o.insert("spans".into(), names.into());
        }
        if let Some((trace, span)) = txn {
            o.insert(
                "trace_id".into(),
                opentelemetry::trace::TraceId::from(trace)
                    .to_string()
                    .into(),
            );
            o.insert(
                "span_id".into(),
                opentelemetry::trace::SpanId::from(span).to_string().into(),
            );
        }
        writeln!(w, "{}", serde_json::Value::Object(o))
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn the_accept_header_picks_the_format() {
        let f = |a: Option<&str>| Format::from_accept(a);
        assert_eq!(f(None), Format::Prometheus);
        assert_eq!(f(Some("*/*")), Format::Prometheus);
        assert_eq!(f(Some("text/plain;version=0.0.4")), Format::Prometheus);
        assert_eq!(f(Some("application/openmetrics-text")), Format::OpenMetrics);
        // What Prometheus itself sends: OpenMetrics ranked first.
        assert_eq!(
            f(Some(
                "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            f(Some("application/openmetrics-text;q=0.2, text/plain;q=0.9")),
            Format::Prometheus
        );
        assert_eq!(
            f(Some("application/openmetrics-text;q=0")),
            Format::Prometheus
        );
    }
}
