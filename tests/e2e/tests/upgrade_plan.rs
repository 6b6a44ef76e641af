//! End-to-end tests of `kubectl upgrade-plan`: the built binary against kubesim over HTTPS, the
//! findings checked against the planted problems of `tests/kubesim/scenarios/README.md`.

use e2e::{Env, Run};
use serde_json::Value;

fn plan(env: &Env, args: &[&str]) -> Run {
    let run = env.plugin("upgrade-plan").args(args).run();
    run.assert_no_panic();
    run
}

fn object(f: &Value) -> String {
    let o = &f["object"];
    match o["namespace"].as_str() {
        Some(ns) => format!(
            "{} {ns}/{}",
            o["kind"].as_str().unwrap(),
            o["name"].as_str().unwrap()
        ),
        None => format!(
            "{} {}",
            o["kind"].as_str().unwrap(),
            o["name"].as_str().unwrap()
        ),
    }
}

/// `(code, severity, object)` of every finding.
fn findings(r: &Value) -> Vec<(String, String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                object(f),
            )
        })
        .collect()
}

fn has(r: &Value, code: &str, severity: &str, obj: &str) -> bool {
    findings(r)
        .iter()
        .any(|(c, s, o)| c == code && s == severity && o == obj)
}

fn finding<'a>(r: &'a Value, code: &str, obj: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code && object(f) == obj)
        .unwrap_or_else(|| panic!("no {code} on {obj}: {:#?}", findings(r)))
}

fn path(r: &Value) -> Vec<String> {
    r["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}->{} {} {}",
                s["component"].as_str().unwrap(),
                s["from"].as_str().unwrap(),
                s["to"].as_str().unwrap(),
                s["tool"].as_str().unwrap(),
                if s["supported"] == true {
                    "ok"
                } else {
                    "UNSUPPORTED"
                }
            )
        })
        .collect()
}

fn commands(r: &Value) -> Vec<String> {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["commands"].as_array().unwrap().iter())
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

fn position(cmds: &[String], c: &str) -> usize {
    cmds.iter()
        .position(|x| x == c)
        .unwrap_or_else(|| panic!("`{c}` not in the steps: {cmds:#?}"))
}

