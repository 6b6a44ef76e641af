//! What the failure tests (`failures.rs`, `failures_stall.rs`) share: a read-only run of each
//! plugin, the read every such run needs first, and a timed run.

use std::time::{Duration, Instant};

use e2e::{Cmd, Run};

/// A read-only invocation of each plugin.
pub fn read_only(plugin: &str) -> Vec<&'static str> {
    match plugin {
        "ks-migrate" => vec!["gateway"],
        "untaint-member" => vec!["--all", "--dry-run"],
        _ => vec![],
    }
}

/// The request every run of the plugin needs first, so a failure there stops it (exit 2):
/// `(path, counter route)`.
pub fn fatal_read(plugin: &str) -> (&'static str, &'static str) {
    match plugin {
        "health" | "upgrade-plan" => ("/version", "GET /version"),
        "untaint-member" => (
            "/apis/cluster.kubesphere.io/v1alpha1/clusters",
            "GET /apis/cluster.kubesphere.io/v1alpha1/clusters",
        ),
        "ks-migrate" => (
            "/api/v1/namespaces/kubesphere-controls-system/secrets",
            "GET /api/v1/namespaces/{namespace}/secrets",
        ),
        other => panic!("unknown plugin {other}"),
    }
}

/// Runs the command (killed after 120 s) and says how long it took.
pub fn timed(cmd: Cmd) -> (Run, Duration) {
    let start = Instant::now();
    let run = cmd.timeout(Duration::from_secs(120)).run();
    (run, start.elapsed())
}
