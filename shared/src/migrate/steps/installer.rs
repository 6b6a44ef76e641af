//! Step `scale-installer`: ks-installer to 0 replicas (and, for a rollback, back).

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ApiResource;
use serde_json::json;

use super::Ctx;
use crate::{
    error::Result,
    kubesphere::{self, INSTALLER, SYSTEM_NAMESPACE},
};

pub(super) async fn scale(ctx: &mut Ctx) -> Result<String> {
    Ok(match set_replicas(ctx, 0).await? {
        Scaled::NoDeployment => format!("no Deployment {INSTALLER} (nothing to scale)"),
        Scaled::Already => format!("{INSTALLER} already has 0 replicas"),
        Scaled::Done => format!("{INSTALLER} scaled to 0"),
    })
}

/// What [`set_replicas`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaled {
    /// There is no ks-installer Deployment.
    NoDeployment,
    /// It had that many replicas already.
    Already,
    /// Its replicas were set.
    Done,
}

/// Gives the ks-installer Deployment `replicas`: the migration's 0, or the count a rollback
/// restores from the backup.
pub async fn set_replicas(ctx: &mut Ctx, replicas: i32) -> Result<Scaled> {
    let Some(d) = kubesphere::installer_deployment(&ctx.client).await? else {
        return Ok(Scaled::NoDeployment);
    };
    if d.spec.as_ref().and_then(|s| s.replicas) == Some(replicas) {
        return Ok(Scaled::Already);
    }
    ctx.merge_patch(
        &ApiResource::erase::<Deployment>(&()),
        Some(SYSTEM_NAMESPACE),
        INSTALLER,
        json!({"spec": {"replicas": replicas}}),
    )
    .await?;
    Ok(Scaled::Done)
}
