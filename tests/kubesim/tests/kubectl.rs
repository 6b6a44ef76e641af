//! The real `/usr/bin/kubectl` against kubesim: read, write, patch, wait, auth and CRDs.

mod common;

use common::Env;
use kubesim::Sim;
use serde_json::{Value, json};
use std::time::Duration;

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
";

#[test]
fn version_api_resources_and_get_forms() {
    let env = Env::empty();
    let v = env.ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.30.6");

    let res = env.ok(&["api-resources"]);
    assert!(
        res.lines().any(|l| l.starts_with("deployments")
            && l.contains("deploy")
            && l.contains("apps/v1")
            && l.contains("Deployment")),
        "{res}"
    );
    assert!(
        res.lines()
            .any(|l| l.starts_with("poddisruptionbudgets") && l.contains("pdb")),
        "{res}"
    );

    let table = env.ok(&["get", "nodes"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[2], row[4]),
        ("node-1", "Ready", "control-plane", "v1.30.6")
    );

    let ns: Value = serde_json::from_str(&env.ok(&["get", "ns", "-o", "json"])).unwrap();
    let names: Vec<&str> = ns["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );

    let y = env.ok(&["get", "ns", "kube-system", "-o", "yaml"]);
    assert!(
        y.contains("name: kube-system") && y.contains("phase: Active"),
        "{y}"
    );
    assert_eq!(
        env.ok(&[
            "get",
            "node",
            "node-1",
            "-o",
            "jsonpath={.status.nodeInfo.kubeletVersion}"
        ]),
        "v1.30.6"
    );
    assert_eq!(
        env.ok(&[
            "get",
            "ns",
            "--field-selector",
            "metadata.name=default",
            "-o",
            "name"
        ]),
        "namespace/default\n"
    );
    assert_eq!(
        env.ok(&[
            "get",
            "ns",
            "-l",
            "kubernetes.io/metadata.name in (kube-public,kube-system)",
            "-o",
            "name"
        ]),
        "namespace/kube-public\nnamespace/kube-system\n"
    );

    let raw: Value =
        serde_json::from_str(&env.ok(&["get", "--raw", "/api/v1/namespaces/default"])).unwrap();
    assert_eq!(raw["kind"], "Namespace");
    assert!(raw["metadata"]["uid"].is_string() && raw["metadata"]["resourceVersion"].is_string());
}

#[test]
fn create_apply_label_annotate_patch_delete() {
    let env = Env::empty();
    assert_eq!(
        env.ok_stdin(&["apply", "-f", "-"], Some(DEPLOY)),
        "deployment.apps/web created\n"
    );
    let changed = DEPLOY.replace("nginx:1.25", "nginx:1.27");
    assert_eq!(
        env.ok_stdin(&["apply", "-f", "-"], Some(&changed)),
        "deployment.apps/web configured\n"
    );
    assert_eq!(
        env.ok_stdin(&["apply", "-f", "-"], Some(&changed)),
        "deployment.apps/web unchanged\n"
    );
    assert_eq!(
        env.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}"
        ]),
        "nginx:1.27 2"
    );
    let mf = env.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    assert!(mf.contains("kubectl-client-side-apply"), "{mf}");

    assert_eq!(
        env.ok(&["label", "deploy", "web", "tier=fe"]),
        "deployment.apps/web labeled\n"
    );
    assert_eq!(
        env.ok(&["annotate", "deploy", "web", "note=hi"]),
        "deployment.apps/web annotated\n"
    );
    assert_eq!(
        env.ok(&[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3}}"#
        ]),
        "deployment.apps/web patched\n"
    );
    assert_eq!(
        env.ok(&[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#
        ]),
        "deployment.apps/web patched\n"
    );
    env.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}"#,
    ]);
    let got = env.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].name} {.metadata.labels.tier} {.metadata.annotations.note}"]);
    assert_eq!(got, "4 nginx side fe hi");

    let t = env.ok(&["get", "deploy"]);
    let header: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(t.lines().nth(1).unwrap().starts_with("web    0/4"), "{t}");

    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm1\ndata:\n  k: v\n";
    assert_eq!(
        env.ok_stdin(&["create", "-f", "-"], Some(cm)),
        "configmap/cm1 created\n"
    );
    let dup = env.kubectl_stdin(&["create", "-f", "-"], Some(cm));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("configmaps \"cm1\" already exists"));

    assert_eq!(
        env.ok(&["delete", "deploy", "web"]),
        "deployment.apps \"web\" deleted\n"
    );
    assert!(
        env.fails(&["get", "deploy", "web"])
            .contains("deployments.apps \"web\" not found")
    );
    env.ok(&["create", "namespace", "gone"]);
    env.ok(&[
        "create",
        "configmap",
        "x",
        "-n",
        "gone",
        "--from-literal=a=b",
    ]);
    env.ok(&["delete", "namespace", "gone"]);
    assert!(
        env.sim
            .get_json("/api/v1/namespaces/gone/configmaps/x")
            .is_err()
    );
}

