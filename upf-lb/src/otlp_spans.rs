//! PFCP transactions as OTLP spans, encoded straight from the recorded [`Txn`]s into the bytes
//! of an `ExportTraceServiceRequest` (opentelemetry-proto `collector/trace/v1`) and sent over
//! OTLP/gRPC. No span objects, no batch queue of them, no conversion: at a span per step of
//! every transaction (five per Session Establishment, 150 000 a second at full rate) the
//! OpenTelemetry SDK's own pipeline took a tenth of the session rate through the CPU it used;
//! this costs the exporter's thread about 0.15 us a span (60-90 ms per 500 000 spans here).
//!
//! The `pfcp` root span (kind SERVER) has the IDs drawn on the N4 path (the transaction's log
//! lines carry them) and the attributes `message`, `peer`, `seid`, `seq` and `cause`; each step
//! (decode, validate, southbound, persist) is a child (kind INTERNAL, `op` where it says).
//! The resource is the SDK's (the same `service.name` as the metrics and the API spans).

use crate::n4::trace::Txn;
use std::{
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

/// Wire types (protobuf encoding).
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `Span.SpanKind` values.
const KIND_INTERNAL: u64 = 1;
const KIND_SERVER: u64 = 2;

/// `Span.flags`: the W3C trace flags (sampled) and "whether the parent is remote is known"
/// (it is not remote: the root has no parent, the children's parent is in this process).
const SPAN_FLAGS: u32 = 0x01 | 0x100;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A length-delimited field whose content `f` writes: a byte is reserved for the length and
/// the content moved along when its length needs more (the encoding stays canonical).
fn nested(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.push(0);
    f(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut l = Vec::with_capacity(10);
        varint(&mut l, len as u64);
        out.splice(at..at + 1, l);
    }
}

/// An attribute value.
enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Double(f64),
}

