//! Builds the one `kube::Client` a command uses, from kubectl's connection flags.
//!
//! The ladder is kubectl's: `--kubeconfig` alone, else the files in `$KUBECONFIG` merged (first
//! to set a value wins; missing files skipped, as client-go does), else `~/.kube/config`, else
//! the in-cluster service account. Then the flags override the chosen context, cluster and user
//! (`--context`, `--cluster`, `--user`, `--server`, `--token`, `--certificate-authority`,
//! `--insecure-skip-tls-verify`, `--as`, `--as-group`), and `--request-timeout` bounds each
//! request. Exec credential plugins and client certificates are handled by kube-rs.

use std::{path::PathBuf, time::Duration};

use kube::config::{
    AuthInfo, Cluster as KcCluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo,
    NamedCluster, NamedContext,
};

use crate::error::{Error, Result};

mod stack;

/// How to reach the cluster: kubectl's connection flags as plain values (the plugins fill it
/// from `cli::ConnectOptions`; a library caller builds it, usually from [`Default`]).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The only kubeconfig file to read (no merging with `$KUBECONFIG`).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    pub context: Option<String>,
    /// The kubeconfig cluster to use.
    pub cluster: Option<String>,
    /// The kubeconfig user to use.
    pub user: Option<String>,
    /// The namespace (default: the context's, else `default`).
    pub namespace: Option<String>,
    /// The user to impersonate.
    pub impersonate: Option<String>,
    /// The groups to impersonate.
    pub impersonate_groups: Vec<String>,
    /// The bound on each request (zero: none).
    pub request_timeout: Duration,
    /// The bound on the whole command's waiting for the API server (zero: none).
    pub deadline: Duration,
    /// Objects per page of every list (zero: one request per list).
    pub chunk_size: u32,
    /// kubectl's `-v`: 6 logs every request on stderr.
    pub verbosity: u8,
    /// The API server URL, overriding the kubeconfig's.
    pub server: Option<String>,
    /// A bearer token.
    pub token: Option<String>,
    /// A CA certificate file.
    pub certificate_authority: Option<PathBuf>,
    /// Do not check the server's certificate.
    pub insecure_skip_tls_verify: bool,
}

impl Default for ConnectOptions {
    /// No flags given, except that there is no deadline (library callers bound their own
    /// work) and pages have the usual size.
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            cluster: None,
            user: None,
            namespace: None,
            impersonate: None,
            impersonate_groups: Vec::new(),
            request_timeout: Duration::ZERO,
            deadline: Duration::ZERO,
            chunk_size: crate::list::PAGE_SIZE,
            verbosity: 0,
            server: None,
            token: None,
            certificate_authority: None,
            insecure_skip_tls_verify: false,
        }
    }
}

