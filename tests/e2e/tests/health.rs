//! `kubectl health` (issue 4) end to end: the built binary against kubesim scenarios, checked
//! with serde_json over its `-o json` report and with the real kubectl.
//!
//! Expected objects come from `tests/kubesim/scenarios/README.md` (the planted problems of
//! `broken` and the upgrade leftovers of `ks41-host-migrated`).

use std::{collections::BTreeSet, time::Duration};

use e2e::{Env, Run, eventually};
use serde_json::{Value, json};

const ALL_CHECKS: [&str; 8] = [
    "nodes",
    "system-pods",
    "workloads",
    "helm-releases",
    "kubesphere",
    "api-services",
    "webhooks",
    "storage",
];

fn health(env: &Env, args: &[&str]) -> Run {
    let run = env.plugin("health").args(args).run();
    run.assert_no_panic();
    run
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check `{id}` in {report:#}"))
}

fn status_of(report: &Value, id: &str) -> String {
    check(report, id)["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// `(kind, namespace, name, reason)` of every object a check lists.
fn objects(report: &Value, id: &str) -> BTreeSet<(String, String, String, String)> {
    check(report, id)["objects"]
        .as_array()
        .unwrap_or_else(|| panic!("`{id}` has no objects array"))
        .iter()
        .map(|o| {
            let s = |k: &str| o[k].as_str().unwrap_or("").to_string();
            (s("kind"), s("namespace"), s("name"), s("reason"))
        })
        .collect()
}

fn set(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items
        .iter()
        .map(|(k, ns, n, r)| (k.to_string(), ns.to_string(), n.to_string(), r.to_string()))
        .collect()
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                c["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn broken_fails_exactly_the_planted_checks_and_objects() {
    let env = Env::new("broken");
    let run = health(&env, &["-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["status"], "fail");
    assert_eq!(r["serverVersion"], "v1.27.16");
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("nodes", "fail"),
            ("system-pods", "fail"),
            ("workloads", "fail"),
            ("helm-releases", "fail"),
            ("kubesphere", "pass"),
            ("api-services", "fail"),
            ("webhooks", "fail"),
            ("storage", "fail"),
        ])
    );
    // #1 NotReady, #2 cordoned (a warning), #3 kubelet skew.
    assert_eq!(
        objects(&r, "nodes"),
        set(&[
            ("Node", "", "worker-2", "NotReady"),
            ("Node", "", "worker-3", "Cordoned"),
            ("Node", "", "worker-4", "VersionSkew"),
        ])
    );
    let cordoned = check(&r, "nodes")["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "worker-3")
        .cloned()
        .unwrap();
    assert_eq!(cordoned["severity"], "warn");
    // #4, #5 and the pods on the NotReady node; kyverno (#6) and shop (#7) are not system
    // namespaces.
    assert_eq!(
        objects(&r, "system-pods"),
        set(&[
            (
                "Pod",
                "kubesphere-system",
                "ks-controller-manager-xbj8cr8r7p-kdfzm",
                "CrashLoopBackOff"
            ),
            (
                "Pod",
                "kubesphere-system",
                "ks-console-qgnb2vm9mq-9bpr5",
                "ImagePullBackOff"
            ),
            ("Pod", "kube-system", "kube-proxy-87cgx", "NotReady"),
            ("Pod", "kube-system", "calico-node-6wgsm", "NotReady"),
        ])
    );
    let crash = check(&r, "system-pods")["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["reason"] == "CrashLoopBackOff")
        .cloned()
        .unwrap();
    assert!(
        crash["message"]
            .as_str()
            .unwrap()
            .contains("container `ks-controller-manager` waiting: CrashLoopBackOff"),
        "{crash}"
    );
    assert!(crash["message"].as_str().unwrap().contains("42 restarts"));
    // #8 and the consequences listed in the README.
    assert_eq!(
        objects(&r, "workloads"),
        set(&[
            ("DaemonSet", "kube-system", "calico-node", "NotUpdated"),
            ("DaemonSet", "kube-system", "kube-proxy", "Unavailable"),
            (
                "Deployment",
                "kubesphere-system",
                "ks-controller-manager",
                "Unavailable"
            ),
            (
                "Deployment",
                "kubesphere-system",
                "ks-console",
                "Unavailable"
            ),
        ])
    );
    // #11 and #12.
    assert_eq!(
        objects(&r, "helm-releases"),
        set(&[
            (
                "HelmRelease",
                "kubesphere-system",
                "ks-core",
                "PendingUpgrade"
            ),
            (
                "HelmRelease",
                "kubesphere-controls-system",
                "kubesphere-router-kubesphere-system-ingress",
                "Failed"
            ),
        ])
    );
    let pending = &check(&r, "helm-releases")["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "ks-core")
        .cloned()
        .unwrap()["message"];
    assert!(
        pending
            .as_str()
            .unwrap()
            .contains("delete `sh.helm.release.v1.ks-core.v3`"),
        "{pending}"
    );
    // #9, #10.
    assert_eq!(
        objects(&r, "api-services"),
        set(&[("APIService", "", "v1beta1.metrics.k8s.io", "Unavailable")])
    );
    assert_eq!(
        objects(&r, "webhooks"),
        set(&[(
            "ValidatingWebhookConfiguration",
            "",
            "kyverno-resource-validating-webhook-cfg",
            "NoReadyEndpoints"
        )])
    );
    let hook = check(&r, "webhooks")["objects"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        hook.contains("`validate.kyverno.svc-fail`") && hook.contains("`kyverno/kyverno-svc`"),
        "{hook}"
    );
    // #15, #16.
    assert_eq!(
        objects(&r, "storage"),
        set(&[
            ("PersistentVolumeClaim", "shop", "orders-data", "Pending"),
            ("PersistentVolumeClaim", "shop", "legacy-data", "Lost"),
            ("PersistentVolume", "", "pv-legacy-nfs", "Failed"),
        ])
    );
    assert_eq!(
        check(&r, "kubesphere")["summary"],
        "KubeSphere v3.4.1 (single cluster)"
    );
}

#[test]
fn all_namespaces_widens_pods_workloads_and_releases() {
    let env = Env::new("broken");
    let run = health(
        &env,
        &[
            "-A",
            "--check",
            "system-pods,workloads,helm-releases",
            "-o",
            "json",
        ],
    );
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["scope"], "all");
    let ids: Vec<_> = statuses(&r).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["system-pods", "workloads", "helm-releases"]);
    let pods = objects(&r, "system-pods");
    assert!(pods.contains(&(
        "Pod".into(),
        "kyverno".into(),
        "kyverno-admission-controller-zb2qf7hzpz-r5qx8".into(),
        "NotReady".into()
    )));
    assert!(pods.contains(&(
        "Pod".into(),
        "shop".into(),
        "cart-zstg8dq9c2-bmhfn".into(),
        "Unschedulable".into()
    )));
    assert_eq!(pods.len(), 6, "{pods:?}");
    let workloads = objects(&r, "workloads");
    assert!(workloads.contains(&(
        "Deployment".into(),
        "shop".into(),
        "cart".into(),
        "Unavailable".into()
    )));
    assert!(workloads.contains(&(
        "Deployment".into(),
        "kyverno".into(),
        "kyverno-admission-controller".into(),
        "Unavailable".into()
    )));
    assert_eq!(workloads.len(), 6, "{workloads:?}");
    // shop/billing is deployed (its removed APIs are another plugin's business).
    assert_eq!(objects(&r, "helm-releases").len(), 2);
    assert!(
        check(&r, "helm-releases")["summary"]
            .as_str()
            .unwrap()
            .starts_with("4 releases in all namespaces")
    );
}

#[test]
fn expect_version_names_nodes_at_another_kubelet() {
    let env = Env::new("broken");
    let run = health(
        &env,
        &[
            "--check",
            "nodes",
            "--expect-version",
            "v1.27.16",
            "-o",
            "json",
        ],
    );
    run.assert_code(1);
    let nodes = objects(&run.json(), "nodes");
    assert!(nodes.contains(&(
        "Node".into(),
        "".into(),
        "worker-4".into(),
        "KubeletVersion".into()
    )));
    let env = Env::new("ks34-member");
    let run = health(&env, &["--check", "nodes", "--expect-version", "v1.27.16"]);
    run.assert_code(1);
    run.assert_stdout_contains("kubelet v1.26.15, expected v1.27.16");
    health(&env, &["--check", "nodes", "--expect-version", "v1.26.15"]).assert_success();
}

#[test]
fn migrated_host_fails_only_on_members_and_agents() {
    let env = Env::new("ks41-host-migrated");
    let run = health(&env, &["-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    let failing: Vec<_> = statuses(&r)
        .into_iter()
        .filter(|(_, s)| s != "pass")
        .collect();
    assert_eq!(failing, pairs(&[("kubesphere", "fail")]));
    assert_eq!(
        check(&r, "kubesphere")["summary"],
        "KubeSphere v4.1.3 (host), 3 clusters (2 members), 2 install plans"
    );
    assert_eq!(
        objects(&r, "kubesphere"),
        set(&[
            ("Cluster", "", "member-a", "Unschedulable"),
            ("Cluster", "", "member-b", "Unschedulable"),
            ("Cluster", "", "member-b", "VersionMismatch"),
            ("InstallPlan", "", "gateway", "AgentMissing"),
        ])
    );
    let messages: Vec<String> = check(&r, "kubesphere")["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.ends_with("run `kubectl untaint-member member-a`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("placement names cluster `member-b`")),
        "{messages:?}"
    );
    // The finished upgrade jobs' Succeeded pods are healthy.
    assert_eq!(status_of(&r, "system-pods"), "pass");
}

#[test]
fn healthy_member_passes_and_prints_a_table() {
    let env = Env::new("ks34-member");
    let run = health(&env, &[]);
    run.assert_success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("CHECK") && lines[0].contains("STATUS   SUMMARY"));
    assert_eq!(lines.len(), 1 + ALL_CHECKS.len(), "{}", run.stdout);
    for (line, id) in lines[1..].iter().zip(ALL_CHECKS) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cols[..2], [id, "PASS"], "{line}");
    }
    run.assert_stdout_contains("KubeSphere v3.4.1 (member)");
    // Through the real kubectl, as krew installs it.
    let via = env
        .kubectl()
        .args(["health", "-o", "jsonpath={.status}"])
        .run();
    via.assert_success();
    assert_eq!(via.stdout, "pass");
}

#[test]
fn json_yaml_and_jsonpath_carry_the_same_versioned_report() {
    let env = Env::new("broken");
    let r = health(&env, &["-o", "json"]).json();
    assert_eq!(r["apiVersion"], "kupgrade.dev/v1alpha1");
    assert_eq!(r["kind"], "HealthReport");
    assert_eq!(r["scope"], "system");
    let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "apiVersion",
            "kind",
            "status",
            "serverVersion",
            "scope",
            "checks"
        ])
    );
    let ids: Vec<_> = statuses(&r).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ALL_CHECKS);
    for c in r["checks"].as_array().unwrap() {
        assert!(["pass", "warn", "fail", "error"].contains(&c["status"].as_str().unwrap()));
        assert!(c["summary"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
        for o in c["objects"].as_array().unwrap() {
            for k in ["kind", "name", "severity", "reason", "message"] {
                assert!(o[k].as_str().is_some_and(|s| !s.is_empty()), "{k}: {o}");
            }
            assert!(["warn", "fail"].contains(&o["severity"].as_str().unwrap()));
        }
    }
    let yaml = health(&env, &["-o", "yaml"]);
    yaml.assert_code(1);
    assert_eq!(yaml.yaml(), r);
    let jp = health(
        &env,
        &[
            "-o",
            "jsonpath={range .checks[*]}{.id}={.status}{\"\\n\"}{end}",
        ],
    );
    jp.assert_code(1);
    let expected: String = statuses(&r)
        .iter()
        .map(|(id, s)| format!("{id}={s}\n"))
        .collect();
    assert_eq!(jp.stdout, expected);
}

#[test]
fn table_lists_checks_then_the_offending_objects() {
    let env = Env::new("broken");
    let run = health(&env, &["--check", "webhooks,storage"]);
    run.assert_code(1);
    let text = &run.stdout;
    let (checks, details) = text.split_once("\n\n").expect("two tables");
    let check_lines: Vec<&str> = checks.lines().collect();
    assert_eq!(check_lines.len(), 3, "{text}");
    assert!(check_lines[1].starts_with("webhooks ") && check_lines[1].contains(" FAIL "));
    assert!(check_lines[2].starts_with("storage ") && check_lines[2].contains(" FAIL "));
    let header = details.lines().next().unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "CHECK",
            "SEVERITY",
            "NAMESPACE",
            "OBJECT",
            "REASON",
            "MESSAGE"
        ]
    );
    assert!(
        details
            .lines()
            .any(|l| l.starts_with("storage") && l.contains("persistentvolumeclaim/orders-data"))
    );
    let wide = health(&env, &["--check", "webhooks", "-o", "wide"]);
    wide.assert_code(1);
    let first = wide.stdout.lines().nth(1).unwrap();
    assert!(
        first.contains("validatingwebhookconfiguration/kyverno-resource-validating-webhook-cfg"),
        "{}",
        wide.stdout
    );
}

