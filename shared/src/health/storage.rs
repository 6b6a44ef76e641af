//! Check `storage`, cluster-wide: every PersistentVolumeClaim Bound, no claim `Lost`, no
//! PersistentVolume `Failed` or `Pending`.
//!
//! A Pending claim of a `WaitForFirstConsumer` class only warns (it binds when a pod uses it);
//! a Pending claim with no `storageClassName` when no StorageClass is the default fails with
//! that reason. PVCs, PVs and StorageClasses are three concurrent paginated lists; claims and
//! volumes are judged page by page (only counts, the claims that are not Bound, and findings
//! are kept).

use k8s_openapi::api::{
    core::v1::{PersistentVolume, PersistentVolumeClaim},
    storage::v1::StorageClass,
};
use kube::{Api, api::ListParams};

use super::{Ctx, Finding, Outcome, count};
use crate::{domain::storage::is_default_class, list};

/// What the check keeps of the claims it has seen: counts, and the claims that are not Bound
/// (judged once the StorageClasses are in).
#[derive(Debug, Default)]
pub(super) struct ClaimTally {
    /// Claims seen.
    pub(super) total: usize,
    /// Claims Bound.
    pub(super) bound: usize,
    /// The claims that are not Bound.
    pub(super) unbound: Vec<PersistentVolumeClaim>,
}

impl ClaimTally {
    /// Counts one claim; keeps it only when it is not Bound.
    pub(super) fn add(&mut self, c: PersistentVolumeClaim) {
        self.total += 1;
        if phase_of_claim(&c) == "Bound" {
            self.bound += 1;
        } else {
            self.unbound.push(c);
        }
    }
}

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let params = ListParams::default();
    let claims: Api<PersistentVolumeClaim> = Api::all(ctx.client.clone());
    let volumes: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let classes: Api<StorageClass> = Api::all(ctx.client.clone());
    // Claims and volumes page by page (only counts, unbound claims and findings are kept);
    // StorageClasses are few and needed whole to judge a Pending claim.
    let mut tally = ClaimTally::default();
    let mut volume_count = 0usize;
    let mut volume_findings: Vec<Finding> = Vec::new();
    let ((), (), classes) = futures::try_join!(
        list::for_each_page(&claims, &params, "list persistentvolumeclaims", |page| {
            page.into_iter().for_each(|c| tally.add(c))
        }),
        list::for_each_page(&volumes, &params, "list persistentvolumes", |page| {
            volume_count += page.len();
            volume_findings.extend(page.iter().filter_map(volume));
        }),
        list::list_all(&classes, &params, "list storageclasses"),
    )?;
    let mut findings: Vec<Finding> = tally
        .unbound
        .iter()
        .filter_map(|c| claim(c, &classes))
        .collect();
    findings.extend(volume_findings);
    let summary = format!(
        "{} ({} Bound), {}",
        count(tally.total, "PVC"),
        tally.bound,
        count(volume_count, "PV")
    );
    Ok((summary, findings))
}

fn phase_of_claim(c: &PersistentVolumeClaim) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// What is wrong with one claim, given the cluster's StorageClasses.
pub(super) fn claim(c: &PersistentVolumeClaim, classes: &[StorageClass]) -> Option<Finding> {
    let ns = c.metadata.namespace.as_deref();
    let name = c.metadata.name.as_deref().unwrap_or_default();
    let spec = c.spec.as_ref();
    match phase_of_claim(c) {
        "Bound" => None,
        "Lost" => {
            let volume = spec
                .and_then(|s| s.volume_name.as_deref())
                .unwrap_or("<none>");
            Some(Finding::fail(
                "PersistentVolumeClaim",
                ns,
                name,
                "Lost",
                format!("the claim lost its volume `{volume}`: the data is unreachable"),
            ))
        }
        "Pending" => {
            let requested = spec.and_then(|s| s.storage_class_name.as_deref());
            let class = match requested {
                Some(n) => classes
                    .iter()
                    .find(|sc| sc.metadata.name.as_deref() == Some(n)),
                None => classes.iter().find(|sc| is_default_class(sc)),
            };
            let waits_for_consumer = class.and_then(|sc| sc.volume_binding_mode.as_deref())
                == Some("WaitForFirstConsumer");
            match (requested, class) {
                (_, Some(_)) if waits_for_consumer => Some(Finding::warn(
                    "PersistentVolumeClaim",
                    ns,
                    name,
                    "WaitForFirstConsumer",
                    "Pending until a pod uses it (volumeBindingMode WaitForFirstConsumer)",
                )),
                (None, None) => Some(Finding::fail(
                    "PersistentVolumeClaim",
                    ns,
                    name,
                    "Pending",
                    "Pending: no storageClassName and no default StorageClass",
                )),
                (Some(n), None) => Some(Finding::fail(
                    "PersistentVolumeClaim",
                    ns,
                    name,
                    "Pending",
                    format!("Pending: StorageClass `{n}` does not exist"),
                )),
                (_, Some(sc)) => Some(Finding::fail(
                    "PersistentVolumeClaim",
                    ns,
                    name,
                    "Pending",
                    format!(
                        "Pending: not bound by StorageClass `{}` (provisioner {})",
                        sc.metadata.name.as_deref().unwrap_or_default(),
                        sc.provisioner
                    ),
                )),
            }
        }
        other => Some(Finding::fail(
            "PersistentVolumeClaim",
            ns,
            name,
            other,
            format!("the claim is {other}"),
        )),
    }
}

