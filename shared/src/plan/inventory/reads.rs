//! The inventory's reads, one collector per resource: each lists page by page and keeps a
//! summary, never the objects.

use super::*;

/// Nodes, page by page, summarized.
pub(super) async fn nodes(client: &kube::Client) -> Result<Vec<NodeSummary>> {
    let api = Api::<Node>::all(client.clone());
    let mut out = Vec::new();
    list::for_each_page(&api, &ListParams::default(), "list nodes", |page| {
        out.extend(page.iter().map(NodeSummary::from_node));
    })
    .await?;
    Ok(out)
}

/// kube-system pods, page by page: the summaries (versions per node) and the pods not running
/// well (POD002; here also Running pods that are not Ready or have a waiting container).
pub(super) async fn kube_system_pods(
    client: &kube::Client,
) -> Result<(Vec<SystemPod>, Vec<UnhealthyPod>)> {
    let api = Api::<Pod>::namespaced(client.clone(), "kube-system");
    let mut pods = Vec::new();
    let mut bad = Vec::new();
    list::for_each_page(
        &api,
        &ListParams::default(),
        "list pods in kube-system",
        |page| {
            for p in &page {
                pods.push(SystemPod::from_pod(p));
                bad.extend(summary::unhealthy(p));
            }
        },
    )
    .await?;
    Ok((pods, bad))
}

/// The server-side filter for pods that are neither Running nor finished well: what
/// pre-check.sh's `kubectl get pods -A --field-selector=status.phase!=Running | grep -v
/// Completed` lists.
const NOT_RUNNING_SELECTOR: &str = "status.phase!=Running,status.phase!=Succeeded";

/// Every pod not Running and not Succeeded (Pending, Failed, Unknown), cluster-wide, with a
/// server-side field selector: on a healthy cluster this list is empty whatever its size.
pub(super) async fn pods_not_running(client: &kube::Client) -> Result<Vec<UnhealthyPod>> {
    let api = Api::<Pod>::all(client.clone());
    let params = ListParams::default().fields(NOT_RUNNING_SELECTOR);
    let mut out = Vec::new();
    list::for_each_page(&api, &params, "list pods not Running", |page| {
        out.extend(page.iter().filter_map(summary::unhealthy));
    })
    .await?;
    Ok(out)
}

/// Deployments, page by page: the summaries, the CoreDNS image, and the stored-object signal.
pub(super) async fn deployments(
    client: &kube::Client,
    table: &[apis::ApiEntry],
    mut scan: DerivedScan,
) -> Result<(Vec<Workload>, Option<String>, DerivedScan)> {
    let api = Api::<Deployment>::all(client.clone());
    let mut out = Vec::new();
    let mut coredns = None;
    list::for_each_page(&api, &ListParams::default(), "list deployments", |page| {
        for d in &page {
            if d.metadata.namespace.as_deref() == Some("kube-system")
                && d.metadata.name.as_deref() == Some("coredns")
            {
                coredns = summary::deployment_image(d);
            }
            scan.see(table, "Deployment", &d.metadata);
            out.push(Workload::from_deployment(d));
        }
    })
    .await?;
    Ok((out, coredns, scan))
}

/// StatefulSets, page by page: the summaries and the stored-object signal.
pub(super) async fn statefulsets(
    client: &kube::Client,
    table: &[apis::ApiEntry],
    mut scan: DerivedScan,
) -> Result<(Vec<Workload>, DerivedScan)> {
    let api = Api::<StatefulSet>::all(client.clone());
    let mut out = Vec::new();
    list::for_each_page(&api, &ListParams::default(), "list statefulsets", |page| {
        for s in &page {
            scan.see(table, "StatefulSet", &s.metadata);
            out.push(Workload::from_statefulset(s));
        }
    })
    .await?;
    Ok((out, scan))
}

/// A kind with few objects, kept whole (PodDisruptionBudgets, APIServices, StorageClasses), and its
/// stored-object signal.
pub(super) async fn list_scanned<K>(
    api: &Api<K>,
    action: &str,
    table: &[apis::ApiEntry],
    mut scan: DerivedScan,
) -> Result<(Vec<K>, DerivedScan)>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = list::list_all(api, &ListParams::default(), action).await?;
    let kind = K::kind(&());
    for o in &list {
        scan.see(table, &kind, o.meta());
    }
    Ok((list, scan))
}

/// A pod without a controller owner that is not a mirror pod (drain skips those): a bare-pod
/// candidate, as `(namespace, name)`.
pub(super) fn bare_candidate(
    m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<(String, String)> {
    let controlled = m
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true));
    // Mirror pods of static pods are skipped by drain.
    let mirror = m
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    if controlled || mirror {
        return None;
    }
    Some((m.namespace.clone()?, m.name.clone()?))
}

