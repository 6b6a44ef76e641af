//! Targets and the step-by-step path.
//!
//! Kubernetes goes one minor at a time (the API server must not skip minors, version skew policy);
//! a `--target` further away is allowed, and every intermediate minor becomes its own step.
//! KubeSphere goes 3.0 → 3.1 → 3.2 → 3.3 → 3.4 → 4.1 (each release's docs: "upgrade to the
//! previous minor first"; 4.1.3 upgrades from 3.4.x only). Every step is checked against the
//! KubeSphere/Kubernetes compatibility table ([`COMPATIBILITY`], each row with its public source), and the
//! two paths are interleaved so that each intermediate (Kubernetes, KubeSphere) pair is supported
//! when one exists: a KubeSphere step goes first when the next KubeSphere release supports the
//! running Kubernetes, otherwise a Kubernetes step when the running KubeSphere supports the next
//! minor.

use serde::Serialize;

use crate::{
    error::{Error, Result},
    version::Version,
};

/// The newest Kubernetes minor this build knows (the removal table's end).
pub const NEWEST_KUBERNETES_MINOR: u64 = 36;
/// The oldest Kubernetes minor a target may name.
pub const OLDEST_KUBERNETES_MINOR: u64 = 16;

/// KubeSphere releases, oldest first (open-source tags; there is no open-source 4.0).
pub const KUBESPHERE_RELEASES: &[&str] = &[
    "v3.0.0", "v3.1.0", "v3.1.1", "v3.2.0", "v3.2.1", "v3.3.0", "v3.3.1", "v3.3.2", "v3.4.0",
    "v3.4.1", "v4.1.1", "v4.1.2", "v4.1.3",
];

/// The Kubernetes versions a KubeSphere minor supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compat {
    /// KubeSphere `(major, minor)`.
    #[serde(skip)]
    pub kubesphere: (u64, u64),
    /// Oldest supported Kubernetes minor.
    #[serde(skip)]
    pub min: (u64, u64),
    /// Newest supported Kubernetes minor.
    #[serde(skip)]
    pub max: (u64, u64),
    /// From this Kubernetes minor on, support is experimental or partial (`*` in the docs).
    #[serde(skip)]
    pub experimental_from: Option<(u64, u64)>,
    /// The public page that states the range.
    #[serde(skip)]
    pub source: &'static str,
}

/// The compatibility table, each row from its release's own documentation (`source`). Where
/// the docs disagree (3.3's upgrade overview says 1.19–1.21 plus *1.22–*1.24, its ks-installer
/// README 1.20–1.23), the installation prerequisites page wins.
pub const COMPATIBILITY: &[Compat] = &[
    Compat {
        kubesphere: (3, 0),
        min: (1, 15),
        max: (1, 18),
        experimental_from: None,
        source: "https://github.com/kubesphere/ks-installer/blob/v3.0.0/README.md",
    },
    Compat {
        kubesphere: (3, 1),
        min: (1, 17),
        max: (1, 20),
        experimental_from: None,
        source: "https://github.com/kubesphere/ks-installer/blob/v3.1.0/README.md",
    },
    Compat {
        kubesphere: (3, 2),
        min: (1, 19),
        max: (1, 22),
        experimental_from: Some((1, 22)),
        source: "https://github.com/kubesphere/ks-installer/blob/v3.2.1/README.md",
    },
    Compat {
        kubesphere: (3, 3),
        min: (1, 19),
        max: (1, 23),
        experimental_from: Some((1, 23)),
        source: "https://kubesphere.io/docs/v3.3/installing-on-kubernetes/introduction/prerequisites/",
    },
    Compat {
        kubesphere: (3, 4),
        min: (1, 20),
        max: (1, 26),
        experimental_from: Some((1, 24)),
        source: "https://kubesphere.io/docs/v3.4/installing-on-kubernetes/introduction/prerequisites/",
    },
    Compat {
        kubesphere: (4, 1),
        min: (1, 21),
        max: (1, 30),
        experimental_from: None,
        source: "https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/01-preparations/01-supported-k8s/",
    },
];

/// The compatibility of a KubeSphere version's minor.
pub fn compat(ks: &Version) -> Option<&'static Compat> {
    COMPATIBILITY
        .iter()
        .find(|c| c.kubesphere == ks.minor_key())
}

fn mm(k: (u64, u64)) -> String {
    format!("v{}.{}", k.0, k.1)
}

