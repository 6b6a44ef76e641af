//! What runs now: a read-only collection, every list paginated (`crate::list`), metadata-only
//! where no spec or status is needed, one list per resource type, the independent reads run
//! concurrently (one request in flight per collector, at most `scan::SCAN_CONCURRENCY` for the
//! per-kind API scan and the Helm payload reads).
//!
//! Large kinds are read one page at a time and reduced to [`super::summary`] values while the
//! page is in memory, so the plan's memory does not grow with the cluster. The deprecated-API
//! scan of a kind listed here anyway (`scan::LISTED_IN_FULL`) is read from those pages; pods are
//! listed twice on purpose: all of them metadata-only (bare pods), and those not running with a
//! server-side field selector (`NOT_RUNNING_SELECTOR`).
//!
//! A read that fails is recorded in [`Inventory::skipped`] with its reason (forbidden, server
//! error); the report turns it into `CHECK001` (or a note for optional signals), never a pass. An
//! API that is simply not served (404: no Velero, no KubeSphere multi-cluster) is an absence,
//! not a failure.
//!
//! This file has the two phases (`collect`, `collect_iam`); the reads of the first are in
//! `reads`, the build detection (kubeadm-config, [`BuildKind`]) is in `build`, the deprecated-API scans
//! (stored objects, deployed Helm manifests, the API server's metric) in `scan`, and the IAM
//! reads (roles and bindings) in `iam`.

mod build;
mod iam;
mod reads;
mod scan;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
};

use futures::{StreamExt, stream};
use k8s_openapi::api::{
    admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
    apps::v1::{Deployment, StatefulSet},
    core::v1::{ConfigMap, Endpoints, Node, Pod},
    policy::v1::PodDisruptionBudget,
    storage::v1::StorageClass,
};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::{
    Api,
    api::{DynamicObject, ListParams},
};
use serde::Serialize;
use serde_json::Value;

pub(crate) use self::build::detect_build;
pub use self::build::{BuildKind, ClusterBuild, KubeadmConfig};
use self::reads::*;
use self::{
    build::parse_kubeadm_config,
    iam::{iam, rbac_rolebindings, rbac_roles},
    scan::{
        SCAN_CONCURRENCY, dynamic_api, helm_manifest_uses, metric, scan_stored, split_scan,
        take_scan,
    },
};
use super::{
    apis,
    summary::{
        self, BindingMeta, DerivedScan, HelmUse, Iam, NodeSummary, RoleMeta, StoredUse, SystemPod,
        UnhealthyPod, Workload,
    },
};
use crate::{
    error::{Error, Result},
    helm::{self, Revision},
    kubesphere::{self, ClusterInfo, KubeSphere},
    list,
    model::ObjectRef,
    version::Version,
};

/// A read that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// What was not checked.
    pub check: String,
    /// Why (the server's words).
    pub reason: String,
    /// An optional signal (the metric, Velero): a note, not a blocking finding.
    pub optional: bool,
}

/// A v4 extension (InstallPlan).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    /// InstallPlan name.
    pub name: String,
    /// `spec.extension.version`.
    pub version: String,
    /// `status.state`.
    pub state: String,
    /// Clusters it is scheduled on (`status.clusterSchedulingStatuses` keys).
    pub clusters: Vec<String>,
}

/// A Velero backup.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VeleroBackup {
    /// Name.
    pub name: String,
    /// `status.phase`.
    pub phase: String,
    /// `status.completionTimestamp`.
    pub completed: String,
}

