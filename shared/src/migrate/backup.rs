//! The backup taken before any change: the same set upstream's `upgrade.sh` saves, as YAML
//! files of mode 0600 in a directory of mode 0700 (Secrets are in it), plus `manifest.json`
//! naming every file with its object count and sha256.
//!
//! Upstream (https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/, the backup step) saves, per namespace
//! labelled `kubesphere.io/workspace=system-workspace` plus `kubesphere-devops-worker`, the
//! configmaps, secrets, statefulsets, deployments and daemonsets (`backup-<ns>.yaml`); the
//! ClusterConfiguration (`backup-cc.yaml`); the IAM and tenant objects and the namespaces
//! (`backup-iam-*.yaml`, `backup-tenant-*.yaml`, `backup-namespaces.yaml`). Beyond upstream's
//! set, `backup-redis.yaml` holds the redis objects the migration deletes that the per-namespace
//! set lacks (the Service and the PVC), so that `rollback` can recreate them. Each file here is a
//! `v1` `List`, which `kubectl apply -f` restores.

use std::path::{Path, PathBuf};

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, StatefulSet},
    core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use kube::{
    Api,
    api::{ApiResource, DynamicObject, ListParams},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::local::{now, write_private};
use crate::{
    error::{Error, Result},
    kubesphere::{SYSTEM_NAMESPACE, SYSTEM_WORKSPACE_SELECTOR, cluster_configuration_resource},
    list,
};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The file of the redis objects the per-namespace set lacks.
pub const REDIS_FILE: &str = "backup-redis.yaml";

/// One saved file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// File name inside the backup directory.
    pub file: String,
    /// Objects in it.
    pub objects: usize,
    /// Hex sha256 of the file's bytes.
    pub sha256: String,
    /// What it holds (`configmaps, secrets, … in kubesphere-system`).
    pub holds: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: String,
    /// `MigrateBackup`.
    pub kind: String,
    /// When it was taken.
    pub created_at: String,
    /// The API server it was read from.
    pub server: String,
    /// Files.
    pub files: Vec<FileEntry>,
    /// Resource types that were not served and so not saved.
    #[serde(default)]
    pub not_served: Vec<String>,
    /// The cluster it was taken from and its ks-core revision then (what `rollback` checks
    /// and returns to); absent in backups of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<super::identity::Identity>,
}

impl Manifest {
    /// Total objects saved.
    pub fn objects(&self) -> usize {
        self.files.iter().map(|f| f.objects).sum()
    }
}

/// Hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a backup directory against its manifest: every file exists with the recorded sha256
/// and object count. Returns the problems found (empty when all is well).
pub fn verify(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| Error::parse(path.display().to_string(), e))?;
    let mut problems = Vec::new();
    for f in &manifest.files {
        let p = dir.join(&f.file);
        match std::fs::read(&p) {
            Ok(bytes) => {
                if sha256_hex(&bytes) != f.sha256 {
                    problems.push(format!("{}: sha256 differs from the manifest", f.file));
                }
                let n = serde_saphyr::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("items").and_then(Value::as_array).map(Vec::len));
                if n != Some(f.objects) {
                    problems.push(format!(
                        "{}: {} objects, the manifest says {}",
                        f.file,
                        n.map_or("unreadable".into(), |n| n.to_string()),
                        f.objects
                    ));
                }
            }
            Err(e) => problems.push(format!("{}: {e}", f.file)),
        }
    }
    Ok(problems)
}

/// What to save into one file.
#[derive(Debug, Clone)]
pub struct Source {
    /// File name.
    pub file: String,
    /// Resource types, each with an optional namespace.
    pub parts: Vec<(Kind, Option<String>)>,
    /// Description for the manifest.
    pub holds: String,
}

/// A resource type to save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// configmaps.
    ConfigMaps,
    /// secrets.
    Secrets,
    /// statefulsets.
    StatefulSets,
    /// deployments.
    Deployments,
    /// daemonsets.
    DaemonSets,
    /// The ClusterConfiguration ks-installer (only that object).
    ClusterConfiguration,
    /// namespaces.
    Namespaces,
    /// rbac roles (all namespaces).
    Roles,
    /// rbac rolebindings (all namespaces).
    RoleBindings,
    /// clusterroles.
    ClusterRoles,
    /// clusterrolebindings.
    ClusterRoleBindings,
    /// A KubeSphere CRD resource: group and plural.
    Custom(&'static str, &'static str),
    /// One core object, by kind (`Service`, `PersistentVolumeClaim`) and name, in the part's
    /// namespace.
    Object(&'static str, &'static str),
}

