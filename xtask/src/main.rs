//! `cargo xtask`: release tasks (see the `xtask` library for the pieces).
//!
//! - `cargo xtask release [--tag vX.Y.Z] [--target TRIPLE] [--debug] [--no-build] [--out-dir dist]`
//!   builds the plugins (`cargo build --release`), packs
//!   `dist/kubectl-upgrade-suite_<tag>_<os>_<arch>.tar.gz` (+ `.sha256`) and renders
//!   `dist/krew/<plugin>.yaml` from `krew/<plugin>.yaml` for the platforms whose archive is in
//!   the output directory (a local release: the host's; with every archive there, all of them).
//! - `cargo xtask manifests [--tag vX.Y.Z] [--archives dist] [--all-platforms]` renders and
//!   validates the manifests only, e.g. after a CI job gathered every platform's archive.
//! - `cargo xtask validate FILE.yaml...` runs the `validate-krew-manifest` checks on manifests.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use xtask::{
    archive::{self, Inputs},
    krew,
    platform::Platform,
    release::{self, Coverage},
};

/// Release tasks of the kubectl upgrade suite
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build the release archive for this platform (or --target) and render the krew manifests
    Release {
        /// The release tag (default: v + the workspace version)
        #[arg(long)]
        tag: Option<String>,
        /// A Rust target triple to build for (default: the host)
        #[arg(long)]
        target: Option<String>,
        /// Pack the debug binaries (fast; for trying the archive out, never for publishing)
        #[arg(long)]
        debug: bool,
        /// Do not run cargo build; pack the binaries already built
        #[arg(long)]
        no_build: bool,
        /// Where the archive and the manifests go
        #[arg(long, default_value = "dist")]
        out_dir: PathBuf,
    },
    /// Render and validate the krew manifests from the archives in a directory
    Manifests {
        /// The release tag (default: v + the workspace version)
        #[arg(long)]
        tag: Option<String>,
        /// Where the archives are
        #[arg(long, default_value = "dist")]
        archives: PathBuf,
        /// Require the archive of every platform of the templates
        #[arg(long)]
        all_platforms: bool,
        /// Where the manifests go (default: <archives>/krew)
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Validate manifests with the rules of krew's validate-krew-manifest
    Validate {
        /// The manifests (`<plugin>.yaml`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn default_tag(tag: Option<String>) -> Result<String> {
    let tag = tag.unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION")));
    krew::parse_version(&tag).context("--tag")?;
    Ok(tag)
}

fn run(cli: Cli) -> Result<()> {
    let root = root();
    match cli.task {
        Task::Release {
            tag,
            target,
            debug,
            no_build,
            out_dir,
        } => {
            let tag = default_tag(tag)?;
            let out_dir = root.join(out_dir);
            let platform = match &target {
                Some(t) => Platform::from_target(t)?,
                None => Platform::host()?,
            };
            if !no_build {
                build(&root, target.as_deref(), debug)?;
            }
            let target_dir = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"));
            let mut bin_dir = target_dir;
            if let Some(t) = &target {
                bin_dir.push(t);
            }
            bin_dir.push(if debug { "debug" } else { "release" });
            let built = archive::build(
                &Inputs {
                    bin_dir,
                    root: root.clone(),
                    tag: tag.clone(),
                    platform,
                    mtime: source_date(&root),
                    compression: 9,
                },
                &out_dir,
            )?;
            println!("archive  {}", built.path.display());
            println!("sha256   {}", built.sha256);
            write_manifests(
                &root,
                &tag,
                &out_dir,
                Coverage::Available,
                &out_dir.join("krew"),
            )?;
            println!(
                "\ntry it with krew:\n  kubectl krew install --manifest={}/krew/upgrade-plan.yaml --archive={}",
                out_dir.display(),
                built.path.display()
            );
            Ok(())
        }
        Task::Manifests {
            tag,
            archives,
            all_platforms,
            out_dir,
        } => {
            let tag = default_tag(tag)?;
            let archives = root.join(archives);
            let out_dir = out_dir.unwrap_or_else(|| archives.join("krew"));
            let coverage = if all_platforms {
                Coverage::All
            } else {
                Coverage::Available
            };
            write_manifests(&root, &tag, &archives, coverage, &out_dir)
        }
        Task::Validate { files } => {
            let mut failed = false;
            for file in files {
                let text = fs::read_to_string(&file)
                    .with_context(|| format!("read {}", file.display()))?;
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match krew::validate(&name, &text) {
                    Ok(p) => println!("ok       {} ({})", file.display(), p.spec.version),
                    Err(problems) => {
                        failed = true;
                        problems.iter().for_each(|p| eprintln!("invalid  {p}"));
                    }
                }
            }
            if failed {
                bail!("some manifests are invalid");
            }
            Ok(())
        }
    }
}

fn write_manifests(
    root: &Path,
    tag: &str,
    archives: &Path,
    coverage: Coverage,
    out_dir: &Path,
) -> Result<()> {
    let manifests = release::render_manifests(root, tag, archives, coverage)?;
    fs::create_dir_all(out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    for m in manifests {
        let path = out_dir.join(format!("{}.yaml", m.name));
        fs::write(&path, &m.text).with_context(|| format!("write {}", path.display()))?;
        let platforms: Vec<String> = m
            .plugin
            .spec
            .platforms
            .iter()
            .filter_map(|p| {
                xtask::platform::RELEASED
                    .iter()
                    .find(|r| p.selector.as_ref().is_some_and(|s| s.matches(**r)))
                    .map(|r| r.to_string())
            })
            .collect();
        println!("manifest {} [{}]", path.display(), platforms.join(", "));
    }
    Ok(())
}

fn build(root: &Path, target: Option<&str>, debug: bool) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).arg("build").arg("--locked");
    if !debug {
        cmd.arg("--release");
    }
    for p in xtask::PLUGINS {
        cmd.args(["--package", &format!("kubectl-{p}")]);
    }
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let status = cmd.status().context("run cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

/// The time stamped on archive entries: `SOURCE_DATE_EPOCH`, else the commit's time, else 0.
fn source_date(root: &Path) -> u64 {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return t;
    }
    Command::new("git")
        .current_dir(root)
        .args(["log", "-1", "--format=%ct"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}
