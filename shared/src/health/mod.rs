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
//! namespace by namespace (4 at a time per kind), so requests grow with the scope's pages,
//! never with the cluster's size or namespace count; `-A` (or a larger scope) reads one
//! cluster-wide list. Time: the API server version is read while the checks run (only `nodes`
//! waits for it), and every check's independent requests are sent at once, so the wall time
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
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use futures::future::join_all;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::ListParams};

pub use report::{CheckId, CheckResult, FailOn, Finding, HealthReport, Status};

pub use crate::model::Severity;

use crate::{
    Error, ExitStatus, Result,
    cli::{KubeArgs, OutputArgs, parse_duration},
    client, list, output,
    run::Printer,
    version::Version,
};

/// Post-upgrade verification: a pass or fail per check, exit codes for CI
///
/// Checks (ids for --check/--skip): nodes, system-pods, workloads, helm-releases, kubesphere,
/// api-services, webhooks, storage.
///
/// Exit status: 0 all checks pass (warnings allowed unless --fail-on warn); 1 a check fails,
/// or --wait timed out with a check failing; 2 the command could not run, or a check could not
/// list its objects (for example forbidden) and none failed.
#[derive(Debug, Parser)]
#[command(name = "kubectl health", bin_name = "kubectl health", version = crate::VERSION)]
pub struct Args {
    /// Run only these checks (comma-separated ids)
    #[arg(long = "check", value_name = "IDS", value_delimiter = ',')]
    checks: Vec<CheckId>,

    /// Skip these checks (comma-separated ids, as for --check)
    #[arg(
        long = "skip",
        value_name = "IDS",
        value_delimiter = ',',
        hide_possible_values = true
    )]
    skip: Vec<CheckId>,

    /// Check pods, workloads and Helm releases in all namespaces, not only the system ones
    #[arg(short = 'A', long)]
    all_namespaces: bool,

    /// The kubelet version every node must run (e.g. v1.27.16)
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    expect_version: Option<Version>,

    /// Warn about a Ready pod whose containers restarted this many times or more (0: never)
    #[arg(long, value_name = "N", default_value_t = 5)]
    restart_threshold: u32,

    /// Which check status makes the exit status 1
    #[arg(long, value_name = "STATUS", value_enum, default_value_t = FailOn::Fail)]
    fail_on: FailOn,

    /// Re-run the checks until every check passes or --timeout runs out
    #[arg(long)]
    wait: bool,

    /// How long --wait waits (e.g. 90s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, requires = "wait")]
    timeout: Duration,

    /// Time between rounds of --wait
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, requires = "wait")]
    interval: Duration,

    #[command(flatten)]
    fleet: crate::fleet::FleetArgs,
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_version(s: &str) -> std::result::Result<Version, String> {
    s.parse::<Version>().map_err(|e| e.to_string())
}

/// What the checks are asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Widen pods, workloads and Helm releases to all namespaces.
    pub all_namespaces: bool,
    /// The kubelet version every node must run.
    pub expect_version: Option<Version>,
    /// Restarts from which a Ready pod warns.
    pub restart_threshold: u32,
}