/// The types saved per namespace, in order.
const NAMESPACE_KINDS: [Kind; 5] = [
    Kind::ConfigMaps,
    Kind::Secrets,
    Kind::StatefulSets,
    Kind::Deployments,
    Kind::DaemonSets,
];

impl Kind {
    /// The object kind of a per-namespace type (`ConfigMap` for configmaps).
    fn object_kind(self) -> Option<&'static str> {
        Some(match self {
            Self::ConfigMaps => "ConfigMap",
            Self::Secrets => "Secret",
            Self::StatefulSets => "StatefulSet",
            Self::Deployments => "Deployment",
            Self::DaemonSets => "DaemonSet",
            _ => return None,
        })
    }

    fn describe(self) -> String {
        match self {
            Self::ConfigMaps => "configmaps".into(),
            Self::Secrets => "secrets".into(),
            Self::StatefulSets => "statefulsets".into(),
            Self::Deployments => "deployments".into(),
            Self::DaemonSets => "daemonsets".into(),
            Self::ClusterConfiguration => "clusterconfiguration ks-installer".into(),
            Self::Namespaces => "namespaces".into(),
            Self::Roles => "roles".into(),
            Self::RoleBindings => "rolebindings".into(),
            Self::ClusterRoles => "clusterroles".into(),
            Self::ClusterRoleBindings => "clusterrolebindings".into(),
            Self::Custom(g, p) => format!("{p}.{g}"),
            Self::Object(k, n) => format!("{} {n}", k.to_ascii_lowercase()),
        }
    }
}

/// The IAM and tenant sets upstream saves, file by file.
pub fn cluster_sources() -> Vec<Source> {
    let one = |file: &str, kind: Kind| Source {
        file: file.into(),
        parts: vec![(kind, None)],
        holds: kind.describe(),
    };
    vec![
        one("backup-cc.yaml", Kind::ClusterConfiguration),
        one(
            "backup-iam-users.yaml",
            Kind::Custom("iam.kubesphere.io", "users"),
        ),
        one(
            "backup-iam-globalroles.yaml",
            Kind::Custom("iam.kubesphere.io", "globalroles"),
        ),
        one(
            "backup-iam-globalrolebindings.yaml",
            Kind::Custom("iam.kubesphere.io", "globalrolebindings"),
        ),
        one("backup-iam-roles.yaml", Kind::Roles),
        one("backup-iam-rolebindings.yaml", Kind::RoleBindings),
        one(
            "backup-iam-workspaceroles.yaml",
            Kind::Custom("iam.kubesphere.io", "workspaceroles"),
        ),
        one(
            "backup-iam-workspacerolebindings.yaml",
            Kind::Custom("iam.kubesphere.io", "workspacerolebindings"),
        ),
        one("backup-iam-clusterroles.yaml", Kind::ClusterRoles),
        one(
            "backup-iam-clusterrolebindings.yaml",
            Kind::ClusterRoleBindings,
        ),
        one(
            "backup-iam-groups.yaml",
            Kind::Custom("iam.kubesphere.io", "groups"),
        ),
        one(
            "backup-iam-groupbindings.yaml",
            Kind::Custom("iam.kubesphere.io", "groupbindings"),
        ),
        one(
            "backup-tenant-workspacetemplates.yaml",
            Kind::Custom("tenant.kubesphere.io", "workspacetemplates"),
        ),
        one(
            "backup-tenant-workspaces.yaml",
            Kind::Custom("tenant.kubesphere.io", "workspaces"),
        ),
        one("backup-namespaces.yaml", Kind::Namespaces),
    ]
}

/// The per-namespace set: configmaps, secrets, statefulsets, deployments, daemonsets.
pub fn namespace_source(ns: &str) -> Source {
    Source {
        file: format!("backup-{ns}.yaml"),
        parts: NAMESPACE_KINDS
            .iter()
            .map(|k| (*k, Some(ns.to_string())))
            .collect(),
        holds: format!("configmaps, secrets, statefulsets, deployments, daemonsets in {ns}"),
    }
}

/// The redis objects `remove-redis` deletes ([`super::steps::REDIS_OBJECTS`]) of kinds the
/// per-namespace set does not save: the Service and the PVC, each when present.
pub fn redis_source() -> Source {
    let parts: Vec<(Kind, Option<String>)> = super::steps::REDIS_OBJECTS
        .iter()
        .filter(|(kind, _)| {
            !NAMESPACE_KINDS
                .iter()
                .any(|k| k.object_kind() == Some(*kind))
        })
        .map(|(kind, name)| (Kind::Object(kind, name), Some(SYSTEM_NAMESPACE.to_string())))
        .collect();
    let holds = parts
        .iter()
        .map(|(k, _)| k.describe())
        .collect::<Vec<_>>()
        .join(", ");
    Source {
        file: REDIS_FILE.into(),
        parts,
        holds: format!("{holds} in {SYSTEM_NAMESPACE} (when present)"),
    }
}

