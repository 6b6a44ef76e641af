//! The failure matrix (issue 10), part 1: the cluster misbehaves. For each of the four plugins,
//! a read-only invocation meets a host name that does not resolve, a certificate from another
//! CA, an exec credential plugin (working and failing), a cluster without KubeSphere, 503 and 429
//! answers (transient and permanent), slow answers against `--request-timeout`, and a
//! connection dropped in the middle of a list. Each case: the documented exit code, one clear
//! `error:` line when the command cannot run, no panic, a bounded number of requests and a
//! bounded time. `docs/failure-matrix.md` lists every case with the test that proves it.
//!
//! Already covered in `cli.rs` (not repeated here): a kubeconfig that is not YAML, a missing
//! kubeconfig, an unknown context, connection refused, a rejected token (401).

mod common;

use std::time::Duration;

use common::failures::{fatal_read, read_only, timed};
use e2e::{
    Env, PLUGINS, Run,
    kubesim::{Fault, FaultRule},
};

/// A generous bound that only catches hangs.
const HANG: Duration = Duration::from_secs(30);
/// Attempts of one read (`kupgrade::list::READ_ATTEMPTS`): the bound on requests per read.
const READ_ATTEMPTS: u64 = 4;

fn error_lines(run: &Run) -> usize {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .count()
}

/// Exit 2, no panic, exactly one `error:` line containing every needle, within [`HANG`].
fn assert_cannot_run(run: &Run, took: Duration, needles: &[&str]) {
    run.assert_code(2).assert_no_panic();
    assert_eq!(error_lines(run), 1, "one error line\n{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    for n in needles {
        assert!(line.contains(n), "error line lacks {n:?}: {line}");
    }
    assert!(took < HANG, "took {took:?}\n{}", run.stderr);
}

#[test]
fn a_host_name_that_does_not_resolve_is_named() {
    let env = Env::new("empty");
    for (plugin, _) in PLUGINS {
        let (run, took) = timed(
            env.plugin(plugin)
                .args(read_only(plugin))
                .args(["--server", "https://does-not-exist.invalid:6443"]),
        );
        assert_cannot_run(&run, took, &["does not resolve"]);
        run.assert_stderr_contains("hint: check the server address");
    }
}

#[test]
fn a_certificate_signed_by_another_ca_is_refused() {
    let env = Env::new("empty");
    // Another kubesim: its CA has the same name but another key, the hardest case to word.
    let other = Env::new("empty");
    let other_ca = env.write("other-ca.pem", other.sim.ca_pem().expect("TLS"));
    for (plugin, _) in PLUGINS {
        let (run, took) = timed(
            env.plugin(plugin)
                .args(read_only(plugin))
                .arg("--certificate-authority")
                .arg(&other_ca),
        );
        assert_cannot_run(&run, took, &["unknown certificate authority"]);
        run.assert_stderr_contains("hint: check certificate-authority");
    }
    // A bundle of unrelated public CAs (other names): UnknownIssuer, worded the same way.
    let bundle = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
    if bundle.exists() {
        let (run, took) = timed(
            env.plugin("health")
                .arg("--certificate-authority")
                .arg(bundle),
        );
        assert_cannot_run(&run, took, &["unknown certificate authority"]);
    }
    // The same CA file of the right cluster works, so the flag itself is not the problem.
    let own_ca = env.write("own-ca.pem", env.sim.ca_pem().expect("TLS"));
    let run = env
        .plugin("health")
        .arg("--certificate-authority")
        .arg(&own_ca)
        .run();
    run.assert_success();
}

/// The environment's kubeconfig with user `admin`'s token replaced by an exec credential
/// plugin running `script`.
fn exec_kubeconfig(env: &Env, name: &str, script: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.write(&format!("{name}.sh"), script);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kc = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let token_line = format!("    token: {}", env.sim.admin_token());
    assert!(kc.contains(&token_line), "{kc}");
    let exec = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      interactiveMode: Never",
        path.display()
    );
    env.write(
        &format!("{name}.kubeconfig"),
        &kc.replace(&token_line, &exec),
    )
}

#[test]
fn an_exec_credential_plugin_supplies_the_token() {
    let env = Env::new("ks41-host-migrated");
    let kc = exec_kubeconfig(
        &env,
        "exec-ok",
        &format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            env.sim.admin_token()
        ),
    );
    assert_every_plugin_runs_as_admin(&env, &kc);
}

