//! The request handler: routing, authorization and the verbs (get, list, watch, create,
//! update, patch, delete, deletecollection) with the kube-apiserver's semantics. It is
//! synchronous and transport-free: HTTP requests, scenario loading and the library helpers all
//! go through [`Core::handle`]. Watches return a [`WatchPlan`] that the server streams.

use crate::auth::{self, Attributes, User};
use crate::discovery;
use crate::error::{ApiError, ApiResult};
use crate::patch;
use crate::registry::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Event, Store, Stored};
use crate::table;
use base64::Engine;
use hyper::body::Bytes;
use serde_json::{Map, Value, json};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// A transport-independent API request.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// HTTP method (`GET`, `POST`, ...).
    pub method: String,
    /// URL path.
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    /// `Content-Type` header.
    pub content_type: String,
    /// `Accept` header.
    pub accept: String,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Request body.
    pub body: Bytes,
    /// The authenticated (possibly impersonated) user.
    pub user: Option<User>,
}

impl ApiRequest {
    /// A request as the built-in admin.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, q) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        ApiRequest {
            method: method.into(),
            path: path.into(),
            query: parse_query(q),
            content_type: "application/json".into(),
            accept: "application/json".into(),
            user_agent: "kubesim".into(),
            body: Bytes::new(),
            user: Some(User::admin()),
        }
    }

    /// Sets the body and content type.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.content_type = content_type.into();
        self.body = body.into();
        self
    }

    /// A query parameter.
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'+' {
            out.push(b' ');
            i += 1;
            continue;
        }
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

/// A response body: bytes, or a watch to stream.
pub enum ApiBody {
    /// A complete body.
    Bytes(Bytes),
    /// A watch stream.
    Watch(Box<WatchPlan>),
}

/// A transport-independent response.
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: ApiBody,
    /// `Retry-After` seconds.
    pub retry_after: Option<u32>,
}

impl ApiResponse {
    fn json(status: u16, v: &Value) -> Self {
        ApiResponse {
            status,
            content_type: "application/json".into(),
            body: ApiBody::Bytes(Bytes::from(serde_json::to_vec(v).unwrap_or_default())),
            retry_after: None,
        }
    }

    fn bytes(status: u16, b: Bytes) -> Self {
        ApiResponse {
            status,
            content_type: "application/json".into(),
            body: ApiBody::Bytes(b),
            retry_after: None,
        }
    }

    /// The error response for an [`ApiError`].
    pub fn error(e: &ApiError) -> Self {
        let mut r = Self::json(e.code, &e.to_status());
        r.retry_after = e.retry_after;
        r
    }

    /// The body bytes (empty for a watch).
    pub fn body_bytes(&self) -> Bytes {
        match &self.body {
            ApiBody::Bytes(b) => b.clone(),
            ApiBody::Watch(_) => Bytes::new(),
        }
    }
}

/// How objects are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Full objects.
    Full,
    /// `PartialObjectMetadata`.
    Meta,
    /// `meta.k8s.io/v1` Table.
    Table,
}

/// Everything a watch stream needs: initial events and a live receiver with its filter.
pub struct WatchPlan {
    /// Lines to send first.
    pub initial: Vec<Bytes>,
    /// Live events.
    pub rx: broadcast::Receiver<Arc<Event>>,
    /// Filter and renderer for live events.
    pub filter: WatchFilter,
    /// End the stream after this long.
    pub timeout: Option<Duration>,
    /// Send periodic BOOKMARK events.
    pub bookmarks: bool,
    /// resourceVersion of the last state sent.
    pub rv: u64,
}

/// Selects and renders the events of one watch.
pub struct WatchFilter {
    def: Arc<ResourceDef>,
    version: String,
    ns: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    form: Form,
    include: String,
    /// Stream protobuf frames instead of JSON lines.
    proto: bool,
}

impl WatchFilter {
    /// The event line for an event, if it passes the filter.
    pub fn render(&self, ev: &Event) -> Option<Bytes> {
        if ev.key != self.def.key() {
            return None;
        }
        let o = &ev.obj.value;
        if let Some(ns) = &self.ns
            && o.pointer("/metadata/namespace").and_then(Value::as_str) != Some(ns.as_str())
        {
            return None;
        }
        if let Some(n) = &self.name
            && o.pointer("/metadata/name").and_then(Value::as_str) != Some(n.as_str())
        {
            return None;
        }
        if !self.labels.matches(o) || !self.fields.matches(o) {
            return None;
        }
        Some(self.line(ev.kind, &ev.obj))
    }

    fn line(&self, kind: &str, obj: &Arc<Stored>) -> Bytes {
        let line = self.json_line(kind, obj);
        if self.proto {
            return self.to_frame(&line);
        }
        line
    }

    /// Re-encodes a JSON event line as a protobuf watch frame.
    fn to_frame(&self, line: &[u8]) -> Bytes {
        let ev: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
        let ty = ev["type"].as_str().unwrap_or("ERROR");
        match crate::proto::watch_frame(ty, &ev["object"]) {
            Ok(f) => Bytes::from(f),
            Err(e) => {
                let st = ApiError::internal(e.to_string()).to_status();
                Bytes::from(crate::proto::watch_frame("ERROR", &st).unwrap_or_default())
            }
        }
    }

    /// An ERROR event carrying a Status.
    pub fn error_line(&self, status: &Value) -> Bytes {
        let mut line =
            serde_json::to_vec(&json!({"type": "ERROR", "object": status})).unwrap_or_default();
        line.push(b'\n');
        if self.proto {
            return self.to_frame(&line);
        }
        Bytes::from(line)
    }

    fn json_line(&self, kind: &str, obj: &Arc<Stored>) -> Bytes {
        let mut out = Vec::with_capacity(obj.json.len() + 40);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        match self.form {
            Form::Full => out.extend_from_slice(&versioned_json(obj, &self.def, &self.version)),
            Form::Meta => out.extend_from_slice(
                &serde_json::to_vec(&table::partial_metadata(&obj.value)).unwrap_or_default(),
            ),
            Form::Table => {
                let t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": obj.rv.to_string()},
                    "columnDefinitions": table::column_definitions(&self.def), "rows": [table::row(&self.def, &obj.value, &self.include)]});
                out.extend_from_slice(&serde_json::to_vec(&t).unwrap_or_default());
            }
        }
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    /// A BOOKMARK event line.
    pub fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let o = json!({"type": "BOOKMARK", "object": {"kind": self.def.kind, "apiVersion": self.def.api_version(&self.version), "metadata": meta}});
        let mut v = serde_json::to_vec(&o).unwrap_or_default();
        v.push(b'\n');
        if self.proto {
            return self.to_frame(&v);
        }
        Bytes::from(v)
    }
}