#[test]
fn all_namespaces_and_chunked_lists() {
    let env = Env::empty();
    for i in 0..7 {
        env.ok(&[
            "create",
            "configmap",
            &format!("c{i}"),
            "-n",
            if i % 2 == 0 { "default" } else { "kube-system" },
        ]);
    }
    let out = env.ok(&["get", "cm", "-A", "--chunk-size=2", "-o", "name"]);
    assert_eq!(out.lines().count(), 7);
    let t = env.ok(&["get", "cm", "-A", "--chunk-size=3"]);
    assert!(t.starts_with("NAMESPACE"), "{t}");
    assert_eq!(t.lines().count(), 8);
    let paged = env.sim.counters().count("GET /api/v1/configmaps");
    assert!(paged >= 4 + 3, "expected paged requests, got {paged}");
}

#[test]
fn wait_for_condition_sees_a_status_flip() {
    let env = Env::empty();
    env.ok(&["run", "p1", "--image=nginx"]);
    let kc = env.kubeconfig.clone();
    let home = env.dir.path().to_path_buf();
    let waiter = std::thread::spawn(move || {
        std::process::Command::new("/usr/bin/kubectl")
            .args(["wait", "--for=condition=Ready", "pod/p1", "--timeout=30s"])
            .env("HOME", home)
            .env("KUBECONFIG", kc)
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(1500));
    env.sim
        .patch_status(
            "/api/v1/namespaces/default/pods/p1",
            &json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
        )
        .unwrap();
    let out = waiter.join().unwrap();
    assert!(
        out.status.success(),
        "wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pod/p1 condition met\n"
    );
}

#[test]
fn rbac_impersonation_and_client_certs() {
    let env = Env::start(
        Sim::builder()
            .scenario("empty")
            .user("alice", "alice-token", &["devs"]),
    );
    let err = env.fails(&["--as", "alice", "get", "nodes"]);
    assert!(err.contains(r#"nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope"#), "{err}");
    let no = env.kubectl(&[
        "auth", "can-i", "list", "pods", "--as", "alice", "-n", "default",
    ]);
    assert_eq!(
        (
            no.status.code(),
            String::from_utf8_lossy(&no.stdout).as_ref()
        ),
        (Some(1), "no\n")
    );
    env.ok_stdin(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: node-reader}\nrules:\n- apiGroups: [\"\"]\n  resources: [nodes]\n  verbs: [get, list]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: devs-read-nodes}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}\nsubjects:\n- {kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}\n",
        ),
    );
    assert!(
        env.ok(&[
            "--token",
            "alice-token",
            "--user",
            "",
            "get",
            "nodes",
            "-o",
            "name"
        ])
        .contains("node/node-1")
    );
    assert!(
        env.ok(&[
            "--as",
            "alice",
            "--as-group",
            "devs",
            "get",
            "nodes",
            "-o",
            "name"
        ])
        .contains("node/node-1")
    );
    let err = env.fails(&["--token", "alice-token", "delete", "node", "node-1"]);
    assert!(
        err.contains(r#"nodes "node-1" is forbidden: User "alice" cannot delete resource "nodes""#),
        "{err}"
    );
    assert!(
        env.fails(&["--token", "wrong", "get", "ns"])
            .contains("Unauthorized")
    );
    assert!(
        env.ok(&["--context", "kubesim-cert", "get", "ns", "-o", "name"])
            .contains("namespace/default")
    );
    let who = env.ok(&[
        "--context",
        "kubesim-cert",
        "auth",
        "can-i",
        "delete",
        "pods",
    ]);
    assert_eq!(who, "yes\n");
}

const CLUSTER_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusters.cluster.kubesphere.io
spec:
  group: cluster.kubesphere.io
  scope: Cluster
  names: {kind: Cluster, listKind: ClusterList, plural: clusters, singular: cluster}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {}
    additionalPrinterColumns:
    - {jsonPath: .spec.provider, name: Provider, type: string}
    - {jsonPath: .status.kubernetesVersion, name: Version, type: string}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: member-a
spec: {provider: kubesphere}
status:
  kubernetesVersion: v1.26.15
  conditions:
  - {type: Ready, status: \"True\"}
  - {type: Schedulable, status: \"False\", reason: Upgrading}
";

#[test]
fn crd_without_status_subresource() {
    let env = Env::empty();
    env.sim.apply_yaml(CLUSTER_CRD).unwrap();
    let t = env.ok(&["get", "clusters"]);
    let rows: Vec<Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "PROVIDER", "VERSION"]);
    assert_eq!(rows[1], ["member-a", "kubesphere", "v1.26.15"]);
    let crd = env.ok(&[
        "get",
        "crd",
        "clusters.cluster.kubesphere.io",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ]);
    assert_eq!(crd, "True");
    let err = env.fails(&[
        "patch",
        "cluster",
        "member-a",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{}}"#,
    ]);
    assert!(
        err.contains(r#"clusters.cluster.kubesphere.io "member-a" not found"#),
        "{err}"
    );
    env.ok(&["patch", "cluster", "member-a", "--type=json", "-p", r#"[{"op":"test","path":"/status/conditions/1/type","value":"Schedulable"},{"op":"remove","path":"/status/conditions/1"}]"#]);
    assert_eq!(
        env.ok(&[
            "get",
            "cluster",
            "member-a",
            "-o",
            "jsonpath={.status.conditions[*].type}"
        ]),
        "Ready"
    );
    env.ok(&["delete", "crd", "clusters.cluster.kubesphere.io"]);
    assert!(
        env.fails(&["get", "clusters.cluster.kubesphere.io"])
            .contains("the server doesn't have a resource type")
    );
}

#[test]
fn watch_with_kubectl_get_w() {
    let env = Env::empty();
    env.ok(&["create", "configmap", "w1"]);
    let mut child = std::process::Command::new("/usr/bin/kubectl")
        .args(["get", "cm", "-w", "-o", "name", "--request-timeout=8s"])
        .env("HOME", env.dir.path())
        .env("KUBECONFIG", &env.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    env.ok(&["create", "configmap", "w2"]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("configmap/w1") && s.contains("configmap/w2"),
        "{s}"
    );
}

/// kubectl up to 1.27 fetches `/openapi/v2` as protobuf before `apply`; a server reporting
/// v1.27 makes the kubectl dispatcher pick that client. Create, then a changed re-apply.
#[test]
fn old_kubectl_applies_through_the_minimal_openapi_v2_document() {
    let env = Env::start(Sim::builder().scenario("empty").git_version("v1.27.16"));
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old-client, namespace: default}\ndata: {a: one}\n";
    assert!(
        env.ok_stdin(&["apply", "-f", "-"], Some(cm))
            .contains("configmap/old-client created")
    );
    let changed = cm.replace("a: one", "a: two");
    assert!(
        env.ok_stdin(&["apply", "-f", "-"], Some(&changed))
            .contains("configured")
    );
    assert_eq!(
        env.ok(&["get", "cm", "old-client", "-o", "jsonpath={.data.a}"]),
        "two"
    );
}

/// kubesim runs no containers; a pod's log is its `kubesim.dev/log` annotation, which
/// `kubectl logs` reads (with `--tail`), and which is empty when absent.
#[test]
fn kubectl_logs_reads_the_log_annotation() {
    let env = Env::empty();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: talker\n  namespace: default\n  annotations:\n    kubesim.dev/log: |\n      one\n      two\n      three\nspec:\n  containers: [{name: c, image: busybox}]\n";
    env.ok_stdin(&["apply", "-f", "-"], Some(pod));
    assert_eq!(env.ok(&["logs", "talker"]), "one\ntwo\nthree\n");
    assert_eq!(env.ok(&["logs", "talker", "--tail=2"]), "two\nthree\n");
    let quiet = "apiVersion: v1\nkind: Pod\nmetadata: {name: quiet, namespace: default}\nspec:\n  containers: [{name: c, image: busybox}]\n";
    env.ok_stdin(&["apply", "-f", "-"], Some(quiet));
    assert_eq!(env.ok(&["logs", "quiet"]), "");
}
