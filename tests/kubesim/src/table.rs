//! Server-side printing: the `meta.k8s.io/v1` Table form that `kubectl get` asks for, with the
//! columns of the real printers for common kinds and CRD `additionalPrinterColumns`.

use crate::registry::{PrinterColumn, ResourceDef};
use serde_json::{Map, Value, json};

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn col(name: &str, type_: &str, priority: i64, desc: &str) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        format: if name == "Name" {
            "name".into()
        } else {
            String::new()
        },
        description: desc.into(),
        priority,
        json_path: String::new(),
    }
}

/// The column definitions for a resource.
pub fn columns(def: &ResourceDef) -> Vec<PrinterColumn> {
    let name = col("Name", "string", 0, NAME_DESC);
    let age = col("Age", "string", 0, AGE_DESC);
    let s = |n: &str, p: i64| col(n, "string", p, "");
    let i = |n: &str| col(n, "integer", 0, "");
    if def.custom {
        let mut c = vec![name];
        if def.columns.is_empty() {
            c.push(age);
        } else {
            c.extend(def.columns.iter().cloned());
        }
        return c;
    }
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "pods") => vec![
            name,
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age,
            s("IP", 1),
            s("Node", 1),
            s("Nominated Node", 1),
            s("Readiness Gates", 1),
        ],
        ("", "nodes") => vec![
            name,
            s("Status", 0),
            s("Roles", 0),
            age,
            s("Version", 0),
            s("Internal-IP", 1),
            s("External-IP", 1),
            s("OS-Image", 1),
            s("Kernel-Version", 1),
            s("Container-Runtime", 1),
        ],
        ("", "namespaces") => vec![name, s("Status", 0), age],
        ("", "configmaps") => vec![name, i("Data"), age],
        ("", "secrets") => vec![name, s("Type", 0), i("Data"), age],
        ("", "services") => vec![
            name,
            s("Type", 0),
            s("Cluster-IP", 0),
            s("External-IP", 0),
            s("Port(s)", 0),
            age,
            s("Selector", 1),
        ],
        ("", "serviceaccounts") => vec![name, i("Secrets"), age],
        ("apps", "deployments") => vec![
            name,
            s("Ready", 0),
            i("Up-to-date"),
            i("Available"),
            age,
            s("Containers", 1),
            s("Images", 1),
            s("Selector", 1),
        ],
        ("apps", "replicasets") => vec![
            name,
            i("Desired"),
            i("Current"),
            i("Ready"),
            age,
            s("Containers", 1),
            s("Images", 1),
            s("Selector", 1),
        ],
        ("apps", "statefulsets") => {
            vec![name, s("Ready", 0), age, s("Containers", 1), s("Images", 1)]
        }
        ("apps", "daemonsets") => vec![
            name,
            i("Desired"),
            i("Current"),
            i("Ready"),
            i("Up-to-date"),
            i("Available"),
            s("Node Selector", 0),
            age,
        ],
        ("batch", "jobs") => vec![
            name,
            s("Status", 0),
            s("Completions", 0),
            s("Duration", 0),
            age,
        ],
        ("policy", "poddisruptionbudgets") => vec![
            name,
            s("Min Available", 0),
            s("Max Unavailable", 0),
            i("Allowed Disruptions"),
            age,
        ],
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            vec![name, col("Created At", "date", 0, "")]
        }
        ("apiregistration.k8s.io", "apiservices") => {
            vec![name, s("Service", 0), s("Available", 0), age]
        }
        ("rbac.authorization.k8s.io", "clusterroles") | ("rbac.authorization.k8s.io", "roles") => {
            vec![name, s("Created At", 0)]
        }
        ("rbac.authorization.k8s.io", "clusterrolebindings")
        | ("rbac.authorization.k8s.io", "rolebindings") => {
            vec![
                name,
                s("Role", 0),
                age,
                s("Users", 1),
                s("Groups", 1),
                s("ServiceAccounts", 1),
            ]
        }
        _ => vec![name, age],
    }
}

