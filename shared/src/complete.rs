//! Shell completion through kubectl: cobra's hidden `__complete` protocol, answered from any
//! [`clap::Command`].
//!
//! kubectl (1.26+) completes a plugin's arguments by running an executable named
//! `kubectl_complete-<plugin, dashes as underscores>` found on `PATH`, with the words typed after
//! the plugin name; the last word is the one being completed (`""` after a space). It reads the
//! lines that executable prints: one candidate per line (`value` or `value<TAB>description`),
//! then optionally `:<directive>`, a number made of cobra's `ShellCompDirective` bits
//! ([`Directive`]). The shims we ship in `completion/` forward to the plugin itself:
//!
//! ```sh
//! #!/usr/bin/env sh
//! kubectl upgrade-plan __complete "$@"
//! ```
//!
//! so a plugin answers `kubectl-upgrade_plan __complete --out` with `--output<TAB>Output
//! format…` and `:4`. [`crate::run::run`] calls [`answer_if_requested`] before it parses
//! anything, so every plugin answers the protocol from its own clap definition: flags (long,
//! short, `--flag=value`), subcommands and their aliases, value enums and other possible values,
//! and the candidates of `clap_complete`'s [`ArgValueCandidates`] / [`ArgValueCompleter`]
//! extensions, which a plugin attaches to an argument with `#[arg(add = ...)]` for values only
//! known at run time.
//!
//! Directives follow cobra: [`Directive::NO_FILE_COMP`] (`:4`) whenever we know the candidates,
//! [`Directive::DEFAULT`] (`:0`, the shell completes file names) for path-valued arguments,
//! [`Directive::FILTER_DIRS`] (`:16`) for directories.

use std::{
    collections::HashSet,
    ffi::OsString,
    io::{self, Write},
    process::ExitCode,
};

use clap::{Arg, ArgAction, Command, ValueHint};
use clap_complete::engine::{ArgValueCandidates, ArgValueCompleter};

/// The hidden command cobra's completion scripts (and kubectl's shims) call.
pub const REQUEST: &str = "__complete";

/// The same request without descriptions.
pub const REQUEST_NO_DESC: &str = "__completeNoDesc";

/// Cobra's `ShellCompDirective`: bits that tell the shell what to do with the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Directive(pub u32);

impl Directive {
    /// Let the shell do its default completion (file names) when there are no candidates.
    pub const DEFAULT: Self = Self(0);
    /// Do not complete file names, even when there are no candidates.
    pub const NO_FILE_COMP: Self = Self(4);
    /// Complete directory names only.
    pub const FILTER_DIRS: Self = Self(16);
}

/// One completion candidate: the value, and an optional one-line description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The word the shell inserts.
    pub value: String,
    /// Shown next to the value by shells that display descriptions.
    pub help: Option<String>,
}

impl Candidate {
    fn new(value: impl Into<String>, help: Option<String>) -> Self {
        Self {
            value: value.into(),
            help: help.map(|h| one_line(&h)).filter(|h| !h.is_empty()),
        }
    }
}

/// The answer to one completion request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// The candidates, in the order shells should show them when they keep it.
    pub candidates: Vec<Candidate>,
    /// What the shell should do besides.
    pub directive: Directive,
}

impl Completion {
    /// The candidate values only (for tests).
    #[cfg(test)]
    pub fn values(&self) -> Vec<&str> {
        self.candidates.iter().map(|c| c.value.as_str()).collect()
    }

    /// Writes the answer in cobra's format: `value[\tdescription]` lines, then `:<directive>`.
    pub fn write(&self, out: &mut dyn Write, descriptions: bool) -> io::Result<()> {
        for c in &self.candidates {
            match (&c.help, descriptions) {
                (Some(help), true) => writeln!(out, "{}\t{help}", c.value)?,
                _ => writeln!(out, "{}", c.value)?,
            }
        }
        writeln!(out, ":{}", self.directive.0)
    }
}

/// When the process was started as `<plugin> __complete <words...>`, answers on stdout and
/// returns the exit code; otherwise returns `None` and the plugin runs normally.
pub fn answer_if_requested<A: clap::CommandFactory>() -> Option<ExitCode> {
    let mut argv = std::env::args_os().skip(1);
    let descriptions = match argv.next()?.to_str()? {
        REQUEST => true,
        REQUEST_NO_DESC => false,
        _ => return None,
    };
    let words: Vec<String> = argv.map(lossy).collect();
    let completion = complete(A::command(), &words);
    let mut stdout = io::stdout().lock();
    let written = completion
        .write(&mut stdout, descriptions)
        .and_then(|()| stdout.flush());
    // A shell that stopped reading is no error worth reporting; nothing else can fail here.
    Some(match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    })
}

