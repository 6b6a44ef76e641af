//! kubectl's jsonpath *template* dialect, on top of jsonpath-rust (RFC 9535).
//!
//! kubectl templates mix literal text with `{expression}` actions, `{range EXPR}…{end}` loops
//! and quoted strings (`{"\n"}`); expressions are relative to the current object (`.a.b`,
//! `@.a`) or the root (`$.a`). This module parses that template, translates each expression to a
//! normalized RFC 9535 query (`$['a']['b']`, so names with `-`, `/` or escaped dots work) and
//! prints results the way client-go's `PrintResults` does: strings raw, scalars as Go prints
//! them, maps and lists as compact JSON with sorted keys and Go's HTML escaping, several results
//! joined by a space, and missing keys printing nothing (`--allow-missing-template-keys=true`).

use jsonpath_rust::JsonPath;
use serde_json::Value;

use crate::error::{Error, Result};

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template as the user wrote it, for error messages.
    raw: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Expr(Expr),
    Range(Expr, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
struct Expr {
    /// The query, in normalized RFC 9535 form.
    query: String,
    /// Whether it starts at the root (`$`) rather than the current object.
    from_root: bool,
    /// The same query, one segment at a time, for kubectl's bounds checks.
    segments: Vec<Segment>,
}

/// One step of a query (`['a']`, `[0]`, `[*]`, `[?(...)]`, `..['a']`) and what kubectl checks
/// before taking it.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// The step in RFC 9535 form, to append to `$`.
    text: String,
    check: Check,
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    None,
    /// `[i]`: client-go fails when `i` is outside the array.
    Index(i64),
    /// `[a:b]`: client-go fails when either end is outside the array.
    Slice(Option<i64>, Option<i64>),
    /// `[?(...)]`: the paths the filter reads, each evaluated (and checked) on every element.
    Filter(Vec<Expr>),
}

impl Template {
    /// Parses a kubectl jsonpath template.
    pub fn parse(template: &str) -> Result<Self> {
        let err = |reason: String| Error::parse(format!("jsonpath template `{template}`"), reason);
        let mut stack: Vec<(Option<Expr>, Vec<Node>)> = vec![(None, Vec::new())];
        let mut text = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '{' {
                text.push(c);
                continue;
            }
            if !text.is_empty() {
                stack
                    .last_mut()
                    .expect("root frame")
                    .1
                    .push(Node::Text(std::mem::take(&mut text)));
            }
            // Find the closing brace, skipping quoted strings.
            let mut end = None;
            let mut quote: Option<char> = None;
            let mut escaped = false;
            for (j, d) in chars.by_ref() {
                if let Some(q) = quote {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == q {
                        quote = None;
                    }
                    continue;
                }
                match d {
                    '"' | '\'' => quote = Some(d),
                    '}' => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                return Err(err("unclosed action".into()));
            };
            let action = template[i + 1..end].trim();
            if action == "end" {
                if stack.len() < 2 {
                    return Err(err("not in range, nothing to end".into()));
                }
                let (expr, body) = stack.pop().expect("checked length");
                let expr = expr.expect("range frames carry their expression");
                stack
                    .last_mut()
                    .expect("root frame")
                    .1
                    .push(Node::Range(expr, body));
            } else if let Some(rest) = action.strip_prefix("range") {
                if !rest.starts_with(char::is_whitespace) {
                    return Err(err(format!("unrecognized identifier `{action}`")));
                }
                let expr = translate(rest.trim()).map_err(err)?;
                stack.push((Some(expr), Vec::new()));
            } else if action.starts_with('"') {
                let s = unquote(action).map_err(err)?;
                stack.last_mut().expect("root frame").1.push(Node::Text(s));
            } else if action.is_empty() {
                return Err(err("empty action".into()));
            } else {
                let expr = translate(action).map_err(err)?;
                stack
                    .last_mut()
                    .expect("root frame")
                    .1
                    .push(Node::Expr(expr));
            }
        }
        if !text.is_empty() {
            stack
                .last_mut()
                .expect("root frame")
                .1
                .push(Node::Text(text));
        }
        if stack.len() != 1 {
            return Err(err("unclosed range: missing {end}".into()));
        }
        let nodes = stack.pop().expect("root frame").1;
        // Fail early on queries jsonpath-rust cannot parse.
        fn check(nodes: &[Node]) -> std::result::Result<(), String> {
            for n in nodes {
                match n {
                    Node::Text(_) => {}
                    Node::Expr(e) => validate(e)?,
                    Node::Range(e, body) => {
                        validate(e)?;
                        check(body)?;
                    }
                }
            }
            Ok(())
        }
        check(&nodes).map_err(err)?;
        Ok(Self {
            raw: template.to_string(),
            nodes,
        })
    }

