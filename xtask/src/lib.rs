//! Release tasks of the kubectl upgrade suite, as a library so that the tests use the same code
//! as `cargo xtask release`.
//!
//! - [`platform`]: krew's `<os, arch>` pairs and how Rust targets map onto them.
//! - [`archive`]: the release archive `kubectl-upgrade-suite_<tag>_<os>_<arch>.tar.gz` (the four
//!   plugin binaries, `LICENSE` and the completion shims) and its sha256.
//! - [`template`]: the krew-release-bot template dialect (`{{ .TagName }}`,
//!   `{{addURIAndSha "<url>" .TagName }}`, `| indent N`) used by `krew/<plugin>.yaml`.
//! - [`krew`]: the manifest types and the checks of krew's `validate-krew-manifest`.
//! - [`install`]: krew's install steps (checksum, extract, `files` moves, `bin` link, LICENSE),
//!   to install a locally built archive exactly as `kubectl krew install --archive` would.
//! - [`release`]: the templates rendered with the archives at hand, and validated.

pub mod archive;
pub mod install;
pub mod krew;
pub mod platform;
pub mod release;
pub mod template;

/// The plugins of the suite: the krew name (`kubectl <name>`) and the binary built for it.
pub const PLUGINS: [&str; 4] = ["upgrade-plan", "ks-migrate", "untaint-member", "health"];

/// `kubectl-<name with dashes as underscores>`: the file kubectl runs for `kubectl <name>`,
/// which is also the name of our binaries and of krew's link (`pluginNameToBin`).
pub fn plugin_bin(name: &str) -> String {
    format!("kubectl-{}", name.replace('-', "_"))
}

/// `kubectl_complete-<name with dashes as underscores>`: the completion executable kubectl
/// looks up on `PATH` for `kubectl <name> <TAB>`.
pub fn completion_bin(name: &str) -> String {
    format!("kubectl_complete-{}", name.replace('-', "_"))
}