fn lossy(s: OsString) -> String {
    s.into_string()
        .unwrap_or_else(|s| s.to_string_lossy().into_owned())
}

/// Completes the last of `words` (the words typed after the command name; the last is the
/// partial word under the cursor, `""` when the cursor follows a space) against `cmd`.
pub fn complete(mut cmd: Command, words: &[String]) -> Completion {
    cmd.build();
    let (current, before) = match words.split_last() {
        Some((current, before)) => (current.as_str(), before),
        None => ("", &[][..]),
    };
    let state = walk(&cmd, before);
    state.complete(current)
}

/// Where the words before the cursor left the parser.
struct State<'a> {
    /// The innermost subcommand reached.
    cmd: &'a Command,
    /// A flag still waiting for its value (`--output <cursor>`).
    pending: Option<&'a Arg>,
    /// How many positional values were given to `cmd`.
    positionals: usize,
    /// After `--`: everything is a positional value.
    escaped: bool,
    /// Flags already given, which are not offered again unless they repeat.
    seen: HashSet<&'a str>,
}

fn walk<'a>(root: &'a Command, words: &[String]) -> State<'a> {
    let mut st = State {
        cmd: root,
        pending: None,
        positionals: 0,
        escaped: false,
        seen: HashSet::new(),
    };
    for word in words {
        let word = word.as_str();
        if st.pending.take().is_some() {
            // The value of the flag before.
            continue;
        }
        if st.escaped {
            st.positionals += 1;
            continue;
        }
        if word == "--" {
            st.escaped = true;
        } else if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            if let Some(arg) = find_long(st.cmd, name) {
                st.seen.insert(arg.get_id().as_str());
                if takes_value(arg) && !inline {
                    st.pending = Some(arg);
                }
            }
        } else if word.len() > 1 && word.starts_with('-') && !is_number(word) {
            // A cluster of short flags: `-n`, `-nkube-system`, `-vo json`.
            for (i, c) in word.char_indices().skip(1) {
                let Some(arg) = find_short(st.cmd, c) else {
                    break;
                };
                st.seen.insert(arg.get_id().as_str());
                if takes_value(arg) {
                    if i + c.len_utf8() == word.len() {
                        st.pending = Some(arg);
                    }
                    break;
                }
            }
        } else if let Some(sub) = (st.positionals == 0)
            .then(|| find_subcommand(st.cmd, word))
            .flatten()
        {
            st.cmd = sub;
            st.positionals = 0;
        } else {
            st.positionals += 1;
        }
    }
    st
}

impl State<'_> {
    fn complete(&self, current: &str) -> Completion {
        if let Some(arg) = self.pending {
            return values(arg, current, "");
        }
        if !self.escaped && current.starts_with('-') && !is_number(current) {
            return self.flags(current);
        }
        let mut out = Completion {
            candidates: Vec::new(),
            directive: Directive::NO_FILE_COMP,
        };
        if !self.escaped && self.positionals == 0 {
            for sub in self.cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                let name = sub.get_name();
                if name.starts_with(current) {
                    let help = sub.get_about().map(|a| a.to_string());
                    out.candidates.push(Candidate::new(name, help));
                }
            }
        }
        if let Some(arg) = self.positional() {
            let values = values(arg, current, "");
            out.candidates.extend(values.candidates);
            if out.candidates.is_empty() {
                out.directive = values.directive;
            }
        }
        out
    }

    /// The positional argument the next value goes to.
    fn positional(&self) -> Option<&Arg> {
        let mut positionals = self
            .cmd
            .get_positionals()
            .filter(|a| !a.is_hide_set())
            .peekable();
        let mut index = 0;
        while let Some(arg) = positionals.next() {
            let last = positionals.peek().is_none();
            let many = arg.get_num_args().is_some_and(|r| r.max_values() > 1);
            if index == self.positionals || (last && many && index < self.positionals) {
                return Some(arg);
            }
            index += 1;
        }
        None
    }

    fn flags(&self, current: &str) -> Completion {
        if let Some((name, value)) = current
            .strip_prefix("--")
            .and_then(|rest| rest.split_once('='))
        {
            return match find_long(self.cmd, name) {
                Some(arg) if takes_value(arg) => values(arg, value, &format!("--{name}=")),
                _ => Completion {
                    candidates: Vec::new(),
                    directive: Directive::NO_FILE_COMP,
                },
            };
        }
        let mut out = Completion {
            candidates: Vec::new(),
            directive: Directive::NO_FILE_COMP,
        };
        let options = self
            .cmd
            .get_arguments()
            .filter(|a| !a.is_positional() && !a.is_hide_set())
            .filter(|a| repeats(a) || !self.seen.contains(a.get_id().as_str()));
        let mut longs = Vec::new();
        let mut shorts = Vec::new();
        for arg in options {
            let help = arg.get_help().map(|h| h.to_string());
            for long in arg.get_long_and_visible_aliases().unwrap_or_default() {
                longs.push(Candidate::new(format!("--{long}"), help.clone()));
            }
            for short in arg.get_short_and_visible_aliases().unwrap_or_default() {
                shorts.push(Candidate::new(format!("-{short}"), help.clone()));
            }
        }
        if current.starts_with("--") {
            out.candidates = longs;
        } else if current == "-" {
            // As cobra: a lone dash offers both the long and the short forms.
            out.candidates = longs;
            out.candidates.extend(shorts);
        } else {
            // `-o`, `-n`: confirm a known short flag so the shell adds the space.
            out.candidates = shorts;
        }
        out.candidates.retain(|c| c.value.starts_with(current));
        out
    }
}

