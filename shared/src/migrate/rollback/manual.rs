//! What a rollback cannot undo, each with its manual step.

use super::*;

/// One thing the rollback leaves, with its manual step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manual {
    /// What is left.
    pub what: String,
    /// Why it is not undone.
    pub why: String,
    /// The exact manual step.
    pub step: String,
}

pub(super) fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// What the rollback leaves, each with its manual step.
pub async fn cannot_undo(client: &kube::Client, b: &Backup) -> Result<Vec<Manual>> {
    let mut out = Vec::new();
    // CRDs: the migration's chart moved storage versions and added v4 kinds; helm never
    // rolls back CRDs.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let taken = parse_time(&b.manifest.created_at);
    let mut saved_versions: std::collections::BTreeMap<(String, String), String> =
        Default::default();
    for (_, items) in &b.files {
        for o in items {
            let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            if let Some((g, v)) = av.split_once('/')
                && g.ends_with("kubesphere.io")
            {
                saved_versions.insert((g.to_string(), kind.to_string()), v.to_string());
            }
        }
    }
    for crd in list::list_all(
        &crds,
        &ListParams::default(),
        "list CustomResourceDefinitions",
    )
    .await?
    {
        let name = crd.metadata.name.clone().unwrap_or_default();
        if !crd.spec.group.ends_with("kubesphere.io") {
            continue;
        }
        let created = crd
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| jiff::Timestamp::from_second(t.0.as_second()).unwrap_or_default());
        if let (Some(c), Some(t)) = (created, taken)
            && c >= t
        {
            out.push(Manual {
                what: format!("CRD {name}"),
                why: "added by the migration (a v4 kind); v3 does not use it".into(),
                step: format!(
                    "once nothing needs its objects: kubectl delete crd {name} (this deletes every {} object)",
                    crd.spec.names.kind
                ),
            });
            continue;
        }
        let storage = crd
            .spec
            .versions
            .iter()
            .find(|v| v.storage)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        if let Some(v3) = saved_versions.get(&(crd.spec.group.clone(), crd.spec.names.kind.clone()))
            && *v3 != storage
        {
            out.push(Manual {
                what: format!("CRD {name}"),
                why: format!(
                    "stores its objects at {storage} since the migration; v3 reads {v3}, and helm never rolls CRDs back"
                ),
                step: format!(
                    "make {v3} served and the storage version again (kubectl edit crd {name}: versions {v3} served: true, storage: true; {storage} storage: false), rewrite every object (kubectl get {plural}.{group} -A -o json | kubectl replace -f -), then kubectl patch crd {name} --subresource=status --type=merge -p '{{\"status\":{{\"storedVersions\":[\"{v3}\"]}}}}' ({STORAGE_VERSION_DOCS})",
                    plural = crd.spec.names.plural,
                    group = crd.spec.group,
                ),
            });
        }
    }
    // The extensions ks-upgrade installed, with the v3 data moved into them.
    let ip = ApiResource {
        group: "kubesphere.io".into(),
        version: "v1alpha1".into(),
        api_version: "kubesphere.io/v1alpha1".into(),
        kind: "InstallPlan".into(),
        plural: "installplans".into(),
    };
    let ips: Api<DynamicObject> = Api::all_with(client.clone(), &ip);
    if let Ok(list) = ips.list(&ListParams::default()).await {
        for p in list.items {
            let name = p.metadata.name.unwrap_or_default();
            out.push(Manual {
                what: format!("extension {name}"),
                why: "installed by the migration's ks-upgrade Jobs, holding the data they moved from v3; removing it deletes that data".into(),
                step: format!(
                    "after saving what you need from it: kubectl delete installplan.kubesphere.io {name} (uninstalls the extension)"
                ),
            });
        }
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    if list::get_opt(
        &pvcs,
        "ks-upgrade",
        "get PVC `kubesphere-system/ks-upgrade`",
    )
    .await?
    .is_some()
    {
        out.push(Manual {
            what: "PVC kubesphere-system/ks-upgrade".into(),
            why: "holds the v3 data ks-upgrade exported for the extensions".into(),
            step: "keep it until the v3 cluster is checked, then: kubectl -n kubesphere-system delete pvc ks-upgrade".into(),
        });
    }
    // The redis objects a backup of an older ks-migrate (without backup-redis.yaml) lacks.
    let has_redis_file = b
        .manifest
        .files
        .iter()
        .any(|f| f.file == backup::REDIS_FILE);
    for (kind, name) in steps::REDIS_OBJECTS {
        if has_redis_file || b.redis(kind, name).is_some() {
            continue;
        }
        let gone = match *kind {
            "Service" => {
                let api: Api<Service> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
                list::get_opt(&api, name, "get Service `kubesphere-system/redis`")
                    .await?
                    .is_none()
            }
            "PersistentVolumeClaim" => {
                list::get_opt(&pvcs, name, "get PVC `kubesphere-system/redis-pvc`")
                    .await?
                    .is_none()
            }
            _ => false,
        };
        if gone {
            let lower = kind.to_ascii_lowercase();
            out.push(Manual {
                what: format!("{kind} kubesphere-system/{name}"),
                why: format!(
                    "removed by the migration and not in this backup (an older ks-migrate did not write {}; a PVC's data went with it)",
                    backup::REDIS_FILE
                ),
                step: format!(
                    "recreate it from your v3.4 install's redis manifest (kubectl -n kubesphere-system apply -f redis-{lower}.yaml), or restore the etcd snapshot"
                ),
            });
        }
    }
    // The data of a backed-up claim whose volume went with it.
    for (kind, name) in steps::REDIS_OBJECTS {
        let Some(saved) = b
            .redis(kind, name)
            .filter(|_| *kind == "PersistentVolumeClaim")
        else {
            continue;
        };
        let volume = saved
            .pointer("/spec/volumeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        if volume.is_empty()
            || list::get_opt(&pvs, volume, &format!("get PersistentVolume `{volume}`"))
                .await?
                .is_some()
        {
            continue;
        }
        out.push(Manual {
            what: format!("the data of PVC kubesphere-system/{name}"),
            why: format!(
                "its volume {volume} is gone (under reclaim policy Delete a volume is deleted with its claim); the claim is restored with a new, empty volume"
            ),
            step: format!(
                "restore the volume's data from a backup of it, if there is one (an etcd snapshot holds no volume data); {name} holds redis' data, which KubeSphere uses as its cache"
            ),
        });
    }
    out.push(Manual {
        what: "everything above at once".into(),
        why: "the only complete rollback is the cluster's state before the migration".into(),
        step: format!(
            "restore the etcd snapshot taken before the migration, as the kubeadm and Rancher upgrade guides do: {}",
            SNAPSHOT_DOCS.join(" ; ")
        ),
    });
    Ok(out)
}
