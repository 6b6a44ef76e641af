//! The library entry point: [`Sim`] runs a server on its own thread and tokio runtime, so
//! synchronous tests can start one, point kubectl (or a client) at it, and drop it to stop.

use crate::api::{ApiRequest, Core};
use crate::auth::User;
use crate::cost::{Cost, RequestLog, RequestRecord};
use crate::faults::{CounterSnapshot, Counters, Faults};
use crate::scenario::{self, Scale, ScenarioError};
use crate::server::{self, Shared};
use crate::tls::{Pki, TlsError};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Errors starting or using a [`Sim`].
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario could not be loaded.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding, runtime or file I/O failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A request through the handler failed.
    #[error("{method} {path} answered {code}: {message}")]
    Api {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// HTTP status.
        code: u16,
        /// Status message.
        message: String,
    },
    /// A `--user` spec is malformed.
    #[error("invalid user spec `{0}`: expected NAME:TOKEN[:GROUP,GROUP]")]
    UserSpec(String),
}

/// Builds a [`Sim`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    scenario: Option<String>,
    tls: bool,
    port: u16,
    users: Vec<(String, String, Vec<String>)>,
    git_version: Option<String>,
    controllers: bool,
    cost: Cost,
    http2: bool,
}

impl Default for SimBuilder {
    fn default() -> Self {
        SimBuilder {
            scenario: None,
            tls: true,
            port: 0,
            users: Vec::new(),
            git_version: None,
            controllers: false,
            cost: Cost::Free,
            http2: true,
        }
    }
}

impl SimBuilder {
    /// Scenario: a bundled name, a YAML file path, or `scale:...`. Default: `empty`.
    pub fn scenario(mut self, s: &str) -> Self {
        self.scenario = Some(s.into());
        self
    }

    /// HTTPS (default) or plain HTTP.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Port on 127.0.0.1 (0 = any free port, the default).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Adds a bearer-token user with groups.
    pub fn user(mut self, name: &str, token: &str, groups: &[&str]) -> Self {
        self.users.push((
            name.into(),
            token.into(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
        self
    }

    /// Adds a user from `NAME:TOKEN[:GROUP,GROUP]`.
    pub fn user_spec(self, spec: &str) -> Result<Self, SimError> {
        let mut parts = spec.splitn(3, ':');
        let (Some(name), Some(token)) = (parts.next(), parts.next()) else {
            return Err(SimError::UserSpec(spec.into()));
        };
        if name.is_empty() || token.is_empty() {
            return Err(SimError::UserSpec(spec.into()));
        }
        let groups: Vec<&str> = parts
            .next()
            .map(|g| g.split(',').filter(|x| !x.is_empty()).collect())
            .unwrap_or_default();
        Ok(self.user(name, token, &groups))
    }

    /// Overrides the `/version` gitVersion (after the scenario's own setting).
    pub fn git_version(mut self, v: &str) -> Self {
        self.git_version = Some(v.into());
        self
    }

    /// Runs the controllers that `helm --wait` and `kubectl rollout status` wait on
    /// (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, PVC binding, pods, garbage
    /// collection; see [`crate::controllers`]). Off by default: scenarios stay static.
    pub fn controllers(mut self, on: bool) -> Self {
        self.controllers = on;
        self
    }

    /// The cost model: [`Cost::Free`] (default) or [`Cost::Real`] (a real API server's delays,
    /// see [`crate::cost`]).
    pub fn cost(mut self, cost: Cost) -> Self {
        self.cost = cost;
        self
    }

    /// Offers HTTP/2 as well as HTTP/1.1 (ALPN `h2`, `http/1.1`), as a real API server does
    /// (the default); `false` serves HTTP/1.1 only, as a server behind an HTTP/1.1-only proxy
    /// would.
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }

    /// Loads the scenario, binds, and starts serving on a background thread.
    pub fn start(self) -> Result<Sim, SimError> {
        let core = Arc::new(Core::new());
        if self.controllers
            && let Ok(mut st) = core.store.write()
        {
            st.controllers = true;
        }
        let scen = self.scenario.clone().unwrap_or_else(|| "empty".into());
        let settings = if scen.starts_with("scale:") {
            if let Some(g) = &self.git_version {
                core.set_git_version(g);
            }
            scenario::generate_scale(&core, Scale::parse(&scen)?);
            scenario::Settings {
                name: scen.clone(),
                ..Default::default()
            }
        } else {
            scenario::load_yaml(&core, &scenario::resolve(&scen)?)?
        };
        if let Some(g) = &self.git_version {
            core.set_git_version(g);
        }
        if self.controllers
            && let Ok(mut st) = core.store.write()
        {
            crate::controllers::resolve_owner_refs(&mut st);
            crate::controllers::resolve_claim_refs(&mut st);
        }
        let admin_token = format!("kubesim-admin-{}", uuid::Uuid::new_v4().simple());
        let mut tokens = HashMap::new();
        tokens.insert(admin_token.clone(), User::admin());
        for (name, token, groups) in &self.users {
            let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
            tokens.insert(token.clone(), User::new(name, &refs));
        }
        let pki = if self.tls {
            Some(Pki::generate()?)
        } else {
            None
        };
        let tls_cfg = pki
            .as_ref()
            .map(|p| p.server_config(self.http2))
            .transpose()?;
        let http2 = self.http2;
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        if let Ok(mut a) = core.addr.write() {
            *a = addr.to_string();
        }
        let shared = Arc::new(Shared {
            core,
            faults: Faults::default(),
            counters: Counters::default(),
            tokens: RwLock::new(tokens),
            cost: self.cost.model(),
            requests: RequestLog::default(),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("kubesim")
            .build()?;
        let sh = shared.clone();
        // subscribed now, after the scenario loaded, so that no later write is missed
        let events = self.controllers.then(|| {
            let st = shared.core.store.read().unwrap_or_else(|e| e.into_inner());
            (shared.core.clone(), st.tx.subscribe())
        });
        let thread = std::thread::Builder::new()
            .name("kubesim".into())
            .spawn(move || {
                rt.block_on(async move {
                    if let Some((core, rx)) = events {
                        tokio::spawn(crate::controllers::run(core, rx));
                    }
                    if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                        server::run(l, sh, tls_cfg, http2, stop_rx).await
                    }
                });
                rt.shutdown_background();
            })?;
        let scheme = if self.tls { "https" } else { "http" };
        Ok(Sim {
            shared,
            url: format!("{scheme}://{addr}"),
            admin_token,
            pki,
            settings,
            stop: stop_tx,
            thread: Some(thread),
        })
    }
}

/// A running kubesim server. Dropping it stops the server.
pub struct Sim {
    shared: Arc<Shared>,
    url: String,
    admin_token: String,
    pki: Option<Pki>,
    settings: scenario::Settings,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    /// A builder with defaults (scenario `empty`, HTTPS, free port).
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// Base URL, e.g. `https://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin user's bearer token (group `system:masters`).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The CA certificate (PEM), when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.pki.as_ref().map(|p| p.ca_pem.as_str())
    }

    /// The loaded scenario's settings.
    pub fn settings(&self) -> &scenario::Settings {
        &self.settings
    }

    /// Issues a client certificate for `user` in `groups` (PEM cert, PEM key).
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Option<(String, String)> {
        self.pki
            .as_ref()
            .and_then(|p| p.client_cert(user, groups).ok())
    }

    /// Adds a bearer-token user at runtime.
    pub fn add_user(&self, name: &str, token: &str, groups: &[&str]) {
        if let Ok(mut t) = self.shared.tokens.write() {
            t.insert(token.into(), User::new(name, groups));
        }
    }

    /// The kubeconfig: context `kubesim` (admin, bearer token) and `kubesim-cert` (client certificate).
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig(&self.url, self.pki.as_ref(), &self.admin_token)
    }

    /// Writes the kubeconfig to a file.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), SimError> {
        write_atomically(path.as_ref(), &self.kubeconfig_yaml())?;
        Ok(())
    }

