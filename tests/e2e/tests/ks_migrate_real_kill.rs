//! SIGKILL during each step of `kubectl ks-migrate host` with the real helm and kubesim's
//! controllers, then a rerun: it converges to an uninterrupted run's end (the v4 facts
//! `ks_migrate_real.rs` checks, with `helm history` as the witness: exactly one new revision,
//! deployed ks-core-1.1.5 / v4.1.3), and a third run has nothing to do. The kill lands while a
//! request of the step is held by a kubesim latency fault (as in `ks_migrate_kill.rs`, which
//! covers the same kills in depth with the helm double); the upgrade step is killed while the
//! real helm is at work, and the rerun waits for that orphaned helm.

mod common;

use std::time::Duration;

use common::migrate::*;
use e2e::{
    eventually,
    kubesim::{Fault, FaultRule},
};
use serde_json::Value;

const NS: &str = "kubesphere-system";

fn step_state(m: &Mig, step: &str) -> Option<String> {
    let run = m
        .env
        .kubectl()
        .args([
            "get",
            "configmap",
            "-n",
            NS,
            "ks-migrate-journal",
            "-o",
            "json",
        ])
        .run();
    if run.code != Some(0) {
        return None;
    }
    let data = run.json()["data"][step].as_str()?.to_string();
    let v: Value = serde_json::from_str(&data).ok()?;
    v["state"].as_str().map(str::to_string)
}

fn history(m: &Mig) -> Vec<(String, String, String)> {
    m.history(NS, "ks-core")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_string(),
                r["chart"].as_str().unwrap_or_default().to_string(),
                r["app_version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Holds the first `method path` for `ms`, kills `host` once `step` is running and the held
/// call has arrived, reruns, and checks the end state.
fn killed_during(step: &str, method: &str, path: &str, ms: u64) {
    let m = Mig::real("ks34-host");
    let before = history(&m);
    m.env.sim.faults().add(
        FaultRule::new(path, Fault::Latency { ms })
            .method(method)
            .exact()
            .times(1),
    );
    let route = format!("{method} {}", e2e::kubesim::faults::route_pattern(path));
    let running = m.migrate().args(HOST).spawn();
    eventually(Duration::from_secs(120), || {
        (step_state(&m, step).as_deref() == Some("running")
            && m.env.sim.counters().count(&route) > 0)
            .then_some(())
    });
    let killed = running.kill();
    assert_eq!(killed.code, None, "killed by the signal");
    assert_eq!(step_state(&m, step).as_deref(), Some("running"), "{step}");

    let rerun = m
        .migrate()
        .args(HOST)
        .timeout(Duration::from_secs(600))
        .run();
    rerun.assert_success().assert_no_panic();
    rerun.assert_stderr_contains("resuming the host migration");
    let after = history(&m);
    assert_eq!(after.len(), before.len() + 1, "one upgrade: {after:?}");
    assert_eq!(
        after.last().unwrap(),
        &(
            "deployed".to_string(),
            "ks-core-1.1.5".to_string(),
            "v4.1.3".to_string()
        )
    );
    for s in STEPS {
        assert_eq!(m.journal()[s]["state"], "done", "{s}");
    }
    assert_eq!(
        m.env.get_json(&["deployment", "-n", NS, "ks-installer"])["spec"]["replicas"],
        0
    );
    assert!(!m.exists(&["deployment", "-n", NS, "redis"]));
    assert!(m.exists(&["crd", "installplans.kubesphere.io"]));
    assert_eq!(m.backup_dirs().len(), 1, "the rerun reused the backup");
    for job in ["ks-core-pre-upgrade", "ks-core-post-upgrade"] {
        let j = m.env.get_json(&["job", "-n", NS, job]);
        assert_eq!(j["status"]["succeeded"], 1, "{job}");
    }
    m.migrate()
        .args(HOST)
        .run()
        .assert_success()
        .assert_stderr_contains("already migrated");
    assert_eq!(history(&m), after);
}

#[test]
fn killed_during_backup() {
    killed_during(
        "backup",
        "GET",
        "/apis/iam.kubesphere.io/v1alpha2/users",
        20_000,
    );
}

#[test]
fn killed_during_scale_installer() {
    killed_during(
        "scale-installer",
        "PATCH",
        "/apis/apps/v1/namespaces/kubesphere-system/deployments/ks-installer",
        20_000,
    );
}

#[test]
fn killed_during_fill_etcd_endpoints() {
    killed_during(
        "fill-etcd-endpoints",
        "PATCH",
        "/apis/installer.kubesphere.io/v1alpha1/namespaces/kubesphere-system/clusterconfigurations/ks-installer",
        20_000,
    );
}

#[test]
fn killed_during_remove_redis() {
    killed_during(
        "remove-redis",
        "DELETE",
        "/api/v1/namespaces/kubesphere-system/secrets/redis-secret",
        20_000,
    );
}

#[test]
fn killed_during_prepare_upgrade() {
    killed_during(
        "prepare-upgrade",
        "PATCH",
        "/apis/batch/v1/namespaces/kubesphere-system/jobs/prepare-upgrade",
        20_000,
    );
}

#[test]
fn killed_during_apply_crds() {
    killed_during(
        "apply-crds",
        "PATCH",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/extensions.kubesphere.io",
        20_000,
    );
}

/// ks-migrate is killed while the real helm waits on its pre-upgrade hook Job's creation; helm
/// goes on (its own process group), and the rerun waits for it, then finds the upgrade done.
#[test]
fn killed_during_upgrade_ks_core() {
    killed_during(
        "upgrade-ks-core",
        "POST",
        "/apis/batch/v1/namespaces/kubesphere-system/jobs",
        5_000,
    );
}

#[test]
fn killed_during_verify() {
    killed_during(
        "verify",
        "GET",
        "/api/v1/namespaces/kubesphere-system/secrets/sh.helm.release.v1.ks-core.v3",
        20_000,
    );
}
