//! Live progress on stderr, owned by the [`Printer`](crate::run::Printer): on a terminal, lines
//! redrawn in place (a spinner, a prefix and the current state); elsewhere nothing is drawn and
//! the caller's plain lines are written instead (see `Printer::status`).
//!
//! Every live line of a run belongs to one [`indicatif::MultiProgress`], so several lines (one
//! per cluster of a fleet) stack, and a message the printer writes meanwhile is written above
//! them instead of through them. What cannot reach the printer (the `-v` request log, written
//! from inside the client) goes through [`write_stderr`], which does the same.

use std::{io::Write as _, sync::Mutex, time::Duration};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress reporter: live on a terminal, silent otherwise.
#[derive(Debug, Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Live lines drawn on stderr when `live`; none otherwise.
    pub fn new(live: bool) -> Self {
        Self {
            multi: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// The reporter of the process's stderr printer: live when `live`, and known to
    /// [`write_stderr`].
    pub fn stderr(live: bool) -> Self {
        let p = Self::new(live);
        *STDERR_LIVE.lock().unwrap_or_else(|e| e.into_inner()) = p.multi.clone();
        p
    }

    /// Live lines that are kept but never drawn (for tests of the live path).
    pub fn hidden() -> Self {
        Self {
            multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden())),
        }
    }

    /// True when lines are drawn live (a terminal).
    pub fn is_live(&self) -> bool {
        self.multi.is_some()
    }

    /// A new live line showing `prefix` (may be empty) before its message; a line that does
    /// nothing when progress is not live.
    pub fn line(&self, prefix: &str) -> Line {
        let Some(multi) = &self.multi else {
            return Line { bar: None };
        };
        let bar = multi.add(ProgressBar::new_spinner());
        let template = if prefix.is_empty() {
            "{spinner} {msg}"
        } else {
            "{spinner} {prefix} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(prefix.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Line { bar: Some(bar) }
    }

    /// Runs `f` (a write to stderr) with the live lines lifted, so that its text is not drawn
    /// over; they are redrawn below it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }
}

/// The live lines of the process's stderr printer, if it draws any.
static STDERR_LIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Writes `text` to the process's stderr, above the live lines of its printer when there are
/// any, for writers that cannot reach the printer.
pub fn write_stderr(text: &str) {
    let live = STDERR_LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let write = || {
        // A failing stderr has nowhere left to report to.
        let _ = std::io::stderr().write_all(text.as_bytes());
    };
    match live {
        Some(m) => m.suspend(write),
        None => write(),
    }
}

/// One live line. Cheap to clone; every method does nothing when progress is not live.
#[derive(Debug, Clone)]
pub struct Line {
    bar: Option<ProgressBar>,
}

impl Line {
    /// True when the line is drawn.
    pub fn is_live(&self) -> bool {
        self.bar.is_some()
    }

    /// Shows `message` as the line's current state.
    pub fn set(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    /// The message shown now (empty when not live).
    pub fn message(&self) -> String {
        self.bar
            .as_ref()
            .map(|b| b.message().to_string())
            .unwrap_or_default()
    }

    /// Ends the line, leaving it on screen with `message`.
    pub fn keep(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(message.to_string());
        }
    }

    /// Ends the line, leaving it on screen as it is.
    pub fn stop(&self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish();
        }
    }

    /// Ends the line and removes it from the screen.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// True once the line has ended.
    pub fn is_finished(&self) -> bool {
        self.bar.as_ref().is_some_and(ProgressBar::is_finished)
    }
}
