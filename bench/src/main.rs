//! `cargo run --release -p bench -- [--scales standard,10000,5000] [--costs free,real] [--runs 5]`
//!
//! Starts the release `kubesim` once per scale and cost model, runs `kubectl health` and
//! `kubectl upgrade-plan` (release builds) next to the kubectl scripts they replace, and prints
//! wall time (median), peak RSS, CPU, API requests and bytes received (kubesim's counters) and
//! the ratio to the scripts, then where the plugins' time went under the real-cost model (from
//! kubesim's request log). Writes the tables, the targets of issues 9 and 15 and the machine to
//! `bench/RESULTS.md`. See bench/README.md.

mod measure;
mod report;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

use report::{BinaryFacts, Req, Row, Scale, Side};

/// The upstream post-upgrade check (the 3.4.x → 4.1.3 upgrade guide,
/// <https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/>), verbatim.
const HEALTH_LOOP: &str = "for ns in $(kubectl get namespaces -l kubesphere.io/workspace=system-workspace -o jsonpath='{.items[*].metadata.name}'); do kubectl get pods -n $ns --no-headers --ignore-not-found | grep -vE 'Running|Completed'; done";

/// Appended to the saved output of a run that hit the time limit.
const PARTIAL: &str = "\n<<bench: time limit hit, output partial>>\n";

/// Marker in RESULTS.md: everything after it is hand-written and kept when the file is rewritten.
const NOTES_MARKER: &str = "<!-- notes: kept when bench rewrites this file -->";

/// Benchmarks the plugins against kubesim, side by side with the kubectl scripts they replace.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Scales: `standard` (ks34-host), `500`, `5000`, or any kubesim scenario (`broken`, `scale:…`)
    #[arg(long, default_value = report::DEFAULT_SCALES)]
    scales: String,
    /// kubesim cost models to run every scale under: `free`, `real` (see tests/kubesim/README.md)
    #[arg(long, default_value = report::DEFAULT_COSTS)]
    costs: String,
    /// Measured runs per command (after one warm-up run, which is discarded)
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// A command whose warm-up run takes longer than this many seconds is measured by that one run
    #[arg(long, default_value_t = 60)]
    slow: u64,
    /// Time limit of one run, in seconds; a run that hits it is killed and reported as "> limit"
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Runs of each `--help` timing
    #[arg(long, default_value_t = 41)]
    help_runs: usize,
    /// Do not run `cargo build --release --bins` first
    #[arg(long)]
    no_build: bool,
    /// Where the binaries are (default: target/release); another directory implies --no-build
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Do not run the kubectl scripts (plugins only)
    #[arg(long)]
    no_scripts: bool,
    /// The kubectl the scripts run
    #[arg(long, default_value = "/usr/bin/kubectl")]
    kubectl: PathBuf,
    /// Where to write the results (default: bench/RESULTS.md); `-` to skip
    #[arg(long)]
    results: Option<String>,
}

/// The workspace root (bench/..).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("bench: error: {e:#}");
        std::process::exit(2);
    }
}

