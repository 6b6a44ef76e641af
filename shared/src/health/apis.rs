//! Checks of the API surface:
//! - `api-services`: every APIService `Available=True` (an unavailable aggregated API breaks
//!   discovery, `kubectl api-resources` and namespace deletion);
//! - `webhooks`: no Validating/MutatingWebhookConfiguration webhook that fails closed
//!   (`failurePolicy: Fail`, the v1 default) while its service has no ready endpoint address:
//!   every request it matches is rejected.
//!
//! The Endpoints of each distinct webhook service are read with one GET each (at most 8 at a
//! time); there is rarely more than a handful.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use k8s_openapi::{
    api::{
        admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
        core::v1::Endpoints,
    },
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
};
use kube::{Api, api::ListParams};

use super::{Ctx, Finding, Outcome, count};
use crate::{
    domain::{
        admission::{ClosedWebhook, closed_webhooks},
        apiservices::unavailable,
    },
    list,
};

pub(super) async fn run_api_services(ctx: &Ctx<'_>) -> Outcome {
    let api: Api<APIService> = Api::all(ctx.client.clone());
    let mut total = 0usize;
    let mut findings: Vec<Finding> = Vec::new();
    list::for_each_page(&api, &ListParams::default(), "list apiservices", |page| {
        total += page.len();
        findings.extend(page.iter().filter_map(api_service));
    })
    .await?;
    let summary = format!(
        "{}, {} Available",
        count(total, "APIService"),
        total - findings.len()
    );
    Ok((summary, findings))
}

pub(super) fn api_service(s: &APIService) -> Option<Finding> {
    let name = s.metadata.name.as_deref().unwrap_or_default();
    let down = unavailable(s)?;
    let message = match down.condition {
        Some(c) => {
            let mut m = format!("Available={}", c.status);
            if let Some(r) = c.reason.as_deref().filter(|r| !r.is_empty()) {
                m.push_str(&format!(" ({r})"));
            }
            if let Some(msg) = c.message.as_deref().filter(|m| !m.is_empty()) {
                m.push_str(&format!(": {msg}"));
            }
            m
        }
        None => "no Available condition reported".into(),
    };
    let backend = down
        .service
        .map(|(ns, svc)| format!("; served by service `{ns}/{svc}`"))
        .unwrap_or_default();
    Some(Finding::fail(
        "APIService",
        None,
        name,
        "Unavailable",
        format!("{message}{backend}"),
    ))
}

/// `(ready, not ready)` addresses of an Endpoints object.
pub(super) fn addresses(ep: &Endpoints) -> (usize, usize) {
    ep.subsets.iter().flatten().fold((0, 0), |(r, n), s| {
        (
            r + s.addresses.as_ref().map_or(0, Vec::len),
            n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
        )
    })
}

pub(super) async fn run_webhooks(ctx: &Ctx<'_>) -> Outcome {
    let params = ListParams::default();
    let v: Api<ValidatingWebhookConfiguration> = Api::all(ctx.client.clone());
    let m: Api<MutatingWebhookConfiguration> = Api::all(ctx.client.clone());
    // Page by page: only the fail-closed webhooks are kept, not the configurations (whose CA
    // bundles and rules make them large).
    let (mut configs, mut mutating_configs) = (0usize, 0usize);
    let (mut hooks, mut mutating_hooks) = (Vec::new(), Vec::new());
    futures::try_join!(
        list::for_each_page(
            &v,
            &params,
            "list validatingwebhookconfigurations",
            |page| {
                configs += page.len();
                hooks.extend(closed_webhooks(&page, &[]));
            }
        ),
        list::for_each_page(&m, &params, "list mutatingwebhookconfigurations", |page| {
            mutating_configs += page.len();
            mutating_hooks.extend(closed_webhooks(&[], &page));
        }),
    )?;
    hooks.extend(mutating_hooks);
    let services: BTreeSet<(String, String)> = hooks.iter().map(|h| h.service.clone()).collect();
    let client = ctx.client;
    // Made before they are streamed: see `pods::judge_job_pods`.
    let lookups: Vec<_> = services
        .into_iter()
        .map(|(ns, name)| async move {
            let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
            let ep = list::get_opt(&api, &name, &format!("get endpoints `{ns}/{name}`")).await?;
            Ok::<_, crate::Error>(((ns, name), ep.as_ref().map(addresses)))
        })
        .collect();
    let endpoints: BTreeMap<(String, String), Option<(usize, usize)>> = stream::iter(lookups)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<crate::Result<_>>()?;
    let findings: Vec<Finding> = hooks
        .iter()
        .filter_map(|h| webhook_finding(h, endpoints.get(&h.service).copied().flatten()))
        .collect();
    let summary = format!(
        "{}, {}: {}",
        count(configs + mutating_configs, "webhook configuration"),
        count(hooks.len(), "fail-closed webhook"),
        if hooks.is_empty() {
            "nothing to reach".to_string()
        } else if findings.is_empty() {
            "all have ready endpoints".to_string()
        } else {
            format!("{} without ready endpoints", findings.len())
        }
    );
    Ok((summary, findings))
}

