//! `kubectl ks-migrate rollback` with the real helm v3.17.3 on kubesim with controllers: a
//! ks34-host migration undone from its own backup (one migration serves the refusals — a
//! tampered backup, another cluster —, the dry run, the rollback and its rerun), the same for a
//! ks34-member migration, and rollbacks killed with SIGKILL, between steps and while the real
//! `helm rollback` is at work.

mod common;

use std::{collections::BTreeMap, path::Path, time::Duration};

use common::migrate::*;
use e2e::{Env, resource_versions};
use serde_json::Value;

const NS: &str = "kubesphere-system";

/// The annotations the volume binder writes on a claim (they name the volume it had).
const BIND_ANNOTATIONS: [&str; 5] = [
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
];

/// An object without what the API server owns (and the status rollback does not write), nor
/// what the cluster assigns anew when rollback recreates an object the migration deleted: the
/// redis Service's clusterIP (its old address may be another Service's by then) and the redis
/// PVC's volume with the binder's annotations (under reclaim policy Delete its volume went with
/// it). Each test checks the claim's volume on its own.
fn comparable(mut v: Value) -> Value {
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    if let Some(o) = v.as_object_mut() {
        o.remove("apiVersion");
        o.remove("status");
    }
    match kind.as_str() {
        "Service" => {
            if let Some(s) = v["spec"].as_object_mut() {
                s.remove("clusterIP");
                s.remove("clusterIPs");
            }
        }
        "PersistentVolumeClaim" => {
            if let Some(s) = v["spec"].as_object_mut() {
                s.remove("volumeName");
            }
            if let Some(a) = v["metadata"]["annotations"].as_object_mut() {
                for k in BIND_ANNOTATIONS {
                    a.remove(k);
                }
            }
            if v["metadata"]["annotations"]
                .as_object()
                .is_some_and(|a| a.is_empty())
            {
                v["metadata"].as_object_mut().unwrap().remove("annotations");
            }
        }
        _ => {}
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "managedFields",
            "generation",
            "selfLink",
        ] {
            m.remove(k);
        }
        // The Deployment controller's rollout counter, like generation.
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("deployment.kubernetes.io/revision");
        }
    }
    // helm's strategic merge patch may reorder a list merged by key (containerPort).
    if let Some(cs) = v
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in cs {
            if let Some(p) = c.get_mut("ports").and_then(Value::as_array_mut) {
                p.sort_by_key(|p| p["containerPort"].as_i64());
            }
        }
    }
    v
}

/// Every object of the backup, by `kind.group/namespace/name`.
fn backup_objects(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("backup-") && name.ends_with(".yaml")) {
            continue;
        }
        let list: Value = serde_saphyr::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        for o in list["items"].as_array().unwrap() {
            out.insert(key(o), o.clone());
        }
    }
    out
}

