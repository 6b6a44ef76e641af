//! `--wait`: upstream's next step after untainting. The gateway extension's InstallPlan installs
//! an agent (`gateway-agent`) on every schedulable member it places; its progress is
//! `status.clusterSchedulingStatuses.<member>.state`, and `Installed` means done.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use kube::{Api, api::DynamicObject};
use serde_json::Value;

use super::report::{WaitOutcome, WaitResult};
use crate::{
    error::Result, kubesphere::install_plan_resource, list, output::progress::Line, run::Printer,
};

/// The InstallPlan upstream's guide follows after untainting.
pub const GATEWAY_PLAN: &str = "gateway";
/// The agent state that means done.
pub const INSTALLED: &str = "Installed";
/// How often the InstallPlan is read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The members an InstallPlan places an agent on, out of `members`: all of them when it names
/// no explicit cluster list (a `clusterSelector` cannot be evaluated here, so it is trusted).
pub fn placed<'a>(plan: &Value, members: &'a [String]) -> Vec<&'a String> {
    let placement = plan.pointer("/spec/clusterScheduling/placement");
    match placement
        .and_then(|p| p.get("clusters"))
        .and_then(Value::as_array)
    {
        Some(list) if placement.and_then(|p| p.get("clusterSelector")).is_none() => members
            .iter()
            .filter(|m| list.iter().any(|c| c.as_str() == Some(m.as_str())))
            .collect(),
        _ => members.iter().collect(),
    }
}

/// The agent state of each member (`<none>` when the plan has no entry for it yet).
pub fn agent_states(plan: &Value, members: &[&String]) -> BTreeMap<String, String> {
    members
        .iter()
        .map(|m| {
            let state = plan
                .pointer("/status/clusterSchedulingStatuses")
                .and_then(|s| s.get(m.as_str()))
                .and_then(|s| s.get("state"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("<none>");
            ((*m).clone(), state.to_string())
        })
        .collect()
}

fn pending(states: &BTreeMap<String, String>) -> Vec<String> {
    states
        .iter()
        .filter(|(_, s)| s.as_str() != INSTALLED)
        .map(|(m, _)| m.clone())
        .collect()
}

fn skipped(detail: String) -> WaitResult {
    WaitResult {
        install_plan: GATEWAY_PLAN.into(),
        outcome: WaitOutcome::Skipped,
        detail: Some(detail),
        states: BTreeMap::new(),
        pending: Vec::new(),
    }
}

/// Polls InstallPlan `gateway` until the agent of every member in `members` is `Installed`, or
/// `timeout` passes. Progress goes to stderr (a live line on a terminal, a line per change
/// otherwise); the outcome goes into the report.
pub async fn wait_for_agents(
    client: &kube::Client,
    members: &[String],
    timeout: Duration,
    printer: &mut Printer,
) -> Result<WaitResult> {
    if members.is_empty() {
        return Ok(skipped("no member was untainted".into()));
    }
    let line = printer.line("");
    let outcome = poll(client, members, timeout, printer, &line).await;
    line.clear();
    outcome
}

async fn poll(
    client: &kube::Client,
    members: &[String],
    timeout: Duration,
    printer: &mut Printer,
    live: &Line,
) -> Result<WaitResult> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &install_plan_resource());
    let action = format!("get InstallPlan `{GATEWAY_PLAN}`");
    let deadline = Instant::now() + timeout;
    let mut last_line = String::new();
    loop {
        let plan = match list::get_opt(&api, GATEWAY_PLAN, &action).await {
            Ok(Some(p)) => p.data,
            Ok(None) => {
                printer.warn(&format!(
                    "there is no InstallPlan `{GATEWAY_PLAN}`; not waiting for extension agents"
                ));
                return Ok(skipped(format!(
                    "InstallPlan `{GATEWAY_PLAN}` does not exist"
                )));
            }
            // No InstallPlan CRD: no v4 extensions to wait for.
            Err(e) if e.is_not_found() => {
                return Ok(skipped("the InstallPlan API is not served".into()));
            }
            Err(e) => return Err(e),
        };
        let awaited = placed(&plan, members);
        if awaited.is_empty() {
            return Ok(skipped(format!(
                "InstallPlan `{GATEWAY_PLAN}` places no agent on {}",
                members.join(", ")
            )));
        }
        let states = agent_states(&plan, &awaited);
        let left = pending(&states);
        if left.is_empty() {
            return Ok(WaitResult {
                install_plan: GATEWAY_PLAN.into(),
                outcome: WaitOutcome::Installed,
                detail: None,
                states,
                pending: left,
            });
        }
        let line = format!(
            "waiting for InstallPlan `{GATEWAY_PLAN}`: {}",
            states
                .iter()
                .map(|(m, s)| format!("{m} {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if line != last_line {
            printer.status(live, &line, Some(&line));
            last_line = line;
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(WaitResult {
                install_plan: GATEWAY_PLAN.into(),
                outcome: WaitOutcome::TimedOut,
                detail: Some(format!(
                    "agents not Installed after {}s: {}",
                    timeout.as_secs(),
                    left.join(", ")
                )),
                states,
                pending: left,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Value {
        json!({
            "spec": {"clusterScheduling": {"placement": {"clusters": ["host", "member-a", "member-b"]}}},
            "status": {"clusterSchedulingStatuses": {
                "host": {"state": "Installed"},
                "member-a": {"state": "Installing"},
            }}
        })
    }

    #[test]
    fn states_come_from_cluster_scheduling_statuses() {
        let members = vec!["member-a".to_string(), "member-c".to_string()];
        let p = plan();
        let awaited = placed(&p, &members);
        assert_eq!(awaited, vec![&members[0]], "member-c is not placed");
        let states = agent_states(&p, &awaited);
        assert_eq!(states["member-a"], "Installing");
        assert_eq!(pending(&states), vec!["member-a".to_string()]);

        let all = vec!["member-b".to_string()];
        let states = agent_states(&p, &placed(&p, &all));
        assert_eq!(states["member-b"], "<none>");
    }

    #[test]
    fn a_selector_or_no_placement_trusts_every_member() {
        let members = vec!["member-x".to_string()];
        let selector = json!({"spec": {"clusterScheduling": {"placement": {
            "clusters": [], "clusterSelector": {"matchLabels": {"a": "b"}}}}}});
        assert_eq!(placed(&selector, &members).len(), 1);
        assert_eq!(placed(&json!({}), &members).len(), 1);
        let done =
            json!({"status": {"clusterSchedulingStatuses": {"member-x": {"state": "Installed"}}}});
        assert!(pending(&agent_states(&done, &placed(&done, &members))).is_empty());
    }
}
