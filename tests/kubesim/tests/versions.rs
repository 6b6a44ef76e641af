//! The group-versions kubesim serves follow the minor it claims (1.22 to 1.36), as the
//! Kubernetes deprecated API migration guide lists them, and objects created through an old
//! version are the same objects through the current one.

mod common;

use common::Env;
use kubesim::Sim;
use serde_json::Value;

fn versions_of(apis: &Value, group: &str) -> Vec<String> {
    apis["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["name"] == group)
        .flat_map(|g| g["versions"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["version"].as_str().map(String::from))
        .collect()
}

fn preferred(apis: &Value, group: &str) -> String {
    apis["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["name"] == group)
        .and_then(|g| g["preferredVersion"]["version"].as_str())
        .unwrap_or("")
        .to_string()
}

fn apis_at(version: &str) -> Value {
    let sim = Sim::builder()
        .scenario("empty")
        .git_version(version)
        .tls(false)
        .start()
        .expect("sim");
    sim.get_json("/apis").expect("/apis")
}

#[test]
fn discovery_at_1_25_serves_what_1_26_removes() {
    let apis = apis_at("v1.25.16");
    assert_eq!(versions_of(&apis, "autoscaling"), ["v2", "v1", "v2beta2"]);
    assert_eq!(preferred(&apis, "autoscaling"), "v2");
    assert_eq!(
        versions_of(&apis, "flowcontrol.apiserver.k8s.io"),
        ["v1beta2", "v1beta1"]
    );
    assert_eq!(versions_of(&apis, "batch"), ["v1"]);
    assert_eq!(versions_of(&apis, "policy"), ["v1"]);

    let apis = apis_at("v1.26.15");
    assert_eq!(versions_of(&apis, "autoscaling"), ["v2", "v1"]);
    assert_eq!(
        versions_of(&apis, "flowcontrol.apiserver.k8s.io"),
        ["v1beta3", "v1beta2"]
    );
}

#[test]
fn discovery_follows_the_claimed_minor_from_1_22_to_1_36() {
    let apis = apis_at("v1.22.17");
    assert_eq!(
        versions_of(&apis, "autoscaling"),
        ["v1", "v2beta2", "v2beta1"]
    );
    assert_eq!(versions_of(&apis, "batch"), ["v1", "v1beta1"]);
    assert_eq!(versions_of(&apis, "policy"), ["v1", "v1beta1"]);
    assert_eq!(
        versions_of(&apis, "flowcontrol.apiserver.k8s.io"),
        ["v1beta1"]
    );
    let apis = apis_at("v1.29.10");
    assert_eq!(
        versions_of(&apis, "flowcontrol.apiserver.k8s.io"),
        ["v1", "v1beta3"]
    );
    let apis = apis_at("v1.36.0");
    assert_eq!(versions_of(&apis, "flowcontrol.apiserver.k8s.io"), ["v1"]);
    assert_eq!(versions_of(&apis, "storage.k8s.io"), ["v1"]);
}

const HPA_V2BETA2: &str = "apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: default
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 80}
";

#[test]
fn kubectl_at_1_25_creates_an_hpa_through_autoscaling_v2beta2() {
    let env = Env::start(Sim::builder().scenario("empty").git_version("v1.25.16"));
    env.ok_stdin(&["create", "-f", "-"], Some(HPA_V2BETA2));
    // the same object through the old and the current version
    let old: Value = serde_json::from_str(&env.ok(&[
        "get",
        "horizontalpodautoscalers.v2beta2.autoscaling",
        "web",
        "-o",
        "json",
    ]))
    .expect("json");
    assert_eq!(old["apiVersion"], "autoscaling/v2beta2");
    let new: Value =
        serde_json::from_str(&env.ok(&["get", "hpa", "web", "-o", "json"])).expect("json");
    assert_eq!(new["apiVersion"], "autoscaling/v2");
    assert_eq!(new["metadata"]["uid"], old["metadata"]["uid"]);
    assert_eq!(new["spec"]["maxReplicas"], 3);
    let v1 = env
        .sim
        .get_json("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web")
        .expect("v1");
    assert_eq!(v1["metadata"]["uid"], old["metadata"]["uid"]);

    // 1.26 removed autoscaling/v2beta2: the same manifest is refused
    let env = Env::start(Sim::builder().scenario("empty").git_version("v1.26.15"));
    let out = env.kubectl_stdin(&["create", "-f", "-"], Some(HPA_V2BETA2));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "no matches for kind \"HorizontalPodAutoscaler\" in version \"autoscaling/v2beta2\""
        ),
        "{stderr}"
    );
}

#[test]
fn scenario_objects_load_through_old_versions_at_their_minor() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("old.yaml");
    std::fs::write(
        &path,
        "apiVersion: kubesim.dev/v1\nkind: KubesimScenario\ngitVersion: v1.24.17\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\n\
apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly, namespace: default}\n\
spec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: busybox}]\n---\n\
apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: pdb, namespace: default}\nspec: {minAvailable: 1, selector: {matchLabels: {app: web}}}\n",
    )
    .expect("write");
    let sim = Sim::builder()
        .scenario(path.to_str().expect("utf-8"))
        .tls(false)
        .start()
        .expect("sim");
    let cj = sim
        .get_json("/apis/batch/v1/namespaces/default/cronjobs/nightly")
        .expect("cronjob via batch/v1");
    assert_eq!(cj["apiVersion"], "batch/v1");
    let old = sim
        .get_json("/apis/batch/v1beta1/namespaces/default/cronjobs/nightly")
        .expect("cronjob via batch/v1beta1");
    assert_eq!(old["apiVersion"], "batch/v1beta1");
    let pdb = sim
        .get_json("/apis/policy/v1/namespaces/default/poddisruptionbudgets/pdb")
        .expect("pdb via policy/v1");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
}