    /// Fault rules (add/remove/clear).
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Counter snapshot.
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// Resets the counters.
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
        self.shared.requests.clear();
    }

    /// The API requests served since the start or the last [`Sim::reset_counters`], oldest
    /// first: arrival, completion, sizes, gzip, modelled cost.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.snapshot()
    }

    /// The API core (direct access for advanced tests).
    pub fn core(&self) -> &Core {
        &self.shared.core
    }

    /// Sends a request through the handler as admin; returns the JSON body of a 2xx answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Value, SimError> {
        let req = ApiRequest::new(method, path).with_body(content_type, body.to_vec());
        let resp = self.shared.core.handle(&req);
        let v: Value = serde_json::from_slice(&resp.body_bytes()).unwrap_or(Value::Null);
        if resp.status >= 300 {
            return Err(SimError::Api {
                method: method.into(),
                path: path.into(),
                code: resp.status,
                message: v
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
            });
        }
        Ok(v)
    }

    /// GETs an API path as admin.
    pub fn get_json(&self, path: &str) -> Result<Value, SimError> {
        self.request("GET", path, "application/json", b"")
    }

    /// Creates every document of a YAML string (then writes status), like scenario loading.
    pub fn apply_yaml(&self, yaml: &str) -> Result<(), SimError> {
        scenario::load_yaml(&self.shared.core, yaml)?;
        Ok(())
    }

    /// Merge-patches an object's status (through `/status` when the resource has one).
    pub fn patch_status(&self, path: &str, status: &Value) -> Result<Value, SimError> {
        let body = serde_json::json!({ "status": status }).to_string();
        match self.request(
            "PATCH",
            &format!("{path}/status"),
            "application/merge-patch+json",
            body.as_bytes(),
        ) {
            Err(SimError::Api { code: 404, .. }) => self.request(
                "PATCH",
                path,
                "application/merge-patch+json",
                body.as_bytes(),
            ),
            other => other,
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes a file via a temporary sibling and a rename, so readers never see it half-written.
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("kubesim-tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Renders the kubeconfig for a server.
pub fn kubeconfig(url: &str, pki: Option<&Pki>, token: &str) -> String {
    let ca = pki
        .map(|p| format!("    certificate-authority-data: {}\n", b64(&p.ca_pem)))
        .unwrap_or_default();
    let mut out = format!(
        "apiVersion: v1\nkind: Config\npreferences: {{}}\ncurrent-context: kubesim\nclusters:\n- name: kubesim\n  cluster:\n    server: {url}\n{ca}contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: admin\n    namespace: default\n"
    );
    if pki.is_some() {
        out.push_str("- name: kubesim-cert\n  context:\n    cluster: kubesim\n    user: admin-cert\n    namespace: default\n");
    }
    out.push_str(&format!(
        "users:\n- name: admin\n  user:\n    token: {token}\n"
    ));
    if let Some(p) = pki {
        out.push_str(&format!(
            "- name: admin-cert\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&p.client_cert_pem),
            b64(&p.client_key_pem)
        ));
    }
    out
}