#[test]
fn broken_reports_every_planted_problem_with_its_code_and_object() {
    let env = Env::new("broken");
    let run = plan(&env, &["-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["apiVersion"], "kupgrade.dev/v1alpha1");
    assert_eq!(r["kind"], "UpgradePlan");
    assert_eq!(r["cluster"]["kubernetesVersion"], "v1.27.16");
    assert_eq!(r["cluster"]["kubesphere"]["version"], "v3.4.1");
    assert_eq!(r["cluster"]["kubesphere"]["role"], "none");
    assert_eq!(r["targets"]["kubernetes"], "v1.28");
    assert_eq!(r["targets"]["kubesphere"], "v4.1.3");
    // 3.4 does not support 1.27 already; 4.1 does: KubeSphere first.
    assert_eq!(
        path(&r),
        vec![
            "kubesphere v3.4.1->v4.1.3 kubectl ks-migrate ok",
            "kubernetes v1.27.16->v1.28 kubeadm (via KubeKey) ok"
        ]
    );

    for (code, sev, obj) in [
        ("NODE001", "Required", "Node worker-2"),
        ("NODE002", "Recommended", "Node worker-3"),
        ("SKEW001", "Required", "Node worker-4"),
        ("SKEW002", "Required", "Node worker-4"),
        ("SKEW003", "Required", "Node worker-4"),
        ("PDB001", "Required", "PodDisruptionBudget shop/payments"),
        ("POD001", "Required", "Pod shop/debug-shell"),
        ("APISVC001", "Required", "APIService v1beta1.metrics.k8s.io"),
        (
            "WEBHOOK001",
            "Required",
            "ValidatingWebhookConfiguration kyverno-resource-validating-webhook-cfg",
        ),
        (
            "KS001",
            "Required",
            "Secret kubesphere-system/sh.helm.release.v1.ks-core.v3",
        ),
        (
            "HELM002",
            "Required",
            "Secret kubesphere-system/sh.helm.release.v1.ks-core.v3",
        ),
        (
            "HELM001",
            "Recommended",
            "Secret kubesphere-controls-system/sh.helm.release.v1.kubesphere-router-kubesphere-system-ingress.v2",
        ),
        ("SC001", "Required", "StorageClass local"),
        (
            "API001",
            "Required",
            "Secret shop/sh.helm.release.v1.billing.v2",
        ),
        (
            "API002",
            "Recommended",
            "Secret shop/sh.helm.release.v1.billing.v2",
        ),
        ("API003", "Recommended", "Ingress shop/storefront"),
        ("API003", "Recommended", "HorizontalPodAutoscaler shop/cart"),
        ("API003", "Recommended", "CronJob shop/nightly-report"),
        (
            "WL001",
            "Recommended",
            "Deployment kyverno/kyverno-admission-controller",
        ),
        // Pods not running well: pre-check.sh's "pods not Running" (ImagePullBackOff, Pending;
        // unschedulable), and kube-system pods Running but not Ready on the NotReady node.
        (
            "POD002",
            "Recommended",
            "Pod kubesphere-system/ks-console-qgnb2vm9mq-9bpr5",
        ),
        ("POD002", "Recommended", "Pod shop/cart-zstg8dq9c2-bmhfn"),
        ("POD002", "Recommended", "Pod kube-system/kube-proxy-87cgx"),
        ("POD002", "Recommended", "Pod kube-system/calico-node-6wgsm"),
    ] {
        assert!(
            has(&r, code, sev, obj),
            "{code} {sev} {obj} missing: {:#?}",
            findings(&r)
        );
    }
    // The exact values.
    assert_eq!(
        finding(&r, "NODE001", "Node worker-2")["message"],
        "Ready=Unknown (NodeStatusUnknown)"
    );
    assert!(
        finding(&r, "SKEW001", "Node worker-4")["message"]
            .as_str()
            .unwrap()
            .contains(
                "kubelet v1.24.17 vs API server v1.27.16: 3 minors behind (at most 2 allowed)"
            )
    );
    assert!(
        finding(&r, "SKEW003", "Node worker-4")["message"]
            .as_str()
            .unwrap()
            .contains("kube-proxy v1.27.16 (kube-proxy pod image)")
    );
    assert!(
        finding(&r, "PDB001", "PodDisruptionBudget shop/payments")["message"]
            .as_str()
            .unwrap()
            .starts_with("minAvailable 2: disruptionsAllowed 0")
    );
    assert_eq!(
        finding(
            &r,
            "KS001",
            "Secret kubesphere-system/sh.helm.release.v1.ks-core.v3"
        )["remedy"],
        "kubectl -n kubesphere-system delete secret sh.helm.release.v1.ks-core.v3"
    );
    let api001 = finding(&r, "API001", "Secret shop/sh.helm.release.v1.billing.v2");
    assert!(
        api001["message"]
            .as_str()
            .unwrap()
            .contains("policy/v1beta1 PodDisruptionBudget")
    );
    let api002 = finding(&r, "API002", "Secret shop/sh.helm.release.v1.billing.v2");
    assert!(api002["message"]
        .as_str()
        .unwrap()
        .contains("flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema is deprecated since v1.26, removed in v1.29"));
    assert!(finding(&r, "API003", "Ingress shop/storefront")["message"]
        .as_str()
        .unwrap()
        .contains("last-applied-configuration says extensions/v1beta1 but the object is served as networking.k8s.io/v1"));
    assert!(
        finding(
            &r,
            "POD002",
            "Pod kubesphere-system/ks-console-qgnb2vm9mq-9bpr5"
        )["message"]
            .as_str()
            .unwrap()
            .starts_with("Pending: container ks-console waiting ImagePullBackOff")
    );
    assert!(
        finding(&r, "POD002", "Pod shop/cart-zstg8dq9c2-bmhfn")["message"]
            .as_str()
            .unwrap()
            .starts_with("Pending: not scheduled: Unschedulable")
    );
    assert!(
        finding(&r, "POD002", "Pod kube-system/kube-proxy-87cgx")["remedy"]
            .as_str()
            .unwrap()
            .starts_with("fix before upgrading")
    );
    // Healthy pods are not reported; a Running pod outside kube-system is health's to judge.
    let pod002: Vec<String> = findings(&r)
        .into_iter()
        .filter(|(c, _, _)| c == "POD002")
        .map(|(_, _, o)| o)
        .collect();
    assert_eq!(pod002.len(), 4, "{pod002:#?}");
    // Negative controls: the superseded billing revision, healthy objects, the healthy PDB.
    let text = serde_json::to_string(&r["findings"]).unwrap();
    assert!(!text.contains("billing.v1"), "superseded revision reported");
    assert!(
        !text.contains("shop/billing\""),
        "the healthy PDB is reported"
    );
    assert!(
        findings(&r)
            .iter()
            .all(|(c, _, _)| c != "CP001" && c != "KS002" && c != "CHECK001")
    );
    // Stale annotations never block.
    assert!(
        findings(&r)
            .iter()
            .filter(|(c, _, _)| c == "API003")
            .all(|(_, s, _)| s == "Recommended")
    );
    assert_eq!(r["summary"]["ready"], false);
    assert_eq!(
        r["summary"]["required"].as_u64().unwrap() as usize,
        findings(&r)
            .iter()
            .filter(|(_, s, _)| s == "Required")
            .count()
    );
    // The metric is not served by kubesim: said, not treated as clean.
    let skipped = r["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|s| {
        s["optional"] == true
            && s["check"]
                .as_str()
                .unwrap()
                .contains("apiserver_requested_deprecated_apis")
            && s["reason"]
                .as_str()
                .unwrap()
                .starts_with("not readable (404)")
    }));
    assert!(
        r["deprecatedApis"]["metric"]
            .as_str()
            .unwrap()
            .starts_with("not readable")
    );
}

