//! Blocking pre-checks. Upstream's `pre-check.sh` only prints ✅/❌ and exits 0; here every
//! check runs, every failure is reported with its own code and message, and any failure
//! refuses the migration (exit 1) before anything changes
//! (the pre-checks of https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/).
//!
//! Each check is a pure function of what was read, so the rules are unit-tested; [`run`]
//! gathers the facts from the cluster and helm.

use k8s_openapi::{
    api::{
        core::v1::{Node, Pod},
        storage::v1::StorageClass,
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api,
    api::{DynamicObject, ListParams, LogParams},
};
use serde::Serialize;

use super::helm::{Helm, Log, MIN_HELM};
use crate::{
    domain::{nodes, storage::is_default_class},
    error::{Error, Result},
    helm as releases,
    kubesphere::{self, KS_CORE_RELEASE, Role, SYSTEM_NAMESPACE},
    list,
    model::{ObjectRef, Severity},
    version::Version,
};

/// The oldest KubeSphere the migration accepts.
pub const MIN_KUBESPHERE: Version = Version::new(3, 4, 0);
/// Kubernetes range KubeSphere 4.1 supports (inclusive minors).
pub const KUBERNETES_RANGE: ((u64, u64), (u64, u64)) = ((1, 21), (1, 30));

/// A pre-check's stable code, as the report and `--ignore-check` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The ClusterConfiguration `ks-installer` exists, labelled v3.4.0 or later.
    InstallerVersion,
    /// The Kubernetes minor is in KubeSphere 4.1's range.
    KubernetesVersion,
    /// helm is found and recent enough.
    HelmVersion,
    /// A default StorageClass exists (or the values name a class).
    DefaultStorageClass,
    /// Every node is Ready.
    NodesReady,
    /// ks-installer is not in the middle of a run.
    InstallerIdle,
    /// ks-core's latest Helm revision is not pending.
    KsCoreNotPending,
    /// The cluster's KubeSphere role is the one migrated.
    RoleMatches,
    /// No CRD the v4 chart replaces still lists an old stored version.
    CrdStoredVersions,
    /// `gateway`: ks-core is deployed at v4 (the host or member is migrated).
    KsCoreV4,
}

impl Code {
    /// The host and member checks, in the order they run (the docs' table).
    pub const MIGRATION: [Code; 9] = [
        Self::InstallerVersion,
        Self::KubernetesVersion,
        Self::HelmVersion,
        Self::DefaultStorageClass,
        Self::NodesReady,
        Self::InstallerIdle,
        Self::KsCoreNotPending,
        Self::RoleMatches,
        Self::CrdStoredVersions,
    ];

    /// The `gateway` checks.
    pub const GATEWAY: [Code; 2] = [Self::HelmVersion, Self::KsCoreV4];

    /// The code's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstallerVersion => "installer-version",
            Self::KubernetesVersion => "kubernetes-version",
            Self::HelmVersion => "helm-version",
            Self::DefaultStorageClass => "default-storage-class",
            Self::NodesReady => "nodes-ready",
            Self::InstallerIdle => "installer-idle",
            Self::KsCoreNotPending => "ks-core-not-pending",
            Self::RoleMatches => "role-matches",
            Self::CrdStoredVersions => "crd-stored-versions",
            Self::KsCoreV4 => "ks-core-v4",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kubernetes' procedure for moving stored objects to a new version and dropping the old one
/// from `status.storedVersions`.
pub const STORED_VERSION_DOC: &str = "https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#upgrade-existing-objects-to-a-new-stored-version";

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Stable code.
    pub code: Code,
    /// True when it passed.
    pub ok: bool,
    /// True when it failed but `--ignore-check` downgraded it to a warning.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    /// What was found.
    pub message: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The objects a failed check is about (the nodes not Ready, the busy ks-installer pods,
    /// the CRDs with a stored version the chart drops), in the finding model every report
    /// uses; empty when it passed or is about the cluster as a whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectRef>,
}

impl Check {
    fn pass(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            ok: true,
            ignored: false,
            message: message.into(),
            hint: None,
            objects: Vec::new(),
        }
    }
    fn fail(code: Code, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            ok: false,
            ignored: false,
            message: message.into(),
            hint: Some(hint.into()),
            objects: Vec::new(),
        }
    }

    fn about(mut self, objects: Vec<ObjectRef>) -> Self {
        self.objects = objects;
        self
    }

    /// How much a failed check matters, on the scale every report uses: blocking, or advisory
    /// once `--ignore-check` named it; `None` when it passed.
    pub fn severity(&self) -> Option<Severity> {
        match (self.ok, self.ignored) {
            (true, _) => None,
            (false, false) => Some(Severity::Blocking),
            (false, true) => Some(Severity::Advisory),
        }
    }

    /// True when it blocks the migration.
    pub fn blocks(&self) -> bool {
        self.severity() == Some(Severity::Blocking)
    }
}

