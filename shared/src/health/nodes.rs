//! Check `nodes`: every node Ready, cordoned nodes named, kubelets at `--expect-version` when
//! given and within the version skew policy against the API server.
//!
//! One cluster-wide paginated list, judged page by page: only counts, kubelet versions, node
//! names and findings are kept. The list is read while the API server version is (it does not
//! wait for it): each node is judged as its page arrives, and the version skew, which needs the
//! API server's version, is judged once both are in, from the node names kept per kubelet version.
//! Nodes are decoded without the status the check does not read ([`ListedNode`]).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{Api, api::ListParams};
use serde::Deserialize;

use super::{Ctx, Finding, Outcome, count, scan};
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
    /// The names of the nodes, by the kubelet version they run (nodes whose version cannot be
    /// read are not here).
    pub(super) by_kubelet: BTreeMap<Version, Vec<String>>,
    /// What is wrong with them.
    pub(super) findings: Vec<Finding>,
}

impl NodeTally {
    /// Judges one node (all but the version skew; see [`NodeTally::judge_skew`]) and keeps
    /// only what the check reports.
    pub(super) fn add(&mut self, node: &Node, expect: Option<&Version>) {
        self.total += 1;
        if is_ready(node) {
            self.ready += 1;
        }
        let (findings, kubelet) = node_findings(node, expect);
        self.findings.extend(findings);
        if let Some(v) = kubelet {
            let name = node.metadata.name.clone().unwrap_or_default();
            self.by_kubelet.entry(v).or_default().push(name);
        }
    }

    /// Adds a finding for each node whose kubelet is outside the skew policy against
    /// `apiserver` (nothing when the API server's version is unknown).
    pub(super) fn judge_skew(&mut self, apiserver: Option<&Version>) {
        let Some(api) = apiserver else { return };
        for (kubelet, names) in &self.by_kubelet {
            for name in names {
                self.findings.extend(skew_finding(name, kubelet, api));
            }
        }
    }

    /// `5 nodes, 4 Ready, kubelets v1.24.17 to v1.27.16`.
    pub(super) fn summary(&self) -> String {
        let versions = match (
            self.by_kubelet.first_key_value(),
            self.by_kubelet.last_key_value(),
        ) {
            (Some((a, _)), Some((b, _))) if a == b => format!(", kubelet {a}"),
            (Some((a, _)), Some((b, _))) => format!(", kubelets {a} to {b}"),
            _ => String::new(),
        };
        format!(
            "{}, {} Ready{versions}",
            count(self.total, "node"),
            self.ready
        )
    }
}

/// A node as the check reads it from a list: metadata, spec, and of its status the conditions
/// and the versions. The rest of the status is skipped while the list is decoded, never
/// allocated: on a real cluster most of a node's JSON is `status.images`, every image cached
/// on it with its size.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct ListedNode {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<NodeSpec>,
    status: Option<ListedNodeStatus>,
}

/// What [`ListedNode`] keeps of a node's status.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedNodeStatus {
    conditions: Option<Vec<NodeCondition>>,
    node_info: Option<NodeSystemInfo>,
}

scan::listed_as!(ListedNode, Node);

impl From<ListedNode> for Node {
    fn from(n: ListedNode) -> Node {
        Node {
            metadata: n.metadata,
            spec: n.spec,
            status: n.status.map(|s| NodeStatus {
                conditions: s.conditions,
                node_info: s.node_info,
                ..NodeStatus::default()
            }),
        }
    }
}

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let api: Api<ListedNode> = Api::all(ctx.client.clone());
    let expect = ctx.options.expect_version.as_ref();
    let listing = async {
        let mut tally = NodeTally::default();
        // Page by page: only the verdicts are kept, not the nodes.
        list::for_each_page(&api, &ListParams::default(), "list nodes", |page| {
            for node in page {
                tally.add(&Node::from(node), expect);
            }
        })
        .await
        .map(|_| tally)
    };
    let (apiserver, tally) = futures::join!(ctx.server_version(), listing);
    let mut tally = tally?;
    tally.judge_skew(apiserver.as_ref());
    let summary = tally.summary();
    Ok((summary, tally.findings))
}

/// What is wrong with one node, but for its version skew; and its kubelet version, when it can
/// be read.
pub(super) fn node_findings(
    node: &Node,
    expect: Option<&Version>,
) -> (Vec<Finding>, Option<Version>) {
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
    let kubelet = match kubelet_version(node) {
        None => {
            out.push(Finding::warn(
                "Node",
                None,
                name,
                "UnknownKubeletVersion",
                format!(
                    "kubelet version `{}` cannot be read",
                    kubelet_version_text(node)
                ),
            ));
            None
        }
        Some(kubelet) => {
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
            Some(kubelet)
        }
    };
    (out, kubelet)
}

