//! Putting objects back as the backup has them: the etcd endpoints, the redis objects and
//! their volume claims, the IAM and tenant objects, and ks-installer's replicas.

use super::*;
use crate::kubesphere::INSTALLER;
use crate::migrate::steps::installer::Scaled;

/// The annotations the PV controller and the scheduler write on a claim as they bind it
/// (`AnnBindCompleted`, `AnnBoundByController`, `AnnSelectedNode`, `AnnStorageProvisioner` and its
/// beta form in
/// <https://github.com/kubernetes/kubernetes/blob/v1.30.0/pkg/controller/volume/persistentvolume/util/util.go>):
/// they describe the volume a claim had, not the claim.
pub const CLAIM_BIND_ANNOTATIONS: &[&str] = &[
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
];

/// An object as compared with its backup: no apiVersion (the served version may have moved),
/// no status, none of the fields the API server owns, nor those the cluster assigns when the
/// object is created or bound: a Service's `clusterIP`/`clusterIPs` (the address a deleted
/// Service had may be another's by now; a headless Service's `None` stays), a claim's
/// `volumeName` and [`CLAIM_BIND_ANNOTATIONS`] (the volume it had may be gone).
pub fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let core = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_none_or(|a| a == "v1");
    if let Some(o) = v.as_object_mut() {
        o.remove("apiVersion");
        o.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            m.remove(k);
        }
        if core && kind == "PersistentVolumeClaim" {
            if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
                for k in CLAIM_BIND_ANNOTATIONS {
                    a.remove(*k);
                }
            }
            if m.get("annotations")
                .and_then(Value::as_object)
                .is_some_and(|a| a.is_empty())
            {
                m.remove("annotations");
            }
        }
    }
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        match kind.as_str() {
            "Service" if core && spec.get("clusterIP") != Some(&json!("None")) => {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
            "PersistentVolumeClaim" if core => {
                spec.remove("volumeName");
            }
            _ => {}
        }
    }
    v
}

/// What is applied: the backup's object without resourceVersion, uid and the other
/// server-owned fields, at `api_version`.
pub fn to_apply(saved: &Value, api_version: &str) -> Value {
    let mut v = comparable(saved);
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), json!(api_version));
    }
    v
}

/// The difference between the live object and the backup's, as JSON patch operations (live →
/// backup), one per line.
pub fn diff_lines(live: &Value, saved: &Value) -> Vec<String> {
    let patch = json_patch::diff(&comparable(live), &comparable(saved));
    patch
        .0
        .iter()
        .map(|op| serde_json::to_string(op).unwrap_or_default())
        .collect()
}

/// The JSON patch that puts the ClusterConfiguration's `spec.etcd.endpointIps` back as the
/// backup has it, or `None` when it already is.
pub fn etcd_restore_patch(saved: &Value, live: &Value) -> Option<Value> {
    let s_etcd = saved.pointer("/spec/etcd");
    let l_etcd = live.pointer("/spec/etcd");
    let Some(s_etcd) = s_etcd else {
        return l_etcd.map(|_| json!([{"op": "remove", "path": "/spec/etcd"}]));
    };
    if l_etcd.is_none() {
        return Some(json!([{"op": "add", "path": "/spec/etcd", "value": s_etcd}]));
    }
    let s_ips = saved.pointer("/spec/etcd/endpointIps");
    let l_ips = live.pointer("/spec/etcd/endpointIps");
    if s_ips == l_ips {
        return None;
    }
    Some(match s_ips {
        None => json!([{"op": "remove", "path": "/spec/etcd/endpointIps"}]),
        Some(v) => json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": v}]),
    })
}

/// The API of a backed-up object's group and kind now: its own version when still served,
/// else the group's preferred one for that kind. `None` when the kind is not served.
pub(super) async fn served(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
) -> Result<Option<(ApiResource, bool)>> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let g = match kube::discovery::group(client, group).await {
        Ok(g) => g,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
        Err(e) => return Err(Error::api(format!("discover API group `{group}`"), e)),
    };
    let mut found = None;
    for v in g.versions() {
        for (ar, caps) in g.versioned_resources(v) {
            if ar.kind == kind && !ar.plural.contains('/') {
                let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
                if v == version {
                    return Ok(Some((ar, namespaced)));
                }
                if found.is_none() {
                    found = Some((ar, namespaced));
                }
            }
        }
    }
    Ok(found)
}

