//! Check `system-pods`: every pod in the system namespaces (or all with `-A`) Running with all
//! containers Ready, or Succeeded. Otherwise the pod is named with the reason that explains it:
//! a container's waiting reason (CrashLoopBackOff, ImagePullBackOff, …), `Unschedulable`,
//! `Pending`, `Unknown`, `Failed`, or `NotReady` (readiness). A Ready pod restarted
//! `--restart-threshold` times or more warns. A Failed pod of a Job that completed (a retried
//! attempt) is fine.
//!
//! Read page by page as [`super::scan`] describes (per scope namespace; cluster-wide with
//! `-A`); only counts and findings are kept, so memory stays bounded on large clusters. Pods are
//! decoded without their spec ([`ListedPod`]), which the check does not read.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use k8s_openapi::{
    api::{
        batch::v1::Job,
        core::v1::{ContainerStatus, Pod, PodStatus},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::Api;
use serde::Deserialize;

use super::{
    Ctx, Finding, Outcome, count,
    scan::{self, Tally, scan},
};
use crate::{domain::pods, list};

/// What to make of one pod.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Running and Ready, or Succeeded.
    Ok,
    /// Something to report.
    Finding(Finding),
    /// Failed, owned by this Job: fine if the Job completed.
    FailedJobPod(String),
}

/// What the check keeps of the pods it has seen: the count, the findings, and the Failed pods
/// owned by a Job (judged once the Jobs are read).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct PodTally {
    /// Pods judged.
    pub(super) total: usize,
    /// What was wrong with them.
    pub(super) findings: Vec<Finding>,
    /// `(namespace, pod, job)` of Failed pods owned by a Job.
    pub(super) job_pods: Vec<(String, String, String)>,
}

impl PodTally {
    /// Judges one pod and keeps only what the check reports.
    pub(super) fn add(&mut self, pod: &Pod, restart_threshold: u32) {
        self.total += 1;
        match verdict(pod, restart_threshold) {
            Verdict::Ok => {}
            Verdict::Finding(f) => self.findings.push(f),
            Verdict::FailedJobPod(job) => self.job_pods.push((
                pod.metadata.namespace.clone().unwrap_or_default(),
                pod.metadata.name.clone().unwrap_or_default(),
                job,
            )),
        }
    }
}

impl Tally for PodTally {
    fn merge(&mut self, other: Self) {
        self.total += other.total;
        self.findings.extend(other.findings);
        self.job_pods.extend(other.job_pods);
    }
}

/// A pod as the check reads it from a list: its metadata and status. The spec, most of a pod's
/// JSON (containers, volumes, environment), is skipped while the list is decoded and never
/// allocated; the check judges nothing in it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct ListedPod {
    #[serde(default)]
    metadata: ObjectMeta,
    status: Option<PodStatus>,
}

scan::listed_as!(ListedPod, Pod);

impl From<ListedPod> for Pod {
    fn from(p: ListedPod) -> Pod {
        Pod {
            metadata: p.metadata,
            spec: None,
            status: p.status,
        }
    }
}

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let threshold = ctx.options.restart_threshold;
    let tally: PodTally = scan(ctx, "pods", |t: &mut PodTally, pod: ListedPod| {
        t.add(&Pod::from(pod), threshold)
    })
    .await?;
    let scope = ctx.scope().await?;
    let PodTally {
        total,
        mut findings,
        job_pods,
    } = tally;
    findings.extend(judge_job_pods(ctx.client, job_pods).await?);
    let bad = findings.len();
    let summary = if bad == 0 {
        format!(
            "{} {}: all Running and Ready, or Succeeded",
            count(total, "pod"),
            scope.describe()
        )
    } else {
        format!(
            "{} {}: {bad} not healthy",
            count(total, "pod"),
            scope.describe()
        )
    };
    Ok((summary, findings))
}

/// Looks up the Jobs that own Failed pods (one GET per distinct Job, at most 8 at a time): a
/// failed attempt of a Job that then completed is history, not a problem.
async fn judge_job_pods(
    client: &kube::Client,
    pods: Vec<(String, String, String)>,
) -> crate::Result<Vec<Finding>> {
    let jobs: BTreeSet<(String, String)> = pods
        .iter()
        .map(|(ns, _, job)| (ns.clone(), job.clone()))
        .collect();
    // The futures are made before they are streamed, so the stream's type holds no closure
    // (a closure there makes the future not `Send` for rustc, which the fleet needs).
    let lookups: Vec<_> = jobs
        .into_iter()
        .map(|(ns, name)| async move {
            let api: Api<Job> = Api::namespaced(client.clone(), &ns);
            let job = list::get_opt(&api, &name, &format!("get Job `{ns}/{name}`")).await?;
            let done = job.as_ref().is_some_and(job_complete);
            Ok::<_, crate::Error>(((ns, name), done))
        })
        .collect();
    let complete: BTreeMap<(String, String), bool> = stream::iter(lookups)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<crate::Result<_>>()?;
    Ok(pods
        .into_iter()
        .filter(|(ns, _, job)| {
            !complete
                .get(&(ns.clone(), job.clone()))
                .copied()
                .unwrap_or(false)
        })
        .map(|(ns, pod, job)| {
            Finding::fail(
                "Pod",
                Some(&ns),
                &pod,
                "Failed",
                format!("pod failed and its Job `{job}` has not completed"),
            )
        })
        .collect())
}