fn key(o: &Value) -> String {
    let group = o["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .map_or("", |(g, _)| g);
    format!(
        "{}.{group}/{}/{}",
        o["kind"].as_str().unwrap().to_ascii_lowercase(),
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap()
    )
}

/// The live objects of the kinds the backup holds.
fn live_objects(m: &Mig, saved: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let kinds: std::collections::BTreeSet<String> = saved
        .keys()
        .map(|k| {
            k.split('/')
                .next()
                .unwrap()
                .trim_end_matches('.')
                .to_string()
        })
        .collect();
    let mut out = BTreeMap::new();
    for k in kinds {
        let list = m.env.get_json(&[&k, "-A"]);
        for o in list["items"].as_array().unwrap() {
            let mut o = o.clone();
            // `kubectl get -o json` of a list leaves kind out of some items.
            if o.get("kind").is_none() {
                o["kind"] = list["items"][0]["kind"].clone();
            }
            out.insert(key(&o), o);
        }
    }
    out
}

/// The backed-up objects that are missing or differ now. Left out: helm's own release records
/// (a rollback adds a revision and supersedes the others, as `helm history` shows) and
/// ks-migrate's journal (the rollback closes it).
fn not_as_saved(m: &Mig, saved: &BTreeMap<String, Value>) -> Vec<String> {
    let live = live_objects(m, saved);
    saved
        .iter()
        .filter(|(_, o)| o["type"] != "helm.sh/release.v1")
        .filter(|(k, _)| *k != "configmap./kubesphere-system/ks-migrate-journal")
        .filter_map(|(k, o)| match live.get(k) {
            None => Some(format!("{k}: missing")),
            Some(l) if comparable(l.clone()) != comparable(o.clone()) => Some(format!(
                "{k}: live {} backup {}",
                comparable(l.clone()),
                comparable(o.clone())
            )),
            Some(_) => None,
        })
        .collect()
}

/// What every rollback ends with: each backed-up object as saved, `helm history` with one
/// rollback revision, the newest, deployed with the v3 chart of the revision deployed before
/// the migration, the rollback journal done and the migration's closed, `kubectl health` passing.
fn assert_rolled_back(m: &Mig, saved: &BTreeMap<String, Value>, before: &[Value]) {
    let problems = not_as_saved(m, saved);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // helm history: the upgrade, then the rollback, deployed with the chart of the revision before.
    let after = m.history(NS, "ks-core");
    let last = after.last().unwrap();
    let was = before.last().unwrap();
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    let rollbacks = after
        .iter()
        .filter(|r| {
            r["description"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Rollback to")
        })
        .count();
    assert_eq!(rollbacks, 1, "helm rolled back once: {after:?}");
    assert_eq!(last["status"], "deployed");
    assert_eq!(last["chart"], was["chart"]);
    assert_eq!(last["app_version"], was["app_version"]);
    assert!(
        last["description"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("Rollback to {}", was["revision"])),
        "{last}"
    );
    // The rollback journal is done, the migration's closed.
    let j = m
        .env
        .get_json(&["configmap", "-n", NS, "ks-migrate-rollback-journal"]);
    for (k, v) in j["data"].as_object().unwrap() {
        if k != "run" {
            assert!(
                v.as_str().unwrap().contains(r#""state":"done""#),
                "{k}: {v}"
            );
        }
    }
    assert!(!m.exists(&["configmap", "-n", NS, "ks-migrate-journal"]));
    m.env.kubectl().args(["health"]).run().assert_success();
}

/// The volume the redis PVC is bound to, once it is (its pod is its first consumer).
fn redis_volume(m: &Mig) -> String {
    m.kubectl_ok(&[
        "wait",
        "-n",
        NS,
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/redis-pvc",
        "--timeout=60s",
    ]);
    let pvc = m.env.get_json(&["pvc", "-n", NS, "redis-pvc"]);
    pvc["spec"]["volumeName"].as_str().unwrap().to_string()
}

fn rollback(m: &Mig, dir: &Path, extra: &[&str]) -> e2e::Run {
    let mut args = vec!["rollback", "--backup-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    m.migrate()
        .args(args)
        .timeout(Duration::from_secs(600))
        .run()
}

#[test]
fn rollback_undoes_a_real_helm_migration_and_refuses_foreign_or_tampered_backups() {
    let m = Mig::real("ks34-host");
    let before = m.history(NS, "ks-core");
    m.migrate()
        .args(HOST)
        .timeout(Duration::from_secs(600))
        .run()
        .assert_success();
    let dir = m.backup_dirs().pop().expect("a backup dir");
    let saved = backup_objects(&dir);
    // What v4's controllers would do to IAM and tenant objects: rewrite one, delete one.
    m.kubectl_ok(&[
        "annotate",
        "globalrole.iam.kubesphere.io",
        "platform-admin",
        "kubesphere.io/description=v4 platform administrator",
        "--overwrite",
    ]);
    let wst = "platform-regular";
    m.kubectl_ok(&["delete", "globalrole.iam.kubesphere.io", wst]);
    assert!(!not_as_saved(&m, &saved).is_empty());

    // A tampered backup is refused before anything is touched.
    let tampered = m.env.dir().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tampered.join(p.file_name().unwrap())).unwrap();
    }
    let cc = tampered.join("backup-cc.yaml");
    let text = std::fs::read_to_string(&cc).unwrap();
    std::fs::write(&cc, text.replacen("ks-installer", "ks-installer2", 1)).unwrap();
    let objects = resource_versions(&m.env, ALL_KINDS);
    rollback(&m, &tampered, &["--yes"])
        .assert_code(1)
        .assert_stderr_contains("backup-cc.yaml: sha256 differs from the manifest")
        .assert_no_panic();
    assert_eq!(resource_versions(&m.env, ALL_KINDS), objects);

    // A backup from another cluster (a second kubesim of the same scenario) is refused.
    let other = Env::new("ks34-host");
    let run = other
        .plugin("ks-migrate")
        .args(["rollback", "--yes", "--backup-dir", dir.to_str().unwrap()])
        .run();
    run.assert_code(1)
        .assert_stderr_contains("was taken from another cluster")
        .assert_no_panic();

    // --dry-run shows each difference and changes nothing.
    let dry = rollback(&m, &dir, &["--dry-run"]);
    dry.assert_success()
        .assert_stdout_contains("GlobalRole platform-admin differs from the backup")
        .assert_stdout_contains(
            r#"{"op":"replace","path":"/metadata/annotations/kubesphere.io~1description","value":"Platform administrator"}"#,
        )
        .assert_stdout_contains("GlobalRole platform-regular is missing")
        .assert_stdout_contains("would run helm rollback ks-core")
        .assert_stdout_contains("outcome: planned");
    assert_eq!(resource_versions(&m.env, ALL_KINDS), objects);

    // The rollback.
    let run = rollback(&m, &dir, &["--yes"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains("outcome: rolled-back")
        .assert_stdout_contains("CRD users.iam.kubesphere.io")
        .assert_stdout_contains("restore the etcd snapshot taken before the migration")
        .assert_stdout_contains("https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/#recovering-from-a-failure-state")
        // The redis Service and PVC come back from backup-redis.yaml; under reclaim policy
        // Delete the PVC's volume went with it, so the claim is new and empty, as it says.
        .assert_stdout_contains("Service kubesphere-system/redis is missing")
        .assert_stdout_contains("applied without its old clusterIP 10.233.50.3")
        .assert_stdout_contains("PersistentVolumeClaim kubesphere-system/redis-pvc is missing")
        .assert_stdout_contains("it comes back as a new claim with a new, empty volume")
        .assert_stdout_contains("the data of PVC kubesphere-system/redis-pvc");
    assert!(
        !run.stdout
            .contains("recreate it from your v3.4 install's redis manifest"),
        "the backup holds the redis Service and PVC"
    );
    assert_rolled_back(&m, &saved, &before);
    let old_volume =
        saved["persistentvolumeclaim./kubesphere-system/redis-pvc"]["spec"]["volumeName"]
            .as_str()
            .unwrap();
    assert_ne!(redis_volume(&m), old_volume, "a new volume");
    assert!(!m.exists(&["pv", old_volume]));
    let svc = m.env.get_json(&["service", "-n", NS, "redis"]);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty()),
        "{svc}"
    );

    // A rerun is a no-op.
    let objects = resource_versions(&m.env, ALL_KINDS);
    rollback(&m, &dir, &["--yes"])
        .assert_success()
        .assert_stderr_contains("already rolled back");
    assert_eq!(resource_versions(&m.env, ALL_KINDS), objects);
    // Without its journal, the cluster reads as never migrated: a no-op too.
    m.kubectl_ok(&[
        "delete",
        "configmap",
        "-n",
        NS,
        "ks-migrate-rollback-journal",
    ]);
    let objects = resource_versions(&m.env, ALL_KINDS);
    rollback(&m, &dir, &["--yes"])
        .assert_success()
        .assert_stderr_contains("this cluster is not migrated")
        .assert_stdout_contains("outcome: not-migrated");
    assert_eq!(resource_versions(&m.env, ALL_KINDS), objects);
}

/// Holds the next `method path` for a while; the closure tells when it has arrived.
fn hold<'a>(m: &'a Mig, method: &str, path: &str) -> impl Fn() -> bool + 'a {
    use e2e::kubesim::{Fault, FaultRule};
    m.env.sim.faults().add(
        FaultRule::new(path, Fault::Latency { ms: 20_000 })
            .method(method)
            .exact()
            .times(1),
    );
    let route = format!("{method} {}", e2e::kubesim::faults::route_pattern(path));
    let base = m.env.sim.counters().count(&route);
    move || m.env.sim.counters().count(&route) > base
}

