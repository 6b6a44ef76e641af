//! Typed errors of the library and the exit statuses every plugin shares.
//!
//! Every failure a user can meet is one variant here, carrying the evidence (path, context,
//! action, server). [`Error::exit_status`] maps it to the documented exit code and
//! [`Error::hint`] gives the one line of advice that helps most. Rendering (one line plus an
//! optional `hint:`) happens once, in [`crate::run`].

use std::{fmt, path::PathBuf, process::ExitCode};

/// The exit statuses of all four plugins, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: the command ran and found nothing to act on.
    Success,
    /// 1: the command ran and found problems the user must act on (unhealthy cluster,
    /// blocking findings, a refused precondition, a wait that timed out).
    Findings,
    /// 2: the command could not run: bad flags or input, kubeconfig problems, API errors.
    Error,
}

impl ExitStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Findings => 1,
            Self::Error => 2,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the suite.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be found, read or understood.
    #[error("cannot load kubeconfig{}: {reason}", path_suffix(.path))]
    LoadKubeconfig {
        /// The file, when one was named.
        path: Option<PathBuf>,
        /// What was wrong, in kube-rs's words.
        reason: String,
    },

    /// No kubeconfig exists and nothing else says where the cluster is.
    #[error("no kubeconfig found (looked at $KUBECONFIG and ~/.kube/config) and no --server given")]
    NoKubeconfig,

    /// A flag or argument is invalid.
    #[error("{message}")]
    Usage {
        /// What is wrong with the input.
        message: String,
    },

    /// A call to the Kubernetes API failed.
    #[error("cannot {action}: {}", describe_kube_error(.source))]
    Api {
        /// What we were doing, e.g. "list nodes".
        action: String,
        /// The error kube-rs returned.
        #[source]
        source: Box<kube::Error>,
    },

    /// A paged list kept losing its `continue` token (410 Expired) and was restarted until the
    /// bound.
    #[error(
        "cannot {action}: the list's continue token expired {attempts} times (410 Expired): the objects change faster than the list can be read page by page"
    )]
    ListExpired {
        /// What we were doing, e.g. "list pods".
        action: String,
        /// Tries made, the first included.
        attempts: u32,
    },

    /// Reading or writing a local file failed.
    #[error("cannot {action} `{}`: {source}", .path.display())]
    Io {
        /// What we were doing, e.g. "write backup".
        action: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Some input could not be parsed (a version, a values file, a template, a Helm payload).
    #[error("cannot parse {what}: {reason}")]
    Parse {
        /// What was being parsed, e.g. "version `1.x`".
        what: String,
        /// Why it failed.
        reason: String,
    },

    /// A jsonpath template failed on the report, where kubectl's fails (an index out of bounds):
    /// kubectl's own words, and nothing printed.
    #[error("error executing jsonpath {}: Error executing template: {reason}", crate::output::jsonpath::go_quote(.template))]
    Template {
        /// The template as given.
        template: String,
        /// client-go's reason, e.g. `array index out of bounds: index 5, length 2`.
        reason: String,
    },

    /// A precondition refused the command; nothing was changed.
    #[error("{message}")]
    Refused {
        /// Why the command refused to go on.
        message: String,
        /// What the user can do about it.
        hint: Option<String>,
    },

    /// A command run on the user's behalf (helm) failed.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line, without secrets.
        command: String,
        /// Exit status or stderr summary.
        reason: String,
    },

    /// Waiting for a condition ran out of time.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: String,
        /// How long we waited.
        seconds: u64,
    },

    /// The user interrupted the command (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

fn path_suffix(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" `{}`", p.display()))
        .unwrap_or_default()
}

impl Error {
    /// Wraps a kube-rs error with what we were doing.
    pub fn api(action: impl Into<String>, source: kube::Error) -> Self {
        Self::Api {
            action: action.into(),
            source: Box::new(source),
        }
    }