/// The values of a flag or positional argument that start with `current`, each prefixed with
/// `prefix` (`--output=` when completing `--output=js`).
fn values(arg: &Arg, current: &str, prefix: &str) -> Completion {
    let mut candidates: Vec<Candidate> = arg
        .get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| Candidate::new(v.get_name(), v.get_help().map(|h| h.to_string())))
        .collect();
    if let Some(custom) = arg.get::<ArgValueCandidates>() {
        candidates.extend(custom.candidates().into_iter().filter_map(from_engine));
    }
    candidates.retain(|c| c.value.starts_with(current));
    if let Some(custom) = arg.get::<ArgValueCompleter>() {
        // A completer filters by the current word itself.
        let current = std::ffi::OsStr::new(current);
        candidates.extend(custom.complete(current).into_iter().filter_map(from_engine));
    }
    for c in &mut candidates {
        c.value.insert_str(0, prefix);
    }
    let directive = if !candidates.is_empty() {
        Directive::NO_FILE_COMP
    } else {
        match arg.get_value_hint() {
            ValueHint::AnyPath | ValueHint::FilePath | ValueHint::ExecutablePath => {
                Directive::DEFAULT
            }
            ValueHint::DirPath => Directive::FILTER_DIRS,
            _ => Directive::NO_FILE_COMP,
        }
    };
    Completion {
        candidates,
        directive,
    }
}

/// A visible candidate of `clap_complete`'s engine, as ours.
fn from_engine(c: clap_complete::engine::CompletionCandidate) -> Option<Candidate> {
    (!c.is_hide_set()).then(|| {
        Candidate::new(
            c.get_value().to_string_lossy(),
            c.get_help().map(|h| h.to_string()),
        )
    })
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
    })
}

fn find_short(cmd: &Command, c: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| {
        a.get_short() == Some(c) || a.get_all_short_aliases().is_some_and(|al| al.contains(&c))
    })
}

fn find_subcommand<'a>(cmd: &'a Command, word: &str) -> Option<&'a Command> {
    cmd.get_subcommands()
        .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

fn repeats(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
}

/// `-1`, `-0.5`: a negative number is a value, not a flag.
fn is_number(word: &str) -> bool {
    word[1..].parse::<f64>().is_ok()
}

