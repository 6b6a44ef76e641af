//! The `kubesim serve` binary: starts, writes the kubeconfig once ready, serves kubectl, stops on a signal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_writes_kubeconfig_when_ready_and_answers_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--scenario", "empty", "--kubeconfig"])
        .arg(&kc)
        .args(["--user", "bob:bob-token:ops", "--version-git", "v1.26.15"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !kc.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new("/usr/bin/kubectl")
        .args(["get", "nodes", "-o", "name"])
        .env("HOME", dir.path())
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    let version = Command::new("/usr/bin/kubectl")
        .args(["version", "-o", "json"])
        .env("HOME", dir.path())
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    let kubeconfig = std::fs::read_to_string(&kc).unwrap();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "node/node-1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&version.stdout).contains("\"gitVersion\": \"v1.26.15\""));
    assert!(
        kubeconfig.contains("certificate-authority-data:")
            && kubeconfig.contains("current-context: kubesim")
            && kubeconfig.contains("client-certificate-data:")
    );
    assert!(status.success(), "exit status {status:?}");

    let list = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .arg("scenarios")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .any(|l| l.starts_with("empty "))
    );
}
