//! Rendering typed reports into a writer: table, wide, json, yaml, kubectl's jsonpath dialect and
//! Markdown. Logic computes a [`Report`]; this module is the only place that turns it into text.
//!
//! Nothing here touches stdout directly: every renderer takes `&mut dyn Write`, so tests render
//! into a `Vec<u8>` and the runner hands in a locked stdout.

mod format;
pub mod jsonpath;
pub(crate) mod progress;
mod style;
pub(crate) mod table;

use std::io::Write;

use serde::Serialize;

use crate::error::{Error, Result};

pub use format::OutputFormat;
pub use style::Style;

/// A report a plugin computed. JSON, YAML and jsonpath come from its `Serialize` form; the
/// human table is its own.
pub trait Report: Serialize {
    /// Writes the human table (`-o table`, or `-o wide` when `wide`).
    fn render_table(&self, out: &mut dyn Write, style: &Style, wide: bool) -> std::io::Result<()>;

    /// Writes the Markdown form, for reports that have one.
    fn render_markdown(&self, _out: &mut dyn Write) -> Option<std::io::Result<()>> {
        None
    }
}

/// Renders `report` in `format` into `out`.
pub fn render<R: Report + ?Sized>(
    report: &R,
    format: &OutputFormat,
    style: &Style,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("write output", "<stdout>", e);
    match format {
        OutputFormat::Table => report.render_table(out, style, false).map_err(io),
        OutputFormat::Wide => report.render_table(out, style, true).map_err(io),
        OutputFormat::Json => {
            write_json(out, report).map_err(io)?;
            Ok(())
        }
        OutputFormat::Yaml => {
            let text = to_yaml(report)?;
            out.write_all(text.as_bytes()).map_err(io)
        }
        OutputFormat::JsonPath(template) => {
            let value =
                serde_json::to_value(report).map_err(|e| Error::parse("report as JSON", e))?;
            let template = jsonpath::Template::parse(template)?;
            let text = template.render(&value)?;
            out.write_all(text.as_bytes()).map_err(io)
        }
        OutputFormat::Markdown => match report.render_markdown(out) {
            Some(r) => r.map_err(io),
            None => Err(Error::usage("this command does not support -o markdown")),
        },
    }
}

/// A duration as a flag would spell it: `250ms`, `45s`, `2m`, `1m30s`, `1h5m`.
pub fn human_duration(d: std::time::Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d < std::time::Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Writes JSON indented with four spaces, as `kubectl -o json` does, and a final newline.
pub fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, formatter);
    value.serialize(&mut ser).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// Serializes a value as YAML.
pub fn to_yaml<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    // Going through serde_json::Value drops `None`s the same way JSON does and keeps the two
    // forms identical in content.
    let json = serde_json::to_value(value).map_err(|e| Error::parse("report as JSON", e))?;
    serde_saphyr::to_string(&json).map_err(|e| Error::parse("report as YAML", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_flags_spell_them() {
        use std::time::Duration;
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(120)), "2m");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(human_duration(Duration::from_secs(3900)), "1h5m");
        assert_eq!(human_duration(Duration::ZERO), "0s");
    }

    #[derive(Serialize)]
    struct Demo {
        kind: &'static str,
        items: Vec<Item>,
    }
    #[derive(Serialize)]
    struct Item {
        name: &'static str,
        ok: bool,
    }
    impl Report for Demo {
        fn render_table(
            &self,
            out: &mut dyn Write,
            style: &Style,
            wide: bool,
        ) -> std::io::Result<()> {
            let mut t = table::Table::new(&["NAME", "OK"]);
            for i in &self.items {
                t.row(vec![
                    i.name.into(),
                    style.status(i.ok, if i.ok { "yes" } else { "no" }).into(),
                ]);
            }
            if wide {
                writeln!(out, "wide")?;
            }
            t.write(out)
        }
    }

    fn demo() -> Demo {
        Demo {
            kind: "Demo",
            items: vec![
                Item {
                    name: "a",
                    ok: true,
                },
                Item {
                    name: "bb",
                    ok: false,
                },
            ],
        }
    }

    fn rendered(format: OutputFormat) -> String {
        let mut out = Vec::new();
        render(&demo(), &format, &Style::plain(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_renders_the_same_report() {
        assert_eq!(
            rendered(OutputFormat::Table),
            "NAME   OK\na      yes\nbb     no\n"
        );
        assert!(rendered(OutputFormat::Wide).starts_with("wide\n"));
        assert!(rendered(OutputFormat::Json).contains("    \"kind\": \"Demo\",\n"));
        let yaml = rendered(OutputFormat::Yaml);
        assert!(yaml.contains("kind: Demo"), "{yaml}");
        assert_eq!(
            rendered(OutputFormat::JsonPath("{.items[*].name}".into())),
            "a bb"
        );
    }

    #[test]
    fn markdown_is_refused_where_there_is_none() {
        let mut out = Vec::new();
        let err = render(&demo(), &OutputFormat::Markdown, &Style::plain(), &mut out).unwrap_err();
        assert!(err.to_string().contains("markdown"));
    }
}