/// Entry point of the `kubectl-health` binary.
pub fn main() -> ExitCode {
    crate::run::run(command)
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

async fn command(args: Args, mut printer: Printer) -> Result<ExitStatus> {
    args.output.output.require_not_markdown("kubectl health")?;
    let checks = select_checks(&args.checks, &args.skip)?;
    if args.wait && args.interval.is_zero() {
        return Err(Error::usage("--interval must be greater than 0"));
    }
    let options = Options {
        all_namespaces: args.all_namespaces,
        expect_version: args.expect_version.clone(),
        restart_threshold: args.restart_threshold,
    };
    if args.fleet.fleet {
        let params = crate::fleet::health::Params {
            checks,
            options,
            fail_on: args.fail_on,
            wait: args.wait.then_some((args.timeout, args.interval)),
        };
        return crate::fleet::health::command(
            &args.kube,
            &args.fleet,
            params,
            &args.output.output,
            &mut printer,
        )
        .await;
    }
    let cluster = client::connect(&args.kube).await?;
    for w in &cluster.warnings {
        printer.warn(w);
    }
    let client = &cluster.client;
    let report = if args.wait {
        let server_version = server_version(client).await?;
        wait(
            client,
            &options,
            &server_version,
            &checks,
            args.fail_on,
            args.timeout,
            args.interval,
            &mut printer,
        )
        .await
    } else {
        check_once(client, &options, &checks).await?
    };
    let style = printer.out_style;
    output::render(&report, &args.output.output, &style, printer.out())?;
    crate::run::flush(&mut printer)?;
    Ok(report.exit_status(args.fail_on))
}

/// Reads the API server's `gitVersion`; failing here means the cluster cannot be reached, and
/// the whole command stops rather than report anything.
pub async fn server_version(client: &kube::Client) -> Result<String> {
    let info =
        list::retry_read("get the API server version", || client.apiserver_version()).await?;
    Ok(info.git_version)
}

/// Reads the API server version and runs the checks once, at the same time: the checks that
/// do not need the version (all but `nodes`) do not wait for it. If the version cannot be read
/// the command stops with that error, whatever the checks found, as when it is read first.
pub async fn check_once(
    client: &kube::Client,
    options: &Options,
    checks: &[CheckId],
) -> Result<HealthReport> {
    let (tx, rx) = tokio::sync::watch::channel(None);
    let version = async move {
        let v = server_version(client).await?;
        tx.send_replace(Some(v.parse::<Version>().ok()));
        Ok::<_, Error>(v)
    };
    let results = async { Ok(run_round(client, options, rx, checks).await) };
    let (version, results) = futures::try_join!(version, results)?;
    Ok(report(version, options, results))
}

/// Runs the checks once, concurrently, over one client.
pub async fn run_checks(
    client: &kube::Client,
    options: &Options,
    server_version: &str,
    checks: &[CheckId],
) -> HealthReport {
    let (_tx, rx) = tokio::sync::watch::channel(Some(server_version.parse().ok()));
    let results = run_round(client, options, rx, checks).await;
    report(server_version.to_string(), options, results)
}

async fn run_round(
    client: &kube::Client,
    options: &Options,
    server_version: tokio::sync::watch::Receiver<Option<Option<Version>>>,
    checks: &[CheckId],
) -> Vec<CheckResult> {
    let ctx = Ctx {
        client,
        options,
        server_version,
        scope: tokio::sync::OnceCell::new(),
    };
    // Made before they are joined: see `pods::judge_job_pods`.
    let each: Vec<_> = checks.iter().map(|id| run_one(*id, &ctx)).collect();
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

/// The system-workspace namespaces (one metadata-only list with the label selector) plus
/// `kube-system`, which a cluster without KubeSphere does not label.
pub async fn system_namespaces(client: &kube::Client) -> Result<BTreeSet<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let params = ListParams::default().labels(crate::kubesphere::SYSTEM_WORKSPACE_SELECTOR);
    let metas = list::list_all_metadata(
        &api,
        &params,
        "list namespaces labelled kubesphere.io/workspace=system-workspace",
    )
    .await?;
    let mut set: BTreeSet<String> = metas.into_iter().filter_map(|m| m.metadata.name).collect();
    set.insert("kube-system".to_string());
    Ok(set)
}

#[allow(clippy::too_many_arguments)]
async fn wait(
    client: &kube::Client,
    options: &Options,
    server_version: &str,
    checks: &[CheckId],
    fail_on: FailOn,
    timeout: Duration,
    interval: Duration,
    printer: &mut Printer,
) -> HealthReport {
    let start = Instant::now();
    let deadline = start + timeout;
    let line = printer.line("");
    let mut round = 0u32;
    loop {
        round += 1;
        line.set(&format!("round {round}: checking…"));
        let report = run_checks(client, options, server_version, checks).await;
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
    fn flags_parse_and_ids_are_validated() {
        let a = Args::try_parse_from([
            "kubectl-health",
            "--check",
            "nodes,system-pods",
            "--skip",
            "nodes",
            "-A",
            "--expect-version",
            "v1.27.16",
            "--fail-on",
            "warn",
            "--wait",
            "--timeout",
            "90s",
        ])
        .unwrap();
        assert_eq!(a.checks, vec![CheckId::Nodes, CheckId::SystemPods]);
        assert_eq!(a.skip, vec![CheckId::Nodes]);
        assert!(a.all_namespaces && a.wait);
        assert_eq!(a.fail_on, FailOn::Warn);
        assert_eq!(a.timeout, Duration::from_secs(90));
        assert_eq!(a.interval, Duration::from_secs(5));
        assert_eq!(a.expect_version.unwrap().to_string(), "v1.27.16");

        let e = Args::try_parse_from(["kubectl-health", "--check", "nodes,pods"]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("invalid value 'pods'"), "{text}");
        assert!(
            text.contains("system-pods") && text.contains("helm-releases"),
            "{text}"
        );
        assert!(e.use_stderr());
        assert!(Args::try_parse_from(["kubectl-health", "--expect-version", "1.x"]).is_err());
        // --timeout only means something with --wait.
        assert!(Args::try_parse_from(["kubectl-health", "--timeout", "1m"]).is_err());
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