/// Everything collected.
#[derive(Debug, Default)]
pub struct Inventory {
    /// `/version` gitVersion.
    pub apiserver: Option<Version>,
    /// Nodes (summaries).
    pub nodes: Vec<NodeSummary>,
    /// Pods in kube-system (static control-plane pods, kube-proxy), summarized.
    pub kube_system_pods: Vec<SystemPod>,
    /// kubeadm-config, when present.
    pub kubeadm: Option<KubeadmConfig>,
    /// All Deployments (summaries).
    pub deployments: Vec<Workload>,
    /// All StatefulSets (summaries).
    pub statefulsets: Vec<Workload>,
    /// The image of the `kube-system/coredns` Deployment.
    pub coredns_image: Option<String>,
    /// Pods without a controller that are not finished.
    pub bare_pods: Vec<ObjectRef>,
    /// Pods not running well now: every pod not Running/Succeeded, and the kube-system pods
    /// Running but not Ready or with a waiting container.
    pub unhealthy_pods: Vec<UnhealthyPod>,
    /// PDBs.
    pub pdbs: Vec<PodDisruptionBudget>,
    /// APIServices.
    pub apiservices: Vec<APIService>,
    /// Validating webhooks.
    pub validating: Vec<ValidatingWebhookConfiguration>,
    /// Mutating webhooks.
    pub mutating: Vec<MutatingWebhookConfiguration>,
    /// Ready state of the webhook services' Endpoints.
    pub webhook_endpoints: BTreeMap<(String, String), bool>,
    /// Helm revisions (Secrets and ConfigMaps).
    pub helm: Vec<Revision>,
    /// Table apiVersions in deployed Helm manifests.
    pub helm_uses: Vec<HelmUse>,
    /// StorageClasses.
    pub storage_classes: Vec<StorageClass>,
    /// KubeSphere, when installed.
    pub kubesphere: Option<KubeSphere>,
    /// cc `spec.etcd.endpointIps`.
    pub ks_etcd_endpoint_ips: Option<String>,
    /// Endpoints kube-system/etcd addresses.
    pub etcd_endpoint_addresses: Vec<String>,
    /// KubeSphere Cluster objects (`None`: not a host).
    pub clusters: Option<Vec<ClusterInfo>>,
    /// v4 extensions.
    pub extensions: Vec<Extension>,
    /// Velero backups (`None`: Velero not installed).
    pub velero: Option<Vec<VeleroBackup>>,
    /// Stored objects naming table apiVersions.
    pub stored_uses: Vec<StoredUse>,
    /// Kinds scanned, with the apiVersion used (or "not served").
    pub scanned: Vec<(String, String)>,
    /// The metric (`None`: not readable).
    pub metric: Option<Vec<apis::MetricUse>>,
    /// KubeSphere 3.x IAM (when collected).
    pub iam: Option<Iam>,
    /// rbac Roles, when the first phase listed them (for the deprecated-API scan); the IAM
    /// phase takes them instead of listing again.
    pub rbac_roles: Option<Vec<RoleMeta>>,
    /// rbac RoleBindings to Roles, likewise.
    pub rbac_bindings: Option<Vec<BindingMeta>>,
    /// Reads that failed.
    pub skipped: Vec<Skipped>,
}

struct Skips(Mutex<Vec<Skipped>>);

impl Skips {
    fn record(&self, check: &str, e: &Error, optional: bool) {
        if let Ok(mut v) = self.0.lock() {
            v.push(Skipped {
                check: check.into(),
                reason: e.to_string(),
                optional,
            });
        }
    }

