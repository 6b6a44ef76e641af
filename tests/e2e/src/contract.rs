//! The contract each plugin binary keeps with no cluster at all, called from each plugin
//! package's `tests/cli.rs` (where cargo knows the binary's path as `CARGO_BIN_EXE_…`).

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--version` prints `kubectl <plugin> <version> (commit <sha>)` and exits 0.
pub fn version(bin: &str, plugin: &str) {
    let (code, out, _) = run(bin, &["--version"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with(&format!("kubectl {plugin} 0.")), "{out}");
    assert!(out.contains("(commit "), "{out}");
}

/// `--help` shows the usage as kubectl users type it and kubectl's connection flags.
pub fn help(bin: &str, plugin: &str) {
    let (code, out, _) = run(bin, &["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("Usage: kubectl {plugin}")), "{out}");
    for flag in [
        "--kubeconfig",
        "--context",
        "--namespace",
        "--request-timeout",
        "--as",
    ] {
        assert!(out.contains(flag), "missing {flag} in:\n{out}");
    }
}

/// An unknown flag is a usage error: exit 2, the flag named on stderr.
pub fn unknown_flag(bin: &str) {
    let (code, _, err) = run(bin, &["--no-such-flag"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--no-such-flag"), "{err}");
}
