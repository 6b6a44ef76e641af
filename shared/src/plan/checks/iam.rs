//! KS003: the KubeSphere 3.3.1 role changes (deleted platform roles, management role templates
//! stripped from custom roles), with the users they touch.

use crate::{
    model::ObjectRef,
    plan::{
        codes::Code,
        findings::Finding,
        summary::{Iam, RoleMeta},
    },
    version::Version,
};

/// The KubeSphere release whose upgrade deletes `users-manager`/`workspaces-manager` and strips
/// the management role templates from custom roles.
pub(crate) const ROLE_CHANGES_RELEASE: Version = Version::new(3, 3, 1);

/// Where the 3.3.1 role changes are stated: the upgrade guide users read, and the code of the
/// job that makes them (ks-installer v3.3.1+ runs it when `users-manager`/`workspaces-manager`
/// exist).
#[cfg_attr(not(test), expect(dead_code, reason = "a citation, checked by a test"))]
pub(crate) const ROLE_CHANGES_DOCS: &str =
    "https://kubesphere.io/docs/v3.3/upgrade/upgrade-with-ks-installer/";
/// The role migration itself, upstream at the tag that ships it.
pub(crate) const ROLE_CHANGES_CODE: &str =
    "https://github.com/kubesphere/ks-upgrade/blob/v3.3.1/pkg/role/role.go";

/// True when the KubeSphere path crosses 3.3.1 (`current < 3.3.1 <= target`), the release whose
/// upgrade rewrites roles ([`check_role_changes`]).
pub(crate) fn crosses_role_changes(current: Option<&Version>, target: Option<&Version>) -> bool {
    let v331 = ROLE_CHANGES_RELEASE;
    current.is_some_and(|c| *c < v331) && target.is_some_and(|t| *t >= v331)
}

/// Platform roles that 3.3.1 deletes (their users become `platform-regular`).
pub(crate) const REMOVED_GLOBAL_ROLES: RemovedRoles = RemovedRoles {
    names: &["users-manager", "workspaces-manager"],
    source: ROLE_CHANGES_CODE,
};

/// Roles the 3.3.1 upgrade deletes, with its source.
pub(crate) struct RemovedRoles {
    /// GlobalRole names.
    pub names: &'static [&'static str],
    /// Public source.
    #[cfg_attr(not(test), expect(dead_code, reason = "a citation, checked by a test"))]
    pub source: &'static str,
}

/// How a role kind's built-in names are told from custom roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuiltinMatch {
    /// The name is one of the list.
    Exact,
    /// The name ends with one of the list (`strings.HasSuffix` upstream: `demo-admin` and
    /// `superadmin` alike).
    Suffix,
}

/// One row of the 3.3.1 role rules: per role kind, the built-in names the migration leaves alone
/// and the role templates it strips from custom roles.
pub(crate) struct RoleRule {
    /// `GlobalRole`, `WorkspaceRole` or (rbac) `Role`.
    pub kind: &'static str,
    /// Built-in names (or suffixes).
    pub builtin: &'static [&'static str],
    /// How `builtin` matches.
    pub matching: BuiltinMatch,
    /// The templates stripped from custom roles of this kind.
    pub removed_templates: &'static [&'static str],
    /// Public source.
    #[cfg_attr(not(test), expect(dead_code, reason = "a citation, checked by a test"))]
    pub source: &'static str,
}

/// The 3.3.1 role rules, one row per role kind.
pub(crate) const ROLE_RULES: &[RoleRule] = &[
    RoleRule {
        kind: "GlobalRole",
        builtin: &[
            "platform-admin",
            "platform-regular",
            "platform-self-provisioner",
            "anonymous",
            "authenticated",
            "pre-registration",
        ],
        matching: BuiltinMatch::Exact,
        removed_templates: &[
            "role-template-manage-users",
            "role-template-manage-roles",
            "role-template-manage-workspaces",
        ],
        source: ROLE_CHANGES_CODE,
    },
    RoleRule {
        kind: "WorkspaceRole",
        builtin: &["admin", "regular", "self-provisioner", "viewer"],
        matching: BuiltinMatch::Suffix,
        removed_templates: &[
            "role-template-manage-members",
            "role-template-manage-roles",
            "role-template-manage-groups",
        ],
        source: ROLE_CHANGES_CODE,
    },
    RoleRule {
        kind: "Role",
        builtin: &["admin", "operator", "viewer"],
        matching: BuiltinMatch::Exact,
        removed_templates: &["role-template-manage-members", "role-template-manage-roles"],
        source: ROLE_CHANGES_CODE,
    },
];

