//! Workload rollouts: whether a Deployment, StatefulSet or DaemonSet has fully rolled out (the
//! controller observed the current generation, and updated, ready and available equal the
//! desired count, with no old replicas left).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};

/// The counts a workload reports against what it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollout {
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `status.observedGeneration`.
    pub observed: Option<i64>,
    /// Desired replicas (`spec.replicas`, 1 when unset; a DaemonSet's `desiredNumberScheduled`).
    pub desired: i32,
    /// Updated replicas; `None` when the update strategy is OnDelete (nothing rolls by itself).
    pub updated: Option<i32>,
    /// Ready replicas.
    pub ready: i32,
    /// Available replicas.
    pub available: i32,
    /// Extra replicas still running (old ReplicaSets during a rollout, misscheduled daemons).
    pub surplus: i32,
}

/// What keeps a rollout from being complete, the first that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutGap {
    /// The controller has not observed the latest generation.
    RolloutPending,
    /// Replicas still run the old template.
    NotUpdated,
    /// Fewer available than desired.
    Unavailable,
    /// Fewer ready than desired.
    NotReady,
    /// Old replicas still running.
    RollingOut,
}

impl RolloutGap {
    /// The CamelCase name (`RolloutPending`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RolloutPending => "RolloutPending",
            Self::NotUpdated => "NotUpdated",
            Self::Unavailable => "Unavailable",
            Self::NotReady => "NotReady",
            Self::RollingOut => "RollingOut",
        }
    }
}

fn on_delete(strategy: Option<&str>) -> bool {
    strategy == Some("OnDelete")
}

impl Rollout {
    /// A Deployment's rollout.
    pub fn of_deployment(d: &Deployment) -> Self {
        let status = d.status.clone().unwrap_or_default();
        let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        Self {
            generation: d.metadata.generation,
            observed: status.observed_generation,
            desired,
            updated: Some(status.updated_replicas.unwrap_or(0)),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            surplus: (status.replicas.unwrap_or(0) - desired).max(0),
        }
    }

    /// A StatefulSet's rollout. A revision mismatch (`currentRevision` ≠ `updateRevision`)
    /// means pods still run the old template even when the counts look right.
    pub fn of_statefulset(s: &StatefulSet) -> Self {
        let status = s.status.clone().unwrap_or_default();
        let spec = s.spec.as_ref();
        let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
        let on_delete = on_delete(
            spec.and_then(|s| s.update_strategy.as_ref())
                .and_then(|u| u.type_.as_deref()),
        );
        let ready = status.ready_replicas.unwrap_or(0);
        let revision_behind = !on_delete
            && matches!((&status.current_revision, &status.update_revision), (Some(c), Some(u)) if c != u);
        let updated = if on_delete {
            None
        } else if revision_behind {
            Some(status.updated_replicas.unwrap_or(0).min(desired - 1).max(0))
        } else {
            Some(status.updated_replicas.unwrap_or(0))
        };
        Self {
            generation: s.metadata.generation,
            observed: status.observed_generation,
            desired,
            updated,
            ready,
            available: status.available_replicas.unwrap_or(ready),
            surplus: (status.replicas - desired).max(0),
        }
    }

    /// A DaemonSet's rollout.
    pub fn of_daemonset(d: &DaemonSet) -> Self {
        let status = d.status.clone().unwrap_or_default();
        let on_delete = on_delete(
            d.spec
                .as_ref()
                .and_then(|s| s.update_strategy.as_ref())
                .and_then(|u| u.type_.as_deref()),
        );
        Self {
            generation: d.metadata.generation,
            observed: status.observed_generation,
            desired: status.desired_number_scheduled,
            updated: (!on_delete).then(|| status.updated_number_scheduled.unwrap_or(0)),
            ready: status.number_ready,
            available: status.number_available.unwrap_or(0),
            surplus: status.number_misscheduled.max(0),
        }
    }

    /// True when the controller has not observed the latest generation.
    pub fn is_stale(&self) -> bool {
        matches!((self.generation, self.observed), (Some(g), Some(o)) if o < g)
            || (self.generation.is_some() && self.observed.is_none())
    }

    /// What keeps the rollout from being complete; `None` when it is complete.
    pub fn gap(&self) -> Option<RolloutGap> {
        Some(if self.is_stale() {
            RolloutGap::RolloutPending
        } else if self.updated.is_some_and(|u| u < self.desired) {
            RolloutGap::NotUpdated
        } else if self.available < self.desired {
            RolloutGap::Unavailable
        } else if self.ready < self.desired {
            RolloutGap::NotReady
        } else if self.surplus > 0 {
            RolloutGap::RollingOut
        } else {
            return None;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_gap_names_the_rollout() {
        let done = Rollout {
            generation: Some(2),
            observed: Some(2),
            desired: 2,
            updated: Some(2),
            ready: 2,
            available: 2,
            surplus: 0,
        };
        assert_eq!(done.gap(), None);
        let gap = |r: Rollout| r.gap().map(RolloutGap::as_str);
        assert_eq!(
            gap(Rollout {
                observed: Some(1),
                ..done
            }),
            Some("RolloutPending")
        );
        assert_eq!(
            gap(Rollout {
                observed: None,
                ..done
            }),
            Some("RolloutPending")
        );
        assert_eq!(
            gap(Rollout {
                updated: Some(1),
                ..done
            }),
            Some("NotUpdated")
        );
        assert_eq!(
            gap(Rollout {
                updated: None,
                ..done
            }),
            None,
            "OnDelete"
        );
        assert_eq!(
            gap(Rollout {
                available: 1,
                ..done
            }),
            Some("Unavailable")
        );
        assert_eq!(gap(Rollout { ready: 1, ..done }), Some("NotReady"));
        assert_eq!(gap(Rollout { surplus: 1, ..done }), Some("RollingOut"));
    }

    #[test]
    fn statefulset_revisions_and_on_delete() {
        let s: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "db", "generation": 3},
            "spec": {"replicas": 2, "selector": {}, "serviceName": "db", "template": {}},
            "status": {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "observedGeneration": 3,
                "currentRevision": "db-1", "updateRevision": "db-2"}
        }))
        .unwrap();
        let r = Rollout::of_statefulset(&s);
        assert_eq!(r.updated, Some(1));
        assert_eq!(r.gap(), Some(RolloutGap::NotUpdated));
        let d: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "ds"},
            "spec": {"selector": {}, "template": {}, "updateStrategy": {"type": "OnDelete"}},
            "status": {"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
                "numberReady": 1, "numberAvailable": 1}
        }))
        .unwrap();
        assert_eq!(Rollout::of_daemonset(&d).updated, None);
        let none: Deployment = serde_json::from_value(json!({"metadata": {}})).unwrap();
        let r = Rollout::of_deployment(&none);
        assert_eq!((r.desired, r.gap()), (1, Some(RolloutGap::NotUpdated)));
    }
}
