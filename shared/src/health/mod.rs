//! `kubectl health`: post-upgrade verification with a pass, warn, fail or error per check.
//!
//! Each check ([`CheckId`]) is an independent unit that reads what it needs through the one
//! shared client and returns a [`CheckResult`]; the checks of a round run concurrently. A check
//! that cannot list its objects (403, connection lost) reports `error` with the reason and is
//! never a pass; when the API server cannot be reached at all (`/version` fails) the command
//! stops with one error line and exit 2.
//!
//! Scope: pods, workloads and Helm releases are read in the namespaces labelled
//! `kubesphere.io/workspace=system-workspace` plus `kube-system`, or everywhere with `-A`.
//! Nodes, APIServices, webhooks, storage and KubeSphere objects are cluster-wide by nature.
//!
//! Requests and memory: every list is paginated and judged page by page, keeping only counts
//! and findings. Pods and workloads (`scan.rs`): a scope of at most 25 namespaces is listed
//! namespace by namespace (12 at a time per kind), so requests grow with the scope's pages,
//! never with the cluster's size or namespace count; `-A` (or a larger scope) reads one
//! cluster-wide list. Time: the API server version is read while the checks run (no request
//! waits for it: `nodes` judges the version skew once both are in), and every check's
//! independent requests are sent at once, so the wall time
//! is close to the longest chain of dependent requests.
//!
//! Exit codes: 0 every check passed (warnings allowed unless `--fail-on warn`); 1 a check failed
//! (or warned with `--fail-on warn`), also after a `--wait` that timed out with a check failing;
//! 2 the command could not run, or a check errored and none failed.

mod apis;
mod kubesphere;
mod nodes;
mod pods;
mod releases;
mod report;
mod scan;
mod storage;
mod workloads;

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::ListParams};

pub use report::{CheckId, CheckResult, FailOn, Finding, HealthReport, Status};

pub use crate::model::Severity;

use crate::{Error, Result, list, run::Printer, version::Version};

/// `--restart-threshold`'s default: restarts from which a Ready pod warns.
pub const DEFAULT_RESTART_THRESHOLD: u32 = 5;

/// What the checks are asked to do. The default runs every check in the system namespaces.
///
/// ```no_run
/// # async fn example() -> kupgrade::Result<()> {
/// use kupgrade::{client, health};
///
/// let cluster = client::connect(&client::ConnectOptions::default()).await?;
/// let options = health::Options {
///     checks: vec![health::CheckId::Nodes, health::CheckId::Storage],
///     ..health::Options::default()
/// };
/// let report = health::check(&cluster.client, &options).await?;
/// assert_eq!(report.checks.len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The checks to run, in report order ([`select_checks`] builds it from `--check`/`--skip`).
    pub checks: Vec<CheckId>,
    /// Widen pods, workloads and Helm releases to all namespaces.
    pub all_namespaces: bool,
    /// The kubelet version every node must run.
    pub expect_version: Option<Version>,
    /// Restarts from which a Ready pod warns (0: never).
    pub restart_threshold: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            checks: CheckId::ALL.to_vec(),
            all_namespaces: false,
            expect_version: None,
            restart_threshold: DEFAULT_RESTART_THRESHOLD,
        }
    }
}

/// How [`wait`] re-runs the checks (`--wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Which status counts as not passing.
    pub fail_on: FailOn,
    /// How long to wait in all.
    pub timeout: Duration,
    /// Time between rounds (greater than zero).
    pub interval: Duration,
}

impl WaitOptions {
    /// Refuses a zero interval (rounds without a pause).
    pub fn validate(&self) -> Result<()> {
        if self.interval.is_zero() {
            return Err(Error::usage("--interval must be greater than 0"));
        }
        Ok(())
    }
}

/// The checks `--check` and `--skip` select, in report order.
pub fn select_checks(only: &[CheckId], skip: &[CheckId]) -> Result<Vec<CheckId>> {
    let chosen: Vec<CheckId> = CheckId::ALL
        .into_iter()
        .filter(|id| only.is_empty() || only.contains(id))
        .filter(|id| !skip.contains(id))
        .collect();
    if chosen.is_empty() {
        let valid: Vec<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
        return Err(Error::usage(format!(
            "--check and --skip leave no check to run (checks: {})",
            valid.join(", ")
        )));
    }
    Ok(chosen)
}

/// Reads the API server version, then runs the checks every `wait.interval` until every check
/// passes or `wait.timeout` runs out; returns the last round's report (the progress and the
/// outcome are told through `printer`).
pub async fn check_until_passing(
    client: &kube::Client,
    options: &Options,
    wait_options: &WaitOptions,
    printer: &mut Printer,
) -> Result<HealthReport> {
    wait_options.validate()?;
    let server_version = server_version(client).await?;
    Ok(wait(client, options, &server_version, wait_options, printer).await)
}