#[test]
fn warnings_pass_unless_fail_on_warn() {
    let env = Env::new("empty");
    let node = env.get_json(&["nodes"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    env.kubectl().args(["cordon", &node]).run().assert_success();
    let run = health(&env, &["-o", "json"]);
    run.assert_success();
    let r = run.json();
    assert_eq!(r["status"], "warn");
    assert_eq!(status_of(&r, "nodes"), "warn");
    assert_eq!(
        objects(&r, "nodes"),
        set(&[("Node", "", node.as_str(), "Cordoned")])
    );
    health(&env, &["--fail-on", "warn"]).assert_code(1);
    assert_eq!(
        check(&r, "kubesphere")["summary"],
        "KubeSphere not installed"
    );
}

#[test]
fn check_ids_are_validated() {
    let env = Env::new("empty");
    let run = health(&env, &["--check", "nodes,pods"]);
    run.assert_code(2);
    run.assert_stderr_contains("invalid value 'pods'");
    for id in ALL_CHECKS {
        run.assert_stderr_contains(id);
    }
    assert!(run.stdout.is_empty());
    let run = health(&env, &["--check", "nodes", "--skip", "nodes"]);
    run.assert_code(2);
    run.assert_stderr_contains("error: --check and --skip leave no check to run");
    let run = health(&env, &["--skip", "kubesphere,helm-releases", "-o", "json"]);
    run.assert_success();
    let ids: Vec<_> = statuses(&run.json())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ids,
        [
            "nodes",
            "system-pods",
            "workloads",
            "api-services",
            "webhooks",
            "storage"
        ]
    );
}

/// The documented RBAC with `pods` removed from its list rule.
fn rbac_without_pods() -> String {
    let full = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/rbac/health.yaml"
    ))
    .expect("docs/rbac/health.yaml");
    let line = r#"resources: ["nodes", "namespaces", "pods", "persistentvolumeclaims", "persistentvolumes"]"#;
    assert!(full.contains(line), "the rule to edit is gone");
    full.replace(
        line,
        r#"resources: ["nodes", "namespaces", "persistentvolumeclaims", "persistentvolumes"]"#,
    )
}

