//! The steps' progress, through the printer's reporter: on a terminal one live line
//! `[n/m] title … state`; otherwise `[n/m] title`, each new state indented below it, and the
//! step's final line.

use crate::{output::progress::Line, run::Printer};

/// The progress of the step running now.
#[derive(Debug, Default)]
pub struct StepProgress {
    line: Option<Line>,
    last: String,
}

impl StepProgress {
    /// No step yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a step: `[n/m] title`.
    pub fn start(&mut self, printer: &mut Printer, n: usize, m: usize, title: &str) {
        self.last.clear();
        let head = format!("[{n}/{m}] {title}");
        let line = printer.line(&head);
        if !line.is_live() {
            printer.note(&head);
        }
        self.line = Some(line);
    }

    /// Shows what the step is doing now (Job and pod status while waiting), once per change.
    pub fn status(&mut self, printer: &mut Printer, message: &str) {
        if message == self.last {
            return;
        }
        self.last = message.to_string();
        let plain = format!("      {message}");
        match &self.line {
            Some(line) => printer.status(line, &format!("… {message}"), Some(&plain)),
            None => printer.note(&plain),
        }
    }

    /// Ends a step with a final line.
    pub fn finish(&mut self, printer: &mut Printer, line: &str) {
        if let Some(l) = self.line.take() {
            l.clear();
        }
        printer.note(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{output::progress::Progress, run::testing::Captured};

    fn run(printer: &mut Printer) {
        let mut p = StepProgress::new();
        p.start(printer, 1, 2, "Scale ks-installer to 0");
        p.status(printer, "waiting for Job x");
        p.status(printer, "waiting for Job x");
        p.status(printer, "Job x: active 1");
        p.finish(printer, "[1/2] Scale ks-installer to 0 — done");
    }

    #[test]
    fn without_a_terminal_each_state_is_a_plain_line_once() {
        let (mut printer, out) = Captured::printer();
        run(&mut printer);
        assert_eq!(
            out.stderr(),
            "[1/2] Scale ks-installer to 0\n      waiting for Job x\n      Job x: active 1\n[1/2] Scale ks-installer to 0 — done\n"
        );
    }

    #[test]
    fn on_a_terminal_the_states_stay_on_the_live_line() {
        let (printer, out) = Captured::printer();
        let mut printer = printer.with_progress(Progress::hidden());
        let mut p = StepProgress::new();
        p.start(&mut printer, 1, 2, "Scale ks-installer to 0");
        p.status(&mut printer, "waiting for Job x");
        assert_eq!(
            p.line.as_ref().map(Line::message).as_deref(),
            Some("… waiting for Job x")
        );
        p.finish(&mut printer, "[1/2] Scale ks-installer to 0 — done");
        assert_eq!(out.stderr(), "[1/2] Scale ks-installer to 0 — done\n");
    }
}
