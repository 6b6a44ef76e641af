//! End-to-end tests of `kubectl ks-migrate` on kubesim: the built plugin, the helm double
//! (`tests/testhelm`, bin `fakehelm`, linked as `helm` into the test's bin dir) and `ks-upgrade-sim` (which plays the
//! ks-upgrade Jobs, since kubesim runs no pods); results are checked with the real kubectl.
//!
//! kubesim serves ks-installer's log (its `kubesim.dev/log` annotation), so the runs pass every
//! pre-check on its real path; `installer_idle_blocks_when_logs_cannot_be_read` shows the check
//! refusing when the log cannot be read.

mod common;

use common::migrate::*;
use e2e::{Env, binary, resource_versions};
use serde_json::Value;

#[test]
fn host_migrates_from_v3_4_to_v4() {
    let m = Mig::new("ks34-host");
    let secret_value = m
        .env
        .get_json(&["secret", "-n", "kubesphere-system", "redis-secret"])["data"]["auth"]
        .as_str()
        .unwrap()
        .to_string();
    let run = m.migrate().args(["host", "--yes", "-o", "json"]).run();
    run.assert_success().assert_no_panic();
    let report = run.json();
    assert_eq!(report["kind"], "Migration");
    assert_eq!(report["outcome"], "migrated");
    let states: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done"; 8]);
    // The jobs in ks-upgrade's order: core, iam, devops (800), network (100), gateway (90).
    let jobs: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["core", "iam", "devops", "network", "gateway"]);
    // Progress went to stderr as plain lines.
    run.assert_stderr_contains("[4/8] Remove the old redis");

    // v4 state.
    let revs = ks_core_revisions(&m);
    assert_eq!(
        revs.get(&3).map(String::as_str),
        Some("deployed"),
        "{revs:?}"
    );
    assert_eq!(revs.get(&2).map(String::as_str), Some("superseded"));
    assert!(!m.exists(&["deployment", "-n", "kubesphere-system", "ks-installer"]));
    let cc = m.env.get_json(&[
        "clusterconfigurations.installer.kubesphere.io",
        "-n",
        "kubesphere-system",
        "ks-installer",
    ]);
    assert_eq!(
        cc["spec"]["etcd"]["endpointIps"],
        "192.168.10.11,192.168.10.12,192.168.10.13"
    );
    for obj in [
        "deployment/redis",
        "service/redis",
        "secret/redis-secret",
        "configmap/redis-configmap",
        "persistentvolumeclaim/redis-pvc",
    ] {
        // The PVC keeps its `kubernetes.io/pvc-protection` finalizer (no controller in kubesim
        // removes it), so it may stay Terminating, as it would while redis pods remain.
        let gone = m
            .env
            .kubectl()
            .args(["get", "-n", "kubesphere-system", obj, "-o", "json"])
            .run();
        if gone.code == Some(0) {
            assert!(
                gone.json()["metadata"]["deletionTimestamp"].is_string(),
                "{obj} still exists"
            );
        }
    }
    for crd in [
        "installplans",
        "extensions",
        "extensionversions",
        "repositories",
    ] {
        assert!(
            m.exists(&["crd", &format!("{crd}.kubesphere.io")]),
            "CRD {crd}"
        );
    }
    let job = m.env.get_json(&[
        "job",
        "-n",
        "kubesphere-system",
        "prepare-upgrade",
        "--show-managed-fields",
    ]);
    let managers: Vec<&str> = job["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["manager"].as_str().unwrap())
        .collect();
    assert!(
        managers.contains(&"kubectl-ks-migrate"),
        "applied server-side by the plugin: {managers:?}"
    );
    assert!(m.exists(&[
        "configmap",
        "-n",
        "kubesphere-system",
        "ks-upgrade-prepare-config"
    ]));
    let museum = m
        .env
        .get_json(&["deployment", "-n", "kubesphere-system", "extensions-museum"]);
    assert_eq!(museum["metadata"]["labels"]["version"], "v4.1.3");

    // The helm calls, with upstream's arguments.
    let upgrades = m.calls_of("upgrade");
    assert_eq!(upgrades.len(), 1);
    let u = &upgrades[0];
    assert_eq!(
        &u[..5],
        [
            "upgrade",
            "-n",
            "kubesphere-system",
            "ks-core",
            "charts/ks-core"
        ]
    );
    assert!(has_flag_pair(u, "--set", "multicluster.role=host"), "{u:?}");
    assert!(
        has_flag_pair(u, "--set", "ha.enabled=true"),
        "cc status.redis.status is enabled: {u:?}"
    );
    assert!(has_flag_pair(
        u,
        "--set",
        "upgrade.config.validator.extensionsMuseum.enabled=true"
    ));
    assert!(has_flag_pair(u, "-f", "ks-core-values.yaml"));
    assert!(has_flag_pair(u, "--timeout", "30m"));
    let templates = m.calls_of("template");
    assert_eq!(templates.len(), 1);
    assert!(has_flag_pair(
        &templates[0],
        "-s",
        "templates/prepare-upgrade-job.yaml"
    ));
    assert!(templates[0].contains(&"--dry-run=server".to_string()));
    // `helm show crds`: the crd-stored-versions pre-check, then the apply-crds step.
    assert_eq!(m.calls_of("show").len(), 2);
    assert!(m.calls_of("del").is_empty(), "there is no ks-redis release");

    // Journal: every step done.
    let journal = m.journal();
    for s in STEPS {
        assert_eq!(journal[s]["state"], "done", "{s}: {journal:?}");
    }

    // Backup: what the manifest claims, private.
    let dirs = m.backup_dirs();
    assert_eq!(dirs.len(), 1);
    let dir = &dirs[0];
    assert_eq!(mode(dir), 0o700);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() >= 20, "{} files", files.len());
    for f in files {
        let p = dir.join(f["file"].as_str().unwrap());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        assert_eq!(sha256(&p), f["sha256"].as_str().unwrap(), "{}", p.display());
        let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            doc["items"].as_array().unwrap().len() as u64,
            f["objects"].as_u64().unwrap(),
            "{}",
            p.display()
        );
    }
    assert_eq!(
        manifest["notServed"],
        serde_json::json!([]),
        "every upstream type is served on ks34-host"
    );
    let count = |file: &str| {
        files
            .iter()
            .find(|f| f["file"] == file)
            .map(|f| f["objects"].as_u64().unwrap())
    };
    assert_eq!(
        count("backup-tenant-workspaces.yaml"),
        Some(2),
        "Workspace is served at v1alpha1 only"
    );
    assert_eq!(count("backup-cc.yaml"), Some(1));
    let names: Vec<&str> = files.iter().map(|f| f["file"].as_str().unwrap()).collect();
    for want in [
        "backup-kubesphere-system.yaml",
        "backup-cc.yaml",
        "backup-iam-users.yaml",
        "backup-tenant-workspaces.yaml",
        "backup-namespaces.yaml",
        "backup-kubesphere-devops-worker.yaml",
        "backup-redis.yaml",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // The redis Service and PVC remove-redis deletes, which upstream's set lacks.
    let redis: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("backup-redis.yaml")).unwrap())
            .unwrap();
    let kinds: Vec<(&str, &str)> = redis["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("Service", "redis"), ("PersistentVolumeClaim", "redis-pvc")]
    );
    let ks = std::fs::read_to_string(dir.join("backup-kubesphere-system.yaml")).unwrap();
    assert!(
        ks.contains("redis-secret") && ks.contains(&secret_value),
        "the Secret is backed up"
    );
    assert!(
        !run.stdout.contains(&secret_value) && !run.stderr.contains(&secret_value),
        "Secret data never printed"
    );
    let log = std::fs::read_to_string(dir.join("ks-migrate.log")).unwrap();
    assert!(
        log.contains("run: helm upgrade -n kubesphere-system ks-core"),
        "{log}"
    );
    assert!(
        log.contains("patch ClusterConfiguration kubesphere-system/ks-installer with JSON patch")
    );
    assert!(!log.contains(&secret_value));
    assert_eq!(mode(&dir.join("journal.json")), 0o600);

    // A second run sees v4 and leaves the cluster alone.
    let again = m.migrate().args(["host", "--yes"]).run();
    again
        .assert_success()
        .assert_stderr_contains("already migrated");
    assert_eq!(m.calls_of("upgrade").len(), 1);
}

