//! The `HealthReport` a run produces: one [`CheckResult`] per check with its status, a one-line
//! summary and the offending objects ([`Finding`]), plus the rules that turn it into an overall
//! status and an exit code. Rendering (table, wide) lives here too; json/yaml/jsonpath come
//! from the `Serialize` form through [`crate::output::render`].

use std::{fmt, io::Write};

use serde::Serialize;

use crate::{
    error::ExitStatus,
    model::{ObjectRef, Severity},
    output::{
        Report, Style,
        table::{Cell, Table, Tone},
    },
};

/// The `apiVersion` of the report.
pub const API_VERSION: &str = "kupgrade.dev/v1alpha1";
/// The `kind` of the report.
pub const KIND: &str = "HealthReport";

/// The stable id of a check, as `--check`/`--skip` and the report spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum CheckId {
    /// Nodes Ready, not cordoned, kubelets at the expected version and within the skew policy.
    Nodes,
    /// Pods in the system namespaces Running and Ready, or Succeeded.
    SystemPods,
    /// Deployments, StatefulSets and DaemonSets in the system namespaces fully rolled out.
    Workloads,
    /// The latest revision of each Helm release is `deployed`.
    HelmReleases,
    /// KubeSphere: version, member clusters, v4 InstallPlans.
    Kubesphere,
    /// APIServices Available.
    ApiServices,
    /// Fail-closed admission webhooks have ready endpoints.
    Webhooks,
    /// PVCs Bound, PVs not Failed.
    Storage,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 8] = [
        Self::Nodes,
        Self::SystemPods,
        Self::Workloads,
        Self::HelmReleases,
        Self::Kubesphere,
        Self::ApiServices,
        Self::Webhooks,
        Self::Storage,
    ];

    /// The id text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nodes => "nodes",
            Self::SystemPods => "system-pods",
            Self::Workloads => "workloads",
            Self::HelmReleases => "helm-releases",
            Self::Kubesphere => "kubesphere",
            Self::ApiServices => "api-services",
            Self::Webhooks => "webhooks",
            Self::Storage => "storage",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a check, and of the whole report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to act on.
    Pass,
    /// Something worth a look that does not fail the check by default (`--fail-on warn` makes it
    /// fail the run).
    Warn,
    /// The check found problems.
    Fail,
    /// The check could not run (forbidden, unreachable, …); never a pass.
    Error,
}

impl Status {
    /// Upper-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Error => "ERROR",
        }
    }

    fn tone(self) -> Tone {
        match self {
            Self::Pass => Tone::Good,
            Self::Warn => Tone::Warn,
            Self::Fail | Self::Error => Tone::Bad,
        }
    }
}

/// One offending object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The object (`kind`, `namespace`, `name` at the top level of the finding; `HelmRelease`
    /// for a Helm release).
    #[serde(flatten)]
    pub object: ObjectRef,
    /// Whether it fails (`fail`) or only warns (`warn`) the check.
    #[serde(serialize_with = "crate::model::severity::health")]
    pub severity: Severity,
    /// A short CamelCase reason (`NotReady`, `CrashLoopBackOff`, `PendingUpgrade`, …).
    pub reason: String,
    /// What exactly is wrong, and what to do when that is known.
    pub message: String,
}

impl Finding {
    /// A failing finding.
    pub fn fail(
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            object: ObjectRef::new(kind, namespace, name),
            severity: Severity::Blocking,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// A warning finding.
    pub fn warn(
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Advisory,
            ..Self::fail(kind, namespace, name, reason, message)
        }
    }

    /// `kind/name` in lower case, as kubectl names objects.
    pub fn object(&self) -> String {
        format!("{}/{}", self.object.kind.to_lowercase(), self.object.name)
    }
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The check's id.
    pub id: CheckId,
    /// Pass, warn, fail or error.
    pub status: Status,
    /// One line: what was checked and what was found, or why the check could not run.
    pub summary: String,
    /// The offending objects (empty on pass and error).
    pub objects: Vec<Finding>,
}

impl CheckResult {
    /// A result whose status follows from its findings: fail if any finding fails, warn if any
    /// warns, pass otherwise.
    pub fn from_findings(id: CheckId, summary: String, mut objects: Vec<Finding>) -> Self {
        let status = objects
            .iter()
            .map(|f| match f.severity {
                Severity::Blocking => Status::Fail,
                Severity::Advisory => Status::Warn,
            })
            .max()
            .unwrap_or(Status::Pass);
        // Failing objects first (Blocking sorts before Advisory), then by object and reason.
        objects.sort_by(|a, b| {
            (a.severity, &a.object, &a.reason).cmp(&(b.severity, &b.object, &b.reason))
        });
        Self {
            id,
            status,
            summary,
            objects,
        }
    }

