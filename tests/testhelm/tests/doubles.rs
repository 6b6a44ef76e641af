//! The test doubles' own contract, which the ks-migrate end-to-end tests rely on: `fakehelm`
//! records each call as a JSON line in `$TESTHELM_LOG` and answers `version --short`
//! (overridable with `$TESTHELM_VERSION`). (A test in this package also makes `cargo test
//! --workspace` build both of its binaries, `fakehelm` and `ks-upgrade-sim`, which the
//! end-to-end suite runs.) And no package of the workspace builds a binary named `helm`, so a
//! target directory on PATH never shadows the real helm.

use std::process::Command;

#[test]
fn helm_records_its_calls_and_reports_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fakehelm"));
        cmd.args(["version", "--short"]).env("TESTHELM_LOG", &log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(&[]).starts_with("v3."));
    assert_eq!(run(&[("TESTHELM_VERSION", "v3.10.0")]), "v3.10.0\n");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls.lines().count(), 2, "{calls}");
    let first: serde_json::Value = serde_json::from_str(calls.lines().next().unwrap()).unwrap();
    assert_eq!(first, serde_json::json!({"argv": ["version", "--short"]}));
}

/// The `[[bin]]` names a Cargo manifest declares.
fn bin_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(v) = line.strip_prefix("name") {
            let v = v.trim_start().trim_start_matches('=').trim();
            names.push(v.trim_matches('"').to_string());
        }
    }
    names
}

#[test]
fn no_workspace_binary_is_named_helm() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: Vec<String> = workspace
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('"') && l.ends_with("\","))
        .map(|l| l.trim_end_matches(',').trim_matches('"').to_string())
        .collect();
    assert!(members.iter().any(|m| m == "tests/testhelm"), "{members:?}");
    let mut seen = Vec::new();
    for m in &members {
        let manifest = std::fs::read_to_string(root.join(m).join("Cargo.toml")).unwrap();
        for name in bin_names(&manifest) {
            assert_ne!(name, "helm", "{m}/Cargo.toml builds a binary named helm");
            seen.push(name);
        }
    }
    assert!(seen.iter().any(|n| n == "fakehelm"), "{seen:?}");
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_fakehelm"));
    assert_eq!(built.file_name().unwrap(), "fakehelm");
}
