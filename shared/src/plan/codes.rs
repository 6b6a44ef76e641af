//! The finding codes of `upgrade-plan`: one enum variant per code, with its default severity,
//! its title and its anchor in docs/upgrade-plan.md.
//!
//! Code scheme: an area prefix and a three-digit number (`NODE001`, `SKEW002`, `API003`). A code
//! keeps its meaning forever; a retired code is never reused. Severity follows eksup: `Required`
//! (blocks the upgrade: exit 1) or `Recommended` (exit 1 only with `--fail-on warn`); a check may
//! lower or raise a finding's severity (see the documentation's table), the default is the
//! code's. The table in docs/upgrade-plan.md is tested against this enum.

use std::{cmp::Ordering, fmt};

use serde::{Serialize, Serializer};

use crate::model::Severity;

macro_rules! codes {
    ($($variant:ident = $text:literal, $severity:ident, $title:literal;)*) => {
        /// A finding code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(
                #[doc = $title]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the documentation's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as reports spell it (`NODE001`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }

            /// The default severity of a finding with this code.
            pub const fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            /// What the code means, in one line.
            pub const fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    Node001 = "NODE001", Blocking, "node not Ready";
    Node002 = "NODE002", Advisory, "node cordoned (the playbook's uncordon would put it back in service)";
    Skew001 = "SKEW001", Blocking, "kubelet outside the version skew policy now";
    Skew002 = "SKEW002", Blocking, "kubelet outside the skew policy once the control plane reaches the first step";
    Skew003 = "SKEW003", Blocking, "kube-proxy outside the skew policy (against the API server or its kubelet)";
    Cp001 = "CP001", Blocking, "control plane outside the version skew policy (Recommended: patch drift, or a version that cannot be judged)";
    Runtime001 = "RUNTIME001", Blocking, "node runs containerd 1.x: Kubernetes 1.35 is the last minor that supports it (Recommended when the path ends at 1.35)";
    Pdb001 = "PDB001", Blocking, "PodDisruptionBudget allows no disruption: a drain would hang";
    Pod001 = "POD001", Blocking, "bare pod without a controller: a drain refuses it";
    Pod002 = "POD002", Advisory, "pod not Running/Ready or failing now: fix it before upgrading";
    Wl001 = "WL001", Advisory, "single-replica workload: expect an interruption while its node drains";
    Apisvc001 = "APISVC001", Blocking, "APIService unavailable";
    Webhook001 = "WEBHOOK001", Blocking, "webhook failing closed with no ready endpoints";
    Helm001 = "HELM001", Advisory, "Helm release failed";
    Helm002 = "HELM002", Blocking, "Helm release stuck in pending-*";
    Sc001 = "SC001", Blocking, "no default StorageClass (Required when a KubeSphere 4.1 step needs the ks-upgrade volume)";
    Ks001 = "KS001", Blocking, "ks-core pending-upgrade blocks ks-migrate";
    Ks002 = "KS002", Blocking, "ks-installer still running";
    Ks003 = "KS003", Advisory, "KubeSphere 3.3.1 role changes affect users and custom roles";
    Ks004 = "KS004", Blocking, "member cluster still on KubeSphere 3.x under a 4.x host";
    Ks005 = "KS005", Advisory, "member cluster still unschedulable after its migration (untaint it)";
    Ks006 = "KS006", Advisory, "v3 gateways not yet migrated";
    Path001 = "PATH001", Blocking, "a step of the path is outside the KubeSphere/Kubernetes compatibility table";
    Path002 = "PATH002", Blocking, "a member cluster's Kubernetes is outside the target KubeSphere's range";
    Api001 = "API001", Blocking, "removed API in use (no longer served now or at a step of the path)";
    Api002 = "API002", Advisory, "deprecated API in use";
    Api003 = "API003", Advisory, "stale last-applied-configuration annotation names an old apiVersion";
    Check001 = "CHECK001", Blocking, "a check could not run (forbidden, or the API failed)";
}

impl Code {
    /// The code's anchor in docs/upgrade-plan.md (`node001`: `upgrade-plan.md#node001`).
    pub fn anchor(self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Codes sort as their text does (`API001` < `CHECK001` < `CP001`), the order reports list
/// findings of one severity in.
impl Ord for Code {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(!code.title().is_empty());
            let (prefix, digits) = text.split_at(text.len() - 3);
            assert!(digits.chars().all(|c| c.is_ascii_digit()), "{text}");
            assert!(
                !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_uppercase()),
                "{text}"
            );
            assert_eq!(serde_json::to_value(code).unwrap(), text);
            assert_eq!(code.anchor(), text.to_ascii_lowercase());
        }
    }

    #[test]
    fn codes_sort_as_text() {
        let mut codes = vec![Code::Cp001, Code::Check001, Code::Api001, Code::Wl001];
        codes.sort();
        assert_eq!(
            codes,
            [Code::Api001, Code::Check001, Code::Cp001, Code::Wl001]
        );
    }

    /// The rows of the `## Findings` table of docs/upgrade-plan.md: (anchor, code, severity).
    fn doc_rows(doc: &str) -> Vec<(String, String, String)> {
        let section = doc
            .split("\n## Findings\n")
            .nth(1)
            .expect("docs/upgrade-plan.md has a `## Findings` section");
        let section = section.split("\n## ").next().unwrap_or_default();
        section
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(2) // header and separator
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                let first = cells.first().copied().unwrap_or_default();
                let (anchor, code) = match first.strip_prefix("<a id=\"") {
                    Some(rest) => {
                        let (id, after) = rest.split_once("\"></a>").unwrap_or((rest, ""));
                        (id.to_string(), after.trim().to_string())
                    }
                    None => (String::new(), first.to_string()),
                };
                (
                    anchor,
                    code,
                    cells.get(1).copied().unwrap_or_default().into(),
                )
            })
            .collect()
    }

    #[test]
    fn the_documented_table_matches_the_enum() {
        let doc = include_str!("../../../docs/upgrade-plan.md");
        let rows = doc_rows(doc);
        let documented: Vec<String> = rows.iter().map(|(_, c, _)| c.clone()).collect();
        let defined: Vec<String> = Code::ALL.iter().map(|c| c.to_string()).collect();
        let missing: Vec<&String> = defined.iter().filter(|c| !documented.contains(c)).collect();
        let unknown: Vec<&String> = documented.iter().filter(|c| !defined.contains(c)).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "docs/upgrade-plan.md's findings table differs from plan::codes::Code:\n  \
             not documented: {missing:?}\n  documented but not a code: {unknown:?}"
        );
        assert_eq!(
            documented, defined,
            "docs/upgrade-plan.md lists the codes in another order than Code::ALL"
        );
        for ((anchor, text, severity), code) in rows.iter().zip(Code::ALL) {
            assert_eq!(
                anchor,
                &code.anchor(),
                "{text}: the row's anchor should be <a id=\"{}\"></a>",
                code.anchor()
            );
            assert!(
                severity.starts_with(code.severity().plan_label()),
                "{text}: documented severity `{severity}` does not start with the default `{}`",
                code.severity().plan_label()
            );
        }
    }

    #[test]
    fn the_doc_table_parser_reads_anchors_and_cells() {
        let doc = "x\n## Findings\n\n| Code | Severity | Meaning |\n|---|---|---|\n\
                   | <a id=\"node001\"></a>NODE001 | Required | node not Ready |\n\n## Output\n| a | b |\n";
        assert_eq!(
            doc_rows(doc),
            [(
                "node001".to_string(),
                "NODE001".to_string(),
                "Required".to_string()
            )]
        );
    }
}
