//! The migration steps: what they are ([`StepId`]) and what runs each.
//!
//! The steps follow upstream's `upgrade.sh host|member` in order
//! (https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/): back up ([`backup`]); scale
//! ks-installer to 0 ([`installer`]); fill the etcd `endpointIps` ([`etcd`]); remove the old
//! redis ([`redis`]); render, apply and wait for the `prepare-upgrade` Job ([`prepare`]); apply
//! the chart's CRDs and `helm upgrade` ks-core while following its hook Jobs, then verify the
//! release ([`ks_core`]); the helm argument vectors are upstream's ([`args`]). Every step runs
//! in a [`Ctx`].

pub mod args;
pub mod backup;
pub mod etcd;
pub mod installer;
pub mod ks_core;
pub mod prepare;
pub mod redis;

use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use serde::{Deserialize, Serialize};

pub use self::{
    ks_core::ks_core_v4,
    prepare::{delete_job, render_apply_wait},
    redis::REDIS_OBJECTS,
};
pub use super::ctx::{Ctx, JobState, Settings, describe, job_state, parse_documents};
use super::step::Step;
use crate::{error::Result, kubesphere::SYSTEM_NAMESPACE, list};

/// The host/member steps, in upstream's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    /// Back up what upstream backs up.
    Backup,
    /// Scale ks-installer to 0.
    ScaleInstaller,
    /// Fill the ClusterConfiguration's etcd `endpointIps`.
    FillEtcdEndpoints,
    /// Remove the old redis.
    RemoveRedis,
    /// Run the prepare-upgrade Job.
    PrepareUpgrade,
    /// Apply the chart's CRDs.
    ApplyCrds,
    /// `helm upgrade` ks-core.
    UpgradeKsCore,
    /// Verify the release.
    Verify,
}

impl Step for StepId {
    const ALL: &'static [Self] = &[
        Self::Backup,
        Self::ScaleInstaller,
        Self::FillEtcdEndpoints,
        Self::RemoveRedis,
        Self::PrepareUpgrade,
        Self::ApplyCrds,
        Self::UpgradeKsCore,
        Self::Verify,
    ];

    fn key(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::ScaleInstaller => "scale-installer",
            Self::FillEtcdEndpoints => "fill-etcd-endpoints",
            Self::RemoveRedis => "remove-redis",
            Self::PrepareUpgrade => "prepare-upgrade",
            Self::ApplyCrds => "apply-crds",
            Self::UpgradeKsCore => "upgrade-ks-core",
            Self::Verify => "verify",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Backup => {
                "Back up the system namespaces, the ClusterConfiguration, IAM and tenant objects"
            }
            Self::ScaleInstaller => "Scale ks-installer to 0",
            Self::FillEtcdEndpoints => "Fill the etcd endpointIps of the ClusterConfiguration",
            Self::RemoveRedis => "Remove the old redis",
            Self::PrepareUpgrade => "Run the prepare-upgrade Job",
            Self::ApplyCrds => "Apply the ks-core chart's CRDs",
            Self::UpgradeKsCore => {
                "helm upgrade ks-core (with its pre- and post-upgrade hook Jobs)"
            }
            Self::Verify => "Verify the ks-core release is deployed at v4",
        }
    }

    fn destructive(self) -> bool {
        match self {
            Self::RemoveRedis | Self::PrepareUpgrade | Self::UpgradeKsCore => true,
            Self::Backup
            | Self::ScaleInstaller
            | Self::FillEtcdEndpoints
            | Self::ApplyCrds
            | Self::Verify => false,
        }
    }

    fn anchor(self) -> &'static str {
        "steps-host-member"
    }
}

/// The journal keys of the host/member steps.
pub fn keys() -> Vec<String> {
    StepId::keys()
}

/// Runs one step; returns its detail line.
pub async fn run(step: StepId, ctx: &mut Ctx) -> Result<String> {
    match step {
        StepId::Backup => backup::run(ctx).await,
        StepId::ScaleInstaller => installer::scale(ctx).await,
        StepId::FillEtcdEndpoints => etcd::fill(ctx).await,
        StepId::RemoveRedis => redis::remove(ctx).await,
        StepId::PrepareUpgrade => prepare::run(ctx).await,
        StepId::ApplyCrds => ks_core::apply_crds(ctx).await,
        StepId::UpgradeKsCore => ks_core::upgrade(ctx).await,
        StepId::Verify => ks_core::verify(ctx).await,
    }
}

/// For a destructive step a crashed run left `running`: does the cluster show it finished?
pub async fn recheck(step: StepId, ctx: &Ctx) -> Result<bool> {
    match step {
        StepId::PrepareUpgrade => {
            let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
            Ok(list::get_opt(
                &jobs,
                "prepare-upgrade",
                "get Job `kubesphere-system/prepare-upgrade`",
            )
            .await?
            .is_some_and(|j| job_state(&j) == JobState::Complete))
        }
        StepId::UpgradeKsCore => Ok(ks_core_v4(&ctx.client)
            .await?
            .is_some_and(|r| r.latest_deployed)),
        // Removing the old redis again is harmless; the others are not destructive.
        StepId::RemoveRedis
        | StepId::Backup
        | StepId::ScaleInstaller
        | StepId::FillEtcdEndpoints
        | StepId::ApplyCrds
        | StepId::Verify => Ok(false),
    }
}
