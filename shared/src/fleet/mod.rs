//! `--fleet`: run `upgrade-plan` or `health` on a KubeSphere host and on every member cluster it
//! lists, in one command run against the host.
//!
//! The fleet is the host's `clusters.cluster.kubesphere.io` objects (cluster-scoped; the host is
//! the one labelled `cluster-role.kubesphere.io/host`). The host is reached through the user's
//! own connection flags; each member through one route ([`route`]), in this order of precedence:
//!
//! 1. `--member-context NAME=CONTEXT`: the user said so (an explicit choice wins over a guess);
//! 2. a context of the user's kubeconfig whose cluster `server` equals the member's
//!    `spec.connection.kubernetesAPIEndpoint` (compared as URLs: scheme and host case-insensitive,
//!    default port, no trailing slash);
//! 3. only with `--use-stored-kubeconfigs`: the kubeconfig KubeSphere keeps for a *directly*
//!    connected member (`spec.connection.type: direct`, `spec.connection.kubeconfig`, base64),
//!    decoded in memory, never printed, logged or written; one that would run a command (`exec`,
//!    `auth-provider`) or read local files is refused.
//!
//! A member that has no route, cannot be reached, or answers 401/403 is an `ERROR` row with the
//! reason; the others still report. Clusters are checked concurrently, at most `--max-parallel`
//! at once (the host among them), and a line per finished cluster goes to stderr as it finishes.
//! The exit status is the worst in the fleet under the usual meanings, with the single-cluster
//! precedence: 1 if any cluster has blocking findings, else 2 if any could not be checked, else 0.

pub mod health;
pub mod plan;
mod report;
mod runbook;

use std::{collections::BTreeMap, future::Future};

use futures::StreamExt;
use kube::{
    Api,
    api::{DynamicObject, ListParams},
    config::Kubeconfig,
};
use serde::Serialize;

pub use report::{FleetCluster, FleetHealth, FleetMetadata, FleetPlan};

use crate::{
    Error, ExitStatus, Result,
    client::{self, Cluster, ConnectOptions},
    kubesphere, list,
};

/// The report's apiVersion, as the other reports.
pub const API_VERSION: &str = "kupgrade.dev/v1alpha1";

/// `--max-parallel`'s default: how many clusters are checked at once.
pub const DEFAULT_MAX_PARALLEL: u16 = 8;

/// How a fleet run reaches and paces its clusters (`upgrade-plan` and `health` with `--fleet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetOptions {
    /// How many clusters are checked at once (at least 1).
    pub max_parallel: u16,
    /// Member name → kubeconfig context: explicit routes, which win over the context found by
    /// server address.
    pub member_contexts: Vec<(String, String)>,
    /// Reach a directly connected member that no context reaches with the kubeconfig KubeSphere
    /// stores in its Cluster object (held in memory only, never shown).
    pub use_stored_kubeconfigs: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            max_parallel: DEFAULT_MAX_PARALLEL,
            member_contexts: Vec::new(),
            use_stored_kubeconfigs: false,
        }
    }
}

/// A cluster's role in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FleetRole {
    /// The host (the command's own connection).
    Host,
    /// A member cluster.
    Member,
}

impl std::fmt::Display for FleetRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::Member => "member",
        })
    }
}

/// The kubeconfig KubeSphere stores for a member, as stored (base64). Its `Debug` shows nothing,
/// it is not `Serialize`, and it is decoded only to build a client.
#[derive(Clone)]
pub(crate) struct StoredKubeconfig(String);

impl std::fmt::Debug for StoredKubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredKubeconfig(<redacted>)")
    }
}

/// A cluster of the fleet, as the host's `Cluster` object describes it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) role: FleetRole,
    /// `spec.connection.kubernetesAPIEndpoint`.
    pub(crate) endpoint: Option<String>,
    /// `spec.connection.type` is `direct` (or unset).
    pub(crate) direct: bool,
    /// `spec.connection.kubeconfig`.
    pub(crate) stored: Option<StoredKubeconfig>,
    /// `status.kubernetesVersion`, as the host saw it.
    pub(crate) kubernetes_version: Option<String>,
    /// `status.kubeSphereVersion`, as the host saw it.
    pub(crate) kubesphere_version: Option<String>,
}

