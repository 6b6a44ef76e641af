//! Raw HTTP against kubesim: error Status shapes (as in the captured samples), paging,
//! selectors, metadata-only and Table lists, conflicts, eviction, watch, faults and counters.

mod common;

use common::{Raw, bearer, http};
use kubesim::{Fault, FaultRule, Sim};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn sim() -> Sim {
    let s = Sim::builder()
        .scenario("empty")
        .tls(false)
        .user("nobody", "nobody-token", &[])
        .start()
        .unwrap();
    s.apply_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: samples}\n")
        .unwrap();
    s
}

fn call(s: &Sim, method: &str, path: &str, ct: &str, body: &str) -> Raw {
    let auth = bearer(s);
    http(
        s.url(),
        method,
        path,
        &[("Authorization", &auth), ("Content-Type", ct)],
        body,
    )
}

fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
    if let Some(d) = details {
        v["details"] = d;
    }
    v
}

#[test]
fn error_statuses_match_samples() {
    let s = sim();
    let cm =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"},"data":{"k":"v1"}}"#;
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/v1/namespaces/samples/configmaps",
            "application/json",
            cm
        )
        .status,
        201
    );

    let r = call(
        &s,
        "GET",
        "/api/v1/namespaces/samples/configmaps/nope",
        "",
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (
            404,
            status(
                404,
                "NotFound",
                "configmaps \"nope\" not found",
                Some(json!({"name": "nope", "kind": "configmaps"}))
            )
        )
    );

    let r = call(
        &s,
        "POST",
        "/api/v1/namespaces/samples/configmaps",
        "application/json",
        cm,
    );
    assert_eq!(
        (r.status, r.json()),
        (
            409,
            status(
                409,
                "AlreadyExists",
                "configmaps \"cm1\" already exists",
                Some(json!({"name": "cm1", "kind": "configmaps"}))
            )
        )
    );

    let stale = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","namespace":"samples","resourceVersion":"1"},"data":{"k":"x"}}"#;
    let r = call(
        &s,
        "PUT",
        "/api/v1/namespaces/samples/configmaps/cm1",
        "application/json",
        stale,
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert_eq!(
        r.json()["message"],
        "Operation cannot be fulfilled on configmaps \"cm1\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let r = call(
        &s,
        "POST",
        "/api/v1/namespaces/no-such-ns/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (
            404,
            status(
                404,
                "NotFound",
                "namespaces \"no-such-ns\" not found",
                Some(json!({"name": "no-such-ns", "kind": "namespaces"}))
            )
        )
    );

    let r = call(
        &s,
        "POST",
        "/api/v1/namespaces/samples/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#,
    );
    assert_eq!(r.status, 422);
    let v = r.json();
    assert!(v["message"].as_str().unwrap().starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"));
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");

    let r = call(
        &s,
        "PATCH",
        "/api/v1/namespaces/samples/configmaps/cm1",
        "application/json-patch+json",
        r#"[{"op":"test","path":"/data/k","value":"WRONG"},{"op":"remove","path":"/data/k"}]"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (
            422,
            status(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
                Some(json!({}))
            )
        )
    );

    let r = call(
        &s,
        "GET",
        "/api/v1/configmaps?fieldSelector=data.k=v1",
        "",
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            status(
                400,
                "BadRequest",
                "\"data.k\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                None
            )
        )
    );
    let r = call(
        &s,
        "GET",
        "/api/v1/configmaps?labelSelector=a%20in%20(b",
        "",
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            status(
                400,
                "BadRequest",
                "unable to parse requirement: found '', expected: ',' or ')'",
                None
            )
        )
    );

    let r = http(
        s.url(),
        "GET",
        "/api/v1/namespaces",
        &[("Authorization", "Bearer wrong")],
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (401, status(401, "Unauthorized", "Unauthorized", None))
    );
    let r = http(
        s.url(),
        "GET",
        "/api/v1/namespaces/samples/configmaps",
        &[
            ("Authorization", &bearer(&s)),
            ("Impersonate-User", "nobody"),
        ],
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (
            403,
            status(
                403,
                "Forbidden",
                "configmaps is forbidden: User \"nobody\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"samples\"",
                Some(json!({"kind": "configmaps"}))
            )
        )
    );
}