/// kubectl's `HumanDuration` of seconds.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    let (m, h) = (secs / 60, secs / 3600);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        if secs % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", secs % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{}d", h / 24)
        } else {
            format!("{}d{}h", h / 24, h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        let d = (h / 24) % 365;
        if d == 0 {
            format!("{}y", h / 24 / 365)
        } else {
            format!("{}y{d}d", h / 24 / 365)
        }
    } else {
        format!("{}y", h / 24 / 365)
    }
}

fn age(obj: &Value) -> String {
    let Some(ts) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
    else {
        return "<unknown>".into();
    };
    match ts.parse::<jiff::Timestamp>() {
        Ok(t) => human_duration(jiff::Timestamp::now().as_second() - t.as_second()),
        Err(_) => "<unknown>".into(),
    }
}

fn s(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(o) => o.to_string(),
    }
}

fn or_none(x: String) -> Value {
    if x.is_empty() {
        json!("<none>")
    } else {
        json!(x)
    }
}

fn n(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn containers_images(obj: &Value, ptr: &str) -> (String, String) {
    let cs = obj
        .pointer(ptr)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| s(c.get("name"))).collect();
    let images: Vec<String> = cs.iter().map(|c| s(c.get("image"))).collect();
    (names.join(","), images.join(","))
}

fn selector_string(sel: Option<&Value>) -> String {
    let Some(m) = sel
        .and_then(|x| x.get("matchLabels").or(Some(x)))
        .and_then(Value::as_object)
    else {
        return String::new();
    };
    m.iter()
        .filter(|(_, v)| v.is_string())
        .map(|(k, v)| format!("{k}={}", s(Some(v))))
        .collect::<Vec<_>>()
        .join(",")
}

fn pod_cells(o: &Value) -> Vec<Value> {
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|a| a.len())
        .unwrap_or(0);
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let restarts: i64 = statuses
        .iter()
        .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
        .sum();
    let mut status = s(o.pointer("/status/phase"));
    if let Some(r) = o.pointer("/status/reason").and_then(Value::as_str) {
        status = r.to_string();
    }
    for c in &statuses {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            status = r.to_string();
        } else if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            status = r.to_string();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        status = "Terminating".into();
    }
    vec![
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        json!(age(o)),
        or_none(s(o.pointer("/status/podIP"))),
        or_none(s(o.pointer("/spec/nodeName"))),
        or_none(s(o.pointer("/status/nominatedNodeName"))),
        json!("<none>"),
    ]
}

fn node_cells(o: &Value) -> Vec<Value> {
    let conds = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut status = match conds
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
    {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => "Ready".to_string(),
        _ => "NotReady".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let addr = |t: &str| {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|x| x.get("type").and_then(Value::as_str) == Some(t))
            })
            .map(|x| s(x.get("address")))
            .unwrap_or_default()
    };
    vec![
        json!(status),
        or_none(roles.join(",")),
        json!(age(o)),
        json!(s(o.pointer("/status/nodeInfo/kubeletVersion"))),
        or_none(addr("InternalIP")),
        or_none(addr("ExternalIP")),
        or_none(s(o.pointer("/status/nodeInfo/osImage"))),
        or_none(s(o.pointer("/status/nodeInfo/kernelVersion"))),
        or_none(s(o.pointer("/status/nodeInfo/containerRuntimeVersion"))),
    ]
}

fn count(o: &Value, ptr: &str) -> i64 {
    o.pointer(ptr)
        .and_then(|v| {
            v.as_object()
                .map(|m| m.len())
                .or_else(|| v.as_array().map(|a| a.len()))
        })
        .unwrap_or(0) as i64
}