/// A finding when the webhook's service has no ready address (`None`: no Endpoints object).
pub(super) fn webhook_finding(h: &ClosedWebhook, eps: Option<(usize, usize)>) -> Option<Finding> {
    let (ns, svc) = &h.service;
    let why = match eps {
        Some((ready, _)) if ready > 0 => return None,
        Some((_, 0)) => format!("service `{ns}/{svc}` has no endpoint addresses"),
        Some((_, n)) => {
            format!("service `{ns}/{svc}` has no ready endpoint addresses ({n} not ready)")
        }
        None => format!("service `{ns}/{svc}` has no Endpoints"),
    };
    Some(Finding::fail(
        h.kind,
        None,
        &h.config,
        "NoReadyEndpoints",
        format!(
            "webhook `{}` fails closed (failurePolicy Fail) and {why}: requests it matches are rejected",
            h.webhook
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unavailable_api_services_carry_the_condition() {
        let s: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                "versionPriority": 100, "service": {"name": "metrics-server", "namespace": "kube-system"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints",
                "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\""}]}
        }))
        .unwrap();
        let f = api_service(&s).unwrap();
        assert_eq!(f.reason, "Unavailable");
        assert_eq!(
            f.message,
            "Available=False (MissingEndpoints): endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\"; served by service `kube-system/metrics-server`"
        );
        let ok: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1.apps"},
            "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15},
            "status": {"conditions": [{"type": "Available", "status": "True"}]}
        }))
        .unwrap();
        assert_eq!(api_service(&ok), None);
    }

    #[test]
    fn only_fail_closed_service_webhooks_count() {
        let v: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": "kyverno-resource-validating-webhook-cfg"},
            "webhooks": [
                {"name": "validate.kyverno.svc-fail", "failurePolicy": "Fail", "sideEffects": "None",
                 "admissionReviewVersions": ["v1"],
                 "clientConfig": {"service": {"name": "kyverno-svc", "namespace": "kyverno"}}},
                {"name": "validate.kyverno.svc-ignore", "failurePolicy": "Ignore", "sideEffects": "None",
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
        let names: Vec<_> = hooks.iter().map(|h| h.webhook.as_str()).collect();
        assert_eq!(names, ["validate.kyverno.svc-fail", "default-policy"]);

        let f = webhook_finding(&hooks[0], Some((0, 1))).unwrap();
        assert_eq!(f.object.kind, "ValidatingWebhookConfiguration");
        assert_eq!(f.object.name, "kyverno-resource-validating-webhook-cfg");
        assert_eq!(
            f.message,
            "webhook `validate.kyverno.svc-fail` fails closed (failurePolicy Fail) and service `kyverno/kyverno-svc` has no ready endpoint addresses (1 not ready): requests it matches are rejected"
        );
        assert_eq!(webhook_finding(&hooks[0], Some((1, 1))), None);
        assert!(
            webhook_finding(&hooks[1], None)
                .unwrap()
                .message
                .contains("has no Endpoints")
        );
    }

    #[test]
    fn endpoint_addresses_are_counted_per_readiness() {
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "e"},
            "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}]},
                        {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}]}]
        }))
        .unwrap();
        assert_eq!(addresses(&ep), (2, 1));
        let empty: Endpoints = serde_json::from_value(json!({"metadata": {"name": "e"}})).unwrap();
        assert_eq!(addresses(&empty), (0, 0));
    }
}