    /// A usage error.
    pub fn usage(message: impl fmt::Display) -> Self {
        Self::Usage {
            message: message.to_string(),
        }
    }

    /// A parse error.
    pub fn parse(what: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::Parse {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// A refusal with an optional hint.
    pub fn refused(message: impl Into<String>, hint: Option<String>) -> Self {
        Self::Refused {
            message: message.into(),
            hint,
        }
    }

    /// A local file error.
    pub fn io(action: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action: action.into(),
            path: path.into(),
            source,
        }
    }

    /// The HTTP status code, when the API server answered with an error Status.
    pub fn api_code(&self) -> Option<u16> {
        match self {
            Self::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(status) => Some(status.code),
                _ => None,
            },
            _ => None,
        }
    }

    /// True when the API answered 404 NotFound.
    pub fn is_not_found(&self) -> bool {
        self.api_code() == Some(404)
    }

    /// True when the API answered 403 Forbidden.
    pub fn is_forbidden(&self) -> bool {
        self.api_code() == Some(403)
    }

    /// True when the API answered 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        self.api_code() == Some(409)
    }

    /// The exit status this error ends the command with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Refused { .. } | Self::Timeout { .. } => ExitStatus::Findings,
            _ => ExitStatus::Error,
        }
    }

    /// One line of advice, when one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoKubeconfig => {
                Some("set KUBECONFIG, pass --kubeconfig, or give --server and --token".into())
            }
            Self::LoadKubeconfig { reason, .. } if reason.starts_with("the credential plugin") => {
                Some("run the kubeconfig's exec command by hand to see why it fails; you may need to log in again".into())
            }
            Self::LoadKubeconfig { .. } => Some(
                "check the file with `kubectl config view`; `--context` names one of `kubectl config get-contexts`"
                    .into(),
            ),
            Self::Refused { hint, .. } => hint.clone(),
            Self::Interrupted => Some(
                "rerun the same command: reads start over, and ks-migrate resumes at the step it stopped at (a helm upgrade it started goes on in the background)"
                    .into(),
            ),
            Self::Api { source, .. } => kube_error_hint(source),
            Self::ListExpired { .. } => Some(
                "try again; if it keeps happening, read bigger pages (--chunk-size) or check how often the API server compacts etcd"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Turns a kube-rs error into the few words a user needs: the server's own message for API
/// errors, and the root cause (connection refused, unknown CA, timeout) for transport errors.
pub(crate) fn describe_kube_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                "Error"
            } else {
                status.reason.as_str()
            };
            if status.message.is_empty() {
                format!("{} {}", status.code, reason)
            } else {
                format!("{} ({} {})", status.message, status.code, reason)
            }
        }
        kube::Error::Auth(e) => format!("authentication failed: {}", describe_auth_error(e, None)),
        kube::Error::SerdeError(e) => format!("unexpected response from the server: {e}"),
        other => transport_cause(other),
    }
}

/// Describes an error of building a client (TLS material, exec credential plugin), without
/// what an exec plugin printed on stdout (its credentials).
pub(crate) fn describe_client_error(err: &kube::Error, exec_command: Option<&str>) -> String {
    match find_auth_error(err) {
        Some(auth) => describe_auth_error(auth, exec_command),
        None => err.to_string(),
    }
}

fn find_auth_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a kube::client::AuthError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(auth) = e.downcast_ref::<kube::client::AuthError>() {
            return Some(auth);
        }
        cur = e.source();
    }
    None
}