#[test]
fn documented_rbac_is_enough() {
    let env = Env::builder("ks41-host-migrated")
        .user("ops", "tok-ops", &["kupgrade:health"])
        .start();
    let admin = health(&env, &["-o", "json"]);
    env.apply(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/rbac/health.yaml"
        ))
        .unwrap(),
    );
    let ops = health(&env, &["--token", "tok-ops", "-o", "json"]);
    ops.assert_code(1);
    // The same report as an administrator gets: nothing errored for lack of rights.
    assert_eq!(ops.json(), admin.json());
}

#[test]
fn a_forbidden_list_is_an_error_never_a_pass() {
    let env = Env::builder("ks34-member")
        .user("ops", "tok-ops", &["kupgrade:health"])
        .start();
    env.apply(&rbac_without_pods());
    let run = health(&env, &["--token", "tok-ops", "-o", "json"]);
    // Nothing failed, one check could not run: exit 2.
    run.assert_code(2);
    let r = run.json();
    assert_eq!(r["status"], "error");
    for (id, status) in statuses(&r) {
        let want = if id == "system-pods" { "error" } else { "pass" };
        assert_eq!(status, want, "{id}");
    }
    let summary = check(&r, "system-pods")["summary"].as_str().unwrap();
    assert!(summary.starts_with("cannot list pods: "), "{summary}");
    assert!(
        summary.contains(r#"pods is forbidden: User "ops" cannot list resource "pods""#),
        "{summary}"
    );
    assert!(summary.ends_with("(403 Forbidden)"), "{summary}");
    assert_eq!(check(&r, "system-pods")["objects"], json!([]));

    // A failure outranks an error: exit 1.
    let run = health(
        &env,
        &[
            "--token",
            "tok-ops",
            "--check",
            "system-pods,nodes",
            "--expect-version",
            "v1.30.0",
        ],
    );
    run.assert_code(1);
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("system-pods"))
        .unwrap();
    assert!(
        row.contains(" ERROR ") && row.contains("forbidden"),
        "{row}"
    );
}

