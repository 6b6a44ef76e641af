//! `kubectl ks-migrate host|member|gateway`: the KubeSphere v3.4 → v4.1 migration of
//! upstream's `upgrade.sh`, as one safe, resumable command.
//!
//! Flow for `host`/`member`: validate the values file ([`values`]); connect; read the journal
//! ([`journal`]); a cluster already on v4 with no run in progress is left alone; run every
//! pre-check ([`precheck`]) and refuse on any failure; confirm (a prompt on a terminal,
//! `--yes` otherwise); then run the steps ([`steps`]) in order with the runner ([`runner`]),
//! journaling each, each in the executor context ([`ctx`]), backing up first ([`backup`]) and
//! logging every helm call and API change ([`helm`]); the report is [`report`]. `gateway`
//! ([`gateway`]) runs ks-upgrade's dynamic-upgrade Job per v3 gateway. `--dry-run` shows every
//! step's objects, patches and helm argument vectors and changes nothing.

pub mod backup;
pub(crate) mod ctx;
pub(crate) mod gateway;
pub(crate) mod helm;
pub(crate) mod identity;
pub(crate) mod journal;
pub(crate) mod lease;
pub(crate) mod local;
pub(crate) mod precheck;
pub(crate) mod progress;
pub(crate) mod report;
pub mod rollback;
pub(crate) mod runner;
pub(crate) mod step;
pub(crate) mod steps;
pub mod values;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

pub use self::report::{Migration, StepReport};
use self::{
    ctx::{Ctx, Settings},
    helm::{Helm, Log},
    journal::State,
    precheck::Check,
    progress::StepProgress,
    report::print_report,
    runner::{Planned, backup_dir, open_run, run_steps, wait_for_orphaned_upgrade},
    step::Step,
    steps::StepId,
};
use crate::{
    ExitStatus, Result, client::ConnectOptions, error::Error, kubesphere::Role,
    output::OutputFormat, run::Printer,
};

/// The chart upstream's `upgrade.sh` pulls.
pub const CHART_URL: &str = "https://charts.kubesphere.io/main/ks-core-1.1.5.tgz";
/// Where upstream keeps it.
pub const DEFAULT_CHART: &str = "charts/ks-core";
/// Upstream's values file name.
pub const DEFAULT_VALUES: &str = "ks-core-values.yaml";

/// `--image-registry`'s default.
pub const DEFAULT_IMAGE_REGISTRY: &str = "docker.io";
/// `--tag`'s default: the KubeSphere release the migration installs.
pub const DEFAULT_TAG: &str = "v4.1.3";
/// `--timeout`'s default: helm upgrade's `--timeout`.
pub const DEFAULT_HELM_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `--job-timeout`'s default: how long the prepare-upgrade and dynamic-upgrade Jobs may take.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Migrate the host cluster (or a single cluster).
    Host,
    /// Migrate a member cluster (after the host).
    Member,
    /// Upgrade v3 gateways: one by name, or `all`; without one, list them.
    Gateway(Option<String>),
    /// Undo a host/member migration from its backup ([`Options::backup_dir`]).
    Rollback,
}

/// How to migrate. The default is upstream's: its values file and chart in the current
/// directory, KubeSphere v4.1.3 from docker.io, and a prompt before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Upstream's ks-core-values.yaml (default: [`DEFAULT_VALUES`] in the current directory).
    pub values: Option<PathBuf>,
    /// The ks-core chart, a directory or .tgz (default: [`DEFAULT_CHART`], pulled with helm
    /// when absent).
    pub chart: Option<PathBuf>,
    /// Do not ask for confirmation (required without a terminal).
    pub yes: bool,
    /// Show every step's objects, patches and helm arguments; change nothing.
    pub dry_run: bool,
    /// Where the backup, the log and the journal copy go (default:
    /// `./ks-migrate-backup-<timestamp>`); the backup to restore for [`Command::Rollback`].
    pub backup_dir: Option<PathBuf>,
    /// The helm executable (default: helm on `PATH`).
    pub helm: Option<PathBuf>,
    /// Image registry of KubeSphere and ks-upgrade.
    pub image_registry: String,
    /// Image registry of the extensions (upstream's `EXTENSION_IMAGE_REGISTRY`).
    pub extension_image_registry: Option<String>,
    /// KubeSphere and ks-upgrade image tag.
    pub tag: String,
    /// helm upgrade's `--timeout`.
    pub timeout: Duration,
    /// How long to wait for the prepare-upgrade and dynamic-upgrade Jobs.
    pub job_timeout: Duration,
    /// Pre-check codes whose failure is only a warning.
    pub ignore_checks: Vec<String>,
    /// How the report is printed.
    pub output: OutputFormat,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            values: None,
            chart: None,
            yes: false,
            dry_run: false,
            backup_dir: None,
            helm: None,
            image_registry: DEFAULT_IMAGE_REGISTRY.into(),
            extension_image_registry: None,
            tag: DEFAULT_TAG.into(),
            timeout: DEFAULT_HELM_TIMEOUT,
            job_timeout: DEFAULT_JOB_TIMEOUT,
            ignore_checks: Vec::new(),
            output: OutputFormat::Table,
        }
    }
}

