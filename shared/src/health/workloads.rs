//! Check `workloads`: Deployments, StatefulSets and DaemonSets in the system namespaces (or all
//! with `-A`) fully rolled out: the controller observed the current generation, and updated,
//! ready and available equal the desired count.
//!
//! The three kinds are read concurrently, each page by page as [`super::scan`] describes (per
//! scope namespace; cluster-wide with `-A`); only counts and findings are kept.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};

use super::{
    Ctx, Finding, Outcome, count,
    scan::{Counted, scan},
};

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let scope = ctx.scope().await?;
    let client = ctx.client;
    let (deploys, sets, daemons) = futures::try_join!(
        scan(
            client,
            scope,
            "deployments",
            |t: &mut Counted, d: Deployment| { t.add(deployment(&d)) }
        ),
        scan(
            client,
            scope,
            "statefulsets",
            |t: &mut Counted, s: StatefulSet| { t.add(statefulset(&s)) }
        ),
        scan(
            client,
            scope,
            "daemonsets",
            |t: &mut Counted, d: DaemonSet| { t.add(daemonset(&d)) }
        ),
    )?;
    let counts = [deploys.seen, sets.seen, daemons.seen];
    let mut findings = deploys.findings;
    findings.extend(sets.findings);
    findings.extend(daemons.findings);
    let total: usize = counts.iter().sum();
    let summary = format!(
        "{}, {}, {} {}: {}",
        count(counts[0], "deployment"),
        count(counts[1], "statefulset"),
        count(counts[2], "daemonset"),
        scope.describe(),
        if findings.is_empty() {
            "all rolled out".to_string()
        } else {
            format!("{} of {total} not rolled out", findings.len())
        }
    );
    Ok((summary, findings))
}

/// The counts a workload reports against what it wants.
struct Rollout<'a> {
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    generation: Option<i64>,
    observed: Option<i64>,
    desired: i32,
    /// `None` when the update strategy is OnDelete (nothing rolls by itself).
    updated: Option<i32>,
    ready: i32,
    available: i32,
    /// Extra replicas still running (old ReplicaSets during a rollout).
    surplus: i32,
    /// A condition that explains, e.g. `Available=False (MinimumReplicasUnavailable)`.
    note: Option<String>,
}

impl Rollout<'_> {
    fn finding(&self) -> Option<Finding> {
        let stale = matches!((self.generation, self.observed), (Some(g), Some(o)) if o < g)
            || (self.generation.is_some() && self.observed.is_none());
        let reason = if stale {
            "RolloutPending"
        } else if self.updated.is_some_and(|u| u < self.desired) {
            "NotUpdated"
        } else if self.available < self.desired {
            "Unavailable"
        } else if self.ready < self.desired {
            "NotReady"
        } else if self.surplus > 0 {
            "RollingOut"
        } else {
            return None;
        };
        let d = self.desired;
        let mut message = format!("{}/{d} ready, {}/{d} available", self.ready, self.available);
        if let Some(u) = self.updated {
            message.push_str(&format!(", {u}/{d} updated"));
        }
        if self.surplus > 0 {
            message.push_str(&format!(", {} old replicas still running", self.surplus));
        }
        if stale {
            message.push_str(&format!(
                "; observed generation {} < generation {}: the controller has not acted on the latest spec",
                self.observed.unwrap_or(0),
                self.generation.unwrap_or(0)
            ));
        }
        if let Some(note) = &self.note {
            message.push_str(&format!(" ({note})"));
        }
        Some(Finding::fail(
            self.kind,
            self.namespace,
            self.name,
            reason,
            message,
        ))
    }
}

fn false_condition<'a>(
    conditions: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> Option<String> {
    conditions
        .filter(|(_, status, _)| *status == "False")
        .map(|(t, s, reason)| match reason {
            Some(r) if !r.is_empty() => format!("{t}={s} {r}"),
            _ => format!("{t}={s}"),
        })
        .next()
}

pub(super) fn deployment(d: &Deployment) -> Option<Finding> {
    let status = d.status.clone().unwrap_or_default();
    let spec = d.spec.as_ref();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let note = status.conditions.as_ref().and_then(|cs| {
        false_condition(
            cs.iter()
                .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_deref())),
        )
    });
    Rollout {
        kind: "Deployment",
        namespace: d.metadata.namespace.as_deref(),
        name: d.metadata.name.as_deref().unwrap_or_default(),
        generation: d.metadata.generation,
        observed: status.observed_generation,
        desired,
        updated: Some(status.updated_replicas.unwrap_or(0)),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        surplus: (status.replicas.unwrap_or(0) - desired).max(0),
        note,
    }
    .finding()
}