/// `installer-version`: the ClusterConfiguration `ks-installer` exists and its `version`
/// label is v3.4.0 or later.
pub fn installer_version(cc: Option<&DynamicObject>) -> Check {
    const CODE: Code = Code::InstallerVersion;
    let Some(cc) = cc else {
        return Check::fail(
            CODE,
            "no ClusterConfiguration kubesphere-system/ks-installer: this is not a KubeSphere v3 cluster installed by ks-installer",
            "ks-migrate migrates KubeSphere v3.4 installed with ks-installer; other installs cannot be migrated this way",
        );
    };
    let label = cc
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("version"))
        .cloned();
    match label.as_deref().map(str::parse::<Version>) {
        Some(Ok(v)) if v >= MIN_KUBESPHERE => {
            Check::pass(CODE, format!("ClusterConfiguration ks-installer is at {v}"))
        }
        Some(Ok(v)) => Check::fail(
            CODE,
            format!("ClusterConfiguration ks-installer is at {v}, older than v3.4.0"),
            "upgrade to KubeSphere v3.4.x with ks-installer first, then migrate to v4.1",
        ),
        _ => Check::fail(
            CODE,
            format!(
                "ClusterConfiguration ks-installer has no readable `version` label ({})",
                label.unwrap_or_else(|| "absent".into())
            ),
            "the label `version` on the ClusterConfiguration names the installed release (e.g. v3.4.1)",
        ),
    }
}

/// `kubernetes-version`: the API server is within v1.21 to v1.30.
pub fn kubernetes_version(git_version: &str) -> Check {
    const CODE: Code = Code::KubernetesVersion;
    let ((lo_maj, lo_min), (hi_maj, hi_min)) = KUBERNETES_RANGE;
    match git_version.parse::<Version>() {
        Ok(v) if v.minor_key() >= (lo_maj, lo_min) && v.minor_key() <= (hi_maj, hi_min) => {
            Check::pass(CODE, format!("Kubernetes {v} is within v1.21 to v1.30"))
        }
        Ok(v) => Check::fail(
            CODE,
            format!("Kubernetes {v} is outside v1.21 to v1.30, which KubeSphere v4.1 supports"),
            if v.minor_key() < (lo_maj, lo_min) {
                "upgrade Kubernetes to v1.21 or later first (KubeSphere v3.4 runs on up to v1.26)"
            } else {
                "KubeSphere v4.1 does not support this Kubernetes version"
            },
        ),
        Err(_) => Check::fail(
            CODE,
            format!("cannot read the Kubernetes version `{git_version}`"),
            "check `kubectl version`",
        ),
    }
}

/// `helm-version`: helm v3.13 or later answers `helm version --short`.
pub fn helm_version(found: std::result::Result<(String, semver::Version), String>) -> Check {
    const CODE: Code = Code::HelmVersion;
    match found {
        Ok((text, v)) if v >= MIN_HELM && v.major == 3 => Check::pass(CODE, format!("helm {text}")),
        Ok((text, _)) => Check::fail(
            CODE,
            format!("helm {text} is older than v3.13.0 (or not helm 3)"),
            "install helm v3.13 or later, or pass --helm PATH",
        ),
        Err(e) => Check::fail(CODE, e, "install helm v3.13 or later, or pass --helm PATH"),
    }
}

