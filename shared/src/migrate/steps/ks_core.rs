//! Steps `apply-crds`, `upgrade-ks-core` and `verify`: the ks-core chart's CRDs, `helm upgrade`
//! following the hook Jobs, and the release checked at v4.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use serde_json::{Value, json};

use super::{
    super::ctx::short,
    super::{helm::UPGRADE_PID_FILE, local},
    Ctx, JobState,
    args::upgrade_args,
    job_state, parse_documents,
};
use crate::{
    error::{Error, Result},
    helm as releases,
    kubesphere::{self, KS_CORE_RELEASE, SYSTEM_NAMESPACE, field},
    list,
    version::Version,
};

pub(super) async fn apply_crds(ctx: &mut Ctx) -> Result<String> {
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

pub(super) async fn upgrade(ctx: &mut Ctx) -> Result<String> {
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
    let pid_file = ctx.backup_dir.join(UPGRADE_PID_FILE);
    if let Some(pid) = running.id() {
        local::write_private(&pid_file, format!("{pid}\n").as_bytes())?;
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

pub(super) async fn verify(ctx: &mut Ctx) -> Result<String> {
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