/// Whether a KubeSphere minor supports a Kubernetes minor: `Ok(note)` (note for experimental
/// support) or `Err(reason)`.
pub fn supports(ks: &Version, k8s: (u64, u64)) -> std::result::Result<Option<String>, String> {
    let Some(c) = compat(ks) else {
        return Err(format!(
            "KubeSphere {} is not in the compatibility table",
            ks.minor_string()
        ));
    };
    if k8s < c.min || k8s > c.max {
        return Err(format!(
            "KubeSphere {} supports Kubernetes {}–{}, not {}",
            ks.minor_string(),
            mm(c.min),
            mm(c.max),
            mm(k8s)
        ));
    }
    Ok(c.experimental_from.filter(|e| k8s >= *e).map(|_| {
        format!(
            "Kubernetes {} is experimental or partial for KubeSphere {}",
            mm(k8s),
            ks.minor_string()
        )
    }))
}

fn releases() -> Vec<Version> {
    KUBESPHERE_RELEASES
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn latest_patch(minor: (u64, u64)) -> Option<Version> {
    releases()
        .into_iter()
        .filter(|r| r.minor_key() == minor)
        .max()
}

/// The KubeSphere minors in upgrade order.
fn ks_minors() -> Vec<(u64, u64)> {
    COMPATIBILITY.iter().map(|c| c.kubesphere).collect()
}

/// Parses a `--target`: a Kubernetes release `v1.N` or `v1.N.P`.
pub fn parse_kubernetes_target(text: &str) -> Result<Version> {
    let v: Version = text
        .parse()
        .map_err(|e| Error::usage(format!("invalid --target `{text}`: {e}")))?;
    if v.major != 1 || !v.suffix.is_empty() || !v.build.is_empty() {
        return Err(Error::usage(format!(
            "invalid --target `{text}`: expected a Kubernetes release such as v1.27 or v1.27.16"
        )));
    }
    if v.minor < OLDEST_KUBERNETES_MINOR || v.minor > NEWEST_KUBERNETES_MINOR {
        return Err(Error::usage(format!(
            "--target `{text}` is outside what this build knows (v1.{OLDEST_KUBERNETES_MINOR}–v1.{NEWEST_KUBERNETES_MINOR})"
        )));
    }
    Ok(v)
}

/// Parses a `--ks-target`: a KubeSphere release (`v4.1.3`) or a minor (`v4.1` = its newest patch).
pub fn parse_kubesphere_target(text: &str) -> Result<Version> {
    let v: Version = text
        .parse()
        .map_err(|e| Error::usage(format!("invalid --ks-target `{text}`: {e}")))?;
    let known = releases();
    let found = if v.has_patch {
        known.into_iter().find(|r| *r == v)
    } else {
        latest_patch(v.minor_key())
    };
    found.ok_or_else(|| {
        Error::usage(format!(
            "--ks-target `{text}` is not a KubeSphere release this build knows ({})",
            KUBESPHERE_RELEASES.join(", ")
        ))
    })
}

/// The Kubernetes target: the requested one (not older than `current`), or the next minor.
pub fn resolve_kubernetes_target(
    current: &Version,
    requested: Option<&Version>,
) -> Result<Version> {
    let Some(t) = requested else {
        if current.minor >= NEWEST_KUBERNETES_MINOR {
            return Ok(current.clone());
        }
        return Ok(current.next_minor());
    };
    let older = if t.has_patch {
        t < current
    } else {
        t.minor_key() < current.minor_key()
    };
    if older {
        return Err(Error::usage(format!(
            "--target {t} is older than the cluster's Kubernetes {current}; downgrades are not supported"
        )));
    }
    Ok(t.clone())
}

/// The KubeSphere target: the requested one (not older than `current`), or the next release on
/// the supported path; `None` when KubeSphere is absent or already newest.
pub fn resolve_kubesphere_target(
    current: Option<&Version>,
    requested: Option<&Version>,
) -> Result<Option<Version>> {
    let Some(cur) = current else {
        return match requested {
            Some(t) => Err(Error::usage(format!(
                "--ks-target {t} given, but no KubeSphere was found in this cluster"
            ))),
            None => Ok(None),
        };
    };
    if let Some(t) = requested {
        if t < cur {
            return Err(Error::usage(format!(
                "--ks-target {t} is older than the running KubeSphere {cur}; downgrades are not supported"
            )));
        }
        return Ok((t > cur).then(|| t.clone()));
    }
    let minors = ks_minors();
    let Some(i) = minors.iter().position(|m| *m == cur.minor_key()) else {
        return Ok(None);
    };
    if let Some(next) = minors.get(i + 1) {
        return Ok(latest_patch(*next));
    }
    Ok(latest_patch(cur.minor_key()).filter(|l| l > cur))
}

/// What a step upgrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// Kubernetes (control plane and nodes).
    Kubernetes,
    /// KubeSphere.
    Kubesphere,
}