    /// A check that could not run.
    pub fn error(id: CheckId, reason: String) -> Self {
        Self {
            id,
            status: Status::Error,
            summary: reason,
            objects: Vec::new(),
        }
    }
}

/// Which status makes the run exit 1 (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Warnings fail the run too.
    Warn,
    /// Only failing checks fail the run (the default).
    #[default]
    Fail,
}

impl FailOn {
    /// The least severe finding that makes the exit status 1.
    pub fn threshold(self) -> Severity {
        match self {
            Self::Warn => Severity::Advisory,
            Self::Fail => Severity::Blocking,
        }
    }
}

/// The report: `kind: HealthReport`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `HealthReport`.
    pub kind: &'static str,
    /// The overall status: fail if any check failed, else error if any could not run, else warn
    /// if any warned, else pass.
    pub status: Status,
    /// The API server's `gitVersion`.
    pub server_version: String,
    /// `system` (system-workspace namespaces and kube-system) or `all` (`-A`).
    pub scope: String,
    /// The checks that ran, in a fixed order.
    pub checks: Vec<CheckResult>,
}

impl HealthReport {
    /// Builds the report, sorting the checks into report order.
    pub fn new(server_version: String, scope: String, mut checks: Vec<CheckResult>) -> Self {
        checks.sort_by_key(|c| c.id);
        let status = overall(&checks);
        Self {
            api_version: API_VERSION,
            kind: KIND,
            status,
            server_version,
            scope,
            checks,
        }
    }

    /// The exit status: 1 when a check failed (or warned, with `--fail-on warn`), else 2 when a
    /// check could not run, else 0. A failure outranks an error: what was found is certain.
    pub fn exit_status(&self, fail_on: FailOn) -> ExitStatus {
        let has = |s: Status| self.checks.iter().any(|c| c.status == s);
        if has(Status::Fail) || (fail_on == FailOn::Warn && has(Status::Warn)) {
            ExitStatus::Findings
        } else if has(Status::Error) {
            ExitStatus::Error
        } else {
            ExitStatus::Success
        }
    }

    /// The checks that keep the run from exiting 0.
    pub fn not_passing(&self, fail_on: FailOn) -> Vec<&CheckResult> {
        self.checks
            .iter()
            .filter(|c| match c.status {
                Status::Pass => false,
                Status::Warn => fail_on == FailOn::Warn,
                Status::Fail | Status::Error => true,
            })
            .collect()
    }
}

fn overall(checks: &[CheckResult]) -> Status {
    let has = |s: Status| checks.iter().any(|c| c.status == s);
    if has(Status::Fail) {
        Status::Fail
    } else if has(Status::Error) {
        Status::Error
    } else if has(Status::Warn) {
        Status::Warn
    } else {
        Status::Pass
    }
}

fn severity_cell(s: Severity) -> Cell {
    match s {
        Severity::Advisory => Cell::new(s.health_label(), Tone::Warn),
        Severity::Blocking => Cell::new(s.health_label(), Tone::Bad),
    }
}