impl Member {
    fn from_object(obj: &DynamicObject) -> Self {
        let info = kubesphere::ClusterInfo::from_object(obj);
        let s = |path: &[&str]| {
            kubesphere::field_str(obj, path)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Self {
            name: info.name,
            role: if info.host {
                FleetRole::Host
            } else {
                FleetRole::Member
            },
            endpoint: s(&["spec", "connection", "kubernetesAPIEndpoint"]),
            direct: s(&["spec", "connection", "type"]).is_none_or(|t| t == "direct"),
            stored: s(&["spec", "connection", "kubeconfig"]).map(StoredKubeconfig),
            kubernetes_version: info.kubernetes_version,
            kubesphere_version: info.kubesphere_version,
        }
    }
}

/// Lists the fleet: the host first, then the members by name. Without the Cluster CRD (not a
/// multi-cluster host) the fleet is the host alone.
pub(crate) async fn enumerate(host: &kube::Client) -> Result<(Vec<Member>, bool)> {
    let api: Api<DynamicObject> = Api::all_with(host.clone(), &kubesphere::cluster_resource());
    let objects = match list::list_all(
        &api,
        &ListParams::default(),
        "list clusters.cluster.kubesphere.io",
    )
    .await
    {
        Ok(objects) => objects,
        Err(e) if e.is_not_found() => return Ok((vec![lone_host()], false)),
        Err(e) => return Err(e),
    };
    Ok((members_of(&objects), true))
}

fn lone_host() -> Member {
    Member {
        name: "host".into(),
        role: FleetRole::Host,
        endpoint: None,
        direct: true,
        stored: None,
        kubernetes_version: None,
        kubesphere_version: None,
    }
}

/// The host (the labelled Cluster, or a synthetic `host` when none is labelled) and the members
/// sorted by name.
fn members_of(objects: &[DynamicObject]) -> Vec<Member> {
    let mut all: Vec<Member> = objects.iter().map(Member::from_object).collect();
    all.sort_by(|a, b| (a.role, &a.name).cmp(&(b.role, &b.name)));
    // Only one host: a second labelled object is treated as a member.
    let mut seen_host = false;
    for m in &mut all {
        if m.role == FleetRole::Host {
            if seen_host {
                m.role = FleetRole::Member;
            }
            seen_host = true;
        }
    }
    if !seen_host {
        all.insert(0, lone_host());
    }
    all.sort_by(|a, b| (a.role, &a.name).cmp(&(b.role, &b.name)));
    all
}

/// How a cluster is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// The command's own connection (the host).
    Current,
    /// A context whose cluster server equals the member's API endpoint.
    ServerMatch(String),
    /// `--member-context NAME=CONTEXT`.
    Explicit(String),
    /// The stored kubeconfig (`--use-stored-kubeconfigs`).
    Stored,
    /// No way to reach it: why.
    Unreachable(String),
}

impl Route {
    /// The kubeconfig context the member's commands should name.
    pub(crate) fn context(&self) -> Option<&str> {
        match self {
            Self::ServerMatch(c) | Self::Explicit(c) => Some(c),
            _ => None,
        }
    }

    /// How the cluster was reached, for the report.
    pub(crate) fn describe(&self, host_context: Option<&str>) -> String {
        match self {
            Self::Current => match host_context {
                Some(c) => format!("current context `{c}`"),
                None => "current connection".into(),
            },
            Self::ServerMatch(c) => format!("context `{c}` (server matches)"),
            Self::Explicit(c) => format!("context `{c}` (--member-context)"),
            Self::Stored => "stored kubeconfig (--use-stored-kubeconfigs)".into(),
            Self::Unreachable(_) => "-".into(),
        }
    }
}

/// A URL reduced to what identifies a server: lower-case scheme and host, explicit port, path
/// without the trailing slash.
pub(crate) fn normalize_server(url: &str) -> Option<String> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(match scheme.as_str() {
        "http" => 80,
        _ => 443,
    });
    let path = uri.path().trim_end_matches('/');
    Some(format!("{scheme}://{host}:{port}{path}"))
}

/// Each context of the kubeconfig with its cluster's server, in the file's order.
pub(crate) fn context_servers(kc: &Kubeconfig) -> Vec<(String, String)> {
    kc.contexts
        .iter()
        .filter_map(|c| {
            let cluster = &c.context.as_ref()?.cluster;
            let server = kc
                .clusters
                .iter()
                .find(|n| &n.name == cluster)?
                .cluster
                .as_ref()?
                .server
                .clone()?;
            Some((c.name.clone(), server))
        })
        .collect()
}

