//! ks-upgrade-sim: plays the ks-upgrade Jobs for ks-migrate's end-to-end tests (kubesim runs
//! no pods). It polls Jobs `prepare-upgrade` and `dynamic-upgrade` in `kubesphere-system` and,
//! for each unfinished one, does what ks-upgrade would and marks it Complete:
//! - `prepare-upgrade`: nothing more (the test checks the plugin's steps, not ks-upgrade's);
//! - `dynamic-upgrade`: reads the gateway from ConfigMap `ks-upgrade-dynamic-config`,
//!   uninstalls Helm release `<gw>-ingress` and deploys the v4 release (`kubesphere-router-cluster`
//!   for the cluster gateway, else `<gw>`; chart ingress-nginx 4.12.1, appVersion 1.12.1).
//!
//! With kubesim's controllers a Job completes on its own; a `dynamic-upgrade` Job created since
//! the sim started is still played (once) when it is found already complete.
//!
//! `$KS_UPGRADE_SIM_FAIL=<job>` marks that Job Failed instead (once). Runs until killed.

use std::{collections::BTreeSet, time::Duration};

use k8s_openapi::api::{batch::v1::Job, core::v1::ConfigMap};
use kube::{
    Api,
    api::{ListParams, Patch, PatchParams},
};
use serde_json::{Value, json};
use testhelm::{BoxError, client, job_status, revisions, set_status, uninstall, write_release};

const NS: &str = "kubesphere-system";
const CONTROLS: &str = "kubesphere-controls-system";

fn main() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        // Whole seconds, as creationTimestamp has them.
        let now = jiff::Timestamp::now();
        let started = jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
        loop {
            if let Err(e) = tick(&mut failed, &mut done, started).await {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "ks-upgrade-sim: {e}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

fn finished(j: &Job) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed"))
        })
}

async fn tick(
    failed: &mut BTreeSet<String>,
    done: &mut BTreeSet<String>,
    started: jiff::Timestamp,
) -> Result<(), BoxError> {
    let c = client(&[]).await?;
    let jobs: Api<Job> = Api::namespaced(c.clone(), NS);
    for j in jobs.list(&ListParams::default()).await?.items {
        let Some(name) = j.metadata.name.clone() else {
            continue;
        };
        if !(name == "prepare-upgrade" || name == "dynamic-upgrade") {
            continue;
        }
        let uid = j.metadata.uid.clone().unwrap_or_default();
        if finished(&j) {
            // With kubesim's controllers the Job completes on its own (its pod "runs"): the
            // gateway work is still ks-upgrade's, done once per Job created since we started.
            let new = j
                .metadata
                .creation_timestamp
                .as_ref()
                .is_some_and(|t| t.0 >= started);
            if name == "dynamic-upgrade" && new && done.insert(uid) {
                dynamic_upgrade(&c).await?;
            }
            continue;
        }
        if std::env::var("KS_UPGRADE_SIM_FAIL").is_ok_and(|f| f == name)
            && failed.insert(name.clone())
        {
            let status = json!({"status": job_status("Failed", Some("BackoffLimitExceeded"), Some("Job has reached the specified backoff limit"))});
            jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await?;
            continue;
        }
        if name == "dynamic-upgrade" && !done.contains(&uid) {
            dynamic_upgrade(&c).await?;
            done.insert(uid);
        }
        let status = json!({"status": job_status("Complete", None, None)});
        jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    }
    Ok(())
}

async fn dynamic_upgrade(c: &kube::Client) -> Result<(), BoxError> {
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), NS);
    let cm = cms.get("ks-upgrade-dynamic-config").await?;
    let text = cm
        .data
        .and_then(|d| d.get("config-patch.yaml").cloned())
        .unwrap_or_default();
    let v: Value = serde_saphyr::from_str(&text)?;
    let Some(gw) = v
        .pointer("/jobs/gateway/dynamicOptions/gatewayName")
        .and_then(Value::as_str)
    else {
        return Err("no gatewayName in ks-upgrade-dynamic-config".into());
    };
    uninstall(c, CONTROLS, &format!("{gw}-ingress")).await?;
    let new = if gw == "kubesphere-router-kubesphere-system" {
        "kubesphere-router-cluster".to_string()
    } else {
        gw.to_string()
    };
    let revs = revisions(c, CONTROLS, &new).await?;
    for r in &revs {
        if r.status == "deployed" {
            set_status(c, CONTROLS, &r.secret, "superseded").await?;
        }
    }
    let next = revs.last().map_or(1, |r| r.revision + 1);
    write_release(
        c,
        CONTROLS,
        &new,
        next,
        "deployed",
        ("ingress-nginx", "4.12.1", "1.12.1"),
        json!({}),
        "",
    )
    .await?;
    Ok(())
}
