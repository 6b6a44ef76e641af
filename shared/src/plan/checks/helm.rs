//! HELM001, HELM002, KS001: Helm releases that failed or are left pending.

use crate::{
    domain::helm::ReleaseState,
    helm::Revision,
    model::{ObjectRef, Severity},
    plan::{codes::Code, findings::Finding},
};

/// HELM001, HELM002 and KS001, from every revision (the newest per release decides).
pub(crate) fn check_helm(revisions: &[Revision], kubesphere_step: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in crate::helm::latest(revisions) {
        let obj = ObjectRef::namespaced(r.storage.kind(), &r.namespace, &r.object);
        let state = ReleaseState::of(&r.status);
        if state == ReleaseState::Pending {
            let ks_core = r.name == crate::kubesphere::KS_CORE_RELEASE
                && r.namespace == crate::kubesphere::SYSTEM_NAMESPACE;
            let delete = format!(
                "kubectl -n {} delete {} {}",
                r.namespace,
                r.storage.resource(),
                r.object
            );
            if ks_core {
                out.push(
                    Finding::new(
                        Code::Ks001,
                        obj.clone(),
                        format!(
                            "ks-core revision {} is {}: ks-migrate (upgrade.sh) refuses to start",
                            r.revision, r.status
                        ),
                    )
                    .remedy(delete.clone())
                    .severity(if kubesphere_step {
                        Severity::Blocking
                    } else {
                        Severity::Advisory
                    }),
                );
            }
            out.push(
                Finding::new(
                    Code::Helm002,
                    obj,
                    format!(
                        "release {}/{} revision {} is {}: Helm refuses another operation",
                        r.namespace, r.name, r.revision, r.status
                    ),
                )
                .remedy(delete),
            );
        } else if state == ReleaseState::Failed {
            out.push(
                Finding::new(
                    Code::Helm001,
                    obj,
                    format!(
                        "release {}/{} revision {} failed",
                        r.namespace, r.name, r.revision
                    ),
                )
                .remedy(format!(
                    "helm -n {} history {}; roll back or fix before upgrading",
                    r.namespace, r.name
                )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_pending_failed_and_ks_core() {
        use crate::helm::Storage;
        let rev = |ns: &str, name: &str, n: u32, status: &str| Revision {
            name: name.into(),
            namespace: ns.into(),
            revision: n,
            status: status.into(),
            object: format!("sh.helm.release.v1.{name}.v{n}"),
            storage: Storage::Secret,
        };
        let revs = vec![
            rev("kubesphere-system", "ks-core", 2, "deployed"),
            rev("kubesphere-system", "ks-core", 3, "pending-upgrade"),
            rev("c", "ingress", 1, "superseded"),
            rev("c", "ingress", 2, "failed"),
            rev("shop", "billing", 2, "deployed"),
        ];
        let f = check_helm(&revs, true);
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, vec!["HELM001", "KS001", "HELM002"]);
        assert_eq!(f[1].object.name, "sh.helm.release.v1.ks-core.v3");
        assert_eq!(
            f[1].remedy.as_deref(),
            Some("kubectl -n kubesphere-system delete secret sh.helm.release.v1.ks-core.v3")
        );
    }
}
