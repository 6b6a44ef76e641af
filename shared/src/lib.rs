//! kupgrade: the shared library of the kubectl upgrade plugin suite.
//!
//! Four kubectl plugins (`upgrade-plan`, `ks-migrate`, `untaint-member`, `health`) are thin
//! binaries over this crate: each parses its own flags and calls its plugin's module with plain
//! options (`health::check(&client, &health::Options { .. })`, `plan::plan`, `untaint::run`,
//! `migrate::run`); no function of those modules takes a clap type. The shared parts are the
//! client ([`client`]), typed errors and exit statuses ([`error`]), the printers ([`output`]),
//! and, for the binaries only, the flag groups every plugin flattens ([`cli`]) and the runner
//! ([`run`]); the domain parts ([`domain`], [`version`], [`list`], [`helm`],
//! [`kubesphere`]) are used by several plugins, and [`model`] is the finding model every report
//! uses; each plugin's logic lives in its own module and computes a typed, serializable report
//! that the printers render.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod client;
pub(crate) mod complete;
pub(crate) mod domain;
pub mod error;
pub mod helm;
pub mod kubesphere;
pub(crate) mod list;
pub(crate) mod model;
pub mod output;
pub(crate) mod patch;
pub mod run;
pub mod version;

pub mod fleet;
pub mod health;
pub mod migrate;
pub mod plan;
pub mod untaint;

pub use error::{Error, ExitStatus, Result};

/// `--version` text: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KUPGRADE_GIT_COMMIT"),
    ")"
);