/// A `KeyValue` (field `field` of the message being written).
fn attr(out: &mut Vec<u8>, field: u32, k: &str, v: Value<'_>) {
    nested(out, field, |o| {
        bytes(o, 1, k.as_bytes());
        nested(o, 2, |o| match v {
            Value::Str(s) => bytes(o, 1, s.as_bytes()),
            Value::Bool(b) => {
                key(o, 2, VARINT);
                varint(o, u64::from(b));
            }
            Value::Int(i) => {
                key(o, 3, VARINT);
                varint(o, i as u64);
            }
            Value::Double(d) => {
                key(o, 4, FIXED64);
                o.extend_from_slice(&d.to_le_bytes());
            }
        });
    });
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The span ID of step `i` of the transaction whose span ID is `root` (splitmix64 of the two:
/// distinct per step, spread, never zero).
pub fn child_span_id(root: u64, i: usize) -> u64 {
    let mut z = root.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) | 1
}

/// One `Span` message (field `field` of `ScopeSpans`).
#[allow(clippy::too_many_arguments)]
fn span(
    out: &mut Vec<u8>,
    trace_id: &[u8; 16],
    span_id: u64,
    parent: Option<u64>,
    name: &str,
    kind: u64,
    start: u64,
    end: u64,
    attrs: impl FnOnce(&mut Vec<u8>),
) {
    nested(out, 2, |o| {
        bytes(o, 1, trace_id);
        bytes(o, 2, &span_id.to_be_bytes());
        if let Some(p) = parent {
            bytes(o, 4, &p.to_be_bytes());
        }
        bytes(o, 5, name.as_bytes());
        key(o, 6, VARINT);
        varint(o, kind);
        fixed64(o, 7, start);
        fixed64(o, 8, end);
        attrs(o);
        key(o, 16, FIXED32);
        o.extend_from_slice(&SPAN_FLAGS.to_le_bytes());
    });
}

/// Builds `ExportTraceServiceRequest`s: spans are added as transactions arrive, the request
/// is finished around them when a batch is full or due.
pub struct Encoder {
    /// The encoded `Resource` and `InstrumentationScope` (fields of `ResourceSpans` and
    /// `ScopeSpans`), the same for every request.
    resource: Vec<u8>,
    scope: Vec<u8>,
    /// The `Span` fields of the request being built.
    spans: Vec<u8>,
    /// Spans in `spans`.
    count: usize,
    text: String,
}

impl Encoder {
    /// An encoder for spans of `resource` (its attributes) from the instrumentation scope
    /// `scope`.
    pub fn new(resource: &opentelemetry_sdk::Resource, scope: &str) -> Encoder {
        use opentelemetry::Value as V;
        let mut r = Vec::new();
        for (k, v) in resource.iter() {
            let v = match v {
                V::String(s) => Value::Str(s.as_str()),
                V::I64(i) => Value::Int(*i),
                V::Bool(b) => Value::Bool(*b),
                V::F64(d) => Value::Double(*d),
                // Arrays are not part of the resources this daemon builds.
                _ => continue,
            };
            attr(&mut r, 1, k.as_str(), v);
        }
        let mut s = Vec::new();
        bytes(&mut s, 1, scope.as_bytes());
        Encoder {
            resource: r,
            scope: s,
            spans: Vec::with_capacity(1 << 20),
            count: 0,
            text: String::new(),
        }
    }

    /// Spans added since the last [`Encoder::finish`].
    pub fn spans(&self) -> usize {
        self.count
    }

    /// Adds the spans of one transaction: its root and a child per step.
    pub fn add(&mut self, t: &Txn) {
        let trace_id = t.trace_id.to_be_bytes();
        let start = unix_nanos(t.start);
        let end = start + t.len.as_nanos() as u64;
        self.text.clear();
        let _ = write!(self.text, "{}", t.peer);
        let peer = self.text.as_str();
        let message = crate::n4::trace::message_name(t.message);
        span(
            &mut self.spans,
            &trace_id,
            t.span_id,
            None,
            "pfcp",
            KIND_SERVER,
            start,
            end,
            |o| {
                attr(o, 9, "message", Value::Str(&message));
                attr(o, 9, "peer", Value::Str(peer));
                attr(o, 9, "seid", Value::Int(t.seid as i64));
                attr(o, 9, "seq", Value::Int(i64::from(t.seq)));
                if let Some(c) = t.cause {
                    attr(o, 9, "cause", Value::Int(i64::from(c)));
                }
            },
        );
        for (i, p) in t.phases().iter().enumerate() {
            let s = start + p.start.as_nanos() as u64;
            span(
                &mut self.spans,
                &trace_id,
                child_span_id(t.span_id, i),
                Some(t.span_id),
                p.name,
                KIND_INTERNAL,
                s,
                s + p.len.as_nanos() as u64,
                |o| {
                    if let Some(op) = p.op {
                        attr(o, 9, "op", Value::Str(op));
                    }
                },
            );
        }
        self.count += 1 + t.phases().len();
    }

    /// The request holding every span added since the last call (empty when none was).
    pub fn finish(&mut self) -> Vec<u8> {
        if self.count == 0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.spans.len() + self.resource.len() + 64);
        nested(&mut out, 1, |rs| {
            nested(rs, 1, |r| r.extend_from_slice(&self.resource));
            nested(rs, 2, |ss| {
                nested(ss, 1, |s| s.extend_from_slice(&self.scope));
                ss.extend_from_slice(&self.spans);
            });
        });
        self.spans.clear();
        self.count = 0;
        out
    }
}

/// A gRPC codec that passes messages through as their encoded bytes, both ways: the span
/// exporter sends requests it encoded itself (and does not read the answer, which carries only
/// partial-success details); the benchmark's collector counts spans in the bytes and answers
/// with an empty `ExportTraceServiceResponse`.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf as _;
        let mut v = vec![0; src.remaining()];
        src.copy_to_slice(&mut v);
        Ok(Some(v))
    }
}

