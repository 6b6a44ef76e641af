//! kubesim's protobuf bodies against the k8s-pb crate (kube-rs's prost bindings of the upstream
//! `generated.proto` files): what k8s-pb encodes, kubesim decodes to the JSON the API serves, and
//! what kubesim encodes, k8s-pb decodes. Then over HTTP: protobuf requests and responses, lists,
//! Status errors, watch frames, and JSON-only custom resources.

mod common;

use common::{Env, bearer, http};
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use kubesim::Sim;
use kubesim::proto;
use prost::Message;
use serde_json::{Value, json};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn proto_schema_matches_k8s_pb() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("web-0"),
            namespace: s("apps"),
            labels: [("app".to_string(), "web".to_string())].into(),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_735_787_045),
                nanos: Some(0),
            }),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("StatefulSet"),
                name: s("web"),
                uid: s("u-1"),
                controller: Some(true),
                block_owner_deletion: None,
            }],
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("nginx"),
                image: s("nginx:1.25"),
                ports: vec![core::ContainerPort {
                    container_port: Some(80),
                    protocol: s("TCP"),
                    ..Default::default()
                }],
                resources: Some(core::ResourceRequirements {
                    limits: [(
                        "cpu".to_string(),
                        k8s_pb::apimachinery::pkg::api::resource::Quantity { string: s("500m") },
                    )]
                    .into(),
                    ..Default::default()
                }),
                readiness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        http_get: Some(core::HttpGetAction {
                            path: s("/healthz"),
                            port: Some(k8s_pb::apimachinery::pkg::util::intstr::IntOrString {
                                r#type: Some(1),
                                int_val: Some(0),
                                str_val: s("http"),
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    period_seconds: Some(5),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            volumes: vec![core::Volume {
                name: s("cfg"),
                volume_source: Some(core::VolumeSource {
                    config_map: Some(core::ConfigMapVolumeSource {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("web-cfg"),
                        }),
                        default_mode: Some(420),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }],
            termination_grace_period_seconds: Some(0),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            pod_ips: vec![core::PodIp { ip: s("10.0.0.7") }],
            ..Default::default()
        }),
    };
    let want = json!({
        "metadata": {"name": "web-0", "namespace": "apps", "labels": {"app": "web"},
            "creationTimestamp": "2025-01-02T03:04:05Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u-1", "controller": true}]},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "500m"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5}}],
            "volumes": [{"name": "cfg", "configMap": {"name": "web-cfg", "defaultMode": 420}}],
            "terminationGracePeriodSeconds": 0},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}]}
    });
    let got = proto::decode_raw("v1", "Pod", &pod.encode_to_vec()).expect("kubesim decodes k8s-pb");
    assert_eq!(got, want);

    // and back: kubesim's encoding is what k8s-pb reads
    let mut with_type = want.clone();
    with_type["apiVersion"] = json!("v1");
    with_type["kind"] = json!("Pod");
    let bytes = proto::encode_raw(&with_type)
        .expect("Pod has a protobuf form")
        .expect("encodes");
    let back = core::Pod::decode(bytes.as_slice()).expect("k8s-pb decodes kubesim");
    assert_eq!(back, pod);

    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: s("sh.helm.release.v1.demo.v1"),
            ..Default::default()
        }),
        data: [("release".to_string(), b"H4sI".to_vec())].into(),
        r#type: s("helm.sh/release.v1"),
        immutable: None,
        string_data: Default::default(),
    };
    let got = proto::decode_raw("v1", "Secret", &secret.encode_to_vec()).expect("decodes");
    assert_eq!(
        got,
        json!({"metadata": {"name": "sh.helm.release.v1.demo.v1"}, "data": {"release": "SDRzSQ=="}, "type": "helm.sh/release.v1"})
    );
}

fn pb_configmap(name: &str) -> Vec<u8> {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s(name),
            ..Default::default()
        }),
        data: [("k".to_string(), "v".to_string())].into(),
        ..Default::default()
    };
    let mut tm = Vec::new();
    k8s_pb::apimachinery::pkg::runtime::Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: s("v1"),
            kind: s("ConfigMap"),
        }),
        raw: Some(cm.encode_to_vec()),
        content_encoding: s(""),
        content_type: s(""),
    }
    .encode(&mut tm)
    .expect("encode");
    let mut body = proto::MAGIC.to_vec();
    body.extend(tm);
    body
}

