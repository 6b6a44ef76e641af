//! `kubectl health`: the flags, turned into `kupgrade::health::Options`; the checks themselves
//! are the `kupgrade` library's.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use kupgrade::{
    ExitStatus, Result,
    cli::{FleetArgs, KubeArgs, OutputArgs, parse_duration},
    health::{self, CheckId, FailOn},
    run::Printer,
    version::Version,
};

/// Post-upgrade verification: a pass or fail per check, exit codes for CI
///
/// Checks (ids for --check/--skip): nodes, system-pods, workloads, helm-releases, kubesphere,
/// api-services, webhooks, storage.
///
/// Exit status: 0 all checks pass (warnings allowed unless --fail-on warn); 1 a check fails,
/// or --wait timed out with a check failing; 2 the command could not run, or a check could not
/// list its objects (for example forbidden) and none failed.
#[derive(Debug, Parser)]
#[command(name = "kubectl health", bin_name = "kubectl health", version = kupgrade::VERSION)]
struct Args {
    /// Run only these checks (comma-separated ids)
    #[arg(long = "check", value_name = "IDS", value_delimiter = ',')]
    checks: Vec<CheckId>,

    /// Skip these checks (comma-separated ids, as for --check)
    #[arg(
        long = "skip",
        value_name = "IDS",
        value_delimiter = ',',
        hide_possible_values = true
    )]
    skip: Vec<CheckId>,

    /// Check pods, workloads and Helm releases in all namespaces, not only the system ones
    #[arg(short = 'A', long)]
    all_namespaces: bool,

    /// The kubelet version every node must run (e.g. v1.27.16)
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    expect_version: Option<Version>,

    /// Warn about a Ready pod whose containers restarted this many times or more (0: never)
    #[arg(long, value_name = "N", default_value_t = health::DEFAULT_RESTART_THRESHOLD)]
    restart_threshold: u32,

    /// Which check status makes the exit status 1
    #[arg(long, value_name = "STATUS", value_enum, default_value_t = FailOn::Fail)]
    fail_on: FailOn,

    /// Re-run the checks until every check passes or --timeout runs out
    #[arg(long)]
    wait: bool,

    /// How long --wait waits (e.g. 90s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, requires = "wait")]
    timeout: Duration,

    /// Time between rounds of --wait
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, requires = "wait")]
    interval: Duration,

    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_version(s: &str) -> std::result::Result<Version, String> {
    s.parse::<Version>().map_err(|e| e.to_string())
}

impl Args {
    /// The checks' options; `--check`/`--skip` leaving nothing to run is a usage error.
    fn options(&self) -> Result<health::Options> {
        Ok(health::Options {
            checks: health::select_checks(&self.checks, &self.skip)?,
            all_namespaces: self.all_namespaces,
            expect_version: self.expect_version.clone(),
            restart_threshold: self.restart_threshold,
        })
    }

    /// `--wait`'s options, when it was given.
    fn wait(&self) -> Option<health::WaitOptions> {
        self.wait.then_some(health::WaitOptions {
            fail_on: self.fail_on,
            timeout: self.timeout,
            interval: self.interval,
        })
    }
}

fn main() -> ExitCode {
    // First thing: no panic may print a backtrace, not even while parsing arguments.
    kupgrade::run::install_panic_hook();
    kupgrade::run::run(command)
}

async fn command(args: Args, mut printer: Printer) -> Result<ExitStatus> {
    let format = &args.output.output;
    format.require_not_markdown("kubectl health")?;
    let options = args.options()?;
    let wait = args.wait();
    if let Some(w) = &wait {
        w.validate()?;
    }
    if args.fleet.fleet {
        let params = kupgrade::fleet::health::Params {
            options,
            fail_on: args.fail_on,
            wait,
        };
        return kupgrade::fleet::health::command(
            &args.kube.options(),
            &args.fleet.options(),
            params,
            format,
            &mut printer,
        )
        .await;
    }
    let cluster = kupgrade::client::connect(&args.kube.options()).await?;
    for w in &cluster.warnings {
        printer.warn(w);
    }
    let client = &cluster.client;
    let report = match &wait {
        Some(w) => health::check_until_passing(client, &options, w, &mut printer).await?,
        None => health::check(client, &options).await?,
    };
    let style = printer.out_style;
    kupgrade::output::render(&report, format, &style, printer.out())?;
    kupgrade::run::flush(&mut printer)?;
    Ok(report.exit_status(args.fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_ids_are_validated() {
        let a = Args::try_parse_from([
            "kubectl-health",
            "--check",
            "nodes,system-pods",
            "--skip",
            "nodes",
            "-A",
            "--expect-version",
            "v1.27.16",
            "--fail-on",
            "warn",
            "--wait",
            "--timeout",
            "90s",
        ])
        .unwrap();
        assert_eq!(a.checks, vec![CheckId::Nodes, CheckId::SystemPods]);
        assert_eq!(a.skip, vec![CheckId::Nodes]);
        assert!(a.all_namespaces && a.wait);
        assert_eq!(a.fail_on, FailOn::Warn);
        assert_eq!(a.timeout, Duration::from_secs(90));
        assert_eq!(a.interval, Duration::from_secs(5));
        assert_eq!(a.expect_version.clone().unwrap().to_string(), "v1.27.16");
        let options = a.options().unwrap();
        assert_eq!(options.checks, vec![CheckId::SystemPods]);
        assert!(options.all_namespaces);
        let wait = a.wait().unwrap();
        assert_eq!(
            (wait.fail_on, wait.timeout),
            (FailOn::Warn, Duration::from_secs(90))
        );

        let e = Args::try_parse_from(["kubectl-health", "--check", "nodes,pods"]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("invalid value 'pods'"), "{text}");
        assert!(
            text.contains("system-pods") && text.contains("helm-releases"),
            "{text}"
        );
        assert!(e.use_stderr());
        assert!(Args::try_parse_from(["kubectl-health", "--expect-version", "1.x"]).is_err());
        // --timeout only means something with --wait.
        assert!(Args::try_parse_from(["kubectl-health", "--timeout", "1m"]).is_err());
    }

    #[test]
    fn no_flags_are_the_library_defaults() {
        let a = Args::try_parse_from(["kubectl-health"]).unwrap();
        assert_eq!(a.options().unwrap(), health::Options::default());
        assert!(a.wait().is_none());
        assert_eq!(a.fail_on, FailOn::default());
    }

    #[test]
    fn checks_that_leave_nothing_to_run_are_a_usage_error() {
        let a = Args::try_parse_from(["kubectl-health", "--check", "nodes", "--skip", "nodes"])
            .unwrap();
        assert_eq!(a.options().unwrap_err().exit_status(), ExitStatus::Error);
    }
}
