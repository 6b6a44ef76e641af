//! `kubectl health --fleet`: the same checks on the host and every member, concurrently, and a
//! `FleetHealth` report. With `--wait`, clusters not yet passing are checked again every
//! `--interval` until all pass or `--timeout` runs out; on a terminal each cluster has its own
//! progress line.

use std::time::{Duration, Instant};

use super::{
    API_VERSION, Fleet, FleetCluster, FleetHealth, FleetMetadata, FleetOptions, Outcome, Target,
    progress_line, resolve, run_bounded, worst,
};
use crate::{
    ExitStatus, Result,
    client::{Cluster, ConnectOptions},
    health::{
        FailOn, HealthReport, Options, Severity, Status, WaitOptions, human, run_checks,
        server_version,
    },
    output::{self, OutputFormat, progress::Line},
    run::Printer,
};

/// What `kubectl health` was asked to check.
#[derive(Debug, Clone)]
pub struct Params {
    /// The checks and their options.
    pub options: Options,
    /// `--fail-on`.
    pub fail_on: FailOn,
    /// `--wait`: until when and how often.
    pub wait: Option<WaitOptions>,
}

/// Runs the fleet health check and prints the report.
pub async fn command(
    kube: &ConnectOptions,
    args: &FleetOptions,
    params: Params,
    format: &OutputFormat,
    printer: &mut Printer,
) -> Result<ExitStatus> {
    let Fleet {
        mut targets,
        host_context,
        host_server,
        warnings,
    } = resolve(kube, args).await?;
    for w in &warnings {
        printer.warn(w);
    }
    let max = usize::from(args.max_parallel);
    let total = targets.len();
    // Each cluster's check runs as its own task, so the job owns what it reads.
    let checked = std::sync::Arc::new(params.options.clone());
    let job = move |cluster: Cluster| {
        let checked = checked.clone();
        async move {
            let version = server_version(&cluster.client).await?;
            Ok(run_checks(&cluster.client, &checked, &version).await)
        }
    };
    let mut results: Vec<Option<Outcome<HealthReport>>> = (0..total).map(|_| None).collect();
    let all: Vec<usize> = (0..total).collect();
    match params.wait {
        None => {
            let names: Vec<String> = targets.iter().map(|t| t.member.name.clone()).collect();
            let mut done = 0;
            let finished = run_bounded(&mut targets, &all, kube, max, false, job, |i, outcome| {
                done += 1;
                printer.note(&progress_line(
                    done,
                    total,
                    &names[i],
                    &short(outcome, params.fail_on),
                ));
            })
            .await;
            for (i, outcome) in finished {
                results[i] = Some(outcome);
            }
        }
        Some(w) => {
            wait(
                &mut targets,
                &mut results,
                kube,
                max,
                job,
                params.fail_on,
                w.timeout,
                w.interval,
                printer,
            )
            .await;
        }
    }
    let clusters: Vec<FleetCluster<HealthReport>> = targets
        .iter()
        .zip(results)
        .map(|(t, outcome)| {
            let outcome = outcome.unwrap_or_else(|| Err("not checked".into()));
            row(t, outcome, params.fail_on, host_context.as_deref())
        })
        .collect();
    let exit = worst(clusters.iter().map(|c| exit_of(c.exit_code)));
    let status = overall(&clusters);
    let report = FleetHealth {
        api_version: API_VERSION,
        kind: "FleetHealth",
        metadata: FleetMetadata {
            context: host_context,
            server: host_server,
            max_parallel: max,
        },
        status,
        exit_code: exit.code(),
        clusters,
    };
    let style = printer.out_style;
    output::render(&report, format, &style, printer.out())?;
    crate::run::flush(printer)?;
    Ok(exit)
}

fn exit_of(code: u8) -> ExitStatus {
    match code {
        0 => ExitStatus::Success,
        1 => ExitStatus::Findings,
        _ => ExitStatus::Error,
    }
}

/// `PASS`, `FAIL (kubesphere, nodes)`, `ERROR: reason`.
fn short(outcome: &Outcome<HealthReport>, fail_on: FailOn) -> String {
    match outcome {
        Ok(r) => {
            let pending: Vec<&str> = r
                .not_passing(fail_on)
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            if pending.is_empty() {
                r.status.label().to_string()
            } else {
                format!("{} ({})", r.status.label(), pending.join(", "))
            }
        }
        Err(reason) => format!("ERROR: {reason}"),
    }
}

