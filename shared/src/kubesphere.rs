//! KubeSphere as the suite sees it: where its version and role live in 3.x and 4.x, the
//! multi-cluster `Cluster` objects, and the v4 extension `InstallPlan`s.
//!
//! Facts (from the KubeSphere sources: kubesphere/ks-installer at
//! <https://github.com/kubesphere/ks-installer/tree/v3.4.1> and kubesphere/kubesphere at
//! <https://github.com/kubesphere/kubesphere/tree/v4.1.3>):
//! - 3.x: ClusterConfiguration `kubesphere-system/ks-installer` (`installer.kubesphere.io/v1alpha1`):
//!   `metadata.labels.version` is the installer's target, `status.core.version` what was installed.
//!   The `ks-core` Helm release's appVersion is *not* reliable on 3.x (v3.3.2 on 3.4.x).
//! - 4.x: the `ks-core` Helm release in `kubesphere-system`, appVersion `v4.…`.
//! - Role: ConfigMap `kubesphere-system/kubesphere-config`, `kubesphere.yaml` →
//!   `multicluster.clusterRole` (`host`, `member`, `none`); 3.x also in the cc spec.
//! - `clusters.cluster.kubesphere.io` is cluster-scoped and has **no status subresource**.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    error::{Error, Result},
    helm, list,
    version::Version,
};

/// KubeSphere's system namespace.
pub const SYSTEM_NAMESPACE: &str = "kubesphere-system";
/// Where v3 gateways and their Helm releases live.
pub const CONTROLS_NAMESPACE: &str = "kubesphere-controls-system";
/// The label that marks system-workspace namespaces.
pub const SYSTEM_WORKSPACE_SELECTOR: &str = "kubesphere.io/workspace=system-workspace";
/// The label on the host `Cluster` object.
pub const HOST_CLUSTER_LABEL: &str = "cluster-role.kubesphere.io/host";
/// The ks-core Helm release.
pub const KS_CORE_RELEASE: &str = "ks-core";
/// The v3 installer: its Deployment and the ClusterConfiguration it reads, both named so in
/// [`SYSTEM_NAMESPACE`].
pub const INSTALLER: &str = "ks-installer";

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// `installer.kubesphere.io/v1alpha1` ClusterConfiguration (namespaced).
pub fn cluster_configuration_resource() -> ApiResource {
    resource(
        "installer.kubesphere.io",
        "v1alpha1",
        "ClusterConfiguration",
        "clusterconfigurations",
    )
}

/// `cluster.kubesphere.io/v1alpha1` Cluster (cluster-scoped, no status subresource).
pub fn cluster_resource() -> ApiResource {
    resource("cluster.kubesphere.io", "v1alpha1", "Cluster", "clusters")
}

/// `kubesphere.io/v1alpha1` InstallPlan (cluster-scoped).
pub fn install_plan_resource() -> ApiResource {
    resource("kubesphere.io", "v1alpha1", "InstallPlan", "installplans")
}

/// The cluster's role in a KubeSphere federation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The host cluster.
    Host,
    /// A member cluster.
    Member,
    /// Single cluster (`none`), which upgrades as a host.
    None,
    /// KubeSphere is present but the role could not be read.
    Unknown,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::Member => "member",
            Self::None => "none",
            Self::Unknown => "unknown",
        })
    }
}

/// What the cluster runs of KubeSphere.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSphere {
    /// The running version, when KubeSphere is installed.
    pub version: Option<Version>,
    /// Where the version was read.
    pub source: String,
    /// ks-installer's target (`metadata.labels.version` of the cc), 3.x only.
    pub installer_target: Option<Version>,
    /// The role.
    pub role: Role,
    /// The ClusterConfiguration exists.
    pub has_cluster_configuration: bool,
    /// The latest ks-core revision (status from its labels).
    pub ks_core: Option<helm::Revision>,
    /// The newest deployed ks-core revision's chart version and appVersion.
    pub ks_core_chart: Option<helm::ChartMetadata>,
    /// The newest deployed ks-core revision exists but its payload cannot be decoded: the
    /// version cannot be told from it (the ClusterConfiguration outlives the v4 migration, so
    /// it is no fallback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_core_unreadable: Option<UnreadableRelease>,
}

/// A Helm release revision whose storage object does not decode.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreadableRelease {
    /// The Secret (or ConfigMap) holding it.
    pub object: String,
    /// The revision.
    pub revision: u32,
    /// Why it cannot be read.
    pub reason: String,
}

impl KubeSphere {
    /// True when some KubeSphere was found.
    pub fn installed(&self) -> bool {
        self.version.is_some() || self.has_cluster_configuration || self.ks_core.is_some()
    }

