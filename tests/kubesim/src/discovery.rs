//! Discovery documents generated from the registry: legacy `/api`, `/apis`, `APIResourceList`s,
//! aggregated discovery (`apidiscovery.k8s.io/v2`), and a minimal OpenAPI v3 that tells kubectl
//! the server supports `fieldValidation` and `dryRun` (so it validates server-side).

use crate::registry::{Registry, ResourceDef};
use serde_json::{Map, Value, json};

/// `/api`.
pub fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// `/apis`.
pub fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let (g, vs) = reg.groups().into_iter().find(|(g, _)| g == group)?;
    let mut v = group_json(&g, &vs);
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), json!("APIGroup"));
        m.insert("apiVersion".into(), json!("v1"));
    }
    Some(v)
}

fn resource_entry(d: &ResourceDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(d.plural));
    m.insert("singularName".into(), json!(d.singular));
    m.insert("namespaced".into(), json!(d.namespaced));
    m.insert("kind".into(), json!(d.kind));
    m.insert("verbs".into(), json!(d.verbs));
    if !d.short_names.is_empty() {
        m.insert("shortNames".into(), json!(d.short_names));
    }
    if !d.categories.is_empty() {
        m.insert("categories".into(), json!(d.categories));
    }
    Value::Object(m)
}

fn subresources(d: &ResourceDef) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if d.eviction {
        out.push((
            "eviction",
            json!({"group": "policy", "version": "v1", "kind": "Eviction"}),
        ));
        // Pods only, like eviction.
        out.push(("log", Value::Null));
    }
    if d.scale {
        out.push((
            "scale",
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        ));
    }
    if d.status {
        out.push(("status", Value::Null));
    }
    out
}

/// The verbs of a subresource, as a real API server lists them.
fn sub_verbs(sub: &str) -> Value {
    match sub {
        "eviction" => json!(["create"]),
        "log" => json!(["get"]),
        _ => json!(["get", "patch", "update"]),
    }
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = reg.resources_in(group, version);
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for d in &defs {
        resources.push(resource_entry(d));
        for (sub, kind) in subresources(d) {
            let mut m = Map::new();
            m.insert("name".into(), json!(format!("{}/{sub}", d.plural)));
            m.insert("singularName".into(), json!(""));
            m.insert("namespaced".into(), json!(d.namespaced));
            if let Some(g) = kind.get("group") {
                m.insert("group".into(), g.clone());
                m.insert("version".into(), kind["version"].clone());
                m.insert("kind".into(), kind["kind"].clone());
            } else {
                m.insert("kind".into(), json!(d.kind));
            }
            let verbs = sub_verbs(sub);
            m.insert("verbs".into(), verbs);
            resources.push(Value::Object(m));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!("APIResourceList"));
    if !group.is_empty() {
        out.insert("apiVersion".into(), json!("v1"));
    }
    out.insert("groupVersion".into(), json!(gv));
    out.insert("resources".into(), Value::Array(resources));
    Some(Value::Object(out))
}

fn aggregated_version(reg: &Registry, group: &str, version: &str) -> Value {
    let resources: Vec<Value> = reg
        .resources_in(group, version)
        .iter()
        .map(|d| {
            let mut m = Map::new();
            m.insert("resource".into(), json!(d.plural));
            m.insert(
                "responseKind".into(),
                json!({"group": d.group, "version": version, "kind": d.kind}),
            );
            m.insert(
                "scope".into(),
                json!(if d.namespaced {
                    "Namespaced"
                } else {
                    "Cluster"
                }),
            );
            m.insert("singularResource".into(), json!(d.singular));
            m.insert("verbs".into(), json!(d.verbs));
            if !d.short_names.is_empty() {
                m.insert("shortNames".into(), json!(d.short_names));
            }
            if !d.categories.is_empty() {
                m.insert("categories".into(), json!(d.categories));
            }
            let subs: Vec<Value> = subresources(d)
                .into_iter()
                .map(|(sub, kind)| {
                    let rk = if kind.is_null() {
                        json!({"group": d.group, "version": version, "kind": d.kind})
                    } else {
                        kind
                    };
                    let verbs = sub_verbs(sub);
                    json!({"subresource": sub, "responseKind": rk, "verbs": verbs})
                })
                .collect();
            if !subs.is_empty() {
                m.insert("subresources".into(), Value::Array(subs));
            }
            Value::Object(m)
        })
        .collect();
    json!({"version": version, "resources": resources, "freshness": "Current"})
}

/// Aggregated discovery for `/api` (`core = true`) or `/apis`.
pub fn aggregated(reg: &Registry, core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![
            json!({"metadata": {"creationTimestamp": null}, "versions": [aggregated_version(reg, "", "v1")]}),
        ]
    } else {
        reg.groups()
            .iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> =
                    vs.iter().map(|v| aggregated_version(reg, g, v)).collect();
                json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
            })
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// `/openapi/v3`: one path per served group/version.
pub fn openapi_v3_root(reg: &Registry, hash: u64) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "api/v1".into(),
        json!({"serverRelativeURL": format!("/openapi/v3/api/v1?hash={hash:016X}")}),
    );
    for (g, vs) in reg.groups() {
        for v in vs {
            paths.insert(
                format!("apis/{g}/{v}"),
                json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash={hash:016X}")}),
            );
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<gv path>`: a PATCH operation per resource with the GVK extension and the
/// `fieldValidation`/`dryRun` parameters (no schemas: kubectl then uses its built-in patch metadata).
pub fn openapi_v3_gv(
    reg: &Registry,
    group: &str,
    version: &str,
    git_version: &str,
) -> Option<Value> {
    let defs = reg.resources_in(group, version);
    if defs.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = Map::new();
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}
    ]);
    for d in defs.iter().filter(|d| d.allows("patch")) {
        let p = if d.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", d.plural)
        } else {
            format!("{prefix}/{}/{{name}}", d.plural)
        };
        paths.insert(
            p,
            json!({"patch": {
                "operationId": format!("patch{}", d.kind),
                "parameters": params,
                "requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": d.group, "version": version, "kind": d.kind}
            }}),
        );
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": git_version}, "paths": paths, "components": {"schemas": {}}}),
    )
}

/// `/openapi/v2`. kubectl up to 1.27 fetches it (as protobuf) before `apply`, to check whether the
/// server validates fields and to validate on the client otherwise. A document with no paths and
/// no definitions makes it skip validation for every kind and use its built-in patch metadata,
/// which is what a real server's answer leads to for kinds it has no schema for.
///
/// Protobuf is `openapi_v2.Document { string swagger = 1; Info info = 2; }` with
/// `Info { string title = 1; string version = 2; }`.
pub fn openapi_v2(git_version: &str, protobuf: bool) -> (Vec<u8>, &'static str) {
    if !protobuf {
        let doc = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": git_version}, "paths": {}, "definitions": {}});
        return (
            serde_json::to_vec(&doc).unwrap_or_default(),
            "application/json",
        );
    }
    let field =
        |out: &mut Vec<u8>, number: u32, bytes: &[u8]| crate::proto::put_bytes(number, bytes, out);
    let mut info = Vec::new();
    field(&mut info, 1, b"Kubernetes");
    field(&mut info, 2, git_version.as_bytes());
    let mut doc = Vec::new();
    field(&mut doc, 1, b"2.0");
    field(&mut doc, 2, &info);
    (
        doc,
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    )
}
