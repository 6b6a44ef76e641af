//! Findings: stable codes, severities, and the pure checks that produce them from what
//! [`super::inventory`] collected.
//!
//! Code scheme: an area prefix and a three-digit number (`NODE001`, `SKEW002`, `API003`). A code
//! keeps its meaning forever; a retired code is never reused. Severity follows eksup: `Required`
//! (blocks the upgrade: exit 1) or `Recommended` (exit 1 only with `--fail-on warn`).

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{
    api::{
        admissionregistration::v1::WebhookClientConfig,
        admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
        apps::v1::{Deployment, StatefulSet},
        core::v1::Node,
        policy::v1::PodDisruptionBudget,
        storage::v1::StorageClass,
    },
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
};
use serde::Serialize;

use crate::{
    helm::Revision,
    version::{Skew, Version, node_skew},
};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    /// Blocks the upgrade.
    Required,
    /// Should be fixed; does not block unless `--fail-on warn`.
    Recommended,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Required => "Required",
            Self::Recommended => "Recommended",
        })
    }
}

/// Every code, its default severity and what it means (the documentation's table; tests check
/// that every finding uses a code from here).
pub const CODES: &[(&str, Severity, &str)] = &[
    ("NODE001", Severity::Required, "node not Ready"),
    (
        "NODE002",
        Severity::Recommended,
        "node cordoned (the playbook's uncordon would put it back in service)",
    ),
    (
        "SKEW001",
        Severity::Required,
        "kubelet outside the version skew policy now",
    ),
    (
        "SKEW002",
        Severity::Required,
        "kubelet outside the skew policy once the control plane reaches the first step",
    ),
    (
        "SKEW003",
        Severity::Required,
        "kube-proxy outside the skew policy (against the API server or its kubelet)",
    ),
    (
        "CP001",
        Severity::Required,
        "control plane not uniform (component versions differ)",
    ),
    (
        "PDB001",
        Severity::Required,
        "PodDisruptionBudget allows no disruption: a drain would hang",
    ),
    (
        "POD001",
        Severity::Required,
        "bare pod without a controller: a drain refuses it",
    ),
    (
        "WL001",
        Severity::Recommended,
        "single-replica workload: expect an interruption while its node drains",
    ),
    ("APISVC001", Severity::Required, "APIService unavailable"),
    (
        "WEBHOOK001",
        Severity::Required,
        "webhook failing closed with no ready endpoints",
    ),
    ("HELM001", Severity::Recommended, "Helm release failed"),
    (
        "HELM002",
        Severity::Required,
        "Helm release stuck in pending-*",
    ),
    (
        "SC001",
        Severity::Required,
        "no default StorageClass (Required when a KubeSphere 4.1 step needs the ks-upgrade volume)",
    ),
    (
        "KS001",
        Severity::Required,
        "ks-core pending-upgrade blocks ks-migrate",
    ),
    ("KS002", Severity::Required, "ks-installer still running"),
    (
        "KS003",
        Severity::Required,
        "KubeSphere 3.3.1 role changes affect users and custom roles (Recommended when already past 3.3.1)",
    ),
    (
        "KS004",
        Severity::Required,
        "member cluster still on KubeSphere 3.x under a 4.x host",
    ),
    (
        "KS005",
        Severity::Recommended,
        "member cluster still unschedulable after its migration (untaint it)",
    ),
    (
        "KS006",
        Severity::Recommended,
        "v3 gateways not yet migrated",
    ),
    (
        "PATH001",
        Severity::Required,
        "a step of the path is outside the KubeSphere/Kubernetes compatibility table",
    ),
    (
        "PATH002",
        Severity::Required,
        "a member cluster's Kubernetes is outside the target KubeSphere's range",
    ),
    (
        "API001",
        Severity::Required,
        "removed API in use (no longer served now or at a step of the path)",
    ),
    ("API002", Severity::Recommended, "deprecated API in use"),
    (
        "API003",
        Severity::Recommended,
        "stale last-applied-configuration annotation names an old apiVersion",
    ),
    (
        "CHECK001",
        Severity::Required,
        "a check could not run (forbidden, or the API failed)",
    ),
];

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Kind.
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A cluster-scoped object.
    pub fn cluster(kind: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: None,
            name: name.into(),
        }
    }

    /// A namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable code.
    pub code: String,
    /// Required or Recommended.
    pub severity: Severity,
    /// The object.
    pub object: ObjectRef,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// The step of the path it concerns (`v1.29`), when one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl Finding {
    /// A finding with the code's default severity.
    pub fn new(code: &str, object: ObjectRef, message: impl Into<String>) -> Self {
        let severity = CODES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, s, _)| *s)
            .unwrap_or(Severity::Required);
        Self {
            code: code.into(),
            severity,
            object,
            message: message.into(),
            remedy: None,
            step: None,
        }
    }

    /// Sets the severity.
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }

    /// Sets the remedy.
    pub fn remedy(mut self, r: impl Into<String>) -> Self {
        self.remedy = Some(r.into());
        self
    }

    /// Sets the step.
    pub fn step(mut self, s: impl Into<String>) -> Self {
        self.step = Some(s.into());
        self
    }
}

