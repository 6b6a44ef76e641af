//! Rendering the krew templates of `krew/` for a release, with the sha256 of the archives at
//! hand, and validating the result.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

use crate::{
    PLUGINS,
    archive::sha256_file,
    krew::{self, Plugin},
    template,
};

/// One rendered manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The plugin name, and the file name without `.yaml`.
    pub name: String,
    /// The YAML text.
    pub text: String,
    /// The parsed, validated manifest.
    pub plugin: Plugin,
}

/// Which platforms a rendered manifest keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every platform of the template: all archives must be at hand.
    All,
    /// The platforms whose archive is at hand (a local release: the host's).
    Available,
}

/// The template of a plugin: `krew/<name>.yaml` under the workspace root.
pub fn template_path(root: &Path, name: &str) -> PathBuf {
    root.join("krew").join(format!("{name}.yaml"))
}

/// Renders every plugin's template for `tag`, taking each asset's sha256 from the file of the
/// same name in `archives` (an asset url's last path segment), and validates the result.
pub fn render_manifests(
    root: &Path,
    tag: &str,
    archives: &Path,
    coverage: Coverage,
) -> Result<Vec<Manifest>> {
    PLUGINS
        .iter()
        .map(|name| {
            let path = template_path(root, name);
            let source =
                fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
            let rendered = template::render(&source, tag, |url| {
                let file = url.rsplit('/').next().unwrap_or_default();
                let local = archives.join(file);
                if local.is_file() {
                    sha256_file(&local).map(Some)
                } else {
                    Ok(None)
                }
            })?;
            let text = match (coverage, rendered.unresolved.is_empty()) {
                (_, true) => rendered.text,
                (Coverage::All, false) => bail!(
                    "{name}: missing archives in {}: {}",
                    archives.display(),
                    rendered.unresolved.join(", ")
                ),
                (Coverage::Available, false) => template::drop_unresolved_platforms(&rendered.text)
                    .with_context(|| format!("{name}: no archive in {}", archives.display()))?,
            };
            let plugin = krew::validate(&format!("{name}.yaml"), &text)
                .map_err(|problems| anyhow::anyhow!(problems.join("\n")))?;
            Ok(Manifest {
                name: name.to_string(),
                text,
                plugin,
            })
        })
        .collect()
}