    /// Runs a read; a 404 is `absent`, any other failure is recorded.
    async fn soft<T>(
        &self,
        check: &str,
        optional: bool,
        absent: Option<T>,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Option<T> {
        match fut.await {
            Ok(v) => Some(v),
            Err(e) if e.is_not_found() && absent.is_some() => absent,
            Err(e) => {
                self.record(check, &e, optional);
                None
            }
        }
    }
}

/// Collects the first phase: everything that depends only on the API server version and the
/// Kubernetes target.
pub(crate) async fn collect(
    client: &kube::Client,
    current: &Version,
    k8s_target: &Version,
) -> Result<Inventory> {
    let skips = Skips(Mutex::new(Vec::new()));
    let table = apis::table()?;
    let kinds = apis::scan_kinds(table, current, k8s_target);
    let (derived, listed) = split_scan(&kinds);
    let scan_of = |kind: &str| DerivedScan {
        served_as: derived.get(kind).cloned(),
        uses: Vec::new(),
    };
    let cm_api = Api::<ConfigMap>::namespaced(client.clone(), "kube-system");
    let pdb_api = Api::<PodDisruptionBudget>::all(client.clone());
    let sc_api = Api::<StorageClass>::all(client.clone());
    let apisvc_api = Api::<APIService>::all(client.clone());
    let ep_api = Api::<Endpoints>::namespaced(client.clone(), "kube-system");

    let nodes = skips.soft("nodes", false, None, nodes(client));
    let ks_pods = skips.soft("pods in kube-system", false, None, kube_system_pods(client));
    let kubeadm = skips.soft(
        "ConfigMap kube-system/kubeadm-config",
        false,
        None,
        list::get_opt(
            &cm_api,
            "kubeadm-config",
            "get ConfigMap kube-system/kubeadm-config",
        ),
    );
    let deployments = skips.soft(
        "deployments",
        false,
        None,
        deployments(client, table, scan_of("Deployment")),
    );
    let statefulsets = skips.soft(
        "statefulsets",
        false,
        None,
        statefulsets(client, table, scan_of("StatefulSet")),
    );
    let bare = skips.soft("pods (bare pods)", false, None, bare_pods(client));
    let not_running = skips.soft("pods not Running", false, None, pods_not_running(client));
    let pdbs = skips.soft(
        "poddisruptionbudgets",
        false,
        None,
        list_scanned(
            &pdb_api,
            "list poddisruptionbudgets",
            table,
            scan_of("PodDisruptionBudget"),
        ),
    );
    let apiservices = skips.soft(
        "apiservices",
        false,
        None,
        list_scanned(
            &apisvc_api,
            "list apiservices",
            table,
            scan_of("APIService"),
        ),
    );
    let webhooks = skips.soft(
        "webhook configurations",
        false,
        None,
        webhooks(
            client,
            table,
            scan_of("ValidatingWebhookConfiguration"),
            scan_of("MutatingWebhookConfiguration"),
        ),
    );
    let helm_all = skips.soft(
        "Helm releases",
        false,
        None,
        helm::list_revisions(client, None, None, true),
    );
    let storage = skips.soft(
        "storageclasses",
        false,
        None,
        list_scanned(
            &sc_api,
            "list storageclasses",
            table,
            scan_of("StorageClass"),
        ),
    );
    let ks = skips.soft(
        "KubeSphere detection",
        false,
        None,
        kubesphere::detect(client),
    );
    let cc = skips.soft(
        "ClusterConfiguration ks-installer",
        false,
        Some(None),
        kubesphere::cluster_configuration(client),
    );
    let etcd_ep = skips.soft(
        "Endpoints kube-system/etcd",
        true,
        None,
        list::get_opt(&ep_api, "etcd", "get Endpoints kube-system/etcd"),
    );
    let clusters = skips.soft(
        "clusters.cluster.kubesphere.io",
        false,
        Some(None),
        kubesphere::clusters(client),
    );
    let extensions = skips.soft(
        "installplans.kubesphere.io",
        false,
        Some(Vec::new()),
        install_plans(client),
    );
    let velero = skips.soft(
        "backups.velero.io",
        true,
        Some(None),
        velero_backups(client),
    );
    // Roles and RoleBindings only when the scan wants them (the IAM phase lists them otherwise).
    let roles = async {
        match derived.contains_key("Role") {
            true => Some(
                skips
                    .soft(
                        "roles",
                        false,
                        None,
                        rbac_roles(client, table, scan_of("Role")),
                    )
                    .await,
            ),
            false => None,
        }
    };
    let rolebindings = async {
        match derived.contains_key("RoleBinding") {
            true => Some(
                skips
                    .soft(
                        "rolebindings",
                        false,
                        None,
                        rbac_rolebindings(client, table, scan_of("RoleBinding")),
                    )
                    .await,
            ),
            false => None,
        }
    };
    let stored = skips.soft(
        "stored objects at deprecated APIs",
        false,
        None,
        scan_stored(client, &listed),
    );
    let metric = metric(client);

    let (
        nodes,
        ks_pods,
        kubeadm,
        deployments,
        statefulsets,
        bare,
        not_running,
        pdbs,
        apiservices,
        webhooks,
        helm_all,
        storage,
        ks,
        cc,
        etcd_ep,
        clusters,
        extensions,
        velero,
        roles,
        rolebindings,
        stored,
        metric,
    ) = tokio::join!(
        nodes,
        ks_pods,
        kubeadm,
        deployments,
        statefulsets,
        bare,
        not_running,
        pdbs,
        apiservices,
        webhooks,
        helm_all,
        storage,
        ks,
        cc,
        etcd_ep,
        clusters,
        extensions,
        velero,
        roles,
        rolebindings,
        stored,
        metric
    );

    let mut inv = Inventory {
        nodes: nodes.unwrap_or_default(),
        bare_pods: bare.unwrap_or_default(),
        clusters: clusters.flatten(),
        extensions: extensions.unwrap_or_default(),
        velero: velero.flatten(),
        ..Default::default()
    };
    // The stored-object signal: the kinds read from the full lists above, then the others.
    let mut derived_scans: BTreeMap<&str, Option<DerivedScan>> = BTreeMap::new();
    let mut unhealthy: Vec<UnhealthyPod> = not_running.unwrap_or_default();
    if let Some((pods, bad)) = ks_pods {
        inv.kube_system_pods = pods;
        unhealthy.extend(bad);
    }
    unhealthy.sort_by(|a, b| a.object.cmp(&b.object));
    unhealthy.dedup_by(|a, b| a.object == b.object);
    inv.unhealthy_pods = unhealthy;
    let deployments = deployments.map(|(list, coredns, scan)| ((list, coredns), scan));
    if let Some((list, coredns)) = take_scan(&mut derived_scans, "Deployment", deployments) {
        inv.deployments = list;
        inv.coredns_image = coredns;
    }
    if let Some(list) = take_scan(&mut derived_scans, "StatefulSet", statefulsets) {
        inv.statefulsets = list;
    }
    if let Some(list) = take_scan(&mut derived_scans, "APIService", apiservices) {
        inv.apiservices = list;
    }
    if let Some(list) = take_scan(&mut derived_scans, "PodDisruptionBudget", pdbs) {
        inv.pdbs = list;
    }
    // Roles and bindings are read only for KubeSphere's 3.3.1 check (`None`: not needed).
    if let Some(roles) = roles {
        inv.rbac_roles = take_scan(&mut derived_scans, "Role", roles);
    }
    if let Some(bindings) = rolebindings {
        inv.rbac_bindings = take_scan(&mut derived_scans, "RoleBinding", bindings);
    }
    if let Some(list) = take_scan(&mut derived_scans, "StorageClass", storage) {
        inv.storage_classes = list;
    }
    inv.kubeadm = kubeadm.flatten().and_then(|cm| {
        cm.data
            .as_ref()
            .and_then(|d| d.get("ClusterConfiguration"))
            .map(|t| parse_kubeadm_config(t))
    });
    match webhooks {
        Some(w) => {
            inv.validating = w.validating;
            inv.mutating = w.mutating;
            inv.webhook_endpoints = w.ready;
            derived_scans.insert("ValidatingWebhookConfiguration", Some(w.validating_scan));
            derived_scans.insert("MutatingWebhookConfiguration", Some(w.mutating_scan));
        }
        None => {
            derived_scans.insert("ValidatingWebhookConfiguration", None);
            derived_scans.insert("MutatingWebhookConfiguration", None);
        }
    }
    for (kind, served) in &derived {
        match derived_scans.remove(kind).flatten() {
            Some(scan) => {
                inv.stored_uses.extend(scan.uses);
                inv.scanned.push(((*kind).to_string(), served.clone()));
            }
            // The list failed: its own check is CHECK001; the scan of the kind did not run.
            None => inv
                .scanned
                .push(((*kind).to_string(), "not checked".to_string())),
        }
    }
    if let Some((uses, scanned)) = stored {
        inv.stored_uses.extend(uses);
        inv.scanned.extend(scanned);
    }
    inv.stored_uses.sort_by(|a, b| a.object.cmp(&b.object));
    inv.scanned.sort();
    inv.kubesphere = ks.filter(|k| k.installed());
    if let Some(Some(cc)) = &cc {
        inv.ks_etcd_endpoint_ips =
            kubesphere::field_str(cc, &["spec", "etcd", "endpointIps"]).map(str::to_string);
    }
    inv.etcd_endpoint_addresses = etcd_ep
        .flatten()
        .map(|ep| {
            ep.subsets
                .iter()
                .flatten()
                .flat_map(|s| s.addresses.iter().flatten())
                .map(|a| a.ip.clone())
                .collect()
        })
        .unwrap_or_default();
    match metric {
        Ok(m) => inv.metric = Some(m),
        Err(e) => {
            let reason = match e.api_code() {
                Some(code @ (401 | 403 | 404)) => format!("not readable ({code}): {e}"),
                _ => e.to_string(),
            };
            if let Ok(mut v) = skips.0.lock() {
                v.push(Skipped {
                    check: "metric apiserver_requested_deprecated_apis (GET /metrics)".into(),
                    reason,
                    optional: true,
                });
            }
        }
    }
    if let Some(revs) = helm_all {
        match helm_manifest_uses(client, &revs, table).await {
            Ok((uses, failures)) => {
                inv.helm_uses = uses;
                for (what, e) in failures {
                    skips.record(&what, &e, false);
                }
            }
            Err(e) => skips.record("Helm release manifests", &e, false),
        }
        inv.helm = revs;
    }
    inv.skipped = skips.0.into_inner().unwrap_or_default();
    Ok(inv)
}

/// Collects KubeSphere 3.x IAM for the 3.3.1 role check (second phase, only on 3.x).
pub(crate) async fn collect_iam(client: &kube::Client, inv: &mut Inventory) {
    let skips = Skips(Mutex::new(Vec::new()));
    if let Some(iam) = skips
        .soft(
            "KubeSphere IAM roles and bindings",
            false,
            None,
            iam(client, inv.rbac_roles.take(), inv.rbac_bindings.take()),
        )
        .await
    {
        inv.iam = Some(iam);
    }
    inv.skipped.extend(skips.0.into_inner().unwrap_or_default());
}
