//! Running the user's helm (only where the chart is needed: `template`, `show crds`,
//! `upgrade`, plus `version`, `uninstall` and `pull`) and the run's log file.
//!
//! Upstream got its log from `bash upgrade.sh host | tee host-upgrade.log`; here every helm
//! call (argument vector, exit status, output) and every API change goes to
//! `<backup-dir>/ks-migrate.log`. Connection settings reach helm as `--kubeconfig` /
//! `--kube-context` flags and, for a bearer token, the `HELM_KUBETOKEN` environment variable,
//! so no credential ever appears in an argument vector or the log.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
};

use crate::{
    client::ConnectOptions,
    error::{Error, Result},
};

/// The oldest helm upstream's pre-check accepts.
pub const MIN_HELM: semver::Version = semver::Version::new(3, 13, 0);

/// The run's log file (`ks-migrate.log`); a no-op until opened (dry runs have none).
#[derive(Clone, Default)]
pub struct Log {
    file: Option<Arc<Mutex<File>>>,
}

impl Log {
    /// Opens (appends to) the log with mode 0600.
    pub fn open(path: &Path) -> Result<Self> {
        let mut o = std::fs::OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let f = o.open(path).map_err(|e| Error::io("open log", path, e))?;
        Ok(Self {
            file: Some(Arc::new(Mutex::new(f))),
        })
    }

    /// A second handle on the log file (opened for appending), for a child's output.
    pub fn handle(&self) -> Option<File> {
        self.file.as_ref()?.lock().ok()?.try_clone().ok()
    }

    /// Appends one timestamped line (each line of a multi-line message is prefixed).
    pub fn line(&self, message: &str) {
        let Some(f) = &self.file else { return };
        let stamp = super::local::now();
        if let Ok(mut f) = f.lock() {
            for l in message.lines() {
                // A full disk must not stop the migration half-way; the journal is the record.
                let _ = writeln!(f, "{stamp} {l}");
            }
        }
    }
}

/// Quotes an argument vector for display (POSIX shell style).
pub fn display(program: &str, args: &[String]) -> String {
    let mut out = String::from(program);
    for a in args {
        out.push(' ');
        if !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./=,:@+%".contains(&b))
        {
            out.push_str(a);
        } else {
            out.push('\'');
            out.push_str(&a.replace('\'', r"'\''"));
            out.push('\'');
        }
    }
    out
}

/// How to run helm.
#[derive(Debug, Clone)]
pub struct Helm {
    /// The executable.
    pub path: PathBuf,
    /// `--kubeconfig` / `--kube-context` flags for calls that reach the cluster.
    pub conn: Vec<String>,
    /// Environment for those calls (token, API server, impersonation); never logged.
    env: Vec<(String, String)>,
}

