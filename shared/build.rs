//! Records the git commit for `--version`.
//!
//! Cargo reruns a build script when a `rerun-if-changed` path is missing, so only paths that
//! exist are declared: a fresh clone may have no `packed-refs` (or no loose ref for the branch),
//! and in a `git worktree` `.git` is a file, HEAD lives in the worktree's own git directory
//! while refs live in the common one. Declaring a missing path would rerun this script on every
//! build and relink every binary (with fat LTO in release, minutes on two cores).
use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KUPGRADE_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=KUPGRADE_GIT_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // `git rev-parse` prints paths relative to the working directory (this crate's directory).
    let absolute = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            manifest_dir.join(p)
        }
    };
    let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(absolute) else {
        // Not a git checkout (a crates.io tarball): nothing to watch; the script runs once.
        println!("cargo:rerun-if-changed=build.rs");
        return;
    };
    let common_dir = git(&["rev-parse", "--git-common-dir"])
        .map(absolute)
        .unwrap_or_else(|| git_dir.clone());
    // Rebuild when HEAD or the branch it points to moves (a checkout or a commit).
    let mut watch: Vec<PathBuf> = vec![git_dir.join("HEAD")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let reference = common_dir.join(&branch);
        // The directory too: a branch whose ref is only packed gets a loose file on its next
        // commit, which the directory's scan notices.
        if let Some(dir) = reference.parent() {
            watch.push(dir.to_path_buf());
        }
        watch.push(reference);
    }
    watch.push(common_dir.join("packed-refs"));
    for path in watch.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