impl Report for HealthReport {
    fn render_table(&self, out: &mut dyn Write, style: &Style, wide: bool) -> std::io::Result<()> {
        let mut headers = vec!["CHECK", "STATUS", "SUMMARY"];
        if wide {
            headers.push("OBJECTS");
        }
        let mut table = Table::new(&headers);
        for c in &self.checks {
            let mut row = vec![
                c.id.as_str().into(),
                Cell::new(c.status.label(), c.status.tone()),
                c.summary.clone().into(),
            ];
            if wide {
                let mut objects: Vec<String> = Vec::new();
                for f in &c.objects {
                    let name = match &f.object.namespace {
                        Some(ns) => {
                            format!("{}/{ns}/{}", f.object.kind.to_lowercase(), f.object.name)
                        }
                        None => f.object(),
                    };
                    // One object can carry several findings (worker-4: version and skew).
                    if !objects.contains(&name) {
                        objects.push(name);
                    }
                }
                row.push(objects.join(",").into());
            }
            table.row(row);
        }
        table.write_styled(out, style)?;
        let mut details = Table::new(&[
            "CHECK",
            "SEVERITY",
            "NAMESPACE",
            "OBJECT",
            "REASON",
            "MESSAGE",
        ]);
        for c in &self.checks {
            for f in &c.objects {
                details.row(vec![
                    c.id.as_str().into(),
                    severity_cell(f.severity),
                    f.object.namespace.clone().unwrap_or_default().into(),
                    f.object().into(),
                    f.reason.clone().into(),
                    f.message.clone().into(),
                ]);
            }
        }
        if !details.is_empty() {
            writeln!(out)?;
            details.write_styled(out, style)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[(CheckId, Vec<Finding>)]) -> HealthReport {
        HealthReport::new(
            "v1.27.16".into(),
            "system".into(),
            statuses
                .iter()
                .map(|(id, f)| CheckResult::from_findings(*id, "s".into(), f.clone()))
                .collect(),
        )
    }

    fn node_warn() -> Finding {
        Finding::warn("Node", None, "worker-3", "Cordoned", "unschedulable")
    }

    fn node_fail() -> Finding {
        Finding::fail("Node", None, "worker-2", "NotReady", "gone")
    }

    #[test]
    fn status_follows_the_worst_finding() {
        let c = CheckResult::from_findings(CheckId::Nodes, "x".into(), vec![node_warn()]);
        assert_eq!(c.status, Status::Warn);
        let c =
            CheckResult::from_findings(CheckId::Nodes, "x".into(), vec![node_warn(), node_fail()]);
        assert_eq!(c.status, Status::Fail);
        // Failing objects come first.
        assert_eq!(c.objects[0].object.name, "worker-2");
        let c = CheckResult::from_findings(CheckId::Nodes, "x".into(), vec![]);
        assert_eq!(c.status, Status::Pass);
    }

    #[test]
    fn exit_codes_rank_fail_over_error_over_warn() {
        let mut r = report(&[(CheckId::Nodes, vec![node_warn()])]);
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.exit_status(FailOn::Fail), ExitStatus::Success);
        assert_eq!(r.exit_status(FailOn::Warn), ExitStatus::Findings);

        r.checks
            .push(CheckResult::error(CheckId::Storage, "forbidden".into()));
        let r = HealthReport::new(r.server_version, r.scope, r.checks);
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.exit_status(FailOn::Fail), ExitStatus::Error);
        assert_eq!(r.exit_status(FailOn::Warn), ExitStatus::Findings);
        assert_eq!(r.not_passing(FailOn::Fail).len(), 1);

        let mut checks = r.checks;
        checks.push(CheckResult::from_findings(
            CheckId::SystemPods,
            "x".into(),
            vec![node_fail()],
        ));
        let r = HealthReport::new(r.server_version, r.scope, checks);
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.exit_status(FailOn::Fail), ExitStatus::Findings);
        // Report order is fixed, whatever order the checks finished in.
        let ids: Vec<_> = r.checks.iter().map(|c| c.id).collect();
        assert_eq!(ids, [CheckId::Nodes, CheckId::SystemPods, CheckId::Storage]);
    }

    #[test]
    fn table_lists_checks_then_objects() {
        let r = report(&[
            (CheckId::Nodes, vec![node_fail()]),
            (CheckId::Storage, vec![]),
        ]);
        let mut out = Vec::new();
        r.render_table(&mut out, &Style::plain(), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "CHECK     STATUS   SUMMARY\n\
             nodes     FAIL     s\n\
             storage   PASS     s\n\
             \n\
             CHECK   SEVERITY   NAMESPACE   OBJECT          REASON     MESSAGE\n\
             nodes   fail                   node/worker-2   NotReady   gone\n"
        );
        let mut out = Vec::new();
        r.render_table(&mut out, &Style::plain(), true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "CHECK     STATUS   SUMMARY   OBJECTS\nnodes     FAIL     s         node/worker-2\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_documented_checks_match_the_check_ids() {
        let doc = include_str!("../../../docs/health.md");
        let section = doc
            .split("\n## Checks\n")
            .nth(1)
            .expect("docs/health.md has a `## Checks` section");
        let section = section.split("\n## ").next().unwrap_or_default();
        let documented: Vec<&str> = section
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(2)
            .filter_map(|l| l.trim_matches('|').split('|').next())
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let defined: Vec<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            documented, defined,
            "docs/health.md's checks table (left) differs from CheckId::ALL (right)"
        );
    }

    #[test]
    fn json_shape_is_a_versioned_object() {
        let r = report(&[(CheckId::SystemPods, vec![node_warn()])]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["apiVersion"], "kupgrade.dev/v1alpha1");
        assert_eq!(v["kind"], "HealthReport");
        assert_eq!(v["status"], "warn");
        assert_eq!(v["checks"][0]["id"], "system-pods");
        assert_eq!(v["checks"][0]["objects"][0]["severity"], "warn");
        assert!(v["checks"][0]["objects"][0].get("namespace").is_none());
    }
}
