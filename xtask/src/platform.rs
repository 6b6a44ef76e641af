//! krew's platforms: Go's `GOOS`/`GOARCH` names, which the manifest selectors match against.

use std::fmt;

use anyhow::{Result, bail};

/// One `<os, arch>` pair, in Go's names (`linux`/`darwin`/`windows`, `amd64`/`arm64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `GOOS`.
    pub os: &'static str,
    /// `GOARCH`.
    pub arch: &'static str,
}

/// The pairs krew's `validate-krew-manifest` accepts (`constants.go`).
pub const SUPPORTED: [Platform; 11] = [
    Platform::new("windows", "386"),
    Platform::new("windows", "amd64"),
    Platform::new("windows", "arm64"),
    Platform::new("linux", "386"),
    Platform::new("linux", "amd64"),
    Platform::new("linux", "arm"),
    Platform::new("linux", "arm64"),
    Platform::new("linux", "ppc64le"),
    Platform::new("darwin", "386"),
    Platform::new("darwin", "amd64"),
    Platform::new("darwin", "arm64"),
];

/// The platforms we publish: linux, darwin and windows on amd64 and arm64.
pub const RELEASED: [Platform; 6] = [
    Platform::new("linux", "amd64"),
    Platform::new("linux", "arm64"),
    Platform::new("darwin", "amd64"),
    Platform::new("darwin", "arm64"),
    Platform::new("windows", "amd64"),
    Platform::new("windows", "arm64"),
];

impl Platform {
    /// A pair from Go's names.
    pub const fn new(os: &'static str, arch: &'static str) -> Self {
        Self { os, arch }
    }

    /// The platform this program runs on.
    pub fn host() -> Result<Self> {
        Self::from_rust(std::env::consts::OS, std::env::consts::ARCH)
    }

    /// The platform of a Rust target triple (`x86_64-unknown-linux-musl`, `aarch64-apple-darwin`).
    pub fn from_target(triple: &str) -> Result<Self> {
        let mut parts = triple.split('-');
        let arch = parts.next().unwrap_or_default();
        let os = if triple.contains("-linux") {
            "linux"
        } else if triple.contains("-apple-darwin") {
            "macos"
        } else if triple.contains("-windows") {
            "windows"
        } else {
            bail!("target `{triple}` is not a linux, darwin or windows target")
        };
        Self::from_rust(os, arch)
    }

    /// Maps Rust's `std::env::consts::{OS, ARCH}` names to Go's.
    pub fn from_rust(os: &str, arch: &str) -> Result<Self> {
        let os = match os {
            "linux" => "linux",
            "macos" => "darwin",
            "windows" => "windows",
            other => bail!("unsupported operating system `{other}`"),
        };
        let arch = match arch {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" | "i686" | "i586" => "386",
            "arm" | "armv7" => "arm",
            "powerpc64le" => "ppc64le",
            other => bail!("unsupported architecture `{other}`"),
        };
        Ok(Self { os, arch })
    }

    /// Parses Go's names (`linux`, `amd64`), as in `KREW_OS`/`KREW_ARCH`.
    pub fn parse(os: &str, arch: &str) -> Result<Self> {
        SUPPORTED
            .into_iter()
            .find(|p| p.os == os && p.arch == arch)
            .ok_or_else(|| anyhow::anyhow!("`{os}/{arch}` is not a platform krew supports"))
    }

    /// `.exe` on Windows.
    pub fn exe_suffix(&self) -> &'static str {
        if self.os == "windows" { ".exe" } else { "" }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_map_to_go_names() {
        assert_eq!(
            Platform::from_target("x86_64-unknown-linux-musl").unwrap(),
            Platform::new("linux", "amd64")
        );
        assert_eq!(
            Platform::from_target("aarch64-apple-darwin").unwrap(),
            Platform::new("darwin", "arm64")
        );
        assert_eq!(
            Platform::from_target("aarch64-pc-windows-msvc").unwrap(),
            Platform::new("windows", "arm64")
        );
        assert!(Platform::from_target("wasm32-unknown-unknown").is_err());
        assert!(RELEASED.iter().all(|p| SUPPORTED.contains(p)));
    }
}
