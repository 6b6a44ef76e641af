//! `kubectl untaint-member` (issue 5) against kubesim's `ks41-host-migrated`: `member-a` is on
//! v4.1.3 and carries `Schedulable=False`, `member-b` carries it too but still runs v3.4.1, and
//! `host` is the host. Every result is checked with the real kubectl.

use std::time::Duration;

use e2e::{
    Env, eventually,
    kubesim::{Fault, FaultRule},
    resource_versions,
};
use serde_json::{Value, json};

const SCENARIO: &str = "ks41-host-migrated";
const CLUSTERS: &str = "clusters.cluster.kubesphere.io";

fn cluster(env: &Env, name: &str) -> Value {
    env.get_json(&[CLUSTERS, name])
}

fn condition_types(cluster: &Value) -> Vec<String> {
    cluster["status"]["conditions"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|c| c["type"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn has_schedulable(cluster: &Value) -> bool {
    condition_types(cluster).iter().any(|t| t == "Schedulable")
}

/// The object as it should look after untainting `before`: the same, minus the Schedulable
/// condition, with the server-maintained resourceVersion/generation taken from `after`.
fn expected_after(before: &Value, after: &Value) -> Value {
    let mut expected = before.clone();
    expected["status"]["conditions"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["type"] != "Schedulable");
    for field in ["resourceVersion", "generation"] {
        match after["metadata"].get(field) {
            Some(v) => expected["metadata"][field] = v.clone(),
            None => {
                expected["metadata"].as_object_mut().unwrap().remove(field);
            }
        }
    }
    expected
}

fn member<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no member `{name}` in {report:#}"))
}

#[test]
fn one_member_loses_only_its_schedulable_condition() {
    let env = Env::new(SCENARIO);
    let before = cluster(&env, "member-a");
    assert!(has_schedulable(&before), "the scenario taints member-a");
    let others = resource_versions(&env, "clusters.cluster.kubesphere.io");

    // Through the real kubectl, as an operator runs it.
    let run = env.kubectl().args(["untaint-member", "member-a"]).run();
    run.assert_success().assert_no_panic();
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("member-a"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        line.contains("untainted") && line.contains("v4.1.3"),
        "{line}"
    );
    assert!(
        run.stdout
            .starts_with("MEMBER     KUBESPHERE   READY   RESULT"),
        "{}",
        run.stdout
    );

    let after = cluster(&env, "member-a");
    assert!(!has_schedulable(&after));
    assert_eq!(
        condition_types(&after),
        vec!["Ready", "KubeConfigCertExpiresInSevenDays", "KSCoreReady"]
    );
    assert_eq!(
        after,
        expected_after(&before, &after),
        "only the condition changed"
    );
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    let annotations = after["metadata"]["annotations"].as_object().unwrap();
    assert!(
        !annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "no last-applied annotation is left behind"
    );
    // The other Clusters were not written.
    let now = resource_versions(&env, "clusters.cluster.kubesphere.io");
    for name in ["host", "member-b"] {
        let key = format!("Cluster//{name}");
        assert_eq!(now[&key], others[&key], "{name} was written");
    }
    // The write is recorded under our field manager.
    let managed = env
        .kubectl()
        .args([
            "get",
            CLUSTERS,
            "member-a",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .run();
    managed.assert_success();
    assert!(
        managed.stdout.contains("kubectl-untaint-member"),
        "{}",
        managed.stdout
    );
}

#[test]
fn all_untaints_migrated_members_and_refuses_the_others() {
    let env = Env::new(SCENARIO);
    let member_b = cluster(&env, "member-b");
    let run = env
        .plugin("untaint-member")
        .args(["--all", "-o", "json"])
        .run();
    run.assert_code(1).assert_no_panic();
    let report = run.json();
    let names: Vec<&str> = report["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["member-a", "member-b"], "never the host");
    assert_eq!(member(&report, "member-a")["action"], "untainted");
    let b = member(&report, "member-b");
    assert_eq!(b["action"], "refused");
    assert_eq!(b["code"], "MemberNotOnV4");
    run.assert_stderr_contains(
        "error: member `member-b` runs KubeSphere v3.4.1: migrate it first with `kubectl ks-migrate member`",
    );

    assert!(!has_schedulable(&cluster(&env, "member-a")));
    let b_after = cluster(&env, "member-b");
    assert!(has_schedulable(&b_after));
    assert_eq!(b_after, member_b, "a refused member is not written");
}

#[test]
fn the_host_is_refused_even_with_force() {
    let env = Env::new(SCENARIO);
    let before = cluster(&env, "host");
    for extra in [&[][..], &["--force"][..]] {
        let run = env.plugin("untaint-member").arg("host").args(extra).run();
        run.assert_code(1).assert_no_panic();
        run.assert_stderr_contains(
            "error: `host` is the host cluster; only members carry the condition",
        );
        assert!(run.stdout.contains("refused"), "{}", run.stdout);
    }
    assert_eq!(cluster(&env, "host"), before);
}

#[test]
fn a_member_not_yet_on_v4_is_refused_unless_forced() {
    let env = Env::new(SCENARIO);
    let before = cluster(&env, "member-b");
    let run = env
        .plugin("untaint-member")
        .args(["member-b", "-o", "json"])
        .run();
    run.assert_code(1).assert_no_panic();
    let b = member(&run.json(), "member-b").clone();
    assert_eq!(b["action"], "refused");
    assert_eq!(b["kubesphereVersion"], "v3.4.1");
    assert_eq!(
        b["reason"],
        "member `member-b` runs KubeSphere v3.4.1: migrate it first with `kubectl ks-migrate member`"
    );
    assert!(b.get("patch").is_none());
    assert_eq!(cluster(&env, "member-b"), before, "nothing was written");

    let forced = env
        .plugin("untaint-member")
        .args(["member-b", "--force", "-o", "json"])
        .run();
    forced.assert_success();
    let b = member(&forced.json(), "member-b").clone();
    assert_eq!(b["action"], "untainted");
    assert_eq!(b["overridden"], json!(["MemberNotOnV4"]));
    let after = cluster(&env, "member-b");
    assert_eq!(after, expected_after(&before, &after));
}

#[test]
fn a_rerun_is_idempotent() {
    let env = Env::new(SCENARIO);
    env.plugin("untaint-member")
        .arg("member-a")
        .run()
        .assert_success();
    let once = cluster(&env, "member-a");
    let run = env
        .plugin("untaint-member")
        .args(["member-a", "-o", "json"])
        .run();
    run.assert_success();
    let a = member(&run.json(), "member-a").clone();
    assert_eq!(a["action"], "already-schedulable");
    assert_eq!(a["reason"], "no Schedulable condition");
    assert!(a.get("patch").is_none());
    assert_eq!(cluster(&env, "member-a"), once, "the rerun wrote nothing");
    // --all has nothing left but member-b.
    let all = env
        .plugin("untaint-member")
        .args(["--all", "-o", "json"])
        .run();
    let names: Vec<Value> = all.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("member-b")]);
}

#[test]
fn a_concurrent_update_between_read_and_write_is_not_lost() {
    let env = Env::new(SCENARIO);
    // Hold our PATCH for a while: by then the plugin has read member-a and built its patch.
    env.sim.faults().add(
        FaultRule::new(
            "/apis/cluster.kubesphere.io/v1alpha1/clusters/member-a",
            Fault::Latency { ms: 4000 },
        )
        .method("PATCH")
        .exact()
        .times(1),
    );
    let running = env
        .plugin("untaint-member")
        .args(["member-a", "-o", "json"])
        .spawn();
    eventually(Duration::from_secs(20), || {
        (env.sim
            .counters()
            .count("PATCH /apis/cluster.kubesphere.io/v1alpha1/clusters")
            >= 1)
            .then_some(())
    });
    // Meanwhile: a label, and a new condition in front, which shifts Schedulable's index.
    env.kubectl()
        .args(["label", CLUSTERS, "member-a", "concurrent=kept"])
        .run()
        .assert_success();
    env.kubectl()
        .args([
            "patch",
            CLUSTERS,
            "member-a",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/status/conditions/0","value":{"type":"AgentAvailable","status":"True","reason":"Concurrent"}}]"#,
        ])
        .run()
        .assert_success();
    let mid = cluster(&env, "member-a");
    assert!(
        has_schedulable(&mid),
        "the concurrent writes landed before our PATCH"
    );

    let run = running.wait();
    run.assert_success().assert_no_panic();
    let a = member(&run.json(), "member-a").clone();
    assert_eq!(a["action"], "untainted");
    assert_eq!(
        a["attempts"], 2,
        "the stale patch failed and was rebuilt: {a:#}"
    );
    assert_eq!(a["patch"][0]["path"], "/metadata/resourceVersion");
    assert_eq!(a["patch"][0]["value"], mid["metadata"]["resourceVersion"]);
    assert_eq!(
        a["patch"][1]["path"], "/status/conditions/4/type",
        "the new index"
    );

    let after = cluster(&env, "member-a");
    assert_eq!(after["metadata"]["labels"]["concurrent"], "kept");
    assert_eq!(
        condition_types(&after),
        vec![
            "AgentAvailable",
            "Ready",
            "KubeConfigCertExpiresInSevenDays",
            "KSCoreReady"
        ]
    );
    assert_eq!(
        after,
        expected_after(&mid, &after),
        "both concurrent changes are kept"
    );
}

#[test]
fn dry_run_prints_the_patch_and_changes_nothing() {
    let env = Env::new(SCENARIO);
    let kinds = "clusters.cluster.kubesphere.io,installplans.kubesphere.io,validatingwebhookconfigurations,configmaps";
    let before = resource_versions(&env, kinds);
    let table = env
        .plugin("untaint-member")
        .args(["member-a", "--dry-run"])
        .run();
    table.assert_success();
    table.assert_stdout_contains("would-untaint");
    table.assert_stdout_contains(
        "# member-a: PATCH /apis/cluster.kubesphere.io/v1alpha1/clusters/member-a (application/json-patch+json)",
    );
    let json = env
        .plugin("untaint-member")
        .args(["--all", "--dry-run", "-o", "json"])
        .run();
    json.assert_code(1); // member-b is still refused
    let report = json.json();
    assert_eq!(report["dryRun"], true);
    let a = member(&report, "member-a").clone();
    assert_eq!(a["action"], "would-untaint");
    assert_eq!(resource_versions(&env, kinds), before, "nothing changed");

    // The printed patch is exactly what the server needs: the real kubectl applies it.
    let before_a = cluster(&env, "member-a");
    env.kubectl()
        .args(["patch", CLUSTERS, "member-a", "--type=json", "-p"])
        .arg(a["patch"].to_string())
        .run()
        .assert_success();
    let after = cluster(&env, "member-a");
    assert_eq!(after, expected_after(&before_a, &after));
}

#[test]
fn a_leftover_v3_webhook_is_named_and_blocks_until_removed() {
    let env = Env::new(SCENARIO);
    env.apply(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: cluster.kubesphere.io
webhooks:
  - name: validating-cluster.kubesphere.io
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    clientConfig:
      caBundle: ""
      service:
        name: ks-controller-manager
        namespace: kubesphere-system
        path: /validate-cluster-kubesphere-io-v1alpha1
    rules:
      - apiGroups: ["cluster.kubesphere.io"]
        apiVersions: ["v1alpha1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["clusters"]
"#,
    );
    let before = cluster(&env, "member-a");
    let run = env
        .plugin("untaint-member")
        .args(["member-a", "-o", "json"])
        .run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("ValidatingWebhookConfiguration `cluster.kubesphere.io`");
    run.assert_stderr_contains("hint: check that it is the v3 leftover");
    run.assert_stderr_contains(
        "kubectl delete validatingwebhookconfiguration cluster.kubesphere.io",
    );
    let report = run.json();
    assert_eq!(report["leftoverWebhooks"], json!(["cluster.kubesphere.io"]));
    assert_eq!(member(&report, "member-a")["code"], "LeftoverV3Webhook");
    assert_eq!(cluster(&env, "member-a"), before);

    // Following the hint releases the member.
    env.kubectl()
        .args([
            "delete",
            "validatingwebhookconfiguration",
            "cluster.kubesphere.io",
        ])
        .run()
        .assert_success();
    env.plugin("untaint-member")
        .arg("member-a")
        .run()
        .assert_success();
    assert!(!has_schedulable(&cluster(&env, "member-a")));
}

#[test]
fn json_and_yaml_reports_have_the_documented_shape() {
    let env = Env::new(SCENARIO);
    let run = env
        .plugin("untaint-member")
        .args(["member-a", "member-b", "nope", "-o", "json"])
        .run();
    run.assert_code(1);
    let report = run.json();
    assert_eq!(report["apiVersion"], "kupgrade.dev/v1alpha1");
    assert_eq!(report["kind"], "UntaintReport");
    assert_eq!(report["dryRun"], false);
    assert_eq!(report["force"], false);
    let a = member(&report, "member-a");
    assert_eq!(a["action"], "untainted");
    assert_eq!(a["kubesphereVersion"], "v4.1.3");
    assert_eq!(a["ready"], "True");
    assert_eq!(a["attempts"], 1);
    assert_eq!(
        a["previousCondition"],
        json!({"type": "Schedulable", "status": "False", "reason": "Upgrading",
               "message": "Not schedulable now",
               "lastTransitionTime": a["previousCondition"]["lastTransitionTime"],
               "lastUpdateTime": a["previousCondition"]["lastUpdateTime"]})
    );
    let ops: Vec<&str> = a["patch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, vec!["test", "test", "remove"]);
    let nope = member(&report, "nope");
    assert_eq!(nope["action"], "refused");
    assert_eq!(nope["code"], "MemberNotFound");
    assert_eq!(nope["reason"], "member `nope` not found");

    let yaml = env
        .plugin("untaint-member")
        .args(["member-a", "-o", "yaml"])
        .run();
    yaml.assert_success();
    let y = yaml.yaml();
    assert_eq!(y["kind"], "UntaintReport");
    assert_eq!(y["members"][0]["action"], "already-schedulable");
    let jp = env
        .plugin("untaint-member")
        .args(["--all", "--dry-run", "-o", "jsonpath={.members[*].action}"])
        .run();
    assert_eq!(jp.stdout, "refused");
}

#[test]
fn clusters_without_status_or_with_odd_status_do_not_crash() {
    let env = Env::new(SCENARIO);
    env.apply(
        r#"apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: member-c
spec:
  provider: Bare Metal
---
apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: member-d
spec:
  provider: Bare Metal
status:
  conditions: not-a-list
  kubeSphereVersion: 42
"#,
    );
    let run = env
        .plugin("untaint-member")
        .args(["member-c", "member-d"])
        .run();
    run.assert_success().assert_no_panic();
    for name in ["member-c", "member-d"] {
        let line = run.stdout.lines().find(|l| l.starts_with(name)).unwrap();
        assert!(line.contains("already-schedulable"), "{line}");
        assert!(line.contains("<none>"), "{line}");
    }
    // --all skips them and still handles the rest.
    let all = env
        .plugin("untaint-member")
        .args(["--all", "-o", "json"])
        .run();
    all.assert_code(1).assert_no_panic();
    let names: Vec<Value> = all.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("member-a"), json!("member-b")]);
}

#[test]
fn a_context_that_is_not_a_host_is_refused() {
    // A member: the Cluster CRD is installed but there is no Cluster at all.
    let member = Env::new("ks34-member");
    let run = member.plugin("untaint-member").arg("--all").run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("error: this context is not a KubeSphere host cluster");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // No KubeSphere at all: the Cluster API is not served.
    let plain = Env::new("empty");
    let run = plain.plugin("untaint-member").arg("member-a").run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("error: this context is not a KubeSphere host cluster");
}

#[test]
fn wait_follows_the_gateway_install_plan_until_the_agent_is_installed() {
    let env = Env::new(SCENARIO);
    let running = env
        .plugin("untaint-member")
        .args(["member-a", "--wait", "--timeout", "60s", "-o", "json"])
        .spawn();
    eventually(Duration::from_secs(30), || {
        (!has_schedulable(&cluster(&env, "member-a"))).then_some(())
    });
    // The InstallPlan controller installs the agent (InstallPlan has no status subresource).
    env.kubectl()
        .args([
            "patch",
            "installplans.kubesphere.io",
            "gateway",
            "--type=merge",
            "-p",
            r#"{"status":{"clusterSchedulingStatuses":{"member-a":{"state":"Installed","releaseName":"gateway-agent"}}}}"#,
        ])
        .run()
        .assert_success();
    let run = running.wait();
    run.assert_success().assert_no_panic();
    let report = run.json();
    assert_eq!(report["wait"]["outcome"], "installed");
    assert_eq!(report["wait"]["states"], json!({"member-a": "Installed"}));
    assert_eq!(member(&report, "member-a")["agentState"], "Installed");
}

#[test]
fn wait_times_out_naming_the_member_still_missing() {
    let env = Env::new(SCENARIO);
    let run = env
        .plugin("untaint-member")
        .args(["member-a", "--wait", "--timeout", "2s", "-o", "json"])
        .run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains(
        "error: timed out after 2s waiting for InstallPlan `gateway` to install the agent on member-a (<none>)",
    );
    let report = run.json();
    assert_eq!(report["wait"]["outcome"], "timed-out");
    assert_eq!(report["wait"]["pending"], json!(["member-a"]));
    // The untaint itself happened.
    assert_eq!(member(&report, "member-a")["action"], "untainted");
    assert!(!has_schedulable(&cluster(&env, "member-a")));
}

#[test]
fn the_documented_cluster_role_is_enough() {
    let env = Env::builder(SCENARIO)
        .user("untainter", "untainter-token", &[])
        .start();
    let role = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/rbac/untaint-member.yaml"),
    )
    .unwrap();
    env.apply(&role);
    env.apply(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: untainter
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kupgrade-untaint-member
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: untainter
"#,
    );
    let run = env
        .plugin("untaint-member")
        .args([
            "--all",
            "--wait",
            "--timeout",
            "1s",
            "--token",
            "untainter-token",
            "-o",
            "json",
        ])
        .run();
    run.assert_no_panic();
    assert!(!run.stderr.contains("forbidden"), "{}", run.stderr);
    run.assert_code(1); // member-b refused, and the agent wait times out
    assert_eq!(member(&run.json(), "member-a")["action"], "untainted");

    // Without the role, the same user is told what is missing (exit 2).
    let nobody = Env::builder(SCENARIO)
        .user("nobody", "nobody-token", &[])
        .start();
    let run = nobody
        .plugin("untaint-member")
        .args(["member-a", "--token", "nobody-token"])
        .run();
    run.assert_code(2).assert_no_panic();
    run.assert_stderr_contains("cannot list clusters.cluster.kubesphere.io");
    run.assert_stderr_contains("forbidden");
}

#[test]
fn a_condition_removed_by_someone_else_meanwhile_is_reported_already_schedulable() {
    let env = Env::new(SCENARIO);
    env.sim.faults().add(
        FaultRule::new(
            "/apis/cluster.kubesphere.io/v1alpha1/clusters/member-a",
            Fault::Latency { ms: 4000 },
        )
        .method("PATCH")
        .exact()
        .times(1),
    );
    let running = env
        .plugin("untaint-member")
        .args(["member-a", "-o", "json"])
        .spawn();
    eventually(Duration::from_secs(20), || {
        (env.sim
            .counters()
            .count("PATCH /apis/cluster.kubesphere.io/v1alpha1/clusters")
            >= 1)
            .then_some(())
    });
    // Someone (upstream's jq one-liner, say) removes it first.
    env.kubectl()
        .args([
            "patch",
            CLUSTERS,
            "member-a",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/status/conditions/3/type","value":"Schedulable"},{"op":"remove","path":"/status/conditions/3"}]"#,
        ])
        .run()
        .assert_success();
    let mid = cluster(&env, "member-a");
    let run = running.wait();
    run.assert_success().assert_no_panic();
    let a = member(&run.json(), "member-a").clone();
    assert_eq!(a["action"], "already-schedulable", "{a:#}");
    assert_eq!(
        cluster(&env, "member-a"),
        mid,
        "our stale patch changed nothing"
    );
}

#[test]
fn a_member_that_is_not_ready_is_refused() {
    let env = Env::new(SCENARIO);
    env.kubectl()
        .args([
            "patch",
            CLUSTERS,
            "member-a",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/status/conditions/0/type","value":"Ready"},{"op":"replace","path":"/status/conditions/0/status","value":"False"},{"op":"replace","path":"/status/conditions/0/reason","value":"Unreachable"}]"#,
        ])
        .run()
        .assert_success();
    let before = cluster(&env, "member-a");
    let run = env.plugin("untaint-member").arg("member-a").run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("error: member `member-a` is not Ready (Ready=False, Unreachable: Cluster is available now)");
    run.assert_stderr_contains("hint: the host must reach the member first");
    assert_eq!(cluster(&env, "member-a"), before);
}
