//! The migration steps as data, their implementations, and the context they run in.
//!
//! The steps follow upstream's `upgrade.sh host|member` in order
//! (https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/): back up; scale ks-installer to 0; fill
//! the etcd `endpointIps`; remove the old redis; render, apply and wait for the
//! `prepare-upgrade` Job; apply the chart's CRDs; `helm upgrade` ks-core while following its
//! hook Jobs; verify the release. Kubernetes objects are written through the API (server-side
//! apply with field manager `kubectl-ks-migrate`), never with kubectl.
//!
//! Every write goes through [`Ctx`], which in `--dry-run` records what it would do (objects,
//! JSON patches, helm argument vectors) instead of doing it, and otherwise logs it to
//! `ks-migrate.log`. Read-only helm calls (`template`, `show crds`) run in both modes.

use std::{path::PathBuf, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use k8s_openapi::api::{
    apps::v1::Deployment,
    batch::v1::Job,
    core::v1::{ConfigMap, Endpoints, PersistentVolumeClaim, Pod, Secret, Service},
};
use kube::{
    Api,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
        PatchParams,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    backup,
    helm::{Helm, Log},
    journal::FIELD_MANAGER,
    step::Step,
};
use crate::{
    error::{Error, KubeResultExt, Result},
    helm as releases,
    kubesphere::{
        self, KS_CORE_RELEASE, Role, SYSTEM_NAMESPACE, cluster_configuration_resource, field,
    },
    list,
    run::Printer,
    version::Version,
};

/// The host/member steps, in upstream's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    /// Back up what upstream backs up.
    Backup,
    /// Scale ks-installer to 0.
    ScaleInstaller,
    /// Fill the ClusterConfiguration's etcd `endpointIps`.
    FillEtcdEndpoints,
    /// Remove the old redis.
    RemoveRedis,
    /// Run the prepare-upgrade Job.
    PrepareUpgrade,
    /// Apply the chart's CRDs.
    ApplyCrds,
    /// `helm upgrade` ks-core.
    UpgradeKsCore,
    /// Verify the release.
    Verify,
}

impl Step for StepId {
    const ALL: &'static [Self] = &[
        Self::Backup,
        Self::ScaleInstaller,
        Self::FillEtcdEndpoints,
        Self::RemoveRedis,
        Self::PrepareUpgrade,
        Self::ApplyCrds,
        Self::UpgradeKsCore,
        Self::Verify,
    ];

    fn key(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::ScaleInstaller => "scale-installer",
            Self::FillEtcdEndpoints => "fill-etcd-endpoints",
            Self::RemoveRedis => "remove-redis",
            Self::PrepareUpgrade => "prepare-upgrade",
            Self::ApplyCrds => "apply-crds",
            Self::UpgradeKsCore => "upgrade-ks-core",
            Self::Verify => "verify",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Backup => {
                "Back up the system namespaces, the ClusterConfiguration, IAM and tenant objects"
            }
            Self::ScaleInstaller => "Scale ks-installer to 0",
            Self::FillEtcdEndpoints => "Fill the etcd endpointIps of the ClusterConfiguration",
            Self::RemoveRedis => "Remove the old redis",
            Self::PrepareUpgrade => "Run the prepare-upgrade Job",
            Self::ApplyCrds => "Apply the ks-core chart's CRDs",
            Self::UpgradeKsCore => {
                "helm upgrade ks-core (with its pre- and post-upgrade hook Jobs)"
            }
            Self::Verify => "Verify the ks-core release is deployed at v4",
        }
    }

    fn destructive(self) -> bool {
        match self {
            Self::RemoveRedis | Self::PrepareUpgrade | Self::UpgradeKsCore => true,
            Self::Backup
            | Self::ScaleInstaller
            | Self::FillEtcdEndpoints
            | Self::ApplyCrds
            | Self::Verify => false,
        }
    }

    fn anchor(self) -> &'static str {
        "steps-host-member"
    }
}

/// The journal keys of the host/member steps.
pub fn keys() -> Vec<String> {
    StepId::keys()
}

/// Live progress: a spinner on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    last: String,
}

impl Progress {
    /// Progress drawn (on a terminal) or written as lines.
    pub fn new(interactive: bool) -> Self {
        Self {
            bar: None,
            interactive,
            last: String::new(),
        }
    }