/// `Ready` condition status of a node (`True`, `False`, `Unknown`; `Unknown` when absent).
pub fn node_ready(node: &Node) -> (String, String) {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
        .unwrap_or_else(|| ("Unknown".into(), "no Ready condition".into()))
}

fn node_name(node: &Node) -> String {
    node.metadata.name.clone().unwrap_or_default()
}

/// NODE001, NODE002.
pub fn check_nodes(nodes: &[Node]) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in nodes {
        let name = node_name(n);
        let (status, reason) = node_ready(n);
        if status != "True" {
            out.push(
                Finding::new(
                    "NODE001",
                    ObjectRef::cluster("Node", &name),
                    format!("Ready={status} ({reason})"),
                )
                .remedy("bring the node back (kubelet, network) or remove it from the cluster before upgrading"),
            );
        }
        if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
            out.push(
                Finding::new(
                    "NODE002",
                    ObjectRef::cluster("Node", &name),
                    "cordoned (spec.unschedulable)",
                )
                .remedy(format!(
                    "if it is cordoned on purpose, skip `kubectl uncordon {name}` in the steps"
                )),
            );
        }
    }
    out
}

/// The versions running on one node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVersions {
    /// Node name.
    pub name: String,
    /// Carries the control-plane role.
    pub control_plane: bool,
    /// kubelet.
    pub kubelet: Option<Version>,
    /// kube-proxy.
    pub kube_proxy: Option<Version>,
    /// Where the kube-proxy version came from.
    pub kube_proxy_source: String,
}

fn skew_text(s: &Skew) -> String {
    match s {
        Skew::Supported => "supported".into(),
        Skew::NewerThanApiServer => "newer than the API server".into(),
        Skew::TooOld { behind, allowed } => {
            format!("{behind} minors behind (at most {allowed} allowed)")
        }
    }
}

