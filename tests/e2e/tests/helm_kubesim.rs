//! The real helm (v3.17.3, `e2e::helm::real_helm()`) against kubesim over HTTPS: install,
//! upgrade, rollback, history, list and uninstall of a one-ConfigMap chart. helm writes its
//! release Secrets through client-go's typed client, in protobuf (`k8s\0` envelope), so these
//! tests prove kubesim's protobuf bodies with the client that needs them.
//!
//! No `--wait`: the chart is one ConfigMap and hook-free, so helm waits for nothing.
//! A missing helm fails the tests with what to run; they never skip.

use e2e::{Env, Run};
use serde_json::Value;

fn chart(env: &Env, value: &str) -> std::path::PathBuf {
    env.write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    );
    env.write(
        "chart/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    );
    env.write("chart/values.yaml", &format!("greeting: {value}\n"));
    env.dir().join("chart")
}

fn helm(env: &Env, args: &[&str]) -> Run {
    let run = env
        .command(e2e::helm::real_helm())
        .args(args)
        .args(["--kube-context", "kubesim"])
        .run();
    run.assert_no_panic();
    run
}

fn greeting(env: &Env, ns: &str) -> String {
    let cm = env.get_json(&["configmap", "demo-config", "-n", ns]);
    cm["data"]["greeting"].as_str().unwrap_or("").to_string()
}

fn history(env: &Env, ns: &str) -> Vec<(i64, String)> {
    let h: Value = helm(env, &["history", "demo", "-n", ns, "-o", "json"])
        .assert_success()
        .json();
    h.as_array()
        .expect("history is a list")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or(0),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn real_helm_installs_upgrades_rolls_back_and_uninstalls_on_kubesim() {
    let env = Env::new("empty");
    let ns = "apps";
    let dir = chart(&env, "hello");
    helm(
        &env,
        &[
            "install",
            "demo",
            dir.to_str().unwrap_or(""),
            "-n",
            ns,
            "--create-namespace",
        ],
    )
    .assert_success()
    .assert_stdout_contains("STATUS: deployed");
    assert_eq!(greeting(&env, ns), "hello");
    // the release record is a Secret helm wrote in protobuf; kubectl reads it back as JSON
    let secret = env.get_json(&["secret", "sh.helm.release.v1.demo.v1", "-n", ns]);
    assert_eq!(secret["type"], "helm.sh/release.v1");
    assert_eq!(secret["metadata"]["labels"]["owner"], "helm");
    assert!(
        secret["data"]["release"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );

    let dir = chart(&env, "bonjour");
    helm(
        &env,
        &["upgrade", "demo", dir.to_str().unwrap_or(""), "-n", ns],
    )
    .assert_success();
    assert_eq!(greeting(&env, ns), "bonjour");
    assert_eq!(
        history(&env, ns),
        vec![(1, "superseded".into()), (2, "deployed".into())]
    );

    helm(&env, &["rollback", "demo", "1", "-n", ns]).assert_success();
    assert_eq!(greeting(&env, ns), "hello");
    assert_eq!(
        history(&env, ns),
        vec![
            (1, "superseded".into()),
            (2, "superseded".into()),
            (3, "deployed".into())
        ]
    );

    let list: Value = helm(&env, &["list", "-n", ns, "-o", "json"])
        .assert_success()
        .json();
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["revision"], "3");
    assert_eq!(list[0]["status"], "deployed");

    helm(&env, &["uninstall", "demo", "-n", ns])
        .assert_success()
        .assert_stdout_contains("uninstalled");
    env.kubectl()
        .args(["get", "configmap", "demo-config", "-n", ns])
        .run()
        .assert_code(1)
        .assert_stderr_contains("NotFound");
    let secrets = env.get_json(&["secrets", "-n", ns, "-l", "owner=helm"]);
    assert_eq!(secrets["items"].as_array().map(Vec::len), Some(0));
    let list: Value = helm(&env, &["list", "-n", ns, "-o", "json"])
        .assert_success()
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(0));
}

#[test]
fn real_helm_dry_run_and_template_validation_change_nothing() {
    let env = Env::new("empty");
    let dir = chart(&env, "hello");
    helm(
        &env,
        &[
            "install",
            "demo",
            dir.to_str().unwrap_or(""),
            "-n",
            "default",
            "--dry-run=server",
        ],
    )
    .assert_success()
    .assert_stdout_contains("demo-config");
    env.kubectl()
        .args(["get", "configmap", "demo-config", "-n", "default"])
        .run()
        .assert_code(1);
    let list: Value = helm(&env, &["list", "-n", "default", "-o", "json"])
        .assert_success()
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(0));
}
