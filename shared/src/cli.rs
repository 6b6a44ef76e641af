//! Command-line pieces every plugin flattens into its own arguments: kubectl's connection flags
//! ([`KubeArgs`]), the `-o/--output` flag ([`OutputArgs`]) and the fleet flags ([`FleetArgs`]).
//! Each converts into the library's plain options ([`ConnectOptions`], [`OutputFormat`],
//! [`FleetOptions`]); nothing below this module sees a clap type.
//!
//! The names, short flags and meanings follow kubectl's `genericclioptions`, so that an operator
//! can move a flag from a `kubectl get` line to one of our plugins unchanged.

use std::{path::PathBuf, str::FromStr, time::Duration};

use clap::Args;

pub use crate::output::OutputFormat;
use crate::{client::ConnectOptions, fleet::FleetOptions};

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

impl KubeArgs {
    /// The connection these flags ask for.
    pub fn options(&self) -> ConnectOptions {
        let Self {
            kubeconfig,
            context,
            cluster,
            user,
            namespace,
            impersonate,
            impersonate_groups,
            request_timeout,
            deadline,
            chunk_size,
            verbosity,
            server,
            token,
            certificate_authority,
            insecure_skip_tls_verify,
        } = self.clone();
        ConnectOptions {
            kubeconfig,
            context,
            cluster,
            user,
            namespace,
            impersonate,
            impersonate_groups,
            request_timeout,
            deadline,
            chunk_size,
            verbosity,
            server,
            token,
            certificate_authority,
            insecure_skip_tls_verify,
        }
    }
}

/// The longest duration accepted: Go's `time.Duration` limit (2^63-1 nanoseconds, about 292
/// years), beyond which kubectl's own `time.ParseDuration` fails too.
pub(crate) const MAX_DURATION: Duration = Duration::new(9_223_372_036, 854_775_807);

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

/// The fleet flags, shared by `upgrade-plan` and `health`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Fleet (run against a KubeSphere host)")]
pub struct FleetArgs {
    /// Run on the host and on every member cluster it lists (clusters.cluster.kubesphere.io)
    #[arg(long)]
    pub fleet: bool,

    /// With --fleet: how many clusters are checked at once
    #[arg(long, value_name = "N", default_value_t = crate::fleet::DEFAULT_MAX_PARALLEL, value_parser = clap::value_parser!(u16).range(1..), requires = "fleet")]
    pub max_parallel: u16,

    /// With --fleet: reach member NAME through kubeconfig context CONTEXT (repeatable; wins over
    /// the context found by server address)
    #[arg(long = "member-context", value_name = "NAME=CONTEXT", value_parser = parse_member_context, requires = "fleet")]
    pub member_contexts: Vec<(String, String)>,

    /// With --fleet: reach a directly connected member that no context reaches with the
    /// kubeconfig KubeSphere stores in its Cluster object (held in memory only, never shown)
    #[arg(long, requires = "fleet")]
    pub use_stored_kubeconfigs: bool,
}

impl FleetArgs {
    /// The fleet options these flags ask for (whether to run on the fleet is [`Self::fleet`]).
    pub fn options(&self) -> FleetOptions {
        FleetOptions {
            max_parallel: self.max_parallel,
            member_contexts: self.member_contexts.clone(),
            use_stored_kubeconfigs: self.use_stored_kubeconfigs,
        }
    }
}

fn parse_member_context(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, ctx)) if !name.is_empty() && !ctx.is_empty() => {
            Ok((name.to_string(), ctx.to_string()))
        }
        _ => Err(format!("expected NAME=CONTEXT, got `{s}`")),
    }
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
    fn member_context_flag_parses() {
        assert_eq!(
            parse_member_context("m1=ctx=x").unwrap(),
            ("m1".to_string(), "ctx=x".to_string())
        );
        assert!(parse_member_context("m1").is_err());
        assert!(parse_member_context("=c").is_err());
    }
}
