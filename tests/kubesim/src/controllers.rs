//! Optional controllers (`kubesim serve --controllers`, `Sim::builder().controllers(true)`): the
//! parts of kube-controller-manager, the scheduler and the kubelet that `helm --wait`,
//! `kubectl rollout status` and `kubectl wait` wait on. Off by default, so scenarios stay static.
//!
//! Two halves:
//! - [`admit`] and [`gc_finalizer`] run inside the API handler, as the kube-apiserver's own
//!   create/update/delete logic does: defaults of workload specs, a Service's clusterIP, a
//!   claim's default StorageClass, a Job's generated selector, and the finalizer a
//!   `Foreground`/`Orphan` delete adds
//!   (<https://kubernetes.io/docs/concepts/architecture/garbage-collection/>).
//! - [`run`] follows the store's event stream and reconciles through [`Core::handle`], so every
//!   change it makes is an ordinary write with a resourceVersion and a watch event:
//!   Deployments → ReplicaSets → Pods, StatefulSets, DaemonSets, Jobs, PVC binding (dynamic
//!   provisioning), pods run by a "kubelet" and garbage collection by ownerReferences.
//!
//! Reconciles are level-triggered (each reads the current state) and write only when the result
//! differs, so the event stream settles. Objects loaded from the scenario before the controllers
//! start are left as they are until something changes them.

use crate::api::{ApiRequest, Core, now};
use crate::registry::ResourceDef;
use crate::store::{Event, Store, Stored};
use serde_json::{Map, Value, json};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Annotation that makes a pod (or every pod of a Job) fail instead of succeed.
pub const FAIL_ANNOTATION: &str = "kubesim.dev/fail";

const DEPLOY_REVISION: &str = "deployment.kubernetes.io/revision";
const TEMPLATE_HASH: &str = "pod-template-hash";
const REVISION_HASH: &str = "controller-revision-hash";
const JOB_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

// ---------------------------------------------------------------------------------------------
// API-server side: defaults, clusterIP allocation, delete finalizers.
// ---------------------------------------------------------------------------------------------

fn ensure(obj: &mut Value, path: &[&str], val: Value) {
    let mut cur = obj;
    for (i, k) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(m) = cur.as_object_mut() else { return };
        if i + 1 == path.len() {
            if m.get(*k).is_none_or(Value::is_null) {
                m.insert((*k).into(), val);
            }
            return;
        }
        cur = m.entry(*k).or_insert_with(|| json!({}));
    }
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// Server-side defaults and allocations of a create (`old` = None) or an update, applied before
/// the object is stored. Called by the API handler only when controllers are on.
pub fn admit(st: &Store, def: &ResourceDef, obj: &mut Value, old: Option<&Value>) {
    if obj.get("spec").is_some_and(|s| !s.is_object()) {
        return;
    }
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "services") => admit_service(st, obj, old),
        ("apps", "deployments") => {
            ensure(obj, &["spec", "strategy", "type"], json!("RollingUpdate"));
            if s(obj, "/spec/strategy/type") == "RollingUpdate" {
                ensure(
                    obj,
                    &["spec", "strategy", "rollingUpdate"],
                    json!({"maxUnavailable": "25%", "maxSurge": "25%"}),
                );
            }
            ensure(obj, &["spec", "revisionHistoryLimit"], json!(10));
            ensure(obj, &["spec", "progressDeadlineSeconds"], json!(600));
        }
        ("apps", "statefulsets") => {
            ensure(
                obj,
                &["spec", "updateStrategy", "type"],
                json!("RollingUpdate"),
            );
            if s(obj, "/spec/updateStrategy/type") == "RollingUpdate" {
                ensure(
                    obj,
                    &["spec", "updateStrategy", "rollingUpdate"],
                    json!({"partition": 0}),
                );
            }
            ensure(obj, &["spec", "podManagementPolicy"], json!("OrderedReady"));
            ensure(obj, &["spec", "revisionHistoryLimit"], json!(10));
            ensure(
                obj,
                &["spec", "persistentVolumeClaimRetentionPolicy"],
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
        }
        ("apps", "daemonsets") => {
            ensure(
                obj,
                &["spec", "updateStrategy", "type"],
                json!("RollingUpdate"),
            );
            if s(obj, "/spec/updateStrategy/type") == "RollingUpdate" {
                ensure(
                    obj,
                    &["spec", "updateStrategy", "rollingUpdate"],
                    json!({"maxUnavailable": 1, "maxSurge": 0}),
                );
            }
            ensure(obj, &["spec", "revisionHistoryLimit"], json!(10));
        }
        ("batch", "jobs") => admit_job(obj, old),
        ("", "persistentvolumeclaims") => {
            if old.is_none() && obj.pointer("/spec/storageClassName").is_none() {
                let default = st
                    .objects
                    .get("storage.k8s.io/storageclasses")
                    .and_then(|m| {
                        m.values().find(|c| {
                            s(
                                &c.value,
                                &format!("/metadata/annotations/{}", esc(DEFAULT_CLASS)),
                            ) == "true"
                        })
                    })
                    .map(|c| s(&c.value, "/metadata/name").to_string());
                if let Some(d) = default {
                    ensure(obj, &["spec", "storageClassName"], json!(d));
                }
            }
            if let Some(o) = old {
                for k in ["volumeName", "storageClassName"] {
                    if let Some(v) = o.pointer(&format!("/spec/{k}")) {
                        ensure(obj, &["spec", k], v.clone());
                    }
                }
            }
            ensure(obj, &["spec", "volumeMode"], json!("Filesystem"));
        }
        _ => {}
    }
}

/// JSON-pointer escape of a key.
fn esc(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn admit_service(st: &Store, obj: &mut Value, old: Option<&Value>) {
    ensure(obj, &["spec", "type"], json!("ClusterIP"));
    if s(obj, "/spec/type") == "ExternalName" {
        return;
    }
    // an update keeps the allocated address (the API server copies it when the body omits it)
    if let Some(o) = old {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if let Some(v) = o.pointer(&format!("/spec/{k}")) {
                ensure(obj, &["spec", k], v.clone());
            }
        }
    }
    if s(obj, "/spec/clusterIP").is_empty() {
        let used: BTreeSet<String> = st
            .objects
            .get("/services")
            .map(|m| {
                m.values()
                    .map(|o| s(&o.value, "/spec/clusterIP").to_string())
                    .collect()
            })
            .unwrap_or_default();
        // 10.96.0.0/12 is kubeadm's default service range; .1 is the `kubernetes` Service
        let ip = (10u32..65_000)
            .map(|n| format!("10.96.{}.{}", n / 250, n % 250 + 1))
            .find(|ip| !used.contains(ip))
            .unwrap_or_else(|| "10.96.255.254".into());
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("clusterIP".into(), json!(ip));
        }
    }
    let ip = s(obj, "/spec/clusterIP").to_string();
    ensure(obj, &["spec", "clusterIPs"], json!([ip]));
    if ip != "None" {
        ensure(obj, &["spec", "ipFamilies"], json!(["IPv4"]));
        ensure(obj, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
    }
    ensure(obj, &["spec", "sessionAffinity"], json!("None"));
    ensure(obj, &["spec", "internalTrafficPolicy"], json!("Cluster"));
    if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports {
            let port = p.get("port").cloned().unwrap_or(Value::Null);
            ensure(p, &["protocol"], json!("TCP"));
            ensure(p, &["targetPort"], port);
        }
    }
}