/// Chooses the route to a member (see the module documentation for the order).
pub(crate) fn route(
    member: &Member,
    explicit: &BTreeMap<String, String>,
    contexts: &[(String, String)],
    use_stored: bool,
) -> Route {
    if member.role == FleetRole::Host {
        return Route::Current;
    }
    if let Some(ctx) = explicit.get(&member.name) {
        return if contexts.iter().any(|(name, _)| name == ctx) {
            Route::Explicit(ctx.clone())
        } else {
            Route::Unreachable(format!(
                "--member-context {}={ctx}: no such context in your kubeconfig",
                member.name
            ))
        };
    }
    let wanted = member.endpoint.as_deref().and_then(normalize_server);
    if let Some(wanted) = &wanted
        && let Some((ctx, _)) = contexts
            .iter()
            .find(|(_, server)| normalize_server(server).as_ref() == Some(wanted))
    {
        return Route::ServerMatch(ctx.clone());
    }
    if use_stored && member.direct && member.stored.is_some() {
        return Route::Stored;
    }
    let mut reason = match &member.endpoint {
        Some(ep) => format!("no context of your kubeconfig has server {ep}"),
        None => "its Cluster object has no spec.connection.kubernetesAPIEndpoint".into(),
    };
    reason.push_str(&format!("; pass --member-context {}=CONTEXT", member.name));
    if !member.direct {
        reason.push_str(
            " (proxy connection: KubeSphere's stored kubeconfig is not usable from here)",
        );
    } else if member.stored.is_some() && !use_stored {
        reason.push_str(" or --use-stored-kubeconfigs");
    }
    Route::Unreachable(reason)
}

/// Fields of a stored kubeconfig that would run a program or read files on this machine: such a
/// kubeconfig comes from the cluster, not from the user, and is refused.
fn unsafe_stored_fields(kc: &Kubeconfig) -> Vec<&'static str> {
    let mut bad = Vec::new();
    for a in kc.auth_infos.iter().filter_map(|a| a.auth_info.as_ref()) {
        if a.exec.is_some() {
            bad.push("exec");
        }
        if a.auth_provider.is_some() {
            bad.push("auth-provider");
        }
        if a.token_file.is_some() || a.client_certificate.is_some() || a.client_key.is_some() {
            bad.push("a credential file path");
        }
    }
    for c in kc.clusters.iter().filter_map(|c| c.cluster.as_ref()) {
        if c.certificate_authority.is_some() {
            bad.push("a certificate-authority file path");
        }
    }
    bad.dedup();
    bad
}

/// Decodes and vets a stored kubeconfig. Errors never quote it.
pub(crate) fn decode_stored(stored: &StoredKubeconfig) -> std::result::Result<Kubeconfig, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(stored.0.trim())
        .map_err(|_| "spec.connection.kubeconfig is not base64".to_string())?;
    let text = String::from_utf8(bytes)
        .map_err(|_| "spec.connection.kubeconfig is not UTF-8 text".to_string())?;
    let kc = Kubeconfig::from_yaml(&text)
        .map_err(|_| "spec.connection.kubeconfig is not a valid kubeconfig".to_string())?;
    let bad = unsafe_stored_fields(&kc);
    if !bad.is_empty() {
        return Err(format!(
            "the stored kubeconfig uses {}, which is refused (it would run a program or read files on this machine)",
            bad.join(", ")
        ));
    }
    Ok(kc)
}

/// Connects to a member by its route.
pub(crate) async fn connect(
    route: &Route,
    member: &Member,
    host_args: &ConnectOptions,
) -> std::result::Result<Cluster, String> {
    // A member gets the host's kubeconfig, timeouts, page size and verbosity, and nothing that
    // names the host (server, token, impersonation).
    let member_args = ConnectOptions {
        kubeconfig: host_args.kubeconfig.clone(),
        request_timeout: host_args.request_timeout,
        deadline: host_args.deadline,
        chunk_size: host_args.chunk_size,
        verbosity: host_args.verbosity,
        ..Default::default()
    };
    let by_context = |ctx: &str| ConnectOptions {
        context: Some(ctx.to_string()),
        ..member_args.clone()
    };
    match route {
        Route::Current => client::connect(host_args).await.map_err(|e| e.to_string()),
        Route::ServerMatch(ctx) | Route::Explicit(ctx) => client::connect(&by_context(ctx))
            .await
            .map_err(|e| format!("context `{ctx}`: {e}")),
        Route::Stored => {
            let stored = member
                .stored
                .as_ref()
                .ok_or_else(|| "no stored kubeconfig".to_string())?;
            let kc = decode_stored(stored)?;
            client::connect_in_memory(kc, &member_args)
                .await
                .map_err(|e| format!("stored kubeconfig: {e}"))
        }
        Route::Unreachable(reason) => Err(reason.clone()),
    }
}