/// SKEW001-003: kubelet and kube-proxy now, and when the control plane reaches `first_step`.
pub fn check_skew(
    apiserver: &Version,
    first_step: Option<&Version>,
    nodes: &[NodeVersions],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in nodes {
        let obj = ObjectRef::cluster("Node", &n.name);
        if let Some(k) = &n.kubelet {
            let now = node_skew(apiserver, k);
            if !now.is_supported() {
                out.push(
                    Finding::new(
                        "SKEW001",
                        obj.clone(),
                        format!("kubelet {k} vs API server {apiserver}: {}", skew_text(&now)),
                    )
                    .remedy(format!("upgrade the kubelet on {} first", n.name)),
                );
            }
            if let Some(t) = first_step {
                let after = node_skew(t, k);
                if !after.is_supported() {
                    out.push(
                        Finding::new(
                            "SKEW002",
                            obj.clone(),
                            format!(
                                "kubelet {k} vs control plane {}: {}",
                                t.minor_string(),
                                skew_text(&after)
                            ),
                        )
                        .remedy(format!(
                            "upgrade the kubelet on {} to {} before the control plane moves",
                            n.name,
                            apiserver.minor_string()
                        ))
                        .step(t.minor_string()),
                    );
                }
            }
        }
        if let Some(p) = &n.kube_proxy {
            let mut problems = Vec::new();
            let now = node_skew(apiserver, p);
            if !now.is_supported() {
                problems.push(format!("vs API server {apiserver}: {}", skew_text(&now)));
            }
            if let Some(t) = first_step {
                let after = node_skew(t, p);
                if !after.is_supported() {
                    problems.push(format!(
                        "vs control plane {}: {}",
                        t.minor_string(),
                        skew_text(&after)
                    ));
                }
            }
            if let Some(k) = &n.kubelet {
                let d = p.minors_to(k).unsigned_abs();
                let allowed = if p.minor_key() < (1, 25) || k.minor_key() < (1, 25) {
                    2
                } else {
                    3
                };
                if d > allowed {
                    problems.push(format!(
                        "vs kubelet {k} on the same node: {d} minors apart (at most {allowed})"
                    ));
                }
            }
            if !problems.is_empty() {
                out.push(
                    Finding::new(
                        "SKEW003",
                        obj.clone(),
                        format!(
                            "kube-proxy {p} ({}) {}",
                            n.kube_proxy_source,
                            problems.join("; ")
                        ),
                    )
                    .remedy(format!(
                        "bring kubelet and kube-proxy on {} to the same minor",
                        n.name
                    )),
                );
            }
        }
    }
    out
}

/// A control-plane component seen on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentVersion {
    /// `kube-apiserver`, `kube-controller-manager`, `kube-scheduler`, `etcd`, `kube-proxy`,
    /// `kubelet`, `CoreDNS`.
    pub component: String,
    /// Node, when per node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Version (image tag).
    pub current: String,
    /// Where it ends after the path.
    pub target: String,
}

/// CP001: apiserver, controller-manager and scheduler versions must all be the same.
pub fn check_control_plane(components: &[ComponentVersion]) -> Vec<Finding> {
    let cp: Vec<&ComponentVersion> = components
        .iter()
        .filter(|c| {
            matches!(
                c.component.as_str(),
                "kube-apiserver" | "kube-controller-manager" | "kube-scheduler"
            )
        })
        .collect();
    let mut versions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in &cp {
        versions
            .entry(c.current.as_str())
            .or_default()
            .push(format!(
                "{}@{}",
                c.component,
                c.node.as_deref().unwrap_or("?")
            ));
    }
    if versions.len() <= 1 {
        return Vec::new();
    }
    let detail: Vec<String> = versions
        .iter()
        .map(|(v, who)| format!("{v}: {}", who.join(", ")))
        .collect();
    vec![
        Finding::new(
            "CP001",
            ObjectRef::namespaced("Pod", "kube-system", "control-plane"),
            format!("control-plane versions differ: {}", detail.join("; ")),
        )
        .remedy("finish the interrupted upgrade (kubeadm upgrade node on the lagging nodes) first"),
    ]
}

/// PDB001: budgets that allow no disruption over pods that exist.
pub fn check_pdbs(pdbs: &[PodDisruptionBudget]) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in pdbs {
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        let Some(st) = &p.status else { continue };
        if st.disruptions_allowed == 0 && st.expected_pods > 0 {
            let spec = p.spec.as_ref();
            let rule = spec
                .and_then(|s| s.min_available.as_ref())
                .map(|m| format!("minAvailable {}", int_or_string(m)))
                .or_else(|| {
                    spec.and_then(|s| s.max_unavailable.as_ref())
                        .map(|m| format!("maxUnavailable {}", int_or_string(m)))
                })
                .unwrap_or_default();
            out.push(
                Finding::new(
                    "PDB001",
                    ObjectRef::namespaced("PodDisruptionBudget", &ns, &name),
                    format!(
                        "{rule}: disruptionsAllowed 0 (currentHealthy {}, desiredHealthy {}, expectedPods {})",
                        st.current_healthy,
                        st.desired_healthy,
                        st.expected_pods
                    ),
                )
                .remedy("scale the workload up or relax the budget for the maintenance window"),
            );
        }
    }
    out
}