#[test]
fn an_exec_credential_plugin_supplies_a_client_certificate() {
    // The certificate goes into the TLS handshake (the client's own HTTP stack builds its TLS
    // from the kubeconfig, exec identity included), and kubesim authenticates by it: the
    // kubeconfig has no token left.
    let env = Env::new("ks41-host-migrated");
    let (cert, key) = env
        .sim
        .client_cert("exec-admin", &["system:masters"])
        .expect("kubesim serves TLS");
    let credential = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"clientCertificateData": cert, "clientKeyData": key},
    });
    let json = env.write("exec-cert.json", &credential.to_string());
    let kc = exec_kubeconfig(
        &env,
        "exec-cert",
        &format!("#!/bin/sh\ncat '{}'\n", json.display()),
    );
    assert_every_plugin_runs_as_admin(&env, &kc);
}

/// Every plugin's read-only command gives the same exit code and output with kubeconfig `kc`
/// as with the admin token.
fn assert_every_plugin_runs_as_admin(env: &Env, kc: &std::path::Path) {
    for (plugin, _) in PLUGINS {
        let admin = env.plugin(plugin).args(read_only(plugin)).run();
        let exec = env
            .plugin(plugin)
            .args(read_only(plugin))
            .arg("--kubeconfig")
            .arg(kc)
            .run();
        exec.assert_no_panic();
        assert_eq!(exec.code, admin.code, "{plugin}\n{}", exec.stderr);
        assert_eq!(exec.stdout, admin.stdout, "{plugin}");
        assert!(!exec.stderr.contains("401"), "{}", exec.stderr);
    }
}

#[test]
fn a_failing_exec_credential_plugin_is_one_line_without_its_output() {
    let env = Env::new("empty");
    // It prints a credential on stdout and then fails: the credential must not be shown.
    let kc = exec_kubeconfig(
        &env,
        "exec-fail",
        "#!/bin/sh\necho '{\"status\":{\"token\":\"EXEC-LEAKED-TOKEN\"}}'\necho 'sso: session expired, run sso login' >&2\nexit 3\n",
    );
    for (plugin, _) in PLUGINS {
        let (run, took) = timed(
            env.plugin(plugin)
                .args(read_only(plugin))
                .arg("--kubeconfig")
                .arg(&kc),
        );
        assert_cannot_run(
            &run,
            took,
            &[
                "credential plugin",
                "exec-fail.sh",
                "exit status: 3",
                "sso: session expired, run sso login",
            ],
        );
        run.assert_stderr_contains("hint: run the kubeconfig's exec command by hand");
        assert!(
            !run.stderr.contains("EXEC-LEAKED-TOKEN") && !run.stdout.contains("EXEC-LEAKED-TOKEN"),
            "{}",
            run.stderr
        );
    }
    // An exec plugin that prints something else than an ExecCredential.
    for (name, output) in [
        ("exec-garbage", "{\"token\": \"EXEC-GARBAGE-TOKEN\" ]]]"),
        ("exec-nostatus", "token: EXEC-GARBAGE-TOKEN"),
    ] {
        let kc = exec_kubeconfig(&env, name, &format!("#!/bin/sh\necho '{output}'\n"));
        let (run, took) = timed(env.plugin("health").arg("--kubeconfig").arg(&kc));
        assert_cannot_run(&run, took, &["not an ExecCredential"]);
        assert!(!run.stderr.contains("EXEC-GARBAGE-TOKEN"), "{}", run.stderr);
    }
}

#[test]
fn a_cluster_without_kubesphere_gets_each_plugins_documented_answer() {
    let env = Env::new("empty");
    // health: the kubesphere check passes as "not installed"; the whole run passes.
    let run = env.plugin("health").args(["-o", "json"]).run();
    run.assert_success().assert_no_panic();
    let report = run.json();
    let ks = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "kubesphere")
        .unwrap()
        .clone();
    assert_eq!(ks["status"], "pass");
    assert_eq!(ks["summary"], "KubeSphere not installed");

    // untaint-member: not a host (exit 1), with or without --force.
    for extra in [&[][..], &["--force"][..]] {
        let run = env
            .plugin("untaint-member")
            .args(["--all", "--dry-run"])
            .args(extra)
            .run();
        run.assert_code(1).assert_no_panic();
        run.assert_stderr_contains(
            "error: this context is not a KubeSphere host cluster: the Cluster API (clusters.cluster.kubesphere.io) is not served",
        );
    }

    // ks-migrate: refuses, naming the missing ClusterConfiguration, changing nothing.
    let values = env.write(
        "ks-core-values.yaml",
        "upgrade:\n  enabled: true\n  config:\n    jobs:\n      gateway:\n        enabled: true\n        priority: 90\n        extensionRef:\n          name: gateway\n          version: 1.0.5\n",
    );
    let before = e2e::resource_versions(&env, "all,configmaps,secrets,namespaces");
    let run = env
        .plugin("ks-migrate")
        .args(["host", "--dry-run", "-f"])
        .arg(&values)
        .run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("no ClusterConfiguration kubesphere-system/ks-installer");
    let run = env
        .plugin("ks-migrate")
        .args(["gateway", "all", "--dry-run"])
        .run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("ks-core is not deployed at v4");
    assert_eq!(
        before,
        e2e::resource_versions(&env, "all,configmaps,secrets,namespaces")
    );

    // upgrade-plan: plans Kubernetes only; a KubeSphere target is a usage error.
    let run = env.plugin("upgrade-plan").args(["-o", "json"]).run();
    run.assert_success().assert_no_panic();
    let plan = run.json();
    assert!(
        plan["path"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["component"] == "kubernetes"),
        "{plan}"
    );
    let run = env
        .plugin("upgrade-plan")
        .args(["--ks-target", "v4.1.3"])
        .run();
    run.assert_code(2).assert_no_panic();
    run.assert_stderr_contains("no KubeSphere was found in this cluster");
}

