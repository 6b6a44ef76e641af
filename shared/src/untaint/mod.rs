//! `kubectl untaint-member`: release KubeSphere member clusters after the v4 migration.
//!
//! The v4 host upgrade marks every member Cluster `Schedulable=False` (reason `Upgrading`) so
//! that extension agents stay off members still on v3. Once a member is migrated, upstream asks
//! for `kubectl get cluster … -o json | jq 'del(…Schedulable…)' | kubectl apply -f -`, which
//! rewrites the whole object (a concurrent controller write can be lost) and leaves a
//! last-applied annotation behind. This module removes only that condition instead:
//!
//! 1. the context must be a host: the Cluster CRD is served and a Cluster carries
//!    `cluster-role.kubesphere.io/host`;
//! 2. each member is checked ([`patch::check_member`]): it exists, is not the host, is
//!    `Ready=True`, reports KubeSphere v4, and no v3 Cluster webhook is left
//!    ([`patch::is_cluster_webhook`]); `--force` overrides all but the first two;
//! 3. an RFC 6902 patch ([`patch::build_patch`]) that tests the resourceVersion and the type of
//!    each entry it removes goes to the main resource (there is no `/status`); on 422 or 409 the
//!    Cluster is read again and the patch rebuilt, a bounded number of times;
//! 4. `--wait` follows InstallPlan `gateway` until the member's agent is Installed ([`wait`]).
//!
//! The pure decisions live in [`patch`], the report in [`report`]; this file does the I/O.

pub(crate) mod patch;
pub mod report;
pub(crate) mod wait;

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::{
    Api,
    api::{DynamicObject, ListParams},
};
use serde_json::Value;

use self::{
    patch::{Refusal, build_patch, check_member, find_taint, is_cluster_webhook},
    report::{Action, MemberResult, UntaintReport, WaitOutcome},
};
use crate::{
    Error, ExitStatus, Result,
    kubesphere::{ClusterInfo, HOST_CLUSTER_LABEL, cluster_resource},
    list,
    run::Printer,
};

/// The field manager our writes are recorded under in `managedFields`.
pub(crate) const FIELD_MANAGER: &str = "kubectl-untaint-member";
/// PATCH attempts per member, the first included, before giving up on a Cluster that keeps
/// changing under us.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// What to untaint and how (the flags, without connection and output).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Members named on the command line.
    pub names: Vec<String>,
    /// `--all`.
    pub all: bool,
    /// `--force`.
    pub force: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--wait`: how long to wait for the members' agents after untainting.
    pub wait: Option<Duration>,
}

/// Untaints the members `options` selects and, with [`Options::wait`], waits for their agents
/// (not in a dry run): the whole run as a report. [`exit_status`] says how it ended.
///
/// ```no_run
/// # async fn example() -> kupgrade::Result<()> {
/// use kupgrade::{client, run::Printer, untaint};
///
/// let cluster = client::connect(&client::ConnectOptions::default()).await?;
/// let options = untaint::Options {
///     names: vec!["member-a".into()],
///     dry_run: true,
///     ..untaint::Options::default()
/// };
/// let mut printer = Printer::new(Box::new(std::io::sink()), Box::new(std::io::sink()));
/// let report = untaint::run(&cluster.client, &options, &mut printer).await?;
/// let status = untaint::exit_status(&report, &options);
/// # let _ = status;
/// # Ok(())
/// # }
/// ```
pub async fn run(
    client: &kube::Client,
    options: &Options,
    printer: &mut Printer,
) -> Result<UntaintReport> {
    let Outcome {
        mut report,
        waitable,
    } = untaint(client, options, printer).await?;
    if let Some(timeout) = options.wait {
        if options.dry_run {
            printer.note("--dry-run: not waiting for extension agents");
        } else {
            let result = wait::wait_for_agents(client, &waitable, timeout, printer).await?;
            for m in &mut report.members {
                m.agent_state = result.states.get(&m.name).cloned();
            }
            report.wait = Some(result);
        }
    }
    Ok(report)
}

/// One error per distinct problem of the members refused or failed (a leftover webhook blocks
/// every member the same way), for the command to print after the report.
pub fn problems(report: &UntaintReport) -> Vec<Error> {
    let mut said = std::collections::BTreeSet::new();
    report
        .members
        .iter()
        .filter(|m| matches!(m.action, Action::Refused | Action::Failed))
        .filter(|m| said.insert((m.reason.clone(), m.hint.clone())))
        .map(|m| Error::refused(m.reason.clone().unwrap_or_default(), m.hint.clone()))
        .collect()
}

