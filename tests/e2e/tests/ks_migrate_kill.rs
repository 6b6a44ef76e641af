//! The failure matrix (issue 10), mutations: `kubectl ks-migrate host` killed with SIGKILL
//! during each of its eight steps, then rerun.
//!
//! Each step is held in progress by a kubesim latency fault on an API call the step makes (or,
//! for helm, by `TESTHELM_SLEEP`), the test waits until the journal ConfigMap shows the step
//! `running` and the held call has arrived, kills the process, and reruns the same command.
//! The rerun must exit 0; the final cluster state must equal that of an uninterrupted run
//! (compared object by object, without what differs between any two runs: resourceVersions,
//! uids, timestamps); no destructive step may run twice (helm calls from the test helm's log,
//! API writes from kubesim's counters, both compared with the uninterrupted run's); the first
//! run's backup directory must be reused and still match its `manifest.json`.

mod common;

use std::{collections::BTreeMap, path::PathBuf, sync::OnceLock, time::Duration};

use common::migrate::*;
use e2e::{
    Env, Run, eventually,
    kubesim::{Fault, FaultRule},
};
use serde_json::{Value, json};

const NS: &str = "kubesphere-system";

/// Kinds snapshotted: everything `ALL_KINDS` names, plus the RBAC and KubeSphere objects the
/// backup reads (the migration must leave them alone).
fn snapshot_kinds() -> String {
    format!(
        "{ALL_KINDS},roles,rolebindings,clusterroles,clusterrolebindings,users.iam.kubesphere.io,globalroles.iam.kubesphere.io,globalrolebindings.iam.kubesphere.io,workspacetemplates.tenant.kubesphere.io,clusters.cluster.kubesphere.io"
    )
}

/// Removes timestamps (condition transition times, Job start and completion) at any depth.
fn drop_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in [
                "lastTransitionTime",
                "lastProbeTime",
                "lastUpdateTime",
                "startTime",
                "completionTime",
            ] {
                m.remove(k);
            }
            m.values_mut().for_each(drop_times);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_times),
        _ => {}
    }
}

/// Drops what differs between any two runs of the same migration (ids, versions, times).
fn normalize(mut obj: Value) -> Value {
    drop_times(&mut obj);
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    if let Some(m) = obj["metadata"].as_object_mut() {
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
        if m.contains_key("deletionTimestamp") {
            m.insert("deletionTimestamp".into(), json!("<set>"));
        }
        if let Some(l) = m.get_mut("labels").and_then(Value::as_object_mut) {
            l.remove("modifiedAt");
        }
        if let Some(refs) = m.get_mut("ownerReferences").and_then(Value::as_array_mut) {
            for r in refs {
                if let Some(r) = r.as_object_mut() {
                    r.remove("uid");
                }
            }
        }
    }
    match kind.as_str() {
        // The payload holds the release's timestamps; status and revision are in the labels.
        "Secret" if obj["type"] == "helm.sh/release.v1" => {
            obj["data"] = json!("<helm release payload>");
        }
        // Only which conditions are true.
        "Job" => {
            let conds: Vec<Value> = obj["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["status"] == "True")
                .map(|c| c["type"].clone())
                .collect();
            obj["status"] = json!({ "true": conds });
        }
        // The journal: each step's state; the run's role.
        "ConfigMap" if obj["metadata"]["name"] == "ks-migrate-journal" => {
            let mut data = serde_json::Map::new();
            for (k, v) in obj["data"].as_object().cloned().unwrap_or_default() {
                let v: Value = serde_json::from_str(v.as_str().unwrap_or("{}")).unwrap_or_default();
                let keep = if k == "run" {
                    v["role"].clone()
                } else {
                    v["state"].clone()
                };
                data.insert(k, keep);
            }
            obj["data"] = Value::Object(data);
        }
        _ => {}
    }
    obj
}

/// Every object of [`snapshot_kinds`], normalized, by `Kind/namespace/name`.
fn snapshot(env: &Env) -> BTreeMap<String, Value> {
    let list = env.get_json(&[&snapshot_kinds(), "-A"]);
    let mut out = BTreeMap::new();
    for item in list["items"].as_array().cloned().unwrap_or_default() {
        let m = &item["metadata"];
        let key = format!(
            "{}/{}/{}",
            item["kind"].as_str().unwrap_or(""),
            m["namespace"].as_str().unwrap_or(""),
            m["name"].as_str().unwrap_or("")
        );
        out.insert(key, normalize(item));
    }
    out
}

/// The keys whose values differ (or exist on one side only), for messages.
fn diff(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> Vec<String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&Value>| {
                let t = v.map_or("<absent>".to_string(), Value::to_string);
                t.chars().take(600).collect::<String>()
            };
            format!("{k}:\n  {}\n  {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

/// Write requests (not GET) by route, from kubesim's counters.
fn writes(env: &Env) -> BTreeMap<String, u64> {
    env.sim
        .counters()
        .by_route
        .into_iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .collect()
}

/// What an uninterrupted `host` run on ks34-host leaves, and how it got there.
struct Reference {
    before: BTreeMap<String, Value>,
    after: BTreeMap<String, Value>,
    writes: BTreeMap<String, u64>,
    helm: BTreeMap<String, usize>,
}

/// Helm calls by subcommand, without the read-only `version` and `show` (every run's
/// pre-checks make them: helm-version, crd-stored-versions).
fn helm_counts(m: &Mig) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in m
        .helm_calls()
        .into_iter()
        .filter(|c| c[0] != "version" && c[0] != "show")
    {
        *out.entry(c[0].clone()).or_default() += 1;
    }
    out
}

fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let m = Mig::new("ks34-host");
        let before = snapshot(&m.env);
        m.migrate().args(HOST).run().assert_success();
        Reference {
            before,
            after: snapshot(&m.env),
            writes: writes(&m.env),
            helm: helm_counts(&m),
        }
    })
}

