//! `cargo run --release -p bench --bin bench-floor -- --kubeconfig F [--runs 30] PATH...`
//!
//! How close to its request floor a bare client gets on this machine: a process that connects
//! (TLS, HTTP/2, the kubeconfig's token, gzip accepted, as the plugins do), sends the given GETs
//! one after the other, reads each body to its end without decoding it, and exits. It does
//! nothing else: no argument framework, no kubeconfig parser, no JSON. Its wall time over the
//! sum of the modelled costs of its requests (kubesim's request log) is the lowest ratio any
//! client can expect for the same chain of requests, with the process start and the TLS
//! handshake included. `bench/RESULTS.md` compares `kubectl health` with it.
//!
//! Like the plugins, it asks for `/version` first, alongside the chain: that request, the first
//! on the connection, carries the modelled cost of the new connection, and is not part of the
//! chain or its floor (as in the plugins' runs, where it is not on the critical path).
//!
//! The kubeconfig must be one kubesim wrote (`server:`, `certificate-authority-data:` and
//! `token:` are read line by line, first occurrence each), and kubesim must be serving it.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

/// Measures a bare client's wall time against its request floor.
#[derive(Debug, Parser)]
#[command(name = "bench-floor")]
struct Args {
    /// A kubeconfig kubesim wrote
    #[arg(long)]
    kubeconfig: String,
    /// Measured runs (after one discarded warm-up run)
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Make the requests once and exit (what each measured run executes)
    #[arg(long, hide = true)]
    probe: bool,
    /// The GETs, in order (path and query), for example `/api/v1/namespaces/kube-system/pods?limit=500`
    #[arg(required = true)]
    paths: Vec<String>,
}

/// What the bare client needs from the kubeconfig.
struct Target {
    /// `https://127.0.0.1:PORT`
    server: String,
    /// `127.0.0.1:PORT`
    authority: String,
    ca_pem: Vec<u8>,
    token: String,
}

