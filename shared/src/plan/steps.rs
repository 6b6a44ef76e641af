//! The ordered runbook: backups, each step of the path with its exact commands (control-plane
//! nodes one at a time, workers a few at a time within the PodDisruptionBudgets, then KubeSphere
//! with this suite's commands), and the final checks.

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;

use super::{
    checks::runtime,
    inventory::{BuildKind, Inventory},
    path::{Component, PathStep},
    summary::NodeSummary,
};
use crate::{kubesphere::Role, version::Version};

/// One step of the runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// 1-based.
    pub number: usize,
    /// `prepare`, `kubernetes v1.27`, `kubesphere v4.1.3`, `verify`.
    pub phase: String,
    /// What the step does.
    pub title: String,
    /// Where the commands run (`kubectl` = any workstation with the context).
    #[serde(rename = "where")]
    pub where_: String,
    /// The commands, in order.
    pub commands: Vec<String>,
    /// Caveats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Control-plane and worker node names, sorted.
pub fn split_nodes(nodes: &[NodeSummary]) -> (Vec<String>, Vec<String>) {
    let mut cp = Vec::new();
    let mut workers = Vec::new();
    for n in nodes {
        let name = n.name.clone();
        if n.is_control_plane() {
            cp.push(name);
        } else {
            workers.push(name);
        }
    }
    cp.sort();
    workers.sort();
    (cp, workers)
}

/// Workers drained at once: one when any budget allows at most one disruption, else a quarter of
/// the workers, between 1 and 3.
pub fn batch_size(workers: usize, pdbs: &[PodDisruptionBudget]) -> usize {
    let tight = pdbs.iter().any(|p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.disruptions_allowed <= 1 && s.expected_pods > 0)
    });
    if tight { 1 } else { (workers / 4).clamp(1, 3) }
}

/// `v1.27` → `v1.27.x` (the newest patch; said in a note).
fn exact(to: &str) -> String {
    match to.parse::<Version>() {
        Ok(v) if v.has_patch => v.to_string(),
        Ok(v) => format!("{}.x", v.minor_string()),
        Err(_) => to.to_string(),
    }
}

fn pkg(v: &str) -> String {
    v.trim_start_matches('v').to_string()
}

struct Builder {
    steps: Vec<Step>,
}

impl Builder {
    fn push(
        &mut self,
        phase: &str,
        title: String,
        where_: &str,
        commands: Vec<String>,
        notes: Vec<String>,
    ) {
        self.steps.push(Step {
            number: self.steps.len() + 1,
            phase: phase.into(),
            title,
            where_: where_.into(),
            commands,
            notes,
        });
    }
}

