//! Scenarios: bundled or on-disk multi-document YAML loaded **through the API** (a create per
//! document, then a `/status` write when the resource has a status subresource), and generated
//! `scale:` clusters that are bulk-inserted with their JSON precomputed.

use crate::api::{ApiRequest, Core, now};
use crate::store::Stored;
use serde_json::{Value, json};

include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// Errors loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a bundled name nor a readable file.
    #[error("unknown scenario `{0}` (not bundled, and no such file)")]
    Unknown(String),
    /// The YAML does not parse.
    #[error("failed to parse scenario YAML: {0}")]
    Parse(String),
    /// The API refused a document.
    #[error("document {index} ({kind} `{name}`): {message}")]
    Rejected {
        /// 0-based document index.
        index: usize,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// The Status message.
        message: String,
    },
    /// A `scale:` spec is malformed.
    #[error("invalid scale spec `{0}`: expected scale:nodes=N,namespaces=N,pods=N,deployments=N")]
    Scale(String),
}

/// Settings from the optional `KubesimScenario` document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Scenario name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// `/version` gitVersion.
    pub git_version: Option<String>,
}

/// Bundled scenarios as (name, description).
pub fn list() -> Vec<(String, String)> {
    BUNDLED
        .iter()
        .map(|(n, y)| {
            let desc = parse_docs(y)
                .ok()
                .and_then(|d| d.into_iter().find_map(|v| settings_of(&v)))
                .map(|s| s.description)
                .unwrap_or_default();
            (n.to_string(), desc)
        })
        .collect()
}

/// The YAML of a bundled scenario name, or of a file path.
pub fn resolve(name_or_file: &str) -> Result<String, ScenarioError> {
    if let Some((_, y)) = BUNDLED.iter().find(|(n, _)| *n == name_or_file) {
        return Ok(y.to_string());
    }
    std::fs::read_to_string(name_or_file).map_err(|_| ScenarioError::Unknown(name_or_file.into()))
}

fn parse_docs(yaml: &str) -> Result<Vec<Value>, ScenarioError> {
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(yaml)
        .map_err(|e| ScenarioError::Parse(e.to_string()))
}

fn settings_of(v: &Value) -> Option<Settings> {
    if v.get("kind").and_then(Value::as_str) != Some("KubesimScenario") {
        return None;
    }
    let s = |k: &str| {
        v.get(k)
            .or_else(|| v.pointer(&format!("/spec/{k}")))
            .and_then(Value::as_str)
            .map(String::from)
    };
    Some(Settings {
        name: v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        description: s("description").unwrap_or_default(),
        git_version: s("gitVersion"),
    })
}

/// The API path of an object's collection, or `None` if its kind is not served.
pub fn collection_path(core: &Core, obj: &Value) -> Option<(String, bool)> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str)?;
    let kind = obj.get("kind").and_then(Value::as_str)?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let st = core.store.read().unwrap_or_else(|e| e.into_inner());
    let def = st
        .registry
        .find_kind(group, kind)
        .filter(|d| d.versions.iter().any(|v| v == version))?;
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let path = if def.namespaced {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        format!("{prefix}/namespaces/{ns}/{}", def.plural)
    } else {
        format!("{prefix}/{}", def.plural)
    };
    Some((path, def.status))
}

/// A scenario as a real cluster takes it (`kubesim export`), in the order it must be applied.
#[derive(Debug, Default)]
pub struct Export {
    /// The CustomResourceDefinitions: applied first, and Established, before any object of
    /// theirs can be (kubectl maps every document of a file before it sends any).
    pub crds: Vec<Value>,
    /// Every other object, without the `KubesimScenario` settings document.
    pub objects: Vec<Value>,
    /// The objects whose resource has a `/status` subresource and that carry a status: a real
    /// API server ignores `status` on create there, so it is written afterwards with
    /// `kubectl replace --subresource=status`. Objects of resources without the subresource
    /// (KubeSphere's Cluster, say) keep their status in [`Export::objects`].
    pub statuses: Vec<Value>,
}

