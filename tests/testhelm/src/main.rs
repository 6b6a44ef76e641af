//! `fakehelm`: a helm double for ks-migrate's end-to-end tests, kept for the faults the real helm
//! cannot be made to show. Never built as `helm`; a test links it as `helm` in its own bin dir.
//!
//! Every call appends its argument vector as one JSON line to `$TESTHELM_LOG`. It answers:
//! - `version --short`: `$TESTHELM_VERSION`, default `v3.15.4+gfa9efb0`;
//! - `template -s templates/prepare-upgrade-job.yaml|dynamic-upgrade-job.yaml …`: the objects
//!   the ks-core 1.1.5 chart renders (PVC ks-upgrade when absent and `--dry-run=server`,
//!   ConfigMap, Job);
//! - `show crds CHART`: the v4 `kubesphere.io` CRDs;
//! - `status NAME -n NS -o json`, `del|uninstall NAME -n NS`: from/to the release Secrets;
//! - `upgrade -n NS ks-core CHART …`: a new revision `deployed` (chart ks-core 1.1.5, appVersion
//!   v4.1.3) superseding the previous one, the hook Jobs created Complete, Deployment
//!   ks-installer deleted (as ks-upgrade's core job does) and the v4 Deployments written;
//! - `pull URL --untar -d DIR`: a stub chart in `DIR/ks-core`.
//!
//! `$TESTHELM_FAIL=upgrade,template,…` makes the first call of each named subcommand fail
//! (a marker file next to the log makes it fail once only).
//!
//! `$TESTHELM_SLEEP=upgrade:5000,template:300` makes each call of the named subcommand wait
//! that many milliseconds after recording its arguments and before doing anything, so a test
//! can kill ks-migrate while helm runs (the call is already in `$TESTHELM_LOG`).

use std::{collections::BTreeMap, io::Write, path::Path, process::ExitCode};

use k8s_openapi::api::{apps::v1::Deployment, batch::v1::Job, core::v1::PersistentVolumeClaim};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::{Value, json};
use testhelm::{BoxError, client, job_status, revisions, set_status, uninstall, write_release};

const FLAGS_WITH_VALUE: &[&str] = &[
    "-s",
    "--show-only",
    "-n",
    "--namespace",
    "--set",
    "-f",
    "--values",
    "--kubeconfig",
    "--kube-context",
    "--timeout",
    "-o",
    "--output",
    "-d",
    "--destination",
    "--version",
];

struct Parsed {
    positional: Vec<String>,
    flags: BTreeMap<String, Vec<String>>,
}

fn parse(args: &[String]) -> Parsed {
    let mut positional = Vec::new();
    let mut flags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some((k, v)) = a.split_once('=').filter(|_| a.starts_with("--")) {
            flags.entry(k.to_string()).or_default().push(v.to_string());
        } else if FLAGS_WITH_VALUE.contains(&a.as_str()) {
            let v = args.get(i + 1).cloned().unwrap_or_default();
            flags.entry(a.clone()).or_default().push(v);
            i += 1;
        } else if a.starts_with('-') {
            flags.entry(a.clone()).or_default().push(String::new());
        } else {
            positional.push(a.clone());
        }
        i += 1;
    }
    Parsed { positional, flags }
}

