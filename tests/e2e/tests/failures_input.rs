//! The failure matrix (issue 10), part 2: permissions and hostile input. Each plugin runs with
//! exactly its documented ClusterRole (`docs/rbac/<plugin>.yaml`) and gets the admin's result;
//! with one rule removed it names the forbidden verb and resource. Kubeconfigs with missing
//! fields, versions that do not parse, an invalid values file, Cluster objects without status, a
//! corrupt Helm release payload and objects with odd or missing fields: a clear message, the
//! documented exit code, no panic. Known secrets never appear in any output.

use std::collections::BTreeSet;

use e2e::{
    Env, PLUGINS, Run,
    kubesim::{Fault, FaultRule},
};
use serde_json::{Value, json};

fn read_only(plugin: &str) -> Vec<&'static str> {
    match plugin {
        "ks-migrate" => vec!["gateway"],
        "untaint-member" => vec!["--all", "--dry-run"],
        _ => vec![],
    }
}

fn error_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Minimal RBAC

fn rbac_docs(plugin: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../docs/rbac/{plugin}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{plugin}: the minimal ClusterRole {path} is missing: {e}"));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The groups the file's own bindings name (the user gets them), and a ClusterRoleBinding to
/// user `ops` for every ClusterRole the file does not bind itself.
fn bind_to_ops(docs: &[Value]) -> (Vec<String>, Vec<Value>) {
    let mut groups = BTreeSet::new();
    let mut bound = BTreeSet::new();
    for d in docs {
        if d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding" {
            bound.insert(
                d["roleRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            for s in d["subjects"].as_array().into_iter().flatten() {
                if s["kind"] == "Group" {
                    groups.insert(s["name"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    let mut extra = Vec::new();
    for d in docs {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        if d["kind"] == "ClusterRole" && !bound.contains(name) {
            extra.push(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("ops-{name}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ops"}],
            }));
        }
    }
    (groups.into_iter().collect(), extra)
}

/// Removes `resource` (of `group`) from every rule of every ClusterRole that grants `verb` on it.
fn without(docs: &[Value], group: &str, resource: &str, verb: &str) -> Vec<Value> {
    let mut removed = false;
    let out = docs
        .iter()
        .cloned()
        .map(|mut d| {
            if d["kind"] == "ClusterRole"
                && let Some(rules) = d["rules"].as_array_mut()
            {
                for r in rules.iter_mut() {
                    let groups = r["apiGroups"].as_array().cloned().unwrap_or_default();
                    let verbs = r["verbs"].as_array().cloned().unwrap_or_default();
                    if groups.iter().any(|g| g == group)
                        && verbs.iter().any(|v| v == verb)
                        && let Some(res) = r["resources"].as_array_mut()
                    {
                        let n = res.len();
                        res.retain(|x| x != resource);
                        removed |= res.len() != n;
                    }
                }
                rules.retain(|r| {
                    r.get("nonResourceURLs").is_some()
                        || r["resources"].as_array().is_some_and(|a| !a.is_empty())
                });
            }
            d
        })
        .collect();
    assert!(removed, "no rule grants {verb} {resource}.{group}");
    out
}

fn rbac_env(scenario: &str, docs: &[Value]) -> Env {
    let (groups, extra) = bind_to_ops(docs);
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let env = Env::builder(scenario)
        .user("ops", "ops-token", &groups)
        .start();
    let mut items = docs.to_vec();
    items.extend(extra);
    env.apply(&json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string());
    env
}

/// For each plugin: (scenario, args, the rule to remove: group, resource, verb).
/// A rule to remove: API group, resource, verb.
type Rule = (&'static str, &'static str, &'static str);

const RBAC_CASES: [(&str, &str, &[&str], Rule); 4] = [
    (
        "health",
        "ks41-host-migrated",
        &["-o", "json"],
        ("", "nodes", "list"),
    ),
    (
        "upgrade-plan",
        "ks41-host-migrated",
        &["-o", "json"],
        ("", "nodes", "list"),
    ),
    (
        "untaint-member",
        "ks41-host-migrated",
        &["--all", "--dry-run", "-o", "json"],
        ("cluster.kubesphere.io", "clusters", "list"),
    ),
    (
        "ks-migrate",
        "ks41-host-migrated",
        &["gateway", "-o", "json"],
        ("", "secrets", "list"),
    ),
];

#[test]
fn each_plugin_runs_with_exactly_its_documented_role_and_names_a_missing_rule() {
    for (plugin, scenario, args, (group, resource, verb)) in RBAC_CASES {
        let docs = rbac_docs(plugin);
        let env = rbac_env(scenario, &docs);
        let admin = env.plugin(plugin).args(args).run();
        let ops = env
            .plugin(plugin)
            .args(args)
            .args(["--token", "ops-token"])
            .run();
        ops.assert_no_panic();
        assert_eq!(ops.code, admin.code, "{plugin}\n{}", ops.stderr);
        assert_eq!(ops.json(), admin.json(), "{plugin}: same result as admin");
        assert!(
            !ops.stderr.contains("forbidden"),
            "{plugin}: {}",
            ops.stderr
        );

        // One rule fewer: the 403 names the user, the verb and the resource.
        let cut = without(&docs, group, resource, verb);
        let env = rbac_env(scenario, &cut);
        let run = env
            .plugin(plugin)
            .args(args)
            .args(["--token", "ops-token"])
            .run();
        run.assert_no_panic();
        assert_ne!(run.code, Some(0), "{plugin}: never green when forbidden");
        let expected = format!(
            "User \\\"ops\\\" cannot {verb} resource \\\"{resource}\\\" in API group \\\"{group}\\\""
        );
        let plain = expected.replace('\\', "");
        assert!(
            run.stderr.contains(&plain) || run.stdout.contains(&expected),
            "{plugin}: lacks {plain}\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout,
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed kubeconfigs and flags

#[test]
fn kubeconfigs_with_missing_fields_are_named() {
    let env = Env::new("empty");
    let head = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user: {token: KC-TOKEN-1234}\n";
    let cases = [
        (
            "no-clusters",
            head.to_string(),
            "context `c` refers to cluster `k`, which is not defined",
        ),
        (
            "no-server",
            format!("{head}clusters:\n- name: k\n  cluster: {{insecure-skip-tls-verify: true}}\n"),
            "cluster `k` has no server",
        ),
        (
            "no-contexts",
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: KC-TOKEN-1234}\n"
                .to_string(),
            "no current context is set; pass --context",
        ),
        (
            "dangling-current-context",
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\n".to_string(),
            "no current context is set; pass --context",
        ),
        ("empty", String::new(), "no current context is set"),
    ];
    for (name, text, message) in cases {
        let path = env.write(name, &text);
        for (plugin, _) in PLUGINS {
            let run = env
                .plugin(plugin)
                .args(read_only(plugin))
                .arg("--kubeconfig")
                .arg(&path)
                .run();
            run.assert_code(2).assert_no_panic();
            let errors = error_lines(&run);
            assert_eq!(errors.len(), 1, "{plugin} {name}: {}", run.stderr);
            assert!(
                errors[0].contains(message) && errors[0].contains(name),
                "{plugin} {name}: {}",
                errors[0]
            );
            assert!(!run.stderr.contains("KC-TOKEN-1234"));
        }
    }
}

#[test]
fn version_strings_that_do_not_parse_are_usage_errors() {
    let env = Env::new("empty");
    for (plugin, args, needle) in [
        ("upgrade-plan", &["--target", "v1.x"][..], "v1.x"),
        ("upgrade-plan", &["--target", "garbage"][..], "garbage"),
        ("upgrade-plan", &["--target", ""][..], "--target"),
        ("upgrade-plan", &["--ks-target", "v4.x.1"][..], "v4.x.1"),
        (
            "upgrade-plan",
            &["--target", "v1.99999999999999999999"][..],
            "v1.99999999999999999999",
        ),
        ("health", &["--expect-version", "garbage"][..], "garbage"),
        (
            "health",
            &["--expect-version", "v1.27.16.4.5"][..],
            "v1.27.16.4.5",
        ),
        (
            "ks-migrate",
            &["host", "--dry-run", "--tag", "../../etc"][..],
            "",
        ),
    ] {
        let run = env.plugin(plugin).args(args).run();
        run.assert_no_panic();
        if needle.is_empty() {
            // ks-migrate --tag is a free-form image tag: whatever it does, no crash, no write.
            assert_ne!(run.code, Some(0), "{}", run.stderr);
            continue;
        }
        run.assert_code(2).assert_stderr_contains(needle);
        assert_eq!(error_lines(&run).len(), 1, "{}", run.stderr);
    }
}

#[test]
fn an_invalid_values_file_is_a_usage_error_naming_it() {
    let env = Env::new("ks34-host");
    for (name, text, needle) in [
        (
            "broken.yaml",
            "upgrade: [unclosed\n  enabled: true\n",
            "broken.yaml",
        ),
        ("list.yaml", "- a\n- b\n", "list.yaml"),
        ("empty.yaml", "", "empty.yaml"),
        (
            "unknown-job.yaml",
            "upgrade:\n  enabled: true\n  config:\n    jobs:\n      no-such-job:\n        enabled: true\n",
            "unknown job `no-such-job`",
        ),
        ("binary.yaml", "\u{0}\u{1}\u{2}\u{fffd}", "binary.yaml"),
    ] {
        let path = env.write(name, text);
        let before = e2e::resource_versions(&env, "configmaps,secrets,deployments");
        let run = env
            .plugin("ks-migrate")
            .args(["host", "--yes", "-f"])
            .arg(&path)
            .run();
        run.assert_code(2).assert_no_panic();
        run.assert_stderr_contains(needle);
        assert_eq!(error_lines(&run).len(), 1, "{}", run.stderr);
        assert_eq!(
            before,
            e2e::resource_versions(&env, "configmaps,secrets,deployments"),
            "{name}: nothing may change"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile cluster data

const ODD_OBJECTS: &str = r#"
apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: member-nostatus
  labels: {cluster-role.kubesphere.io/member: ""}
spec: {}
---
apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: member-oddstatus
spec: {}
status:
  conditions:
  - {}
  - type: Schedulable
  kubeSphereVersion: "not-a-version"
---
apiVersion: v1
kind: Node
metadata:
  name: bare-node
spec: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: no-container-statuses
  namespace: kube-system
spec:
  containers:
  - name: c
    image: busybox
status:
  phase: Running
---
apiVersion: v1
kind: Pod
metadata:
  name: no-status-at-all
  namespace: kubesphere-system
spec:
  containers:
  - name: c
    image: busybox
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: no-status
  namespace: kubesphere-system
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
      - name: c
        image: busybox
---
apiVersion: v1
kind: Secret
type: helm.sh/release.v1
metadata:
  name: sh.helm.release.v1.ks-core.v9
  namespace: kubesphere-system
  labels: {owner: helm, name: ks-core, status: deployed, version: "9"}
data:
  release: bm90IGEgaGVsbSByZWxlYXNlIEAjJCU=
---
apiVersion: v1
kind: Secret
type: helm.sh/release.v1
metadata:
  name: sh.helm.release.v1.odd.v1
  namespace: kubesphere-system
  labels: {owner: helm, name: odd, status: deployed, version: "not-a-number"}
data: {}
"#;

/// A v4 host with Cluster objects without status, a node without nodeInfo or conditions, pods
/// without container statuses, a Deployment without status, and a deployed ks-core revision
/// whose payload is garbage: every plugin answers, names what it could not read, and never
/// panics.
#[test]
fn odd_objects_and_a_corrupt_helm_release_do_not_crash_anything() {
    let env = Env::new("ks41-host-migrated");
    env.sim.apply_yaml(ODD_OBJECTS).expect("load odd objects");
    // The real kubectl sees them as they are.
    let node = env.get_json(&["node", "bare-node"]);
    assert!(
        node["status"]["nodeInfo"].is_null()
            || node["status"]["nodeInfo"]["kubeletVersion"].is_null()
    );
    for (plugin, args) in [
        ("health", &["-o", "json"][..]),
        ("health", &["-A", "-o", "yaml"][..]),
        ("health", &[][..]),
        ("upgrade-plan", &["-o", "json"][..]),
        ("upgrade-plan", &[][..]),
        ("untaint-member", &["--all", "--dry-run", "-o", "json"][..]),
        (
            "untaint-member",
            &["member-nostatus", "member-oddstatus", "--dry-run"][..],
        ),
        ("ks-migrate", &["gateway"][..]),
    ] {
        let run = env.plugin(plugin).args(args).run();
        run.assert_no_panic();
        assert!(
            matches!(run.code, Some(0..=2)),
            "{plugin} {args:?}: {:?}\n{}",
            run.code,
            run.stderr
        );
        if args.contains(&"json") {
            run.json();
        }
    }
    // health names the odd objects and does not call the cluster healthy.
    let run = env.plugin("health").args(["-o", "json"]).run();
    assert_ne!(run.code, Some(0), "{}", run.stdout);
    let text = run.stdout.clone();
    assert!(
        text.contains("bare-node"),
        "the node without conditions is named: {text}"
    );
    assert!(text.contains("no-container-statuses"), "{text}");
    assert!(text.contains("no-status-at-all"), "{text}");
    // upgrade-plan names the ks-core payload it cannot parse (CHECK001, Required).
    let run = env.plugin("upgrade-plan").args(["-o", "json"]).run();
    run.assert_code(1).assert_no_panic();
    assert!(
        run.stdout
            .contains("cannot parse Helm release `sh.helm.release.v1.ks-core.v9`"),
        "{}",
        run.stdout
    );
}

/// A deployed ks-core revision whose payload is garbage must be reported, not skipped: on a v4
/// host the ClusterConfiguration still says v3.4.1, so falling back to it would be wrong.
#[test]
fn health_names_a_corrupt_ks_core_release() {
    let env = Env::new("ks41-host-migrated");
    env.sim.apply_yaml(ODD_OBJECTS).expect("load odd objects");
    let run = env.plugin("health").args(["-o", "json"]).run();
    run.assert_no_panic();
    assert!(
        run.stdout.contains("sh.helm.release.v1.ks-core.v9"),
        "{}",
        run.stdout
    );
    // The version is unknown, not the v3.4.1 the ClusterConfiguration still says.
    let report = run.json();
    let check = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "kubesphere"))
        .cloned()
        .expect("kubesphere check");
    assert_eq!(check["status"], "fail", "{check}");
    let summary = check["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("unknown version"), "{summary}");
    assert!(!summary.contains("v3.4.1"), "{summary}");
}

// ---------------------------------------------------------------------------------------------
// Secrets

const SECRET_VALUE: &str = "KNOWN-SECRET-VALUE-7f3a9c";

fn b64(s: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

/// Every known secret: the admin token, the client key (as kubeconfig data and decoded), a
/// Secret's value planted in the cluster (plain and base64).
fn secrets(env: &Env) -> Vec<String> {
    let kc = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let key_b64 = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data: "))
        .expect("client key")
        .to_string();
    let out = std::process::Command::new("base64")
        .args(["-d"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(key_b64.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let pem = String::from_utf8_lossy(&out.stdout).to_string();
    let key_body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    vec![
        env.sim.admin_token().to_string(),
        key_b64[..40].to_string(),
        key_body[..40].to_string(),
        SECRET_VALUE.to_string(),
        b64(SECRET_VALUE),
    ]
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} contains the secret {s:.12}…:\n{text}"
        );
    }
}

/// Files in the directory, recursively, with their contents.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            out.extend(files(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[test]
fn secrets_never_appear_in_any_output() {
    let env = Env::builder("ks41-host-migrated")
        .user("nobody", "nobody-token", &[])
        .start();
    env.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: planted\n  namespace: kubesphere-system\ndata:\n  password: {}\n",
        b64(SECRET_VALUE)
    ));
    // A Helm release Secret whose payload is garbage that holds the value too.
    env.apply(&format!(
        "apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\nmetadata:\n  name: sh.helm.release.v1.leaky.v1\n  namespace: kubesphere-system\n  labels: {{owner: helm, name: leaky, status: deployed, version: \"1\"}}\ndata:\n  release: {}\n",
        b64(&b64(&format!("{{\"name\":\"leaky\",\"config\":{{\"password\":\"{SECRET_VALUE}\"}}")))
    ));
    let secrets = secrets(&env);
    let before: BTreeSet<_> = files(env.dir()).into_iter().map(|(p, _)| p).collect();
    let mut runs: Vec<(String, Run)> = Vec::new();
    for (plugin, _) in PLUGINS {
        for extra in [
            &[][..],
            &["-o", "json"][..],
            &["-o", "yaml"][..],
            &["-o", "wide"][..],
            &["--context", "kubesim-cert", "-o", "json"][..],
            &["--token", "nobody-token"][..],
            &["--token", "wrong-token"][..],
            &["--server", "https://does-not-exist.invalid:6443"][..],
            &["-o", "jsonpath={.nothing"][..],
        ] {
            let run = env
                .plugin(plugin)
                .args(read_only(plugin))
                .args(extra)
                .env("RUST_LOG", "trace")
                .env("RUST_BACKTRACE", "1")
                .run();
            runs.push((format!("{plugin} {extra:?}"), run));
        }
    }
    // Failing reads: every first read answered 503, then dropped.
    for fault in [
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        Fault::Drop {
            after_bytes: Some(100),
        },
    ] {
        env.sim.faults().clear();
        env.sim.faults().add(FaultRule::new(
            "/api/v1/namespaces/kubesphere-system/secrets",
            fault,
        ));
        for (plugin, _) in PLUGINS {
            let run = env.plugin(plugin).args(read_only(plugin)).run();
            runs.push((format!("{plugin} with a failing secrets read"), run));
        }
    }
    env.sim.faults().clear();
    for (what, run) in &runs {
        run.assert_no_panic();
        assert_clean(&format!("stdout of {what}"), &run.stdout, &secrets);
        assert_clean(&format!("stderr of {what}"), &run.stderr, &secrets);
    }
    // Read-only commands write no file at all.
    let after: BTreeSet<_> = files(env.dir()).into_iter().map(|(p, _)| p).collect();
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.is_empty(), "files written: {new:?}");
}
