//! Harness for the end-to-end tests: the built plugin binaries and the real `/usr/bin/kubectl`
//! against kubesim over HTTPS on 127.0.0.1.
//!
//! ```no_run
//! let env = e2e::Env::new("ks41-host-migrated");
//! let run = env.plugin("health").args(["-o", "json"]).run();
//! run.assert_code(1);
//! let report = run.json();
//! env.kubectl().args(["get", "nodes"]).run().assert_success();
//! ```
//!
//! Each [`Env`] has its own kubesim (own port, own CA, own data), its own temporary directory
//! with a kubeconfig, and a `bin/` directory holding the four plugins under their kubectl names,
//! as krew installs them, so `kubectl upgrade-plan` works through the real kubectl. Commands run
//! with `NO_COLOR=1`, no terminal, `HOME` in the temporary directory and only the environment
//! they need, so results do not depend on the machine.
//!
//! The binaries come from the cargo target directory next to the test executable
//! (`target/debug`), which `cargo test --workspace` builds first (each plugin package has a CLI
//! test, which makes cargo build its binary).

pub mod contract;
pub mod helm;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub use kubesim::{self, Sim};
use serde_json::Value;
use tempfile::TempDir;

/// The plugins, by their kubectl command name, and their binary names.
pub const PLUGINS: [(&str, &str); 4] = [
    ("upgrade-plan", "kubectl-upgrade_plan"),
    ("ks-migrate", "kubectl-ks_migrate"),
    ("untaint-member", "kubectl-untaint_member"),
    ("health", "kubectl-health"),
];

/// The real kubectl the tests check results with.
pub fn kubectl_path() -> PathBuf {
    for p in ["/usr/bin/kubectl", "/usr/local/bin/kubectl"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("kubectl")
}

/// The cargo target directory holding the built binaries (`target/debug`).
pub fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KUPGRADE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The path of a built binary; panics with what to do when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "`{}` is not built: run `cargo build --bins` (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// The binary of a plugin given by its kubectl name (`health`, `upgrade-plan`).
pub fn plugin_binary(plugin: &str) -> PathBuf {
    let bin = PLUGINS
        .iter()
        .find(|(name, _)| *name == plugin)
        .map(|(_, bin)| *bin)
        .unwrap_or_else(|| panic!("unknown plugin `{plugin}`"));
    binary(bin)
}

/// Options for an [`Env`].
pub struct EnvBuilder {
    scenario: String,
    users: Vec<(String, String, Vec<String>)>,
    tls: bool,
    http2: bool,
    controllers: bool,
}

impl EnvBuilder {
    /// Adds a kubesim user with a bearer token; its rights come from the RBAC objects stored in
    /// the cluster (unless a group is `system:masters`).
    pub fn user(mut self, name: &str, token: &str, groups: &[&str]) -> Self {
        self.users.push((
            name.into(),
            token.into(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
        self
    }

    /// Serve plain HTTP instead of HTTPS.
    pub fn http(mut self) -> Self {
        self.tls = false;
        self
    }

    /// Offer HTTP/1.1 only (kubesim offers HTTP/2 too by default, as a real API server does).
    pub fn http1_only(mut self) -> Self {
        self.http2 = false;
        self
    }

    /// Runs kubesim's controllers (Jobs complete, workloads roll out, PVCs bind, …), which the
    /// real helm's `--wait` and hooks need.
    pub fn controllers(mut self) -> Self {
        self.controllers = true;
        self
    }

    /// Starts kubesim and prepares the directory.
    pub fn start(self) -> Env {
        let mut b = Sim::builder()
            .scenario(&self.scenario)
            .tls(self.tls)
            .http2(self.http2)
            .controllers(self.controllers);
        for (name, token, groups) in &self.users {
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            b = b.user(name, token, &groups);
        }
        let sim = b
            .start()
            .unwrap_or_else(|e| panic!("kubesim {}: {e}", self.scenario));
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("write kubeconfig");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        for (_, name) in PLUGINS {
            let src = target_dir().join(name);
            if src.exists() {
                std::os::unix::fs::symlink(&src, bin.join(name)).expect("link plugin");
            }
        }
        Env {
            sim,
            dir,
            kubeconfig,
            bin,
        }
    }
}

/// One simulated cluster and a place to run commands against it.
pub struct Env {
    /// The simulated API server.
    pub sim: Sim,
    dir: TempDir,
    /// Its kubeconfig (context `kubesim`, user `admin`; context `kubesim-cert` with a client
    /// certificate).
    pub kubeconfig: PathBuf,
    bin: PathBuf,
}

impl Env {
    /// A cluster from a bundled scenario (`ks34-host`, `ks34-member`, `ks41-host-migrated`,
    /// `broken`, `empty`, or `scale:…`).
    pub fn new(scenario: &str) -> Self {
        Self::builder(scenario).start()
    }

    /// A builder, to add users or serve HTTP.
    pub fn builder(scenario: &str) -> EnvBuilder {
        EnvBuilder {
            scenario: scenario.to_string(),
            users: Vec::new(),
            tls: true,
            http2: true,
            controllers: false,
        }
    }

    /// The temporary directory of this environment.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The bin directory with the plugins under their kubectl names.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    fn base(&self, program: &Path) -> Cmd {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()),
            )
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        Cmd {
            cmd,
            stdin: None,
            timeout: Duration::from_secs(120),
        }
    }

    /// A plugin binary by its kubectl name, run directly, with `KUBECONFIG` set.
    pub fn plugin(&self, plugin: &str) -> Cmd {
        self.base(&plugin_binary(plugin))
    }

    /// The real kubectl, with `KUBECONFIG` set and the plugins on `PATH`
    /// (`env.kubectl().args(["health", "-o", "json"])` runs a plugin through kubectl).
    pub fn kubectl(&self) -> Cmd {
        self.base(&kubectl_path())
    }

    /// Any program, with this environment.
    pub fn command(&self, program: impl AsRef<Path>) -> Cmd {
        self.base(program.as_ref())
    }

    /// Applies YAML with the real kubectl (`kubectl apply -f -`), panicking on failure.
    pub fn apply(&self, yaml: &str) {
        self.kubectl()
            .args(["apply", "-f", "-"])
            .stdin(yaml)
            .run()
            .assert_success();
    }

    /// `kubectl get … -o json` parsed, panicking on failure.
    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        self.kubectl().args(all).run().assert_success().json()
    }

    /// Writes a file in the temporary directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&path, contents).expect("write file");
        path
    }
}

