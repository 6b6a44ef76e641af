//! ks-migrate's end-to-end setup, shared by `ks_migrate.rs` and `ks_migrate_kill.rs`: the
//! values file, the chart directory, the helm double (`tests/testhelm`, bin `fakehelm`, linked
//! as `helm` into the test's own bin dir only, recording its calls to `$TESTHELM_LOG`) and `ks-upgrade-sim` (which plays the
//! ks-upgrade Jobs, since kubesim runs no pods), plus readers for the journal, the helm calls,
//! the backup directories and the ks-core revisions.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use e2e::{Cmd, Env, Running, binary};
use serde_json::Value;

pub const VALUES: &str = r#"global:
  imageRegistry: docker.io
  tag: v4.1.3
upgrade:
  enabled: true
  image:
    registry: ""
    repository: kubesphere/ks-upgrade
    tag: "v4.1.3"
  persistenceVolume:
    name: ks-upgrade
    storageClassName: ""
    accessMode: ReadWriteOnce
    size: 5Gi
  config:
    storage:
      local:
        path: /tmp/ks-upgrade
    jobs:
      network:
        enabled: true
        priority: 100
        extensionRef:
          name: "network"
          version: "1.1.0"
      gateway:
        enabled: true
        priority: 90
        extensionRef:
          name: "gateway"
          version: "1.0.5"
      devops:
        enabled: true
        priority: 800
        extensionRef:
          name: "devops"
          version: "1.1.2"
"#;

pub const STEPS: [&str; 8] = [
    "backup",
    "scale-installer",
    "fill-etcd-endpoints",
    "remove-redis",
    "prepare-upgrade",
    "apply-crds",
    "upgrade-ks-core",
    "verify",
];

/// A kubesim cluster prepared for ks-migrate: values file, chart directory, the test helm on
/// PATH, and ks-upgrade-sim running.
pub struct Mig {
    /// The cluster and its directory.
    pub env: Env,
    /// ks-upgrade-sim, killed on drop.
    pub sim: Option<Running>,
    /// `$TESTHELM_LOG`.
    pub helm_log: PathBuf,
}

impl Drop for Mig {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            let _ = sim.kill();
        }
    }
}

impl Mig {
    pub fn new(scenario: &str) -> Self {
        Self::with_helm(scenario, true)
    }

    pub fn with_helm(scenario: &str, helm: bool) -> Self {
        Self::from_env(Env::new(scenario), helm)
    }

    pub fn from_env(env: Env, helm: bool) -> Self {
        if helm {
            // The double is built as `fakehelm`; only this test's bin dir calls it `helm`.
            std::os::unix::fs::symlink(binary("fakehelm"), env.bin_dir().join("helm"))
                .expect("link helm");
        }
        env.write("ks-core-values.yaml", VALUES);
        env.write(
            "charts/ks-core/Chart.yaml",
            "apiVersion: v2\nname: ks-core\nversion: 1.1.5\nappVersion: v4.1.3\n",
        );
        let sim = env.command(binary("ks-upgrade-sim")).spawn();
        let helm_log = env.dir().join("helm-calls.jsonl");
        Mig {
            env,
            sim: Some(sim),
            helm_log,
        }
    }

    /// A cluster for ks-migrate with the real helm (`e2e::helm::real_helm()`, linked as `helm`
    /// in the test's bin dir), the project's ks-core chart at upstream's `./charts/ks-core`, and
    /// kubesim's controllers (hook Jobs complete, Deployments roll out, PVCs bind), which the
    /// real `helm upgrade --wait` needs. ks-upgrade-sim plays the gateway work of
    /// `dynamic-upgrade` Jobs.
    pub fn real(scenario: &str) -> Self {
        let env = Env::builder(scenario).controllers().start();
        std::os::unix::fs::symlink(e2e::helm::real_helm(), env.bin_dir().join("helm"))
            .expect("link helm");
        std::fs::create_dir_all(env.dir().join("charts")).expect("charts dir");
        std::os::unix::fs::symlink(chart_dir(), env.dir().join("charts/ks-core"))
            .expect("link chart");
        env.write("ks-core-values.yaml", VALUES);
        let sim = env.command(binary("ks-upgrade-sim")).spawn();
        let helm_log = env.dir().join("helm-calls.jsonl");
        Mig {
            env,
            sim: Some(sim),
            helm_log,
        }
    }

    /// The real helm, against this cluster.
    pub fn helm(&self) -> Cmd {
        self.env.command(e2e::helm::real_helm())
    }

    /// `helm history RELEASE -n NS -o json`: the independent witness of the release.
    pub fn history(&self, ns: &str, release: &str) -> Vec<Value> {
        let run = self
            .helm()
            .args(["history", release, "-n", ns, "-o", "json"])
            .run();
        if run.code != Some(0) && run.stderr.contains("release: not found") {
            return Vec::new();
        }
        run.assert_success();
        run.json().as_array().cloned().unwrap_or_default()
    }

    pub fn migrate(&self) -> Cmd {
        self.env
            .plugin("ks-migrate")
            .env("TESTHELM_LOG", &self.helm_log)
    }

    /// Every helm call so far, as argument vectors.
    pub fn helm_calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(&self.helm_log).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("helm log line");
                v["argv"]
                    .as_array()
                    .expect("argv")
                    .iter()
                    .map(|a| a.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .collect()
    }

    pub fn calls_of(&self, sub: &str) -> Vec<Vec<String>> {
        self.helm_calls()
            .into_iter()
            .filter(|c| c.first().map(String::as_str) == Some(sub))
            .collect()
    }

    pub fn journal(&self) -> BTreeMap<String, Value> {
        let cm = self
            .env
            .get_json(&["configmap", "-n", "kubesphere-system", "ks-migrate-journal"]);
        cm["data"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    serde_json::from_str(v.as_str().unwrap_or("{}")).unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    pub fn exists(&self, args: &[&str]) -> bool {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        self.env.kubectl().args(all).run().code == Some(0)
    }

    pub fn backup_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.env.dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ks-migrate-backup-"))
            })
            .collect();
        dirs.sort();
        dirs
    }

    pub fn kubectl_ok(&self, args: &[&str]) {
        self.env.kubectl().args(args).run().assert_success();
    }
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

pub fn sha256(p: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn ks_core_revisions(m: &Mig) -> BTreeMap<u32, String> {
    let list = m.env.get_json(&[
        "secret",
        "-n",
        "kubesphere-system",
        "-l",
        "owner=helm,name=ks-core",
    ]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let l = &s["metadata"]["labels"];
            (
                l["version"].as_str().unwrap().parse().unwrap(),
                l["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn has_flag_pair(call: &[String], flag: &str, value: &str) -> bool {
    call.windows(2).any(|w| w[0] == flag && w[1] == value)
}

/// Every kind the tests snapshot to prove what changed.
pub const ALL_KINDS: &str = "all,configmaps,secrets,persistentvolumeclaims,namespaces,serviceaccounts,customresourcedefinitions,clusterconfigurations.installer.kubesphere.io,nodes,storageclasses,endpoints";

/// `host`, without a prompt.
pub const HOST: &[&str] = &["host", "--yes"];

/// The project's ks-core 1.1.5 test chart (`tests/charts/ks-core`).
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/ks-core")
        .canonicalize()
        .expect("tests/charts/ks-core")
}