/// Puts one backed-up object back when it is missing or differs (server-side apply, without
/// resourceVersion or uid); the diff is recorded. Returns true when it was (or would be)
/// applied.
pub(super) async fn restore_object(ctx: &mut Ctx, saved: &Value) -> Result<bool> {
    let api_version = saved
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = saved
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = saved
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ns = saved.pointer("/metadata/namespace").and_then(Value::as_str);
    let what = steps::describe(kind, ns, name);
    let Some((ar, namespaced)) = served(&ctx.client, api_version, kind).await? else {
        ctx.note(format!(
            "{what}: {api_version} {kind} is no longer served, left as it is"
        ));
        return Ok(false);
    };
    let api: Api<DynamicObject> = match (namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(ctx.client.clone(), ns, &ar),
        _ => Api::all_with(ctx.client.clone(), &ar),
    };
    let live = match api.get(name).await {
        Ok(o) => Some(serde_json::to_value(&o).unwrap_or(Value::Null)),
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(e) => return Err(Error::api(format!("get {what}"), e)),
    };
    let want = to_apply(saved, &ar.api_version);
    match &live {
        Some(l) if comparable(l) == comparable(&want) => return Ok(false),
        Some(l) => {
            let lines = diff_lines(l, &want);
            ctx.note(format!(
                "{what} differs from the backup ({} change{}, live → backup):",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            ));
            for l in lines {
                ctx.note(format!("  {l}"));
            }
        }
        None => ctx.note(format!("{what} is missing")),
    }
    if ar.api_version != api_version {
        ctx.note(format!(
            "{what}: saved at {api_version}, applied at {} (the version served now)",
            ar.api_version
        ));
    }
    ctx.apply(&want).await?;
    Ok(true)
}

pub(super) async fn restore_etcd(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let Some(saved) = b.find("backup-cc.yaml", "ClusterConfiguration", INSTALLER) else {
        return Ok(
            "the backup holds no ClusterConfiguration ks-installer: nothing to restore".into(),
        );
    };
    let Some(live) = crate::kubesphere::cluster_configuration(&ctx.client).await? else {
        return Ok("there is no ClusterConfiguration ks-installer now: nothing to restore".into());
    };
    let live = serde_json::to_value(&live).unwrap_or(Value::Null);
    let before = saved
        .pointer("/spec/etcd/endpointIps")
        .map(|v| v.to_string())
        .unwrap_or_else(|| "unset".into());
    let Some(patch) = etcd_restore_patch(saved, &live) else {
        return Ok(format!(
            "endpointIps already as before the migration ({before})"
        ));
    };
    ctx.json_patch(
        &cluster_configuration_resource(),
        Some(SYSTEM_NAMESPACE),
        INSTALLER,
        patch,
    )
    .await?;
    Ok(format!("endpointIps restored ({before})"))
}

/// What becomes of the volume a backed-up claim was bound to when the claim is recreated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumePlan {
    /// The volume is kept (reclaim policy `Retain`), `Released` and still names the deleted
    /// claim, or is already reserved for its name: the recreated claim names it again and gets
    /// its data back. `clear_uid`: its `claimRef` still holds the deleted claim's uid, which must
    /// go first (a volume names the one claim it may bind:
    /// <https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reserving-a-persistentvolume>).
    Rebind {
        /// The volume.
        volume: String,
        /// Remove `claimRef.uid` (and `claimRef.resourceVersion`) first.
        clear_uid: bool,
    },
    /// The claim comes back new, with a new, empty volume; why.
    New(String),
}

/// Decides, from the backed-up claim and its volume as it is now (`None`: gone), whether the
/// recreated claim may bind that volume again. Only the very volume the claim had, kept by
/// reclaim policy `Retain` and naming no other claim, is taken back.
pub fn volume_plan(saved: &Value, pv: Option<&Value>) -> VolumePlan {
    fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
        v.pointer(p).and_then(Value::as_str).unwrap_or_default()
    }
    let volume = str_at(saved, "/spec/volumeName").to_string();
    if volume.is_empty() {
        return VolumePlan::New("it was not bound when the backup was taken".into());
    }
    let Some(pv) = pv else {
        return VolumePlan::New(format!(
            "its volume {volume} is gone (under reclaim policy Delete a volume is deleted with its claim)"
        ));
    };
    let policy = str_at(pv, "/spec/persistentVolumeReclaimPolicy");
    let phase = str_at(pv, "/status/phase");
    let (ns, name, uid) = (
        str_at(pv, "/spec/claimRef/namespace"),
        str_at(pv, "/spec/claimRef/name"),
        str_at(pv, "/spec/claimRef/uid"),
    );
    let ours = ns == str_at(saved, "/metadata/namespace")
        && name == str_at(saved, "/metadata/name")
        && (uid.is_empty() || uid == str_at(saved, "/metadata/uid"));
    if pv.pointer("/metadata/deletionTimestamp").is_some() {
        return VolumePlan::New(format!("its volume {volume} is being deleted"));
    }
    if policy != "Retain" {
        return VolumePlan::New(format!(
            "its volume {volume} has reclaim policy {policy}, not Retain"
        ));
    }
    if !ours || !matches!(phase, "Released" | "Available") {
        let holder = if name.is_empty() {
            "no claim".to_string()
        } else {
            format!("claim {ns}/{name}")
        };
        return VolumePlan::New(format!(
            "its volume {volume} is {phase} and names {holder}: it is not taken back"
        ));
    }
    VolumePlan::Rebind {
        volume,
        clear_uid: !uid.is_empty(),
    }
}

