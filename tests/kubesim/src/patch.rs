//! Patch application (JSON merge, RFC 6902 JSON patch, strategic merge, server-side apply)
//! and the `managedFields` (`FieldsV1`) bookkeeping that makes objects look real.
//!
//! Strategic merge knows no OpenAPI schema; it uses the merge keys of the built-in types that
//! kubectl apply/label/annotate/patch touch (containers by `name`, conditions by `type`, ...).

use crate::error::ApiError;
use serde_json::{Map, Value, json};

/// The merge key of a list field under strategic merge, judged by its name and elements.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().all(|i| i.get(k).is_some());
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "clusters" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ports" => {
            if has("containerPort") {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    };
    if items.iter().all(Value::is_object) {
        Some(key)
    } else {
        None
    }
}

/// Lists of scalars that strategic merge unions instead of replacing.
fn merges_scalars(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch in place.
pub fn strategic_merge(orig: &mut Value, patch: &Value) -> Result<(), ApiError> {
    merge_object(orig, patch, true)
}

/// Applies a server-side-apply configuration: deep merge with keyed lists, no directives.
pub fn apply_merge(orig: &mut Value, patch: &Value) -> Result<(), ApiError> {
    merge_object(orig, patch, false)
}

fn merge_object(orig: &mut Value, patch: &Value, directives: bool) -> Result<(), ApiError> {
    let Some(pm) = patch.as_object() else {
        *orig = patch.clone();
        return Ok(());
    };
    if directives && pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = pm.clone();
        p.remove("$patch");
        *orig = Value::Object(p);
        return Ok(());
    }
    if !orig.is_object() {
        *orig = Value::Object(Map::new());
    }
    let Some(om) = orig.as_object_mut() else {
        return Ok(());
    };
    for (k, v) in pm {
        if directives {
            if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
                continue;
            }
            if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                if let (Some(Value::Array(list)), Some(del)) = (om.get_mut(field), v.as_array()) {
                    list.retain(|x| !del.contains(x));
                }
                continue;
            }
        }
        if v.is_null() {
            om.remove(k);
            continue;
        }
        match v {
            Value::Object(child) => {
                if directives && child.get("$patch").and_then(Value::as_str) == Some("delete") {
                    om.remove(k);
                    continue;
                }
                let entry = om
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                merge_object(entry, v, directives)?;
            }
            Value::Array(items) => {
                let current = om.get(k).and_then(Value::as_array).cloned();
                let merged = match (current, merge_key(k, items)) {
                    (Some(cur), Some(key)) => merge_keyed_list(cur, items, key, directives)?,
                    (Some(mut cur), None) if merges_scalars(k) => {
                        for i in items {
                            if !cur.contains(i) {
                                cur.push(i.clone());
                            }
                        }
                        cur
                    }
                    _ => items
                        .iter()
                        .filter(|i| !(directives && i.get("$patch").is_some()))
                        .cloned()
                        .collect(),
                };
                om.insert(k.clone(), Value::Array(merged));
            }
            _ => {
                om.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

fn merge_keyed_list(
    mut cur: Vec<Value>,
    items: &[Value],
    key: &str,
    directives: bool,
) -> Result<Vec<Value>, ApiError> {
    if directives
        && items
            .iter()
            .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .collect());
    }
    for item in items {
        let kv = item.get(key).cloned().unwrap_or(Value::Null);
        let pos = cur.iter().position(|c| c.get(key) == Some(&kv));
        if directives && item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(p) = pos {
                cur.remove(p);
            }
            continue;
        }
        match pos {
            Some(p) => merge_object(&mut cur[p], item, directives)?,
            None => {
                let mut fresh = Value::Object(Map::new());
                merge_object(&mut fresh, item, directives)?;
                cur.push(fresh);
            }
        }
    }
    Ok(cur)
}

/// Applies an RFC 6902 JSON patch; a failed `test` answers 422 like the real server.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("json: cannot unmarshal JSON patch: {e}")))?;
    json_patch::patch(doc, &ops.0).map_err(|e| match e.kind {
        json_patch::PatchErrorKind::TestFailed => ApiError::invalid_request(),
        _ => ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {e}"),
        ),
    })
}

/// Applies an RFC 7386 JSON merge patch.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

const MAP_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "stringData",
    "binaryData",
    "matchLabels",
    "nodeSelector",
    "limits",
    "requests",
];

