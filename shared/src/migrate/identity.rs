//! The cluster a backup was taken from (the uid of namespace `kube-system`) and the ks-core
//! revision deployed then: what the backup's manifest records and the rollback checks and
//! returns to.

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    helm as releases,
    kubesphere::{KS_CORE_RELEASE, SYSTEM_NAMESPACE},
    list,
};

/// The cluster a backup was taken from, and its ks-core then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The uid of namespace `kube-system` (a cluster keeps it for life).
    pub cluster_uid: String,
    /// The ks-core revision deployed before the migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_core_revision: Option<u32>,
    /// Its chart (`ks-core-<version>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_core_chart: Option<String>,
    /// Its appVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks_core_app_version: Option<String>,
}

/// The uid of namespace `kube-system`.
pub async fn cluster_uid(client: &kube::Client) -> Result<String> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = list::retry_read("get namespace `kube-system`", || {
        api.get_metadata("kube-system")
    })
    .await?;
    ns.metadata
        .uid
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::refused("namespace kube-system has no uid", None))
}

/// The cluster's identity and the ks-core revision deployed now.
pub async fn identity(client: &kube::Client) -> Result<Identity> {
    let cluster_uid = cluster_uid(client).await?;
    let revs =
        releases::list_revisions(client, Some(SYSTEM_NAMESPACE), Some(KS_CORE_RELEASE), false)
            .await?;
    let mut id = Identity {
        cluster_uid,
        ks_core_revision: None,
        ks_core_chart: None,
        ks_core_app_version: None,
    };
    if let Some(d) = releases::last_deployed(&revs, SYSTEM_NAMESPACE, KS_CORE_RELEASE) {
        let r = releases::read_release(client, d).await?;
        id.ks_core_revision = Some(d.revision);
        id.ks_core_chart = Some(format!(
            "{}-{}",
            r.chart.metadata.name, r.chart.metadata.version
        ));
        id.ks_core_app_version = Some(r.chart.metadata.app_version);
    }
    Ok(id)
}