/// A step's journal state, read with the real kubectl; `None` before the journal exists.
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

/// Starts `host`, waits until `step` is `running` in the journal and `arrived()` holds (the
/// held call has reached the server or helm), then sends SIGKILL.
fn kill_during(m: &Mig, step: &str, env: &[(&str, &str)], arrived: impl Fn() -> bool) -> Run {
    let mut cmd = m.migrate().args(HOST);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let running = cmd.spawn();
    eventually(Duration::from_secs(60), || {
        (step_state(m, step).as_deref() == Some("running") && arrived()).then_some(())
    });
    let killed = running.kill();
    assert_eq!(killed.code, None, "killed by the signal: {killed:?}");
    assert_eq!(
        step_state(m, step).as_deref(),
        Some("running"),
        "{step} is left running"
    );
    killed
}

/// The backup directory and what its files hold right after the kill.
struct BackupSeen {
    dir: PathBuf,
    manifest: Option<String>,
}

fn backup_seen(m: &Mig) -> BackupSeen {
    let dirs = m.backup_dirs();
    assert_eq!(dirs.len(), 1, "one backup directory: {dirs:?}");
    let journal = m.journal();
    assert_eq!(
        journal["run"]["backupDir"].as_str().map(PathBuf::from),
        Some(std::fs::canonicalize(&dirs[0]).unwrap()),
        "the journal names the backup directory"
    );
    BackupSeen {
        manifest: std::fs::read_to_string(dirs[0].join("manifest.json")).ok(),
        dir: dirs[0].clone(),
    }
}

/// The backup after the rerun: the same single directory, every file as `manifest.json` says
/// (sha256, object count, mode 0600), and, when the killed run had finished it, untouched.
fn assert_backup_intact(m: &Mig, seen: &BackupSeen) {
    assert_eq!(
        m.backup_dirs(),
        std::slice::from_ref(&seen.dir),
        "the rerun reused it"
    );
    let dir = &seen.dir;
    assert_eq!(mode(dir), 0o700);
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    if let Some(before) = &seen.manifest {
        assert_eq!(&text, before, "the rerun did not rewrite the backup");
    }
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() >= 20, "{} files", files.len());
    for f in files {
        let p = dir.join(f["file"].as_str().unwrap());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        assert_eq!(sha256(&p), f["sha256"].as_str().unwrap(), "{}", p.display());
        let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            doc["items"].as_array().map(Vec::len),
            f["objects"].as_u64().map(|n| n as usize),
            "{}",
            p.display()
        );
    }
    let ks = std::fs::read_to_string(dir.join("backup-kubesphere-system.yaml")).unwrap();
    assert!(
        ks.contains("name: redis-secret"),
        "the backup holds what the migration removed"
    );
    assert_eq!(mode(&dir.join("journal.json")), 0o600);
    assert_eq!(mode(&dir.join("ks-migrate.log")), 0o600);
}

