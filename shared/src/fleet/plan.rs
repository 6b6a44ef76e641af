//! `kubectl upgrade-plan --fleet`: the same plan on the host and every member, concurrently, and
//! a `FleetPlan` report whose runbook is the whole fleet's, in order.

use super::{
    API_VERSION, Fleet, FleetCluster, FleetMetadata, FleetOptions, FleetPlan, Outcome, Route,
    Target, progress_line, resolve, run_bounded,
    runbook::{Part, fleet_steps},
    worst,
};
use crate::{
    ExitStatus, Result,
    client::{Cluster, ConnectOptions},
    output::{self, OutputFormat},
    plan::{self, FailOn, codes::Code, exit_status, report::UpgradePlan},
    run::Printer,
};

/// What `kubectl upgrade-plan` was asked for.
#[derive(Debug, Clone)]
pub struct Params {
    /// The targets.
    pub options: plan::Options,
    /// `--fail-on`.
    pub fail_on: FailOn,
}

/// Plans the fleet and prints the report.
pub async fn command(
    kube: &ConnectOptions,
    args: &FleetOptions,
    params: Params,
    format: &OutputFormat,
    printer: &mut Printer,
) -> Result<ExitStatus> {
    if *format == OutputFormat::Markdown {
        return Err(crate::Error::usage(
            "`kubectl upgrade-plan --fleet` does not support -o markdown (use table, json or yaml)",
        ));
    }
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
    let names: Vec<String> = targets.iter().map(|t| t.member.name.clone()).collect();
    // Each cluster is planned as its own task, so the job owns the targets it plans for.
    let requested = std::sync::Arc::new(params.options.clone());
    let job = move |cluster: Cluster| {
        let requested = requested.clone();
        async move {
            // A plan records what it could not read and goes on; a member whose user may read
            // nothing (401/403) is an ERROR row instead, found by one small read first.
            let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
                kube::Api::all(cluster.client.clone());
            let probe = kube::api::ListParams::default().limit(1);
            crate::list::retry_read("list nodes", || nodes.list_metadata(&probe)).await?;
            plan::plan(&cluster, &requested).await
        }
    };
    let all: Vec<usize> = (0..total).collect();
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
    let mut results: Vec<Option<Outcome<UpgradePlan>>> = (0..total).map(|_| None).collect();
    for (i, outcome) in finished {
        results[i] = Some(outcome);
    }
    let clusters: Vec<FleetCluster<UpgradePlan>> = targets
        .iter()
        .zip(results)
        .map(|(t, outcome)| {
            let outcome = outcome.unwrap_or_else(|| Err("not planned".into()));
            row(t, outcome, params.fail_on, host_context.as_deref())
        })
        .collect();
    let parts: Vec<Part<'_>> = targets
        .iter()
        .zip(&clusters)
        .map(|(t, c)| Part {
            name: &c.name,
            role: c.role,
            context: command_context(t, host_context.as_deref()),
            context_assumed: t.route.context().is_none() && t.route != Route::Current,
            plan: c
                .report
                .as_ref()
                .ok_or_else(|| c.reason.as_deref().unwrap_or("not planned")),
        })
        .collect();
    let steps = fleet_steps(&parts);
    let exit = worst(clusters.iter().map(|c| match c.exit_code {
        0 => ExitStatus::Success,
        1 => ExitStatus::Findings,
        _ => ExitStatus::Error,
    }));
    let report = FleetPlan {
        api_version: API_VERSION,
        kind: "FleetPlan",
        metadata: FleetMetadata {
            context: host_context,
            server: host_server,
            max_parallel: max,
        },
        ready: exit == ExitStatus::Success,
        exit_code: exit.code(),
        clusters,
        steps,
    };
    let style = printer.out_style;
    output::render(&report, format, &style, printer.out())?;
    crate::run::flush(printer)?;
    Ok(exit)
}

/// The context a cluster's runbook commands name: its own, the host's current one (no flag when
/// unknown), or, for a member no context reaches, its name (the user creates that context).
fn command_context(t: &Target, host_context: Option<&str>) -> Option<String> {
    match &t.route {
        Route::Current => host_context.map(str::to_string),
        r => Some(
            r.context()
                .map(str::to_string)
                .unwrap_or_else(|| t.member.name.clone()),
        ),
    }
}

fn blocking_codes(plan: &UpgradePlan, fail_on: FailOn) -> Vec<&str> {
    let mut codes: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.code != Code::Check001)
        .filter(|f| f.severity.reaches(fail_on.threshold()))
        .map(|f| f.code.as_str())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

fn status_of(plan: &UpgradePlan, fail_on: FailOn) -> (&'static str, ExitStatus) {
    let exit = exit_status(&plan.findings, fail_on);
    (
        match exit {
            ExitStatus::Success => "ready",
            ExitStatus::Findings => "not-ready",
            ExitStatus::Error => "incomplete",
        },
        exit,
    )
}

/// `READY`, `NOT-READY (NODE001, SC001)`, `ERROR: reason`.
fn short(outcome: &Outcome<UpgradePlan>, fail_on: FailOn) -> String {
    match outcome {
        Ok(plan) => {
            let (status, _) = status_of(plan, fail_on);
            let codes = blocking_codes(plan, fail_on);
            if codes.is_empty() {
                status.to_uppercase()
            } else {
                format!("{} ({})", status.to_uppercase(), codes.join(", "))
            }
        }
        Err(reason) => format!("ERROR: {reason}"),
    }
}

fn row(
    t: &Target,
    outcome: Outcome<UpgradePlan>,
    fail_on: FailOn,
    host_context: Option<&str>,
) -> FleetCluster<UpgradePlan> {
    let base = t.error_row(host_context);
    match outcome {
        Err(reason) => FleetCluster {
            reason: Some(reason),
            ..base
        },
        Ok(plan) => {
            let (status, exit) = status_of(&plan, fail_on);
            let blocking = plan
                .findings
                .iter()
                .filter(|f| f.code != Code::Check001)
                .filter(|f| f.severity.reaches(fail_on.threshold()))
                .count();
            let codes = blocking_codes(&plan, fail_on);
            let reason = if !codes.is_empty() {
                Some(codes.join(", "))
            } else if exit == ExitStatus::Error {
                Some(format!(
                    "not checked: {}",
                    plan.skipped
                        .iter()
                        .map(|s| s.check.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            } else {
                None
            };
            FleetCluster {
                kubernetes_version: Some(plan.cluster.kubernetes_version.clone()),
                kubesphere_version: plan
                    .cluster
                    .kubesphere
                    .as_ref()
                    .and_then(|k| k.version.clone())
                    .or(base.kubesphere_version.clone()),
                status: status.into(),
                blocking,
                reason,
                exit_code: exit.code(),
                report: Some(plan),
                ..base
            }
        }
    }
}
