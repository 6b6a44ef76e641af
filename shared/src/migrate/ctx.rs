//! The executor context every step runs in: the cluster, helm, the log, dry-run, and the
//! helpers through which every write goes.
//!
//! In `--dry-run` [`Ctx`] records what it would do (objects, JSON patches, helm argument
//! vectors) instead of doing it, and otherwise logs it to `ks-migrate.log`. Read-only helm calls
//! (`template`, `show crds`) run in both modes. Kubernetes objects are written through the API
//! (server-side apply with field manager `kubectl-ks-migrate`), never with kubectl.

use std::{path::PathBuf, time::Duration};

use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};
use kube::{
    Api,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
        PatchParams,
    },
};
use serde_json::{Value, json};

use super::{
    helm::{Helm, Log},
    journal::FIELD_MANAGER,
    progress::StepProgress,
};
use crate::{
    error::{Error, KubeResultExt, Result},
    kubesphere::{Role, SYSTEM_NAMESPACE},
    list,
    run::Printer,
};

/// The settings the helm argument vectors are built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ks-core chart (a directory or .tgz).
    pub chart: String,
    /// The values file (`-f`).
    pub values: Option<PathBuf>,
    /// `--image-registry`.
    pub registry: String,
    /// `--extension-image-registry`.
    pub extension_registry: Option<String>,
    /// `--tag` (KubeSphere and ks-upgrade).
    pub tag: String,
    /// host or member.
    pub role: Role,
    /// `helm upgrade --timeout` (a Go duration).
    pub helm_timeout: String,
}

/// Everything a step needs.
pub struct Ctx {
    /// The cluster.
    pub client: kube::Client,
    /// helm.
    pub helm: Helm,
    /// The log file.
    pub log: Log,
    /// Record instead of doing.
    pub dry_run: bool,
    /// What the helm calls are made of.
    pub settings: Settings,
    /// How long to wait for a Job.
    pub job_timeout: Duration,
    /// The backup directory.
    pub backup_dir: PathBuf,
    /// The API server (for the backup manifest).
    pub server: String,
    /// stderr for progress.
    pub printer: Printer,
    /// Progress display.
    pub progress: StepProgress,
    /// What the current step did (or would do).
    pub actions: Vec<String>,
    /// Turns true when this run's Lease is lost (`None`: a dry run, which holds none).
    pub lease_lost: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Ctx {
    /// Records (and logs) an action of the current step.
    pub fn act(&mut self, text: impl Into<String>) {
        let text = text.into();
        let shown = if self.dry_run {
            format!("would {text}")
        } else {
            text
        };
        self.log.line(&shown);
        self.actions.push(shown);
    }

    /// Records a finding that is not an action (no "would").
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.log.line(&text);
        self.actions.push(text);
    }

    /// Shows a status while waiting.
    pub fn status(&mut self, message: &str) {
        self.progress.status(&mut self.printer, message);
    }

    /// Deletes an object, tolerating its absence. Returns true when it existed.
    pub async fn delete(&mut self, ar: &ApiResource, ns: Option<&str>, name: &str) -> Result<bool> {
        let what = describe(&ar.kind, ns, name);
        if self.dry_run {
            self.act(format!("delete {what}"));
            return Ok(true);
        }
        let api: Api<DynamicObject> = match ns {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        };
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {
                self.act(format!("delete {what}"));
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(Error::api(format!("delete {what}"), e)),
        }
    }