/// Reruns the same command and checks everything the issue promises. `extra_writes` and
/// `extra_helm` are what the kill-and-rerun may add to an uninterrupted run's API writes and
/// helm calls (beyond the journal's own writes), each explained at the call site.
fn rerun_converges(
    m: &Mig,
    initial: &BTreeMap<String, Value>,
    seen: &BackupSeen,
    extra_writes: &[(&str, u64)],
    extra_helm: &[(&str, usize)],
) -> Run {
    let r = reference();
    assert_eq!(&r.before, initial, "both clusters started alike");
    let rerun = m.migrate().args(HOST).run();
    rerun.assert_success().assert_no_panic();
    rerun.assert_stderr_contains("resuming the host migration");
    let after = snapshot(&m.env);
    let d = diff(&r.after, &after);
    assert!(
        d.is_empty(),
        "the final state differs from an uninterrupted run's:\n{}",
        d.join("\n")
    );
    // The v4 state, spelled out.
    let revs = ks_core_revisions(m);
    assert_eq!(
        revs.get(&3).map(String::as_str),
        Some("deployed"),
        "{revs:?}"
    );
    assert_eq!(revs.len(), 3, "exactly one upgrade revision: {revs:?}");
    assert!(!m.exists(&["deployment", "-n", NS, "ks-installer"]));
    for s in STEPS {
        assert_eq!(m.journal()[s]["state"], "done", "{s}");
    }
    // Nothing that existed before was lost, except what an uninterrupted run removes too.
    let removed_ref: Vec<&String> = r
        .before
        .keys()
        .filter(|k| !r.after.contains_key(*k))
        .collect();
    let removed: Vec<&String> = r
        .before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .collect();
    assert_eq!(removed, removed_ref);
    // Helm calls: the uninterrupted run's, plus the explained extras.
    let mut want = r.helm.clone();
    for (sub, n) in extra_helm {
        *want.entry(sub.to_string()).or_default() += n;
    }
    assert_eq!(helm_counts(m), want, "helm calls");
    // API writes (journal and Lease excluded: the rerun writes the journal more often, and
    // takes over the killed run's Lease), same.
    let journal_route = "PATCH /api/v1/namespaces/{namespace}/configmaps/{name}";
    let strip = |w: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        w.iter()
            .filter(|(k, _)| k.as_str() != journal_route && !k.contains("/leases"))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut want = strip(&r.writes);
    for (route, n) in extra_writes {
        *want.entry(route.to_string()).or_default() += n;
    }
    assert_eq!(strip(&writes(&m.env)), want, "API writes");
    assert_backup_intact(m, seen);
    // A third run has nothing left to do.
    m.migrate()
        .args(HOST)
        .run()
        .assert_success()
        .assert_stderr_contains("already migrated");
    rerun
}

/// A fresh ks34-host prepared for ks-migrate, and its initial state.
fn cluster() -> (Mig, BTreeMap<String, Value>) {
    let _ = reference();
    let m = Mig::new("ks34-host");
    let initial = snapshot(&m.env);
    (m, initial)
}

/// Holds the next `method path` for [`HOLD_MS`]; the closure tells when it has arrived.
fn hold<'a>(m: &'a Mig, method: &str, path: &str) -> impl Fn() -> bool + 'a {
    m.env.sim.faults().add(
        FaultRule::new(path, Fault::Latency { ms: HOLD_MS })
            .method(method)
            .exact()
            .times(1),
    );
    let route = format!("{method} {}", e2e::kubesim::faults::route_pattern(path));
    let base = m.env.sim.counters().count(&route);
    move || m.env.sim.counters().count(&route) > base
}

/// Long enough that the kill always lands inside the hold.
const HOLD_MS: u64 = 20_000;

