//! The runner every plugin's `main` calls: parse the arguments, build the runtime, run the
//! command with Ctrl-C handling, and turn the outcome into the documented exit code.
//!
//! This is the one place that writes errors: `error: <what failed and why>` on stderr, then
//! `hint: <advice>` when one helps. A closed stdout (`| head -1`) ends the command quietly with
//! status 0, as ripgrep does; a panic is reported in one line, never with a backtrace.

use std::{
    future::Future,
    io::{self, BufRead, IsTerminal, Write},
    process::ExitCode,
};

use clap::Parser;

use crate::{
    error::{Error, ExitStatus, Result},
    output::{
        Style,
        progress::{Line, Progress},
    },
};

/// Where a command writes: data to stdout, messages and progress to stderr; and where it reads
/// the answer to a prompt (stdin).
pub struct Printer {
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    /// Colour for stdout.
    pub out_style: Style,
    /// Colour for stderr.
    pub err_style: Style,
    /// True when stderr is a terminal: live progress is drawn there; otherwise plain lines.
    interactive: bool,
    /// The live lines on stderr.
    progress: Progress,
    /// Where answers are read from; taken while a read is in flight.
    input: Option<Box<dyn BufRead + Send>>,
    /// True when a question can be asked: stderr and stdin are terminals, or a test gave the
    /// answers.
    can_ask: bool,
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
            progress: Progress::stderr(io::stderr().is_terminal()),
            input: Some(Box::new(io::BufReader::new(io::stdin()))),
            can_ask: io::stderr().is_terminal() && io::stdin().is_terminal(),
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
            progress: Progress::new(false),
            input: None,
            can_ask: false,
        }
    }

    /// The same printer reading answers from `input`, as if from a terminal (for tests).
    pub fn with_input(mut self, input: Box<dyn BufRead + Send>) -> Self {
        self.input = Some(input);
        self.can_ask = true;
        self
    }

    /// The same printer with another progress reporter (for tests: [`Progress::hidden`]).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
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
        self.progress
            .suspend(|| writeln!(self.stderr, "{label} {message}"))
            .ok();
    }

    /// Writes one plain line to stderr (above the live lines, when there are any).
    pub fn note(&mut self, message: &str) {
        self.progress
            .suspend(|| writeln!(self.stderr, "{message}"))
            .ok();
    }

    /// The progress reporter.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// A new live line on stderr showing `prefix` (does nothing when not live).
    pub fn line(&self, prefix: &str) -> Line {
        self.progress.line(prefix)
    }

    /// A state to show: `message` on the live `line` on a terminal; otherwise `plain`, when
    /// given, as a line of its own.
    pub fn status(&mut self, line: &Line, message: &str, plain: Option<&str>) {
        if line.is_live() {
            line.set(message);
        } else if let Some(p) = plain {
            self.note(p);
        }
    }

    /// True when a question can be asked and answered (a terminal, or answers a test gave).
    pub fn can_ask(&self) -> bool {
        self.can_ask && self.input.is_some()
    }

    /// Writes `lines` and `question` to stderr and reads one line of answer: true for `y` or
    /// `yes` (any case), false for anything else and for end of input.
    pub async fn confirm(&mut self, lines: &[String], question: &str) -> Result<bool> {
        for l in lines {
            self.note(l);
        }
        self.progress
            .suspend(|| {
                write!(self.stderr, "{question}")?;
                self.stderr.flush()
            })
            .ok();
        let Some(mut input) = self.input.take() else {
            return Err(Error::usage("there is no input to read the answer from"));
        };
        // A blocking read on its own thread: Ctrl-C still ends the command meanwhile.
        let (input, answer) = tokio::task::spawn_blocking(move || {
            let mut s = String::new();
            let r = input.read_line(&mut s).map(|_| s);
            (input, r)
        })
        .await
        .map_err(|e| Error::usage(format!("cannot read the answer: {e}")))?;
        self.input = Some(input);
        let answer = answer.map_err(|e| Error::io("read the answer", "<stdin>", e))?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }

    /// Flushes stdout.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }
}

/// Installs the panic hook that reports a panic as one `error:` line (no backtrace). Every
/// plugin's `main` calls it first thing, before parsing arguments; [`run`] calls it again, which
/// is harmless.
pub fn install_panic_hook() {
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
}