/// Runs each plugin on `ks41-host-migrated` without a fault (the baseline), then with `fault`
/// on its first read firing `times` times, and calls `check` with both runs and the requests
/// the fault's route got.
fn with_fault_on_first_read(
    fault: Fault,
    times: Option<u32>,
    extra: &[&str],
    check: impl Fn(&str, &Run, &Run, Duration, u64),
) {
    for (plugin, _) in PLUGINS {
        let env = Env::new("ks41-host-migrated");
        let (path, route) = fatal_read(plugin);
        let baseline = env.plugin(plugin).args(read_only(plugin)).run();
        env.sim.reset_counters();
        let mut rule = FaultRule::new(path, fault.clone()).method("GET");
        if let Some(n) = times {
            rule = rule.times(n);
        }
        env.sim.faults().add(rule);
        let (run, took) = timed(env.plugin(plugin).args(read_only(plugin)).args(extra));
        let count = env.sim.counters().count(route);
        check(plugin, &baseline, &run, took, count);
    }
}

#[test]
fn transient_503s_on_the_first_read_are_retried_and_change_nothing() {
    with_fault_on_first_read(
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        Some(2),
        &[],
        |plugin, baseline, run, took, count| {
            run.assert_no_panic();
            assert_eq!(run.code, baseline.code, "{plugin}\n{}", run.stderr);
            assert_eq!(run.stdout, baseline.stdout, "{plugin}");
            assert!(count >= 3, "{plugin}: the read was retried ({count})");
            assert!(took < HANG);
        },
    );
}

#[test]
fn a_permanent_503_fails_clearly_after_a_bounded_number_of_attempts() {
    with_fault_on_first_read(
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        None,
        &[],
        |plugin, _, run, took, count| {
            assert_cannot_run(run, took, &["503"]);
            run.assert_stderr_contains("hint: the API server failed; try again");
            assert!(
                (2..=READ_ATTEMPTS).contains(&count),
                "{plugin}: {count} requests for one read"
            );
        },
    );
}

#[test]
fn a_429_with_retry_after_is_waited_for_then_succeeds() {
    with_fault_on_first_read(
        Fault::Status {
            code: 429,
            retry_after: Some(1),
        },
        Some(2),
        &[],
        |plugin, baseline, run, took, count| {
            run.assert_no_panic();
            assert_eq!(run.code, baseline.code, "{plugin}\n{}", run.stderr);
            assert_eq!(run.stdout, baseline.stdout, "{plugin}");
            assert_eq!(count, 3, "{plugin}: two 429s and the answer");
            assert!(took < HANG);
        },
    );
}

#[test]
fn a_permanent_429_fails_clearly_and_boundedly() {
    with_fault_on_first_read(
        Fault::Status {
            code: 429,
            retry_after: Some(1),
        },
        None,
        &[],
        |plugin, _, run, took, count| {
            assert_cannot_run(run, took, &["429"]);
            run.assert_stderr_contains("hint: the API server is overloaded");
            assert!(count <= READ_ATTEMPTS, "{plugin}: {count} requests");
        },
    );
}

#[test]
fn a_slow_answer_times_out_against_request_timeout() {
    with_fault_on_first_read(
        Fault::Latency { ms: 3000 },
        None,
        &["--request-timeout", "1s"],
        |plugin, _, run, took, count| {
            // the error names the bound (the request itself is named too, by its path)
            assert_cannot_run(
                run,
                took,
                &["the request timed out", "within --request-timeout 1s"],
            );
            run.assert_stderr_contains("hint: raise --request-timeout");
            assert!(count <= READ_ATTEMPTS + 1, "{plugin}: {count} requests");
        },
    );
}