/// `default-storage-class`: the PVC `ks-upgrade` needs a default StorageClass, unless the
/// values name one (which must exist).
pub fn default_storage_class(classes: &[(String, bool)], from_values: Option<&str>) -> Check {
    const CODE: Code = Code::DefaultStorageClass;
    if let Some(name) = from_values {
        return if classes.iter().any(|(n, _)| n == name) {
            Check::pass(
                CODE,
                format!(
                    "StorageClass `{name}` (upgrade.persistenceVolume.storageClassName) exists"
                ),
            )
        } else {
            Check::fail(
                CODE,
                format!(
                    "StorageClass `{name}` named by upgrade.persistenceVolume.storageClassName does not exist"
                ),
                "fix the name in the values file (`kubectl get storageclass`)",
            )
        };
    }
    let defaults: Vec<&str> = classes
        .iter()
        .filter(|(_, d)| *d)
        .map(|(n, _)| n.as_str())
        .collect();
    match defaults.as_slice() {
        [] => Check::fail(
            CODE,
            "no default StorageClass, and upgrade.persistenceVolume.storageClassName is empty: the PVC ks-upgrade would stay Pending",
            "mark a StorageClass default (storageclass.kubernetes.io/is-default-class=true) or set upgrade.persistenceVolume.storageClassName in the values",
        ),
        names => Check::pass(
            CODE,
            format!("default StorageClass `{}`", names.join("`, `")),
        ),
    }
}

/// `nodes-ready`: every node's Ready condition is True.
pub fn nodes_ready(nodes: &[(String, String)]) -> Check {
    const CODE: Code = Code::NodesReady;
    let bad: Vec<String> = nodes
        .iter()
        .filter(|(_, s)| s != "True")
        .map(|(n, s)| format!("{n} (Ready={s})"))
        .collect();
    if nodes.is_empty() {
        Check::fail(
            CODE,
            "the cluster lists no nodes",
            "check `kubectl get nodes`",
        )
    } else if bad.is_empty() {
        Check::pass(CODE, format!("all {} nodes are Ready", nodes.len()))
    } else {
        let objects = nodes
            .iter()
            .filter(|(_, s)| s != "True")
            .map(|(n, _)| ObjectRef::cluster("Node", n))
            .collect();
        Check::fail(
            CODE,
            format!(
                "{} of {} nodes not Ready: {}",
                bad.len(),
                nodes.len(),
                bad.join(", ")
            ),
            "bring the nodes back to Ready (or remove them) before migrating",
        )
        .about(objects)
    }
}

/// What was seen of one ks-installer pod: its name, phase, and the last 20 log lines or why
/// they could not be read.
pub type InstallerPod = (String, String, std::result::Result<String, String>);

/// `installer-idle`: no ks-installer pod, or each running one's last 20 log lines contain
/// `Welcome to KubeSphere!` (ks-installer prints it when its tasks are done).
pub fn installer_idle(pods: &[InstallerPod]) -> Check {
    const CODE: Code = Code::InstallerIdle;
    let running: Vec<&InstallerPod> = pods
        .iter()
        .filter(|p| p.1 == "Running" || p.1 == "Pending")
        .collect();
    if running.is_empty() {
        return Check::pass(CODE, "no ks-installer pod is running");
    }
    let mut busy = Vec::new();
    let mut unknown = Vec::new();
    for (name, _, logs) in &running {
        match logs {
            Ok(text) if text.contains("Welcome to KubeSphere!") => {}
            Ok(_) => busy.push(name.clone()),
            Err(e) => unknown.push(format!("{name}: {e}")),
        }
    }
    if !busy.is_empty() {
        let objects = busy
            .iter()
            .map(|p| ObjectRef::namespaced("Pod", SYSTEM_NAMESPACE, p))
            .collect();
        Check::fail(
            CODE,
            format!(
                "tasks are running in ks-installer: the last 20 log lines of {} lack `Welcome to KubeSphere!`",
                busy.join(", ")
            ),
            "wait for ks-installer to finish (`kubectl -n kubesphere-system logs -f deploy/ks-installer`)",
        )
        .about(objects)
    } else if !unknown.is_empty() {
        Check::fail(
            CODE,
            format!(
                "cannot tell whether ks-installer is idle: cannot read the logs of {}",
                unknown.join("; ")
            ),
            "check `kubectl -n kubesphere-system logs --tail=20 deploy/ks-installer` shows `Welcome to KubeSphere!`, then pass --ignore-check installer-idle",
        )
    } else {
        Check::pass(
            CODE,
            "ks-installer is idle (`Welcome to KubeSphere!` in its last 20 log lines)",
        )
    }
}