/// `(route, requests)` of every collection GET (a list, not a get by name or discovery).
fn list_routes(env: &Env) -> Vec<(String, u64)> {
    env.sim
        .counters()
        .by_route
        .into_iter()
        .filter(|(route, _)| {
            let Some(path) = route.strip_prefix("GET ") else {
                return false;
            };
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let rest = match segs.as_slice() {
                ["api", _, rest @ ..] | ["apis", _, _, rest @ ..] => rest,
                _ => return false,
            };
            matches!(rest, [_] | ["namespaces", "{namespace}", _])
        })
        .collect()
}

/// Each resource type is listed once per run (the scenarios' lists fit in one page): the
/// deprecated-API scan reads Deployments, StatefulSets, webhook configurations and APIServices
/// from the pages the findings already read. Pods are the one exception, by design: all pods
/// metadata-only (bare pods) and, with a server-side field selector, the few not Running.
#[test]
fn each_resource_type_is_listed_once_per_run() {
    for scenario in ["broken", "ks34-host"] {
        let env = Env::new(scenario);
        env.sim.reset_counters();
        let run = plan(&env, &["-o", "json"]);
        assert_ne!(run.code, Some(2), "{scenario}: {}", run.stderr);
        let r = run.json();
        let routes = list_routes(&env);
        for (route, n) in &routes {
            let expected = if route == "GET /api/v1/pods" { 2 } else { 1 };
            assert_eq!(
                *n, expected,
                "{scenario}: {route} listed {n} times: {routes:#?}"
            );
        }
        for route in [
            "GET /api/v1/nodes",
            "GET /api/v1/pods",
            "GET /api/v1/namespaces/{namespace}/pods",
            "GET /apis/apps/v1/deployments",
            "GET /apis/apps/v1/statefulsets",
            "GET /apis/apps/v1/replicasets",
            "GET /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            "GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            "GET /apis/apiregistration.k8s.io/v1/apiservices",
        ] {
            assert!(
                routes.iter().any(|(r, _)| r == route),
                "{scenario}: {route} not listed: {routes:#?}"
            );
        }
        // The kinds read from those pages are still scanned, at the version listed.
        let scanned: Vec<String> = r["deprecatedApis"]["scanned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                format!(
                    "{} {}",
                    k["kind"].as_str().unwrap(),
                    k["listedAs"].as_str().unwrap()
                )
            })
            .collect();
        for kind in [
            "Deployment apps/v1",
            "StatefulSet apps/v1",
            "ReplicaSet apps/v1",
            "ValidatingWebhookConfiguration admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration admissionregistration.k8s.io/v1",
            "APIService apiregistration.k8s.io/v1",
        ] {
            assert!(
                scanned.iter().any(|s| s == kind),
                "{scenario}: {kind} not in {scanned:#?}"
            );
        }
    }
}

