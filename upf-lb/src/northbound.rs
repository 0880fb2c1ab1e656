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
}

/// The service: a channel to the owner and the event feed.
pub struct Api {
    ask: mpsc::Sender<ApiRequest>,
    events: broadcast::Sender<pb::Event>,
}

impl Api {
    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> ApiRequest) -> Result<T, Status> {
        let (tx, rx) = oneshot::channel();
        self.ask
            .send(f(tx))
            .await
            .map_err(|_| Status::unavailable("the UP function is stopping"))?;
        rx.await
            .map_err(|_| Status::unavailable("the UP function is stopping"))
    }
}

#[tonic::async_trait]
impl pb::upf_lb_server::UpfLb for Api {
    async fn health(
        &self,
        _: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthReply>, Status> {
        self.ask(ApiRequest::Health).await.map(Response::new)
    }

    async fn list_sessions(
        &self,
        _: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsReply>, Status> {
        self.ask(ApiRequest::ListSessions).await.map(Response::new)
    }

    async fn get_session(
        &self,
        r: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let seid = r.into_inner().up_seid;
        match self.ask(|tx| ApiRequest::GetSession(seid, tx)).await? {
            Some(s) => Ok(Response::new(s)),
            None => Err(Status::not_found(format!(
                "no session with UP SEID {seid:#x}"
            ))),
        }
    }

    async fn list_associations(
        &self,
        _: Request<pb::ListAssociationsRequest>,
    ) -> Result<Response<pb::ListAssociationsReply>, Status> {
        self.ask(ApiRequest::ListAssociations)
            .await
            .map(Response::new)
    }

    async fn get_stats(
        &self,
        _: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        self.ask(ApiRequest::Stats).await.map(Response::new)
    }

    async fn get_config(
        &self,
        _: Request<pb::ConfigRequest>,
    ) -> Result<Response<pb::ConfigReply>, Status> {
        self.ask(ApiRequest::Config).await.map(Response::new)
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
) -> Result<(), tonic::transport::Error> {
    let api = Api { ask, events };
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
    b.add_service(pb::upf_lb_server::UpfLbServer::with_interceptor(api, check))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listen))
        .await
}
