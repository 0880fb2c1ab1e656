//! An OTLP/gRPC trace and metrics receiver (opentelemetry-proto's generated server, not our
//! exporter's code) on 127.0.0.1:4317 inside a network namespace: the collector the telemetry
//! test checks spans and metrics with, and the one the telemetry-cost benchmark exports to. It
//! counts every span, keeps the first [`KEPT_SPANS`] and every metrics request.

use opentelemetry_proto::tonic::{
    collector::{
        metrics::v1::{
            ExportMetricsServiceRequest, ExportMetricsServiceResponse,
            metrics_service_server::{MetricsService, MetricsServiceServer},
        },
        trace::v1::{
            ExportTraceServiceRequest, ExportTraceServiceResponse,
            trace_service_server::{TraceService, TraceServiceServer},
        },
    },
    trace::v1::Span,
};
use std::{
    os::fd::AsRawFd,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Spans kept for inspection; more are only counted.
pub const KEPT_SPANS: usize = 10_000;

#[derive(Clone, Default)]
struct Store {
    count: Arc<AtomicU64>,
    spans: Arc<Mutex<Vec<Span>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Store {
    async fn export(
        &self,
        r: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self
            .spans
            .lock()
            .map_err(|_| tonic::Status::internal("lock"))?;
        for rs in r.into_inner().resource_spans {
            for ss in rs.scope_spans {
                self.count
                    .fetch_add(ss.spans.len() as u64, Ordering::Relaxed);
                let room = KEPT_SPANS.saturating_sub(kept.len());
                kept.extend(ss.spans.into_iter().take(room));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Store {
    async fn export(
        &self,
        r: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        if let Ok(mut m) = self.metrics.lock() {
            m.push(r.into_inner());
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// The receiver; it stops when dropped.
pub struct OtlpReceiver {
    store: Store,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl OtlpReceiver {
    /// Starts it on its own thread in the namespace opened at `netns` (`/run/netns/NAME`);
    /// returns once it listens.
    pub fn start(netns: &str) -> anyhow::Result<OtlpReceiver> {
        Self::start_with(netns, false)
    }

    /// As [`OtlpReceiver::start`]; with `background`, it stands in for a collector on another
    /// node (the benchmark's): its thread runs at the lowest priority and it only counts the
    /// spans of each trace export, walking the protobuf wire format without building them
    /// (a full decode of 150 000 spans a second took a tenth of this machine's two vCPUs:
    /// the collector's work, billed to the UP function it measured). It keeps no spans.
    pub fn start_with(netns: &str, background: bool) -> anyhow::Result<OtlpReceiver> {
        let ns = std::fs::File::open(netns)?;
        let store = Store::default();
        let svc = store.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        std::thread::Builder::new()
            .name("otlp-collector".into())
            .spawn(move || {
                // SAFETY: `ns` is an open namespace file; setns changes only this thread's namespace.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                if background {
                    upf_lb::telemetry::lowest_priority();
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) if rc == 0 => rt,
                    _ => {
                        let _ =
                            ready_tx.send(Err(anyhow::anyhow!("OTLP receiver: setns or runtime")));
                        return;
                    }
                };
                rt.block_on(async move {
                    let l = match tokio::net::TcpListener::bind("127.0.0.1:4317").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let mut server = tonic::transport::Server::builder();
                    let router = if background {
                        server.add_service(Counting(svc.count.clone()))
                    } else {
                        server.add_service(TraceServiceServer::new(svc.clone()))
                    };
                    let _ = router
                        .add_service(MetricsServiceServer::new(svc))
                        .serve_with_incoming_shutdown(
                            tokio_stream::wrappers::TcpListenerStream::new(l),
                            async move {
                                let _ = stopped.await;
                            },
                        )
                        .await;
                });
            })?;
        ready.recv_timeout(Duration::from_secs(10))??;
        Ok(OtlpReceiver { store, _stop: stop })
    }

    /// Spans received so far.
    pub fn span_count(&self) -> u64 {
        self.store.count.load(Ordering::Relaxed)
    }

    /// The spans kept (the first [`KEPT_SPANS`]).
    pub fn spans(&self) -> Vec<Span> {
        self.store
            .spans
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    /// Every metrics export received.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.store
            .metrics
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }
}

/// Counts the `Span`s of an `ExportTraceServiceRequest` (fields: `resource_spans` 1, in it
/// `scope_spans` 2, in it `spans` 2) by their tags and lengths; None when the message is not
/// well formed.
pub fn count_spans(b: &[u8]) -> Option<u64> {
    fn fields(mut b: &[u8], mut f: impl FnMut(u64, &[u8]) -> Option<()>) -> Option<()> {
        use prost::encoding::{WireType, decode_key, decode_varint};
        while !b.is_empty() {
            let (tag, wire) = decode_key(&mut b).ok()?;
            match wire {
                WireType::Varint => {
                    decode_varint(&mut b).ok()?;
                }
                WireType::SixtyFourBit => b = b.get(8..)?,
                WireType::ThirtyTwoBit => b = b.get(4..)?,
                WireType::LengthDelimited => {
                    let n = usize::try_from(decode_varint(&mut b).ok()?).ok()?;
                    let v = b.get(..n)?;
                    b = &b[n..];
                    f(u64::from(tag), v)?;
                }
                _ => return None,
            }
        }
        Some(())
    }
    let mut n = 0u64;
    fields(b, |t, rs| {
        if t != 1 {
            return Some(());
        }
        fields(rs, |t, ss| {
            if t != 2 {
                return Some(());
            }
            fields(ss, |t, _| {
                if t == 2 {
                    n += 1;
                }
                Some(())
            })
        })
    })?;
    Some(n)
}

/// The counting trace service (see [`OtlpReceiver::start_with`]).
#[derive(Clone)]
struct Counting(Arc<AtomicU64>);

impl tonic::server::NamedService for Counting {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl tonic::server::UnaryService<Vec<u8>> for Counting {
    type Response = Vec<u8>;
    type Future = std::future::Ready<Result<tonic::Response<Vec<u8>>, tonic::Status>>;
    fn call(&mut self, r: tonic::Request<Vec<u8>>) -> Self::Future {
        std::future::ready(match count_spans(r.get_ref()) {
            Some(n) => {
                self.0.fetch_add(n, Ordering::Relaxed);
                // An empty ExportTraceServiceResponse.
                Ok(tonic::Response::new(Vec::new()))
            }
            None => Err(tonic::Status::invalid_argument(
                "not an ExportTraceServiceRequest",
            )),
        })
    }
}

impl<B> tonic::codegen::Service<tonic::codegen::http::Request<B>> for Counting
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: tonic::codegen::http::Request<B>) -> Self::Future {
        let svc = self.clone();
        Box::pin(async move {
            if req.uri().path() != "/opentelemetry.proto.collector.trace.v1.TraceService/Export" {
                return Ok(tonic::Status::unimplemented("").into_http());
            }
            Ok(tonic::server::Grpc::new(upf_lb::otlp_spans::RawCodec)
                .unary(svc, req)
                .await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::count_spans;
    use opentelemetry_proto::tonic::{
        collector::trace::v1::ExportTraceServiceRequest,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    };
    use prost::Message as _;

    #[test]
    fn spans_are_counted_without_decoding_them() {
        let span = |i: u8| Span {
            name: format!("s{i}"),
            trace_id: vec![i; 16],
            ..Default::default()
        };
        let r = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    scope_spans: vec![
                        ScopeSpans {
                            spans: (0..3).map(span).collect(),
                            ..Default::default()
                        },
                        ScopeSpans {
                            spans: (0..200).map(span).collect(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
                ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span(9)],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        let b = r.encode_to_vec();
        assert_eq!(count_spans(&b), Some(204));
        assert_eq!(count_spans(&[]), Some(0));
        for cut in [1, b.len() / 2, b.len() - 1] {
            assert_eq!(count_spans(&b[..cut]), None, "cut at {cut}");
        }
    }
}
