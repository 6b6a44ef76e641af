//! Check `workloads`: Deployments, StatefulSets and DaemonSets in the system namespaces (or all
//! with `-A`) fully rolled out: the controller observed the current generation, and updated,
//! ready and available equal the desired count.
//!
//! The three kinds are read concurrently, each page by page as [`super::scan`] describes (per
//! scope namespace; cluster-wide with `-A`); only counts and findings are kept.

use k8s_openapi::{
    api::apps::v1::{DaemonSet, Deployment, StatefulSet},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{
    Ctx, Finding, Outcome, count,
    scan::{Counted, scan},
};
use crate::domain::workloads::Rollout;

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let (deploys, sets, daemons) = futures::try_join!(
        scan(ctx, "deployments", |t: &mut Counted, d: Deployment| {
            t.add(deployment(&d))
        }),
        scan(ctx, "statefulsets", |t: &mut Counted, s: StatefulSet| {
            t.add(statefulset(&s))
        }),
        scan(ctx, "daemonsets", |t: &mut Counted, d: DaemonSet| {
            t.add(daemonset(&d))
        }),
    )?;
    let scope = ctx.scope().await?;
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

/// The finding for a workload whose rollout is not complete
/// ([`crate::domain::workloads::Rollout::gap`]).
fn finding(kind: &str, meta: &ObjectMeta, r: &Rollout, note: Option<String>) -> Option<Finding> {
    let reason = r.gap()?.as_str();
    let d = r.desired;
    let mut message = format!("{}/{d} ready, {}/{d} available", r.ready, r.available);
    if let Some(u) = r.updated {
        message.push_str(&format!(", {u}/{d} updated"));
    }
    if r.surplus > 0 {
        message.push_str(&format!(", {} old replicas still running", r.surplus));
    }
    if r.is_stale() {
        message.push_str(&format!(
            "; observed generation {} < generation {}: the controller has not acted on the latest spec",
            r.observed.unwrap_or(0),
            r.generation.unwrap_or(0)
        ));
    }
    if let Some(note) = &note {
        message.push_str(&format!(" ({note})"));
    }
    Some(Finding::fail(
        kind,
        meta.namespace.as_deref(),
        meta.name.as_deref().unwrap_or_default(),
        reason,
        message,
    ))
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
    let note = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| {
            false_condition(
                cs.iter()
                    .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_deref())),
            )
        });
    finding("Deployment", &d.metadata, &Rollout::of_deployment(d), note)
}

pub(super) fn statefulset(s: &StatefulSet) -> Option<Finding> {
    finding(
        "StatefulSet",
        &s.metadata,
        &Rollout::of_statefulset(s),
        None,
    )
}

pub(super) fn daemonset(d: &DaemonSet) -> Option<Finding> {
    finding("DaemonSet", &d.metadata, &Rollout::of_daemonset(d), None)
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