/// The JSON of a stored object as the requested version (CRDs with several versions).
fn versioned_json(obj: &Arc<Stored>, def: &ResourceDef, version: &str) -> Bytes {
    let want = def.api_version(version);
    if obj.value.get("apiVersion").and_then(Value::as_str) == Some(want.as_str()) {
        return obj.json.clone();
    }
    let mut v = obj.value.clone();
    v["apiVersion"] = json!(want);
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn versioned(v: &Value, def: &ResourceDef, version: &str) -> Value {
    let mut v = v.clone();
    if v.is_object() {
        v["apiVersion"] = json!(def.api_version(version));
    }
    v
}

/// Re-encodes a JSON response as protobuf when the client asked for protobuf first and the
/// object's kind has a protobuf form (built-in kinds, Status, lists). Custom resources stay JSON,
/// or get 406 when the client accepts nothing else, as on a real server.
fn negotiate(accept: &str, resp: ApiResponse) -> ApiResponse {
    if !crate::proto::wants_proto(accept) || resp.content_type != "application/json" {
        return resp;
    }
    let ApiBody::Bytes(b) = &resp.body else {
        return resp;
    };
    let v: Value = match serde_json::from_slice(b) {
        Ok(v) => v,
        Err(_) => return resp,
    };
    match crate::proto::encode_object(&v) {
        Some(Ok(pb)) => ApiResponse {
            status: resp.status,
            content_type: crate::proto::MEDIA_TYPE.into(),
            body: ApiBody::Bytes(Bytes::from(pb)),
            retry_after: resp.retry_after,
        },
        Some(Err(e)) => ApiResponse::error(&ApiError::internal(e.to_string())),
        None if crate::proto::only_proto(accept)
            && v.get("apiVersion").is_some()
            && v.get("kind").is_some() =>
        {
            let e = ApiError::new(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json, application/yaml",
            );
            let mut r = ApiResponse::error(&e);
            r.retry_after = resp.retry_after;
            r
        }
        None => resp,
    }
}

/// Current time as the API formats it.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Parsed resource path.
#[derive(Debug, Clone, Default)]
struct ResPath {
    group: String,
    version: String,
    ns: Option<String>,
    plural: String,
    name: Option<String>,
    sub: Option<String>,
    watch_path: bool,
}

enum Route {
    Version,
    Health,
    Api,
    Apis,
    Group(String),
    GroupVersion(String, String),
    OpenApiV3Root,
    OpenApiV3(String, String),
    OpenApiV2,
    Resource(ResPath),
    NotFound,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz"] | ["readyz"] | ["livez"] => Route::Health,
        [h, ..] if *h == "healthz" || *h == "readyz" || *h == "livez" => Route::Health,
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["api", "v1"] => Route::GroupVersion(String::new(), "v1".into()),
        ["apis", g] => Route::Group(g.to_string()),
        ["apis", g, v] => Route::GroupVersion(g.to_string(), v.to_string()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", "api", "v1"] => Route::OpenApiV3(String::new(), "v1".into()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3(g.to_string(), v.to_string()),
        ["api", "v1", rest @ ..] => res_path("", "v1", rest),
        ["apis", g, v, rest @ ..] => res_path(g, v, rest),
        _ => Route::NotFound,
    }
}

fn res_path(group: &str, version: &str, rest: &[&str]) -> Route {
    let mut rest = rest;
    let mut watch_path = false;
    if rest.first() == Some(&"watch") {
        watch_path = true;
        rest = &rest[1..];
    }
    let mut p = ResPath {
        group: group.into(),
        version: version.into(),
        watch_path,
        ..Default::default()
    };
    match rest {
        ["namespaces", ns, res, tail @ ..]
            if !(tail.is_empty() && (*res == "status" || *res == "finalize")) =>
        {
            p.ns = Some(ns.to_string());
            p.plural = res.to_string();
            match tail {
                [] => {}
                [n] => p.name = Some(n.to_string()),
                [n, s] => {
                    p.name = Some(n.to_string());
                    p.sub = Some(s.to_string());
                }
                _ => return Route::NotFound,
            }
        }
        [res] => p.plural = res.to_string(),
        [res, n] => {
            p.plural = res.to_string();
            p.name = Some(n.to_string());
        }
        [res, n, s] => {
            p.plural = res.to_string();
            p.name = Some(n.to_string());
            p.sub = Some(s.to_string());
        }
        _ => return Route::NotFound,
    }
    Route::Resource(p)
}

/// The aggregated discovery version the client asked for first (`v2` or `v2beta1`), if any.
fn discovery_version(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=APIGroupDiscoveryList") && p.contains("g=apidiscovery.k8s.io") {
            if p.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if p.contains("v=v2;") || p.ends_with("v=v2") {
                return Some("v2");
            }
        } else if p.starts_with("application/json") {
            return None;
        }
    }
    None
}

fn accept_form(accept: &str) -> Form {
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=Table") {
            return Form::Table;
        }
        if p.contains("as=PartialObjectMetadata") {
            return Form::Meta;
        }
        if p.starts_with("application/json")
            || p.starts_with("*/*")
            || p.starts_with("application/yaml")
        {
            return Form::Full;
        }
    }
    Form::Full
}

fn dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn dns1123_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && dns1123_subdomain(name)
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn validate_name(def: &ResourceDef, name: &str) -> ApiResult<()> {
    let bad = |msg: &str| {
        Err(ApiError::invalid(
            &def.kind,
            &def.group,
            name,
            "metadata.name",
            "FieldValueInvalid",
            &format!("Invalid value: \"{name}\": {msg}"),
        ))
    };
    if def.group == "rbac.authorization.k8s.io" {
        if name == "." || name == ".." || name.contains('/') || name.contains('%') {
            return bad("may not contain '/' or '%'");
        }
        return Ok(());
    }
    if def.plural == "namespaces" {
        if !dns1123_label(name) {
            return bad(LABEL_MSG);
        }
    } else if !dns1123_subdomain(name) {
        return bad(SUBDOMAIN_MSG);
    }
    Ok(())
}

fn random_suffix() -> String {
    const CH: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| CH[(*b as usize) % CH.len()] as char)
        .collect()
}

fn meta_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let Value::Object(o) = v else {
        unreachable!("made an object above")
    };
    let m = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    let Value::Object(m) = m else {
        unreachable!("made an object above")
    };
    m
}

/// Sets a nested field, creating (or replacing non-object) parents.
fn set_in(v: &mut Value, path: &[&str], val: Value) {
    let mut cur = v;
    for (i, k) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(o) = cur else { return };
        if i + 1 == path.len() {
            o.insert(k.to_string(), val);
            return;
        }
        cur = o
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn meta_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get("metadata")
        .and_then(|m| m.get(k))
        .and_then(Value::as_str)
}

/// Strips fields that do not count as a change (resourceVersion, managedFields).
fn comparable(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    c
}

