//! The resource registry: which group/version/resources the server serves, with the names,
//! scope, verbs and subresources that discovery reports. Built-in resources are a fixed table;
//! CustomResourceDefinitions add and remove entries at runtime.

use serde_json::Value;
use std::sync::Arc;

/// Verbs of a normal read/write resource, in the order discovery lists them.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// An additionalPrinterColumn of a CRD (or a built-in column definition).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub type_: String,
    /// OpenAPI format.
    pub format: String,
    /// Column description.
    pub description: String,
    /// 0 for the default view, >0 for `-o wide`.
    pub priority: i64,
    /// JSONPath (CRD columns only).
    pub json_path: String,
}

/// One served resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: String,
    /// Served versions; the first is the storage/preferred one.
    pub versions: Vec<String>,
    /// Plural resource name.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster scoped.
    pub namespaced: bool,
    /// Short names (`po`, `deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Verbs of the main resource.
    pub verbs: Vec<String>,
    /// Has a `/status` subresource.
    pub status: bool,
    /// Has a `/scale` subresource.
    pub scale: bool,
    /// Pods only: has `/eviction`.
    pub eviction: bool,
    /// Defined by a CustomResourceDefinition.
    pub custom: bool,
    /// CRD printer columns.
    pub columns: Vec<PrinterColumn>,
}

impl ResourceDef {
    /// `group/plural`, the storage key (independent of version).
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// `apiVersion` for a version.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// Whether objects carry `metadata.generation` that is bumped on spec changes.
    pub fn has_generation(&self) -> bool {
        self.custom
            || (self.status
                && !(self.group.is_empty()
                    && matches!(
                        self.plural.as_str(),
                        "namespaces"
                            | "nodes"
                            | "persistentvolumes"
                            | "persistentvolumeclaims"
                            | "services"
                            | "resourcequotas"
                    )))
    }

    /// Whether a verb is allowed on the main resource.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

struct B {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    cats: &'static [&'static str],
    status: bool,
    scale: bool,
}

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    cats: &'static [&'static str],
    status: bool,
    scale: bool,
) -> B {
    B {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        cats,
        status,
        scale,
    }
}

const BUILTINS: &[B] = &[
    b(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        &[],
        false,
        false,
    ),
    b(
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        &[],
        false,
        false,
    ),
    b(
        "",
        "v1",
        "events",
        "Event",
        true,
        &["ev"],
        &[],
        false,
        false,
    ),
    b(
        "",
        "v1",
        "limitranges",
        "LimitRange",
        true,
        &["limits"],
        &[],
        false,
        false,
    ),
    b(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        &[],
        true,
        false,
    ),
    b("", "v1", "nodes", "Node", false, &["no"], &[], true, false),
    b(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &[],
        true,
        false,
    ),
    b(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        &["pv"],
        &[],
        true,
        false,
    ),
    b(
        "",
        "v1",
        "pods",
        "Pod",
        true,
        &["po"],
        &["all"],
        true,
        false,
    ),
    b(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
        &["rc"],
        &["all"],
        true,
        true,
    ),
    b(
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        true,
        &["quota"],
        &[],
        true,
        false,
    ),
    b("", "v1", "secrets", "Secret", true, &[], &[], false, false),
    b(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        &[],
        false,
        false,
    ),
    b(
        "",
        "v1",
        "services",
        "Service",
        true,
        &["svc"],
        &["all"],
        true,
        false,
    ),
    b(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        false,
        &[],
        &["api-extensions"],
        true,
        false,
    ),
    b(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        true,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        &["ds"],
        &["all"],
        true,
        false,
    ),
    b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        &["all"],
        true,
        true,
    ),
    b(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        &["all"],
        true,
        true,
    ),
    b(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        &["all"],
        true,
        true,
    ),
    b(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        &["all"],
        true,
        false,
    ),
    b(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        true,
        &["cj"],
        &["all"],
        true,
        false,
    ),
    b(
        "batch",
        "v1",
        "jobs",
        "Job",
        true,
        &[],
        &["all"],
        true,
        false,
    ),
    b(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        &[],
        true,
        false,
    ),
    b(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        &[],
        true,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
        &["sc"],
        &[],
        false,
        false,
    ),
    b(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
        &[],
        &["api-extensions"],
        false,
        false,
    ),
    b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        &[],
        &["api-extensions"],
        false,
        false,
    ),
    b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        &["api-extensions"],
        true,
        false,
    ),
    // Kinds served at some minors only (see SERVED).
    b(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "flowschemas",
        "FlowSchema",
        false,
        &[],
        &[],
        true,
        false,
    ),
    b(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        false,
        &[],
        &[],
        true,
        false,
    ),
    b(
        "policy",
        "v1beta1",
        "podsecuritypolicies",
        "PodSecurityPolicy",
        false,
        &["psp"],
        &[],
        false,
        false,
    ),
    b(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
        &["ev"],
        &[],
        false,
        false,
    ),
    b(
        "node.k8s.io",
        "v1",
        "runtimeclasses",
        "RuntimeClass",
        false,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "storage.k8s.io",
        "v1",
        "csistoragecapacities",
        "CSIStorageCapacity",
        true,
        &[],
        &[],
        false,
        false,
    ),
    b(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        false,
        &["pc"],
        &[],
        false,
        false,
    ),
];