fn admit_job(obj: &mut Value, old: Option<&Value>) {
    if obj.pointer("/spec/completions").is_none() && obj.pointer("/spec/parallelism").is_none() {
        ensure(obj, &["spec", "completions"], json!(1));
    }
    ensure(obj, &["spec", "parallelism"], json!(1));
    ensure(obj, &["spec", "backoffLimit"], json!(6));
    ensure(obj, &["spec", "completionMode"], json!("NonIndexed"));
    ensure(obj, &["spec", "suspend"], json!(false));
    ensure(
        obj,
        &["spec", "podReplacementPolicy"],
        json!("TerminatingOrFailed"),
    );
    if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    // the generated selector and template labels of batch/v1
    // (https://kubernetes.io/docs/concepts/workloads/controllers/job/#specifying-your-own-pod-selector)
    let (uid, name) = match old {
        Some(o) => (s(o, "/metadata/uid"), s(o, "/metadata/name")),
        None => (s(obj, "/metadata/uid"), s(obj, "/metadata/name")),
    };
    let (uid, name) = (uid.to_string(), name.to_string());
    ensure(
        obj,
        &["spec", "selector"],
        json!({"matchLabels": {JOB_UID: uid}}),
    );
    for (k, v) in [
        (JOB_UID, &uid),
        (JOB_NAME, &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        ensure(
            obj,
            &["spec", "template", "metadata", "labels", k],
            json!(v),
        );
    }
}

/// The finalizer a delete adds for its propagation policy (`propagationPolicy` or the legacy
/// `orphanDependents`, in the DeleteOptions body or the query), or the resource's default:
/// `orphan` for batch/v1 Jobs and v1 ReplicationControllers, kept for compatibility, background
/// (no finalizer) for everything else.
pub fn gc_finalizer(def: &ResourceDef, req: &ApiRequest) -> Option<&'static str> {
    if (def.group.is_empty() && def.plural == "namespaces") || def.group == "apiextensions.k8s.io" {
        return None;
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let policy = req
        .q("propagationPolicy")
        .map(String::from)
        .or_else(|| {
            body.get("propagationPolicy")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .or_else(|| {
            let orphan = req
                .q("orphanDependents")
                .map(|o| o == "true")
                .or_else(|| body.get("orphanDependents").and_then(Value::as_bool))?;
            Some(if orphan { "Orphan" } else { "Background" }.to_string())
        });
    match policy.as_deref() {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        Some(_) => None,
        None if (def.group == "batch" && def.plural == "jobs")
            || (def.group.is_empty() && def.plural == "replicationcontrollers") =>
        {
            Some("orphan")
        }
        None => None,
    }
}

/// Points the ownerReferences of loaded objects at their owners' actual uids.
///
/// A scenario file names an owner by kind, name and a uid, but the API gives every created
/// object a fresh uid, so the written uid matches nothing. Called once after loading (with
/// controllers on): a reference whose uid matches no object, and whose kind and name match an
/// object in the same namespace (or a cluster-scoped one), takes that object's uid. Other dangling
/// references are left alone (and nothing deletes their objects).
pub fn resolve_owner_refs(st: &mut Store) {
    let mut uids = BTreeSet::new();
    let mut by_name = std::collections::HashMap::new();
    for m in st.objects.values() {
        for ((ns, name), o) in m {
            let u = uid(&o.value).to_string();
            let kind = s(&o.value, "/kind").to_string();
            by_name.insert((kind, ns.clone(), name.clone()), u.clone());
            uids.insert(u);
        }
    }
    let mut fixes: Vec<(String, Value)> = Vec::new();
    for (key, m) in &st.objects {
        for ((ns, _), o) in m {
            let refs = owner_refs(&o.value);
            if refs.is_empty() || refs.iter().all(|r| uids.contains(s(r, "/uid"))) {
                continue;
            }
            let mut v = o.value.clone();
            if let Some(rs) = v
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                for r in rs {
                    if uids.contains(s(r, "/uid")) {
                        continue;
                    }
                    let kind = s(r, "/kind").to_string();
                    let name = s(r, "/name").to_string();
                    let found = by_name
                        .get(&(kind.clone(), ns.clone(), name.clone()))
                        .or_else(|| by_name.get(&(kind, String::new(), name)));
                    if let Some(u) = found {
                        r["uid"] = json!(u);
                    }
                }
            }
            if v != o.value {
                fixes.push((key.clone(), v));
            }
        }
    }
    for (key, v) in fixes {
        st.put_silent(&key, Stored::new(v));
    }
}

/// Points each scenario PersistentVolume's `claimRef` at its claim's uid, as
/// [`resolve_owner_refs`] does for ownerReferences: a `claimRef.uid` that matches no object
/// takes the uid of the claim its namespace and name give. Called once after loading.
pub fn resolve_claim_refs(st: &mut Store) {
    let claims: std::collections::HashMap<(String, String), String> = st
        .objects
        .get(PVCS.key)
        .map(|m| {
            m.iter()
                .map(|((ns, name), o)| ((ns.clone(), name.clone()), uid(&o.value).to_string()))
                .collect()
        })
        .unwrap_or_default();
    let uids: BTreeSet<&String> = claims.values().collect();
    let mut fixes = Vec::new();
    for o in st.objects.get(PVS.key).into_iter().flat_map(|m| m.values()) {
        let Some(r) = o.value.pointer("/spec/claimRef") else {
            continue;
        };
        let u = s(r, "/uid").to_string();
        if u.is_empty() || uids.contains(&u) {
            continue;
        }
        if let Some(found) = claims.get(&(s(r, "/namespace").into(), s(r, "/name").into())) {
            let mut v = o.value.clone();
            v["spec"]["claimRef"]["uid"] = json!(found);
            fixes.push(v);
        }
    }
    for v in fixes {
        st.put_silent(PVS.key, Stored::new(v));
    }
}

// ---------------------------------------------------------------------------------------------
// Controller loop.
// ---------------------------------------------------------------------------------------------

/// Follows the store's events until the runtime stops, reconciling each change.
pub async fn run(core: Arc<Core>, mut rx: broadcast::Receiver<Arc<Event>>) {
    let ctl = Ctl {
        core: &core,
        next_ip: Cell::new(1),
    };
    loop {
        match rx.recv().await {
            Ok(ev) => ctl.on_event(&ev),
            Err(broadcast::error::RecvError::Lagged(_)) => ctl.resync(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

struct Ctl<'a> {
    core: &'a Core,
    next_ip: Cell<u32>,
}

/// An object's resource coordinates.
#[derive(Clone, Copy)]
struct Res {
    key: &'static str,
    prefix: &'static str,
    plural: &'static str,
}

const PODS: Res = Res {
    key: "/pods",
    prefix: "/api/v1",
    plural: "pods",
};
const RS: Res = Res {
    key: "apps/replicasets",
    prefix: "/apis/apps/v1",
    plural: "replicasets",
};
const DEPLOY: Res = Res {
    key: "apps/deployments",
    prefix: "/apis/apps/v1",
    plural: "deployments",
};
const STS: Res = Res {
    key: "apps/statefulsets",
    prefix: "/apis/apps/v1",
    plural: "statefulsets",
};
const DS: Res = Res {
    key: "apps/daemonsets",
    prefix: "/apis/apps/v1",
    plural: "daemonsets",
};
const JOBS: Res = Res {
    key: "batch/jobs",
    prefix: "/apis/batch/v1",
    plural: "jobs",
};
const PVCS: Res = Res {
    key: "/persistentvolumeclaims",
    prefix: "/api/v1",
    plural: "persistentvolumeclaims",
};
const PVS: Res = Res {
    key: "/persistentvolumes",
    prefix: "/api/v1",
    plural: "persistentvolumes",
};

fn path(r: Res, ns: &str, name: &str) -> String {
    if ns.is_empty() {
        format!("{}/{}/{name}", r.prefix, r.plural)
    } else {
        format!("{}/namespaces/{ns}/{}/{name}", r.prefix, r.plural)
    }
}

fn collection(r: Res, ns: &str) -> String {
    format!("{}/namespaces/{ns}/{}", r.prefix, r.plural)
}

fn uid(v: &Value) -> &str {
    s(v, "/metadata/uid")
}

fn deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp").is_some()
}

fn owner_refs(v: &Value) -> &[Value] {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The controller ownerReference of an object: (kind, name, uid).
fn controller_of(v: &Value) -> Option<(&str, &str, &str)> {
    owner_refs(v)
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| (s(r, "/kind"), s(r, "/name"), s(r, "/uid")))
}

fn owned_by(v: &Value, owner_uid: &str) -> bool {
    controller_of(v).is_some_and(|(_, _, u)| u == owner_uid)
}

fn owner_ref(api_version: &str, kind: &str, owner: &Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": s(owner, "/metadata/name"),
        "uid": uid(owner), "controller": true, "blockOwnerDeletion": true})
}

/// FNV-1a over a canonical (key-sorted) rendering, encoded the way Kubernetes names template
/// hashes (decimal digits mapped onto consonants and digits that spell no words).
fn template_hash(v: &Value) -> String {
    fn put(h: &mut u32, b: &[u8]) {
        for x in b {
            *h ^= u32::from(*x);
            *h = h.wrapping_mul(16_777_619);
        }
    }
    fn feed(h: &mut u32, v: &Value) {
        match v {
            Value::Object(m) => {
                put(h, b"{");
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    put(h, k.as_bytes());
                    put(h, b":");
                    feed(h, &m[k]);
                }
                put(h, b"}");
            }
            Value::Array(a) => {
                put(h, b"[");
                for x in a {
                    feed(h, x);
                }
                put(h, b"]");
            }
            other => put(h, other.to_string().as_bytes()),
        }
    }
    let mut h: u32 = 2_166_136_261;
    feed(&mut h, v);
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHA[usize::from(b) % ALPHA.len()] as char)
        .collect()
}

