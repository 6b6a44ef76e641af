//! `kubectl ks-migrate rollback --backup-dir DIR`: undoes a host/member migration from the
//! backup it wrote.
//!
//! Before anything changes, the backup is checked: every file against the sha256 and object
//! count of `manifest.json`, and the cluster against the identity the manifest recorded (the
//! uid of namespace `kube-system`). Then, journaled in ConfigMap
//! `kubesphere-system/ks-migrate-rollback-journal` (and `rollback-journal.json` in the backup
//! directory) and under the migration's Lease, it restores the ClusterConfiguration's etcd
//! `endpointIps` and the redis objects the migration removed, runs `helm rollback ks-core` to
//! the revision deployed before the migration (detached and logged, as the upgrade was),
//! re-applies the IAM and tenant objects whose content differs from the backup, gives
//! ks-installer its replicas back and closes the migration's journal, so that a later
//! migration starts afresh. What it cannot undo safely is reported with the manual step for
//! each; the full rollback is the etcd snapshot taken before the migration.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Service},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::identity::{Identity, cluster_uid};
use super::{
    Args, StepReport, backup, confirm,
    ctx::{Ctx, Settings},
    go_duration,
    helm::{Helm, Log},
    journal::{self, FIELD_MANAGER, Journal, State},
    lease, local,
    progress::StepProgress,
    runner::absolute,
    step::Step,
    steps::{self, StepId},
    take_lease,
};
use crate::{
    ExitStatus,
    cli::OutputFormat,
    error::{Error, KubeResultExt, Result},
    helm as releases,
    kubesphere::{KS_CORE_RELEASE, Role, SYSTEM_NAMESPACE, cluster_configuration_resource},
    list,
    output::{Report, Style, table::Table},
    run::Printer,
    version::Version,
};

/// The rollback journal's ConfigMap.
pub const JOURNAL: &str = "ks-migrate-rollback-journal";
/// Its local copy in the backup directory.
pub const LOCAL_JOURNAL: &str = "rollback-journal.json";
/// The log in the backup directory.
pub const LOG: &str = "ks-migrate-rollback.log";
/// The pid of a `helm rollback` in flight.
pub const PID_FILE: &str = "helm-rollback.pid";
/// The backup file of the system namespace (ks-installer, redis).
const SYSTEM_FILE: &str = "backup-kubesphere-system.yaml";

/// The full rollback, as the kubeadm and Rancher guides give it.
pub const SNAPSHOT_DOCS: &[&str] = &[
    "https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/#recovering-from-a-failure-state",
    "https://kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/#restoring-an-etcd-cluster",
    "https://ranchermanager.docs.rancher.com/getting-started/installation-and-upgrade/install-upgrade-on-a-kubernetes-cluster/rollbacks",
    "https://docs.rke2.io/datastore/backup_restore",
];
/// Kubernetes' procedure to move a CRD's objects to another stored version.
pub const STORAGE_VERSION_DOCS: &str = "https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#upgrade-existing-objects-to-a-new-stored-version";

/// The rollback steps, in order: what v3 needs before its ks-core comes back (etcd, redis),
/// ks-core itself, then what v4's controllers may have rewritten (IAM, tenant), ks-installer
/// last (it reconciles the v3 install once it runs), and the migration journal closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackStep {
    /// The ClusterConfiguration's etcd `endpointIps` as saved.
    RestoreEtcdEndpoints,
    /// The redis objects the migration removed.
    RestoreRedis,
    /// `helm rollback ks-core`.
    RollbackKsCore,
    /// The IAM and tenant objects that differ from the backup.
    RestoreIamTenant,
    /// ks-installer's replicas.
    RestoreInstaller,
    /// The migration journal deleted.
    CloseMigrationJournal,
}

impl Step for RollbackStep {
    const ALL: &'static [Self] = &[
        Self::RestoreEtcdEndpoints,
        Self::RestoreRedis,
        Self::RollbackKsCore,
        Self::RestoreIamTenant,
        Self::RestoreInstaller,
        Self::CloseMigrationJournal,
    ];

    fn key(self) -> &'static str {
        match self {
            Self::RestoreEtcdEndpoints => "restore-etcd-endpoints",
            Self::RestoreRedis => "restore-redis",
            Self::RollbackKsCore => "rollback-ks-core",
            Self::RestoreIamTenant => "restore-iam-tenant",
            Self::RestoreInstaller => "restore-installer",
            Self::CloseMigrationJournal => "close-migration-journal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::RestoreEtcdEndpoints => {
                "Restore the etcd endpointIps of the ClusterConfiguration"
            }
            Self::RestoreRedis => "Restore the redis objects the migration removed",
            Self::RollbackKsCore => {
                "helm rollback ks-core to the revision deployed before the migration"
            }
            Self::RestoreIamTenant => "Re-apply the backed-up IAM and tenant objects that differ",
            Self::RestoreInstaller => "Restore ks-installer's replicas",
            Self::CloseMigrationJournal => {
                "Close the migration journal (its copy stays in the backup directory)"
            }
        }
    }

    fn destructive(self) -> bool {
        match self {
            Self::RollbackKsCore => true,
            Self::RestoreEtcdEndpoints
            | Self::RestoreRedis
            | Self::RestoreIamTenant
            | Self::RestoreInstaller
            | Self::CloseMigrationJournal => false,
        }
    }

    fn anchor(self) -> &'static str {
        "rollback"
    }
}

/// A backup directory, checked and read.
#[derive(Debug, Clone)]
pub struct Backup {
    /// The directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: backup::Manifest,
    /// The objects of each file.
    pub files: Vec<(String, Vec<Value>)>,
}

impl Backup {
    /// Verifies the checksums and reads the files; refuses (exit 1) on any mismatch.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(backup::MANIFEST);
        if !path.is_file() {
            return Err(Error::usage(format!(
                "`{}` is not a ks-migrate backup: it has no {}",
                dir.display(),
                backup::MANIFEST
            )));
        }
        let problems = backup::verify(dir)?;
        if !problems.is_empty() {
            return Err(Error::refused(
                format!(
                    "backup `{}` does not match its manifest ({}); nothing was changed",
                    dir.display(),
                    problems.join("; ")
                ),
                Some(
                    "a changed or damaged backup cannot be restored safely: use an intact copy of the directory"
                        .into(),
                ),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let manifest: backup::Manifest =
            serde_json::from_str(&text).map_err(|e| Error::parse(path.display().to_string(), e))?;
        let mut files = Vec::new();
        for f in &manifest.files {
            let p = dir.join(&f.file);
            let bytes = std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
            let list: Value = serde_saphyr::from_slice(&bytes)
                .map_err(|e| Error::parse(p.display().to_string(), e))?;
            let items = list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            files.push((f.file.clone(), items));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            files,
        })
    }

    /// The objects of one file.
    pub fn items(&self, file: &str) -> &[Value] {
        self.files
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, i)| i.as_slice())
            .unwrap_or_default()
    }

    /// A backed-up redis object: in the system namespace's file, or (the Service and the PVC)
    /// in [`backup::REDIS_FILE`].
    pub fn redis(&self, kind: &str, name: &str) -> Option<&Value> {
        self.find(SYSTEM_FILE, kind, name)
            .or_else(|| self.find(backup::REDIS_FILE, kind, name))
    }

    /// One object of a file, by kind and name.
    pub fn find(&self, file: &str, kind: &str, name: &str) -> Option<&Value> {
        self.items(file).iter().find(|o| {
            o.get("kind").and_then(Value::as_str) == Some(kind)
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
        })
    }

    /// The cluster identity, checked against the cluster's; refuses (exit 1) on another
    /// cluster or when the backup records none.
    pub fn check_cluster(&self, uid: &str) -> Result<&Identity> {
        let Some(id) = &self.manifest.identity else {
            return Err(Error::refused(
                format!(
                    "backup `{}` records no cluster identity (it was written by an older ks-migrate), so it cannot be told apart from another cluster's; nothing was changed",
                    self.dir.display()
                ),
                Some("restore the objects by hand (kubectl apply -f on the backup's files) or the etcd snapshot taken before the migration".into()),
            ));
        };
        if id.cluster_uid != uid {
            return Err(Error::refused(
                format!(
                    "backup `{}` was taken from another cluster (kube-system uid {}, this cluster's is {uid}; server then {}); nothing was changed",
                    self.dir.display(),
                    id.cluster_uid,
                    self.manifest.server
                ),
                Some("check --kubeconfig/--context, or pass the backup directory of this cluster's migration".into()),
            ));
        }
        Ok(id)
    }
}