/// One cluster to run on: who, how, and (for the host) the connection already made.
pub(crate) struct Target {
    pub(crate) member: Member,
    pub(crate) route: Route,
    pub(crate) cluster: Option<Cluster>,
    /// Its API server, once connected.
    pub(crate) server: Option<String>,
}

impl Target {
    /// The fleet row of a cluster that gave no report (yet): who it is and how it was reached,
    /// status `error`. The plan and health rows fill in the rest from their reports.
    pub(crate) fn error_row<R>(&self, host_context: Option<&str>) -> report::FleetCluster<R> {
        let m = &self.member;
        report::FleetCluster {
            name: m.name.clone(),
            role: m.role,
            context: match &self.route {
                Route::Current => host_context.map(str::to_string),
                r => r.context().map(str::to_string),
            },
            via: self.route.describe(host_context),
            server: self.server.clone(),
            kubernetes_version: m.kubernetes_version.clone(),
            kubesphere_version: m.kubesphere_version.clone(),
            status: "error".into(),
            blocking: 0,
            reason: None,
            exit_code: ExitStatus::Error.code(),
            report: None,
        }
    }
}

/// The fleet, resolved: every target and the warnings for the user.
pub(crate) struct Fleet {
    pub(crate) targets: Vec<Target>,
    pub(crate) host_context: Option<String>,
    pub(crate) host_server: String,
    pub(crate) warnings: Vec<String>,
}

/// Connects to the host, lists the fleet and chooses each member's route.
pub(crate) async fn resolve(kube: &ConnectOptions, args: &FleetOptions) -> Result<Fleet> {
    let host = client::connect(kube).await?;
    let mut warnings = host.warnings.clone();
    // The host must answer before anything is listed, as in a single-cluster run.
    list::retry_read("get the API server version", || {
        host.client.apiserver_version()
    })
    .await?;
    let (members, multi) = enumerate(&host.client).await?;
    if !multi {
        warnings.push(
            "clusters.cluster.kubesphere.io is not served: the fleet is this cluster alone".into(),
        );
    }
    let contexts = client::read_kubeconfig(kube)?
        .map(|kc| context_servers(&kc))
        .unwrap_or_default();
    let explicit: BTreeMap<String, String> = args.member_contexts.iter().cloned().collect();
    for name in explicit.keys() {
        if !members
            .iter()
            .any(|m| &m.name == name && m.role == FleetRole::Member)
        {
            warnings.push(format!(
                "--member-context {name}=…: the host lists no member `{name}`"
            ));
        }
    }
    let host_context = host.context.clone();
    let host_server = host.server.clone();
    let mut host = Some(host);
    let targets = members
        .into_iter()
        .map(|member| {
            let route = route(&member, &explicit, &contexts, args.use_stored_kubeconfigs);
            let cluster = if route == Route::Current {
                host.take()
            } else {
                None
            };
            Target {
                member,
                route,
                server: cluster.as_ref().map(|c| c.server.clone()),
                cluster,
            }
        })
        .collect();
    Ok(Fleet {
        targets,
        host_context,
        host_server,
        warnings,
    })
}

/// What running a job on one cluster gave: its result, or why it could not run.
pub(crate) type Outcome<R> = std::result::Result<R, String>;