/// A pod template without the label a controller adds (and without an empty label map), for
/// comparing templates.
fn bare_template(t: &Value, extra_label: &str) -> Value {
    let mut t = t.clone();
    if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(l) = m.get_mut("labels").and_then(Value::as_object_mut) {
            l.remove(extra_label);
        }
        if m.get("labels")
            .is_some_and(|l| l.as_object().is_some_and(Map::is_empty) || l.is_null())
        {
            m.remove("labels");
        }
    }
    t
}

/// A pod the scheduler could not place (yet): Pending, `PodScheduled` False.
fn unscheduled(p: &Value) -> bool {
    s(p, "/status/phase") == "Pending"
        && p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/status") == "False")
            })
}

fn pod_ready(p: &Value) -> bool {
    !deleting(p)
        && s(p, "/status/phase") == "Running"
        && p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True")
            })
}

fn pod_active(p: &Value) -> bool {
    !deleting(p) && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
}

/// `maxUnavailable`-style int-or-percent of a total.
fn scaled(v: Option<&Value>, total: i64, round_up: bool, default: i64) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(p)) if p.ends_with('%') => {
            let pct: i64 = p.trim_end_matches('%').parse().unwrap_or(0);
            if round_up {
                (total * pct + 99) / 100
            } else {
                total * pct / 100
            }
        }
        Some(Value::String(p)) => p.parse().unwrap_or(default),
        _ => default,
    }
}

/// Sets each condition of `want`, keeping the previous times when type, status, reason and
/// message are unchanged (so a resync does not rewrite a settled status).
fn conditions(old: &Value, want: &[(&str, &str, &str, String)], time: &str, probe: bool) -> Value {
    let prev = old.as_array().cloned().unwrap_or_default();
    let mut out: Vec<Value> = Vec::new();
    for (ty, status, reason, message) in want {
        let p = prev.iter().find(|c| s(c, "/type") == *ty);
        let same = p.is_some_and(|p| {
            s(p, "/status") == *status && s(p, "/reason") == *reason && s(p, "/message") == message
        });
        if same && let Some(p) = p {
            out.push(p.clone());
            continue;
        }
        let transition = match p {
            Some(p) if s(p, "/status") == *status => p.get("lastTransitionTime").cloned(),
            _ => None,
        }
        .unwrap_or_else(|| json!(time));
        let mut c = Map::new();
        c.insert("type".into(), json!(ty));
        c.insert("status".into(), json!(status));
        if probe {
            c.insert("lastProbeTime".into(), json!(time));
        } else {
            c.insert("lastUpdateTime".into(), json!(time));
        }
        c.insert("lastTransitionTime".into(), transition);
        c.insert("reason".into(), json!(reason));
        c.insert("message".into(), json!(message));
        out.push(Value::Object(c));
    }
    Value::Array(out)
}

/// Drops zero-valued counters (the API's `omitempty`), except the ones listed.
fn status_obj(fields: &[(&str, Value)], keep_zero: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in fields {
        if v.as_i64() == Some(0) && !keep_zero.contains(k) {
            continue;
        }
        if v.is_null() {
            continue;
        }
        m.insert((*k).into(), v.clone());
    }
    m
}