/// `ks-core-not-pending`: the ks-core release exists and its newest revision is not pending.
pub fn ks_core_not_pending(revisions: &[releases::Revision]) -> Check {
    const CODE: Code = Code::KsCoreNotPending;
    let ks: Vec<releases::Revision> = revisions
        .iter()
        .filter(|r| r.name == KS_CORE_RELEASE && r.namespace == SYSTEM_NAMESPACE)
        .cloned()
        .collect();
    match releases::latest(&ks).first() {
        None => Check::fail(
            CODE,
            "no Helm release ks-core in kubesphere-system: `helm upgrade` has nothing to upgrade",
            "ks-installer v3.4 installs ks-core with Helm; check `helm -n kubesphere-system history ks-core`",
        ),
        Some(r) if r.is_pending() => Check::fail(
            CODE,
            format!(
                "Helm release ks-core revision {} is {}: a previous upgrade did not finish",
                r.revision, r.status
            ),
            format!(
                "delete the stuck revision: kubectl -n {SYSTEM_NAMESPACE} delete secret {}",
                r.object
            ),
        ),
        Some(r) => Check::pass(
            CODE,
            format!("ks-core revision {} is {}", r.revision, r.status),
        ),
    }
}

/// `role-matches`: the subcommand matches kubesphere-config's `multicluster.clusterRole`
/// (`none`, a single cluster, migrates as host).
pub fn role_matches(wanted: Role, configured: Option<Role>) -> Check {
    const CODE: Code = Code::RoleMatches;
    let effective = match configured {
        Some(Role::None) => Some(Role::Host),
        other => other,
    };
    match effective {
        Some(r) if r == wanted => Check::pass(
            CODE,
            format!(
                "kubesphere-config says this cluster is {}{}",
                configured.unwrap_or(r),
                if configured == Some(Role::None) {
                    " (a single cluster migrates as host)"
                } else {
                    ""
                }
            ),
        ),
        Some(Role::Unknown) | None => Check::fail(
            CODE,
            "cannot read multicluster.clusterRole from ConfigMap kubesphere-system/kubesphere-config",
            "check the ConfigMap's kubesphere.yaml; the role decides what the chart installs",
        ),
        Some(r) => Check::fail(
            CODE,
            format!(
                "this cluster is a {r} (kubesphere-config multicluster.clusterRole), not a {wanted}"
            ),
            format!("run `kubectl ks-migrate {r}` here, or switch to the right context"),
        ),
    }
}

/// One CRD of the chart (`helm show crds`) and, when it exists, what the cluster has stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdVersions {
    /// `metadata.name`.
    pub name: String,
    /// The chart's `spec.versions[*].name`, in order.
    pub chart: Vec<String>,
    /// The chart's storage version.
    pub chart_storage: Option<String>,
    /// The live `status.storedVersions`; `None` when the CRD is not in the cluster.
    pub stored: Option<Vec<String>>,
}

/// `crd-stored-versions`: every version a live CRD has stored (`status.storedVersions`) is
/// still in the chart's `spec.versions`. Otherwise the API server rejects the chart's CRD
/// (`status.storedVersions[0]: Invalid value: "v1alpha1": must appear in spec.versions`) and
/// the CRDs would be applied half-way.
pub fn crd_stored_versions(crds: std::result::Result<&[CrdVersions], String>) -> Check {
    const CODE: Code = Code::CrdStoredVersions;
    let crds = match crds {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                CODE,
                format!("cannot compare the chart's CRDs with the cluster's: {e}"),
                "check that `helm show crds CHART` prints the chart's CRDs",
            );
        }
    };
    let live: Vec<&CrdVersions> = crds.iter().filter(|c| c.stored.is_some()).collect();
    let mut bad = Vec::new();
    let mut fixes = Vec::new();
    let mut objects = Vec::new();
    for c in &live {
        let stored = c.stored.as_deref().unwrap_or_default();
        let dropped: Vec<&String> = stored.iter().filter(|v| !c.chart.contains(v)).collect();
        if dropped.is_empty() {
            continue;
        }
        let names: Vec<&str> = dropped.iter().map(|v| v.as_str()).collect();
        objects.push(ObjectRef::cluster("CustomResourceDefinition", &c.name));
        bad.push(format!(
            "CRD {} has stored {} (status.storedVersions), which the chart's CRD no longer lists (spec.versions: {})",
            c.name,
            names.join(", "),
            c.chart.join(", ")
        ));
        let mut kept: Vec<&str> = stored
            .iter()
            .filter(|v| c.chart.contains(v))
            .map(String::as_str)
            .collect();
        if kept.is_empty()
            && let Some(s) = &c.chart_storage
        {
            kept.push(s);
        }
        let list: Vec<String> = kept.iter().map(|v| format!("\"{v}\"")).collect();
        fixes.push(format!(
            "kubectl patch crd {} --subresource=status --type=merge -p '{{\"status\":{{\"storedVersions\":[{}]}}}}'",
            c.name,
            list.join(",")
        ));
    }
    if bad.is_empty() {
        return Check::pass(
            CODE,
            format!(
                "{} of the chart's {} CRDs exist in the cluster; every stored version is still in the chart",
                live.len(),
                crds.len()
            ),
        );
    }
    Check::fail(
        CODE,
        format!(
            "{}: applying the chart's CRDs would fail half-way",
            bad.join("; ")
        ),
        format!(
            "first migrate the stored objects to a version the chart keeps (read and write back every object, e.g. `kubectl get <resource> -A -o json | kubectl replace -f -`, once that version is the storage version), then drop the old version from storedVersions: {}; see {STORED_VERSION_DOC}",
            fixes.join("; ")
        ),
    )
    .about(objects)
}