#[test]
fn member_migrates_from_v3_4_to_v4() {
    let m = Mig::new("ks34-member");
    let run = m.migrate().args(["member", "--yes"]).run();
    run.assert_success().assert_no_panic();
    run.assert_stdout_contains("outcome: migrated");
    let u = &m.calls_of("upgrade")[0];
    assert!(
        has_flag_pair(u, "--set", "multicluster.role=member"),
        "{u:?}"
    );
    assert!(has_flag_pair(
        u,
        "--set",
        "upgrade.config.validator.extensionsMuseum.enabled=false"
    ));
    assert!(m.exists(&["deployment", "-n", "kubesphere-system", "ks-agent"]));
    assert!(!m.exists(&["deployment", "-n", "kubesphere-system", "ks-installer"]));
    assert_eq!(
        ks_core_revisions(&m).get(&2).map(String::as_str),
        Some("deployed")
    );
    // endpointIps was already a real address: no patch.
    let cc = m.env.get_json(&[
        "clusterconfigurations.installer.kubesphere.io",
        "-n",
        "kubesphere-system",
        "ks-installer",
    ]);
    assert_eq!(cc["spec"]["etcd"]["endpointIps"], "192.168.20.11");
    run.assert_stdout_contains("endpointIps already set to 192.168.20.11");
    let journal = m.journal();
    assert!(
        STEPS.iter().all(|s| journal[*s]["state"] == "done"),
        "{journal:?}"
    );
    assert_eq!(journal["run"]["role"], "member");
}

