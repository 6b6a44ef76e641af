//! Step `remove-redis`: the old redis, as upstream removes it.

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service},
};
use kube::{
    Api,
    api::{ApiResource, ListParams},
};

use super::{Ctx, describe};
use crate::{error::Result, helm as releases, kubesphere::SYSTEM_NAMESPACE, list};

/// The plain (non-Helm) redis objects upstream deletes: kind and name.
pub const REDIS_OBJECTS: &[(&str, &str)] = &[
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("Secret", "redis-secret"),
    ("ConfigMap", "redis-configmap"),
    ("PersistentVolumeClaim", "redis-pvc"),
];

pub(super) async fn remove(ctx: &mut Ctx) -> Result<String> {
    let mut removed = 0;
    let revs =
        releases::list_revisions(&ctx.client, Some(SYSTEM_NAMESPACE), Some("ks-redis"), false)
            .await?;
    if revs.is_empty() {
        ctx.note("no Helm release ks-redis");
    } else {
        let args = ctx.helm.with_conn(vec![
            "del".into(),
            "-n".into(),
            SYSTEM_NAMESPACE.into(),
            "ks-redis".into(),
        ]);
        match ctx.helm_write(args).await {
            Ok(_) => removed += 1,
            // Upstream runs it with `|| true`.
            Err(e) => ctx.note(format!(
                "helm del ks-redis failed, continuing as upstream does: {e}"
            )),
        }
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let ha = list::list_all_metadata(
        &pvcs,
        &ListParams::default().labels("app=redis-ha"),
        "list redis-ha PVCs",
    )
    .await?;
    let pvc_ar = ApiResource::erase::<PersistentVolumeClaim>(&());
    for p in ha {
        if let Some(name) = p.metadata.name
            && ctx.delete(&pvc_ar, Some(SYSTEM_NAMESPACE), &name).await?
        {
            removed += 1;
        }
    }
    for (kind, name) in REDIS_OBJECTS {
        let (ar, labels) = match *kind {
            "Deployment" => (
                ApiResource::erase::<Deployment>(&()),
                meta_labels::<Deployment>(ctx, name).await?,
            ),
            "Service" => (
                ApiResource::erase::<Service>(&()),
                meta_labels::<Service>(ctx, name).await?,
            ),
            "Secret" => (
                ApiResource::erase::<Secret>(&()),
                meta_labels::<Secret>(ctx, name).await?,
            ),
            "ConfigMap" => (
                ApiResource::erase::<ConfigMap>(&()),
                meta_labels::<ConfigMap>(ctx, name).await?,
            ),
            _ => (
                pvc_ar.clone(),
                meta_labels::<PersistentVolumeClaim>(ctx, name).await?,
            ),
        };
        match labels {
            None => {}
            // `-l app.kubernetes.io/managed-by!=Helm`: a Helm-managed redis is not ours to delete.
            Some(l)
                if l.get("app.kubernetes.io/managed-by")
                    .is_some_and(|v| v == "Helm") =>
            {
                ctx.note(format!(
                    "{} is managed by Helm, left alone",
                    describe(kind, Some(SYSTEM_NAMESPACE), name)
                ));
            }
            Some(_) => removed += usize::from(ctx.delete(&ar, Some(SYSTEM_NAMESPACE), name).await?),
        }
    }
    Ok(if removed == 0 {
        "no old redis found".into()
    } else {
        format!("{removed} redis objects removed")
    })
}

async fn meta_labels<K>(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let action = format!("get {} `{SYSTEM_NAMESPACE}/{name}`", K::kind(&()));
    match list::retry_read(&action, || api.get_metadata(name)).await {
        Ok(m) => Ok(Some(m.metadata.labels.unwrap_or_default())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}