fn fields_of(v: &Value, name: &str, depth: usize) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            if !m.is_empty() && MAP_FIELDS.contains(&name) {
                out.insert(".".into(), json!({}));
            }
            for (k, child) in m {
                out.insert(format!("f:{k}"), fields_of(child, k, depth + 1));
            }
            Value::Object(out)
        }
        Value::Array(items) => match merge_key(name, items) {
            Some(key) if !items.is_empty() => {
                let mut out = Map::new();
                for it in items {
                    let kv = it.get(key).cloned().unwrap_or(Value::Null);
                    let mut entry = Map::new();
                    entry.insert(".".into(), json!({}));
                    if let Some(fields) = fields_of(it, "", depth + 1).as_object() {
                        for (fk, fv) in fields {
                            if fk != "." {
                                entry.insert(fk.clone(), fv.clone());
                            }
                        }
                    }
                    let mut kobj = Map::new();
                    kobj.insert(key.to_string(), kv);
                    out.insert(format!("k:{}", Value::Object(kobj)), Value::Object(entry));
                }
                if depth > 0 {
                    out.insert(".".into(), json!({}));
                }
                Value::Object(out)
            }
            _ => json!({}),
        },
        _ => json!({}),
    }
}

/// The `fieldsV1` set of an object as a manager that wrote it (status only, or all but status).
pub fn fields_v1(obj: &Value, status_only: bool, include_status: bool) -> Value {
    let mut out = Map::new();
    let Some(m) = obj.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                if status_only {
                    continue;
                }
                let mut meta = Map::new();
                for mk in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(mv) = v.get(mk) {
                        meta.insert(format!("f:{mk}"), fields_of(mv, mk, 1));
                    }
                }
                if !meta.is_empty() {
                    out.insert("f:metadata".into(), Value::Object(meta));
                }
            }
            "status" => {
                if status_only || include_status {
                    out.insert("f:status".into(), fields_of(v, k, 0));
                }
            }
            _ => {
                if !status_only {
                    out.insert(format!("f:{k}"), fields_of(v, k, 0));
                }
            }
        }
    }
    Value::Object(out)
}

/// Records (or refreshes) one manager's entry in `metadata.managedFields`.
pub fn record_manager(
    obj: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    time: &str,
    subresource: Option<&str>,
    include_status: bool,
) {
    let fields = fields_v1(obj, subresource == Some("status"), include_status);
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let mut entries: Vec<Value> = meta
        .get("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    entries.retain(|e| {
        !(e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some(operation)
            && e.get("subresource").and_then(Value::as_str) == subresource)
    });
    let mut e = Map::new();
    e.insert("manager".into(), json!(manager));
    e.insert("operation".into(), json!(operation));
    e.insert("apiVersion".into(), json!(api_version));
    e.insert("time".into(), json!(time));
    e.insert("fieldsType".into(), json!("FieldsV1"));
    e.insert("fieldsV1".into(), fields);
    if let Some(s) = subresource {
        e.insert("subresource".into(), json!(s));
    }
    entries.push(Value::Object(e));
    meta.insert("managedFields".into(), Value::Array(entries));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut o = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        strategic_merge(&mut o, &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}})).unwrap();
        assert_eq!(o["spec"]["containers"].as_array().unwrap().len(), 3);
        assert_eq!(o["spec"]["containers"][1]["image"], "z");
        strategic_merge(
            &mut o,
            &json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
        )
        .unwrap();
        assert_eq!(o["spec"]["containers"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn strategic_null_deletes_and_replace_directive() {
        let mut o = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        strategic_merge(
            &mut o,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
        )
        .unwrap();
        assert_eq!(o, json!({"metadata": {"labels": {"b": "2", "c": "3"}}}));
        strategic_merge(
            &mut o,
            &json!({"metadata": {"labels": {"$patch": "replace", "z": "9"}}}),
        )
        .unwrap();
        assert_eq!(o, json!({"metadata": {"labels": {"z": "9"}}}));
    }

    #[test]
    fn json_patch_test_failure_is_invalid() {
        let mut o = json!({"data": {"k": "v"}});
        let e = json_patch(
            &mut o,
            &json!([{"op": "test", "path": "/data/k", "value": "WRONG"}]),
        )
        .unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    }

    #[test]
    fn fields_v1_shape() {
        let f = fields_v1(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}),
            false,
            false,
        );
        assert_eq!(f, json!({"f:data": {".": {}, "f:k": {}}}));
    }
}