#[test]
fn an_unreachable_server_is_one_error_line_and_no_report() {
    let env = Env::new("empty");
    let run = health(&env, &["--server", "https://127.0.0.1:9", "-o", "json"]);
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].starts_with("error: cannot get the API server version: "),
        "{}",
        errors[0]
    );
}

#[test]
fn a_small_scope_is_one_list_per_scope_namespace_and_kind() {
    // The default scope (system namespaces) is listed namespace by namespace, whatever the
    // cluster's size, never cluster-wide (docs/health.md).
    let env = Env::new("ks34-host");
    let scope = system_scope(&env).len() as u64;
    env.sim.reset_counters();
    health(&env, &["--check", "system-pods,workloads"]).assert_success();
    let c = env.sim.counters();
    assert_eq!(c.count("GET /api/v1/pods"), 0, "{c:?}");
    assert_eq!(
        c.count("GET /api/v1/namespaces/{namespace}/pods"),
        scope,
        "{c:?}"
    );
    for kind in ["deployments", "statefulsets", "daemonsets"] {
        assert_eq!(c.count(&format!("GET /apis/apps/v1/{kind}")), 0, "{c:?}");
        assert_eq!(
            c.count(&format!(
                "GET /apis/apps/v1/namespaces/{{namespace}}/{kind}"
            )),
            scope,
            "{c:?}"
        );
    }
    // The namespaces come from one list with the label selector, shared by both checks.
    assert_eq!(c.by_route.get("GET /api/v1/namespaces"), Some(&1), "{c:?}");
    // /version, the namespaces, four kinds per scope namespace
    assert_eq!(c.requests, 2 + 4 * scope, "{c:?}");
}

