//! krew's install steps (`internal/installation/install.go`, `move.go`, `internal/download`),
//! applied to a local archive as `kubectl krew install --manifest=<m> --archive=<a>` does, into
//! a krew root of our choosing:
//!
//! 1. pick the first platform whose selector matches (`GetMatchingPlatform`);
//! 2. check the archive's sha256 against the manifest's;
//! 3. extract the `.tar.gz` into a staging directory, refusing paths outside it;
//! 4. apply the `files` moves (default `{from: "*", to: "."}`) into
//!    `store/<name>/<version>`: a `from` naming a file moves that file (`to: .` keeps its
//!    name), otherwise `from` is a glob whose matches go into the `to` directory;
//! 5. check `bin` is inside the install directory and link it, relatively, as
//!    `bin/kubectl-<name with dashes as underscores>`;
//! 6. store the receipt (`receipts/<name>.yaml`).
//!
//! [`license_file`] is `validate-krew-manifest`'s check that a LICENSE was installed.

use std::{
    fs::{self, File},
    io::{self, BufReader},
    path::{Component, Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use flate2::read::GzDecoder;

use crate::{archive::sha256_file, krew::Plugin, platform::Platform};

/// The result of an install.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `store/<name>/<version>`.
    pub install_dir: PathBuf,
    /// `bin/kubectl-<name>`: the link kubectl finds on `PATH`.
    pub link: PathBuf,
    /// What the link points to.
    pub target: PathBuf,
}

/// The license file names `validate-krew-manifest` accepts (compared case-insensitively).
pub const LICENSE_NAMES: [&str; 8] = [
    "license",
    "license.txt",
    "license.md",
    "licenses",
    "licenses.txt",
    "licenses.md",
    "copying",
    "copying.txt",
];

/// krew's `pluginNameToBin`: `kubectl-` + the name with dashes as underscores (+ `.exe`).
pub fn link_name(plugin: &str, platform: Platform) -> String {
    format!("{}{}", crate::plugin_bin(plugin), platform.exe_suffix())
}

/// Installs `plugin` from the local `archive` under the krew root `root`, as krew would on
/// `platform` (krew's `KREW_OS`/`KREW_ARCH`).
pub fn install(
    root: &Path,
    plugin: &Plugin,
    archive: &Path,
    platform: Platform,
) -> Result<Installed> {
    let name = &plugin.metadata.name;
    let receipt = root.join("receipts").join(format!("{name}.yaml"));
    if receipt.exists() {
        bail!("can't install, the newest version is already installed");
    }
    let spec = plugin
        .platform_for(platform)
        .ok_or_else(|| anyhow!("plugin {name:?} does not offer installation for this platform"))?;

    let sha = sha256_file(archive)?;
    if sha != spec.sha256 {
        bail!("checksum does not match, want: {}, got {sha}", spec.sha256);
    }
    let staging = root.join(format!(".krew-downloads-{name}"));
    let moves = root.join(format!(".krew-temp-move-{name}"));
    let result = (|| {
        for dir in [&staging, &moves] {
            if dir.exists() {
                fs::remove_dir_all(dir).with_context(|| format!("clean {}", dir.display()))?;
            }
            fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        extract_tar_gz(archive, &staging)?;
        let default = [crate::krew::FileOperation {
            from: "*".into(),
            to: ".".into(),
        }];
        let files = spec.files.as_deref().unwrap_or(&default);
        for op in files {
            move_files(&staging, &moves, op)?;
        }
        let install_dir = root.join("store").join(name).join(&plugin.spec.version);
        if let Some(parent) = install_dir.parent() {
            fs::create_dir_all(parent)?;
        }
        if install_dir.exists() {
            fs::remove_dir_all(&install_dir)?;
        }
        fs::rename(&moves, &install_dir)
            .with_context(|| format!("move files into {}", install_dir.display()))?;

        let target = install_dir.join(&spec.bin);
        if !is_sub_path(&install_dir, &target) {
            bail!(
                "the path {:?} does not extend the sub-path {:?}",
                target,
                install_dir
            );
        }
        if !target.is_file() {
            bail!(
                "can't create symbolic link, source binary ({}) cannot be found in extracted archive",
                target.display()
            );
        }
        let bin_dir = root.join("bin");
        fs::create_dir_all(&bin_dir)?;
        let link = bin_dir.join(link_name(name, platform));
        if let Ok(meta) = fs::symlink_metadata(&link) {
            if !meta.file_type().is_symlink() {
                bail!("file {} is not a symlink", link.display());
            }
            fs::remove_file(&link)?;
        }
        let relative = Path::new("..")
            .join("store")
            .join(name)
            .join(&plugin.spec.version)
            .join(&spec.bin);
        symlink(&relative, &link)?;
        Ok(Installed {
            install_dir,
            link,
            target,
        })
    })();
    let _ = fs::remove_dir_all(&staging);
    let _ = fs::remove_dir_all(&moves);
    let installed = result?;
    fs::create_dir_all(root.join("receipts"))?;
    fs::write(
        &receipt,
        format!(
            "# installed from {}\nname: {name}\nversion: {}\n",
            archive.display(),
            plugin.spec.version
        ),
    )
    .context("store the receipt")?;
    Ok(installed)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("create the symlink {}", link.display()))
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    fs::copy(dir.join(target), link)
        .map(|_| ())
        .with_context(|| format!("copy the binary to {}", link.display()))
}

/// The license file at the top of an install directory, if any.
pub fn license_file(install_dir: &Path) -> Option<PathBuf> {
    fs::read_dir(install_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            LICENSE_NAMES.contains(&name.as_str()) && e.path().is_file()
        })
        .map(|e| e.path())
}