/// One thing the rollback leaves, with its manual step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manual {
    /// What is left.
    pub what: String,
    /// Why it is not undone.
    pub why: String,
    /// The exact manual step.
    pub step: String,
}

/// The rollback's report (`-o json|yaml`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `Rollback`.
    pub kind: &'static str,
    /// Dry run?
    pub dry_run: bool,
    /// `rolled-back`, `already-rolled-back`, `not-migrated`, `planned`, `failed`.
    pub outcome: String,
    /// The backup directory.
    pub backup_dir: String,
    /// The ks-core revision it rolls back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_core_revision: Option<u32>,
    /// Steps.
    pub steps: Vec<StepReport>,
    /// What it cannot undo safely.
    pub cannot_undo: Vec<Manual>,
}

impl Report for Rollback {
    fn render_table(&self, out: &mut dyn Write, style: &Style, _wide: bool) -> std::io::Result<()> {
        let m = self.steps.len();
        for (i, s) in self.steps.iter().enumerate() {
            let state = match s.state.as_str() {
                "done" | "skipped" => style.good(&s.state),
                "failed" => style.bad(&s.state),
                other => style.warn(other),
            };
            let detail = if s.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", s.detail)
            };
            writeln!(out, "[{}/{m}] {} {}{detail}", i + 1, s.title, state)?;
            for a in &s.actions {
                writeln!(out, "      {a}")?;
            }
        }
        if !self.cannot_undo.is_empty() {
            writeln!(out)?;
            let mut t = Table::new(&["NOT UNDONE", "WHY"]);
            for c in &self.cannot_undo {
                t.row(vec![c.what.clone().into(), c.why.clone().into()]);
            }
            t.write(out)?;
            for c in &self.cannot_undo {
                writeln!(out, "  {}: {}", c.what, c.step)?;
            }
        }
        writeln!(out, "backup: {}", self.backup_dir)?;
        writeln!(out, "outcome: {}", self.outcome)
    }
}

fn print_output(printer: &mut Printer, format: &OutputFormat, report: &Rollback) -> Result<()> {
    let style = printer.out_style;
    crate::output::render(report, format, &style, printer.out())?;
    crate::run::flush(printer)
}

/// Reads the rollback journal (empty when there is none).
async fn read_journal(client: &kube::Client) -> Result<Journal> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let cm = list::get_opt(
        &api,
        JOURNAL,
        &format!("get ConfigMap `{SYSTEM_NAMESPACE}/{JOURNAL}`"),
    )
    .await?;
    Ok(cm
        .and_then(|c| c.data)
        .map(|d| Journal::from_data(&d).0)
        .unwrap_or_default())
}

/// Writes the rollback journal: the ConfigMap (replaced whole), then the local copy.
async fn save_journal(client: &kube::Client, j: &Journal, local: &Path) -> Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": JOURNAL,
            "namespace": SYSTEM_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
        },
        "data": j.to_data(),
    });
    api.patch(
        JOURNAL,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&cm),
    )
    .await
    .ctx(|| format!("write the rollback journal ConfigMap `{SYSTEM_NAMESPACE}/{JOURNAL}`"))?;
    journal::write_local(local, j)
}

/// The annotations the PV controller and the scheduler write on a claim as they bind it
/// (`AnnBindCompleted`, `AnnBoundByController`, `AnnSelectedNode`, `AnnStorageProvisioner` and its
/// beta form in
/// <https://github.com/kubernetes/kubernetes/blob/v1.30.0/pkg/controller/volume/persistentvolume/util/util.go>):
/// they describe the volume a claim had, not the claim.
pub const CLAIM_BIND_ANNOTATIONS: &[&str] = &[
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
];

/// An object as compared with its backup: no apiVersion (the served version may have moved),
/// no status, none of the fields the API server owns, nor those the cluster assigns when the
/// object is created or bound: a Service's `clusterIP`/`clusterIPs` (the address a deleted
/// Service had may be another's by now; a headless Service's `None` stays), a claim's
/// `volumeName` and [`CLAIM_BIND_ANNOTATIONS`] (the volume it had may be gone).
pub fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let core = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_none_or(|a| a == "v1");
    if let Some(o) = v.as_object_mut() {
        o.remove("apiVersion");
        o.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            m.remove(k);
        }
        if core && kind == "PersistentVolumeClaim" {
            if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
                for k in CLAIM_BIND_ANNOTATIONS {
                    a.remove(*k);
                }
            }
            if m.get("annotations")
                .and_then(Value::as_object)
                .is_some_and(|a| a.is_empty())
            {
                m.remove("annotations");
            }
        }
    }
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        match kind.as_str() {
            "Service" if core && spec.get("clusterIP") != Some(&json!("None")) => {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
            "PersistentVolumeClaim" if core => {
                spec.remove("volumeName");
            }
            _ => {}
        }
    }
    v
}

/// What is applied: the backup's object without resourceVersion, uid and the other
/// server-owned fields, at `api_version`.
pub fn to_apply(saved: &Value, api_version: &str) -> Value {
    let mut v = comparable(saved);
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), json!(api_version));
    }
    v
}

/// The difference between the live object and the backup's, as JSON patch operations (live →
/// backup), one per line.
pub fn diff_lines(live: &Value, saved: &Value) -> Vec<String> {
    let patch = json_patch::diff(&comparable(live), &comparable(saved));
    patch
        .0
        .iter()
        .map(|op| serde_json::to_string(op).unwrap_or_default())
        .collect()
}

