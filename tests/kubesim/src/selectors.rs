//! Label and field selectors, parsed with the grammar and error messages of
//! `k8s.io/apimachinery/pkg/labels` and `pkg/fields`.

use crate::error::ApiError;
use crate::store::Stored;
use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelReq {
    /// `key` (exists).
    Exists(String),
    /// `!key`.
    NotExists(String),
    /// `key=value`, `key==value`.
    Eq(String, String),
    /// `key!=value` (also true when the key is absent).
    Ne(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when absent).
    NotIn(String, Vec<String>),
    /// `key>n`.
    Gt(String, i64),
    /// `key<n`.
    Lt(String, i64),
}

/// A parsed label selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(pub Vec<LabelReq>);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Not,
    Ne,
    Eq,
    DEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    In,
    NotIn,
    End,
}

impl Tok {
    fn lit(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Not => "!".into(),
            Tok::Ne => "!=".into(),
            Tok::Eq => "=".into(),
            Tok::DEq => "==".into(),
            Tok::Gt => ">".into(),
            Tok::Lt => "<".into(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
            Tok::In => "in".into(),
            Tok::NotIn => "notin".into(),
            Tok::End => String::new(),
        }
    }
}

fn lex(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
        match two.as_str() {
            "!=" => {
                out.push(Tok::Ne);
                i += 2;
                continue;
            }
            "==" => {
                out.push(Tok::DEq);
                i += 2;
                continue;
            }
            _ => {}
        }
        let t = match c {
            '!' => Some(Tok::Not),
            '=' => Some(Tok::Eq),
            '>' => Some(Tok::Gt),
            '<' => Some(Tok::Lt),
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = t {
            out.push(t);
            i += 1;
            continue;
        }
        let start = i;
        while i < cs.len() && !cs[i].is_whitespace() && !"!=<>(),".contains(cs[i]) {
            i += 1;
        }
        let word: String = cs[start..i].iter().collect();
        out.push(match word.as_str() {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Ident(word),
        });
    }
    out.push(Tok::End);
    out
}

fn perr(msg: String) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {msg}"))
}

fn valid_label_value(v: &str) -> bool {
    v.len() <= 63
        && (v.is_empty()
            || (v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.ends_with(|c: char| c.is_ascii_alphanumeric())))
}

