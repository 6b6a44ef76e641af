//! Check `helm-releases`: the latest revision of each Helm release in `kubesphere-system` and
//! `kubesphere-controls-system` (or every namespace with `-A`) is `deployed`. Read natively
//! from the release Secrets' labels (metadata-only lists, no payloads, no helm binary).
//!
//! `failed`, `pending-*` and `uninstalling` fail; `uninstalled` (history kept) is ignored; any
//! other latest status (`superseded`, `unknown`) warns.

use crate::{
    domain::helm::ReleaseState,
    helm::{self, Revision},
    kubesphere::{CONTROLS_NAMESPACE, SYSTEM_NAMESPACE},
};

use super::{Ctx, Finding, Outcome, count};

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let client = ctx.client;
    let (revisions, where_) = if ctx.options.all_namespaces {
        (
            helm::list_revisions(client, None, None, false).await?,
            "in all namespaces".to_string(),
        )
    } else {
        // Two namespaced lists need only namespaced RBAC, unlike one cluster-wide Secret list.
        let (mut a, b) = futures::try_join!(
            helm::list_revisions(client, Some(SYSTEM_NAMESPACE), None, false),
            helm::list_revisions(client, Some(CONTROLS_NAMESPACE), None, false),
        )?;
        a.extend(b);
        (a, format!("in {SYSTEM_NAMESPACE}, {CONTROLS_NAMESPACE}"))
    };
    let latest = helm::latest(&revisions);
    let findings: Vec<Finding> = latest.iter().filter_map(|r| judge(r, &revisions)).collect();
    let deployed = latest
        .iter()
        .filter(|r| ReleaseState::of(&r.status) == ReleaseState::Deployed)
        .count();
    let summary = format!(
        "{} {where_}: {deployed} deployed",
        count(latest.len(), "release")
    );
    Ok((summary, findings))
}

/// `pending-upgrade` → `PendingUpgrade`.
fn camel(status: &str) -> String {
    status
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Judges a release by its latest revision; `all` gives the last deployed one for context.
pub(super) fn judge(latest: &Revision, all: &[Revision]) -> Option<Finding> {
    let ns = Some(latest.namespace.as_str());
    let name = latest.name.as_str();
    let deployed = helm::last_deployed(all, &latest.namespace, &latest.name)
        .map(|r| format!("revision {} is deployed", r.revision))
        .unwrap_or_else(|| "no revision is deployed".into());
    let head = format!(
        "revision {} is {} (Secret `{}`)",
        latest.revision, latest.status, latest.object
    );
    match ReleaseState::of(&latest.status) {
        ReleaseState::Deployed | ReleaseState::Uninstalled => None,
        ReleaseState::Pending => Some(Finding::fail(
            "HelmRelease",
            ns,
            name,
            &camel(&latest.status),
            format!(
                "{head}; {deployed}; if no helm operation is running, delete `{}` to clear it",
                latest.object
            ),
        )),
        ReleaseState::Failed => Some(Finding::fail(
            "HelmRelease",
            ns,
            name,
            "Failed",
            format!("{head}; {deployed}"),
        )),
        ReleaseState::Uninstalling => Some(Finding::fail(
            "HelmRelease",
            ns,
            name,
            "Uninstalling",
            format!("{head}; the uninstall did not finish"),
        )),
        ReleaseState::Other => Some(Finding::warn(
            "HelmRelease",
            ns,
            name,
            &camel(&latest.status),
            format!("{head}; {deployed}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{health::Severity, helm::Storage};

    fn rev(name: &str, n: u32, status: &str) -> Revision {
        Revision {
            name: name.into(),
            namespace: "kubesphere-system".into(),
            revision: n,
            status: status.into(),
            object: format!("sh.helm.release.v1.{name}.v{n}"),
            storage: Storage::Secret,
        }
    }

    #[test]
    fn pending_and_failed_latest_revisions_fail() {
        let all = vec![
            rev("ks-core", 1, "superseded"),
            rev("ks-core", 2, "deployed"),
            rev("ks-core", 3, "pending-upgrade"),
        ];
        let f = judge(&all[2], &all).unwrap();
        assert_eq!(f.reason, "PendingUpgrade");
        assert_eq!(f.object.kind, "HelmRelease");
        assert_eq!(
            f.message,
            "revision 3 is pending-upgrade (Secret `sh.helm.release.v1.ks-core.v3`); revision 2 is deployed; if no helm operation is running, delete `sh.helm.release.v1.ks-core.v3` to clear it"
        );
        let all = vec![rev("ing", 1, "superseded"), rev("ing", 2, "failed")];
        let f = judge(&all[1], &all).unwrap();
        assert_eq!(
            (f.reason.as_str(), f.severity),
            ("Failed", Severity::Blocking)
        );
        assert!(
            f.message.ends_with("no revision is deployed"),
            "{}",
            f.message
        );
    }

    #[test]
    fn deployed_passes_and_odd_statuses_warn() {
        let all = vec![rev("a", 1, "deployed")];
        assert_eq!(judge(&all[0], &all), None);
        assert_eq!(judge(&rev("a", 2, "uninstalled"), &all), None);
        let f = judge(&rev("a", 2, "superseded"), &all).unwrap();
        assert_eq!(
            (f.reason.as_str(), f.severity),
            ("Superseded", Severity::Advisory)
        );
        assert_eq!(camel("pending-rollback"), "PendingRollback");
    }
}
