//! Check `kubesphere`: the KubeSphere version detected (3.x ClusterConfiguration or 4.x
//! `ks-core` release) and, where they exist:
//! - 3.x: no component in the ClusterConfiguration status `failed`;
//! - member `Cluster`s (on a host) Ready, with no `Schedulable=False` left by the v4 upgrade;
//! - v4 InstallPlans `Installed` at `spec.extension.version`, with every per-cluster agent
//!   (`status.clusterSchedulingStatuses`, and each cluster named in the placement) Installed.
//!
//! Without KubeSphere the check passes with the summary "KubeSphere not installed".

use kube::{
    Api,
    api::{DynamicObject, ListParams},
};
use serde_json::Value;

use crate::{
    kubesphere::{self as ks, ClusterInfo, field, field_str},
    list,
    version::Version,
};

use super::{Ctx, Finding, Outcome, count};

pub(super) async fn run(ctx: &Ctx<'_>) -> Outcome {
    let client = ctx.client;
    // Every read is sent at once, so the check takes as long as detection alone. Each result
    // is then used only where the decisions below need it, in the order they need it: a read
    // that turns out not to matter (the InstallPlans of a 3.x cluster) cannot change the
    // outcome, not even by failing.
    let plans_api: Api<DynamicObject> = Api::all_with(client.clone(), &ks::install_plan_resource());
    let plans_params = ListParams::default();
    let (detected, clusters, plans) = futures::join!(
        ks::detect_with_configuration(client),
        ks::clusters(client),
        list::list_all(&plans_api, &plans_params, "list installplans.kubesphere.io"),
    );
    let (detected, cc) = detected?;
    if !detected.installed() {
        return Ok(("KubeSphere not installed".into(), Vec::new()));
    }
    let version = detected.version.clone();
    let mut findings = Vec::new();
    let mut parts = vec![format!(
        "KubeSphere {} ({})",
        version
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "of unknown version".into()),
        match detected.role {
            ks::Role::Host => "host",
            ks::Role::Member => "member",
            ks::Role::None => "single cluster",
            ks::Role::Unknown => "role unknown",
        }
    )];
    if let Some(bad) = &detected.ks_core_unreadable {
        findings.push(Finding::fail(
            "Secret",
            Some(ks::SYSTEM_NAMESPACE),
            &bad.object,
            "CorruptRelease",
            format!(
                "the deployed ks-core revision {} cannot be decoded ({}), so the KubeSphere version is unknown; `helm -n kubesphere-system history ks-core` shows what Helm makes of it",
                bad.revision, bad.reason
            ),
        ));
    }
    if !detected.is_v4()
        && detected.ks_core_unreadable.is_none()
        && let Some(cc) = cc
    {
        findings.extend(component_findings(&cc));
    }
    if let Some(clusters) = clusters? {
        let members = clusters.iter().filter(|c| !c.host).count();
        if !clusters.is_empty() {
            parts.push(format!(
                "{} ({})",
                count(clusters.len(), "cluster"),
                count(members, "member")
            ));
        }
        for c in &clusters {
            findings.extend(cluster_findings(c, version.as_ref()));
        }
    }
    if detected.is_v4() {
        match plans {
            Ok(plans) => {
                if !plans.is_empty() {
                    parts.push(count(plans.len(), "install plan"));
                }
                for p in &plans {
                    findings.extend(install_plan_findings(p));
                }
            }
            // The CRD is not served (yet).
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((parts.join(", "), findings))
}

/// 3.x: components the installer marked `failed` in the ClusterConfiguration status, at the
/// top level (`status.monitoring.status`) or one level down (`status.network.networkpolicy`).
pub(super) fn component_findings(cc: &DynamicObject) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(status) = field(cc, &["status"]).and_then(Value::as_object) else {
        return out;
    };
    let mut check = |path: String, v: &Value| {
        if v.get("status").and_then(Value::as_str) == Some("failed") {
            out.push(Finding::fail(
                "ClusterConfiguration",
                Some(ks::SYSTEM_NAMESPACE),
                ks::INSTALLER,
                "ComponentFailed",
                format!("component `{path}` has status failed; see the ks-installer logs"),
            ));
        }
    };
    for (k, v) in status {
        if v.get("status").is_some() {
            check(k.clone(), v);
        } else if let Some(inner) = v.as_object() {
            for (k2, v2) in inner {
                check(format!("{k}.{k2}"), v2);
            }
        }
    }
    out
}

