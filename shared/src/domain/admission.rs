//! Admission webhooks that fail closed: `failurePolicy: Fail` (the admissionregistration/v1
//! default) with a service to call. While that service has no ready endpoint, every request
//! the webhook matches is rejected.

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration, WebhookClientConfig,
};

/// A webhook that fails closed and calls a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedWebhook {
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    pub kind: &'static str,
    /// The configuration's name.
    pub config: String,
    /// The webhook's name.
    pub webhook: String,
    /// Service namespace and name.
    pub service: (String, String),
}

fn closed(
    kind: &'static str,
    config: &str,
    webhook: &str,
    policy: Option<&str>,
    client: &WebhookClientConfig,
) -> Option<ClosedWebhook> {
    if policy.unwrap_or("Fail") != "Fail" {
        return None;
    }
    let svc = client.service.as_ref()?;
    Some(ClosedWebhook {
        kind,
        config: config.to_string(),
        webhook: webhook.to_string(),
        service: (svc.namespace.clone(), svc.name.clone()),
    })
}

/// The fail-closed, service-backed webhooks of the configurations: the validating ones, then
/// the mutating ones, each in order.
pub fn closed_webhooks(
    validating: &[ValidatingWebhookConfiguration],
    mutating: &[MutatingWebhookConfiguration],
) -> Vec<ClosedWebhook> {
    let mut out = Vec::new();
    for c in validating {
        let name = c.metadata.name.as_deref().unwrap_or_default();
        for w in c.webhooks.iter().flatten() {
            out.extend(closed(
                "ValidatingWebhookConfiguration",
                name,
                &w.name,
                w.failure_policy.as_deref(),
                &w.client_config,
            ));
        }
    }
    for c in mutating {
        let name = c.metadata.name.as_deref().unwrap_or_default();
        for w in c.webhooks.iter().flatten() {
            out.extend(closed(
                "MutatingWebhookConfiguration",
                name,
                &w.name,
                w.failure_policy.as_deref(),
                &w.client_config,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_fail_closed_service_webhooks_count() {
        let v: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": "kyverno"},
            "webhooks": [
                {"name": "fail", "failurePolicy": "Fail", "sideEffects": "None",
                 "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"name": "kyverno-svc", "namespace": "kyverno"}}},
                {"name": "ignore", "failurePolicy": "Ignore", "sideEffects": "None",
                 "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"name": "kyverno-svc", "namespace": "kyverno"}}},
                {"name": "url.example", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"url": "https://example.com"}}
            ]
        }))
        .unwrap();
        let m: MutatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": "m"},
            "webhooks": [{"name": "default-policy", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"name": "s", "namespace": "n"}}}]
        }))
        .unwrap();
        let hooks = closed_webhooks(&[v], &[m]);
        assert_eq!(
            hooks,
            [
                ClosedWebhook {
                    kind: "ValidatingWebhookConfiguration",
                    config: "kyverno".into(),
                    webhook: "fail".into(),
                    service: ("kyverno".into(), "kyverno-svc".into()),
                },
                ClosedWebhook {
                    kind: "MutatingWebhookConfiguration",
                    config: "m".into(),
                    webhook: "default-policy".into(),
                    service: ("n".into(), "s".into()),
                },
            ]
        );
    }
}
