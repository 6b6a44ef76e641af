//! RUNTIME001: nodes on containerd 1.x on a path past the last Kubernetes minor that supports
//! it.

use crate::{
    model::{ObjectRef, Severity},
    plan::{codes::Code, findings::Finding, summary::NodeSummary},
    version::Version,
};

/// The last Kubernetes minor that supports containerd 1.x; every minor after it needs 2.x on
/// every node.
pub(crate) const LAST_MINOR_WITH_CONTAINERD_1: (u64, u64) = (1, 35);
/// Where Kubernetes says so.
pub(crate) const CONTAINERD_1_END_SOURCE: &str = "https://kubernetes.io/blog/2025/11/26/kubernetes-v1-35-sneak-peek/#kubernetes-is-deprecating-containerd-v1-y-support";

/// The containerd version of a node's `containerRuntimeVersion` (`containerd://1.7.22`) when it is
/// a 1.x release; `None` for containerd 2.x, other runtimes, or text that is no version.
pub(crate) fn containerd_1x(runtime: &str) -> Option<Version> {
    let v: Version = runtime.strip_prefix("containerd://")?.parse().ok()?;
    (v.major == 1).then_some(v)
}

/// RUNTIME001: per node still on containerd 1.x, Required when the path goes past the last
/// minor that supports it (`first_needing` is the step that does: `v1.36`, or `None` when the
/// cluster is already past it), Recommended when the path ends at that minor.
pub(crate) fn check_runtime(
    nodes: &[NodeSummary],
    end: &Version,
    first_needing: Option<&Version>,
) -> Vec<Finding> {
    let last = LAST_MINOR_WITH_CONTAINERD_1;
    if end.minor_key() < last {
        return Vec::new();
    }
    let past = end.minor_key() > last;
    let mut out = Vec::new();
    for n in nodes {
        let Some(v) = containerd_1x(&n.container_runtime) else {
            continue;
        };
        let mut f = Finding::new(
            Code::Runtime001,
            ObjectRef::cluster("Node", &n.name),
            if past {
                format!(
                    "containerd {v}: Kubernetes v{}.{} is the last minor that supports containerd 1.x; {} needs containerd 2.x on every node",
                    last.0,
                    last.1,
                    first_needing
                        .map(|s| format!("the {} step", s.minor_string()))
                        .unwrap_or_else(|| format!("Kubernetes {}", end.minor_string()))
                )
            } else {
                format!(
                    "containerd {v}: Kubernetes v{}.{} is the last minor that supports containerd 1.x; the next minor will need containerd 2.x",
                    last.0, last.1
                )
            },
        )
        .remedy(format!(
            "upgrade containerd on {} to 2.x (`containerd config migrate` converts its configuration){}; see {CONTAINERD_1_END_SOURCE}",
            n.name,
            first_needing
                .map(|s| format!(" before the {} step", s.minor_string()))
                .unwrap_or_default()
        ));
        if past {
            if let Some(s) = first_needing {
                f = f.step(s.minor_string());
            }
        } else {
            f = f.severity(Severity::Advisory);
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;
    use serde_json::json;

    #[test]
    fn containerd_1_is_required_past_1_35_and_recommended_at_it() {
        let node = |name: &str, runtime: &str| -> NodeSummary {
            NodeSummary::from_node(
                &serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "status": {"nodeInfo": {"containerRuntimeVersion": runtime,
                        "kubeletVersion": "v1.34.2", "kubeProxyVersion": "", "machineID": "", "systemUUID": "",
                        "bootID": "", "kernelVersion": "", "osImage": "", "operatingSystem": "linux", "architecture": "amd64"}}
                }))
                .unwrap(),
            )
        };
        let nodes = vec![
            node("old", "containerd://1.7.22"),
            node("new", "containerd://2.1.4"),
            node("crio", "cri-o://1.34.1"),
            node("k3s", "containerd://1.7.23-k3s2"),
        ];
        // Through 1.35 to 1.36: Required, on the v1.36 step.
        let f = check_runtime(&nodes, &v("v1.36"), Some(&v("v1.36")));
        let got: Vec<(&str, Severity, &str)> = f
            .iter()
            .map(|f| (f.code.as_str(), f.severity, f.object.name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("RUNTIME001", Severity::Blocking, "old"),
                ("RUNTIME001", Severity::Blocking, "k3s")
            ]
        );
        assert_eq!(f[0].step.as_deref(), Some("v1.36"));
        assert!(
            f[0].message.contains("containerd v1.7.22"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].remedy
                .as_deref()
                .unwrap()
                .contains(CONTAINERD_1_END_SOURCE),
            "{:?}",
            f[0].remedy
        );
        // Ending at 1.35: Recommended.
        let f = check_runtime(&nodes, &v("v1.35"), None);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.severity == Severity::Advisory));
        // Before 1.35: nothing to say.
        assert!(check_runtime(&nodes, &v("v1.34"), None).is_empty());
        assert_eq!(containerd_1x("containerd://2.0.0"), None);
        assert_eq!(containerd_1x("docker://24.0.7"), None);
        assert_eq!(containerd_1x("containerd://garbage"), None);
    }
}
