//! The krew-release-bot template dialect (rajatjindal/krew-release-bot, `pkg/source/template.go`),
//! enough of Go's `text/template` for `krew/<plugin>.yaml`:
//!
//! - `{{ .TagName }}`: the release tag (`v0.1.0`);
//! - `{{ addURIAndSha "<url>" .TagName }}`: the url is itself a template (`.TagName`, and
//!   `.Version`, the tag's `1.2.3` part); the bot downloads it and writes `uri: <url>` and, on the
//!   next line indented by four spaces, `sha256: <hex>`;
//! - `... | indent N`: the same two lines with the second indented by `N` spaces instead;
//! - `{{-`/`-}}` whitespace trimming and `{{/* comments */}}`.
//!
//! Anything else is an error, so a template that renders here renders the same in the bot.
//! Where the bot downloads the asset, [`render`] asks a resolver for its sha256; a release made
//! on one machine knows only its own platform's archive, so the resolver may answer "unknown"
//! and [`drop_unresolved_platforms`] then keeps the platforms it could fill.

use anyhow::{Context, Result, bail};

/// What stands in for the sha256 of an asset the resolver does not know.
pub const UNRESOLVED: &str = "UNRESOLVED";

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The YAML text.
    pub text: String,
    /// The urls whose sha256 was unknown, in order.
    pub unresolved: Vec<String>,
}

/// The `1.2.3` part of a tag, as the bot's `extractVersionFromTag` (`\d+(\.\d+)+`, else the tag).
pub fn version_of_tag(tag: &str) -> String {
    let bytes = tag.as_bytes();
    for start in 0..bytes.len() {
        if !bytes[start].is_ascii_digit() {
            continue;
        }
        let mut end = start;
        let mut dots = 0;
        loop {
            let digits = bytes[end..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits == 0 {
                break;
            }
            end += digits;
            if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
                end += 1;
                dots += 1;
            } else {
                break;
            }
        }
        if dots > 0 {
            return tag[start..end].to_string();
        }
    }
    tag.to_string()
}

/// Renders `template` for `tag`; `sha_of(url)` gives an asset's sha256, or `None` when unknown.
pub fn render(
    template: &str,
    tag: &str,
    mut sha_of: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Rendered> {
    let mut unresolved = Vec::new();
    let text = expand(template, |action| {
        let (call, indent) = match action.split_once('|') {
            Some((call, filter)) => (call.trim(), Some(parse_indent(filter)?)),
            None => (action, None),
        };
        if call == ".TagName" && indent.is_none() {
            return Ok(tag.to_string());
        }
        let Some(rest) = call.strip_prefix("addURIAndSha") else {
            bail!("unsupported template action `{{{{{action}}}}}`");
        };
        let (url_template, rest) = parse_string(rest.trim_start())?;
        if rest.trim() != ".TagName" {
            bail!("addURIAndSha takes a url and .TagName, got `{action}`");
        }
        let url = expand(&url_template, |inner| match inner {
            ".TagName" => Ok(tag.to_string()),
            ".Version" => Ok(version_of_tag(tag)),
            other => bail!("unsupported action `{{{{{other}}}}}` in a url"),
        })?;
        let sha = match sha_of(&url).with_context(|| format!("sha256 of {url}"))? {
            Some(sha) => sha,
            None => {
                unresolved.push(url.clone());
                UNRESOLVED.to_string()
            }
        };
        let pad = " ".repeat(indent.unwrap_or(4));
        Ok(format!("uri: {url}\n{pad}sha256: {sha}"))
    })?;
    Ok(Rendered { text, unresolved })
}

fn parse_indent(filter: &str) -> Result<usize> {
    let mut words = filter.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("indent"), Some(n), None) => n
            .parse()
            .with_context(|| format!("indent takes a number, got `{n}`")),
        _ => bail!("unsupported pipeline `| {}`", filter.trim()),
    }
}

/// A Go string literal at the start of `s` (`"..."` with backslash escapes, or a raw
/// `` `...` ``), and what follows it.
fn parse_string(s: &str) -> Result<(String, &str)> {
    if let Some(raw) = s.strip_prefix('`') {
        let end = raw.find('`').context("unterminated raw string")?;
        return Ok((raw[..end].to_string(), &raw[end + 1..]));
    }
    let body = s
        .strip_prefix('"')
        .context("addURIAndSha needs a quoted url")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c @ ('\\' | '"'))) => out.push(c),
                _ => bail!("unsupported escape in a string"),
            },
            c => out.push(c),
        }
    }
    bail!("unterminated string")
}

