//! The `UpgradePlan` report (`kupgrade.dev/v1alpha1`): built from the inventory, the path and
//! the findings; rendered as kubeadm-like tables, or as a Markdown playbook for a change ticket.

use std::io::Write;

use serde::Serialize;

use super::{
    checks::{control_plane::ComponentVersion, skew::NodeVersions},
    codes::Code,
    findings::{Finding, ObjectRef, Severity},
    inventory::{ClusterBuild, Extension, Inventory, Skipped},
    path::PathStep,
    steps::Step,
};
use crate::{
    output::{
        Report, Style,
        table::{Cell, Table, Tone},
    },
    version::{Version, image_tag},
};

/// The report's apiVersion.
pub const API_VERSION: &str = "kupgrade.dev/v1alpha1";

/// The plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradePlan {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `UpgradePlan`.
    pub kind: &'static str,
    /// Where it was computed.
    pub metadata: Metadata,
    /// What runs now.
    pub cluster: ClusterSection,
    /// The targets.
    pub targets: Targets,
    /// Component versions now and after the path (kubeadm's COMPONENT NODE CURRENT TARGET).
    pub components: Vec<ComponentVersion>,
    /// The path, step by step.
    pub path: Vec<PathStep>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// What the deprecated-API check looked at.
    pub deprecated_apis: ApiSection,
    /// Checks that could not run.
    pub skipped: Vec<Skipped>,
    /// The runbook.
    pub steps: Vec<Step>,
    /// Counts and the verdict.
    pub summary: Summary,
}

/// Context and server.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// kubeconfig context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// API server URL.
    pub server: String,
}

/// What runs now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSection {
    /// `/version`.
    pub kubernetes_version: String,
    /// How it was built.
    pub build: ClusterBuild,
    /// `stacked` (static pods), `external` (kubeadm-config), `managed`, `unknown`.
    pub etcd: String,
    /// Nodes.
    pub nodes: Vec<NodeRow>,
    /// KubeSphere, when installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubesphere: Option<KubeSphereSection>,
}

/// A node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRow {
    /// Name.
    pub name: String,
    /// Roles from `node-role.kubernetes.io/*`.
    pub roles: Vec<String>,
    /// Ready condition status.
    pub ready: String,
    /// Not cordoned.
    pub schedulable: bool,
    /// kubelet.
    pub kubelet: String,
    /// kube-proxy.
    pub kube_proxy: String,
    /// Where the kube-proxy version came from.
    pub kube_proxy_source: String,
    /// containerRuntimeVersion.
    pub container_runtime: String,
    /// osImage.
    pub os_image: String,
    /// kernelVersion.
    pub kernel_version: String,
}

/// KubeSphere now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSphereSection {
    /// Running version.
    pub version: Option<String>,
    /// Where it was read.
    pub source: String,
    /// host, member, none, unknown.
    pub role: String,
    /// ks-installer target label (3.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installer_target: Option<String>,
    /// ks-core chart of the deployed revision (`ks-core 1.1.4 / v4.1.3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_core_chart: Option<String>,
    /// Latest ks-core revision and status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_core_status: Option<String>,
    /// cc `spec.etcd.endpointIps` (3.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd_endpoint_ips: Option<String>,
    /// Addresses of Endpoints kube-system/etcd (what ks-migrate fills `endpointIps` from).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub etcd_endpoints: Vec<String>,
    /// Member clusters (on a host).
    pub members: Vec<MemberRow>,
    /// v4 extensions.
    pub extensions: Vec<Extension>,
}

/// A KubeSphere cluster as the host sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRow {
    /// Name.
    pub name: String,
    /// The host itself.
    pub host: bool,
    /// KubeSphere version.
    pub kubesphere_version: String,
    /// Kubernetes version.
    pub kubernetes_version: String,
    /// Ready=True.
    pub ready: bool,
    /// Not Schedulable=False.
    pub schedulable: bool,
}

/// The targets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Targets {
    /// Kubernetes (`v1.27` = its newest patch).
    pub kubernetes: String,
    /// KubeSphere, when installed and not already newest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubesphere: Option<String>,
}

/// The deprecated-API scan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSection {
    /// Kinds listed and the apiVersion they were listed at.
    pub scanned: Vec<ScannedKind>,
    /// Deployed Helm revisions read.
    pub helm_releases_read: usize,
    /// The metric: `read` or why not.
    pub metric: String,
}