/// The CRDs in `helm show crds` output: name, versions and storage version.
pub fn chart_crds(text: &str) -> Result<Vec<CrdVersions>> {
    let docs = super::steps::parse_documents(text, "the output of helm show crds")?;
    let mut out = Vec::new();
    for d in docs {
        if d.get("kind").and_then(serde_json::Value::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let name = d
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let versions = d
            .pointer("/spec/versions")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        let name_of = |v: &serde_json::Value| {
            v.get("name")
                .and_then(serde_json::Value::as_str)
                .map(String::from)
        };
        out.push(CrdVersions {
            name,
            chart: versions.iter().filter_map(name_of).collect(),
            chart_storage: versions
                .iter()
                .find(|v| v.get("storage").and_then(serde_json::Value::as_bool) == Some(true))
                .and_then(name_of),
            stored: None,
        });
    }
    Ok(out)
}

/// Reads the chart's CRDs with helm and each one's live `status.storedVersions`. The inner
/// error is a reason the comparison cannot be made (helm or its output); API errors end the
/// command.
async fn crds_with_stored_versions(
    client: &kube::Client,
    helm: &Helm,
    chart: &str,
    log: &Log,
) -> Result<std::result::Result<Vec<CrdVersions>, String>> {
    let args = vec!["show".to_string(), "crds".to_string(), chart.to_string()];
    let text = match helm.output(&args, log, true).await {
        Ok(t) => t,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut crds = match chart_crds(&text) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for c in crds.iter_mut() {
        if c.name.is_empty() {
            continue;
        }
        if let Some(live) = list::get_opt(
            &api,
            &c.name,
            &format!("get CustomResourceDefinition `{}`", c.name),
        )
        .await?
        {
            c.stored = Some(
                live.status
                    .and_then(|s| s.stored_versions)
                    .unwrap_or_default(),
            );
        }
    }
    Ok(Ok(crds))
}

/// What the checks need besides the cluster.
pub struct Inputs<'a> {
    /// The role asked for (host or member).
    pub role: Role,
    /// `upgrade.persistenceVolume.storageClassName`.
    pub storage_class: Option<&'a str>,
    /// Helm, when found; the error text otherwise.
    pub helm: std::result::Result<&'a Helm, String>,
    /// The ks-core chart (when helm was found to resolve it).
    pub chart: Option<&'a str>,
    /// Codes downgraded to warnings.
    pub ignore: &'a [String],
}

/// Runs every check against the cluster. API errors (other than the ones a check interprets)
/// end the command: a check that cannot run is not a pass.
pub async fn run(client: &kube::Client, inputs: &Inputs<'_>, log: &Log) -> Result<Vec<Check>> {
    let cc = kubesphere::cluster_configuration(client).await?;
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| Error::api("get the Kubernetes version", e))?;
    let helm = match &inputs.helm {
        Ok(h) => match h.version(log).await {
            Ok(v) => Ok(v),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.clone()),
    };
    let scs: Api<StorageClass> = Api::all(client.clone());
    let classes: Vec<(String, bool)> =
        list::list_all(&scs, &ListParams::default(), "list storageclasses")
            .await?
            .iter()
            .map(|s| {
                (
                    s.metadata.name.clone().unwrap_or_default(),
                    is_default_class(s),
                )
            })
            .collect();
    let nodes: Api<Node> = Api::all(client.clone());
    let nodes: Vec<(String, String)> = list::list_all(&nodes, &ListParams::default(), "list nodes")
        .await?
        .iter()
        .map(|n| {
            (
                n.metadata.name.clone().unwrap_or_default(),
                nodes::ready(n).0,
            )
        })
        .collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let mut installer = Vec::new();
    for p in list::list_all(
        &pods,
        &ListParams::default().labels("app in (ks-install, ks-installer)"),
        "list ks-installer pods in kubesphere-system",
    )
    .await?
    {
        let name = p.metadata.name.clone().unwrap_or_default();
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let logs = if phase == "Running" {
            let lp = LogParams {
                tail_lines: Some(20),
                ..Default::default()
            };
            pods.logs(&name, &lp)
                .await
                .map_err(|e| crate::error::describe_kube_error(&e))
        } else {
            Ok(String::new())
        };
        installer.push((name, phase, logs));
    }
    let revisions =
        releases::list_revisions(client, Some(SYSTEM_NAMESPACE), Some(KS_CORE_RELEASE), false)
            .await?;
    let configured = kubesphere::configured_role(client).await?;
    let crds = match (&inputs.helm, inputs.chart) {
        (Ok(h), Some(chart)) => crds_with_stored_versions(client, h, chart, log).await?,
        (Err(e), _) => Err(format!("no helm to read the chart's CRDs with ({e})")),
        (Ok(_), None) => Err("no chart to read the CRDs of".to_string()),
    };

    let mut checks = vec![
        installer_version(cc.as_ref()),
        kubernetes_version(&version.git_version),
        helm_version(helm),
        default_storage_class(&classes, inputs.storage_class),
        nodes_ready(&nodes),
        installer_idle(&installer),
        ks_core_not_pending(&revisions),
        role_matches(inputs.role, configured),
        crd_stored_versions(crds.as_deref().map_err(Clone::clone)),
    ];
    apply_ignores(&mut checks, inputs.ignore);
    Ok(checks)
}

