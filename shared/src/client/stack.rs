//! The HTTP stack under the client: kube's, but offering HTTP/2, with one connection opened
//! at a time until the server's protocol is known.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// The boxed service under the client's own layers (the type kube's builder makes, too).
pub(super) type Stack = tower::util::BoxService<
    http::Request<kube::client::Body>,
    http::Response<Box<kube::client::DynBody>>,
    tower::BoxError,
>;

/// HTTP/2 flow-control windows: a stream may have this much unread data in flight, and the
/// connection this much over all its streams (client-go's are 4 MiB and 1 GiB; a command reads
/// a few lists at a time, so 32 MiB is plenty). The default 64 KiB would make the server stop
/// for a window update every 64 KiB of a 1 MB list page.
const H2_STREAM_WINDOW: u32 = 4 << 20;
const H2_CONNECTION_WINDOW: u32 = 32 << 20;
/// With requests open and nothing heard for this long, ping the server, and close the
/// connection if the ping is not answered in [`H2_PING_TIMEOUT`] (client-go's `ReadIdleTimeout`
/// and `PingTimeout`).
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The client's HTTP stack: kube's own (`ClientBuilder::try_from`: TLS from the kubeconfig,
/// base URI, gzip, credentials, impersonation headers), except that the TLS connector offers
/// HTTP/2 before HTTP/1.1, as kubectl does. Over HTTP/2 every request of a run shares one
/// connection and one TLS handshake; over HTTP/1.1 each request in flight needs a connection of
/// its own, and a command that sends fifty at once pays fifty handshakes, on both sides. A
/// server that offers only HTTP/1.1 is spoken to in HTTP/1.1.
///
/// The connection has no read or write timeout: `--request-timeout` bounds each request
/// (`Observe`), as client-go's `http.Client.Timeout` does, since a read timeout on a shared
/// HTTP/2 connection would fire on an idle one and could not tell which request stalled.
///
/// With a proxy in the kubeconfig, kube builds the stack (and refuses the proxy: this build has
/// no proxy support).
pub(super) fn http_stack(
    config: kube::Config,
) -> std::result::Result<kube::client::ClientBuilder<Stack>, kube::Error> {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    use kube::client::ConfigExt as _;
    use tower::{BoxError, ServiceBuilder, ServiceExt as _};

    if config.proxy_url.is_some() {
        return kube::client::ClientBuilder::try_from(config);
    }
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let tls = match &config.tls_server_name {
        Some(name) => tls.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
            name.clone().try_into().map_err(|e| {
                kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(e))
            })?,
        )),
        None => tls,
    };
    let mut connector =
        hyper_timeout::TimeoutConnector::new(tls.enable_http1().enable_http2().wrap_connector(tcp));
    connector.set_connect_timeout(config.connect_timeout);
    let first = FirstRequestLayer::default();
    let connector = Announce {
        inner: connector,
        gate: first.0.clone(),
    };
    let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .http2_initial_stream_window_size(H2_STREAM_WINDOW)
            .http2_initial_connection_window_size(H2_CONNECTION_WINDOW)
            .http2_keep_alive_interval(H2_PING_INTERVAL)
            .http2_keep_alive_timeout(H2_PING_TIMEOUT)
            .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .layer(
            tower_http::decompression::DecompressionLayer::new().gzip(!config.disable_compression),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(first)
        .map_err(BoxError::from)
        .service(client)
        .map_response(|resp| {
            resp.map(|body| {
                Box::new(http_body_util::BodyExt::map_err(body, BoxError::from))
                    as Box<kube::client::DynBody>
            })
        })
        .boxed();
    Ok(kube::client::ClientBuilder::new(
        service,
        config.default_namespace,
    ))
}

/// Holds a client's requests back until its first connection is up.
///
/// Until a client has a connection, each request it sends opens one: the pool cannot know
/// before the TLS handshake that the server speaks HTTP/2 and that one connection would carry
/// them all, so a command that starts fifty requests at once would make fifty TLS handshakes,
/// all but one thrown away. With this layer the first request goes alone and the others wait
/// until its connection is ready ([`Announce`]: an HTTP/2 connection once the server's first
/// frame has been read, an HTTP/1.1 one at once) or the first request has ended (answered,
/// failed or dropped); then they share its connection (HTTP/2) or open their own (HTTP/1.1).
/// The wait is inside each request's `--request-timeout` and `--deadline`.
#[derive(Clone, Default)]
struct FirstRequestLayer(Arc<Gate>);

struct Gate {
    /// A request has gone ahead.
    led: AtomicBool,
    /// Its connection is up, or it has ended: every request goes straight through.
    open: tokio::sync::watch::Sender<bool>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            led: AtomicBool::new(false),
            open: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Gate {
    fn open(&self) {
        if !*self.open.borrow() {
            self.open.send_replace(true);
        }
    }
}

/// Opens the gate when the first request's future ends, whether answered, failed or dropped.
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// The connector, telling the gate of [`FirstRequestLayer`] when a connection can take the
/// waiting requests.
#[derive(Clone)]
struct Announce<C> {
    inner: C,
    gate: Arc<Gate>,
}

impl<C> tower::Service<http::Uri> for Announce<C>
where
    C: tower::Service<http::Uri>,
    C::Response: hyper_util::client::legacy::connect::Connection,
    C::Future: Send + 'static,
    C::Error: Send + 'static,
    C::Response: Send + 'static,
{
    type Response = Announced<C::Response>;
    type Error = C::Error;
    type Future = super::BoxedFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), C::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let gate = self.gate.clone();
        Box::pin(async move {
            let io = connecting.await?;
            // HTTP/2: once the server's first frame is read, the pool has the connection to
            // share (it is pooled right after the handshake, before anything is read).
            // HTTP/1.1: a connection carries one request at a time; nothing to wait for.
            use hyper_util::client::legacy::connect::Connection as _;
            let h2 = io.connected().is_negotiated_h2();
            if !h2 {
                gate.open();
            }
            Ok(Announced {
                io,
                gate: h2.then_some(gate),
            })
        })
    }
}

/// A connection that opens the gate on its first read.
struct Announced<T> {
    io: T,
    gate: Option<Arc<Gate>>,
}

impl<T: hyper_util::client::legacy::connect::Connection>
    hyper_util::client::legacy::connect::Connection for Announced<T>
{
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.io.connected()
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Announced<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let read = std::pin::Pin::new(&mut self.io).poll_read(cx, buf);
        if read.is_ready()
            && let Some(gate) = self.gate.take()
        {
            gate.open();
        }
        read
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Announced<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

impl<S> tower::Layer<S> for FirstRequestLayer {
    type Service = FirstRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FirstRequest {
            inner,
            gate: self.0.clone(),
        }
    }
}

/// The service of [`FirstRequestLayer`].
#[derive(Clone)]
struct FirstRequest<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S, R> tower::Service<R> for FirstRequest<S>
where
    S: tower::Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = super::BoxedFuture<S::Response, S::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        if *self.gate.open.borrow() {
            return Box::pin(self.inner.call(req));
        }
        if !self.gate.led.swap(true, Ordering::AcqRel) {
            let open = OpenOnDrop(self.gate.clone());
            let fut = self.inner.call(req);
            return Box::pin(async move {
                let _open = open;
                fut.await
            });
        }
        // the service made ready for this call goes with it; a clone stays for the next
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let mut open = self.gate.open.subscribe();
        Box::pin(async move {
            // an error means the gate is gone, which cannot happen while this service lives
            let _ = open.wait_for(|open| *open).await;
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            inner.call(req).await
        })
    }
}
