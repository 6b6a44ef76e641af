//! `kubectl upgrade-plan`.

pub mod apis;
pub mod findings;
pub mod inventory;
pub mod path;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    ExitStatus, Result,
    cli::{KubeArgs, OutputArgs},
    run::Printer,
};

/// Read-only upgrade plan and readiness gate for Kubernetes and KubeSphere
#[derive(Debug, Parser)]
#[command(name = "kubectl upgrade-plan", version = crate::VERSION)]
pub struct Args {
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Entry point of the `kubectl-upgrade-plan` binary.
pub fn main() -> ExitCode {
    crate::run::run(command)
}

async fn command(args: Args, _printer: Printer) -> Result<ExitStatus> {
    let _ = (args.kube, args.output);
    Ok(ExitStatus::Success)
}