#[test]
fn gateways_are_upgraded_once_each_after_the_host() {
    let m = Mig::new("ks34-host");
    m.migrate().args(["host", "--yes"]).run().assert_success();

    let list = m.migrate().args(["gateway", "-o", "json"]).run();
    list.assert_success();
    let gws: Vec<String> = list.json()["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        gws,
        [
            "kubesphere-router-kubesphere-system",
            "kubesphere-router-workspace-demo"
        ]
    );

    let run = m.migrate().args(["gateway", "all", "--yes"]).run();
    run.assert_success().assert_no_panic();
    let templates: Vec<Vec<String>> = m
        .calls_of("template")
        .into_iter()
        .filter(|c| has_flag_pair(c, "-s", "templates/dynamic-upgrade-job.yaml"))
        .collect();
    assert_eq!(
        templates.len(),
        2,
        "one dynamic-upgrade per gateway: {templates:?}"
    );
    for gw in &gws {
        let want = format!(
            "upgrade.enabled=true,upgrade.dynamic=true,upgrade.config.jobs.gateway.enabled=true,upgrade.config.jobs.gateway.dynamicOptions.gatewayName={gw}"
        );
        assert_eq!(
            templates
                .iter()
                .filter(|t| has_flag_pair(t, "--set", &want))
                .count(),
            1,
            "{gw}"
        );
        assert!(!m.exists(&[
            "secret",
            "-n",
            "kubesphere-controls-system",
            &format!("sh.helm.release.v1.{gw}-ingress.v1")
        ]));
    }
    let cluster = m.env.get_json(&[
        "secret",
        "-n",
        "kubesphere-controls-system",
        "sh.helm.release.v1.kubesphere-router-cluster.v1",
    ]);
    assert_eq!(cluster["metadata"]["labels"]["status"], "deployed");
    let demo = m.env.get_json(&[
        "secret",
        "-n",
        "kubesphere-controls-system",
        "sh.helm.release.v1.kubesphere-router-workspace-demo.v2",
    ]);
    assert_eq!(demo["metadata"]["labels"]["status"], "deployed");
    let journal = m.journal();
    for gw in &gws {
        assert_eq!(journal[&format!("gateway.{gw}")]["state"], "done");
    }
    // Again: nothing left to do, no new Job.
    let again = m.migrate().args(["gateway", "all", "--yes"]).run();
    again
        .assert_success()
        .assert_stderr_contains("already upgraded");
    assert_eq!(
        m.calls_of("template").len(),
        3,
        "1 prepare-upgrade + 2 dynamic-upgrade"
    );
    // An unknown name is refused with the list.
    let bad = m
        .migrate()
        .args(["gateway", "kubesphere-router-nope", "--yes"])
        .run();
    bad.assert_code(1)
        .assert_stderr_contains("no v3 gateway `kubesphere-router-nope`");
}

#[test]
fn gateway_refuses_before_the_host_is_on_v4() {
    let m = Mig::new("ks34-host");
    let run = m.migrate().args(["gateway", "all", "--yes"]).run();
    run.assert_code(1).assert_stderr_contains("ks-core-v4");
    assert!(m.calls_of("template").is_empty());
}

