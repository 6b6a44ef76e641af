//! kubesim's controllers (`Sim::builder().controllers(true)`), witnessed by the real kubectl:
//! `rollout status`, `wait --for=condition=...`, `delete --cascade=...`.

mod common;

use common::Env;
use kubesim::Sim;
use serde_json::Value;

fn env() -> Env {
    Env::start(Sim::builder().scenario("empty").controllers(true))
}

fn json(env: &Env, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&env.ok(&a)).expect("kubectl -o json")
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

fn owner_uids(v: &Value) -> Vec<String> {
    v["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["controller"] == true)
        .map(|r| r["uid"].as_str().unwrap_or("").to_string())
        .collect()
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
";

#[test]
fn deployment_rolls_out_through_its_newest_replicaset() {
    let env = env();
    env.ok_stdin(&["apply", "-f", "-"], Some(WEB));
    let out = env.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");

    let d = json(&env, &["get", "deployment", "web"]);
    let rs = items(&json(&env, &["get", "rs", "-l", "app=web"]));
    assert_eq!(rs.len(), 1, "{rs:?}");
    let hash = rs[0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("pod-template-hash label");
    assert_eq!(name(&rs[0]), format!("web-{hash}"));
    assert_eq!(owner_uids(&rs[0]), [d["metadata"]["uid"].as_str().unwrap()]);
    assert_eq!(
        rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(
        rs[0]["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    let pods = items(&json(&env, &["get", "pods", "-l", "app=web"]));
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(owner_uids(p), [rs[0]["metadata"]["uid"].as_str().unwrap()]);
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(p["spec"]["nodeName"], "node-1");
        assert!(
            p["status"]["podIP"]
                .as_str()
                .unwrap()
                .starts_with("10.244.")
        );
    }
    let st = &d["status"];
    assert_eq!(st["observedGeneration"], d["metadata"]["generation"]);
    for k in [
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
    ] {
        assert_eq!(st[k], 3, "{k}: {st}");
    }
    let cond = |t: &str| {
        st["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(cond("Available")["status"], "True");
    assert_eq!(cond("Progressing")["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        cond("Progressing")["message"],
        format!("ReplicaSet \"web-{hash}\" has successfully progressed.")
    );
    // the API server's defaults that rollout status and helm read
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        "25%"
    );

    // a new template: a second ReplicaSet at revision 2, the first scaled to 0
    env.ok(&["set", "image", "deployment/web", "nginx=nginx:1.26"]);
    let out = env.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let rs = items(&json(&env, &["get", "rs", "-l", "app=web"]));
    assert_eq!(rs.len(), 2);
    let (new, old): (Vec<&Value>, Vec<&Value>) = rs
        .iter()
        .partition(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26");
    assert_eq!(
        new[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(new[0]["status"]["replicas"], 3);
    assert_eq!(old[0]["spec"]["replicas"], 0);
    assert_eq!(old[0]["status"]["replicas"], 0);
    let pods = items(&json(&env, &["get", "pods", "-l", "app=web"]));
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| owner_uids(p) == [new[0]["metadata"]["uid"].as_str().unwrap()])
    );
    let history = env.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // scale down: pods removed, status follows
    env.ok(&["scale", "deployment/web", "--replicas=1"]);
    env.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let d = json(&env, &["get", "deployment", "web"]);
    assert_eq!(d["status"]["availableReplicas"], 1);
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
}

const STS: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: pg
        image: postgres:16
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: agent:1
";

#[test]
fn statefulset_and_daemonset_roll_out() {
    let env = env();
    env.ok_stdin(&["apply", "-f", "-"], Some(STS));
    let out = env.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]);
    assert!(
        out.contains("roll out complete") || out.contains("rolling update complete"),
        "{out}"
    );
    let out = env.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");

    let sts = json(&env, &["get", "sts", "db"]);
    let st = &sts["status"];
    assert_eq!(st["observedGeneration"], sts["metadata"]["generation"]);
    assert_eq!(st["readyReplicas"], 2);
    assert_eq!(st["updatedReplicas"], 2);
    assert_eq!(st["currentRevision"], st["updateRevision"]);
    let rev1 = st["updateRevision"].as_str().unwrap().to_string();
    assert!(rev1.starts_with("db-"), "{rev1}");
    let pods = items(&json(&env, &["get", "pods", "-l", "app=db"]));
    let names: Vec<&str> = pods.iter().map(name).collect();
    assert_eq!(names, ["db-0", "db-1"]);
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["labels"]["controller-revision-hash"] == rev1.as_str())
    );

    // new template: every pod replaced at the new revision
    env.ok(&["set", "image", "statefulset/db", "pg=postgres:17"]);
    env.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]);
    let sts = json(&env, &["get", "sts", "db"]);
    let rev2 = sts["status"]["updateRevision"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(rev1, rev2);
    assert_eq!(sts["status"]["currentRevision"], rev2.as_str());
    let pods = items(&json(&env, &["get", "pods", "-l", "app=db"]));
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter().all(
            |p| p["metadata"]["labels"]["controller-revision-hash"] == rev2.as_str()
                && p["spec"]["containers"][0]["image"] == "postgres:17"
        )
    );

    let ds = json(&env, &["get", "ds", "agent"]);
    let st = &ds["status"];
    assert_eq!(st["desiredNumberScheduled"], 1, "one node: {st}");
    assert_eq!(st["numberReady"], 1);
    assert_eq!(st["updatedNumberScheduled"], 1);
    assert_eq!(st["observedGeneration"], ds["metadata"]["generation"]);
    assert_eq!(
        ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        1
    );

    // a second node gets its own pod
    env.ok_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Node\nmetadata:\n  name: node-2\n"),
    );
    env.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    let ds = json(&env, &["get", "ds", "agent"]);
    assert_eq!(ds["status"]["desiredNumberScheduled"], 2);
    assert_eq!(ds["status"]["numberReady"], 2);
    let nodes: Vec<String> = items(&json(&env, &["get", "pods", "-l", "app=agent"]))
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(nodes.len(), 2);
    assert!(nodes.contains(&"node-1".into()) && nodes.contains(&"node-2".into()));
}

const JOBS: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: ok
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox
---
apiVersion: batch/v1
kind: Job
metadata:
  name: bad
  annotations:
    kubesim.dev/fail: \"true\"
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox
---
apiVersion: batch/v1
kind: Job
metadata:
  name: bad-pod
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        kubesim.dev/fail: \"true\"
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: busybox
";

fn cond_types(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "True")
        .map(|c| c["type"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn jobs_complete_or_fail_on_request() {
    let env = Env::start(
        Sim::builder()
            .scenario("empty")
            .git_version("v1.31.2")
            .controllers(true),
    );
    env.ok_stdin(&["apply", "-f", "-"], Some(JOBS));
    let out = env.ok(&[
        "wait",
        "--for=condition=complete",
        "job/ok",
        "--timeout=60s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    let out = env.ok(&["wait", "--for=condition=failed", "job/bad", "--timeout=60s"]);
    assert!(out.contains("condition met"), "{out}");
    // the annotation on the pod template fails the Job too (backoffLimit 0: one pod)
    env.ok(&[
        "wait",
        "--for=condition=failed",
        "job/bad-pod",
        "--timeout=60s",
    ]);
    assert_eq!(
        json(&env, &["get", "job", "bad-pod"])["status"]["failed"],
        1
    );

    let ok = json(&env, &["get", "job", "ok"]);
    assert_eq!(ok["status"]["succeeded"], 1);
    assert!(ok["status"]["completionTime"].is_string());
    assert!(ok["status"]["startTime"].is_string());
    // v1.31 adds SuccessCriteriaMet before Complete
    assert_eq!(cond_types(&ok), ["SuccessCriteriaMet", "Complete"]);
    let uid = ok["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        ok["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let pods = items(&json(&env, &["get", "pods", "-l", "job-name=ok"]));
    assert_eq!(pods.len(), 1);
    assert_eq!(owner_uids(&pods[0]), [uid]);
    assert_eq!(pods[0]["status"]["phase"], "Succeeded");

    let bad = json(&env, &["get", "job", "bad"]);
    assert_eq!(cond_types(&bad), ["FailureTarget", "Failed"]);
    // backoffLimit 2: three pods failed
    assert_eq!(bad["status"]["failed"], 3);
    let failed = bad["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .cloned()
        .unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    let pods = items(&json(&env, &["get", "pods", "-l", "job-name=bad"]));
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Failed"));

    // v1.30 reports Complete alone
    let env = env_v130_job();
    let ok = json(&env, &["get", "job", "ok"]);
    assert_eq!(cond_types(&ok), ["Complete"]);
}

fn env_v130_job() -> Env {
    let env = env();
    env.ok_stdin(
        &["apply", "-f", "-"],
        Some(JOBS.split("---").next().unwrap()),
    );
    env.ok(&[
        "wait",
        "--for=condition=complete",
        "job/ok",
        "--timeout=60s",
    ]);
    env
}

const STORAGE: &str = "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: kubesim.dev/hostpath
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: late
provisioner: kubesim.dev/hostpath
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: later
spec:
  storageClassName: late
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
";

#[test]
fn claims_bind_and_services_get_a_cluster_ip() {
    let env = env();
    env.ok_stdin(&["apply", "-f", "-"], Some(STORAGE));
    env.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/data",
        "--timeout=60s",
    ]);
    let pvc = json(&env, &["get", "pvc", "data"]);
    assert_eq!(pvc["spec"]["storageClassName"], "standard", "default class");
    let pv_name = format!("pvc-{}", pvc["metadata"]["uid"].as_str().unwrap());
    assert_eq!(pvc["spec"]["volumeName"], pv_name.as_str());
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    let pv = json(&env, &["get", "pv", &pv_name]);
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["claimRef"]["name"], "data");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");

    // WaitForFirstConsumer: Pending until a pod uses the claim
    let later = json(&env, &["get", "pvc", "later"]);
    assert_eq!(later["status"]["phase"], "Pending");
    env.ok_stdin(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: user}\nspec:\n  containers: [{name: c, image: busybox}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: later}}]\n",
        ),
    );
    env.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/later",
        "--timeout=60s",
    ]);
    env.ok(&["wait", "--for=condition=Ready", "pod/user", "--timeout=60s"]);

    // deleting a claim deletes its volume (reclaim policy Delete)
    env.ok(&["delete", "pvc", "data"]);
    env.ok(&[
        "wait",
        "--for=delete",
        &format!("pv/{pv_name}"),
        "--timeout=60s",
    ]);

    env.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    let svc = json(&env, &["get", "svc", "web"]);
    let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(svc["spec"]["clusterIPs"][0], ip.as_str());
    env.ok(&["create", "service", "clusterip", "api", "--tcp=443"]);
    let other = json(&env, &["get", "svc", "api"]);
    assert_ne!(
        other["spec"]["clusterIP"],
        ip.as_str(),
        "addresses are unique"
    );
    env.ok(&[
        "create",
        "service",
        "clusterip",
        "headless",
        "--clusterip=None",
    ]);
    let headless = json(&env, &["get", "svc", "headless"]);
    assert_eq!(headless["spec"]["clusterIP"], "None");
    // an update that omits the address keeps it
    env.ok_stdin(
        &["replace", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 81}]\n",
        ),
    );
    let svc = json(&env, &["get", "svc", "web"]);
    assert_eq!(svc["spec"]["clusterIP"], ip.as_str());
}