fn unwrap(body: &[u8]) -> (String, String, Vec<u8>) {
    let rest = body.strip_prefix(proto::MAGIC).expect("k8s magic");
    let u = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest).expect("Unknown");
    let tm = u.type_meta.unwrap_or_default();
    (
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
        u.raw.unwrap_or_default(),
    )
}

#[test]
fn protobuf_over_http_create_get_list_error_and_custom_resources() {
    let sim = Sim::builder()
        .scenario("ks34-host")
        .tls(false)
        .start()
        .expect("sim");
    let auth = bearer(&sim);
    let pb = "application/vnd.kubernetes.protobuf";
    let body = pb_configmap("from-proto");
    let r = common::http_bytes(
        sim.url(),
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[
            ("Authorization", &auth),
            ("Content-Type", pb),
            (
                "Accept",
                "application/vnd.kubernetes.protobuf, application/json",
            ),
        ],
        &body,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some(pb));
    let (av, kind, raw) = unwrap(&r.body);
    assert_eq!((av.as_str(), kind.as_str()), ("v1", "ConfigMap"));
    let cm = core::ConfigMap::decode(raw.as_slice()).expect("ConfigMap");
    let meta = cm.metadata.expect("metadata");
    assert_eq!(meta.name.as_deref(), Some("from-proto"));
    assert!(meta.uid.is_some_and(|u| !u.is_empty()));
    assert_eq!(cm.data.get("k").map(String::as_str), Some("v"));

    // JSON clients see the same object
    let j = http(
        sim.url(),
        "GET",
        "/api/v1/namespaces/default/configmaps/from-proto",
        &[("Authorization", &auth)],
        "",
    )
    .json();
    assert_eq!(j["data"], json!({"k": "v"}));

    // a list in protobuf
    let r = common::http_bytes(
        sim.url(),
        "GET",
        "/api/v1/namespaces/default/configmaps",
        &[("Authorization", &auth), ("Accept", pb)],
        b"",
    );
    let (_, kind, raw) = unwrap(&r.body);
    assert_eq!(kind, "ConfigMapList");
    let list = core::ConfigMapList::decode(raw.as_slice()).expect("list");
    assert!(
        list.items
            .iter()
            .any(|c| c.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some("from-proto"))
    );
    assert!(list.metadata.and_then(|m| m.resource_version).is_some());

    // errors are protobuf Status objects
    let r = common::http_bytes(
        sim.url(),
        "GET",
        "/api/v1/namespaces/default/configmaps/missing",
        &[("Authorization", &auth), ("Accept", pb)],
        b"",
    );
    assert_eq!(r.status, 404);
    let (_, kind, raw) = unwrap(&r.body);
    assert_eq!(kind, "Status");
    let st = meta::Status::decode(raw.as_slice()).expect("Status");
    assert_eq!(st.reason.as_deref(), Some("NotFound"));
    assert_eq!(st.code, Some(404));

    // custom resources are JSON only: JSON when acceptable, 406 otherwise
    let path = "/apis/iam.kubesphere.io/v1alpha2/users";
    let r = common::http_bytes(
        sim.url(),
        "GET",
        path,
        &[
            ("Authorization", &auth),
            (
                "Accept",
                "application/vnd.kubernetes.protobuf, application/json",
            ),
        ],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = common::http_bytes(
        sim.url(),
        "GET",
        path,
        &[("Authorization", &auth), ("Accept", pb)],
        b"",
    );
    assert_eq!(r.status, 406, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn protobuf_watch_frames() {
    let sim = Sim::builder()
        .scenario("empty")
        .tls(false)
        .start()
        .expect("sim");
    let auth = bearer(&sim);
    sim.apply_yaml(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w, namespace: default}\ndata: {a: b}\n",
    )
    .expect("apply");
    let r = common::http_bytes(
        sim.url(),
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1",
        &[
            ("Authorization", &auth),
            ("Accept", "application/vnd.kubernetes.protobuf;stream=watch"),
        ],
        b"",
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.kubernetes.protobuf;stream=watch")
    );
    let evs = proto::read_watch_frames(&r.body).expect("frames");
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0].0, "ADDED");
    assert_eq!(evs[0].1["metadata"]["name"], "w");
    assert_eq!(evs[0].1["data"], json!({"a": "b"}));
    // the frame is WatchEvent as k8s-pb reads it, its object an enveloped ConfigMap
    let n = u32::from_be_bytes([r.body[0], r.body[1], r.body[2], r.body[3]]) as usize;
    let ev = meta::WatchEvent::decode(&r.body[4..4 + n]).expect("WatchEvent");
    let (_, kind, raw) = unwrap(&ev.object.and_then(|o| o.raw).expect("raw object"));
    assert_eq!(kind, "ConfigMap");
    assert_eq!(
        core::ConfigMap::decode(raw.as_slice())
            .expect("cm")
            .data
            .get("a")
            .map(String::as_str),
        Some("b")
    );
}

