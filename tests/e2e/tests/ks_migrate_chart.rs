//! The ks-core 1.1.5 test chart (`tests/charts/ks-core`) with the real helm
//! (`e2e::helm::real_helm()`): it lints, it renders host and member, the upgrade templates
//! render only when asked for, the hooks carry upstream's weights and delete policy, and its
//! CRDs change a served version the way v4 does. No cluster is needed.

mod common;

use common::migrate::chart_dir;
use serde_json::Value;

/// The real helm with a private HOME (its cache and config dirs), run to completion.
fn helm(args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(e2e::helm::real_helm())
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(chart_dir().parent().unwrap())
        .output()
        .expect("run helm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (success, stdout, stderr) = helm(args);
    assert!(success, "helm {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

fn values() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/ks-core-values.yaml")
        .display()
        .to_string()
}

use std::path::Path;

fn docs(text: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_saphyr::from_str_multiple(text).expect("helm output is YAML");
    all.into_iter().filter(|d| !d.is_null()).collect()
}

fn names(docs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or_default(),
                d["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_chart_is_ks_core_1_1_5_at_v4_1_3_and_lints() {
    let chart = chart_dir().display().to_string();
    let meta = ok(&["show", "chart", &chart]);
    assert!(meta.contains("name: ks-core"), "{meta}");
    assert!(meta.contains("version: 1.1.5"), "{meta}");
    assert!(meta.contains("appVersion: v4.1.3"), "{meta}");
    let v = values();
    for role in ["host", "member"] {
        let out = ok(&[
            "lint",
            &chart,
            "--strict",
            "-f",
            &v,
            "--set",
            &format!("multicluster.role={role}"),
        ]);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn host_and_member_render_their_own_objects() {
    let chart = chart_dir().display().to_string();
    let v = values();
    let render = |role: &str| {
        docs(&ok(&[
            "template",
            "ks-core",
            &chart,
            "-n",
            "kubesphere-system",
            "-f",
            &v,
            "--set",
            &format!("multicluster.role={role}"),
        ]))
    };
    let host = names(&render("host"));
    let member = names(&render("member"));
    for both in [
        "Deployment/ks-apiserver",
        "Deployment/ks-controller-manager",
        "Service/ks-apiserver",
        "Job/ks-core-pre-upgrade",
        "Job/ks-core-post-upgrade",
        "Job/ks-core-post-patch-system-ns",
        "ConfigMap/ks-core-upgrade-config",
    ] {
        assert!(host.contains(&both.to_string()), "{both} in {host:?}");
        assert!(member.contains(&both.to_string()), "{both} in {member:?}");
    }
    for host_only in ["Deployment/ks-console", "Deployment/extensions-museum"] {
        assert!(host.contains(&host_only.to_string()), "{host:?}");
        assert!(!member.contains(&host_only.to_string()), "{member:?}");
    }
    assert!(member.contains(&"ConfigMap/ks-agent-config".to_string()));
    assert!(!host.contains(&"ConfigMap/ks-agent-config".to_string()));
    // The upgrade-only templates are not part of a release.
    for never in ["Job/prepare-upgrade", "Job/dynamic-upgrade"] {
        assert!(!host.contains(&never.to_string()), "{host:?}");
    }
}

#[test]
fn prepare_upgrade_renders_only_with_upgrade_enabled_and_prepare() {
    let chart = chart_dir().display().to_string();
    let v = values();
    let show_only = "templates/prepare-upgrade-job.yaml";
    // upstream's upgrade.sh arguments (ks-migrate's prepare_template_args, without --dry-run=server)
    let rendered = docs(&ok(&[
        "template",
        "-s",
        show_only,
        "-n",
        "kubesphere-system",
        "--release-name",
        "--set",
        "upgrade.prepare=true,upgrade.image.registry=docker.io,upgrade.image.tag=v4.1.3",
        "--set",
        "global.imageRegistry=docker.io,global.tag=v4.1.3",
        "-f",
        &v,
        &chart,
    ]));
    assert_eq!(
        names(&rendered),
        [
            "ConfigMap/ks-upgrade-prepare-config",
            "Job/prepare-upgrade",
            "PersistentVolumeClaim/ks-upgrade"
        ]
    );
    let job = rendered.iter().find(|d| d["kind"] == "Job").unwrap();
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "docker.io/kubesphere/ks-upgrade:v4.1.3");
    assert_eq!(c["command"][1], "prepare-upgrade");
    // Without upgrade.prepare, or with upgrade.enabled false, the template renders nothing.
    let (success, _, stderr) = helm(&["template", "-s", show_only, "-f", &v, &chart]);
    assert!(
        !success && stderr.contains("could not find template"),
        "{stderr}"
    );
    let (success, _, stderr) = helm(&[
        "template",
        "-s",
        show_only,
        "--set",
        "upgrade.prepare=true",
        &chart,
    ]);
    assert!(
        !success && stderr.contains("could not find template"),
        "{stderr}"
    );
}

#[test]
fn hooks_carry_upstreams_weights_and_delete_policy() {
    let chart = chart_dir().display().to_string();
    let v = values();
    let rendered = docs(&ok(&[
        "template",
        "ks-core",
        &chart,
        "-n",
        "kubesphere-system",
        "-f",
        &v,
    ]));
    let hook = |name: &str| {
        let d = rendered
            .iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} rendered"));
        let a = &d["metadata"]["annotations"];
        (
            a["helm.sh/hook"].as_str().unwrap_or_default().to_string(),
            a["helm.sh/hook-weight"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            a["helm.sh/hook-delete-policy"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    let bhc = "before-hook-creation".to_string();
    assert_eq!(
        hook("ks-core-upgrade-config"),
        ("pre-upgrade".into(), "-1".into(), bhc.clone())
    );
    assert_eq!(
        hook("ks-core-pre-upgrade"),
        ("pre-upgrade".into(), "0".into(), bhc.clone())
    );
    assert_eq!(
        hook("ks-core-post-upgrade"),
        ("post-upgrade".into(), "0".into(), bhc.clone())
    );
    assert_eq!(
        hook("ks-core-post-patch-system-ns"),
        ("post-install,post-upgrade".into(), "-5".into(), bhc)
    );
}

#[test]
fn the_crds_change_a_served_version_the_way_v4_does() {
    let chart = chart_dir().display().to_string();
    let crds = docs(&ok(&["show", "crds", &chart]));
    assert!(crds.iter().all(|c| c["kind"] == "CustomResourceDefinition"));
    let users = crds
        .iter()
        .find(|c| c["metadata"]["name"] == "users.iam.kubesphere.io")
        .expect("users CRD");
    let versions: Vec<(String, bool, bool)> = users["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["served"].as_bool().unwrap(),
                v["storage"].as_bool().unwrap(),
            )
        })
        .collect();
    // v3.4 serves and stores v1alpha2; v4 serves and stores v1beta1 and keeps v1alpha2 listed
    // (not served) for the objects still stored at it.
    assert_eq!(
        versions,
        [
            ("v1alpha2".to_string(), false, false),
            ("v1beta1".to_string(), true, true)
        ]
    );
    assert!(
        crds.iter()
            .any(|c| c["metadata"]["name"] == "installplans.kubesphere.io")
    );
}