impl Parsed {
    fn one(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find_map(|n| self.flags.get(*n).and_then(|v| v.last().cloned()))
    }
    fn sets(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for s in self.flags.get("--set").into_iter().flatten() {
            for kv in s.split(',') {
                if let Some((k, v)) = kv.split_once('=') {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        out
    }
    fn namespace(&self) -> String {
        self.one(&["-n", "--namespace"])
            .unwrap_or_else(|| "default".into())
    }
}

fn record(args: &[String]) {
    if let Ok(path) = std::env::var("TESTHELM_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{}", json!({"argv": args}));
    }
}

/// How long `sub` must wait before doing anything (`$TESTHELM_SLEEP`).
fn sleep_for(sub: &str) -> Option<std::time::Duration> {
    let list = std::env::var("TESTHELM_SLEEP").ok()?;
    list.split(',').find_map(|item| {
        let (name, ms) = item.trim().split_once(':')?;
        (name == sub)
            .then(|| ms.parse().ok())
            .flatten()
            .map(std::time::Duration::from_millis)
    })
}

/// True when `sub` must fail this time (first call only).
fn inject_failure(sub: &str) -> bool {
    let Ok(list) = std::env::var("TESTHELM_FAIL") else {
        return false;
    };
    if !list.split(',').any(|s| s.trim() == sub) {
        return false;
    }
    let marker = format!(
        "{}.failed-{sub}",
        std::env::var("TESTHELM_LOG").unwrap_or_else(|_| "/tmp/testhelm".into())
    );
    if Path::new(&marker).exists() {
        return false;
    }
    let _ = std::fs::write(&marker, "failed once\n");
    true
}

fn fail(message: &str) -> Result<ExitCode, BoxError> {
    let mut e = std::io::stderr();
    let _ = writeln!(e, "Error: {message}");
    Ok(ExitCode::from(1))
}

fn out(text: &str) {
    let mut o = std::io::stdout();
    let _ = o.write_all(text.as_bytes());
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    record(&args);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => return ExitCode::from(2),
    };
    match rt.block_on(run(&args)) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: &[String]) -> Result<ExitCode, BoxError> {
    let p = parse(args);
    let sub = p.positional.first().cloned().unwrap_or_default();
    if let Some(d) = sleep_for(&sub) {
        tokio::time::sleep(d).await;
    }
    if inject_failure(&sub) {
        return fail(&format!(
            "{} FAILED: injected failure (TESTHELM_FAIL={sub})",
            sub.to_uppercase()
        ));
    }
    match sub.as_str() {
        "version" => {
            let v = std::env::var("TESTHELM_VERSION").unwrap_or_else(|_| "v3.15.4+gfa9efb0".into());
            out(&format!("{v}\n"));
            Ok(ExitCode::SUCCESS)
        }
        "template" => template(&p, args).await,
        "show" if p.positional.get(1).map(String::as_str) == Some("crds") => {
            let Some(chart) = p.positional.get(2) else {
                return fail("\"helm show crds\" requires 1 argument");
            };
            if !Path::new(chart).exists() {
                return fail(&format!("path \"{chart}\" not found"));
            }
            out(&CRDS);
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let Some(name) = p.positional.get(1) else {
                return fail("\"helm status\" requires 1 argument");
            };
            let c = client(args).await?;
            let revs = revisions(&c, &p.namespace(), name).await?;
            match revs.last() {
                Some(r) => {
                    out(&format!(
                        "{}\n",
                        json!({"name": name, "namespace": p.namespace(), "version": r.revision, "info": {"status": r.status}})
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                None => fail("release: not found"),
            }
        }
        "del" | "delete" | "uninstall" | "un" => {
            let Some(name) = p.positional.get(1) else {
                return fail("\"helm uninstall\" requires at least 1 argument");
            };
            let c = client(args).await?;
            if uninstall(&c, &p.namespace(), name).await? {
                out(&format!("release \"{name}\" uninstalled\n"));
                Ok(ExitCode::SUCCESS)
            } else {
                fail(&format!(
                    "uninstall: Release not loaded: {name}: release: not found"
                ))
            }
        }
        "upgrade" => upgrade(&p, args).await,
        "pull" => {
            let dest = p
                .one(&["-d", "--destination"])
                .unwrap_or_else(|| ".".into());
            let dir = Path::new(&dest).join("ks-core");
            std::fs::create_dir_all(dir.join("templates"))?;
            std::fs::write(
                dir.join("Chart.yaml"),
                "apiVersion: v2\nname: ks-core\nversion: 1.1.5\nappVersion: v4.1.3\n",
            )?;
            Ok(ExitCode::SUCCESS)
        }
        other => fail(&format!(
            "unknown command \"{other}\" for \"helm\" (test helm)"
        )),
    }
}

fn check_paths(p: &Parsed, chart_index: usize) -> Option<String> {
    match p.positional.get(chart_index) {
        None => return Some("chart argument missing".into()),
        Some(c) if !Path::new(c).exists() => return Some(format!("path \"{c}\" not found")),
        _ => {}
    }
    for f in p.flags.get("-f").into_iter().flatten() {
        if !Path::new(f).exists() {
            return Some(format!("open {f}: no such file or directory"));
        }
    }
    None
}

fn values_upgrade_config(p: &Parsed) -> Value {
    let mut config = json!({});
    for f in p.flags.get("-f").into_iter().flatten() {
        if let Ok(text) = std::fs::read_to_string(f)
            && let Ok(v) = serde_saphyr::from_str::<Value>(&text)
            && let Some(c) = v.pointer("/upgrade/config")
        {
            config = c.clone();
        }
    }
    config
}

fn job(name: &str, command: &str, configmap: &str, image: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "kubesphere-system"},
        "spec": {"backoffLimit": 6, "template": {"spec": {
            "restartPolicy": "Never", "serviceAccountName": "kubesphere",
            "containers": [{"name": format!("{name}-job"), "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["ks-upgrade", command, "--logtostderr=true", "--config=/etc/kubesphere/config.yaml",
                            "--config=/etc/kubesphere/config-patch.yaml"],
                "volumeMounts": [{"mountPath": "/etc/kubesphere/config-patch.yaml", "name": "config", "subPath": "config-patch.yaml"},
                                 {"mountPath": "/tmp/ks-upgrade", "name": "data"}]}],
            "volumes": [{"name": "config", "configMap": {"name": configmap, "defaultMode": 420}},
                        {"name": "data", "persistentVolumeClaim": {"claimName": "ks-upgrade"}}]}}}
    })
}

