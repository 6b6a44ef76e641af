//! `kubectl health`.

use std::process::ExitCode;

use clap::Parser;

use crate::{
    ExitStatus, Result,
    cli::{KubeArgs, OutputArgs},
    run::Printer,
};

/// Post-upgrade verification: a pass or fail per check, exit codes for CI
#[derive(Debug, Parser)]
#[command(name = "kubectl health", version = crate::VERSION)]
pub struct Args {
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Entry point of the `kubectl-health` binary.
pub fn main() -> ExitCode {
    crate::run::run(command)
}

async fn command(args: Args, _printer: Printer) -> Result<ExitStatus> {
    let _ = (args.kube, args.output);
    Ok(ExitStatus::Success)
}