#[test]
fn kube_system_is_read_while_the_namespaces_are_listed() {
    // kube-system is in every default scope, so its lists do not wait for the namespaces list
    // (docs/health.md): with that list held for a while, they are answered before it is.
    let env = Env::new("ks34-host");
    let plain = health(&env, &["--check", "system-pods,workloads", "-o", "json"]);
    plain.assert_success();
    env.sim.faults().add(
        kubesim::FaultRule::new("/api/v1/namespaces", kubesim::Fault::Latency { ms: 1500 })
            .method("GET")
            .exact(),
    );
    env.sim.reset_counters();
    let held = health(&env, &["--check", "system-pods,workloads", "-o", "json"]);
    held.assert_success();
    assert_eq!(held.json(), plain.json());
    let log = env.sim.requests();
    let done = |request: &str| {
        log.iter()
            .find(|r| r.request == request)
            .unwrap_or_else(|| panic!("{request} not served: {log:?}"))
    };
    let namespaces = done("GET /api/v1/namespaces");
    for kind in [
        "api/v1/namespaces/kube-system/pods",
        "apis/apps/v1/namespaces/kube-system/deployments",
        "apis/apps/v1/namespaces/kube-system/statefulsets",
        "apis/apps/v1/namespaces/kube-system/daemonsets",
    ] {
        let list = done(&format!("GET /{kind}"));
        assert!(list.done_us < namespaces.done_us, "{list:?} {namespaces:?}");
    }
    // The other scope namespaces are read once the list has answered.
    let other = done("GET /api/v1/namespaces/kubesphere-system/pods");
    assert!(
        other.arrival_us >= namespaces.done_us,
        "{other:?} {namespaces:?}"
    );
}