#[test]
fn dry_run_changes_nothing() {
    let m = Mig::new("ks34-host");
    let before = resource_versions(&m.env, ALL_KINDS);
    assert!(before.len() > 100, "{} objects", before.len());
    let run = m.migrate().args(["host", "--dry-run"]).run();
    run.assert_success().assert_no_panic();
    let after = resource_versions(&m.env, ALL_KINDS);
    assert_eq!(before, after, "a dry run changed the cluster");
    // Every step, with its exact objects, patches and helm arguments.
    run.assert_stdout_contains("would patch Deployment kubesphere-system/ks-installer with merge patch {\"spec\":{\"replicas\":0}}");
    run.assert_stdout_contains(
        "would patch ClusterConfiguration kubesphere-system/ks-installer with JSON patch [{\"op\":\"replace\",\"path\":\"/spec/etcd/endpointIps\",\"value\":\"192.168.10.11,192.168.10.12,192.168.10.13\"}]",
    );
    run.assert_stdout_contains("would delete Deployment kubesphere-system/redis");
    run.assert_stdout_contains("would delete PersistentVolumeClaim kubesphere-system/redis-pvc");
    run.assert_stdout_contains("would apply Job kubesphere-system/prepare-upgrade");
    run.assert_stdout_contains("would apply CustomResourceDefinition installplans.kubesphere.io");
    run.assert_stdout_contains("would run helm upgrade -n kubesphere-system ks-core charts/ks-core --debug --wait --timeout 30m --set multicluster.role=host");
    run.assert_stdout_contains("would save backup-kubesphere-system.yaml");
    run.assert_stdout_contains("outcome: planned");
    // Only read-only helm calls ran.
    let subs: Vec<String> = m.helm_calls().iter().map(|c| c[0].clone()).collect();
    assert!(
        subs.iter()
            .all(|s| ["version", "template", "show"].contains(&s.as_str())),
        "{subs:?}"
    );
    assert!(m.backup_dirs().is_empty(), "a dry run writes no backup");
    assert!(!m.exists(&["configmap", "-n", "kubesphere-system", "ks-migrate-journal"]));
}

#[test]
fn a_failed_step_resumes_without_repeating_earlier_ones() {
    let m = Mig::new("ks34-host");
    let first = m
        .migrate()
        .env("TESTHELM_FAIL", "upgrade")
        .args(["host", "--yes"])
        .run();
    first.assert_code(2).assert_no_panic();
    first.assert_stderr_contains("rerun the same command to resume at step 7");
    first.assert_stderr_contains("injected failure");
    let journal = m.journal();
    for s in &STEPS[..6] {
        assert_eq!(journal[*s]["state"], "done", "{s}");
    }
    assert_eq!(journal["upgrade-ks-core"]["state"], "failed");
    assert!(!journal.contains_key("verify"));
    // Still v3.
    assert_eq!(
        ks_core_revisions(&m).get(&2).map(String::as_str),
        Some("deployed")
    );

    let second = m
        .migrate()
        .env("TESTHELM_FAIL", "upgrade")
        .args(["host", "--yes"])
        .run();
    second.assert_success();
    second.assert_stderr_contains("resuming the host migration");
    second.assert_stderr_contains("[1/8] Back up the system namespaces, the ClusterConfiguration, IAM and tenant objects — already done");
    second.assert_stderr_contains("[5/8] Run the prepare-upgrade Job — already done");
    // Earlier steps did not run again: one render, one CRD apply, two upgrade attempts, one backup.
    assert_eq!(m.calls_of("template").len(), 1);
    // `helm show crds`: each run's crd-stored-versions pre-check, and apply-crds once.
    assert_eq!(m.calls_of("show").len(), 3);
    assert_eq!(m.calls_of("upgrade").len(), 2);
    assert_eq!(
        m.backup_dirs().len(),
        1,
        "the rerun reuses the backup directory"
    );
    let journal = m.journal();
    assert!(
        STEPS.iter().all(|s| journal[*s]["state"] == "done"),
        "{journal:?}"
    );
    assert_eq!(
        ks_core_revisions(&m).get(&3).map(String::as_str),
        Some("deployed")
    );
}

#[test]
fn a_failed_job_reports_and_resumes_at_it() {
    let mut m = Mig::new("ks34-host");
    // Restart the simulator so that it fails the prepare-upgrade Job once.
    if let Some(s) = m.sim.take() {
        let _ = s.kill();
    }
    m.sim = Some(
        m.env
            .command(binary("ks-upgrade-sim"))
            .env("KS_UPGRADE_SIM_FAIL", "prepare-upgrade")
            .spawn(),
    );
    let first = m.migrate().args(["host", "--yes"]).run();
    first.assert_code(2).assert_stderr_contains(
        "Job kubesphere-system/prepare-upgrade failed: BackoffLimitExceeded",
    );
    first.assert_stderr_contains("resume at step 5");
    assert_eq!(m.journal()["prepare-upgrade"]["state"], "failed");
    let second = m.migrate().args(["host", "--yes"]).run();
    second.assert_success();
    assert_eq!(m.calls_of("template").len(), 2, "the failed step ran again");
    assert_eq!(m.calls_of("upgrade").len(), 1);
}

