//! Test harness: a running [`kubesim::Sim`] with a kubeconfig in a temp dir, helpers to run
//! the real `/usr/bin/kubectl` against it, and a minimal raw HTTP/1.1 client.
#![allow(dead_code)]

use kubesim::Sim;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A server plus a private HOME and kubeconfig for kubectl.
pub struct Env {
    /// The server.
    pub sim: Sim,
    /// Temp dir (HOME for kubectl, so caches do not leak between tests).
    pub dir: tempfile::TempDir,
    /// Kubeconfig path.
    pub kubeconfig: PathBuf,
}

impl Env {
    /// Starts a sim from a builder.
    pub fn start(b: kubesim::SimBuilder) -> Self {
        let sim = b.start().expect("start kubesim");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("write kubeconfig");
        Env {
            sim,
            dir,
            kubeconfig,
        }
    }

    /// Starts the `empty` scenario over HTTPS.
    pub fn empty() -> Self {
        Self::start(Sim::builder().scenario("empty"))
    }

    /// Runs kubectl with args.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// Runs kubectl with args and stdin.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("/usr/bin/kubectl");
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let Some(s) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(s.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl, asserting success and a clean stderr; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_stdin(args, None)
    }

    /// Like [`Env::ok`] with stdin.
    pub fn ok_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_stdin(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
        assert!(
            stderr.trim().is_empty(),
            "kubectl {args:?} wrote to stderr: {stderr}"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct Raw {
    /// Status code.
    pub status: u16,
    /// Header lines (lowercased names).
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
    /// Whether the body was shorter than Content-Length (connection dropped).
    pub truncated: bool,
}

impl Raw {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request over plain HTTP (`http://` sims only) and reads the whole response.
pub fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Raw {
    http_bytes(url, method, path, headers, body.as_bytes())
}

/// [`http`] with a binary body.
pub fn http_bytes(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).expect("send");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let raw = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(&raw) } else { raw };
    let truncated = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .is_some_and(|n| body.len() < n);
    Raw {
        status,
        headers,
        body,
        truncated,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < nl + 2 + n {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[(nl + 4 + n).min(b.len())..];
    }
    out
}

/// The admin bearer header for a sim.
pub fn bearer(sim: &Sim) -> String {
    format!("Bearer {}", sim.admin_token())
}
