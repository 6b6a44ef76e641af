//! Small per-object summaries kept while paging, instead of the objects.
//!
//! At 5,000 nodes and 100,000 pods, holding every Node, kube-system Pod and Deployment whole
//! cost hundreds of megabytes (real Nodes carry `status.images`, Deployments their pod
//! templates and managedFields). [`super::inventory`] lists page by page and keeps only what the
//! findings, the version rows and the steps read: these summaries, and the few objects that are
//! findings already (bare pods, pods not running, stored objects at table apiVersions), and the
//! records of the deprecated-API signals and of KubeSphere IAM that the checks read.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        core::v1::{Node, Pod},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde::Serialize;
use serde_json::Value;

use super::apis::{self, ApiEntry};
use crate::{domain::pods, helm, model::ObjectRef};

/// Node label prefixes anything downstream reads (roles, the build detection).
const NODE_LABEL_PREFIXES: &[&str] = &[
    "node-role.kubernetes.io/",
    "kubekey.kubesphere.io/",
    "kubernetes.azure.com/",
    "eks.amazonaws.com/",
    "cloud.google.com/gke",
    "node.kubernetes.io/instance-type",
];

/// What the plan needs of one Node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSummary {
    /// Name.
    pub name: String,
    /// The keys of the labels with a prefix the plan reads (roles, KubeKey, cloud providers).
    pub label_keys: Vec<String>,
    /// `spec.providerID`.
    pub provider_id: Option<String>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// `Ready` condition status (`Unknown` when absent).
    pub ready: String,
    /// `Ready` condition reason.
    pub ready_reason: String,
    /// `nodeInfo.kubeletVersion`.
    pub kubelet_version: Option<String>,
    /// `nodeInfo.kubeProxyVersion` (deprecated; filled by the kubelet with its own version).
    pub kube_proxy_version: Option<String>,
    /// `nodeInfo.containerRuntimeVersion`.
    pub container_runtime: String,
    /// `nodeInfo.osImage`.
    pub os_image: String,
    /// `nodeInfo.kernelVersion`.
    pub kernel_version: String,
}

impl NodeSummary {
    /// Summarizes a Node.
    pub fn from_node(n: &Node) -> Self {
        let info = n.status.as_ref().and_then(|s| s.node_info.as_ref());
        let (ready, ready_reason) = crate::domain::nodes::ready(n);
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        #[allow(deprecated)]
        let kube_proxy_version = info.and_then(|i| nonempty(&i.kube_proxy_version));
        let mut label_keys: Vec<String> = n
            .metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| NODE_LABEL_PREFIXES.iter().any(|p| k.starts_with(p)))
            .cloned()
            .collect();
        label_keys.sort();
        Self {
            name: n.metadata.name.clone().unwrap_or_default(),
            label_keys,
            provider_id: n.spec.as_ref().and_then(|s| s.provider_id.clone()),
            unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true),
            ready,
            ready_reason,
            kubelet_version: info.and_then(|i| nonempty(&i.kubelet_version)),
            kube_proxy_version,
            container_runtime: info
                .map(|i| i.container_runtime_version.clone())
                .unwrap_or_default(),
            os_image: info.map(|i| i.os_image.clone()).unwrap_or_default(),
            kernel_version: info.map(|i| i.kernel_version.clone()).unwrap_or_default(),
        }
    }

    /// Has a label whose key starts with `prefix`.
    pub fn has_label_prefix(&self, prefix: &str) -> bool {
        self.label_keys.iter().any(|k| k.starts_with(prefix))
    }

    /// Carries the control-plane (or legacy master) role label.
    pub fn is_control_plane(&self) -> bool {
        self.label_keys.iter().any(|k| {
            k == "node-role.kubernetes.io/control-plane" || k == "node-role.kubernetes.io/master"
        })
    }

    /// The `node-role.kubernetes.io/<role>` roles, sorted.
    pub fn roles(&self) -> Vec<String> {
        self.label_keys
            .iter()
            .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
            .map(str::to_string)
            .collect()
    }
}