/// Evaluates the simple JSONPath subset CRD printer columns use: `.a.b[0].c` and
/// `.a[?(@.type=="X")].b`.
pub fn json_path(obj: &Value, path: &str) -> Option<Value> {
    let mut cur = vec![obj.clone()];
    let p = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            cur = cur.iter().filter_map(|v| v.get(key).cloned()).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(f) = inner.strip_prefix("?(@.").and_then(|x| x.strip_suffix(')')) {
                let (k, v) = f.split_once("==")?;
                let v = v.trim().trim_matches('"').trim_matches('\'');
                cur = cur
                    .iter()
                    .filter_map(|x| x.as_array())
                    .flat_map(|a| {
                        a.iter()
                            .filter(|e| e.get(k.trim()).and_then(Value::as_str) == Some(v))
                            .cloned()
                            .collect::<Vec<_>>()
                    })
                    .collect();
            } else if inner == "*" {
                cur = cur
                    .iter()
                    .filter_map(|x| x.as_array())
                    .flatten()
                    .cloned()
                    .collect();
            } else {
                let i: usize = inner.parse().ok()?;
                cur = cur.iter().filter_map(|x| x.get(i).cloned()).collect();
            }
        } else {
            return None;
        }
    }
    match cur.len() {
        0 => None,
        1 => cur.pop(),
        _ => Some(Value::String(
            cur.iter().map(|v| s(Some(v))).collect::<Vec<_>>().join(","),
        )),
    }
}