/// A connection to the cluster of the selected context.
#[derive(Clone)]
pub struct Cluster {
    /// The client every call goes through.
    pub client: kube::Client,
    /// The namespace: `-n`, else the context's, else `default`.
    pub namespace: String,
    /// The context used, when one was.
    pub context: Option<String>,
    /// The API server URL.
    pub server: String,
    /// Things the user should know (TLS verification off); the runner prints them to stderr.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

const OVERRIDE_NAME: &str = "kupgrade-flags";
/// kube-rs connects without a deadline by default; an unreachable address must not hang a CI job.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects as kubectl would with the same flags.
pub async fn connect(args: &ConnectOptions) -> Result<Cluster> {
    crate::list::set_page_size(args.chunk_size);
    let (config, context) = load_config(args).await?;
    let namespace = args.namespace.clone();
    from_config(config, context, namespace, args)
}

/// Builds the client for a resolved config (`namespace` overrides the context's); `args` gives
/// the request log's verbosity and the run's deadline.
fn from_config(
    config: kube::Config,
    context: Option<String>,
    namespace: Option<String>,
    args: &ConnectOptions,
) -> Result<Cluster> {
    let mut warnings = Vec::new();
    if config.accept_invalid_certs {
        warnings.push(
            "TLS verification is off (insecure-skip-tls-verify): the server's identity is not checked"
                .to_string(),
        );
    }
    let server = config.cluster_url.to_string();
    let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
    let exec_command = config
        .auth_info
        .exec
        .as_ref()
        .and_then(|e| e.command.clone());
    let client = stack::http_stack(config)
        .map_err(|e| Error::LoadKubeconfig {
            path: None,
            reason: crate::error::describe_client_error(&e, exec_command.as_deref()),
        })?
        .with_layer(&ObserveLayer::new(args, &server))
        .with_layer(&RetryAfterLayer)
        .build();
    Ok(Cluster {
        client,
        namespace,
        context,
        server,
        warnings,
    })
}

// --- Fleet (issue 16): a member cluster reached through a kubeconfig held in memory. ---

/// Connects with a kubeconfig held in memory (the one KubeSphere stores for a directly connected
/// member), at its current context, with `args`' `--request-timeout`, `--deadline` and `-v`
/// applied (its other flags are the host's, and are ignored). Nothing of it is written to
/// disk, and an error never quotes it: a kubeconfig kube-rs cannot use is reported without its
/// text.
pub(crate) async fn connect_in_memory(
    kubeconfig: Kubeconfig,
    args: &ConnectOptions,
) -> Result<Cluster> {
    let context = kubeconfig.current_context.clone();
    let options = KubeConfigOptions {
        context: context.clone(),
        cluster: None,
        user: None,
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| Error::LoadKubeconfig {
            path: None,
            reason: format!(
                "the stored kubeconfig cannot be used ({})",
                kubeconfig_error_kind(&e)
            ),
        })?;
    apply_timeouts(&mut config, args.request_timeout);
    // Its context name means nothing to the user (no context of theirs), so none is reported.
    from_config(config, None, None, args)
}

/// What is wrong with a kubeconfig, in words that cannot carry its contents.
fn kubeconfig_error_kind(err: &kube::config::KubeconfigError) -> &'static str {
    use kube::config::KubeconfigError as K;
    match err {
        K::CurrentContextNotSet => "no current-context",
        K::LoadContext(_) => "its current-context is not defined",
        K::LoadClusterOfContext(_) => "the context's cluster is not defined",
        K::MissingClusterUrl => "the cluster has no server",
        K::ParseClusterUrl(_) => "the cluster's server is not a URL",
        _ => "unusable credentials or certificates",
    }
}

/// Resolves the kube-rs `Config` for the flags, with the context name used.
pub(crate) async fn load_config(args: &ConnectOptions) -> Result<(kube::Config, Option<String>)> {
    let kubeconfig = match read_kubeconfig(args)? {
        Some(kc) => Some(kc),
        None if args.server.is_some() => Some(Kubeconfig::default()),
        None => None,
    };
    let Some(mut kubeconfig) = kubeconfig else {
        // In a pod, the service account is the cluster's way of saying where it is.
        return match kube::Config::incluster() {
            Ok(mut config) => {
                apply_timeouts(&mut config, args.request_timeout);
                if let Some(ns) = &args.namespace {
                    config.default_namespace = ns.clone();
                }
                Ok((config, None))
            }
            Err(_) => Err(Error::NoKubeconfig),
        };
    };
    let context = apply_overrides(&mut kubeconfig, args)?;
    let options = KubeConfigOptions {
        context: context.clone(),
        cluster: args.cluster.clone(),
        user: args.user.clone(),
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| Error::LoadKubeconfig {
            path: args.kubeconfig.clone(),
            reason: describe_kubeconfig_error(&e),
        })?;
    apply_timeouts(&mut config, args.request_timeout);
    Ok((config, context))
}

fn describe_kubeconfig_error(err: &kube::config::KubeconfigError) -> String {
    use std::error::Error as _;
    let mut text = err.to_string();
    if let Some(src) = err.source() {
        let s = src.to_string();
        if !text.contains(&s) {
            text = format!("{text}: {s}");
        }
    }
    text
}