#[test]
fn paging_selectors_metadata_and_table() {
    let s = sim();
    for i in 1..=6 {
        let b = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm{i}","labels":{{"n":"{}"}}}},"data":{{"k":"v{i}"}}}}"#,
            i % 2
        );
        assert_eq!(
            call(
                &s,
                "POST",
                "/api/v1/namespaces/samples/configmaps?fieldManager=kubectl-create",
                "application/json",
                &b
            )
            .status,
            201
        );
    }
    let p1 = call(
        &s,
        "GET",
        "/api/v1/namespaces/samples/configmaps?limit=2",
        "",
        "",
    )
    .json();
    assert_eq!(p1["kind"], "ConfigMapList");
    assert_eq!(p1["metadata"]["remainingItemCount"], 4);
    assert_eq!(
        p1["items"][0]["metadata"]["managedFields"][0]["manager"],
        "kubectl-create"
    );
    assert_eq!(
        p1["items"][0]["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:n": {}}}})
    );
    let mut names: Vec<String> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let mut cont = p1["metadata"]["continue"].as_str().unwrap().to_string();
    while !cont.is_empty() {
        let p = call(
            &s,
            "GET",
            &format!("/api/v1/namespaces/samples/configmaps?limit=2&continue={cont}"),
            "",
            "",
        )
        .json();
        names.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        cont = p["metadata"]["continue"].as_str().unwrap_or("").to_string();
    }
    assert_eq!(names, ["cm1", "cm2", "cm3", "cm4", "cm5", "cm6"]);

    let sel = call(
        &s,
        "GET",
        "/api/v1/configmaps?labelSelector=n%3D1,n!%3D0",
        "",
        "",
    )
    .json();
    assert_eq!(sel["items"].as_array().unwrap().len(), 3);
    let notin = call(
        &s,
        "GET",
        "/api/v1/configmaps?labelSelector=n%20notin%20(1)",
        "",
        "",
    )
    .json();
    assert_eq!(notin["items"].as_array().unwrap().len(), 3);
    let fsel = call(
        &s,
        "GET",
        "/api/v1/configmaps?fieldSelector=metadata.name%3Dcm2",
        "",
        "",
    )
    .json();
    assert_eq!(fsel["items"][0]["metadata"]["name"], "cm2");

    let auth = bearer(&s);
    let meta = http(
        s.url(),
        "GET",
        "/api/v1/namespaces/samples/configmaps?limit=2",
        &[
            ("Authorization", &auth),
            (
                "Accept",
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
            ),
        ],
        "",
    )
    .json();
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert_eq!(meta["items"][0]["kind"], "PartialObjectMetadata");
    assert!(meta["items"][0].get("data").is_none());
    assert_eq!(meta["metadata"]["remainingItemCount"], 4);

    let table = http(
        s.url(),
        "GET",
        "/api/v1/namespaces/samples/configmaps?limit=2",
        &[
            ("Authorization", &auth),
            ("Accept", "application/json;as=Table;g=meta.k8s.io;v=v1"),
        ],
        "",
    )
    .json();
    assert_eq!(table["kind"], "Table");
    let cols: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Data", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "cm1");
    assert_eq!(table["rows"][0]["cells"][1], 1);
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let none = http(
        s.url(),
        "GET",
        "/api/v1/namespaces/samples/configmaps?includeObject=None",
        &[
            ("Authorization", &auth),
            ("Accept", "application/json;as=Table;g=meta.k8s.io;v=v1"),
        ],
        "",
    )
    .json();
    assert!(none["rows"][0].get("object").is_none());

    // a stale resourceVersion in a merge patch conflicts; a fresh one bumps resourceVersion
    let cur = s
        .get_json("/api/v1/namespaces/samples/configmaps/cm1")
        .unwrap();
    let rv = cur["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(
        &s,
        "PATCH",
        "/api/v1/namespaces/samples/configmaps/cm1",
        "application/merge-patch+json",
        r#"{"metadata":{"resourceVersion":"2"},"data":{"k":"z"}}"#,
    );
    assert_eq!(r.status, 409);
    let r = call(
        &s,
        "PATCH",
        "/api/v1/namespaces/samples/configmaps/cm1",
        "application/merge-patch+json",
        &format!(r#"{{"metadata":{{"resourceVersion":"{rv}"}},"data":{{"k":"z"}}}}"#),
    );
    assert_eq!(r.status, 200);
    assert_ne!(
        r.json()["metadata"]["resourceVersion"].as_str().unwrap(),
        rv
    );
    let dry = call(
        &s,
        "DELETE",
        "/api/v1/namespaces/samples/configmaps/cm1?dryRun=All",
        "",
        "",
    );
    assert_eq!(dry.status, 200);
    assert!(
        s.get_json("/api/v1/namespaces/samples/configmaps/cm1")
            .is_ok()
    );
}