    /// Starts a step: `[n/m] title`.
    pub fn start(&mut self, printer: &mut Printer, n: usize, m: usize, title: &str) {
        self.last.clear();
        let head = format!("[{n}/{m}] {title}");
        if self.interactive {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg}") {
                bar.set_style(style);
            }
            bar.set_prefix(head);
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(bar);
        } else {
            printer.note(&head);
        }
    }

    /// Shows what the step is doing now (Job and pod status while waiting).
    pub fn status(&mut self, printer: &mut Printer, message: &str) {
        if message == self.last {
            return;
        }
        self.last = message.to_string();
        match &self.bar {
            Some(bar) => bar.set_message(format!("… {message}")),
            None => printer.note(&format!("      {message}")),
        }
    }

    /// Ends a step with a final line.
    pub fn finish(&mut self, printer: &mut Printer, line: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        printer.note(line);
    }
}

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
    pub progress: Progress,
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

fn short(v: &Value) -> String {
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

/// `--set` arguments for the image settings (upstream's `upgrade.image.*`, `global.*`).
fn image_sets(s: &Settings) -> (String, Option<String>, String) {
    (
        format!(
            "upgrade.image.registry={},upgrade.image.tag={}",
            s.registry, s.tag
        ),
        s.extension_registry
            .as_ref()
            .map(|r| format!("extension.imageRegistry={r}")),
        format!("global.imageRegistry={},global.tag={}", s.registry, s.tag),
    )
}

fn values_path(s: &Settings) -> Result<String> {
    s.values
        .as_ref()
        .map(|p| p.display().to_string())
        .ok_or_else(|| Error::usage("a values file is required (-f ks-core-values.yaml)"))
}

/// The `helm template` argument vector of the prepare-upgrade Job (upstream §1.1 step 10).
pub fn prepare_template_args(s: &Settings, helm: &Helm) -> Result<Vec<String>> {
    let (upgrade, ext, global) = image_sets(s);
    let mut a: Vec<String> = [
        "template",
        "-s",
        "templates/prepare-upgrade-job.yaml",
        "-n",
        SYSTEM_NAMESPACE,
        "--release-name",
        "--set",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(format!("upgrade.prepare=true,{upgrade}"));
    if let Some(e) = ext {
        a.push("--set".into());
        a.push(e);
    }
    a.push("--set".into());
    a.push(global);
    a.push("-f".into());
    a.push(values_path(s)?);
    a.push(s.chart.clone());
    a.push("--dry-run=server".into());
    Ok(helm.with_conn(a))
}

/// The `helm upgrade` argument vector (upstream §1.1 step 12, without the no-op
/// `kseExtensionRepository` setting).
pub fn upgrade_args(s: &Settings, helm: &Helm, ha: bool, redis_ha: bool) -> Result<Vec<String>> {
    let (upgrade, ext, global) = image_sets(s);
    let role = match s.role {
        Role::Member => "member",
        _ => "host",
    };
    let mut a: Vec<String> = vec![
        "upgrade".into(),
        "-n".into(),
        SYSTEM_NAMESPACE.into(),
        KS_CORE_RELEASE.into(),
        s.chart.clone(),
        "--debug".into(),
        "--wait".into(),
        "--timeout".into(),
        s.helm_timeout.clone(),
        "--set".into(),
        format!("multicluster.role={role}"),
        "--set".into(),
        upgrade,
    ];
    if let Some(e) = ext {
        a.push("--set".into());
        a.push(e);
    }
    a.push("--set".into());
    a.push(global);
    if ha {
        a.push("--set".into());
        a.push("ha.enabled=true".into());
    }
    if redis_ha {
        a.push("--set".into());
        a.push("redisHA.enabled=true".into());
    }
    a.push("--set".into());
    a.push(format!(
        "upgrade.config.validator.extensionsMuseum.enabled={}",
        s.role != Role::Member
    ));
    a.push("-f".into());
    a.push(values_path(s)?);
    Ok(helm.with_conn(a))
}

/// Runs one step; returns its detail line.
pub async fn run(step: StepId, ctx: &mut Ctx) -> Result<String> {
    match step {
        StepId::Backup => run_backup(ctx).await,
        StepId::ScaleInstaller => scale_installer(ctx).await,
        StepId::FillEtcdEndpoints => fill_etcd(ctx).await,
        StepId::RemoveRedis => remove_redis(ctx).await,
        StepId::PrepareUpgrade => prepare_upgrade(ctx).await,
        StepId::ApplyCrds => apply_crds(ctx).await,
        StepId::UpgradeKsCore => upgrade_ks_core(ctx).await,
        StepId::Verify => verify(ctx).await,
    }
}

/// For a destructive step a crashed run left `running`: does the cluster show it finished?
pub async fn recheck(step: StepId, ctx: &Ctx) -> Result<bool> {
    match step {
        StepId::PrepareUpgrade => {
            let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
            Ok(list::get_opt(
                &jobs,
                "prepare-upgrade",
                "get Job `kubesphere-system/prepare-upgrade`",
            )
            .await?
            .is_some_and(|j| job_state(&j) == JobState::Complete))
        }
        StepId::UpgradeKsCore => Ok(ks_core_v4(&ctx.client)
            .await?
            .is_some_and(|r| r.latest_deployed)),
        // Removing the old redis again is harmless; the others are not destructive.
        StepId::RemoveRedis
        | StepId::Backup
        | StepId::ScaleInstaller
        | StepId::FillEtcdEndpoints
        | StepId::ApplyCrds
        | StepId::Verify => Ok(false),
    }
}

async fn run_backup(ctx: &mut Ctx) -> Result<String> {
    let sources = backup::sources(&ctx.client).await?;
    let mut collected = Vec::new();
    for s in &sources {
        ctx.status(&format!("reading {}", s.holds));
        collected.push(backup::collect(&ctx.client, s).await?);
    }
    let objects: usize = collected.iter().map(|c| c.items.len()).sum();
    if ctx.dry_run {
        for c in &collected {
            ctx.act(format!(
                "save {} ({} objects: {})",
                c.source.file,
                c.items.len(),
                c.source.holds
            ));
        }
        return Ok(format!(
            "{objects} objects in {} files would be saved to {}",
            collected.len(),
            ctx.backup_dir.display()
        ));
    }
    backup::create_private_dir(&ctx.backup_dir)?;
    let identity = super::rollback::identity(&ctx.client).await?;
    let manifest = backup::write_with(&ctx.backup_dir, &collected, &ctx.server, Some(identity))?;
    for f in &manifest.files {
        ctx.act(format!(
            "save {} ({} objects, sha256 {})",
            f.file,
            f.objects,
            &f.sha256[..12.min(f.sha256.len())]
        ));
    }
    for t in &manifest.not_served {
        ctx.note(format!("{t}: not served by this cluster, nothing to save"));
    }
    Ok(format!(
        "{objects} objects in {} files saved to {} (manifest.json)",
        manifest.files.len(),
        ctx.backup_dir.display()
    ))
}

async fn scale_installer(ctx: &mut Ctx) -> Result<String> {
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let Some(d) = list::get_opt(
        &api,
        "ks-installer",
        "get Deployment `kubesphere-system/ks-installer`",
    )
    .await?
    else {
        return Ok("no Deployment ks-installer (nothing to scale)".into());
    };
    if d.spec.as_ref().and_then(|s| s.replicas) == Some(0) {
        return Ok("ks-installer already has 0 replicas".into());
    }
    let ar = ApiResource::erase::<Deployment>(&());
    ctx.merge_patch(
        &ar,
        Some(SYSTEM_NAMESPACE),
        "ks-installer",
        json!({"spec": {"replicas": 0}}),
    )
    .await?;
    Ok("ks-installer scaled to 0".into())
}

/// The etcd patch upstream's `fill_etcd_endpoint_ips` makes, or `None` when the current value
/// is a real address. `current` is `spec.etcd.endpointIps` (`None` when `spec.etcd` is absent
/// altogether, `Some("")` when only the field is).
pub fn etcd_patch(etcd_present: bool, current: Option<&str>, ips: &str) -> Option<Value> {
    match current.map(str::trim) {
        _ if !etcd_present => {
            Some(json!([{"op": "add", "path": "/spec/etcd", "value": {"endpointIps": ips}}]))
        }
        None | Some("") => {
            Some(json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": ips}]))
        }
        Some("localhost") => {
            Some(json!([{"op": "replace", "path": "/spec/etcd/endpointIps", "value": ips}]))
        }
        Some(_) => None,
    }
}

/// The addresses of Endpoints `kube-system/etcd`, comma-joined.
pub fn etcd_ips(ep: &Endpoints) -> String {
    ep.subsets
        .iter()
        .flatten()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .collect::<Vec<_>>()
        .join(",")
}

async fn fill_etcd(ctx: &mut Ctx) -> Result<String> {
    let Some(cc) = kubesphere::cluster_configuration(&ctx.client).await? else {
        return Err(Error::refused(
            "the ClusterConfiguration ks-installer is gone",
            None,
        ));
    };
    let etcd_present = field(&cc, &["spec", "etcd"]).is_some_and(Value::is_object);
    let current = field(&cc, &["spec", "etcd", "endpointIps"]).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let Some(c) = current.as_deref()
        && !c.trim().is_empty()
        && c.trim() != "localhost"
    {
        return Ok(format!("endpointIps already set to {c}"));
    }
    let eps: Api<Endpoints> = Api::namespaced(ctx.client.clone(), "kube-system");
    let ips = list::get_opt(&eps, "etcd", "get Endpoints `kube-system/etcd`")
        .await?
        .map(|e| etcd_ips(&e))
        .unwrap_or_default();
    if ips.is_empty() {
        return Err(Error::refused(
            format!(
                "spec.etcd.endpointIps of the ClusterConfiguration is `{}` and Endpoints kube-system/etcd lists no addresses",
                current.unwrap_or_default()
            ),
            Some("set spec.etcd.endpointIps to the etcd addresses by hand (kubectl -n kubesphere-system edit cc ks-installer), then rerun".into()),
        ));
    }
    let Some(patch) = etcd_patch(etcd_present, current.as_deref(), &ips) else {
        return Ok("endpointIps already set".into());
    };
    ctx.json_patch(
        &cluster_configuration_resource(),
        Some(SYSTEM_NAMESPACE),
        "ks-installer",
        patch,
    )
    .await?;
    Ok(format!("endpointIps set to {ips}"))
}

/// The plain (non-Helm) redis objects upstream deletes: kind and name.
pub const REDIS_OBJECTS: &[(&str, &str)] = &[
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("Secret", "redis-secret"),
    ("ConfigMap", "redis-configmap"),
    ("PersistentVolumeClaim", "redis-pvc"),
];

async fn remove_redis(ctx: &mut Ctx) -> Result<String> {
    let mut removed = 0;
    let revs =
        releases::list_revisions(&ctx.client, Some(SYSTEM_NAMESPACE), Some("ks-redis"), false)
            .await?;
    if revs.is_empty() {
        ctx.note("no Helm release ks-redis");
    } else {
        let args = ctx.helm.with_conn(vec![
            "del".into(),
            "-n".into(),
            SYSTEM_NAMESPACE.into(),
            "ks-redis".into(),
        ]);
        match ctx.helm_write(args).await {
            Ok(_) => removed += 1,
            // Upstream runs it with `|| true`.
            Err(e) => ctx.note(format!(
                "helm del ks-redis failed, continuing as upstream does: {e}"
            )),
        }
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let ha = list::list_all_metadata(
        &pvcs,
        &ListParams::default().labels("app=redis-ha"),
        "list redis-ha PVCs",
    )
    .await?;
    let pvc_ar = ApiResource::erase::<PersistentVolumeClaim>(&());
    for p in ha {
        if let Some(name) = p.metadata.name
            && ctx.delete(&pvc_ar, Some(SYSTEM_NAMESPACE), &name).await?
        {
            removed += 1;
        }
    }
    for (kind, name) in REDIS_OBJECTS {
        let (ar, labels) = match *kind {
            "Deployment" => (
                ApiResource::erase::<Deployment>(&()),
                meta_labels::<Deployment>(ctx, name).await?,
            ),
            "Service" => (
                ApiResource::erase::<Service>(&()),
                meta_labels::<Service>(ctx, name).await?,
            ),
            "Secret" => (
                ApiResource::erase::<Secret>(&()),
                meta_labels::<Secret>(ctx, name).await?,
            ),
            "ConfigMap" => (
                ApiResource::erase::<ConfigMap>(&()),
                meta_labels::<ConfigMap>(ctx, name).await?,
            ),
            _ => (
                pvc_ar.clone(),
                meta_labels::<PersistentVolumeClaim>(ctx, name).await?,
            ),
        };
        match labels {
            None => {}
            // `-l app.kubernetes.io/managed-by!=Helm`: a Helm-managed redis is not ours to delete.
            Some(l)
                if l.get("app.kubernetes.io/managed-by")
                    .is_some_and(|v| v == "Helm") =>
            {
                ctx.note(format!(
                    "{} is managed by Helm, left alone",
                    describe(kind, Some(SYSTEM_NAMESPACE), name)
                ));
            }
            Some(_) => removed += usize::from(ctx.delete(&ar, Some(SYSTEM_NAMESPACE), name).await?),
        }
    }
    Ok(if removed == 0 {
        "no old redis found".into()
    } else {
        format!("{removed} redis objects removed")
    })
}

async fn meta_labels<K>(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let action = format!("get {} `{SYSTEM_NAMESPACE}/{name}`", K::kind(&()));
    match list::retry_read(&action, || api.get_metadata(name)).await {
        Ok(m) => Ok(Some(m.metadata.labels.unwrap_or_default())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes a Job (as `kubectl delete job --ignore-not-found`) and waits until it is gone.
pub async fn delete_job(ctx: &mut Ctx, name: &str) -> Result<()> {
    let ar = ApiResource::erase::<Job>(&());
    if !ctx.delete(&ar, Some(SYSTEM_NAMESPACE), name).await? || ctx.dry_run {
        return Ok(());
    }
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    for _ in 0..120 {
        if list::get_opt(&jobs, name, &format!("get Job `{SYSTEM_NAMESPACE}/{name}`"))
            .await?
            .is_none()
        {
            return Ok(());
        }
        ctx.status(&format!("waiting for the old Job {name} to go"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(Error::Timeout {
        what: format!("the old Job {SYSTEM_NAMESPACE}/{name} to be deleted"),
        seconds: 60,
    })
}

/// Renders with helm template, applies the objects, and waits for the Job.
pub async fn render_apply_wait(ctx: &mut Ctx, args: Vec<String>, job: &str) -> Result<usize> {
    let text = ctx.helm_read(args).await?;
    let objects = parse_documents(&text, "the output of helm template")?;
    if !objects.iter().any(|o| {
        o.get("kind").and_then(Value::as_str) == Some("Job")
            && o.pointer("/metadata/name").and_then(Value::as_str) == Some(job)
    }) {
        return Err(Error::parse(
            "the output of helm template",
            format!(
                "it holds no Job {job}; is upgrade.enabled true in the values, and is the chart ks-core 1.1.x?"
            ),
        ));
    }
    for o in &objects {
        ctx.apply(o).await?;
    }
    ctx.wait_job(SYSTEM_NAMESPACE, job).await?;
    Ok(objects.len())
}

async fn prepare_upgrade(ctx: &mut Ctx) -> Result<String> {
    delete_job(ctx, "prepare-upgrade").await?;
    let args = prepare_template_args(&ctx.settings, &ctx.helm)?;
    let n = render_apply_wait(ctx, args, "prepare-upgrade").await?;
    Ok(format!(
        "{n} rendered objects applied; Job prepare-upgrade complete"
    ))
}

async fn apply_crds(ctx: &mut Ctx) -> Result<String> {
    let args = vec!["show".into(), "crds".into(), ctx.settings.chart.clone()];
    let text = ctx.helm_read(args).await?;
    let crds = parse_documents(&text, "the output of helm show crds")?;
    for c in &crds {
        if c.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
            return Err(Error::parse(
                "the output of helm show crds",
                format!("not a CustomResourceDefinition: {}", short(c)),
            ));
        }
        ctx.apply(c).await?;
    }
    Ok(format!("{} CRDs applied", crds.len()))
}

async fn upgrade_ks_core(ctx: &mut Ctx) -> Result<String> {
    let cc = kubesphere::cluster_configuration(&ctx.client).await?;
    let ha = cc
        .as_ref()
        .and_then(|c| kubesphere::field_str(c, &["status", "redis", "status"]))
        == Some("enabled");
    let redis_ha = cc
        .as_ref()
        .and_then(|c| field(c, &["spec", "common", "redis", "enableHA"]))
        .is_some_and(|v| v == &json!(true) || v == &json!("true"));
    let args = upgrade_args(&ctx.settings, &ctx.helm, ha, redis_ha)?;
    let shown = ctx.helm.show(&args);
    ctx.act(format!("run {shown}"));
    ctx.act("follow the hook Jobs ks-core-pre-upgrade and ks-core-post-upgrade");
    if ctx.dry_run {
        return Ok("helm upgrade would run".into());
    }
    let stderr_path = ctx.backup_dir.join("helm-upgrade.stderr");
    let running = ctx.helm.spawn(&args, &ctx.log, &stderr_path)?;
    // If ks-migrate dies now, helm goes on: a rerun waits for it (see `wait_for_orphaned_upgrade`).
    let pid_file = ctx.backup_dir.join(super::helm::UPGRADE_PID_FILE);
    if let Some(pid) = running.id() {
        backup::write_private(&pid_file, format!("{pid}\n").as_bytes())?;
    }
    let wait = running.wait();
    tokio::pin!(wait);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let mut seen: std::collections::BTreeMap<&str, String> = Default::default();
    let outcome = loop {
        tokio::select! {
            r = &mut wait => break r,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                let mut parts = Vec::new();
                for hook in ["ks-core-pre-upgrade", "ks-core-post-upgrade"] {
                    if let Ok(Some(j)) = list::get_opt(&jobs, hook, "get hook Job").await {
                        let s = match job_state(&j) {
                            JobState::Complete => "Complete".to_string(),
                            JobState::Failed(r) => format!("Failed ({r})"),
                            JobState::Running(s) => s,
                            JobState::Missing => continue,
                        };
                        if seen.get(hook) != Some(&s) {
                            ctx.log.line(&format!("hook Job {hook}: {s}"));
                            seen.insert(hook, s.clone());
                        }
                        parts.push(format!("{hook} {s}"));
                    }
                }
                let msg = if parts.is_empty() { "helm upgrade running".to_string() } else { parts.join("; ") };
                ctx.status(&msg);
            }
        }
    };
    let _ = std::fs::remove_file(&pid_file);
    // One last look at the hooks, for the report.
    for hook in ["ks-core-pre-upgrade", "ks-core-post-upgrade"] {
        if let Ok(Some(j)) = list::get_opt(&jobs, hook, "get hook Job").await {
            let s = match job_state(&j) {
                JobState::Complete => "Complete".to_string(),
                JobState::Failed(r) => format!("Failed ({r})"),
                JobState::Running(s) => s,
                JobState::Missing => continue,
            };
            ctx.note(format!("hook Job {hook}: {s}"));
        }
    }
    if let Err(Error::Command { command, reason }) = outcome {
        // helm stopped half-way (killed, OOM, a lost connection) leaves the release pending,
        // which blocks every later helm upgrade: say so, and how to clear it.
        let reason = match pending_ks_core(&ctx.client).await {
            Some(r) => {
                let advice = format!(
                    "it left Helm release ks-core revision {} {}: delete that revision, then rerun (kubectl -n {SYSTEM_NAMESPACE} delete secret {})",
                    r.revision, r.status, r.object
                );
                ctx.log.line(&advice);
                format!("{reason}; {advice}")
            }
            None => reason,
        };
        return Err(Error::Command { command, reason });
    }
    outcome?;
    Ok("helm upgrade finished".into())
}

/// The newest ks-core revision when it is `pending-*`.
async fn pending_ks_core(client: &kube::Client) -> Option<releases::Revision> {
    let revs =
        releases::list_revisions(client, Some(SYSTEM_NAMESPACE), Some(KS_CORE_RELEASE), false)
            .await
            .ok()?;
    releases::latest(&revs)
        .first()
        .filter(|r| r.is_pending())
        .map(|r| (*r).clone())
}

/// What the ks-core release says about v4.
#[derive(Debug, Clone)]
pub struct KsCoreV4 {
    /// The last deployed revision.
    pub revision: u32,
    /// Its chart version.
    pub chart: String,
    /// Its appVersion.
    pub app_version: String,
    /// True when the newest revision is that deployed one.
    pub latest_deployed: bool,
}

/// The last deployed ks-core revision when its appVersion is v4.x.
pub async fn ks_core_v4(client: &kube::Client) -> Result<Option<KsCoreV4>> {
    let revs =
        releases::list_revisions(client, Some(SYSTEM_NAMESPACE), Some(KS_CORE_RELEASE), false)
            .await?;
    let Some(dep) = releases::last_deployed(&revs, SYSTEM_NAMESPACE, KS_CORE_RELEASE) else {
        return Ok(None);
    };
    let release = releases::read_release(client, dep).await?;
    let app = release.chart.metadata.app_version.clone();
    if app.parse::<Version>().is_ok_and(|v| v.major >= 4) {
        let latest = releases::latest(&revs).first().map(|r| r.revision);
        Ok(Some(KsCoreV4 {
            revision: dep.revision,
            chart: release.chart.metadata.version,
            app_version: app,
            latest_deployed: latest == Some(dep.revision),
        }))
    } else {
        Ok(None)
    }
}

async fn verify(ctx: &mut Ctx) -> Result<String> {
    if ctx.dry_run {
        ctx.act("check that the newest ks-core revision is deployed with appVersion v4.x");
        return Ok("would verify".into());
    }
    match ks_core_v4(&ctx.client).await? {
        Some(v) if v.latest_deployed => Ok(format!(
            "ks-core revision {} deployed: chart ks-core-{}, appVersion {}",
            v.revision, v.chart, v.app_version
        )),
        _ => {
            let revs = releases::list_revisions(
                &ctx.client,
                Some(SYSTEM_NAMESPACE),
                Some(KS_CORE_RELEASE),
                false,
            )
            .await?;
            let latest = releases::latest(&revs)
                .first()
                .map(|r| format!("revision {} is {}", r.revision, r.status))
                .unwrap_or_else(|| "no revision".into());
            Err(Error::refused(
                format!("ks-core is not deployed at v4 after the upgrade ({latest})"),
                Some(
                    "check `helm -n kubesphere-system history ks-core` and the hook Jobs' logs"
                        .into(),
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_patches_follow_upstream() {
        let ips = "192.168.10.11,192.168.10.12";
        assert_eq!(
            etcd_patch(true, Some("localhost"), ips).unwrap(),
            json!([{"op": "replace", "path": "/spec/etcd/endpointIps", "value": ips}])
        );
        assert_eq!(
            etcd_patch(true, None, ips).unwrap(),
            json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": ips}])
        );
        assert_eq!(etcd_patch(true, Some(""), ips).unwrap()[0]["op"], "add");
        assert_eq!(
            etcd_patch(false, None, ips).unwrap()[0]["path"],
            "/spec/etcd"
        );
        assert!(etcd_patch(true, Some("10.0.0.1"), ips).is_none());
    }

    #[test]
    fn etcd_addresses_are_joined() {
        let ep: Endpoints = serde_json::from_value(json!({"metadata": {"name": "etcd"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 2379}]},
                        {"addresses": [{"ip": "10.0.0.3"}]}]}))
        .unwrap();
        assert_eq!(etcd_ips(&ep), "10.0.0.1,10.0.0.2,10.0.0.3");
        assert_eq!(etcd_ips(&Endpoints::default()), "");
    }

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

    fn settings(role: Role) -> Settings {
        Settings {
            chart: "charts/ks-core".into(),
            values: Some("ks-core-values.yaml".into()),
            registry: "docker.io".into(),
            extension_registry: None,
            tag: "v4.1.3".into(),
            role,
            helm_timeout: "30m".into(),
        }
    }

    #[test]
    fn helm_argument_vectors_are_upstreams() {
        let helm = Helm::new("helm".into(), &Default::default());
        let t = prepare_template_args(&settings(Role::Host), &helm)
            .unwrap()
            .join(" ");
        assert_eq!(
            t,
            "template -s templates/prepare-upgrade-job.yaml -n kubesphere-system --release-name \
             --set upgrade.prepare=true,upgrade.image.registry=docker.io,upgrade.image.tag=v4.1.3 \
             --set global.imageRegistry=docker.io,global.tag=v4.1.3 -f ks-core-values.yaml charts/ks-core --dry-run=server"
        );
        let u = upgrade_args(&settings(Role::Host), &helm, true, false)
            .unwrap()
            .join(" ");
        assert_eq!(
            u,
            "upgrade -n kubesphere-system ks-core charts/ks-core --debug --wait --timeout 30m \
             --set multicluster.role=host --set upgrade.image.registry=docker.io,upgrade.image.tag=v4.1.3 \
             --set global.imageRegistry=docker.io,global.tag=v4.1.3 --set ha.enabled=true \
             --set upgrade.config.validator.extensionsMuseum.enabled=true -f ks-core-values.yaml"
        );
        let mut s = settings(Role::Member);
        s.extension_registry = Some("r.example/ks".into());
        let u = upgrade_args(&s, &helm, false, true).unwrap().join(" ");
        assert!(u.contains("--set multicluster.role=member"));
        assert!(u.contains("--set extension.imageRegistry=r.example/ks"));
        assert!(u.contains("--set redisHA.enabled=true"));
        assert!(u.contains("extensionsMuseum.enabled=false"));
        s.values = None;
        assert!(upgrade_args(&s, &helm, false, false).is_err());
    }
}
