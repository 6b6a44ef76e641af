//! Versions as clusters report them (`v1.26.15`, `v1.26.15+k3s1`, `v1.26.15-eks-4f4795d`,
//! `v3.4.1`) and the Kubernetes version skew policy.
//!
//! Kubernetes versions carry distribution suffixes that semver would call pre-releases
//! (`-eks-…`, `-gke.100`) though they are releases; [`Version`] keeps the suffix as text and
//! orders by major, minor and patch only.

use std::{cmp::Ordering, fmt, str::FromStr};

use serde::{Serialize, Serializer};

use crate::error::Error;

/// A `vMAJOR.MINOR[.PATCH][-suffix][+build]` version.
#[derive(Debug, Clone)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch (0 when absent).
    pub patch: u64,
    /// Whether the patch was written.
    pub has_patch: bool,
    /// Text after `-` (a distribution marker or a real pre-release).
    pub suffix: String,
    /// Text after `+` (build metadata: `k3s1`, `rke2r1`).
    pub build: String,
}

impl Version {
    /// A release version.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
            has_patch: true,
            suffix: String::new(),
            build: String::new(),
        }
    }

    /// `(major, minor)`.
    pub fn minor_key(&self) -> (u64, u64) {
        (self.major, self.minor)
    }

    /// `v1.26`.
    pub fn minor_string(&self) -> String {
        format!("v{}.{}", self.major, self.minor)
    }

    /// The same minor line one step later (`v1.26.x` → `v1.27`).
    pub fn next_minor(&self) -> Self {
        Self {
            major: self.major,
            minor: self.minor + 1,
            patch: 0,
            has_patch: false,
            suffix: String::new(),
            build: String::new(),
        }
    }

    /// Minor versions from `self` to `other` (positive when `other` is newer), same major only.
    pub fn minors_to(&self, other: &Version) -> i64 {
        if self.major != other.major {
            return if other.major > self.major {
                i64::MAX
            } else {
                i64::MIN
            };
        }
        other.minor as i64 - self.minor as i64
    }

    /// True for a real pre-release (`-rc.1`, `-beta.0`, `-alpha.2`), not a distribution suffix.
    pub fn is_prerelease(&self) -> bool {
        let s = self.suffix.to_ascii_lowercase();
        ["alpha", "beta", "rc"].iter().any(|p| s.starts_with(p))
    }

    /// The distribution the version string names, when it names one.
    pub fn distribution(&self) -> Option<&'static str> {
        let s = format!("{}+{}", self.suffix, self.build).to_ascii_lowercase();
        if s.contains("k3s") {
            Some("k3s")
        } else if s.contains("rke2") {
            Some("rke2")
        } else if s.contains("eks") {
            Some("eks")
        } else if s.contains("gke") {
            Some("gke")
        } else if s.contains("aliyun") {
            Some("ack")
        } else if s.contains("tke") {
            Some("tke")
        } else {
            None
        }
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| Error::parse(format!("version `{input}`"), reason);
        let s = input.trim();
        let s = s
            .strip_prefix('v')
            .or_else(|| s.strip_prefix('V'))
            .unwrap_or(s);
        if s.is_empty() {
            return Err(err("empty"));
        }
        let (s, build) = s.split_once('+').unwrap_or((s, ""));
        let (core, suffix) = s.split_once('-').unwrap_or((s, ""));
        let parts: Vec<&str> = core.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(err("expected vMAJOR.MINOR[.PATCH]"));
        }
        let num = |p: &str| -> Result<u64, Error> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 9 {
                return Err(err(&format!("`{p}` is not a number")));
            }
            p.parse().map_err(|_| err("number out of range"))
        };
        let major = num(parts[0])?;
        let minor = num(parts[1])?;
        let (patch, has_patch) = match parts.get(2) {
            Some(p) => (num(p)?, true),
            None => (0, false),
        };
        let valid_tail = |t: &str| {
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        };
        if !valid_tail(suffix) || !valid_tail(build) {
            return Err(err("unexpected characters"));
        }
        Ok(Self {
            major,
            minor,
            patch,
            has_patch,
            suffix: suffix.to_string(),
            build: build.to_string(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)?;
        if self.has_patch {
            write!(f, ".{}", self.patch)?;
        }
        if !self.suffix.is_empty() {
            write!(f, "-{}", self.suffix)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch))
    }
}

/// What the version skew policy says about one component against the API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Skew {
    /// Within policy.
    Supported,
    /// Newer than the API server: never allowed.
    NewerThanApiServer,
    /// Older than policy allows, by this many minors (and the limit).
    TooOld {
        /// Minors behind.
        behind: u64,
        /// The most the policy allows.
        allowed: u64,
    },
}

impl Skew {
    /// True when within policy.
    pub fn is_supported(&self) -> bool {
        matches!(self, Self::Supported)
    }
}

/// How many minors a kubelet or kube-proxy may lag behind an API server at `apiserver`:
/// three from Kubernetes 1.28 on (KEP-3935), two before.
pub(crate) fn allowed_node_lag(apiserver: &Version) -> u64 {
    if apiserver.minor_key() >= (1, 28) {
        3
    } else {
        2
    }
}

