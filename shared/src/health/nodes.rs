//! Check `nodes`: every node Ready, cordoned nodes named, kubelets at `--expect-version` when
//! given and within the version skew policy against the API server.
//!
//! One cluster-wide paginated list, judged page by page: only counts, kubelet versions and
//! findings are kept.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Node;
use kube::{Api, api::ListParams};

use super::{Ctx, Finding, Outcome, count};
use crate::{
    domain::{
        nodes::{condition, is_cordoned, is_ready, kubelet_version, kubelet_version_text},
        skew::{Skew, node_skew},
    },
    list,
    version::Version,
};

/// What the check keeps of the nodes it has seen (never the Node objects).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct NodeTally {
    /// Nodes seen.
    pub(super) total: usize,
    /// Nodes with `Ready=True`.
    pub(super) ready: usize,
    /// The distinct kubelet versions.
    pub(super) kubelets: BTreeSet<Version>,
    /// What is wrong with them.
    pub(super) findings: Vec<Finding>,
}

impl NodeTally {
    /// Judges one node and keeps only what the check reports.
    pub(super) fn add(
        &mut self,
        node: &Node,
        apiserver: Option<&Version>,
        expect: Option<&Version>,
    ) {
        self.total += 1;
        if is_ready(node) {
            self.ready += 1;
        }
        if let Some(v) = kubelet_version(node) {
            self.kubelets.insert(v);
        }
        self.findings.extend(node_findings(node, apiserver, expect));
    }

    /// `5 nodes, 4 Ready, kubelets v1.24.17 to v1.27.16`.
    pub(super) fn summary(&self) -> String {
        let versions = match (self.kubelets.first(), self.kubelets.last()) {
            (Some(a), Some(b)) if a == b => format!(", kubelet {a}"),
            (Some(a), Some(b)) => format!(", kubelets {a} to {b}"),
            _ => String::new(),
        };
        format!(
            "{}, {} Ready{versions}",
            count(self.total, "node"),
            self.ready
        )
    }
}

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let api: Api<Node> = Api::all(ctx.client.clone());
    let apiserver = ctx.server_version().await;
    let apiserver = apiserver.as_ref();
    let expect = ctx.options.expect_version.as_ref();
    let mut tally = NodeTally::default();
    // Page by page: only the verdicts are kept, not the Nodes (large with `status.images`).
    list::for_each_page(&api, &ListParams::default(), "list nodes", |page| {
        for node in &page {
            tally.add(node, apiserver, expect);
        }
    })
    .await?;
    let summary = tally.summary();
    Ok((summary, tally.findings))
}

