//! How the cluster was built ([`BuildKind`]), decided from the API server version, kubeadm-config
//! and the nodes; and what kubeadm-config says.

use serde::Serialize;
use serde_json::Value;

use crate::{plan::summary::NodeSummary, version::Version};

/// How the cluster was built, which decides the tool for the Kubernetes steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildKind {
    /// kubeadm.
    Kubeadm,
    /// KubeSphere's KubeKey (kubeadm underneath).
    Kubekey,
    /// k3s.
    K3s,
    /// RKE2.
    Rke2,
    /// Amazon EKS.
    Eks,
    /// Google GKE.
    Gke,
    /// Azure AKS.
    Aks,
    /// Alibaba ACK.
    Ack,
    /// Could not tell.
    Unknown,
}

impl BuildKind {
    /// The tool that upgrades Kubernetes on such a cluster.
    pub fn tool(self) -> &'static str {
        match self {
            Self::Kubeadm => "kubeadm",
            Self::Kubekey => "KubeKey (kk upgrade; kubeadm underneath)",
            Self::K3s => "k3s installer",
            Self::Rke2 => "RKE2 installer",
            Self::Eks => "aws eks (managed control plane)",
            Self::Gke => "gcloud container (managed control plane)",
            Self::Aks => "az aks (managed control plane)",
            Self::Ack => "Alibaba Cloud ACK console (managed control plane)",
            Self::Unknown => "the tool that built the cluster",
        }
    }

    /// kubeadm manages the control plane (kubeadm and KubeKey).
    pub fn is_kubeadm(self) -> bool {
        matches!(self, Self::Kubeadm | Self::Kubekey)
    }

    /// A managed control plane.
    pub fn is_managed(self) -> bool {
        matches!(self, Self::Eks | Self::Gke | Self::Aks | Self::Ack)
    }
}

/// The build and the facts it was decided from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterBuild {
    /// The kind.
    pub kind: BuildKind,
    /// The tool for the Kubernetes steps.
    pub tool: String,
    /// The signals used.
    pub evidence: Vec<String>,
}

/// What kubeadm-config says.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfig {
    /// `kubernetesVersion`.
    pub kubernetes_version: Option<String>,
    /// `controlPlaneEndpoint`.
    pub control_plane_endpoint: Option<String>,
    /// `etcd.external` is set.
    pub external_etcd: bool,
    /// `etcd.external.endpoints`.
    pub etcd_endpoints: Vec<String>,
    /// `apiServer.certSANs`.
    #[serde(skip)]
    pub cert_sans: Vec<String>,
}

/// Parses the `ClusterConfiguration` key of kubeadm-config.
pub(super) fn parse_kubeadm_config(text: &str) -> KubeadmConfig {
    let v: Value = serde_saphyr::from_str(text).unwrap_or(Value::Null);
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let list = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    KubeadmConfig {
        kubernetes_version: s("/kubernetesVersion"),
        control_plane_endpoint: s("/controlPlaneEndpoint"),
        external_etcd: v.pointer("/etcd/external").is_some_and(|e| !e.is_null()),
        etcd_endpoints: list("/etcd/external/endpoints"),
        cert_sans: list("/apiServer/certSANs"),
    }
}

