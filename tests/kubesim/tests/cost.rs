//! The cost layer: gzip of large responses when asked (raw HTTP and the real kubectl), the
//! request log, and the real-cost model's per-request costs (`--cost real`). No timing is
//! asserted: the modelled costs are read from the log.

mod common;

use common::{Env, bearer, http};
use kubesim::{Cost, CostModel, Sim};
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

#[test]
fn large_responses_are_gzipped_when_asked_and_small_ones_never() {
    // 300 pods: one list of several hundred kB, over the 128 KiB threshold
    let sim = Sim::builder()
        .scenario("scale:nodes=2,namespaces=1,pods=300")
        .tls(false)
        .start()
        .unwrap();
    let auth = bearer(&sim);
    let plain = http(
        sim.url(),
        "GET",
        "/api/v1/pods",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(plain.status, 200);
    assert!(plain.body.len() > kubesim::cost::GZIP_THRESHOLD);
    assert_eq!(plain.header("content-encoding"), None);

    let zipped = http(
        sim.url(),
        "GET",
        "/api/v1/pods",
        &[("Authorization", &auth), ("Accept-Encoding", "gzip")],
        "",
    );
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("vary"), Some("Accept-Encoding"));
    assert!(zipped.body.len() * 5 < plain.body.len());
    let body: serde_json::Value = serde_json::from_slice(&gunzip(&zipped.body)).unwrap();
    let items = body["items"].as_array().unwrap().len();
    assert_eq!(items, plain.json()["items"].as_array().unwrap().len());
    assert!(items >= 300, "{items}");

    // small: /version and one namespace's list stay plain even when gzip is accepted
    for path in ["/version", "/api/v1/namespaces/kube-public/pods"] {
        let r = http(
            sim.url(),
            "GET",
            path,
            &[("Authorization", &auth), ("Accept-Encoding", "gzip")],
            "",
        );
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-encoding"), None, "{path}");
        r.json();
    }

    let log = sim.requests();
    let gz: Vec<_> = log.iter().filter(|r| r.gzip).collect();
    assert_eq!(gz.len(), 1, "{log:?}");
    assert_eq!(gz[0].request, "GET /api/v1/pods");
    assert_eq!(gz[0].body_bytes, Some(plain.body.len() as u64));
    assert_eq!(gz[0].wire_bytes, Some(zipped.body.len() as u64));
    // under the free model nothing is delayed
    assert!(log.iter().all(|r| r.cost_us == 0), "{log:?}");
}

#[test]
fn kubectl_reads_gzipped_lists() {
    let env = Env::start(Sim::builder().scenario("scale:nodes=2,namespaces=2,pods=300"));
    env.sim.reset_counters();
    let pods: serde_json::Value =
        serde_json::from_str(&env.ok(&["get", "pods", "-A", "-o", "json"])).unwrap();
    let names = env.ok(&["get", "pods", "-A", "--no-headers", "-o", "name"]);
    let n = pods["items"].as_array().unwrap().len();
    assert!(n >= 300, "{n}");
    assert_eq!(names.lines().count(), n);
    let log = env.sim.requests();
    let lists: Vec<_> = log
        .iter()
        .filter(|r| r.request == "GET /api/v1/pods")
        .collect();
    assert!(!lists.is_empty(), "{log:?}");
    // kubectl asks for gzip: its large pod lists came compressed
    assert!(lists.iter().any(|r| r.gzip), "{lists:?}");
    // discovery documents and /version are small: never compressed
    assert!(
        log.iter()
            .filter(|r| r.body_bytes.unwrap_or(0) <= kubesim::cost::GZIP_THRESHOLD as u64)
            .all(|r| !r.gzip),
        "{log:?}"
    );
}

#[test]
fn the_real_model_charges_each_request_its_size_and_new_connections_more() {
    let env = Env::start(
        Sim::builder()
            .scenario("scale:nodes=2,namespaces=1,pods=300")
            .cost(Cost::Real),
    );
    let m = CostModel::REAL;
    // (kubectl args, the connection presents a client certificate)
    for (args, cert) in [
        (&["get", "pods", "-A", "-o", "name"][..], false),
        (
            &[
                "--context",
                "kubesim-cert",
                "get",
                "pods",
                "-A",
                "-o",
                "name",
            ][..],
            true,
        ),
    ] {
        env.sim.reset_counters();
        env.ok(args);
        let log = env.sim.requests();
        assert!(!log.is_empty());
        for r in &log {
            let conn = kubesim::cost::Connection {
                first_request: r.first_on_connection,
                tls: true,
                client_certificate: cert,
            };
            let want = m.cost(r.body_bytes.unwrap_or(0) as usize, conn);
            assert_eq!(r.cost_us, want.as_micros() as u64, "{r:?}");
            assert!(r.done_us >= r.arrival_us, "{r:?}");
        }
        // each new connection's first request paid for the handshake
        assert!(log.iter().any(|r| r.first_on_connection), "{log:?}");
        let pods = log
            .iter()
            .find(|r| r.request == "GET /api/v1/pods")
            .unwrap();
        // a few hundred kB cost several ms on top of the per-request cost
        assert!(
            Duration::from_micros(pods.cost_us) > m.per_request + Duration::from_millis(3),
            "{pods:?}"
        );
    }
}

#[test]
fn serve_takes_the_cost_model_and_serves_the_request_log() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--scenario", "empty", "--http", "--cost", "real"])
        .arg("--kubeconfig")
        .arg(&kc)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !kc.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&kc).unwrap_or_default();
    let url = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap_or_default()
        .to_string();
    let version = http(&url, "GET", "/version", &[], "");
    let log = http(&url, "GET", "/kubesim/v1/requests", &[], "");
    let cleared = http(&url, "DELETE", "/kubesim/v1/requests", &[], "");
    let after = http(&url, "GET", "/kubesim/v1/requests", &[], "");
    let bad = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--cost", "cheap", "--kubeconfig"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert_eq!(version.status, 200);
    let log = log.json();
    let recs = log.as_array().unwrap();
    assert_eq!(recs.len(), 1, "{log}");
    assert_eq!(recs[0]["request"], "GET /version");
    assert_eq!(
        recs[0]["costUs"],
        CostModel::REAL
            .cost(
                version.body.len(),
                kubesim::cost::Connection {
                    first_request: true,
                    tls: false,
                    client_certificate: false
                }
            )
            .as_micros() as u64
    );
    assert_eq!(cleared.status, 200);
    assert_eq!(after.json(), serde_json::json!([]));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cheap"));
}
