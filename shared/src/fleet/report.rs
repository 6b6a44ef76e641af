//! The fleet reports, `FleetHealth` and `FleetPlan` (`kupgrade.dev/v1alpha1`): a row per
//! cluster with its full report, and their tables (the fleet table first, then each cluster's
//! own report).

use std::io::Write;

use serde::Serialize;

use super::FleetRole;
use crate::{
    health::{HealthReport, Status},
    output::{
        Report, Style,
        table::{Cell, Table, Tone},
    },
    plan::{report::UpgradePlan, steps::Step},
};

/// Where the fleet was read from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetMetadata {
    /// The host's kubeconfig context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The host's API server.
    pub server: String,
    /// Clusters checked at once.
    pub max_parallel: usize,
}

/// One cluster of the fleet and its report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetCluster<R> {
    /// The `Cluster` object's name.
    pub name: String,
    /// host or member.
    pub role: FleetRole,
    /// The kubeconfig context its commands use, when one reaches it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How it was reached (`context \`m1\` (server matches)`, `stored kubeconfig …`, `-`).
    pub via: String,
    /// Its API server, when connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Kubernetes version (from the cluster, else as the host's Cluster object says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// KubeSphere version (from the cluster, else as the host's Cluster object says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubesphere_version: Option<String>,
    /// `pass`/`warn`/`fail`/`error` (health) or `ready`/`not-ready`/`error` (plan).
    pub status: String,
    /// Findings that make this cluster's exit status 1.
    pub blocking: usize,
    /// Why it is not passing: the error, or the blocking checks or codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// This cluster's own exit code (0, 1, 2).
    pub exit_code: u8,
    /// Its full report, when it could be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<R>,
}

/// `kubectl health --fleet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetHealth {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `FleetHealth`.
    pub kind: &'static str,
    /// Where it was read from.
    pub metadata: FleetMetadata,
    /// The worst status: fail, else error, else warn, else pass.
    pub status: Status,
    /// The fleet's exit code.
    pub exit_code: u8,
    /// The host, then the members by name.
    pub clusters: Vec<FleetCluster<HealthReport>>,
}

/// `kubectl upgrade-plan --fleet`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetPlan {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `FleetPlan`.
    pub kind: &'static str,
    /// Where it was read from.
    pub metadata: FleetMetadata,
    /// Every cluster was planned and none has a blocking finding.
    pub ready: bool,
    /// The fleet's exit code.
    pub exit_code: u8,
    /// The host, then the members by name.
    pub clusters: Vec<FleetCluster<UpgradePlan>>,
    /// The whole fleet's runbook: host, each member (with its `--context`), untaint, gateways,
    /// verification.
    pub steps: Vec<Step>,
}

fn status_tone(status: &str) -> Tone {
    match status {
        "pass" | "ready" => Tone::Good,
        "warn" => Tone::Warn,
        _ => Tone::Bad,
    }
}

fn fleet_table<R>(
    clusters: &[FleetCluster<R>],
    out: &mut dyn Write,
    style: &Style,
    wide: bool,
) -> std::io::Result<()> {
    let mut headers = vec![
        "CLUSTER",
        "ROLE",
        "KUBERNETES",
        "KUBESPHERE",
        "STATUS",
        "BLOCKING",
        "REASON",
    ];
    if wide {
        headers.push("VIA");
    }
    let mut t = Table::new(&headers);
    for c in clusters {
        let mut row: Vec<Cell> = vec![
            c.name.clone().into(),
            c.role.to_string().into(),
            c.kubernetes_version
                .clone()
                .unwrap_or_else(|| "-".into())
                .into(),
            c.kubesphere_version
                .clone()
                .unwrap_or_else(|| "-".into())
                .into(),
            Cell::new(c.status.to_uppercase(), status_tone(&c.status)),
            c.blocking.to_string().into(),
            c.reason.clone().unwrap_or_default().into(),
        ];
        if wide {
            row.push(c.via.clone().into());
        }
        t.row(row);
    }
    t.write_styled(out, style)
}

fn cluster_heading<R>(c: &FleetCluster<R>, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "=== {} ({}, {}) ===", c.name, c.role, c.via)
}

fn each_report<R: Report>(
    clusters: &[FleetCluster<R>],
    out: &mut dyn Write,
    style: &Style,
    wide: bool,
) -> std::io::Result<()> {
    for c in clusters {
        cluster_heading(c, out)?;
        match &c.report {
            Some(r) => r.render_table(out, style, wide)?,
            None => writeln!(
                out,
                "{} {}",
                style.bad("error:"),
                c.reason.as_deref().unwrap_or("not checked")
            )?,
        }
    }
    Ok(())
}

impl Report for FleetHealth {
    fn render_table(&self, out: &mut dyn Write, style: &Style, wide: bool) -> std::io::Result<()> {
        fleet_table(&self.clusters, out, style, wide)?;
        each_report(&self.clusters, out, style, wide)
    }
}

impl Report for FleetPlan {
    fn render_table(&self, out: &mut dyn Write, style: &Style, wide: bool) -> std::io::Result<()> {
        fleet_table(&self.clusters, out, style, wide)?;
        each_report(&self.clusters, out, style, wide)?;
        writeln!(out)?;
        writeln!(out, "=== FLEET RUNBOOK ===")?;
        crate::plan::report::write_steps(out, &self.steps)?;
        writeln!(out)?;
        let planned = self.clusters.iter().filter(|c| c.report.is_some()).count();
        let blocked = self
            .clusters
            .iter()
            .filter(|c| c.report.is_some() && c.status != "ready")
            .count();
        let verdict = if self.ready {
            style.good("FLEET READY")
        } else {
            style.bad("FLEET NOT READY")
        };
        writeln!(
            out,
            "{verdict}: {planned} of {} cluster(s) planned, {blocked} with blocking findings",
            self.clusters.len()
        )
    }
}
