//! `kubectl upgrade-plan`: the flags, turned into `kupgrade::plan::Options`; the plan itself is
//! the `kupgrade` library's.

use std::process::ExitCode;

use clap::Parser;
use kupgrade::{
    ExitStatus, Result,
    cli::{FleetArgs, KubeArgs, OutputArgs},
    plan::{self, FailOn},
    run::Printer,
};

/// Read-only upgrade plan and readiness gate for Kubernetes and KubeSphere
#[derive(Debug, Parser)]
#[command(name = "kubectl upgrade-plan", bin_name = "kubectl upgrade-plan", version = kupgrade::VERSION)]
struct Args {
    /// Kubernetes target (v1.27 = its newest patch, or v1.27.16); default: the next minor
    #[arg(long, value_name = "VERSION")]
    target: Option<String>,
    /// KubeSphere target (v4.1.3, or v4.1); default: the next release on the supported path
    #[arg(long = "ks-target", value_name = "VERSION")]
    ks_target: Option<String>,
    /// Exit 1 on Required findings (default), or also on Recommended ones (warn)
    #[arg(long = "fail-on", value_enum, default_value = "required")]
    fail_on: FailOn,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

impl Args {
    /// The plan's options; bad targets are usage errors before anything touches the network.
    fn options(&self) -> Result<plan::Options> {
        Ok(plan::Options {
            kubernetes_target: self
                .target
                .as_deref()
                .map(plan::path::parse_kubernetes_target)
                .transpose()?,
            kubesphere_target: self
                .ks_target
                .as_deref()
                .map(plan::path::parse_kubesphere_target)
                .transpose()?,
        })
    }
}

fn main() -> ExitCode {
    // First thing: no panic may print a backtrace, not even while parsing arguments.
    kupgrade::run::install_panic_hook();
    kupgrade::run::run(command)
}

async fn command(args: Args, mut printer: Printer) -> Result<ExitStatus> {
    let options = args.options()?;
    let format = &args.output.output;
    if args.fleet.fleet {
        let params = kupgrade::fleet::plan::Params {
            options,
            fail_on: args.fail_on,
        };
        return kupgrade::fleet::plan::command(
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
    let note = !format.is_machine();
    let report = plan::plan_with(&cluster, &options, |current| {
        if note {
            printer.note(&format!("reading cluster state (Kubernetes {current})..."));
        }
    })
    .await?;
    kupgrade::output::render(&report, format, &printer.out_style.clone(), printer.out())?;
    kupgrade::run::flush(&mut printer)?;
    Ok(plan::exit_status(&report.findings, args.fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flags_plan_the_default_targets() {
        let args = Args::try_parse_from(["kubectl-upgrade_plan"]).unwrap();
        assert_eq!(args.options().unwrap(), plan::Options::default());
        assert_eq!(args.fail_on, FailOn::Required);
    }

    #[test]
    fn targets_become_versions_and_bad_ones_are_usage_errors() {
        let args = Args::try_parse_from([
            "kubectl-upgrade_plan",
            "--target",
            "v1.28",
            "--ks-target",
            "v4.1",
        ])
        .unwrap();
        let options = args.options().unwrap();
        assert_eq!(
            options.kubernetes_target.unwrap().to_string(),
            plan::path::parse_kubernetes_target("v1.28")
                .unwrap()
                .to_string()
        );
        assert!(options.kubesphere_target.is_some());
        let bad = Args::try_parse_from(["kubectl-upgrade_plan", "--target", "1.x"]).unwrap();
        assert_eq!(bad.options().unwrap_err().exit_status(), ExitStatus::Error);
    }
}
