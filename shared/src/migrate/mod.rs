//! `kubectl ks-migrate`.

use std::process::ExitCode;

use clap::Parser;

use crate::{
    ExitStatus, Result,
    cli::{KubeArgs, OutputArgs},
    run::Printer,
};

/// Migrate KubeSphere v3.4 to v4.1 (host, member, gateway) with pre-checks, backup and a resumable journal
#[derive(Debug, Parser)]
#[command(name = "kubectl ks-migrate", version = crate::VERSION)]
pub struct Args {
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Entry point of the `kubectl-ks-migrate` binary.
pub fn main() -> ExitCode {
    crate::run::run(command)
}

async fn command(args: Args, _printer: Printer) -> Result<ExitStatus> {
    let _ = (args.kube, args.output);
    Ok(ExitStatus::Success)
}
