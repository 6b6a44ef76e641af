//! The contract all four plugins share (issue 2): found by the real kubectl, `--help` and
//! `--version` through it, kubectl's connection flags, one clear line and exit 2 for every
//! connection problem, quiet exit on a closed pipe, and jsonpath output identical to kubectl's.

use e2e::{Env, PLUGINS};

/// A read-only invocation of each plugin that must connect to the cluster.
fn read_only_args(plugin: &str) -> Vec<&'static str> {
    match plugin {
        "ks-migrate" => vec!["gateway"],
        "untaint-member" => vec!["--all", "--dry-run"],
        _ => vec![],
    }
}

#[test]
fn kubectl_finds_all_four_plugins_without_warnings() {
    let env = Env::new("empty");
    let run = env.kubectl().args(["plugin", "list"]).run();
    run.assert_success();
    for (_, bin) in PLUGINS {
        run.assert_stdout_contains(&format!("/{bin}\n"));
    }
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn help_and_version_work_through_kubectl() {
    let env = Env::new("empty");
    for (plugin, _) in PLUGINS {
        let help = env.kubectl().args([plugin, "--help"]).run();
        help.assert_success()
            .assert_stdout_contains("Usage:")
            .assert_stdout_contains("--kubeconfig");
        let version = env.kubectl().args([plugin, "--version"]).run();
        version
            .assert_success()
            .assert_stdout_contains(&format!("kubectl {plugin} 0."));
        version.assert_stdout_contains("(commit ");
    }
}

#[test]
fn a_kubeconfig_that_is_not_yaml_is_one_clear_line() {
    let env = Env::new("empty");
    let bad = env.write("bad-kubeconfig", "this: is: [not yaml\n");
    for (plugin, _) in PLUGINS {
        let run = env
            .plugin(plugin)
            .args(read_only_args(plugin))
            .arg("--kubeconfig")
            .arg(&bad)
            .run();
        run.assert_code(2).assert_no_panic();
        run.assert_stderr_contains("error: cannot load kubeconfig");
        run.assert_stderr_contains("bad-kubeconfig");
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{}",
            run.stderr
        );
        // One line of error and one of hint: no multi-line parser snippets.
        assert!(run.stderr.lines().count() <= 2, "{}", run.stderr);
    }
}

#[test]
fn a_missing_kubeconfig_and_an_unknown_context_are_named() {
    let env = Env::new("empty");
    for (plugin, _) in PLUGINS {
        let run = env
            .plugin(plugin)
            .args(read_only_args(plugin))
            .args(["--kubeconfig", "/nonexistent/kc"])
            .run();
        run.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains("/nonexistent/kc");

        let run = env
            .plugin(plugin)
            .args(read_only_args(plugin))
            .args(["--context", "prod"])
            .run();
        run.assert_code(2).assert_no_panic();
        run.assert_stderr_contains("context `prod` not found (known: `kubesim`, `kubesim-cert`)");
    }
}

