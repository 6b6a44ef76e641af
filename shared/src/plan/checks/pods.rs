//! POD001, POD002: pods a drain deletes for good, and pods not running well before the upgrade.

use crate::{
    model::ObjectRef,
    plan::{codes::Code, findings::Finding, summary::UnhealthyPod},
};

/// POD001, from pods known to have no controller owner.
pub(crate) fn check_bare_pods(pods: &[ObjectRef]) -> Vec<Finding> {
    pods.iter()
        .map(|p| {
            Finding::new(Code::Pod001, p.clone(), "no controller: `kubectl drain` refuses it without --force, and --force deletes it for good")
                .remedy("recreate it under a Deployment/Job, or delete it before draining its node")
        })
        .collect()
}

/// POD002: pods not running well now (see [`crate::plan::summary::pod_problem`]).
pub(crate) fn check_unhealthy_pods(pods: &[UnhealthyPod]) -> Vec<Finding> {
    pods.iter()
        .map(|p| {
            Finding::new(Code::Pod002, p.object.clone(), p.problem.clone()).remedy(
                "fix before upgrading: failures present before the upgrade are hard to tell from damage after it",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    #[test]
    fn unhealthy_pods_are_recommended() {
        let f = check_unhealthy_pods(&[UnhealthyPod {
            object: ObjectRef::namespaced("Pod", "shop", "cart-x"),
            problem: "Pending: not scheduled: Unschedulable".into(),
        }]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::Pod002);
        assert_eq!(f[0].severity, Severity::Advisory);
        assert_eq!(f[0].message, "Pending: not scheduled: Unschedulable");
        assert!(
            f[0].remedy
                .as_deref()
                .unwrap()
                .starts_with("fix before upgrading")
        );
    }
}