fn doc(source: &str, v: &Value) -> Result<String, BoxError> {
    Ok(format!(
        "---\n# Source: ks-core/templates/{source}\n{}",
        serde_saphyr::to_string(v)?
    ))
}

async fn template(p: &Parsed, args: &[String]) -> Result<ExitCode, BoxError> {
    if let Some(e) = check_paths(p, 1) {
        return fail(&e);
    }
    let show = p.one(&["-s", "--show-only"]).unwrap_or_default();
    let sets = p.sets();
    let registry = sets
        .get("upgrade.image.registry")
        .or(sets.get("global.imageRegistry"))
        .cloned()
        .unwrap_or_else(|| "docker.io".into());
    let tag = sets
        .get("upgrade.image.tag")
        .cloned()
        .unwrap_or_else(|| "latest".into());
    let image = format!("{registry}/kubesphere/ks-upgrade:{tag}");
    let source = show.trim_start_matches("templates/").to_string();
    let mut text = String::new();
    match show.as_str() {
        "templates/prepare-upgrade-job.yaml" => {
            if sets.get("upgrade.prepare").map(String::as_str) != Some("true") {
                return fail(&format!("could not find template {show} in chart"));
            }
            if p.flags.contains_key("--dry-run") {
                // The chart's `lookup` creates the PVC only when there is none.
                let c = client(args).await?;
                let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(c, "kubesphere-system");
                if pvcs.get_opt("ks-upgrade").await?.is_none() {
                    text.push_str(&doc(&source, &json!({
                        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": "ks-upgrade", "namespace": "kubesphere-system",
                            "labels": {"app": "ks-upgrade", "version": "v4.1.3"},
                            "annotations": {"helm.sh/hook": "pre-upgrade"}},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}
                    }))?);
                }
            }
            let config = serde_saphyr::to_string(&values_upgrade_config(p))?;
            text.push_str(&doc(&source, &json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "ks-upgrade-prepare-config", "namespace": "kubesphere-system"},
                "data": {"config-patch.yaml": config}
            }))?);
            text.push_str(&doc(
                &source,
                &job(
                    "prepare-upgrade",
                    "prepare-upgrade",
                    "ks-upgrade-prepare-config",
                    &image,
                ),
            )?);
        }
        "templates/dynamic-upgrade-job.yaml" => {
            let Some(gw) = sets.get("upgrade.config.jobs.gateway.dynamicOptions.gatewayName")
            else {
                return fail("upgrade.config.jobs.gateway.dynamicOptions.gatewayName is required");
            };
            let config = serde_saphyr::to_string(&json!({"jobs": {"gateway": {"enabled": true,
                "dynamicOptions": {"gatewayName": gw}}}}))?;
            text.push_str(&doc(&source, &json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "ks-upgrade-dynamic-config", "namespace": "kubesphere-system"},
                "data": {"config-patch.yaml": config}
            }))?);
            text.push_str(&doc(
                &source,
                &job(
                    "dynamic-upgrade",
                    "dynamic-upgrade",
                    "ks-upgrade-dynamic-config",
                    &image,
                ),
            )?);
        }
        other => return fail(&format!("could not find template {other} in chart")),
    }
    out(&text);
    Ok(ExitCode::SUCCESS)
}