impl Ctl<'_> {
    fn store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.core.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, r: Res, ns: &str, name: &str) -> Option<Value> {
        self.store().get(r.key, ns, name).map(|o| o.value.clone())
    }

    /// Objects of a resource in a namespace.
    fn list(&self, key: &str, ns: &str) -> Vec<Value> {
        let st = self.store();
        st.objects
            .get(key)
            .map(|m| {
                m.range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, o)| o.value.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn list_all(&self, key: &str) -> Vec<Value> {
        let st = self.store();
        st.objects
            .get(key)
            .map(|m| m.values().map(|o| o.value.clone()).collect())
            .unwrap_or_default()
    }

    fn owned(&self, r: Res, ns: &str, owner: &Value) -> Vec<Value> {
        let u = uid(owner);
        self.list(r.key, ns)
            .into_iter()
            .filter(|o| owned_by(o, u))
            .collect()
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        ct: &str,
        body: Option<&Value>,
        agent: &str,
    ) -> Option<Value> {
        let mut req = ApiRequest::new(method, path);
        req.user_agent = format!("{agent}/v1.30.6");
        if let Some(b) = body {
            req = req.with_body(ct, serde_json::to_vec(b).unwrap_or_default());
        }
        let resp = self.core.handle(&req);
        if resp.status >= 300 {
            return None;
        }
        serde_json::from_slice(&resp.body_bytes()).ok()
    }

    fn create(&self, r: Res, ns: &str, obj: &Value, agent: &str) -> Option<Value> {
        let p = if ns.is_empty() {
            format!("{}/{}", r.prefix, r.plural)
        } else {
            collection(r, ns)
        };
        self.call("POST", &p, "application/json", Some(obj), agent)
    }

    fn merge(&self, p: &str, patch: &Value, agent: &str) -> Option<Value> {
        self.call(
            "PATCH",
            p,
            "application/merge-patch+json",
            Some(patch),
            agent,
        )
    }

    /// Replaces the status when it differs (with the read's resourceVersion as precondition).
    fn set_status(&self, r: Res, obj: &Value, status: Value, agent: &str) {
        if obj.get("status") == Some(&status) {
            return;
        }
        let mut o = obj.clone();
        o["status"] = status;
        let p = format!(
            "{}/status",
            path(r, s(obj, "/metadata/namespace"), s(obj, "/metadata/name"))
        );
        self.call("PUT", &p, "application/json", Some(&o), agent);
    }

    /// Deletes `{collection}/{name}` with a propagation policy.
    fn delete(&self, collection: &str, name: &str, policy: &str) {
        let p = format!("{collection}/{name}");
        self.call(
            "DELETE",
            &p,
            "application/json",
            Some(
                &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}),
            ),
            "kube-controller-manager",
        );
    }

    /// The API path of a stored object, from its kind's resource definition.
    fn obj_path(&self, key: &str, v: &Value) -> Option<String> {
        let (group, plural) = key.split_once('/')?;
        let st = self.store();
        let def = st
            .registry
            .all()
            .iter()
            .find(|d| d.group == group && d.plural == plural)?
            .clone();
        let version = def.versions.first()?.clone();
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let ns = s(v, "/metadata/namespace");
        Some(if ns.is_empty() {
            format!("{prefix}/{plural}/{}", s(v, "/metadata/name"))
        } else {
            format!(
                "{prefix}/namespaces/{ns}/{plural}/{}",
                s(v, "/metadata/name")
            )
        })
    }

    fn on_event(&self, ev: &Event) {
        let v = &ev.obj.value;
        let ns = s(v, "/metadata/namespace").to_string();
        let name = s(v, "/metadata/name").to_string();
        let gone = ev.kind == "DELETED";
        match ev.key.as_str() {
            "apps/deployments" if !gone => self.sync_deployment(&ns, &name),
            "apps/replicasets" => {
                if !gone {
                    self.sync_replicaset(&ns, &name);
                }
                if let Some(("Deployment", d, _)) = controller_of(v) {
                    self.sync_deployment(&ns, d);
                }
            }
            "apps/statefulsets" if !gone => self.sync_statefulset(&ns, &name),
            "apps/daemonsets" if !gone => self.sync_daemonset(&ns, &name),
            "batch/jobs" if !gone => self.sync_job(&ns, &name),
            "/pods" => {
                if ev.kind == "ADDED" {
                    self.kubelet(v);
                }
                match controller_of(v) {
                    Some(("ReplicaSet", o, _)) => self.sync_replicaset(&ns, o),
                    Some(("StatefulSet", o, _)) => self.sync_statefulset(&ns, o),
                    Some(("DaemonSet", o, _)) => self.sync_daemonset(&ns, o),
                    Some(("Job", o, _)) => self.sync_job(&ns, o),
                    _ => {}
                }
                // a new pod may be a claim's first consumer; a gone or finished one may be
                // the last user of a claim being deleted
                for c in v
                    .pointer("/spec/volumes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let claim = s(c, "/persistentVolumeClaim/claimName");
                    if !claim.is_empty() {
                        self.sync_pvc(&ns, claim);
                    }
                }
            }
            "/nodes" => {
                if !gone {
                    self.schedule_pending();
                }
                for d in self.list_all(DS.key) {
                    self.sync_daemonset(s(&d, "/metadata/namespace"), s(&d, "/metadata/name"));
                }
            }
            "/persistentvolumeclaims" if !gone => self.sync_pvc(&ns, &name),
            "/persistentvolumeclaims" => self.release_volume(v),
            "/persistentvolumes" if !gone => self.sync_pv(&name),
            "storage.k8s.io/storageclasses" if !gone => {
                for c in self.list_all(PVCS.key) {
                    if s(&c, "/status/phase") != "Bound" {
                        self.sync_pvc(s(&c, "/metadata/namespace"), s(&c, "/metadata/name"));
                    }
                }
            }
            _ => {}
        }
        if gone {
            self.collect_dependents(v);
            for r in owner_refs(v) {
                if let Some((key, owner)) = self.find_uid(&ns, s(r, "/uid"))
                    && deleting(&owner)
                {
                    self.finish_owner(&key, &owner);
                }
            }
        } else if deleting(v) {
            self.finish_owner(&ev.key, v);
        }
    }

    /// Re-reconciles every workload (after the event stream lagged).
    fn resync(&self) {
        for (r, f) in [
            (DEPLOY, Self::sync_deployment as fn(&Self, &str, &str)),
            (RS, Self::sync_replicaset),
            (STS, Self::sync_statefulset),
            (DS, Self::sync_daemonset),
            (JOBS, Self::sync_job),
            (PVCS, Self::sync_pvc),
        ] {
            for o in self.list_all(r.key) {
                f(self, s(&o, "/metadata/namespace"), s(&o, "/metadata/name"));
            }
        }
    }

    // --- kubelet and scheduler ---------------------------------------------------------------

    /// The node a pod goes to: `preferred` (its own or its DaemonSet's), else the first node
    /// not cordoned (`spec.unschedulable`). `None` when there are nodes and every one is
    /// cordoned: the pod stays Pending, as the scheduler leaves it. A scenario without Node
    /// objects runs its pods on no node (`Some("")`).
    fn node_for(&self, preferred: &str) -> Option<String> {
        if !preferred.is_empty() {
            return Some(preferred.to_string());
        }
        let nodes = self.list_all("/nodes");
        if nodes.is_empty() {
            return Some(String::new());
        }
        nodes
            .iter()
            .find(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true))
            .map(|n| s(n, "/metadata/name").to_string())
    }

    /// Schedules the pods left Pending for want of a node, once a node takes them (uncordoned
    /// or added).
    fn schedule_pending(&self) {
        let Some(node) = self.node_for("").filter(|n| !n.is_empty()) else {
            return;
        };
        for p in self.list_all(PODS.key) {
            if deleting(&p) || !unscheduled(&p) || !s(&p, "/spec/nodeName").is_empty() {
                continue;
            }
            let at = path(PODS, s(&p, "/metadata/namespace"), s(&p, "/metadata/name"));
            if let Some(bound) =
                self.merge(&at, &json!({"spec": {"nodeName": node}}), "kube-scheduler")
            {
                self.kubelet(&bound);
            }
        }
    }

    /// Runs a new pod: `Running` and Ready, or, for `restartPolicy` Never/OnFailure, run to
    /// completion: `Succeeded`, or `Failed` when it carries `kubesim.dev/fail: "true"`. With
    /// every node cordoned it stays Pending, condition `PodScheduled` False, `Unschedulable`.
    fn kubelet(&self, pod: &Value) {
        if deleting(pod)
            || (pod.pointer("/status/conditions").is_some() && !unscheduled(pod))
            || !matches!(s(pod, "/status/phase"), "" | "Pending")
        {
            return;
        }
        let t = now();
        let Some(node) = self.node_for(s(pod, "/spec/nodeName")) else {
            let n = self.list_all("/nodes").len();
            let status = json!({
                "phase": "Pending",
                "qosClass": "BestEffort",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "lastProbeTime": null, "lastTransitionTime": t,
                    "message": format!("0/{n} nodes are available: {n} node(s) were unschedulable. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.")}],
            });
            if !unscheduled(pod) {
                self.set_status(PODS, pod, status, "kube-scheduler");
            }
            return;
        };
        let n = self.next_ip.get();
        self.next_ip.set(n + 1);
        let ip = format!("10.244.{}.{}", n / 250, n % 250 + 2);
        let host_ip = self
            .get(
                Res {
                    key: "/nodes",
                    prefix: "/api/v1",
                    plural: "nodes",
                },
                "",
                &node,
            )
            .and_then(|n| {
                n.pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|a| s(a, "/type") == "InternalIP"))
                    .map(|a| s(a, "/address").to_string())
            })
            .unwrap_or_else(|| "10.0.0.1".into());
        let completes = matches!(s(pod, "/spec/restartPolicy"), "Never" | "OnFailure");
        let fails = s(
            pod,
            &format!("/metadata/annotations/{}", esc(FAIL_ANNOTATION)),
        ) == "true";
        let containers: Vec<Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cid = uid(pod).replace('-', "");
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let state = if !completes {
                    json!({"running": {"startedAt": t}})
                } else if fails {
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": t, "finishedAt": t, "containerID": format!("containerd://{cid}")}})
                } else {
                    json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t, "containerID": format!("containerd://{cid}")}})
                };
                json!({"name": s(c, "/name"), "image": s(c, "/image"), "imageID": "",
                    "containerID": format!("containerd://{cid}"), "ready": !completes,
                    "started": !completes, "restartCount": 0, "state": state, "lastState": {}})
            })
            .collect();
        let (phase, ready, reason) = match (completes, fails) {
            (false, _) => ("Running", "True", None),
            (true, false) => ("Succeeded", "False", Some("PodCompleted")),
            (true, true) => ("Failed", "False", Some("PodFailed")),
        };
        let cond = |ty: &str, st: &str, reason: Option<&str>| {
            let mut c =
                json!({"type": ty, "status": st, "lastProbeTime": null, "lastTransitionTime": t});
            if let Some(r) = reason {
                c["reason"] = json!(r);
            }
            c
        };
        let status = json!({
            "phase": phase,
            "conditions": [
                cond("PodReadyToStartContainers", if completes { "False" } else { "True" }, None),
                cond("Initialized", "True", None),
                cond("Ready", ready, reason),
                cond("ContainersReady", ready, reason),
                cond("PodScheduled", "True", None),
            ],
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": t, "qosClass": "BestEffort",
            "containerStatuses": statuses,
        });
        self.set_status(PODS, pod, status, "kubelet");
    }

    fn new_pod(&self, template: &Value, name: Value, owner: Value, node: &str) -> Value {
        let mut meta = template
            .get("metadata")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.remove("name");
            m.remove("namespace");
            m.remove("creationTimestamp");
            m.insert("ownerReferences".into(), json!([owner]));
            if name.get("generateName").is_some() {
                m.insert("generateName".into(), name["generateName"].clone());
            } else {
                m.insert("name".into(), name["name"].clone());
            }
        }
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        if let Some(node) = self.node_for(node).filter(|n| !n.is_empty()) {
            spec["nodeName"] = json!(node);
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    }

    // --- Deployments and ReplicaSets ---------------------------------------------------------

    fn sync_deployment(&self, ns: &str, name: &str) {
        let Some(d) = self.get(DEPLOY, ns, name) else {
            return;
        };
        if deleting(&d) {
            return;
        }
        let template = d.pointer("/spec/template").cloned().unwrap_or(Value::Null);
        let bare = bare_template(&template, TEMPLATE_HASH);
        let replicas = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
        let mut sets = self.owned(RS, ns, &d);
        sets.sort_by_key(|r| s(r, "/metadata/creationTimestamp").to_string());
        let rev = |r: &Value| -> i64 {
            s(
                r,
                &format!("/metadata/annotations/{}", esc(DEPLOY_REVISION)),
            )
            .parse()
            .unwrap_or(0)
        };
        let max_rev = sets.iter().map(rev).max().unwrap_or(0);
        let current = sets
            .iter()
            .find(|r| {
                r.pointer("/spec/template")
                    .is_some_and(|t| bare_template(t, TEMPLATE_HASH) == bare)
            })
            .cloned();
        let max_surge = scaled(
            d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
            replicas,
            true,
            0,
        );
        let agent = "kube-controller-manager";
        let new_rs = if paused {
            current
        } else {
            match current {
                None => {
                    let hash = template_hash(&template);
                    let mut t = template.clone();
                    ensure(&mut t, &["metadata", "labels", TEMPLATE_HASH], json!(hash));
                    let mut labels = t.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
                    if labels.get(TEMPLATE_HASH).is_none() {
                        labels[TEMPLATE_HASH] = json!(hash);
                    }
                    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                    ensure(&mut selector, &["matchLabels", TEMPLATE_HASH], json!(hash));
                    let mut spec =
                        json!({"replicas": replicas, "selector": selector, "template": t});
                    if let Some(m) = d.pointer("/spec/minReadySeconds") {
                        spec["minReadySeconds"] = m.clone();
                    }
                    let rs = json!({
                        "apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {"name": format!("{name}-{hash}"), "namespace": ns, "labels": labels,
                            "annotations": {DEPLOY_REVISION: (max_rev + 1).to_string(),
                                "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                                "deployment.kubernetes.io/max-replicas": (replicas + max_surge).to_string()},
                            "ownerReferences": [owner_ref("apps/v1", "Deployment", &d)]},
                        "spec": spec,
                    });
                    self.create(RS, ns, &rs, agent)
                }
                Some(r) => {
                    let mut patch = json!({});
                    if i(&r, "/spec/replicas") != replicas {
                        patch["spec"] = json!({"replicas": replicas});
                    }
                    let want_rev = if rev(&r) == max_rev {
                        max_rev
                    } else {
                        max_rev + 1
                    };
                    if rev(&r) != want_rev {
                        patch["metadata"] =
                            json!({"annotations": {DEPLOY_REVISION: want_rev.to_string()}});
                    }
                    if patch.as_object().is_some_and(|m| !m.is_empty()) {
                        self.merge(&path(RS, ns, s(&r, "/metadata/name")), &patch, agent)
                    } else {
                        Some(r)
                    }
                }
            }
        };
        let new_uid = new_rs
            .as_ref()
            .map(|r| uid(r).to_string())
            .unwrap_or_default();
        if !paused && !new_uid.is_empty() {
            for r in &sets {
                if uid(r) != new_uid && i(r, "/spec/replicas") != 0 {
                    self.merge(
                        &path(RS, ns, s(r, "/metadata/name")),
                        &json!({"spec": {"replicas": 0}}),
                        agent,
                    );
                }
            }
        }
        // the Deployment's own revision annotation follows its newest ReplicaSet
        let d = if let Some(r) = &new_rs {
            let want = s(
                r,
                &format!("/metadata/annotations/{}", esc(DEPLOY_REVISION)),
            )
            .to_string();
            if !want.is_empty()
                && s(
                    &d,
                    &format!("/metadata/annotations/{}", esc(DEPLOY_REVISION)),
                ) != want
            {
                self.merge(
                    &path(DEPLOY, ns, name),
                    &json!({"metadata": {"annotations": {DEPLOY_REVISION: want}}}),
                    agent,
                )
                .unwrap_or(d)
            } else {
                d
            }
        } else {
            d
        };
        // status from the ReplicaSets as they are now
        let sets = self.owned(RS, ns, &d);
        let sum = |p: &str| sets.iter().map(|r| i(r, p)).sum::<i64>();
        let total = sum("/status/replicas");
        let ready = sum("/status/readyReplicas");
        let available = sum("/status/availableReplicas");
        let new = sets.iter().find(|r| uid(r) == new_uid);
        let updated = new.map(|r| i(r, "/status/replicas")).unwrap_or(0);
        let new_available = new.map(|r| i(r, "/status/availableReplicas")).unwrap_or(0);
        let new_name = new.map(|r| s(r, "/metadata/name")).unwrap_or("");
        let max_unavailable = if s(&d, "/spec/strategy/type") == "RollingUpdate" {
            scaled(
                d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
                replicas,
                false,
                0,
            )
        } else {
            0
        };
        let t = now();
        let mut want = Vec::new();
        if available >= replicas - max_unavailable {
            want.push((
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".to_string(),
            ));
        } else {
            want.push((
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".to_string(),
            ));
        }
        if paused {
            want.push((
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused".to_string(),
            ));
        } else if updated == replicas && new_available == replicas && total == replicas {
            want.push((
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            ));
        } else if !new_name.is_empty() {
            want.push((
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{new_name}\" is progressing."),
            ));
        }
        let conds = conditions(
            d.pointer("/status/conditions").unwrap_or(&Value::Null),
            &want,
            &t,
            false,
        );
        let mut st = status_obj(
            &[
                ("observedGeneration", json!(i(&d, "/metadata/generation"))),
                ("replicas", json!(total)),
                ("updatedReplicas", json!(updated)),
                ("readyReplicas", json!(ready)),
                ("availableReplicas", json!(available)),
                ("unavailableReplicas", json!((replicas - available).max(0))),
            ],
            &[],
        );
        st.insert("conditions".into(), conds);
        self.set_status(DEPLOY, &d, Value::Object(st), agent);
    }

    fn sync_replicaset(&self, ns: &str, name: &str) {
        let Some(rs) = self.get(RS, ns, name) else {
            return;
        };
        let agent = "kube-controller-manager";
        let pods: Vec<Value> = self
            .owned(PODS, ns, &rs)
            .into_iter()
            .filter(pod_active)
            .collect();
        let want = i(&rs, "/spec/replicas");
        if !deleting(&rs) {
            let have = pods.len() as i64;
            let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
            for _ in have..want {
                let pod = self.new_pod(
                    &template,
                    json!({"generateName": format!("{name}-")}),
                    owner_ref("apps/v1", "ReplicaSet", &rs),
                    "",
                );
                self.create(PODS, ns, &pod, agent);
            }
            if have > want {
                // newest first, the way the controller picks pods to remove
                let mut extra = pods.clone();
                extra.sort_by_key(|p| {
                    std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_string())
                });
                for p in extra.iter().take((have - want) as usize) {
                    self.delete(&collection(PODS, ns), s(p, "/metadata/name"), "Background");
                }
            }
        }
        let Some(rs) = self.get(RS, ns, name) else {
            return;
        };
        let pods: Vec<Value> = self
            .owned(PODS, ns, &rs)
            .into_iter()
            .filter(pod_active)
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
        let st = status_obj(
            &[
                ("replicas", json!(pods.len())),
                ("fullyLabeledReplicas", json!(pods.len())),
                ("readyReplicas", json!(ready)),
                ("availableReplicas", json!(ready)),
                ("observedGeneration", json!(i(&rs, "/metadata/generation"))),
            ],
            &["replicas"],
        );
        self.set_status(RS, &rs, Value::Object(st), agent);
    }

    // --- StatefulSets --------------------------------------------------------------------------

    fn sync_statefulset(&self, ns: &str, name: &str) {
        let Some(sts) = self.get(STS, ns, name) else {
            return;
        };
        let agent = "kube-controller-manager";
        let replicas = sts
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let template = sts.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let revision = format!("{name}-{}", template_hash(&template));
        let pods: Vec<Value> = self.owned(PODS, ns, &sts);
        if !deleting(&sts) {
            for p in &pods {
                let pname = s(p, "/metadata/name");
                let idx: i64 = pname
                    .rsplit_once('-')
                    .and_then(|(_, n)| n.parse().ok())
                    .unwrap_or(i64::MAX);
                let stale = s(p, &format!("/metadata/labels/{REVISION_HASH}")) != revision;
                if !deleting(p) && (idx >= replicas || stale || !pod_active(p)) {
                    self.delete(&collection(PODS, ns), pname, "Background");
                }
            }
            let claims: Vec<Value> = sts
                .pointer("/spec/volumeClaimTemplates")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for ord in 0..replicas {
                let pname = format!("{name}-{ord}");
                let mut volumes: Vec<Value> = Vec::new();
                for c in &claims {
                    let cname = s(c, "/metadata/name");
                    let claim = format!("{cname}-{pname}");
                    volumes.push(
                        json!({"name": cname, "persistentVolumeClaim": {"claimName": claim}}),
                    );
                    if self.get(PVCS, ns, &claim).is_none() {
                        let mut pvc = c.clone();
                        pvc["apiVersion"] = json!("v1");
                        pvc["kind"] = json!("PersistentVolumeClaim");
                        let labels = template
                            .pointer("/metadata/labels")
                            .cloned()
                            .unwrap_or(json!({}));
                        pvc["metadata"] = json!({"name": claim, "namespace": ns, "labels": labels});
                        if let Some(o) = pvc.as_object_mut() {
                            o.remove("status");
                        }
                        self.create(PVCS, ns, &pvc, agent);
                    }
                }
                let ordered = s(&sts, "/spec/podManagementPolicy") != "Parallel";
                if let Some(p) = self.get(PODS, ns, &pname) {
                    // OrderedReady: the next pod waits for this one to be Ready
                    if ordered && !pod_ready(&p) {
                        break;
                    }
                    continue;
                }
                let mut t = template.clone();
                for (k, v) in [
                    (REVISION_HASH, revision.clone()),
                    ("statefulset.kubernetes.io/pod-name", pname.clone()),
                    ("apps.kubernetes.io/pod-index", ord.to_string()),
                ] {
                    ensure(&mut t, &["metadata", "labels", k], json!(v));
                }
                if !volumes.is_empty() {
                    let mut vs = t
                        .pointer("/spec/volumes")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    vs.extend(volumes);
                    t["spec"]["volumes"] = json!(vs);
                }
                let mut pod = self.new_pod(
                    &t,
                    json!({"name": pname}),
                    owner_ref("apps/v1", "StatefulSet", &sts),
                    "",
                );
                pod["spec"]["hostname"] = json!(pname);
                if let Some(svc) = sts.pointer("/spec/serviceName") {
                    pod["spec"]["subdomain"] = svc.clone();
                }
                self.create(PODS, ns, &pod, agent);
                // OrderedReady: one pod at a time; the next follows when this one's events arrive
                if ordered {
                    break;
                }
            }
        }
        let Some(sts) = self.get(STS, ns, name) else {
            return;
        };
        let pods: Vec<Value> = self
            .owned(PODS, ns, &sts)
            .into_iter()
            .filter(pod_active)
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
        let updated = pods
            .iter()
            .filter(|p| s(p, &format!("/metadata/labels/{REVISION_HASH}")) == revision)
            .count() as i64;
        let old_current = s(&sts, "/status/currentRevision");
        let current =
            if (updated == replicas && pods.len() as i64 == replicas) || old_current.is_empty() {
                revision.clone()
            } else {
                old_current.to_string()
            };
        let current_replicas = pods
            .iter()
            .filter(|p| s(p, &format!("/metadata/labels/{REVISION_HASH}")) == current)
            .count() as i64;
        let st = status_obj(
            &[
                ("observedGeneration", json!(i(&sts, "/metadata/generation"))),
                ("replicas", json!(pods.len())),
                ("readyReplicas", json!(ready)),
                ("currentReplicas", json!(current_replicas)),
                ("updatedReplicas", json!(updated)),
                ("availableReplicas", json!(ready)),
                ("currentRevision", json!(current)),
                ("updateRevision", json!(revision)),
                ("collisionCount", json!(0)),
            ],
            &["replicas", "availableReplicas", "collisionCount"],
        );
        self.set_status(STS, &sts, Value::Object(st), agent);
    }

    // --- DaemonSets ----------------------------------------------------------------------------

    fn sync_daemonset(&self, ns: &str, name: &str) {
        let Some(ds) = self.get(DS, ns, name) else {
            return;
        };
        let agent = "kube-controller-manager";
        let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let nodes: Vec<String> = self
            .list_all("/nodes")
            .iter()
            .filter(|n| schedulable_for(&template, n))
            .map(|n| s(n, "/metadata/name").to_string())
            .collect();
        let pods: Vec<Value> = self.owned(PODS, ns, &ds);
        if !deleting(&ds) {
            for p in &pods {
                let stale = s(p, &format!("/metadata/labels/{REVISION_HASH}")) != hash;
                let off = !nodes.iter().any(|n| n == s(p, "/spec/nodeName"));
                if !deleting(p) && (stale || off) {
                    self.delete(&collection(PODS, ns), s(p, "/metadata/name"), "Background");
                }
            }
            for node in &nodes {
                let has = pods.iter().any(|p| {
                    s(p, "/spec/nodeName") == node
                        && s(p, &format!("/metadata/labels/{REVISION_HASH}")) == hash
                        && !deleting(p)
                });
                if has {
                    continue;
                }
                let mut t = template.clone();
                ensure(&mut t, &["metadata", "labels", REVISION_HASH], json!(hash));
                ensure(
                    &mut t,
                    &["metadata", "labels", "pod-template-generation"],
                    json!(i(&ds, "/metadata/generation").to_string()),
                );
                let pod = self.new_pod(
                    &t,
                    json!({"generateName": format!("{name}-")}),
                    owner_ref("apps/v1", "DaemonSet", &ds),
                    node,
                );
                self.create(PODS, ns, &pod, agent);
            }
        }
        let Some(ds) = self.get(DS, ns, name) else {
            return;
        };
        let pods: Vec<Value> = self
            .owned(PODS, ns, &ds)
            .into_iter()
            .filter(pod_active)
            .filter(|p| nodes.iter().any(|n| n == s(p, "/spec/nodeName")))
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
        let updated = pods
            .iter()
            .filter(|p| s(p, &format!("/metadata/labels/{REVISION_HASH}")) == hash)
            .count() as i64;
        let desired = nodes.len() as i64;
        let st = status_obj(
            &[
                ("currentNumberScheduled", json!(pods.len())),
                ("numberMisscheduled", json!(0)),
                ("desiredNumberScheduled", json!(desired)),
                ("numberReady", json!(ready)),
                ("observedGeneration", json!(i(&ds, "/metadata/generation"))),
                ("updatedNumberScheduled", json!(updated)),
                ("numberAvailable", json!(ready)),
                ("numberUnavailable", json!((desired - ready).max(0))),
            ],
            &[
                "currentNumberScheduled",
                "numberMisscheduled",
                "desiredNumberScheduled",
                "numberReady",
            ],
        );
        self.set_status(DS, &ds, Value::Object(st), agent);
    }

    // --- Jobs ----------------------------------------------------------------------------------

    fn sync_job(&self, ns: &str, name: &str) {
        let Some(job) = self.get(JOBS, ns, name) else {
            return;
        };
        if deleting(&job) || job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let finished = job
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|c| {
                    matches!(s(c, "/type"), "Complete" | "Failed") && s(c, "/status") == "True"
                })
            });
        if finished {
            return;
        }
        let agent = "kube-controller-manager";
        let pods = self.owned(PODS, ns, &job);
        let succeeded = pods
            .iter()
            .filter(|p| s(p, "/status/phase") == "Succeeded")
            .count() as i64;
        let failed = pods
            .iter()
            .filter(|p| s(p, "/status/phase") == "Failed")
            .count() as i64;
        let active = pods.iter().filter(|p| pod_active(p)).count() as i64;
        let completions = job
            .pointer("/spec/completions")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let backoff = job
            .pointer("/spec/backoffLimit")
            .and_then(Value::as_i64)
            .unwrap_or(6);
        let t = now();
        let minor = self
            .core
            .git_version
            .read()
            .map(|g| {
                g.trim_start_matches('v')
                    .split('.')
                    .nth(1)
                    .and_then(|m| m.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        let start = job
            .pointer("/status/startTime")
            .cloned()
            .unwrap_or_else(|| json!(t));
        let old_conds = job
            .pointer("/status/conditions")
            .cloned()
            .unwrap_or(Value::Null);
        let mut status = Map::new();
        status.insert("startTime".into(), start);
        if succeeded >= completions {
            // https://kubernetes.io/docs/concepts/workloads/controllers/job/#termination-of-job-pods
            let msg = "Reached expected number of succeeded pods".to_string();
            let mut want = Vec::new();
            if minor >= 31 {
                want.push((
                    "SuccessCriteriaMet",
                    "True",
                    "CompletionsReached",
                    msg.clone(),
                ));
            }
            want.push(("Complete", "True", "CompletionsReached", msg));
            status.insert("conditions".into(), conditions(&old_conds, &want, &t, true));
            status.insert("completionTime".into(), json!(t));
            status.insert("succeeded".into(), json!(succeeded));
            if failed > 0 {
                status.insert("failed".into(), json!(failed));
            }
        } else if failed > backoff {
            let msg = "Job has reached the specified backoff limit".to_string();
            let mut want = Vec::new();
            if minor >= 31 {
                want.push(("FailureTarget", "True", "BackoffLimitExceeded", msg.clone()));
            }
            want.push(("Failed", "True", "BackoffLimitExceeded", msg));
            status.insert("conditions".into(), conditions(&old_conds, &want, &t, true));
            status.insert("failed".into(), json!(failed));
            if succeeded > 0 {
                status.insert("succeeded".into(), json!(succeeded));
            }
        } else {
            if active == 0 {
                let mut template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
                if s(
                    &job,
                    &format!("/metadata/annotations/{}", esc(FAIL_ANNOTATION)),
                ) == "true"
                {
                    ensure(
                        &mut template,
                        &["metadata", "annotations", FAIL_ANNOTATION],
                        json!("true"),
                    );
                }
                let pod = self.new_pod(
                    &template,
                    json!({"generateName": format!("{name}-")}),
                    owner_ref("batch/v1", "Job", &job),
                    "",
                );
                if self.create(PODS, ns, &pod, agent).is_some() {
                    return; // the pod's events bring the Job back here
                }
            }
            if let Some(c) = job.pointer("/status/conditions") {
                status.insert("conditions".into(), c.clone());
            }
            status.insert("active".into(), json!(active));
            if succeeded > 0 {
                status.insert("succeeded".into(), json!(succeeded));
            }
            if failed > 0 {
                status.insert("failed".into(), json!(failed));
            }
        }
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        status.insert("ready".into(), json!(ready));
        status.insert("terminating".into(), json!(0));
        status.insert("uncountedTerminatedPods".into(), json!({}));
        self.set_status(JOBS, &job, Value::Object(status), agent);
    }

    // --- Volumes -------------------------------------------------------------------------------

    /// Binds a claim: to the volume it names, else by dynamic provisioning through its
    /// StorageClass (immediately, or for `WaitForFirstConsumer` once a pod uses the claim). A
    /// named volume binds only when it is free or reserved for this claim (its `claimRef` is
    /// unset, or names this claim with no uid or this claim's uid); one still bound or
    /// `Released` to another claim leaves the claim Pending
    /// (<https://kubernetes.io/docs/concepts/storage/persistent-volumes/#reserving-a-persistentvolume>).
    /// A claim being deleted loses its protection finalizer once no pod uses it.
    fn sync_pvc(&self, ns: &str, name: &str) {
        let Some(pvc) = self.get(PVCS, ns, name) else {
            return;
        };
        if deleting(&pvc) {
            if !self.claim_in_use(ns, name) {
                self.lift_protection(PVCS, &pvc, PVC_PROTECTION);
            }
            return;
        }
        if s(&pvc, "/status/phase") == "Bound" {
            return;
        }
        let agent = "kube-controller-manager";
        let pending = |pvc: &Value| {
            if s(pvc, "/status/phase").is_empty() {
                self.set_status(PVCS, pvc, json!({"phase": "Pending"}), agent);
            }
        };
        let class_name = s(&pvc, "/spec/storageClassName").to_string();
        let request = s(&pvc, "/spec/resources/requests/storage").to_string();
        let mut volume_name = s(&pvc, "/spec/volumeName").to_string();
        let mut provisioner = String::new();
        if volume_name.is_empty() {
            let Some(class) = self.get(
                Res {
                    key: "storage.k8s.io/storageclasses",
                    prefix: "/apis/storage.k8s.io/v1",
                    plural: "storageclasses",
                },
                "",
                &class_name,
            ) else {
                pending(&pvc);
                return;
            };
            if s(&class, "/volumeBindingMode") == "WaitForFirstConsumer"
                && !self.claim_in_use(ns, name)
            {
                pending(&pvc);
                return;
            }
            provisioner = s(&class, "/provisioner").to_string();
            volume_name = format!("pvc-{}", uid(&pvc));
            let reclaim = class
                .get("reclaimPolicy")
                .and_then(Value::as_str)
                .unwrap_or("Delete");
            if self.get(PVS, "", &volume_name).is_none() {
                let pv = json!({
                    "apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": volume_name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner}},
                    "spec": {
                        "capacity": {"storage": request},
                        "accessModes": pvc.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
                        "persistentVolumeReclaimPolicy": reclaim,
                        "storageClassName": class_name,
                        "volumeMode": pvc.pointer("/spec/volumeMode").cloned().unwrap_or(json!("Filesystem")),
                        "csi": {"driver": provisioner, "volumeHandle": volume_name},
                        "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns, "name": name, "uid": uid(&pvc)},
                    },
                });
                self.create(PVS, "", &pv, agent);
            }
        }
        let Some(mut pv) = self.get(PVS, "", &volume_name) else {
            pending(&pvc);
            return;
        };
        let claim_ref = pv.pointer("/spec/claimRef").filter(|r| r.is_object());
        let ref_uid = claim_ref.map(|r| s(r, "/uid")).unwrap_or_default();
        let reserved = claim_ref.is_none_or(|r| {
            s(r, "/namespace") == ns
                && s(r, "/name") == name
                && (ref_uid.is_empty() || ref_uid == uid(&pvc))
        });
        if deleting(&pv) || !reserved {
            pending(&pvc);
            return;
        }
        if ref_uid.is_empty() {
            let claim = json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns, "name": name, "uid": uid(&pvc)});
            match self.merge(
                &path(PVS, "", &volume_name),
                &json!({"spec": {"claimRef": claim}}),
                agent,
            ) {
                Some(v) => pv = v,
                None => return,
            }
        }
        self.set_status(
            PVS,
            &pv,
            json!({"phase": "Bound", "lastPhaseTransitionTime": now()}),
            agent,
        );
        let mut ann = json!({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"});
        if !provisioner.is_empty() {
            ann["volume.beta.kubernetes.io/storage-provisioner"] = json!(provisioner);
            ann["volume.kubernetes.io/storage-provisioner"] = json!(provisioner);
        }
        let Some(pvc) = self.merge(
            &path(PVCS, ns, name),
            &json!({"metadata": {"annotations": ann}, "spec": {"volumeName": volume_name}}),
            agent,
        ) else {
            return;
        };
        let capacity = pv.pointer("/spec/capacity").cloned().unwrap_or(json!({}));
        self.set_status(
            PVCS,
            &pvc,
            json!({"phase": "Bound", "accessModes": pv.pointer("/spec/accessModes").cloned().unwrap_or(json!([])), "capacity": capacity}),
            agent,
        );
    }

    /// True while a pod that has not terminated uses the claim.
    fn claim_in_use(&self, ns: &str, name: &str) -> bool {
        self.list(PODS.key, ns).iter().any(|p| {
            !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
                && p.pointer("/spec/volumes")
                    .and_then(Value::as_array)
                    .is_some_and(|v| {
                        v.iter()
                            .any(|v| s(v, "/persistentVolumeClaim/claimName") == name)
                    })
        })
    }

    /// Storage object in use protection
    /// (<https://kubernetes.io/docs/concepts/storage/persistent-volumes/#storage-object-in-use-protection>):
    /// drops `finalizer` from an object being deleted, so the delete completes.
    fn lift_protection(&self, r: Res, obj: &Value, finalizer: &str) {
        let all: Vec<Value> = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let rest: Vec<&Value> = all.iter().filter(|f| *f != finalizer).collect();
        if rest.len() == all.len() {
            return;
        }
        self.merge(
            &path(r, s(obj, "/metadata/namespace"), s(obj, "/metadata/name")),
            &json!({"metadata": {"finalizers": rest, "resourceVersion": s(obj, "/metadata/resourceVersion")}}),
            "kube-controller-manager",
        );
    }

    /// A volume being deleted loses its protection finalizer once it is no longer Bound; a
    /// changed one (e.g. its `claimRef` cleared for a claim) is offered to the claims waiting for
    /// it by name.
    fn sync_pv(&self, name: &str) {
        let Some(pv) = self.get(PVS, "", name) else {
            return;
        };
        if deleting(&pv) {
            if s(&pv, "/status/phase") != "Bound" {
                self.lift_protection(PVS, &pv, PV_PROTECTION);
            }
            return;
        }
        for c in self.list_all(PVCS.key) {
            if s(&c, "/spec/volumeName") == name && s(&c, "/status/phase") != "Bound" {
                self.sync_pvc(s(&c, "/metadata/namespace"), s(&c, "/metadata/name"));
            }
        }
    }

    /// A deleted claim's volume: `Released`, then deleted when its reclaim policy is `Delete`.
    fn release_volume(&self, pvc: &Value) {
        for pv in self.list_all(PVS.key) {
            if s(&pv, "/spec/claimRef/uid") != uid(pvc) || s(&pv, "/status/phase") == "Released" {
                continue;
            }
            self.set_status(
                PVS,
                &pv,
                json!({"phase": "Released", "lastPhaseTransitionTime": now()}),
                "kube-controller-manager",
            );
            if s(&pv, "/spec/persistentVolumeReclaimPolicy") == "Delete" {
                self.delete(
                    "/api/v1/persistentvolumes",
                    s(&pv, "/metadata/name"),
                    "Background",
                );
            }
        }
    }

    // --- Garbage collection --------------------------------------------------------------------

    /// Objects (in `ns` and cluster-scoped, or everywhere for a cluster-scoped owner) whose
    /// ownerReferences name `owner_uid`: `(store key, object)`.
    fn dependents(&self, ns: &str, owner_uid: &str) -> Vec<(String, Value)> {
        if owner_uid.is_empty() {
            return Vec::new();
        }
        let st = self.store();
        let mut out = Vec::new();
        for (key, m) in &st.objects {
            let mut scan = |o: &Arc<Stored>| {
                if owner_refs(&o.value)
                    .iter()
                    .any(|r| s(r, "/uid") == owner_uid)
                {
                    out.push((key.clone(), o.value.clone()));
                }
            };
            if ns.is_empty() {
                m.values().for_each(&mut scan);
            } else {
                m.range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .for_each(|(_, o)| scan(o));
            }
        }
        out
    }

    fn find_uid(&self, ns: &str, u: &str) -> Option<(String, Value)> {
        if u.is_empty() {
            return None;
        }
        let st = self.store();
        for (key, m) in &st.objects {
            for ((ons, _), o) in m.iter() {
                if (ons == ns || ons.is_empty()) && uid(&o.value) == u {
                    return Some((key.clone(), o.value.clone()));
                }
            }
        }
        None
    }

    /// After an owner is gone: its dependents with no other live owner are deleted (in the
    /// background); the others lose the dangling reference.
    fn collect_dependents(&self, owner: &Value) {
        let ns = s(owner, "/metadata/namespace");
        let gone_uid = uid(owner);
        for (key, dep) in self.dependents(ns, gone_uid) {
            let dns = s(&dep, "/metadata/namespace").to_string();
            let live: Vec<Value> = owner_refs(&dep)
                .iter()
                .filter(|r| s(r, "/uid") != gone_uid && self.find_uid(&dns, s(r, "/uid")).is_some())
                .cloned()
                .collect();
            let Some(p) = self.obj_path(&key, &dep) else {
                continue;
            };
            if live.is_empty() {
                if !deleting(&dep) {
                    let (base, n) = p.rsplit_once('/').unwrap_or((&p, ""));
                    self.delete(base, n, "Background");
                }
            } else {
                self.merge(
                    &p,
                    &json!({"metadata": {"ownerReferences": live}}),
                    "kube-controller-manager",
                );
            }
        }
    }

    /// An owner being deleted with the `orphan` or `foregroundDeletion` finalizer: orphan its
    /// dependents, or delete them (in the foreground) and wait for the blocking ones, then drop
    /// the finalizer so the delete completes.
    fn finish_owner(&self, key: &str, owner: &Value) {
        let finalizers: Vec<String> = owner
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|f| {
                f.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let orphan = finalizers.iter().any(|f| f == "orphan");
        let foreground = finalizers.iter().any(|f| f == "foregroundDeletion");
        if !orphan && !foreground {
            return;
        }
        let ns = s(owner, "/metadata/namespace");
        let ouid = uid(owner);
        let agent = "kube-controller-manager";
        let deps = self.dependents(ns, ouid);
        let mut done = true;
        for (dkey, dep) in &deps {
            let Some(p) = self.obj_path(dkey, dep) else {
                continue;
            };
            if orphan {
                let rest: Vec<Value> = owner_refs(dep)
                    .iter()
                    .filter(|r| s(r, "/uid") != ouid)
                    .cloned()
                    .collect();
                self.merge(&p, &json!({"metadata": {"ownerReferences": rest}}), agent);
            } else {
                let blocks = owner_refs(dep).iter().any(|r| {
                    s(r, "/uid") == ouid
                        && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
                });
                if !deleting(dep) {
                    let policy = if self
                        .dependents(s(dep, "/metadata/namespace"), uid(dep))
                        .is_empty()
                    {
                        "Background"
                    } else {
                        "Foreground"
                    };
                    let (base, n) = p.rsplit_once('/').unwrap_or((&p, ""));
                    self.delete(base, n, policy);
                }
                if blocks && self.find_uid(ns, uid(dep)).is_some() {
                    done = false;
                }
            }
        }
        if !done {
            return;
        }
        let rest: Vec<&String> = finalizers
            .iter()
            .filter(|f| *f != "orphan" && *f != "foregroundDeletion")
            .collect();
        // re-read: the owner may have changed while its dependents were handled
        let Some(p) = self.obj_path(key, owner) else {
            return;
        };
        let rv = self
            .find_uid(ns, ouid)
            .map(|(_, o)| s(&o, "/metadata/resourceVersion").to_string())
            .unwrap_or_default();
        self.merge(
            &p,
            &json!({"metadata": {"finalizers": rest, "resourceVersion": rv}}),
            agent,
        );
    }
}

/// Whether a DaemonSet's pod template may run on a node: its nodeSelector matches, and every
/// NoSchedule/NoExecute taint is tolerated.
fn schedulable_for(template: &Value, node: &Value) -> bool {
    if let Some(sel) = template
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
    {
        for (k, v) in sel {
            if node.pointer(&format!("/metadata/labels/{}", esc(k))) != Some(v) {
                return false;
            }
        }
    }
    let tolerations: Vec<Value> = template
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| matches!(s(t, "/effect"), "NoSchedule" | "NoExecute"))
        .all(|t| {
            tolerations.iter().any(|tol| {
                let key_ok = s(tol, "/key").is_empty() && s(tol, "/operator") == "Exists"
                    || s(tol, "/key") == s(t, "/key")
                        && (s(tol, "/operator") == "Exists" || s(tol, "/value") == s(t, "/value"));
                let effect_ok =
                    s(tol, "/effect").is_empty() || s(tol, "/effect") == s(t, "/effect");
                key_ok && effect_ok
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_key_order_free() {
        let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c"}]}});
        let b = json!({"spec": {"containers": [{"name": "c"}]}, "metadata": {"labels": {"b": "2", "a": "1"}}});
        assert_eq!(template_hash(&a), template_hash(&b));
        let c = json!({"metadata": {"labels": {"a": "1", "b": "3"}}, "spec": {"containers": [{"name": "c"}]}});
        assert_ne!(template_hash(&a), template_hash(&c));
        assert!(
            template_hash(&a)
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
    }

    #[test]
    fn delete_policy_finalizers_and_defaults_per_kind() {
        let reg = crate::registry::Registry::builtin();
        let def = |g: &str, p: &str| {
            reg.all()
                .iter()
                .find(|d| d.group == g && d.plural == p)
                .cloned()
                .unwrap()
        };
        let req = |q: &str, body: &str| {
            ApiRequest::new("DELETE", &format!("/x{q}"))
                .with_body("application/json", body.as_bytes().to_vec())
        };
        let deploy = def("apps", "deployments");
        let job = def("batch", "jobs");
        let rc = def("", "replicationcontrollers");
        let fg = req("", r#"{"propagationPolicy":"Foreground"}"#);
        assert_eq!(gc_finalizer(&deploy, &fg), Some("foregroundDeletion"));
        assert_eq!(
            gc_finalizer(&deploy, &req("?propagationPolicy=Orphan", "")),
            Some("orphan")
        );
        assert_eq!(
            gc_finalizer(&deploy, &req("", r#"{"orphanDependents":true}"#)),
            Some("orphan")
        );
        assert_eq!(gc_finalizer(&deploy, &req("", "")), None);
        assert_eq!(gc_finalizer(&job, &req("", "")), Some("orphan"));
        assert_eq!(gc_finalizer(&rc, &req("", "")), Some("orphan"));
        let bg = req("", r#"{"propagationPolicy":"Background"}"#);
        assert_eq!(gc_finalizer(&job, &bg), None);
        assert_eq!(gc_finalizer(&def("", "namespaces"), &fg), None);
    }

    #[test]
    fn scaled_int_or_percent() {
        assert_eq!(scaled(Some(&json!("25%")), 4, false, 0), 1);
        assert_eq!(scaled(Some(&json!("25%")), 3, true, 0), 1);
        assert_eq!(scaled(Some(&json!("25%")), 3, false, 0), 0);
        assert_eq!(scaled(Some(&json!(2)), 3, false, 0), 2);
        assert_eq!(scaled(None, 3, false, 7), 7);
    }

    #[test]
    fn taints_need_tolerations() {
        let node = json!({"metadata": {"labels": {"role": "cp"}}, "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}});
        assert!(!schedulable_for(&json!({"spec": {}}), &node));
        assert!(schedulable_for(
            &json!({"spec": {"tolerations": [{"operator": "Exists"}]}}),
            &node
        ));
        assert!(schedulable_for(
            &json!({"spec": {"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}}),
            &node
        ));
        assert!(!schedulable_for(
            &json!({"spec": {"nodeSelector": {"role": "worker"}, "tolerations": [{"operator": "Exists"}]}}),
            &node
        ));
    }
}