    /// Renders the template against a document. Where kubectl's jsonpath fails (an array index
    /// out of bounds, under `[*]` or inside a filter too), this fails with kubectl's message
    /// and nothing is rendered: no partial result.
    pub fn render(&self, root: &Value) -> Result<String> {
        let mut out = String::new();
        render_nodes(&self.nodes, root, root, &mut out).map_err(|reason| Error::Template {
            template: self.raw.clone(),
            reason,
        })?;
        Ok(out)
    }
}

/// Go's `%q` of a string, as kubectl quotes the template in its error.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn validate(expr: &Expr) -> std::result::Result<(), String> {
    Value::Null
        .query(&expr.query)
        .map(|_| ())
        .map_err(|e| e.to_string())?;
    for segment in &expr.segments {
        Value::Null
            .query(&format!("${}", segment.text))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Evaluates an expression one segment at a time, failing as client-go's jsonpath does before
/// a step it cannot take; the error is client-go's reason (`array index out of bounds: ...`).
fn evaluate<'a>(
    expr: &Expr,
    root: &'a Value,
    current: &'a Value,
) -> std::result::Result<Vec<&'a Value>, String> {
    let base = if expr.from_root { root } else { current };
    // The checks walk the query step by step; the result is the whole query's, as before.
    if expr
        .segments
        .iter()
        .any(|s| !matches!(s.check, Check::None))
    {
        let mut nodes = vec![base];
        for segment in &expr.segments {
            for node in &nodes {
                check_step(&segment.check, node, root)?;
            }
            let query = format!("${}", segment.text);
            let mut next = Vec::new();
            for node in nodes {
                next.extend(node.query(&query).map_err(|e| e.to_string())?);
            }
            nodes = next;
        }
    }
    base.query(&expr.query).map_err(|e| e.to_string())
}

/// The checks client-go's `evalArray` and `evalFilter` make before a step.
fn check_step(check: &Check, node: &Value, root: &Value) -> std::result::Result<(), String> {
    let len = |items: &Vec<Value>| i64::try_from(items.len()).unwrap_or(i64::MAX);
    match (check, node) {
        (Check::None, _) | (_, Value::Null) => Ok(()),
        (Check::Index(i), Value::Array(items)) => {
            let len = len(items);
            // `[i]` is the slice `[i:i+1]`; a negative index counts from the end.
            let start = if *i < 0 { i.saturating_add(len) } else { *i };
            let mut end = i.saturating_add(1);
            if end <= 0 {
                end = end.saturating_add(len);
            }
            bounds(start, end, len)
        }
        (Check::Slice(a, b), Value::Array(items)) => {
            let len = len(items);
            let mut start = a.unwrap_or(0);
            if start < 0 {
                start = start.saturating_add(len);
            }
            let mut end = b.unwrap_or(len);
            if end < 0 {
                end = end.saturating_add(len);
            }
            bounds(start, end, len)
        }
        (Check::Index(_) | Check::Slice(..), other) => {
            Err(format!("{} is not array or slice", go_type(other)))
        }
        (Check::Filter(paths), Value::Array(items)) => {
            for item in items {
                for path in paths {
                    evaluate(path, root, item)?;
                }
            }
            Ok(())
        }
        (Check::Filter(_), _) => Ok(()),
    }
}

fn bounds(start: i64, end: i64, len: i64) -> std::result::Result<(), String> {
    if start == end {
        // Zero elements asked for: allowed.
        return Ok(());
    }
    if start >= len || start < 0 {
        return Err(format!(
            "array index out of bounds: index {start}, length {len}"
        ));
    }
    if end > len || end < 0 {
        return Err(format!(
            "array index out of bounds: index {}, length {len}",
            end.saturating_sub(1)
        ));
    }
    if start > end {
        return Err(format!(
            "starting index {start} is greater than ending index {end}"
        ));
    }
    Ok(())
}

/// The Go type an unstructured object's value has in client-go.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "map[string]interface {}",
        Value::Array(_) => "[]interface {}",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        Value::Null => "<nil>",
    }
}

