//! The IAM reads for the KubeSphere 3.3.1 role check: rbac Roles and RoleBindings (in the first
//! phase when the deprecated-API scan wants them too) and KubeSphere's GlobalRoles,
//! WorkspaceRoles and their bindings.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::{
    Api,
    api::{DynamicObject, ListParams},
};
use serde_json::Value;

use super::scan::dynamic_api;
use crate::{
    error::Result,
    kubesphere, list,
    plan::{
        apis,
        summary::{BindingMeta, DerivedScan, Iam, RoleMeta},
    },
};

fn aggregation(annotations: Option<&BTreeMap<String, String>>) -> Vec<String> {
    annotations
        .and_then(|a| a.get("iam.kubesphere.io/aggregation-roles"))
        .and_then(|t| serde_json::from_str::<Vec<String>>(t).ok())
        .unwrap_or_default()
}

fn binding_from(kind: &str, o: &DynamicObject) -> BindingMeta {
    let mut users: Vec<String> = kubesphere::field(o, &["subjects"])
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter(|x| x.get("kind").and_then(Value::as_str) == Some("User"))
                .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(u) = o
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("iam.kubesphere.io/user-ref"))
        && !users.contains(u)
    {
        users.push(u.clone());
    }
    BindingMeta {
        kind: kind.into(),
        namespace: o.metadata.namespace.clone(),
        name: o.metadata.name.clone().unwrap_or_default(),
        role: kubesphere::field_str(o, &["roleRef", "name"])
            .unwrap_or_default()
            .to_string(),
        users,
    }
}

/// A role's metadata as the 3.3.1 check reads it.
fn role_meta(
    kind: &str,
    m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> RoleMeta {
    RoleMeta {
        kind: kind.into(),
        namespace: m.namespace.clone(),
        name: m.name.clone().unwrap_or_default(),
        labels: m.labels.clone().unwrap_or_default(),
        aggregation: aggregation(m.annotations.as_ref()),
    }
}

/// A RoleBinding to a namespaced Role (bindings to ClusterRoles are not the check's concern).
fn rolebinding_meta(b: &RoleBinding) -> Option<BindingMeta> {
    (b.role_ref.kind == "Role").then(|| BindingMeta {
        kind: "RoleBinding".into(),
        namespace: b.metadata.namespace.clone(),
        name: b.metadata.name.clone().unwrap_or_default(),
        role: b.role_ref.name.clone(),
        users: b
            .subjects
            .iter()
            .flatten()
            .filter(|s| s.kind == "User")
            .map(|s| s.name.clone())
            .collect(),
    })
}

/// rbac Roles, metadata only, page by page: the 3.3.1 check's summaries and the stored-object
/// signal (read in the first phase when the removal table scans Roles, so that they are listed
/// once).
pub(super) async fn rbac_roles(
    client: &kube::Client,
    table: &[apis::ApiEntry],
    mut scan: DerivedScan,
) -> Result<(Vec<RoleMeta>, DerivedScan)> {
    let api = Api::<Role>::all(client.clone());
    let mut out = Vec::new();
    list::for_each_metadata_page(
        &api,
        &ListParams::default(),
        "list roles (metadata)",
        |page| {
            for r in &page {
                scan.see(table, "Role", &r.metadata);
                out.push(role_meta("Role", &r.metadata));
            }
        },
    )
    .await?;
    Ok((out, scan))
}

/// rbac RoleBindings, page by page: the bindings to Roles and the stored-object signal.
pub(super) async fn rbac_rolebindings(
    client: &kube::Client,
    table: &[apis::ApiEntry],
    mut scan: DerivedScan,
) -> Result<(Vec<BindingMeta>, DerivedScan)> {
    let api = Api::<RoleBinding>::all(client.clone());
    let mut out = Vec::new();
    list::for_each_page(&api, &ListParams::default(), "list rolebindings", |page| {
        for b in &page {
            scan.see(table, "RoleBinding", &b.metadata);
            out.extend(rolebinding_meta(b));
        }
    })
    .await?;
    Ok((out, scan))
}

/// KubeSphere 3.x IAM. rbac Roles and RoleBindings come from the first phase when it read them
/// (`roles`, `bindings`), otherwise they are listed here.
pub(super) async fn iam(
    client: &kube::Client,
    roles: Option<Vec<RoleMeta>>,
    bindings: Option<Vec<BindingMeta>>,
) -> Result<Iam> {
    let all = ListParams::default();
    let gr = dynamic_api(
        client,
        "iam.kubesphere.io/v1alpha2",
        "GlobalRole",
        "globalroles",
    );
    let grb = dynamic_api(
        client,
        "iam.kubesphere.io/v1alpha2",
        "GlobalRoleBinding",
        "globalrolebindings",
    );
    let wr = dynamic_api(
        client,
        "iam.kubesphere.io/v1alpha2",
        "WorkspaceRole",
        "workspaceroles",
    );
    let wrb = dynamic_api(
        client,
        "iam.kubesphere.io/v1alpha2",
        "WorkspaceRoleBinding",
        "workspacerolebindings",
    );
    let role_api = Api::<Role>::all(client.clone());
    let rb_api = Api::<RoleBinding>::all(client.clone());
    let roles = async {
        match roles {
            Some(r) => Ok(r),
            None => Ok(
                list::list_all_metadata(&role_api, &all, "list roles (metadata)")
                    .await?
                    .iter()
                    .map(|r| role_meta("Role", &r.metadata))
                    .collect(),
            ),
        }
    };
    let bindings = async {
        match bindings {
            Some(b) => Ok(b),
            None => Ok(list::list_all(&rb_api, &all, "list rolebindings")
                .await?
                .iter()
                .filter_map(rolebinding_meta)
                .collect()),
        }
    };
    let (gr, grb, wr, wrb, roles, rbs): (_, _, _, _, Vec<RoleMeta>, Vec<BindingMeta>) = futures::try_join!(
        list::list_all_metadata(&gr, &all, "list globalroles.iam.kubesphere.io (metadata)"),
        list::list_all(&grb, &all, "list globalrolebindings.iam.kubesphere.io"),
        list::list_all_metadata(
            &wr,
            &all,
            "list workspaceroles.iam.kubesphere.io (metadata)"
        ),
        list::list_all(&wrb, &all, "list workspacerolebindings.iam.kubesphere.io"),
        roles,
        bindings,
    )?;
    let mut out = Iam::default();
    out.roles
        .extend(gr.iter().map(|r| role_meta("GlobalRole", &r.metadata)));
    out.roles
        .extend(wr.iter().map(|r| role_meta("WorkspaceRole", &r.metadata)));
    out.roles.extend(roles);
    out.bindings
        .extend(grb.iter().map(|o| binding_from("GlobalRoleBinding", o)));
    out.bindings
        .extend(wrb.iter().map(|o| binding_from("WorkspaceRoleBinding", o)));
    out.bindings.extend(rbs);
    Ok(out)
}