/// Decides the build from the facts at hand: the version's distribution suffix (k3s, rke2, eks,
/// gke, aliyun), kubeadm-config (KubeKey when its endpoint or certSANs name
/// `lb.kubesphere.local`, KubeKey's internal load-balancer name, or a node carries a
/// `kubekey.kubesphere.io/` label), then the nodes' `spec.providerID` scheme.
pub(crate) fn detect_build(
    version: &Version,
    kubeadm: Option<&KubeadmConfig>,
    nodes: &[NodeSummary],
) -> ClusterBuild {
    let mut evidence = Vec::new();
    let by_suffix = match version.distribution() {
        Some("k3s") => Some(BuildKind::K3s),
        Some("rke2") => Some(BuildKind::Rke2),
        Some("eks") => Some(BuildKind::Eks),
        Some("gke") => Some(BuildKind::Gke),
        Some("ack") => Some(BuildKind::Ack),
        _ => None,
    };
    let kind = if let Some(k) = by_suffix {
        evidence.push(format!("API server version {version}"));
        k
    } else if let Some(cfg) = kubeadm {
        evidence.push("ConfigMap kube-system/kubeadm-config".into());
        let lb = cfg
            .control_plane_endpoint
            .iter()
            .chain(cfg.cert_sans.iter())
            .any(|s| s.contains("lb.kubesphere.local"));
        let label = nodes
            .iter()
            .any(|n| n.has_label_prefix("kubekey.kubesphere.io/"));
        if lb {
            evidence.push(
                "kubeadm-config names lb.kubesphere.local (KubeKey's internal load balancer)"
                    .into(),
            );
        }
        if label {
            evidence.push("node labels kubekey.kubesphere.io/*".into());
        }
        if lb || label {
            BuildKind::Kubekey
        } else {
            BuildKind::Kubeadm
        }
    } else {
        let ids: Vec<&str> = nodes
            .iter()
            .filter_map(|n| n.provider_id.as_deref())
            .collect();
        let scheme = |p: &str| ids.iter().any(|id| id.starts_with(p));
        let labelled = |k: &str| nodes.iter().any(|n| n.has_label_prefix(k));
        if scheme("azure://") || labelled("kubernetes.azure.com/") {
            evidence.push("node providerID azure:// / kubernetes.azure.com labels".into());
            BuildKind::Aks
        } else if scheme("aws://") && labelled("eks.amazonaws.com/") {
            evidence.push("node providerID aws:// and eks.amazonaws.com labels".into());
            BuildKind::Eks
        } else if scheme("gce://") && labelled("cloud.google.com/gke") {
            evidence.push("node providerID gce:// and cloud.google.com/gke labels".into());
            BuildKind::Gke
        } else if labelled("node.kubernetes.io/instance-type")
            && ids.iter().any(|i| i.starts_with("k3s://"))
        {
            evidence.push("node providerID k3s://".into());
            BuildKind::K3s
        } else {
            evidence.push("no kubeadm-config, no distribution suffix, no known providerID".into());
            BuildKind::Unknown
        }
    };
    ClusterBuild {
        kind,
        tool: kind.tool().into(),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    fn node(labels: serde_json::Value, provider: Option<&str>) -> NodeSummary {
        let n: Node = serde_json::from_value(
            json!({"metadata": {"name": "n", "labels": labels}, "spec": {"providerID": provider}}),
        )
        .unwrap();
        NodeSummary::from_node(&n)
    }

    #[test]
    fn kubeadm_config_is_read() {
        let cfg = parse_kubeadm_config(
            "apiServer:\n  certSANs:\n  - lb.kubesphere.local\napiVersion: kubeadm.k8s.io/v1beta3\ncontrolPlaneEndpoint: lb.kubesphere.local:6443\netcd:\n  external:\n    endpoints:\n    - https://10.0.0.1:2379\nkubernetesVersion: v1.26.15\n",
        );
        assert_eq!(cfg.kubernetes_version.as_deref(), Some("v1.26.15"));
        assert!(cfg.external_etcd);
        assert_eq!(
            cfg.etcd_endpoints,
            vec!["https://10.0.0.1:2379".to_string()]
        );
        let local = parse_kubeadm_config("etcd:\n  local:\n    dataDir: /var/lib/etcd\n");
        assert!(!local.external_etcd);
        assert!(
            parse_kubeadm_config(": not yaml [")
                .kubernetes_version
                .is_none()
        );
    }

    #[test]
    fn builds_are_told_apart() {
        let plain = KubeadmConfig::default();
        let kk = KubeadmConfig {
            control_plane_endpoint: Some("lb.kubesphere.local:6443".into()),
            ..Default::default()
        };
        assert_eq!(
            detect_build(&v("v1.26.15"), Some(&plain), &[]).kind,
            BuildKind::Kubeadm
        );
        assert_eq!(
            detect_build(&v("v1.26.15"), Some(&kk), &[]).kind,
            BuildKind::Kubekey
        );
        assert_eq!(
            detect_build(
                &v("v1.26.15"),
                Some(&plain),
                &[node(json!({"kubekey.kubesphere.io/role": "x"}), None)]
            )
            .kind,
            BuildKind::Kubekey
        );
        assert_eq!(
            detect_build(&v("v1.26.15+k3s1"), None, &[]).kind,
            BuildKind::K3s
        );
        assert_eq!(
            detect_build(&v("v1.26.15+rke2r1"), None, &[]).kind,
            BuildKind::Rke2
        );
        assert_eq!(
            detect_build(&v("v1.26.15-eks-4f4795d"), None, &[]).kind,
            BuildKind::Eks
        );
        assert_eq!(
            detect_build(&v("v1.28.2-gke.100"), None, &[]).kind,
            BuildKind::Gke
        );
        assert_eq!(
            detect_build(
                &v("v1.28.2"),
                None,
                &[node(
                    json!({"kubernetes.azure.com/cluster": "x"}),
                    Some("azure:///subscriptions/x")
                )]
            )
            .kind,
            BuildKind::Aks
        );
        let unknown = detect_build(
            &v("v1.28.2"),
            None,
            &[node(json!({}), Some("aws:///eu-west-1a/i-1"))],
        );
        assert_eq!(unknown.kind, BuildKind::Unknown);
        assert!(!unknown.evidence.is_empty());
    }
}
