//! The gRPC management API (tonic; protos in `upf-lb/proto`, compiled by protox without a
//! system protoc). Handlers translate a call into a request to the task that owns the state and
//! wait for its reply: they never touch sessions or maps. An optional bearer token guards every
//! call (`authorization: Bearer <token>`); without it, bind to loopback (the default).

use tokio::sync::{broadcast, mpsc, oneshot};
use tonic::{Request, Response, Status};

/// Generated from `proto/upf_lb.proto`.
pub mod pb {
    tonic::include_proto!("upflb.v1");
}

/// Generated from `proto/health.proto`: the gRPC Health Checking Protocol.
pub mod health_pb {
    tonic::include_proto!("grpc.health.v1");
}

/// The services whose status [`Health`] reports: the server as a whole ("") and the
/// management API. The API's status is the daemon's: serving from when the datapath is attached
/// and N4 is listening (the API starts only then) until the daemon begins to stop.
pub const HEALTH_SERVICES: [&str; 2] = ["", "upflb.v1.UpfLb"];

/// `grpc.health.v1.Health`, beside the API and outside its bearer token (kubelet's gRPC
/// probes send none; the status is all it tells).
pub struct Health {
    serving: tokio::sync::watch::Receiver<bool>,
}

impl Health {
    fn status(serving: bool) -> health_pb::HealthCheckResponse {
        use health_pb::health_check_response::ServingStatus;
        health_pb::HealthCheckResponse {
            status: if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            } as i32,
        }
    }
}

#[tonic::async_trait]
impl health_pb::health_server::Health for Health {
    async fn check(
        &self,
        r: Request<health_pb::HealthCheckRequest>,
    ) -> Result<Response<health_pb::HealthCheckResponse>, Status> {
        let service = r.into_inner().service;
        if !HEALTH_SERVICES.contains(&service.as_str()) {
            return Err(Status::not_found(format!(
                "unknown service {service:?}: \"\" or \"upflb.v1.UpfLb\""
            )));
        }
        Ok(Response::new(Self::status(*self.serving.borrow())))
    }

    type WatchStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<health_pb::HealthCheckResponse, Status>> + Send>,
    >;

    async fn watch(
        &self,
        r: Request<health_pb::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        use tokio_stream::StreamExt;
        let service = r.into_inner().service;
        if !HEALTH_SERVICES.contains(&service.as_str()) {
            // The protocol: SERVICE_UNKNOWN, and the stream stays open (the service may come).
            let unknown = health_pb::HealthCheckResponse {
                status: health_pb::health_check_response::ServingStatus::ServiceUnknown as i32,
            };
            let s = tokio_stream::once(Ok(unknown)).chain(tokio_stream::pending());
            return Ok(Response::new(Box::pin(s)));
        }
        // The status now, then each change (a watch stream yields the current value first).
        let s = tokio_stream::wrappers::WatchStream::new(self.serving.clone())
            .map(|serving| Ok(Self::status(serving)));
        Ok(Response::new(Box::pin(s)))
    }
}

/// A question for the owning task.
pub enum ApiRequest {
    /// Health.
    Health(oneshot::Sender<pb::HealthReply>),
    /// All sessions.
    ListSessions(oneshot::Sender<pb::ListSessionsReply>),
    /// One session by UP SEID.
    GetSession(u64, oneshot::Sender<Option<pb::Session>>),
    /// Associations.
    ListAssociations(oneshot::Sender<pb::ListAssociationsReply>),
    /// Counters.
    Stats(oneshot::Sender<pb::StatsReply>),
    /// Configuration.
    Config(oneshot::Sender<pb::ConfigReply>),
    /// The load balancer.
    ListLb(oneshot::Sender<pb::ListLbReply>),
    /// SRv6.
    ListSrv6(oneshot::Sender<pb::ListSrv6Reply>),
    /// Bind a local SID: Ok, or the field at fault and why.
    SetSid(pb::SetSidRequest, oneshot::Sender<Result<(), Status>>),
    /// Unbind a local SID.
    DeleteSid(String, oneshot::Sender<Result<(), Status>>),
}

/// The service: a channel to the owner, the event feed, and the tracer of the daemon's
/// exporter when spans are exported.
pub struct Api {
    ask: mpsc::Sender<ApiRequest>,
    events: broadcast::Sender<pb::Event>,
    tracer: Option<opentelemetry_sdk::trace::SdkTracer>,
}

impl Api {
    /// Asks the owner.
    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> ApiRequest) -> Result<T, Status> {
        let (tx, rx) = oneshot::channel();
        self.ask
            .send(f(tx))
            .await
            .map_err(|_| Status::unavailable("the UP function is stopping"))?;
        rx.await
            .map_err(|_| Status::unavailable("the UP function is stopping"))
    }

    /// Runs a call's handler in a span of its own (`api`; OpenTelemetry RPC attributes: the
    /// method and the gRPC status code), exported when the daemon exports spans.
    async fn traced<T>(
        &self,
        method: &'static str,
        call: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        use opentelemetry::{
            KeyValue,
            trace::{Span as _, SpanKind, Tracer as _},
        };
        let span = self.tracer.as_ref().map(|t| {
            t.span_builder("api")
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("rpc.system", "grpc"),
                    KeyValue::new("rpc.service", "upflb.v1.UpfLb"),
                    KeyValue::new("rpc.method", method),
                ])
                .start(t)
        });
        let r = call.await;
        if let Some(mut s) = span {
            let code = match &r {
                Ok(_) => tonic::Code::Ok,
                Err(e) => e.code(),
            };
            s.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
            s.end();
        }
        r
    }
}

