//! The HTTP(S) transport: accepts connections, authenticates (bearer token, client
//! certificate, impersonation), applies faults, counts, and turns [`ApiResponse`]s into hyper
//! responses, streaming watches as chunked newline-delimited JSON. Every API response then goes
//! through [`crate::cost::shape`] (gzip when asked, the cost model's delay, the request log).

use crate::api::{ApiBody, ApiRequest, ApiResponse, Core, WatchPlan, parse_query};
use crate::auth::{self, Attributes, User};
use crate::cost::{self, CostModel, RequestLog};
use crate::error::ApiError;
use crate::faults::{Counters, Fault, FaultRule, Faults};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// The response body type.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// State shared by all connections.
pub struct Shared {
    /// The API core.
    pub core: Arc<Core>,
    /// Fault rules.
    pub faults: Faults,
    /// Counters.
    pub counters: Counters,
    /// Bearer tokens.
    pub tokens: RwLock<HashMap<String, User>>,
    /// The cost model's delays (`None`: free).
    pub cost: Option<CostModel>,
    /// Every API request served, for benchmarks.
    pub requests: RequestLog,
}

fn full(status: u16, content_type: &str, b: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(b).map_err(|never| match never {}).boxed());
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

impl Shared {
    fn admin(&self, method: &str, path: &str, query: &str, body: &[u8]) -> Response<Body> {
        let ok = |v: serde_json::Value| full(200, "application/json", Bytes::from(v.to_string()));
        match (method, path) {
            ("GET", "/kubesim/v1/counters") => ok(json!(self.counters.snapshot())),
            ("GET", "/kubesim/v1/requests") => ok(json!(self.requests.snapshot())),
            ("DELETE", "/kubesim/v1/requests") => {
                self.requests.clear();
                ok(json!({}))
            }
            ("DELETE", "/kubesim/v1/counters") => {
                self.counters.reset();
                ok(json!({}))
            }
            ("GET", "/kubesim/v1/faults") => ok(json!(
                self.faults
                    .list()
                    .into_iter()
                    .map(|(id, r)| json!({"id": id, "rule": r}))
                    .collect::<Vec<_>>()
            )),
            ("POST", "/kubesim/v1/faults") => match serde_json::from_slice::<FaultRule>(body) {
                Ok(rule) => ok(json!({"id": self.faults.add(rule)})),
                Err(e) => {
                    let err = ApiError::bad_request(format!("invalid fault rule: {e}"));
                    full(
                        400,
                        "application/json",
                        Bytes::from(err.to_status().to_string()),
                    )
                }
            },
            ("DELETE", "/kubesim/v1/faults") => {
                match parse_query(query)
                    .iter()
                    .find(|(k, _)| k == "id")
                    .and_then(|(_, v)| v.parse().ok())
                {
                    Some(id) => self.faults.remove(id),
                    None => self.faults.clear(),
                }
                ok(json!({}))
            }
            _ => {
                let e = ApiError::no_route();
                full(
                    404,
                    "application/json",
                    Bytes::from(e.to_status().to_string()),
                )
            }
        }
    }

    fn authenticate(
        &self,
        req: &Request<Incoming>,
        cert_user: Option<&User>,
    ) -> Result<Option<User>, ApiError> {
        let authz = header(req, "authorization");
        if let Some(tok) = authz.strip_prefix("Bearer ").map(str::trim) {
            let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
            return tokens
                .get(tok)
                .cloned()
                .map(Some)
                .ok_or_else(ApiError::unauthorized);
        }
        if !authz.is_empty() {
            return Err(ApiError::unauthorized());
        }
        Ok(cert_user.cloned())
    }

    fn impersonate(&self, req: &Request<Incoming>, user: User) -> Result<User, ApiError> {
        let as_user = header(req, "impersonate-user");
        let groups: Vec<String> = req
            .headers()
            .get_all("impersonate-group")
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        if as_user.is_empty() {
            if groups.is_empty() {
                return Ok(user);
            }
            return Err(ApiError::internal(format!(
                "requested groups {groups:?} without impersonating a user"
            )));
        }
        let st = self.core.store.read().unwrap_or_else(|e| e.into_inner());
        let a = Attributes {
            verb: "impersonate".into(),
            resource: "users".into(),
            name: as_user.clone(),
            ..Default::default()
        };
        if !auth::allowed(&st, &user, &a) {
            return Err(auth::forbidden(&user, &a));
        }
        for g in &groups {
            let a = Attributes {
                verb: "impersonate".into(),
                resource: "groups".into(),
                name: g.clone(),
                ..Default::default()
            };
            if !auth::allowed(&st, &user, &a) {
                return Err(auth::forbidden(&user, &a));
            }
        }
        let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
        Ok(User::new(&as_user, &refs))
    }