fn int_or_string(v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString) -> String {
    match v {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    }
}

/// POD001, from pods known to have no controller owner.
pub fn check_bare_pods(pods: &[ObjectRef]) -> Vec<Finding> {
    pods.iter()
        .map(|p| {
            Finding::new("POD001", p.clone(), "no controller: `kubectl drain` refuses it without --force, and --force deletes it for good")
                .remedy("recreate it under a Deployment/Job, or delete it before draining its node")
        })
        .collect()
}

/// WL001: Deployments and StatefulSets with one replica.
pub fn check_single_replicas(
    deployments: &[Deployment],
    statefulsets: &[StatefulSet],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut one = |kind: &str, ns: Option<&String>, name: Option<&String>| {
        out.push(
            Finding::new(
                "WL001",
                ObjectRef::namespaced(
                    kind,
                    ns.map(String::as_str).unwrap_or(""),
                    name.map(String::as_str).unwrap_or(""),
                ),
                "1 replica: unavailable while its node drains",
            )
            .remedy("scale to 2+ (with a PodDisruptionBudget) or accept the interruption"),
        );
    };
    for d in deployments {
        if d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) == 1 {
            one(
                "Deployment",
                d.metadata.namespace.as_ref(),
                d.metadata.name.as_ref(),
            );
        }
    }
    for s in statefulsets {
        if s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) == 1 {
            one(
                "StatefulSet",
                s.metadata.namespace.as_ref(),
                s.metadata.name.as_ref(),
            );
        }
    }
    out
}

