//! Fault injection and request counters, shared by the library API and the
//! `/kubesim/v1/faults` and `/kubesim/v1/counters` admin endpoints.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Fault {
    /// Wait this many milliseconds, then answer normally.
    #[serde(rename_all = "camelCase")]
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Answer this status (5xx or 429) with a proper Status body.
    #[serde(rename_all = "camelCase")]
    Status {
        /// HTTP status code.
        code: u16,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u32>,
    },
    /// Wait this many milliseconds, then answer 504 Timeout with a real server's Status body,
    /// as a real server does once its request timeout has run out (e.g. etcd does not answer).
    #[serde(rename_all = "camelCase")]
    Timeout {
        /// Delay before the answer, in milliseconds.
        after_ms: u64,
    },
    /// Answer 410 Gone, reason `Expired`, as a real server answers a list whose `continue`
    /// token has expired (etcd compacted the revision it pins). Pair it with
    /// [`FaultRule::with_continue`] to hit only the pages after the first.
    Expired,
    /// Never answer: the connection stays open and silent (an API server whose etcd is frozen).
    Hang,
    /// Send the headers and part of the body, then close the connection.
    #[serde(rename_all = "camelCase")]
    Drop {
        /// Bytes of body to send before closing (default: half).
        #[serde(default)]
        after_bytes: Option<usize>,
    },
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// Only this method (e.g. `GET`); any when `None`.
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix (or the exact path when `exact`).
    pub path_prefix: String,
    /// Match the path exactly instead of by prefix.
    #[serde(default)]
    pub exact: bool,
    /// What to do.
    pub action: Fault,
    /// Fire this many times, then disappear; forever when `None`.
    #[serde(default)]
    pub times: Option<u32>,
    /// Only requests carrying a non-empty `continue` query parameter (the pages after a
    /// list's first).
    #[serde(default)]
    pub with_continue: bool,
}

/// The message of a real API server's 410 Expired answer to an expired `continue` token.
pub const EXPIRED_CONTINUE_MESSAGE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// The message of a real API server's 504 Timeout, sent when a request outlives the server's
/// request timeout (e.g. etcd does not answer).
pub const TIMEOUT_MESSAGE: &str =
    "Timeout: request did not complete within requested timeout - context deadline exceeded";

impl FaultRule {
    /// A rule for every method on a path prefix, firing forever.
    pub fn new(path_prefix: impl Into<String>, action: Fault) -> Self {
        FaultRule {
            method: None,
            path_prefix: path_prefix.into(),
            exact: false,
            action,
            times: None,
            with_continue: false,
        }
    }

    /// Fires only on requests that carry a `continue` token.
    pub fn with_continue(mut self) -> Self {
        self.with_continue = true;
        self
    }

    /// Restricts the rule to one method.
    pub fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_ascii_uppercase());
        self
    }

    /// Fires only `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Matches the path exactly.
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        (!self.with_continue
            || query
                .split('&')
                .any(|kv| kv.strip_prefix("continue=").is_some_and(|v| !v.is_empty())))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && if self.exact {
                path == self.path_prefix
            } else {
                path.starts_with(&self.path_prefix)
            }
    }
}

/// The active fault rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<(u64, FaultRule)>>,
    next: AtomicU64,
}

impl Faults {
    /// Adds a rule, returning its id.
    pub fn add(&self, rule: FaultRule) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock().push((id, rule));
        id
    }

    /// Removes one rule.
    pub fn remove(&self, id: u64) {
        self.lock().retain(|(i, _)| *i != id);
    }

    /// Removes all rules.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The active rules with their ids.
    pub fn list(&self) -> Vec<(u64, FaultRule)> {
        self.lock().clone()
    }

    /// The fault for a request without a query, consuming one use of the first matching rule.
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        self.take_request(method, path, "")
    }

    /// The fault for a request (its raw query string included), consuming one use of the first
    /// matching rule.
    pub fn take_request(&self, method: &str, path: &str, query: &str) -> Option<Fault> {
        let mut rules = self.lock();
        let pos = rules
            .iter()
            .position(|(_, r)| r.matches(method, path, query))?;
        let action = rules[pos].1.action.clone();
        if let Some(t) = rules[pos].1.times.as_mut() {
            *t = t.saturating_sub(1);
            if *t == 0 {
                rules.remove(pos);
            }
        }
        Some(action)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, FaultRule)>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Request and byte counters.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    by_route: Mutex<BTreeMap<String, u64>>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterSnapshot {
    /// Requests served (admin endpoints excluded).
    pub requests: u64,
    /// Response body bytes sent.
    pub bytes_sent: u64,
    /// Requests by `METHOD /path/{pattern}`.
    pub by_route: BTreeMap<String, u64>,
}