#[test]
fn an_unreachable_server_is_one_line_naming_the_cause() {
    let env = Env::new("empty");
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (plugin, _) in PLUGINS {
        let run = env
            .plugin(plugin)
            .args(read_only_args(plugin))
            .args([
                "--server",
                &format!("https://127.0.0.1:{port}"),
                "--insecure-skip-tls-verify",
            ])
            .run();
        run.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains("connection refused");
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_rejected_token_says_the_credentials_were_rejected_without_printing_them() {
    let env = Env::new("empty");
    for (plugin, _) in PLUGINS {
        let run = env
            .plugin(plugin)
            .args(read_only_args(plugin))
            .args(["--token", "expired-token-1234"])
            .run();
        run.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains("401");
        run.assert_stderr_contains("hint:");
        assert!(
            !run.stderr.contains("expired-token-1234")
                && !run.stdout.contains("expired-token-1234")
        );
    }
}

#[test]
fn a_forbidden_user_gets_the_servers_message() {
    let env = Env::builder("empty")
        .user("nobody", "nobody-token", &[])
        .start();
    let run = env
        .plugin("upgrade-plan")
        .args(["--token", "nobody-token", "-o", "json"])
        .run();
    run.assert_no_panic();
    assert_ne!(
        run.code,
        Some(0),
        "a user with no rights cannot get a green plan\n{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("forbidden") || run.stdout.contains("forbidden"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn kubeconfig_paths_merge_as_kubectl_merges_them() {
    let env = Env::new("empty");
    // The first file sets current-context to a context the second file defines.
    let first = env.write(
        "first",
        "apiVersion: v1\nkind: Config\ncurrent-context: kubesim\n",
    );
    let paths = format!(
        "{}:/nonexistent/ignored:{}",
        first.display(),
        env.kubeconfig.display()
    );
    let run = env
        .plugin("health")
        .env("KUBECONFIG", &paths)
        .args(["-o", "json"])
        .run();
    run.assert_no_panic();
    assert!(matches!(run.code, Some(0) | Some(1)), "{}", run.stderr);
    // kubectl agrees on the merged view.
    env.kubectl()
        .env("KUBECONFIG", &paths)
        .args(["get", "ns", "default"])
        .run()
        .assert_success();
}

#[test]
fn client_certificates_work() {
    let env = Env::new("empty");
    let run = env
        .plugin("health")
        .args(["--context", "kubesim-cert", "-o", "json"])
        .run();
    run.assert_no_panic();
    assert!(matches!(run.code, Some(0) | Some(1)), "{}", run.stderr);
}

#[test]
fn a_closed_pipe_exits_quietly() {
    let env = Env::new("broken");
    let plugin = e2e::plugin_binary("upgrade-plan");
    let run = env
        .command("/bin/bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' -o yaml | head -1 >/dev/null",
                plugin.display()
            ),
        ])
        .run();
    assert!(
        run.stderr.is_empty(),
        "stderr must stay quiet on a closed pipe: {}",
        run.stderr
    );
    // The plan of `broken` has blocking findings (1); a closed pipe must not turn that into a crash.
    assert!(matches!(run.code, Some(0) | Some(1)), "{run:?}");
}

#[test]
fn jsonpath_output_is_what_kubectl_prints_for_the_same_document() {
    let env = Env::new("broken");
    let json = env.plugin("health").args(["-o", "json"]).run();
    let doc = env.write("report.json", &json.stdout);
    json.json(); // it is JSON
    let templates = [
        "{.kind}",
        "{.apiVersion} {.status}",
        "{.checks[*].id}",
        r#"{range .checks[*]}{.id}{"\t"}{.status}{"\n"}{end}"#,
        r#"{.checks[?(@.status=="Fail")].id}"#,
        "{.checks[0]}",
        "{.checks[-1].id}",
        "{.checks[0:2].summary}",
        "{.nothing.here}",
        r#"{range .checks[*]}{.id}:{range .objects[*]}[{.name}]{end}{"\n"}{end}"#,
    ];
    for t in templates {
        let ours = env
            .plugin("health")
            .arg("-o")
            .arg(format!("jsonpath={t}"))
            .run();
        let theirs = env
            .kubectl()
            .args(["annotate", "--local", "-f"])
            .arg(&doc)
            .args(["x=y", "-o"])
            .arg(format!("jsonpath={t}"))
            .run();
        theirs.assert_success();
        assert_eq!(ours.stdout, theirs.stdout, "template {t}");
    }
    // Where kubectl fails a template (an index out of bounds, under [*] or in a filter), the
    // plugin fails the same way: nothing on stdout, kubectl's message, exit 2.
    let failing = [
        "{.checks[99]}",
        "{.checks[-99].id}",
        "{.checks[0:99].id}",
        "{.checks[*].objects[999]}",
        r#"{.checks[?(@.objects[999].name=="x")].id}"#,
        r#"{.kind}{range .checks[*]}{.id}{.objects[999].name}{end}"#,
        "{.kind[0]}",
        "{.checks[0][0]}",
        "{..objects[999]}",
        "{.checks[2:1].id}",
    ];
    for t in failing {
        let ours = env
            .plugin("health")
            .arg("-o")
            .arg(format!("jsonpath={t}"))
            .run();
        let theirs = env
            .kubectl()
            .args(["annotate", "--local", "-f"])
            .arg(&doc)
            .args(["x=y", "-o"])
            .arg(format!("jsonpath={t}"))
            .run();
        assert_ne!(
            theirs.code,
            Some(0),
            "kubectl accepts {t}: {}",
            theirs.stdout
        );
        ours.assert_code(2).assert_no_panic();
        assert_eq!(ours.stdout, theirs.stdout, "template {t}: nothing printed");
        let ours_line = ours.stderr.lines().next().unwrap_or_default();
        let theirs_line = theirs.stderr.lines().next().unwrap_or_default();
        assert!(
            ours_line.starts_with("error: error executing jsonpath")
                && theirs_line.starts_with(&format!("{ours_line}.")),
            "template {t}:\nours:   {ours_line}\ntheirs: {theirs_line}"
        );
    }
    // A broken template is a usage problem, said once.
    let bad = env
        .plugin("health")
        .args(["-o", "jsonpath={.checks[0"])
        .run();
    bad.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains("jsonpath");
}

/// Every duration flag of every plugin, with the arguments that reach it.
const DURATION_FLAGS: [(&str, &[&str], &str); 7] = [
    ("health", &[], "--request-timeout"),
    ("health", &["--wait"], "--timeout"),
    ("health", &["--wait"], "--interval"),
    ("upgrade-plan", &[], "--request-timeout"),
    ("ks-migrate", &["gateway"], "--timeout"),
    ("ks-migrate", &["gateway"], "--job-timeout"),
    ("untaint-member", &["--all", "--dry-run"], "--timeout"),
];

#[test]
fn a_duration_that_overflows_is_one_error_line_and_exit_2() {
    let env = Env::new("empty");
    let mut flags: Vec<(&str, &[&str], &str)> = DURATION_FLAGS.to_vec();
    for (plugin, _) in PLUGINS {
        flags.push((plugin, &[], "--request-timeout"));
    }
    for (plugin, before, flag) in flags {
        for value in ["99999999999999999999h", "99999999999999999999", "2562048h"] {
            let run = env
                .plugin(plugin)
                .args(before)
                .arg(format!("{flag}={value}"))
                .run();
            run.assert_code(2).assert_no_panic();
            let errors: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .collect();
            assert_eq!(errors.len(), 1, "{plugin} {flag}={value}: {}", run.stderr);
            assert!(
                errors[0].contains(flag) && errors[0].contains("too large"),
                "{plugin} {flag}={value}: {}",
                run.stderr
            );
            assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
        }
    }
}
