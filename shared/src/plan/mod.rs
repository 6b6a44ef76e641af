//! `kubectl upgrade-plan`: a read-only plan and readiness gate for Kubernetes and KubeSphere
//! upgrades.
//!
//! It reads what runs now ([`inventory`]), resolves the targets and the step-by-step path
//! ([`path`]), checks the cluster against the path ([`checks`], with the removal table of
//! [`apis`]), writes the runbook ([`steps`]) and prints one `UpgradePlan` report ([`report`]).
//! Exit 0: ready; 1: Required findings (or any finding with `--fail-on warn`); 2: could not run.

pub mod apis;
pub mod checks;
pub(crate) mod codes;
pub mod findings;
pub mod inventory;
pub mod path;
pub mod report;
pub(crate) mod steps;
pub(crate) mod summary;

use clap::ValueEnum;

use self::{
    checks::KubeSphereFacts,
    codes::Code,
    findings::{Finding, Severity},
    inventory::{BuildKind, Inventory},
    path::Component,
    report::{
        API_VERSION, ApiSection, ClusterSection, KubeSphereSection, MemberRow, Metadata,
        ScannedKind, Summary, Targets, UpgradePlan,
    },
};
use crate::{ExitStatus, Result, client::Cluster, version::Version};

/// Which findings make the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Required findings only (the default).
    Required,
    /// Required and Recommended findings (for CI).
    Warn,
}

impl FailOn {
    /// The least severe finding that makes the exit status 1.
    pub fn threshold(self) -> crate::model::Severity {
        match self {
            Self::Required => Severity::Blocking,
            Self::Warn => Severity::Advisory,
        }
    }
}

/// What to plan for. The default plans the next Kubernetes minor and the next KubeSphere release
/// on the supported path.
///
/// ```no_run
/// # async fn example() -> kupgrade::Result<()> {
/// use kupgrade::{client, plan};
///
/// let cluster = client::connect(&client::ConnectOptions::default()).await?;
/// let options = plan::Options {
///     kubernetes_target: Some(plan::path::parse_kubernetes_target("v1.28")?),
///     ..plan::Options::default()
/// };
/// let report = plan::plan(&cluster, &options).await?;
/// let status = plan::exit_status(&report.findings, plan::FailOn::Required);
/// # let _ = status;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The Kubernetes target (`--target`; see [`path::parse_kubernetes_target`]).
    pub kubernetes_target: Option<Version>,
    /// The KubeSphere target (`--ks-target`; see [`path::parse_kubesphere_target`]).
    pub kubesphere_target: Option<Version>,
}

/// Plans one connected cluster: reads its version and state and builds the report.
pub async fn plan(cluster: &Cluster, options: &Options) -> Result<UpgradePlan> {
    plan_with(cluster, options, |_| {}).await
}

/// [`plan`], telling `reading` the cluster's version before its state is read (the command
/// says so on stderr). `--fleet` calls [`plan`] for every cluster.
pub async fn plan_with(
    cluster: &Cluster,
    options: &Options,
    reading: impl FnOnce(&Version),
) -> Result<UpgradePlan> {
    let info = crate::list::retry_read("get the API server version", || {
        cluster.client.apiserver_version()
    })
    .await?;
    let current: Version = info.git_version.parse().map_err(|e| {
        crate::Error::parse(format!("API server version `{}`", info.git_version), e)
    })?;
    let k8s_target = path::resolve_kubernetes_target(&current, options.kubernetes_target.as_ref())?;
    reading(&current);
    let mut inv = inventory::collect(&cluster.client, &current, &k8s_target).await?;
    inv.apiserver = Some(current.clone());
    let ks_current = inv.kubesphere.as_ref().and_then(|k| k.version.clone());
    let ks_target =
        path::resolve_kubesphere_target(ks_current.as_ref(), options.kubesphere_target.as_ref())?;
    // The 3.3.1 role changes matter only to a path that crosses 3.3.1: a cluster already past
    // it is not read (its IAM CRDs may even be gone) and gets no KS003.
    if checks::crosses_role_changes(ks_current.as_ref(), ks_target.as_ref()) {
        inventory::collect_iam(&cluster.client, &mut inv).await;
    }
    build_plan(
        &inv,
        &current,
        &k8s_target,
        ks_target.as_ref(),
        cluster.context.clone(),
        cluster.server.clone(),
    )
}

/// The exit status, with the same precedence as `kubectl health`: a real blocking finding (1)
/// beats a check that could not run (`CHECK001`, 2), which beats a clean plan (0). "Fix the
/// cluster" and "give me the permissions to look" are different answers for CI.
pub fn exit_status(findings: &[Finding], fail_on: FailOn) -> ExitStatus {
    let counts = |f: &&Finding| f.severity.reaches(fail_on.threshold());
    let not_checked = |f: &Finding| f.code == Code::Check001;
    if findings.iter().filter(counts).any(|f| !not_checked(f)) {
        ExitStatus::Findings
    } else if findings.iter().any(not_checked) {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    }
}

