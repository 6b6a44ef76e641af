//! CP001: the control-plane components against the version skew policy.

use std::collections::BTreeMap;

use serde::Serialize;

use super::skew::skew_text;
use crate::{
    domain::skew::{Skew, control_plane_skew},
    model::{ObjectRef, Severity},
    plan::{codes::Code, findings::Finding},
    version::Version,
};

/// A control-plane component seen on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentVersion {
    /// `kube-apiserver`, `kube-controller-manager`, `kube-scheduler`, `etcd`, `kube-proxy`,
    /// `kubelet`, `CoreDNS`.
    pub component: String,
    /// Node, when per node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Version (image tag).
    pub current: String,
    /// Where it ends after the path.
    pub target: String,
}

/// CP001: the control plane against the version skew policy
/// (<https://kubernetes.io/releases/version-skew-policy/>): kube-apiservers within one minor of
/// each other (Required); kube-controller-manager and kube-scheduler never newer than the oldest
/// kube-apiserver and at most one minor older (Required); any other difference, patch drift or a
/// lag the policy allows, is an unfinished upgrade (Recommended). An image pinned by digest (or a
/// tag that is no version) says nothing about the version: Recommended, "cannot be judged".
pub(crate) fn check_control_plane(components: &[ComponentVersion]) -> Vec<Finding> {
    const KINDS: [&str; 3] = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ];
    let cp: Vec<(&ComponentVersion, Option<Version>)> = components
        .iter()
        .filter(|c| KINDS.contains(&c.component.as_str()))
        .map(|c| {
            let v = c
                .current
                .parse::<Version>()
                .ok()
                .filter(|v| v.major >= 1 && v.has_patch);
            (c, v)
        })
        .collect();
    let pod = |c: &ComponentVersion| {
        // Static pods are named `<component>-<node>` (the kubelet's mirror-pod naming).
        let name = match &c.node {
            Some(n) => format!("{}-{n}", c.component),
            None => c.component.clone(),
        };
        ObjectRef::namespaced("Pod", "kube-system", &name)
    };
    let mut out = Vec::new();
    for (c, _) in cp.iter().filter(|(_, v)| v.is_none()) {
        out.push(
            Finding::new(
                Code::Cp001,
                pod(c),
                if c.current == "-" {
                    format!(
                        "{} image is pinned by digest (no tag): a digest is not a version, so its skew cannot be judged",
                        c.component
                    )
                } else {
                    format!(
                        "{} image tag `{}` is not a version: its skew cannot be judged",
                        c.component, c.current
                    )
                },
            )
            .severity(Severity::Advisory)
            .remedy(format!(
                "check the version by hand (`{} --version` on the node) and compare it with the other control-plane components",
                c.component
            )),
        );
    }
    let apiservers: Vec<(&ComponentVersion, &Version)> = cp
        .iter()
        .filter(|(c, _)| c.component == "kube-apiserver")
        .filter_map(|(c, v)| v.as_ref().map(|v| (*c, v)))
        .collect();
    let mut required = false;
    if let Some((_, oldest)) = apiservers.iter().min_by(|a, b| a.1.cmp(b.1)) {
        let oldest = (*oldest).clone();
        for (c, v) in &apiservers {
            let apart = oldest.minors_to(v);
            if apart > 1 {
                required = true;
                out.push(
                    Finding::new(
                        Code::Cp001,
                        pod(c),
                        format!(
                            "kube-apiserver {v} is {} minors ahead of the oldest kube-apiserver {oldest}: the skew policy allows one",
                            if apart == i64::MAX { "several".to_string() } else { apart.to_string() }
                        ),
                    )
                    .remedy("bring every kube-apiserver to the same minor (kubeadm upgrade node on the lagging control-plane nodes) first"),
                );
            }
        }
        for (c, v) in cp.iter().filter(|(c, _)| c.component != "kube-apiserver") {
            let Some(v) = v else { continue };
            let skew = control_plane_skew(&oldest, v);
            if !skew.is_supported() {
                required = true;
                let (what, fix) = match skew {
                    Skew::NewerThanApiServer => (
                        format!(
                            "{} {v} is newer than the oldest kube-apiserver {oldest}",
                            c.component
                        ),
                        format!("upgrade the kube-apiservers before the {}", c.component),
                    ),
                    _ => (
                        format!(
                            "{} {v} vs oldest kube-apiserver {oldest}: {}",
                            c.component,
                            skew_text(&skew)
                        ),
                        format!(
                            "upgrade {} on {} to the kube-apiserver's minor",
                            c.component,
                            c.node.as_deref().unwrap_or("its node")
                        ),
                    ),
                };
                out.push(
                    Finding::new(
                        Code::Cp001,
                        pod(c),
                        format!(
                            "{what} (the skew policy allows it to be at most one minor older, never newer)"
                        ),
                    )
                    .remedy(fix),
                );
            }
        }
    }
    if required {
        return out;
    }
    // Within the policy, but not uniform: an upgrade left half done.
    let mut versions: BTreeMap<&Version, Vec<String>> = BTreeMap::new();
    for (c, v) in &cp {
        if let Some(v) = v {
            versions.entry(v).or_default().push(format!(
                "{}@{}",
                c.component,
                c.node.as_deref().unwrap_or("?")
            ));
        }
    }
    if versions.len() > 1 {
        let detail: Vec<String> = versions
            .iter()
            .map(|(v, who)| format!("{v}: {}", who.join(", ")))
            .collect();
        out.push(
            Finding::new(
                Code::Cp001,
                ObjectRef::namespaced("Pod", "kube-system", "control-plane"),
                format!(
                    "control-plane versions differ within the skew policy: {}",
                    detail.join("; ")
                ),
            )
            .severity(Severity::Advisory)
            .remedy(
                "finish the interrupted upgrade (kubeadm upgrade node on the lagging nodes) first",
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_against_the_skew_policy() {
        let c = |component: &str, node: &str, v: &str| ComponentVersion {
            component: component.into(),
            node: Some(node.into()),
            current: v.into(),
            target: "v1.27".into(),
        };
        let got = |f: &[Finding]| -> Vec<(String, Severity, String)> {
            f.iter()
                .map(|f| (f.code.to_string(), f.severity, f.object.name.clone()))
                .collect()
        };
        let same = vec![
            c("kube-apiserver", "m1", "v1.26.15"),
            c("kube-controller-manager", "m1", "v1.26.15"),
            c("kube-scheduler", "m1", "v1.26.15"),
            c("etcd", "m1", "3.5.10-0"),
        ];
        assert!(check_control_plane(&same).is_empty());

        // Patch drift: Recommended, never a blocker.
        let mut patch = same.clone();
        patch.push(c("kube-apiserver", "m2", "v1.26.3"));
        let f = check_control_plane(&patch);
        assert_eq!(
            got(&f),
            vec![("CP001".into(), Severity::Advisory, "control-plane".into())]
        );
        assert!(
            f[0].message.contains("v1.26.3: kube-apiserver@m2"),
            "{}",
            f[0].message
        );

        // Mid-upgrade, within the policy: one apiserver a minor ahead, the controller manager
        // and scheduler a minor behind it (and level with the oldest): Recommended.
        let mut mid = same.clone();
        mid.push(c("kube-apiserver", "m2", "v1.27.3"));
        let f = check_control_plane(&mid);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Advisory);

        // ...but the scheduler of m2 newer than the oldest apiserver (m1 at 1.26): Required.
        let mut newer = mid.clone();
        newer.push(c("kube-scheduler", "m2", "v1.27.3"));
        let f = check_control_plane(&newer);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Blocking,
                "kube-scheduler-m2".into()
            )]
        );
        // kube-controller-manager m2 v1.27.3 is newer than the oldest apiserver too.
        let f = check_control_plane(&[
            c("kube-apiserver", "m1", "v1.26.15"),
            c("kube-apiserver", "m2", "v1.27.3"),
            c("kube-controller-manager", "m2", "v1.27.3"),
        ]);
        assert_eq!(f[0].severity, Severity::Blocking);
        assert!(
            f[0].message
                .contains("newer than the oldest kube-apiserver"),
            "{}",
            f[0].message
        );

        // Two minors behind: Required.
        let f = check_control_plane(&[
            c("kube-apiserver", "m1", "v1.27.3"),
            c("kube-controller-manager", "m1", "v1.25.9"),
        ]);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Blocking,
                "kube-controller-manager-m1".into()
            )]
        );
        assert!(
            f[0].message.contains("2 minors behind (at most 1 allowed)"),
            "{}",
            f[0].message
        );

        // API servers two minors apart: Required.
        let f = check_control_plane(&[
            c("kube-apiserver", "m1", "v1.25.3"),
            c("kube-apiserver", "m2", "v1.27.3"),
        ]);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Blocking,
                "kube-apiserver-m2".into()
            )]
        );

        // A digest is not a version: said, never a blocker, and the rest is still judged.
        let mut digest = same.clone();
        digest.push(c("kube-scheduler", "m2", "-"));
        let f = check_control_plane(&digest);
        assert_eq!(
            got(&f),
            vec![(
                "CP001".into(),
                Severity::Advisory,
                "kube-scheduler-m2".into()
            )]
        );
        assert!(
            f[0].message.contains("cannot be judged"),
            "{}",
            f[0].message
        );
    }
}