#[test]
fn kubectl_create_sends_protobuf_and_kubesim_takes_it() {
    for version in ["v1.27.16", "v1.30.6", "v1.33.1"] {
        let env = Env::start(Sim::builder().scenario("empty").git_version(version));
        env.ok(&["create", "namespace", "pb"]);
        // a protobuf Status error, as kubectl prints it
        let err = env.fails(&["create", "namespace", "pb"]);
        assert!(
            err.contains("namespaces \"pb\" already exists"),
            "{version}: {err}"
        );
        env.ok(&[
            "create",
            "configmap",
            "cm",
            "-n",
            "pb",
            "--from-literal=a=b",
        ]);
        env.ok(&[
            "create",
            "secret",
            "generic",
            "s",
            "-n",
            "pb",
            "--from-literal=password=hunter2",
        ]);
        env.ok(&["create", "serviceaccount", "sa", "-n", "pb"]);
        env.ok(&[
            "create",
            "deployment",
            "web",
            "-n",
            "pb",
            "--image=nginx:1.25",
            "--replicas=0",
        ]);
        env.ok(&["create", "job", "once", "-n", "pb", "--image=busybox"]);
        env.ok(&[
            "create",
            "role",
            "r",
            "-n",
            "pb",
            "--verb=get",
            "--resource=pods",
        ]);
        env.ok(&[
            "create",
            "rolebinding",
            "rb",
            "-n",
            "pb",
            "--role=r",
            "--serviceaccount=pb:sa",
        ]);
        env.ok(&[
            "create",
            "service",
            "clusterip",
            "svc",
            "-n",
            "pb",
            "--tcp=80:8080",
        ]);
        env.ok(&[
            "create",
            "poddisruptionbudget",
            "pdb",
            "-n",
            "pb",
            "--selector=app=web",
            "--min-available=1",
        ]);
        let cm: Value =
            serde_json::from_str(&env.ok(&["get", "cm", "cm", "-n", "pb", "-o", "json"]))
                .expect("json");
        assert_eq!(cm["data"], json!({"a": "b"}), "{version}");
        let secret: Value =
            serde_json::from_str(&env.ok(&["get", "secret", "s", "-n", "pb", "-o", "json"]))
                .expect("json");
        assert_eq!(secret["data"]["password"], "aHVudGVyMg==", "{version}");
        assert_eq!(secret["type"], "Opaque", "{version}");
        let d: Value =
            serde_json::from_str(&env.ok(&["get", "deploy", "web", "-n", "pb", "-o", "json"]))
                .expect("json");
        assert_eq!(d["spec"]["replicas"], 0, "{version}");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.25"
        );
        let svc: Value =
            serde_json::from_str(&env.ok(&["get", "svc", "svc", "-n", "pb", "-o", "json"]))
                .expect("json");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080, "{version}");
        let rb: Value =
            serde_json::from_str(&env.ok(&["get", "rolebinding", "rb", "-n", "pb", "-o", "json"]))
                .expect("json");
        assert_eq!(rb["subjects"][0]["name"], "sa", "{version}");
        env.ok(&["delete", "namespace", "pb"]);
    }
}