/// Group-versions served only in a range of minors: `(group, plural, version, first minor served,
/// first minor no longer served)`. A row of [`BUILTINS`] whose version is not listed here is
/// served at every minor kubesim claims (1.22 to 1.36). A version listed here and absent from
/// `BUILTINS` is an older form of the same stored objects (the real server converts between
/// them; kubesim only rewrites `apiVersion`).
///
/// Source: the Kubernetes deprecated API migration guide,
/// <https://kubernetes.io/docs/reference/using-api/deprecation-guide/> (removals in v1.25, v1.26,
/// v1.27, v1.29 and v1.32), and the release notes of each GA version it names.
pub const SERVED: &[(&str, &str, &str, u32, u32)] = &[
    // autoscaling/v2 is GA in 1.23; v2beta1 is removed in 1.25, v2beta2 in 1.26.
    (
        "autoscaling",
        "horizontalpodautoscalers",
        "v2",
        23,
        u32::MAX,
    ),
    ("autoscaling", "horizontalpodautoscalers", "v1", 0, u32::MAX),
    ("autoscaling", "horizontalpodautoscalers", "v2beta1", 0, 25),
    ("autoscaling", "horizontalpodautoscalers", "v2beta2", 0, 26),
    // batch/v1beta1 CronJob is removed in 1.25 (batch/v1 since 1.21).
    ("batch", "cronjobs", "v1beta1", 0, 25),
    // policy/v1beta1 PodDisruptionBudget and PodSecurityPolicy are removed in 1.25.
    ("policy", "poddisruptionbudgets", "v1beta1", 0, 25),
    ("policy", "podsecuritypolicies", "v1beta1", 0, 25),
    // discovery.k8s.io, events.k8s.io and node.k8s.io v1beta1 are removed in 1.25.
    ("discovery.k8s.io", "endpointslices", "v1beta1", 0, 25),
    ("events.k8s.io", "events", "v1beta1", 0, 25),
    ("node.k8s.io", "runtimeclasses", "v1beta1", 0, 25),
    // storage.k8s.io/v1 CSIStorageCapacity is GA in 1.24; v1beta1 is removed in 1.27.
    ("storage.k8s.io", "csistoragecapacities", "v1", 24, u32::MAX),
    ("storage.k8s.io", "csistoragecapacities", "v1beta1", 0, 27),
    // flowcontrol.apiserver.k8s.io: v1beta1 until 1.26, v1beta2 1.23 until 1.29, v1beta3 1.26
    // until 1.32, v1 from 1.29.
    (
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        "v1",
        29,
        u32::MAX,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        "v1beta3",
        26,
        32,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        "v1beta2",
        23,
        29,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        "v1beta1",
        0,
        26,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        "v1",
        29,
        u32::MAX,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        "v1beta3",
        26,
        32,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        "v1beta2",
        23,
        29,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        "v1beta1",
        0,
        26,
    ),
];

