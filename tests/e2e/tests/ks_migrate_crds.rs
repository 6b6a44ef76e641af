//! The `crd-stored-versions` pre-check with the real helm (`e2e::helm::real_helm()`, linked as
//! `helm` in the test's bin dir) reading the project's ks-core chart (`tests/charts/ks-core`):
//! `helm show crds` and `helm version` need no cluster, so this runs on plain kubesim.

mod common;

use common::migrate::*;
use e2e::{Env, resource_versions};

#[test]
fn a_stored_version_the_chart_drops_refuses_before_anything_changes() {
    let env = Env::new("ks34-host");
    std::os::unix::fs::symlink(e2e::helm::real_helm(), env.bin_dir().join("helm"))
        .expect("link helm");
    let m = Mig::from_env(env, false);
    let chart = chart_dir().display().to_string();

    // ks34-host stores users.iam.kubesphere.io at v1alpha2, which the chart keeps listed.
    let plan = m
        .migrate()
        .args(["host", "--dry-run", "--chart", &chart, "-o", "json"])
        .run();
    plan.assert_success();
    let report = plan.json();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "crd-stored-versions")
        .cloned()
        .expect("crd-stored-versions row");
    assert_eq!(check["ok"], true, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("1 of the chart's 5 CRDs exist in the cluster"),
        "{check}"
    );

    // Objects once stored at v1alpha1, a version the chart's CRD no longer lists.
    m.kubectl_ok(&[
        "patch",
        "crd",
        "users.iam.kubesphere.io",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"storedVersions":["v1alpha1","v1alpha2"]}}"#,
    ]);
    let before = resource_versions(&m.env, ALL_KINDS);
    let run = m.migrate().args(["host", "--yes", "--chart", &chart]).run();
    run.assert_code(1).assert_no_panic();
    run.assert_stderr_contains("crd-stored-versions")
        .assert_stderr_contains("CRD users.iam.kubesphere.io has stored v1alpha1 (status.storedVersions), which the chart's CRD no longer lists (spec.versions: v1alpha2, v1beta1)")
        .assert_stderr_contains("migrate the stored objects")
        .assert_stderr_contains(r#"kubectl patch crd users.iam.kubesphere.io --subresource=status --type=merge -p '{"status":{"storedVersions":["v1alpha2"]}}'"#)
        .assert_stderr_contains("https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#upgrade-existing-objects-to-a-new-stored-version");
    assert_eq!(
        before,
        resource_versions(&m.env, ALL_KINDS),
        "nothing changed"
    );
    assert!(!m.exists(&["configmap", "-n", "kubesphere-system", "ks-migrate-journal"]));
    let crd = m.env.get_json(&["crd", "users.iam.kubesphere.io"]);
    assert_eq!(
        crd["spec"]["versions"][0]["name"], "v1alpha2",
        "the CRD was not applied"
    );

    // The way out, as the hint says; then the check passes.
    m.kubectl_ok(&[
        "patch",
        "crd",
        "users.iam.kubesphere.io",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"storedVersions":["v1alpha2"]}}"#,
    ]);
    let again = m
        .migrate()
        .args(["host", "--dry-run", "--chart", &chart])
        .run();
    again.assert_success();
    let row = again
        .stdout
        .lines()
        .find(|l| l.starts_with("crd-stored-versions"))
        .unwrap_or_default()
        .to_string();
    assert!(row.contains("ok"), "{row}");
}