impl LabelSelector {
    /// Parses a `labelSelector` query value.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let toks = lex(s);
        let mut p = 0usize;
        let mut reqs = Vec::new();
        if toks.len() == 1 {
            return Ok(LabelSelector(reqs));
        }
        loop {
            // key (with optional '!')
            let mut negate = false;
            let mut t = toks[p].clone();
            p += 1;
            if t == Tok::Not {
                negate = true;
                t = toks[p].clone();
                p += 1;
                if !matches!(t, Tok::Ident(_)) {
                    return Err(perr(format!(
                        "found '{}', expected: identifier after '!'",
                        t.lit()
                    )));
                }
            }
            let key = match t {
                Tok::Ident(k) => k,
                other => {
                    return Err(perr(format!(
                        "found '{}', expected: identifier",
                        other.lit()
                    )));
                }
            };
            if matches!(toks[p], Tok::End | Tok::Comma) {
                reqs.push(if negate {
                    LabelReq::NotExists(key)
                } else {
                    LabelReq::Exists(key)
                });
            } else {
                if negate {
                    return Err(perr(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        toks[p].lit()
                    )));
                }
                let op = toks[p].clone();
                p += 1;
                match op {
                    Tok::In | Tok::NotIn => {
                        if toks[p] != Tok::Open {
                            return Err(perr(format!("found '{}', expected: '('", toks[p].lit())));
                        }
                        p += 1;
                        let mut vals = Vec::new();
                        loop {
                            match toks[p].clone() {
                                Tok::Ident(v) => {
                                    vals.push(v);
                                    p += 1;
                                    match toks[p] {
                                        Tok::Comma => p += 1,
                                        Tok::Close => {
                                            p += 1;
                                            break;
                                        }
                                        ref o => {
                                            return Err(perr(format!(
                                                "found '{}', expected: ',' or ')'",
                                                o.lit()
                                            )));
                                        }
                                    }
                                }
                                Tok::Close => {
                                    p += 1;
                                    break;
                                }
                                Tok::Comma => {
                                    vals.push(String::new());
                                    p += 1;
                                }
                                o => {
                                    return Err(perr(format!(
                                        "found '{}', expected: ',', ')' or identifier",
                                        o.lit()
                                    )));
                                }
                            }
                        }
                        if let Some(bad) = vals.iter().find(|v| !valid_label_value(v)) {
                            return Err(perr(format!("invalid label value: {bad:?}")));
                        }
                        reqs.push(if op == Tok::In {
                            LabelReq::In(key, vals)
                        } else {
                            LabelReq::NotIn(key, vals)
                        });
                    }
                    Tok::Eq | Tok::DEq | Tok::Ne | Tok::Gt | Tok::Lt => {
                        let v = match toks[p].clone() {
                            Tok::Ident(v) => {
                                p += 1;
                                v
                            }
                            Tok::End | Tok::Comma => String::new(),
                            o => {
                                return Err(perr(format!(
                                    "found '{}', expected: identifier",
                                    o.lit()
                                )));
                            }
                        };
                        reqs.push(match op {
                            Tok::Ne => LabelReq::Ne(key, v),
                            Tok::Gt | Tok::Lt => {
                                let n: i64 = v.parse().map_err(|_| {
                                    perr(
                                        "for 'Gt', 'Lt' operators, the value must be an integer"
                                            .to_string(),
                                    )
                                })?;
                                if op == Tok::Gt {
                                    LabelReq::Gt(key, n)
                                } else {
                                    LabelReq::Lt(key, n)
                                }
                            }
                            _ => {
                                if !valid_label_value(&v) {
                                    return Err(perr(format!("invalid label value: {v:?}")));
                                }
                                LabelReq::Eq(key, v)
                            }
                        });
                    }
                    o => {
                        return Err(perr(format!(
                            "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                            o.lit()
                        )));
                    }
                }
            }
            match toks[p] {
                Tok::End => break,
                Tok::Comma => {
                    p += 1;
                    if toks[p] == Tok::End {
                        return Err(perr("found '', expected: identifier".into()));
                    }
                }
                ref o => {
                    return Err(perr(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        o.lit()
                    )));
                }
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// Builds a selector from a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    pub fn from_object(sel: &Value) -> Self {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(LabelReq::Eq(k.clone(), v.as_str().unwrap_or("").into()));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let vals: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                    "In" => reqs.push(LabelReq::In(key, vals)),
                    "NotIn" => reqs.push(LabelReq::NotIn(key, vals)),
                    "Exists" => reqs.push(LabelReq::Exists(key)),
                    "DoesNotExist" => reqs.push(LabelReq::NotExists(key)),
                    _ => {}
                }
            }
        }
        LabelSelector(reqs)
    }

    /// True when there are no requirements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's labels satisfy all requirements.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        self.matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    /// [`Self::matches`] on a stored object's precomputed labels.
    pub fn matches_stored(&self, obj: &Stored) -> bool {
        self.is_empty() || self.matches_with(|k| obj.sel.label(k))
    }

    fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| match r {
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::Ne(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelReq::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            LabelReq::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }
}

/// A parsed field selector: `(field, value, equal?)` terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(pub Vec<(String, String, bool)>);

/// The field selectors a resource supports beyond `metadata.name` and `metadata.namespace`.
pub fn extra_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses a `fieldSelector` for a resource, rejecting unsupported fields like the real server.
    pub fn parse(s: &str, group: &str, plural: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (f, v, eq) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let f = f.trim();
            let extra = extra_fields(group, plural);
            if f != "metadata.name" && f != "metadata.namespace" && !extra.contains(&f) {
                let msg = if extra.is_empty() {
                    format!(
                        "\"{f}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    )
                } else {
                    format!("field label not supported: {f}")
                };
                return Err(ApiError::bad_request(msg));
            }
            terms.push((f.to_string(), v.trim().to_string(), eq));
        }
        Ok(FieldSelector(terms))
    }

    /// The value of `metadata.name=X`, if the selector pins one name.
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _, eq)| f == "metadata.name" && *eq)
            .map(|(_, v, _)| v.as_str())
    }

    /// Whether an object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(f, v, eq)| {
            let actual = field_value(obj, f);
            (actual == *v) == *eq
        })
    }

    /// [`Self::matches`] on a stored object, reading its precomputed fields.
    pub fn matches_stored(&self, obj: &Stored) -> bool {
        self.0.iter().all(|(f, v, eq)| {
            let same = match obj.sel.field(f) {
                Some(Some(actual)) => actual == v,
                Some(None) => absent_value(f) == v,
                None => field_value(&obj.value, f) == *v,
            };
            same == *eq
        })
    }
}

/// The fields a field selector may use on objects of a kind (the built-in kinds of
/// [`extra_fields`], plus `metadata.name` and `metadata.namespace` for every kind).
pub fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Node" => &["metadata.name", "metadata.namespace", "spec.unschedulable"],
        "Secret" => &["metadata.name", "metadata.namespace", "type"],
        "Namespace" => &["metadata.name", "metadata.namespace", "status.phase"],
        "Event" => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "ReplicaSet" => &["metadata.name", "metadata.namespace", "status.replicas"],
        "Job" => &["metadata.name", "metadata.namespace", "status.successful"],
        _ => &["metadata.name", "metadata.namespace"],
    }
}