/// Parses `A` from the command line and runs `command` on a Tokio runtime.
pub fn run<A, F, Fut>(command: F) -> ExitCode
where
    A: Parser,
    F: FnOnce(A, Printer) -> Fut,
    Fut: Future<Output = Result<ExitStatus>>,
{
    install_panic_hook();
    // A panic anywhere (argument parsing included) ends with the hook's one line and exit 2.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_inner::<A, F, Fut>(command)
    })) {
        Ok(code) => code,
        Err(_) => ExitStatus::Error.into(),
    }
}

fn run_inner<A, F, Fut>(command: F) -> ExitCode
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
    let interactive = printer.interactive;
    let live = printer.progress().clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async move {
            // On a terminal, say which request the command is waiting for when one is slow.
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let progress = interactive.then(|| tokio::spawn(show_pending_requests(live, stopped)));
            let result = tokio::select! {
                r = command(args, printer) => r,
                _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
            };
            let _ = stop.send(());
            if let Some(progress) = progress {
                let _ = progress.await;
            }
            result
        })
    }));
    // Do not wait for stray blocking tasks (a hung connect) after the command is done.
    runtime.shutdown_background();
    match outcome {
        Ok(result) => finish(result),
        Err(_) => ExitStatus::Error.into(),
    }
}

/// How long a request must be pending before the terminal names it.
const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_secs(1);

/// Draws one line on stderr (a terminal) naming the oldest request that has been pending for
/// more than [`SLOW_REQUEST`], cleared as soon as no request is slow, and on `stop`.
async fn show_pending_requests(progress: Progress, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut bar: Option<Line> = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
        }
        let pending = crate::client::pending_requests();
        match pending.first() {
            Some((request, waited)) if *waited >= SLOW_REQUEST => {
                let more = match pending.len() - 1 {
                    0 => String::new(),
                    n => format!(" (and {n} more)"),
                };
                let bar = bar.get_or_insert_with(|| progress.line(""));
                bar.set(&format!(
                    "waiting for the API server: {request} ({}){more}",
                    crate::output::human_duration(std::time::Duration::from_secs(waited.as_secs()))
                ));
            }
            _ => {
                if let Some(bar) = bar.take() {
                    bar.clear();
                }
            }
        }
    }
    if let Some(bar) = bar.take() {
        bar.clear();
    }
}

/// Turns a command's result into the exit code, printing the error when there is one.
pub(crate) fn finish(result: Result<ExitStatus>) -> ExitCode {
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

/// A printer whose output tests read back.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use super::Printer;

    /// A writer into shared bytes.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a printer wrote.
    pub(crate) struct Captured {
        stdout: Shared,
        stderr: Shared,
    }

    impl Captured {
        /// A plain printer (no terminal) and what it writes.
        pub(crate) fn printer() -> (Printer, Captured) {
            let (stdout, stderr) = (Shared::default(), Shared::default());
            let printer = Printer::new(Box::new(stdout.clone()), Box::new(stderr.clone()));
            (printer, Captured { stdout, stderr })
        }

        /// stdout so far.
        pub(crate) fn stdout(&self) -> String {
            String::from_utf8_lossy(&self.stdout.0.lock().unwrap()).into_owned()
        }

        /// stderr so far.
        pub(crate) fn stderr(&self) -> String {
            String::from_utf8_lossy(&self.stderr.0.lock().unwrap()).into_owned()
        }
    }
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

    fn asked(answer: &'static str) -> (bool, testing::Captured) {
        let (printer, out) = testing::Captured::printer();
        let mut printer = printer.with_input(Box::new(answer.as_bytes()));
        assert!(printer.can_ask());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let yes = rt
            .block_on(printer.confirm(&["This changes x:".into()], "Proceed? [y/N] "))
            .unwrap();
        (yes, out)
    }

    #[test]
    fn a_prompt_reads_its_answer_through_the_printer() {
        let (yes, out) = asked("yes\n");
        assert!(yes);
        assert_eq!(out.stderr(), "This changes x:\nProceed? [y/N] ");
        assert_eq!(out.stdout(), "", "prompts never reach the data stream");
        assert!(asked(" Y \n").0);
        assert!(!asked("n\n").0);
        assert!(!asked("yess\n").0);
        // End of input is no.
        assert!(!asked("").0);
        // A printer without a terminal or given answers cannot ask.
        assert!(!testing::Captured::printer().0.can_ask());
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