/// Runs `job` on the targets at `indices`, at most `max_parallel` at once, connecting first where
/// needed. Each cluster runs as its own task, so decoding and judging large responses spreads
/// over the runtime's worker threads instead of taking turns on one. With `keep`, a connection
/// made is kept in `target.cluster` for the next round (`--wait`); otherwise each client (and its
/// idle connections) is dropped as its cluster finishes, so memory does not grow with the fleet.
/// `on_done` is called as each finishes, in finishing order.
pub(crate) async fn run_bounded<R, F, Fut>(
    targets: &mut [Target],
    indices: &[usize],
    kube: &ConnectOptions,
    max_parallel: usize,
    keep: bool,
    job: F,
    mut on_done: impl FnMut(usize, &Outcome<R>),
) -> Vec<(usize, Outcome<R>)>
where
    R: Send + 'static,
    F: Fn(Cluster) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<R>> + Send + 'static,
{
    let work = indices.iter().map(|&i| {
        let t = &targets[i];
        let member = t.member.clone();
        let route = t.route.clone();
        let cached = t.cluster.clone();
        let kube = kube.clone();
        let job = job.clone();
        // Spawned only when `buffer_unordered` pulls it, so at most `max_parallel` run at once.
        async move {
            let task = tokio::spawn(async move {
                let cluster = match cached {
                    Some(c) => c,
                    None => match connect(&route, &member, &kube).await {
                        Ok(c) => c,
                        Err(reason) => return (None, Err(reason)),
                    },
                };
                let server = cluster.server.clone();
                let outcome = job(cluster.clone())
                    .await
                    .map_err(|e| describe_failure(&route, &e));
                (Some((server, keep.then_some(cluster))), outcome)
            });
            match task.await {
                Ok((cluster, outcome)) => (i, cluster, outcome),
                // A panic is caught by the runner's hook; the row says the check stopped.
                Err(e) => (i, None, Err(format!("the check stopped: {e}"))),
            }
        }
    });
    let mut stream = futures::stream::iter(work).buffer_unordered(max_parallel.max(1));
    let mut done = Vec::with_capacity(indices.len());
    let mut connected = Vec::new();
    while let Some((i, cluster, outcome)) = stream.next().await {
        on_done(i, &outcome);
        if let Some(c) = cluster {
            connected.push((i, c));
        }
        done.push((i, outcome));
    }
    drop(stream);
    for (i, (server, cluster)) in connected {
        targets[i].server = Some(server);
        targets[i].cluster = cluster;
    }
    done
}

/// The reason of an ERROR row: the error's one line, with the route when it was a context.
fn describe_failure(route: &Route, e: &Error) -> String {
    let mut text = e.to_string();
    match e.api_code() {
        Some(401) => text.push_str(" (the credentials were rejected)"),
        Some(403) => text.push_str(" (the user may not read this cluster)"),
        _ => {}
    }
    match route.context() {
        Some(ctx) if !matches!(route, Route::Current) => format!("context `{ctx}`: {text}"),
        _ => text,
    }
}

/// The worst exit status with the single-cluster precedence: findings (1) over could-not-run (2)
/// over success (0).
pub(crate) fn worst(statuses: impl IntoIterator<Item = ExitStatus>) -> ExitStatus {
    let mut any_error = false;
    for s in statuses {
        match s {
            ExitStatus::Findings => return ExitStatus::Findings,
            ExitStatus::Error => any_error = true,
            ExitStatus::Success => {}
        }
    }
    if any_error {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    }
}