/// What is wrong with one node.
pub(super) fn node_findings(
    node: &Node,
    apiserver: Option<&Version>,
    expect: Option<&Version>,
) -> Vec<Finding> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    match condition(node, "Ready") {
        Some(c) if c.status == "True" => {}
        Some(c) => {
            let mut message = format!("Ready={}", c.status);
            if let Some(reason) = c.reason.as_deref().filter(|r| !r.is_empty()) {
                message.push_str(&format!(" ({reason})"));
            }
            if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
                message.push_str(&format!(": {m}"));
            }
            out.push(Finding::fail("Node", None, name, "NotReady", message));
        }
        None => out.push(Finding::fail(
            "Node",
            None,
            name,
            "NotReady",
            "the node reports no Ready condition",
        )),
    }
    for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        if let Some(c) = condition(node, pressure).filter(|c| c.status == "True") {
            out.push(Finding::warn(
                "Node",
                None,
                name,
                pressure,
                format!(
                    "{pressure}=True{}",
                    c.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    if is_cordoned(node) {
        out.push(Finding::warn(
            "Node",
            None,
            name,
            "Cordoned",
            format!(
                "scheduling is disabled; run `kubectl uncordon {name}` when its maintenance is over"
            ),
        ));
    }
    let raw = kubelet_version_text(node);
    match raw.parse::<Version>() {
        Err(_) => out.push(Finding::warn(
            "Node",
            None,
            name,
            "UnknownKubeletVersion",
            format!("kubelet version `{raw}` cannot be read"),
        )),
        Ok(kubelet) => {
            if let Some(want) = expect
                && kubelet != *want
            {
                out.push(Finding::fail(
                    "Node",
                    None,
                    name,
                    "KubeletVersion",
                    format!("kubelet {kubelet}, expected {want}"),
                ));
            }
            if let Some(api) = apiserver {
                match node_skew(api, &kubelet) {
                    Skew::Supported => {}
                    Skew::NewerThanApiServer => out.push(Finding::fail(
                        "Node",
                        None,
                        name,
                        "VersionSkew",
                        format!("kubelet {kubelet} is newer than the API server {api}"),
                    )),
                    Skew::TooOld { behind, allowed } => out.push(Finding::fail(
                        "Node",
                        None,
                        name,
                        "VersionSkew",
                        format!(
                            "kubelet {kubelet} is {behind} minor versions behind the API server {api}; the skew policy allows {allowed}"
                        ),
                    )),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Severity;
    use crate::version::v;
    use serde_json::json;

    fn node(name: &str, ready: &str, kubelet: &str, cordoned: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"unschedulable": cordoned},
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": ready, "reason": "NodeStatusUnknown",
                     "message": "Kubelet stopped posting node status."}
                ],
                "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet,
                    "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                    "osImage": "", "containerRuntimeVersion": "", "operatingSystem": "linux",
                    "architecture": "amd64"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn healthy_node_has_no_findings() {
        let n = node("w1", "True", "v1.27.16", false);
        assert!(node_findings(&n, Some(&v("v1.27.16")), Some(&v("v1.27.16"))).is_empty());
    }

    #[test]
    fn not_ready_cordoned_and_skewed_nodes_are_named() {
        let n = node("worker-2", "Unknown", "v1.27.16", false);
        let f = node_findings(&n, Some(&v("v1.27.16")), None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].reason, "NotReady");
        assert_eq!(
            f[0].message,
            "Ready=Unknown (NodeStatusUnknown): Kubelet stopped posting node status."
        );

        let n = node("worker-3", "True", "v1.27.16", true);
        let f = node_findings(&n, Some(&v("v1.27.16")), None);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].reason.as_str(), f[0].severity),
            ("Cordoned", Severity::Advisory)
        );
        assert!(f[0].message.contains("kubectl uncordon worker-3"));

        let n = node("worker-4", "True", "v1.24.17", false);
        let f = node_findings(&n, Some(&v("v1.27.16")), Some(&v("v1.27.16")));
        let reasons: Vec<_> = f.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(reasons, ["KubeletVersion", "VersionSkew"]);
        assert_eq!(f[0].message, "kubelet v1.24.17, expected v1.27.16");
        assert_eq!(
            f[1].message,
            "kubelet v1.24.17 is 3 minor versions behind the API server v1.27.16; the skew policy allows 2"
        );

        let n = node("new", "True", "v1.28.1", false);
        let f = node_findings(&n, Some(&v("v1.27.16")), None);
        assert_eq!(
            f[0].message,
            "kubelet v1.28.1 is newer than the API server v1.27.16"
        );
    }

    #[test]
    fn odd_nodes_do_not_panic() {
        let n: Node = serde_json::from_value(json!({"metadata": {"name": "bare"}})).unwrap();
        let reasons: Vec<_> = node_findings(&n, None, None)
            .into_iter()
            .map(|f| f.reason)
            .collect();
        assert_eq!(reasons, ["NotReady", "UnknownKubeletVersion"]);
    }

    #[test]
    fn tally_page_by_page_summarises_all_nodes() {
        let api = v("v1.27.16");
        let pages = [
            vec![
                node("a", "True", "v1.27.16", false),
                node("b", "Unknown", "v1.27.16", false),
            ],
            vec![node("c", "True", "v1.26.15", true)],
            vec![],
        ];
        let mut paged = NodeTally::default();
        for page in &pages {
            for n in page {
                paged.add(n, Some(&api), None);
            }
        }
        assert_eq!(
            paged.summary(),
            "3 nodes, 2 Ready, kubelets v1.26.15 to v1.27.16"
        );
        let reasons: Vec<_> = paged.findings.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(reasons, ["NotReady", "Cordoned"]);
        let mut one = NodeTally::default();
        one.add(&pages[0][0], Some(&api), None);
        assert_eq!(one.summary(), "1 node, 1 Ready, kubelet v1.27.16");
        assert_eq!(NodeTally::default().summary(), "0 nodes, 0 Ready");
    }
}
