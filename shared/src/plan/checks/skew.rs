//! SKEW001-003: kubelet and kube-proxy against the version skew policy, now and after the
//! control plane's first step.

use serde::Serialize;

use crate::{
    domain::skew::{Skew, kube_proxy_kubelet_skew, node_skew},
    model::ObjectRef,
    plan::{codes::Code, findings::Finding},
    version::Version,
};

/// The versions running on one node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVersions {
    /// Node name.
    pub name: String,
    /// Carries the control-plane role.
    pub control_plane: bool,
    /// kubelet.
    pub kubelet: Option<Version>,
    /// kube-proxy.
    pub kube_proxy: Option<Version>,
    /// Where the kube-proxy version came from.
    pub kube_proxy_source: String,
}

pub(super) fn skew_text(s: &Skew) -> String {
    match s {
        Skew::Supported => "supported".into(),
        Skew::NewerThanApiServer => "newer than the API server".into(),
        Skew::TooOld { behind, allowed } => {
            format!("{behind} minors behind (at most {allowed} allowed)")
        }
    }
}

/// SKEW001-003: kubelet and kube-proxy now, and when the control plane reaches `first_step`.
pub(crate) fn check_skew(
    apiserver: &Version,
    first_step: Option<&Version>,
    nodes: &[NodeVersions],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in nodes {
        let obj = ObjectRef::cluster("Node", &n.name);
        if let Some(k) = &n.kubelet {
            let now = node_skew(apiserver, k);
            if !now.is_supported() {
                out.push(
                    Finding::new(
                        Code::Skew001,
                        obj.clone(),
                        format!("kubelet {k} vs API server {apiserver}: {}", skew_text(&now)),
                    )
                    .remedy(format!("upgrade the kubelet on {} first", n.name)),
                );
            }
            if let Some(t) = first_step {
                let after = node_skew(t, k);
                if !after.is_supported() {
                    out.push(
                        Finding::new(
                            Code::Skew002,
                            obj.clone(),
                            format!(
                                "kubelet {k} vs control plane {}: {}",
                                t.minor_string(),
                                skew_text(&after)
                            ),
                        )
                        .remedy(format!(
                            "upgrade the kubelet on {} to {} before the control plane moves",
                            n.name,
                            apiserver.minor_string()
                        ))
                        .step(t.minor_string()),
                    );
                }
            }
        }
        if let Some(p) = &n.kube_proxy {
            let mut problems = Vec::new();
            let now = node_skew(apiserver, p);
            if !now.is_supported() {
                problems.push(format!("vs API server {apiserver}: {}", skew_text(&now)));
            }
            if let Some(t) = first_step {
                let after = node_skew(t, p);
                if !after.is_supported() {
                    problems.push(format!(
                        "vs control plane {}: {}",
                        t.minor_string(),
                        skew_text(&after)
                    ));
                }
            }
            if let Some(k) = &n.kubelet
                && let Some((d, allowed)) = kube_proxy_kubelet_skew(p, k)
            {
                problems.push(format!(
                    "vs kubelet {k} on the same node: {d} minors apart (at most {allowed})"
                ));
            }
            if !problems.is_empty() {
                out.push(
                    Finding::new(
                        Code::Skew003,
                        obj.clone(),
                        format!(
                            "kube-proxy {p} ({}) {}",
                            n.kube_proxy_source,
                            problems.join("; ")
                        ),
                    )
                    .remedy(format!(
                        "bring kubelet and kube-proxy on {} to the same minor",
                        n.name
                    )),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;

    #[test]
    fn skew_now_and_after() {
        let nodes = vec![
            NodeVersions {
                name: "w4".into(),
                control_plane: false,
                kubelet: Some(v("v1.24.17")),
                kube_proxy: Some(v("v1.27.16")),
                kube_proxy_source: "pod image".into(),
            },
            NodeVersions {
                name: "ok".into(),
                control_plane: false,
                kubelet: Some(v("v1.27.16")),
                kube_proxy: Some(v("v1.27.16")),
                kube_proxy_source: "pod image".into(),
            },
            NodeVersions {
                name: "w25".into(),
                control_plane: false,
                kubelet: Some(v("v1.25.1")),
                kube_proxy: None,
                kube_proxy_source: String::new(),
            },
        ];
        let f = check_skew(&v("v1.27.16"), Some(&v("v1.28")), &nodes);
        let codes: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.code.as_str(), f.object.name.as_str()))
            .collect();
        assert_eq!(
            codes,
            vec![("SKEW001", "w4"), ("SKEW002", "w4"), ("SKEW003", "w4")]
        );
        assert!(
            f[0].message.contains("3 minors behind (at most 2 allowed)"),
            "{}",
            f[0].message
        );
        assert!(
            f[1].message.contains("4 minors behind (at most 3 allowed)"),
            "{}",
            f[1].message
        );
        assert!(
            f[2].message.contains("vs kubelet v1.24.17"),
            "{}",
            f[2].message
        );
        // 1.25 kubelet is fine at 1.28 (n-3).
        assert!(f.iter().all(|f| f.object.name != "w25"));
        // ...but not at 1.29.
        let f = check_skew(&v("v1.28.1"), Some(&v("v1.29")), &nodes[2..]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::Skew002);
    }
}
