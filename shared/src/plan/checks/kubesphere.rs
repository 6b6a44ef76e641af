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
                    ObjectRef::namespaced("ClusterConfiguration", crate::kubesphere::SYSTEM_NAMESPACE, "ks-installer"),
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
