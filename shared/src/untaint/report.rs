//! The `UntaintReport`: what was done to each member, as JSON/YAML/jsonpath and as a table.

use std::{collections::BTreeMap, io::Write};

use serde::Serialize;
use serde_json::Value;

use crate::output::{
    Report, Style,
    table::{Cell, Table, Tone},
};

/// What happened to one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The `Schedulable` condition was removed.
    Untainted,
    /// There was no `Schedulable=False` condition to remove; nothing was written.
    AlreadySchedulable,
    /// A precondition failed; nothing was written.
    Refused,
    /// `--dry-run`: the condition would be removed with the reported patch.
    WouldUntaint,
    /// An API error stopped the update (exit 2).
    Failed,
}

impl Action {
    /// The word in the RESULT column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untainted => "untainted",
            Self::AlreadySchedulable => "already-schedulable",
            Self::Refused => "refused",
            Self::WouldUntaint => "would-untaint",
            Self::Failed => "failed",
        }
    }

    fn tone(self) -> Tone {
        match self {
            Self::Untainted => Tone::Good,
            Self::AlreadySchedulable => Tone::Dim,
            Self::WouldUntaint => Tone::Warn,
            Self::Refused | Self::Failed => Tone::Bad,
        }
    }
}

/// One member's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberResult {
    /// The Cluster's name.
    pub name: String,
    /// `status.kubeSphereVersion`, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubesphere_version: Option<String>,
    /// The status of the `Ready` condition, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// What was done.
    pub action: Action,
    /// Stable code of the refusal or failure (see the docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to do about a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The RFC 6902 patch sent (or, with `--dry-run`, that would be sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    /// The condition that was (or would be) removed, as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_condition: Option<Value>,
    /// Refusals that `--force` overrode, by code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
    /// PATCH requests sent (more than one when a concurrent write forced a re-read).
    #[serde(skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// `--wait`: the gateway agent's state on this member when the wait ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_state: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl MemberResult {
    /// A result with no details yet.
    pub fn new(name: impl Into<String>, action: Action) -> Self {
        Self {
            name: name.into(),
            kubesphere_version: None,
            ready: None,
            action,
            code: None,
            reason: None,
            hint: None,
            patch: None,
            previous_condition: None,
            overridden: Vec::new(),
            attempts: 0,
            agent_state: None,
        }
    }
}

/// How `--wait` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitOutcome {
    /// Every awaited member's agent is `Installed`.
    Installed,
    /// The timeout passed first.
    TimedOut,
    /// Nothing to wait for (no InstallPlan, or no member untainted).
    Skipped,
}

/// The `--wait` part of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitResult {
    /// The InstallPlan followed.
    pub install_plan: String,
    /// How it ended.
    pub outcome: WaitOutcome,
    /// Why it was skipped, or what it timed out on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Agent state per awaited member (`<none>` when the InstallPlan has no entry yet).
    pub states: BTreeMap<String, String>,
    /// Members whose agent is not `Installed` yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

/// What `kubectl untaint-member` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UntaintReport {
    /// `kupgrade.dev/v1alpha1`.
    pub api_version: &'static str,
    /// `UntaintReport`.
    pub kind: &'static str,
    /// Nothing was written (`--dry-run`).
    pub dry_run: bool,
    /// `--force` was given.
    pub force: bool,
    /// Leftover v3 Cluster ValidatingWebhookConfigurations found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftover_webhooks: Vec<String>,
    /// One entry per member, in the order given (or by name with `--all`).
    pub members: Vec<MemberResult>,
    /// The `--wait` result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitResult>,
}

impl UntaintReport {
    /// An empty report.
    pub fn new(dry_run: bool, force: bool) -> Self {
        Self {
            api_version: "kupgrade.dev/v1alpha1",
            kind: "UntaintReport",
            dry_run,
            force,
            leftover_webhooks: Vec::new(),
            members: Vec::new(),
            wait: None,
        }
    }

    /// True when any member was refused.
    pub fn any_refused(&self) -> bool {
        self.members.iter().any(|m| m.action == Action::Refused)
    }

    /// True when any member failed on an API error.
    pub fn any_failed(&self) -> bool {
        self.members.iter().any(|m| m.action == Action::Failed)
    }
}

