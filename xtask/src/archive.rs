//! The release archive: one `kubectl-upgrade-suite_<tag>_<os>_<arch>.tar.gz` per platform with
//! the four plugin binaries, `LICENSE` and the completion shims; each krew manifest points at
//! the same archive and names its own `bin`.
//!
//! The archive is reproducible: entries in a fixed order, owner 0:0, fixed modes, one mtime
//! (the commit time, or `SOURCE_DATE_EPOCH`) and no gzip timestamp.

use std::{
    fs::{self, File},
    io::{self, BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use flate2::{Compression, write::GzEncoder};
use sha2::{Digest, Sha256};

use crate::{PLUGINS, completion_bin, platform::Platform, plugin_bin};

/// The archive's file name for a tag (`v0.1.0`) and platform.
pub fn archive_name(tag: &str, platform: Platform) -> String {
    format!(
        "kubectl-upgrade-suite_{tag}_{}_{}.tar.gz",
        platform.os, platform.arch
    )
}

/// What goes into an archive.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Where the plugin binaries are (`target/release`, `target/<triple>/release`).
    pub bin_dir: PathBuf,
    /// The workspace root, holding `LICENSE` and `completion/`.
    pub root: PathBuf,
    /// The release tag, `v` + semver.
    pub tag: String,
    /// The platform the binaries were built for.
    pub platform: Platform,
    /// The modification time of every entry, in seconds since the epoch.
    pub mtime: u64,
    /// The gzip level, 0 to 9 (9 for releases; tests use 1 to stay fast).
    pub compression: u32,
}

/// A built archive.
#[derive(Debug, Clone)]
pub struct Built {
    /// Its path.
    pub path: PathBuf,
    /// Its sha256, 64 lowercase hex digits.
    pub sha256: String,
    /// The paths inside it, in order.
    pub entries: Vec<String>,
}

/// One file to pack: its path in the archive, where it comes from, and its mode.
struct Entry {
    name: String,
    source: PathBuf,
    mode: u32,
}

fn entries(inputs: &Inputs) -> Vec<Entry> {
    let exe = inputs.platform.exe_suffix();
    let mut entries: Vec<Entry> = PLUGINS
        .iter()
        .map(|p| {
            let bin = format!("{}{exe}", plugin_bin(p));
            Entry {
                source: inputs.bin_dir.join(&bin),
                name: bin,
                mode: 0o755,
            }
        })
        .collect();
    entries.push(Entry {
        name: "LICENSE".into(),
        source: inputs.root.join("LICENSE"),
        mode: 0o644,
    });
    entries.extend(PLUGINS.iter().map(|p| {
        let shim = completion_bin(p);
        Entry {
            source: inputs.root.join("completion").join(&shim),
            name: format!("completion/{shim}"),
            mode: 0o755,
        }
    }));
    entries
}

/// Packs the archive into `out_dir` and writes `<archive>.sha256` next to it (`sha256sum`
/// format).
pub fn build(inputs: &Inputs, out_dir: &Path) -> Result<Built> {
    let entries = entries(inputs);
    for e in &entries {
        if !e.source.is_file() {
            bail!(
                "{} is missing (build the plugins first: cargo build --bins)",
                e.source.display()
            );
        }
    }
    fs::create_dir_all(out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    let name = archive_name(&inputs.tag, inputs.platform);
    let path = out_dir.join(&name);
    let partial = out_dir.join(format!("{name}.partial"));
    let file = File::create(&partial).with_context(|| format!("create {}", partial.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(
        BufWriter::new(file),
        Compression::new(inputs.compression.min(9)),
    ));
    let mut names = Vec::new();
    // The directory entry first, as `tar` itself writes it.
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_mtime(inputs.mtime);
    dir.set_size(0);
    tar.append_data(&mut dir, "completion/", io::empty())
        .context("write the archive")?;
    for e in &entries {
        let data = fs::read(&e.source).with_context(|| format!("read {}", e.source.display()))?;
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(e.mode);
        header.set_mtime(inputs.mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, &e.name, data.as_slice())
            .with_context(|| format!("add {} to the archive", e.name))?;
        names.push(e.name.clone());
    }
    let mut gz = tar.into_inner().context("finish the archive")?;
    gz.flush().context("write the archive")?;
    let mut out = gz.finish().context("finish the archive")?;
    out.flush().context("write the archive")?;
    drop(out);
    fs::rename(&partial, &path).with_context(|| format!("rename to {}", path.display()))?;
    let sha256 = sha256_file(&path)?;
    fs::write(
        out_dir.join(format!("{name}.sha256")),
        format!("{sha256}  {name}\n"),
    )
    .context("write the checksum file")?;
    Ok(Built {
        path,
        sha256,
        entries: names,
    })
}

/// The sha256 of a file, as 64 lowercase hex digits.
pub fn sha256_file(path: &Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) -> Inputs {
        let bin_dir = dir.join("bin");
        fs::create_dir_all(bin_dir.join("x")).unwrap();
        fs::create_dir_all(dir.join("completion")).unwrap();
        for p in PLUGINS {
            fs::write(bin_dir.join(plugin_bin(p)), format!("bin {p}")).unwrap();
            fs::write(dir.join("completion").join(completion_bin(p)), "shim").unwrap();
        }
        fs::write(dir.join("LICENSE"), "licence").unwrap();
        Inputs {
            bin_dir,
            root: dir.to_path_buf(),
            tag: "v1.2.3".into(),
            platform: Platform::new("linux", "amd64"),
            mtime: 1_700_000_000,
            compression: 1,
        }
    }

    #[test]
    fn archives_are_reproducible_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = fixture(dir.path());
        let a = build(&inputs, &dir.path().join("a")).unwrap();
        let b = build(&inputs, &dir.path().join("b")).unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(
            a.path.file_name().unwrap(),
            "kubectl-upgrade-suite_v1.2.3_linux_amd64.tar.gz"
        );
        assert!(a.entries.contains(&"kubectl-upgrade_plan".to_string()));
        assert!(a.entries.contains(&"LICENSE".to_string()));
        assert!(
            a.entries
                .contains(&"completion/kubectl_complete-ks_migrate".to_string())
        );
        let sum = fs::read_to_string(dir.path().join("a").join(format!(
            "{}.sha256",
            a.path.file_name().unwrap().to_string_lossy()
        )))
        .unwrap();
        assert!(sum.starts_with(&a.sha256));
    }

    #[test]
    fn a_missing_binary_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = fixture(dir.path());
        fs::remove_file(inputs.bin_dir.join("kubectl-health")).unwrap();
        let e = build(&inputs, &dir.path().join("out")).unwrap_err();
        assert!(e.to_string().contains("kubectl-health"), "{e}");
    }
}