/// An authentication error in a few words. kube-rs's own message for a failed exec plugin
/// quotes the plugin's whole output, stdout included, where a credential may be: it is never
/// shown; only the exit status and the last line the plugin wrote on stderr are.
pub(crate) fn describe_auth_error(
    err: &kube::client::AuthError,
    exec_command: Option<&str>,
) -> String {
    use kube::client::AuthError;
    let plugin = match exec_command {
        Some(c) => format!("the credential plugin `{c}`"),
        None => "the credential plugin".to_string(),
    };
    match err {
        AuthError::AuthExecRun { out, .. } => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .map(|l| {
                    let mut l = l.to_string();
                    if l.len() > 200 {
                        let mut cut = 200;
                        while !l.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        l.truncate(cut);
                        l.push('…');
                    }
                    format!(": {l}")
                })
                .unwrap_or_default();
            format!("{plugin} failed ({}){last}", out.status)
        }
        AuthError::AuthExecParse(_) | AuthError::ExecPluginFailed => {
            format!("{plugin} printed something that is not an ExecCredential")
        }
        AuthError::AuthExecStart(e) => format!("cannot run {plugin}: {e}"),
        other => root_cause(other),
    }
}

fn transport_cause(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(deadline) = find_deadline(err) {
        return deadline.to_string();
    }
    if let Some(timeout) = find_in_chain::<crate::client::RequestTimedOut>(err) {
        return timeout.to_string();
    }
    if let Some(auth) = find_auth_error(err) {
        return format!("authentication failed: {}", describe_auth_error(auth, None));
    }
    let root = root_cause(err);
    let lower = root.to_lowercase();
    if lower.contains("connection refused") {
        "connection refused: is the API server running and the address right?".into()
    } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        "TLS: the server's certificate is signed by an unknown certificate authority".into()
    } else if lower.contains("badsignature") || lower.contains("bad signature") {
        // A trusted CA with the same name as the server's issuer, but not its key.
        "TLS: the server's certificate is signed by an unknown certificate authority (its signature does not verify against the trusted CA of the same name)".into()
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        "TLS: the server's certificate is not valid for this host name".into()
    } else if lower.contains("expired") && lower.contains("cert") {
        "TLS: the server's certificate has expired".into()
    } else if lower.contains("close_notify")
        || lower.contains("unexpected eof")
        || lower.contains("end of file before message")
        || lower.contains("connection closed before message completed")
        || lower.contains("incompletemessage")
        || lower.contains("stream error received")
        || lower.contains("connection error")
    {
        "the API server closed the connection in the middle of its answer".into()
    } else if lower.contains("timed out") || lower.contains("elapsed") {
        "the request timed out".into()
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        format!("the server's host name does not resolve ({root})")
    } else {
        root
    }
}

/// An error and its causes on one line (`outer: cause: root`), repeated messages skipped.
pub(crate) fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let text = e.to_string().replace('\n', " ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// The [`crate::client::DeadlineExceeded`] in an error chain, if any.
pub(crate) fn find_deadline<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a crate::client::DeadlineExceeded> {
    find_in_chain(err)
}

/// The first error of type `E` in an error chain, if any.
fn find_in_chain<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(d) = e.downcast_ref::<E>() {
            return Some(d);
        }
        cur = e.source();
    }
    None
}

/// The innermost message of an error chain, which is where transport errors say what happened.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut messages = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        messages.push(e.to_string());
        cur = e.source();
    }
    // The last message that is not empty and not a generic wrapper.
    messages
        .iter()
        .rev()
        .find(|m| !m.is_empty() && m.as_str() != "client error (Connect)")
        .cloned()
        .unwrap_or_default()
}

