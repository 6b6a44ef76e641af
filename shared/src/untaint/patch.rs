//! The pure part of untainting: which entries of `status.conditions` are the v4 upgrade's
//! `Schedulable` taint, the RFC 6902 patch that removes exactly those entries, and the
//! preconditions a member must meet before the patch is sent.
//!
//! Nothing here talks to the API server, so every decision is unit-tested on plain JSON.
//!
//! The patch is a JSON patch, not a merge patch or an apply: the Cluster CRD has no status
//! subresource, so status is written through the main resource, and only a JSON patch can remove
//! one list entry without restating the others. Every `remove` is preceded by a `test` of the
//! entry's `type`, so a shifted list can never lose the wrong condition, and the whole patch is
//! preceded by a `test` of `metadata.resourceVersion`, so any write that landed after our read
//! (a controller flipping `Schedulable` to `True`, a label) makes the server answer 422 and the
//! caller re-reads instead of acting on a stale view.

use serde_json::{Value, json};

use crate::{kubesphere::ClusterInfo, version::Version};

/// The condition type the v4 host upgrade sets on every member.
pub const SCHEDULABLE: &str = "Schedulable";

/// The v3 ValidatingWebhookConfiguration that breaks Cluster updates once the host runs v4.
pub const V3_CLUSTER_WEBHOOK: &str = "cluster.kubesphere.io";

/// The `Schedulable` entries of a Cluster's `status.conditions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Taint {
    /// Indexes of every entry with `type: Schedulable`, ascending.
    pub indices: Vec<usize>,
    /// The first entry whose status is `False` (the taint), or the first entry at all.
    pub condition: Option<Value>,
    /// True when an entry has status `False`: KubeSphere then treats the member as unschedulable.
    pub unschedulable: bool,
}

/// Finds the `Schedulable` entries in a Cluster object's JSON. A missing or odd `status` (no
/// conditions, conditions not a list, entries without a type) yields no entries.
pub fn find_taint(data: &Value) -> Taint {
    let conditions = data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let indices: Vec<usize> = conditions
        .iter()
        .enumerate()
        .filter(|(_, c)| c.get("type").and_then(Value::as_str) == Some(SCHEDULABLE))
        .map(|(i, _)| i)
        .collect();
    let is_false =
        |i: &&usize| conditions[**i].get("status").and_then(Value::as_str) == Some("False");
    let unschedulable = indices.iter().any(|i| is_false(&i));
    let condition = indices
        .iter()
        .find(is_false)
        .or(indices.first())
        .map(|i| conditions[*i].clone());
    Taint {
        indices,
        condition,
        unschedulable,
    }
}

/// The JSON patch that removes the entries at `indices` (each guarded by a `test` of its type),
/// after a `test` of the resourceVersion when one is given. Entries are removed from the highest
/// index down, so earlier removals do not shift the later ones.
pub fn build_patch(resource_version: Option<&str>, indices: &[usize]) -> Value {
    let mut ops = Vec::with_capacity(indices.len() * 2 + 1);
    if let Some(rv) = resource_version.filter(|rv| !rv.is_empty()) {
        ops.push(json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv}));
    }
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for i in sorted.into_iter().rev() {
        let path = format!("/status/conditions/{i}");
        ops.push(json!({"op": "test", "path": format!("{path}/type"), "value": SCHEDULABLE}));
        ops.push(json!({"op": "remove", "path": path}));
    }
    Value::Array(ops)
}

/// A precondition a member failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code (documented in `docs/untaint-member.md`).
    pub code: &'static str,
    /// What is wrong, one line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// True when `--force` may override it.
    pub overridable: bool,
}

impl Refusal {
    fn new(code: &'static str, message: String, hint: Option<String>, overridable: bool) -> Self {
        Self {
            code,
            message,
            hint,
            overridable,
        }
    }
}