fn apply_timeouts(config: &mut kube::Config, timeout: Duration) {
    // kube's default retry layer retries 429/503/504 up to 15 times with a backoff that grows
    // to minutes, writes included: a permanent 503 would hang the command and a write could be
    // repeated. Reads are retried by `crate::list::retry_read` (bounded), writes only by callers
    // that know they are safe; `RetryAfterLayer` honours the server's Retry-After for reads.
    config.default_retry = false;
    // the request itself is bounded by `Observe` (see `http_stack`)
    config.connect_timeout = Some(if timeout.is_zero() {
        DEFAULT_CONNECT_TIMEOUT
    } else {
        timeout.min(DEFAULT_CONNECT_TIMEOUT)
    });
}

/// Reads the kubeconfig kubectl would read, or `None` when there is none.
pub(crate) fn read_kubeconfig(args: &ConnectOptions) -> Result<Option<Kubeconfig>> {
    if let Some(path) = &args.kubeconfig {
        if !path.exists() {
            return Err(Error::LoadKubeconfig {
                path: Some(path.clone()),
                reason: "no such file".into(),
            });
        }
        return read_file(path).map(Some);
    }
    let paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG") {
        Some(value) => std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => Vec::new(),
    };
    let paths = if paths.is_empty() {
        home_kubeconfig().into_iter().collect()
    } else {
        paths
    };
    let mut merged: Option<Kubeconfig> = None;
    for path in paths.iter().filter(|p| p.exists()) {
        let next = read_file(path)?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(|e| Error::LoadKubeconfig {
                path: Some(path.clone()),
                reason: e.to_string(),
            })?,
        });
    }
    Ok(merged)
}

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

fn read_file(path: &PathBuf) -> Result<Kubeconfig> {
    Kubeconfig::read_from(path).map_err(|e| Error::LoadKubeconfig {
        path: Some(path.clone()),
        reason: match &e {
            kube::config::KubeconfigError::ReadConfig(io, _) => io.to_string(),
            kube::config::KubeconfigError::Parse(p) => {
                // The YAML parser draws a multi-line snippet; its first line says it all.
                let text = p.to_string();
                let first = text.lines().next().unwrap_or_default();
                format!(
                    "not a valid kubeconfig: {}",
                    first.trim_start_matches("error: ")
                )
            }
            other => describe_kubeconfig_error(other),
        },
    })
}

/// Longest server-directed wait (`Retry-After`) honoured before a read is retried.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// A layer that, when a GET is answered 429 or 5xx with `Retry-After: N`, waits N seconds
/// (at most [`MAX_RETRY_AFTER`]) before handing the answer back, so that the bounded retry of
/// [`crate::list::retry_read`] comes when the server asked for it. Writes are passed through.
#[derive(Clone, Copy, Debug)]
struct RetryAfterLayer;

impl<S> tower::Layer<S> for RetryAfterLayer {
    type Service = RetryAfter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryAfter(inner)
    }
}

/// The service of [`RetryAfterLayer`].
#[derive(Clone, Debug)]
struct RetryAfter<S>(S);

pub(crate) type BoxedFuture<T, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = std::result::Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<kube::client::Body>> for RetryAfter<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxedFuture<S::Response, S::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        let read = req.method() == http::Method::GET;
        let fut = self.0.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            if read && let Some(wait) = retry_after(resp.status(), resp.headers()) {
                tokio::time::sleep(wait).await;
            }
            Ok(resp)
        })
    }
}

/// The wait a 429/5xx answer asks for, capped at [`MAX_RETRY_AFTER`].
fn retry_after(status: http::StatusCode, headers: &http::HeaderMap) -> Option<Duration> {
    if status != http::StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
        return None;
    }
    let secs: u64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The request that was pending when the run's `--deadline` ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineExceeded {
    /// `METHOD /path?query` of the request that stalled.
    pub request: String,
    /// The deadline (`--deadline`).
    pub deadline: Duration,
}

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the API server did not answer `{}` within the command's deadline (--deadline {})",
            self.request,
            crate::output::human_duration(self.deadline)
        )
    }
}

