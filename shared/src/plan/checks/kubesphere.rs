//! KS002, KS004-KS006, PATH001, PATH002: KubeSphere's state and the path's support.

use crate::{
    domain::helm::ReleaseState,
    helm::Revision,
    kubesphere::{ClusterInfo, KubeSphere},
    model::ObjectRef,
    plan::{
        codes::Code,
        findings::Finding,
        path::{Component, PathStep, supports},
    },
    version::Version,
};

/// What the KubeSphere checks look at.
pub(crate) struct KubeSphereFacts<'a> {
    /// Detection result.
    pub ks: &'a KubeSphere,
    /// Cluster objects, on a host.
    pub clusters: Option<&'a [ClusterInfo]>,
    /// Helm revisions.
    pub helm: &'a [Revision],
    /// Deployment kubesphere-system/ks-installer exists.
    pub installer_deployment: bool,
    /// The path.
    pub path: &'a [PathStep],
}

/// KS002, KS004-KS006, PATH001, PATH002.
pub(crate) fn check_kubesphere(f: &KubeSphereFacts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let ks = f.ks;
    if !ks.is_v4() && f.installer_deployment {
        let status_missing = ks.source.contains("metadata.labels.version");
        let differs = match (&ks.installer_target, &ks.version) {
            (Some(t), Some(v)) => t.to_string() != v.to_string(),
            _ => false,
        };
        if status_missing || differs {
            out.push(
                Finding::new(
                    Code::Ks002,
                    ObjectRef::namespaced("ClusterConfiguration", crate::kubesphere::SYSTEM_NAMESPACE, crate::kubesphere::INSTALLER),
                    format!(
                        "ks-installer is still working: target {} but status.core.version {}",
                        ks.installer_target.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                        if status_missing { "-".to_string() } else { ks.version.as_ref().map(|v| v.to_string()).unwrap_or_default() }
                    ),
                )
                .remedy("wait for \"Welcome to KubeSphere!\" in `kubectl -n kubesphere-system logs deploy/ks-installer`"),
            );
        }
    }
    if ks.is_v4() {
        for c in f.clusters.unwrap_or_default().iter().filter(|c| !c.host) {
            let v3 = c
                .kubesphere_version
                .as_deref()
                .and_then(|v| v.parse::<Version>().ok())
                .is_some_and(|v| v.major < 4);
            if v3 {
                out.push(
                    Finding::new(
                        Code::Ks004,
                        ObjectRef::cluster("Cluster", &c.name),
                        format!(
                            "member runs KubeSphere {} under a v4 host",
                            c.kubesphere_version.as_deref().unwrap_or("-")
                        ),
                    )
                    .remedy(format!("kubectl --context {} ks-migrate member", c.name)),
                );
            } else if c.is_unschedulable() {
                out.push(
                    Finding::new(
                        Code::Ks005,
                        ObjectRef::cluster("Cluster", &c.name),
                        "migrated, but still Schedulable=False: extensions cannot schedule onto it",
                    )
                    .remedy(format!("kubectl untaint-member {}", c.name)),
                );
            }
        }
        for r in crate::helm::latest(f.helm) {
            if r.namespace == crate::kubesphere::CONTROLS_NAMESPACE
                && r.name.starts_with("kubesphere-router-")
                && !r.name.ends_with("-ingress")
                && ReleaseState::of(&r.status) == ReleaseState::Deployed
            {
                out.push(
                    Finding::new(
                        Code::Ks006,
                        ObjectRef::namespaced("HelmRelease", &r.namespace, &r.name),
                        "v3 gateway still deployed on a v4 host",
                    )
                    .remedy(format!("kubectl ks-migrate gateway {}", r.name)),
                );
            }
        }
    }
    for s in f.path.iter().filter(|s| !s.supported) {
        out.push(
            Finding::new(
                Code::Path001,
                ObjectRef::cluster(
                    "Step",
                    &format!("{}: {:?} {} -> {}", s.number, s.component, s.from, s.to),
                ),
                s.note.clone().unwrap_or_else(|| "not supported".into()),
            )
            .remedy("choose targets the compatibility table supports (see the path)")
            .step(s.to.clone()),
        );
    }
    let migration = f.path.iter().find(|s| {
        s.component == Component::Kubesphere && s.from.starts_with("v3") && s.to.starts_with("v4")
    });
    if let Some(step) = migration
        && let Ok(to) = step.to.parse::<Version>()
    {
        for c in f.clusters.unwrap_or_default().iter().filter(|c| !c.host) {
            let Some(k) = c
                .kubernetes_version
                .as_deref()
                .and_then(|v| v.parse::<Version>().ok())
            else {
                continue;
            };
            if let Err(reason) = supports(&to, k.minor_key()) {
                out.push(
                    Finding::new(
                        Code::Path002,
                        ObjectRef::cluster("Cluster", &c.name),
                        format!("member runs Kubernetes {k}: {reason}"),
                    )
                    .remedy("upgrade the member's Kubernetes into range before migrating it")
                    .step(step.to.clone()),
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
    use crate::{
        helm::Storage,
        kubesphere::{ClusterCondition, Role},
    };

    fn ks(version: &str, installer_target: Option<&str>, source: &str) -> KubeSphere {
        KubeSphere {
            version: Some(v(version)),
            source: source.into(),
            installer_target: installer_target.map(v),
            role: Role::Host,
            has_cluster_configuration: true,
            ks_core: None,
            ks_core_chart: None,
            ks_core_unreadable: None,
        }
    }

    fn member(name: &str, ks: &str, k8s: &str, schedulable: Option<&str>) -> ClusterInfo {
        ClusterInfo {
            name: name.into(),
            host: false,
            kubesphere_version: Some(ks.into()),
            kubernetes_version: Some(k8s.into()),
            conditions: schedulable
                .map(|s| ClusterCondition {
                    type_: "Schedulable".into(),
                    status: s.into(),
                    reason: String::new(),
                    message: String::new(),
                })
                .into_iter()
                .collect(),
            resource_version: None,
        }
    }

    fn release(name: &str, namespace: &str, status: &str) -> Revision {
        Revision {
            name: name.into(),
            namespace: namespace.into(),
            revision: 1,
            status: status.into(),
            object: format!("sh.helm.release.v1.{name}.v1"),
            storage: Storage::Secret,
        }
    }

    fn step(component: Component, from: &str, to: &str, supported: bool) -> PathStep {
        PathStep {
            number: 1,
            component,
            from: from.into(),
            to: to.into(),
            tool: String::new(),
            kubernetes: "v1.27".into(),
            kubesphere: None,
            supported,
            note: (!supported).then(|| "KubeSphere v4.1 supports Kubernetes v1.21 to v1.30".into()),
        }
    }

    fn codes(found: &[Finding]) -> Vec<(Code, String)> {
        found
            .iter()
            .map(|f| (f.code, f.object.name.clone()))
            .collect()
    }

    #[test]
    fn a_v3_installer_still_at_work_is_ks002() {
        let busy = ks("v3.4.0", Some("v3.4.1"), "status.core.version");
        let facts = KubeSphereFacts {
            ks: &busy,
            clusters: None,
            helm: &[],
            installer_deployment: true,
            path: &[],
        };
        let found = check_kubesphere(&facts);
        assert_eq!(codes(&found), [(Code::Ks002, "ks-installer".into())]);
        assert!(
            found[0]
                .message
                .contains("target v3.4.1 but status.core.version v3.4.0"),
            "{}",
            found[0].message
        );
        // Done (target reached), or no ks-installer Deployment: nothing.
        let done = ks("v3.4.1", Some("v3.4.1"), "status.core.version");
        assert!(check_kubesphere(&KubeSphereFacts { ks: &done, ..facts }).is_empty());
        assert!(
            check_kubesphere(&KubeSphereFacts {
                installer_deployment: false,
                ..facts
            })
            .is_empty()
        );
        // No status.core.version yet (the version came from the label): still working.
        let fresh = ks(
            "v3.4.1",
            Some("v3.4.1"),
            "ClusterConfiguration metadata.labels.version",
        );
        let found = check_kubesphere(&KubeSphereFacts {
            ks: &fresh,
            ..facts
        });
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.ends_with("status.core.version -"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn under_a_v4_host_members_gateways_are_judged() {
        let host = ks("v4.1.3", None, "ks-core");
        let clusters = [
            member("old", "v3.4.1", "v1.26.15", None),
            member("tainted", "v4.1.3", "v1.26.15", Some("False")),
            member("done", "v4.1.3", "v1.26.15", Some("True")),
        ];
        let helm = [
            release(
                "kubesphere-router-demo",
                "kubesphere-controls-system",
                "deployed",
            ),
            release(
                "kubesphere-router-demo-ingress",
                "kubesphere-controls-system",
                "deployed",
            ),
            release(
                "kubesphere-router-gone",
                "kubesphere-controls-system",
                "uninstalled",
            ),
        ];
        let facts = KubeSphereFacts {
            ks: &host,
            clusters: Some(&clusters),
            helm: &helm,
            installer_deployment: true,
            path: &[],
        };
        assert_eq!(
            codes(&check_kubesphere(&facts)),
            [
                (Code::Ks004, "old".into()),
                (Code::Ks005, "tainted".into()),
                (Code::Ks006, "kubesphere-router-demo".into()),
            ]
        );
        // The same members under a v3 host are not findings yet.
        let v3 = ks("v3.4.1", Some("v3.4.1"), "status.core.version");
        assert!(check_kubesphere(&KubeSphereFacts { ks: &v3, ..facts }).is_empty());
    }

    #[test]
    fn unsupported_steps_and_members_out_of_range_block_the_path() {
        let host = ks("v3.4.1", Some("v3.4.1"), "status.core.version");
        let clusters = [
            member("in-range", "v3.4.1", "v1.26.15", None),
            member("too-new", "v3.4.1", "v1.31.2", None),
        ];
        let path = [
            step(Component::Kubesphere, "v3.4.1", "v4.1.3", true),
            step(Component::Kubernetes, "v1.30", "v1.31", false),
        ];
        let facts = KubeSphereFacts {
            ks: &host,
            clusters: Some(&clusters),
            helm: &[],
            installer_deployment: false,
            path: &path,
        };
        let found = check_kubesphere(&facts);
        assert_eq!(
            found.iter().map(|f| f.code).collect::<Vec<_>>(),
            [Code::Path001, Code::Path002]
        );
        assert_eq!(found[0].step.as_deref(), Some("v1.31"));
        assert_eq!(found[1].object.name, "too-new");
        assert_eq!(found[1].step.as_deref(), Some("v4.1.3"));
    }
}