#[test]
fn a_slow_answer_once_is_retried_within_request_timeout() {
    with_fault_on_first_read(
        Fault::Latency { ms: 3000 },
        Some(1),
        &["--request-timeout", "1s"],
        |plugin, baseline, run, took, _| {
            run.assert_no_panic();
            assert_eq!(run.code, baseline.code, "{plugin}\n{}", run.stderr);
            assert_eq!(run.stdout, baseline.stdout, "{plugin}");
            assert!(took < HANG);
        },
    );
}

#[test]
fn a_connection_dropped_mid_answer_once_is_retried() {
    with_fault_on_first_read(
        Fault::Drop {
            after_bytes: Some(64),
        },
        Some(1),
        &[],
        |plugin, baseline, run, _, count| {
            run.assert_no_panic();
            assert_eq!(run.code, baseline.code, "{plugin}\n{}", run.stderr);
            assert_eq!(run.stdout, baseline.stdout, "{plugin}");
            assert!(count >= 2, "{plugin}: retried ({count})");
        },
    );
}

#[test]
fn a_connection_dropped_mid_answer_every_time_fails_clearly() {
    with_fault_on_first_read(
        Fault::Drop {
            after_bytes: Some(64),
        },
        None,
        &[],
        |plugin, _, run, took, count| {
            assert_cannot_run(
                run,
                took,
                &["closed the connection in the middle of its answer"],
            );
            assert!(count <= READ_ATTEMPTS, "{plugin}: {count} requests");
        },
    );
}

/// health and upgrade-plan go on when one of their lists fails for good: the check that needed
/// it is an error (health) or the Required finding CHECK001 (upgrade-plan), never a pass.
#[test]
fn a_list_that_keeps_failing_is_reported_never_passed() {
    for (fault, needle) in [
        (
            Fault::Status {
                code: 503,
                retry_after: None,
            },
            "cannot list nodes: kubesim injected fault: HTTP 503 (503 ServiceUnavailable)",
        ),
        (
            Fault::Drop {
                after_bytes: Some(64),
            },
            "cannot list nodes: the API server closed the connection in the middle of its answer",
        ),
    ] {
        let env = Env::new("empty");
        env.sim
            .faults()
            .add(FaultRule::new("/api/v1/nodes", fault.clone()).method("GET"));
        let (run, took) = timed(env.plugin("health").args(["-o", "json"]));
        // Every other check passes on `empty`: only an error is left, exit 2.
        run.assert_code(2).assert_no_panic();
        assert!(took < HANG);
        let report = run.json();
        let nodes = &report["checks"][0];
        assert_eq!(nodes["id"], "nodes");
        assert_eq!(nodes["status"], "error");
        assert_eq!(nodes["summary"], needle);
        assert!(env.sim.counters().count("GET /api/v1/nodes") <= READ_ATTEMPTS);

        let (run, took) = timed(env.plugin("upgrade-plan").args(["-o", "json"]));
        // Only the check that could not run blocks: exit 2, as health.
        run.assert_code(2).assert_no_panic();
        assert!(took < HANG);
        let plan = run.json();
        let text = plan.to_string();
        assert!(text.contains("CHECK001"), "{text}");
        assert!(text.contains(needle), "{text}");
    }
}

/// A pods list of health, dropped once in the middle: retried, same report. (health lists a
/// small scope's pods per namespace, kube-system first.)
#[test]
fn the_pods_list_dropped_once_is_retried() {
    const ROUTE: &str = "GET /api/v1/namespaces/{namespace}/pods";
    let env = Env::new("broken");
    env.sim.reset_counters();
    let baseline = env.plugin("health").args(["-o", "json"]).run();
    let lists = env.sim.counters().count(ROUTE);
    assert!(lists > 0, "health listed no namespace's pods");
    env.sim.reset_counters();
    env.sim.faults().add(
        FaultRule::new(
            "/api/v1/namespaces/kube-system/pods",
            Fault::Drop {
                after_bytes: Some(200),
            },
        )
        .method("GET")
        .times(1),
    );
    let run = env.plugin("health").args(["-o", "json"]).run();
    run.assert_no_panic();
    assert_eq!(run.code, baseline.code);
    assert_eq!(run.json(), baseline.json());
    assert_eq!(env.sim.counters().count(ROUTE), lists + 1);
}