/// `2/5 done`: the line written to stderr as a cluster finishes.
pub(crate) fn progress_line(done: usize, total: usize, name: &str, status: &str) -> String {
    format!("fleet: [{done}/{total}] {name}: {status}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(name: &str, endpoint: Option<&str>, stored: bool) -> Member {
        Member {
            name: name.into(),
            role: FleetRole::Member,
            endpoint: endpoint.map(str::to_string),
            direct: true,
            stored: stored.then(|| StoredKubeconfig("e30=".into())),
            kubernetes_version: None,
            kubesphere_version: None,
        }
    }

    fn contexts() -> Vec<(String, String)> {
        vec![
            ("host".into(), "https://10.0.0.1:6443".into()),
            ("a".into(), "https://LB.example:443/".into()),
            ("b".into(), "https://10.0.0.3:6443".into()),
        ]
    }

    #[test]
    fn servers_compare_as_urls() {
        assert_eq!(
            normalize_server("https://LB.example/"),
            normalize_server("https://lb.example:443")
        );
        assert_ne!(
            normalize_server("https://10.0.0.1:6443"),
            normalize_server("https://10.0.0.1:6444")
        );
        assert_eq!(normalize_server("http://h").as_deref(), Some("http://h:80"));
        assert_eq!(normalize_server("not a url"), None);
    }

    #[test]
    fn explicit_context_wins_over_the_server_match() {
        let none = BTreeMap::new();
        let m = member("a", Some("https://lb.example"), false);
        assert_eq!(
            route(&m, &none, &contexts(), false),
            Route::ServerMatch("a".into())
        );
        let explicit: BTreeMap<_, _> = [("a".to_string(), "b".to_string())].into();
        assert_eq!(
            route(&m, &explicit, &contexts(), false),
            Route::Explicit("b".into())
        );
        let wrong: BTreeMap<_, _> = [("a".to_string(), "nope".to_string())].into();
        let Route::Unreachable(reason) = route(&m, &wrong, &contexts(), false) else {
            panic!("an unknown context is no route");
        };
        assert!(reason.contains("no such context"), "{reason}");
    }

    #[test]
    fn stored_kubeconfigs_only_with_the_opt_in_and_for_direct_members() {
        let none = BTreeMap::new();
        let m = member("c", Some("https://10.9.9.9:6443"), true);
        let Route::Unreachable(reason) = route(&m, &none, &contexts(), false) else {
            panic!("no route without the opt-in");
        };
        assert!(
            reason.contains("no context of your kubeconfig has server https://10.9.9.9:6443")
                && reason.contains("--member-context c=CONTEXT")
                && reason.contains("--use-stored-kubeconfigs"),
            "{reason}"
        );
        assert_eq!(route(&m, &none, &contexts(), true), Route::Stored);
        let mut proxy = m.clone();
        proxy.direct = false;
        let Route::Unreachable(reason) = route(&proxy, &none, &contexts(), true) else {
            panic!("proxy members are not reached with the stored kubeconfig");
        };
        assert!(reason.contains("proxy"), "{reason}");
        // The server match comes before the stored kubeconfig.
        let both = member("b", Some("https://10.0.0.3:6443"), true);
        assert_eq!(
            route(&both, &none, &contexts(), true),
            Route::ServerMatch("b".into())
        );
    }

    #[test]
    fn the_host_is_first_and_members_are_sorted() {
        let obj = |name: &str, host: bool| -> DynamicObject {
            let labels = if host {
                json!({"cluster-role.kubesphere.io/host": ""})
            } else {
                json!({})
            };
            serde_json::from_value(json!({
                "apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
                "metadata": {"name": name, "labels": labels},
                "spec": {"connection": {"type": "proxy", "kubernetesAPIEndpoint": "https://x:6443"}}
            }))
            .unwrap()
        };
        let all = members_of(&[obj("m2", false), obj("h", true), obj("m1", false)]);
        let names: Vec<_> = all.iter().map(|m| (m.name.as_str(), m.role)).collect();
        assert_eq!(
            names,
            [
                ("h", FleetRole::Host),
                ("m1", FleetRole::Member),
                ("m2", FleetRole::Member)
            ]
        );
        assert!(!all[1].direct);
        assert_eq!(all[1].endpoint.as_deref(), Some("https://x:6443"));
        // No labelled host: a synthetic one stands for the current connection.
        let all = members_of(&[obj("m1", false)]);
        assert_eq!(all[0].role, FleetRole::Host);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn stored_kubeconfigs_that_run_programs_are_refused_without_quoting_them() {
        use base64::Engine;
        let enc = |s: &str| {
            StoredKubeconfig(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        };
        let ok = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: \"https://10.0.0.9:6443\"}\nusers:\n- name: u\n  user: {token: SECRET-TOKEN}\n";
        assert!(decode_stored(&enc(ok)).is_ok());
        let exec = ok.replace(
            "{token: SECRET-TOKEN}",
            "{token: SECRET-TOKEN, exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}}",
        );
        let err = decode_stored(&enc(&exec)).unwrap_err();
        assert!(err.contains("exec") && err.contains("refused"), "{err}");
        assert!(!err.contains("SECRET-TOKEN"));
        let broken = "users: [token: SECRET-TOKEN";
        let err = decode_stored(&enc(broken)).unwrap_err();
        assert!(!err.contains("SECRET-TOKEN"), "{err}");
        let err = decode_stored(&StoredKubeconfig("%%%".into())).unwrap_err();
        assert!(err.contains("not base64"), "{err}");
        assert_eq!(format!("{:?}", enc(ok)), "StoredKubeconfig(<redacted>)");
    }

    #[test]
    fn worst_status_keeps_findings_over_errors() {
        use ExitStatus::*;
        assert_eq!(worst([Success, Success]), Success);
        assert_eq!(worst([Success, Error]), Error);
        assert_eq!(worst([Error, Findings, Success]), Findings);
        assert_eq!(worst([]), Success);
    }
}