#[test]
fn a_scope_of_many_namespaces_is_read_cluster_wide_with_kube_system_once() {
    // More than 25 system namespaces: one cluster-wide list, filtered by the scope. kube-system,
    // read on its own while the namespaces are listed, is not counted twice.
    let env = Env::new("ks34-host");
    let mut yaml = String::new();
    for i in 0..20 {
        yaml.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sys-{i:02}\n  labels:\n    \
             kubesphere.io/workspace: system-workspace\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: sys-{i:02}\n\
             spec:\n  containers:\n  - name: app\n    image: nginx:1.27\n---\n"
        ));
    }
    env.apply(&yaml);
    let scope = system_scope(&env);
    assert!(scope.len() > 25, "{scope:?}");
    let pods = per_namespace(&env, "pods");
    let in_scope: usize = scope
        .iter()
        .map(|ns| pods.get(ns).copied().unwrap_or(0))
        .sum();
    env.sim.reset_counters();
    let run = health(&env, &["--check", "system-pods", "-o", "json"]);
    // The new pods are Pending (kubesim schedules nothing) and named.
    run.assert_code(1);
    let c = env.sim.counters();
    assert_eq!(
        check(&run.json(), "system-pods")["summary"],
        format!(
            "{in_scope} pods in {} namespaces: 20 not healthy",
            scope.len()
        )
    );
    assert!(c.count("GET /api/v1/pods") >= 1, "{c:?}");
    assert_eq!(
        c.count("GET /api/v1/namespaces/{namespace}/pods"),
        1,
        "{c:?}"
    );
}

/// The default scope: the system-workspace namespaces plus kube-system, by kubectl.
fn system_scope(env: &Env) -> BTreeSet<String> {
    let list = env.get_json(&[
        "namespaces",
        "-l",
        "kubesphere.io/workspace=system-workspace",
    ]);
    let mut set: BTreeSet<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    set.insert("kube-system".into());
    set
}