/// Runs `host` on a broken ks34-host and checks it refuses with `code`, changing nothing.
fn refuses(m: &Mig, args: &[&str], env: &[(&str, &str)], code: &str, message: &str) {
    let mut cmd = m.migrate().args(args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let run = cmd.run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains(code)
        .assert_stderr_contains(message);
    let report_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(code))
        .unwrap_or_else(|| panic!("no {code} row in\n{}", run.stdout));
    assert!(report_line.contains("FAIL"), "{report_line}");
    let mutating: Vec<Vec<String>> = m
        .helm_calls()
        .into_iter()
        .filter(|c| !["version", "show"].contains(&c[0].as_str()))
        .collect();
    assert!(mutating.is_empty(), "{mutating:?}");
    assert!(!m.exists(&["configmap", "-n", "kubesphere-system", "ks-migrate-journal"]));
    assert!(m.exists(&["deployment", "-n", "kubesphere-system", "ks-installer"]));
}

#[test]
fn no_default_storage_class_blocks() {
    let m = Mig::new("ks34-host");
    m.kubectl_ok(&[
        "annotate",
        "storageclass",
        "local",
        "storageclass.kubernetes.io/is-default-class=false",
        "storageclass.beta.kubernetes.io/is-default-class=false",
        "--overwrite",
    ]);
    refuses(
        &m,
        HOST,
        &[],
        "default-storage-class",
        "no default StorageClass",
    );
}