/// Builds the runbook.
pub fn build_steps(
    inv: &Inventory,
    build: BuildKind,
    path: &[PathStep],
    members: &[String],
) -> Vec<Step> {
    let mut b = Builder { steps: Vec::new() };
    let (cps, workers) = split_nodes(&inv.nodes);
    let first_cp = cps
        .first()
        .cloned()
        .unwrap_or_else(|| "<control-plane-node>".into());
    let date = "$(date +%Y%m%d-%H%M)";

    // Backups.
    let etcd_static = inv
        .kube_system_pods
        .iter()
        .any(|p| p.component.as_deref() == Some("etcd"));
    let (where_, cmds, notes): (String, Vec<String>, Vec<String>) = match build {
        BuildKind::Kubeadm | BuildKind::Kubekey
            if etcd_static || !inv.kubeadm.as_ref().is_some_and(|k| k.external_etcd) =>
        {
            (
                format!("on {first_cp}"),
                vec![format!(
                    "sudo ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key snapshot save /var/backups/etcd-{date}.db"
                )],
                vec!["copy the snapshot off the node".into()],
            )
        }
        BuildKind::Kubeadm | BuildKind::Kubekey => {
            let eps = inv
                .kubeadm
                .as_ref()
                .map(|k| k.etcd_endpoints.join(","))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "<etcd endpoints>".into());
            (
                "on an etcd node".into(),
                vec![format!(
                    "sudo ETCDCTL_API=3 etcdctl --endpoints={eps} --cacert=<etcd CA> --cert=<client cert> --key=<client key> snapshot save /var/backups/etcd-{date}.db"
                )],
                vec!["external etcd (kubeadm-config etcd.external); KubeKey keeps its certificates in /etc/ssl/etcd/ssl".into()],
            )
        }
        BuildKind::K3s => (
            format!("on {first_cp}"),
            vec!["sudo k3s etcd-snapshot save --name pre-upgrade".into()],
            vec![],
        ),
        BuildKind::Rke2 => (
            format!("on {first_cp}"),
            vec!["sudo rke2 etcd-snapshot save --name pre-upgrade".into()],
            vec![],
        ),
        _ => (
            "kubectl".into(),
            vec![],
            vec![
                "the provider keeps the control plane's etcd; back up the workloads (Velero below)"
                    .into(),
            ],
        ),
    };
    if !cmds.is_empty() || !notes.is_empty() {
        b.push("prepare", "Back up etcd".into(), &where_, cmds, notes);
    }
    if let Some(backups) = &inv.velero {
        {
            let mut notes = Vec::new();
            if let Some(last) = backups.first() {
                notes.push(format!(
                    "newest existing backup: {} ({})",
                    last.name, last.phase
                ));
            }
            b.push(
                "prepare",
                "Take a Velero backup".into(),
                "kubectl",
                vec![format!("velero backup create pre-upgrade-{date} --wait")],
                notes,
            );
        }
    }

    // Nodes still on containerd 1.x, upgraded before the first minor that needs 2.x.
    let mut containerd_1: Vec<String> = inv
        .nodes
        .iter()
        .filter(|n| runtime::containerd_1x(&n.container_runtime).is_some())
        .map(|n| n.name.clone())
        .collect();
    containerd_1.sort();
    let mut runtime_done = containerd_1.is_empty();
    for step in path {
        let phase = format!(
            "{} {}",
            if step.component == Component::Kubernetes {
                "kubernetes"
            } else {
                "kubesphere"
            },
            step.to
        );
        let mut notes = Vec::new();
        if !step.supported {
            notes.push(format!(
                "NOT SUPPORTED: {}",
                step.note.clone().unwrap_or_default()
            ));
        }
        let needs_containerd_2 = step.component == Component::Kubernetes
            && step
                .to
                .parse::<Version>()
                .is_ok_and(|v| v.minor_key() > runtime::LAST_MINOR_WITH_CONTAINERD_1);
        if needs_containerd_2 && !runtime_done {
            containerd_step(&mut b, &phase, build, &containerd_1, inv);
            runtime_done = true;
        }
        match step.component {
            Component::Kubernetes => {
                kubernetes_step(&mut b, &phase, step, build, &cps, &workers, inv, notes)
            }
            Component::Kubesphere => kubesphere_step(&mut b, &phase, step, inv, members, notes),
        }
    }
    b.push(
        "verify",
        "Check the cluster".into(),
        "kubectl",
        vec![
            "kubectl get nodes -o wide".into(),
            "kubectl health".into(),
            "kubectl upgrade-plan".into(),
        ],
        vec!["upgrade-plan shows no step left when the targets are reached".into()],
    );
    b.steps
}