/// What [`field_value`] reads for a field the object does not have.
fn absent_value(field: &str) -> &'static str {
    if field == "spec.unschedulable" || field == "spec.hostNetwork" {
        "false"
    } else {
        ""
    }
}

/// [`field_value`] of a field the object has; `None` when the path is missing.
pub fn field_present(obj: &Value, field: &str) -> Option<String> {
    let mut cur = obj;
    for part in field.split('.') {
        cur = cur.get(part)?;
    }
    Some(match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Reads a dotted field as the string a field selector compares (`false` for a missing bool).
pub fn field_value(obj: &Value, field: &str) -> String {
    let mut cur = obj;
    for part in field.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => {
                return if field == "spec.unschedulable" || field == "spec.hostNetwork" {
                    "false".into()
                } else {
                    String::new()
                };
            }
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_all_operators() {
        let s = LabelSelector::parse("a=b,c==d,e!=f,g in (h, i),j notin (k),l,!m").unwrap();
        assert_eq!(s.0.len(), 7);
        let o = json!({"metadata": {"labels": {"a": "b", "c": "d", "g": "i", "l": "x"}}});
        assert!(s.matches(&o));
        let o2 =
            json!({"metadata": {"labels": {"a": "b", "c": "d", "g": "i", "l": "x", "m": "1"}}});
        assert!(!s.matches(&o2));
    }

    #[test]
    fn bad_selector_message_matches_sample() {
        let e = LabelSelector::parse("a in (b").unwrap_err();
        assert_eq!(
            e.message,
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(e.code, 400);
    }

    #[test]
    fn field_selector_unknown_field() {
        let e = FieldSelector::parse("data.k=v1", "", "configmaps").unwrap_err();
        assert_eq!(
            e.message,
            "\"data.k\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let f = FieldSelector::parse("spec.unschedulable!=true", "", "nodes").unwrap();
        assert!(f.matches(&json!({"spec": {}})));
    }

    #[test]
    fn stored_objects_match_like_their_json() {
        let pod = json!({"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "x", "n": "5"}},
            "spec": {"nodeName": "node-1", "hostNetwork": true, "priority": 3},
            "status": {"phase": "Running", "podIP": null}});
        let node = json!({"kind": "Node", "metadata": {"name": "n1"}, "spec": {}});
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"k": "v"}});
        let labels = [
            "",
            "app=web",
            "app!=web",
            "app in (a, web)",
            "app notin (web)",
            "tier",
            "!tier",
            "n>4",
            "n<4",
            "missing",
            "!missing",
            "app=web,tier=y",
        ];
        let fields = [
            ("", "pods"),
            ("spec.nodeName=node-1", "pods"),
            ("spec.nodeName!=node-1", "pods"),
            ("status.phase!=Running", "pods"),
            ("status.phase=Running,metadata.name=p", "pods"),
            ("spec.hostNetwork=true", "pods"),
            ("spec.hostNetwork=false", "pods"),
            ("status.podIP=", "pods"),
            ("status.nominatedNodeName=", "pods"),
            ("spec.restartPolicy=Always", "pods"),
            ("metadata.namespace=ns", "pods"),
            ("spec.unschedulable=false", "nodes"),
            ("spec.unschedulable!=false", "nodes"),
            ("metadata.name=c", "configmaps"),
            ("metadata.namespace=other", "configmaps"),
        ];
        for obj in [&pod, &node, &cm] {
            let stored = Stored::new(obj.clone());
            for l in labels {
                let sel = LabelSelector::parse(l).unwrap();
                assert_eq!(
                    sel.matches_stored(&stored),
                    sel.matches(obj),
                    "{l} on {obj}"
                );
            }
            for (f, plural) in fields {
                let sel = FieldSelector::parse(f, "", plural).unwrap();
                assert_eq!(
                    sel.matches_stored(&stored),
                    sel.matches(obj),
                    "{f} on {obj}"
                );
            }
        }
        assert_eq!(Stored::new(pod).sel.label("tier"), Some("x"));
    }

    #[test]
    fn kind_fields_cover_every_selectable_field() {
        for (group, plural, kind) in [
            ("", "pods", "Pod"),
            ("", "nodes", "Node"),
            ("", "secrets", "Secret"),
            ("", "namespaces", "Namespace"),
            ("", "events", "Event"),
            ("apps", "replicasets", "ReplicaSet"),
            ("batch", "jobs", "Job"),
        ] {
            for f in extra_fields(group, plural) {
                assert!(kind_fields(kind).contains(f), "{kind} {f}");
            }
        }
    }
}
