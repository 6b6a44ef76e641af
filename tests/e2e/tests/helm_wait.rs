//! The real helm's `--wait` against kubesim with controllers: `helm install --wait` and
//! `helm upgrade --wait` of a chart with a Deployment, a StatefulSet, a DaemonSet, Services, a
//! PVC and a hook Job end `deployed`, a failing hook Job fails the upgrade, `helm rollback --wait`
//! and `helm uninstall --wait` complete, and `helm status` / `helm history` are the witnesses.

use kubesim::Sim;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const CHART: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1\"\n",
    ),
    ("values.yaml", "tag: \"1.25\"\nhookFails: false\n"),
    (
        "templates/storage.yaml",
        "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: demo-standard
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: kubesim.dev/hostpath
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: demo-data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
",
    ),
    (
        "templates/services.yaml",
        "apiVersion: v1
kind: Service
metadata:
  name: demo-web
spec:
  selector: {app: demo-web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: demo-db
spec:
  clusterIP: None
  selector: {app: demo-db}
  ports: [{port: 5432}]
",
    ),
    (
        "templates/workloads.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-web
spec:
  replicas: 2
  selector: {matchLabels: {app: demo-web}}
  template:
    metadata: {labels: {app: demo-web}}
    spec:
      containers:
      - name: web
        image: nginx:{{ .Values.tag }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: demo-db
spec:
  serviceName: demo-db
  replicas: 2
  selector: {matchLabels: {app: demo-db}}
  template:
    metadata: {labels: {app: demo-db}}
    spec:
      containers:
      - name: db
        image: postgres:{{ .Values.tag }}
  volumeClaimTemplates:
  - metadata: {name: pgdata}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: demo-agent
spec:
  selector: {matchLabels: {app: demo-agent}}
  template:
    metadata: {labels: {app: demo-agent}}
    spec:
      containers:
      - name: agent
        image: agent:{{ .Values.tag }}
",
    ),
    (
        "templates/hook.yaml",
        "apiVersion: batch/v1
kind: Job
metadata:
  name: demo-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: \"-5\"
    helm.sh/hook-delete-policy: before-hook-creation
    {{- if .Values.hookFails }}
    kubesim.dev/fail: \"true\"
    {{- end }}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox:{{ .Values.tag }}
",
    ),
];

struct Helm {
    sim: Sim,
    dir: tempfile::TempDir,
}

impl Helm {
    fn start() -> Self {
        let sim = Sim::builder()
            .scenario("empty")
            .controllers(true)
            .start()
            .expect("start kubesim");
        let dir = tempfile::tempdir().expect("tempdir");
        sim.write_kubeconfig(dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        for (path, text) in CHART {
            let p = dir.path().join("demo").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Helm { sim, dir }
    }

    fn run(&self, bin: &Path, args: &[&str]) -> Output {
        Command::new(bin)
            .args(args)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env_remove("HELM_DRIVER")
            .output()
            .expect("run")
    }

    fn helm(&self, args: &[&str]) -> Output {
        self.run(&e2e::helm::real_helm(), args)
    }

    fn helm_ok(&self, args: &[&str]) -> String {
        let out = self.helm(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        let out = self.run(Path::new("/usr/bin/kubectl"), &a);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("kubectl json")
    }

    fn chart(&self) -> String {
        self.dir.path().join("demo").display().to_string()
    }

    /// `helm history` as `(revision, status, description)`.
    fn history(&self) -> Vec<(i64, String, String)> {
        let h: Value =
            serde_json::from_str(&self.helm_ok(&["history", "demo", "-o", "json"])).unwrap();
        h.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["revision"].as_i64().unwrap_or(0),
                    r["status"].as_str().unwrap_or("").to_string(),
                    r["description"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

#[test]
fn helm_install_and_upgrade_wait_for_every_kind_to_be_ready() {
    let h = Helm::start();
    let chart = h.chart();
    h.helm_ok(&["install", "demo", &chart, "--wait", "--timeout", "120s"]);
    let status: Value =
        serde_json::from_str(&h.helm_ok(&["status", "demo", "-o", "json"])).unwrap();
    assert_eq!(status["info"]["status"], "deployed");
    assert_eq!(status["version"], 1);
    assert_eq!(
        status["hooks"][0]["last_run"]["phase"], "Succeeded",
        "{}",
        status["hooks"]
    );

    // what helm waited for, read back with kubectl
    let web = h.kubectl_json(&["get", "deployment", "demo-web"]);
    assert_eq!(web["status"]["readyReplicas"], 2);
    let db = h.kubectl_json(&["get", "statefulset", "demo-db"]);
    assert_eq!(db["status"]["readyReplicas"], 2);
    let pvc = h.kubectl_json(&["get", "pvc", "demo-data"]);
    assert_eq!(pvc["status"]["phase"], "Bound");
    let claims = h.kubectl_json(&["get", "pvc", "-l", "app=demo-db"]);
    assert_eq!(claims["items"].as_array().map(Vec::len), Some(2));
    let svc = h.kubectl_json(&["get", "service", "demo-web"]);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.96."))
    );

    h.helm_ok(&[
        "upgrade",
        "demo",
        &chart,
        "--wait",
        "--timeout",
        "120s",
        "--set",
        "tag=1.26",
    ]);
    let history = h.history();
    assert_eq!(
        history
            .iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
    let web = h.kubectl_json(&["get", "deployment", "demo-web"]);
    assert_eq!(
        web["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    let pods = h.kubectl_json(&["get", "pods", "-l", "app=demo-web"]);
    let images: Vec<&str> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(images, ["nginx:1.26", "nginx:1.26"]);
    let agent = h.kubectl_json(&["get", "pods", "-l", "app=demo-agent"]);
    assert_eq!(
        agent["items"][0]["spec"]["containers"][0]["image"],
        "agent:1.26"
    );

    // a failing pre-upgrade hook Job fails the upgrade; the release stays at revision 2
    let out = h.helm(&[
        "upgrade",
        "demo",
        &chart,
        "--wait",
        "--timeout",
        "120s",
        "--set",
        "tag=1.27",
        "--set",
        "hookFails=true",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("demo-migrate") && stderr.contains("BackoffLimitExceeded"),
        "{stderr}"
    );
    let history = h.history();
    assert_eq!(
        history
            .iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed"), (3, "failed")]
    );
    let web = h.kubectl_json(&["get", "deployment", "demo-web"]);
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );

    // rollback --wait to revision 1: the Deployment's first ReplicaSet comes back as revision 3
    h.helm_ok(&["rollback", "demo", "1", "--wait", "--timeout", "120s"]);
    let history = h.history();
    assert_eq!(
        history.last().map(|(r, s, _)| (*r, s.as_str())),
        Some((4, "deployed"))
    );
    let sets = h.kubectl_json(&["get", "rs", "-l", "app=demo-web"]);
    let sets = sets["items"].as_array().unwrap();
    assert_eq!(sets.len(), 2, "the old ReplicaSet is reused");
    let current: Vec<&Value> = sets.iter().filter(|r| r["spec"]["replicas"] == 2).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(
        current[0]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_eq!(
        current[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );

    // uninstall --wait: the release's objects and everything they owned are gone
    h.helm_ok(&["uninstall", "demo", "--wait", "--timeout", "120s"]);
    for kind in ["deployments", "replicasets", "statefulsets", "daemonsets"] {
        let left = h.kubectl_json(&["get", kind]);
        assert_eq!(left["items"].as_array().map(Vec::len), Some(0), "{kind}");
    }
    let pods = h.kubectl_json(&["get", "pods"]);
    let left: Vec<&str> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap_or(""))
        .filter(|n| !n.starts_with("demo-migrate"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = &h.sim;
}