/// Objects of a kind per namespace, by kubectl.
fn per_namespace(env: &Env, kind: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for item in env.get_json(&[kind, "-A"])["items"].as_array().unwrap() {
        *out.entry(item["metadata"]["namespace"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

#[test]
fn a_large_cluster_is_read_per_scope_namespace_and_not_per_cluster_namespace() {
    // 600 nodes: kube-system holds 600 kube-proxy pods + the control plane, two pages of 500.
    // 1,200 pods and 600 Deployments in 3 other namespaces, never read.
    let env = Env::new("scale:nodes=600,namespaces=3,pods=1200,deployments=600");
    let scope = system_scope(&env);
    assert!(scope.len() <= 25, "{scope:?}");
    let pods = per_namespace(&env, "pods");
    let deployments = per_namespace(&env, "deployments");
    assert!(pods.values().sum::<usize>() > 500 && deployments.values().sum::<usize>() > 500);
    // Pages a namespace's list takes: at least one, even when empty.
    let pages = |counts: &std::collections::BTreeMap<String, usize>| -> u64 {
        scope
            .iter()
            .map(|ns| counts.get(ns).copied().unwrap_or(0).div_ceil(500).max(1) as u64)
            .sum()
    };
    assert!(pods["kube-system"] > 500, "{pods:?}");
    let in_scope = |counts: &std::collections::BTreeMap<String, usize>| -> usize {
        scope
            .iter()
            .map(|ns| counts.get(ns).copied().unwrap_or(0))
            .sum()
    };

    env.sim.reset_counters();
    let run = health(&env, &["-o", "json"]);
    run.assert_success();
    let before = env.sim.counters();
    let report = run.json();
    // Every pod and deployment in scope judged, in pages.
    let summary = check(&report, "system-pods")["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        format!(
            "{} pods in {} namespaces: all Running and Ready, or Succeeded",
            in_scope(&pods),
            scope.len()
        )
    );
    let summary = check(&report, "workloads")["summary"].as_str().unwrap();
    let n = in_scope(&deployments);
    let noun = if n == 1 { "deployment" } else { "deployments" };
    assert!(summary.starts_with(&format!("{n} {noun}, ")), "{summary}");
    // Nothing cluster-wide: each scope namespace on its own, in pages.
    let c = &before;
    assert_eq!(c.count("GET /api/v1/pods"), 0, "{c:?}");
    assert_eq!(
        c.count("GET /api/v1/namespaces/{namespace}/pods"),
        pages(&pods),
        "{c:?}"
    );
    assert_eq!(pages(&pods), scope.len() as u64 + 1);
    for kind in ["deployments", "statefulsets", "daemonsets"] {
        assert_eq!(c.count(&format!("GET /apis/apps/v1/{kind}")), 0, "{c:?}");
        assert_eq!(
            c.count(&format!(
                "GET /apis/apps/v1/namespaces/{{namespace}}/{kind}"
            )),
            scope.len() as u64,
            "{c:?}"
        );
    }

    // 50 more namespaces outside the scope, each with a running pod: health sends exactly the
    // same requests and reports the same.
    let mut yaml = String::new();
    for i in 0..50 {
        yaml.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra-{i:02}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: extra-{i:02}\n\
             spec:\n  containers:\n  - name: app\n    image: nginx:1.27\n---\n"
        ));
    }
    let namespaces = || {
        env.get_json(&["namespaces"])["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let count_before = namespaces();
    env.apply(&yaml);
    assert_eq!(namespaces(), count_before + 50);
    assert_eq!(system_scope(&env), scope);
    env.sim.reset_counters();
    let again = health(&env, &["-o", "json"]);
    again.assert_success();
    let after = env.sim.counters();
    assert_eq!(after.by_route, before.by_route);
    assert_eq!(after.requests, before.requests);
    assert_eq!(again.json(), report);

    // With -A the one cluster-wide list is read to its end: the extra pods (Pending: kubesim
    // schedules nothing) are counted and named.
    env.sim.reset_counters();
    let all = health(&env, &["-A", "--check", "system-pods", "-o", "json"]);
    all.assert_code(1);
    let c = env.sim.counters();
    let total = per_namespace(&env, "pods").values().sum::<usize>();
    let all = all.json();
    assert_eq!(
        check(&all, "system-pods")["summary"],
        format!("{total} pods in all namespaces: 50 not healthy")
    );
    let named: BTreeSet<String> = check(&all, "system-pods")["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["namespace"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(named, (0..50).map(|i| format!("extra-{i:02}")).collect());
    assert_eq!(
        c.count("GET /api/v1/pods"),
        total.div_ceil(500) as u64,
        "{c:?}"
    );
    assert_eq!(
        c.count("GET /api/v1/namespaces/{namespace}/pods"),
        0,
        "{c:?}"
    );
}

#[test]
fn wait_times_out_with_the_last_report() {
    let env = Env::new("broken");
    let run = health(
        &env,
        &[
            "--check",
            "storage",
            "--wait",
            "--timeout",
            "2s",
            "--interval",
            "1s",
            "-o",
            "json",
        ],
    );
    run.assert_code(1);
    assert_eq!(run.json()["status"], "fail");
    run.assert_stderr_contains("round 1: not passing: storage (fail)");
    run.assert_stderr_contains("warning: timed out after 2s waiting for every check to pass");
}

/// Conditions of a Cluster without `Schedulable`, for a merge patch.
fn conditions_without_schedulable(env: &Env, cluster: &str) -> Value {
    let c = env.get_json(&["clusters.cluster.kubesphere.io", cluster]);
    let kept: Vec<Value> = c["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] != "Schedulable")
        .cloned()
        .collect();
    Value::Array(kept)
}

#[test]
fn wait_turns_green_when_the_cluster_heals() {
    let env = Env::new("ks41-host-migrated");
    let waiting = env
        .plugin("health")
        .args([
            "--check",
            "kubesphere",
            "--wait",
            "--timeout",
            "2m",
            "--interval",
            "1s",
            "-o",
            "json",
        ])
        .spawn();
    // Round 2 starting means round 1 ran and failed.
    eventually(Duration::from_secs(60), || {
        (env.sim
            .counters()
            .count("GET /apis/kubesphere.io/v1alpha1/installplans")
            >= 2)
            .then_some(())
    });
    // Heal as an operator would: migrate and untaint the members, then the agents install.
    let a = conditions_without_schedulable(&env, "member-a");
    let b = conditions_without_schedulable(&env, "member-b");
    for (name, patch) in [
        ("member-a", json!({"status": {"conditions": a}})),
        (
            "member-b",
            json!({"status": {"conditions": b, "kubeSphereVersion": "v4.1.3"}}),
        ),
    ] {
        env.kubectl()
            .args([
                "patch",
                "clusters.cluster.kubesphere.io",
                name,
                "--type",
                "merge",
                "-p",
                &patch.to_string(),
            ])
            .run()
            .assert_success();
    }
    let agents = json!({"status": {"clusterSchedulingStatuses": {
        "member-a": {"state": "Installed", "releaseName": "gateway-agent", "version": "1.0.5"},
        "member-b": {"state": "Installed", "releaseName": "gateway-agent", "version": "1.0.5"}
    }}});
    env.kubectl()
        .args([
            "patch",
            "installplans.kubesphere.io",
            "gateway",
            "--type",
            "merge",
            "-p",
            &agents.to_string(),
        ])
        .run()
        .assert_success();
    let run = waiting.wait();
    run.assert_success().assert_no_panic();
    let r = run.json();
    assert_eq!(r["status"], "pass");
    assert_eq!(objects(&r, "kubesphere"), BTreeSet::new());
    run.assert_stderr_contains("round 1: not passing: kubesphere (fail)");
    run.assert_stderr_contains("all checks pass after");
}

#[test]
fn large_lists_are_read_in_pages() {
    let env = Env::new("scale:nodes=3,namespaces=3,pods=1200,deployments=3");
    env.sim.reset_counters();
    let run = health(&env, &["-A", "--check", "system-pods", "-o", "json"]);
    run.assert_success();
    let summary = check(&run.json(), "system-pods")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    let pods: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(pods > 1200, "{summary}");
    // 500 per page: every pod counted, in ceil(pods / 500) requests.
    assert_eq!(
        env.sim.counters().count("GET /api/v1/pods"),
        pods.div_ceil(500) as u64
    );
}

#[test]
fn gzipped_pages_are_read_like_plain_ones() {
    // 500-pod pages are far over the API server's 128 KiB gzip threshold: the client asks for
    // gzip and gets it, and every pod is counted, as kubectl (reading gzipped lists too) counts.
    let env = Env::new("scale:nodes=3,namespaces=3,pods=1200,deployments=3");
    env.sim.reset_counters();
    let run = health(&env, &["-A", "--check", "system-pods", "-o", "json"]);
    run.assert_success();
    let log = env.sim.requests();
    let pages: Vec<_> = log
        .iter()
        .filter(|r| r.request == "GET /api/v1/pods")
        .collect();
    assert!(pages.len() >= 3, "{log:?}");
    let full = pages
        .iter()
        .filter(|r| r.body_bytes.unwrap_or(0) > kubesim::cost::GZIP_THRESHOLD as u64)
        .count();
    assert!(full >= 2, "{pages:?}");
    assert_eq!(pages.iter().filter(|r| r.gzip).count(), full, "{pages:?}");
    // small answers (/version) go plain
    assert!(
        log.iter()
            .filter(|r| r.body_bytes.unwrap_or(0) <= kubesim::cost::GZIP_THRESHOLD as u64)
            .all(|r| !r.gzip),
        "{log:?}"
    );
    let total: usize = per_namespace(&env, "pods").values().sum();
    assert_eq!(
        check(&run.json(), "system-pods")["summary"],
        format!("{total} pods in all namespaces: all Running and Ready, or Succeeded")
    );
}

/// The connections a run opened: the requests kubesim saw first on their connection.
fn connections(records: &[kubesim::RequestRecord]) -> usize {
    records.iter().filter(|r| r.first_on_connection).count()
}

#[test]
fn every_request_shares_one_connection_over_http2() {
    // kubesim offers HTTP/2 as a real API server does; the ~55 requests health sends at once
    // go over one connection and one TLS handshake (the others wait for it), not one each.
    let env = Env::new("ks34-host");
    let before = env.sim.requests().len();
    health(&env, &["-o", "json"]).assert_success();
    let run = &env.sim.requests()[before..];
    assert!(run.len() > 40, "{run:?}");
    assert_eq!(connections(run), 1, "{run:?}");
}

#[test]
fn an_http1_only_server_gets_the_same_report() {
    // A server (or proxy) that offers only HTTP/1.1 is spoken to in HTTP/1.1: the requests in
    // flight each need a connection of their own, and the report is the same.
    let h2 = Env::new("ks34-host");
    let h1 = Env::builder("ks34-host").http1_only().start();
    let before = h1.sim.requests().len();
    let over_h1 = health(&h1, &["-o", "json"]);
    over_h1.assert_success();
    assert!(connections(&h1.sim.requests()[before..]) > 1);
    let over_h2 = health(&h2, &["-o", "json"]);
    let checks = |run: &Run| run.json()["checks"].clone();
    assert_eq!(checks(&over_h1), checks(&over_h2));
}