#[test]
fn a_not_ready_node_blocks() {
    let m = Mig::new("ks34-host");
    let node = m.env.get_json(&["node", "worker-3"]);
    let i = node["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["type"] == "Ready")
        .unwrap();
    m.kubectl_ok(&[
        "patch",
        "node",
        "worker-3",
        "--subresource=status",
        "--type=json",
        "-p",
        &format!("[{{\"op\":\"replace\",\"path\":\"/status/conditions/{i}/status\",\"value\":\"Unknown\"}}]"),
    ]);
    refuses(&m, HOST, &[], "nodes-ready", "worker-3 (Ready=Unknown)");
}

#[test]
fn a_pending_ks_core_upgrade_blocks_and_names_the_secret() {
    let m = Mig::new("ks34-host");
    m.env.apply(
        "apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\nmetadata:\n  name: sh.helm.release.v1.ks-core.v3\n  namespace: kubesphere-system\n  labels: {owner: helm, name: ks-core, status: pending-upgrade, version: \"3\"}\ndata:\n  release: eA==\n",
    );
    refuses(
        &m,
        HOST,
        &[],
        "ks-core-not-pending",
        "kubectl -n kubesphere-system delete secret sh.helm.release.v1.ks-core.v3",
    );
}

#[test]
fn the_wrong_role_blocks() {
    let m = Mig::new("ks34-host");
    refuses(
        &m,
        &["member", "--yes"],
        &[],
        "role-matches",
        "this cluster is a host",
    );
}

#[test]
fn kubesphere_older_than_3_4_blocks() {
    let m = Mig::new("ks34-host");
    m.kubectl_ok(&[
        "label",
        "clusterconfigurations.installer.kubesphere.io",
        "ks-installer",
        "-n",
        "kubesphere-system",
        "version=v3.3.2",
        "--overwrite",
    ]);
    refuses(
        &m,
        HOST,
        &[],
        "installer-version",
        "v3.3.2, older than v3.4.0",
    );
}

#[test]
fn an_old_helm_blocks() {
    let m = Mig::new("ks34-host");
    refuses(
        &m,
        HOST,
        &[("TESTHELM_VERSION", "v3.12.3+g3a31588")],
        "helm-version",
        "older than v3.13.0",
    );
}

#[test]
fn no_helm_on_path_blocks() {
    let m = Mig::with_helm("ks34-host", false);
    refuses(&m, HOST, &[], "helm-version", "helm not found on PATH");
}

#[test]
fn installer_idle_blocks_while_ks_installer_is_still_working() {
    let m = Mig::new("ks34-host");
    // kubesim serves a pod's `kubesim.dev/log` annotation as its log.
    let pod = installer_pod(&m);
    m.kubectl_ok(&[
        "annotate",
        "pod",
        "-n",
        "kubesphere-system",
        &pod,
        "--overwrite",
        "kubesim.dev/log=Start installing monitoring\nWaiting for all tasks to be completed ...\n",
    ]);
    refuses(
        &m,
        &["host", "--yes"],
        &[],
        "installer-idle",
        "tasks are running in ks-installer",
    );
}

#[test]
fn installer_idle_blocks_when_logs_cannot_be_read() {
    let m = Mig::new("ks34-host");
    let pod = installer_pod(&m);
    m.env.sim.faults().add(e2e::kubesim::faults::FaultRule::new(
        format!("/api/v1/namespaces/kubesphere-system/pods/{pod}/log"),
        e2e::kubesim::faults::Fault::Status {
            code: 403,
            retry_after: None,
        },
    ));
    refuses(
        &m,
        &["host", "--yes"],
        &[],
        "installer-idle",
        "cannot tell whether ks-installer is idle",
    );
}

/// The name of ks-installer's pod.
fn installer_pod(m: &Mig) -> String {
    let pods = m
        .env
        .get_json(&["pods", "-n", "kubesphere-system", "-l", "app=ks-installer"]);
    pods["items"][0]["metadata"]["name"]
        .as_str()
        .expect("a ks-installer pod")
        .to_string()
}

#[test]
fn every_failed_check_is_reported_at_once() {
    let m = Mig::new("ks34-host");
    m.kubectl_ok(&[
        "annotate",
        "storageclass",
        "local",
        "storageclass.kubernetes.io/is-default-class=false",
        "storageclass.beta.kubernetes.io/is-default-class=false",
        "--overwrite",
    ]);
    let run = m
        .migrate()
        .args(["member", "--yes"])
        .env("TESTHELM_VERSION", "v3.10.0")
        .run();
    run.assert_code(1);
    run.assert_stderr_contains(
        "3 pre-checks failed (helm-version, default-storage-class, role-matches)",
    );
}

#[test]
fn without_a_terminal_yes_is_required() {
    let m = Mig::new("ks34-host");
    let run = m.migrate().args(["host"]).run();
    run.assert_code(2).assert_stderr_contains("pass --yes");
    assert!(m.calls_of("template").is_empty());
    assert!(!m.exists(&["configmap", "-n", "kubesphere-system", "ks-migrate-journal"]));
}

#[test]
fn an_already_migrated_cluster_is_left_alone() {
    let m = Mig::new("ks41-host-migrated");
    let run = m.migrate().args(["host", "--yes"]).run();
    run.assert_success().assert_stderr_contains("already migrated: ks-core revision 3 is deployed with chart ks-core-1.1.4 and appVersion v4.1.3");
    assert!(m.helm_calls().is_empty());
}

#[test]
fn bad_values_are_usage_errors_with_their_path() {
    let m = Mig::new("ks34-host");
    m.env.write(
        "bad.yaml",
        "upgrade:\n  enabled: true\n  config:\n    jobs:\n      netwrok:\n        enabled: true\n",
    );
    let run = m.migrate().args(["host", "--yes", "-f", "bad.yaml"]).run();
    run.assert_code(2)
        .assert_stderr_contains("`upgrade.config.jobs.netwrok`: unknown job `netwrok`");
    let run = m
        .migrate()
        .args(["host", "--yes", "-f", "missing.yaml"])
        .run();
    run.assert_code(2)
        .assert_stderr_contains("values file `missing.yaml` does not exist");
}

#[test]
fn the_documented_cluster_role_is_enough_for_a_dry_run() {
    let env = Env::builder("ks34-host")
        .user("migrator", "migrator-token", &[])
        .start();
    let m = Mig::from_env(env, true);
    let role = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/rbac/ks-migrate.yaml"
    ))
    .unwrap();
    m.env.apply(&role);
    m.env.apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: migrator\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: kupgrade-ks-migrate\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: migrator\n",
    );
    let run = m
        .migrate()
        .args(["host", "--dry-run", "--token", "migrator-token"])
        .run();
    run.assert_success()
        .assert_stdout_contains("outcome: planned");
    // Without the binding the same run is forbidden.
    m.kubectl_ok(&["delete", "clusterrolebinding", "migrator"]);
    let run = m
        .migrate()
        .args(["host", "--dry-run", "--token", "migrator-token"])
        .run();
    run.assert_code(2).assert_stderr_contains("forbidden");
}