/// Everything a ks-migrate command is given: how to migrate and how to reach the cluster.
///
/// ```no_run
/// # async fn example() -> kupgrade::Result<()> {
/// use kupgrade::{client::ConnectOptions, migrate, run::Printer};
///
/// let args = migrate::Args {
///     opts: migrate::Options {
///         values: Some("ks-core-values.yaml".into()),
///         dry_run: true,
///         ..migrate::Options::default()
///     },
///     kube: ConnectOptions::default(),
/// };
/// let status = migrate::run(migrate::Command::Host, args, Printer::stdio()).await?;
/// # let _ = status;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// How to migrate.
    pub opts: Options,
    /// The connection.
    pub kube: ConnectOptions,
}

/// Runs one ks-migrate command: its report goes to `printer`'s stdout, its questions and
/// progress to its stderr.
pub async fn run(command: Command, args: Args, printer: Printer) -> Result<ExitStatus> {
    args.opts
        .output
        .require_not_markdown("kubectl ks-migrate")?;
    match command {
        Command::Host => migrate(args, Role::Host, printer).await,
        Command::Member => migrate(args, Role::Member, printer).await,
        Command::Gateway(name) => gateways(args, name, printer).await,
        Command::Rollback => rollback::run(args, printer).await,
    }
}

/// A Go duration for helm (`30m`, `90s`).
pub(crate) fn go_duration(d: Duration) -> String {
    let s = d.as_secs().max(1);
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn resolve_values(opts: &Options) -> Result<PathBuf> {
    match &opts.values {
        Some(p) if p.is_file() => Ok(p.clone()),
        Some(p) => Err(Error::usage(format!(
            "values file `{}` does not exist",
            p.display()
        ))),
        None if Path::new(DEFAULT_VALUES).is_file() => Ok(PathBuf::from(DEFAULT_VALUES)),
        None => Err(Error::usage(format!(
            "no values file: pass -f PATH to upstream's {DEFAULT_VALUES} (or put it in the current directory)"
        ))),
    }
}

/// The chart: `--chart`, `./charts/ks-core`, or pulled with helm (as upstream does).
async fn resolve_chart(
    opts: &Options,
    helm: &Helm,
    log: &Log,
    printer: &mut Printer,
) -> Result<String> {
    if let Some(c) = &opts.chart {
        if c.exists() {
            return Ok(c.display().to_string());
        }
        return Err(Error::usage(format!(
            "chart `{}` does not exist",
            c.display()
        )));
    }
    if Path::new(DEFAULT_CHART).exists() {
        return Ok(DEFAULT_CHART.into());
    }
    printer.note(&format!(
        "pulling {CHART_URL} into ./charts (as upstream's upgrade.sh does)"
    ));
    let args: Vec<String> = ["pull", CHART_URL, "--untar", "-d", "charts"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    helm.output(&args, log, false).await?;
    if Path::new(DEFAULT_CHART).exists() {
        Ok(DEFAULT_CHART.into())
    } else {
        Err(Error::Command {
            command: helm.show(&args),
            reason: format!("{DEFAULT_CHART} is still missing"),
        })
    }
}

/// Asks on a terminal; refuses without one unless `--yes`.
async fn confirm(printer: &mut Printer, opts: &Options, lines: &[String]) -> Result<()> {
    if opts.dry_run || opts.yes {
        return Ok(());
    }
    if !printer.can_ask() {
        return Err(Error::usage(
            "refusing to change the cluster without a terminal to confirm on: pass --yes to run unattended (or --dry-run to see the plan)",
        ));
    }
    if printer.confirm(lines, "Proceed? [y/N] ").await? {
        Ok(())
    } else {
        Err(Error::refused("not confirmed; nothing was changed", None))
    }
}

async fn migrate(args: Args, target: Role, mut printer: Printer) -> Result<ExitStatus> {
    let opts = args.opts.clone();
    let name = target.to_string();
    precheck::validate_ignores(&opts.ignore_checks, &precheck::Code::MIGRATION)?;
    let values_path = resolve_values(&opts)?;
    let values = values::load(&values_path)?;
    for w in &values.warnings {
        printer.warn(w);
    }
    let cluster = crate::client::connect(&args.kube).await?;
    for w in &cluster.warnings {
        printer.warn(w);
    }
    let lease = take_lease(&cluster.client, &name, opts.dry_run, &mut printer).await?;
    let lost = lease.as_ref().map(lease::Guard::lost_flag);
    let outcome = migrate_held(args, target, printer, cluster, values_path, values, lost).await;
    if let Some(l) = lease {
        l.release().await;
    }
    outcome
}

/// Takes the Lease (`--dry-run` takes none, and only warns when another run holds it).
async fn take_lease(
    client: &kube::Client,
    target: &str,
    dry_run: bool,
    printer: &mut Printer,
) -> Result<Option<lease::Guard>> {
    if dry_run {
        if let Some(m) = lease::held_by_other(client).await? {
            printer.warn(&format!(
                "{m}; a dry run takes no lease and changes nothing"
            ));
        }
        return Ok(None);
    }
    let guard = lease::acquire(client, target).await?;
    if let Some(why) = &guard.took_over {
        printer.note(&format!(
            "took over Lease {}/{} ({why})",
            crate::kubesphere::SYSTEM_NAMESPACE,
            lease::NAME
        ));
    }
    Ok(Some(guard))
}

/// The migration, with the Lease held (or a dry run).
async fn migrate_held(
    args: Args,
    target: Role,
    mut printer: Printer,
    cluster: crate::client::Cluster,
    values_path: PathBuf,
    values: values::Values,
    lease_lost: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<ExitStatus> {
    let opts = args.opts.clone();
    let name = target.to_string();
    let client = cluster.client.clone();
    let mut report = Migration::new(&name, opts.dry_run);
    report.jobs = values.jobs.clone();

    let (mut journal, bad) = journal::read(&client).await?;
    for b in bad {
        printer.warn(&format!(
            "journal key `{b}` of ConfigMap kubesphere-system/{} is unreadable and ignored",
            journal::NAME
        ));
    }
    let keys = steps::keys();
    let resuming = journal.in_progress(keys.iter().map(String::as_str));
    if resuming && !journal.run.role.is_empty() && journal.run.role != name {
        return Err(Error::refused(
            format!(
                "a `{}` migration is in progress on this cluster ({})",
                journal.run.role,
                journal::describe(&journal, &keys)
            ),
            Some(format!(
                "finish it with `kubectl ks-migrate {}`",
                journal.run.role
            )),
        ));
    }
    if !resuming && let Some(v4) = steps::ks_core_v4(&client).await? {
        printer.note(&format!(
            "already migrated: ks-core revision {} is deployed with chart ks-core-{} and appVersion {}; nothing to do",
            v4.revision, v4.chart, v4.app_version
        ));
        report.outcome = "already-migrated".into();
        report.jobs.clear();
        print_report(&mut printer, &args, &report)?;
        return Ok(ExitStatus::Success);
    }
    if resuming {
        printer.note(&format!(
            "resuming the {name} migration recorded in ConfigMap kubesphere-system/{} ({})",
            journal::NAME,
            journal::describe(&journal, &keys)
        ));
    }

    if resuming && !opts.dry_run {
        wait_for_orphaned_upgrade(&journal, opts.timeout, &mut printer).await?;
    }

    let helm_found = Helm::locate(opts.helm.as_deref()).map(|p| Helm::new(p, &args.kube));
    let pre_log = Log::default();
    // The chart is needed by the pre-checks (its CRDs against the cluster's stored versions).
    let chart = match &helm_found {
        Ok(h) => Some(resolve_chart(&opts, h, &pre_log, &mut printer).await?),
        Err(_) => None,
    };
    let checks = precheck::run(
        &client,
        &precheck::Inputs {
            role: target,
            storage_class: values.storage_class.as_deref(),
            helm: helm_found.as_ref().map_err(|e| e.to_string()),
            chart: chart.as_deref(),
            ignore: &opts.ignore_checks,
        },
        &pre_log,
    )
    .await?;
    report.checks = checks.clone();
    let failed: Vec<&Check> = checks.iter().filter(|c| c.blocks()).collect();
    for c in checks.iter().filter(|c| c.ignored) {
        printer.warn(&format!(
            "pre-check {} failed and is ignored: {}",
            c.code, c.message
        ));
    }
    if !failed.is_empty() {
        report.outcome = "refused".into();
        print_report(&mut printer, &args, &report)?;
        let codes: Vec<&str> = failed.iter().map(|c| c.code.as_str()).collect();
        let first = failed[0];
        return Err(Error::refused(
            format!(
                "{} pre-check{} failed ({}); nothing was changed. {}: {}",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" },
                codes.join(", "),
                first.code,
                first.message
            ),
            first.hint.clone(),
        ));
    }
    let helm = helm_found?;
    let chart = chart.ok_or_else(|| Error::usage("no ks-core chart"))?;
    let dir = backup_dir(&opts, &journal, resuming);
    report.backup_dir = Some(dir.display().to_string());

    let mut lines = vec![format!(
        "This migrates the {name} cluster at {} to KubeSphere {} with ks-core chart {chart}:",
        cluster.server, opts.tag
    )];
    for (i, s) in StepId::ALL.iter().enumerate() {
        let done = journal.state(s.key()) == Some(State::Done);
        lines.push(format!(
            "  {}. {}{}{}",
            i + 1,
            s.title(),
            if s.destructive() {
                " (destructive)"
            } else {
                ""
            },
            if done { " — already done" } else { "" }
        ));
    }
    let order: Vec<String> = values
        .jobs
        .iter()
        .map(|j| format!("{} ({})", j.name, j.priority))
        .collect();
    lines.push(format!("ks-upgrade jobs, in order: {}", order.join(", ")));
    lines.push(format!(
        "Backup, log and journal copy go to {}.",
        dir.display()
    ));
    confirm(&mut printer, &opts, &lines).await?;

    let mut store = journal::Store::new(client.clone(), None);
    let log = if opts.dry_run {
        Log::default()
    } else {
        open_run(&dir, &name, &mut journal, &mut store).await?
    };
    log.line(&format!(
        "kubectl ks-migrate {name} against {} (ks-migrate {})",
        cluster.server,
        crate::VERSION
    ));
    for c in &checks {
        log.line(&format!(
            "pre-check {}: {} {}",
            c.code,
            if c.ok {
                "ok"
            } else if c.ignored {
                "ignored"
            } else {
                "FAIL"
            },
            c.message
        ));
    }
    let mut ctx = Ctx {
        client: client.clone(),
        helm,
        log,
        dry_run: opts.dry_run,
        settings: Settings {
            chart,
            values: Some(values_path),
            registry: opts.image_registry.clone(),
            extension_registry: opts.extension_image_registry.clone(),
            tag: opts.tag.clone(),
            role: target,
            helm_timeout: go_duration(opts.timeout),
        },
        job_timeout: opts.job_timeout,
        backup_dir: dir,
        server: cluster.server.clone(),
        printer,
        progress: StepProgress::new(),
        actions: Vec::new(),
        lease_lost: lease_lost.clone(),
    };
    let planned: Vec<Planned> = StepId::ALL.iter().map(|&s| Planned::Step(s)).collect();
    let store_ref = if opts.dry_run { None } else { Some(&store) };
    let outcome = run_steps(
        &mut ctx,
        store_ref,
        &mut journal,
        &planned,
        &mut report.steps,
    )
    .await;
    let mut printer = ctx.printer;
    report.outcome = match (&outcome, opts.dry_run) {
        (Ok(()), true) => "planned",
        (Ok(()), false) => "migrated",
        (Err(_), _) => "failed",
    }
    .into();
    print_report(&mut printer, &args, &report)?;
    outcome?;
    if !opts.dry_run && target == Role::Member {
        printer.note("next: on the host, untaint this member (kubectl untaint-member NAME) so extension agents can land here");
    }
    Ok(ExitStatus::Success)
}

async fn gateways(args: Args, which: Option<String>, mut printer: Printer) -> Result<ExitStatus> {
    let opts = args.opts.clone();
    precheck::validate_ignores(&opts.ignore_checks, &precheck::Code::GATEWAY)?;
    let cluster = crate::client::connect(&args.kube).await?;
    for w in &cluster.warnings {
        printer.warn(w);
    }
    // Listing changes nothing and takes no lease.
    let lease = match &which {
        Some(_) => take_lease(&cluster.client, "gateway", opts.dry_run, &mut printer).await?,
        None => None,
    };
    let lost = lease.as_ref().map(lease::Guard::lost_flag);
    let outcome = gateways_held(args, which, printer, cluster, lost).await;
    if let Some(l) = lease {
        l.release().await;
    }
    outcome
}

/// The gateway upgrades, with the Lease held (or a dry run, or a listing).
async fn gateways_held(
    args: Args,
    which: Option<String>,
    mut printer: Printer,
    cluster: crate::client::Cluster,
    lease_lost: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<ExitStatus> {
    let opts = args.opts.clone();
    let client = cluster.client.clone();
    let mut report = Migration::new("gateway", opts.dry_run);
    let all = gateway::list(&client).await?;
    report.gateways = all.clone();
    let Some(which) = which else {
        report.outcome = "listed".into();
        if all.is_empty() {
            printer.note(
                "no v3 gateways (Helm releases kubesphere-router-*) in kubesphere-controls-system",
            );
        }
        print_report(&mut printer, &args, &report)?;
        return Ok(ExitStatus::Success);
    };
    let targets: Vec<&gateway::Gateway> = if which == "all" {
        all.iter().collect()
    } else {
        match all.iter().find(|g| g.name == which) {
            Some(g) => vec![g],
            None => {
                let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
                return Err(Error::refused(
                    format!("no v3 gateway `{which}` in kubesphere-controls-system"),
                    Some(if names.is_empty() {
                        "there are no v3 gateways here".into()
                    } else {
                        format!("gateways: {}", names.join(", "))
                    }),
                ));
            }
        }
    };
    let (mut journal, _) = journal::read(&client).await?;

    // Pre-checks: ks-core must be on v4 (the Job reads what the host upgrade saved), and helm.
    let helm_found = Helm::locate(opts.helm.as_deref()).map(|p| Helm::new(p, &args.kube));
    let pre_log = Log::default();
    let helm_check = precheck::helm_version(match &helm_found {
        Ok(h) => h.version(&pre_log).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    });
    let v4 = steps::ks_core_v4(&client).await?;
    let v4_check = Check {
        code: precheck::Code::KsCoreV4,
        ok: v4.as_ref().is_some_and(|v| v.latest_deployed),
        ignored: false,
        message: match &v4 {
            Some(v) => format!("ks-core revision {} is deployed at {}", v.revision, v.app_version),
            None => "ks-core is not deployed at v4: gateways are upgraded after the host/member migration".into(),
        },
        hint: Some("run `kubectl ks-migrate host` (or member) first".into()),
        objects: Vec::new(),
    };
    let mut checks = vec![v4_check, helm_check];
    precheck::apply_ignores(&mut checks, &opts.ignore_checks);
    for c in checks.iter_mut().filter(|c| c.ok) {
        c.hint = None;
    }
    report.checks = checks.clone();
    if let Some(c) = checks.iter().find(|c| c.blocks()) {
        report.outcome = "refused".into();
        print_report(&mut printer, &args, &report)?;
        return Err(Error::refused(
            format!(
                "pre-check {} failed; nothing was changed: {}",
                c.code, c.message
            ),
            c.hint.clone(),
        ));
    }
    let helm = helm_found?;
    let planned: Vec<Planned> = targets
        .iter()
        .map(|g| Planned::Gateway(g.name.clone()))
        .collect();
    for p in &planned {
        journal::valid_key(&p.key())?;
    }
    // Gateways already upgraded (no `-ingress` release left) count as done.
    for (p, g) in planned.iter().zip(&targets) {
        if !g.pending && journal.state(&p.key()) != Some(State::Done) {
            journal.set(
                &p.key(),
                State::Done,
                "already upgraded (no v3 -ingress release)",
            );
        }
    }
    if planned
        .iter()
        .all(|p| journal.state(&p.key()) == Some(State::Done))
    {
        printer.note("every gateway asked for is already upgraded; nothing to do");
        report.outcome = "already-migrated".into();
        print_report(&mut printer, &args, &report)?;
        return Ok(ExitStatus::Success);
    }
    let chart = resolve_chart(&opts, &helm, &pre_log, &mut printer).await?;
    let dir = opts.backup_dir.clone().unwrap_or_else(backup::default_dir);
    report.backup_dir = Some(dir.display().to_string());
    let mut lines = vec![format!(
        "This upgrades {} gateway(s) at {} with ks-upgrade's dynamic-upgrade Job; each gateway's ingress-nginx restarts (expect a short outage):",
        planned.len(),
        cluster.server
    )];
    for g in &targets {
        lines.push(format!("  {} → {}", g.name, g.new_release));
    }
    confirm(&mut printer, &opts, &lines).await?;

    let mut store = journal::Store::new(client.clone(), None);
    let log = if opts.dry_run {
        Log::default()
    } else {
        open_run(&dir, "gateway", &mut journal, &mut store).await?
    };
    log.line(&format!(
        "kubectl ks-migrate gateway {which} against {} (ks-migrate {})",
        cluster.server,
        crate::VERSION
    ));
    let mut ctx = Ctx {
        client: client.clone(),
        helm,
        log,
        dry_run: opts.dry_run,
        settings: Settings {
            chart,
            values: None,
            registry: opts.image_registry.clone(),
            extension_registry: opts.extension_image_registry.clone(),
            tag: opts.tag.clone(),
            role: Role::Host,
            helm_timeout: go_duration(opts.timeout),
        },
        job_timeout: opts.job_timeout,
        backup_dir: dir,
        server: cluster.server.clone(),
        printer,
        progress: StepProgress::new(),
        actions: Vec::new(),
        lease_lost: lease_lost.clone(),
    };
    let store_ref = if opts.dry_run { None } else { Some(&store) };
    let outcome = run_steps(
        &mut ctx,
        store_ref,
        &mut journal,
        &planned,
        &mut report.steps,
    )
    .await;
    let mut printer = ctx.printer;
    report.outcome = match (&outcome, opts.dry_run) {
        (Ok(()), true) => "planned",
        (Ok(()), false) => "migrated",
        (Err(_), _) => "failed",
    }
    .into();
    if !opts.dry_run {
        report.gateways = gateway::list(&client).await.unwrap_or(report.gateways);
    }
    print_report(&mut printer, &args, &report)?;
    outcome?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_reach_helm_in_go_form() {
        assert_eq!(go_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(go_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(go_duration(Duration::from_secs(90)), "90s");
        assert_eq!(go_duration(Duration::ZERO), "1s");
    }

    fn confirmed(opts: Options, input: Option<&'static str>) -> Result<()> {
        let (printer, _) = crate::run::testing::Captured::printer();
        let mut printer = match input {
            Some(i) => printer.with_input(Box::new(i.as_bytes())),
            None => printer,
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(confirm(&mut printer, &opts, &["This migrates".into()]))
    }

    #[test]
    fn the_confirmation_is_asked_through_the_printer() {
        let host = Options::default;
        assert!(confirmed(host(), Some("y\n")).is_ok());
        let e = confirmed(host(), Some("no\n")).unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Findings, "{e}");
        // No terminal: refused unless --yes or --dry-run, and nothing is read.
        let e = confirmed(host(), None).unwrap_err();
        assert!(e.to_string().contains("pass --yes"), "{e}");
        let yes = Options {
            yes: true,
            ..host()
        };
        assert!(confirmed(yes, None).is_ok());
        let dry_run = Options {
            dry_run: true,
            ..host()
        };
        assert!(confirmed(dry_run, Some("n\n")).is_ok());
    }
}