    /// Sends a JSON patch.
    pub async fn json_patch(
        &mut self,
        ar: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Result<()> {
        let what = describe(&ar.kind, ns, name);
        self.act(format!("patch {what} with JSON patch {patch}"));
        if self.dry_run {
            return Ok(());
        }
        crate::patch::json_patch(&self.client, ar, ns, name, &patch, FIELD_MANAGER).await?;
        Ok(())
    }

    /// Sends a merge patch.
    pub async fn merge_patch(
        &mut self,
        ar: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Result<()> {
        let what = describe(&ar.kind, ns, name);
        self.act(format!("patch {what} with merge patch {patch}"));
        if self.dry_run {
            return Ok(());
        }
        let api = self.dynamic(ar, ns);
        api.patch(name, &manager(), &Patch::Merge(&patch))
            .await
            .ctx(|| format!("patch {what}"))?;
        Ok(())
    }

    /// Server-side applies one object (kind resolved by discovery).
    pub async fn apply(&mut self, obj: &Value) -> Result<()> {
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api_version.is_empty() || kind.is_empty() || name.is_empty() {
            return Err(Error::parse(
                "rendered object",
                format!(
                    "missing apiVersion, kind or metadata.name in {}",
                    short(obj)
                ),
            ));
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .ctx(|| format!("find the API of {api_version} {kind}"))?;
        let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
        let ns = if namespaced {
            Some(
                obj.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(SYSTEM_NAMESPACE)
                    .to_string(),
            )
        } else {
            None
        };
        let what = describe(kind, ns.as_deref(), name);
        self.act(format!(
            "apply {what} (server-side, field manager {FIELD_MANAGER})"
        ));
        if self.dry_run {
            return Ok(());
        }
        let mut obj = obj.clone();
        if let (Some(ns), Some(m)) = (&ns, obj.get_mut("metadata").and_then(Value::as_object_mut)) {
            m.insert("namespace".into(), json!(ns));
        }
        let api = self.dynamic(&ar, ns.as_deref());
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .ctx(|| format!("apply {what}"))?;
        Ok(())
    }

    fn dynamic(&self, ar: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
        match ns {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        }
    }

    /// Runs a read-only helm call (both modes); stdout is returned, not logged.
    pub async fn helm_read(&mut self, args: Vec<String>) -> Result<String> {
        let shown = self.helm.show(&args);
        self.note(format!("run {shown}"));
        self.helm.output(&args, &self.log, true).await
    }

    /// Runs a mutating helm call (recorded only in a dry run).
    pub async fn helm_write(&mut self, args: Vec<String>) -> Result<String> {
        let shown = self.helm.show(&args);
        self.act(format!("run {shown}"));
        if self.dry_run {
            return Ok(String::new());
        }
        self.helm.output(&args, &self.log, false).await
    }

    /// Waits for a Job to complete, showing its and its pods' status. A failed Job ends the
    /// wait with its reason and its pod's last log lines.
    pub async fn wait_job(&mut self, ns: &str, name: &str) -> Result<()> {
        self.act(format!(
            "wait for Job {ns}/{name} to complete (up to {}s)",
            self.job_timeout.as_secs()
        ));
        if self.dry_run {
            return Ok(());
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let start = std::time::Instant::now();
        loop {
            let job = list::get_opt(&jobs, name, &format!("get Job `{ns}/{name}`")).await?;
            let state = match &job {
                Some(j) => job_state(j),
                None => JobState::Missing,
            };
            match state {
                JobState::Complete => {
                    self.log.line(&format!("Job {ns}/{name} is Complete"));
                    return Ok(());
                }
                JobState::Failed(reason) => {
                    let logs = self.job_logs(ns, name).await;
                    let mut msg = format!("Job {ns}/{name} failed: {reason}");
                    if !logs.is_empty() {
                        msg.push_str(&format!("; last log lines: {logs}"));
                    }
                    self.log.line(&msg);
                    return Err(Error::Command {
                        command: format!("Job {ns}/{name}"),
                        reason: msg,
                    });
                }
                JobState::Missing => self.status(&format!("waiting for Job {name} to appear")),
                JobState::Running(s) => {
                    let pods = self.pod_status(ns, name).await;
                    self.status(&format!("Job {name}: {s}{pods}"));
                }
            }
            if start.elapsed() >= self.job_timeout {
                return Err(Error::Timeout {
                    what: format!("Job {ns}/{name} to complete"),
                    seconds: self.job_timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn pod_status(&self, ns: &str, job: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let lp = ListParams::default().labels(&format!("job-name={job}"));
        match list::list_all(&pods, &lp, "list Job pods").await {
            Ok(p) if !p.is_empty() => {
                let parts: Vec<String> = p
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {}",
                            p.metadata.name.clone().unwrap_or_default(),
                            pod_phase(p)
                        )
                    })
                    .collect();
                format!("; pod {}", parts.join(", "))
            }
            _ => String::new(),
        }
    }

    async fn job_logs(&self, ns: &str, job: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let lp = ListParams::default().labels(&format!("job-name={job}"));
        let Ok(list) = list::list_all(&pods, &lp, "list Job pods").await else {
            return String::new();
        };
        let Some(pod) = list.last().and_then(|p| p.metadata.name.clone()) else {
            return String::new();
        };
        let params = LogParams {
            tail_lines: Some(10),
            ..Default::default()
        };
        match pods.logs(&pod, &params).await {
            Ok(text) => text.lines().collect::<Vec<_>>().join(" | "),
            Err(_) => String::new(),
        }
    }
}

fn manager() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// `Kind ns/name` or `Kind name`.
pub fn describe(kind: &str, ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

pub(super) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// A Job's state as its conditions say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// No such Job.
    Missing,
    /// Not finished: a summary of its counters.
    Running(String),
    /// Condition Complete=True.
    Complete,
    /// Condition Failed=True, with reason and message.
    Failed(String),
}

/// Reads a Job's state.
pub fn job_state(job: &Job) -> JobState {
    let status = job.status.clone().unwrap_or_default();
    for c in status.conditions.iter().flatten() {
        if c.status == "True" && c.type_ == "Complete" {
            return JobState::Complete;
        }
        if c.status == "True" && c.type_ == "Failed" {
            return JobState::Failed(format!(
                "{}{}",
                c.reason.clone().unwrap_or_else(|| "Failed".into()),
                c.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
    }
    JobState::Running(format!(
        "active {}, succeeded {}, failed {}",
        status.active.unwrap_or(0),
        status.succeeded.unwrap_or(0),
        status.failed.unwrap_or(0)
    ))
}

fn pod_phase(p: &Pod) -> String {
    let s = p.status.clone().unwrap_or_default();
    let waiting = s
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .next();
    waiting.unwrap_or_else(|| s.phase.unwrap_or_else(|| "Unknown".into()))
}

/// Parses multi-document YAML into objects, dropping empty documents.
pub fn parse_documents(text: &str, what: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple(text).map_err(|e| Error::parse(what.to_string(), e))?;
    let mut out = Vec::new();
    for d in docs {
        match d {
            Value::Null => {}
            Value::Object(_) => {
                // A `List` (as `kubectl get -o yaml` writes) is unpacked.
                if d.get("kind").and_then(Value::as_str) == Some("List") {
                    out.extend(
                        d.get("items")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default(),
                    );
                } else {
                    out.push(d);
                }
            }
            other => {
                return Err(Error::parse(
                    what.to_string(),
                    format!("a document is not an object: {}", short(&other)),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states() {
        let j = |status: Value| -> Job {
            serde_json::from_value(json!({"metadata": {"name": "j"}, "status": status})).unwrap()
        };
        assert_eq!(
            job_state(&j(
                json!({"conditions": [{"type": "Complete", "status": "True"}]})
            )),
            JobState::Complete
        );
        assert_eq!(
            job_state(&j(
                json!({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
            )),
            JobState::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        assert_eq!(
            job_state(&j(json!({"active": 1}))),
            JobState::Running("active 1, succeeded 0, failed 0".into())
        );
        assert!(matches!(job_state(&Job::default()), JobState::Running(_)));
    }

    #[test]
    fn documents_parse_and_empty_ones_drop() {
        let text = "---\n# Source: ks-core/templates/prepare-upgrade-job.yaml\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: prepare-upgrade\n";
        let docs = parse_documents(text, "t").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["kind"], "Job");
        assert!(parse_documents("- a\n", "t").is_err());
        assert!(parse_documents("a: [\n", "t").is_err());
    }
}
