//! The finding model every plugin reports with: the object a finding is about ([`ObjectRef`])
//! and one severity scale ([`Severity`]).
//!
//! This module is a leaf: it imports nothing from the plugins. Each report keeps its own
//! spelling of the scale (`upgrade-plan`: `Required`/`Recommended`; `health`: `fail`/`warn`)
//! through the serde helpers in [`severity`], so the JSON/YAML of every report is unchanged.

use std::fmt;

use serde::Serialize;

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Kind (`Node`, `Pod`, …; `HelmRelease` for a Helm release).
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A cluster-scoped object.
    pub fn cluster(kind: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: None,
            name: name.into(),
        }
    }

    /// A namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// A namespaced object when `namespace` is given, else a cluster-scoped one.
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// How much a finding matters. Ordered most severe first, so sorting by severity lists the
/// blocking findings before the advisory ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Blocks: an upgrade-plan `Required` finding, a health `fail` (exit 1).
    Blocking,
    /// Worth fixing, not blocking unless `--fail-on warn`: upgrade-plan `Recommended`, health
    /// `warn`.
    Advisory,
}

impl Severity {
    /// True when a finding of this severity makes the run exit 1 under `threshold` (the least
    /// severe finding that counts: [`Severity::Blocking`] by default, [`Severity::Advisory`]
    /// with `--fail-on warn`).
    pub fn reaches(self, threshold: Severity) -> bool {
        self <= threshold
    }

    /// The upgrade-plan spelling: `Required` or `Recommended`.
    pub fn plan_label(self) -> &'static str {
        match self {
            Self::Blocking => "Required",
            Self::Advisory => "Recommended",
        }
    }

    /// The health spelling: `fail` or `warn`.
    pub fn health_label(self) -> &'static str {
        match self {
            Self::Blocking => "fail",
            Self::Advisory => "warn",
        }
    }
}

/// The serde spellings of [`Severity`], one per report (`#[serde(serialize_with = …)]`).
pub mod severity {
    use serde::Serializer;

    use super::Severity;

    /// `Required` / `Recommended` (the `UpgradePlan` report).
    pub fn plan<S: Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.plan_label())
    }

    /// `fail` / `warn` (the `HealthReport`).
    pub fn health<S: Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.health_label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Both {
        #[serde(serialize_with = "severity::plan")]
        plan: Severity,
        #[serde(serialize_with = "severity::health")]
        health: Severity,
    }

    #[test]
    fn each_report_keeps_its_spelling() {
        let v = serde_json::to_value(Both {
            plan: Severity::Blocking,
            health: Severity::Blocking,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"plan": "Required", "health": "fail"}));
        let v = serde_json::to_value(Both {
            plan: Severity::Advisory,
            health: Severity::Advisory,
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"plan": "Recommended", "health": "warn"})
        );
    }

    #[test]
    fn blocking_sorts_first_and_thresholds_count_down() {
        assert!(Severity::Blocking < Severity::Advisory);
        assert!(Severity::Blocking.reaches(Severity::Blocking));
        assert!(!Severity::Advisory.reaches(Severity::Blocking));
        assert!(Severity::Advisory.reaches(Severity::Advisory));
        assert!(Severity::Blocking.reaches(Severity::Advisory));
    }

    #[test]
    fn object_refs_print_as_kind_and_name() {
        assert_eq!(
            ObjectRef::namespaced("Pod", "shop", "a").to_string(),
            "Pod shop/a"
        );
        assert_eq!(ObjectRef::cluster("Node", "n").to_string(), "Node n");
        assert_eq!(
            ObjectRef::new("Pod", Some("x"), "y"),
            ObjectRef::namespaced("Pod", "x", "y")
        );
        let v = serde_json::to_value(ObjectRef::cluster("Node", "n")).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "Node", "name": "n"}));
    }
}