fn spec_part(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    c
}

fn parse_body(req: &ApiRequest) -> ApiResult<Value> {
    if req.body.is_empty() {
        return Err(ApiError::bad_request("the body of the request was empty"));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(v) => Ok(v),
        Err(je) => {
            let s = std::str::from_utf8(&req.body)
                .map_err(|_| ApiError::bad_request("the body is not valid UTF-8"))?;
            if req.content_type.contains("yaml") || !s.trim_start().starts_with(['{', '[']) {
                serde_saphyr::from_str::<Value>(s)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
            } else {
                Err(ApiError::bad_request(format!(
                    "Object 'Kind' is missing in '{s}': {je}"
                )))
            }
        }
    }
}

fn status_success(details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("{ns}/{name}\u{0}"),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(s: &str) -> ApiResult<(String, String)> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {s}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = t.start.trim_end_matches('\u{0}');
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

/// The API core: state plus settings. Cheap to share behind an `Arc`.
pub struct Core {
    /// All objects and the registry.
    pub store: RwLock<Store>,
    /// `gitVersion` reported by `/version`.
    pub git_version: RwLock<String>,
    /// Server address for `/api` (host:port).
    pub addr: RwLock<String>,
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

/// Context of one write.
struct WriteCtx<'a> {
    manager: String,
    dry_run: bool,
    time: String,
    req: &'a ApiRequest,
}

impl Core {
    /// A core with the built-in resources and no objects.
    pub fn new() -> Self {
        Core {
            store: RwLock::new(Store::new()),
            git_version: RwLock::new("v1.30.6".into()),
            addr: RwLock::new("127.0.0.1:6443".into()),
        }
    }

    /// Claims a version (`/version`) and serves the built-in group-versions of its minor.
    pub fn set_git_version(&self, git_version: &str) {
        if let Ok(mut gv) = self.git_version.write() {
            *gv = git_version.to_string();
        }
        self.write()
            .registry
            .set_minor(crate::registry::minor_of(git_version));
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles one request. Never panics on bad input: every failure is a Status response.
    pub fn handle(&self, req: &ApiRequest) -> ApiResponse {
        let decoded;
        let req = if req.content_type.starts_with(crate::proto::MEDIA_TYPE) && !req.body.is_empty()
        {
            match crate::proto::decode_object(&req.body) {
                Ok((v, _, _)) => {
                    let mut r = req.clone();
                    r.content_type = "application/json".into();
                    r.body = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
                    decoded = r;
                    &decoded
                }
                Err(e) => {
                    let e = ApiError::new(415, "UnsupportedMediaType", e.to_string());
                    return negotiate(&req.accept, ApiResponse::error(&e));
                }
            }
        } else {
            req
        };
        let resp = match self.dispatch(req) {
            Ok(r) => r,
            Err(e) => ApiResponse::error(&e),
        };
        negotiate(&req.accept, resp)
    }

    fn dispatch(&self, req: &ApiRequest) -> ApiResult<ApiResponse> {
        let user = req.user.clone().ok_or_else(ApiError::unauthorized)?;
        let r = route(&req.path);
        if !matches!(r, Route::Resource(_)) && req.method != "GET" && req.method != "HEAD" {
            return Err(ApiError::method_not_allowed());
        }
        let aggregated = discovery_version(&req.accept);
        match r {
            Route::Version => {
                let gv = self
                    .git_version
                    .read()
                    .map(|g| g.clone())
                    .unwrap_or_default();
                let trimmed = gv.trim_start_matches('v');
                let mut parts = trimmed.split(['.', '-', '+']);
                let major = parts.next().unwrap_or("1").to_string();
                let minor = parts.next().unwrap_or("0").to_string();
                Ok(ApiResponse::json(
                    200,
                    &json!({"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                        "minCompatibilityMajor": major, "minCompatibilityMinor": minor.parse::<u32>().map(|m| m.saturating_sub(1).to_string()).unwrap_or_default(),
                        "gitVersion": gv, "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                        "buildDate": "2024-10-22T20:26:20Z", "goVersion": "go1.22.8", "compiler": "gc", "platform": "linux/amd64"}),
                ))
            }
            Route::Health => Ok(ApiResponse {
                status: 200,
                content_type: "text/plain; charset=utf-8".into(),
                body: ApiBody::Bytes(Bytes::from_static(b"ok")),
                retry_after: None,
            }),
            Route::Api if aggregated.is_some() => {
                Ok(self.aggregated(true, aggregated.unwrap_or("v2")))
            }
            Route::Apis if aggregated.is_some() => {
                Ok(self.aggregated(false, aggregated.unwrap_or("v2")))
            }
            Route::Api => {
                let addr = self.addr.read().map(|a| a.clone()).unwrap_or_default();
                Ok(ApiResponse::json(200, &discovery::api_versions(&addr)))
            }
            Route::Apis => Ok(ApiResponse::json(
                200,
                &discovery::api_group_list(&self.read().registry),
            )),
            Route::Group(g) => discovery::api_group(&self.read().registry, &g)
                .map(|v| ApiResponse::json(200, &v))
                .ok_or_else(ApiError::no_route),
            Route::GroupVersion(g, v) => discovery::resource_list(&self.read().registry, &g, &v)
                .map(|v| ApiResponse::json(200, &v))
                .ok_or_else(ApiError::no_route),
            Route::OpenApiV3Root => {
                let st = self.read();
                Ok(ApiResponse::json(
                    200,
                    &discovery::openapi_v3_root(&st.registry, st.registry.all().len() as u64),
                ))
            }
            Route::OpenApiV3(g, v) => {
                let gv = self
                    .git_version
                    .read()
                    .map(|g| g.clone())
                    .unwrap_or_default();
                discovery::openapi_v3_gv(&self.read().registry, &g, &v, &gv)
                    .map(|v| ApiResponse::json(200, &v))
                    .ok_or_else(ApiError::no_route)
            }
            Route::OpenApiV2 => {
                let gv = self
                    .git_version
                    .read()
                    .map(|g| g.clone())
                    .unwrap_or_default();
                let (body, content_type) =
                    discovery::openapi_v2(&gv, req.accept.contains("protobuf"));
                let mut r = ApiResponse::bytes(200, Bytes::from(body));
                r.content_type = content_type.into();
                Ok(r)
            }
            Route::NotFound => Err(ApiError::no_route()),
            Route::Resource(p) => self.resource(req, &user, p),
        }
    }

    fn aggregated(&self, core: bool, version: &str) -> ApiResponse {
        let mut v = discovery::aggregated(&self.read().registry, core);
        v["apiVersion"] = json!(format!("apidiscovery.k8s.io/{version}"));
        let mut r = ApiResponse::json(200, &v);
        r.content_type =
            format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
        r
    }

    fn resource(&self, req: &ApiRequest, user: &User, p: ResPath) -> ApiResult<ApiResponse> {
        let def = self
            .read()
            .registry
            .find(&p.group, &p.version, &p.plural)
            .ok_or_else(ApiError::no_route)?;
        if (!def.namespaced && p.ns.is_some())
            || (def.namespaced && p.ns.is_none() && p.name.is_some())
        {
            return Err(ApiError::no_route());
        }
        let name = p.name.clone().unwrap_or_default();
        let ns = p.ns.clone().unwrap_or_default();
        if let Some(sub) = &p.sub {
            let ok = match sub.as_str() {
                "status" => def.status,
                "scale" => def.scale,
                "eviction" => def.eviction,
                // Pods only (the flag that marks pods), read-only.
                "log" => def.eviction && req.method == "GET",
                _ => false,
            };
            if !ok {
                return Err(ApiError::not_found(&def.plural, &def.group, &name));
            }
        }
        let watch = p.watch_path || matches!(req.q("watch"), Some("true") | Some("1"));
        let verb = match (req.method.as_str(), p.name.is_some()) {
            ("GET", _) if watch => "watch",
            ("GET", true) | ("HEAD", true) => "get",
            ("GET", false) | ("HEAD", false) => "list",
            ("POST", false) => "create",
            ("POST", true) if p.sub.as_deref() == Some("eviction") => "create",
            ("PUT", true) => "update",
            ("PATCH", true) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => return Err(ApiError::method_not_allowed()),
        };
        if p.sub.is_none() && !def.allows(verb) {
            return Err(ApiError::method_not_allowed());
        }
        let attrs = Attributes {
            verb: verb.into(),
            group: def.group.clone(),
            resource: def.plural.clone(),
            subresource: p.sub.clone().unwrap_or_default(),
            name: name.clone(),
            namespace: ns.clone(),
        };
        if !auth::allowed(&self.read(), user, &attrs) {
            return Err(auth::forbidden(user, &attrs));
        }
        let manager = req.q("fieldManager").map(String::from).unwrap_or_else(|| {
            let ua = req.user_agent.split('/').next().unwrap_or("").to_string();
            if ua.is_empty() { "unknown".into() } else { ua }
        });
        let dry_run = req.q("dryRun").is_some_and(|d| d == "All");
        let ctx = WriteCtx {
            manager,
            dry_run,
            time: now(),
            req,
        };
        let sub = p.sub.as_deref();
        match verb {
            "get" => self.get(req, &def, &p, &ns, &name),
            "list" => self.list(req, &def, &p, p.ns.as_deref()),
            "watch" => self.watch(req, &def, &p),
            "create" if sub == Some("eviction") => self.evict(&ctx, &def, &ns, &name),
            "create" if def.plural == "selfsubjectaccessreviews" => self.ssar(req, user),
            "create" => self.create(&ctx, &def, &p.version, &ns),
            "update" => self.update(&ctx, &def, &p, &ns, &name),
            "patch" => self.patch(&ctx, &def, &p, &ns, &name),
            "delete" => self.delete(&ctx, &def, &ns, &name),
            "deletecollection" => self.delete_collection(&ctx, &def, &p),
            _ => Err(ApiError::method_not_allowed()),
        }
    }

    fn get(
        &self,
        req: &ApiRequest,
        def: &Arc<ResourceDef>,
        p: &ResPath,
        ns: &str,
        name: &str,
    ) -> ApiResult<ApiResponse> {
        let obj = self
            .read()
            .get(&def.key(), ns, name)
            .ok_or_else(|| ApiError::not_found(&def.plural, &def.group, name))?;
        if p.sub.as_deref() == Some("scale") {
            return Ok(ApiResponse::json(200, &scale_of(&obj.value)));
        }
        if p.sub.as_deref() == Some("log") {
            return Ok(pod_log(req, &obj.value));
        }
        match accept_form(&req.accept) {
            Form::Full => Ok(ApiResponse::bytes(
                200,
                versioned_json(&obj, def, &p.version),
            )),
            Form::Meta => Ok(ApiResponse::json(200, &table::partial_metadata(&obj.value))),
            Form::Table => {
                let include = req.q("includeObject").unwrap_or("Metadata");
                let t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": obj.rv.to_string()},
                    "columnDefinitions": table::column_definitions(def), "rows": [table::row(def, &versioned(&obj.value, def, &p.version), include)]});
                Ok(ApiResponse::json(200, &t))
            }
        }
    }

    fn selectors(req: &ApiRequest, def: &ResourceDef) -> ApiResult<(LabelSelector, FieldSelector)> {
        let ls = LabelSelector::parse(req.q("labelSelector").unwrap_or(""))?;
        let fs = FieldSelector::parse(
            req.q("fieldSelector").unwrap_or(""),
            &def.group,
            &def.plural,
        )?;
        Ok((ls, fs))
    }

    fn list(
        &self,
        req: &ApiRequest,
        def: &Arc<ResourceDef>,
        p: &ResPath,
        ns: Option<&str>,
    ) -> ApiResult<ApiResponse> {
        let (ls, fs) = Self::selectors(req, def)?;
        let limit: usize = match req.q("limit") {
            Some(l) if !l.is_empty() => l
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
                .max(0) as usize,
            _ => 0,
        };
        let start = match req.q("continue") {
            Some(c) if !c.is_empty() => Some(decode_continue(c)?),
            _ => None,
        };
        let (items, rv, remaining, next) = {
            let st = self.read();
            let rv = st.rv;
            let empty = Default::default();
            let all = st.objects.get(&def.key()).unwrap_or(&empty);
            let lower = match (&start, ns) {
                (Some((sns, sname)), _) => std::ops::Bound::Excluded((sns.clone(), sname.clone())),
                (None, Some(n)) => std::ops::Bound::Included((n.to_string(), String::new())),
                (None, None) => std::ops::Bound::Unbounded,
            };
            let mut items = Vec::new();
            let mut remaining = 0u64;
            let mut last: Option<(String, String)> = None;
            let filtering = !ls.is_empty() || !fs.0.is_empty();
            for ((ons, oname), obj) in all.range((lower, std::ops::Bound::Unbounded)) {
                if let Some(n) = ns
                    && ons != n
                {
                    break;
                }
                if filtering && !(ls.matches_stored(obj) && fs.matches_stored(obj)) {
                    continue;
                }
                if limit > 0 && items.len() >= limit {
                    remaining += 1;
                    if filtering {
                        // like etcd-backed lists with selectors: no exact count
                        break;
                    }
                    continue;
                }
                last = Some((ons.clone(), oname.clone()));
                items.push(obj.clone());
            }
            let next = if remaining > 0 {
                last.map(|(a, b)| encode_continue(rv, &a, &b))
            } else {
                None
            };
            (
                items,
                rv,
                if filtering { None } else { Some(remaining) },
                next,
            )
        };
        let mut meta = Map::new();
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if let Some(n) = &next {
            meta.insert("continue".into(), json!(n));
            if let Some(r) = remaining {
                meta.insert("remainingItemCount".into(), json!(r));
            }
        }
        let meta = Value::Object(meta);
        match accept_form(&req.accept) {
            Form::Full => {
                let head = json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(&p.version), "metadata": meta});
                let mut out: Vec<u8> =
                    Vec::with_capacity(items.iter().map(|i| i.json.len() + 1).sum::<usize>() + 256);
                let h = serde_json::to_vec(&head).unwrap_or_default();
                out.extend_from_slice(&h[..h.len().saturating_sub(1)]);
                out.extend_from_slice(b",\"items\":[");
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&versioned_json(it, def, &p.version));
                }
                out.extend_from_slice(b"]}");
                Ok(ApiResponse::bytes(200, Bytes::from(out)))
            }
            Form::Meta => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|i| table::partial_metadata(&i.value))
                    .collect();
                Ok(ApiResponse::json(
                    200,
                    &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
                ))
            }
            Form::Table => {
                let include = req.q("includeObject").unwrap_or("Metadata");
                let rows: Vec<Value> = items
                    .iter()
                    .map(|i| table::row(def, &versioned(&i.value, def, &p.version), include))
                    .collect();
                Ok(ApiResponse::json(
                    200,
                    &json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": table::column_definitions(def), "rows": rows}),
                ))
            }
        }
    }

    fn watch(
        &self,
        req: &ApiRequest,
        def: &Arc<ResourceDef>,
        p: &ResPath,
    ) -> ApiResult<ApiResponse> {
        let (ls, fs) = Self::selectors(req, def)?;
        let filter = WatchFilter {
            def: def.clone(),
            version: p.version.clone(),
            ns: p.ns.clone(),
            name: p
                .name
                .clone()
                .or_else(|| fs.pinned_name().map(String::from)),
            labels: ls,
            fields: fs,
            form: accept_form(&req.accept),
            include: req.q("includeObject").unwrap_or("Metadata").to_string(),
            proto: !def.custom && crate::proto::wants_proto(&req.accept),
        };
        let bookmarks = req
            .q("allowWatchBookmarks")
            .is_some_and(|v| v == "true" || v == "1");
        let send_initial_end = req.q("sendInitialEvents") == Some("true");
        let timeout = req
            .q("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0)
            .map(Duration::from_secs);
        let st = self.read();
        let rx = st.tx.subscribe();
        let mut initial = Vec::new();
        let requested: Option<u64> = match req.q("resourceVersion") {
            None | Some("") | Some("0") => None,
            Some(s) => Some(
                s.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s}")))?,
            ),
        };
        match requested {
            Some(rv) if !send_initial_end => {
                if rv < st.oldest_watchable_rv() {
                    let e = ApiError::expired(format!(
                        "too old resource version: {rv} ({})",
                        st.oldest_watchable_rv()
                    ));
                    initial.push(filter.error_line(&e.to_status()));
                } else {
                    for ev in st.history.iter().filter(|e| e.obj.rv > rv) {
                        if let Some(l) = filter.render(ev) {
                            initial.push(l);
                        }
                    }
                }
            }
            _ => {
                if let Some(all) = st.objects.get(&def.key()) {
                    for obj in all.values() {
                        let ev = Event {
                            key: def.key(),
                            kind: "ADDED",
                            obj: obj.clone(),
                        };
                        if let Some(l) = filter.render(&ev) {
                            initial.push(l);
                        }
                    }
                }
                if bookmarks && send_initial_end {
                    initial.push(filter.bookmark(st.rv, true));
                }
            }
        }
        let rv = st.rv;
        drop(st);
        Ok(ApiResponse {
            status: 200,
            content_type: if filter.proto {
                crate::proto::WATCH_MEDIA_TYPE.into()
            } else {
                "application/json".into()
            },
            body: ApiBody::Watch(Box::new(WatchPlan {
                initial,
                rx,
                filter,
                timeout,
                bookmarks,
                rv,
            })),
            retry_after: None,
        })
    }

    /// Fills server-set metadata and checks a new object.
    #[allow(clippy::too_many_arguments)]
    fn prepare_new(
        &self,
        st: &Store,
        def: &ResourceDef,
        version: &str,
        ns: &str,
        mut obj: Value,
        ctx: &WriteCtx<'_>,
        operation: &str,
    ) -> ApiResult<Value> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        if let Some(k) = obj.get("kind").and_then(Value::as_str)
            && k != def.kind
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
                def.api_version(version)
            )));
        }
        obj["kind"] = json!(def.kind);
        obj["apiVersion"] = json!(def.api_version(version));
        if def.group.is_empty()
            && def.plural == "secrets"
            && obj
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            // the API server's defaulting (core/v1 SetDefaults_Secret)
            obj["type"] = json!("Opaque");
        }
        let m = meta_mut(&mut obj);
        let mut name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            match m.get("generateName").and_then(Value::as_str) {
                Some(g) if !g.is_empty() => {
                    name = format!("{g}{}", random_suffix());
                    m.insert("name".into(), json!(name));
                }
                _ => {
                    return Err(ApiError::invalid(
                        &def.kind,
                        &def.group,
                        "",
                        "metadata.name",
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                    ));
                }
            }
        }
        if def.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                Some(bns) if !bns.is_empty() && bns != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    m.insert("namespace".into(), json!(ns));
                }
            }
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(ctx.time));
        m.remove("resourceVersion");
        m.remove("deletionTimestamp");
        m.remove("managedFields");
        if def.has_generation() {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
        validate_name(def, &name)?;
        if def.namespaced && !st.namespace_exists(ns) {
            return Err(ApiError::not_found("namespaces", "", ns));
        }
        if st
            .get(&def.key(), if def.namespaced { ns } else { "" }, &name)
            .is_some()
        {
            return Err(ApiError::already_exists(&def.plural, &def.group, &name));
        }
        // server-managed status and defaults
        if def.status && !def.custom {
            let status = obj.get("status").cloned();
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
            let _ = status;
        } else if def.status
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        match (def.group.as_str(), def.plural.as_str()) {
            ("", "namespaces") => {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
                meta_mut(&mut obj)
                    .entry("labels")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|l| l.insert("kubernetes.io/metadata.name".into(), json!(name)));
            }
            ("", "pods") => obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"}),
            ("apiextensions.k8s.io", "customresourcedefinitions") => {
                let d = crate::registry::def_from_crd(&obj).map_err(|e| {
                    let (field, detail) = e.split_once(": ").unwrap_or(("spec", e.as_str()));
                    ApiError::invalid(
                        "CustomResourceDefinition",
                        "apiextensions.k8s.io",
                        &name,
                        field,
                        "FieldValueRequired",
                        detail,
                    )
                })?;
                let expected = format!("{}.{}", d.plural, d.group);
                if name != expected {
                    return Err(ApiError::invalid(
                        "CustomResourceDefinition",
                        "apiextensions.k8s.io",
                        &name,
                        "metadata.name",
                        "FieldValueInvalid",
                        &format!(
                            "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
                        ),
                    ));
                }
                obj["status"] = crd_status(&obj, &ctx.time);
            }
            ("apps", "deployments") | ("apps", "statefulsets") | ("apps", "replicasets")
                if obj.pointer("/spec/replicas").is_none()
                    && obj.get("spec").is_some_and(Value::is_object) =>
            {
                set_in(&mut obj, &["spec", "replicas"], json!(1));
            }
            _ => {}
        }
        if st.controllers {
            crate::controllers::admit(st, def, &mut obj, None);
        }
        let av = def.api_version(version);
        patch::record_manager(
            &mut obj,
            &ctx.manager,
            operation,
            &av,
            &ctx.time,
            None,
            !def.status,
        );
        Ok(obj)
    }

    fn create(
        &self,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        version: &str,
        ns: &str,
    ) -> ApiResult<ApiResponse> {
        let body = parse_body(ctx.req)?;
        let mut st = self.write();
        let mut obj = self.prepare_new(&st, def, version, ns, body, ctx, "Update")?;
        if ctx.dry_run {
            return Ok(ApiResponse::json(201, &obj));
        }
        self.commit_create(&mut st, def, &mut obj)?;
        Ok(ApiResponse::json(201, &obj))
    }

    fn commit_create(
        &self,
        st: &mut Store,
        def: &Arc<ResourceDef>,
        obj: &mut Value,
    ) -> ApiResult<()> {
        let rv = st.next_rv();
        meta_mut(obj).insert("resourceVersion".into(), json!(rv.to_string()));
        if def.group == "apiextensions.k8s.io" && def.plural == "customresourcedefinitions" {
            st.registry.apply_crd(obj).map_err(ApiError::bad_request)?;
        }
        st.put(&def.key(), "ADDED", Stored::new(obj.clone()));
        Ok(())
    }

    /// Writes a changed object (update, patch, status), with conflict, no-op and finalizer handling.
    #[allow(clippy::too_many_arguments)]
    fn commit_update(
        &self,
        st: &mut Store,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        version: &str,
        old: &Arc<Stored>,
        mut new: Value,
        sub: Option<&str>,
        operation: &str,
    ) -> ApiResult<ApiResponse> {
        let name = meta_str(&old.value, "name").unwrap_or("").to_string();
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        if let Some(n) = meta_str(&new, "name")
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let mut result = if sub == Some("status") {
            let mut r = old.value.clone();
            match new.get("status") {
                Some(s) => r["status"] = s.clone(),
                None => {
                    if let Some(o) = r.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            r
        } else {
            if def.status {
                match old.value.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            new["kind"] = json!(def.kind);
            new["apiVersion"] = json!(def.api_version(version));
            let om = old
                .value
                .get("metadata")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let m = meta_mut(&mut new);
            for k in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
            ] {
                match om.get(k) {
                    Some(v) => m.insert(k.into(), v.clone()),
                    None => m.remove(k),
                };
            }
            if st.controllers {
                crate::controllers::admit(st, def, &mut new, Some(&old.value));
            }
            new
        };
        if comparable(&result) == comparable(&old.value) {
            return Ok(ApiResponse::bytes(200, versioned_json(old, def, version)));
        }
        if def.has_generation() && sub.is_none() && spec_part(&result) != spec_part(&old.value) {
            let g = old
                .value
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta_mut(&mut result).insert("generation".into(), json!(g + 1));
        }
        if def.group == "apiextensions.k8s.io"
            && def.plural == "customresourcedefinitions"
            && sub.is_none()
        {
            crate::registry::def_from_crd(&result).map_err(|e| {
                ApiError::invalid(
                    "CustomResourceDefinition",
                    "apiextensions.k8s.io",
                    &name,
                    "spec",
                    "FieldValueInvalid",
                    &e,
                )
            })?;
        }
        let av = def.api_version(version);
        patch::record_manager(
            &mut result,
            &ctx.manager,
            operation,
            &av,
            &ctx.time,
            sub,
            !def.status,
        );
        if ctx.dry_run {
            return Ok(ApiResponse::json(200, &result));
        }
        let rv = st.next_rv();
        meta_mut(&mut result).insert("resourceVersion".into(), json!(rv.to_string()));
        if def.group == "apiextensions.k8s.io" && def.plural == "customresourcedefinitions" {
            st.registry
                .apply_crd(&result)
                .map_err(ApiError::bad_request)?;
        }
        let deleting = result.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers = result
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty());
        let ns = meta_str(&result, "namespace").unwrap_or("").to_string();
        st.put(&def.key(), "MODIFIED", Stored::new(result.clone()));
        if deleting && no_finalizers {
            self.finish_delete(st, def, &ns, &name);
        }
        Ok(ApiResponse::json(200, &result))
    }

    fn update(
        &self,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        p: &ResPath,
        ns: &str,
        name: &str,
    ) -> ApiResult<ApiResponse> {
        let body = parse_body(ctx.req)?;
        let mut st = self.write();
        let old = st
            .get(&def.key(), ns, name)
            .ok_or_else(|| ApiError::not_found(&def.plural, &def.group, name))?;
        if let Some(rv) = meta_str(&body, "resourceVersion")
            && !rv.is_empty()
            && rv != old.rv.to_string()
        {
            return Err(ApiError::conflict(&def.plural, &def.group, name));
        }
        if p.sub.as_deref() == Some("scale") {
            let replicas = body.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            let mut new = old.value.clone();
            set_in(&mut new, &["spec", "replicas"], replicas);
            let r = self.commit_update(&mut st, ctx, def, &p.version, &old, new, None, "Update")?;
            return Ok(scale_response(r));
        }
        self.commit_update(
            &mut st,
            ctx,
            def,
            &p.version,
            &old,
            body,
            p.sub.as_deref(),
            "Update",
        )
    }

    fn patch(
        &self,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        p: &ResPath,
        ns: &str,
        name: &str,
    ) -> ApiResult<ApiResponse> {
        let ct = ctx
            .req
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let body = parse_body(ctx.req)?;
        let mut st = self.write();
        let old = match st.get(&def.key(), ns, name) {
            Some(o) => o,
            None if ct == "application/apply-patch+yaml" && p.sub.is_none() => {
                let mut b = body.clone();
                meta_mut(&mut b).insert("name".into(), json!(name));
                let mut obj = self.prepare_new(&st, def, &p.version, ns, b, ctx, "Apply")?;
                if ctx.dry_run {
                    return Ok(ApiResponse::json(201, &obj));
                }
                self.commit_create(&mut st, def, &mut obj)?;
                return Ok(ApiResponse::json(201, &obj));
            }
            None => return Err(ApiError::not_found(&def.plural, &def.group, name)),
        };
        let is_scale = p.sub.as_deref() == Some("scale");
        let mut doc = if is_scale {
            scale_of(&old.value)
        } else {
            versioned(&old.value, def, &p.version)
        };
        let mut operation = "Update";
        match ct.as_str() {
            "application/merge-patch+json" => patch::merge_patch(&mut doc, &body),
            "application/json-patch+json" => patch::json_patch(&mut doc, &body)?,
            "application/strategic-merge-patch+json" => {
                if def.custom {
                    return Err(ApiError::unsupported_media_type(&ct));
                }
                patch::strategic_merge(&mut doc, &body)?
            }
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                operation = "Apply";
                patch::apply_merge(&mut doc, &body)?
            }
            other => return Err(ApiError::unsupported_media_type(other)),
        }
        // a patch that carries a resourceVersion is a precondition
        if let Some(rv) = meta_str(&doc, "resourceVersion")
            && !rv.is_empty()
            && rv != old.rv.to_string()
        {
            return Err(ApiError::conflict(&def.plural, &def.group, name));
        }
        if is_scale {
            let mut new = old.value.clone();
            set_in(
                &mut new,
                &["spec", "replicas"],
                doc.pointer("/spec/replicas").cloned().unwrap_or(json!(0)),
            );
            let r =
                self.commit_update(&mut st, ctx, def, &p.version, &old, new, None, operation)?;
            return Ok(scale_response(r));
        }
        self.commit_update(
            &mut st,
            ctx,
            def,
            &p.version,
            &old,
            doc,
            p.sub.as_deref(),
            operation,
        )
    }

    /// Removes an object for good, with cascades (namespaces, CRDs).
    fn finish_delete(
        &self,
        st: &mut Store,
        def: &ResourceDef,
        ns: &str,
        name: &str,
    ) -> Option<Arc<Stored>> {
        if def.group.is_empty() && def.plural == "namespaces" {
            let keys: Vec<String> = st.objects.keys().cloned().collect();
            for k in keys {
                let names: Vec<String> = st
                    .objects
                    .get(&k)
                    .map(|m| {
                        m.range((name.to_string(), String::new())..)
                            .take_while(|((n, _), _)| n == name)
                            .map(|((_, o), _)| o.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for o in names {
                    st.remove(&k, name, &o);
                }
            }
        }
        let gone = st.remove(&def.key(), ns, name);
        if def.group == "apiextensions.k8s.io"
            && def.plural == "customresourcedefinitions"
            && let Some(g) = &gone
            && let Ok(d) = crate::registry::def_from_crd(&g.value)
        {
            let key = d.key();
            let names: Vec<(String, String)> = st
                .objects
                .get(&key)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for (ons, on) in names {
                st.remove(&key, &ons, &on);
            }
            st.registry.remove(&d.group, &d.plural);
        }
        gone
    }

    fn delete(
        &self,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        ns: &str,
        name: &str,
    ) -> ApiResult<ApiResponse> {
        let mut st = self.write();
        let old = st
            .get(&def.key(), ns, name)
            .ok_or_else(|| ApiError::not_found(&def.plural, &def.group, name))?;
        if !ctx.req.body.is_empty()
            && let Ok(opts) = serde_json::from_slice::<Value>(&ctx.req.body)
            && let Some(rv) = opts
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
            && rv != old.rv.to_string()
        {
            return Err(ApiError::conflict(&def.plural, &def.group, name));
        }
        let details = json!({"name": name, "group": def.group, "kind": def.plural, "uid": meta_str(&old.value, "uid").unwrap_or("")});
        if ctx.dry_run {
            return Ok(ApiResponse::json(200, &old.value));
        }
        let has_finalizers = old
            .value
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let gc = st
            .controllers
            .then(|| crate::controllers::gc_finalizer(def, ctx.req))
            .flatten();
        if has_finalizers || gc.is_some() {
            if old.value.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(ApiResponse::json(200, &old.value));
            }
            let mut v = old.value.clone();
            let rv = st.next_rv();
            let m = meta_mut(&mut v);
            if let Some(f) = gc {
                let list = m.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut()
                    && !a.iter().any(|x| x == f)
                {
                    a.push(json!(f));
                }
            }
            m.insert("deletionTimestamp".into(), json!(ctx.time));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            st.put(&def.key(), "MODIFIED", Stored::new(v.clone()));
            return Ok(ApiResponse::json(200, &v));
        }
        let gone = self.finish_delete(&mut st, def, ns, name);
        if def.custom || def.plural == "pods" || def.plural == "namespaces" {
            let v = gone
                .map(|g| g.value.clone())
                .unwrap_or_else(|| status_success(details));
            return Ok(ApiResponse::json(200, &v));
        }
        Ok(ApiResponse::json(200, &status_success(details)))
    }

    fn delete_collection(
        &self,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        p: &ResPath,
    ) -> ApiResult<ApiResponse> {
        let (ls, fs) = Self::selectors(ctx.req, def)?;
        let mut st = self.write();
        let targets: Vec<(String, String)> = st
            .objects
            .get(&def.key())
            .map(|m| {
                m.iter()
                    .filter(|((ons, _), o)| {
                        p.ns.as_deref().is_none_or(|n| n == ons)
                            && ls.matches_stored(o)
                            && fs.matches_stored(o)
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut items = Vec::new();
        for (ons, on) in targets {
            if ctx.dry_run {
                if let Some(o) = st.get(&def.key(), &ons, &on) {
                    items.push(o.value.clone());
                }
            } else if let Some(g) = self.finish_delete(&mut st, def, &ons, &on) {
                items.push(g.value.clone());
            }
        }
        let rv = st.rv;
        Ok(ApiResponse::json(
            200,
            &json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(&p.version), "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
        ))
    }

    fn evict(
        &self,
        ctx: &WriteCtx<'_>,
        def: &Arc<ResourceDef>,
        ns: &str,
        name: &str,
    ) -> ApiResult<ApiResponse> {
        let mut st = self.write();
        let pod = st
            .get(&def.key(), ns, name)
            .ok_or_else(|| ApiError::not_found(&def.plural, &def.group, name))?;
        let phase = pod
            .value
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ignore_pdb = matches!(phase, "Pending" | "Succeeded" | "Failed")
            || pod.value.pointer("/metadata/deletionTimestamp").is_some();
        if !ignore_pdb {
            let pdbs: Vec<Arc<Stored>> = st
                .objects
                .get("policy/poddisruptionbudgets")
                .map(|m| {
                    m.range((ns.to_string(), String::new())..)
                        .take_while(|((n, _), _)| n == ns)
                        .filter(|(_, p)| {
                            p.value.pointer("/spec/selector").is_some_and(|s| {
                                let sel = LabelSelector::from_object(s);
                                !sel.is_empty() && sel.matches(&pod.value)
                            })
                        })
                        .map(|(_, p)| p.clone())
                        .collect()
                })
                .unwrap_or_default();
            if pdbs.len() > 1 {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
            if let Some(pdb) = pdbs.first() {
                let sel = LabelSelector::from_object(
                    pdb.value.pointer("/spec/selector").unwrap_or(&Value::Null),
                );
                let pods: Vec<Arc<Stored>> = st
                    .objects
                    .get("/pods")
                    .map(|m| {
                        m.range((ns.to_string(), String::new())..)
                            .take_while(|((n, _), _)| n == ns)
                            .filter(|(_, p)| sel.matches(&p.value))
                            .map(|(_, p)| p.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let expected = pods.len() as i64;
                let healthy = pods.iter().filter(|p| pod_healthy(&p.value)).count() as i64;
                let desired = desired_healthy(&pdb.value, expected);
                let allowed = if pod_healthy(&pod.value) {
                    healthy - desired > 0
                } else {
                    healthy >= desired
                };
                if !allowed {
                    let pdb_name = meta_str(&pdb.value, "name").unwrap_or("");
                    return Err(ApiError {
                        details: Some(
                            json!({"causes": [{"reason": "DisruptionBudget", "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")}]}),
                        ),
                        ..ApiError::new(
                            429,
                            "TooManyRequests",
                            "Cannot evict pod as it would violate the pod's disruption budget.",
                        )
                    });
                }
            }
        }
        if !ctx.dry_run {
            self.finish_delete(&mut st, def, ns, name);
        }
        Ok(ApiResponse::json(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }

    fn ssar(&self, req: &ApiRequest, user: &User) -> ApiResult<ApiResponse> {
        let mut body = parse_body(req)?;
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        let st = self.read();
        let allowed = if let Some(ra) = body.pointer("/spec/resourceAttributes") {
            let g = |k: &str| ra.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let a = Attributes {
                verb: g("verb"),
                group: g("group"),
                resource: g("resource"),
                subresource: g("subresource"),
                name: g("name"),
                namespace: g("namespace"),
            };
            auth::allowed(&st, user, &a)
        } else {
            true
        };
        body["status"] = json!({"allowed": allowed});
        if !allowed {
            body["status"]["reason"] = json!("");
        }
        body["kind"] = json!("SelfSubjectAccessReview");
        body["apiVersion"] = json!("authorization.k8s.io/v1");
        if !body.get("metadata").is_some_and(Value::is_object) {
            body["metadata"] = json!({});
        }
        body["metadata"]["creationTimestamp"] = Value::Null;
        Ok(ApiResponse::json(201, &body))
    }
}

fn pod_healthy(p: &Value) -> bool {
    p.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
        && p.pointer("/metadata/deletionTimestamp").is_none()
        && p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|x| {
                    x.get("type").and_then(Value::as_str) == Some("Ready")
                        && x.get("status").and_then(Value::as_str) == Some("True")
                })
            })
}

fn int_or_percent(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            if let Some(p) = s.strip_suffix('%') {
                let p: i64 = p.trim().parse().unwrap_or(0);
                if round_up {
                    (total * p + 99) / 100
                } else {
                    total * p / 100
                }
            } else {
                s.parse().unwrap_or(0)
            }
        }
        _ => 0,
    }
}

fn desired_healthy(pdb: &Value, expected: i64) -> i64 {
    if let Some(m) = pdb.pointer("/spec/minAvailable") {
        int_or_percent(m, expected, true)
    } else if let Some(m) = pdb.pointer("/spec/maxUnavailable") {
        (expected - int_or_percent(m, expected, true)).max(0)
    } else {
        expected
    }
}

fn crd_status(crd: &Value, time: &str) -> Value {
    let names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none()
        && let Some(k) = names.get("kind").and_then(Value::as_str)
    {
        accepted["singular"] = json!(k.to_lowercase());
    }
    if accepted.get("listKind").is_none()
        && let Some(k) = names.get("kind").and_then(Value::as_str)
    {
        accepted["listKind"] = json!(format!("{k}List"));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": time, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": time, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "acceptedNames": accepted,
        "storedVersions": stored
    })
}

/// The annotation whose value kubesim serves as a pod's log (`GET …/pods/NAME/log`); kubesim
/// runs no containers. A pod without it has an empty log. On a real cluster the annotation is
/// inert.
pub const LOG_ANNOTATION: &str = "kubesim.dev/log";

/// `pods/log`: the pod's [`LOG_ANNOTATION`], honouring `tailLines`, as `text/plain`.
fn pod_log(req: &ApiRequest, pod: &Value) -> ApiResponse {
    let text = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LOG_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let keep = req
        .q("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(lines.len())
        .min(lines.len());
    let mut body = lines[lines.len() - keep..].join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    let mut r = ApiResponse::bytes(200, Bytes::from(body));
    r.content_type = "text/plain".into();
    r
}

fn scale_of(obj: &Value) -> Value {
    let sel = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        });
    let m = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m.get("name"), "namespace": m.get("namespace"), "uid": m.get("uid"), "resourceVersion": m.get("resourceVersion"), "creationTimestamp": m.get("creationTimestamp")},
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": sel.unwrap_or_default()}
    })
}

