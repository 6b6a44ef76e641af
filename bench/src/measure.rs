//! Running one measured command: wall time, peak RSS of its process tree, exit status, with a
//! time limit.
//!
//! The command runs in its own process group. A thread blocks in `wait4(pid)`, which returns the
//! child's `rusage` including its reaped descendants: `ru_maxrss` is then the largest resident set
//! of any single process of the tree (the child itself, or a `kubectl` a script ran and waited
//! for), not the sum of processes alive at the same time. Wall time runs from just before `spawn`
//! to `wait4`'s return. On timeout the whole process group is killed.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What one run produced.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall time.
    pub wall: Duration,
    /// Peak RSS of the largest process of the tree, in KiB.
    pub max_rss_kib: u64,
    /// Exit code (`None`: killed by a signal, or timed out).
    pub code: Option<i32>,
    /// The time limit was hit and the process group killed.
    pub timed_out: bool,
    /// CPU time (user + system) of the command and the descendants it waited for.
    pub cpu: Duration,
    /// When it was spawned, microseconds since the Unix epoch (kubesim's request log uses the
    /// same clock).
    pub start_us: u64,
}

/// Runs `cmd` with stdout and stderr sent to the given files (or discarded), within `limit`.
pub fn run(
    mut cmd: Command,
    stdout: Option<&Path>,
    stderr: Option<&Path>,
    limit: Duration,
) -> Result<Sample> {
    use std::os::unix::process::CommandExt;
    let out = |p: Option<&Path>| -> Result<Stdio> {
        Ok(match p {
            Some(p) => {
                Stdio::from(File::create(p).with_context(|| format!("create {}", p.display()))?)
            }
            None => Stdio::null(),
        })
    };
    cmd.stdin(Stdio::null())
        .stdout(out(stdout)?)
        .stderr(out(stderr)?)
        .process_group(0);
    let (tx, rx) = mpsc::channel();
    let start_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("spawn {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    // `child` is never waited on through std: the thread below reaps it with wait4.
    drop(child);
    std::thread::spawn(move || {
        let r = wait4(pid);
        let _ = tx.send((r, start.elapsed()));
    });
    let (res, wall, timed_out) = match rx.recv_timeout(limit) {
        Ok((r, wall)) => (r, wall, false),
        Err(_) => {
            kill_group(pid);
            let (r, wall) = rx.recv().context("waiting for the killed command")?;
            (r, wall, true)
        }
    };
    let (status, max_rss_kib, cpu) = res?;
    let code = if libc::WIFEXITED(status) && !timed_out {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Ok(Sample {
        wall,
        max_rss_kib,
        code,
        timed_out,
        cpu,
        start_us,
    })
}

/// Blocks until `pid` exits; returns its wait status, `ru_maxrss` (KiB on Linux) and CPU time.
#[allow(unsafe_code)]
fn wait4(pid: libc::pid_t) -> Result<(i32, u64, Duration)> {
    let mut status: libc::c_int = 0;
    // SAFETY: zeroed rusage is a valid value of a plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types; pid is our own child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            let tv = |t: libc::timeval| {
                Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
            };
            return Ok((
                status,
                u64::try_from(usage.ru_maxrss).unwrap_or(0),
                tv(usage.ru_utime) + tv(usage.ru_stime),
            ));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
}

/// Sends SIGKILL to the process group `pgid` (the measured command and everything it started).
#[allow(unsafe_code)]
pub fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill has no memory-safety preconditions; a negative pid addresses the group that
    // `process_group(0)` created for our child.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Sends SIGTERM to one process we started.
#[allow(unsafe_code)]
pub fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: as above; pid is a child of this process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_exit_code_and_rss_of_a_child() {
        let s = run(Command::new("true"), None, None, Duration::from_secs(10)).unwrap();
        assert_eq!(s.code, Some(0));
        assert!(!s.timed_out);
        assert!(s.max_rss_kib > 0);
        let mut c = Command::new("sh");
        c.args(["-c", "exit 3"]);
        assert_eq!(
            run(c, None, None, Duration::from_secs(10)).unwrap().code,
            Some(3)
        );
    }

    #[test]
    fn grandchildren_count_in_peak_rss() {
        // a shell whose child allocates ~64 MiB: the tree's peak is well above the shell's own
        let mut c = Command::new("sh");
        c.args(["-c", "python3 -c 'b = b\"x\" * (64 << 20)'; true"]);
        let s = run(c, None, None, Duration::from_secs(30)).unwrap();
        assert_eq!(s.code, Some(0));
        assert!(s.max_rss_kib > 32 * 1024, "{} KiB", s.max_rss_kib);
    }

    #[test]
    fn time_limit_kills_the_group() {
        let mut c = Command::new("sh");
        c.args(["-c", "sleep 30; sleep 30"]);
        let t = Instant::now();
        let s = run(c, None, None, Duration::from_millis(200)).unwrap();
        assert!(s.timed_out);
        assert_eq!(s.code, None);
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
