//! WEBHOOK001: admission webhooks that fail closed on a service with no ready endpoints.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};

use crate::{
    domain::admission::closed_webhooks,
    model::ObjectRef,
    plan::{codes::Code, findings::Finding},
};

/// WEBHOOK001: `failurePolicy: Fail` (the v1 default) with a service that has no ready address.
/// `ready` says, per (namespace, service), whether its Endpoints have a ready address; a service
/// missing from the map has no Endpoints at all.
pub(crate) fn check_webhooks(
    validating: &[ValidatingWebhookConfiguration],
    mutating: &[MutatingWebhookConfiguration],
    ready: &BTreeMap<(String, String), bool>,
) -> Vec<Finding> {
    closed_webhooks(validating, mutating)
        .into_iter()
        .filter(|h| !ready.get(&h.service).copied().unwrap_or(false))
        .map(|h| {
            let (ns, svc) = &h.service;
            Finding::new(
                Code::Webhook001,
                ObjectRef::cluster(h.kind, &h.config),
                format!("webhook {} (failurePolicy Fail) calls service {ns}/{svc}, which has no ready endpoints: matching requests are rejected", h.webhook),
            )
            .remedy("make the service ready, or set failurePolicy: Ignore / delete the webhook for the upgrade")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webhooks_failing_closed() {
        let vw: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": "kyverno"},
            "webhooks": [
                {"name": "fail", "failurePolicy": "Fail", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}}},
                {"name": "ignore", "failurePolicy": "Ignore", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc"}}},
                {"name": "default-policy", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"namespace": "ok", "name": "svc"}}},
                {"name": "url", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                 "clientConfig": {"url": "https://example.com"}}
            ]
        }))
        .unwrap();
        let mut ready = BTreeMap::new();
        ready.insert(("kyverno".to_string(), "kyverno-svc".to_string()), false);
        ready.insert(("ok".to_string(), "svc".to_string()), true);
        let f = check_webhooks(&[vw], &[], &ready);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .starts_with("webhook fail (failurePolicy Fail)")
        );
        // No Endpoints at all counts as not ready.
        let f = check_webhooks(&[], &[], &BTreeMap::new());
        assert!(f.is_empty());
    }
}
