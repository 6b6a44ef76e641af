//! The real helm the end-to-end tests run, as `scripts/fetch-helm.sh` caches it.
//!
//! Package, version and checksum live in `tests/real-helm/helm.env`. A test that needs the real
//! helm calls [`real_helm`], which fails the test with what to run when the binary is missing;
//! it never skips.

use std::path::PathBuf;

const HELM_ENV: &str = include_str!("../../real-helm/helm.env");

/// A `KEY=value` of `tests/real-helm/helm.env`.
fn env_value(key: &str) -> &'static str {
    HELM_ENV
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("tests/real-helm/helm.env has no {key}"))
}

/// The helm release the tests pin (`v3.17.3`).
pub fn version() -> &'static str {
    env_value("HELM_VERSION")
}

/// What `helm version --short` prints for the pinned release (`v3.17.3+ge4da497`).
pub fn version_short() -> &'static str {
    env_value("HELM_VERSION_SHORT")
}

/// The pinned binary's sha256.
pub fn sha256() -> &'static str {
    env_value("HELM_SHA256")
}

/// Where `scripts/fetch-helm.sh` puts the binary:
/// `${KUPGRADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kupgrade}/helm-<version>/helm`.
pub fn cache_path() -> PathBuf {
    let cache = std::env::var_os("KUPGRADE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("kupgrade")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/kupgrade")))
        .unwrap_or_else(|| PathBuf::from(".cache/kupgrade"));
    cache.join(format!("helm-{}", version())).join("helm")
}

/// The real helm binary, or a failed test that says how to fetch it.
pub fn real_helm() -> PathBuf {
    let path = cache_path();
    assert!(
        path.is_file(),
        "the real helm {} is not at {}: run scripts/fetch-helm.sh (CI's .ci/run does)",
        version(),
        path.display()
    );
    path
}
