//! PDB001, WL001: what draining a node does to workloads: budgets that allow no disruption,
//! and workloads with one replica.

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::{
    model::ObjectRef,
    plan::{codes::Code, findings::Finding, summary::Workload},
};

/// PDB001: budgets that allow no disruption over pods that exist.
pub(crate) fn check_pdbs(pdbs: &[PodDisruptionBudget]) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in pdbs {
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        let Some(st) = &p.status else { continue };
        if st.disruptions_allowed == 0 && st.expected_pods > 0 {
            let spec = p.spec.as_ref();
            let rule = spec
                .and_then(|s| s.min_available.as_ref())
                .map(|m| format!("minAvailable {}", int_or_string(m)))
                .or_else(|| {
                    spec.and_then(|s| s.max_unavailable.as_ref())
                        .map(|m| format!("maxUnavailable {}", int_or_string(m)))
                })
                .unwrap_or_default();
            out.push(
                Finding::new(
                    Code::Pdb001,
                    ObjectRef::namespaced("PodDisruptionBudget", &ns, &name),
                    format!(
                        "{rule}: disruptionsAllowed 0 (currentHealthy {}, desiredHealthy {}, expectedPods {})",
                        st.current_healthy,
                        st.desired_healthy,
                        st.expected_pods
                    ),
                )
                .remedy("scale the workload up or relax the budget for the maintenance window"),
            );
        }
    }
    out
}

fn int_or_string(v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString) -> String {
    match v {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    }
}

/// WL001: Deployments and StatefulSets with one replica.
pub(crate) fn check_single_replicas(
    deployments: &[Workload],
    statefulsets: &[Workload],
) -> Vec<Finding> {
    deployments
        .iter()
        .chain(statefulsets)
        .filter(|w| w.replicas == 1)
        .map(|w| {
            Finding::new(
                Code::Wl001,
                ObjectRef::namespaced(w.kind, &w.namespace, &w.name),
                "1 replica: unavailable while its node drains",
            )
            .remedy("scale to 2+ (with a PodDisruptionBudget) or accept the interruption")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pdbs_blocking_drains() {
        let pdb = |name: &str, allowed: i32, expected: i32| -> PodDisruptionBudget {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"minAvailable": 2},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": expected, "observedGeneration": 1}
            }))
            .unwrap()
        };
        let f = check_pdbs(&[pdb("payments", 0, 2), pdb("web", 1, 2), pdb("empty", 0, 0)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].object.to_string(), "PodDisruptionBudget shop/payments");
        assert!(
            f[0].message
                .starts_with("minAvailable 2: disruptionsAllowed 0")
        );
    }

    #[test]
    fn single_replicas() {
        use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
        let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "api", "namespace": "demo"}, "spec": {"replicas": 1, "selector": {}, "template": {}}})).unwrap();
        let d2: Deployment = serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": 2, "selector": {}, "template": {}}})).unwrap();
        let s: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db", "namespace": "demo"}, "spec": {"selector": {}, "serviceName": "db", "template": {}}})).unwrap();
        let f = check_single_replicas(
            &[
                Workload::from_deployment(&d),
                Workload::from_deployment(&d2),
            ],
            &[Workload::from_statefulset(&s)],
        );
        let got: Vec<String> = f.iter().map(|f| f.object.to_string()).collect();
        assert_eq!(got, vec!["Deployment demo/api", "StatefulSet demo/db"]);
    }
}