const RETAINED: &str = "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: keep
provisioner: kubesim.dev/hostpath
reclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  finalizers: [kubernetes.io/pvc-protection]
spec:
  storageClassName: keep
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  containers: [{name: c, image: busybox}]
  volumes: [{name: v, persistentVolumeClaim: {claimName: data}}]
";

#[test]
fn claims_in_use_are_protected_and_a_released_volume_binds_only_once_reserved_again() {
    let env = env();
    env.ok_stdin(&["apply", "-f", "-"], Some(RETAINED));
    env.ok(&["wait", "--for=condition=Ready", "pod/user", "--timeout=60s"]);
    let old = json(&env, &["get", "pvc", "data"]);
    let old_uid = old["metadata"]["uid"].as_str().unwrap().to_string();
    let pv_name = old["spec"]["volumeName"].as_str().unwrap().to_string();

    // storage object in use protection: the claim stays while its pod runs
    env.ok(&["delete", "pvc", "data", "--wait=false"]);
    let held = json(&env, &["get", "pvc", "data"]);
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    env.ok(&["delete", "pod", "user"]);
    env.ok(&["wait", "--for=delete", "pvc/data", "--timeout=60s"]);

    // reclaim policy Retain: the volume is Released, still naming the deleted claim
    let pv = json(&env, &["get", "pv", &pv_name]);
    assert_eq!(pv["status"]["phase"], "Released");
    assert_eq!(pv["spec"]["claimRef"]["uid"], old_uid.as_str());

    // a new claim naming it waits: the volume is still the old claim's
    let again = format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data}}\nspec:\n  storageClassName: keep\n  volumeName: {pv_name}\n  accessModes: [ReadWriteOnce]\n  resources: {{requests: {{storage: 1Gi}}}}\n"
    );
    env.ok_stdin(&["apply", "-f", "-"], Some(&again));
    let waiting = json(&env, &["get", "pvc", "data"]);
    assert_eq!(waiting["status"]["phase"], "Pending");

    // reserved for it (claimRef without the old uid), it binds
    env.ok(&[
        "patch",
        "pv",
        &pv_name,
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/claimRef/uid"}]"#,
    ]);
    env.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/data",
        "--timeout=60s",
    ]);
    let bound = json(&env, &["get", "pvc", "data"]);
    let pv = json(&env, &["get", "pv", &pv_name]);
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["claimRef"]["uid"], bound["metadata"]["uid"]);
    assert_ne!(bound["metadata"]["uid"], old_uid.as_str());
}