/// The finding of node `name` whose kubelet runs `kubelet`, when that is outside the version
/// skew policy against the API server's `api`.
pub(super) fn skew_finding(name: &str, kubelet: &Version, api: &Version) -> Option<Finding> {
    let message = match node_skew(api, kubelet) {
        Skew::Supported => return None,
        Skew::NewerThanApiServer => format!("kubelet {kubelet} is newer than the API server {api}"),
        Skew::TooOld { behind, allowed } => format!(
            "kubelet {kubelet} is {behind} minor versions behind the API server {api}; the skew policy allows {allowed}"
        ),
    };
    Some(Finding::fail("Node", None, name, "VersionSkew", message))
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

    /// Every finding about one node, the skew against `api` included.
    fn findings(n: &Node, api: Option<&Version>, expect: Option<&Version>) -> Vec<Finding> {
        let (mut out, kubelet) = node_findings(n, expect);
        if let (Some(k), Some(api)) = (kubelet, api) {
            out.extend(skew_finding(n.metadata.name.as_deref().unwrap(), &k, api));
        }
        out
    }

    #[test]
    fn healthy_node_has_no_findings() {
        let n = node("w1", "True", "v1.27.16", false);
        assert!(findings(&n, Some(&v("v1.27.16")), Some(&v("v1.27.16"))).is_empty());
    }

    #[test]
    fn not_ready_cordoned_and_skewed_nodes_are_named() {
        let n = node("worker-2", "Unknown", "v1.27.16", false);
        let f = findings(&n, Some(&v("v1.27.16")), None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].reason, "NotReady");
        assert_eq!(
            f[0].message,
            "Ready=Unknown (NodeStatusUnknown): Kubelet stopped posting node status."
        );

        let n = node("worker-3", "True", "v1.27.16", true);
        let f = findings(&n, Some(&v("v1.27.16")), None);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].reason.as_str(), f[0].severity),
            ("Cordoned", Severity::Advisory)
        );
        assert!(f[0].message.contains("kubectl uncordon worker-3"));

        let n = node("worker-4", "True", "v1.24.17", false);
        let f = findings(&n, Some(&v("v1.27.16")), Some(&v("v1.27.16")));
        let reasons: Vec<_> = f.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(reasons, ["KubeletVersion", "VersionSkew"]);
        assert_eq!(f[0].message, "kubelet v1.24.17, expected v1.27.16");
        assert_eq!(
            f[1].message,
            "kubelet v1.24.17 is 3 minor versions behind the API server v1.27.16; the skew policy allows 2"
        );

        let n = node("new", "True", "v1.28.1", false);
        let f = findings(&n, Some(&v("v1.27.16")), None);
        assert_eq!(
            f[0].message,
            "kubelet v1.28.1 is newer than the API server v1.27.16"
        );
    }

    #[test]
    fn a_listed_node_is_judged_as_the_whole_node_is() {
        let mut whole = serde_json::to_value(node("w1", "False", "v1.26.15", true)).unwrap();
        whole["status"]["images"] =
            json!([{"names": ["registry/ks-apiserver:v3.4.1"], "sizeBytes": 123}]);
        whole["status"]["addresses"] = json!([{"type": "InternalIP", "address": "10.0.0.1"}]);
        let listed: ListedNode = serde_json::from_value(whole.clone()).unwrap();
        let from_list = Node::from(listed);
        let status = from_list.status.as_ref().unwrap();
        assert!(
            status.images.is_none() && status.addresses.is_none(),
            "not kept"
        );
        let whole: Node = serde_json::from_value(whole).unwrap();
        let api = v("v1.30.0");
        assert_eq!(
            findings(&from_list, Some(&api), None),
            findings(&whole, Some(&api), None)
        );
        let reasons: Vec<_> = findings(&from_list, Some(&api), None)
            .into_iter()
            .map(|f| f.reason)
            .collect();
        assert_eq!(reasons, ["NotReady", "Cordoned", "VersionSkew"]);
        assert_eq!(
            <ListedNode as kube::Resource>::url_path(&(), None),
            "/api/v1/nodes"
        );
    }

    #[test]
    fn odd_nodes_do_not_panic() {
        let n: Node = serde_json::from_value(json!({"metadata": {"name": "bare"}})).unwrap();
        let reasons: Vec<_> = findings(&n, None, None)
            .into_iter()
            .map(|f| f.reason)
            .collect();
        assert_eq!(reasons, ["NotReady", "UnknownKubeletVersion"]);
    }

    #[test]
    fn tally_page_by_page_summarises_all_nodes() {
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
                paged.add(n, None);
            }
        }
        assert_eq!(
            paged.summary(),
            "3 nodes, 2 Ready, kubelets v1.26.15 to v1.27.16"
        );
        let reasons: Vec<_> = paged.findings.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(reasons, ["NotReady", "Cordoned"]);
        // the skew, judged once the API server's version is known, names each node behind
        paged.judge_skew(Some(&v("v1.30.0")));
        let skewed: Vec<_> = paged.findings[2..]
            .iter()
            .map(|f| (f.object.name.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(skewed, [("c", "VersionSkew")]);
        assert_eq!(paged.by_kubelet[&v("v1.27.16")], ["a", "b"]);
        let mut unknown = NodeTally::default();
        unknown.add(&pages[0][0], None);
        unknown.judge_skew(None);
        assert!(unknown.findings.is_empty());
        let mut one = NodeTally::default();
        one.add(&pages[0][0], None);
        assert_eq!(one.summary(), "1 node, 1 Ready, kubelet v1.27.16");
        assert_eq!(NodeTally::default().summary(), "0 nodes, 0 Ready");
    }
}
