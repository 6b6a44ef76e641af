//! NODE001, NODE002: nodes not Ready, and cordoned nodes.

use crate::{
    model::ObjectRef,
    plan::{codes::Code, findings::Finding, summary::NodeSummary},
};

/// NODE001, NODE002.
pub(crate) fn check_nodes(nodes: &[NodeSummary]) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in nodes {
        let name = &n.name;
        let (status, reason) = (&n.ready, &n.ready_reason);
        if status != "True" {
            out.push(
                Finding::new(
                    Code::Node001,
                    ObjectRef::cluster("Node", name),
                    format!("Ready={status} ({reason})"),
                )
                .remedy("bring the node back (kubelet, network) or remove it from the cluster before upgrading"),
            );
        }
        if n.unschedulable {
            out.push(
                Finding::new(
                    Code::Node002,
                    ObjectRef::cluster("Node", name),
                    "cordoned (spec.unschedulable)",
                )
                .remedy(format!(
                    "if it is cordoned on purpose, skip `kubectl uncordon {name}` in the steps"
                )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    fn node(name: &str, ready: &str, unschedulable: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": ready, "reason": "NodeStatusUnknown"}]}
        }))
        .unwrap()
    }

    #[test]
    fn nodes_not_ready_and_cordoned() {
        let nodes: Vec<NodeSummary> = [
            node("ok", "True", false),
            node("w2", "Unknown", false),
            node("w3", "True", true),
            serde_json::from_value(json!({"metadata": {"name": "bare"}})).unwrap(),
        ]
        .iter()
        .map(NodeSummary::from_node)
        .collect();
        let f = check_nodes(&nodes);
        let got: Vec<(String, String)> = f
            .iter()
            .map(|f| (f.code.to_string(), f.object.name.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("NODE001".into(), "w2".into()),
                ("NODE002".into(), "w3".into()),
                ("NODE001".into(), "bare".into())
            ]
        );
        assert!(f[0].message.contains("Unknown"));
        assert_eq!(f[1].severity, Severity::Advisory);
    }
}