impl Helm {
    /// Finds helm: `explicit` or `helm` on PATH.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
        match explicit {
            Some(p) => {
                if p.is_file() {
                    Ok(p.to_path_buf())
                } else {
                    which::which(p).map_err(|_| {
                        Error::refused(
                            format!("helm `{}` not found", p.display()),
                            Some("install helm v3.13 or later, or pass --helm PATH".into()),
                        )
                    })
                }
            }
            None => which::which("helm").map_err(|_| {
                Error::refused(
                    "helm not found on PATH",
                    Some("install helm v3.13 or later, or pass --helm PATH".into()),
                )
            }),
        }
    }

    /// A runner for `path`, carrying kubectl's connection flags over to helm's.
    pub fn new(path: PathBuf, kube: &ConnectOptions) -> Self {
        let mut conn = Vec::new();
        let mut env = Vec::new();
        if let Some(k) = &kube.kubeconfig {
            conn.push("--kubeconfig".into());
            conn.push(k.display().to_string());
        }
        if let Some(c) = &kube.context {
            conn.push("--kube-context".into());
            conn.push(c.clone());
        }
        if let Some(s) = &kube.server {
            env.push(("HELM_KUBEAPISERVER".into(), s.clone()));
        }
        if let Some(t) = &kube.token {
            env.push(("HELM_KUBETOKEN".into(), t.clone()));
        }
        if let Some(ca) = &kube.certificate_authority {
            env.push(("HELM_KUBECAFILE".into(), ca.display().to_string()));
        }
        if kube.insecure_skip_tls_verify {
            env.push(("HELM_KUBEINSECURE_SKIP_TLS_VERIFY".into(), "true".into()));
        }
        if let Some(u) = &kube.impersonate {
            env.push(("HELM_KUBEASUSER".into(), u.clone()));
        }
        if !kube.impersonate_groups.is_empty() {
            env.push((
                "HELM_KUBEASGROUPS".into(),
                kube.impersonate_groups.join(","),
            ));
        }
        Self { path, conn, env }
    }

    /// The argument vector with the connection flags appended (for calls that reach the
    /// cluster).
    pub fn with_conn(&self, mut args: Vec<String>) -> Vec<String> {
        args.extend(self.conn.iter().cloned());
        args
    }

    /// How a call is shown: `helm <args>`.
    pub fn show(&self, args: &[String]) -> String {
        display("helm", args)
    }

    fn command(&self, args: &[String]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.path);
        c.args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// `helm version --short`, parsed.
    pub async fn version(&self, log: &Log) -> Result<(String, semver::Version)> {
        let args = vec!["version".to_string(), "--short".to_string()];
        let out = self.output(&args, log, false).await?;
        let text = out.trim().to_string();
        let v = parse_version(&text)?;
        Ok((text, v))
    }

    /// Runs helm to completion and returns its stdout. `quiet_stdout` keeps stdout out of the
    /// log (rendered manifests are logged by the caller as object names instead).
    pub async fn output(&self, args: &[String], log: &Log, quiet_stdout: bool) -> Result<String> {
        let shown = self.show(args);
        log.line(&format!("run: {shown}"));
        let out = self
            .command(args)
            .output()
            .await
            .map_err(|e| Error::Command {
                command: shown.clone(),
                reason: format!("cannot start `{}`: {e}", self.path.display()),
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !quiet_stdout && !stdout.trim().is_empty() {
            log.line(&format!("helm stdout:\n{}", stdout.trim_end()));
        }
        if !stderr.trim().is_empty() {
            log.line(&format!("helm stderr:\n{}", stderr.trim_end()));
        }
        log.line(&format!("exit: {}", out.status));
        if !out.status.success() {
            return Err(Error::Command {
                command: shown,
                reason: failure_reason(&out.status.to_string(), &stderr),
            });
        }
        Ok(stdout)
    }

    /// Starts a long, destructive call (`helm upgrade`) *detached*: in its own process group,
    /// so a Ctrl-C at the terminal reaches ks-migrate and not helm; with stdout appended to the
    /// log file and stderr written to `stderr_path`, so no pipe ties it to ks-migrate; and not
    /// killed when ks-migrate stops. Killing helm half-way is what leaves a release
    /// `pending-upgrade`; a rerun of ks-migrate instead waits for a helm still at work (its pid is
    /// in [`UPGRADE_PID_FILE`]). Await the returned handle for the outcome.
    pub fn spawn(&self, args: &[String], log: &Log, stderr_path: &Path) -> Result<Running> {
        let shown = self.show(args);
        log.line(&format!("run: {shown}"));
        log.line(&format!(
            "(detached: its own process group, stderr in {}; it goes on if ks-migrate stops)",
            stderr_path.display()
        ));
        let cannot = |e: std::io::Error| Error::Command {
            command: shown.clone(),
            reason: format!("cannot start `{}`: {e}", self.path.display()),
        };
        let stdout = match log.handle() {
            Some(f) => Stdio::from(f),
            None => Stdio::null(),
        };
        let stderr = private_file(stderr_path).map_err(|e| Error::io("create", stderr_path, e))?;
        let mut c = tokio::process::Command::new(&self.path);
        c.args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(stderr))
            .kill_on_drop(false);
        #[cfg(unix)]
        c.process_group(0);
        let child = c.spawn().map_err(cannot)?;
        Ok(Running {
            child,
            stderr_path: stderr_path.to_path_buf(),
            shown,
            log: log.clone(),
        })
    }
}

/// Creates (truncates) a file only the user can read.
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// A helm call in flight.
pub struct Running {
    child: tokio::process::Child,
    stderr_path: PathBuf,
    shown: String,
    log: Log,
}

impl Running {
    /// The process id (`None` once it has been waited for).
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for the exit; an error carries the last lines of stderr.
    pub async fn wait(mut self) -> Result<()> {
        let status = self.child.wait().await.map_err(|e| Error::Command {
            command: self.shown.clone(),
            reason: e.to_string(),
        })?;
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        if !stderr.trim().is_empty() {
            self.log
                .line(&format!("helm stderr:\n{}", stderr.trim_end()));
        }
        self.log.line(&format!("exit: {status}"));
        if status.success() {
            return Ok(());
        }
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        Err(Error::Command {
            command: self.shown,
            reason: failure_reason(&status.to_string(), &tail),
        })
    }
}