fn row(
    t: &Target,
    outcome: Outcome<HealthReport>,
    fail_on: FailOn,
    host_context: Option<&str>,
) -> FleetCluster<HealthReport> {
    let base = t.error_row(host_context);
    match outcome {
        Err(reason) => FleetCluster {
            reason: Some(reason),
            ..base
        },
        Ok(report) => {
            let counts = |s: Severity| s.reaches(fail_on.threshold());
            let blocking = report
                .checks
                .iter()
                .map(|c| {
                    let n = c.objects.iter().filter(|f| counts(f.severity)).count();
                    if n == 0 && c.status == Status::Fail {
                        1
                    } else {
                        n
                    }
                })
                .sum();
            let pending: Vec<String> = report
                .not_passing(fail_on)
                .iter()
                .map(|c| format!("{} {}", c.id, c.status.label().to_lowercase()))
                .collect();
            // A check that could not run says why (a 403 names the user and the resource);
            // the first such reason is enough to see what is wrong with the cluster's access.
            let why = report
                .checks
                .iter()
                .find(|c| c.status == Status::Error)
                .map(|c| format!(": {}", c.summary))
                .unwrap_or_default();
            FleetCluster {
                kubernetes_version: Some(report.server_version.clone()),
                status: report.status.label().to_lowercase(),
                blocking,
                reason: (!pending.is_empty()).then(|| format!("{}{why}", pending.join(", "))),
                exit_code: report.exit_status(fail_on).code(),
                report: Some(report),
                ..base
            }
        }
    }
}

/// The fleet's status: fail, else error, else warn, else pass (as one cluster's).
fn overall(clusters: &[FleetCluster<HealthReport>]) -> Status {
    clusters
        .iter()
        .map(|c| match &c.report {
            Some(r) => r.status,
            None => Status::Error,
        })
        .fold(Status::Pass, |acc, s| {
            let rank = |s: Status| match s {
                Status::Pass => 0,
                Status::Warn => 1,
                Status::Error => 2,
                Status::Fail => 3,
            };
            if rank(s) > rank(acc) { s } else { acc }
        })
}

#[allow(clippy::too_many_arguments)]
async fn wait<F, Fut>(
    targets: &mut [Target],
    results: &mut [Option<Outcome<HealthReport>>],
    kube: &ConnectOptions,
    max: usize,
    job: F,
    fail_on: FailOn,
    timeout: Duration,
    interval: Duration,
    printer: &mut Printer,
) where
    F: Fn(Cluster) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<HealthReport>> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + timeout;
    let names: Vec<String> = targets.iter().map(|t| t.member.name.clone()).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    // On a terminal, one live line per cluster; otherwise one line per round.
    let live = printer.progress().is_live();
    let lines: Vec<Line> = names
        .iter()
        .map(|n| {
            let line = printer.line(&format!("{n:width$}"));
            line.set("checking…");
            line
        })
        .collect();
    let passing = |o: &Option<Outcome<HealthReport>>| matches!(o, Some(Ok(r)) if r.not_passing(fail_on).is_empty());
    let mut round = 0u32;
    loop {
        round += 1;
        let pending: Vec<usize> = (0..targets.len())
            .filter(|&i| !passing(&results[i]))
            .collect();
        let finished = run_bounded(
            targets,
            &pending,
            kube,
            max,
            true,
            job.clone(),
            |i, outcome| {
                if live {
                    let text = short(outcome, fail_on);
                    if matches!(outcome, Ok(r) if r.not_passing(fail_on).is_empty()) {
                        lines[i].keep(&format!("{text} (round {round})"));
                    } else {
                        lines[i].set(&format!("{text} (round {round}); checking again"));
                    }
                }
            },
        )
        .await;
        for (i, outcome) in finished {
            results[i] = Some(outcome);
        }
        let left_over: Vec<usize> = (0..targets.len())
            .filter(|&i| !passing(&results[i]))
            .collect();
        let listing = left_over
            .iter()
            .map(|&i| match &results[i] {
                Some(o) => format!("{} ({})", names[i], short_status(o)),
                None => names[i].clone(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        if left_over.is_empty() {
            lines.iter().for_each(Line::stop);
            printer.note(&format!(
                "fleet: all {} clusters pass after {round} round{} ({})",
                targets.len(),
                if round == 1 { "" } else { "s" },
                human(start.elapsed())
            ));
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            lines.iter().for_each(Line::stop);
            printer.warn(&format!(
                "timed out after {} waiting for every cluster to pass; not passing: {listing}",
                human(timeout)
            ));
            return;
        }
        let left = deadline - now;
        let shown = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        if !live {
            printer.note(&format!(
                "fleet: round {round}: not passing: {listing}; {} left",
                human(shown)
            ));
        }
        tokio::time::sleep(interval.min(left)).await;
    }
}

fn short_status(o: &Outcome<HealthReport>) -> String {
    match o {
        Ok(r) => r.status.label().to_lowercase(),
        Err(_) => "error".into(),
    }
}