    /// True on 4.x.
    pub fn is_v4(&self) -> bool {
        self.version.as_ref().is_some_and(|v| v.major >= 4)
    }
}

/// Reads one field path from a dynamic object's JSON.
pub fn field<'a>(obj: &'a DynamicObject, path: &[&str]) -> Option<&'a Value> {
    let mut cur = &obj.data;
    for p in path {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// Reads a string field.
pub fn field_str<'a>(obj: &'a DynamicObject, path: &[&str]) -> Option<&'a str> {
    field(obj, path).and_then(Value::as_str)
}

/// Gets the ClusterConfiguration `kubesphere-system/ks-installer`, `None` when absent (or its
/// CRD is not installed).
pub async fn cluster_configuration(client: &kube::Client) -> Result<Option<DynamicObject>> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        SYSTEM_NAMESPACE,
        &cluster_configuration_resource(),
    );
    list::get_opt(
        &api,
        INSTALLER,
        &format!("get ClusterConfiguration `{SYSTEM_NAMESPACE}/{INSTALLER}`"),
    )
    .await
}

/// Gets the Deployment `kubesphere-system/ks-installer`, `None` when absent.
pub async fn installer_deployment(
    client: &kube::Client,
) -> Result<Option<k8s_openapi::api::apps::v1::Deployment>> {
    let api = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    list::get_opt(
        &api,
        INSTALLER,
        &format!("get Deployment `{SYSTEM_NAMESPACE}/{INSTALLER}`"),
    )
    .await
}

/// Reads `multicluster.clusterRole` from `kubesphere-config`, `None` when the ConfigMap is
/// absent.
pub async fn configured_role(client: &kube::Client) -> Result<Option<Role>> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let Some(cm) = list::get_opt(
        &api,
        "kubesphere-config",
        "get ConfigMap `kubesphere-system/kubesphere-config`",
    )
    .await?
    else {
        return Ok(None);
    };
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get("kubesphere.yaml"))
        .cloned()
        .unwrap_or_default();
    Ok(Some(role_from_config(&text)))
}

/// Parses the role from `kubesphere.yaml` text.
pub fn role_from_config(text: &str) -> Role {
    let parsed: Value = match serde_saphyr::from_str(text) {
        Ok(v) => v,
        Err(_) => return Role::Unknown,
    };
    match parsed
        .pointer("/multicluster/clusterRole")
        .and_then(Value::as_str)
    {
        Some("host") => Role::Host,
        Some("member") => Role::Member,
        Some("none") | Some("") => Role::None,
        _ => Role::Unknown,
    }
}

/// Detects KubeSphere's version and role.
pub async fn detect(client: &kube::Client) -> Result<KubeSphere> {
    detect_with_configuration(client).await.map(|(ks, _)| ks)
}

/// [`detect`], also returning the ClusterConfiguration it read (`None` when absent), for a
/// caller that needs more of it than detection does.
pub async fn detect_with_configuration(
    client: &kube::Client,
) -> Result<(KubeSphere, Option<DynamicObject>)> {
    let (cc, revisions, config_role) = futures::try_join!(
        cluster_configuration(client),
        helm::list_revisions(client, Some(SYSTEM_NAMESPACE), Some(KS_CORE_RELEASE), false),
        configured_role(client),
    )?;
    let ks_core = helm::latest(&revisions).first().map(|r| (*r).clone());
    let mut ks_core_chart = None;
    let mut ks_core_unreadable = None;
    if let Some(deployed) = helm::last_deployed(&revisions, SYSTEM_NAMESPACE, KS_CORE_RELEASE) {
        match helm::read_release(client, deployed).await {
            Ok(release) => ks_core_chart = Some(release.chart.metadata),
            // A corrupt payload is a finding, not a reason to stop: the role and the members can
            // still be read. API errors (403 on the Secret) end detection like any other read.
            Err(Error::Parse { reason, .. }) => {
                ks_core_unreadable = Some(UnreadableRelease {
                    object: deployed.object.clone(),
                    revision: deployed.revision,
                    reason,
                })
            }
            Err(e) => return Err(e),
        }
    }
    let v4 = ks_core_chart
        .as_ref()
        .and_then(|c| c.app_version.parse::<Version>().ok())
        .filter(|v| v.major >= 4);
    let installer_target = cc.as_ref().and_then(|o| {
        o.metadata
            .labels
            .as_ref()?
            .get("version")?
            .parse::<Version>()
            .ok()
    });
    let installed_v3 = cc.as_ref().and_then(|o| {
        field_str(o, &["status", "core", "version"])?
            .parse::<Version>()
            .ok()
    });
    let (version, source) = match (v4, installed_v3, &installer_target) {
        (Some(v), _, _) => (Some(v), "ks-core Helm release appVersion".to_string()),
        (None, _, _) if ks_core_unreadable.is_some() => (
            None,
            "unknown: the deployed ks-core release cannot be decoded".to_string(),
        ),
        (None, Some(v), _) => (
            Some(v),
            "ClusterConfiguration status.core.version".to_string(),
        ),
        (None, None, Some(t)) => (
            Some(t.clone()),
            "ClusterConfiguration metadata.labels.version".to_string(),
        ),
        _ => (None, String::new()),
    };
    let cc_role = cc
        .as_ref()
        .and_then(|o| field_str(o, &["spec", "multicluster", "clusterRole"]))
        .map(|r| match r {
            "host" => Role::Host,
            "member" => Role::Member,
            "none" | "" => Role::None,
            _ => Role::Unknown,
        });
    let role = match (config_role, cc_role) {
        (Some(r), _) if r != Role::Unknown => r,
        (_, Some(r)) => r,
        (Some(r), None) => r,
        (None, None) => Role::Unknown,
    };
    let ks = KubeSphere {
        version,
        source,
        installer_target,
        role,
        has_cluster_configuration: cc.is_some(),
        ks_core,
        ks_core_chart,
        ks_core_unreadable,
    };
    Ok((ks, cc))
}

