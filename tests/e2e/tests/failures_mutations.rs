//! The failure matrix (issue 10), part 3: writes that meet failures. untaint-member's PATCH
//! answered 409 (retried, converges), 503 (not retried: one PATCH, nothing changed, a clear
//! error; the rerun converges), and the process killed (SIGKILL) while its PATCH is held by a
//! latency fault (the rerun converges; every other field is intact). ks-migrate's resume after
//! a failed step is tested in `ks_migrate.rs`.

use std::time::Duration;

use e2e::{
    Env, eventually,
    kubesim::{Fault, FaultRule},
};
use serde_json::Value;

const MEMBER_A: &str = "/apis/cluster.kubesphere.io/v1alpha1/clusters/member-a";
const PATCH_ROUTE: &str = "PATCH /apis/cluster.kubesphere.io/v1alpha1/clusters/";

fn cluster(env: &Env, name: &str) -> Value {
    env.get_json(&["clusters.cluster.kubesphere.io", name])
}

fn has_schedulable(c: &Value) -> bool {
    c["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x["type"] == "Schedulable")
}

/// The object without what a write necessarily changes, and without the Schedulable condition:
/// what must be identical before and after.
fn invariant(c: &Value) -> Value {
    let mut c = c.clone();
    if let Some(m) = c["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
        m.remove("generation");
    }
    if let Some(conds) = c["status"]["conditions"].as_array_mut() {
        conds.retain(|x| x["type"] != "Schedulable");
    }
    c
}

#[test]
fn a_conflict_on_the_patch_is_retried_and_converges() {
    for code in [409, 422] {
        let env = Env::new("ks41-host-migrated");
        let before = cluster(&env, "member-a");
        env.sim.faults().add(
            FaultRule::new(
                MEMBER_A,
                Fault::Status {
                    code,
                    retry_after: None,
                },
            )
            .method("PATCH")
            .times(1),
        );
        let run = env
            .plugin("untaint-member")
            .args(["member-a", "-o", "json"])
            .run();
        run.assert_success().assert_no_panic();
        let report = run.json();
        assert_eq!(report["members"][0]["action"], "untainted", "{code}");
        assert_eq!(report["members"][0]["attempts"], 2, "{code}");
        assert_eq!(env.sim.counters().count(PATCH_ROUTE), 2);
        let after = cluster(&env, "member-a");
        assert!(!has_schedulable(&after));
        assert_eq!(invariant(&after), invariant(&before), "{code}");
    }
}

#[test]
fn a_5xx_on_the_patch_is_not_repeated_and_the_rerun_converges() {
    let env = Env::new("ks41-host-migrated");
    let before = cluster(&env, "member-a");
    env.sim.faults().add(
        FaultRule::new(
            MEMBER_A,
            Fault::Status {
                code: 503,
                retry_after: Some(1),
            },
        )
        .method("PATCH")
        .times(1),
    );
    let run = env
        .plugin("untaint-member")
        .args(["member-a", "-o", "json"])
        .run();
    // A write is not retried on 5xx (the shared client retries reads only): one PATCH, the
    // Cluster unchanged, exit 2 with the server's answer.
    run.assert_code(2).assert_no_panic();
    run.assert_stderr_contains(
        "error: cannot patch clusters.cluster.kubesphere.io `member-a`: kubesim injected fault: HTTP 503 (503 ServiceUnavailable)",
    );
    let report = run.json();
    assert_eq!(report["members"][0]["action"], "failed");
    assert_eq!(report["members"][0]["code"], "ApiError");
    assert_eq!(env.sim.counters().count(PATCH_ROUTE), 1);
    assert_eq!(cluster(&env, "member-a"), before, "nothing changed");

    let rerun = env.plugin("untaint-member").args(["member-a"]).run();
    rerun.assert_success();
    let after = cluster(&env, "member-a");
    assert!(!has_schedulable(&after));
    assert_eq!(invariant(&after), invariant(&before));
}

#[test]
fn killed_while_its_patch_is_in_flight_then_rerun_converges() {
    for (delay, label) in [
        (3000, "before the server applies it"),
        (200, "around the answer"),
    ] {
        let env = Env::new("ks41-host-migrated");
        let before_a = cluster(&env, "member-a");
        let before_b = cluster(&env, "member-b");
        let before_host = cluster(&env, "host");
        env.sim.faults().add(
            FaultRule::new(MEMBER_A, Fault::Latency { ms: delay })
                .method("PATCH")
                .times(1),
        );
        let running = env.plugin("untaint-member").args(["member-a"]).spawn();
        eventually(Duration::from_secs(30), || {
            (env.sim.counters().count(PATCH_ROUTE) >= 1).then_some(())
        });
        std::thread::sleep(Duration::from_millis(delay / 2));
        let killed = running.kill();
        assert_eq!(killed.code, None, "{label}: killed by the signal");
        // Let the held request finish (the server applies it or not; either is fine).
        std::thread::sleep(Duration::from_millis(delay + 200));

        let rerun = env
            .plugin("untaint-member")
            .args(["member-a", "-o", "json"])
            .run();
        rerun.assert_success().assert_no_panic();
        let action = rerun.json()["members"][0]["action"].clone();
        assert!(
            action == "untainted" || action == "already-schedulable",
            "{label}: {action}"
        );
        let after = cluster(&env, "member-a");
        assert!(!has_schedulable(&after), "{label}");
        assert_eq!(
            invariant(&after),
            invariant(&before_a),
            "{label}: nothing lost"
        );
        // Nothing else was written.
        assert_eq!(cluster(&env, "member-b"), before_b, "{label}");
        assert_eq!(cluster(&env, "host"), before_host, "{label}");
        // A third run changes nothing.
        let rv = after["metadata"]["resourceVersion"].clone();
        env.plugin("untaint-member")
            .args(["member-a"])
            .run()
            .assert_success();
        assert_eq!(cluster(&env, "member-a")["metadata"]["resourceVersion"], rv);
    }
}
