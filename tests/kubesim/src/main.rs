//! The `kubesim` command line: `serve` a scenario until killed, or list bundled `scenarios`.

use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// An in-memory Kubernetes API server that kubectl cannot tell from a real cluster.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve a scenario on 127.0.0.1 until SIGINT/SIGTERM.
    Serve {
        /// Bundled scenario name, path to a YAML file, or `scale:nodes=N,namespaces=N,pods=N,deployments=N`.
        #[arg(long, default_value = "empty")]
        scenario: String,
        /// Where to write the kubeconfig, once the server accepts connections.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Port (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Serve plain HTTP instead of HTTPS.
        #[arg(long)]
        http: bool,
        /// Extra bearer-token user, `NAME:TOKEN[:GROUP,GROUP]` (repeatable).
        #[arg(long = "user")]
        users: Vec<String>,
        /// gitVersion reported by /version (overrides the scenario).
        #[arg(long)]
        version_git: Option<String>,
    },
    /// List bundled scenarios.
    Scenarios,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Scenarios => {
            let mut out = std::io::stdout().lock();
            for (name, desc) in kubesim::scenario::list() {
                writeln!(out, "{name:<22} {desc}")?;
            }
            Ok(())
        }
        Cmd::Serve {
            scenario,
            kubeconfig,
            port,
            http,
            users,
            version_git,
        } => {
            let mut b = kubesim::Sim::builder()
                .scenario(&scenario)
                .tls(!http)
                .port(port);
            for u in &users {
                b = b.user_spec(u)?;
            }
            if let Some(v) = &version_git {
                b = b.git_version(v);
            }
            let sim = b.start()?;
            sim.write_kubeconfig(&kubeconfig)?;
            writeln!(
                std::io::stderr(),
                "kubesim: serving {} at {} (kubeconfig {})",
                scenario,
                sim.url(),
                kubeconfig.display()
            )?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                Ok::<_, std::io::Error>(())
            })?;
            drop(sim);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "kubesim: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