/// A `Cluster` object's condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCondition {
    /// Type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// Reason.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A KubeSphere `Cluster`, as the host sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Name.
    pub name: String,
    /// True for the host (label `cluster-role.kubesphere.io/host`).
    pub host: bool,
    /// `status.kubeSphereVersion`.
    pub kubesphere_version: Option<String>,
    /// `status.kubernetesVersion`.
    pub kubernetes_version: Option<String>,
    /// Conditions.
    pub conditions: Vec<ClusterCondition>,
    /// resourceVersion when read.
    #[serde(skip)]
    pub resource_version: Option<String>,
}

impl ClusterInfo {
    /// Reads a Cluster object, tolerating missing status.
    pub fn from_object(obj: &DynamicObject) -> Self {
        let conditions = field(obj, &["status", "conditions"])
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| ClusterCondition {
                        type_: c
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        status: c
                            .get("status")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        reason: c
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        message: c
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            name: obj.metadata.name.clone().unwrap_or_default(),
            host: obj
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(HOST_CLUSTER_LABEL)),
            kubesphere_version: field_str(obj, &["status", "kubeSphereVersion"])
                .map(str::to_string),
            kubernetes_version: field_str(obj, &["status", "kubernetesVersion"])
                .map(str::to_string),
            conditions,
            resource_version: obj.metadata.resource_version.clone(),
        }
    }

    /// The condition of a type.
    pub fn condition(&self, type_: &str) -> Option<&ClusterCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// `Ready=True`.
    pub fn is_ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }

    /// Carries a `Schedulable` condition with status `False` (the v4 upgrade's taint).
    pub fn is_unschedulable(&self) -> bool {
        self.condition("Schedulable")
            .is_some_and(|c| c.status == "False")
    }
}

/// Lists the KubeSphere `Cluster` objects; `None` when the CRD is not served (not a host).
pub async fn clusters(client: &kube::Client) -> Result<Option<Vec<ClusterInfo>>> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_resource());
    match list::list_all(
        &api,
        &ListParams::default(),
        "list clusters.cluster.kubesphere.io",
    )
    .await
    {
        Ok(objs) => Ok(Some(objs.iter().map(ClusterInfo::from_object).collect())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_comes_from_kubesphere_yaml() {
        assert_eq!(
            role_from_config("multicluster:\n  clusterRole: host\n"),
            Role::Host
        );
        assert_eq!(
            role_from_config("multicluster:\n  clusterRole: member\n  hostClusterName: h\n"),
            Role::Member
        );
        assert_eq!(
            role_from_config("multicluster:\n  clusterRole: none\n"),
            Role::None
        );
        assert_eq!(role_from_config("authentication: {}\n"), Role::Unknown);
        assert_eq!(role_from_config(": : not yaml ["), Role::Unknown);
    }

    #[test]
    fn cluster_objects_without_status_are_read_safely() {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "m1"}
        }))
        .unwrap();
        let c = ClusterInfo::from_object(&obj);
        assert_eq!(c.name, "m1");
        assert!(!c.host && !c.is_ready() && !c.is_unschedulable());

        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "host", "labels": {"cluster-role.kubesphere.io/host": ""}},
            "status": {"kubeSphereVersion": "v4.1.3", "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Schedulable", "status": "False", "reason": "Upgrading", "message": "Not schedulable now"}]}
        }))
        .unwrap();
        let c = ClusterInfo::from_object(&obj);
        assert!(c.host && c.is_ready() && c.is_unschedulable());
        assert_eq!(c.kubesphere_version.as_deref(), Some("v4.1.3"));
    }
}
