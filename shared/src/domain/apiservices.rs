//! APIService availability: an aggregated API that is not `Available=True` breaks discovery,
//! `kubectl api-resources` and namespace deletion.

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::{
    APIService, APIServiceCondition,
};

/// Why an APIService is not available.
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable<'a> {
    /// Its `Available` condition, `None` when it reports none.
    pub condition: Option<&'a APIServiceCondition>,
    /// The backing service (namespace, name), when it has one.
    pub service: Option<(String, String)>,
}

/// `None` when the APIService is `Available=True`; otherwise its condition and backing service.
pub fn unavailable(a: &APIService) -> Option<Unavailable<'_>> {
    let condition = a
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Available"));
    if condition.is_some_and(|c| c.status == "True") {
        return None;
    }
    let service = a.spec.as_ref().and_then(|s| s.service.as_ref()).map(|s| {
        (
            s.namespace.clone().unwrap_or_default(),
            s.name.clone().unwrap_or_default(),
        )
    });
    Some(Unavailable { condition, service })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn available_true_is_fine_anything_else_is_not() {
        let down: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                "versionPriority": 100, "service": {"name": "metrics-server", "namespace": "kube-system"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}
        }))
        .unwrap();
        let u = unavailable(&down).unwrap();
        assert_eq!(
            u.condition.unwrap().reason.as_deref(),
            Some("MissingEndpoints")
        );
        assert_eq!(
            u.service,
            Some(("kube-system".to_string(), "metrics-server".to_string()))
        );
        let local: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1.apps"},
            "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 100},
            "status": {"conditions": [{"type": "Available", "status": "True"}]}
        }))
        .unwrap();
        assert_eq!(unavailable(&local), None);
        let silent: APIService =
            serde_json::from_value(json!({"metadata": {"name": "v1.x"}})).unwrap();
        let u = unavailable(&silent).unwrap();
        assert!(u.condition.is_none() && u.service.is_none());
    }
}