/// The first line of a help text, with tabs (the protocol's separator) turned into spaces.
fn one_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .replace('\t', " ")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::{Parser, Subcommand, ValueEnum};
    use clap_complete::engine::CompletionCandidate;

    use super::*;

    #[derive(Debug, Clone, ValueEnum)]
    enum Format {
        /// A table
        Table,
        /// JSON
        Json,
        #[value(hide = true)]
        Secret,
    }

    fn contexts() -> Vec<CompletionCandidate> {
        vec![
            CompletionCandidate::new("prod"),
            CompletionCandidate::new("staging"),
        ]
    }

    /// A test command
    #[derive(Debug, Parser)]
    #[command(name = "kubectl demo", version = "1")]
    struct Demo {
        /// Output format
        #[arg(short = 'o', long = "output", value_enum, global = true)]
        output: Option<Format>,
        /// Path to the kubeconfig
        #[arg(long, global = true)]
        kubeconfig: Option<PathBuf>,
        /// Where to write backups
        #[arg(long, value_hint = ValueHint::DirPath)]
        backup_dir: Option<PathBuf>,
        /// Context
        #[arg(long, add = ArgValueCandidates::new(contexts))]
        context: Option<String>,
        /// Namespace
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// Repeatable
        #[arg(long = "as-group")]
        groups: Vec<String>,
        /// Do it
        #[arg(long, hide = true)]
        hidden: bool,
        #[command(subcommand)]
        step: Option<Step>,
    }

    #[derive(Debug, Subcommand)]
    enum Step {
        /// Migrate the host cluster
        Host {
            /// Phase to run
            #[arg(value_enum)]
            phase: Option<Format>,
        },
        /// Migrate a member cluster
        #[command(alias = "m")]
        Member {
            /// Names
            names: Vec<String>,
        },
        /// Migrate the gateway
        Gateway,
    }

    fn run(words: &[&str]) -> Completion {
        use clap::CommandFactory;
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        complete(Demo::command(), &words)
    }

    #[test]
    fn long_flags_by_prefix() {
        let c = run(&["--out"]);
        assert_eq!(c.values(), ["--output"]);
        assert_eq!(c.directive, Directive::NO_FILE_COMP);
        assert_eq!(c.candidates[0].help.as_deref(), Some("Output format"));
        let all = run(&["--"]);
        assert!(all.values().contains(&"--help"));
        assert!(all.values().contains(&"--version"));
        assert!(!all.values().contains(&"--hidden"));
    }

    #[test]
    fn a_lone_dash_offers_long_and_short_forms() {
        let c = run(&["-"]);
        assert!(c.values().contains(&"--namespace"));
        assert!(c.values().contains(&"-n"));
        assert_eq!(run(&["-n"]).values(), ["-n"]);
    }

    #[test]
    fn flags_given_once_are_not_offered_again() {
        let c = run(&["--namespace", "x", "--"]);
        assert!(!c.values().contains(&"--namespace"));
        let c = run(&["--as-group", "x", "--as"]);
        assert!(c.values().contains(&"--as-group"));
    }

    #[test]
    fn subcommands_and_their_help() {
        let c = run(&[""]);
        assert_eq!(c.values(), ["host", "member", "gateway", "help"]);
        assert_eq!(
            c.candidates[0].help.as_deref(),
            Some("Migrate the host cluster")
        );
        assert_eq!(run(&["ga"]).values(), ["gateway"]);
        assert_eq!(c.directive, Directive::NO_FILE_COMP);
    }

    #[test]
    fn value_enums_after_a_flag_and_with_equals() {
        assert_eq!(run(&["--output", ""]).values(), ["table", "json"]);
        assert_eq!(run(&["-o", "j"]).values(), ["json"]);
        assert_eq!(run(&["--output=t"]).values(), ["--output=table"]);
        // A global flag after a subcommand.
        assert_eq!(run(&["host", "-o", "t"]).values(), ["table"]);
    }

    #[test]
    fn positional_values_of_a_subcommand() {
        assert_eq!(run(&["host", ""]).values(), ["table", "json"]);
        // An alias leads to the same subcommand; free-form positionals have no candidates.
        let c = run(&["m", "a", ""]);
        assert!(c.values().is_empty());
        assert_eq!(c.directive, Directive::NO_FILE_COMP);
    }

    #[test]
    fn custom_candidates() {
        assert_eq!(run(&["--context", "st"]).values(), ["staging"]);
    }

    #[test]
    fn paths_are_left_to_the_shell() {
        let c = run(&["--kubeconfig", ""]);
        assert!(c.candidates.is_empty());
        assert_eq!(c.directive, Directive::DEFAULT);
        assert_eq!(run(&["--backup-dir", ""]).directive, Directive::FILTER_DIRS);
        assert_eq!(run(&["--namespace", ""]).directive, Directive::NO_FILE_COMP);
    }

    #[test]
    fn after_double_dash_nothing_is_a_flag() {
        let c = run(&["--", "-"]);
        assert!(c.values().is_empty());
    }

    #[test]
    fn no_words_is_an_empty_current_word() {
        let c = complete(
            {
                use clap::CommandFactory;
                Demo::command()
            },
            &[],
        );
        assert!(c.values().contains(&"host"));
    }

    #[test]
    fn writes_cobra_lines() {
        let c = run(&["--out"]);
        let mut out = Vec::new();
        c.write(&mut out, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--output\tOutput format\n:4\n"
        );
        let mut out = Vec::new();
        c.write(&mut out, false).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "--output\n:4\n");
    }
}