async fn apply(c: &kube::Client, ns: &str, name: &str, obj: Value) -> Result<(), BoxError> {
    let api: Api<Deployment> = Api::namespaced(c.clone(), ns);
    api.patch(
        name,
        &PatchParams::apply("helm").force(),
        &Patch::Apply(&obj),
    )
    .await?;
    Ok(())
}

fn deployment(name: &str, image: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "kubesphere-system",
            "labels": {"app": name, "version": "v4.1.3", "app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "ks-core", "meta.helm.sh/release-namespace": "kubesphere-system"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]}}}
    })
}

async fn hook_job(c: &kube::Client, name: &str, hook: &str, image: &str) -> Result<(), BoxError> {
    let jobs: Api<Job> = Api::namespaced(c.clone(), "kubesphere-system");
    // hook-delete-policy: before-hook-creation
    if jobs.get_opt(name).await?.is_some() {
        jobs.delete(name, &DeleteParams::background()).await?;
    }
    let command = hook.trim_end_matches("-hook");
    let mut j = job(name, command, "ks-core-upgrade-config", image);
    j["metadata"]["annotations"] = json!({"helm.sh/hook": hook, "helm.sh/hook-weight": "0",
        "helm.sh/hook-delete-policy": "before-hook-creation"});
    let j: Job = serde_json::from_value(j)?;
    jobs.create(&Default::default(), &j).await?;
    let status = json!({"status": job_status("Complete", None, None)});
    jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn upgrade(p: &Parsed, args: &[String]) -> Result<ExitCode, BoxError> {
    if let Some(e) = check_paths(p, 2) {
        return fail(&e);
    }
    let ns = p.namespace();
    let Some(name) = p.positional.get(1).cloned() else {
        return fail("\"helm upgrade\" requires 2 arguments");
    };
    let c = client(args).await?;
    let revs = revisions(&c, &ns, &name).await?;
    if revs
        .last()
        .is_some_and(|r| r.status.starts_with("pending-"))
    {
        return fail("UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress");
    }
    if !revs.iter().any(|r| r.status == "deployed") {
        return fail(&format!(
            "UPGRADE FAILED: \"{name}\" has no deployed releases"
        ));
    }
    let sets = p.sets();
    let registry = sets
        .get("global.imageRegistry")
        .cloned()
        .unwrap_or_else(|| "docker.io".into());
    let tag = sets
        .get("global.tag")
        .cloned()
        .unwrap_or_else(|| "v4.1.3".into());
    let role = sets
        .get("multicluster.role")
        .cloned()
        .unwrap_or_else(|| "host".into());
    let upgrade_image = format!(
        "{}/kubesphere/ks-upgrade:{}",
        sets.get("upgrade.image.registry").unwrap_or(&registry),
        sets.get("upgrade.image.tag").unwrap_or(&tag)
    );
    let next = revs.last().map_or(1, |r| r.revision + 1);
    let config: Value = serde_json::to_value(&sets)?;
    let chart = ("ks-core", "1.1.5", "v4.1.3");
    write_release(
        &c,
        &ns,
        &name,
        next,
        "pending-upgrade",
        chart,
        config.clone(),
        "",
    )
    .await?;

    // pre-upgrade hook: ks-upgrade pre-upgrade (the core job deletes ks-installer).
    hook_job(&c, "ks-core-pre-upgrade", "pre-upgrade", &upgrade_image).await?;
    let deploys: Api<Deployment> = Api::namespaced(c.clone(), &ns);
    if deploys.get_opt("ks-installer").await?.is_some() {
        deploys
            .delete("ks-installer", &DeleteParams::background())
            .await?;
    }
    // The chart's workloads.
    let mut manifest = String::new();
    let mut names: Vec<&str> = Vec::new();
    if role == "member" {
        for old in ["ks-apiserver", "ks-console", "ks-controller-manager"] {
            if deploys.get_opt(old).await?.is_some() {
                deploys.delete(old, &DeleteParams::background()).await?;
            }
        }
        names.push("ks-agent");
        apply(
            &c,
            &ns,
            "ks-agent",
            deployment(
                "ks-agent",
                &format!("{registry}/kubesphere/ks-apiserver:{tag}"),
                1,
            ),
        )
        .await?;
    } else {
        let replicas = if sets.get("ha.enabled").map(String::as_str) == Some("true") {
            3
        } else {
            1
        };
        for d in ["ks-apiserver", "ks-console", "ks-controller-manager"] {
            names.push(d);
            apply(
                &c,
                &ns,
                d,
                deployment(d, &format!("{registry}/kubesphere/{d}:{tag}"), replicas),
            )
            .await?;
        }
        names.push("extensions-museum");
        apply(
            &c,
            &ns,
            "extensions-museum",
            deployment(
                "extensions-museum",
                &format!("{registry}/kubesphere/ks-extensions-museum:v1.1.5"),
                1,
            ),
        )
        .await?;
    }
    for n in names {
        manifest.push_str(&format!("---\n# Source: ks-core/templates/{n}.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {n}\n"));
    }
    // post-upgrade hook.
    hook_job(&c, "ks-core-post-upgrade", "post-upgrade", &upgrade_image).await?;

    for r in &revs {
        if r.status == "deployed" {
            set_status(&c, &ns, &r.secret, "superseded").await?;
        }
    }
    // The new revision, now deployed (payload rewritten with the manifest).
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(c.clone(), &ns);
    secrets
        .delete(
            &format!("sh.helm.release.v1.{name}.v{next}"),
            &DeleteParams::default(),
        )
        .await?;
    write_release(&c, &ns, &name, next, "deployed", chart, config, &manifest).await?;
    out(&format!(
        "Release \"{name}\" has been upgraded. Happy Helming!\nNAME: {name}\nNAMESPACE: {ns}\nSTATUS: deployed\nREVISION: {next}\n"
    ));
    Ok(ExitCode::SUCCESS)
}

fn crd(plural: &str, kind: &str) -> String {
    let singular = kind.to_lowercase();
    format!(
        "---\n# Source: ks-core/charts/ks-crds/crds/kubesphere.io_{plural}.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.kubesphere.io\nspec:\n  group: kubesphere.io\n  names:\n    kind: {kind}\n    listKind: {kind}List\n    plural: {plural}\n    singular: {singular}\n    categories:\n    - extensions\n  scope: Cluster\n  versions:\n  - name: v1alpha1\n    served: true\n    storage: true\n    subresources: {{}}\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n"
    )
}

static CRDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    [
        ("installplans", "InstallPlan"),
        ("extensions", "Extension"),
        ("extensionversions", "ExtensionVersion"),
        ("repositories", "Repository"),
    ]
    .iter()
    .map(|(p, k)| crd(p, k))
    .collect()
});