/// Extracts a `.tar.gz` as krew's `extractTARGZ`: directories and regular files only, every
/// path inside `dir`, modes from the archive.
pub fn extract_tar_gz(archive: &Path, dir: &Path) -> Result<()> {
    let file = File::open(archive).with_context(|| format!("open {}", archive.display()))?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    for entry in tar.entries().context("read the archive")? {
        let mut entry = entry.context("read the archive")?;
        let path = entry.path().context("read the archive")?.into_owned();
        if path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
        {
            bail!(
                "the archive contains a path outside the target: {}",
                path.display()
            );
        }
        let dest = dir.join(&path);
        match entry.header().entry_type() {
            tar::EntryType::Directory => fs::create_dir_all(&dest)?,
            tar::EntryType::Regular => {
                if let Some(parent) = dest.parent() {
                    fs::create_dir_all(parent)?;
                }
                let mut out = File::create(&dest)?;
                io::copy(&mut entry, &mut out)?;
                set_mode(&dest, entry.header().mode().unwrap_or(0o644))?;
            }
            other => bail!("unsupported archive entry {other:?} for {}", path.display()),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .with_context(|| format!("chmod {}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<()> {
    Ok(())
}

/// krew's `moveFiles` for one `files` entry, from the extracted archive into the install dir.
fn move_files(from_dir: &Path, to_dir: &Path, op: &crate::krew::FileOperation) -> Result<()> {
    let to = Path::new(&op.to);
    if clean(to) != to {
        bail!(
            "the provided path is not clean, {:?} should be {:?}",
            op.to,
            clean(to)
        );
    }
    // A direct move: `from` names a file.
    let direct = clean(&from_dir.join(&op.from));
    if direct.exists() {
        let dest = if op.to == "." {
            to_dir.join(direct.file_name().context("`from` has no file name")?)
        } else {
            to_dir.join(to)
        };
        return rename(from_dir, to_dir, &direct, &dest);
    }
    // A glob (in the last path component): the matches go into the `to` directory.
    let pattern = Path::new(&op.from);
    let (dir, glob) = match (pattern.parent(), pattern.file_name()) {
        (Some(parent), Some(name)) => (from_dir.join(parent), name.to_string_lossy().into_owned()),
        _ => bail!("invalid `from` {:?}", op.from),
    };
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        bail!(
            "globs are supported in the last path component only: {:?}",
            op.from
        );
    }
    let mut matches: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| glob_match(&glob, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect(),
        Err(_) => Vec::new(),
    };
    matches.sort();
    if matches.is_empty() {
        bail!(
            "no files in the plugin archive matched the glob pattern={}",
            op.from
        );
    }
    let new_dir = clean(&to_dir.join(to));
    for m in matches {
        let dest = new_dir.join(m.file_name().context("a match has no file name")?);
        rename(from_dir, to_dir, &m, &dest)?;
    }
    Ok(())
}

fn rename(from_dir: &Path, to_dir: &Path, from: &Path, to: &Path) -> Result<()> {
    if !is_sub_path(from_dir, from) || !is_sub_path(to_dir, to) {
        bail!("can't move, move target {from:?} -> {to:?} is out of bounds");
    }
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    if to.is_dir() {
        fs::remove_dir_all(to)?;
    }
    fs::rename(from, to).with_context(|| format!("move {} to {}", from.display(), to.display()))
}

/// Lexical `filepath.Clean`.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn is_sub_path(base: &Path, p: &Path) -> bool {
    clean(p).starts_with(clean(base))
}

/// Go's `filepath.Match` for `*` and `?` (no character classes).
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_paths() {
        assert!(glob_match("*", "LICENSE"));
        assert!(glob_match("kubectl-*", "kubectl-health"));
        assert!(!glob_match("kubectl-?", "kubectl-ab"));
        assert_eq!(clean(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert!(is_sub_path(Path::new("/x/y"), Path::new("/x/y/z")));
        assert!(!is_sub_path(Path::new("/x/y"), Path::new("/x/y/../z")));
    }
}
