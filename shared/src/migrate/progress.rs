//! Live progress of the steps: a spinner on a terminal, plain lines otherwise.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::run::Printer;

/// Live progress: a spinner on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    last: String,
}

impl Progress {
    /// Progress drawn (on a terminal) or written as lines.
    pub fn new(interactive: bool) -> Self {
        Self {
            bar: None,
            interactive,
            last: String::new(),
        }
    }

    /// Starts a step: `[n/m] title`.
    pub fn start(&mut self, printer: &mut Printer, n: usize, m: usize, title: &str) {
        self.last.clear();
        let head = format!("[{n}/{m}] {title}");
        if self.interactive {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg}") {
                bar.set_style(style);
            }
            bar.set_prefix(head);
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(bar);
        } else {
            printer.note(&head);
        }
    }

    /// Shows what the step is doing now (Job and pod status while waiting).
    pub fn status(&mut self, printer: &mut Printer, message: &str) {
        if message == self.last {
            return;
        }
        self.last = message.to_string();
        match &self.bar {
            Some(bar) => bar.set_message(format!("… {message}")),
            None => printer.note(&format!("      {message}")),
        }
    }

    /// Ends a step with a final line.
    pub fn finish(&mut self, printer: &mut Printer, line: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        printer.note(line);
    }
}
