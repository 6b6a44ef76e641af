//! `cargo run -p bench --bin bench-fleet -- [--members 50] [--parallel 1,4,8,16] [--runs 3] [--costs free,real]`
//!
//! The fleet benchmark (issue 16): one kubesim per cluster, in this process (a `ks34-host` and
//! `--members` × `ks34-member`), under each cost model, the host's `Cluster` objects pointing at
//! the members' URLs and a kubeconfig with a context per cluster. Runs `kubectl health --fleet`
//! and `kubectl upgrade-plan --fleet` at each `--max-parallel` and reports the median wall time
//! and the peak RSS (measured through a launcher process, see [`Launcher`]); appends (or replaces) its own section at the end of bench/RESULTS.md. The main
//! `bench` binary is separate and keeps that section (it sits after its notes marker).

#[allow(dead_code)]
#[path = "measure.rs"]
mod measure;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use kubesim::{Cost, Sim};
use serde_json::json;

const START: &str =
    "<!-- bench-fleet: start (written by `cargo run -p bench --bin bench-fleet`) -->";
const END: &str = "<!-- bench-fleet: end -->";

/// The fleet benchmark.
#[derive(Debug, Parser)]
#[command(name = "bench-fleet")]
struct Args {
    /// Member clusters (each its own kubesim)
    #[arg(long, default_value_t = 50)]
    members: usize,
    /// The --max-parallel values to measure (comma-separated)
    #[arg(long, default_value = "1,4,8,16")]
    parallel: String,
    /// Measured runs per setting (after one discarded warm-up run)
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the plugin binaries are (default: target/release, else target/debug)
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Time limit of one run, in seconds
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Where to write the results (default: bench/RESULTS.md); `-` to skip
    #[arg(long)]
    results: Option<String>,
    /// kubesim's cost models to measure under (comma-separated `free`, `real`); each cluster
    /// answers with a real API server's costs under `real`
    #[arg(long, default_value = "free,real")]
    costs: String,
    /// Internal: run as the launcher (see `Launcher`)
    #[arg(long, hide = true)]
    launcher: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() {
    let args = Args::parse();
    let outcome = if args.launcher {
        launcher_loop()
    } else {
        run(args)
    };
    if let Err(e) = outcome {
        eprintln!("bench-fleet: error: {e:#}");
        std::process::exit(2);
    }
}

/// One measured setting.
struct Row {
    cost: Cost,
    plugin: &'static str,
    parallel: usize,
    wall: Duration,
    rss_kib: u64,
    code: Option<i32>,
}

fn bin_dir(args: &Args) -> Result<(PathBuf, &'static str)> {
    if let Some(d) = &args.bin_dir {
        return Ok((d.clone(), "given"));
    }
    for (dir, label) in [("target/release", "release"), ("target/debug", "debug")] {
        let d = root().join(dir);
        if d.join("kubectl-health").is_file() && d.join("kubectl-upgrade_plan").is_file() {
            return Ok((d, label));
        }
    }
    bail!("no built plugins: run `cargo build --release --bins` (or pass --bin-dir)")
}

fn run(args: Args) -> Result<()> {
    let parallel: Vec<usize> = args
        .parallel
        .split(',')
        .map(|p| p.trim().parse::<usize>().context("--parallel"))
        .collect::<Result<_>>()?;
    if args.runs == 0 || args.members < 2 || parallel.contains(&0) {
        bail!("--runs and every --parallel must be at least 1, --members at least 2");
    }
    let (bins, build) = bin_dir(&args)?;
    // Before the kubesims fill this process: the plugins are started by a small process, so
    // their peak RSS is theirs (see `Launcher`).
    let mut launcher = Launcher::start()?;
    let costs: Vec<Cost> = args
        .costs
        .split(',')
        .map(|c| match c.trim() {
            "free" => Ok(Cost::Free),
            "real" => Ok(Cost::Real),
            other => bail!("--costs: `{other}` is not free or real"),
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for cost in costs {
        eprintln!(
            "bench-fleet: starting 1 host and {} member kubesims (cost {cost})",
            args.members
        );
        let host = Sim::builder()
            .scenario("ks34-host")
            .cost(cost)
            .start()
            .context("kubesim ks34-host")?;
        let members: Vec<Sim> = (0..args.members)
            .map(|i| {
                Sim::builder()
                    .scenario("ks34-member")
                    .cost(cost)
                    .start()
                    .with_context(|| format!("kubesim member {i}"))
            })
            .collect::<Result<_>>()?;
        let dir = tempfile::tempdir()?;
        let names = member_names(args.members);
        point_members(&host, &members, &names)?;
        let kubeconfig = dir.path().join("kubeconfig");
        write_kubeconfig(dir.path(), &kubeconfig, &host, &members, &names)?;

        for (plugin, bin) in [
            ("health", "kubectl-health"),
            ("upgrade-plan", "kubectl-upgrade_plan"),
        ] {
            for &p in &parallel {
                let mut samples = Vec::new();
                for i in 0..=args.runs {
                    let out = dir.path().join(format!("{plugin}-{p}.json"));
                    let s = launcher.run(&json!({
                        "bin": bins.join(bin),
                        "args": ["--fleet", "--max-parallel", p.to_string(), "-o", "json"],
                        "env": {
                            "KUBECONFIG": kubeconfig,
                            "HOME": dir.path(),
                            "NO_COLOR": "1",
                        },
                        "out": out,
                        "timeoutSecs": args.timeout,
                    }))?;
                    if s.code != Some(0) {
                        eprintln!(
                            "bench-fleet: warning: {plugin} --max-parallel {p} exited {:?}",
                            s.code
                        );
                    }
                    if i > 0 {
                        samples.push(s);
                    }
                }
                samples.sort_by_key(|s| s.wall);
                let median = samples[samples.len() / 2];
                let rss = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
                eprintln!(
                    "bench-fleet: {cost:<4} {plugin:<12} --max-parallel {p:>2}: {:>7.0} ms, {:>6.1} MB",
                    median.wall.as_secs_f64() * 1000.0,
                    rss as f64 / 1024.0
                );
                rows.push(Row {
                    cost,
                    plugin,
                    parallel: p,
                    wall: median.wall,
                    rss_kib: rss,
                    code: median.code,
                });
            }
        }
    }
    let text = section(&args, build, &rows);
    print!("{text}");
    let target = args
        .results
        .clone()
        .unwrap_or_else(|| root().join("bench/RESULTS.md").display().to_string());
    if target != "-" {
        let old = std::fs::read_to_string(&target).unwrap_or_default();
        std::fs::write(&target, replace_section(&old, &text))
            .with_context(|| format!("write {target}"))?;
        eprintln!("bench-fleet: wrote {target}");
    }
    Ok(())
}

/// Starts the measured plugins on behalf of this process.
///
/// A child's `ru_maxrss` counts the memory of the process it was spawned from until it calls
/// `exec` (the kernel records the old address space's high-water mark at `exec`, and a spawned
/// child shares or copies its parent's). With 51 kubesims loaded, this process holds ~8 MB per
/// cluster, which the first fleet runs reported as the plugin's own peak RSS. The launcher is this
/// same binary (`--launcher`), started before any kubesim, so the plugins it spawns start from a
/// process of a few MB. It reads one JSON request per line on stdin and answers one JSON line.
struct Launcher {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Launcher {
    fn start() -> Result<Self> {
        use std::process::Stdio;
        let mut child = Command::new(std::env::current_exe().context("bench-fleet's own path")?)
            .arg("--launcher")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("start the launcher")?;
        let input = child.stdin.take().context("launcher stdin")?;
        let output = std::io::BufReader::new(child.stdout.take().context("launcher stdout")?);
        Ok(Self {
            child,
            input,
            output,
        })
    }

    /// Runs one command (see `launcher_loop` for the request) and returns its sample.
    fn run(&mut self, request: &serde_json::Value) -> Result<measure::Sample> {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{request}").context("write to the launcher")?;
        self.input.flush().context("write to the launcher")?;
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .context("read from the launcher")?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("the launcher answered `{}`", line.trim()))?;
        if let Some(e) = v["error"].as_str() {
            bail!("launcher: {e}");
        }
        Ok(measure::Sample {
            wall: Duration::from_micros(v["wallUs"].as_u64().unwrap_or(0)),
            max_rss_kib: v["maxRssKib"].as_u64().unwrap_or(0),
            code: v["code"].as_i64().map(|c| c as i32),
            timed_out: v["timedOut"].as_bool().unwrap_or(false),
            cpu: Duration::from_micros(v["cpuUs"].as_u64().unwrap_or(0)),
            start_us: v["startUs"].as_u64().unwrap_or(0),
        })
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // Its stdin closes with us; it then exits.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--launcher`: for each request line `{"bin", "args", "env", "out", "timeoutSecs"}`, runs the
/// command (environment cleared, then `env` set; stdout to `out`) and answers with its sample.
fn launcher_loop() -> Result<()> {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.context("read a request")?;
        let answer = match launch(&line) {
            Ok(s) => json!({
                "wallUs": s.wall.as_micros() as u64,
                "maxRssKib": s.max_rss_kib,
                "code": s.code,
                "timedOut": s.timed_out,
                "cpuUs": s.cpu.as_micros() as u64,
                "startUs": s.start_us,
            }),
            Err(e) => json!({ "error": format!("{e:#}") }),
        };
        writeln!(stdout, "{answer}").context("answer")?;
        stdout.flush().context("answer")?;
    }
    Ok(())
}

fn launch(line: &str) -> Result<measure::Sample> {
    let req: serde_json::Value = serde_json::from_str(line).context("a request line")?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut cmd = Command::new(text(&req["bin"]));
    cmd.env_clear();
    if let Some(env) = req["env"].as_object() {
        for (k, v) in env {
            cmd.env(k, text(v));
        }
    }
    for a in req["args"].as_array().into_iter().flatten() {
        cmd.arg(text(a));
    }
    let out = PathBuf::from(text(&req["out"]));
    let limit = Duration::from_secs(req["timeoutSecs"].as_u64().unwrap_or(300));
    measure::run(cmd, Some(&out), None, limit)
}

/// `member-a`, `member-b` (the scenario's own), then `member-03` …
fn member_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i {
            0 => "member-a".to_string(),
            1 => "member-b".to_string(),
            i => format!("member-{:02}", i + 1),
        })
        .collect()
}

/// Points the scenario's two members at the first two sims and creates the others.
fn point_members(host: &Sim, members: &[Sim], names: &[String]) -> Result<()> {
    for (name, sim) in names.iter().zip(members).take(2) {
        let body =
            json!({"spec": {"connection": {"type": "direct", "kubernetesAPIEndpoint": sim.url()}}});
        host.request(
            "PATCH",
            &format!("/apis/cluster.kubesphere.io/v1alpha1/clusters/{name}"),
            "application/merge-patch+json",
            body.to_string().as_bytes(),
        )
        .with_context(|| format!("patch Cluster {name}"))?;
    }
    let mut yaml = String::new();
    for (name, sim) in names.iter().zip(members).skip(2) {
        let _ = write!(
            yaml,
            "---\napiVersion: cluster.kubesphere.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: {name}\nspec:\n  connection:\n    type: direct\n    kubernetesAPIEndpoint: {url}\n  enable: true\nstatus:\n  conditions:\n  - type: Ready\n    status: \"True\"\n    reason: Ready\n    message: Cluster is available now\n  kubeSphereVersion: v3.4.1\n  kubernetesVersion: v1.26.15\n",
            url = sim.url()
        );
    }
    if !yaml.is_empty() {
        host.apply_yaml(&yaml).context("create Cluster objects")?;
    }
    Ok(())
}

fn write_kubeconfig(
    dir: &Path,
    path: &Path,
    host: &Sim,
    members: &[Sim],
    names: &[String],
) -> Result<()> {
    let mut clusters = String::new();
    let mut contexts = String::new();
    let mut users = String::new();
    let all = std::iter::once(("host", host)).chain(names.iter().map(String::as_str).zip(members));
    for (name, sim) in all {
        let ca = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca, sim.ca_pem().unwrap_or_default())?;
        let _ = write!(
            clusters,
            "- name: {name}\n  cluster:\n    server: {}\n    certificate-authority: {}\n",
            sim.url(),
            ca.display()
        );
        let _ = write!(
            contexts,
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        );
        let _ = write!(
            users,
            "- name: {name}\n  user:\n    token: {}\n",
            sim.admin_token()
        );
    }
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: host\nclusters:\n{clusters}contexts:\n{contexts}users:\n{users}"
        ),
    )?;
    Ok(())
}