#[test]
fn a_further_target_lists_every_minor_and_moves_the_flowschema_to_a_blocker() {
    let env = Env::new("broken");
    let r = plan(&env, &["--target", "v1.29", "-o", "json"]).json();
    assert_eq!(
        path(&r),
        vec![
            "kubesphere v3.4.1->v4.1.3 kubectl ks-migrate ok",
            "kubernetes v1.27.16->v1.28 kubeadm (via KubeKey) ok",
            "kubernetes v1.28->v1.29 kubeadm (via KubeKey) ok"
        ]
    );
    let api = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["code"] == "API001"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("FlowSchema billing-batch")
        })
        .expect("FlowSchema blocker");
    assert_eq!(api["step"], "v1.29");
    let cmds = commands(&r);
    assert!(
        position(&cmds, "sudo kubeadm upgrade apply v1.28.x")
            < position(&cmds, "sudo kubeadm upgrade apply v1.29.x")
    );
}

#[test]
fn bad_targets_are_usage_errors() {
    let env = Env::new("broken");
    for (args, needle) in [
        (vec!["--target", "garbage"], "invalid --target `garbage`"),
        (
            vec!["--target", "v1.26"],
            "older than the cluster's Kubernetes v1.27.16",
        ),
        (vec!["--ks-target", "v9.9"], "not a KubeSphere release"),
        (
            vec!["--ks-target", "v3.3.2"],
            "older than the running KubeSphere v3.4.1",
        ),
        (vec!["--fail-on", "sometimes"], "sometimes"),
    ] {
        let run = plan(&env, &args);
        run.assert_code(2);
        run.assert_stderr_contains(needle);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn ks34_host_is_ready_and_migrates_through_the_suite() {
    let env = Env::new("ks34-host");
    let run = plan(&env, &["-o", "json"]);
    run.assert_code(0);
    let r = run.json();
    let ks = &r["cluster"]["kubesphere"];
    assert_eq!(ks["version"], "v3.4.1");
    assert_eq!(ks["role"], "host");
    assert_eq!(ks["installerTarget"], "v3.4.1");
    assert_eq!(ks["etcdEndpointIps"], "localhost");
    assert_eq!(
        ks["etcdEndpoints"],
        serde_json::json!(["192.168.10.11", "192.168.10.12", "192.168.10.13"])
    );
    let members: Vec<String> = ks["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {} {}",
                m["name"].as_str().unwrap(),
                m["kubesphereVersion"].as_str().unwrap(),
                m["kubernetesVersion"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        members,
        vec![
            "host v3.4.1 v1.26.15",
            "member-a v3.4.1 v1.26.15",
            "member-b v3.4.1 v1.26.15"
        ]
    );
    assert_eq!(r["cluster"]["build"]["kind"], "kubekey");
    assert_eq!(r["cluster"]["nodes"].as_array().unwrap().len(), 8);
    let comps = r["components"].as_array().unwrap();
    let rows = |c: &str| comps.iter().filter(|x| x["component"] == c).count();
    assert_eq!(rows("kube-apiserver"), 3);
    assert_eq!(rows("etcd"), 3);
    assert_eq!(rows("kubelet"), 8);
    assert!(
        comps
            .iter()
            .any(|x| x["component"] == "CoreDNS" && x["current"] == "v1.9.3")
    );
    assert!(
        comps
            .iter()
            .filter(|x| x["component"] == "kube-apiserver")
            .all(|x| x["current"] == "v1.26.15" && x["target"] == "v1.27.x")
    );
    // 3.4 stops at 1.26: KubeSphere 4.1 goes first.
    assert_eq!(
        path(&r),
        vec![
            "kubesphere v3.4.1->v4.1.3 kubectl ks-migrate ok",
            "kubernetes v1.26.15->v1.27 kubeadm (via KubeKey) ok"
        ]
    );
    // 3.4.1 is past 3.3.1: its role changes are done, so no KS003 (and no IAM read at all).
    assert!(
        findings(&r).iter().all(|(c, _, _)| c != "KS003"),
        "{:#?}",
        findings(&r)
    );
    assert!(findings(&r).iter().all(|(_, s, _)| s == "Recommended"));
    assert!(has(
        &r,
        "WL001",
        "Recommended",
        "Deployment demo-project/api"
    ));
    assert!(!has(
        &r,
        "WL001",
        "Recommended",
        "Deployment demo-project/web"
    ));

    let cmds = commands(&r);
    let host = position(&cmds, "kubectl ks-migrate host");
    let a = position(&cmds, "kubectl --context member-a ks-migrate member");
    let b = position(&cmds, "kubectl --context member-b ks-migrate member");
    let untaint = position(&cmds, "kubectl untaint-member --all");
    let gw = position(&cmds, "kubectl ks-migrate gateway all");
    let apply = position(&cmds, "sudo kubeadm upgrade apply v1.27.x");
    assert!(host < a && a < b && b < untaint && untaint < gw && gw < apply);
    assert_eq!(
        cmds.iter()
            .filter(|c| *c == "sudo kubeadm upgrade node")
            .count(),
        2
    );
    assert!(cmds[0].contains("etcdctl") && cmds[0].contains("snapshot save"));
    let steps = r["steps"].as_array().unwrap();
    let apply_step = steps
        .iter()
        .find(|s| {
            s["commands"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "sudo kubeadm upgrade apply v1.27.x")
        })
        .unwrap();
    assert_eq!(apply_step["where"], "on master-1");

    // CI mode: Recommended findings fail too.
    plan(&env, &["--fail-on", "warn", "-o", "json"]).assert_code(1);
}

#[test]
fn ks41_host_migrated_finishes_the_migration_first() {
    let env = Env::new("ks41-host-migrated");
    let run = plan(&env, &["-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    let ks = &r["cluster"]["kubesphere"];
    assert_eq!(ks["version"], "v4.1.3");
    assert_eq!(ks["source"], "ks-core Helm release appVersion");
    assert!(r["targets"].get("kubesphere").is_none(), "already newest");
    let ext: Vec<String> = ks["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["name"].as_str().unwrap(),
                e["version"].as_str().unwrap(),
                e["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        ext,
        vec!["gateway 1.0.5 Installed", "network 1.1.0 Installed"]
    );
    assert_eq!(
        path(&r),
        vec!["kubernetes v1.26.15->v1.27 kubeadm (via KubeKey) ok"]
    );
    assert!(has(&r, "KS004", "Required", "Cluster member-b"));
    assert!(has(&r, "KS005", "Recommended", "Cluster member-a"));
    assert!(
        !findings(&r)
            .iter()
            .any(|(c, _, o)| c == "KS005" && o == "Cluster member-b")
    );
    assert!(has(
        &r,
        "KS006",
        "Recommended",
        "HelmRelease kubesphere-controls-system/kubesphere-router-kubesphere-system"
    ));
    // ks-installer is gone on v4, so no KS002 and no 3.3.1 check.
    assert!(
        findings(&r)
            .iter()
            .all(|(c, _, _)| c != "KS002" && c != "KS003")
    );
    let cmds = commands(&r);
    let m = position(&cmds, "kubectl --context member-b ks-migrate member");
    let u = position(&cmds, "kubectl untaint-member --all");
    let g = position(&cmds, "kubectl ks-migrate gateway all");
    let k = position(&cmds, "sudo kubeadm upgrade apply v1.27.x");
    assert!(m < u && u < g && g < k);
    assert!(
        !cmds
            .iter()
            .any(|c| c == "kubectl --context member-a ks-migrate member")
    );
}

#[test]
fn table_markdown_yaml_and_jsonpath() {
    let env = Env::new("ks34-host");
    let table = plan(&env, &[]);
    table.assert_code(0);
    for needle in [
        "COMPONENT                 NODE       CURRENT    TARGET",
        "kube-apiserver            master-1   v1.26.15   v1.27.x",
        "\nPATH\n",
        "\nFINDINGS\n",
        "CODE    SEVERITY      OBJECT",
        "\nSTEPS\n",
        "$ kubectl ks-migrate host",
        "READY: 0 Required",
    ] {
        table.assert_stdout_contains(needle);
    }
    table.assert_stderr_contains("reading cluster state");

    let md = plan(&env, &["-o", "markdown"]);
    md.assert_code(0);
    for h in [
        "# Upgrade plan: Kubernetes v1.26.15, KubeSphere v3.4.1 → v1.27, KubeSphere v4.1.3",
        "\n## Versions\n",
        "\n## Path\n",
        "\n## Findings\n",
        "\n## Steps\n",
        "### 1. Back up etcd",
        "\n## Rollback\n",
        "```sh\nkubectl ks-migrate host\n```",
    ] {
        md.assert_stdout_contains(h);
    }

    let y = plan(&env, &["-o", "yaml"]);
    y.assert_code(0);
    let y = y.yaml();
    assert_eq!(y["kind"], "UpgradePlan");
    assert_eq!(y["apiVersion"], "kupgrade.dev/v1alpha1");

    let jp = plan(
        &env,
        &[
            "-o",
            "jsonpath={.summary.ready} {.targets.kubesphere} {.path[0].tool}",
        ],
    );
    jp.assert_code(0);
    assert_eq!(jp.stdout, "true v4.1.3 kubectl ks-migrate");

    // Through the real kubectl, as krew installs it.
    let via = env.kubectl().args(["upgrade-plan", "-o", "json"]).run();
    via.assert_code(0);
    assert_eq!(via.json()["kind"], "UpgradePlan");
}

/// `kubectl apply` without client-side validation (which needs the OpenAPI document).
fn apply(env: &Env, yaml: &str) {
    env.kubectl()
        .args(["apply", "--validate=false", "-f", "-"])
        .stdin(yaml)
        .run()
        .assert_success();
}

fn rbac() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/rbac/upgrade-plan.yaml"
    ))
    .expect("docs/rbac/upgrade-plan.yaml")
}

#[test]
fn documented_rbac_is_enough() {
    let env = Env::builder("broken")
        .user("ops", "tok-ops", &["kupgrade:upgrade-plan"])
        .start();
    let admin = plan(&env, &["-o", "json"]).json();
    apply(&env, &rbac());
    let ops = plan(&env, &["--token", "tok-ops", "-o", "json"]);
    ops.assert_code(1);
    let ops = ops.json();
    assert_eq!(ops["findings"], admin["findings"]);
    assert_eq!(ops["skipped"], admin["skipped"]);
    assert_eq!(ops["steps"], admin["steps"]);
}

#[test]
fn a_forbidden_list_is_reported_as_not_checked_never_as_passed() {
    let env = Env::builder("broken")
        .user("ops", "tok-ops", &["kupgrade:upgrade-plan"])
        .start();
    let full = rbac();
    let line = r#"resources: ["poddisruptionbudgets", "podsecuritypolicies"]"#;
    assert!(full.contains(line), "the rule to edit is gone");
    apply(
        &env,
        &full.replace(line, r#"resources: ["podsecuritypolicies"]"#),
    );
    let run = plan(&env, &["--token", "tok-ops", "-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    // The planted PDB is not reported as fine: the check is reported as not run.
    assert!(!has(
        &r,
        "PDB001",
        "Required",
        "PodDisruptionBudget shop/payments"
    ));
    let f = finding(&r, "CHECK001", "Check poddisruptionbudgets");
    assert_eq!(f["severity"], "Required");
    assert!(f["message"].as_str().unwrap().contains("forbidden"), "{f}");
    let skipped = r["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|s| s["check"] == "poddisruptionbudgets"
        && s["optional"] == false
        && s["reason"].as_str().unwrap().contains("(403 Forbidden)")));
    assert_eq!(r["summary"]["ready"], false);

    // On a cluster that is otherwise ready, the missing check alone makes it not ready: exit 2,
    // "could not look", as health does for a check that errored.
    let env = Env::builder("ks34-host")
        .user("ops", "tok-ops", &["kupgrade:upgrade-plan"])
        .start();
    apply(
        &env,
        &full.replace(line, r#"resources: ["podsecuritypolicies"]"#),
    );
    let run = plan(&env, &["--token", "tok-ops"]);
    run.assert_code(2);
    run.assert_stdout_contains("NOT CHECKED");
    run.assert_stdout_contains("CHECK001   Required");
}

/// `kubectl delete` through the real kubectl, panicking on failure.
fn delete(env: &Env, args: &[&str]) {
    let mut all = vec!["delete"];
    all.extend_from_slice(args);
    env.kubectl().args(all).run().assert_success();
}

#[test]
fn the_3_3_1_role_check_runs_only_when_the_path_crosses_3_3_1() {
    // A 3.4.1 host without the iam.kubesphere.io CRDs: the 3.3.1 role changes cannot matter to
    // it, so nothing is read, nothing is "not checked", and the plan is ready.
    let env = Env::new("ks34-host");
    delete(
        &env,
        &[
            "crd",
            "globalroles.iam.kubesphere.io",
            "globalrolebindings.iam.kubesphere.io",
            "workspaceroles.iam.kubesphere.io",
            "workspacerolebindings.iam.kubesphere.io",
        ],
    );
    let run = plan(&env, &["-o", "json"]);
    run.assert_code(0);
    let r = run.json();
    assert!(
        findings(&r)
            .iter()
            .all(|(c, _, _)| c != "CHECK001" && c != "KS003"),
        "{:#?}",
        findings(&r)
    );
    assert!(
        r["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["check"].as_str().unwrap().contains("IAM")),
        "{}",
        r["skipped"]
    );

    // The same host still on 3.3.0: the path to 3.4.1 crosses 3.3.1, so KS003 names the custom
    // roles and their users, and says what the upgrade does (not that 3.3.1 is behind it).
    let env = Env::new("ks34-host");
    env.kubectl()
        .args([
            "-n",
            "kubesphere-system",
            "patch",
            "clusterconfiguration",
            "ks-installer",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"labels":{"version":"v3.3.0"}},"status":{"core":{"version":"v3.3.0"}}}"#,
        ])
        .run()
        .assert_success();
    let r = plan(&env, &["-o", "json"]).json();
    assert_eq!(r["cluster"]["kubesphere"]["version"], "v3.3.0");
    assert_eq!(r["targets"]["kubesphere"], "v3.4.1");
    for obj in [
        "GlobalRole ops-custom",
        "WorkspaceRole demo-release-manager",
        "Role demo-project/deployer",
    ] {
        let f = finding(&r, "KS003", obj);
        assert_eq!(f["severity"], "Recommended");
        let m = f["message"].as_str().unwrap();
        assert!(m.contains("dev-lead"), "{f}");
        assert!(m.contains("the upgrade to KubeSphere 3.3.1"), "{f}");
        assert!(!m.contains("past 3.3.1"), "{f}");
    }
}

/// Sets the image of a kube-system static pod's first container (`kubectl set image`).
fn set_image(env: &Env, pod: &str, container: &str, image: &str) {
    env.kubectl()
        .args([
            "-n",
            "kube-system",
            "set",
            "image",
            &format!("pod/{pod}"),
            &format!("{container}={image}"),
        ])
        .run()
        .assert_success();
}

#[test]
fn control_plane_versions_are_judged_by_the_skew_policy_not_as_text() {
    let env = Env::new("ks34-host");
    // Patch drift on one API server, a digest-pinned scheduler: neither blocks.
    set_image(
        &env,
        "kube-apiserver-master-2",
        "kube-apiserver",
        "registry.k8s.io/kube-apiserver:v1.26.3",
    );
    set_image(
        &env,
        "kube-scheduler-master-3",
        "kube-scheduler",
        "registry.k8s.io/kube-scheduler@sha256:0f5b8b1a5d1e46c1f0e5a0b9b1c8f6e4d2a7c3b9e8f1d0c2b4a6e8f0a1b3c5d7",
    );
    let run = plan(&env, &["-o", "json"]);
    run.assert_code(0);
    let r = run.json();
    let f = finding(&r, "CP001", "Pod kube-system/control-plane");
    assert_eq!(f["severity"], "Recommended");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("v1.26.3: kube-apiserver@master-2"),
        "{f}"
    );
    let f = finding(&r, "CP001", "Pod kube-system/kube-scheduler-master-3");
    assert_eq!(f["severity"], "Recommended");
    assert!(
        f["message"].as_str().unwrap().contains("cannot be judged"),
        "{f}"
    );

    // A controller manager newer than the oldest API server breaks the policy: Required.
    set_image(
        &env,
        "kube-controller-manager-master-1",
        "kube-controller-manager",
        "registry.k8s.io/kube-controller-manager:v1.27.3",
    );
    let run = plan(&env, &["-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    let f = finding(
        &r,
        "CP001",
        "Pod kube-system/kube-controller-manager-master-1",
    );
    assert_eq!(f["severity"], "Required");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("newer than the oldest kube-apiserver v1.26.3"),
        "{f}"
    );
}

#[test]
fn containerd_1_blocks_every_step_past_1_35_and_the_steps_upgrade_it_first() {
    // empty: Kubernetes v1.30.6, one node on containerd://1.7.22.
    let env = Env::new("empty");
    let run = plan(&env, &["--target", "v1.36", "-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    let f = finding(&r, "RUNTIME001", "Node node-1");
    assert_eq!(f["severity"], "Required");
    assert_eq!(f["step"], "v1.36");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("containerd v1.7.22"),
        "{f}"
    );
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("https://kubernetes.io/blog/2025/11/26/kubernetes-v1-35-sneak-peek/"),
        "{f}"
    );
    // The runbook moves the node to containerd 2.x after the v1.35 step, before the v1.36 one.
    let steps = r["steps"].as_array().unwrap();
    let phase = |s: &Value| s["phase"].as_str().unwrap().to_string();
    let runtime = steps
        .iter()
        .position(|s| s["title"] == "Nodes node-1: containerd 1.x to 2.x")
        .unwrap_or_else(|| panic!("no containerd step: {steps:#?}"));
    let last_135 = steps
        .iter()
        .rposition(|s| phase(s) == "kubernetes v1.35")
        .unwrap();
    let first_136 = steps
        .iter()
        .enumerate()
        .position(|(i, s)| i != runtime && phase(s) == "kubernetes v1.36")
        .unwrap();
    assert!(
        last_135 < runtime && runtime < first_136,
        "{last_135} {runtime} {first_136}"
    );
    let cmds: Vec<&str> = steps[runtime]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cmds[0],
        "kubectl drain node-1 --ignore-daemonsets --delete-emptydir-data"
    );
    assert_eq!(cmds.last().copied(), Some("kubectl uncordon node-1"));

    // A path that ends at 1.35 only warns, and has no runtime step yet.
    let r = plan(&env, &["--target", "v1.35", "-o", "json"]).json();
    let f = finding(&r, "RUNTIME001", "Node node-1");
    assert_eq!(f["severity"], "Recommended");
    assert!(
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["title"].as_str().unwrap().contains("containerd")),
    );
    // Before 1.35, nothing to say.
    let r = plan(&env, &["--target", "v1.34", "-o", "json"]).json();
    assert!(findings(&r).iter().all(|(c, _, _)| c != "RUNTIME001"));
}

/// Standard base64 (what Helm's storage drivers write).
fn base64(data: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn helm_manifests_are_read_as_yaml_and_configmap_storage_is_named() {
    let env = Env::new("broken");
    // A release kept by Helm's ConfigMap driver (HELM_DRIVER=configmap), its manifest with a
    // four-space-indented document and a flow-style one, both on APIs removed in 1.25.
    let manifest = "---\n# Source: legacy/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n    name: legacy-pdb\n    namespace: shop\nspec:\n    minAvailable: 1\n---\n# Source: legacy/templates/cron.yaml\n{apiVersion: batch/v1beta1, kind: CronJob, metadata: {name: legacy-cron, namespace: shop}}\n";
    let release = serde_json::json!({
        "name": "legacy", "namespace": "shop", "version": 1,
        "info": {"status": "deployed", "description": "Install complete"},
        "chart": {"metadata": {"name": "legacy", "version": "0.1.0", "appVersion": "1.0"}},
        "manifest": manifest,
    });
    let payload = base64(serde_json::to_string(&release).unwrap().as_bytes());
    env.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sh.helm.release.v1.legacy.v1\n  namespace: shop\n  labels: {{owner: helm, name: legacy, status: deployed, version: \"1\"}}\ndata:\n  release: {payload}\n"
    ));
    let r = plan(&env, &["-o", "json"]).json();
    let holder = "ConfigMap shop/sh.helm.release.v1.legacy.v1";
    let messages: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "API001" && object(f) == holder)
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages.len(), 2, "{:#?}", findings(&r));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("renders PodDisruptionBudget legacy-pdb")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("renders CronJob legacy-cron")),
        "{messages:#?}"
    );
    assert!(
        !findings(&r)
            .iter()
            .any(|(_, _, o)| o == "Secret shop/sh.helm.release.v1.legacy.v1"),
    );
}
