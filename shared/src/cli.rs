//! Command-line pieces every plugin flattens into its own arguments: kubectl's connection flags
//! ([`KubeArgs`]) and the `-o/--output` flag ([`OutputFormat`]).
//!
//! The names, short flags and meanings follow kubectl's `genericclioptions`, so that an operator
//! can move a flag from a `kubectl get` line to one of our plugins unchanged.

use std::{path::PathBuf, str::FromStr, time::Duration};

use clap::Args;

use crate::error::Error;

/// kubectl's connection flags.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection (as kubectl)")]
pub struct KubeArgs {
    /// Path to the kubeconfig file to use (only this file; no merging with $KUBECONFIG)
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,

    /// The name of the kubeconfig cluster to use
    #[arg(long, value_name = "NAME", global = true)]
    pub cluster: Option<String>,

    /// The name of the kubeconfig user to use
    #[arg(long, value_name = "NAME", global = true)]
    pub user: Option<String>,

    /// The namespace scope for this request (default: the context's namespace, else `default`)
    #[arg(short = 'n', long, value_name = "NAMESPACE", global = true)]
    pub namespace: Option<String>,

    /// Username to impersonate for the operation
    #[arg(long = "as", value_name = "USER", global = true)]
    pub impersonate: Option<String>,

    /// Group to impersonate for the operation (repeatable)
    #[arg(long = "as-group", value_name = "GROUP", global = true)]
    pub impersonate_groups: Vec<String>,

    /// The length of time to wait before giving up on a single server request (e.g. 1s, 2m, 3h;
    /// a bare number is seconds; 0 means no timeout)
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration, global = true)]
    pub request_timeout: Duration,

    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, value_name = "URL", global = true)]
    pub server: Option<String>,

    /// Bearer token for authentication to the API server
    #[arg(long, value_name = "TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,

    /// Path to a certificate file for the certificate authority
    #[arg(long, value_name = "PATH", global = true)]
    pub certificate_authority: Option<PathBuf>,

    /// If true, the server's certificate will not be checked for validity (insecure)
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
}

/// Parses kubectl's `--request-timeout`: a bare integer is seconds; otherwise Go-style units
/// (`ms`, `s`, `m`, `h`), possibly combined (`1m30s`).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration `{input}`: expected a number"));
        }
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration `{input}`: bad number"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let factor = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration `{input}`: missing unit (ms, s, m, h)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration `{input}`: unknown unit `{other}`"
                ));
            }
        };
        total += Duration::from_secs_f64(value * factor);
    }
    Ok(total)
}

/// How a report is printed (`-o`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A human table (the default).
    #[default]
    Table,
    /// The table with more columns.
    Wide,
    /// The report as JSON.
    Json,
    /// The report as YAML.
    Yaml,
    /// kubectl's jsonpath template over the JSON form of the report.
    JsonPath(String),
    /// A Markdown document (upgrade-plan's playbook).
    Markdown,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(template) = s.strip_prefix("jsonpath=") {
            if template.is_empty() {
                return Err("jsonpath template must not be empty".into());
            }
            return Ok(Self::JsonPath(template.to_string()));
        }
        match s {
            "table" | "" => Ok(Self::Table),
            "wide" => Ok(Self::Wide),
            "json" => Ok(Self::Json),
            "yaml" => Ok(Self::Yaml),
            "markdown" | "md" => Ok(Self::Markdown),
            "jsonpath" => Err("jsonpath needs a template: -o jsonpath='{...}'".into()),
            other => Err(format!(
                "unknown output format `{other}` (allowed: table, wide, json, yaml, jsonpath=TEMPLATE)"
            )),
        }
    }
}

impl OutputFormat {
    /// Checks a format against what a command supports, with a usage error otherwise.
    pub fn require_not_markdown(&self, command: &str) -> Result<(), Error> {
        if *self == Self::Markdown {
            return Err(Error::usage(format!(
                "`{command}` does not support -o markdown"
            )));
        }
        Ok(())
    }

    /// True for the machine-readable formats, where progress and colour must stay off stdout.
    pub fn is_machine(&self) -> bool {
        matches!(self, Self::Json | Self::Yaml | Self::JsonPath(_))
    }
}

/// The `-o/--output` flag.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Output format: table, wide, json, yaml, or jsonpath=TEMPLATE (kubectl's dialect)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        default_value = "table",
        value_parser = OutputFormat::from_str,
        add = clap_complete::engine::ArgValueCandidates::new(output_candidates)
    )]
    pub output: OutputFormat,
}

/// What `-o <TAB>` offers.
fn output_candidates() -> Vec<clap_complete::engine::CompletionCandidate> {
    use clap_complete::engine::CompletionCandidate;
    [
        ("table", "a table for people (default)"),
        ("wide", "the table with more columns"),
        ("json", "the report as JSON"),
        ("yaml", "the report as YAML"),
        ("jsonpath=", "kubectl's jsonpath template"),
    ]
    .into_iter()
    .map(|(value, help)| CompletionCandidate::new(value).help(Some(help.into())))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_kubectl() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1.5").unwrap_err().contains("missing unit"));
    }

    #[test]
    fn output_formats_parse_like_kubectl() {
        assert_eq!("json".parse::<OutputFormat>().unwrap(), OutputFormat::Json);
        assert_eq!(
            "jsonpath={.items[*].name}".parse::<OutputFormat>().unwrap(),
            OutputFormat::JsonPath("{.items[*].name}".into())
        );
        assert!("jsonpath".parse::<OutputFormat>().is_err());
        assert!(
            "xml"
                .parse::<OutputFormat>()
                .unwrap_err()
                .contains("unknown output format")
        );
    }
}