/// Checks a kubelet (or kube-proxy) version against an API server version.
pub(crate) fn node_skew(apiserver: &Version, node: &Version) -> Skew {
    let delta = node.minors_to(apiserver);
    if delta < 0 {
        return Skew::NewerThanApiServer;
    }
    let allowed = allowed_node_lag(apiserver);
    let behind = delta as u64;
    if behind > allowed {
        Skew::TooOld { behind, allowed }
    } else {
        Skew::Supported
    }
}

/// Controller manager and scheduler may be one minor older than the API server, never newer
/// (<https://kubernetes.io/releases/version-skew-policy/#kube-controller-manager-kube-scheduler-and-cloud-controller-manager>).
pub(crate) fn control_plane_skew(apiserver: &Version, component: &Version) -> Skew {
    let delta = component.minors_to(apiserver);
    if delta < 0 {
        Skew::NewerThanApiServer
    } else if delta > 1 {
        Skew::TooOld {
            behind: delta as u64,
            allowed: 1,
        }
    } else {
        Skew::Supported
    }
}

/// Extracts the version from an image reference (`registry.k8s.io/kube-apiserver:v1.26.15`,
/// `…/etcd:3.5.10-0`, `…@sha256:…` gives `None`).
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    // The digest goes first: `name@sha256:…` has a colon but no tag.
    let without_digest = image.split('@').next()?;
    let name = without_digest.rsplit('/').next()?;
    let (_, tag) = name.split_once(':')?;
    (!tag.is_empty()).then_some(tag)
}

/// A version literal in tests: `v("1.26.15")`.
#[cfg(test)]
pub(crate) fn v(s: &str) -> Version {
    s.parse().expect("a valid version literal")
}

#[cfg(test)]
mod tests {
    use super::v;
    use super::*;

    #[test]
    fn parses_what_clusters_report() {
        let k3s = v("v1.26.15+k3s1");
        assert_eq!((k3s.major, k3s.minor, k3s.patch), (1, 26, 15));
        assert_eq!(k3s.distribution(), Some("k3s"));
        assert_eq!(k3s.to_string(), "v1.26.15+k3s1");
        let eks = v("v1.26.15-eks-4f4795d");
        assert_eq!(eks.distribution(), Some("eks"));
        assert!(!eks.is_prerelease());
        assert_eq!(eks, v("v1.26.15"));
        assert_eq!(v("v3.4.1").minor_string(), "v3.4");
        assert_eq!(v("1.27").to_string(), "v1.27");
        assert!(v("v1.30.0-rc.1").is_prerelease());
        assert_eq!(v("v1.28.2-gke.100").distribution(), Some("gke"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "v",
            "garbage",
            "v1",
            "v1.x.3",
            "1.2.3.4",
            "v1..2",
            "v1.2.3 ",
            "v-1.2",
            "v1.2.3-é",
        ] {
            if bad == "v1.2.3 " {
                // Surrounding blanks are trimmed, as kubectl trims flag values.
                assert!(bad.parse::<Version>().is_ok());
                continue;
            }
            let e = bad.parse::<Version>().unwrap_err();
            assert!(
                e.to_string().starts_with("cannot parse version"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn orders_by_numbers_only() {
        assert!(v("v1.9.0") < v("v1.10.0"));
        assert!(v("v1.26.15") > v("v1.26.2"));
        assert_eq!(v("v1.26.0").minors_to(&v("v1.28.3")), 2);
        assert_eq!(v("v1.26").next_minor().to_string(), "v1.27");
    }

    #[test]
    fn skew_policy() {
        // n-3 from 1.28 on, n-2 before.
        assert_eq!(node_skew(&v("v1.28.0"), &v("v1.25.9")), Skew::Supported);
        assert_eq!(
            node_skew(&v("v1.27.0"), &v("v1.24.9")),
            Skew::TooOld {
                behind: 3,
                allowed: 2
            }
        );
        assert_eq!(
            node_skew(&v("v1.26.0"), &v("v1.27.1")),
            Skew::NewerThanApiServer
        );
        assert_eq!(
            node_skew(&v("v1.30.0"), &v("v1.26.0")),
            Skew::TooOld {
                behind: 4,
                allowed: 3
            }
        );
        assert!(control_plane_skew(&v("v1.27.1"), &v("v1.26.9")).is_supported());
        assert_eq!(
            control_plane_skew(&v("v1.27.1"), &v("v1.25.9")),
            Skew::TooOld {
                behind: 2,
                allowed: 1
            }
        );
    }

    #[test]
    fn image_tags() {
        assert_eq!(
            image_tag("registry.k8s.io/kube-apiserver:v1.26.15"),
            Some("v1.26.15")
        );
        assert_eq!(image_tag("registry.k8s.io/etcd:3.5.10-0"), Some("3.5.10-0"));
        assert_eq!(
            image_tag("localhost:5000/coredns/coredns:v1.9.3"),
            Some("v1.9.3")
        );
        assert_eq!(image_tag("busybox"), None);
        // A digest is not a tag.
        assert_eq!(
            image_tag("registry.k8s.io/kube-scheduler@sha256:0123abcd"),
            None
        );
        assert_eq!(
            image_tag("registry.k8s.io/kube-scheduler:v1.27.3@sha256:0123abcd"),
            Some("v1.27.3")
        );
    }
}
