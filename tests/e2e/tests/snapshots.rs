//! Whole-run snapshots, in the style of uv's CLI tests: each plugin's table, wide, markdown and
//! JSON output on the bundled scenarios, with its exit code and standard error, as a user sees
//! them. A change to any output shows up as a snapshot diff to review (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test -p e2e --test snapshots` and `git diff`).
//!
//! Filters replace what differs between runs: kubesim's port, the test directory, the backup
//! directory's timestamp, durations and dates. ks-migrate runs with the real helm and the test
//! chart (`common::migrate::Mig::real`).

mod common;

use e2e::Env;

/// Runs a plugin and renders what the user sees: the command, the exit code, stdout and stderr.
fn transcript(env: &Env, plugin: &str, args: &[&str]) -> String {
    transcript_of(env.plugin(plugin).args(args).run(), plugin, args)
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

/// ks-migrate's dry run with the real helm and the test chart: the pre-checks and the planned
/// steps, as a table and as JSON; then the same run refused by a pre-check that names its objects.
#[test]
fn ks_migrate_host_dry_run() {
    let m = common::migrate::Mig::real("ks34-host");
    let mut settings = settings();
    // The test's own directory (the chart and values paths are under it).
    settings.add_filter(
        &regex::escape(&m.env.dir().display().to_string()),
        "[TESTDIR]",
    );
    let runs: [(&str, &[&str]); 2] = [
        (
            "ks-migrate__ks34-host__host_dry-run",
            &["host", "--dry-run"],
        ),
        (
            "ks-migrate__ks34-host__host_dry-run_o_json",
            &["host", "--dry-run", "-o", "json"],
        ),
    ];
    for (name, args) in runs {
        let out = transcript_of(m.migrate().args(args).run(), "ks-migrate", args);
        settings.bind(|| insta::assert_snapshot!(name, out));
    }
    // A node goes NotReady: `nodes-ready` fails and names it.
    m.env
        .sim
        .patch_status(
            "/api/v1/nodes/master-2",
            &serde_json::json!({"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}),
        )
        .expect("patch node status");
    let args: &[&str] = &["host", "--dry-run", "-o", "json"];
    let out = transcript_of(m.migrate().args(args).run(), "ks-migrate", args);
    settings.bind(|| {
        insta::assert_snapshot!(
            "ks-migrate__ks34-host__host_dry-run_o_json_node_not_ready",
            out
        )
    });
}

/// What the user sees of a run: the command, the exit code, stdout and stderr.
fn transcript_of(run: e2e::Run, plugin: &str, args: &[&str]) -> String {
    run.assert_no_panic();
    format!(
        "$ kubectl {plugin} {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        run.code.map_or("signal".to_string(), |c| c.to_string()),
        run.stdout,
        run.stderr
    )
}
