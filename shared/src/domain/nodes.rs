//! Nodes: readiness, cordon, the kubelet's version.

use k8s_openapi::api::core::v1::{Node, NodeCondition};

use crate::version::Version;

/// A node condition by type (`Ready`, `MemoryPressure`, …).
pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The `Ready` condition's status and reason: (`True`|`False`|`Unknown`, reason); a node that
/// reports no Ready condition is (`Unknown`, `no Ready condition`).
pub fn ready(node: &Node) -> (String, String) {
    condition(node, "Ready")
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
        .unwrap_or_else(|| ("Unknown".into(), "no Ready condition".into()))
}

/// True when the node is `Ready=True`.
pub fn is_ready(node: &Node) -> bool {
    condition(node, "Ready").is_some_and(|c| c.status == "True")
}

/// True when the node is cordoned (`spec.unschedulable`).
pub fn is_cordoned(node: &Node) -> bool {
    node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true)
}

/// `status.nodeInfo.kubeletVersion` as reported (empty when absent).
pub fn kubelet_version_text(node: &Node) -> &str {
    node.status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.kubelet_version.as_str())
        .unwrap_or_default()
}

/// The kubelet's version, when it parses.
pub fn kubelet_version(node: &Node) -> Option<Version> {
    kubelet_version_text(node).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn readiness_and_cordon() {
        let n = node(json!({
            "metadata": {"name": "w"},
            "spec": {"unschedulable": true},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]}
        }));
        assert_eq!(
            ready(&n),
            ("Unknown".to_string(), "NodeStatusUnknown".to_string())
        );
        assert!(!is_ready(&n));
        assert!(is_cordoned(&n));
        assert_eq!(condition(&n, "MemoryPressure").unwrap().status, "False");

        let bare = node(json!({"metadata": {"name": "bare"}}));
        assert_eq!(
            ready(&bare),
            ("Unknown".to_string(), "no Ready condition".to_string())
        );
        assert!(!is_ready(&bare) && !is_cordoned(&bare));
        assert_eq!(kubelet_version(&bare), None);
        assert_eq!(kubelet_version_text(&bare), "");
    }

    #[test]
    fn kubelet_versions_parse() {
        let n = node(json!({
            "metadata": {"name": "w"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.27.16", "kubeProxyVersion": "", "machineID": "",
                "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                "containerRuntimeVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}
        }));
        assert!(is_ready(&n));
        assert_eq!(kubelet_version(&n).unwrap().to_string(), "v1.27.16");
    }
}
