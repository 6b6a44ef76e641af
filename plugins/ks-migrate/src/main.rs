//! `kubectl ks-migrate`: the flags, turned into `kupgrade::migrate::Options`; the migration itself
//! is the `kupgrade` library's.

use std::{path::PathBuf, process::ExitCode, str::FromStr, time::Duration};

use clap::{Parser, Subcommand};
use kupgrade::{
    ExitStatus, Result,
    cli::{KubeArgs, OutputFormat, parse_duration},
    migrate,
    run::Printer,
};

/// Migrate KubeSphere v3.4 to v4.1 (host, member, gateway) with pre-checks, backup and a resumable journal
#[derive(Debug, Parser)]
#[command(name = "kubectl ks-migrate", bin_name = "kubectl ks-migrate", version = kupgrade::VERSION)]
struct Args {
    #[command(subcommand)]
    target: Target,
    #[command(flatten)]
    opts: Flags,
    #[command(flatten)]
    kube: KubeArgs,
}

/// What to migrate.
#[derive(Debug, Clone, Subcommand)]
enum Target {
    /// Migrate the host cluster (or a single cluster) to KubeSphere v4.1
    Host,
    /// Migrate a member cluster to KubeSphere v4.1 (after the host)
    Member,
    /// Upgrade v3 gateways (after host and members): NAME, or `all`; without one, list them
    Gateway {
        /// A gateway (`kubesphere-router-<namespace>`) or `all`
        name: Option<String>,
    },
    /// Undo a host/member migration from its backup (--backup-dir DIR): helm rollback of
    /// ks-core, the objects it changed restored; says what it cannot undo
    Rollback,
}

/// The migration's flags.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Migration")]
struct Flags {
    /// Upstream's ks-core-values.yaml (default: ./ks-core-values.yaml)
    #[arg(short = 'f', long = "values", value_name = "PATH", global = true)]
    values: Option<PathBuf>,
    /// The ks-core chart, a directory or .tgz (default: ./charts/ks-core, pulled with helm when absent)
    #[arg(long, value_name = "PATH", global = true)]
    chart: Option<PathBuf>,
    /// Do not ask for confirmation (required without a terminal)
    #[arg(short = 'y', long, global = true)]
    yes: bool,
    /// Show every step's objects, patches and helm arguments; change nothing
    #[arg(long, global = true)]
    dry_run: bool,
    /// Where the backup, the log and the journal copy go (default: ./ks-migrate-backup-<timestamp>)
    #[arg(long, value_name = "DIR", global = true)]
    backup_dir: Option<PathBuf>,
    /// The helm executable (default: helm on PATH)
    #[arg(long, value_name = "PATH", global = true)]
    helm: Option<PathBuf>,
    /// Image registry of KubeSphere and ks-upgrade
    #[arg(
        long,
        value_name = "REGISTRY",
        default_value = migrate::DEFAULT_IMAGE_REGISTRY,
        global = true
    )]
    image_registry: String,
    /// Image registry of the extensions (upstream's EXTENSION_IMAGE_REGISTRY)
    #[arg(long, value_name = "REGISTRY", global = true)]
    extension_image_registry: Option<String>,
    /// KubeSphere and ks-upgrade image tag
    #[arg(long, value_name = "TAG", default_value = migrate::DEFAULT_TAG, global = true)]
    tag: String,
    /// helm upgrade --timeout
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration, global = true)]
    timeout: Duration,
    /// How long to wait for the prepare-upgrade and dynamic-upgrade Jobs
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, global = true)]
    job_timeout: Duration,
    /// Turn a failing pre-check into a warning (repeatable; see the docs for the codes)
    #[arg(long = "ignore-check", value_name = "CODE", global = true)]
    ignore_checks: Vec<String>,
    /// Output format: table, wide, json, yaml, or jsonpath=TEMPLATE (kubectl's dialect); as
    /// `OutputArgs`, but accepted after the subcommand too
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = OutputFormat::from_str, global = true)]
    output: OutputFormat,
}

impl Target {
    /// The library's command.
    fn command(&self) -> migrate::Command {
        match self {
            Self::Host => migrate::Command::Host,
            Self::Member => migrate::Command::Member,
            Self::Gateway { name } => migrate::Command::Gateway(name.clone()),
            Self::Rollback => migrate::Command::Rollback,
        }
    }
}

impl Flags {
    /// How to migrate.
    fn options(&self) -> migrate::Options {
        let Self {
            values,
            chart,
            yes,
            dry_run,
            backup_dir,
            helm,
            image_registry,
            extension_image_registry,
            tag,
            timeout,
            job_timeout,
            ignore_checks,
            output,
        } = self.clone();
        migrate::Options {
            values,
            chart,
            yes,
            dry_run,
            backup_dir,
            helm,
            image_registry,
            extension_image_registry,
            tag,
            timeout,
            job_timeout,
            ignore_checks,
            output,
        }
    }
}

fn main() -> ExitCode {
    // First thing: no panic may print a backtrace, not even while parsing arguments.
    kupgrade::run::install_panic_hook();
    kupgrade::run::run(command)
}

async fn command(args: Args, printer: Printer) -> Result<ExitStatus> {
    let run = migrate::Args {
        opts: args.opts.options(),
        kube: args.kube.options(),
    };
    migrate::run(args.target.command(), run, printer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        let a = Args::try_parse_from([
            "kubectl-ks_migrate",
            "gateway",
            "all",
            "--dry-run",
            "-f",
            "v.yaml",
            "--ignore-check",
            "installer-idle",
        ])
        .unwrap();
        assert_eq!(
            a.target.command(),
            migrate::Command::Gateway(Some("all".into()))
        );
        let opts = a.opts.options();
        assert!(opts.dry_run);
        assert_eq!(opts.ignore_checks, ["installer-idle"]);
        assert_eq!(opts.values, Some(PathBuf::from("v.yaml")));
        assert!(Args::try_parse_from(["kubectl-ks_migrate"]).is_err());
        assert!(Args::try_parse_from(["kubectl-ks_migrate", "hots"]).is_err());
    }

    #[test]
    fn no_flags_are_the_library_defaults() {
        for (argv, command) in [
            ("host", migrate::Command::Host),
            ("member", migrate::Command::Member),
            ("gateway", migrate::Command::Gateway(None)),
            ("rollback", migrate::Command::Rollback),
        ] {
            let a = Args::try_parse_from(["kubectl-ks_migrate", argv]).unwrap();
            assert_eq!(a.target.command(), command);
            assert_eq!(a.opts.options(), migrate::Options::default());
        }
    }
}
