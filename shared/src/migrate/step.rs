//! What every kind of step has in common: the migration's steps ([`super::steps::StepId`]) and
//! the rollback's ([`super::rollback::RollbackStep`]) are enums whose journal key, title,
//! destructiveness and docs section derive from the variant.
//!
//! The journal and the reports keep the keys as the strings they always were (`remove-redis`),
//! so a journal written by an older ks-migrate still loads and resumes.

/// A kind of step: an enum listing every step in run order.
pub trait Step: Copy + Eq + std::fmt::Debug + 'static {
    /// Every step, in run order.
    const ALL: &'static [Self];

    /// The stable key (the journal key, the report's `id`).
    fn key(self) -> &'static str;

    /// What it does.
    fn title(self) -> &'static str;

    /// True when it deletes or replaces something (never repeated once done; re-checked
    /// against the cluster when a crashed run left it `running`).
    fn destructive(self) -> bool;

    /// Where docs/ks-migrate.md describes it: the anchor of its section (the tests check that
    /// the docs have it).
    #[cfg_attr(not(test), expect(dead_code, reason = "only the docs tests read it"))]
    fn anchor(self) -> &'static str;

    /// The step with this journal key.
    #[cfg(test)]
    fn from_key(key: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.key() == key)
    }

    /// The journal keys of every step, in order.
    fn keys() -> Vec<String> {
        Self::ALL.iter().map(|s| s.key().to_string()).collect()
    }
}

/// The docs page of ks-migrate, relative to the repository root.
#[cfg(test)]
const DOCS: &str = "docs/ks-migrate.md";

#[cfg(test)]
mod tests {
    use super::{
        super::{journal, rollback::RollbackStep, steps::StepId},
        *,
    };

    /// The docs page, as the repository has it.
    const PAGE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/ks-migrate.md"
    ));

    /// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes.
    fn heading_anchor(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    /// The lines of the section whose heading has `anchor`, up to the next heading of any level.
    fn section(anchor: &str) -> Vec<&'static str> {
        let mut lines = PAGE.lines();
        lines
            .by_ref()
            .find(|l| l.starts_with('#') && heading_anchor(l.trim_start_matches('#')) == anchor)
            .unwrap_or_else(|| panic!("{DOCS} has no heading with anchor #{anchor}"));
        lines.take_while(|l| !l.starts_with('#')).collect()
    }

    /// A step's row as the docs give it, or as the enum says it should be.
    #[derive(Debug, PartialEq, Eq)]
    struct Row {
        number: usize,
        key: String,
        destructive: bool,
    }

    fn show(r: &Row) -> String {
        format!(
            "{}. {}{}",
            r.number,
            r.key,
            if r.destructive { " (destructive)" } else { "" }
        )
    }

    /// Row by row: equal rows once, differing ones as `- docs` / `+ enum`.
    fn diff(docs: &[Row], enums: &[Row]) -> String {
        let mut out = String::new();
        for i in 0..docs.len().max(enums.len()) {
            match (docs.get(i), enums.get(i)) {
                (Some(d), Some(e)) if d == e => out.push_str(&format!("    {}\n", show(d))),
                (d, e) => {
                    if let Some(d) = d {
                        out.push_str(&format!("  - {}   (docs)\n", show(d)));
                    }
                    if let Some(e) = e {
                        out.push_str(&format!("  + {}   (enum)\n", show(e)));
                    }
                }
            }
        }
        out
    }

    fn expected<S: Step>() -> Vec<Row> {
        S::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| Row {
                number: i + 1,
                key: s.key().to_string(),
                destructive: s.destructive(),
            })
            .collect()
    }

    fn assert_rows(what: &str, docs: Vec<Row>, enums: Vec<Row>) {
        assert!(
            docs == enums,
            "the {what} in {DOCS} differ from the enum:\n{}",
            diff(&docs, &enums)
        );
    }

    /// `| 4 | `remove-redis` | … | yes |`: number, key, and `yes` in the last column.
    fn table_rows(lines: &[&str]) -> Vec<Row> {
        lines
            .iter()
            .filter_map(|l| {
                let cells: Vec<&str> = l
                    .trim()
                    .strip_prefix('|')?
                    .strip_suffix('|')?
                    .split(" | ")
                    .map(str::trim)
                    .collect();
                let number = cells.first()?.parse().ok()?;
                Some(Row {
                    number,
                    key: cells.get(1)?.trim_matches('`').to_string(),
                    destructive: cells.last()? == &"yes",
                })
            })
            .collect()
    }

    #[test]
    fn the_docs_step_table_is_the_migration_enum() {
        let anchor = StepId::ALL[0].anchor();
        assert!(StepId::ALL.iter().all(|s| s.anchor() == anchor));
        assert_rows(
            "host/member steps",
            table_rows(&section(anchor)),
            expected::<StepId>(),
        );
    }

    /// `   3. `rollback-ks-core`: …`: the numbered list of the rollback section. The docs mark no
    /// step destructive there, so the enum's flag is not compared.
    #[test]
    fn the_docs_rollback_list_is_the_rollback_enum() {
        let anchor = RollbackStep::ALL[0].anchor();
        assert!(RollbackStep::ALL.iter().all(|s| s.anchor() == anchor));
        let docs: Vec<Row> = section(anchor)
            .iter()
            .filter_map(|l| {
                let (n, rest) = l.trim().split_once(". `")?;
                let (key, _) = rest.split_once("`:")?;
                Some(Row {
                    number: n.parse().ok()?,
                    key: key.to_string(),
                    destructive: false,
                })
            })
            .collect();
        let mut enums = expected::<RollbackStep>();
        enums.iter_mut().for_each(|r| r.destructive = false);
        assert_rows("rollback steps", docs, enums);
    }

    fn keys_round_trip<S: Step + serde::Serialize + serde::de::DeserializeOwned>() {
        for s in S::ALL {
            journal::valid_key(s.key()).unwrap();
            assert_eq!(serde_json::to_value(s).unwrap(), s.key(), "{s:?}");
            let back: S = serde_json::from_value(serde_json::json!(s.key())).unwrap();
            assert_eq!(back, *s);
            assert_eq!(S::from_key(s.key()), Some(*s));
            assert!(!s.title().is_empty());
        }
        let mut keys = S::keys();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), S::ALL.len(), "keys are unique");
        assert_eq!(S::from_key("no-such-step"), None);
    }

    #[test]
    fn step_keys_serialize_as_the_journal_strings() {
        keys_round_trip::<StepId>();
        keys_round_trip::<RollbackStep>();
        assert_eq!(StepId::RemoveRedis.key(), "remove-redis");
        assert_eq!(
            RollbackStep::CloseMigrationJournal.key(),
            "close-migration-journal"
        );
    }

    #[test]
    fn a_journal_of_string_keys_resumes_at_the_typed_step() {
        // What an earlier ks-migrate wrote to the ConfigMap.
        let data: std::collections::BTreeMap<String, String> = [
            ("run", r#"{"role":"host","backupDir":"/b","startedAt":"t"}"#),
            (
                "backup",
                r#"{"state":"done","at":"t","detail":"42 objects"}"#,
            ),
            (
                "scale-installer",
                r#"{"state":"done","at":"t","detail":""}"#,
            ),
            (
                "fill-etcd-endpoints",
                r#"{"state":"failed","at":"t","detail":"x"}"#,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (j, bad) = journal::Journal::from_data(&data);
        assert!(bad.is_empty());
        let next = StepId::ALL
            .iter()
            .find(|s| j.state(s.key()) != Some(journal::State::Done));
        assert_eq!(next, Some(&StepId::FillEtcdEndpoints));
    }
}