/// The oldest and newest minors whose group-versions [`SERVED`] describes.
pub const MINORS: std::ops::RangeInclusive<u32> = 22..=36;

/// The versions of a built-in resource served at a minor, preferred first.
fn served_versions(row: &B, minor: u32) -> Vec<String> {
    let ranged: Vec<_> = SERVED
        .iter()
        .filter(|(g, p, ..)| *g == row.group && *p == row.plural)
        .collect();
    let mut out: Vec<String> = Vec::new();
    if !ranged.iter().any(|(_, _, v, ..)| *v == row.version) {
        out.push(row.version.to_string());
    }
    for (_, _, v, from, until) in ranged {
        if (*from..*until).contains(&minor) && !out.iter().any(|x| x == v) {
            out.push(v.to_string());
        }
    }
    out.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    out
}

/// The minor of a gitVersion (`v1.25.16` -> 25); 30 when it cannot be read.
pub fn minor_of(git_version: &str) -> u32 {
    git_version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(30)
}

/// Group order of `/apis` (the real server's priority order, then CRD groups alphabetically).
const GROUP_ORDER: &[&str] = &[
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
];

/// The set of served resources.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    defs: Vec<Arc<ResourceDef>>,
}

impl Registry {
    /// The built-in resources of a v1.30 cluster (the subset kubesim implements).
    pub fn builtin() -> Self {
        Self::builtin_for(30)
    }

    /// The built-in resources a cluster of this minor serves (the subset kubesim implements),
    /// with the group-versions of [`SERVED`].
    pub fn builtin_for(minor: u32) -> Self {
        let defs = BUILTINS
            .iter()
            .filter_map(|x| {
                let versions = served_versions(x, minor);
                (!versions.is_empty()).then_some((x, versions))
            })
            .map(|(x, versions)| {
                let verbs: Vec<String> = if x.plural == "selfsubjectaccessreviews" {
                    vec!["create".into()]
                } else if x.plural == "namespaces" {
                    [
                        "create", "delete", "get", "list", "patch", "update", "watch",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
                } else {
                    ALL_VERBS.iter().map(|s| s.to_string()).collect()
                };
                Arc::new(ResourceDef {
                    group: x.group.into(),
                    versions,
                    plural: x.plural.into(),
                    singular: x.kind.to_lowercase(),
                    kind: x.kind.into(),
                    namespaced: x.namespaced,
                    short_names: x.short.iter().map(|s| s.to_string()).collect(),
                    categories: x.cats.iter().map(|s| s.to_string()).collect(),
                    verbs,
                    status: x.status,
                    scale: x.scale,
                    eviction: x.plural == "pods",
                    custom: false,
                    columns: Vec::new(),
                })
            })
            .collect();
        Registry { defs }
    }

    /// Serves the built-in resources of another minor, keeping the CRDs.
    pub fn set_minor(&mut self, minor: u32) {
        let custom: Vec<Arc<ResourceDef>> =
            self.defs.iter().filter(|d| d.custom).cloned().collect();
        self.defs = Self::builtin_for(minor).defs;
        self.defs.extend(custom);
    }

    /// All definitions.
    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.defs
    }