/// A deployment's `spec.replicas`.
fn replicas(m: &Mig, name: &str) -> Value {
    m.env.get_json(&["deployment", "-n", NS, name])["spec"]["replicas"].clone()
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

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

const PATCH_DEPLOYMENT: &str = "PATCH /apis/apps/v1/namespaces/{namespace}/deployments/{name}";

#[test]
fn killed_during_backup_then_rerun_converges() {
    let (m, initial) = cluster();
    let arrived = hold(&m, "GET", "/apis/iam.kubesphere.io/v1alpha2/users");
    kill_during(&m, "backup", &[], arrived);
    let seen = backup_seen(&m);
    assert!(
        seen.manifest.is_none(),
        "killed before the backup was written"
    );
    assert_eq!(replicas(&m, "ks-installer"), 1, "nothing changed yet");
    let rerun = rerun_converges(&m, &initial, &seen, &[], &[]);
    // Not destructive: the backup simply runs again, into the same directory.
    rerun.assert_stderr_contains(
        "[1/8] Back up the system namespaces, the ClusterConfiguration, IAM and tenant objects — ",
    );
}

#[test]
fn killed_during_scale_installer_then_rerun_converges() {
    let (m, initial) = cluster();
    let arrived = hold(
        &m,
        "PATCH",
        "/apis/apps/v1/namespaces/kubesphere-system/deployments/ks-installer",
    );
    kill_during(&m, "scale-installer", &[], arrived);
    let seen = backup_seen(&m);
    assert!(seen.manifest.is_some(), "the backup was done");
    // kubesim drops a held request when its client dies: the scale never happened.
    assert_eq!(replicas(&m, "ks-installer"), 1);
    // The held PATCH was counted; the rerun sends it again (once): +1.
    rerun_converges(&m, &initial, &seen, &[(PATCH_DEPLOYMENT, 1)], &[]);
}

#[test]
fn killed_during_fill_etcd_endpoints_then_rerun_converges() {
    let (m, initial) = cluster();
    let path = "/apis/installer.kubesphere.io/v1alpha1/namespaces/kubesphere-system/clusterconfigurations/ks-installer";
    let arrived = hold(&m, "PATCH", path);
    kill_during(&m, "fill-etcd-endpoints", &[], arrived);
    let seen = backup_seen(&m);
    assert_eq!(replicas(&m, "ks-installer"), 0, "step 2 was done");
    let cc = m.env.get_json(&[
        "clusterconfigurations.installer.kubesphere.io",
        "-n",
        NS,
        "ks-installer",
    ]);
    assert_eq!(
        cc["spec"]["etcd"]["endpointIps"], "localhost",
        "not patched yet"
    );
    rerun_converges(
        &m,
        &initial,
        &seen,
        &[("PATCH /apis/installer.kubesphere.io/v1alpha1/namespaces/{namespace}/clusterconfigurations/{name}", 1)],
        &[],
    )
    .assert_stderr_contains("[2/8] Scale ks-installer to 0 — already done");
}

#[test]
fn killed_during_remove_redis_then_rerun_converges() {
    let (m, initial) = cluster();
    // Held at the third delete: Deployment and Service redis are gone by then.
    let arrived = hold(
        &m,
        "DELETE",
        "/api/v1/namespaces/kubesphere-system/secrets/redis-secret",
    );
    kill_during(&m, "remove-redis", &[], arrived);
    let seen = backup_seen(&m);
    assert!(!m.exists(&["deployment", "-n", NS, "redis"]));
    assert!(!m.exists(&["service", "-n", NS, "redis"]));
    assert!(m.exists(&["secret", "-n", NS, "redis-secret"]));
    assert!(m.exists(&["configmap", "-n", NS, "redis-configmap"]));
    // The rerun deletes only what is left: the deleted Deployment and Service are not deleted
    // again (no second DELETE on their routes); the held Secret DELETE is sent once more.
    rerun_converges(
        &m,
        &initial,
        &seen,
        &[("DELETE /api/v1/namespaces/{namespace}/secrets/{name}", 1)],
        &[],
    );
}

#[test]
fn killed_while_applying_the_prepare_upgrade_job_then_rerun_converges() {
    let (m, initial) = cluster();
    let arrived = hold(
        &m,
        "PATCH",
        "/apis/batch/v1/namespaces/kubesphere-system/jobs/prepare-upgrade",
    );
    kill_during(&m, "prepare-upgrade", &[], arrived);
    let seen = backup_seen(&m);
    assert!(
        !m.exists(&["job", "-n", NS, "prepare-upgrade"]),
        "the Job was never created"
    );
    assert!(
        m.exists(&["pvc", "-n", NS, "ks-upgrade"]),
        "the PVC was applied"
    );
    // The rerun finds no Complete Job and runs the step again: one more render, its
    // `delete --ignore-not-found` of the Job once more (a 404), the ConfigMap applied again
    // (same content) and the held Job apply sent again. The PVC is not applied again: the
    // chart renders it only when absent.
    rerun_converges(
        &m,
        &initial,
        &seen,
        &[
            (
                "DELETE /apis/batch/v1/namespaces/{namespace}/jobs/{name}",
                1,
            ),
            ("PATCH /apis/batch/v1/namespaces/{namespace}/jobs/{name}", 1),
        ],
        &[("template", 1)],
    )
    .assert_stderr_contains("[4/8] Remove the old redis — already done");
}

#[test]
fn killed_while_waiting_for_the_prepare_upgrade_job_then_rerun_converges() {
    let (m, initial) = cluster();
    // ks-upgrade-sim's completion of the Job is held: ks-migrate is waiting for it.
    let arrived = hold(
        &m,
        "PATCH",
        "/apis/batch/v1/namespaces/kubesphere-system/jobs/prepare-upgrade/status",
    );
    kill_during(&m, "prepare-upgrade", &[], arrived);
    let seen = backup_seen(&m);
    // The Job finishes without ks-migrate (ks-upgrade-sim retries after its request was held).
    eventually(Duration::from_secs(60), || {
        let j = m.env.get_json(&["job", "-n", NS, "prepare-upgrade"]);
        j["status"]["conditions"]
            .as_array()
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Complete" && c["status"] == "True")
            })
            .then_some(())
    });
    // The rerun sees the Job Complete and does not run it again: no second render, no
    // second Job.
    rerun_converges(&m, &initial, &seen, &[], &[]).assert_stderr_contains(
        "[5/8] Run the prepare-upgrade Job — found done in the cluster after an interrupted run",
    );
}