fn job_complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

fn owner_job(pod: &Pod) -> Option<String> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == "Job")
        .map(|o| o.name.clone())
}

/// A container that is not running: `(container, waiting reason, message)`.
fn waiting(statuses: Option<&Vec<ContainerStatus>>) -> Option<(&str, &str, &str)> {
    pods::first_waiting(statuses.into_iter().flatten()).map(|w| (w.container, w.reason, w.message))
}

fn restarts(pod: &Pod) -> (i32, Option<String>) {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    let mut total = 0;
    let mut last = None;
    for c in statuses.into_iter().flatten() {
        total += c.restart_count.max(0);
        if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            last = Some(format!(
                "last exit {}{}",
                t.exit_code,
                t.reason
                    .as_deref()
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default()
            ));
        }
    }
    (total, last)
}

fn restarts_text(pod: &Pod) -> String {
    match restarts(pod) {
        (0, _) => String::new(),
        (n, Some(last)) => format!(" ({n} restarts, {last})"),
        (n, None) => format!(" ({n} restarts)"),
    }
}

/// Judges one pod.
pub(super) fn verdict(pod: &Pod, restart_threshold: u32) -> Verdict {
    let ns = pod.metadata.namespace.as_deref();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let fail = |reason: &str, message: String| {
        Verdict::Finding(Finding::fail("Pod", ns, name, reason, message))
    };
    let no_status = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&no_status);
    let phase = status.phase.as_deref().unwrap_or("Unknown");
    if pods::is_terminating(pod) {
        return Verdict::Finding(Finding::warn(
            "Pod",
            ns,
            name,
            "Terminating",
            "the pod is being deleted",
        ));
    }
    let condition = |type_: &str| {
        status
            .conditions
            .as_ref()
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
    };
    let waiting_text = |(container, reason, message): (&str, &str, &str)| {
        let mut text = format!("container `{container}` waiting: {reason}");
        if !message.is_empty() {
            text.push_str(&format!(": {message}"));
        }
        text
    };
    match phase {
        "Succeeded" => Verdict::Ok,
        "Failed" => {
            if let Some(job) = owner_job(pod) {
                return Verdict::FailedJobPod(job);
            }
            let reason = status.reason.as_deref().unwrap_or("Failed");
            let message = status
                .message
                .clone()
                .unwrap_or_else(|| "all containers terminated and at least one failed".into());
            if reason == "Evicted" {
                return Verdict::Finding(Finding::warn("Pod", ns, name, reason, message));
            }
            fail(reason, message)
        }
        "Pending" => {
            if let Some(w) = waiting(status.init_container_statuses.as_ref()) {
                return fail(&format!("Init:{}", w.1), waiting_text(w));
            }
            if let Some(w) = waiting(status.container_statuses.as_ref()) {
                return fail(w.1, format!("Pending, {}", waiting_text(w)));
            }
            if let Some(c) = condition("PodScheduled").filter(|c| c.status == "False") {
                let reason = c.reason.as_deref().unwrap_or("Unschedulable");
                let message = c.message.as_deref().unwrap_or("the pod is not scheduled");
                return fail(reason, format!("Pending, not scheduled: {message}"));
            }
            fail("Pending", "the pod is Pending".into())
        }
        "Running" => {
            let ready = match condition("Ready") {
                Some(c) => c.status == "True",
                None => status
                    .container_statuses
                    .as_ref()
                    .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready)),
            };
            if !ready {
                if let Some(w) = waiting(status.container_statuses.as_ref()) {
                    return fail(w.1, format!("{}{}", waiting_text(w), restarts_text(pod)));
                }
                let unready: Vec<&str> = status
                    .container_statuses
                    .iter()
                    .flatten()
                    .filter(|c| !c.ready)
                    .map(|c| c.name.as_str())
                    .collect();
                let detail = if unready.is_empty() {
                    condition("Ready")
                        .and_then(|c| c.message.clone())
                        .unwrap_or_else(|| "the pod is not Ready".into())
                } else {
                    format!("containers not ready: {}", unready.join(", "))
                };
                return fail(
                    "NotReady",
                    format!("Running but not Ready: {detail}{}", restarts_text(pod)),
                );
            }
            let (count, last) = restarts(pod);
            if count >= 0 && count as u32 >= restart_threshold && restart_threshold > 0 {
                return Verdict::Finding(Finding::warn(
                    "Pod",
                    ns,
                    name,
                    "Restarts",
                    format!(
                        "Ready, but restarted {count} times{}",
                        last.map(|l| format!(" ({l})")).unwrap_or_default()
                    ),
                ));
            }
            Verdict::Ok
        }
        "Unknown" => fail(
            "Unknown",
            "the pod's state is Unknown: its node stopped reporting".into(),
        ),
        other => fail(other, format!("the pod is {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Severity;
    use serde_json::{Value, json};

    fn pod(status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "kubesphere-system"},
            "status": status
        }))
        .unwrap()
    }

    fn finding(v: Verdict) -> Finding {
        match v {
            Verdict::Finding(f) => f,
            other => panic!("expected a finding, got {other:?}"),
        }
    }

    #[test]
    fn running_ready_and_succeeded_pods_are_ok() {
        let p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 1, "image": "i", "imageID": ""}]}));
        assert_eq!(verdict(&p, 5), Verdict::Ok);
        assert_eq!(verdict(&pod(json!({"phase": "Succeeded"})), 5), Verdict::Ok);
    }

    #[test]
    fn crash_loop_names_the_container_and_restarts() {
        let p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{"name": "ks-controller-manager", "ready": false, "restartCount": 42,
                "image": "i", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}));
        let f = finding(verdict(&p, 5));
        assert_eq!(f.reason, "CrashLoopBackOff");
        assert_eq!(f.severity, Severity::Blocking);
        assert_eq!(
            f.message,
            "container `ks-controller-manager` waiting: CrashLoopBackOff: back-off 5m0s restarting failed container (42 restarts, last exit 1 Error)"
        );
    }

    #[test]
    fn a_listed_pod_is_judged_as_the_whole_pod_is() {
        let whole = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "ks-apiserver-0", "namespace": "kubesphere-system",
                "deletionTimestamp": null,
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u"}]},
            "spec": {"containers": [{"name": "c", "image": "i",
                "env": [{"name": "A", "value": "b"}], "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                "volumes": [{"name": "v", "emptyDir": {}}], "nodeName": "worker-1"},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "c", "ready": false, "restartCount": 7, "image": "i", "imageID": "",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let listed: ListedPod = serde_json::from_value(whole.clone()).unwrap();
        let pod: Pod = serde_json::from_value(whole.clone()).unwrap();
        let from_list = Pod::from(listed);
        assert!(from_list.spec.is_none(), "the spec is not kept");
        assert_eq!(verdict(&from_list, 5), verdict(&pod, 5));
        assert_eq!(finding(verdict(&from_list, 5)).reason, "CrashLoopBackOff");
        let mut failed = whole;
        failed["status"] = json!({"phase": "Failed"});
        let listed: ListedPod = serde_json::from_value(failed).unwrap();
        assert_eq!(
            verdict(&Pod::from(listed), 5),
            Verdict::FailedJobPod("j".into())
        );
        // listed where pods are
        assert_eq!(
            <ListedPod as kube::Resource>::url_path(&(), Some("kube-system")),
            "/api/v1/namespaces/kube-system/pods"
        );
    }

    #[test]
    fn pending_pods_say_why() {
        let p = pod(json!({"phase": "Pending",
            "containerStatuses": [{"name": "ks-console", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"kubesphere/ks-console:v3.4.11\""}}}]}));
        let f = finding(verdict(&p, 5));
        assert_eq!(f.reason, "ImagePullBackOff");
        assert!(
            f.message
                .starts_with("Pending, container `ks-console` waiting")
        );

        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/5 nodes are available"}]}),
        );
        let f = finding(verdict(&p, 5));
        assert_eq!(f.reason, "Unschedulable");
        assert_eq!(f.message, "Pending, not scheduled: 0/5 nodes are available");

        assert_eq!(
            finding(verdict(&pod(json!({"phase": "Pending"})), 5)).reason,
            "Pending"
        );
        let p = pod(
            json!({"phase": "Pending", "initContainerStatuses": [{"name": "init", "ready": false,
            "restartCount": 3, "image": "i", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        );
        assert_eq!(finding(verdict(&p, 5)).reason, "Init:CrashLoopBackOff");
    }

    #[test]
    fn running_but_not_ready_is_not_healthy() {
        let p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{"name": "kyverno", "ready": false, "started": true, "restartCount": 3,
                "image": "i", "imageID": "", "state": {"running": {}}}]}));
        let f = finding(verdict(&p, 5));
        assert_eq!(f.reason, "NotReady");
        assert_eq!(
            f.message,
            "Running but not Ready: containers not ready: kyverno (3 restarts)"
        );
        // No container statuses: the condition's message explains.
        let p = pod(
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False",
            "message": "containers with unready status: [kube-proxy]"}]}),
        );
        assert_eq!(
            finding(verdict(&p, 5)).message,
            "Running but not Ready: containers with unready status: [kube-proxy]"
        );
    }

    #[test]
    fn heavy_restarts_warn_and_the_threshold_is_a_flag() {
        let p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 7, "image": "i", "imageID": "",
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}));
        let f = finding(verdict(&p, 5));
        assert_eq!(
            (f.reason.as_str(), f.severity),
            ("Restarts", Severity::Advisory)
        );
        assert_eq!(
            f.message,
            "Ready, but restarted 7 times (last exit 137 OOMKilled)"
        );
        assert_eq!(verdict(&p, 8), Verdict::Ok);
        assert_eq!(
            verdict(&p, 0),
            Verdict::Ok,
            "0 turns the restart warning off"
        );
    }

    #[test]
    fn failed_pods_of_jobs_are_judged_by_their_job() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "j-abc", "namespace": "kubesphere-system",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "prepare-upgrade", "uid": "x"}]},
            "status": {"phase": "Failed"}})).unwrap();
        assert_eq!(
            verdict(&p, 5),
            Verdict::FailedJobPod("prepare-upgrade".into())
        );
        let evicted =
            pod(json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}));
        let f = finding(verdict(&evicted, 5));
        assert_eq!(
            (f.reason.as_str(), f.severity),
            ("Evicted", Severity::Advisory)
        );
        assert_eq!(
            finding(verdict(&pod(json!({"phase": "Failed"})), 5)).reason,
            "Failed"
        );
        assert_eq!(
            finding(verdict(&pod(json!({"phase": "Unknown"})), 5)).reason,
            "Unknown"
        );
        // A pod with no status at all is Unknown, not a panic.
        assert_eq!(finding(verdict(&pod(json!(null)), 5)).reason, "Unknown");
    }

    #[test]
    fn job_completion_is_read_from_conditions() {
        let done: Job = serde_json::from_value(json!({"status": {"conditions": [
            {"type": "Complete", "status": "True"}]}}))
        .unwrap();
        assert!(job_complete(&done));
        let running: Job = serde_json::from_value(json!({"status": {"active": 1}})).unwrap();
        assert!(!job_complete(&running));
    }

    #[test]
    fn tallies_of_namespaces_merge_to_the_tally_of_the_cluster() {
        let named = |ns: &str, name: &str, status: Value, owner: Option<&str>| -> Pod {
            let mut meta = json!({"name": name, "namespace": ns});
            if let Some(job) = owner {
                meta["ownerReferences"] =
                    json!([{"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": "u"}]);
            }
            serde_json::from_value(json!({"metadata": meta, "status": status})).unwrap()
        };
        let ok = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        let kube_system = vec![
            named("kube-system", "a", ok.clone(), None),
            named("kube-system", "b", json!({"phase": "Pending"}), None),
        ];
        let kubesphere = vec![
            named("kubesphere-system", "c", ok, None),
            named(
                "kubesphere-system",
                "d",
                json!({"phase": "Failed"}),
                Some("upgrade"),
            ),
            named(
                "kubesphere-system",
                "e",
                json!({"phase": "Succeeded"}),
                None,
            ),
        ];
        // One walk over everything, page by page ...
        let mut whole = PodTally::default();
        for page in [&kube_system, &kubesphere] {
            for p in page {
                whole.add(p, 5);
            }
        }
        // ... equals one walk per namespace, merged in any order.
        let mut a = PodTally::default();
        kube_system.iter().for_each(|p| a.add(p, 5));
        let mut b = PodTally::default();
        kubesphere.iter().for_each(|p| b.add(p, 5));
        let mut merged = PodTally::default();
        merged.merge(b);
        merged.merge(a);
        assert_eq!(merged.total, 5);
        assert_eq!(merged.total, whole.total);
        let reasons = |t: &PodTally| {
            let mut r: Vec<_> = t
                .findings
                .iter()
                .map(|f| (f.object.name.clone(), f.reason.clone()))
                .collect();
            r.sort();
            r
        };
        assert_eq!(reasons(&merged), [("b".to_string(), "Pending".to_string())]);
        assert_eq!(reasons(&merged), reasons(&whole));
        assert_eq!(
            merged.job_pods,
            [("kubesphere-system".into(), "d".into(), "upgrade".into())]
        );
        assert_eq!(merged.job_pods, whole.job_pods);
    }
}