#[test]
fn a_scenario_claim_deleted_with_its_pods_takes_its_protected_volume_along() {
    // ks34-host's redis-pvc and its volume carry the protection finalizers, and the volume's
    // claimRef names the claim by the scenario's uid; reclaim policy Delete
    let env = Env::start(Sim::builder().scenario("ks34-host").controllers(true));
    let ns = ["-n", "kubesphere-system"];
    let pvc = json(&env, &["get", "pvc", "redis-pvc", ns[0], ns[1]]);
    let pv_name = pvc["spec"]["volumeName"].as_str().unwrap().to_string();
    let pv = json(&env, &["get", "pv", &pv_name]);
    assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
    env.ok(&["delete", "pvc", "redis-pvc", "--wait=false", ns[0], ns[1]]);
    assert!(
        json(&env, &["get", "pvc", "redis-pvc", ns[0], ns[1]])["metadata"]["deletionTimestamp"]
            .is_string(),
        "the redis pod still uses it"
    );
    env.ok(&["delete", "deployment", "redis", ns[0], ns[1]]);
    env.ok(&[
        "wait",
        "--for=delete",
        "pvc/redis-pvc",
        "--timeout=60s",
        ns[0],
        ns[1],
    ]);
    env.ok(&[
        "wait",
        "--for=delete",
        &format!("pv/{pv_name}"),
        "--timeout=60s",
    ]);
}