fn scale_response(r: ApiResponse) -> ApiResponse {
    if r.status >= 300 {
        return r;
    }
    match serde_json::from_slice::<Value>(&r.body_bytes()) {
        Ok(v) => ApiResponse::json(r.status, &scale_of(&v)),
        Err(_) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("labelSelector=a%20in%20(b&x=1+2&bad=%zz");
        assert_eq!(q[0].1, "a in (b");
        assert_eq!(q[1].1, "1 2");
        assert_eq!(q[2].1, "%zz");
    }

    #[test]
    fn continue_round_trip() {
        let t = encode_continue(5, "ns", "cm2");
        assert_eq!(
            decode_continue(&t).unwrap(),
            ("ns".to_string(), "cm2".to_string())
        );
        assert!(decode_continue("!!").is_err());
    }

    #[test]
    fn routes() {
        assert!(
            matches!(route("/api/v1/namespaces/x/status"), Route::Resource(ResPath { ref plural, ref name, ref sub, .. }) if plural == "namespaces" && name.as_deref() == Some("x") && sub.as_deref() == Some("status"))
        );
        assert!(
            matches!(route("/api/v1/namespaces/x/pods/p/eviction"), Route::Resource(ResPath { ref ns, ref sub, .. }) if ns.as_deref() == Some("x") && sub.as_deref() == Some("eviction"))
        );
    }
}