fn section(args: &Args, build: &str, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{START}");
    let _ = writeln!(s, "## Fleet: host + {} members (issue 16)", args.members);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "`cargo run -p bench --bin bench-fleet -- --members {} --parallel {} --runs {} --costs {}`: one kubesim per cluster \
         (ks34-host, {} × ks34-member) in the bench process, under each cost model, a kubeconfig context per cluster, `-o json`; \
         median of {} runs after a warm-up, peak RSS the largest of them (the plugin's own: it is started by a small launcher process, \
         not by the bench process that holds the kubesims); plugins from the {build} build.",
        args.members, args.parallel, args.runs, args.costs, args.members, args.runs
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| cost | command | --max-parallel | wall (median) | clusters ÷ parallel | ms per round of clusters | peak RSS | exit |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
    let clusters = args.members + 1;
    for r in rows {
        let rounds = clusters.div_ceil(r.parallel);
        let _ = writeln!(
            s,
            "| {} | {} --fleet | {} | {:.0} ms | {} | {:.0} | {:.1} MB | {} |",
            r.cost,
            r.plugin,
            r.parallel,
            r.wall.as_secs_f64() * 1000.0,
            rounds,
            r.wall.as_secs_f64() * 1000.0 / rounds as f64,
            r.rss_kib as f64 / 1024.0,
            r.code.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
        );
    }
    let _ = writeln!(s, "{END}");
    s
}

/// Replaces the fleet section of `old` (or appends it at the end).
fn replace_section(old: &str, section: &str) -> String {
    match (old.find(START), old.find(END)) {
        (Some(a), Some(b)) if b > a => {
            let tail = &old[b + END.len()..];
            format!("{}{}{}", &old[..a], section.trim_end_matches('\n'), tail)
        }
        _ => {
            let sep = if old.is_empty() || old.ends_with("\n\n") {
                ""
            } else if old.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{old}{sep}{section}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_appended_once_then_replaced() {
        let first = replace_section("# Results\n", &format!("{START}\none\n{END}\n"));
        assert_eq!(first, format!("# Results\n\n{START}\none\n{END}\n"));
        let second = replace_section(&first, &format!("{START}\ntwo\n{END}\n"));
        assert_eq!(second, format!("# Results\n\n{START}\ntwo\n{END}\n"));
    }

    #[test]
    fn member_names_keep_the_scenarios_two() {
        assert_eq!(
            member_names(4),
            ["member-a", "member-b", "member-03", "member-04"]
        );
    }
}
