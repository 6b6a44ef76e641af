//! Findings: the plan's finding (a [`Code`] from [`super::codes`], a severity, the object) and
//! the pure checks that produce them from what [`super::inventory`] collected.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
        policy::v1::PodDisruptionBudget,
        storage::v1::StorageClass,
    },
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
};
use serde::Serialize;

use super::{
    apis::{ApiEntry, ApiState, MetricUse, classify, lookup, lookup_resource},
    path::{Component, PathStep, supports},
    summary::{HelmUse, Iam, NodeSummary, RoleMeta, StoredUse, UnhealthyPod, Workload},
};
use crate::{
    domain::{
        admission::closed_webhooks,
        apiservices::unavailable,
        helm::ReleaseState,
        skew::{Skew, control_plane_skew, kube_proxy_kubelet_skew, node_skew},
        storage::is_default_class,
    },
    helm::Revision,
    kubesphere::{ClusterInfo, KubeSphere},
    version::Version,
};

pub use super::codes::Code;
pub use crate::model::{ObjectRef, Severity};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Required or Recommended.
    #[serde(serialize_with = "crate::model::severity::plan")]
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
    pub fn new(code: Code, object: ObjectRef, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
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

/// NODE001, NODE002.
pub fn check_nodes(nodes: &[NodeSummary]) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in nodes {
        let name = &n.name;
        let (status, reason) = (&n.ready, &n.ready_reason);
        if status != "True" {
            out.push(
                Finding::new(
                    Code::Node001,
                    ObjectRef::cluster("Node", name),
                    format!("Ready={status} ({reason})"),
                )
                .remedy("bring the node back (kubelet, network) or remove it from the cluster before upgrading"),
            );
        }
        if n.unschedulable {
            out.push(
                Finding::new(
                    Code::Node002,
                    ObjectRef::cluster("Node", name),
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

/// The last Kubernetes minor that supports containerd 1.x; every minor after it needs 2.x on
/// every node.
pub const LAST_MINOR_WITH_CONTAINERD_1: (u64, u64) = (1, 35);
/// Where Kubernetes says so.
pub const CONTAINERD_1_END_SOURCE: &str = "https://kubernetes.io/blog/2025/11/26/kubernetes-v1-35-sneak-peek/#kubernetes-is-deprecating-containerd-v1-y-support";

/// The containerd version of a node's `containerRuntimeVersion` (`containerd://1.7.22`) when it is
/// a 1.x release; `None` for containerd 2.x, other runtimes, or text that is no version.
pub fn containerd_1x(runtime: &str) -> Option<Version> {
    let v: Version = runtime.strip_prefix("containerd://")?.parse().ok()?;
    (v.major == 1).then_some(v)
}

/// RUNTIME001: per node still on containerd 1.x, Required when the path goes past the last
/// minor that supports it (`first_needing` is the step that does: `v1.36`, or `None` when the
/// cluster is already past it), Recommended when the path ends at that minor.
pub fn check_runtime(
    nodes: &[NodeSummary],
    end: &Version,
    first_needing: Option<&Version>,
) -> Vec<Finding> {
    let last = LAST_MINOR_WITH_CONTAINERD_1;
    if end.minor_key() < last {
        return Vec::new();
    }
    let past = end.minor_key() > last;
    let mut out = Vec::new();
    for n in nodes {
        let Some(v) = containerd_1x(&n.container_runtime) else {
            continue;
        };
        let mut f = Finding::new(
            Code::Runtime001,
            ObjectRef::cluster("Node", &n.name),
            if past {
                format!(
                    "containerd {v}: Kubernetes v{}.{} is the last minor that supports containerd 1.x; {} needs containerd 2.x on every node",
                    last.0,
                    last.1,
                    first_needing
                        .map(|s| format!("the {} step", s.minor_string()))
                        .unwrap_or_else(|| format!("Kubernetes {}", end.minor_string()))
                )
            } else {
                format!(
                    "containerd {v}: Kubernetes v{}.{} is the last minor that supports containerd 1.x; the next minor will need containerd 2.x",
                    last.0, last.1
                )
            },
        )
        .remedy(format!(
            "upgrade containerd on {} to 2.x (`containerd config migrate` converts its configuration){}; see {CONTAINERD_1_END_SOURCE}",
            n.name,
            first_needing
                .map(|s| format!(" before the {} step", s.minor_string()))
                .unwrap_or_default()
        ));
        if past {
            if let Some(s) = first_needing {
                f = f.step(s.minor_string());
            }
        } else {
            f = f.severity(Severity::Advisory);
        }
        out.push(f);
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
                        Code::Skew001,
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
                            Code::Skew002,
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
            if let Some(k) = &n.kubelet
                && let Some((d, allowed)) = kube_proxy_kubelet_skew(p, k)
            {
                problems.push(format!(
                    "vs kubelet {k} on the same node: {d} minors apart (at most {allowed})"
                ));
            }
            if !problems.is_empty() {
                out.push(
                    Finding::new(
                        Code::Skew003,
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

/// CP001: the control plane against the version skew policy
/// (<https://kubernetes.io/releases/version-skew-policy/>): kube-apiservers within one minor of
/// each other (Required); kube-controller-manager and kube-scheduler never newer than the oldest
/// kube-apiserver and at most one minor older (Required); any other difference, patch drift or a
/// lag the policy allows, is an unfinished upgrade (Recommended). An image pinned by digest (or a
/// tag that is no version) says nothing about the version: Recommended, "cannot be judged".
pub fn check_control_plane(components: &[ComponentVersion]) -> Vec<Finding> {
    const KINDS: [&str; 3] = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ];
    let cp: Vec<(&ComponentVersion, Option<Version>)> = components
        .iter()
        .filter(|c| KINDS.contains(&c.component.as_str()))
        .map(|c| {
            let v = c
                .current
                .parse::<Version>()
                .ok()
                .filter(|v| v.major >= 1 && v.has_patch);
            (c, v)
        })
        .collect();
    let pod = |c: &ComponentVersion| {
        // Static pods are named `<component>-<node>` (the kubelet's mirror-pod naming).
        let name = match &c.node {
            Some(n) => format!("{}-{n}", c.component),
            None => c.component.clone(),
        };
        ObjectRef::namespaced("Pod", "kube-system", &name)
    };
    let mut out = Vec::new();
    for (c, _) in cp.iter().filter(|(_, v)| v.is_none()) {
        out.push(
            Finding::new(
                Code::Cp001,
                pod(c),
                if c.current == "-" {
                    format!(
                        "{} image is pinned by digest (no tag): a digest is not a version, so its skew cannot be judged",
                        c.component
                    )
                } else {
                    format!(
                        "{} image tag `{}` is not a version: its skew cannot be judged",
                        c.component, c.current
                    )
                },
            )
            .severity(Severity::Advisory)
            .remedy(format!(
                "check the version by hand (`{} --version` on the node) and compare it with the other control-plane components",
                c.component
            )),
        );
    }
    let apiservers: Vec<(&ComponentVersion, &Version)> = cp
        .iter()
        .filter(|(c, _)| c.component == "kube-apiserver")
        .filter_map(|(c, v)| v.as_ref().map(|v| (*c, v)))
        .collect();
    let mut required = false;
    if let Some((_, oldest)) = apiservers.iter().min_by(|a, b| a.1.cmp(b.1)) {
        let oldest = (*oldest).clone();
        for (c, v) in &apiservers {
            let apart = oldest.minors_to(v);
            if apart > 1 {
                required = true;
                out.push(
                    Finding::new(
                        Code::Cp001,
                        pod(c),
                        format!(
                            "kube-apiserver {v} is {} minors ahead of the oldest kube-apiserver {oldest}: the skew policy allows one",
                            if apart == i64::MAX { "several".to_string() } else { apart.to_string() }
                        ),
                    )
                    .remedy("bring every kube-apiserver to the same minor (kubeadm upgrade node on the lagging control-plane nodes) first"),
                );
            }
        }
        for (c, v) in cp.iter().filter(|(c, _)| c.component != "kube-apiserver") {
            let Some(v) = v else { continue };
            let skew = control_plane_skew(&oldest, v);
            if !skew.is_supported() {
                required = true;
                let (what, fix) = match skew {
                    Skew::NewerThanApiServer => (
                        format!(
                            "{} {v} is newer than the oldest kube-apiserver {oldest}",
                            c.component
                        ),
                        format!("upgrade the kube-apiservers before the {}", c.component),
                    ),
                    _ => (
                        format!(
                            "{} {v} vs oldest kube-apiserver {oldest}: {}",
                            c.component,
                            skew_text(&skew)
                        ),
                        format!(
                            "upgrade {} on {} to the kube-apiserver's minor",
                            c.component,
                            c.node.as_deref().unwrap_or("its node")
                        ),
                    ),
                };
                out.push(
                    Finding::new(
                        Code::Cp001,
                        pod(c),
                        format!(
                            "{what} (the skew policy allows it to be at most one minor older, never newer)"
                        ),
                    )
                    .remedy(fix),
                );
            }
        }
    }
    if required {
        return out;
    }
    // Within the policy, but not uniform: an upgrade left half done.
    let mut versions: BTreeMap<&Version, Vec<String>> = BTreeMap::new();
    for (c, v) in &cp {
        if let Some(v) = v {
            versions.entry(v).or_default().push(format!(
                "{}@{}",
                c.component,
                c.node.as_deref().unwrap_or("?")
            ));
        }
    }
    if versions.len() > 1 {
        let detail: Vec<String> = versions
            .iter()
            .map(|(v, who)| format!("{v}: {}", who.join(", ")))
            .collect();
        out.push(
            Finding::new(
                Code::Cp001,
                ObjectRef::namespaced("Pod", "kube-system", "control-plane"),
                format!(
                    "control-plane versions differ within the skew policy: {}",
                    detail.join("; ")
                ),
            )
            .severity(Severity::Advisory)
            .remedy(
                "finish the interrupted upgrade (kubeadm upgrade node on the lagging nodes) first",
            ),
        );
    }
    out
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
                    Code::Pdb001,
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
            Finding::new(Code::Pod001, p.clone(), "no controller: `kubectl drain` refuses it without --force, and --force deletes it for good")
                .remedy("recreate it under a Deployment/Job, or delete it before draining its node")
        })
        .collect()
}

/// POD002: pods not running well now (see [`super::summary::pod_problem`]).
pub fn check_unhealthy_pods(pods: &[UnhealthyPod]) -> Vec<Finding> {
    pods.iter()
        .map(|p| {
            Finding::new(Code::Pod002, p.object.clone(), p.problem.clone()).remedy(
                "fix before upgrading: failures present before the upgrade are hard to tell from damage after it",
            )
        })
        .collect()
}

/// WL001: Deployments and StatefulSets with one replica.
pub fn check_single_replicas(deployments: &[Workload], statefulsets: &[Workload]) -> Vec<Finding> {
    deployments
        .iter()
        .chain(statefulsets)
        .filter(|w| w.replicas == 1)
        .map(|w| {
            Finding::new(
                Code::Wl001,
                ObjectRef::namespaced(w.kind, &w.namespace, &w.name),
                "1 replica: unavailable while its node drains",
            )
            .remedy("scale to 2+ (with a PodDisruptionBudget) or accept the interruption")
        })
        .collect()
}

/// APISVC001.
pub fn check_apiservices(list: &[APIService]) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in list {
        let Some(down) = unavailable(a) else { continue };
        let name = a.metadata.name.clone().unwrap_or_default();
        let (status, reason, message) = match down.condition {
            Some(c) => (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            ),
            None => ("Unknown".into(), "NoCondition".into(), String::new()),
        };
        let svc = down
            .service
            .map(|(ns, svc)| format!(" (service {ns}/{svc})"))
            .unwrap_or_default();
        out.push(
            Finding::new(
                Code::Apisvc001,
                ObjectRef::cluster("APIService", &name),
                format!("Available={status} {reason}{svc}: {message}").trim_end_matches(": ").to_string(),
            )
            .remedy("fix the backing service or delete the APIService; an unavailable one breaks discovery and namespace deletion"),
        );
    }
    out
}

/// WEBHOOK001: `failurePolicy: Fail` (the v1 default) with a service that has no ready address.
/// `ready` says, per (namespace, service), whether its Endpoints have a ready address; a service
/// missing from the map has no Endpoints at all.
pub fn check_webhooks(
    validating: &[ValidatingWebhookConfiguration],
    mutating: &[MutatingWebhookConfiguration],
    ready: &BTreeMap<(String, String), bool>,
) -> Vec<Finding> {
    closed_webhooks(validating, mutating)
        .into_iter()
        .filter(|h| !ready.get(&h.service).copied().unwrap_or(false))
        .map(|h| {
            let (ns, svc) = &h.service;
            Finding::new(
                Code::Webhook001,
                ObjectRef::cluster(h.kind, &h.config),
                format!("webhook {} (failurePolicy Fail) calls service {ns}/{svc}, which has no ready endpoints: matching requests are rejected", h.webhook),
            )
            .remedy("make the service ready, or set failurePolicy: Ignore / delete the webhook for the upgrade")
        })
        .collect()
}

/// HELM001, HELM002 and KS001, from every revision (the newest per release decides).
pub fn check_helm(revisions: &[Revision], kubesphere_step: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in crate::helm::latest(revisions) {
        let obj = ObjectRef::namespaced(r.storage.kind(), &r.namespace, &r.object);
        let state = ReleaseState::of(&r.status);
        if state == ReleaseState::Pending {
            let ks_core = r.name == crate::kubesphere::KS_CORE_RELEASE
                && r.namespace == crate::kubesphere::SYSTEM_NAMESPACE;
            let delete = format!(
                "kubectl -n {} delete {} {}",
                r.namespace,
                r.storage.resource(),
                r.object
            );
            if ks_core {
                out.push(
                    Finding::new(
                        Code::Ks001,
                        obj.clone(),
                        format!(
                            "ks-core revision {} is {}: ks-migrate (upgrade.sh) refuses to start",
                            r.revision, r.status
                        ),
                    )
                    .remedy(delete.clone())
                    .severity(if kubesphere_step {
                        Severity::Blocking
                    } else {
                        Severity::Advisory
                    }),
                );
            }
            out.push(
                Finding::new(
                    Code::Helm002,
                    obj,
                    format!(
                        "release {}/{} revision {} is {}: Helm refuses another operation",
                        r.namespace, r.name, r.revision, r.status
                    ),
                )
                .remedy(delete),
            );
        } else if state == ReleaseState::Failed {
            out.push(
                Finding::new(
                    Code::Helm001,
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
        Severity::Blocking
    } else {
        Severity::Advisory
    };
    vec![
        Finding::new(
            Code::Sc001,
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

/// API001-API003 from the three signals.
pub fn check_apis(
    table: &[ApiEntry],
    current: &Version,
    target: &Version,
    stored: &[StoredUse],
    helm: &[HelmUse],
    metric: Option<&[MetricUse]>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let state_finding =
        |code_state: &ApiState, object: ObjectRef, what: String, e: &ApiEntry| -> Option<Finding> {
            let repl = e.replacement_text();
            match code_state {
                ApiState::RemovedAlready => Some(
                    Finding::new(
                        Code::Api001,
                        object,
                        format!(
                            "{what}: {} {} is no longer served (removed in {})",
                            e.api_version,
                            e.kind,
                            e.removed_in
                                .as_ref()
                                .map(|v| v.minor_string())
                                .unwrap_or_default()
                        ),
                    )
                    .remedy(format!("move to {repl}")),
                ),
                ApiState::RemovedInPath(r) => Some(
                    Finding::new(
                        Code::Api001,
                        object,
                        format!(
                            "{what}: {} {} is removed in {}",
                            e.api_version,
                            e.kind,
                            r.minor_string()
                        ),
                    )
                    .remedy(format!(
                        "move to {repl} before the {} step",
                        r.minor_string()
                    ))
                    .step(r.minor_string()),
                ),
                ApiState::Deprecated => Some(
                    Finding::new(
                        Code::Api002,
                        object,
                        format!(
                            "{what}: {} {} is deprecated since {}{}",
                            e.api_version,
                            e.kind,
                            e.deprecated_in.minor_string(),
                            e.removed_in
                                .as_ref()
                                .map(|r| format!(", removed in {}", r.minor_string()))
                                .unwrap_or_default()
                        ),
                    )
                    .remedy(format!("move to {repl}")),
                ),
                ApiState::Fine => None,
            }
        };
    for u in stored {
        let kind = &u.object.kind;
        let managed_versions: Vec<&String> = u.managed.iter().map(|(_, v)| v).collect();
        // Writes recorded in managedFields at a table version that is still served.
        let mut reported: Vec<&str> = Vec::new();
        for (manager, av) in &u.managed {
            let Some(e) = lookup(table, av, kind) else {
                continue;
            };
            if reported.contains(&av.as_str()) {
                continue;
            }
            let state = classify(e, current, target);
            if state == ApiState::RemovedAlready {
                continue; // history from before the removal
            }
            if let Some(f) = state_finding(
                &state,
                u.object.clone(),
                format!("written by {manager} through {av} (managedFields)"),
                e,
            ) {
                out.push(f);
                reported.push(av);
            }
        }
        let Some(la) = &u.last_applied else { continue };
        let Some(e) = lookup(table, la, kind) else {
            continue;
        };
        let state = classify(e, current, target);
        if state == ApiState::Fine || reported.contains(&la.as_str()) {
            continue;
        }
        let stale = state == ApiState::RemovedAlready
            || (!managed_versions.is_empty() && !managed_versions.contains(&la));
        if stale {
            let why = if state == ApiState::RemovedAlready {
                format!("{la} is not served by {}", current.minor_string())
            } else {
                "managedFields show no write through it".to_string()
            };
            out.push(
                Finding::new(
                    Code::Api003,
                    u.object.clone(),
                    format!(
                        "last-applied-configuration says {la} but the object is served as {} ({why}): the manifest it was applied from is stale",
                        u.served_as
                    ),
                )
                .remedy(format!("update the source manifest to {} and re-apply it", e.replacement_text())),
            );
        } else if let Some(f) = state_finding(
            &state,
            u.object.clone(),
            "last-applied-configuration (no managedFields to confirm)".into(),
            e,
        ) {
            out.push(f);
        }
    }
    for h in helm {
        let Some(e) = lookup(table, &h.api_version, &h.kind) else {
            continue;
        };
        let state = classify(e, current, target);
        // The object that holds the release: a Secret, or a ConfigMap with Helm's ConfigMap driver.
        let object = ObjectRef::namespaced(h.storage.kind(), &h.namespace, &h.storage_object);
        let what = format!(
            "Helm release {}/{} revision {} (deployed) renders {} {}",
            h.namespace, h.release, h.revision, h.kind, h.name
        );
        if let Some(mut f) = state_finding(&state, object, what, e) {
            if f.code == Code::Api001 {
                f.remedy = Some(format!(
                    "helm mapkubeapis {} --namespace {} (or upgrade the chart to one using {}); otherwise the next helm upgrade fails",
                    h.release,
                    h.namespace,
                    e.replacement_text()
                ));
            }
            out.push(f);
        }
    }
    for m in metric.unwrap_or_default() {
        let object = ObjectRef::cluster(
            "API",
            &format!("{}.{}", m.resource, m.api_version.replace('/', ".")),
        );
        match lookup_resource(table, &m.api_version, &m.resource) {
            Some(e) => {
                if let Some(f) = state_finding(&classify(e, current, target), object, "requested since the API server started (apiserver_requested_deprecated_apis)".into(), e) {
                    out.push(f);
                }
            }
            None => out.push(
                Finding::new(
                    Code::Api002,
                    object,
                    format!(
                        "{} {} requested since the API server started (apiserver_requested_deprecated_apis){}",
                        m.api_version,
                        m.resource,
                        if m.removed_release.is_empty() { String::new() } else { format!(", removed in {}", m.removed_release) }
                    ),
                )
                .remedy("find the client in the audit log (annotation k8s.io/deprecated) and move it to the current version"),
            ),
        }
    }
    out
}

/// The KubeSphere release whose upgrade deletes `users-manager`/`workspaces-manager` and strips
/// the management role templates from custom roles.
pub const ROLE_CHANGES_RELEASE: Version = Version::new(3, 3, 1);

/// Where the 3.3.1 role changes are stated: the upgrade guide users read, and the code of the
/// job that makes them (ks-installer v3.3.1+ runs it when `users-manager`/`workspaces-manager`
/// exist).
pub const ROLE_CHANGES_DOCS: &str =
    "https://kubesphere.io/docs/v3.3/upgrade/upgrade-with-ks-installer/";
/// The role migration itself, upstream at the tag that ships it.
pub const ROLE_CHANGES_CODE: &str =
    "https://github.com/kubesphere/ks-upgrade/blob/v3.3.1/pkg/role/role.go";

/// Platform roles that 3.3.1 deletes (their users become `platform-regular`).
pub const REMOVED_GLOBAL_ROLES: RemovedRoles = RemovedRoles {
    names: &["users-manager", "workspaces-manager"],
    source: ROLE_CHANGES_CODE,
};

/// Roles the 3.3.1 upgrade deletes, with its source.
pub struct RemovedRoles {
    /// GlobalRole names.
    pub names: &'static [&'static str],
    /// Public source.
    pub source: &'static str,
}

/// How a role kind's built-in names are told from custom roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinMatch {
    /// The name is one of the list.
    Exact,
    /// The name ends with one of the list (`strings.HasSuffix` upstream: `demo-admin` and
    /// `superadmin` alike).
    Suffix,
}

/// One row of the 3.3.1 role rules: per role kind, the built-in names the migration leaves alone
/// and the role templates it strips from custom roles.
pub struct RoleRule {
    /// `GlobalRole`, `WorkspaceRole` or (rbac) `Role`.
    pub kind: &'static str,
    /// Built-in names (or suffixes).
    pub builtin: &'static [&'static str],
    /// How `builtin` matches.
    pub matching: BuiltinMatch,
    /// The templates stripped from custom roles of this kind.
    pub removed_templates: &'static [&'static str],
    /// Public source.
    pub source: &'static str,
}

/// The 3.3.1 role rules, one row per role kind.
pub const ROLE_RULES: &[RoleRule] = &[
    RoleRule {
        kind: "GlobalRole",
        builtin: &[
            "platform-admin",
            "platform-regular",
            "platform-self-provisioner",
            "anonymous",
            "authenticated",
            "pre-registration",
        ],
        matching: BuiltinMatch::Exact,
        removed_templates: &[
            "role-template-manage-users",
            "role-template-manage-roles",
            "role-template-manage-workspaces",
        ],
        source: ROLE_CHANGES_CODE,
    },
    RoleRule {
        kind: "WorkspaceRole",
        builtin: &["admin", "regular", "self-provisioner", "viewer"],
        matching: BuiltinMatch::Suffix,
        removed_templates: &[
            "role-template-manage-members",
            "role-template-manage-roles",
            "role-template-manage-groups",
        ],
        source: ROLE_CHANGES_CODE,
    },
    RoleRule {
        kind: "Role",
        builtin: &["admin", "operator", "viewer"],
        matching: BuiltinMatch::Exact,
        removed_templates: &["role-template-manage-members", "role-template-manage-roles"],
        source: ROLE_CHANGES_CODE,
    },
];

fn role_rule(kind: &str) -> Option<&'static RoleRule> {
    ROLE_RULES.iter().find(|r| r.kind == kind)
}

/// The role templates 3.3.1 strips from custom roles, per role kind.
pub fn removed_templates(kind: &str) -> &'static [&'static str] {
    role_rule(kind).map(|r| r.removed_templates).unwrap_or(&[])
}

fn is_custom(r: &RoleMeta) -> bool {
    if r.labels.contains_key("iam.kubesphere.io/role-template") || r.aggregation.is_empty() {
        return false;
    }
    let Some(rule) = role_rule(&r.kind) else {
        return false;
    };
    let builtin = match rule.matching {
        BuiltinMatch::Exact => rule.builtin.contains(&r.name.as_str()),
        BuiltinMatch::Suffix => rule.builtin.iter().any(|s| r.name.ends_with(s)),
    };
    !builtin
}

fn binding_kind(role_kind: &str) -> &'static str {
    match role_kind {
        "GlobalRole" => "GlobalRoleBinding",
        "WorkspaceRole" => "WorkspaceRoleBinding",
        _ => "RoleBinding",
    }
}

/// KS003: users bound to `users-manager`/`workspaces-manager`, and custom roles built on the
/// removed role templates, with their users. Only for a path that crosses 3.3.1
/// ([`super::crosses_role_changes`]): on a cluster already past it the changes are done.
pub fn check_role_changes(iam: &Iam) -> Vec<Finding> {
    let mut out = Vec::new();
    for b in &iam.bindings {
        if b.kind == "GlobalRoleBinding" && REMOVED_GLOBAL_ROLES.names.contains(&b.role.as_str()) {
            out.push(
                Finding::new(
                    Code::Ks003,
                    ObjectRef::cluster("GlobalRoleBinding", &b.name),
                    format!("users {} are bound to {}, which the upgrade to KubeSphere 3.3.1 deletes: they become platform-regular", b.users.join(", "), b.role),
                )
                .remedy("grant these users the platform role they need after the upgrade"),
            );
        }
    }
    for r in iam.roles.iter().filter(|r| is_custom(r)) {
        let removed: Vec<&String> = r
            .aggregation
            .iter()
            .filter(|t| removed_templates(&r.kind).contains(&t.as_str()))
            .collect();
        if removed.is_empty() {
            continue;
        }
        let bk = binding_kind(&r.kind);
        let mut users: Vec<String> = iam
            .bindings
            .iter()
            .filter(|b| {
                b.kind == bk && b.role == r.name && (r.kind != "Role" || b.namespace == r.namespace)
            })
            .flat_map(|b| b.users.iter().map(|u| format!("{u} ({bk} {})", b.name)))
            .collect();
        users.sort();
        users.dedup();
        let object = match &r.namespace {
            Some(ns) => ObjectRef::namespaced(&r.kind, ns, &r.name),
            None => ObjectRef::cluster(&r.kind, &r.name),
        };
        out.push(
            Finding::new(
                Code::Ks003,
                object,
                format!(
                    "custom role aggregates {} whose permissions the upgrade to KubeSphere 3.3.1 revokes; users: {}",
                    removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    if users.is_empty() { "none".to_string() } else { users.join(", ") }
                ),
            )
            .remedy("review what these users must keep doing; grant it through a built-in role after the upgrade"),
        );
    }
    out
}

/// What the KubeSphere checks look at.
pub struct KubeSphereFacts<'a> {
    /// Detection result.
    pub ks: &'a KubeSphere,
    /// Cluster objects, on a host.
    pub clusters: Option<&'a [ClusterInfo]>,
    /// Helm revisions.
    pub helm: &'a [Revision],
    /// Deployment kubesphere-system/ks-installer exists.
    pub installer_deployment: bool,
    /// The path.
    pub path: &'a [PathStep],
}

/// KS002, KS004-KS006, PATH001, PATH002.
pub fn check_kubesphere(f: &KubeSphereFacts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let ks = f.ks;
    if !ks.is_v4() && f.installer_deployment {
        let status_missing = ks.source.contains("metadata.labels.version");
        let differs = match (&ks.installer_target, &ks.version) {
            (Some(t), Some(v)) => t.to_string() != v.to_string(),
            _ => false,
        };
        if status_missing || differs {
            out.push(
                Finding::new(
                    Code::Ks002,
                    ObjectRef::namespaced("ClusterConfiguration", crate::kubesphere::SYSTEM_NAMESPACE, "ks-installer"),
                    format!(
                        "ks-installer is still working: target {} but status.core.version {}",
                        ks.installer_target.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                        if status_missing { "-".to_string() } else { ks.version.as_ref().map(|v| v.to_string()).unwrap_or_default() }
                    ),
                )
                .remedy("wait for \"Welcome to KubeSphere!\" in `kubectl -n kubesphere-system logs deploy/ks-installer`"),
            );
        }
    }
    if ks.is_v4() {
        for c in f.clusters.unwrap_or_default().iter().filter(|c| !c.host) {
            let v3 = c
                .kubesphere_version
                .as_deref()
                .and_then(|v| v.parse::<Version>().ok())
                .is_some_and(|v| v.major < 4);
            if v3 {
                out.push(
                    Finding::new(
                        Code::Ks004,
                        ObjectRef::cluster("Cluster", &c.name),
                        format!(
                            "member runs KubeSphere {} under a v4 host",
                            c.kubesphere_version.as_deref().unwrap_or("-")
                        ),
                    )
                    .remedy(format!("kubectl --context {} ks-migrate member", c.name)),
                );
            } else if c.is_unschedulable() {
                out.push(
                    Finding::new(
                        Code::Ks005,
                        ObjectRef::cluster("Cluster", &c.name),
                        "migrated, but still Schedulable=False: extensions cannot schedule onto it",
                    )
                    .remedy(format!("kubectl untaint-member {}", c.name)),
                );
            }
        }
        for r in crate::helm::latest(f.helm) {
            if r.namespace == crate::kubesphere::CONTROLS_NAMESPACE
                && r.name.starts_with("kubesphere-router-")
                && !r.name.ends_with("-ingress")
                && ReleaseState::of(&r.status) == ReleaseState::Deployed
            {
                out.push(
                    Finding::new(
                        Code::Ks006,
                        ObjectRef::namespaced("HelmRelease", &r.namespace, &r.name),
                        "v3 gateway still deployed on a v4 host",
                    )
                    .remedy(format!("kubectl ks-migrate gateway {}", r.name)),
                );
            }
        }
    }
    for s in f.path.iter().filter(|s| !s.supported) {
        out.push(
            Finding::new(
                Code::Path001,
                ObjectRef::cluster(
                    "Step",
                    &format!("{}: {:?} {} -> {}", s.number, s.component, s.from, s.to),
                ),
                s.note.clone().unwrap_or_else(|| "not supported".into()),
            )
            .remedy("choose targets the compatibility table supports (see the path)")
            .step(s.to.clone()),
        );
    }
    let migration = f.path.iter().find(|s| {
        s.component == Component::Kubesphere && s.from.starts_with("v3") && s.to.starts_with("v4")
    });
    if let Some(step) = migration
        && let Ok(to) = step.to.parse::<Version>()
    {
        for c in f.clusters.unwrap_or_default().iter().filter(|c| !c.host) {
            let Some(k) = c
                .kubernetes_version
                .as_deref()
                .and_then(|v| v.parse::<Version>().ok())
            else {
                continue;
            };
            if let Err(reason) = supports(&to, k.minor_key()) {
                out.push(
                    Finding::new(
                        Code::Path002,
                        ObjectRef::cluster("Cluster", &c.name),
                        format!("member runs Kubernetes {k}: {reason}"),
                    )
                    .remedy("upgrade the member's Kubernetes into range before migrating it")
                    .step(step.to.clone()),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::summary::BindingMeta;
    use k8s_openapi::api::core::v1::Node;
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
    fn nodes_not_ready_and_cordoned() {
        let nodes: Vec<NodeSummary> = [
            node("ok", "True", false),
            node("w2", "Unknown", false),
            node("w3", "True", true),
            serde_json::from_value(json!({"metadata": {"name": "bare"}})).unwrap(),
        ]
        .iter()
        .map(NodeSummary::from_node)
        .collect();
        let f = check_nodes(&nodes);
        let got: Vec<(String, String)> = f
            .iter()
            .map(|f| (f.code.to_string(), f.object.name.clone()))
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
        assert_eq!(f[1].severity, Severity::Advisory);
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
        assert_eq!(f[0].code, Code::Skew002);
    }

    #[test]
    fn control_plane_against_the_skew_policy() {
        let c = |component: &str, node: &str, v: &str| ComponentVersion {
            component: component.into(),
            node: Some(node.into()),
            current: v.into(),
            target: "v1.27".into(),
        };
        let got = |f: &[Finding]| -> Vec<(String, Severity, String)> {
            f.iter()
                .map(|f| (f.code.to_string(), f.severity, f.object.name.clone()))
                .collect()
        };
        let same = vec![
            c("kube-apiserver", "m1", "v1.26.15"),
            c("kube-controller-manager", "m1", "v1.26.15"),
            c("kube-scheduler", "m1", "v1.26.15"),
            c("etcd", "m1", "3.5.10-0"),
        ];
        assert!(check_control_plane(&same).is_empty());

        // Patch drift: Recommended, never a blocker.
        let mut patch = same.clone();
        patch.push(c("kube-apiserver", "m2", "v1.26.3"));
        let f = check_control_plane(&patch);
        assert_eq!(
            got(&f),
            vec![("CP001".into(), Severity::Advisory, "control-plane".into())]
        );
        assert!(
            f[0].message.contains("v1.26.3: kube-apiserver@m2"),
            "{}",
            f[0].message
        );

        // Mid-upgrade, within the policy: one apiserver a minor ahead, the controller manager
        // and scheduler a minor behind it (and level with the oldest): Recommended.
        let mut mid = same.clone();
        mid.push(c("kube-apiserver", "m2", "v1.27.3"));
        let f = check_control_plane(&mid);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Advisory);

        // ...but the scheduler of m2 newer than the oldest apiserver (m1 at 1.26): Required.
        let mut newer = mid.clone();
        newer.push(c("kube-scheduler", "m2", "v1.27.3"));
        let f = check_control_plane(&newer);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Blocking,
                "kube-scheduler-m2".into()
            )]
        );
        // kube-controller-manager m2 v1.27.3 is newer than the oldest apiserver too.
        let f = check_control_plane(&[
            c("kube-apiserver", "m1", "v1.26.15"),
            c("kube-apiserver", "m2", "v1.27.3"),
            c("kube-controller-manager", "m2", "v1.27.3"),
        ]);
        assert_eq!(f[0].severity, Severity::Blocking);
        assert!(
            f[0].message
                .contains("newer than the oldest kube-apiserver"),
            "{}",
            f[0].message
        );

        // Two minors behind: Required.
        let f = check_control_plane(&[
            c("kube-apiserver", "m1", "v1.27.3"),
            c("kube-controller-manager", "m1", "v1.25.9"),
        ]);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Blocking,
                "kube-controller-manager-m1".into()
            )]
        );
        assert!(
            f[0].message.contains("2 minors behind (at most 1 allowed)"),
            "{}",
            f[0].message
        );

        // API servers two minors apart: Required.
        let f = check_control_plane(&[
            c("kube-apiserver", "m1", "v1.25.3"),
            c("kube-apiserver", "m2", "v1.27.3"),
        ]);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Blocking,
                "kube-apiserver-m2".into()
            )]
        );

        // A digest is not a version: said, never a blocker, and the rest is still judged.
        let mut digest = same.clone();
        digest.push(c("kube-scheduler", "m2", "-"));
        let f = check_control_plane(&digest);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Advisory,
                "kube-scheduler-m2".into()
            )]
        );
        assert!(
            f[0].message.contains("cannot be judged"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn containerd_1_is_required_past_1_35_and_recommended_at_it() {
        let node = |name: &str, runtime: &str| -> NodeSummary {
            NodeSummary::from_node(
                &serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "status": {"nodeInfo": {"containerRuntimeVersion": runtime,
                        "kubeletVersion": "v1.34.2", "kubeProxyVersion": "", "machineID": "", "systemUUID": "",
                        "bootID": "", "kernelVersion": "", "osImage": "", "operatingSystem": "linux", "architecture": "amd64"}}
                }))
                .unwrap(),
            )
        };
        let nodes = vec![
            node("old", "containerd://1.7.22"),
            node("new", "containerd://2.1.4"),
            node("crio", "cri-o://1.34.1"),
            node("k3s", "containerd://1.7.23-k3s2"),
        ];
        // Through 1.35 to 1.36: Required, on the v1.36 step.
        let f = check_runtime(&nodes, &v("v1.36"), Some(&v("v1.36")));
        let got: Vec<(&str, Severity, &str)> = f
            .iter()
            .map(|f| (f.code.as_str(), f.severity, f.object.name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("RUNTIME001", Severity::Blocking, "old"),
                ("RUNTIME001", Severity::Blocking, "k3s")
            ]
        );
        assert_eq!(f[0].step.as_deref(), Some("v1.36"));
        assert!(
            f[0].message.contains("containerd v1.7.22"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].remedy
                .as_deref()
                .unwrap()
                .contains(CONTAINERD_1_END_SOURCE),
            "{:?}",
            f[0].remedy
        );
        // Ending at 1.35: Recommended.
        let f = check_runtime(&nodes, &v("v1.35"), None);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.severity == Severity::Advisory));
        // Before 1.35: nothing to say.
        assert!(check_runtime(&nodes, &v("v1.34"), None).is_empty());
        assert_eq!(containerd_1x("containerd://2.0.0"), None);
        assert_eq!(containerd_1x("docker://24.0.7"), None);
        assert_eq!(containerd_1x("containerd://garbage"), None);
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
        assert_eq!(f[0].severity, Severity::Blocking);
        let f = check_default_storage_class(&[], false);
        assert_eq!(f[0].severity, Severity::Advisory);
    }

    fn stored(
        kind: &str,
        ns: &str,
        name: &str,
        served: &str,
        la: Option<&str>,
        managed: &[(&str, &str)],
    ) -> StoredUse {
        StoredUse {
            object: ObjectRef::namespaced(kind, ns, name),
            served_as: served.into(),
            last_applied: la.map(str::to_string),
            managed: managed
                .iter()
                .map(|(m, v)| (m.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn deprecated_apis_from_every_signal() {
        let t = crate::plan::apis::table().unwrap();
        let cur = v("v1.27.16");
        let uses = vec![
            // Removed long ago: the annotation is stale, never a blocker.
            stored(
                "Ingress",
                "shop",
                "storefront",
                "networking.k8s.io/v1",
                Some("extensions/v1beta1"),
                &[],
            ),
            // Still served, written through it per managedFields: removed at v1.29.
            stored(
                "FlowSchema",
                "",
                "a",
                "flowcontrol.apiserver.k8s.io/v1beta3",
                Some("flowcontrol.apiserver.k8s.io/v1beta2"),
                &[(
                    "kubectl-client-side-apply",
                    "flowcontrol.apiserver.k8s.io/v1beta2",
                )],
            ),
            // Still served, but managedFields show only the new version: stale.
            stored(
                "FlowSchema",
                "",
                "b",
                "flowcontrol.apiserver.k8s.io/v1beta3",
                Some("flowcontrol.apiserver.k8s.io/v1beta2"),
                &[("kubectl", "flowcontrol.apiserver.k8s.io/v1beta3")],
            ),
        ];
        let helm = vec![
            HelmUse {
                namespace: "shop".into(),
                release: "billing".into(),
                revision: 2,
                storage_object: "sh.helm.release.v1.billing.v2".into(),
                storage: crate::helm::Storage::Secret,
                api_version: "policy/v1beta1".into(),
                kind: "PodDisruptionBudget".into(),
                name: "billing".into(),
            },
            // Helm's ConfigMap driver: the finding names the ConfigMap, not a Secret.
            HelmUse {
                namespace: "shop".into(),
                release: "legacy".into(),
                revision: 1,
                storage_object: "sh.helm.release.v1.legacy.v1".into(),
                storage: crate::helm::Storage::ConfigMap,
                api_version: "policy/v1beta1".into(),
                kind: "PodDisruptionBudget".into(),
                name: "legacy".into(),
            },
        ];
        let f = check_apis(t, &cur, &v("v1.29"), &uses, &helm, None);
        let got: Vec<(&str, String)> = f
            .iter()
            .map(|f| (f.code.as_str(), f.object.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("API003", "Ingress shop/storefront".to_string()),
                ("API001", "FlowSchema /a".to_string()),
                // v1beta3 itself is deprecated by 1.29.
                ("API002", "FlowSchema /b".to_string()),
                ("API003", "FlowSchema /b".to_string()),
                (
                    "API001",
                    "Secret shop/sh.helm.release.v1.billing.v2".to_string()
                ),
                (
                    "API001",
                    "ConfigMap shop/sh.helm.release.v1.legacy.v1".to_string()
                ),
            ]
        );
        assert_eq!(f[1].step.as_deref(), Some("v1.29"));
        assert_eq!(f[0].severity, Severity::Advisory);
        assert!(
            f[4].remedy
                .as_deref()
                .unwrap()
                .starts_with("helm mapkubeapis billing")
        );
        // Towards 1.28 only, the FlowSchema is deprecated, not removed.
        let f = check_apis(t, &cur, &v("v1.28"), &uses[1..2], &[], None);
        assert_eq!(f[0].code, Code::Api002);
        // The metric.
        let m = vec![MetricUse {
            api_version: "flowcontrol.apiserver.k8s.io/v1beta2".into(),
            resource: "flowschemas".into(),
            subresource: String::new(),
            removed_release: "1.29".into(),
        }];
        let f = check_apis(t, &cur, &v("v1.29"), &[], &[], Some(&m));
        assert_eq!(f[0].code, Code::Api001);
        assert_eq!(
            f[0].object.name,
            "flowschemas.flowcontrol.apiserver.k8s.io.v1beta2"
        );
    }

    #[test]
    fn role_changes_name_users_and_roles() {
        let role =
            |kind: &str, ns: Option<&str>, name: &str, agg: &[&str], template: bool| RoleMeta {
                kind: kind.into(),
                namespace: ns.map(str::to_string),
                name: name.into(),
                labels: if template {
                    [(
                        "iam.kubesphere.io/role-template".to_string(),
                        "true".to_string(),
                    )]
                    .into()
                } else {
                    BTreeMap::new()
                },
                aggregation: agg.iter().map(|s| s.to_string()).collect(),
            };
        let binding =
            |kind: &str, ns: Option<&str>, name: &str, role: &str, user: &str| BindingMeta {
                kind: kind.into(),
                namespace: ns.map(str::to_string),
                name: name.into(),
                role: role.into(),
                users: vec![user.into()],
            };
        let iam = Iam {
            roles: vec![
                role(
                    "GlobalRole",
                    None,
                    "ops-custom",
                    &["role-template-manage-users", "role-template-view-clusters"],
                    false,
                ),
                role(
                    "GlobalRole",
                    None,
                    "platform-admin",
                    &["role-template-manage-users"],
                    false,
                ),
                role("GlobalRole", None, "role-template-manage-users", &[], true),
                role(
                    "WorkspaceRole",
                    None,
                    "demo-release-manager",
                    &["role-template-manage-members"],
                    false,
                ),
                role(
                    "WorkspaceRole",
                    None,
                    "demo-admin",
                    &["role-template-manage-members"],
                    false,
                ),
                // Upstream's rule is a plain suffix: `demoadmin` is built-in too.
                role(
                    "WorkspaceRole",
                    None,
                    "demoadmin",
                    &["role-template-manage-members"],
                    false,
                ),
                role(
                    "Role",
                    Some("demo-project"),
                    "deployer",
                    &["role-template-manage-members"],
                    false,
                ),
                role(
                    "Role",
                    Some("demo-project"),
                    "viewer-plus",
                    &["role-template-view-app"],
                    false,
                ),
            ],
            bindings: vec![
                binding(
                    "GlobalRoleBinding",
                    None,
                    "dev-lead",
                    "ops-custom",
                    "dev-lead",
                ),
                binding("GlobalRoleBinding", None, "old", "users-manager", "alice"),
                binding(
                    "WorkspaceRoleBinding",
                    None,
                    "dev-lead-demo-release-manager",
                    "demo-release-manager",
                    "dev-lead",
                ),
                binding(
                    "RoleBinding",
                    Some("demo-project"),
                    "dev-lead-deployer",
                    "deployer",
                    "dev-lead",
                ),
                binding("RoleBinding", Some("other"), "x", "deployer", "bob"),
            ],
        };
        let f = check_role_changes(&iam);
        let got: Vec<String> = f.iter().map(|f| f.object.to_string()).collect();
        assert_eq!(
            got,
            vec![
                "GlobalRoleBinding old",
                "GlobalRole ops-custom",
                "WorkspaceRole demo-release-manager",
                "Role demo-project/deployer"
            ]
        );
        assert!(f[0].message.contains("alice"));
        assert!(
            f[1].message
                .contains("dev-lead (GlobalRoleBinding dev-lead)"),
            "{}",
            f[1].message
        );
        assert!(!f[3].message.contains("bob"));
        assert!(f.iter().all(|f| f.code == Code::Ks003));
        assert!(
            f.iter()
                .all(|f| f.message.contains("the upgrade to KubeSphere 3.3.1")
                    && !f.message.contains("past 3.3.1")),
            "{f:#?}"
        );
    }

    #[test]
    fn every_role_rule_names_a_public_source() {
        let public = |u: &str| {
            u.starts_with("https://kubesphere.io/docs/")
                || (u.starts_with("https://github.com/kubesphere/") && u.contains("/blob/v"))
        };
        assert!(public(REMOVED_GLOBAL_ROLES.source));
        assert!(public(ROLE_CHANGES_DOCS));
        for r in ROLE_RULES {
            assert!(public(r.source), "{}: {}", r.kind, r.source);
            assert!(!r.builtin.is_empty() && !r.removed_templates.is_empty());
        }
    }

    #[test]
    fn the_role_check_runs_only_across_3_3_1() {
        use crate::plan::crosses_role_changes;
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(crosses_role_changes(Some(&v("v3.3.0")), Some(&v("v3.4.1"))));
        assert!(crosses_role_changes(Some(&v("v3.2.1")), Some(&v("v3.3.1"))));
        assert!(!crosses_role_changes(
            Some(&v("v3.3.1")),
            Some(&v("v3.4.1"))
        ));
        assert!(!crosses_role_changes(
            Some(&v("v3.4.1")),
            Some(&v("v4.1.3"))
        ));
        assert!(!crosses_role_changes(
            Some(&v("v3.2.1")),
            Some(&v("v3.3.0"))
        ));
        assert!(!crosses_role_changes(Some(&v("v3.2.1")), None));
        assert!(!crosses_role_changes(None, Some(&v("v4.1.3"))));
    }

    #[test]
    fn single_replicas() {
        use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
        let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "api", "namespace": "demo"}, "spec": {"replicas": 1, "selector": {}, "template": {}}})).unwrap();
        let d2: Deployment = serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": 2, "selector": {}, "template": {}}})).unwrap();
        let s: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db", "namespace": "demo"}, "spec": {"selector": {}, "serviceName": "db", "template": {}}})).unwrap();
        let f = check_single_replicas(
            &[
                Workload::from_deployment(&d),
                Workload::from_deployment(&d2),
            ],
            &[Workload::from_statefulset(&s)],
        );
        let got: Vec<String> = f.iter().map(|f| f.object.to_string()).collect();
        assert_eq!(got, vec!["Deployment demo/api", "StatefulSet demo/db"]);
    }

    #[test]
    fn unhealthy_pods_are_recommended() {
        let f = check_unhealthy_pods(&[UnhealthyPod {
            object: ObjectRef::namespaced("Pod", "shop", "cart-x"),
            problem: "Pending: not scheduled: Unschedulable".into(),
        }]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::Pod002);
        assert_eq!(f[0].severity, Severity::Advisory);
        assert_eq!(f[0].message, "Pending: not scheduled: Unschedulable");
        assert!(
            f[0].remedy
                .as_deref()
                .unwrap()
                .starts_with("fix before upgrading")
        );
    }
}