pub(super) async fn bare_pods(client: &kube::Client) -> Result<Vec<ObjectRef>> {
    let api: Api<Pod> = Api::all(client.clone());
    // One metadata page at a time: only the few candidates are kept.
    let mut candidates: Vec<(String, String)> = Vec::new();
    list::for_each_metadata_page(
        &api,
        &ListParams::default(),
        "list pods (metadata)",
        |page| candidates.extend(page.iter().filter_map(|p| bare_candidate(&p.metadata))),
    )
    .await?;
    // Finished pods do not block a drain: read the few candidates to see their phase.
    let results: Vec<Result<Option<ObjectRef>>> = stream::iter(candidates)
        .map(|(ns, name)| {
            let client = client.clone();
            async move {
                let api: Api<Pod> = Api::namespaced(client, &ns);
                let pod = list::get_opt(&api, &name, &format!("get pod {ns}/{name}")).await?;
                let finished = pod
                    .as_ref()
                    .and_then(|p| p.status.as_ref())
                    .and_then(|s| s.phase.as_deref())
                    .is_some_and(|ph| ph == "Succeeded" || ph == "Failed");
                Ok((pod.is_some() && !finished).then(|| ObjectRef::namespaced("Pod", &ns, &name)))
            }
        })
        .buffer_unordered(SCAN_CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::new();
    for r in results {
        if let Some(p) = r? {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Both webhook configuration kinds, the readiness of their services, and their stored-object
/// signal.
pub(super) struct Webhooks {
    pub(super) validating: Vec<ValidatingWebhookConfiguration>,
    pub(super) mutating: Vec<MutatingWebhookConfiguration>,
    pub(super) ready: BTreeMap<(String, String), bool>,
    pub(super) validating_scan: DerivedScan,
    pub(super) mutating_scan: DerivedScan,
}

pub(super) async fn webhooks(
    client: &kube::Client,
    table: &[apis::ApiEntry],
    mut validating_scan: DerivedScan,
    mut mutating_scan: DerivedScan,
) -> Result<Webhooks> {
    let all = ListParams::default();
    let vapi = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let mapi = Api::<MutatingWebhookConfiguration>::all(client.clone());
    let (v, m) = futures::try_join!(
        list::list_all(&vapi, &all, "list validatingwebhookconfigurations"),
        list::list_all(&mapi, &all, "list mutatingwebhookconfigurations"),
    )?;
    let mut services = BTreeSet::new();
    for c in v
        .iter()
        .flat_map(|c| c.webhooks.iter().flatten().map(|w| &w.client_config))
        .chain(
            m.iter()
                .flat_map(|c| c.webhooks.iter().flatten().map(|w| &w.client_config)),
        )
    {
        if let Some(s) = &c.service {
            services.insert((s.namespace.clone(), s.name.clone()));
        }
    }
    let mut ready = BTreeMap::new();
    for (ns, name) in services {
        let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
        let ep = list::get_opt(&api, &name, &format!("get endpoints {ns}/{name}")).await?;
        let has = ep.is_some_and(|e| {
            e.subsets
                .iter()
                .flatten()
                .any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty()))
        });
        ready.insert((ns, name), has);
    }
    for c in &v {
        validating_scan.see(table, "ValidatingWebhookConfiguration", &c.metadata);
    }
    for c in &m {
        mutating_scan.see(table, "MutatingWebhookConfiguration", &c.metadata);
    }
    Ok(Webhooks {
        validating: v,
        mutating: m,
        ready,
        validating_scan,
        mutating_scan,
    })
}

pub(super) async fn install_plans(client: &kube::Client) -> Result<Vec<Extension>> {
    let api: Api<DynamicObject> =
        Api::all_with(client.clone(), &kubesphere::install_plan_resource());
    let objs = list::list_all(
        &api,
        &ListParams::default(),
        "list installplans.kubesphere.io",
    )
    .await?;
    Ok(objs
        .iter()
        .map(|o| Extension {
            name: o.metadata.name.clone().unwrap_or_default(),
            version: kubesphere::field_str(o, &["spec", "extension", "version"])
                .or_else(|| kubesphere::field_str(o, &["status", "version"]))
                .unwrap_or("-")
                .to_string(),
            state: kubesphere::field_str(o, &["status", "state"])
                .unwrap_or("-")
                .to_string(),
            clusters: kubesphere::field(o, &["status", "clusterSchedulingStatuses"])
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        })
        .collect())
}

pub(super) async fn velero_backups(client: &kube::Client) -> Result<Option<Vec<VeleroBackup>>> {
    let api = dynamic_api(client, "velero.io/v1", "Backup", "backups");
    let objs = list::list_all(&api, &ListParams::default(), "list backups.velero.io").await?;
    let mut out: Vec<VeleroBackup> = objs
        .iter()
        .map(|o| VeleroBackup {
            name: o.metadata.name.clone().unwrap_or_default(),
            phase: kubesphere::field_str(o, &["status", "phase"])
                .unwrap_or("-")
                .to_string(),
            completed: kubesphere::field_str(o, &["status", "completionTimestamp"])
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    out.sort_by(|a, b| b.completed.cmp(&a.completed));
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_pod_candidates() {
        let meta =
            |v: serde_json::Value| -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                serde_json::from_value(v).unwrap()
            };
        assert_eq!(
            bare_candidate(&meta(json!({"name": "debug", "namespace": "shop"}))),
            Some(("shop".into(), "debug".into()))
        );
        let owned = json!({"name": "w", "namespace": "shop", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true}]});
        assert_eq!(bare_candidate(&meta(owned)), None);
        let not_controller = json!({"name": "w", "namespace": "shop", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "r", "uid": "u"}]});
        assert!(bare_candidate(&meta(not_controller)).is_some());
        let mirror = json!({"name": "etcd-m1", "namespace": "kube-system",
            "annotations": {"kubernetes.io/config.mirror": "x"}});
        assert_eq!(bare_candidate(&meta(mirror)), None);
        assert_eq!(bare_candidate(&meta(json!({"name": "no-namespace"}))), None);
    }
}
