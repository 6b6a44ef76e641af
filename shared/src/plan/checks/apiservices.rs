//! APISVC001: aggregated APIs that are not available.

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;

use crate::{
    domain::apiservices::unavailable,
    model::ObjectRef,
    plan::{codes::Code, findings::Finding},
};

/// APISVC001.
pub(crate) fn check_apiservices(list: &[APIService]) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in list {
        let Some(down) = unavailable(a) else { continue };
        let name = a.metadata.name.clone().unwrap_or_default();
        let (status, reason, message) = match down.condition {
            Some(c) => (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            ),
            None => ("Unknown".into(), "NoCondition".into(), String::new()),
        };
        let svc = down
            .service
            .map(|(ns, svc)| format!(" (service {ns}/{svc})"))
            .unwrap_or_default();
        out.push(
            Finding::new(
                Code::Apisvc001,
                ObjectRef::cluster("APIService", &name),
                format!("Available={status} {reason}{svc}: {message}").trim_end_matches(": ").to_string(),
            )
            .remedy("fix the backing service or delete the APIService; an unavailable one breaks discovery and namespace deletion"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apiservices() {
        let a: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                     "service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "no addresses"}]}
        }))
        .unwrap();
        let local: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1.apps"},
            "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 100},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}
        }))
        .unwrap();
        let f = check_apiservices(&[a, local]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].message,
            "Available=False MissingEndpoints (service kube-system/metrics-server): no addresses"
        );
    }
}