/// A command being prepared.
pub struct Cmd {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Cmd {
    /// Adds an argument.
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Runs the command as the leader of a new process group, as a shell runs a foreground job,
    /// so a test can signal the whole group (`kill -INT -PID`) the way Ctrl-C at a terminal does.
    pub fn process_group(mut self) -> Self {
        use std::os::unix::process::CommandExt;
        self.cmd.process_group(0);
        self
    }

    /// Feeds standard input.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Kills the command after this long (default 120 s) and fails the test.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The command line, for messages.
    pub fn describe(&self) -> String {
        let mut s = self.cmd.get_program().to_string_lossy().into_owned();
        for a in self.cmd.get_args() {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Starts the command without waiting (for tests that act while it runs).
    pub fn spawn(mut self) -> Running {
        let describe = self.describe();
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if self.stdin.is_some() {
            self.cmd.stdin(Stdio::piped());
        }
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{describe}`: {e}"));
        if let Some(input) = self.stdin.take() {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        Running {
            child,
            describe,
            timeout: self.timeout,
            started: Instant::now(),
        }
    }

    /// Runs to completion.
    pub fn run(self) -> Run {
        self.spawn().wait()
    }
}

/// A command that is running.
pub struct Running {
    child: std::process::Child,
    describe: String,
    timeout: Duration,
    started: Instant,
}

impl Running {
    /// Waits for the command, killing it (and failing) after its timeout.
    pub fn wait(mut self) -> Run {
        let mut out = self.child.stdout.take().expect("stdout pipe");
        let mut err = self.child.stderr.take().expect("stderr pipe");
        let out_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut v);
            v
        });
        let err_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut v);
            v
        });
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if self.started.elapsed() > self.timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`{}` did not finish within {:?}",
                    self.describe, self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned(),
            stderr: String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned(),
            describe: self.describe,
        }
    }

    /// Sends SIGKILL, as a crash would.
    pub fn kill(mut self) -> Run {
        let _ = self.child.kill();
        self.wait()
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

/// The outcome of a command.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    describe: String,
}

impl Run {
    fn dump(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.describe, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{}", self.dump());
        self
    }

    /// Asserts exit code 0.
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Asserts that stdout contains `needle`.
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts that stderr contains `needle`.
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts that nothing looks like a panic or a backtrace.
    pub fn assert_no_panic(&self) -> &Self {
        for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
            assert!(
                !self.stderr.contains(bad) && !self.stdout.contains(bad),
                "{}",
                self.dump()
            );
        }
        self
    }

    /// Stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }

    /// Stdout parsed as YAML.
    pub fn yaml(&self) -> Value {
        serde_saphyr::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not YAML ({e})\n{}", self.dump()))
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for up to `timeout`.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every object's `namespace/name` → resourceVersion, over the given kinds, read with the real
/// kubectl; used to prove that a command changed nothing.
pub fn resource_versions(env: &Env, kinds: &str) -> std::collections::BTreeMap<String, String> {
    let list = env.get_json(&[kinds, "-A"]);
    let mut out = std::collections::BTreeMap::new();
    for item in list["items"].as_array().cloned().unwrap_or_default() {
        let m = &item["metadata"];
        let key = format!(
            "{}/{}/{}",
            item["kind"].as_str().unwrap_or(""),
            m["namespace"].as_str().unwrap_or(""),
            m["name"].as_str().unwrap_or("")
        );
        out.insert(key, m["resourceVersion"].as_str().unwrap_or("").to_string());
    }
    out
}
