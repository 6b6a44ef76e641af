//! API001-API003: deprecated and removed APIs, from the three signals (stored objects, deployed
//! Helm manifests, the API server's metric) against the removal table of [`crate::plan::apis`].

use crate::{
    model::ObjectRef,
    plan::{
        apis::{ApiEntry, ApiState, MetricUse, classify, lookup, lookup_resource},
        codes::Code,
        findings::Finding,
        summary::{HelmUse, StoredUse},
    },
    version::Version,
};

/// API001-API003 from the three signals.
pub(crate) fn check_apis(
    table: &[ApiEntry],
    current: &Version,
    target: &Version,
    stored: &[StoredUse],
    helm: &[HelmUse],
    metric: Option<&[MetricUse]>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let state_finding =
        |code_state: &ApiState, object: ObjectRef, what: String, e: &ApiEntry| -> Option<Finding> {
            let repl = e.replacement_text();
            match code_state {
                ApiState::RemovedAlready => Some(
                    Finding::new(
                        Code::Api001,
                        object,
                        format!(
                            "{what}: {} {} is no longer served (removed in {})",
                            e.api_version,
                            e.kind,
                            e.removed_in
                                .as_ref()
                                .map(|v| v.minor_string())
                                .unwrap_or_default()
                        ),
                    )
                    .remedy(format!("move to {repl}")),
                ),
                ApiState::RemovedInPath(r) => Some(
                    Finding::new(
                        Code::Api001,
                        object,
                        format!(
                            "{what}: {} {} is removed in {}",
                            e.api_version,
                            e.kind,
                            r.minor_string()
                        ),
                    )
                    .remedy(format!(
                        "move to {repl} before the {} step",
                        r.minor_string()
                    ))
                    .step(r.minor_string()),
                ),
                ApiState::Deprecated => Some(
                    Finding::new(
                        Code::Api002,
                        object,
                        format!(
                            "{what}: {} {} is deprecated since {}{}",
                            e.api_version,
                            e.kind,
                            e.deprecated_in.minor_string(),
                            e.removed_in
                                .as_ref()
                                .map(|r| format!(", removed in {}", r.minor_string()))
                                .unwrap_or_default()
                        ),
                    )
                    .remedy(format!("move to {repl}")),
                ),
                ApiState::Fine => None,
            }
        };
    for u in stored {
        let kind = &u.object.kind;
        let managed_versions: Vec<&String> = u.managed.iter().map(|(_, v)| v).collect();
        // Writes recorded in managedFields at a table version that is still served.
        let mut reported: Vec<&str> = Vec::new();
        for (manager, av) in &u.managed {
            let Some(e) = lookup(table, av, kind) else {
                continue;
            };
            if reported.contains(&av.as_str()) {
                continue;
            }
            let state = classify(e, current, target);
            if state == ApiState::RemovedAlready {
                continue; // history from before the removal
            }
            if let Some(f) = state_finding(
                &state,
                u.object.clone(),
                format!("written by {manager} through {av} (managedFields)"),
                e,
            ) {
                out.push(f);
                reported.push(av);
            }
        }
        let Some(la) = &u.last_applied else { continue };
        let Some(e) = lookup(table, la, kind) else {
            continue;
        };
        let state = classify(e, current, target);
        if state == ApiState::Fine || reported.contains(&la.as_str()) {
            continue;
        }
        let stale = state == ApiState::RemovedAlready
            || (!managed_versions.is_empty() && !managed_versions.contains(&la));
        if stale {
            let why = if state == ApiState::RemovedAlready {
                format!("{la} is not served by {}", current.minor_string())
            } else {
                "managedFields show no write through it".to_string()
            };
            out.push(
                Finding::new(
                    Code::Api003,
                    u.object.clone(),
                    format!(
                        "last-applied-configuration says {la} but the object is served as {} ({why}): the manifest it was applied from is stale",
                        u.served_as
                    ),
                )
                .remedy(format!("update the source manifest to {} and re-apply it", e.replacement_text())),
            );
        } else if let Some(f) = state_finding(
            &state,
            u.object.clone(),
            "last-applied-configuration (no managedFields to confirm)".into(),
            e,
        ) {
            out.push(f);
        }
    }
    for h in helm {
        let Some(e) = lookup(table, &h.api_version, &h.kind) else {
            continue;
        };
        let state = classify(e, current, target);
        // The object that holds the release: a Secret, or a ConfigMap with Helm's ConfigMap driver.
        let object = ObjectRef::namespaced(h.storage.kind(), &h.namespace, &h.storage_object);
        let what = format!(
            "Helm release {}/{} revision {} (deployed) renders {} {}",
            h.namespace, h.release, h.revision, h.kind, h.name
        );
        if let Some(mut f) = state_finding(&state, object, what, e) {
            if f.code == Code::Api001 {
                f.remedy = Some(format!(
                    "helm mapkubeapis {} --namespace {} (or upgrade the chart to one using {}); otherwise the next helm upgrade fails",
                    h.release,
                    h.namespace,
                    e.replacement_text()
                ));
            }
            out.push(f);
        }
    }
    for m in metric.unwrap_or_default() {
        let object = ObjectRef::cluster(
            "API",
            &format!("{}.{}", m.resource, m.api_version.replace('/', ".")),
        );
        match lookup_resource(table, &m.api_version, &m.resource) {
            Some(e) => {
                if let Some(f) = state_finding(&classify(e, current, target), object, "requested since the API server started (apiserver_requested_deprecated_apis)".into(), e) {
                    out.push(f);
                }
            }
            None => out.push(
                Finding::new(
                    Code::Api002,
                    object,
                    format!(
                        "{} {} requested since the API server started (apiserver_requested_deprecated_apis){}",
                        m.api_version,
                        m.resource,
                        if m.removed_release.is_empty() { String::new() } else { format!(", removed in {}", m.removed_release) }
                    ),
                )
                .remedy("find the client in the audit log (annotation k8s.io/deprecated) and move it to the current version"),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::version::v;

    fn stored(
        kind: &str,
        ns: &str,
        name: &str,
        served: &str,
        la: Option<&str>,
        managed: &[(&str, &str)],
    ) -> StoredUse {
        StoredUse {
            object: ObjectRef::namespaced(kind, ns, name),
            served_as: served.into(),
            last_applied: la.map(str::to_string),
            managed: managed
                .iter()
                .map(|(m, v)| (m.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn deprecated_apis_from_every_signal() {
        let t = crate::plan::apis::table().unwrap();
        let cur = v("v1.27.16");
        let uses = vec![
            // Removed long ago: the annotation is stale, never a blocker.
            stored(
                "Ingress",
                "shop",
                "storefront",
                "networking.k8s.io/v1",
                Some("extensions/v1beta1"),
                &[],
            ),
            // Still served, written through it per managedFields: removed at v1.29.
            stored(
                "FlowSchema",
                "",
                "a",
                "flowcontrol.apiserver.k8s.io/v1beta3",
                Some("flowcontrol.apiserver.k8s.io/v1beta2"),
                &[(
                    "kubectl-client-side-apply",
                    "flowcontrol.apiserver.k8s.io/v1beta2",
                )],
            ),
            // Still served, but managedFields show only the new version: stale.
            stored(
                "FlowSchema",
                "",
                "b",
                "flowcontrol.apiserver.k8s.io/v1beta3",
                Some("flowcontrol.apiserver.k8s.io/v1beta2"),
                &[("kubectl", "flowcontrol.apiserver.k8s.io/v1beta3")],
            ),
        ];
        let helm = vec![
            HelmUse {
                namespace: "shop".into(),
                release: "billing".into(),
                revision: 2,
                storage_object: "sh.helm.release.v1.billing.v2".into(),
                storage: crate::helm::Storage::Secret,
                api_version: "policy/v1beta1".into(),
                kind: "PodDisruptionBudget".into(),
                name: "billing".into(),
            },
            // Helm's ConfigMap driver: the finding names the ConfigMap, not a Secret.
            HelmUse {
                namespace: "shop".into(),
                release: "legacy".into(),
                revision: 1,
                storage_object: "sh.helm.release.v1.legacy.v1".into(),
                storage: crate::helm::Storage::ConfigMap,
                api_version: "policy/v1beta1".into(),
                kind: "PodDisruptionBudget".into(),
                name: "legacy".into(),
            },
        ];
        let f = check_apis(t, &cur, &v("v1.29"), &uses, &helm, None);
        let got: Vec<(&str, String)> = f
            .iter()
            .map(|f| (f.code.as_str(), f.object.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("API003", "Ingress shop/storefront".to_string()),
                ("API001", "FlowSchema /a".to_string()),
                // v1beta3 itself is deprecated by 1.29.
                ("API002", "FlowSchema /b".to_string()),
                ("API003", "FlowSchema /b".to_string()),
                (
                    "API001",
                    "Secret shop/sh.helm.release.v1.billing.v2".to_string()
                ),
                (
                    "API001",
                    "ConfigMap shop/sh.helm.release.v1.legacy.v1".to_string()
                ),
            ]
        );
        assert_eq!(f[1].step.as_deref(), Some("v1.29"));
        assert_eq!(f[0].severity, Severity::Advisory);
        assert!(
            f[4].remedy
                .as_deref()
                .unwrap()
                .starts_with("helm mapkubeapis billing")
        );
        // Towards 1.28 only, the FlowSchema is deprecated, not removed.
        let f = check_apis(t, &cur, &v("v1.28"), &uses[1..2], &[], None);
        assert_eq!(f[0].code, Code::Api002);
        // The metric.
        let m = vec![MetricUse {
            api_version: "flowcontrol.apiserver.k8s.io/v1beta2".into(),
            resource: "flowschemas".into(),
            subresource: String::new(),
            removed_release: "1.29".into(),
        }];
        let f = check_apis(t, &cur, &v("v1.29"), &[], &[], Some(&m));
        assert_eq!(f[0].code, Code::Api001);
        assert_eq!(
            f[0].object.name,
            "flowschemas.flowcontrol.apiserver.k8s.io.v1beta2"
        );
    }
}