fn target(kubeconfig: &str) -> Result<Target> {
    let text = std::fs::read_to_string(kubeconfig).with_context(|| format!("read {kubeconfig}"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
            .with_context(|| format!("{kubeconfig} has no `{key}` line"))
    };
    let server = field("server:")?;
    let Some(authority) = server.strip_prefix("https://") else {
        bail!("{server}: only https:// servers are measured");
    };
    let ca_pem = base64::engine::general_purpose::STANDARD
        .decode(field("certificate-authority-data:")?)
        .context("certificate-authority-data is not base64")?;
    Ok(Target {
        authority: authority.trim_end_matches('/').to_string(),
        server,
        ca_pem,
        token: field("token:")?,
    })
}

/// Connects once and makes the GETs in order, each read to its end.
async fn probe(t: &Target, paths: &[String]) -> Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&t.ca_pem) {
        roots.add(cert.context("CA certificate")?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let host = t
        .authority
        .rsplit_once(':')
        .map_or(&*t.authority, |(h, _)| h);
    let name = ServerName::try_from(host.to_string())?;
    let tcp = tokio::net::TcpStream::connect(&t.authority).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await?;
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let auth = format!("Bearer {}", t.token);
    let get = |path: &str| {
        hyper::Request::get(format!("{}{path}", t.server))
            .header("authorization", &auth)
            .header("accept", "application/json")
            .header("accept-encoding", "gzip")
            .body(Empty::<Bytes>::new())
    };
    let version = tokio::spawn(send.send_request(get("/version")?));
    send.ready().await?;
    for path in paths {
        let resp = send.send_request(get(path)?).await?;
        if !resp.status().is_success() {
            bail!("GET {path}: {}", resp.status());
        }
        resp.into_body().collect().await?;
    }
    version.await??.into_body().collect().await?;
    Ok(())
}

/// kubesim's request log (admin endpoint), as (arrival µs, done µs, cost µs), without the
/// first request on the connection (`/version`).
async fn request_log(t: &Target, method: &str) -> Result<Vec<(u64, u64, u64)>> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "-X", method, "--cacert", "/dev/stdin"])
        .arg(format!("{}/kubesim/v1/requests", t.server))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("piped").write_all(&t.ca_pem)?;
            child.wait_with_output()
        })
        .context("curl the request log")?;
    if !out.status.success() {
        bail!("curl the request log: {}", out.status);
    }
    if method != "GET" {
        return Ok(Vec::new());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let items = v.as_array().context("request log: not an array")?;
    let first = items
        .iter()
        .find(|r| r["firstOnConnection"].as_bool() == Some(true));
    if first.and_then(|r| r["request"].as_str()) != Some("GET /version") {
        bail!("the first request on the connection was not /version: {first:?}");
    }
    Ok(items
        .iter()
        .filter(|r| r["firstOnConnection"].as_bool() != Some(true))
        .map(|r| {
            let n = |k: &str| r[k].as_u64().unwrap_or(0);
            (n("arrivalUs"), n("doneUs"), n("costUs"))
        })
        .collect())
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t = target(&args.kubeconfig)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if args.probe {
        return rt.block_on(probe(&t, &args.paths));
    }
    let me = std::env::current_exe()?;
    let (mut wall, mut floor, mut start, mut tail) = (vec![], vec![], vec![], vec![]);
    for run in 0..=args.runs {
        rt.block_on(request_log(&t, "DELETE"))?;
        let t0 = now_us();
        let began = Instant::now();
        let status = Command::new(&me)
            .args(["--probe", "--kubeconfig", &args.kubeconfig])
            .args(&args.paths)
            .status()?;
        let took = began.elapsed().as_secs_f64() * 1000.0;
        let t1 = now_us();
        if !status.success() {
            bail!("the probe failed: {status}");
        }
        let log = rt.block_on(request_log(&t, "GET"))?;
        if run == 0 {
            continue;
        }
        let first = log.iter().map(|r| r.0).min().unwrap_or(t0);
        let last = log.iter().map(|r| r.1).max().unwrap_or(t1);
        wall.push(took);
        floor.push(log.iter().map(|r| r.2).sum::<u64>() as f64 / 1000.0);
        start.push(first.saturating_sub(t0) as f64 / 1000.0);
        tail.push(t1.saturating_sub(last) as f64 / 1000.0);
    }
    let (w, f) = (median(wall), median(floor));
    println!(
        "bare client, {} runs: wall {w:.1} ms, request floor {f:.1} ms, wall ÷ floor {:.2}; \
         start-up (to the first request's arrival) {:.1} ms, after the last answer {:.1} ms (medians)",
        args.runs,
        w / f,
        median(start),
        median(tail)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_sends_version_then_the_chain_in_order_and_reads_a_kubesim_kubeconfig() {
        let sim = kubesim::Sim::builder()
            .scenario("ks34-host")
            .cost(kubesim::Cost::Real)
            .start()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&path).unwrap();
        let t = target(path.to_str().unwrap()).unwrap();
        assert_eq!(t.server, sim.url());
        assert!(!t.token.is_empty());
        let chain = [
            "/api/v1/namespaces?limit=500".to_string(),
            "/api/v1/namespaces/kube-system/pods?limit=500".to_string(),
        ];
        sim.reset_counters();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(probe(&t, &chain)).unwrap();
        let mut log = sim.requests();
        log.sort_by_key(|r| r.arrival_us);
        // /version first on the connection (its cost is the new connection's), then the chain,
        // each sent once the previous one was answered.
        let first: Vec<_> = log.iter().filter(|r| r.first_on_connection).collect();
        assert_eq!(first.len(), 1, "{log:?}");
        assert_eq!(first[0].request, "GET /version");
        let chain_log: Vec<_> = log.iter().filter(|r| r.request != "GET /version").collect();
        assert_eq!(
            chain_log
                .iter()
                .map(|r| r.request.as_str())
                .collect::<Vec<_>>(),
            [
                "GET /api/v1/namespaces",
                "GET /api/v1/namespaces/kube-system/pods"
            ]
        );
        assert!(
            chain_log[1].arrival_us >= chain_log[0].done_us,
            "{chain_log:?}"
        );
        assert!(chain_log.iter().all(|r| r.status == 200 && r.cost_us > 0));
        // A path the server refuses fails the probe.
        let bad = ["/api/v1/namespaces/kube-system/nothing".to_string()];
        assert!(rt.block_on(probe(&t, &bad)).is_err());
    }

    #[test]
    fn a_kubeconfig_without_a_token_or_https_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "clusters:\n- cluster:\n    server: http://127.0.0.1:1\n",
        )
        .unwrap();
        let e = target(path.to_str().unwrap()).err().unwrap().to_string();
        assert!(e.contains("only https://"), "{e}");
        std::fs::write(
            &path,
            "    server: https://127.0.0.1:1\n    certificate-authority-data: AAAA\n",
        )
        .unwrap();
        let e = target(path.to_str().unwrap()).err().unwrap().to_string();
        assert!(e.contains("no `token:` line"), "{e}");
    }
}