#[test]
fn pods_wait_for_an_uncordoned_node() {
    let env = Env::start(Sim::builder().scenario("ks34-member").controllers(true));
    let nodes: Vec<String> = items(&json(&env, &["get", "nodes"]))
        .iter()
        .map(|n| name(n).to_string())
        .collect();
    for n in &nodes {
        env.ok(&["cordon", n]);
    }
    env.ok_stdin(&["apply", "-f", "-"], Some(WEB));
    env.ok(&[
        "wait",
        "--for=jsonpath={.status.replicas}=3",
        "deployment/web",
        "--timeout=60s",
    ]);
    env.ok(&[
        "wait",
        "--for=condition=PodScheduled=False",
        "pod",
        "-l",
        "app=web",
        "--timeout=60s",
    ]);
    let pods = items(&json(&env, &["get", "pods", "-l", "app=web"]));
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Pending");
        assert!(p["spec"]["nodeName"].is_null(), "{p}");
        let c = &p["status"]["conditions"][0];
        assert_eq!(
            (&c["type"], &c["status"], &c["reason"]),
            (
                &Value::from("PodScheduled"),
                &Value::from("False"),
                &Value::from("Unschedulable")
            )
        );
    }
    env.ok(&["uncordon", &nodes[1]]);
    env.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    for p in items(&json(&env, &["get", "pods", "-l", "app=web"])) {
        assert_eq!(p["spec"]["nodeName"], nodes[1].as_str());
        assert_eq!(p["status"]["phase"], "Running");
    }
}

