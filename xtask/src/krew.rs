//! The krew manifest (`pkg/index/types.go`) and the checks of krew's `validate-krew-manifest`
//! (`internal/index/validation/validate.go`, `cmd/validate-krew-manifest/main.go`):
//!
//! - the file is `<name>.yaml` and `metadata.name` is that name, which matches `^[\w-]+$` and is
//!   not a Windows device name;
//! - `apiVersion` is `krew.googlecontainertools.github.com/v1alpha2` and `kind` is `Plugin`;
//! - `spec.version` is semver with a leading `v`; `shortDescription` is one non-empty line;
//! - at least one platform; each has `uri`, a `sha256` of 64 lowercase hex digits, `bin`, a
//!   non-empty `files` list if any (each with `from` and `to`), and a non-empty selector that uses
//!   only the `os` and `arch` keys;
//! - each selector matches at least one supported `<os, arch>`, and no two platforms match the
//!   same one.
//!
//! The install-time checks (the `bin` in the archive, a LICENSE in the install directory) are in
//! [`crate::install`]. Unknown fields are refused, as krew's strict YAML decoding does.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use serde::Deserialize;

use crate::platform::{Platform, SUPPORTED};

/// `constants.CurrentAPIVersion`.
pub const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
/// `constants.PluginKind`.
pub const KIND: &str = "Plugin";

/// A krew plugin manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plugin {
    /// Must be [`API_VERSION`].
    #[serde(default)]
    pub api_version: String,
    /// Must be [`KIND`].
    #[serde(default)]
    pub kind: String,
    /// The name.
    #[serde(default)]
    pub metadata: Metadata,
    /// The rest.
    #[serde(default)]
    pub spec: Spec,
}

/// `metadata`: a Kubernetes ObjectMeta, of which krew reads the name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    /// The plugin name: `kubectl <name>`, and the manifest's file name.
    #[serde(default)]
    pub name: String,
}

/// `spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// `v` + semver.
    #[serde(default)]
    pub version: String,
    /// The project's home page.
    #[serde(default)]
    pub homepage: Option<String>,
    /// One line, shown by `kubectl krew search`.
    #[serde(default)]
    pub short_description: String,
    /// Shown by `kubectl krew info`.
    #[serde(default)]
    pub description: Option<String>,
    /// Printed after the first install.
    #[serde(default)]
    pub caveats: Option<String>,
    /// Where to get the plugin, per platform.
    #[serde(default)]
    pub platforms: Vec<PlatformSpec>,
}

/// One entry of `spec.platforms`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSpec {
    /// Which `<os, arch>` pairs this entry is for.
    #[serde(default)]
    pub selector: Option<Selector>,
    /// The archive's url.
    #[serde(default)]
    pub uri: String,
    /// The archive's sha256.
    #[serde(default)]
    pub sha256: String,
    /// What to copy from the archive into the install directory (default: everything).
    #[serde(default)]
    pub files: Option<Vec<FileOperation>>,
    /// The executable, relative to the install directory; krew links it into its bin directory.
    #[serde(default)]
    pub bin: String,
}

/// A Kubernetes label selector over the labels `os` and `arch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// Labels that must all be equal.
    #[serde(default)]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Requirements that must all hold.
    #[serde(default)]
    pub match_expressions: Option<Vec<Requirement>>,
}

/// One `matchExpressions` requirement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The label.
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    /// The values for `In` and `NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// One `files` entry: a path or glob in the archive, and where it goes in the install directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOperation {
    /// The path or glob in the extracted archive.
    #[serde(default)]
    pub from: String,
    /// The path in the install directory (`.` keeps the file name).
    #[serde(default)]
    pub to: String,
}

