//! `helm rollback ks-core` to the revision deployed before the migration, detached and logged
//! as the upgrade was, and waiting for one already running.

use super::*;

/// The newest ks-core revision when it is deployed with a pre-v4 appVersion.
pub(super) async fn ks_core_v3(client: &kube::Client) -> Result<Option<(u32, String, String)>> {
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
pub(super) fn rollback_in_flight(pid: u32, release: &str) -> bool {
    let Ok(bytes) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    argv.iter().any(|a| a == "rollback") && argv.iter().any(|a| a == release)
}

pub(super) async fn rollback_ks_core(
    ctx: &mut Ctx,
    b: &Backup,
    timeout: Duration,
) -> Result<String> {
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