const PDB: &str = "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: samples}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: samples, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: c, image: nginx}]
status:
  phase: Running
  conditions: [{type: Ready, status: \"True\"}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: samples, labels: {app: web}}
spec:
  containers: [{name: c, image: nginx}]
status:
  phase: Pending
";

#[test]
fn eviction_honours_pdb() {
    let s = sim();
    s.apply_yaml(PDB).unwrap();
    let ev = |pod: &str| {
        call(
            &s,
            "POST",
            &format!("/api/v1/namespaces/samples/pods/{pod}/eviction"),
            "application/json",
            &format!(
                r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}","namespace":"samples"}}}}"#
            ),
        )
    };
    let r = ev("web-1");
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Cannot evict pod as it would violate the pod's disruption budget.",
            "reason": "TooManyRequests", "details": {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 1 healthy pods and has 1 currently"}]}, "code": 429})
    );
    assert_eq!(ev("web-2").status, 201);
    assert!(s.get_json("/api/v1/namespaces/samples/pods/web-2").is_err());
    assert!(s.get_json("/api/v1/namespaces/samples/pods/web-1").is_ok());
}

#[test]
fn watch_stream_events() {
    let s = sim();
    s.apply_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: samples}\n")
        .unwrap();
    let url = s.url().to_string();
    let auth = bearer(&s);
    let h = std::thread::spawn(move || {
        http(
            &url,
            "GET",
            "/api/v1/namespaces/samples/configmaps?watch=1&resourceVersion=0&timeoutSeconds=2",
            &[("Authorization", &auth)],
            "",
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    s.apply_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: samples}\n")
        .unwrap();
    s.request(
        "DELETE",
        "/api/v1/namespaces/samples/configmaps/b",
        "application/json",
        b"",
    )
    .unwrap();
    let r = h.join().unwrap();
    let events: Vec<Value> = String::from_utf8_lossy(&r.body)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "b")]);
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
}

#[test]
fn faults_latency_status_drop_and_counters() {
    let s = sim();
    s.faults().add(
        FaultRule::new(
            "/api/v1/nodes",
            Fault::Status {
                code: 503,
                retry_after: None,
            },
        )
        .method("GET")
        .times(2),
    );
    assert_eq!(call(&s, "GET", "/api/v1/nodes", "", "").status, 503);
    let r = call(&s, "GET", "/api/v1/nodes", "", "");
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(call(&s, "GET", "/api/v1/nodes", "", "").status, 200);

    s.faults().add(
        FaultRule::new(
            "/api/v1/namespaces",
            Fault::Status {
                code: 429,
                retry_after: Some(3),
            },
        )
        .exact()
        .times(1),
    );
    let r = call(&s, "GET", "/api/v1/namespaces", "", "");
    assert_eq!((r.status, r.header("retry-after")), (429, Some("3")));
    assert_eq!(r.json()["kind"], "Status");

    s.faults()
        .add(FaultRule::new("/api/v1/namespaces", Fault::Latency { ms: 400 }).times(1));
    let t = Instant::now();
    assert_eq!(call(&s, "GET", "/api/v1/namespaces", "", "").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(400));

    s.faults().add(
        FaultRule::new(
            "/api/v1/namespaces",
            Fault::Drop {
                after_bytes: Some(10),
            },
        )
        .times(1),
    );
    let r = call(&s, "GET", "/api/v1/namespaces", "", "");
    assert!(
        r.truncated && r.body.len() == 10,
        "got {} bytes",
        r.body.len()
    );

    // the admin endpoint: add a rule over HTTP, then clear it
    let add = http(
        s.url(),
        "POST",
        "/kubesim/v1/faults",
        &[],
        r#"{"method":"GET","pathPrefix":"/api/v1/nodes","action":{"type":"status","code":500}}"#,
    );
    assert_eq!(add.status, 200);
    assert_eq!(call(&s, "GET", "/api/v1/nodes", "", "").status, 500);
    assert_eq!(
        http(s.url(), "DELETE", "/kubesim/v1/faults", &[], "").status,
        200
    );
    assert_eq!(call(&s, "GET", "/api/v1/nodes", "", "").status, 200);

    let c = http(s.url(), "GET", "/kubesim/v1/counters", &[], "").json();
    assert_eq!(c["byRoute"]["GET /api/v1/nodes"], 5);
    assert_eq!(c["requests"].as_u64(), Some(s.counters().requests));
    assert!(c["bytesSent"].as_u64().unwrap() > 0);
}

#[test]
fn scale_scenario_lists_fast() {
    let s = Sim::builder()
        .scenario("scale:nodes=20,namespaces=5,pods=2000,deployments=40")
        .tls(false)
        .start()
        .unwrap();
    let t = Instant::now();
    let pods = call(&s, "GET", "/api/v1/pods", "", "").json();
    assert!(t.elapsed() < Duration::from_secs(5));
    let n = pods["items"].as_array().unwrap().len();
    assert_eq!(n, 2000 + 2 + 20 + 3 * 4);
    let nodes = call(&s, "GET", "/api/v1/nodes?limit=5", "", "").json();
    assert_eq!(nodes["metadata"]["remainingItemCount"], 15);
    let ready = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"]["phase"] == "Running");
    assert!(ready);
}