impl Selector {
    /// Whether the selector matches a platform (labels `os` and `arch`).
    pub fn matches(&self, p: Platform) -> bool {
        let label = |key: &str| match key {
            "os" => Some(p.os),
            "arch" => Some(p.arch),
            _ => None,
        };
        let labels_ok = self
            .match_labels
            .iter()
            .flatten()
            .all(|(k, v)| label(k) == Some(v.as_str()));
        let exprs_ok = self.match_expressions.iter().flatten().all(|r| {
            let value = label(&r.key);
            match r.operator.as_str() {
                "In" => value.is_some_and(|v| r.values.iter().any(|x| x == v)),
                "NotIn" => value.is_none_or(|v| r.values.iter().all(|x| x != v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        });
        labels_ok && exprs_ok
    }
}

impl Plugin {
    /// The first platform entry matching `p`, as krew's `GetMatchingPlatform` picks it.
    pub fn platform_for(&self, p: Platform) -> Option<&PlatformSpec> {
        self.spec
            .platforms
            .iter()
            .find(|s| s.selector.as_ref().is_some_and(|sel| sel.matches(p)))
    }
}

/// Parses a manifest (strictly: unknown fields are errors).
pub fn parse(text: &str) -> Result<Plugin> {
    serde_saphyr::from_str(text).map_err(|e| anyhow!("invalid manifest: {e}"))
}

/// Validates the manifest `text` read from the file `file_name` (`upgrade-plan.yaml`): every
/// rule of `validate-krew-manifest` except the install, which [`crate::install`] does. Returns
/// the manifest, or every problem found.
pub fn validate(file_name: &str, text: &str) -> Result<Plugin, Vec<String>> {
    let mut problems = Vec::new();
    let Some(name) = file_name.strip_suffix(".yaml") else {
        return Err(vec![format!(
            "{file_name}: the manifest file must end with .yaml"
        )]);
    };
    let plugin = parse(text).map_err(|e| vec![format!("{file_name}: {e}")])?;
    let mut fail = |msg: String| problems.push(format!("{file_name}: {msg}"));
    if !is_safe_plugin_name(name) {
        fail(format!("`{name}` is not a valid plugin name"));
    }
    if plugin.api_version != API_VERSION {
        fail(format!(
            "apiVersion is `{}`, not {API_VERSION}",
            plugin.api_version
        ));
    }
    if plugin.kind != KIND {
        fail(format!("kind is `{}`, not {KIND}", plugin.kind));
    }
    if plugin.metadata.name != name {
        fail(format!(
            "metadata.name `{}` does not match the file name `{name}`",
            plugin.metadata.name
        ));
    }
    let spec = &plugin.spec;
    if spec.short_description.is_empty() {
        fail("spec.shortDescription is empty".into());
    } else if spec.short_description.contains(['\r', '\n']) {
        fail("spec.shortDescription must be one line".into());
    }
    if let Err(e) = parse_version(&spec.version) {
        fail(format!("spec.version: {e}"));
    }
    if spec.platforms.is_empty() {
        fail("spec.platforms is empty".into());
    }
    for (i, p) in spec.platforms.iter().enumerate() {
        for e in platform_problems(p) {
            fail(format!("spec.platforms[{i}]: {e}"));
        }
    }
    // validate-krew-manifest: every selector matches a supported pair, and no pair twice.
    for (i, p) in spec.platforms.iter().enumerate() {
        let Some(sel) = &p.selector else { continue };
        if !SUPPORTED.iter().any(|s| sel.matches(*s)) {
            fail(format!(
                "spec.platforms[{i}]: the selector matches no supported os/arch"
            ));
        }
    }
    for s in SUPPORTED {
        let matching: Vec<usize> = spec
            .platforms
            .iter()
            .enumerate()
            .filter(|(_, p)| p.selector.as_ref().is_some_and(|sel| sel.matches(s)))
            .map(|(i, _)| i)
            .collect();
        if matching.len() > 1 {
            fail(format!(
                "platforms {matching:?} all match {s}: selectors must not overlap"
            ));
        }
    }
    if problems.is_empty() {
        Ok(plugin)
    } else {
        Err(problems)
    }
}

fn platform_problems(p: &PlatformSpec) -> Vec<String> {
    let mut out = Vec::new();
    if p.uri.is_empty() {
        out.push("uri is empty".to_string());
    }
    if !(p.sha256.len() == 64
        && p.sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        out.push(format!(
            "sha256 `{}` is not 64 lowercase hex digits",
            p.sha256
        ));
    }
    if p.bin.is_empty() {
        out.push("bin is empty".into());
    }
    if let Some(files) = &p.files {
        if files.is_empty() {
            out.push("files is present but empty".into());
        }
        for f in files {
            if f.from.is_empty() || f.to.is_empty() {
                out.push("files entries need both `from` and `to`".into());
            }
        }
    }
    match &p.selector {
        None => out.push("selector is missing".into()),
        Some(sel) => {
            let labels = sel.match_labels.as_ref();
            let exprs = sel.match_expressions.as_ref();
            if labels.is_none_or(|l| l.is_empty()) && exprs.is_none_or(|e| e.is_empty()) {
                out.push("selector is empty".into());
            }
            if labels.is_some_and(|l| l.is_empty()) {
                out.push("matchLabels is present but empty".into());
            }
            if exprs.is_some_and(|e| e.is_empty()) {
                out.push("matchExpressions is present but empty".into());
            }
            let keys = labels
                .into_iter()
                .flat_map(|l| l.keys().map(String::as_str))
                .chain(exprs.into_iter().flatten().map(|r| r.key.as_str()));
            for key in keys {
                if key != "os" && key != "arch" {
                    out.push(format!("selector key `{key}` is not os or arch"));
                }
            }
        }
    }
    out
}

/// A plugin name: `^[\w-]+$`, and not a Windows device name (`CON`, `COM1`, ...).
pub fn is_safe_plugin_name(name: &str) -> bool {
    const RESERVED: [&str; 4] = ["con", "prn", "aux", "nul"];
    let lower = name.to_ascii_lowercase();
    let device = RESERVED.contains(&lower.as_str())
        || ["com", "lpt"].iter().any(|p| {
            lower
                .strip_prefix(p)
                .is_some_and(|n| n.len() == 1 && matches!(n.as_bytes()[0], b'1'..=b'9'))
        });
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !device
}

/// Parses krew's version: `v` followed by semver.
pub fn parse_version(version: &str) -> Result<semver::Version> {
    let bare = version
        .strip_prefix('v')
        .ok_or_else(|| anyhow!("`{version}` does not start with `v`"))?;
    semver::Version::parse(bare).map_err(|e| anyhow!("`{version}` is not semver: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn manifest(platforms: &str) -> String {
        format!(
            "apiVersion: {API_VERSION}\nkind: Plugin\nmetadata:\n  name: demo\nspec:\n  version: v0.1.0\n  shortDescription: Demo things\n  platforms:\n{platforms}"
        )
    }

    fn platform(selector: &str) -> String {
        format!(
            "  - selector:\n{selector}\n    uri: https://example.com/a.tar.gz\n    sha256: {SHA}\n    bin: kubectl-demo\n"
        )
    }

    #[test]
    fn a_good_manifest_passes() {
        let text = manifest(&format!(
            "{}{}",
            platform("      matchLabels:\n        os: linux\n        arch: amd64"),
            platform(
                "      matchExpressions:\n      - key: os\n        operator: In\n        values: [darwin]"
            )
        ));
        let p = validate("demo.yaml", &text).unwrap();
        assert!(p.platform_for(Platform::new("darwin", "arm64")).is_some());
        assert!(p.platform_for(Platform::new("windows", "amd64")).is_none());
    }

    #[test]
    fn each_rule_is_checked() {
        let good = platform("      matchLabels:\n        os: linux\n        arch: amd64");
        let text = manifest(&good);
        let e = validate("other.yaml", &text).unwrap_err();
        assert!(e[0].contains("does not match the file name"), "{e:?}");
        assert!(validate("demo.yml", &text).is_err());
        let e = validate("demo.yaml", &text.replace("v0.1.0", "0.1.0")).unwrap_err();
        assert!(e[0].contains("does not start with `v`"), "{e:?}");
        let e = validate("demo.yaml", &text.replace(SHA, &SHA.to_uppercase())).unwrap_err();
        assert!(e[0].contains("64 lowercase hex"), "{e:?}");
        let e = validate("demo.yaml", &text.replace("Demo things", "\"two\\nlines\"")).unwrap_err();
        assert!(e[0].contains("one line"), "{e:?}");
        let e = validate("demo.yaml", &text.replace("os: linux", "distro: linux")).unwrap_err();
        assert!(e.iter().any(|m| m.contains("`distro`")), "{e:?}");
        let e = validate("demo.yaml", &manifest(&format!("{good}{good}"))).unwrap_err();
        assert!(e.iter().any(|m| m.contains("overlap")), "{e:?}");
        let e = validate("demo.yaml", &text.replace("os: linux", "os: plan9")).unwrap_err();
        assert!(e.iter().any(|m| m.contains("no supported")), "{e:?}");
        let e = validate("demo.yaml", &text.replace("  version:", "  verison:")).unwrap_err();
        assert!(e[0].contains("invalid manifest"), "{e:?}");
        let e = validate(
            "demo.yaml",
            &text.replace("    bin:", "    files: []\n    bin:"),
        )
        .unwrap_err();
        assert!(e[0].contains("files is present but empty"), "{e:?}");
    }

    #[test]
    fn names() {
        assert!(is_safe_plugin_name("upgrade-plan"));
        assert!(is_safe_plugin_name("ks_migrate"));
        assert!(!is_safe_plugin_name("a/b"));
        assert!(!is_safe_plugin_name("COM1"));
        assert!(!is_safe_plugin_name("nul"));
        assert!(is_safe_plugin_name("com10"));
    }
}
