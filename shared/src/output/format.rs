//! The `-o` formats a report can be printed in, parsed as kubectl parses `-o`.

use std::str::FromStr;

use crate::error::Error;

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
    pub fn require_not_markdown(&self, command: &str) -> crate::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