/// APISVC001.
pub fn check_apiservices(list: &[APIService]) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in list {
        let name = a.metadata.name.clone().unwrap_or_default();
        let cond = a
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Available"));
        let (status, reason, message) = match cond {
            Some(c) => (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            ),
            None => ("Unknown".into(), "NoCondition".into(), String::new()),
        };
        if status != "True" {
            let svc = a
                .spec
                .as_ref()
                .and_then(|s| s.service.as_ref())
                .map(|s| {
                    format!(
                        " (service {}/{})",
                        s.namespace.clone().unwrap_or_default(),
                        s.name.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            out.push(
                Finding::new(
                    "APISVC001",
                    ObjectRef::cluster("APIService", &name),
                    format!("Available={status} {reason}{svc}: {message}").trim_end_matches(": ").to_string(),
                )
                .remedy("fix the backing service or delete the APIService; an unavailable one breaks discovery and namespace deletion"),
            );
        }
    }
    out
}

/// A webhook's client service, when it calls one.
fn webhook_service(c: &WebhookClientConfig) -> Option<(String, String)> {
    c.service
        .as_ref()
        .map(|s| (s.namespace.clone(), s.name.clone()))
}

/// WEBHOOK001: `failurePolicy: Fail` (the v1 default) with a service that has no ready address.
/// `ready` says, per (namespace, service), whether its Endpoints have a ready address; a service
/// missing from the map has no Endpoints at all.
pub fn check_webhooks(
    validating: &[ValidatingWebhookConfiguration],
    mutating: &[MutatingWebhookConfiguration],
    ready: &BTreeMap<(String, String), bool>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut check = |kind: &str,
                     cfg: &str,
                     hook: &str,
                     policy: Option<&String>,
                     client: &WebhookClientConfig| {
        if policy.map(String::as_str).unwrap_or("Fail") != "Fail" {
            return;
        }
        let Some((ns, svc)) = webhook_service(client) else {
            return;
        };
        if ready
            .get(&(ns.clone(), svc.clone()))
            .copied()
            .unwrap_or(false)
        {
            return;
        }
        out.push(
            Finding::new(
                "WEBHOOK001",
                ObjectRef::cluster(kind, cfg),
                format!("webhook {hook} (failurePolicy Fail) calls service {ns}/{svc}, which has no ready endpoints: matching requests are rejected"),
            )
            .remedy("make the service ready, or set failurePolicy: Ignore / delete the webhook for the upgrade"),
        );
    };
    for c in validating {
        let name = c.metadata.name.clone().unwrap_or_default();
        for w in c.webhooks.iter().flatten() {
            check(
                "ValidatingWebhookConfiguration",
                &name,
                &w.name,
                w.failure_policy.as_ref(),
                &w.client_config,
            );
        }
    }
    for c in mutating {
        let name = c.metadata.name.clone().unwrap_or_default();
        for w in c.webhooks.iter().flatten() {
            check(
                "MutatingWebhookConfiguration",
                &name,
                &w.name,
                w.failure_policy.as_ref(),
                &w.client_config,
            );
        }
    }
    out
}

/// HELM001, HELM002 and KS001, from every revision (the newest per release decides).
pub fn check_helm(revisions: &[Revision], kubesphere_step: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in crate::helm::latest(revisions) {
        let obj = ObjectRef::namespaced(
            match r.storage {
                crate::helm::Storage::Secret => "Secret",
                crate::helm::Storage::ConfigMap => "ConfigMap",
            },
            &r.namespace,
            &r.object,
        );
        if r.is_pending() {
            let ks_core = r.name == crate::kubesphere::KS_CORE_RELEASE
                && r.namespace == crate::kubesphere::SYSTEM_NAMESPACE;
            let delete = format!(
                "kubectl -n {} delete {} {}",
                r.namespace,
                match r.storage {
                    crate::helm::Storage::Secret => "secret",
                    crate::helm::Storage::ConfigMap => "configmap",
                },
                r.object
            );
            if ks_core {
                out.push(
                    Finding::new(
                        "KS001",
                        obj.clone(),
                        format!(
                            "ks-core revision {} is {}: ks-migrate (upgrade.sh) refuses to start",
                            r.revision, r.status
                        ),
                    )
                    .remedy(delete.clone())
                    .severity(if kubesphere_step {
                        Severity::Required
                    } else {
                        Severity::Recommended
                    }),
                );
            }
            out.push(
                Finding::new(
                    "HELM002",
                    obj,
                    format!(
                        "release {}/{} revision {} is {}: Helm refuses another operation",
                        r.namespace, r.name, r.revision, r.status
                    ),
                )
                .remedy(delete),
            );
        } else if r.status == "failed" {
            out.push(
                Finding::new(
                    "HELM001",
                    obj,
                    format!(
                        "release {}/{} revision {} failed",
                        r.namespace, r.name, r.revision
                    ),
                )
                .remedy(format!(
                    "helm -n {} history {}; roll back or fix before upgrading",
                    r.namespace, r.name
                )),
            );
        }
    }
    out
}

/// True for a StorageClass marked default (GA or beta annotation).
pub fn is_default_class(sc: &StorageClass) -> bool {
    sc.metadata.annotations.as_ref().is_some_and(|a| {
        a.get("storageclass.kubernetes.io/is-default-class")
            .map(String::as_str)
            == Some("true")
            || a.get("storageclass.beta.kubernetes.io/is-default-class")
                .map(String::as_str)
                == Some("true")
    })
}

/// SC001.
pub fn check_default_storage_class(classes: &[StorageClass], migration_step: bool) -> Vec<Finding> {
    if classes.iter().any(is_default_class) {
        return Vec::new();
    }
    let names: Vec<String> = classes
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    let severity = if migration_step {
        Severity::Required
    } else {
        Severity::Recommended
    };
    vec![
        Finding::new(
            "SC001",
            ObjectRef::cluster("StorageClass", names.first().map(String::as_str).unwrap_or("-")),
            format!(
                "no default StorageClass (classes: {}); the KubeSphere 4.1 upgrade's ks-upgrade PVC and PVCs without storageClassName stay Pending",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ),
        )
        .severity(severity)
        .remedy(format!(
            "kubectl annotate storageclass {} storageclass.kubernetes.io/is-default-class=true",
            names.first().map(String::as_str).unwrap_or("<class>")
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ready: &str, unschedulable: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": ready, "reason": "NodeStatusUnknown"}]}
        }))
        .unwrap()
    }

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for (code, _, text) in CODES {
            assert!(seen.insert(*code), "{code} twice");
            assert!(!text.is_empty());
            let digits = &code[code.len() - 3..];
            assert!(digits.chars().all(|c| c.is_ascii_digit()), "{code}");
            assert!(
                code[..code.len() - 3]
                    .chars()
                    .all(|c| c.is_ascii_uppercase()),
                "{code}"
            );
        }
    }

    #[test]
    fn nodes_not_ready_and_cordoned() {
        let f = check_nodes(&[
            node("ok", "True", false),
            node("w2", "Unknown", false),
            node("w3", "True", true),
            serde_json::from_value(json!({"metadata": {"name": "bare"}})).unwrap(),
        ]);
        let got: Vec<(String, String)> = f
            .iter()
            .map(|f| (f.code.clone(), f.object.name.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("NODE001".into(), "w2".into()),
                ("NODE002".into(), "w3".into()),
                ("NODE001".into(), "bare".into())
            ]
        );
        assert!(f[0].message.contains("Unknown"));
        assert_eq!(f[1].severity, Severity::Recommended);
    }

    #[test]
    fn skew_now_and_after() {
        let nodes = vec![
            NodeVersions {
                name: "w4".into(),
                control_plane: false,
                kubelet: Some(v("v1.24.17")),
                kube_proxy: Some(v("v1.27.16")),
                kube_proxy_source: "pod image".into(),
            },
            NodeVersions {
                name: "ok".into(),
                control_plane: false,
                kubelet: Some(v("v1.27.16")),
                kube_proxy: Some(v("v1.27.16")),
                kube_proxy_source: "pod image".into(),
            },
            NodeVersions {
                name: "w25".into(),
                control_plane: false,
                kubelet: Some(v("v1.25.1")),
                kube_proxy: None,
                kube_proxy_source: String::new(),
            },
        ];
        let f = check_skew(&v("v1.27.16"), Some(&v("v1.28")), &nodes);
        let codes: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.code.as_str(), f.object.name.as_str()))
            .collect();
        assert_eq!(
            codes,
            vec![("SKEW001", "w4"), ("SKEW002", "w4"), ("SKEW003", "w4")]
        );
        assert!(
            f[0].message.contains("3 minors behind (at most 2 allowed)"),
            "{}",
            f[0].message
        );
        assert!(
            f[1].message.contains("4 minors behind (at most 3 allowed)"),
            "{}",
            f[1].message
        );
        assert!(
            f[2].message.contains("vs kubelet v1.24.17"),
            "{}",
            f[2].message
        );
        // 1.25 kubelet is fine at 1.28 (n-3).
        assert!(f.iter().all(|f| f.object.name != "w25"));
        // ...but not at 1.29.
        let f = check_skew(&v("v1.28.1"), Some(&v("v1.29")), &nodes[2..]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "SKEW002");
    }

    #[test]
    fn control_plane_uniformity() {
        let c = |component: &str, node: &str, v: &str| ComponentVersion {
            component: component.into(),
            node: Some(node.into()),
            current: v.into(),
            target: "v1.27".into(),
        };
        let same = vec![
            c("kube-apiserver", "m1", "v1.26.15"),
            c("kube-scheduler", "m1", "v1.26.15"),
            c("etcd", "m1", "3.5.10-0"),
        ];
        assert!(check_control_plane(&same).is_empty());
        let mut mixed = same.clone();
        mixed.push(c("kube-apiserver", "m2", "v1.27.3"));
        let f = check_control_plane(&mixed);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("v1.27.3: kube-apiserver@m2"));
    }

    #[test]
    fn pdbs_blocking_drains() {
        let pdb = |name: &str, allowed: i32, expected: i32| -> PodDisruptionBudget {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"minAvailable": 2},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": expected, "observedGeneration": 1}
            }))
            .unwrap()
        };
        let f = check_pdbs(&[pdb("payments", 0, 2), pdb("web", 1, 2), pdb("empty", 0, 0)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].object.to_string(), "PodDisruptionBudget shop/payments");
        assert!(
            f[0].message
                .starts_with("minAvailable 2: disruptionsAllowed 0")
        );
    }

    #[test]
    fn webhooks_failing_closed() {
        let vw: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": "kyverno"},
            "webhooks": [
                {"name": "fail", "failurePolicy": "Fail", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}}},
                {"name": "ignore", "failurePolicy": "Ignore", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}}},
                {"name": "default-policy", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"namespace": "ok", "name": "svc"}}},
                {"name": "url", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"url": "https://example.com"}}
            ]
        }))
        .unwrap();
        let mut ready = BTreeMap::new();
        ready.insert(("kyverno".to_string(), "kyverno-svc".to_string()), false);
        ready.insert(("ok".to_string(), "svc".to_string()), true);
        let f = check_webhooks(&[vw], &[], &ready);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .starts_with("webhook fail (failurePolicy Fail)")
        );
        // No Endpoints at all counts as not ready.
        let f = check_webhooks(&[], &[], &BTreeMap::new());
        assert!(f.is_empty());
    }

    #[test]
    fn apiservices() {
        let a: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                     "service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "no addresses"}]}
        }))
        .unwrap();
        let local: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1.apps"},
            "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 100},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}
        }))
        .unwrap();
        let f = check_apiservices(&[a, local]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].message,
            "Available=False MissingEndpoints (service kube-system/metrics-server): no addresses"
        );
    }

    #[test]
    fn helm_pending_failed_and_ks_core() {
        use crate::helm::Storage;
        let rev = |ns: &str, name: &str, n: u32, status: &str| Revision {
            name: name.into(),
            namespace: ns.into(),
            revision: n,
            status: status.into(),
            object: format!("sh.helm.release.v1.{name}.v{n}"),
            storage: Storage::Secret,
        };
        let revs = vec![
            rev("kubesphere-system", "ks-core", 2, "deployed"),
            rev("kubesphere-system", "ks-core", 3, "pending-upgrade"),
            rev("c", "ingress", 1, "superseded"),
            rev("c", "ingress", 2, "failed"),
            rev("shop", "billing", 2, "deployed"),
        ];
        let f = check_helm(&revs, true);
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, vec!["HELM001", "KS001", "HELM002"]);
        assert_eq!(f[1].object.name, "sh.helm.release.v1.ks-core.v3");
        assert_eq!(
            f[1].remedy.as_deref(),
            Some("kubectl -n kubesphere-system delete secret sh.helm.release.v1.ks-core.v3")
        );
    }

    #[test]
    fn default_storage_class() {
        let sc = |name: &str, ann: serde_json::Value| -> StorageClass {
            serde_json::from_value(
                json!({"metadata": {"name": name, "annotations": ann}, "provisioner": "x"}),
            )
            .unwrap()
        };
        assert!(
            check_default_storage_class(
                &[sc(
                    "local",
                    json!({"storageclass.kubernetes.io/is-default-class": "true"})
                )],
                true
            )
            .is_empty()
        );
        assert!(
            check_default_storage_class(
                &[sc(
                    "b",
                    json!({"storageclass.beta.kubernetes.io/is-default-class": "true"})
                )],
                true
            )
            .is_empty()
        );
        let f = check_default_storage_class(
            &[sc(
                "local",
                json!({"storageclass.beta.kubernetes.io/is-default-class": "false"}),
            )],
            true,
        );
        assert_eq!(f[0].severity, Severity::Required);
        let f = check_default_storage_class(&[], false);
        assert_eq!(f[0].severity, Severity::Recommended);
    }

    #[test]
    fn single_replicas() {
        let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "api", "namespace": "demo"}, "spec": {"replicas": 1, "selector": {}, "template": {}}})).unwrap();
        let d2: Deployment = serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": 2, "selector": {}, "template": {}}})).unwrap();
        let f = check_single_replicas(&[d, d2], &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].object.to_string(), "Deployment demo/api");
    }
}