/// What is wrong with one volume: `Failed` (a failed reclaim) or `Pending`.
pub(super) fn volume(v: &PersistentVolume) -> Option<Finding> {
    let name = v.metadata.name.as_deref().unwrap_or_default();
    let status = v.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if !matches!(phase, "Failed" | "Pending") {
        return None;
    }
    let claim = v
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .map(|r| {
            format!(
                " (claim `{}/{}`)",
                r.namespace.as_deref().unwrap_or_default(),
                r.name.as_deref().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let detail = status
        .and_then(|s| s.message.as_deref().or(s.reason.as_deref()))
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Some(Finding::fail(
        "PersistentVolume",
        None,
        name,
        phase,
        format!("the volume is {phase}{claim}{detail}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{domain::storage::DEFAULT_CLASS, health::Severity};
    use serde_json::json;

    fn pvc(spec: serde_json::Value, phase: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "orders-data", "namespace": "shop"},
            "spec": spec, "status": {"phase": phase}
        }))
        .unwrap()
    }

    fn sc(name: &str, default: bool, mode: &str) -> StorageClass {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {DEFAULT_CLASS: default.to_string()}},
            "provisioner": "openebs.io/local", "volumeBindingMode": mode
        }))
        .unwrap()
    }

    #[test]
    fn pending_claims_say_why() {
        let c = pvc(json!({}), "Pending");
        let f = claim(&c, &[sc("local", false, "Immediate")]).unwrap();
        assert_eq!(
            f.message,
            "Pending: no storageClassName and no default StorageClass"
        );
        // The default class would serve it, but waits for a consumer.
        let f = claim(&c, &[sc("local", true, "WaitForFirstConsumer")]).unwrap();
        assert_eq!(
            (f.reason.as_str(), f.severity),
            ("WaitForFirstConsumer", Severity::Advisory)
        );
        let c = pvc(json!({"storageClassName": "fast"}), "Pending");
        assert_eq!(
            claim(&c, &[]).unwrap().message,
            "Pending: StorageClass `fast` does not exist"
        );
        let c = pvc(json!({"storageClassName": "local"}), "Pending");
        assert_eq!(
            claim(&c, &[sc("local", false, "Immediate")])
                .unwrap()
                .message,
            "Pending: not bound by StorageClass `local` (provisioner openebs.io/local)"
        );
        assert_eq!(claim(&pvc(json!({}), "Bound"), &[]), None);
    }

    #[test]
    fn lost_claims_and_failed_volumes_fail() {
        let c = pvc(json!({"volumeName": "pv-legacy-nfs"}), "Lost");
        let f = claim(&c, &[]).unwrap();
        assert_eq!(f.reason, "Lost");
        assert_eq!(
            f.message,
            "the claim lost its volume `pv-legacy-nfs`: the data is unreachable"
        );

        let v: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": "pv-legacy-nfs"},
            "spec": {"claimRef": {"namespace": "shop", "name": "legacy-data"},
                "persistentVolumeReclaimPolicy": "Recycle"},
            "status": {"phase": "Failed", "message": "recycle failed"}
        }))
        .unwrap();
        let f = volume(&v).unwrap();
        assert_eq!(f.reason, "Failed");
        assert_eq!(
            f.message,
            "the volume is Failed (claim `shop/legacy-data`): recycle failed"
        );
        let ok: PersistentVolume = serde_json::from_value(
            json!({"metadata": {"name": "p"}, "status": {"phase": "Released"}}),
        )
        .unwrap();
        assert_eq!(volume(&ok), None);
    }
}