/// Splits a scenario into what `kubectl` applies to a real cluster, in order.
pub fn export(yaml: &str) -> Result<Export, ScenarioError> {
    // Loading into a scratch server validates every document and serves the scenario's CRDs,
    // which say which resources have a status subresource.
    let core = Core::new();
    load_yaml(&core, yaml)?;
    let mut out = Export::default();
    for doc in parse_docs(yaml)? {
        if !doc.is_object() || settings_of(&doc).is_some() {
            continue;
        }
        if doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
            out.crds.push(doc);
            continue;
        }
        let has_status_subresource = collection_path(&core, &doc).is_some_and(|(_, s)| s);
        if has_status_subresource && doc.get("status").is_some() {
            out.statuses.push(doc.clone());
        }
        out.objects.push(doc);
    }
    Ok(out)
}

/// Loads multi-document YAML through the API. Returns the settings document, if any.
pub fn load_yaml(core: &Core, yaml: &str) -> Result<Settings, ScenarioError> {
    let mut settings = Settings::default();
    for (index, doc) in parse_docs(yaml)?.into_iter().enumerate() {
        if !doc.is_object() {
            continue;
        }
        if let Some(s) = settings_of(&doc) {
            settings = s;
            // the claimed version decides the served group-versions of what follows
            if let Some(g) = &settings.git_version {
                core.set_git_version(g);
            }
            continue;
        }
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let reject = |message: String| ScenarioError::Rejected {
            index,
            kind: kind.clone(),
            name: name.clone(),
            message,
        };
        let (path, has_status) = collection_path(core, &doc).ok_or_else(|| {
            reject(format!(
                "no resource serves apiVersion `{}`",
                doc.get("apiVersion").and_then(Value::as_str).unwrap_or("")
            ))
        })?;
        let body = serde_json::to_vec(&doc).map_err(|e| reject(e.to_string()))?;
        let resp = core.handle(
            &ApiRequest::new("POST", &format!("{path}?fieldManager=kubectl-create"))
                .with_body("application/json", body),
        );
        let out: Value = serde_json::from_slice(&resp.body_bytes()).unwrap_or(Value::Null);
        if resp.status != 201 {
            return Err(reject(
                out.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("create failed")
                    .to_string(),
            ));
        }
        if let (true, Some(status)) = (has_status, doc.get("status")) {
            let mut obj = out.clone();
            obj["status"] = status.clone();
            let created_name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or(&name)
                .to_string();
            let body = serde_json::to_vec(&obj).map_err(|e| reject(e.to_string()))?;
            let resp = core.handle(
                &ApiRequest::new(
                    "PUT",
                    &format!("{path}/{created_name}/status?fieldManager=kube-controller-manager"),
                )
                .with_body("application/json", body),
            );
            if resp.status != 200 {
                let v: Value = serde_json::from_slice(&resp.body_bytes()).unwrap_or(Value::Null);
                return Err(reject(
                    v.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("status write failed")
                        .to_string(),
                ));
            }
        }
    }
    Ok(settings)
}

/// Size of a generated cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Nodes.
    pub nodes: usize,
    /// Extra namespaces.
    pub namespaces: usize,
    /// Workload pods (spread over the deployments).
    pub pods: usize,
    /// Deployments.
    pub deployments: usize,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            nodes: 100,
            namespaces: 50,
            pods: 2000,
            deployments: 200,
        }
    }
}

impl Scale {
    /// Parses `scale:nodes=5000,pods=100000` (any subset).
    pub fn parse(spec: &str) -> Result<Self, ScenarioError> {
        let body = spec.strip_prefix("scale:").unwrap_or(spec);
        let mut s = Scale::default();
        for part in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| ScenarioError::Scale(spec.into()))?;
            let n: usize = v
                .trim()
                .parse()
                .map_err(|_| ScenarioError::Scale(spec.into()))?;
            match k.trim() {
                "nodes" => s.nodes = n.max(1),
                "namespaces" => s.namespaces = n,
                "pods" => s.pods = n,
                "deployments" => s.deployments = n,
                _ => return Err(ScenarioError::Scale(spec.into())),
            }
        }
        Ok(s)
    }
}