#[test]
fn killed_during_apply_crds_then_rerun_converges() {
    let (m, initial) = cluster();
    // Held at the second CRD: the first is applied.
    let arrived = hold(
        &m,
        "PATCH",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/extensions.kubesphere.io",
    );
    kill_during(&m, "apply-crds", &[], arrived);
    let seen = backup_seen(&m);
    assert!(m.exists(&["crd", "installplans.kubesphere.io"]));
    assert!(!m.exists(&["crd", "extensions.kubesphere.io"]));
    // Not destructive: `helm show crds` again (not counted: every run's pre-check reads it
    // too) and the four server-side applies again (the first is a no-op), the held one sent
    // once more.
    rerun_converges(
        &m,
        &initial,
        &seen,
        &[(
            "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
            2,
        )],
        &[],
    );
}

const HELM_HOLD: &str = "upgrade:4000";

/// Kills ks-migrate while the test helm holds `helm upgrade` before it does anything; returns
/// the orphaned helm's pid (a SIGKILL reaches ks-migrate only; its helm child goes on).
fn kill_during_helm_upgrade(m: &Mig) -> (BackupSeen, u32) {
    let running = m
        .migrate()
        .args(HOST)
        .env("TESTHELM_SLEEP", HELM_HOLD)
        .spawn();
    let pid = running.id();
    let helm = eventually(Duration::from_secs(60), || {
        if step_state(m, "upgrade-ks-core").as_deref() != Some("running")
            || m.calls_of("upgrade").is_empty()
        {
            return None;
        }
        children(pid, "upgrade").first().copied()
    });
    let killed = running.kill();
    assert_eq!(killed.code, None);
    assert_eq!(
        ks_core_revisions(m).len(),
        2,
        "helm has not written anything yet"
    );
    (backup_seen(m), helm)
}

#[test]
fn killed_during_helm_upgrade_then_rerun_after_helm_finished_converges() {
    let (m, initial) = cluster();
    let (seen, helm) = kill_during_helm_upgrade(&m);
    // The orphaned helm finishes the upgrade on its own.
    eventually(Duration::from_secs(60), || (!alive(helm)).then_some(()));
    assert_eq!(
        ks_core_revisions(&m).get(&3).map(String::as_str),
        Some("deployed")
    );
    // The rerun finds ks-core deployed at v4: helm upgrade ran once in all.
    rerun_converges(&m, &initial, &seen, &[], &[])
        .assert_stderr_contains("found done in the cluster after an interrupted run");
}