/// Moves the nodes still on containerd 1.x to 2.x, a few at a time within the budgets, before the
/// first Kubernetes minor that no longer supports 1.x.
fn containerd_step(
    b: &mut Builder,
    phase: &str,
    build: BuildKind,
    nodes: &[String],
    inv: &Inventory,
) {
    let (last_major, last_minor) = runtime::LAST_MINOR_WITH_CONTAINERD_1;
    let mut notes = vec![format!(
        "Kubernetes v{last_major}.{last_minor} is the last minor that supports containerd 1.x: {}",
        runtime::CONTAINERD_1_END_SOURCE
    )];
    if build.is_managed() {
        notes
            .push("managed node pools: move them to a node image that ships containerd 2.x".into());
        b.push(
            phase,
            format!("Move nodes {} to containerd 2.x", nodes.join(", ")),
            "cloud CLI",
            vec!["# upgrade the node pools to a node image with containerd 2.x".into()],
            notes,
        );
        return;
    }
    if matches!(build, BuildKind::K3s | BuildKind::Rke2) {
        notes.push(
            "k3s and RKE2 embed containerd: a release that ships containerd 2.x brings it".into(),
        );
    }
    notes.push(
        "containerd 2.x reads configuration version 3: `containerd config migrate` converts a 1.x configuration"
            .into(),
    );
    let size = batch_size(nodes.len(), &inv.pdbs);
    for (i, batch) in nodes.chunks(size.max(1)).enumerate() {
        let names = batch.join(" ");
        b.push(
            phase,
            format!("Nodes {}: containerd 1.x to 2.x", batch.join(", ")),
            &format!("kubectl, then on {}", batch.join(", ")),
            vec![
                format!("kubectl drain {names} --ignore-daemonsets --delete-emptydir-data"),
                "# on each: upgrade the containerd package to 2.x, then: sudo containerd config migrate > /tmp/config.toml && sudo mv /tmp/config.toml /etc/containerd/config.toml".into(),
                "# on each: sudo systemctl restart containerd kubelet".into(),
                format!("kubectl uncordon {names}"),
            ],
            if i == 0 { std::mem::take(&mut notes) } else { Vec::new() },
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn kubernetes_step(
    b: &mut Builder,
    phase: &str,
    step: &PathStep,
    build: BuildKind,
    cps: &[String],
    workers: &[String],
    inv: &Inventory,
    mut notes: Vec<String>,
) {
    let to = exact(&step.to);
    let minor = step.kubernetes.clone();
    if to.ends_with(".x") {
        notes.push(format!(
            "{to}: the newest patch of {minor} (kubeadm: `apt-cache madison kubeadm`)"
        ));
    }
    let drain = |n: &str| format!("kubectl drain {n} --ignore-daemonsets --delete-emptydir-data");
    match build {
        BuildKind::Kubeadm | BuildKind::Kubekey => {
            if build == BuildKind::Kubekey {
                notes.push(format!(
                    "KubeKey can run this whole step: ./kk upgrade --with-kubernetes {to} -f config-sample.yaml"
                ));
            }
            let kubelet = format!(
                "# upgrade the kubelet and kubectl packages to {}, then: sudo systemctl daemon-reload && sudo systemctl restart kubelet",
                pkg(&to)
            );
            for (i, node) in cps.iter().enumerate() {
                let mut cmds = vec![format!("# upgrade the kubeadm package to {}", pkg(&to))];
                if i == 0 {
                    cmds.push(format!("sudo kubeadm upgrade plan {to}"));
                    cmds.push(format!("sudo kubeadm upgrade apply {to}"));
                } else {
                    cmds.push("sudo kubeadm upgrade node".into());
                }
                cmds.push(drain(node));
                cmds.push(kubelet.clone());
                cmds.push(format!("kubectl uncordon {node}"));
                b.push(
                    phase,
                    format!(
                        "Control-plane node {node} ({}): kubeadm upgrade {}",
                        if i == 0 {
                            "first"
                        } else {
                            "next, one at a time"
                        },
                        if i == 0 { "apply" } else { "node" }
                    ),
                    &format!("on {node}"),
                    cmds,
                    if i == 0 {
                        std::mem::take(&mut notes)
                    } else {
                        Vec::new()
                    },
                );
            }
            let size = batch_size(workers.len(), &inv.pdbs);
            for batch in workers.chunks(size.max(1)) {
                let names = batch.join(" ");
                b.push(
                    phase,
                    format!("Workers {}: drain, upgrade, uncordon", batch.join(", ")),
                    &format!("kubectl, then on {}", batch.join(", ")),
                    vec![
                        format!("kubectl drain {names} --ignore-daemonsets --delete-emptydir-data"),
                        format!("# on each: upgrade the kubeadm package to {}, then: sudo kubeadm upgrade node", pkg(&to)),
                        format!("# on each: {}", kubelet.trim_start_matches("# ")),
                        format!("kubectl uncordon {names}"),
                    ],
                    vec![format!(
                        "{size} node(s) at a time: kubectl drain waits for what the PodDisruptionBudgets allow"
                    )],
                );
            }
        }
        BuildKind::K3s | BuildKind::Rke2 => {
            let (url, var, svc) = if build == BuildKind::K3s {
                ("https://get.k3s.io", "INSTALL_K3S", "k3s")
            } else {
                ("https://get.rke2.io", "INSTALL_RKE2", "rke2-server")
            };
            let pin = if to.ends_with(".x") {
                format!("{var}_CHANNEL={minor}")
            } else {
                format!(
                    "{var}_VERSION={to}+{}",
                    if build == BuildKind::K3s {
                        "k3s1"
                    } else {
                        "rke2r1"
                    }
                )
            };
            for node in cps.iter().chain(workers.iter()) {
                b.push(
                    phase,
                    format!("Node {node}: drain, upgrade, uncordon"),
                    &format!("on {node}"),
                    vec![
                        drain(node),
                        format!("curl -sfL {url} | {pin} sh -"),
                        format!(
                            "sudo systemctl restart {svc}{}",
                            if cps.contains(node) {
                                ""
                            } else {
                                "   # agents: k3s-agent / rke2-agent"
                            }
                        ),
                        format!("kubectl uncordon {node}"),
                    ],
                    std::mem::take(&mut notes),
                );
            }
        }
        BuildKind::Eks | BuildKind::Gke | BuildKind::Aks | BuildKind::Ack => {
            let m = minor.trim_start_matches('v').to_string();
            let (cp, np) = match build {
                BuildKind::Eks => (
                    format!(
                        "aws eks update-cluster-version --name <cluster> --kubernetes-version {m}"
                    ),
                    format!(
                        "aws eks update-nodegroup-version --cluster-name <cluster> --nodegroup-name <nodegroup> --kubernetes-version {m}"
                    ),
                ),
                BuildKind::Gke => (
                    format!(
                        "gcloud container clusters upgrade <cluster> --master --cluster-version {m}"
                    ),
                    format!(
                        "gcloud container clusters upgrade <cluster> --node-pool <pool> --cluster-version {m}"
                    ),
                ),
                BuildKind::Aks => (
                    format!(
                        "az aks upgrade --resource-group <rg> --name <cluster> --kubernetes-version {} --control-plane-only",
                        pkg(&to)
                    ),
                    format!(
                        "az aks nodepool upgrade --resource-group <rg> --cluster-name <cluster> --name <pool> --kubernetes-version {}",
                        pkg(&to)
                    ),
                ),
                _ => (
                    format!("# upgrade the control plane to {m} in the ACK console"),
                    format!("# upgrade each node pool to {m} in the ACK console"),
                ),
            };
            b.push(
                phase,
                format!("Managed control plane to {minor}"),
                "cloud CLI",
                vec![cp],
                std::mem::take(&mut notes),
            );
            b.push(
                phase,
                "Node groups / pools (surge, within the PodDisruptionBudgets)".into(),
                "cloud CLI",
                vec![np],
                vec![],
            );
        }
        BuildKind::Unknown => {
            b.push(
                phase,
                format!("Upgrade the control plane to {to}, one node at a time, then the nodes"),
                "the tool that built the cluster",
                cps.iter().chain(workers.iter()).map(|n| drain(n)).collect(),
                std::mem::take(&mut notes),
            );
        }
    }
}

fn kubesphere_step(
    b: &mut Builder,
    phase: &str,
    step: &PathStep,
    inv: &Inventory,
    members: &[String],
    mut notes: Vec<String>,
) {
    let role = inv
        .kubesphere
        .as_ref()
        .map(|k| k.role)
        .unwrap_or(Role::None);
    let from: Option<Version> = step.from.parse().ok();
    let to: Option<Version> = step.to.parse().ok();
    let (Some(from), Some(to)) = (from, to) else {
        return;
    };
    if from.major == 3 && to.major >= 4 {
        if role == Role::Member {
            b.push(
                phase,
                "Member: migrate to KubeSphere 4.1 (after the host)".into(),
                "kubectl (this member's context)",
                vec!["kubectl ks-migrate member".into()],
                {
                    notes.push("the host must run `kubectl ks-migrate host` first, and `kubectl untaint-member <this cluster>` after".into());
                    notes
                },
            );
            return;
        }
        b.push(
            phase,
            "Host: migrate to KubeSphere 4.1 (ks-core, extensions, data)".into(),
            "kubectl (host context)",
            vec!["kubectl ks-migrate host".into()],
            notes,
        );
        for m in members {
            b.push(
                phase,
                format!("Member {m}: migrate"),
                &format!("kubectl (context {m})"),
                vec![format!("kubectl --context {m} ks-migrate member")],
                vec![],
            );
        }
        if !members.is_empty() {
            b.push(
                phase,
                "Untaint the migrated members".into(),
                "kubectl (host context)",
                vec!["kubectl untaint-member --all".into()],
                vec![],
            );
        }
        b.push(
            phase,
            "Migrate the gateways".into(),
            "kubectl (host context)",
            vec!["kubectl ks-migrate gateway all".into()],
            vec!["restarts the ingress controllers: do it off-peak".into()],
        );
        b.push(
            phase,
            "Check KubeSphere".into(),
            "kubectl",
            vec!["kubectl health".into()],
            vec![],
        );
    } else if to.major >= 4 {
        let chart = if to.to_string() == "v4.1.3" {
            "https://charts.kubesphere.io/main/ks-core-1.1.5.tgz".to_string()
        } else {
            format!("<ks-core chart of {to}>")
        };
        b.push(
            phase,
            format!("Upgrade ks-core to {to}"),
            "kubectl (host, then each member)",
            vec![
                format!("helm upgrade -n kubesphere-system ks-core {chart} --reuse-values --set global.tag={to} --wait --timeout 30m"),
                "kubectl health".into(),
            ],
            notes,
        );
    } else {
        let kubekey = inv.kubeadm.is_some() && step.tool.starts_with("KubeKey");
        let cmd = if kubekey {
            format!("./kk upgrade --with-kubesphere {to} -f config-sample.yaml")
        } else {
            format!(
                "kubectl apply -f https://github.com/kubesphere/ks-installer/releases/download/{to}/kubesphere-installer.yaml --force"
            )
        };
        if !members.is_empty() {
            notes.push(format!(
                "upgrade the host first, then each member ({}) the same way",
                members.join(", ")
            ));
        }
        if from < "v3.3.1".parse().unwrap_or_else(|_| from.clone())
            && to >= "v3.3.1".parse().unwrap_or_else(|_| to.clone())
        {
            notes.push("3.3.1 role changes apply: see KS003".into());
        }
        b.push(
            phase,
            format!("Upgrade KubeSphere to {to}"),
            "kubectl",
            vec![cmd, "kubectl -n kubesphere-system logs deploy/ks-installer -f   # until \"Welcome to KubeSphere!\"".into()],
            notes,
        );
    }
}

/// Steps that finish an interrupted 4.1 migration (members not migrated, still tainted, v3
/// gateways left), run before anything else.
pub fn finish_migration(
    unmigrated: &[String],
    tainted: &[String],
    gateways: bool,
) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for m in unmigrated {
        out.push((
            format!("Member {m}: migrate"),
            format!("kubectl (context {m})"),
            vec![format!("kubectl --context {m} ks-migrate member")],
        ));
    }
    if !unmigrated.is_empty() || !tainted.is_empty() {
        out.push((
            "Untaint the migrated members".into(),
            "kubectl (host context)".into(),
            vec!["kubectl untaint-member --all".into()],
        ));
    }
    if gateways {
        out.push((
            "Migrate the gateways".into(),
            "kubectl (host context)".into(),
            vec!["kubectl ks-migrate gateway all".into()],
        ));
    }
    out
}

/// Prepends the migration-finishing steps and renumbers.
pub fn with_finish(mut steps: Vec<Step>, finish: Vec<(String, String, Vec<String>)>) -> Vec<Step> {
    if finish.is_empty() {
        return steps;
    }
    let mut head: Vec<Step> = finish
        .into_iter()
        .map(|(title, where_, commands)| Step {
            number: 0,
            phase: "kubesphere finish-migration".into(),
            title,
            where_,
            commands,
            notes: Vec::new(),
        })
        .collect();
    head.push(Step {
        number: 0,
        phase: "kubesphere finish-migration".into(),
        title: "Check KubeSphere".into(),
        where_: "kubectl".into(),
        commands: vec!["kubectl health".into()],
        notes: Vec::new(),
    });
    // Backups stay first.
    let split = steps.iter().take_while(|s| s.phase == "prepare").count();
    let tail = steps.split_off(split);
    steps.extend(head);
    steps.extend(tail);
    for (i, s) in steps.iter_mut().enumerate() {
        s.number = i + 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cp: bool) -> NodeSummary {
        let labels = if cp {
            json!({"node-role.kubernetes.io/control-plane": ""})
        } else {
            json!({"node-role.kubernetes.io/worker": ""})
        };
        let n: k8s_openapi::api::core::v1::Node =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        NodeSummary::from_node(&n)
    }

    fn path_k8s(from: &str, to: &str) -> PathStep {
        PathStep {
            number: 1,
            component: Component::Kubernetes,
            from: from.into(),
            to: to.into(),
            tool: "kubeadm".into(),
            kubernetes: to.parse::<Version>().unwrap().minor_string(),
            kubesphere: None,
            supported: true,
            note: None,
        }
    }

    #[test]
    fn kubeadm_steps_go_node_by_node() {
        let inv = Inventory {
            nodes: vec![
                node("master-2", true),
                node("master-1", true),
                node("worker-1", false),
                node("worker-2", false),
            ],
            ..Default::default()
        };
        let steps = build_steps(
            &inv,
            BuildKind::Kubeadm,
            &[path_k8s("v1.26.15", "v1.27")],
            &[],
        );
        let titles: Vec<&str> = steps.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles[0], "Back up etcd");
        assert!(titles[1].starts_with("Control-plane node master-1 (first)"));
        assert!(titles[2].starts_with("Control-plane node master-2"));
        assert_eq!(titles[3], "Workers worker-1: drain, upgrade, uncordon");
        assert!(
            steps[1]
                .commands
                .contains(&"sudo kubeadm upgrade apply v1.27.x".to_string())
        );
        assert!(
            steps[2]
                .commands
                .contains(&"sudo kubeadm upgrade node".to_string())
        );
        assert!(steps[3].commands[0].starts_with("kubectl drain worker-1 --ignore-daemonsets"));
        assert_eq!(steps.last().unwrap().phase, "verify");
        assert!(steps.iter().enumerate().all(|(i, s)| s.number == i + 1));
    }

    #[test]
    fn migration_steps_use_the_suite() {
        let inv = Inventory::default();
        let step = PathStep {
            number: 1,
            component: Component::Kubesphere,
            from: "v3.4.1".into(),
            to: "v4.1.3".into(),
            tool: "kubectl ks-migrate".into(),
            kubernetes: "v1.26".into(),
            kubesphere: Some("v4.1.3".into()),
            supported: true,
            note: None,
        };
        let steps = build_steps(
            &inv,
            BuildKind::Eks,
            &[step],
            &["member-a".into(), "member-b".into()],
        );
        let cmds: Vec<String> = steps.iter().flat_map(|s| s.commands.clone()).collect();
        let pos = |c: &str| {
            cmds.iter()
                .position(|x| x == c)
                .unwrap_or_else(|| panic!("{c} missing: {cmds:?}"))
        };
        assert!(
            pos("kubectl ks-migrate host") < pos("kubectl --context member-a ks-migrate member")
        );
        assert!(
            pos("kubectl --context member-b ks-migrate member")
                < pos("kubectl untaint-member --all")
        );
        assert!(pos("kubectl untaint-member --all") < pos("kubectl ks-migrate gateway all"));
        assert!(pos("kubectl ks-migrate gateway all") < pos("kubectl health"));
    }

    #[test]
    fn batches_respect_tight_budgets() {
        let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2}})).unwrap();
        assert_eq!(batch_size(12, &[pdb]), 1);
        assert_eq!(batch_size(12, &[]), 3);
        assert_eq!(batch_size(5, &[]), 1);
        assert_eq!(batch_size(8, &[]), 2);
    }
}
