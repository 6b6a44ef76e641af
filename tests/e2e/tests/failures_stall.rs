//! The failure matrix, part 4: a server that stops answering, a list whose `continue` token
//! expires, and what `-v=6` shows of the requests.
//!
//! - An API server whose etcd is frozen answers nothing, or 504 Timeout once its own request
//!   timeout has run out. A 504 is not retried (the server already waited its full timeout);
//!   `--deadline` (default 2m) bounds the time the whole run waits for the server, and the error
//!   names the request that stalled.
//! - A 410 Expired on a later page restarts the list from its first page (as client-go's pager
//!   falls back to a new list), a bounded number of times.
//! - `-v=6` logs method, URL, status and duration of every request, never a token.
//!
//! No timed assertions: behaviour (exit code, message, request counts) is asserted; a generous
//! time bound only guards against hangs.

mod common;

use std::time::Duration;

use common::failures::{fatal_read, read_only, timed};
use e2e::{
    Env, PLUGINS, Run,
    kubesim::{Fault, FaultRule},
};

/// A generous bound that only catches hangs.
const HANG: Duration = Duration::from_secs(60);

/// The one `error:` line (asserting there is exactly one).
fn error_line(run: &Run) -> String {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line\n{}", run.stderr);
    lines[0].to_string()
}

#[test]
fn a_server_that_never_answers_ends_at_the_deadline_naming_the_stalled_call() {
    for (plugin, _) in PLUGINS {
        let env = Env::new("ks41-host-migrated");
        let (path, route) = fatal_read(plugin);
        env.sim
            .faults()
            .add(FaultRule::new(path, Fault::Hang).method("GET"));
        let (run, took) = timed(
            env.plugin(plugin)
                .args(read_only(plugin))
                .args(["--deadline", "2s"]),
        );
        run.assert_code(2).assert_no_panic();
        let line = error_line(&run);
        assert!(
            line.contains(&format!("did not answer `GET {path}")),
            "{plugin}: the stalled call is named: {line}"
        );
        assert!(line.contains("--deadline 2s"), "{plugin}: {line}");
        run.assert_stderr_contains("hint: the API server is reachable but not answering");
        // The deadline is not retried away: one request, then the error.
        assert_eq!(env.sim.counters().count(route), 1, "{plugin}");
        assert!(took < HANG, "{plugin}: took {took:?}");
    }
}

#[test]
fn a_504_timeout_is_not_retried() {
    for (plugin, _) in PLUGINS {
        let env = Env::new("ks41-host-migrated");
        let (path, route) = fatal_read(plugin);
        env.sim
            .faults()
            .add(FaultRule::new(path, Fault::Timeout { after_ms: 300 }).method("GET"));
        let (run, took) = timed(env.plugin(plugin).args(read_only(plugin)));
        run.assert_code(2).assert_no_panic();
        let line = error_line(&run);
        assert!(
            line.contains("Timeout: request did not complete within requested timeout")
                && line.contains("504 Timeout"),
            "{plugin}: {line}"
        );
        run.assert_stderr_contains("hint: the API server gave up waiting for its storage");
        assert_eq!(
            env.sim.counters().count(route),
            1,
            "{plugin}: a 504 is answered once, not retried"
        );
        assert!(took < HANG, "{plugin}: took {took:?}");
    }
}

/// etcd frozen: `/version` still answers (it does not touch etcd), every other request hangs.
/// health reports every check as an error naming a stalled call, and both health and
/// upgrade-plan end at the deadline with exit 2.
#[test]
fn a_frozen_etcd_ends_health_and_upgrade_plan_at_the_deadline() {
    let env = Env::new("ks41-host-migrated");
    env.sim.faults().add(FaultRule::new("/api", Fault::Hang));
    let (run, took) = timed(
        env.plugin("health")
            .args(["-o", "json", "--deadline", "2s"]),
    );
    run.assert_code(2).assert_no_panic();
    assert!(took < HANG, "took {took:?}");
    let report = run.json();
    let checks = report["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    for check in checks {
        assert_eq!(check["status"], "error", "{check}");
        let summary = check["summary"].as_str().unwrap_or_default();
        assert!(
            summary.contains("did not answer `GET /api") && summary.contains("--deadline 2s"),
            "{summary}"
        );
    }

    let (run, took) = timed(env.plugin("upgrade-plan").args(["--deadline", "2s"]));
    run.assert_code(2).assert_no_panic();
    assert!(took < HANG, "took {took:?}");
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("did not answer `GET /api"), "{text}");
}