fn rollback_step_state(m: &Mig, step: &str) -> Option<String> {
    let run = m
        .env
        .kubectl()
        .args([
            "get",
            "configmap",
            "-n",
            NS,
            "ks-migrate-rollback-journal",
            "-o",
            "json",
        ])
        .run();
    if run.code != Some(0) {
        return None;
    }
    let v: Value = serde_json::from_str(run.json()["data"][step].as_str()?).ok()?;
    v["state"].as_str().map(String::from)
}

#[test]
fn rollback_killed_at_every_step_then_rerun_converges() {
    let m = Mig::real("ks34-host");
    m.migrate()
        .args(HOST)
        .timeout(Duration::from_secs(600))
        .run()
        .assert_success();
    let dir = m.backup_dirs().pop().expect("a backup dir");
    let saved = backup_objects(&dir);
    let holds = [
        (
            "restore-etcd-endpoints",
            "PATCH",
            "/apis/installer.kubesphere.io/v1alpha1/namespaces/kubesphere-system/clusterconfigurations/ks-installer",
        ),
        (
            "restore-redis",
            "PATCH",
            "/apis/apps/v1/namespaces/kubesphere-system/deployments/redis",
        ),
        (
            "rollback-ks-core",
            "GET",
            "/api/v1/namespaces/kubesphere-system/secrets",
        ),
        (
            "restore-iam-tenant",
            "GET",
            "/apis/iam.kubesphere.io/v1alpha2/globalroles/platform-admin",
        ),
        (
            "restore-installer",
            "PATCH",
            "/apis/apps/v1/namespaces/kubesphere-system/deployments/ks-installer",
        ),
        (
            "close-migration-journal",
            "DELETE",
            "/api/v1/namespaces/kubesphere-system/configmaps/ks-migrate-journal",
        ),
    ];
    // Each run resumes the journal of the one killed before it, and is killed at the next step.
    for (step, method, path) in holds {
        let arrived = hold(&m, method, path);
        let running = m
            .migrate()
            .args(["rollback", "--yes", "--backup-dir", dir.to_str().unwrap()])
            .spawn();
        e2e::eventually(Duration::from_secs(120), || {
            (rollback_step_state(&m, step).as_deref() == Some("running") && arrived()).then_some(())
        });
        let killed = running.kill();
        assert_eq!(killed.code, None, "{step}: {killed:?}");
    }
    let rerun = rollback(&m, &dir, &["--yes"]);
    rerun
        .assert_success()
        .assert_no_panic()
        .assert_stdout_contains("outcome: rolled-back");
    let problems = not_as_saved(&m, &saved);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let history = m.history(NS, "ks-core");
    let rollbacks = history
        .iter()
        .filter(|r| {
            r["description"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Rollback to")
        })
        .count();
    assert_eq!(rollbacks, 1, "helm rolled back once: {history:?}");
    assert_eq!(history.last().unwrap()["status"], "deployed");
}

#[test]
fn rollback_undoes_a_member_migration_and_takes_a_retained_redis_volume_back() {
    let m = Mig::real("ks34-member");
    let before = m.history(NS, "ks-core");
    // The redis volume kept by reclaim policy Retain
    // (https://kubernetes.io/docs/tasks/administer-cluster/change-pv-reclaim-policy/): the
    // migration's delete of redis-pvc leaves it Released, still naming the deleted claim.
    let volume = redis_volume(&m);
    m.kubectl_ok(&[
        "patch",
        "pv",
        &volume,
        "-p",
        r#"{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}"#,
    ]);
    m.migrate()
        .args(["member", "--yes"])
        .timeout(Duration::from_secs(600))
        .run()
        .assert_success();
    m.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Released",
        &format!("pv/{volume}"),
        "--timeout=60s",
    ]);
    assert!(!m.exists(&["pvc", "-n", NS, "redis-pvc"]));
    let dir = m.backup_dirs().pop().expect("a backup dir");
    let saved = backup_objects(&dir);

    let run = rollback(&m, &dir, &["--yes"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains("outcome: rolled-back")
        .assert_stdout_contains(&format!("patch PersistentVolume {volume} with JSON patch"))
        .assert_stdout_contains("reserved for it again, the claim binds it with the data it held");
    assert!(
        !run.stdout.contains("the data of PVC"),
        "nothing lost: {}",
        run.stdout
    );
    assert_rolled_back(&m, &saved, &before);
    // The claim is back on its own volume, which names the new claim.
    assert_eq!(redis_volume(&m), volume);
    let pvc = m.env.get_json(&["pvc", "-n", NS, "redis-pvc"]);
    let pv = m.env.get_json(&["pv", &volume]);
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
}

/// Cordons (or uncordons) every node with the real kubectl: while all are cordoned, the pods of
/// a rollout stay Pending, and `helm rollback --wait` waits for them.
fn cordon_all(m: &Mig, cordon: bool) {
    let nodes = m.env.get_json(&["nodes"]);
    for n in nodes["items"].as_array().unwrap() {
        let name = n["metadata"]["name"].as_str().unwrap();
        m.kubectl_ok(&[if cordon { "cordon" } else { "uncordon" }, name]);
    }
}

/// True while process `pid` is a `helm rollback`.
fn helm_rollback_running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("rollback"))
        .unwrap_or(false)
}

