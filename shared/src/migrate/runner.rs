//! The runner: the planned steps in order, each journaled before and after it runs; a rerun
//! skips the done ones, re-checks in the cluster a destructive step a crashed run left
//! `running`, and resumes at the first other one.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use super::{
    Options, backup,
    ctx::Ctx,
    gateway,
    helm::{self, Log},
    journal::{self, Journal, State},
    lease, local,
    report::StepReport,
    step::Step,
    steps::{self, StepId},
};
use crate::{Result, error::Error, run::Printer};

/// A step to run: a host/member step, or the upgrade of one gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Planned {
    /// A host/member step.
    Step(StepId),
    /// `gateway.<name>`: the dynamic-upgrade Job of one v3 gateway.
    Gateway(String),
}

impl Planned {
    /// The journal key.
    pub(super) fn key(&self) -> String {
        match self {
            Self::Step(s) => s.key().into(),
            Self::Gateway(name) => format!("gateway.{name}"),
        }
    }

    fn title(&self) -> String {
        match self {
            Self::Step(s) => s.title().into(),
            Self::Gateway(name) => format!("Upgrade gateway {name}"),
        }
    }

    fn destructive(&self) -> bool {
        match self {
            Self::Step(s) => s.destructive(),
            Self::Gateway(_) => true,
        }
    }

    async fn run(&self, ctx: &mut Ctx) -> Result<String> {
        match self {
            Self::Step(s) => steps::run(*s, ctx).await,
            Self::Gateway(gw) => gateway::upgrade(ctx, gw).await,
        }
    }

    async fn recheck(&self, ctx: &Ctx) -> Result<bool> {
        match self {
            Self::Step(s) => steps::recheck(*s, ctx).await,
            Self::Gateway(gw) => Ok(gateway::new_release_deployed(&ctx.client, gw)
                .await?
                .is_some()),
        }
    }
}