fn role_rule(kind: &str) -> Option<&'static RoleRule> {
    ROLE_RULES.iter().find(|r| r.kind == kind)
}

/// The role templates 3.3.1 strips from custom roles, per role kind.
pub(crate) fn removed_templates(kind: &str) -> &'static [&'static str] {
    role_rule(kind).map(|r| r.removed_templates).unwrap_or(&[])
}

fn is_custom(r: &RoleMeta) -> bool {
    if r.labels.contains_key("iam.kubesphere.io/role-template") || r.aggregation.is_empty() {
        return false;
    }
    let Some(rule) = role_rule(&r.kind) else {
        return false;
    };
    let builtin = match rule.matching {
        BuiltinMatch::Exact => rule.builtin.contains(&r.name.as_str()),
        BuiltinMatch::Suffix => rule.builtin.iter().any(|s| r.name.ends_with(s)),
    };
    !builtin
}

fn binding_kind(role_kind: &str) -> &'static str {
    match role_kind {
        "GlobalRole" => "GlobalRoleBinding",
        "WorkspaceRole" => "WorkspaceRoleBinding",
        _ => "RoleBinding",
    }
}

/// KS003: users bound to `users-manager`/`workspaces-manager`, and custom roles built on the
/// removed role templates, with their users. Only for a path that crosses 3.3.1
/// ([`crosses_role_changes`]): on a cluster already past it the changes are done.
pub(crate) fn check_role_changes(iam: &Iam) -> Vec<Finding> {
    let mut out = Vec::new();
    for b in &iam.bindings {
        if b.kind == "GlobalRoleBinding" && REMOVED_GLOBAL_ROLES.names.contains(&b.role.as_str()) {
            out.push(
                Finding::new(
                    Code::Ks003,
                    ObjectRef::cluster("GlobalRoleBinding", &b.name),
                    format!("users {} are bound to {}, which the upgrade to KubeSphere 3.3.1 deletes: they become platform-regular", b.users.join(", "), b.role),
                )
                .remedy("grant these users the platform role they need after the upgrade"),
            );
        }
    }
    for r in iam.roles.iter().filter(|r| is_custom(r)) {
        let removed: Vec<&String> = r
            .aggregation
            .iter()
            .filter(|t| removed_templates(&r.kind).contains(&t.as_str()))
            .collect();
        if removed.is_empty() {
            continue;
        }
        let bk = binding_kind(&r.kind);
        let mut users: Vec<String> = iam
            .bindings
            .iter()
            .filter(|b| {
                b.kind == bk && b.role == r.name && (r.kind != "Role" || b.namespace == r.namespace)
            })
            .flat_map(|b| b.users.iter().map(|u| format!("{u} ({bk} {})", b.name)))
            .collect();
        users.sort();
        users.dedup();
        let object = match &r.namespace {
            Some(ns) => ObjectRef::namespaced(&r.kind, ns, &r.name),
            None => ObjectRef::cluster(&r.kind, &r.name),
        };
        out.push(
            Finding::new(
                Code::Ks003,
                object,
                format!(
                    "custom role aggregates {} whose permissions the upgrade to KubeSphere 3.3.1 revokes; users: {}",
                    removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    if users.is_empty() { "none".to_string() } else { users.join(", ") }
                ),
            )
            .remedy("review what these users must keep doing; grant it through a built-in role after the upgrade"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::plan::summary::BindingMeta;

    #[test]
    fn role_changes_name_users_and_roles() {
        let role =
            |kind: &str, ns: Option<&str>, name: &str, agg: &[&str], template: bool| RoleMeta {
                kind: kind.into(),
                namespace: ns.map(str::to_string),
                name: name.into(),
                labels: if template {
                    [(
                        "iam.kubesphere.io/role-template".to_string(),
                        "true".to_string(),
                    )]
                    .into()
                } else {
                    BTreeMap::new()
                },
                aggregation: agg.iter().map(|s| s.to_string()).collect(),
            };
        let binding =
            |kind: &str, ns: Option<&str>, name: &str, role: &str, user: &str| BindingMeta {
                kind: kind.into(),
                namespace: ns.map(str::to_string),
                name: name.into(),
                role: role.into(),
                users: vec![user.into()],
            };
        let iam = Iam {
            roles: vec![
                role(
                    "GlobalRole",
                    None,
                    "ops-custom",
                    &["role-template-manage-users", "role-template-view-clusters"],
                    false,
                ),
                role(
                    "GlobalRole",
                    None,
                    "platform-admin",
                    &["role-template-manage-users"],
                    false,
                ),
                role("GlobalRole", None, "role-template-manage-users", &[], true),
                role(
                    "WorkspaceRole",
                    None,
                    "demo-release-manager",
                    &["role-template-manage-members"],
                    false,
                ),
                role(
                    "WorkspaceRole",
                    None,
                    "demo-admin",
                    &["role-template-manage-members"],
                    false,
                ),
                // Upstream's rule is a plain suffix: `demoadmin` is built-in too.
                role(
                    "WorkspaceRole",
                    None,
                    "demoadmin",
                    &["role-template-manage-members"],
                    false,
                ),
                role(
                    "Role",
                    Some("demo-project"),
                    "deployer",
                    &["role-template-manage-members"],
                    false,
                ),
                role(
                    "Role",
                    Some("demo-project"),
                    "viewer-plus",
                    &["role-template-view-app"],
                    false,
                ),
            ],
            bindings: vec![
                binding(
                    "GlobalRoleBinding",
                    None,
                    "dev-lead",
                    "ops-custom",
                    "dev-lead",
                ),
                binding("GlobalRoleBinding", None, "old", "users-manager", "alice"),
                binding(
                    "WorkspaceRoleBinding",
                    None,
                    "dev-lead-demo-release-manager",
                    "demo-release-manager",
                    "dev-lead",
                ),
                binding(
                    "RoleBinding",
                    Some("demo-project"),
                    "dev-lead-deployer",
                    "deployer",
                    "dev-lead",
                ),
                binding("RoleBinding", Some("other"), "x", "deployer", "bob"),
            ],
        };
        let f = check_role_changes(&iam);
        let got: Vec<String> = f.iter().map(|f| f.object.to_string()).collect();
        assert_eq!(
            got,
            vec![
                "GlobalRoleBinding old",
                "GlobalRole ops-custom",
                "WorkspaceRole demo-release-manager",
                "Role demo-project/deployer"
            ]
        );
        assert!(f[0].message.contains("alice"));
        assert!(
            f[1].message
                .contains("dev-lead (GlobalRoleBinding dev-lead)"),
            "{}",
            f[1].message
        );
        assert!(!f[3].message.contains("bob"));
        assert!(f.iter().all(|f| f.code == Code::Ks003));
        assert!(
            f.iter()
                .all(|f| f.message.contains("the upgrade to KubeSphere 3.3.1")
                    && !f.message.contains("past 3.3.1")),
            "{f:#?}"
        );
    }

    #[test]
    fn every_role_rule_names_a_public_source() {
        let public = |u: &str| {
            u.starts_with("https://kubesphere.io/docs/")
                || (u.starts_with("https://github.com/kubesphere/") && u.contains("/blob/v"))
        };
        assert!(public(REMOVED_GLOBAL_ROLES.source));
        assert!(public(ROLE_CHANGES_DOCS));
        for r in ROLE_RULES {
            assert!(public(r.source), "{}: {}", r.kind, r.source);
            assert!(!r.builtin.is_empty() && !r.removed_templates.is_empty());
        }
    }

    #[test]
    fn the_role_check_runs_only_across_3_3_1() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(crosses_role_changes(Some(&v("v3.3.0")), Some(&v("v3.4.1"))));
        assert!(crosses_role_changes(Some(&v("v3.2.1")), Some(&v("v3.3.1"))));
        assert!(!crosses_role_changes(
            Some(&v("v3.3.1")),
            Some(&v("v3.4.1"))
        ));
        assert!(!crosses_role_changes(
            Some(&v("v3.4.1")),
            Some(&v("v4.1.3"))
        ));
        assert!(!crosses_role_changes(
            Some(&v("v3.2.1")),
            Some(&v("v3.3.0"))
        ));
        assert!(!crosses_role_changes(Some(&v("v3.2.1")), None));
        assert!(!crosses_role_changes(None, Some(&v("v4.1.3"))));
    }
}
