//! `kubectl untaint-member`: the flags, turned into `kupgrade::untaint::Options`; the untainting
//! itself is the `kupgrade` library's.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use kupgrade::{
    ExitStatus, Result,
    cli::{KubeArgs, OutputArgs, parse_duration},
    run::{Printer, report_error},
    untaint,
};

/// Release KubeSphere member clusters after the v4 migration by removing their Schedulable
/// condition
///
/// Removes only the `Schedulable` condition of each member's `Cluster` object on the host, with
/// an RFC 6902 JSON patch that tests what it removes and the object's resourceVersion; every
/// other field and condition stays as it was. Members must be Ready and already run KubeSphere v4.
///
/// Exit status: 0 every member was untainted or already schedulable; 1 a member was refused or
/// --wait timed out; 2 bad flags, kubeconfig or API errors.
#[derive(Debug, Parser)]
#[command(name = "kubectl untaint-member", bin_name = "kubectl untaint-member", version = kupgrade::VERSION)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["names", "all"]))]
#[command(after_help = "Examples:\n  \
    kubectl untaint-member member-a                # untaint one migrated member\n  \
    kubectl untaint-member --all --dry-run         # show the patch for every tainted member\n  \
    kubectl untaint-member member-a --wait         # then wait for the gateway agent")]
struct Args {
    /// Member Cluster names (`kubectl get clusters.cluster.kubesphere.io`)
    #[arg(value_name = "NAME")]
    names: Vec<String>,

    /// Every member that carries `Schedulable=False` (never the host)
    #[arg(long, conflicts_with = "names")]
    all: bool,

    /// Untaint even when a member is not Ready, not on v4, being deleted, or a v3 Cluster webhook
    /// is left (never the host, never a missing member)
    #[arg(long)]
    force: bool,

    /// Print the JSON patch for each member and change nothing
    #[arg(long)]
    dry_run: bool,

    /// After untainting, wait until InstallPlan `gateway` reports the member's agent Installed
    #[arg(long)]
    wait: bool,

    /// How long --wait waits (e.g. 90s, 10m)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    timeout: Duration,

    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

impl Args {
    /// What to untaint and how.
    fn options(&self) -> untaint::Options {
        untaint::Options {
            names: self.names.clone(),
            all: self.all,
            force: self.force,
            dry_run: self.dry_run,
            wait: self.wait.then_some(self.timeout),
        }
    }
}

fn main() -> ExitCode {
    // First thing: no panic may print a backtrace, not even while parsing arguments.
    kupgrade::run::install_panic_hook();
    kupgrade::run::run(command)
}

async fn command(args: Args, mut printer: Printer) -> Result<ExitStatus> {
    let format = &args.output.output;
    format.require_not_markdown("kubectl untaint-member")?;
    let cluster = kupgrade::client::connect(&args.kube.options()).await?;
    for w in &cluster.warnings {
        printer.warn(w);
    }
    let options = args.options();
    let report = untaint::run(&cluster.client, &options, &mut printer).await?;
    let style = printer.out_style;
    kupgrade::output::render(&report, format, &style, printer.out())?;
    kupgrade::run::flush(&mut printer)?;
    let err_style = printer.err_style;
    for e in untaint::problems(&report) {
        report_error(printer.err(), &e, &err_style);
    }
    untaint::exit_status(&report, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_options() {
        let a = Args::try_parse_from(["kubectl-untaint_member", "a", "b", "--force", "--wait"])
            .unwrap();
        assert_eq!(
            a.options(),
            untaint::Options {
                names: vec!["a".into(), "b".into()],
                force: true,
                wait: Some(Duration::from_secs(600)),
                ..untaint::Options::default()
            }
        );
        let a = Args::try_parse_from(["kubectl-untaint_member", "--all", "--dry-run"]).unwrap();
        assert_eq!(
            a.options(),
            untaint::Options {
                all: true,
                dry_run: true,
                ..untaint::Options::default()
            }
        );
        // A name or --all, not both, not neither.
        assert!(Args::try_parse_from(["kubectl-untaint_member"]).is_err());
        assert!(Args::try_parse_from(["kubectl-untaint_member", "a", "--all"]).is_err());
    }
}