/// Export requests in flight at most; a batch beyond is dropped (and counted).
const IN_FLIGHT: usize = 8;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends encoded requests to the collector on the exporters' runtime; never waits for it.
pub struct Sender {
    io: tokio::runtime::Handle,
    grpc: tonic::client::Grpc<tonic::transport::Channel>,
    in_flight: Arc<AtomicUsize>,
    said: Arc<AtomicBool>,
    /// Spans exported (the collector accepted their request).
    pub exported: Arc<AtomicU64>,
    /// Spans dropped (the collector refused or did not answer, or too many requests waited).
    pub dropped: Arc<AtomicU64>,
}

impl Sender {
    /// A sender to the OTLP/gRPC collector at `endpoint` (connected when first used, and again
    /// after a failure), its requests run on `io`.
    pub fn new(endpoint: &str, io: tokio::runtime::Handle) -> anyhow::Result<Sender> {
        let _entered = io.enter();
        let ch = tonic::transport::Endpoint::from_shared(endpoint.to_string())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(EXPORT_TIMEOUT)
            .connect_lazy();
        Ok(Sender {
            io,
            grpc: tonic::client::Grpc::new(ch),
            in_flight: Arc::default(),
            said: Arc::default(),
            exported: Arc::default(),
            dropped: Arc::default(),
        })
    }

