//! The plan's finding: a [`Code`] from [`super::codes`], a severity, the object. The checks
//! that produce findings from what [`super::inventory`] collected are in [`super::checks`].

use serde::Serialize;

pub use super::codes::Code;
pub use crate::model::{ObjectRef, Severity};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Required or Recommended.
    #[serde(serialize_with = "crate::model::severity::plan")]
    pub severity: Severity,
    /// The object.
    pub object: ObjectRef,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// The step of the path it concerns (`v1.29`), when one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl Finding {
    /// A finding with the code's default severity.
    pub fn new(code: Code, object: ObjectRef, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
            object,
            message: message.into(),
            remedy: None,
            step: None,
        }
    }

    /// Sets the severity.
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }

    /// Sets the remedy.
    pub fn remedy(mut self, r: impl Into<String>) -> Self {
        self.remedy = Some(r.into());
        self
    }

    /// Sets the step.
    pub fn step(mut self, s: impl Into<String>) -> Self {
        self.step = Some(s.into());
        self
    }
}