impl std::error::Error for DeadlineExceeded {}

/// A request that was not answered (headers and body) within `--request-timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTimedOut {
    /// `METHOD /path?query` of the request.
    pub request: String,
    /// The bound (`--request-timeout`).
    pub timeout: Duration,
}

impl std::fmt::Display for RequestTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request timed out: `{}` was not answered within --request-timeout {}",
            self.request,
            crate::output::human_duration(self.timeout)
        )
    }
}

impl std::error::Error for RequestTimedOut {}

/// Which bound cut a request short.
#[derive(Debug, Clone, Copy)]
enum Cutoff {
    /// The run's `--deadline` (its value).
    Deadline(Duration),
    /// `--request-timeout` (its value).
    Timeout(Duration),
}

impl Cutoff {
    /// The status the `-v=6` log gives a request it cut short.
    fn status(self) -> &'static str {
        match self {
            Cutoff::Deadline(_) => "deadline exceeded",
            Cutoff::Timeout(_) => "timed out",
        }
    }

    fn error(self, request: String) -> tower::BoxError {
        match self {
            Cutoff::Deadline(deadline) => Box::new(DeadlineExceeded { request, deadline }),
            Cutoff::Timeout(timeout) => Box::new(RequestTimedOut { request, timeout }),
        }
    }
}

/// The requests in flight, oldest first, with how long each has waited (for the progress line
/// drawn on a terminal while the API server is slow to answer).
pub(crate) fn pending_requests() -> Vec<(String, Duration)> {
    let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<(String, Duration)> = pending
        .values()
        .map(|(label, since)| (label.clone(), since.elapsed()))
        .collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.1));
    all
}

/// Requests in flight in this process, by id: `METHOD /path?query` and when each was sent.
static PENDING: std::sync::Mutex<std::collections::BTreeMap<u64, (String, std::time::Instant)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());
static NEXT_REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The run's budget of time spent waiting for the API server (`--deadline`): wall time during
/// which at least one request is in flight, so concurrent requests do not count twice and the
/// command's own pauses (`--wait` rounds, Retry-After, helm) do not count at all.
#[derive(Debug)]
struct Budget {
    limit: Duration,
    state: std::sync::Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    in_flight: usize,
    busy_since: Option<std::time::Instant>,
    spent: Duration,
}

impl Budget {
    /// Starts a request: the instant the budget runs out if the request is still pending then
    /// (the clock runs at wall speed while it is in flight); `None` without a deadline.
    fn begin(&self) -> Option<tokio::time::Instant> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if st.in_flight == 0 {
            st.busy_since = Some(now);
        }
        st.in_flight += 1;
        if self.limit.is_zero() {
            return None;
        }
        let busy = st.busy_since.map(|b| now - b).unwrap_or_default();
        let left = self.limit.saturating_sub(st.spent + busy);
        let now = tokio::time::Instant::now();
        Some(now.checked_add(left).unwrap_or(now))
    }

    fn end(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.in_flight = st.in_flight.saturating_sub(1);
        if st.in_flight == 0
            && let Some(since) = st.busy_since.take()
        {
            st.spent += since.elapsed();
        }
    }
}

/// One request in flight: registered in [`PENDING`] and counted by the [`Budget`] until the
/// response body has been read (or the request is dropped).
struct InFlight {
    id: u64,
    budget: std::sync::Arc<Budget>,
}

impl InFlight {
    fn start(budget: &std::sync::Arc<Budget>, label: &str) -> (Self, Option<tokio::time::Instant>) {
        let id = NEXT_REQUEST.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (label.to_string(), std::time::Instant::now()));
        let expiry = budget.begin();
        (
            Self {
                id,
                budget: budget.clone(),
            },
            expiry,
        )
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        self.budget.end();
    }
}

