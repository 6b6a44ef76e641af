//! Authentication results and RBAC authorization evaluated over the Roles, ClusterRoles and
//! bindings stored in the server, with the real server's Forbidden message shape.

use crate::error::{ApiError, qualified};
use crate::store::Store;
use serde_json::{Value, json};

/// The group that may do everything.
pub const MASTERS: &str = "system:masters";

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name.
    pub name: String,
    /// Groups (always includes `system:authenticated`).
    pub groups: Vec<String>,
}

impl User {
    /// A user with groups; `system:authenticated` is added.
    pub fn new(name: &str, groups: &[&str]) -> Self {
        let mut g: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        if !g.iter().any(|x| x == "system:authenticated") {
            g.push("system:authenticated".into());
        }
        User {
            name: name.into(),
            groups: g,
        }
    }

    /// The built-in superuser used for scenario loading.
    pub fn admin() -> Self {
        User::new("admin", &[MASTERS])
    }

    /// Member of `system:masters`.
    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

/// What a request wants to do, for authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Verb (`get`, `list`, `create`, ...).
    pub verb: String,
    /// API group.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource, or empty.
    pub subresource: String,
    /// Object name, or empty.
    pub name: String,
    /// Namespace, or empty for cluster scope.
    pub namespace: String,
}

fn has(list: Option<&Value>, want: &str) -> bool {
    list.and_then(Value::as_array).is_some_and(|a| {
        a.iter()
            .any(|v| v.as_str() == Some("*") || v.as_str() == Some(want))
    })
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    if !has(rule.get("verbs"), &a.verb) || !has(rule.get("apiGroups"), &a.group) {
        return false;
    }
    let res_ok = rule
        .get("resources")
        .and_then(Value::as_array)
        .is_some_and(|rs| {
            rs.iter().filter_map(Value::as_str).any(|r| {
                if a.subresource.is_empty() {
                    r == "*" || r == a.resource
                } else {
                    r == "*"
                        || r == format!("{}/{}", a.resource, a.subresource)
                        || r == format!("*/{}", a.subresource)
                        || r == format!("{}/*", a.resource)
                }
            })
        });
    if !res_ok {
        return false;
    }
    match rule.get("resourceNames").and_then(Value::as_array) {
        Some(names) if !names.is_empty() => {
            !a.name.is_empty() && names.iter().any(|n| n.as_str() == Some(&a.name))
        }
        _ => true,
    }
}

fn subject_matches(subjects: Option<&Value>, user: &User, binding_ns: &str) -> bool {
    subjects.and_then(Value::as_array).is_some_and(|ss| {
        ss.iter().any(|s| {
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            match s.get("kind").and_then(Value::as_str).unwrap_or("") {
                "User" => name == user.name,
                "Group" => user.groups.iter().any(|g| g == name),
                "ServiceAccount" => {
                    let ns = s
                        .get("namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(binding_ns);
                    user.name == format!("system:serviceaccount:{ns}:{name}")
                }
                _ => false,
            }
        })
    })
}

fn role_rules(store: &Store, role_ref: Option<&Value>, binding_ns: &str) -> Vec<Value> {
    let Some(r) = role_ref else { return Vec::new() };
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let obj = match r.get("kind").and_then(Value::as_str) {
        Some("ClusterRole") => store.get("rbac.authorization.k8s.io/clusterroles", "", name),
        Some("Role") => store.get("rbac.authorization.k8s.io/roles", binding_ns, name),
        _ => None,
    };
    let Some(obj) = obj else { return Vec::new() };
    let mut rules: Vec<Value> = obj
        .value
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // aggregated ClusterRoles: include rules of the roles their selectors match
    if let Some(sels) = obj
        .value
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
        && let Some(all) = store.objects.get("rbac.authorization.k8s.io/clusterroles")
    {
        for sel in sels {
            let s = crate::selectors::LabelSelector::from_object(sel);
            for cr in all.values().filter(|cr| s.matches(&cr.value)) {
                rules.extend(
                    cr.value
                        .get("rules")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
    }
    rules
}

/// Whether RBAC (or `system:masters`) allows a request.
pub fn allowed(store: &Store, user: &User, a: &Attributes) -> bool {
    if user.is_master() {
        return true;
    }
    // system:basic-user: everyone may review their own access
    if a.group == "authorization.k8s.io"
        && (a.resource == "selfsubjectaccessreviews" || a.resource == "selfsubjectrulesreviews")
    {
        return true;
    }
    if let Some(crbs) = store
        .objects
        .get("rbac.authorization.k8s.io/clusterrolebindings")
    {
        for b in crbs.values() {
            if subject_matches(b.value.get("subjects"), user, "")
                && role_rules(store, b.value.get("roleRef"), "")
                    .iter()
                    .any(|r| rule_allows(r, a))
            {
                return true;
            }
        }
    }
    if !a.namespace.is_empty()
        && let Some(rbs) = store.objects.get("rbac.authorization.k8s.io/rolebindings")
    {
        for ((ns, _), b) in rbs.range((a.namespace.clone(), String::new())..) {
            if ns != &a.namespace {
                break;
            }
            if subject_matches(b.value.get("subjects"), user, ns)
                && role_rules(store, b.value.get("roleRef"), ns)
                    .iter()
                    .any(|r| rule_allows(r, a))
            {
                return true;
            }
        }
    }
    false
}

/// The 403 the real server answers for a denied request.
pub fn forbidden(user: &User, a: &Attributes) -> ApiError {
    let res = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let subject = if a.name.is_empty() {
        qualified(&a.resource, &a.group)
    } else {
        format!("{} \"{}\"", qualified(&a.resource, &a.group), a.name)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    let msg = format!(
        "{subject} is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.group
    );
    let mut d = serde_json::Map::new();
    if !a.name.is_empty() {
        d.insert("name".into(), json!(a.name));
    }
    if !a.group.is_empty() {
        d.insert("group".into(), json!(a.group));
    }
    d.insert("kind".into(), json!(a.resource));
    ApiError::forbidden(msg, Value::Object(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_message_matches_sample() {
        let a = Attributes {
            verb: "list".into(),
            resource: "configmaps".into(),
            namespace: "samples".into(),
            ..Default::default()
        };
        let e = forbidden(&User::new("nobody", &[]), &a);
        assert_eq!(
            e.message,
            "configmaps is forbidden: User \"nobody\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"samples\""
        );
        assert_eq!(e.details, Some(json!({"kind": "configmaps"})));
    }

    #[test]
    fn rule_matching() {
        let rule = json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["nodes", "pods/eviction"]});
        let mut a = Attributes {
            verb: "list".into(),
            resource: "nodes".into(),
            ..Default::default()
        };
        assert!(rule_allows(&rule, &a));
        a.verb = "delete".into();
        assert!(!rule_allows(&rule, &a));
        let a2 = Attributes {
            verb: "get".into(),
            resource: "pods".into(),
            subresource: "eviction".into(),
            ..Default::default()
        };
        assert!(rule_allows(&rule, &a2));
    }
}