/// Runs the planned steps in order, resuming after the last done one.
pub(super) async fn run_steps(
    ctx: &mut Ctx,
    store: Option<&journal::Store>,
    journal: &mut Journal,
    planned: &[Planned],
    report: &mut Vec<StepReport>,
) -> Result<()> {
    let m = planned.len();
    for (i, p) in planned.iter().enumerate() {
        let n = i + 1;
        let (key, title) = (p.key(), p.title());
        let mut entry = StepReport {
            id: key.clone(),
            title: title.clone(),
            destructive: p.destructive(),
            state: String::new(),
            detail: String::new(),
            actions: Vec::new(),
        };
        let prior = journal.steps.get(&key).cloned();
        if let Some(e) = &prior
            && e.state == State::Done
        {
            entry.state = "skipped".into();
            entry.detail = format!("done by an earlier run at {}: {}", e.at, e.detail);
            ctx.printer
                .note(&format!("[{n}/{m}] {} — already done ({})", title, e.at));
            report.push(entry);
            continue;
        }
        if let Some(e) = &prior
            && e.state == State::Running
            && p.destructive()
            && !ctx.dry_run
        {
            // A crashed run left this step half-done: look before running it again.
            if p.recheck(ctx).await? {
                let detail = "finished by an interrupted run (checked in the cluster)".to_string();
                journal.set(&key, State::Done, detail.clone());
                if let Some(s) = store {
                    s.save(journal).await?;
                }
                entry.state = "done".into();
                entry.detail = detail;
                ctx.printer.note(&format!(
                    "[{n}/{m}] {} — found done in the cluster after an interrupted run",
                    title
                ));
                report.push(entry);
                continue;
            }
            ctx.log.line(&format!(
                "step {} was left running by an interrupted run and is not done in the cluster: running it again",
                key
            ));
        }
        if ctx
            .lease_lost
            .as_ref()
            .is_some_and(|l| l.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(Error::refused(
                format!(
                    "lost Lease {}/{} (not renewed in time, or taken by another run): stopped before step {n}/{m} ({}) so that two runs never change the cluster at once",
                    crate::kubesphere::SYSTEM_NAMESPACE,
                    lease::NAME,
                    key
                ),
                Some(format!(
                    "check `kubectl -n {} get lease {} -o yaml`; once no other run holds it, rerun the same command to resume at step {n}",
                    crate::kubesphere::SYSTEM_NAMESPACE,
                    lease::NAME
                )),
            ));
        }
        ctx.progress.start(&mut ctx.printer, n, m, &title);
        ctx.actions.clear();
        ctx.log.line(&format!("step {n}/{m} {}: start", key));
        if let Some(s) = store {
            journal.set(&key, State::Running, "");
            s.save(journal).await?;
        }
        let outcome = p.run(ctx).await;
        entry.actions = std::mem::take(&mut ctx.actions);
        match outcome {
            Ok(detail) => {
                ctx.log
                    .line(&format!("step {n}/{m} {}: done: {detail}", key));
                if let Some(s) = store {
                    journal.set(&key, State::Done, detail.clone());
                    s.save(journal).await?;
                }
                let line = if ctx.dry_run {
                    format!("[{n}/{m}] {} — planned", title)
                } else {
                    format!("[{n}/{m}] {} — {detail}", title)
                };
                ctx.progress.finish(&mut ctx.printer, &line);
                entry.state = if ctx.dry_run { "planned" } else { "done" }.into();
                // A dry run's outcome lines describe what did not happen; its actions say it all.
                if !ctx.dry_run || detail.contains("would ") {
                    entry.detail = detail;
                }
                report.push(entry);
            }
            Err(e) => {
                ctx.log.line(&format!("step {n}/{m} {}: failed: {e}", key));
                if let Some(s) = store {
                    journal.set(&key, State::Failed, e.to_string());
                    if let Err(save) = s.save(journal).await {
                        ctx.printer
                            .warn(&format!("cannot record the failure in the journal: {save}"));
                    }
                }
                ctx.progress
                    .finish(&mut ctx.printer, &format!("[{n}/{m}] {} — FAILED", title));
                if !ctx.dry_run {
                    ctx.printer.note(&format!(
                        "step {n}/{m} ({}) failed; fix the cause, then rerun the same command to resume at step {n}",
                        key
                    ));
                }
                entry.state = "failed".into();
                entry.detail = e.to_string();
                report.push(entry);
                for later in &planned[n..] {
                    report.push(StepReport {
                        id: later.key(),
                        title: later.title(),
                        destructive: later.destructive(),
                        state: "pending".into(),
                        detail: String::new(),
                        actions: Vec::new(),
                    });
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// A run killed during `helm upgrade` leaves its helm child running (SIGKILL reaches
/// ks-migrate only). Before resuming, wait for that helm (its pid is in the backup directory)
/// to finish, so the rerun neither starts a second, concurrent upgrade nor judges the release
/// while it is still being written; the `upgrade-ks-core` step is then re-checked as usual.
pub(super) async fn wait_for_orphaned_upgrade(
    journal: &Journal,
    timeout: Duration,
    printer: &mut Printer,
) -> Result<()> {
    if journal.state(StepId::UpgradeKsCore.key()) != Some(State::Running)
        || journal.run.backup_dir.is_empty()
    {
        return Ok(());
    }
    let file = Path::new(&journal.run.backup_dir).join(helm::UPGRADE_PID_FILE);
    let Some(pid) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return Ok(());
    };
    let release = crate::kubesphere::KS_CORE_RELEASE;
    let start = std::time::Instant::now();
    let mut told = false;
    while helm::upgrade_in_flight(pid, release) {
        if !told {
            printer.note(&format!(
                "the helm upgrade of {release} started by the interrupted run (pid {pid}) is still running; waiting for it to finish before resuming"
            ));
            told = true;
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: format!(
                    "the helm upgrade of {release} (pid {pid}) started by the interrupted run to finish"
                ),
                seconds: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if told {
        printer.note(&format!("helm (pid {pid}) has finished"));
    }
    Ok(())
}

/// Picks the backup directory: the flag, the one an unfinished run recorded, or a new one.
pub(super) fn backup_dir(opts: &Options, journal: &Journal, resuming: bool) -> PathBuf {
    if let Some(d) = &opts.backup_dir {
        return d.clone();
    }
    if resuming && !journal.run.backup_dir.is_empty() {
        let d = PathBuf::from(&journal.run.backup_dir);
        if d.is_dir() {
            return d;
        }
    }
    backup::default_dir()
}

pub(super) fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Prepares the local side of a real run: the directory, the log, the journal's run info.
pub(super) async fn open_run(
    dir: &Path,
    target: &str,
    journal: &mut Journal,
    store: &mut journal::Store,
) -> Result<Log> {
    local::create_private_dir(dir)?;
    let log = Log::open(&dir.join("ks-migrate.log"))?;
    store.set_local(dir.join("journal.json"));
    if journal.run.role.is_empty() || journal.run.role == target {
        if journal.run.started_at.is_empty() {
            journal.run.started_at = local::now();
        }
        journal.run.role = target.into();
        if journal.run.backup_dir.is_empty() || target != "gateway" {
            journal.run.backup_dir = absolute(dir);
        }
    }
    Ok(log)
}