/// Builds the report from what was collected (pure: no API calls).
pub(crate) fn build_plan(
    inv: &Inventory,
    current: &Version,
    k8s_target: &Version,
    ks_target: Option<&Version>,
    context: Option<String>,
    server: String,
) -> Result<UpgradePlan> {
    let build = inventory::detect_build(current, inv.kubeadm.as_ref(), &inv.nodes);
    let kubekey = build.kind == BuildKind::Kubekey;
    let k8s_tool = match build.kind {
        BuildKind::Kubekey => "kubeadm (via KubeKey)".to_string(),
        k => k.tool().to_string(),
    };
    let ks = inv.kubesphere.as_ref();
    let ks_current = ks.and_then(|k| k.version.clone());
    let path = path::plan_path(
        current,
        k8s_target,
        ks_current.as_ref(),
        ks_target,
        &k8s_tool,
        kubekey,
    );
    let first_k8s = path
        .iter()
        .find(|s| s.component == Component::Kubernetes)
        .and_then(|s| s.to.parse::<Version>().ok());
    let ks_step = path.iter().any(|s| s.component == Component::Kubesphere);
    let migration_step = path
        .iter()
        .any(|s| s.component == Component::Kubesphere && s.to.starts_with("v4"));

    let versions = report::node_versions(inv);
    let target_text = if path.iter().any(|s| s.component == Component::Kubernetes) {
        if k8s_target.has_patch {
            k8s_target.to_string()
        } else {
            format!("{}.x", k8s_target.minor_string())
        }
    } else {
        current.to_string()
    };
    let components = report::component_rows(inv, &versions, &target_text, build.kind.is_kubeadm());

    let table = apis::table()?;
    let mut f: Vec<Finding> = Vec::new();
    f.extend(checks::check_nodes(&inv.nodes));
    let k8s_steps: Vec<Version> = path
        .iter()
        .filter(|s| s.component == Component::Kubernetes)
        .filter_map(|s| s.to.parse::<Version>().ok())
        .collect();
    let k8s_end = k8s_steps.last().unwrap_or(current);
    let first_needing_containerd_2 = k8s_steps
        .iter()
        .find(|v| v.minor_key() > checks::runtime::LAST_MINOR_WITH_CONTAINERD_1);
    f.extend(checks::check_runtime(
        &inv.nodes,
        k8s_end,
        first_needing_containerd_2,
    ));
    f.extend(checks::check_skew(current, first_k8s.as_ref(), &versions));
    f.extend(checks::check_control_plane(&components));
    f.extend(checks::check_pdbs(&inv.pdbs));
    f.extend(checks::check_bare_pods(&inv.bare_pods));
    f.extend(checks::check_unhealthy_pods(&inv.unhealthy_pods));
    f.extend(checks::check_single_replicas(
        &inv.deployments,
        &inv.statefulsets,
    ));
    f.extend(checks::check_apiservices(&inv.apiservices));
    f.extend(checks::check_webhooks(
        &inv.validating,
        &inv.mutating,
        &inv.webhook_endpoints,
    ));
    f.extend(checks::check_helm(&inv.helm, ks_step));
    f.extend(checks::check_default_storage_class(
        &inv.storage_classes,
        migration_step,
    ));
    let installer_deployment = inv.deployments.iter().any(|d| {
        d.namespace == crate::kubesphere::SYSTEM_NAMESPACE && d.name == crate::kubesphere::INSTALLER
    });
    if let Some(k) = ks {
        f.extend(checks::check_kubesphere(&KubeSphereFacts {
            ks: k,
            clusters: inv.clusters.as_deref(),
            helm: &inv.helm,
            installer_deployment,
            path: &path,
        }));
    }
    if let Some(iam) = &inv.iam
        && checks::crosses_role_changes(ks_current.as_ref(), ks_target)
    {
        f.extend(checks::check_role_changes(iam));
    }
    f.extend(checks::check_apis(
        table,
        current,
        k8s_target,
        &inv.stored_uses,
        &inv.helm_uses,
        inv.metric.as_deref(),
    ));
    f.extend(report::check_findings(&inv.skipped));
    report::sort_findings(&mut f);

    // The runbook, with whatever an interrupted 4.1 migration left to do first.
    let members: Vec<String> = inv
        .clusters
        .iter()
        .flatten()
        .filter(|c| !c.host)
        .map(|c| c.name.clone())
        .collect();
    let mut steps = steps::build_steps(inv, build.kind, &path, &members);
    let unmigrated: Vec<String> = f
        .iter()
        .filter(|x| x.code == Code::Ks004)
        .map(|x| x.object.name.clone())
        .collect();
    let tainted: Vec<String> = f
        .iter()
        .filter(|x| x.code == Code::Ks005)
        .map(|x| x.object.name.clone())
        .collect();
    let gateways = f.iter().any(|x| x.code == Code::Ks006);
    steps = steps::with_finish(
        steps,
        steps::finish_migration(&unmigrated, &tainted, gateways),
    );

    let etcd_static = components.iter().any(|c| c.component == "etcd");
    let etcd = if etcd_static {
        "stacked (static pods)".to_string()
    } else if inv.kubeadm.as_ref().is_some_and(|k| k.external_etcd) {
        "external (kubeadm-config etcd.external)".to_string()
    } else if build.kind.is_managed() {
        "managed by the provider".to_string()
    } else {
        "unknown".to_string()
    };
    let kubesphere = ks.map(|k| KubeSphereSection {
        version: k.version.as_ref().map(|v| v.to_string()),
        source: k.source.clone(),
        role: k.role.to_string(),
        installer_target: k.installer_target.as_ref().map(|v| v.to_string()),
        ks_core_chart: k.ks_core_chart.as_ref().map(|c| {
            format!(
                "chart {}-{}, appVersion {}",
                c.name, c.version, c.app_version
            )
        }),
        ks_core_status: k
            .ks_core
            .as_ref()
            .map(|r| format!("revision {} {}", r.revision, r.status)),
        etcd_endpoint_ips: inv.ks_etcd_endpoint_ips.clone(),
        etcd_endpoints: inv.etcd_endpoint_addresses.clone(),
        members: inv
            .clusters
            .iter()
            .flatten()
            .map(|c| MemberRow {
                name: c.name.clone(),
                host: c.host,
                kubesphere_version: c.kubesphere_version.clone().unwrap_or_else(|| "-".into()),
                kubernetes_version: c.kubernetes_version.clone().unwrap_or_else(|| "-".into()),
                ready: c.is_ready(),
                schedulable: !c.is_unschedulable(),
            })
            .collect(),
        extensions: inv.extensions.clone(),
    });
    let metric = match &inv.metric {
        Some(m) => format!("read ({} deprecated API series)", m.len()),
        None => inv
            .skipped
            .iter()
            .find(|s| s.check.contains("/metrics"))
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| "not read".into()),
    };
    let required = f
        .iter()
        .filter(|x| x.severity == Severity::Blocking)
        .count();
    let recommended = f.len() - required;
    Ok(UpgradePlan {
        api_version: API_VERSION,
        kind: "UpgradePlan",
        metadata: Metadata { context, server },
        cluster: ClusterSection {
            kubernetes_version: current.to_string(),
            build,
            etcd,
            nodes: report::node_rows(inv, &versions),
            kubesphere,
        },
        targets: Targets {
            kubernetes: k8s_target.to_string(),
            kubesphere: ks_target.map(|v| v.to_string()),
        },
        components,
        path,
        findings: f,
        deprecated_apis: ApiSection {
            scanned: inv
                .scanned
                .iter()
                .map(|(k, v)| ScannedKind {
                    kind: k.clone(),
                    listed_as: v.clone(),
                })
                .collect(),
            helm_releases_read: inv.helm.iter().filter(|r| r.status == "deployed").count(),
            metric,
        },
        skipped: inv.skipped.clone(),
        steps,
        summary: Summary {
            ready: required == 0,
            required,
            recommended,
            not_checked: inv.skipped.len(),
        },
    })
}