struct Gen<'a> {
    core: &'a Core,
    time: String,
    batch: Vec<(String, Value)>,
}

impl Gen<'_> {
    fn add(&mut self, key: &str, mut v: Value) {
        v["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        v["metadata"]["creationTimestamp"] = json!(self.time);
        self.batch.push((key.to_string(), v));
    }

    fn flush(&mut self) {
        let mut st = self.core.store.write().unwrap_or_else(|e| e.into_inner());
        for (key, mut v) in self.batch.drain(..) {
            let rv = st.next_rv();
            v["metadata"]["resourceVersion"] = json!(rv.to_string());
            st.put_silent(&key, Stored::new(v));
        }
    }
}

fn hash10(i: usize) -> String {
    const CH: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    (0..10)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            CH[((x >> 33) as usize) % CH.len()] as char
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn running_pod(
    ns: &str,
    name: &str,
    labels: Value,
    owner: Option<Value>,
    image: &str,
    node: &str,
    ip: &str,
    t: &str,
) -> Value {
    let mut meta = json!({"name": name, "namespace": ns, "labels": labels});
    if let Some(o) = owner {
        meta["ownerReferences"] = json!([o]);
    }
    let cname = image
        .rsplit('/')
        .next()
        .unwrap_or("app")
        .split(':')
        .next()
        .unwrap_or("app");
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"containers": [{"name": cname, "image": image, "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}], "nodeName": node, "restartPolicy": "Always", "schedulerName": "default-scheduler"},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.1", "startTime": t, "qosClass": "Burstable",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": cname, "image": image, "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": t}}}]}})
}

/// Generates a large cluster directly into the store (no events: it exists before any client).
pub fn generate_scale(core: &Core, scale: Scale) {
    let git = core
        .git_version
        .read()
        .map(|g| g.clone())
        .unwrap_or_default();
    let mut g = Gen {
        core,
        time: now(),
        batch: Vec::new(),
    };
    let t = g.time.clone();
    let sys = [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "kubesphere-system",
        "kubesphere-controls-system",
        "kubesphere-monitoring-system",
    ];
    for ns in sys {
        g.add("/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns, "kubesphere.io/workspace": "system-workspace"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
    }
    let mut namespaces: Vec<String> = Vec::new();
    for i in 0..scale.namespaces {
        let ns = format!("ns-{i:05}");
        g.add("/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        namespaces.push(ns);
    }
    if namespaces.is_empty() {
        namespaces.push("default".into());
    }
    let nodes: Vec<String> = (0..scale.nodes).map(|i| format!("node-{i:05}")).collect();
    let cp = scale.nodes.clamp(1, 3);
    for (i, n) in nodes.iter().enumerate() {
        let mut labels = json!({"kubernetes.io/hostname": n, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"});
        if i < cp {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
        } else {
            labels["node-role.kubernetes.io/worker"] = json!("");
        }
        let ip = format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256);
        g.add("/nodes", json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": labels},
            "spec": if i < cp { json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}) } else { json!({}) },
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": n}],
                "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"}, "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": t, "lastTransitionTime": t},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": t, "lastTransitionTime": t},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastHeartbeatTime": t, "lastTransitionTime": t},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": t, "lastTransitionTime": t}],
                "nodeInfo": {"kubeletVersion": git, "kubeProxyVersion": git, "containerRuntimeVersion": "containerd://1.7.22", "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "5.15.0-105-generic", "operatingSystem": "linux", "architecture": "amd64"}}}));
    }
    // control plane static pods, kube-proxy and CoreDNS
    for n in nodes.iter().take(cp) {
        for comp in [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            let image = if comp == "etcd" {
                "registry.k8s.io/etcd:3.5.15-0".to_string()
            } else {
                format!("registry.k8s.io/{comp}:{git}")
            };
            let owner = json!({"apiVersion": "v1", "kind": "Node", "name": n, "uid": uuid::Uuid::new_v4().to_string(), "controller": true});
            g.add(
                "/pods",
                running_pod(
                    "kube-system",
                    &format!("{comp}-{n}"),
                    json!({"component": comp, "tier": "control-plane"}),
                    Some(owner),
                    &image,
                    n,
                    "10.0.0.1",
                    &t,
                ),
            );
        }
    }
    let ds_uid = uuid::Uuid::new_v4().to_string();
    let nn = nodes.len();
    g.add("apps/daemonsets", json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}, "generation": 1},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}}, "spec": {"containers": [{"name": "kube-proxy", "image": format!("registry.k8s.io/kube-proxy:{git}")}]}}},
        "status": {"desiredNumberScheduled": nn, "currentNumberScheduled": nn, "numberReady": nn, "updatedNumberScheduled": nn, "numberAvailable": nn, "observedGeneration": 1}}));
    for (i, n) in nodes.iter().enumerate() {
        let owner = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-proxy", "uid": ds_uid, "controller": true, "blockOwnerDeletion": true});
        g.add(
            "/pods",
            running_pod(
                "kube-system",
                &format!("kube-proxy-{}", &hash10(i + 1_000_000)[..5]),
                json!({"k8s-app": "kube-proxy"}),
                Some(owner),
                &format!("registry.k8s.io/kube-proxy:{git}"),
                n,
                "10.0.0.1",
                &t,
            ),
        );
    }
    // deployments: coredns first, then workloads
    let mut deps: Vec<(String, String, usize, String)> = vec![(
        "kube-system".into(),
        "coredns".into(),
        2,
        "registry.k8s.io/coredns/coredns:v1.11.3".into(),
    )];
    let per = scale.pods.checked_div(scale.deployments).unwrap_or(0);
    let extra = scale.pods.checked_rem(scale.deployments).unwrap_or(0);
    for i in 0..scale.deployments {
        let ns = namespaces[i % namespaces.len()].clone();
        deps.push((
            ns,
            format!("app-{i:05}"),
            per + usize::from(i < extra),
            "nginx:1.27".into(),
        ));
    }
    let mut pod_i = 0usize;
    for (di, (ns, name, replicas, image)) in deps.iter().enumerate() {
        let labels = json!({"app": name});
        let hash = hash10(di);
        let rs = format!("{name}-{hash}");
        let dep_uid = uuid::Uuid::new_v4().to_string();
        let rs_uid = uuid::Uuid::new_v4().to_string();
        let template = json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}});
        let st = json!({"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas, "observedGeneration": 1,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "lastUpdateTime": t, "lastTransitionTime": t},
                           {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastUpdateTime": t, "lastTransitionTime": t}]});
        g.add("apps/deployments", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels, "generation": 1, "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}, "status": st}));
        let mut rs_labels = labels.clone();
        rs_labels["pod-template-hash"] = json!(hash);
        g.add("apps/replicasets", json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": rs, "namespace": ns, "labels": rs_labels, "generation": 1,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep_uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": rs_labels}, "template": template},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "fullyLabeledReplicas": replicas, "observedGeneration": 1}}));
        for r in 0..*replicas {
            let workers = if nn > cp { &nodes[cp..] } else { &nodes[..] };
            let node = &workers[pod_i % workers.len()];
            let owner = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": rs_uid, "controller": true, "blockOwnerDeletion": true});
            let ip = format!(
                "10.{}.{}.{}",
                100 + (pod_i / 65536) % 100,
                (pod_i / 256) % 256,
                pod_i % 256
            );
            g.add(
                "/pods",
                running_pod(
                    ns,
                    &format!("{rs}-{}", &hash10(pod_i * 31 + r)[..5]),
                    rs_labels.clone(),
                    Some(owner),
                    image,
                    node,
                    &ip,
                    &t,
                ),
            );
            pod_i += 1;
            if g.batch.len() >= 10_000 {
                g.flush();
            }
        }
    }
    g.flush();
}