/// A listed kind.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScannedKind {
    /// Kind.
    pub kind: String,
    /// apiVersion listed, or `not served`.
    pub listed_as: String,
}

/// Counts and verdict.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// No Required finding.
    pub ready: bool,
    /// Required findings.
    pub required: usize,
    /// Recommended findings.
    pub recommended: usize,
    /// Checks that could not run.
    pub not_checked: usize,
}

/// Node versions as the skew check wants them, with kube-proxy from the pod running on the node
/// (what actually runs) and the deprecated `nodeInfo.kubeProxyVersion` as the fallback.
pub fn node_versions(inv: &Inventory) -> Vec<NodeVersions> {
    // kube-proxy pods by node: one pass, not one scan of the pods per node.
    let mut proxy_by_node: std::collections::HashMap<&str, Option<&str>> =
        std::collections::HashMap::new();
    for p in inv.kube_system_pods.iter().filter(|p| p.is_kube_proxy()) {
        if let Some(node) = p.node.as_deref() {
            proxy_by_node.entry(node).or_insert(p.image.as_deref());
        }
    }
    inv.nodes
        .iter()
        .map(|n| {
            let name = n.name.clone();
            let kubelet = n
                .kubelet_version
                .as_deref()
                .and_then(|v| v.parse::<Version>().ok());
            let from_pod = proxy_by_node
                .get(name.as_str())
                .copied()
                .flatten()
                .and_then(|img| image_tag(img).and_then(|t| t.parse::<Version>().ok()));
            let from_info = n
                .kube_proxy_version
                .as_deref()
                .and_then(|s| s.parse::<Version>().ok());
            let (kube_proxy, source) = match (from_pod, from_info) {
                (Some(v), _) => (Some(v), "kube-proxy pod image".to_string()),
                (None, Some(v)) => (Some(v), "nodeInfo.kubeProxyVersion".to_string()),
                _ => (None, "not found".to_string()),
            };
            NodeVersions {
                name,
                control_plane: n.is_control_plane(),
                kubelet,
                kube_proxy,
                kube_proxy_source: source,
            }
        })
        .collect()
}

/// Node rows for the report.
pub fn node_rows(inv: &Inventory, versions: &[NodeVersions]) -> Vec<NodeRow> {
    inv.nodes
        .iter()
        .zip(versions)
        .map(|(n, v)| {
            let mut roles = n.roles();
            roles.sort();
            NodeRow {
                name: v.name.clone(),
                roles,
                ready: n.ready.clone(),
                schedulable: !n.unschedulable,
                kubelet: v
                    .kubelet
                    .as_ref()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "-".into()),
                kube_proxy: v
                    .kube_proxy
                    .as_ref()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "-".into()),
                kube_proxy_source: v.kube_proxy_source.clone(),
                container_runtime: n.container_runtime.clone(),
                os_image: n.os_image.clone(),
                kernel_version: n.kernel_version.clone(),
            }
        })
        .collect()
}

/// The kubeadm-style component rows.
pub fn component_rows(
    inv: &Inventory,
    versions: &[NodeVersions],
    k8s_target: &str,
    kubeadm: bool,
) -> Vec<ComponentVersion> {
    let mut out = Vec::new();
    let addon_target = if kubeadm { "kubeadm's default" } else { "-" };
    for comp in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ] {
        let mut rows: Vec<ComponentVersion> = inv
            .kube_system_pods
            .iter()
            .filter(|p| p.is_component(comp))
            .filter_map(|p| {
                let node = p.node.clone();
                let image = p.image.clone()?;
                Some(ComponentVersion {
                    component: comp.into(),
                    node,
                    current: image_tag(&image).unwrap_or("-").to_string(),
                    target: if comp == "etcd" {
                        addon_target.to_string()
                    } else {
                        k8s_target.to_string()
                    },
                })
            })
            .collect();
        rows.sort_by(|a, b| a.node.cmp(&b.node));
        out.extend(rows);
    }
    for v in versions {
        out.push(ComponentVersion {
            component: "kubelet".into(),
            node: Some(v.name.clone()),
            current: v
                .kubelet
                .as_ref()
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            target: k8s_target.into(),
        });
    }
    for v in versions {
        out.push(ComponentVersion {
            component: "kube-proxy".into(),
            node: Some(v.name.clone()),
            current: v
                .kube_proxy
                .as_ref()
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            target: k8s_target.into(),
        });
    }
    if let Some(img) = &inv.coredns_image {
        out.push(ComponentVersion {
            component: "CoreDNS".into(),
            node: None,
            current: image_tag(img).unwrap_or("-").to_string(),
            target: addon_target.into(),
        });
    }
    out
}