pub(super) fn statefulset(s: &StatefulSet) -> Option<Finding> {
    let status = s.status.clone().unwrap_or_default();
    let spec = s.spec.as_ref();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let on_delete = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    let ready = status.ready_replicas.unwrap_or(0);
    // A revision mismatch means pods still run the old template even when counts look right.
    let revision_behind = !on_delete
        && matches!((&status.current_revision, &status.update_revision), (Some(c), Some(u)) if c != u);
    let updated = if on_delete {
        None
    } else if revision_behind {
        Some(status.updated_replicas.unwrap_or(0).min(desired - 1).max(0))
    } else {
        Some(status.updated_replicas.unwrap_or(0))
    };
    Rollout {
        kind: "StatefulSet",
        namespace: s.metadata.namespace.as_deref(),
        name: s.metadata.name.as_deref().unwrap_or_default(),
        generation: s.metadata.generation,
        observed: status.observed_generation,
        desired,
        updated,
        ready,
        available: status.available_replicas.unwrap_or(ready),
        surplus: (status.replicas - desired).max(0),
        note: None,
    }
    .finding()
}

pub(super) fn daemonset(d: &DaemonSet) -> Option<Finding> {
    let status = d.status.clone().unwrap_or_default();
    let on_delete = d
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    let desired = status.desired_number_scheduled;
    Rollout {
        kind: "DaemonSet",
        namespace: d.metadata.namespace.as_deref(),
        name: d.metadata.name.as_deref().unwrap_or_default(),
        generation: d.metadata.generation,
        observed: status.observed_generation,
        desired,
        updated: (!on_delete).then(|| status.updated_number_scheduled.unwrap_or(0)),
        ready: status.number_ready,
        available: status.number_available.unwrap_or(0),
        surplus: status.number_misscheduled.max(0),
        note: None,
    }
    .finding()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_below_desired_is_unavailable() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "cart", "namespace": "shop", "generation": 1},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1,
                "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                               {"type": "Progressing", "status": "True"}]}
        }))
        .unwrap();
        let f = deployment(&d).unwrap();
        assert_eq!(f.reason, "Unavailable");
        assert_eq!(f.object.namespace.as_deref(), Some("shop"));
        assert_eq!(
            f.message,
            "2/3 ready, 2/3 available, 3/3 updated (Available=False MinimumReplicasUnavailable)"
        );
    }

    #[test]
    fn healthy_and_stale_deployments() {
        let mut d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "demo", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                "readyReplicas": 2, "availableReplicas": 2}
        }))
        .unwrap();
        assert_eq!(deployment(&d), None);
        d.metadata.generation = Some(3);
        let f = deployment(&d).unwrap();
        assert_eq!(f.reason, "RolloutPending");
        assert!(
            f.message.contains("observed generation 2 < generation 3"),
            "{}",
            f.message
        );
        // Scaled to zero with nothing running is rolled out.
        let z: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "z"}, "spec": {"replicas": 0, "selector": {}, "template": {}}, "status": {}
        }))
        .unwrap();
        assert_eq!(deployment(&z), None);
    }

    #[test]
    fn daemonset_half_updated_is_named() {
        let d: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "calico-node", "namespace": "kube-system", "generation": 1},
            "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "desiredNumberScheduled": 5, "currentNumberScheduled": 5,
                "updatedNumberScheduled": 3, "numberReady": 4, "numberAvailable": 4,
                "numberMisscheduled": 0, "numberUnavailable": 1}
        }))
        .unwrap();
        let f = daemonset(&d).unwrap();
        assert_eq!(f.reason, "NotUpdated");
        assert_eq!(f.message, "4/5 ready, 4/5 available, 3/5 updated");
        let mut ok = d.clone();
        let st = ok.status.as_mut().unwrap();
        st.updated_number_scheduled = Some(5);
        st.number_ready = 5;
        st.number_available = Some(5);
        assert_eq!(daemonset(&ok), None);
        // OnDelete: an old template is the operator's call, readiness still counts.
        let mut od = d.clone();
        od.spec.as_mut().unwrap().update_strategy =
            serde_json::from_value(json!({"type": "OnDelete"})).unwrap();
        assert_eq!(daemonset(&od).unwrap().reason, "Unavailable");
    }

    #[test]
    fn statefulset_revision_mismatch_is_not_updated() {
        let s: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "prometheus-k8s", "namespace": "kubesphere-monitoring-system", "generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {}, "serviceName": "p"},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                "updatedReplicas": 1, "currentRevision": "a", "updateRevision": "b"}
        }))
        .unwrap();
        assert_eq!(statefulset(&s).unwrap().reason, "NotUpdated");
        let mut ok = s.clone();
        ok.status.as_mut().unwrap().update_revision = Some("a".into());
        assert_eq!(statefulset(&ok), None);
        // No status at all: nothing is ready.
        let bare: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(statefulset(&bare).unwrap().reason, "NotUpdated");
    }
}
