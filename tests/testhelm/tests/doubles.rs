//! The test doubles' own contract, which the ks-migrate end-to-end tests rely on: `helm` records
//! each call as a JSON line in `$TESTHELM_LOG` and answers `version --short` (overridable with
//! `$TESTHELM_VERSION`). (A test in this package also makes `cargo test --workspace` build both
//! of its binaries, `helm` and `ks-upgrade-sim`, which the end-to-end suite runs.)

use std::process::Command;

#[test]
fn helm_records_its_calls_and_reports_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helm"));
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