/// The file in the backup directory that holds the pid of a `helm upgrade` in flight, so that
/// a rerun after a crash (SIGKILL reaches ks-migrate, not its helm child) can wait for it.
pub const UPGRADE_PID_FILE: &str = "helm-upgrade.pid";

/// True when `argv` is `helm upgrade … RELEASE …` (any helm executable whose name starts with
/// `helm`).
pub fn is_helm_upgrade(argv: &[String], release: &str) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let name = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with("helm")
        && args.first().map(String::as_str) == Some("upgrade")
        && args.iter().skip(1).take(4).any(|a| a == release)
}

/// True when process `pid` is still a `helm upgrade` of `release` (read from `/proc`, so a
/// reused pid is not mistaken for it; always false where there is no `/proc`).
pub fn upgrade_in_flight(pid: u32, release: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    is_helm_upgrade(&argv, release)
}

fn failure_reason(status: &str, stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {tail}")
    }
}

/// Parses `helm version --short` (`v3.15.4+gfa9efb0`): helm's versions are SemVer (a release
/// candidate orders before its release), with a `v` in front and the git commit as build
/// metadata.
pub fn parse_version(text: &str) -> Result<semver::Version> {
    let first = text.split_whitespace().next().unwrap_or_default();
    semver::Version::parse(first.strip_prefix('v').unwrap_or(first))
        .map_err(|_| Error::parse("`helm version --short` output", format!("`{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_upgrades_are_recognised_by_their_argument_vector() {
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(is_helm_upgrade(
            &argv("/usr/local/bin/helm upgrade -n kubesphere-system ks-core charts/ks-core --wait"),
            "ks-core"
        ));
        assert!(is_helm_upgrade(
            &argv("helm3 upgrade ks-core ./c"),
            "ks-core"
        ));
        assert!(!is_helm_upgrade(
            &argv("helm upgrade -n x other ./c"),
            "ks-core"
        ));
        assert!(!is_helm_upgrade(
            &argv("helm template ks-core ./c"),
            "ks-core"
        ));
        assert!(!is_helm_upgrade(&argv("vim upgrade ks-core"), "ks-core"));
        assert!(!is_helm_upgrade(&[], "ks-core"));
        // Our own process is no helm upgrade.
        assert!(!upgrade_in_flight(std::process::id(), "ks-core"));
    }

    #[test]
    fn versions_parse() {
        let v = parse_version("v3.15.4+gfa9efb0\n").unwrap();
        assert!(v >= MIN_HELM);
        // What the real helm the tests pin prints (tests/real-helm/helm.env).
        let v = parse_version("v3.17.3+ge4da497\n").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (3, 17, 3));
        assert_eq!(v.build.as_str(), "ge4da497");
        assert!(parse_version("v3.12.3+g3a31588").unwrap() < MIN_HELM);
        assert!(parse_version("v3.13.0-rc.1+g1234567").unwrap() < MIN_HELM);
        assert!(parse_version("v3.13.0+g1234567").unwrap() >= MIN_HELM);
        assert!(parse_version("garbage").is_err());
        assert!(parse_version("").is_err());
    }

    #[test]
    fn argument_vectors_are_quoted_for_display() {
        let args: Vec<String> = ["upgrade", "--set", "a=b,c=d", "-f", "my values.yaml", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            display("helm", &args),
            "helm upgrade --set a=b,c=d -f 'my values.yaml' ''"
        );
    }

    #[test]
    fn tokens_never_reach_the_argument_vector() {
        let kube = ConnectOptions {
            kubeconfig: Some("/k".into()),
            context: Some("c".into()),
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let h = Helm::new("helm".into(), &kube);
        let args = h.with_conn(vec!["upgrade".into()]);
        assert_eq!(
            args,
            ["upgrade", "--kubeconfig", "/k", "--kube-context", "c"]
        );
        assert!(!format!("{:?}", h.conn).contains("s3cret"));
    }

    #[test]
    fn the_log_appends_private_timestamped_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("ks-migrate.log");
        let log = Log::open(&p).unwrap();
        log.line("run: helm version\nsecond");
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines()
                .all(|l| l.contains('T') && l.ends_with("helm version") || l.ends_with("second"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        Log::default().line("nowhere");
    }
}