/// A `Cluster` on the host: Ready, and no `Schedulable=False` left by the upgrade.
pub(super) fn cluster_findings(c: &ClusterInfo, host_version: Option<&Version>) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = c.name.as_str();
    if !c.is_ready() {
        let message = match c.condition("Ready") {
            Some(r) => {
                let mut m = format!("Ready={}", r.status);
                if !r.reason.is_empty() {
                    m.push_str(&format!(" ({})", r.reason));
                }
                if !r.message.is_empty() {
                    m.push_str(&format!(": {}", r.message));
                }
                m
            }
            None => "the cluster reports no Ready condition".into(),
        };
        out.push(Finding::fail("Cluster", None, name, "NotReady", message));
    }
    let member_version = c
        .kubesphere_version
        .as_deref()
        .and_then(|v| v.parse::<Version>().ok());
    if c.is_unschedulable() {
        let cond = c.condition("Schedulable");
        let why = cond
            .map(|s| {
                let mut t = "Schedulable=False".to_string();
                if !s.reason.is_empty() {
                    t.push_str(&format!(" ({})", s.reason));
                }
                if !s.message.is_empty() {
                    t.push_str(&format!(": {}", s.message));
                }
                t
            })
            .unwrap_or_default();
        let todo = match &member_version {
            Some(v) if v.major < 4 => format!(
                "the member still runs KubeSphere {v}: upgrade it to v4, then run `kubectl untaint-member {name}`"
            ),
            _ => format!("run `kubectl untaint-member {name}`"),
        };
        out.push(Finding::fail(
            "Cluster",
            None,
            name,
            "Unschedulable",
            format!("{why}; {todo}"),
        ));
    }
    if !c.host
        && let (Some(member), Some(host)) = (&member_version, host_version)
        && member.minor_key() != host.minor_key()
    {
        out.push(Finding::warn(
            "Cluster",
            None,
            name,
            "VersionMismatch",
            format!("member runs KubeSphere {member}, the host {host}"),
        ));
    }
    out
}

/// A v4 InstallPlan: Installed at the requested version, with every agent Installed.
pub(super) fn install_plan_findings(plan: &DynamicObject) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = plan.metadata.name.as_deref().unwrap_or_default();
    if field(plan, &["spec", "enabled"]).and_then(Value::as_bool) == Some(false) {
        return out;
    }
    let want = field_str(plan, &["spec", "extension", "version"]).unwrap_or_default();
    let state = field_str(plan, &["status", "state"]).unwrap_or_default();
    let have = field_str(plan, &["status", "version"]).unwrap_or_default();
    let fail =
        |reason: &str, message: String| Finding::fail("InstallPlan", None, name, reason, message);
    if state != "Installed" {
        let state = if state.is_empty() { "<none>" } else { state };
        let note = failed_condition(plan)
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        out.push(fail(
            "NotInstalled",
            format!("state is {state}, not Installed{note}"),
        ));
    } else if !want.is_empty() && have != want {
        out.push(fail(
            "VersionMismatch",
            format!("installed version {have}, requested {want}"),
        ));
    }
    let statuses = field(plan, &["status", "clusterSchedulingStatuses"]).and_then(Value::as_object);
    for (cluster, st) in statuses.into_iter().flatten() {
        let s = st.get("state").and_then(Value::as_str).unwrap_or("<none>");
        if s != "Installed" {
            out.push(fail(
                "AgentNotInstalled",
                format!("agent on cluster `{cluster}` is {s}, not Installed"),
            ));
        }
    }
    let placed = field(
        plan,
        &["spec", "clusterScheduling", "placement", "clusters"],
    )
    .and_then(Value::as_array);
    for cluster in placed.into_iter().flatten().filter_map(Value::as_str) {
        if !statuses.is_some_and(|s| s.contains_key(cluster)) {
            out.push(fail(
                "AgentMissing",
                format!("placement names cluster `{cluster}` but no agent is scheduled there"),
            ));
        }
    }
    out
}

