//! The `kubesim serve` binary: starts, writes the kubeconfig once ready, serves kubectl, stops on a signal.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_writes_kubeconfig_when_ready_and_answers_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--scenario", "empty", "--kubeconfig"])
        .arg(&kc)
        .args(["--user", "bob:bob-token:ops", "--version-git", "v1.26.15"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !kc.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new("/usr/bin/kubectl")
        .args(["get", "nodes", "-o", "name"])
        .env("HOME", dir.path())
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    let version = Command::new("/usr/bin/kubectl")
        .args(["version", "-o", "json"])
        .env("HOME", dir.path())
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    let kubeconfig = std::fs::read_to_string(&kc).unwrap();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "node/node-1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&version.stdout).contains("\"gitVersion\": \"v1.26.15\""));
    assert!(
        kubeconfig.contains("certificate-authority-data:")
            && kubeconfig.contains("current-context: kubesim")
            && kubeconfig.contains("client-certificate-data:")
    );
    assert!(status.success(), "exit status {status:?}");

    let list = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .arg("scenarios")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .any(|l| l.starts_with("empty "))
    );
}

#[test]
fn serve_controllers_flag_runs_the_controllers() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--controllers", "--kubeconfig"])
        .arg(&kc)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !kc.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let kubectl = |args: &[&str]| {
        Command::new("/usr/bin/kubectl")
            .args(args)
            .env("HOME", dir.path())
            .env("KUBECONFIG", &kc)
            .output()
            .unwrap()
    };
    let created = kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ]);
    let rollout = kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        String::from_utf8_lossy(&rollout.stdout).contains("successfully rolled out"),
        "{}",
        String::from_utf8_lossy(&rollout.stderr)
    );
    assert!(status.success(), "exit status {status:?}");
}

/// `kubesim export`: the same scenario loads into a cluster through kubectl alone (here a
/// kubesim started empty stands for the real cluster): `kubectl apply` the CRDs, wait for them
/// to be Established, `kubectl apply` the objects, then `kubectl replace --subresource=status`
/// the statuses. The result matches the scenario loaded
/// directly: every pod's phase and readiness, every node's conditions, every Deployment's
/// status, and the status of KubeSphere's Cluster-less ClusterConfiguration.
#[test]
fn exported_scenario_loads_through_kubectl_as_into_a_real_cluster() {
    let export = |part: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_kubesim"))
            .args(["export", "ks34-member", "--part", part])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (crds, objects, statuses) = (export("crds"), export("objects"), export("status"));
    assert!(crds.contains("kind: CustomResourceDefinition") && !crds.contains("kind: Pod"));
    assert!(
        !objects.contains("KubesimScenario") && !objects.contains("kind: CustomResourceDefinition")
    );
    assert!(statuses.contains("kind: Pod") && !statuses.contains("kind: ConfigMap"));

    let target = common::Env::start(kubesim::Sim::builder().scenario("empty"));
    target.ok_stdin(&["apply", "-f", "-"], Some(&crds));
    target.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=30s",
    ]);
    let applied = target.kubectl_stdin(&["apply", "-f", "-"], Some(&objects));
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let replaced = target.kubectl_stdin(
        &["replace", "--subresource=status", "-f", "-"],
        Some(&statuses),
    );
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );

    let direct = common::Env::start(kubesim::Sim::builder().scenario("ks34-member"));
    for (kind, template) in [
        (
            "pods",
            r#"{range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.phase} {.status.containerStatuses[*].ready}{"\n"}{end}"#,
        ),
        (
            "nodes",
            r#"{range .items[*]}{.metadata.name} {.status.conditions[*].type}={.status.conditions[*].status} {.status.nodeInfo.kubeletVersion}{"\n"}{end}"#,
        ),
        (
            "deployments",
            r#"{range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.readyReplicas}/{.status.replicas}{"\n"}{end}"#,
        ),
        (
            "clusterconfigurations",
            r#"{range .items[*]}{.metadata.name} {.status.core.version}{"\n"}{end}"#,
        ),
    ] {
        let args = ["get", kind, "-A", "-o", &format!("jsonpath={template}")];
        let want = direct.ok(&args);
        let got = target.ok(&args);
        // The target also holds what `empty` started with (a node, namespaces): compare the
        // scenario's lines.
        for line in want.lines() {
            assert!(
                got.lines().any(|l| l == line),
                "{kind}: `{line}` missing after export:\n{got}"
            );
        }
        assert!(!want.is_empty(), "{kind}: nothing to compare");
    }
}