fn run(args: Args) -> Result<()> {
    let root = root();
    let scales = report::parse_scales(&args.scales)?;
    let costs = report::parse_costs(&args.costs)?;
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if !args.no_build && args.bin_dir.is_none() {
        eprintln!("bench: cargo build --release --bins");
        let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--bins"])
            .current_dir(&root)
            .status()
            .context("run cargo")?;
        if !st.success() {
            eprintln!(
                "bench: warning: the release build failed; measuring the binaries that exist"
            );
        }
    }
    let release = args
        .bin_dir
        .clone()
        .unwrap_or_else(|| root.join("target/release"));
    let kubesim = release.join("kubesim");
    if !kubesim.is_file() {
        bail!(
            "{} is missing: run `cargo build --release --bins`",
            kubesim.display()
        );
    }
    let plugins: Vec<(&'static str, PathBuf)> = [
        ("health", "kubectl-health"),
        ("upgrade-plan", "kubectl-upgrade_plan"),
    ]
    .into_iter()
    .map(|(p, b)| (p, release.join(b)))
    .filter(|(_, b)| {
        let ok = b.is_file();
        if !ok {
            eprintln!("bench: warning: {} is missing; skipped", b.display());
        }
        ok
    })
    .collect();

    let machine = machine(&args.kubectl);
    eprint!("{machine}");
    let bins = binary_facts(&release, args.help_runs)?;
    let work = std::env::temp_dir().join(format!("kupgrade-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    let mut rows: Vec<Row> = Vec::new();
    let mut details = String::new();
    let mut scales_run = Vec::new();
    for scale in &scales {
        let mut scale = scale.clone();
        for &cost in &costs {
            eprintln!(
                "bench: scale {} ({}), cost {cost}",
                scale.label, scale.scenario
            );
            let dir = work.join(format!(
                "{}-{cost}",
                scale.label.replace(['/', ':', ','], "_")
            ));
            std::fs::create_dir_all(&dir)?;
            let sim = match Sim::start(&kubesim, &scale.scenario, cost, &dir) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("bench: warning: kubesim failed for {}: {e:#}", scale.label);
                    let _ = writeln!(
                        details,
                        "\n### {} ({cost} cost)\n\nkubesim failed: {e:#}",
                        scale.label
                    );
                    continue;
                }
            };
            let env = Env {
                kubeconfig: sim.kubeconfig.clone(),
                cache: dir.join("kube-cache"),
                kubectl: args.kubectl.clone(),
                url: sim.url.clone(),
            };
            if let Some(n) = count_namespaces(&env) {
                scale.namespaces = Some(n);
            }
            let _ = writeln!(
                details,
                "\n### {} (`{}`), {cost} cost\n\nkubesim: ready {} after start, RSS {} after loading{}.",
                scale.label,
                scale.scenario,
                report::fmt_dur(sim.startup),
                sim.rss_kib().map(report::fmt_mb_kib).unwrap_or("-".into()),
                scale
                    .namespaces
                    .map(|n| format!(", {n} namespaces"))
                    .unwrap_or_default()
            );
            let mut outs: BTreeMap<String, String> = BTreeMap::new();
            for c in commands(&plugins, &root, args.no_scripts) {
                // a script that hit the time limit without costs would hit it with them too
                let timed_out_free = rows.iter().any(|r| {
                    r.scale == scale.label && r.cost == "free" && r.name == c.name && r.timed_out
                });
                if cost == "real" && timed_out_free && c.side == Side::Script {
                    eprintln!(
                        "bench:   {:<28} skipped: timed out under the free model",
                        c.name
                    );
                    rows.push(Row {
                        skipped: Some(format!(
                            "not run (> {} free)",
                            report::fmt_dur(Duration::from_secs(args.timeout))
                        )),
                        ..Row::new(&scale.label, cost, c.pair, c.side, &c.name)
                    });
                    continue;
                }
                let row = measure_cmd(&c, &scale, cost, &env, &sim, &dir, &args)?;
                let out_file = dir.join(format!("{}.out", slug(&c.name)));
                let mut text = std::fs::read_to_string(&out_file).unwrap_or_default();
                if row.timed_out {
                    text.push_str(PARTIAL);
                }
                outs.insert(c.name.clone(), text);
                eprintln!(
                    "bench:   {:<28} {:>10}  {:>9}  {:>6} requests{}",
                    c.name,
                    row.wall().map(report::fmt_dur).unwrap_or_default(),
                    row.peak_rss().map(report::fmt_mb_kib).unwrap_or_default(),
                    row.req().unwrap_or(0),
                    row.breakdown()
                        .filter(|b| !b.floor.is_zero())
                        .map(|b| format!(", floor {}", report::fmt_dur(b.floor)))
                        .unwrap_or_default()
                );
                let _ = writeln!(
                    details,
                    "\n`{}`: requests by route (last run): {}",
                    c.name,
                    row.routes
                        .iter()
                        .take(8)
                        .map(|(r, n)| format!("{n}× `{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(b) = row
                    .breakdown()
                    .filter(|b| !b.floor.is_zero() && c.side == Side::Plugin)
                {
                    let _ = writeln!(
                        details,
                        "\n`{}`: critical path (median run, {} of modelled cost): {}",
                        c.name,
                        report::fmt_dur(b.floor),
                        b.path
                            .iter()
                            .map(|(r, us)| format!("`{r}` {:.1} ms", *us as f64 / 1000.0))
                            .collect::<Vec<_>>()
                            .join(" → ")
                    );
                }
                rows.push(row);
            }
            let _ = write!(
                details,
                "\nkubesim peak RSS {} during this scale.\n",
                sim.peak_rss_kib()
                    .map(report::fmt_mb_kib)
                    .unwrap_or("-".into())
            );
            details.push_str(&findings(&outs));
            drop(sim);
        }
        scales_run.push(scale);
    }
    let _ = std::fs::remove_dir_all(&work);

    let table = report::results_text(&rows);
    println!("\n{table}");
    if rows.iter().any(|r| r.cost == "real") {
        println!(
            "Where the time goes (real cost, median run):\n{}",
            report::time_text(&rows)
        );
    }
    let targets = report::targets(&rows, &scales_run, &bins);
    for t in &targets {
        println!(
            "{:<14} {} — {}",
            match t.met {
                Some(true) => "met",
                Some(false) => "NOT MET",
                None => "not measured",
            },
            t.what,
            t.evidence
        );
    }
    let results = match args.results.as_deref() {
        Some("-") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => Some(root.join("bench/RESULTS.md")),
    };
    if let Some(path) = results {
        let notes = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.split_once(NOTES_MARKER).map(|(_, n)| n.to_string()))
            .unwrap_or_else(|| "\n".into());
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Benchmark results\n\nGenerated by `cargo run --release -p bench -- --scales {} --costs {} --runs {}{}` (see bench/README.md).\n\n## Machine\n\n```\n{machine}```\n\n## Results\n\n{}\n## Where the time goes (real cost)\n\n{}\n## Targets (issue 9 under the free model, issue 15 under the real-cost model)\n\n{}\n## Binaries\n\n{}\n## Details\n{details}\n{NOTES_MARKER}{notes}",
            args.scales,
            args.costs,
            args.runs,
            args.bin_dir
                .as_ref()
                .map(|d| format!(" --bin-dir {}", d.display()))
                .unwrap_or_default(),
            report::results_markdown(&rows),
            report::time_markdown(&rows),
            report::targets_markdown(&targets),
            report::markdown_table(
                &["binary", "size", "--help (median)"],
                &bins
                    .iter()
                    .map(|b| vec![
                        b.name.clone(),
                        format!("{:.1} MB", b.size as f64 / 1e6),
                        b.help.map(report::fmt_dur).unwrap_or("-".into())
                    ])
                    .collect::<Vec<_>>()
            ),
        );
        std::fs::write(&path, md).with_context(|| format!("write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// The commands of one scale: each plugin, then the scripts it replaces.
fn commands(plugins: &[(&'static str, PathBuf)], root: &Path, no_scripts: bool) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = Vec::new();
    for (pair, bin) in plugins {
        cmds.push(Cmd {
            pair,
            side: Side::Plugin,
            name: format!("kubectl {pair}"),
            argv: vec![bin.display().to_string()],
        });
        if no_scripts {
            continue;
        }
        if *pair == "health" {
            cmds.push(Cmd {
                pair,
                side: Side::Script,
                name: "system-workspace for-loop".into(),
                argv: vec!["bash".into(), "-c".into(), HEALTH_LOOP.into()],
            });
        } else {
            for (name, script) in [
                ("pre-check-kubectl.sh", "bench/scripts/pre-check-kubectl.sh"),
                ("deprecated-scan.sh", "bench/scripts/deprecated-scan.sh"),
            ] {
                cmds.push(Cmd {
                    pair,
                    side: Side::Script,
                    name: name.into(),
                    argv: vec!["bash".into(), root.join(script).display().to_string()],
                });
            }
        }
    }
    cmds
}

/// One command to measure.
struct Cmd {
    pair: &'static str,
    side: Side,
    name: String,
    argv: Vec<String>,
}

/// What every measured command gets in its environment.
struct Env {
    kubeconfig: PathBuf,
    cache: PathBuf,
    kubectl: PathBuf,
    url: String,
}

impl Env {
    fn command(&self, argv: &[String]) -> Command {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .env("KUBECONFIG", &self.kubeconfig)
            // kubectl's discovery cache, per scale (kubesim's port changes): the warm-up run fills it
            .env("KUBECACHEDIR", &self.cache)
            .env("KUBECTL", &self.kubectl)
            .env("NO_COLOR", "1");
        // the scripts call `kubectl`: make it the chosen one
        if let Some(dir) = self.kubectl.parent() {
            let path = std::env::var("PATH").unwrap_or_default();
            c.env("PATH", format!("{}:{path}", dir.display()));
        }
        c
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Runs a command: one warm-up run, then `--runs` measured runs (or the warm-up alone when slow).
fn measure_cmd(
    c: &Cmd,
    scale: &Scale,
    cost: &'static str,
    env: &Env,
    sim: &Sim,
    dir: &Path,
    args: &Args,
) -> Result<Row> {
    let mut row = Row::new(&scale.label, cost, c.pair, c.side, &c.name);
    let out = dir.join(format!("{}.out", slug(&c.name)));
    let err = dir.join(format!("{}.err", slug(&c.name)));
    let limit = Duration::from_secs(args.timeout);
    for i in 0..=args.runs {
        let before = counters(env);
        clear_requests(env);
        let cpu0 = sim.cpu();
        let s = measure::run(env.command(&c.argv), Some(&out), Some(&err), limit)?;
        let cpu1 = sim.cpu();
        let after = counters(env);
        let slow = s.wall > Duration::from_secs(args.slow);
        if i == 0 && !slow && !s.timed_out {
            row.warmup = true;
            continue; // warm-up
        }
        row.walls.push(s.wall);
        row.rss_kib.push(s.max_rss_kib);
        row.cpu.push(s.cpu);
        row.exit = s.code;
        row.timed_out = s.timed_out;
        if let (Some(a), Some(b)) = (cpu0, cpu1) {
            row.sim_cpu.push(b.saturating_sub(a));
        }
        if let (Some(b), Some(a)) = (&before, &after) {
            row.requests.push(a.requests.saturating_sub(b.requests));
            row.bytes.push(a.bytes.saturating_sub(b.bytes));
            row.routes = report::route_diff(&b.routes, &a.routes);
        }
        if let Some(b) = requests(env).and_then(|reqs| report::breakdown(s.start_us, s.wall, &reqs))
        {
            row.breakdowns.push(b);
        }
        if i == 0 || s.timed_out {
            break; // slow or timed out: this one run is the measurement
        }
    }
    if row.exit.is_some_and(|c| c >= 2) {
        let e = std::fs::read_to_string(&err).unwrap_or_default();
        eprintln!(
            "bench: warning: {} exited {:?}: {}",
            c.name,
            row.exit,
            e.lines().take(3).collect::<Vec<_>>().join(" / ")
        );
    }
    Ok(row)
}

/// Clears kubesim's request log (`DELETE /kubesim/v1/requests`).
fn clear_requests(env: &Env) {
    let url = format!("{}/kubesim/v1/requests", env.url);
    let _ = Command::new("curl")
        .args(["-sfk", "--max-time", "30", "-X", "DELETE", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// kubesim's request log since the last clear (`GET /kubesim/v1/requests`).
fn requests(env: &Env) -> Option<Vec<Req>> {
    let url = format!("{}/kubesim/v1/requests", env.url);
    let out = Command::new("curl")
        .args(["-sfk", "--max-time", "60", &url])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?
        .iter()
        .map(|r| {
            Some(Req {
                request: r.get("request")?.as_str()?.to_string(),
                arrival_us: r.get("arrivalUs")?.as_u64()?,
                done_us: r.get("doneUs")?.as_u64()?,
                cost_us: r.get("costUs")?.as_u64()?,
            })
        })
        .collect()
}

/// kubesim's counters.
struct Counters {
    requests: u64,
    bytes: u64,
    routes: BTreeMap<String, u64>,
}

/// Reads `/kubesim/v1/counters` (not counted itself) with curl, or kubectl when curl is missing.
fn counters(env: &Env) -> Option<Counters> {
    let url = format!("{}/kubesim/v1/counters", env.url);
    let out = Command::new("curl")
        .args(["-sfk", "--max-time", "30", &url])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .or_else(|| {
            env.command(&[
                env.kubectl.display().to_string(),
                "get".into(),
                "--raw".into(),
                "/kubesim/v1/counters".into(),
            ])
            .stderr(Stdio::null())
            .output()
            .ok()
        })?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Counters {
        requests: v.get("requests")?.as_u64()?,
        bytes: v.get("bytesSent")?.as_u64()?,
        routes: v
            .get("byRoute")
            .and_then(|r| r.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn count_namespaces(env: &Env) -> Option<u64> {
    let out = env
        .command(&[
            env.kubectl.display().to_string(),
            "get".into(),
            "namespaces".into(),
            "--no-headers".into(),
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).lines().count() as u64)
}

/// A kubesim child process.
struct Sim {
    child: Child,
    kubeconfig: PathBuf,
    url: String,
    startup: Duration,
}

impl Sim {
    fn start(kubesim: &Path, scenario: &str, cost: &str, dir: &Path) -> Result<Sim> {
        let kubeconfig = dir.join("kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let log = std::fs::File::create(dir.join("kubesim.log"))?;
        let t = Instant::now();
        let mut child = Command::new(kubesim)
            .args([
                "serve",
                "--scenario",
                scenario,
                "--cost",
                cost,
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", kubesim.display()))?;
        while !kubeconfig.exists() {
            if let Some(st) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.join("kubesim.log")).unwrap_or_default();
                bail!("kubesim exited ({st}): {}", log.trim());
            }
            if t.elapsed() > Duration::from_secs(600) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("kubesim did not write its kubeconfig within 600 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let startup = t.elapsed();
        let text = std::fs::read_to_string(&kubeconfig)?;
        let url = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("server:"))
            .map(|s| s.trim().trim_matches('"').to_string())
            .context("no server in kubesim's kubeconfig")?;
        Ok(Sim {
            child,
            kubeconfig,
            url,
            startup,
        })
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// kubesim's CPU time so far (user + system, from /proc/PID/stat).
    fn cpu(&self) -> Option<Duration> {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 1000 / clock_ticks()))
    }

    fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        measure::terminate(self.child.id());
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
#[allow(unsafe_code)]
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// Size and median `--help` time of each plugin binary.
fn binary_facts(release: &Path, help_runs: usize) -> Result<Vec<BinaryFacts>> {
    let mut out = Vec::new();
    for name in [
        "kubectl-health",
        "kubectl-upgrade_plan",
        "kubectl-ks_migrate",
        "kubectl-untaint_member",
    ] {
        let bin = release.join(name);
        let Ok(meta) = std::fs::metadata(&bin) else {
            continue;
        };
        let mut walls = Vec::new();
        for _ in 0..help_runs.max(1) {
            let mut c = Command::new(&bin);
            c.arg("--help");
            let s = measure::run(c, None, None, Duration::from_secs(10))?;
            if s.code == Some(0) {
                walls.push(s.wall);
            }
        }
        // the first run (cold page cache) is discarded when there are more
        if walls.len() > 1 {
            walls.remove(0);
        }
        out.push(BinaryFacts {
            name: name.into(),
            size: meta.len(),
            help: report::median(&walls),
        });
    }
    Ok(out)
}

/// The machine, for RESULTS.md.
fn machine(kubectl: &Path) -> String {
    let sh = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|k| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!(
        "nproc:   {}\nmemory:  {mem}\ncpu:     {model}\nkernel:  {}\nrustc:   {}\nkubectl: {} ({})\n",
        sh("nproc", &[]),
        sh("uname", &["-sr"]),
        sh("rustc", &["--version"]),
        kubectl.display(),
        sh(
            &kubectl.display().to_string(),
            &["version", "--client", "-o", "yaml"]
        )
        .lines()
        .find_map(|l| l.trim().strip_prefix("gitVersion:"))
        .map(str::trim)
        .unwrap_or("?")
    )
}

/// Compares what the scripts found with what the plugins printed.
fn findings(outs: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    let get = |k: &str| outs.get(k).map(String::as_str);
    let partial = |k: &str| {
        if get(k).is_some_and(|o| o.ends_with(PARTIAL)) {
            " [the script hit the time limit: its output, and this comparison, are partial]"
        } else {
            ""
        }
    };
    if let (Some(looped), Some(health)) = (get("system-workspace for-loop"), get("kubectl health"))
    {
        let pods = report::loop_pods(looped);
        let (hit, miss) = report::mentioned(health, &pods);
        let _ = writeln!(
            s,
            "\nFindings, health: the for-loop lists {} pod(s) not Running/Completed in system-workspace namespaces; `kubectl health` names {} of them{}.{}",
            pods.len(),
            hit.len(),
            if miss.is_empty() {
                String::new()
            } else {
                format!(" (missing: {})", miss.join(", "))
            },
            partial("system-workspace for-loop")
        );
    }
    if let Some(plan) = get("kubectl upgrade-plan") {
        if let Some(pre) = get("pre-check-kubectl.sh") {
            let (pods, fails) = report::precheck_findings(pre);
            let (hit, miss) = report::mentioned(plan, &pods);
            let _ = writeln!(
                s,
                "\nFindings, upgrade-plan vs pre-check: pre-check lists {} pod(s) not Running ({} named by upgrade-plan{}) and {} failed check(s){}.{}",
                pods.len(),
                hit.len(),
                if miss.is_empty() {
                    String::new()
                } else {
                    format!("; missing: {}", miss.join(", "))
                },
                fails.len(),
                if fails.is_empty() {
                    String::new()
                } else {
                    format!(": {}", fails.join("; "))
                },
                partial("pre-check-kubectl.sh")
            );
        }
        if let Some(scan) = get("deprecated-scan.sh") {
            let objs = report::scan_findings(scan);
            let names: Vec<String> = objs.iter().map(|(_, n)| n.clone()).collect();
            let (hit, miss) = report::mentioned(plan, &names);
            let _ = writeln!(
                s,
                "\nFindings, upgrade-plan vs deprecated-scan: the scan reports {} object(s) last applied with a deprecated apiVersion{}; upgrade-plan names {} of them{}.{}",
                objs.len(),
                if objs.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        objs.iter()
                            .map(|(a, n)| format!("{a} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                hit.len(),
                if miss.is_empty() {
                    String::new()
                } else {
                    format!(" (missing: {})", miss.join(", "))
                },
                partial("deprecated-scan.sh")
            );
        }
    }
    s
}
