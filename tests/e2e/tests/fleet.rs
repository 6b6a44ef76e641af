//! `--fleet` (issue 16): `kubectl health --fleet` and `kubectl upgrade-plan --fleet` run against a
//! KubeSphere host served by one kubesim, with its two members served by two more. The host's
//! `Cluster` objects are rewritten so that `spec.connection.kubernetesAPIEndpoint` is each member
//! sim's URL, and the user's kubeconfig has a context per cluster (or the Cluster objects carry
//! stored kubeconfigs, for `--use-stored-kubeconfigs`).

use std::path::{Path, PathBuf};

use base64::Engine;
use e2e::{Env, Run, Sim};
use serde_json::{Value, json};

/// A token the stored kubeconfigs carry: it must never be seen anywhere.
const STORED_TOKEN: &str = "stored-kubeconfig-token-7f3a9c1e5b";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn member_sim(scenario: &str) -> Sim {
    Sim::builder()
        .scenario(scenario)
        .user("stored", STORED_TOKEN, &["system:masters"])
        .start()
        .unwrap_or_else(|e| panic!("kubesim {scenario}: {e}"))
}

/// A kubeconfig context: its name, server, CA and token.
struct Ctx<'a> {
    name: &'a str,
    server: &'a str,
    ca: Option<&'a str>,
    token: &'a str,
}

fn kubeconfig(contexts: &[Ctx<'_>], current: &str) -> String {
    let mut clusters = String::new();
    let mut ctxs = String::new();
    let mut users = String::new();
    for c in contexts {
        clusters.push_str(&format!(
            "- name: c-{n}\n  cluster:\n    server: {s}\n",
            n = c.name,
            s = c.server
        ));
        if let Some(ca) = c.ca {
            clusters.push_str(&format!("    certificate-authority-data: {}\n", b64(ca)));
        }
        ctxs.push_str(&format!(
            "- name: {n}\n  context:\n    cluster: c-{n}\n    user: u-{n}\n",
            n = c.name
        ));
        users.push_str(&format!(
            "- name: u-{n}\n  user:\n    token: {t}\n",
            n = c.name,
            t = c.token
        ));
    }
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {current}\nclusters:\n{clusters}contexts:\n{ctxs}users:\n{users}"
    )
}

fn host_ctx(env: &Env) -> Ctx<'_> {
    Ctx {
        name: "host-admin",
        server: env.sim.url(),
        ca: env.sim.ca_pem(),
        token: env.sim.admin_token(),
    }
}

fn member_ctx<'a>(name: &'a str, sim: &'a Sim) -> Ctx<'a> {
    Ctx {
        name,
        server: sim.url(),
        ca: sim.ca_pem(),
        token: sim.admin_token(),
    }
}

/// Rewrites `spec.connection` of the host's Cluster object `name`.
fn set_connection(env: &Env, name: &str, connection: Value) {
    let body = json!({"spec": {"connection": connection}});
    env.sim
        .request(
            "PATCH",
            &format!("/apis/cluster.kubesphere.io/v1alpha1/clusters/{name}"),
            "application/merge-patch+json",
            &serde_json::to_vec(&body).unwrap(),
        )
        .unwrap_or_else(|e| panic!("patch Cluster {name}: {e}"));
}

/// Points `name` at `sim` (no stored kubeconfig).
fn point_at(env: &Env, name: &str, server: &str) {
    set_connection(
        env,
        name,
        json!({"type": "direct", "kubernetesAPIEndpoint": server, "kubeconfig": null}),
    );
}

/// The kubeconfig KubeSphere would store for `sim`, with `token`.
fn stored_kubeconfig(sim: &Sim, token: &str) -> String {
    let ctx = Ctx {
        name: "kubernetes-admin@cluster.local",
        server: sim.url(),
        ca: sim.ca_pem(),
        token,
    };
    kubeconfig(&[ctx], "kubernetes-admin@cluster.local")
}

/// A host (`ks34-host`) with members `member-a` and `member-b` served by their own sims, and a
/// kubeconfig with a context per cluster written as the default one.
struct Fleet {
    host: Env,
    a: Sim,
    b: Sim,
}