/// The cells of one row (aligned with [`columns`]).
pub fn cells(def: &ResourceDef, o: &Value) -> Vec<Value> {
    let name = json!(s(o.pointer("/metadata/name")));
    let mut out = vec![name];
    if def.custom {
        if def.columns.is_empty() {
            out.push(json!(age(o)));
        }
        for c in &def.columns {
            let v = json_path(o, &c.json_path);
            out.push(match (c.type_.as_str(), v) {
                ("date", Some(Value::String(t))) => match t.parse::<jiff::Timestamp>() {
                    Ok(ts) => json!(human_duration(
                        jiff::Timestamp::now().as_second() - ts.as_second()
                    )),
                    Err(_) => json!(t),
                },
                (_, Some(v)) => v,
                (_, None) => Value::Null,
            });
        }
        return out;
    }
    let rest: Vec<Value> = match (def.group.as_str(), def.plural.as_str()) {
        ("", "pods") => pod_cells(o),
        ("", "nodes") => node_cells(o),
        ("", "namespaces") => vec![json!(s(o.pointer("/status/phase"))), json!(age(o))],
        ("", "configmaps") => vec![
            json!(count(o, "/data") + count(o, "/binaryData")),
            json!(age(o)),
        ],
        ("", "secrets") => vec![
            json!(s(o.pointer("/type"))),
            json!(count(o, "/data")),
            json!(age(o)),
        ],
        ("", "services") => {
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            format!(
                                "{}/{}",
                                s(p.get("port")),
                                p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            vec![
                json!(
                    o.pointer("/spec/type")
                        .and_then(Value::as_str)
                        .unwrap_or("ClusterIP")
                ),
                or_none(s(o.pointer("/spec/clusterIP"))),
                json!("<none>"),
                or_none(ports.join(",")),
                json!(age(o)),
                or_none(selector_string(o.pointer("/spec/selector"))),
            ]
        }
        ("", "serviceaccounts") => vec![json!(count(o, "/secrets")), json!(age(o))],
        ("apps", "deployments") => {
            let (c, i) = containers_images(o, "/spec/template/spec/containers");
            vec![
                json!(format!(
                    "{}/{}",
                    n(o, "/status/readyReplicas"),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(n(o, "/status/updatedReplicas")),
                json!(n(o, "/status/availableReplicas")),
                json!(age(o)),
                json!(c),
                json!(i),
                json!(selector_string(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "replicasets") => {
            let (c, i) = containers_images(o, "/spec/template/spec/containers");
            vec![
                json!(
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ),
                json!(n(o, "/status/replicas")),
                json!(n(o, "/status/readyReplicas")),
                json!(age(o)),
                json!(c),
                json!(i),
                json!(selector_string(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "statefulsets") => {
            let (c, i) = containers_images(o, "/spec/template/spec/containers");
            vec![
                json!(format!(
                    "{}/{}",
                    n(o, "/status/readyReplicas"),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(age(o)),
                json!(c),
                json!(i),
            ]
        }
        ("apps", "daemonsets") => vec![
            json!(n(o, "/status/desiredNumberScheduled")),
            json!(n(o, "/status/currentNumberScheduled")),
            json!(n(o, "/status/numberReady")),
            json!(n(o, "/status/updatedNumberScheduled")),
            json!(n(o, "/status/numberAvailable")),
            or_none(selector_string(
                o.pointer("/spec/template/spec/nodeSelector"),
            )),
            json!(age(o)),
        ],
        ("batch", "jobs") => {
            let done = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|x| x.get("type").and_then(Value::as_str) == Some("Complete"))
                });
            vec![
                json!(if done { "Complete" } else { "Running" }),
                json!(format!(
                    "{}/{}",
                    n(o, "/status/succeeded"),
                    o.pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(""),
                json!(age(o)),
            ]
        }
        ("policy", "poddisruptionbudgets") => vec![
            json!(
                o.pointer("/spec/minAvailable")
                    .map(|v| s(Some(v)))
                    .unwrap_or_else(|| "N/A".into())
            ),
            json!(
                o.pointer("/spec/maxUnavailable")
                    .map(|v| s(Some(v)))
                    .unwrap_or_else(|| "N/A".into())
            ),
            json!(n(o, "/status/disruptionsAllowed")),
            json!(age(o)),
        ],
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            vec![json!(s(o.pointer("/metadata/creationTimestamp")))]
        }
        ("apiregistration.k8s.io", "apiservices") => {
            let svc = o
                .pointer("/spec/service")
                .map(|x| format!("{}/{}", s(x.get("namespace")), s(x.get("name"))))
                .unwrap_or_else(|| "Local".into());
            let avail = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| {
                    c.iter()
                        .find(|x| x.get("type").and_then(Value::as_str) == Some("Available"))
                })
                .map(|x| s(x.get("status")))
                .unwrap_or_else(|| "Unknown".into());
            vec![json!(svc), json!(avail), json!(age(o))]
        }
        ("rbac.authorization.k8s.io", "clusterroles") | ("rbac.authorization.k8s.io", "roles") => {
            vec![json!(s(o.pointer("/metadata/creationTimestamp")))]
        }
        ("rbac.authorization.k8s.io", _) => {
            let subj = o
                .get("subjects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let of = |k: &str| {
                subj.iter()
                    .filter(|x| x.get("kind").and_then(Value::as_str) == Some(k))
                    .map(|x| s(x.get("name")))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            vec![
                json!(format!(
                    "{}/{}",
                    s(o.pointer("/roleRef/kind")),
                    s(o.pointer("/roleRef/name"))
                )),
                json!(age(o)),
                json!(of("User")),
                json!(of("Group")),
                json!(of("ServiceAccount")),
            ]
        }
        _ => vec![json!(age(o))],
    };
    out.extend(rest);
    out
}

/// Column definitions as JSON.
pub fn column_definitions(def: &ResourceDef) -> Value {
    Value::Array(
        columns(def)
            .iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect(),
    )
}

/// The PartialObjectMetadata form of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({}))})
}

/// One table row; `include` is `None`, `Metadata` (default) or `Object`.
pub fn row(def: &ResourceDef, obj: &Value, include: &str) -> Value {
    let mut r = Map::new();
    r.insert("cells".into(), Value::Array(cells(def, obj)));
    match include {
        "None" => {}
        "Object" => {
            r.insert("object".into(), obj.clone());
        }
        _ => {
            r.insert("object".into(), partial_metadata(obj));
        }
    }
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600 * 5), "5h");
        assert_eq!(human_duration(86400 * 3 + 3600), "3d1h");
    }

    #[test]
    fn json_path_filter() {
        let o = json!({"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(
            json_path(&o, ".status.conditions[0].type"),
            Some(json!("A"))
        );
        assert_eq!(json_path(&o, ".spec.x"), None);
    }
}