/// The JSON patch that puts the ClusterConfiguration's `spec.etcd.endpointIps` back as the
/// backup has it, or `None` when it already is.
pub fn etcd_restore_patch(saved: &Value, live: &Value) -> Option<Value> {
    let s_etcd = saved.pointer("/spec/etcd");
    let l_etcd = live.pointer("/spec/etcd");
    let Some(s_etcd) = s_etcd else {
        return l_etcd.map(|_| json!([{"op": "remove", "path": "/spec/etcd"}]));
    };
    if l_etcd.is_none() {
        return Some(json!([{"op": "add", "path": "/spec/etcd", "value": s_etcd}]));
    }
    let s_ips = saved.pointer("/spec/etcd/endpointIps");
    let l_ips = live.pointer("/spec/etcd/endpointIps");
    if s_ips == l_ips {
        return None;
    }
    Some(match s_ips {
        None => json!([{"op": "remove", "path": "/spec/etcd/endpointIps"}]),
        Some(v) => json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": v}]),
    })
}

/// The API of a backed-up object's group and kind now: its own version when still served,
/// else the group's preferred one for that kind. `None` when the kind is not served.
async fn served(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
) -> Result<Option<(ApiResource, bool)>> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let g = match kube::discovery::group(client, group).await {
        Ok(g) => g,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
        Err(e) => return Err(Error::api(format!("discover API group `{group}`"), e)),
    };
    let mut found = None;
    for v in g.versions() {
        for (ar, caps) in g.versioned_resources(v) {
            if ar.kind == kind && !ar.plural.contains('/') {
                let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
                if v == version {
                    return Ok(Some((ar, namespaced)));
                }
                if found.is_none() {
                    found = Some((ar, namespaced));
                }
            }
        }
    }
    Ok(found)
}

/// Puts one backed-up object back when it is missing or differs (server-side apply, without
/// resourceVersion or uid); the diff is recorded. Returns true when it was (or would be)
/// applied.
async fn restore_object(ctx: &mut Ctx, saved: &Value) -> Result<bool> {
    let api_version = saved
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = saved
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = saved
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ns = saved.pointer("/metadata/namespace").and_then(Value::as_str);
    let what = steps::describe(kind, ns, name);
    let Some((ar, namespaced)) = served(&ctx.client, api_version, kind).await? else {
        ctx.note(format!(
            "{what}: {api_version} {kind} is no longer served, left as it is"
        ));
        return Ok(false);
    };
    let api: Api<DynamicObject> = match (namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(ctx.client.clone(), ns, &ar),
        _ => Api::all_with(ctx.client.clone(), &ar),
    };
    let live = match api.get(name).await {
        Ok(o) => Some(serde_json::to_value(&o).unwrap_or(Value::Null)),
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(e) => return Err(Error::api(format!("get {what}"), e)),
    };
    let want = to_apply(saved, &ar.api_version);
    match &live {
        Some(l) if comparable(l) == comparable(&want) => return Ok(false),
        Some(l) => {
            let lines = diff_lines(l, &want);
            ctx.note(format!(
                "{what} differs from the backup ({} change{}, live → backup):",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            ));
            for l in lines {
                ctx.note(format!("  {l}"));
            }
        }
        None => ctx.note(format!("{what} is missing")),
    }
    if ar.api_version != api_version {
        ctx.note(format!(
            "{what}: saved at {api_version}, applied at {} (the version served now)",
            ar.api_version
        ));
    }
    ctx.apply(&want).await?;
    Ok(true)
}

async fn restore_etcd(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let Some(saved) = b.find("backup-cc.yaml", "ClusterConfiguration", "ks-installer") else {
        return Ok(
            "the backup holds no ClusterConfiguration ks-installer: nothing to restore".into(),
        );
    };
    let Some(live) = crate::kubesphere::cluster_configuration(&ctx.client).await? else {
        return Ok("there is no ClusterConfiguration ks-installer now: nothing to restore".into());
    };
    let live = serde_json::to_value(&live).unwrap_or(Value::Null);
    let before = saved
        .pointer("/spec/etcd/endpointIps")
        .map(|v| v.to_string())
        .unwrap_or_else(|| "unset".into());
    let Some(patch) = etcd_restore_patch(saved, &live) else {
        return Ok(format!(
            "endpointIps already as before the migration ({before})"
        ));
    };
    ctx.json_patch(
        &cluster_configuration_resource(),
        Some(SYSTEM_NAMESPACE),
        "ks-installer",
        patch,
    )
    .await?;
    Ok(format!("endpointIps restored ({before})"))
}

/// What becomes of the volume a backed-up claim was bound to when the claim is recreated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumePlan {
    /// The volume is kept (reclaim policy `Retain`), `Released` and still names the deleted
    /// claim, or is already reserved for its name: the recreated claim names it again and gets
    /// its data back. `clear_uid`: its `claimRef` still holds the deleted claim's uid, which must
    /// go first (a volume names the one claim it may bind:
    /// <https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reserving-a-persistentvolume>).
    Rebind {
        /// The volume.
        volume: String,
        /// Remove `claimRef.uid` (and `claimRef.resourceVersion`) first.
        clear_uid: bool,
    },
    /// The claim comes back new, with a new, empty volume; why.
    New(String),
}

/// Decides, from the backed-up claim and its volume as it is now (`None`: gone), whether the
/// recreated claim may bind that volume again. Only the very volume the claim had, kept by
/// reclaim policy `Retain` and naming no other claim, is taken back.
pub fn volume_plan(saved: &Value, pv: Option<&Value>) -> VolumePlan {
    fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
        v.pointer(p).and_then(Value::as_str).unwrap_or_default()
    }
    let volume = str_at(saved, "/spec/volumeName").to_string();
    if volume.is_empty() {
        return VolumePlan::New("it was not bound when the backup was taken".into());
    }
    let Some(pv) = pv else {
        return VolumePlan::New(format!(
            "its volume {volume} is gone (under reclaim policy Delete a volume is deleted with its claim)"
        ));
    };
    let policy = str_at(pv, "/spec/persistentVolumeReclaimPolicy");
    let phase = str_at(pv, "/status/phase");
    let (ns, name, uid) = (
        str_at(pv, "/spec/claimRef/namespace"),
        str_at(pv, "/spec/claimRef/name"),
        str_at(pv, "/spec/claimRef/uid"),
    );
    let ours = ns == str_at(saved, "/metadata/namespace")
        && name == str_at(saved, "/metadata/name")
        && (uid.is_empty() || uid == str_at(saved, "/metadata/uid"));
    if pv.pointer("/metadata/deletionTimestamp").is_some() {
        return VolumePlan::New(format!("its volume {volume} is being deleted"));
    }
    if policy != "Retain" {
        return VolumePlan::New(format!(
            "its volume {volume} has reclaim policy {policy}, not Retain"
        ));
    }
    if !ours || !matches!(phase, "Released" | "Available") {
        let holder = if name.is_empty() {
            "no claim".to_string()
        } else {
            format!("claim {ns}/{name}")
        };
        return VolumePlan::New(format!(
            "its volume {volume} is {phase} and names {holder}: it is not taken back"
        ));
    }
    VolumePlan::Rebind {
        volume,
        clear_uid: !uid.is_empty(),
    }
}