impl Fleet {
    fn new(a: &str, b: &str) -> Self {
        let host = Env::new("ks34-host");
        let a = member_sim(a);
        let b = member_sim(b);
        point_at(&host, "member-a", a.url());
        point_at(&host, "member-b", b.url());
        let f = Self { host, a, b };
        f.write_kubeconfig(&["member-a", "member-b"]);
        f
    }

    fn write_kubeconfig(&self, members: &[&str]) {
        let mut ctxs = vec![host_ctx(&self.host)];
        for m in members {
            ctxs.push(match *m {
                "member-a" => member_ctx("member-a-admin", &self.a),
                "member-b" => member_ctx("member-b-admin", &self.b),
                other => panic!("{other}"),
            });
        }
        std::fs::write(&self.host.kubeconfig, kubeconfig(&ctxs, "host-admin")).unwrap();
    }

    fn run(&self, plugin: &str, args: &[&str]) -> Run {
        let run = self.host.plugin(plugin).args(args).run();
        run.assert_no_panic();
        run
    }
}

fn cluster<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {report:#}"))
}

fn names_and_statuses(report: &Value) -> Vec<(String, String)> {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// One `fleet: [n/3] <cluster>: …` line per cluster on stderr.
fn assert_streamed(run: &Run, clusters: &[&str]) {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("fleet: ["))
        .collect();
    assert_eq!(lines.len(), clusters.len(), "{}", run.stderr);
    for (n, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("fleet: [{}/{}] ", n + 1, clusters.len())),
            "{line}"
        );
    }
    for c in clusters {
        assert!(
            lines.iter().any(|l| l.contains(&format!("] {c}: "))),
            "{c} not streamed: {}",
            run.stderr
        );
    }
}

#[test]
fn a_healthy_fleet_passes_with_every_cluster_reported() {
    let f = Fleet::new("ks34-member", "ks34-member");
    let run = f.run("health", &["--fleet", "-o", "json"]);
    run.assert_code(0);
    let r = run.json();
    assert_eq!(r["apiVersion"], "kupgrade.dev/v1alpha1");
    assert_eq!(r["kind"], "FleetHealth");
    assert_eq!(r["status"], "pass");
    assert_eq!(
        names_and_statuses(&r),
        pairs(&[("host", "pass"), ("member-a", "pass"), ("member-b", "pass")])
    );
    assert_eq!(cluster(&r, "host")["role"], "host");
    assert_eq!(cluster(&r, "host")["context"], "host-admin");
    let a = cluster(&r, "member-a");
    assert_eq!(a["role"], "member");
    assert_eq!(a["context"], "member-a-admin");
    assert_eq!(a["via"], "context `member-a-admin` (server matches)");
    // Each cluster's own full report, read from its own server.
    assert_eq!(a["report"]["kind"], "HealthReport");
    assert_eq!(a["report"]["serverVersion"], a["kubernetesVersion"]);
    assert!(
        a["report"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "kubesphere"
                && c["summary"].as_str().unwrap().contains("(member)")),
        "{a:#}"
    );
    assert!(f.a.counters().count("GET /version") >= 1);
    assert!(f.b.counters().count("GET /version") >= 1);
    assert_streamed(&run, &["host", "member-a", "member-b"]);

    // The table: the fleet table first, then each cluster's own report.
    let table = f.run("health", &["--fleet", "--max-parallel", "1"]);
    table.assert_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    let head: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        head,
        [
            "CLUSTER",
            "ROLE",
            "KUBERNETES",
            "KUBESPHERE",
            "STATUS",
            "BLOCKING",
            "REASON"
        ]
    );
    for (line, name) in lines[1..4].iter().zip(["host", "member-a", "member-b"]) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], name, "{line}");
        assert_eq!(cols[4], "PASS", "{line}");
        assert_eq!(cols[5], "0", "{line}");
    }
    for name in ["host", "member-a", "member-b"] {
        table.assert_stdout_contains(&format!("=== {name} ("));
    }
    // --wait: every cluster passes in the first round.
    let waited = f.run(
        "health",
        &["--fleet", "--wait", "--timeout", "1m", "-o", "json"],
    );
    waited.assert_code(0);
    waited.assert_stderr_contains("fleet: all 3 clusters pass after 1 round");
    assert_eq!(waited.json()["kind"], "FleetHealth");
    // Through the real kubectl, as krew installs it.
    let via = f
        .host
        .kubectl()
        .args(["health", "--fleet", "-o", "jsonpath={.clusters[*].status}"])
        .run();
    via.assert_success();
    assert_eq!(via.stdout, "pass pass pass");
}