/// Marks failing checks named in `ignore` as ignored.
pub fn apply_ignores(checks: &mut [Check], ignore: &[String]) {
    for c in checks.iter_mut() {
        if !c.ok && ignore.iter().any(|i| i == c.code.as_str()) {
            c.ignored = true;
        }
    }
}

/// Validates `--ignore-check` codes against the checks of the command.
pub fn validate_ignores(ignore: &[String], known: &[Code]) -> Result<()> {
    for i in ignore {
        if !known.iter().any(|c| c.as_str() == i) {
            let names: Vec<&str> = known.iter().map(|c| c.as_str()).collect();
            return Err(Error::usage(format!(
                "unknown check `{i}` in --ignore-check (checks: {})",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cc(version: Option<&str>) -> DynamicObject {
        let mut v = json!({"apiVersion": "installer.kubesphere.io/v1alpha1", "kind": "ClusterConfiguration",
            "metadata": {"name": "ks-installer", "namespace": "kubesphere-system"}});
        if let Some(ver) = version {
            v["metadata"]["labels"] = json!({"version": ver});
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_documented_checks_match_the_codes() {
        let doc = include_str!("../../../docs/ks-migrate.md");
        let table = doc
            .split("| Code | Passes when |")
            .nth(1)
            .expect("docs/ks-migrate.md has the pre-check table");
        let documented: Vec<&str> = table
            .lines()
            .skip(2) // the rest of the header line, the separator
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.strip_prefix("| `")?.split_once("` |"))
            .map(|(code, _)| code)
            .collect();
        let codes: Vec<&str> = Code::MIGRATION.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            documented, codes,
            "docs/ks-migrate.md's pre-check table (left) differs from precheck::Code::MIGRATION (right)"
        );
    }

    #[test]
    fn a_failed_check_names_its_objects_and_ignoring_it_makes_it_advisory() {
        let nodes = [
            ("a".to_string(), "True".to_string()),
            ("b".to_string(), "False".to_string()),
            ("c".to_string(), "Unknown".to_string()),
        ];
        let mut c = nodes_ready(&nodes);
        assert_eq!(
            c.objects,
            [
                ObjectRef::cluster("Node", "b"),
                ObjectRef::cluster("Node", "c")
            ]
        );
        assert_eq!(c.severity(), Some(Severity::Blocking));
        assert!(c.blocks());
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["code"], "nodes-ready");
        assert_eq!(v["objects"][0], json!({"kind": "Node", "name": "b"}));
        apply_ignores(std::slice::from_mut(&mut c), &["nodes-ready".into()]);
        assert_eq!(c.severity(), Some(Severity::Advisory));
        assert!(!c.blocks());
        let ok = nodes_ready(&nodes[..1]);
        assert_eq!(ok.severity(), None);
        assert!(serde_json::to_value(&ok).unwrap().get("objects").is_none());
    }

    #[test]
    fn installer_version_needs_v3_4() {
        assert!(installer_version(Some(&cc(Some("v3.4.1")))).ok);
        assert!(installer_version(Some(&cc(Some("v3.4.0")))).ok);
        let c = installer_version(Some(&cc(Some("v3.3.2"))));
        assert!(!c.ok && c.message.contains("older than v3.4.0"), "{c:?}");
        assert!(!installer_version(Some(&cc(None))).ok);
        assert!(!installer_version(Some(&cc(Some("latest")))).ok);
        let c = installer_version(None);
        assert!(!c.ok && c.message.contains("no ClusterConfiguration"));
    }

    #[test]
    fn kubernetes_must_be_1_21_to_1_30() {
        assert!(kubernetes_version("v1.26.15").ok);
        assert!(kubernetes_version("v1.21.0").ok);
        assert!(kubernetes_version("v1.30.9-eks-abc").ok);
        assert!(!kubernetes_version("v1.20.15").ok);
        assert!(!kubernetes_version("v1.31.0").ok);
        assert!(!kubernetes_version("nonsense").ok);
    }

    #[test]
    fn helm_must_be_3_13_or_later() {
        let v = |s: &str| Ok((s.to_string(), super::super::helm::parse_version(s).unwrap()));
        assert!(helm_version(v("v3.15.4+gfa9efb0")).ok);
        assert!(helm_version(v("v3.13.0")).ok);
        let c = helm_version(v("v3.12.3+g3a31588"));
        assert!(!c.ok && c.message.contains("older than v3.13.0"));
        assert!(!helm_version(v("v4.0.0")).ok);
        assert!(!helm_version(Err("helm not found on PATH".into())).ok);
    }

    #[test]
    fn storage_needs_a_default_or_a_named_class() {
        let classes = vec![("local".to_string(), false), ("fast".to_string(), false)];
        assert!(!default_storage_class(&classes, None).ok);
        assert!(default_storage_class(&classes, Some("fast")).ok);
        assert!(!default_storage_class(&classes, Some("slow")).ok);
        let classes = vec![("local".to_string(), true)];
        assert!(default_storage_class(&classes, None).ok);
    }

    #[test]
    fn every_node_must_be_ready() {
        let n = |name: &str, s: &str| (name.to_string(), s.to_string());
        assert!(nodes_ready(&[n("a", "True"), n("b", "True")]).ok);
        let c = nodes_ready(&[n("a", "True"), n("worker-2", "Unknown")]);
        assert!(
            !c.ok && c.message.contains("worker-2 (Ready=Unknown)"),
            "{c:?}"
        );
        assert!(!nodes_ready(&[]).ok);
    }

    #[test]
    fn installer_idle_reads_the_welcome_line() {
        let p = |phase: &str, logs: std::result::Result<&str, &str>| {
            (
                "ks-installer-x".to_string(),
                phase.to_string(),
                logs.map(String::from).map_err(String::from),
            )
        };
        assert!(installer_idle(&[]).ok);
        assert!(installer_idle(&[p("Succeeded", Ok(""))]).ok);
        assert!(installer_idle(&[p("Running", Ok("...\nWelcome to KubeSphere!\n..."))]).ok);
        let c = installer_idle(&[p("Running", Ok("TASK [ks-core : ...]"))]);
        assert!(!c.ok && c.message.contains("tasks are running"));
        let c = installer_idle(&[p("Running", Err("404"))]);
        assert!(!c.ok && c.message.contains("cannot read the logs"));
    }

    #[test]
    fn a_pending_ks_core_names_the_secret() {
        let r = |n: u32, status: &str| releases::Revision {
            name: "ks-core".into(),
            namespace: "kubesphere-system".into(),
            revision: n,
            status: status.into(),
            object: format!("sh.helm.release.v1.ks-core.v{n}"),
            storage: releases::Storage::Secret,
        };
        assert!(ks_core_not_pending(&[r(1, "superseded"), r(2, "deployed")]).ok);
        let c = ks_core_not_pending(&[r(2, "deployed"), r(3, "pending-upgrade")]);
        assert!(!c.ok);
        assert!(
            c.hint
                .unwrap()
                .contains("delete secret sh.helm.release.v1.ks-core.v3")
        );
        assert!(!ks_core_not_pending(&[]).ok);
    }

    #[test]
    fn the_role_must_match() {
        assert!(role_matches(Role::Host, Some(Role::Host)).ok);
        assert!(role_matches(Role::Host, Some(Role::None)).ok);
        assert!(role_matches(Role::Member, Some(Role::Member)).ok);
        let c = role_matches(Role::Host, Some(Role::Member));
        assert!(!c.ok && c.message.contains("is a member"), "{c:?}");
        assert!(!role_matches(Role::Member, Some(Role::None)).ok);
        assert!(!role_matches(Role::Host, None).ok);
    }

    fn crd(name: &str, chart: &[&str], stored: Option<&[&str]>) -> CrdVersions {
        CrdVersions {
            name: name.into(),
            chart: chart.iter().map(|v| v.to_string()).collect(),
            chart_storage: chart.last().map(|v| v.to_string()),
            stored: stored.map(|s| s.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn stored_versions_must_stay_in_the_chart() {
        let ok = [
            crd(
                "users.iam.kubesphere.io",
                &["v1alpha2", "v1beta1"],
                Some(&["v1alpha2"]),
            ),
            crd("installplans.kubesphere.io", &["v1alpha1"], None),
        ];
        let c = crd_stored_versions(Ok(&ok));
        assert!(c.ok, "{c:?}");
        assert!(c.message.contains("1 of the chart's 2 CRDs"), "{c:?}");

        let bad = [
            crd(
                "users.iam.kubesphere.io",
                &["v1alpha2", "v1beta1"],
                Some(&["v1alpha1", "v1alpha2"]),
            ),
            crd(
                "groups.iam.kubesphere.io",
                &["v1beta1"],
                Some(&["v1alpha2"]),
            ),
            crd("installplans.kubesphere.io", &["v1alpha1"], None),
        ];
        let c = crd_stored_versions(Ok(&bad));
        assert!(!c.ok);
        assert!(
            c.message
                .contains("CRD users.iam.kubesphere.io has stored v1alpha1"),
            "{c:?}"
        );
        assert!(
            c.message
                .contains("CRD groups.iam.kubesphere.io has stored v1alpha2")
        );
        assert!(!c.message.contains("installplans"));
        let hint = c.hint.unwrap();
        assert!(hint.contains(STORED_VERSION_DOC));
        assert!(hint.contains("migrate the stored objects"));
        // The versions left are the kept ones, or the chart's storage version.
        assert!(hint.contains(
            r#"kubectl patch crd users.iam.kubesphere.io --subresource=status --type=merge -p '{"status":{"storedVersions":["v1alpha2"]}}'"#
        ), "{hint}");
        assert!(hint.contains(r#"groups.iam.kubesphere.io --subresource=status --type=merge -p '{"status":{"storedVersions":["v1beta1"]}}'"#), "{hint}");

        let c = crd_stored_versions(Err("helm show crds failed".into()));
        assert!(!c.ok && c.message.contains("helm show crds failed"));
    }

    #[test]
    fn chart_crds_are_read_from_helm_show_crds() {
        let text = "---\n# Source: ks-core/crds/a.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: users.iam.kubesphere.io\nspec:\n  versions:\n  - name: v1alpha2\n    served: false\n    storage: false\n  - name: v1beta1\n    served: true\n    storage: true\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        let crds = chart_crds(text).unwrap();
        assert_eq!(crds.len(), 1);
        assert_eq!(crds[0].name, "users.iam.kubesphere.io");
        assert_eq!(crds[0].chart, ["v1alpha2", "v1beta1"]);
        assert_eq!(crds[0].chart_storage.as_deref(), Some("v1beta1"));
        assert_eq!(crds[0].stored, None);
    }

    #[test]
    fn ignored_checks_do_not_block() {
        let mut checks = vec![nodes_ready(&[]), kubernetes_version("v1.26.0")];
        apply_ignores(&mut checks, &["nodes-ready".to_string()]);
        assert!(checks.iter().all(|c| !c.blocks()));
        assert!(validate_ignores(&["nodes-ready".into()], &Code::MIGRATION).is_ok());
        assert!(validate_ignores(&["nodes".into()], &Code::MIGRATION).is_err());
        assert!(validate_ignores(&["ks-core-v4".into()], &Code::GATEWAY).is_ok());
        assert!(validate_ignores(&["ks-core-v4".into()], &Code::MIGRATION).is_err());
        // The report spells each code as the flag does.
        for c in Code::MIGRATION.iter().chain(&Code::GATEWAY) {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