/// Sorts findings: Required first, then by code and object.
pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| (a.severity, &a.code, &a.object).cmp(&(b.severity, &b.code, &b.object)));
}

/// CHECK001 for every mandatory check that did not run.
pub fn check_findings(skipped: &[Skipped]) -> Vec<Finding> {
    skipped
        .iter()
        .filter(|s| !s.optional)
        .map(|s| {
            Finding::new(Code::Check001, ObjectRef::cluster("Check", &s.check), format!("could not check: {}", s.reason))
                .remedy("grant the permission (docs/rbac/upgrade-plan.yaml) and run again; until then this is not verified")
        })
        .collect()
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn sev_cell(s: Severity) -> Cell {
    Cell::new(
        s.plan_label(),
        if s == Severity::Blocking {
            Tone::Bad
        } else {
            Tone::Warn
        },
    )
}

impl Report for UpgradePlan {
    fn render_table(&self, out: &mut dyn Write, style: &Style, wide: bool) -> std::io::Result<()> {
        let c = &self.cluster;
        writeln!(out, "CLUSTER")?;
        writeln!(
            out,
            "Kubernetes {} built with {} ({}); etcd {}",
            c.kubernetes_version,
            c.build.tool,
            c.build.evidence.join("; "),
            c.etcd
        )?;
        if let Some(ks) = &c.kubesphere {
            writeln!(
                out,
                "KubeSphere {} (role {}, from {}){}{}",
                ks.version.as_deref().unwrap_or("-"),
                ks.role,
                ks.source,
                ks.ks_core_chart
                    .as_ref()
                    .map(|x| format!("; ks-core {x}"))
                    .unwrap_or_default(),
                ks.etcd_endpoint_ips
                    .as_ref()
                    .map(|x| format!("; etcd.endpointIps {x}"))
                    .unwrap_or_default()
            )?;
        }
        writeln!(
            out,
            "Targets: Kubernetes {}{}",
            self.targets.kubernetes,
            self.targets
                .kubesphere
                .as_ref()
                .map(|k| format!(", KubeSphere {k}"))
                .unwrap_or_default()
        )?;

        writeln!(out)?;
        let mut t = Table::new(&["COMPONENT", "NODE", "CURRENT", "TARGET"]);
        for r in &self.components {
            t.row(vec![
                r.component.clone().into(),
                r.node.clone().unwrap_or_default().into(),
                r.current.clone().into(),
                r.target.clone().into(),
            ]);
        }
        t.write_styled(out, style)?;

        writeln!(out)?;
        let mut headers = vec![
            "NODE",
            "ROLES",
            "READY",
            "SCHEDULABLE",
            "KUBELET",
            "KUBE-PROXY",
            "RUNTIME",
        ];
        if wide {
            headers.extend(["OS", "KERNEL"]);
        }
        let mut t = Table::new(&headers);
        for n in &c.nodes {
            let mut row: Vec<Cell> = vec![
                n.name.clone().into(),
                n.roles.join(",").into(),
                Cell::new(
                    n.ready.clone(),
                    if n.ready == "True" {
                        Tone::Good
                    } else {
                        Tone::Bad
                    },
                ),
                Cell::new(
                    yes(n.schedulable),
                    if n.schedulable {
                        Tone::Normal
                    } else {
                        Tone::Warn
                    },
                ),
                n.kubelet.clone().into(),
                n.kube_proxy.clone().into(),
                n.container_runtime.clone().into(),
            ];
            if wide {
                row.push(n.os_image.clone().into());
                row.push(n.kernel_version.clone().into());
            }
            t.row(row);
        }
        t.write_styled(out, style)?;

        if let Some(ks) = &c.kubesphere {
            if !ks.members.is_empty() {
                writeln!(out)?;
                let mut t = Table::new(&[
                    "CLUSTER",
                    "ROLE",
                    "KUBESPHERE",
                    "KUBERNETES",
                    "READY",
                    "SCHEDULABLE",
                ]);
                for m in &ks.members {
                    t.row(vec![
                        m.name.clone().into(),
                        (if m.host { "host" } else { "member" }).into(),
                        m.kubesphere_version.clone().into(),
                        m.kubernetes_version.clone().into(),
                        Cell::new(yes(m.ready), if m.ready { Tone::Good } else { Tone::Bad }),
                        Cell::new(
                            yes(m.schedulable),
                            if m.schedulable {
                                Tone::Normal
                            } else {
                                Tone::Warn
                            },
                        ),
                    ]);
                }
                t.write_styled(out, style)?;
            }
            if !ks.extensions.is_empty() {
                writeln!(out)?;
                let mut t = Table::new(&["EXTENSION", "VERSION", "STATE", "SCHEDULED ON"]);
                for e in &ks.extensions {
                    t.row(vec![
                        e.name.clone().into(),
                        e.version.clone().into(),
                        e.state.clone().into(),
                        e.clusters.join(",").into(),
                    ]);
                }
                t.write_styled(out, style)?;
            }
        }

        writeln!(out)?;
        writeln!(out, "PATH")?;
        if self.path.is_empty() {
            writeln!(out, "Nothing to upgrade: the targets are reached.")?;
        } else {
            let mut t = Table::new(&[
                "#",
                "COMPONENT",
                "FROM",
                "TO",
                "TOOL",
                "KUBERNETES",
                "KUBESPHERE",
                "SUPPORTED",
                "NOTE",
            ]);
            for s in &self.path {
                t.row(vec![
                    s.number.to_string().into(),
                    format!("{:?}", s.component).to_lowercase().into(),
                    s.from.clone().into(),
                    s.to.clone().into(),
                    s.tool.clone().into(),
                    s.kubernetes.clone().into(),
                    s.kubesphere.clone().unwrap_or_else(|| "-".into()).into(),
                    Cell::new(
                        yes(s.supported),
                        if s.supported { Tone::Good } else { Tone::Bad },
                    ),
                    s.note.clone().unwrap_or_default().into(),
                ]);
            }
            t.write_styled(out, style)?;
        }

        writeln!(out)?;
        writeln!(out, "FINDINGS")?;
        if self.findings.is_empty() {
            writeln!(out, "None.")?;
        } else {
            let mut headers = vec!["CODE", "SEVERITY", "OBJECT", "MESSAGE"];
            if wide {
                headers.push("REMEDY");
            }
            let mut t = Table::new(&headers);
            for f in &self.findings {
                let mut row = vec![
                    f.code.as_str().into(),
                    sev_cell(f.severity),
                    f.object.to_string().into(),
                    f.message.clone().into(),
                ];
                if wide {
                    row.push(f.remedy.clone().unwrap_or_default().into());
                }
                t.row(row);
            }
            t.write_styled(out, style)?;
        }
        if !self.skipped.is_empty() {
            writeln!(out)?;
            writeln!(out, "NOT CHECKED")?;
            let mut t = Table::new(&["CHECK", "OPTIONAL", "REASON"]);
            for s in &self.skipped {
                t.row(vec![
                    s.check.clone().into(),
                    yes(s.optional).into(),
                    s.reason.clone().into(),
                ]);
            }
            t.write_styled(out, style)?;
        }

        writeln!(out)?;
        writeln!(out, "STEPS")?;
        write_steps(out, &self.steps)?;
        writeln!(out)?;
        let verdict = if self.summary.ready {
            style.good("READY")
        } else {
            style.bad("NOT READY")
        };
        writeln!(
            out,
            "{verdict}: {} Required, {} Recommended finding(s); {} check(s) not run",
            self.summary.required, self.summary.recommended, self.summary.not_checked
        )
    }

    fn render_markdown(&self, out: &mut dyn Write) -> Option<std::io::Result<()>> {
        Some(self.markdown(out))
    }
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl UpgradePlan {
    fn markdown(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let c = &self.cluster;
        let ks_now = c
            .kubesphere
            .as_ref()
            .and_then(|k| k.version.clone())
            .map(|v| format!(", KubeSphere {v}"))
            .unwrap_or_default();
        let ks_to = self
            .targets
            .kubesphere
            .as_ref()
            .map(|v| format!(", KubeSphere {v}"))
            .unwrap_or_default();
        writeln!(
            out,
            "# Upgrade plan: Kubernetes {}{ks_now} → {}{ks_to}",
            c.kubernetes_version, self.targets.kubernetes
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "- Context: `{}` ({})",
            self.metadata.context.as_deref().unwrap_or("-"),
            self.metadata.server
        )?;
        writeln!(
            out,
            "- Built with: {} ({})",
            c.build.tool,
            c.build.evidence.join("; ")
        )?;
        writeln!(out, "- etcd: {}", c.etcd)?;
        writeln!(
            out,
            "- Verdict: **{}** ({} Required, {} Recommended, {} not checked)",
            if self.summary.ready {
                "ready"
            } else {
                "not ready"
            },
            self.summary.required,
            self.summary.recommended,
            self.summary.not_checked
        )?;
        writeln!(out)?;
        writeln!(out, "## Versions")?;
        writeln!(out)?;
        writeln!(out, "| Component | Node | Current | Target |")?;
        writeln!(out, "|---|---|---|---|")?;
        for r in &self.components {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.component,
                r.node.as_deref().unwrap_or(""),
                r.current,
                r.target
            )?;
        }
        if let Some(ks) = &c.kubesphere
            && !ks.members.is_empty()
        {
            writeln!(out)?;
            writeln!(
                out,
                "| Cluster | KubeSphere | Kubernetes | Ready | Schedulable |"
            )?;
            writeln!(out, "|---|---|---|---|---|")?;
            for m in &ks.members {
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    m.name,
                    m.kubesphere_version,
                    m.kubernetes_version,
                    yes(m.ready),
                    yes(m.schedulable)
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "## Path")?;
        writeln!(out)?;
        if self.path.is_empty() {
            writeln!(out, "Nothing to upgrade: the targets are reached.")?;
        } else {
            writeln!(
                out,
                "| # | Component | From | To | Tool | Kubernetes | KubeSphere | Supported | Note |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
            for s in &self.path {
                writeln!(
                    out,
                    "| {} | {:?} | {} | {} | {} | {} | {} | {} | {} |",
                    s.number,
                    s.component,
                    s.from,
                    s.to,
                    md(&s.tool),
                    s.kubernetes,
                    s.kubesphere.as_deref().unwrap_or("-"),
                    yes(s.supported),
                    md(s.note.as_deref().unwrap_or(""))
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "## Findings")?;
        writeln!(out)?;
        if self.findings.is_empty() {
            writeln!(out, "None.")?;
        } else {
            writeln!(out, "| Code | Severity | Object | Message | Remedy |")?;
            writeln!(out, "|---|---|---|---|---|")?;
            for f in &self.findings {
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    f.code,
                    f.severity.plan_label(),
                    md(&f.object.to_string()),
                    md(&f.message),
                    md(f.remedy.as_deref().unwrap_or(""))
                )?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(out)?;
            writeln!(out, "## Not checked")?;
            writeln!(out)?;
            for s in &self.skipped {
                writeln!(
                    out,
                    "- {}{}: {}",
                    s.check,
                    if s.optional { " (optional)" } else { "" },
                    s.reason
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "## Steps")?;
        for s in &self.steps {
            writeln!(out)?;
            writeln!(out, "### {}. {}", s.number, s.title)?;
            writeln!(out)?;
            writeln!(out, "- [ ] Phase: {} — where: {}", s.phase, s.where_)?;
            for n in &s.notes {
                writeln!(out, "- Note: {n}")?;
            }
            if !s.commands.is_empty() {
                writeln!(out)?;
                writeln!(out, "```sh")?;
                for c in &s.commands {
                    let line = if c.starts_with('#')
                        || c.starts_with("kubectl")
                        || c.starts_with("sudo")
                        || c.starts_with("helm")
                        || c.starts_with("./kk")
                        || c.starts_with("velero")
                        || c.starts_with("curl")
                        || c.starts_with("aws")
                        || c.starts_with("gcloud")
                        || c.starts_with("az ")
                    {
                        c.clone()
                    } else {
                        format!("# {c}")
                    };
                    writeln!(out, "{line}")?;
                }
                writeln!(out, "```")?;
            }
        }
        writeln!(out)?;
        writeln!(out, "## Rollback")?;
        writeln!(out)?;
        writeln!(
            out,
            "- Kubernetes: minor versions cannot be downgraded in place; restore the etcd snapshot from the backup step on the previous version (kubeadm also keeps `/etc/kubernetes/tmp/kubeadm-backup-*`)."
        )?;
        writeln!(
            out,
            "- KubeSphere: `kubectl ks-migrate rollback --backup-dir ks-migrate-backup-<YYYYmmdd-HHMMSS>` (the directory the migration wrote, checked against its manifest and this cluster) rolls ks-core back with helm and restores what the migration changed; it lists what it cannot undo. The full rollback is the etcd snapshot, or the Velero backup."
        )?;
        Ok(())
    }
}

/// The numbered steps with their commands (`$ …`, or `# …` for what runs by hand) and notes, as
/// the table output shows them.
pub(crate) fn write_steps(out: &mut dyn Write, steps: &[Step]) -> std::io::Result<()> {
    for s in steps {
        writeln!(
            out,
            "{:>2}. [{}] {} ({})",
            s.number, s.phase, s.title, s.where_
        )?;
        for c in &s.commands {
            if c.starts_with('#') {
                writeln!(out, "      {c}")?;
            } else {
                writeln!(out, "      $ {c}")?;
            }
        }
        for n in &s.notes {
            writeln!(out, "      note: {n}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::inventory::BuildKind;

    fn plan() -> UpgradePlan {
        UpgradePlan {
            api_version: API_VERSION,
            kind: "UpgradePlan",
            metadata: Metadata {
                context: Some("c".into()),
                server: "https://x".into(),
            },
            cluster: ClusterSection {
                kubernetes_version: "v1.26.15".into(),
                build: ClusterBuild {
                    kind: BuildKind::Kubeadm,
                    tool: "kubeadm".into(),
                    evidence: vec!["ConfigMap kube-system/kubeadm-config".into()],
                },
                etcd: "stacked".into(),
                nodes: Vec::new(),
                kubesphere: None,
            },
            targets: Targets {
                kubernetes: "v1.27".into(),
                kubesphere: None,
            },
            components: Vec::new(),
            path: Vec::new(),
            findings: vec![Finding::new(
                Code::Pod001,
                ObjectRef::namespaced("Pod", "shop", "debug-shell"),
                "no controller | really",
            )],
            deprecated_apis: ApiSection {
                scanned: Vec::new(),
                helm_releases_read: 0,
                metric: "read".into(),
            },
            skipped: Vec::new(),
            steps: vec![Step {
                number: 1,
                phase: "prepare".into(),
                title: "Back up etcd".into(),
                where_: "on m1".into(),
                commands: vec![
                    "sudo etcdctl snapshot save x".into(),
                    "upgrade the kubeadm package".into(),
                ],
                notes: Vec::new(),
            }],
            summary: Summary {
                ready: false,
                required: 1,
                recommended: 0,
                not_checked: 0,
            },
        }
    }

    #[test]
    fn markdown_is_a_playbook() {
        let mut out = Vec::new();
        plan().render_markdown(&mut out).unwrap().unwrap();
        let md = String::from_utf8(out).unwrap();
        for h in [
            "# Upgrade plan: Kubernetes v1.26.15 → v1.27",
            "## Versions",
            "## Path",
            "## Findings",
            "## Steps",
            "### 1. Back up etcd",
            "## Rollback",
            "`kubectl ks-migrate rollback --backup-dir ks-migrate-backup-<YYYYmmdd-HHMMSS>`",
        ] {
            assert!(md.contains(h), "{h} missing:\n{md}");
        }
        assert!(md.contains("no controller \\| really"));
        assert!(
            md.contains("```sh\nsudo etcdctl snapshot save x\n# upgrade the kubeadm package\n```")
        );
    }

    #[test]
    fn the_table_has_kubeadm_sections() {
        let mut out = Vec::new();
        plan()
            .render_table(&mut out, &Style::plain(), false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        for h in [
            "CLUSTER",
            "COMPONENT   NODE   CURRENT   TARGET",
            "PATH",
            "FINDINGS",
            "STEPS",
            "NOT READY: 1 Required",
        ] {
            assert!(text.contains(h), "{h} missing:\n{text}");
        }
        assert!(text.contains("POD001   Required   Pod shop/debug-shell"));
    }
}