#[cfg(test)]
mod exit_tests {
    use super::*;
    use crate::plan::findings::ObjectRef;

    fn f(code: Code, severity: Severity) -> Finding {
        Finding {
            code,
            severity,
            object: ObjectRef::cluster("Check", "x"),
            message: String::new(),
            remedy: None,
            step: None,
        }
    }

    #[test]
    fn blocking_findings_beat_checks_not_run_which_beat_a_clean_plan() {
        use Severity::{Advisory, Blocking};
        let required = FailOn::Required;
        assert_eq!(exit_status(&[], required), ExitStatus::Success);
        assert_eq!(
            exit_status(&[f(Code::Wl001, Advisory)], required),
            ExitStatus::Success
        );
        assert_eq!(
            exit_status(&[f(Code::Wl001, Advisory)], FailOn::Warn),
            ExitStatus::Findings
        );
        assert_eq!(
            exit_status(&[f(Code::Check001, Blocking)], required),
            ExitStatus::Error
        );
        assert_eq!(
            exit_status(
                &[f(Code::Check001, Blocking), f(Code::Node001, Blocking)],
                required
            ),
            ExitStatus::Findings
        );
        assert_eq!(
            exit_status(
                &[f(Code::Check001, Blocking), f(Code::Wl001, Advisory)],
                FailOn::Warn
            ),
            ExitStatus::Findings
        );
    }
}