#[tonic::async_trait]
impl pb::upf_lb_server::UpfLb for Api {
    async fn health(
        &self,
        _: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthReply>, Status> {
        let call = async { self.ask(ApiRequest::Health).await.map(Response::new) };
        self.traced("health", call).await
    }

    async fn list_sessions(
        &self,
        _: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsReply>, Status> {
        let call = async { self.ask(ApiRequest::ListSessions).await.map(Response::new) };
        self.traced("list_sessions", call).await
    }

    async fn get_session(
        &self,
        r: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let seid = r.into_inner().up_seid;
        let call = async {
            match self.ask(|tx| ApiRequest::GetSession(seid, tx)).await? {
                Some(s) => Ok(Response::new(s)),
                None => Err(Status::not_found(format!(
                    "no session with UP SEID {seid:#x}"
                ))),
            }
        };
        self.traced("get_session", call).await
    }

    async fn list_associations(
        &self,
        _: Request<pb::ListAssociationsRequest>,
    ) -> Result<Response<pb::ListAssociationsReply>, Status> {
        let call = async {
            self.ask(ApiRequest::ListAssociations)
                .await
                .map(Response::new)
        };
        self.traced("list_associations", call).await
    }

    async fn list_srv6(
        &self,
        _: Request<pb::ListSrv6Request>,
    ) -> Result<Response<pb::ListSrv6Reply>, Status> {
        let call = async { self.ask(ApiRequest::ListSrv6).await.map(Response::new) };
        self.traced("list_srv6", call).await
    }

    async fn set_sid(
        &self,
        r: Request<pb::SetSidRequest>,
    ) -> Result<Response<pb::SetSidReply>, Status> {
        let call = async {
            self.ask(|tx| ApiRequest::SetSid(r.into_inner(), tx))
                .await??;
            Ok(Response::new(pb::SetSidReply {}))
        };
        self.traced("set_sid", call).await
    }

    async fn delete_sid(
        &self,
        r: Request<pb::DeleteSidRequest>,
    ) -> Result<Response<pb::DeleteSidReply>, Status> {
        let call = async {
            self.ask(|tx| ApiRequest::DeleteSid(r.into_inner().sid, tx))
                .await??;
            Ok(Response::new(pb::DeleteSidReply {}))
        };
        self.traced("delete_sid", call).await
    }

    async fn list_lb(
        &self,
        _: Request<pb::ListLbRequest>,
    ) -> Result<Response<pb::ListLbReply>, Status> {
        let call = async { self.ask(ApiRequest::ListLb).await.map(Response::new) };
        self.traced("list_lb", call).await
    }

    async fn get_stats(
        &self,
        _: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let call = async { self.ask(ApiRequest::Stats).await.map(Response::new) };
        self.traced("get_stats", call).await
    }

    async fn get_config(
        &self,
        _: Request<pb::ConfigRequest>,
    ) -> Result<Response<pb::ConfigReply>, Status> {
        let call = async { self.ask(ApiRequest::Config).await.map(Response::new) };
        self.traced("get_config", call).await
    }

    type WatchStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::Event, Status>> + Send + 'static>,
    >;

    async fn watch(
        &self,
        _: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        use tokio_stream::StreamExt;
        let s = tokio_stream::wrappers::BroadcastStream::new(self.events.subscribe())
            // A watcher too slow to keep up misses events rather than holding anyone back.
            .filter_map(|e| e.ok().map(Ok));
        Ok(Response::new(Box::pin(s)))
    }
}

/// Serves the API on the bound `listen`er until the runtime ends.
pub async fn serve(
    listen: tokio::net::TcpListener,
    token: Option<String>,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    ask: mpsc::Sender<ApiRequest>,
    events: broadcast::Sender<pb::Event>,
    tracer: Option<opentelemetry_sdk::trace::SdkTracer>,
    serving: tokio::sync::watch::Receiver<bool>,
) -> Result<(), tonic::transport::Error> {
    let health = Health { serving };
    let api = Api {
        ask,
        events,
        tracer,
    };
    let expected = token.map(|t| format!("Bearer {t}"));
    let check = move |r: Request<()>| -> Result<Request<()>, Status> {
        match &expected {
            None => Ok(r),
            Some(want) => match r
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
            {
                Some(got) if got == want => Ok(r),
                Some(_) => Err(Status::unauthenticated("wrong bearer token")),
                None => Err(Status::unauthenticated("a bearer token is needed")),
            },
        }
    };
    let mut b = tonic::transport::Server::builder();
    if let Some((cert, key)) = tls {
        b = b.tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(cert, key)),
        )?;
    }
    b.add_service(health_pb::health_server::HealthServer::new(health))
        .add_service(pb::upf_lb_server::UpfLbServer::with_interceptor(api, check))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listen))
        .await
}