fn render_nodes(
    nodes: &[Node],
    root: &Value,
    current: &Value,
    out: &mut String,
) -> std::result::Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Expr(e) => {
                let results = evaluate(e, root, current)?;
                let texts: Vec<String> = results.iter().map(|v| print_value(v)).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(e, body) => {
                // kubectl iterates over the results: `{range .items[*]}` walks the elements,
                // `{range .items}` visits the one list once.
                for item in evaluate(e, root, current)? {
                    render_nodes(body, root, item, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Prints one result as client-go's jsonpath does.
fn print_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::Null => "null".to_string(),
        Value::Array(_) | Value::Object(_) => {
            let mut s = String::new();
            go_json(v, &mut s);
            s
        }
    }
}

fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    go_float(f)
}

/// Go's `%v` for float64 as kubectl prints it: shortest digits, exponent form when the decimal
/// exponent is < -4 or >= 6 (`1.2345675e+06`, `1e-05`). Integers beyond i64 are floats in Go.
fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return format!("{f}");
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{f:e}"); // e.g. 1.5e-7
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", e.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `json.Marshal`: compact, keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Unquotes a Go double-quoted string literal (`"\n"`, `"\t"`, `"a\"b"`).
fn unquote(s: &str) -> std::result::Result<String, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| format!("unterminated string {s}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some(other) => return Err(format!("unknown escape `\\{other}` in {s}")),
            None => return Err(format!("unterminated escape in {s}")),
        }
    }
    Ok(out)
}

/// Translates a kubectl expression to a normalized RFC 9535 query.
fn translate(expr: &str) -> std::result::Result<Expr, String> {
    let mut rest = expr.trim();
    let mut from_root = false;
    if let Some(r) = rest.strip_prefix('$') {
        from_root = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('@') {
        rest = r;
    }
    let mut segments: Vec<Segment> = Vec::new();
    let plain = |text: String| Segment {
        text,
        check: Check::None,
    };
    // `..` waiting for the bracket that follows it.
    let mut descent = false;
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let recursive = chars.get(i + 1) == Some(&'.');
                i += if recursive { 2 } else { 1 };
                let mut name = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        name.push(chars[i + 1]);
                        i += 2;
                    } else {
                        name.push(chars[i]);
                        i += 1;
                    }
                }
                if recursive {
                    if name.is_empty() {
                        // `..[0]` style: the bracket follows.
                        if chars.get(i) != Some(&'[') {
                            return Err(format!("invalid recursive descent in `{expr}`"));
                        }
                        descent = true;
                    } else if name == "*" {
                        segments.push(plain("..*".into()));
                    } else {
                        segments.push(plain(format!("..{}", bracket_name(&name))));
                    }
                } else if name == "*" {
                    segments.push(plain("[*]".into()));
                } else if !name.is_empty() {
                    segments.push(plain(bracket_name(&name)));
                }
            }
            '[' => {
                let start = i;
                let mut depth = 0;
                let mut quote: Option<char> = None;
                while i < chars.len() {
                    let c = chars[i];
                    if let Some(q) = quote {
                        if c == '\\' {
                            i += 1;
                        } else if c == q {
                            quote = None;
                        }
                    } else if c == '"' || c == '\'' {
                        quote = Some(c);
                    } else if c == '[' {
                        depth += 1;
                    } else if c == ']' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("unterminated array in `{expr}`"));
                }
                let inner: String = chars[start + 1..i].iter().collect();
                let inner = inner.trim();
                let (text, check) = if let Some(index) = parse_index(inner) {
                    (inner.to_string(), Check::Index(index))
                } else if let Some((a, b)) = parse_slice(inner) {
                    (inner.to_string(), Check::Slice(a, b))
                } else if inner.starts_with('?') {
                    let (text, paths) = translate_filter(inner);
                    (text, Check::Filter(paths))
                } else {
                    (inner.to_string(), Check::None)
                };
                let prefix = if std::mem::take(&mut descent) {
                    ".."
                } else {
                    ""
                };
                segments.push(Segment {
                    text: format!("{prefix}[{text}]"),
                    // Under `..` the step applies wherever it can: no bounds to check.
                    check: if prefix.is_empty() {
                        check
                    } else {
                        Check::None
                    },
                });
                i += 1;
            }
            c if c.is_whitespace() => {
                return Err(format!("unexpected space in `{expr}`"));
            }
            _ => {
                // A bare name at the start (`{items[0]}` is not valid kubectl either).
                return Err(format!("unrecognized character `{}` in `{expr}`", chars[i]));
            }
        }
    }
    let query = std::iter::once("$".to_string())
        .chain(segments.iter().map(|s| s.text.clone()))
        .collect();
    Ok(Expr {
        query,
        from_root,
        segments,
    })
}

/// `3`, `-1`: an array index.
fn parse_index(inner: &str) -> Option<i64> {
    let digits = inner.strip_prefix('-').unwrap_or(inner);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    inner.parse().ok()
}

/// `a:b`, `a:`, `:b`, `a:b:step`: a slice with its optional ends.
fn parse_slice(inner: &str) -> Option<(Option<i64>, Option<i64>)> {
    let mut parts = inner.split(':');
    let (a, b) = (parts.next()?, parts.next()?);
    let step = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let end = |p: &str| -> Option<Option<i64>> {
        let p = p.trim();
        if p.is_empty() {
            Some(None)
        } else {
            parse_index(p).map(Some)
        }
    };
    if let Some(step) = step {
        end(step)?;
    }
    Some((end(a)?, end(b)?))
}

/// kubectl writes filters as `?(@.a.b=="x")`; RFC 9535 accepts that shape but needs member
/// names with `-` or `/` in brackets, which kubectl users write with dots. Also returns the
/// paths the filter reads (`@.a[0].b`, `$.c`), for kubectl's bounds checks.
fn translate_filter(inner: &str) -> (String, Vec<Expr>) {
    let Some(body) = inner.strip_prefix('?') else {
        return (inner.to_string(), Vec::new());
    };
    let mut out = String::from("?");
    let mut paths = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            out.push(c);
            i += 1;
            continue;
        }
        if c == '@' || c == '$' {
            out.push(c);
            i += 1;
            let mut segments = Vec::new();
            loop {
                if chars.get(i) == Some(&'.') {
                    i += 1;
                    let mut name = String::new();
                    while i < chars.len()
                        && (chars[i].is_alphanumeric()
                            || matches!(chars[i], '_' | '-' | '/' | '\\'))
                    {
                        if chars[i] == '\\' && i + 1 < chars.len() {
                            name.push(chars[i + 1]);
                            i += 2;
                        } else {
                            name.push(chars[i]);
                            i += 1;
                        }
                    }
                    let text = bracket_name(&name);
                    out.push_str(&text);
                    segments.push(Segment {
                        text,
                        check: Check::None,
                    });
                } else if chars.get(i) == Some(&'[') {
                    let Some(close) = chars[i..].iter().position(|&c| c == ']') else {
                        break;
                    };
                    let inner: String = chars[i + 1..i + close].iter().collect();
                    let Some(index) = parse_index(inner.trim()) else {
                        break;
                    };
                    let text = format!("[{}]", inner.trim());
                    out.push_str(&text);
                    segments.push(Segment {
                        text,
                        check: Check::Index(index),
                    });
                    i += close + 1;
                } else {
                    break;
                }
            }
            let query = std::iter::once("$".to_string())
                .chain(segments.iter().map(|s| s.text.clone()))
                .collect();
            paths.push(Expr {
                query,
                from_root: c == '$',
                segments,
            });
            continue;
        }
        out.push(c);
        i += 1;
    }
    (out, paths)
}

fn bracket_name(name: &str) -> String {
    format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "kind": "List",
            "items": [
                {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
                 "status": {"conditions": [{"type": "Ready", "status": "True"}], "replicas": 3}},
                {"metadata": {"name": "b", "labels": {}},
                 "status": {"conditions": [{"type": "Ready", "status": "False"}], "ratio": 0.5}}
            ]
        })
    }

    fn r(t: &str) -> String {
        Template::parse(t).unwrap().render(&doc()).unwrap()
    }

    #[test]
    fn fields_wildcards_and_text() {
        assert_eq!(r("{.kind}"), "List");
        assert_eq!(r("{.items[*].metadata.name}"), "a b");
        assert_eq!(r("names: {.items[0].metadata.name}!"), "names: a!");
        assert_eq!(r("{.items[-1].metadata.name}"), "b");
        assert_eq!(r("{$.kind}"), "List");
    }

    #[test]
    fn range_and_quoted_strings() {
        assert_eq!(
            r(r#"{range .items[*]}{.metadata.name}{"\n"}{end}"#),
            "a\nb\n"
        );
        assert_eq!(
            r(r#"{range .items[*]}[{.metadata.name},{.status.replicas}]{end}"#),
            "[a,3][b,]"
        );
        // Over the list itself, kubectl visits it once.
        assert_eq!(r(r#"{range .items}{.kind}|{end}"#), "|");
    }

    #[test]
    fn filters_escaped_dots_and_missing_keys() {
        assert_eq!(
            r(r#"{.items[?(@.status.conditions[0].status=="True")].metadata.name}"#),
            "a"
        );
        assert_eq!(
            r(r"{.items[0].metadata.labels.app\.kubernetes\.io/name}"),
            "x"
        );
        assert_eq!(r("{.items[0].nothing.here}"), "");
    }

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(
            r("{.items[0].status.conditions[0]}"),
            r#"{"status":"True","type":"Ready"}"#
        );
        assert_eq!(r("{.items[1].status.ratio}"), "0.5");
        assert_eq!(go_float(1.5e-7), "1.5e-07");
        assert_eq!(go_float(2.5e22), "2.5e+22");
        assert_eq!(go_float(123456.5), "123456.5");
        assert_eq!(go_float(1234567.5), "1.2345675e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(
            go_number(&serde_json::from_str("12345678901234567890").unwrap()),
            "1.2345678901234567e+19"
        );
        assert_eq!(print_value(&Value::Null), "null");
        let mut s = String::new();
        go_json(&json!({"b": "<&>", "a": [1, true, null]}), &mut s);
        assert_eq!(s, r#"{"a":[1,true,null],"b":"\u003c\u0026\u003e"}"#);
    }

    fn fails(t: &str) -> String {
        Template::parse(t)
            .unwrap()
            .render(&doc())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn out_of_bounds_fails_as_kubectl_fails() {
        // The messages of kubectl 1.33 (`kubectl get -o jsonpath=...`) on the same shapes.
        assert_eq!(
            fails("{.items[5]}"),
            r#"error executing jsonpath "{.items[5]}": Error executing template: array index out of bounds: index 5, length 2"#
        );
        assert!(fails("{.items[-3].metadata.name}").ends_with("index -1, length 2"));
        assert!(fails("{.items[0:5].metadata.name}").ends_with("index 4, length 2"));
        // Under [*]: the second item has one condition.
        assert!(fails("{.items[*].status.conditions[1]}").ends_with("index 1, length 1"));
        // A filter that reads a missing index.
        assert!(
            fails(r#"{.items[?(@.status.conditions[1].status=="True")].metadata.name}"#)
                .ends_with("index 1, length 1")
        );
        // Inside a range, and after text that printed fine: no partial result.
        assert!(
            fails(r#"{.kind}{range .items[*]}{.status.conditions[2].type}{end}"#)
                .ends_with("index 2, length 1")
        );
        assert!(fails("{.kind[0]}").ends_with("string is not array or slice"));
        assert_eq!(
            Template::parse(r#"{.items[9]}{"\n"}"#)
                .unwrap()
                .render(&doc())
                .unwrap_err()
                .exit_status(),
            crate::error::ExitStatus::Error
        );
    }

    #[test]
    fn what_kubectl_allows_still_renders() {
        // Missing keys before an index, empty slices, negative indexes in range.
        assert_eq!(r("{.items[*].nothing[3]}"), "");
        assert_eq!(r("{.items[1:1]}"), "");
        assert_eq!(r("{.items[-1].metadata.name}"), "b");
        assert_eq!(r("{.items[0:2].metadata.name}"), "a b");
        assert_eq!(r("{.items[?(@.nothing[0]==1)].metadata.name}"), "");
    }

    #[test]
    fn templates_are_quoted_as_go_quotes_them() {
        assert_eq!(go_quote(r#"{.a[?(@.b=="x")]}"#), r#""{.a[?(@.b==\"x\")]}""#);
        assert_eq!(go_quote("{\"\\n\"}"), r#""{\"\\n\"}""#);
    }

    #[test]
    fn bad_templates_are_parse_errors() {
        for bad in [
            "{.a",
            "{range .items[*]}x",
            "{end}",
            "{}",
            "{.items[0}",
            r#"{"\q"}"#,
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("cannot parse jsonpath template"),
                "{bad}: {err}"
            );
        }
    }
}