fn kube_error_hint(err: &kube::Error) -> Option<String> {
    match err {
        kube::Error::Api(status) => match status.code {
            401 => Some(
                "the credentials were rejected: the token or certificate may have expired; log in again or check the user of the context"
                    .into(),
            ),
            403 => Some(
                "ask a cluster administrator for the permission named above; the README lists the minimal ClusterRole of each plugin"
                    .into(),
            ),
            429 => Some("the API server is overloaded; try again in a moment".into()),
            504 => Some(
                "the API server gave up waiting for its storage (etcd) or a webhook; check the control plane, then try again"
                    .into(),
            ),
            500..=599 => Some("the API server failed; try again, and check its health".into()),
            _ => None,
        },
        _ => {
            let text = transport_cause(err);
            if find_deadline(err).is_some() {
                Some("the API server is reachable but not answering (is etcd healthy?); retry later, or give it longer with --deadline".into())
            } else if text.starts_with("TLS: the server's certificate is signed by an unknown") {
                Some("check certificate-authority in the kubeconfig, or --certificate-authority".into())
            } else if text.starts_with("connection refused") || text.contains("does not resolve") {
                Some("check the server address of the context (`kubectl config view --minify`)".into())
            } else if text.starts_with("the API server closed the connection") {
                Some("try again; if it keeps happening, check the API server and any proxy or load balancer in front of it".into())
            } else if text.starts_with("the request timed out") {
                Some("raise --request-timeout, or check the network path to the API server".into())
            } else {
                None
            }
        }
    }
}

/// Extension to attach "what we were doing" to kube-rs results.
pub trait KubeResultExt<T> {
    /// Maps a kube-rs error to [`Error::Api`] with the given action.
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T>;
}

impl<T> KubeResultExt<T> for std::result::Result<T, kube::Error> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::api(action(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut s = Status::failure(message, reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn forbidden_keeps_the_servers_message_and_hints_at_rbac() {
        let err = Error::api(
            "list nodes",
            status(
                403,
                "Forbidden",
                "nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            ),
        );
        assert_eq!(
            err.to_string(),
            "cannot list nodes: nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" at the cluster scope (403 Forbidden)"
        );
        assert!(err.is_forbidden());
        assert_eq!(err.exit_status(), ExitStatus::Error);
        assert!(err.hint().unwrap().contains("ClusterRole"));
    }

    #[test]
    fn unauthorized_hints_at_expired_credentials() {
        let err = Error::api("get version", status(401, "Unauthorized", "Unauthorized"));
        assert_eq!(
            err.to_string(),
            "cannot get version: Unauthorized (401 Unauthorized)"
        );
        assert!(err.hint().unwrap().contains("expired"));
    }

    #[test]
    fn a_failed_exec_plugin_is_described_without_its_stdout() {
        use std::os::unix::process::ExitStatusExt;
        let err = kube::Error::Auth(kube::client::AuthError::AuthExecRun {
            cmd: "KUBERNETES_EXEC_INFO=\"{}\" \"sso\"".into(),
            out: Box::new(std::process::Output {
                status: std::process::ExitStatus::from_raw(3 << 8),
                stdout: b"{\"status\":{\"token\":\"LEAKED-TOKEN\"}}".to_vec(),
                stderr: b"warming up\nsession expired: log in again\n\n".to_vec(),
            }),
        });
        let text = describe_client_error(&err, Some("/usr/bin/sso"));
        assert_eq!(
            text,
            "the credential plugin `/usr/bin/sso` failed (exit status: 3): session expired: log in again"
        );
        let text = describe_kube_error(&err);
        assert!(
            text.starts_with("authentication failed: the credential plugin failed"),
            "{text}"
        );
        assert!(!text.contains("LEAKED-TOKEN"));
    }

    #[test]
    fn a_certificate_from_a_same_named_ca_is_an_unknown_ca() {
        #[derive(Debug)]
        struct Tls;
        impl fmt::Display for Tls {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("invalid peer certificate: BadSignature")
            }
        }
        impl std::error::Error for Tls {}
        let text = transport_cause(&Tls);
        assert!(
            text.starts_with(
                "TLS: the server's certificate is signed by an unknown certificate authority"
            ),
            "{text}"
        );
    }

    #[test]
    fn refusals_are_findings_not_errors() {
        let err = Error::refused("member `m1` is not Ready", Some("wait for it".into()));
        assert_eq!(err.exit_status(), ExitStatus::Findings);
        assert_eq!(err.hint().as_deref(), Some("wait for it"));
        assert_eq!(ExitStatus::Findings.code(), 1);
    }
}