/// Recreates a backed-up claim that is missing: bound to its old volume again when
/// [`volume_plan`] allows, else new (and empty), which the notes say. A claim that exists is
/// compared and re-applied like any object.
pub(super) async fn restore_claim(ctx: &mut Ctx, saved: &Value) -> Result<bool> {
    let ns = saved
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(SYSTEM_NAMESPACE);
    let name = saved
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let what = steps::describe("PersistentVolumeClaim", Some(ns), name);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    if list::get_opt(&claims, name, &format!("get {what}"))
        .await?
        .is_some()
    {
        return restore_object(ctx, saved).await;
    }
    let volume = saved
        .pointer("/spec/volumeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pv = if volume.is_empty() {
        None
    } else {
        let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
        list::get_opt(&pvs, volume, &format!("get PersistentVolume `{volume}`"))
            .await?
            .map(|p| serde_json::to_value(&p).unwrap_or(Value::Null))
    };
    ctx.note(format!("{what} is missing"));
    let mut want = to_apply(saved, "v1");
    match volume_plan(saved, pv.as_ref()) {
        VolumePlan::Rebind { volume, clear_uid } => {
            if clear_uid {
                let uid = pv
                    .as_ref()
                    .and_then(|p| p.pointer("/spec/claimRef/uid"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut ops = vec![
                    json!({"op": "test", "path": "/spec/claimRef/uid", "value": uid}),
                    json!({"op": "remove", "path": "/spec/claimRef/uid"}),
                ];
                if pv
                    .as_ref()
                    .and_then(|p| p.pointer("/spec/claimRef/resourceVersion"))
                    .is_some()
                {
                    ops.push(json!({"op": "remove", "path": "/spec/claimRef/resourceVersion"}));
                }
                ctx.json_patch(
                    &ApiResource::erase::<PersistentVolume>(&()),
                    None,
                    &volume,
                    Value::Array(ops),
                )
                .await?;
            }
            ctx.note(format!(
                "{what}: its volume {volume} (reclaim policy Retain) was kept and still names it: reserved for it again, the claim binds it with the data it held"
            ));
            want["spec"]["volumeName"] = json!(volume);
        }
        VolumePlan::New(why) => ctx.note(format!(
            "{what}: {why}; it comes back as a new claim with a new, empty volume: the data it held is lost"
        )),
    }
    ctx.apply(&want).await?;
    Ok(true)
}

pub(super) async fn restore_redis(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let mut restored = 0;
    let mut absent = Vec::new();
    for (kind, name) in steps::REDIS_OBJECTS {
        let Some(saved) = b.redis(kind, name) else {
            absent.push(format!("{kind} {name}"));
            continue;
        };
        let applied = match *kind {
            "PersistentVolumeClaim" => restore_claim(ctx, saved).await?,
            "Service" => {
                let ip = saved
                    .pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .filter(|ip| !ip.is_empty() && *ip != "None")
                    .map(String::from);
                let applied = restore_object(ctx, saved).await?;
                if let Some(ip) = ip.filter(|_| applied) {
                    ctx.note(format!(
                        "{}: applied without its old clusterIP {ip}, which may be another Service's by now; the cluster assigns one, and clients reach it by name ({name}.{SYSTEM_NAMESPACE}.svc)",
                        steps::describe(kind, Some(SYSTEM_NAMESPACE), name)
                    ));
                }
                applied
            }
            _ => restore_object(ctx, saved).await?,
        };
        restored += usize::from(applied);
    }
    if !absent.is_empty() {
        ctx.note(format!("not in the backup: {}", absent.join(", ")));
    }
    Ok(if restored == 0 {
        "the backed-up redis objects are in place".into()
    } else {
        format!("{restored} redis objects restored")
    })
}

pub(super) async fn restore_installer(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let Some(saved) = b.find(SYSTEM_FILE, "Deployment", INSTALLER) else {
        return Ok("the backup holds no Deployment ks-installer: nothing to restore".into());
    };
    let want = saved
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(1);
    Ok(match steps::installer::set_replicas(ctx, want).await? {
        Scaled::NoDeployment => {
            format!("there is no Deployment {INSTALLER} now: nothing to scale")
        }
        Scaled::Already => format!("{INSTALLER} already has {want} replicas"),
        Scaled::Done => format!("{INSTALLER} scaled back to {want}"),
    })
}

/// The IAM and tenant files of a backup.
pub(super) fn iam_tenant_file(file: &str) -> bool {
    file.starts_with("backup-iam-") || file.starts_with("backup-tenant-")
}

pub(super) async fn restore_iam_tenant(ctx: &mut Ctx, b: &Backup) -> Result<String> {
    let mut applied = 0;
    let mut total = 0;
    for (file, items) in b.files.iter().filter(|(f, _)| iam_tenant_file(f)) {
        ctx.status(&format!("comparing {file}"));
        for o in items {
            total += 1;
            applied += usize::from(restore_object(ctx, o).await?);
        }
    }
    Ok(format!(
        "{applied} of {total} IAM and tenant objects differed and {}",
        if ctx.dry_run {
            "would be re-applied"
        } else {
            "were re-applied"
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_goes_back_as_it_was() {
        let cc = |etcd: Value| json!({"spec": {"common": {}, "etcd": etcd}});
        let filled = cc(json!({"monitoring": false, "endpointIps": "10.0.0.1"}));
        // Was localhost: replaced back.
        let was = cc(json!({"monitoring": false, "endpointIps": "localhost"}));
        assert_eq!(
            etcd_restore_patch(&was, &filled),
            Some(json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": "localhost"}]))
        );
        // Was unset: removed.
        let unset = cc(json!({"monitoring": false}));
        assert_eq!(
            etcd_restore_patch(&unset, &filled),
            Some(json!([{"op": "remove", "path": "/spec/etcd/endpointIps"}]))
        );
        // No spec.etcd at all before.
        let none = json!({"spec": {"common": {}}});
        assert_eq!(
            etcd_restore_patch(&none, &filled),
            Some(json!([{"op": "remove", "path": "/spec/etcd"}]))
        );
        assert_eq!(etcd_restore_patch(&none, &none), None);
        // Already as before.
        assert_eq!(etcd_restore_patch(&filled, &filled), None);
        assert_eq!(etcd_restore_patch(&was, &was), None);
    }

    #[test]
    fn objects_compare_without_server_fields_and_apply_without_identity() {
        let saved = json!({"apiVersion": "iam.kubesphere.io/v1alpha2", "kind": "GlobalRole",
            "metadata": {"name": "admin", "uid": "u1", "resourceVersion": "7", "creationTimestamp": "t", "labels": {"a": "b"}},
            "rules": [{"verbs": ["*"]}], "status": {"x": 1}});
        let live = json!({"apiVersion": "iam.kubesphere.io/v1beta1", "kind": "GlobalRole",
            "metadata": {"name": "admin", "uid": "u2", "resourceVersion": "9", "generation": 2, "managedFields": [], "labels": {"a": "b"}},
            "rules": [{"verbs": ["get"]}]});
        let want = to_apply(&saved, "iam.kubesphere.io/v1beta1");
        assert_eq!(want["apiVersion"], "iam.kubesphere.io/v1beta1");
        assert!(want["metadata"].get("uid").is_none());
        assert!(want["metadata"].get("resourceVersion").is_none());
        assert!(want.get("status").is_none());
        let d = diff_lines(&live, &want);
        assert_eq!(
            d,
            [r#"{"op":"replace","path":"/rules/0/verbs/0","value":"*"}"#]
        );
        let mut same = live.clone();
        same["rules"] = json!([{"verbs": ["*"]}]);
        assert_eq!(comparable(&same), comparable(&want));
        assert!(iam_tenant_file("backup-iam-users.yaml"));
        assert!(iam_tenant_file("backup-tenant-workspaces.yaml"));
        assert!(!iam_tenant_file("backup-kubesphere-system.yaml"));
    }

    #[test]
    fn a_recreated_service_or_claim_leaves_what_the_cluster_assigns() {
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "redis", "namespace": "kubesphere-system", "labels": {"app": "redis"}},
            "spec": {"clusterIP": "10.233.50.3", "clusterIPs": ["10.233.50.3"], "ports": [{"port": 6379}]}});
        let want = to_apply(&svc, "v1");
        assert!(want["spec"].get("clusterIP").is_none());
        assert!(want["spec"].get("clusterIPs").is_none());
        assert_eq!(want["spec"]["ports"], json!([{"port": 6379}]));
        // Another address is no difference; another port is.
        let mut live = svc.clone();
        live["spec"]["clusterIP"] = json!("10.96.0.9");
        live["spec"]["clusterIPs"] = json!(["10.96.0.9"]);
        assert_eq!(comparable(&live), comparable(&want));
        live["spec"]["ports"] = json!([{"port": 6380}]);
        assert_ne!(comparable(&live), comparable(&want));
        // A headless Service keeps its `None`.
        let mut headless = svc.clone();
        headless["spec"]["clusterIP"] = json!("None");
        assert_eq!(to_apply(&headless, "v1")["spec"]["clusterIP"], "None");

        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "redis-pvc", "namespace": "kubesphere-system", "uid": "u-old",
                "annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.kubernetes.io/selected-node": "worker-1", "volume.kubernetes.io/storage-provisioner": "openebs.io/local",
                    "volume.beta.kubernetes.io/storage-provisioner": "openebs.io/local"},
                "finalizers": ["kubernetes.io/pvc-protection"]},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                "storageClassName": "local", "volumeName": "pvc-old"}});
        let want = to_apply(&pvc, "v1");
        assert!(want["spec"].get("volumeName").is_none());
        assert!(want["metadata"].get("annotations").is_none(), "{want}");
        assert_eq!(
            want["metadata"]["finalizers"],
            json!(["kubernetes.io/pvc-protection"])
        );
        assert_eq!(want["spec"]["storageClassName"], "local");
        // Bound anew: another volume, the binder's annotations only.
        let mut live = pvc.clone();
        live["spec"]["volumeName"] = json!("pvc-new");
        live["metadata"]["annotations"] = json!({"pv.kubernetes.io/bind-completed": "yes"});
        assert_eq!(comparable(&live), comparable(&want));
        // Other kinds keep fields of those names.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "spec": {"clusterIP": "x", "volumeName": "y"}});
        assert_eq!(to_apply(&cm, "v1")["spec"], cm["spec"]);
    }

    #[test]
    fn only_the_claims_own_retained_volume_is_taken_back() {
        let saved = json!({"kind": "PersistentVolumeClaim",
            "metadata": {"name": "redis-pvc", "namespace": "kubesphere-system", "uid": "u-old"},
            "spec": {"volumeName": "pvc-old"}});
        let pv = |policy: &str, phase: &str, claim_ref: Value| {
            json!({"metadata": {"name": "pvc-old"},
                "spec": {"persistentVolumeReclaimPolicy": policy, "claimRef": claim_ref},
                "status": {"phase": phase}})
        };
        let ours = json!({"namespace": "kubesphere-system", "name": "redis-pvc", "uid": "u-old"});
        let reserved = json!({"namespace": "kubesphere-system", "name": "redis-pvc"});
        // Released by the deleted claim: its uid goes, then the claim names the volume again.
        assert_eq!(
            volume_plan(&saved, Some(&pv("Retain", "Released", ours.clone()))),
            VolumePlan::Rebind {
                volume: "pvc-old".into(),
                clear_uid: true
            }
        );
        // Already reserved (a rerun after the uid went).
        assert_eq!(
            volume_plan(&saved, Some(&pv("Retain", "Available", reserved))),
            VolumePlan::Rebind {
                volume: "pvc-old".into(),
                clear_uid: false
            }
        );
        // Gone with the claim (reclaim policy Delete): a new, empty claim.
        match volume_plan(&saved, None) {
            VolumePlan::New(why) => assert!(why.contains("pvc-old is gone"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Still there but about to be deleted, bound to another claim, or freed for anyone.
        let deleting = {
            let mut p = pv("Delete", "Released", ours.clone());
            p["metadata"]["deletionTimestamp"] = json!("2026-12-02T00:00:00Z");
            p
        };
        let others =
            json!({"namespace": "kubesphere-system", "name": "redis-pvc", "uid": "u-other"});
        for (p, says) in [
            (deleting, "being deleted"),
            (pv("Delete", "Released", ours), "reclaim policy Delete"),
            (
                pv("Retain", "Bound", others),
                "is Bound and names claim kubesphere-system/redis-pvc",
            ),
            (pv("Retain", "Available", Value::Null), "names no claim"),
        ] {
            match volume_plan(&saved, Some(&p)) {
                VolumePlan::New(why) => assert!(why.contains(says), "{why}"),
                other => panic!("{p}: {other:?}"),
            }
        }
        // Never bound.
        let unbound =
            json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "x"}, "spec": {}});
        assert!(matches!(volume_plan(&unbound, None), VolumePlan::New(_)));
    }
}