/// What the plan needs of one kube-system Pod: control-plane static pods and kube-proxy give
/// the versions per node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemPod {
    /// Name.
    pub name: String,
    /// `spec.nodeName`.
    pub node: Option<String>,
    /// Label `component` (static control-plane pods).
    pub component: Option<String>,
    /// Label `k8s-app`.
    pub k8s_app: Option<String>,
    /// The first container's image.
    pub image: Option<String>,
}

impl SystemPod {
    /// Summarizes a Pod.
    pub fn from_pod(p: &Pod) -> Self {
        let label = |k: &str| p.metadata.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let spec = p.spec.as_ref();
        Self {
            name: p.metadata.name.clone().unwrap_or_default(),
            node: spec.and_then(|s| s.node_name.clone()),
            component: label("component"),
            k8s_app: label("k8s-app"),
            image: spec
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone()),
        }
    }

    /// A kube-proxy pod (label `k8s-app=kube-proxy`, or named `kube-proxy-…`).
    pub fn is_kube_proxy(&self) -> bool {
        self.k8s_app.as_deref() == Some("kube-proxy") || self.name.starts_with("kube-proxy-")
    }

    /// The static pod of control-plane component `comp`: label `component=<comp>`, or, without
    /// that label, named `<comp>-…`.
    pub fn is_component(&self, comp: &str) -> bool {
        match &self.component {
            Some(c) => c == comp,
            None => self
                .name
                .strip_prefix(comp)
                .is_some_and(|rest| rest.starts_with('-')),
        }
    }
}

/// What the plan needs of one Deployment or StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// `Deployment` or `StatefulSet`.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.replicas` (1 when unset, the API default).
    pub replicas: i32,
}

impl Workload {
    /// Summarizes a Deployment.
    pub fn from_deployment(d: &Deployment) -> Self {
        Self::new(
            "Deployment",
            &d.metadata,
            d.spec.as_ref().and_then(|s| s.replicas),
        )
    }

    /// Summarizes a StatefulSet.
    pub fn from_statefulset(s: &StatefulSet) -> Self {
        Self::new(
            "StatefulSet",
            &s.metadata,
            s.spec.as_ref().and_then(|s| s.replicas),
        )
    }

    fn new(kind: &'static str, m: &ObjectMeta, replicas: Option<i32>) -> Self {
        Self {
            kind,
            namespace: m.namespace.clone().unwrap_or_default(),
            name: m.name.clone().unwrap_or_default(),
            replicas: replicas.unwrap_or(1),
        }
    }
}

/// The first container's image of a Deployment's pod template.
pub fn deployment_image(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

/// A pod that is not running well now (POD002).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnhealthyPod {
    /// The pod.
    pub object: ObjectRef,
    /// What is wrong, in the status' words.
    pub problem: String,
}