    /// Sends one request of `spans` spans.
    pub fn send(&self, request: Vec<u8>, spans: usize) {
        if request.is_empty() {
            return;
        }
        if self.in_flight.load(Ordering::Relaxed) >= IN_FLIGHT {
            self.dropped.fetch_add(spans as u64, Ordering::Relaxed);
            if !self.said.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "OTLP span export is behind (the collector is slow): spans are dropped and counted"
                );
            }
            return;
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut grpc = self.grpc.clone();
        let (in_flight, said, exported, dropped) = (
            self.in_flight.clone(),
            self.said.clone(),
            self.exported.clone(),
            self.dropped.clone(),
        );
        self.io.spawn(async move {
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            );
            let r = match grpc.ready().await {
                Ok(()) => grpc
                    .unary(tonic::Request::new(request), path, RawCodec)
                    .await
                    .map(|_| ()),
                Err(e) => Err(tonic::Status::unavailable(e.to_string())),
            };
            match r {
                Ok(()) => {
                    exported.fetch_add(spans as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    dropped.fetch_add(spans as u64, Ordering::Relaxed);
                    if !said.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e.message(), "OTLP span export failed: spans are dropped and counted until the collector takes them");
                    }
                }
            }
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Waits (at most `within`) until no request is in flight.
    pub fn drain(&self, within: Duration) {
        let t0 = std::time::Instant::now();
        while self.in_flight.load(Ordering::Relaxed) > 0 && t0.elapsed() < within {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::n4::trace::Recorder;
    use opentelemetry_proto::tonic::{
        collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value,
    };
    use prost::Message as _;

    fn txns() -> Vec<Txn> {
        let mut r = Recorder::sampling(1.0);
        r.begin(50, "192.0.2.9:8805".parse().unwrap(), 0x1234, 77);
        let t = r.start();
        r.end(t, "decode", None);
        let t = r.start();
        r.end(t, "southbound", Some("install"));
        r.finish(Some(1));
        r.begin(1, "[2001:db8::9]:8805".parse().unwrap(), 0, 78);
        r.finish(Some(65));
        r.take()
    }

    fn value(kv: &[opentelemetry_proto::tonic::common::v1::KeyValue], k: &str) -> any_value::Value {
        kv.iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
            .and_then(|v| v.value)
            .unwrap_or_else(|| panic!("no attribute {k}"))
    }

    /// What we encode, prost (opentelemetry-proto's generated decoder) reads back field for
    /// field.
    #[test]
    fn requests_decode_with_the_generated_types() {
        let res = opentelemetry_sdk::Resource::builder()
            .with_service_name("upf-lb")
            .build();
        let mut e = Encoder::new(&res, "upf-lb");
        let ts = txns();
        for t in &ts {
            e.add(t);
        }
        assert_eq!(e.spans(), 4);
        let bytes = e.finish();
        assert_eq!(e.spans(), 0);
        assert!(e.finish().is_empty(), "nothing left");
        let r = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(r.resource_spans.len(), 1);
        let rs = &r.resource_spans[0];
        let attrs = &rs.resource.as_ref().unwrap().attributes;
        assert_eq!(
            value(attrs, "service.name"),
            any_value::Value::StringValue("upf-lb".into())
        );
        assert_eq!(rs.scope_spans.len(), 1);
        assert_eq!(rs.scope_spans[0].scope.as_ref().unwrap().name, "upf-lb");
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans.len(), 4);
        let (root, kids) = (&spans[0], &spans[1..3]);
        let t = &ts[0];
        assert_eq!(root.trace_id, t.trace_id.to_be_bytes());
        assert_eq!(root.span_id, t.span_id.to_be_bytes());
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.name, "pfcp");
        assert_eq!(root.kind, KIND_SERVER as i32);
        assert_eq!(root.flags, SPAN_FLAGS);
        let start = unix_nanos(t.start);
        assert_eq!(root.start_time_unix_nano, start);
        assert_eq!(root.end_time_unix_nano, start + t.len.as_nanos() as u64);
        assert_eq!(
            value(&root.attributes, "message"),
            any_value::Value::StringValue("session_establishment_request".into())
        );
        assert_eq!(
            value(&root.attributes, "peer"),
            any_value::Value::StringValue("192.0.2.9:8805".into())
        );
        assert_eq!(
            value(&root.attributes, "seid"),
            any_value::Value::IntValue(0x1234)
        );
        assert_eq!(
            value(&root.attributes, "seq"),
            any_value::Value::IntValue(77)
        );
        assert_eq!(
            value(&root.attributes, "cause"),
            any_value::Value::IntValue(1)
        );
        for (i, (k, p)) in kids.iter().zip(t.phases()).enumerate() {
            assert_eq!(k.trace_id, root.trace_id);
            assert_eq!(k.parent_span_id, root.span_id);
            assert_eq!(k.span_id, child_span_id(t.span_id, i).to_be_bytes());
            assert_ne!(k.span_id, root.span_id);
            assert_eq!(k.name, p.name);
            assert_eq!(k.kind, KIND_INTERNAL as i32);
            assert_eq!(k.start_time_unix_nano, start + p.start.as_nanos() as u64);
            assert!(k.end_time_unix_nano <= root.end_time_unix_nano);
        }
        assert_eq!(
            value(&kids[1].attributes, "op"),
            any_value::Value::StringValue("install".into())
        );
        assert!(kids[0].attributes.is_empty());
        let other = &spans[3];
        assert_eq!(other.trace_id, ts[1].trace_id.to_be_bytes());
        assert_ne!(other.trace_id, root.trace_id);
        assert_eq!(
            value(&other.attributes, "peer"),
            any_value::Value::StringValue("[2001:db8::9]:8805".into())
        );
        assert_eq!(
            value(&other.attributes, "cause"),
            any_value::Value::IntValue(65)
        );
    }

    /// Lengths of every size: one byte, two, three.
    #[test]
    fn nested_lengths_of_every_size_decode() {
        for n in [
            0usize,
            1,
            125,
            126,
            127,
            128,
            300,
            (1 << 14) - 1,
            1 << 14,
            100_000,
        ] {
            let mut out = Vec::new();
            nested(&mut out, 1, |o| {
                bytes(o, 5, &vec![0xab; n]);
            });
            let mut b = out.as_slice();
            let (tag, wire) = prost::encoding::decode_key(&mut b).unwrap();
            assert_eq!((tag, wire), (1, prost::encoding::WireType::LengthDelimited));
            let len = prost::encoding::decode_varint(&mut b).unwrap() as usize;
            assert_eq!(len, b.len(), "n = {n}");
            let (tag, _) = prost::encoding::decode_key(&mut b).unwrap();
            assert_eq!(tag, 5);
            let inner = prost::encoding::decode_varint(&mut b).unwrap() as usize;
            assert_eq!((inner, b.len()), (n, n));
        }
    }
}
