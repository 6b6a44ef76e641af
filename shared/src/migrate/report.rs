//! The report of `host`, `member` and `gateway` (`-o json|yaml`, kind `Migration`) and its
//! table.

use std::io::Write;

use serde::Serialize;

use super::{Args, gateway, precheck::Check, values};
use crate::{
    Result,
    model::Severity,
    output::{Report, Style, table::Table},
    run::Printer,
};

/// One step in the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// Journal key.
    pub id: String,
    /// Title.
    pub title: String,
    /// Destructive?
    pub destructive: bool,
    /// `done`, `skipped` (done by an earlier run), `planned` (dry run), `failed`, `pending`.
    pub state: String,
    /// Outcome.
    pub detail: String,
    /// What it did, or would do.
    pub actions: Vec<String>,
}

/// The command's report (`-o json|yaml`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `Migration`.
    pub kind: &'static str,
    /// `host`, `member` or `gateway`.
    pub target: String,
    /// Dry run?
    pub dry_run: bool,
    /// `migrated`, `already-migrated`, `refused`, `planned`, `failed`, `listed`.
    pub outcome: String,
    /// The backup directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_dir: Option<String>,
    /// Pre-checks.
    pub checks: Vec<Check>,
    /// The ks-upgrade jobs, in run order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<values::Job>,
    /// Gateways (gateway target).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<gateway::Gateway>,
    /// Steps.
    pub steps: Vec<StepReport>,
}

impl Report for Migration {
    fn render_table(&self, out: &mut dyn Write, style: &Style, _wide: bool) -> std::io::Result<()> {
        if !self.checks.is_empty() {
            let mut t = Table::new(&["PRE-CHECK", "RESULT", "MESSAGE"]);
            for c in &self.checks {
                let result = match c.severity() {
                    None => style.good("ok"),
                    Some(Severity::Advisory) => style.warn("ignored"),
                    Some(Severity::Blocking) => style.bad("FAIL"),
                };
                t.row(vec![
                    c.code.as_str().into(),
                    result.into(),
                    c.message.clone().into(),
                ]);
            }
            t.write(out)?;
            for c in self.checks.iter().filter(|c| !c.ok) {
                if let Some(h) = &c.hint {
                    writeln!(out, "  {}: {h}", c.code)?;
                }
            }
            writeln!(out)?;
        }
        if !self.jobs.is_empty() {
            let mut t = Table::new(&["ORDER", "KS-UPGRADE JOB", "PRIORITY", "EXTENSION", "FROM"]);
            for (i, j) in self.jobs.iter().enumerate() {
                t.row(vec![
                    (i + 1).to_string().into(),
                    j.name.clone().into(),
                    j.priority.to_string().into(),
                    j.extension.clone().unwrap_or_else(|| "-".into()).into(),
                    j.source.into(),
                ]);
            }
            t.write(out)?;
            writeln!(out)?;
        }
        if !self.gateways.is_empty() {
            let mut t = Table::new(&["GATEWAY", "STATE", "V4 RELEASE", "RELEASES"]);
            for g in &self.gateways {
                t.row(vec![
                    g.name.clone().into(),
                    if g.pending { "v3" } else { "upgraded" }.into(),
                    g.new_release.clone().into(),
                    g.releases.join(", ").into(),
                ]);
            }
            t.write(out)?;
            writeln!(out)?;
        }
        let m = self.steps.len();
        for (i, s) in self.steps.iter().enumerate() {
            let state = match s.state.as_str() {
                "done" | "skipped" => style.good(&s.state),
                "failed" => style.bad(&s.state),
                other => style.warn(other),
            };
            let detail = if s.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", s.detail)
            };
            writeln!(out, "[{}/{m}] {} {}{detail}", i + 1, s.title, state)?;
            for a in &s.actions {
                writeln!(out, "      {a}")?;
            }
        }
        if let Some(d) = &self.backup_dir {
            writeln!(out, "backup, log and journal copy: {d}")?;
        }
        writeln!(out, "outcome: {}", self.outcome)
    }
}

impl Migration {
    /// An empty report of `target`.
    pub fn new(target: &str, dry_run: bool) -> Self {
        Self {
            api_version: "kupgrade.dev/v1alpha1",
            kind: "Migration",
            target: target.into(),
            dry_run,
            outcome: String::new(),
            backup_dir: None,
            checks: Vec::new(),
            jobs: Vec::new(),
            gateways: Vec::new(),
            steps: Vec::new(),
        }
    }
}

/// Renders the report in the `-o` format onto stdout.
pub fn print_report(printer: &mut Printer, args: &Args, report: &Migration) -> Result<()> {
    let style = printer.out_style;
    crate::output::render(report, &args.opts.output, &style, printer.out())?;
    crate::run::flush(printer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_renders_steps_and_actions() {
        let mut r = Migration::new("host", true);
        r.steps.push(StepReport {
            id: "scale-installer".into(),
            title: "Scale ks-installer to 0".into(),
            destructive: false,
            state: "planned".into(),
            detail: "ks-installer scaled to 0".into(),
            actions: vec!["would patch Deployment kubesphere-system/ks-installer".into()],
        });
        r.outcome = "planned".into();
        let mut out = Vec::new();
        r.render_table(&mut out, &Style::plain(), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("[1/1] Scale ks-installer to 0 planned: ks-installer scaled to 0"));
        assert!(text.contains("      would patch Deployment"));
        assert!(text.ends_with("outcome: planned\n"));
    }
}
