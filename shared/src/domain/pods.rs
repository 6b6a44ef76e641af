//! Pods: conditions and the container that explains a pod not running.
//!
//! `upgrade-plan` (POD002) and `health` (`system-pods`) word a pod's problem each in their
//! report's style; what they read from the status is decided here.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};

/// A pod condition by type (`Ready`, `PodScheduled`, …).
pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The pod's phase (`Unknown` when absent or empty).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("Unknown")
}

/// True when the pod is being deleted.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// A container waiting with a reason (CrashLoopBackOff, ImagePullBackOff, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting<'a> {
    /// Container name.
    pub container: &'a str,
    /// The waiting reason (never empty).
    pub reason: &'a str,
    /// The waiting message (empty when none).
    pub message: &'a str,
    /// The container's restart count.
    pub restarts: i32,
}

/// The first container waiting with a non-empty reason.
pub fn first_waiting<'a>(
    statuses: impl IntoIterator<Item = &'a ContainerStatus>,
) -> Option<Waiting<'a>> {
    statuses.into_iter().find_map(|c| {
        let w = c.state.as_ref()?.waiting.as_ref()?;
        let reason = w.reason.as_deref().filter(|r| !r.is_empty())?;
        Some(Waiting {
            container: c.name.as_str(),
            reason,
            message: w.message.as_deref().unwrap_or_default(),
            restarts: c.restart_count,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waiting_containers_phase_and_conditions() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "m", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [
                    {"name": "ok", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                     "state": {"running": {}}},
                    {"name": "empty", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": ""}}},
                    {"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 42,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }))
        .unwrap();
        let statuses = p
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap();
        assert_eq!(
            first_waiting(statuses),
            Some(Waiting {
                container: "c",
                reason: "CrashLoopBackOff",
                message: "",
                restarts: 42
            })
        );
        assert_eq!(phase(&p), "Running");
        assert!(is_terminating(&p));
        assert_eq!(condition(&p, "Ready").unwrap().status, "False");
        let bare: Pod = serde_json::from_value(json!({"metadata": {"name": "m"}})).unwrap();
        assert_eq!(phase(&bare), "Unknown");
        assert!(condition(&bare, "Ready").is_none() && !is_terminating(&bare));
    }
}
