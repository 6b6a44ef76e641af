//! The `kubesim` command line: `serve` a scenario until killed, list bundled `scenarios`, or
//! `export` one for a real cluster.

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
        /// Offer HTTP/1.1 only (by default HTTP/2 is offered too, as a real API server does).
        #[arg(long)]
        http1_only: bool,
        /// Extra bearer-token user, `NAME:TOKEN[:GROUP,GROUP]` (repeatable).
        #[arg(long = "user")]
        users: Vec<String>,
        /// gitVersion reported by /version (overrides the scenario).
        #[arg(long)]
        version_git: Option<String>,
        /// Run the controllers helm and kubectl wait on: Deployments, StatefulSets, DaemonSets
        /// and Jobs roll out, pods run, PVCs bind, Services get a clusterIP, deletes cascade.
        #[arg(long)]
        controllers: bool,
        /// Cost model: `free` answers at once; `real` delays each response like a real API
        /// server (per request, per byte, per new TLS connection; see the README).
        #[arg(long, default_value = "free", value_parser = ["free", "real"])]
        cost: String,
    },
    /// List bundled scenarios.
    Scenarios,
    /// Print a scenario for a real cluster, in parts applied in order: `crds` (kubectl apply,
    /// then wait for Established), `objects` (kubectl apply), `status` (kubectl replace
    /// --subresource=status). kubesim's own settings document is left out.
    Export {
        /// Bundled scenario name or path to a YAML file.
        scenario: String,
        /// Which part to print.
        #[arg(long, value_enum, default_value = "objects")]
        part: Part,
    },
}

/// A part of an exported scenario.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Part {
    /// The CustomResourceDefinitions.
    Crds,
    /// Every other object.
    Objects,
    /// The statuses written through `/status`.
    Status,
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
        Cmd::Export { scenario, part } => {
            let yaml = kubesim::scenario::resolve(&scenario)?;
            let export = kubesim::scenario::export(&yaml)?;
            let docs = match part {
                Part::Crds => &export.crds,
                Part::Objects => &export.objects,
                Part::Status => &export.statuses,
            };
            let mut out = std::io::stdout().lock();
            for doc in docs {
                writeln!(out, "---\n{}", serde_saphyr::to_string(doc)?.trim_end())?;
            }
            Ok(())
        }
        Cmd::Serve {
            scenario,
            kubeconfig,
            port,
            http,
            http1_only,
            users,
            version_git,
            controllers,
            cost,
        } => {
            let cost: kubesim::Cost = cost.parse().map_err(anyhow::Error::msg)?;
            let mut b = kubesim::Sim::builder()
                .scenario(&scenario)
                .tls(!http)
                .http2(!http1_only)
                .port(port)
                .controllers(controllers)
                .cost(cost);
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
                "kubesim: serving {} at {} (cost {cost}, kubeconfig {})",
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
