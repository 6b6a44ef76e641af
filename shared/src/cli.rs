//! Command-line pieces every plugin flattens into its own arguments: kubectl's connection flags
//! ([`KubeArgs`]) and the `-o/--output` flag ([`OutputFormat`]).
//!
//! The names, short flags and meanings follow kubectl's `genericclioptions`, so that an operator
//! can move a flag from a `kubectl get` line to one of our plugins unchanged.

use std::{path::PathBuf, str::FromStr, time::Duration};

use clap::Args;

use crate::error::Error;

/// kubectl's connection flags.
#[derive(Debug, Clone, Args)]
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

    /// The most time the whole command may spend waiting for the API server (e.g. 30s, 5m; 0
    /// means no limit). Waits the command makes on purpose (--wait rounds, helm) do not count.
    /// When it runs out, the command stops with exit 2 and names the request that stalled
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration, global = true)]
    pub deadline: Duration,

    /// Objects per page of every list, as kubectl's --chunk-size (0: one request per list)
    #[arg(long, value_name = "N", default_value_t = crate::list::PAGE_SIZE, global = true)]
    pub chunk_size: u32,

    /// Log verbosity, as kubectl's -v: 6 logs every request (method, URL, status, duration) on
    /// stderr; tokens and bodies are never logged
    #[arg(
        short = 'v',
        long = "v",
        value_name = "LEVEL",
        default_value_t = 0,
        global = true
    )]
    pub verbosity: u8,

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

impl Default for KubeArgs {
    /// No flags given, except that there is no `--deadline` (library callers bound their own
    /// work) and pages have the usual size.
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            cluster: None,
            user: None,
            namespace: None,
            impersonate: None,
            impersonate_groups: Vec::new(),
            request_timeout: Duration::ZERO,
            deadline: Duration::ZERO,
            chunk_size: crate::list::PAGE_SIZE,
            verbosity: 0,
            server: None,
            token: None,
            certificate_authority: None,
            insecure_skip_tls_verify: false,
        }
    }
}

/// The longest duration accepted: Go's `time.Duration` limit (2^63-1 nanoseconds, about 292
/// years), beyond which kubectl's own `time.ParseDuration` fails too.
pub const MAX_DURATION: Duration = Duration::new(9_223_372_036, 854_775_807);

/// Parses a duration flag as kubectl does (`--request-timeout`, and every other duration flag of
/// the plugins): a bare integer is seconds; otherwise Go-style units (`ns`, `us`, `ms`, `s`, `m`,
/// `h`), possibly combined (`1m30s`). Values beyond [`MAX_DURATION`] are refused, never wrapped
/// or panicked on.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let too_large = || {
        format!(
            "invalid duration `{input}`: too large (at most 2562047h, Go's limit as in kubectl)"
        )
    };
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(secs) if secs <= MAX_DURATION.as_secs() => Ok(Duration::from_secs(secs)),
            _ => Err(too_large()),
        };
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
            "ns" => 1e-9,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration `{input}`: missing unit (ns, us, ms, s, m, h)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration `{input}`: unknown unit `{other}`"
                ));
            }
        };
        let part = Duration::try_from_secs_f64(value * factor).map_err(|_| too_large())?;
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_large)?;
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
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(
            parse_duration("2562047h").unwrap(),
            Duration::from_secs(2562047 * 3600)
        );
    }

    #[test]
    fn durations_that_overflow_are_errors_not_panics() {
        for input in [
            "99999999999999999999h",
            "99999999999999999999",
            "9223372037",
            "2562048h",
            "2562047h2562047h",
            "1e400s",
            "99999999999999999999999999999999999999999999999999999999999999ms",
            "18446744073709551616s",
        ] {
            let err = parse_duration(input).unwrap_err();
            assert!(
                err.contains("too large") || err.contains("unknown unit"),
                "{input}: {err}"
            );
        }
        assert!(
            parse_duration("99999999999999999999h")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(
            parse_duration("9223372036").unwrap(),
            Duration::from_secs(9_223_372_036)
        );
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