#[test]
fn killed_with_its_helm_during_helm_upgrade_then_rerun_converges() {
    let (m, initial) = cluster();
    let (seen, helm) = kill_during_helm_upgrade(&m);
    // The whole process group dies (a closed session, a killed container): helm too, before
    // it did anything.
    std::process::Command::new("kill")
        .args(["-KILL", &helm.to_string()])
        .status()
        .unwrap();
    eventually(Duration::from_secs(10), || (!alive(helm)).then_some(()));
    assert_eq!(ks_core_revisions(&m).len(), 2);
    // The rerun upgrades: helm upgrade was called twice, the first call did nothing.
    rerun_converges(&m, &initial, &seen, &[], &[("upgrade", 1)]);
}

#[test]
fn killed_during_helm_upgrade_then_rerun_at_once_waits_and_does_not_upgrade_twice() {
    let (m, initial) = cluster();
    let (seen, helm) = kill_during_helm_upgrade(&m);
    assert!(alive(helm), "the orphaned helm is still holding");
    // Rerun while the orphaned helm is still running: the rerun waits for it (it used to start
    // a second `helm upgrade` at once, and the orphan then upgraded again to revision 4), then
    // finds ks-core deployed at v4. helm upgrade ran once in all.
    let rerun = rerun_converges(&m, &initial, &seen, &[], &[]);
    rerun.assert_stderr_contains(&format!(
        "the helm upgrade of ks-core started by the interrupted run (pid {helm}) is still running; waiting for it to finish before resuming"
    ));
    rerun.assert_stderr_contains("found done in the cluster after an interrupted run");
    assert!(!alive(helm));
    assert_eq!(ks_core_revisions(&m).len(), 3, "no second upgrade revision");
}

#[test]
fn killed_during_verify_then_rerun_converges() {
    let (m, initial) = cluster();
    let arrived = hold(
        &m,
        "GET",
        "/api/v1/namespaces/kubesphere-system/secrets/sh.helm.release.v1.ks-core.v3",
    );
    kill_during(&m, "verify", &[], arrived);
    let seen = backup_seen(&m);
    assert_eq!(m.journal()["upgrade-ks-core"]["state"], "done");
    rerun_converges(&m, &initial, &seen, &[], &[]).assert_stderr_contains(
        "[7/8] helm upgrade ks-core (with its pre- and post-upgrade hook Jobs) — already done",
    );
}

/// Ctrl-C at a terminal sends SIGINT to the whole foreground process group. ks-migrate stops
/// ("interrupted", exit 2), but the `helm upgrade` it started runs in its own process group and
/// finishes: stopping it half-way is what leaves a release `pending-upgrade`. The rerun then
/// finds the upgrade done.
#[test]
fn ctrl_c_during_helm_upgrade_stops_ks_migrate_but_not_its_helm() {
    let (m, initial) = cluster();
    let running = m
        .migrate()
        .args(HOST)
        .env("TESTHELM_SLEEP", HELM_HOLD)
        .process_group()
        .spawn();
    let pid = running.id();
    let helm = eventually(Duration::from_secs(60), || {
        if step_state(&m, "upgrade-ks-core").as_deref() != Some("running")
            || m.calls_of("upgrade").is_empty()
        {
            return None;
        }
        children(pid, "upgrade").first().copied()
    });
    std::process::Command::new("kill")
        .args(["-s", "INT", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    let stopped = running.wait();
    stopped.assert_code(2).assert_no_panic();
    stopped.assert_stderr_contains("error: interrupted");
    stopped.assert_stderr_contains("ks-migrate resumes at the step it stopped at");
    assert!(alive(helm), "helm did not get the terminal's SIGINT");
    eventually(Duration::from_secs(60), || (!alive(helm)).then_some(()));
    assert_eq!(
        ks_core_revisions(&m).get(&3).map(String::as_str),
        Some("deployed"),
        "helm finished the upgrade on its own"
    );
    let seen = backup_seen(&m);
    rerun_converges(&m, &initial, &seen, &[], &[])
        .assert_stderr_contains("found done in the cluster after an interrupted run");
}