/// What is wrong with a pod now, `None` when it is Running and Ready or finished (Succeeded).
///
/// Not Running (Pending, Failed, Unknown): the phase with the first waiting or terminated
/// container's reason, or why it is not scheduled. Running: a container waiting (e.g.
/// CrashLoopBackOff) or the pod not Ready. A pod being deleted is skipped (going away anyway).
pub fn pod_problem(p: &Pod) -> Option<String> {
    if pods::is_terminating(p) {
        return None;
    }
    let status = p.status.as_ref();
    let phase = pods::phase(p);
    if phase == "Succeeded" {
        return None;
    }
    let containers: Vec<&k8s_openapi::api::core::v1::ContainerStatus> = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .collect();
    let waiting = pods::first_waiting(containers.iter().copied()).map(|w| {
        format!(
            "container {} waiting {}{}{}",
            w.container,
            w.reason,
            if w.restarts > 0 {
                format!(" ({} restarts)", w.restarts)
            } else {
                String::new()
            },
            if w.message.is_empty() {
                String::new()
            } else {
                format!(": {}", w.message)
            }
        )
    });
    let terminated = || {
        containers.iter().find_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then(|| {
                format!(
                    "container {} terminated {} (exit code {})",
                    c.name,
                    t.reason.as_deref().unwrap_or("Error"),
                    t.exit_code
                )
            })
        })
    };
    if phase != "Running" {
        let why = waiting
            .or_else(terminated)
            .or_else(|| {
                pods::condition(p, "PodScheduled")
                    .filter(|c| c.status == "False")
                    .map(|c| {
                        format!(
                            "not scheduled: {}{}",
                            c.reason.as_deref().unwrap_or("PodScheduled=False"),
                            c.message
                                .as_deref()
                                .map(|m| format!(" ({m})"))
                                .unwrap_or_default()
                        )
                    })
            })
            .or_else(|| {
                status.and_then(|s| s.reason.as_deref()).map(|r| {
                    format!(
                        "{r}{}",
                        status
                            .and_then(|s| s.message.as_deref())
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )
                })
            });
        return Some(match why {
            Some(w) => format!("{phase}: {w}"),
            None => phase.to_string(),
        });
    }
    if let Some(w) = waiting {
        return Some(format!("Running, {w}"));
    }
    match pods::condition(p, "Ready") {
        Some(c) if c.status != "True" => Some(format!(
            "Running, not Ready ({})",
            c.reason.as_deref().unwrap_or("Ready=False")
        )),
        _ => None,
    }
}

/// The unhealthy-pod summary of a pod, when it has a problem.
pub fn unhealthy(p: &Pod) -> Option<UnhealthyPod> {
    let problem = pod_problem(p)?;
    Some(UnhealthyPod {
        object: ObjectRef::namespaced(
            "Pod",
            p.metadata.namespace.as_deref().unwrap_or_default(),
            p.metadata.name.as_deref().unwrap_or_default(),
        ),
        problem,
    })
}

/// The stored-object signal of one object's metadata: the apiVersion of its
/// `last-applied-configuration` (when the annotation is of the same kind) and of every
/// managedFields entry; `Some` only when one of them is in the removal table for `kind`.
pub fn stored_use(
    table: &[ApiEntry],
    kind: &str,
    served_as: &str,
    m: &ObjectMeta,
) -> Option<StoredUse> {
    let last_applied = m
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/last-applied-configuration"))
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .filter(|v| v.get("kind").and_then(Value::as_str) == Some(kind))
        .and_then(|v| {
            v.get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let managed: Vec<(String, String)> = m
        .managed_fields
        .iter()
        .flatten()
        .map(|f| {
            (
                f.manager.clone().unwrap_or_default(),
                f.api_version.clone().unwrap_or_default(),
            )
        })
        .collect();
    let hit = last_applied
        .iter()
        .chain(managed.iter().map(|(_, v)| v))
        .any(|v| apis::lookup(table, v, kind).is_some());
    if !hit {
        return None;
    }
    let name = m.name.clone().unwrap_or_default();
    let object = match &m.namespace {
        Some(ns) => ObjectRef::namespaced(kind, ns, &name),
        None => ObjectRef::cluster(kind, &name),
    };
    Some(StoredUse {
        object,
        served_as: served_as.to_string(),
        last_applied,
        managed,
    })
}

/// A stored object whose last-applied annotation or managedFields name a table apiVersion.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredUse {
    /// The object.
    pub object: ObjectRef,
    /// The apiVersion it was listed at (what the server serves it as).
    pub served_as: String,
    /// apiVersion in `kubectl.kubernetes.io/last-applied-configuration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<String>,
    /// `(manager, apiVersion)` of every managedFields entry.
    pub managed: Vec<(String, String)>,
}

/// An object in a deployed Helm revision's manifest that uses a table apiVersion.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmUse {
    /// Release namespace.
    pub namespace: String,
    /// Release name.
    pub release: String,
    /// Revision.
    pub revision: u32,
    /// Where the release is stored.
    pub storage_object: String,
    /// Secret or ConfigMap storage.
    pub storage: helm::Storage,
    /// The manifest object.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// Role metadata (KubeSphere IAM or rbac).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleMeta {
    /// Kind (`GlobalRole`, `WorkspaceRole`, `Role`).
    pub kind: String,
    /// Namespace (rbac Roles).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `iam.kubesphere.io/aggregation-roles` parsed.
    pub aggregation: Vec<String>,
}

