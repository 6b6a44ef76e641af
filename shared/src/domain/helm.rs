//! Helm release state, from a revision's `status` label.

/// What a release's newest revision says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseState {
    /// `deployed`.
    Deployed,
    /// `uninstalled` (history kept).
    Uninstalled,
    /// `pending-install`, `pending-upgrade`, `pending-rollback`: Helm refuses another operation
    /// until the revision is cleared.
    Pending,
    /// `failed`.
    Failed,
    /// `uninstalling`: an uninstall that did not finish.
    Uninstalling,
    /// Anything else (`superseded`, `unknown`).
    Other,
}

impl ReleaseState {
    /// The state of a revision status.
    pub fn of(status: &str) -> Self {
        match status {
            "deployed" => Self::Deployed,
            "uninstalled" => Self::Uninstalled,
            "failed" => Self::Failed,
            "uninstalling" => Self::Uninstalling,
            s if s.starts_with("pending-") => Self::Pending,
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_states() {
        assert_eq!(ReleaseState::of("deployed"), ReleaseState::Deployed);
        assert_eq!(ReleaseState::of("uninstalled"), ReleaseState::Uninstalled);
        for s in ["pending-install", "pending-upgrade", "pending-rollback"] {
            assert_eq!(ReleaseState::of(s), ReleaseState::Pending, "{s}");
        }
        assert_eq!(ReleaseState::of("failed"), ReleaseState::Failed);
        assert_eq!(ReleaseState::of("uninstalling"), ReleaseState::Uninstalling);
        assert_eq!(ReleaseState::of("superseded"), ReleaseState::Other);
        assert_eq!(ReleaseState::of(""), ReleaseState::Other);
    }
}
