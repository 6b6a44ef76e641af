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
//!
//! This file runs the steps under the journal and the Lease; `backup_dir` reads the backup
//! back and checks it, `restore` puts objects back, `helm` runs `helm rollback ks-core`, and
//! `manual` lists what a rollback cannot undo.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use k8s_openapi::{
    api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Service},
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

mod backup_dir;
mod helm;
mod manual;
mod restore;

pub use backup_dir::Backup;
use helm::*;
pub use manual::Manual;
use manual::*;
use restore::*;

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
