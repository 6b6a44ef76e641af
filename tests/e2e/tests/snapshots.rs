//! Whole-run snapshots, in the style of uv's CLI tests: each plugin's table, wide, markdown and
//! JSON output on the bundled scenarios, with its exit code and standard error, as a user sees
//! them. A change to any output shows up as a snapshot diff to review (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test -p e2e --test snapshots` and `git diff`).
//!
//! Filters replace what differs between runs: kubesim's port, the backup directory's timestamp,
//! durations and dates.

use e2e::Env;

/// Runs a plugin and renders what the user sees: the command, the exit code, stdout and stderr.
fn transcript(env: &Env, plugin: &str, args: &[&str]) -> String {
    let run = env.plugin(plugin).args(args).run();
    run.assert_no_panic();
    format!(
        "$ kubectl {plugin} {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        run.code.map_or("signal".to_string(), |c| c.to_string()),
        run.stdout,
        run.stderr
    )
}

/// The filters for everything that differs between runs.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"127\.0\.0\.1:[0-9]{4,5}", "127.0.0.1:[PORT]");
    s.add_filter(
        r"ks-migrate-backup-[0-9]{8}-[0-9]{6}",
        "ks-migrate-backup-[TIMESTAMP]",
    );
    s.add_filter(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})",
        "[DATETIME]",
    );
    s.add_filter(r"\b[0-9]+(\.[0-9]+)?(ms|s)\b elapsed", "[DURATION] elapsed");
    s
}

/// Snapshots `plugin` in every format on `scenario`.
fn snapshot_all(scenario: &str, plugin: &str, formats: &[&[&str]]) {
    let env = Env::new(scenario);
    let settings = settings();
    for args in formats {
        let name = format!(
            "{plugin}__{scenario}__{}",
            args.iter()
                .map(|a| a.trim_start_matches('-'))
                .collect::<Vec<_>>()
                .join("_")
        );
        let out = transcript(&env, plugin, args);
        settings.bind(|| insta::assert_snapshot!(name, out));
    }
}

const PLAN_FORMATS: &[&[&str]] = &[
    &["-o", "table"],
    &["-o", "wide"],
    &["-o", "markdown"],
    &["-o", "json"],
];
const HEALTH_FORMATS: &[&[&str]] = &[&["-o", "table"], &["-o", "wide"], &["-o", "json"]];

#[test]
fn upgrade_plan_ks34_host() {
    snapshot_all("ks34-host", "upgrade-plan", PLAN_FORMATS);
}

#[test]
fn upgrade_plan_ks34_member() {
    snapshot_all("ks34-member", "upgrade-plan", PLAN_FORMATS);
}

#[test]
fn upgrade_plan_ks41_host_migrated() {
    snapshot_all("ks41-host-migrated", "upgrade-plan", PLAN_FORMATS);
}

#[test]
fn upgrade_plan_broken() {
    snapshot_all("broken", "upgrade-plan", PLAN_FORMATS);
}

#[test]
fn health_ks34_host() {
    snapshot_all("ks34-host", "health", HEALTH_FORMATS);
}

#[test]
fn health_ks41_host_migrated() {
    snapshot_all("ks41-host-migrated", "health", HEALTH_FORMATS);
}

#[test]
fn health_broken() {
    snapshot_all("broken", "health", HEALTH_FORMATS);
}

#[test]
fn untaint_member_dry_run() {
    snapshot_all(
        "ks41-host-migrated",
        "untaint-member",
        &[
            &["--all", "--dry-run"],
            &["--all", "--dry-run", "-o", "wide"],
            &["--all", "--dry-run", "-o", "json"],
        ],
    );
}
