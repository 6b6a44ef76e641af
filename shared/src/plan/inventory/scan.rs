//! The deprecated-API scans: stored objects (the kinds the inventory does not list anyway, metadata
//! only), the table apiVersions in deployed Helm manifests, and the API server's
//! `apiserver_requested_deprecated_apis` metric.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams},
};

use crate::{
    error::{Error, Result},
    helm::{self, Revision},
    list,
    plan::{
        apis::{self, ScanKind},
        summary::{self, DerivedScan, HelmUse, StoredUse},
    },
};

/// Requests in flight at once for the per-kind scan and the Helm payload reads.
pub(super) const SCAN_CONCURRENCY: usize = 4;

/// `kind` at `api_version` (`group/version`, or `v1` for the core group), listed across all
/// namespaces through its `plural` resource.
pub(super) fn dynamic_api(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::all_with(client.clone(), &ar)
}

/// Kinds the inventory lists in full anyway (typed, for their findings), with the apiVersion it
/// lists them at: their stored-object signal is read from those pages, not from a second list.
const LISTED_IN_FULL: &[(&str, &str)] = &[
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    (
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
    (
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
    ("APIService", "apiregistration.k8s.io/v1"),
    ("PodDisruptionBudget", "policy/v1"),
    ("StorageClass", "storage.k8s.io/v1"),
    ("Role", "rbac.authorization.k8s.io/v1"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1"),
];

/// Splits the kinds to scan into those read from the inventory's own full lists (`kind` →
/// apiVersion) and those [`scan_stored`] lists. A kind is derived only when the apiVersion the
/// inventory lists is the scan's first choice, which is what the scan would have listed.
pub(super) fn split_scan(kinds: &[ScanKind]) -> (BTreeMap<&'static str, String>, Vec<ScanKind>) {
    let mut derived = BTreeMap::new();
    let mut listed = Vec::new();
    for k in kinds {
        match LISTED_IN_FULL.iter().find(|(kind, v)| {
            *kind == k.kind && k.candidates.first().map(String::as_str) == Some(*v)
        }) {
            Some((kind, v)) => {
                derived.insert(*kind, (*v).to_string());
            }
            None => listed.push(k.clone()),
        }
    }
    (derived, listed)
}

/// Records the deprecated-API scan a list yielded for `kind` (`None`: the list failed, so the
/// scan of that kind did not run) and hands back the list.
pub(super) fn take_scan<T>(
    scans: &mut BTreeMap<&'static str, Option<DerivedScan>>,
    kind: &'static str,
    listed: Option<(T, DerivedScan)>,
) -> Option<T> {
    let (list, scan) = listed.unzip();
    scans.insert(kind, scan);
    list
}

/// The API server's `apiserver_requested_deprecated_apis` metric (`GET /metrics`).
pub(super) async fn metric(client: &kube::Client) -> Result<Vec<apis::MetricUse>> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| Error::parse("request for /metrics", e))?;
    let text = list::retry_read("get /metrics", || client.request_text(request.clone())).await?;
    Ok(apis::parse_deprecated_metric(&text))
}

type Scan = (Vec<StoredUse>, Vec<(String, String)>);
type KindScan = (Vec<StoredUse>, (String, String));

/// Lists every kind of the path's table entries that the inventory does not list anyway,
/// metadata only, one page at a time, and keeps the objects whose last-applied annotation or
/// managedFields name a table apiVersion.
pub(super) async fn scan_stored(client: &kube::Client, kinds: &[ScanKind]) -> Result<Scan> {
    let table = apis::table()?;
    let results: Vec<Result<KindScan>> = stream::iter(kinds.iter().cloned())
        .map(|k| {
            let client = client.clone();
            async move {
                for candidate in &k.candidates {
                    let api = dynamic_api(&client, candidate, &k.kind, &k.resource);
                    let action = format!("list {}.{} (metadata)", k.resource, candidate);
                    let mut uses = Vec::new();
                    let listed = list::for_each_metadata_page(
                        &api,
                        &ListParams::default(),
                        &action,
                        |page| {
                            uses.extend(page.iter().filter_map(|item| {
                                summary::stored_use(table, &k.kind, candidate, &item.metadata)
                            }))
                        },
                    )
                    .await;
                    match listed {
                        Ok(()) => return Ok((uses, (k.kind.clone(), candidate.clone()))),
                        Err(e) if e.is_not_found() => continue,
                        Err(e) => return Err(e),
                    }
                }
                Ok((Vec::new(), (k.kind.clone(), "not served".to_string())))
            }
        })
        .buffer_unordered(SCAN_CONCURRENCY)
        .collect()
        .await;
    let mut uses = Vec::new();
    let mut scanned = Vec::new();
    for r in results {
        let (u, s) = r?;
        uses.extend(u);
        scanned.push(s);
    }
    uses.sort_by(|a, b| a.object.cmp(&b.object));
    scanned.sort();
    Ok((uses, scanned))
}

type HelmScan = (Vec<HelmUse>, Vec<(String, Error)>);

/// Reads the deployed revision of every release (only that one: a removed API in a superseded
/// revision is history, as pluto and kubent also judge) and keeps its table apiVersions.
pub(super) async fn helm_manifest_uses(
    client: &kube::Client,
    revisions: &[Revision],
    table: &[apis::ApiEntry],
) -> Result<HelmScan> {
    let mut deployed: Vec<Revision> = Vec::new();
    for r in helm::latest(revisions) {
        if let Some(d) = helm::last_deployed(revisions, &r.namespace, &r.name) {
            deployed.push(d.clone());
        }
    }
    let results: Vec<(Revision, Result<helm::Release>)> = stream::iter(deployed)
        .map(|r| {
            let client = client.clone();
            async move {
                let rel = helm::read_release(&client, &r).await;
                (r, rel)
            }
        })
        .buffer_unordered(SCAN_CONCURRENCY)
        .collect()
        .await;
    let mut uses = Vec::new();
    let mut failures = Vec::new();
    for (r, rel) in results {
        match rel {
            Ok(rel) => {
                for o in apis::manifest_objects(&rel.manifest) {
                    if apis::lookup(table, &o.api_version, &o.kind).is_some() {
                        uses.push(HelmUse {
                            namespace: r.namespace.clone(),
                            release: r.name.clone(),
                            revision: r.revision,
                            storage_object: r.object.clone(),
                            storage: r.storage,
                            api_version: o.api_version,
                            kind: o.kind,
                            name: o.name,
                        });
                    }
                }
            }
            Err(e) => failures.push((
                format!("Helm release {}/{} manifest", r.namespace, r.name),
                e,
            )),
        }
    }
    uses.sort_by(|a, b| {
        (&a.namespace, &a.release, &a.kind, &a.name).cmp(&(
            &b.namespace,
            &b.release,
            &b.kind,
            &b.name,
        ))
    });
    Ok((uses, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;

    #[test]
    fn kinds_listed_anyway_are_not_scanned_twice() {
        let k = |kind: &str, candidates: &[&str]| ScanKind {
            kind: kind.into(),
            resource: format!("{}s", kind.to_lowercase()),
            candidates: candidates.iter().map(|c| c.to_string()).collect(),
        };
        let (derived, listed) = split_scan(&[
            k("Deployment", &["apps/v1", "extensions/v1beta1"]),
            k("ReplicaSet", &["apps/v1"]),
            k("Role", &["rbac.authorization.k8s.io/v1"]),
            // Listed by the inventory at apps/v1, but the scan's first choice is another
            // version: the scan lists it itself.
            k("StatefulSet", &["apps/v1beta2"]),
        ]);
        assert_eq!(
            derived.get("Deployment").map(String::as_str),
            Some("apps/v1")
        );
        assert_eq!(
            derived.get("Role").map(String::as_str),
            Some("rbac.authorization.k8s.io/v1")
        );
        assert!(!derived.contains_key("StatefulSet"));
        let listed: Vec<&str> = listed.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(listed, vec!["ReplicaSet", "StatefulSet"]);

        // The real table at ks34-host's path: the five kinds of the issue come from the pages.
        let table = apis::table().unwrap();
        let kinds = apis::scan_kinds(table, &v("v1.26.15"), &v("v1.27"));
        let (derived, listed) = split_scan(&kinds);
        for kind in [
            "Deployment",
            "StatefulSet",
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
            "APIService",
        ] {
            assert!(derived.contains_key(kind), "{kind}: {derived:?}");
            assert!(listed.iter().all(|k| k.kind != kind));
        }
    }
}
