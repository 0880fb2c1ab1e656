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

    /// As [`OtlpReceiver::start`]; with `background`, its thread runs at the lowest priority,
    /// standing in for a collector on another node (the benchmark does not bill its decoding
    /// to the UP function it measures).
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
                    crate::telemetry::lowest_priority();
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
                    let _ = tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(svc.clone()))
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
