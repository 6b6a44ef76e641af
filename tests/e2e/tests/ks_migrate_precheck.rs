//! ks-migrate's `installer-idle` pre-check on its real path: kubesim serves a pod's log from
//! its `kubesim.dev/log` annotation (the v3.4 scenarios carry an idle ks-installer's log), so
//! the check reads ks-installer's last 20 log lines through the pods/log API, as on a real
//! cluster, and nothing needs `--ignore-check installer-idle`.

mod common;

use common::migrate::*;

/// The name of ks-installer's pod.
fn installer_pod(m: &Mig) -> String {
    let pods = m
        .env
        .get_json(&["pods", "-n", "kubesphere-system", "-l", "app=ks-installer"]);
    pods["items"][0]["metadata"]["name"]
        .as_str()
        .expect("a ks-installer pod")
        .to_string()
}

/// Replaces ks-installer's log (kubesim serves the annotation as the pod's log).
fn set_installer_log(m: &Mig, log: &str) {
    let pod = installer_pod(m);
    m.kubectl_ok(&[
        "annotate",
        "pod",
        "-n",
        "kubesphere-system",
        &pod,
        "--overwrite",
        &format!("kubesim.dev/log={log}"),
    ]);
}

/// The `installer-idle` row of the pre-check table.
fn installer_row(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with("installer-idle"))
        .unwrap_or_else(|| panic!("no installer-idle row in\n{stdout}"))
        .to_string()
}

/// Requests for pod logs so far.
fn log_reads(m: &Mig) -> u64 {
    m.env
        .sim
        .counters()
        .count("GET /api/v1/namespaces/{namespace}/pods/{name}/log")
}

#[test]
fn an_idle_installer_passes_the_check_without_any_ignore() {
    let m = Mig::new("ks34-host");
    // What kubectl reads is what the check reads: the scenario's ks-installer is done.
    let pod = installer_pod(&m);
    let log = m
        .env
        .kubectl()
        .args(["logs", "-n", "kubesphere-system", "--tail=20", &pod])
        .run();
    log.assert_success()
        .assert_stdout_contains("Welcome to KubeSphere!");
    m.env.sim.reset_counters();

    let run = m.migrate().args(["host", "--dry-run"]).run();
    run.assert_success().assert_no_panic();
    let row = installer_row(&run.stdout);
    assert!(row.contains(" ok "), "{row}");
    assert!(row.contains("ks-installer is idle"), "{row}");
    assert!(!run.stderr.contains("installer-idle"), "{}", run.stderr);
    assert!(log_reads(&m) >= 1, "the check read the log");
}

#[test]
fn a_busy_installer_is_refused() {
    let m = Mig::new("ks34-host");
    set_installer_log(
        &m,
        "Start installing monitoring\nWaiting for all tasks to be completed ...\n",
    );
    let run = m.migrate().args(["host", "--dry-run"]).run();
    run.assert_code(1).assert_no_panic();
    let row = installer_row(&run.stdout);
    assert!(row.contains("FAIL"), "{row}");
    run.assert_stderr_contains("tasks are running in ks-installer");
    assert!(log_reads(&m) >= 1);
}

#[test]
fn a_log_without_the_welcome_line_is_refused() {
    let m = Mig::new("ks34-host");
    // A finished-looking log that never printed the welcome banner (e.g. a failed task).
    set_installer_log(
        &m,
        "PLAY RECAP *********\nlocalhost : ok=24 changed=22 unreachable=0 failed=1\n",
    );
    let run = m.migrate().args(["host", "--yes"]).run();
    run.assert_code(1).assert_no_panic();
    let row = installer_row(&run.stdout);
    assert!(row.contains("FAIL"), "{row}");
    run.assert_stderr_contains("lack `Welcome to KubeSphere!`");
    // Refused before anything changed: no journal, ks-installer still there.
    assert!(!m.exists(&["configmap", "-n", "kubesphere-system", "ks-migrate-journal"]));
    assert!(m.exists(&["deployment", "-n", "kubesphere-system", "ks-installer"]));
}