    /// Serves one HTTP request: the admin endpoints as they are, API requests through the
    /// cost layer ([`cost::shape`]).
    pub async fn serve(
        self: Arc<Self>,
        req: Request<Incoming>,
        cert_user: Option<User>,
        conn: cost::Connection,
    ) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        if path.starts_with("/kubesim/") {
            let query = req.uri().query().unwrap_or("").to_string();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return self.admin(&method, &path, &query, &body);
        }
        let arrival = cost::Arrival::now(&method, &path, &header(&req, "accept-encoding"), conn);
        let resp = self.clone().serve_api(req, cert_user).await;
        cost::shape(resp, arrival, self.cost, &self.requests).await
    }

    async fn serve_api(
        self: Arc<Self>,
        req: Request<Incoming>,
        cert_user: Option<User>,
    ) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        self.counters.request(&method, &path);
        let mut drop_after: Option<Option<usize>> = None;
        match self.faults.take_request(&method, &path, &query) {
            Some(Fault::Latency { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Some(Fault::Status { code, retry_after }) => {
                let reason = match code {
                    429 => "TooManyRequests",
                    503 => "ServiceUnavailable",
                    504 => "Timeout",
                    _ => "InternalError",
                };
                let mut e =
                    ApiError::new(code, reason, format!("kubesim injected fault: HTTP {code}"));
                e.retry_after = retry_after;
                return self.finish(ApiResponse::error(&e), None);
            }
            Some(Fault::Timeout { after_ms }) => {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                let e = ApiError {
                    details: Some(serde_json::json!({})),
                    ..ApiError::new(504, "Timeout", crate::faults::TIMEOUT_MESSAGE)
                };
                return self.finish(ApiResponse::error(&e), None);
            }
            Some(Fault::Expired) => {
                let e = ApiError::new(410, "Expired", crate::faults::EXPIRED_CONTINUE_MESSAGE);
                return self.finish(ApiResponse::error(&e), None);
            }
            Some(Fault::Hang) => std::future::pending::<()>().await,
            Some(Fault::Drop { after_bytes }) => drop_after = Some(after_bytes),
            None => {}
        }
        let public = matches!(
            path.as_str(),
            "/version" | "/healthz" | "/readyz" | "/livez"
        );
        let user = match self.authenticate(&req, cert_user.as_ref()) {
            Ok(Some(u)) => match self.impersonate(&req, u) {
                Ok(u) => Some(u),
                Err(e) => return self.finish(ApiResponse::error(&e), drop_after),
            },
            Ok(None) if public => Some(User::new("system:anonymous", &["system:unauthenticated"])),
            Ok(None) | Err(_) => {
                return self.finish(ApiResponse::error(&ApiError::unauthorized()), drop_after);
            }
        };
        let content_type = header(&req, "content-type");
        let accept = header(&req, "accept");
        let user_agent = header(&req, "user-agent");
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return self.finish(
                    ApiResponse::error(&ApiError::bad_request(format!("failed to read body: {e}"))),
                    None,
                );
            }
        };
        let api_req = ApiRequest {
            method,
            path,
            query: parse_query(&query),
            content_type,
            accept,
            user_agent,
            body,
            user,
        };
        let core = self.core.clone();
        let resp = match tokio::task::spawn_blocking(move || core.handle(&api_req)).await {
            Ok(r) => r,
            Err(_) => ApiResponse::error(&ApiError::internal("request handler failed")),
        };
        self.finish(resp, drop_after)
    }

    fn finish(
        self: &Arc<Self>,
        resp: ApiResponse,
        drop_after: Option<Option<usize>>,
    ) -> Response<Body> {
        let ApiResponse {
            status,
            content_type,
            body,
            retry_after,
        } = resp;
        let mut r = match body {
            ApiBody::Bytes(b) => match drop_after {
                Some(after) => {
                    let n = after.unwrap_or(b.len() / 2).min(b.len());
                    self.counters.bytes(n);
                    let total = b.len();
                    let part = b.slice(..n);
                    // send the part, give hyper time to flush it with the headers, then fail the body
                    let stream = futures::stream::unfold(0u8, move |step| {
                        let part = part.clone();
                        async move {
                            match step {
                                0 => Some((Ok(Frame::data(part)), 1)),
                                1 => {
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                    let e = std::io::Error::new(
                                        std::io::ErrorKind::ConnectionAborted,
                                        "kubesim injected fault: connection dropped",
                                    );
                                    Some((Err(e), 2))
                                }
                                _ => None,
                            }
                        }
                    });
                    let mut r = Response::new(StreamBody::new(stream).boxed());
                    if let Ok(v) = total.to_string().parse() {
                        r.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
                    }
                    *r.status_mut() =
                        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
                    if let Ok(v) = content_type.parse() {
                        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
                    }
                    return r;
                }
                None => {
                    self.counters.bytes(b.len());
                    full(status, &content_type, b)
                }
            },
            ApiBody::Watch(plan) => self.stream_watch(*plan, &content_type),
        };
        if let Some(s) = retry_after
            && let Ok(v) = s.to_string().parse()
        {
            r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
        }
        r
    }

    fn stream_watch(self: &Arc<Self>, plan: WatchPlan, content_type: &str) -> Response<Body> {
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(64);
        let shared = self.clone();
        tokio::spawn(async move {
            let WatchPlan {
                initial,
                mut rx,
                filter,
                timeout,
                bookmarks,
                ..
            } = plan;
            let send = |b: Bytes| {
                shared.counters.bytes(b.len());
                tx.send(Ok(Frame::data(b)))
            };
            for line in initial {
                if send(line).await.is_err() {
                    return;
                }
            }
            let deadline =
                tokio::time::Instant::now() + timeout.unwrap_or(Duration::from_secs(3600));
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Ok(ev) => if let Some(line) = filter.render(&ev)
                            && send(line).await.is_err() { return; },
                        // a slow watcher loses its stream, like a real one whose cache window passed
                        Err(_) => return,
                    },
                    _ = tokio::time::sleep_until(deadline) => return,
                    _ = tick.tick(), if bookmarks => {
                        let rv = shared.core.store.read().map(|s| s.rv).unwrap_or(0);
                        if send(filter.bookmark(rv, false)).await.is_err() { return; }
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        let stream =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
        let mut r = Response::new(StreamBody::new(stream).boxed());
        if let Ok(v) = content_type.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    }
}

/// HTTP/2 flow-control windows kubesim advertises for what clients send (bodies of writes).
const H2_STREAM_WINDOW: u32 = 1 << 20;
const H2_CONNECTION_WINDOW: u32 = 4 << 20;
/// Streams a client may open at once on one HTTP/2 connection (the API server's
/// `--http2-max-streams-per-connection` default).
const H2_MAX_STREAMS: u32 = 1000;

/// Accepts connections until `shutdown` flips to true; `http2` offers HTTP/2 besides HTTP/1.1.
pub async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    http2: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acc) => {
                    let Ok(tls) = acc.accept(stream).await else {
                        return;
                    };
                    let cert_user = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| crate::tls::user_from_cert(c));
                    let conn = cost::Connection {
                        first_request: true,
                        tls: true,
                        client_certificate: cert_user.is_some(),
                    };
                    serve_conn(
                        TokioIo::new(tls),
                        shared,
                        cert_user,
                        conn,
                        http2,
                        &mut conn_shutdown,
                    )
                    .await;
                }
                None => {
                    let conn = cost::Connection {
                        first_request: true,
                        ..Default::default()
                    };
                    serve_conn(
                        TokioIo::new(stream),
                        shared,
                        None,
                        conn,
                        http2,
                        &mut conn_shutdown,
                    )
                    .await
                }
            }
        });
    }
}

async fn serve_conn<I>(
    io: I,
    shared: Arc<Shared>,
    cert_user: Option<User>,
    conn: cost::Connection,
    http2: bool,
    shutdown: &mut watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    // the first API request of the connection pays for the handshake
    let fresh = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let cu = cert_user.clone();
        let first = !req.uri().path().starts_with("/kubesim/")
            && fresh.swap(false, std::sync::atomic::Ordering::Relaxed);
        let conn = cost::Connection {
            first_request: first,
            ..conn
        };
        async move { Ok::<_, std::convert::Infallible>(shared.serve(req, cu, conn).await) }
    });
    // HTTP/1.1 or HTTP/2, by what the client sends first (after ALPN chose it); HTTP/1.1 only
    // when HTTP/2 is off
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    if !http2 {
        builder = builder.http1_only();
    }
    builder
        .http2()
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .max_concurrent_streams(H2_MAX_STREAMS);
    let conn = builder.serve_connection(io, svc);
    tokio::select! {
        _ = conn => {}
        _ = shutdown.changed() => {}
    }
}
