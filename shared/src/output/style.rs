//! Colour, on a terminal only. `NO_COLOR` (any value) and `TERM=dumb` turn it off; output never
//! relies on colour alone: every coloured word is also a word.

use std::io::IsTerminal;

/// Whether and how to colour text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No colour at all.
    pub fn plain() -> Self {
        Self { color: false }
    }

    /// Colour when `stream_is_terminal` and the environment allows it.
    pub fn detect(stream_is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Self {
            color: stream_is_terminal && !no_color && !dumb,
        }
    }

    /// The style for stdout.
    pub fn for_stdout() -> Self {
        Self::detect(std::io::stdout().is_terminal())
    }

    /// The style for stderr.
    pub fn for_stderr() -> Self {
        Self::detect(std::io::stderr().is_terminal())
    }

    /// True when colour is on.
    pub fn color(&self) -> bool {
        self.color
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Green for good, red for bad.
    pub fn status(&self, good: bool, text: &str) -> String {
        if good {
            self.good(text)
        } else {
            self.bad(text)
        }
    }

    /// Green.
    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red.
    pub fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Yellow.
    pub fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Bold.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Dim.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_never_emits_escape_codes() {
        let s = Style::plain();
        assert_eq!(s.bad("FAIL"), "FAIL");
        assert!(!s.color());
        assert_eq!(Style::detect(false), Style::plain());
    }

    #[test]
    fn coloured_text_keeps_its_words() {
        let s = Style { color: true };
        assert_eq!(s.good("PASS"), "\x1b[32mPASS\x1b[0m");
    }
}