impl Report for UntaintReport {
    fn render_table(&self, out: &mut dyn Write, style: &Style, wide: bool) -> std::io::Result<()> {
        if self.members.is_empty() {
            return writeln!(out, "No member carries the Schedulable=False condition.");
        }
        let mut headers = vec!["MEMBER", "KUBESPHERE", "READY", "RESULT"];
        if wide {
            headers.extend(["ATTEMPTS", "AGENT"]);
        }
        headers.push("DETAIL");
        let mut table = Table::new(&headers);
        for m in &self.members {
            let ready = m.ready.clone().unwrap_or_else(|| "<none>".into());
            let ready_tone = if ready == "True" {
                Tone::Normal
            } else {
                Tone::Warn
            };
            let mut row = vec![
                Cell::from(m.name.as_str()),
                Cell::from(
                    m.kubesphere_version
                        .clone()
                        .unwrap_or_else(|| "<none>".into()),
                ),
                Cell::new(ready, ready_tone),
                Cell::new(m.action.as_str(), m.action.tone()),
            ];
            if wide {
                row.push(Cell::from(m.attempts.to_string()));
                row.push(Cell::from(
                    m.agent_state.clone().unwrap_or_else(|| "-".into()),
                ));
            }
            row.push(Cell::from(detail(m)));
            table.row(row);
        }
        table.write_styled(out, style)?;
        for m in &self.members {
            if m.action == Action::WouldUntaint
                && let Some(patch) = &m.patch
            {
                writeln!(out)?;
                writeln!(
                    out,
                    "# {}: PATCH /apis/cluster.kubesphere.io/v1alpha1/clusters/{} (application/json-patch+json)",
                    m.name, m.name
                )?;
                writeln!(out, "{patch}")?;
            }
        }
        if let Some(wait) = &self.wait {
            writeln!(out)?;
            let states = wait
                .states
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let line = match wait.outcome {
                WaitOutcome::Installed => format!(
                    "InstallPlan `{}`: agents Installed ({states})",
                    wait.install_plan
                ),
                WaitOutcome::TimedOut => format!(
                    "InstallPlan `{}`: timed out; agents: {states}",
                    wait.install_plan
                ),
                WaitOutcome::Skipped => format!(
                    "InstallPlan `{}`: not waited for: {}",
                    wait.install_plan,
                    wait.detail.as_deref().unwrap_or("nothing to wait for")
                ),
            };
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

fn detail(m: &MemberResult) -> String {
    let mut text = match m.action {
        Action::Untainted | Action::WouldUntaint => {
            let cond = m.previous_condition.as_ref().map(describe_condition);
            let verb = if m.action == Action::Untainted {
                "removed"
            } else {
                "would remove"
            };
            match cond {
                Some(c) => format!("{verb} {c}"),
                None => verb.to_string(),
            }
        }
        _ => m.reason.clone().unwrap_or_default(),
    };
    if !m.overridden.is_empty() {
        text.push_str(&format!(" (forced past {})", m.overridden.join(", ")));
    }
    if m.action == Action::Untainted && m.attempts > 1 {
        text.push_str(&format!(
            " after {} attempts (concurrent writes)",
            m.attempts
        ));
    }
    text
}

/// `Schedulable=False (Upgrading)`.
fn describe_condition(c: &Value) -> String {
    let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut s = format!("{}={}", get("type"), get("status"));
    if !get("reason").is_empty() {
        s.push_str(&format!(" ({})", get("reason")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cli::OutputFormat, output::render};
    use serde_json::json;

    fn sample() -> UntaintReport {
        let mut r = UntaintReport::new(false, false);
        let mut a = MemberResult::new("member-a", Action::Untainted);
        a.kubesphere_version = Some("v4.1.3".into());
        a.ready = Some("True".into());
        a.previous_condition =
            Some(json!({"type": "Schedulable", "status": "False", "reason": "Upgrading"}));
        a.patch = Some(json!([{"op": "remove", "path": "/status/conditions/2"}]));
        a.attempts = 2;
        let mut b = MemberResult::new("member-b", Action::Refused);
        b.kubesphere_version = Some("v3.4.1".into());
        b.ready = Some("True".into());
        b.code = Some("MemberNotOnV4".into());
        b.reason = Some("member `member-b` runs KubeSphere v3.4.1: migrate it first with `kubectl ks-migrate member`".into());
        r.members = vec![a, b];
        r
    }

    fn rendered(report: &UntaintReport, format: OutputFormat) -> String {
        let mut out = Vec::new();
        render(report, &format, &Style::plain(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_has_one_row_per_member() {
        let text = rendered(&sample(), OutputFormat::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "MEMBER     KUBESPHERE   READY   RESULT      DETAIL"
        );
        assert_eq!(
            lines[1],
            "member-a   v4.1.3       True    untainted   removed Schedulable=False (Upgrading) after 2 attempts (concurrent writes)"
        );
        assert!(
            lines[2]
                .starts_with("member-b   v3.4.1       True    refused     member `member-b` runs")
        );
        assert_eq!(lines.len(), 3);
        assert!(sample().any_refused() && !sample().any_failed());
    }

    #[test]
    fn dry_run_prints_each_patch_after_the_table() {
        let mut r = UntaintReport::new(true, false);
        let mut a = MemberResult::new("member-a", Action::WouldUntaint);
        a.patch = Some(json!([{"op": "remove", "path": "/status/conditions/2"}]));
        r.members.push(a);
        let text = rendered(&r, OutputFormat::Table);
        assert!(text.contains("would-untaint"), "{text}");
        assert!(text.contains(
            "# member-a: PATCH /apis/cluster.kubesphere.io/v1alpha1/clusters/member-a (application/json-patch+json)\n[{\"op\":\"remove\",\"path\":\"/status/conditions/2\"}]\n"
        ), "{text}");
    }

    #[test]
    fn json_is_a_versioned_object_with_camel_case_fields() {
        let v: Value = serde_json::from_str(&rendered(&sample(), OutputFormat::Json)).unwrap();
        assert_eq!(v["apiVersion"], "kupgrade.dev/v1alpha1");
        assert_eq!(v["kind"], "UntaintReport");
        assert_eq!(v["members"][0]["action"], "untainted");
        assert_eq!(v["members"][0]["previousCondition"]["reason"], "Upgrading");
        assert_eq!(v["members"][1]["action"], "refused");
        assert_eq!(v["members"][1]["code"], "MemberNotOnV4");
        assert!(v["members"][1].get("patch").is_none());
        assert!(v.get("wait").is_none());
        assert_eq!(
            rendered(
                &sample(),
                OutputFormat::JsonPath("{.members[*].action}".into())
            ),
            "untainted refused"
        );
    }

    #[test]
    fn an_empty_run_says_so() {
        let text = rendered(&UntaintReport::new(false, false), OutputFormat::Table);
        assert_eq!(text, "No member carries the Schedulable=False condition.\n");
    }
}