/// The namespaces upstream backs up: system-workspace ones plus `kubesphere-devops-worker`
/// (when it exists).
pub async fn namespaces(client: &kube::Client) -> Result<Vec<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut names: Vec<String> = list::list_all_metadata(
        &api,
        &ListParams::default().labels(SYSTEM_WORKSPACE_SELECTOR),
        "list system-workspace namespaces",
    )
    .await?
    .into_iter()
    .filter_map(|m| m.metadata.name)
    .collect();
    if list::get_opt(
        &api,
        "kubesphere-devops-worker",
        "get namespace `kubesphere-devops-worker`",
    )
    .await?
    .is_some()
    {
        names.push("kubesphere-devops-worker".into());
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Every source of a backup.
pub async fn sources(client: &kube::Client) -> Result<Vec<Source>> {
    let mut out: Vec<Source> = namespaces(client)
        .await?
        .iter()
        .map(|ns| namespace_source(ns))
        .collect();
    out.push(redis_source());
    out.extend(cluster_sources());
    Ok(out)
}

/// Resolves a kind to its ApiResource; `None` when the cluster does not serve it.
async fn resource(client: &kube::Client, kind: Kind) -> Result<Option<ApiResource>> {
    Ok(Some(match kind {
        Kind::ConfigMaps => ApiResource::erase::<ConfigMap>(&()),
        Kind::Secrets => ApiResource::erase::<Secret>(&()),
        Kind::StatefulSets => ApiResource::erase::<StatefulSet>(&()),
        Kind::Deployments => ApiResource::erase::<Deployment>(&()),
        Kind::DaemonSets => ApiResource::erase::<DaemonSet>(&()),
        Kind::Namespaces => ApiResource::erase::<Namespace>(&()),
        Kind::Roles => ApiResource::erase::<Role>(&()),
        Kind::RoleBindings => ApiResource::erase::<RoleBinding>(&()),
        Kind::ClusterRoles => ApiResource::erase::<ClusterRole>(&()),
        Kind::ClusterRoleBindings => ApiResource::erase::<ClusterRoleBinding>(&()),
        Kind::ClusterConfiguration => cluster_configuration_resource(),
        Kind::Object("Service", _) => ApiResource::erase::<Service>(&()),
        Kind::Object("PersistentVolumeClaim", _) => {
            ApiResource::erase::<PersistentVolumeClaim>(&())
        }
        Kind::Object(kind, _) => {
            return Err(Error::usage(format!(
                "the backup cannot save a single {kind} (only a Service or a PersistentVolumeClaim)"
            )));
        }
        Kind::Custom(group, plural) => {
            let g = match kube::discovery::group(client, group).await {
                Ok(g) => g,
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
                Err(e) => return Err(Error::api(format!("discover API group `{group}`"), e)),
            };
            // Across versions: tenant's Workspace is served only at v1alpha1 on v3.4, while
            // the group's preferred version is v1alpha2.
            match g
                .resources_by_stability()
                .into_iter()
                .find(|(r, _)| r.plural == plural)
            {
                Some((r, _)) => r,
                None => return Ok(None),
            }
        }
    }))
}

/// Reads the objects of one part, ready to save (kind and apiVersion set, managedFields
/// dropped). `None` when the type is not served.
async fn read_part(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
) -> Result<Option<Vec<Value>>> {
    let Some(ar) = resource(client, kind).await? else {
        return Ok(None);
    };
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let one = match kind {
        Kind::ClusterConfiguration => Some((SYSTEM_NAMESPACE, crate::kubesphere::INSTALLER)),
        Kind::Object(_, name) => Some((namespace.unwrap_or(SYSTEM_NAMESPACE), name)),
        _ => None,
    };
    let objects: Vec<DynamicObject> = if let Some((ns, name)) = one {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        match list::retry_read(&format!("get {} `{ns}/{name}`", ar.kind), || api.get(name)).await {
            Ok(o) => vec![o],
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        }
    } else {
        let where_ = namespace.map(|n| format!(" in `{n}`")).unwrap_or_default();
        list::list_all(
            &api,
            &ListParams::default(),
            &format!("list {}{where_}", kind.describe()),
        )
        .await?
    };
    Ok(Some(
        objects
            .into_iter()
            .map(|o| {
                let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
                if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("managedFields");
                }
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("apiVersion".into(), json!(ar.api_version));
                    obj.insert("kind".into(), json!(ar.kind));
                }
                v
            })
            .collect(),
    ))
}