#[test]
fn the_default_deadline_is_documented_in_every_plugins_help() {
    let env = Env::new("empty");
    for (plugin, _) in PLUGINS {
        let help = env.plugin(plugin).arg("--help").run();
        help.assert_success()
            .assert_stdout_contains("--deadline <DURATION>")
            .assert_stdout_contains("[default: 2m]");
    }
}

/// The nodes of `ks34-host` (8) read 2 at a time: the second page's token expires once.
#[test]
fn an_expired_continue_token_restarts_the_list() {
    for plugin in ["health", "upgrade-plan"] {
        let env = Env::new("ks34-host");
        let args = ["-o", "json", "--chunk-size", "2"];
        let baseline = env.plugin(plugin).args(args).run();
        baseline.assert_no_panic();
        let pages = env.sim.counters().count("GET /api/v1/nodes");
        assert!(pages >= 4, "{plugin}: nodes read in pages of 2 ({pages})");
        env.sim.reset_counters();
        env.sim.faults().add(
            FaultRule::new("/api/v1/nodes", Fault::Expired)
                .method("GET")
                .with_continue()
                .times(1),
        );
        let run = env.plugin(plugin).args(args).run();
        run.assert_no_panic();
        assert_eq!(run.code, baseline.code, "{plugin}\n{}", run.stderr);
        assert_eq!(run.json(), baseline.json(), "{plugin}: same report");
        // The expired page, then the list again from its first page.
        assert_eq!(
            env.sim.counters().count("GET /api/v1/nodes"),
            pages + 2,
            "{plugin}"
        );
    }
}

#[test]
fn a_continue_token_that_always_expires_ends_in_a_clear_error() {
    for plugin in ["health", "upgrade-plan"] {
        let env = Env::new("ks34-host");
        env.sim.faults().add(
            FaultRule::new("/api/v1/nodes", Fault::Expired)
                .method("GET")
                .with_continue(),
        );
        let (run, took) = timed(env.plugin(plugin).args(["-o", "json", "--chunk-size", "2"]));
        run.assert_code(2).assert_no_panic();
        assert!(took < HANG, "{plugin}: took {took:?}");
        let text = run.stdout.clone();
        assert!(
            text.contains(
                "cannot list nodes: the list's continue token expired 3 times (410 Expired)"
            ),
            "{plugin}: {text}\n{}",
            run.stderr
        );
        // Bounded: three tries of one list, each a first page and an expired second page.
        let requests = env.sim.counters().count("GET /api/v1/nodes");
        assert!(
            requests.is_multiple_of(6) && requests > 0,
            "{plugin}: {requests} requests"
        );
    }
}

#[test]
fn verbosity_6_logs_every_request_and_never_the_token() {
    let env = Env::new("ks41-host-migrated");
    let token = env.sim.admin_token().to_string();
    for (plugin, _) in PLUGINS {
        for flag in [["-v=6"].as_slice(), &["--v=6"], &["-v", "6"]] {
            env.sim.reset_counters();
            let run = env.plugin(plugin).args(read_only(plugin)).args(flag).run();
            run.assert_no_panic();
            let served = env.sim.counters().requests;
            let lines: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.contains(r#""Response" verb="#))
                .collect();
            assert_eq!(
                lines.len() as u64,
                served,
                "{plugin} {flag:?}: one line per request\n{}",
                run.stderr
            );
            let first = lines.first().expect("a request line");
            assert!(first.starts_with('I'), "{first}");
            assert!(first.contains(r#"verb="GET""#), "{first}");
            assert!(
                first.contains(&format!(r#"url="{}"#, env.sim.url().trim_end_matches('/'))),
                "{first}"
            );
            assert!(first.contains(r#"status="200 OK""#), "{first}");
            assert!(first.contains(" milliseconds="), "{first}");
            assert!(!run.stderr.contains(&token), "{plugin}: the token leaked");
            assert!(!run.stdout.contains(&token), "{plugin}: the token leaked");
        }
        // Without -v nothing is logged.
        let run = env.plugin(plugin).args(read_only(plugin)).run();
        assert!(!run.stderr.contains(r#""Response""#), "{}", run.stderr);
    }
}