/// How a run ended: 2 when a member failed, a timeout error when the wait ran out, 1 when a
/// member was refused, else 0.
pub fn exit_status(report: &UntaintReport, options: &Options) -> Result<ExitStatus> {
    if report.any_failed() {
        return Ok(ExitStatus::Error);
    }
    if let Some(wait) = &report.wait
        && wait.outcome == WaitOutcome::TimedOut
    {
        let states = wait
            .pending
            .iter()
            .map(|m| {
                format!(
                    "{m} ({})",
                    wait.states.get(m).map_or("<none>", String::as_str)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::Timeout {
            what: format!(
                "InstallPlan `{}` to install the agent on {states}",
                wait.install_plan
            ),
            seconds: options.wait.unwrap_or_default().as_secs(),
        });
    }
    Ok(if report.any_refused() {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}

/// The result of [`untaint`]: the report, and the members whose agents `--wait` should follow.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// What was done to each member.
    pub report: UntaintReport,
    /// Members that are schedulable now and passed every check (untainted in this run, or
    /// already schedulable and on v4), by name.
    pub waitable: Vec<String>,
}

/// Untaints the members `options` selects. Refusals and per-member API failures are recorded
/// in the report; only errors that stop the whole run (the Clusters cannot be listed, the
/// context is not a host) are returned as `Err`.
pub(crate) async fn untaint(
    client: &kube::Client,
    options: &Options,
    printer: &mut Printer,
) -> Result<Outcome> {
    let mut report = UntaintReport::new(options.dry_run, options.force);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_resource());
    let clusters = match list::list_all(
        &api,
        &ListParams::default(),
        "list clusters.cluster.kubesphere.io",
    )
    .await
    {
        Ok(c) => c,
        Err(e) if e.is_not_found() => {
            return Err(Error::refused(
                "this context is not a KubeSphere host cluster: the Cluster API (clusters.cluster.kubesphere.io) is not served",
                Some("run this against the host cluster's context (`--context`)".into()),
            ));
        }
        Err(e) => return Err(e),
    };
    let is_host = |o: &DynamicObject| {
        o.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(HOST_CLUSTER_LABEL))
    };
    if !clusters.iter().any(is_host) {
        let message = format!(
            "this context is not a KubeSphere host cluster: no Cluster carries the label `{HOST_CLUSTER_LABEL}`"
        );
        if !options.force {
            return Err(Error::refused(
                message,
                Some(
                    "run this against the host cluster's context (`--context`), or pass --force"
                        .into(),
                ),
            ));
        }
        printer.warn(&format!("{message} (going on: --force)"));
    }

    report.leftover_webhooks = leftover_webhooks(client, options.force, printer).await?;
    let webhook_refusal = patch::leftover_webhooks(&report.leftover_webhooks);

    let names: Vec<String> = if options.all {
        let mut names: Vec<String> = clusters
            .iter()
            .filter(|o| !is_host(o) && find_taint(&o.data).unschedulable)
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        names.sort();
        names
    } else {
        let mut seen = std::collections::BTreeSet::new();
        options
            .names
            .iter()
            .filter(|n| seen.insert(n.as_str()))
            .cloned()
            .collect()
    };

    let mut waitable = Vec::new();
    for name in names {
        let listed = clusters
            .iter()
            .find(|o| o.metadata.name.as_deref() == Some(name.as_str()));
        let (result, schedulable) = untaint_member(
            client,
            &api,
            &name,
            listed.cloned(),
            webhook_refusal.as_ref(),
            options,
        )
        .await;
        if schedulable {
            waitable.push(name);
        }
        report.members.push(result);
    }
    Ok(Outcome { report, waitable })
}

/// Lists ValidatingWebhookConfigurations and names the v3 Cluster ones. With `--force`, a read
/// that is forbidden only warns.
async fn leftover_webhooks(
    client: &kube::Client,
    force: bool,
    printer: &mut Printer,
) -> Result<Vec<String>> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let list = match list::list_all(
        &api,
        &ListParams::default(),
        "list validatingwebhookconfigurations",
    )
    .await
    {
        Ok(l) => l,
        Err(e) if force && e.is_forbidden() => {
            printer.warn(&format!(
                "cannot check for a leftover v3 Cluster webhook ({e}); going on: --force"
            ));
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let mut names: Vec<String> = list
        .iter()
        .filter_map(|w| serde_json::to_value(w).ok())
        .filter(is_cluster_webhook)
        .filter_map(|w| {
            w.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

fn refused(result: &mut MemberResult, refusals: &[Refusal]) {
    result.action = Action::Refused;
    result.code = refusals.first().map(|r| r.code.to_string());
    result.reason = Some(
        refusals
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    );
    result.hint = refusals.iter().find_map(|r| r.hint.clone());
}

/// Untaints one member, starting from the object as listed (`None`: it does not exist).
/// Returns the result and whether the member is schedulable now and passed every check.
async fn untaint_member(
    client: &kube::Client,
    api: &Api<DynamicObject>,
    name: &str,
    listed: Option<DynamicObject>,
    webhook: Option<&Refusal>,
    options: &Options,
) -> (MemberResult, bool) {
    let mut result = MemberResult::new(name, Action::Refused);
    let Some(mut obj) = listed else {
        refused(&mut result, &[patch::not_found(name)]);
        return (result, false);
    };
    let mut delay = FIRST_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        let info = ClusterInfo::from_object(&obj);
        result.kubesphere_version = info.kubesphere_version.clone();
        result.ready = info.condition("Ready").map(|c| c.status.clone());
        if info.host {
            refused(&mut result, &[patch::is_host(name)]);
            return (result, false);
        }
        let mut refusals = check_member(&info, obj.metadata.deletion_timestamp.is_some());
        let taint = find_taint(&obj.data);
        if !taint.unschedulable {
            result.action = Action::AlreadySchedulable;
            result.reason = Some(match &taint.condition {
                None => "no Schedulable condition".to_string(),
                Some(c) => format!(
                    "condition Schedulable is {}; nothing to remove",
                    c.get("status").and_then(Value::as_str).unwrap_or("<none>")
                ),
            });
            return (result, refusals.is_empty());
        }
        refusals.extend(webhook.cloned());
        if !refusals.is_empty() {
            if !options.force {
                refused(&mut result, &refusals);
                return (result, false);
            }
            result.overridden = refusals.iter().map(|r| r.code.to_string()).collect();
        }
        let body = build_patch(obj.metadata.resource_version.as_deref(), &taint.indices);
        result.patch = Some(body.clone());
        result.previous_condition = taint.condition.clone();
        if options.dry_run {
            result.action = Action::WouldUntaint;
            return (result, false);
        }
        result.attempts = attempt;
        match send_json_patch(client, name, &body).await {
            Ok(_) => {
                result.action = Action::Untainted;
                return (result, true);
            }
            Err(e) if (e.api_code() == Some(422) || e.is_conflict()) && attempt < MAX_ATTEMPTS => {
                // Someone wrote in between (or the list moved): read again and rebuild.
                tokio::time::sleep(delay).await;
                delay *= 2;
                let action = format!("get clusters.cluster.kubesphere.io `{name}`");
                match list::get_opt(api, name, &action).await {
                    Ok(Some(fresh)) => obj = fresh,
                    Ok(None) => {
                        refused(&mut result, &[patch::not_found(name)]);
                        result.patch = None;
                        return (result, false);
                    }
                    Err(e) => return (failed(result, "ApiError", &e), false),
                }
            }
            Err(e) if e.api_code() == Some(422) || e.is_conflict() => {
                let text = format!(
                    "gave up after {MAX_ATTEMPTS} attempts: the Cluster kept changing under us ({e})"
                );
                return (failed(result, "Conflict", &text), false);
            }
            Err(e) => return (failed(result, "ApiError", &e), false),
        }
    }
    // The loop returns on every path of its last iteration.
    (failed(result, "Conflict", &"gave up"), false)
}

fn failed(mut result: MemberResult, code: &str, e: &dyn std::fmt::Display) -> MemberResult {
    result.action = Action::Failed;
    result.code = Some(code.into());
    result.reason = Some(e.to_string());
    result.hint = None;
    result
}

/// Sends an RFC 6902 JSON patch to the main Cluster resource (there is no status subresource).
async fn send_json_patch(client: &kube::Client, name: &str, body: &Value) -> Result<DynamicObject> {
    crate::patch::json_patch(client, &cluster_resource(), None, name, body, FIELD_MANAGER).await
}