/// Recreates a backed-up claim that is missing: bound to its old volume again when
/// [`volume_plan`] allows, else new (and empty), which the notes say. A claim that exists is
/// compared and re-applied like any object.
async fn restore_claim(ctx: &mut Ctx, saved: &Value) -> Result<bool> {
    let ns = saved
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(SYSTEM_NAMESPACE);
    let name = saved
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let what = steps::describe("PersistentVolumeClaim", Some(ns), name);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    if list::get_opt(&claims, name, &format!("get {what}"))
        .await?
        .is_some()
    {
        return restore_object(ctx, saved).await;
    }
    let volume = saved
        .pointer("/spec/volumeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pv = if volume.is_empty() {
        None
    } else {
        let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
        list::get_opt(&pvs, volume, &format!("get PersistentVolume `{volume}`"))
            .await?
            .map(|p| serde_json::to_value(&p).unwrap_or(Value::Null))
    };
    ctx.note(format!("{what} is missing"));
    let mut want = to_apply(saved, "v1");
    match volume_plan(saved, pv.as_ref()) {
        VolumePlan::Rebind { volume, clear_uid } => {
            if clear_uid {
                let uid = pv
                    .as_ref()
                    .and_then(|p| p.pointer("/spec/claimRef/uid"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut ops = vec![
                    json!({"op": "test", "path": "/spec/claimRef/uid", "value": uid}),
                    json!({"op": "remove", "path": "/spec/claimRef/uid"}),
                ];
                if pv
                    .as_ref()
                    .and_then(|p| p.pointer("/spec/claimRef/resourceVersion"))
                    .is_some()
                {
                    ops.push(json!({"op": "remove", "path": "/spec/claimRef/resourceVersion"}));
                }
                ctx.json_patch(
                    &ApiResource::erase::<PersistentVolume>(&()),
                    None,
                    &volume,
                    Value::Array(ops),
                )
                .await?;
            }
            ctx.note(format!(
                "{what}: its volume {volume} (reclaim policy Retain) was kept and still names it: reserved for it again, the claim binds it with the data it held"
            ));
            want["spec"]["volumeName"] = json!(volume);
        }
        VolumePlan::New(why) => ctx.note(format!(
            "{what}: {why}; it comes back as a new claim with a new, empty volume: the data it held is lost"
        )),
    }
    ctx.apply(&want).await?;
    Ok(true)
}

async fn restore_redis(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let mut restored = 0;
    let mut absent = Vec::new();
    for (kind, name) in steps::REDIS_OBJECTS {
        let Some(saved) = b.redis(kind, name) else {
            absent.push(format!("{kind} {name}"));
            continue;
        };
        let applied = match *kind {
            "PersistentVolumeClaim" => restore_claim(ctx, saved).await?,
            "Service" => {
                let ip = saved
                    .pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .filter(|ip| !ip.is_empty() && *ip != "None")
                    .map(String::from);
                let applied = restore_object(ctx, saved).await?;
                if let Some(ip) = ip.filter(|_| applied) {
                    ctx.note(format!(
                        "{}: applied without its old clusterIP {ip}, which may be another Service's by now; the cluster assigns one, and clients reach it by name ({name}.{SYSTEM_NAMESPACE}.svc)",
                        steps::describe(kind, Some(SYSTEM_NAMESPACE), name)
                    ));
                }
                applied
            }
            _ => restore_object(ctx, saved).await?,
        };
        restored += usize::from(applied);
    }
    if !absent.is_empty() {
        ctx.note(format!("not in the backup: {}", absent.join(", ")));
    }
    Ok(if restored == 0 {
        "the backed-up redis objects are in place".into()
    } else {
        format!("{restored} redis objects restored")
    })
}

async fn restore_installer(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let Some(saved) = b.find(SYSTEM_FILE, "Deployment", "ks-installer") else {
        return Ok("the backup holds no Deployment ks-installer: nothing to restore".into());
    };
    let want = saved
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let Some(d) = list::get_opt(
        &api,
        "ks-installer",
        "get Deployment `kubesphere-system/ks-installer`",
    )
    .await?
    else {
        return Ok("there is no Deployment ks-installer now: nothing to scale".into());
    };
    if d.spec.as_ref().and_then(|s| s.replicas).map(i64::from) == Some(want) {
        return Ok(format!("ks-installer already has {want} replicas"));
    }
    ctx.merge_patch(
        &ApiResource::erase::<Deployment>(&()),
        Some(SYSTEM_NAMESPACE),
        "ks-installer",
        json!({"spec": {"replicas": want}}),
    )
    .await?;
    Ok(format!("ks-installer scaled back to {want}"))
}

/// The IAM and tenant files of a backup.
fn iam_tenant_file(file: &str) -> bool {
    file.starts_with("backup-iam-") || file.starts_with("backup-tenant-")
}

async fn restore_iam_tenant(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let mut applied = 0;
    let mut total = 0;
    for (file, items) in b.files.iter().filter(|(f, _)| iam_tenant_file(f)) {
        ctx.status(&format!("comparing {file}"));
        for o in items {
            total += 1;
            applied += usize::from(restore_object(ctx, o).await?);
        }
    }
    Ok(format!(
        "{applied} of {total} IAM and tenant objects differed and {}",
        if ctx.dry_run {
            "would be re-applied"
        } else {
            "were re-applied"
        }
    ))
}

/// The newest ks-core revision when it is deployed with a pre-v4 appVersion.
async fn ks_core_v3(client: &kube::Client) -> Result<Option<(u32, String, String)>> {
    let revs =
        releases::list_revisions(client, Some(SYSTEM_NAMESPACE), Some(KS_CORE_RELEASE), false)
            .await?;
    let Some(latest) = releases::latest(&revs).first().copied() else {
        return Ok(None);
    };
    if latest.status != "deployed" {
        return Ok(None);
    }
    let r = releases::read_release(client, latest).await?;
    let app = r.chart.metadata.app_version.clone();
    if app.parse::<Version>().is_ok_and(|v| v.major < 4) {
        Ok(Some((
            latest.revision,
            format!("{}-{}", r.chart.metadata.name, r.chart.metadata.version),
            app,
        )))
    } else {
        Ok(None)
    }
}

/// True while `pid` is a `helm rollback` of `release` (Linux; elsewhere never).
fn rollback_in_flight(pid: u32, release: &str) -> bool {
    let Ok(bytes) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    argv.iter().any(|a| a == "rollback") && argv.iter().any(|a| a == release)
}

async fn rollback_ks_core(ctx: &mut Ctx, b: &Backup, timeout: Duration) -> Result<String> {
    let id = b.manifest.identity.clone();
    let Some(target) = id.as_ref().and_then(|i| i.ks_core_revision) else {
        return Err(Error::refused(
            "the backup records no ks-core revision deployed before the migration",
            Some("roll back by hand: helm -n kubesphere-system history ks-core, then helm -n kubesphere-system rollback ks-core REVISION --wait".into()),
        ));
    };
    // A helm rollback left running by a killed run: wait for it.
    let pid_file = b.dir.join(PID_FILE);
    if !ctx.dry_run
        && let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
    {
        if rollback_in_flight(pid, KS_CORE_RELEASE) {
            ctx.note(format!(
                "waiting for the helm rollback an interrupted run started (pid {pid}) to finish (up to {}s)",
                timeout.as_secs()
            ));
        }
        let start = std::time::Instant::now();
        while rollback_in_flight(pid, KS_CORE_RELEASE) && start.elapsed() < timeout {
            ctx.status(&format!(
                "the helm rollback started by an interrupted run (pid {pid}) is still running"
            ));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let _ = std::fs::remove_file(&pid_file);
    }
    if let Some((rev, chart, app)) = ks_core_v3(&ctx.client).await? {
        return Ok(format!(
            "ks-core revision {rev} is deployed with chart {chart}, appVersion {app}: already rolled back"
        ));
    }
    let revs = releases::list_revisions(
        &ctx.client,
        Some(SYSTEM_NAMESPACE),
        Some(KS_CORE_RELEASE),
        false,
    )
    .await?;
    if let Some(p) = releases::latest(&revs).first().filter(|r| r.is_pending()) {
        return Err(Error::refused(
            format!(
                "Helm release ks-core revision {} is {}: helm cannot roll back over it",
                p.revision, p.status
            ),
            Some(format!(
                "once no helm runs against ks-core, delete that revision (kubectl -n {SYSTEM_NAMESPACE} delete secret {}), then rerun",
                p.object
            )),
        ));
    }
    let args = ctx.helm.with_conn(vec![
        "rollback".into(),
        KS_CORE_RELEASE.into(),
        target.to_string(),
        "-n".into(),
        SYSTEM_NAMESPACE.into(),
        "--wait".into(),
        "--timeout".into(),
        ctx.settings.helm_timeout.clone(),
    ]);
    let shown = ctx.helm.show(&args);
    ctx.act(format!("run {shown}"));
    if ctx.dry_run {
        return Ok(format!("helm rollback to revision {target} would run"));
    }
    let running = ctx
        .helm
        .spawn(&args, &ctx.log, &b.dir.join("helm-rollback.stderr"))?;
    if let Some(pid) = running.id() {
        local::write_private(&pid_file, format!("{pid}\n").as_bytes())?;
    }
    let wait = running.wait();
    tokio::pin!(wait);
    let outcome = loop {
        tokio::select! {
            r = &mut wait => break r,
            _ = tokio::time::sleep(Duration::from_secs(2)) => ctx.status("helm rollback running"),
        }
    };
    let _ = std::fs::remove_file(&pid_file);
    outcome?;
    match ks_core_v3(&ctx.client).await? {
        Some((rev, chart, app)) => Ok(format!(
            "ks-core rolled back to revision {target}'s chart: revision {rev} deployed with chart {chart}, appVersion {app}"
        )),
        None => Err(Error::refused(
            "helm rollback finished but ks-core's newest revision is not deployed before v4",
            Some("check `helm -n kubesphere-system history ks-core`".into()),
        )),
    }
}

async fn close_migration_journal(ctx: &mut Ctx) -> Result<String> {
    let ar = ApiResource::erase::<ConfigMap>(&());
    if ctx.dry_run {
        ctx.act(format!(
            "delete ConfigMap {SYSTEM_NAMESPACE}/{} (a later migration starts afresh)",
            journal::NAME
        ));
        return Ok("would close".into());
    }
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), SYSTEM_NAMESPACE, &ar);
    match api.delete(journal::NAME, &DeleteParams::background()).await {
        Ok(_) => {
            ctx.act(format!(
                "delete ConfigMap {SYSTEM_NAMESPACE}/{} (a later migration starts afresh)",
                journal::NAME
            ));
            Ok("migration journal closed".into())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok("migration journal already closed".into()),
        Err(e) => Err(Error::api(
            format!("delete ConfigMap `{SYSTEM_NAMESPACE}/{}`", journal::NAME),
            e,
        )),
    }
}

async fn run_step(
    step: RollbackStep,
    ctx: &mut Ctx,
    b: &Backup,
    timeout: Duration,
) -> Result<String> {
    match step {
        RollbackStep::RestoreEtcdEndpoints => restore_etcd(ctx, b).await,
        RollbackStep::RestoreRedis => restore_redis(ctx, b).await,
        RollbackStep::RollbackKsCore => rollback_ks_core(ctx, b, timeout).await,
        RollbackStep::RestoreIamTenant => restore_iam_tenant(ctx, b).await,
        RollbackStep::RestoreInstaller => restore_installer(ctx, b).await,
        RollbackStep::CloseMigrationJournal => close_migration_journal(ctx).await,
    }
}

fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// What the rollback leaves, each with its manual step.
pub async fn cannot_undo(client: &kube::Client, b: &Backup) -> Result<Vec<Manual>> {
    let mut out = Vec::new();
    // CRDs: the migration's chart moved storage versions and added v4 kinds; helm never
    // rolls back CRDs.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let taken = parse_time(&b.manifest.created_at);
    let mut saved_versions: std::collections::BTreeMap<(String, String), String> =
        Default::default();
    for (_, items) in &b.files {
        for o in items {
            let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            if let Some((g, v)) = av.split_once('/')
                && g.ends_with("kubesphere.io")
            {
                saved_versions.insert((g.to_string(), kind.to_string()), v.to_string());
            }
        }
    }
    for crd in list::list_all(
        &crds,
        &ListParams::default(),
        "list CustomResourceDefinitions",
    )
    .await?
    {
        let name = crd.metadata.name.clone().unwrap_or_default();
        if !crd.spec.group.ends_with("kubesphere.io") {
            continue;
        }
        let created = crd
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| jiff::Timestamp::from_second(t.0.as_second()).unwrap_or_default());
        if let (Some(c), Some(t)) = (created, taken)
            && c >= t
        {
            out.push(Manual {
                what: format!("CRD {name}"),
                why: "added by the migration (a v4 kind); v3 does not use it".into(),
                step: format!(
                    "once nothing needs its objects: kubectl delete crd {name} (this deletes every {} object)",
                    crd.spec.names.kind
                ),
            });
            continue;
        }
        let storage = crd
            .spec
            .versions
            .iter()
            .find(|v| v.storage)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        if let Some(v3) = saved_versions.get(&(crd.spec.group.clone(), crd.spec.names.kind.clone()))
            && *v3 != storage
        {
            out.push(Manual {
                what: format!("CRD {name}"),
                why: format!(
                    "stores its objects at {storage} since the migration; v3 reads {v3}, and helm never rolls CRDs back"
                ),
                step: format!(
                    "make {v3} served and the storage version again (kubectl edit crd {name}: versions {v3} served: true, storage: true; {storage} storage: false), rewrite every object (kubectl get {plural}.{group} -A -o json | kubectl replace -f -), then kubectl patch crd {name} --subresource=status --type=merge -p '{{\"status\":{{\"storedVersions\":[\"{v3}\"]}}}}' ({STORAGE_VERSION_DOCS})",
                    plural = crd.spec.names.plural,
                    group = crd.spec.group,
                ),
            });
        }
    }
    // The extensions ks-upgrade installed, with the v3 data moved into them.
    let ip = ApiResource {
        group: "kubesphere.io".into(),
        version: "v1alpha1".into(),
        api_version: "kubesphere.io/v1alpha1".into(),
        kind: "InstallPlan".into(),
        plural: "installplans".into(),
    };
    let ips: Api<DynamicObject> = Api::all_with(client.clone(), &ip);
    if let Ok(list) = ips.list(&ListParams::default()).await {
        for p in list.items {
            let name = p.metadata.name.unwrap_or_default();
            out.push(Manual {
                what: format!("extension {name}"),
                why: "installed by the migration's ks-upgrade Jobs, holding the data they moved from v3; removing it deletes that data".into(),
                step: format!(
                    "after saving what you need from it: kubectl delete installplan.kubesphere.io {name} (uninstalls the extension)"
                ),
            });
        }
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    if list::get_opt(
        &pvcs,
        "ks-upgrade",
        "get PVC `kubesphere-system/ks-upgrade`",
    )
    .await?
    .is_some()
    {
        out.push(Manual {
            what: "PVC kubesphere-system/ks-upgrade".into(),
            why: "holds the v3 data ks-upgrade exported for the extensions".into(),
            step: "keep it until the v3 cluster is checked, then: kubectl -n kubesphere-system delete pvc ks-upgrade".into(),
        });
    }
    // The redis objects a backup of an older ks-migrate (without backup-redis.yaml) lacks.
    let has_redis_file = b
        .manifest
        .files
        .iter()
        .any(|f| f.file == backup::REDIS_FILE);
    for (kind, name) in steps::REDIS_OBJECTS {
        if has_redis_file || b.redis(kind, name).is_some() {
            continue;
        }
        let gone = match *kind {
            "Service" => {
                let api: Api<Service> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
                list::get_opt(&api, name, "get Service `kubesphere-system/redis`")
                    .await?
                    .is_none()
            }
            "PersistentVolumeClaim" => {
                list::get_opt(&pvcs, name, "get PVC `kubesphere-system/redis-pvc`")
                    .await?
                    .is_none()
            }
            _ => false,
        };
        if gone {
            let lower = kind.to_ascii_lowercase();
            out.push(Manual {
                what: format!("{kind} kubesphere-system/{name}"),
                why: format!(
                    "removed by the migration and not in this backup (an older ks-migrate did not write {}; a PVC's data went with it)",
                    backup::REDIS_FILE
                ),
                step: format!(
                    "recreate it from your v3.4 install's redis manifest (kubectl -n kubesphere-system apply -f redis-{lower}.yaml), or restore the etcd snapshot"
                ),
            });
        }
    }
    // The data of a backed-up claim whose volume went with it.
    for (kind, name) in steps::REDIS_OBJECTS {
        let Some(saved) = b
            .redis(kind, name)
            .filter(|_| *kind == "PersistentVolumeClaim")
        else {
            continue;
        };
        let volume = saved
            .pointer("/spec/volumeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        if volume.is_empty()
            || list::get_opt(&pvs, volume, &format!("get PersistentVolume `{volume}`"))
                .await?
                .is_some()
        {
            continue;
        }
        out.push(Manual {
            what: format!("the data of PVC kubesphere-system/{name}"),
            why: format!(
                "its volume {volume} is gone (under reclaim policy Delete a volume is deleted with its claim); the claim is restored with a new, empty volume"
            ),
            step: format!(
                "restore the volume's data from a backup of it, if there is one (an etcd snapshot holds no volume data); {name} holds redis' data, which KubeSphere uses as its cache"
            ),
        });
    }
    out.push(Manual {
        what: "everything above at once".into(),
        why: "the only complete rollback is the cluster's state before the migration".into(),
        step: format!(
            "restore the etcd snapshot taken before the migration, as the kubeadm and Rancher upgrade guides do: {}",
            SNAPSHOT_DOCS.join(" ; ")
        ),
    });
    Ok(out)
}

/// `kubectl ks-migrate rollback --backup-dir DIR`.
pub(super) async fn run(args: Args, mut printer: Printer) -> Result<ExitStatus> {
    let opts = args.opts.clone();
    let Some(dir) = opts.backup_dir.clone() else {
        return Err(Error::usage(
            "rollback needs --backup-dir DIR: the directory the migration wrote (ks-migrate-backup-<timestamp>)",
        ));
    };
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "backup directory `{}` does not exist",
            dir.display()
        )));
    }
    // The backup is checked before anything else, then the cluster against it.
    let backup = Backup::load(&dir)?;
    let cluster = crate::client::connect(&args.kube).await?;
    for w in &cluster.warnings {
        printer.warn(w);
    }
    let uid = cluster_uid(&cluster.client).await?;
    backup.check_cluster(&uid)?;
    let lease = take_lease(&cluster.client, "rollback", opts.dry_run, &mut printer).await?;
    let lost = lease.as_ref().map(lease::Guard::lost_flag);
    let outcome = held(args, printer, cluster, backup, lost).await;
    if let Some(l) = lease {
        l.release().await;
    }
    outcome
}

