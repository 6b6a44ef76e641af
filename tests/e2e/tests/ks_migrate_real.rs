//! `kubectl ks-migrate` with the real helm v3.17.3 (`e2e::helm::real_helm()`, linked as `helm`
//! in the test's bin dir), the project's ks-core 1.1.5 chart (`tests/charts/ks-core`) and
//! kubesim with controllers. `helm history` is the independent witness of the release, as the
//! real kubectl is for objects. Lean on purpose: each test is one migration.

mod common;

use std::time::Duration;

use common::migrate::*;
use e2e::resource_versions;
use serde_json::Value;

const NS: &str = "kubesphere-system";

/// The ks-core revisions as `helm history` shows them: (revision, status, chart, app version).
fn ks_core_history(m: &Mig) -> Vec<(u64, String, String, String)> {
    m.history(NS, "ks-core")
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default().to_string(),
                r["chart"].as_str().unwrap_or_default().to_string(),
                r["app_version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The Jobs helm watched, in order, from `helm upgrade --debug`'s stderr in the backup dir.
fn watched_jobs(m: &Mig) -> Vec<String> {
    let dir = m.backup_dirs().pop().expect("a backup dir");
    let text = std::fs::read_to_string(dir.join("helm-upgrade.stderr")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            l.split("Watching for changes to Job ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(String::from)
        })
        .collect()
}

fn migrate_to_v4(m: &Mig, args: &[&str]) -> e2e::Run {
    let run = m
        .migrate()
        .args(args)
        .timeout(Duration::from_secs(600))
        .run();
    run.assert_success().assert_no_panic();
    run
}

fn assert_v4(m: &Mig, before: &[(u64, String, String, String)]) {
    let after = ks_core_history(m);
    assert_eq!(after.len(), before.len() + 1, "one new revision: {after:?}");
    let last = after.last().unwrap();
    assert_eq!(
        (last.1.as_str(), last.2.as_str(), last.3.as_str()),
        ("deployed", "ks-core-1.1.5", "v4.1.3"),
        "{after:?}"
    );
    assert!(
        after[..after.len() - 1].iter().all(|r| r.1 == "superseded"),
        "{after:?}"
    );
    let journal = m.journal();
    for s in STEPS {
        assert_eq!(journal[s]["state"], "done", "{s}");
    }
    // The chart's CRDs are applied: users moved to v1beta1 storage, the v4 kinds exist.
    let users = m.env.get_json(&["crd", "users.iam.kubesphere.io"]);
    let storage: Vec<&Value> = users["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["storage"] == true)
        .collect();
    assert_eq!(storage[0]["name"], "v1beta1");
    assert!(m.exists(&["crd", "installplans.kubesphere.io"]));
    // ks-installer at 0 replicas, the etcd endpoints filled, the old redis gone.
    let installer = m.env.get_json(&["deployment", "-n", NS, "ks-installer"]);
    assert_eq!(installer["spec"]["replicas"], 0);
    let cc = m
        .env
        .get_json(&["clusterconfiguration", "-n", NS, "ks-installer"]);
    let etcd = m.env.get_json(&["endpoints", "-n", "kube-system", "etcd"]);
    let ips: Vec<&str> = etcd["subsets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["addresses"].as_array().unwrap().iter())
        .map(|a| a["ip"].as_str().unwrap())
        .collect();
    assert!(!ips.is_empty());
    assert_eq!(cc["spec"]["etcd"]["endpointIps"], ips.join(","));
    assert!(!m.exists(&["deployment", "-n", NS, "redis"]));
    assert!(!m.exists(&["secret", "-n", NS, "redis-secret"]));
    // The hook Jobs ran in weight order and completed: pre-upgrade (0), then post-upgrade
    // hooks post-patch-system-ns (-5) before post-upgrade (0).
    assert_eq!(
        watched_jobs(m),
        [
            "ks-core-pre-upgrade",
            "ks-core-post-patch-system-ns",
            "ks-core-post-upgrade"
        ]
    );
    for job in [
        "ks-core-pre-upgrade",
        "ks-core-post-patch-system-ns",
        "ks-core-post-upgrade",
    ] {
        let j = m.env.get_json(&["job", "-n", NS, job]);
        assert_eq!(j["status"]["succeeded"], 1, "{job}: {}", j["status"]);
    }
    // The pre-upgrade ConfigMap (weight -1) was created before its Job (weight 0).
    let cm = m
        .env
        .get_json(&["configmap", "-n", NS, "ks-core-upgrade-config"]);
    let job = m.env.get_json(&["job", "-n", NS, "ks-core-pre-upgrade"]);
    assert!(
        cm["metadata"]["creationTimestamp"].as_str()
            <= job["metadata"]["creationTimestamp"].as_str()
    );
}

fn assert_rerun_changes_nothing(m: &Mig, args: &[&str]) {
    let history = ks_core_history(m);
    let objects = resource_versions(&m.env, ALL_KINDS);
    let rerun = m.migrate().args(args).run();
    rerun
        .assert_success()
        .assert_stderr_contains("already migrated: ks-core revision");
    assert_eq!(ks_core_history(m), history);
    assert_eq!(resource_versions(&m.env, ALL_KINDS), objects);
}

#[test]
fn host_migrates_with_the_real_helm_then_gateways_once_each() {
    let m = Mig::real("ks34-host");
    let before = ks_core_history(&m);
    assert_eq!(before.last().map(|r| r.1.as_str()), Some("deployed"));
    let run = migrate_to_v4(&m, HOST);
    run.assert_stdout_contains("outcome: migrated");
    assert_v4(&m, &before);
    // The host's own templates: the console and the extension repository rolled out.
    for d in ["ks-console", "extensions-museum", "ks-apiserver"] {
        let dep = m.env.get_json(&["deployment", "-n", NS, d]);
        assert_eq!(
            dep["status"]["readyReplicas"], dep["spec"]["replicas"],
            "{d}"
        );
    }
    assert_rerun_changes_nothing(&m, HOST);

    // gateway all: each gateway upgraded exactly once.
    let ctl = "kubesphere-controls-system";
    let gw = m
        .migrate()
        .args(["gateway", "all", "--yes"])
        .timeout(Duration::from_secs(300))
        .run();
    gw.assert_success().assert_no_panic();
    for (v3, v4) in [
        (
            "kubesphere-router-kubesphere-system",
            "kubesphere-router-cluster",
        ),
        (
            "kubesphere-router-workspace-demo",
            "kubesphere-router-workspace-demo",
        ),
    ] {
        assert!(
            m.history(ctl, &format!("{v3}-ingress")).is_empty(),
            "{v3}-ingress is gone"
        );
        let ingress: Vec<Value> = m
            .history(ctl, v4)
            .into_iter()
            .filter(|r| r["chart"] == "ingress-nginx-4.12.1")
            .collect();
        assert_eq!(ingress.len(), 1, "{v4} upgraded once: {ingress:?}");
        assert_eq!(m.journal()[&format!("gateway.{v3}")]["state"], "done");
    }
    let again = m.migrate().args(["gateway", "all", "--yes"]).run();
    again
        .assert_success()
        .assert_stderr_contains("every gateway asked for is already upgraded");
}

#[test]
fn member_migrates_with_the_real_helm() {
    let m = Mig::real("ks34-member");
    let before = ks_core_history(&m);
    let args = ["member", "--yes"];
    migrate_to_v4(&m, &args);
    assert_v4(&m, &before);
    // The member's own templates: no console, the agent's config.
    assert!(!m.exists(&["deployment", "-n", NS, "ks-console"]));
    assert!(m.exists(&["configmap", "-n", NS, "ks-agent-config"]));
    assert_rerun_changes_nothing(&m, &args);
}

/// The pids of `pid`'s children whose command line mentions `needle`.
fn children(pid: u32, needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for c in list
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            let cmd = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(needle) {
                out.push(c);
            }
        }
    }
    out
}

#[test]
fn helm_killed_mid_upgrade_leaves_pending_upgrade_reported_with_advice_that_works() {
    use e2e::kubesim::{Fault, FaultRule};
    let m = Mig::real("ks34-host");
    // Hold helm's creation of the pre-upgrade hook Job: by then helm has written revision 3
    // `pending-upgrade`.
    let jobs = "/apis/batch/v1/namespaces/kubesphere-system/jobs";
    m.env.sim.faults().add(
        FaultRule::new(jobs, Fault::Latency { ms: 30_000 })
            .method("POST")
            .exact()
            .times(1),
    );
    let route = format!("POST {}", e2e::kubesim::faults::route_pattern(jobs));
    let run = m.migrate().args(HOST).spawn();
    let pid = run.id();
    let helm = e2e::eventually(Duration::from_secs(120), || {
        (m.env.sim.counters().count(&route) > 0)
            .then(|| children(pid, "upgrade").first().copied())
            .flatten()
    });
    std::process::Command::new("kill")
        .args(["-KILL", &helm.to_string()])
        .status()
        .expect("kill helm");
    let first = run.wait();
    first.assert_code(2).assert_no_panic();
    let advice = "kubectl -n kubesphere-system delete secret sh.helm.release.v1.ks-core.v3";
    first
        .assert_stderr_contains("it left Helm release ks-core revision 3 pending-upgrade")
        .assert_stderr_contains(advice);
    let history = ks_core_history(&m);
    assert_eq!(
        history.last().map(|r| r.1.as_str()),
        Some("pending-upgrade")
    );
    assert_eq!(m.journal()["upgrade-ks-core"]["state"], "failed");

    // A rerun as is refuses at the pre-check, with the same advice.
    let second = m.migrate().args(HOST).run();
    second
        .assert_code(1)
        .assert_stderr_contains("ks-core-not-pending")
        .assert_stderr_contains(advice);

    // Following the advice, a rerun resumes at the upgrade and completes.
    m.kubectl_ok(&[
        "delete",
        "secret",
        "-n",
        NS,
        "sh.helm.release.v1.ks-core.v3",
    ]);
    let third = migrate_to_v4(&m, HOST);
    third.assert_stderr_contains("resuming the host migration");
    let after = ks_core_history(&m);
    let last = after.last().unwrap();
    assert_eq!(
        (last.0, last.1.as_str(), last.2.as_str(), last.3.as_str()),
        (3, "deployed", "ks-core-1.1.5", "v4.1.3"),
        "{after:?}"
    );
    for s in STEPS {
        assert_eq!(m.journal()[s]["state"], "done", "{s}");
    }
}