#[test]
fn rollback_killed_while_helm_rolls_back_then_rerun_waits_for_that_helm() {
    let m = Mig::real("ks34-host");
    let before = m.history(NS, "ks-core");
    m.migrate()
        .args(HOST)
        .timeout(Duration::from_secs(600))
        .run()
        .assert_success();
    let dir = m.backup_dirs().pop().expect("a backup dir");
    let saved = backup_objects(&dir);

    // The rollback's pods cannot be scheduled, so the real helm rollback --wait is still at
    // work, its revision pending-rollback, when the plugin's process group gets SIGKILL.
    cordon_all(&m, true);
    let running = m
        .migrate()
        .args(["rollback", "--yes", "--backup-dir", dir.to_str().unwrap()])
        .process_group()
        .timeout(Duration::from_secs(600))
        .spawn();
    let pid_file = dir.join("helm-rollback.pid");
    let helm = e2e::eventually(Duration::from_secs(180), || {
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let history = m.history(NS, "ks-core");
        (history.last()?["status"] == "pending-rollback").then_some(pid)
    });
    let group = format!("-{}", running.id());
    let kill = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .expect("kill");
    assert!(kill.success());
    let killed = running.wait();
    assert_eq!(killed.code, None, "killed by the signal: {killed:?}");
    // helm runs in its own process group: it goes on, the revision still pending.
    assert!(helm_rollback_running(helm), "helm {helm} goes on");
    assert_eq!(
        rollback_step_state(&m, "rollback-ks-core").as_deref(),
        Some("running")
    );

    // The rerun resumes at the rollback and waits for that helm rather than start another.
    let rerun = m
        .migrate()
        .args(["rollback", "--yes", "--backup-dir", dir.to_str().unwrap()])
        .timeout(Duration::from_secs(600))
        .spawn();
    let log = dir.join("ks-migrate-rollback.log");
    let waiting = format!("waiting for the helm rollback an interrupted run started (pid {helm})");
    e2e::eventually(Duration::from_secs(120), || {
        std::fs::read_to_string(&log)
            .ok()?
            .contains(&waiting)
            .then_some(())
    });
    assert_eq!(
        m.history(NS, "ks-core").last().unwrap()["status"],
        "pending-rollback"
    );
    cordon_all(&m, false);
    let run = rerun.wait();
    run.assert_success()
        .assert_no_panic()
        .assert_stderr_contains("resuming the rollback")
        .assert_stdout_contains(&waiting)
        .assert_stdout_contains(": already rolled back")
        .assert_stdout_contains("outcome: rolled-back");
    assert!(!helm_rollback_running(helm));
    assert!(!pid_file.exists());
    assert_rolled_back(&m, &saved, &before);
}
