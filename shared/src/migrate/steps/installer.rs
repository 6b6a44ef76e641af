//! Step `scale-installer`: ks-installer to 0 replicas.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, api::ApiResource};
use serde_json::json;

use super::Ctx;
use crate::{error::Result, kubesphere::SYSTEM_NAMESPACE, list};

pub(super) async fn scale(ctx: &mut Ctx) -> Result<String> {
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    let Some(d) = list::get_opt(
        &api,
        "ks-installer",
        "get Deployment `kubesphere-system/ks-installer`",
    )
    .await?
    else {
        return Ok("no Deployment ks-installer (nothing to scale)".into());
    };
    if d.spec.as_ref().and_then(|s| s.replicas) == Some(0) {
        return Ok("ks-installer already has 0 replicas".into());
    }
    let ar = ApiResource::erase::<Deployment>(&());
    ctx.merge_patch(
        &ar,
        Some(SYSTEM_NAMESPACE),
        "ks-installer",
        json!({"spec": {"replicas": 0}}),
    )
    .await?;
    Ok("ks-installer scaled to 0".into())
}