fn failed_condition(plan: &DynamicObject) -> Option<String> {
    field(plan, &["status", "conditions"])?
        .as_array()?
        .iter()
        .filter(|c| c.get("status").and_then(Value::as_str) == Some("False"))
        .find_map(|c| {
            let t = c.get("type")?.as_str()?;
            let reason = c.get("reason").and_then(Value::as_str).unwrap_or_default();
            let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
            Some(
                format!("{t}=False {reason}: {message}")
                    .trim_end_matches(": ")
                    .to_string(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Severity;
    use crate::version::v;
    use serde_json::json;

    fn obj(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    fn cluster(name: &str, version: &str, conditions: Value) -> ClusterInfo {
        ClusterInfo::from_object(&obj(json!({
            "apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name},
            "status": {"kubeSphereVersion": version, "conditions": conditions}
        })))
    }

    #[test]
    fn unschedulable_members_name_the_untaint_command() {
        let conds = json!([{"type": "Ready", "status": "True"},
            {"type": "Schedulable", "status": "False", "reason": "Upgrading", "message": "Not schedulable now"}]);
        let f = cluster_findings(
            &cluster("member-a", "v4.1.3", conds.clone()),
            Some(&v("v4.1.3")),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].reason, "Unschedulable");
        assert_eq!(
            f[0].message,
            "Schedulable=False (Upgrading): Not schedulable now; run `kubectl untaint-member member-a`"
        );
        let f = cluster_findings(&cluster("member-b", "v3.4.1", conds), Some(&v("v4.1.3")));
        let reasons: Vec<_> = f.iter().map(|f| (f.reason.as_str(), f.severity)).collect();
        assert_eq!(
            reasons,
            [
                ("Unschedulable", Severity::Blocking),
                ("VersionMismatch", Severity::Advisory)
            ]
        );
        assert!(
            f[0].message
                .contains("still runs KubeSphere v3.4.1: upgrade it to v4")
        );
    }

    #[test]
    fn ready_members_pass_and_not_ready_fail() {
        let ok = cluster("m", "v3.4.1", json!([{"type": "Ready", "status": "True"}]));
        assert!(cluster_findings(&ok, Some(&v("v3.4.1"))).is_empty());
        let bad = cluster(
            "m",
            "v3.4.1",
            json!([{"type": "Ready", "status": "False",
            "reason": "ClusterNotReady", "message": "cluster is not reachable"}]),
        );
        let f = cluster_findings(&bad, Some(&v("v3.4.1")));
        assert_eq!(
            f[0].message,
            "Ready=False (ClusterNotReady): cluster is not reachable"
        );
    }

    #[test]
    fn install_plans_need_state_version_and_agents() {
        let plan = obj(json!({
            "apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": "gateway"},
            "spec": {"extension": {"name": "gateway", "version": "1.0.5"}, "enabled": true,
                "clusterScheduling": {"placement": {"clusters": ["host", "member-a"]}}},
            "status": {"state": "Installed", "version": "1.0.5",
                "clusterSchedulingStatuses": {"host": {"state": "Installed"}}}
        }));
        let f = install_plan_findings(&plan);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].reason, "AgentMissing");
        assert_eq!(
            f[0].message,
            "placement names cluster `member-a` but no agent is scheduled there"
        );

        let plan = obj(json!({
            "apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": "network"},
            "spec": {"extension": {"name": "network", "version": "1.2.0"}},
            "status": {"state": "Installed", "version": "1.1.0",
                "clusterSchedulingStatuses": {"m": {"state": "InstallFailed"}}}
        }));
        let reasons: Vec<_> = install_plan_findings(&plan)
            .into_iter()
            .map(|f| f.message)
            .collect();
        assert_eq!(
            reasons,
            [
                "installed version 1.1.0, requested 1.2.0",
                "agent on cluster `m` is InstallFailed, not Installed"
            ]
        );

        let plan = obj(json!({
            "apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": "x"},
            "spec": {"extension": {"name": "x", "version": "1"}},
            "status": {"state": "UpgradeFailed", "conditions": [
                {"type": "Upgraded", "status": "False", "reason": "UpgradeFailed", "message": "helm failed"}]}
        }));
        assert_eq!(
            install_plan_findings(&plan)[0].message,
            "state is UpgradeFailed, not Installed (Upgraded=False UpgradeFailed: helm failed)"
        );
        // A plan without status has not been installed.
        let bare = obj(
            json!({"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
            "metadata": {"name": "y"}}),
        );
        assert_eq!(
            install_plan_findings(&bare)[0].message,
            "state is <none>, not Installed"
        );
    }

    #[test]
    fn failed_installer_components_are_named() {
        let cc = obj(json!({
            "apiVersion": "installer.kubesphere.io/v1alpha1", "kind": "ClusterConfiguration",
            "metadata": {"name": "ks-installer", "namespace": "kubesphere-system"},
            "status": {"core": {"status": "enabled", "version": "v3.4.1"},
                "monitoring": {"status": "failed"},
                "network": {"networkpolicy": {"status": "failed"}, "ippool": {"status": "enabled"}}}
        }));
        let msgs: Vec<_> = component_findings(&cc)
            .into_iter()
            .map(|f| f.message)
            .collect();
        assert_eq!(
            msgs,
            [
                "component `monitoring` has status failed; see the ks-installer logs",
                "component `network.networkpolicy` has status failed; see the ks-installer logs"
            ]
        );
    }
}