/// A binding to a role.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingMeta {
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `roleRef.name`.
    pub role: String,
    /// Users: `subjects[kind=User].name` and label `iam.kubesphere.io/user-ref`.
    pub users: Vec<String>,
}

/// KubeSphere 3.x IAM, for the 3.3.1 role changes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Iam {
    /// GlobalRoles, WorkspaceRoles and rbac Roles.
    pub roles: Vec<RoleMeta>,
    /// Their bindings.
    pub bindings: Vec<BindingMeta>,
}

/// Stored uses found in the objects of a kind listed anyway (typed, in full) by the inventory.
#[derive(Debug, Clone, Default)]
pub struct DerivedScan {
    /// The apiVersion the kind was listed at, when the removal table wants it scanned.
    pub served_as: Option<String>,
    /// What was found.
    pub uses: Vec<StoredUse>,
}

impl DerivedScan {
    /// Looks at one object's metadata when the kind is to be scanned.
    pub fn see(&mut self, table: &[ApiEntry], kind: &str, m: &ObjectMeta) {
        if let Some(served) = &self.served_as
            && let Some(u) = stored_use(table, kind, served, m)
        {
            self.uses.push(u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_summary_keeps_what_the_plan_reads() {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "master-1", "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "kubernetes.io/hostname": "master-1",
                "kubekey.kubesphere.io/role": "x"},
                "annotations": {"big": "x".repeat(1000)}},
            "spec": {"providerID": "aws:///eu-west-1a/i-1", "unschedulable": true},
            "status": {
                "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}],
                "images": [{"names": ["a"], "sizeBytes": 1}],
                "nodeInfo": {"kubeletVersion": "v1.26.15", "kubeProxyVersion": "",
                    "containerRuntimeVersion": "containerd://1.6.4", "osImage": "Ubuntu",
                    "kernelVersion": "5.15", "architecture": "amd64", "bootID": "", "machineID": "",
                    "operatingSystem": "linux", "systemUUID": ""}}
        }))
        .unwrap();
        let s = NodeSummary::from_node(&n);
        assert_eq!(s.name, "master-1");
        assert_eq!(
            s.label_keys,
            vec![
                "kubekey.kubesphere.io/role".to_string(),
                "node-role.kubernetes.io/control-plane".to_string()
            ]
        );
        assert!(s.is_control_plane());
        assert_eq!(s.roles(), vec!["control-plane".to_string()]);
        assert!(s.has_label_prefix("kubekey.kubesphere.io/"));
        assert_eq!(s.provider_id.as_deref(), Some("aws:///eu-west-1a/i-1"));
        assert!(s.unschedulable);
        assert_eq!(
            (s.ready.as_str(), s.ready_reason.as_str()),
            ("False", "KubeletNotReady")
        );
        assert_eq!(s.kubelet_version.as_deref(), Some("v1.26.15"));
        assert_eq!(s.kube_proxy_version, None, "an empty version is absent");
        assert_eq!(s.container_runtime, "containerd://1.6.4");

        // A node with nothing but a name: Unknown, no versions, no panic.
        let bare = NodeSummary::from_node(
            &serde_json::from_value(json!({"metadata": {"name": "bare"}})).unwrap(),
        );
        assert_eq!(bare.ready, "Unknown");
        assert!(!bare.unschedulable && !bare.is_control_plane());
        assert_eq!(bare.kubelet_version, None);
    }

    #[test]
    fn system_pods_tell_components_and_kube_proxy() {
        let pod = |name: &str, labels: Value, image: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": image}]}
            }))
            .unwrap()
        };
        let api = SystemPod::from_pod(&pod(
            "kube-apiserver-n1",
            json!({"component": "kube-apiserver"}),
            "registry.k8s.io/kube-apiserver:v1.26.15",
        ));
        assert!(api.is_component("kube-apiserver"));
        assert!(!api.is_component("etcd"));
        assert_eq!(api.node.as_deref(), Some("n1"));
        assert_eq!(
            api.image.as_deref(),
            Some("registry.k8s.io/kube-apiserver:v1.26.15")
        );
        // Unlabelled: by name; a labelled pod is never taken by its name.
        let etcd = SystemPod::from_pod(&pod("etcd-n1", json!({}), "etcd:3.5"));
        assert!(etcd.is_component("etcd"));
        let odd = SystemPod::from_pod(&pod("etcd-n1", json!({"component": "other"}), "x"));
        assert!(!odd.is_component("etcd"));
        assert!(!SystemPod::from_pod(&pod("etcdx", json!({}), "x")).is_component("etcd"));
        let proxy = SystemPod::from_pod(&pod("p", json!({"k8s-app": "kube-proxy"}), "x"));
        assert!(proxy.is_kube_proxy());
        assert!(SystemPod::from_pod(&pod("kube-proxy-abc", json!({}), "x")).is_kube_proxy());
        // No spec at all.
        let empty = SystemPod::from_pod(&serde_json::from_value(json!({"metadata": {}})).unwrap());
        assert_eq!(empty.image, None);
        assert!(!empty.is_kube_proxy());
    }

    #[test]
    fn workloads_default_to_one_replica() {
        let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "api", "namespace": "demo"}, "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "coredns/coredns:v1.9.3"}]}}}})).unwrap();
        let w = Workload::from_deployment(&d);
        assert_eq!(
            (w.kind, w.namespace.as_str(), w.name.as_str(), w.replicas),
            ("Deployment", "demo", "api", 1)
        );
        assert_eq!(
            deployment_image(&d).as_deref(),
            Some("coredns/coredns:v1.9.3")
        );
        let s: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db", "namespace": "demo"}, "spec": {"replicas": 3, "selector": {}, "serviceName": "db", "template": {}}})).unwrap();
        assert_eq!(Workload::from_statefulset(&s).replicas, 3);
        let none: Deployment = serde_json::from_value(json!({"metadata": {}})).unwrap();
        assert_eq!(deployment_image(&none), None);
        assert_eq!(Workload::from_deployment(&none).name, "");
    }

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_problems_in_the_status_words() {
        // ImagePullBackOff, Pending.
        let p = pod(
            json!({"metadata": {"name": "ks-console-x", "namespace": "kubesphere-system"},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "ks-console", "image": "i", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}}),
        );
        let u = unhealthy(&p).unwrap();
        assert_eq!(u.object.to_string(), "Pod kubesphere-system/ks-console-x");
        assert_eq!(
            u.problem,
            "Pending: container ks-console waiting ImagePullBackOff: Back-off pulling image"
        );
        // Unscheduled.
        let p = pod(json!({"metadata": {"name": "cart-x", "namespace": "shop"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/5 nodes are available"}]}}));
        assert_eq!(
            pod_problem(&p).unwrap(),
            "Pending: not scheduled: Unschedulable (0/5 nodes are available)"
        );
        // CrashLoopBackOff while Running.
        let p = pod(json!({"metadata": {"name": "m"},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "i", "imageID": "",
                "ready": false, "restartCount": 42, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}));
        assert_eq!(
            pod_problem(&p).unwrap(),
            "Running, container c waiting CrashLoopBackOff (42 restarts)"
        );
        // Running, not Ready.
        let p = pod(
            json!({"metadata": {"name": "m"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}}),
        );
        assert_eq!(
            pod_problem(&p).unwrap(),
            "Running, not Ready (ContainersNotReady)"
        );
        // Failed with an exit code; evicted.
        let p = pod(
            json!({"metadata": {"name": "m"}, "status": {"phase": "Failed",
            "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}),
        );
        assert_eq!(
            pod_problem(&p).unwrap(),
            "Failed: container c terminated OOMKilled (exit code 137)"
        );
        let p = pod(
            json!({"metadata": {"name": "m"}, "status": {"phase": "Failed", "reason": "Evicted", "message": "low on memory"}}),
        );
        assert_eq!(pod_problem(&p).unwrap(), "Failed: Evicted: low on memory");
        // Healthy, finished, going away: nothing.
        let ok = pod(
            json!({"metadata": {"name": "m"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        assert_eq!(pod_problem(&ok), None);
        let done = pod(json!({"metadata": {"name": "m"}, "status": {"phase": "Succeeded"}}));
        assert_eq!(pod_problem(&done), None);
        let deleting = pod(
            json!({"metadata": {"name": "m", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Pending"}}),
        );
        assert_eq!(pod_problem(&deleting), None);
        // No status at all: Unknown, said so.
        assert_eq!(
            pod_problem(&pod(json!({"metadata": {"name": "m"}}))).unwrap(),
            "Unknown"
        );
    }

    #[test]
    fn stored_use_keeps_only_table_versions() {
        let table = apis::table().unwrap();
        let meta = |annotation: Option<&str>, managed: &[&str]| -> ObjectMeta {
            serde_json::from_value(json!({
                "name": "web", "namespace": "demo",
                "annotations": annotation.map(|a| json!({"kubectl.kubernetes.io/last-applied-configuration": a})).unwrap_or(json!({})),
                "managedFields": managed.iter().map(|v| json!({"manager": "kubectl", "apiVersion": v, "operation": "Update"})).collect::<Vec<_>>()
            }))
            .unwrap()
        };
        let stale = meta(
            Some(r#"{"apiVersion":"extensions/v1beta1","kind":"Deployment"}"#),
            &["apps/v1"],
        );
        let u = stored_use(table, "Deployment", "apps/v1", &stale).unwrap();
        assert_eq!(u.object.to_string(), "Deployment demo/web");
        assert_eq!(u.served_as, "apps/v1");
        assert_eq!(u.last_applied.as_deref(), Some("extensions/v1beta1"));
        assert_eq!(
            u.managed,
            vec![("kubectl".to_string(), "apps/v1".to_string())]
        );
        // Current versions only, another kind's annotation, garbage: nothing.
        assert!(
            stored_use(
                table,
                "Deployment",
                "apps/v1",
                &meta(
                    Some(r#"{"apiVersion":"apps/v1","kind":"Deployment"}"#),
                    &["apps/v1"]
                )
            )
            .is_none()
        );
        assert!(
            stored_use(
                table,
                "Deployment",
                "apps/v1",
                &meta(
                    Some(r#"{"apiVersion":"extensions/v1beta1","kind":"Ingress"}"#),
                    &[]
                )
            )
            .is_none()
        );
        assert!(
            stored_use(
                table,
                "Deployment",
                "apps/v1",
                &meta(Some("{not json"), &[])
            )
            .is_none()
        );
        // A managedFields write through a removed version is found without any annotation.
        assert!(
            stored_use(
                table,
                "Deployment",
                "apps/v1",
                &meta(None, &["extensions/v1beta1"])
            )
            .is_some()
        );

        let mut d = DerivedScan::default();
        d.see(table, "Deployment", &stale);
        assert!(d.uses.is_empty(), "a kind the path does not scan");
        let mut d = DerivedScan {
            served_as: Some("apps/v1".into()),
            uses: Vec::new(),
        };
        d.see(table, "Deployment", &stale);
        assert_eq!(d.uses.len(), 1);
    }
}