/// The layer that watches every request: `-v=6` logging, the `--deadline` budget, and the
/// registry of pending requests behind the terminal's progress line.
#[derive(Clone, Debug)]
struct ObserveLayer {
    budget: std::sync::Arc<Budget>,
    /// `--request-timeout` (zero: none).
    request_timeout: Duration,
    verbosity: u8,
    /// The server URL without its trailing `/`, for the logged URL.
    server: std::sync::Arc<str>,
}

impl ObserveLayer {
    fn new(args: &ConnectOptions, server: &str) -> Self {
        Self {
            budget: std::sync::Arc::new(Budget {
                limit: args.deadline,
                state: Default::default(),
            }),
            request_timeout: args.request_timeout,
            verbosity: args.verbosity,
            server: server.trim_end_matches('/').into(),
        }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ObserveLayer`].
#[derive(Clone, Debug)]
struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

/// Writes one request line on stderr (above the live progress lines), in klog's shape and with
/// the fields of kubectl's `round_trippers.go` `"Response"` line at -v=6. Never a header or a
/// body: no token can leak.
fn log_request(verb: &str, url: &str, status: &str, took: Duration) {
    let now = jiff::Zoned::now();
    let line = format!(
        "I{}.{:06} {:>7} client.rs] \"Response\" verb=\"{verb}\" url=\"{url}\" status=\"{status}\" milliseconds={}\n",
        now.strftime("%m%d %H:%M:%S"),
        now.subsec_nanosecond() / 1000,
        std::process::id(),
        took.as_millis()
    );
    crate::output::progress::write_stderr(&line);
}

impl<S, B> tower::Service<http::Request<kube::client::Body>> for Observe<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Error: Into<tower::BoxError>,
{
    type Response = http::Response<GuardedBody<B>>;
    type Error = tower::BoxError;
    type Future = BoxedFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        let verb = req.method().to_string();
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| req.uri().path().to_string());
        let label = format!("{verb} {target}");
        let url = format!("{}{target}", self.layer.server);
        let verbosity = self.layer.verbosity;
        let deadline = self.layer.budget.limit;
        let (guard, expiry) = InFlight::start(&self.layer.budget, &label);
        let started = std::time::Instant::now();
        // the earlier of the run's deadline and this request's timeout
        let timeout = self.layer.request_timeout;
        let timeout_at = (!timeout.is_zero())
            .then(|| tokio::time::Instant::now().checked_add(timeout))
            .flatten();
        let cutoff = match (expiry, timeout_at) {
            (Some(d), Some(t)) if t < d => Some((t, Cutoff::Timeout(timeout))),
            (Some(d), _) => Some((d, Cutoff::Deadline(deadline))),
            (None, Some(t)) => Some((t, Cutoff::Timeout(timeout))),
            (None, None) => None,
        };
        if let Some((at, why)) = cutoff
            && at <= tokio::time::Instant::now()
        {
            if verbosity >= 6 {
                log_request(&verb, &url, why.status(), Duration::ZERO);
            }
            return Box::pin(std::future::ready(Err(why.error(label))));
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let answer = match cutoff {
                Some((at, why)) => match tokio::time::timeout_at(at, fut).await {
                    Ok(answer) => answer.map_err(Into::into),
                    Err(_) => Err(why.error(label.clone())),
                },
                None => fut.await.map_err(Into::into),
            };
            if verbosity >= 6 {
                let status = match &answer {
                    Ok(resp) => resp.status().to_string(),
                    Err(e) if e.is::<DeadlineExceeded>() => "deadline exceeded".to_string(),
                    Err(e) if e.is::<RequestTimedOut>() => "timed out".to_string(),
                    Err(e) => format!("error: {}", crate::error::one_line(e.as_ref())),
                };
                log_request(&verb, &url, &status, started.elapsed());
            }
            let resp = answer?;
            Ok(resp.map(|body| GuardedBody {
                inner: Box::pin(body),
                cutoff: cutoff.map(|(at, why)| (Box::pin(tokio::time::sleep_until(at)), why)),
                guard: Some(guard),
                label,
            }))
        })
    }
}

/// A response body that stays counted as in flight until it has been read, and fails with
/// [`DeadlineExceeded`] or [`RequestTimedOut`] when the deadline or the request's timeout runs
/// out while it is being read.
pub struct GuardedBody<B> {
    inner: std::pin::Pin<Box<B>>,
    cutoff: Option<(std::pin::Pin<Box<tokio::time::Sleep>>, Cutoff)>,
    guard: Option<InFlight>,
    label: String,
}

impl<B> http_body::Body for GuardedBody<B>
where
    B: http_body::Body,
    B::Error: Into<tower::BoxError>,
{
    type Data = B::Data;
    type Error = tower::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<http_body::Frame<Self::Data>, Self::Error>>>
    {
        use std::{future::Future as _, task::Poll};
        let this = self.get_mut();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(None) => {
                this.guard.take();
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                let frame = frame.map_err(Into::into);
                if frame.is_err() {
                    this.guard.take();
                }
                Poll::Ready(Some(frame))
            }
            Poll::Pending => {
                if let Some((sleep, why)) = this.cutoff.as_mut()
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    let why = *why;
                    this.guard.take();
                    this.cutoff = None;
                    return Poll::Ready(Some(Err(why.error(this.label.clone()))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Applies the override flags to the kubeconfig and returns the context to use.
fn apply_overrides(kc: &mut Kubeconfig, args: &ConnectOptions) -> Result<Option<String>> {
    let mut context_name = args.context.clone().or_else(|| kc.current_context.clone());
    if let Some(name) = &context_name
        && !kc.contexts.iter().any(|c| &c.name == name)
    {
        if args.context.is_some() {
            let known: Vec<_> = kc
                .contexts
                .iter()
                .map(|c| format!("`{}`", c.name))
                .collect();
            return Err(Error::LoadKubeconfig {
                path: args.kubeconfig.clone(),
                reason: format!(
                    "context `{name}` not found (known: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        // A current-context that names nothing: only usable with --server.
        context_name = None;
    }
    let needs_synthetic = context_name.is_none();
    if needs_synthetic {
        if args.server.is_none() && args.cluster.is_none() {
            return Err(Error::LoadKubeconfig {
                path: args.kubeconfig.clone(),
                reason: "no current context is set; pass --context".into(),
            });
        }
        kc.contexts.push(NamedContext {
            name: OVERRIDE_NAME.into(),
            context: Some(Context {
                cluster: args.cluster.clone().unwrap_or_else(|| OVERRIDE_NAME.into()),
                user: Some(args.user.clone().unwrap_or_else(|| OVERRIDE_NAME.into())),
                namespace: None,
                extensions: None,
                other: Default::default(),
            }),
            other: Default::default(),
        });
        context_name = Some(OVERRIDE_NAME.into());
    }
    let ctx = kc
        .contexts
        .iter()
        .find(|c| Some(&c.name) == context_name.as_ref())
        .and_then(|c| c.context.clone());
    let cluster_name = args
        .cluster
        .clone()
        .or_else(|| ctx.as_ref().map(|c| c.cluster.clone()))
        .unwrap_or_else(|| OVERRIDE_NAME.into());
    let user_name = args
        .user
        .clone()
        .or_else(|| ctx.as_ref().and_then(|c| c.user.clone()))
        .unwrap_or_else(|| OVERRIDE_NAME.into());

    if args.cluster.is_some() && !kc.clusters.iter().any(|c| c.name == cluster_name) {
        return Err(Error::LoadKubeconfig {
            path: args.kubeconfig.clone(),
            reason: format!("cluster `{cluster_name}` not found"),
        });
    }
    if args.user.is_some() && !kc.auth_infos.iter().any(|c| c.name == user_name) {
        return Err(Error::LoadKubeconfig {
            path: args.kubeconfig.clone(),
            reason: format!("user `{user_name}` not found"),
        });
    }

    let touches_cluster = args.server.is_some()
        || args.certificate_authority.is_some()
        || args.insecure_skip_tls_verify;
    // Without --server, the context's cluster must exist and name a server; say which is
    // missing rather than kube-rs's "cluster url is missing".
    if args.server.is_none() && !needs_synthetic {
        let context = context_name.as_deref().unwrap_or_default();
        match kc.clusters.iter().find(|c| c.name == cluster_name) {
            None => {
                return Err(Error::LoadKubeconfig {
                    path: args.kubeconfig.clone(),
                    reason: format!(
                        "context `{context}` refers to cluster `{cluster_name}`, which is not defined (pass --server, or fix the context)"
                    ),
                });
            }
            Some(c) if c.cluster.as_ref().and_then(|c| c.server.as_ref()).is_none() => {
                return Err(Error::LoadKubeconfig {
                    path: args.kubeconfig.clone(),
                    reason: format!(
                        "cluster `{cluster_name}` has no server (set clusters[].cluster.server, or pass --server)"
                    ),
                });
            }
            Some(_) => {}
        }
    }
    if touches_cluster || !kc.clusters.iter().any(|c| c.name == cluster_name) {
        if !kc.clusters.iter().any(|c| c.name == cluster_name) {
            kc.clusters.push(NamedCluster {
                name: cluster_name.clone(),
                cluster: Some(KcCluster::default()),
                other: Default::default(),
            });
        }
        let named = kc
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster_name)
            .expect("pushed above");
        let cluster = named.cluster.get_or_insert_with(KcCluster::default);
        if let Some(server) = &args.server {
            cluster.server = Some(server.clone());
        }
        if let Some(ca) = &args.certificate_authority {
            cluster.certificate_authority = Some(ca.to_string_lossy().into_owned());
            cluster.certificate_authority_data = None;
        }
        if args.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = None;
        }
    }

    let touches_user =
        args.token.is_some() || args.impersonate.is_some() || !args.impersonate_groups.is_empty();
    if touches_user || !kc.auth_infos.iter().any(|c| c.name == user_name) {
        if !kc.auth_infos.iter().any(|c| c.name == user_name) {
            kc.auth_infos.push(NamedAuthInfo {
                name: user_name.clone(),
                auth_info: Some(AuthInfo::default()),
                other: Default::default(),
            });
        }
        let named = kc
            .auth_infos
            .iter_mut()
            .find(|c| c.name == user_name)
            .expect("pushed above");
        let auth = named.auth_info.get_or_insert_with(AuthInfo::default);
        if let Some(token) = &args.token {
            auth.token = Some(token.clone().into());
            auth.token_file = None;
            auth.exec = None;
            auth.auth_provider = None;
        }
        if let Some(user) = &args.impersonate {
            auth.impersonate = Some(user.clone());
        }
        if !args.impersonate_groups.is_empty() {
            auth.impersonate_groups = Some(args.impersonate_groups.clone());
        }
    }

    // The selected context must point at the (possibly synthetic) cluster and user.
    if let Some(named) = kc
        .contexts
        .iter_mut()
        .find(|c| Some(&c.name) == context_name.as_ref())
        && let Some(ctx) = named.context.as_mut()
    {
        ctx.cluster = cluster_name;
        ctx.user = Some(user_name);
    }
    Ok(context_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = r#"
apiVersion: v1
kind: Config
current-context: one
contexts:
- name: one
  context: {cluster: c1, user: u1, namespace: team-a}
- name: two
  context: {cluster: c2, user: u2}
clusters:
- name: c1
  cluster: {server: "https://10.0.0.1:6443"}
- name: c2
  cluster: {server: "https://10.0.0.2:6443", insecure-skip-tls-verify: true}
users:
- name: u1
  user: {token: secret-one}
- name: u2
  user: {token: secret-two}
"#;

    fn args_with(path: &std::path::Path) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: Some(path.to_path_buf()),
            ..Default::default()
        }
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[tokio::test]
    async fn context_namespace_and_server_come_from_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "kc", KC);
        let (config, ctx) = load_config(&args_with(&path)).await.unwrap();
        assert_eq!(ctx.as_deref(), Some("one"));
        assert_eq!(config.default_namespace, "team-a");
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:6443/");
    }

    #[tokio::test]
    async fn flags_override_context_server_and_impersonation() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "kc", KC);
        let mut args = args_with(&path);
        args.context = Some("two".into());
        args.server = Some("https://127.0.0.1:9443".into());
        args.impersonate = Some("alice".into());
        args.impersonate_groups = vec!["devs".into()];
        args.request_timeout = Duration::from_secs(7);
        let (config, ctx) = load_config(&args).await.unwrap();
        assert_eq!(ctx.as_deref(), Some("two"));
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:9443/");
        assert!(config.accept_invalid_certs);
        assert_eq!(config.auth_info.impersonate.as_deref(), Some("alice"));
        assert_eq!(
            config.auth_info.impersonate_groups,
            Some(vec!["devs".to_string()])
        );
        // --request-timeout bounds the connect, and each request in `Observe`; a read timeout
        // on a shared HTTP/2 connection would fire while it is idle
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(config.read_timeout, None);
        assert_eq!(config.default_namespace, "default");
    }

    #[tokio::test]
    async fn unknown_context_is_named_with_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "kc", KC);
        let mut args = args_with(&path);
        args.context = Some("nope".into());
        let err = load_config(&args).await.unwrap_err().to_string();
        assert!(
            err.contains("context `nope` not found (known: `one`, `two`)"),
            "{err}"
        );
        assert!(!err.contains("secret-one"));
    }

    #[test]
    fn retry_after_is_honoured_only_on_overload_and_capped() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(
            retry_after(http::StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(http::StatusCode::SERVICE_UNAVAILABLE, &h),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after(http::StatusCode::CONFLICT, &h), None);
        h.insert(http::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(
            retry_after(http::StatusCode::TOO_MANY_REQUESTS, &h),
            Some(MAX_RETRY_AFTER)
        );
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(http::StatusCode::TOO_MANY_REQUESTS, &h), None);
    }

    #[tokio::test]
    async fn a_kubeconfig_syntax_error_does_not_quote_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(
            &dir,
            "bad",
            "users:\n- name: a\n  user:\n    token: TOKEN-XYZ\n   bad: [x\n",
        );
        let err = load_config(&args_with(&bad)).await.unwrap_err().to_string();
        assert!(err.contains("not a valid kubeconfig: line"), "{err}");
        assert!(!err.contains("TOKEN-XYZ"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[tokio::test]
    async fn a_missing_cluster_or_server_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let head = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user: {token: T}\n";
        let path = write(&dir, "no-cluster", head);
        let err = load_config(&args_with(&path))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("context `c` refers to cluster `k`, which is not defined"),
            "{err}"
        );
        let path = write(
            &dir,
            "no-server",
            &format!("{head}clusters:\n- name: k\n  cluster: {{insecure-skip-tls-verify: true}}\n"),
        );
        let err = load_config(&args_with(&path))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster `k` has no server"), "{err}");
        // --server fills in what is missing.
        let mut args = args_with(&path);
        args.server = Some("https://127.0.0.1:6443".into());
        assert!(load_config(&args).await.is_ok());
    }

    #[tokio::test]
    async fn kube_itself_retries_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "kc", KC);
        let (config, _) = load_config(&args_with(&path)).await.unwrap();
        assert!(!config.default_retry);
    }

    #[tokio::test]
    async fn not_yaml_and_missing_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(&dir, "bad", "{{{ not: yaml");
        let err = load_config(&args_with(&bad)).await.unwrap_err().to_string();
        assert!(err.starts_with("cannot load kubeconfig"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        let missing = dir.path().join("missing");
        let err = load_config(&args_with(&missing))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such file"), "{err}");
    }

    #[tokio::test]
    async fn server_and_token_work_without_any_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(&dir, "empty", "");
        let mut args = args_with(&empty);
        args.server = Some("https://127.0.0.1:6443".into());
        args.token = Some("t".into());
        let (config, _) = load_config(&args).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
    }
}