async fn held(
    args: Args,
    mut printer: Printer,
    cluster: crate::client::Cluster,
    backup: Backup,
    lease_lost: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<ExitStatus> {
    let opts = args.opts.clone();
    let client = cluster.client.clone();
    let abs = absolute(&backup.dir);
    let mut report = Rollback {
        api_version: "kupgrade.dev/v1alpha1",
        kind: "Rollback",
        dry_run: opts.dry_run,
        outcome: String::new(),
        backup_dir: abs.clone(),
        ks_core_revision: backup
            .manifest
            .identity
            .as_ref()
            .and_then(|i| i.ks_core_revision),
        steps: Vec::new(),
        cannot_undo: Vec::new(),
    };
    let keys: Vec<&str> = RollbackStep::ALL.iter().map(|s| s.key()).collect();
    let (mig, _) = journal::read(&client).await?;
    let mut rj = read_journal(&client).await?;
    let started = keys.iter().any(|k| rj.steps.contains_key(*k));
    let changed = StepId::ALL
        .iter()
        .filter(|s| **s != StepId::Backup)
        .any(|s| mig.steps.contains_key(s.key()))
        || steps::ks_core_v4(&client).await?.is_some();
    let done = rj.all_done(keys.iter().copied());
    if started && !done && rj.run.backup_dir != abs {
        return Err(Error::refused(
            format!(
                "a rollback from another backup ({}) is in progress",
                rj.run.backup_dir
            ),
            Some(format!(
                "finish it: kubectl ks-migrate rollback --backup-dir {}",
                rj.run.backup_dir
            )),
        ));
    }
    if !changed && (!started || done) {
        let (outcome, msg) = if done {
            (
                "already-rolled-back",
                format!(
                    "already rolled back (from {} at {}); nothing to do",
                    rj.run.backup_dir,
                    rj.steps
                        .get(RollbackStep::CloseMigrationJournal.key())
                        .map(|e| e.at.as_str())
                        .unwrap_or("?")
                ),
            )
        } else {
            (
                "not-migrated",
                "this cluster is not migrated (no migration step changed it, ks-core is not on v4); nothing to roll back".to_string(),
            )
        };
        printer.note(&msg);
        report.outcome = outcome.into();
        print_output(&mut printer, &opts.output, &report)?;
        return Ok(ExitStatus::Success);
    }
    if started && !done {
        printer.note(&format!(
            "resuming the rollback recorded in ConfigMap {SYSTEM_NAMESPACE}/{JOURNAL} ({})",
            journal::describe(&rj, &RollbackStep::keys())
        ));
    } else {
        rj = Journal::default();
        rj.run.role = "rollback".into();
        rj.run.backup_dir = abs.clone();
        rj.run.started_at = local::now();
    }

    let helm = Helm::new(Helm::locate(opts.helm.as_deref())?, &args.kube);
    let id = backup.manifest.identity.clone();
    let mut lines = vec![format!(
        "This rolls the cluster at {} back from the backup {abs} (taken {}), ks-core to revision {} ({} {}):",
        cluster.server,
        backup.manifest.created_at,
        id.as_ref()
            .and_then(|i| i.ks_core_revision)
            .map_or("?".into(), |r| r.to_string()),
        id.as_ref()
            .and_then(|i| i.ks_core_chart.clone())
            .unwrap_or_default(),
        id.as_ref()
            .and_then(|i| i.ks_core_app_version.clone())
            .unwrap_or_default(),
    )];
    for (i, s) in RollbackStep::ALL.iter().enumerate() {
        lines.push(format!(
            "  {}. {}{}",
            i + 1,
            s.title(),
            if rj.state(s.key()) == Some(State::Done) {
                " — already done"
            } else {
                ""
            }
        ));
    }
    confirm(&mut printer, &opts, &lines).await?;

    let log = if opts.dry_run {
        Log::default()
    } else {
        Log::open(&backup.dir.join(LOG))?
    };
    log.line(&format!(
        "kubectl ks-migrate rollback --backup-dir {abs} against {} (ks-migrate {})",
        cluster.server,
        crate::VERSION
    ));
    let local = backup.dir.join(LOCAL_JOURNAL);
    let mut ctx = Ctx {
        client: client.clone(),
        helm,
        log,
        dry_run: opts.dry_run,
        settings: Settings {
            chart: String::new(),
            values: None,
            registry: opts.image_registry.clone(),
            extension_registry: opts.extension_image_registry.clone(),
            tag: opts.tag.clone(),
            role: Role::Host,
            helm_timeout: go_duration(opts.timeout),
        },
        job_timeout: opts.job_timeout,
        backup_dir: backup.dir.clone(),
        server: cluster.server.clone(),
        printer,
        progress: StepProgress::new(),
        actions: Vec::new(),
        lease_lost,
    };
    let m = RollbackStep::ALL.len();
    let mut failure = None;
    for (i, &s) in RollbackStep::ALL.iter().enumerate() {
        let n = i + 1;
        let mut entry = StepReport {
            id: s.key().into(),
            title: s.title().into(),
            destructive: s.destructive(),
            state: String::new(),
            detail: String::new(),
            actions: Vec::new(),
        };
        if failure.is_some() {
            entry.state = "pending".into();
            report.steps.push(entry);
            continue;
        }
        if let Some(e) = rj.steps.get(s.key()).filter(|e| e.state == State::Done) {
            entry.state = "skipped".into();
            entry.detail = format!("done by an earlier run at {}: {}", e.at, e.detail);
            ctx.printer.note(&format!(
                "[{n}/{m}] {} — already done ({})",
                s.title(),
                e.at
            ));
            report.steps.push(entry);
            continue;
        }
        if ctx
            .lease_lost
            .as_ref()
            .is_some_and(|l| l.load(std::sync::atomic::Ordering::SeqCst))
        {
            failure = Some(Error::refused(
                format!(
                    "lost Lease {SYSTEM_NAMESPACE}/{}: stopped before step {n}/{m} ({})",
                    lease::NAME,
                    s.key()
                ),
                Some("once no other run holds it, rerun the same command to resume".into()),
            ));
            entry.state = "pending".into();
            report.steps.push(entry);
            continue;
        }
        ctx.progress.start(&mut ctx.printer, n, m, s.title());
        ctx.actions.clear();
        ctx.log.line(&format!("step {n}/{m} {}: start", s.key()));
        if !opts.dry_run {
            rj.set(s.key(), State::Running, "");
            save_journal(&client, &rj, &local).await?;
        }
        let outcome = run_step(s, &mut ctx, &backup, opts.timeout).await;
        entry.actions = std::mem::take(&mut ctx.actions);
        match outcome {
            Ok(detail) => {
                ctx.log
                    .line(&format!("step {n}/{m} {}: done: {detail}", s.key()));
                if !opts.dry_run {
                    rj.set(s.key(), State::Done, detail.clone());
                    save_journal(&client, &rj, &local).await?;
                }
                let line = format!(
                    "[{n}/{m}] {} — {}",
                    s.title(),
                    if opts.dry_run { "planned" } else { &detail }
                );
                ctx.progress.finish(&mut ctx.printer, &line);
                entry.state = if opts.dry_run { "planned" } else { "done" }.into();
                // A dry run's outcome lines describe what did not happen; its actions say it all.
                if !opts.dry_run || detail.contains("would ") {
                    entry.detail = detail;
                }
            }
            Err(e) => {
                ctx.log
                    .line(&format!("step {n}/{m} {}: failed: {e}", s.key()));
                if !opts.dry_run {
                    rj.set(s.key(), State::Failed, e.to_string());
                    if let Err(save) = save_journal(&client, &rj, &local).await {
                        ctx.printer
                            .warn(&format!("cannot record the failure in the journal: {save}"));
                    }
                }
                ctx.progress.finish(
                    &mut ctx.printer,
                    &format!("[{n}/{m}] {} — FAILED", s.title()),
                );
                entry.state = "failed".into();
                entry.detail = e.to_string();
                failure = Some(e);
            }
        }
        report.steps.push(entry);
    }
    let mut printer = ctx.printer;
    report.cannot_undo = cannot_undo(&client, &backup).await?;
    report.outcome = match (&failure, opts.dry_run) {
        (None, true) => "planned",
        (None, false) => "rolled-back",
        (Some(_), _) => "failed",
    }
    .into();
    print_output(&mut printer, &opts.output, &report)?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_goes_back_as_it_was() {
        let cc = |etcd: Value| json!({"spec": {"common": {}, "etcd": etcd}});
        let filled = cc(json!({"monitoring": false, "endpointIps": "10.0.0.1"}));
        // Was localhost: replaced back.
        let was = cc(json!({"monitoring": false, "endpointIps": "localhost"}));
        assert_eq!(
            etcd_restore_patch(&was, &filled),
            Some(json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": "localhost"}]))
        );
        // Was unset: removed.
        let unset = cc(json!({"monitoring": false}));
        assert_eq!(
            etcd_restore_patch(&unset, &filled),
            Some(json!([{"op": "remove", "path": "/spec/etcd/endpointIps"}]))
        );
        // No spec.etcd at all before.
        let none = json!({"spec": {"common": {}}});
        assert_eq!(
            etcd_restore_patch(&none, &filled),
            Some(json!([{"op": "remove", "path": "/spec/etcd"}]))
        );
        assert_eq!(etcd_restore_patch(&none, &none), None);
        // Already as before.
        assert_eq!(etcd_restore_patch(&filled, &filled), None);
        assert_eq!(etcd_restore_patch(&was, &was), None);
    }

    #[test]
    fn objects_compare_without_server_fields_and_apply_without_identity() {
        let saved = json!({"apiVersion": "iam.kubesphere.io/v1alpha2", "kind": "GlobalRole",
            "metadata": {"name": "admin", "uid": "u1", "resourceVersion": "7", "creationTimestamp": "t", "labels": {"a": "b"}},
            "rules": [{"verbs": ["*"]}], "status": {"x": 1}});
        let live = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "GlobalRole",
            "metadata": {"name": "admin", "uid": "u2", "resourceVersion": "9", "generation": 2, "managedFields": [], "labels": {"a": "b"}},
            "rules": [{"verbs": ["get"]}]});
        let want = to_apply(&saved, "iam.kubesphere.io/v1beta1");
        assert_eq!(want["apiVersion"], "iam.kubesphere.io/v1beta1");
        assert!(want["metadata"].get("uid").is_none());
        assert!(want["metadata"].get("resourceVersion").is_none());
        assert!(want.get("status").is_none());
        let d = diff_lines(&live, &want);
        assert_eq!(
            d,
            [r#"{"op":"replace","path":"/rules/0/verbs/0","value":"*"}"#]
        );
        let mut same = live.clone();
        same["rules"] = json!([{"verbs": ["*"]}]);
        assert_eq!(comparable(&same), comparable(&want));
        assert!(iam_tenant_file("backup-iam-users.yaml"));
        assert!(iam_tenant_file("backup-tenant-workspaces.yaml"));
        assert!(!iam_tenant_file("backup-kubesphere-system.yaml"));
    }

    #[test]
    fn a_recreated_service_or_claim_leaves_what_the_cluster_assigns() {
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "redis", "namespace": "kubesphere-system", "labels": {"app": "redis"}},
            "spec": {"clusterIP": "10.233.50.3", "clusterIPs": ["10.233.50.3"], "ports": [{"port": 6379}]}});
        let want = to_apply(&svc, "v1");
        assert!(want["spec"].get("clusterIP").is_none());
        assert!(want["spec"].get("clusterIPs").is_none());
        assert_eq!(want["spec"]["ports"], json!([{"port": 6379}]));
        // Another address is no difference; another port is.
        let mut live = svc.clone();
        live["spec"]["clusterIP"] = json!("10.96.0.9");
        live["spec"]["clusterIPs"] = json!(["10.96.0.9"]);
        assert_eq!(comparable(&live), comparable(&want));
        live["spec"]["ports"] = json!([{"port": 6380}]);
        assert_ne!(comparable(&live), comparable(&want));
        // A headless Service keeps its `None`.
        let mut headless = svc.clone();
        headless["spec"]["clusterIP"] = json!("None");
        assert_eq!(to_apply(&headless, "v1")["spec"]["clusterIP"], "None");

        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "redis-pvc", "namespace": "kubesphere-system", "uid": "u-old",
                "annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.kubernetes.io/selected-node": "worker-1", "volume.kubernetes.io/storage-provisioner": "openebs.io/local",
                    "volume.beta.kubernetes.io/storage-provisioner": "openebs.io/local"},
                "finalizers": ["kubernetes.io/pvc-protection"]},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                "storageClassName": "local", "volumeName": "pvc-old"}});
        let want = to_apply(&pvc, "v1");
        assert!(want["spec"].get("volumeName").is_none());
        assert!(want["metadata"].get("annotations").is_none(), "{want}");
        assert_eq!(
            want["metadata"]["finalizers"],
            json!(["kubernetes.io/pvc-protection"])
        );
        assert_eq!(want["spec"]["storageClassName"], "local");
        // Bound anew: another volume, the binder's annotations only.
        let mut live = pvc.clone();
        live["spec"]["volumeName"] = json!("pvc-new");
        live["metadata"]["annotations"] = json!({"pv.kubernetes.io/bind-completed": "yes"});
        assert_eq!(comparable(&live), comparable(&want));
        // Other kinds keep fields of those names.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "spec": {"clusterIP": "x", "volumeName": "y"}});
        assert_eq!(to_apply(&cm, "v1")["spec"], cm["spec"]);
    }

    #[test]
    fn only_the_claims_own_retained_volume_is_taken_back() {
        let saved = json!({"kind": "PersistentVolumeClaim",
            "metadata": {"name": "redis-pvc", "namespace": "kubesphere-system", "uid": "u-old"},
            "spec": {"volumeName": "pvc-old"}});
        let pv = |policy: &str, phase: &str, claim_ref: Value| {
            json!({"metadata": {"name": "pvc-old"},
                "spec": {"persistentVolumeReclaimPolicy": policy, "claimRef": claim_ref},
                "status": {"phase": phase}})
        };
        let ours = json!({"namespace": "kubesphere-system", "name": "redis-pvc", "uid": "u-old"});
        let reserved = json!({"namespace": "kubesphere-system", "name": "redis-pvc"});
        // Released by the deleted claim: its uid goes, then the claim names the volume again.
        assert_eq!(
            volume_plan(&saved, Some(&pv("Retain", "Released", ours.clone()))),
            VolumePlan::Rebind {
                volume: "pvc-old".into(),
                clear_uid: true
            }
        );
        // Already reserved (a rerun after the uid went).
        assert_eq!(
            volume_plan(&saved, Some(&pv("Retain", "Available", reserved))),
            VolumePlan::Rebind {
                volume: "pvc-old".into(),
                clear_uid: false
            }
        );
        // Gone with the claim (reclaim policy Delete): a new, empty claim.
        match volume_plan(&saved, None) {
            VolumePlan::New(why) => assert!(why.contains("pvc-old is gone"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Still there but about to be deleted, bound to another claim, or freed for anyone.
        let deleting = {
            let mut p = pv("Delete", "Released", ours.clone());
            p["metadata"]["deletionTimestamp"] = json!("2026-12-02T00:00:00Z");
            p
        };
        let others =
            json!({"namespace": "kubesphere-system", "name": "redis-pvc", "uid": "u-other"});
        for (p, says) in [
            (deleting, "being deleted"),
            (pv("Delete", "Released", ours), "reclaim policy Delete"),
            (
                pv("Retain", "Bound", others),
                "is Bound and names claim kubesphere-system/redis-pvc",
            ),
            (pv("Retain", "Available", Value::Null), "names no claim"),
        ] {
            match volume_plan(&saved, Some(&p)) {
                VolumePlan::New(why) => assert!(why.contains(says), "{why}"),
                other => panic!("{p}: {other:?}"),
            }
        }
        // Never bound.
        let unbound =
            json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "x"}, "spec": {}});
        assert!(matches!(volume_plan(&unbound, None), VolumePlan::New(_)));
    }

    #[test]
    fn a_tampered_or_foreign_backup_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        local::create_private_dir(&dir).unwrap();
        let c = backup::Collected {
            source: backup::namespace_source("kubesphere-system"),
            items: vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            ],
            not_served: vec![],
        };
        let id = Identity {
            cluster_uid: "uid-a".into(),
            ks_core_revision: Some(2),
            ks_core_chart: Some("ks-core-0.4.0".into()),
            ks_core_app_version: Some("v3.4.1".into()),
        };
        backup::write_with(&dir, &[c], "https://x", Some(id.clone())).unwrap();
        let b = Backup::load(&dir).unwrap();
        assert_eq!(b.check_cluster("uid-a").unwrap(), &id);
        assert!(b.find(SYSTEM_FILE, "ConfigMap", "c").is_some());
        let e = b.check_cluster("uid-b").unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Findings);
        assert!(e.to_string().contains("another cluster"), "{e}");
        std::fs::write(
            dir.join(SYSTEM_FILE),
            "apiVersion: v1\nkind: List\nitems: []\n",
        )
        .unwrap();
        let e = Backup::load(&dir).unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Findings);
        assert!(e.to_string().contains("sha256 differs"), "{e}");
    }
}
