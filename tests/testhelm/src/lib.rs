//! Shared pieces of the test doubles: the cluster client, Helm release Secrets (written with
//! `kupgrade::helm::encode_release`, read with `kupgrade::helm::decode_release`), and
//! condition helpers.

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

/// A boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The kube client: `--kubeconfig PATH` / `--kube-context NAME` from `args`, else `KUBECONFIG`.
pub async fn client(args: &[String]) -> Result<kube::Client, BoxError> {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let options = kube::config::KubeConfigOptions {
        context: flag("--kube-context"),
        ..Default::default()
    };
    let config = match flag("--kubeconfig") {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)?;
            kube::Config::from_custom_kubeconfig(kc, &options).await?
        }
        None => kube::Config::from_kubeconfig(&options).await?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// Now, RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// One stored revision: its Secret name, revision, status and decoded payload.
pub struct StoredRevision {
    /// Secret name.
    pub secret: String,
    /// Revision.
    pub revision: u32,
    /// Status label.
    pub status: String,
}

/// Lists a release's revisions, oldest first.
pub async fn revisions(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Vec<StoredRevision>, BoxError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let list = api
        .list(&ListParams::default().labels(&format!("owner=helm,name={name}")))
        .await?;
    let mut out: Vec<StoredRevision> = list
        .items
        .iter()
        .filter_map(|s| {
            let l = s.metadata.labels.as_ref()?;
            Some(StoredRevision {
                secret: s.metadata.name.clone()?,
                revision: l.get("version")?.parse().ok()?,
                status: l.get("status").cloned().unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by_key(|r| r.revision);
    Ok(out)
}

/// Writes a release revision Secret as Helm's secrets driver does.
#[allow(clippy::too_many_arguments)] // one call per field of the stored release
pub async fn write_release(
    client: &kube::Client,
    ns: &str,
    name: &str,
    revision: u32,
    status: &str,
    chart: (&str, &str, &str),
    config: Value,
    manifest: &str,
) -> Result<(), BoxError> {
    let (chart_name, chart_version, app_version) = chart;
    let release = json!({
        "name": name, "namespace": ns, "version": revision,
        "info": {"first_deployed": now(), "last_deployed": now(), "deleted": "",
                 "description": if revision == 1 { "Install complete" } else { "Upgrade complete" },
                 "status": status},
        "chart": {"metadata": {"name": chart_name, "version": chart_version, "appVersion": app_version,
                               "apiVersion": "v2", "type": "application"},
                  "templates": [], "values": {}},
        "config": config, "manifest": manifest, "hooks": [],
    });
    let payload = kupgrade::helm::encode_release(&release);
    let mut labels = BTreeMap::new();
    labels.insert("owner".to_string(), "helm".to_string());
    labels.insert("name".to_string(), name.to_string());
    labels.insert("status".to_string(), status.to_string());
    labels.insert("version".to_string(), revision.to_string());
    labels.insert(
        "modifiedAt".to_string(),
        jiff::Timestamp::now().as_second().to_string(),
    );
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{revision}"), "namespace": ns, "labels": labels},
        "data": {"release": base64::engine::general_purpose::STANDARD.encode(payload)},
    }))?;
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &secret).await?;
    Ok(())
}

/// Sets a stored revision's status (label and payload).
pub async fn set_status(
    client: &kube::Client,
    ns: &str,
    secret: &str,
    status: &str,
) -> Result<(), BoxError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let s = api.get(secret).await?;
    let payload = s
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .map(|b| b.0.clone())
        .unwrap_or_default();
    let mut patch = json!({"metadata": {"labels": {"status": status,
        "modifiedAt": jiff::Timestamp::now().as_second().to_string()}}});
    if let Ok(release) = kupgrade::helm::decode_release(&payload) {
        let mut v = serde_json::to_value(&release)?;
        v["info"]["status"] = json!(status);
        let encoded = kupgrade::helm::encode_release(&v);
        patch["data"] =
            json!({"release": base64::engine::general_purpose::STANDARD.encode(encoded)});
    }
    api.patch(secret, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Deletes every revision of a release; false when there was none.
pub async fn uninstall(client: &kube::Client, ns: &str, name: &str) -> Result<bool, BoxError> {
    let revs = revisions(client, ns, name).await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    for r in &revs {
        api.delete(&r.secret, &DeleteParams::default()).await?;
    }
    Ok(!revs.is_empty())
}

/// A Job status with one true condition (`Complete` or `Failed`).
pub fn job_status(condition: &str, reason: Option<&str>, message: Option<&str>) -> Value {
    let t = now();
    let mut c =
        json!({"type": condition, "status": "True", "lastProbeTime": t, "lastTransitionTime": t});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    let mut status = json!({"startTime": t, "conditions": [c]});
    if condition == "Complete" {
        status["succeeded"] = json!(1);
        status["completionTime"] = json!(t);
    } else {
        status["failed"] = json!(1);
    }
    status
}