    /// Find by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| {
                d.group == group && d.plural == plural && d.versions.iter().any(|v| v == version)
            })
            .cloned()
    }

    /// Find by group and kind (any version).
    pub fn find_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.kind == kind)
            .cloned()
    }

    /// Groups in discovery order, each with its versions (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut custom: Vec<String> = Vec::new();
        for d in &self.defs {
            if d.group.is_empty() {
                continue;
            }
            if !GROUP_ORDER.contains(&d.group.as_str()) && !custom.contains(&d.group) {
                custom.push(d.group.clone());
            }
        }
        custom.sort();
        for g in GROUP_ORDER.iter().map(|s| s.to_string()).chain(custom) {
            let mut versions: Vec<String> = Vec::new();
            for d in self.defs.iter().filter(|d| d.group == g) {
                for v in &d.versions {
                    if !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
            }
            if !versions.is_empty() {
                versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
                out.push((g, versions));
            }
        }
        out
    }

    /// Resources served in one group/version, sorted by plural.
    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        let mut v: Vec<_> = self
            .defs
            .iter()
            .filter(|d| d.group == group && d.versions.iter().any(|x| x == version))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.plural.cmp(&b.plural));
        v
    }

    /// Adds or replaces the resource a CRD defines. Errors name what is wrong with the CRD.
    pub fn apply_crd(&mut self, crd: &Value) -> Result<Arc<ResourceDef>, String> {
        let def = Arc::new(def_from_crd(crd)?);
        self.defs
            .retain(|d| !(d.group == def.group && d.plural == def.plural));
        self.defs.push(def.clone());
        Ok(def)
    }

    /// Removes the resource of a CRD.
    pub fn remove(&mut self, group: &str, plural: &str) {
        self.defs
            .retain(|d| !(d.custom && d.group == group && d.plural == plural));
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, n) = if let Some(t) = tail.strip_prefix("beta") {
        (2, t)
    } else if let Some(t) = tail.strip_prefix("alpha") {
        (1, t)
    } else {
        return (0, 0, 0);
    };
    (level, major, n.parse().unwrap_or(0))
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the resource definition of a CustomResourceDefinition object.
pub fn def_from_crd(crd: &Value) -> Result<ResourceDef, String> {
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .ok_or("spec.group: Required value")?;
    let names = spec.get("names").ok_or("spec.names: Required value")?;
    let plural = names
        .get("plural")
        .and_then(Value::as_str)
        .ok_or("spec.names.plural: Required value")?;
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("spec.names.kind: Required value")?;
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| kind.to_lowercase());
    let namespaced = spec
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("Namespaced")
        == "Namespaced";
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions: Required value")?;
    let mut served: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .collect();
    if served.is_empty() {
        return Err("spec.versions: Invalid value: must have at least one served version".into());
    }
    // storage version first, then by priority
    served.sort_by(|a, b| {
        let sa = a.get("storage").and_then(Value::as_bool).unwrap_or(false);
        let sb = b.get("storage").and_then(Value::as_bool).unwrap_or(false);
        let na = a.get("name").and_then(Value::as_str).unwrap_or("");
        let nb = b.get("name").and_then(Value::as_str).unwrap_or("");
        sb.cmp(&sa)
            .then(version_priority(nb).cmp(&version_priority(na)))
    });
    let first = served[0];
    let subres = first
        .get("subresources")
        .or_else(|| spec.get("subresources"));
    let status = subres.and_then(|s| s.get("status")).is_some();
    let scale = subres.and_then(|s| s.get("scale")).is_some();
    let cols_v = first
        .get("additionalPrinterColumns")
        .or_else(|| spec.get("additionalPrinterColumns"));
    let columns = cols_v
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| PrinterColumn {
                    name: c.get("name").and_then(Value::as_str).unwrap_or("").into(),
                    type_: c
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("string")
                        .into(),
                    format: c.get("format").and_then(Value::as_str).unwrap_or("").into(),
                    description: c
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    json_path: c
                        .get("jsonPath")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ResourceDef {
        group: group.into(),
        versions: served
            .iter()
            .filter_map(|v| v.get("name").and_then(Value::as_str).map(String::from))
            .collect(),
        plural: plural.into(),
        singular,
        kind: kind.into(),
        namespaced,
        short_names: names.get("shortNames").map(str_list).unwrap_or_default(),
        categories: names.get("categories").map(str_list).unwrap_or_default(),
        verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
        status,
        scale,
        eviction: false,
        custom: true,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta1", "v1", "v2beta2"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]);
    }

    #[test]
    fn crd_without_status_subresource() {
        let crd = serde_json::json!({"spec": {"group": "cluster.kubesphere.io", "scope": "Cluster",
            "names": {"plural": "clusters", "kind": "Cluster", "singular": "cluster"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {}}]}});
        let d = def_from_crd(&crd).unwrap();
        assert!(!d.status && !d.namespaced && d.custom);
        assert_eq!(d.versions, ["v1alpha1"]);
    }
}