/// The result of reading one source.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The source.
    pub source: Source,
    /// The objects (a `List`'s items).
    pub items: Vec<Value>,
    /// Types not served.
    pub not_served: Vec<String>,
}

/// Reads one source.
pub async fn collect(client: &kube::Client, source: &Source) -> Result<Collected> {
    let mut items = Vec::new();
    let mut not_served = Vec::new();
    for (kind, ns) in &source.parts {
        match read_part(client, *kind, ns.as_deref()).await? {
            Some(objs) => items.extend(objs),
            None => not_served.push(kind.describe()),
        }
    }
    Ok(Collected {
        source: source.clone(),
        items,
        not_served,
    })
}

/// Renders a collected source as a `v1` `List` in YAML.
pub fn render(c: &Collected) -> Result<String> {
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": c.items});
    crate::output::to_yaml(&list)
}

/// Writes the files and the manifest. `dir` must exist (see [`create_private_dir`](super::local::create_private_dir)).
pub fn write(dir: &Path, collected: &[Collected], server: &str) -> Result<Manifest> {
    write_with(dir, collected, server, None)
}

/// [`write`], recording the cluster's identity in the manifest.
pub fn write_with(
    dir: &Path,
    collected: &[Collected],
    server: &str,
    identity: Option<super::identity::Identity>,
) -> Result<Manifest> {
    let mut files = Vec::new();
    let mut not_served = Vec::new();
    for c in collected {
        let text = render(c)?;
        write_private(&dir.join(&c.source.file), text.as_bytes())?;
        files.push(FileEntry {
            file: c.source.file.clone(),
            objects: c.items.len(),
            sha256: sha256_hex(text.as_bytes()),
            holds: c.source.holds.clone(),
        });
        not_served.extend(c.not_served.iter().cloned());
    }
    not_served.sort();
    not_served.dedup();
    let manifest = Manifest {
        api_version: "kupgrade.dev/v1alpha1".into(),
        kind: "MigrateBackup".into(),
        created_at: now(),
        server: server.to_string(),
        files,
        not_served,
        identity,
    };
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::parse("backup manifest", e))?;
    write_private(&dir.join(MANIFEST), text.as_bytes())?;
    Ok(manifest)
}

/// The default backup directory, `./ks-migrate-backup-<YYYYmmdd-HHMMSS>`.
pub fn default_dir() -> PathBuf {
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
    PathBuf::from(format!("ks-migrate-backup-{stamp}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_the_manifest_checks_out() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        super::super::local::create_private_dir(&dir).unwrap();
        let c = Collected {
            source: namespace_source("kubesphere-system"),
            items: vec![
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            ],
            not_served: vec![],
        };
        let m = write(&dir, &[c], "https://x").unwrap();
        assert_eq!(m.objects(), 2);
        assert_eq!(m.files[0].file, "backup-kubesphere-system.yaml");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join("backup-kubesphere-system.yaml")), 0o600);
            assert_eq!(mode(&dir.join(MANIFEST)), 0o600);
        }
        assert!(verify(&dir).unwrap().is_empty());
        // Tampering is caught.
        std::fs::write(dir.join("backup-kubesphere-system.yaml"), "items: []\n").unwrap();
        let problems = verify(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn the_upstream_set_is_covered() {
        let files: Vec<String> = cluster_sources().into_iter().map(|s| s.file).collect();
        for f in [
            "backup-cc.yaml",
            "backup-iam-users.yaml",
            "backup-iam-clusterrolebindings.yaml",
            "backup-tenant-workspaces.yaml",
            "backup-namespaces.yaml",
        ] {
            assert!(files.contains(&f.to_string()), "{f}");
        }
        assert_eq!(files.len(), 15);
        assert_eq!(namespace_source("x").parts.len(), 5);
        // The redis objects remove-redis deletes that the per-namespace set lacks.
        let redis = redis_source();
        assert_eq!(redis.file, REDIS_FILE);
        assert_eq!(
            redis.parts,
            [
                (
                    Kind::Object("Service", "redis"),
                    Some("kubesphere-system".to_string())
                ),
                (
                    Kind::Object("PersistentVolumeClaim", "redis-pvc"),
                    Some("kubesphere-system".to_string())
                ),
            ]
        );
        assert_eq!(
            redis.holds,
            "service redis, persistentvolumeclaim redis-pvc in kubesphere-system (when present)"
        );
        assert!(sha256_hex(b"").starts_with("e3b0c442"));
    }
}