/// Reads the API server's `gitVersion`; failing here means the cluster cannot be reached, and
/// the whole command stops rather than report anything.
pub(crate) async fn server_version(client: &kube::Client) -> Result<String> {
    let info =
        list::retry_read("get the API server version", || client.apiserver_version()).await?;
    Ok(info.git_version)
}

/// Reads the API server version and runs the checks once, at the same time: no check's
/// requests wait for the version (`nodes` only judges the skew with it). If the version cannot be read
/// the command stops with that error, whatever the checks found, as when it is read first.
pub async fn check(client: &kube::Client, options: &Options) -> Result<HealthReport> {
    let (tx, rx) = tokio::sync::watch::channel(None);
    let version = async move {
        let v = server_version(client).await?;
        tx.send_replace(Some(v.parse::<Version>().ok()));
        Ok::<_, Error>(v)
    };
    let results = async { Ok(run_round(client, options, rx).await) };
    let (version, results) = futures::try_join!(version, results)?;
    Ok(report(version, options, results))
}

/// Runs the checks once, concurrently, over one client.
pub(crate) async fn run_checks(
    client: &kube::Client,
    options: &Options,
    server_version: &str,
) -> HealthReport {
    let (_tx, rx) = tokio::sync::watch::channel(Some(server_version.parse().ok()));
    let results = run_round(client, options, rx).await;
    report(server_version.to_string(), options, results)
}

async fn run_round(
    client: &kube::Client,
    options: &Options,
    server_version: tokio::sync::watch::Receiver<Option<Option<Version>>>,
) -> Vec<CheckResult> {
    let ctx = Ctx {
        client,
        options,
        server_version,
        scope: tokio::sync::OnceCell::new(),
    };
    // Made before they are joined: see `pods::judge_job_pods`.
    let each: Vec<_> = options.checks.iter().map(|id| run_one(*id, &ctx)).collect();
    join_all(each).await
}

fn report(server_version: String, options: &Options, results: Vec<CheckResult>) -> HealthReport {
    HealthReport::new(
        server_version,
        if options.all_namespaces {
            "all".into()
        } else {
            "system".into()
        },
        results,
    )
}

async fn run_one(id: CheckId, ctx: &Ctx<'_>) -> CheckResult {
    let outcome = match id {
        CheckId::Nodes => nodes::run(ctx).await,
        CheckId::SystemPods => pods::run(ctx).await,
        CheckId::Workloads => workloads::run(ctx).await,
        CheckId::HelmReleases => releases::run(ctx).await,
        CheckId::Kubesphere => kubesphere::run(ctx).await,
        CheckId::ApiServices => apis::run_api_services(ctx).await,
        CheckId::Webhooks => apis::run_webhooks(ctx).await,
        CheckId::Storage => storage::run(ctx).await,
    };
    match outcome {
        Ok((summary, findings)) => CheckResult::from_findings(id, summary, findings),
        Err(CheckError(reason)) => CheckResult::error(id, reason),
    }
}

/// Why a check could not run: the error's one-line text.
#[derive(Debug)]
pub(crate) struct CheckError(String);

impl From<Error> for CheckError {
    fn from(e: Error) -> Self {
        Self(e.to_string())
    }
}

/// What a check returns: its summary and findings, or why it could not run.
pub(crate) type Outcome = std::result::Result<(String, Vec<Finding>), CheckError>;

/// What the checks of one round share.
pub(crate) struct Ctx<'a> {
    pub(crate) client: &'a kube::Client,
    pub(crate) options: &'a Options,
    /// The API server version once read (`Some`), when it parses (`Some(Some)`).
    server_version: tokio::sync::watch::Receiver<Option<Option<Version>>>,
    scope: tokio::sync::OnceCell<std::result::Result<Scope, String>>,
}

impl Ctx<'_> {
    /// The API server version, when it parses; waits until it has been read.
    pub(crate) async fn server_version(&self) -> Option<Version> {
        let mut rx = self.server_version.clone();
        let v = rx.wait_for(Option::is_some).await.ok()?.clone();
        v.flatten()
    }

    /// The namespaces pods and workloads are read in, computed once per round.
    pub(crate) async fn scope(&self) -> std::result::Result<&Scope, CheckError> {
        self.scope
            .get_or_init(|| async {
                if self.options.all_namespaces {
                    return Ok(Scope::All);
                }
                system_namespaces(self.client)
                    .await
                    .map(Scope::Namespaces)
                    .map_err(|e| e.to_string())
            })
            .await
            .as_ref()
            .map_err(|e| CheckError(e.clone()))
    }
}

