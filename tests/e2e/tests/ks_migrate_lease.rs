//! One migration at a time: `kubectl ks-migrate` holds the Lease `kubesphere-system/ks-migrate`
//! while it runs (with the helm double, `fakehelm`, linked as `helm` in the test's bin dir).
//! Two concurrent runs: one proceeds, the other refuses naming the holder, and no step runs
//! twice. A live Lease of another machine refuses a run until it expires; `--dry-run` takes no
//! Lease. (A run killed with SIGKILL leaves its Lease; the reruns of `ks_migrate_kill.rs` take it
//! over at once, as the holder ran on the same machine and its process is gone.)

mod common;

use common::migrate::*;

const NS: &str = "kubesphere-system";

/// `date -u` in Kubernetes' MicroTime form, shifted by `offset` (`-10 min`, `now`).
fn micro_time(offset: &str) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", offset, "+%Y-%m-%dT%H:%M:%S.000000Z"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn lease_exists(m: &Mig) -> bool {
    m.exists(&["lease", "-n", NS, "ks-migrate"])
}

#[test]
fn two_concurrent_runs_one_proceeds_the_other_refuses_and_no_step_runs_twice() {
    let m = Mig::new("ks34-host");
    // Both start at once; the winner's helm upgrade is held long enough that the two overlap.
    let a = m
        .migrate()
        .args(HOST)
        .env("TESTHELM_SLEEP", "upgrade:3000")
        .spawn();
    let b = m
        .migrate()
        .args(HOST)
        .env("TESTHELM_SLEEP", "upgrade:3000")
        .spawn();
    let (a_pid, b_pid) = (a.id(), b.id());
    let (a, b) = (a.wait(), b.wait());
    let (winner, loser, winner_pid) = match (a.code, b.code) {
        (Some(0), Some(1)) => (a, b, a_pid),
        (Some(1), Some(0)) => (b, a, b_pid),
        other => panic!(
            "expected one run to succeed and one to refuse, got {other:?}\n--- a ---\n{}\n{}\n--- b ---\n{}\n{}",
            a.stdout, a.stderr, b.stdout, b.stderr
        ),
    };
    winner
        .assert_no_panic()
        .assert_stdout_contains("outcome: migrated");
    loser
        .assert_no_panic()
        .assert_stderr_contains("another migration is running: Lease kubesphere-system/ks-migrate is held by `ks-migrate host`")
        .assert_stderr_contains(&format!("pid {winner_pid} since "))
        .assert_stderr_contains("hint: wait for that run to finish");
    // No step ran twice: one render, one upgrade, one backup; the journal is the winner's.
    assert_eq!(m.calls_of("template").len(), 1);
    assert_eq!(m.calls_of("upgrade").len(), 1);
    assert_eq!(m.backup_dirs().len(), 1);
    let journal = m.journal();
    for s in STEPS {
        assert_eq!(journal[s]["state"], "done", "{s}");
    }
    let revs = ks_core_revisions(&m);
    assert_eq!(revs.len(), 3, "exactly one new revision: {revs:?}");
    // The winner released its Lease.
    assert!(!lease_exists(&m));
}

#[test]
fn a_live_lease_elsewhere_refuses_until_it_expires_and_a_dry_run_takes_none() {
    let m = Mig::new("ks34-host");
    let lease = |renewed: &str| {
        format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: ks-migrate\n  namespace: {NS}\n  annotations:\n    kupgrade.dev/ks-migrate-target: member\nspec:\n  holderIdentity: ops@other-host pid 4242\n  leaseDurationSeconds: 60\n  acquireTime: \"{}\"\n  renewTime: \"{renewed}\"\n",
            micro_time("-20 min")
        )
    };
    m.env.apply(&lease(&micro_time("now")));
    let before = e2e::resource_versions(&m.env, ALL_KINDS);

    let refused = m.migrate().args(HOST).run();
    refused.assert_code(1).assert_no_panic();
    refused
        .assert_stderr_contains("held by `ks-migrate member` ops@other-host pid 4242 since ")
        .assert_stderr_contains("unless renewed");
    assert_eq!(before, e2e::resource_versions(&m.env, ALL_KINDS));
    assert!(m.helm_calls().is_empty(), "refused before any helm call");
    assert!(!m.exists(&["configmap", "-n", NS, "ks-migrate-journal"]));

    // A dry run takes no Lease: it warns and plans.
    let dry = m.migrate().args(["host", "--dry-run"]).run();
    dry.assert_success()
        .assert_stderr_contains("a dry run takes no lease")
        .assert_stdout_contains("outcome: planned");
    let held = m.env.get_json(&["lease", "-n", NS, "ks-migrate"]);
    assert_eq!(held["spec"]["holderIdentity"], "ops@other-host pid 4242");

    // Expired (last renewed 10 minutes ago): taken over, and released at the end.
    m.env.apply(&lease(&micro_time("-10 min")));
    let run = m.migrate().args(HOST).run();
    run.assert_success()
        .assert_stderr_contains("took over Lease kubesphere-system/ks-migrate (it expired at ");
    assert_eq!(m.calls_of("upgrade").len(), 1);
    assert!(!lease_exists(&m));
}