/// One step of the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathStep {
    /// 1-based.
    pub number: usize,
    /// What it upgrades.
    pub component: Component,
    /// Version before.
    pub from: String,
    /// Version after (`v1.27` = the newest patch of that minor).
    pub to: String,
    /// The tool that performs it.
    pub tool: String,
    /// The Kubernetes minor after this step.
    pub kubernetes: String,
    /// The KubeSphere version after this step, when installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubesphere: Option<String>,
    /// Checked against the compatibility table.
    pub supported: bool,
    /// Why not supported, or a caveat (experimental support).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Tools for the Kubernetes steps, by how the cluster was built.
pub fn kubesphere_tool(from: &Version, to: &Version, kubekey: bool) -> String {
    if from.major == 3 && to.major >= 4 {
        "kubectl ks-migrate".into()
    } else if to.major >= 4 {
        "helm upgrade (ks-core chart)".into()
    } else if kubekey {
        "KubeKey (kk upgrade --with-kubesphere)".into()
    } else {
        "ks-installer".into()
    }
}

/// Plans the path from (`k8s`, `ks`) to (`k8s_target`, `ks_target`). `k8s_tool` names the
/// Kubernetes tool (from the cluster build).
pub fn plan_path(
    k8s: &Version,
    k8s_target: &Version,
    ks: Option<&Version>,
    ks_target: Option<&Version>,
    k8s_tool: &str,
    kubekey: bool,
) -> Vec<PathStep> {
    // Kubernetes waypoints: every minor after the current one, the last one exact if given.
    let mut k8s_steps: Vec<Version> = Vec::new();
    if k8s_target.minor_key() > k8s.minor_key() {
        for m in (k8s.minor + 1)..=k8s_target.minor {
            if m == k8s_target.minor {
                k8s_steps.push(k8s_target.clone());
            } else {
                k8s_steps.push(Version {
                    has_patch: false,
                    ..Version::new(1, m, 0)
                });
            }
        }
    } else if k8s_target.has_patch && k8s_target > k8s {
        // A patch upgrade within the minor.
        k8s_steps.push(k8s_target.clone());
    }
    // KubeSphere waypoints: the newest patch of every minor after the current one.
    let mut ks_steps: Vec<Version> = Vec::new();
    if let (Some(cur), Some(target)) = (ks, ks_target) {
        let minors = ks_minors();
        for m in minors
            .iter()
            .filter(|m| **m > cur.minor_key() && **m <= target.minor_key())
        {
            if *m == target.minor_key() {
                ks_steps.push(target.clone());
            } else if let Some(v) = latest_patch(*m) {
                ks_steps.push(v);
            }
        }
        if ks_steps.is_empty() && target > cur {
            ks_steps.push(target.clone());
        }
    }

    let mut out = Vec::new();
    let mut k_now = k8s.clone();
    let mut ks_now = ks.cloned();
    let (mut ki, mut si) = (0, 0);
    while ki < k8s_steps.len() || si < ks_steps.len() {
        let next_ks = ks_steps.get(si);
        let next_k = k8s_steps.get(ki);
        let ks_ok = next_ks.map(|v| supports(v, k_now.minor_key()));
        let k_ok = next_k.map(|v| match &ks_now {
            Some(s) => supports(s, v.minor_key()),
            None => Ok(None),
        });
        let take_ks = match (&ks_ok, &k_ok) {
            (Some(Ok(_)), _) => true,
            (Some(Err(_)), Some(Ok(_))) => false,
            (Some(Err(_)), Some(Err(_))) | (Some(Err(_)), None) => true,
            (None, _) => false,
        };
        let number = out.len() + 1;
        if take_ks {
            let Some(to) = next_ks else { break };
            let from = ks_now.clone().unwrap_or_else(|| to.clone());
            let (supported, note) = match ks_ok {
                Some(Ok(n)) => (true, n),
                Some(Err(e)) => (false, Some(e)),
                None => (true, None),
            };
            out.push(PathStep {
                number,
                component: Component::Kubesphere,
                from: from.to_string(),
                to: to.to_string(),
                tool: kubesphere_tool(&from, to, kubekey),
                kubernetes: k_now.minor_string(),
                kubesphere: Some(to.to_string()),
                supported,
                note,
            });
            ks_now = Some(to.clone());
            si += 1;
        } else {
            let Some(to) = next_k else { break };
            let (supported, note) = match k_ok {
                Some(Ok(n)) => (true, n),
                Some(Err(e)) => (false, Some(e)),
                None => (true, None),
            };
            out.push(PathStep {
                number,
                component: Component::Kubernetes,
                from: k_now.to_string(),
                to: to.to_string(),
                tool: k8s_tool.to_string(),
                kubernetes: to.minor_string(),
                kubesphere: ks_now.as_ref().map(|v| v.to_string()),
                supported,
                note,
            });
            k_now = to.clone();
            ki += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;

    #[test]
    fn every_compatibility_row_names_a_public_source() {
        for c in COMPATIBILITY {
            let ok = c.source.starts_with("https://kubesphere.io/docs/")
                || (c.source.starts_with("https://github.com/kubesphere/")
                    && c.source.contains("/blob/v"));
            assert!(ok, "KubeSphere {:?}: `{}`", c.kubesphere, c.source);
        }
    }

    fn summary(steps: &[PathStep]) -> Vec<String> {
        steps
            .iter()
            .map(|s| {
                format!(
                    "{:?} {}->{}{}",
                    s.component,
                    s.from,
                    s.to,
                    if s.supported { "" } else { " UNSUPPORTED" }
                )
            })
            .collect()
    }

    #[test]
    fn kubernetes_goes_one_minor_at_a_time() {
        let steps = plan_path(&v("v1.24.17"), &v("v1.27"), None, None, "kubeadm", false);
        assert_eq!(
            summary(&steps),
            vec![
                "Kubernetes v1.24.17->v1.25",
                "Kubernetes v1.25->v1.26",
                "Kubernetes v1.26->v1.27"
            ]
        );
        assert!(steps.iter().all(|s| s.tool == "kubeadm"));
        // An exact target ends the path exactly.
        let steps = plan_path(&v("v1.26.15"), &v("v1.27.16"), None, None, "kubeadm", false);
        assert_eq!(summary(&steps), vec!["Kubernetes v1.26.15->v1.27.16"]);
        // A patch upgrade.
        let steps = plan_path(&v("v1.26.5"), &v("v1.26.15"), None, None, "kubeadm", false);
        assert_eq!(summary(&steps), vec!["Kubernetes v1.26.5->v1.26.15"]);
        // Nothing to do.
        assert!(plan_path(&v("v1.26.5"), &v("v1.26"), None, None, "kubeadm", false).is_empty());
    }

    #[test]
    fn kubesphere_32_to_41_passes_33_and_34_with_compatibility() {
        let steps = plan_path(
            &v("v1.22.17"),
            &v("v1.22"),
            Some(&v("v3.2.1")),
            Some(&v("v4.1.3")),
            "kubeadm",
            false,
        );
        assert_eq!(
            summary(&steps),
            vec![
                "Kubesphere v3.2.1->v3.3.2",
                "Kubesphere v3.3.2->v3.4.1",
                "Kubesphere v3.4.1->v4.1.3"
            ]
        );
        assert_eq!(steps[0].tool, "ks-installer");
        assert_eq!(steps[2].tool, "kubectl ks-migrate");
        assert!(steps.iter().all(|s| s.kubernetes == "v1.22"));
        assert!(steps[0].note.is_none());
        // KubeKey-built clusters upgrade 3.x with kk.
        let steps = plan_path(
            &v("v1.22.17"),
            &v("v1.22"),
            Some(&v("v3.2.1")),
            Some(&v("v3.3")),
            "kubekey",
            true,
        );
        assert!(steps[0].tool.starts_with("KubeKey"));
    }

    #[test]
    fn kubesphere_41_refuses_kubernetes_131() {
        let steps = plan_path(
            &v("v1.31.2"),
            &v("v1.31"),
            Some(&v("v3.4.1")),
            Some(&v("v4.1.3")),
            "kubeadm",
            false,
        );
        assert_eq!(
            summary(&steps),
            vec!["Kubesphere v3.4.1->v4.1.3 UNSUPPORTED"]
        );
        assert!(steps[0].note.as_deref().unwrap().contains("v1.21–v1.30"));
        // And a Kubernetes target beyond 4.1's range is refused at that step.
        let steps = plan_path(
            &v("v1.30.1"),
            &v("v1.31"),
            Some(&v("v4.1.3")),
            None,
            "kubeadm",
            false,
        );
        assert_eq!(
            summary(&steps),
            vec!["Kubernetes v1.30.1->v1.31 UNSUPPORTED"]
        );
    }

    #[test]
    fn kubesphere_goes_first_when_the_running_release_cannot_follow_kubernetes() {
        // ks34-host: 3.4 supports up to 1.26, so 4.1 must come before 1.27.
        let steps = plan_path(
            &v("v1.26.15"),
            &v("v1.27"),
            Some(&v("v3.4.1")),
            Some(&v("v4.1.3")),
            "kubeadm",
            false,
        );
        assert_eq!(
            summary(&steps),
            vec!["Kubesphere v3.4.1->v4.1.3", "Kubernetes v1.26.15->v1.27"]
        );
        assert_eq!(steps[1].kubesphere.as_deref(), Some("v4.1.3"));
        // 3.4 on 1.20 cannot go to 4.1 (needs 1.21) until Kubernetes moves.
        let steps = plan_path(
            &v("v1.20.15"),
            &v("v1.22"),
            Some(&v("v3.4.1")),
            Some(&v("v4.1.3")),
            "kubeadm",
            false,
        );
        assert_eq!(
            summary(&steps),
            vec![
                "Kubernetes v1.20.15->v1.21",
                "Kubesphere v3.4.1->v4.1.3",
                "Kubernetes v1.21->v1.22"
            ]
        );
        // Experimental support is noted.
        let steps = plan_path(
            &v("v1.25.3"),
            &v("v1.26"),
            Some(&v("v3.4.1")),
            None,
            "kubeadm",
            false,
        );
        assert!(steps[0].supported);
        assert!(steps[0].note.as_deref().unwrap().contains("experimental"));
    }

    #[test]
    fn targets_are_validated() {
        assert_eq!(
            parse_kubernetes_target("v1.27").unwrap().to_string(),
            "v1.27"
        );
        for bad in ["garbage", "v2.0", "v1.27.3-eks-1", "v1.99", "1.x"] {
            let e = parse_kubernetes_target(bad).unwrap_err();
            assert_eq!(e.exit_status(), crate::ExitStatus::Error, "{bad}");
            assert!(matches!(e, Error::Usage { .. }), "{bad}: {e}");
        }
        assert_eq!(
            resolve_kubernetes_target(&v("v1.26.15"), None)
                .unwrap()
                .to_string(),
            "v1.27"
        );
        assert!(resolve_kubernetes_target(&v("v1.26.15"), Some(&v("v1.25"))).is_err());
        assert!(resolve_kubernetes_target(&v("v1.26.15"), Some(&v("v1.26.3"))).is_err());
        assert!(resolve_kubernetes_target(&v("v1.26.15"), Some(&v("v1.26"))).is_ok());
        assert_eq!(
            resolve_kubernetes_target(&v("v1.24.1"), Some(&v("v1.27")))
                .unwrap()
                .to_string(),
            "v1.27"
        );

        assert_eq!(
            parse_kubesphere_target("v4.1").unwrap().to_string(),
            "v4.1.3"
        );
        assert_eq!(
            parse_kubesphere_target("v3.3.1").unwrap().to_string(),
            "v3.3.1"
        );
        assert!(parse_kubesphere_target("v4.0.0").is_err());
        assert!(parse_kubesphere_target("v3.9").is_err());
        assert!(parse_kubesphere_target("nope").is_err());

        let next = |cur: &str| {
            resolve_kubesphere_target(Some(&v(cur)), None)
                .unwrap()
                .map(|v| v.to_string())
        };
        assert_eq!(next("v3.2.1").as_deref(), Some("v3.3.2"));
        assert_eq!(next("v3.4.1").as_deref(), Some("v4.1.3"));
        assert_eq!(next("v4.1.1").as_deref(), Some("v4.1.3"));
        assert_eq!(next("v4.1.3"), None);
        assert!(resolve_kubesphere_target(None, Some(&v("v4.1.3"))).is_err());
        assert!(resolve_kubesphere_target(Some(&v("v4.1.3")), Some(&v("v3.4.1"))).is_err());
        assert_eq!(resolve_kubesphere_target(None, None).unwrap(), None);
    }

    #[test]
    fn compatibility_table() {
        assert!(supports(&v("v4.1.3"), (1, 30)).unwrap().is_none());
        assert!(supports(&v("v4.1.3"), (1, 31)).is_err());
        assert!(supports(&v("v4.1.3"), (1, 20)).is_err());
        assert!(supports(&v("v3.4.1"), (1, 26)).unwrap().is_some());
        assert!(supports(&v("v3.4.1"), (1, 23)).unwrap().is_none());
        assert!(supports(&v("v3.4.1"), (1, 27)).is_err());
        assert!(supports(&v("v2.1.1"), (1, 15)).is_err());
        // Upgrade order is the table's order, and every listed release has a row.
        for r in releases() {
            assert!(compat(&r).is_some(), "{r}");
        }
    }
}