/// The namespaces a namespaced check looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every namespace (`-A`).
    All,
    /// These namespaces.
    Namespaces(BTreeSet<String>),
}

impl Scope {
    /// True when objects in `namespace` are checked.
    pub(crate) fn contains(&self, namespace: &str) -> bool {
        match self {
            Self::All => true,
            Self::Namespaces(set) => set.contains(namespace),
        }
    }

    /// "in 9 namespaces" / "in all namespaces".
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::All => "in all namespaces".into(),
            Self::Namespaces(set) if set.len() == 1 => "in 1 namespace".into(),
            Self::Namespaces(set) => format!("in {} namespaces", set.len()),
        }
    }
}

/// The namespace in every default scope, whether or not KubeSphere labels it: known before the
/// namespaces are listed, so the namespaced checks start reading it at once (see `scan`).
pub(crate) const ALWAYS_IN_SCOPE: &str = "kube-system";

/// The system-workspace namespaces (one metadata-only list with the label selector) plus
/// `kube-system`, which a cluster without KubeSphere does not label.
pub(crate) async fn system_namespaces(client: &kube::Client) -> Result<BTreeSet<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let params = ListParams::default().labels(crate::kubesphere::SYSTEM_WORKSPACE_SELECTOR);
    let metas = list::list_all_metadata(
        &api,
        &params,
        "list namespaces labelled kubesphere.io/workspace=system-workspace",
    )
    .await?;
    let mut set: BTreeSet<String> = metas.into_iter().filter_map(|m| m.metadata.name).collect();
    set.insert(ALWAYS_IN_SCOPE.to_string());
    Ok(set)
}

async fn wait(
    client: &kube::Client,
    options: &Options,
    server_version: &str,
    wait_options: &WaitOptions,
    printer: &mut Printer,
) -> HealthReport {
    let WaitOptions {
        fail_on,
        timeout,
        interval,
    } = *wait_options;
    let start = Instant::now();
    let deadline = start + timeout;
    let line = printer.line("");
    let mut round = 0u32;
    loop {
        round += 1;
        line.set(&format!("round {round}: checking…"));
        let report = run_checks(client, options, server_version).await;
        let pending = report.not_passing(fail_on);
        if pending.is_empty() {
            line.clear();
            printer.note(&format!(
                "all checks pass after {round} round{} ({})",
                if round == 1 { "" } else { "s" },
                human(start.elapsed())
            ));
            return report;
        }
        let now = Instant::now();
        let listing = pending
            .iter()
            .map(|c| format!("{} ({})", c.id, c.status.label().to_lowercase()))
            .collect::<Vec<_>>()
            .join(", ");
        if now >= deadline {
            line.clear();
            printer.warn(&format!(
                "timed out after {} waiting for every check to pass; not passing: {listing}",
                human(timeout)
            ));
            return report;
        }
        let left = deadline - now;
        // Whole seconds, rounded up: "0s left" would read as already over.
        let shown = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        let state = format!(
            "round {round}: not passing: {listing}; {} left",
            human(shown)
        );
        printer.status(&line, &state, Some(&state));
        tokio::time::sleep(interval.min(left)).await;
    }
}

/// `1 node`, `2 nodes`: a count with its noun in the right number.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1m30s`, `45s`, `5m`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitStatus;

    #[test]
    fn check_selection_keeps_report_order_and_refuses_nothing_left() {
        assert_eq!(select_checks(&[], &[]).unwrap(), CheckId::ALL.to_vec());
        assert_eq!(
            select_checks(&[CheckId::Storage, CheckId::Nodes], &[]).unwrap(),
            vec![CheckId::Nodes, CheckId::Storage]
        );
        assert_eq!(
            select_checks(&[], &[CheckId::Kubesphere]).unwrap().len(),
            CheckId::ALL.len() - 1
        );
        let e = select_checks(&[CheckId::Nodes], &[CheckId::Nodes]).unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Error);
        assert!(e.to_string().contains("system-pods"), "{e}");
    }

    #[test]
    fn the_default_options_run_every_check_with_the_documented_threshold() {
        let o = Options::default();
        assert_eq!(o.checks, select_checks(&[], &[]).unwrap());
        assert_eq!(o.restart_threshold, 5);
        assert!(!o.all_namespaces && o.expect_version.is_none());
    }

    #[test]
    fn scope_is_a_set_or_everything() {
        let s = Scope::Namespaces(["kube-system".to_string()].into());
        assert!(s.contains("kube-system") && !s.contains("shop"));
        assert_eq!(s.describe(), "in 1 namespace");
        assert!(Scope::All.contains("shop"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_millis(4500)), "4s");
        assert_eq!(count(1, "node"), "1 node");
        assert_eq!(count(0, "PVC"), "0 PVCs");
    }
}