#[test]
fn deletes_honour_propagation_policy() {
    let env = env();
    let deploy = |n: &str| WEB.replace("web", n).replace("replicas: 3", "replicas: 2");
    for n in ["orphaned", "fg", "bg"] {
        env.ok_stdin(&["apply", "-f", "-"], Some(&deploy(n)));
        env.ok(&[
            "rollout",
            "status",
            &format!("deployment/{n}"),
            "--timeout=60s",
        ]);
    }

    // orphan: the Deployment goes, its ReplicaSet and pods stay, without the owner reference
    env.ok(&["delete", "deployment", "orphaned", "--cascade=orphan"]);
    let rs = items(&json(&env, &["get", "rs", "-l", "app=orphaned"]));
    assert_eq!(rs.len(), 1);
    assert!(
        rs[0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    );
    assert_eq!(
        items(&json(&env, &["get", "pods", "-l", "app=orphaned"])).len(),
        2
    );

    // foreground: kubectl returns once the Deployment is gone, which is after its dependents
    let before: Value =
        serde_json::from_str(&env.ok(&["get", "--raw", "/api/v1/namespaces/default/pods"]))
            .unwrap();
    let rv = before["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["delete", "deployment", "fg", "--cascade=foreground"]);
    assert!(items(&json(&env, &["get", "rs", "-l", "app=fg"])).is_empty());
    assert!(items(&json(&env, &["get", "pods", "-l", "app=fg"])).is_empty());

    // background (kubectl's default): the owned objects follow
    env.ok(&["delete", "deployment", "bg"]);
    env.ok(&[
        "wait",
        "--for=delete",
        "pods",
        "-l",
        "app=bg",
        "--timeout=60s",
    ]);
    env.ok(&[
        "wait",
        "--for=delete",
        "rs",
        "-l",
        "app=bg",
        "--timeout=60s",
    ]);

    // every deleted pod was announced to watchers
    let w = env.ok(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ),
    ]);
    let deleted: Vec<String> = w
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "DELETED")
        .map(|e| {
            e["object"]["metadata"]["labels"]["app"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        deleted.iter().filter(|a| *a == "fg").count(),
        2,
        "{deleted:?}"
    );
    assert_eq!(
        deleted.iter().filter(|a| *a == "bg").count(),
        2,
        "{deleted:?}"
    );
    assert!(!deleted.iter().any(|a| a == "orphaned"));

    // a Job deleted without a policy orphans its pods (batch/v1's default)
    env.ok_stdin(
        &["apply", "-f", "-"],
        Some(JOBS.split("---").next().unwrap()),
    );
    env.ok(&[
        "wait",
        "--for=condition=complete",
        "job/ok",
        "--timeout=60s",
    ]);
    env.sim
        .request(
            "DELETE",
            "/apis/batch/v1/namespaces/default/jobs/ok",
            "application/json",
            b"",
        )
        .expect("delete job");
    env.ok(&["wait", "--for=delete", "job/ok", "--timeout=60s"]);
    let pods = items(&json(&env, &["get", "pods", "-l", "job-name=ok"]));
    assert_eq!(pods.len(), 1);
    assert!(owner_uids(&pods[0]).is_empty());
}

#[test]
fn controllers_are_off_by_default() {
    let env = Env::empty();
    env.ok_stdin(&["apply", "-f", "-"], Some(WEB));
    assert!(items(&json(&env, &["get", "rs"])).is_empty());
    let d = json(&env, &["get", "deployment", "web"]);
    assert!(d["status"].is_null() || d["status"].as_object().is_some_and(|m| m.is_empty()));
}

#[test]
fn scenario_workloads_are_managed_once_changed() {
    // the scenario's ReplicaSet and pods name their owners; the controllers resolve those names
    let env = Env::start(Sim::builder().scenario("ks34-host").controllers(true));
    let ns = ["-n", "kube-system"];
    let before = items(&json(
        &env,
        &["get", "pods", "-l", "k8s-app=kube-dns", ns[0], ns[1]],
    ));
    assert_eq!(before.len(), 2);
    let rs = json(&env, &["get", "rs", "coredns-pfcd8px2f7", ns[0], ns[1]]);
    let d = json(&env, &["get", "deployment", "coredns", ns[0], ns[1]]);
    assert_eq!(owner_uids(&rs), [d["metadata"]["uid"].as_str().unwrap()]);

    env.ok(&["scale", "deployment/coredns", "--replicas=1", ns[0], ns[1]]);
    env.ok(&[
        "rollout",
        "status",
        "deployment/coredns",
        "--timeout=60s",
        ns[0],
        ns[1],
    ]);
    let after = items(&json(
        &env,
        &["get", "pods", "-l", "k8s-app=kube-dns", ns[0], ns[1]],
    ));
    assert_eq!(after.len(), 1, "{after:?}");
    let rs = items(&json(
        &env,
        &["get", "rs", "-l", "k8s-app=kube-dns", ns[0], ns[1]],
    ));
    let total: i64 = rs
        .iter()
        .map(|r| r["spec"]["replicas"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, 1);
}