#[test]
fn the_fleet_plan_is_one_runbook_in_fleet_order_with_each_members_context() {
    let f = Fleet::new("ks34-member", "ks34-member");
    let run = f.run("upgrade-plan", &["--fleet", "-o", "json"]);
    run.assert_code(0);
    let r = run.json();
    assert_eq!(r["kind"], "FleetPlan");
    assert_eq!(r["apiVersion"], "kupgrade.dev/v1alpha1");
    assert_eq!(r["ready"], true);
    assert_eq!(
        names_and_statuses(&r),
        pairs(&[
            ("host", "ready"),
            ("member-a", "ready"),
            ("member-b", "ready")
        ])
    );
    assert_eq!(cluster(&r, "member-b")["report"]["kind"], "UpgradePlan");
    assert_eq!(
        cluster(&r, "member-b")["report"]["cluster"]["kubesphere"]["role"],
        "member"
    );
    assert_streamed(&run, &["host", "member-a", "member-b"]);

    let steps = r["steps"].as_array().unwrap();
    let phases: Vec<&str> = steps.iter().map(|s| s["phase"].as_str().unwrap()).collect();
    // Ordered: every host step, then member-a's, then member-b's, then the fleet's.
    let first = |prefix: &str| phases.iter().position(|p| p.starts_with(prefix));
    let last = |prefix: &str| phases.iter().rposition(|p| p.starts_with(prefix));
    let (host_end, a_start, a_end, b_start, b_end) = (
        last("host ").unwrap(),
        first("member-a ").unwrap(),
        last("member-a ").unwrap(),
        first("member-b ").unwrap(),
        last("member-b ").unwrap(),
    );
    assert!(host_end < a_start && a_end < b_start, "{phases:#?}");
    let untaint = first("fleet untaint").expect("untaint step");
    let gateways = first("fleet gateways").expect("gateway step");
    let verify = first("fleet verify").expect("verify step");
    assert!(
        b_end < untaint && untaint < gateways && gateways < verify,
        "{phases:#?}"
    );
    assert_eq!(verify, steps.len() - 1);
    let numbers: Vec<u64> = steps
        .iter()
        .map(|s| s["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=steps.len() as u64).collect::<Vec<_>>());

    let commands = |prefix: &str| -> Vec<String> {
        steps
            .iter()
            .filter(|s| s["phase"].as_str().unwrap().starts_with(prefix))
            .flat_map(|s| s["commands"].as_array().unwrap().clone())
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    // The members migrate with their own contexts (not a guess from the host's plan).
    assert!(
        commands("member-a ")
            .contains(&"kubectl --context member-a-admin ks-migrate member".into()),
        "{:#?}",
        commands("member-a ")
    );
    assert!(
        commands("member-b ")
            .contains(&"kubectl --context member-b-admin ks-migrate member".into())
    );
    for c in commands("member-a ") {
        assert!(
            !c.starts_with("kubectl ") || c.starts_with("kubectl --context member-a-admin "),
            "{c}"
        );
    }
    assert!(commands("host ").contains(&"kubectl --context host-admin ks-migrate host".into()));
    assert!(
        !commands("host ")
            .iter()
            .any(|c| c.contains("ks-migrate member")),
        "member steps belong to the members: {:#?}",
        commands("host ")
    );
    assert_eq!(
        commands("fleet untaint"),
        ["kubectl --context host-admin untaint-member --all"]
    );
    assert_eq!(
        commands("fleet gateways"),
        ["kubectl --context host-admin ks-migrate gateway all"]
    );
    let verify_cmds = commands("fleet verify");
    assert!(verify_cmds.contains(&"kubectl --context member-b-admin get nodes -o wide".into()));
    assert!(verify_cmds.contains(&"kubectl --context host-admin health --fleet --wait".into()));

    // The table ends with the fleet runbook and verdict.
    let table = f.run("upgrade-plan", &["--fleet"]);
    table.assert_code(0);
    assert!(table.stdout.starts_with("CLUSTER "), "{}", table.stdout);
    table.assert_stdout_contains("=== FLEET RUNBOOK ===");
    table.assert_stdout_contains("FLEET READY: 3 of 3 cluster(s) planned");
    // YAML carries the same report.
    let yaml = f.run("upgrade-plan", &["--fleet", "-o", "yaml"]);
    yaml.assert_code(0);
    assert_eq!(yaml.yaml()["kind"], "FleetPlan");
}

#[test]
fn a_broken_member_shows_its_findings_under_its_name_and_exits_1() {
    let f = Fleet::new("ks34-member", "broken");
    let run = f.run("health", &["--fleet", "-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["status"], "fail");
    assert_eq!(r["exitCode"], 1);
    assert_eq!(cluster(&r, "member-a")["status"], "pass");
    let b = cluster(&r, "member-b");
    assert_eq!(b["status"], "fail");
    assert_eq!(b["exitCode"], 1);
    assert!(b["blocking"].as_u64().unwrap() > 0, "{b:#}");
    let failing: Vec<&Value> = b["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(!failing.is_empty());
    let reason = b["reason"].as_str().unwrap();
    for c in &failing {
        assert!(
            reason.contains(&format!("{} fail", c["id"].as_str().unwrap())),
            "{reason}"
        );
    }
    // The findings are broken's (ks-console in ImagePullBackOff), under member-b only.
    let text = serde_json::to_string(&b["report"]).unwrap();
    assert!(text.contains("ImagePullBackOff"), "{text}");
    assert!(
        !serde_json::to_string(cluster(&r, "member-a"))
            .unwrap()
            .contains("ImagePullBackOff")
    );

    let table = f.run("health", &["--fleet"]);
    table.assert_code(1);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("member-b "))
        .unwrap();
    assert!(row.contains(" FAIL "), "{row}");
    let section = table.stdout.split("=== member-b (").nth(1).unwrap();
    assert!(section.contains("ImagePullBackOff"), "{section}");

    // --wait re-checks member-b until the timeout (the rounds' lines depend on timing and are not
    // asserted), then reports it, exit 1.
    let waited = f.run(
        "health",
        &[
            "--fleet",
            "--wait",
            "--timeout",
            "2s",
            "--interval",
            "1s",
            "-o",
            "json",
        ],
    );
    waited.assert_code(1);
    waited.assert_stderr_contains(
        "warning: timed out after 2s waiting for every cluster to pass; not passing: member-b (fail)",
    );
    assert_eq!(cluster(&waited.json(), "member-b")["status"], "fail");

    let plan = f.run("upgrade-plan", &["--fleet", "-o", "json"]);
    plan.assert_code(1);
    let p = plan.json();
    assert_eq!(p["ready"], false);
    assert_eq!(cluster(&p, "member-b")["status"], "not-ready");
    assert!(
        cluster(&p, "member-b")["reason"]
            .as_str()
            .unwrap()
            .contains("NODE001")
    );
    assert_eq!(cluster(&p, "member-a")["status"], "ready");
}

#[test]
fn an_unreachable_member_is_an_error_row_and_the_others_still_report() {
    let f = Fleet::new("ks34-member", "ks34-member");
    // member-b: its endpoint is a closed port, and a context points there.
    point_at(&f.host, "member-b", "https://127.0.0.1:1");
    let mut ctxs = vec![host_ctx(&f.host), member_ctx("member-a-admin", &f.a)];
    ctxs.push(Ctx {
        name: "member-b-admin",
        server: "https://127.0.0.1:1",
        ca: f.b.ca_pem(),
        token: "t",
    });
    std::fs::write(&f.host.kubeconfig, kubeconfig(&ctxs, "host-admin")).unwrap();
    let run = f.run(
        "health",
        &["--fleet", "--request-timeout", "10s", "-o", "json"],
    );
    run.assert_code(2);
    let r = run.json();
    assert_eq!(
        names_and_statuses(&r),
        pairs(&[
            ("host", "pass"),
            ("member-a", "pass"),
            ("member-b", "error")
        ])
    );
    let b = cluster(&r, "member-b");
    assert_eq!(b["exitCode"], 2);
    assert!(b.get("report").is_none());
    let reason = b["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("context `member-b-admin`: cannot get the API server version"),
        "{reason}"
    );
    // What the host knows of it is still shown.
    assert_eq!(b["kubesphereVersion"], "v3.4.1");
    assert_streamed(&run, &["host", "member-a", "member-b"]);

    let table = f.run("health", &["--fleet"]);
    table.assert_code(2);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("member-b "))
        .unwrap();
    assert!(
        row.contains(" ERROR ") && row.contains("cannot get the API server version"),
        "{row}"
    );
    table.assert_stdout_contains("=== member-b (member, context `member-b-admin` (server matches)) ===\nerror: context `member-b-admin`");

    // A failing member outranks an unreachable one (1 over 2), as in one cluster.
    let broken = Sim::builder().scenario("broken").start().unwrap();
    point_at(&f.host, "member-a", broken.url());
    ctxs[1] = member_ctx("member-a-admin", &broken);
    std::fs::write(&f.host.kubeconfig, kubeconfig(&ctxs, "host-admin")).unwrap();
    f.run("health", &["--fleet", "-o", "json"]).assert_code(1);

    // No context has member-b's server: the reason says how to reach it; an explicit
    // --member-context reaches it (and wins over the server match for member-a).
    point_at(&f.host, "member-a", f.a.url());
    point_at(&f.host, "member-b", "https://member-b.example:6443");
    f.write_kubeconfig(&["member-a", "member-b"]);
    let run = f.run("upgrade-plan", &["--fleet", "-o", "json"]);
    run.assert_code(2);
    let r = run.json();
    let reason = cluster(&r, "member-b")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("no context of your kubeconfig has server https://member-b.example:6443")
            && reason.contains("--member-context member-b=CONTEXT"),
        "{reason}"
    );
    assert_eq!(cluster(&r, "member-a")["status"], "ready");
    // The runbook says member-b is blocked, in its place.
    let steps = r["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["phase"] == "member-b blocked"));

    let run = f.run(
        "health",
        &[
            "--fleet",
            "--member-context",
            "member-b=member-b-admin",
            "--member-context",
            "member-a=member-b-admin",
            "-o",
            "json",
        ],
    );
    run.assert_code(0);
    let r = run.json();
    assert_eq!(
        cluster(&r, "member-b")["via"],
        "context `member-b-admin` (--member-context)"
    );
    assert_eq!(cluster(&r, "member-a")["context"], "member-b-admin");
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_symlink() {
            continue;
        }
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn stored_kubeconfigs_are_used_only_on_request_and_never_shown() {
    let host = Env::new("ks34-host");
    let a = member_sim("ks34-member");
    let b = member_sim("ks34-member");
    // The user's kubeconfig knows the host only; KubeSphere stores a kubeconfig per member.
    for (name, sim, token) in [
        ("member-a", &a, STORED_TOKEN),
        ("member-b", &b, STORED_TOKEN),
    ] {
        set_connection(
            &host,
            name,
            json!({"type": "direct", "kubernetesAPIEndpoint": sim.url(),
                   "kubeconfig": b64(&stored_kubeconfig(sim, token))}),
        );
    }
    std::fs::write(
        &host.kubeconfig,
        kubeconfig(&[host_ctx(&host)], "host-admin"),
    )
    .unwrap();

    // Without the opt-in, no member is reached.
    let run = host.plugin("health").args(["--fleet", "-o", "json"]).run();
    run.assert_code(2);
    let r = run.json();
    let reason = cluster(&r, "member-a")["reason"].as_str().unwrap();
    assert!(reason.contains("--use-stored-kubeconfigs"), "{reason}");
    assert_eq!(a.counters().count("GET /version"), 0);

    let mut runs = Vec::new();
    for (plugin, extra) in [
        ("health", vec!["-o", "json"]),
        ("health", vec!["-o", "yaml"]),
        ("health", vec!["-o", "wide"]),
        ("upgrade-plan", vec!["-o", "json"]),
        ("upgrade-plan", vec![]),
        // The request log (-v=6) names every request, and never a credential.
        ("health", vec!["-v=6"]),
        ("upgrade-plan", vec!["-v=6", "-o", "json"]),
    ] {
        let mut args = vec!["--fleet", "--use-stored-kubeconfigs"];
        args.extend(extra);
        let run = host.plugin(plugin).args(&args).run();
        run.assert_no_panic();
        run.assert_code(0);
        runs.push(run);
    }
    // -v=6 logged the members' requests too, through the stored kubeconfigs.
    let member_url = a.url().trim_end_matches('/').to_string();
    assert!(
        runs[5].stderr.contains(&member_url),
        "no request to {member_url} logged:\n{}",
        runs[5].stderr
    );
    let r = runs[0].json();
    assert_eq!(
        names_and_statuses(&r),
        pairs(&[("host", "pass"), ("member-a", "pass"), ("member-b", "pass")])
    );
    assert_eq!(
        cluster(&r, "member-a")["via"],
        "stored kubeconfig (--use-stored-kubeconfigs)"
    );
    // The members were read with the stored credentials.
    assert!(a.counters().count("GET /version") >= 1);

    // A stored kubeconfig with a wrong token: 401, an ERROR row, the others still report.
    set_connection(
        &host,
        "member-b",
        json!({"kubeconfig": b64(&stored_kubeconfig(&b, "stored-kubeconfig-wrong-token-99"))}),
    );
    let denied = host
        .plugin("health")
        .args(["--fleet", "--use-stored-kubeconfigs", "-o", "json", "-v=6"])
        .run();
    denied.assert_code(2);
    let r = denied.json();
    assert_eq!(cluster(&r, "member-a")["status"], "pass");
    let reason = cluster(&r, "member-b")["reason"].as_str().unwrap();
    assert!(reason.contains("credentials were rejected"), "{reason}");
    runs.push(denied);

    for run in &runs {
        for secret in [STORED_TOKEN, "stored-kubeconfig-wrong-token-99"] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "the stored token leaked:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        // Nor the stored kubeconfig itself, in any form.
        assert!(!run.stdout.contains("kubernetes-admin@cluster.local"));
    }
    for file in files(host.dir()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(STORED_TOKEN),
            "{} holds the stored token",
            file.display()
        );
    }
}

#[test]
fn a_member_that_forbids_the_user_is_an_error_row_and_the_others_still_report() {
    let f = Fleet::new("ks34-member", "ks34-member");
    // member-b knows the user of its context, who may read nothing (no RBAC binding).
    f.b.add_user("auditor", "auditor-token-without-bindings", &[]);
    let ctxs = vec![
        host_ctx(&f.host),
        member_ctx("member-a-admin", &f.a),
        Ctx {
            name: "member-b-auditor",
            server: f.b.url(),
            ca: f.b.ca_pem(),
            token: "auditor-token-without-bindings",
        },
    ];
    std::fs::write(&f.host.kubeconfig, kubeconfig(&ctxs, "host-admin")).unwrap();
    for plugin in ["health", "upgrade-plan"] {
        let run = f.run(plugin, &["--fleet", "-o", "json"]);
        run.assert_code(2);
        let r = run.json();
        let b = cluster(&r, "member-b");
        assert_eq!(b["status"], "error", "{plugin}: {b:#}");
        assert_eq!(b["exitCode"], 2, "{plugin}");
        let reason = b["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("forbidden") || reason.contains("may not read"),
            "{plugin}: {reason}"
        );
        for other in ["host", "member-a"] {
            assert_ne!(cluster(&r, other)["status"], "error", "{plugin}: {other}");
        }
        assert_streamed(&run, &["host", "member-a", "member-b"]);
    }
}