impl CounterSnapshot {
    /// Requests whose route starts with `prefix` (e.g. `GET /api/v1/nodes`).
    pub fn count(&self, prefix: &str) -> u64 {
        self.by_route
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }
}

impl Counters {
    /// Counts a request.
    pub fn request(&self, method: &str, path: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let key = format!("{method} {}", route_pattern(path));
        *self
            .by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    /// Counts body bytes sent.
    pub fn bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            bytes_sent: self.bytes.load(Ordering::Relaxed),
            by_route: self
                .by_route
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Resets all counters to zero.
    pub fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// `/api/v1/namespaces/x/pods/y` → `/api/v1/namespaces/{namespace}/pods/{name}`.
pub fn route_pattern(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (head, rest): (Vec<&str>, &[&str]) = match segs.as_slice() {
        ["api", v, rest @ ..] => (vec!["api", v], rest),
        ["apis", g, v, rest @ ..] => (vec!["apis", g, v], rest),
        _ => return path.to_string(),
    };
    let mut out: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    let mut rest = rest;
    if rest.first() == Some(&"watch") {
        out.push("watch".into());
        rest = &rest[1..];
    }
    if rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && (rest[2] == "status" || rest[2] == "finalize"))
    {
        out.push("namespaces".into());
        out.push("{namespace}".into());
        rest = &rest[2..];
    }
    for (i, s) in rest.iter().enumerate() {
        out.push(if i == 1 {
            "{name}".to_string()
        } else {
            s.to_string()
        });
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(
            route_pattern("/api/v1/namespaces/a/pods/b"),
            "/api/v1/namespaces/{namespace}/pods/{name}"
        );
        assert_eq!(route_pattern("/api/v1/nodes"), "/api/v1/nodes");
        assert_eq!(
            route_pattern("/api/v1/namespaces/kube-system"),
            "/api/v1/namespaces/{name}"
        );
        assert_eq!(
            route_pattern("/apis/apps/v1/namespaces/a/deployments/b/scale"),
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
        );
    }

    #[test]
    fn rules_expire() {
        let f = Faults::default();
        f.add(
            FaultRule::new(
                "/api/v1/nodes",
                Fault::Status {
                    code: 503,
                    retry_after: None,
                },
            )
            .method("GET")
            .times(2),
        );
        assert!(f.take("POST", "/api/v1/nodes").is_none());
        assert!(f.take("GET", "/api/v1/nodes").is_some());
        assert!(f.take("GET", "/api/v1/nodes/x").is_some());
        assert!(f.take("GET", "/api/v1/nodes").is_none());
        let j: FaultRule =
            serde_json::from_str(r#"{"pathPrefix":"/api","action":{"type":"latency","ms":5}}"#)
                .unwrap();
        assert_eq!(j.action, Fault::Latency { ms: 5 });
        let j: FaultRule = serde_json::from_str(
            r#"{"pathPrefix":"/api","withContinue":true,"action":{"type":"expired"}}"#,
        )
        .unwrap();
        assert_eq!(j.action, Fault::Expired);
    }

    #[test]
    fn continue_rules_fire_only_on_later_pages() {
        let f = Faults::default();
        f.add(FaultRule::new("/api/v1/pods", Fault::Expired).with_continue());
        assert!(f.take_request("GET", "/api/v1/pods", "limit=2").is_none());
        assert!(
            f.take_request("GET", "/api/v1/pods", "limit=2&continue=")
                .is_none()
        );
        assert_eq!(
            f.take_request("GET", "/api/v1/pods", "limit=2&continue=abc"),
            Some(Fault::Expired)
        );
    }
}
