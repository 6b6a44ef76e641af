//! The binary's own contract, independent of any cluster: `--version`, `--help`, usage errors.
//! (This test also makes `cargo test --workspace` build the binary for the end-to-end suite.)

use std::process::Command;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-ks_migrate"));
    cmd.env("NO_COLOR", "1").env_remove("KUBECONFIG");
    cmd
}

#[test]
fn version_names_the_command_the_version_and_the_commit() {
    let out = bin().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("kubectl ks-migrate 0."), "{text}");
    assert!(text.contains("(commit "), "{text}");
}

#[test]
fn help_lists_the_kubectl_connection_flags() {
    let out = bin().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--kubeconfig",
        "--context",
        "--namespace",
        "--request-timeout",
        "--as",
        "--output",
    ] {
        assert!(text.contains(flag), "missing {flag} in:\n{text}");
    }
}

#[test]
fn an_unknown_flag_is_a_usage_error_with_exit_2() {
    let out = bin().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}