/// Replaces every `{{ action }}` of `s` by `eval(action)`, honouring quoted strings inside
/// actions, `{{-`/`-}}` trimming and comments.
fn expand(s: &str, mut eval: impl FnMut(&str) -> Result<String>) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let mut before = &rest[..start];
        let mut action = &rest[start + 2..];
        if let Some(a) = action.strip_prefix("- ") {
            before = before.trim_end();
            action = a;
        }
        let end = action_end(action).context("unterminated `{{` in the template")?;
        let mut body = &action[..end];
        let mut after = &action[end + 2..];
        if let Some(b) = body.strip_suffix(" -") {
            body = b;
            after = after.trim_start();
        }
        out.push_str(before);
        let body = body.trim();
        if !(body.starts_with("/*") && body.ends_with("*/")) {
            out.push_str(&eval(body)?);
        }
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// The offset of the `}}` closing an action, skipping quoted strings.
fn action_end(action: &str) -> Option<usize> {
    let bytes = action.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Removes the items of `spec.platforms` whose sha256 is [`UNRESOLVED`], keeping the rest of
/// the text (comments, order, style) as it is. Fails when no platform is left.
pub fn drop_unresolved_platforms(text: &str) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let blank = |l: &str| l.trim().is_empty();
    let key = lines
        .iter()
        .position(|l| l.trim() == "platforms:")
        .context("the manifest has no `platforms:`")?;
    let key_indent = indent(lines[key]);
    let first_item = lines[key + 1..]
        .iter()
        .position(|l| !blank(l) && !l.trim_start().starts_with('#'))
        .map(|i| key + 1 + i)
        .context("`platforms:` is empty")?;
    let item_indent = indent(lines[first_item]);
    if item_indent < key_indent || !lines[first_item].trim_start().starts_with("- ") {
        bail!("`platforms:` is not a block sequence");
    }
    // Split the sequence into items: each starts at a `- ` line at the item indentation.
    let mut end = first_item;
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut i = first_item;
    while i < lines.len() {
        let l = lines[i];
        if blank(l) {
            i += 1;
            continue;
        }
        let n = indent(l);
        if n < item_indent || (n == item_indent && !l.trim_start().starts_with("- ")) {
            break;
        }
        if n == item_indent {
            items.push((i, i + 1));
        } else if let Some(last) = items.last_mut() {
            last.1 = i + 1;
        }
        end = i + 1;
        i += 1;
    }
    let keep: Vec<(usize, usize)> = items
        .iter()
        .copied()
        .filter(|&(a, b)| !lines[a..b].iter().any(|l| l.contains(UNRESOLVED)))
        .collect();
    if keep.is_empty() {
        bail!("no platform of the manifest has a known archive");
    }
    let mut out = String::with_capacity(text.len());
    lines[..first_item].iter().for_each(|l| out.push_str(l));
    for (a, b) in keep {
        lines[a..b].iter().for_each(|l| out.push_str(l));
    }
    lines[end..].iter().for_each(|l| out.push_str(l));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: demo
spec:
  version: {{ .TagName }}
  platforms:
  - selector:
      matchLabels: {os: linux, arch: amd64}
    {{addURIAndSha "https://example.com/download/{{ .TagName }}/demo_{{ .TagName }}_linux_amd64.tar.gz" .TagName }}
    bin: kubectl-demo
  - selector:
      matchLabels: {os: darwin, arch: arm64}
    {{addURIAndSha "https://example.com/download/{{ .TagName }}/demo_{{ .Version }}_darwin_arm64.tar.gz" .TagName | indent 4 }}
    bin: kubectl-demo
  shortDescription: Demo
"#;

    #[test]
    fn renders_like_the_bot() {
        let r = render(TEMPLATE, "v1.2.3", |url| Ok(Some(format!("sha-of-{url}")))).unwrap();
        assert!(r.unresolved.is_empty());
        assert!(r.text.contains("  version: v1.2.3\n"));
        assert!(r.text.contains(
            "    uri: https://example.com/download/v1.2.3/demo_v1.2.3_linux_amd64.tar.gz\n    sha256: sha-of-https://example.com/download/v1.2.3/demo_v1.2.3_linux_amd64.tar.gz\n"
        ));
        assert!(
            r.text
                .contains("/demo_1.2.3_darwin_arm64.tar.gz\n    sha256: ")
        );
    }

    #[test]
    fn unknown_assets_drop_their_platform() {
        let r = render(TEMPLATE, "v1.2.3", |url| {
            Ok(url.contains("linux").then(|| "ab".repeat(32)))
        })
        .unwrap();
        assert_eq!(r.unresolved.len(), 1);
        let text = drop_unresolved_platforms(&r.text).unwrap();
        assert!(!text.contains("darwin"));
        assert!(text.contains("linux"));
        assert!(text.ends_with("    bin: kubectl-demo\n  shortDescription: Demo\n"));
        let none = render(TEMPLATE, "v1", |_| Ok(None)).unwrap();
        assert!(drop_unresolved_platforms(&none.text).is_err());
    }

    #[test]
    fn other_actions_are_refused() {
        assert!(render("{{ .Foo }}", "v1", |_| Ok(None)).is_err());
        assert!(render("{{ .TagName", "v1", |_| Ok(None)).is_err());
        assert!(
            render("{{ addURIAndSha \"x\" .TagName | upper }}", "v1", |_| Ok(
                None
            ))
            .is_err()
        );
        assert_eq!(
            render("a {{- /* note */ -}} b", "v1", |_| Ok(None))
                .unwrap()
                .text,
            "ab"
        );
    }

    #[test]
    fn versions_of_tags() {
        assert_eq!(version_of_tag("v1.2.3"), "1.2.3");
        assert_eq!(version_of_tag("release-0.10.1-rc.1"), "0.10.1");
        assert_eq!(version_of_tag("latest"), "latest");
    }
}