/// Refusal code: the named Cluster does not exist.
pub const NOT_FOUND: &str = "MemberNotFound";
/// Refusal code: the named Cluster is the host.
pub const IS_HOST: &str = "IsHostCluster";
/// Refusal code: the member is being deleted.
pub const DELETING: &str = "MemberDeleting";
/// Refusal code: the member is not `Ready=True`.
pub const NOT_READY: &str = "MemberNotReady";
/// Refusal code: the member does not report KubeSphere v4.
pub const NOT_V4: &str = "MemberNotOnV4";
/// Refusal code: a v3 Cluster webhook is still registered.
pub const LEFTOVER_WEBHOOK: &str = "LeftoverV3Webhook";

/// The refusal for a name that matches no Cluster.
pub fn not_found(name: &str) -> Refusal {
    Refusal::new(
        NOT_FOUND,
        format!("member `{name}` not found"),
        Some("list the members with `kubectl get clusters.cluster.kubesphere.io`".into()),
        false,
    )
}

/// The refusal for the host Cluster; never overridable: the host never carries the taint and
/// its Cluster object must not be rewritten by this tool.
pub fn is_host(name: &str) -> Refusal {
    Refusal::new(
        IS_HOST,
        format!("`{name}` is the host cluster; only members carry the condition"),
        None,
        false,
    )
}

/// Checks what must hold before a member's condition is removed: not being deleted, `Ready=True`
/// and KubeSphere v4 (`status.kubeSphereVersion`). `deleting` is whether the object has a
/// deletionTimestamp.
pub fn check_member(info: &ClusterInfo, deleting: bool) -> Vec<Refusal> {
    let name = &info.name;
    let mut refusals = Vec::new();
    if deleting {
        refusals.push(Refusal::new(
            DELETING,
            format!("member `{name}` is being deleted"),
            None,
            true,
        ));
    }
    if !info.is_ready() {
        let state = match info.condition("Ready") {
            None => "it has no Ready condition".to_string(),
            Some(c) => {
                let mut s = format!(
                    "Ready={}",
                    if c.status.is_empty() { "?" } else { &c.status }
                );
                if !c.reason.is_empty() {
                    s.push_str(&format!(", {}", c.reason));
                }
                if !c.message.is_empty() {
                    s.push_str(&format!(": {}", c.message));
                }
                s
            }
        };
        refusals.push(Refusal::new(
            NOT_READY,
            format!("member `{name}` is not Ready ({state})"),
            Some(format!(
                "the host must reach the member first; see `kubectl get clusters.cluster.kubesphere.io {name} -o yaml`"
            )),
            true,
        ));
    }
    let migrate_hint = Some("migrate it first with `kubectl ks-migrate member`".to_string());
    match info.kubesphere_version.as_deref().map(str::trim) {
        None | Some("") => refusals.push(Refusal::new(
            NOT_V4,
            format!("member `{name}` reports no KubeSphere version (status.kubeSphereVersion is empty)"),
            migrate_hint,
            true,
        )),
        Some(text) => match text.parse::<Version>() {
            Ok(v) if v.major >= 4 => {}
            Ok(_) => refusals.push(Refusal::new(
                NOT_V4,
                format!("member `{name}` runs KubeSphere {text}: migrate it first with `kubectl ks-migrate member`"),
                None,
                true,
            )),
            Err(_) => refusals.push(Refusal::new(
                NOT_V4,
                format!("member `{name}` reports an unreadable KubeSphere version `{text}`"),
                migrate_hint,
                true,
            )),
        },
    }
    refusals
}

/// The refusal for leftover v3 Cluster webhooks (by name).
pub fn leftover_webhooks(names: &[String]) -> Option<Refusal> {
    let first = names.first()?;
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Refusal::new(
        LEFTOVER_WEBHOOK,
        format!(
            "the KubeSphere v3 ValidatingWebhookConfiguration {list} is still registered; it breaks updates of Cluster objects on a v4 host"
        ),
        Some(format!(
            "check that it is the v3 leftover (`kubectl get validatingwebhookconfiguration {first} -o yaml`), then `kubectl delete validatingwebhookconfiguration {first}`"
        )),
        true,
    ))
}

