//! The runner every plugin's `main` calls: parse the arguments, build the runtime, run the
//! command with Ctrl-C handling, and turn the outcome into the documented exit code.
//!
//! This is the one place that writes errors: `error: <what failed and why>` on stderr, then
//! `hint: <advice>` when one helps. A closed stdout (`| head -1`) ends the command quietly with
//! status 0, as ripgrep does; a panic is reported in one line, never with a backtrace.

use std::{
    future::Future,
    io::{self, IsTerminal, Write},
    process::ExitCode,
};

use clap::Parser;

use crate::{
    error::{Error, ExitStatus, Result},
    output::Style,
};

/// Where a command writes: data to stdout, messages and progress to stderr.
pub struct Printer {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    /// Colour for stdout.
    pub out_style: Style,
    /// Colour for stderr.
    pub err_style: Style,
    /// True when stderr is a terminal: live progress is drawn there; otherwise plain lines.
    pub interactive: bool,
}

impl Printer {
    /// The process's own stdout and stderr.
    pub fn stdio() -> Self {
        Self {
            stdout: Box::new(io::BufWriter::new(io::stdout())),
            stderr: Box::new(io::stderr()),
            out_style: Style::for_stdout(),
            err_style: Style::for_stderr(),
            interactive: io::stderr().is_terminal(),
        }
    }

    /// A printer into any writers, without colour (for tests).
    pub fn new(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> Self {
        Self {
            stdout,
            stderr,
            out_style: Style::plain(),
            err_style: Style::plain(),
            interactive: false,
        }
    }

    /// The data stream.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut *self.stdout
    }

    /// The message stream.
    pub fn err(&mut self) -> &mut dyn Write {
        &mut *self.stderr
    }

    /// Writes `warning: <message>` to stderr.
    pub fn warn(&mut self, message: &str) {
        let label = self.err_style.warn("warning:");
        // A failing stderr has nowhere left to report to.
        let _ = writeln!(self.stderr, "{label} {message}");
    }

    /// Writes one plain line to stderr.
    pub fn note(&mut self, message: &str) {
        let _ = writeln!(self.stderr, "{message}");
    }

    /// Flushes stdout.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }
}

/// Parses `A` from the command line and runs `command` on a Tokio runtime.
pub fn run<A, F, Fut>(command: F) -> ExitCode
where
    A: Parser,
    F: FnOnce(A, Printer) -> Fut,
    Fut: Future<Output = Result<ExitStatus>>,
{
    // kubectl's completion shims call `<plugin> __complete <words...>` (see `complete`).
    if let Some(code) = crate::complete::answer_if_requested::<A>() {
        return code;
    }
    let args = match A::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitStatus::Error
            } else {
                ExitStatus::Success
            };
            // `--help` and `--version` go to stdout; usage errors to stderr.
            let _ = e.print();
            return code.into();
        }
    };
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            io::stderr(),
            "error: internal error: {msg}{place}\nhint: this is a bug; please report it with the command line you ran"
        );
    }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: cannot start the async runtime: {e}");
            return ExitStatus::Error.into();
        }
    };
    let printer = Printer::stdio();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async move {
            tokio::select! {
                r = command(args, printer) => r,
                _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
            }
        })
    }));
    // Do not wait for stray blocking tasks (a hung connect) after the command is done.
    runtime.shutdown_background();
    match outcome {
        Ok(result) => finish(result),
        Err(_) => ExitStatus::Error.into(),
    }
}

/// Turns a command's result into the exit code, printing the error when there is one.
pub fn finish(result: Result<ExitStatus>) -> ExitCode {
    match result {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitStatus::Success.into(),
        Err(e) => {
            report_error(&mut io::stderr(), &e, &Style::for_stderr());
            e.exit_status().into()
        }
    }
}

/// Writes an error as one line plus an optional hint.
pub fn report_error(out: &mut dyn Write, e: &Error, style: &Style) {
    let _ = writeln!(out, "{} {e}", style.bad("error:"));
    if let Some(hint) = e.hint() {
        let _ = writeln!(out, "{} {hint}", style.dim("hint:"));
    }
}

fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
}

/// Flushes the printer, mapping a closed pipe to success.
pub fn flush(printer: &mut Printer) -> Result<()> {
    printer
        .flush()
        .map_err(|e| Error::io("write output", "<stdout>", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_one_line_and_a_hint() {
        let mut out = Vec::new();
        let e = Error::refused("member `m` is not on v4", Some("migrate it first".into()));
        report_error(&mut out, &e, &Style::plain());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "error: member `m` is not on v4\nhint: migrate it first\n"
        );
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        let e = Error::io(
            "write output",
            "<stdout>",
            io::Error::from(io::ErrorKind::BrokenPipe),
        );
        assert!(is_broken_pipe(&e));
        assert_eq!(finish(Err(e)), ExitCode::from(0));
    }
}