/// True when a ValidatingWebhookConfiguration is the v3 Cluster webhook: its name, or a webhook
/// whose rules cover `clusters` in group `cluster.kubesphere.io` for UPDATE (a renamed copy).
pub fn is_cluster_webhook(vwc: &Value) -> bool {
    if vwc.pointer("/metadata/name").and_then(Value::as_str) == Some(V3_CLUSTER_WEBHOOK) {
        return true;
    }
    let has = |list: Option<&Value>, wanted: &str| {
        list.and_then(Value::as_array).is_some_and(|l| {
            l.iter()
                .any(|v| v.as_str().is_some_and(|s| s == wanted || s == "*"))
        })
    };
    vwc.get("webhooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|w| {
            w.get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .any(|rule| {
            has(rule.get("apiGroups"), "cluster.kubesphere.io")
                && has(rule.get("resources"), "clusters")
                && has(rule.get("operations"), "UPDATE")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::DynamicObject;

    fn member(version: Option<&str>, conditions: Value) -> Value {
        let mut status = json!({"conditions": conditions, "kubernetesVersion": "v1.26.15"});
        if let Some(v) = version {
            status["kubeSphereVersion"] = json!(v);
        }
        json!({
            "apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "member-a", "resourceVersion": "42",
                         "labels": {"kubesphere.io/managed": "true"}},
            "spec": {"connection": {"type": "direct"}},
            "status": status,
        })
    }

    fn migrated_conditions() -> Value {
        json!([
            {"type": "Ready", "status": "True", "reason": "Ready", "message": "Cluster is available now"},
            {"type": "KSCoreReady", "status": "True"},
            {"type": "Schedulable", "status": "False", "reason": "Upgrading", "message": "Not schedulable now"},
            {"type": "KubeConfigCertExpiresInSevenDays", "status": "False"},
        ])
    }

    fn info(data: &Value) -> ClusterInfo {
        let obj: DynamicObject = serde_json::from_value(data.clone()).unwrap();
        ClusterInfo::from_object(&obj)
    }

    fn apply(doc: &Value, patch: &Value) -> Result<Value, json_patch::PatchError> {
        let mut doc = doc.clone();
        let ops: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
        json_patch::patch(&mut doc, &ops).map(|_| doc)
    }

    #[test]
    fn the_patch_removes_only_the_schedulable_condition() {
        let doc = member(Some("v4.1.3"), migrated_conditions());
        let taint = find_taint(&doc);
        assert_eq!(taint.indices, vec![2]);
        assert!(taint.unschedulable);
        assert_eq!(taint.condition.as_ref().unwrap()["reason"], "Upgrading");
        let patch = build_patch(Some("42"), &taint.indices);
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
                {"op": "test", "path": "/status/conditions/2/type", "value": "Schedulable"},
                {"op": "remove", "path": "/status/conditions/2"},
            ])
        );
        let after = apply(&doc, &patch).unwrap();
        let mut expected = doc.clone();
        expected["status"]["conditions"]
            .as_array_mut()
            .unwrap()
            .remove(2);
        assert_eq!(
            after, expected,
            "every other field and condition is unchanged"
        );
        assert!(!find_taint(&after).unschedulable);
    }

    #[test]
    fn a_concurrent_write_makes_the_patch_fail_instead_of_removing_the_wrong_entry() {
        let doc = member(Some("v4.1.3"), migrated_conditions());
        let patch = build_patch(Some("42"), &find_taint(&doc).indices);
        // Someone else wrote: the resourceVersion moved on.
        let mut moved = doc.clone();
        moved["metadata"]["resourceVersion"] = json!("43");
        assert!(apply(&moved, &patch).is_err());
        // Even without the resourceVersion test, a shifted list fails the type test.
        let no_rv = build_patch(None, &find_taint(&doc).indices);
        let mut shifted = doc.clone();
        shifted["status"]["conditions"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"type": "AgentAvailable", "status": "True"}));
        assert!(apply(&shifted, &no_rv).is_err());
    }

    #[test]
    fn duplicate_entries_are_all_removed_from_the_end() {
        let doc = member(
            Some("v4.1.3"),
            json!([
                {"type": "Schedulable", "status": "False"},
                {"type": "Ready", "status": "True"},
                {"type": "Schedulable", "status": "False"},
            ]),
        );
        let taint = find_taint(&doc);
        assert_eq!(taint.indices, vec![0, 2]);
        let patch = build_patch(None, &taint.indices);
        assert_eq!(patch[1]["path"], "/status/conditions/2");
        let after = apply(&doc, &patch).unwrap();
        assert_eq!(
            after["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}])
        );
    }

    #[test]
    fn odd_or_missing_status_has_no_taint() {
        for data in [
            json!({"metadata": {"name": "m"}}),
            json!({"metadata": {"name": "m"}, "status": null}),
            json!({"metadata": {"name": "m"}, "status": {"conditions": "nope"}}),
            json!({"metadata": {"name": "m"}, "status": {"conditions": [1, null, {"status": "False"}]}}),
        ] {
            let taint = find_taint(&data);
            assert!(taint.indices.is_empty() && !taint.unschedulable, "{data}");
            assert!(taint.condition.is_none());
        }
        let only_true = find_taint(
            &json!({"status": {"conditions": [{"type": "Schedulable", "status": "True"}]}}),
        );
        assert_eq!(only_true.indices, vec![0]);
        assert!(!only_true.unschedulable);
    }

    #[test]
    fn a_migrated_ready_member_passes() {
        assert!(
            check_member(&info(&member(Some("v4.1.3"), migrated_conditions())), false).is_empty()
        );
    }

    #[test]
    fn a_v3_member_is_refused_with_the_migration_command() {
        let r = check_member(&info(&member(Some("v3.4.1"), migrated_conditions())), false);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, NOT_V4);
        assert_eq!(
            r[0].message,
            "member `member-a` runs KubeSphere v3.4.1: migrate it first with `kubectl ks-migrate member`"
        );
        assert!(r[0].overridable);
    }

    #[test]
    fn not_ready_missing_version_and_deletion_are_each_reported() {
        let data = member(
            None,
            json!([{"type": "Ready", "status": "False", "reason": "Unreachable", "message": "timeout"}]),
        );
        let r = check_member(&info(&data), true);
        let codes: Vec<_> = r.iter().map(|r| r.code).collect();
        assert_eq!(codes, vec![DELETING, NOT_READY, NOT_V4]);
        assert_eq!(
            r[1].message,
            "member `member-a` is not Ready (Ready=False, Unreachable: timeout)"
        );
        assert!(r[2].message.contains("reports no KubeSphere version"));

        let bare = info(&json!({"metadata": {"name": "m"}}));
        let r = check_member(&bare, false);
        assert_eq!(
            r[0].message,
            "member `m` is not Ready (it has no Ready condition)"
        );
        let garbled = info(&member(Some("four"), migrated_conditions()));
        assert!(
            check_member(&garbled, false)[0]
                .message
                .contains("unreadable")
        );
    }

    #[test]
    fn the_v3_webhook_is_found_by_name_or_by_its_rules() {
        assert!(is_cluster_webhook(
            &json!({"metadata": {"name": "cluster.kubesphere.io"}})
        ));
        let renamed = json!({"metadata": {"name": "copy"}, "webhooks": [{"name": "x", "rules": [
            {"apiGroups": ["cluster.kubesphere.io"], "apiVersions": ["v1alpha1"],
             "operations": ["CREATE", "UPDATE"], "resources": ["clusters"]}]}]});
        assert!(is_cluster_webhook(&renamed));
        let other = json!({"metadata": {"name": "users.iam.kubesphere.io"}, "webhooks": [{"rules": [
            {"apiGroups": ["iam.kubesphere.io"], "operations": ["UPDATE"], "resources": ["users"]}]}]});
        assert!(!is_cluster_webhook(&other));
        assert!(!is_cluster_webhook(
            &json!({"metadata": {}, "webhooks": "odd"})
        ));

        let r = leftover_webhooks(&["cluster.kubesphere.io".into()]).unwrap();
        assert_eq!(r.code, LEFTOVER_WEBHOOK);
        assert!(r.message.contains("`cluster.kubesphere.io`"));
        assert!(
            r.hint
                .unwrap()
                .contains("kubectl delete validatingwebhookconfiguration cluster.kubesphere.io")
        );
        assert!(leftover_webhooks(&[]).is_none());
    }
}
